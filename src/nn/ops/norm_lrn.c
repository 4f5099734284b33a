/* Local response normalisation across channels (Krizhevsky et al. 2012, sec. 3.3; ONNX
 * LRN), forward and backward. For channel c of an (N, C, ...) input, with
 * lo = floor((size - 1) / 2), hi = ceil((size - 1) / 2):
 *   S_c = sum_{i = max(0, c - lo)}^{min(C - 1, c + hi)} x_i^2,   d_c = bias + alpha / size * S_c,
 *   y_c = x_c d_c^-beta.
 * Backward (channel j lies in the window of c iff j - hi <= c <= j + lo):
 *   dx_j = dy_j d_j^-beta - 2 beta alpha / size x_j sum_{c = j - hi}^{j + lo} dy_c x_c d_c^(-beta-1).
 * One kernel, the reference: per (n, position) a column of C channels, d and the
 * backward terms in the scratch (2 C doubles' worth of floats per thread). */
#include <math.h>

#include "nn/nnInt.h"

static xf_status lrn_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    if (in[0]->nd < 3) return NN_SHAPE_ERR(ctx, n, "input rank %d (N, C, spatial... expected)", in[0]->nd);
    if (a->size < 1 || a->size > 65536) return NN_SHAPE_ERR(ctx, n, "size %lld out of 1..65536", (long long)a->size);
    if (!(a->bias > 0.0f) || !(a->alpha >= 0.0f)) return NN_SHAPE_ERR(ctx, n, "bias must be > 0 and alpha >= 0");
    out[0] = *in[0];
    return XF_OK;
}
static size_t lrn_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return (size_t)(4 * x[0]->s[1] * (threads > 0 ? threads : 1));
}

typedef struct lrn_geo { int64_t N, C, P, lo, hi; double k, ab, beta; } lrn_geo;
static lrn_geo lrn_geometry(const nn_kctx *kc, const nn_t *x) {
    const xf_node_attr *a = &kc->node->attr;
    lrn_geo g = {x->s[0], x->s[1], nn_shape_numel(x->nd - 2, x->s + 2), (a->size - 1) / 2, a->size / 2,
                 a->bias, (double)a->alpha / (double)a->size, a->beta};
    return g;
}
/* d_c for one column (stride P) */
static void lrn_denoms(const lrn_geo *g, const float *col, double *d) {
    for (int64_t c = 0; c < g->C; c++) {
        int64_t i0 = c - g->lo < 0 ? 0 : c - g->lo, i1 = c + g->hi >= g->C ? g->C - 1 : c + g->hi;
        double s = 0;
        for (int64_t i = i0; i <= i1; i++) s += (double)col[i * g->P] * col[i * g->P];
        d[c] = g->k + g->ab * s;
    }
}

static xf_status lrn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    lrn_geo g = lrn_geometry(kc, x[0]);
    const float *X = x[0]->d;
    float *Y = y->d;
    double *scr = (double *)kc->scratch;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t np = 0; np < g.N * g.P; np++) {
        int th = nn_thread_id();
        double *d = scr + (size_t)th * 2 * g.C;
        int64_t n = np / g.P, p = np % g.P;
        const float *col = X + n * g.C * g.P + p;
        lrn_denoms(&g, col, d);
        for (int64_t c = 0; c < g.C; c++) Y[n * g.C * g.P + c * g.P + p] = (float)(col[c * g.P] * pow(d[c], -g.beta));
    }
    return XF_OK;
}
static xf_status lrn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    lrn_geo g = lrn_geometry(kc, x[0]);
    const float *X = x[0]->d;
    double *scr = (double *)kc->scratch;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t np = 0; np < g.N * g.P; np++) {
        int th = nn_thread_id();
        double *d = scr + (size_t)th * 2 * g.C, *t = d + g.C;
        int64_t n = np / g.P, p = np % g.P, base = n * g.C * g.P + p;
        const float *col = X + base;
        lrn_denoms(&g, col, d);
        for (int64_t c = 0; c < g.C; c++) t[c] = dy[base + c * g.P] * (double)col[c * g.P] * pow(d[c], -g.beta - 1.0);
        for (int64_t j = 0; j < g.C; j++) {
            int64_t c0 = j - g.hi < 0 ? 0 : j - g.hi, c1 = j + g.lo >= g.C ? g.C - 1 : j + g.lo;
            double s = 0;
            for (int64_t c = c0; c <= c1; c++) s += t[c];
            dx[0][base + j * g.P] += (float)(dy[base + j * g.P] * pow(d[j], -g.beta) - 2.0 * g.beta * g.ab * col[j * g.P] * s);
        }
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_lrn = {lrn_shape, lrn_fwd, lrn_bwd, lrn_scratch, NULL, 0, 0, 1, 1, 0, 0};
