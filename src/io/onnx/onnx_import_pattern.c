/* ONNX importer, part 4: exporter-pattern rewrites. Multi-node patterns PyTorch writes for
 * ops ONNX lacks at the model's opset, recognised and emitted as one engine op: GroupNorm
 * below opset 18 (Reshape -> InstanceNormalization -> Reshape -> Mul -> Add) and the erf
 * GELU. A partial match falls back to the literal ops.
 * See onnx_import.c for the design; onnx_importInt.h for the shared state. */
#include <math.h>
#include <string.h>

#include "onnx_importInt.h"

/* ---- GroupNorm pattern (below opset 18) -------------------------------------------- */

/* Index of the single node consuming name (uses == 1, not a graph output), else -1. */
static int sole_consumer(imp *m, const char *name, int after) {
    int found = -1;
    for (size_t k = 0; k < m->gp->n_output; k++)
        if (m->gp->output[k]->name && !strcmp(m->gp->output[k]->name, name)) return -1;
    for (size_t j = (size_t)after + 1; j < m->gp->n_node; j++) {
        const Onnx__NodeProto *n = m->gp->node[j];
        for (size_t k = 0; k < n->n_input; k++)
            if (n->input[k] && !strcmp(n->input[k], name)) {
                if (found >= 0 && found != (int)j) return -1;
                found = (int)j;
            }
    }
    return found;
}

static int is_op(const Onnx__NodeProto *n, const char *op) { return n->op_type && !strcmp(n->op_type, op); }

/* At a Reshape(x, [0|B, G, -1]): returns 1 and emits XF_OP_GROUPNORM if the PyTorch
 * pattern follows; 0 to import the nodes literally. */
xf_status xf_onnx_try_groupnorm(imp *m, imp_val *x, imp_val *t, int *fused) {
    *fused = 0;
    if (!x || x->kind != IV_ACT || !t || !is_const(t) || !t->is_int || t->n != 3) return XF_OK;
    const xf_value *xv = gval(m, x);
    if (xv->ndim != 4 || xv->shape[0] >= 0) return XF_OK;
    int batch0 = t->sym[0] || t->i[0] == 0 || (m->model_batch > 0 && t->i[0] == m->model_batch);
    if (!(batch0 && !t->sym[1] && t->i[1] > 0 && !t->sym[2] && t->i[2] == -1)) return XF_OK;
    int64_t C = xv->shape[1], G = t->i[1];
    if (C % G) return XF_OK;
    const Onnx__NodeProto *r1 = m->node;
    if (r1->n_output < 1) return XF_OK;
    int j1 = sole_consumer(m, r1->output[0], m->node_idx);
    if (j1 < 0) return XF_OK;
    const Onnx__NodeProto *in_ = m->gp->node[j1];
    if (!is_op(in_, "InstanceNormalization") || in_->n_input != 3 || in_->n_output < 1 || strcmp(in_->input[0], r1->output[0]))
        return XF_OK;
    int si = xf_onnx_tab_find(m, in_->input[1]), bi = xf_onnx_tab_find(m, in_->input[2]);
    if (si < 0 || bi < 0) return XF_OK;
    imp_val *sc = &m->v[si], *bb = &m->v[bi];
    if (!is_const(sc) || !is_const(bb) || sc->is_int || bb->is_int || sc->n != G || bb->n != G) return XF_OK;
    for (int64_t k = 0; k < G; k++)
        if (sc->f[k] != 1.0f || bb->f[k] != 0.0f) return XF_OK;
    int j2 = sole_consumer(m, in_->output[0], j1);
    if (j2 < 0) return XF_OK;
    const Onnx__NodeProto *r2 = m->gp->node[j2];
    if (!is_op(r2, "Reshape") || r2->n_input < 2 || strcmp(r2->input[0], in_->output[0]) || r2->n_output < 1) return XF_OK;
    /* the second reshape must restore x's shape: its target is Shape(x) (possibly computed
     * later in the node order) or a constant equal to it */
    int ti = xf_onnx_tab_find(m, r2->input[1]);
    if (ti >= 0) {
        imp_val *t2 = &m->v[ti];
        if (!is_const(t2) || !t2->is_int || t2->n != 4) return XF_OK;
        for (int k = 0; k < 4; k++) {
            int ok = k == 0 ? (t2->sym[0] || t2->i[0] == 0 || (m->model_batch > 0 && t2->i[0] == m->model_batch)) : (!t2->sym[k] && (t2->i[k] == xv->shape[k] || t2->i[k] == 0));
            if (!ok) return XF_OK;
        }
    } else {
        int found = 0;
        for (int j = m->node_idx + 1; j < j2 && !found; j++) {
            const Onnx__NodeProto *s = m->gp->node[j];
            if (is_op(s, "Shape") && s->n_input == 1 && s->n_output == 1 && !strcmp(s->output[0], r2->input[1]) &&
                !strcmp(s->input[0], x->name) && !attr(s, "start") && !attr(s, "end"))
                found = 1;
        }
        if (!found) return XF_OK;
    }
    int j3 = sole_consumer(m, r2->output[0], j2);
    if (j3 < 0) return XF_OK;
    const Onnx__NodeProto *mu = m->gp->node[j3];
    if (!is_op(mu, "Mul") || mu->n_input != 2 || mu->n_output < 1) return XF_OK;
    const char *wname = !strcmp(mu->input[0], r2->output[0]) ? mu->input[1] : mu->input[0];
    int j4 = sole_consumer(m, mu->output[0], j3);
    if (j4 < 0) return XF_OK;
    const Onnx__NodeProto *ad = m->gp->node[j4];
    if (!is_op(ad, "Add") || ad->n_input != 2 || ad->n_output < 1) return XF_OK;
    const char *bname = !strcmp(ad->input[0], mu->output[0]) ? ad->input[1] : ad->input[0];
    int wi = xf_onnx_tab_find(m, wname), bj = xf_onnx_tab_find(m, bname);
    if (wi < 0 || bj < 0) return XF_OK;
    imp_val *w = &m->v[wi], *b = &m->v[bj];
    /* per-channel (C,1,1) or (C) constants */
    if (!is_const(w) || !is_const(b) || w->is_int || b->is_int || w->n != C || b->n != C) return XF_OK;
    if (!(w->ndim == 3 || w->ndim == 1) || w->dims[0] != C || !(b->ndim == 3 || b->ndim == 1) || b->dims[0] != C)
        return XF_OK;
    /* emit */
    xf_status st;
    int in[3] = {x->vid, -1, -1};
    int64_t cd = C;
    if ((st = xf_onnx_param_new(m, wname, "gn_scale", 1, &cd, w->f, &in[1]))) return st;
    if ((st = xf_onnx_param_new(m, bname, "gn_bias", 1, &cd, b->f, &in[2]))) return st;
    imp_val *o;
    if ((st = xf_onnx_act_new(m, ad->output[0], 4, gval(m, x)->shape, &o))) return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_GROUPNORM, &a);
    a.num_groups = G;
    a.eps = attr_f(in_, "epsilon", 1e-5f);
    if ((st = xf_onnx_emit(m, XF_OP_GROUPNORM, in, 3, o->vid, &a))) return st;
    m->skip[j1] = m->skip[j2] = m->skip[j3] = m->skip[j4] = 1;
    *fused = 1;
    return XF_OK;
}

/* ---- GELU (no ONNX op before opset 20) -------------------------------------------- */

/* A constant scalar input of node n (by index) near want, by name lookup. */
static int scalar_near(imp *m, const char *name, double want) {
    int j = xf_onnx_tab_find(m, name);
    if (j < 0 || m->v[j].kind != IV_CONST || m->v[j].n != 1) return 0;
    double v = m->v[j].is_int ? (double)m->v[j].i[0] : m->v[j].f[0];
    return fabs(v - want) <= 1e-5 * fabs(want);
}
/* The operand of a two-input node other than name (NULL if name is not an operand). */
static const char *other_input(const Onnx__NodeProto *n, const char *name) {
    if (n->n_input != 2) return NULL;
    if (!strcmp(n->input[0], name)) return n->input[1];
    if (!strcmp(n->input[1], name)) return n->input[0];
    return NULL;
}

/* At Div(x, sqrt 2) or Mul(x, 1/sqrt 2): the erf GELU x * 0.5 * (1 + erf(x / sqrt 2)) as
 * PyTorch writes it (Mul(x, a) then Mul(., 0.5)) or as xf_onnx_export does (Mul(a, 0.5)
 * then Mul(x, .)) becomes one XF_OP_GELU. */
xf_status xf_onnx_try_gelu(imp *m, imp_val *x, int *fused) {
    *fused = 0;
    const Onnx__NodeProto *n0 = m->node;
    if (!x || x->kind != IV_ACT || n0->n_input != 2 || n0->n_output < 1) return XF_OK;
    int divide = !strcmp(n0->op_type, "Div");
    if (divide && strcmp(n0->input[0], x->name)) return XF_OK;
    const char *c = other_input(n0, x->name);
    if (!c || !scalar_near(m, c, divide ? 1.4142135623730951 : 0.7071067811865476)) return XF_OK;
    int j1 = sole_consumer(m, n0->output[0], m->node_idx);
    if (j1 < 0 || !is_op(m->gp->node[j1], "Erf") || m->gp->node[j1]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *erf = m->gp->node[j1];
    int j2 = sole_consumer(m, erf->output[0], j1);
    if (j2 < 0 || !is_op(m->gp->node[j2], "Add") || m->gp->node[j2]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *add = m->gp->node[j2];
    const char *one = other_input(add, erf->output[0]);
    if (!one || !scalar_near(m, one, 1.0)) return XF_OK;
    int j3 = sole_consumer(m, add->output[0], j2);
    if (j3 < 0 || !is_op(m->gp->node[j3], "Mul") || m->gp->node[j3]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *m3 = m->gp->node[j3];
    const char *o3 = other_input(m3, add->output[0]);
    if (!o3) return XF_OK;
    int with_x = !strcmp(o3, x->name), with_half = !with_x && scalar_near(m, o3, 0.5);
    if (!with_x && !with_half) return XF_OK;
    int j4 = sole_consumer(m, m3->output[0], j3);
    if (j4 < 0 || !is_op(m->gp->node[j4], "Mul") || m->gp->node[j4]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *m4 = m->gp->node[j4];
    const char *o4 = other_input(m4, m3->output[0]);
    if (!o4 || !(with_x ? scalar_near(m, o4, 0.5) : !strcmp(o4, x->name))) return XF_OK;
    xf_status st;
    imp_val *o;
    int in = x->vid;
    if ((st = xf_onnx_act_new(m, m4->output[0], gval(m, x)->ndim, gval(m, x)->shape, &o))) return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_GELU, &a);
    a.gelu_tanh = 0;
    if ((st = xf_onnx_emit(m, XF_OP_GELU, &in, 1, o->vid, &a))) return st;
    m->skip[j1] = m->skip[j2] = m->skip[j3] = m->skip[j4] = 1;
    *fused = 1;
    return XF_OK;
}
