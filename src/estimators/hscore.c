/* H-score (Bao et al., ICIP 2019, Eq. 4): H = tr(cov(f)^-1 cov(E[f|y])), the feature
 * covariance explained by the class means, with the inverse a pseudo-inverse
 * (pinv(rcond=1e-15), as tllib h_score and PARC's HScore).
 *
 * Normalisation: both covariances use the same ddof (np.cov, ddof 1, in tllib), so the
 * trace does not depend on it; features are centred by the overall mean, and the class
 * means are taken of the centred features. With X the centred features (N x D), P the
 * N x N class-averaging projector (P_ij = 1/n_c when i, j are both in class c) and
 * B = [sqrt(n_c) mu_c] (D x C):
 *   cov(E[f|y]) = X^T P X / (N-1) = B B^T / (N-1),   H = tr(pinv(X^T X) B B^T).
 * N > D: xf_est_trace_pinv_quad on the D x D scatter (Cholesky when well conditioned,
 *        else eigh with pinv's cut).
 * N <= D: with X = U S V^T, H = ||P U_k||_F^2 = sum_{kept i} sum_c (sum_{j in c} U_ji)^2 / n_c,
 *        from the eigendecomposition of the N x N Gram X X^T: no D x D matrix at all. For
 *        centred features of full row rank N - 1 this is exactly C - 1 whatever the
 *        features (the degenerate regime of the H-score that PARC reports); that case is
 *        certified by one Cholesky of X X^T + s 11^T/N (condition < 1e9) and returned
 *        without the eigendecomposition.
 * Cut: an eigenvalue counts as zero below max(rcond, max(N, D) eps) * lambda_max; pinv's
 * rcond alone would keep rounding noise of the zero eigenvalues (the reference's D x D
 * pinv then adds noise / noise terms).
 * Options: dims > 0 projects on the top principal components first (exact PCA);
 * standardize = 1 scales each feature to unit population variance after the PCA (PARC's
 * HScore does PCA then StandardScaler). */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const hscore_params[] = {
    "dims=0  project on this many principal components first (exact PCA); 0: none",
    "standardize=0  1: scale features to zero mean, unit population variance (after PCA), as PARC",
    "rcond=1e-15  pinv cut relative to the largest covariance eigenvalue (tllib, PARC); never below max(N,D)*eps",
    NULL};

/* Shared by hscore and hscore-shrink: the (optionally PCA-reduced, standardised) centred
 * features, (N, *Dx) from ws. */
static xf_status prepare(xf_ctx_t *ctx, const xf_est_input *in, int64_t dims, int standardize, xf_ws_t *ws,
                         double **Xout, int64_t *Dx) {
    int64_t N = in->N, D = in->D;
    if (dims > 0) {
        xf_pca_opts o;
        xf_pca_opts_default(&o);
        o.method = XF_PCA_EXACT;
        o.k = dims;
        xf_status st = xf_la_pca(ws, in->F, N, D, in->ldF, &o, Xout, Dx, NULL);
        if (st) return st;
    } else {
        *Xout = xf_est_to_double(ws, in->F, N, D, in->ldF, 1);
        if (!*Xout) return XF_ERR_NOMEM;
        *Dx = D;
    }
    if (standardize) xf_la_standardize(*Xout, N, *Dx, *Dx);
    (void)ctx;
    return XF_OK;
}

static xf_status hscore_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    const char *M = "hscore";
    int64_t N = in->N, C = in->C, dims, standardize;
    double rcond;
    xf_status st;
    if ((st = xf_params_i64(ctx, p, M, "dims", 0, &dims))) return st;
    if ((st = xf_params_i64(ctx, p, M, "standardize", 0, &standardize))) return st;
    if ((st = xf_params_f64(ctx, p, M, "rcond", 1e-15, &rcond))) return st;
    if (dims < 0 || (standardize != 0 && standardize != 1) || !(rcond >= 0))
        return XF_ERR(ctx, XF_ERR_INVALID, "hscore: dims must be >= 0, standardize 0 or 1, rcond >= 0");
    xf_la_set_threads(xf_ctx_threads(ctx));
    int64_t *cnt = xf_ws_alloc(ws, (size_t)C * sizeof *cnt);
    if (!cnt) return XF_ERR_NOMEM;
    if ((st = xf_est_class_counts(ctx, M, in->y, in->N, in->C, cnt))) return st;
    double *X;
    int64_t D;
    if ((st = prepare(ctx, in, dims, (int)standardize, ws, &X, &D))) return st;

    if (N > D) {
        double *A = xf_ws_alloc(ws, (size_t)D * (size_t)D * sizeof *A); // (D, D) scatter X^T X
        if (!A) return XF_ERR_NOMEM;
        xf_la_dsyrk(1, D, N, 1.0, X, D, 0.0, A, D);
        double *B = xf_est_class_sums(ws, X, N, D, in->y, C, cnt, 1); // (D, C) sqrt(n_c) mu_c
        if (!B) return XF_ERR_NOMEM;
        return xf_est_trace_pinv_quad(ctx, ws, D, A, B, C, rcond, N, score, NULL);
    }
    double *G = xf_ws_alloc(ws, (size_t)N * (size_t)N * sizeof *G); // (N, N) Gram -> U
    double *lam = xf_ws_alloc(ws, (size_t)N * sizeof *lam);
    double *S = xf_ws_calloc(ws, (size_t)C * (size_t)N, sizeof *S); // (C, N) class sums of U's rows
    if (!G || !lam || !S) return XF_ERR_NOMEM;
    xf_la_dsyrk(0, N, D, 1.0, X, D, 0.0, G, N);
    {
        /* Fast path: when the centred rows span the whole complement of 1 (rank N - 1,
         * no eigenvalue near the cut), U_k U_k^T = I - 11^T/N and H = tr(P) - 1, the
         * number of populated classes minus one. The rank is certified by a Cholesky of
         * G + s 11^T/N (s = tr(G)/N fills the one null direction) with condition < 1e9. */
        double *Mq = xf_ws_alloc(ws, (size_t)N * (size_t)N * sizeof *Mq), *z = xf_ws_calloc(ws, (size_t)N, sizeof *z);
        if (!Mq || !z) return XF_ERR_NOMEM;
        double tr = 0;
        for (int64_t i = 0; i < N; i++) tr += G[i * N + i];
        double add = tr / ((double)N * (double)N);
        for (size_t i = 0; i < (size_t)N * (size_t)N; i++) Mq[i] = G[i] + add;
        double dummy;
        int ok;
        if ((st = xf_est_chol_trace(ctx, ws, N, Mq, z, 1, &dummy, &ok))) return st;
        if (ok) {
            int64_t ne = 0;
            for (int64_t c = 0; c < C; c++) ne += cnt[c] > 0;
            *score = (double)(ne - 1);
            return XF_OK;
        }
    }
    if ((st = xf_la_eigh(ctx, N, G, N, lam))) return st;
    for (int64_t j = 0; j < N; j++) {
        double *s = S + (int64_t)in->y[j] * N;
        const double *u = G + j * N;
        for (int64_t i = 0; i < N; i++) s[i] += u[i];
    }
    double cut = xf_est_rank_cut(lam[N - 1], rcond, N, D), h = 0;
    for (int64_t c = 0; c < C; c++) {
        if (!cnt[c]) continue;
        const double *s = S + c * N;
        double r = 0;
        for (int64_t i = 0; i < N; i++)
            if (lam[i] > cut) r += s[i] * s[i];
        h += r / (double)cnt[c];
    }
    *score = h;
    return XF_OK;
}

const xf_estimator xf_est_def_hscore = {
    .name = "hscore",
    .flags = XF_NEEDS_F,
    .summary = "H-score: tr(pinv(cov f) cov(E[f|y])) (Bao et al. 2019)",
    .params = hscore_params,
    .fn = hscore_run,
};
