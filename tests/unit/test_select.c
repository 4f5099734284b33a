/* Model selection (include/xfer/select.h): the feature cache (round trip, misses, every
 * kind of corrupt entry), image conversion for a model, xf_rank's criterion recomputed
 * here from its per-method scores (z-scored mean, single method, capacity term), the
 * cache across calls, a failing model, bad options, and allocation failures. */
#include <unistd.h>

#include "xfer/xfer.h"
#include "xfer/select.h"
#include "xtest.h"

static void sh(const char *cmd) {
    if (system(cmd) != 0) fprintf(stderr, "command failed: %s\n", cmd);
}

static void test_cache(xf_ctx_t *ctx) {
    char dir[1024], buf[1024], p[1300];
    xt_tmp("select_cache", dir, sizeof dir);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    sh(p);
    /* default folder: XDG_CACHE_HOME if absolute, else HOME */
    char *ox = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    setenv("XDG_CACHE_HOME", "/x/y", 1);
    CHECK(xf_fcache_default_dir(buf, sizeof buf) == 0 && !strcmp(buf, "/x/y/xfer"), "XDG: %s", buf);
    setenv("XDG_CACHE_HOME", "rel", 1);
    setenv("HOME", "/home/u", 1);
    CHECK(xf_fcache_default_dir(buf, sizeof buf) == 0 && !strcmp(buf, "/home/u/.cache/xfer"), "HOME: %s", buf);
    if (ox) setenv("XDG_CACHE_HOME", ox, 1), free(ox);
    else unsetenv("XDG_CACHE_HOME");

    xf_fcache_t *c = NULL;
    snprintf(p, sizeof p, "%s/deep/er", dir);
    CHECK_OK(ctx, xf_fcache_open(ctx, p, &c));
    xf_fcache_key k = {"aa", "bb", "n=4", "f|l"}, k2 = {"aa", "bb", "n=5", "f|l"};
    float F[4 * 3], P[4 * 2];
    for (int i = 0; i < 12; i++) F[i] = (float)i * 0.5f - 1;
    for (int i = 0; i < 8; i++) P[i] = 0.5f;
    xf_fcache_entry e = {F, P, 4, 3, 2, 1.25}, g;
    int hit = -1;
    CHECK_OK(ctx, xf_fcache_get(ctx, c, &k, &g, &hit));
    CHECK(hit == 0, "empty cache: miss");
    CHECK_OK(ctx, xf_fcache_put(ctx, c, &k, &e));
    CHECK_OK(ctx, xf_fcache_get(ctx, c, &k, &g, &hit));
    CHECK(hit == 1 && g.N == 4 && g.D == 3 && g.Z == 2 && g.seconds == 1.25 && !memcmp(g.F, F, sizeof F) &&
              !memcmp(g.P, P, sizeof P),
          "round trip");
    xf_fcache_entry_free(ctx, &g);
    CHECK_OK(ctx, xf_fcache_get(ctx, c, &k2, &g, &hit));
    CHECK(hit == 0, "another probe spec is another entry");
    /* corrupt entries: each is a miss, reported, removed */
    char path[1200], path2[1200];
    xf_fcache_path(c, &k, path, sizeof path);
    xf_fcache_path(c, &k2, path2, sizeof path2);
    static const struct { long off; unsigned char byte; } flips[] = {{0, 'Y'}, {8, 2}, {20, 0}, {50, 0x7f}, {90, 0x11}, {-1, 0}};
    for (int t = 0; flips[t].off >= 0; t++) {
        CHECK_OK(ctx, xf_fcache_put(ctx, c, &k, &e));
        FILE *f = fopen(path, "r+b");
        if (f) {
            fseek(f, flips[t].off, SEEK_SET);
            fputc(flips[t].byte, f);
            fclose(f);
        }
        CHECK_OK(ctx, xf_fcache_get(ctx, c, &k, &g, &hit));
        CHECK(hit == 0 && access(path, F_OK) != 0, "flip at %ld: hit %d, file %s", flips[t].off, hit,
              access(path, F_OK) ? "removed" : "kept");
    }
    /* truncated, and a renamed entry (another key's file) */
    CHECK_OK(ctx, xf_fcache_put(ctx, c, &k, &e));
    CHECK(truncate(path, 90) == 0, "truncate");
    CHECK_OK(ctx, xf_fcache_get(ctx, c, &k, &g, &hit));
    CHECK(hit == 0, "truncated entry is a miss");
    CHECK_OK(ctx, xf_fcache_put(ctx, c, &k, &e));
    CHECK(rename(path, path2) == 0, "rename");
    CHECK_OK(ctx, xf_fcache_get(ctx, c, &k2, &g, &hit));
    CHECK(hit == 0, "an entry under another key's name is a miss");
    /* bad entries to store */
    xf_fcache_entry none = {NULL, NULL, 0, 0, 0, 0};
    CHECK_ST(ctx, xf_fcache_put(ctx, c, &k, &none), XF_ERR_INVALID);
    xf_fcache_free(c);
    /* a file where the folder should be */
    snprintf(p, sizeof p, "%s/file", dir);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    snprintf(p, sizeof p, "%s/file/sub", dir);
    CHECK_ST(ctx, xf_fcache_open(ctx, p, &c), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "a file is in the way") != NULL, "%s", xf_errmsg(ctx));
}

/* A bank of the three fixture models under XF_TMP/name, bank.json written. */
static void make_bank(xf_ctx_t *ctx, const char *name, char *dir, size_t cap) {
    char ref[1024], cmd[3000];
    xt_tmp(name, dir, cap);
    xt_ref("bank", ref, sizeof ref);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s'/*.onnx '%s'/", dir, dir, ref, dir);
    sh(cmd);
    xf_bank_init_opts o;
    xf_bank_init_opts_default(&o);
    o.has_norm = 1;
    o.mean[0] = o.mean[1] = o.mean[2] = 0.5f;
    o.std[0] = o.std[1] = o.std[2] = 0.25f;
    CHECK_OK(ctx, xf_bank_init(ctx, dir, &o));
}

static void test_images_for(xf_ctx_t *ctx) {
    xf_bank_model m;
    memset(&m, 0, sizeof m);
    m.path = "m.onnx";
    m.channels = 3, m.height = 12, m.width = 12;
    for (int c = 0; c < 4; c++) m.mean[c] = 0.5f, m.std[c] = 0.25f;
    float x[2 * 8 * 8], *y = NULL;
    for (int i = 0; i < 64; i++) x[i] = 0.75f, x[64 + i] = (float)(i % 8) / 7.0f;
    CHECK_OK(ctx, xf_select_images_for(ctx, &m, x, 2, 1, 8, 8, &y));
    if (y) {
        int ok = 1;
        for (int i = 0; i < 3 * 144; i++) ok &= fabsf(y[i] - 1.0f) < 1e-6f; /* (0.75 - 0.5) / 0.25 */
        CHECK(ok, "a constant image stays constant, normalised");
        ok = 1;
        for (int i = 0; i < 144; i++) ok &= y[3 * 144 + i] == y[4 * 144 + i] && y[3 * 144 + i] == y[5 * 144 + i];
        CHECK(ok, "gray replicated to 3 channels");
        CHECK(y[3 * 144] < y[3 * 144 + 11], "a left-to-right ramp stays a ramp after resizing");
    }
    xf_free(ctx, y);
    m.channels = 2;
    CHECK_ST(ctx, xf_select_images_for(ctx, &m, x, 2, 1, 8, 8, &y), XF_ERR_UNSUPPORTED);
}

/* z-scores over finite values (population sd) */
static void zs(const double *v, int n, double *z) {
    double mu = 0, sd = 0;
    for (int i = 0; i < n; i++) mu += v[i];
    mu /= n;
    for (int i = 0; i < n; i++) sd += (v[i] - mu) * (v[i] - mu);
    sd = sqrt(sd / n);
    for (int i = 0; i < n; i++) z[i] = (v[i] - mu) / sd;
}

static void test_rank(xf_ctx_t *ctx) {
    char dir[1024], cache[1024], ref[1024];
    make_bank(ctx, "select_bank", dir, sizeof dir);
    xt_tmp("select_rank_cache", cache, sizeof cache);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    sh(cmd);
    xf_bank_t *b = NULL;
    CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
    xf_dataset ds;
    memset(&ds, 0, sizeof ds);
    CHECK_OK(ctx, xf_data_open(ctx, xt_ref("bank/digits_train_x.npy", ref, sizeof ref), NULL, &ds));
    if (!b || !ds.n) return;
    xf_rank_opts o;
    xf_rank_opts_default(&o);
    o.cache_dir = cache;
    o.probe = 100;
    xf_rank_result *r = NULL;
    /* the default rule, recomputed from its methods' scores */
    CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r));
    const char *const *dm;
    int nd = xf_rank_default_methods(&dm);
    if (r) {
        CHECK(r->n_models == 3 && r->n_methods == nd && r->probe_n == 100 && r->classes == 10 && r->extracted == 3 &&
                  r->cache_hits == 0,
              "result shape: %lld models %d methods probe %lld C %lld", (long long)r->n_models, r->n_methods,
              (long long)r->probe_n, (long long)r->classes);
        double crit[3] = {0, 0, 0}, v[3], z[3];
        for (int j = 0; j < nd && j < r->n_methods; j++) {
            CHECK(!strcmp(r->methods[j], dm[j]), "method %d %s", j, r->methods[j]);
            for (int i = 0; i < 3; i++) v[i] = r->models[i].scores[j];
            zs(v, 3, z);
            for (int i = 0; i < 3; i++) crit[i] += z[i] / nd;
        }
        for (int i = 0; i < 3; i++) CHECK_NEAR(r->models[i].score, crit[i], 1e-12, 1e-12, "default criterion");
        int seen[4] = {0};
        for (int q = 0; q < 3; q++) {
            const xf_rank_model *m = &r->models[r->order[q]];
            CHECK(m->ok && m->rank == q + 1 && m->N == 100, "order %d: rank %d", q, m->rank);
            if (q) CHECK(m->score <= r->models[r->order[q - 1]].score, "sorted");
            seen[m->rank]++;
        }
        /* the same call again: every model from the cache, the same numbers */
        xf_rank_result *r2 = NULL;
        CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r2));
        if (r2) {
            CHECK(r2->extracted == 0 && r2->cache_hits == 3, "second call: %lld extracted", (long long)r2->extracted);
            for (int i = 0; i < 3; i++) CHECK(r2->models[i].cached && r2->models[i].score == r->models[i].score, "cached score %d", i);
        }
        xf_rank_result_free(ctx, r2);
        /* another probe seed is another probe set: extracted again */
        o.seed = 7;
        CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r2));
        CHECK(r2 && r2->extracted == 3, "a new seed extracts");
        xf_rank_result_free(ctx, r2);
        o.seed = XF_PROBE_SEED(0);
        /* one method: score = that method; capacity: z + layers / 50 */
        o.methods = "logme";
        o.capacity = 1;
        CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r2));
        if (r2) {
            double lv[3], lz[3];
            for (int i = 0; i < 3; i++) lv[i] = r2->models[i].scores[0];
            zs(lv, 3, lz);
            for (int i = 0; i < 3; i++)
                CHECK_NEAR(r2->models[i].score, lz[i] + (double)r2->models[i].layers / 50, 1e-12, 1e-12, "capacity");
            CHECK(strstr(r2->criterion, "capacity") != NULL, "criterion %s", r2->criterion);
        }
        xf_rank_result_free(ctx, r2);
        o.capacity = 0;
        CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r2));
        for (int i = 0; r2 && i < 3; i++) CHECK(r2->models[i].score == r2->models[i].scores[0], "single method");
        xf_rank_result_free(ctx, r2);
        o.methods = "all";
        CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r2));
        if (r2) {
            CHECK(r2->n_methods == xf_est_count(), "all: %d methods", r2->n_methods);
            for (int i = 0; i < 3; i++) CHECK_NEAR(r2->models[i].score, r->models[i].score, 1e-12, 1e-12, "all ranks by default");
        }
        xf_rank_result_free(ctx, r2);
        o.methods = "default";
    }
    xf_rank_result_free(ctx, r);
    /* bad options */
    o.methods = "parc,nosuch";
    CHECK_ST(ctx, xf_rank(ctx, b, &ds, &o, &r), XF_ERR_NOTFOUND);
    o.methods = ",";
    CHECK_ST(ctx, xf_rank(ctx, b, &ds, &o, &r), XF_ERR_INVALID);
    o.methods = "default";
    o.probe = -1;
    CHECK_ST(ctx, xf_rank(ctx, b, &ds, &o, &r), XF_ERR_INVALID);
    o.probe = 100;
    xf_dataset one;
    memset(&one, 0, sizeof one);
    int64_t idx[3];
    int n1 = 0;
    for (int64_t i = 0; i < ds.n && n1 < 3; i++)
        if (ds.y[i] == ds.y[0]) idx[n1++] = i;
    CHECK_OK(ctx, xf_dataset_subset(ctx, &ds, idx, n1, &one));
    CHECK_ST(ctx, xf_rank(ctx, b, &one, &o, &r), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "one class") != NULL, "one class: %s", xf_errmsg(ctx));
    xf_dataset_free(ctx, &one);
    /* a model whose file changed: reported, the others ranked */
    char p[1200];
    snprintf(p, sizeof p, "%s/mlp.onnx", dir);
    FILE *f = fopen(p, "ab");
    if (f) fputc(0, f), fclose(f);
    CHECK_OK(ctx, xf_rank(ctx, b, &ds, &o, &r));
    if (r) {
        CHECK(r->failed == 1 && !r->models[1].ok && strstr(r->models[1].error, "SHA-256") && r->models[1].rank == 0 &&
                  r->order[2] == 1,
              "failed model: %s", r->models[1].error);
        CHECK(r->models[0].ok && r->models[2].ok && r->models[0].rank + r->models[2].rank == 3, "the others ranked");
    }
    xf_rank_result_free(ctx, r);
    xf_bank_free(b);
    /* allocation failures: an error (never a crash or a leak) until enough are allowed */
    b = NULL;
    char ref2[1024];
    make_bank(ctx, "select_bank_alloc", dir, sizeof dir);
    CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
    (void)ref2;
    o.no_cache = 1;
    o.probe = 40;
    int done = 0;
    for (int64_t k = 1; k < 100000 && !done && b; k = k < 40 ? k + 1 : k * 5 / 4) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_rank(ctx, b, &ds, &o, &r);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) done = 1;
        else CHECK(r == NULL && st == XF_ERR_NOMEM, "alloc %lld: %s: %s", (long long)k, xf_status_str(st), xf_errmsg(ctx));
        xf_rank_result_free(ctx, r);
        r = NULL;
    }
    CHECK(done, "rank succeeds once allocations are allowed");
    xf_bank_free(b);
    xf_dataset_free(ctx, &ds);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 1;
    xf_ctx_set_threads(ctx, 1);
    test_cache(ctx);
    test_images_for(ctx);
    test_rank(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_select");
}
