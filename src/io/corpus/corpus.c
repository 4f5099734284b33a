/* Corpus assembly: the upstream corpus (Fashion-MNIST train split + glyphs of 12 scripts
 * in the "upstream" typefaces, with a two-level label hierarchy) and the target tasks in
 * the VTAB-1k shape, each differing from the upstream in one way (docs/DATA.md).
 *
 * Design:
 *   - Fonts get a role from their family name: held out (FreeFont and the URW base-35
 *     clones, FreeFont being derived from URW's designs), excluded (symbol, math, music,
 *     dingbat faces and TeX fonts with private encodings) or upstream (all others).
 *   - A character's pool of fonts is every font of a role that maps it and draws ink,
 *     minus fonts whose unaugmented drawing is byte-identical to one already in the pool
 *     (Noto's script fonts repeat the Noto Sans digits, for instance).
 *   - Every random choice comes from an xf_rng seeded by a hash of (seed, what it is for),
 *     so a task's bytes do not depend on the order tasks are built in.
 *   - Glyph targets split train and test by font family: the test images of a class are
 *     drawn in families its training images never use (when the class has two or more).
 *   - Reuse: corpus.json records the version and a hash of every parameter and source file
 *     size; when they match and every listed file has its recorded size, nothing is
 *     rebuilt. corpus.json is removed first and written last.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <ft2build.h>
#include FT_FREETYPE_H

#include "io/corpus/corpusInt.h"
#include "xfer/corpus.h"
#include "xfer/data.h"
#include "xfer/npy.h"

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

/* ---- the scripts ------------------------------------------------------------------ */

typedef struct script_def {
    const char *name;
    uint32_t lo, hi;        /* code point range ... */
    const uint32_t *skip;   /* ... minus these */
    int nskip;
    int upstream;           /* 0: held out of the upstream (a target's unseen script) */
} script_def;

/* Cyrillic capitals that are drawn like Latin ones (A B E K M H O P C T Y X) would be
 * the same image under two labels; Armenian Ս and Օ likewise (U, O). */
static const uint32_t cyr_skip[] = {0x410, 0x412, 0x415, 0x41A, 0x41C, 0x41D, 0x41E, 0x420, 0x421, 0x422, 0x423, 0x425};
static const uint32_t arm_skip[] = {0x54D, 0x555};
/* Arabic: the 28 letters of the alphabet (isolated forms), not ta marbuta, alef maksura,
 * tatweel or the Keheh/Farsi variants in the range. */
static const uint32_t ara_skip[] = {0x629, 0x63B, 0x63C, 0x63D, 0x63E, 0x63F, 0x640, 0x649};
static const uint32_t grk_skip[] = {0x3C2}; /* final sigma */

static const script_def SCRIPTS[] = {
    {"latin-upper", 'A', 'Z', NULL, 0, 1},
    {"latin-lower", 'a', 'z', NULL, 0, 1},
    {"digits", '0', '9', NULL, 0, 1},
    {"cyrillic", 0x410, 0x42F, cyr_skip, 12, 1},
    {"hebrew", 0x5D0, 0x5EA, NULL, 0, 1},
    {"arabic", 0x627, 0x64A, ara_skip, 8, 1},
    {"devanagari", 0x915, 0x939, NULL, 0, 1},
    {"bengali", 0x995, 0x9B9, NULL, 0, 1},
    {"tamil", 0xB95, 0xBB9, NULL, 0, 1},
    {"thai", 0xE01, 0xE2E, NULL, 0, 1},
    {"georgian", 0x10D0, 0x10F0, NULL, 0, 1},
    {"armenian", 0x531, 0x556, arm_skip, 2, 1},
    {"greek", 0x3B1, 0x3C9, grk_skip, 1, 0},
};
#define NSCRIPTS ((int)(sizeof SCRIPTS / sizeof *SCRIPTS))
enum { SC_LATIN_UPPER = 0, SC_LATIN_LOWER = 1, SC_DIGITS = 2, SC_GREEK = NSCRIPTS - 1 };

/* Fashion-MNIST's classes (label order of the IDX files) and the groups of the hierarchy:
 * tops holds the five garments that are confused with each other (dress included: at
 * 28x28 it is a long top), footwear the three shoes; trousers and bags stand alone. */
static const char *FASHION[10] = {"tshirt-top", "trouser", "pullover", "dress", "coat",
                                  "sandal", "shirt", "sneaker", "bag", "ankle-boot"};
static const char *GROUPS[4] = {"tops", "trousers", "footwear", "bags"};
static const int GROUP_OF[10] = {0, 1, 0, 0, 0, 2, 0, 2, 3, 2};

/* ---- the task table --------------------------------------------------------------- */

static const struct { const char *name, *about; } TASKS[] = {
    {"upstream", "Fashion-MNIST train split (10 classes in 4 groups) + glyphs of 12 scripts in upstream typefaces"},
    {"hand-digits", "real handwriting: scikit-learn's 8x8 scans upsampled, vs rendered glyphs"},
    {"new-scripts", "an unseen script: Greek lower case, absent from the upstream"},
    {"new-fonts", "unseen typefaces: Latin letters in held-out families (URW base-35, FreeFont)"},
    {"font-digits", "unseen typefaces: digits in held-out families"},
    {"script-id", "coarse labels on glyphs: which script, drawn in held-out families"},
    {"fashion-fine", "few labels: 100 Fashion-MNIST test images per class"},
    {"fashion-coarse", "coarse labels: Fashion-MNIST test images labelled by group"},
};
#define NTASKS ((int)(sizeof TASKS / sizeof *TASKS))

int xf_corpus_task_count(void) { return NTASKS; }
const char *xf_corpus_task_name(int i) { return i >= 0 && i < NTASKS ? TASKS[i].name : ""; }
const char *xf_corpus_task_about(int i) { return i >= 0 && i < NTASKS ? TASKS[i].about : ""; }

void xf_corpus_opts_init(xf_corpus_opts *o) {
    memset(o, 0, sizeof *o);
    o->out_dir = XF_CORPUS_DIR;
    o->fonts_dir = "/usr/share/fonts";
    o->fashion_dir = "/usr/share/datasets/fashion-mnist";
    o->digits_csv = XF_DIGITS_PATH;
    o->seed = 20240917;
    o->scale = 1.0;
}

/* ---- builder state ---------------------------------------------------------------- */

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

static int64_t cnt(const builder *b, int64_t n) {
    if (n <= 0) return 0;
    int64_t k = (int64_t)llround((double)n * b->o->scale);
    return k < 1 ? 1 : k;
}

static void rng_for(xf_rng *r, uint64_t seed, const char *what, int64_t k) {
    char buf[160];
    snprintf(buf, sizeof buf, "%llu/%s/%lld", (unsigned long long)seed, what, (long long)k);
    xf_rng_seed(r, xf_corpus_fnv1a(XF_CORPUS_FNV_OFFSET, buf, strlen(buf)));
}

static void glyph_name(char *out, size_t cap, int script, uint32_t cp) {
    if (cp < 128) snprintf(out, cap, "%s-%c", SCRIPTS[script].name, (char)cp);
    else snprintf(out, cap, "%s-u%04x", SCRIPTS[script].name, (unsigned)cp);
}

static int font_role(const xf_fonts_t *f, int i) {
    const char *fam = xf_fonts_family(f, i), *file = xf_fonts_file(f, i);
    static const char *excl[] = {"Symbol", "Math", "Music", "Dingbat", "D050000L", "Emoji"};
    static const char *held[] = {"Free", "Nimbus", "C059", "P052", "URW", "Z003"};
    if (strstr(file, "lyx/") || !strncmp(file, "lyx", 3)) return ROLE_EXCLUDED;
    for (size_t k = 0; k < sizeof excl / sizeof *excl; k++)
        if (strstr(fam, excl[k])) return ROLE_EXCLUDED;
    for (size_t k = 0; k < sizeof held / sizeof *held; k++)
        if (!strncmp(fam, held[k], strlen(held[k]))) return ROLE_HELDOUT;
    return ROLE_UPSTREAM;
}

/* ---- small file helpers ----------------------------------------------------------- */

static xf_status mkdirs(xf_ctx_t *ctx, const char *dir) {
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p) return XF_ERR(ctx, XF_ERR_INVALID, "output directory: bad path '%s'", dir);
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        struct stat sb;
        if (stat(p, &sb) != 0) {
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        } else if (!S_ISDIR(sb.st_mode))
            return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create directory: a file is in the way", p);
        p[i] = c;
    }
    if (access(dir, W_OK) != 0) return XF_ERR(ctx, XF_ERR_IO, "%s: output directory is not writable: %s", dir, strerror(errno));
    return XF_OK;
}

static xf_status write_atomic(xf_ctx_t *ctx, const char *path, const char *text) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return XF_OK;
}

static int64_t file_mtime(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_mtime : -1;
}

static int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

/* Records a written file (relative to out_dir) with its size in corpus.json's list. */
static xf_status note_file(builder *b, const char *rel) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", b->o->out_dir, rel);
    int64_t sz = file_size(p);
    if (sz < 0) return XF_ERR(b->ctx, XF_ERR_IO, "%s: missing after writing", p);
    cJSON *e = cJSON_CreateObject();
    if (!e || !cJSON_AddStringToObject(e, "path", rel) || !cJSON_AddNumberToObject(e, "bytes", (double)sz)) {
        cJSON_Delete(e);
        return XF_ERR(b->ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    }
    cJSON_AddItemToArray(b->files, e);
    b->bytes += sz;
    return XF_OK;
}

/* ---- splits and names ------------------------------------------------------------- */

static xf_status split_init(builder *b, split *s, int64_t cap) {
    memset(s, 0, sizeof *s);
    s->cap = cap;
    if (cap == 0) return XF_OK;
    size_t nx;
    if (!xf_mul_ok((size_t)cap, IMG, &nx)) return XF_ERR(b->ctx, XF_ERR_NOMEM, "corpus: split too large");
    s->x = xf_calloc(b->ctx, nx, 1);
    s->y = xf_calloc(b->ctx, (size_t)cap, sizeof *s->y);
    return s->x && s->y ? XF_OK : XF_ERR_NOMEM;
}

static void split_free(builder *b, split *s) {
    xf_free(b->ctx, s->x);
    xf_free(b->ctx, s->y);
    memset(s, 0, sizeof *s);
}

/* The next image slot, labelled y; NULL when full (an internal counting error). */
static uint8_t *split_push(split *s, int64_t y) {
    if (s->n >= s->cap) return NULL;
    s->y[s->n] = y;
    return s->x + (size_t)(s->n++) * IMG;
}

/* Shuffles images and labels together, so that any prefix is a random subset. */
static xf_status split_shuffle(builder *b, split *s, const char *what) {
    if (s->n < 2) return XF_OK;
    xf_rng r;
    rng_for(&r, b->o->seed, what, 0);
    int64_t *perm = xf_malloc(b->ctx, (size_t)s->n * sizeof *perm);
    uint8_t *x = xf_malloc(b->ctx, (size_t)s->n * IMG);
    int64_t *y = xf_malloc(b->ctx, (size_t)s->n * sizeof *y);
    if (!perm || !x || !y) { xf_free(b->ctx, perm); xf_free(b->ctx, x); xf_free(b->ctx, y); return XF_ERR_NOMEM; }
    for (int64_t i = 0; i < s->n; i++) perm[i] = i;
    xf_rng_shuffle_i64(&r, perm, s->n);
    for (int64_t i = 0; i < s->n; i++) {
        memcpy(x + (size_t)i * IMG, s->x + (size_t)perm[i] * IMG, IMG);
        y[i] = s->y[perm[i]];
    }
    xf_free(b->ctx, perm);
    xf_free(b->ctx, s->x);
    xf_free(b->ctx, s->y);
    s->x = x;
    s->y = y;
    s->cap = s->n;
    return XF_OK;
}

static xf_status names_init(builder *b, names *nm, int cap) {
    nm->n = 0;
    nm->v = xf_calloc(b->ctx, (size_t)(cap > 0 ? cap : 1), sizeof *nm->v);
    return nm->v ? XF_OK : XF_ERR_NOMEM;
}

/* ---- writing a task --------------------------------------------------------------- */

static xf_status write_split(builder *b, const char *task, const char *which, const split *s) {
    char rel[256], p[4200];
    int64_t xs[4] = {s->n, 1, S, S}, ys[1] = {s->n};
    uint8_t dummy = 0;
    snprintf(rel, sizeof rel, "%s/%s_x.npy", task, which);
    snprintf(p, sizeof p, "%s/%s", b->o->out_dir, rel);
    xf_status st = xf_npy_write_raw(b->ctx, p, XF_DT_U8, 4, xs, s->x ? (const void *)s->x : &dummy);
    if (st == XF_OK) st = note_file(b, rel);
    if (st != XF_OK) return st;
    snprintf(rel, sizeof rel, "%s/%s_y.npy", task, which);
    snprintf(p, sizeof p, "%s/%s", b->o->out_dir, rel);
    int64_t dummy_y = 0;
    st = xf_npy_write_raw(b->ctx, p, XF_DT_I64, 1, ys, s->y ? (const void *)s->y : &dummy_y);
    if (st == XF_OK) st = note_file(b, rel);
    return st;
}

static xf_status write_lines(builder *b, const char *task, const char *file, char *text) {
    char rel[256], p[4200];
    snprintf(rel, sizeof rel, "%s/%s", task, file);
    snprintf(p, sizeof p, "%s/%s", b->o->out_dir, rel);
    xf_status st = write_atomic(b->ctx, p, text);
    return st == XF_OK ? note_file(b, rel) : st;
}

/* Shuffles and writes both splits, classes.txt, and adds the task to the report. */
static xf_status write_task(builder *b, int task, split *tr, split *te, const names *cl, const char *source) {
    const char *name = TASKS[task].name;
    char dir[4200], what[96];
    snprintf(dir, sizeof dir, "%s/%s", b->o->out_dir, name);
    xf_status st = mkdirs(b->ctx, dir);
    snprintf(what, sizeof what, "%s/shuffle-train", name);
    if (st == XF_OK) st = split_shuffle(b, tr, what);
    snprintf(what, sizeof what, "%s/shuffle-test", name);
    if (st == XF_OK) st = split_shuffle(b, te, what);
    if (st == XF_OK) st = write_split(b, name, "train", tr);
    if (st == XF_OK) st = write_split(b, name, "test", te);
    if (st != XF_OK) return st;
    size_t len = 1;
    for (int i = 0; i < cl->n; i++) len += strlen(cl->v[i]) + 1;
    char *text = xf_malloc(b->ctx, len);
    if (!text) return XF_ERR_NOMEM;
    text[0] = 0;
    size_t at = 0;
    for (int i = 0; i < cl->n; i++) at += (size_t)sprintf(text + at, "%s\n", cl->v[i]);
    st = write_lines(b, name, "classes.txt", text);
    xf_free(b->ctx, text);
    if (st != XF_OK) return st;
    xf_corpus_report *rep = b->rep;
    if (rep->ntasks < XF_CORPUS_MAX_TASKS) {
        xf_corpus_task_info *t = &rep->tasks[rep->ntasks++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->upstream = task == 0;
        t->classes = cl->n;
        t->train = tr->n;
        t->test = te->n;
        snprintf(t->source, sizeof t->source, "%s", source);
        snprintf(t->differs, sizeof t->differs, "%s", TASKS[task].about);
    }
    xf_progress(b->ctx, "corpus", rep->ntasks, NTASKS);
    return XF_OK;
}

/* ---- glyph coverage --------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int in_skip(const script_def *sd, uint32_t cp) {
    for (int k = 0; k < sd->nskip; k++)
        if (sd->skip[k] == cp) return 1;
    return 0;
}

/* Family ids: families sorted by name, so ids do not depend on the scan order. */
static xf_status assign_families(builder *b) {
    int n = xf_fonts_count(b->fonts);
    const char **fams = xf_calloc(b->ctx, (size_t)(n ? n : 1), sizeof *fams);
    if (!fams) return XF_ERR_NOMEM;
    int nf = 0;
    for (int i = 0; i < n; i++) {
        const char *f = xf_fonts_family(b->fonts, i);
        int seen = 0;
        for (int k = 0; k < nf && !seen; k++) seen = !strcmp(fams[k], f);
        if (!seen) fams[nf++] = f;
    }
    for (int i = 1; i < nf; i++) /* insertion sort: a few hundred names */
        for (int k = i; k > 0 && strcmp(fams[k - 1], fams[k]) > 0; k--) {
            const char *t = fams[k];
            fams[k] = fams[k - 1];
            fams[k - 1] = t;
        }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nf; k++)
            if (!strcmp(fams[k], xf_fonts_family(b->fonts, i))) { b->fam[i] = k; break; }
    b->nfam = nf;
    xf_free(b->ctx, fams);
    return XF_OK;
}

/* For every character of every script: the fonts of each role that draw it, without
 * fonts whose unaugmented drawing repeats one already in the pool. */
static xf_status find_coverage(builder *b) {
    xf_ctx_t *ctx = b->ctx;
    int nf = xf_fonts_count(b->fonts);
    int ncap = 0;
    for (int s = 0; s < NSCRIPTS; s++) ncap += (int)(SCRIPTS[s].hi - SCRIPTS[s].lo + 1);
    b->cls = xf_calloc(ctx, (size_t)ncap, sizeof *b->cls);
    uint64_t *hash = xf_malloc(ctx, (size_t)nf * sizeof *hash);
    int *ok = xf_malloc(ctx, (size_t)nf * sizeof *ok);
    if (!b->cls || !hash || !ok) { xf_free(ctx, hash); xf_free(ctx, ok); return XF_ERR_NOMEM; }
    xf_status st = XF_OK;
    uint8_t img[IMG];
    for (int s = 0; s < NSCRIPTS && st == XF_OK; s++) {
        const script_def *sd = &SCRIPTS[s];
        for (uint32_t cp = sd->lo; cp <= sd->hi && st == XF_OK; cp++) {
            if (in_skip(sd, cp)) continue;
            int nok = 0;
            for (int i = 0; i < nf; i++) {
                ok[i] = 0;
                if (b->role[i] == ROLE_EXCLUDED || !xf_fonts_has_char(b->fonts, i, cp)) continue;
                xf_status r = xf_glyph_render(ctx, b->fonts, i, cp, NULL, img);
                if (r == XF_ERR_NOTFOUND || r == XF_ERR_FORMAT) { xf_ctx_clear_error(ctx); continue; }
                if (r != XF_OK) { st = r; break; }
                hash[i] = xf_corpus_fnv1a(XF_CORPUS_FNV_OFFSET, img, IMG);
                ok[i] = 1;
                nok++;
            }
            if (st != XF_OK || nok == 0) continue;
            gclass *c = &b->cls[b->ncls];
            c->script = s;
            c->cp = cp;
            for (int p = 0; p < 3; p++) {
                c->pool[p] = xf_malloc(ctx, (size_t)nok * sizeof(int));
                if (!c->pool[p]) { st = XF_ERR_NOMEM; break; }
            }
            b->ncls++; /* counted now so the pools are freed on any failure */
            if (st != XF_OK) break;
            for (int i = 0; i < nf; i++) {
                if (!ok[i]) continue;
                for (int p = 0; p < 3; p++) {
                    if (p == POOL_UP && b->role[i] != ROLE_UPSTREAM) continue;
                    if (p == POOL_HELD && b->role[i] != ROLE_HELDOUT) continue;
                    int dup = 0;
                    for (int k = 0; k < c->npool[p] && !dup; k++) dup = hash[c->pool[p][k]] == hash[i];
                    if (!dup) c->pool[p][c->npool[p]++] = i;
                }
            }
        }
    }
    xf_free(ctx, hash);
    xf_free(ctx, ok);
    return st;
}

/* Draws one augmented image of cp from a font picked in pool. A drawing with no ink
 * (a stroke thinned away) is redrawn with a new font and augmentation. */
static xf_status draw_glyph(builder *b, uint32_t cp, const int *pool, int npool, xf_rng *r, uint8_t *img) {
    for (int attempt = 0; attempt < 16; attempt++) {
        int f = pool[xf_rng_below(r, (uint64_t)npool)];
        xf_glyph_aug a = xf_glyph_aug_draw(r, NULL);
        xf_status st = xf_glyph_render(b->ctx, b->fonts, f, cp, &a, img);
        if (st == XF_OK) return XF_OK;
        if (st != XF_ERR_NOTFOUND) return st;
        xf_ctx_clear_error(b->ctx);
    }
    return XF_ERR(b->ctx, XF_ERR_INTERNAL, "glyph U+%04X: no font of its pool draws it", (unsigned)cp);
}

/* ---- the upstream ----------------------------------------------------------------- */

typedef struct fashion {
    xf_array x[2], y[2]; /* [0] train split, [1] test split: (N, 28, 28) uint8, (N) uint8 */
} fashion;

static xf_status fashion_path(builder *b, const char *base, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s.gz", b->o->fashion_dir, base);
    if (file_size(out) >= 0) return XF_OK;
    snprintf(out, cap, "%s/%s", b->o->fashion_dir, base);
    if (file_size(out) >= 0) return XF_OK;
    return XF_ERR(b->ctx, XF_ERR_IO, "%s/%s.gz: Fashion-MNIST file not found (install dataset-fashion-mnist)",
                  b->o->fashion_dir, base);
}

static const char *FASHION_FILES[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

static xf_status load_fashion(builder *b, fashion *fm) {
    memset(fm, 0, sizeof *fm);
    char p[4200];
    for (int k = 0; k < 4; k++) {
        xf_array *a = k & 1 ? &fm->y[k / 2] : &fm->x[k / 2];
        xf_status st = fashion_path(b, FASHION_FILES[k], p, sizeof p);
        if (st == XF_OK) st = xf_idx_read(b->ctx, p, a);
        if (st != XF_OK) return st;
        int ok = a->dtype == XF_DT_U8 && (k & 1 ? a->ndim == 1 : a->ndim == 3 && a->shape[1] == S && a->shape[2] == S);
        if (!ok) return XF_ERR(b->ctx, XF_ERR_FORMAT, "%s: not a Fashion-MNIST %s file", p, k & 1 ? "label" : "28x28 image");
        if (k & 1) {
            if (a->shape[0] != fm->x[k / 2].shape[0])
                return XF_ERR(b->ctx, XF_ERR_SHAPE, "%s: %lld labels for %lld images", p, (long long)a->shape[0],
                              (long long)fm->x[k / 2].shape[0]);
            const uint8_t *y = a->data;
            for (int64_t i = 0; i < a->shape[0]; i++)
                if (y[i] > 9) return XF_ERR(b->ctx, XF_ERR_FORMAT, "%s: label %d at %lld is not in 0..9", p, y[i], (long long)i);
        }
    }
    return XF_OK;
}

static void fashion_free(builder *b, fashion *fm) {
    for (int k = 0; k < 2; k++) { xf_array_free(b->ctx, &fm->x[k]); xf_array_free(b->ctx, &fm->y[k]); }
}

static xf_status build_upstream(builder *b, const fashion *fm) {
    xf_ctx_t *ctx = b->ctx;
    int64_t nf = fm->x[0].shape[0];
    int64_t nte = cnt(b, N_UP_FASHION_TEST), ntr = cnt(b, N_UP_FASHION_TRAIN);
    if (nte + ntr > nf) return XF_ERR(ctx, XF_ERR_SHAPE, "Fashion-MNIST train split: %lld images, need %lld", (long long)nf, (long long)(nte + ntr));
    int nup = 0;
    for (int c = 0; c < b->ncls; c++)
        nup += SCRIPTS[b->cls[c].script].upstream && b->cls[c].npool[POOL_UP] >= MIN_FONTS;
    if (nup == 0) return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no font draws the upstream scripts", b->o->fonts_dir);
    int64_t gtr = cnt(b, N_UP_GLYPH_TRAIN), gte = cnt(b, N_UP_GLYPH_TEST);
    split tr, te;
    names cl;
    memset(&cl, 0, sizeof cl);
    xf_status st = split_init(b, &tr, ntr + (int64_t)nup * gtr);
    if (st == XF_OK) st = split_init(b, &te, nte + (int64_t)nup * gte);
    if (st == XF_OK) st = names_init(b, &cl, 10 + nup);
    int64_t *perm = st == XF_OK ? xf_malloc(ctx, (size_t)nf * sizeof *perm) : NULL;
    char *tsv = NULL;
    if (st == XF_OK && !perm) st = XF_ERR_NOMEM;
    if (st == XF_OK) {
        /* Fashion-MNIST: a seeded permutation of the train split; the first part is the
         * upstream's test split. */
        xf_rng r;
        rng_for(&r, b->o->seed, "upstream/fashion", 0);
        for (int64_t i = 0; i < nf; i++) perm[i] = i;
        xf_rng_shuffle_i64(&r, perm, nf);
        const uint8_t *x = fm->x[0].data, *y = fm->y[0].data;
        for (int64_t i = 0; i < nte + ntr; i++) {
            uint8_t *dst = split_push(i < nte ? &te : &tr, y[perm[i]]);
            memcpy(dst, x + (size_t)perm[i] * IMG, IMG);
        }
        for (int k = 0; k < 10; k++) snprintf(cl.v[cl.n++], sizeof cl.v[0], "%s", FASHION[k]);
        /* glyphs: label 10 + k for the k-th upstream glyph class */
        for (int c = 0; c < b->ncls && st == XF_OK; c++) {
            const gclass *g = &b->cls[c];
            if (!SCRIPTS[g->script].upstream || g->npool[POOL_UP] < MIN_FONTS) continue;
            int label = cl.n;
            glyph_name(cl.v[cl.n++], sizeof cl.v[0], g->script, g->cp);
            rng_for(&r, b->o->seed, "upstream/glyph", g->cp);
            for (int64_t k = 0; k < gtr + gte && st == XF_OK; k++) {
                uint8_t *dst = split_push(k < gtr ? &tr : &te, label);
                st = dst ? draw_glyph(b, g->cp, g->pool[POOL_UP], g->npool[POOL_UP], &r, dst)
                         : XF_ERR(ctx, XF_ERR_INTERNAL, "upstream: split overflow");
            }
        }
    }
    if (st == XF_OK) st = write_task(b, 0, &tr, &te, &cl, "dataset-fashion-mnist (train split) + fonts (upstream families)");
    if (st == XF_OK) {
        /* hierarchy.tsv: groups under the root, then every class under its group */
        tsv = xf_malloc(ctx, (size_t)(cl.n + 32) * 80);
        if (!tsv) st = XF_ERR_NOMEM;
    }
    if (st == XF_OK) {
        size_t at = 0;
        for (int g = 0; g < 4; g++) at += (size_t)sprintf(tsv + at, "%s\troot\n", GROUPS[g]);
        for (int s = 0; s < NSCRIPTS; s++) {
            int used = 0;
            for (int c = 0; c < b->ncls; c++)
                used |= b->cls[c].script == s && SCRIPTS[s].upstream && b->cls[c].npool[POOL_UP] >= MIN_FONTS;
            if (used) at += (size_t)sprintf(tsv + at, "%s\troot\n", SCRIPTS[s].name);
        }
        for (int k = 0; k < 10; k++) at += (size_t)sprintf(tsv + at, "%s\t%s\n", FASHION[k], GROUPS[GROUP_OF[k]]);
        int k = 10;
        for (int c = 0; c < b->ncls; c++) {
            const gclass *g = &b->cls[c];
            if (!SCRIPTS[g->script].upstream || g->npool[POOL_UP] < MIN_FONTS) continue;
            at += (size_t)sprintf(tsv + at, "%s\t%s\n", cl.v[k++], SCRIPTS[g->script].name);
        }
        st = write_lines(b, "upstream", "hierarchy.tsv", tsv);
    }
    xf_free(ctx, tsv);
    xf_free(ctx, perm);
    xf_free(ctx, cl.v);
    split_free(b, &tr);
    split_free(b, &te);
    return st;
}

/* ---- glyph targets ---------------------------------------------------------------- */

/* A glyph target: label -> the characters it holds (with the pool to draw them from). */
typedef struct gtarget {
    int nlab;
    int *first, *count; /* per label: a run of items */
    int nitem;
    int *item;          /* class index into b->cls */
    int pool;           /* POOL_* */
} gtarget;

/* Draws n_train + n_test images over the labels (as even as the counts allow). For each
 * label the font families of its pools are shuffled and halved: train images come from
 * the first half, test images from the second (both from all when only one family). */
static xf_status draw_target(builder *b, int task, const gtarget *t, names *cl, const char *source) {
    xf_ctx_t *ctx = b->ctx;
    int64_t ntr = cnt(b, N_TARGET_TRAIN), nte = cnt(b, N_TARGET_TEST);
    split tr, te;
    xf_status st = split_init(b, &tr, ntr);
    if (st == XF_OK) st = split_init(b, &te, nte);
    int nf = xf_fonts_count(b->fonts);
    int *fam_order = xf_malloc(ctx, (size_t)(b->nfam + 1) * sizeof(int));
    int *side = xf_malloc(ctx, (size_t)(b->nfam + 1) * sizeof(int)); /* -1 unused, 0 train, 1 test */
    int *spool = xf_malloc(ctx, (size_t)(nf + 1) * sizeof(int));
    if (st == XF_OK && (!fam_order || !side || !spool)) st = XF_ERR_NOMEM;
    for (int L = 0; L < t->nlab && st == XF_OK; L++) {
        xf_rng r;
        char what[96];
        snprintf(what, sizeof what, "%s/label", TASKS[task].name);
        rng_for(&r, b->o->seed, what, L);
        for (int f = 0; f < b->nfam; f++) side[f] = -1;
        int nfl = 0;
        for (int k = 0; k < t->count[L]; k++) {
            const gclass *g = &b->cls[t->item[t->first[L] + k]];
            for (int q = 0; q < g->npool[t->pool]; q++) {
                int fam = b->fam[g->pool[t->pool][q]];
                if (side[fam] == -1) { side[fam] = 0; fam_order[nfl++] = fam; }
            }
        }
        qsort(fam_order, (size_t)nfl, sizeof(int), cmp_int);
        int64_t *perm = xf_malloc(ctx, (size_t)(nfl + 1) * sizeof *perm);
        if (!perm) { st = XF_ERR_NOMEM; break; }
        for (int k = 0; k < nfl; k++) perm[k] = k;
        xf_rng_shuffle_i64(&r, perm, nfl);
        for (int k = 0; k < nfl; k++) side[fam_order[perm[k]]] = nfl >= 2 && k >= (nfl + 1) / 2;
        xf_free(ctx, perm);
        for (int sp = 0; sp < 2 && st == XF_OK; sp++) {
            split *dst = sp ? &te : &tr;
            int64_t tot = sp ? nte : ntr;
            int64_t n = tot / t->nlab + (L < tot % t->nlab);
            for (int64_t k = 0; k < n && st == XF_OK; k++) {
                /* a character (of a script label) drawn by some family of this side;
                 * after 64 misses, any family of the character */
                const gclass *g = NULL;
                int ns = 0;
                for (int tries = 0; tries < 64 && ns == 0; tries++) {
                    g = &b->cls[t->item[t->first[L] + (int)xf_rng_below(&r, (uint64_t)t->count[L])]];
                    for (int q = 0; q < g->npool[t->pool]; q++)
                        if (nfl < 2 || side[b->fam[g->pool[t->pool][q]]] == sp) spool[ns++] = g->pool[t->pool][q];
                }
                const int *pool = ns ? spool : g->pool[t->pool];
                if (!ns) ns = g->npool[t->pool];
                uint8_t *img = split_push(dst, L);
                st = img ? draw_glyph(b, g->cp, pool, ns, &r, img) : XF_ERR(ctx, XF_ERR_INTERNAL, "target: split overflow");
            }
        }
    }
    if (st == XF_OK) st = write_task(b, task, &tr, &te, cl, source);
    xf_free(ctx, fam_order);
    xf_free(ctx, side);
    xf_free(ctx, spool);
    split_free(b, &tr);
    split_free(b, &te);
    return st;
}

/* One target over the characters of the given scripts: by_script = 0 gives one label per
 * character, 1 one label per script. */
static xf_status glyph_target(builder *b, int task, const int *scripts, int nscripts, int pool, int by_script,
                              const char *source) {
    xf_ctx_t *ctx = b->ctx;
    gtarget t;
    memset(&t, 0, sizeof t);
    t.pool = pool;
    names cl;
    xf_status st = names_init(b, &cl, b->ncls + NSCRIPTS);
    t.first = xf_calloc(ctx, (size_t)(b->ncls + NSCRIPTS), sizeof(int));
    t.count = xf_calloc(ctx, (size_t)(b->ncls + NSCRIPTS), sizeof(int));
    t.item = xf_calloc(ctx, (size_t)(b->ncls + 1), sizeof(int));
    if (st == XF_OK && (!t.first || !t.count || !t.item)) st = XF_ERR_NOMEM;
    for (int si = 0; si < nscripts && st == XF_OK; si++) {
        int s = scripts[si], start = t.nitem;
        for (int c = 0; c < b->ncls; c++) {
            const gclass *g = &b->cls[c];
            if (g->script != s || g->npool[pool] == 0) continue;
            if (!by_script) { /* one label per character */
                t.first[t.nlab] = t.nitem;
                t.count[t.nlab++] = 1;
                glyph_name(cl.v[cl.n++], sizeof cl.v[0], s, g->cp);
            }
            t.item[t.nitem++] = c;
        }
        if (by_script && t.nitem > start) { /* one label per script */
            t.first[t.nlab] = start;
            t.count[t.nlab++] = t.nitem - start;
            snprintf(cl.v[cl.n++], sizeof cl.v[0], "%s", SCRIPTS[s].name);
        }
    }
    if (st == XF_OK && t.nlab < 2)
        st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: too few %s fonts to build the target '%s'", b->o->fonts_dir,
                    pool == POOL_HELD ? "held-out (URW base-35, FreeFont)" : "", TASKS[task].name);
    if (st == XF_OK) st = draw_target(b, task, &t, &cl, source);
    xf_free(ctx, t.first);
    xf_free(ctx, t.count);
    xf_free(ctx, t.item);
    xf_free(ctx, cl.v);
    return st;
}

/* ---- Fashion-MNIST and digits targets --------------------------------------------- */

static xf_status fashion_targets(builder *b, const fashion *fm) {
    xf_ctx_t *ctx = b->ctx;
    int64_t n = fm->x[1].shape[0];
    const uint8_t *x = fm->x[1].data, *y = fm->y[1].data;
    int64_t a = cnt(b, N_FASHION_TRAIN_PER_CLASS), t = cnt(b, N_FASHION_TEST_PER_CLASS);
    int64_t *idx = xf_malloc(ctx, (size_t)(n + 1) * sizeof *idx);
    split s[4];
    memset(s, 0, sizeof s);
    xf_status st = idx ? XF_OK : XF_ERR_NOMEM;
    for (int k = 0; k < 4 && st == XF_OK; k++) st = split_init(b, &s[k], 10 * (k & 1 ? t : a));
    /* per class: its test-split images in file order, shuffled; fine takes the first
     * a + t, coarse the next a + t, so the two tasks share no image */
    for (int c = 0; c < 10 && st == XF_OK; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (y[i] == c) idx[m++] = i;
        if (m < 2 * (a + t)) {
            st = XF_ERR(ctx, XF_ERR_SHAPE, "Fashion-MNIST test split: class %d has %lld images, need %lld", c,
                        (long long)m, (long long)(2 * (a + t)));
            break;
        }
        xf_rng r;
        rng_for(&r, b->o->seed, "fashion-targets", c);
        xf_rng_shuffle_i64(&r, idx, m);
        for (int64_t k = 0; k < 2 * (a + t); k++) {
            int task = k >= a + t;            /* 0 fine, 1 coarse */
            int which = (k % (a + t)) >= a;   /* 0 train, 1 test */
            uint8_t *dst = split_push(&s[2 * task + which], task ? GROUP_OF[c] : c);
            memcpy(dst, x + (size_t)idx[k] * IMG, IMG);
        }
    }
    names fine, coarse;
    memset(&fine, 0, sizeof fine);
    memset(&coarse, 0, sizeof coarse);
    if (st == XF_OK) st = names_init(b, &fine, 10);
    if (st == XF_OK) st = names_init(b, &coarse, 4);
    if (st == XF_OK) {
        for (int k = 0; k < 10; k++) snprintf(fine.v[fine.n++], sizeof fine.v[0], "%s", FASHION[k]);
        for (int k = 0; k < 4; k++) snprintf(coarse.v[coarse.n++], sizeof coarse.v[0], "%s", GROUPS[k]);
        st = write_task(b, 6, &s[0], &s[1], &fine, "dataset-fashion-mnist (test split)");
    }
    if (st == XF_OK) st = write_task(b, 7, &s[2], &s[3], &coarse, "dataset-fashion-mnist (test split)");
    for (int k = 0; k < 4; k++) split_free(b, &s[k]);
    xf_free(ctx, fine.v);
    xf_free(ctx, coarse.v);
    xf_free(ctx, idx);
    return st;
}

/* 8x8 (values in [0, 1]) -> DIGIT_BOX^2 by bilinear interpolation at pixel centres,
 * centred in 28x28. */
static void upsample_digit(const float *src, uint8_t *dst) {
    const int off = (S - DIGIT_BOX) / 2;
    memset(dst, 0, IMG);
    for (int i = 0; i < DIGIT_BOX; i++) {
        double u = (i + 0.5) * 8.0 / DIGIT_BOX - 0.5;
        if (u < 0) u = 0;
        if (u > 7) u = 7;
        int i0 = (int)u, i1 = i0 < 7 ? i0 + 1 : 7;
        double fu = u - i0;
        for (int j = 0; j < DIGIT_BOX; j++) {
            double v = (j + 0.5) * 8.0 / DIGIT_BOX - 0.5;
            if (v < 0) v = 0;
            if (v > 7) v = 7;
            int j0 = (int)v, j1 = j0 < 7 ? j0 + 1 : 7;
            double fv = v - j0;
            double p = (1 - fu) * ((1 - fv) * src[i0 * 8 + j0] + fv * src[i0 * 8 + j1]) +
                       fu * ((1 - fv) * src[i1 * 8 + j0] + fv * src[i1 * 8 + j1]);
            long q = lround(p * 255.0);
            dst[(i + off) * S + j + off] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
    }
}

static xf_status digits_target(builder *b) {
    xf_ctx_t *ctx = b->ctx;
    xf_dataset ds;
    memset(&ds, 0, sizeof ds);
    xf_status st = xf_digits_read(ctx, b->o->digits_csv, &ds);
    if (st != XF_OK) return st;
    if (ds.c != 1 || ds.h != 8 || ds.w != 8 || ds.k != 10 || ds.n < 2) {
        xf_dataset_free(ctx, &ds);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not 8x8 digits in 10 classes", b->o->digits_csv);
    }
    int64_t ntr = cnt(b, N_DIGITS_TRAIN), nte = cnt(b, N_DIGITS_TEST);
    if (ntr > ds.n - 1) ntr = ds.n - 1;
    if (nte > ds.n - ntr) nte = ds.n - ntr;
    split tr, te;
    names cl;
    memset(&cl, 0, sizeof cl);
    int64_t *perm = xf_malloc(ctx, (size_t)ds.n * sizeof *perm);
    st = perm ? split_init(b, &tr, ntr) : XF_ERR_NOMEM;
    if (st == XF_OK) st = split_init(b, &te, nte);
    if (st == XF_OK) st = names_init(b, &cl, 10);
    if (st == XF_OK) {
        xf_rng r;
        rng_for(&r, b->o->seed, "hand-digits", 0);
        for (int64_t i = 0; i < ds.n; i++) perm[i] = i;
        xf_rng_shuffle_i64(&r, perm, ds.n);
        for (int64_t i = 0; i < ntr + nte; i++) {
            int64_t row = perm[i];
            uint8_t *dst = split_push(i < ntr ? &tr : &te, ds.y[row]);
            upsample_digit(ds.x + (size_t)row * 64, dst);
        }
        for (int k = 0; k < 10; k++) glyph_name(cl.v[cl.n++], sizeof cl.v[0], SC_DIGITS, (uint32_t)('0' + k));
        st = write_task(b, 1, &tr, &te, &cl, "python3-sklearn digits.csv.gz (1,797 scans)");
    }
    xf_free(ctx, perm);
    xf_free(ctx, cl.v);
    split_free(b, &tr);
    split_free(b, &te);
    xf_dataset_free(ctx, &ds);
    return st;
}

/* ---- parameters, corpus.json, reuse ----------------------------------------------- */

static xf_status params_hash(builder *b, char out[17]) {
    xf_ctx_t *ctx = b->ctx;
    uint64_t fh;
    int nfonts;
    xf_status st = xf_fonts_list_hash(ctx, b->o->fonts_dir, &fh, &nfonts);
    if (st != XF_OK) return st;
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "xfer-corpus v%d seed %llu scale %.17g freetype %d.%d.%d glyph %d %g %g %g fonts %016llx %d",
                     XF_CORPUS_VERSION, (unsigned long long)b->o->seed, b->o->scale, FREETYPE_MAJOR, FREETYPE_MINOR,
                     FREETYPE_PATCH, XF_GLYPH_SIZE, XF_GLYPH_EM_PX, XF_GLYPH_FIT_PX, XF_GLYPH_MAX_PX,
                     (unsigned long long)fh, nfonts);
    char p[4200];
    for (int k = 0; k < 4; k++) {
        if ((st = fashion_path(b, FASHION_FILES[k], p, sizeof p)) != XF_OK) return st;
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %s %lld %lld", FASHION_FILES[k], (long long)file_size(p),
                      (long long)file_mtime(p));
    }
    int64_t dsz = file_size(b->o->digits_csv);
    if (dsz < 0)
        return XF_ERR(ctx, XF_ERR_IO, "%s: digits file not found (install python3-sklearn)", b->o->digits_csv);
    n += snprintf(buf + n, sizeof buf - (size_t)n, " digits %lld %lld", (long long)dsz, (long long)file_mtime(b->o->digits_csv));
    snprintf(out, 17, "%016llx", (unsigned long long)xf_corpus_fnv1a(XF_CORPUS_FNV_OFFSET, buf, (size_t)n));
    return XF_OK;
}

static cJSON *task_json(const xf_corpus_task_info *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "kind", t->upstream ? "upstream" : "target");
    cJSON_AddNumberToObject(o, "classes", (double)t->classes);
    cJSON_AddNumberToObject(o, "train", (double)t->train);
    cJSON_AddNumberToObject(o, "test", (double)t->test);
    cJSON_AddStringToObject(o, "source", t->source);
    cJSON_AddStringToObject(o, "differs", t->differs);
    return o;
}

static xf_status write_json(builder *b) {
    xf_ctx_t *ctx = b->ctx;
    const xf_corpus_opts *o = b->o;
    cJSON *root = cJSON_CreateObject();
    if (!root) return XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    char seed[32], ft[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(ft, sizeof ft, "%d.%d.%d", FREETYPE_MAJOR, FREETYPE_MINOR, FREETYPE_PATCH);
    cJSON_AddStringToObject(root, "format", "xfer-corpus");
    cJSON_AddNumberToObject(root, "version", XF_CORPUS_VERSION);
    cJSON_AddStringToObject(root, "seed", seed);
    cJSON_AddNumberToObject(root, "scale", o->scale);
    cJSON_AddStringToObject(root, "params_hash", b->rep->hash);
    cJSON_AddStringToObject(root, "freetype", ft);
    cJSON *src = cJSON_AddArrayToObject(root, "sources");
    const char *pk[3][2] = {{"dataset-fashion-mnist", o->fashion_dir},
                            {"python3-sklearn", o->digits_csv},
                            {"fonts-dejavu-core fonts-noto-core fonts-freefont-ttf fonts-liberation fonts-urw-base35", o->fonts_dir}};
    for (int k = 0; k < 3 && src; k++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddStringToObject(e, "packages", pk[k][0]);
        cJSON_AddStringToObject(e, "path", pk[k][1]);
        cJSON_AddItemToArray(src, e);
    }
    cJSON *fonts = cJSON_AddArrayToObject(root, "fonts");
    int nf = xf_fonts_count(b->fonts);
    char *used = xf_calloc(ctx, (size_t)nf + 1, 1); /* only fonts in some class's pool */
    if (!used) { cJSON_Delete(root); return XF_ERR_NOMEM; }
    for (int c = 0; c < b->ncls; c++)
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < b->cls[c].npool[p]; q++) used[b->cls[c].pool[p][q]] = 1;
    for (int i = 0; i < nf && fonts; i++) {
        if (!used[i] || b->role[i] == ROLE_EXCLUDED) continue;
        if (b->role[i] == ROLE_UPSTREAM) b->rep->nfonts_upstream++;
        else b->rep->nfonts_heldout++;
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddStringToObject(e, "file", xf_fonts_file(b->fonts, i));
        cJSON_AddStringToObject(e, "family", xf_fonts_family(b->fonts, i));
        cJSON_AddStringToObject(e, "style", xf_fonts_style(b->fonts, i));
        cJSON_AddStringToObject(e, "role", b->role[i] == ROLE_UPSTREAM ? "upstream" : "heldout");
        cJSON_AddItemToArray(fonts, e);
    }
    xf_free(ctx, used);
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (int i = 0; i < b->rep->ntasks && tasks; i++) {
        cJSON *e = task_json(&b->rep->tasks[i]);
        if (e) cJSON_AddItemToArray(tasks, e);
    }
    cJSON_AddNumberToObject(root, "bytes", (double)b->bytes);
    cJSON_AddItemToObject(root, "files", b->files);
    b->files = NULL; /* owned by root now */
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.json", o->out_dir);
    size_t n = strlen(text);
    char *nl = malloc(n + 2);
    xf_status st;
    if (!nl) st = XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    else {
        memcpy(nl, text, n);
        nl[n] = '\n';
        nl[n + 1] = 0;
        st = write_atomic(ctx, p, nl);
    }
    free(nl);
    cJSON_free(text);
    return st;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
/* A number that is a non-negative count (files are untrusted: no NaN, no overflow when
 * it becomes an int64). */
static int jnum(const cJSON *o, const char *k, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 9e15)) return 0;
    *out = v->valuedouble;
    return 1;
}

/* Parses a corpus.json text (name is used in messages); with dir, also verifies that
 * every listed file exists under dir with its recorded size. */
static xf_status parse_info(xf_ctx_t *ctx, const char *text, size_t len, const char *p, const char *dir,
                            xf_corpus_report *rep) {
    memset(rep, 0, sizeof *rep);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not valid JSON", p);
    xf_status st = XF_OK;
    double ver = 0, d;
    const char *fmt = jstr(root, "format"), *hash = jstr(root, "params_hash");
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    if (!fmt || strcmp(fmt, "xfer-corpus") || !jnum(root, "version", &ver) || !hash || !cJSON_IsArray(tasks) ||
        !cJSON_IsArray(files))
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an xfer corpus description", p);
    else if (ver != XF_CORPUS_VERSION)
        st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: corpus version %g, this xfer writes %d", p, ver, XF_CORPUS_VERSION);
    if (st == XF_OK) {
        snprintf(rep->hash, sizeof rep->hash, "%s", hash);
        rep->reused = 1;
        if (jnum(root, "bytes", &d)) rep->bytes = (int64_t)d;
        const cJSON *t;
        cJSON_ArrayForEach(t, tasks) {
            if (rep->ntasks >= XF_CORPUS_MAX_TASKS) break;
            xf_corpus_task_info *ti = &rep->tasks[rep->ntasks];
            const char *nm = jstr(t, "name"), *kind = jstr(t, "kind"), *so = jstr(t, "source"), *df = jstr(t, "differs");
            double c, tr, te;
            if (!nm || !kind || !jnum(t, "classes", &c) || !jnum(t, "train", &tr) || !jnum(t, "test", &te)) {
                st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: task %d malformed", p, rep->ntasks);
                break;
            }
            snprintf(ti->name, sizeof ti->name, "%s", nm);
            ti->upstream = !strcmp(kind, "upstream");
            ti->classes = (int64_t)c;
            ti->train = (int64_t)tr;
            ti->test = (int64_t)te;
            snprintf(ti->source, sizeof ti->source, "%s", so ? so : "");
            snprintf(ti->differs, sizeof ti->differs, "%s", df ? df : "");
            rep->ntasks++;
        }
        const cJSON *fo = cJSON_GetObjectItemCaseSensitive(root, "fonts"), *e;
        cJSON_ArrayForEach(e, fo) {
            const char *role = jstr(e, "role");
            if (role && !strcmp(role, "upstream")) rep->nfonts_upstream++;
            else if (role) rep->nfonts_heldout++;
        }
    }
    if (st == XF_OK && dir) {
        const cJSON *e;
        cJSON_ArrayForEach(e, files) {
            const char *rel = jstr(e, "path");
            if (!rel || !jnum(e, "bytes", &d) || strstr(rel, "..")) { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: bad file entry", p); break; }
            char fp[4200];
            snprintf(fp, sizeof fp, "%s/%s", dir, rel);
            if (file_size(fp) != (int64_t)d) { st = XF_ERR(ctx, XF_ERR_IO, "%s: missing or changed", fp); break; }
        }
    }
    cJSON_Delete(root);
    return st;
}

/* Reads dir/corpus.json; with check_files, also verifies every listed file's size. */
static xf_status read_info(xf_ctx_t *ctx, const char *dir, xf_corpus_report *rep, int check_files) {
    memset(rep, 0, sizeof *rep);
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.json", dir);
    FILE *f = fopen(p, "rb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", p, strerror(errno));
    char *text = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (64L << 20) && fseek(f, 0, SEEK_SET) == 0) {
        text = xf_malloc(ctx, (size_t)len + 1);
        if (text && fread(text, 1, (size_t)len, f) != (size_t)len) { xf_free(ctx, text); text = NULL; }
    }
    fclose(f);
    if (!text) return xf_last_status(ctx) == XF_ERR_NOMEM ? XF_ERR_NOMEM : XF_ERR(ctx, XF_ERR_IO, "%s: cannot read", p);
    text[len] = 0;
    xf_status st = parse_info(ctx, text, (size_t)len, p, check_files ? dir : NULL, rep);
    xf_free(ctx, text);
    return st;
}

xf_status xf_corpus_info(xf_ctx_t *ctx, const char *dir, xf_corpus_report *rep) {
    if (!dir || !rep) return XF_ERR(ctx, XF_ERR_INVALID, "corpus info: NULL argument");
    return read_info(ctx, dir, rep, 0);
}

xf_status xf_corpus_info_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_corpus_report *rep) {
    if (!buf || !rep) return XF_ERR(ctx, XF_ERR_INVALID, "corpus info: NULL argument");
    return parse_info(ctx, buf, len, name ? name : "corpus.json", NULL, rep);
}

/* ---- build ------------------------------------------------------------------------ */

static xf_status build(builder *b) {
    xf_ctx_t *ctx = b->ctx;
    xf_status st = xf_fonts_open(ctx, b->o->fonts_dir, &b->fonts);
    if (st != XF_OK) return st;
    int nf = xf_fonts_count(b->fonts);
    b->role = xf_calloc(ctx, (size_t)nf, sizeof(int));
    b->fam = xf_calloc(ctx, (size_t)nf, sizeof(int));
    if (!b->role || !b->fam) return XF_ERR_NOMEM;
    for (int i = 0; i < nf; i++) b->role[i] = font_role(b->fonts, i);
    if ((st = assign_families(b)) != XF_OK) return st;
    if ((st = find_coverage(b)) != XF_OK) return st;
    xf_progress(ctx, "corpus", 0, NTASKS);
    fashion fm;
    st = load_fashion(b, &fm);
    if (st == XF_OK) st = build_upstream(b, &fm);
    if (st == XF_OK) st = digits_target(b);
    if (st == XF_OK) {
        const int greek[] = {SC_GREEK};
        st = glyph_target(b, 2, greek, 1, POOL_ALL, 0, "fonts (all families)");
    }
    if (st == XF_OK) {
        const int latin[] = {SC_LATIN_UPPER, SC_LATIN_LOWER};
        st = glyph_target(b, 3, latin, 2, POOL_HELD, 0, "fonts-urw-base35 + fonts-freefont-ttf");
    }
    if (st == XF_OK) {
        const int dig[] = {SC_DIGITS};
        st = glyph_target(b, 4, dig, 1, POOL_HELD, 0, "fonts-urw-base35 + fonts-freefont-ttf");
    }
    if (st == XF_OK) {
        int up[NSCRIPTS], n = 0;
        for (int s = 0; s < NSCRIPTS; s++)
            if (SCRIPTS[s].upstream) up[n++] = s;
        st = glyph_target(b, 5, up, n, POOL_HELD, 1, "fonts-urw-base35 + fonts-freefont-ttf");
    }
    if (st == XF_OK) st = fashion_targets(b, &fm);
    fashion_free(b, &fm);
    if (st == XF_OK) st = write_json(b);
    return st;
}

xf_status xf_corpus_build(xf_ctx_t *ctx, const xf_corpus_opts *opts, xf_corpus_report *rep_out) {
    double t0 = xf_now();
    xf_corpus_report rep_local, *rep = rep_out ? rep_out : &rep_local;
    memset(rep, 0, sizeof *rep);
    if (!opts || !opts->out_dir || !*opts->out_dir || !opts->fonts_dir || !opts->fashion_dir || !opts->digits_csv)
        return XF_ERR(ctx, XF_ERR_INVALID, "corpus: missing path in options");
    if (!(opts->scale > 0 && opts->scale <= 1))
        return XF_ERR(ctx, XF_ERR_INVALID, "corpus: scale %g is not in (0, 1]", opts->scale);
    builder b;
    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    b.o = opts;
    b.rep = rep;
    char hash[17];
    xf_status st = params_hash(&b, hash);
    if (st != XF_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", xf_errmsg(ctx));
        /* sources gone but a complete corpus present: keep it (it may have been copied
         * to a machine without the packages) */
        xf_corpus_report old;
        if (!opts->force && read_info(ctx, opts->out_dir, &old, 1) == XF_OK) {
            *rep = old;
            rep->seconds = xf_now() - t0;
            xf_log(ctx, XF_LOG_WARN, "%s: sources missing, reusing the existing corpus unchecked", opts->out_dir);
            xf_ctx_clear_error(ctx);
            return XF_OK;
        }
        return XF_ERR(ctx, st, "%s", msg);
    }
    if (!opts->force) {
        xf_corpus_report old;
        if (read_info(ctx, opts->out_dir, &old, 1) == XF_OK && !strcmp(old.hash, hash)) {
            *rep = old;
            rep->seconds = xf_now() - t0;
            return XF_OK;
        }
        xf_ctx_clear_error(ctx);
    }
    if ((st = mkdirs(ctx, opts->out_dir)) != XF_OK) return st;
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.json", opts->out_dir);
    if (remove(p) != 0 && errno != ENOENT) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot remove: %s", p, strerror(errno));
    snprintf(rep->hash, sizeof rep->hash, "%s", hash);
    b.files = cJSON_CreateArray();
    if (!b.files) return XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    st = build(&b);
    if (st == XF_OK) {
        rep->bytes = b.bytes;
        rep->reused = 0;
    }
    cJSON_Delete(b.files);
    for (int c = 0; c < b.ncls; c++)
        for (int q = 0; q < 3; q++) xf_free(ctx, b.cls[c].pool[q]);
    xf_free(ctx, b.cls);
    xf_free(ctx, b.role);
    xf_free(ctx, b.fam);
    xf_fonts_free(b.fonts);
    rep->seconds = xf_now() - t0;
    return st;
}
