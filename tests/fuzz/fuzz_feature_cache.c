/* Fuzz target: the feature cache's entry reader (xf_fcache_get; layout in src/select/
 * fcache.c and docs/FORMATS.md). An entry carries its key's digest and a trailing SHA-256
 * of every byte before it, which random bytes never match, so each input is tried twice:
 * as given (the digest and checksum tests themselves), and with bytes 16-47 set to the
 * key's digest and the last 32 bytes set to the right SHA-256, so the mutator reaches the
 * shape, size and read checks behind them. Every entry the reader accepts must describe
 * exactly the bytes of the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/select.h"

static const xf_fcache_key key = {"model-sha", "data-sha", "n=8 seed=1", "feat,logits"};

static void read_entry(xf_ctx_t *ctx, xf_fcache_t *c, const uint8_t *data, size_t size) {
    char path[1200];
    xf_fcache_path(c, &key, path, sizeof path);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    size_t w = fwrite(data, 1, size, f);
    if (fclose(f) || w != size) return;
    xf_fcache_entry e;
    int hit = 0;
    if (xf_fcache_get(ctx, c, &key, &e, &hit) == XF_OK && hit) {
        if (e.N < 1 || e.D < 1 || e.Z < 0 || (size_t)(80 + 4 * e.N * (e.D + e.Z) + 32) != size) abort();
        volatile float sum = 0;
        for (int64_t i = 0; i < e.N * e.D; i++) sum += e.F[i];
        for (int64_t i = 0; i < e.N * e.Z; i++) sum += e.P[i];
        xf_fcache_entry_free(ctx, &e);
    }
    remove(path);
}

static char dir[64];
static void cleanup(void) { remove(dir); } /* each entry is removed after its read */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        char tmpl[] = "/tmp/xf_fuzz_fcache_XXXXXX";
        if (!mkdtemp(tmpl)) return 0;
        snprintf(dir, sizeof dir, "%s", tmpl);
        atexit(cleanup);
    }
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_fcache_t *c;
    if (xf_fcache_open(ctx, dir, &c) == XF_OK) {
        read_entry(ctx, c, data, size);
        if (size >= 80 + 32) {
            uint8_t *fixed = malloc(size);
            if (fixed) {
                memcpy(fixed, data, size);
                xf_fcache_key_digest(&key, fixed + 16);
                xf_sha256 s;
                xf_sha256_init(&s);
                xf_sha256_update(&s, fixed, size - 32);
                xf_sha256_final(&s, fixed + size - 32);
                read_entry(ctx, c, fixed, size);
                free(fixed);
            }
        }
        xf_fcache_free(c);
    }
    xf_ctx_free(ctx);
    return 0;
}
