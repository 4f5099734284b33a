/* Softmax and LogSoftmax over one axis (ONNX opset >= 13 semantics), forward and backward, and the
 * softmax cross-entropy loss that seeds training.
 *
 * Numerics: max-shifted exponentials, sums in double. Backward of y = softmax(x):
 * dx = y * (dy - sum(dy * y)) along the axis. Loss: mean over the batch of
 * logsumexp(z) - z_label; its gradient is (softmax(z) - onehot) / B. */
#include <math.h>

#include "nn/nnInt.h"

void xf_nn_softmax_rows(float *x, int64_t B, int64_t K) {
    for (int64_t i = 0; i < B; i++) {
        float *r = x + i * K;
        float m = r[0];
        for (int64_t j = 1; j < K; j++) if (r[j] > m) m = r[j];
        double s = 0;
        for (int64_t j = 0; j < K; j++) s += exp((double)r[j] - m);
        for (int64_t j = 0; j < K; j++) r[j] = (float)(exp((double)r[j] - m) / s);
    }
}

xf_status xf_nn_softmax_xent(xf_ctx_t *ctx, const float *logits, int64_t B, int64_t K, const int32_t *labels,
                             double *loss, int64_t *correct, float *dlogits) {
    double tot = 0;
    int64_t corr = 0;
    for (int64_t i = 0; i < B; i++) {
        if (labels[i] < 0 || labels[i] >= K)
            return XF_ERR(ctx, XF_ERR_INVALID, "loss: label %d of sample %lld outside 0..%lld", (int)labels[i],
                          (long long)i, (long long)(K - 1));
        const float *r = logits + i * K;
        float m = r[0];
        int64_t am = 0;
        for (int64_t j = 1; j < K; j++)
            if (r[j] > m) { m = r[j]; am = j; }
        if (!isfinite(m)) return XF_ERR(ctx, XF_ERR_NUMERIC, "loss: non-finite logits in sample %lld", (long long)i);
        double s = 0;
        for (int64_t j = 0; j < K; j++) s += exp((double)r[j] - m);
        tot += log(s) + m - r[labels[i]];
        if (am == labels[i]) corr++;
        if (dlogits)
            for (int64_t j = 0; j < K; j++)
                dlogits[i * K + j] = (float)((exp((double)r[j] - m) / s - (j == labels[i] ? 1.0 : 0.0)) / (double)B);
    }
    if (loss) *loss = B > 0 ? tot / (double)B : 0.0;
    if (correct) *correct = corr;
    return XF_OK;
}

static int sm_axis(const xf_node *n, int nd) { return (int)(n->attr.axis < 0 ? n->attr.axis + nd : n->attr.axis); }

static xf_status softmax_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    int ax = sm_axis(n, in[0]->nd);
    if (ax < 1 || ax >= in[0]->nd) return NN_SHAPE_ERR(ctx, n, "axis %lld must be in 1..rank-1", (long long)n->attr.axis);
    out[0] = *in[0];
    return XF_OK;
}

static void sm_dims(const nn_kctx *kc, const nn_t *y, int64_t *outer, int64_t *len, int64_t *inner) {
    int ax = sm_axis(kc->node, y->nd);
    *outer = nn_shape_numel(ax, y->s);
    *len = y->s[ax];
    *inner = nn_shape_numel(y->nd - ax - 1, y->s + ax + 1);
}

/* Both forwards share the max shift and the sum of exponentials in double; they differ only in
 * what they write: exp(a - m) / s (softmax) or a - m - log s (log-softmax). */
static void sm_forward(nn_kctx *kc, const nn_t *const *x, nn_t *y, int log_out) {
    int64_t outer, len, inner;
    sm_dims(kc, y, &outer, &len, &inner);
    const float *X = x[0]->d;
    float *Y = y->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *a = X + o * len * inner + i;
            float *b = Y + o * len * inner + i;
            float m = a[0];
            for (int64_t j = 1; j < len; j++) if (a[j * inner] > m) m = a[j * inner];
            double s = 0;
            for (int64_t j = 0; j < len; j++) s += exp((double)a[j * inner] - m);
            if (log_out) {
                double ls = log(s);
                for (int64_t j = 0; j < len; j++) b[j * inner] = (float)((double)a[j * inner] - m - ls);
            } else {
                for (int64_t j = 0; j < len; j++) b[j * inner] = (float)(exp((double)a[j * inner] - m) / s);
            }
        }
}

static xf_status softmax_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    sm_forward(kc, x, y, 0);
    return XF_OK;
}

/* Both backwards share the loop; along the axis, softmax: dx = y (dy - sum(dy y));
 * log-softmax (y = log p): dx = dy - exp(y) sum(dy). */
static void sm_backward(nn_kctx *kc, const nn_t *y, const float *dy, float *G, int log_out) {
    int64_t outer, len, inner;
    sm_dims(kc, y, &outer, &len, &inner);
    const float *Y = y->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double s = 0;
            if (log_out) {
                for (int64_t j = 0; j < len; j++) s += dy[base + j * inner];
                for (int64_t j = 0; j < len; j++) {
                    int64_t t = base + j * inner;
                    G[t] += (float)(dy[t] - exp((double)Y[t]) * s);
                }
            } else {
                for (int64_t j = 0; j < len; j++) s += (double)dy[base + j * inner] * Y[base + j * inner];
                for (int64_t j = 0; j < len; j++) {
                    int64_t t = base + j * inner;
                    G[t] += (float)(Y[t] * (dy[t] - s));
                }
            }
        }
}

static xf_status softmax_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    (void)x;
    if (dx[0]) sm_backward(kc, y, dy, dx[0], 0);
    return XF_OK;
}

const nn_opdef xf_nn_op_softmax = {softmax_shape, softmax_fwd, softmax_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- LogSoftmax: y = x - max - log sum exp(x - max); dx = dy - softmax(x) * sum(dy) ---- */
static xf_status logsoftmax_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    sm_forward(kc, x, y, 1);
    return XF_OK;
}
static xf_status logsoftmax_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    (void)x;
    if (dx[0]) sm_backward(kc, y, dy, dx[0], 1);
    return XF_OK;
}
const nn_opdef xf_nn_op_logsoftmax = {softmax_shape, logsoftmax_fwd, logsoftmax_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};
