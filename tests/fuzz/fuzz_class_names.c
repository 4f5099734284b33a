/* Fuzz target: the class-name list (classes.txt beside a dataset: one name per line,
 * line i is class i - 1) read by xf_data_read_classes, from a scratch file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/ioInt.h"

static char path[64];
static void cleanup(void) { remove(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/xf_fuzz_classes_%d.txt", (int)getpid());
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = fwrite(data, 1, size, f);
    if (fclose(f) || w != size) return 0;
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    char **names;
    int k;
    if (xf_data_read_classes(ctx, path, &names, &k) == XF_OK) {
        if (k < 1) abort(); /* success means at least one name, each non-empty */
        for (int i = 0; i < k; i++) {
            if (!names[i] || !names[i][0] || strchr(names[i], '\n')) abort();
            xf_free(ctx, names[i]);
        }
        xf_free(ctx, names);
    }
    xf_ctx_free(ctx);
    return 0;
}
