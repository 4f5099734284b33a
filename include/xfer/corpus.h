/* The embedded corpus: real images that Debian packages ship, turned into an upstream
 * corpus with a label hierarchy and a set of target tasks in the VTAB-1k shape
 * (docs/DATA.md lists every source, class and split).
 *
 * Two layers:
 *   - glyphs: a font set scanned from a directory (FreeType) and a renderer that draws one
 *     character of one font as a 28x28 grayscale image (ink = 255 on 0, like MNIST and
 *     Fashion-MNIST), with optional light augmentation (rotation, scale, shear, shift,
 *     stroke weight);
 *   - corpus: xf_corpus_build assembles the upstream and the targets from Fashion-MNIST,
 *     scikit-learn's handwritten digits and the glyphs, deterministically (same bytes for
 *     the same seed, fonts and sources), and reuses an existing corpus whose version and
 *     parameter hash match.
 *
 * Worked example:
 *
 *     xf_corpus_opts o;
 *     xf_corpus_opts_init(&o);            // data/corpus, system fonts and datasets
 *     xf_corpus_report rep;
 *     if (xf_corpus_build(ctx, &o, &rep) != XF_OK)
 *         fprintf(stderr, "xfer: %s\n", xf_errmsg(ctx));
 *     for (int i = 0; i < rep.ntasks; i++)
 *         printf("%s %lld\n", rep.tasks[i].name, (long long)rep.tasks[i].train);
 *
 * Layout written under the output directory (one folder per task, "upstream" included):
 *   <task>/train_x.npy  uint8 (N, 1, 28, 28)     <task>/train_y.npy  int64 (N,)
 *   <task>/test_x.npy   uint8 (M, 1, 28, 28)     <task>/test_y.npy   int64 (M,)
 *   <task>/classes.txt  one class name per line, line k = label k
 *   upstream/hierarchy.tsv  child<TAB>parent, root "root" -> groups -> leaf classes
 *   corpus.json  format, version, seed, scale, parameter hash, sources, fonts, tasks
 * Every file is written to a temporary name and renamed into place; corpus.json is
 * written last, so a corpus without it is incomplete and is rebuilt.
 */
#ifndef XFER_CORPUS_H
#define XFER_CORPUS_H
#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- glyphs ----------------------------------------------------------------------- */

#define XF_GLYPH_SIZE 28     /* output images are XF_GLYPH_SIZE x XF_GLYPH_SIZE */
#define XF_GLYPH_EM_PX 24.0  /* one em of the font is drawn this many pixels tall ... */
#define XF_GLYPH_FIT_PX 22.0 /* ... unless the glyph's box would exceed this (then shrunk) */
#define XF_GLYPH_MAX_PX 26.0 /* after augmentation the box is shrunk again to fit this */

typedef struct xf_fonts xf_fonts_t; /* opaque: a FreeType library and the opened faces */

/* Scans dir recursively in byte-wise sorted order for .ttf / .otf / .ttc files (first
 * face of a collection) and opens every face that has a Unicode character map and
 * scalable outlines; others are skipped. A family+style seen twice keeps the first file.
 * Fails with XF_ERR_IO naming dir when it cannot be read, XF_ERR_NOTFOUND when it holds
 * no usable font. Free with xf_fonts_free. */
xf_status xf_fonts_open(xf_ctx_t *ctx, const char *dir, xf_fonts_t **out);
void xf_fonts_free(xf_fonts_t *f);
int xf_fonts_count(const xf_fonts_t *f);
const char *xf_fonts_file(const xf_fonts_t *f, int i);   /* path relative to dir */
const char *xf_fonts_family(const xf_fonts_t *f, int i); /* "DejaVu Sans" */
const char *xf_fonts_style(const xf_fonts_t *f, int i);  /* "Bold Oblique" */
int64_t xf_fonts_file_size(const xf_fonts_t *f, int i);
/* 1 when the font's Unicode map has a glyph for code point cp (FT_Get_Char_Index). */
int xf_fonts_has_char(const xf_fonts_t *f, int i, uint32_t cp);

/* One draw of the augmentation; the identity is {0, 1, 0, 0, 0, 0}. */
typedef struct xf_glyph_aug {
    double rotate_deg; /* counter-clockwise */
    double scale;      /* multiplies the nominal size */
    double shear;      /* x += shear * y (slant) */
    double dx, dy;     /* shift in pixels, right and down */
    double embolden;   /* stroke width change in pixels; negative thins */
} xf_glyph_aug;

/* The ranges augmentation draws from (uniform in each). */
typedef struct xf_glyph_aug_limits {
    double rotate_deg;             /* |rotation| <= this; default 8 */
    double scale_lo, scale_hi;     /* default 0.88 .. 1.08 */
    double shear;                  /* |shear| <= this; default 0.12 */
    double shift_px;               /* |dx|, |dy| <= this; default 1.5 */
    double embolden_lo, embolden_hi; /* default -0.2 .. 0.8 pixels */
} xf_glyph_aug_limits;

xf_glyph_aug xf_glyph_aug_identity(void);
xf_glyph_aug_limits xf_glyph_aug_defaults(void);
/* Draws one augmentation from lim (NULL: the defaults) using rng. */
xf_glyph_aug xf_glyph_aug_draw(xf_rng *rng, const xf_glyph_aug_limits *lim);

/* Draws code point cp of font i into out (XF_GLYPH_SIZE^2 bytes, row-major, top row
 * first; 0 = background, 255 = full ink). The glyph is scaled so that one em is
 * XF_GLYPH_EM_PX pixels (keeping e.g. 'o' smaller than 'O'), shrunk to fit
 * XF_GLYPH_FIT_PX, augmented by aug (NULL: identity) and its bounding box centred.
 * XF_ERR_NOTFOUND when the font has no glyph for cp or the glyph has no ink;
 * XF_ERR_INVALID for a bad font index or a non-finite aug. Not thread-safe per xf_fonts_t. */
xf_status xf_glyph_render(xf_ctx_t *ctx, xf_fonts_t *f, int i, uint32_t cp, const xf_glyph_aug *aug,
                          uint8_t *out /* (28, 28) */);

/* ---- corpus ----------------------------------------------------------------------- */

#define XF_CORPUS_VERSION 1
#define XF_CORPUS_MAX_TASKS 16

typedef struct xf_corpus_opts {
    const char *out_dir;     /* default "data/corpus" */
    const char *fonts_dir;   /* default "/usr/share/fonts" */
    const char *fashion_dir; /* default "/usr/share/datasets/fashion-mnist" (IDX, .gz) */
    const char *digits_csv;  /* default scikit-learn's datasets/data/digits.csv.gz */
    uint64_t seed;           /* default 20240917 */
    double scale;            /* (0, 1]: multiplies every image count (small corpora for tests); default 1 */
    int force;               /* rebuild even when an up-to-date corpus is present */
} xf_corpus_opts;

void xf_corpus_opts_init(xf_corpus_opts *o);

typedef struct xf_corpus_task_info {
    char name[32];       /* folder name: "upstream", "hand-digits", ... */
    int upstream;        /* 1 for the upstream corpus, 0 for a target */
    int64_t classes, train, test;
    char source[128];    /* where the images come from */
    char differs[160];   /* how the task differs from the upstream */
} xf_corpus_task_info;

typedef struct xf_corpus_report {
    int ntasks;
    xf_corpus_task_info tasks[XF_CORPUS_MAX_TASKS];
    int reused;          /* 1 when an existing corpus was kept */
    int64_t bytes;       /* size on disk of the files listed in corpus.json */
    int nfonts_upstream, nfonts_heldout;
    char hash[17];       /* parameter hash, hex */
    double seconds;      /* wall time of xf_corpus_build */
} xf_corpus_report;

/* Builds the corpus into opts->out_dir (created with its parents when missing), or
 * reuses it when corpus.json there has this version and parameter hash and every file
 * it lists is present with its recorded size. The parameter hash covers the version,
 * seed, scale, the FreeType version and the names, sizes and mtimes of every source file
 * (fonts included). rep (may be NULL) receives what was built. Errors name the file or
 * directory: missing fonts dir or dataset, unwritable output. */
xf_status xf_corpus_build(xf_ctx_t *ctx, const xf_corpus_opts *opts, xf_corpus_report *rep);

/* Reads dir/corpus.json into rep (reused = 1, seconds = 0). XF_ERR_IO when missing,
 * XF_ERR_FORMAT when malformed, XF_ERR_UNSUPPORTED for another version. */
xf_status xf_corpus_info(xf_ctx_t *ctx, const char *dir, xf_corpus_report *rep);
/* The same from a corpus.json text in memory; name is used in messages. */
xf_status xf_corpus_info_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_corpus_report *rep);

/* The task table, whether built or not: name and one line on what differs. */
int xf_corpus_task_count(void);
const char *xf_corpus_task_name(int i);
const char *xf_corpus_task_about(int i);

#ifdef __cplusplus
}
#endif
#endif
