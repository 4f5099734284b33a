/* core: errors on the context, allocator hooks and fault injection, workspace, RNG. */
#include "xfer/core.h"
#include "xtest.h"

static int64_t hook_calls;
static void *hk_malloc(void *u, size_t n) { (void)u; hook_calls++; return malloc(n); }
static void *hk_realloc(void *u, void *p, size_t n) { (void)u; hook_calls++; return realloc(p, n); }
static void hk_free(void *u, void *p) { (void)u; free(p); }

static int logged;
static void on_log(void *u, xf_log_level l, const char *m) { (void)u; (void)l; (void)m; logged++; }

/* xf_path_short_names on paths[n] against the expected names want[n] (ext ".npy"). */
static void check_names(xf_ctx_t *ctx, const char *const *paths, int n, const char *const *want) {
    char *got[8];
    xf_status st = xf_path_short_names(ctx, paths, n, ".npy", got);
    CHECK(st == XF_OK, "short names of %s...: %s", paths[0], xf_errmsg(ctx));
    if (st) return;
    for (int i = 0; i < n; i++) {
        CHECK(got[i] && strcmp(got[i], want[i]) == 0, "short name of %s: got '%s', want '%s'", paths[i],
              got[i] ? got[i] : "(null)", want[i]);
        xf_free(ctx, got[i]);
    }
}

static void test_path_short_names(xf_ctx_t *ctx) {
    /* same basename in different directories: the directory tells them apart */
    check_names(ctx, (const char *const[]){"a/features.npy", "b/features.npy"}, 2,
                (const char *const[]){"a/features", "b/features"});
    /* no common suffix: the file name alone (extension dropped) */
    check_names(ctx, (const char *const[]){"runs/x/resnet.npy", "other/vit.npy", "deit"}, 3,
                (const char *const[]){"resnet", "vit", "deit"});
    /* nested directories: as many components as needed, per path */
    check_names(ctx, (const char *const[]){"m/r50/l4/features.npy", "m/vit/l4/features.npy", "m/r50/l3/features.npy",
                                           "/abs/other.npy"}, 4,
                (const char *const[]){"r50/l4/features", "vit/l4/features", "l3/features", "other"});
    /* one path is a suffix of another: the shorter keeps all its components */
    check_names(ctx, (const char *const[]){"l4/f.npy", "r50/l4/f.npy"}, 2, (const char *const[]){"l4/f", "r50/l4/f"});
    /* identical paths (after "./" and "//"): whole path, then "#m" for the m-th occurrence */
    check_names(ctx, (const char *const[]){"a/f.npy", "./a//f.npy", "b/f.npy", "a/f.npy"}, 4,
                (const char *const[]){"a/f", "a/f#2", "b/f", "a/f#3"});
    /* the extension is dropped only when something is left; other extensions stay */
    check_names(ctx, (const char *const[]){".npy", "x.npz", "/"}, 3, (const char *const[]){".npy", "x.npz", "/"});
    /* a single path: its file name */
    check_names(ctx, (const char *const[]){"dir/only.npy"}, 1, (const char *const[]){"only"});
    /* out of memory at each allocation in turn: an error, and no names left behind */
    const char *const two[] = {"a/features.npy", "b/features.npy"};
    for (int k = 1; k <= 5; k++) {
        char *got[2] = {(char *)1, (char *)1};
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_path_short_names(ctx, two, 2, ".npy", got);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK(st == XF_ERR_NOMEM && !got[0] && !got[1], "short names, allocation %d fails: %s", k, xf_status_str(st));
        xf_ctx_clear_error(ctx);
    }
}

int main(void) {
    xf_ctx_t *ctx;
    CHECK(xf_ctx_create(&ctx) == XF_OK, "create");
    CHECK(strcmp(xf_errmsg(ctx), "") == 0, "no error initially");
    CHECK(XF_ERR(ctx, XF_ERR_INVALID, "labels.npy: %d labels for %d rows", 499, 500) == XF_ERR_INVALID, "ret");
    CHECK(strcmp(xf_errmsg(ctx), "labels.npy: 499 labels for 500 rows") == 0, "msg: %s", xf_errmsg(ctx));
    CHECK(xf_last_status(ctx) == XF_ERR_INVALID, "status");
    XF_ERR(ctx, XF_ERR_FORMAT, "line1\nline2");
    CHECK(strchr(xf_errmsg(ctx), '\n') == NULL, "one line");
    xf_error_prefix(ctx, "a.npy");
    CHECK(strncmp(xf_errmsg(ctx), "a.npy: line1", 12) == 0, "prefix: %s", xf_errmsg(ctx));
    xf_ctx_clear_error(ctx);
    CHECK(xf_last_status(ctx) == XF_OK, "cleared");
    for (int s = 0; s >= -9; s--) CHECK(strlen(xf_status_str((xf_status)s)) > 0, "status str %d", s);

    /* allocator hook */
    xf_allocator al = {hk_malloc, hk_realloc, hk_free, NULL};
    xf_ctx_set_allocator(ctx, &al);
    void *p = xf_malloc(ctx, 100);
    p = xf_realloc(ctx, p, 200);
    xf_free(ctx, p);
    CHECK(hook_calls == 2, "hook used: %lld", (long long)hook_calls);
    xf_ctx_set_allocator(ctx, NULL);

    /* fault injection: 3rd allocation fails */
    xf_ctx_fail_alloc_after(ctx, 3);
    void *a = xf_malloc(ctx, 8), *b = xf_malloc(ctx, 8), *c = xf_malloc(ctx, 8);
    CHECK(a && b && !c, "third fails");
    CHECK(xf_last_status(ctx) == XF_ERR_NOMEM, "nomem recorded");
    xf_ctx_fail_alloc_after(ctx, 0);
    xf_free(ctx, a);
    xf_free(ctx, b);
    CHECK(xf_calloc(ctx, SIZE_MAX / 2, 4) == NULL, "calloc overflow");

    /* workspace: alignment, growth, reset to one block */
    xf_ws_t *ws;
    CHECK(xf_ws_create(ctx, &ws) == XF_OK, "ws");
    for (int round = 0; round < 3; round++) {
        int64_t before = xf_ctx_alloc_count(ctx);
        for (int i = 0; i < 10; i++) {
            double *d = xf_ws_alloc(ws, 50000 + i);
            CHECK(d && ((uintptr_t)d % 64) == 0, "aligned");
            if (d) d[0] = 1.0;
        }
        if (round == 2) CHECK(xf_ctx_alloc_count(ctx) == before, "steady state allocates nothing");
        xf_ws_reset(ws);
    }
    CHECK(xf_ws_peak(ws) >= 500000, "peak");
    xf_ws_free(ws);

    /* matrices */
    xf_matd m;
    CHECK(xf_matd_alloc(ctx, &m, 3, 4) == XF_OK && m.ld == 4, "matd");
    XF_AT(m, 2, 3) = 5;
    CHECK(m.data[11] == 5, "XF_AT");
    xf_matd_free(ctx, &m);
    CHECK(xf_matd_alloc(ctx, &m, -1, 4) == XF_ERR_INVALID, "negative shape");

    /* RNG: deterministic, uniform in range, normal moments */
    xf_rng r1, r2;
    xf_rng_seed(&r1, 42);
    xf_rng_seed(&r2, 42);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= xf_rng_u64(&r1) == xf_rng_u64(&r2);
    CHECK(same, "same seed same stream");
    double s = 0, s2 = 0;
    int n = 200000, inrange = 1;
    for (int i = 0; i < n; i++) {
        double u = xf_rng_uniform(&r1);
        inrange &= u >= 0 && u < 1;
        double z = xf_rng_normal(&r1);
        s += z;
        s2 += z * z;
        inrange &= xf_rng_below(&r1, 7) < 7;
    }
    CHECK(inrange, "ranges");
    CHECK_NEAR(s / n, 0.0, 0, 0.01, "normal mean");
    CHECK_NEAR(s2 / n, 1.0, 0, 0.02, "normal var");
    int64_t perm[10];
    for (int i = 0; i < 10; i++) perm[i] = i;
    xf_rng_shuffle_i64(&r1, perm, 10);
    int seen = 0;
    for (int i = 0; i < 10; i++) seen |= 1 << perm[i];
    CHECK(seen == 1023, "shuffle is a permutation");

    /* log callback with level filter */
    xf_ctx_set_log(ctx, on_log, NULL, XF_LOG_INFO);
    xf_log(ctx, XF_LOG_DEBUG, "hidden");
    xf_log(ctx, XF_LOG_WARN, "shown %d", 1);
    CHECK(logged == 1, "log filter");
    xf_ctx_set_threads(ctx, 3);
    CHECK(xf_ctx_threads(ctx) == 3, "threads");
    test_path_short_names(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_core");
}
