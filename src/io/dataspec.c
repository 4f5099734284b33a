/* "One way to name data": xf_data_open turns a data argument (an image folder, an IDX
 * file or folder, a .npy array, `digits`, `corpus:<task>[:split]`) into an xf_dataset
 * with the requested preprocessing. The accepted forms are documented in
 * include/xfer/data.h and docs/DATA_ARGUMENT.md.
 *
 * Design: files are recognised by content (IDX and .npy magic, gzip inflated first), not
 * by name; folders are IDX folders when they hold <prefix>-images-idx3-ubyte[.gz], else
 * image folders. Array sources (IDX, .npy, digits, corpus) are converted image by image
 * from their stored dtype (uint8 / 255, uint16 / 65535, floats as they are) through the
 * same preprocessing as decoded images (prep.c), so no full-size float copy is made. */
#include <math.h>
#include <string.h>

#include "io/ioInt.h"
#include "xfer/npy.h"

/* ---- image arrays ----------------------------------------------------------------- */

xf_status xf_arr_layout(xf_ctx_t *ctx, const char *name, xf_dtype dt, int ndim, const int64_t *shape, xf_arr_layout_t *L) {
    memset(L, 0, sizeof *L);
    if (dt != XF_DT_U8 && dt != XF_DT_U16 && dt != XF_DT_F32 && dt != XF_DT_F64 && dt != XF_DT_F16)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: pixel dtype %s is not supported (use uint8, uint16 or float)", name, xf_dtype_name(dt));
    L->dt = dt;
    if (ndim == 3) {
        L->c = 1;
        L->h = shape[1];
        L->w = shape[2];
    } else if (ndim == 4) {
        int chw = shape[1] == 1 || shape[1] == 3, hwc = shape[3] == 1 || shape[3] == 3;
        if (!chw && hwc) {
            L->nhwc = 1;
            L->h = shape[1];
            L->w = shape[2];
            L->c = shape[3];
        } else {
            L->c = shape[1];
            L->h = shape[2];
            L->w = shape[3];
        }
    } else {
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: image array has %d dimensions; expected (N, H, W), (N, C, H, W) or (N, H, W, C)", name, ndim);
    }
    L->n = shape[0];
    if (L->h <= 0 || L->w <= 0 || L->c <= 0 || L->h > INT32_MAX || L->w > INT32_MAX || L->c > 4096)
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: image size %lldx%lld with %lld channels is invalid", name, (long long)L->h, (long long)L->w,
                      (long long)L->c);
    L->per = (size_t)L->c * (size_t)L->h * (size_t)L->w;
    return XF_OK;
}

xf_status xf_arr_image_to_tensor(xf_ctx_t *ctx, const xf_arr_layout_t *L, const void *img, const xf_data_opts *o, int c, int h,
                                 int w, xf_ws_t *ws, float *dst) {
    size_t np = (size_t)L->h * L->w;
    float *pl = xf_ws_alloc(ws, sizeof(float) * L->per); /* (C, H, W) in [0, 1] */
    if (!pl) return XF_ERR_NOMEM;
    for (int64_t ch = 0; ch < L->c; ch++)
        for (size_t i = 0; i < np; i++) {
            size_t s = L->nhwc ? i * (size_t)L->c + (size_t)ch : (size_t)ch * np + i;
            float v;
            switch (L->dt) {
            case XF_DT_U8: v = ((const uint8_t *)img)[s] / 255.0f; break;
            case XF_DT_U16: v = (float)(((const uint16_t *)img)[s] / 65535.0); break;
            case XF_DT_F16: v = xf_f16_to_f32(((const uint16_t *)img)[s]); break;
            case XF_DT_F32: v = ((const float *)img)[s]; break;
            default: v = (float)((const double *)img)[s]; break;
            }
            if (!isfinite(v)) /* NaN/inf pixels would reach every feature silently */
                return XF_ERR(ctx, XF_ERR_INVALID, "pixel %zu of channel %lld is %g: images must be finite", i, (long long)ch, (double)v);
            pl[(size_t)ch * np + i] = v;
        }
    return xf_planes_to_tensor(ctx, pl, (int)L->c, (int)L->h, (int)L->w, o, c, h, w, ws, dst);
}

xf_status xf_data_out_geometry(xf_ctx_t *ctx, const xf_data_opts *o, int sc, int sh, int sw, int *c, int *h, int *w) {
    *c = o && o->channels ? o->channels : sc;
    *h = o && o->height ? o->height : sh;
    *w = o && o->width ? o->width : sw;
    if (o && ((o->height > 0) != (o->width > 0)))
        return XF_ERR(ctx, XF_ERR_INVALID, "give both height and width (got %dx%d)", o->height, o->width);
    if (o && (o->height < 0 || o->width < 0)) return XF_ERR(ctx, XF_ERR_INVALID, "size %dx%d is invalid", o->height, o->width);
    if (o && o->channels && o->channels != 1 && o->channels != 3)
        return XF_ERR(ctx, XF_ERR_INVALID, "channels %d: use 1 or 3", o->channels);
    if (*c != sc && !((sc == 1 || sc == 3) && (*c == 1 || *c == 3)))
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "cannot convert %d channels to %d", sc, *c);
    return XF_OK;
}

/* Labels (any integer dtype) -> int32 with range checks; k_in > 0 fixes the class count. */
xf_status xf_data_labels_i32(xf_ctx_t *ctx, const xf_array *la, const char *lname, int64_t n, const char *iname, int k_in,
                            int32_t *y, int *k_out) {
    if (la->ndim != 1 && !(la->ndim == 2 && la->shape[1] == 1))
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: labels must be one-dimensional (got %d dimensions)", lname, la->ndim);
    if (la->shape[0] != n)
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: %lld labels for %lld images in %s", lname, (long long)la->shape[0], (long long)n, iname);
    int64_t *l;
    xf_status st = xf_array_to_i64(ctx, la, &l);
    if (st) {
        xf_error_prefix(ctx, lname);
        return st;
    }
    int64_t mx = -1;
    for (int64_t i = 0; i < n; i++) {
        if (l[i] < 0 || l[i] >= (k_in > 0 ? k_in : INT32_MAX)) {
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: label %lld of sample %lld is outside 0..%d", lname, (long long)l[i], (long long)i,
                        (k_in > 0 ? k_in : INT32_MAX) - 1);
            break;
        }
        y[i] = (int32_t)l[i];
        if (l[i] > mx) mx = l[i];
    }
    xf_free(ctx, l);
    if (st) return st;
    *k_out = k_in > 0 ? k_in : (int)(mx + 1);
    if (*k_out <= 0) *k_out = 1;
    return XF_OK;
}

/* imgs + labels array -> dataset, with class names (may be NULL: "0".."k-1"). */
static xf_status from_arrays(xf_ctx_t *ctx, const xf_array *ia, const char *iname, const xf_array *la, const char *lname,
                             char **names, int nnames, const xf_data_opts *o, xf_dataset *out) {
    memset(out, 0, sizeof *out);
    xf_arr_layout_t L;
    xf_status st = xf_arr_layout(ctx, iname, ia->dtype, ia->ndim, ia->shape, &L);
    if (st) return st;
    int c, h, w, k = 0;
    if ((st = xf_data_out_geometry(ctx, o, (int)L.c, (int)L.h, (int)L.w, &c, &h, &w))) return st;
    int32_t *y = xf_malloc(ctx, sizeof(int32_t) * (size_t)(L.n ? L.n : 1));
    if (!y) return XF_ERR_NOMEM;
    st = xf_data_labels_i32(ctx, la, lname, L.n, iname, nnames, y, &k);
    if (!st) st = xf_dataset_alloc(ctx, out, L.n, c, h, w, k);
    if (st) {
        xf_free(ctx, y);
        return st;
    }
    memcpy(out->y, y, sizeof(int32_t) * (size_t)L.n);
    xf_free(ctx, y);
    for (int i = 0; i < nnames && !st; i++) st = xf_dataset_set_class(ctx, out, i, names[i]);
    xf_ws_t *ws = NULL;
    if (!st) st = xf_ws_create(ctx, &ws);
    size_t esz = xf_dtype_size(ia->dtype), per = (size_t)c * h * w;
    for (int64_t i = 0; i < L.n && !st; i++) {
        xf_ws_reset(ws);
        st = xf_arr_image_to_tensor(ctx, &L, (const char *)ia->data + (size_t)i * L.per * esz, o, c, h, w, ws, out->x + (size_t)i * per);
        if (st && st != XF_ERR_NOMEM) xf_error_prefix(ctx, iname);
    }
    xf_ws_free(ws);
    if (st) xf_dataset_free(ctx, out);
    return st;
}

/* ---- label and class files -------------------------------------------------------- */

/* Replace the first occurrence of `a` in the basename of path with `b`; NULL if absent. */
static char *swap_in_base(xf_ctx_t *ctx, const char *path, const char *a, const char *b) {
    const char *base = xf_io_basename(path);
    const char *hit = strstr(base, a);
    if (!hit) return NULL;
    size_t la = strlen(a), lb = strlen(b), lp = strlen(path);
    char *r = xf_malloc(ctx, lp - la + lb + 1);
    if (!r) return NULL;
    size_t pre = (size_t)(hit - path);
    memcpy(r, path, pre);
    memcpy(r + pre, b, lb);
    memcpy(r + pre + lb, hit + la, lp - pre - la + 1);
    return r;
}

/* The labels file next to an IDX / npy image file, by the standard naming:
 *   *-images-idx3-ubyte[.gz] -> *-labels-idx1-ubyte[.gz] (either compression),
 *   *_x.npy -> *_y.npy, otherwise *images* -> *labels*. */
static xf_status find_labels(xf_ctx_t *ctx, const char *img, char **out) {
    *out = NULL;
    const char *pairs[][2] = {{"images-idx3", "labels-idx1"}, {"images.idx3", "labels.idx1"}, {"_x.npy", "_y.npy"},
                              {"images", "labels"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        if (!strstr(xf_io_basename(img), pairs[i][0])) continue;
        char *cand = swap_in_base(ctx, img, pairs[i][0], pairs[i][1]);
        if (!cand) return XF_ERR_NOMEM;
        if (xf_io_is_file(cand)) { *out = cand; return XF_OK; }
        size_t l = strlen(cand);
        char *alt = xf_malloc(ctx, l + 4);
        if (!alt) { xf_free(ctx, cand); return XF_ERR_NOMEM; }
        if (l > 3 && strcmp(cand + l - 3, ".gz") == 0) { memcpy(alt, cand, l - 3); alt[l - 3] = 0; }
        else { memcpy(alt, cand, l); memcpy(alt + l, ".gz", 4); }
        if (xf_io_is_file(alt)) { xf_free(ctx, cand); *out = alt; return XF_OK; }
        xf_free(ctx, alt);
        xf_status st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: labels file %s not found (standard naming); give one explicitly", img, cand);
        xf_free(ctx, cand);
        return st;
    }
    return XF_ERR(ctx, XF_ERR_NOTFOUND,
                  "%s: cannot derive a labels file name (expected *-images-idx3-ubyte[.gz] or *_x.npy); give one explicitly", img);
}

/* classes.txt: one name per line, line i is class i-1; blank trailing lines ignored. */
xf_status xf_data_read_classes(xf_ctx_t *ctx, const char *path, char ***names, int *k) {
    *names = NULL;
    *k = 0;
    xf_src s;
    xf_status st = xf_src_open_file(ctx, path, &s);
    if (st) return st;
    char *text;
    size_t len;
    st = xf_src_read_all(&s, (size_t)64 << 20, &text, &len);
    xf_src_close(&s);
    if (st) return st;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = 0;
    int n = len ? 1 : 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    if (n == 0) { xf_free(ctx, text); return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no class names", path); }
    char **v = xf_calloc(ctx, (size_t)n, sizeof(char *));
    if (!v) { xf_free(ctx, text); return XF_ERR_NOMEM; }
    char *p = text;
    for (int i = 0; i < n; i++) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (e ? p + l != e : p + l != text + len) { /* a NUL byte would silently cut the name */
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%d: a NUL byte in a class name (not a text file?)", path, i + 1);
            break;
        }
        if (l && p[l - 1] == '\r') p[--l] = 0;
        if (l == 0) st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%d: empty class name", path, i + 1);
        if (!st && !(v[i] = xf_strdup(ctx, p))) st = XF_ERR_NOMEM;
        if (st) break;
        p = e ? e + 1 : p + l;
    }
    xf_free(ctx, text);
    if (st) {
        for (int i = 0; i < n; i++) xf_free(ctx, v[i]);
        xf_free(ctx, v);
        return st;
    }
    *names = v;
    *k = n;
    return XF_OK;
}

static void free_names(xf_ctx_t *ctx, char **v, int k) {
    if (!v) return;
    for (int i = 0; i < k; i++) xf_free(ctx, v[i]);
    xf_free(ctx, v);
}

/* ---- recognising a spec ----------------------------------------------------------- */

xf_status xf_data_sniff(xf_ctx_t *ctx, const char *path, xf_data_kind *kind) {
    xf_src s;
    xf_status st = xf_src_open_file(ctx, path, &s);
    if (st) return st;
    unsigned char b[6] = {0};
    size_t got = 0;
    st = xf_src_read(&s, b, 6, &got);
    xf_src_close(&s);
    if (st) return st;
    if (got >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) *kind = XF_DATA_NPY;
    else if (got >= 4 && b[0] == 0 && b[1] == 0 && (b[2] == 0x08 || b[2] == 0x09 || (b[2] >= 0x0B && b[2] <= 0x0E))) *kind = XF_DATA_IDX;
    else return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not a recognised data file (expected an IDX or .npy file, or a folder)", path);
    return XF_OK;
}

static char *path_join(xf_ctx_t *ctx, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = xf_malloc(ctx, la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* IDX images inside a folder: <prefix>-images-idx3-ubyte[.gz], prefix train / t10k
 * (*out NULL when there is none). */
static xf_status idx_in_dir(xf_ctx_t *ctx, const char *dir, const char *split, char **out) {
    *out = NULL;
    const char *pfx = !split || strcmp(split, "train") == 0 ? "train" : strcmp(split, "test") == 0 ? "t10k" : split;
    char name[256];
    for (int gz = 0; gz < 2; gz++) {
        snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", pfx, gz ? ".gz" : "");
        char *p = path_join(ctx, dir, name);
        if (!p) return XF_ERR_NOMEM;
        if (xf_io_is_file(p)) { *out = p; return XF_OK; }
        xf_free(ctx, p);
    }
    return XF_OK;
}

static xf_status resolve(xf_ctx_t *ctx, const char *spec, const xf_data_opts *o, xf_data_resolved *r) {
    memset(r, 0, sizeof *r);
    if (!spec || !*spec) return XF_ERR(ctx, XF_ERR_INVALID, "data: empty data argument");
    const char *split = o ? o->split : NULL;
    if (strcmp(spec, "digits") == 0) {
        if (split && strcmp(split, "train") != 0)
            return XF_ERR(ctx, XF_ERR_INVALID, "digits: has no '%s' split (it is one set of 1797 images)", split);
        r->kind = XF_DATA_DIGITS;
        r->path = xf_strdup(ctx, XF_DIGITS_PATH);
        return r->path ? XF_OK : XF_ERR_NOMEM;
    }
    if (strncmp(spec, "corpus:", 7) == 0) {
        const char *task = spec + 7, *colon = strchr(task, ':');
        size_t tl = colon ? (size_t)(colon - task) : strlen(task);
        const char *sp = colon ? colon + 1 : (split ? split : "train");
        if (tl == 0 || !*sp || memchr(task, '/', tl) || strchr(sp, '/') || strchr(sp, ':'))
            return XF_ERR(ctx, XF_ERR_INVALID, "%s: expected corpus:<task>[:split]", spec);
        const char *dir = o && o->corpus_dir ? o->corpus_dir : XF_CORPUS_DIR;
        size_t need = strlen(dir) + tl + strlen(sp) + 32;
        r->path = xf_malloc(ctx, need);
        r->labels = xf_malloc(ctx, need);
        r->classes = xf_malloc(ctx, need);
        if (!r->path || !r->labels || !r->classes) { xf_data_resolved_free(ctx, r); return XF_ERR_NOMEM; }
        snprintf(r->path, need, "%s/%.*s/%s_x.npy", dir, (int)tl, task, sp);
        snprintf(r->labels, need, "%s/%.*s/%s_y.npy", dir, (int)tl, task, sp);
        snprintf(r->classes, need, "%s/%.*s/classes.txt", dir, (int)tl, task);
        r->kind = XF_DATA_NPY;
        char taskdir[1024];
        snprintf(taskdir, sizeof taskdir, "%s/%.*s", dir, (int)tl, task);
        if (!xf_io_is_dir(taskdir)) {
            xf_data_resolved_free(ctx, r);
            return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no task folder %s (build the corpus with `xfer data build`)", spec, taskdir);
        }
        if (!xf_io_is_file(r->path)) {
            xf_status st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no split '%s' (%s is missing)", spec, sp, r->path);
            xf_data_resolved_free(ctx, r);
            return st;
        }
        if (!xf_io_is_file(r->classes)) { xf_free(ctx, r->classes); r->classes = NULL; }
        return XF_OK;
    }
    if (xf_io_is_dir(spec)) {
        char *idx;
        xf_status st = idx_in_dir(ctx, spec, split, &idx);
        if (st) return st;
        if (idx) {
            r->kind = XF_DATA_IDX;
            r->path = idx;
        } else {
            char *sub = split ? path_join(ctx, spec, split) : NULL;
            if (split && !sub) return XF_ERR_NOMEM;
            if (sub && xf_io_is_dir(sub)) r->path = sub;
            else {
                xf_free(ctx, sub);
                if (split && strcmp(split, "train") != 0)
                    return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no '%s' split (no folder %s/%s)", spec, split, spec, split);
                r->path = xf_strdup(ctx, spec);
                if (!r->path) return XF_ERR_NOMEM;
            }
            r->kind = XF_DATA_FOLDER;
            return XF_OK;
        }
    } else {
        xf_data_kind k;
        xf_status st = xf_data_sniff(ctx, spec, &k);
        if (st) return st;
        r->kind = k;
        r->path = xf_strdup(ctx, spec);
        if (!r->path) return XF_ERR_NOMEM;
    }
    /* IDX and npy need labels */
    if (o && o->labels) {
        r->labels = xf_strdup(ctx, o->labels);
        if (!r->labels) { xf_data_resolved_free(ctx, r); return XF_ERR_NOMEM; }
    } else {
        xf_status st = find_labels(ctx, r->path, &r->labels);
        if (st) { xf_data_resolved_free(ctx, r); return st; }
    }
    return XF_OK;
}

xf_status xf_data_resolve(xf_ctx_t *ctx, const char *spec, const xf_data_opts *o, xf_data_resolved *r) {
    xf_status st = resolve(ctx, spec, o, r);
    if (st || !o || !o->labels) return st;
    /* a labels file only has a meaning for IDX and .npy image files: never ignore it */
    const char *from = r->kind == XF_DATA_FOLDER ? "its class folders" : r->kind == XF_DATA_DIGITS ? "the digits file"
                     : !strncmp(spec, "corpus:", 7) ? "its task folder" : NULL;
    if (!from) return XF_OK;
    st = XF_ERR(ctx, XF_ERR_INVALID, "--data-labels %s: %s takes its labels from %s; a labels file applies to IDX and .npy image files only",
                o->labels, spec, from);
    xf_data_resolved_free(ctx, r);
    return st;
}

int64_t xf_data_max_bytes(const xf_data_opts *o) { return o && o->max_bytes > 0 ? o->max_bytes : XF_DATA_MAX_BYTES; }

xf_status xf_data_idx_check_size(xf_ctx_t *ctx, const char *path, const xf_data_opts *o) {
    xf_src s;
    xf_status st = xf_src_open_file(ctx, path, &s);
    if (st) return st;
    xf_idx_hdr h;
    st = xf_idx_read_header(&s, &h);
    xf_src_close(&s);
    if (st) return st;
    /* what a whole load holds: the stored elements and their float32 copy */
    int64_t cap = xf_data_max_bytes(o);
    double need = (double)h.bytes > 4.0 * (double)h.count ? (double)h.bytes : 4.0 * (double)h.count;
    if (need > (double)cap)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED,
                      "%s: the IDX header declares %zu elements (%.3g bytes as float32), above the limit of %lld bytes for data "
                      "loaded whole (--max-bytes); sample a probe (--probe N) or raise the limit",
                      path, h.count, need, (long long)cap);
    return XF_OK;
}

void xf_data_resolved_free(xf_ctx_t *ctx, xf_data_resolved *r) {
    xf_free(ctx, r->path);
    xf_free(ctx, r->labels);
    xf_free(ctx, r->classes);
    memset(r, 0, sizeof *r);
}

static xf_status read_array(xf_ctx_t *ctx, xf_data_kind kind, const char *path, const xf_data_opts *o, xf_array *a) {
    /* labels of an IDX set may be npy and the reverse: sniff */
    xf_data_kind k = kind;
    xf_status st = kind == XF_DATA_IDX ? XF_OK : xf_data_sniff(ctx, path, &k);
    if (!st && k == XF_DATA_IDX) st = xf_data_idx_check_size(ctx, path, o);
    if (st) return st;
    return k == XF_DATA_IDX ? xf_idx_read(ctx, path, a) : xf_npy_read(ctx, path, a);
}

xf_status xf_data_open(xf_ctx_t *ctx, const char *spec, const xf_data_opts *opts, xf_dataset *out) {
    memset(out, 0, sizeof *out);
    xf_data_resolved r;
    xf_status st = xf_data_resolve(ctx, spec, opts, &r);
    if (st) return st;
    if (r.kind == XF_DATA_FOLDER) {
        st = xf_folder_load(ctx, r.path, opts, out);
    } else if (r.kind == XF_DATA_DIGITS) {
        xf_dataset d;
        st = xf_digits_read(ctx, r.path, &d);
        if (!st) {
            /* reuse the array path: the (N, 1, 8, 8) floats in [0, 1] */
            xf_array ia = {XF_DT_F32, 4, {d.n, 1, 8, 8}, d.x, d.n * 64};
            int64_t *lab = xf_malloc(ctx, sizeof(int64_t) * (size_t)d.n);
            if (!lab) st = XF_ERR_NOMEM;
            else {
                for (int64_t i = 0; i < d.n; i++) lab[i] = d.y[i];
                xf_array la = {XF_DT_I64, 1, {d.n}, lab, d.n};
                st = from_arrays(ctx, &ia, r.path, &la, r.path, d.classes, d.k, opts, out);
                xf_free(ctx, lab);
            }
            xf_dataset_free(ctx, &d);
        }
    } else {
        xf_array ia, la;
        char **names = NULL;
        int nn = 0;
        memset(&la, 0, sizeof la);
        st = read_array(ctx, r.kind, r.path, opts, &ia);
        if (!st) {
            st = read_array(ctx, r.kind, r.labels, opts, &la);
            if (!st && r.classes) st = xf_data_read_classes(ctx, r.classes, &names, &nn);
            if (!st) st = from_arrays(ctx, &ia, r.path, &la, r.labels, names, nn, opts, out);
            xf_array_free(ctx, &ia);
            xf_array_free(ctx, &la);
            free_names(ctx, names, nn);
        }
    }
    xf_data_resolved_free(ctx, &r);
    return st;
}
