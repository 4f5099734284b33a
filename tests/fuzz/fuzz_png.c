/* Fuzz target: the image decoders (PNG through libpng, JPEG through libjpeg-turbo) and
 * the conversion to a resized float tensor, on arbitrary bytes. */
#include <stdint.h>
#include "xfer/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_image img;
    if (xf_image_decode_mem(ctx, data, size, "fuzz.img", &img) == XF_OK) {
        xf_ws_t *ws;
        if (xf_ws_create(ctx, &ws) == XF_OK) {
            xf_data_opts o;
            xf_data_opts_default(&o);
            float out[3 * 7 * 5];
            xf_image_to_tensor(ctx, &img, &o, 3, 7, 5, ws, out);
            xf_ws_reset(ws);
            xf_image_to_tensor(ctx, &img, &o, 1, 7, 5, ws, out);
            xf_ws_free(ws);
        }
        xf_image_free(ctx, &img);
    }
    xf_ctx_free(ctx);
    return 0;
}
