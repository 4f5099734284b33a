/* xf_graph -> ONNX exporter (opset 13, IR version 7: what onnx 1.12's checker, PyTorch
 * 1.13 and ONNX Runtime load).
 *
 * Design: the model is assembled from protobuf-c structs whose storage comes from one
 * bump list (every allocation recorded, freed at the end), packed into one buffer and
 * written to a temporary file in the target directory that is renamed into place.
 * Parameters become float32 initializers whose raw_data points straight at the graph's
 * buffers (no copy; ONNX raw_data is little-endian, which is the host order on the
 * platforms xfer builds for: checked at compile time below). Op attributes that opset 13
 * takes as inputs (Reshape shape, Clip min/max, Pad pads/value, Dropout ratio) become
 * small extra initializers with derived names. XF_OP_GROUPNORM has no opset-13 op: it is
 * written the way PyTorch writes nn.GroupNorm (Reshape -> InstanceNormalization ->
 * Reshape(Shape(x)) -> Mul -> Add), which the importer folds back into one GroupNorm.
 * GELU is written as x * 0.5 * (1 + Erf(x / sqrt(2))) (or the tanh form). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xfer/files.h"
#include "onnxInt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xf_onnx_export writes raw_data in host order: little-endian hosts only"
#endif

#define EXPORT_OPSET 13
#define EXPORT_IR 7

typedef struct ex {
    xf_ctx_t *ctx;
    const xf_graph *g;
    void **allocs;
    size_t n_allocs, cap_allocs;
    xf_status st;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    int counter;
} ex;

static void *ex_alloc(ex *e, size_t size) {
    if (e->st) return NULL;
    if (e->n_allocs == e->cap_allocs) {
        size_t cap = e->cap_allocs ? e->cap_allocs * 2 : 256;
        void **a = xf_realloc(e->ctx, e->allocs, cap * sizeof *a);
        if (!a) { e->st = XF_ERR_NOMEM; return NULL; }
        e->allocs = a;
        e->cap_allocs = cap;
    }
    void *p = xf_calloc(e->ctx, 1, size ? size : 1);
    if (!p) { e->st = XF_ERR_NOMEM; return NULL; }
    e->allocs[e->n_allocs++] = p;
    return p;
}

static char *ex_str(ex *e, const char *s) {
    size_t l = strlen(s);
    char *p = ex_alloc(e, l + 1);
    if (p) memcpy(p, s, l + 1);
    return p;
}

static int push(ex *e, void ***arr, size_t *n, size_t *cap, void *item) {
    if (e->st || !item) return -1;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void **a = xf_realloc(e->ctx, *arr, c * sizeof *a);
        if (!a) { e->st = XF_ERR_NOMEM; return -1; }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = item;
    return 0;
}

/* A name no graph value has: "<base>/<what>_xfN". */
static char *fresh(ex *e, const char *base, const char *what) {
    char buf[600];
    do {
        snprintf(buf, sizeof buf, "%.500s/%s_xf%d", base, what, e->counter++);
    } while (xf_graph_find(e->g, buf) >= 0);
    return ex_str(e, buf);
}

/* ---- initializers ---- */

static Onnx__TensorProto *tensor(ex *e, const char *name, int dtype, int ndim, const int64_t *dims) {
    Onnx__TensorProto *t = ex_alloc(e, sizeof *t);
    if (!t) return NULL;
    onnx__tensor_proto__init(t);
    t->name = ex_str(e, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)ndim;
    t->dims = ex_alloc(e, (size_t)(ndim ? ndim : 1) * sizeof *t->dims);
    if (t->dims && ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    push(e, (void ***)&e->inits, &e->n_inits, &e->cap_inits, t);
    return t;
}

static char *init_i64(ex *e, const char *base, const char *what, int n, const int64_t *vals) {
    char *name = fresh(e, base, what);
    int64_t d = n;
    Onnx__TensorProto *t = tensor(e, name ? name : "", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &d);
    if (!t) return NULL;
    t->has_raw_data = 1;
    t->raw_data.len = (size_t)n * 8;
    t->raw_data.data = ex_alloc(e, t->raw_data.len);
    if (t->raw_data.data) memcpy(t->raw_data.data, vals, t->raw_data.len);
    return name;
}

/* A float initializer; ndim 0 = scalar. data is copied. */
static char *init_f32(ex *e, const char *base, const char *what, int ndim, const int64_t *dims, const float *vals) {
    char *name = fresh(e, base, what);
    Onnx__TensorProto *t = tensor(e, name ? name : "", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims);
    if (!t) return NULL;
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) n *= dims[k];
    t->has_raw_data = 1;
    t->raw_data.len = (size_t)n * 4;
    t->raw_data.data = ex_alloc(e, t->raw_data.len);
    if (t->raw_data.data) memcpy(t->raw_data.data, vals, t->raw_data.len);
    return name;
}

/* ---- nodes ---- */

static Onnx__NodeProto *node(ex *e, const char *op, const char *name, int nin, int nout) {
    Onnx__NodeProto *n = ex_alloc(e, sizeof *n);
    if (!n) return NULL;
    onnx__node_proto__init(n);
    n->op_type = ex_str(e, op);
    n->name = name ? ex_str(e, name) : NULL;
    n->n_input = (size_t)nin;
    n->input = ex_alloc(e, (size_t)(nin ? nin : 1) * sizeof *n->input);
    n->n_output = (size_t)nout;
    n->output = ex_alloc(e, (size_t)(nout ? nout : 1) * sizeof *n->output);
    n->attribute = ex_alloc(e, 8 * sizeof *n->attribute);
    if (n->input)
        for (int k = 0; k < nin; k++) n->input[k] = "";
    push(e, (void ***)&e->nodes, &e->n_nodes, &e->cap_nodes, n);
    return n;
}

static Onnx__AttributeProto *add_attr(ex *e, Onnx__NodeProto *n, const char *name, int type) {
    if (!n || !n->attribute || n->n_attribute >= 8) return NULL;
    Onnx__AttributeProto *a = ex_alloc(e, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = ex_str(e, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}
static void attr_int(ex *e, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = add_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}
static void attr_float(ex *e, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = add_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
}
static void attr_ints(ex *e, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v) {
    Onnx__AttributeProto *a = add_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a) return;
    a->n_ints = (size_t)cnt;
    a->ints = ex_alloc(e, (size_t)(cnt ? cnt : 1) * sizeof *a->ints);
    if (a->ints) memcpy(a->ints, v, (size_t)cnt * sizeof *v);
}
static void attr_str(ex *e, Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = add_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (!a) return;
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)ex_str(e, v);
}

static const char *vname(ex *e, int id) { return id >= 0 ? e->g->values[id].name : ""; }

/* A one-input, one-output node. */
static Onnx__NodeProto *simple(ex *e, const char *op, const char *name, const char *in, const char *out) {
    Onnx__NodeProto *n = node(e, op, name, 1, 1);
    if (n && n->input && n->output) {
        n->input[0] = (char *)in;
        n->output[0] = (char *)out;
    }
    return n;
}
static Onnx__NodeProto *binary(ex *e, const char *op, const char *name, const char *a, const char *b, const char *out) {
    Onnx__NodeProto *n = node(e, op, name, 2, 1);
    if (n && n->input && n->output) {
        n->input[0] = (char *)a;
        n->input[1] = (char *)b;
        n->output[0] = (char *)out;
    }
    return n;
}

static void window_attrs(ex *e, Onnx__NodeProto *n, const xf_node_attr *a, int dil) {
    attr_ints(e, n, "kernel_shape", 2, a->kernel);
    attr_ints(e, n, "strides", 2, a->stride);
    attr_ints(e, n, "pads", 4, a->pads); /* xf order top, left, bottom, right = ONNX begins then ends */
    if (dil) attr_ints(e, n, "dilations", 2, a->dilation);
}

static xf_status export_node(ex *e, int idx) {
    const xf_graph *g = e->g;
    const xf_node *nd = &g->nodes[idx];
    const xf_node_attr *a = &nd->attr;
    char nbuf[64];
    const char *name = nd->name;
    if (!name || !name[0]) {
        snprintf(nbuf, sizeof nbuf, "node%d", idx);
        name = nbuf;
    }
    const char *x = vname(e, nd->in[0]), *y = vname(e, nd->out[0]);
    Onnx__NodeProto *n = NULL;
    switch (nd->op) {
    case XF_OP_CONV:
        n = node(e, "Conv", name, nd->n_in >= 3 && nd->in[2] >= 0 ? 3 : 2, 1);
        if (!n || e->st) break;
        for (int k = 0; k < (int)n->n_input; k++) n->input[k] = (char *)vname(e, nd->in[k]);
        n->output[0] = (char *)y;
        window_attrs(e, n, a, 1);
        attr_int(e, n, "group", a->group);
        break;
    case XF_OP_BATCHNORM:
        n = node(e, "BatchNormalization", name, 5, 1);
        if (!n || e->st) break;
        for (int k = 0; k < 5; k++) n->input[k] = (char *)vname(e, nd->in[k]);
        n->output[0] = (char *)y;
        attr_float(e, n, "epsilon", a->eps);
        attr_float(e, n, "momentum", a->momentum);
        break;
    case XF_OP_INSTANCENORM:
        n = node(e, "InstanceNormalization", name, 3, 1);
        if (!n || e->st) break;
        for (int k = 0; k < 3; k++) n->input[k] = (char *)vname(e, nd->in[k]);
        n->output[0] = (char *)y;
        attr_float(e, n, "epsilon", a->eps);
        break;
    case XF_OP_GROUPNORM: {
        const xf_value *xv = &g->values[nd->in[0]];
        int64_t C = xv->ndim >= 2 ? xv->shape[1] : -1, G = a->num_groups;
        if (xv->ndim != 4 || C <= 0 || G <= 0 || C % G)
            return XF_ERR(e->ctx, XF_ERR_SHAPE, "node '%s': GroupNorm needs NCHW input with channels divisible by groups", name);
        /* scale/bias (C) -> (C,1,1) so they broadcast over H, W */
        int64_t c11[3] = {C, 1, 1};
        char *sc = fresh(e, name, "scale"), *bi = fresh(e, name, "bias");
        char *s1 = init_i64(e, name, "shape_c11", 3, c11);
        binary(e, "Reshape", fresh(e, name, "reshape_scale"), vname(e, nd->in[1]), s1, sc);
        binary(e, "Reshape", fresh(e, name, "reshape_bias"), vname(e, nd->in[2]), s1, bi);
        int64_t tg[3] = {0, G, -1};
        char *t = init_i64(e, name, "shape_groups", 3, tg), *r1 = fresh(e, name, "grouped");
        binary(e, "Reshape", fresh(e, name, "reshape_in"), x, t, r1);
        float *ones = xf_malloc(e->ctx, (size_t)G * 2 * sizeof *ones);
        if (!ones) return XF_ERR_NOMEM;
        for (int64_t k = 0; k < G; k++) ones[k] = 1.0f, ones[G + k] = 0.0f;
        char *on = init_f32(e, name, "ones", 1, &G, ones), *ze = init_f32(e, name, "zeros", 1, &G, ones + G);
        xf_free(e->ctx, ones);
        char *nrm = fresh(e, name, "normalized"), *shp = fresh(e, name, "shape"), *r2 = fresh(e, name, "ungrouped"),
             *mu = fresh(e, name, "scaled");
        Onnx__NodeProto *in_ = node(e, "InstanceNormalization", fresh(e, name, "instancenorm"), 3, 1);
        if (!in_ || e->st) break;
        in_->input[0] = r1;
        in_->input[1] = on;
        in_->input[2] = ze;
        in_->output[0] = nrm;
        attr_float(e, in_, "epsilon", a->eps);
        simple(e, "Shape", fresh(e, name, "shape_of_input"), x, shp);
        binary(e, "Reshape", fresh(e, name, "reshape_out"), nrm, shp, r2);
        binary(e, "Mul", fresh(e, name, "mul"), r2, sc, mu);
        n = binary(e, "Add", name, mu, bi, y);
        break;
    }
    case XF_OP_RELU: n = simple(e, "Relu", name, x, y); break;
    case XF_OP_SIGMOID: n = simple(e, "Sigmoid", name, x, y); break;
    case XF_OP_CLIP: {
        n = node(e, "Clip", name, 3, 1);
        if (!n || e->st) break;
        n->input[0] = (char *)x;
        n->output[0] = (char *)y;
        if (a->min > -FLT_MAX) n->input[1] = init_f32(e, name, "min", 0, NULL, &a->min);
        if (a->max < FLT_MAX) n->input[2] = init_f32(e, name, "max", 0, NULL, &a->max);
        break;
    }
    case XF_OP_MUL: n = binary(e, "Mul", name, x, vname(e, nd->in[1]), y); break;
    case XF_OP_ADD: n = binary(e, "Add", name, x, vname(e, nd->in[1]), y); break;
    case XF_OP_GELU: {
        /* erf form: y = x * 0.5 * (1 + erf(x / sqrt 2)); tanh form:
         * y = x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) */
        float half = 0.5f, one = 1.0f;
        char *t1 = fresh(e, name, "t1"), *t2 = fresh(e, name, "t2"), *t3 = fresh(e, name, "t3"), *t4 = fresh(e, name, "t4");
        if (!a->gelu_tanh) {
            float r2 = 0.70710678118654752f;
            binary(e, "Mul", fresh(e, name, "scale"), x, init_f32(e, name, "rsqrt2", 0, NULL, &r2), t1);
            simple(e, "Erf", fresh(e, name, "erf"), t1, t2);
        } else {
            float c = 0.044715f, k = 0.79788456080286536f;
            char *c1 = fresh(e, name, "sq"), *c2 = fresh(e, name, "cube"), *c3 = fresh(e, name, "cube_c"), *c4 = fresh(e, name, "inner");
            binary(e, "Mul", fresh(e, name, "mul_sq"), x, x, c1);
            binary(e, "Mul", fresh(e, name, "mul_cube"), c1, x, c2);
            binary(e, "Mul", fresh(e, name, "mul_c"), c2, init_f32(e, name, "c", 0, NULL, &c), c3);
            binary(e, "Add", fresh(e, name, "add_x"), x, c3, c4);
            binary(e, "Mul", fresh(e, name, "mul_k"), c4, init_f32(e, name, "k", 0, NULL, &k), t1);
            simple(e, "Tanh", fresh(e, name, "tanh"), t1, t2);
        }
        binary(e, "Add", fresh(e, name, "add1"), t2, init_f32(e, name, "one", 0, NULL, &one), t3);
        binary(e, "Mul", fresh(e, name, "mul_half"), t3, init_f32(e, name, "half", 0, NULL, &half), t4);
        n = binary(e, "Mul", name, x, t4, y);
        break;
    }
    case XF_OP_MAXPOOL:
        n = simple(e, "MaxPool", name, x, y);
        window_attrs(e, n, a, 1);
        attr_int(e, n, "ceil_mode", a->ceil_mode);
        break;
    case XF_OP_AVGPOOL:
        n = simple(e, "AveragePool", name, x, y);
        window_attrs(e, n, a, 0);
        attr_int(e, n, "ceil_mode", a->ceil_mode);
        attr_int(e, n, "count_include_pad", a->count_include_pad);
        break;
    case XF_OP_GLOBALAVGPOOL: n = simple(e, "GlobalAveragePool", name, x, y); break;
    case XF_OP_GEMM:
        n = node(e, "Gemm", name, nd->n_in >= 3 && nd->in[2] >= 0 ? 3 : 2, 1);
        if (!n || e->st) break;
        for (int k = 0; k < (int)n->n_input; k++) n->input[k] = (char *)vname(e, nd->in[k]);
        n->output[0] = (char *)y;
        attr_float(e, n, "alpha", a->alpha);
        attr_float(e, n, "beta", a->beta);
        attr_int(e, n, "transA", a->transA);
        attr_int(e, n, "transB", a->transB);
        break;
    case XF_OP_MATMUL: n = binary(e, "MatMul", name, x, vname(e, nd->in[1]), y); break;
    case XF_OP_CONCAT:
        n = node(e, "Concat", name, nd->n_in, 1);
        if (!n || e->st) break;
        for (int k = 0; k < nd->n_in; k++) n->input[k] = (char *)vname(e, nd->in[k]);
        n->output[0] = (char *)y;
        attr_int(e, n, "axis", a->axis);
        break;
    case XF_OP_FLATTEN:
        n = simple(e, "Flatten", name, x, y);
        attr_int(e, n, "axis", a->axis);
        break;
    case XF_OP_RESHAPE: {
        if (a->shape_n < 1 || a->shape_n > XF_NN_MAXDIM)
            return XF_ERR(e->ctx, XF_ERR_INVALID, "node '%s': reshape with %d target dims", name, a->shape_n);
        n = binary(e, "Reshape", name, x, init_i64(e, name, "shape", a->shape_n, a->shape), y);
        break;
    }
    case XF_OP_SOFTMAX:
        n = simple(e, "Softmax", name, x, y);
        attr_int(e, n, "axis", a->axis);
        break;
    case XF_OP_DROPOUT:
        n = binary(e, "Dropout", name, x, init_f32(e, name, "ratio", 0, NULL, &a->ratio), y);
        break;
    case XF_OP_IDENTITY: n = simple(e, "Identity", name, x, y); break;
    case XF_OP_PAD: {
        if (a->pad_n < 2 || a->pad_n > 2 * XF_NN_MAXDIM || a->pad_n % 2)
            return XF_ERR(e->ctx, XF_ERR_INVALID, "node '%s': %d pad amounts", name, a->pad_n);
        n = node(e, "Pad", name, a->pad_mode == 0 ? 3 : 2, 1);
        if (!n || e->st) break;
        n->input[0] = (char *)x;
        n->input[1] = init_i64(e, name, "pads", a->pad_n, a->pad_amounts);
        if (a->pad_mode == 0) n->input[2] = init_f32(e, name, "value", 0, NULL, &a->pad_value);
        n->output[0] = (char *)y;
        attr_str(e, n, "mode", a->pad_mode == 1 ? "reflect" : a->pad_mode == 2 ? "edge" : "constant");
        break;
    }
    case XF_OP_TRANSPOSE:
        n = simple(e, "Transpose", name, x, y);
        attr_ints(e, n, "perm", a->perm_n, a->perm);
        break;
    case XF_OP_TANH: n = simple(e, "Tanh", name, x, y); break;
    case XF_OP_ERF: n = simple(e, "Erf", name, x, y); break;
    case XF_OP_ELU:
    case XF_OP_CELU:
        n = simple(e, nd->op == XF_OP_ELU ? "Elu" : "Celu", name, x, y);
        attr_float(e, n, "alpha", a->alpha);
        break;
    case XF_OP_SELU:
        n = simple(e, "Selu", name, x, y);
        attr_float(e, n, "alpha", a->alpha);
        attr_float(e, n, "gamma", a->beta);
        break;
    case XF_OP_PRELU: {
        /* the engine's slope is per channel (dimension 1); opset 13 broadcasts numpy-style,
         * so it is written as (C, 1, ..., 1) */
        const xf_value *sv = &g->values[nd->in[1]];
        int xr = g->values[nd->in[0]].ndim, sr = 1;
        int64_t sd[XF_NN_MAXDIM] = {0}, C = sv->ndim ? sv->shape[0] : 1;
        for (int k = 1; k < sv->ndim; k++) C *= sv->shape[k];
        sd[0] = C;
        if (C > 1)
            for (; sr < xr - 1; sr++) sd[sr] = 1;
        int as_is = C == 1 || (sv->ndim == sr && sv->shape[0] == C); /* imported slopes already are */
        n = binary(e, "PRelu", name, x, as_is ? vname(e, nd->in[1]) : init_f32(e, name, "slope", sr, sd, sv->data), y);
        break;
    }
    case XF_OP_LRN:
        n = simple(e, "LRN", name, x, y);
        attr_int(e, n, "size", a->size);
        attr_float(e, n, "alpha", a->alpha);
        attr_float(e, n, "beta", a->beta);
        attr_float(e, n, "bias", a->bias);
        break;
    case XF_OP_LOGSOFTMAX:
        n = simple(e, "LogSoftmax", name, x, y);
        attr_int(e, n, "axis", a->axis);
        break;
    case XF_OP_REDUCEMEAN:
    case XF_OP_REDUCESUM: {
        int64_t ax[XF_NN_MAXDIM];
        int na = 0;
        for (int k = 0; k < XF_NN_MAXDIM; k++)
            if (a->axes_mask >> k & 1u) ax[na++] = k;
        if (nd->op == XF_OP_REDUCESUM) n = binary(e, "ReduceSum", name, x, init_i64(e, name, "axes", na, ax), y);
        else {
            n = simple(e, "ReduceMean", name, x, y);
            attr_ints(e, n, "axes", na, ax);
        }
        attr_int(e, n, "keepdims", a->keepdims);
        break;
    }
    case XF_OP_CONVTRANSPOSE:
        n = node(e, "ConvTranspose", name, nd->n_in >= 3 && nd->in[2] >= 0 ? 3 : 2, 1);
        if (!n || e->st) break;
        for (int k = 0; k < (int)n->n_input; k++) n->input[k] = (char *)vname(e, nd->in[k]);
        n->output[0] = (char *)y;
        window_attrs(e, n, a, 1);
        attr_int(e, n, "group", a->group);
        attr_ints(e, n, "output_padding", 2, a->out_pad);
        break;
    default:
        return XF_ERR(e->ctx, XF_ERR_UNSUPPORTED, "node '%s': op %d cannot be exported", name, (int)nd->op);
    }
    if (e->st) return e->st == XF_ERR_NOMEM ? XF_ERR(e->ctx, XF_ERR_NOMEM, "out of memory while exporting") : e->st;
    return n ? XF_OK : XF_ERR(e->ctx, XF_ERR_NOMEM, "out of memory while exporting");
}

static Onnx__ValueInfoProto *value_info(ex *e, const xf_value *v) {
    Onnx__ValueInfoProto *vi = ex_alloc(e, sizeof *vi);
    Onnx__TypeProto *tp = ex_alloc(e, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ex_alloc(e, sizeof *tt);
    Onnx__TensorShapeProto *sp = ex_alloc(e, sizeof *sp);
    if (!vi || !tp || !tt || !sp) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    vi->name = v->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    if (v->ndim > 0) {
        tt->shape = sp;
        sp->n_dim = (size_t)v->ndim;
        sp->dim = ex_alloc(e, (size_t)v->ndim * sizeof *sp->dim);
        if (!sp->dim) return NULL;
        for (int k = 0; k < v->ndim; k++) {
            Onnx__TensorShapeProto__Dimension *d = ex_alloc(e, sizeof *d);
            if (!d) return NULL;
            onnx__tensor_shape_proto__dimension__init(d);
            if (v->shape[k] < 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = "N";
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = v->shape[k];
            }
            sp->dim[k] = d;
        }
    }
    return vi;
}

static xf_status write_file(xf_ctx_t *ctx, const char *path, const uint8_t *buf, size_t len) {
    xf_outfile out;
    xf_status st = xf_out_open(ctx, path, &out);
    if (st) return st;
    if (len && fwrite(buf, 1, len, out.f) != len) {
        int e = errno;
        xf_out_close(ctx, &out, 0);
        return XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return xf_out_close(ctx, &out, 1);
}

xf_status xf_onnx_export(xf_ctx_t *ctx, const xf_graph *g, const char *path) {
    if (!ctx || !g || !path) return ctx ? XF_ERR(ctx, XF_ERR_INVALID, "xf_onnx_export: NULL argument") : XF_ERR_INVALID;
    if (g->input < 0 || g->input >= g->n_values || g->n_outputs < 1)
        return XF_ERR(ctx, XF_ERR_INVALID, "%s: the graph has no input or no output", path);
    ex e;
    memset(&e, 0, sizeof e);
    e.ctx = ctx;
    e.g = g;
    xf_status st = XF_OK;
    uint8_t *buf = NULL;
    /* parameters used by nodes, as raw float32 initializers pointing at the graph's data */
    unsigned char *used = xf_calloc(ctx, (size_t)(g->n_values ? g->n_values : 1), 1);
    if (!used) return XF_ERR_NOMEM;
    for (int j = 0; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j].n_in; k++)
            if (g->nodes[j].in[k] >= 0 && g->nodes[j].in[k] < g->n_values) used[g->nodes[j].in[k]] = 1;
    for (int v = 0; v < g->n_values && !e.st; v++) {
        const xf_value *val = &g->values[v];
        if (!val->is_param || !used[v]) continue;
        if (!val->data) { st = XF_ERR(ctx, XF_ERR_INVALID, "%s: parameter '%s' has no data", path, val->name); goto done; }
        Onnx__TensorProto *t = tensor(&e, val->name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, val->ndim, val->shape);
        if (!t) break;
        int64_t n = 1;
        for (int k = 0; k < val->ndim; k++) n *= val->shape[k];
        t->has_raw_data = 1;
        t->raw_data.len = (size_t)n * sizeof(float);
        t->raw_data.data = (uint8_t *)val->data; /* borrowed; little-endian host (checked above) */
    }
    for (int j = 0; j < g->n_nodes && !st; j++) st = export_node(&e, j);
    if (!st && e.st) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory while exporting", path);
    if (st) {
        if (!strstr(xf_errmsg(ctx), path)) xf_error_prefix(ctx, path);
        goto done;
    }
    Onnx__GraphProto gp;
    onnx__graph_proto__init(&gp);
    gp.name = g->name && g->name[0] ? g->name : "xfer";
    gp.n_node = e.n_nodes;
    gp.node = e.nodes;
    gp.n_initializer = e.n_inits;
    gp.initializer = e.inits;
    Onnx__ValueInfoProto *in = value_info(&e, &g->values[g->input]);
    Onnx__ValueInfoProto **outs = ex_alloc(&e, (size_t)g->n_outputs * sizeof *outs);
    if (outs)
        for (int k = 0; k < g->n_outputs; k++) outs[k] = value_info(&e, &g->values[g->outputs[k]]);
    if (e.st || !in || !outs) { st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory while exporting", path); goto done; }
    gp.n_input = 1;
    gp.input = &in;
    gp.n_output = (size_t)g->n_outputs;
    gp.output = outs;
    Onnx__OperatorSetIdProto ops;
    onnx__operator_set_id_proto__init(&ops);
    ops.domain = "";
    ops.has_version = 1;
    ops.version = EXPORT_OPSET;
    Onnx__OperatorSetIdProto *opsp = &ops;
    Onnx__ModelProto mp;
    onnx__model_proto__init(&mp);
    mp.has_ir_version = 1;
    mp.ir_version = EXPORT_IR;
    mp.n_opset_import = 1;
    mp.opset_import = &opsp;
    mp.producer_name = "xfer";
    mp.producer_version = (char *)xf_version();
    mp.graph = &gp;
    size_t len = onnx__model_proto__get_packed_size(&mp);
    buf = xf_malloc(ctx, len ? len : 1);
    if (!buf) { st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory (%zu bytes) while exporting", path, len); goto done; }
    size_t got = onnx__model_proto__pack(&mp, buf);
    if (got != len) { st = XF_ERR(ctx, XF_ERR_INTERNAL, "%s: packed %zu of %zu bytes", path, got, len); goto done; }
    st = write_file(ctx, path, buf, len);
done:
    xf_free(ctx, buf);
    xf_free(ctx, used);
    for (size_t k = 0; k < e.n_allocs; k++) xf_free(ctx, e.allocs[k]);
    xf_free(ctx, e.allocs);
    xf_free(ctx, e.nodes);
    xf_free(ctx, e.inits);
    return st;
}
