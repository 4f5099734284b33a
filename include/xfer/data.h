/* xfer data loaders: labelled image datasets in memory, the file formats they come from
 * (IDX, .npy, image folders with PNG / JPEG, the scikit-learn digits CSV, the embedded
 * corpus), a batch stream for data larger than memory, the label hierarchy file and
 * PARC's fixed-budget probe sampler.
 *
 * Worked example:
 *
 *     xf_data_opts o;
 *     xf_data_opts_default(&o);
 *     o.height = o.width = 32; o.channels = 3;          // resize + crop, gray -> RGB
 *     xf_dataset ds;
 *     if (xf_data_open(ctx, "/usr/share/datasets/fashion-mnist", &o, &ds) != XF_OK)
 *         fprintf(stderr, "xfer: %s\n", xf_errmsg(ctx));
 *     // ds.x is (N, 3, 32, 32) float32, ds.y (N) int32 in [0, ds.k)
 *     xf_dataset_free(ctx, &ds);
 *
 * Pixel scale: every loader maps pixels to [0, 1] first (8-bit / 255, 16-bit / 65535,
 * digits / 16, float arrays as they are), then applies (x - mean[c]) / std[c].
 *
 * Files are untrusted: declared sizes are checked for overflow and against the real
 * (decompressed) size before anything that size is allocated; every error names the
 * file (and the line, for text files) in one line on the context.
 */
#ifndef XFER_DATA_H
#define XFER_DATA_H
#include "xfer/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- a labelled image dataset in memory -------------------------------------------- */

typedef struct xf_dataset {
    int64_t n;      /* N samples */
    int c, h, w;    /* channels, height, width of every image */
    float *x;       /* (N, C, H, W) float32, owned */
    int32_t *y;     /* (N) labels in [0, k), owned */
    int k;          /* number of classes (names[0..k-1]) */
    char **classes; /* k class names, owned (each string too) */
} xf_dataset;

/* Releases everything and zeroes *ds; safe on a zeroed or already freed dataset. */
void xf_dataset_free(xf_ctx_t *ctx, xf_dataset *ds);
/* Allocates x (N, C, H, W) and y (N) zeroed and k class names "0".."k-1". */
xf_status xf_dataset_alloc(xf_ctx_t *ctx, xf_dataset *ds, int64_t n, int c, int h, int w, int k);
/* Replaces class i's name with a copy of name. */
xf_status xf_dataset_set_class(xf_ctx_t *ctx, xf_dataset *ds, int i, const char *name);
/* A new dataset holding rows idx[0..m-1] of src (in that order), with the same classes. */
xf_status xf_dataset_subset(xf_ctx_t *ctx, const xf_dataset *src, const int64_t *idx, int64_t m,
                            xf_dataset *out);

/* ---- IDX (LeCun's MNIST format) -------------------------------------------------------
 * Layout: bytes 0,1 = 0; byte 2 = type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 * 0x0D float32, 0x0E float64); byte 3 = ndim (1..8); then ndim uint32 big-endian
 * dimensions; then the data, big-endian, C order. The file may be gzipped (detected by
 * the gzip magic 1f 8b, not by its name; concatenated gzip members are accepted).
 * The data must be exactly as long as the dimensions say: a short file, a gzip stream
 * that ends early and trailing bytes (decompressed, or after the gzip stream) are errors.
 * The result is native-endian with the matching dtype (uint8, int8, int16, int32,
 * float32, float64). */
xf_status xf_idx_read(xf_ctx_t *ctx, const char *path, xf_array *out);
/* The same from memory (gzipped or not); name is used in messages. */
xf_status xf_idx_read_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_array *out);

/* ---- the handwritten digits CSV of scikit-learn ----------------------------------------
 * 1797 rows of 64 pixel values 0..16 (8x8, row-major) and a label 0..9, comma separated,
 * gzipped or not. The result is (N, 1, 8, 8), pixels / 16, k = 10 classes "0".."9".
 * path NULL means XF_DIGITS_PATH. */
#define XF_DIGITS_PATH "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
xf_status xf_digits_read(xf_ctx_t *ctx, const char *path, xf_dataset *out);
xf_status xf_digits_read_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_dataset *out);

#ifdef __cplusplus
}
#endif
#endif
