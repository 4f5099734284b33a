/* Private helpers shared by the ONNX importer and exporter. */
#ifndef XFER_ONNX_INT_H
#define XFER_ONNX_INT_H
#include <protobuf-c/protobuf-c.h>

#include "onnx/onnx.pb-c.h"
#include "xfer/onnx.h"

/* protobuf-c allocations routed through the context (fault injection, accounting). */
void xf_onnx_pb_allocator(xf_ctx_t *ctx, ProtobufCAllocator *a);

/* Nesting depth of sub-messages that xf_onnx_wire_check accepts: protobuf-c unpacks
 * recursively, so a hostile file with deeply nested GraphProto attributes could otherwise
 * exhaust the stack. Real models nest a handful of levels (If/Loop bodies). */
#define XF_ONNX_MAX_DEPTH 24

/* Walks the wire format of a message of type desc without allocating; returns 0 when the
 * nesting stays within XF_ONNX_MAX_DEPTH and the framing is well formed, -1 otherwise. */
int xf_onnx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, int depth);

#endif
