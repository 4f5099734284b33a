/* ONNX importer, part 4: the operators of classic CNNs (the ONNX Model Zoo's AlexNet,
 * GoogLeNet, SqueezeNet, ShuffleNet, ... exported at opsets 3-9) and of their older
 * opsets, mapped onto engine ops:
 *   Tanh, Elu, Celu, Selu, Erf, LRN, ConvTranspose   one engine op each
 *   PRelu                       XF_OP_PRELU; the slope must be one value or one per channel
 *   ReduceMean / ReduceSum      XF_OP_REDUCE* over any non-batch axes (over H, W with
 *                               keepdims a GlobalAveragePool, in onnx_import_ops.c)
 *   GlobalMaxPool               MaxPool with the whole plane as its window
 *   DepthToSpace / SpaceToDepth Reshape (B, 6-D) -> Transpose -> Reshape: exact copies
 *   Upsample (opset 7-10)       nearest, integer scales on H, W: Reshape (B, C, H, 1, W, 1)
 *                               -> Mul by ones (1, 1, 1, sh, 1, sw) -> Reshape (B, C, sh H, sw W)
 *   Flatten at axis k > 1       Reshape to (B, d1..dk-1, dk..dn): ONNX's (B d1..dk-1, dk..dn)
 *                               with the batch kept apart; such a value may only be a graph
 *                               output (imp_val.batch_merged; the driver refuses consumers)
 * See onnx_import.c for the design; onnx_importInt.h for the shared state. */
#include <math.h>
#include <string.h>

#include "onnx_importInt.h"

/* x (B, ...) -> reshape s1 -> transpose perm -> reshape to the output shape so */
static xf_status reshape_transpose_reshape(imp *m, imp_val *x, int n1, const int64_t *s1, const int *perm, int no,
                                           const int64_t *so) {
    xf_status st;
    int64_t s2[MAXD];
    for (int k = 0; k < n1; k++) s2[k] = s1[perm[k]];
    int t1, t2, out;
    const char *base = m->node->output[0];
    if ((st = xf_onnx_act_tmp(m, base, "split", n1, s1, &t1)) || (st = xf_onnx_emit_reshape(m, x->vid, t1, n1, s1))) return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_TRANSPOSE, &a);
    a.perm_n = n1;
    for (int k = 0; k < n1; k++) a.perm[k] = perm[k];
    if ((st = xf_onnx_act_tmp(m, base, "moved", n1, s2, &t2)) || (st = xf_onnx_emit(m, XF_OP_TRANSPOSE, &t1, 1, t2, &a)))
        return st;
    if ((st = xf_onnx_out_act(m, 0, no, so, &out))) return st;
    return xf_onnx_emit_reshape(m, t2, out, no, so);
}

static xf_status op_space_depth(imp *m, const char *op, imp_val *x) {
    xf_status st;
    if ((st = xf_onnx_need_rank(m, x, 4))) return st;
    const xf_value *xv = gval(m, x);
    int64_t C = xv->shape[1], H = xv->shape[2], W = xv->shape[3], bs = attr_i(m->node, "blocksize", 0);
    if (bs < 1 || bs > 4096) NERR(m, XF_ERR_FORMAT, "blocksize %lld", (long long)bs);
    if (op[0] == 'D') { /* DepthToSpace */
        if (C % (bs * bs)) NERR(m, XF_ERR_SHAPE, "%lld channels are not a multiple of blocksize^2 = %lld", (long long)C, (long long)(bs * bs));
        int64_t Cq = C / (bs * bs), so[4] = {-1, Cq, H * bs, W * bs};
        int crd = attr_s(m->node, "mode", "CRD");
        if (attr(m->node, "mode") && !crd && !attr_s(m->node, "mode", "DCR")) NERR(m, XF_ERR_UNSUPPORTED, "mode must be DCR or CRD");
        if (crd) { /* (B, C', bs, bs, H, W) -> (B, C', H, bs, W, bs) */
            int64_t s1[6] = {-1, Cq, bs, bs, H, W};
            static const int perm[6] = {0, 1, 4, 2, 5, 3};
            return reshape_transpose_reshape(m, x, 6, s1, perm, 4, so);
        }
        int64_t s1[6] = {-1, bs, bs, Cq, H, W}; /* DCR: (B, bs, bs, C', H, W) -> (B, C', H, bs, W, bs) */
        static const int perm[6] = {0, 3, 4, 1, 5, 2};
        return reshape_transpose_reshape(m, x, 6, s1, perm, 4, so);
    }
    if (H % bs || W % bs) NERR(m, XF_ERR_SHAPE, "%lldx%lld input is not a multiple of blocksize %lld", (long long)H, (long long)W, (long long)bs);
    /* (B, C, H/bs, bs, W/bs, bs) -> (B, bs, bs, C, H/bs, W/bs) */
    int64_t s1[6] = {-1, C, H / bs, bs, W / bs, bs}, so[4] = {-1, C * bs * bs, H / bs, W / bs};
    static const int perm[6] = {0, 3, 5, 1, 2, 4};
    return reshape_transpose_reshape(m, x, 6, s1, perm, 4, so);
}

static xf_status op_upsample(imp *m, imp_val *x) {
    xf_status st;
    if (m->opset < 7) NERR(m, XF_ERR_UNSUPPORTED, "Upsample before opset 7 (height_scale/width_scale form) is not supported");
    if ((st = xf_onnx_need_rank(m, x, 4))) return st;
    if (attr(m->node, "mode") && !attr_s(m->node, "mode", "nearest"))
        NERR(m, XF_ERR_UNSUPPORTED, "only mode 'nearest' is supported");
    float sc[4];
    if (m->opset < 9) {
        const Onnx__AttributeProto *a = attr(m->node, "scales");
        if (!a || a->n_floats != 4) NERR(m, XF_ERR_FORMAT, "scales must have 4 entries");
        for (int k = 0; k < 4; k++) sc[k] = a->floats[k];
    } else {
        imp_val *s = xf_onnx_in_val(m, 1);
        if (!s || !is_const(s) || s->n != 4) NERR(m, XF_ERR_UNSUPPORTED, "scales must be a constant of 4 values");
        for (int k = 0; k < 4; k++) sc[k] = s->is_int ? (float)s->i[k] : s->f[k];
    }
    if (sc[0] != 1.0f || sc[1] != 1.0f) NERR(m, XF_ERR_UNSUPPORTED, "scaling the batch or channel dimension");
    int64_t f[2];
    for (int k = 0; k < 2; k++) {
        if (!(sc[2 + k] >= 1.0f && sc[2 + k] <= 64.0f) || sc[2 + k] != floorf(sc[2 + k]))
            NERR(m, XF_ERR_UNSUPPORTED, "scale %g: only whole factors 1..64 on H and W are supported", sc[2 + k]);
        f[k] = (int64_t)sc[2 + k];
    }
    const xf_value *xv = gval(m, x);
    int64_t C = xv->shape[1], H = xv->shape[2], W = xv->shape[3];
    int64_t s1[6] = {-1, C, H, 1, W, 1}, s2[6] = {-1, C, H, f[0], W, f[1]}, so[4] = {-1, C, H * f[0], W * f[1]};
    int64_t od[6] = {1, 1, 1, f[0], 1, f[1]};
    float *ones = xf_malloc(m->ctx, (size_t)(f[0] * f[1]) * sizeof *ones);
    if (!ones) return XF_ERR_NOMEM;
    for (int64_t k = 0; k < f[0] * f[1]; k++) ones[k] = 1.0f;
    const char *base = m->node->output[0];
    int c1, t1, t2, out;
    st = xf_onnx_param_new(m, base, "ones", 6, od, ones, &c1);
    xf_free(m->ctx, ones);
    if (st) return st;
    m->g->values[c1].trainable = 0;
    if ((st = xf_onnx_act_tmp(m, base, "split", 6, s1, &t1)) || (st = xf_onnx_emit_reshape(m, x->vid, t1, 6, s1)) ||
        (st = xf_onnx_act_tmp(m, base, "repeated", 6, s2, &t2)))
        return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_MUL, &a);
    int in[2] = {t1, c1};
    if ((st = xf_onnx_emit(m, XF_OP_MUL, in, 2, t2, &a))) return st;
    if ((st = xf_onnx_out_act(m, 0, 4, so, &out))) return st;
    return xf_onnx_emit_reshape(m, t2, out, 4, so);
}

static xf_status op_prelu(imp *m, imp_val *x) {
    xf_status st;
    if ((st = xf_onnx_need_rank(m, x, 0))) return st;
    imp_val *s = xf_onnx_in_val(m, 1);
    if (!s || !is_const(s) || s->is_int) NERR(m, XF_ERR_UNSUPPORTED, "slope must be a constant float tensor");
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    int64_t C = nd >= 2 ? xv->shape[1] : 1;
    /* numpy-aligned: the slope's dims end with X's; per channel iff its only non-1
     * dimension lands on X's dimension 1 */
    int per_channel = s->n == C && s->ndim <= nd - 1 && C > 1;
    for (int k = 0; per_channel && k < s->ndim; k++) {
        int xd = nd - s->ndim + k;
        per_channel = xd == 1 ? s->dims[k] == C : s->dims[k] == 1;
    }
    /* before opset 7 (no broadcasting yet) C slope values are one per channel */
    if (m->opset < 7 && s->n == C && C > 1) per_channel = 1;
    if (s->n != 1 && !per_channel)
        NERR(m, XF_ERR_UNSUPPORTED, "slope of %lld values: only one value or one per channel (shape (C, 1, ...)) is supported",
             (long long)s->n);
    int in[2] = {x->vid, -1}, out;
    /* stored as (C, 1, ..., 1): the engine reads it per channel, an opset-13 export as is */
    int64_t sd[MAXD];
    int sr = s->n == 1 ? 1 : nd - 1;
    for (int k = 0; k < sr; k++) sd[k] = k ? 1 : s->n;
    if ((st = xf_onnx_param_new(m, s->name, "slope", sr, sd, s->f, &in[1]))) return st;
    if ((st = xf_onnx_out_act(m, 0, nd, xv->shape, &out))) return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_PRELU, &a);
    return xf_onnx_emit(m, XF_OP_PRELU, in, 2, out, &a);
}

static xf_status op_convtranspose(imp *m, imp_val *x) {
    xf_status st;
    const Onnx__NodeProto *n = m->node;
    if ((st = xf_onnx_need_rank(m, x, 0))) return st;
    xf_value xcopy = *gval(m, x);
    if (xcopy.ndim != 4) NERR(m, XF_ERR_UNSUPPORTED, "only 2-D transposed convolution on NCHW input is supported (input rank %d)", xcopy.ndim);
    if (attr(n, "output_shape")) NERR(m, XF_ERR_UNSUPPORTED, "output_shape is not supported (give pads and output_padding)");
    if (attr(n, "auto_pad") && !attr_s(n, "auto_pad", "NOTSET")) NERR(m, XF_ERR_UNSUPPORTED, "auto_pad is not supported");
    imp_val *w = xf_onnx_in_val(m, 1), *b = xf_onnx_in_val(m, 2);
    if (!w || !is_const(w) || w->ndim != 4) NERR(m, XF_ERR_UNSUPPORTED, "weights must be a constant 4-D tensor");
    xf_node_attr a;
    xf_node_attr_default(XF_OP_CONVTRANSPOSE, &a);
    a.group = attr_i(n, "group", 1);
    int64_t C = xcopy.shape[1];
    if (a.group < 1 || C % a.group || w->dims[0] != C)
        NERR(m, XF_ERR_SHAPE, "weights %lldx%lld for %lld input channels in %lld groups", (long long)w->dims[0],
             (long long)w->dims[1], (long long)C, (long long)a.group);
    int64_t M = w->dims[1] * a.group;
    if (b && (!is_const(b) || b->n != M)) NERR(m, XF_ERR_SHAPE, "bias must be a constant of %lld values", (long long)M);
    a.kernel[0] = w->dims[2];
    a.kernel[1] = w->dims[3];
    int cnt;
    const int64_t *v = attr_ints(n, "kernel_shape", &cnt);
    if (cnt >= 0 && (cnt != 2 || v[0] != a.kernel[0] || v[1] != a.kernel[1])) NERR(m, XF_ERR_SHAPE, "kernel_shape does not match the weights");
    static const char *names[4] = {"strides", "dilations", "output_padding", "pads"};
    int64_t *dst[4] = {a.stride, a.dilation, a.out_pad, a.pads};
    for (int j = 0; j < 4; j++) {
        v = attr_ints(n, names[j], &cnt);
        int want = j == 3 ? 4 : 2;
        if (cnt >= 0 && cnt != want) NERR(m, XF_ERR_FORMAT, "%s must have %d entries", names[j], want);
        for (int k = 0; k < cnt; k++) {
            if (v[k] < (j < 2 ? 1 : 0) || v[k] > 65536) NERR(m, XF_ERR_FORMAT, "%s out of range", names[j]);
            dst[j][k] = v[k];
        }
    }
    int64_t s[4] = {-1, M, 0, 0};
    for (int k = 0; k < 2; k++) {
        if (a.out_pad[k] >= a.stride[k] && a.out_pad[k] >= a.dilation[k])
            NERR(m, XF_ERR_FORMAT, "output_padding %lld must be below the stride or the dilation", (long long)a.out_pad[k]);
        s[2 + k] = a.stride[k] * (xcopy.shape[2 + k] - 1) + a.out_pad[k] + a.dilation[k] * (a.kernel[k] - 1) + 1 -
                   a.pads[k] - a.pads[k + 2];
        if (s[2 + k] < 1) NERR(m, XF_ERR_SHAPE, "pads leave an empty output");
    }
    int in[3] = {x->vid, -1, -1}, nin = 2, out;
    if ((st = xf_onnx_materialize(m, w, &in[1]))) return st;
    if (b) {
        if ((st = xf_onnx_materialize(m, b, &in[2]))) return st;
        nin = 3;
    }
    if ((st = xf_onnx_out_act(m, 0, 4, s, &out))) return st;
    return xf_onnx_emit(m, XF_OP_CONVTRANSPOSE, in, nin, out, &a);
}

static xf_status op_reduce(imp *m, const char *op, imp_val *x) {
    xf_status st;
    const Onnx__NodeProto *n = m->node;
    if ((st = xf_onnx_need_rank(m, x, 0))) return st;
    int sum = !strcmp(op, "ReduceSum");
    const int64_t *ax;
    int na;
    if (m->opset >= (sum ? 13 : 18)) {
        if ((st = xf_onnx_in_ints(m, 1, &ax, &na, 0))) return st;
    } else
        ax = attr_ints(n, "axes", &na);
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    if (na <= 0) {
        if (attr_i(n, "noop_with_empty_axes", 0)) { /* an alias */
            return xf_onnx_alias(m, x);
        }
        NERR(m, XF_ERR_UNSUPPORTED, "reducing over every axis includes the batch dimension");
    }
    xf_node_attr a;
    xf_node_attr_default(sum ? XF_OP_REDUCESUM : XF_OP_REDUCEMEAN, &a);
    for (int k = 0; k < na; k++) {
        int64_t q = norm_axis(ax[k], nd);
        if (q < 0 || q >= nd) NERR(m, XF_ERR_FORMAT, "axis %lld out of range for rank %d", (long long)ax[k], nd);
        if (q == 0) NERR(m, XF_ERR_UNSUPPORTED, "reducing over the batch dimension (axis 0)");
        a.axes_mask |= 1u << q;
    }
    a.keepdims = attr_i(n, "keepdims", 1) != 0;
    int64_t s[MAXD];
    int no = 0;
    for (int k = 0; k < nd; k++) {
        if (!(a.axes_mask >> k & 1u)) s[no++] = xv->shape[k];
        else if (a.keepdims) s[no++] = 1;
    }
    int in = x->vid, out;
    if ((st = xf_onnx_out_act(m, 0, no, s, &out))) return st;
    return xf_onnx_emit(m, sum ? XF_OP_REDUCESUM : XF_OP_REDUCEMEAN, &in, 1, out, &a);
}

static xf_status op_flatten_inner(imp *m, imp_val *x, int64_t ax) {
    xf_status st;
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    int64_t s[3] = {-1, prod(xv->shape + 1, (int)ax - 1), prod(xv->shape + ax, nd - (int)ax)};
    imp_val *v;
    if ((st = xf_onnx_act_new(m, m->node->output[0], 3, s, &v))) return st;
    v->batch_merged = 1;
    return xf_onnx_emit_reshape(m, x->vid, v->vid, 3, s);
}

xf_status xf_onnx_import_classic(imp *m, const char *op, imp_val *x, int *handled) {
    const Onnx__NodeProto *n = m->node;
    *handled = 1;
    static const struct { const char *name; xf_op op; } smooth[] = {
        {"Tanh", XF_OP_TANH}, {"Elu", XF_OP_ELU}, {"Celu", XF_OP_CELU}, {"Selu", XF_OP_SELU}, {"Erf", XF_OP_ERF}};
    for (size_t k = 0; k < sizeof smooth / sizeof *smooth; k++)
        if (!strcmp(op, smooth[k].name)) {
            xf_node_attr a;
            xf_node_attr_default(smooth[k].op, &a);
            if (smooth[k].op == XF_OP_SELU) {
                a.alpha = attr_f(n, "alpha", a.alpha);
                a.beta = attr_f(n, "gamma", a.beta);
            } else
                a.alpha = attr_f(n, "alpha", 1.0f);
            if (smooth[k].op == XF_OP_CELU && !(a.alpha != 0.0f)) NERR(m, XF_ERR_FORMAT, "alpha must be non-zero");
            return xf_onnx_unary(m, smooth[k].op, x, &a);
        }
    if (!strcmp(op, "LRN")) {
        xf_node_attr a;
        xf_node_attr_default(XF_OP_LRN, &a);
        a.size = attr_i(n, "size", 0);
        a.alpha = attr_f(n, "alpha", a.alpha);
        a.beta = attr_f(n, "beta", a.beta);
        a.bias = attr_f(n, "bias", a.bias);
        if (a.size < 1 || a.size > 65536) NERR(m, XF_ERR_FORMAT, "size %lld out of 1..65536", (long long)a.size);
        if (!(a.bias > 0.0f) || !(a.alpha >= 0.0f)) NERR(m, XF_ERR_FORMAT, "bias must be > 0 and alpha >= 0");
        xf_status st = xf_onnx_need_rank(m, x, 0);
        if (st) return st;
        if (gval(m, x)->ndim < 3) NERR(m, XF_ERR_UNSUPPORTED, "input rank %d (N, C, spatial... expected)", gval(m, x)->ndim);
        return xf_onnx_unary(m, XF_OP_LRN, x, &a);
    }
    if (!strcmp(op, "PRelu")) return op_prelu(m, x);
    if (!strcmp(op, "ConvTranspose")) return op_convtranspose(m, x);
    if (!strcmp(op, "DepthToSpace") || !strcmp(op, "SpaceToDepth")) return op_space_depth(m, op, x);
    if (!strcmp(op, "Upsample")) return op_upsample(m, x);
    if (!strcmp(op, "ReduceMean") || !strcmp(op, "ReduceSum")) return op_reduce(m, op, x);
    if (!strcmp(op, "GlobalMaxPool")) {
        xf_status st = xf_onnx_need_rank(m, x, 4);
        if (st) return st;
        const xf_value *xv = gval(m, x);
        xf_node_attr a;
        xf_node_attr_default(XF_OP_MAXPOOL, &a);
        a.kernel[0] = xv->shape[2];
        a.kernel[1] = xv->shape[3];
        int64_t s[4] = {-1, xv->shape[1], 1, 1};
        int in = x->vid, out;
        if ((st = xf_onnx_out_act(m, 0, 4, s, &out))) return st;
        return xf_onnx_emit(m, XF_OP_MAXPOOL, &in, 1, out, &a);
    }
    if (!strcmp(op, "Flatten")) { /* axis past 1 (onnx_import_ops.c takes axis 1) */
        xf_status st = xf_onnx_need_rank(m, x, 0);
        if (st) return st;
        int nd = gval(m, x)->ndim;
        int64_t ax = norm_axis(attr_i(n, "axis", 1), nd);
        if (ax < 0 || ax > nd) NERR(m, XF_ERR_FORMAT, "axis out of range");
        if (ax == 0) NERR(m, XF_ERR_UNSUPPORTED, "flatten at axis 0 would merge the batch dimension into one row");
        return op_flatten_inner(m, x, ax);
    }
    *handled = 0;
    return XF_OK;
}
