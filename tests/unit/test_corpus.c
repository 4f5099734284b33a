/* The embedded corpus: glyph rendering (against Pillow's drawings, tests/ref/gen_corpus.py),
 * and a small corpus built into $XF_TMP from a handful of fonts (symlinked into a temp
 * folder), the system's Fashion-MNIST and a 40-row digits fixture: layout, sizes,
 * disjointness, provenance, hierarchy, determinism, reuse, and every error path.
 * Under XF_SANITIZED=1 the corpus is smaller and fewer allocation failures are tried. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "xfer/corpus.h"
#include "xfer/data.h"
#include "xfer/npy.h"
#include "xtest.h"

static const char *FASHION_SYS = "/usr/share/datasets/fashion-mnist";
static char FASHION_DIR[1024]; /* a 2,000 + 2,000 image subset written by make_fashion_dir */
static const char *FONT_SRC[][2] = {
    {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf"},
    {"/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf", "DejaVuSerif-Bold.ttf"},
    {"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "DejaVuSansMono.ttf"},
    {"/usr/share/fonts/truetype/dejavu/DejaVuMathTeXGyre.ttf", "DejaVuMathTeXGyre.ttf"},
    {"/usr/share/fonts/truetype/freefont/FreeSans.ttf", "FreeSans.ttf"},
    {"/usr/share/fonts/truetype/freefont/FreeSerif.ttf", "FreeSerif.ttf"},
    {"/usr/share/fonts/truetype/freefont/FreeMono.ttf", "sub/FreeMono.ttf"},
};
#define NFONT_SRC ((int)(sizeof FONT_SRC / sizeof *FONT_SRC))

static uint64_t fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ULL; }
    return h;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) b[n] = 0;
    if (len) *len = (size_t)n;
    return b;
}

static void rm_rf(const char *p) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "rm -rf %s failed\n", p);
}

/* A fonts folder of symlinks (one in a subfolder, one broken file, one excluded Math
 * face); 0 when a source font is not installed. */
static int make_fonts_dir(const char *dir) {
    char p[1024];
    rm_rf(dir);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0777);
    for (int i = 0; i < NFONT_SRC; i++) {
        if (access(FONT_SRC[i][0], R_OK) != 0) return 0;
        snprintf(p, sizeof p, "%s/%s", dir, FONT_SRC[i][1]);
        if (symlink(FONT_SRC[i][0], p) != 0) return 0;
    }
    snprintf(p, sizeof p, "%s/broken.ttf", dir);
    FILE *f = fopen(p, "wb");
    if (!f) return 0;
    fputs("this is not a font", f);
    fclose(f);
    return 1;
}

/* The first n images of each Fashion-MNIST split as plain (not gzipped) IDX files, so the
 * many builds of this test stay fast. */
static int make_fashion_dir(xf_ctx_t *ctx, const char *dir, int64_t n) {
    static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};
    char p[1024];
    rm_rf(dir);
    mkdir(dir, 0777);
    for (int k = 0; k < 4; k++) {
        xf_array a;
        snprintf(p, sizeof p, "%s/%s.gz", FASHION_SYS, names[k]);
        if (xf_idx_read(ctx, p, &a) != XF_OK) return 0;
        int64_t m = a.shape[0] < n ? a.shape[0] : n;
        unsigned char head[16] = {0, 0, 8, (unsigned char)a.ndim};
        for (int d = 0; d < a.ndim; d++) {
            uint32_t v = (uint32_t)(d == 0 ? m : a.shape[d]);
            for (int j = 0; j < 4; j++) head[4 + 4 * d + j] = (unsigned char)(v >> (24 - 8 * j));
        }
        size_t per = (size_t)(a.size / a.shape[0]);
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        FILE *f = fopen(p, "wb");
        int ok = f && fwrite(head, 1, 4 + 4 * (size_t)a.ndim, f) == 4 + 4 * (size_t)a.ndim &&
                 fwrite(a.data, 1, per * (size_t)m, f) == per * (size_t)m;
        if (f) ok = (fclose(f) == 0) && ok;
        xf_array_free(ctx, &a);
        if (!ok) return 0;
    }
    return 1;
}

/* ink bounding box; returns ink sum */
static long ink_box(const uint8_t *img, int *r0, int *r1, int *c0, int *c1) {
    long sum = 0;
    *r0 = *c0 = 99;
    *r1 = *c1 = -1;
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++)
            if (img[r * 28 + c] > 40) {
                sum += img[r * 28 + c];
                if (r < *r0) *r0 = r;
                if (r > *r1) *r1 = r;
                if (c < *c0) *c0 = c;
                if (c > *c1) *c1 = c;
            }
    return sum;
}

static double corr(const uint8_t *a, const uint8_t *b) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < 784; i++) { ma += a[i]; mb += b[i]; }
    ma /= 784;
    mb /= 784;
    for (int i = 0; i < 784; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb + 1e-12);
}

static int find_font(xf_fonts_t *f, const char *file) {
    for (int i = 0; i < xf_fonts_count(f); i++)
        if (!strcmp(xf_fonts_file(f, i), file)) return i;
    return -1;
}

static void test_glyphs(xf_ctx_t *ctx, const char *fdir) {
    char p[1024];
    xf_fonts_t *f = NULL;
    CHECK_OK(ctx, xf_fonts_open(ctx, fdir, &f));
    if (!f) return;
    /* 7 fonts: the broken file is skipped; the subfolder is scanned; sorted order */
    CHECK(xf_fonts_count(f) == 7, "font count %d, want 7", xf_fonts_count(f));
    for (int i = 1; i < xf_fonts_count(f); i++)
        CHECK(strcmp(xf_fonts_file(f, i - 1), xf_fonts_file(f, i)) < 0, "scan order: %s before %s",
              xf_fonts_file(f, i - 1), xf_fonts_file(f, i));
    int sans = find_font(f, "DejaVuSans.ttf"), serif = find_font(f, "FreeSerif.ttf"), mono = find_font(f, "sub/FreeMono.ttf");
    CHECK(sans >= 0 && serif >= 0 && mono >= 0, "fonts found by file name");
    if (sans < 0 || serif < 0 || mono < 0) { xf_fonts_free(f); return; }
    CHECK(!strcmp(xf_fonts_family(f, sans), "DejaVu Sans") && !strcmp(xf_fonts_style(f, sans), "Book"), "family/style: %s / %s",
          xf_fonts_family(f, sans), xf_fonts_style(f, sans));
    CHECK(!strcmp(xf_fonts_family(f, mono), "FreeMono"), "family of sub/FreeMono.ttf: %s", xf_fonts_family(f, mono));
    CHECK(xf_fonts_file_size(f, sans) > 100000, "file size %lld", (long long)xf_fonts_file_size(f, sans));
    CHECK(xf_fonts_has_char(f, sans, 'A') && xf_fonts_has_char(f, sans, 0x3B2) && !xf_fonts_has_char(f, sans, 0x4E00),
          "DejaVu Sans coverage");

    /* identity renders against Pillow's: same glyph, same size, same place */
    uint8_t a[784], b[784], c[784];
    const uint32_t cps[] = {0x41, 0x67, 0x6F, 0x4F, 0x51, 0x416, 0x3B2};
    const struct { const char *name; int font; } fx[] = {{"dejavusans", sans}, {"freeserif", serif}};
    int ncmp = 0;
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 7; j++) {
            char rel[128];
            snprintf(rel, sizeof rel, "corpus/glyph_%s_%04x.npy", fx[k].name, (unsigned)cps[j]);
            xf_array ref;
            if (access(xt_ref(rel, p, sizeof p), F_OK) != 0) continue; /* wider than the fit box: not written */
            if (xf_npy_read(ctx, p, &ref) != XF_OK) { CHECK(0, "%s: %s", rel, xf_errmsg(ctx)); continue; }
            ncmp++;
            CHECK_OK(ctx, xf_glyph_render(ctx, f, fx[k].font, cps[j], NULL, a));
            double r = corr(a, ref.data);
            CHECK(r > 0.75, "%s: correlation with Pillow %.3f", rel, r);
            int r0, r1, c0, c1, q0, q1, d0, d1;
            long ink = ink_box(a, &r0, &r1, &c0, &c1);
            ink_box(ref.data, &q0, &q1, &d0, &d1);
            CHECK(ink > 0, "%s: no ink", rel);
            CHECK(abs((r1 - r0) - (q1 - q0)) <= 2 && abs((c1 - c0) - (d1 - d0)) <= 2, "%s: box %dx%d, Pillow %dx%d", rel,
                  r1 - r0 + 1, c1 - c0 + 1, q1 - q0 + 1, d1 - d0 + 1);
            /* centred: the box's centre within a pixel of the image centre */
            CHECK(fabs((r0 + r1) / 2.0 - 13.5) <= 1.0 && fabs((c0 + c1) / 2.0 - 13.5) <= 1.0, "%s: box centre (%.1f, %.1f)",
                  rel, (r0 + r1) / 2.0, (c0 + c1) / 2.0);
            xf_array_free(ctx, &ref);
        }
    CHECK(ncmp >= 10, "%d glyphs compared with Pillow", ncmp);
    /* a wide glyph is shrunk to the fit box */
    xf_glyph_render(ctx, f, sans, 0x416, NULL, a);
    int w0, w1, h0, h1;
    ink_box(a, &h0, &h1, &w0, &w1);
    CHECK(w1 - w0 + 1 <= (int)XF_GLYPH_FIT_PX + 1 && w1 - w0 + 1 >= (int)XF_GLYPH_FIT_PX - 2, "wide glyph: %d columns",
          w1 - w0 + 1);
    /* the em sets the size: 'o' is shorter than 'O' */
    int r0, r1, c0, c1, s0, s1;
    xf_glyph_render(ctx, f, sans, 'o', NULL, a);
    ink_box(a, &r0, &r1, &c0, &c1);
    xf_glyph_render(ctx, f, sans, 'O', NULL, b);
    ink_box(b, &s0, &s1, &c0, &c1);
    CHECK((s1 - s0) - (r1 - r0) >= 3, "'O' %d rows, 'o' %d rows", s1 - s0 + 1, r1 - r0 + 1);

    /* deterministic bytes: same draw, same image; a different draw, another image */
    xf_rng rng;
    xf_rng_seed(&rng, 7);
    xf_glyph_aug g1 = xf_glyph_aug_draw(&rng, NULL), g2 = xf_glyph_aug_draw(&rng, NULL);
    xf_rng_seed(&rng, 7);
    xf_glyph_aug g1b = xf_glyph_aug_draw(&rng, NULL);
    CHECK(!memcmp(&g1, &g1b, sizeof g1), "same seed, same augmentation");
    CHECK_OK(ctx, xf_glyph_render(ctx, f, serif, 0x416, &g1, a));
    CHECK_OK(ctx, xf_glyph_render(ctx, f, serif, 0x416, &g1b, b));
    CHECK(!memcmp(a, b, 784), "same augmentation, same bytes");
    CHECK_OK(ctx, xf_glyph_render(ctx, f, serif, 0x416, &g2, c));
    CHECK(memcmp(a, c, 784) != 0, "another augmentation, other bytes");
    xf_glyph_render(ctx, f, serif, 0x416, NULL, b);
    CHECK(memcmp(a, b, 784) != 0, "augmented differs from the identity");
    CHECK(corr(a, b) > 0.3, "augmentation is light: correlation %.2f", corr(a, b));
    /* augmentation stays inside its limits */
    xf_glyph_aug_limits lim = xf_glyph_aug_defaults();
    int inside = 1;
    for (int k = 0; k < 1000; k++) {
        xf_glyph_aug g = xf_glyph_aug_draw(&rng, &lim);
        inside &= fabs(g.rotate_deg) <= lim.rotate_deg && g.scale >= lim.scale_lo && g.scale <= lim.scale_hi &&
                  fabs(g.shear) <= lim.shear && fabs(g.dx) <= lim.shift_px && fabs(g.dy) <= lim.shift_px &&
                  g.embolden >= lim.embolden_lo && g.embolden <= lim.embolden_hi;
    }
    CHECK(inside, "augmentation draws inside the limits");
    /* a strong augmentation still fits the frame (shrunk back to XF_GLYPH_MAX_PX) */
    xf_glyph_aug big = {30, 1.4, 0.3, 0, 0, 1.0};
    CHECK_OK(ctx, xf_glyph_render(ctx, f, sans, 'W', &big, a));
    ink_box(a, &r0, &r1, &c0, &c1);
    CHECK(r0 >= 0 && c0 >= 0 && r1 <= 27 && c1 <= 27 && r1 - r0 <= 27 && c1 - c0 <= 27, "big W inside the frame");

    /* errors */
    CHECK_ST(ctx, xf_glyph_render(ctx, f, sans, 0x4E00, NULL, a), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "U+4E00") && strstr(xf_errmsg(ctx), "DejaVuSans.ttf"), "message: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_glyph_render(ctx, f, sans, ' ', NULL, a), XF_ERR_NOTFOUND); /* no ink */
    CHECK_ST(ctx, xf_glyph_render(ctx, f, -1, 'A', NULL, a), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_glyph_render(ctx, f, xf_fonts_count(f), 'A', NULL, a), XF_ERR_INVALID);
    xf_glyph_aug bad = xf_glyph_aug_identity();
    bad.rotate_deg = NAN;
    CHECK_ST(ctx, xf_glyph_render(ctx, f, sans, 'A', &bad, a), XF_ERR_INVALID);
    bad = xf_glyph_aug_identity();
    bad.scale = 0;
    CHECK_ST(ctx, xf_glyph_render(ctx, f, sans, 'A', &bad, a), XF_ERR_INVALID);
    xf_fonts_free(f);

    xf_fonts_t *g = NULL;
    CHECK_ST(ctx, xf_fonts_open(ctx, "/nonexistent/fonts-dir", &g), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "/nonexistent/fonts-dir") != NULL, "message names the dir: %s", xf_errmsg(ctx));
    CHECK(g == NULL, "no font set on failure");
    char empty[1024];
    xt_tmp("corpus-nofonts", empty, sizeof empty);
    rm_rf(empty);
    mkdir(empty, 0777);
    CHECK_ST(ctx, xf_fonts_open(ctx, empty, &g), XF_ERR_NOTFOUND);
    snprintf(p, sizeof p, "%s/x.ttf", empty);
    FILE *fp = fopen(p, "wb");
    if (fp) { fputs("x", fp); fclose(fp); }
    CHECK_ST(ctx, xf_fonts_open(ctx, p, &g), XF_ERR_IO); /* a file, not a dir */
    CHECK_ST(ctx, xf_fonts_open(ctx, empty, &g), XF_ERR_NOTFOUND); /* only a broken font */
    /* allocation failures while scanning */
    for (int k = 1; k <= 40; k += 3) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_fonts_open(ctx, fdir, &g);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) { xf_fonts_free(g); break; }
        CHECK(st == XF_ERR_NOMEM && g == NULL, "alloc failure %d: %s", k, xf_status_str(st));
    }
}

/* ---- the corpus ------------------------------------------------------------------- */

static const char *TASK_NAMES[8] = {"upstream", "hand-digits", "new-scripts", "new-fonts",
                                    "font-digits", "script-id", "fashion-fine", "fashion-coarse"};

typedef struct hset { uint64_t *v; int64_t n, cap; } hset;
static void hs_add(hset *h, uint64_t x) {
    if (h->n == h->cap) { h->cap = h->cap ? 2 * h->cap : 1024; h->v = realloc(h->v, (size_t)h->cap * sizeof *h->v); }
    h->v[h->n++] = x;
}
static int cmp_u64(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return (x > y) - (x < y); }
static void hs_sort(hset *h) { qsort(h->v, (size_t)h->n, sizeof *h->v, cmp_u64); }
static int hs_has(const hset *h, uint64_t x) { return bsearch(&x, h->v, (size_t)h->n, sizeof x, cmp_u64) != NULL; }

/* Lines of a text file into a NULL-terminated array of strings (free with free_lines). */
static char **read_lines(const char *path, int *n) {
    char *t = slurp(path, NULL);
    *n = 0;
    if (!t) return NULL;
    int cap = 16;
    char **v = malloc((size_t)cap * sizeof *v);
    for (char *s = strtok(t, "\n"); s; s = strtok(NULL, "\n")) {
        if (*n + 1 >= cap) { cap *= 2; v = realloc(v, (size_t)cap * sizeof *v); }
        v[(*n)++] = strdup(s);
    }
    v[*n] = NULL;
    free(t);
    return v;
}
static void free_lines(char **v) {
    for (int i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}
static int index_of(char **v, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return i;
    return -1;
}

/* Every split of every task: shapes, dtypes, label range, counts as reported; image hashes
 * go into one set per (task, split). */
static void check_layout(xf_ctx_t *ctx, const char *dir, const xf_corpus_report *rep, hset sets[8][2]) {
    char p[1024];
    for (int t = 0; t < 8; t++) {
        const xf_corpus_task_info *ti = NULL;
        for (int k = 0; k < rep->ntasks; k++)
            if (!strcmp(rep->tasks[k].name, TASK_NAMES[t])) ti = &rep->tasks[k];
        CHECK(ti != NULL, "task %s reported", TASK_NAMES[t]);
        if (!ti) continue;
        int nc;
        snprintf(p, sizeof p, "%s/%s/classes.txt", dir, TASK_NAMES[t]);
        char **cl = read_lines(p, &nc);
        CHECK(cl && nc == ti->classes && nc >= 2, "%s: %d classes in classes.txt, report %lld", p, nc, (long long)ti->classes);
        free_lines(cl);
        for (int s = 0; s < 2; s++) {
            const char *which = s ? "test" : "train";
            xf_array x, y;
            snprintf(p, sizeof p, "%s/%s/%s_x.npy", dir, TASK_NAMES[t], which);
            if (xf_npy_read(ctx, p, &x) != XF_OK) { CHECK(0, "%s", xf_errmsg(ctx)); continue; }
            snprintf(p, sizeof p, "%s/%s/%s_y.npy", dir, TASK_NAMES[t], which);
            if (xf_npy_read(ctx, p, &y) != XF_OK) { CHECK(0, "%s", xf_errmsg(ctx)); xf_array_free(ctx, &x); continue; }
            int64_t want = s ? ti->test : ti->train;
            CHECK(x.dtype == XF_DT_U8 && x.ndim == 4 && x.shape[0] == want && x.shape[1] == 1 && x.shape[2] == 28 &&
                      x.shape[3] == 28, "%s/%s_x: shape or dtype", TASK_NAMES[t], which);
            CHECK(y.dtype == XF_DT_I64 && y.ndim == 1 && y.shape[0] == want, "%s/%s_y: shape or dtype", TASK_NAMES[t], which);
            CHECK(want > 0, "%s/%s: empty", TASK_NAMES[t], which);
            int bad = 0;
            for (int64_t i = 0; i < y.size; i++) bad += ((int64_t *)y.data)[i] < 0 || ((int64_t *)y.data)[i] >= ti->classes;
            CHECK(bad == 0, "%s/%s: %d labels out of range", TASK_NAMES[t], which, bad);
            for (int64_t i = 0; i < x.shape[0] && x.dtype == XF_DT_U8; i++)
                hs_add(&sets[t][s], fnv((uint8_t *)x.data + i * 784, 784));
            xf_array_free(ctx, &x);
            xf_array_free(ctx, &y);
        }
    }
}

static void check_disjoint(hset sets[8][2]) {
    /* no image twice anywhere: within a split, across splits, across tasks */
    hset all = {0};
    for (int t = 0; t < 8; t++)
        for (int s = 0; s < 2; s++)
            for (int64_t i = 0; i < sets[t][s].n; i++) hs_add(&all, sets[t][s].v[i]);
    hs_sort(&all);
    int64_t dup = 0;
    for (int64_t i = 1; i < all.n; i++) dup += all.v[i] == all.v[i - 1];
    CHECK(dup == 0 && all.n > 0, "%lld duplicate images among %lld", (long long)dup, (long long)all.n);
    free(all.v);
}

/* upstream/hierarchy.tsv: root -> groups -> every class exactly once. */
static void check_hierarchy(const char *dir) {
    char p[1024];
    int nc, nh;
    snprintf(p, sizeof p, "%s/upstream/classes.txt", dir);
    char **cl = read_lines(p, &nc);
    snprintf(p, sizeof p, "%s/upstream/hierarchy.tsv", dir);
    char **h = read_lines(p, &nh);
    CHECK(cl && h && nh > nc, "hierarchy.tsv: %d lines for %d classes", nh, nc);
    if (!cl || !h) { free_lines(cl); free_lines(h); return; }
    int *seen = calloc((size_t)nc, sizeof *seen);
    char *groups[64];
    int ng = 0, bad = 0;
    for (int i = 0; i < nh; i++) {
        char *tab = strchr(h[i], '\t');
        if (!tab || strchr(tab + 1, '\t')) { bad++; continue; }
        *tab = 0;
        const char *child = h[i], *parent = tab + 1;
        if (!strcmp(parent, "root")) { if (ng < 64) groups[ng++] = h[i]; continue; }
        int k = index_of(cl, nc, child);
        int isgroup = 0;
        for (int g = 0; g < ng; g++) isgroup |= !strcmp(groups[g], parent);
        if (k < 0 || !isgroup) { bad++; continue; }
        seen[k]++;
    }
    int once = 1;
    for (int k = 0; k < nc; k++) once &= seen[k] == 1;
    CHECK(bad == 0 && once, "hierarchy: %d bad lines, every class once under a group: %d", bad, once);
    int tops = 0, latin = 0;
    for (int g = 0; g < ng; g++) { tops |= !strcmp(groups[g], "tops"); latin |= !strcmp(groups[g], "latin-upper"); }
    CHECK(tops && latin && ng >= 6, "groups: %d (tops %d, latin-upper %d)", ng, tops, latin);
    /* the data module's parser (one tree, no cycles, no orphans) agrees */
    xf_ctx_t *ctx;
    xf_hierarchy_t *tree = NULL;
    if (xf_ctx_create(&ctx) == XF_OK) {
        CHECK_OK(ctx, xf_hierarchy_read(ctx, p, &tree));
        if (tree) {
            int64_t root = xf_hierarchy_root(tree);
            CHECK(!strcmp(xf_hierarchy_name(tree, root), "root"), "root is 'root'");
            CHECK(xf_hierarchy_count(tree) == 1 + ng + nc, "%lld nodes, want %d", (long long)xf_hierarchy_count(tree), 1 + ng + nc);
            int leaves_ok = 1;
            for (int k = 0; k < nc; k++) {
                int64_t id = xf_hierarchy_find(tree, cl[k]);
                const int64_t *kids;
                leaves_ok &= id >= 0 && xf_hierarchy_depth(tree, id) == 2 && xf_hierarchy_children(tree, id, &kids) == 0;
            }
            CHECK(leaves_ok, "every class is a leaf at depth 2");
            int64_t tid = xf_hierarchy_find(tree, "tops"), *lv = NULL, nl = 0;
            CHECK_OK(ctx, xf_hierarchy_leaves(ctx, tree, tid, &lv, &nl));
            CHECK(nl == 5, "tops holds %lld classes, want 5", (long long)nl);
            xf_free(ctx, lv);
            xf_hierarchy_free(tree);
        }
        xf_ctx_free(ctx);
    }
    free(seen);
    free_lines(cl);
    free_lines(h);
}

/* Fashion images come from the right IDX split: upstream from train, targets from test;
 * fashion-coarse's group label is the parent of the image's original class. */
static void check_fashion(xf_ctx_t *ctx, const char *dir) {
    char p[1024];
    xf_array tx, ty, sx;
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", FASHION_DIR);
    if (xf_idx_read(ctx, p, &tx) != XF_OK) { CHECK(0, "%s", xf_errmsg(ctx)); return; }
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", FASHION_DIR);
    if (xf_idx_read(ctx, p, &ty) != XF_OK) { CHECK(0, "%s", xf_errmsg(ctx)); xf_array_free(ctx, &tx); return; }
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", FASHION_DIR);
    if (xf_idx_read(ctx, p, &sx) != XF_OK) { CHECK(0, "%s", xf_errmsg(ctx)); xf_array_free(ctx, &tx); xf_array_free(ctx, &ty); return; }
    hset test = {0}, train = {0};
    uint64_t *th = malloc((size_t)tx.shape[0] * sizeof *th);
    for (int64_t i = 0; i < tx.shape[0]; i++) { th[i] = fnv((uint8_t *)tx.data + i * 784, 784); hs_add(&test, th[i]); }
    for (int64_t i = 0; i < sx.shape[0]; i++) hs_add(&train, fnv((uint8_t *)sx.data + i * 784, 784));
    hs_sort(&test);
    hs_sort(&train);
    /* parents from the hierarchy */
    int nh, nfine, ncoarse;
    snprintf(p, sizeof p, "%s/upstream/hierarchy.tsv", dir);
    char **h = read_lines(p, &nh);
    snprintf(p, sizeof p, "%s/fashion-fine/classes.txt", dir);
    char **fine = read_lines(p, &nfine);
    snprintf(p, sizeof p, "%s/fashion-coarse/classes.txt", dir);
    char **coarse = read_lines(p, &ncoarse);
    CHECK(h && fine && coarse && nfine == 10 && ncoarse == 4, "fashion classes: %d fine, %d coarse", nfine, ncoarse);
    const char *tasks[3] = {"upstream", "fashion-fine", "fashion-coarse"};
    for (int t = 0; t < 3 && h && fine && coarse; t++)
        for (int s = 0; s < 2; s++) {
            xf_array x, y;
            snprintf(p, sizeof p, "%s/%s/%s_x.npy", dir, tasks[t], s ? "test" : "train");
            if (xf_npy_read(ctx, p, &x)) continue;
            snprintf(p, sizeof p, "%s/%s/%s_y.npy", dir, tasks[t], s ? "test" : "train");
            if (xf_npy_read(ctx, p, &y)) { xf_array_free(ctx, &x); continue; }
            int64_t wrong = 0, nf = 0, badlab = 0;
            for (int64_t i = 0; i < x.shape[0]; i++) {
                int64_t lab = ((int64_t *)y.data)[i];
                uint64_t hv = fnv((uint8_t *)x.data + i * 784, 784);
                if (t == 0) {
                    if (lab >= 10) continue; /* a glyph */
                    nf++;
                    wrong += !hs_has(&train, hv) || hs_has(&test, hv);
                } else {
                    nf++;
                    wrong += !hs_has(&test, hv) || hs_has(&train, hv);
                    int64_t j = 0; /* original label */
                    while (j < tx.shape[0] && th[j] != hv) j++;
                    if (j == tx.shape[0]) continue;
                    int orig = ((uint8_t *)ty.data)[j];
                    if (t == 1) badlab += lab != orig;
                    else {
                        char want[128] = "";
                        for (int k = 0; k < nh; k++) {
                            size_t l = strlen(fine[orig]);
                            if (!strncmp(h[k], fine[orig], l) && h[k][l] == '\t') snprintf(want, sizeof want, "%s", h[k] + l + 1);
                        }
                        badlab += strcmp(coarse[lab], want) != 0;
                    }
                }
            }
            CHECK(wrong == 0 && nf > 0, "%s: %lld of %lld Fashion images from the wrong split", p, (long long)wrong, (long long)nf);
            CHECK(badlab == 0, "%s: %lld wrong labels", p, (long long)badlab);
            xf_array_free(ctx, &x);
            xf_array_free(ctx, &y);
        }
    free_lines(h);
    free_lines(fine);
    free_lines(coarse);
    free(th);
    free(test.v);
    free(train.v);
    xf_array_free(ctx, &tx);
    xf_array_free(ctx, &ty);
    xf_array_free(ctx, &sx);
}

/* hand-digits: every image is one of Pillow's upsampled fixture rows (+-1), same label. */
static void check_digits(xf_ctx_t *ctx, const char *dir) {
    char p[1024];
    xf_array up, uy;
    if (xf_npy_read(ctx, xt_ref("corpus/digits40_up.npy", p, sizeof p), &up) ||
        xf_npy_read(ctx, xt_ref("corpus/digits40_y.npy", p, sizeof p), &uy)) {
        CHECK(0, "fixtures: %s", xf_errmsg(ctx));
        return;
    }
    for (int s = 0; s < 2; s++) {
        xf_array x, y;
        snprintf(p, sizeof p, "%s/hand-digits/%s_x.npy", dir, s ? "test" : "train");
        if (xf_npy_read(ctx, p, &x)) { CHECK(0, "%s", xf_errmsg(ctx)); continue; }
        snprintf(p, sizeof p, "%s/hand-digits/%s_y.npy", dir, s ? "test" : "train");
        if (xf_npy_read(ctx, p, &y)) { CHECK(0, "%s", xf_errmsg(ctx)); xf_array_free(ctx, &x); continue; }
        int64_t unmatched = 0;
        for (int64_t i = 0; i < x.shape[0]; i++) {
            const uint8_t *a = (uint8_t *)x.data + i * 784;
            int found = 0;
            for (int64_t r = 0; r < 40 && !found; r++) {
                const uint8_t *b = (uint8_t *)up.data + r * 784;
                int md = 0;
                for (int k = 0; k < 784; k++) { int d = abs(a[k] - b[k]); if (d > md) md = d; }
                found = md <= 1 && ((int64_t *)uy.data)[r] == ((int64_t *)y.data)[i];
            }
            unmatched += !found;
        }
        CHECK(unmatched == 0 && x.shape[0] > 0, "%s: %lld images match no Pillow-upsampled row", p, (long long)unmatched);
        xf_array_free(ctx, &x);
        xf_array_free(ctx, &y);
    }
    xf_array_free(ctx, &up);
    xf_array_free(ctx, &uy);
}

/* Every file corpus.json lists (and corpus.json) is byte-identical in a and b. */
static int same_corpus(const char *a, const char *b) {
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/corpus.json", a);
    snprintf(pb, sizeof pb, "%s/corpus.json", b);
    size_t la, lb;
    char *ja = slurp(pa, &la), *jb = slurp(pb, &lb);
    int same = ja && jb && la == lb && !memcmp(ja, jb, la);
    /* the paths listed under "files" (after the sources) */
    int nfiles = 0;
    for (char *s = ja ? strstr(ja, "\"files\":") : NULL; same && s && (s = strstr(s, "\"path\":\t\"")); ) {
        s += 9;
        char rel[256];
        int n = 0;
        while (s[n] && s[n] != '"' && n < 255) { rel[n] = s[n]; n++; }
        rel[n] = 0;
        snprintf(pa, sizeof pa, "%s/%s", a, rel);
        snprintf(pb, sizeof pb, "%s/%s", b, rel);
        char *fa = slurp(pa, &la), *fb = slurp(pb, &lb);
        same = fa && fb && la == lb && !memcmp(fa, fb, la);
        if (!same) fprintf(stderr, "differs: %s\n", rel);
        free(fa);
        free(fb);
        nfiles++;
    }
    free(ja);
    free(jb);
    return same && nfiles >= 8 * 5;
}

static void test_corpus(xf_ctx_t *ctx, const char *fdir, int sanitized) {
    char da[1024], db[1024], dc[1024], digits[1024], p[1024];
    xt_tmp("corpus-a", da, sizeof da);
    xt_tmp("corpus-b", db, sizeof db);
    xt_tmp("corpus-c", dc, sizeof dc);
    rm_rf(da);
    rm_rf(db);
    rm_rf(dc);
    xt_ref("corpus/digits40.csv", digits, sizeof digits);
    xf_corpus_opts o;
    xf_corpus_opts_init(&o);
    CHECK(!strcmp(o.out_dir, "data/corpus") && o.scale == 1.0 && !o.force, "defaults");
    o.fonts_dir = fdir;
    o.fashion_dir = FASHION_DIR;
    o.digits_csv = digits;
    o.scale = sanitized ? 0.01 : 0.02;
    o.out_dir = da;
    xf_corpus_report rep;
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &rep));
    CHECK(rep.ntasks == 8 && !rep.reused && rep.bytes > 0, "built %d tasks, reused %d", rep.ntasks, rep.reused);
    CHECK(rep.nfonts_upstream == 3 && rep.nfonts_heldout == 3, "fonts %d upstream + %d held out (Math excluded)",
          rep.nfonts_upstream, rep.nfonts_heldout);
    CHECK(xf_corpus_task_count() == 8 && !strcmp(xf_corpus_task_name(0), "upstream") && *xf_corpus_task_about(3),
          "task table");
    /* sizes follow the scale: 1,000 train images x scale for every target */
    for (int k = 1; k < rep.ntasks; k++) {
        int64_t want = (int64_t)llround(1000 * o.scale);
        CHECK(rep.tasks[k].train == want, "%s: %lld train, want %lld", rep.tasks[k].name, (long long)rep.tasks[k].train, (long long)want);
        if (strcmp(rep.tasks[k].name, "hand-digits")) /* the 40-row fixture has 20 left */
            CHECK(rep.tasks[k].test >= want, "%s: %lld test", rep.tasks[k].name, (long long)rep.tasks[k].test);
    }
    hset sets[8][2];
    memset(sets, 0, sizeof sets);
    check_layout(ctx, da, &rep, sets);
    check_disjoint(sets);
    for (int t = 0; t < 8; t++) { free(sets[t][0].v); free(sets[t][1].v); }
    check_hierarchy(da);
    check_fashion(ctx, da);
    check_digits(ctx, da);

    /* the data module opens every task as corpus:<task>[:split] */
    xf_data_opts dop;
    xf_data_opts_default(&dop);
    dop.corpus_dir = da;
    for (int t = 0; t < rep.ntasks; t++)
        for (int s = 0; s < 2; s++) {
            char spec[128];
            snprintf(spec, sizeof spec, "corpus:%s:%s", rep.tasks[t].name, s ? "test" : "train");
            xf_dataset ds;
            memset(&ds, 0, sizeof ds);
            CHECK_OK(ctx, xf_data_open(ctx, spec, &dop, &ds));
            CHECK(ds.n == (s ? rep.tasks[t].test : rep.tasks[t].train) && ds.k == rep.tasks[t].classes && ds.c == 1 &&
                      ds.h == 28 && ds.w == 28, "%s: n %lld k %d", spec, (long long)ds.n, ds.k);
            if (t == 3 && s == 0 && ds.k > 0)
                CHECK(!strcmp(ds.classes[0], "latin-upper-A") && !strcmp(ds.classes[ds.k - 1], "latin-lower-z"),
                      "new-fonts classes %s .. %s", ds.classes[0], ds.classes[ds.k - 1]);
            xf_dataset_free(ctx, &ds);
        }

    /* determinism: a second build elsewhere gives the same bytes */
    o.out_dir = db;
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &rep));
    CHECK(same_corpus(da, db), "two builds give identical files");
    /* reuse: same parameters -> nothing rebuilt */
    o.out_dir = da;
    xf_corpus_report r2;
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 1 && r2.ntasks == 8 && !strcmp(r2.hash, rep.hash) && r2.bytes == rep.bytes, "reused: %d", r2.reused);
    /* a damaged file -> rebuilt, identical again */
    snprintf(p, sizeof p, "%s/new-fonts/test_y.npy", da);
    CHECK(truncate(p, 64) == 0, "truncate %s", p);
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 0, "damaged corpus rebuilt");
    CHECK(same_corpus(da, db), "rebuild identical");
    /* a byte changed, the size kept: the checksum in corpus.json catches it */
    snprintf(p, sizeof p, "%s/new-fonts/train_x.npy", da);
    {
        FILE *f = fopen(p, "r+b");
        int c0 = -1;
        if (f && fseek(f, 200, SEEK_SET) == 0 && (c0 = fgetc(f)) != EOF && fseek(f, 200, SEEK_SET) == 0) fputc(c0 ^ 0x5a, f);
        CHECK(f && c0 >= 0, "flip a byte of %s", p);
        if (f) fclose(f);
    }
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 0, "same-size corruption: rebuilt (reused %d)", r2.reused);
    CHECK(same_corpus(da, db), "rebuild after same-size corruption identical");
    /* an interrupted build's temporaries (their process is gone) are removed by the next build;
     * pid 2^22 + 1 is above Linux's largest pid, so no process has it */
    {
        char t1[1200], t2[1200];
        snprintf(t1, sizeof t1, "%s/new-fonts/train_x.npy.tmp.4194305", da);
        snprintf(t2, sizeof t2, "%s/corpus.json.tmp.4194305.0", da);
        FILE *f1 = fopen(t1, "wb"), *f2 = fopen(t2, "wb");
        CHECK(f1 && f2, "create stale temporaries");
        if (f1) fclose(f1);
        if (f2) fclose(f2);
        o.force = 1;
        CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
        o.force = 0;
        CHECK(access(t1, F_OK) != 0 && access(t2, F_OK) != 0, "stale temporaries removed by the next build");
    }
    /* another font installed: the hash changes, the corpus is rebuilt; removed: back to
     * the same bytes */
    char extra[1100];
    snprintf(extra, sizeof extra, "%s/sub/Extra.ttf", fdir);
    CHECK(symlink("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", extra) == 0, "symlink %s", extra);
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 0 && strcmp(r2.hash, rep.hash) != 0 && r2.nfonts_upstream == 4, "new font: rebuilt (%d), %d upstream fonts",
          r2.reused, r2.nfonts_upstream);
    unlink(extra);
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 0 && !strcmp(r2.hash, rep.hash) && same_corpus(da, db), "font removed: the first corpus again");
    /* --force rebuilds */
    o.force = 1;
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 0, "force rebuilds");
    o.force = 0;
    /* info */
    CHECK_OK(ctx, xf_corpus_info(ctx, da, &r2));
    CHECK(r2.ntasks == 8 && !strcmp(r2.hash, rep.hash) && r2.tasks[0].upstream && !r2.tasks[1].upstream &&
              r2.tasks[3].classes == rep.tasks[3].classes, "info");
    /* another seed: another hash, other images */
    o.out_dir = dc;
    o.seed = 12345;
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(strcmp(r2.hash, rep.hash) != 0 && !same_corpus(da, dc), "seed changes the corpus");
    o.seed = 20240917;
    /* sources missing but a complete corpus present: reused (with a warning), unless forced */
    o.out_dir = da;
    o.fashion_dir = "/nonexistent/fashion";
    CHECK_OK(ctx, xf_corpus_build(ctx, &o, &r2));
    CHECK(r2.reused == 1, "kept without sources");
    o.force = 1;
    CHECK_ST(ctx, xf_corpus_build(ctx, &o, &r2), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "/nonexistent/fashion") != NULL, "message: %s", xf_errmsg(ctx));

    /* errors, each into a fresh dir */
    xf_corpus_opts e = o;
    e.fashion_dir = FASHION_DIR;
    e.force = 1;
    xt_tmp("corpus-err", p, sizeof p);
    rm_rf(p);
    e.out_dir = p;
    e.fonts_dir = "/nonexistent/fonts";
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "/nonexistent/fonts") && strstr(xf_errmsg(ctx), "fonts directory"), "message: %s", xf_errmsg(ctx));
    e.fonts_dir = fdir;
    e.digits_csv = "/nonexistent/digits.csv.gz";
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "/nonexistent/digits.csv.gz") != NULL, "message: %s", xf_errmsg(ctx));
    e.digits_csv = digits;
    char file[1024], under[1100];
    xt_tmp("corpus-afile", file, sizeof file);
    FILE *fp = fopen(file, "wb");
    if (fp) { fputs("x", fp); fclose(fp); }
    snprintf(under, sizeof under, "%s/sub/corpus", file);
    e.out_dir = under;
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "corpus-afile") && strstr(xf_errmsg(ctx), "cannot create directory"), "message: %s", xf_errmsg(ctx));
    e.out_dir = p;
    e.scale = 0;
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_INVALID);
    e.scale = 1.5;
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_INVALID);
    e.scale = o.scale;
    e.out_dir = NULL;
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_INVALID);
    e.out_dir = p;
    /* a fonts dir without held-out families cannot make the unseen-typeface targets */
    char onlyup[1024];
    xt_tmp("corpus-upfonts", onlyup, sizeof onlyup);
    rm_rf(onlyup);
    mkdir(onlyup, 0777);
    snprintf(file, sizeof file, "%s/a.ttf", onlyup);
    CHECK(symlink(FONT_SRC[0][0], file) == 0, "symlink");
    snprintf(file, sizeof file, "%s/b.ttf", onlyup);
    CHECK(symlink(FONT_SRC[1][0], file) == 0, "symlink");
    e.fonts_dir = onlyup;
    CHECK_ST(ctx, xf_corpus_build(ctx, &e, &r2), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "held-out") != NULL, "message: %s", xf_errmsg(ctx));
    snprintf(file, sizeof file, "%s/corpus.json", p);
    CHECK(access(file, F_OK) != 0, "no corpus.json after a failed build");
    e.fonts_dir = fdir;

    /* corpus.json: missing, not JSON, another version */
    CHECK_ST(ctx, xf_corpus_info(ctx, "/nonexistent/corpus", &r2), XF_ERR_IO);
    mkdir(p, 0777);
    fp = fopen(file, "wb");
    if (fp) { fputs("{not json", fp); fclose(fp); }
    CHECK_ST(ctx, xf_corpus_info(ctx, p, &r2), XF_ERR_FORMAT);
    fp = fopen(file, "wb");
    if (fp) { fputs("{\"format\": \"xfer-corpus\", \"version\": 99, \"params_hash\": \"0\", \"tasks\": [], \"files\": []}", fp); fclose(fp); }
    CHECK_ST(ctx, xf_corpus_info(ctx, p, &r2), XF_ERR_UNSUPPORTED);
    CHECK(strstr(xf_errmsg(ctx), "version 99") != NULL, "message: %s", xf_errmsg(ctx));
    fp = fopen(file, "wb");
    if (fp) { fputs("{\"format\": \"other\"}", fp); fclose(fp); }
    CHECK_ST(ctx, xf_corpus_info(ctx, p, &r2), XF_ERR_FORMAT);
    /* the in-memory parser: a bad count, a long name, too many tasks */
    const char *okj = "{\"format\": \"xfer-corpus\", \"version\": 1, \"params_hash\": \"ab\", \"files\": [], \"tasks\": ["
                      "{\"name\": \"NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\", \"kind\": \"target\", "
                      "\"classes\": 3, \"train\": 5, \"test\": 6}]}";
    CHECK_OK(ctx, xf_corpus_info_mem(ctx, okj, strlen(okj), "mem.json", &r2));
    CHECK(r2.ntasks == 1 && strlen(r2.tasks[0].name) == sizeof r2.tasks[0].name - 1 && r2.tasks[0].test == 6 &&
              !strcmp(r2.hash, "ab"), "parsed from memory");
    const char *badj = "{\"format\": \"xfer-corpus\", \"version\": 1, \"params_hash\": \"ab\", \"files\": [], \"tasks\": ["
                       "{\"name\": \"x\", \"kind\": \"target\", \"classes\": -3, \"train\": 5, \"test\": 6}]}";
    CHECK_ST(ctx, xf_corpus_info_mem(ctx, badj, strlen(badj), "mem.json", &r2), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "mem.json: task 0") != NULL, "message: %s", xf_errmsg(ctx));
    char many[8192];
    int at = snprintf(many, sizeof many, "{\"format\": \"xfer-corpus\", \"version\": 1, \"params_hash\": \"ab\", \"files\": [], \"tasks\": [");
    for (int i = 0; i < 40; i++)
        at += snprintf(many + at, sizeof many - (size_t)at, "%s{\"name\": \"t\", \"kind\": \"target\", \"classes\": 2, \"train\": 1, \"test\": 1}",
                       i ? ", " : "");
    snprintf(many + at, sizeof many - (size_t)at, "]}");
    CHECK_OK(ctx, xf_corpus_info_mem(ctx, many, strlen(many), "mem.json", &r2));
    CHECK(r2.ntasks == XF_CORPUS_MAX_TASKS, "tasks capped: %d", r2.ntasks);
    /* a stale or foreign corpus.json is not reused: the build replaces it */
    e.force = 0;
    CHECK_OK(ctx, xf_corpus_build(ctx, &e, &r2));
    CHECK(r2.reused == 0 && r2.ntasks == 8, "foreign corpus.json replaced");

    /* allocation failures: an error, never a crash or a leak; k spread over a whole build */
    e.force = 1;
    int64_t before = xf_ctx_alloc_count(ctx);
    CHECK_OK(ctx, xf_corpus_build(ctx, &e, &r2));
    int64_t total = xf_ctx_alloc_count(ctx) - before;
    CHECK(total > 100, "a build allocates (%lld)", (long long)total);
    int nk = sanitized ? 4 : 10;
    for (int i = 0; i < nk; i++) {
        int64_t k = i == 0 ? 1 : 1 + (total - 1) * i / nk;
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_corpus_build(ctx, &e, &r2);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK(st == XF_ERR_NOMEM, "alloc failure at %lld of %lld: %s (%s)", (long long)k, (long long)total,
              xf_status_str(st), xf_errmsg(ctx));
    }
    /* the failed rebuilds left the previous corpus whole: reused, every file with its size
     * and checksum */
    e.force = 0;
    CHECK_OK(ctx, xf_corpus_build(ctx, &e, &r2));
    CHECK(r2.reused == 1, "failed rebuilds left the previous corpus whole (reused %d)", r2.reused);
    rm_rf(da);
    rm_rf(db);
    rm_rf(dc);
    rm_rf(p);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    const char *san = getenv("XF_SANITIZED");
    int sanitized = san && *san && strcmp(san, "0");
    char fdir[1024];
    xt_tmp("corpus-fonts", fdir, sizeof fdir);
    if (!make_fonts_dir(fdir)) {
        /* the fonts come from Debian packages (scripts/install-deps.sh demo) */
        printf("test_corpus: SKIP: fonts-dejavu-core / fonts-freefont-ttf not installed\n");
        xf_ctx_free(ctx);
        return 0;
    }
    test_glyphs(ctx, fdir);
    char p[1024];
    xt_tmp("corpus-fashion", FASHION_DIR, sizeof FASHION_DIR);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", FASHION_SYS);
    if (access(p, R_OK) != 0) printf("test_corpus: corpus part skipped: %s missing (dataset-fashion-mnist)\n", p);
    else if (!make_fashion_dir(ctx, FASHION_DIR, 2000)) CHECK(0, "fashion subset: %s", xf_errmsg(ctx));
    else test_corpus(ctx, fdir, sanitized);
    rm_rf(FASHION_DIR);
    rm_rf(fdir);
    xf_ctx_free(ctx);
    return xt_done("test_corpus");
}
