/* Fuzz target: the corpus description (corpus.json) parser, then the report it fills. */
#include <stdint.h>
#include <string.h>
#include "xfer/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_corpus_report r;
    if (xf_corpus_info_mem(ctx, data, size, "fuzz.json", &r) == XF_OK) {
        /* every string the report holds is terminated */
        size_t n = strlen(r.hash);
        for (int i = 0; i < r.ntasks; i++) n += strlen(r.tasks[i].name) + strlen(r.tasks[i].source);
        (void)n;
    }
    xf_ctx_free(ctx);
    return 0;
}
