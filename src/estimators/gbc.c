/* GBC, the Gaussian Bhattacharyya Coefficient (Pandy et al., "Transferability estimation
 * using Bhattacharyya class separability", CVPR 2022): each class is a Gaussian with its
 * mean and (diagonal or spherical) covariance in the feature space, and
 *   GBC = - sum_{c1 != c2} BC(c1, c2),   BC = exp(-D_B),
 *   D_B = 1/8 (mu1 - mu2)^T S^-1 (mu1 - mu2) + 1/2 ln(|S| / sqrt(|S1| |S2|)),  S = (S1+S2)/2.
 * As google-research stable_transfer gbc.py: features projected on the top `dims` (64)
 * principal components first (exact PCA, sklearn svd_solver='full' there), per-class
 * population variances floored at 1e-4 per dimension (constant features, one-sample
 * classes), spherical = the mean of those variances.
 *
 * Spherical, paper vs published code: for S_c = s_c I_k the log term of D_B is
 * k/2 ln(s / sqrt(s1 s2)); stable_transfer sums ln over the scalar s and so keeps a single
 * term (no factor k). variant=paper (default) uses the Bhattacharyya distance of the
 * spherical Gaussians; variant=published reproduces the released code. The diagonal case
 * is the same in both.
 * Cost: O(N k) for the statistics, O(C^2 k) for the pairs, plus the PCA. */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

static const char *const gbc_params[] = {
    "gaussian=spherical  spherical (mean variance, stable_transfer default) or diagonal",
    "dims=64  principal components kept first (stable_transfer configs: 64); 0: raw features",
    "variance_floor=1e-4  lower bound of each per-class, per-dimension variance",
    "variant=paper  paper: spherical log term times the dimension (exact D_B); published: stable_transfer's single term",
    "max_classes=10000  refuse more classes: the class pairs cost O(C^2 k) (10^6 classes: minutes to hours)",
    NULL};

static xf_status gbc_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    const char *M = "gbc";
    int64_t N = in->N, C = in->C, dims;
    double vfloor;
    int gauss, variant;
    static const char *const gs[] = {"spherical", "diagonal", NULL}, *const vs[] = {"paper", "published", NULL};
    xf_status st;
    if ((st = xf_est_choice(ctx, p, M, "gaussian", "spherical", gs, &gauss))) return st;
    if ((st = xf_est_choice(ctx, p, M, "variant", "paper", vs, &variant))) return st;
    if ((st = xf_params_i64(ctx, p, M, "dims", 64, &dims))) return st;
    if ((st = xf_params_f64(ctx, p, M, "variance_floor", 1e-4, &vfloor))) return st;
    if (dims < 0 || !(vfloor > 0)) return XF_ERR(ctx, XF_ERR_INVALID, "gbc: dims must be >= 0 and variance_floor > 0");
    int64_t max_classes;
    if ((st = xf_params_i64(ctx, p, M, "max_classes", 10000, &max_classes))) return st;
    if (C > max_classes)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "gbc: %lld classes is above max_classes=%lld: the %.3g class pairs cost O(C^2 k); "
                      "raise gbc.max_classes to run it", (long long)C, (long long)max_classes, 0.5 * (double)C * (double)(C - 1));
    xf_la_set_threads(xf_ctx_threads(ctx));
    int64_t *cnt = xf_ws_alloc(ws, (size_t)C * sizeof *cnt);
    if (!cnt) return XF_ERR_NOMEM;
    if ((st = xf_est_class_counts(ctx, M, in->y, in->N, in->C, cnt))) return st;

    double *X;
    int64_t K;
    if (dims > 0) {
        xf_pca_opts o;
        xf_pca_opts_default(&o);
        o.method = XF_PCA_EXACT;
        o.k = dims;
        if ((st = xf_la_pca(ws, in->F, N, in->D, in->ldF, &o, &X, &K, NULL))) return st;
    } else {
        K = in->D;
        if (!(X = xf_est_to_double(ws, in->F, N, K, in->ldF, 0))) return XF_ERR_NOMEM;
    }
    double *mu = xf_ws_calloc(ws, (size_t)C * (size_t)K, sizeof *mu); // (C, K) class means
    double *var = xf_ws_calloc(ws, (size_t)C * (size_t)K, sizeof *var); // (C, K) floored variances
    double *lv = xf_ws_alloc(ws, (size_t)C * (size_t)K * sizeof *lv);   // (C, K) their logs
    if (!mu || !var || !lv) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < K; j++) mu[(int64_t)in->y[i] * K + j] += X[i * K + j];
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = 0; j < K; j++) mu[c * K + j] /= cnt[c] ? (double)cnt[c] : 1.0;
    for (int64_t i = 0; i < N; i++) { /* two-pass variance */
        const double *m = mu + (int64_t)in->y[i] * K;
        double *v = var + (int64_t)in->y[i] * K;
        for (int64_t j = 0; j < K; j++) {
            double d = X[i * K + j] - m[j];
            v[j] += d * d;
        }
    }
    for (int64_t c = 0; c < C; c++) {
        double *v = var + c * K, s = 0;
        for (int64_t j = 0; j < K; j++) {
            v[j] = cnt[c] ? v[j] / (double)cnt[c] : 0;
            if (!(v[j] >= vfloor)) v[j] = vfloor;
            s += v[j];
        }
        if (gauss == 0) v[0] = s / (double)K; /* spherical: one variance in slot 0 */
        for (int64_t j = 0; j < (gauss == 0 ? 1 : K); j++) lv[c * K + j] = log(v[j]);
    }
    double total = 0, logscale = variant == 0 ? (double)K : 1.0;
    for (int64_t c1 = 0; c1 < C; c1++) {
        if (!cnt[c1]) continue;
        for (int64_t c2 = c1 + 1; c2 < C; c2++) {
            if (!cnt[c2]) continue;
            const double *m1 = mu + c1 * K, *m2 = mu + c2 * K, *v1 = var + c1 * K, *v2 = var + c2 * K;
            double first = 0, second = 0;
            if (gauss == 0) {
                double avg = 0.5 * (v1[0] + v2[0]), d2 = 0;
                for (int64_t j = 0; j < K; j++) d2 += (m1[j] - m2[j]) * (m1[j] - m2[j]);
                first = d2 / avg / 8.0;
                second = logscale * (log(avg) - 0.5 * lv[c1 * K] - 0.5 * lv[c2 * K]);
            } else {
                for (int64_t j = 0; j < K; j++) {
                    double avg = 0.5 * (v1[j] + v2[j]), d = m1[j] - m2[j];
                    first += d * d / avg;
                    second += log(avg) - 0.5 * lv[c1 * K + j] - 0.5 * lv[c2 * K + j];
                }
                first /= 8.0;
            }
            total += 2.0 * exp(-(first + 0.5 * second)); /* D_B is symmetric: both orders */
        }
    }
    *score = -total;
    return XF_OK;
}

const xf_estimator xf_est_def_gbc = {
    .name = "gbc",
    .flags = XF_NEEDS_F,
    .summary = "GBC: minus the summed Bhattacharyya coefficients between per-class Gaussians (Pandy et al. 2022)",
    .params = gbc_params,
    .fn = gbc_run,
};
