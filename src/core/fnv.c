/* FNV-1a 64 (Fowler, Noll, Vo): offset 0xcbf29ce484222325, prime 0x100000001b3. */
#include "xfer/core.h"

uint64_t xf_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t xf_fnv1a_str(const char *s) {
    uint64_t h = XF_FNV1A_OFFSET;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}
