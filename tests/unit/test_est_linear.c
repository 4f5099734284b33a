/* The linear estimator with PARC's settings (its defaults: max_iter=20, tol=0.1) against
 * scikit-learn's own LogisticRegression(multinomial, lbfgs, max_iter=20, tol=0.1) fit
 * (tests/ref/gen_est_knn_linear_parc.py -> tests/ref/est_knn_linear_parc/lin20_cases.txt): an early-stopped fit is a
 * property of the optimiser's path, so xfer must follow scipy's L-BFGS-B step by step.
 * Checked per case: the score (same count of right answers; numpy and C round the
 * percentage differently in the last bit), the predicted class of every test row, and the
 * fitted coefficients [W | b] to 1e-5 relative to their largest magnitude. */
#include <math.h>

#include "estimators/estimatorsInt.h"
#include "xfer/npy.h"
#include "xtest.h"

static int read_npy(xf_ctx_t *ctx, const char *name, const char *suffix, xf_array *a) {
    char p[512], r[300];
    snprintf(r, sizeof r, "est_knn_linear_parc/%s_%s.npy", name, suffix);
    if (xf_npy_read(ctx, xt_ref(r, p, sizeof p), a)) { CHECK(0, "%s: %s", r, xf_errmsg(ctx)); return 0; }
    return 1;
}

static void one_case(xf_ctx_t *ctx, xf_ws_t *ws, const char *name, char *pbuf, double expect) {
    xf_array a, b, c, d;
    if (!read_npy(ctx, name, "F", &a)) return;
    if (!read_npy(ctx, name, "y", &b)) { xf_array_free(ctx, &a); return; }
    if (!read_npy(ctx, name, "coef", &c)) { xf_array_free(ctx, &a); xf_array_free(ctx, &b); return; }
    if (!read_npy(ctx, name, "pred", &d)) {
        xf_array_free(ctx, &a); xf_array_free(ctx, &b); xf_array_free(ctx, &c);
        return;
    }
    const int64_t N = a.shape[0], D = a.shape[1], K = c.shape[0], kd = c.shape[1], npred = d.shape[0];
    float *F = malloc((size_t)(N * D) * sizeof *F);
    int32_t *y = malloc((size_t)N * sizeof *y), *pred = malloc((size_t)N * sizeof *pred);
    int64_t *raw = malloc((size_t)N * sizeof *raw), C = 0;
    double *coef = calloc((size_t)(K * kd), sizeof *coef);
    for (int64_t i = 0; i < N * D; i++) F[i] = (float)xf_array_get_f64(&a, i);
    for (int64_t i = 0; i < N; i++) raw[i] = (int64_t)xf_array_get_f64(&b, i);
    CHECK_OK(ctx, xf_labels_densify(ctx, raw, N, y, &C, NULL));
    /* "C=0.5" / "folds=3" / "dims=8" / "-" */
    xf_param it[2] = {{0}};
    xf_params prm = {it, 0};
    char *eq = strchr(pbuf, '=');
    if (eq) {
        *eq = 0;
        it[0].key = pbuf;
        it[0].value = eq + 1;
        prm.n = 1;
    }
    xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
    double s = -1;
    xf_status st = xf_est_linear_probe(ctx, &in, &prm, ws, &s, coef, pred);
    CHECK(st == XF_OK, "%s: %s", name, xf_errmsg(ctx));
    CHECK(fabs(s - expect) <= 1e-9, "%s: score %.17g, sklearn %.17g", name, s, expect);
    int64_t bad = 0;
    for (int64_t i = 0; i < npred; i++) bad += pred[i] != (int32_t)xf_array_get_f64(&d, i);
    CHECK(bad == 0, "%s: %lld of %lld test predictions differ from sklearn's", name, (long long)bad, (long long)npred);
    /* xfer's layout: W (K, kd - 1) row-major, then b (K); the fixture's rows are [W_k | b_k] */
    double mx = 0, err = 0;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < kd; j++) {
            double want = xf_array_get_f64(&c, k * kd + j);
            double got = j < kd - 1 ? coef[k * (kd - 1) + j] : coef[K * (kd - 1) + k];
            mx = fmax(mx, fabs(want));
            err = fmax(err, fabs(got - want));
        }
    CHECK(err <= 1e-5 * mx, "%s: coefficients differ by %g (largest %g)", name, err, mx);
    /* several row blocks in f / gradient: the same fit up to rounding */
    {
        xf_param it2[3] = {it[0], it[1], {"block", "7"}};
        it2[prm.n] = (xf_param){"block", "7"};
        xf_params p2 = {it2, prm.n + 1};
        double s3 = -1, *coef2 = calloc((size_t)(K * kd), sizeof *coef2);
        int32_t *pred2 = malloc((size_t)N * sizeof *pred2);
        CHECK_OK(ctx, xf_est_linear_probe(ctx, &in, &p2, ws, &s3, coef2, pred2));
        CHECK(s3 == s, "%s block=7: score %.17g vs %.17g", name, s3, s);
        double e2 = 0;
        for (int64_t i = 0; i < K * kd; i++) e2 = fmax(e2, fabs(coef2[i] - coef[i]));
        CHECK(e2 <= 1e-7 * mx, "%s block=7: coefficients differ by %g", name, e2);
        for (int64_t i = 0; i < npred; i++)
            if (pred2[i] != pred[i]) { CHECK(0, "%s block=7: prediction %lld differs", name, (long long)i); break; }
        free(coef2);
        free(pred2);
    }
    /* the registered estimator with no parameters runs the same defaults */
    if (prm.n == 0) {
        double s2 = -1;
        CHECK_OK(ctx, xf_est_run(ctx, "linear", &in, NULL, ws, &s2));
        CHECK(s2 == s, "%s: xf_est_run %.17g", name, s2);
    }
    free(F); free(y); free(pred); free(raw); free(coef);
    xf_array_free(ctx, &a); xf_array_free(ctx, &b); xf_array_free(ctx, &c); xf_array_free(ctx, &d);
}

extern const xf_estimator xf_est_def_linear;
const xf_estimator *const xt_force_link[] = {&xf_est_def_linear};

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    xf_ws_t *ws;
    if (xf_ws_create(ctx, &ws)) return 1;
    char p[512];
    FILE *fp = fopen(xt_ref("est_knn_linear_parc/lin20_cases.txt", p, sizeof p), "r");
    CHECK(fp != NULL, "est_knn_linear_parc/lin20_cases.txt missing");
    int n = 0;
    if (fp) {
        char name[128], pbuf[64];
        double expect;
        long iters;
        while (fscanf(fp, "%127s %63s %lf %ld", name, pbuf, &expect, &iters) == 4) {
            xf_ws_reset(ws);
            one_case(ctx, ws, name, pbuf, expect);
            n++;
        }
        fclose(fp);
    }
    CHECK(n >= 8, "only %d lin20 cases", n);
    {   /* a negative block is refused */
        float F[8] = {0, 1, 1, 0, 0, 2, 2, 0};
        int32_t y[4] = {0, 1, 0, 1};
        xf_est_input in = {.F = F, .N = 4, .D = 2, .ldF = 2, .y = y, .C = 2};
        xf_param it[1] = {{"block", "-1"}};
        xf_params prm = {it, 1};
        double s;
        CHECK_ST(ctx, xf_est_run(ctx, "linear", &in, &prm, ws, &s), XF_ERR_INVALID);
    }
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return xt_done("test_est_linear");
}
