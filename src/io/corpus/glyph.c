/* Glyph rendering for the embedded corpus: a font set scanned from a directory and a
 * renderer that draws one character as a 28x28 grayscale image.
 *
 * Design: the glyph outline is loaded unscaled (font units, no hinting, no embedded
 * bitmaps), so the pixels depend only on the outline and on this code, not on a font's
 * hinting program. One affine map takes font units to 26.6 pixels: scale (one em =
 * XF_GLYPH_EM_PX, shrunk to fit XF_GLYPH_FIT_PX) x augmentation scale; the stroke weight
 * is changed with FT_Outline_EmboldenXY in pixel space; then shear and rotation; the
 * exact bounding box (FT_Outline_Get_BBox) is centred on the image plus the shift. The
 * smooth (anti-aliased) rasteriser draws into a zeroed 28x28 buffer: coverage 0..255.
 * All steps are integer or fixed-point inside FreeType, so the same FreeType version,
 * fonts and augmentation draws give the same bytes. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_OUTLINE_H
#include FT_BBOX_H

#include "xfer/corpus.h"
#include "io/corpus/corpusInt.h"

typedef struct font {
    char *file;   /* relative to the scanned dir */
    char *family, *style;
    int64_t size; /* file size in bytes */
    FT_Face face;
} font;

struct xf_fonts {
    xf_ctx_t *ctx;
    FT_Library lib;
    font *v;
    int n, cap;
    int list_only;  /* scan without opening: hash the names and sizes (corpus reuse check) */
    uint64_t hash;  /* FNV-1a over "relpath\0size mtime\0" of every font file, in scan order */
    int nfiles;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_font_ext(const char *name) {
    size_t n = strlen(name);
    if (n < 5) return 0;
    const char *e = name + n - 4;
    return !strcasecmp(e, ".ttf") || !strcasecmp(e, ".otf") || !strcasecmp(e, ".ttc");
}

/* Opens one file; returns XF_OK also when the file is skipped (no Unicode map, bitmap
 * only, duplicate family+style, unreadable by FreeType). */
static xf_status add_font(xf_fonts_t *fs, const char *path, const char *rel, int64_t size) {
    FT_Face face;
    if (FT_New_Face(fs->lib, path, 0, &face)) return XF_OK;
    if (!FT_IS_SCALABLE(face) || FT_Select_Charmap(face, FT_ENCODING_UNICODE) || !face->family_name) {
        FT_Done_Face(face);
        return XF_OK;
    }
    const char *style = face->style_name ? face->style_name : "";
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->v[i].family, face->family_name) && !strcmp(fs->v[i].style, style)) {
            FT_Done_Face(face);
            return XF_OK;
        }
    if (fs->n == fs->cap) {
        int cap = fs->cap ? 2 * fs->cap : 64;
        font *v = xf_realloc(fs->ctx, fs->v, (size_t)cap * sizeof *v);
        if (!v) { FT_Done_Face(face); return XF_ERR_NOMEM; }
        fs->v = v;
        fs->cap = cap;
    }
    font *f = &fs->v[fs->n];
    memset(f, 0, sizeof *f);
    f->face = face;
    f->size = size;
    f->file = xf_strdup(fs->ctx, rel);
    f->family = xf_strdup(fs->ctx, face->family_name);
    f->style = xf_strdup(fs->ctx, style);
    fs->n++; /* counted now so that xf_fonts_free releases a partial entry */
    if (!f->file || !f->family || !f->style) return XF_ERR_NOMEM;
    return XF_OK;
}

#define MAX_DEPTH 8 /* symlinked directory loops end here */

static xf_status scan(xf_fonts_t *fs, const char *dir, const char *rel, int depth) {
    xf_ctx_t *ctx = fs->ctx;
    DIR *d = opendir(dir);
    if (!d) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot read fonts directory: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    xf_status st = XF_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            size_t c2 = cap ? 2 * cap : 64;
            char **nn = xf_realloc(ctx, names, c2 * sizeof *nn);
            if (!nn) { st = XF_ERR_NOMEM; break; }
            names = nn;
            cap = c2;
        }
        if (!(names[n] = xf_strdup(ctx, e->d_name))) { st = XF_ERR_NOMEM; break; }
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str); /* readdir order is not stable */
    for (size_t i = 0; i < n && st == XF_OK; i++) {
        size_t lp = strlen(dir) + strlen(names[i]) + 2, lr = strlen(rel) + strlen(names[i]) + 2;
        char *path = xf_malloc(ctx, lp), *r2 = xf_malloc(ctx, lr);
        if (!path || !r2) { xf_free(ctx, path); xf_free(ctx, r2); st = XF_ERR_NOMEM; break; }
        snprintf(path, lp, "%s/%s", dir, names[i]);
        snprintf(r2, lr, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode) && depth < MAX_DEPTH) {
                st = scan(fs, path, r2, depth + 1);
                if (st == XF_ERR_IO) st = XF_OK; /* an unreadable subfolder is skipped */
                xf_ctx_clear_error(ctx);
            } else if (S_ISREG(sb.st_mode) && has_font_ext(names[i])) {
                char sz[64];
                snprintf(sz, sizeof sz, "%lld %lld", (long long)sb.st_size, (long long)sb.st_mtime);
                fs->hash = xf_fnv1a(fs->hash, r2, strlen(r2) + 1);
                fs->hash = xf_fnv1a(fs->hash, sz, strlen(sz) + 1);
                fs->nfiles++;
                if (!fs->list_only) st = add_font(fs, path, r2, (int64_t)sb.st_size);
            }
        }
        xf_free(ctx, path);
        xf_free(ctx, r2);
    }
    for (size_t i = 0; i < n; i++) xf_free(ctx, names[i]);
    xf_free(ctx, names);
    if (st == XF_ERR_NOMEM) return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory while scanning fonts", dir);
    return st;
}

static xf_status fonts_open(xf_ctx_t *ctx, const char *dir, int list_only, xf_fonts_t **out) {
    *out = NULL;
    if (!dir || !*dir) return XF_ERR(ctx, XF_ERR_INVALID, "fonts directory: empty path");
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return XF_ERR(ctx, XF_ERR_IO, "%s: fonts directory not found: %s (install fonts-dejavu-core, "
                      "fonts-noto-core, fonts-freefont-ttf, fonts-liberation, fonts-urw-base35)", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return XF_ERR(ctx, XF_ERR_IO, "%s: fonts directory is not a directory", dir);
    xf_fonts_t *fs = xf_calloc(ctx, 1, sizeof *fs);
    if (!fs) return XF_ERR_NOMEM;
    fs->ctx = ctx;
    fs->list_only = list_only;
    fs->hash = XF_FNV1A_OFFSET;
    if (FT_Init_FreeType(&fs->lib)) {
        xf_free(ctx, fs);
        return XF_ERR(ctx, XF_ERR_NOMEM, "FreeType: initialisation failed");
    }
    xf_status st = scan(fs, dir, "", 0);
    if (st == XF_OK && (list_only ? fs->nfiles : fs->n) == 0)
        st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no usable .ttf/.otf font found", dir);
    if (st != XF_OK) { xf_fonts_free(fs); return st; }
    *out = fs;
    return XF_OK;
}

xf_status xf_fonts_open(xf_ctx_t *ctx, const char *dir, xf_fonts_t **out) { return fonts_open(ctx, dir, 0, out); }

xf_status xf_fonts_list_hash(xf_ctx_t *ctx, const char *dir, uint64_t *hash, int *nfiles) {
    xf_fonts_t *fs;
    xf_status st = fonts_open(ctx, dir, 1, &fs);
    if (st != XF_OK) return st;
    *hash = fs->hash;
    if (nfiles) *nfiles = fs->nfiles;
    xf_fonts_free(fs);
    return XF_OK;
}

uint64_t xf_fonts_hash(const xf_fonts_t *f) { return f->hash; }

void xf_fonts_free(xf_fonts_t *fs) {
    if (!fs) return;
    xf_ctx_t *ctx = fs->ctx;
    for (int i = 0; i < fs->n; i++) {
        FT_Done_Face(fs->v[i].face);
        xf_free(ctx, fs->v[i].file);
        xf_free(ctx, fs->v[i].family);
        xf_free(ctx, fs->v[i].style);
    }
    xf_free(ctx, fs->v);
    FT_Done_FreeType(fs->lib);
    xf_free(ctx, fs);
}

int xf_fonts_count(const xf_fonts_t *f) { return f ? f->n : 0; }
const char *xf_fonts_file(const xf_fonts_t *f, int i) { return i >= 0 && i < f->n ? f->v[i].file : ""; }
const char *xf_fonts_family(const xf_fonts_t *f, int i) { return i >= 0 && i < f->n ? f->v[i].family : ""; }
const char *xf_fonts_style(const xf_fonts_t *f, int i) { return i >= 0 && i < f->n ? f->v[i].style : ""; }
int64_t xf_fonts_file_size(const xf_fonts_t *f, int i) { return i >= 0 && i < f->n ? f->v[i].size : 0; }

int xf_fonts_has_char(const xf_fonts_t *f, int i, uint32_t cp) {
    if (!f || i < 0 || i >= f->n) return 0;
    return FT_Get_Char_Index(f->v[i].face, cp) != 0;
}

/* ---- augmentation ----------------------------------------------------------------- */

xf_glyph_aug xf_glyph_aug_identity(void) {
    xf_glyph_aug a = {0, 1, 0, 0, 0, 0};
    return a;
}

xf_glyph_aug_limits xf_glyph_aug_defaults(void) {
    /* Light: a glyph stays readable and inside the frame (rotation * box < 2 px drift). */
    xf_glyph_aug_limits l = {8.0, 0.88, 1.08, 0.12, 1.5, -0.2, 0.8};
    return l;
}

static double unif(xf_rng *r, double lo, double hi) { return lo + (hi - lo) * xf_rng_uniform(r); }

xf_glyph_aug xf_glyph_aug_draw(xf_rng *rng, const xf_glyph_aug_limits *lim) {
    xf_glyph_aug_limits d = xf_glyph_aug_defaults();
    if (!lim) lim = &d;
    xf_glyph_aug a; /* one draw per field in a fixed order: the stream defines the bytes */
    a.rotate_deg = unif(rng, -lim->rotate_deg, lim->rotate_deg);
    a.scale = unif(rng, lim->scale_lo, lim->scale_hi);
    a.shear = unif(rng, -lim->shear, lim->shear);
    a.dx = unif(rng, -lim->shift_px, lim->shift_px);
    a.dy = unif(rng, -lim->shift_px, lim->shift_px);
    a.embolden = unif(rng, lim->embolden_lo, lim->embolden_hi);
    return a;
}

/* ---- rendering -------------------------------------------------------------------- */

static FT_Fixed fx(double v) { return (FT_Fixed)lround(v * 65536.0); }

static void transform(FT_Outline *o, double a, double b, double c, double d) {
    FT_Matrix m = {fx(a), fx(b), fx(c), fx(d)}; /* x' = a x + b y, y' = c x + d y */
    FT_Outline_Transform(o, &m);
}

xf_status xf_glyph_render(xf_ctx_t *ctx, xf_fonts_t *fs, int i, uint32_t cp, const xf_glyph_aug *aug, uint8_t *out) {
    const int S = XF_GLYPH_SIZE;
    if (!fs || i < 0 || i >= fs->n || !out) return XF_ERR(ctx, XF_ERR_INVALID, "glyph: bad font index %d", i);
    xf_glyph_aug id = xf_glyph_aug_identity();
    if (!aug) aug = &id;
    if (!isfinite(aug->rotate_deg) || !isfinite(aug->scale) || !isfinite(aug->shear) || !isfinite(aug->dx) ||
        !isfinite(aug->dy) || !isfinite(aug->embolden) || aug->scale <= 0.05 || aug->scale > 4 ||
        fabs(aug->shear) > 2 || fabs(aug->dx) > S || fabs(aug->dy) > S || fabs(aug->embolden) > 4)
        return XF_ERR(ctx, XF_ERR_INVALID, "glyph: augmentation out of range");
    memset(out, 0, (size_t)S * S);
    font *f = &fs->v[i];
    FT_UInt gi = FT_Get_Char_Index(f->face, cp);
    if (!gi) return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no glyph for U+%04X", f->file, (unsigned)cp);
    if (FT_Load_Glyph(f->face, gi, FT_LOAD_NO_SCALE) || f->face->glyph->format != FT_GLYPH_FORMAT_OUTLINE)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: cannot load the outline of U+%04X", f->file, (unsigned)cp);
    FT_Outline *o = &f->face->glyph->outline;
    if (o->n_points <= 0 || o->n_contours <= 0)
        return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: U+%04X has an empty outline", f->file, (unsigned)cp);
    FT_BBox bb;
    FT_Outline_Get_BBox(o, &bb);
    double w = (double)(bb.xMax - bb.xMin), h = (double)(bb.yMax - bb.yMin);
    double upem = f->face->units_per_EM > 0 ? f->face->units_per_EM : 1000;
    double s = XF_GLYPH_EM_PX / upem, big = w > h ? w : h;
    if (big * s > XF_GLYPH_FIT_PX) s = XF_GLYPH_FIT_PX / big;
    s *= aug->scale * 64.0; /* font units -> 26.6 pixels */
    transform(o, s, 0, 0, s);
    if (aug->embolden != 0) {
        FT_Pos e = (FT_Pos)lround(aug->embolden * 64.0);
        FT_Outline_EmboldenXY(o, e, e);
    }
    double th = aug->rotate_deg * 3.14159265358979323846 / 180.0, cs = cos(th), sn = sin(th);
    /* rotation R times shear [1 k; 0 1] */
    transform(o, cs, cs * aug->shear - sn, sn, sn * aug->shear + cs);
    FT_Outline_Get_BBox(o, &bb);
    double bw = (bb.xMax - bb.xMin) / 64.0, bh = (bb.yMax - bb.yMin) / 64.0, bmax = bw > bh ? bw : bh;
    if (bmax > XF_GLYPH_MAX_PX) { /* augmentation pushed it past the frame: shrink back */
        double k = XF_GLYPH_MAX_PX / bmax;
        transform(o, k, 0, 0, k);
        FT_Outline_Get_BBox(o, &bb);
    }
    /* centre of the box to the image centre plus the shift (y is up in the outline, the
     * bitmap's first row is its top, hence -dy) */
    FT_Pos cx = (bb.xMin + bb.xMax) / 2, cy = (bb.yMin + bb.yMax) / 2;
    FT_Outline_Translate(o, (FT_Pos)lround((S / 2.0 + aug->dx) * 64.0) - cx, (FT_Pos)lround((S / 2.0 - aug->dy) * 64.0) - cy);
    FT_Bitmap bm;
    memset(&bm, 0, sizeof bm);
    bm.rows = (unsigned)S;
    bm.width = (unsigned)S;
    bm.pitch = S;
    bm.buffer = out;
    bm.num_grays = 256;
    bm.pixel_mode = FT_PIXEL_MODE_GRAY;
    if (FT_Outline_Get_Bitmap(fs->lib, o, &bm))
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: rasterising U+%04X failed", f->file, (unsigned)cp);
    unsigned ink = 0;
    for (int k = 0; k < S * S; k++) ink |= out[k];
    if (!ink) return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: U+%04X draws no ink", f->file, (unsigned)cp);
    return XF_OK;
}
