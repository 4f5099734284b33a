/* ConvTranspose (the adjoint of a strided, padded, dilated, grouped 2-D convolution;
 * Dumoulin & Visin 2016, sec. 4), forward and backward; ONNX semantics.
 * X (N, C, H, W), W (C, M/G, kh, kw), bias (M); with Cg = C/G, Mg = M/G:
 *   OH = sh (H - 1) + out_pad_h + dh (kh - 1) + 1 - pad_top - pad_bottom   (OW alike)
 *   y[n, g Mg + m, ih sh - pt + ki dh, iw sw - pl + kj dw] += x[n, g Cg + c, ih, iw] W[g Cg + c, m, ki, kj]
 * (outputs outside [0, OH) x [0, OW) are cropped), plus bias. Backward reads the same
 * index map: dx[n, c, ih, iw] = sum dy[..] W, dW = sum x dy, dbias = sum dy.
 * Plain loops, the reference kernel: decoder and upsampling heads are small next to the
 * backbones the im2col / oneDNN convolutions serve. */
#include "nn/nnInt.h"

typedef struct ctgeo { int64_t N, C, H, W, M, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, G, Cg, Mg; } ctgeo;

static ctgeo ct_geometry(const xf_node *n, const nn_t *x, const nn_t *w) {
    const xf_node_attr *a = &n->attr;
    ctgeo g;
    g.N = x->s[0], g.C = x->s[1], g.H = x->s[2], g.W = x->s[3];
    g.G = a->group, g.Cg = g.C / (g.G ? g.G : 1), g.Mg = w->s[1], g.M = g.Mg * g.G;
    g.kh = w->s[2], g.kw = w->s[3], g.sh = a->stride[0], g.sw = a->stride[1];
    g.pt = a->pads[0], g.pl = a->pads[1], g.dh = a->dilation[0], g.dw = a->dilation[1];
    g.OH = g.sh * (g.H - 1) + a->out_pad[0] + g.dh * (g.kh - 1) + 1 - a->pads[0] - a->pads[2];
    g.OW = g.sw * (g.W - 1) + a->out_pad[1] + g.dw * (g.kw - 1) + 1 - a->pads[1] - a->pads[3];
    return g;
}

static xf_status ct_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    const nn_t *x = in[0], *w = in[1];
    if (x->nd != 4 || w->nd != 4) return NN_SHAPE_ERR(ctx, n, "input rank %d, weight rank %d (4 and 4 expected)", x->nd, w->nd);
    if (a->group <= 0 || x->s[1] % a->group || w->s[0] != x->s[1])
        return NN_SHAPE_ERR(ctx, n, "weight (%lld, %lld, ...) for %lld input channels in %lld groups", (long long)w->s[0],
                            (long long)w->s[1], (long long)x->s[1], (long long)a->group);
    for (int i = 0; i < 2; i++) {
        if (a->kernel[i] && a->kernel[i] != w->s[2 + i])
            return NN_SHAPE_ERR(ctx, n, "kernel_shape %lld disagrees with the weight's %lld", (long long)a->kernel[i],
                                (long long)w->s[2 + i]);
        if (a->stride[i] <= 0 || a->dilation[i] <= 0 || a->out_pad[i] < 0 || a->pads[i] < 0 || a->pads[i + 2] < 0)
            return NN_SHAPE_ERR(ctx, n, "strides and dilations must be positive, pads and output padding >= 0");
        if (a->out_pad[i] >= a->stride[i] && a->out_pad[i] >= a->dilation[i])
            return NN_SHAPE_ERR(ctx, n, "output padding %lld must be below the stride or the dilation", (long long)a->out_pad[i]);
    }
    ctgeo g = ct_geometry(n, x, w);
    if (in[2] && nn_numel(in[2]) != g.M)
        return NN_SHAPE_ERR(ctx, n, "bias has %lld elements for %lld output channels", (long long)nn_numel(in[2]), (long long)g.M);
    if (g.OH < 1 || g.OW < 1) return NN_SHAPE_ERR(ctx, n, "pads leave an empty %lldx%lld output", (long long)g.OH, (long long)g.OW);
    memset(&out[0], 0, sizeof out[0]);
    out[0].nd = 4;
    out[0].s[0] = g.N, out[0].s[1] = g.M, out[0].s[2] = g.OH, out[0].s[3] = g.OW;
    return XF_OK;
}

/* Calls body(xi, wi, yi) for every (input, weight, output) triple of image n, group gi. */
#define CT_LOOP(g, n, gi, body)                                                                             \
    for (int64_t c = 0; c < (g).Cg; c++)                                                                   \
        for (int64_t ih = 0; ih < (g).H; ih++)                                                             \
            for (int64_t iw = 0; iw < (g).W; iw++) {                                                       \
                int64_t xi = (((n) * (g).C + (gi) * (g).Cg + c) * (g).H + ih) * (g).W + iw;                \
                for (int64_t m = 0; m < (g).Mg; m++)                                                       \
                    for (int64_t ki = 0; ki < (g).kh; ki++) {                                              \
                        int64_t oh = ih * (g).sh - (g).pt + ki * (g).dh;                                   \
                        if (oh < 0 || oh >= (g).OH) continue;                                              \
                        for (int64_t kj = 0; kj < (g).kw; kj++) {                                          \
                            int64_t ow = iw * (g).sw - (g).pl + kj * (g).dw;                               \
                            if (ow < 0 || ow >= (g).OW) continue;                                          \
                            int64_t wi = ((((gi) * (g).Cg + c) * (g).Mg + m) * (g).kh + ki) * (g).kw + kj; \
                            int64_t yi = (((n) * (g).M + (gi) * (g).Mg + m) * (g).OH + oh) * (g).OW + ow;  \
                            body;                                                                          \
                        }                                                                                  \
                    }                                                                                      \
            }

static xf_status ct_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    ctgeo g = ct_geometry(kc->node, x[0], x[1]);
    const float *X = x[0]->d, *Wt = x[1]->d, *b = x[2] ? x[2]->d : NULL;
    float *Y = y->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t n = 0; n < g.N; n++) {
        for (int64_t m = 0; m < g.M; m++)
            for (int64_t p = 0; p < g.OH * g.OW; p++) Y[(n * g.M + m) * g.OH * g.OW + p] = b ? b[m] : 0.0f;
        for (int64_t gi = 0; gi < g.G; gi++) CT_LOOP(g, n, gi, Y[yi] += X[xi] * Wt[wi])
    }
    return XF_OK;
}
static xf_status ct_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    ctgeo g = ct_geometry(kc->node, x[0], x[1]);
    const float *X = x[0]->d, *Wt = x[1]->d;
    if (dx[0]) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t n = 0; n < g.N; n++)
            for (int64_t gi = 0; gi < g.G; gi++) CT_LOOP(g, n, gi, dx[0][xi] += dy[yi] * Wt[wi])
    }
    if (dx[1]) /* serial: every image adds into the same weights */
        for (int64_t n = 0; n < g.N; n++)
            for (int64_t gi = 0; gi < g.G; gi++) CT_LOOP(g, n, gi, dx[1][wi] += X[xi] * dy[yi])
    if (x[2] && dx[2])
        for (int64_t m = 0; m < g.M; m++) {
            double s = 0;
            for (int64_t n = 0; n < g.N; n++)
                for (int64_t p = 0; p < g.OH * g.OW; p++) s += dy[(n * g.M + m) * g.OH * g.OW + p];
            dx[2][m] += (float)s;
        }
    return XF_OK;
}
const nn_opdef xf_nn_op_convtranspose = {ct_shape, ct_fwd, ct_bwd, NULL, NULL, 6u, 6u, 2, 3, 0, 0};
