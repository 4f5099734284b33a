/* Every estimator on features near the float32 limits: the same well-separated probe
 * (N = 60, D = 6, C = 3) multiplied by powers of two up to |x| ~ 3.4e38 (2^127), shrunk to
 * ~1e-30, with one column huge and the others tiny, and as int64 features near 2^62 would
 * arrive (rounded to float32). Each run must end in a finite score or a clear error naming
 * the method, never a crash or NaN. Methods invariant to a uniform scale of the features
 * (power-of-two factors are exact in float32) must give the score of the unscaled probe;
 * those also invariant to a per-column scale must give it for the mixed columns too. */
#include <float.h>

#include "xfer/xfer.h"
#include "xtest.h"

enum { N = 60, D = 6, C = 3, Z = 4 };

/* invariance of each method: 2 = per-column scale, 1 = uniform scale, 0 = none (the score
 * depends on the units: coding rate with a fixed eps, adaptive LDA shrinkage, energies,
 * LogME's 1e-5 terms in the alpha and beta updates, GBC's variance floor). The H-score is
 * per-column invariant in exact arithmetic, but its pseudo-inverse cut (rcond, as the
 * reference's pinv) drops directions 2^230 times weaker, so it counts as uniform only.
 * leep and nce read only the probabilities. */
static const struct { const char *name; int inv; } methods[] = {
    {"knn", 1},  {"linear", 0}, {"leep", 2},  {"nleep", 0}, {"nce", 2},     {"hscore", 1},   {"hscore-shrink", 1},
    {"logme", 0}, {"parc", 1},  {"gbc", 0},   {"transrate", 0}, {"sfda", 0}, {"ncti", 0},   {"etran", 0},
};

static uint64_t rng = 88172645463325252ull;
static double unif(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

static int run(xf_ctx_t *ctx, xf_ws_t *ws, const char *m, const char *label, const float *F, const int32_t *y,
               const float *P, double *s) {
    xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C, .P = P, .Z = Z, .ldP = Z};
    xf_status st = xf_est_run(ctx, m, &in, NULL, ws, s);
    if (st != XF_OK) {
        /* a clear error: a message that names the method */
        CHECK(strstr(xf_errmsg(ctx), m) != NULL, "%s: error without the method's name: %s", m, xf_errmsg(ctx));
        printf("  %-14s %-10s error: %s\n", m, label, xf_errmsg(ctx));
        return 0;
    }
    CHECK(isfinite(*s), "%s: XF_OK with a non-finite score %g", m, *s);
    return 1;
}

int main(void) {
    xf_ctx_t *ctx;
    xf_ws_t *ws;
    if (xf_ctx_create(&ctx) || xf_ws_create(ctx, &ws)) return 1;

    /* base probe: class means on the axes, |x| < 2 so that x 2^127 stays finite */
    static float F0[N * D], F[N * D], P[N * Z];
    static int32_t y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        for (int t = 0; t < D; t++) {
            double v = (t == y[i] ? 1.0 : 0.0) + 0.6 * (unif() - 0.5);
            F0[i * D + t] = (float)v;
        }
        double s = 0;
        for (int z = 0; z < Z; z++) s += (P[i * Z + z] = (float)(0.1 + unif() + (z == y[i] ? 2.0 : 0.0)));
        for (int z = 0; z < Z; z++) P[i * Z + z] = (float)(P[i * Z + z] / s);
    }

    /* scales: 2^66 (~7e19, the knn crash), 2^100 (~1e30), 2^127 (~1.7e38, |x| up to 3.4e38),
     * 2^-100 (~8e-31) */
    const int exps[] = {66, 100, 127, -100};
    for (size_t k = 0; k < sizeof methods / sizeof *methods; k++) {
        const char *m = methods[k].name;
        double base;
        if (!run(ctx, ws, m, "1", F0, y, P, &base)) {
            CHECK(0, "%s: fails on the unscaled probe: %s", m, xf_errmsg(ctx));
            continue;
        }
        for (size_t e = 0; e < sizeof exps / sizeof *exps; e++) {
            for (int t = 0; t < N * D; t++) F[t] = ldexpf(F0[t], exps[e]);
            double s;
            char label[32];
            snprintf(label, sizeof label, "2^%d", exps[e]);
            if (run(ctx, ws, m, label, F, y, P, &s) && methods[k].inv >= 1) {
                char name[64];
                snprintf(name, sizeof name, "%s x 2^%d", m, exps[e]);
                CHECK_NEAR(s, base, 1e-6, 1e-9, name);
            } else if (methods[k].inv >= 1) {
                CHECK(0, "%s x 2^%d: a uniform scale must not change the score: %s", m, exps[e], xf_errmsg(ctx));
            }
        }
        /* column 0 huge, the others tiny */
        for (int i = 0; i < N; i++)
            for (int t = 0; t < D; t++) F[i * D + t] = ldexpf(F0[i * D + t], t == 0 ? 120 : -110);
        double s;
        if (run(ctx, ws, m, "mixed", F, y, P, &s) && methods[k].inv == 2) CHECK_NEAR(s, base, 1e-6, 1e-9, m);
        /* int64 features near 2^62 rounded to float32: offsets of a few 2^40 on 2^62 */
        for (int t = 0; t < N * D; t++) F[t] = (float)(0x1p62 + ldexp(F0[t], 40));
        run(ctx, ws, m, "int64", F, y, P, &s);
        /* the largest finite float everywhere but the class signal: constant-ish columns */
        for (int t = 0; t < N * D; t++) F[t] = F0[t] > 0.5f ? FLT_MAX : -FLT_MAX;
        run(ctx, ws, m, "FLT_MAX", F, y, P, &s);
    }
    /* knn's other paths on the largest scale: row blocks (GEMM per block), cosine, k = 3, PCA */
    const xf_param kp[][2] = {{{"block", "16"}, {"k", "1"}}, {{"metric", "cosine"}, {"k", "1"}},
                              {{"k", "3"}, {"block", "7"}}, {{"dims", "3"}, {"k", "1"}}};
    for (int c = 0; c < 4; c++) {
        xf_params prm = {kp[c], 2};
        char name[64];
        snprintf(name, sizeof name, "knn %s=%s %s=%s x 2^127", kp[c][0].key, kp[c][0].value, kp[c][1].key,
                 kp[c][1].value);
        xf_est_input in = {.F = F0, .N = N, .D = D, .ldF = D, .y = y, .C = C};
        double base = NAN, s = NAN;
        CHECK_OK(ctx, xf_est_run(ctx, "knn", &in, &prm, ws, &base));
        for (int t = 0; t < N * D; t++) F[t] = ldexpf(F0[t], 127);
        in.F = F;
        CHECK_OK(ctx, xf_est_run(ctx, "knn", &in, &prm, ws, &s));
        CHECK_NEAR(s, base, 1e-12, 0, name);
    }
    /* probabilities at the float32 limits: the smallest subnormal beside ~1 (leep and nce
     * take logs of empirical joint distributions built from them) */
    static float Pt[N * Z];
    for (int i = 0; i < N; i++)
        for (int z = 0; z < Z; z++) Pt[i * Z + z] = z == (i + (i % 7 == 0)) % Z ? 1.0f - 3 * 0x1p-149f : 0x1p-149f;
    const char *pm[] = {"leep", "nce"};
    for (int k = 0; k < 2; k++) {
        double s;
        run(ctx, ws, pm[k], "P 2^-149", F0, y, Pt, &s);
    }
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return xt_done("test_est_range");
}
