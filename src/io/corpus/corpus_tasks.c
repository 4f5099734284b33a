/* Corpus task assembly from the image sources: the upstream (Fashion-MNIST train split +
 * upstream glyphs, with its label hierarchy), the two Fashion-MNIST targets (test split)
 * and the hand-written digits target (docs/DATA.md; the design is in corpus.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#define XF_CORPUS_BUILDER
#include "io/corpus/corpusInt.h"
#include "xfer/corpus.h"
#include "xfer/data.h"

/* Fashion-MNIST's classes (label order of the IDX files) and the groups of the hierarchy:
 * tops holds the five garments that are confused with each other (dress included: at
 * 28x28 it is a long top), footwear the three shoes; trousers and bags stand alone. */
static const char *FASHION[10] = {"tshirt-top", "trouser", "pullover", "dress", "coat",
                                  "sandal", "shirt", "sneaker", "bag", "ankle-boot"};
static const char *GROUPS[4] = {"tops", "trousers", "footwear", "bags"};
static const int GROUP_OF[10] = {0, 1, 0, 0, 0, 2, 0, 2, 3, 2};

/* ---- the upstream ----------------------------------------------------------------- */

xf_status xf_corpus_fashion_path(builder *b, const char *base, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s.gz", b->o->fashion_dir, base);
    if (file_size(out) >= 0) return XF_OK;
    snprintf(out, cap, "%s/%s", b->o->fashion_dir, base);
    if (file_size(out) >= 0) return XF_OK;
    return XF_ERR(b->ctx, XF_ERR_IO, "%s/%s.gz: Fashion-MNIST file not found (install dataset-fashion-mnist)",
                  b->o->fashion_dir, base);
}

const char *xf_corpus_fashion_files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

xf_status xf_corpus_load_fashion(builder *b, fashion *fm) {
    memset(fm, 0, sizeof *fm);
    char p[4200];
    for (int k = 0; k < 4; k++) {
        xf_array *a = k & 1 ? &fm->y[k / 2] : &fm->x[k / 2];
        xf_status st = xf_corpus_fashion_path(b, xf_corpus_fashion_files[k], p, sizeof p);
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

void xf_corpus_fashion_free(builder *b, fashion *fm) {
    for (int k = 0; k < 2; k++) { xf_array_free(b->ctx, &fm->x[k]); xf_array_free(b->ctx, &fm->y[k]); }
}

xf_status xf_corpus_build_upstream(builder *b, const fashion *fm) {
    xf_ctx_t *ctx = b->ctx;
    int64_t nf = fm->x[0].shape[0];
    int64_t nte = cnt(b, N_UP_FASHION_TEST), ntr = cnt(b, N_UP_FASHION_TRAIN);
    if (nte + ntr > nf) return XF_ERR(ctx, XF_ERR_SHAPE, "Fashion-MNIST train split: %lld images, need %lld", (long long)nf, (long long)(nte + ntr));
    int nup = 0;
    for (int c = 0; c < b->ncls; c++)
        nup += xf_corpus_scripts[b->cls[c].script].upstream && b->cls[c].npool[POOL_UP] >= MIN_FONTS;
    if (nup == 0) return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no font draws the upstream scripts", b->o->fonts_dir);
    int64_t gtr = cnt(b, N_UP_GLYPH_TRAIN), gte = cnt(b, N_UP_GLYPH_TEST);
    split tr, te;
    names cl;
    memset(&cl, 0, sizeof cl);
    xf_status st = xf_corpus_split_init(b, &tr, ntr + (int64_t)nup * gtr);
    if (st == XF_OK) st = xf_corpus_split_init(b, &te, nte + (int64_t)nup * gte);
    if (st == XF_OK) st = xf_corpus_names_init(b, &cl, 10 + nup);
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
            if (!xf_corpus_scripts[g->script].upstream || g->npool[POOL_UP] < MIN_FONTS) continue;
            int label = cl.n;
            glyph_name(cl.v[cl.n++], sizeof cl.v[0], g->script, g->cp);
            rng_for(&r, b->o->seed, "upstream/glyph", g->cp);
            for (int64_t k = 0; k < gtr + gte && st == XF_OK; k++) {
                uint8_t *dst = split_push(k < gtr ? &tr : &te, label);
                st = dst ? xf_corpus_draw_glyph(b, g->cp, g->pool[POOL_UP], g->npool[POOL_UP], &r, dst)
                         : XF_ERR(ctx, XF_ERR_INTERNAL, "upstream: split overflow");
            }
        }
    }
    if (st == XF_OK) st = xf_corpus_write_task(b, 0, &tr, &te, &cl, "dataset-fashion-mnist (train split) + fonts (upstream families)");
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
                used |= b->cls[c].script == s && xf_corpus_scripts[s].upstream && b->cls[c].npool[POOL_UP] >= MIN_FONTS;
            if (used) at += (size_t)sprintf(tsv + at, "%s\troot\n", xf_corpus_scripts[s].name);
        }
        for (int k = 0; k < 10; k++) at += (size_t)sprintf(tsv + at, "%s\t%s\n", FASHION[k], GROUPS[GROUP_OF[k]]);
        int k = 10;
        for (int c = 0; c < b->ncls; c++) {
            const gclass *g = &b->cls[c];
            if (!xf_corpus_scripts[g->script].upstream || g->npool[POOL_UP] < MIN_FONTS) continue;
            at += (size_t)sprintf(tsv + at, "%s\t%s\n", cl.v[k++], xf_corpus_scripts[g->script].name);
        }
        st = xf_corpus_write_lines(b, "upstream", "hierarchy.tsv", tsv);
    }
    xf_free(ctx, tsv);
    xf_free(ctx, perm);
    xf_free(ctx, cl.v);
    xf_corpus_split_free(b, &tr);
    xf_corpus_split_free(b, &te);
    return st;
}

/* ---- Fashion-MNIST and digits targets --------------------------------------------- */

xf_status xf_corpus_fashion_targets(builder *b, const fashion *fm) {
    xf_ctx_t *ctx = b->ctx;
    int64_t n = fm->x[1].shape[0];
    const uint8_t *x = fm->x[1].data, *y = fm->y[1].data;
    int64_t a = cnt(b, N_FASHION_TRAIN_PER_CLASS), t = cnt(b, N_FASHION_TEST_PER_CLASS);
    int64_t *idx = xf_malloc(ctx, (size_t)(n + 1) * sizeof *idx);
    split s[4];
    memset(s, 0, sizeof s);
    xf_status st = idx ? XF_OK : XF_ERR_NOMEM;
    for (int k = 0; k < 4 && st == XF_OK; k++) st = xf_corpus_split_init(b, &s[k], 10 * (k & 1 ? t : a));
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
    if (st == XF_OK) st = xf_corpus_names_init(b, &fine, 10);
    if (st == XF_OK) st = xf_corpus_names_init(b, &coarse, 4);
    if (st == XF_OK) {
        for (int k = 0; k < 10; k++) snprintf(fine.v[fine.n++], sizeof fine.v[0], "%s", FASHION[k]);
        for (int k = 0; k < 4; k++) snprintf(coarse.v[coarse.n++], sizeof coarse.v[0], "%s", GROUPS[k]);
        st = xf_corpus_write_task(b, 6, &s[0], &s[1], &fine, "dataset-fashion-mnist (test split)");
    }
    if (st == XF_OK) st = xf_corpus_write_task(b, 7, &s[2], &s[3], &coarse, "dataset-fashion-mnist (test split)");
    for (int k = 0; k < 4; k++) xf_corpus_split_free(b, &s[k]);
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

xf_status xf_corpus_digits_target(builder *b) {
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
    st = perm ? xf_corpus_split_init(b, &tr, ntr) : XF_ERR_NOMEM;
    if (st == XF_OK) st = xf_corpus_split_init(b, &te, nte);
    if (st == XF_OK) st = xf_corpus_names_init(b, &cl, 10);
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
        st = xf_corpus_write_task(b, 1, &tr, &te, &cl, "python3-sklearn digits.csv.gz (1,797 scans)");
    }
    xf_free(ctx, perm);
    xf_free(ctx, cl.v);
    xf_corpus_split_free(b, &tr);
    xf_corpus_split_free(b, &te);
    xf_dataset_free(ctx, &ds);
    return st;
}
