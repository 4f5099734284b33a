/* Private helpers shared by the estimators LEEP, NCE, N-LEEP, SFDA, NCTI and ETran:
 * label bookkeeping, the LEEP core (also used by N-LEEP on GMM posteriors), the
 * shrinkage-LDA posterior used by SFDA / ETran / NCTI, sklearn's LDA 'svd' solver (NCTI),
 * and the Gaussian mixture (N-LEEP). All scratch comes from the workspace. */
#ifndef XFER_EST_INT_H
#define XFER_EST_INT_H
#include "xfer/estimators.h"

/* Checked workspace allocation of n elements of type T; on failure returns from the
 * enclosing function with XF_ERR_NOMEM (the workspace recorded the message). */
#define XF_WS_NEW(ws, ptr, n)                                                        \
    do {                                                                             \
        (ptr) = xf_ws_calloc((ws), (size_t)(n) > 0 ? (size_t)(n) : 1, sizeof *(ptr)); \
        if (!(ptr)) return XF_ERR_NOMEM;                                             \
    } while (0)

/* Labels present in y: *Cp distinct classes, map (C entries) from label to dense
 * index among present classes (-1 for absent), counts (Cp) per present class.
 * Fails with XF_ERR_INVALID when fewer than 2 classes are present. */
xf_status xf_estc_classes(xf_ctx_t *ctx, xf_ws_t *ws, const char *m, const int32_t *y, int64_t N, int64_t C,
                          int64_t *Cp, int32_t **yd, int64_t **counts);

/* LEEP (Nguyen et al. 2020, Eq. 1-2) from a "dummy source" distribution theta (N x K),
 * given either as float (tf) or double (td), row stride ld. use_log = 1: mean log
 * P(y_i|x_i) (the paper); 0: mean probability (SFDA/ETran copies). Columns with zero
 * total probability contribute nothing (their P(y|z) is defined as 0). */
xf_status xf_estc_leep_core(xf_ws_t *ws, const float *tf, const double *td, int64_t ld, int64_t N, int64_t K,
                            const int32_t *y, int64_t C, int use_log, double *score);

/* Copy F (N x D float, ldF) into a new double matrix (N x D) from ws. */
double *xf_estc_to_double(xf_ws_t *ws, const float *F, int64_t N, int64_t D, int64_t ldF);

/* Shrinkage LDA as in SFDA (Shao et al. 2022) and sklearn's 'eigen' solver: priors
 * pi_c = n_c/N, class means mu_c, within scatter S_w = sum_c pi_c cov_c (bias), shrunk
 * S = (1-lam) S_w + lam (tr S_w / D) I. When lam < 0 it is chosen adaptively as
 * max(exp(-5 * lambda_max(S_w)), 1e-10) with lambda_max from `power_iters` rounds of
 * SFDA's power iteration (0: exact eigenvalue). Posterior logits
 *   s_c(x) = x^T S^-1 mu_c - mu_c^T S^-1 mu_c / 2 + log pi_c,
 * which equals the published coef_ = means V V^T because V^T S V = I for the full set of
 * generalised eigenvectors V. X: N x D double (ld = D), yd dense in 0..Cp-1.
 * prob (N x Cp) receives softmax posteriors; *lam_out the shrinkage used. */
xf_status xf_estc_lda_posterior(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                                const int64_t *counts, double lam, int power_iters, double *prob, double *lam_out);

/* sklearn's 'eigen' solver transform: X V with V the top min(Cp-1, D) generalised
 * eigenvectors of (S_b, S), S_b = shrunk S_t - shrunk S_w. Z (N x *k) from ws. */
xf_status xf_estc_lda_eigen_transform(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd,
                                      int64_t Cp, const int64_t *counts, double lam, double **Z, int64_t *k);

/* Row-wise softmax in place (N x K). */
void xf_estc_softmax_rows(double *A, int64_t N, int64_t K);

/* Sum of singular values (nuclear norm) of A (m x n, ld), computed by SVD. */
xf_status xf_estc_nuclear(xf_ws_t *ws, const double *A, int64_t m, int64_t n, int64_t ld, double *out);

/* sklearn LinearDiscriminantAnalysis(solver='svd', tol=1e-4) fit + transform +
 * predict_proba on the training data, as NCTI uses when its shrinkage underflows.
 * Z (N x *k) = (X - xbar) scalings, k = min(rank, Cp-1); prob (N x Cp). */
xf_status xf_estc_lda_svd(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                          const int64_t *counts, double **Z, int64_t *k, double *prob);

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
xf_status xf_estc_gmm_fit(xf_ws_t *ws, const double *X, int64_t N, int64_t d, const xf_gmm_opts *o, double *resp,
                          double *lower_bound, int *n_iter);
/* Hard k-means labels (sklearn KMeans(n_init=1) algorithm: greedy k-means++ then Lloyd,
 * max_iter 300, tol 1e-4 * mean feature variance). */
xf_status xf_estc_kmeans(xf_ws_t *ws, const double *X, int64_t N, int64_t d, int64_t K, uint64_t seed,
                         int32_t *labels);

/* min-max normalisation of column t of an M x T table into out (M); a constant column
 * maps to 0 (the published code divides 0 by 0). */
void xf_estc_minmax_col(const double *tab, int64_t M, int T, int t, double *out);
#endif
