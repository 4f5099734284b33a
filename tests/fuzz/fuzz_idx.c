/* Fuzz target: the IDX reader (plain and gzipped) on arbitrary bytes. */
#include <stdint.h>
#include "xfer/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_array a;
    if (xf_idx_read_mem(ctx, data, size, "fuzz.idx", &a) == XF_OK) {
        double *d;
        if (xf_array_to_f64(ctx, &a, 0, &d) == XF_OK) xf_free(ctx, d);
        xf_array_free(ctx, &a);
    }
    /* the same bytes as a digits CSV exercise the text path of the gzip source */
    xf_dataset ds;
    if (xf_digits_read_mem(ctx, data, size, "fuzz.csv", &ds) == XF_OK) xf_dataset_free(ctx, &ds);
    xf_ctx_free(ctx);
    return 0;
}
