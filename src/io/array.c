/* xf_array: allocation, element access and checked conversions. */
#include <math.h>
#include <string.h>

#include "xfer/array.h"

size_t xf_dtype_size(xf_dtype dt) {
    switch (dt) {
    case XF_DT_BOOL: case XF_DT_I8: case XF_DT_U8: return 1;
    case XF_DT_I16: case XF_DT_U16: case XF_DT_F16: return 2;
    case XF_DT_I32: case XF_DT_U32: case XF_DT_F32: return 4;
    case XF_DT_I64: case XF_DT_U64: case XF_DT_F64: return 8;
    }
    return 0;
}

const char *xf_dtype_name(xf_dtype dt) {
    static const char *names[] = {"bool", "int8", "int16", "int32", "int64", "uint8",
                                  "uint16", "uint32", "uint64", "float16", "float32", "float64"};
    return (unsigned)dt < sizeof names / sizeof *names ? names[dt] : "?";
}

int xf_dtype_is_float(xf_dtype dt) { return dt == XF_DT_F16 || dt == XF_DT_F32 || dt == XF_DT_F64; }

xf_status xf_array_alloc(xf_ctx_t *ctx, xf_array *a, xf_dtype dt, int ndim, const int64_t *shape) {
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > XF_ARRAY_MAXDIM)
        return XF_ERR(ctx, XF_ERR_INVALID, "array rank %d outside 0..%d", ndim, XF_ARRAY_MAXDIM);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return XF_ERR(ctx, XF_ERR_INVALID, "negative dimension %lld", (long long)shape[i]);
        if (!xf_mul_ok(n, (size_t)shape[i], &n)) return XF_ERR(ctx, XF_ERR_NOMEM, "array shape overflows");
    }
    size_t bytes;
    if (!xf_mul_ok(n, xf_dtype_size(dt), &bytes) || bytes > (size_t)INT64_MAX)
        return XF_ERR(ctx, XF_ERR_NOMEM, "array too large");
    a->data = xf_calloc(ctx, 1, bytes ? bytes : 1);
    if (!a->data) return XF_ERR_NOMEM;
    a->dtype = dt;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->size = (int64_t)n;
    return XF_OK;
}

void xf_array_free(xf_ctx_t *ctx, xf_array *a) {
    if (!a) return;
    xf_free(ctx, a->data);
    memset(a, 0, sizeof *a);
}

float xf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t xf_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 255) return sign | 0x7c00 | (man ? 0x200 : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 31) return sign | 0x7c00;
    if (e <= 0) {
        if (e < -10) return sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: fine */
    return sign | (uint16_t)half;
}

double xf_array_get_f64(const xf_array *a, int64_t i) {
    const void *d = a->data;
    switch (a->dtype) {
    case XF_DT_BOOL: return ((const uint8_t *)d)[i] ? 1.0 : 0.0;
    case XF_DT_I8: return ((const int8_t *)d)[i];
    case XF_DT_I16: return ((const int16_t *)d)[i];
    case XF_DT_I32: return ((const int32_t *)d)[i];
    case XF_DT_I64: return (double)((const int64_t *)d)[i];
    case XF_DT_U8: return ((const uint8_t *)d)[i];
    case XF_DT_U16: return ((const uint16_t *)d)[i];
    case XF_DT_U32: return ((const uint32_t *)d)[i];
    case XF_DT_U64: return (double)((const uint64_t *)d)[i];
    case XF_DT_F16: return xf_f16_to_f32(((const uint16_t *)d)[i]);
    case XF_DT_F32: return ((const float *)d)[i];
    case XF_DT_F64: return ((const double *)d)[i];
    }
    return NAN;
}

static xf_status nonfinite(xf_ctx_t *ctx, const xf_array *a, int64_t i) {
    /* name the element by its index tuple: "row 3, column 7" for 2-D */
    if (a->ndim == 2)
        return XF_ERR(ctx, XF_ERR_NUMERIC, "non-finite value (%g) at row %lld, column %lld", xf_array_get_f64(a, i),
                      (long long)(i / (a->shape[1] ? a->shape[1] : 1)), (long long)(i % (a->shape[1] ? a->shape[1] : 1)));
    return XF_ERR(ctx, XF_ERR_NUMERIC, "non-finite value (%g) at flat index %lld", xf_array_get_f64(a, i), (long long)i);
}

xf_status xf_array_to_f32(xf_ctx_t *ctx, const xf_array *a, int check_finite, float **out) {
    *out = NULL;
    float *p = xf_malloc(ctx, (size_t)(a->size ? a->size : 1) * sizeof(float));
    if (!p) return XF_ERR_NOMEM;
    if (a->dtype == XF_DT_F32) memcpy(p, a->data, (size_t)a->size * sizeof(float));
    else
        for (int64_t i = 0; i < a->size; i++) p[i] = (float)xf_array_get_f64(a, i);
    if (check_finite)
        for (int64_t i = 0; i < a->size; i++)
            if (!isfinite(p[i])) {
                xf_free(ctx, p);
                /* a float64 value may overflow float32: say so rather than "non-finite" */
                if (isfinite(xf_array_get_f64(a, i)))
                    return XF_ERR(ctx, XF_ERR_NUMERIC, "value %g at flat index %lld overflows float32",
                                  xf_array_get_f64(a, i), (long long)i);
                return nonfinite(ctx, a, i);
            }
    *out = p;
    return XF_OK;
}

xf_status xf_array_to_f64(xf_ctx_t *ctx, const xf_array *a, int check_finite, double **out) {
    *out = NULL;
    double *p = xf_malloc(ctx, (size_t)(a->size ? a->size : 1) * sizeof(double));
    if (!p) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < a->size; i++) p[i] = xf_array_get_f64(a, i);
    if (check_finite)
        for (int64_t i = 0; i < a->size; i++)
            if (!isfinite(p[i])) {
                xf_free(ctx, p);
                return nonfinite(ctx, a, i);
            }
    *out = p;
    return XF_OK;
}

xf_status xf_array_to_i64(xf_ctx_t *ctx, const xf_array *a, int64_t **out) {
    *out = NULL;
    int64_t *p = xf_malloc(ctx, (size_t)(a->size ? a->size : 1) * sizeof(int64_t));
    if (!p) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < a->size; i++) {
        switch (a->dtype) {
        case XF_DT_I64: p[i] = ((const int64_t *)a->data)[i]; break;
        case XF_DT_U64: {
            uint64_t v = ((const uint64_t *)a->data)[i];
            if (v > (uint64_t)INT64_MAX) {
                xf_free(ctx, p);
                return XF_ERR(ctx, XF_ERR_INVALID, "value %llu at index %lld does not fit int64", (unsigned long long)v, (long long)i);
            }
            p[i] = (int64_t)v;
            break;
        }
        default: {
            double v = xf_array_get_f64(a, i);
            if (!isfinite(v) || v != floor(v) || fabs(v) > 9.007199254740992e15) {
                xf_free(ctx, p);
                return XF_ERR(ctx, XF_ERR_INVALID, "value %g at index %lld is not an integer label", v, (long long)i);
            }
            p[i] = (int64_t)v;
        }
        }
    }
    *out = p;
    return XF_OK;
}
