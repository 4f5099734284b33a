/* Regularised H-score (Ibrahim, Ponomareva, Mazumder, "Newer is not always better:
 * rethinking transferability metrics, their peculiarities, stability and performance",
 * ECML-PKDD 2022): the H-score with the feature covariance replaced by its Ledoit-Wolf
 * shrinkage estimate,
 *   H_a = tr(pinv(S_a) (1 - a) cov(E[f|y])),   S_a = (1 - a) S + a mu I,
 * S = X^T X / N the (ddof 0) covariance of the centred features X, mu = tr(S)/D and a the
 * Ledoit-Wolf shrinkage, exactly as tllib's regularized_h_score (sklearn LedoitWolf on
 * centred features; cov(E[f|y]) by np.cov, ddof 1, of the class-mean-replaced features).
 *
 * Ledoit-Wolf shrinkage (sklearn ledoit_wolf_shrinkage, Ledoit & Wolf 2004) in closed form
 * without any D x D matrix beyond what the trace needs:
 *   delta_ = ||X^T X||_F^2 / N^2 (= ||X X^T||_F^2 / N^2),  beta_ = sum_i ||x_i||^4,
 *   beta = (beta_/N - delta_) / (D N),  delta = (delta_ - D mu^2) / D,
 *   a = min(beta, delta) / delta   (0 when D = 1 or the minimum is 0).
 * Trace, with B = [sqrt(n_c) mu_c] (D x C) so that cov(E[f|y]) = B B^T / (N-1):
 * N > D: H = (1-a)/(N-1) tr(pinv(S_a) B B^T) through xf_est_trace_pinv_quad (S_a is
 *        well conditioned when a > 0, so this is one Cholesky and a triangular solve).
 * N <= D: with X = U diag(s) V^T from the N x N Gram, S_a = V diag(a_i) V^T + a mu (I - V V^T),
 *        a_i = (1-a) s_i^2/N + a mu, and B B^T lies in span(V), so
 *        H = (1-a)/(N-1) sum_i s_i^2 (U^T P U)_ii / a_i with P the class-averaging
 *        projector ((U^T P U)_ii = sum_c (sum_{j in c} U_ji)^2 / n_c).
 *        When a > 0 and cond(M) < 1e9 for M = (1-a) X X^T/N + a mu I, the same number is
 *        N/(N-1) (C' - a mu tr(E^T M^-1 E)) by one Cholesky (see the code).
 * pinv's cut (rcond 1e-15, floored at max(N, D) eps) applies to the a_i relative to the
 * largest; it only bites when a = 0. */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const hscore_shrink_params[] = {
    "rcond=1e-15  pinv cut relative to the largest eigenvalue of the shrunk covariance; never below max(N,D)*eps",
    NULL};

static xf_status hscore_shrink_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws,
                                   double *score) {
    const char *M = "hscore-shrink";
    int64_t N = in->N, D = in->D, C = in->C;
    double rcond;
    xf_status st;
    if ((st = xf_params_f64(ctx, p, M, "rcond", 1e-15, &rcond))) return st;
    if (!(rcond >= 0)) return XF_ERR(ctx, XF_ERR_INVALID, "hscore-shrink: rcond must be >= 0");
    xf_la_set_threads(xf_ctx_threads(ctx));
    int64_t *cnt = xf_ws_alloc(ws, (size_t)C * sizeof *cnt);
    if (!cnt) return XF_ERR_NOMEM;
    if ((st = xf_est_class_counts(ctx, M, in->y, in->N, in->C, cnt))) return st;
    double *X = xf_est_to_double(ws, in->F, N, D, in->ldF, 1); // (N, D) centred
    if (!X) return XF_ERR_NOMEM;

    /* mu and beta_ from the rows */
    double fro2 = 0, beta_ = 0;
    for (int64_t i = 0; i < N; i++) {
        double r = 0;
        for (int64_t j = 0; j < D; j++) r += X[i * D + j] * X[i * D + j];
        fro2 += r;
        beta_ += r * r;
    }
    double mu = fro2 / ((double)N * (double)D);
    int64_t k = N > D ? D : N;
    double *G = xf_ws_alloc(ws, (size_t)k * (size_t)k * sizeof *G); // (k, k): X^T X or X X^T
    if (!G) return XF_ERR_NOMEM;
    if (N > D) xf_la_dsyrk(1, D, N, 1.0, X, D, 0.0, G, D);
    else xf_la_dsyrk(0, N, D, 1.0, X, D, 0.0, G, N);
    double g2 = 0;
    for (size_t i = 0; i < (size_t)k * (size_t)k; i++) g2 += G[i] * G[i];
    double delta_ = g2 / ((double)N * (double)N);
    double beta = (beta_ / (double)N - delta_) / ((double)D * (double)N);
    double delta = (delta_ - (double)D * mu * mu) / (double)D;
    if (beta > delta) beta = delta;
    double a = (D == 1 || beta == 0 || !(delta > 0)) ? 0.0 : beta / delta;

    if (N > D) {
        /* S_a = (1-a) X^T X / N + a mu I, in place */
        for (int64_t i = 0; i < D; i++) {
            for (int64_t j = 0; j < D; j++) G[i * D + j] *= (1.0 - a) / (double)N;
            G[i * D + i] += a * mu;
        }
        double *B = xf_est_class_sums(ws, X, N, D, in->y, C, cnt, 1); // (D, C) sqrt(n_c) mu_c
        if (!B) return XF_ERR_NOMEM;
        double t;
        if ((st = xf_est_trace_pinv_quad(ctx, ws, D, G, B, C, rcond, N, &t, NULL))) return st;
        *score = (1.0 - a) / (double)(N - 1) * t;
        return XF_OK;
    }
    if (a > 0) {
        /* Fast path without the eigendecomposition: with M = (1-a) G/N + a mu I (the
         * shrunk covariance on the row space), G M^-1 = N/(1-a) (I - a mu M^-1), so
         * H = N/(N-1) (C' - a mu tr(E^T M^-1 E)), C' the populated classes and E (N x C)
         * the class indicators scaled by 1/sqrt(n_c). Taken when Cholesky certifies
         * cond(M) < 1e9, i.e. no eigenvalue of S_a near pinv's cut. */
        double *Mq = xf_ws_alloc(ws, (size_t)N * (size_t)N * sizeof *Mq);
        double *E = xf_ws_calloc(ws, (size_t)N * (size_t)C, sizeof *E); // (N, C)
        if (!Mq || !E) return XF_ERR_NOMEM;
        for (int64_t i = 0; i < N; i++) {
            for (int64_t j = 0; j < N; j++) Mq[i * N + j] = (1.0 - a) / (double)N * G[i * N + j];
            Mq[i * N + i] += a * mu;
            E[i * C + in->y[i]] = 1.0 / sqrt((double)cnt[in->y[i]]);
        }
        double t;
        int ok;
        if ((st = xf_est_chol_trace(ctx, ws, N, Mq, E, C, &t, &ok))) return st;
        if (ok) {
            int64_t ne = 0;
            for (int64_t c = 0; c < C; c++) ne += cnt[c] > 0;
            *score = (double)N / (double)(N - 1) * ((double)ne - a * mu * t);
            return XF_OK;
        }
    }
    double *lam = xf_ws_alloc(ws, (size_t)N * sizeof *lam);
    double *S = xf_ws_calloc(ws, (size_t)C * (size_t)N, sizeof *S); // (C, N) class sums of U's rows
    double *q = xf_ws_calloc(ws, (size_t)N, sizeof *q);             // (N) (U^T P U)_ii
    if (!lam || !S || !q) return XF_ERR_NOMEM;
    if ((st = xf_la_eigh(ctx, N, G, N, lam))) return st;
    for (int64_t j = 0; j < N; j++) {
        double *s = S + (int64_t)in->y[j] * N;
        const double *u = G + j * N;
        for (int64_t i = 0; i < N; i++) s[i] += u[i];
    }
    for (int64_t c = 0; c < C; c++)
        if (cnt[c])
            for (int64_t i = 0; i < N; i++) q[i] += S[c * N + i] * S[c * N + i] / (double)cnt[c];
    double amax = (1.0 - a) * (lam[N - 1] > 0 ? lam[N - 1] : 0) / (double)N + a * mu;
    double cut = xf_est_rank_cut(amax, rcond, N, D), h = 0;
    for (int64_t i = 0; i < N; i++) {
        double l = lam[i] > 0 ? lam[i] : 0, ai = (1.0 - a) * l / (double)N + a * mu;
        if (ai > cut) h += l * q[i] / ai;
    }
    *score = (1.0 - a) / (double)(N - 1) * h;
    return XF_OK;
}

const xf_estimator xf_est_def_hscore_shrink = {
    .name = "hscore-shrink",
    .flags = XF_NEEDS_F,
    .summary = "regularised H-score with Ledoit-Wolf shrinkage of the feature covariance (Ibrahim et al. 2022)",
    .params = hscore_shrink_params,
    .fn = hscore_shrink_run,
};
