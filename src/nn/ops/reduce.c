/* ReduceMean / ReduceSum over any set of non-batch dimensions (attr.axes_mask, bit k for
 * dimension k; ONNX's axes), keeping the reduced dimensions as 1 or dropping them
 * (keepdims). Forward: y[o(i)] += x[i] (times 1/count for the mean), where o(i) is the
 * flat output index of input element i with the reduced coordinates removed; backward:
 * dx[i] += dy[o(i)] (times 1/count). Sums in double. One plain kernel, the reference:
 * these ops sit in heads (global pooling written as a mean over H and W comes in as
 * GlobalAveragePool at import), never in the hot path. */
#include "nn/nnInt.h"

static xf_status reduce_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    unsigned m = n->attr.axes_mask;
    int nd = in[0]->nd;
    if (m & 1u) return NN_SHAPE_ERR(ctx, n, "cannot reduce over the batch dimension");
    if (!m || (m >> nd)) return NN_SHAPE_ERR(ctx, n, "axes mask 0x%x for rank %d", m, nd);
    memset(&out[0], 0, sizeof out[0]);
    for (int k = 0; k < nd; k++) {
        if (!(m >> k & 1u)) out[0].s[out[0].nd++] = in[0]->s[k];
        else if (n->attr.keepdims) out[0].s[out[0].nd++] = 1;
    }
    return XF_OK;
}

/* strides of the output for each input dimension (0 for reduced ones) and the count */
static int64_t reduce_strides(const xf_node *n, const nn_t *x, int64_t *ost) {
    unsigned m = n->attr.axes_mask;
    int64_t s = 1, cnt = 1;
    for (int k = x->nd - 1; k >= 0; k--) {
        if (m >> k & 1u) { ost[k] = 0; cnt *= x->s[k]; }
        else { ost[k] = s; s *= x->s[k]; }
    }
    return cnt;
}

static xf_status reduce_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t ost[XF_NN_MAXDIM], idx[XF_NN_MAXDIM] = {0};
    int64_t cnt = reduce_strides(kc->node, x[0], ost), ny = nn_numel(y), nx = nn_numel(x[0]);
    int nd = x[0]->nd;
    double *acc = (double *)kc->scratch;
    for (int64_t o = 0; o < ny; o++) acc[o] = 0;
    int64_t o = 0;
    for (int64_t i = 0; i < nx; i++) {
        acc[o] += x[0]->d[i];
        for (int k = nd - 1; k >= 0; k--) { /* odometer step, keeping o in step */
            o += ost[k];
            if (++idx[k] < x[0]->s[k]) break;
            o -= ost[k] * idx[k];
            idx[k] = 0;
        }
    }
    double sc = kc->node->op == XF_OP_REDUCEMEAN ? 1.0 / (double)cnt : 1.0;
    for (int64_t q = 0; q < ny; q++) y->d[q] = (float)(acc[q] * sc);
    return XF_OK;
}
static xf_status reduce_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    int64_t ost[XF_NN_MAXDIM], idx[XF_NN_MAXDIM] = {0};
    int64_t cnt = reduce_strides(kc->node, x[0], ost), nx = nn_numel(x[0]);
    int nd = x[0]->nd;
    float sc = kc->node->op == XF_OP_REDUCEMEAN ? (float)(1.0 / (double)cnt) : 1.0f;
    int64_t o = 0;
    for (int64_t i = 0; i < nx; i++) {
        dx[0][i] += dy[o] * sc;
        for (int k = nd - 1; k >= 0; k--) {
            o += ost[k];
            if (++idx[k] < x[0]->s[k]) break;
            o -= ost[k] * idx[k];
            idx[k] = 0;
        }
    }
    return XF_OK;
}
static size_t reduce_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return (size_t)(2 * nn_numel(y)); /* doubles */
}
const nn_opdef xf_nn_op_reduce = {reduce_shape, reduce_fwd, reduce_bwd, reduce_scratch, NULL, 0, 0, 1, 1, 0, 0};
