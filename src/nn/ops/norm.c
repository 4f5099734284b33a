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

/* Reference kernels: the plain per-plane loops (8-lane float partial sums per plane,
 * double across planes, a separate pass per reduction). They take no fused activation
 * (the executor fuses only for the fast kernels). */
static xf_status bn_fwd_ref(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
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

static xf_status bn_bwd_ref(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
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
/* Fast kernels. Forward (training): the shifted sums s1 = sum (x - k), s2 = sum (x - k)^2
 * in one pass (k = the mean of the channel's first plane, so s2 does not cancel:
 * sum (x - mean)^2 = s2 - s1^2 / M, Chan, Golub & LeVeque 1983, the "shifted data"
 * form), then one pass that normalises and applies the fused activation: 2 reads and
 * 1 write of x instead of 3 reads, 1 write, plus a separate activation pass.
 * Backward (training): sum dy and sum dy (x - mean) in one pass, dx in a second, with
 * the activation's mask applied to dy as it is read. Lanes: 2 x 8 float partial sums
 * per plane (two independent chains per sum), flushed into 8 double lanes per plane, so the precision is the reference's (float within a plane, double across). */
#define NL 8
typedef struct lanes2 {
    double a[NL], b[NL];
} lanes2;
static double lanes_total(const double *d) {
    double s = 0;
    for (int j = 0; j < NL; j++) s += d[j];
    return s;
}
#if defined(__GNUC__)
/* GCC / Clang vector extensions: the vectoriser does not turn two interleaved lane
 * reductions into SIMD code (it unrolls them into 32 scalar chains), so these two loops
 * say it directly; two independent chains per sum hide the add latency. */
typedef float nn_v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef int nn_v8i __attribute__((vector_size(32)));
typedef double nn_v8d __attribute__((vector_size(64)));
static inline nn_v8 v8_ld(const float *p) { return *(const nn_v8 *)p; }
static inline nn_v8 v8_set(float v) { return (nn_v8){v, v, v, v, v, v, v, v}; }
static inline void lanes_add(double *d, nn_v8 a) {
    nn_v8d t = __builtin_convertvector(a, nn_v8d);
    for (int j = 0; j < NL; j++) d[j] += t[j];
}
/* g where the activation passes, else 0 */
static inline nn_v8 v8_mask(int act, nn_v8 r, nn_v8 lo, nn_v8 hi, nn_v8 g) {
    nn_v8i m = act == 1 ? (r > v8_set(0.0f)) : ((r > lo) & (r < hi));
    return (nn_v8)((nn_v8i)g & m);
}
/* L->a += sum (p - k), L->b += sum (p - k)^2 over a plane of n floats */
static inline void plane_sum2(const float *p, int64_t n, float k, lanes2 *L) {
    nn_v8 a0 = v8_set(0), a1 = a0, b0 = a0, b1 = a0, vk = v8_set(k);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        nn_v8 x0 = v8_ld(p + i) - vk, x1 = v8_ld(p + i + 8) - vk;
        a0 += x0;
        a1 += x1;
        b0 += x0 * x0;
        b1 += x1 * x1;
    }
    for (; i + 8 <= n; i += 8) {
        nn_v8 x0 = v8_ld(p + i) - vk;
        a0 += x0;
        b0 += x0 * x0;
    }
    for (; i < n; i++) {
        float v = p[i] - k;
        a0[0] += v;
        b0[0] += v * v;
    }
    lanes_add(L->a, a0 + a1);
    lanes_add(L->b, b0 + b1);
}
/* L->a += sum g', L->b += sum g' (p - m) over a plane, g' = g times the mask of the fused
 * activation read from its output r (act 0: no activation, r unused) */
static inline void plane_dsum(const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t n,
                              float m, lanes2 *L) {
    nn_v8 a0 = v8_set(0), a1 = a0, b0 = a0, b1 = a0, vm = v8_set(m), vlo = v8_set(lo), vhi = v8_set(hi);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        nn_v8 g0 = v8_ld(g + i), g1 = v8_ld(g + i + 8);
        if (act) {
            g0 = v8_mask(act, v8_ld(r + i), vlo, vhi, g0);
            g1 = v8_mask(act, v8_ld(r + i + 8), vlo, vhi, g1);
        }
        a0 += g0;
        a1 += g1;
        b0 += g0 * (v8_ld(p + i) - vm);
        b1 += g1 * (v8_ld(p + i + 8) - vm);
    }
    for (; i + 8 <= n; i += 8) {
        nn_v8 g0 = v8_ld(g + i);
        if (act) g0 = v8_mask(act, v8_ld(r + i), vlo, vhi, g0);
        a0 += g0;
        b0 += g0 * (v8_ld(p + i) - vm);
    }
    for (; i < n; i++) {
        float gv = act ? nn_act_mask(act, r[i], lo, hi, g[i]) : g[i];
        a0[0] += gv;
        b0[0] += gv * (p[i] - m);
    }
    lanes_add(L->a, a0 + a1);
    lanes_add(L->b, b0 + b1);
}
#else
static inline void plane_sum2(const float *p, int64_t n, float k, lanes2 *L) {
    float a[NL] = {0}, b[NL] = {0};
    for (int64_t i = 0; i < n; i++) {
        float v = p[i] - k;
        a[i % NL] += v;
        b[i % NL] += v * v;
    }
    for (int j = 0; j < NL; j++) {
        L->a[j] += a[j];
        L->b[j] += b[j];
    }
}
static inline void plane_dsum(const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t n,
                              float m, lanes2 *L) {
    float a[NL] = {0}, b[NL] = {0};
    for (int64_t i = 0; i < n; i++) {
        float gv = act ? nn_act_mask(act, r[i], lo, hi, g[i]) : g[i];
        a[i % NL] += gv;
        b[i % NL] += gv * (p[i] - m);
    }
    for (int j = 0; j < NL; j++) {
        L->a[j] += a[j];
        L->b[j] += b[j];
    }
}
#endif
/* q = act(p * sc + sh) over a plane */
static inline void plane_affine_act(const float *p, float *q, int64_t n, float sc, float sh, int act, float lo, float hi) {
    if (act == 1) {
        for (int64_t i = 0; i < n; i++) {
            float v = p[i] * sc + sh;
            q[i] = v > 0.0f ? v : 0.0f;
        }
    } else if (act == 2) {
        for (int64_t i = 0; i < n; i++) {
            float v = p[i] * sc + sh;
            v = v > lo ? v : lo;
            q[i] = v < hi ? v : hi;
        }
    } else {
        for (int64_t i = 0; i < n; i++) q[i] = p[i] * sc + sh;
    }
}
/* q (= or +=) fa g' + fb p + fc over a plane, g' as in plane_dsum */
static inline void plane_dx(float *q, const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t n,
                            float fa, float fb, float fc, int set) {
    if (!act) {
        if (set)
            for (int64_t i = 0; i < n; i++) q[i] = fa * g[i] + fb * p[i] + fc;
        else
            for (int64_t i = 0; i < n; i++) q[i] += fa * g[i] + fb * p[i] + fc;
    } else if (set) {
        for (int64_t i = 0; i < n; i++) q[i] = fa * nn_act_mask(act, r[i], lo, hi, g[i]) + fb * p[i] + fc;
    } else {
        for (int64_t i = 0; i < n; i++) q[i] += fa * nn_act_mask(act, r[i], lo, hi, g[i]) + fb * p[i] + fc;
    }
}


/* Blocked layout (nnInt.h, NN_BLK): channel c of plane (n, h, w) at
 * ((n * CB + c / NN_BLK) * S + i) * NN_BLK + c % NN_BLK, CB = C / NN_BLK, S = H*W.
 * The innermost loop runs over a block's channels, so every lane is one channel and the
 * sums vectorise as they stand. Per (sample, block) the sums are float, across samples
 * double: the same precision as the planar kernels. Same shift k (per channel, the mean
 * of sample 0's plane). */
#if defined(__GNUC__)
/* (vector extensions for the same reason as plane_sum2; one 16-lane vector per block) */
typedef float nn_v16 __attribute__((vector_size(64), aligned(4), may_alias));
typedef int nn_v16i __attribute__((vector_size(64)));
typedef double nn_v16d __attribute__((vector_size(128)));
static inline nn_v16 v16_ld(const float *p) { return *(const nn_v16 *)p; }
static inline void lanes16_add(double *d, nn_v16 a) {
    nn_v16d t = __builtin_convertvector(a, nn_v16d);
    for (int l = 0; l < NN_BLK; l++) d[l] += t[l];
}
static void blk_sum2(const float *p, int64_t S, const float *kk, double *sa, double *sb) {
    nn_v16 a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, k = v16_ld(kk);
    int64_t i = 0;
    for (; i + 2 <= S; i += 2) { /* two chains per sum */
        nn_v16 x0 = v16_ld(p + i * NN_BLK) - k, x1 = v16_ld(p + (i + 1) * NN_BLK) - k;
        a0 += x0;
        a1 += x1;
        b0 += x0 * x0;
        b1 += x1 * x1;
    }
    if (i < S) {
        nn_v16 x0 = v16_ld(p + i * NN_BLK) - k;
        a0 += x0;
        b0 += x0 * x0;
    }
    lanes16_add(sa, a0 + a1);
    lanes16_add(sb, b0 + b1);
}
/* ea += sum g', eb += sum g' (p - m) over a (sample, block), g' = g masked by the fused
 * activation read from r */
static void blk_dsum(const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t S, const float *fm,
                     double *sa, double *sb) {
    nn_v16 a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, m = v16_ld(fm), z = {0}, vlo = z + lo, vhi = z + hi;
    for (int64_t i = 0; i < S; i++) {
        nn_v16 gv = v16_ld(g + i * NN_BLK);
        if (act) {
            nn_v16 rv = v16_ld(r + i * NN_BLK);
            nn_v16i keep = act == 1 ? (rv > z) : ((rv > vlo) & (rv < vhi));
            gv = (nn_v16)((nn_v16i)gv & keep);
        }
        nn_v16 d = gv * (v16_ld(p + i * NN_BLK) - m);
        if (i & 1) {
            a1 += gv;
            b1 += d;
        } else {
            a0 += gv;
            b0 += d;
        }
    }
    lanes16_add(sa, a0 + a1);
    lanes16_add(sb, b0 + b1);
}
#else
static void blk_sum2(const float *p, int64_t S, const float *kk, double *sa, double *sb) {
    float a[NN_BLK] = {0}, b[NN_BLK] = {0};
    for (int64_t i = 0; i < S; i++)
        for (int l = 0; l < NN_BLK; l++) {
            float v = p[i * NN_BLK + l] - kk[l];
            a[l] += v;
            b[l] += v * v;
        }
    for (int l = 0; l < NN_BLK; l++) {
        sa[l] += a[l];
        sb[l] += b[l];
    }
}
static void blk_dsum(const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t S, const float *fm,
                     double *sa, double *sb) {
    float ea[NN_BLK] = {0}, eb[NN_BLK] = {0};
    for (int64_t i = 0; i < S; i++)
        for (int l = 0; l < NN_BLK; l++) {
            float gv = nn_act_mask(act, r[i * NN_BLK + l], lo, hi, g[i * NN_BLK + l]);
            ea[l] += gv;
            eb[l] += gv * (p[i * NN_BLK + l] - fm[l]);
        }
    for (int l = 0; l < NN_BLK; l++) {
        sa[l] += ea[l];
        sb[l] += eb[l];
    }
}
#endif

/* Work in (sample, block) tasks, so two threads share even a 16-channel layer: the sums
 * of each task go to the scratch, (N, C/16, 2, 16) doubles, and are added per channel
 * over the samples in order (the same result for any thread count); then the per-channel
 * coefficients (4 C floats after the sums) and one more pass over the tasks. */
static size_t bn_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 4 * (size_t)(x[0]->s[0] * x[0]->s[1]) + 4 * (size_t)x[0]->s[1] : 0;
}

static xf_status bn_fwd_blk(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S, CB = C / NN_BLK, T = N * CB;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *rmean = x[3]->d, *rvar = x[4]->d;
    float *Y = y->d, *sv = kc->saved;
    int train = kc->train, act = kc->act;
    float lo = kc->amin, hi = kc->amax;
    double m = a->momentum;
    double *AB = (double *)(void *)kc->scratch;  /* (T, 2, NN_BLK) */
    float *K = (float *)(void *)(AB + 2 * N * C); /* (C) shifts */
    float *SC = K + C, *SH = SC + C;              /* (C) scale, shift */
#pragma omp parallel num_threads(kc->threads)
    {
        if (train) {
#pragma omp for schedule(static)
            for (int64_t c = 0; c < C; c++) { /* the shift: the channel's mean in sample 0 */
                const float *p0 = X + (c / NN_BLK) * S * NN_BLK + c % NN_BLK;
                double k = 0;
                for (int64_t i = 0; i < S; i++) k += p0[i * NN_BLK];
                K[c] = (float)(k / (double)S);
            }
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) {
                double *ab = AB + 2 * NN_BLK * t;
                memset(ab, 0, 2 * NN_BLK * sizeof(double));
                blk_sum2(X + t * S * NN_BLK, S, K + (t % CB) * NN_BLK, ab, ab + NN_BLK);
            }
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double mean, invstd;
            if (train) {
                double sa = 0, sb = 0;
                for (int64_t n = 0; n < N; n++) {
                    const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                    sa += ab[c % NN_BLK];
                    sb += ab[NN_BLK + c % NN_BLK];
                }
                double d = sa / (double)M, ss = sb - (double)M * d * d;
                if (ss < 0) ss = 0;
                mean = K[c] + d;
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
            SC[c] = (float)(gam[c] * invstd);
            SH[c] = (float)(bet[c] - mean * gam[c] * invstd);
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            const float *p = X + t * S * NN_BLK, *sc = SC + (t % CB) * NN_BLK, *sh = SH + (t % CB) * NN_BLK;
            float *q = Y + t * S * NN_BLK;
            if (act == 1)
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) {
                        float v = p[i * NN_BLK + l] * sc[l] + sh[l];
                        q[i * NN_BLK + l] = v > 0.0f ? v : 0.0f;
                    }
            else if (act == 2)
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) {
                        float v = p[i * NN_BLK + l] * sc[l] + sh[l];
                        v = v > lo ? v : lo;
                        q[i * NN_BLK + l] = v < hi ? v : hi;
                    }
            else
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) q[i * NN_BLK + l] = p[i * NN_BLK + l] * sc[l] + sh[l];
        }
    }
    return XF_OK;
}

static xf_status bn_bwd_blk(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S, CB = C / NN_BLK, T = N * CB;
    const float *X = x[0]->d, *gam = x[1]->d, *R = y->d;
    int train = kc->train && kc->saved, act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    const float *sv = kc->saved, *rmean = x[3]->d, *rvar = x[4]->d;
    double *AB = (double *)(void *)kc->scratch;   /* (T, 2, NN_BLK) */
    float *FM = (float *)(void *)(AB + 2 * N * C); /* (C) float mean, then dx = fa dy + fb x + fc */
    float *FA = FM + C, *FB = FA + C, *FC = FB + C;
#pragma omp parallel num_threads(kc->threads)
    {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) FM[c] = train ? sv[c] : rmean[c];
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            double *ab = AB + 2 * NN_BLK * t;
            memset(ab, 0, 2 * NN_BLK * sizeof(double));
            int64_t o = t * S * NN_BLK;
            blk_dsum(dy + o, X + o, R + o, act, lo, hi, S, FM + (t % CB) * NN_BLK, ab, ab + NN_BLK);
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double mean = train ? sv[c] : rmean[c];
            double invstd = train ? sv[C + c] : 1.0 / sqrt((double)rvar[c] + a->eps);
            double sdy = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                sdy += ab[c % NN_BLK];
                sb += ab[NN_BLK + c % NN_BLK];
            }
            double sdyx = (sb - sdy * (mean - FM[c])) * invstd;
            if (dG) dG[c] += (float)sdyx;
            if (dB) dB[c] += (float)sdy;
            if (train) {
                double k1 = gam[c] * invstd / (double)M;
                FA[c] = (float)(k1 * (double)M);
                FB[c] = (float)(-k1 * sdyx * invstd);
                FC[c] = (float)(k1 * (-sdy + mean * sdyx * invstd));
            } else {
                FA[c] = (float)(gam[c] * invstd);
                FB[c] = FC[c] = 0.0f;
            }
        }
        if (dX) {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) {
                int64_t o = t * S * NN_BLK, cb = t % CB;
                const float *g = dy + o, *p = X + o, *r = R + o;
                const float *fa = FA + cb * NN_BLK, *fb = FB + cb * NN_BLK, *fc = FC + cb * NN_BLK;
                float *q = dX + o;
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) {
                        int64_t e = i * NN_BLK + l;
                        float v = fa[l] * nn_act_mask(act, r[e], lo, hi, g[e]) + fb[l] * p[e] + fc[l];
                        q[e] = set ? v : q[e] + v;
                    }
            }
        }
    }
    return XF_OK;
}

static xf_status bn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) return bn_fwd_blk(kc, x, y);
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference BatchNorm takes no fused activation", kc->node->name);
        return bn_fwd_ref(kc, x, y);
    }
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *rmean = x[3]->d, *rvar = x[4]->d;
    float *Y = y->d, *sv = kc->saved;
    int train = kc->train, act = kc->act;
    float lo = kc->amin, hi = kc->amax;
    double m = a->momentum;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (train) {
            float k = (float)(psum(X + c * S, S) / (double)S);
            lanes2 L;
            memset(&L, 0, sizeof L);
            for (int64_t n = 0; n < N; n++) plane_sum2(X + (n * C + c) * S, S, k, &L);
            double d = lanes_total(L.a) / (double)M;
            double ss = lanes_total(L.b) - (double)M * d * d; /* sum (x - mean)^2 */
            if (ss < 0) ss = 0;
            mean = k + d;
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
        for (int64_t n = 0; n < N; n++)
            plane_affine_act(X + (n * C + c) * S, Y + (n * C + c) * S, S, sc, sh, act, lo, hi);
    }
    return XF_OK;
}

static xf_status bn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S;
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) return bn_bwd_blk(kc, x, y, dy, dx);
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference BatchNorm takes no fused activation", kc->node->name);
        if (dx[0] && (kc->set & 1u)) memset(dx[0], 0, (size_t)(N * C * S) * sizeof(float));
        return bn_bwd_ref(kc, x, y, dy, dx);
    }
    const xf_node_attr *a = &kc->node->attr;
    const float *X = x[0]->d, *gam = x[1]->d, *R = y->d;
    int train = kc->train && kc->saved, act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    const float *sv = kc->saved;
    const float *rmean = x[3]->d, *rvar = x[4]->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean = train ? sv[c] : rmean[c];
        double invstd = train ? sv[C + c] : 1.0 / sqrt((double)rvar[c] + a->eps);
        float fm = (float)mean;
        lanes2 L;
        memset(&L, 0, sizeof L);
        for (int64_t n = 0; n < N; n++) {
            int64_t o = (n * C + c) * S;
            plane_dsum(dy + o, X + o, R + o, act, lo, hi, S, fm, &L);
        }
        double sdy = lanes_total(L.a);
        double sdyx = (lanes_total(L.b) - sdy * (mean - fm)) * invstd; /* = sum dy * xhat */
        if (dG) dG[c] += (float)sdyx;
        if (dB) dB[c] += (float)sdy;
        if (!dX) continue;
        float fa, fb, fc;
        if (train) { /* dx = fa dy + fb x + fc, the formula above as float coefficients */
            double k1 = gam[c] * invstd / (double)M;
            fa = (float)(k1 * (double)M);
            fb = (float)(-k1 * sdyx * invstd);
            fc = (float)(k1 * (-sdy + mean * sdyx * invstd));
        } else { /* running statistics: an affine map */
            fa = (float)(gam[c] * invstd);
            fb = fc = 0.0f;
        }
        for (int64_t n = 0; n < N; n++) {
            int64_t o = (n * C + c) * S;
            plane_dx(dX + o, dy + o, X + o, R + o, act, lo, hi, S, fa, fb, fc, set);
        }
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_batchnorm = {bn_shape, bn_fwd, bn_bwd, bn_scratch, bn_saved, 30u, 30u, 5, 5, 1u, 1};

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

/* reference: double accumulation element by element, a separate pass per reduction */
static xf_status gn_fwd_ref(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
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

static xf_status gn_bwd_ref(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
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
/* Fast kernels, the BatchNorm scheme per (sample, group): forward takes the shifted sums
 * in one pass (k = the mean of the group's first plane), then normalises with the fused
 * activation; backward takes, per (sample, channel) plane, A = sum dy and B = sum dy xhat
 * in one pass (kept in the scratch: dgamma = sum_n B, dbeta = sum_n A), and writes dx
 * per group from s1 = sum_c gamma A, s2 = sum_c gamma B as dx = fa dy + fb x + fc with
 * fa = invstd gamma, fb = -invstd^2 s2 / M, fc = invstd (mean invstd s2 - s1) / M. */
static size_t gn_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 8 * (size_t)(x[0]->s[0] * x[0]->s[1]) : 0; /* (N, C, 2) doubles + the blocked kernels' (N, C, 4) floats */
}

/* Blocked GroupNorm (nnInt.h, NN_BLK), the blocked BatchNorm's scheme with per-sample
 * statistics: per (sample, block) task 16-lane sums with each lane's shift the mean of
 * its group's first plane; per (sample, group) the lanes of the group's channels are
 * added; the per-(sample, channel) coefficients go to the scratch for the last pass.
 * Groups need not align with blocks. Scratch (floats): the sums (N, C, 2) doubles, then
 * four (N, C) float arrays. */
static xf_status gn_fwd_blk(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    int64_t CB = C / NN_BLK, T = N * CB, M = cg * S;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *Y = y->d, *sv = kc->saved;
    double eps = kc->node->attr.eps;
    int act = kc->act;
    float lo = kc->amin, hi = kc->amax;
    double *AB = (double *)(void *)kc->scratch;        /* (T, 2, NN_BLK) */
    float *K = (float *)(void *)(AB + 2 * N * C), *SC = K + N * C, *SH = SC + N * C; /* (N, C) each */
#pragma omp parallel num_threads(kc->threads)
    {
#pragma omp for schedule(static)
        for (int64_t ng = 0; ng < N * G; ng++) { /* shift: the mean of the group's first plane */
            int64_t n = ng / G, c0 = (ng % G) * cg;
            const float *p0 = X + ((n * CB + c0 / NN_BLK) * S) * NN_BLK + c0 % NN_BLK;
            double k = 0;
            for (int64_t i = 0; i < S; i++) k += p0[i * NN_BLK];
            for (int64_t c = c0; c < c0 + cg; c++) K[n * C + c] = (float)(k / (double)S);
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            double *ab = AB + 2 * NN_BLK * t;
            memset(ab, 0, 2 * NN_BLK * sizeof(double));
            blk_sum2(X + t * S * NN_BLK, S, K + t * NN_BLK, ab, ab + NN_BLK); /* (n, cb) -> K[n C + cb 16 ..] */
        }
#pragma omp for schedule(static)
        for (int64_t ng = 0; ng < N * G; ng++) {
            int64_t n = ng / G, c0 = (ng % G) * cg;
            double sa = 0, sb = 0;
            for (int64_t c = c0; c < c0 + cg; c++) {
                const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                sa += ab[c % NN_BLK];
                sb += ab[NN_BLK + c % NN_BLK];
            }
            double d = sa / (double)M, ss = sb - (double)M * d * d;
            if (ss < 0) ss = 0;
            double mean = K[n * C + c0] + d, invstd = 1.0 / sqrt(ss / (double)M + eps);
            if (sv) {
                sv[ng] = (float)mean;
                sv[N * G + ng] = (float)invstd;
            }
            for (int64_t c = c0; c < c0 + cg; c++) {
                SC[n * C + c] = (float)(gam[c] * invstd);
                SH[n * C + c] = (float)(bet[c] - mean * gam[c] * invstd);
            }
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            const float *p = X + t * S * NN_BLK, *sc = SC + t * NN_BLK, *sh = SH + t * NN_BLK;
            float *q = Y + t * S * NN_BLK;
            for (int64_t i = 0; i < S; i++)
                for (int l = 0; l < NN_BLK; l++) {
                    float v = p[i * NN_BLK + l] * sc[l] + sh[l];
                    if (act == 1) v = v > 0.0f ? v : 0.0f;
                    else if (act == 2) v = v > lo ? (v < hi ? v : hi) : lo;
                    q[i * NN_BLK + l] = v;
                }
        }
    }
    return XF_OK;
}

static xf_status gn_bwd_blk(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    int64_t CB = C / NN_BLK, T = N * CB, M = cg * S;
    const float *X = x[0]->d, *gam = x[1]->d, *sv = kc->saved, *R = y->d;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    int act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    double *AB = (double *)(void *)kc->scratch; /* (T, 2, NN_BLK) */
    float *FM = (float *)(void *)(AB + 2 * N * C), *FA = FM + N * C, *FB = FA + N * C, *FC = FB + N * C; /* (N, C) each */
#pragma omp parallel num_threads(kc->threads)
    {
#pragma omp for schedule(static)
        for (int64_t nc = 0; nc < N * C; nc++) FM[nc] = sv[(nc / C) * G + (nc % C) / cg];
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            double *ab = AB + 2 * NN_BLK * t;
            memset(ab, 0, 2 * NN_BLK * sizeof(double));
            int64_t o = t * S * NN_BLK;
            blk_dsum(dy + o, X + o, R + o, act, lo, hi, S, FM + t * NN_BLK, ab, ab + NN_BLK);
        }
#pragma omp for schedule(static)
        for (int64_t ng = 0; ng < N * G; ng++) {
            int64_t n = ng / G, c0 = (ng % G) * cg;
            double mean = sv[ng], invstd = sv[N * G + ng], s1 = 0, s2 = 0;
            for (int64_t c = c0; c < c0 + cg; c++) {
                double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                double A = ab[c % NN_BLK], B = (ab[NN_BLK + c % NN_BLK] - A * (mean - FM[n * C + c])) * invstd;
                ab[NN_BLK + c % NN_BLK] = B; /* = sum dy xhat, for dgamma */
                s1 += gam[c] * A;
                s2 += gam[c] * B;
            }
            float fb = (float)(-invstd * invstd * s2 / (double)M), fc = (float)(invstd * (mean * invstd * s2 - s1) / (double)M);
            for (int64_t c = c0; c < c0 + cg; c++) {
                FA[n * C + c] = (float)(invstd * gam[c]);
                FB[n * C + c] = fb;
                FC[n * C + c] = fc;
            }
        }
        if (dG || dB) {
#pragma omp for schedule(static)
            for (int64_t c = 0; c < C; c++) {
                double sa = 0, sb = 0;
                for (int64_t n = 0; n < N; n++) {
                    const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                    sa += ab[c % NN_BLK];
                    sb += ab[NN_BLK + c % NN_BLK];
                }
                if (dG) dG[c] += (float)sb;
                if (dB) dB[c] += (float)sa;
            }
        }
        if (dX) {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) {
                int64_t o = t * S * NN_BLK;
                const float *g = dy + o, *p = X + o, *r = R + o;
                const float *fa = FA + t * NN_BLK, *fb = FB + t * NN_BLK, *fc = FC + t * NN_BLK;
                float *q = dX + o;
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) {
                        int64_t e = i * NN_BLK + l;
                        float v = fa[l] * nn_act_mask(act, r[e], lo, hi, g[e]) + fb[l] * p[e] + fc[l];
                        q[e] = set ? v : q[e] + v;
                    }
            }
        }
    }
    return XF_OK;
}

static xf_status gn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) return gn_fwd_blk(kc, x, y);
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference GroupNorm takes no fused activation", kc->node->name);
        return gn_fwd_ref(kc, x, y);
    }
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *Y = y->d, *sv = kc->saved;
    double eps = kc->node->attr.eps;
    int act = kc->act;
    float lo = kc->amin, hi = kc->amax;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G, M = cg * S;
        const float *p = X + (n * C + g * cg) * S;
        float k = (float)(psum(p, S) / (double)S);
        lanes2 L;
        memset(&L, 0, sizeof L);
        for (int64_t cc = 0; cc < cg; cc++) plane_sum2(p + cc * S, S, k, &L);
        double d = lanes_total(L.a) / (double)M;
        double ss = lanes_total(L.b) - (double)M * d * d;
        if (ss < 0) ss = 0;
        double mean = k + d, invstd = 1.0 / sqrt(ss / (double)M + eps);
        if (sv) {
            sv[ng] = (float)mean;
            sv[N * G + ng] = (float)invstd;
        }
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
            plane_affine_act(X + (n * C + c) * S, Y + (n * C + c) * S, S, sc, sh, act, lo, hi);
        }
    }
    return XF_OK;
}

static xf_status gn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) {
        if (!kc->saved) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': backward without saved statistics", kc->node->name);
        return gn_bwd_blk(kc, x, y, dy, dx);
    }
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference GroupNorm takes no fused activation", kc->node->name);
        if (dx[0] && (kc->set & 1u)) memset(dx[0], 0, (size_t)(N * C * S) * sizeof(float));
        return gn_bwd_ref(kc, x, y, dy, dx);
    }
    const float *X = x[0]->d, *gam = x[1]->d, *sv = kc->saved, *R = y->d;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    if (!sv) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': backward without saved statistics", kc->node->name);
    int act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    double *AB = (double *)(void *)kc->scratch; /* (N, C, 2) */
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G, M = cg * S;
        double mean = sv[ng], invstd = sv[N * G + ng];
        float fm = (float)mean;
        double s1 = 0, s2 = 0;
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc, o = (n * C + c) * S;
            lanes2 L;
            memset(&L, 0, sizeof L);
            plane_dsum(dy + o, X + o, R + o, act, lo, hi, S, fm, &L);
            double A = lanes_total(L.a), B = (lanes_total(L.b) - A * (mean - fm)) * invstd;
            AB[2 * (n * C + c)] = A;
            AB[2 * (n * C + c) + 1] = B;
            s1 += gam[c] * A;
            s2 += gam[c] * B;
        }
        if (!dX) continue;
        float fb = (float)(-invstd * invstd * s2 / (double)M), fc = (float)(invstd * (mean * invstd * s2 - s1) / (double)M);
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc, o = (n * C + c) * S;
            plane_dx(dX + o, dy + o, X + o, R + o, act, lo, hi, S, (float)(invstd * gam[c]), fb, fc, set);
        }
    }
    if (dG || dB)
        for (int64_t c = 0; c < C; c++) {
            double sa = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                sa += AB[2 * (n * C + c)];
                sb += AB[2 * (n * C + c) + 1];
            }
            if (dG) dG[c] += (float)sb;
            if (dB) dB[c] += (float)sa;
        }
    return XF_OK;
}
const nn_opdef xf_nn_op_groupnorm = {gn_shape, gn_fwd, gn_bwd, gn_scratch, gn_saved, 6u, 6u, 3, 3, 1u, 1};
const nn_opdef xf_nn_op_instancenorm = {gn_shape, gn_fwd, gn_bwd, gn_scratch, gn_saved, 6u, 6u, 3, 3, 1u, 1};
