/* Fuzz target: the label hierarchy parser, then every query on what it accepts. */
#include <stdint.h>
#include "xfer/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_hierarchy_t *h;
    if (xf_hierarchy_parse_mem(ctx, data, size, "fuzz.tsv", &h) == XF_OK) {
        int64_t n = xf_hierarchy_count(h), anc[8];
        for (int64_t i = 0; i < n && i < 64; i++) {
            int64_t *lv, nl;
            const int64_t *kids;
            if (xf_hierarchy_leaves(ctx, h, i, &lv, &nl) == XF_OK) xf_free(ctx, lv);
            xf_hierarchy_children(h, i, &kids);
            xf_hierarchy_ancestors(h, i, anc, 8);
            xf_hierarchy_find(h, xf_hierarchy_name(h, i));
        }
        xf_hierarchy_free(h);
    }
    xf_ctx_free(ctx);
    return 0;
}
