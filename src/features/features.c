/* Network-free feature extractors behind `xfer features` (include/xfer/features.h): raw
 * pixels, average pooling, PCA of the images, random ReLU projections. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/features.h"
#include "xfer/linalg.h"

static xf_status parse_k(xf_ctx_t *ctx, const char *spec, const char *arg, int64_t lo, int64_t hi, int64_t *k) {
    char *end;
    long long v = arg ? strtoll(arg, &end, 10) : 0;
    if (!arg || end == arg || *end || v < lo || v > hi)
        return XF_ERR(ctx, XF_ERR_INVALID, "feature kind '%s': size must be an integer in %lld..%lld", spec,
                      (long long)lo, (long long)hi);
    *k = v;
    return XF_OK;
}

xf_status xf_features_check(xf_ctx_t *ctx, const char *spec) {
    if (!spec) return XF_ERR(ctx, XF_ERR_INVALID, "feature kind is NULL");
    const char *colon = strchr(spec, ':');
    size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
    int64_t k;
    if (kl == 3 && !strncmp(spec, "raw", 3) && !colon) return XF_OK;
    if (kl == 4 && !strncmp(spec, "pool", 4)) return parse_k(ctx, spec, arg, 1, 65536, &k);
    if (kl == 3 && !strncmp(spec, "pca", 3)) return parse_k(ctx, spec, arg, 1, 1 << 20, &k);
    if (kl == 8 && !strncmp(spec, "randproj", 8)) return parse_k(ctx, spec, arg, 1, 1 << 16, &k);
    return XF_ERR(ctx, XF_ERR_INVALID, "unknown feature kind '%s' (raw, pool:S, pca:K, randproj:K)", spec);
}

xf_status xf_features_extract(xf_ctx_t *ctx, const char *spec, const float *x, int64_t N, int64_t C, int64_t H,
                               int64_t W, uint64_t seed, float **out, int64_t *dim) {
    *out = NULL;
    *dim = 0;
    const int64_t P = C * H * W;
    if (N < 1 || P < 1) return XF_ERR(ctx, XF_ERR_INVALID, "no images to extract features from");
    const char *colon = strchr(spec, ':');
    size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
    int64_t k;
    xf_status st;
    if (kl == 3 && !strncmp(spec, "raw", 3)) {
        float *f = xf_malloc(ctx, sizeof *f * (size_t)(N * P));
        if (!f) return XF_ERR_NOMEM;
        memcpy(f, x, sizeof *f * (size_t)(N * P));
        *out = f;
        *dim = P;
        return XF_OK;
    }
    if (kl == 4 && !strncmp(spec, "pool", 4)) {
        if ((st = parse_k(ctx, spec, arg, 1, H < W ? H : W, &k))) return st;
        /* cell (a, b) averages rows [a*H/k, (a+1)*H/k) and the matching columns */
        float *f = xf_malloc(ctx, sizeof *f * (size_t)(N * C * k * k)); // (N, C, k, k)
        if (!f) return XF_ERR_NOMEM;
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t a = 0; a < k; a++)
                    for (int64_t b = 0; b < k; b++) {
                        int64_t r0 = a * H / k, r1 = (a + 1) * H / k, c0 = b * W / k, c1 = (b + 1) * W / k;
                        double s = 0;
                        for (int64_t r = r0; r < r1; r++)
                            for (int64_t q = c0; q < c1; q++) s += x[((n * C + c) * H + r) * W + q];
                        f[((n * C + c) * k + a) * k + b] = (float)(s / (double)((r1 - r0) * (c1 - c0)));
                    }
        *out = f;
        *dim = C * k * k;
        return XF_OK;
    }
    if (kl == 3 && !strncmp(spec, "pca", 3)) {
        if ((st = parse_k(ctx, spec, arg, 1, 1 << 20, &k))) return st;
        xf_ws_t *ws;
        if ((st = xf_ws_create(ctx, &ws))) return st;
        xf_pca_opts o;
        xf_pca_opts_default(&o);
        o.k = k;
        double *sc;
        int64_t kk;
        st = xf_la_pca(ws, x, N, P, P, &o, &sc, &kk, NULL);
        float *f = st ? NULL : xf_malloc(ctx, sizeof *f * (size_t)(N * kk)); // (N, kk)
        if (!st && !f) st = XF_ERR_NOMEM;
        if (!st) {
            for (int64_t i = 0; i < N * kk; i++) f[i] = (float)sc[i];
            *out = f;
            *dim = kk;
        }
        xf_ws_free(ws);
        return st;
    }
    if (kl == 8 && !strncmp(spec, "randproj", 8)) {
        if ((st = parse_k(ctx, spec, arg, 1, 1 << 16, &k))) return st;
        float *Wm = xf_malloc(ctx, sizeof *Wm * (size_t)(P * k)); // (P, k)
        float *f = xf_malloc(ctx, sizeof *f * (size_t)(N * k));  // (N, k)
        if (!Wm || !f) {
            xf_free(ctx, Wm);
            xf_free(ctx, f);
            return XF_ERR_NOMEM;
        }
        xf_rng r;
        xf_rng_seed(&r, seed);
        const double sc = 1.0 / sqrt((double)P);
        for (int64_t i = 0; i < P * k; i++) Wm[i] = (float)(xf_rng_normal(&r) * sc);
        xf_la_sgemm(0, 0, N, k, P, 1.0f, x, P, Wm, k, 0.0f, f, k);
        for (int64_t i = 0; i < N * k; i++) f[i] = f[i] > 0 ? f[i] : 0;
        xf_free(ctx, Wm);
        *out = f;
        *dim = k;
        return XF_OK;
    }
    return XF_ERR(ctx, XF_ERR_INVALID, "unknown feature kind '%s' (raw, pool:S, pca:K, randproj:K)", spec);
}
