/* NCTI (Wang et al., ICCV 2023, "How far pre-trained models are from neural collapse on
 * the target dataset"), as in BUserName/NCTI metrics.py NCTI_Score and the combination in
 * evaluate_metric_group1_cpu.py.
 *
 * Per-model terms:
 *   1. PCA to `dims` (64) components (exact; the released sklearn call picks an unseeded
 *      randomised solver); at most min(N - 1, D), and components whose explained variance
 *      ratio is <= 1e-12 are dropped (sklearn would fail or amplify rounding noise).
 *   2. LDA: sklearn's 'eigen' solver with shrinkage exp(-sum of the top-32 explained
 *      variances), or its 'svd' solver when that falls to the 1e-10 floor.
 *   3. S_seli = nuclear norm of the column-centred LDA projection (N x min(C-1, rank));
 *   4. S_ncc  = mean LDA posterior of the true class;
 *   5. S_vc   = log sum_c ||P_c||_*, P_c the posterior rows of class c.
 * Across the bank: min-max each term over the models, score = S_ncc' + S_seli' - S_vc'.
 * fn() scores one model alone by the raw S_ncc + S_seli - S_vc. */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const ncti_params[] = {
    "dims=64  PCA components (clamped to min(N, D))",
    "top=32  the shrinkage is exp(-sum of the top explained variances)",
    "pca=exact  exact: exact PCA; randomized: Halko et al. randomized PCA (what sklearn's default solver picks "
    "in the released code, there unseeded)",
    "seed=0  seed of the randomized PCA",
    NULL};

static xf_status ncti_terms(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *t) {
    int64_t dims, top, seed;
    xf_status st;
    if ((st = xf_params_i64(ctx, p, "ncti", "dims", 64, &dims)) || (st = xf_params_i64(ctx, p, "ncti", "top", 32, &top)) ||
        (st = xf_params_i64(ctx, p, "ncti", "seed", 0, &seed)))
        return st;
    const char *pm = xf_params_str(p, "ncti", "pca", "exact");
    int randomized = strcmp(pm, "randomized") == 0;
    if (!randomized && strcmp(pm, "exact") != 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "ncti: pca must be 'exact' or 'randomized', got '%s'", pm);
    if (dims < 1 || top < 1) return XF_ERR(ctx, XF_ERR_INVALID, "ncti: dims and top must be >= 1");
    const int64_t N = in->N, D = in->D;
    int64_t Cp, *counts;
    int32_t *yd;
    if ((st = xf_est_classes(ctx, ws, "ncti", in->y, N, in->C, &Cp, &yd, &counts))) return st;
    int64_t mn = N < D ? N : D;
    int64_t kmax = N - 1 < D ? N - 1 : D; /* centred data has rank <= N - 1 */
    double *evr, *X; // (min(N, D)), (N, k)
    XF_WS_NEW(ws, evr, mn);
    xf_pca_opts po;
    xf_pca_opts_default(&po);
    po.k = dims < kmax ? dims : kmax;
    if (randomized) {
        po.method = XF_PCA_RANDOMIZED;
        po.seed = (uint64_t)seed;
    }
    int64_t k, kx;
    if ((st = xf_la_pca(ws, in->F, N, D, in->ldF, &po, &X, &kx, evr))) return st;
    /* drop numerically null components (constant features, N <= D): their scores are
     * rounding noise that the 'svd' solver would rescale to unit variance */
    for (k = 0; k < kx && evr[k] > 1e-12; k++) {}
    if (k < 1) return XF_ERR(ctx, XF_ERR_NUMERIC, "ncti: features have no variance");
    if (k < kx)
        for (int64_t i = 0; i < N; i++) memmove(X + i * k, X + i * kx, (size_t)k * sizeof *X);
    /* explained variances (ddof 1) = ratio * total variance; row-wise passes */
    double *cm, *cv; // (D), (D)
    XF_WS_NEW(ws, cm, D);
    XF_WS_NEW(ws, cv, D);
    for (int64_t i = 0; i < N; i++) {
        const float *f = in->F + i * in->ldF;
        for (int64_t j = 0; j < D; j++) cm[j] += f[j];
    }
    for (int64_t j = 0; j < D; j++) cm[j] /= (double)N;
    for (int64_t i = 0; i < N; i++) {
        const float *f = in->F + i * in->ldF;
        for (int64_t j = 0; j < D; j++) {
            double d = f[j] - cm[j];
            cv[j] += d * d;
        }
    }
    double tot = 0;
    for (int64_t j = 0; j < D; j++) tot += cv[j] / (double)(N - 1);
    double sev = 0;
    for (int64_t j = 0; j < top && j < k; j++) sev += evr[j] * tot;
    double lam = exp(-sev);
    double *prob, *Z; // (N, Cp), (N, kz)
    int64_t kz;
    XF_WS_NEW(ws, prob, N * Cp);
    if (lam <= 1e-10) {
        st = xf_est_lda_svd(ws, X, N, k, yd, Cp, counts, &Z, &kz, prob);
    } else {
        double l2;
        st = xf_est_lda_eigen_transform(ws, X, N, k, yd, Cp, counts, lam, &Z, &kz);
        if (!st) st = xf_est_lda_posterior(ws, X, N, k, yd, Cp, counts, lam, 0, prob, &l2);
    }
    if (st) {
        xf_error_prefix(ctx, "ncti");
        return st;
    }
    /* S_seli */
    for (int64_t c = 0; c < kz; c++) {
        double m = 0;
        for (int64_t i = 0; i < N; i++) m += Z[i * kz + c];
        m /= (double)N;
        for (int64_t i = 0; i < N; i++) Z[i * kz + c] -= m;
    }
    if ((st = xf_est_nuclear(ws, Z, N, kz, kz, &t[0]))) return st;
    /* S_ncc */
    double s = 0;
    for (int64_t i = 0; i < N; i++) s += prob[i * Cp + yd[i]];
    t[1] = s / (double)N;
    /* S_vc: gather each class's posterior rows */
    double *Pc, vc = 0; // (n_c, Cp)
    int64_t nmax = 0;
    for (int64_t c = 0; c < Cp; c++) nmax = counts[c] > nmax ? counts[c] : nmax;
    XF_WS_NEW(ws, Pc, nmax * Cp);
    for (int64_t c = 0; c < Cp; c++) {
        int64_t n = 0;
        for (int64_t i = 0; i < N; i++)
            if (yd[i] == c) memcpy(Pc + (n++) * Cp, prob + i * Cp, (size_t)Cp * sizeof *Pc);
        double nu;
        if ((st = xf_est_nuclear(ws, Pc, n, Cp, Cp, &nu))) return st;
        vc += nu;
    }
    t[2] = log(vc);
    return XF_OK;
}

static xf_status ncti_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    double t[3];
    xf_status st = ncti_terms(ctx, in, p, ws, t);
    if (st) return st;
    *score = t[1] + t[0] - t[2];
    return XF_OK;
}

static xf_status ncti_combine(xf_ctx_t *ctx, int64_t M, const double *terms, const xf_params *p, double *scores) {
    if (M < 1) return XF_ERR(ctx, XF_ERR_INVALID, "ncti: no models to combine");
    for (int64_t i = 0; i < 3 * M; i++)
        if (!isfinite(terms[i])) return XF_ERR(ctx, XF_ERR_NUMERIC, "ncti: non-finite term for model %lld", (long long)(i / 3));
    double *a = xf_malloc(ctx, (size_t)(3 * M) * sizeof *a);
    if (!a) return XF_ERR_NOMEM;
    for (int t = 0; t < 3; t++) xf_est_minmax_col(terms, M, 3, t, a + t * M);
    for (int64_t i = 0; i < M; i++) scores[i] = a[M + i] + a[i] - a[2 * M + i];
    xf_free(ctx, a);
    return XF_OK;
}

const xf_estimator xf_est_def_ncti = {
    .name = "ncti",
    .flags = XF_NEEDS_F,
    .summary = "NCTI (Wang et al. 2023): neural-collapse terms (S_seli, S_ncc, S_vc) after PCA 64 and LDA, "
               "min-max combined across the bank",
    .params = ncti_params,
    .fn = ncti_run,
    .nterms = 3,
    .terms = ncti_terms,
    .combine = ncti_combine,
};
