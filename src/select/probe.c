/* Probe features of one model (include/xfer/select.h): the probe images converted to the
 * model's input the way every loader converts images (xf_planes_to_tensor: resize, then
 * channel replication or luma, then normalisation; docs/DATA.md), and one forward pass
 * keeping both the feature tap and the logits, as `xfer extract --probs` does. */
#include <math.h>
#include <string.h>

#include "xfer/select.h"

xf_status xf_select_images_for(xf_ctx_t *ctx, const xf_bank_model *m, const float *x, int64_t N, int sc, int sh, int sw,
                               float **out) {
    *out = NULL;
    if (m->channels != 1 && m->channels != 3)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: takes %lld-channel images; xfer converts images to 1 or 3 channels",
                      m->path, (long long)m->channels);
    if (sc != 1 && sc != 3) return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "images have %d channels, not 1 or 3", sc);
    xf_data_opts o;
    xf_data_opts_default(&o);
    o.channels = (int)m->channels;
    o.height = (int)m->height;
    o.width = (int)m->width;
    for (int c = 0; c < 3; c++) o.mean[c] = m->mean[c], o.std[c] = m->std[c];
    size_t per_in = (size_t)sc * sh * sw, per_out = (size_t)(m->channels * m->height * m->width), tot;
    if (!xf_mul_ok((size_t)N, per_out, &tot) || !xf_mul_ok(tot, sizeof(float), &tot))
        return XF_ERR(ctx, XF_ERR_INVALID, "%s: %lld images of %zu values do not fit in memory", m->path, (long long)N, per_out);
    float *y = xf_malloc(ctx, tot ? tot : 1);
    if (!y) return XF_ERR_NOMEM;
    xf_ws_t *ws = NULL;
    xf_status st = xf_ws_create(ctx, &ws);
    for (int64_t i = 0; i < N && !st; i++) {
        xf_ws_reset(ws);
        st = xf_planes_to_tensor(ctx, x + (size_t)i * per_in, sc, sh, sw, &o, o.channels, o.height, o.width, ws,
                                 y + (size_t)i * per_out);
    }
    if (ws) xf_ws_free(ws);
    if (st) {
        xf_free(ctx, y);
        return st;
    }
    *out = y;
    return XF_OK;
}

/* Non-batch element count of a value in a planned net. */
static xf_status value_dim(xf_ctx_t *ctx, xf_net_t *net, int id, int64_t *dim) {
    int nd;
    int64_t shape[XF_NN_MAXDIM];
    xf_status st = xf_net_shape(net, id, &nd, shape);
    if (st) return st;
    int64_t d = 1;
    for (int k = 1; k < nd; k++) d *= shape[k];
    if (d < 1) return XF_ERR(ctx, XF_ERR_SHAPE, "tensor %d has no elements per image", id);
    *dim = d;
    return XF_OK;
}

/* Row-wise softmax in float64 (max-shifted), written back as float32. */
static void softmax_rows(float *p, int64_t n, int64_t z) {
    for (int64_t i = 0; i < n; i++) {
        float *r = p + i * z;
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < z; k++) mx = r[k] > mx ? r[k] : mx;
        for (int64_t k = 0; k < z; k++) s += exp((double)r[k] - mx);
        for (int64_t k = 0; k < z; k++) r[k] = (float)(exp((double)r[k] - mx) / s);
    }
}

xf_status xf_select_extract(xf_ctx_t *ctx, xf_graph *g, const float *x, int64_t N, int64_t batch, int feature, int logits,
                            float **F, int64_t *D, float **P, int64_t *Z) {
    *F = NULL;
    if (P) *P = NULL;
    if (N < 1) return XF_ERR(ctx, XF_ERR_INVALID, "no images to extract features from");
    if (batch < 1) batch = 32;
    const xf_value *in = &g->values[g->input];
    int64_t per = 1;
    for (int k = 1; k < in->ndim; k++) per *= in->shape[k];
    int64_t B = batch < N ? batch : N;
    /* the executor reuses activation buffers: keep both tapped tensors alive */
    int keep[2] = {feature, logits};
    xf_net_opts nopts = {keep, P ? 2 : 1, 0, 0};
    xf_net_t *net = NULL;
    xf_status st = xf_net_create_ex(ctx, g, B, XF_NET_INFER, &nopts, &net);
    int64_t d = 0, z = 0;
    if (!st) st = value_dim(ctx, net, feature, &d);
    if (!st && P) st = value_dim(ctx, net, logits, &z);
    float *f = NULL, *p = NULL;
    if (!st && !(f = xf_malloc(ctx, (size_t)N * (size_t)d * sizeof *f))) st = XF_ERR_NOMEM;
    if (!st && P && !(p = xf_malloc(ctx, (size_t)N * (size_t)z * sizeof *p))) st = XF_ERR_NOMEM;
    if (!st) xf_progress(ctx, "extract", 0, N);
    for (int64_t i = 0; i < N && !st; i += B) {
        int64_t b = N - i < B ? N - i : B;
        if ((st = xf_net_forward(net, x + i * per, b))) break;
        const float *fv = xf_net_data(net, feature), *lv = P ? xf_net_data(net, logits) : NULL;
        if (!fv || (P && !lv)) {
            st = XF_ERR(ctx, XF_ERR_INTERNAL, "tensor '%s' was not computed", g->values[fv ? logits : feature].name);
            break;
        }
        memcpy(f + i * d, fv, (size_t)(b * d) * sizeof *f);
        if (P) memcpy(p + i * z, lv, (size_t)(b * z) * sizeof *p);
        xf_progress(ctx, "extract", i + b, N);
    }
    xf_net_free(net);
    if (st) {
        xf_free(ctx, f);
        xf_free(ctx, p);
        return st;
    }
    if (P) softmax_rows(p, N, z);
    *F = f;
    *D = d;
    if (P) *P = p, *Z = z;
    return XF_OK;
}
