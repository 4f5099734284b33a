/* TransRate (Huang et al., "Frustratingly easy transferability estimation", ICML 2022,
 * Sec. 3): the coding-rate estimate of the mutual information between features and labels,
 *   TrR = R(Z, eps) - R(Z, eps | Y),
 *   R(Z, eps)     = 1/2 logdet(I_d + d / (n eps^2) Z^T Z)          (Z: n x d, centred)
 *   R(Z, eps | Y) = sum_c (n_c / n) R(Z_c, eps),  Z_c the n_c rows of class c (each R
 *                   with its own n_c inside), not re-centred.
 * variant=tllib reproduces the widely copied code (tllib transrate, also the paper's
 * listing): R = 1/2 logdet(I + 1/(n eps) Z^T Z) and a uniform average over classes,
 * TrR = R(Z) - (1/C) sum_c R(Z_c).
 *
 * Computation: logdet(I_d + c Z^T Z) = logdet(I_n + c Z Z^T) (Sylvester), so each rate
 * factors the smaller of the n x n Gram and the d x d scatter by Cholesky (I + c G is SPD
 * with eigenvalues >= 1): D = 2048 with 100 classes of 5 samples costs 100 Choleskys of
 * 5 x 5 instead of 100 of 2048 x 2048.
 * Empty classes carry no rows: weight 0 in the paper's sum; the tllib variant averages
 * over the classes that have samples (tllib itself would return NaN). */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const transrate_params[] = {
    "eps=1e-4  distortion epsilon (tllib default 1e-4; paper: d/(n eps^2) scaling)",
    "variant=paper  paper: d/(n eps^2) scaling, class terms weighted n_c/n; tllib: 1/(n eps) scaling, uniform class average",
    NULL};

/* log det G for G = I + c S (k x k, S positive semi-definite), destroyed. Cholesky while
 * the identity still registers against c S; once tr(c S) > 2^50 (features near the float
 * limits, or a tiny eps) rounding can make the factorisation fail, so the eigenvalues are
 * taken instead and clamped at 1, their exact lower bound. w: scratch of k doubles. */
static xf_status logdet_unit_shift(xf_ctx_t *ctx, int64_t k, double *G, double *w, double *out) {
    double tr = 0;
    for (int64_t i = 0; i < k; i++) tr += G[i * k + i] - 1.0;
    if (tr <= 0x1p50) return xf_la_logdet_spd(ctx, k, G, k, out);
    xf_status st = xf_la_eigh(ctx, k, G, k, w);
    if (st) return st;
    double ld = 0;
    for (int64_t i = 0; i < k; i++) ld += log(w[i] > 1.0 ? w[i] : 1.0);
    *out = ld;
    return XF_OK;
}

/* 1/2 logdet(I + scale * Z^T Z) for Z (n, d), through the smaller Gram. G: scratch of
 * min(n, d)^2 doubles, w of min(n, d). */
static xf_status rate(xf_ctx_t *ctx, const double *Z, int64_t n, int64_t d, double scale, double *G, double *w,
                      double *out) {
    int64_t k = n < d ? n : d;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) G[i * k + j] = (i == j);
    if (n <= d) xf_la_dsyrk(0, n, d, scale, Z, d, 1.0, G, n);
    else xf_la_dsyrk(1, d, n, scale, Z, d, 1.0, G, d);
    double ld;
    xf_status st = logdet_unit_shift(ctx, k, G, w, &ld);
    if (st) return st;
    *out = 0.5 * ld;
    return XF_OK;
}

static xf_status transrate_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws,
                               double *score) {
    const char *M = "transrate";
    int64_t N = in->N, D = in->D, C = in->C;
    double eps;
    int variant;
    static const char *const variants[] = {"paper", "tllib", NULL};
    xf_status st;
    if ((st = xf_params_f64(ctx, p, M, "eps", 1e-4, &eps))) return st;
    if ((st = xf_est_choice(ctx, p, M, "variant", "paper", variants, &variant))) return st;
    if (!(eps > 0)) return XF_ERR(ctx, XF_ERR_INVALID, "transrate: eps must be > 0");
    xf_la_set_threads(xf_ctx_threads(ctx));
    int64_t *cnt = xf_ws_alloc(ws, (size_t)C * sizeof *cnt);
    int64_t *start = xf_ws_alloc(ws, (size_t)(C + 1) * sizeof *start);
    if (!cnt || !start) return XF_ERR_NOMEM;
    if ((st = xf_est_class_counts(ctx, M, in->y, in->N, in->C, cnt))) return st;
    double *X = xf_est_to_double(ws, in->F, N, D, in->ldF, 1); // (N, D) centred
    double *Zs = xf_ws_alloc(ws, (size_t)N * (size_t)D * sizeof *Zs); // (N, D) rows sorted by class
    int64_t k = N < D ? N : D;
    double *G = xf_ws_alloc(ws, (size_t)k * (size_t)k * sizeof *G);
    double *w = xf_ws_alloc(ws, (size_t)D * sizeof *w); // (D) eigenvalues, see logdet_unit_shift
    if (!X || !Zs || !G || !w) return XF_ERR_NOMEM;
    start[0] = 0;
    for (int64_t c = 0; c < C; c++) start[c + 1] = start[c] + cnt[c];
    for (int64_t i = 0; i < N; i++) { /* counting sort of rows by class; cnt reused as cursor */
        int32_t c = in->y[i];
        int64_t r = start[c + 1] - cnt[c]--;
        memcpy(Zs + r * D, X + i * D, (size_t)D * sizeof *X);
    }
    for (int64_t c = 0; c < C; c++) cnt[c] = start[c + 1] - start[c];

    double dd = (double)D, e2 = variant == 0 ? eps * eps : eps, rz, rzy = 0;
    double sc_all = (variant == 0 ? dd : 1.0) / ((double)N * e2);
    int64_t nonempty = 0, small = 0;
    for (int64_t c = 0; c < C; c++) small += cnt[c] > 0 && cnt[c] <= D;
    /* When every class has more rows than D, Z^T Z = sum_c Z_c^T Z_c (the classes
     * partition the rows, and Z_c is not re-centred): sum the class scatters instead of a
     * second pass over all rows. */
    double *Sall = NULL;
    if (N > D && small == 0) {
        Sall = xf_ws_calloc(ws, (size_t)D * (size_t)D, sizeof *Sall); // (D, D)
        if (!Sall) return XF_ERR_NOMEM;
    } else if ((st = rate(ctx, X, N, D, sc_all, G, w, &rz)))
        return st;
    for (int64_t c = 0; c < C; c++) {
        if (!cnt[c]) continue;
        double r, nc = (double)cnt[c], sc = (variant == 0 ? dd : 1.0) / (nc * e2);
        if (Sall) { /* n_c > D: scatter, added to the total, then I + sc * scatter */
            xf_la_dsyrk(1, D, cnt[c], 1.0, Zs + start[c] * D, D, 0.0, G, D);
            for (int64_t i = 0; i < D * D; i++) {
                Sall[i] += G[i];
                G[i] *= sc;
            }
            for (int64_t i = 0; i < D; i++) G[i * D + i] += 1.0;
            double ld;
            if ((st = logdet_unit_shift(ctx, D, G, w, &ld))) return st;
            r = 0.5 * ld;
        } else if ((st = rate(ctx, Zs + start[c] * D, cnt[c], D, sc, G, w, &r)))
            return st;
        rzy += variant == 0 ? nc / (double)N * r : r;
        nonempty++;
    }
    if (Sall) {
        for (int64_t i = 0; i < D * D; i++) Sall[i] *= sc_all;
        for (int64_t i = 0; i < D; i++) Sall[i * D + i] += 1.0;
        double ld;
        if ((st = logdet_unit_shift(ctx, D, Sall, w, &ld))) return st;
        rz = 0.5 * ld;
    }
    *score = variant == 0 ? rz - rzy : rz - rzy / (double)nonempty;
    return XF_OK;
}

const xf_estimator xf_est_def_transrate = {
    .name = "transrate",
    .flags = XF_NEEDS_F,
    .summary = "TransRate: coding rate of features minus class-conditional coding rate (Huang et al. 2022)",
    .params = transrate_params,
    .fn = transrate_run,
};
