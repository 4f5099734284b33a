/* Smooth activations, forward and backward: Tanh, Elu, Celu, Selu, Erf (one elementwise
 * kernel switched on the op), and PRelu with one slope per channel (or one for all).
 * Formulas (ONNX operator definitions; derivatives by hand):
 *   Tanh  y = tanh x                                   y' = 1 - y^2
 *   Elu   y = x (x > 0), a (e^x - 1)                   y' = 1, a e^x
 *   Celu  y = max(0, x) + min(0, a (e^(x/a) - 1))      y' = 1, e^(x/a)        (Barron 2017, eq. 1)
 *   Selu  y = g x (x > 0), g a (e^x - 1)               y' = g, g a e^x        (Klambauer et al. 2017, eq. 2)
 *   Erf   y = erf x                                    y' = 2/sqrt(pi) e^(-x^2)
 *   PRelu y = x (x > 0), s_c x                         dy/dx = 1, s_c; dy/ds_c = x (x <= 0)  (He et al. 2015, eq. 1)
 * Evaluated in double, stored in float; the derivative at 0 takes the x <= 0 branch, as
 * PyTorch does. These loops are their own reference kernels. */
#include <math.h>

#include "nn/nnInt.h"

static double smooth_f(xf_op op, double x, double a, double g) {
    switch (op) {
    case XF_OP_TANH: return tanh(x);
    case XF_OP_ELU: return x > 0 ? x : a * expm1(x);
    case XF_OP_CELU: return x > 0 ? x : a * expm1(x / a);
    case XF_OP_SELU: return g * (x > 0 ? x : a * expm1(x));
    default: return erf(x);
    }
}
static double smooth_df(xf_op op, double x, double a, double g) {
    switch (op) {
    case XF_OP_TANH: { double t = tanh(x); return 1.0 - t * t; }
    case XF_OP_ELU: return x > 0 ? 1.0 : a * exp(x);
    case XF_OP_CELU: return x > 0 ? 1.0 : exp(x / a);
    case XF_OP_SELU: return g * (x > 0 ? 1.0 : a * exp(x));
    default: return 1.1283791670955126 * exp(-x * x); /* 2 / sqrt(pi) */
    }
}

static xf_status smooth_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (n->op == XF_OP_CELU && !(n->attr.alpha != 0.0f))
        return NN_SHAPE_ERR(ctx, n, "alpha must be non-zero (it divides x)");
    out[0] = *in[0];
    return XF_OK;
}
static xf_status smooth_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const float *a = x[0]->d;
    float *b = y->d;
    int64_t n = nn_numel(y);
    xf_op op = kc->node->op;
    double al = kc->node->attr.alpha, ga = kc->node->attr.beta;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) b[i] = (float)smooth_f(op, a[i], al, ga);
    return XF_OK;
}
static xf_status smooth_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    const float *a = x[0]->d;
    float *g = dx[0];
    int64_t n = nn_numel(y);
    xf_op op = kc->node->op;
    double al = kc->node->attr.alpha, ga = kc->node->attr.beta;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) g[i] += (float)(dy[i] * smooth_df(op, a[i], al, ga));
    return XF_OK;
}
const nn_opdef xf_nn_op_smooth = {smooth_shape, smooth_fwd, smooth_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- PRelu: x (B, C, ...), slope (1) or (C) per channel ---- */
static xf_status prelu_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    int64_t ns = nn_numel(in[1]);
    if (in[0]->nd < 2 && ns != 1) return NN_SHAPE_ERR(ctx, n, "a per-channel slope needs an input of rank >= 2");
    if (ns != 1 && ns != in[0]->s[1])
        return NN_SHAPE_ERR(ctx, n, "slope has %lld values for %lld channels (1 or one per channel)", (long long)ns,
                            (long long)in[0]->s[1]);
    out[0] = *in[0];
    return XF_OK;
}
/* (outer, C, inner) view of x for the slope index */
static void prelu_dims(const nn_t *x, int64_t ns, int64_t *B, int64_t *C, int64_t *inner) {
    *B = x->s[0];
    *C = x->nd >= 2 ? x->s[1] : 1;
    *inner = x->nd >= 2 ? nn_shape_numel(x->nd - 2, x->s + 2) : 1;
    if (ns == 1) *inner *= *C, *C = 1;
}
static xf_status prelu_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t B, C, I;
    prelu_dims(x[0], nn_numel(x[1]), &B, &C, &I);
    const float *a = x[0]->d, *s = x[1]->d;
    float *b = y->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t bc = 0; bc < B * C; bc++) {
        float sl = s[bc % C];
        const float *p = a + bc * I;
        float *q = b + bc * I;
        for (int64_t i = 0; i < I; i++) q[i] = p[i] > 0.0f ? p[i] : sl * p[i];
    }
    return XF_OK;
}
static xf_status prelu_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t B, C, I;
    prelu_dims(x[0], nn_numel(x[1]), &B, &C, &I);
    const float *a = x[0]->d, *s = x[1]->d;
    if (dx[0]) {
        float *g = dx[0];
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t bc = 0; bc < B * C; bc++) {
            float sl = s[bc % C];
            for (int64_t i = bc * I; i < (bc + 1) * I; i++) g[i] += a[i] > 0.0f ? dy[i] : sl * dy[i];
        }
    }
    if (dx[1]) /* sum over the batch and positions, per channel; serial over channels' sums */
        for (int64_t c = 0; c < C; c++) {
            double acc = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = (b * C + c) * I; i < (b * C + c + 1) * I; i++)
                    if (a[i] <= 0.0f) acc += (double)a[i] * dy[i];
            dx[1][c] += (float)acc;
        }
    return XF_OK;
}
const nn_opdef xf_nn_op_prelu = {prelu_shape, prelu_fwd, prelu_bwd, NULL, NULL, 2u, 2u, 2, 2, 0, 0};
