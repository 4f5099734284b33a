/* The knn, linear and parc estimators against the Python reference
 * (tests/ref/gen_est_knn_linear_parc.py -> tests/ref/est_knn_linear_parc/cases.txt), PARC's rank-sum kernel against
 * its plain general-Spearman kernel (with many ties, several blocks), kNN against a
 * brute-force scan written here (several blocks), the error paths (NaN, one class,
 * constant rows, parameters, multi-label where unsupported) and allocation failure. */
#include "xfer/estimators.h"
#include "xfer/npy.h"
#include "xtest.h"

typedef struct fx {
    float *F;
    int32_t *y;
    float *Y;
    int64_t N, D, C;
} fx;

static int load(xf_ctx_t *ctx, const char *name, fx *f) {
    char p[512], r[300];
    xf_array a, b, c;
    memset(f, 0, sizeof *f);
    snprintf(r, sizeof r, "est_knn_linear_parc/%s_F.npy", name);
    if (xf_npy_read(ctx, xt_ref(r, p, sizeof p), &a)) { CHECK(0, "%s: %s", r, xf_errmsg(ctx)); return 0; }
    snprintf(r, sizeof r, "est_knn_linear_parc/%s_y.npy", name);
    if (xf_npy_read(ctx, xt_ref(r, p, sizeof p), &b)) { CHECK(0, "%s: %s", r, xf_errmsg(ctx)); xf_array_free(ctx, &a); return 0; }
    f->N = a.shape[0];
    f->D = a.shape[1];
    f->F = malloc((size_t)(f->N * f->D) * sizeof *f->F);
    f->y = malloc((size_t)f->N * sizeof *f->y);
    int64_t *raw = malloc((size_t)f->N * sizeof *raw);
    for (int64_t i = 0; i < f->N * f->D; i++) f->F[i] = (float)xf_array_get_f64(&a, i);
    for (int64_t i = 0; i < f->N; i++) raw[i] = (int64_t)xf_array_get_f64(&b, i);
    /* raw labels such as {3, 7, 10} or {-5, 9}: dense indices via the registry */
    CHECK_OK(ctx, xf_labels_densify(ctx, raw, f->N, f->y, &f->C, NULL));
    free(raw);
    xf_array_free(ctx, &a);
    xf_array_free(ctx, &b);
    snprintf(r, sizeof r, "est_knn_linear_parc/%s_Y.npy", name);
    if (xf_npy_read(ctx, xt_ref(r, p, sizeof p), &c) == XF_OK) {
        f->C = c.shape[1];
        f->Y = malloc((size_t)(f->N * f->C) * sizeof *f->Y);
        for (int64_t i = 0; i < f->N * f->C; i++) f->Y[i] = (float)xf_array_get_f64(&c, i);
        xf_array_free(ctx, &c);
    }
    xf_ctx_clear_error(ctx);
    return 1;
}

static void fx_free(fx *f) { free(f->F); free(f->y); free(f->Y); }

static xf_est_input input(const fx *f) {
    xf_est_input in = {.F = f->F, .N = f->N, .D = f->D, .ldF = f->D, .y = f->y, .C = f->C, .Y = f->Y};
    return in;
}

/* "k=3,metric=cosine" -> params (strings point into buf) */
static xf_params parse_params(char *buf, xf_param *items, int cap) {
    xf_params p = {items, 0};
    if (strcmp(buf, "-") == 0) return p;
    for (char *tok = strtok(buf, ","); tok && p.n < cap; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        items[p.n].key = tok;
        items[p.n].value = eq + 1;
        p.n++;
    }
    return p;
}

static void fixtures(xf_ctx_t *ctx, xf_ws_t *ws) {
    char p[512];
    FILE *fp = fopen(xt_ref("est_knn_linear_parc/cases.txt", p, sizeof p), "r");
    CHECK(fp != NULL, "est_knn_linear_parc/cases.txt missing");
    if (!fp) return;
    char name[128], method[32], pbuf[256];
    double expect;
    int n = 0;
    while (fscanf(fp, "%127s %31s %255s %lf", name, method, pbuf, &expect) == 4) {
        fx f;
        if (!load(ctx, name, &f)) continue;
        xf_param items[8];
        xf_params prm = parse_params(pbuf, items, 8);
        xf_est_input in = input(&f);
        double s;
        xf_status st = xf_est_run(ctx, method, &in, &prm, ws, &s);
        CHECK(st == XF_OK, "%s: %s", name, xf_errmsg(ctx));
        CHECK_NEAR(s, expect, 1e-6, 1e-9, name);
        if (strcmp(method, "parc") == 0) {
            /* the plain kernel (general Spearman) must agree with the rank-sum form */
            xf_param it2[9];
            memcpy(it2, items, sizeof items);
            it2[prm.n].key = "kernel";
            it2[prm.n].value = "plain";
            xf_params p2 = {it2, prm.n + 1};
            double s2;
            CHECK_OK(ctx, xf_est_run(ctx, "parc", &in, &p2, ws, &s2));
            CHECK_NEAR(s2, expect, 1e-6, 1e-9, name);
        }
        if (strcmp(method, "knn") == 0 || strcmp(method, "parc") == 0) {
            /* one thread and several threads give the same score */
            xf_ctx_set_threads(ctx, 1);
            double s1;
            CHECK_OK(ctx, xf_est_run(ctx, method, &in, &prm, ws, &s1));
            CHECK(s1 == s, "%s: 1 thread %g vs %g", name, s1, s);
            xf_ctx_set_threads(ctx, 2);
        }
        fx_free(&f);
        n++;
    }
    fclose(fp);
    CHECK(n >= 29, "only %d fixture cases", n);
}

/* Random class-clustered data (N, D), round-robin labels. */
static void make_data(uint64_t seed, int64_t N, int64_t D, int64_t C, double sep, float *F, int32_t *y) {
    xf_rng r;
    xf_rng_seed(&r, seed);
    double *mu = malloc((size_t)(C * D) * sizeof *mu);
    for (int64_t t = 0; t < C * D; t++) mu[t] = sep * xf_rng_normal(&r);
    for (int64_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % C);
        for (int64_t t = 0; t < D; t++) F[i * D + t] = (float)(mu[y[i] * D + t] + xf_rng_normal(&r));
    }
    free(mu);
}

/* brute-force LOO k-NN in double (the same rules as knn.c): test-side oracle */
static double knn_brute(const float *F, const int32_t *y, int64_t N, int64_t D, int k) {
    int64_t ok = 0;
    double *bd = malloc((size_t)k * sizeof *bd);
    int64_t *bj = malloc((size_t)k * sizeof *bj);
    for (int64_t i = 0; i < N; i++) {
        for (int a = 0; a < k; a++) { bd[a] = INFINITY; bj[a] = N; }
        for (int64_t j = 0; j < N; j++) {
            if (j == i) continue;
            double s = 0;
            for (int64_t t = 0; t < D; t++) { double e = (double)F[i * D + t] - F[j * D + t]; s += e * e; }
            int a = k - 1;
            if (!(s < bd[a])) continue; /* j ascending: equal distance keeps the lower index */
            while (a > 0 && s < bd[a - 1]) { bd[a] = bd[a - 1]; bj[a] = bj[a - 1]; a--; }
            bd[a] = s;
            bj[a] = j;
        }
        int32_t best = -1;
        int bc = 0;
        for (int a = 0; a < k; a++) {
            int c = 0;
            for (int b = 0; b < k; b++) c += y[bj[b]] == y[bj[a]];
            if (c > bc || (c == bc && y[bj[a]] < best)) { bc = c; best = y[bj[a]]; }
        }
        ok += best == y[i];
    }
    free(bd);
    free(bj);
    return 100.0 * (double)ok / (double)N;
}

static void large_cases(xf_ctx_t *ctx, xf_ws_t *ws) {
    /* kNN over several row blocks (block=97 rows, and the automatic size) against the
     * brute-force scan; coarse integer features make many exact distance ties (lower
     * index must win) */
    {
        const int64_t N = 900, D = 6, C = 7;
        float *F = malloc((size_t)(N * D) * sizeof *F);
        int32_t *y = malloc((size_t)N * sizeof *y);
        make_data(7, N, D, C, 1.0, F, y);
        xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
        for (int pass = 0; pass < 2; pass++) /* continuous (float32 decides), then coarse */
        for (int k = 1; k <= 3; k += 2) {
            if (pass == 1 && k == 1)
                for (int64_t t = 0; t < N * D; t++) F[t] = roundf(F[t] * 2.0f);
            char kv[8];
            snprintf(kv, sizeof kv, "%d", k);
            xf_param it[] = {{"k", kv}, {"block", "97"}};
            double want = knn_brute(F, y, N, D, k), s;
            for (int np = 1; np <= 2; np++) {
                xf_params p = {it, np};
                CHECK_OK(ctx, xf_est_run(ctx, "knn", &in, &p, ws, &s));
                CHECK_NEAR(s, want, 0, 1e-12, "knn blocks + ties");
            }
        }
        free(F);
        free(y);
    }
    /* PARC over several blocks (block=53 rows), with very many tied dissimilarities
     * (features in {-1, 0, 1}, no PCA: large buckets, counting path) and without */
    {
        const int64_t N = 700, D = 4, C = 5;
        float *F = malloc((size_t)(N * D) * sizeof *F);
        int32_t *y = malloc((size_t)N * sizeof *y);
        make_data(8, N, D, C, 0.7, F, y);
        xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
        xf_param a[] = {{"dims", "0"}, {"block", "53"}}, b[] = {{"dims", "0"}, {"kernel", "plain"}};
        xf_params pa = {a, 2}, pb = {b, 2};
        double s1, s2;
        CHECK_OK(ctx, xf_est_run(ctx, "parc", &in, &pa, ws, &s1));
        CHECK_OK(ctx, xf_est_run(ctx, "parc", &in, &pb, ws, &s2));
        CHECK_NEAR(s1, s2, 1e-9, 1e-12, "parc rank-sum vs plain, continuous");
        for (int64_t t = 0; t < N * D; t++) F[t] = F[t] > 0.5f ? 1.0f : F[t] < -0.5f ? -1.0f : 0.0f;
        int constant_row = 0;
        for (int64_t i = 0; i < N; i++) {
            int same = 1;
            for (int64_t t = 1; t < D; t++) same &= F[i * D + t] == F[i * D];
            if (same) { F[i * D] += 1.0f; constant_row = 1; } /* keep rows non-constant */
        }
        (void)constant_row;
        CHECK_OK(ctx, xf_est_run(ctx, "parc", &in, &pa, ws, &s1));
        CHECK_OK(ctx, xf_est_run(ctx, "parc", &in, &pb, ws, &s2));
        CHECK_NEAR(s1, s2, 1e-9, 1e-12, "parc rank-sum vs plain, heavy ties");
        /* pass 2 recomputing the products (the path of N > ~11500) */
        xf_param c[] = {{"dims", "0"}, {"block", "53"}, {"recompute", "1"}};
        xf_params pc = {c, 3};
        double s3;
        CHECK_OK(ctx, xf_est_run(ctx, "parc", &in, &pc, ws, &s3));
        CHECK(s3 == s1, "parc recompute: %.17g vs %.17g", s3, s1);
        free(F);
        free(y);
    }
}

static void errors(xf_ctx_t *ctx, xf_ws_t *ws) {
    const int64_t N = 40, D = 6, C = 3;
    float F[40 * 6];
    int32_t y[40], y1[40];
    make_data(3, N, D, C, 1.0, F, y);
    for (int i = 0; i < N; i++) y1[i] = 0;
    const char *ms[] = {"knn", "linear", "parc"};
    double s;
    for (int m = 0; m < 3; m++) {
        xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
        float keep = F[7 * D + 2];
        F[7 * D + 2] = NAN;
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &in, NULL, ws, &s), XF_ERR_NUMERIC);
        CHECK(strstr(xf_errmsg(ctx), "row 7") != NULL, "%s NaN message: %s", ms[m], xf_errmsg(ctx));
        CHECK(isnan(s), "%s: score NaN on error", ms[m]);
        F[7 * D + 2] = keep;
        /* one class only */
        xf_est_input i1 = {.F = F, .N = N, .D = D, .ldF = D, .y = y1, .C = 1};
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &i1, NULL, ws, &s), XF_ERR_INVALID);
        CHECK(strstr(xf_errmsg(ctx), "class") != NULL, "%s C=1 message: %s", ms[m], xf_errmsg(ctx));
        xf_est_input i2 = {.F = F, .N = N, .D = D, .ldF = D, .y = y1, .C = 3}; /* C = 3 declared, one used */
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &i2, NULL, ws, &s), XF_ERR_INVALID);
        /* unknown qualified parameter */
        char key[64];
        snprintf(key, sizeof key, "%s.bogus", ms[m]);
        xf_param it[] = {{key, "1"}};
        xf_params p = {it, 1};
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &in, &p, ws, &s), XF_ERR_INVALID);
        /* negative dims, malformed number, bad pca solver */
        xf_param nd[] = {{"dims", "-2"}}, bn[] = {{"dims", "3x"}}, bp[] = {{"dims", "2"}, {"pca", "magic"}};
        xf_params pnd = {nd, 1}, pbn = {bn, 1}, pbp = {bp, 2};
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &in, &pnd, ws, &s), XF_ERR_INVALID);
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &in, &pbn, ws, &s), XF_ERR_INVALID);
        CHECK_ST(ctx, xf_est_run(ctx, ms[m], &in, &pbp, ws, &s), XF_ERR_INVALID);
        /* randomized PCA runs */
        xf_param rp[] = {{"dims", "3"}, {"pca", "randomized"}, {"seed", "5"}};
        xf_params prp = {rp, 3};
        CHECK_OK(ctx, xf_est_run(ctx, ms[m], &in, &prp, ws, &s));
        CHECK(s >= (m == 2 ? -100 : 0) && s <= 100, "%s randomized: %g", ms[m], s);
    }
    xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
    /* knn parameters */
    xf_param k0[] = {{"k", "0"}}, kN[] = {{"k", "40"}}, mt[] = {{"metric", "manhattan"}};
    xf_params pk0 = {k0, 1}, pkN = {kN, 1}, pmt = {mt, 1};
    CHECK_ST(ctx, xf_est_run(ctx, "knn", &in, &pk0, ws, &s), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_est_run(ctx, "knn", &in, &pkN, ws, &s), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_est_run(ctx, "knn", &in, &pmt, ws, &s), XF_ERR_INVALID);
    /* linear parameters */
    xf_param f1[] = {{"folds", "1"}}, c0[] = {{"C", "0"}}, mi[] = {{"max_iter", "0"}};
    xf_params pf1 = {f1, 1}, pc0 = {c0, 1}, pmi = {mi, 1};
    CHECK_ST(ctx, xf_est_run(ctx, "linear", &in, &pf1, ws, &s), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_est_run(ctx, "linear", &in, &pc0, ws, &s), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_est_run(ctx, "linear", &in, &pmi, ws, &s), XF_ERR_INVALID);
    /* linear: sorted labels put one class alone in the training half */
    int32_t ys[40];
    for (int i = 0; i < N; i++) ys[i] = i < 25 ? 0 : 1;
    xf_est_input is = {.F = F, .N = N, .D = D, .ldF = D, .y = ys, .C = 2};
    CHECK_ST(ctx, xf_est_run(ctx, "linear", &is, NULL, ws, &s), XF_ERR_INVALID);
    /* parc: one reduced dimension makes every row constant */
    xf_param d1[] = {{"dims", "1"}}, kb[] = {{"kernel", "fast"}};
    xf_params pd1 = {d1, 1}, pkb = {kb, 1};
    CHECK_ST(ctx, xf_est_run(ctx, "parc", &in, &pd1, ws, &s), XF_ERR_NUMERIC);
    CHECK(strstr(xf_errmsg(ctx), "constant") != NULL, "parc constant row message: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_est_run(ctx, "parc", &in, &pkb, ws, &s), XF_ERR_INVALID);
    /* parc: every sample its own class */
    int32_t yo[40];
    for (int i = 0; i < N; i++) yo[i] = i;
    xf_est_input io = {.F = F, .N = N, .D = D, .ldF = D, .y = yo, .C = N};
    CHECK_ST(ctx, xf_est_run(ctx, "parc", &io, NULL, ws, &s), XF_ERR_INVALID);
    /* multi-label: knn and linear refuse; parc refuses constant target rows */
    float Y[40 * 3];
    for (int i = 0; i < N; i++) /* one or two of three classes: never constant */
        for (int c = 0; c < 3; c++) Y[i * 3 + c] = (float)(c == y[i] || (i % 2 == 0 && c == (y[i] + 1) % 3));
    xf_est_input iy = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = 3, .Y = Y};
    CHECK_ST(ctx, xf_est_run(ctx, "knn", &iy, NULL, ws, &s), XF_ERR_UNSUPPORTED);
    CHECK_ST(ctx, xf_est_run(ctx, "linear", &iy, NULL, ws, &s), XF_ERR_UNSUPPORTED);
    Y[3 * 5] = Y[3 * 5 + 1] = Y[3 * 5 + 2] = 1.0f;
    xf_param d4[] = {{"dims", "4"}};
    xf_params pd4 = {d4, 1};
    CHECK_ST(ctx, xf_est_run(ctx, "parc", &iy, &pd4, ws, &s), XF_ERR_NUMERIC);
    CHECK(strstr(xf_errmsg(ctx), "row 5") != NULL, "parc target row message: %s", xf_errmsg(ctx));
    Y[3 * 5] = 0.0f;
    CHECK_OK(ctx, xf_est_run(ctx, "parc", &iy, &pd4, ws, &s));

    /* the general kernel refuses pair arrays above 10 GB (N = 23000: 264e6 pairs) */
    {
        const int64_t NB = 23000;
        float *Fb = malloc((size_t)NB * 3 * sizeof *Fb);
        int32_t *yb = malloc((size_t)NB * sizeof *yb);
        make_data(5, NB, 3, 2, 1.0, Fb, yb);
        xf_est_input ib = {.F = Fb, .N = NB, .D = 3, .ldF = 3, .y = yb, .C = 2};
        xf_param pl[] = {{"dims", "0"}, {"kernel", "plain"}};
        xf_params ppl = {pl, 2};
        CHECK_ST(ctx, xf_est_run(ctx, "parc", &ib, &ppl, ws, &s), XF_ERR_UNSUPPORTED);
        CHECK(strstr(xf_errmsg(ctx), "GB") != NULL, "parc plain size message: %s", xf_errmsg(ctx));
        free(Fb);
        free(yb);
    }

    /* tiny inputs: a value or a clean error, never a crash */
    float Ft[8] = {0.0f, 1.0f, 2.0f, 0.5f, 1.0f, 0.0f, 3.0f, 0.2f};
    int32_t yt[4] = {0, 1, 0, 1};
    xf_est_input t1 = {.F = Ft, .N = 4, .D = 1, .ldF = 1, .y = yt, .C = 2};
    CHECK_OK(ctx, xf_est_run(ctx, "knn", &t1, NULL, ws, &s));
    /* values 0, 1, 2, 0.5 (labels 0, 1, 0, 1): neighbours 3, 3, 1 and {0, 1} at equal
     * distance -> index 0 (lower index wins): one right of four */
    CHECK_NEAR(s, 25.0, 0, 1e-12, "knn N=4 D=1");
    CHECK_OK(ctx, xf_est_run(ctx, "linear", &t1, NULL, ws, &s));
    CHECK(s >= 0 && s <= 100, "linear N=4: %g", s);
    xf_est_input t2 = {.F = Ft, .N = 4, .D = 2, .ldF = 2, .y = yt, .C = 2};
    xf_param d0[] = {{"dims", "0"}};
    xf_params pd0 = {d0, 1};
    CHECK_OK(ctx, xf_est_run(ctx, "parc", &t2, &pd0, ws, &s)); /* 2-d rows: D_f in {0, 2}, all ties */
    CHECK_NEAR(s, 0.0, 0, 1e-9, "parc N=4 D=2 (reference: 0.0)");
    xf_est_input t3 = {.F = Ft, .N = 2, .D = 2, .ldF = 2, .y = yt, .C = 2};
    CHECK_ST(ctx, xf_est_run(ctx, "parc", &t3, NULL, ws, &s), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_est_run(ctx, "linear", &t3, NULL, ws, &s), XF_ERR_INVALID);
    CHECK_OK(ctx, xf_est_run(ctx, "knn", &t3, NULL, ws, &s));
    CHECK(s == 0.0, "knn N=2 two classes: %g", s);
}

/* Fail the k-th allocation for k = 1, 2, ...: XF_ERR_NOMEM (nothing leaks: ASan) until
 * a run succeeds with the normal score. */
static void alloc_failures(xf_ctx_t *ctx) {
    const int64_t N = 60, D = 70, C = 4;
    float F[60 * 70];
    int32_t y[60];
    make_data(11, N, D, C, 0.5, F, y);
    xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
    const char *ms[] = {"knn", "linear", "parc", "knn"};
    xf_param pa[] = {{"dims", "5"}}, pf[] = {{"folds", "3"}};
    xf_params pp[] = {{NULL, 0}, {pf, 1}, {NULL, 0}, {pa, 1}};
    for (int m = 0; m < 4; m++) {
        xf_ws_t *ws;
        if (xf_ws_create(ctx, &ws)) return;
        double want;
        CHECK_OK(ctx, xf_est_run(ctx, ms[m], &in, &pp[m], ws, &want));
        xf_ws_free(ws);
        int done = 0;
        for (int64_t k = 1; k < 200 && !done; k++) {
            if (xf_ws_create(ctx, &ws)) return;
            xf_ctx_fail_alloc_after(ctx, k);
            double s;
            xf_status st = xf_est_run(ctx, ms[m], &in, &pp[m], ws, &s);
            xf_ctx_fail_alloc_after(ctx, 0);
            if (st == XF_OK) {
                done = 1;
                CHECK(s == want, "%s after %lld failing allocations: %g vs %g", ms[m], (long long)k, s, want);
            } else {
                CHECK(st == XF_ERR_NOMEM, "%s alloc failure %lld: %s %s", ms[m], (long long)k, xf_status_str(st),
                      xf_errmsg(ctx));
            }
            xf_ws_free(ws);
        }
        CHECK(done, "%s never succeeded under allocation failure", ms[m]);
    }
}

/* Strong references: the registry refers to estimators weakly, and a static library
 * member is only linked in when something refers to it strongly. */
extern const xf_estimator xf_est_def_knn, xf_est_def_linear, xf_est_def_parc;
const xf_estimator *const xt_force_link[] = {&xf_est_def_knn, &xf_est_def_linear, &xf_est_def_parc};

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    xf_ws_t *ws;
    if (xf_ws_create(ctx, &ws)) return 1;
    CHECK(xf_est_find("knn") && xf_est_find("linear") && xf_est_find("parc"), "estimators registered");
    fixtures(ctx, ws);
    large_cases(ctx, ws);
    errors(ctx, ws);
    xf_ws_free(ws);
    alloc_failures(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_est_knn_linear_parc");
}
