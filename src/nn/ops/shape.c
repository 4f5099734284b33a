/* Data-movement ops, forward and backward: Concat, Flatten, Reshape, Transpose, Pad
 * (constant / reflect / edge), Identity, Dropout.
 *
 * The executor keeps the batch in dimension 0 of every activation, so these ops may not
 * move it: Concat / Flatten / Softmax axes are >= 1, Transpose keeps perm[0] = 0, Pad
 * does not pad the batch, and Reshape always keeps dimension 0 as the batch (its
 * target's first entry, whatever the exporter wrote there, stands for the batch; 0 in
 * later entries copies the input dimension, -1 is inferred). Flatten / Reshape /
 * Identity are copies (the layout is unchanged) and their backward is an add. */
#include "nn/nnInt.h"

static int norm_axis(int64_t axis, int nd) { return (int)(axis < 0 ? axis + nd : axis); }

/* ---- copies: Identity, Flatten, Reshape, Dropout at inference ---- */
static xf_status copy_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t n = nn_numel(y);
    if (y->d != x[0]->d) memcpy(y->d, x[0]->d, (size_t)n * sizeof(float));
    return XF_OK;
}
static xf_status copy_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    int64_t n = nn_numel(y);
    float *g = dx[0];
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) g[i] += dy[i];
    return XF_OK;
}
static xf_status identity_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    out[0] = *in[0];
    return XF_OK;
}
const nn_opdef xf_nn_op_identity = {identity_shape, copy_fwd, copy_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

static xf_status flatten_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    int ax = norm_axis(n->attr.axis, in[0]->nd);
    if (ax < 1 || ax > in[0]->nd) return NN_SHAPE_ERR(ctx, n, "axis %lld must keep the batch (1..rank)", (long long)n->attr.axis);
    memset(&out[0], 0, sizeof out[0]);
    out[0].nd = 2;
    out[0].s[0] = nn_shape_numel(ax, in[0]->s);
    out[0].s[1] = nn_shape_numel(in[0]->nd - ax, in[0]->s + ax);
    return XF_OK;
}
const nn_opdef xf_nn_op_flatten = {flatten_shape, copy_fwd, copy_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

static xf_status reshape_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    if (a->shape_n < 1 || a->shape_n > XF_NN_MAXDIM) return NN_SHAPE_ERR(ctx, n, "target rank %d", a->shape_n);
    memset(&out[0], 0, sizeof out[0]);
    out[0].nd = a->shape_n;
    out[0].s[0] = in[0]->s[0];
    int64_t per = nn_shape_numel(in[0]->nd - 1, in[0]->s + 1), known = 1;
    int infer = -1;
    for (int i = 1; i < a->shape_n; i++) {
        int64_t v = a->shape[i];
        if (v == 0) {
            if (i >= in[0]->nd) return NN_SHAPE_ERR(ctx, n, "0 in target dimension %d beyond the input rank", i);
            v = in[0]->s[i];
        }
        if (v == -1) {
            if (infer >= 0) return NN_SHAPE_ERR(ctx, n, "two -1 entries in the target shape");
            infer = i;
            continue;
        }
        if (v < 0) return NN_SHAPE_ERR(ctx, n, "target dimension %d is %lld", i, (long long)v);
        out[0].s[i] = v;
        known *= v;
    }
    if (infer >= 0) {
        if (known == 0 || per % known) return NN_SHAPE_ERR(ctx, n, "cannot infer -1: %lld elements per sample", (long long)per);
        out[0].s[infer] = per / known;
        known = per;
    }
    if (known != per)
        return NN_SHAPE_ERR(ctx, n, "target has %lld elements per sample, input %lld", (long long)known, (long long)per);
    return XF_OK;
}
const nn_opdef xf_nn_op_reshape = {reshape_shape, copy_fwd, copy_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- Dropout: inverted dropout, mask saved as 0 / (1/(1-p)) ---- */
static size_t dropout_saved(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? (size_t)nn_numel(y) : 0;
}
static xf_status dropout_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    float p = kc->node->attr.ratio;
    int64_t n = nn_numel(y);
    if (!kc->train || p <= 0.0f) {
        if (kc->saved) for (int64_t i = 0; i < n; i++) kc->saved[i] = 1.0f;
        return copy_fwd(kc, x, y);
    }
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float m = xf_rng_uniform(kc->rng) < p ? 0.0f : scale;
        kc->saved[i] = m;
        y->d[i] = x[0]->d[i] * m;
    }
    return XF_OK;
}
static xf_status dropout_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    int64_t n = nn_numel(y);
    for (int64_t i = 0; i < n; i++) dx[0][i] += dy[i] * kc->saved[i];
    return XF_OK;
}
static xf_status dropout_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (!(n->attr.ratio >= 0.0f && n->attr.ratio < 1.0f)) return NN_SHAPE_ERR(ctx, n, "ratio %g not in [0, 1)", n->attr.ratio);
    out[0] = *in[0];
    out[1] = *in[0];
    return XF_OK;
}
const nn_opdef xf_nn_op_dropout = {dropout_shape, dropout_fwd, dropout_bwd, NULL, dropout_saved, 0, 0, 1, 1, 0, 0};

/* ---- Concat ---- */
static xf_status concat_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    int nd = in[0]->nd;
    int ax = norm_axis(n->attr.axis, nd);
    if (ax < 1 || ax >= nd) return NN_SHAPE_ERR(ctx, n, "axis %lld must be in 1..rank-1", (long long)n->attr.axis);
    out[0] = *in[0];
    for (int i = 1; i < n->n_in; i++) {
        if (!in[i]) return NN_SHAPE_ERR(ctx, n, "input %d is absent", i);
        if (in[i]->nd != nd) return NN_SHAPE_ERR(ctx, n, "input %d has rank %d, input 0 rank %d", i, in[i]->nd, nd);
        for (int d = 0; d < nd; d++)
            if (d != ax && in[i]->s[d] != in[0]->s[d])
                return NN_SHAPE_ERR(ctx, n, "input %d dimension %d is %lld, input 0 has %lld", i, d,
                                    (long long)in[i]->s[d], (long long)in[0]->s[d]);
        out[0].s[ax] += in[i]->s[ax];
    }
    return XF_OK;
}
static xf_status concat_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int nd = y->nd, ax = norm_axis(kc->node->attr.axis, nd);
    int64_t outer = nn_shape_numel(ax, y->s), inner_y = nn_shape_numel(nd - ax, y->s + ax);
    int64_t off = 0;
    for (int i = 0; i < kc->node->n_in; i++) {
        int64_t inner = nn_shape_numel(nd - ax, x[i]->s + ax);
        for (int64_t o = 0; o < outer; o++)
            memcpy(y->d + o * inner_y + off, x[i]->d + o * inner, (size_t)inner * sizeof(float));
        off += inner;
    }
    return XF_OK;
}
static xf_status concat_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int nd = y->nd, ax = norm_axis(kc->node->attr.axis, nd);
    int64_t outer = nn_shape_numel(ax, y->s), inner_y = nn_shape_numel(nd - ax, y->s + ax);
    int64_t off = 0;
    for (int i = 0; i < kc->node->n_in; i++) {
        int64_t inner = nn_shape_numel(nd - ax, x[i]->s + ax);
        if (dx[i])
            for (int64_t o = 0; o < outer; o++) {
                const float *g = dy + o * inner_y + off;
                float *d = dx[i] + o * inner;
                for (int64_t j = 0; j < inner; j++) d[j] += g[j];
            }
        off += inner;
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_concat = {concat_shape, concat_fwd, concat_bwd, NULL, NULL, 0, 0, 1, XF_NODE_MAXIN, 0, 0};

/* ---- Transpose ---- */
static xf_status transpose_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    int nd = in[0]->nd;
    int perm[XF_NN_MAXDIM] = {0};
    if (a->perm_n == 0) { /* ONNX default: reverse, which would move the batch */
        return NN_SHAPE_ERR(ctx, n, "no perm given (reversing the axes would move the batch)");
    }
    if (a->perm_n != nd) return NN_SHAPE_ERR(ctx, n, "perm has %d entries for rank %d", a->perm_n, nd);
    int seen[XF_NN_MAXDIM] = {0};
    for (int i = 0; i < nd; i++) {
        perm[i] = (int)a->perm[i];
        if (perm[i] < 0 || perm[i] >= nd || seen[perm[i]]++) return NN_SHAPE_ERR(ctx, n, "perm is not a permutation");
    }
    if (perm[0] != 0) return NN_SHAPE_ERR(ctx, n, "perm[0] must be 0 (the batch stays first)");
    out[0] = *in[0];
    for (int i = 0; i < nd; i++) out[0].s[i] = in[0]->s[perm[i]];
    return XF_OK;
}
/* y[i0..] = x[perm applied]; dir = 0 forward copy, 1 backward accumulate into x. */
static void transpose_run(nn_kctx *kc, const nn_t *x, const nn_t *y, float *xd, const float *yd_in, float *yd_out,
                          int back) {
    int nd = y->nd;
    int64_t xs[XF_NN_MAXDIM], st[XF_NN_MAXDIM];
    int64_t r = 1;
    for (int i = nd - 1; i >= 0; i--) {
        xs[i] = r;
        r *= x->s[i];
    }
    for (int i = 0; i < nd; i++) st[i] = xs[kc->node->attr.perm[i]];
    int64_t total = nn_numel(y);
    int64_t idx[XF_NN_MAXDIM] = {0};
    int64_t off = 0;
    for (int64_t t = 0; t < total; t++) {
        if (back) xd[off] += yd_in[t];
        else yd_out[t] = xd[off];
        for (int i = nd - 1; i >= 0; i--) {
            idx[i]++;
            off += st[i];
            if (idx[i] < y->s[i]) break;
            off -= st[i] * y->s[i];
            idx[i] = 0;
        }
    }
}
static xf_status transpose_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    transpose_run(kc, x[0], y, x[0]->d, NULL, y->d, 0);
    return XF_OK;
}
static xf_status transpose_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (dx[0]) transpose_run(kc, x[0], y, dx[0], dy, NULL, 1);
    return XF_OK;
}
const nn_opdef xf_nn_op_transpose = {transpose_shape, transpose_fwd, transpose_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- Pad ---- */
static xf_status pad_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    int nd = in[0]->nd;
    if (a->pad_n != 2 * nd) return NN_SHAPE_ERR(ctx, n, "%d pad amounts for rank %d (need %d)", a->pad_n, nd, 2 * nd);
    if (a->pad_mode < 0 || a->pad_mode > 2) return NN_SHAPE_ERR(ctx, n, "pad mode %d", a->pad_mode);
    if (a->pad_amounts[0] || a->pad_amounts[nd]) return NN_SHAPE_ERR(ctx, n, "the batch dimension cannot be padded");
    out[0] = *in[0];
    for (int i = 0; i < nd; i++) {
        int64_t b = a->pad_amounts[i], e = a->pad_amounts[nd + i];
        if (b < 0 || e < 0) return NN_SHAPE_ERR(ctx, n, "negative pads are not supported");
        if (a->pad_mode == 1 && (b >= in[0]->s[i] || e >= in[0]->s[i]))
            return NN_SHAPE_ERR(ctx, n, "reflect pad %lld/%lld not smaller than dimension %lld", (long long)b,
                                (long long)e, (long long)in[0]->s[i]);
        out[0].s[i] = in[0]->s[i] + b + e;
    }
    return XF_OK;
}
/* source index along one dim, or -1 for the constant */
static int64_t pad_src(int64_t o, int64_t b, int64_t n, int mode) {
    int64_t i = o - b;
    if (i >= 0 && i < n) return i;
    if (mode == 0) return -1;
    if (mode == 2) return i < 0 ? 0 : n - 1;
    /* reflect (no edge repeat) */
    if (i < 0) return -i;
    return 2 * (n - 1) - i;
}
static void pad_run(nn_kctx *kc, const nn_t *x, const nn_t *y, const float *xd, float *yd, float *dxd, const float *dy) {
    const xf_node_attr *a = &kc->node->attr;
    int nd = y->nd;
    int64_t xs[XF_NN_MAXDIM];
    int64_t r = 1;
    for (int i = nd - 1; i >= 0; i--) {
        xs[i] = r;
        r *= x->s[i];
    }
    int64_t total = nn_numel(y);
    int64_t idx[XF_NN_MAXDIM] = {0};
    for (int64_t t = 0; t < total; t++) {
        int64_t off = 0;
        int in = 1;
        for (int i = 0; i < nd; i++) {
            int64_t s = pad_src(idx[i], a->pad_amounts[i], x->s[i], a->pad_mode);
            if (s < 0) { in = 0; break; }
            off += s * xs[i];
        }
        if (dxd) {
            if (in) dxd[off] += dy[t];
        } else yd[t] = in ? xd[off] : a->pad_value;
        for (int i = nd - 1; i >= 0; i--) {
            if (++idx[i] < y->s[i]) break;
            idx[i] = 0;
        }
    }
}
static xf_status pad_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    pad_run(kc, x[0], y, x[0]->d, y->d, NULL, NULL);
    return XF_OK;
}
static xf_status pad_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (dx[0]) pad_run(kc, x[0], y, NULL, NULL, dx[0], dy);
    return XF_OK;
}
const nn_opdef xf_nn_op_pad = {pad_shape, pad_fwd, pad_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};
