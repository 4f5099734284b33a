/* .npy reading and writing (NumPy format versions 1.0, 2.0 and 3.0).
 *
 * Reading accepts bool, int8..64, uint8..64, float16/32/64, little or big endian, C or
 * Fortran order; the result is always native-endian, C order. Files are untrusted: the
 * header is parsed strictly, the shape product is checked for overflow and against the
 * file's real size before any data buffer is allocated. Errors name the file.
 *
 * Writing uses version 1.0 (2.0 when the header needs it), little endian, C order,
 * to a temporary file renamed into place. */
#ifndef XFER_NPY_H
#define XFER_NPY_H
#include "xfer/array.h"

#ifdef __cplusplus
extern "C" {
#endif

xf_status xf_npy_read(xf_ctx_t *ctx, const char *path, xf_array *out);
/* Parse from memory; name is used in messages. */
xf_status xf_npy_read_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_array *out);
xf_status xf_npy_write(xf_ctx_t *ctx, const char *path, const xf_array *a);
/* Convenience: write a float32 / float64 / int64 buffer of the given shape. */
xf_status xf_npy_write_raw(xf_ctx_t *ctx, const char *path, xf_dtype dt, int ndim, const int64_t *shape,
                           const void *data);

#ifdef __cplusplus
}
#endif
#endif
