/* Fuzz target: the adapter store reader (docs/FORMATS.md "Adapter store"), then every
 * set it accepts rebuilt as a network. The checksum makes random bytes fail early; the
 * seed corpus has a valid store whose checksum the mutator keeps breaking, and the
 * reader's checks after it are reached by seeds written with a correct checksum. */
#include <stdint.h>
#include "xfer/experts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_adapter_store_t *s;
    if (xf_adapter_store_read_mem(ctx, data, size, "fuzz.xfad", &s) == XF_OK) {
        for (int i = -1; i < xf_adapter_store_count(s) && i < 4; i++) {
            xf_graph *g;
            if (xf_adapter_store_graph(ctx, s, i, &g, NULL) == XF_OK) xf_graph_free(g);
        }
        xf_adapter_store_free(s);
    }
    xf_ctx_free(ctx);
    return 0;
}
