/* ONNX models in and out of xfer's engine (include/xfer/nn.h).
 *
 *     xf_graph *g;
 *     if (xf_onnx_import(ctx, "resnet18.onnx", &g) != XF_OK)
 *         fprintf(stderr, "%s\n", xf_errmsg(ctx));  // "resnet18.onnx: node 'x' (op LSTM): unsupported op"
 *     int feat = xf_graph_feature_value(g);           // input of the last Gemm/MatMul
 *     xf_onnx_export(ctx, g, "copy.onnx");            // opset 13, float32 raw_data initializers
 *     xf_graph_free(g);
 *
 * Import reads opsets 1..18 of the default domain (the older forms of BatchNormalization,
 * Add/Mul broadcast, Pad, Reshape, Concat, Upsample; docs/ONNX.md lists them and the
 * operators: LRN, PRelu, ConvTranspose, ... of the classic CNNs). Static shape arithmetic (Constant,
 * Shape, Gather, Unsqueeze, Squeeze, Concat, Cast, Slice, Reshape, Add/Sub/Mul/Div of
 * constants, ...) is folded at import; the batch dimension stays symbolic (a Reshape
 * target taken from Shape() keeps 0 / -1 there). The PyTorch GroupNorm pattern
 * (Reshape -> InstanceNormalization -> Reshape -> Mul -> Add) and opset-18
 * GroupNormalization both become XF_OP_GROUPNORM. Files are untrusted: every size is
 * checked (against overflow and the real data) before allocation, external data must stay
 * inside the model's directory, errors are one line naming the file (and node).
 *
 * Export writes any xf_graph (e.g. one xfer trained) as opset 13 to a temporary file
 * renamed into place; GroupNorm is written as the opset-13 pattern above. */
#ifndef XFER_ONNX_H
#define XFER_ONNX_H
#include "xfer/array.h"
#include "xfer/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads an ONNX model; *out is a new graph (free with xf_graph_free), NULL on failure.
 * External tensor data is resolved relative to the model's directory. */
xf_status xf_onnx_import(xf_ctx_t *ctx, const char *path, xf_graph **out);
/* The same from memory; name is used in messages. External data is refused (no directory). */
xf_status xf_onnx_import_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_graph **out);
/* Reads one serialized TensorProto (the test data of ONNX's backend test suite:
 * test_data_set_0/input_0.pb, output_0.pb) into a new float32 array (integer tensors are
 * converted); decoded and checked as initializers are. Free with xf_array_free. */
xf_status xf_onnx_tensor_read(xf_ctx_t *ctx, const char *path, xf_array *out);
/* Writes g as an ONNX model (opset 13). */
xf_status xf_onnx_export(xf_ctx_t *ctx, const xf_graph *g, const char *path);

#ifdef __cplusplus
}
#endif
#endif
