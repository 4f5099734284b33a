/* Fuzz target: the .npy parser on arbitrary bytes. */
#include <stdint.h>
#include "xfer/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_array a;
    if (xf_npy_read_mem(ctx, data, size, "fuzz.npy", &a) == XF_OK) {
        /* touch every element through the converters */
        double *d;
        if (xf_array_to_f64(ctx, &a, 0, &d) == XF_OK) xf_free(ctx, d);
        xf_array_free(ctx, &a);
    }
    xf_ctx_free(ctx);
    return 0;
}
