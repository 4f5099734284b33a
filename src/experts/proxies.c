/* Expert selection: the three proxies of Puigcerver et al. 2021 (Sec. 5, methods.md 1.5)
 * computed for every expert of a bank on a labelled target set, and the pick of each.
 *
 * kNN (Sec. 5, App. C.1), the paper's choice: leave-one-out 1-nearest-neighbour accuracy
 * (Euclidean) of the expert's features M_e(x) on the target; one forward pass per expert
 * and the knn estimator (src/estimators/knn.c: the sample excluded by index, ties by the
 * lower index). Features are the input of the classifier (after global pooling); an
 * adapter expert runs with its own adapters active.
 *
 * Label matching (App. B): Q = the generalist's softmax over the upstream classes,
 * averaged over the target images; the pick is argmin_e D_KL(P_e || Q) with P_e the
 * expert's upstream-label prior (xf_experts_kl: Q smoothed by eps = 1e-6 so that a class
 * the generalist never predicts costs a finite amount). Direction: P_e || Q, as the paper
 * writes it: an expert is penalised for the mass its slice puts where the target does
 * not look like anything; target mass outside the slice is not penalised.
 *
 * Domain prediction (App. A): the expert prediction network gives Q_EPN(e | x); the
 * score is (1/N) sum_i log Q_EPN(e | x_i) (the log of the geometric mean), argmax. It
 * needs no target labels. The EPN knows the semantic slices only: full and adapter
 * experts of one slice share its score, the random controls have none (NAN).
 *
 * Target labels are used by kNN only. */
#include <math.h>
#include <string.h>

#include "expertsInt.h"
#include "xfer/estimators.h"
#include "xfer/onnx.h"

void xf_experts_scores_free(xf_ctx_t *ctx, xf_experts_scores *s) {
    if (!s) return;
    xf_free(ctx, s->knn);
    xf_free(ctx, s->kl);
    xf_free(ctx, s->epn);
    memset(s, 0, sizeof *s);
}

/* value v of g over the target: out (N, dim), allocated */
static xf_status run_value(xf_ctx_t *ctx, xf_graph *g, const xf_imageset *t, int v, int softmax, float **out, int64_t *dim) {
    const xf_value *val = &g->values[v];
    int64_t d = 1;
    for (int k = 1; k < val->ndim; k++) d *= val->shape[k] > 0 ? val->shape[k] : 1;
    *out = xf_malloc(ctx, (size_t)(t->N * d) * sizeof **out);
    if (!*out) return XF_ERR_NOMEM;
    xf_status st = xf_net_extract(ctx, g, t->x, t->N, 128, v, softmax, *out, dim);
    if (!st && *dim != d) st = XF_ERR(ctx, XF_ERR_INTERNAL, "value '%s': %lld floats per image, expected %lld", val->name,
                                      (long long)*dim, (long long)d);
    if (st) {
        xf_free(ctx, *out);
        *out = NULL;
    }
    return st;
}

static xf_status check_target(xf_ctx_t *ctx, const xf_graph *g, const xf_imageset *t) {
    const xf_value *in = &g->values[g->input];
    if (!t || !t->x || !t->y || t->N < 2)
        return XF_ERR(ctx, XF_ERR_INVALID, "the target needs at least 2 labelled images");
    if (in->ndim != 4 || in->shape[1] != t->C || in->shape[2] != t->H || in->shape[3] != t->W)
        return XF_ERR(ctx, XF_ERR_SHAPE, "target images are %lld x %lld x %lld, the experts take %lld x %lld x %lld",
                      (long long)t->C, (long long)t->H, (long long)t->W, (long long)in->shape[1], (long long)in->shape[2],
                      (long long)in->shape[3]);
    return XF_OK;
}

static xf_status proxy_kl(xf_ctx_t *ctx, const xf_experts_t *ex, const xf_imageset *t, double *kl) {
    xf_graph *g;
    xf_status st = xf_experts_load(ctx, ex, 0, &g, NULL);
    if (st) return st;
    int64_t Z = xf_experts_classes(ex), dim;
    float *logits = NULL;
    double *Q = xf_malloc(ctx, (size_t)Z * sizeof *Q);
    if (!Q) st = XF_ERR_NOMEM;
    if (!st) st = check_target(ctx, g, t);
    if (!st) st = run_value(ctx, g, t, xf_graph_output_value(g), 0, &logits, &dim);
    if (!st && dim != Z) st = XF_ERR(ctx, XF_ERR_SHAPE, "the generalist gives %lld logits, the bank has %lld classes",
                                     (long long)dim, (long long)Z);
    if (!st) {
        xf_experts_mean_softmax(logits, t->N, Z, Q);
        for (int i = 1; i < xf_experts_count(ex); i++) kl[i] = xf_experts_kl(xf_experts_prior(ex, i), Q, Z, XF_EXPERTS_KL_EPS);
    }
    xf_free(ctx, logits);
    xf_free(ctx, Q);
    xf_graph_free(g);
    return st;
}

static xf_status proxy_knn(xf_ctx_t *ctx, const xf_experts_t *ex, const xf_imageset *t, double *knn) {
    xf_ws_t *ws;
    xf_status st = xf_ws_create(ctx, &ws);
    if (st) return st;
    for (int i = 0; i < xf_experts_count(ex) && !st; i++) {
        xf_graph *g;
        int f;
        float *F = NULL;
        int64_t D;
        if ((st = xf_experts_load(ctx, ex, i, &g, &f))) break;
        if (!(st = check_target(ctx, g, t)) && !(st = run_value(ctx, g, t, f, 0, &F, &D))) {
            xf_est_input in = {.F = F, .N = t->N, .D = D, .ldF = D, .y = t->y, .C = t->K};
            st = xf_est_run(ctx, "knn", &in, NULL, ws, &knn[i]);
            if (st) xf_error_prefix(ctx, xf_experts_info(ex, i)->name);
        }
        xf_free(ctx, F);
        xf_graph_free(g);
        xf_progress(ctx, "knn proxy", i + 1, xf_experts_count(ex));
    }
    xf_ws_free(ws);
    return st;
}

static xf_status proxy_epn(xf_ctx_t *ctx, const xf_experts_t *ex, const xf_imageset *t, double *epn) {
    const char *path = xf_experts_epn_path(ex);
    if (!path) return XF_OK; /* fewer than 2 slices: nothing to predict */
    xf_graph *g;
    xf_status st = xf_onnx_import(ctx, path, &g);
    if (st) return st;
    float *P = NULL;
    int64_t E = xf_experts_epn_classes(ex), dim;
    if (!(st = check_target(ctx, g, t)) && !(st = run_value(ctx, g, t, xf_graph_output_value(g), 1, &P, &dim)) && dim != E)
        st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: %lld outputs for %lld expert slices", path, (long long)dim, (long long)E);
    for (int i = 0; i < xf_experts_count(ex) && !st; i++) {
        int e = xf_experts_info(ex, i)->epn_class;
        if (e < 0) continue;
        double s = 0;
        for (int64_t j = 0; j < t->N; j++) s += log((double)P[j * E + e] > 1e-30 ? (double)P[j * E + e] : 1e-30);
        epn[i] = s / (double)t->N;
    }
    xf_free(ctx, P);
    xf_graph_free(g);
    return st;
}

xf_status xf_experts_select(xf_ctx_t *ctx, const xf_experts_t *ex, const xf_imageset *target, int proxies,
                            xf_experts_scores *out) {
    memset(out, 0, sizeof *out);
    if (!ex || !target) return XF_ERR(ctx, XF_ERR_INVALID, "xf_experts_select: no bank or no target");
    if (!(proxies & XF_PROXY_ALL)) return XF_ERR(ctx, XF_ERR_INVALID, "xf_experts_select: no proxy asked for");
    int n = xf_experts_count(ex);
    out->n = n;
    out->knn = xf_malloc(ctx, (size_t)n * sizeof *out->knn);
    out->kl = xf_malloc(ctx, (size_t)n * sizeof *out->kl);
    out->epn = xf_malloc(ctx, (size_t)n * sizeof *out->epn);
    if (!out->knn || !out->kl || !out->epn) {
        xf_experts_scores_free(ctx, out);
        return XF_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) out->knn[i] = out->kl[i] = out->epn[i] = NAN;
    xf_status st = XF_OK;
    double t0 = xf_now();
    if ((proxies & XF_PROXY_KNN) && !(st = proxy_knn(ctx, ex, target, out->knn))) out->seconds[0] = xf_now() - t0;
    t0 = xf_now();
    if (!st && (proxies & XF_PROXY_KL) && !(st = proxy_kl(ctx, ex, target, out->kl))) out->seconds[1] = xf_now() - t0;
    t0 = xf_now();
    if (!st && (proxies & XF_PROXY_EPN) && !(st = proxy_epn(ctx, ex, target, out->epn))) out->seconds[2] = xf_now() - t0;
    if (st) xf_experts_scores_free(ctx, out);
    return st;
}

int xf_experts_pick(const xf_experts_t *ex, const xf_experts_scores *s, int proxy, int adapter) {
    const double *v = proxy == XF_PROXY_KNN ? s->knn : proxy == XF_PROXY_KL ? s->kl : proxy == XF_PROXY_EPN ? s->epn : NULL;
    if (!v) return -1;
    int best = -1;
    for (int i = 0; i < s->n && i < xf_experts_count(ex); i++) {
        const xf_expert_info *e = xf_experts_info(ex, i);
        if (e->kind == XF_EXPERT_GENERALIST || e->kind == XF_EXPERT_RANDOM || e->adapter != adapter || isnan(v[i])) continue;
        if (best < 0 || (proxy == XF_PROXY_KL ? v[i] < v[best] : v[i] > v[best])) best = i;
    }
    return best;
}
