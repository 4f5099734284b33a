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
 *     rebuilt. Every file of a build appears together when it succeeded (files.h groups), corpus.json last.
 *
 * This file: the task table, the builder's file and split helpers, writing a task, and the
 * build driver. The rest is in corpus_fonts.c (scripts, font pools, glyph targets),
 * corpus_tasks.c (the upstream, Fashion-MNIST and digits targets) and corpus_manifest.c
 * (the parameter hash, corpus.json, reuse); corpusInt.h holds what they share.
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

#define XF_CORPUS_BUILDER
#include "xfer/files.h"
#include "io/corpus/corpusInt.h"
#include "xfer/corpus.h"
#include "xfer/data.h"
#include "xfer/npy.h"

/* ---- the task table --------------------------------------------------------------- */

const xf_corpus_task_def xf_corpus_tasks[] = {
    {"upstream", "Fashion-MNIST train split (10 classes in 4 groups) + glyphs of 12 scripts in upstream typefaces"},
    {"hand-digits", "real handwriting: scikit-learn's 8x8 scans upsampled, vs rendered glyphs"},
    {"new-scripts", "an unseen script: Greek lower case, absent from the upstream"},
    {"new-fonts", "unseen typefaces: Latin letters in held-out families (URW base-35, FreeFont)"},
    {"font-digits", "unseen typefaces: digits in held-out families"},
    {"script-id", "coarse labels on glyphs: which script, drawn in held-out families"},
    {"fashion-fine", "few labels: 100 Fashion-MNIST test images per class"},
    {"fashion-coarse", "coarse labels: Fashion-MNIST test images labelled by group"},
};
#define NTASKS ((int)(sizeof xf_corpus_tasks / sizeof *xf_corpus_tasks))

int xf_corpus_task_count(void) { return NTASKS; }
const char *xf_corpus_task_name(int i) { return i >= 0 && i < NTASKS ? xf_corpus_tasks[i].name : ""; }
const char *xf_corpus_task_about(int i) { return i >= 0 && i < NTASKS ? xf_corpus_tasks[i].about : ""; }

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
    size_t n = strlen(dir);
    if (n == 0 || n >= 4096) return XF_ERR(ctx, XF_ERR_INVALID, "output directory: bad path '%s'", dir);
    xf_status st = xf_dir_create(ctx, dir, "directory");
    if (st) return st;
    if (access(dir, W_OK) != 0) return XF_ERR(ctx, XF_ERR_IO, "%s: output directory is not writable: %s", dir, strerror(errno));
    return XF_OK;
}

xf_status xf_corpus_write_atomic(xf_ctx_t *ctx, const char *path, const char *text) {
    xf_outfile out;
    xf_status st = xf_out_open(ctx, path, &out);
    if (st) return st;
    size_t n = strlen(text);
    if (n && fwrite(text, 1, n, out.f) != n) {
        int e = errno;
        xf_out_close(ctx, &out, 0);
        return XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return xf_out_close(ctx, &out, 1);
}

/* Records a written file (relative to out_dir) with its size in corpus.json's list. */
static xf_status note_file(builder *b, const char *rel) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", b->o->out_dir, rel);
    const char *q = xf_out_pending(b->ctx, p); /* written, waiting for the build's commit */
    int64_t sz = file_size(q ? q : p), crc = xf_corpus_file_crc(q ? q : p);
    if (sz < 0 || crc < 0) return XF_ERR(b->ctx, XF_ERR_IO, "%s: missing after writing", p);
    cJSON *e = cJSON_CreateObject();
    if (!e || !cJSON_AddStringToObject(e, "path", rel) || !cJSON_AddNumberToObject(e, "bytes", (double)sz) ||
        !cJSON_AddNumberToObject(e, "crc32", (double)crc)) {
        cJSON_Delete(e);
        return XF_ERR(b->ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    }
    cJSON_AddItemToArray(b->files, e);
    b->bytes += sz;
    return XF_OK;
}

/* ---- splits and names ------------------------------------------------------------- */

xf_status xf_corpus_split_init(builder *b, split *s, int64_t cap) {
    memset(s, 0, sizeof *s);
    s->cap = cap;
    if (cap == 0) return XF_OK;
    size_t nx;
    if (!xf_mul_ok((size_t)cap, IMG, &nx)) return XF_ERR(b->ctx, XF_ERR_NOMEM, "corpus: split too large");
    s->x = xf_calloc(b->ctx, nx, 1);
    s->y = xf_calloc(b->ctx, (size_t)cap, sizeof *s->y);
    return s->x && s->y ? XF_OK : XF_ERR_NOMEM;
}

void xf_corpus_split_free(builder *b, split *s) {
    xf_free(b->ctx, s->x);
    xf_free(b->ctx, s->y);
    memset(s, 0, sizeof *s);
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

xf_status xf_corpus_names_init(builder *b, names *nm, int cap) {
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

xf_status xf_corpus_write_lines(builder *b, const char *task, const char *file, char *text) {
    char rel[256], p[4200];
    snprintf(rel, sizeof rel, "%s/%s", task, file);
    snprintf(p, sizeof p, "%s/%s", b->o->out_dir, rel);
    xf_status st = xf_corpus_write_atomic(b->ctx, p, text);
    return st == XF_OK ? note_file(b, rel) : st;
}

/* Shuffles and writes both splits, classes.txt, and adds the task to the report. */
xf_status xf_corpus_write_task(builder *b, int task, split *tr, split *te, const names *cl, const char *source) {
    const char *name = xf_corpus_tasks[task].name;
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
    st = xf_corpus_write_lines(b, name, "classes.txt", text);
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
        snprintf(t->differs, sizeof t->differs, "%s", xf_corpus_tasks[task].about);
    }
    xf_progress(b->ctx, "corpus", rep->ntasks, NTASKS);
    return XF_OK;
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
    if ((st = xf_corpus_assign_families(b)) != XF_OK) return st;
    if ((st = xf_corpus_find_coverage(b)) != XF_OK) return st;
    xf_progress(ctx, "corpus", 0, NTASKS);
    fashion fm;
    st = xf_corpus_load_fashion(b, &fm);
    if (st == XF_OK) st = xf_corpus_build_upstream(b, &fm);
    if (st == XF_OK) st = xf_corpus_digits_target(b);
    if (st == XF_OK) {
        const int greek[] = {SC_GREEK};
        st = xf_corpus_glyph_target(b, 2, greek, 1, POOL_ALL, 0, "fonts (all families)");
    }
    if (st == XF_OK) {
        const int latin[] = {SC_LATIN_UPPER, SC_LATIN_LOWER};
        st = xf_corpus_glyph_target(b, 3, latin, 2, POOL_HELD, 0, "fonts-urw-base35 + fonts-freefont-ttf");
    }
    if (st == XF_OK) {
        const int dig[] = {SC_DIGITS};
        st = xf_corpus_glyph_target(b, 4, dig, 1, POOL_HELD, 0, "fonts-urw-base35 + fonts-freefont-ttf");
    }
    if (st == XF_OK) {
        int up[NSCRIPTS], n = 0;
        for (int s = 0; s < NSCRIPTS; s++)
            if (xf_corpus_scripts[s].upstream) up[n++] = s;
        st = xf_corpus_glyph_target(b, 5, up, n, POOL_HELD, 1, "fonts-urw-base35 + fonts-freefont-ttf");
    }
    if (st == XF_OK) st = xf_corpus_fashion_targets(b, &fm);
    xf_corpus_fashion_free(b, &fm);
    if (st == XF_OK) st = xf_corpus_write_json(b);
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
    xf_status st = xf_corpus_params_hash(&b, hash);
    if (st != XF_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", xf_errmsg(ctx));
        /* sources gone but a complete corpus present: keep it (it may have been copied
         * to a machine without the packages) */
        xf_corpus_report old;
        if (!opts->force && xf_corpus_read_info(ctx, opts->out_dir, &old, 1) == XF_OK) {
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
        if (xf_corpus_read_info(ctx, opts->out_dir, &old, 1) == XF_OK && !strcmp(old.hash, hash)) {
            *rep = old;
            rep->seconds = xf_now() - t0;
            return XF_OK;
        }
        xf_ctx_clear_error(ctx);
    }
    if ((st = mkdirs(ctx, opts->out_dir)) != XF_OK) return st;
    /* temporary files of an interrupted build (its process is gone) */
    int swept = xf_out_sweep(ctx, opts->out_dir, 2);
    if (swept) xf_log(ctx, XF_LOG_INFO, "%s: removed %d temporary files of an interrupted build", opts->out_dir, swept);
    snprintf(rep->hash, sizeof rep->hash, "%s", hash);
    b.files = cJSON_CreateArray();
    if (!b.files) return XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    /* every file of the build appears together, corpus.json (written last) last, when the
     * whole build succeeded; a failed or interrupted build leaves the previous corpus as
     * it was (its temporaries are removed, or swept by the next build) */
    st = xf_out_begin(ctx);
    if (!st) st = build(&b);
    if (!st) st = xf_out_commit(ctx);
    else xf_out_abort(ctx);
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
