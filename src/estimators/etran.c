/* ETran (Gholami et al., ICCV 2023): energy + LDA transferability for classification.
 *
 * Per-model terms (mgholamikn/ETran metrics.py):
 *   S_en  = mean of the energies E_i = logsumexp_j f_ij (the "logits" are the penultimate
 *           features) over the lowest-energy subset of k samples. The released
 *           Energy_Score(percent=0.5, 'bot') takes k = floor(int(10 percent) N / 1000),
 *           i.e. 0.5% of N, which is 0 for N < 200 (mean of nothing = NaN); we keep that
 *           k but take at least one sample.
 *   S_lda = mean_i P(y_i | x_i) from a shrinkage LDA. The paper describes it as SFDA's
 *           first stage (lda=sfda, default: adaptive shrinkage, Sw^-1 posteriors). The
 *           released class calls eigh(inv(S) S_b) on a non-symmetric matrix; eigh returns
 *           an orthonormal V, so coef = means V V^T = means and the posteriors become
 *           softmax(x.mu_c - |mu_c|^2/2 + log pi_c), a nearest-mean rule: lda=released.
 * Across the bank (tw.py): min-max each term over the models, then
 *   score = 0.15 S_en' + 0.85 S_lda'.
 * fn() scores one model alone with the same weights on the raw terms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const etran_params[] = {
    "percent=0.5  energy subset: the lowest floor(int(10*percent)*N/1000) energies, at least one (released code)",
    "lda=sfda  sfda: shrinkage-LDA posteriors as the paper; released: the released code's nearest-mean posteriors",
    "power_iters=3  power-iteration rounds for the shrinkage (lda=sfda); 0 = exact eigenvalue",
    "w_energy=0.15  weight of the energy term (the LDA term gets 1 - w_energy)",
    NULL};

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static xf_status etran_terms(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *t) {
    double percent;
    int64_t pit;
    xf_status st;
    if ((st = xf_params_f64(ctx, p, "etran", "percent", 0.5, &percent)) ||
        (st = xf_params_i64(ctx, p, "etran", "power_iters", 3, &pit)))
        return st;
    const char *lda = xf_params_str(p, "etran", "lda", "sfda");
    int released = strcmp(lda, "released") == 0;
    if (!released && strcmp(lda, "sfda") != 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "etran: lda must be 'sfda' or 'released', got '%s'", lda);
    if (!(percent > 0 && percent <= 100)) return XF_ERR(ctx, XF_ERR_INVALID, "etran: percent must be in (0, 100]");
    if (pit < 0 || pit > 1000) return XF_ERR(ctx, XF_ERR_INVALID, "etran: power_iters must be in 0..1000");
    const int64_t N = in->N, D = in->D;
    int64_t Cp, *counts;
    int32_t *yd;
    if ((st = xf_est_classes(ctx, ws, "etran", in->y, N, in->C, &Cp, &yd, &counts))) return st;
    /* energy */
    double *e; // (N)
    XF_WS_NEW(ws, e, N);
    for (int64_t i = 0; i < N; i++) {
        const float *f = in->F + i * in->ldF;
        double mx = f[0], s = 0;
        for (int64_t j = 1; j < D; j++) mx = f[j] > mx ? f[j] : mx;
        for (int64_t j = 0; j < D; j++) s += exp((double)f[j] - mx);
        e[i] = mx + log(s);
    }
    qsort(e, (size_t)N, sizeof *e, cmp_d);
    int64_t k = (int64_t)(percent * 10) * N / 1000;
    if (k < 1) k = 1;
    if (k > N) k = N;
    double se = 0;
    for (int64_t i = 0; i < k; i++) se += e[i];
    t[0] = se / (double)k;
    /* LDA score */
    double *X = xf_est_to_double(ws, in->F, N, D, in->ldF, 0); // (N, D)
    if (!X) return XF_ERR_NOMEM;
    double *prob; // (N, Cp)
    XF_WS_NEW(ws, prob, N * Cp);
    if (released) {
        double *means; // (Cp, D)
        XF_WS_NEW(ws, means, Cp * D);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < D; j++) means[(int64_t)yd[i] * D + j] += X[i * D + j];
        for (int64_t c = 0; c < Cp; c++)
            for (int64_t j = 0; j < D; j++) means[c * D + j] /= (double)counts[c];
        xf_la_dgemm(0, 1, N, Cp, D, 1.0, X, D, means, D, 0.0, prob, Cp);
        xf_est_gaussian_posteriors(prob, N, Cp, counts, means, D, 1, means, D, 1, D);
    } else {
        double lam;
        if ((st = xf_est_lda_posterior(ws, X, N, D, yd, Cp, counts, -1.0, (int)pit, prob, &lam))) {
            xf_error_prefix(ctx, "etran");
            return st;
        }
    }
    double s = 0;
    for (int64_t i = 0; i < N; i++) s += prob[i * Cp + yd[i]];
    t[1] = s / (double)N;
    return XF_OK;
}

static xf_status etran_weight(xf_ctx_t *ctx, const xf_params *p, double *w) {
    xf_status st = xf_params_f64(ctx, p, "etran", "w_energy", 0.15, w);
    if (st) return st;
    if (!(*w >= 0 && *w <= 1)) return XF_ERR(ctx, XF_ERR_INVALID, "etran: w_energy must be in [0, 1]");
    return XF_OK;
}

static xf_status etran_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    double t[2], w;
    xf_status st;
    if ((st = etran_weight(ctx, p, &w)) || (st = etran_terms(ctx, in, p, ws, t))) return st;
    *score = w * t[0] + (1 - w) * t[1];
    return XF_OK;
}

static xf_status etran_combine(xf_ctx_t *ctx, int64_t M, const double *terms, const xf_params *p, double *scores) {
    double w;
    xf_status st = etran_weight(ctx, p, &w);
    if (st) return st;
    if (M < 1) return XF_ERR(ctx, XF_ERR_INVALID, "etran: no models to combine");
    for (int64_t i = 0; i < 2 * M; i++)
        if (!isfinite(terms[i])) return XF_ERR(ctx, XF_ERR_NUMERIC, "etran: non-finite term for model %lld", (long long)(i / 2));
    double *a = xf_malloc(ctx, (size_t)(2 * M) * sizeof *a);
    if (!a) return XF_ERR_NOMEM;
    xf_est_minmax_col(terms, M, 2, 0, a);
    xf_est_minmax_col(terms, M, 2, 1, a + M);
    for (int64_t i = 0; i < M; i++) scores[i] = w * a[i] + (1 - w) * a[M + i];
    xf_free(ctx, a);
    return XF_OK;
}

const xf_estimator xf_est_def_etran = {
    .name = "etran",
    .flags = XF_NEEDS_F,
    .summary = "ETran (Gholami et al. 2023): energy of the lowest-energy samples + shrinkage-LDA score, "
               "min-max combined across the bank",
    .params = etran_params,
    .fn = etran_run,
    .nterms = 2,
    .terms = etran_terms,
    .combine = etran_combine,
};
