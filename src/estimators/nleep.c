/* N-LEEP (Li et al., CVPR 2021): LEEP with a Gaussian mixture on the features as the
 * "source" classifier.
 *
 * Steps: PCA keeping the smallest number of components whose explained variance ratio
 * reaches `var` (0.8); a full-covariance Gaussian mixture with per_class * C components
 * (C = classes present) fitted by EM (sklearn GaussianMixture defaults: k-means
 * initialisation, reg_covar 1e-6, tol 1e-3, max_iter 100; seeded by `seed`); the GMM
 * posteriors replace the source-class probabilities in LEEP (Eq. 2, with the log).
 * If per_class * C exceeds N the component count is clamped to N (sklearn refuses). */
#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const nleep_params[] = {
    "var=0.8  PCA keeps the fewest components explaining this fraction of the variance",
    "per_class=5  Gaussian components per target class",
    "seed=0  seed of the k-means++ initialisation",
    "reg_covar=1e-6  added to each covariance diagonal",
    "tol=1e-3  EM stops when the mean log-likelihood changes by less",
    "max_iter=100  EM iterations at most",
    "log=1  1: LEEP with the log (the paper); 0: mean probability as the SFDA/ETran copies",
    NULL};

static xf_status nleep_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    double var, reg, tol;
    int64_t per, seed, maxit, use_log;
    xf_status st;
    if ((st = xf_params_f64(ctx, p, "nleep", "var", 0.8, &var)) ||
        (st = xf_params_i64(ctx, p, "nleep", "per_class", 5, &per)) ||
        (st = xf_params_i64(ctx, p, "nleep", "seed", 0, &seed)) ||
        (st = xf_params_f64(ctx, p, "nleep", "reg_covar", 1e-6, &reg)) ||
        (st = xf_params_f64(ctx, p, "nleep", "tol", 1e-3, &tol)) ||
        (st = xf_params_i64(ctx, p, "nleep", "max_iter", 100, &maxit)) ||
        (st = xf_params_i64(ctx, p, "nleep", "log", 1, &use_log)))
        return st;
    if (!(var > 0 && var <= 1)) return XF_ERR(ctx, XF_ERR_INVALID, "nleep: var must be in (0, 1], got %g", var);
    if (use_log != 0 && use_log != 1) return XF_ERR(ctx, XF_ERR_INVALID, "nleep: parameter log=%lld must be 0 or 1", (long long)use_log);
    if (per < 1 || maxit < 1 || reg < 0 || tol < 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "nleep: per_class and max_iter must be >= 1, reg_covar and tol >= 0");
    int64_t Cp, *counts;
    int32_t *yd;
    if ((st = xf_est_classes(ctx, ws, "nleep", in->y, in->N, in->C, &Cp, &yd, &counts))) return st;
    xf_pca_opts po;
    xf_pca_opts_default(&po);
    po.k = 0;
    po.var_frac = var;
    double *X;
    int64_t d;
    if ((st = xf_la_pca(ws, in->F, in->N, in->D, in->ldF, &po, &X, &d, NULL))) return st;
    xf_gmm_opts go = {.K = per * Cp, .reg_covar = reg, .tol = tol, .max_iter = (int)maxit, .seed = (uint64_t)seed};
    if (go.K > in->N) {
        xf_log(ctx, XF_LOG_WARN, "nleep: %lld components for %lld samples; using %lld", (long long)go.K,
               (long long)in->N, (long long)in->N);
        go.K = in->N;
    }
    double *resp, lb; // (N, K)
    int nit;
    XF_WS_NEW(ws, resp, in->N * go.K);
    if ((st = xf_est_gmm_fit(ws, X, in->N, d, &go, resp, &lb, &nit))) return st;
    xf_log(ctx, XF_LOG_DEBUG, "nleep: PCA d = %lld, K = %lld, EM iterations %d, lower bound %.6g", (long long)d,
           (long long)go.K, nit, lb);
    return xf_est_leep_core(ws, NULL, resp, go.K, in->N, go.K, in->y, in->C, use_log != 0, score);
}

const xf_estimator xf_est_def_nleep = {
    .name = "nleep",
    .flags = XF_NEEDS_F,
    .summary = "N-LEEP (Li et al. 2021): LEEP on the posteriors of a Gaussian mixture fitted to PCA features",
    .params = nleep_params,
    .fn = nleep_run,
};
