/* nn model zoo: small networks built by hand, for tests, training and the benchmark.
 *
 * Initialisation follows torchvision's ResNet: conv weights He-normal with fan_out
 * (std = sqrt(2 / (Cout * kh * kw)), He et al. 2015 eq. 10 with the output fan), BN
 * gamma 1 / beta 0 / running mean 0 / var 1, the Linear head uniform(+-1/sqrt(fan_in))
 * as PyTorch's default. Random numbers come from the context's seed, so a given seed
 * always builds the same network. Parameter names follow PyTorch's state_dict style
 * ("layer2.0.conv1.weight", "fc.weight") so prefixes select parts for freezing. */
#include <math.h>
#include <stdio.h>

#include "nn/nnInt.h"

typedef struct zb {
    xf_graph *g;
    xf_rng rng;
    xf_status st;
    float *tmp;
    size_t tmp_n;
} zb;

static int zval(zb *b, const char *name, int ndim, const int64_t *shape, const float *data) {
    if (b->st) return -1;
    int id = -1;
    b->st = xf_graph_add_value(b->g, name, ndim, shape, data, &id);
    return id;
}
static float *ztmp(zb *b, size_t n) {
    if (b->st) return NULL;
    if (n > b->tmp_n) {
        float *p = xf_realloc(b->g->ctx, b->tmp, n * sizeof(float));
        if (!p) {
            b->st = XF_ERR_NOMEM;
            return NULL;
        }
        b->tmp = p;
        b->tmp_n = n;
    }
    return b->tmp;
}
static int zact(zb *b, const char *name) {
    int64_t s[1] = {-1};
    return zval(b, name, 1, s, NULL);
}
static void znode(zb *b, xf_op op, const char *name, const int *in, int n_in, int out, const xf_node_attr *a) {
    if (b->st) return;
    b->st = xf_graph_add_node(b->g, op, name, in, n_in, &out, 1, a);
}

static int zconv(zb *b, const char *pfx, int x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad) {
    char nm[160], wn[160];
    int64_t ws[4] = {cout, cin, k, k};
    size_t n = (size_t)(cout * cin * k * k);
    float *w = ztmp(b, n);
    if (!w) return -1;
    double sd = sqrt(2.0 / (double)(cout * k * k));
    for (size_t i = 0; i < n; i++) w[i] = (float)(sd * xf_rng_normal(&b->rng));
    snprintf(wn, sizeof wn, "%s.weight", pfx);
    int wid = zval(b, wn, 4, ws, w);
    snprintf(nm, sizeof nm, "%s.out", pfx);
    int y = zact(b, nm);
    xf_node_attr a;
    xf_node_attr_default(XF_OP_CONV, &a);
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    for (int i = 0; i < 4; i++) a.pads[i] = pad;
    int in[2] = {x, wid};
    znode(b, XF_OP_CONV, pfx, in, 2, y, &a);
    return y;
}

static int zbn(zb *b, const char *pfx, int x, int64_t c) {
    char nm[160];
    int64_t s[1] = {c};
    float *t = ztmp(b, (size_t)c);
    if (!t) return -1;
    const char *suf[4] = {"weight", "bias", "running_mean", "running_var"};
    const float fill[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    int ids[5];
    ids[0] = x;
    for (int i = 0; i < 4; i++) {
        for (int64_t j = 0; j < c; j++) t[j] = fill[i];
        snprintf(nm, sizeof nm, "%s.%s", pfx, suf[i]);
        ids[i + 1] = zval(b, nm, 1, s, t);
        if (i >= 2 && ids[i + 1] >= 0) b->g->values[ids[i + 1]].trainable = 0;
    }
    snprintf(nm, sizeof nm, "%s.out", pfx);
    int y = zact(b, nm);
    xf_node_attr a;
    xf_node_attr_default(XF_OP_BATCHNORM, &a);
    znode(b, XF_OP_BATCHNORM, pfx, ids, 5, y, &a);
    return y;
}

static int zunary(zb *b, xf_op op, const char *pfx, int x) {
    char nm[160];
    snprintf(nm, sizeof nm, "%s.out", pfx);
    int y = zact(b, nm);
    znode(b, op, pfx, &x, 1, y, NULL);
    return y;
}

static int zadd(zb *b, const char *pfx, int x1, int x2) {
    char nm[160];
    snprintf(nm, sizeof nm, "%s.out", pfx);
    int y = zact(b, nm);
    int in[2] = {x1, x2};
    znode(b, XF_OP_ADD, pfx, in, 2, y, NULL);
    return y;
}

static int zmaxpool2(zb *b, const char *pfx, int x) {
    char nm[160];
    snprintf(nm, sizeof nm, "%s.out", pfx);
    int y = zact(b, nm);
    xf_node_attr a;
    xf_node_attr_default(XF_OP_MAXPOOL, &a);
    a.kernel[0] = a.kernel[1] = 2;
    a.stride[0] = a.stride[1] = 2;
    znode(b, XF_OP_MAXPOOL, pfx, &x, 1, y, &a);
    return y;
}

/* [GAP ->] Flatten -> Gemm(classes); names "avgpool", "flatten", "fc"; c = features */
static int zhead(zb *b, int x, int64_t c, int64_t classes, int gap) {
    int p = gap ? zunary(b, XF_OP_GLOBALAVGPOOL, "avgpool", x) : x;
    int f = zact(b, "flatten.out");
    xf_node_attr fa;
    xf_node_attr_default(XF_OP_FLATTEN, &fa);
    znode(b, XF_OP_FLATTEN, "flatten", &p, 1, f, &fa);
    float *w = ztmp(b, (size_t)(classes * c + classes));
    if (!w) return -1;
    double bound = 1.0 / sqrt((double)c);
    for (int64_t i = 0; i < classes * c + classes; i++) w[i] = (float)(bound * (2.0 * xf_rng_uniform(&b->rng) - 1.0));
    int64_t ws[2] = {classes, c}, bs[1] = {classes};
    int wid = zval(b, "fc.weight", 2, ws, w);
    int bid = zval(b, "fc.bias", 1, bs, w + classes * c);
    int y = zact(b, "logits");
    xf_node_attr a;
    xf_node_attr_default(XF_OP_GEMM, &a);
    a.transB = 1;
    int in[3] = {f, wid, bid};
    znode(b, XF_OP_GEMM, "fc", in, 3, y, &a);
    if (!b->st) {
        b->g->outputs = xf_malloc(b->g->ctx, sizeof(int));
        if (!b->g->outputs) b->st = XF_ERR_NOMEM;
        else {
            b->g->outputs[0] = y;
            b->g->n_outputs = 1;
        }
    }
    return y;
}

static xf_status zbegin(xf_ctx_t *ctx, zb *b, const char *name, int64_t in_ch, int64_t H, int64_t W, int64_t classes,
                        int *x) {
    memset(b, 0, sizeof *b);
    if (in_ch < 1 || H < 4 || W < 4 || classes < 1 || in_ch > 4096 || H > 8192 || W > 8192 || classes > (1 << 20))
        return XF_ERR(ctx, XF_ERR_INVALID, "%s: bad geometry %lld x %lld x %lld, %lld classes", name, (long long)in_ch,
                      (long long)H, (long long)W, (long long)classes);
    xf_status st = xf_graph_create(ctx, &b->g);
    if (st) return st;
    xf_rng_seed(&b->rng, xf_ctx_seed(ctx));
    size_t nl = strlen(name) + 1;
    b->g->name = xf_malloc(ctx, nl);
    if (!b->g->name) {
        xf_graph_free(b->g);
        return XF_ERR_NOMEM;
    }
    memcpy(b->g->name, name, nl);
    int64_t s[4] = {-1, in_ch, H, W};
    *x = zval(b, "input", 4, s, NULL);
    b->g->input = *x;
    return b->st;
}

static xf_status zend(zb *b, xf_graph **out) {
    xf_free(b->g->ctx, b->tmp);
    if (!b->st) b->st = xf_graph_infer_shapes(b->g);
    if (b->st) {
        xf_graph_free(b->g);
        return b->st;
    }
    *out = b->g;
    return XF_OK;
}

static xf_status small_cnn(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes, int64_t c1,
                           int64_t c2, int gap, xf_graph **out) {
    if (!out) return XF_ERR(ctx, XF_ERR_INVALID, "xf_model_small_cnn: out is NULL");
    *out = NULL;
    if (c1 <= 0) c1 = 32;
    if (c2 <= 0) c2 = 64;
    zb b;
    int x;
    xf_status st = zbegin(ctx, &b, "small_cnn", in_ch, H, W, classes, &x);
    if (st) return st;
    x = zunary(&b, XF_OP_RELU, "relu1", zbn(&b, "bn1", zconv(&b, "conv1", x, in_ch, c1, 3, 1, 1), c1));
    x = zunary(&b, XF_OP_RELU, "relu2", zbn(&b, "bn2", zconv(&b, "conv2", x, c1, c1, 3, 1, 1), c1));
    x = zmaxpool2(&b, "pool1", x);
    x = zunary(&b, XF_OP_RELU, "relu3", zbn(&b, "bn3", zconv(&b, "conv3", x, c1, c2, 3, 1, 1), c2));
    x = zunary(&b, XF_OP_RELU, "relu4", zbn(&b, "bn4", zconv(&b, "conv4", x, c2, c2, 3, 1, 1), c2));
    x = zmaxpool2(&b, "pool2", x);
    zhead(&b, x, gap ? c2 : c2 * (H / 4) * (W / 4), classes, gap);
    return zend(&b, out);
}

xf_status xf_model_small_cnn(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes, int64_t c1,
                             int64_t c2, xf_graph **out) {
    return small_cnn(ctx, in_ch, H, W, classes, c1, c2, 1, out);
}

xf_status xf_model_small_cnn_flat(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes, int64_t c1,
                                  int64_t c2, xf_graph **out) {
    return small_cnn(ctx, in_ch, H, W, classes, c1, c2, 0, out);
}

xf_status xf_model_small_resnet(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes,
                                const int64_t widths[3], int blocks_per_stage, xf_graph **out) {
    if (!out) return XF_ERR(ctx, XF_ERR_INVALID, "xf_model_small_resnet: out is NULL");
    *out = NULL;
    if (!widths || widths[0] < 1 || widths[1] < 1 || widths[2] < 1 || blocks_per_stage < 1 || blocks_per_stage > 64)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_model_small_resnet: bad widths or %d blocks per stage", blocks_per_stage);
    zb b;
    int x;
    xf_status st = zbegin(ctx, &b, "small_resnet", in_ch, H, W, classes, &x);
    if (st) return st;
    x = zunary(&b, XF_OP_RELU, "stem.relu", zbn(&b, "stem.bn", zconv(&b, "stem.conv", x, in_ch, widths[0], 3, 1, 1), widths[0]));
    int64_t cin = widths[0];
    char p[128], q[128];
    for (int s = 0; s < 3; s++) {
        int64_t c = widths[s];
        for (int k = 0; k < blocks_per_stage; k++) {
            int64_t stride = (s > 0 && k == 0) ? 2 : 1;
            snprintf(p, sizeof p, "layer%d.%d", s + 1, k);
            int idn = x;
            snprintf(q, sizeof q, "%s.conv1", p);
            int h = zconv(&b, q, x, cin, c, 3, stride, 1);
            snprintf(q, sizeof q, "%s.bn1", p);
            h = zbn(&b, q, h, c);
            snprintf(q, sizeof q, "%s.relu1", p);
            h = zunary(&b, XF_OP_RELU, q, h);
            snprintf(q, sizeof q, "%s.conv2", p);
            h = zconv(&b, q, h, c, c, 3, 1, 1);
            snprintf(q, sizeof q, "%s.bn2", p);
            h = zbn(&b, q, h, c);
            if (stride != 1 || cin != c) {
                snprintf(q, sizeof q, "%s.downsample.0", p);
                idn = zconv(&b, q, x, cin, c, 1, stride, 0);
                snprintf(q, sizeof q, "%s.downsample.1", p);
                idn = zbn(&b, q, idn, c);
            }
            snprintf(q, sizeof q, "%s.add", p);
            h = zadd(&b, q, h, idn);
            snprintf(q, sizeof q, "%s.relu2", p);
            x = zunary(&b, XF_OP_RELU, q, h);
            cin = c;
        }
    }
    zhead(&b, x, cin, classes, 1);
    return zend(&b, out);
}
