/* IDX reader (the MNIST / Fashion-MNIST container; layout in include/xfer/data.h).
 *
 * Design: one code path for files and buffers through the gzip-transparent byte source
 * (bytesrc.c). The header is validated first (zero bytes, known type code, 1..8 dims,
 * checked product). For an uncompressed source the declared size must equal the real
 * remaining size before anything is allocated. For gzip the real size is unknown until
 * inflated, so the buffer grows geometrically as data actually arrives, capped at the
 * declared size: a 100-byte file claiming 4 GB costs at most one chunk of memory before
 * it is found short. Either way trailing bytes are an error: they mean the header does
 * not describe the file. */
#include <string.h>

#include "io/ioInt.h"

#define IDX_FIRST_CHUNK ((size_t)1 << 20)

static int idx_type(int code, xf_dtype *dt) {
    switch (code) {
    case 0x08: *dt = XF_DT_U8; return 1;
    case 0x09: *dt = XF_DT_I8; return 1;
    case 0x0B: *dt = XF_DT_I16; return 1;
    case 0x0C: *dt = XF_DT_I32; return 1;
    case 0x0D: *dt = XF_DT_F32; return 1;
    case 0x0E: *dt = XF_DT_F64; return 1;
    }
    return 0;
}

xf_status xf_idx_read_header(xf_src *s, xf_idx_hdr *h) {
    xf_ctx_t *ctx = s->ctx;
    unsigned char b[4 + 4 * XF_ARRAY_MAXDIM];
    size_t got;
    memset(h, 0, sizeof *h);
    xf_status st = xf_src_read(s, b, 4, &got);
    if (st) return st;
    if (got < 4) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an IDX file (%zu bytes, shorter than the 4-byte magic)", s->name, got);
    if (b[0] != 0 || b[1] != 0 || !idx_type(b[2], &h->dt))
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an IDX file (bad magic %02x %02x %02x %02x)", s->name, b[0], b[1], b[2], b[3]);
    h->ndim = b[3];
    if (h->ndim == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: IDX header declares 0 dimensions", s->name);
    if (h->ndim > XF_ARRAY_MAXDIM)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: IDX header declares %d dimensions (at most %d supported)", s->name, h->ndim, XF_ARRAY_MAXDIM);
    st = xf_src_read(s, b + 4, 4 * (size_t)h->ndim, &got);
    if (st) return st;
    if (got < 4 * (size_t)h->ndim) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: truncated IDX header (%d dimensions declared)", s->name, h->ndim);
    size_t count = 1;
    for (int i = 0; i < h->ndim; i++) {
        const unsigned char *p = b + 4 + 4 * i;
        uint32_t d = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        h->shape[i] = d;
        if (!xf_mul_ok(count, d, &count))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: IDX dimensions overflow (product of the shape does not fit in memory sizes)", s->name);
    }
    size_t bytes;
    if (!xf_mul_ok(count, xf_dtype_size(h->dt), &bytes) || bytes > (size_t)INT64_MAX / 2)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: IDX dimensions overflow (data size does not fit in memory sizes)", s->name);
    h->count = count;
    h->bytes = bytes;
    h->hdr_bytes = 4 + 4 * (size_t)h->ndim;
    int64_t rem = xf_src_remaining(s);
    if (rem >= 0 && (uint64_t)rem < bytes)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: truncated IDX file (header declares %zu data bytes, file has %lld)", s->name, bytes, (long long)rem);
    if (rem >= 0 && (uint64_t)rem > bytes)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: %lld trailing bytes after the IDX data the header declares", s->name, (long long)(rem - (int64_t)bytes));
    return XF_OK;
}

static void to_native(void *data, size_t count, size_t w) {
    /* IDX is big-endian; xfer targets little-endian hosts (as npy.c does) */
    unsigned char *p = data;
    if (w == 1) return;
    for (size_t i = 0; i < count; i++, p += w)
        for (size_t a = 0, b = w - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

xf_status xf_idx_read_elems(xf_src *s, const xf_idx_hdr *h, void *dst, size_t count) {
    size_t w = xf_dtype_size(h->dt), got;
    xf_status st = xf_src_read(s, dst, count * w, &got);
    if (st) return st;
    if (got < count * w)
        return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: truncated IDX data (header declares %zu data bytes, the stream ends after %lld)", s->name,
                      h->bytes, (long long)(s->out_pos - (int64_t)h->hdr_bytes));
    to_native(dst, count, w);
    return XF_OK;
}

/* After the declared data: nothing may follow. */
static xf_status check_end(xf_src *s) {
    unsigned char b;
    size_t got;
    xf_status st = xf_src_read(s, &b, 1, &got);
    if (st) return st;
    if (got) return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: trailing bytes after the IDX data the header declares", s->name);
    return XF_OK;
}

static xf_status read_all(xf_src *s, xf_array *out) {
    xf_ctx_t *ctx = s->ctx;
    xf_idx_hdr h;
    xf_status st = xf_idx_read_header(s, &h);
    if (st) return st;
    size_t w = xf_dtype_size(h.dt);
    /* raw: exact size already checked against the file; gzip: grow as data arrives */
    size_t cap = xf_src_remaining(s) >= 0 ? h.bytes : (h.bytes < IDX_FIRST_CHUNK ? h.bytes : IDX_FIRST_CHUNK);
    unsigned char *buf = xf_malloc(ctx, cap ? cap : 1);
    if (!buf) return XF_ERR_NOMEM;
    size_t have = 0;
    while (have < h.bytes) {
        if (have == cap) {
            size_t nc = cap * 2 < h.bytes && cap * 2 > cap ? cap * 2 : h.bytes;
            unsigned char *nb = xf_realloc(ctx, buf, nc);
            if (!nb) { xf_free(ctx, buf); return XF_ERR_NOMEM; }
            buf = nb;
            cap = nc;
        }
        size_t got;
        st = xf_src_read(s, buf + have, cap - have, &got);
        if (st) { xf_free(ctx, buf); return st; }
        have += got;
        if (have < cap) {
            xf_free(ctx, buf);
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: truncated IDX data (header declares %zu data bytes, the stream has %zu)", s->name, h.bytes, have);
        }
    }
    st = check_end(s);
    if (st) { xf_free(ctx, buf); return st; }
    to_native(buf, h.count, w);
    memset(out, 0, sizeof *out);
    out->dtype = h.dt;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->size = (int64_t)h.count;
    out->data = buf;
    return XF_OK;
}

xf_status xf_idx_read(xf_ctx_t *ctx, const char *path, xf_array *out) {
    memset(out, 0, sizeof *out);
    if (!path) return XF_ERR(ctx, XF_ERR_INVALID, "xf_idx_read: path is NULL");
    xf_src s;
    xf_status st = xf_src_open_file(ctx, path, &s);
    if (st) return st;
    st = read_all(&s, out);
    xf_src_close(&s);
    return st;
}

xf_status xf_idx_read_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_array *out) {
    memset(out, 0, sizeof *out);
    xf_src s;
    xf_status st = xf_src_open_mem(ctx, buf, len, name ? name : "<memory>", &s);
    if (st) return st;
    st = read_all(&s, out);
    xf_src_close(&s);
    return st;
}
