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
    int k;          /* number of classes (classes[0..k-1]) */
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


/* ---- images: PNG and JPEG ----------------------------------------------------------- */

/* Largest image decoded (width * height); a bigger header is refused before allocation. */
#define XF_IMAGE_MAX_PIXELS ((uint64_t)1 << 28)

typedef struct xf_image {
    int h, w;    /* size in pixels */
    int c;       /* 1 (gray) or 3 (RGB) */
    int depth;   /* 8 (uint8 samples) or 16 (native uint16 samples) */
    void *data;  /* (H, W, C) interleaved, owned */
} xf_image;

/* Decodes a PNG or JPEG (chosen by magic bytes). PNG: palette -> RGB, gray < 8 bit ->
 * 8 bit, alpha dropped, 16-bit kept. JPEG: gray or RGB (CMYK refused). A corrupt or
 * truncated file is XF_ERR_FORMAT naming it. */
xf_status xf_image_read(xf_ctx_t *ctx, const char *path, xf_image *out);
xf_status xf_image_decode_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_image *out);
void xf_image_free(xf_ctx_t *ctx, xf_image *img);

/* ---- preprocessing: how every loader turns pixels into the float tensor ---------------
 * 1. channels: gray -> RGB replicates; RGB -> gray is ITU-R 601 luma as Pillow computes it
 *    for 8-bit images, L = (19595 R + 38470 G + 7471 B + 32768) >> 16, and
 *    0.299 R + 0.587 G + 0.114 B in float for 16-bit and float inputs.
 * 2. scale to [0, 1] (uint8 / 255, uint16 / 65535, digits / 16, float arrays unchanged).
 * 3. resize, when the output size differs from the input: torchvision's
 *    Resize(resize) + CenterCrop((height, width)) on a PIL image, i.e.
 *    - the shorter side becomes `resize` (default max(height, width)); the longer one
 *      int(resize * long / short);
 *    - resampling is Pillow's BILINEAR: a triangle filter with half-pixel centres whose
 *      support widens by the scale factor when shrinking (antialiased, unlike
 *      torch.nn.functional.interpolate(antialias=False)); separable, horizontal pass
 *      first; weights over the pixels inside the image, renormalised at the borders;
 *      computed in float here, where Pillow rounds 8-bit images to uint8 after each
 *      pass (a difference of at most about 1/255);
 *    - the crop offset is round((resized - crop) / 2) with Python's round-half-even.
 *    resize = XF_RESIZE_STRETCH resizes straight to (height, width) (Resize((h, w))).
 * 4. normalise: (x - mean[c]) / std[c]. */
#define XF_RESIZE_STRETCH (-1)
/* Bounds of an input normalisation (x - mean) / std on pixels in [0, 1], wherever it comes
 * from (--mean/--std, bank.json, experts.json): |mean| and std at most XF_NORM_MAX, std
 * at least XF_NORM_STD_MIN (real ones: 0.5, 0.229, 58.4 on a 0-255 scale), so the float
 * conversion and the normalised pixels stay finite. */
#define XF_NORM_MAX 1e6
#define XF_NORM_STD_MIN 1e-6

typedef struct xf_data_opts {
    int height, width;      /* output size; 0 = the data's own (image folders: all images must agree) */
    int resize;             /* shorter side before the centre crop; 0 = max(height, width);
                               XF_RESIZE_STRETCH = straight to (height, width) */
    int channels;           /* 1 or 3; 0 = the data's own (image folders: the first image's) */
    float mean[3], std[3];  /* per channel (a 1-channel output uses [0]); defaults 0 and 1 */
    const char *split;      /* "train" or "test"; NULL: "train" where the source has splits */
    const char *labels;     /* labels file for an IDX or .npy image file; NULL: found by name */
    const char *corpus_dir; /* where corpus:<task> lives; NULL = XF_CORPUS_DIR */
    int skip_bad;           /* image folders: skip an unreadable image with a warning (log) */
    int64_t max_bytes;      /* limit on an IDX file loaded whole: its declared elements, stored and
                               as float32, in bytes; 0 = XF_DATA_MAX_BYTES. Checked from the header
                               before anything is inflated (a gzip bomb costs nothing). Streams
                               and probes (xf_data_open_probe) hold one batch and the probe only. */
} xf_data_opts;
#define XF_DATA_MAX_BYTES ((int64_t)1 << 31)

void xf_data_opts_default(xf_data_opts *o);

/* Converts one decoded image to a (c, h, w) float tensor at dst following the steps
 * above. c, h, w are the output channels and size (h, w from opts or the image's own).
 * Scratch comes from ws (reset by the caller between images). */
xf_status xf_image_to_tensor(xf_ctx_t *ctx, const xf_image *img, const xf_data_opts *o, int c, int h, int w,
                             xf_ws_t *ws, float *dst);
/* The same for float planes already in [0, 1]: src (sc, sh, sw) -> dst (c, h, w). */
xf_status xf_planes_to_tensor(xf_ctx_t *ctx, const float *src, int sc, int sh, int sw, const xf_data_opts *o, int c,
                              int h, int w, xf_ws_t *ws, float *dst);
/* Pillow-compatible BILINEAR resampling of one plane: src (ih, iw) -> dst (oh, ow). */
xf_status xf_resize_bilinear(xf_ctx_t *ctx, const float *src, int ih, int iw, float *dst, int oh, int ow);


/* ---- image folders: root/<class>/<image> ----------------------------------------------
 * Classes are the sub-folders of root (names not starting with '.'), sorted in byte order
 * (strcmp; for UTF-8 names the order of Python's sorted(), so torchvision ImageFolder's
 * class indices): class i is the i-th. Images are the files ending in .png, .jpg or .jpeg
 * (any case) in the class folder and its sub-folders (up to 16 levels), listed as
 * torchvision does: folders in order of their full path, files by name within a folder;
 * other files and names starting with '.' are ignored. Errors: no class folders, a class
 * folder without images (named), an unreadable or corrupt image (named; with
 * opts->skip_bad it is skipped with a warning through the log callback instead). Output
 * channels and size default to the first image's; without a size every image must have
 * that size. */
typedef struct xf_folder {
    int k;           /* classes */
    char **classes;  /* (k) names, owned */
    int64_t n;       /* images */
    char **paths;    /* (n) "root/class/file", owned */
    int32_t *labels; /* (n) class of each path */
} xf_folder;

xf_status xf_folder_scan(xf_ctx_t *ctx, const char *root, xf_folder *out);
void xf_folder_free(xf_ctx_t *ctx, xf_folder *f);
/* Scan and decode everything into *out (preprocessing per opts, which may be NULL). */
xf_status xf_folder_load(xf_ctx_t *ctx, const char *root, const xf_data_opts *opts, xf_dataset *out);


/* ---- label hierarchy files ------------------------------------------------------------
 * Text, UTF-8, one statement per line:
 *     child<TAB>parent     an edge (spaces around a name are trimmed; names may contain
 *                          spaces but not tabs)
 *     name                 (no tab) declares `name` the root; optional, at most once
 *     # ...                comment; blank lines are ignored; "\r\n" line ends are fine.
 * The file must describe exactly one tree:
 *   - the root is the declared one, or else the single node that is never a child;
 *     two or more never-a-child nodes without a declaration: error ("2 roots ...");
 *     with a declaration, any other never-a-child node is an orphan: error;
 *   - every node reaches the root by following parents: a parent chain that loops is a
 *     cycle: error printing it ("a -> b -> a"), self-loops included;
 *   - a child listed twice with different parents: error (the same line twice is fine);
 *   - more than two tab-separated fields, or an empty name: malformed line error.
 * Errors name the file and line ("tree.tsv:12: ..."). Node ids are 0..count-1 in order
 * of first appearance; children are listed in that order too. */
typedef struct xf_hierarchy xf_hierarchy_t;

xf_status xf_hierarchy_read(xf_ctx_t *ctx, const char *path, xf_hierarchy_t **out);
xf_status xf_hierarchy_parse_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_hierarchy_t **out);
void xf_hierarchy_free(xf_hierarchy_t *h);

int64_t xf_hierarchy_count(const xf_hierarchy_t *h);
int64_t xf_hierarchy_root(const xf_hierarchy_t *h);
const char *xf_hierarchy_name(const xf_hierarchy_t *h, int64_t node); /* NULL if out of range */
int64_t xf_hierarchy_find(const xf_hierarchy_t *h, const char *name);  /* -1 if absent */
int64_t xf_hierarchy_parent(const xf_hierarchy_t *h, int64_t node);    /* -1 for the root */
int xf_hierarchy_depth(const xf_hierarchy_t *h, int64_t node);         /* root 0 */
/* Number of children; *kids points into the hierarchy (valid until it is freed). */
int64_t xf_hierarchy_children(const xf_hierarchy_t *h, int64_t node, const int64_t **kids);
/* Ancestors from the parent up to the root; writes min(count, cap) ids, returns count. */
int64_t xf_hierarchy_ancestors(const xf_hierarchy_t *h, int64_t node, int64_t *out, int64_t cap);
/* 1 if anc is node or one of its ancestors. */
int xf_hierarchy_is_under(const xf_hierarchy_t *h, int64_t node, int64_t anc);
/* The leaves under node (node itself if it is a leaf), depth-first in child order;
 * *out is allocated (xf_free). */
xf_status xf_hierarchy_leaves(xf_ctx_t *ctx, const xf_hierarchy_t *h, int64_t node, int64_t **out, int64_t *n);
/* The slice an expert trains on: indices of the samples of ds whose class name is node or
 * a node under it. Classes absent from the hierarchy are in no slice. *idx: xf_free. */
xf_status xf_hierarchy_slice(xf_ctx_t *ctx, const xf_hierarchy_t *h, int64_t node, const xf_dataset *ds, int64_t **idx,
                             int64_t *n);


/* ---- PARC's fixed-budget probe sampler --------------------------------------------------
 * Picks up to `budget` sample indices (default 500) from labels y (N) in [0, k): every
 * non-empty class's indices are shuffled; if min_per_class * C > budget (C = non-empty
 * classes), the classes are shuffled and only floor(budget / min_per_class) kept; then a
 * round-robin takes one index per kept class per pass until the budget is reached or all
 * kept classes are exhausted. So with C * 2 <= budget every class with >= 2 samples gets
 * >= 2. Seeded with xf_rng: the same seed gives the same probe set. PARC's seeds are
 * XF_PROBE_SEED(run) = 2020 + 3037 * run. *out (in selection order) is allocated:
 * xf_free. */
#define XF_PROBE_BUDGET 500
#define XF_PROBE_MIN_PER_CLASS 2
#define XF_PROBE_SEED(run) ((uint64_t)(2020 + 3037 * (uint64_t)(run)))
xf_status xf_probe_sample(xf_ctx_t *ctx, const int32_t *y, int64_t n, int k, int64_t budget, int min_per_class, uint64_t seed,
                          int64_t **out, int64_t *m);


/* ---- one way to name data -------------------------------------------------------------
 * xf_data_open(ctx, spec, opts, out) accepts (docs/DATA_ARGUMENT.md has the user's view):
 *   digits               the scikit-learn digits CSV at XF_DIGITS_PATH ((N, 1, 8, 8));
 *                        it has no splits: a split other than "train" is an error.
 *   corpus:<task>[:split]  a task of the embedded corpus (layout below); split defaults
 *                        to opts->split, then "train".
 *   a folder holding <p>-images-idx3-ubyte[.gz] with p = "train" (split train / NULL)
 *                        or "t10k" (split test): an IDX set such as Fashion-MNIST.
 *   any other folder     an image folder root/<class>/<image>; when opts->split names
 *                        a sub-folder (root/train, root/test) that one is used.
 *   an IDX file          (N, H, W) images, gzipped or not, recognised by content; labels
 *                        from opts->labels or the standard name beside it
 *                        (*-images-idx3-ubyte[.gz] -> *-labels-idx1-ubyte[.gz]).
 *   a .npy file          images (N, C, H, W), (N, H, W) or (N, H, W, C) (C = 1 or 3 last,
 *                        when dim 1 is not 1 or 3), uint8 / uint16 / float; labels from
 *                        opts->labels or *_x.npy -> *_y.npy beside it (any integer dtype).
 * Labels must lie in [0, k); k is the class-file length when there is one, else max+1,
 * and class names default to "0".."k-1".
 *
 * The embedded corpus layout (written by `xfer data build`, read by corpus:<task>):
 *     <dir>/<task>/train_x.npy   (N, C, H, W) float32 in [0, 1], or uint8 (0..255)
 *     <dir>/<task>/train_y.npy   (N) int64 labels in [0, K)
 *     <dir>/<task>/test_x.npy, test_y.npy   the held-out split, same form
 *     <dir>/<task>/classes.txt   K lines, line i+1 = name of class i (optional: "0".."K-1")
 *     <dir>/<task>/hierarchy.tsv optional label hierarchy (format above) for upstream tasks
 * Any other split name s is read from s_x.npy / s_y.npy. <dir> is opts->corpus_dir or
 * XF_CORPUS_DIR. */
#define XF_CORPUS_DIR "data/corpus"
xf_status xf_data_open(xf_ctx_t *ctx, const char *spec, const xf_data_opts *opts, xf_dataset *out);
/* xf_data_open followed by PARC's probe sampler (xf_probe_sample with budget, min_per_class
 * and seed) and xf_dataset_subset, with the same result, but an IDX set is streamed: its
 * labels are read first, the probe is sampled, and only the sampled images are kept, so
 * memory is the probe plus one batch whatever the file declares. budget <= 0 keeps every
 * image (*idx = 0..n-1). *idx (in selection order, *m entries) is allocated: xf_free. */
xf_status xf_data_open_probe(xf_ctx_t *ctx, const char *spec, const xf_data_opts *opts, int64_t budget, int min_per_class,
                             uint64_t seed, xf_dataset *out, int64_t **idx, int64_t *m);
/* Writes ds as split `split` of the task folder taskdir (created if needed) in the layout
 * above: <split>_x.npy (float32, or uint8 = round(255 x) when store_u8, which requires
 * pixels in [0, 1]), <split>_y.npy (int64) and classes.txt (ds->classes; replaced, so
 * write every split with the same classes). Files are written to a temporary name and
 * renamed into place. */
xf_status xf_corpus_write_split(xf_ctx_t *ctx, const char *taskdir, const char *split, const xf_dataset *ds, int store_u8);

/* ---- batch streaming -------------------------------------------------------------------
 * For data larger than memory: an IDX set is read incrementally from its (gzipped) file,
 * an image folder decodes only the batch's files; the other sources are loaded whole
 * and served in slices. Same spec and opts as xf_data_open, same tensors. */
typedef struct xf_data_stream xf_data_stream_t;
typedef struct xf_batch {
    int64_t n;        /* samples in this batch (0 at the end) */
    int64_t first;    /* index of the first one in the stream */
    int c, h, w;
    const float *x;   /* (n, C, H, W), owned by the stream, valid until the next call */
    const int32_t *y; /* (n) */
} xf_batch;

/* opts (and its strings) must stay valid until close. batch >= 1. */
xf_status xf_data_stream_open(xf_ctx_t *ctx, const char *spec, const xf_data_opts *opts, int64_t batch, xf_data_stream_t **out);
/* Fills *b with the next batch; b->n == 0 at the end. */
xf_status xf_data_stream_next(xf_data_stream_t *s, xf_batch *b);
int64_t xf_data_stream_count(const xf_data_stream_t *s); /* samples (files, for folders) */
int xf_data_stream_classes(const xf_data_stream_t *s, char *const **names); /* k; names owned by the stream */
void xf_data_stream_close(xf_data_stream_t *s);

#ifdef __cplusplus
}
#endif
#endif
