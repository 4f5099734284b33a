/* nn backward passes by finite differences, independent of PyTorch: for every case of
 * tests/ref/nn/manifest.json that has gradients, L = sum(y * r) (r: the fixture's dy)
 * is evaluated in double from the float32 forward, and central differences
 *   dL/dx_i ~ (L(x_i + h) - L(x_i - h)) / 2h,  h = 1e-2 * max(1, |x_i|)
 * are compared with the backward pass on up to 16 coordinates of every input, fast and
 * reference kernels. Tolerance: |fd - analytic| <= 1e-2 + 2e-2 * |analytic| (float32
 * rounding of L divided by 2h, and the O(h^2) truncation). Kinks (ReLU, Clip, MaxPool
 * ties) are avoided by skipping coordinates whose perturbation changes the set of
 * active elements, detected as a one-sided difference mismatch.
 * Also: whole networks (the zoo's small ResNet, residual fan-out; and the small CNN with
 * the softmax cross-entropy loss, double-precision loss from the logits) checked on 3
 * coordinates of every parameter with h = 3e-4 (XF_FD_H overrides) and tolerance
 * 5e-3 + 5e-2 |analytic|: a BN shift moves every unit of a channel, so many ReLU kinks
 * lie within any step and the network loss is only piecewise smooth; this part checks
 * the executor's gradient flow (fan-out accumulation, frozen running statistics), the
 * ops themselves are checked tightly above. Dropout's mask is checked directly. */
#include "nn_fixture.h"

static double loss_of(xf_net_t *net, int y, const float *r, int64_t n) {
    const float *v = xf_net_data(net, y);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)v[i] * r[i];
    return s;
}

static int fd_case(xf_ctx_t *ctx, tcase *t, int ref) {
    int ids[8], y;
    xf_graph *g = build(ctx, t, ids, &y);
    if (!g) return 0;
    int64_t B = 0;
    int gi = 0;
    for (int i = 0; i < t->nin; i++)
        if (ids[i] == g->input) { gi = i; B = t->shp[i].shape[0]; }
    xf_net_t *net;
    xf_net_opts o = {NULL, -1, 1, 0};
    if (xf_net_create_ex(ctx, g, B, XF_NET_TRAIN, &o, &net) != XF_OK) {
        CHECK(0, "%s: create: %s", t->name, xf_errmsg(ctx));
        xf_graph_free(g);
        return 0;
    }
    xf_net_use_reference(net, ref);
    /* activations are bound to copies we perturb; parameters are perturbed in the graph */
    float *act[8] = {0};
    for (int i = 0; i < t->nin; i++)
        if (!t->is_param[i]) {
            act[i] = malloc(sizeof(float) * t->shp[i].size);
            memcpy(act[i], t->in[i], sizeof(float) * t->shp[i].size);
            if (i != gi) xf_net_bind(net, ids[i], act[i]);
        }
    CHECK_OK(ctx, xf_net_forward(net, act[gi], B));
    CHECK_OK(ctx, xf_net_seed_grad(net, y, t->dy));
    CHECK_OK(ctx, xf_net_backward(net));
    int checked = 0;
    float *ans[8] = {0}; /* copies: every forward below zeroes the gradient buffers */
    for (int i = 0; i < t->nin; i++) {
        const float *ag = xf_net_grad(net, ids[i]);
        if (!ag) continue;
        ans[i] = malloc(sizeof(float) * t->shp[i].size);
        memcpy(ans[i], ag, sizeof(float) * t->shp[i].size);
    }
    for (int i = 0; i < t->nin; i++) {
        if (!t->grad[i]) continue;
        if (t->op == XF_OP_BATCHNORM && i >= 3) continue;
        int64_t n = (int64_t)t->shp[i].size;
        float *an = ans[i];
        CHECK(an != NULL, "%s: no gradient for input %d", t->name, i);
        if (!an) continue;
        float *xv = t->is_param[i] ? g->values[ids[i]].data : act[i];
        int64_t stride = n > 16 ? n / 16 : 1;
        for (int64_t k = 0; k < n; k += stride) {
            int64_t j = (k * 7 + 3) % n;
            float x0 = xv[j];
            double h = 1e-2 * (fabs(x0) > 1 ? fabs(x0) : 1.0);
            double L[3];
            for (int s = 0; s < 3; s++) {
                xv[j] = (float)(x0 + (s - 1) * h);
                xf_net_forward(net, act[gi], B);
                L[s] = loss_of(net, y, t->dy, t->out_n);
            }
            xv[j] = x0;
            double hp = (double)(float)(x0 + h) - x0, hm = x0 - (double)(float)(x0 - h);
            double fd = (L[2] - L[0]) / (hp + hm);
            double left = (L[1] - L[0]) / hm, right = (L[2] - L[1]) / hp;
            if (fabs(left - right) > 0.2 * (fabs(left) + fabs(right)) + 0.05) continue; /* a kink */
            double a = an[j];
            CHECK(fabs(fd - a) <= 1e-2 + 2e-2 * fabs(a), "%s%s input %d [%lld]: finite difference %.6g, backward %.6g",
                  t->name, ref ? " (ref)" : "", i, (long long)j, fd, a);
            checked++;
        }
    }
    for (int i = 0; i < t->nin; i++) free(ans[i]);
    for (int i = 0; i < t->nin; i++) free(act[i]);
    xf_net_free(net);
    xf_graph_free(g);
    return checked;
}

static void test_ops(xf_ctx_t *ctx) {
    cJSON *root = nnf_manifest();
    if (!root) return;
    const cJSON *c;
    int ncases = 0;
    cJSON_ArrayForEach(c, root) {
        tcase t;
        if (!nnf_parse(ctx, c, &t)) continue;
        if (t.dy && t.op != XF_OP_DROPOUT) {
            int k0 = fd_case(ctx, &t, 0), k1 = fd_case(ctx, &t, 1);
            CHECK(k0 >= 4 && k1 >= 4, "%s: only %d/%d coordinates checked", t.name, k0, k1);
            ncases++;
        }
        nnf_free(ctx, &t);
    }
    CHECK(ncases >= 40, "%d cases with gradients", ncases);
    cJSON_Delete(root);
}

/* softmax cross-entropy in double from the logits */
static double xent(xf_net_t *net, int o, const int32_t *lab, int64_t B, int64_t K) {
    const float *z = xf_net_data(net, o);
    double s = 0;
    for (int64_t i = 0; i < B; i++) {
        double m = z[i * K];
        for (int64_t k = 1; k < K; k++) if (z[i * K + k] > m) m = z[i * K + k];
        double e = 0;
        for (int64_t k = 0; k < K; k++) e += exp(z[i * K + k] - m);
        s += log(e) + m - z[i * K + lab[i]];
    }
    return s / (double)B;
}

static void test_network(xf_ctx_t *ctx, int resnet) {
    xf_graph *g;
    int64_t w[3] = {4, 8, 8};
    if (resnet) CHECK_OK(ctx, xf_model_small_resnet(ctx, 2, 8, 8, 5, w, 2, &g));
    else CHECK_OK(ctx, xf_model_small_cnn(ctx, 2, 8, 8, 5, 4, 6, &g));
    if (!g) return;
    int B = 4, K = 5;
    float *x = malloc(sizeof(float) * B * 2 * 64);
    for (int i = 0; i < B * 128; i++) x[i] = sinf(i * 0.61f) + 0.3f * cosf(i * 0.17f);
    int32_t lab[4] = {0, 3, 4, 1};
    xf_net_t *net;
    CHECK_OK(ctx, xf_net_create(ctx, g, B, XF_NET_TRAIN, &net));
    int o = xf_graph_output_value(g);
    float l;
    int64_t c;
    CHECK_OK(ctx, xf_net_forward(net, x, B));
    CHECK_OK(ctx, xf_net_loss(net, o, lab, &l, &c));
    CHECK_OK(ctx, xf_net_backward(net));
    int checked = 0;
    for (int v = 0; v < g->n_values; v++) {
        xf_value *pv = &g->values[v];
        if (!pv->is_param || !pv->trainable) continue;
        /* fresh backward: the finite-difference forwards below zero the gradients */
        xf_net_forward(net, x, B);
        xf_net_loss(net, o, lab, &l, &c);
        xf_net_backward(net);
        const float *ag = xf_net_grad(net, v);
        CHECK(ag != NULL, "%s has a gradient", pv->name);
        if (!ag) continue;
        int64_t n = 1;
        for (int d = 0; d < pv->ndim; d++) n *= pv->shape[d];
        float agc[3];
        for (int64_t k = 0; k < 3 && k < n; k++) agc[k] = ag[(k * 37 + 5) % n];
        for (int64_t k = 0; k < 3 && k < n; k++) {
            int64_t j = (k * 37 + 5) % n;
            float x0 = pv->data[j];
            double a = agc[k];
            double h = getenv("XF_FD_H") ? atof(getenv("XF_FD_H")) : 3e-4, L[3];
            for (int s = 0; s < 3; s++) {
                pv->data[j] = (float)(x0 + (s - 1) * h);
                xf_net_forward(net, x, B);
                L[s] = xent(net, o, lab, B, K);
            }
            pv->data[j] = x0;
            double left = (L[1] - L[0]) / h, right = (L[2] - L[1]) / h;
            if (fabs(left - right) > 0.1 * (fabs(left) + fabs(right)) + 3e-3) continue; /* a ReLU/max kink */
            double fd = (L[2] - L[0]) / (2 * h);
            CHECK(fabs(fd - a) <= 5e-3 + 5e-2 * fabs(a), "%s %s[%lld]: finite difference %.6g, backward %.6g",
                  resnet ? "resnet" : "cnn", pv->name, (long long)j, fd, a);
            checked++;
        }
    }
    CHECK(checked >= (resnet ? 60 : 25), "%d network coordinates checked", checked);
    xf_net_free(net);
    xf_graph_free(g);
    free(x);
}

/* Dropout in training: y = x * mask / (1 - p) and dx = dy * mask / (1 - p) */
static void test_dropout(xf_ctx_t *ctx) {
    xf_graph *g;
    xf_graph_create(ctx, &g);
    int x, y;
    int64_t s[2] = {-1, 1000};
    xf_graph_add_value(g, "x", 2, s, NULL, &x);
    xf_graph_add_value(g, "y", 2, s, NULL, &y);
    g->input = x;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_DROPOUT, &a);
    a.ratio = 0.25f;
    CHECK_OK(ctx, xf_graph_add_node(g, XF_OP_DROPOUT, "d", &x, 1, &y, 1, &a));
    CHECK_OK(ctx, xf_graph_infer_shapes(g));
    xf_net_t *net;
    xf_net_opts o = {NULL, 0, 1, 0};
    CHECK_OK(ctx, xf_net_create_ex(ctx, g, 2, XF_NET_TRAIN, &o, &net));
    float xs[2000], dy[2000];
    for (int i = 0; i < 2000; i++) { xs[i] = 1.0f + (float)(i % 7); dy[i] = (float)(i % 5) - 2.0f; }
    CHECK_OK(ctx, xf_net_forward(net, xs, 2));
    CHECK_OK(ctx, xf_net_seed_grad(net, y, dy));
    CHECK_OK(ctx, xf_net_backward(net));
    const float *yv = xf_net_data(net, y), *dx = xf_net_grad(net, x);
    int dropped = 0, bad = 0;
    for (int i = 0; i < 2000; i++) {
        float m = yv[i] / xs[i];
        if (m == 0.0f) dropped++;
        else if (fabsf(m - 1.0f / 0.75f) > 1e-5f) bad++;
        if (fabsf(dx[i] - dy[i] * m) > 1e-5f) bad++;
    }
    CHECK(bad == 0, "dropout mask/gradient mismatches: %d", bad);
    CHECK(dropped > 400 && dropped < 600, "dropped %d of 2000 at p = 0.25", dropped);
    xf_net_free(net);
    xf_graph_free(g);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    test_ops(ctx);
    test_network(ctx, 0);
    test_network(ctx, 1);
    test_dropout(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_nn_grad");
}
