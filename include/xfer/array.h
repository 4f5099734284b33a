/* xf_array: an owned n-dimensional array of one dtype, always C-ordered in memory,
 * as read from or written to .npy files. Converters give float32 / float64 / int64
 * copies with checks (NaN, integrality). */
#ifndef XFER_ARRAY_H
#define XFER_ARRAY_H
#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XF_ARRAY_MAXDIM 8

typedef enum xf_dtype {
    XF_DT_BOOL = 0, XF_DT_I8, XF_DT_I16, XF_DT_I32, XF_DT_I64,
    XF_DT_U8, XF_DT_U16, XF_DT_U32, XF_DT_U64,
    XF_DT_F16, XF_DT_F32, XF_DT_F64
} xf_dtype;

size_t xf_dtype_size(xf_dtype dt);
const char *xf_dtype_name(xf_dtype dt); /* numpy's name: "float32", "uint8", ... */
int xf_dtype_is_float(xf_dtype dt);

typedef struct xf_array {
    xf_dtype dtype;
    int ndim;
    int64_t shape[XF_ARRAY_MAXDIM];
    void *data;    /* owned; C order; NULL when empty */
    int64_t size;  /* product of shape */
} xf_array;

/* Allocate a zeroed array. ndim 0 is a scalar (size 1). */
xf_status xf_array_alloc(xf_ctx_t *ctx, xf_array *a, xf_dtype dt, int ndim, const int64_t *shape);
void xf_array_free(xf_ctx_t *ctx, xf_array *a);

/* Element i (flat, C order) as double / int64; no bounds checks. */
double xf_array_get_f64(const xf_array *a, int64_t i);

/* Copies converted to a new buffer owned by the caller (free with xf_free).
 * to_f32 / to_f64 fail with XF_ERR_NUMERIC naming the first non-finite element when
 * check_finite is set. to_i64 accepts integer and bool dtypes, and float dtypes whose
 * values are all integral (else XF_ERR_INVALID naming the element). */
xf_status xf_array_to_f32(xf_ctx_t *ctx, const xf_array *a, int check_finite, float **out);
xf_status xf_array_to_f64(xf_ctx_t *ctx, const xf_array *a, int check_finite, double **out);
xf_status xf_array_to_i64(xf_ctx_t *ctx, const xf_array *a, int64_t **out);

/* IEEE half <-> single. */
float xf_f16_to_f32(uint16_t h);
uint16_t xf_f32_to_f16(float f);

#ifdef __cplusplus
}
#endif
#endif
