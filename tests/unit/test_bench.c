/* bench module: the metrics against SciPy (tests/ref/gen_bench.py: ties, constant
 * columns, oracle <= 0 rows, brute-force top-k), the PARC-style aggregation with both
 * capacity forms, PARC's Heuristic baseline on its controlled bank, the CSV dialect
 * (quoting, CRLF, BOM) and every error path with its file:line message, the report
 * files, and allocation failure at every step. */
#include <unistd.h>

#include "xfer/bank.h"
#include "xfer/benchmark.h"
#include "xfer/npy.h"
#include "xtest.h"

static xf_ctx_t *ctx;

static double *load(const char *rel, int64_t *n) {
    char p[512];
    xf_array a;
    if (xf_npy_read(ctx, xt_ref(rel, p, sizeof p), &a) != XF_OK) {
        CHECK(0, "fixture %s: %s", rel, xf_errmsg(ctx));
        return NULL;
    }
    double *d = NULL;
    if (xf_array_to_f64(ctx, &a, 0, &d) != XF_OK) CHECK(0, "fixture %s: %s", rel, xf_errmsg(ctx));
    if (n) *n = a.size;
    xf_array_free(ctx, &a);
    return d;
}

static const char *const MNAME[7] = {"pearson", "spearman", "kendall", "weighted_tau", "top1", "top3", "regret"};
static double mget(const xf_bench_metrics *m, int k) {
    const double v[7] = {m->pearson, m->spearman, m->kendall, m->weighted_tau, m->top1, m->top3, m->regret};
    return v[k];
}

static void test_metric_cases(void) {
    xf_ws_t *ws;
    CHECK_OK(ctx, xf_ws_create(ctx, &ws));
    int ncase = 0;
    for (int k = 0;; k++) {
        char rel[64], p[512];
        snprintf(rel, sizeof rel, "bench/metric%d_x.npy", k);
        if (access(xt_ref(rel, p, sizeof p), R_OK) != 0) break;
        int64_t n, ny, ne;
        double *x = load(rel, &n);
        snprintf(rel, sizeof rel, "bench/metric%d_y.npy", k);
        double *y = load(rel, &ny);
        snprintf(rel, sizeof rel, "bench/metric%d_expect.npy", k);
        double *e = load(rel, &ne);
        if (!x || !y || !e || n != ny || ne != 7) {
            CHECK(0, "metric case %d fixtures", k);
            break;
        }
        xf_bench_metrics m;
        xf_ws_reset(ws);
        CHECK_OK(ctx, xf_bench_metrics_compute(ws, x, y, n, &m));
        for (int j = 0; j < 7; j++) {
            char name[64];
            snprintf(name, sizeof name, "case %d %s", k, MNAME[j]);
            CHECK_NEAR(mget(&m, j), e[j], 1e-9, 1e-9, name);
        }
        xf_free(ctx, x);
        xf_free(ctx, y);
        xf_free(ctx, e);
        ncase++;
    }
    CHECK(ncase >= 9, "metric cases found: %d", ncase);
    /* errors: a NaN score, fewer than 2 usable rows */
    double x[3] = {1, NAN, 2}, y[3] = {50, 60, 70}, y1[3] = {50, -1, 0};
    xf_bench_metrics m;
    CHECK_ST(ctx, xf_bench_metrics_compute(ws, x, y, 3, &m), XF_ERR_NUMERIC);
    CHECK(strstr(xf_errmsg(ctx), "score 1"), "nan message: %s", xf_errmsg(ctx));
    x[1] = 3;
    CHECK_ST(ctx, xf_bench_metrics_compute(ws, x, y1, 3, &m), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "1 model(s)"), "n<2 message: %s", xf_errmsg(ctx));
    xf_ws_free(ws);
}

static void check_expect(const xf_bench_eval *e, const char *fixture, const char *what) {
    int64_t n;
    double *ex = load(fixture, &n);
    if (!ex) return;
    CHECK(n == 14 * 3 && e->M >= 3, "%s: expect size %lld, methods %lld", what, (long long)n, (long long)e->M);
    int64_t off = e->M - 3; /* the form's methods are the last three */
    for (int64_t m = 0; m < 3 && n == 42; m++)
        for (int k = 0; k < 7; k++) {
            char name[128];
            snprintf(name, sizeof name, "%s %s mean %s", what, e->methods[off + m], MNAME[k]);
            CHECK_NEAR(mget(&e->overall[off + m].mean, k), ex[m * 14 + k], 1e-9, 1e-9, name);
            snprintf(name, sizeof name, "%s %s std %s", what, e->methods[off + m], MNAME[k]);
            CHECK_NEAR(mget(&e->overall[off + m].std, k), ex[m * 14 + 7 + k], 1e-7, 1e-7, name);
        }
    xf_free(ctx, ex);
}

static void test_synth(void) {
    char po[512], pr[512], pl[512];
    xf_bench_oracle o;
    xf_bench_results r;
    xf_bench_layers l;
    CHECK_OK(ctx, xf_bench_oracle_read(ctx, xt_ref("bench/synth_oracle.csv", po, sizeof po), &o));
    CHECK_OK(ctx, xf_bench_results_read(ctx, xt_ref("bench/synth_results.csv", pr, sizeof pr), &r));
    CHECK_OK(ctx, xf_bench_layers_read(ctx, xt_ref("bench/synth_layers.csv", pl, sizeof pl), &l));
    xf_bench_opts opt;
    xf_bench_opts_default(&opt);
    xf_bench_eval e;
    CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e));
    CHECK(e.M == 3 && e.T == 3 && e.R == 2 && e.rows_joined == 36, "synth shape M %lld T %lld R %lld J %lld",
          (long long)e.M, (long long)e.T, (long long)e.R, (long long)e.rows_joined);
    check_expect(&e, "bench/synth_expect_raw.npy", "raw");
    /* a quoted target name survived: "tgt,two" */
    CHECK(e.T == 3 && !strcmp(e.targets[1], "tgt,two"), "target 1: %s", e.T > 1 ? e.targets[1] : "");
    xf_bench_eval_free(ctx, &e);
    opt.layers = &l;
    opt.capacity = XF_BENCH_CAPACITY_GLOBAL;
    CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e));
    CHECK(e.M == 6 && !strcmp(e.methods[3], "tied+capacity"), "capacity names");
    check_expect(&e, "bench/synth_expect_capacity.npy", "capacity");
    xf_bench_eval_free(ctx, &e);
    opt.capacity = XF_BENCH_CAPACITY_TARGET;
    CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e));
    CHECK(e.M == 6 && !strcmp(e.methods[5], "flat+capacity/target"), "capacity/target names");
    check_expect(&e, "bench/synth_expect_capacity_target.npy", "capacity/target");
    /* the report: markdown and one static SVG per target */
    char dir[512], f[700];
    xt_tmp("bench_report", dir, sizeof dir);
    CHECK_OK(ctx, xf_bench_report_write(ctx, &e, dir));
    snprintf(f, sizeof f, "%s/report.md", dir);
    CHECK(access(f, R_OK) == 0, "report.md written");
    for (int t = 0; t < 3; t++) {
        snprintf(f, sizeof f, "%s/scatter_%02d_%s.svg", dir, t, t == 0 ? "tgt_one" : t == 1 ? "tgt_two" : "tgt3");
        FILE *s = fopen(f, "rb");
        CHECK(s != NULL, "svg %s", f);
        if (!s) continue;
        char buf[1 << 16];
        size_t got = fread(buf, 1, sizeof buf - 1, s);
        buf[got] = 0;
        fclose(s);
        CHECK(strstr(buf, "<svg") && !strstr(buf, "<script") && strstr(buf, "netB/src1"), "svg content %s", f);
    }
    /* report into a path that is a file */
    CHECK_ST(ctx, xf_bench_report_write(ctx, &e, f), XF_ERR_IO);
    xf_bench_eval_free(ctx, &e);
    /* capacity with a layer table that lacks an architecture */
    xf_bench_layers l2 = {0};
    CHECK_OK(ctx, xf_bench_layers_add(ctx, &l2, "netA", 8));
    opt.layers = &l2;
    CHECK_ST(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "synth_results.csv:") && strstr(xf_errmsg(ctx), "'netB' has no layer count"),
          "missing layers: %s", xf_errmsg(ctx));
    opt.layers = NULL;
    CHECK_ST(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e), XF_ERR_INVALID);
    xf_bench_layers_free(ctx, &l2);

    /* allocation failure at every step of read + evaluate + report: clean errors only */
    int64_t k, reached = 0;
    for (k = 1; k < 100000; k++) {
        xf_bench_oracle o2;
        xf_bench_results r2;
        xf_bench_eval e2;
        opt.layers = &l;
        opt.capacity = XF_BENCH_CAPACITY_GLOBAL | XF_BENCH_CAPACITY_TARGET;
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status s1 = xf_bench_oracle_read(ctx, po, &o2), s2 = XF_ERR_NOMEM, s3 = XF_ERR_NOMEM, s4 = XF_ERR_NOMEM;
        if (!s1) s2 = xf_bench_results_read(ctx, pr, &r2);
        if (!s1 && !s2) s3 = xf_bench_evaluate(ctx, &o2, &r2, &opt, &e2);
        if (!s3) s4 = xf_bench_report_write(ctx, &e2, dir);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (!s3) xf_bench_eval_free(ctx, &e2);
        if (!s1 && !s2) xf_bench_results_free(ctx, &r2);
        if (!s1) xf_bench_oracle_free(ctx, &o2);
        xf_status last = s1 ? s1 : s2 ? s2 : s3 ? s3 : s4;
        if (last == XF_OK) {
            reached = 1;
            break;
        }
        if (last != XF_ERR_NOMEM) {
            CHECK(0, "allocation failure %lld gave %s: %s", (long long)k, xf_status_str(last), xf_errmsg(ctx));
            break;
        }
    }
    CHECK(reached && k > 10, "allocation failure loop ended at %lld", (long long)k);
    xf_bench_layers_free(ctx, &l);
    xf_bench_results_free(ctx, &r);
    xf_bench_oracle_free(ctx, &o);
}

/* PARC's Heuristic baseline on its controlled bank: the paper prints 51.0 (Table 1) and
 * 51.05 / 61.27 / 7.13 / 13.63 (Table 2's four modes). xfer gives SciPy's 51.0636 / 61.27 /
 * 7.13 / 13.63 for the paper's formula l + ln(|Ds| + |Dt|); the code's add_heuristic gives
 * 50.76 / 61.27 / 0.92 / -2.66. */
static void test_parc_heuristic(void) {
    char po[512], pr[512];
    xf_bench_oracle o;
    xf_bench_results r;
    CHECK_OK(ctx, xf_bench_oracle_read(ctx, xt_ref("parc/oracle_controlled.csv", po, sizeof po), &o));
    CHECK_OK(ctx, xf_bench_results_read(ctx, xt_ref("parc/heuristic_results.csv", pr, sizeof pr), &r));
    CHECK(o.n == 196, "controlled oracle rows: %lld", (long long)o.n);
    xf_bench_eval e;
    CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, NULL, &e));
    int64_t n;
    double *ex = load("parc/heuristic_expect.npy", &n);
    if (ex && n == 2 && e.M == 2) {
        CHECK_NEAR(e.overall[0].mean.pearson, ex[0], 1e-10, 1e-10, "Heuristic vs SciPy");
        CHECK_NEAR(e.overall[1].mean.pearson, ex[1], 1e-10, 1e-10, "add_heuristic vs SciPy");
        CHECK(fabs(e.overall[0].mean.pearson - 51.05) < 0.05, "paper's Heuristic 51.05 (Table 2), got %.4f",
              e.overall[0].mean.pearson);
        CHECK(e.T == 6 && e.overall[0].mean.n == 28, "6 targets of 28 models: %lld, %lld", (long long)e.T,
              (long long)e.overall[0].mean.n);
    } else
        CHECK(0, "heuristic fixture");
    xf_free(ctx, ex);
    xf_bench_eval_free(ctx, &e);
    /* Table 2's four evaluation modes: the paper prints 51.05 / 61.27 / 7.13 / 13.63 */
    static const int groups[4] = {XF_BENCH_GROUP_TARGET, XF_BENCH_GROUP_TARGET | XF_BENCH_GROUP_SOURCE,
                                  XF_BENCH_GROUP_TARGET | XF_BENCH_GROUP_ARCH, XF_BENCH_GROUP_ARCH | XF_BENCH_GROUP_SOURCE};
    static const double paper[4] = {51.05, 61.27, 7.13, 13.63}, tol[4] = {0.05, 0.005, 0.005, 0.005};
    ex = load("parc/heuristic_expect_modes.npy", &n);
    xf_bench_opts opt;
    xf_bench_opts_default(&opt);
    for (int g = 0; g < 4 && ex && n == 8; g++) {
        opt.group = groups[g];
        CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e));
        char name[64];
        snprintf(name, sizeof name, "Heuristic, Table 2 mode %d, vs SciPy", g);
        CHECK_NEAR(e.overall[0].mean.pearson, ex[g * 2], 1e-10, 1e-10, name);
        snprintf(name, sizeof name, "add_heuristic, Table 2 mode %d, vs SciPy", g);
        CHECK_NEAR(e.overall[1].mean.pearson, ex[g * 2 + 1], 1e-10, 1e-10, name);
        CHECK(fabs(e.overall[0].mean.pearson - paper[g]) <= tol[g], "Table 2 mode %d: paper %.2f, got %.4f", g, paper[g],
              e.overall[0].mean.pearson);
        xf_bench_eval_free(ctx, &e);
    }
    CHECK(ex && n == 8, "modes fixture");
    xf_free(ctx, ex);
    opt.group = 7;
    CHECK_ST(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e), XF_ERR_INVALID);
    xf_bench_results_free(ctx, &r);
    xf_bench_oracle_free(ctx, &o);
    /* the diverse bank loads (CRLF line ends), with its 10 rows of -1 */
    xf_bench_oracle a;
    CHECK_OK(ctx, xf_bench_oracle_read(ctx, xt_ref("parc/oracle_all.csv", po, sizeof po), &a));
    int64_t neg = 0;
    for (int64_t i = 0; i < a.n; i++) neg += a.acc[i] <= 0;
    CHECK(a.n == 469 && neg == 10, "all.csv: %lld rows, %lld <= 0", (long long)a.n, (long long)neg);
    xf_bench_oracle_free(ctx, &a);
}

/* ---- the CSV dialect and its errors ---- */

static xf_status rparse(const char *text, xf_bench_results *r) {
    return xf_bench_results_parse(ctx, text, strlen(text), "r.csv", r);
}
static void bad_results(const char *text, const char *want) {
    xf_bench_results r;
    xf_status st = rparse(text, &r);
    CHECK(st == XF_ERR_FORMAT && strstr(xf_errmsg(ctx), want), "results '%.40s...': %s, message '%s', want '%s'", text,
          xf_status_str(st), xf_errmsg(ctx), want);
    if (st == XF_OK) xf_bench_results_free(ctx, &r);
}
static void bad_oracle(const char *text, const char *want) {
    xf_bench_oracle o;
    xf_status st = xf_bench_oracle_parse(ctx, text, strlen(text), "o.csv", &o);
    CHECK(st == XF_ERR_FORMAT && strstr(xf_errmsg(ctx), want), "oracle '%.40s...': %s, message '%s', want '%s'", text,
          xf_status_str(st), xf_errmsg(ctx), want);
    if (st == XF_OK) xf_bench_oracle_free(ctx, &o);
}

static void test_csv(void) {
    const char *plain = "Run,Architecture,Source Dataset,Target Dataset,A,B\n"
                        "0,r50,img,\"t,1\",1.5,2\n"
                        "0,r18,img,\"t,1\",nan,3\n";
    const char *dialect = "\xEF\xBB\xBF\"Run\",Architecture,Source Dataset,Target Dataset,A,\"B\"\r\n"
                          "\r\n"
                          "0, r50 ,img,\"t,1\",1.5,2\r\n"
                          "0,\"r18\",\"img\",\"t,1\",,3"; /* no final line end; empty cell = NaN */
    xf_bench_results a, b;
    CHECK_OK(ctx, rparse(plain, &a));
    CHECK_OK(ctx, rparse(dialect, &b));
    if (a.n == 2 && b.n == 2 && a.M == 2 && b.M == 2) {
        for (int i = 0; i < 2; i++) {
            CHECK(!strcmp(a.arch[i], b.arch[i]) && !strcmp(a.target[i], b.target[i]) && !strcmp(b.target[i], "t,1"),
                  "row %d keys: '%s' '%s'", i, b.arch[i], b.target[i]);
            for (int m = 0; m < 2; m++) {
                double u = a.score[i * 2 + m], v = b.score[i * 2 + m];
                CHECK((isnan(u) && isnan(v)) || u == v, "row %d method %d: %g vs %g", i, m, u, v);
            }
        }
        CHECK(b.line[1] == 4, "line of the second row (after a blank line): %lld", (long long)b.line[1]);
    } else
        CHECK(0, "dialect tables: %lld/%lld rows", (long long)a.n, (long long)b.n);
    /* round trip through the writer: quoting of a comma, a quote and a line end */
    char p[512];
    xt_tmp("bench_rt.csv", p, sizeof p);
    xf_bench_results w;
    const char *meth[2] = {"m \"1\"", "m,2"};
    double sc[2] = {0.1, NAN};
    CHECK_OK(ctx, xf_bench_results_init(ctx, &w, 2, meth));
    CHECK_OK(ctx, xf_bench_results_add(ctx, &w, "0", "arch\nx", " s", "t,\"q\"", sc));
    CHECK_OK(ctx, xf_bench_results_write(ctx, p, &w));
    xf_bench_results rt;
    CHECK_OK(ctx, xf_bench_results_read(ctx, p, &rt));
    CHECK(rt.n == 1 && rt.M == 2 && !strcmp(rt.methods[0], "m \"1\"") && !strcmp(rt.methods[1], "m,2") &&
              !strcmp(rt.arch[0], "arch\nx") && !strcmp(rt.source[0], " s") && !strcmp(rt.target[0], "t,\"q\"") &&
              rt.score[0] == 0.1 && isnan(rt.score[1]),
          "round trip");
    xf_bench_results_free(ctx, &rt);
    xf_bench_results_free(ctx, &w);
    xf_bench_oracle wo = {0}, ro;
    CHECK_OK(ctx, xf_bench_oracle_add(ctx, &wo, "a", "s", "t", 71.25));
    xt_tmp("bench_rt_oracle.csv", p, sizeof p);
    CHECK_OK(ctx, xf_bench_oracle_write(ctx, p, &wo));
    CHECK_OK(ctx, xf_bench_oracle_read(ctx, p, &ro));
    CHECK(ro.n == 1 && ro.acc[0] == 71.25 && !strcmp(ro.target[0], "t"), "oracle round trip");
    xf_bench_oracle_free(ctx, &ro);
    xf_bench_oracle_free(ctx, &wo);

    const char *H = "Run,Architecture,Source Dataset,Target Dataset,A\n";
    char buf[512];
#define WITH(rows) (snprintf(buf, sizeof buf, "%s%s", H, rows), buf)
    bad_results(WITH("0,a,s,t,abc\n"), "r.csv:2: column 'A': 'abc' is not a number");
    bad_results(WITH("0,a,s,t,1\n0,b,s,t,2,3\n"), "r.csv:3: 6 fields, the header has 5");
    bad_results(WITH("0,a,s,t,1\n0,a,s,t,2\n"), "r.csv:3: run 0, (a, s, t) already given at line 2");
    bad_results(WITH("0,a,\"s,t,1\n"), "r.csv:2: unterminated quoted field");
    bad_results(WITH("0,a,\"s\"x,t,1\n"), "r.csv:2: text after a closing quote");
    bad_results(WITH("0,,s,t,1\n"), "r.csv:2: empty Architecture");
    bad_results(H, "r.csv: no rows after the header");
    bad_results("", "r.csv: empty file");
    bad_results("Run,Arch,Source Dataset,Target Dataset,A\n0,a,s,t,1\n", "r.csv:1: column 2 of the header must be");
    bad_results("Run,Architecture,Source Dataset,Target Dataset\n0,a,s,t\n", "r.csv:1: no method columns");
    bad_results("Run,Architecture,Source Dataset,Target Dataset,A,A\n", "method column 'A' appears twice");
    bad_results("Run,Architecture,Source Dataset,Target Dataset,A,\n", "method column 6 has no name");
    {
        const char nul[] = "Run,Architecture,Source Dataset,Target Dataset,A\n0,a\0,s,t,1\n";
        xf_bench_results r;
        CHECK_ST(ctx, xf_bench_results_parse(ctx, nul, sizeof nul - 1, "r.csv", &r), XF_ERR_FORMAT);
        CHECK(strstr(xf_errmsg(ctx), "r.csv:2: NUL byte"), "nul: %s", xf_errmsg(ctx));
    }
    const char *OH = "Architecture,Source Dataset,Target Dataset,Oracle\n";
#define OWITH(rows) (snprintf(buf, sizeof buf, "%s%s", OH, rows), buf)
    bad_oracle(OWITH("a,s,t,high\n"), "o.csv:2: Oracle 'high' is not a finite number");
    bad_oracle(OWITH("a,s,t,nan\n"), "o.csv:2: Oracle 'nan' is not a finite number");
    bad_oracle(OWITH("a,s,t,1\na,s,t,2\n"), "o.csv:3: (a, s, t) already given at line 2");
    bad_oracle(OWITH("a,s\n"), "o.csv:2: 2 fields, the header needs 4");
    bad_oracle("Architecture,Source Dataset,Oracle\na,s,1\n", "o.csv:1: no column 'Target Dataset'");
    /* columns by name, in any order, extra ones ignored */
    xf_bench_oracle oo;
    const char *reord = "Oracle,Note,Target Dataset,Architecture,Source Dataset\n80.5,x,t,a,s\n";
    CHECK_OK(ctx, xf_bench_oracle_parse(ctx, reord, strlen(reord), "o.csv", &oo));
    CHECK(oo.n == 1 && oo.acc[0] == 80.5 && !strcmp(oo.arch[0], "a") && !strcmp(oo.target[0], "t"), "reordered oracle");
    xf_bench_oracle_free(ctx, &oo);
    xf_bench_layers l;
    const char *lb = "Architecture,Layers\nr50,fifty\n";
    CHECK_ST(ctx, xf_bench_layers_parse(ctx, lb, strlen(lb), "m.csv", &l), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "m.csv:2: Layers 'fifty' is not a count"), "layers: %s", xf_errmsg(ctx));
    const char *ld = "Architecture,Layers\nr50,50\nr50,18\n";
    CHECK_ST(ctx, xf_bench_layers_parse(ctx, ld, strlen(ld), "m.csv", &l), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "m.csv:3: architecture 'r50' given twice"), "layers twice: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_bench_layers_parse(ctx, "Architecture,Layers\n", 20, "m.csv", &l), XF_ERR_FORMAT);
    CHECK_ST(ctx, xf_bench_layers_read(ctx, "/nonexistent/m.csv", &l), XF_ERR_IO);
    {
        /* a key longer than the 1024-byte limit */
        static char longrow[1600];
        size_t h = strlen(H);
        memcpy(longrow, H, h);
        memcpy(longrow + h, "0,", 2);
        memset(longrow + h + 2, 'a', 1100);
        strcpy(longrow + h + 1102, ",s,t,1\n");
        bad_results(longrow, "r.csv:2: Architecture longer than 1024 bytes");
    }
    {
        /* writers into a folder that does not exist */
        xf_bench_oracle wo2 = {0};
        CHECK_OK(ctx, xf_bench_oracle_add(ctx, &wo2, "a", "s", "t", 1));
        CHECK_ST(ctx, xf_bench_oracle_write(ctx, "/nonexistent/o.csv", &wo2), XF_ERR_IO);
        CHECK(strstr(xf_errmsg(ctx), "/nonexistent/o.csv.tmp: cannot create"), "oracle write: %s", xf_errmsg(ctx));
        xf_bench_oracle_free(ctx, &wo2);
        xf_bench_results wr;
        const char *mm[1] = {"A"};
        double one = 1;
        CHECK_OK(ctx, xf_bench_results_init(ctx, &wr, 1, mm));
        CHECK_OK(ctx, xf_bench_results_add(ctx, &wr, "0", "a", "s", "t", &one));
        CHECK_ST(ctx, xf_bench_results_write(ctx, "/nonexistent/r.csv", &wr), XF_ERR_IO);
        xf_bench_results_free(ctx, &wr);
        CHECK_ST(ctx, xf_bench_results_init(ctx, &wr, 0, mm), XF_ERR_INVALID);
        xf_bench_results_free(ctx, &wr);
    }
    CHECK_ST(ctx, xf_bench_oracle_read(ctx, "/nonexistent/o.csv", &oo), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "/nonexistent/o.csv: cannot open"), "missing file: %s", xf_errmsg(ctx));
    xf_bench_results_free(ctx, &a);
    xf_bench_results_free(ctx, &b);
}

/* ---- evaluation of bad benchmarks ---- */

static void test_eval_errors(void) {
    const char *ot = "Architecture,Source Dataset,Target Dataset,Oracle\n"
                     "a,s1,t1,50\na,s2,t1,60\na,s3,t1,70\na,s1,t2,80\na,s2,t2,-1\n";
    xf_bench_oracle o;
    CHECK_OK(ctx, xf_bench_oracle_parse(ctx, ot, strlen(ot), "o.csv", &o));
    xf_bench_results r;
    xf_bench_eval e;
    /* no shared pair */
    CHECK_OK(ctx, rparse("Run,Architecture,Source Dataset,Target Dataset,A\n0,b,s1,t1,1\n0,b,s2,t1,2\n", &r));
    CHECK_ST(ctx, xf_bench_evaluate(ctx, &o, &r, NULL, &e), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "o.csv and r.csv share no (Architecture, Source Dataset, Target Dataset) pair"),
          "no pair: %s", xf_errmsg(ctx));
    xf_bench_results_free(ctx, &r);
    /* t2 has one model with an oracle > 0: noted, t1 evaluated; one unmatched row noted;
     * method B has a NaN: reported, A evaluated */
    CHECK_OK(ctx, rparse("Run,Architecture,Source Dataset,Target Dataset,A,B\n"
                         "0,a,s1,t1,1,1\n0,a,s2,t1,2,nan\n0,a,s3,t1,3,3\n0,a,s1,t2,1,1\n0,a,s2,t2,2,2\n0,z,s,t1,1,1\n",
                         &r));
    CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, NULL, &e));
    CHECK(e.T == 2 && e.evaluated[0] && !e.evaluated[1] && e.why_not[1] &&
              strstr(e.why_not[1], "1 non-finite score(s), the first at r.csv:3"),
          "NaN method: %s", e.why_not[1] ? e.why_not[1] : "(none)");
    CHECK_NEAR(e.overall[0].mean.pearson, 100.0, 0, 1e-12, "A on t1 only");
    CHECK(e.by_target[0 * e.T + 1].mean.n == 0, "t2 not evaluated");
    int noted_t2 = 0, noted_row = 0;
    for (int64_t i = 0; i < e.n_notes; i++) {
        noted_t2 |= strstr(e.notes[i], "target 't2': 1 model(s)") != NULL;
        noted_row |= strstr(e.notes[i], "1 results row(s) have no oracle row") && strstr(e.notes[i], "r.csv:7");
    }
    CHECK(noted_t2 && noted_row, "notes: %lld", (long long)e.n_notes);
    xf_bench_eval_free(ctx, &e);
    /* PARC's fillna(0) evaluates B too */
    xf_bench_opts opt;
    xf_bench_opts_default(&opt);
    opt.nan_as_zero = 1;
    CHECK_OK(ctx, xf_bench_evaluate(ctx, &o, &r, &opt, &e));
    CHECK(e.evaluated[1] && e.overall[1].mean.n == 3, "nan_as_zero evaluates B");
    xf_bench_eval_free(ctx, &e);
    xf_bench_results_free(ctx, &r);
    /* every target with one model: an error */
    CHECK_OK(ctx, rparse("Run,Architecture,Source Dataset,Target Dataset,A\n0,a,s1,t2,1\n0,a,s2,t2,2\n", &r));
    CHECK_ST(ctx, xf_bench_evaluate(ctx, &o, &r, NULL, &e), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "no target has 2 models"), "one model: %s", xf_errmsg(ctx));
    xf_bench_results_free(ctx, &r);
    xf_bench_oracle_free(ctx, &o);
}

/* ---- the oracle's library side: target specs, plans, records ---- */

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[8192];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b)) ok = 0;
    return ok;
}

static void test_oracle_lib(void) {
    xf_oracle_target t;
    CHECK_OK(ctx, xf_oracle_target_parse(ctx, "corpus:digits-task:train", &t));
    CHECK(!strcmp(t.name, "digits-task") && !strcmp(t.train, "corpus:digits-task:train") && !t.test, "corpus target");
    xf_oracle_target_free(ctx, &t);
    CHECK_OK(ctx, xf_oracle_target_parse(ctx, "data/set/birds_train_x.npy@data/set/birds_test_x.npy", &t));
    CHECK(!strcmp(t.name, "birds") && !strcmp(t.test, "data/set/birds_test_x.npy"), "npy target name: %s", t.name);
    xf_oracle_target_free(ctx, &t);
    CHECK_OK(ctx, xf_oracle_target_parse(ctx, "my name=photos/", &t));
    CHECK(!strcmp(t.name, "my name") && !strcmp(t.train, "photos/"), "named target");
    xf_oracle_target_free(ctx, &t);
    static const char *const badspec[][2] = {{"=x.npy", "empty name before '='"},
                                            {"n=", "no training data"},
                                            {"n=x.npy@", "no test data after '@'"},
                                            {"a\nb", "a line end"},
                                            {"/", "no name"}};
    for (size_t i = 0; i < sizeof badspec / sizeof *badspec; i++) {
        char spec[32];
        snprintf(spec, sizeof spec, "%s", badspec[i][0]);
        CHECK_ST(ctx, xf_oracle_target_parse(ctx, spec, &t), XF_ERR_INVALID);
        CHECK(strstr(xf_errmsg(ctx), badspec[i][1]), "target '%s': %s", badspec[i][0], xf_errmsg(ctx));
    }
    /* a bank of two small models in the scratch folder */
    char dir[512], from[512], to[700], out[700];
    xt_tmp("bench_oracle_bank", dir, sizeof dir);
    mkdir(dir, 0777);
    const char *files[2] = {"mlp.onnx", "resblock.onnx"};
    for (int i = 0; i < 2; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "bank/%s", files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        CHECK(copy_file(xt_ref(rel, from, sizeof from), to), "copy %s", rel);
    }
    snprintf(to, sizeof to, "%s/bank.json", dir);
    remove(to);
    xf_bank_init_opts bo;
    xf_bank_init_opts_default(&bo);
    CHECK_OK(ctx, xf_bank_init(ctx, dir, &bo));
    xf_bench_layers l;
    CHECK_OK(ctx, xf_bench_layers_from_bank(ctx, dir, &l));
    CHECK(l.n == 2 && !strcmp(l.arch[0], "mlp") && l.layers[0] == 2 && l.layers[1] == 4, "layers from the bank");
    xf_bench_layers_free(ctx, &l);

    xf_oracle_target tg[2] = {{"t", "x_train.npy", NULL}, {"t", "y_train.npy", NULL}};
    xf_oracle_plan_t *p;
    snprintf(out, sizeof out, "%s/oracle.csv", dir);
    CHECK_ST(ctx, xf_oracle_plan_create(ctx, dir, tg, 2, NULL, NULL, 0, out, &p), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "two targets are named 't'"), "duplicate targets: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_oracle_plan_create(ctx, dir, tg, 0, NULL, NULL, 0, out, &p), XF_ERR_INVALID);
    char nob[700];
    snprintf(nob, sizeof nob, "%s/none", dir);
    CHECK(xf_oracle_plan_create(ctx, nob, tg, 1, NULL, NULL, 0, out, &p) != XF_OK, "no bank");
    snprintf(nob, sizeof nob, "%s/bank.json/x/oracle.csv", dir);
    CHECK_ST(ctx, xf_oracle_plan_create(ctx, dir, tg, 1, NULL, NULL, 0, nob, &p), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "cannot create the state folder"), "state folder: %s", xf_errmsg(ctx));
    CHECK_OK(ctx, xf_oracle_plan_create(ctx, dir, tg, 1, NULL, NULL, 1, out, &p));
    CHECK(xf_oracle_plan_pairs(p) == 2 && xf_oracle_plan_done(p) == 0, "plan: 2 pairs, none done");
    CHECK_ST(ctx, xf_oracle_write(ctx, p), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "2 of 2 pairs not done (the first: model 'mlp', target 't')"), "write: %s",
          xf_errmsg(ctx));
    CHECK_ST(ctx, xf_oracle_run(ctx, p, 2, 2), XF_ERR_INVALID);
    /* the data does not exist: the error names the model and the target */
    CHECK(xf_oracle_run(ctx, p, 0, 1) != XF_OK && strstr(xf_errmsg(ctx), "model 'mlp' on target 't'"), "run: %s",
          xf_errmsg(ctx));
    xf_oracle_plan_free(p);
    /* results from the bank: bad options, data that does not exist */
    xf_bench_rank_opts ro;
    xf_bench_rank_opts_default(&ro);
    CHECK(ro.probe == 500 && ro.runs == 5 && !strcmp(ro.methods, "all"), "rank opts defaults");
    ro.runs = 0;
    xf_bench_results rr;
    CHECK_ST(ctx, xf_bench_results_from_bank(ctx, dir, tg, 1, &ro, &rr), XF_ERR_INVALID);
    ro.runs = 1;
    CHECK(xf_bench_results_from_bank(ctx, dir, tg, 1, &ro, &rr) != XF_OK && strstr(xf_errmsg(ctx), "x_train.npy"),
          "from bank, no data: %s", xf_errmsg(ctx));
    /* two models of one architecture with different depths */
    bo.architecture = "same";
    remove(to);
    CHECK_OK(ctx, xf_bank_init(ctx, dir, &bo));
    CHECK_ST(ctx, xf_bench_layers_from_bank(ctx, dir, &l), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "are both 'same' but have 2 and 4 layers"), "layers conflict: %s", xf_errmsg(ctx));
}

int main(void) {
    if (xf_ctx_create(&ctx) != XF_OK) return 1;
    test_metric_cases();
    test_synth();
    test_parc_heuristic();
    test_csv();
    test_eval_errors();
    test_oracle_lib();
    xf_ctx_free(ctx);
    return xt_done("test_bench");
}
