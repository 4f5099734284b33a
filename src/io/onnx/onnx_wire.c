/* ONNX protobuf plumbing: the protobuf-c allocator bound to an xfer context, and a
 * depth-limited pre-scan of the wire format run before protobuf_c_message_unpack.
 *
 * Why the pre-scan: protobuf-c unpacks nested messages recursively with no depth limit,
 * so a few hundred kilobytes of nested length-delimited AttributeProto.g fields would
 * overflow the stack. The scan walks tags with the message descriptors (so it knows which
 * length-delimited fields are sub-messages) and rejects nesting deeper than
 * XF_ONNX_MAX_DEPTH or broken framing; it allocates nothing. */
#include <string.h>

#include "onnxInt.h"

static void *pb_alloc(void *user, size_t size) { return xf_malloc((xf_ctx_t *)user, size ? size : 1); }
static void pb_free(void *user, void *p) { xf_free((xf_ctx_t *)user, p); }

void xf_onnx_pb_allocator(xf_ctx_t *ctx, ProtobufCAllocator *a) {
    a->alloc = pb_alloc;
    a->free = pb_free;
    a->allocator_data = ctx;
}

/* Reads a base-128 varint; returns bytes used or 0 on truncation / overlong encoding. */
static size_t read_varint(const uint8_t *p, size_t len, uint64_t *v) {
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

int xf_onnx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, int depth) {
    if (depth > XF_ONNX_MAX_DEPTH) return -1;
    size_t pos = 0;
    while (pos < len) {
        uint64_t key;
        size_t n = read_varint(buf + pos, len - pos, &key);
        if (!n) return -1;
        pos += n;
        unsigned wt = (unsigned)(key & 7);
        uint64_t id = key >> 3;
        switch (wt) {
        case 0: {
            uint64_t v;
            n = read_varint(buf + pos, len - pos, &v);
            if (!n) return -1;
            pos += n;
            break;
        }
        case 1:
            if (len - pos < 8) return -1;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) return -1;
            pos += 4;
            break;
        case 2: {
            uint64_t l;
            n = read_varint(buf + pos, len - pos, &l);
            if (!n) return -1;
            pos += n;
            if (l > len - pos) return -1;
            const ProtobufCFieldDescriptor *f =
                (desc && id <= 0xffffffffu) ? protobuf_c_message_descriptor_get_field(desc, (unsigned)id) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (xf_onnx_wire_check((const ProtobufCMessageDescriptor *)f->descriptor, buf + pos, (size_t)l,
                                       depth + 1))
                    return -1;
            }
            pos += (size_t)l;
            break;
        }
        default: /* groups (3, 4) are not used by onnx.proto; 6, 7 are invalid */
            return -1;
        }
    }
    return 0;
}
