/* Private interface of src/estimators/: what more than one estimator uses. Not API.
 *
 * Ordered from the input side to the model side; each section names the file that
 * defines it:
 *   1. workspace and threads          (this header)
 *   2. the input: parameter choices, the float -> double copy, the PCA prelude (input.c)
 *   3. labels and class statistics    (classes.c)
 *   4. spectral helpers: rank cut, triangular solve, tr(pinv(A) B B^T), nuclear norm
 *                                     (spectral.c)
 *   5. LEEP core                      (leep.c)
 *   6. Gaussian / LDA posteriors      (lda.c)
 *   7. mixture models: k-means, EM    (gmm.c)
 *   8. across-bank min-max            (registry.c)
 *   9. the linear probe with its fit exposed, for the tests (linear.c)
 * All scratch comes from the workspace. */
#ifndef XFER_ESTIMATORS_INT_H
#define XFER_ESTIMATORS_INT_H
#include <stdint.h>

#include "xfer/estimators.h"

/* ---- 1. workspace and threads ------------------------------------------------------- */

/* Checked workspace allocation of n elements of type T; on failure returns from the
 * enclosing function with XF_ERR_NOMEM (the workspace recorded the message). */
#define XF_WS_NEW(ws, ptr, n)                                                        \
    do {                                                                             \
        (ptr) = xf_ws_calloc((ws), (size_t)(n) > 0 ? (size_t)(n) : 1, sizeof *(ptr)); \
        if (!(ptr)) return XF_ERR_NOMEM;                                             \
    } while (0)

/* OpenMP pragmas that vanish without OpenMP, and the thread index (0 without it). */
#define XF_PRAGMA_(x) _Pragma(#x)
#ifdef _OPENMP
#include <omp.h>
#define XF_OMP(x) XF_PRAGMA_(omp x)
static inline int xf_est_tid(void) { return omp_get_thread_num(); }
#else
#define XF_OMP(x)
static inline int xf_est_tid(void) { return 0; }
#endif

/* ---- 2. the input (input.c) --------------------------------------------------------- */

/* Parse a choice parameter: *out = index of the value in choices (NULL-terminated). */
xf_status xf_est_choice(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, const char *def,
                        const char *const *choices, int *out);

/* (N, D) float -> double copy from ws (ld = D); centre = 1 subtracts the column means. */
double *xf_est_to_double(xf_ws_t *ws, const float *F, int64_t N, int64_t D, int64_t ldF, int centre);

/* PCA of the input features to dims components, the request clamped to min(N - 1, D)
 * (centred data has rank <= N - 1; the published code clamps to N only, and the N-th
 * component is then rounding noise that StandardScaler blows up to unit variance), exact
 * or randomized as the "pca" parameter says ("exact" default), seed from "seed" (default
 * 1919, PARC's random_state; the stream is xfer's own, so randomized results are not
 * numpy's). *X gets (N, *k) doubles from ws, ld = *k. Used by knn, linear and parc. */
xf_status xf_est_pca(xf_ctx_t *ctx, const char *m, const xf_est_input *in, const xf_params *p, xf_ws_t *ws,
                     int64_t dims, double **X, int64_t *k);

/* ---- 3. labels and class statistics (classes.c) ------------------------------------- */

/* Class sizes counts (C) of y (N); fails with XF_ERR_INVALID naming `method` when fewer
 * than two classes have samples (every estimator compares classes). */
xf_status xf_est_class_counts(xf_ctx_t *ctx, const char *method, const int32_t *y, int64_t N, int64_t C,
                              int64_t *counts);

/* Labels present in y: *Cp distinct classes, yd (N, from ws) the dense index of each
 * row's class among the present ones (in label order), counts (Cp, from ws) per present
 * class. Fails as xf_est_class_counts. */
xf_status xf_est_classes(xf_ctx_t *ctx, xf_ws_t *ws, const char *method, const int32_t *y, int64_t N, int64_t C,
                         int64_t *Cp, int32_t **yd, int64_t **counts);

/* B (D x C, from ws), column c = scale_c * sum_{i in class c} X_i with X (N, D) row-major;
 * scale_c = 1 (rsqrt = 0) or 1/sqrt(n_c) (rsqrt = 1, 0 for empty classes), i.e.
 * sqrt(n_c) * class mean. Accumulated row-contiguously in (C, D) then transposed. */
double *xf_est_class_sums(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *y, int64_t C,
                          const int64_t *counts, int rsqrt);

/* ---- 4. spectral helpers (spectral.c) ----------------------------------------------- */

/* The cut below which an eigenvalue of a Gram / scatter matrix is treated as zero:
 * max(rcond, max(N, D) * DBL_EPSILON) * lam_max (numpy.linalg.matrix_rank's default
 * tolerance, never tighter than pinv's rcond). */
double xf_est_rank_cut(double lam_max, double rcond, int64_t N, int64_t D);

/* Solve L W = B in place for lower-triangular L (n x n, row-major, ld lda) and B (n x k,
 * ld k): blocks of 64 rows through GEMM, the diagonal blocks by substitution. */
void xf_est_trsm_lower(int64_t n, int64_t k, const double *L, int64_t lda, double *B);

/* The Cholesky path alone: *ok = 1 and out = tr(inv(A) B B^T) when A (D x D, not
 * modified) is positive definite with estimated condition number < 1e9; *ok = 0
 * otherwise (no error recorded). */
xf_status xf_est_chol_trace(xf_ctx_t *ctx, xf_ws_t *ws, int64_t D, const double *A, const double *B, int64_t K,
                            double *out, int *ok);

/* out = tr(pinv(A) B B^T) for symmetric positive semi-definite A (D x D, both triangles,
 * destroyed) and B (D x K, ld K), with pinv's cut xf_est_rank_cut(lam_max, rcond, N, D).
 * Fast path: Cholesky A = L L^T, and when the condition number estimated by inverse and
 * direct power iteration is below 1e9 (so no eigenvalue is near the cut and pinv = inv),
 * out = ||L^{-1} B||_F^2 by blocked forward substitution (D^3/3 + D^2 K flops). Otherwise
 * the eigendecomposition A = V diag(w) V^T: out = sum_{w_i > cut} ||(V^T B)_i||^2 / w_i.
 * *used_eigh (optional) tells which path ran. */
xf_status xf_est_trace_pinv_quad(xf_ctx_t *ctx, xf_ws_t *ws, int64_t D, double *A, const double *B, int64_t K,
                                 double rcond, int64_t N, double *out, int *used_eigh);

/* Sum of singular values (nuclear norm) of A (m x n, ld), computed by SVD. */
xf_status xf_est_nuclear(xf_ws_t *ws, const double *A, int64_t m, int64_t n, int64_t ld, double *out);

/* ---- 5. LEEP core (leep.c) ---------------------------------------------------------- */

/* LEEP (Nguyen et al. 2020, Eq. 1-2) from a "dummy source" distribution theta (N x K),
 * given either as float (tf) or double (td), row stride ld. use_log = 1: mean log
 * P(y_i|x_i) (the paper); 0: mean probability (SFDA/ETran copies). Columns with zero
 * total probability contribute nothing (their P(y|z) is defined as 0). Also used by
 * N-LEEP on GMM posteriors. */
xf_status xf_est_leep_core(xf_ws_t *ws, const float *tf, const double *td, int64_t ld, int64_t N, int64_t K,
                           const int32_t *y, int64_t C, int use_log, double *score);

/* ---- 6. Gaussian / LDA posteriors (lda.c) ------------------------------------------- */

/* Row-wise softmax in place (N x K). */
void xf_est_softmax_rows(double *A, int64_t N, int64_t K);

/* Gaussian class posteriors with a shared covariance S (LDA): prob (N x Cp) holds the
 * linear terms x_i^T S^-1 mu_c on entry; adds -q_c/2 + log(n_c/N) to column c, with
 * q_c = mu_c^T S^-1 mu_c = sum_{j < J} A[c sac + j saj] B[c sbc + j sbj], and applies the
 * row softmax. */
void xf_est_gaussian_posteriors(double *prob, int64_t N, int64_t Cp, const int64_t *counts, const double *A,
                                int64_t sac, int64_t saj, const double *B, int64_t sbc, int64_t sbj, int64_t J);

/* Shrinkage LDA as in SFDA (Shao et al. 2022) and sklearn's 'eigen' solver: priors
 * pi_c = n_c/N, class means mu_c, within scatter S_w = sum_c pi_c cov_c (bias), shrunk
 * S = (1-lam) S_w + lam (tr S_w / D) I. When lam < 0 it is chosen adaptively as
 * max(exp(-5 * lambda_max(S_w)), 1e-10) with lambda_max from `power_iters` rounds of
 * SFDA's power iteration (0: exact eigenvalue). Posterior logits
 *   s_c(x) = x^T S^-1 mu_c - mu_c^T S^-1 mu_c / 2 + log pi_c,
 * which equals the published coef_ = means V V^T because V^T S V = I for the full set of
 * generalised eigenvectors V. X: N x D double (ld = D), yd dense in 0..Cp-1.
 * prob (N x Cp) receives softmax posteriors; *lam_out the shrinkage used.
 * Used by SFDA, ETran and NCTI. */
xf_status xf_est_lda_posterior(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                               const int64_t *counts, double lam, int power_iters, double *prob, double *lam_out);

/* sklearn's 'eigen' solver transform: X V with V the top min(Cp-1, D) generalised
 * eigenvectors of (S_b, S), S_b = shrunk S_t - shrunk S_w. Z (N x *k) from ws. */
xf_status xf_est_lda_eigen_transform(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd,
                                     int64_t Cp, const int64_t *counts, double lam, double **Z, int64_t *k);

/* sklearn LinearDiscriminantAnalysis(solver='svd', tol=1e-4) fit + transform +
 * predict_proba on the training data, as NCTI uses when its shrinkage underflows.
 * Z (N x *k) = (X - xbar) scalings, k = min(rank, Cp-1); prob (N x Cp). */
xf_status xf_est_lda_svd(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                         const int64_t *counts, double **Z, int64_t *k, double *prob);

/* ---- 7. mixture models (gmm.c) ------------------------------------------------------ */

/* Gaussian mixture with full covariances fitted by EM as sklearn's GaussianMixture
 * (reg_covar, tol on the change of the mean log-likelihood, max_iter), initialised from
 * hard k-means labels (k-means++ seeding + Lloyd) or from given parameters.
 * resp (N x K) receives the posteriors of the final parameters (predict_proba). */
typedef struct xf_gmm_opts {
    int64_t K;
    double reg_covar, tol;
    int max_iter;
    uint64_t seed;
    /* optional initial parameters (all three or none): weights (K), means (K x d),
     * covariances (K x d x d) */
    const double *w0, *mu0, *cov0;
    /* 1: per-component thin GEMM / SYRK kernels in the difference form sklearn uses (the
     * reference); 0 (default): packed outer-product kernels, one GEMM for all components */
    int reference;
} xf_gmm_opts;
xf_status xf_est_gmm_fit(xf_ws_t *ws, const double *X, int64_t N, int64_t d, const xf_gmm_opts *o, double *resp,
                         double *lower_bound, int *n_iter);

/* Hard k-means labels (sklearn KMeans(n_init=1) algorithm: greedy k-means++ then Lloyd,
 * max_iter 300, tol 1e-4 * mean feature variance). */
xf_status xf_est_kmeans(xf_ws_t *ws, const double *X, int64_t N, int64_t d, int64_t K, uint64_t seed,
                        int32_t *labels);

/* ---- 8. across-bank min-max (registry.c) -------------------------------------------- */

/* min-max normalisation of column t of an M x T table into out (M); a constant column
 * maps to 0 (the published code divides 0 by 0). Used by NCTI and ETran's combine. */
void xf_est_minmax_col(const double *tab, int64_t M, int T, int t, double *out);

/* ---- 9. the linear probe's fit (linear.c) ------------------------------------------- */

/* The linear estimator with its fit exposed, for the tests: besides the score, for the
 * first fit (the half split, or fold 0) coef (when not NULL) gets [W (K, d), b (K)] over
 * the K classes present in the training part, ascending, and pred (when not NULL) the
 * predicted class of each test row. */
xf_status xf_est_linear_probe(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score,
                              double *coef, int32_t *pred);
#endif
