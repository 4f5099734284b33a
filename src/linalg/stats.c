/* linalg/stats: column means, StandardScaler-style standardisation and covariance.
 * Design: accumulate in double, two passes (mean, then centred moments) as NumPy does,
 * so results agree with np.mean / np.var / np.cov to rounding. Covariance centres into a
 * workspace copy and uses one SYRK (half the flops of a GEMM). */
#include <math.h>
#include <string.h>

#include "linalg/linalgInt.h"

void xf_la_col_mean_f(const float *X, int64_t N, int64_t D, int64_t ldx, double *mean) {
    for (int64_t j = 0; j < D; j++) mean[j] = 0.0;
    if (N <= 0) {
        for (int64_t j = 0; j < D; j++) mean[j] = NAN; /* np.mean of nothing */
        return;
    }
    for (int64_t i = 0; i < N; i++) {
        const float *x = X + i * ldx;
        for (int64_t j = 0; j < D; j++) mean[j] += (double)x[j];
    }
    for (int64_t j = 0; j < D; j++) mean[j] /= (double)N;
}

/* sklearn's StandardScaler (1.2) treats a feature as constant when its variance is
 * within rounding of zero: var <= N*eps*var + (N*mean*eps)^2 (_is_constant_feature);
 * its scale is then 1 and the centred values are (near) zero. We write exact zeros. */
void xf_la_standardize(double *X, int64_t N, int64_t D, int64_t ldx) {
    if (N <= 0) return;
    const double eps = 2.220446049250313e-16;
    for (int64_t j = 0; j < D; j++) {
        double m = 0.0;
        for (int64_t i = 0; i < N; i++) m += X[i * ldx + j];
        m /= (double)N;
        double v = 0.0;
        for (int64_t i = 0; i < N; i++) {
            double c = X[i * ldx + j] - m;
            v += c * c;
        }
        v /= (double)N;
        double nm = (double)N * m * eps;
        int constant = v <= (double)N * eps * v + nm * nm;
        if (constant) {
            for (int64_t i = 0; i < N; i++) X[i * ldx + j] = 0.0;
        } else {
            double inv = 1.0 / sqrt(v);
            for (int64_t i = 0; i < N; i++) X[i * ldx + j] = (X[i * ldx + j] - m) * inv;
        }
    }
}

xf_status xf_la_cov(xf_ws_t *ws, const double *X, int64_t N, int64_t D, int64_t ldx, int ddof, double *cov) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    if (N < 0 || D < 0 || ldx < D) return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_cov: bad shape %lld x %lld (ld %lld)",
                                                 (long long)N, (long long)D, (long long)ldx);
    if (N - ddof <= 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_cov: %lld samples with ddof %d leave no degrees of freedom",
                      (long long)N, ddof);
    if (D == 0) return XF_OK;
    size_t nd;
    if (!xf_mul_ok((size_t)N, (size_t)D, &nd) || !xf_mul_ok(nd, sizeof(double), &nd))
        return XF_ERR(ctx, XF_ERR_NOMEM, "xf_la_cov: %lld x %lld too large", (long long)N, (long long)D);
    double *mean = xf_ws_calloc(ws, (size_t)D, sizeof(double)); // (D)
    double *Xc = xf_ws_alloc(ws, nd);                           // (N, D)
    if (!mean || !Xc) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) mean[j] += X[i * ldx + j];
    for (int64_t j = 0; j < D; j++) mean[j] /= (double)N;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) Xc[i * D + j] = X[i * ldx + j] - mean[j];
    xf_la_dsyrk(1, D, N, 1.0 / (double)(N - ddof), Xc, D, 0.0, cov, D);
    return XF_OK;
}
