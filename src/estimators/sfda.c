/* SFDA, Self-challenging Fisher Discriminant Analysis (Shao et al., ECCV 2022), as in
 * TencentARC/SFDA metrics.py (SFDA, SFDA_Score).
 *
 *  1. shrinkage LDA on the features with lam = max(exp(-5 lambda_max(S_w)), 1e-10),
 *     lambda_max from 3 rounds of the published power iteration (power_iters=0: exact);
 *  2. posteriors p(y|x), softened by a second softmax over the probabilities;
 *  3. ConfMix: x~_i = p_i x_i + (1 - p_i) mu_{-y_i}, p_i the softened probability of the
 *     true class, mu_{-y} the mean of the other classes' means;
 *  4. the LDA refitted on x~ with the same lam;
 *  5. score = mean_i P(y_i | x~_i), with no log (as published: "the log function is
 *     ignored in case of instability").
 * The LDA posterior uses one SPD solve instead of the published generalised eigenproblem
 * (equal in exact arithmetic, see lda.c). Classes without samples are dropped, as
 * np.unique does in the published code. */
#include <math.h>

#include "estimators/estimatorsInt.h"

static const char *const sfda_params[] = {
    "power_iters=3  rounds of SFDA's power iteration for lambda_max(S_w); 0 = exact eigenvalue",
    NULL};

static xf_status sfda_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    int64_t pit;
    xf_status st = xf_params_i64(ctx, p, "sfda", "power_iters", 3, &pit);
    if (st) return st;
    if (pit < 0 || pit > 1000) return XF_ERR(ctx, XF_ERR_INVALID, "sfda: power_iters must be in 0..1000");
    const int64_t N = in->N, D = in->D;
    int64_t Cp, *counts;
    int32_t *yd;
    if ((st = xf_est_classes(ctx, ws, "sfda", in->y, N, in->C, &Cp, &yd, &counts))) return st;
    double *X = xf_est_to_double(ws, in->F, N, D, in->ldF, 0); // (N, D)
    if (!X) return XF_ERR_NOMEM;
    double *prob, *means, *others, lam; // (N, Cp), (Cp, D), (D)
    XF_WS_NEW(ws, prob, N * Cp);
    XF_WS_NEW(ws, means, Cp * D);
    XF_WS_NEW(ws, others, D);
    if ((st = xf_est_lda_posterior(ws, X, N, D, yd, Cp, counts, -1.0, (int)pit, prob, &lam))) {
        xf_error_prefix(ctx, "sfda");
        return st;
    }
    /* soften: softmax over the probabilities */
    xf_est_softmax_rows(prob, N, Cp);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) means[(int64_t)yd[i] * D + j] += X[i * D + j];
    for (int64_t c = 0; c < Cp; c++)
        for (int64_t j = 0; j < D; j++) means[c * D + j] /= (double)counts[c];
    for (int64_t j = 0; j < D; j++) {
        double s = 0;
        for (int64_t c = 0; c < Cp; c++) s += means[c * D + j];
        others[j] = s;
    }
    /* ConfMix */
    for (int64_t i = 0; i < N; i++) {
        int64_t c = yd[i];
        double pi = prob[i * Cp + c];
        for (int64_t j = 0; j < D; j++) {
            double mo = (others[j] - means[c * D + j]) / (double)(Cp - 1);
            X[i * D + j] = pi * X[i * D + j] + (1.0 - pi) * mo;
        }
    }
    double lam2;
    if ((st = xf_est_lda_posterior(ws, X, N, D, yd, Cp, counts, lam, (int)pit, prob, &lam2))) {
        xf_error_prefix(ctx, "sfda");
        return st;
    }
    double s = 0;
    for (int64_t i = 0; i < N; i++) s += prob[i * Cp + yd[i]];
    *score = s / (double)N;
    return XF_OK;
}

const xf_estimator xf_est_def_sfda = {
    .name = "sfda",
    .flags = XF_NEEDS_F,
    .summary = "SFDA (Shao et al. 2022): shrinkage-LDA posterior of the true class after ConfMix self-challenging",
    .params = sfda_params,
    .fn = sfda_run,
};
