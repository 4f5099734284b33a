/* Resource limits of the graph, the ONNX importer and the executor's planner:
 *   - the value-name index of xf_graph (xf_graph_find) against a linear scan, and an
 *     80,000-node Relu chain built, exported and imported again (quadratic before the
 *     index: 25 s for the import alone; here it only has to complete);
 *   - tests/ref/onnx_limits/folded_bomb.onnx (80 unused 4096 x 4096 ConstantOfShape, 5 GB
 *     asked by 6 KB) refused by the total folded-constant limit with one clear line, and
 *     folded_small.onnx (the same shape of model, 8 x 64 x 64) imported;
 *   - a plan above XF_NET_MAX_PLAN_BYTES refused by xf_net_create before allocating. */
#include "xfer/onnx.h"
#include "xfer/xfer.h"
#include "xtest.h"

enum { CHAIN = 80000 };

static int find_linear(const xf_graph *g, const char *name) {
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].name && strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

/* x (-1, 4) -> Relu -> ... -> Relu (n nodes), values v0 .. v{n}; v0 is the input */
static xf_status relu_chain(xf_ctx_t *ctx, int n, xf_graph **out) {
    xf_graph *g;
    xf_status st = xf_graph_create(ctx, &g);
    if (st) return st;
    int64_t s[2] = {-1, 4};
    int prev, cur;
    char name[32];
    if ((st = xf_graph_add_value(g, "v0", 2, s, NULL, &prev))) goto fail;
    g->input = prev;
    for (int k = 1; k <= n; k++) {
        snprintf(name, sizeof name, "v%d", k);
        if ((st = xf_graph_add_value(g, name, 2, s, NULL, &cur))) goto fail;
        snprintf(name, sizeof name, "relu%d", k);
        if ((st = xf_graph_add_node(g, XF_OP_RELU, name, &prev, 1, &cur, 1, NULL))) goto fail;
        prev = cur;
    }
    if (!(g->outputs = xf_malloc(ctx, sizeof *g->outputs))) { st = XF_ERR_NOMEM; goto fail; }
    g->outputs[0] = prev;
    g->n_outputs = 1;
    if ((st = xf_graph_infer_shapes(g))) goto fail;
    *out = g;
    return XF_OK;
fail:
    xf_graph_free(g);
    return st;
}

static void test_name_index(xf_ctx_t *ctx) {
    xf_graph *g;
    CHECK_OK(ctx, relu_chain(ctx, 3000, &g));
    if (!g) return;
    char name[32];
    int bad = 0;
    for (int k = 0; k <= 3000; k++) { /* every name, hashed vs scanned */
        snprintf(name, sizeof name, "v%d", k);
        if (xf_graph_find(g, name) != find_linear(g, name) || xf_graph_find(g, name) != k) bad++;
    }
    CHECK(bad == 0, "xf_graph_find disagrees with the linear scan on %d names", bad);
    CHECK(xf_graph_find(g, "v3001") == -1 && xf_graph_find(g, "") == -1 && xf_graph_find(g, NULL) == -1 &&
              xf_graph_find(g, "relu1") == -1,
          "absent names are not found");
    int64_t s[1] = {4};
    int id = -1;
    CHECK_ST(ctx, xf_graph_add_value(g, "v17", 1, s, NULL, &id), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "duplicate value name 'v17'") != NULL, "duplicate message: %s", xf_errmsg(ctx));
    /* a value appended to the array behind the index's back is still found */
    g->values[g->n_values] = g->values[g->n_values - 1];
    g->values[g->n_values].name = "appended";
    g->n_values++;
    CHECK(xf_graph_find(g, "appended") == g->n_values - 1, "value outside the index not found");
    g->n_values--;
    xf_graph_free(g);
}

static void test_long_chain(xf_ctx_t *ctx) {
    char path[512];
    xt_tmp("relu_chain.onnx", path, sizeof path);
    xf_graph *g = NULL, *g2 = NULL;
    CHECK_OK(ctx, relu_chain(ctx, CHAIN, &g));
    if (!g) return;
    CHECK_OK(ctx, xf_onnx_export(ctx, g, path));
    CHECK_OK(ctx, xf_onnx_import(ctx, path, &g2));
    if (g2) {
        CHECK(g2->n_nodes == CHAIN, "imported chain has %d nodes, want %d", g2->n_nodes, CHAIN);
        int last = xf_graph_output_value(g2);
        CHECK(last >= 0 && xf_graph_find(g2, g2->values[last].name) == last, "output value found by name");
        /* it runs: Relu of Relu ... of x is relu(x) */
        xf_net_t *net;
        CHECK_OK(ctx, xf_net_create(ctx, g2, 2, XF_NET_INFER, &net));
        if (net) {
            float x[8] = {-1, 2, -3, 4, 5, -6, 7, -8}, y[8];
            CHECK_OK(ctx, xf_net_forward(net, x, 2));
            memcpy(y, xf_net_data(net, last), sizeof y);
            int wrong = 0;
            for (int k = 0; k < 8; k++) wrong += y[k] != (x[k] > 0 ? x[k] : 0);
            CHECK(wrong == 0, "relu chain output wrong in %d places", wrong);
            xf_net_free(net);
        }
        xf_graph_free(g2);
    }
    xf_graph_free(g);
    remove(path);
}

static void test_fold_limit(xf_ctx_t *ctx) {
    char path[512];
    xf_graph *g = NULL;
    CHECK_ST(ctx, xf_onnx_import(ctx, xt_ref("onnx_limits/folded_bomb.onnx", path, sizeof path), &g),
             XF_ERR_UNSUPPORTED);
    CHECK(g == NULL, "no graph from a refused model");
    const char *msg = xf_errmsg(ctx);
    CHECK(strstr(msg, "folded_bomb.onnx") && strstr(msg, "ConstantOfShape") && strstr(msg, "limit of 512 MiB"),
          "fold limit message: %s", msg);
    CHECK(!strchr(msg, '\n'), "one line: %s", msg);
    CHECK_OK(ctx, xf_onnx_import(ctx, xt_ref("onnx_limits/folded_small.onnx", path, sizeof path), &g));
    xf_graph_free(g);
}

static void test_plan_limit(xf_ctx_t *ctx) {
    /* x (-1, 2^20) -> Relu: 2^16 rows plan 2^36 floats = 256 GiB */
    xf_graph *g;
    CHECK_OK(ctx, xf_graph_create(ctx, &g));
    if (!g) return;
    int64_t s[2] = {-1, (int64_t)1 << 20};
    int x, y;
    CHECK_OK(ctx, xf_graph_add_value(g, "x", 2, s, NULL, &x));
    CHECK_OK(ctx, xf_graph_add_value(g, "y", 2, s, NULL, &y));
    g->input = x;
    CHECK_OK(ctx, xf_graph_add_node(g, XF_OP_RELU, "relu", &x, 1, &y, 1, NULL));
    CHECK_OK(ctx, xf_graph_infer_shapes(g));
    xf_net_t *net = NULL;
    CHECK_ST(ctx, xf_net_create(ctx, g, (int64_t)1 << 16, XF_NET_INFER, &net), XF_ERR_UNSUPPORTED);
    CHECK(strstr(xf_errmsg(ctx), "XF_NET_MAX_PLAN_BYTES") && strstr(xf_errmsg(ctx), "batch 65536"),
          "plan limit message: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_net_create(ctx, g, (int64_t)1 << 16, XF_NET_TRAIN, &net), XF_ERR_UNSUPPORTED);
    /* a batch that fits is planned (4 rows: 16 MB) */
    CHECK_OK(ctx, xf_net_create(ctx, g, 4, XF_NET_INFER, &net));
    xf_net_free(net);
    xf_graph_free(g);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    test_name_index(ctx);
    test_fold_limit(ctx);
    test_plan_limit(ctx);
    test_long_chain(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_onnx_limits");
}
