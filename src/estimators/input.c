/* The input side shared by the estimators: choice parameters, the float -> double copy
 * of the features (optionally centred), and the optional PCA pre-reduction of knn,
 * linear and parc with its "dims" / "pca" / "seed" parameters. */
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

xf_status xf_est_choice(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, const char *def,
                        const char *const *choices, int *out) {
    const char *v = xf_params_str(p, method, key, def);
    for (int i = 0; choices[i]; i++)
        if (strcmp(v, choices[i]) == 0) { *out = i; return XF_OK; }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (i) strncat(list, "|", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    return XF_ERR(ctx, XF_ERR_INVALID, "parameter %s.%s: '%s' is not one of %s", method, key, v, list);
}

double *xf_est_to_double(xf_ws_t *ws, const float *F, int64_t N, int64_t D, int64_t ldF, int centre) {
    double *X = xf_ws_alloc(ws, (size_t)N * (size_t)D * sizeof *X); // (N, D)
    if (!X) return NULL;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) X[i * D + j] = F[i * ldF + j];
    if (centre) {
        double *mu = xf_ws_calloc(ws, (size_t)D, sizeof *mu); // (D)
        if (!mu) return NULL;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < D; j++) mu[j] += X[i * D + j];
        for (int64_t j = 0; j < D; j++) mu[j] /= (double)N;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < D; j++) X[i * D + j] -= mu[j];
    }
    return X;
}

/* Components kept by the optional PCA: the request clamped to min(N - 1, D) (see
 * estimatorsInt.h for why N - 1). */
static int64_t clamp_dims(int64_t dims, int64_t N, int64_t D) {
    if (dims > N - 1) dims = N - 1;
    if (dims > D) dims = D;
    return dims < 1 ? 1 : dims;
}

xf_status xf_est_pca(xf_ctx_t *ctx, const char *m, const xf_est_input *in, const xf_params *p, xf_ws_t *ws,
                     int64_t dims, double **X, int64_t *k) {
    const char *meth = xf_params_str(p, m, "pca", "exact");
    int64_t seed;
    xf_status st = xf_params_i64(ctx, p, m, "seed", 1919, &seed);
    if (st) return st;
    xf_pca_opts o;
    xf_pca_opts_default(&o);
    if (strcmp(meth, "exact") == 0) o.method = XF_PCA_EXACT;
    else if (strcmp(meth, "randomized") == 0) o.method = XF_PCA_RANDOMIZED;
    else return XF_ERR(ctx, XF_ERR_INVALID, "%s: parameter pca: '%s' is not exact or randomized", m, meth);
    o.k = clamp_dims(dims, in->N, in->D);
    o.power_iters = 1; /* PARC: iterated_power=1 */
    o.seed = (uint64_t)seed;
    return xf_la_pca(ws, in->F, in->N, in->D, in->ldF, &o, X, k, NULL);
}
