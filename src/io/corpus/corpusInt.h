/* Private helpers shared by glyph.c and the corpus builder (corpus.c, corpus_fonts.c,
 * corpus_tasks.c, corpus_manifest.c). */
#ifndef XFER_CORPUS_INT_H
#define XFER_CORPUS_INT_H
#include "xfer/corpus.h"

/* Scans dir like xf_fonts_open without opening any font: the hash of every font file's
 * relative path and size in scan order (the corpus's reuse check), and their count. */
xf_status xf_fonts_list_hash(xf_ctx_t *ctx, const char *dir, uint64_t *hash, int *nfiles);
/* The same hash for an opened font set. */
uint64_t xf_fonts_hash(const xf_fonts_t *f);

/* ---- the corpus builder (corpus*.c) ------------------------------------------------ */
/* Only for the files that define XF_CORPUS_BUILDER before including this header: glyph.c
 * has no use for it (and a local named S). */
#ifdef XF_CORPUS_BUILDER

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "xfer/data.h"

#define S XF_GLYPH_SIZE
#define IMG (XF_GLYPH_SIZE * XF_GLYPH_SIZE)

/* Image counts at scale 1 (named so DATA.md and the code agree). */
#define N_UP_FASHION_TRAIN 54000 /* of Fashion-MNIST's 60,000 training images ... */
#define N_UP_FASHION_TEST 6000   /* ... the rest is the upstream's test split */
#define N_UP_GLYPH_TRAIN 150     /* per glyph class */
#define N_UP_GLYPH_TEST 30
#define N_TARGET_TRAIN 1000      /* VTAB-1k */
#define N_TARGET_TEST 2000
#define N_FASHION_TRAIN_PER_CLASS 100 /* 10 classes: 1,000 */
#define N_FASHION_TEST_PER_CLASS 200
#define N_DIGITS_TRAIN 1000
#define N_DIGITS_TEST 797
#define MIN_FONTS 2 /* an upstream glyph class needs this many distinct typefaces */
#define DIGIT_BOX 22 /* 8x8 digits are upsampled to this box, like XF_GLYPH_FIT_PX */

typedef struct script_def {
    const char *name;
    uint32_t lo, hi;        /* code point range ... */
    const uint32_t *skip;   /* ... minus these */
    int nskip;
    int upstream;           /* 0: held out of the upstream (a target's unseen script) */
} script_def;

/* The scripts (corpus_fonts.c); NSCRIPTS is checked against the table there. */
extern const script_def xf_corpus_scripts[];
#define NSCRIPTS 13
enum { SC_LATIN_UPPER = 0, SC_LATIN_LOWER = 1, SC_DIGITS = 2, SC_GREEK = NSCRIPTS - 1 };

/* The task table (corpus.c): index 0 is the upstream. */
typedef struct xf_corpus_task_def { const char *name, *about; } xf_corpus_task_def;
extern const xf_corpus_task_def xf_corpus_tasks[];

enum { ROLE_EXCLUDED = 0, ROLE_UPSTREAM = 1, ROLE_HELDOUT = 2 };
enum { POOL_UP = 0, POOL_HELD = 1, POOL_ALL = 2 };

typedef struct gclass {
    int script;
    uint32_t cp;
    int *pool[3]; /* font indices per POOL_* */
    int npool[3];
} gclass;

typedef struct split {
    int64_t n, cap;
    uint8_t *x; /* (cap, 1, 28, 28) */
    int64_t *y; /* (cap) */
} split;

typedef struct names {
    char (*v)[48];
    int n;
} names;

typedef struct builder {
    xf_ctx_t *ctx;
    const xf_corpus_opts *o;
    xf_fonts_t *fonts;
    int *role, *fam;  /* per font: role, family id */
    int nfam;
    gclass *cls;
    int ncls;
    xf_corpus_report *rep;
    cJSON *files;     /* [{path, bytes}] */
    int64_t bytes;
} builder;

typedef struct fashion {
    xf_array x[2], y[2]; /* [0] train split, [1] test split: (N, 28, 28) uint8, (N) uint8 */
} fashion;

static inline int64_t cnt(const builder *b, int64_t n) {
    if (n <= 0) return 0;
    int64_t k = (int64_t)llround((double)n * b->o->scale);
    return k < 1 ? 1 : k;
}

static inline void rng_for(xf_rng *r, uint64_t seed, const char *what, int64_t k) {
    char buf[160];
    snprintf(buf, sizeof buf, "%llu/%s/%lld", (unsigned long long)seed, what, (long long)k);
    xf_rng_seed(r, xf_fnv1a(XF_FNV1A_OFFSET, buf, strlen(buf)));
}

static inline void glyph_name(char *out, size_t cap, int script, uint32_t cp) {
    if (cp < 128) snprintf(out, cap, "%s-%c", xf_corpus_scripts[script].name, (char)cp);
    else snprintf(out, cap, "%s-u%04x", xf_corpus_scripts[script].name, (unsigned)cp);
}

static inline int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

/* CRC-32 (zlib's) of a file's bytes; -1 when it cannot be read. Recorded in corpus.json so
 * that a file changed without changing its size is not reused. */
int64_t xf_corpus_file_crc(const char *path);

/* The next image slot, labelled y; NULL when full (an internal counting error). */
static inline uint8_t *split_push(split *s, int64_t y) {
    if (s->n >= s->cap) return NULL;
    s->y[s->n] = y;
    return s->x + (size_t)(s->n++) * IMG;
}

/* corpus.c: files, splits and names, writing a task */
xf_status xf_corpus_write_atomic(xf_ctx_t *ctx, const char *path, const char *text);
xf_status xf_corpus_split_init(builder *b, split *s, int64_t cap);
void xf_corpus_split_free(builder *b, split *s);
xf_status xf_corpus_names_init(builder *b, names *nm, int cap);
xf_status xf_corpus_write_lines(builder *b, const char *task, const char *file, char *text);
/* Shuffles and writes both splits, classes.txt, and adds the task to the report. */
xf_status xf_corpus_write_task(builder *b, int task, split *tr, split *te, const names *cl, const char *source);

/* corpus_fonts.c: font families, glyph coverage and pools, glyph targets */
xf_status xf_corpus_assign_families(builder *b);
xf_status xf_corpus_find_coverage(builder *b);
xf_status xf_corpus_draw_glyph(builder *b, uint32_t cp, const int *pool, int npool, xf_rng *r, uint8_t *img);
xf_status xf_corpus_glyph_target(builder *b, int task, const int *scripts, int nscripts, int pool, int by_script,
                                 const char *source);

/* corpus_tasks.c: the Fashion-MNIST files, the upstream, the Fashion-MNIST and digits targets */
extern const char *xf_corpus_fashion_files[4];
xf_status xf_corpus_fashion_path(builder *b, const char *base, char *out, size_t cap);
xf_status xf_corpus_load_fashion(builder *b, fashion *fm);
void xf_corpus_fashion_free(builder *b, fashion *fm);
xf_status xf_corpus_build_upstream(builder *b, const fashion *fm);
xf_status xf_corpus_fashion_targets(builder *b, const fashion *fm);
xf_status xf_corpus_digits_target(builder *b);

/* corpus_manifest.c: parameter hash, corpus.json */
xf_status xf_corpus_params_hash(builder *b, char out[17]);
xf_status xf_corpus_write_json(builder *b);
/* Reads dir/corpus.json; with check_files, also verifies every listed file's size. */
xf_status xf_corpus_read_info(xf_ctx_t *ctx, const char *dir, xf_corpus_report *rep, int check_files);
#endif /* XF_CORPUS_BUILDER */
#endif
