/* The estimator registry and the checks every estimator relies on.
 *
 * Each estimator file defines one `const xf_estimator xf_est_def_<name>`; the table
 * below references them all (strong references, so the static library's linker pulls
 * every estimator object in). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/estimators.h"

#define EST(n) extern const xf_estimator xf_est_def_##n;
EST(knn) EST(linear) EST(leep) EST(nleep) EST(nce) EST(hscore) EST(hscore_shrink) EST(logme) EST(parc)
EST(gbc) EST(transrate) EST(sfda) EST(ncti) EST(etran)
#undef EST

static const xf_estimator *all[] = {&xf_est_def_knn, &xf_est_def_linear, &xf_est_def_leep, &xf_est_def_nleep,
                                    &xf_est_def_nce, &xf_est_def_hscore, &xf_est_def_hscore_shrink,
                                    &xf_est_def_logme, &xf_est_def_parc, &xf_est_def_gbc, &xf_est_def_transrate,
                                    &xf_est_def_sfda, &xf_est_def_ncti, &xf_est_def_etran};

static int present(int i) { return all[i] != NULL && all[i]->name != NULL; }

int xf_est_count(void) {
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) n += present((int)i);
    return n;
}

const xf_estimator *xf_est_at(int k) {
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (present((int)i) && k-- == 0) return all[i];
    return NULL;
}

const xf_estimator *xf_est_find(const char *name) {
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (present((int)i) && strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}

/* ---- parameters ---- */

static const char *lookup(const xf_params *p, const char *method, const char *key) {
    if (!p) return NULL;
    size_t lm = method ? strlen(method) : 0;
    const char *plain = NULL;
    for (int i = 0; i < p->n; i++) {
        const char *k = p->items[i].key;
        if (method && strncmp(k, method, lm) == 0 && k[lm] == '.' && strcmp(k + lm + 1, key) == 0)
            return p->items[i].value;
        if (strcmp(k, key) == 0) plain = p->items[i].value;
    }
    return plain;
}

const char *xf_params_str(const xf_params *p, const char *method, const char *key, const char *def) {
    const char *v = lookup(p, method, key);
    return v ? v : def;
}

xf_status xf_params_f64(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, double def, double *out) {
    const char *v = lookup(p, method, key);
    *out = def;
    if (!v) return XF_OK;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || errno == ERANGE)
        return XF_ERR(ctx, XF_ERR_INVALID, "parameter %s.%s: '%s' is not a number", method ? method : "", key, v);
    *out = d;
    return XF_OK;
}

xf_status xf_params_i64(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, int64_t def, int64_t *out) {
    const char *v = lookup(p, method, key);
    *out = def;
    if (!v) return XF_OK;
    char *end;
    errno = 0;
    long long d = strtoll(v, &end, 10);
    if (end == v || *end)
        return XF_ERR(ctx, XF_ERR_INVALID, "parameter %s.%s: '%s' is not an integer", method ? method : "", key, v);
    if (errno == ERANGE) /* strtoll clamps: never report a clamped value as the user's */
        return XF_ERR(ctx, XF_ERR_INVALID, "parameter %s.%s: '%s' is out of the 64-bit integer range", method ? method : "", key, v);
    *out = d;
    return XF_OK;
}

/* Is key (unqualified) among est's documented keys? */
static int accepts(const xf_estimator *est, const char *key, size_t klen) {
    for (const char *const *q = est->params; q && *q; q++)
        if (strncmp(*q, key, klen) == 0 && (*q)[klen] == '=') return 1;
    return 0;
}

/* ---- input checks ---- */

xf_status xf_est_check_input(xf_ctx_t *ctx, const xf_estimator *est, const xf_est_input *in, const xf_params *p) {
    const char *m = est->name;
    /* parameters qualified with this method must be known to it */
    for (int i = 0; p && i < p->n; i++) {
        const char *k = p->items[i].key;
        size_t lm = strlen(m);
        if (strncmp(k, m, lm) == 0 && k[lm] == '.' && !accepts(est, k + lm + 1, strlen(k + lm + 1)))
            return XF_ERR(ctx, XF_ERR_INVALID, "%s: unknown parameter '%s'", m, k + lm + 1);
    }
    if (in->N < 2) return XF_ERR(ctx, XF_ERR_INVALID, "%s: need at least 2 samples, got %lld", m, (long long)in->N);
    if (!in->y) return XF_ERR(ctx, XF_ERR_INVALID, "%s: no labels", m);
    if (in->C < 1) return XF_ERR(ctx, XF_ERR_INVALID, "%s: no classes", m);
    for (int64_t i = 0; i < in->N; i++)
        if (in->y[i] < 0 || in->y[i] >= in->C)
            return XF_ERR(ctx, XF_ERR_INVALID, "%s: label %d at index %lld outside 0..%lld", m, in->y[i], (long long)i,
                          (long long)in->C - 1);
    if ((est->flags & XF_NEEDS_F)) {
        if (!in->F) return XF_ERR(ctx, XF_ERR_INVALID, "%s: needs features", m);
        if (in->D < 1 || in->ldF < in->D) return XF_ERR(ctx, XF_ERR_SHAPE, "%s: bad feature shape", m);
        for (int64_t i = 0; i < in->N; i++)
            for (int64_t j = 0; j < in->D; j++)
                if (!isfinite(in->F[i * in->ldF + j]))
                    return XF_ERR(ctx, XF_ERR_NUMERIC, "%s: features: non-finite value at row %lld, column %lld", m,
                                  (long long)i, (long long)j);
    }
    if ((est->flags & XF_NEEDS_P)) {
        if (!in->P) return XF_ERR(ctx, XF_ERR_INVALID, "%s: needs source-class probabilities (--probs)", m);
        if (in->Z < 1 || in->ldP < in->Z) return XF_ERR(ctx, XF_ERR_SHAPE, "%s: bad probability shape", m);
        for (int64_t i = 0; i < in->N; i++) {
            double s = 0;
            for (int64_t z = 0; z < in->Z; z++) {
                float v = in->P[i * in->ldP + z];
                if (!isfinite(v) || v < 0)
                    return XF_ERR(ctx, XF_ERR_NUMERIC, "%s: probabilities: invalid value %g at row %lld, column %lld", m,
                                  v, (long long)i, (long long)z);
                s += v;
            }
            /* rows must be distributions: logits passed by mistake are the usual cause */
            if (fabs(s - 1.0) > 1e-3 * (1.0 + 1e-3 * (double)in->Z))
                return XF_ERR(ctx, XF_ERR_INVALID,
                              "%s: probabilities: row %lld sums to %g, not 1 (pass softmax outputs, not logits)", m,
                              (long long)i, s);
        }
    }
    if (in->Y && !(est->flags & XF_MULTILABEL_OK))
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: multi-label targets are not supported by this method", m);
    return XF_OK;
}

xf_status xf_est_run(xf_ctx_t *ctx, const char *name, const xf_est_input *in, const xf_params *p, xf_ws_t *ws,
                     double *score) {
    const xf_estimator *est = xf_est_find(name);
    *score = NAN;
    if (!est) return XF_ERR(ctx, XF_ERR_NOTFOUND, "unknown method '%s'", name);
    xf_status st = xf_est_check_input(ctx, est, in, p);
    if (st) return st;
    xf_ws_reset(ws);
    return est->fn(ctx, in, p, ws, score);
}

/* ---- labels ---- */

typedef struct { int64_t v, i; } vi;
static int cmp_vi(const void *a, const void *b) {
    const vi *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i < y->i ? -1 : x->i > y->i);
}

xf_status xf_labels_densify(xf_ctx_t *ctx, const int64_t *raw, int64_t N, int32_t *y, int64_t *C, int64_t *classes) {
    *C = 0;
    if (N <= 0) return XF_ERR(ctx, XF_ERR_INVALID, "no labels");
    vi *t = xf_malloc(ctx, (size_t)N * sizeof *t);
    if (!t) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < N; i++) { t[i].v = raw[i]; t[i].i = i; }
    qsort(t, (size_t)N, sizeof *t, cmp_vi);
    int64_t c = -1;
    for (int64_t k = 0; k < N; k++) {
        if (k == 0 || t[k].v != t[k - 1].v) {
            c++;
            if (classes) classes[c] = t[k].v;
        }
        if (c > INT32_MAX) { xf_free(ctx, t); return XF_ERR(ctx, XF_ERR_INVALID, "too many classes"); }
        y[t[k].i] = (int32_t)c;
    }
    *C = c + 1;
    xf_free(ctx, t);
    return XF_OK;
}

void xf_est_minmax_col(const double *tab, int64_t M, int T, int t, double *out) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < M; i++) {
        double v = tab[i * T + t];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    for (int64_t i = 0; i < M; i++) out[i] = hi > lo ? (tab[i * T + t] - lo) / (hi - lo) : 0.0;
}
