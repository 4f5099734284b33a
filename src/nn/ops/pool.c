/* Pooling over NCHW, forward and backward: MaxPool (kernel, stride, pads, dilation,
 * ceil_mode), AveragePool (count_include_pad, ceil_mode), GlobalAveragePool.
 *
 * Output size follows PyTorch/ONNX (nn_win_out: with ceil_mode the last window must
 * start inside the input or the left padding). MaxPool ignores padding (-inf) and its
 * backward recomputes the arg-max (first maximum, as PyTorch) instead of storing it.
 * AveragePool's divisor matches PyTorch: with count_include_pad the window clipped to
 * the padded extent, otherwise the window clipped to the input. One (n, c) plane per
 * task across threads; each plane's gradient is written by one thread only. */
#include <float.h>

#include "nn/nnInt.h"

static xf_status pool_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    if (in[0]->nd != 4) return NN_SHAPE_ERR(ctx, n, "input rank %d (need 4: N, C, H, W)", in[0]->nd);
    for (int i = 0; i < 2; i++) {
        if (a->kernel[i] <= 0 || a->stride[i] <= 0 || a->dilation[i] <= 0)
            return NN_SHAPE_ERR(ctx, n, "kernel/stride/dilation must be positive");
        if (a->pads[i] < 0 || a->pads[i + 2] < 0) return NN_SHAPE_ERR(ctx, n, "negative padding");
        if (a->pads[i] > (a->kernel[i] - 1) * a->dilation[i] + 1 || a->pads[i + 2] > (a->kernel[i] - 1) * a->dilation[i] + 1)
            return NN_SHAPE_ERR(ctx, n, "padding larger than the window");
    }
    out[0] = *in[0];
    for (int i = 0; i < 2; i++)
        out[0].s[2 + i] = nn_win_out(in[0]->s[2 + i], a->kernel[i], a->stride[i], a->pads[i], a->pads[i + 2],
                                     n->op == XF_OP_MAXPOOL ? a->dilation[i] : 1, a->ceil_mode);
    return XF_OK;
}

typedef struct pgeo {
    int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, pb, pr, dh, dw;
} pgeo;
static pgeo geo(const xf_node *n, const nn_t *x, const nn_t *y) {
    const xf_node_attr *a = &n->attr;
    pgeo g = {x->s[2], x->s[3], y->s[2], y->s[3], a->kernel[0], a->kernel[1], a->stride[0], a->stride[1],
              a->pads[0], a->pads[1], a->pads[2], a->pads[3], 1, 1};
    if (n->op == XF_OP_MAXPOOL) {
        g.dh = a->dilation[0];
        g.dw = a->dilation[1];
    }
    return g;
}

/* ---- MaxPool ---- */
/* Forward with the bounds checks hoisted: per output row the valid kernel rows, per
 * output column the valid kernel columns (precomputed ranges), so the interior runs
 * without tests. Same result as max_plane (max of the in-bounds window elements). */
static void max_plane_fast(const pgeo *g, const float *x, float *y, const int64_t *j0, const int64_t *j1) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t hb = oh * g->sh - g->ph;
        int64_t i0 = 0, i1 = g->kh;
        while (i0 < i1 && hb + i0 * g->dh < 0) i0++;
        while (i1 > i0 && hb + (i1 - 1) * g->dh >= g->H) i1--;
        float *yr = y + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            int64_t wb = ow * g->sw - g->pw;
            float m = -FLT_MAX;
            int any = 0;
            for (int64_t i = i0; i < i1; i++) {
                const float *xr = x + (hb + i * g->dh) * g->W + wb;
                for (int64_t j = j0[ow]; j < j1[ow]; j++) {
                    float v = xr[j * g->dw];
                    m = v > m ? v : m;
                    any = 1;
                }
            }
            yr[ow] = any ? m : 0.0f;
        }
    }
}
static void max_plane(const pgeo *g, const float *x, float *y, float *dx, const float *dy) {
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            float m = -FLT_MAX;
            int64_t am = -1;
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t h = oh * g->sh - g->ph + i * g->dh;
                if (h < 0 || h >= g->H) continue;
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t w = ow * g->sw - g->pw + j * g->dw;
                    if (w < 0 || w >= g->W) continue;
                    float v = x[h * g->W + w];
                    if (v > m || am < 0) { m = v; am = h * g->W + w; }
                }
            }
            if (dx) {
                if (am >= 0) dx[am] += dy[oh * g->OW + ow];
            } else y[oh * g->OW + ow] = am >= 0 ? m : 0.0f;
        }
}
/* the common 2x2 stride-2 unpadded window, no bounds checks */
static int is_2x2(const pgeo *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
           2 * g->OH <= g->H && 2 * g->OW <= g->W;
}
static void max_plane_2x2(const pgeo *g, const float *x, float *y) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *r0 = x + 2 * oh * g->W, *r1 = r0 + g->W;
        float *yr = y + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
            float m1 = b > a ? b : a, m2 = d > c ? d : c;
            yr[ow] = m2 > m1 ? m2 : m1;
        }
    }
}
static xf_status maxpool_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    pgeo g = geo(kc->node, x[0], y);
    int64_t P = y->s[0] * y->s[1];
    if (is_2x2(&g) && !kc->ref) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t p = 0; p < P; p++) max_plane_2x2(&g, x[0]->d + p * g.H * g.W, y->d + p * g.OH * g.OW);
        return XF_OK;
    }
    if (!kc->ref && g.OW <= 4096) {
        int64_t j0[4096], j1[4096]; /* valid kernel columns per output column */
        for (int64_t ow = 0; ow < g.OW; ow++) {
            int64_t wb = ow * g.sw - g.pw, a = 0, b = g.kw;
            while (a < b && wb + a * g.dw < 0) a++;
            while (b > a && wb + (b - 1) * g.dw >= g.W) b--;
            j0[ow] = a;
            j1[ow] = b;
        }
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t p = 0; p < P; p++) max_plane_fast(&g, x[0]->d + p * g.H * g.W, y->d + p * g.OH * g.OW, j0, j1);
        return XF_OK;
    }
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t p = 0; p < P; p++) max_plane(&g, x[0]->d + p * g.H * g.W, y->d + p * g.OH * g.OW, NULL, NULL);
    return XF_OK;
}
static xf_status maxpool_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    pgeo g = geo(kc->node, x[0], y);
    int64_t P = y->s[0] * y->s[1];
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t p = 0; p < P; p++)
        max_plane(&g, x[0]->d + p * g.H * g.W, NULL, dx[0] + p * g.H * g.W, dy + p * g.OH * g.OW);
    return XF_OK;
}
const nn_opdef xf_nn_op_maxpool = {pool_shape, maxpool_fwd, maxpool_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- AveragePool ---- */
static void avg_plane(const pgeo *g, int cip, const float *x, float *y, float *dx, const float *dy) {
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            int64_t h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
            int64_t h1 = h0 + g->kh, w1 = w0 + g->kw;
            if (h1 > g->H + g->pb) h1 = g->H + g->pb;
            if (w1 > g->W + g->pr) w1 = g->W + g->pr;
            int64_t pool = (h1 - h0) * (w1 - w0);
            if (h0 < 0) h0 = 0;
            if (w0 < 0) w0 = 0;
            if (h1 > g->H) h1 = g->H;
            if (w1 > g->W) w1 = g->W;
            int64_t cnt = cip ? pool : (h1 - h0) * (w1 - w0);
            if (cnt <= 0) {
                if (!dx) y[oh * g->OW + ow] = 0.0f;
                continue;
            }
            if (dx) {
                float gv = dy[oh * g->OW + ow] / (float)cnt;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) dx[h * g->W + w] += gv;
            } else {
                float s = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) s += x[h * g->W + w];
                y[oh * g->OW + ow] = s / (float)cnt;
            }
        }
}
static xf_status avgpool_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    pgeo g = geo(kc->node, x[0], y);
    int64_t P = y->s[0] * y->s[1];
    int cip = kc->node->attr.count_include_pad;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t p = 0; p < P; p++) avg_plane(&g, cip, x[0]->d + p * g.H * g.W, y->d + p * g.OH * g.OW, NULL, NULL);
    return XF_OK;
}
static xf_status avgpool_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    pgeo g = geo(kc->node, x[0], y);
    int64_t P = y->s[0] * y->s[1];
    int cip = kc->node->attr.count_include_pad;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t p = 0; p < P; p++)
        avg_plane(&g, cip, NULL, NULL, dx[0] + p * g.H * g.W, dy + p * g.OH * g.OW);
    return XF_OK;
}
const nn_opdef xf_nn_op_avgpool = {pool_shape, avgpool_fwd, avgpool_bwd, NULL, NULL, 0, 0, 1, 1, 0, 0};

/* ---- GlobalAveragePool: (N, C, H, W) -> (N, C, 1, 1) ---- */
static xf_status gap_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->nd < 3) return NN_SHAPE_ERR(ctx, n, "input rank %d (need >= 3)", in[0]->nd);
    out[0] = *in[0];
    for (int i = 2; i < in[0]->nd; i++) out[0].s[i] = 1;
    return XF_OK;
}
/* GlobalAveragePool over an input in the blocked layout (nnInt.h, NN_BLK): the (B, C)
 * output is the same in both layouts */
static void gap_fwd_blk(nn_kctx *kc, const nn_t *x, float *Y) {
    int64_t N = x->s[0], C = x->s[1], S = nn_numel(x) / (N * C), NB = N * (C / NN_BLK);
    const float *X = x->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t b = 0; b < NB; b++) {
        const float *a = X + b * S * NN_BLK;
        double s[NN_BLK] = {0};
        for (int64_t i = 0; i < S; i++)
            for (int l = 0; l < NN_BLK; l++) s[l] += a[i * NN_BLK + l];
        for (int l = 0; l < NN_BLK; l++) Y[b * NN_BLK + l] = (float)(s[l] / (double)S);
    }
}

static xf_status gap_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t P = x[0]->s[0] * x[0]->s[1], S = nn_numel(x[0]) / P;
    const float *X = x[0]->d;
    if (kc->blk & 1u) {
        gap_fwd_blk(kc, x[0], y->d);
        return XF_OK;
    }
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t p = 0; p < P; p++) {
        const float *a = X + p * S;
        double s = 0;
        for (int64_t i = 0; i < S; i++) s += a[i];
        y->d[p] = (float)(s / (double)S);
    }
    return XF_OK;
}
static xf_status gap_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    if (!dx[0]) return XF_OK;
    int64_t P = x[0]->s[0] * x[0]->s[1], S = nn_numel(x[0]) / P;
    float *G = dx[0];
    int set = (kc->set & 1u) != 0;
    if (kc->blk & 1u) { /* dx[((n * CB + cb) * S + i) * NN_BLK + l] = dy[n, cb * NN_BLK + l] / S */
        int64_t NB = P / NN_BLK;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t b = 0; b < NB; b++)
            for (int64_t i = 0; i < S; i++)
                for (int l = 0; l < NN_BLK; l++) {
                    float g = dy[b * NN_BLK + l] / (float)S, *q = G + (b * S + i) * NN_BLK + l;
                    *q = set ? g : *q + g;
                }
        return XF_OK;
    }
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t p = 0; p < P; p++) {
        float g = dy[p] / (float)S;
        if (set)
            for (int64_t i = 0; i < S; i++) G[p * S + i] = g;
        else
            for (int64_t i = 0; i < S; i++) G[p * S + i] += g;
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_gap = {gap_shape, gap_fwd, gap_bwd, NULL, NULL, 0, 0, 1, 1, 1u, 0};
