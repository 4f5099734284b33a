/* linalg: the one module that talks to OpenBLAS and LAPACKE, plus the shared numerical
 * pieces every estimator uses: PCA, standardisation, ranks with average ties, and
 * correlation coefficients that match SciPy.
 *
 * All matrices are row-major with a leading dimension (ld >= columns). Functions that
 * need scratch take it from the workspace they are given and leave it allocated there.
 * Thread count: xf_la_set_threads() sets OpenBLAS's pool (estimators call it with the
 * context's count). */
#ifndef XFER_LINALG_H
#define XFER_LINALG_H
#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

void xf_la_set_threads(int n);
int xf_la_get_threads(void);

/* C (M x N) = alpha * op(A) * op(B) + beta * C; op(A) is M x K. trans: 0 = as is, 1 = T. */
void xf_la_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void xf_la_dgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
                 const double *B, int64_t ldb, double beta, double *C, int64_t ldc);
/* y = alpha*op(A)*x + beta*y with A (M x N). */
void xf_la_dgemv(int transA, int64_t M, int64_t N, double alpha, const double *A, int64_t lda, const double *x,
                 double beta, double *y);
/* Symmetric rank-k update, both triangles filled:
 *   trans = 0: C (n x n) = alpha * A A^T + beta*C, A is n x k
 *   trans = 1: C (n x n) = alpha * A^T A + beta*C, A is k x n */
void xf_la_dsyrk(int trans, int64_t n, int64_t k, double alpha, const double *A, int64_t lda, double beta, double *C,
                 int64_t ldc);
void xf_la_ssyrk(int trans, int64_t n, int64_t k, float alpha, const float *A, int64_t lda, float beta, float *C,
                 int64_t ldc);

/* Symmetric eigendecomposition (LAPACK dsyevr/dsyevd). A (n x n) is overwritten by the
 * eigenvectors as columns (A[i*lda + j] = component i of eigenvector j); w (n) gets the
 * eigenvalues in ascending order. */
xf_status xf_la_eigh(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda, double *w);
/* Generalised symmetric-definite problem A v = w B v (B SPD), ascending; A gets the
 * eigenvectors (B-orthonormal), B is overwritten by its Cholesky factor. */
xf_status xf_la_eigh_gen(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda, double *B, int64_t ldb, double *w);
/* Thin SVD of A (m x n), k = min(m, n): s (k) descending, U (m x k, may be NULL),
 * Vt (k x n, may be NULL). A is destroyed. */
xf_status xf_la_svd(xf_ctx_t *ctx, int64_t m, int64_t n, double *A, int64_t lda, double *s, double *U, int64_t ldu,
                    double *Vt, int64_t ldvt);
/* Cholesky A = L L^T in place (lower triangle); XF_ERR_NUMERIC if not positive definite. */
xf_status xf_la_cholesky(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda);
/* Solve A X = B for SPD A (n x n) and B (n x nrhs), B overwritten with X; A destroyed. */
xf_status xf_la_solve_spd(xf_ctx_t *ctx, int64_t n, int64_t nrhs, double *A, int64_t lda, double *B, int64_t ldb);
/* General solve A X = B by LU (A destroyed). */
xf_status xf_la_solve(xf_ctx_t *ctx, int64_t n, int64_t nrhs, double *A, int64_t lda, double *B, int64_t ldb);
/* log|det A| of an SPD matrix via Cholesky (A destroyed). */
xf_status xf_la_logdet_spd(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda, double *out);

/* ---- statistics ---- */

/* Column means of X (N x D, float), out (D) in double. */
void xf_la_col_mean_f(const float *X, int64_t N, int64_t D, int64_t ldx, double *mean);
/* In place: subtract column means, divide by the population std (ddof = 0), as
 * sklearn's StandardScaler. A constant column becomes all zeros (StandardScaler leaves
 * it at 0 too, scale 1). */
void xf_la_standardize(double *X, int64_t N, int64_t D, int64_t ldx);
/* Covariance (D x D) of X (N x D) with the given ddof (np.cov uses 1). */
xf_status xf_la_cov(xf_ws_t *ws, const double *X, int64_t N, int64_t D, int64_t ldx, int ddof, double *cov);

/* ---- PCA ----
 * Exact: eigendecomposition of the D x D covariance, or of the N x N Gram matrix when
 * N < D (same components, far cheaper). Randomized: Halko et al. 2011 range finder with
 * oversampling and power iterations, as sklearn's PCA(svd_solver='randomized').
 * Components are sign-normalised like sklearn's svd_flip (largest |loading| positive in
 * each component's projection column) so results are deterministic.
 * Output: scores (N x k) = (X - mean) * components^T, in double. */
typedef enum xf_pca_method { XF_PCA_EXACT = 0, XF_PCA_RANDOMIZED = 1 } xf_pca_method;
typedef struct xf_pca_opts {
    xf_pca_method method;
    int64_t k;          /* components to keep; clamped to min(N, D); 0: use var_frac */
    double var_frac;    /* when k == 0: smallest k whose explained variance ratio >= var_frac */
    int64_t oversample; /* randomized: extra columns (default 10) */
    int power_iters;    /* randomized: power iterations (default 4 when 0; -1 for none) */
    uint64_t seed;      /* randomized */
} xf_pca_opts;
void xf_pca_opts_default(xf_pca_opts *o); /* exact, k = 0, var_frac = 1.0 */
/* X: N x D float, ldx. On success *scores is allocated from ws (N x *k_out, ld = *k_out);
 * evr (optional, length min(N, D)) gets the explained variance ratios.
 * Details (sklearn 1.2 semantics):
 *  - var_frac picks the smallest k whose cumulative ratio is strictly above var_frac
 *    (sklearn: searchsorted(cumsum, frac, side='right') + 1); var_frac >= 1 keeps all.
 *  - k larger than min(N, D) is clamped; N = 1 gives one all-zero score column.
 *  - Randomized needs k > 0 (with k == 0 the exact solver is used). It knows only the
 *    top k ratios (s_i^2 / total variance, as sklearn); evr[k..] are set to NaN.
 *    oversample == 0 means 10, power_iters == 0 means 4, negative values mean none.
 *  - NaN / Inf in X: XF_ERR_NUMERIC. All scratch stays allocated in ws. */
xf_status xf_la_pca(xf_ws_t *ws, const float *X, int64_t N, int64_t D, int64_t ldx, const xf_pca_opts *opt,
                    double **scores, int64_t *k_out, double *evr);
/* The same from a double matrix. */
xf_status xf_la_pca_d(xf_ws_t *ws, const double *X, int64_t N, int64_t D, int64_t ldx, const xf_pca_opts *opt,
                      double **scores, int64_t *k_out, double *evr);

/* ---- ranks and correlations (SciPy semantics) ---- */

/* 1-based ranks with ties averaged (scipy.stats.rankdata method='average').
 * idx: caller's scratch of n int64. */
void xf_la_rank_avg(const double *x, int64_t n, double *ranks, int64_t *idx);
/* idx (n) := 0..n-1 sorted by x[idx] ascending, or descending when desc != 0 (heap sort:
 * no extra memory, not stable). */
void xf_la_argsort(const double *x, int64_t n, int64_t *idx, int desc);
/* Pearson r (scipy.stats.pearsonr); NaN when either input is constant. */
double xf_la_pearson(const double *x, const double *y, int64_t n);
/* Spearman rho: Pearson of average ranks; work: 2n doubles + n int64 from ws. */
xf_status xf_la_spearman(xf_ws_t *ws, const double *x, const double *y, int64_t n, double *rho);
/* Kendall tau-b (scipy.stats.kendalltau default), O(n log n). */
xf_status xf_la_kendall(xf_ws_t *ws, const double *x, const double *y, int64_t n, double *tau);
/* Weighted tau with scipy.stats.weightedtau defaults (hyperbolic additive weigher,
 * rank=True: average of the two lexicographic rankings). */
xf_status xf_la_weightedtau(xf_ws_t *ws, const double *x, const double *y, int64_t n, double *tau);

#ifdef __cplusplus
}
#endif
#endif
