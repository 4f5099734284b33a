/* ONNX importer, part 1: the name table (ONNX tensor name -> activation or constant), the
 * decoding and validation of TensorProtos (initializers, Constant values, external data
 * confined to the model directory) into importer constants, and constant node inputs.
 * See onnx_import.c for the design; onnx_importInt.h for the shared state. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer/files.h"
#include "onnx_importInt.h"

/* ---------------------------------------------------------------------------------- */
/* name table                                                                         */

int xf_onnx_tab_find(const imp *m, const char *name) {
    if (!name || !m->tabcap) return -1;
    size_t mask = m->tabcap - 1, k = (size_t)xf_fnv1a_str(name) & mask;
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
        size_t k = (size_t)xf_fnv1a_str(m->v[j].name) & (cap - 1);
        while (t[k] >= 0) k = (k + 1) & (cap - 1);
        t[k] = j;
    }
    xf_free(m->ctx, m->tab);
    m->tab = t;
    m->tabcap = cap;
    return XF_OK;
}

/* Adds a name; fails if it exists (ONNX names are single-assignment). */
xf_status xf_onnx_val_new(imp *m, const char *name, imp_val **out) {
    if (!name || !name[0]) return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: a tensor has an empty name", m->file);
    if (xf_onnx_tab_find(m, name) >= 0) return XF_ERR(m->ctx, XF_ERR_FORMAT, "%s: tensor '%s' is defined twice", m->file, name);
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
    size_t mask = m->tabcap - 1, k = (size_t)xf_fnv1a_str(name) & mask;
    while (m->tab[k] >= 0) k = (k + 1) & mask;
    m->tab[k] = m->nv++;
    *out = v;
    return XF_OK;
}

void xf_onnx_const_free(imp *m, imp_val *v) {
    if (!v->f_borrowed) xf_free(m->ctx, v->f);
    xf_free(m->ctx, v->i);
    xf_free(m->ctx, v->sym);
    v->f = NULL;
    v->i = NULL;
    v->sym = NULL;
}

/* ---------------------------------------------------------------------------------- */
/* constants                                                                          */


/* Element count of dims, or -1 on a negative dim / overflow past limit. */
int64_t xf_onnx_count_checked(const int64_t *d, size_t n, int64_t limit) {
    int64_t p = 1;
    for (size_t k = 0; k < n; k++) {
        if (d[k] < 0) return -1;
        if (d[k] && p > limit / d[k]) return -1;
        p *= d[k];
    }
    return p;
}

/* Allocates the data arrays of a constant with the given shape. */
xf_status xf_onnx_const_alloc(imp *m, imp_val *v, int is_int, int ndim, const int64_t *dims) {
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

int xf_onnx_dtype_is_int(int dt) {
    return dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT16 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT16 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT64 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
}

size_t xf_onnx_dtype_bytes(int dt) {
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
    size_t nb = xf_onnx_dtype_bytes(dt);
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
    fd = open(rfile, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO never blocks the import */
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        st = XF_ERR(m->ctx, XF_ERR_IO, "%s: initializer '%s': cannot read external data file '%s'", m->file, t->name, loc);
        goto done;
    }
    if ((st = xf_out_input(m->ctx, rfile))) goto done; /* an input no output of the command may replace */
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
xf_status xf_onnx_load_tensor(imp *m, const Onnx__TensorProto *t, imp_val *v) {
    const char *tn = t->name ? t->name : "";
    int dt = t->has_data_type ? t->data_type : 0;
    size_t nb = xf_onnx_dtype_bytes(dt);
    if (!nb || dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32 + 100)
        return XF_ERR(m->ctx, XF_ERR_UNSUPPORTED, "%s: tensor '%s': data type %d is not supported", m->file, tn, dt);
    if (t->n_dims > MAXD)
        return XF_ERR(m->ctx, XF_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)", m->file, tn, t->n_dims, MAXD);
    int64_t n = xf_onnx_count_checked(t->dims, t->n_dims, INT64_MAX / 16);
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
    xf_status st = xf_onnx_const_alloc(m, v, xf_onnx_dtype_is_int(dt), (int)t->n_dims, t->dims);
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

/* Input k: NULL when absent (index beyond the list or empty name). */
imp_val *xf_onnx_in_val(imp *m, int k) {
    if ((size_t)k >= m->node->n_input || !m->node->input[k] || !m->node->input[k][0]) return NULL;
    int j = xf_onnx_tab_find(m, m->node->input[k]);
    return j >= 0 ? &m->v[j] : NULL;
}

/* Constant input k as a short int64 list (axes, pads, shapes). */
xf_status xf_onnx_in_ints(imp *m, int k, const int64_t **vals, int *cnt, int required) {
    imp_val *v = xf_onnx_in_val(m, k);
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
xf_status xf_onnx_in_scalar(imp *m, int k, float *out, int *present) {
    imp_val *v = xf_onnx_in_val(m, k);
    *present = 0;
    if (!v) return XF_OK;
    if (v->kind != IV_CONST || v->n != 1) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' must be a constant scalar", v->name);
    if (v->is_int && v->sym[0]) NERR(m, XF_ERR_UNSUPPORTED, "input '%s' depends on the batch size", v->name);
    *out = v->is_int ? (float)v->i[0] : v->f[0];
    *present = 1;
    return XF_OK;
}

/* ---------------------------------------------------------------------------------- */
/* a serialized TensorProto on its own (ONNX test data: input_0.pb, output_0.pb)     */

xf_status xf_onnx_tensor_read(xf_ctx_t *ctx, const char *path, xf_array *out) {
    if (!ctx || !path || !out) return ctx ? XF_ERR(ctx, XF_ERR_INVALID, "xf_onnx_tensor_read: NULL argument") : XF_ERR_INVALID;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size <= 0 || sb.st_size > ((off_t)1 << 31)) {
        fclose(f);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not a regular, non-empty file under 2 GiB", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = xf_malloc(ctx, len);
    if (!buf) {
        fclose(f);
        return XF_ERR_NOMEM;
    }
    size_t rd = fread(buf, 1, len, f);
    fclose(f);
    if (rd != len) {
        xf_free(ctx, buf);
        return XF_ERR(ctx, XF_ERR_IO, "%s: short read", path);
    }
    xf_status st = XF_OK;
    Onnx__TensorProto *t = NULL;
    ProtobufCAllocator pa;
    xf_onnx_pb_allocator(ctx, &pa);
    if (xf_onnx_wire_check(&onnx__tensor_proto__descriptor, buf, len, 0) ||
        !(t = onnx__tensor_proto__unpack(&pa, len, buf))) {
        xf_free(ctx, buf);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not a serialized ONNX TensorProto", path);
    }
    /* decoded by the importer's own path (same checks as initializers; no external data) */
    imp m;
    memset(&m, 0, sizeof m);
    m.ctx = ctx;
    m.file = path;
    imp_val v;
    memset(&v, 0, sizeof v);
    v.name = t->name ? t->name : "";
    st = xf_onnx_load_tensor(&m, t, &v);
    if (!st) {
        int64_t dims[MAXD];
        for (int k = 0; k < v.ndim; k++) dims[k] = v.dims[k];
        st = xf_array_alloc(ctx, out, XF_DT_F32, v.ndim, dims);
        if (!st) {
            float *d = out->data;
            for (int64_t k = 0; k < v.n; k++) d[k] = v.is_int ? (float)v.i[k] : v.f[k];
        }
    }
    xf_onnx_const_free(&m, &v);
    onnx__tensor_proto__free_unpacked(t, &pa);
    xf_free(ctx, buf);
    return st;
}
