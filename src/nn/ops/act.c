/* Activations, forward and backward: Relu, Clip (ReLU6 = Clip(0, 6)), Sigmoid, Gelu
 * (exact erf form and the tanh approximation, Hendrycks & Gimpel 2016, eq. in sec. 2).
 * Elementwise loops split over threads; these kernels are their own reference (one
 * plain loop each). Gradients at the kinks follow PyTorch: relu'(0) = 0, clip passes
 * the gradient only strictly inside (min, max). In training the executor fuses a Relu /
 * Clip into the norm or Add before it where it can (nn_kctx.act); these run otherwise. */
#include <math.h>

#include "nn/nnInt.h"

static xf_status shape_same(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    out[0] = *in[0];
    return XF_OK;
}

/* ---- Relu ---- */
static xf_status relu_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const float *a = x[0]->d;
    float *b = y->d;
    int64_t n = nn_numel(y);
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) b[i] = a[i] > 0.0f ? a[i] : 0.0f;
    return XF_OK;
}
static xf_status relu_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    const float *a = x[0]->d;
    float *g = dx[0];
    int64_t n = nn_numel(y);
    if (kc->set & 1u) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t i = 0; i < n; i++) g[i] = a[i] > 0.0f ? dy[i] : 0.0f;
        return XF_OK;
    }
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++)
        if (a[i] > 0.0f) g[i] += dy[i];
    return XF_OK;
}
const nn_opdef xf_nn_op_relu = {shape_same, relu_fwd, relu_bwd, NULL, NULL, 0, 0, 1, 1, 1u, 0};

/* ---- Clip ---- */
static xf_status clip_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const float *a = x[0]->d;
    float *b = y->d;
    float lo = kc->node->attr.min, hi = kc->node->attr.max;
    int64_t n = nn_numel(y);
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = a[i];
        b[i] = v < lo ? lo : (v > hi ? hi : v);
    }
    return XF_OK;
}
static xf_status clip_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    const float *a = x[0]->d;
    float *g = dx[0];
    float lo = kc->node->attr.min, hi = kc->node->attr.max;
    int64_t n = nn_numel(y);
    if (kc->set & 1u) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t i = 0; i < n; i++) g[i] = (a[i] > lo && a[i] < hi) ? dy[i] : 0.0f;
        return XF_OK;
    }
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++)
        if (a[i] > lo && a[i] < hi) g[i] += dy[i];
    return XF_OK;
}
static xf_status clip_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (!(n->attr.min <= n->attr.max)) return NN_SHAPE_ERR(ctx, n, "min %g > max %g", n->attr.min, n->attr.max);
    out[0] = *in[0];
    return XF_OK;
}
const nn_opdef xf_nn_op_clip = {clip_shape, clip_fwd, clip_bwd, NULL, NULL, 0, 0, 1, 1, 1u, 0};

/* ---- Sigmoid ---- */
static xf_status sigmoid_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const float *a = x[0]->d;
    float *b = y->d;
    int64_t n = nn_numel(y);
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) b[i] = 1.0f / (1.0f + expf(-a[i]));
    return XF_OK;
}
static xf_status sigmoid_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    const float *s = y->d;
    float *g = dx[0];
    int64_t n = nn_numel(y);
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) g[i] += dy[i] * s[i] * (1.0f - s[i]);
    return XF_OK;
}
const nn_opdef xf_nn_op_sigmoid = {shape_same, sigmoid_fwd, sigmoid_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- Gelu ----
 * exact: x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2; d/dx = Phi(x) + x phi(x).
 * tanh:  0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
 *        d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2). */
#define GELU_C 0.7978845608028654 /* sqrt(2/pi) */
static xf_status gelu_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const float *a = x[0]->d;
    float *b = y->d;
    int64_t n = nn_numel(y);
    int th = kc->node->attr.gelu_tanh;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double v = a[i];
        if (th) b[i] = (float)(0.5 * v * (1.0 + tanh(GELU_C * (v + 0.044715 * v * v * v))));
        else b[i] = (float)(0.5 * v * (1.0 + erf(v * 0.7071067811865476)));
    }
    return XF_OK;
}
static xf_status gelu_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    const float *a = x[0]->d;
    float *g = dx[0];
    int64_t n = nn_numel(y);
    int th = kc->node->attr.gelu_tanh;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double v = a[i], d;
        if (th) {
            double t = tanh(GELU_C * (v + 0.044715 * v * v * v));
            d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * v * v);
        } else {
            d = 0.5 * (1.0 + erf(v * 0.7071067811865476)) + v * exp(-0.5 * v * v) * 0.3989422804014327;
        }
        g[i] += (float)(dy[i] * d);
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_gelu = {shape_same, gelu_fwd, gelu_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};
