/* Batch streams over a data argument (include/xfer/data.h): the way to push a dataset
 * larger than memory through feature extraction.
 *
 * Design: an IDX set keeps its images file open through the gzip-transparent source and
 * reads exactly one batch of raw pixels per call (labels, one byte each, are read whole
 * up front, so the count is checked before any image is served); the end of the stream
 * is checked for trailing data like the whole-file reader does. An image folder is
 * scanned once and each call decodes only that batch's files. Other sources (.npy,
 * digits, corpus) are loaded whole by xf_data_open and served as views. Batch buffers
 * are allocated once at open. */
#include <string.h>

#include "io/ioInt.h"
#include "xfer/npy.h"

struct xf_data_stream {
    xf_ctx_t *ctx;
    xf_data_kind kind;
    const xf_data_opts *o;
    int64_t n, pos, batch;
    int c, h, w, k;
    char **classes;     /* (k) owned, except for whole-loaded sources (ds.classes) */
    int own_classes;
    float *bx;          /* (batch, C, H, W) */
    int32_t *by;        /* (batch) */
    xf_ws_t *ws;
    /* IDX */
    xf_src src;
    int src_open;
    xf_idx_hdr hdr;
    xf_arr_layout_t L;
    unsigned char *raw; /* (batch, per) stored dtype */
    int32_t *labels;    /* (n) */
    char *name;
    /* folder */
    xf_folder f;
    /* whole */
    xf_dataset ds;
};

void xf_data_stream_close(xf_data_stream_t *s) {
    if (!s) return;
    xf_ctx_t *ctx = s->ctx;
    if (s->src_open) xf_src_close(&s->src);
    if (s->own_classes && s->classes)
        for (int i = 0; i < s->k; i++) xf_free(ctx, s->classes[i]);
    if (s->own_classes) xf_free(ctx, s->classes);
    xf_free(ctx, s->bx);
    xf_free(ctx, s->by);
    xf_free(ctx, s->raw);
    xf_free(ctx, s->labels);
    xf_free(ctx, s->name);
    xf_ws_free(s->ws);
    xf_folder_free(ctx, &s->f);
    xf_dataset_free(ctx, &s->ds);
    xf_free(ctx, s);
}

static xf_status numbered_classes(xf_data_stream_t *s, int k) {
    s->classes = xf_calloc(s->ctx, (size_t)k, sizeof(char *));
    if (!s->classes) return XF_ERR_NOMEM;
    s->own_classes = 1;
    for (int i = 0; i < k; i++) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        if (!(s->classes[i] = xf_strdup(s->ctx, b))) return XF_ERR_NOMEM;
        s->k = i + 1;
    }
    return XF_OK;
}

static xf_status open_idx(xf_data_stream_t *s, const xf_data_resolved *r) {
    xf_ctx_t *ctx = s->ctx;
    xf_array la;
    xf_data_kind lk;
    xf_status st = xf_data_sniff(ctx, r->labels, &lk);
    if (st) return st;
    if (lk == XF_DATA_IDX && (st = xf_data_idx_check_size(ctx, r->labels, s->o))) return st;
    st = lk == XF_DATA_IDX ? xf_idx_read(ctx, r->labels, &la) : xf_npy_read(ctx, r->labels, &la);
    if (st) return st;
    if ((st = xf_src_open_file(ctx, r->path, &s->src))) { xf_array_free(ctx, &la); return st; }
    s->src_open = 1;
    if (!(s->name = xf_strdup(ctx, r->path))) st = XF_ERR_NOMEM;
    if (!st) st = xf_idx_read_header(&s->src, &s->hdr);
    if (!st) st = xf_arr_layout(ctx, r->path, s->hdr.dt, s->hdr.ndim, s->hdr.shape, &s->L);
    if (!st) st = xf_data_out_geometry(ctx, s->o, (int)s->L.c, (int)s->L.h, (int)s->L.w, &s->c, &s->h, &s->w);
    s->n = s->L.n;
    int k = 0;
    if (!st && !(s->labels = xf_malloc(ctx, sizeof(int32_t) * (size_t)(s->n ? s->n : 1)))) st = XF_ERR_NOMEM;
    if (!st) st = xf_data_labels_i32(ctx, &la, r->labels, s->n, r->path, 0, s->labels, &k);
    xf_array_free(ctx, &la);
    if (!st) st = numbered_classes(s, k);
    size_t raw;
    if (!st && !xf_mul_ok((size_t)s->batch, s->L.per * xf_dtype_size(s->hdr.dt), &raw))
        st = XF_ERR(ctx, XF_ERR_INVALID, "%s: batch of %lld images is too large", r->path, (long long)s->batch);
    if (!st && !(s->raw = xf_malloc(ctx, raw))) st = XF_ERR_NOMEM;
    return st;
}

static xf_status open_folder(xf_data_stream_t *s, const xf_data_resolved *r) {
    xf_status st = xf_folder_scan(s->ctx, r->path, &s->f);
    int64_t first;
    if (!st) st = xf_folder_geometry(s->ctx, &s->f, s->o, &s->c, &s->h, &s->w, &first);
    if (st) return st;
    s->n = s->f.n;
    s->k = s->f.k;
    s->classes = s->f.classes; /* owned by the folder listing */
    return XF_OK;
}

xf_status xf_data_stream_open(xf_ctx_t *ctx, const char *spec, const xf_data_opts *opts, int64_t batch, xf_data_stream_t **out) {
    *out = NULL;
    if (batch < 1) return XF_ERR(ctx, XF_ERR_INVALID, "data stream: batch %lld must be >= 1", (long long)batch);
    xf_data_resolved r;
    xf_status st = xf_data_resolve(ctx, spec, opts, &r);
    if (st) return st;
    xf_data_stream_t *s = xf_calloc(ctx, 1, sizeof *s);
    if (!s) { xf_data_resolved_free(ctx, &r); return XF_ERR_NOMEM; }
    s->ctx = ctx;
    s->o = opts;
    s->batch = batch;
    s->kind = r.kind;
    if (r.kind == XF_DATA_IDX) st = open_idx(s, &r);
    else if (r.kind == XF_DATA_FOLDER) st = open_folder(s, &r);
    else {
        st = xf_data_open(ctx, spec, opts, &s->ds);
        if (!st) {
            s->n = s->ds.n;
            s->c = s->ds.c;
            s->h = s->ds.h;
            s->w = s->ds.w;
            s->k = s->ds.k;
            s->classes = s->ds.classes;
        }
    }
    xf_data_resolved_free(ctx, &r);
    if (!st && s->kind != XF_DATA_NPY && s->kind != XF_DATA_DIGITS) {
        size_t per = (size_t)s->c * s->h * s->w, tot;
        if (!xf_mul_ok(per, (size_t)batch, &tot) || !xf_mul_ok(tot, sizeof(float), &tot))
            st = XF_ERR(ctx, XF_ERR_INVALID, "data stream: batch of %lld images is too large", (long long)batch);
        if (!st && (!(s->bx = xf_malloc(ctx, tot)) || !(s->by = xf_malloc(ctx, sizeof(int32_t) * (size_t)batch)))) st = XF_ERR_NOMEM;
        if (!st) st = xf_ws_create(ctx, &s->ws);
    }
    if (st) {
        xf_data_stream_close(s);
        return st;
    }
    *out = s;
    return XF_OK;
}

xf_status xf_data_stream_next(xf_data_stream_t *s, xf_batch *b) {
    xf_ctx_t *ctx = s->ctx;
    memset(b, 0, sizeof *b);
    b->c = s->c;
    b->h = s->h;
    b->w = s->w;
    b->first = s->pos;
    if (s->pos >= s->n) return XF_OK;
    int64_t m = s->n - s->pos < s->batch ? s->n - s->pos : s->batch;
    size_t per = (size_t)s->c * s->h * s->w;
    xf_status st = XF_OK;
    if (s->kind == XF_DATA_IDX) {
        st = xf_idx_read_elems(&s->src, &s->hdr, s->raw, (size_t)m * s->L.per);
        size_t esz = xf_dtype_size(s->hdr.dt);
        for (int64_t i = 0; i < m && !st; i++) {
            xf_ws_reset(s->ws);
            st = xf_arr_image_to_tensor(ctx, &s->L, s->raw + (size_t)i * s->L.per * esz, s->o, s->c, s->h, s->w, s->ws, s->bx + (size_t)i * per);
            if (st && st != XF_ERR_NOMEM) xf_error_prefix(ctx, s->name);
            s->by[i] = s->labels[s->pos + i];
        }
        if (!st && s->pos + m == s->n) {
            unsigned char extra;
            size_t got;
            st = xf_src_read(&s->src, &extra, 1, &got);
            if (!st && got) st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: trailing bytes after the IDX data the header declares", s->name);
        }
        if (st) return st;
        s->pos += m;
        b->n = m;
    } else if (s->kind == XF_DATA_FOLDER) {
        int64_t kept = 0;
        while (kept < m && s->pos < s->n) {
            int64_t i = s->pos++;
            st = xf_folder_load_one(ctx, &s->f, i, s->o, s->c, s->h, s->w, s->ws, s->bx + (size_t)kept * per);
            if (st && s->o && s->o->skip_bad && st != XF_ERR_NOMEM && st != XF_ERR_INVALID) {
                xf_log(ctx, XF_LOG_WARN, "skipping %s", xf_errmsg(ctx));
                xf_ctx_clear_error(ctx);
                continue;
            }
            if (st) return st;
            s->by[kept++] = s->f.labels[i];
        }
        b->n = kept;
    } else {
        b->n = m;
        b->x = s->ds.x + (size_t)s->pos * per;
        b->y = s->ds.y + s->pos;
        s->pos += m;
        return XF_OK;
    }
    b->x = s->bx;
    b->y = s->by;
    return XF_OK;
}

int64_t xf_data_stream_count(const xf_data_stream_t *s) { return s->n; }

int xf_data_stream_classes(const xf_data_stream_t *s, char *const **names) {
    *names = s->classes;
    return s->k;
}

/* The probe of an IDX set without loading it: labels first (the stream reads them whole),
 * the sample, then one pass over the images keeping the sampled ones in selection order.
 * Other sources are loaded whole (they hold real files, not a declared size). */
xf_status xf_data_open_probe(xf_ctx_t *ctx, const char *spec, const xf_data_opts *opts, int64_t budget, int min_per_class,
                             uint64_t seed, xf_dataset *out, int64_t **idx, int64_t *m) {
    memset(out, 0, sizeof *out);
    *idx = NULL;
    *m = 0;
    xf_data_resolved r;
    xf_status st = xf_data_resolve(ctx, spec, opts, &r);
    if (st) return st;
    int streamed = r.kind == XF_DATA_IDX && budget > 0;
    xf_data_resolved_free(ctx, &r);
    if (!streamed) {
        xf_dataset ds;
        if ((st = xf_data_open(ctx, spec, opts, &ds))) return st;
        if (budget > 0) st = xf_probe_sample(ctx, ds.y, ds.n, ds.k, budget, min_per_class, seed, idx, m);
        else if (!(*idx = xf_malloc(ctx, sizeof **idx * (size_t)(ds.n ? ds.n : 1)))) st = XF_ERR_NOMEM;
        else {
            for (int64_t i = 0; i < ds.n; i++) (*idx)[i] = i;
            *m = ds.n;
        }
        if (!st && budget > 0) st = xf_dataset_subset(ctx, &ds, *idx, *m, out);
        if (!st && budget <= 0) *out = ds;
        else xf_dataset_free(ctx, &ds);
        if (st) { xf_free(ctx, *idx); *idx = NULL; *m = 0; }
        return st;
    }
    xf_data_stream_t *s;
    if ((st = xf_data_stream_open(ctx, spec, opts, 64, &s))) return st;
    int64_t *pos = NULL; /* (n) place of image i in the probe, -1 if not sampled */
    st = xf_probe_sample(ctx, s->labels, s->n, s->k, budget, min_per_class, seed, idx, m);
    if (!st) st = xf_dataset_alloc(ctx, out, *m, s->c, s->h, s->w, s->k);
    for (int i = 0; !st && i < s->k; i++) st = xf_dataset_set_class(ctx, out, i, s->classes[i]);
    if (!st && !(pos = xf_malloc(ctx, sizeof *pos * (size_t)(s->n ? s->n : 1)))) st = XF_ERR_NOMEM;
    if (!st) {
        for (int64_t i = 0; i < s->n; i++) pos[i] = -1;
        for (int64_t j = 0; j < *m; j++) pos[(*idx)[j]] = j;
    }
    size_t per = (size_t)s->c * s->h * s->w;
    for (xf_batch b; !st;) {
        if ((st = xf_data_stream_next(s, &b)) || b.n == 0) break;
        for (int64_t i = 0; i < b.n; i++) {
            int64_t j = pos[b.first + i];
            if (j < 0) continue;
            memcpy(out->x + (size_t)j * per, b.x + (size_t)i * per, per * sizeof(float));
            out->y[j] = b.y[i];
        }
    }
    xf_free(ctx, pos);
    xf_data_stream_close(s);
    if (st) {
        xf_dataset_free(ctx, out);
        xf_free(ctx, *idx);
        *idx = NULL;
        *m = 0;
    }
    return st;
}
