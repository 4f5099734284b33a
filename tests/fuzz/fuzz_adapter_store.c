/* Fuzz target: the adapter store reader (docs/FORMATS.md "Adapter store"), then every
 * set it accepts rebuilt as a network. The trailing FNV-1a checksum would stop almost
 * every mutation at the first check, so each input is read twice: as given (the checksum
 * test itself) and with its last 8 bytes replaced by the right checksum of the rest, which
 * lets the mutator reach the header, backbone, tensor-table and set checks behind it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "xfer/experts.h"

static void read_store(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return;
    xf_adapter_store_t *s;
    if (xf_adapter_store_read_mem(ctx, data, size, "fuzz.xfad", &s) == XF_OK) {
        for (int i = -1; i < xf_adapter_store_count(s) && i < 4; i++) {
            xf_graph *g;
            if (xf_adapter_store_graph(ctx, s, i, &g, NULL) == XF_OK) xf_graph_free(g);
        }
        xf_adapter_store_free(s);
    }
    xf_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_store(data, size);
    if (size < 16) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint64_t h = xf_fnv1a(XF_FNV1A_OFFSET, fixed, size - 8); /* the store's trailer */
    memcpy(fixed + size - 8, &h, 8); /* the store is little-endian, as is every target xfer builds for */
    read_store(fixed, size);
    free(fixed);
    return 0;
}
