/* Image preprocessing: channel conversion, scaling to [0, 1], Pillow-compatible BILINEAR
 * resize with torchvision's Resize(shorter side) + CenterCrop geometry, normalisation.
 * The convention is written out in include/xfer/data.h; this file follows Pillow's
 * Resample.c (precompute_coeffs, bilinear_filter) so that a torchvision pipeline on PIL
 * images and xfer give the same tensors (to Pillow's 8-bit rounding).
 *
 * Design: the resize is separable. Coefficients are computed once per axis, only for
 * the output positions that survive the crop, so crop + resize cost the same as a
 * resize to the crop size. Weights and sums are double, storage float. Scratch comes from
 * the caller's workspace. */
#include <math.h>
#include <string.h>

#include "io/ioInt.h"

void xf_data_opts_default(xf_data_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < 3; i++) o->std[i] = 1.0f;
}

/* Pillow's bilinear_filter: the triangle, support 1. */
static double tri(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow precompute_coeffs for in_size -> out_size, output positions o0 .. o0+on-1.
 * lo[i], cnt[i]: first input index and tap count of output i; k: (on, ksize) weights. */
static int coeff_ksize(int in_size, int out_size) {
    double scale = (double)in_size / out_size;
    double fs = scale < 1.0 ? 1.0 : scale;
    return (int)ceil(fs) * 2 + 1;
}
static void coeffs(int in_size, int out_size, int o0, int on, int ksize, int *lo, int *cnt, double *k) {
    double scale = (double)in_size / out_size;
    double fs = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fs, ss = 1.0 / fs;
    for (int i = 0; i < on; i++) {
        double center = (o0 + i + 0.5) * scale;
        int xmin = (int)(center - support + 0.5); /* C truncation, as Pillow */
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;
        double *kk = k + (size_t)i * ksize, ww = 0;
        for (int x = 0; x < xmax; x++) {
            double wv = tri((x + xmin - center + 0.5) * ss);
            kk[x] = wv;
            ww += wv;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) kk[x] /= ww;
        lo[i] = xmin;
        cnt[i] = xmax;
    }
}

/* Coefficients of both axes for resized (rh, rw) with window [top, top+oh) x
 * [left, left+ow); computed once per image, applied to each channel. */
typedef struct {
    int ksx, ksy;
    int *ilo, *icnt, *jlo, *jcnt;
    double *ik, *jk;
} rcoef;

static void rcoef_fill(rcoef *k, int ih, int iw, int rh, int rw, int top, int left, int oh, int ow) {
    coeffs(iw, rw, left, ow, k->ksx, k->jlo, k->jcnt, k->jk);
    coeffs(ih, rh, top, oh, k->ksy, k->ilo, k->icnt, k->ik);
}

/* src (ih, iw) -> dst (oh, ow) with the coefficients; tmp: ih * ow floats */
static void resize_apply(const rcoef *k, const float *src, int ih, int iw, int oh, int ow, float *dst, float *tmp) {
    /* horizontal pass: every input row, kept columns */
    for (int y = 0; y < ih; y++) {
        const float *srow = src + (size_t)y * iw;
        float *t = tmp + (size_t)y * ow;
        for (int x = 0; x < ow; x++) {
            const double *kk = k->jk + (size_t)x * k->ksx;
            const float *p = srow + k->jlo[x];
            double acc = 0;
            for (int j = 0; j < k->jcnt[x]; j++) acc += p[j] * kk[j];
            t[x] = (float)acc;
        }
    }
    /* vertical pass */
    for (int y = 0; y < oh; y++) {
        const double *kk = k->ik + (size_t)y * k->ksy;
        float *d = dst + (size_t)y * ow;
        const float *t0 = tmp + (size_t)k->ilo[y] * ow;
        for (int x = 0; x < ow; x++) {
            double acc = 0;
            for (int j = 0; j < k->icnt[y]; j++) acc += t0[(size_t)j * ow + x] * kk[j];
            d[x] = (float)acc;
        }
    }
}

/* scratch for rcoef of an (oh, ow) window from ws-like allocator results */
static int rcoef_alloc(rcoef *k, void *(*al)(void *, size_t), void *a, int ih, int iw, int rh, int rw, int oh, int ow) {
    k->ksx = coeff_ksize(iw, rw);
    k->ksy = coeff_ksize(ih, rh);
    k->ilo = al(a, sizeof(int) * 2 * (size_t)oh);
    k->jlo = al(a, sizeof(int) * 2 * (size_t)ow);
    k->ik = al(a, sizeof(double) * (size_t)oh * k->ksy);
    k->jk = al(a, sizeof(double) * (size_t)ow * k->ksx);
    if (!k->ilo || !k->jlo || !k->ik || !k->jk) return 0;
    k->icnt = k->ilo + oh;
    k->jcnt = k->jlo + ow;
    return 1;
}
static void *ws_al(void *ws, size_t n) { return xf_ws_alloc((xf_ws_t *)ws, n); }

xf_status xf_resize_bilinear(xf_ctx_t *ctx, const float *src, int ih, int iw, float *dst, int oh, int ow) {
    if (ih <= 0 || iw <= 0 || oh <= 0 || ow <= 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "resize %dx%d -> %dx%d: sizes must be positive", ih, iw, oh, ow);
    xf_ws_t *ws;
    xf_status st = xf_ws_create(ctx, &ws);
    if (st) return st;
    rcoef k;
    float *tmp = xf_ws_alloc(ws, sizeof(float) * (size_t)ih * ow);
    if (tmp && rcoef_alloc(&k, ws_al, ws, ih, iw, oh, ow, oh, ow)) {
        rcoef_fill(&k, ih, iw, oh, ow, 0, 0, oh, ow);
        resize_apply(&k, src, ih, iw, oh, ow, dst, tmp);
    } else {
        st = XF_ERR_NOMEM;
    }
    xf_ws_free(ws);
    return st;
}

/* Python's round() of an integer / 2: half to even. */
static int half_even(int d) {
    int k = d / 2;
    if (d % 2 == 0) return k;
    return (k % 2 == 0) ? k : k + 1;
}

typedef struct {
    int rh, rw, top, left;
    int identity;
} plan_t;

static xf_status make_plan(xf_ctx_t *ctx, int ih, int iw, const xf_data_opts *o, int h, int w, plan_t *p) {
    memset(p, 0, sizeof *p);
    int r = o ? o->resize : 0;
    if (h == ih && w == iw && r == 0) {
        p->identity = 1;
        p->rh = ih;
        p->rw = iw;
        return XF_OK;
    }
    if (r == XF_RESIZE_STRETCH) {
        p->rh = h;
        p->rw = w;
        return XF_OK;
    }
    if (r < 0) return XF_ERR(ctx, XF_ERR_INVALID, "resize %d is invalid (use > 0, 0 or XF_RESIZE_STRETCH)", r);
    if (r == 0) r = h > w ? h : w;
    /* torchvision _compute_resized_output_size */
    int shrt = iw <= ih ? iw : ih, lng = iw <= ih ? ih : iw;
    int64_t nl = (int64_t)((double)((int64_t)r * lng) / shrt);
    if (nl > INT32_MAX / 2) return XF_ERR(ctx, XF_ERR_INVALID, "resize %d of a %dx%d image is too large", r, ih, iw);
    if (iw <= ih) { p->rw = r; p->rh = (int)nl; }
    else { p->rh = r; p->rw = (int)nl; }
    if (p->rh < h || p->rw < w)
        return XF_ERR(ctx, XF_ERR_INVALID, "resize %d makes a %dx%d image %dx%d, smaller than the %dx%d crop", r, ih, iw, p->rh,
                      p->rw, h, w);
    p->top = half_even(p->rh - h);
    p->left = half_even(p->rw - w);
    return XF_OK;
}

/* planes (pc, ih, iw) -> dst (c, h, w); pc == 1 with c == 3 resamples once and copies
 * (gray -> RGB), otherwise pc == c. */
static xf_status finish(xf_ctx_t *ctx, const float *planes, int pc, int c, int ih, int iw, const xf_data_opts *o, int h, int w,
                        xf_ws_t *ws, float *dst) {
    plan_t p;
    xf_status st = make_plan(ctx, ih, iw, o, h, w, &p);
    if (st) return st;
    size_t plane = (size_t)h * w;
    if (p.identity) {
        memcpy(dst, planes, sizeof(float) * plane * pc);
    } else {
        rcoef k;
        float *tmp = xf_ws_alloc(ws, sizeof(float) * (size_t)ih * w);
        if (!tmp || !rcoef_alloc(&k, ws_al, ws, ih, iw, p.rh, p.rw, h, w)) return XF_ERR_NOMEM;
        rcoef_fill(&k, ih, iw, p.rh, p.rw, p.top, p.left, h, w);
        for (int ch = 0; ch < pc; ch++) resize_apply(&k, planes + (size_t)ch * ih * iw, ih, iw, h, w, dst + ch * plane, tmp);
    }
    for (int ch = pc; ch < c; ch++) memcpy(dst + ch * plane, dst, sizeof(float) * plane);
    for (int ch = 0; ch < c; ch++) {
        int mi = (c == 1 || ch >= 3) ? 0 : ch; /* 1 channel, or channels past 3: entry 0 */
        float m = o ? o->mean[mi] : 0.0f, sd = o ? o->std[mi] : 1.0f;
        if (m == 0.0f && sd == 1.0f) continue;
        float *d = dst + ch * plane;
        for (size_t i = 0; i < plane; i++) d[i] = (d[i] - m) / sd;
    }
    return XF_OK;
}

static xf_status check_out(xf_ctx_t *ctx, const xf_data_opts *o, int c, int h, int w) {
    if (c != 1 && c != 3 && !(o && o->channels == 0)) return XF_ERR(ctx, XF_ERR_INVALID, "output channels %d (use 1 or 3)", c);
    if (h <= 0 || w <= 0) return XF_ERR(ctx, XF_ERR_INVALID, "output size %dx%d is invalid", h, w);
    if (o)
        for (int i = 0; i < 3; i++)
            if (!(o->std[i] > 0.0f) || !isfinite(o->mean[i]))
                return XF_ERR(ctx, XF_ERR_INVALID, "normalisation: std[%d] = %g must be > 0 and mean finite", i, (double)o->std[i]);
    return XF_OK;
}

xf_status xf_image_to_tensor(xf_ctx_t *ctx, const xf_image *img, const xf_data_opts *o, int c, int h, int w, xf_ws_t *ws,
                             float *dst) {
    xf_status st = check_out(ctx, o, c, h, w);
    if (st) return st;
    if ((img->c != 1 && img->c != 3) || (c != 1 && c != 3))
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "image with %d channels to %d channels", img->c, c);
    int ih = img->h, iw = img->w;
    int pc = img->c == 1 ? 1 : c; /* gray sources are resampled once, copied to RGB at the end */
    size_t np = (size_t)ih * iw;
    float *planes = xf_ws_alloc(ws, sizeof(float) * np * pc); /* (pc, ih, iw) */
    if (!planes) return XF_ERR_NOMEM;
    if (img->depth == 8) {
        const unsigned char *s = img->data;
        /* a division, not a multiplication by 1/255: the float torchvision's ToTensor gives */
        if (img->c == 3 && c == 1) {
            for (size_t i = 0; i < np; i++) {
                const unsigned char *q = s + 3 * i;
                unsigned L = ((unsigned)q[0] * 19595u + (unsigned)q[1] * 38470u + (unsigned)q[2] * 7471u + 0x8000u) >> 16;
                planes[i] = (float)L / 255.0f;
            }
        } else {
            for (int ch = 0; ch < pc; ch++) {
                float *d = planes + ch * np;
                for (size_t i = 0; i < np; i++) d[i] = (float)s[i * img->c + ch] / 255.0f;
            }
        }
    } else if (img->depth == 16) {
        const uint16_t *s = img->data;
        const double sc = 1.0 / 65535.0;
        if (img->c == 3 && c == 1) {
            for (size_t i = 0; i < np; i++)
                planes[i] = (float)((0.299 * s[3 * i] + 0.587 * s[3 * i + 1] + 0.114 * s[3 * i + 2]) * sc);
        } else {
            for (int ch = 0; ch < pc; ch++) {
                float *d = planes + ch * np;
                for (size_t i = 0; i < np; i++) d[i] = (float)(s[i * img->c + ch] * sc);
            }
        }
    } else {
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "image depth %d bits", img->depth);
    }
    return finish(ctx, planes, pc, c, ih, iw, o, h, w, ws, dst);
}

xf_status xf_planes_to_tensor(xf_ctx_t *ctx, const float *src, int sc, int sh, int sw, const xf_data_opts *o, int c, int h,
                              int w, xf_ws_t *ws, float *dst) {
    xf_status st = check_out(ctx, o, c, h, w);
    if (st) return st;
    size_t np = (size_t)sh * sw;
    if (sc == c || (sc == 1 && c == 3)) return finish(ctx, src, sc, c, sh, sw, o, h, w, ws, dst);
    if (sc != 3 || c != 1) return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "cannot convert %d channels to %d", sc, c);
    float *pl = xf_ws_alloc(ws, sizeof(float) * np);
    if (!pl) return XF_ERR_NOMEM;
    for (size_t i = 0; i < np; i++) pl[i] = (float)(0.299 * src[i] + 0.587 * src[np + i] + 0.114 * src[2 * np + i]);
    return finish(ctx, pl, 1, 1, sh, sw, o, h, w, ws, dst);
}
