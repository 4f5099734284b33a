/* 2-D convolution over NCHW, forward and backward, with groups (depthwise included),
 * stride, asymmetric padding and dilation. W: (Cout, Cin/group, kh, kw), bias (Cout).
 *
 * Fast paths:
 *   - depthwise (group = Cin = Cout): a direct kernel, one (n, c) plane per task, inner
 *     loop over a contiguous output row with the valid range computed once (vectorises
 *     for stride 1);
 *   - otherwise im2col + SGEMM per group: the columns of nb images are laid side by
 *     side (K x nb*OH*OW, K = Cin/group * kh * kw) so small late-stage feature maps
 *     still give the GEMM a wide N; Y_g (Cout_g x nb*P) = W_g (Cout_g x K) col.
 *     With nb = 1 the GEMM writes straight into Y, and a 1x1 stride-1 unpadded conv
 *     skips im2col (X itself is the column matrix).
 *   Backward: dW_g += dY_g col^T, dcol = W_g^T dY_g then col2im (+=), db += sum dY.
 * Reference: plain nested loops with double accumulation (xf_net_use_reference).
 * oneDNN: where the executor made primitives for the node (kc->dnn, conv_dnnl.c), forward
 * and backward go there first. */
#include "nn/nnInt.h"
#include "xfer/linalg.h"

typedef struct cgeo {
    int64_t N, C, H, W, M, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, G, Cg, Mg, K, P;
} cgeo;

static cgeo conv_geo(const xf_node *n, const nn_t *x, const nn_t *w, const nn_t *y) {
    const xf_node_attr *a = &n->attr;
    cgeo g;
    g.N = x->s[0]; g.C = x->s[1]; g.H = x->s[2]; g.W = x->s[3];
    g.M = w->s[0]; g.kh = w->s[2]; g.kw = w->s[3];
    g.OH = y ? y->s[2] : 0; g.OW = y ? y->s[3] : 0;
    g.sh = a->stride[0]; g.sw = a->stride[1]; g.pt = a->pads[0]; g.pl = a->pads[1];
    g.dh = a->dilation[0]; g.dw = a->dilation[1];
    g.G = a->group; g.Cg = g.C / g.G; g.Mg = g.M / g.G;
    g.K = g.Cg * g.kh * g.kw; g.P = g.OH * g.OW;
    return g;
}

static xf_status conv_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    const nn_t *x = in[0], *w = in[1];
    if (x->nd != 4) return NN_SHAPE_ERR(ctx, n, "input rank %d (only 2-D convolution: N, C, H, W)", x->nd);
    if (w->nd != 4) return NN_SHAPE_ERR(ctx, n, "weight rank %d (need 4)", w->nd);
    if (a->group <= 0 || x->s[1] % a->group || w->s[0] % a->group)
        return NN_SHAPE_ERR(ctx, n, "group %lld does not divide %lld input / %lld output channels", (long long)a->group,
                            (long long)x->s[1], (long long)w->s[0]);
    if (w->s[1] * a->group != x->s[1])
        return NN_SHAPE_ERR(ctx, n, "weight has %lld input channels per group, input has %lld channels in %lld groups",
                            (long long)w->s[1], (long long)x->s[1], (long long)a->group);
    for (int i = 0; i < 2; i++) {
        if (a->kernel[i] && a->kernel[i] != w->s[2 + i])
            return NN_SHAPE_ERR(ctx, n, "kernel_shape %lld disagrees with the weight's %lld", (long long)a->kernel[i],
                                (long long)w->s[2 + i]);
        if (a->stride[i] <= 0 || a->dilation[i] <= 0) return NN_SHAPE_ERR(ctx, n, "stride/dilation must be positive");
        if (a->pads[i] < 0 || a->pads[i + 2] < 0) return NN_SHAPE_ERR(ctx, n, "negative padding");
    }
    if (in[2] && nn_numel(in[2]) != w->s[0])
        return NN_SHAPE_ERR(ctx, n, "bias has %lld elements for %lld output channels", (long long)nn_numel(in[2]),
                            (long long)w->s[0]);
    memset(&out[0], 0, sizeof out[0]);
    out[0].nd = 4;
    out[0].s[0] = x->s[0];
    out[0].s[1] = w->s[0];
    for (int i = 0; i < 2; i++)
        out[0].s[2 + i] = nn_win_out(x->s[2 + i], w->s[2 + i], a->stride[i], a->pads[i], a->pads[i + 2], a->dilation[i], 0);
    return XF_OK;
}

static int is_depthwise(const cgeo *g) { return g->G > 1 && g->G == g->C && g->M == g->C; }
static int is_pointwise(const cgeo *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->OH == g->H &&
           g->OW == g->W;
}
/* images per GEMM: enough columns for a wide N (about 512), at least 1, and at most
 * N / threads so that every thread gets a chunk */
static int64_t conv_nb(const cgeo *g, int threads) {
    int64_t nb = (512 + g->P - 1) / (g->P ? g->P : 1);
    int64_t per = (g->N + threads - 1) / (threads > 0 ? threads : 1);
    if (nb > per) nb = per;
    if (nb < 1) nb = 1;
    return nb;
}

/* per-thread scratch: forward col + ybuf; backward col + dcol + gathered dY + a private dW */
static size_t conv_thread_scratch(const cgeo *g, int64_t nb, int train) {
    size_t cols = (size_t)(g->K * nb * g->P);
    size_t ybuf = (size_t)(g->Mg * nb * g->P);
    size_t dw = (size_t)(g->M * g->K);
    return (train ? 2 * cols + ybuf + dw : cols + ybuf) + 16;
}

static size_t conv_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    cgeo g = conv_geo(n, x[0], x[1], y);
    if (is_depthwise(&g)) return train ? 2 * (size_t)(g.C * g.kh * g.kw) : 0; /* dW in double */
    return (size_t)threads * conv_thread_scratch(&g, conv_nb(&g, threads), train);
}

/* col (K x ldc) columns [b*P, (b+1)*P) for image x (C plane set of one group) */
static void im2col(const cgeo *g, const float *x, int64_t nb, float *col, int64_t ldc) {
    int64_t HW = g->H * g->W;
    for (int64_t r = 0; r < g->K; r++) {
        int64_t c = r / (g->kh * g->kw), ki = (r / g->kw) % g->kh, kj = r % g->kw;
        for (int64_t b = 0; b < nb; b++) {
            const float *xp = x + (b * g->C + c) * HW; /* x points at the group's first channel of image 0 */
            float *dst = col + r * ldc + b * g->P;
            for (int64_t oh = 0; oh < g->OH; oh++) {
                int64_t ih = oh * g->sh - g->pt + ki * g->dh;
                float *d = dst + oh * g->OW;
                if (ih < 0 || ih >= g->H) {
                    memset(d, 0, (size_t)g->OW * sizeof(float));
                    continue;
                }
                const float *xr = xp + ih * g->W;
                int64_t off = kj * g->dw - g->pl;
                if (g->sw == 1) {
                    int64_t o0 = off < 0 ? -off : 0, o1 = g->W - off;
                    if (o1 > g->OW) o1 = g->OW;
                    if (o0 > g->OW) o0 = g->OW;
                    if (o1 < o0) o1 = o0;
                    for (int64_t ow = 0; ow < o0; ow++) d[ow] = 0.0f;
                    if (o1 > o0) memcpy(d + o0, xr + o0 + off, (size_t)(o1 - o0) * sizeof(float));
                    for (int64_t ow = o1; ow < g->OW; ow++) d[ow] = 0.0f;
                } else {
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        int64_t iw = ow * g->sw + off;
                        d[ow] = (iw >= 0 && iw < g->W) ? xr[iw] : 0.0f;
                    }
                }
            }
        }
    }
}

/* dx += col2im(dcol) */
static void col2im(const cgeo *g, const float *dcol, int64_t nb, int64_t ldc, float *dx) {
    int64_t HW = g->H * g->W, kk = g->kh * g->kw;
    for (int64_t c = 0; c < g->Cg; c++)
        for (int64_t b = 0; b < nb; b++) {
            float *xp = dx + (b * g->C + c) * HW;
            for (int64_t q = 0; q < kk; q++) {
                int64_t ki = q / g->kw, kj = q % g->kw;
                const float *src = dcol + (c * kk + q) * ldc + b * g->P;
                int64_t off = kj * g->dw - g->pl;
                /* valid ow: 0 <= ow*sw + off < W, computed once per kernel tap */
                int64_t o0 = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
                int64_t o1 = (g->W - off + g->sw - 1) / g->sw;
                if (o1 > g->OW) o1 = g->OW;
                for (int64_t oh = 0; oh < g->OH; oh++) {
                    int64_t ih = oh * g->sh - g->pt + ki * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    float *xr = xp + ih * g->W;
                    const float *s = src + oh * g->OW;
                    if (g->sw == 1) {
                        float *xo = xr + off;
                        for (int64_t ow = o0; ow < o1; ow++) xo[ow] += s[ow];
                    } else {
                        for (int64_t ow = o0; ow < o1; ow++) xr[ow * g->sw + off] += s[ow];
                    }
                }
            }
        }
}

/* ---- depthwise direct kernel ---- */
static void dw_plane(const cgeo *g, const float *restrict x, const float *restrict w, float bias, float *restrict y) {
    for (int64_t i = 0; i < g->P; i++) y[i] = bias;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *yr = y + oh * g->OW;
        for (int64_t ki = 0; ki < g->kh; ki++) {
            int64_t ih = oh * g->sh - g->pt + ki * g->dh;
            if (ih < 0 || ih >= g->H) continue;
            const float *xr = x + ih * g->W;
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float wv = w[ki * g->kw + kj];
                int64_t off = kj * g->dw - g->pl;
                /* valid ow: 0 <= ow*sw + off < W */
                int64_t o0 = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
                int64_t o1 = (g->W - off + g->sw - 1) / g->sw;
                if (o1 > g->OW) o1 = g->OW;
                if (g->sw == 1) {
                    const float *restrict xs = xr + off;
                    float *restrict yo = yr;
                    for (int64_t ow = o0; ow < o1; ow++) yo[ow] += wv * xs[ow];
                } else {
                    for (int64_t ow = o0; ow < o1; ow++) yr[ow] += wv * xr[ow * g->sw + off];
                }
            }
        }
    }
}
static void dw_plane_bwd(const cgeo *g, const float *x, const float *w, const float *dy, float *dx, double *dw) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *gr = dy + oh * g->OW;
        for (int64_t ki = 0; ki < g->kh; ki++) {
            int64_t ih = oh * g->sh - g->pt + ki * g->dh;
            if (ih < 0 || ih >= g->H) continue;
            const float *xr = x + ih * g->W;
            float *dxr = dx ? dx + ih * g->W : NULL;
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float wv = w[ki * g->kw + kj];
                int64_t off = kj * g->dw - g->pl;
                int64_t o0 = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
                int64_t o1 = (g->W - off + g->sw - 1) / g->sw;
                if (o1 > g->OW) o1 = g->OW;
                float acc = 0.0f;
                for (int64_t ow = o0; ow < o1; ow++) {
                    int64_t iw = ow * g->sw + off;
                    acc += gr[ow] * xr[iw];
                    if (dxr) dxr[iw] += wv * gr[ow];
                }
                if (dw) dw[ki * g->kw + kj] += acc;
            }
        }
    }
}

/* ---- reference: direct loops ---- */
static void conv_ref_fwd(const cgeo *g, const float *X, const float *Wt, const float *Bs, float *Y) {
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < g->M; m++) {
            int64_t gi = m / g->Mg;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    double s = Bs ? Bs[m] : 0.0;
                    for (int64_t c = 0; c < g->Cg; c++)
                        for (int64_t ki = 0; ki < g->kh; ki++)
                            for (int64_t kj = 0; kj < g->kw; kj++) {
                                int64_t ih = oh * g->sh - g->pt + ki * g->dh, iw = ow * g->sw - g->pl + kj * g->dw;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                                s += (double)X[((n * g->C + gi * g->Cg + c) * g->H + ih) * g->W + iw] *
                                     Wt[((m * g->Cg + c) * g->kh + ki) * g->kw + kj];
                            }
                    Y[((n * g->M + m) * g->OH + oh) * g->OW + ow] = (float)s;
                }
        }
}
static void conv_ref_bwd(const cgeo *g, const float *X, const float *Wt, const float *dY, float *dX, float *dW, float *dB) {
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < g->M; m++) {
            int64_t gi = m / g->Mg;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    float gy = dY[((n * g->M + m) * g->OH + oh) * g->OW + ow];
                    if (dB) dB[m] += gy;
                    for (int64_t c = 0; c < g->Cg; c++)
                        for (int64_t ki = 0; ki < g->kh; ki++)
                            for (int64_t kj = 0; kj < g->kw; kj++) {
                                int64_t ih = oh * g->sh - g->pt + ki * g->dh, iw = ow * g->sw - g->pl + kj * g->dw;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                                int64_t xi = ((n * g->C + gi * g->Cg + c) * g->H + ih) * g->W + iw;
                                int64_t wi = ((m * g->Cg + c) * g->kh + ki) * g->kw + kj;
                                if (dX) dX[xi] += gy * Wt[wi];
                                if (dW) dW[wi] += gy * X[xi];
                            }
                }
        }
}

int xf_nn_conv_is_depthwise(const xf_node *n, const nn_t *x, const nn_t *w) {
    cgeo g = conv_geo(n, x, w, NULL);
    return is_depthwise(&g);
}

static xf_status conv_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
#ifdef XFER_HAVE_DNNL
    if (kc->dnn && !kc->ref) {
        int done = 0;
        xf_status st = xf_nn_dnnl_conv_fwd(kc, x, y, &done);
        if (st || done) return st;
    }
#endif
    cgeo g = conv_geo(kc->node, x[0], x[1], y);
    const float *X = x[0]->d, *Wt = x[1]->d, *Bs = x[2] ? x[2]->d : NULL;
    if (kc->wfold) { /* BatchNorm folded in by the executor */
        Wt = kc->wfold;
        Bs = kc->bfold;
    }
    float *Y = y->d;
    if (kc->ref) {
        conv_ref_fwd(&g, X, Wt, Bs, Y);
        if (kc->act) nn_apply_act(kc, Y, nn_numel(y));
        return XF_OK;
    }
    if (is_depthwise(&g)) {
        int64_t NC = g.N * g.C, HW = g.H * g.W;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t p = 0; p < NC; p++) {
            int64_t c = p % g.C;
            dw_plane(&g, X + p * HW, Wt + c * g.kh * g.kw, Bs ? Bs[c] : 0.0f, Y + p * g.P);
            if (kc->act) nn_apply_act(kc, Y + p * g.P, g.P);
        }
        return XF_OK;
    }
    int64_t nb = conv_nb(&g, kc->threads), HW = g.H * g.W;
    int64_t nchunks = (g.N + nb - 1) / nb;
    size_t per = conv_thread_scratch(&g, nb, kc->train);
    int pw = is_pointwise(&g);
    /* one chunk of images per task; each thread has its own scratch slice and calls the
     * single-threaded SGEMM (the executor sets BLAS to one thread around the graph) */
#pragma omp parallel for num_threads(kc->threads) schedule(dynamic, 1)
    for (int64_t ch = 0; ch < nchunks; ch++) {
        int tid = nn_thread_id();
        float *col = kc->scratch + (size_t)tid * per, *ybuf = col + g.K * nb * g.P;
        int64_t n0 = ch * nb;
        int64_t nbb = g.N - n0 < nb ? g.N - n0 : nb;
        for (int64_t gi = 0; gi < g.G; gi++) {
            const float *Wg = Wt + gi * g.Mg * g.K;
            const float *Xg = X + (n0 * g.C + gi * g.Cg) * HW;
            if (nbb == 1) {
                float *Yg = Y + (n0 * g.M + gi * g.Mg) * g.P;
                const float *B = Xg;
                if (!pw) {
                    im2col(&g, Xg, 1, col, g.P);
                    B = col;
                }
                xf_la_sgemm(0, 0, g.Mg, g.P, g.K, 1.0f, Wg, g.K, B, g.P, 0.0f, Yg, g.P);
            } else {
                int64_t ldc = nbb * g.P;
                im2col(&g, Xg, nbb, col, ldc);
                xf_la_sgemm(0, 0, g.Mg, ldc, g.K, 1.0f, Wg, g.K, col, ldc, 0.0f, ybuf, ldc);
                for (int64_t b = 0; b < nbb; b++)
                    for (int64_t m = 0; m < g.Mg; m++)
                        memcpy(Y + ((n0 + b) * g.M + gi * g.Mg + m) * g.P, ybuf + m * ldc + b * g.P,
                               (size_t)g.P * sizeof(float));
            }
        }
        /* bias and fused activation while the chunk's output is still in cache */
        if (Bs || kc->act)
            for (int64_t b = 0; b < nbb; b++)
                for (int64_t m = 0; m < g.M; m++)
                    nn_bias_act(kc, Y + ((n0 + b) * g.M + m) * g.P, g.P, Bs ? Bs[m] : 0.0f);
    }
    return XF_OK;
}

static xf_status conv_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
#ifdef XFER_HAVE_DNNL
    if (kc->dnn && !kc->ref && (dx[0] || dx[1] || (x[2] && dx[2]))) {
        int done = 0;
        xf_status st = xf_nn_dnnl_conv_bwd(kc, x, y, dy, dx, &done);
        if (st || done) return st;
    }
#endif
    cgeo g = conv_geo(kc->node, x[0], x[1], y);
    const float *X = x[0]->d, *Wt = x[1]->d;
    float *dX = dx[0], *dW = dx[1], *dB = x[2] ? dx[2] : NULL;
    if (dX && (kc->set & 1u)) memset(dX, 0, (size_t)nn_numel(x[0]) * sizeof(float)); /* these kernels add */
    if (kc->ref) {
        conv_ref_bwd(&g, X, Wt, dy, dX, dW, dB);
        return XF_OK;
    }
    if (dB) {
        for (int64_t m = 0; m < g.M; m++) {
            double s = 0;
            for (int64_t n = 0; n < g.N; n++) {
                const float *r = dy + (n * g.M + m) * g.P;
                for (int64_t i = 0; i < g.P; i++) s += r[i];
            }
            dB[m] += (float)s;
        }
    }
    int64_t HW = g.H * g.W;
    if (is_depthwise(&g)) {
        int64_t kk = g.kh * g.kw;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t c = 0; c < g.C; c++) {
            double *dwc = dW ? (double *)(void *)kc->scratch + c * kk : NULL;
            if (dwc) memset(dwc, 0, (size_t)kk * sizeof(double));
            for (int64_t n = 0; n < g.N; n++) {
                int64_t p = n * g.C + c;
                dw_plane_bwd(&g, X + p * HW, Wt + c * kk, dy + p * g.P, dX ? dX + p * HW : NULL, dwc);
            }
            if (dwc)
                for (int64_t q = 0; q < kk; q++) dW[c * kk + q] += (float)dwc[q];
        }
        return XF_OK;
    }
    if (!dX && !dW) return XF_OK;
    int64_t nb = conv_nb(&g, kc->threads);
    int64_t nchunks = (g.N + nb - 1) / nb;
    int pw = is_pointwise(&g);
    size_t cols = (size_t)(g.K * nb * g.P), per = conv_thread_scratch(&g, nb, 1);
    int nt = kc->threads < nchunks ? kc->threads : (int)nchunks;
    for (int t = 0; t < nt && dW; t++) /* private dW per thread, summed at the end */
        memset(kc->scratch + (size_t)t * per + 2 * cols + (size_t)(g.Mg * nb * g.P), 0, (size_t)(g.M * g.K) * sizeof(float));
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t ch = 0; ch < nchunks; ch++) {
        int tid = nn_thread_id();
        float *col = kc->scratch + (size_t)tid * per, *dcol = col + cols, *dyb = col + 2 * cols;
        float *dWt = dyb + (size_t)(g.Mg * nb * g.P);
        int64_t n0 = ch * nb;
        int64_t nbb = g.N - n0 < nb ? g.N - n0 : nb;
        int64_t ldc = nbb * g.P;
        for (int64_t gi = 0; gi < g.G; gi++) {
            const float *Wg = Wt + gi * g.Mg * g.K;
            const float *Xg = X + (n0 * g.C + gi * g.Cg) * HW;
            const float *dYg;
            if (nbb == 1) dYg = dy + (n0 * g.M + gi * g.Mg) * g.P;
            else {
                for (int64_t b = 0; b < nbb; b++)
                    for (int64_t m = 0; m < g.Mg; m++)
                        memcpy(dyb + m * ldc + b * g.P, dy + ((n0 + b) * g.M + gi * g.Mg + m) * g.P,
                               (size_t)g.P * sizeof(float));
                dYg = dyb;
            }
            if (dW) {
                const float *B = Xg;
                if (!(pw && nbb == 1)) {
                    im2col(&g, Xg, nbb, col, ldc);
                    B = col;
                }
                xf_la_sgemm(0, 1, g.Mg, g.K, ldc, 1.0f, dYg, ldc, B, ldc, 1.0f, dWt + gi * g.Mg * g.K, g.K);
            }
            if (dX) {
                float *dXg = dX + (n0 * g.C + gi * g.Cg) * HW;
                if (pw && nbb == 1) {
                    xf_la_sgemm(1, 0, g.K, ldc, g.Mg, 1.0f, Wg, g.K, dYg, ldc, 1.0f, dXg, ldc);
                } else {
                    xf_la_sgemm(1, 0, g.K, ldc, g.Mg, 1.0f, Wg, g.K, dYg, ldc, 0.0f, dcol, ldc);
                    col2im(&g, dcol, nbb, ldc, dXg);
                }
            }
        }
    }
    if (dW) {
        int64_t nw = g.M * g.K;
        for (int t = 0; t < nt; t++) {
            const float *src = kc->scratch + (size_t)t * per + 2 * cols + (size_t)(g.Mg * nb * g.P);
            for (int64_t i = 0; i < nw; i++) dW[i] += src[i];
        }
    }
    return XF_OK;
}

const nn_opdef xf_nn_op_conv = {conv_shape, conv_fwd, conv_bwd, conv_scratch, NULL, 6u, 6u, 2, 3, 1u, 0};
