/* ONNX importer, part 3: graph building. Emission of activations, parameters and nodes
 * into the xf_graph, shape inference of emitted activations, and the translation of each
 * ONNX op that did not fold (xf_onnx_import_node), including activations decomposed into engine ops.
 * See onnx_import.c for the design; onnx_importInt.h for the shared state. */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "onnx_importInt.h"

/* ---------------------------------------------------------------------------------- */
/* graph emission                                                                     */


xf_status xf_onnx_alias(imp *m, const imp_val *x) {
    int vid = x->vid;
    imp_val *v;
    xf_status st = xf_onnx_val_new(m, m->node->output[0], &v);
    if (st) return st;
    v->kind = IV_ACT;
    v->vid = vid;
    return XF_OK;
}

/* Registers an ONNX output name as a new activation of the given shape. */
xf_status xf_onnx_act_new(imp *m, const char *name, int ndim, const int64_t *shape0, imp_val **out) {
    imp_val *v;
    int64_t shape[MAXD];
    if (ndim < 0 || ndim > MAXD) return XF_ERR(m->ctx, XF_ERR_INTERNAL, "%s: rank %d", m->file, ndim);
    if (ndim) memcpy(shape, shape0, (size_t)ndim * sizeof *shape); /* shape0 may point into g->values */
    xf_status st = xf_onnx_val_new(m, name, &v);
    if (st) return st;
    v->kind = IV_ACT;
    int id;
    st = xf_graph_add_value(m->g, name, ndim, shape, NULL, &id);
    if (st) return st;
    v->vid = id;
    *out = v;
    return XF_OK;
}

/* An importer-internal activation (not visible in ONNX): a unique derived name. */
static xf_status act_tmp(imp *m, const char *base, const char *what, int ndim, const int64_t *shape, int *id) {
    char buf[512];
    do {
        snprintf(buf, sizeof buf, "%.400s/xf_%s%d", base, what, m->tmp_counter++);
    } while (xf_graph_find(m->g, buf) >= 0 || xf_onnx_tab_find(m, buf) >= 0);
    return xf_graph_add_value(m->g, buf, ndim, shape, NULL, id);
}

/* Makes a constant a graph parameter (once); shape reshaped to (ndim, dims) if given. */
static xf_status materialize(imp *m, imp_val *v, int *id) {
    if (v->kind == IV_ACT) { *id = v->vid; return XF_OK; }
    if (v->vid >= 0) { *id = v->vid; return XF_OK; }
    if (v->is_int) {
        for (int64_t k = 0; k < v->n; k++)
            if (v->sym[k]) NERR(m, XF_ERR_UNSUPPORTED, "tensor '%s' depends on the batch size", v->name);
        float *f = xf_malloc(m->ctx, (size_t)(v->n ? v->n : 1) * sizeof *f);
        if (!f) return XF_ERR_NOMEM;
        for (int64_t k = 0; k < v->n; k++) f[k] = (float)v->i[k];
        xf_free(m->ctx, v->i);
        xf_free(m->ctx, v->sym);
        v->i = NULL;
        v->sym = NULL;
        v->f = f;
        v->is_int = 0;
    }
    int64_t one = 1;
    xf_status st = xf_graph_add_value(m->g, v->name, v->ndim ? v->ndim : 1, v->ndim ? v->dims : &one, v->f, id);
    if (st) return st;
    v->vid = *id;
    /* the graph holds a copy now: read that one from here on (halves peak memory for
     * big models; parameter data blocks do not move when g->values grows) */
    if (m->g->values[*id].data) {
        xf_free(m->ctx, v->f);
        v->f = m->g->values[*id].data;
        v->f_borrowed = 1;
    }
    return XF_OK;
}

/* A fresh parameter from float data (derived weights: negated, expanded, ...). */
xf_status xf_onnx_param_new(imp *m, const char *base, const char *what, int ndim, const int64_t *dims, const float *data,
                            int *id) {
    char buf[512];
    do {
        snprintf(buf, sizeof buf, "%.400s/xf_%s%d", base, what, m->tmp_counter++);
    } while (xf_graph_find(m->g, buf) >= 0 || xf_onnx_tab_find(m, buf) >= 0);
    return xf_graph_add_value(m->g, buf, ndim, dims, data, id);
}

xf_status xf_onnx_emit(imp *m, xf_op op, const int *in, int nin, int out, const xf_node_attr *a) {
    char nb[256];
    return xf_graph_add_node(m->g, op, node_label(m, nb, sizeof nb), in, nin, &out, 1, a);
}

xf_status xf_onnx_emit_reshape(imp *m, int in, int out, int nd, const int64_t *s) {
    xf_node_attr a;
    xf_node_attr_default(XF_OP_RESHAPE, &a);
    a.shape_n = nd;
    a.shape[0] = 0;
    for (int k = 1; k < nd; k++) a.shape[k] = s[k];
    return xf_onnx_emit(m, XF_OP_RESHAPE, &in, 1, out, &a);
}

/* ---------------------------------------------------------------------------------- */
/* shapes of emitted activations (batch -1); enough for folding Shape() and checking  */

static xf_status bcast(imp *m, const xf_value *a, const xf_value *b, int *nd, int64_t *s) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int k = 0; k < n; k++) {
        int ia = k - (n - a->ndim), ib = k - (n - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da == db || db == 1) s[k] = da;
        else if (da == 1) s[k] = db;
        else NERR(m, XF_ERR_SHAPE, "shapes of '%s' and '%s' do not broadcast", a->name, b->name);
    }
    *nd = n;
    return XF_OK;
}

static xf_status need_rank(imp *m, const imp_val *x, int rank) {
    if (x->kind != IV_ACT) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' must be computed from the graph input", x->name);
    if (rank > 0 && m->g->values[x->vid].ndim != rank)
        NERR(m, XF_ERR_UNSUPPORTED, "input '%s' has rank %d, %d expected", x->name, m->g->values[x->vid].ndim, rank);
    return XF_OK;
}

/* Output size of a sliding window (conv/pool). */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1, int ceil_mode) {
    int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p0) o--; /* last window must start inside the input (PyTorch/ORT) */
    return o;
}

/* ---------------------------------------------------------------------------------- */
/* runtime ops                                                                        */

static xf_status out_act(imp *m, int k, int ndim, const int64_t *shape, int *id) {
    if ((size_t)k >= m->node->n_output || !m->node->output[k] || !m->node->output[k][0])
        NERR(m, XF_ERR_FORMAT, "output %d missing", k);
    imp_val *v;
    xf_status st = xf_onnx_act_new(m, m->node->output[k], ndim, shape, &v);
    if (st) return st;
    *id = v->vid;
    return XF_OK;
}

/* Extra outputs (BatchNorm training stats, MaxPool indices, Dropout mask) must be unused. */
static xf_status extra_outputs_unused(imp *m, int from, const int *uses_of) {
    for (size_t k = (size_t)from; k < m->node->n_output; k++)
        if (m->node->output[k] && m->node->output[k][0] && uses_of[k])
            NERR(m, XF_ERR_UNSUPPORTED, "output %zu ('%s') is used but not supported", k, m->node->output[k]);
    return XF_OK;
}

static xf_status op_conv_pool(imp *m, xf_op op, imp_val *x) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    xf_value xcopy = *gval(m, x); /* values may move as parameters are added */
    const xf_value *xv = &xcopy;
    if (xv->ndim != 4) NERR(m, XF_ERR_UNSUPPORTED, "only 2-D %s on NCHW input is supported (input rank %d)",
                            op == XF_OP_CONV ? "convolution" : "pooling", xv->ndim);
    xf_node_attr a;
    xf_node_attr_default(op, &a);
    int in[3], nin = 1;
    in[0] = x->vid;
    int64_t C = xv->shape[1], M = C;
    if (op == XF_OP_CONV) {
        imp_val *w = xf_onnx_in_val(m, 1), *b = xf_onnx_in_val(m, 2);
        if (!w || !is_const(w) || w->ndim != 4) NERR(m, XF_ERR_UNSUPPORTED, "weights must be a constant 4-D tensor");
        a.group = attr_i(m->node, "group", 1);
        if (a.group < 1 || C % a.group || w->dims[1] * a.group != C || w->dims[0] % a.group)
            NERR(m, XF_ERR_SHAPE, "weights %lldx%lld for %lld input channels in %lld groups", (long long)w->dims[0],
                 (long long)w->dims[1], (long long)C, (long long)a.group);
        M = w->dims[0];
        a.kernel[0] = w->dims[2];
        a.kernel[1] = w->dims[3];
        if (b && (!is_const(b) || b->n != M)) NERR(m, XF_ERR_SHAPE, "bias must be a constant of %lld values", (long long)M);
        if ((st = materialize(m, w, &in[1]))) return st;
        nin = 2;
        if (b) {
            if ((st = materialize(m, b, &in[2]))) return st;
            nin = 3;
        }
    }
    int nk;
    const int64_t *k = attr_ints(m->node, "kernel_shape", &nk);
    if (op == XF_OP_CONV) {
        if (nk >= 0 && (nk != 2 || k[0] != a.kernel[0] || k[1] != a.kernel[1]))
            NERR(m, XF_ERR_SHAPE, "kernel_shape does not match the weights");
    } else if (op != XF_OP_GLOBALAVGPOOL) {
        if (nk != 2) NERR(m, XF_ERR_UNSUPPORTED, "kernel_shape must have 2 entries");
        a.kernel[0] = k[0];
        a.kernel[1] = k[1];
    }
    int64_t ho = 1, wo = 1;
    if (op != XF_OP_GLOBALAVGPOOL) {
        int n;
        const int64_t *s = attr_ints(m->node, "strides", &n);
        if (n >= 0 && n != 2) NERR(m, XF_ERR_FORMAT, "strides must have 2 entries");
        if (n == 2) a.stride[0] = s[0], a.stride[1] = s[1];
        const int64_t *d = attr_ints(m->node, "dilations", &n);
        if (n >= 0 && n != 2) NERR(m, XF_ERR_FORMAT, "dilations must have 2 entries");
        if (n == 2) a.dilation[0] = d[0], a.dilation[1] = d[1];
        const int64_t *p = attr_ints(m->node, "pads", &n);
        if (n >= 0 && n != 4) NERR(m, XF_ERR_FORMAT, "pads must have 4 entries");
        for (int j = 0; j < 4; j++) a.pads[j] = n == 4 ? p[j] : 0; /* ONNX: h_begin, w_begin, h_end, w_end */
        a.ceil_mode = (int)attr_i(m->node, "ceil_mode", 0);
        if (op == XF_OP_AVGPOOL) a.count_include_pad = (int)attr_i(m->node, "count_include_pad", 0);
        for (int j = 0; j < 2; j++)
            if (a.kernel[j] < 1 || a.stride[j] < 1 || a.dilation[j] < 1 || a.kernel[j] > 65536 || a.stride[j] > 65536 ||
                a.dilation[j] > 65536 || a.pads[j] < 0 || a.pads[j + 2] < 0 || a.pads[j] > 65536 || a.pads[j + 2] > 65536)
                NERR(m, XF_ERR_FORMAT, "kernel, strides, dilations or pads out of range");
        /* auto_pad (tf2onnx, Keras exports) */
        int same_u = attr_s(m->node, "auto_pad", "SAME_UPPER"), same_l = attr_s(m->node, "auto_pad", "SAME_LOWER");
        if (same_u || same_l) {
            for (int j = 0; j < 2; j++) {
                int64_t in_ = xv->shape[2 + j], o = (in_ + a.stride[j] - 1) / a.stride[j];
                int64_t tot = (o - 1) * a.stride[j] + a.dilation[j] * (a.kernel[j] - 1) + 1 - in_;
                if (tot < 0) tot = 0;
                a.pads[j] = same_u ? tot / 2 : tot - tot / 2;
                a.pads[j + 2] = tot - a.pads[j];
            }
        }
        ho = window_out(xv->shape[2], a.kernel[0], a.stride[0], a.dilation[0], a.pads[0], a.pads[2], a.ceil_mode);
        wo = window_out(xv->shape[3], a.kernel[1], a.stride[1], a.dilation[1], a.pads[1], a.pads[3], a.ceil_mode);
        if (ho < 1 || wo < 1) NERR(m, XF_ERR_SHAPE, "window larger than the %lldx%lld input", (long long)xv->shape[2],
                                   (long long)xv->shape[3]);
    }
    int64_t shape[4] = {xv->shape[0], M, ho, wo};
    int out;
    if ((st = out_act(m, 0, 4, shape, &out))) return st;
    return xf_onnx_emit(m, op, in, nin, out, &a);
}

static xf_status op_unary(imp *m, xf_op op, imp_val *x, const xf_node_attr *a0) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    xf_node_attr a;
    if (a0) a = *a0;
    else xf_node_attr_default(op, &a);
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    int64_t s[MAXD];
    memcpy(s, xv->shape, sizeof s);
    int out, in = x->vid;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    return xf_onnx_emit(m, op, &in, 1, out, &a);
}

/* Add / Mul (and Sub / Div by a constant) */
static xf_status op_binary(imp *m, const char *opn, imp_val *a, imp_val *b) {
    xf_status st;
    if (!a || !b) NERR(m, XF_ERR_FORMAT, "needs two inputs");
    int sub = opn[0] == 'S', div = opn[0] == 'D';
    /* before opset 7: broadcast=1 with axis aligns B's dimensions with A's from axis on
     * (numpy aligns the last ones) */
    int legacy = m->opset < 7 && attr_i(m->node, "broadcast", 0) && attr(m->node, "axis");
    if (a->kind != IV_ACT) {
        if (sub || div) NERR(m, XF_ERR_UNSUPPORTED, "a constant minus/divided by an activation is not supported");
        if (legacy) NERR(m, XF_ERR_UNSUPPORTED, "legacy broadcast (axis) of an activation onto a constant");
        imp_val *t = a; a = b; b = t;
    }
    xf_op op = (opn[0] == 'A' || sub) ? XF_OP_ADD : XF_OP_MUL;
    int in[2] = {a->vid, -1};
    if (legacy) {
        if (b->kind == IV_ACT) NERR(m, XF_ERR_UNSUPPORTED, "legacy broadcast (axis) of an activation");
        int ra = m->g->values[a->vid].ndim;
        int64_t ax = norm_axis(attr_i(m->node, "axis", 0), ra), bd[MAXD];
        int pad = ra - (int)ax - b->ndim;
        if (ax < 0 || pad < 0) NERR(m, XF_ERR_SHAPE, "B (rank %d) does not fit A (rank %d) from axis %lld", b->ndim, ra, (long long)ax);
        if (pad > 0) { /* B with trailing 1s: numpy broadcasting then agrees */
            for (int k = 0; k < b->ndim + pad; k++) bd[k] = k < b->ndim ? b->dims[k] : 1;
            float *d = xf_malloc(m->ctx, (size_t)(b->n ? b->n : 1) * sizeof *d);
            if (!d) return XF_ERR_NOMEM;
            for (int64_t k = 0; k < b->n; k++) {
                if (b->is_int && b->sym[k]) {
                    xf_free(m->ctx, d);
                    NERR(m, XF_ERR_UNSUPPORTED, "tensor '%s' depends on the batch size", b->name);
                }
                float v = b->is_int ? (float)b->i[k] : b->f[k];
                d[k] = sub ? -v : div ? 1.0f / v : v;
            }
            st = xf_onnx_param_new(m, b->name, "aligned", b->ndim + pad, bd, d, &in[1]);
            xf_free(m->ctx, d);
            if (st) return st;
        }
    }
    if (in[1] >= 0) {
    } else if (b->kind == IV_ACT) {
        if (sub || div) NERR(m, XF_ERR_UNSUPPORTED, "%s of two activations is not supported", opn);
        in[1] = b->vid;
    } else if (sub || div) {
        if (b->is_int) {
            int id;
            if ((st = materialize(m, b, &id))) return st;
        }
        float *d = xf_malloc(m->ctx, (size_t)(b->n ? b->n : 1) * sizeof *d);
        if (!d) return XF_ERR_NOMEM;
        for (int64_t k = 0; k < b->n; k++) d[k] = sub ? -b->f[k] : 1.0f / b->f[k];
        int64_t one = 1;
        st = xf_onnx_param_new(m, b->name, sub ? "neg" : "recip", b->ndim ? b->ndim : 1, b->ndim ? b->dims : &one, d, &in[1]);
        xf_free(m->ctx, d);
        if (st) return st;
    } else if ((st = materialize(m, b, &in[1])))
        return st;
    int nd = 0;
    int64_t s[MAXD];
    if ((st = bcast(m, &m->g->values[in[0]], &m->g->values[in[1]], &nd, s))) return st;
    if (nd > MAXD) NERR(m, XF_ERR_UNSUPPORTED, "rank");
    int out;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    xf_node_attr at;
    xf_node_attr_default(op, &at);
    return xf_onnx_emit(m, op, in, 2, out, &at);
}

/* Reshape of an activation: the batch dimension must stay first. Targets taken from
 * Shape() carry the batch flag; a static target whose first entry equals the batch size
 * the input declared (models exported without dynamic axes) is treated the same way. */
static xf_status op_reshape(imp *m, imp_val *x, imp_val *t) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    if (!t || !is_const(t) || !t->is_int || t->ndim != 1 || t->n > MAXD || t->n < 1)
        NERR(m, XF_ERR_UNSUPPORTED, "shape must be a constant 1-D integer tensor of 1..%d entries", MAXD);
    const xf_value *xv = gval(m, x);
    int allowzero = (int)attr_i(m->node, "allowzero", 0);
    int nt = (int)t->n;
    int64_t tg[MAXD];
    for (int k = 0; k < nt; k++) {
        tg[k] = t->i[k];
        if (t->sym[k]) {
            if (k == 0) tg[k] = 0;
            else NERR(m, XF_ERR_UNSUPPORTED, "the batch size may only be the first dimension of a reshape target");
        } else if (tg[k] == 0 && allowzero)
            NERR(m, XF_ERR_UNSUPPORTED, "zero-sized dimension (allowzero)");
    }
    if (xv->shape[0] >= 0) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' has no batch dimension", x->name);
    if (tg[0] > 0 && tg[0] == m->model_batch) tg[0] = 0;
    if (tg[0] != 0 && tg[0] != -1)
        NERR(m, XF_ERR_UNSUPPORTED, "reshape target changes the batch dimension (first entry %lld)", (long long)tg[0]);
    int64_t per = prod(xv->shape + 1, xv->ndim - 1), known = 1;
    int neg = -1;
    int64_t s[MAXD];
    s[0] = -1;
    for (int k = 1; k < nt; k++) {
        int64_t v = tg[k];
        if (v == 0) {
            if (k >= xv->ndim) NERR(m, XF_ERR_SHAPE, "0 in reshape target beyond the input rank");
            v = xv->shape[k];
        }
        if (v == -1) {
            if (neg >= 0 || tg[0] == -1) NERR(m, XF_ERR_SHAPE, "more than one -1 in reshape target");
            neg = k;
            continue;
        }
        if (v < 1 || known > INT64_MAX / v) NERR(m, XF_ERR_SHAPE, "bad reshape target entry %lld", (long long)v);
        s[k] = v;
        known *= v;
    }
    if (neg >= 0) {
        if (per % known) NERR(m, XF_ERR_SHAPE, "cannot infer -1: %lld elements per sample", (long long)per);
        s[neg] = per / known;
    } else if (tg[0] == -1) {
        if (known != per) NERR(m, XF_ERR_SHAPE, "reshape target does not keep the batch dimension separate");
    } else if (known != per)
        NERR(m, XF_ERR_SHAPE, "reshape from %lld to %lld elements per sample", (long long)per, (long long)known);
    int out;
    if ((st = out_act(m, 0, nt, s, &out))) return st;
    return xf_onnx_emit_reshape(m, x->vid, out, nt, s);
}

/* ---- activations without an engine op, written with the ones it has ----------------
 * HardSigmoid(a, b) = Clip(a x + b, 0, 1)       -> Mul(a) -> Add(b) -> Clip(0, 1)
 * HardSwish          = x * Clip(x / 6 + 1/2, 0, 1) -> HardSigmoid(1/6, 1/2) -> Mul(x)
 * LeakyRelu(a)       = a x + (1 - a) Relu(x)     -> Mul(a), Relu -> Mul(1 - a) -> Add
 * Exact up to float32 rounding of the scalings (a few ulps). */
static xf_status scalar_param(imp *m, const char *base, const char *what, float v, int *id) {
    int64_t one = 1;
    return xf_onnx_param_new(m, base, what, 1, &one, &v, id);
}

static xf_status emit2(imp *m, xf_op op, int a, int b, int out) {
    xf_node_attr at;
    xf_node_attr_default(op, &at);
    int in[2] = {a, b};
    return xf_onnx_emit(m, op, in, 2, out, &at);
}

static xf_status op_decomposed(imp *m, const char *op, imp_val *x) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    const xf_value *xv0 = gval(m, x);
    int nd = xv0->ndim;
    int64_t s[MAXD];
    memcpy(s, xv0->shape, sizeof s);
    const char *base = m->node->output[0];
    int xin = x->vid, out;
    if (!strcmp(op, "LeakyRelu")) {
        float alpha = attr_f(m->node, "alpha", 0.01f);
        int ca, cb, t1, t2, t3;
        if ((st = scalar_param(m, base, "alpha", alpha, &ca)) || (st = scalar_param(m, base, "one_minus_alpha", 1.0f - alpha, &cb)) ||
            (st = act_tmp(m, base, "ax", nd, s, &t1)) || (st = act_tmp(m, base, "relu", nd, s, &t2)) ||
            (st = act_tmp(m, base, "relu_scaled", nd, s, &t3)))
            return st;
        m->g->values[ca].trainable = m->g->values[cb].trainable = 0;
        xf_node_attr at;
        xf_node_attr_default(XF_OP_RELU, &at);
        if ((st = emit2(m, XF_OP_MUL, xin, ca, t1)) || (st = xf_onnx_emit(m, XF_OP_RELU, &xin, 1, t2, &at)) ||
            (st = emit2(m, XF_OP_MUL, t2, cb, t3)) || (st = out_act(m, 0, nd, s, &out)))
            return st;
        return emit2(m, XF_OP_ADD, t1, t3, out);
    }
    int swish = !strcmp(op, "HardSwish");
    float alpha = swish ? 1.0f / 6.0f : attr_f(m->node, "alpha", 0.2f), beta = swish ? 0.5f : attr_f(m->node, "beta", 0.5f);
    int ca, cb, t1, t2, hs;
    if ((st = scalar_param(m, base, "alpha", alpha, &ca)) || (st = scalar_param(m, base, "beta", beta, &cb)) ||
        (st = act_tmp(m, base, "ax", nd, s, &t1)) || (st = act_tmp(m, base, "axb", nd, s, &t2)))
        return st;
    m->g->values[ca].trainable = m->g->values[cb].trainable = 0;
    if (swish) {
        if ((st = act_tmp(m, base, "hardsigmoid", nd, s, &hs))) return st;
    } else if ((st = out_act(m, 0, nd, s, &hs)))
        return st;
    xf_node_attr ca_;
    xf_node_attr_default(XF_OP_CLIP, &ca_);
    ca_.min = 0.0f;
    ca_.max = 1.0f;
    if ((st = emit2(m, XF_OP_MUL, xin, ca, t1)) || (st = emit2(m, XF_OP_ADD, t1, cb, t2)) ||
        (st = xf_onnx_emit(m, XF_OP_CLIP, &t2, 1, hs, &ca_)))
        return st;
    if (!swish) return XF_OK;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    return emit2(m, XF_OP_MUL, xin, hs, out);
}

static xf_status op_softmax(imp *m, xf_op op, imp_val *x) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    int64_t ax = norm_axis(attr_i(m->node, "axis", m->opset >= 13 ? -1 : 1), nd);
    if (ax < 0 || ax >= nd) NERR(m, XF_ERR_FORMAT, "axis out of range");
    if (ax == 0) NERR(m, XF_ERR_UNSUPPORTED, "softmax over the batch dimension");
    xf_node_attr a;
    xf_node_attr_default(op, &a);
    if (m->opset >= 13 || ax == nd - 1) {
        a.axis = ax;
        return op_unary(m, op, x, &a);
    }
    /* before opset 13: softmax over the flattened trailing dims [axis, nd) */
    int64_t fs[2] = {-1, prod(xv->shape + ax, nd - (int)ax)};
    int64_t s[MAXD];
    memcpy(s, xv->shape, sizeof s);
    if (ax != 1) NERR(m, XF_ERR_UNSUPPORTED, "opset %lld softmax with axis %lld on rank %d", (long long)m->opset,
                      (long long)ax, nd);
    int flat, sm, out, in = x->vid;
    if ((st = act_tmp(m, x->name, "flat", 2, fs, &flat))) return st;
    xf_node_attr fa;
    xf_node_attr_default(XF_OP_FLATTEN, &fa);
    fa.axis = 1;
    if ((st = xf_onnx_emit(m, XF_OP_FLATTEN, &in, 1, flat, &fa))) return st;
    if ((st = act_tmp(m, x->name, "softmax", 2, fs, &sm))) return st;
    a.axis = 1;
    if ((st = xf_onnx_emit(m, op, &flat, 1, sm, &a))) return st;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    return xf_onnx_emit_reshape(m, sm, out, nd, s);
}

/* One ONNX node that did not fold. */
xf_status xf_onnx_import_node(imp *m, const int *out_uses) {
    const Onnx__NodeProto *n = m->node;
    const char *op = n->op_type ? n->op_type : "";
    xf_status st;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        NERR(m, XF_ERR_UNSUPPORTED, "unsupported op (domain '%s')", n->domain);
    for (size_t k = 0; k < n->n_input; k++)
        if (n->input[k] && n->input[k][0] && xf_onnx_tab_find(m, n->input[k]) < 0)
            NERR(m, XF_ERR_FORMAT, "input '%s' is not produced by an earlier node, an initializer or a graph input "
                                   "(dangling name, cycle or unsorted graph)", n->input[k]);
    if (n->n_output < 1 || !n->output[0] || !n->output[0][0]) NERR(m, XF_ERR_FORMAT, "node without output");
    imp_val *x = xf_onnx_in_val(m, 0);
    if (!x && strcmp(op, "Constant")) NERR(m, XF_ERR_FORMAT, "missing first input");
    if (!strcmp(op, "Conv")) return op_conv_pool(m, XF_OP_CONV, x);
    if (!strcmp(op, "MaxPool")) {
        if ((st = extra_outputs_unused(m, 1, out_uses))) return st;
        return op_conv_pool(m, XF_OP_MAXPOOL, x);
    }
    if (!strcmp(op, "AveragePool")) return op_conv_pool(m, XF_OP_AVGPOOL, x);
    if (!strcmp(op, "GlobalAveragePool")) return op_conv_pool(m, XF_OP_GLOBALAVGPOOL, x);
    if (!strcmp(op, "Relu")) return op_unary(m, XF_OP_RELU, x, NULL);
    if (!strcmp(op, "Sigmoid")) return op_unary(m, XF_OP_SIGMOID, x, NULL);
    if (!strcmp(op, "HardSigmoid") || !strcmp(op, "HardSwish") || !strcmp(op, "LeakyRelu"))
        return op_decomposed(m, op, x);
    if (!strcmp(op, "Identity")) {
        if (out_uses[0]) { /* a graph output: a node, so the output has its own name */
            xf_node_attr a;
            xf_node_attr_default(XF_OP_IDENTITY, &a);
            return op_unary(m, XF_OP_IDENTITY, x, &a);
        }
        /* an alias: the output name points at the same activation */
        return xf_onnx_alias(m, x);
    }
    if (!strcmp(op, "Dropout")) {
        if ((st = extra_outputs_unused(m, 1, out_uses))) return st;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_DROPOUT, &a);
        float r = attr_f(n, "ratio", 0.5f);
        int present;
        if (m->opset >= 12 && (st = xf_onnx_in_scalar(m, 1, &r, &present))) return st;
        if (!(r >= 0.0f && r < 1.0f)) NERR(m, XF_ERR_FORMAT, "ratio %g out of [0, 1)", r);
        a.ratio = r;
        return op_unary(m, XF_OP_DROPOUT, x, &a);
    }
    if (!strcmp(op, "Clip")) {
        xf_node_attr a;
        xf_node_attr_default(XF_OP_CLIP, &a);
        a.min = -FLT_MAX;
        a.max = FLT_MAX;
        if (m->opset >= 11) {
            int p;
            if ((st = xf_onnx_in_scalar(m, 1, &a.min, &p)) || (st = xf_onnx_in_scalar(m, 2, &a.max, &p))) return st;
        } else {
            a.min = attr_f(n, "min", -FLT_MAX);
            a.max = attr_f(n, "max", FLT_MAX);
        }
        if (a.min == 0.0f && a.max == FLT_MAX) return op_unary(m, XF_OP_RELU, x, NULL);
        return op_unary(m, XF_OP_CLIP, x, &a);
    }
    if (!strcmp(op, "Add") || !strcmp(op, "Mul") || !strcmp(op, "Sub") || !strcmp(op, "Div")) {
        if (op[0] == 'M' || op[0] == 'D') {
            int fused;
            imp_val *xa = x && x->kind == IV_ACT ? x : xf_onnx_in_val(m, 1);
            if ((st = xf_onnx_try_gelu(m, xa, &fused))) return st;
            if (fused) return XF_OK;
        }
        return op_binary(m, op, x, xf_onnx_in_val(m, 1));
    }
    if (!strcmp(op, "BatchNormalization")) {
        if ((st = need_rank(m, x, 0))) return st;
        if ((st = extra_outputs_unused(m, 1, out_uses))) return st;
        if (attr_i(n, "training_mode", 0)) NERR(m, XF_ERR_UNSUPPORTED, "training_mode=1 is not supported");
        /* before opset 7: is_test=0 asks for batch statistics; before 9: spatial=0 for
         * statistics per position (C x H x W inputs) */
        if (m->opset < 7 && !attr_i(n, "is_test", 0)) NERR(m, XF_ERR_UNSUPPORTED, "is_test=0 (training mode) is not supported");
        if (m->opset < 9 && !attr_i(n, "spatial", 1)) {
            imp_val *sc = xf_onnx_in_val(m, 1);
            int64_t C0 = gval(m, x)->ndim >= 2 ? gval(m, x)->shape[1] : -1;
            if (!sc || sc->n != C0) NERR(m, XF_ERR_UNSUPPORTED, "spatial=0 with statistics per position is not supported");
        }
        int64_t C = gval(m, x)->ndim >= 2 ? gval(m, x)->shape[1] : -1;
        int in[5] = {x->vid};
        for (int k = 1; k < 5; k++) {
            imp_val *p = xf_onnx_in_val(m, k);
            if (!p || !is_const(p) || p->n != C) NERR(m, XF_ERR_SHAPE, "input %d must be a constant of %lld values", k, (long long)C);
            if ((st = materialize(m, p, &in[k]))) return st;
            if (k >= 3) m->g->values[in[k]].trainable = 0; /* running statistics */
        }
        xf_node_attr a;
        xf_node_attr_default(XF_OP_BATCHNORM, &a);
        a.eps = attr_f(n, "epsilon", 1e-5f);
        a.momentum = attr_f(n, "momentum", 0.9f);
        int out;
        if ((st = out_act(m, 0, gval(m, x)->ndim, gval(m, x)->shape, &out))) return st;
        return xf_onnx_emit(m, XF_OP_BATCHNORM, in, 5, out, &a);
    }
    if (!strcmp(op, "InstanceNormalization") || !strcmp(op, "GroupNormalization")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int gn = op[0] == 'G';
        if (gn && m->opset < 18) NERR(m, XF_ERR_UNSUPPORTED, "unsupported op before opset 18");
        if (xv->ndim < 3) NERR(m, XF_ERR_SHAPE, "input rank %d", xv->ndim);
        int64_t C = xv->shape[1], G = gn ? attr_i(n, "num_groups", 0) : C;
        if (G < 1 || C % G) NERR(m, XF_ERR_SHAPE, "%lld groups for %lld channels", (long long)G, (long long)C);
        imp_val *s = xf_onnx_in_val(m, 1), *b = xf_onnx_in_val(m, 2);
        if (!s || !b || !is_const(s) || !is_const(b) || s->is_int || b->is_int || s->n != G || b->n != G)
            NERR(m, XF_ERR_SHAPE, "scale and bias must be constants of %lld values", (long long)G);
        xf_node_attr a;
        xf_node_attr_default(gn ? XF_OP_GROUPNORM : XF_OP_INSTANCENORM, &a);
        a.eps = attr_f(n, "epsilon", 1e-5f);
        int in[3] = {x->vid, -1, -1};
        if (gn) {
            /* opset 18: scale/bias per group; the engine takes them per channel */
            a.num_groups = G;
            float *d = xf_malloc(m->ctx, (size_t)C * 2 * sizeof *d);
            if (!d) return XF_ERR_NOMEM;
            for (int64_t c = 0; c < C; c++) {
                d[c] = s->f[c / (C / G)];
                d[C + c] = b->f[c / (C / G)];
            }
            st = xf_onnx_param_new(m, s->name, "gn_scale", 1, &C, d, &in[1]);
            if (!st) st = xf_onnx_param_new(m, b->name, "gn_bias", 1, &C, d + C, &in[2]);
            xf_free(m->ctx, d);
            if (st) return st;
        } else if ((st = materialize(m, s, &in[1])) || (st = materialize(m, b, &in[2])))
            return st;
        int out;
        if ((st = out_act(m, 0, gval(m, x)->ndim, gval(m, x)->shape, &out))) return st;
        return xf_onnx_emit(m, gn ? XF_OP_GROUPNORM : XF_OP_INSTANCENORM, in, 3, out, &a);
    }
    if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
        int gemm = op[0] == 'G';
        imp_val *b = xf_onnx_in_val(m, 1), *c = gemm ? xf_onnx_in_val(m, 2) : NULL;
        if ((st = need_rank(m, x, gemm ? 2 : 0))) return st;
        if (!b) NERR(m, XF_ERR_FORMAT, "missing input B");
        const xf_value *av = gval(m, x);
        xf_node_attr a;
        xf_node_attr_default(gemm ? XF_OP_GEMM : XF_OP_MATMUL, &a);
        int in[3] = {x->vid, -1, -1}, nin = 2;
        if ((st = materialize(m, b, &in[1]))) return st;
        xf_value acopy = *gval(m, x), bcopy = m->g->values[in[1]];
        av = &acopy;
        const xf_value *bv = &bcopy;
        int64_t s[MAXD];
        int nd;
        if (gemm) {
            a.alpha = attr_f(n, "alpha", 1.0f);
            a.beta = attr_f(n, "beta", 1.0f);
            a.transA = (int)attr_i(n, "transA", 0);
            a.transB = (int)attr_i(n, "transB", 0);
            if (a.transA) NERR(m, XF_ERR_UNSUPPORTED, "transA=1 would mix the batch dimension");
            if (bv->ndim != 2) NERR(m, XF_ERR_SHAPE, "B must be 2-D");
            int64_t K = bv->shape[a.transB ? 1 : 0], N = bv->shape[a.transB ? 0 : 1];
            if (K != av->shape[1]) NERR(m, XF_ERR_SHAPE, "A has %lld columns, B has %lld rows", (long long)av->shape[1], (long long)K);
            if (c) {
                if ((st = materialize(m, c, &in[2]))) return st;
                nin = 3;
                const xf_value *cv = &m->g->values[in[2]];
                int64_t cn = prod(cv->shape, cv->ndim);
                if (cn != N && cn != 1) NERR(m, XF_ERR_SHAPE, "C has %lld values for %lld outputs", (long long)cn, (long long)N);
            }
            nd = 2;
            s[0] = av->shape[0];
            s[1] = N;
        } else {
            if (bv->ndim != 2 || av->ndim < 2) NERR(m, XF_ERR_UNSUPPORTED, "only (..., K) x (K, N) matmul is supported");
            if (av->shape[av->ndim - 1] != bv->shape[0]) NERR(m, XF_ERR_SHAPE, "inner dimensions %lld and %lld differ",
                                                              (long long)av->shape[av->ndim - 1], (long long)bv->shape[0]);
            nd = av->ndim;
            memcpy(s, av->shape, sizeof s);
            s[nd - 1] = bv->shape[1];
        }
        int out;
        if ((st = out_act(m, 0, nd, s, &out))) return st;
        return xf_onnx_emit(m, gemm ? XF_OP_GEMM : XF_OP_MATMUL, in, nin, out, &a);
    }
    if (!strcmp(op, "Concat")) {
        int nin = n_inputs(m);
        if (nin < 1 || nin > 4096) NERR(m, XF_ERR_UNSUPPORTED, "%d inputs", nin);
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *x0 = gval(m, x);
        int64_t ax = norm_axis(attr_i(n, "axis", m->opset < 4 ? 1 : 0), x0->ndim);
        if (ax <= 0 || ax >= x0->ndim) NERR(m, XF_ERR_UNSUPPORTED, "concat along axis %lld", (long long)ax);
        int in[XF_NODE_MAXIN], cnt = 0, xnd = x0->ndim;
        int64_t s[MAXD], x0s[MAXD];
        memcpy(s, x0->shape, sizeof s);
        memcpy(x0s, x0->shape, sizeof s);
        s[ax] = 0;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_CONCAT, &a);
        a.axis = ax;
        /* the engine takes at most XF_NODE_MAXIN inputs: longer lists (densenet blocks)
         * become a chain, each link concatenating the previous result with the next ones */
        for (int k = 0; k < nin; k++) {
            imp_val *v = xf_onnx_in_val(m, k);
            if (!v) NERR(m, XF_ERR_FORMAT, "missing input %d", k);
            if ((st = need_rank(m, v, xnd))) return st;
            const xf_value *vv = gval(m, v);
            for (int j = 0; j < xnd; j++)
                if (j != ax && vv->shape[j] != x0s[j]) NERR(m, XF_ERR_SHAPE, "input '%s' has a different shape", v->name);
            in[cnt++] = v->vid;
            s[ax] += vv->shape[ax];
            if (cnt == XF_NODE_MAXIN && k < nin - 1) {
                int mid;
                if ((st = act_tmp(m, n->output[0], "concat", xnd, s, &mid))) return st;
                if ((st = xf_onnx_emit(m, XF_OP_CONCAT, in, cnt, mid, &a))) return st;
                in[0] = mid;
                cnt = 1;
            }
        }
        int out;
        if ((st = out_act(m, 0, xnd, s, &out))) return st;
        return xf_onnx_emit(m, XF_OP_CONCAT, in, cnt, out, &a);
    }
    if (!strcmp(op, "Flatten")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int64_t ax = norm_axis(attr_i(n, "axis", 1), xv->ndim);
        if (ax < 0 || ax > xv->ndim) NERR(m, XF_ERR_FORMAT, "axis out of range");
        if (ax == 0) NERR(m, XF_ERR_UNSUPPORTED, "flatten at axis 0 would merge the batch dimension into one row");
        for (int k = 1; k < ax; k++)
            if (xv->shape[k] != 1) {
                int h;
                return xf_onnx_import_classic(m, op, x, &h);
            }
        xf_node_attr a;
        xf_node_attr_default(XF_OP_FLATTEN, &a);
        a.axis = 1;
        int64_t s[2] = {-1, prod(xv->shape + 1, xv->ndim - 1)};
        int out, in = x->vid;
        if ((st = out_act(m, 0, 2, s, &out))) return st;
        return xf_onnx_emit(m, XF_OP_FLATTEN, &in, 1, out, &a);
    }
    if (!strcmp(op, "Reshape")) {
        int fused;
        if ((st = xf_onnx_try_groupnorm(m, x, xf_onnx_in_val(m, 1), &fused))) return st;
        if (fused) return XF_OK;
        if (m->opset < 5) { /* the target as an attribute */
            int cnt;
            const int64_t *t = attr_ints(n, "shape", &cnt);
            if (cnt < 1 || cnt > MAXD) NERR(m, XF_ERR_FORMAT, "shape attribute with %d entries", cnt);
            int64_t ti[MAXD];
            unsigned char sym[MAXD] = {0};
            memcpy(ti, t, (size_t)cnt * sizeof *ti);
            imp_val tv;
            memset(&tv, 0, sizeof tv);
            tv.name = "shape";
            tv.kind = IV_CONST;
            tv.is_int = 1;
            tv.ndim = 1;
            tv.dims[0] = tv.n = cnt;
            tv.i = ti;
            tv.sym = sym;
            return op_reshape(m, x, &tv);
        }
        return op_reshape(m, x, xf_onnx_in_val(m, 1));
    }
    if (!strcmp(op, "Softmax")) return op_softmax(m, XF_OP_SOFTMAX, x);
    if (!strcmp(op, "LogSoftmax")) return op_softmax(m, XF_OP_LOGSOFTMAX, x);
    if (!strcmp(op, "Pad")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int nd = xv->ndim;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_PAD, &a);
        a.pad_mode = attr_s(n, "mode", "reflect") ? 1 : attr_s(n, "mode", "edge") ? 2 : 0;
        if (attr(n, "mode") && !a.pad_mode && !attr_s(n, "mode", "constant")) NERR(m, XF_ERR_UNSUPPORTED, "pad mode");
        const int64_t *p;
        int np;
        int64_t pads[2 * MAXD] = {0};
        if (m->opset >= 11) {
            if ((st = xf_onnx_in_ints(m, 1, &p, &np, 1))) return st;
            int present;
            a.pad_value = 0;
            if ((st = xf_onnx_in_scalar(m, 2, &a.pad_value, &present))) return st;
            const int64_t *ax;
            int nax;
            if ((st = xf_onnx_in_ints(m, 3, &ax, &nax, 0))) return st;
            if (nax >= 0) {
                if (np != 2 * nax) NERR(m, XF_ERR_FORMAT, "pads has %d entries for %d axes", np, nax);
                for (int k = 0; k < nax; k++) {
                    int64_t aa = norm_axis(ax[k], nd);
                    if (aa < 0 || aa >= nd) NERR(m, XF_ERR_FORMAT, "bad axis");
                    pads[aa] = p[k];
                    pads[nd + aa] = p[nax + k];
                }
                np = 2 * nd;
                p = pads;
            }
        } else {
            p = attr_ints(n, m->opset < 2 ? "paddings" : "pads", &np);
            a.pad_value = attr_f(n, "value", 0.0f);
        }
        if (np != 2 * nd) NERR(m, XF_ERR_FORMAT, "pads has %d entries for rank %d", np, nd);
        int64_t s[MAXD];
        int zero = 1;
        for (int k = 0; k < nd; k++) {
            if (p[k] < 0 || p[nd + k] < 0 || p[k] > 65536 || p[nd + k] > 65536)
                NERR(m, XF_ERR_UNSUPPORTED, "negative or huge pads");
            if (k == 0 && (p[0] || p[nd])) NERR(m, XF_ERR_UNSUPPORTED, "padding the batch dimension");
            s[k] = k == 0 ? -1 : xv->shape[k] + p[k] + p[nd + k];
            if (p[k] || p[nd + k]) zero = 0;
            a.pad_amounts[k] = p[k];
            a.pad_amounts[nd + k] = p[nd + k];
        }
        a.pad_n = 2 * nd;
        if (zero) { /* PyTorch writes all-zero Pads before some pools: an alias */
            return xf_onnx_alias(m, x);
        }
        int out, in = x->vid;
        if ((st = out_act(m, 0, nd, s, &out))) return st;
        return xf_onnx_emit(m, XF_OP_PAD, &in, 1, out, &a);
    }
    if (!strcmp(op, "Transpose")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int nd = xv->ndim, np;
        const int64_t *p = attr_ints(n, "perm", &np);
        if (np >= 0 && np != nd) NERR(m, XF_ERR_FORMAT, "perm has %d entries for rank %d", np, nd);
        xf_node_attr a;
        xf_node_attr_default(XF_OP_TRANSPOSE, &a);
        unsigned char seen[MAXD] = {0};
        int64_t s[MAXD];
        for (int k = 0; k < nd; k++) {
            int64_t q = np >= 0 ? p[k] : nd - 1 - k;
            if (q < 0 || q >= nd || seen[q]) NERR(m, XF_ERR_FORMAT, "bad perm");
            seen[q] = 1;
            a.perm[k] = q;
            s[k] = xv->shape[q];
        }
        if (a.perm[0] != 0) NERR(m, XF_ERR_UNSUPPORTED, "transpose moving the batch dimension");
        a.perm_n = nd;
        int out, in = x->vid;
        if ((st = out_act(m, 0, nd, s, &out))) return st;
        return xf_onnx_emit(m, XF_OP_TRANSPOSE, &in, 1, out, &a);
    }
    if (!strcmp(op, "ReduceMean")) {
        if ((st = need_rank(m, x, 0))) return st;
        const int64_t *ax;
        int na;
        if (m->opset >= 18) {
            if ((st = xf_onnx_in_ints(m, 1, &ax, &na, 0))) return st;
        } else
            ax = attr_ints(n, "axes", &na);
        int keep = (int)attr_i(n, "keepdims", 1);
        int hw = na == 2 && gval(m, x)->ndim == 4 && ((norm_axis(ax[0], 4) == 2 && norm_axis(ax[1], 4) == 3) ||
                                                       (norm_axis(ax[0], 4) == 3 && norm_axis(ax[1], 4) == 2));
        if (!hw) {
            int h;
            return xf_onnx_import_classic(m, op, x, &h);
        }
        const xf_value *xv = gval(m, x);
        int64_t s4[4] = {-1, xv->shape[1], 1, 1}, s2[2] = {-1, xv->shape[1]};
        xf_node_attr a;
        xf_node_attr_default(XF_OP_GLOBALAVGPOOL, &a);
        int in = x->vid, out;
        if (keep) {
            if ((st = out_act(m, 0, 4, s4, &out))) return st;
            return xf_onnx_emit(m, XF_OP_GLOBALAVGPOOL, &in, 1, out, &a);
        }
        int mid;
        if ((st = act_tmp(m, n->output[0], "gap", 4, s4, &mid))) return st;
        if ((st = xf_onnx_emit(m, XF_OP_GLOBALAVGPOOL, &in, 1, mid, &a))) return st;
        if ((st = out_act(m, 0, 2, s2, &out))) return st;
        xf_node_attr_default(XF_OP_FLATTEN, &a);
        a.axis = 1;
        return xf_onnx_emit(m, XF_OP_FLATTEN, &mid, 1, out, &a);
    }
    int handled;
    if ((st = xf_onnx_import_classic(m, op, x, &handled)) || handled) return st;
    static const char *folding_only[] = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Slice", "ConstantOfShape", NULL};
    for (int k = 0; folding_only[k]; k++)
        if (!strcmp(op, folding_only[k])) NERR(m, XF_ERR_UNSUPPORTED, "supported only on constant (shape) inputs");
    NERR(m, XF_ERR_UNSUPPORTED, "unsupported op");
}

/* ---------------------------------------------------------------------------------- */
/* the helpers above, for onnx_import_classic.c                                       */

xf_status xf_onnx_out_act(imp *m, int k, int ndim, const int64_t *shape, int *id) { return out_act(m, k, ndim, shape, id); }
xf_status xf_onnx_need_rank(imp *m, const imp_val *x, int rank) { return need_rank(m, x, rank); }
xf_status xf_onnx_act_tmp(imp *m, const char *base, const char *what, int ndim, const int64_t *shape, int *id) {
    return act_tmp(m, base, what, ndim, shape, id);
}
xf_status xf_onnx_materialize(imp *m, imp_val *v, int *id) { return materialize(m, v, id); }
xf_status xf_onnx_unary(imp *m, xf_op op, imp_val *x, const xf_node_attr *a) { return op_unary(m, op, x, a); }
