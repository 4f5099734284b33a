/* LogME (You et al., ICML 2021; JMLR 2022 "Ranking and tuning pre-trained models"):
 * the maximum evidence of a Bayesian linear model from features to each one-hot class
 * column, averaged over classes and divided by N.
 *
 * For target y (N) the model is y = F w + noise, w ~ N(0, alpha^-1 I_D), noise ~
 * N(0, beta^-1). With A = alpha I + beta F^T F and m = beta A^-1 F^T y the log evidence is
 *   L = D/2 log alpha + N/2 log beta - N/2 log 2pi - beta/2 ||F m - y||^2
 *       - alpha/2 m^T m - 1/2 log|A|                                (JMLR Eq. 2)
 * maximised over alpha, beta by MacKay's fixed point (JMLR Alg. 3) on the spectrum of
 * F: with sigma_i^2 the eigenvalues of F^T F, z = U^T y (U the left singular vectors) and
 * t = alpha / beta,
 *   gamma = sum sigma^2/(t + sigma^2), m^T m = sum sigma^2 z^2/(t + sigma^2)^2,
 *   ||Fm - y||^2 = sum z^2/(1 + sigma^2/t)^2 + (||y||^2 - ||z||^2),
 *   alpha <- gamma/(m^T m + 1e-5), beta <- (N - gamma)/(||Fm - y||^2 + 1e-5),
 * stopping when |t' - t|/t <= tol or after max_iter (11) iterations, as thuml/LogME.
 *
 * N < D (thuml/LogME#23, fix PR #24): A is D x D, so log|A| = sum over ALL D dimensions
 * of log(alpha + beta sigma_i^2), with sigma_i = 0 beyond the rank; the released code sums
 * only over the k <= N computed singular values. Here log|A| = sum_{i<k} log(alpha + beta
 * sigma_i^2) + (D - k) log alpha. gamma, m^T m and the residual need no change: a zero
 * sigma adds 0 to gamma and m^T m, and its z^2 lands in the residual.
 *
 * Decomposition, once for all classes: eigh of F^T F (D x D) when N > D, with z_i =
 * (V^T F^T y)_i / sigma_i; eigh of the Gram F F^T (N x N) when N <= D, whose eigenvectors
 * are U directly (same nonzero spectrum, no division). Eigenvalues below lambda_max *
 * max(N, D) * eps are treated as exact zeros (numerical rank), for which the N > D path
 * carries no z (it would be rounding noise divided by rounding noise).
 * variant=icml: the ICML 2021 iteration (thuml _fit_icml with each_evidence, which
 * decomposes the full D x D F^T F and so was never affected by the N < D bug), on the same
 * decomposition: w = V^T F^T y = sigma z.
 * Cost: N D min(N, D) for the Gram + min(N, D)^3 for eigh + O(N D + C min(N,D)) per class.
 */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const logme_params[] = {
    "tol=1e-3  relative change of alpha/beta that stops the iteration (thuml/LogME: 1e-3; 1e-2 for variant=icml)",
    "max_iter=11  fixed-point iterations at most (thuml/LogME: 11)",
    "variant=fixed  fixed: JMLR fixed point, log|A| over all D dimensions (PR #24); published: the released fixed point's sum over the computed singular values only (wrong when N < D); icml: the ICML 2021 iteration (thuml _fit_icml / each_evidence, tol 1e-2 by default)",
    NULL};

static xf_status logme_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    const char *M = "logme";
    int64_t N = in->N, D = in->D, C = in->C;
    double tol;
    int64_t max_iter;
    int variant;
    static const char *const variants[] = {"fixed", "published", "icml", NULL};
    xf_status st;
    if ((st = xf_est_choice(ctx, p, M, "variant", "fixed", variants, &variant))) return st;
    if ((st = xf_params_f64(ctx, p, M, "tol", variant == 2 ? 1e-2 : 1e-3, &tol))) return st;
    if ((st = xf_params_i64(ctx, p, M, "max_iter", 11, &max_iter))) return st;
    if (!(tol >= 0) || max_iter < 1 || max_iter > 100000)
        return XF_ERR(ctx, XF_ERR_INVALID, "logme: tol must be >= 0 and max_iter in 1..100000");
    xf_la_set_threads(xf_ctx_threads(ctx));

    int64_t *cnt = xf_ws_alloc(ws, (size_t)C * sizeof *cnt);
    if (!cnt) return XF_ERR_NOMEM;
    if ((st = xf_est_class_counts(ctx, M, in->y, in->N, in->C, cnt))) return st;

    double *X = xf_est_to_double(ws, in->F, N, D, in->ldF, 0); // (N, D), not centred (LogME has no intercept)
    if (!X) return XF_ERR_NOMEM;
    int64_t k = N > D ? D : N;                                  // size of the decomposed matrix
    double *E = xf_ws_alloc(ws, (size_t)k * (size_t)k * sizeof *E); // (k, k) -> eigenvectors
    double *lam = xf_ws_alloc(ws, (size_t)k * sizeof *lam);     // (k) eigenvalues = sigma^2
    double *Z = xf_ws_calloc(ws, (size_t)k * (size_t)C, sizeof *Z); // (k, C) z per class
    if (!E || !lam || !Z) return XF_ERR_NOMEM;

    double cut;
    if (N > D) {
        xf_la_dsyrk(1, D, N, 1.0, X, D, 0.0, E, D); /* F^T F */
        if ((st = xf_la_eigh(ctx, D, E, D, lam))) return st;
        double *B = xf_est_class_sums(ws, X, N, D, in->y, C, cnt, 0); // (D, C) F^T Y
        if (!B) return XF_ERR_NOMEM;
        xf_la_dgemm(1, 0, D, C, D, 1.0, E, D, B, C, 0.0, Z, C); /* V^T F^T Y */
        cut = xf_est_rank_cut(lam[D - 1], 0, N, D);
        for (int64_t i = 0; i < D; i++) {
            double s = sqrt(lam[i] > 0 ? lam[i] : 0);
            /* thuml keeps sigma > 1e-10 only; a dropped direction has no z. The fixed
             * variant also drops directions below the numerical rank (their z would be
             * rounding noise over rounding noise; in practice tiny). */
            if ((variant == 0 && !(lam[i] > cut)) || !(s > 1e-10)) {
                lam[i] = 0;
                for (int64_t c = 0; c < C; c++) Z[i * C + c] = 0;
            } else
                for (int64_t c = 0; c < C; c++) Z[i * C + c] /= s;
        }
    } else {
        xf_la_dsyrk(0, N, D, 1.0, X, D, 0.0, E, N); /* F F^T */
        if ((st = xf_la_eigh(ctx, N, E, N, lam))) return st;
        for (int64_t j = 0; j < N; j++) { /* z = U^T y_c: class sums of U's rows */
            const double *uj = E + j * N;
            int32_t c = in->y[j];
            for (int64_t i = 0; i < N; i++) Z[i * C + c] += uj[i];
        }
        cut = xf_est_rank_cut(lam[N - 1], 0, N, D);
        for (int64_t i = 0; i < N; i++)
            if (!(lam[i] > cut)) lam[i] = 0;
    }
    int64_t rank = 0;
    for (int64_t i = 0; i < k; i++) rank += lam[i] > 0;

    const double eps = 1e-5, l2pi = log(2.0 * M_PI);
    double total = 0;
    for (int64_t c = 0; c < C; c++) {
        double z2sum = 0;
        for (int64_t i = 0; i < k; i++) z2sum += Z[i * C + c] * Z[i * C + c];
        double res_x2 = (double)cnt[c] - z2sum; /* ||y||^2 - ||z||^2, y one-hot */
        double alpha = 1.0, beta = 1.0, m2 = 0, res2 = 0;
        if (variant == 2) {
            /* ICML 2021 (thuml each_evidence) in the eigenbasis: w = V^T F^T y = sigma z,
             * m = V (beta w / (alpha + beta s)), updates of alpha then beta from the same m,
             * stop when alpha/beta moves by less than tol relative; the evidence adds the
             * 1e-5 to both squared norms as the released code. */
            double lamr = 1.0, ade = 0, bde = 0;
            for (int64_t it = 0; it < max_iter; it++) {
                double gamma = 0, mw = 0, sm2 = 0;
                ade = 0;
                for (int64_t i = 0; i < k; i++) {
                    double s = lam[i], w = sqrt(s) * Z[i * C + c], mt = beta * w / (alpha + beta * s);
                    gamma += s / (s + lamr);
                    ade += mt * mt;
                    mw += mt * w;
                    sm2 += s * mt * mt;
                }
                alpha = gamma / (ade + eps);
                bde = (double)cnt[c] - 2.0 * mw + sm2;
                beta = ((double)N - gamma) / (bde + eps);
                double nl = alpha / beta;
                if (fabs(nl - lamr) / lamr < tol) break;
                lamr = nl;
            }
            double logdetA = (double)(D - rank) * log(alpha);
            for (int64_t i = 0; i < k; i++)
                if (lam[i] > 0) logdetA += log(alpha + beta * lam[i]);
            double ev = (double)D / 2.0 * log(alpha) + (double)N / 2.0 * log(beta) - 0.5 * logdetA -
                        beta / 2.0 * (bde + eps) - alpha / 2.0 * (ade + eps) - (double)N / 2.0 * l2pi;
            total += ev / (double)N;
            continue;
        }
        for (int64_t it = 0; it < max_iter; it++) {
            double t = alpha / beta, gamma = 0;
            m2 = 0;
            res2 = res_x2;
            for (int64_t i = 0; i < k; i++) {
                double s = lam[i], x2 = Z[i * C + c] * Z[i * C + c], ts = t + s;
                gamma += s / ts;
                m2 += s * x2 / (ts * ts);
                double q = 1.0 + s / t;
                res2 += x2 / (q * q);
            }
            alpha = gamma / (m2 + eps);
            beta = ((double)N - gamma) / (res2 + eps);
            double t2 = alpha / beta;
            if (fabs(t2 - t) / t <= tol) break;
        }
        double logdetA = 0;
        for (int64_t i = 0; i < k; i++)
            /* published: the N <= D SVD keeps all N values (zeros included), the N > D
             * truncated SVD only the kept ones */
            if (lam[i] > 0 || (variant == 1 && N <= D)) logdetA += log(alpha + beta * lam[i]);
        if (variant == 0) logdetA += (double)(D - rank) * log(alpha); /* sigma = 0 beyond the rank */
        double ev = (double)D / 2.0 * log(alpha) + (double)N / 2.0 * log(beta) - 0.5 * logdetA - beta / 2.0 * res2 -
                    alpha / 2.0 * m2 - (double)N / 2.0 * l2pi;
        total += ev / (double)N;
    }
    *score = total / (double)C;
    if (!isfinite(*score)) return XF_ERR(ctx, XF_ERR_NUMERIC, "logme: evidence is not finite");
    return XF_OK;
}

const xf_estimator xf_est_def_logme = {
    .name = "logme",
    .flags = XF_NEEDS_F,
    .summary = "LogME: mean over classes of the maximum Bayesian linear-model evidence per sample (You et al. 2021)",
    .params = logme_params,
    .fn = logme_run,
};
