/* Fuzz target: the ONNX importer (protobuf pre-scan, unpack, tensor loading, folding,
 * pattern matching, shape checks) on arbitrary bytes; on success the graph is exported
 * to memory-backed temp file and re-imported, so the exporter sees fuzzed graphs too. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "xfer/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_graph *g = NULL;
    if (xf_onnx_import_mem(ctx, data, size, "fuzz.onnx", &g) == XF_OK) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/xf_fuzz_onnx_%d.onnx", (int)getpid());
        if (xf_onnx_export(ctx, g, path) == XF_OK) {
            xf_graph *g2 = NULL;
            if (xf_onnx_import(ctx, path, &g2) == XF_OK) xf_graph_free(g2);
            unlink(path);
        }
        xf_graph_free(g);
    }
    xf_ctx_free(ctx);
    return 0;
}
