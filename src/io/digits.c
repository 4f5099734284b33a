/* The handwritten digits of scikit-learn (the UCI "Optical Recognition of Handwritten
 * Digits" test set as sklearn ships it in datasets/data/digits.csv.gz): every line is
 * 64 pixel counts 0..16 (an 8x8 block, row-major) and the digit 0..9, comma separated.
 *
 * Design: the text is small (~57 kB gzipped, ~500 kB inflated), so it is read whole
 * through the gzip-transparent source with a size cap, counted, then parsed strictly:
 * exactly 65 integer fields per non-empty line, values in range, errors naming the file
 * and line. Pixels are scaled by 1/16 to [0, 1] like every other loader's output. */
#include <string.h>

#include "io/ioInt.h"

#define DIGITS_MAX_BYTES ((size_t)64 << 20)
#define DIGITS_FIELDS 65

static xf_status parse(xf_ctx_t *ctx, const char *name, char *text, size_t len, xf_dataset *out) {
    /* count data lines (non-blank) */
    int64_t n = 0;
    for (const char *p = text; p < text + len;) {
        const char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < e) n++;
        p = e + 1;
    }
    if (n == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no data rows", name);
    xf_status st = xf_dataset_alloc(ctx, out, n, 1, 8, 8, 10);
    if (st) return st;
    int64_t row = 0, line = 0;
    for (const char *p = text; p < text + len;) {
        const char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        line++;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == e) { p = e + 1; continue; }
        int field = 0;
        float *x = out->x + row * 64;
        for (;;) {
            while (q < e && (*q == ' ' || *q == '\t')) q++;
            long v = 0;
            int digits = 0;
            while (q < e && *q >= '0' && *q <= '9' && digits < 6) { v = v * 10 + (*q++ - '0'); digits++; }
            /* sklearn's file has plain integers; accept a ".0" tail as some exports do */
            if (q + 1 < e && q[0] == '.' && q[1] == '0') { q += 2; while (q < e && *q == '0') q++; }
            while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (!digits || (q < e && *q != ','))
                { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: field %d is not a non-negative integer", name, (long long)line, field + 1); goto fail; }
            if (field >= DIGITS_FIELDS)
                { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: more than %d fields", name, (long long)line, DIGITS_FIELDS); goto fail; }
            if (field < 64) {
                if (v > 16) { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: pixel %d is %ld, outside 0..16", name, (long long)line, field + 1, v); goto fail; }
                x[field] = (float)v / 16.0f;
            } else {
                if (v > 9) { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: label %ld outside 0..9", name, (long long)line, v); goto fail; }
                out->y[row] = (int32_t)v;
            }
            field++;
            if (q >= e) break;
            q++; /* the comma */
        }
        if (field != DIGITS_FIELDS)
            { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: %d fields, expected %d (64 pixels and a label)", name, (long long)line, field, DIGITS_FIELDS); goto fail; }
        row++;
        p = e + 1;
    }
    return XF_OK;
fail:
    xf_dataset_free(ctx, out);
    return st;
}

static xf_status read_src(xf_src *s, xf_dataset *out) {
    char *text;
    size_t len;
    xf_status st = xf_src_read_all(s, DIGITS_MAX_BYTES, &text, &len);
    if (st) return st;
    st = parse(s->ctx, s->name, text, len, out);
    xf_free(s->ctx, text);
    return st;
}

xf_status xf_digits_read(xf_ctx_t *ctx, const char *path, xf_dataset *out) {
    memset(out, 0, sizeof *out);
    xf_src s;
    xf_status st = xf_src_open_file(ctx, path ? path : XF_DIGITS_PATH, &s);
    if (st) return st;
    st = read_src(&s, out);
    xf_src_close(&s);
    return st;
}

xf_status xf_digits_read_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_dataset *out) {
    memset(out, 0, sizeof *out);
    xf_src s;
    xf_status st = xf_src_open_mem(ctx, buf, len, name ? name : "<memory>", &s);
    if (st) return st;
    st = read_src(&s, out);
    xf_src_close(&s);
    return st;
}
