/* Minimal test harness: each check prints its name with expected and actual values on
 * failure; main returns non-zero if any failed. Fixtures are read from $XF_REF
 * (tests/ref), scratch files go to $XF_TMP. */
#ifndef XTEST_H
#define XTEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int xt_fail = 0, xt_pass = 0;

#define CHECK(cond, ...) do { \
    if (cond) xt_pass++; else { xt_fail++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_OK(ctx, expr) do { xf_status _st = (expr); \
    CHECK(_st == XF_OK, "%s -> %s: %s", #expr, xf_status_str(_st), xf_errmsg(ctx)); } while (0)
#define CHECK_ST(ctx, expr, want) do { xf_status _st = (expr); \
    CHECK(_st == (want), "%s -> %s (want %s): %s", #expr, xf_status_str(_st), xf_status_str(want), xf_errmsg(ctx)); } while (0)
/* |a-b| <= atol + rtol*|b| */
#define CHECK_NEAR(a, b, rtol, atol, name) do { double _a = (a), _b = (b); \
    CHECK(fabs(_a - _b) <= (atol) + (rtol) * fabs(_b) && !isnan(_a), "%s: got %.10g expected %.10g", name, _a, _b); } while (0)

static inline const char *xt_ref(const char *rel, char *buf, size_t cap) {
    const char *r = getenv("XF_REF");
    snprintf(buf, cap, "%s/%s", r ? r : "tests/ref", rel);
    return buf;
}
static inline const char *xt_tmp(const char *rel, char *buf, size_t cap) {
    const char *t = getenv("XF_TMP");
    if (!t) t = "/tmp";
    mkdir(t, 0777);
    snprintf(buf, cap, "%s/%s", t, rel);
    return buf;
}
static inline int xt_done(const char *name) {
    if (xt_fail) fprintf(stderr, "%s: %d failed, %d passed\n", name, xt_fail, xt_pass);
    else printf("%s: %d checks passed\n", name, xt_pass);
    return xt_fail ? 1 : 0;
}
#endif
