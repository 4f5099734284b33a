/* Shared by test_nn_ops.c and test_nn_grad.c: reading tests/ref/nn/manifest.json
 * (gen_nn.py) into one-node test cases and building their graphs. */
#ifndef NN_FIXTURE_H
#define NN_FIXTURE_H
#include <cjson/cJSON.h>

#include "xfer/array.h"
#include "xfer/nn.h"
#include "xfer/npy.h"
#include "xtest.h"

static float *load_f32(xf_ctx_t *ctx, const char *rel, xf_array *shape_out) {
    char p[512], q[600];
    snprintf(q, sizeof q, "nn/%s", rel);
    xf_array a;
    if (xf_npy_read(ctx, xt_ref(q, p, sizeof p), &a) != XF_OK) {
        CHECK(0, "read %s: %s", q, xf_errmsg(ctx));
        return NULL;
    }
    float *f = NULL;
    xf_array_to_f32(ctx, &a, 0, &f);
    if (shape_out) *shape_out = a;
    else xf_array_free(ctx, &a);
    return f;
}

__attribute__((unused)) static void compare(const char *cname, const char *what, const float *got, const float *want, int64_t n) {
    if (!got) {
        CHECK(0, "%s %s: no data", cname, what);
        return;
    }
    double mx = 0, err = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(want[i]) > mx) mx = fabs(want[i]);
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= err)) { err = e; at = i; }
    }
    CHECK(err <= 2e-5 + 2e-4 * mx, "%s %s: max error %g at %lld (got %g want %g, scale %g)", cname, what, err,
          (long long)at, got[at], want[at], mx);
}

static int op_from_name(const char *s) {
    for (int i = 0; i < XF_OP__COUNT; i++)
        if (strcmp(xf_op_name((xf_op)i), s) == 0) return i;
    return -1;
}

static void ints(const cJSON *o, const char *k, int64_t *dst, int *n, int maxn) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsArray(a)) return;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) if (i < maxn) dst[i++] = (int64_t)e->valuedouble;
    if (n) *n = i;
}
static double num(const cJSON *o, const char *k, double def) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(a) ? a->valuedouble : def;
}

typedef struct tcase {
    const char *name;
    int op, nin, train;
    xf_node_attr attr;
    float *in[8];
    xf_array shp[8];
    int is_param[8];
    float *out, *dy, *grad[8];
    int64_t out_n;
} tcase;

/* graph: activation inputs named in<i> (first is the graph input), params copied */
static xf_graph *build(xf_ctx_t *ctx, tcase *t, int *ids, int *y) {
    xf_graph *g;
    if (xf_graph_create(ctx, &g)) return NULL;
    int first = 1;
    for (int i = 0; i < t->nin; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "in%d", i);
        int64_t s[8];
        for (int d = 0; d < t->shp[i].ndim; d++) s[d] = t->shp[i].shape[d];
        if (!t->is_param[i]) s[0] = -1;
        CHECK_OK(ctx, xf_graph_add_value(g, nm, t->shp[i].ndim, s, t->is_param[i] ? t->in[i] : NULL, &ids[i]));
        if (!t->is_param[i] && first) {
            g->input = ids[i];
            first = 0;
        }
    }
    int64_t s1[1] = {-1};
    CHECK_OK(ctx, xf_graph_add_value(g, "y", 1, s1, NULL, y));
    CHECK_OK(ctx, xf_graph_add_node(g, (xf_op)t->op, t->name, ids, t->nin, y, 1, &t->attr));
    xf_status st = xf_graph_infer_shapes(g);
    CHECK(st == XF_OK, "%s: infer shapes: %s", t->name, xf_errmsg(ctx));
    if (st) {
        xf_graph_free(g);
        return NULL;
    }
    return g;
}

__attribute__((unused)) static void bind_all(xf_ctx_t *ctx, xf_net_t *net, xf_graph *g, tcase *t, const int *ids) {
    for (int i = 0; i < t->nin; i++)
        if (!t->is_param[i] && ids[i] != g->input) CHECK_OK(ctx, xf_net_bind(net, ids[i], t->in[i]));
}

static cJSON *nnf_manifest(void) {
    char p[512];
    FILE *f = fopen(xt_ref("nn/manifest.json", p, sizeof p), "rb");
    CHECK(f != NULL, "open %s", p);
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *txt = malloc((size_t)sz + 1);
    size_t rd = fread(txt, 1, (size_t)sz, f);
    txt[rd] = 0;
    fclose(f);
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    CHECK(cJSON_IsArray(root), "manifest parses");
    return root;
}

static int nnf_parse(xf_ctx_t *ctx, const cJSON *c, tcase *t) {
    memset(t, 0, sizeof *t);
    t->name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
    t->op = op_from_name(cJSON_GetObjectItemCaseSensitive(c, "op")->valuestring);
    CHECK(t->op >= 0, "%s: unknown op", t->name);
    if (t->op < 0) return 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, "attrs");
    xf_node_attr_default((xf_op)t->op, &t->attr);
    ints(a, "kernel", t->attr.kernel, NULL, 2);
    ints(a, "stride", t->attr.stride, NULL, 2);
    ints(a, "dilation", t->attr.dilation, NULL, 2);
    ints(a, "pads", t->attr.pads, NULL, 4);
    ints(a, "shape", t->attr.shape, &t->attr.shape_n, XF_NN_MAXDIM);
    ints(a, "perm", t->attr.perm, &t->attr.perm_n, XF_NN_MAXDIM);
    ints(a, "pad_amounts", t->attr.pad_amounts, &t->attr.pad_n, 2 * XF_NN_MAXDIM);
    t->attr.group = (int64_t)num(a, "group", 1);
    t->attr.ceil_mode = (int)num(a, "ceil_mode", 0);
    t->attr.count_include_pad = (int)num(a, "count_include_pad", 0);
    t->attr.alpha = (float)num(a, "alpha", 1);
    t->attr.beta = (float)num(a, "beta", 1);
    t->attr.transB = (int)num(a, "transB", 0);
    t->attr.eps = (float)num(a, "eps", 1e-5);
    t->attr.momentum = (float)num(a, "momentum", 0.9);
    t->attr.num_groups = (int64_t)num(a, "num_groups", 1);
    t->attr.min = (float)num(a, "min", t->attr.min);
    t->attr.max = (float)num(a, "max", t->attr.max);
    t->attr.axis = (int64_t)num(a, "axis", (double)t->attr.axis);
    t->attr.ratio = (float)num(a, "ratio", 0.5);
    t->attr.gelu_tanh = (int)num(a, "gelu_tanh", 0);
    t->attr.pad_mode = (int)num(a, "pad_mode", 0);
    t->attr.pad_value = (float)num(a, "pad_value", 0);
    t->attr.size = (int64_t)num(a, "size", (double)t->attr.size);
    t->attr.bias = (float)num(a, "bias", t->attr.bias);
    t->attr.axes_mask = (unsigned)num(a, "axes_mask", 0);
    t->attr.keepdims = (int)num(a, "keepdims", 1);
    ints(a, "out_pad", t->attr.out_pad, NULL, 2);
    t->train = (int)num(a, "train", 0);
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "inputs")) {
        t->in[i] = load_f32(ctx, e->valuestring, &t->shp[i]);
        i++;
    }
    t->nin = i;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "params")) t->is_param[(int)e->valuedouble] = 1;
    xf_array oa;
    t->out = load_f32(ctx, cJSON_GetObjectItemCaseSensitive(c, "out")->valuestring, &oa);
    t->out_n = (int64_t)oa.size;
    xf_array_free(ctx, &oa);
    const cJSON *dy = cJSON_GetObjectItemCaseSensitive(c, "dy");
    if (cJSON_IsString(dy)) {
        t->dy = load_f32(ctx, dy->valuestring, NULL);
        i = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "grads")) {
            if (cJSON_IsString(e)) t->grad[i] = load_f32(ctx, e->valuestring, NULL);
            i++;
        }
    }
    return 1;
}

static void nnf_free(xf_ctx_t *ctx, tcase *t) {
    for (int i = 0; i < t->nin; i++) {
        xf_free(ctx, t->in[i]);
        xf_free(ctx, t->grad[i]);
        xf_array_free(ctx, &t->shp[i]);
    }
    xf_free(ctx, t->out);
    xf_free(ctx, t->dy);
}
#endif
