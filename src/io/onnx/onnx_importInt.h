/* Private state and helpers shared by the parts of the ONNX importer: onnx_import.c (the
 * driver), onnx_import_tensor.c (name table, TensorProto decoding and validation, node
 * inputs), onnx_import_fold.c (constant folding and shape arithmetic), onnx_import_ops.c
 * (graph emission and op translation) and onnx_import_pattern.c (exporter-pattern rewrites:
 * GroupNorm below opset 18, erf GELU). */
#ifndef XFER_ONNX_IMPORT_INT_H
#define XFER_ONNX_IMPORT_INT_H
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "onnxInt.h"
#include "xfer/array.h"

#define MAXD XF_NN_MAXDIM
/* Largest constant tensor the folder works on element by element (shape tensors are a
 * handful of elements; this only bounds hostile Constant/ConstantOfShape sizes). */
#define XF_ONNX_MAX_FOLD_ELEMS ((int64_t)1 << 24)
/* Bytes all folded constants of one model may hold together (docs/ONNX.md, Limits): the
 * per-constant cap alone let 80 unused ConstantOfShape nodes of a 6 KB model take 5 GB. */
#define XF_ONNX_MAX_FOLD_BYTES ((int64_t)1 << 29)
#define XF_ONNX_OPSET_MIN 1
#define XF_ONNX_OPSET_MAX 18

typedef enum { IV_ACT = 1, IV_CONST = 2 } iv_kind;

typedef struct imp_val {
    const char *name; /* borrowed from the unpacked model */
    iv_kind kind;
    int vid;          /* graph value id: the activation, or the materialised constant (-1) */
    /* constants */
    int is_int;
    int ndim;
    int64_t dims[MAXD];
    int64_t n;
    float *f;           /* (n) when !is_int */
    int64_t *i;         /* (n) when is_int */
    unsigned char *sym; /* (n) when is_int: 1 = this entry is the batch size */
    int f_borrowed;     /* f points at the graph parameter's data (after materialize) */
    /* an activation whose ONNX shape merges the batch with later dimensions (Flatten past
     * axis 1): the graph keeps the batch apart, so only a graph output may be one */
    int batch_merged;
} imp_val;

typedef struct imp {
    xf_ctx_t *ctx;
    const char *file; /* for messages */
    const char *dir;  /* model directory for external data (NULL: refuse) */
    xf_graph *g;
    int64_t opset;
    int64_t model_batch; /* static batch size declared on the input, or 0 */
    imp_val *v;
    int nv, capv;
    int *tab; /* hash: index into v or -1 */
    size_t tabcap;
    /* the node being imported, for messages */
    const Onnx__NodeProto *node;
    int node_idx;
    const Onnx__GraphProto *gp;
    ProtobufCAllocator *pa; /* the unpacker's allocator (to release raw bytes early) */
    unsigned char *skip; /* nodes consumed by a fused pattern */
    int tmp_counter;
    int64_t fold_bytes; /* held by folded constants so far, <= XF_ONNX_MAX_FOLD_BYTES */
} imp;

/* ---------------------------------------------------------------------------------- */
/* errors                                                                             */

static inline const char *node_label(imp *m, char *buf, size_t cap) {
    const Onnx__NodeProto *n = m->node;
    if (n->name && n->name[0]) snprintf(buf, cap, "%s", n->name);
    else snprintf(buf, cap, "#%d", m->node_idx);
    return buf;
}

#define NERR(m, st, fmt, ...)                                                                                   \
    do {                                                                                                         \
        char _nb[256];                                                                                           \
        return XF_ERR((m)->ctx, (st), "%s: node '%s' (op %s): " fmt, (m)->file, node_label((m), _nb, sizeof _nb), \
                      (m)->node->op_type ? (m)->node->op_type : "?", ##__VA_ARGS__);                             \
    } while (0)

/* ---------------------------------------------------------------------------------- */
/* small helpers used across the importer                                             */

/* Product of dims, saturating at INT64_MAX (hostile shapes must not overflow: a
 * saturated count then fails the size checks that follow). */
static inline int64_t prod(const int64_t *d, int n) {
    int64_t p = 1;
    for (int k = 0; k < n; k++)
        if (__builtin_mul_overflow(p, d[k], &p)) return INT64_MAX;
    return p;
}

static inline xf_value *gval(imp *m, const imp_val *v) { return &m->g->values[v->vid]; }
static inline int n_inputs(imp *m) { return (int)m->node->n_input; }
static inline int is_const(const imp_val *v) { return v && v->kind == IV_CONST; }
static inline int64_t norm_axis(int64_t ax, int rank) { return ax < 0 ? ax + rank : ax; }

/* ---------------------------------------------------------------------------------- */
/* node attributes                                                                    */

static inline const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && !strcmp(n->attribute[k]->name, name)) return n->attribute[k];
    return NULL;
}
static inline int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : def;
}
static inline float attr_f(const Onnx__NodeProto *n, const char *name, float def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : def;
}
/* ints attribute: count in *cnt (-1 if absent). */
static inline const int64_t *attr_ints(const Onnx__NodeProto *n, const char *name, int *cnt) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) { *cnt = -1; return NULL; }
    *cnt = (int)(a->n_ints > 64 ? 65 : a->n_ints);
    return a->ints;
}
static inline int attr_s(const Onnx__NodeProto *n, const char *name, const char *want) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) return 0;
    return a->s.len == strlen(want) && !memcmp(a->s.data, want, a->s.len);
}

/* onnx_import_tensor.c */
int xf_onnx_tab_find(const imp *m, const char *name);
xf_status xf_onnx_val_new(imp *m, const char *name, imp_val **out);
void xf_onnx_const_free(imp *m, imp_val *v);
int64_t xf_onnx_count_checked(const int64_t *d, size_t n, int64_t limit);
xf_status xf_onnx_const_alloc(imp *m, imp_val *v, int is_int, int ndim, const int64_t *dims);
int xf_onnx_dtype_is_int(int dt);
size_t xf_onnx_dtype_bytes(int dt);
xf_status xf_onnx_load_tensor(imp *m, const Onnx__TensorProto *t, imp_val *v);
imp_val *xf_onnx_in_val(imp *m, int k);
xf_status xf_onnx_in_ints(imp *m, int k, const int64_t **vals, int *cnt, int required);
xf_status xf_onnx_in_scalar(imp *m, int k, float *out, int *present);

/* onnx_import_fold.c */
xf_status xf_onnx_try_fold(imp *m, int *done);

/* onnx_import_ops.c */
xf_status xf_onnx_act_new(imp *m, const char *name, int ndim, const int64_t *shape0, imp_val **out);
/* The node's first output becomes another name of x's activation (no node is emitted). */
xf_status xf_onnx_alias(imp *m, const imp_val *x);
xf_status xf_onnx_param_new(imp *m, const char *base, const char *what, int ndim, const int64_t *dims, const float *data,
                            int *id);
xf_status xf_onnx_emit(imp *m, xf_op op, const int *in, int nin, int out, const xf_node_attr *a);
/* Reshape in -> out to s (nd dims; s[0], the batch, is kept: written as 0). */
xf_status xf_onnx_emit_reshape(imp *m, int in, int out, int nd, const int64_t *s);
xf_status xf_onnx_import_node(imp *m, const int *out_uses);
xf_status xf_onnx_out_act(imp *m, int k, int ndim, const int64_t *shape, int *id);
xf_status xf_onnx_need_rank(imp *m, const imp_val *x, int rank);
xf_status xf_onnx_act_tmp(imp *m, const char *base, const char *what, int ndim, const int64_t *shape, int *id);
xf_status xf_onnx_materialize(imp *m, imp_val *v, int *id);
xf_status xf_onnx_unary(imp *m, xf_op op, imp_val *x, const xf_node_attr *a);

/* onnx_import_classic.c: the operators of classic and older-opset CNNs (LRN, PRelu,
 * smooth activations, ConvTranspose, DepthToSpace/SpaceToDepth, Upsample, GlobalMaxPool,
 * reductions, Flatten past axis 1); *handled = 0 when op is none of them. */
xf_status xf_onnx_import_classic(imp *m, const char *op, imp_val *x, int *handled);

/* onnx_import_pattern.c */
xf_status xf_onnx_try_groupnorm(imp *m, imp_val *x, imp_val *t, int *fused);
xf_status xf_onnx_try_gelu(imp *m, imp_val *x, int *fused);

#endif
