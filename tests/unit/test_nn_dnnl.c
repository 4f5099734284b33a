/* oneDNN convolution path (src/nn/ops/conv_dnnl.c) against PyTorch's fixtures and the
 * reference kernels: every Conv case of tests/ref/nn/manifest.json (basic, strided,
 * dilated, grouped, depthwise, pointwise, asymmetric padding) forward and backward (data,
 * weights, bias) with the net forced onto oneDNN (XF_NET_CONV_DNNL); the zoo ResNet
 * (BatchNorm fold + ReLU post-op in inference, residual fan-out so backward accumulates)
 * oneDNN vs reference; a forward at another batch (primitives rebuilt); error paths.
 * Tolerance as test_nn_ops: max |got - want| <= 2e-5 + 2e-4 * max |want|.
 * Without oneDNN in the build: checks that asking for it fails cleanly. */
#include <math.h>
#include <stdlib.h>

#include "nn/nnInt.h"

#ifdef XFER_HAVE_DNNL
#include "nn_fixture.h"
static void run_conv_case(xf_ctx_t *ctx, tcase *t, int mode) {
    int ids[8], y;
    int64_t B = t->shp[0].shape[0];
    const char *mn = mode == XF_NET_CONV_DNNL ? "dnnl" : "im2col";
    char what[96];
    /* inference */
    xf_graph *g = build(ctx, t, ids, &y);
    if (!g) return;
    xf_net_t *net = NULL;
    xf_net_opts o = {NULL, 0, 0, mode};
    xf_status st = xf_net_create_ex(ctx, g, B, XF_NET_INFER, &o, &net);
    CHECK(st == XF_OK, "%s %s: create: %s", t->name, mn, xf_errmsg(ctx));
    if (!st) {
        CHECK(xf_nn_net_dnnl_convs(net) == (mode == XF_NET_CONV_DNNL), "%s %s: %d oneDNN convs", t->name, mn,
              xf_nn_net_dnnl_convs(net));
        CHECK_OK(ctx, xf_net_forward(net, t->in[0], B));
        snprintf(what, sizeof what, "forward (%s)", mn);
        compare(t->name, what, xf_net_data(net, y), t->out, t->out_n);
        xf_net_free(net);
    }
    xf_graph_free(g);
    if (!t->dy) return;
    /* training: gradients of the input, the weights and the bias */
    g = build(ctx, t, ids, &y);
    if (!g) return;
    xf_net_opts ot = {NULL, 0, 1, mode};
    st = xf_net_create_ex(ctx, g, B, XF_NET_TRAIN, &ot, &net);
    CHECK(st == XF_OK, "%s %s: create train: %s", t->name, mn, xf_errmsg(ctx));
    if (!st) {
        CHECK(xf_nn_net_dnnl_convs(net) == (mode == XF_NET_CONV_DNNL), "%s %s train: oneDNN used", t->name, mn);
        CHECK_OK(ctx, xf_net_forward(net, t->in[0], B));
        snprintf(what, sizeof what, "train forward (%s)", mn);
        compare(t->name, what, xf_net_data(net, y), t->out, t->out_n);
        /* twice: gradient buffers are zeroed by forward and accumulated by the kernels */
        for (int rep = 0; rep < 2; rep++) {
            CHECK_OK(ctx, xf_net_forward(net, t->in[0], B));
            CHECK_OK(ctx, xf_net_seed_grad(net, y, t->dy));
            CHECK_OK(ctx, xf_net_backward(net));
        }
        for (int i = 0; i < t->nin; i++) {
            if (!t->grad[i]) continue;
            snprintf(what, sizeof what, "grad of input %d (%s)", i, mn);
            compare(t->name, what, xf_net_grad(net, ids[i]), t->grad[i], (int64_t)t->shp[i].size);
        }
        xf_net_free(net);
    }
    xf_graph_free(g);
}

static void test_manifest(xf_ctx_t *ctx) {
    cJSON *root = nnf_manifest();
    if (!root) return;
    int nconv = 0, ngrouped = 0, ndil = 0, nstride = 0, ndw = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, root) {
        tcase t;
        nnf_parse(ctx, c, &t);
        int ok = t.out != NULL;
        for (int i = 0; i < t.nin; i++) ok = ok && t.in[i];
        if (ok && t.op == XF_OP_CONV) {
            run_conv_case(ctx, &t, XF_NET_CONV_DNNL);
            run_conv_case(ctx, &t, XF_NET_CONV_IM2COL);
            nconv++;
            ngrouped += t.attr.group > 1;
            ndw += t.attr.group > 1 && t.attr.group == t.shp[0].shape[1];
            ndil += t.attr.dilation[0] > 1 || t.attr.dilation[1] > 1;
            nstride += t.attr.stride[0] > 1 || t.attr.stride[1] > 1;
        }
        nnf_free(ctx, &t);
    }
    CHECK(nconv >= 10 && ngrouped >= 2 && ndw >= 1 && ndil >= 1 && nstride >= 2,
          "conv cases: %d (grouped %d, depthwise %d, dilated %d, strided %d)", nconv, ngrouped, ndw, ndil, nstride);
    cJSON_Delete(root);
}

static int64_t numel_v(const xf_value *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

/* zoo ResNet: inference (fold + ReLU post-op) and training gradients, oneDNN vs reference */
static void test_zoo(xf_ctx_t *ctx) {
    xf_graph *g = NULL;
    int64_t w[3] = {8, 16, 16};
    CHECK_OK(ctx, xf_model_small_resnet(ctx, 3, 20, 20, 10, w, 1, &g));
    if (!g) return;
    int B = 4;
    float *x = malloc(sizeof(float) * B * 3 * 20 * 20);
    for (int i = 0; i < B * 3 * 400; i++) x[i] = sinf(i * 0.37f) + 0.1f * cosf(i * 1.3f);
    int o = xf_graph_output_value(g);
    /* BN running statistics away from (0, 1) so the fold matters */
    for (int v = 0; v < g->n_values; v++) {
        const char *nm = g->values[v].name;
        size_t L = strlen(nm);
        if (g->values[v].is_param && L > 12 && strcmp(nm + L - 12, "running_mean") == 0)
            for (int64_t i = 0; i < numel_v(&g->values[v]); i++) g->values[v].data[i] = 0.1f * sinf((float)i);
        if (g->values[v].is_param && L > 11 && strcmp(nm + L - 11, "running_var") == 0)
            for (int64_t i = 0; i < numel_v(&g->values[v]); i++) g->values[v].data[i] = 1.0f + 0.5f * cosf((float)i);
    }
    xf_net_t *d = NULL, *r = NULL;
    xf_net_opts od = {NULL, 0, 0, XF_NET_CONV_DNNL};
    CHECK_OK(ctx, xf_net_create_ex(ctx, g, B, XF_NET_INFER, &od, &d));
    CHECK_OK(ctx, xf_net_create(ctx, g, B, XF_NET_INFER, &r));
    if (d && r) {
        CHECK(xf_nn_net_dnnl_convs(d) >= 5, "resnet: %d convs on oneDNN", xf_nn_net_dnnl_convs(d));
        xf_net_use_reference(r, 1);
        CHECK_OK(ctx, xf_net_forward(d, x, B));
        CHECK_OK(ctx, xf_net_forward(r, x, B));
        compare("resnet", "oneDNN vs reference logits", xf_net_data(d, o), xf_net_data(r, o), B * 10);
        /* another batch: primitives rebuilt, then the first again */
        CHECK_OK(ctx, xf_net_forward(d, x + 3 * 400, B - 1));
        CHECK_OK(ctx, xf_net_forward(r, x + 3 * 400, B - 1));
        compare("resnet", "oneDNN vs reference, batch 3", xf_net_data(d, o), xf_net_data(r, o), (B - 1) * 10);
        CHECK_OK(ctx, xf_net_forward(d, x, B));
        CHECK_OK(ctx, xf_net_forward(r, x, B));
        compare("resnet", "oneDNN vs reference, batch 4 again", xf_net_data(d, o), xf_net_data(r, o), B * 10);
    }
    xf_net_free(d);
    xf_net_free(r);

    /* training: every trainable gradient, loss, and the input gradient */
    xf_net_opts tdn = {NULL, 0, 1, XF_NET_CONV_DNNL}, tre = {NULL, 0, 1, XF_NET_CONV_IM2COL};
    d = r = NULL;
    CHECK_OK(ctx, xf_net_create_ex(ctx, g, B, XF_NET_TRAIN, &tdn, &d));
    CHECK_OK(ctx, xf_net_create_ex(ctx, g, B, XF_NET_TRAIN, &tre, &r));
    if (d && r) {
        /* the 16-channel stages run in the blocked layout (nnInt.h, NN_BLK): stem output
         * (8 channels) and the image stay planar */
        CHECK(xf_nn_net_blocked_values(d) >= 4, "resnet: %d blocked values", xf_nn_net_blocked_values(d));
        CHECK(xf_nn_net_blocked_values(r) == 0, "im2col net: %d blocked values", xf_nn_net_blocked_values(r));
        xf_net_use_reference(r, 1);
        int32_t lab[4] = {1, 4, 0, 9};
        float l1 = 0, l2 = 0;
        int64_t cc;
        CHECK_OK(ctx, xf_net_forward(d, x, B));
        CHECK_OK(ctx, xf_net_loss(d, o, lab, &l1, &cc));
        CHECK_OK(ctx, xf_net_backward(d));
        CHECK_OK(ctx, xf_net_forward(r, x, B));
        CHECK_OK(ctx, xf_net_loss(r, o, lab, &l2, &cc));
        CHECK_OK(ctx, xf_net_backward(r));
        CHECK_NEAR(l1, l2, 1e-5, 1e-6, "resnet loss oneDNN vs reference");
        int np = 0;
        for (int v = 0; v < g->n_values; v++) {
            if (!g->values[v].is_param || !g->values[v].trainable) continue;
            compare(g->values[v].name, "grad oneDNN vs reference", xf_net_grad(d, v), xf_net_grad(r, v), numel_v(&g->values[v]));
            np++;
        }
        CHECK(np > 10, "resnet: %d trainable tensors", np);
        compare("resnet", "input grad oneDNN vs reference", xf_net_grad(d, g->input), xf_net_grad(r, g->input), B * 3 * 400);
        /* a blocked intermediate reads as NULL after a fast forward, planar after a
         * reference one */
        int blkv = -1;
        for (int v = 0; v < g->n_values && blkv < 0; v++)
            if (!g->values[v].is_param && v != g->input && xf_net_data(d, v) == NULL && xf_net_grad(d, v) == NULL) blkv = v;
        CHECK(blkv >= 0, "a blocked value reads as NULL");
        if (blkv >= 0) {
            xf_net_use_reference(d, 1);
            CHECK_OK(ctx, xf_net_forward(d, x, B));
            CHECK(xf_net_data(d, blkv) != NULL, "%s readable after a reference forward", g->values[blkv].name);
            xf_net_use_reference(d, 0);
        }
        /* a smaller last batch in training (rebuild for backward too) */
        CHECK_OK(ctx, xf_net_forward(d, x, 2));
        CHECK_OK(ctx, xf_net_loss(d, o, lab, &l1, &cc));
        CHECK_OK(ctx, xf_net_backward(d));
        CHECK_OK(ctx, xf_net_forward(r, x, 2));
        CHECK_OK(ctx, xf_net_loss(r, o, lab, &l2, &cc));
        CHECK_OK(ctx, xf_net_backward(r));
        for (int v = 0; v < g->n_values; v++)
            if (g->values[v].is_param && g->values[v].trainable)
                compare(g->values[v].name, "batch-2 grad oneDNN vs reference", xf_net_grad(d, v), xf_net_grad(r, v),
                        numel_v(&g->values[v]));
    }
    xf_net_free(d);
    xf_net_free(r);

    free(x);
    xf_graph_free(g);
}

static void test_errors(xf_ctx_t *ctx) {
    xf_graph *g = NULL;
    int64_t w[3] = {4, 8, 8};
    CHECK_OK(ctx, xf_model_small_resnet(ctx, 1, 12, 12, 3, w, 1, &g));
    if (!g) return;
    xf_net_t *n = NULL;
    xf_net_opts bad = {NULL, 0, 0, 17};
    CHECK_ST(ctx, xf_net_create_ex(ctx, g, 2, XF_NET_INFER, &bad, &n), XF_ERR_INVALID);
    CHECK(n == NULL, "no net on error");
    /* allocation failures while making the oneDNN state fail cleanly (ASan: no leaks) */
    for (int k = 1; k < 200; k += 3) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_net_opts od = {NULL, 0, 0, XF_NET_CONV_DNNL};
        xf_net_t *m = NULL;
        xf_status st = xf_net_create_ex(ctx, g, 2, k % 2 ? XF_NET_TRAIN : XF_NET_INFER, &od, &m);
        CHECK(st == XF_OK || st == XF_ERR_NOMEM, "alloc fail %d: %s", k, xf_status_str(st));
        xf_net_free(m);
        xf_ctx_fail_alloc_after(ctx, 0);
    }
    xf_graph_free(g);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    test_manifest(ctx);
    test_zoo(ctx);
    test_errors(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_nn_dnnl");
}
#else
#include "xtest.h"
int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_graph *g = NULL;
    int64_t w[3] = {4, 8, 8};
    CHECK_OK(ctx, xf_model_small_resnet(ctx, 1, 12, 12, 3, w, 1, &g));
    xf_net_t *n = NULL;
    xf_net_opts od = {NULL, 0, 0, XF_NET_CONV_DNNL};
    if (g) CHECK_ST(ctx, xf_net_create_ex(ctx, g, 2, XF_NET_INFER, &od, &n), XF_ERR_UNSUPPORTED);
    xf_net_free(n);
    xf_graph_free(g);
    xf_ctx_free(ctx);
    return xt_done("test_nn_dnnl");
}
#endif
