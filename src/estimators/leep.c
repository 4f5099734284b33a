/* LEEP, the Log Expected Empirical Prediction (Nguyen et al., ICML 2020).
 *
 * From the source model's class probabilities theta (N x Z) on the target inputs and the
 * target labels y: the empirical joint P(y, z) = (1/N) sum_{i: y_i = y} theta_iz (Eq. 1),
 * the conditional P(y|z) = P(y, z) / P(z), and
 *     LEEP = (1/N) sum_i log sum_z P(y_i|z) theta_iz      (Eq. 2),
 * accumulated in float64. A source class z with P(z) = 0 has theta_iz = 0 for every i, so
 * its undefined column contributes nothing (thuml/LogME would give NaN there).
 * log=0 gives the no-log "mean probability" copy found in SFDA's and ETran's code. */
#include <math.h>

#include "estimators/estimatorsInt.h"

xf_status xf_est_leep_core(xf_ws_t *ws, const float *tf, const double *td, int64_t ld, int64_t N, int64_t K,
                           const int32_t *y, int64_t C, int use_log, double *score) {
    double *joint, *pz; // (C, K), (K)
    XF_WS_NEW(ws, joint, C * K);
    XF_WS_NEW(ws, pz, K);
    /* Eq. 1: P(y, z) = (1/N) sum_{i: y_i = y} theta_iz; the 1/N cancels in P(y|z) */
    for (int64_t i = 0; i < N; i++) {
        double *row = joint + (int64_t)y[i] * K;
        if (tf) {
            const float *t = tf + i * ld;
            for (int64_t z = 0; z < K; z++) row[z] += t[z];
        } else {
            const double *t = td + i * ld;
            for (int64_t z = 0; z < K; z++) row[z] += t[z];
        }
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t z = 0; z < K; z++) pz[z] += joint[c * K + z];
    /* P(y|z) = P(y,z) / P(z); a source class nobody is assigned any probability to has
     * theta_iz = 0 for every i, so its (undefined) column never contributes: set it to 0 */
    for (int64_t c = 0; c < C; c++)
        for (int64_t z = 0; z < K; z++) joint[c * K + z] = pz[z] > 0 ? joint[c * K + z] / pz[z] : 0.0;
    /* Eq. 2: T = (1/N) sum_i log sum_z P(y_i|z) theta_iz */
    double acc = 0;
    for (int64_t i = 0; i < N; i++) {
        const double *cond = joint + (int64_t)y[i] * K;
        double s = 0;
        if (tf) {
            const float *t = tf + i * ld;
            for (int64_t z = 0; z < K; z++) s += cond[z] * t[z];
        } else {
            const double *t = td + i * ld;
            for (int64_t z = 0; z < K; z++) s += cond[z] * t[z];
        }
        acc += use_log ? log(s) : s;
    }
    *score = acc / (double)N;
    return XF_OK;
}

static const char *const leep_params[] = {
    "log=1  1: mean log-likelihood (the paper, Eq. 2); 0: mean probability without the log, as the copies in "
    "the SFDA and ETran repositories",
    NULL};

static xf_status leep_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    int64_t use_log;
    xf_status st = xf_params_i64(ctx, p, "leep", "log", 1, &use_log);
    if (st) return st;
    if (use_log != 0 && use_log != 1) return XF_ERR(ctx, XF_ERR_INVALID, "leep: parameter log=%lld must be 0 or 1", (long long)use_log);
    int64_t Cp, *counts;
    int32_t *yd;
    if ((st = xf_est_classes(ctx, ws, "leep", in->y, in->N, in->C, &Cp, &yd, &counts))) return st;
    return xf_est_leep_core(ws, in->P, NULL, in->ldP, in->N, in->Z, in->y, in->C, use_log != 0, score);
}

const xf_estimator xf_est_def_leep = {
    .name = "leep",
    .flags = XF_NEEDS_P,
    .summary = "LEEP (Nguyen et al. 2020): mean log expected empirical prediction from source-class probabilities",
    .params = leep_params,
    .fn = leep_run,
};
