/* ONNX -> xf_graph importer.
 *
 * Design: one pass over the (topologically sorted) ONNX nodes with a name table. Every
 * ONNX tensor name maps to either an activation (a value of the xf_graph, with its shape
 * inferred here as nodes are emitted: batch dimension -1) or a constant held by the
 * importer (initializers, Constant nodes, folded shape arithmetic). Constants carry int64
 * or float data plus a per-element "batch" flag, so the shape arithmetic PyTorch exports
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) folds to a static Reshape target in
 * which the entry that came from the batch dimension becomes 0 (copy) or -1 (infer).
 * A constant becomes a graph parameter only when a runtime op consumes it, so unused
 * initializers and shape tensors never reach the graph.
 *
 * Opset differences handled (11..18): Clip min/max and Pad pads as inputs, Softmax's 2-D
 * coercion before 13 (rewritten Flatten -> Softmax -> Reshape when it matters),
 * Unsqueeze/Squeeze/ReduceMean axes as attribute or input, Reshape allowzero (14),
 * Shape start/end (15), Pad axes (18), GroupNormalization (18; per-group scale expanded
 * to per-channel). Below 18 PyTorch writes GroupNorm as Reshape(0,G,-1) ->
 * InstanceNormalization(ones, zeros) -> Reshape(Shape(x)) -> Mul(w) -> Add(b); that
 * pattern is recognised and emitted as one XF_OP_GROUPNORM (trainable, exportable); a
 * partial match falls back to the literal ops. BatchNormalization is kept (not folded
 * into Conv) so fine-tuning sees it. ReduceMean over H,W becomes GlobalAveragePool.
 * Sub/Div by a constant become Add/Mul by the negated/reciprocal constant.
 *
 * Untrusted input: the wire format is pre-scanned for nesting depth, protobuf-c
 * allocations go through the context, every element count is checked for overflow and
 * against the bytes present before any buffer is allocated, external data must resolve
 * (after symlinks) inside the model's directory and fit the file. Errors are one line:
 * "<file>: node '<name>' (op <Op>): <problem>". */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnxInt.h"
#include "xfer/array.h"

#define MAXD XF_NN_MAXDIM
/* Largest constant tensor the folder works on element by element (shape tensors are a
 * handful of elements; this only bounds hostile Constant/ConstantOfShape sizes). */
#define XF_ONNX_MAX_FOLD_ELEMS ((int64_t)1 << 24)
#define XF_ONNX_OPSET_MIN 11
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
} imp;

/* ---------------------------------------------------------------------------------- */
/* errors                                                                             */

static const char *node_label(imp *m, char *buf, size_t cap) {
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
/* name table                                                                         */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int tab_find(const imp *m, const char *name) {
    if (!name || !m->tabcap) return -1;
    size_t mask = m->tabcap - 1, k = (size_t)hash_str(name) & mask;
    while (m->tab[k] >= 0) {
        if (!strcmp(m->v[m->tab[k]].name, name)) return m->tab[k];
        k = (k + 1) & mask;
    }
    return -1;
}

static xf_status tab_grow(imp *m) {
    size_t cap = m->tabcap ? m->tabcap * 2 : 256;
    int *t = xf_malloc(m->ctx, cap * sizeof *t);
    if (!t) return XF_ERR_NOMEM;
    for (size_t k = 0; k < cap; k++) t[k] = -1;
    for (int j = 0; j < m->nv; j++) {
        size_t k = (size_t)hash_str(m->v[j].name) & (cap - 1);
        while (t[k] >= 0) k = (k + 1) & (cap - 1);
        t[k] = j;
    }
    xf_free(m->ctx, m->tab);
    m->tab = t;
    m->tabcap = cap;
    return XF_OK;
}

/* Adds a name; fails if it exists (ONNX names are single-assignment). */
static xf_status val_new(imp *m, const char *name, imp_val **out) {
    if (!name || !name[0]) return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: a tensor has an empty name", m->file);
    if (tab_find(m, name) >= 0) return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: tensor '%s' is defined twice", m->file, name);
    /* m->v is sized once for every name the model can define, so imp_val pointers stay
     * valid while nodes add names */
    if (m->nv == m->capv) return XF_ERR(m->ctx, XF_ERR_INTERNAL, "%s: name table full", m->file);
    if ((size_t)(m->nv + 1) * 2 > m->tabcap) {
        xf_status st = tab_grow(m);
        if (st) return st;
    }
    imp_val *v = &m->v[m->nv];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->vid = -1;
    size_t mask = m->tabcap - 1, k = (size_t)hash_str(name) & mask;
    while (m->tab[k] >= 0) k = (k + 1) & mask;
    m->tab[k] = m->nv++;
    *out = v;
    return XF_OK;
}

static void const_free(imp *m, imp_val *v) {
    if (!v->f_borrowed) xf_free(m->ctx, v->f);
    xf_free(m->ctx, v->i);
    xf_free(m->ctx, v->sym);
    v->f = NULL;
    v->i = NULL;
    v->sym = NULL;
}

/* ---------------------------------------------------------------------------------- */
/* constants                                                                          */

/* Product of dims, saturating at INT64_MAX (hostile shapes must not overflow: a
 * saturated count then fails the size checks that follow). */
static int64_t prod(const int64_t *d, int n) {
    int64_t p = 1;
    for (int k = 0; k < n; k++)
        if (__builtin_mul_overflow(p, d[k], &p)) return INT64_MAX;
    return p;
}

/* Element count of dims, or -1 on a negative dim / overflow past limit. */
static int64_t count_checked(const int64_t *d, size_t n, int64_t limit) {
    int64_t p = 1;
    for (size_t k = 0; k < n; k++) {
        if (d[k] < 0) return -1;
        if (d[k] && p > limit / d[k]) return -1;
        p *= d[k];
    }
    return p;
}

/* Allocates the data arrays of a constant with the given shape. */
static xf_status const_alloc(imp *m, imp_val *v, int is_int, int ndim, const int64_t *dims) {
    v->kind = IV_CONST;
    v->is_int = is_int;
    v->ndim = ndim;
    for (int k = 0; k < ndim; k++) v->dims[k] = dims[k];
    v->n = prod(dims, ndim);
    size_t n = (size_t)(v->n ? v->n : 1);
    if (is_int) {
        v->i = xf_calloc(m->ctx, n, sizeof *v->i);
        v->sym = xf_calloc(m->ctx, n, 1);
        if (!v->i || !v->sym) return XF_ERR_NOMEM;
    } else {
        v->f = xf_calloc(m->ctx, n, sizeof *v->f);
        if (!v->f) return XF_ERR_NOMEM;
    }
    return XF_OK;
}

static int dtype_is_int(int dt) {
    return dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT16 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT16 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT64 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
}

static size_t dtype_bytes(int dt) {
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    default: return 0;
    }
}

static uint64_t rd_le(const uint8_t *p, size_t nb) {
    uint64_t r = 0;
    for (size_t k = 0; k < nb; k++) r |= (uint64_t)p[k] << (8 * k);
    return r;
}

/* Converts n little-endian elements of dtype dt from raw bytes into the constant. */
static void convert_raw(imp_val *v, int dt, const uint8_t *p) {
    size_t nb = dtype_bytes(dt);
    for (int64_t k = 0; k < v->n; k++, p += nb) {
        uint64_t u = rd_le(p, nb);
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); v->f[k] = f; break; }
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: { double d; memcpy(&d, &u, 8); v->f[k] = (float)d; break; }
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: v->f[k] = xf_f16_to_f32((uint16_t)u); break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: { uint32_t w = (uint32_t)u << 16; float f; memcpy(&f, &w, 4); v->f[k] = f; break; }
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: v->i[k] = (int64_t)u; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: v->i[k] = (int32_t)(uint32_t)u; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: v->i[k] = (int64_t)(uint32_t)u; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: v->i[k] = (int16_t)(uint16_t)u; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: v->i[k] = (int64_t)(uint16_t)u; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: v->i[k] = (int8_t)(uint8_t)u; break;
        default: v->i[k] = (int64_t)u; break; /* uint8, bool */
        }
    }
}

static int parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    int64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        if (r > (INT64_MAX - 9) / 10) return -1;
        r = r * 10 + (*s - '0');
    }
    *out = r;
    return 0;
}

/* External data: "location" relative to the model directory, optional offset/length.
 * The resolved path must lie inside the directory (no absolute paths, no "..", and the
 * realpath of the file must start with the realpath of the directory). */
static xf_status read_external(imp *m, const Onnx__TensorProto *t, size_t need, uint8_t **out) {
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t k = 0; k < t->n_external_data; k++) {
        const Onnx__StringStringEntryProto *e = t->external_data[k];
        if (!e->key) continue;
        if (!strcmp(e->key, "location")) loc = e->value;
        else if (!strcmp(e->key, "offset") && parse_i64(e->value, &off))
            return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: initializer '%s': bad external data offset", m->file, t->name);
        else if (!strcmp(e->key, "length") && parse_i64(e->value, &len))
            return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: initializer '%s': bad external data length", m->file, t->name);
    }
    if (!loc || !loc[0])
        return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: initializer '%s': external data without a location", m->file, t->name);
    if (!m->dir)
        return XF_ERR(m->ctx, XF_ERR_UNSUPPORTED, "%s: initializer '%s': external data needs a model file on disk",
                      m->file, t->name);
    if (loc[0] == '/' || !strcmp(loc, "..") || !strncmp(loc, "../", 3) || strstr(loc, "/../") ||
        (strlen(loc) >= 3 && !strcmp(loc + strlen(loc) - 3, "/..")))
        return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: initializer '%s': external data location '%s' is outside the model's directory",
                      m->file, t->name, loc);
    char *path = xf_malloc(m->ctx, strlen(m->dir) + strlen(loc) + 2);
    if (!path) return XF_ERR_NOMEM;
    sprintf(path, "%s/%s", m->dir, loc);
    char rdir[PATH_MAX], rfile[PATH_MAX];
    xf_status st = XF_OK;
    int fd = -1;
    if (!realpath(m->dir, rdir) || !realpath(path, rfile)) {
        st = XF_ERR(m->ctx, XF_ERR_IO, "%s: initializer '%s': external data file '%s': %s", m->file, t->name, loc,
                    strerror(errno));
        goto done;
    }
    size_t dl = strlen(rdir);
    if (strncmp(rfile, rdir, dl) || (rfile[dl] != '/' && !(dl == 1 && rdir[0] == '/'))) {
        st = XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: initializer '%s': external data location '%s' is outside the model's directory",
                    m->file, t->name, loc);
        goto done;
    }
    fd = open(rfile, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        st = XF_ERR(m->ctx, XF_ERR_IO, "%s: initializer '%s': cannot read external data file '%s'", m->file, t->name, loc);
        goto done;
    }
    if (len < 0) len = (int64_t)sb.st_size - off;
    if (off > (int64_t)sb.st_size || len < 0 || len > (int64_t)sb.st_size - off || (uint64_t)len != need) {
        st = XF_ERR(m->ctx, XF_ERR_FORMAT,
                    "%s: initializer '%s': external data '%s' holds %lld bytes at offset %lld (file %lld bytes), %zu needed",
                    m->file, t->name, loc, (long long)len, (long long)off, (long long)sb.st_size, need);
        goto done;
    }
    uint8_t *buf = xf_malloc(m->ctx, need ? need : 1);
    if (!buf) { st = XF_ERR_NOMEM; goto done; }
    size_t got = 0;
    while (got < need) {
        ssize_t r = pread(fd, buf + got, need - got, (off_t)(off + (int64_t)got));
        if (r <= 0) {
            xf_free(m->ctx, buf);
            st = XF_ERR(m->ctx, XF_ERR_IO, "%s: initializer '%s': short read from '%s'", m->file, t->name, loc);
            goto done;
        }
        got += (size_t)r;
    }
    *out = buf;
done:
    if (fd >= 0) close(fd);
    xf_free(m->ctx, path);
    return st;
}

/* A TensorProto (initializer or Constant value) into a constant. */
static xf_status load_tensor(imp *m, const Onnx__TensorProto *t, imp_val *v) {
    const char *tn = t->name ? t->name : "";
    int dt = t->has_data_type ? t->data_type : 0;
    size_t nb = dtype_bytes(dt);
    if (!nb || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32 + 100)
        return XF_ERR(m->ctx, XF_ERR_UNSUPPORTED, "%s: tensor '%s': data type %d is not supported", m->file, tn, dt);
    if (t->n_dims > MAXD)
        return XF_ERR(m->ctx, XF_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)", m->file, tn, t->n_dims, MAXD);
    int64_t n = count_checked(t->dims, t->n_dims, INT64_MAX / 16);
    if (n < 0) return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: tensor '%s': invalid or overflowing dims", m->file, tn);
    size_t need;
    if (!xf_mul_ok((size_t)n, nb, &need))
        return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: tensor '%s': size overflows", m->file, tn);
    /* where the data is, and that it has exactly n elements, before allocating */
    int external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t have = 0;
    const char *field = "raw_data";
    if (external) have = need;
    else if (t->has_raw_data) have = t->raw_data.len, field = "raw_data";
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) have = t->n_float_data * nb, field = "float_data";
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) have = t->n_double_data * nb, field = "double_data";
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) have = t->n_int64_data * nb, field = "int64_data";
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT64 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32)
        have = t->n_uint64_data * nb, field = "uint64_data";
    else have = t->n_int32_data * nb, field = "int32_data"; /* int32/16/8, uint8/16, bool, float16, bfloat16 */
    if (have != need)
        return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: tensor '%s': %s holds %zu elements, dims say %lld", m->file, tn, field,
                      have / nb, (long long)n);
    xf_status st = const_alloc(m, v, dtype_is_int(dt), (int)t->n_dims, t->dims);
    if (st) return st;
    if (external) {
        uint8_t *buf = NULL;
        st = read_external(m, t, need, &buf);
        if (st) return st;
        convert_raw(v, dt, buf);
        xf_free(m->ctx, buf);
    } else if (t->has_raw_data) {
        convert_raw(v, dt, t->raw_data.data);
    } else {
        for (int64_t k = 0; k < n; k++) {
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: v->f[k] = t->float_data[k]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: v->f[k] = (float)t->double_data[k]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: v->i[k] = t->int64_data[k]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
                v->i[k] = (int64_t)t->uint64_data[k]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: v->f[k] = xf_f16_to_f32((uint16_t)t->int32_data[k]); break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: {
                uint32_t w = (uint32_t)(uint16_t)t->int32_data[k] << 16;
                float f;
                memcpy(&f, &w, 4);
                v->f[k] = f;
                break;
            }
            default: v->i[k] = t->int32_data[k]; break;
            }
        }
    }
    return XF_OK;
}

/* ---------------------------------------------------------------------------------- */
/* node inputs / attributes                                                           */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && !strcmp(n->attribute[k]->name, name)) return n->attribute[k];
    return NULL;
}
static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : def;
}
static float attr_f(const Onnx__NodeProto *n, const char *name, float def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : def;
}
/* ints attribute: count in *cnt (-1 if absent). */
static const int64_t *attr_ints(const Onnx__NodeProto *n, const char *name, int *cnt) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) { *cnt = -1; return NULL; }
    *cnt = (int)(a->n_ints > 64 ? 65 : a->n_ints);
    return a->ints;
}
static int attr_s(const Onnx__NodeProto *n, const char *name, const char *want) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) return 0;
    return a->s.len == strlen(want) && !memcmp(a->s.data, want, a->s.len);
}

/* Input k: NULL when absent (index beyond the list or empty name). */
static imp_val *in_val(imp *m, int k) {
    if ((size_t)k >= m->node->n_input || !m->node->input[k] || !m->node->input[k][0]) return NULL;
    int j = tab_find(m, m->node->input[k]);
    return j >= 0 ? &m->v[j] : NULL;
}
static int n_inputs(imp *m) { return (int)m->node->n_input; }

/* Constant input k as a short int64 list (axes, pads, shapes). */
static xf_status in_ints(imp *m, int k, const int64_t **vals, int *cnt, int required) {
    imp_val *v = in_val(m, k);
    if (!v) {
        if (required) NERR(m, XF_ERR_FORMAT, "input %d is required", k);
        *vals = NULL;
        *cnt = -1;
        return XF_OK;
    }
    if (v->kind != IV_CONST || !v->is_int)
        NERR(m, XF_ERR_UNSUPPORTED, "input '%s' must be a constant integer tensor", v->name);
    if (v->n > 64) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' has %lld entries", v->name, (long long)v->n);
    for (int64_t j = 0; j < v->n; j++)
        if (v->sym[j]) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' depends on the batch size", v->name);
    *vals = v->i;
    *cnt = (int)v->n;
    return XF_OK;
}
/* A scalar float constant input (Clip bounds, Pad value, Dropout ratio). */
static xf_status in_scalar(imp *m, int k, float *out, int *present) {
    imp_val *v = in_val(m, k);
    *present = 0;
    if (!v) return XF_OK;
    if (v->kind != IV_CONST || v->n != 1) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' must be a constant scalar", v->name);
    if (v->is_int && v->sym[0]) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' depends on the batch size", v->name);
    *out = v->is_int ? (float)v->i[0] : v->f[0];
    *present = 1;
    return XF_OK;
}

/* ---------------------------------------------------------------------------------- */
/* graph emission                                                                     */

static xf_value *gval(imp *m, const imp_val *v) { return &m->g->values[v->vid]; }

/* Registers an ONNX output name as a new activation of the given shape. */
static xf_status act_new(imp *m, const char *name, int ndim, const int64_t *shape0, imp_val **out) {
    imp_val *v;
    int64_t shape[MAXD];
    if (ndim < 0 || ndim > MAXD) return XF_ERR(m->ctx, XF_ERR_INTERNAL, "%s: rank %d", m->file, ndim);
    if (ndim) memcpy(shape, shape0, (size_t)ndim * sizeof *shape); /* shape0 may point into g->values */
    xf_status st = val_new(m, name, &v);
    if (st) return st;
    v->kind = IV_ACT;
    int id;
    st = xf_graph_add_value(m->g, name, ndim, shape, NULL, &id);
    if (st) return st;
    v->vid = id;
    *out = v;
    return XF_OK;
}

/* An importer-internal activation (not visible in ONNX): a unique derived name. */
static xf_status act_tmp(imp *m, const char *base, const char *what, int ndim, const int64_t *shape, int *id) {
    char buf[512];
    do {
        snprintf(buf, sizeof buf, "%.400s/xf_%s%d", base, what, m->tmp_counter++);
    } while (xf_graph_find(m->g, buf) >= 0 || tab_find(m, buf) >= 0);
    return xf_graph_add_value(m->g, buf, ndim, shape, NULL, id);
}

/* Makes a constant a graph parameter (once); shape reshaped to (ndim, dims) if given. */
static xf_status materialize(imp *m, imp_val *v, int *id) {
    if (v->kind == IV_ACT) { *id = v->vid; return XF_OK; }
    if (v->vid >= 0) { *id = v->vid; return XF_OK; }
    if (v->is_int) {
        for (int64_t k = 0; k < v->n; k++)
            if (v->sym[k]) NERR(m, XF_ERR_UNSUPPORTED, "tensor '%s' depends on the batch size", v->name);
        float *f = xf_malloc(m->ctx, (size_t)(v->n ? v->n : 1) * sizeof *f);
        if (!f) return XF_ERR_NOMEM;
        for (int64_t k = 0; k < v->n; k++) f[k] = (float)v->i[k];
        xf_free(m->ctx, v->i);
        xf_free(m->ctx, v->sym);
        v->i = NULL;
        v->sym = NULL;
        v->f = f;
        v->is_int = 0;
    }
    int64_t one = 1;
    xf_status st = xf_graph_add_value(m->g, v->name, v->ndim ? v->ndim : 1, v->ndim ? v->dims : &one, v->f, id);
    if (st) return st;
    v->vid = *id;
    /* the graph holds a copy now: read that one from here on (halves peak memory for
     * big models; parameter data blocks do not move when g->values grows) */
    if (m->g->values[*id].data) {
        xf_free(m->ctx, v->f);
        v->f = m->g->values[*id].data;
        v->f_borrowed = 1;
    }
    return XF_OK;
}

/* A fresh parameter from float data (derived weights: negated, expanded, ...). */
static xf_status param_new(imp *m, const char *base, const char *what, int ndim, const int64_t *dims, const float *data,
                           int *id) {
    char buf[512];
    do {
        snprintf(buf, sizeof buf, "%.400s/xf_%s%d", base, what, m->tmp_counter++);
    } while (xf_graph_find(m->g, buf) >= 0 || tab_find(m, buf) >= 0);
    return xf_graph_add_value(m->g, buf, ndim, dims, data, id);
}

static xf_status emit(imp *m, xf_op op, const int *in, int nin, int out, const xf_node_attr *a) {
    char nb[256];
    return xf_graph_add_node(m->g, op, node_label(m, nb, sizeof nb), in, nin, &out, 1, a);
}

/* ---------------------------------------------------------------------------------- */
/* shapes of emitted activations (batch -1); enough for folding Shape() and checking  */

static xf_status bcast(imp *m, const xf_value *a, const xf_value *b, int *nd, int64_t *s) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int k = 0; k < n; k++) {
        int ia = k - (n - a->ndim), ib = k - (n - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da == db || db == 1) s[k] = da;
        else if (da == 1) s[k] = db;
        else NERR(m, XF_ERR_SHAPE, "shapes of '%s' and '%s' do not broadcast", a->name, b->name);
    }
    *nd = n;
    return XF_OK;
}

static xf_status need_rank(imp *m, const imp_val *x, int rank) {
    if (x->kind != IV_ACT) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' must be computed from the graph input", x->name);
    if (rank > 0 && m->g->values[x->vid].ndim != rank)
        NERR(m, XF_ERR_UNSUPPORTED, "input '%s' has rank %d, %d expected", x->name, m->g->values[x->vid].ndim, rank);
    return XF_OK;
}

/* Output size of a sliding window (conv/pool). */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1, int ceil_mode) {
    int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p0) o--; /* last window must start inside the input (PyTorch/ORT) */
    return o;
}

/* ---------------------------------------------------------------------------------- */
/* constant folding                                                                   */

static int is_const(const imp_val *v) { return v && v->kind == IV_CONST; }

static xf_status out_const(imp *m, int k, int is_int, int ndim, const int64_t *dims, imp_val **out) {
    if ((size_t)k >= m->node->n_output || !m->node->output[k] || !m->node->output[k][0])
        NERR(m, XF_ERR_FORMAT, "output %d missing", k);
    if (ndim > MAXD) NERR(m, XF_ERR_UNSUPPORTED, "result has %d dimensions", ndim);
    int64_t n = count_checked(dims, (size_t)ndim, XF_ONNX_MAX_FOLD_ELEMS);
    if (n < 0) NERR(m, XF_ERR_UNSUPPORTED, "constant result too large or negative dims");
    imp_val *v;
    xf_status st = val_new(m, m->node->output[k], &v);
    if (st) return st;
    st = const_alloc(m, v, is_int, ndim, dims);
    if (st) return st;
    *out = v;
    return XF_OK;
}

/* copies element s of a into element d of b (same kind) */
static void el_copy(imp_val *b, int64_t d, const imp_val *a, int64_t s) {
    if (a->is_int) { b->i[d] = a->i[s]; b->sym[d] = a->sym[s]; }
    else b->f[d] = a->f[s];
}

static int64_t norm_axis(int64_t ax, int rank) { return ax < 0 ? ax + rank : ax; }

static xf_status fold_gather(imp *m, imp_val *x, imp_val *ix) {
    int64_t axis = norm_axis(attr_i(m->node, "axis", 0), x->ndim);
    if (axis < 0 || axis >= (x->ndim ? x->ndim : 1) || !ix->is_int || x->ndim == 0)
        NERR(m, XF_ERR_FORMAT, "bad axis or indices");
    int64_t dims[2 * MAXD];
    int nd = 0;
    for (int k = 0; k < axis; k++) dims[nd++] = x->dims[k];
    for (int k = 0; k < ix->ndim; k++) dims[nd++] = ix->dims[k];
    for (int k = (int)axis + 1; k < x->ndim; k++) dims[nd++] = x->dims[k];
    imp_val *o;
    xf_status st = out_const(m, 0, x->is_int, nd, dims, &o);
    if (st) return st;
    int64_t outer = prod(x->dims, (int)axis), ad = x->dims[axis], inner = prod(x->dims + axis + 1, x->ndim - (int)axis - 1);
    int64_t d = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < ix->n; j++) {
            int64_t q = ix->i[j] < 0 ? ix->i[j] + ad : ix->i[j];
            if (q < 0 || q >= ad || ix->sym[j]) NERR(m, XF_ERR_FORMAT, "index out of range");
            for (int64_t b = 0; b < inner; b++) el_copy(o, d++, x, (a * ad + q) * inner + b);
        }
    return XF_OK;
}

static xf_status fold_concat(imp *m) {
    int nin = n_inputs(m);
    imp_val *x0 = in_val(m, 0);
    int64_t axis = norm_axis(attr_i(m->node, "axis", 0), x0->ndim);
    if (axis < 0 || axis >= x0->ndim) NERR(m, XF_ERR_FORMAT, "bad axis");
    int64_t dims[MAXD];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    int is_int = x0->is_int;
    for (int k = 0; k < nin; k++) {
        imp_val *x = in_val(m, k);
        if (!x || x->ndim != x0->ndim || x->is_int != is_int) NERR(m, XF_ERR_FORMAT, "inputs differ in rank or type");
        for (int j = 0; j < x->ndim; j++)
            if (j != axis && x->dims[j] != x0->dims[j]) NERR(m, XF_ERR_SHAPE, "input shapes differ");
        dims[axis] += x->dims[axis];
    }
    imp_val *o;
    xf_status st = out_const(m, 0, is_int, x0->ndim, dims, &o);
    if (st) return st;
    int64_t outer = prod(dims, (int)axis), inner = prod(dims + axis + 1, x0->ndim - (int)axis - 1), d = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int k = 0; k < nin; k++) {
            imp_val *x = in_val(m, k);
            int64_t blk = x->dims[axis] * inner;
            for (int64_t b = 0; b < blk; b++) el_copy(o, d++, x, a * blk + b);
        }
    return XF_OK;
}

static xf_status fold_copy_shape(imp *m, imp_val *x, int nd, const int64_t *dims) {
    if (count_checked(dims, (size_t)nd, INT64_MAX) != x->n) NERR(m, XF_ERR_SHAPE, "element count changes");
    imp_val *o;
    xf_status st = out_const(m, 0, x->is_int, nd, dims, &o);
    if (st) return st;
    for (int64_t k = 0; k < x->n; k++) el_copy(o, k, x, k);
    return XF_OK;
}

/* axes for (Un)squeeze: attribute before opset 13, input from 13 */
static xf_status get_axes(imp *m, const int64_t **ax, int *na) {
    if (m->opset >= 13 && n_inputs(m) > 1) return in_ints(m, 1, ax, na, 0);
    *ax = attr_ints(m->node, "axes", na);
    if (*na > 64) NERR(m, XF_ERR_FORMAT, "too many axes");
    return XF_OK;
}

static xf_status unsqueeze_dims(imp *m, int ndim, const int64_t *dims, const int64_t *ax, int na, int *ond,
                                int64_t *od) {
    int r = ndim + na;
    if (na < 0 || r > MAXD) NERR(m, XF_ERR_UNSUPPORTED, "bad axes for Unsqueeze");
    unsigned char mark[MAXD] = {0};
    for (int k = 0; k < na; k++) {
        int64_t a = norm_axis(ax[k], r);
        if (a < 0 || a >= r || mark[a]) NERR(m, XF_ERR_FORMAT, "bad axes for Unsqueeze");
        mark[a] = 1;
    }
    for (int k = 0, j = 0; k < r; k++) od[k] = mark[k] ? 1 : dims[j++];
    *ond = r;
    return XF_OK;
}

static xf_status squeeze_dims(imp *m, int ndim, const int64_t *dims, const int64_t *ax, int na, int *ond, int64_t *od) {
    unsigned char mark[MAXD] = {0};
    if (na < 0) {
        for (int k = 0; k < ndim; k++) mark[k] = dims[k] == 1;
    } else
        for (int k = 0; k < na; k++) {
            int64_t a = norm_axis(ax[k], ndim);
            if (a < 0 || a >= ndim || dims[a] != 1) NERR(m, XF_ERR_FORMAT, "bad axes for Squeeze");
            mark[a] = 1;
        }
    int r = 0;
    for (int k = 0; k < ndim; k++)
        if (!mark[k]) od[r++] = dims[k];
    *ond = r;
    return XF_OK;
}

static xf_status fold_slice(imp *m, imp_val *x) {
    const int64_t *st_, *en, *ax, *sp;
    int nst, nen, nax, nsp;
    xf_status st;
    if (m->opset >= 10) {
        if ((st = in_ints(m, 1, &st_, &nst, 1)) || (st = in_ints(m, 2, &en, &nen, 1)) || (st = in_ints(m, 3, &ax, &nax, 0)) ||
            (st = in_ints(m, 4, &sp, &nsp, 0)))
            return st;
    } else {
        st_ = attr_ints(m->node, "starts", &nst);
        en = attr_ints(m->node, "ends", &nen);
        ax = attr_ints(m->node, "axes", &nax);
        sp = NULL;
        nsp = -1;
    }
    if (nst != nen || nst < 0 || (nax >= 0 && nax != nst) || (nsp >= 0 && nsp != nst) || nst > x->ndim)
        NERR(m, XF_ERR_FORMAT, "inconsistent starts/ends/axes/steps");
    int64_t b[MAXD], step[MAXD], dims[MAXD];
    for (int k = 0; k < x->ndim; k++) b[k] = 0, step[k] = 1, dims[k] = x->dims[k];
    for (int k = 0; k < nst; k++) {
        int64_t a = nax >= 0 ? norm_axis(ax[k], x->ndim) : k;
        if (a < 0 || a >= x->ndim) NERR(m, XF_ERR_FORMAT, "bad slice axis");
        int64_t d = x->dims[a], s = nsp >= 0 ? sp[k] : 1;
        if (s == 0) NERR(m, XF_ERR_FORMAT, "slice step 0");
        int64_t lo = st_[k], hi = en[k];
        if (lo < 0) lo += d;
        if (hi < 0) hi += d;
        if (s > 0) {
            lo = lo < 0 ? 0 : lo > d ? d : lo;
            hi = hi < 0 ? 0 : hi > d ? d : hi;
            dims[a] = hi > lo ? (hi - lo + s - 1) / s : 0;
        } else {
            lo = lo < 0 ? -1 : lo > d - 1 ? d - 1 : lo;
            hi = hi < -1 ? -1 : hi > d - 1 ? d - 1 : hi;
            dims[a] = lo > hi ? (lo - hi + (-s) - 1) / (-s) : 0;
        }
        b[a] = lo;
        step[a] = s;
    }
    imp_val *o;
    if ((st = out_const(m, 0, x->is_int, x->ndim, dims, &o))) return st;
    int64_t idx[MAXD] = {0};
    for (int64_t d = 0; d < o->n; d++) {
        int64_t src = 0;
        for (int k = 0; k < x->ndim; k++) src = src * x->dims[k] + b[k] + idx[k] * step[k];
        el_copy(o, d, x, src);
        for (int k = x->ndim - 1; k >= 0; k--) {
            if (++idx[k] < dims[k]) break;
            idx[k] = 0;
        }
    }
    return XF_OK;
}

/* Elementwise arithmetic on constants with numpy broadcasting. Batch-derived entries
 * cannot take part (the result would not be a static shape). */
static xf_status fold_binary(imp *m, const char *op, imp_val *a, imp_val *b) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[MAXD];
    for (int k = 0; k < nd; k++) {
        int ia = k - (nd - a->ndim), ib = k - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) NERR(m, XF_ERR_SHAPE, "constant shapes do not broadcast");
        dims[k] = da == 1 ? db : da;
    }
    int is_int = a->is_int && b->is_int;
    imp_val *o;
    xf_status st = out_const(m, 0, is_int, nd, dims, &o);
    if (st) return st;
    int64_t idx[MAXD] = {0};
    for (int64_t d = 0; d < o->n; d++) {
        int64_t sa = 0, sb = 0;
        for (int k = 0; k < nd; k++) {
            int ia = k - (nd - a->ndim), ib = k - (nd - b->ndim);
            if (ia >= 0) sa = sa * a->dims[ia] + (a->dims[ia] == 1 ? 0 : idx[k]);
            if (ib >= 0) sb = sb * b->dims[ib] + (b->dims[ib] == 1 ? 0 : idx[k]);
        }
        if ((a->is_int && a->sym[sa]) || (b->is_int && b->sym[sb]))
            NERR(m, XF_ERR_UNSUPPORTED, "arithmetic on the batch size cannot be folded");
        if (is_int) {
            int64_t x = a->i[sa], y = b->i[sb], r = 0;
            int ovf = 0;
            if (op[0] == 'A') ovf = __builtin_add_overflow(x, y, &r);
            else if (op[0] == 'S') ovf = __builtin_sub_overflow(x, y, &r);
            else if (op[0] == 'M') ovf = __builtin_mul_overflow(x, y, &r);
            else {
                if (y == 0 || (x == INT64_MIN && y == -1)) NERR(m, XF_ERR_NUMERIC, "integer division by zero or overflow");
                r = x / y; /* ONNX integer Div truncates (as ONNX Runtime does) */
            }
            if (ovf) NERR(m, XF_ERR_NUMERIC, "integer overflow in constant arithmetic");
            o->i[d] = r;
        } else {
            double x = a->is_int ? (double)a->i[sa] : a->f[sa], y = b->is_int ? (double)b->i[sb] : b->f[sb];
            o->f[d] = (float)(op[0] == 'A' ? x + y : op[0] == 'S' ? x - y : op[0] == 'M' ? x * y : x / y);
        }
        for (int k = nd - 1; k >= 0; k--) {
            if (++idx[k] < dims[k]) break;
            idx[k] = 0;
        }
    }
    return XF_OK;
}

/* Reshape target (shape tensor) against an input's dims; 0 copies (unless allowzero),
 * -1 infers. Used for constants; activations have their own rule below. */
static xf_status reshape_dims(imp *m, const int64_t *in, int in_nd, const int64_t *tgt, int nt, int allowzero,
                              int64_t *out) {
    if (nt > MAXD || nt < 0) NERR(m, XF_ERR_UNSUPPORTED, "reshape to %d dimensions", nt);
    int neg = -1;
    int64_t known = 1;
    for (int k = 0; k < nt; k++) {
        int64_t t = tgt[k];
        if (t == 0 && !allowzero) {
            if (k >= in_nd) NERR(m, XF_ERR_SHAPE, "0 in reshape target beyond the input rank");
            t = in[k];
        }
        if (t == -1) {
            if (neg >= 0) NERR(m, XF_ERR_SHAPE, "two -1 in reshape target");
            neg = k;
            out[k] = -1;
            continue;
        }
        if (t < 0) NERR(m, XF_ERR_SHAPE, "negative reshape target");
        out[k] = t;
        if (t && known > INT64_MAX / t) NERR(m, XF_ERR_SHAPE, "reshape target overflows");
        known *= t;
    }
    int64_t total = prod(in, in_nd);
    if (neg >= 0) {
        if (known == 0 || total % known) NERR(m, XF_ERR_SHAPE, "cannot infer -1 in reshape target");
        out[neg] = total / known;
    } else if (known != total)
        NERR(m, XF_ERR_SHAPE, "reshape from %lld to %lld elements", (long long)total, (long long)known);
    return XF_OK;
}

/* Tries to fold the current node: *done = 1 when it produced constants. */
static xf_status try_fold(imp *m, int *done) {
    const char *op = m->node->op_type;
    int nin = n_inputs(m);
    *done = 0;
    xf_status st;
    if (!strcmp(op, "Constant")) {
        imp_val *o;
        const Onnx__AttributeProto *a;
        if ((a = attr(m->node, "value")) && a->t) {
            if ((size_t)0 >= m->node->n_output || !m->node->output[0]) NERR(m, XF_ERR_FORMAT, "no output");
            if ((st = val_new(m, m->node->output[0], &o))) return st;
            if ((st = load_tensor(m, a->t, o))) return st;
        } else if ((a = attr(m->node, "value_float")) && a->has_f) {
            if ((st = out_const(m, 0, 0, 0, NULL, &o))) return st;
            o->f[0] = a->f;
        } else if ((a = attr(m->node, "value_int")) && a->has_i) {
            if ((st = out_const(m, 0, 1, 0, NULL, &o))) return st;
            o->i[0] = a->i;
        } else if ((a = attr(m->node, "value_ints"))) {
            int64_t d = (int64_t)a->n_ints;
            if ((st = out_const(m, 0, 1, 1, &d, &o))) return st;
            if (a->n_ints) memcpy(o->i, a->ints, a->n_ints * sizeof *o->i);
        } else if ((a = attr(m->node, "value_floats"))) {
            int64_t d = (int64_t)a->n_floats;
            if ((st = out_const(m, 0, 0, 1, &d, &o))) return st;
            if (a->n_floats) memcpy(o->f, a->floats, a->n_floats * sizeof *o->f);
        } else
            NERR(m, XF_ERR_UNSUPPORTED, "no supported value attribute");
        *done = 1;
        return XF_OK;
    }
    imp_val *x = in_val(m, 0);
    if (!strcmp(op, "Shape")) {
        if (!x) NERR(m, XF_ERR_FORMAT, "missing input");
        int nd = x->kind == IV_ACT ? gval(m, x)->ndim : x->ndim;
        const int64_t *d = x->kind == IV_ACT ? gval(m, x)->shape : x->dims; /* both stay put during out_const */
        int64_t lo = attr_i(m->node, "start", 0), hi = attr_i(m->node, "end", nd);
        if (lo < 0) lo += nd;
        if (hi < 0) hi += nd;
        lo = lo < 0 ? 0 : lo > nd ? nd : lo;
        hi = hi < lo ? lo : hi > nd ? nd : hi;
        int64_t len = hi - lo;
        imp_val *o;
        if ((st = out_const(m, 0, 1, 1, &len, &o))) return st;
        for (int64_t k = 0; k < len; k++) {
            o->i[k] = d[lo + k];
            o->sym[k] = d[lo + k] < 0;
        }
        *done = 1;
        return XF_OK;
    }
    /* the rest fold only when every present input is a constant */
    for (int k = 0; k < nin; k++) {
        imp_val *v = in_val(m, k);
        if (m->node->input[k] && m->node->input[k][0] && !v) return XF_OK; /* reported by the caller */
        if (v && v->kind != IV_CONST) return XF_OK;
    }
    if (!x && strcmp(op, "ConstantOfShape")) return XF_OK;
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
        st = fold_copy_shape(m, x, x->ndim, x->dims);
    } else if (!strcmp(op, "Gather") && nin == 2 && in_val(m, 1)) {
        st = fold_gather(m, x, in_val(m, 1));
    } else if (!strcmp(op, "Concat")) {
        st = fold_concat(m);
    } else if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) {
        const int64_t *ax;
        int na, nd = 0;
        int64_t d[MAXD];
        if ((st = get_axes(m, &ax, &na))) return st;
        if (op[0] == 'U') {
            if (na < 0) NERR(m, XF_ERR_FORMAT, "Unsqueeze without axes");
            st = unsqueeze_dims(m, x->ndim, x->dims, ax, na, &nd, d);
        } else
            st = squeeze_dims(m, x->ndim, x->dims, ax, na, &nd, d);
        if (!st) st = fold_copy_shape(m, x, nd, d);
    } else if (!strcmp(op, "Cast")) {
        int64_t to = attr_i(m->node, "to", 0);
        int want_int = dtype_is_int((int)to);
        if (!dtype_bytes((int)to)) NERR(m, XF_ERR_UNSUPPORTED, "cast to type %lld", (long long)to);
        imp_val *o;
        if ((st = out_const(m, 0, want_int, x->ndim, x->dims, &o))) return st;
        for (int64_t k = 0; k < x->n; k++) {
            if (want_int && x->is_int) { o->i[k] = x->i[k]; o->sym[k] = x->sym[k]; }
            else if (want_int) {
                float f = x->f[k];
                if (!(f > -9.2e18f && f < 9.2e18f)) NERR(m, XF_ERR_NUMERIC, "cast of a non-finite value");
                o->i[k] = (int64_t)f;
            } else {
                if (x->is_int && x->sym[k]) NERR(m, XF_ERR_UNSUPPORTED, "cast of the batch size to float");
                o->f[k] = x->is_int ? (float)x->i[k] : x->f[k];
            }
        }
    } else if (!strcmp(op, "Slice")) {
        st = fold_slice(m, x);
    } else if (!strcmp(op, "Reshape") || !strcmp(op, "Flatten")) {
        int64_t d[MAXD];
        int nd;
        if (op[0] == 'R') {
            const int64_t *t;
            int nt;
            if ((st = in_ints(m, 1, &t, &nt, 1))) return st;
            if ((st = reshape_dims(m, x->dims, x->ndim, t, nt, (int)attr_i(m->node, "allowzero", 0), d))) return st;
            nd = nt;
        } else {
            int64_t ax = norm_axis(attr_i(m->node, "axis", 1), x->ndim);
            if (ax < 0 || ax > x->ndim) NERR(m, XF_ERR_FORMAT, "bad axis");
            d[0] = prod(x->dims, (int)ax);
            d[1] = prod(x->dims + ax, x->ndim - (int)ax);
            nd = 2;
        }
        st = fold_copy_shape(m, x, nd, d);
    } else if ((!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) && nin == 2 &&
               in_val(m, 1)) {
        st = fold_binary(m, op, x, in_val(m, 1));
    } else if (!strcmp(op, "ConstantOfShape")) {
        const int64_t *d;
        int nd;
        if ((st = in_ints(m, 0, &d, &nd, 1))) return st;
        const Onnx__AttributeProto *a = attr(m->node, "value");
        imp_val tmp;
        memset(&tmp, 0, sizeof tmp);
        int is_int = 0;
        float fv = 0;
        int64_t iv = 0;
        if (a && a->t) {
            tmp.name = m->node->output[0];
            if ((st = load_tensor(m, a->t, &tmp))) { const_free(m, &tmp); return st; }
            if (tmp.n != 1) { const_free(m, &tmp); NERR(m, XF_ERR_FORMAT, "value must have one element"); }
            is_int = tmp.is_int;
            if (is_int) iv = tmp.i[0]; else fv = tmp.f[0];
            const_free(m, &tmp);
        }
        imp_val *o;
        if ((st = out_const(m, 0, is_int, nd, d, &o))) return st;
        for (int64_t k = 0; k < o->n; k++) {
            if (is_int) o->i[k] = iv; else o->f[k] = fv;
        }
    } else if (!strcmp(op, "Transpose")) {
        int np;
        const int64_t *p = attr_ints(m->node, "perm", &np);
        int64_t perm[MAXD], d[MAXD];
        for (int k = 0; k < x->ndim; k++) perm[k] = np < 0 ? x->ndim - 1 - k : (k < np ? p[k] : -1);
        if (np >= 0 && np != x->ndim) NERR(m, XF_ERR_FORMAT, "perm length");
        unsigned char seen[MAXD] = {0};
        for (int k = 0; k < x->ndim; k++) {
            if (perm[k] < 0 || perm[k] >= x->ndim || seen[perm[k]]) NERR(m, XF_ERR_FORMAT, "bad perm");
            seen[perm[k]] = 1;
            d[k] = x->dims[perm[k]];
        }
        imp_val *o;
        if ((st = out_const(m, 0, x->is_int, x->ndim, d, &o))) return st;
        int64_t idx[MAXD] = {0}, str[MAXD];
        for (int k = x->ndim - 1, s = 1; k >= 0; k--) { str[k] = s; s *= (int)x->dims[k]; }
        for (int64_t q = 0; q < o->n; q++) {
            int64_t src = 0;
            for (int k = 0; k < x->ndim; k++) src += idx[k] * str[perm[k]];
            el_copy(o, q, x, src);
            for (int k = x->ndim - 1; k >= 0; k--) {
                if (++idx[k] < d[k]) break;
                idx[k] = 0;
            }
        }
    } else
        return XF_OK;
    if (st) return st;
    *done = 1;
    return XF_OK;
}

/* ---------------------------------------------------------------------------------- */
/* runtime ops                                                                        */

static xf_status out_act(imp *m, int k, int ndim, const int64_t *shape, int *id) {
    if ((size_t)k >= m->node->n_output || !m->node->output[k] || !m->node->output[k][0])
        NERR(m, XF_ERR_FORMAT, "output %d missing", k);
    imp_val *v;
    xf_status st = act_new(m, m->node->output[k], ndim, shape, &v);
    if (st) return st;
    *id = v->vid;
    return XF_OK;
}

/* Extra outputs (BatchNorm training stats, MaxPool indices, Dropout mask) must be unused. */
static xf_status extra_outputs_unused(imp *m, int from, const int *uses_of) {
    for (size_t k = (size_t)from; k < m->node->n_output; k++)
        if (m->node->output[k] && m->node->output[k][0] && uses_of[k])
            NERR(m, XF_ERR_UNSUPPORTED, "output %zu ('%s') is used but not supported", k, m->node->output[k]);
    return XF_OK;
}

static xf_status op_conv_pool(imp *m, xf_op op, imp_val *x) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    xf_value xcopy = *gval(m, x); /* values may move as parameters are added */
    const xf_value *xv = &xcopy;
    if (xv->ndim != 4) NERR(m, XF_ERR_UNSUPPORTED, "only 2-D %s on NCHW input is supported (input rank %d)",
                            op == XF_OP_CONV ? "convolution" : "pooling", xv->ndim);
    xf_node_attr a;
    xf_node_attr_default(op, &a);
    int in[3], nin = 1;
    in[0] = x->vid;
    int64_t C = xv->shape[1], M = C;
    if (op == XF_OP_CONV) {
        imp_val *w = in_val(m, 1), *b = in_val(m, 2);
        if (!w || !is_const(w) || w->ndim != 4) NERR(m, XF_ERR_UNSUPPORTED, "weights must be a constant 4-D tensor");
        a.group = attr_i(m->node, "group", 1);
        if (a.group < 1 || C % a.group || w->dims[1] * a.group != C || w->dims[0] % a.group)
            NERR(m, XF_ERR_SHAPE, "weights %lldx%lld for %lld input channels in %lld groups", (long long)w->dims[0],
                 (long long)w->dims[1], (long long)C, (long long)a.group);
        M = w->dims[0];
        a.kernel[0] = w->dims[2];
        a.kernel[1] = w->dims[3];
        if (b && (!is_const(b) || b->n != M)) NERR(m, XF_ERR_SHAPE, "bias must be a constant of %lld values", (long long)M);
        if ((st = materialize(m, w, &in[1]))) return st;
        nin = 2;
        if (b) {
            if ((st = materialize(m, b, &in[2]))) return st;
            nin = 3;
        }
    }
    int nk;
    const int64_t *k = attr_ints(m->node, "kernel_shape", &nk);
    if (op == XF_OP_CONV) {
        if (nk >= 0 && (nk != 2 || k[0] != a.kernel[0] || k[1] != a.kernel[1]))
            NERR(m, XF_ERR_SHAPE, "kernel_shape does not match the weights");
    } else if (op != XF_OP_GLOBALAVGPOOL) {
        if (nk != 2) NERR(m, XF_ERR_UNSUPPORTED, "kernel_shape must have 2 entries");
        a.kernel[0] = k[0];
        a.kernel[1] = k[1];
    }
    int64_t ho = 1, wo = 1;
    if (op != XF_OP_GLOBALAVGPOOL) {
        int n;
        const int64_t *s = attr_ints(m->node, "strides", &n);
        if (n >= 0 && n != 2) NERR(m, XF_ERR_FORMAT, "strides must have 2 entries");
        if (n == 2) a.stride[0] = s[0], a.stride[1] = s[1];
        const int64_t *d = attr_ints(m->node, "dilations", &n);
        if (n >= 0 && n != 2) NERR(m, XF_ERR_FORMAT, "dilations must have 2 entries");
        if (n == 2) a.dilation[0] = d[0], a.dilation[1] = d[1];
        const int64_t *p = attr_ints(m->node, "pads", &n);
        if (n >= 0 && n != 4) NERR(m, XF_ERR_FORMAT, "pads must have 4 entries");
        for (int j = 0; j < 4; j++) a.pads[j] = n == 4 ? p[j] : 0; /* ONNX: h_begin, w_begin, h_end, w_end */
        a.ceil_mode = (int)attr_i(m->node, "ceil_mode", 0);
        if (op == XF_OP_AVGPOOL) a.count_include_pad = (int)attr_i(m->node, "count_include_pad", 0);
        for (int j = 0; j < 2; j++)
            if (a.kernel[j] < 1 || a.stride[j] < 1 || a.dilation[j] < 1 || a.kernel[j] > 65536 || a.stride[j] > 65536 ||
                a.dilation[j] > 65536 || a.pads[j] < 0 || a.pads[j + 2] < 0 || a.pads[j] > 65536 || a.pads[j + 2] > 65536)
                NERR(m, XF_ERR_FORMAT, "kernel, strides, dilations or pads out of range");
        /* auto_pad (tf2onnx, Keras exports) */
        int same_u = attr_s(m->node, "auto_pad", "SAME_UPPER"), same_l = attr_s(m->node, "auto_pad", "SAME_LOWER");
        if (same_u || same_l) {
            for (int j = 0; j < 2; j++) {
                int64_t in_ = xv->shape[2 + j], o = (in_ + a.stride[j] - 1) / a.stride[j];
                int64_t tot = (o - 1) * a.stride[j] + a.dilation[j] * (a.kernel[j] - 1) + 1 - in_;
                if (tot < 0) tot = 0;
                a.pads[j] = same_u ? tot / 2 : tot - tot / 2;
                a.pads[j + 2] = tot - a.pads[j];
            }
        }
        ho = window_out(xv->shape[2], a.kernel[0], a.stride[0], a.dilation[0], a.pads[0], a.pads[2], a.ceil_mode);
        wo = window_out(xv->shape[3], a.kernel[1], a.stride[1], a.dilation[1], a.pads[1], a.pads[3], a.ceil_mode);
        if (ho < 1 || wo < 1) NERR(m, XF_ERR_SHAPE, "window larger than the %lldx%lld input", (long long)xv->shape[2],
                                   (long long)xv->shape[3]);
    }
    int64_t shape[4] = {xv->shape[0], M, ho, wo};
    int out;
    if ((st = out_act(m, 0, 4, shape, &out))) return st;
    return emit(m, op, in, nin, out, &a);
}

static xf_status op_unary(imp *m, xf_op op, imp_val *x, const xf_node_attr *a0) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    xf_node_attr a;
    if (a0) a = *a0;
    else xf_node_attr_default(op, &a);
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    int64_t s[MAXD];
    memcpy(s, xv->shape, sizeof s);
    int out, in = x->vid;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    return emit(m, op, &in, 1, out, &a);
}

/* Add / Mul (and Sub / Div by a constant) */
static xf_status op_binary(imp *m, const char *opn, imp_val *a, imp_val *b) {
    xf_status st;
    if (!a || !b) NERR(m, XF_ERR_FORMAT, "needs two inputs");
    int sub = opn[0] == 'S', div = opn[0] == 'D';
    if (a->kind != IV_ACT) {
        if (sub || div) NERR(m, XF_ERR_UNSUPPORTED, "a constant minus/divided by an activation is not supported");
        imp_val *t = a; a = b; b = t;
    }
    xf_op op = (opn[0] == 'A' || sub) ? XF_OP_ADD : XF_OP_MUL;
    int in[2] = {a->vid, -1};
    if (b->kind == IV_ACT) {
        if (sub || div) NERR(m, XF_ERR_UNSUPPORTED, "%s of two activations is not supported", opn);
        in[1] = b->vid;
    } else if (sub || div) {
        if (b->is_int) {
            int id;
            if ((st = materialize(m, b, &id))) return st;
        }
        float *d = xf_malloc(m->ctx, (size_t)(b->n ? b->n : 1) * sizeof *d);
        if (!d) return XF_ERR_NOMEM;
        for (int64_t k = 0; k < b->n; k++) d[k] = sub ? -b->f[k] : 1.0f / b->f[k];
        int64_t one = 1;
        st = param_new(m, b->name, sub ? "neg" : "recip", b->ndim ? b->ndim : 1, b->ndim ? b->dims : &one, d, &in[1]);
        xf_free(m->ctx, d);
        if (st) return st;
    } else if ((st = materialize(m, b, &in[1])))
        return st;
    int nd = 0;
    int64_t s[MAXD];
    if ((st = bcast(m, &m->g->values[in[0]], &m->g->values[in[1]], &nd, s))) return st;
    if (nd > MAXD) NERR(m, XF_ERR_UNSUPPORTED, "rank");
    int out;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    xf_node_attr at;
    xf_node_attr_default(op, &at);
    return emit(m, op, in, 2, out, &at);
}

/* Reshape of an activation: the batch dimension must stay first. Targets taken from
 * Shape() carry the batch flag; a static target whose first entry equals the batch size
 * the input declared (models exported without dynamic axes) is treated the same way. */
static xf_status op_reshape(imp *m, imp_val *x, imp_val *t) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    if (!t || !is_const(t) || !t->is_int || t->ndim != 1 || t->n > MAXD || t->n < 1)
        NERR(m, XF_ERR_UNSUPPORTED, "shape must be a constant 1-D integer tensor of 1..%d entries", MAXD);
    const xf_value *xv = gval(m, x);
    int allowzero = (int)attr_i(m->node, "allowzero", 0);
    int nt = (int)t->n;
    int64_t tg[MAXD];
    for (int k = 0; k < nt; k++) {
        tg[k] = t->i[k];
        if (t->sym[k]) {
            if (k == 0) tg[k] = 0;
            else NERR(m, XF_ERR_UNSUPPORTED, "the batch size may only be the first dimension of a reshape target");
        } else if (tg[k] == 0 && allowzero)
            NERR(m, XF_ERR_UNSUPPORTED, "zero-sized dimension (allowzero)");
    }
    if (xv->shape[0] >= 0) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' has no batch dimension", x->name);
    if (tg[0] > 0 && tg[0] == m->model_batch) tg[0] = 0;
    if (tg[0] != 0 && tg[0] != -1)
        NERR(m, XF_ERR_UNSUPPORTED, "reshape target changes the batch dimension (first entry %lld)", (long long)tg[0]);
    int64_t per = prod(xv->shape + 1, xv->ndim - 1), known = 1;
    int neg = -1;
    int64_t s[MAXD];
    s[0] = -1;
    for (int k = 1; k < nt; k++) {
        int64_t v = tg[k];
        if (v == 0) {
            if (k >= xv->ndim) NERR(m, XF_ERR_SHAPE, "0 in reshape target beyond the input rank");
            v = xv->shape[k];
        }
        if (v == -1) {
            if (neg >= 0 || tg[0] == -1) NERR(m, XF_ERR_SHAPE, "more than one -1 in reshape target");
            neg = k;
            continue;
        }
        if (v < 1 || known > INT64_MAX / v) NERR(m, XF_ERR_SHAPE, "bad reshape target entry %lld", (long long)v);
        s[k] = v;
        known *= v;
    }
    if (neg >= 0) {
        if (per % known) NERR(m, XF_ERR_SHAPE, "cannot infer -1: %lld elements per sample", (long long)per);
        s[neg] = per / known;
    } else if (tg[0] == -1) {
        if (known != per) NERR(m, XF_ERR_SHAPE, "reshape target does not keep the batch dimension separate");
    } else if (known != per)
        NERR(m, XF_ERR_SHAPE, "reshape from %lld to %lld elements per sample", (long long)per, (long long)known);
    xf_node_attr a;
    xf_node_attr_default(XF_OP_RESHAPE, &a);
    a.shape_n = nt;
    a.shape[0] = 0;
    for (int k = 1; k < nt; k++) a.shape[k] = s[k];
    int out, in = x->vid;
    if ((st = out_act(m, 0, nt, s, &out))) return st;
    return emit(m, XF_OP_RESHAPE, &in, 1, out, &a);
}

/* ---- GroupNorm pattern (below opset 18) -------------------------------------------- */

/* Index of the single node consuming name (uses == 1, not a graph output), else -1. */
static int sole_consumer(imp *m, const char *name, int after) {
    int found = -1;
    for (size_t k = 0; k < m->gp->n_output; k++)
        if (m->gp->output[k]->name && !strcmp(m->gp->output[k]->name, name)) return -1;
    for (size_t j = (size_t)after + 1; j < m->gp->n_node; j++) {
        const Onnx__NodeProto *n = m->gp->node[j];
        for (size_t k = 0; k < n->n_input; k++)
            if (n->input[k] && !strcmp(n->input[k], name)) {
                if (found >= 0 && found != (int)j) return -1;
                found = (int)j;
            }
    }
    return found;
}

static int is_op(const Onnx__NodeProto *n, const char *op) { return n->op_type && !strcmp(n->op_type, op); }

/* At a Reshape(x, [0|B, G, -1]): returns 1 and emits XF_OP_GROUPNORM if the PyTorch
 * pattern follows; 0 to import the nodes literally. */
static xf_status try_groupnorm(imp *m, imp_val *x, imp_val *t, int *fused) {
    *fused = 0;
    if (!x || x->kind != IV_ACT || !t || !is_const(t) || !t->is_int || t->n != 3) return XF_OK;
    const xf_value *xv = gval(m, x);
    if (xv->ndim != 4 || xv->shape[0] >= 0) return XF_OK;
    int batch0 = t->sym[0] || t->i[0] == 0 || (m->model_batch > 0 && t->i[0] == m->model_batch);
    if (!(batch0 && !t->sym[1] && t->i[1] > 0 && !t->sym[2] && t->i[2] == -1)) return XF_OK;
    int64_t C = xv->shape[1], G = t->i[1];
    if (C % G) return XF_OK;
    const Onnx__NodeProto *r1 = m->node;
    if (r1->n_output < 1) return XF_OK;
    int j1 = sole_consumer(m, r1->output[0], m->node_idx);
    if (j1 < 0) return XF_OK;
    const Onnx__NodeProto *in_ = m->gp->node[j1];
    if (!is_op(in_, "InstanceNormalization") || in_->n_input != 3 || in_->n_output < 1 || strcmp(in_->input[0], r1->output[0]))
        return XF_OK;
    int si = tab_find(m, in_->input[1]), bi = tab_find(m, in_->input[2]);
    if (si < 0 || bi < 0) return XF_OK;
    imp_val *sc = &m->v[si], *bb = &m->v[bi];
    if (!is_const(sc) || !is_const(bb) || sc->is_int || bb->is_int || sc->n != G || bb->n != G) return XF_OK;
    for (int64_t k = 0; k < G; k++)
        if (sc->f[k] != 1.0f || bb->f[k] != 0.0f) return XF_OK;
    int j2 = sole_consumer(m, in_->output[0], j1);
    if (j2 < 0) return XF_OK;
    const Onnx__NodeProto *r2 = m->gp->node[j2];
    if (!is_op(r2, "Reshape") || r2->n_input < 2 || strcmp(r2->input[0], in_->output[0]) || r2->n_output < 1) return XF_OK;
    /* the second reshape must restore x's shape: its target is Shape(x) (possibly computed
     * later in the node order) or a constant equal to it */
    int ti = tab_find(m, r2->input[1]);
    if (ti >= 0) {
        imp_val *t2 = &m->v[ti];
        if (!is_const(t2) || !t2->is_int || t2->n != 4) return XF_OK;
        for (int k = 0; k < 4; k++) {
            int ok = k == 0 ? (t2->sym[0] || t2->i[0] == 0 || (m->model_batch > 0 && t2->i[0] == m->model_batch)) : (!t2->sym[k] && (t2->i[k] == xv->shape[k] || t2->i[k] == 0));
            if (!ok) return XF_OK;
        }
    } else {
        int found = 0;
        for (int j = m->node_idx + 1; j < j2 && !found; j++) {
            const Onnx__NodeProto *s = m->gp->node[j];
            if (is_op(s, "Shape") && s->n_input == 1 && s->n_output == 1 && !strcmp(s->output[0], r2->input[1]) &&
                !strcmp(s->input[0], x->name) && !attr(s, "start") && !attr(s, "end"))
                found = 1;
        }
        if (!found) return XF_OK;
    }
    int j3 = sole_consumer(m, r2->output[0], j2);
    if (j3 < 0) return XF_OK;
    const Onnx__NodeProto *mu = m->gp->node[j3];
    if (!is_op(mu, "Mul") || mu->n_input != 2 || mu->n_output < 1) return XF_OK;
    const char *wname = !strcmp(mu->input[0], r2->output[0]) ? mu->input[1] : mu->input[0];
    int j4 = sole_consumer(m, mu->output[0], j3);
    if (j4 < 0) return XF_OK;
    const Onnx__NodeProto *ad = m->gp->node[j4];
    if (!is_op(ad, "Add") || ad->n_input != 2 || ad->n_output < 1) return XF_OK;
    const char *bname = !strcmp(ad->input[0], mu->output[0]) ? ad->input[1] : ad->input[0];
    int wi = tab_find(m, wname), bj = tab_find(m, bname);
    if (wi < 0 || bj < 0) return XF_OK;
    imp_val *w = &m->v[wi], *b = &m->v[bj];
    /* per-channel (C,1,1) or (C) constants */
    if (!is_const(w) || !is_const(b) || w->is_int || b->is_int || w->n != C || b->n != C) return XF_OK;
    if (!(w->ndim == 3 || w->ndim == 1) || w->dims[0] != C || !(b->ndim == 3 || b->ndim == 1) || b->dims[0] != C)
        return XF_OK;
    /* emit */
    xf_status st;
    int in[3] = {x->vid, -1, -1};
    int64_t cd = C;
    if ((st = param_new(m, wname, "gn_scale", 1, &cd, w->f, &in[1]))) return st;
    if ((st = param_new(m, bname, "gn_bias", 1, &cd, b->f, &in[2]))) return st;
    imp_val *o;
    if ((st = act_new(m, ad->output[0], 4, gval(m, x)->shape, &o))) return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_GROUPNORM, &a);
    a.num_groups = G;
    a.eps = attr_f(in_, "epsilon", 1e-5f);
    if ((st = emit(m, XF_OP_GROUPNORM, in, 3, o->vid, &a))) return st;
    m->skip[j1] = m->skip[j2] = m->skip[j3] = m->skip[j4] = 1;
    *fused = 1;
    return XF_OK;
}

/* ---- GELU (no ONNX op before opset 20) -------------------------------------------- */

/* A constant scalar input of node n (by index) near want, by name lookup. */
static int scalar_near(imp *m, const char *name, double want) {
    int j = tab_find(m, name);
    if (j < 0 || m->v[j].kind != IV_CONST || m->v[j].n != 1) return 0;
    double v = m->v[j].is_int ? (double)m->v[j].i[0] : m->v[j].f[0];
    return fabs(v - want) <= 1e-5 * fabs(want);
}
/* The operand of a two-input node other than name (NULL if name is not an operand). */
static const char *other_input(const Onnx__NodeProto *n, const char *name) {
    if (n->n_input != 2) return NULL;
    if (!strcmp(n->input[0], name)) return n->input[1];
    if (!strcmp(n->input[1], name)) return n->input[0];
    return NULL;
}

/* At Div(x, sqrt 2) or Mul(x, 1/sqrt 2): the erf GELU x * 0.5 * (1 + erf(x / sqrt 2)) as
 * PyTorch writes it (Mul(x, a) then Mul(., 0.5)) or as xf_onnx_export does (Mul(a, 0.5)
 * then Mul(x, .)) becomes one XF_OP_GELU. */
static xf_status try_gelu(imp *m, imp_val *x, int *fused) {
    *fused = 0;
    const Onnx__NodeProto *n0 = m->node;
    if (!x || x->kind != IV_ACT || n0->n_input != 2 || n0->n_output < 1) return XF_OK;
    int divide = !strcmp(n0->op_type, "Div");
    if (divide && strcmp(n0->input[0], x->name)) return XF_OK;
    const char *c = other_input(n0, x->name);
    if (!c || !scalar_near(m, c, divide ? 1.4142135623730951 : 0.7071067811865476)) return XF_OK;
    int j1 = sole_consumer(m, n0->output[0], m->node_idx);
    if (j1 < 0 || !is_op(m->gp->node[j1], "Erf") || m->gp->node[j1]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *erf = m->gp->node[j1];
    int j2 = sole_consumer(m, erf->output[0], j1);
    if (j2 < 0 || !is_op(m->gp->node[j2], "Add") || m->gp->node[j2]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *add = m->gp->node[j2];
    const char *one = other_input(add, erf->output[0]);
    if (!one || !scalar_near(m, one, 1.0)) return XF_OK;
    int j3 = sole_consumer(m, add->output[0], j2);
    if (j3 < 0 || !is_op(m->gp->node[j3], "Mul") || m->gp->node[j3]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *m3 = m->gp->node[j3];
    const char *o3 = other_input(m3, add->output[0]);
    if (!o3) return XF_OK;
    int with_x = !strcmp(o3, x->name), with_half = !with_x && scalar_near(m, o3, 0.5);
    if (!with_x && !with_half) return XF_OK;
    int j4 = sole_consumer(m, m3->output[0], j3);
    if (j4 < 0 || !is_op(m->gp->node[j4], "Mul") || m->gp->node[j4]->n_output < 1) return XF_OK;
    const Onnx__NodeProto *m4 = m->gp->node[j4];
    const char *o4 = other_input(m4, m3->output[0]);
    if (!o4 || !(with_x ? scalar_near(m, o4, 0.5) : !strcmp(o4, x->name))) return XF_OK;
    xf_status st;
    imp_val *o;
    int in = x->vid;
    if ((st = act_new(m, m4->output[0], gval(m, x)->ndim, gval(m, x)->shape, &o))) return st;
    xf_node_attr a;
    xf_node_attr_default(XF_OP_GELU, &a);
    a.gelu_tanh = 0;
    if ((st = emit(m, XF_OP_GELU, &in, 1, o->vid, &a))) return st;
    m->skip[j1] = m->skip[j2] = m->skip[j3] = m->skip[j4] = 1;
    *fused = 1;
    return XF_OK;
}

/* ---- activations without an engine op, written with the ones it has ----------------
 * HardSigmoid(a, b) = Clip(a x + b, 0, 1)       -> Mul(a) -> Add(b) -> Clip(0, 1)
 * HardSwish          = x * Clip(x / 6 + 1/2, 0, 1) -> HardSigmoid(1/6, 1/2) -> Mul(x)
 * LeakyRelu(a)       = a x + (1 - a) Relu(x)     -> Mul(a), Relu -> Mul(1 - a) -> Add
 * Exact up to float32 rounding of the scalings (a few ulps). */
static xf_status scalar_param(imp *m, const char *base, const char *what, float v, int *id) {
    int64_t one = 1;
    return param_new(m, base, what, 1, &one, &v, id);
}

static xf_status emit2(imp *m, xf_op op, int a, int b, int out) {
    xf_node_attr at;
    xf_node_attr_default(op, &at);
    int in[2] = {a, b};
    return emit(m, op, in, 2, out, &at);
}

static xf_status op_decomposed(imp *m, const char *op, imp_val *x) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    const xf_value *xv0 = gval(m, x);
    int nd = xv0->ndim;
    int64_t s[MAXD];
    memcpy(s, xv0->shape, sizeof s);
    const char *base = m->node->output[0];
    int xin = x->vid, out;
    if (!strcmp(op, "LeakyRelu")) {
        float alpha = attr_f(m->node, "alpha", 0.01f);
        int ca, cb, t1, t2, t3;
        if ((st = scalar_param(m, base, "alpha", alpha, &ca)) || (st = scalar_param(m, base, "one_minus_alpha", 1.0f - alpha, &cb)) ||
            (st = act_tmp(m, base, "ax", nd, s, &t1)) || (st = act_tmp(m, base, "relu", nd, s, &t2)) ||
            (st = act_tmp(m, base, "relu_scaled", nd, s, &t3)))
            return st;
        m->g->values[ca].trainable = m->g->values[cb].trainable = 0;
        xf_node_attr at;
        xf_node_attr_default(XF_OP_RELU, &at);
        if ((st = emit2(m, XF_OP_MUL, xin, ca, t1)) || (st = emit(m, XF_OP_RELU, &xin, 1, t2, &at)) ||
            (st = emit2(m, XF_OP_MUL, t2, cb, t3)) || (st = out_act(m, 0, nd, s, &out)))
            return st;
        return emit2(m, XF_OP_ADD, t1, t3, out);
    }
    int swish = !strcmp(op, "HardSwish");
    float alpha = swish ? 1.0f / 6.0f : attr_f(m->node, "alpha", 0.2f), beta = swish ? 0.5f : attr_f(m->node, "beta", 0.5f);
    int ca, cb, t1, t2, hs;
    if ((st = scalar_param(m, base, "alpha", alpha, &ca)) || (st = scalar_param(m, base, "beta", beta, &cb)) ||
        (st = act_tmp(m, base, "ax", nd, s, &t1)) || (st = act_tmp(m, base, "axb", nd, s, &t2)))
        return st;
    m->g->values[ca].trainable = m->g->values[cb].trainable = 0;
    if (swish) {
        if ((st = act_tmp(m, base, "hardsigmoid", nd, s, &hs))) return st;
    } else if ((st = out_act(m, 0, nd, s, &hs)))
        return st;
    xf_node_attr ca_;
    xf_node_attr_default(XF_OP_CLIP, &ca_);
    ca_.min = 0.0f;
    ca_.max = 1.0f;
    if ((st = emit2(m, XF_OP_MUL, xin, ca, t1)) || (st = emit2(m, XF_OP_ADD, t1, cb, t2)) ||
        (st = emit(m, XF_OP_CLIP, &t2, 1, hs, &ca_)))
        return st;
    if (!swish) return XF_OK;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    return emit2(m, XF_OP_MUL, xin, hs, out);
}

static xf_status op_softmax(imp *m, imp_val *x) {
    xf_status st;
    if ((st = need_rank(m, x, 0))) return st;
    const xf_value *xv = gval(m, x);
    int nd = xv->ndim;
    int64_t ax = norm_axis(attr_i(m->node, "axis", m->opset >= 13 ? -1 : 1), nd);
    if (ax < 0 || ax >= nd) NERR(m, XF_ERR_FORMAT, "axis out of range");
    if (ax == 0) NERR(m, XF_ERR_UNSUPPORTED, "softmax over the batch dimension");
    xf_node_attr a;
    xf_node_attr_default(XF_OP_SOFTMAX, &a);
    if (m->opset >= 13 || ax == nd - 1) {
        a.axis = ax;
        return op_unary(m, XF_OP_SOFTMAX, x, &a);
    }
    /* before opset 13: softmax over the flattened trailing dims [axis, nd) */
    int64_t fs[2] = {-1, prod(xv->shape + ax, nd - (int)ax)};
    int64_t s[MAXD];
    memcpy(s, xv->shape, sizeof s);
    if (ax != 1) NERR(m, XF_ERR_UNSUPPORTED, "opset %lld softmax with axis %lld on rank %d", (long long)m->opset,
                      (long long)ax, nd);
    int flat, sm, out, in = x->vid;
    if ((st = act_tmp(m, x->name, "flat", 2, fs, &flat))) return st;
    xf_node_attr fa;
    xf_node_attr_default(XF_OP_FLATTEN, &fa);
    fa.axis = 1;
    if ((st = emit(m, XF_OP_FLATTEN, &in, 1, flat, &fa))) return st;
    if ((st = act_tmp(m, x->name, "softmax", 2, fs, &sm))) return st;
    a.axis = 1;
    if ((st = emit(m, XF_OP_SOFTMAX, &flat, 1, sm, &a))) return st;
    if ((st = out_act(m, 0, nd, s, &out))) return st;
    xf_node_attr ra;
    xf_node_attr_default(XF_OP_RESHAPE, &ra);
    ra.shape_n = nd;
    ra.shape[0] = 0;
    for (int k = 1; k < nd; k++) ra.shape[k] = s[k];
    return emit(m, XF_OP_RESHAPE, &sm, 1, out, &ra);
}

/* One ONNX node that did not fold. */
static xf_status import_node(imp *m, const int *out_uses) {
    const Onnx__NodeProto *n = m->node;
    const char *op = n->op_type ? n->op_type : "";
    xf_status st;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        NERR(m, XF_ERR_UNSUPPORTED, "unsupported op (domain '%s')", n->domain);
    for (size_t k = 0; k < n->n_input; k++)
        if (n->input[k] && n->input[k][0] && tab_find(m, n->input[k]) < 0)
            NERR(m, XF_ERR_FORMAT, "input '%s' is not produced by an earlier node, an initializer or a graph input "
                                   "(dangling name, cycle or unsorted graph)", n->input[k]);
    if (n->n_output < 1 || !n->output[0] || !n->output[0][0]) NERR(m, XF_ERR_FORMAT, "node without output");
    imp_val *x = in_val(m, 0);
    if (!x && strcmp(op, "Constant")) NERR(m, XF_ERR_FORMAT, "missing first input");
    if (!strcmp(op, "Conv")) return op_conv_pool(m, XF_OP_CONV, x);
    if (!strcmp(op, "MaxPool")) {
        if ((st = extra_outputs_unused(m, 1, out_uses))) return st;
        return op_conv_pool(m, XF_OP_MAXPOOL, x);
    }
    if (!strcmp(op, "AveragePool")) return op_conv_pool(m, XF_OP_AVGPOOL, x);
    if (!strcmp(op, "GlobalAveragePool")) return op_conv_pool(m, XF_OP_GLOBALAVGPOOL, x);
    if (!strcmp(op, "Relu")) return op_unary(m, XF_OP_RELU, x, NULL);
    if (!strcmp(op, "Sigmoid")) return op_unary(m, XF_OP_SIGMOID, x, NULL);
    if (!strcmp(op, "HardSigmoid") || !strcmp(op, "HardSwish") || !strcmp(op, "LeakyRelu"))
        return op_decomposed(m, op, x);
    if (!strcmp(op, "Identity")) {
        /* an alias: the output name points at the same activation */
        imp_val *v;
        int vid = x->vid;
        if ((st = val_new(m, n->output[0], &v))) return st;
        v->kind = IV_ACT;
        v->vid = vid;
        return XF_OK;
    }
    if (!strcmp(op, "Dropout")) {
        if ((st = extra_outputs_unused(m, 1, out_uses))) return st;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_DROPOUT, &a);
        float r = attr_f(n, "ratio", 0.5f);
        int present;
        if (m->opset >= 12 && (st = in_scalar(m, 1, &r, &present))) return st;
        if (!(r >= 0.0f && r < 1.0f)) NERR(m, XF_ERR_FORMAT, "ratio %g out of [0, 1)", r);
        a.ratio = r;
        return op_unary(m, XF_OP_DROPOUT, x, &a);
    }
    if (!strcmp(op, "Clip")) {
        xf_node_attr a;
        xf_node_attr_default(XF_OP_CLIP, &a);
        a.min = -FLT_MAX;
        a.max = FLT_MAX;
        if (m->opset >= 11) {
            int p;
            if ((st = in_scalar(m, 1, &a.min, &p)) || (st = in_scalar(m, 2, &a.max, &p))) return st;
        } else {
            a.min = attr_f(n, "min", -FLT_MAX);
            a.max = attr_f(n, "max", FLT_MAX);
        }
        if (a.min == 0.0f && a.max == FLT_MAX) return op_unary(m, XF_OP_RELU, x, NULL);
        return op_unary(m, XF_OP_CLIP, x, &a);
    }
    if (!strcmp(op, "Add") || !strcmp(op, "Mul") || !strcmp(op, "Sub") || !strcmp(op, "Div")) {
        if (op[0] == 'M' || op[0] == 'D') {
            int fused;
            imp_val *xa = x && x->kind == IV_ACT ? x : in_val(m, 1);
            if ((st = try_gelu(m, xa, &fused))) return st;
            if (fused) return XF_OK;
        }
        return op_binary(m, op, x, in_val(m, 1));
    }
    if (!strcmp(op, "BatchNormalization")) {
        if ((st = need_rank(m, x, 0))) return st;
        if ((st = extra_outputs_unused(m, 1, out_uses))) return st;
        if (attr_i(n, "training_mode", 0)) NERR(m, XF_ERR_UNSUPPORTED, "training_mode=1 is not supported");
        int64_t C = gval(m, x)->ndim >= 2 ? gval(m, x)->shape[1] : -1;
        int in[5] = {x->vid};
        for (int k = 1; k < 5; k++) {
            imp_val *p = in_val(m, k);
            if (!p || !is_const(p) || p->n != C) NERR(m, XF_ERR_SHAPE, "input %d must be a constant of %lld values", k, (long long)C);
            if ((st = materialize(m, p, &in[k]))) return st;
            if (k >= 3) m->g->values[in[k]].trainable = 0; /* running statistics */
        }
        xf_node_attr a;
        xf_node_attr_default(XF_OP_BATCHNORM, &a);
        a.eps = attr_f(n, "epsilon", 1e-5f);
        a.momentum = attr_f(n, "momentum", 0.9f);
        int out;
        if ((st = out_act(m, 0, gval(m, x)->ndim, gval(m, x)->shape, &out))) return st;
        return emit(m, XF_OP_BATCHNORM, in, 5, out, &a);
    }
    if (!strcmp(op, "InstanceNormalization") || !strcmp(op, "GroupNormalization")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int gn = op[0] == 'G';
        if (gn && m->opset < 18) NERR(m, XF_ERR_UNSUPPORTED, "unsupported op before opset 18");
        if (xv->ndim < 3) NERR(m, XF_ERR_SHAPE, "input rank %d", xv->ndim);
        int64_t C = xv->shape[1], G = gn ? attr_i(n, "num_groups", 0) : C;
        if (G < 1 || C % G) NERR(m, XF_ERR_SHAPE, "%lld groups for %lld channels", (long long)G, (long long)C);
        imp_val *s = in_val(m, 1), *b = in_val(m, 2);
        if (!s || !b || !is_const(s) || !is_const(b) || s->is_int || b->is_int || s->n != G || b->n != G)
            NERR(m, XF_ERR_SHAPE, "scale and bias must be constants of %lld values", (long long)G);
        xf_node_attr a;
        xf_node_attr_default(gn ? XF_OP_GROUPNORM : XF_OP_INSTANCENORM, &a);
        a.eps = attr_f(n, "epsilon", 1e-5f);
        int in[3] = {x->vid, -1, -1};
        if (gn) {
            /* opset 18: scale/bias per group; the engine takes them per channel */
            a.num_groups = G;
            float *d = xf_malloc(m->ctx, (size_t)C * 2 * sizeof *d);
            if (!d) return XF_ERR_NOMEM;
            for (int64_t c = 0; c < C; c++) {
                d[c] = s->f[c / (C / G)];
                d[C + c] = b->f[c / (C / G)];
            }
            st = param_new(m, s->name, "gn_scale", 1, &C, d, &in[1]);
            if (!st) st = param_new(m, b->name, "gn_bias", 1, &C, d + C, &in[2]);
            xf_free(m->ctx, d);
            if (st) return st;
        } else if ((st = materialize(m, s, &in[1])) || (st = materialize(m, b, &in[2])))
            return st;
        int out;
        if ((st = out_act(m, 0, gval(m, x)->ndim, gval(m, x)->shape, &out))) return st;
        return emit(m, gn ? XF_OP_GROUPNORM : XF_OP_INSTANCENORM, in, 3, out, &a);
    }
    if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
        int gemm = op[0] == 'G';
        imp_val *b = in_val(m, 1), *c = gemm ? in_val(m, 2) : NULL;
        if ((st = need_rank(m, x, gemm ? 2 : 0))) return st;
        if (!b) NERR(m, XF_ERR_FORMAT, "missing input B");
        const xf_value *av = gval(m, x);
        xf_node_attr a;
        xf_node_attr_default(gemm ? XF_OP_GEMM : XF_OP_MATMUL, &a);
        int in[3] = {x->vid, -1, -1}, nin = 2;
        if ((st = materialize(m, b, &in[1]))) return st;
        xf_value acopy = *gval(m, x), bcopy = m->g->values[in[1]];
        av = &acopy;
        const xf_value *bv = &bcopy;
        int64_t s[MAXD];
        int nd;
        if (gemm) {
            a.alpha = attr_f(n, "alpha", 1.0f);
            a.beta = attr_f(n, "beta", 1.0f);
            a.transA = (int)attr_i(n, "transA", 0);
            a.transB = (int)attr_i(n, "transB", 0);
            if (a.transA) NERR(m, XF_ERR_UNSUPPORTED, "transA=1 would mix the batch dimension");
            if (bv->ndim != 2) NERR(m, XF_ERR_SHAPE, "B must be 2-D");
            int64_t K = bv->shape[a.transB ? 1 : 0], N = bv->shape[a.transB ? 0 : 1];
            if (K != av->shape[1]) NERR(m, XF_ERR_SHAPE, "A has %lld columns, B has %lld rows", (long long)av->shape[1], (long long)K);
            if (c) {
                if ((st = materialize(m, c, &in[2]))) return st;
                nin = 3;
                const xf_value *cv = &m->g->values[in[2]];
                int64_t cn = prod(cv->shape, cv->ndim);
                if (cn != N && cn != 1) NERR(m, XF_ERR_SHAPE, "C has %lld values for %lld outputs", (long long)cn, (long long)N);
            }
            nd = 2;
            s[0] = av->shape[0];
            s[1] = N;
        } else {
            if (bv->ndim != 2 || av->ndim < 2) NERR(m, XF_ERR_UNSUPPORTED, "only (..., K) x (K, N) matmul is supported");
            if (av->shape[av->ndim - 1] != bv->shape[0]) NERR(m, XF_ERR_SHAPE, "inner dimensions %lld and %lld differ",
                                                              (long long)av->shape[av->ndim - 1], (long long)bv->shape[0]);
            nd = av->ndim;
            memcpy(s, av->shape, sizeof s);
            s[nd - 1] = bv->shape[1];
        }
        int out;
        if ((st = out_act(m, 0, nd, s, &out))) return st;
        return emit(m, gemm ? XF_OP_GEMM : XF_OP_MATMUL, in, nin, out, &a);
    }
    if (!strcmp(op, "Concat")) {
        int nin = n_inputs(m);
        if (nin < 1 || nin > 4096) NERR(m, XF_ERR_UNSUPPORTED, "%d inputs", nin);
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *x0 = gval(m, x);
        int64_t ax = norm_axis(attr_i(n, "axis", 0), x0->ndim);
        if (ax <= 0 || ax >= x0->ndim) NERR(m, XF_ERR_UNSUPPORTED, "concat along axis %lld", (long long)ax);
        int in[XF_NODE_MAXIN], cnt = 0, xnd = x0->ndim;
        int64_t s[MAXD], x0s[MAXD];
        memcpy(s, x0->shape, sizeof s);
        memcpy(x0s, x0->shape, sizeof s);
        s[ax] = 0;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_CONCAT, &a);
        a.axis = ax;
        /* the engine takes at most XF_NODE_MAXIN inputs: longer lists (densenet blocks)
         * become a chain, each link concatenating the previous result with the next ones */
        for (int k = 0; k < nin; k++) {
            imp_val *v = in_val(m, k);
            if (!v) NERR(m, XF_ERR_FORMAT, "missing input %d", k);
            if ((st = need_rank(m, v, xnd))) return st;
            const xf_value *vv = gval(m, v);
            for (int j = 0; j < xnd; j++)
                if (j != ax && vv->shape[j] != x0s[j]) NERR(m, XF_ERR_SHAPE, "input '%s' has a different shape", v->name);
            in[cnt++] = v->vid;
            s[ax] += vv->shape[ax];
            if (cnt == XF_NODE_MAXIN && k < nin - 1) {
                int mid;
                if ((st = act_tmp(m, n->output[0], "concat", xnd, s, &mid))) return st;
                if ((st = emit(m, XF_OP_CONCAT, in, cnt, mid, &a))) return st;
                in[0] = mid;
                cnt = 1;
            }
        }
        int out;
        if ((st = out_act(m, 0, xnd, s, &out))) return st;
        return emit(m, XF_OP_CONCAT, in, cnt, out, &a);
    }
    if (!strcmp(op, "Flatten")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int64_t ax = norm_axis(attr_i(n, "axis", 1), xv->ndim);
        if (ax < 0 || ax > xv->ndim) NERR(m, XF_ERR_FORMAT, "axis out of range");
        for (int k = 1; k < ax; k++)
            if (xv->shape[k] != 1) NERR(m, XF_ERR_UNSUPPORTED, "flatten at axis %lld would merge the batch dimension", (long long)ax);
        if (ax == 0) NERR(m, XF_ERR_UNSUPPORTED, "flatten at axis 0 would merge the batch dimension");
        xf_node_attr a;
        xf_node_attr_default(XF_OP_FLATTEN, &a);
        a.axis = 1;
        int64_t s[2] = {-1, prod(xv->shape + 1, xv->ndim - 1)};
        int out, in = x->vid;
        if ((st = out_act(m, 0, 2, s, &out))) return st;
        return emit(m, XF_OP_FLATTEN, &in, 1, out, &a);
    }
    if (!strcmp(op, "Reshape")) {
        int fused;
        if ((st = try_groupnorm(m, x, in_val(m, 1), &fused))) return st;
        if (fused) return XF_OK;
        return op_reshape(m, x, in_val(m, 1));
    }
    if (!strcmp(op, "Softmax")) return op_softmax(m, x);
    if (!strcmp(op, "Pad")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int nd = xv->ndim;
        xf_node_attr a;
        xf_node_attr_default(XF_OP_PAD, &a);
        a.pad_mode = attr_s(n, "mode", "reflect") ? 1 : attr_s(n, "mode", "edge") ? 2 : 0;
        if (attr(n, "mode") && !a.pad_mode && !attr_s(n, "mode", "constant")) NERR(m, XF_ERR_UNSUPPORTED, "pad mode");
        const int64_t *p;
        int np;
        int64_t pads[2 * MAXD] = {0};
        if (m->opset >= 11) {
            if ((st = in_ints(m, 1, &p, &np, 1))) return st;
            int present;
            a.pad_value = 0;
            if ((st = in_scalar(m, 2, &a.pad_value, &present))) return st;
            const int64_t *ax;
            int nax;
            if ((st = in_ints(m, 3, &ax, &nax, 0))) return st;
            if (nax >= 0) {
                if (np != 2 * nax) NERR(m, XF_ERR_FORMAT, "pads has %d entries for %d axes", np, nax);
                for (int k = 0; k < nax; k++) {
                    int64_t aa = norm_axis(ax[k], nd);
                    if (aa < 0 || aa >= nd) NERR(m, XF_ERR_FORMAT, "bad axis");
                    pads[aa] = p[k];
                    pads[nd + aa] = p[nax + k];
                }
                np = 2 * nd;
                p = pads;
            }
        } else {
            p = attr_ints(n, "pads", &np);
            a.pad_value = attr_f(n, "value", 0.0f);
        }
        if (np != 2 * nd) NERR(m, XF_ERR_FORMAT, "pads has %d entries for rank %d", np, nd);
        int64_t s[MAXD];
        int zero = 1;
        for (int k = 0; k < nd; k++) {
            if (p[k] < 0 || p[nd + k] < 0 || p[k] > 65536 || p[nd + k] > 65536)
                NERR(m, XF_ERR_UNSUPPORTED, "negative or huge pads");
            if (k == 0 && (p[0] || p[nd])) NERR(m, XF_ERR_UNSUPPORTED, "padding the batch dimension");
            s[k] = k == 0 ? -1 : xv->shape[k] + p[k] + p[nd + k];
            if (p[k] || p[nd + k]) zero = 0;
            a.pad_amounts[k] = p[k];
            a.pad_amounts[nd + k] = p[nd + k];
        }
        a.pad_n = 2 * nd;
        if (zero) { /* PyTorch writes all-zero Pads before some pools: an alias */
            imp_val *v;
            int vid = x->vid;
            if ((st = val_new(m, n->output[0], &v))) return st;
            v->kind = IV_ACT;
            v->vid = vid;
            return XF_OK;
        }
        int out, in = x->vid;
        if ((st = out_act(m, 0, nd, s, &out))) return st;
        return emit(m, XF_OP_PAD, &in, 1, out, &a);
    }
    if (!strcmp(op, "Transpose")) {
        if ((st = need_rank(m, x, 0))) return st;
        const xf_value *xv = gval(m, x);
        int nd = xv->ndim, np;
        const int64_t *p = attr_ints(n, "perm", &np);
        if (np >= 0 && np != nd) NERR(m, XF_ERR_FORMAT, "perm has %d entries for rank %d", np, nd);
        xf_node_attr a;
        xf_node_attr_default(XF_OP_TRANSPOSE, &a);
        unsigned char seen[MAXD] = {0};
        int64_t s[MAXD];
        for (int k = 0; k < nd; k++) {
            int64_t q = np >= 0 ? p[k] : nd - 1 - k;
            if (q < 0 || q >= nd || seen[q]) NERR(m, XF_ERR_FORMAT, "bad perm");
            seen[q] = 1;
            a.perm[k] = q;
            s[k] = xv->shape[q];
        }
        if (a.perm[0] != 0) NERR(m, XF_ERR_UNSUPPORTED, "transpose moving the batch dimension");
        a.perm_n = nd;
        int out, in = x->vid;
        if ((st = out_act(m, 0, nd, s, &out))) return st;
        return emit(m, XF_OP_TRANSPOSE, &in, 1, out, &a);
    }
    if (!strcmp(op, "ReduceMean")) {
        if ((st = need_rank(m, x, 4))) return st;
        const int64_t *ax;
        int na;
        if (m->opset >= 18) {
            if ((st = in_ints(m, 1, &ax, &na, 0))) return st;
        } else
            ax = attr_ints(n, "axes", &na);
        int keep = (int)attr_i(n, "keepdims", 1);
        int hw = na == 2 && ((norm_axis(ax[0], 4) == 2 && norm_axis(ax[1], 4) == 3) ||
                             (norm_axis(ax[0], 4) == 3 && norm_axis(ax[1], 4) == 2));
        if (!hw) NERR(m, XF_ERR_UNSUPPORTED, "only the mean over H and W (axes 2, 3) is supported");
        const xf_value *xv = gval(m, x);
        int64_t s4[4] = {-1, xv->shape[1], 1, 1}, s2[2] = {-1, xv->shape[1]};
        xf_node_attr a;
        xf_node_attr_default(XF_OP_GLOBALAVGPOOL, &a);
        int in = x->vid, out;
        if (keep) {
            if ((st = out_act(m, 0, 4, s4, &out))) return st;
            return emit(m, XF_OP_GLOBALAVGPOOL, &in, 1, out, &a);
        }
        int mid;
        if ((st = act_tmp(m, n->output[0], "gap", 4, s4, &mid))) return st;
        if ((st = emit(m, XF_OP_GLOBALAVGPOOL, &in, 1, mid, &a))) return st;
        if ((st = out_act(m, 0, 2, s2, &out))) return st;
        xf_node_attr_default(XF_OP_FLATTEN, &a);
        a.axis = 1;
        return emit(m, XF_OP_FLATTEN, &mid, 1, out, &a);
    }
    static const char *folding_only[] = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Slice", "ConstantOfShape", NULL};
    for (int k = 0; folding_only[k]; k++)
        if (!strcmp(op, folding_only[k])) NERR(m, XF_ERR_UNSUPPORTED, "supported only on constant (shape) inputs");
    NERR(m, XF_ERR_UNSUPPORTED, "unsupported op");
}

/* ---------------------------------------------------------------------------------- */
/* driver                                                                             */

static xf_status import_graph(imp *m, const Onnx__ModelProto *mp) {
    xf_ctx_t *ctx = m->ctx;
    const Onnx__GraphProto *gp = mp->graph;
    xf_status st;
    if (!gp) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no graph (not an ONNX model?)", m->file);
    m->gp = gp;
    /* opset of the default domain */
    m->opset = -1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[k];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) m->opset = o->has_version ? o->version : -1;
    }
    if (m->opset < 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no opset for the default ONNX domain", m->file);
    if (m->opset < XF_ONNX_OPSET_MIN || m->opset > XF_ONNX_OPSET_MAX)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: opset %lld is not supported (%d..%d)", m->file, (long long)m->opset,
                      XF_ONNX_OPSET_MIN, XF_ONNX_OPSET_MAX);
    if (gp->n_node == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: the graph has no nodes", m->file);
    size_t names = gp->n_initializer + gp->n_input + 1;
    for (size_t j = 0; j < gp->n_node; j++) names += gp->node[j]->n_output;
    if (names > (size_t)INT_MAX / 2) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: too many tensors", m->file);
    m->capv = (int)names;
    m->v = xf_calloc(ctx, names, sizeof *m->v);
    if (!m->v) return XF_ERR_NOMEM;
    if ((st = xf_graph_create(ctx, &m->g))) return st;
    m->g->opset = m->opset;
    if (gp->name && gp->name[0]) {
        size_t l = strlen(gp->name);
        m->g->name = xf_malloc(ctx, l + 1);
        if (!m->g->name) return XF_ERR_NOMEM;
        memcpy(m->g->name, gp->name, l + 1);
    }
    /* initializers; each one's raw bytes are released once converted, so a big model
     * is not held twice */
    for (size_t k = 0; k < gp->n_initializer; k++) {
        Onnx__TensorProto *t = gp->initializer[k];
        imp_val *v;
        if ((st = val_new(m, t->name, &v))) return st;
        if ((st = load_tensor(m, t, v))) return st;
        if (t->has_raw_data && t->raw_data.data && m->pa) {
            m->pa->free(m->pa->allocator_data, t->raw_data.data);
            t->raw_data.data = NULL;
            t->raw_data.len = 0;
            t->has_raw_data = 0;
        }
    }
    /* the image input: the one graph input that is not an initializer */
    int found = 0;
    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        if (!vi->name || tab_find(m, vi->name) >= 0) continue;
        if (found) return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: more than one graph input ('%s')", m->file, vi->name);
        found = 1;
        const Onnx__TypeProto *tp = vi->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type || !tp->tensor_type->shape)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s' has no tensor shape", m->file, vi->name);
        if (tp->tensor_type->has_elem_type && tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s' is not float32", m->file, vi->name);
        const Onnx__TensorShapeProto *sp = tp->tensor_type->shape;
        if (sp->n_dim < 2 || sp->n_dim > MAXD)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s' has rank %zu", m->file, vi->name, sp->n_dim);
        int64_t s[MAXD];
        for (size_t j = 0; j < sp->n_dim; j++) {
            const Onnx__TensorShapeProto__Dimension *d = sp->dim[j];
            int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0;
            if (j == 0) {
                s[0] = -1;
                m->model_batch = known ? d->dim_value : 0;
            } else if (!known || d->dim_value > (1 << 24))
                return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s': dimension %zu is not a fixed size", m->file,
                              vi->name, j);
            else
                s[j] = d->dim_value;
        }
        imp_val *v;
        if ((st = act_new(m, vi->name, (int)sp->n_dim, s, &v))) return st;
        m->g->input = v->vid;
    }
    if (!found) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: the graph has no input besides initializers", m->file);
    if (gp->n_output < 1) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: the graph has no outputs", m->file);
    m->skip = xf_calloc(ctx, gp->n_node, 1);
    if (!m->skip) return XF_ERR_NOMEM;
    /* Constant nodes first: they have no inputs, and patterns (GroupNorm) look ahead at
     * constants PyTorch places after the node where the pattern starts */
    for (size_t j = 0; j < gp->n_node; j++) {
        const Onnx__NodeProto *n = gp->node[j];
        if (!n->op_type || strcmp(n->op_type, "Constant") || n->n_input || (n->domain && n->domain[0])) continue;
        m->node = n;
        m->node_idx = (int)j;
        int done = 0;
        if ((st = try_fold(m, &done))) return st;
        m->skip[j] = 1;
    }
    /* nodes */
    int out_uses[16];
    for (size_t j = 0; j < gp->n_node; j++) {
        if (m->skip[j]) continue;
        m->node = gp->node[j];
        m->node_idx = (int)j;
        const Onnx__NodeProto *n = m->node;
        if (!n->op_type || !n->op_type[0]) {
            char nb[256];
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: node '%s' has no op type", m->file, node_label(m, nb, sizeof nb));
        }
        if (n->n_input > 1024 || n->n_output > 16) NERR(m, XF_ERR_FORMAT, "%zu inputs, %zu outputs", n->n_input, n->n_output);
        /* which extra outputs are used (by later nodes or as graph outputs) */
        for (size_t k = 0; k < n->n_output; k++) {
            out_uses[k] = 0;
            const char *on = n->output[k];
            if (!on || !on[0]) continue;
            for (size_t q = 0; q < gp->n_output && !out_uses[k]; q++)
                if (gp->output[q]->name && !strcmp(gp->output[q]->name, on)) out_uses[k] = 1;
            if (k > 0)
                for (size_t q = j + 1; q < gp->n_node && !out_uses[k]; q++)
                    for (size_t r = 0; r < gp->node[q]->n_input; r++)
                        if (gp->node[q]->input[r] && !strcmp(gp->node[q]->input[r], on)) { out_uses[k] = 1; break; }
        }
        int done = 0;
        int dom_ok = !n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx");
        if (dom_ok && (st = try_fold(m, &done))) return st;
        if (done) continue;
        if ((st = import_node(m, out_uses))) return st;
    }
    /* outputs */
    m->g->outputs = xf_calloc(ctx, gp->n_output, sizeof *m->g->outputs);
    if (!m->g->outputs) return XF_ERR_NOMEM;
    for (size_t k = 0; k < gp->n_output; k++) {
        const char *on = gp->output[k]->name;
        int j = tab_find(m, on);
        if (j < 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: graph output '%s' is not produced by any node", m->file, on ? on : "");
        if (m->v[j].kind != IV_ACT)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: graph output '%s' is a constant", m->file, on);
        m->g->outputs[m->g->n_outputs++] = m->v[j].vid;
    }
    st = xf_graph_infer_shapes(m->g);
    if (st) xf_error_prefix(ctx, m->file);
    return st;
}

static void imp_cleanup(imp *m) {
    for (int k = 0; k < m->nv; k++) const_free(m, &m->v[k]);
    xf_free(m->ctx, m->v);
    xf_free(m->ctx, m->tab);
    xf_free(m->ctx, m->skip);
}

static xf_status import_buf(xf_ctx_t *ctx, const uint8_t *buf, size_t len, const char *name, const char *dir,
                            xf_graph **out) {
    *out = NULL;
    if (len == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: empty file", name);
    if (xf_onnx_wire_check(&onnx__model_proto__descriptor, buf, len, 0))
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an ONNX model (malformed protobuf or nesting deeper than %d)", name,
                      XF_ONNX_MAX_DEPTH);
    ProtobufCAllocator pa;
    xf_onnx_pb_allocator(ctx, &pa);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pa, len, buf);
    if (!mp) {
        if (xf_last_status(ctx) == XF_ERR_NOMEM) return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory while parsing", name);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an ONNX model (protobuf parse failed)", name);
    }
    imp m;
    memset(&m, 0, sizeof m);
    m.ctx = ctx;
    m.file = name;
    m.dir = dir;
    m.pa = &pa;
    xf_status st = import_graph(&m, mp);
    imp_cleanup(&m);
    onnx__model_proto__free_unpacked(mp, &pa);
    if (st) {
        if (st == XF_ERR_NOMEM && !strstr(xf_errmsg(ctx), name)) xf_error_prefix(ctx, name);
        xf_graph_free(m.g);
        return st;
    }
    *out = m.g;
    return XF_OK;
}

xf_status xf_onnx_import_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_graph **out) {
    if (!ctx || !out || (!buf && len)) return ctx ? XF_ERR(ctx, XF_ERR_INVALID, "xf_onnx_import_mem: NULL argument") : XF_ERR_INVALID;
    return import_buf(ctx, buf, len, name ? name : "<memory>", NULL, out);
}

xf_status xf_onnx_import(xf_ctx_t *ctx, const char *path, xf_graph **out) {
    if (!ctx || !path || !out) return ctx ? XF_ERR(ctx, XF_ERR_INVALID, "xf_onnx_import: NULL argument") : XF_ERR_INVALID;
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return XF_ERR(ctx, XF_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return XF_ERR(ctx, XF_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        close(fd);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: empty file", path);
    }
    /* mapped, not copied: a 500 MB model costs its page cache, not another buffer */
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    char *dir = xf_malloc(ctx, strlen(path) + 2);
    xf_status st;
    if (!dir) st = XF_ERR_NOMEM;
    else {
        strcpy(dir, path);
        char *sl = strrchr(dir, '/');
        if (sl) *(sl == dir ? sl + 1 : sl) = 0;
        else strcpy(dir, ".");
        st = import_buf(ctx, map, len, path, dir, out);
    }
    xf_free(ctx, dir);
    munmap(map, len);
    return st;
}
