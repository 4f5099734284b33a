/* Private helpers shared by the knn, linear and parc estimators (src/estimators/knn.c,
 * linear.c, parc.c): OpenMP pragmas that vanish without OpenMP, the PCA pre-reduction
 * with its "dims" / "pca" / "seed" parameters, and small parameter checks. */
#ifndef XFER_EST_A_INT_H
#define XFER_EST_A_INT_H
#include <string.h>

#include "xfer/estimators.h"
#include "xfer/linalg.h"

#define XF_PRAGMA_(x) _Pragma(#x)
#ifdef _OPENMP
#include <omp.h>
#define XF_OMP(x) XF_PRAGMA_(omp x)
static inline int xf_est_a_tid(void) { return omp_get_thread_num(); }
#else
#define XF_OMP(x)
static inline int xf_est_a_tid(void) { return 0; }

/* The linear estimator (linear.c) with its fit exposed, for the tests: besides the score,
 * for the first fit (the half split, or fold 0) coef (when not NULL) gets
 * [W (K, d), b (K)] over the K classes present in the training part, ascending, and pred
 * (when not NULL) the predicted class of each test row. */
xf_status xf_est_linear_probe(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score,
                             double *coef, int32_t *pred);
#endif

/* Components kept by the optional PCA: the request clamped to min(N - 1, D). Centred
 * data has rank <= N - 1; the published code clamps to N only, and the N-th component is
 * then rounding noise that StandardScaler blows up to unit variance (not reproducible). */
static inline int64_t xf_est_a_clamp_dims(int64_t dims, int64_t N, int64_t D) {
    if (dims > N - 1) dims = N - 1;
    if (dims > D) dims = D;
    return dims < 1 ? 1 : dims;
}

/* PCA of the input features to dims components (after clamping), exact or randomized as
 * the "pca" parameter says ("exact" default), seed from "seed" (default 1919, PARC's
 * random_state; the stream is xfer's own, so randomized results are not numpy's).
 * *X gets (N, *k) doubles from ws, ld = *k. */
static inline xf_status xf_est_a_pca(xf_ctx_t *ctx, const char *m, const xf_est_input *in, const xf_params *p,
                                     xf_ws_t *ws, int64_t dims, double **X, int64_t *k) {
    const char *meth = xf_params_str(p, m, "pca", "exact");
    int64_t seed;
    xf_status st = xf_params_i64(ctx, p, m, "seed", 1919, &seed);
    if (st) return st;
    xf_pca_opts o;
    xf_pca_opts_default(&o);
    if (strcmp(meth, "exact") == 0) o.method = XF_PCA_EXACT;
    else if (strcmp(meth, "randomized") == 0) o.method = XF_PCA_RANDOMIZED;
    else return XF_ERR(ctx, XF_ERR_INVALID, "%s: parameter pca: '%s' is not exact or randomized", m, meth);
    o.k = xf_est_a_clamp_dims(dims, in->N, in->D);
    o.power_iters = 1; /* PARC: iterated_power=1 */
    o.seed = (uint64_t)seed;
    return xf_la_pca(ws, in->F, in->N, in->D, in->ldF, &o, X, k, NULL);
}

/* The linear estimator (linear.c) with its fit exposed, for the tests: besides the score,
 * for the first fit (the half split, or fold 0) coef (when not NULL) gets
 * [W (K, d), b (K)] over the K classes present in the training part, ascending, and pred
 * (when not NULL) the predicted class of each test row. */
xf_status xf_est_linear_probe(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score,
                             double *coef, int32_t *pred);
#endif
