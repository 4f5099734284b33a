/* Fuzz target: the expert bank record (experts.json, docs/FORMATS.md) read by
 * xf_experts_open, then every expert's description. The record is written into a private
 * scratch bank folder that holds valid 4-class label priors for the generalist and two
 * experts (priors/generalist.npy, priors/a.npy, priors/b.npy) and a 3-class one
 * (priors/bad.npy), so records naming them get past the prior checks to the rest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer/experts.h"
#include "xfer/npy.h"

static char dir[64];

/* the scratch folder goes when the process ends (the replay test runs on every make test) */
static void cleanup(void) {
    const char *files[] = {"experts.json", "priors/generalist.npy", "priors/a.npy", "priors/b.npy", "priors/bad.npy",
                           "priors", ""};
    char p[128];
    for (int i = 0; i < 7; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        remove(p);
    }
}

static int setup(xf_ctx_t *ctx) {
    static int ready;
    if (ready) return 0;
    if (!dir[0]) {
        char tmpl[] = "/tmp/xf_fuzz_experts_XXXXXX";
        if (!mkdtemp(tmpl)) return -1;
        snprintf(dir, sizeof dir, "%s", tmpl);
        atexit(cleanup);
    }
    char p[128];
    snprintf(p, sizeof p, "%s/priors", dir);
    mkdir(p, 0700); /* may exist from a failed earlier setup */
    const double four[4] = {0.25, 0.25, 0.25, 0.25}, three[3] = {0.5, 0.25, 0.25};
    const int64_t n4 = 4, n3 = 3;
    const char *names[3] = {"generalist", "a", "b"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/priors/%s.npy", dir, names[i]);
        if (xf_npy_write_raw(ctx, p, XF_DT_F64, 1, &n4, four)) return -1;
    }
    snprintf(p, sizeof p, "%s/priors/bad.npy", dir);
    if (xf_npy_write_raw(ctx, p, XF_DT_F64, 1, &n3, three)) return -1;
    ready = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    char rec[128];
    FILE *f;
    if (setup(ctx) || snprintf(rec, sizeof rec, "%s/experts.json", dir) < 0 || !(f = fopen(rec, "wb"))) {
        xf_ctx_free(ctx);
        return 0;
    }
    size_t w = fwrite(data, 1, size, f);
    if (fclose(f) || w != size) {
        xf_ctx_free(ctx);
        return 0;
    }
    xf_experts_t *ex;
    if (xf_experts_open(ctx, dir, &ex) == XF_OK) {
        size_t n = 0;
        for (int i = 0; i < xf_experts_count(ex); i++) {
            const xf_expert_info *e = xf_experts_info(ex, i);
            n += strlen(e->name) + (e->slice ? strlen(e->slice) : 0) + (size_t)e->slice_size + (size_t)e->epn_class;
            n += strlen(xf_expert_kind_name(e->kind));
        }
        float mean, std;
        xf_experts_norm(ex, &mean, &std);
        (void)n;
        xf_experts_close(ex);
    }
    xf_ctx_free(ctx);
    return 0;
}
