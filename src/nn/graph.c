/* nn graph: the plain-data network description that importers fill and the executor
 * runs. Values (tensors) and nodes (ops, in topological order) live in growable arrays
 * owned by the graph; names are unique. Shape inference runs each op's shape rule with a
 * batch of 1 and writes -1 back into the batch dimension of every activation.
 *
 * Also here: the op table (name + kernels per op), ONNX attribute defaults, parameter
 * counting, freezing by name prefix, and the feature / output taps. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nnInt.h"

static const char *const op_names[XF_OP__COUNT] = {
    [XF_OP_CONV] = "Conv",
    [XF_OP_BATCHNORM] = "BatchNormalization",
    [XF_OP_GROUPNORM] = "GroupNormalization",
    [XF_OP_RELU] = "Relu",
    [XF_OP_CLIP] = "Clip",
    [XF_OP_SIGMOID] = "Sigmoid",
    [XF_OP_MUL] = "Mul",
    [XF_OP_ADD] = "Add",
    [XF_OP_GELU] = "Gelu",
    [XF_OP_MAXPOOL] = "MaxPool",
    [XF_OP_AVGPOOL] = "AveragePool",
    [XF_OP_GLOBALAVGPOOL] = "GlobalAveragePool",
    [XF_OP_GEMM] = "Gemm",
    [XF_OP_MATMUL] = "MatMul",
    [XF_OP_CONCAT] = "Concat",
    [XF_OP_FLATTEN] = "Flatten",
    [XF_OP_RESHAPE] = "Reshape",
    [XF_OP_SOFTMAX] = "Softmax",
    [XF_OP_DROPOUT] = "Dropout",
    [XF_OP_IDENTITY] = "Identity",
    [XF_OP_PAD] = "Pad",
    [XF_OP_TRANSPOSE] = "Transpose",
    [XF_OP_INSTANCENORM] = "InstanceNormalization",
    [XF_OP_TANH] = "Tanh",
    [XF_OP_ELU] = "Elu",
    [XF_OP_CELU] = "Celu",
    [XF_OP_SELU] = "Selu",
    [XF_OP_ERF] = "Erf",
    [XF_OP_PRELU] = "PRelu",
    [XF_OP_LRN] = "LRN",
    [XF_OP_LOGSOFTMAX] = "LogSoftmax",
    [XF_OP_REDUCEMEAN] = "ReduceMean",
    [XF_OP_REDUCESUM] = "ReduceSum",
    [XF_OP_CONVTRANSPOSE] = "ConvTranspose",
};

const char *xf_op_name(xf_op op) {
    if ((int)op < 0 || op >= XF_OP__COUNT) return "?";
    return op_names[op];
}

const nn_opdef *xf_nn_opdef(xf_op op) {
    switch (op) {
    case XF_OP_CONV: return &xf_nn_op_conv;
    case XF_OP_BATCHNORM: return &xf_nn_op_batchnorm;
    case XF_OP_GROUPNORM: return &xf_nn_op_groupnorm;
    case XF_OP_INSTANCENORM: return &xf_nn_op_instancenorm;
    case XF_OP_RELU: return &xf_nn_op_relu;
    case XF_OP_CLIP: return &xf_nn_op_clip;
    case XF_OP_SIGMOID: return &xf_nn_op_sigmoid;
    case XF_OP_GELU: return &xf_nn_op_gelu;
    case XF_OP_MUL: return &xf_nn_op_mul;
    case XF_OP_ADD: return &xf_nn_op_add;
    case XF_OP_MAXPOOL: return &xf_nn_op_maxpool;
    case XF_OP_AVGPOOL: return &xf_nn_op_avgpool;
    case XF_OP_GLOBALAVGPOOL: return &xf_nn_op_gap;
    case XF_OP_GEMM: return &xf_nn_op_gemm;
    case XF_OP_MATMUL: return &xf_nn_op_matmul;
    case XF_OP_CONCAT: return &xf_nn_op_concat;
    case XF_OP_FLATTEN: return &xf_nn_op_flatten;
    case XF_OP_RESHAPE: return &xf_nn_op_reshape;
    case XF_OP_SOFTMAX: return &xf_nn_op_softmax;
    case XF_OP_DROPOUT: return &xf_nn_op_dropout;
    case XF_OP_IDENTITY: return &xf_nn_op_identity;
    case XF_OP_PAD: return &xf_nn_op_pad;
    case XF_OP_TRANSPOSE: return &xf_nn_op_transpose;
    case XF_OP_TANH: case XF_OP_ELU: case XF_OP_CELU: case XF_OP_SELU: case XF_OP_ERF: return &xf_nn_op_smooth;
    case XF_OP_PRELU: return &xf_nn_op_prelu;
    case XF_OP_LRN: return &xf_nn_op_lrn;
    case XF_OP_LOGSOFTMAX: return &xf_nn_op_logsoftmax;
    case XF_OP_REDUCEMEAN: case XF_OP_REDUCESUM: return &xf_nn_op_reduce;
    case XF_OP_CONVTRANSPOSE: return &xf_nn_op_convtranspose;
    default: return NULL;
    }
}

void xf_node_attr_default(xf_op op, xf_node_attr *a) {
    memset(a, 0, sizeof *a);
    a->stride[0] = a->stride[1] = 1;
    a->dilation[0] = a->dilation[1] = 1;
    a->group = 1;
    a->alpha = a->beta = 1.0f;
    a->eps = 1e-5f;
    a->momentum = 0.9f;
    a->num_groups = 1;
    a->min = -3.402823466e38f;
    a->max = 3.402823466e38f;
    a->axis = 1;
    a->ratio = 0.5f;
    if (op == XF_OP_SOFTMAX || op == XF_OP_LOGSOFTMAX) a->axis = -1; /* opset >= 13 */
    if (op == XF_OP_LRN) a->alpha = 1e-4f, a->beta = 0.75f, a->bias = 1.0f, a->size = 1;
    if (op == XF_OP_SELU) a->alpha = 1.67326319217681884765625f, a->beta = 1.05070102214813232421875f;
    a->keepdims = 1;
    if (op == XF_OP_CONCAT) a->axis = 1;
}

xf_status nn_shape_err(xf_ctx_t *ctx, const xf_node *n, const char *file, int line, const char *fmt, ...) {
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return xf_error_set(ctx, XF_ERR_SHAPE, file, line, "node '%s' (%s): %s", n->name ? n->name : "?",
                        xf_op_name(n->op), buf);
}

xf_status xf_graph_create(xf_ctx_t *ctx, xf_graph **out) {
    if (!out) return XF_ERR(ctx, XF_ERR_INVALID, "xf_graph_create: out is NULL");
    *out = NULL;
    xf_graph *g = xf_calloc(ctx, 1, sizeof *g);
    if (!g) return XF_ERR_NOMEM;
    g->ctx = ctx;
    g->input = -1;
    g->opset = 17;
    *out = g;
    return XF_OK;
}

void xf_graph_free(xf_graph *g) {
    if (!g) return;
    xf_ctx_t *ctx = g->ctx;
    for (int i = 0; i < g->n_values; i++) {
        xf_free(ctx, g->values[i].name);
        xf_free(ctx, g->values[i].data);
    }
    for (int i = 0; i < g->n_nodes; i++) xf_free(ctx, g->nodes[i].name);
    xf_free(ctx, g->values);
    xf_free(ctx, g->nodes);
    xf_free(ctx, g->outputs);
    xf_free(ctx, g->name);
    xf_free(ctx, g->name_index);
    xf_free(ctx, g);
}

/* Value names are looked up once per node input during import and construction, so a
 * linear scan made a graph of V values cost O(V^2) to build (an 80,000-node chain: tens
 * of seconds). The index is an open-addressing table (FNV-1a, linear probing, load <= 1/2)
 * kept in step by xf_graph_add_value; values appended behind its back (name_index_n <
 * n_values) are still found by the scan that remains for them. */
static void index_put(int *tab, int cap, const char *name, int id) {
    size_t mask = (size_t)cap - 1, k = (size_t)xf_fnv1a_str(name) & mask;
    while (tab[k] >= 0) k = (k + 1) & mask;
    tab[k] = id;
}

/* Room for n values at load <= 1/2, rebuilt from all values when it grows. */
static xf_status index_reserve(xf_graph *g, int n) {
    if (g->name_index && (int64_t)n * 2 <= g->name_index_cap && g->name_index_n == g->n_values) return XF_OK;
    int64_t cap = 256;
    while (cap < (int64_t)n * 2) cap *= 2;
    if (cap > INT_MAX) return XF_ERR(g->ctx, XF_ERR_INVALID, "graph: too many values (%d)", n);
    int *tab = xf_malloc(g->ctx, (size_t)cap * sizeof *tab);
    if (!tab) return XF_ERR_NOMEM;
    for (int64_t k = 0; k < cap; k++) tab[k] = -1;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].name) index_put(tab, (int)cap, g->values[i].name, i);
    xf_free(g->ctx, g->name_index);
    g->name_index = tab;
    g->name_index_cap = (int)cap;
    g->name_index_n = g->n_values;
    return XF_OK;
}

int xf_graph_find(const xf_graph *g, const char *name) {
    if (!g || !name) return -1;
    int from = 0;
    if (g->name_index && g->name_index_n <= g->n_values) {
        size_t mask = (size_t)g->name_index_cap - 1, k = (size_t)xf_fnv1a_str(name) & mask;
        for (int id; (id = g->name_index[k]) >= 0; k = (k + 1) & mask)
            if (id < g->n_values && g->values[id].name && strcmp(g->values[id].name, name) == 0) return id;
        from = g->name_index_n;
    }
    for (int i = from; i < g->n_values; i++)
        if (g->values[i].name && strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

xf_status xf_graph_add_value(xf_graph *g, const char *name, int ndim, const int64_t *shape, const float *data,
                             int *id) {
    if (!g) return XF_ERR_INVALID;
    xf_ctx_t *ctx = g->ctx;
    if (!name || !*name) return XF_ERR(ctx, XF_ERR_INVALID, "graph: a value needs a name");
    if (ndim < 0 || ndim > XF_NN_MAXDIM || (ndim > 0 && !shape))
        return XF_ERR(ctx, XF_ERR_INVALID, "graph: value '%s' has rank %d (at most %d)", name, ndim, XF_NN_MAXDIM);
    if (xf_graph_find(g, name) >= 0) return XF_ERR(ctx, XF_ERR_INVALID, "graph: duplicate value name '%s'", name);
    xf_status ist = index_reserve(g, g->n_values + 1);
    if (ist) return ist;
    size_t numel = 1;
    if (data) {
        for (int i = 0; i < ndim; i++) {
            if (shape[i] < 0) return XF_ERR(ctx, XF_ERR_INVALID, "graph: parameter '%s' has a negative dimension", name);
            if (!xf_mul_ok(numel, (size_t)shape[i], &numel) || numel > ((size_t)1 << 40))
                return XF_ERR(ctx, XF_ERR_INVALID, "graph: parameter '%s' is too large", name);
        }
    }
    if (g->n_values == g->cap_values) {
        int nc = g->cap_values ? 2 * g->cap_values : 64;
        xf_value *nv = xf_realloc(ctx, g->values, (size_t)nc * sizeof *nv);
        if (!nv) return XF_ERR_NOMEM;
        g->values = nv;
        g->cap_values = nc;
    }
    xf_value v;
    memset(&v, 0, sizeof v);
    v.name = xf_strdup(ctx, name);
    if (!v.name) return XF_ERR_NOMEM;
    v.ndim = ndim;
    for (int i = 0; i < ndim; i++) v.shape[i] = shape[i];
    if (data) {
        v.data = xf_malloc(ctx, numel * sizeof(float));
        if (!v.data) {
            xf_free(ctx, v.name);
            return XF_ERR_NOMEM;
        }
        memcpy(v.data, data, numel * sizeof(float));
        v.is_param = 1;
        v.trainable = 1;
    }
    g->values[g->n_values] = v;
    if (id) *id = g->n_values;
    index_put(g->name_index, g->name_index_cap, v.name, g->n_values);
    g->n_values++;
    g->name_index_n = g->n_values;
    return XF_OK;
}

xf_status xf_graph_add_node(xf_graph *g, xf_op op, const char *name, const int *in, int n_in, const int *out,
                            int n_out, const xf_node_attr *attr) {
    if (!g) return XF_ERR_INVALID;
    xf_ctx_t *ctx = g->ctx;
    const char *nm = name ? name : "";
    if ((int)op < 0 || op >= XF_OP__COUNT) return XF_ERR(ctx, XF_ERR_INVALID, "graph: node '%s' has a bad op %d", nm, (int)op);
    if (n_in < 0 || n_in > XF_NODE_MAXIN || (n_in > 0 && !in))
        return XF_ERR(ctx, XF_ERR_INVALID, "graph: node '%s' has %d inputs (at most %d)", nm, n_in, XF_NODE_MAXIN);
    if (n_out < 1 || n_out > 2 || !out)
        return XF_ERR(ctx, XF_ERR_INVALID, "graph: node '%s' has %d outputs (1 or 2)", nm, n_out);
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1 || in[i] >= g->n_values)
            return XF_ERR(ctx, XF_ERR_INVALID, "graph: node '%s' input %d refers to value %d of %d", nm, i, in[i], g->n_values);
    for (int i = 0; i < n_out; i++) {
        if (out[i] < 0 || out[i] >= g->n_values)
            return XF_ERR(ctx, XF_ERR_INVALID, "graph: node '%s' output %d refers to value %d of %d", nm, i, out[i], g->n_values);
        if (g->values[out[i]].is_param)
            return XF_ERR(ctx, XF_ERR_INVALID, "graph: node '%s' writes parameter '%s'", nm, g->values[out[i]].name);
    }
    if (g->n_nodes == g->cap_nodes) {
        int nc = g->cap_nodes ? 2 * g->cap_nodes : 64;
        xf_node *nn = xf_realloc(ctx, g->nodes, (size_t)nc * sizeof *nn);
        if (!nn) return XF_ERR_NOMEM;
        g->nodes = nn;
        g->cap_nodes = nc;
    }
    xf_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    char auto_name[64];
    if (!name || !*name) {
        snprintf(auto_name, sizeof auto_name, "%s_%d", xf_op_name(op), g->n_nodes);
        nm = auto_name;
    }
    n.name = xf_strdup(ctx, nm);
    if (!n.name) return XF_ERR_NOMEM;
    n.n_in = n_in;
    n.n_out = n_out;
    for (int i = 0; i < XF_NODE_MAXIN; i++) n.in[i] = i < n_in ? in[i] : -1;
    n.out[0] = out[0];
    n.out[1] = n_out > 1 ? out[1] : -1;
    if (attr) n.attr = *attr;
    else xf_node_attr_default(op, &n.attr);
    g->nodes[g->n_nodes++] = n;
    return XF_OK;
}

/* Checks one node's inputs against its op's arity and parameter rules. */
static xf_status check_node_inputs(xf_graph *g, const xf_node *n, const nn_opdef *od, const unsigned char *defined) {
    xf_ctx_t *ctx = g->ctx;
    int nin = n->n_in;
    while (nin > 0 && n->in[nin - 1] < 0) nin--; /* trailing absent optionals */
    if (nin < od->min_in || nin > od->max_in)
        return NN_SHAPE_ERR(ctx, n, "%d inputs (expected %d to %d)", nin, od->min_in, od->max_in);
    for (int i = 0; i < nin; i++) {
        int v = n->in[i];
        if (v < 0) {
            if (i < od->min_in) return NN_SHAPE_ERR(ctx, n, "required input %d is absent", i);
            continue;
        }
        const xf_value *val = &g->values[v];
        if (!val->is_param && !defined[v])
            return NN_SHAPE_ERR(ctx, n, "input '%s' is used before it is computed (nodes must be in topological order)",
                                val->name);
        if (val->is_param && !(od->param_ok & (1u << i)))
            return NN_SHAPE_ERR(ctx, n, "input %d ('%s') must be an activation, not a parameter", i, val->name);
        if (!val->is_param && (od->param_req & (1u << i)))
            return NN_SHAPE_ERR(ctx, n, "input %d ('%s') must be a parameter (initializer)", i, val->name);
    }
    return XF_OK;
}

/* Concrete shapes of every value for batch B; shapes (n_values) filled; act_ok set where
 * the value was computed. Used by infer_shapes (B = 1) and by the executor. */
xf_status xf_nn_graph_shapes(xf_graph *g, int64_t B, nn_t *shapes);
xf_status xf_nn_graph_shapes(xf_graph *g, int64_t B, nn_t *shapes) {
    xf_ctx_t *ctx = g->ctx;
    if (g->input < 0 || g->input >= g->n_values) return XF_ERR(ctx, XF_ERR_INVALID, "graph: no input value set");
    unsigned char *defined = xf_calloc(ctx, (size_t)g->n_values, 1);
    if (!defined) return XF_ERR_NOMEM;
    for (int i = 0; i < g->n_values; i++) {
        const xf_value *v = &g->values[i];
        memset(&shapes[i], 0, sizeof shapes[i]);
        if (v->is_param) {
            shapes[i].nd = v->ndim;
            for (int d = 0; d < v->ndim; d++) shapes[i].s[d] = v->shape[d];
            shapes[i].param = 1;
            shapes[i].d = v->data;
        }
    }
    const xf_value *iv = &g->values[g->input];
    xf_status st = XF_OK;
    if (iv->is_param || iv->ndim < 2) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "graph: input '%s' must be an activation of rank >= 2", iv->name);
        goto done;
    }
    shapes[g->input].nd = iv->ndim;
    shapes[g->input].s[0] = B;
    for (int d = 1; d < iv->ndim; d++) {
        if (iv->shape[d] <= 0) {
            st = XF_ERR(ctx, XF_ERR_SHAPE, "graph: input '%s' dimension %d is %lld (must be fixed and positive)",
                        iv->name, d, (long long)iv->shape[d]);
            goto done;
        }
        shapes[g->input].s[d] = iv->shape[d];
    }
    defined[g->input] = 1;
    /* extra graph inputs: activations no node produces, declared with a -1 batch and
     * fixed other dimensions (bound with xf_net_bind before forward) */
    {
        unsigned char *produced = xf_calloc(ctx, (size_t)g->n_values, 1);
        if (!produced) {
            st = XF_ERR_NOMEM;
            goto done;
        }
        for (int ni = 0; ni < g->n_nodes; ni++)
            for (int o = 0; o < g->nodes[ni].n_out; o++) produced[g->nodes[ni].out[o]] = 1;
        for (int i = 0; i < g->n_values; i++) {
            const xf_value *v = &g->values[i];
            if (v->is_param || produced[i] || i == g->input || v->ndim < 1 || v->shape[0] != -1) continue;
            int ok = 1;
            for (int d = 1; d < v->ndim; d++)
                if (v->shape[d] <= 0) ok = 0;
            if (!ok) continue;
            shapes[i].nd = v->ndim;
            shapes[i].s[0] = B;
            for (int d = 1; d < v->ndim; d++) shapes[i].s[d] = v->shape[d];
            defined[i] = 1;
        }
        xf_free(ctx, produced);
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const xf_node *n = &g->nodes[ni];
        const nn_opdef *od = xf_nn_opdef(n->op);
        if (!od) {
            st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "node '%s': op %d is not supported", n->name, (int)n->op);
            goto done;
        }
        if ((st = check_node_inputs(g, n, od, defined))) goto done;
        for (int o = 0; o < n->n_out; o++)
            if (defined[n->out[o]] || n->out[o] == g->input) {
                st = NN_SHAPE_ERR(ctx, n, "output '%s' is written twice", g->values[n->out[o]].name);
                goto done;
            }
        const nn_t *in[XF_NODE_MAXIN];
        for (int i = 0; i < XF_NODE_MAXIN; i++) in[i] = (i < n->n_in && n->in[i] >= 0) ? &shapes[n->in[i]] : NULL;
        nn_t out[2];
        memset(out, 0, sizeof out);
        if ((st = od->shape(ctx, n, in, out))) goto done;
        for (int o = 0; o < n->n_out; o++) {
            nn_t *t = &out[o == 0 ? 0 : 1];
            if (o == 1 && t->nd == 0) *t = out[0];
            for (int d = 0; d < t->nd; d++)
                if (t->s[d] <= 0) {
                    st = NN_SHAPE_ERR(ctx, n, "output dimension %d is %lld (input too small for the window?)", d,
                                      (long long)t->s[d]);
                    goto done;
                }
            if (t->s[0] != B) {
                st = NN_SHAPE_ERR(ctx, n, "output does not keep the batch in dimension 0");
                goto done;
            }
            shapes[n->out[o]] = *t;
            shapes[n->out[o]].param = 0;
            shapes[n->out[o]].d = NULL;
            defined[n->out[o]] = 1;
        }
    }
done:
    xf_free(ctx, defined);
    return st;
}

xf_status xf_graph_infer_shapes(xf_graph *g) {
    if (!g) return XF_ERR_INVALID;
    xf_ctx_t *ctx = g->ctx;
    nn_t *sh = xf_calloc(ctx, (size_t)(g->n_values ? g->n_values : 1), sizeof *sh);
    if (!sh) return XF_ERR_NOMEM;
    xf_status st = xf_nn_graph_shapes(g, 1, sh);
    if (st == XF_OK) {
        for (int i = 0; i < g->n_values; i++) {
            xf_value *v = &g->values[i];
            if (v->is_param || sh[i].nd == 0) continue;
            v->ndim = sh[i].nd;
            for (int d = 0; d < sh[i].nd; d++) v->shape[d] = sh[i].s[d];
            v->shape[0] = -1;
        }
    }
    xf_free(ctx, sh);
    return st;
}

int64_t xf_graph_param_count(const xf_graph *g, int trainable_only) {
    if (!g) return 0;
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++) {
        const xf_value *v = &g->values[i];
        if (!v->is_param || (trainable_only && !v->trainable)) continue;
        n += nn_shape_numel(v->ndim, v->shape);
    }
    return n;
}

/* BatchNorm running statistics (inputs 3 and 4) are never trainable. */
static int is_running_stat(const xf_graph *g, int vid) {
    for (int i = 0; i < g->n_nodes; i++) {
        const xf_node *n = &g->nodes[i];
        if (n->op == XF_OP_BATCHNORM && n->n_in >= 5 && (n->in[3] == vid || n->in[4] == vid)) return 1;
    }
    return 0;
}

void xf_graph_set_trainable(xf_graph *g, int trainable) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].is_param) g->values[i].trainable = trainable && !is_running_stat(g, i);
}

int xf_graph_set_trainable_prefix(xf_graph *g, const char *prefix, int trainable) {
    if (!g || !prefix) return 0;
    size_t pl = strlen(prefix);
    int c = 0;
    for (int i = 0; i < g->n_values; i++) {
        xf_value *v = &g->values[i];
        if (!v->is_param || strncmp(v->name, prefix, pl) != 0) continue;
        if (trainable && is_running_stat(g, i)) continue;
        v->trainable = trainable;
        c++;
    }
    return c;
}

int xf_graph_output_value(const xf_graph *g) {
    if (!g) return -1;
    if (g->n_outputs > 0 && g->outputs) return g->outputs[0];
    if (g->n_nodes > 0) return g->nodes[g->n_nodes - 1].out[0];
    return -1;
}

int xf_graph_feature_value(const xf_graph *g) {
    if (!g) return -1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const xf_node *n = &g->nodes[i];
        if (n->op == XF_OP_GEMM || n->op == XF_OP_MATMUL) return n->in[0];
    }
    return -1;
}
