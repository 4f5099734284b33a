/* Fuzz target: the bank description (bank.json) reader, then every accessor. */
#include <stdint.h>
#include <string.h>
#include "xfer/bank.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_bank_t *b;
    if (xf_bank_open_mem(ctx, "fuzzbank", data, size, &b) == XF_OK) {
        size_t n = 0;
        for (int64_t i = 0; i < xf_bank_count(b); i++) {
            const xf_bank_model *m = xf_bank_model_at(b, i);
            n += strlen(m->name) + strlen(m->path) + strlen(m->sha256) + strlen(m->feature_tensor);
            n += (size_t)(m->channels * m->height * m->width > 0);
            const char *x = xf_bank_extra_str(b, i, "kind");
            if (x) n += strlen(x);
            if (xf_bank_find(b, m->name) > i) n = 0; /* names are unique: the first is found */
        }
        (void)n;
        xf_bank_free(b);
    }
    xf_ctx_free(ctx);
    return 0;
}
