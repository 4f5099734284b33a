/* nn ops against PyTorch: every case in tests/ref/nn/manifest.json (written by
 * tests/ref/gen_nn.py) is built as a one-node graph, run forward with the fast kernels
 * and with the reference kernels, and (where the fixture has gradients) backward in
 * training mode seeded with the fixture's dy; outputs and gradients of every input are
 * compared with PyTorch's (float64) results.
 * Tolerance: max |got - want| <= 2e-5 + 2e-4 * max |want| per tensor (float32 kernels
 * against float64 PyTorch on O(1) data). Also: the loss, the zoo models fast vs
 * reference, inference buffer reuse vs keep-all, and the error paths. */
#include "nn_fixture.h"

static void run_case(xf_ctx_t *ctx, tcase *t) {
    int ids[8], y;
    int64_t B = 0;
    for (int i = 0; i < t->nin; i++)
        if (!t->is_param[i]) { B = t->shp[i].shape[0]; break; }
    for (int ref = 0; ref < 2; ref++) {
        xf_graph *g = build(ctx, t, ids, &y);
        if (!g) return;
        xf_net_t *net;
        char what[64];
        xf_status st = xf_net_create(ctx, g, B, t->train ? XF_NET_TRAIN : XF_NET_INFER, &net);
        CHECK(st == XF_OK, "%s: create: %s", t->name, xf_errmsg(ctx));
        if (st) { xf_graph_free(g); return; }
        xf_net_use_reference(net, ref);
        bind_all(ctx, net, g, t, ids);
        int gi = 0;
        for (int i = 0; i < t->nin; i++) if (ids[i] == g->input) gi = i;
        st = xf_net_forward(net, t->in[gi], B);
        CHECK(st == XF_OK, "%s: forward: %s", t->name, xf_errmsg(ctx));
        snprintf(what, sizeof what, "forward%s", ref ? " (reference)" : "");
        if (!st) compare(t->name, what, xf_net_data(net, y), t->out, t->out_n);
        xf_net_free(net);
        xf_graph_free(g);
    }
    if (!t->dy || t->op == XF_OP_DROPOUT) return;
    for (int ref = 0; ref < 2; ref++) {
        xf_graph *g = build(ctx, t, ids, &y);
        if (!g) return;
        xf_net_t *net;
        xf_net_opts o = {NULL, 0, 1, 0};
        xf_status st = xf_net_create_ex(ctx, g, B, XF_NET_TRAIN, &o, &net);
        CHECK(st == XF_OK, "%s: create train: %s", t->name, xf_errmsg(ctx));
        if (st) { xf_graph_free(g); return; }
        xf_net_use_reference(net, ref);
        bind_all(ctx, net, g, t, ids);
        int gi = 0;
        for (int i = 0; i < t->nin; i++) if (ids[i] == g->input) gi = i;
        CHECK_OK(ctx, xf_net_forward(net, t->in[gi], B));
        CHECK_OK(ctx, xf_net_seed_grad(net, y, t->dy));
        CHECK_OK(ctx, xf_net_backward(net));
        for (int i = 0; i < t->nin; i++) {
            if (!t->grad[i]) continue;
            if (t->op == XF_OP_BATCHNORM && i >= 3) continue; /* running stats: no gradient */
            char what[64];
            snprintf(what, sizeof what, "grad of input %d%s", i, ref ? " (reference)" : "");
            compare(t->name, what, xf_net_grad(net, ids[i]), t->grad[i], (int64_t)t->shp[i].size);
        }
        xf_net_free(net);
        xf_graph_free(g);
    }
}

static void test_manifest(xf_ctx_t *ctx) {
    cJSON *root = nnf_manifest();
    if (!root) return;
    int ncases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, root) {
        tcase t;
        nnf_parse(ctx, c, &t);
        int ok = t.out != NULL;
        for (int i = 0; i < t.nin; i++) ok = ok && t.in[i];
        if (ok) run_case(ctx, &t);
        /* BN training: running statistics after one step */
        if (ok && t.op == XF_OP_BATCHNORM && t.train) {
            int ids[8], y;
            xf_graph *g = build(ctx, &t, ids, &y);
            xf_net_t *net;
            if (g && xf_net_create(ctx, g, t.shp[0].shape[0], XF_NET_TRAIN, &net) == XF_OK) {
                CHECK_OK(ctx, xf_net_forward(net, t.in[0], t.shp[0].shape[0]));
                float *rm = load_f32(ctx, cJSON_GetObjectItemCaseSensitive(c, "rmean")->valuestring, NULL);
                float *rv = load_f32(ctx, cJSON_GetObjectItemCaseSensitive(c, "rvar")->valuestring, NULL);
                compare(t.name, "running mean", g->values[ids[3]].data, rm, t.shp[3].size);
                compare(t.name, "running var", g->values[ids[4]].data, rv, t.shp[4].size);
                xf_free(ctx, rm);
                xf_free(ctx, rv);
                xf_net_free(net);
            }
            xf_graph_free(g);
        }
        nnf_free(ctx, &t);
        ncases++;
    }
    CHECK(ncases >= 40, "ran %d cases", ncases);
    cJSON_Delete(root);
}

static void test_xent(xf_ctx_t *ctx) {
    xf_array la;
    float *z = load_f32(ctx, "xent_logits.npy", NULL), *gw = load_f32(ctx, "xent_grad.npy", NULL);
    char p[512];
    CHECK_OK(ctx, xf_npy_read(ctx, xt_ref("nn/xent_labels.npy", p, sizeof p), &la));
    xf_array lo;
    CHECK_OK(ctx, xf_npy_read(ctx, xt_ref("nn/xent_loss.npy", p, sizeof p), &lo));
    /* a Identity graph over the logits so xf_net_loss runs */
    xf_graph *g;
    xf_graph_create(ctx, &g);
    int x, y;
    int64_t s[2] = {-1, 7};
    xf_graph_add_value(g, "z", 2, s, NULL, &x);
    xf_graph_add_value(g, "y", 2, s, NULL, &y);
    g->input = x;
    CHECK_OK(ctx, xf_graph_add_node(g, XF_OP_IDENTITY, "id", &x, 1, &y, 1, NULL));
    CHECK_OK(ctx, xf_graph_infer_shapes(g));
    xf_net_t *net;
    xf_net_opts o = {NULL, 0, 1, 0};
    CHECK_OK(ctx, xf_net_create_ex(ctx, g, 5, XF_NET_TRAIN, &o, &net));
    CHECK_OK(ctx, xf_net_forward(net, z, 5));
    float loss;
    int64_t corr;
    CHECK_OK(ctx, xf_net_loss(net, y, (const int32_t *)la.data, &loss, &corr));
    CHECK_NEAR(loss, xf_array_get_f64(&lo, 0), 1e-5, 1e-6, "xent loss");
    CHECK_OK(ctx, xf_net_backward(net));
    compare("xent", "dlogits", xf_net_grad(net, x), gw, 35);
    /* error paths */
    int32_t bad[5] = {0, 1, 2, 3, 7};
    CHECK_ST(ctx, xf_net_loss(net, y, bad, &loss, &corr), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_net_loss(net, y, NULL, &loss, &corr), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_net_forward(net, z, 6), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_net_forward(net, NULL, 5), XF_ERR_INVALID);
    xf_net_free(net);
    xf_graph_free(g);
    xf_free(ctx, z);
    xf_free(ctx, gw);
    xf_array_free(ctx, &la);
    xf_array_free(ctx, &lo);
}

/* zoo: fast vs reference kernels, buffer reuse vs keep-all, train mode grads fast vs ref */
static void test_zoo(xf_ctx_t *ctx) {
    xf_graph *g;
    int64_t w[3] = {8, 16, 16};
    CHECK_OK(ctx, xf_model_small_resnet(ctx, 1, 20, 20, 10, w, 1, &g));
    xf_graph *c;
    CHECK_OK(ctx, xf_model_small_cnn(ctx, 3, 16, 16, 5, 8, 16, &c));
    if (!g || !c) return;
    int B = 3;
    float *x = malloc(sizeof(float) * B * 3 * 20 * 20);
    for (int i = 0; i < B * 3 * 400; i++) x[i] = sinf(i * 0.37f) + 0.1f * cosf(i * 1.3f);
    xf_net_t *a, *r, *k;
    CHECK_OK(ctx, xf_net_create(ctx, g, B, XF_NET_INFER, &a));
    CHECK_OK(ctx, xf_net_create(ctx, g, B, XF_NET_INFER, &r));
    xf_net_opts ko = {NULL, -1, 0, 0};
    CHECK_OK(ctx, xf_net_create_ex(ctx, g, B, XF_NET_INFER, &ko, &k));
    xf_net_use_reference(r, 1);
    CHECK_OK(ctx, xf_net_forward(a, x, B));
    CHECK_OK(ctx, xf_net_forward(r, x, B));
    CHECK_OK(ctx, xf_net_forward(k, x, B));
    int o = xf_graph_output_value(g), fv = xf_graph_feature_value(g);
    CHECK(fv == xf_graph_find(g, "flatten.out"), "feature tap is the Gemm input");
    compare("resnet", "fast vs reference logits", xf_net_data(a, o), xf_net_data(r, o), B * 10);
    compare("resnet", "reuse vs keep-all logits", xf_net_data(a, o), xf_net_data(k, o), B * 10);
    compare("resnet", "features", xf_net_data(a, fv), xf_net_data(k, fv), B * 16);
    int mid = xf_graph_find(g, "layer1.0.bn1.out");
    CHECK(xf_net_data(k, mid) != NULL, "keep-all keeps intermediates");
    CHECK(xf_net_data(a, mid) == NULL, "reused intermediate reads as NULL");
    /* smaller batch through the same plan */
    CHECK_OK(ctx, xf_net_forward(a, x, 2));
    compare("resnet", "batch 2 prefix", xf_net_data(a, o), xf_net_data(k, o), 2 * 10);
    xf_net_free(a);
    xf_net_free(r);
    xf_net_free(k);

    /* CNN: training-mode gradients fast vs reference */
    xf_net_t *t1, *t2;
    CHECK_OK(ctx, xf_net_create(ctx, c, B, XF_NET_TRAIN, &t1));
    CHECK_OK(ctx, xf_net_create(ctx, c, B, XF_NET_TRAIN, &t2));
    xf_net_use_reference(t2, 1);
    int32_t lab[3] = {1, 4, 0};
    float l1, l2;
    int64_t cc;
    int oc = xf_graph_output_value(c);
    CHECK_OK(ctx, xf_net_forward(t1, x, B));
    CHECK_OK(ctx, xf_net_loss(t1, oc, lab, &l1, &cc));
    CHECK_OK(ctx, xf_net_backward(t1));
    CHECK_OK(ctx, xf_net_forward(t2, x, B));
    CHECK_OK(ctx, xf_net_loss(t2, oc, lab, &l2, &cc));
    CHECK_OK(ctx, xf_net_backward(t2));
    CHECK_NEAR(l1, l2, 1e-5, 1e-6, "cnn loss fast vs ref");
    int np = 0;
    for (int v = 0; v < c->n_values; v++) {
        if (!c->values[v].is_param || !c->values[v].trainable) continue;
        int64_t n = 1;
        for (int d = 0; d < c->values[v].ndim; d++) n *= c->values[v].shape[d];
        compare(c->values[v].name, "grad fast vs reference", xf_net_grad(t1, v), xf_net_grad(t2, v), n);
        np++;
    }
    CHECK(np == 14, "cnn has %d trainable tensors (want 14)", np);
    CHECK_ST(ctx, xf_net_backward(t1), XF_ERR_INVALID); /* not seeded again */
    xf_net_free(t1);
    xf_net_free(t2);
    /* head-only: only fc gets gradients */
    xf_graph_set_trainable(c, 0);
    CHECK(xf_graph_set_trainable_prefix(c, "fc.", 1) == 2, "fc has 2 tensors");
    CHECK(xf_graph_param_count(c, 1) == 5 * 16 + 5, "trainable count %lld", (long long)xf_graph_param_count(c, 1));
    CHECK_OK(ctx, xf_net_create(ctx, c, B, XF_NET_TRAIN, &t1));
    CHECK_OK(ctx, xf_net_forward(t1, x, B));
    CHECK_OK(ctx, xf_net_loss(t1, oc, lab, &l1, &cc));
    CHECK_OK(ctx, xf_net_backward(t1));
    CHECK(xf_net_grad(t1, xf_graph_find(c, "fc.weight")) != NULL, "fc grad");
    CHECK(xf_net_grad(t1, xf_graph_find(c, "conv1.weight")) == NULL, "frozen conv has no grad");
    CHECK(xf_net_grad(t1, xf_graph_find(c, "relu4.out")) == NULL, "no backprop below the head");
    xf_net_free(t1);
    xf_graph_free(g);
    xf_graph_free(c);
    free(x);
}

/* graph-building and shape errors name the node */
static void test_errors(xf_ctx_t *ctx) {
    xf_graph *g;
    CHECK_OK(ctx, xf_graph_create(ctx, &g));
    int x, w, y, y2;
    int64_t xs[4] = {-1, 3, 8, 8}, ws[4] = {4, 2, 3, 3}, s1[1] = {-1};
    float wd[72] = {0};
    CHECK_OK(ctx, xf_graph_add_value(g, "x", 4, xs, NULL, &x));
    CHECK_ST(ctx, xf_graph_add_value(g, "x", 4, xs, NULL, &y), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "duplicate") != NULL, "duplicate message: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_graph_add_value(g, "big", 9, xs, NULL, &y), XF_ERR_INVALID);
    CHECK_OK(ctx, xf_graph_add_value(g, "w", 4, ws, wd, &w));
    CHECK_OK(ctx, xf_graph_add_value(g, "y", 1, s1, NULL, &y));
    CHECK_OK(ctx, xf_graph_add_value(g, "y2", 1, s1, NULL, &y2));
    CHECK_ST(ctx, xf_graph_infer_shapes(g), XF_ERR_INVALID); /* no input set */
    g->input = x;
    int in[2] = {x, w};
    CHECK_ST(ctx, xf_graph_add_node(g, XF_OP_CONV, "c", in, 2, &w, 1, NULL), XF_ERR_INVALID); /* writes a param */
    CHECK_ST(ctx, xf_graph_add_node(g, XF_OP__COUNT, "c", in, 2, &y, 1, NULL), XF_ERR_INVALID);
    int badin[2] = {x, 99};
    CHECK_ST(ctx, xf_graph_add_node(g, XF_OP_CONV, "c", badin, 2, &y, 1, NULL), XF_ERR_INVALID);
    CHECK_OK(ctx, xf_graph_add_node(g, XF_OP_CONV, "myconv", in, 2, &y, 1, NULL));
    CHECK_ST(ctx, xf_graph_infer_shapes(g), XF_ERR_SHAPE); /* 2 channels per group vs 3 */
    CHECK(strstr(xf_errmsg(ctx), "myconv") != NULL, "error names the node: %s", xf_errmsg(ctx));
    g->nodes[0].attr.group = 0;
    CHECK_ST(ctx, xf_graph_infer_shapes(g), XF_ERR_SHAPE);
    /* a node reading a value nobody computed */
    g->nodes[0].in[0] = y2;
    g->nodes[0].attr.group = 1;
    CHECK_ST(ctx, xf_graph_infer_shapes(g), XF_ERR_SHAPE);
    xf_net_t *net;
    CHECK_ST(ctx, xf_net_create(ctx, g, 4, XF_NET_INFER, &net), XF_ERR_SHAPE);
    CHECK_ST(ctx, xf_net_create(ctx, g, 0, XF_NET_INFER, &net), XF_ERR_INVALID);
    xf_graph_free(g);

    /* allocation failures while building and planning: every k fails cleanly */
    for (int k = 1; k < 400; k += 7) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_graph *m = NULL;
        int64_t wd3[3] = {4, 8, 8};
        xf_status st = xf_model_small_resnet(ctx, 1, 12, 12, 3, wd3, 1, &m);
        if (st == XF_OK) {
            xf_net_t *n2 = NULL;
            st = xf_net_create(ctx, m, 2, XF_NET_TRAIN, &n2);
            CHECK(st == XF_OK || st == XF_ERR_NOMEM, "alloc fail %d: %s", k, xf_status_str(st));
            xf_net_free(n2);
            xf_graph_free(m);
        } else CHECK(st == XF_ERR_NOMEM, "alloc fail %d: %s", k, xf_status_str(st));
        xf_ctx_fail_alloc_after(ctx, 0);
    }
}

/* One node over an input x (xs) and an optional parameter p (ps; NULL: none), expected to
 * fail shape inference with a message containing want. */
static void shape_refused(xf_ctx_t *ctx, xf_op op, const xf_node_attr *a, int xn, const int64_t *xs, int pn,
                          const int64_t *ps, const char *want) {
    xf_graph *g;
    CHECK_OK(ctx, xf_graph_create(ctx, &g));
    static float zeros[256];
    int ids[2], y, n = 1;
    int64_t s1[1] = {-1};
    CHECK_OK(ctx, xf_graph_add_value(g, "x", xn, xs, NULL, &ids[0]));
    g->input = ids[0];
    if (ps) CHECK_OK(ctx, xf_graph_add_value(g, "p", pn, ps, zeros, &ids[n++]));
    CHECK_OK(ctx, xf_graph_add_value(g, "y", 1, s1, NULL, &y));
    CHECK_OK(ctx, xf_graph_add_node(g, op, "bad_node", ids, n, &y, 1, a));
    CHECK_ST(ctx, xf_graph_infer_shapes(g), XF_ERR_SHAPE);
    CHECK(strstr(xf_errmsg(ctx), want) && strstr(xf_errmsg(ctx), "bad_node"), "%s: message '%s' lacks '%s'",
          xf_op_name(op), xf_errmsg(ctx), want);
    xf_graph_free(g);
}

/* the shape rules of the classic-CNN ops refuse what their kernels cannot run */
static void test_classic_op_errors(xf_ctx_t *ctx) {
    int64_t x4[4] = {-1, 3, 4, 4}, x2[2] = {-1, 3};
    xf_node_attr a;
    xf_node_attr_default(XF_OP_LRN, &a);
    a.size = 0;
    shape_refused(ctx, XF_OP_LRN, &a, 4, x4, 0, NULL, "size 0");
    a.size = 3, a.bias = 0.0f;
    shape_refused(ctx, XF_OP_LRN, &a, 4, x4, 0, NULL, "bias must be > 0");
    a.bias = 1.0f;
    shape_refused(ctx, XF_OP_LRN, &a, 2, x2, 0, NULL, "input rank 2");
    xf_node_attr_default(XF_OP_CELU, &a);
    a.alpha = 0.0f;
    shape_refused(ctx, XF_OP_CELU, &a, 4, x4, 0, NULL, "alpha must be non-zero");
    xf_node_attr_default(XF_OP_PRELU, &a);
    int64_t s2[1] = {2};
    shape_refused(ctx, XF_OP_PRELU, &a, 4, x4, 1, s2, "slope has 2 values for 3 channels");
    xf_node_attr_default(XF_OP_REDUCESUM, &a);
    a.axes_mask = 1u | 4u;
    shape_refused(ctx, XF_OP_REDUCESUM, &a, 4, x4, 0, NULL, "over the batch");
    a.axes_mask = 1u << 5;
    shape_refused(ctx, XF_OP_REDUCEMEAN, &a, 4, x4, 0, NULL, "axes mask");
    xf_node_attr_default(XF_OP_CONVTRANSPOSE, &a);
    int64_t w_ok[4] = {3, 2, 3, 3}, w_bad[4] = {2, 2, 3, 3};
    shape_refused(ctx, XF_OP_CONVTRANSPOSE, &a, 4, x4, 4, w_bad, "weight (2, 2, ...) for 3 input channels");
    a.out_pad[0] = 1;
    shape_refused(ctx, XF_OP_CONVTRANSPOSE, &a, 4, x4, 4, w_ok, "output padding 1 must be below");
    a.out_pad[0] = 0, a.pads[0] = a.pads[2] = 3;
    shape_refused(ctx, XF_OP_CONVTRANSPOSE, &a, 4, x4, 4, w_ok, "pads leave an empty");
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    test_manifest(ctx);
    test_xent(ctx);
    test_zoo(ctx);
    test_errors(ctx);
    test_classic_op_errors(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_nn_ops");
}
