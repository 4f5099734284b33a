/* Corpus font pools: the scripts table, the glyph coverage of every font (each character's
 * pool of distinct drawings per role), and the glyph targets drawn from those pools with
 * train and test split by font family (docs/DATA.md; the design is in corpus.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XF_CORPUS_BUILDER
#include "io/corpus/corpusInt.h"
#include "xfer/corpus.h"
#include "xfer/data.h"

/* ---- the scripts ------------------------------------------------------------------ */

/* Cyrillic capitals that are drawn like Latin ones (A B E K M H O P C T Y X) would be
 * the same image under two labels; Armenian Ս and Օ likewise (U, O). */
static const uint32_t cyr_skip[] = {0x410, 0x412, 0x415, 0x41A, 0x41C, 0x41D, 0x41E, 0x420, 0x421, 0x422, 0x423, 0x425};
static const uint32_t arm_skip[] = {0x54D, 0x555};
/* Arabic: the 28 letters of the alphabet (isolated forms), not ta marbuta, alef maksura,
 * tatweel or the Keheh/Farsi variants in the range. */
static const uint32_t ara_skip[] = {0x629, 0x63B, 0x63C, 0x63D, 0x63E, 0x63F, 0x640, 0x649};
static const uint32_t grk_skip[] = {0x3C2}; /* final sigma */

const script_def xf_corpus_scripts[] = {
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
_Static_assert(sizeof xf_corpus_scripts / sizeof *xf_corpus_scripts == NSCRIPTS, "NSCRIPTS in corpusInt.h");

/* ---- glyph coverage --------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int in_skip(const script_def *sd, uint32_t cp) {
    for (int k = 0; k < sd->nskip; k++)
        if (sd->skip[k] == cp) return 1;
    return 0;
}

/* Family ids: families sorted by name, so ids do not depend on the scan order. */
xf_status xf_corpus_assign_families(builder *b) {
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
xf_status xf_corpus_find_coverage(builder *b) {
    xf_ctx_t *ctx = b->ctx;
    int nf = xf_fonts_count(b->fonts);
    int ncap = 0;
    for (int s = 0; s < NSCRIPTS; s++) ncap += (int)(xf_corpus_scripts[s].hi - xf_corpus_scripts[s].lo + 1);
    b->cls = xf_calloc(ctx, (size_t)ncap, sizeof *b->cls);
    uint64_t *hash = xf_malloc(ctx, (size_t)nf * sizeof *hash);
    int *ok = xf_malloc(ctx, (size_t)nf * sizeof *ok);
    if (!b->cls || !hash || !ok) { xf_free(ctx, hash); xf_free(ctx, ok); return XF_ERR_NOMEM; }
    xf_status st = XF_OK;
    uint8_t img[IMG];
    for (int s = 0; s < NSCRIPTS && st == XF_OK; s++) {
        const script_def *sd = &xf_corpus_scripts[s];
        for (uint32_t cp = sd->lo; cp <= sd->hi && st == XF_OK; cp++) {
            if (in_skip(sd, cp)) continue;
            int nok = 0;
            for (int i = 0; i < nf; i++) {
                ok[i] = 0;
                if (b->role[i] == ROLE_EXCLUDED || !xf_fonts_has_char(b->fonts, i, cp)) continue;
                xf_status r = xf_glyph_render(ctx, b->fonts, i, cp, NULL, img);
                if (r == XF_ERR_NOTFOUND || r == XF_ERR_FORMAT) { xf_ctx_clear_error(ctx); continue; }
                if (r != XF_OK) { st = r; break; }
                hash[i] = xf_fnv1a(XF_FNV1A_OFFSET, img, IMG);
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
xf_status xf_corpus_draw_glyph(builder *b, uint32_t cp, const int *pool, int npool, xf_rng *r, uint8_t *img) {
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
    xf_status st = xf_corpus_split_init(b, &tr, ntr);
    if (st == XF_OK) st = xf_corpus_split_init(b, &te, nte);
    int nf = xf_fonts_count(b->fonts);
    int *fam_order = xf_malloc(ctx, (size_t)(b->nfam + 1) * sizeof(int));
    int *side = xf_malloc(ctx, (size_t)(b->nfam + 1) * sizeof(int)); /* -1 unused, 0 train, 1 test */
    int *spool = xf_malloc(ctx, (size_t)(nf + 1) * sizeof(int));
    if (st == XF_OK && (!fam_order || !side || !spool)) st = XF_ERR_NOMEM;
    for (int L = 0; L < t->nlab && st == XF_OK; L++) {
        xf_rng r;
        char what[96];
        snprintf(what, sizeof what, "%s/label", xf_corpus_tasks[task].name);
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
                st = img ? xf_corpus_draw_glyph(b, g->cp, pool, ns, &r, img) : XF_ERR(ctx, XF_ERR_INTERNAL, "target: split overflow");
            }
        }
    }
    if (st == XF_OK) st = xf_corpus_write_task(b, task, &tr, &te, cl, source);
    xf_free(ctx, fam_order);
    xf_free(ctx, side);
    xf_free(ctx, spool);
    xf_corpus_split_free(b, &tr);
    xf_corpus_split_free(b, &te);
    return st;
}

/* One target over the characters of the given scripts: by_script = 0 gives one label per
 * character, 1 one label per script. */
xf_status xf_corpus_glyph_target(builder *b, int task, const int *scripts, int nscripts, int pool, int by_script,
                              const char *source) {
    xf_ctx_t *ctx = b->ctx;
    gtarget t;
    memset(&t, 0, sizeof t);
    t.pool = pool;
    names cl;
    xf_status st = xf_corpus_names_init(b, &cl, b->ncls + NSCRIPTS);
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
            snprintf(cl.v[cl.n++], sizeof cl.v[0], "%s", xf_corpus_scripts[s].name);
        }
    }
    if (st == XF_OK && t.nlab < 2)
        st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: too few %s fonts to build the target '%s'", b->o->fonts_dir,
                    pool == POOL_HELD ? "held-out (URW base-35, FreeFont)" : "", xf_corpus_tasks[task].name);
    if (st == XF_OK) st = draw_target(b, task, &t, &cl, source);
    xf_free(ctx, t.first);
    xf_free(ctx, t.count);
    xf_free(ctx, t.item);
    xf_free(ctx, cl.v);
    return st;
}
