/* nn executor: plans every buffer once for a (graph, max batch, mode) and runs forward,
 * the loss and backward with no allocation.
 *
 * Inference plan: liveness-based reuse. Walking the nodes in order, each output takes the
 * best-fitting free buffer (or a new one); an input's buffer returns to the free list
 * after its last reader. Values the caller wants to read afterwards (the graph outputs,
 * the feature tap, or everything with xf_net_create_keep(..., -1)) are never freed, and
 * xf_net_data returns NULL for a value whose buffer a later value reused. The image input
 * is read in place from the caller's array.
 * Training plan: every activation keeps its own buffer for backward, and every value on
 * a path from a trainable parameter to the loss gets a gradient buffer (frozen parts of
 * the graph get none, so head-only training back-propagates through the head only).
 * The loss writes the seed; the first kernel to reach a gradient buffer writes it and
 * later ones accumulate, so buffers are zeroed only where an op cannot write (see
 * xf_net_backward). Training fuses a norm or Add with a following Relu / Clip into one
 * step (plan_steps); the fused-away value keeps its buffer for the reference kernels.
 * One scratch buffer (the largest any node asks for) is shared by all nodes.
 * Convolutions: with oneDNN built in, conv nodes get oneDNN primitives made here (see
 * conv_mode; their blocked copies and scratchpads also live in the shared scratch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nnInt.h"
#include "xfer/linalg.h"

xf_status xf_nn_graph_shapes(xf_graph *g, int64_t B, nn_t *shapes);

/* One forward step: a node, possibly with a following BatchNorm folded into its
 * weights and a following ReLU / Clip applied as it writes (inference only). */
typedef struct nn_step {
    int node, out;   /* out: the value the step writes (the last fused node's output) */
    int bn;          /* folded BatchNormalization node or -1 */
    size_t wofs, bofs; /* offsets of the folded weight / bias in net->fold */
    int act;
    float amin, amax;
} nn_step;

struct xf_net {
    xf_ctx_t *ctx;
    xf_graph *g;
    int64_t max_batch, B;
    xf_net_mode mode;
    int ref, threads, ran, seeded;
    nn_t *sh;                 /* (n_values) shapes with the current batch; d = data */
    float **grad;             /* (n_values) gradient buffers or NULL */
    unsigned char *needs_grad, *valid, *computed, *is_input;
    const float **bound; /* (n_values) data of extra inputs */
    float *arena, *garena, *scratch, *sarena;
    float **saved; /* (n_nodes) */
    size_t scratch_n;
    nn_step *steps; /* what forward runs: nodes, with fusions */
    int n_steps;
    nn_step *psteps; /* training with fusions: one plain step per node, for the reference kernels */
    unsigned char *gset; /* (n_values) the gradient buffer holds a gradient (this backward) */
    unsigned char *blk;  /* (n_values) kept in the blocked layout NN_BLK by the fast kernels, or NULL */
    int blk_ran;         /* the last forward ran the fast kernels (blocked values hold blocked data) */
    float *fold; /* folded conv weights / biases (inference), refreshed every forward */
    xf_rng rng;
    nn_dnnl *dnnl;        /* oneDNN engine, NULL when no node uses it */
    nn_dnnl_conv **dconv; /* (n_nodes) oneDNN primitives of conv nodes or NULL */
};

#define ALIGN_F 16 /* floats: 64 bytes */
static size_t round_up(size_t n) { return (n + ALIGN_F - 1) / ALIGN_F * ALIGN_F; }
/* a + b saturating at SIZE_MAX: plan sums are compared with the limit afterwards */
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* XF_NET_MAX_PLAN_BYTES (nn.h) on a number of floats; `what` names the part. */
static xf_status plan_limit(xf_net_t *net, const char *what, size_t floats) {
    if (floats <= (size_t)(XF_NET_MAX_PLAN_BYTES / (int64_t)sizeof(float))) return XF_OK;
    const char *gn = net->g->name && net->g->name[0] ? net->g->name : "graph";
    return XF_ERR(net->ctx, XF_ERR_UNSUPPORTED,
                  "xf_net_create: %s: %s at batch %lld would take %.1f GiB, above the limit of %lld GiB "
                  "(XF_NET_MAX_PLAN_BYTES); lower the batch",
                  gn, what, (long long)net->max_batch, (double)floats * sizeof(float) / (double)(1 << 30),
                  (long long)(XF_NET_MAX_PLAN_BYTES >> 30));
}

static int is_act(const xf_graph *g, int v) { return v >= 0 && !g->values[v].is_param; }

void xf_net_free(xf_net_t *net) {
    if (!net) return;
    xf_ctx_t *ctx = net->ctx;
    xf_free(ctx, net->sh);
    xf_free(ctx, net->grad);
    xf_free(ctx, net->needs_grad);
    xf_free(ctx, net->valid);
    xf_free(ctx, net->computed);
    xf_free(ctx, net->is_input);
    xf_free(ctx, net->bound);
    xf_free(ctx, net->arena);
    xf_free(ctx, net->garena);
    xf_free(ctx, net->scratch);
    xf_free(ctx, net->sarena);
    xf_free(ctx, net->saved);
    xf_free(ctx, net->steps);
    xf_free(ctx, net->psteps);
    xf_free(ctx, net->gset);
    xf_free(ctx, net->blk);
    xf_free(ctx, net->fold);
#ifdef XFER_HAVE_DNNL
    for (int i = 0; net->dconv && i < net->g->n_nodes; i++) xf_nn_dnnl_conv_free(ctx, net->dconv[i]);
    xf_nn_dnnl_close(ctx, net->dnnl);
#endif
    xf_free(ctx, net->dconv);
    xf_free(ctx, net);
}

/* gather input shape pointers of node n */
static void node_inputs(const xf_net_t *net, const xf_node *n, const nn_t **in) {
    for (int i = 0; i < XF_NODE_MAXIN; i++) in[i] = (i < n->n_in && n->in[i] >= 0) ? &net->sh[n->in[i]] : NULL;
}

/* Inference buffer assignment; offsets[v] in floats into the arena. */
static xf_status plan_infer(xf_net_t *net, const unsigned char *keep, size_t *offsets, size_t *total) {
    xf_graph *g = net->g;
    xf_ctx_t *ctx = net->ctx;
    int nv = g->n_values, nn = g->n_nodes;
    int *last = xf_malloc(ctx, (size_t)(nv + 1) * sizeof(int));
    int *buf_of = xf_malloc(ctx, (size_t)(nv + 1) * sizeof(int));
    size_t *bsize = xf_malloc(ctx, (size_t)(2 * nv + 2) * sizeof(size_t));
    unsigned char *bfree = xf_malloc(ctx, (size_t)(2 * nv + 2));
    int *bowner = xf_malloc(ctx, (size_t)(2 * nv + 2) * sizeof(int));
    xf_status st = XF_OK;
    if (!last || !buf_of || !bsize || !bfree || !bowner) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        last[v] = -1;
        buf_of[v] = -1;
    }
    (void)nn;
    for (int i = 0; i < net->n_steps; i++) {
        const xf_node *n = &g->nodes[net->steps[i].node];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) last[n->in[j]] = i;
    }
    int nb = 0;
    for (int i = 0; i < net->n_steps; i++) {
        const xf_node *n = &g->nodes[net->steps[i].node];
        for (int o = 0; o < n->n_out; o++) {
            int v = o == 0 ? net->steps[i].out : n->out[o];
            size_t need = round_up((size_t)nn_numel(&net->sh[v]));
            int best = -1;
            for (int b = 0; b < nb; b++)
                if (bfree[b] && bsize[b] >= need && (best < 0 || bsize[b] < bsize[best])) best = b;
            if (best < 0) /* grow the largest free buffer rather than open a new one */
                for (int b = 0; b < nb; b++)
                    if (bfree[b] && (best < 0 || bsize[b] > bsize[best])) best = b;
            if (best < 0) {
                best = nb++;
                bsize[best] = 0;
            }
            if (bsize[best] < need) bsize[best] = need;
            bfree[best] = 0;
            buf_of[v] = best;
            bowner[best] = v;
        }
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && is_act(g, v) && !net->is_input[v] && last[v] == i && !keep[v] && buf_of[v] >= 0)
                bfree[buf_of[v]] = 1;
        }
        for (int o = 0; o < n->n_out; o++) {
            int v = o == 0 ? net->steps[i].out : n->out[o];
            if (last[v] < 0 && !keep[v]) bfree[buf_of[v]] = 1;
        }
    }
    size_t off = 0;
    size_t *boff = bsize + nv + 1;
    for (int b = 0; b < nb; b++) {
        boff[b] = off;
        off = sat_add(off, bsize[b]);
    }
    for (int v = 0; v < nv; v++) {
        if (buf_of[v] < 0) continue;
        offsets[v] = boff[buf_of[v]];
        net->valid[v] = bowner[buf_of[v]] == v;
    }
    *total = off;
done:
    xf_free(ctx, last);
    xf_free(ctx, buf_of);
    xf_free(ctx, bsize);
    xf_free(ctx, bfree);
    xf_free(ctx, bowner);
    return st;
}

/* the single reader of value v (node index), or -1 if v has none or several */
static int sole_reader(const xf_graph *g, int v) {
    int r = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == v) {
                if (r >= 0 && r != i) return -1;
                if (r == i) return -1; /* read twice by one node */
                r = i;
            }
    return r;
}

/* Forward steps. Inference: Conv [+ BatchNorm folded] [+ Relu | Clip], and Add + Relu,
 * when each intermediate has one reader and is not kept. Training: one per node, except
 * that a norm or an Add (op->train_act) followed by its sole reader Relu / Clip is one
 * step that writes only the activation's output (the norm's output is never stored;
 * backward recovers the mask from the activation's output), an Add only when neither
 * input is broadcast. The reference kernels run the plain steps (psteps). */
static xf_status plan_steps(xf_net_t *net, const unsigned char *keep) {
    xf_graph *g = net->g;
    xf_ctx_t *ctx = net->ctx;
    int nn = g->n_nodes;
    net->steps = xf_calloc(ctx, (size_t)nn, sizeof *net->steps);
    unsigned char *skip = xf_calloc(ctx, (size_t)nn, 1);
    if (!net->steps || !skip) {
        xf_free(ctx, skip);
        return XF_ERR_NOMEM;
    }
    size_t fold_n = 0;
    int fuse = net->mode == XF_NET_INFER, train = net->mode == XF_NET_TRAIN;
    for (int i = 0; i < nn; i++) {
        if (skip[i]) continue;
        const xf_node *n = &g->nodes[i];
        nn_step *s = &net->steps[net->n_steps++];
        s->node = i;
        s->out = n->out[0];
        s->bn = -1;
        if (train && n->n_out == 1 && xf_nn_opdef(n->op)->train_act && !keep[n->out[0]]) {
            int v = n->out[0], r = sole_reader(g, v);
            int full = 1; /* Add: no broadcast input (its masked backward is one loop) */
            for (int j = 0; n->op == XF_OP_ADD && j < n->n_in; j++)
                if (n->in[j] < 0 || nn_numel(&net->sh[n->in[j]]) != nn_numel(&net->sh[v])) full = 0;
            if (full && r > i && (g->nodes[r].op == XF_OP_RELU || g->nodes[r].op == XF_OP_CLIP) && g->nodes[r].n_out == 1 &&
                g->nodes[r].in[0] == v) {
                s->act = g->nodes[r].op == XF_OP_RELU ? 1 : 2;
                s->amin = g->nodes[r].attr.min;
                s->amax = g->nodes[r].attr.max;
                skip[r] = 1;
                s->out = g->nodes[r].out[0];
            }
            continue;
        }
        if (!fuse || n->n_out != 1 || (n->op != XF_OP_CONV && n->op != XF_OP_ADD)) continue;
        int v = n->out[0];
        if (n->op == XF_OP_CONV && !keep[v]) {
            int r = sole_reader(g, v);
            if (r > i && g->nodes[r].op == XF_OP_BATCHNORM && g->nodes[r].in[0] == v && g->nodes[r].n_out == 1) {
                const xf_value *w = &g->values[n->in[1]];
                s->bn = r;
                s->wofs = fold_n;
                fold_n += (size_t)nn_shape_numel(w->ndim, w->shape);
                s->bofs = fold_n;
                fold_n += (size_t)w->shape[0];
                skip[r] = 1;
                v = g->nodes[r].out[0];
                s->out = v;
            }
        }
        if (keep[v]) continue;
        int r = sole_reader(g, v);
        if (r > i && !skip[r] && (g->nodes[r].op == XF_OP_RELU || g->nodes[r].op == XF_OP_CLIP) && g->nodes[r].n_out == 1) {
            s->act = g->nodes[r].op == XF_OP_RELU ? 1 : 2;
            s->amin = g->nodes[r].attr.min;
            s->amax = g->nodes[r].attr.max;
            skip[r] = 1;
            s->out = g->nodes[r].out[0];
        }
    }
    xf_free(ctx, skip);
    if (train && net->n_steps < nn) {
        net->psteps = xf_calloc(ctx, (size_t)nn, sizeof *net->psteps);
        if (!net->psteps) return XF_ERR_NOMEM;
        for (int i = 0; i < nn; i++) {
            net->psteps[i].node = i;
            net->psteps[i].out = g->nodes[i].out[0];
            net->psteps[i].bn = -1;
        }
    }
    if (fold_n) {
        net->fold = xf_malloc(ctx, fold_n * sizeof(float));
        if (!net->fold) return XF_ERR_NOMEM;
    }
    return XF_OK;
}

/* W'[m] = W[m] * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps) */
static void refresh_fold(xf_net_t *net) {
    xf_graph *g = net->g;
    for (int i = 0; i < net->n_steps; i++) {
        const nn_step *s = &net->steps[i];
        if (s->bn < 0) continue;
        const xf_node *c = &g->nodes[s->node], *b = &g->nodes[s->bn];
        const xf_value *w = &g->values[c->in[1]];
        const float *bias = (c->n_in > 2 && c->in[2] >= 0) ? g->values[c->in[2]].data : NULL;
        const float *gam = g->values[b->in[1]].data, *bet = g->values[b->in[2]].data, *mu = g->values[b->in[3]].data,
                    *var = g->values[b->in[4]].data;
        int64_t M = w->shape[0], per = nn_shape_numel(w->ndim, w->shape) / M;
        float *wf = net->fold + s->wofs, *bf = net->fold + s->bofs;
        for (int64_t m = 0; m < M; m++) {
            double sc = gam[m] / sqrt((double)var[m] + b->attr.eps);
            for (int64_t k = 0; k < per; k++) wf[m * per + k] = (float)(w->data[m * per + k] * sc);
            bf[m] = (float)(((bias ? bias[m] : 0.0) - mu[m]) * sc + bet[m]);
        }
    }
}

/* The convolution kernels a net uses: the option, else env XF_CONV, else auto. */
static xf_status conv_mode(xf_ctx_t *ctx, const xf_net_opts *opts, int *mode) {
    int m = opts ? opts->conv : XF_NET_CONV_DEFAULT;
    if (m < XF_NET_CONV_DEFAULT || m > XF_NET_CONV_DNNL) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: bad conv option %d", m);
    if (m == XF_NET_CONV_DEFAULT) {
        const char *e = getenv("XF_CONV");
        m = XF_NET_CONV_AUTO;
        if (e && strcmp(e, "im2col") == 0) m = XF_NET_CONV_IM2COL;
        else if (e && strcmp(e, "dnnl") == 0) m = XF_NET_CONV_DNNL;
#ifndef XFER_HAVE_DNNL
        if (m == XF_NET_CONV_DNNL) m = XF_NET_CONV_AUTO; /* env: a preference, not a demand */
#endif
    }
#ifndef XFER_HAVE_DNNL
    if (m == XF_NET_CONV_DNNL) return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "xf_net_create: built without oneDNN (libdnnl-dev)");
#endif
    *mode = m;
    return XF_OK;
}

#ifdef XFER_HAVE_DNNL
static int uf_find(int *p, int v) {
    while (p[v] != v) v = p[v] = p[p[v]];
    return v;
}

/* Training with oneDNN convolutions: the values kept in the blocked layout (nnInt.h,
 * NN_BLK), so no convolution converts its activations. Ops that carry the layout from
 * input to output (the norms, Relu, Clip, Add) tie their values into one class; a class
 * is blocked when every value in it is a 4-D activation with C % NN_BLK == 0 that the
 * caller does not keep and every step writing or reading it takes the layout (writers:
 * Conv, the tying ops; readers: also GlobalAveragePool, whose (B, C, 1, 1) output is
 * the same in both layouts). Values the steps do not write (inputs, fused-away ones)
 * never are. */
static xf_status plan_blocked(xf_net_t *net, const unsigned char *keep) {
    xf_graph *g = net->g;
    int nv = g->n_values;
    int *par = xf_malloc(net->ctx, (size_t)nv * sizeof(int));
    unsigned char *ok = xf_calloc(net->ctx, (size_t)nv, 1);
    net->blk = xf_calloc(net->ctx, (size_t)nv, 1);
    if (!par || !ok || !net->blk) {
        xf_free(net->ctx, par);
        xf_free(net->ctx, ok);
        return XF_ERR_NOMEM;
    }
    for (int v = 0; v < nv; v++) par[v] = v;
    for (int k = 0; k < net->n_steps; k++) { /* eligible values: written by a step */
        int v = net->steps[k].out;
        const nn_t *t = &net->sh[v];
        ok[v] = g->nodes[net->steps[k].node].n_out == 1 && !g->values[v].is_param && t->nd == 4 && t->s[1] % NN_BLK == 0 && !keep[v];
    }
    for (int k = 0; k < net->n_steps; k++) {
        const nn_step *sp = &net->steps[k];
        const xf_node *n = &g->nodes[sp->node];
        int full = n->op == XF_OP_ADD;
        for (int j = 0; j < n->n_in && full; j++) full = n->in[j] >= 0 && nn_numel(&net->sh[n->in[j]]) == nn_numel(&net->sh[sp->out]);
        int tie = n->op == XF_OP_BATCHNORM || n->op == XF_OP_GROUPNORM || n->op == XF_OP_INSTANCENORM || n->op == XF_OP_RELU ||
                  n->op == XF_OP_CLIP || full;
        if (!tie && n->op != XF_OP_CONV) ok[sp->out] = 0;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || g->values[v].is_param) continue;
            int reads = j == 0 && (n->op == XF_OP_CONV || n->op == XF_OP_GLOBALAVGPOOL || tie);
            if (full) reads = 1;
            if (!reads) ok[v] = 0;
            if (tie && (j == 0 || full)) {
                int a = uf_find(par, v), b = uf_find(par, sp->out);
                if (a != b) par[a] = b;
            }
        }
    }
    unsigned char *unfit = net->blk; /* per class root, then overwritten below */
    for (int v = 0; v < nv; v++) /* a class with one unfit value is unfit */
        if (!ok[v]) unfit[uf_find(par, v)] = 1;
    for (int v = 0; v < nv; v++) ok[v] = ok[v] && !unfit[uf_find(par, v)];
    memcpy(net->blk, ok, (size_t)nv);
    xf_free(net->ctx, par);
    xf_free(net->ctx, ok);
    return XF_OK;
}

/* oneDNN primitives for the conv steps the mode gives to oneDNN. Auto uses oneDNN for
 * every convolution (it measured faster at 2 threads in bench/engine.sh for regular,
 * pointwise and depthwise convs alike) and falls back to the kernels in conv.c where
 * oneDNN cannot make a primitive. Returns the largest scratch (bytes) a node needs. */
static xf_status make_dnnl(xf_net_t *net, int mode, size_t *bytes) {
    xf_ctx_t *ctx = net->ctx;
    xf_graph *g = net->g;
    *bytes = 0;
    if (mode == XF_NET_CONV_IM2COL) return XF_OK;
    for (int k = 0; k < net->n_steps; k++) {
        const nn_step *sp = &net->steps[k];
        const xf_node *n = &g->nodes[sp->node];
        if (n->op != XF_OP_CONV) continue;
        const nn_t *in[XF_NODE_MAXIN];
        node_inputs(net, n, in);
        xf_status st;
        if (!net->dnnl) {
            net->dconv = xf_calloc(ctx, (size_t)g->n_nodes, sizeof *net->dconv);
            if (!net->dconv) return XF_ERR_NOMEM;
            if ((st = xf_nn_dnnl_open(ctx, &net->dnnl))) return st;
        }
        int has_bias = sp->bn >= 0 || in[2] != NULL;
        int blk = net->blk ? (net->blk[n->in[0]] ? 1 : 0) | (net->blk[n->out[0]] ? 2 : 0) : 0;
        st = xf_nn_dnnl_conv_create(ctx, net->dnnl, n, in, &net->sh[n->out[0]], has_bias, sp->act, sp->amin, sp->amax,
                                    net->mode == XF_NET_TRAIN, net->threads, blk, mode == XF_NET_CONV_DNNL,
                                    &net->dconv[sp->node]);
        if (st == XF_ERR_UNSUPPORTED && mode == XF_NET_CONV_AUTO) {
            xf_ctx_clear_error(ctx);
            continue;
        }
        if (st) return st;
        size_t b = xf_nn_dnnl_conv_bytes(net->dconv[sp->node]);
        if (b > *bytes) *bytes = b;
    }
    return XF_OK;
}
#endif

xf_status xf_net_create_ex(xf_ctx_t *ctx, xf_graph *g, int64_t max_batch, xf_net_mode mode, const xf_net_opts *opts,
                           xf_net_t **out) {
    const int *keep_ids = opts ? opts->keep : NULL;
    int n_keep = opts ? opts->n_keep : 0;
    int input_grads = opts ? opts->input_grads : 0;
    if (!out) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: out is NULL");
    *out = NULL;
    if (!g) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: graph is NULL");
    if (max_batch < 1 || max_batch > (1 << 24))
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: max_batch %lld out of range", (long long)max_batch);
    if (mode != XF_NET_INFER && mode != XF_NET_TRAIN) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: bad mode %d", (int)mode);
    int nv = g->n_values, nn = g->n_nodes;
    if (nn == 0) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: the graph has no nodes");
    xf_net_t *net = xf_calloc(ctx, 1, sizeof *net);
    if (!net) return XF_ERR_NOMEM;
    net->ctx = ctx;
    net->g = g;
    net->max_batch = max_batch;
    net->mode = mode;
    net->threads = xf_ctx_threads(ctx);
    if (net->threads < 1) net->threads = 1;
    xf_rng_seed(&net->rng, xf_ctx_seed(ctx) ^ 0x9e3779b97f4a7c15ull);
    xf_status st = XF_OK;
    size_t *offsets = NULL;
    unsigned char *keep = NULL;
    net->sh = xf_calloc(ctx, (size_t)nv, sizeof *net->sh);
    net->grad = xf_calloc(ctx, (size_t)nv, sizeof *net->grad);
    net->needs_grad = xf_calloc(ctx, (size_t)nv, 1);
    net->valid = xf_calloc(ctx, (size_t)nv, 1);
    net->computed = xf_calloc(ctx, (size_t)nv, 1);
    net->is_input = xf_calloc(ctx, (size_t)nv, 1);
    net->bound = xf_calloc(ctx, (size_t)nv, sizeof *net->bound);
    net->saved = xf_calloc(ctx, (size_t)nn, sizeof *net->saved);
    offsets = xf_calloc(ctx, (size_t)nv, sizeof *offsets);
    keep = xf_calloc(ctx, (size_t)nv, 1);
    if (!net->sh || !net->grad || !net->needs_grad || !net->valid || !net->computed || !net->is_input || !net->bound || !net->saved || !offsets || !keep) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    if ((st = xf_nn_graph_shapes(g, max_batch, net->sh))) goto fail;
    for (int v = 0; v < nv; v++) { /* each value's size, checked before any sum uses it */
        size_t numel = 1;
        int over = 0;
        for (int k = 0; k < net->sh[v].nd && net->sh[v].s[k] >= 0; k++)
            over |= !xf_mul_ok(numel, (size_t)net->sh[v].s[k], &numel);
        if (over || numel > (size_t)(XF_NET_MAX_PLAN_BYTES / (int64_t)sizeof(float))) {
            char what[300];
            snprintf(what, sizeof what, "value '%s'", g->values[v].name ? g->values[v].name : "?");
            if ((st = plan_limit(net, what, over ? SIZE_MAX : numel))) goto fail;
        }
    }
    int train = mode == XF_NET_TRAIN;
    {
        unsigned char *produced = keep; /* borrow as scratch, cleared below */
        for (int i = 0; i < nn; i++)
            for (int o = 0; o < g->nodes[i].n_out; o++) produced[g->nodes[i].out[o]] = 1;
        for (int v = 0; v < nv; v++)
            net->is_input[v] = !g->values[v].is_param && !produced[v] && net->sh[v].nd > 0;
        memset(keep, 0, (size_t)nv);
    }

    /* values to keep readable */
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] >= 0 && g->outputs[i] < nv) keep[g->outputs[i]] = 1;
    int ov = xf_graph_output_value(g), fv = xf_graph_feature_value(g);
    if (ov >= 0) keep[ov] = 1;
    if (fv >= 0) keep[fv] = 1;
    if (n_keep < 0) memset(keep, 1, (size_t)nv);
    for (int i = 0; i < n_keep; i++) {
        if (!keep_ids || keep_ids[i] < 0 || keep_ids[i] >= nv) {
            st = XF_ERR(ctx, XF_ERR_INVALID, "xf_net_create: keep value %d out of range", keep_ids ? keep_ids[i] : -1);
            goto fail;
        }
        keep[keep_ids[i]] = 1;
    }

    if ((st = plan_steps(net, keep))) goto fail;
    int cmode = XF_NET_CONV_AUTO;
    if ((st = conv_mode(ctx, opts, &cmode))) goto fail;

    /* activation buffers */
    size_t total = 0;
    if (train) {
        for (int i = 0; i < nn; i++)
            for (int o = 0; o < g->nodes[i].n_out; o++) {
                int v = g->nodes[i].out[o];
                offsets[v] = total;
                total = sat_add(total, round_up((size_t)nn_numel(&net->sh[v])));
                net->valid[v] = 1;
            }
    } else if ((st = plan_infer(net, keep, offsets, &total))) goto fail;
    if ((st = plan_limit(net, "the activations", total))) goto fail;
    net->arena = xf_malloc(ctx, (total ? total : 1) * sizeof(float));
    if (!net->arena) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    if (train) /* every value has its buffer (the plain steps write fused-away ones) */
        for (int i = 0; i < nn; i++)
            for (int o = 0; o < g->nodes[i].n_out; o++) net->sh[g->nodes[i].out[o]].d = net->arena + offsets[g->nodes[i].out[o]];
    for (int i = 0; i < net->n_steps && !train; i++) {
        const xf_node *n = &g->nodes[net->steps[i].node];
        for (int o = 0; o < n->n_out; o++) {
            int v = o == 0 ? net->steps[i].out : n->out[o];
            net->sh[v].d = net->arena + offsets[v];
        }
    }

    /* scratch and saved state */
    size_t scr = 0, sav = 0;
    for (int i = 0; i < nn; i++) {
        const xf_node *n = &g->nodes[i];
        const nn_opdef *od = xf_nn_opdef(n->op);
        const nn_t *in[XF_NODE_MAXIN];
        node_inputs(net, n, in);
        if (od->scratch) {
            size_t s = od->scratch(n, in, &net->sh[n->out[0]], train, net->threads);
            if (s > scr) scr = s;
        }
        if (train && od->saved) sav = sat_add(sav, round_up(od->saved(n, in, &net->sh[n->out[0]], train, net->threads)));
    }
#ifdef XFER_HAVE_DNNL
    {
        size_t dbytes = 0;
        if (train && cmode != XF_NET_CONV_IM2COL && (st = plan_blocked(net, keep))) goto fail;
        if ((st = make_dnnl(net, cmode, &dbytes))) goto fail;
        int lost = 0; /* a conv next to a blocked value without oneDNN (auto fallback): no blocking */
        for (int k = 0; net->blk && k < net->n_steps; k++) {
            const xf_node *n = &g->nodes[net->steps[k].node];
            if (n->op == XF_OP_CONV && (!net->dconv || !net->dconv[net->steps[k].node]) && (net->blk[n->in[0]] || net->blk[n->out[0]])) lost = 1;
        }
        if (lost) {
            for (int i = 0; i < nn; i++) {
                xf_nn_dnnl_conv_free(ctx, net->dconv[i]);
                net->dconv[i] = NULL;
            }
            memset(net->blk, 0, (size_t)nv);
            dbytes = 0;
            if ((st = make_dnnl(net, cmode, &dbytes))) goto fail;
        }
        if (dbytes) { /* + 64 bytes to align the base */
            size_t f = (dbytes + 64 + sizeof(float) - 1) / sizeof(float);
            if (f > scr) scr = f;
        }
    }
#endif
    if ((st = plan_limit(net, "the activations, scratch and saved state", sat_add(sat_add(total, scr), sav)))) goto fail;
    net->scratch_n = scr;
    net->scratch = xf_malloc(ctx, (scr ? scr : 1) * sizeof(float));
    net->sarena = xf_malloc(ctx, (sav ? sav : 1) * sizeof(float));
    if (!net->scratch || !net->sarena) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    sav = 0;
    for (int i = 0; i < nn && train; i++) {
        const xf_node *n = &g->nodes[i];
        const nn_opdef *od = xf_nn_opdef(n->op);
        const nn_t *in[XF_NODE_MAXIN];
        node_inputs(net, n, in);
        if (od->saved) {
            size_t s = od->saved(n, in, &net->sh[n->out[0]], train, net->threads);
            if (s) net->saved[i] = net->sarena + sav;
            sav += round_up(s);
        }
    }

    /* gradients */
    if (train) {
        for (int v = 0; v < nv; v++)
            if ((g->values[v].is_param && g->values[v].trainable) || (input_grads && net->is_input[v])) net->needs_grad[v] = 1;
        for (int i = 0; i < nn; i++) {
            const xf_node *n = &g->nodes[i];
            int ng = 0;
            for (int j = 0; j < n->n_in; j++)
                if (n->in[j] >= 0 && net->needs_grad[n->in[j]]) ng = 1;
            if (n->op == XF_OP_BATCHNORM) /* running statistics never carry gradients */
                for (int j = 3; j < n->n_in; j++)
                    if (n->in[j] >= 0) net->needs_grad[n->in[j]] = 0;
            net->needs_grad[n->out[0]] = (unsigned char)ng;
            if (ng && !xf_nn_opdef(n->op)->bwd) {
                st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "node '%s' (%s) has no backward", n->name, xf_op_name(n->op));
                goto fail;
            }
        }
        net->gset = xf_calloc(ctx, (size_t)nv, 1);
        if (!net->gset) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
        size_t gt = 0;
        for (int v = 0; v < nv; v++)
            if (net->needs_grad[v]) gt = sat_add(gt, round_up((size_t)(g->values[v].is_param ? nn_shape_numel(g->values[v].ndim, g->values[v].shape)
                                                                                : nn_numel(&net->sh[v]))));
        if ((st = plan_limit(net, "the activations, scratch, saved state and gradients",
                             sat_add(sat_add(sat_add(total, scr), sav), gt))))
            goto fail;
        net->garena = xf_malloc(ctx, (gt ? gt : 1) * sizeof(float));
        if (!net->garena) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
        gt = 0;
        for (int v = 0; v < nv; v++)
            if (net->needs_grad[v]) {
                net->grad[v] = net->garena + gt;
                gt += round_up((size_t)(g->values[v].is_param ? nn_shape_numel(g->values[v].ndim, g->values[v].shape)
                                                              : nn_numel(&net->sh[v])));
            }
    }
    net->B = max_batch;
    xf_free(ctx, offsets);
    xf_free(ctx, keep);
    *out = net;
    return XF_OK;
fail:
    xf_free(ctx, offsets);
    xf_free(ctx, keep);
    xf_net_free(net);
    return st;
}

xf_status xf_net_create(xf_ctx_t *ctx, xf_graph *g, int64_t max_batch, xf_net_mode mode, xf_net_t **out) {
    return xf_net_create_ex(ctx, g, max_batch, mode, NULL, out);
}

int xf_nn_net_blocked_values(const xf_net_t *net) {
    int k = 0;
    for (int v = 0; net && net->blk && v < net->g->n_values; v++) k += net->blk[v] != 0;
    return k;
}

int xf_nn_net_dnnl_convs(const xf_net_t *net) {
    int k = 0;
    for (int i = 0; net && net->dconv && i < net->g->n_nodes; i++) k += net->dconv[i] != NULL;
    return k;
}

void xf_net_use_reference(xf_net_t *net, int on) {
    if (net) net->ref = on != 0;
}

static void kinit(xf_net_t *net, nn_kctx *kc, int i) {
    memset(kc, 0, sizeof *kc);
    kc->ctx = net->ctx;
    kc->node = &net->g->nodes[i];
    kc->train = net->mode == XF_NET_TRAIN;
    /* a frozen BatchNorm (scale and bias not trainable) keeps inference semantics (nn.h) */
    const xf_node *n = kc->node;
    if (kc->train && n->op == XF_OP_BATCHNORM && n->n_in >= 3 && n->in[1] >= 0 && n->in[2] >= 0 &&
        !net->g->values[n->in[1]].trainable && !net->g->values[n->in[2]].trainable)
        kc->train = 0;
    kc->ref = net->ref;
    kc->threads = net->threads;
    kc->scratch = net->scratch;
    kc->saved = net->saved[i];
    kc->rng = &net->rng;
    kc->dnn = net->dconv ? net->dconv[i] : NULL;
    if (net->blk && !net->ref)
        for (int j = 0; j < n->n_in && j < 32; j++) kc->blk |= (n->in[j] >= 0 && net->blk[n->in[j]]) ? 1u << j : 0u;
    kc->scratch_bytes = net->scratch_n * sizeof(float);
}

/* the steps forward and backward run: the fused ones, or the plain ones for the
 * reference kernels in training */
static const nn_step *run_steps(const xf_net_t *net, int *n) {
    if (net->ref && net->psteps) {
        *n = net->g->n_nodes;
        return net->psteps;
    }
    *n = net->n_steps;
    return net->steps;
}

static size_t grad_numel(const xf_net_t *net, int v) {
    const xf_value *val = &net->g->values[v];
    return (size_t)(val->is_param ? nn_shape_numel(val->ndim, val->shape) : nn_numel(&net->sh[v]));
}

static xf_status node_error(xf_net_t *net, const xf_node *n, xf_status st) {
    char pre[256];
    snprintf(pre, sizeof pre, "node '%s' (%s)", n->name, xf_op_name(n->op));
    if (!strstr(xf_errmsg(net->ctx), pre)) xf_error_prefix(net->ctx, pre);
    return st;
}

xf_status xf_net_forward(xf_net_t *net, const float *x, int64_t B) {
    if (!net) return XF_ERR_INVALID;
    xf_ctx_t *ctx = net->ctx;
    xf_graph *g = net->g;
    if (!x) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_forward: images are NULL");
    if (B < 1 || B > net->max_batch)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_forward: batch %lld outside 1..%lld", (long long)B, (long long)net->max_batch);
    net->B = B;
    for (int v = 0; v < g->n_values; v++) {
        if (!g->values[v].is_param && net->sh[v].nd > 0) net->sh[v].s[0] = B;
        net->computed[v] = 0;
        if (g->values[v].is_param) net->sh[v].d = g->values[v].data; /* the optimizer may not move them, but be safe */
    }
    net->sh[g->input].d = (float *)x; /* read only */
    for (int v = 0; v < g->n_values; v++)
        if (net->is_input[v] && v != g->input) {
            if (!net->bound[v])
                return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_forward: input '%s' is not bound (xf_net_bind)", g->values[v].name);
            net->sh[v].d = (float *)net->bound[v];
        }
    for (int v = 0; v < g->n_values; v++) net->computed[v] = net->is_input[v];
    /* one thread pool: kernels split work over OpenMP threads and call single-threaded
     * BLAS inside (mixing OpenMP and OpenBLAS's own pool oversubscribes the cores) */
    int blas_threads = xf_la_get_threads();
    if (blas_threads != 1) xf_la_set_threads(1);
    if (net->gset) memset(net->gset, 0, (size_t)g->n_values); /* no gradient holds anything yet */
    net->seeded = 0;
    if (net->fold) refresh_fold(net);
    int n_steps;
    const nn_step *steps = run_steps(net, &n_steps);
    for (int k = 0; k < n_steps; k++) {
        const nn_step *sp = &steps[k];
        int i = sp->node;
        const xf_node *n = &g->nodes[i];
        const nn_t *in[XF_NODE_MAXIN];
        node_inputs(net, n, in);
        nn_kctx kc;
        kinit(net, &kc, i);
        if (sp->bn >= 0) {
            kc.wfold = net->fold + sp->wofs;
            kc.bfold = net->fold + sp->bofs;
        }
        kc.act = sp->act;
        kc.amin = sp->amin;
        kc.amax = sp->amax;
        kc.blk_y = net->blk && !net->ref && net->blk[sp->out];
        xf_status st = xf_nn_opdef(n->op)->fwd(&kc, in, &net->sh[sp->out]);
        if (st) {
            if (blas_threads != 1) xf_la_set_threads(blas_threads);
            return node_error(net, n, st);
        }
        net->computed[sp->out] = 1;
    }
    net->ran = 1;
    net->blk_ran = net->blk && !net->ref;
    if (blas_threads != 1) xf_la_set_threads(blas_threads);
    return XF_OK;
}

const float *xf_net_data(xf_net_t *net, int v) {
    if (!net || v < 0 || v >= net->g->n_values) return NULL;
    if (net->g->values[v].is_param) return net->g->values[v].data;
    if (!net->ran || !net->computed[v]) return NULL;
    if (net->blk_ran && net->blk[v]) return NULL; /* in the blocked layout: internal */
    if (!net->is_input[v] && !net->valid[v]) return NULL;
    return net->sh[v].d;
}

xf_status xf_net_shape(xf_net_t *net, int v, int *ndim, int64_t *shape) {
    if (!net) return XF_ERR_INVALID;
    if (v < 0 || v >= net->g->n_values) return XF_ERR(net->ctx, XF_ERR_NOTFOUND, "xf_net_shape: value %d out of range", v);
    const nn_t *t = &net->sh[v];
    if (ndim) *ndim = t->nd;
    if (shape)
        for (int i = 0; i < t->nd; i++) shape[i] = t->s[i];
    return XF_OK;
}

xf_status xf_net_loss(xf_net_t *net, int v, const int32_t *labels, float *loss, int64_t *correct) {
    if (!net) return XF_ERR_INVALID;
    xf_ctx_t *ctx = net->ctx;
    if (!labels) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_loss: labels are NULL");
    const float *z = xf_net_data(net, v);
    if (!z || net->g->values[v].is_param) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_loss: value %d was not computed by the last forward", v);
    const nn_t *t = &net->sh[v];
    if (t->nd != 2) return XF_ERR(ctx, XF_ERR_SHAPE, "xf_net_loss: logits '%s' have rank %d (need B x K)", net->g->values[v].name, t->nd);
    double l;
    float *seed = (net->mode == XF_NET_TRAIN) ? net->grad[v] : NULL;
    xf_status st = xf_nn_softmax_xent(ctx, z, t->s[0], t->s[1], labels, &l, correct, seed);
    if (st) return st;
    if (loss) *loss = (float)l;
    net->seeded = net->mode == XF_NET_TRAIN;
    if (seed) net->gset[v] = 1;
    return XF_OK;
}

/* Gradient buffers are not zeroed up front: gset[v] says whether grad[v] holds a
 * gradient yet. A step whose output gradient holds nothing is skipped (every backward
 * is linear in dy, so it would add zeros); the first writer of a buffer writes it (=)
 * where the op honours k->set for that input (op->bwd_set; not the reference kernels,
 * not an input the node reads twice), else the buffer is zeroed just before it; after
 * the pass, buffers nothing wrote are zeroed, so every gradient reads as before. */
xf_status xf_net_backward(xf_net_t *net) {
    if (!net) return XF_ERR_INVALID;
    xf_ctx_t *ctx = net->ctx;
    xf_graph *g = net->g;
    if (net->mode != XF_NET_TRAIN) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_backward: the net was created for inference");
    if (!net->seeded) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_backward: call xf_net_loss (or xf_net_seed_grad) after forward first");
    int blas_threads = xf_la_get_threads();
    if (blas_threads != 1) xf_la_set_threads(1);
    xf_status st = XF_OK;
    int n_steps;
    const nn_step *steps = run_steps(net, &n_steps);
    for (int k = n_steps - 1; k >= 0 && !st; k--) {
        const nn_step *sp = &steps[k];
        int i = sp->node;
        const xf_node *n = &g->nodes[i];
        int y = sp->out;
        if (!net->needs_grad[y] || !net->gset[y]) continue;
        const nn_t *in[XF_NODE_MAXIN];
        node_inputs(net, n, in);
        const nn_opdef *od = xf_nn_opdef(n->op);
        nn_kctx kc;
        kinit(net, &kc, i);
        kc.act = sp->act;
        kc.amin = sp->amin;
        kc.amax = sp->amax;
        kc.blk_y = net->blk && !net->ref && net->blk[y];
        float *dx[XF_NODE_MAXIN];
        for (int j = 0; j < XF_NODE_MAXIN; j++) {
            dx[j] = (j < n->n_in && n->in[j] >= 0) ? net->grad[n->in[j]] : NULL;
            if (!dx[j] || net->gset[n->in[j]]) continue;
            int twice = 0;
            for (int l = 0; l < n->n_in; l++) twice |= l != j && n->in[l] == n->in[j];
            if (!net->ref && !twice && (od->bwd_set >> j & 1u)) kc.set |= 1u << j;
            else memset(dx[j], 0, grad_numel(net, n->in[j]) * sizeof(float));
            net->gset[n->in[j]] = 1;
        }
        st = od->bwd(&kc, in, &net->sh[y], net->grad[y], dx);
        if (st) node_error(net, n, st);
    }
    for (int v = 0; v < g->n_values && !st; v++)
        if (net->grad[v] && !net->gset[v]) {
            memset(net->grad[v], 0, grad_numel(net, v) * sizeof(float));
            net->gset[v] = 1;
        }
    if (blas_threads != 1) xf_la_set_threads(blas_threads);
    net->seeded = 0;
    return st;
}

xf_status xf_net_seed_grad(xf_net_t *net, int v, const float *dy) {
    if (!net) return XF_ERR_INVALID;
    if (net->mode != XF_NET_TRAIN || v < 0 || v >= net->g->n_values || !net->grad[v] || net->g->values[v].is_param)
        return XF_ERR(net->ctx, XF_ERR_INVALID, "xf_net_seed_grad: value %d carries no gradient", v);
    size_t n = (size_t)nn_numel(&net->sh[v]);
    memcpy(net->grad[v], dy, n * sizeof(float));
    net->gset[v] = 1;
    net->seeded = 1;
    return XF_OK;
}

const float *xf_net_grad(xf_net_t *net, int v) {
    if (!net || v < 0 || v >= net->g->n_values) return NULL;
    if (net->blk_ran && net->blk[v]) return NULL; /* in the blocked layout: internal */
    return net->grad[v];
}

int64_t xf_net_max_batch(const xf_net_t *net) { return net ? net->max_batch : 0; }
xf_graph *xf_net_graph(const xf_net_t *net) { return net ? net->g : NULL; }

xf_status xf_net_bind(xf_net_t *net, int v, const float *data) {
    if (!net) return XF_ERR_INVALID;
    if (v < 0 || v >= net->g->n_values || !net->is_input[v] || v == net->g->input)
        return XF_ERR(net->ctx, XF_ERR_INVALID, "xf_net_bind: value %d is not an extra graph input", v);
    net->bound[v] = data;
    return XF_OK;
}
