/* Network surgery for fine-tuning: a new graph from a pretrained one, with the
 * classifier replaced by a new linear head and, in ADAPTERS mode, residual adapters
 * inserted before every stage.
 *
 * One pass copies the nodes the feature tap needs (backward reachability from the input
 * of the last Gemm/MatMul, so an unused branch or the old classifier costs nothing), in
 * their order, with copies of their values. An adapter is emitted right after the node
 * that produces its input value, and every later reader of that value reads the
 * adapter's output instead (x -> x + a(x), Puigcerver et al. 2021, Sec. 3.1: block i
 * computes F_i(x + a(x))).
 *
 * Adapter (Rebuffi et al. 2017 residual adapters with Houlsby et al. 2019's bottleneck,
 * as Puigcerver et al. use them): GroupNorm(G1, c) -> ReLU -> Conv1x1(c -> c/2) ->
 * GroupNorm(G2, c/2) -> ReLU -> Conv1x1(c/2 -> c), added to x. c/2 makes its weights
 * c^2, a linear c -> c map's count (methods.md 1.3). G = gcd(width, 32), so every width
 * divides. The first conv is He-initialised (normal, std sqrt(2 / fan_in)), the second is
 * zero: an untrained adapter is the identity. GroupNorm scale 1, bias 0; convs have no
 * bias (the GroupNorm after the first and the zero-init of the second make one useless).
 *
 * Head: Gemm(feature (B, D), head.weight (C, D), head.bias (C), transB = 1), with a
 * Flatten(axis 1) first when the feature is not (B, D). Weights and bias drawn as
 * PyTorch's nn.Linear does: U(-1/sqrt(D), 1/sqrt(D)) (kaiming_uniform(a = sqrt 5) on the
 * weight and the fan-in bound on the bias), from xf_rng seeded with the caller's seed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nnInt.h"
#include "xfer/transfer.h"

static const char *const mode_names[] = {"full", "head", "adapters"};

const char *xf_ft_mode_name(xf_ft_mode m) { return (unsigned)m < 3 ? mode_names[m] : "?"; }

int xf_ft_mode_parse(const char *s, xf_ft_mode *out) {
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, mode_names[i])) {
            *out = (xf_ft_mode)i;
            return 0;
        }
    return -1;
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* the index of the last Gemm/MatMul node, -1 if none */
static int classifier_node(const xf_graph *g) {
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (g->nodes[i].op == XF_OP_GEMM || g->nodes[i].op == XF_OP_MATMUL) return i;
    return -1;
}

int xf_ft_adapter_points(const xf_graph *g, int last_node, int *ids, int cap) {
    int n = 0;
    if (!g || !ids) return 0;
    if (last_node < 0 || last_node > g->n_nodes) last_node = g->n_nodes;
    for (int i = 0; i < last_node && n < cap; i++) {
        const xf_node *nd = &g->nodes[i];
        int v = nd->in[0];
        if (v < 0 || v == g->input || g->values[v].is_param) continue;
        const xf_value *x = &g->values[v], *y = &g->values[nd->out[0]];
        if (x->ndim != 4) continue;
        int point = nd->op == XF_OP_GLOBALAVGPOOL;
        if (!point && (nd->op == XF_OP_CONV || nd->op == XF_OP_MAXPOOL || nd->op == XF_OP_AVGPOOL) && y->ndim == 4)
            point = y->shape[2] < x->shape[2] || y->shape[3] < x->shape[3];
        for (int j = 0; j < n && point; j++) point = ids[j] != v;
        if (point) ids[n++] = v;
    }
    return n;
}

/* a name not yet in g: base, else base_2, base_3, ... */
static void fresh_name(const xf_graph *g, const char *base, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", base);
    for (int k = 2; xf_graph_find(g, buf) >= 0; k++) snprintf(buf, cap, "%s_%d", base, k);
}

static xf_status add_param(xf_graph *g, const char *name, int nd, const int64_t *shape, const float *data, int *id) {
    char nm[256];
    fresh_name(g, name, nm, sizeof nm);
    return xf_graph_add_value(g, nm, nd, shape, data, id);
}

static xf_status add_act(xf_graph *g, const char *name, int *id) {
    char nm[256];
    fresh_name(g, name, nm, sizeof nm);
    int64_t sh[1] = {-1};
    return xf_graph_add_value(g, nm, 1, sh, NULL, id); /* shape set by inference */
}

/* Adapter k on value x (c channels); *out = the value holding x + a(x). w1 is scratch of
 * c * (c/2) floats, zeros of at least c floats. */
static xf_status add_adapter(xf_graph *g, int k, int x, int64_t c, xf_rng *r, float *w1, float *w2, float *ones,
                             float *zeros, int *out, int *params /* 6 ids */) {
    int64_t h = c / 2 > 0 ? c / 2 : 1;
    char p[64], nm[128];
    snprintf(p, sizeof p, "adapter%d", k);
    int ids[16];
    xf_status st = XF_OK;
    int64_t s1[1] = {c}, s2[1] = {h}, wa[4] = {h, c, 1, 1}, wb[4] = {c, h, 1, 1};
    double sd = sqrt(2.0 / (double)c);
    for (int64_t i = 0; i < h * c; i++) w1[i] = (float)(sd * xf_rng_normal(r));
    memset(w2, 0, (size_t)(h * c) * sizeof *w2);
#define P(i, suffix, nd, shape, data)                                                                                     \
    do {                                                                                                              \
        snprintf(nm, sizeof nm, "%s.%s", p, suffix);                                                                  \
        if ((st = add_param(g, nm, nd, shape, data, &ids[i]))) return st;                                             \
    } while (0)
#define A(i, suffix)                                                                                                  \
    do {                                                                                                              \
        snprintf(nm, sizeof nm, "%s.%s", p, suffix);                                                                  \
        if ((st = add_act(g, nm, &ids[i]))) return st;                                                                \
    } while (0)
    P(0, "gn1.scale", 1, s1, ones);
    P(1, "gn1.bias", 1, s1, zeros);
    P(2, "conv1.weight", 4, wa, w1);
    P(3, "gn2.scale", 1, s2, ones);
    P(4, "gn2.bias", 1, s2, zeros);
    P(5, "conv2.weight", 4, wb, w2);
    A(6, "gn1");
    A(7, "relu1");
    A(8, "conv1");
    A(9, "gn2");
    A(10, "relu2");
    A(11, "conv2");
    A(12, "out");
#undef P
#undef A
    xf_node_attr a;
    xf_node_attr_default(XF_OP_GROUPNORM, &a);
    a.num_groups = gcd64(c, 32);
    int in[3];
    snprintf(nm, sizeof nm, "%s.gn1", p);
    in[0] = x, in[1] = ids[0], in[2] = ids[1];
    if ((st = xf_graph_add_node(g, XF_OP_GROUPNORM, nm, in, 3, &ids[6], 1, &a))) return st;
    snprintf(nm, sizeof nm, "%s.relu1", p);
    if ((st = xf_graph_add_node(g, XF_OP_RELU, nm, &ids[6], 1, &ids[7], 1, NULL))) return st;
    xf_node_attr cv;
    xf_node_attr_default(XF_OP_CONV, &cv);
    cv.kernel[0] = cv.kernel[1] = 1;
    snprintf(nm, sizeof nm, "%s.conv1", p);
    in[0] = ids[7], in[1] = ids[2];
    if ((st = xf_graph_add_node(g, XF_OP_CONV, nm, in, 2, &ids[8], 1, &cv))) return st;
    a.num_groups = gcd64(h, 32);
    snprintf(nm, sizeof nm, "%s.gn2", p);
    in[0] = ids[8], in[1] = ids[3], in[2] = ids[4];
    if ((st = xf_graph_add_node(g, XF_OP_GROUPNORM, nm, in, 3, &ids[9], 1, &a))) return st;
    snprintf(nm, sizeof nm, "%s.relu2", p);
    if ((st = xf_graph_add_node(g, XF_OP_RELU, nm, &ids[9], 1, &ids[10], 1, NULL))) return st;
    snprintf(nm, sizeof nm, "%s.conv2", p);
    in[0] = ids[10], in[1] = ids[5];
    if ((st = xf_graph_add_node(g, XF_OP_CONV, nm, in, 2, &ids[11], 1, &cv))) return st;
    snprintf(nm, sizeof nm, "%s.add", p);
    in[0] = x, in[1] = ids[11];
    if ((st = xf_graph_add_node(g, XF_OP_ADD, nm, in, 2, &ids[12], 1, NULL))) return st;
    *out = ids[12];
    for (int i = 0; i < 6; i++) params[i] = ids[i];
    return XF_OK;
}

/* Copies value v of src into dst (same name, data, flags) and returns its id in dst. */
static xf_status copy_value(const xf_graph *src, int v, xf_graph *dst, int *id) {
    const xf_value *sv = &src->values[v];
    xf_status st = xf_graph_add_value(dst, sv->name, sv->ndim, sv->shape, sv->is_param ? sv->data : NULL, id);
    if (st) return st;
    dst->values[*id].trainable = sv->trainable;
    return XF_OK;
}

xf_status xf_ft_graph_create(xf_ctx_t *ctx, const xf_graph *src, int64_t classes, xf_ft_mode mode, uint64_t seed,
                             xf_graph **out, xf_ft_head *head) {
    if (!out) return XF_ERR(ctx, XF_ERR_INVALID, "xf_ft_graph_create: out is NULL");
    *out = NULL;
    if (!src || src->input < 0) return XF_ERR(ctx, XF_ERR_INVALID, "xf_ft_graph_create: no graph or no input");
    if (classes < 2) return XF_ERR(ctx, XF_ERR_INVALID, "fine-tuning needs at least 2 classes, got %lld", (long long)classes);
    if ((unsigned)mode > XF_FT_ADAPTERS) return XF_ERR(ctx, XF_ERR_INVALID, "xf_ft_graph_create: bad mode %d", (int)mode);
    int k = classifier_node(src);
    if (k < 0) return XF_ERR(ctx, XF_ERR_NOTFOUND, "no Gemm/MatMul classifier to replace");
    int fv = src->nodes[k].in[0];
    if (fv < 0 || src->values[fv].is_param)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "classifier node '%s' multiplies a parameter by the features: not a head",
                      src->nodes[k].name);
    int nv = src->n_values;
    xf_status st = XF_OK;
    xf_graph *g = NULL;
    unsigned char *need = xf_calloc(ctx, (size_t)nv + 1, 1), *keep = xf_calloc(ctx, (size_t)src->n_nodes + 1, 1);
    unsigned char *adapt = xf_calloc(ctx, (size_t)nv + 1, 1);
    int *map = xf_malloc(ctx, ((size_t)nv + 1) * sizeof *map), *reader = xf_malloc(ctx, ((size_t)nv + 1) * sizeof *reader);
    int *pts = xf_malloc(ctx, ((size_t)src->n_nodes + 1) * sizeof *pts);
    int *aparams = xf_malloc(ctx, ((size_t)src->n_nodes + 1) * 6 * sizeof *aparams);
    float *w1 = NULL, *w2 = NULL, *ones = NULL, *zeros = NULL, *hw = NULL, *hb = NULL;
    if (!need || !keep || !adapt || !map || !reader || !pts || !aparams) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    /* what the feature tap needs */
    need[fv] = 1;
    for (int i = k - 1; i >= 0; i--) {
        const xf_node *n = &src->nodes[i];
        int used = 0;
        for (int j = 0; j < n->n_out; j++) used |= n->out[j] >= 0 && need[n->out[j]];
        if (!used) continue;
        keep[i] = 1;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) need[n->in[j]] = 1;
    }
    if (!need[src->input]) {
        st = XF_ERR(ctx, XF_ERR_INVALID, "the classifier's input '%s' does not depend on the image input",
                    src->values[fv].name);
        goto done;
    }
    int64_t cmax = 1;
    int na = 0;
    if (mode == XF_FT_ADAPTERS) {
        na = xf_ft_adapter_points(src, k, pts, src->n_nodes);
        for (int i = 0; i < na; i++) {
            const xf_value *x = &src->values[pts[i]];
            if (x->ndim != 4 || x->shape[1] < 1) {
                st = XF_ERR(ctx, XF_ERR_SHAPE, "adapter point '%s' has no known channel count", x->name);
                goto done;
            }
            if (!need[pts[i]]) continue;
            adapt[pts[i]] = 1;
            cmax = x->shape[1] > cmax ? x->shape[1] : cmax;
        }
        if (na == 0) {
            st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "no stage boundary (strided conv or pool, global pooling) to put an adapter");
            goto done;
        }
        w1 = xf_malloc(ctx, (size_t)(cmax * cmax) * sizeof *w1);
        w2 = xf_malloc(ctx, (size_t)(cmax * cmax) * sizeof *w2);
        ones = xf_malloc(ctx, (size_t)cmax * sizeof *ones);
        zeros = xf_calloc(ctx, (size_t)cmax, sizeof *zeros);
        if (!w1 || !w2 || !ones || !zeros) {
            st = XF_ERR_NOMEM;
            goto done;
        }
        for (int64_t i = 0; i < cmax; i++) ones[i] = 1.0f;
    }
    /* two streams: the head is the same with or without adapters */
    xf_rng r, rh;
    xf_rng_seed(&r, seed ^ 0xada9735ULL);
    xf_rng_seed(&rh, seed);
    if ((st = xf_graph_create(ctx, &g))) goto done;
    g->opset = src->opset;
    if (src->name) {
        size_t l = strlen(src->name);
        if (!(g->name = xf_malloc(ctx, l + 1))) {
            st = XF_ERR_NOMEM;
            goto done;
        }
        memcpy(g->name, src->name, l + 1);
    }
    for (int v = 0; v < nv; v++) map[v] = reader[v] = -1;
    if ((st = copy_value(src, src->input, g, &map[src->input]))) goto done;
    reader[src->input] = map[src->input];
    g->input = map[src->input];
    int nad = 0;
    for (int i = 0; i < k; i++) {
        if (!keep[i]) continue;
        const xf_node *n = &src->nodes[i];
        int in[XF_NODE_MAXIN], o[2];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0) {
                in[j] = -1;
                continue;
            }
            if (map[v] < 0) {
                /* a parameter, or an extra graph input (copied as it is) */
                if ((st = copy_value(src, v, g, &map[v]))) goto done;
                reader[v] = map[v];
            }
            in[j] = reader[v];
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v < 0) {
                o[j] = -1;
                continue;
            }
            if (map[v] >= 0) {
                st = XF_ERR(ctx, XF_ERR_INVALID, "value '%s' is written twice", src->values[v].name);
                goto done;
            }
            if ((st = copy_value(src, v, g, &map[v]))) goto done;
            reader[v] = map[v];
            o[j] = map[v];
        }
        if ((st = xf_graph_add_node(g, n->op, n->name, in, n->n_in, o, n->n_out, &n->attr))) goto done;
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v < 0 || !adapt[v]) continue;
            if ((st = add_adapter(g, nad, map[v], src->values[v].shape[1], &r, w1, w2, ones, zeros, &reader[v], aparams + 6 * nad)))
                goto done;
            nad++;
        }
    }
    /* the image itself is never adapted; fv must exist now */
    if (reader[fv] < 0) {
        st = XF_ERR(ctx, XF_ERR_INTERNAL, "feature '%s' was not copied", src->values[fv].name);
        goto done;
    }
    g->n_outputs = 0;
    if ((st = xf_graph_infer_shapes(g))) goto done;
    int feat = reader[fv];
    const xf_value *fvv = &g->values[feat];
    int64_t D = 1;
    for (int d = 1; d < fvv->ndim; d++) D *= fvv->shape[d];
    if (fvv->ndim < 2 || D < 1) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "feature '%s' has rank %d: no (B, D) features for a head", fvv->name, fvv->ndim);
        goto done;
    }
    if (fvv->ndim != 2) {
        int fl;
        if ((st = add_act(g, "head.flatten", &fl))) goto done;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_FLATTEN, &a);
        a.axis = 1;
        if ((st = xf_graph_add_node(g, XF_OP_FLATTEN, "head.flatten", &feat, 1, &fl, 1, &a))) goto done;
        feat = fl;
    }
    hw = xf_malloc(ctx, (size_t)(classes * D) * sizeof *hw);
    hb = xf_malloc(ctx, (size_t)classes * sizeof *hb);
    if (!hw || !hb) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    double bound = 1.0 / sqrt((double)D);
    for (int64_t i = 0; i < classes * D; i++) hw[i] = (float)(bound * (2.0 * xf_rng_uniform(&rh) - 1.0));
    for (int64_t i = 0; i < classes; i++) hb[i] = (float)(bound * (2.0 * xf_rng_uniform(&rh) - 1.0));
    int ws[2] = {0, 0}, in3[3], lo;
    int64_t wsh[2] = {classes, D}, bsh[1] = {classes};
    if ((st = add_param(g, "head.weight", 2, wsh, hw, &ws[0])) || (st = add_param(g, "head.bias", 1, bsh, hb, &ws[1])) ||
        (st = add_act(g, "logits", &lo)))
        goto done;
    xf_node_attr ga;
    xf_node_attr_default(XF_OP_GEMM, &ga);
    ga.transB = 1;
    in3[0] = feat, in3[1] = ws[0], in3[2] = ws[1];
    if ((st = xf_graph_add_node(g, XF_OP_GEMM, "head", in3, 3, &lo, 1, &ga))) goto done;
    if (!(g->outputs = xf_malloc(ctx, sizeof *g->outputs))) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    g->outputs[0] = lo;
    g->n_outputs = 1;
    if ((st = xf_graph_infer_shapes(g))) goto done;
    /* what trains */
    xf_graph_set_trainable(g, mode == XF_FT_FULL);
    if (mode != XF_FT_FULL) {
        g->values[ws[0]].trainable = g->values[ws[1]].trainable = 1;
        for (int i = 0; i < 6 * nad; i++) g->values[aparams[i]].trainable = 1;
    }
    if (head) {
        head->feature = feat;
        head->weight = ws[0];
        head->bias = ws[1];
        head->logits = lo;
        head->D = D;
        head->C = classes;
        head->adapters = nad;
    }
    *out = g;
    g = NULL;
done:
    xf_graph_free(g);
    xf_free(ctx, need);
    xf_free(ctx, keep);
    xf_free(ctx, adapt);
    xf_free(ctx, map);
    xf_free(ctx, reader);
    xf_free(ctx, pts);
    xf_free(ctx, aparams);
    xf_free(ctx, w1);
    xf_free(ctx, w2);
    xf_free(ctx, ones);
    xf_free(ctx, zeros);
    xf_free(ctx, hw);
    xf_free(ctx, hb);
    return st;
}
