/* .npy reader and writer. Format (numpy/lib/format.py, NEP 1):
 *   magic "\x93NUMPY", major, minor (1.0, 2.0, 3.0),
 *   header length: uint16 LE (v1) or uint32 LE (v2, v3),
 *   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }
 *   padded with spaces and ended by '\n' (v3: UTF-8), then the raw data.
 * The header is parsed by a strict little tokenizer: exactly the three keys, each once;
 * only simple dtypes. Sizes are checked for overflow and against the bytes actually
 * present before the data buffer is allocated; trailing bytes are an error too, since
 * they mean the declared shape is not the one the writer meant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer/npy.h"
#include "xfer/files.h"

#define NPY_MAX_HEADER (1 << 20)

typedef struct {
    xf_dtype dt;
    int big;     /* big-endian data */
    int fortran;
    int ndim;
    int64_t shape[XF_ARRAY_MAXDIM];
} npy_hdr;

typedef struct {
    const char *s, *e;
} cur;

static void skip_ws(cur *c) {
    while (c->s < c->e && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}
static int eat(cur *c, char ch) {
    skip_ws(c);
    if (c->s < c->e && *c->s == ch) { c->s++; return 1; }
    return 0;
}
/* a quoted string into buf; returns 0 on failure */
static int read_str(cur *c, char *buf, size_t cap) {
    skip_ws(c);
    if (c->s >= c->e || (*c->s != '\'' && *c->s != '"')) return 0;
    char q = *c->s++;
    size_t n = 0;
    while (c->s < c->e && *c->s != q) {
        if (*c->s == '\\' || n + 1 >= cap) return 0;
        buf[n++] = *c->s++;
    }
    if (c->s >= c->e) return 0;
    c->s++;
    buf[n] = 0;
    return 1;
}

static int parse_descr(const char *d, npy_hdr *h) {
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') return 0;
    const char *t = d + 1;
    static const struct { const char *code; xf_dtype dt; } map[] = {
        {"b1", XF_DT_BOOL}, {"?", XF_DT_BOOL}, {"i1", XF_DT_I8}, {"i2", XF_DT_I16}, {"i4", XF_DT_I32},
        {"i8", XF_DT_I64}, {"u1", XF_DT_U8}, {"u2", XF_DT_U16}, {"u4", XF_DT_U32}, {"u8", XF_DT_U64},
        {"f2", XF_DT_F16}, {"f4", XF_DT_F32}, {"f8", XF_DT_F64}, {"b", XF_DT_I8}, {"B", XF_DT_U8}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(t, map[i].code) == 0) {
            h->dt = map[i].dt;
            /* '=' is native; this library targets little-endian hosts */
            h->big = order == '>' && xf_dtype_size(h->dt) > 1;
            return 1;
        }
    return 0;
}

/* Parses the dict; writes a specific complaint into why on failure. */
static int parse_header(const char *s, size_t len, npy_hdr *h, char *why, size_t wcap) {
    cur c = {s, s + len};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    memset(h, 0, sizeof *h);
    if (!eat(&c, '{')) { snprintf(why, wcap, "header is not a dict"); return 0; }
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32], val[64];
        if (!read_str(&c, key, sizeof key)) { snprintf(why, wcap, "header: expected a quoted key"); return 0; }
        if (!eat(&c, ':')) { snprintf(why, wcap, "header: expected ':' after '%s'", key); return 0; }
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) { snprintf(why, wcap, "header: duplicate 'descr'"); return 0; }
            skip_ws(&c);
            if (c.s < c.e && *c.s == '[') { snprintf(why, wcap, "structured dtypes are not supported"); return 0; }
            if (!read_str(&c, val, sizeof val)) { snprintf(why, wcap, "header: 'descr' is not a string"); return 0; }
            if (!parse_descr(val, h)) { snprintf(why, wcap, "unsupported dtype '%s'", val); return 0; }
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fo++) { snprintf(why, wcap, "header: duplicate 'fortran_order'"); return 0; }
            skip_ws(&c);
            if (c.e - c.s >= 4 && memcmp(c.s, "True", 4) == 0) { h->fortran = 1; c.s += 4; }
            else if (c.e - c.s >= 5 && memcmp(c.s, "False", 5) == 0) { h->fortran = 0; c.s += 5; }
            else { snprintf(why, wcap, "header: 'fortran_order' is not True/False"); return 0; }
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) { snprintf(why, wcap, "header: duplicate 'shape'"); return 0; }
            if (!eat(&c, '(')) { snprintf(why, wcap, "header: 'shape' is not a tuple"); return 0; }
            for (;;) {
                if (eat(&c, ')')) break;
                skip_ws(&c);
                if (c.s >= c.e || *c.s < '0' || *c.s > '9') { snprintf(why, wcap, "header: bad shape entry"); return 0; }
                int64_t v = 0;
                while (c.s < c.e && *c.s >= '0' && *c.s <= '9') {
                    if (v > (INT64_MAX - 9) / 10) { snprintf(why, wcap, "header: shape entry overflows"); return 0; }
                    v = v * 10 + (*c.s++ - '0');
                }
                if (c.s < c.e && *c.s == 'L') c.s++; /* Python 2 long suffix */
                if (h->ndim >= XF_ARRAY_MAXDIM) { snprintf(why, wcap, "header: more than %d dimensions", XF_ARRAY_MAXDIM); return 0; }
                h->shape[h->ndim++] = v;
                if (eat(&c, ')')) break;
                if (!eat(&c, ',')) { snprintf(why, wcap, "header: expected ',' in shape"); return 0; }
            }
        } else {
            snprintf(why, wcap, "header: unknown key '%s'", key);
            return 0;
        }
        if (eat(&c, '}')) break;
        if (!eat(&c, ',')) { snprintf(why, wcap, "header: expected ',' between entries"); return 0; }
    }
    if (!have_descr || !have_fo || !have_shape) {
        snprintf(why, wcap, "header lacks '%s'", !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape");
        return 0;
    }
    skip_ws(&c);
    if (c.s != c.e) { snprintf(why, wcap, "header: unexpected text after the dict"); return 0; }
    return 1;
}

/* Validates the preamble; on success *hlen is the header text length and *off the data
 * offset. */
static xf_status parse_preamble(xf_ctx_t *ctx, const unsigned char *p, size_t avail, const char *name,
                                size_t total, size_t *off, size_t *hlen) {
    if (avail < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    int major = p[6], minor = p[7];
    if (major == 1 && minor == 0) {
        *hlen = (size_t)p[8] | ((size_t)p[9] << 8);
        *off = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (avail < 12) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: truncated header", name);
        *hlen = (size_t)p[8] | ((size_t)p[9] << 8) | ((size_t)p[10] << 16) | ((size_t)p[11] << 24);
        *off = 12;
    } else {
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported", name, major, minor);
    }
    if (*hlen > NPY_MAX_HEADER) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: header length %zu is implausible", name, *hlen);
    if (*off + *hlen > total) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: truncated header (%zu bytes declared, file has %zu)", name, *hlen, total);
    return XF_OK;
}

static void bswap(void *data, size_t n, size_t w) {
    unsigned char *b = data;
    for (size_t i = 0; i < n; i++, b += w)
        for (size_t j = 0; j < w / 2; j++) {
            unsigned char t = b[j];
            b[j] = b[w - 1 - j];
            b[w - 1 - j] = t;
        }
}

/* Fortran (column-major) buffer -> C order. */
static xf_status fortran_to_c(xf_ctx_t *ctx, xf_array *a) {
    if (a->ndim < 2 || a->size < 2) return XF_OK;
    size_t w = xf_dtype_size(a->dtype);
    unsigned char *dst = xf_malloc(ctx, (size_t)a->size * w);
    if (!dst) return XF_ERR_NOMEM;
    const unsigned char *src = a->data;
    int64_t idx[XF_ARRAY_MAXDIM] = {0}, fstride[XF_ARRAY_MAXDIM];
    int64_t s = 1;
    for (int d = 0; d < a->ndim; d++) { fstride[d] = s; s *= a->shape[d]; }
    for (int64_t i = 0; i < a->size; i++) {
        int64_t fo = 0;
        for (int d = 0; d < a->ndim; d++) fo += idx[d] * fstride[d];
        memcpy(dst + (size_t)i * w, src + (size_t)fo * w, w);
        for (int d = a->ndim - 1; d >= 0; d--) {
            if (++idx[d] < a->shape[d]) break;
            idx[d] = 0;
        }
    }
    xf_free(ctx, a->data);
    a->data = dst;
    return XF_OK;
}

/* Common tail: header text parsed, sizes checked, buffer allocated; fill() reads the data. */
typedef xf_status (*fill_fn)(void *src, void *dst, size_t n);

static xf_status finish_read(xf_ctx_t *ctx, const char *hdr, size_t hlen, size_t data_avail, const char *name,
                             fill_fn fill, void *src, xf_array *out) {
    npy_hdr h;
    char why[160];
    if (!parse_header(hdr, hlen, &h, why, sizeof why)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: %s", name, why);
    size_t n = 1, bytes;
    for (int i = 0; i < h.ndim; i++)
        if (!xf_mul_ok(n, (size_t)h.shape[i], &n)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: shape product overflows", name);
    if (!xf_mul_ok(n, xf_dtype_size(h.dt), &bytes) || bytes > (size_t)INT64_MAX / 2)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: data size overflows", name);
    if (bytes > data_avail)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: truncated: shape needs %zu data bytes, file has %zu", name, bytes, data_avail);
    if (bytes < data_avail)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: %zu bytes after the data: the shape does not match the file size", name,
                      data_avail - bytes);
    xf_status st = xf_array_alloc(ctx, out, h.dt, h.ndim, h.shape);
    if (st) return st;
    if (bytes && (st = fill(src, out->data, bytes))) {
        xf_array_free(ctx, out);
        return XF_ERR(ctx, st, "%s: read failed", name);
    }
    if (h.big) bswap(out->data, (size_t)out->size, xf_dtype_size(h.dt));
    if (h.fortran && (st = fortran_to_c(ctx, out))) {
        xf_array_free(ctx, out);
        return st;
    }
    return XF_OK;
}

typedef struct { const unsigned char *p; } memsrc;
static xf_status fill_mem(void *src, void *dst, size_t n) {
    memcpy(dst, ((memsrc *)src)->p, n);
    return XF_OK;
}
static xf_status fill_file(void *src, void *dst, size_t n) {
    return fread(dst, 1, n, (FILE *)src) == n ? XF_OK : XF_ERR_IO;
}

xf_status xf_npy_read_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_array *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    size_t off, hlen;
    xf_status st = parse_preamble(ctx, buf, len, name, len, &off, &hlen);
    if (st) return st;
    const char *hdr = (const char *)buf + off;
    memsrc m = {(const unsigned char *)buf + off + hlen};
    return finish_read(ctx, hdr, hlen, len - off - hlen, name, fill_mem, &m, out);
}

xf_status xf_npy_read(xf_ctx_t *ctx, const char *path, xf_array *out) {
    memset(out, 0, sizeof *out);
    FILE *f;
    xf_status ost = xf_file_open(ctx, path, &f);
    if (ost) return ost;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    size_t total = (size_t)sb.st_size;
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, f);
    size_t off, hlen;
    xf_status st = parse_preamble(ctx, pre, got, path, total, &off, &hlen);
    if (st) { fclose(f); return st; }
    char *hdr = xf_malloc(ctx, hlen + 1);
    if (!hdr) { fclose(f); return XF_ERR_NOMEM; }
    if (fseek(f, (long)off, SEEK_SET) != 0 || fread(hdr, 1, hlen, f) != hlen) {
        xf_free(ctx, hdr);
        fclose(f);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot read header", path);
    }
    st = finish_read(ctx, hdr, hlen, total - off - hlen, path, fill_file, f, out);
    xf_free(ctx, hdr);
    fclose(f);
    return st;
}

static const char *descr_of(xf_dtype dt) {
    switch (dt) {
    case XF_DT_BOOL: return "|b1";
    case XF_DT_I8: return "|i1";
    case XF_DT_U8: return "|u1";
    case XF_DT_I16: return "<i2";
    case XF_DT_U16: return "<u2";
    case XF_DT_F16: return "<f2";
    case XF_DT_I32: return "<i4";
    case XF_DT_U32: return "<u4";
    case XF_DT_F32: return "<f4";
    case XF_DT_I64: return "<i8";
    case XF_DT_U64: return "<u8";
    case XF_DT_F64: return "<f8";
    }
    return NULL;
}

xf_status xf_npy_write(xf_ctx_t *ctx, const char *path, const xf_array *a) {
    const char *descr = descr_of(a->dtype);
    if (!descr) return XF_ERR(ctx, XF_ERR_INVALID, "%s: bad dtype", path);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < a->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)a->shape[i],
                      (a->ndim == 1 || i + 1 < a->ndim) ? ", " : "");
    if (a->ndim == 1) n -= 1; /* "(5,)" not "(5, )" */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t pre = 10, hl = (size_t)n + 1;
    size_t total = (pre + hl + 63) / 64 * 64;
    int major = 1;
    if (total - pre > 65535) { major = 2; pre = 12; total = (pre + hl + 63) / 64 * 64; }
    size_t hlen = total - pre;
    xf_outfile out;
    xf_status st = xf_out_open(ctx, path, &out);
    if (st) return st;
    FILE *f = out.f;
    unsigned char head[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    if (major == 1) { head[8] = hlen & 0xff; head[9] = (hlen >> 8) & 0xff; }
    else for (int i = 0; i < 4; i++) head[8 + i] = (hlen >> (8 * i)) & 0xff;
    int ok = fwrite(head, 1, pre, f) == pre && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = (size_t)n; ok && i + 1 < hlen; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t bytes = (size_t)a->size * xf_dtype_size(a->dtype);
    ok = ok && (bytes == 0 || fwrite(a->data, 1, bytes, f) == bytes);
    if (!ok) {
        int e = errno;
        xf_out_close(ctx, &out, 0);
        return XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return xf_out_close(ctx, &out, 1);
}

xf_status xf_npy_write_raw(xf_ctx_t *ctx, const char *path, xf_dtype dt, int ndim, const int64_t *shape,
                           const void *data) {
    xf_array a;
    memset(&a, 0, sizeof a);
    a.dtype = dt;
    a.ndim = ndim;
    a.size = 1;
    for (int i = 0; i < ndim; i++) { a.shape[i] = shape[i]; a.size *= shape[i]; }
    a.data = (void *)data;
    return xf_npy_write(ctx, path, &a);
}
