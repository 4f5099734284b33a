/* xf_dataset: allocation, class names, subsets. A dataset owns one float buffer
 * (N, C, H, W), one label buffer (N) and k separately allocated class-name strings. */
#include <stdio.h>
#include <string.h>

#include "io/ioInt.h"

void xf_dataset_free(xf_ctx_t *ctx, xf_dataset *ds) {
    if (!ds) return;
    if (ds->classes)
        for (int i = 0; i < ds->k; i++) xf_free(ctx, ds->classes[i]);
    xf_free(ctx, ds->classes);
    xf_free(ctx, ds->x);
    xf_free(ctx, ds->y);
    memset(ds, 0, sizeof *ds);
}

xf_status xf_dataset_alloc(xf_ctx_t *ctx, xf_dataset *ds, int64_t n, int c, int h, int w, int k) {
    memset(ds, 0, sizeof *ds);
    if (n < 0 || c <= 0 || h <= 0 || w <= 0 || k < 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "dataset shape (%lld, %d, %d, %d) with %d classes is invalid", (long long)n, c, h, w, k);
    size_t per, total;
    if (!xf_mul_ok((size_t)c, (size_t)h, &per) || !xf_mul_ok(per, (size_t)w, &per) || !xf_mul_ok(per, (size_t)n, &total) ||
        !xf_mul_ok(total, sizeof(float), &total))
        return XF_ERR(ctx, XF_ERR_NOMEM, "dataset (%lld, %d, %d, %d) is too large", (long long)n, c, h, w);
    ds->x = xf_calloc(ctx, 1, total ? total : 1);
    ds->y = xf_calloc(ctx, n ? (size_t)n : 1, sizeof(int32_t));
    ds->classes = xf_calloc(ctx, k ? (size_t)k : 1, sizeof(char *));
    if (!ds->x || !ds->y || !ds->classes) {
        xf_dataset_free(ctx, ds);
        return XF_ERR_NOMEM;
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    for (int i = 0; i < k; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        ds->classes[i] = xf_strdup(ctx, buf);
        ds->k = i + 1;
        if (!ds->classes[i]) {
            xf_dataset_free(ctx, ds);
            return XF_ERR_NOMEM;
        }
    }
    ds->k = k;
    return XF_OK;
}

xf_status xf_dataset_set_class(xf_ctx_t *ctx, xf_dataset *ds, int i, const char *name) {
    if (i < 0 || i >= ds->k || !name) return XF_ERR(ctx, XF_ERR_INVALID, "class index %d outside 0..%d", i, ds->k - 1);
    char *d = xf_strdup(ctx, name);
    if (!d) return XF_ERR_NOMEM;
    xf_free(ctx, ds->classes[i]);
    ds->classes[i] = d;
    return XF_OK;
}

xf_status xf_dataset_subset(xf_ctx_t *ctx, const xf_dataset *src, const int64_t *idx, int64_t m, xf_dataset *out) {
    memset(out, 0, sizeof *out);
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return XF_ERR(ctx, XF_ERR_INVALID, "subset index %lld outside 0..%lld", (long long)idx[i], (long long)src->n - 1);
    xf_status st = xf_dataset_alloc(ctx, out, m, src->c, src->h, src->w, src->k);
    if (st) return st;
    size_t per = (size_t)src->c * src->h * src->w;
    for (int64_t i = 0; i < m; i++) {
        memcpy(out->x + (size_t)i * per, src->x + (size_t)idx[i] * per, per * sizeof(float));
        out->y[i] = src->y[idx[i]];
    }
    for (int j = 0; j < src->k; j++) {
        st = xf_dataset_set_class(ctx, out, j, src->classes[j]);
        if (st) {
            xf_dataset_free(ctx, out);
            return st;
        }
    }
    return XF_OK;
}
