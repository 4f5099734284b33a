/* Spectral helpers shared by the estimators: the rank cut of a Gram / scatter spectrum
 * (logme, hscore, hscore-shrink), the blocked lower-triangular solve, the trace
 * tr(pinv(A) B B^T) that both H-scores reduce to when N > D, and the nuclear norm (NCTI).
 *
 * Design of xf_est_trace_pinv_quad: a full eigendecomposition of a 2048 x 2048 matrix
 * costs ~9 D^3 flops and dominates H-score at N > D. When A is well conditioned, pinv(A)
 * = inv(A) and tr(inv(A) B B^T) = ||L^{-1} B||_F^2 needs only a Cholesky factor (D^3/3)
 * and one triangular solve. The condition number is estimated from L by power iteration
 * on L L^T (largest eigenvalue, a lower bound) and on (L L^T)^{-1} (smallest eigenvalue,
 * an upper bound); we take the Cholesky path only when the estimate is below 1e9, at
 * least three orders of magnitude away from any cut pinv could apply (rcond 1e-15, or the
 * matrix_rank floor max(N, D) eps ~ 1e-12), so both paths give the same number up to
 * rounding (relative error ~ cond * eps <= 1e-7). Everything else takes the eigh path,
 * which is the definition of pinv. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

double xf_est_rank_cut(double lam_max, double rcond, int64_t N, int64_t D) {
    double floor_ = (double)(N > D ? N : D) * DBL_EPSILON;
    return (rcond > floor_ ? rcond : floor_) * (lam_max > 0 ? lam_max : 0);
}

void xf_est_trsm_lower(int64_t n, int64_t k, const double *L, int64_t lda, double *B) {
    const int64_t nb = 64;
    for (int64_t i0 = 0; i0 < n; i0 += nb) {
        int64_t i1 = i0 + nb < n ? i0 + nb : n;
        /* B[i0:i1] -= L[i0:i1, 0:i0] W[0:i0] */
        if (i0 > 0) xf_la_dgemm(0, 0, i1 - i0, k, i0, -1.0, L + i0 * lda, lda, B, k, 1.0, B + i0 * k, k);
        for (int64_t i = i0; i < i1; i++) {
            double *bi = B + i * k;
            for (int64_t r = i0; r < i; r++) {
                double l = L[i * lda + r];
                const double *br = B + r * k;
                for (int64_t c = 0; c < k; c++) bi[c] -= l * br[c];
            }
            double d = 1.0 / L[i * lda + i];
            for (int64_t c = 0; c < k; c++) bi[c] *= d;
        }
    }
}

/* w = L^{-1} v (forward), then x = L^{-T} w (backward, column sweep so rows stay contiguous). */
static void chol_solve_vec(int64_t n, const double *L, double *v) {
    for (int64_t i = 0; i < n; i++) {
        double s = v[i];
        const double *li = L + i * n;
        for (int64_t r = 0; r < i; r++) s -= li[r] * v[r];
        v[i] = s / li[i];
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        const double *li = L + i * n;
        v[i] /= li[i];
        double xi = v[i];
        for (int64_t r = 0; r < i; r++) v[r] -= li[r] * xi;
    }
}

/* y = L L^T x */
static void chol_mul_vec(int64_t n, const double *L, const double *x, double *tmp, double *y) {
    for (int64_t r = 0; r < n; r++) tmp[r] = 0;
    for (int64_t i = 0; i < n; i++) { /* tmp = L^T x: row i of L scaled by x_i */
        const double *li = L + i * n;
        double xi = x[i];
        for (int64_t r = 0; r <= i; r++) tmp[r] += li[r] * xi;
    }
    for (int64_t i = 0; i < n; i++) { /* y = L tmp */
        const double *li = L + i * n;
        double s = 0;
        for (int64_t r = 0; r <= i; r++) s += li[r] * tmp[r];
        y[i] = s;
    }
}

static double normalise(double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i] * v[i];
    s = sqrt(s);
    if (s > 0)
        for (int64_t i = 0; i < n; i++) v[i] /= s;
    return s;
}

xf_status xf_est_chol_trace(xf_ctx_t *ctx, xf_ws_t *ws, int64_t D, const double *A, const double *B, int64_t K,
                            double *out, int *ok) {
    *ok = 0;
    *out = NAN;
    size_t dd = (size_t)D * (size_t)D;
    double *L = xf_ws_alloc(ws, dd * sizeof *L); // (D, D)
    double *v = xf_ws_alloc(ws, (size_t)D * sizeof *v), *t = xf_ws_alloc(ws, (size_t)D * sizeof *t);
    double *u = xf_ws_alloc(ws, (size_t)D * sizeof *u);
    if (!L || !v || !t || !u) return XF_ERR_NOMEM;
    memcpy(L, A, dd * sizeof *L);
    xf_status st = xf_la_cholesky(ctx, D, L, D);
    if (st == XF_ERR_NOMEM) return st;
    if (st) { /* not positive definite: the caller takes the eigh path */
        xf_ctx_clear_error(ctx);
        return XF_OK;
    }
    for (int64_t i = 0; i < D; i++) /* zero the strict upper triangle left by LAPACK */
        for (int64_t j = i + 1; j < D; j++) L[i * D + j] = 0;
    /* largest eigenvalue: power iteration on L L^T (a lower bound) */
    for (int64_t i = 0; i < D; i++) v[i] = 1.0 + 0.5 * sin(1.0 + (double)i);
    normalise(v, D);
    double lmax = 0, lmin_inv = 0;
    for (int it = 0; it < 8; it++) {
        chol_mul_vec(D, L, v, t, u);
        lmax = normalise(u, D);
        memcpy(v, u, (size_t)D * sizeof *v);
    }
    /* smallest eigenvalue: power iteration on (L L^T)^{-1} (1/lmin_inv is an upper bound) */
    for (int64_t i = 0; i < D; i++) v[i] = 1.0 + 0.5 * cos(3.0 + 0.7 * (double)i);
    normalise(v, D);
    for (int it = 0; it < 8; it++) {
        chol_solve_vec(D, L, v);
        lmin_inv = normalise(v, D);
    }
    if (!(isfinite(lmax) && isfinite(lmin_inv) && lmin_inv > 0 && lmax * lmin_inv < 1e9)) return XF_OK;
    double *W = xf_ws_alloc(ws, (size_t)D * (size_t)K * sizeof *W); // (D, K)
    if (!W) return XF_ERR_NOMEM;
    memcpy(W, B, (size_t)D * (size_t)K * sizeof *W);
    xf_est_trsm_lower(D, K, L, D, W);
    double s = 0;
    for (size_t i = 0; i < (size_t)D * (size_t)K; i++) s += W[i] * W[i];
    *out = s;
    *ok = 1;
    return XF_OK;
}

xf_status xf_est_trace_pinv_quad(xf_ctx_t *ctx, xf_ws_t *ws, int64_t D, double *A, const double *B, int64_t K,
                                 double rcond, int64_t N, double *out, int *used_eigh) {
    *out = NAN;
    if (used_eigh) *used_eigh = 0;
    int ok;
    xf_status st = xf_est_chol_trace(ctx, ws, D, A, B, K, out, &ok);
    if (st || ok) return st;
    double *W = xf_ws_alloc(ws, (size_t)D * (size_t)K * sizeof *W); // (D, K)
    double *v = xf_ws_alloc(ws, (size_t)D * sizeof *v);
    if (!W || !v) return XF_ERR_NOMEM;
    if (used_eigh) *used_eigh = 1;
    double *w = v; /* reuse: eigenvalues (D) */
    st = xf_la_eigh(ctx, D, A, D, w);
    if (st) return st;
    /* W = V^T B */
    xf_la_dgemm(1, 0, D, K, D, 1.0, A, D, B, K, 0.0, W, K);
    double cut = xf_est_rank_cut(w[D - 1], rcond, N, D), s = 0;
    for (int64_t i = 0; i < D; i++) {
        if (!(w[i] > cut)) continue;
        double r = 0;
        for (int64_t c = 0; c < K; c++) r += W[i * K + c] * W[i * K + c];
        s += r / w[i];
    }
    *out = s;
    return XF_OK;
}

xf_status xf_est_nuclear(xf_ws_t *ws, const double *A, int64_t m, int64_t n, int64_t ld, double *out) {
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
