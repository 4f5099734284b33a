/* Fuzz target: a model from arbitrary bytes that imports is then run, as every command
 * does with a model it accepts: planned and run forward for a batch of 2 in inference
 * mode, then in training mode with the softmax cross-entropy on its output and a backward
 * pass. The importer's checks are fuzz_onnx's subject; this one is the executor's (shape
 * planning, every kernel's forward and backward on the attribute combinations the
 * mutator invents). Models whose values would need more than 2^20 floats at batch 2 are
 * skipped so the fuzzer spends its time on many small graphs, not on a few big ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/nn.h"
#include "xfer/onnx.h"

#define BATCH 2
#define MAX_FLOATS (1 << 20)

/* 1 if every value's shape is known and the sum over values fits MAX_FLOATS */
static int small_enough(const xf_graph *g) {
    double total = 0;
    for (int v = 0; v < g->n_values; v++) {
        const xf_value *x = &g->values[v];
        double n = 1;
        for (int d = 0; d < x->ndim; d++) {
            int64_t s = x->shape[d] == -1 ? BATCH : x->shape[d];
            if (s < 0) return 0;
            n *= (double)s;
        }
        total += n;
        if (total > MAX_FLOATS) return 0;
    }
    return 1;
}

static void run(xf_ctx_t *ctx, xf_graph *g, xf_net_mode mode) {
    const xf_value *in = &g->values[g->input];
    double n = 1;
    for (int d = 0; d < in->ndim; d++) n *= (double)(in->shape[d] == -1 ? BATCH : in->shape[d]);
    if (in->ndim < 1 || in->shape[0] != -1 || n < 1 || n > MAX_FLOATS) return;
    float *x = malloc((size_t)n * sizeof(float));
    if (!x) return;
    for (size_t i = 0; i < (size_t)n; i++) x[i] = (float)((int)(i * 2654435761u % 2001) - 1000) / 500.0f; /* [-2, 2] */
    xf_net_t *net;
    if (xf_net_create(ctx, g, BATCH, mode, &net) == XF_OK) {
        if (xf_net_forward(net, x, BATCH) == XF_OK && mode == XF_NET_TRAIN) {
            int out = xf_graph_output_value(g);
            int nd = 0;
            int64_t shape[XF_NN_MAXDIM];
            if (out >= 0 && xf_net_shape(net, out, &nd, shape) == XF_OK && nd == 2 && shape[1] >= 1) {
                const int32_t labels[BATCH] = {0, (int32_t)(shape[1] - 1)};
                float loss;
                int64_t correct;
                if (xf_net_loss(net, out, labels, &loss, &correct) == XF_OK) xf_net_backward(net);
            }
        }
        xf_net_free(net);
    }
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_ctx_set_threads(ctx, 1);
    xf_graph *g = NULL;
    if (xf_onnx_import_mem(ctx, data, size, "fuzz.onnx", &g) == XF_OK) {
        if (g->input >= 0 && g->input < g->n_values && small_enough(g)) {
            run(ctx, g, XF_NET_INFER);
            run(ctx, g, XF_NET_TRAIN);
        }
        xf_graph_free(g);
    }
    xf_ctx_free(ctx);
    return 0;
}
