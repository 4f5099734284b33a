/* LEEP, NCE, N-LEEP, SFDA, NCTI and ETran against bench/ref/ref_leep_lda.py (fixtures written
 * by tests/ref/gen_est_leep_lda.py), the EM core against sklearn's GaussianMixture from the same
 * initial parameters, the across-bank combinations, parameters, and every error path
 * (NaN inputs, rows of P that are not distributions, one class, allocation failure). */
#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"
#include "xfer/npy.h"
#include "xtest.h"

/* reference the definitions so the static library links them in */
extern const xf_estimator xf_est_def_leep, xf_est_def_nce, xf_est_def_nleep, xf_est_def_sfda, xf_est_def_ncti,
    xf_est_def_etran;
static const xf_estimator *const defs[] = {&xf_est_def_leep, &xf_est_def_nce,  &xf_est_def_nleep,
                                           &xf_est_def_sfda, &xf_est_def_ncti, &xf_est_def_etran};

static xf_ctx_t *ctx;
static xf_ws_t *ws;

static int load(const char *name, xf_array *a) {
    char p[512];
    xf_status st = xf_npy_read(ctx, xt_ref(name, p, sizeof p), a);
    CHECK(st == XF_OK, "%s: %s", name, xf_errmsg(ctx));
    return st == XF_OK;
}

typedef struct {
    xf_array F, P, y, e;
    xf_est_input in;
} fx;

static int fx_load(const char *base, int hasF, int hasP, fx *f) {
    char n[256];
    memset(f, 0, sizeof *f);
    snprintf(n, sizeof n, "est_leep_lda/%s_y.npy", base);
    if (!load(n, &f->y)) return 0;
    snprintf(n, sizeof n, "est_leep_lda/%s_expect.npy", base);
    if (!load(n, &f->e)) return 0;
    f->in.N = f->y.shape[0];
    f->in.y = f->y.data;
    int32_t mx = 0;
    for (int64_t i = 0; i < f->in.N; i++) mx = f->in.y[i] > mx ? f->in.y[i] : mx;
    f->in.C = mx + 1;
    if (hasF) {
        snprintf(n, sizeof n, "est_leep_lda/%s_F.npy", base);
        if (!load(n, &f->F)) return 0;
        f->in.F = f->F.data;
        f->in.D = f->in.ldF = f->F.shape[1];
    }
    if (hasP) {
        snprintf(n, sizeof n, "est_leep_lda/%s_P.npy", base);
        if (!load(n, &f->P)) return 0;
        f->in.P = f->P.data;
        f->in.Z = f->in.ldP = f->P.shape[1];
    }
    return 1;
}
static void fx_free(fx *f) {
    xf_array_free(ctx, &f->F);
    xf_array_free(ctx, &f->P);
    xf_array_free(ctx, &f->y);
    xf_array_free(ctx, &f->e);
}
static double E(const fx *f, int i) { return ((const double *)f->e.data)[i]; }

static double run(const char *m, const xf_est_input *in, const xf_param *ps, int np) {
    xf_params p = {ps, np};
    double s = NAN;
    xf_status st = xf_est_run(ctx, m, in, np ? &p : NULL, ws, &s);
    CHECK(st == XF_OK, "%s: %s", m, xf_errmsg(ctx));
    return s;
}

static void test_probs(void) {
    const char *cases[] = {"p_small", "p_z1000", "p_edge", "p_ties"};
    xf_param nolog = {"leep.log", "0"}, eps = {"nce.eps", "1e-5"};
    for (int c = 0; c < 4; c++) {
        fx f;
        if (!fx_load(cases[c], 0, 1, &f)) continue;
        char nm[64];
        snprintf(nm, sizeof nm, "%s leep", cases[c]);
        /* float32 probabilities summed in float64: agreement to ~1e-12 */
        CHECK_NEAR(run("leep", &f.in, NULL, 0), E(&f, 0), 1e-10, 1e-12, nm);
        snprintf(nm, sizeof nm, "%s leep log=0", cases[c]);
        CHECK_NEAR(run("leep", &f.in, &nolog, 1), E(&f, 1), 1e-10, 1e-12, nm);
        snprintf(nm, sizeof nm, "%s nce", cases[c]);
        CHECK_NEAR(run("nce", &f.in, NULL, 0), E(&f, 2), 1e-12, 1e-12, nm);
        snprintf(nm, sizeof nm, "%s nce eps", cases[c]);
        CHECK_NEAR(run("nce", &f.in, &eps, 1), E(&f, 3), 1e-12, 1e-12, nm);
        /* a row that does not sum to 1 and a NaN are refused by xf_est_run */
        float *P = f.P.data, keep = P[3];
        P[3] += 0.5f;
        double s;
        CHECK_ST(ctx, xf_est_run(ctx, "leep", &f.in, NULL, ws, &s), XF_ERR_INVALID);
        CHECK(strstr(xf_errmsg(ctx), "sums to") != NULL, "message: %s", xf_errmsg(ctx));
        P[3] = NAN;
        CHECK_ST(ctx, xf_est_run(ctx, "nce", &f.in, NULL, ws, &s), XF_ERR_NUMERIC);
        P[3] = keep;
        fx_free(&f);
    }
}

static void test_features(void) {
    const char *cases[] = {"f_big", "f_wide", "f_wide2", "f_c2", "f_edge", "f_small"};
    xf_param exact = {"sfda.power_iters", "0"}, rel = {"etran.lda", "released"};
    for (int c = 0; c < 6; c++) {
        fx f;
        if (!fx_load(cases[c], 1, 0, &f)) continue;
        char nm[64];
        /* the SPD solve replaces scipy's generalised eigh: relative 1e-6 */
        snprintf(nm, sizeof nm, "%s sfda", cases[c]);
        CHECK_NEAR(run("sfda", &f.in, NULL, 0), E(&f, 0), 1e-6, 1e-9, nm);
        snprintf(nm, sizeof nm, "%s sfda exact lambda", cases[c]);
        CHECK_NEAR(run("sfda", &f.in, &exact, 1), E(&f, 1), 1e-6, 1e-9, nm);
        double t[3];
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_est_def_etran.terms(ctx, &f.in, NULL, ws, t));
        snprintf(nm, sizeof nm, "%s etran energy", cases[c]);
        CHECK_NEAR(t[0], E(&f, 2), 1e-9, 1e-9, nm);
        snprintf(nm, sizeof nm, "%s etran lda", cases[c]);
        CHECK_NEAR(t[1], E(&f, 3), 1e-6, 1e-9, nm);
        snprintf(nm, sizeof nm, "%s etran fn", cases[c]);
        CHECK_NEAR(run("etran", &f.in, NULL, 0), 0.15 * E(&f, 2) + 0.85 * E(&f, 3), 1e-6, 1e-9, nm);
        xf_params pr = {&rel, 1};
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_est_def_etran.terms(ctx, &f.in, &pr, ws, t));
        snprintf(nm, sizeof nm, "%s etran lda released", cases[c]);
        CHECK_NEAR(t[1], E(&f, 4), 1e-6, 1e-9, nm);
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_est_def_ncti.terms(ctx, &f.in, NULL, ws, t));
        snprintf(nm, sizeof nm, "%s ncti seli", cases[c]);
        CHECK_NEAR(t[0], E(&f, 5), 1e-6, 1e-9, nm);
        snprintf(nm, sizeof nm, "%s ncti ncc", cases[c]);
        CHECK_NEAR(t[1], E(&f, 6), 1e-6, 1e-9, nm);
        snprintf(nm, sizeof nm, "%s ncti vc", cases[c]);
        CHECK_NEAR(t[2], E(&f, 7), 1e-6, 1e-9, nm);
        {
            xf_param rp = {"ncti.pca", "randomized"};
            snprintf(nm, sizeof nm, "%s ncti randomized pca", cases[c]);
            CHECK_NEAR(run("ncti", &f.in, &rp, 1), E(&f, 6) + E(&f, 5) - E(&f, 7), 1e-4, 1e-6, nm);
        }
        snprintf(nm, sizeof nm, "%s ncti fn", cases[c]);
        CHECK_NEAR(run("ncti", &f.in, NULL, 0), E(&f, 6) + E(&f, 5) - E(&f, 7), 1e-6, 1e-8, nm);
        /* NaN features are refused */
        float *F = f.F.data, keep = F[7];
        F[7] = NAN;
        double s;
        for (int k = 2; k < 6; k++) CHECK_ST(ctx, xf_est_run(ctx, defs[k]->name, &f.in, NULL, ws, &s), XF_ERR_NUMERIC);
        F[7] = keep;
        fx_free(&f);
    }
}

static void test_bank(void) {
    xf_array y, e, F[4];
    if (!load("est_leep_lda/bank_y.npy", &y) || !load("est_leep_lda/bank_expect.npy", &e)) return;
    const double *ex = e.data;
    double tn[12], te[8], sc[4];
    for (int m = 0; m < 4; m++) {
        char n[64];
        snprintf(n, sizeof n, "est_leep_lda/bank_F%d.npy", m);
        if (!load(n, &F[m])) return;
        xf_est_input in = {.F = F[m].data, .N = F[m].shape[0], .D = F[m].shape[1], .ldF = F[m].shape[1],
                           .y = y.data, .C = 4};
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_est_def_ncti.terms(ctx, &in, NULL, ws, tn + 3 * m));
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_est_def_etran.terms(ctx, &in, NULL, ws, te + 2 * m));
    }
    for (int i = 0; i < 12; i++) CHECK_NEAR(tn[i], ex[i], 1e-6, 1e-9, "bank ncti term");
    CHECK_OK(ctx, xf_est_def_ncti.combine(ctx, 4, tn, NULL, sc));
    for (int i = 0; i < 4; i++) CHECK_NEAR(sc[i], ex[12 + i], 1e-5, 1e-6, "bank ncti score");
    for (int i = 0; i < 8; i++) CHECK_NEAR(te[i], ex[16 + i], 1e-6, 1e-9, "bank etran term");
    CHECK_OK(ctx, xf_est_def_etran.combine(ctx, 4, te, NULL, sc));
    for (int i = 0; i < 4; i++) CHECK_NEAR(sc[i], ex[24 + i], 1e-5, 1e-6, "bank etran score");
    /* one model: min-max of a constant column is 0 */
    CHECK_OK(ctx, xf_est_def_ncti.combine(ctx, 1, tn, NULL, sc));
    CHECK(sc[0] == 0, "single-model ncti combine = %g", sc[0]);
    double bad[2] = {NAN, 1};
    CHECK_ST(ctx, xf_est_def_etran.combine(ctx, 1, bad, NULL, sc), XF_ERR_NUMERIC);
    CHECK_ST(ctx, xf_est_def_etran.combine(ctx, 0, bad, NULL, sc), XF_ERR_INVALID);
    for (int m = 0; m < 4; m++) xf_array_free(ctx, &F[m]);
    xf_array_free(ctx, &y);
    xf_array_free(ctx, &e);
}

static void test_gmm(void) {
    xf_array X, w0, mu0, cov0, resp, e;
    if (!load("est_leep_lda/gmm_X.npy", &X) || !load("est_leep_lda/gmm_w0.npy", &w0) ||
        !load("est_leep_lda/gmm_mu0.npy", &mu0) || !load("est_leep_lda/gmm_cov0.npy", &cov0) ||
        !load("est_leep_lda/gmm_resp.npy", &resp) || !load("est_leep_lda/gmm_expect.npy", &e))
        return;
    int64_t N = X.shape[0], d = X.shape[1], K = w0.shape[0];
    double *r = malloc(sizeof(double) * N * K), lb;
    int it;
    const double *ex = e.data, *rr = resp.data;
    for (int ref = 0; ref < 2; ref++) { /* packed kernels and the reference kernels */
        xf_gmm_opts o = {.K = K, .reg_covar = 1e-6, .tol = 1e-3, .max_iter = 100, .w0 = w0.data, .mu0 = mu0.data,
                         .cov0 = cov0.data, .reference = ref};
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_est_gmm_fit(ws, X.data, N, d, &o, r, &lb, &it));
        CHECK_NEAR(lb, ex[0], 1e-9, 1e-9, ref ? "gmm lower bound (reference kernels)" : "gmm lower bound");
        CHECK(it == (int)ex[1], "gmm iterations %d vs %g (reference %d)", it, ex[1], ref);
        double md = 0;
        for (int64_t i = 0; i < N * K; i++) md = fmax(md, fabs(r[i] - rr[i]));
        CHECK(md < 1e-7, "gmm posteriors differ by %g (reference %d)", md, ref);
    }
    /* kmeans init runs and gives a finite lower bound */
    xf_gmm_opts o2 = {.K = K, .reg_covar = 1e-6, .tol = 1e-3, .max_iter = 100, .seed = 3};
    xf_ws_reset(ws);
    CHECK_OK(ctx, xf_est_gmm_fit(ws, X.data, N, d, &o2, r, &lb, &it));
    CHECK(isfinite(lb) && lb > ex[0] - 0.5, "kmeans-initialised lower bound %g vs %g", lb, ex[0]);
    free(r);
    xf_array_free(ctx, &X); xf_array_free(ctx, &w0); xf_array_free(ctx, &mu0);
    xf_array_free(ctx, &cov0); xf_array_free(ctx, &resp); xf_array_free(ctx, &e);
}

static void test_nleep(void) {
    fx f;
    if (fx_load("nleep_sep", 1, 0, &f)) {
        CHECK_NEAR(run("nleep", &f.in, NULL, 0), E(&f, 0), 0, 1e-6, "nleep separated");
        fx_free(&f);
    }
    if (fx_load("nleep_mix", 1, 0, &f)) {
        /* initialisations differ from sklearn's: the score must fall within the spread of
         * sklearn's scores over 5 seeds, widened by half that spread */
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < 5; i++) { lo = fmin(lo, E(&f, i)); hi = fmax(hi, E(&f, i)); }
        double w = 0.5 * (hi - lo);
        for (int s = 0; s < 3; s++) {
            char v[8];
            snprintf(v, sizeof v, "%d", s);
            xf_param p = {"nleep.seed", v};
            double sc = run("nleep", &f.in, &p, 1);
            CHECK(sc >= lo - w && sc <= hi + w, "nleep seed %d: %g outside [%g, %g]", s, sc, lo - w, hi + w);
            CHECK(sc == run("nleep", &f.in, &p, 1), "nleep seed %d not reproducible", s);
        }
        fx_free(&f);
    }
}

static void test_errors(void) {
    fx f;
    if (!fx_load("f_c2", 1, 0, &f)) return;
    /* one class */
    int32_t *y = f.y.data;
    int32_t *y1 = calloc((size_t)f.in.N, sizeof *y1);
    f.in.y = y1;
    double s;
    for (int k = 2; k < 6; k++) {
        CHECK_ST(ctx, xf_est_run(ctx, defs[k]->name, &f.in, NULL, ws, &s), XF_ERR_INVALID);
        CHECK(strstr(xf_errmsg(ctx), "at least 2 classes") != NULL, "%s: %s", defs[k]->name, xf_errmsg(ctx));
    }
    f.in.y = y;
    free(y1);
    /* bad parameters */
    xf_param bad[] = {{"nleep.var", "2"}, {"sfda.power_iters", "-1"}, {"etran.lda", "foo"}, {"ncti.dims", "0"},
                      {"nce.eps", "-1"}, {"sfda.bogus", "1"}, {"ncti.pca", "foo"}, {"etran.w_energy", "2"},
                      {"leep.log", "x"}};
    const char *who[] = {"nleep", "sfda", "etran", "ncti", "nce", "sfda", "ncti", "etran", "leep"};
    for (int i = 0; i < 9; i++) {
        xf_params p = {&bad[i], 1};
        xf_est_input in = f.in;
        float P[160];
        if (strcmp(who[i], "nce") == 0 || strcmp(who[i], "leep") == 0) {
            for (int k = 0; k < 160; k++) P[k] = 0.5f;
            in.P = P, in.Z = in.ldP = 2;
        }
        CHECK_ST(ctx, xf_est_run(ctx, who[i], &in, &p, ws, &s), XF_ERR_INVALID);
    }
    /* allocation failure at every step: XF_ERR_NOMEM, nothing leaked (ASan) */
    for (int k = 0; k < 6; k++) {
        xf_est_input in = f.in;
        float *P = NULL;
        if (defs[k]->flags & XF_NEEDS_P) {
            P = malloc(sizeof(float) * in.N * 3);
            for (int64_t i = 0; i < in.N * 3; i++) P[i] = (i % 3 == (i / 3) % 3) ? 0.5f : 0.25f;
            in.P = P, in.Z = in.ldP = 3;
        }
        int saw = 0;
        for (int64_t n = 1; n < 200; n++) {
            xf_ctx_t *c2;
            xf_ws_t *w2;
            if (xf_ctx_create(&c2)) break;
            if (xf_ws_create(c2, &w2)) { xf_ctx_free(c2); break; }
            xf_ctx_fail_alloc_after(c2, n);
            xf_status st = xf_est_run(c2, defs[k]->name, &in, NULL, w2, &s);
            xf_ws_free(w2);
            xf_ctx_free(c2);
            if (st == XF_OK) break;
            CHECK(st == XF_ERR_NOMEM, "%s fail at %lld: %s", defs[k]->name, (long long)n, xf_status_str(st));
            saw = 1;
        }
        CHECK(saw, "%s: allocation failure never provoked", defs[k]->name);
        free(P);
    }
    fx_free(&f);
}

int main(void) {
    if (xf_ctx_create(&ctx) || xf_ws_create(ctx, &ws)) return 1;
    for (int k = 0; k < 6; k++) CHECK(xf_est_find(defs[k]->name) == defs[k], "registry lists %s", defs[k]->name);
    test_probs();
    test_features();
    test_bank();
    test_gmm();
    test_nleep();
    test_errors();
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return xt_done("test_est_leep_lda");
}
