/* Private helpers of src/io shared by the data loaders.
 *
 * xf_src: a sequential byte source over a file or a memory buffer that inflates gzip
 * transparently (detected by the magic 1f 8b). It reads in chunks so that a file larger
 * than memory can be streamed, and it is strict about the container: a gzip stream that
 * ends early, a corrupt one, and bytes after the last gzip member that are not another
 * member are errors naming the source. */
#ifndef XFER_IO_INT_H
#define XFER_IO_INT_H
#include <stdio.h>
#include <zlib.h>

#include "xfer/data.h"

#define XF_SRC_CHUNK (1 << 16)

typedef struct xf_src {
    xf_ctx_t *ctx;
    char name[512];
    FILE *f;                    /* file source, or NULL */
    const unsigned char *mem;   /* memory source */
    size_t memlen, mempos;
    int gz;                     /* inflating */
    int zinit;                  /* zs initialised */
    int zend;                   /* current member finished */
    z_stream zs;
    unsigned char *in;          /* (XF_SRC_CHUNK) compressed input buffer (file + gz) */
    int64_t raw_size;           /* file or buffer size in bytes; -1 unknown */
    int64_t out_pos;            /* decompressed bytes delivered so far */
} xf_src;

xf_status xf_src_open_file(xf_ctx_t *ctx, const char *path, xf_src *s);
xf_status xf_src_open_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_src *s);
/* Reads up to n bytes; *got < n only at the end of the data. Errors: XF_ERR_IO,
 * XF_ERR_FORMAT (corrupt or truncated gzip, trailing garbage). */
xf_status xf_src_read(xf_src *s, void *buf, size_t n, size_t *got);
/* Bytes still to come when known without reading them (uncompressed sources); -1 else. */
int64_t xf_src_remaining(const xf_src *s);
void xf_src_close(xf_src *s);
/* Reads everything that is left (decompressed) into a NUL-terminated buffer owned by the
 * caller (xf_free); more than max bytes is an XF_ERR_FORMAT error. */
xf_status xf_src_read_all(xf_src *s, size_t max, char **out, size_t *len);

/* The last path component (for short names in messages we keep the full path). */
const char *xf_io_basename(const char *path);
/* 1 if path is a directory / a regular file. */
int xf_io_is_dir(const char *path);
int xf_io_is_file(const char *path);

/* IDX header parsed from the first bytes. */
typedef struct xf_idx_hdr {
    xf_dtype dt;
    int ndim;
    int64_t shape[XF_ARRAY_MAXDIM];
    size_t count;     /* product of shape */
    size_t bytes;     /* count * element size */
    size_t hdr_bytes; /* 4 + 4 * ndim */
} xf_idx_hdr;
/* Reads and validates the header from s. */
xf_status xf_idx_read_header(xf_src *s, xf_idx_hdr *h);
/* Reads count elements of h's dtype into dst (native endian). */
xf_status xf_idx_read_elems(xf_src *s, const xf_idx_hdr *h, void *dst, size_t count);

/* Image folder internals shared with the batch stream (folder.c). */
xf_status xf_folder_geometry(xf_ctx_t *ctx, const xf_folder *f, const xf_data_opts *o, int *c, int *h, int *w, int64_t *first);
xf_status xf_folder_load_one(xf_ctx_t *ctx, const xf_folder *f, int64_t i, const xf_data_opts *o, int c, int h, int w,
                             xf_ws_t *ws, float *dst);

/* Image arrays (IDX, .npy): layout of one (N, ...) array of images. */
typedef struct xf_arr_layout_t {
    xf_dtype dt;
    int nhwc;           /* (N, H, W, C) instead of (N, C, H, W) / (N, H, W) */
    int64_t n, c, h, w;
    size_t per;         /* elements per image */
} xf_arr_layout_t;
xf_status xf_arr_layout(xf_ctx_t *ctx, const char *name, xf_dtype dt, int ndim, const int64_t *shape, xf_arr_layout_t *L);
xf_status xf_arr_image_to_tensor(xf_ctx_t *ctx, const xf_arr_layout_t *L, const void *img, const xf_data_opts *o, int c, int h,
                                 int w, xf_ws_t *ws, float *dst);
xf_status xf_data_out_geometry(xf_ctx_t *ctx, const xf_data_opts *o, int sc, int sh, int sw, int *c, int *h, int *w);

/* A data argument resolved to files (dataspec.c). */
typedef enum { XF_DATA_FOLDER = 1, XF_DATA_IDX, XF_DATA_NPY, XF_DATA_DIGITS } xf_data_kind;
typedef struct xf_data_resolved {
    xf_data_kind kind;
    char *path;    /* folder, images file, or digits CSV */
    char *labels;  /* IDX / npy labels file */
    char *classes; /* classes.txt or NULL */
} xf_data_resolved;
xf_status xf_data_resolve(xf_ctx_t *ctx, const char *spec, const xf_data_opts *o, xf_data_resolved *r);
void xf_data_resolved_free(xf_ctx_t *ctx, xf_data_resolved *r);
/* The limit on data loaded whole (opts->max_bytes, else XF_DATA_MAX_BYTES), and the check
 * of an IDX file's declared size against it, from its header, before anything is inflated. */
int64_t xf_data_max_bytes(const xf_data_opts *o);
xf_status xf_data_idx_check_size(xf_ctx_t *ctx, const char *path, const xf_data_opts *o);
xf_status xf_data_sniff(xf_ctx_t *ctx, const char *path, xf_data_kind *kind);
xf_status xf_data_read_classes(xf_ctx_t *ctx, const char *path, char ***names, int *k);
/* Labels array (any integer dtype, (n) or (n, 1)) -> int32 y (n); k_in > 0 fixes k. */
xf_status xf_data_labels_i32(xf_ctx_t *ctx, const xf_array *la, const char *lname, int64_t n, const char *iname, int k_in,
                             int32_t *y, int *k_out);
#endif
