/* Shared pieces of the LEEP / NCE / N-LEEP / SFDA / NCTI / ETran estimators: present-class
 * bookkeeping, the LEEP core (Nguyen et al. 2020, Eq. 1-2) reused by N-LEEP, row softmax,
 * nuclear norms, and the across-bank min-max used by NCTI and ETran. */
#include <math.h>
#include <string.h>

#include "estimators/estInt.h"
#include "xfer/linalg.h"

xf_status xf_estc_classes(xf_ctx_t *ctx, xf_ws_t *ws, const char *m, const int32_t *y, int64_t N, int64_t C,
                          int64_t *Cp, int32_t **yd, int64_t **counts) {
    int64_t *cnt, *map;
    XF_WS_NEW(ws, cnt, C);
    XF_WS_NEW(ws, map, C);
    for (int64_t i = 0; i < N; i++) cnt[y[i]]++;
    int64_t k = 0;
    for (int64_t c = 0; c < C; c++) map[c] = cnt[c] ? k++ : -1;
    if (k < 2)
        return XF_ERR(ctx, XF_ERR_INVALID, "%s: need at least 2 classes with samples, got %lld", m, (long long)k);
    int32_t *d;
    int64_t *cc;
    XF_WS_NEW(ws, d, N);
    XF_WS_NEW(ws, cc, k);
    for (int64_t i = 0; i < N; i++) d[i] = (int32_t)map[y[i]];
    for (int64_t c = 0; c < C; c++)
        if (map[c] >= 0) cc[map[c]] = cnt[c];
    *Cp = k;
    *yd = d;
    *counts = cc;
    return XF_OK;
}

xf_status xf_estc_leep_core(xf_ws_t *ws, const float *tf, const double *td, int64_t ld, int64_t N, int64_t K,
                            const int32_t *y, int64_t C, int use_log, double *score) {
    double *joint, *pz; // (C, K), (K)
    XF_WS_NEW(ws, joint, C * K);
    XF_WS_NEW(ws, pz, K);
    /* Eq. 1: P(y, z) = (1/N) sum_{i: y_i = y} theta_iz; the 1/N cancels in P(y|z) */
    for (int64_t i = 0; i < N; i++) {
        double *row = joint + (int64_t)y[i] * K;
        if (tf) {
            const float *t = tf + i * ld;
            for (int64_t z = 0; z < K; z++) row[z] += t[z];
        } else {
            const double *t = td + i * ld;
            for (int64_t z = 0; z < K; z++) row[z] += t[z];
        }
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t z = 0; z < K; z++) pz[z] += joint[c * K + z];
    /* P(y|z) = P(y,z) / P(z); a source class nobody is assigned any probability to has
     * theta_iz = 0 for every i, so its (undefined) column never contributes: set it to 0 */
    for (int64_t c = 0; c < C; c++)
        for (int64_t z = 0; z < K; z++) joint[c * K + z] = pz[z] > 0 ? joint[c * K + z] / pz[z] : 0.0;
    /* Eq. 2: T = (1/N) sum_i log sum_z P(y_i|z) theta_iz */
    double acc = 0;
    for (int64_t i = 0; i < N; i++) {
        const double *cond = joint + (int64_t)y[i] * K;
        double s = 0;
        if (tf) {
            const float *t = tf + i * ld;
            for (int64_t z = 0; z < K; z++) s += cond[z] * t[z];
        } else {
            const double *t = td + i * ld;
            for (int64_t z = 0; z < K; z++) s += cond[z] * t[z];
        }
        acc += use_log ? log(s) : s;
    }
    *score = acc / (double)N;
    return XF_OK;
}

double *xf_estc_to_double(xf_ws_t *ws, const float *F, int64_t N, int64_t D, int64_t ldF) {
    double *X = xf_ws_alloc(ws, (size_t)N * (size_t)D * sizeof *X);
    if (!X) return NULL;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) X[i * D + j] = F[i * ldF + j];
    return X;
}

void xf_estc_softmax_rows(double *A, int64_t N, int64_t K) {
    for (int64_t i = 0; i < N; i++) {
        double *a = A + i * K, mx = a[0], s = 0;
        for (int64_t k = 1; k < K; k++) mx = a[k] > mx ? a[k] : mx;
        for (int64_t k = 0; k < K; k++) s += (a[k] = exp(a[k] - mx));
        for (int64_t k = 0; k < K; k++) a[k] /= s;
    }
}

xf_status xf_estc_nuclear(xf_ws_t *ws, const double *A, int64_t m, int64_t n, int64_t ld, double *out) {
    *out = 0;
    if (m == 0 || n == 0) return XF_OK;
    int64_t k = m < n ? m : n;
    double *B, *s;
    XF_WS_NEW(ws, B, m * n);
    XF_WS_NEW(ws, s, k);
    for (int64_t i = 0; i < m; i++) memcpy(B + i * n, A + i * ld, (size_t)n * sizeof *B);
    xf_status st = xf_la_svd(xf_ws_ctx(ws), m, n, B, n, s, NULL, 1, NULL, 1);
    if (st) return st;
    double t = 0;
    for (int64_t j = 0; j < k; j++) t += s[j];
    *out = t;
    return XF_OK;
}

void xf_estc_minmax_col(const double *tab, int64_t M, int T, int t, double *out) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < M; i++) {
        double v = tab[i * T + t];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    for (int64_t i = 0; i < M; i++) out[i] = hi > lo ? (tab[i * T + t] - lo) / (hi - lo) : 0.0;
}
