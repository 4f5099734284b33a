/* Normalisation ops, forward and backward: BatchNormalization (inference with running
 * statistics; training with batch statistics and the running update), GroupNormalization
 * (per-channel scale and bias, as opset 21 / torch.nn.GroupNorm) and
 * InstanceNormalization (GroupNorm with one channel per group).
 *
 * BatchNorm (Ioffe & Szegedy 2015, Alg. 1 and 2): training normalises with the biased
 * batch variance and updates running = m * running + (1 - m) * batch with the unbiased
 * variance (ONNX momentum m; PyTorch's momentum is 1 - m). Backward, per channel with
 * M = N*H*W elements and xhat = (x - mean) * invstd:
 *   dgamma = sum dy xhat,  dbeta = sum dy,
 *   dx = gamma invstd / M * (M dy - dbeta - xhat dgamma).
 * GroupNorm (Wu & He 2018) uses the same formula per (sample, group). Statistics are
 * accumulated in double; saved state: mean and invstd per channel / (sample, group). */
#include <math.h>

#include "nn/nnInt.h"

/* Plane reductions with 8 float lanes (vectorisable without reassociation flags); each
 * plane is short (H*W), and planes are summed in double by the callers. */
static double psum(const float *p, int64_t n) {
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += p[i + j];
    double s = 0;
    for (; i < n; i++) s += p[i];
    for (int j = 0; j < 8; j++) s += a[j];
    return s;
}
static double psqdev(const float *p, int64_t n, float m) {
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            float d = p[i + j] - m;
            a[j] += d * d;
        }
    double s = 0;
    for (; i < n; i++) s += (double)(p[i] - m) * (p[i] - m);
    for (int j = 0; j < 8; j++) s += a[j];
    return s;
}
/* sum g * (p - m) */
static double pdotdev(const float *g, const float *p, int64_t n, float m) {
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += g[i + j] * (p[i + j] - m);
    double s = 0;
    for (; i < n; i++) s += (double)g[i] * (p[i] - m);
    for (int j = 0; j < 8; j++) s += a[j];
    return s;
}

/* ---- BatchNormalization ---- */
static xf_status bn_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->nd < 2) return NN_SHAPE_ERR(ctx, n, "input rank %d (need >= 2)", in[0]->nd);
    int64_t C = in[0]->s[1];
    for (int i = 1; i < 5; i++)
        if (nn_numel(in[i]) != C)
            return NN_SHAPE_ERR(ctx, n, "input %d has %lld elements for %lld channels", i, (long long)nn_numel(in[i]), (long long)C);
    if (!(n->attr.eps > 0)) return NN_SHAPE_ERR(ctx, n, "eps %g must be positive", n->attr.eps);
    out[0] = *in[0];
    return XF_OK;
}
static size_t bn_saved(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 2 * (size_t)x[0]->s[1] : 0;
}

static xf_status bn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C);
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *rmean = x[3]->d, *rvar = x[4]->d;
    float *Y = y->d;
    int train = kc->train;
    float *sv = kc->saved;
    double m = a->momentum;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (train) {
            double s = 0, ss = 0;
            for (int64_t n = 0; n < N; n++) s += psum(X + (n * C + c) * S, S);
            int64_t M = N * S;
            mean = s / (double)M;
            /* two-pass variance around the float mean, corrected for its rounding
             * (sum (x - fm)^2 = sum (x - mean)^2 + M (mean - fm)^2) */
            float fm = (float)mean;
            for (int64_t n = 0; n < N; n++) ss += psqdev(X + (n * C + c) * S, S, fm);
            double dm = mean - fm;
            ss -= (double)M * dm * dm;
            double var = ss / (double)M;
            invstd = 1.0 / sqrt(var + a->eps);
            double uvar = M > 1 ? ss / (double)(M - 1) : var;
            rmean[c] = (float)(m * rmean[c] + (1.0 - m) * mean);
            rvar[c] = (float)(m * rvar[c] + (1.0 - m) * uvar);
            if (sv) {
                sv[c] = (float)mean;
                sv[C + c] = (float)invstd;
            }
        } else {
            mean = rmean[c];
            invstd = 1.0 / sqrt((double)rvar[c] + a->eps);
        }
        float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
        for (int64_t n = 0; n < N; n++) {
            const float *p = X + (n * C + c) * S;
            float *q = Y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) q[i] = p[i] * sc + sh;
        }
    }
    return XF_OK;
}

static xf_status bn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C);
    const float *X = x[0]->d, *gam = x[1]->d;
    int train = kc->train && kc->saved;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    const float *sv = kc->saved;
    const float *rmean = x[3]->d, *rvar = x[4]->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean = train ? sv[c] : rmean[c];
        double invstd = train ? sv[C + c] : 1.0 / sqrt((double)rvar[c] + a->eps);
        double sdy = 0, sdyx = 0;
        float fm = (float)mean;
        for (int64_t n = 0; n < N; n++) {
            const float *p = X + (n * C + c) * S, *g = dy + (n * C + c) * S;
            double s1 = psum(g, S);
            sdy += s1;
            sdyx += pdotdev(g, p, S, fm) - s1 * (mean - fm);
        }
        sdyx *= invstd; /* = sum dy * xhat */
        if (dG) dG[c] += (float)sdyx;
        if (dB) dB[c] += (float)sdy;
        if (dX) {
            int64_t M = N * S;
            if (train) {
                /* dx = a * dy + b * x + c0 with float coefficients */
                double k1 = gam[c] * invstd / (double)M;
                float fa = (float)(k1 * (double)M), fb = (float)(-k1 * sdyx * invstd),
                      fc = (float)(k1 * (-sdy + mean * sdyx * invstd));
                for (int64_t n = 0; n < N; n++) {
                    const float *p = X + (n * C + c) * S, *g = dy + (n * C + c) * S;
                    float *q = dX + (n * C + c) * S;
                    for (int64_t i = 0; i < S; i++) q[i] += fa * g[i] + fb * p[i] + fc;
                }
            } else { /* running statistics: an affine map */
                float k1 = (float)(gam[c] * invstd);
                for (int64_t n = 0; n < N; n++) {
                    const float *g = dy + (n * C + c) * S;
                    float *q = dX + (n * C + c) * S;
                    for (int64_t i = 0; i < S; i++) q[i] += k1 * g[i];
                }
            }
        }
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_batchnorm = {bn_shape, bn_fwd, bn_bwd, NULL, bn_saved, 30u, 30u, 5, 5};

/* ---- GroupNorm / InstanceNorm ---- */
static int64_t gn_groups(const xf_node *n, int64_t C) { return n->op == XF_OP_INSTANCENORM ? C : n->attr.num_groups; }

static xf_status gn_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->nd < 3) return NN_SHAPE_ERR(ctx, n, "input rank %d (need >= 3)", in[0]->nd);
    int64_t C = in[0]->s[1], G = gn_groups(n, C);
    if (G <= 0 || C % G) return NN_SHAPE_ERR(ctx, n, "%lld channels not divisible into %lld groups", (long long)C, (long long)G);
    for (int i = 1; i < 3; i++)
        if (nn_numel(in[i]) != C)
            return NN_SHAPE_ERR(ctx, n, "input %d has %lld elements for %lld channels (per-channel scale/bias)", i,
                                (long long)nn_numel(in[i]), (long long)C);
    if (!(n->attr.eps > 0)) return NN_SHAPE_ERR(ctx, n, "eps %g must be positive", n->attr.eps);
    out[0] = *in[0];
    return XF_OK;
}
static size_t gn_saved(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 2 * (size_t)(x[0]->s[0] * gn_groups(n, x[0]->s[1])) : 0;
}

static xf_status gn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *Y = y->d, *sv = kc->saved;
    double eps = kc->node->attr.eps;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G;
        const float *p = X + (n * C + g * cg) * S;
        int64_t M = cg * S;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < M; i++) s += p[i];
        double mean = s / (double)M;
        for (int64_t i = 0; i < M; i++) {
            double d = p[i] - mean;
            ss += d * d;
        }
        double invstd = 1.0 / sqrt(ss / (double)M + eps);
        if (sv) {
            sv[ng] = (float)mean;
            sv[N * G + ng] = (float)invstd;
        }
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
            const float *pc = X + (n * C + c) * S;
            float *q = Y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) q[i] = pc[i] * sc + sh;
        }
    }
    return XF_OK;
}

static xf_status gn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    const float *X = x[0]->d, *gam = x[1]->d, *sv = kc->saved;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    if (!sv) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': backward without saved statistics", kc->node->name);
    if (dG || dB) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t c = 0; c < C; c++) {
            int64_t g = c / cg;
            double sg = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                double mean = sv[n * G + g], invstd = sv[N * G + n * G + g];
                const float *p = X + (n * C + c) * S, *d = dy + (n * C + c) * S;
                for (int64_t i = 0; i < S; i++) {
                    sg += d[i] * (p[i] - mean) * invstd;
                    sb += d[i];
                }
            }
            if (dG) dG[c] += (float)sg;
            if (dB) dB[c] += (float)sb;
        }
    }
    if (!dX) return XF_OK;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G, M = cg * S;
        double mean = sv[ng], invstd = sv[N * G + ng];
        double s1 = 0, s2 = 0; /* sum dxhat, sum dxhat * xhat */
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            const float *p = X + (n * C + c) * S, *d = dy + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                double dxh = (double)d[i] * gam[c];
                s1 += dxh;
                s2 += dxh * (p[i] - mean) * invstd;
            }
        }
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            const float *p = X + (n * C + c) * S, *d = dy + (n * C + c) * S;
            float *q = dX + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                double xh = (p[i] - mean) * invstd;
                q[i] += (float)(invstd / (double)M * ((double)M * d[i] * gam[c] - s1 - xh * s2));
            }
        }
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_groupnorm = {gn_shape, gn_fwd, gn_bwd, NULL, gn_saved, 6u, 6u, 3, 3};
const nn_opdef xf_nn_op_instancenorm = {gn_shape, gn_fwd, gn_bwd, NULL, gn_saved, 6u, 6u, 3, 3};
