/* Shared kernels of the normalisation ops (norm_batch.c, norm_group.c): plane and
 * channel-block reductions, the affine map with a fused activation, and the dx pass.
 * Statistics: float lanes within a plane, double across planes (so the sums do not
 * depend on how the planes are split across threads). */
#ifndef XF_NN_NORMINT_H
#define XF_NN_NORMINT_H
#include <math.h>

#include "nn/nnInt.h"

/* Plane reductions with 8 float lanes (vectorisable without reassociation flags); each
 * plane is short (H*W), and planes are summed in double by the callers. */
static inline double psum(const float *p, int64_t n) {
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += p[i + j];
    double s = 0;
    for (; i < n; i++) s += p[i];
    for (int j = 0; j < 8; j++) s += a[j];
    return s;
}
static inline double psqdev(const float *p, int64_t n, float m) {
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
static inline double pdotdev(const float *g, const float *p, int64_t n, float m) {
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += g[i + j] * (p[i + j] - m);
    double s = 0;
    for (; i < n; i++) s += (double)g[i] * (p[i] - m);
    for (int j = 0; j < 8; j++) s += a[j];
    return s;
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
static inline double lanes_total(const double *d) {
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
static inline void blk_sum2(const float *p, int64_t S, const float *kk, double *sa, double *sb) {
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
static inline void blk_dsum(const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t S, const float *fm,
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
static inline void blk_sum2(const float *p, int64_t S, const float *kk, double *sa, double *sb) {
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
static inline void blk_dsum(const float *g, const float *p, const float *r, int act, float lo, float hi, int64_t S, const float *fm,
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

/* The blocked dx pass of one (sample, channel block) task of S pixels x NN_BLK lanes:
 * dx = fa * mask(dy) + fb * x + fc per lane, with the fused activation's mask recovered
 * from its output r; written (set) or added. fa, fb, fc: the block's NN_BLK coefficients. */
static inline void blk_dx(const float *g, const float *p, const float *r, const float *fa, const float *fb,
                          const float *fc, int64_t S, int act, float lo, float hi, int set, float *q) {
    for (int64_t i = 0; i < S; i++)
        for (int l = 0; l < NN_BLK; l++) {
            int64_t e = i * NN_BLK + l;
            float v = fa[l] * nn_act_mask(act, r[e], lo, hi, g[e]) + fb[l] * p[e] + fc[l];
            q[e] = set ? v : q[e] + v;
        }
}
#endif
