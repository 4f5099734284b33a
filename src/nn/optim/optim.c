/* Optimizer state over a graph's trainable parameters and the learning-rate schedules:
 * linear warm-up, then constant, step (multiply by gamma at each milestone, given as
 * fractions of the total steps) or cosine annealing to 0 (Loshchilov & Hutter 2017,
 * SGDR eq. 5 without restarts). The state (momentum buffers / Adam moments) is one
 * arena allocated at creation; a parameter whose trainable flag is cleared later is
 * simply skipped. */
#include <math.h>
#include <string.h>

#include "nn/nnInt.h"
#include "nn/optim/optimInt.h"

struct xf_optim {
    xf_ctx_t *ctx;
    xf_graph *g;
    xf_train_opts o;
    float **s1, **s2; /* (n_values) state per parameter */
    float *arena;
    int64_t t;
};

void xf_train_opts_default(xf_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->optim = XF_OPT_SGD;
    o->lr = 0.1;
    o->momentum = 0.9;
    o->weight_decay = 5e-4;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->adam_eps = 1e-8;
    o->sched = XF_SCHED_COSINE;
    o->step_gamma = 0.1;
    o->epochs = 1;
    o->batch = 128;
    o->seed = 0;
}

double xf_train_lr_at(const xf_train_opts *o, int64_t step, int64_t total) {
    if (!o) return 0.0;
    if (o->warmup_steps > 0 && step < o->warmup_steps) return o->lr * (double)(step + 1) / (double)o->warmup_steps;
    int64_t s = step - o->warmup_steps, T = total - o->warmup_steps;
    if (T < 1) T = 1;
    if (s < 0) s = 0;
    switch (o->sched) {
    case XF_SCHED_STEP: {
        double lr = o->lr, frac = (double)step / (double)(total > 0 ? total : 1);
        for (int i = 0; i < o->n_milestones && i < 4; i++)
            if (frac >= o->milestones[i]) lr *= o->step_gamma;
        return lr;
    }
    case XF_SCHED_COSINE: return 0.5 * o->lr * (1.0 + cos(M_PI * (double)(s < T ? s : T) / (double)T));
    default: return o->lr;
    }
}

static int64_t pnumel(const xf_value *v) { return nn_shape_numel(v->ndim, v->shape); }

xf_status xf_optim_create(xf_ctx_t *ctx, xf_graph *g, const xf_train_opts *o, xf_optim_t **out) {
    if (!out) return XF_ERR(ctx, XF_ERR_INVALID, "xf_optim_create: out is NULL");
    *out = NULL;
    if (!g || !o) return XF_ERR(ctx, XF_ERR_INVALID, "xf_optim_create: graph or options are NULL");
    if (!(o->lr >= 0) || !(o->momentum >= 0 && o->momentum < 1) || !(o->weight_decay >= 0))
        return XF_ERR(ctx, XF_ERR_INVALID, "optimizer: lr %g, momentum %g, weight decay %g out of range", o->lr, o->momentum,
                      o->weight_decay);
    if (o->optim == XF_OPT_ADAMW && (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->adam_eps > 0)))
        return XF_ERR(ctx, XF_ERR_INVALID, "AdamW: beta1 %g, beta2 %g, eps %g out of range", o->beta1, o->beta2, o->adam_eps);
    if (o->optim != XF_OPT_SGD && o->optim != XF_OPT_ADAMW) return XF_ERR(ctx, XF_ERR_INVALID, "optimizer kind %d", (int)o->optim);
    xf_optim_t *op = xf_calloc(ctx, 1, sizeof *op);
    if (!op) return XF_ERR_NOMEM;
    op->ctx = ctx;
    op->g = g;
    op->o = *o;
    op->s1 = xf_calloc(ctx, (size_t)(g->n_values + 1), sizeof(float *));
    op->s2 = xf_calloc(ctx, (size_t)(g->n_values + 1), sizeof(float *));
    int64_t tot = 0;
    int per = o->optim == XF_OPT_ADAMW ? 2 : 1;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_param && g->values[v].trainable) tot += per * pnumel(&g->values[v]);
    op->arena = xf_calloc(ctx, (size_t)(tot ? tot : 1), sizeof(float));
    if (!op->s1 || !op->s2 || !op->arena) {
        xf_optim_free(op);
        return XF_ERR_NOMEM;
    }
    int64_t off = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_param && g->values[v].trainable) {
            int64_t n = pnumel(&g->values[v]);
            op->s1[v] = op->arena + off;
            off += n;
            if (per == 2) {
                op->s2[v] = op->arena + off;
                off += n;
            }
        }
    *out = op;
    return XF_OK;
}

void xf_optim_free(xf_optim_t *op) {
    if (!op) return;
    xf_free(op->ctx, op->s1);
    xf_free(op->ctx, op->s2);
    xf_free(op->ctx, op->arena);
    xf_free(op->ctx, op);
}

xf_status xf_optim_step(xf_optim_t *op, xf_net_t *net, double lr) {
    if (!op || !net) return XF_ERR_INVALID;
    if (xf_net_graph(net) != op->g) return XF_ERR(op->ctx, XF_ERR_INVALID, "xf_optim_step: the net runs another graph");
    if (!(lr >= 0) || !isfinite(lr)) return XF_ERR(op->ctx, XF_ERR_INVALID, "xf_optim_step: learning rate %g", lr);
    xf_graph *g = op->g;
    op->t++;
    for (int v = 0; v < g->n_values; v++) {
        xf_value *val = &g->values[v];
        if (!val->is_param || !val->trainable || !op->s1[v]) continue;
        const float *gr = xf_net_grad(net, v);
        if (!gr) continue; /* not on a path to the loss */
        int64_t n = pnumel(val);
        if (op->o.optim == XF_OPT_ADAMW)
            xf_nn_adamw_update(val->data, gr, op->s1[v], op->s2[v], n, lr, op->o.beta1, op->o.beta2, op->o.adam_eps,
                               op->o.weight_decay, op->t);
        else
            xf_nn_sgd_update(val->data, gr, op->s1[v], n, lr, op->o.momentum, op->o.weight_decay, op->o.nesterov,
                             op->t == 1);
    }
    return XF_OK;
}
