/* Labels and class statistics shared by the estimators: class sizes (with the "at least
 * two classes" check every estimator needs), the dense map of the classes present, and
 * the per-class sums of the feature rows (H-score, LogME). */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"

xf_status xf_est_class_counts(xf_ctx_t *ctx, const char *method, const int32_t *y, int64_t N, int64_t C,
                              int64_t *counts) {
    memset(counts, 0, (size_t)C * sizeof *counts);
    for (int64_t i = 0; i < N; i++) counts[y[i]]++;
    int64_t nonempty = 0;
    for (int64_t c = 0; c < C; c++) nonempty += counts[c] > 0;
    if (nonempty < 2)
        return XF_ERR(ctx, XF_ERR_INVALID, "%s: labels: need at least 2 classes with samples, got %lld", method,
                      (long long)nonempty);
    return XF_OK;
}

xf_status xf_est_classes(xf_ctx_t *ctx, xf_ws_t *ws, const char *m, const int32_t *y, int64_t N, int64_t C,
                         int64_t *Cp, int32_t **yd, int64_t **counts) {
    int64_t *cnt, *map;
    XF_WS_NEW(ws, cnt, C);
    XF_WS_NEW(ws, map, C);
    xf_status st = xf_est_class_counts(ctx, m, y, N, C, cnt);
    if (st) return st;
    int64_t k = 0;
    for (int64_t c = 0; c < C; c++) map[c] = cnt[c] ? k++ : -1;
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

double *xf_est_class_sums(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *y, int64_t C,
                          const int64_t *counts, int rsqrt) {
    double *S = xf_ws_calloc(ws, (size_t)C * (size_t)D, sizeof *S); // (C, D)
    double *B = xf_ws_alloc(ws, (size_t)D * (size_t)C * sizeof *B); // (D, C)
    if (!S || !B) return NULL;
    for (int64_t i = 0; i < N; i++) {
        double *s = S + (int64_t)y[i] * D;
        const double *x = X + i * D;
        for (int64_t j = 0; j < D; j++) s[j] += x[j];
    }
    for (int64_t c = 0; c < C; c++) {
        double f = !rsqrt ? 1.0 : counts[c] ? 1.0 / sqrt((double)counts[c]) : 0.0;
        for (int64_t j = 0; j < D; j++) B[j * C + c] = f * S[c * D + j];
    }
    return B;
}

