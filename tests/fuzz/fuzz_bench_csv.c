/* Fuzz target: the benchmark CSV readers (oracle, results, layer tables), then an
 * evaluation of what they accept against each other, and the writers' round trip. */
#include <stdint.h>
#include <stdio.h>

#include "xfer/benchmark.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 0;
    xf_bench_oracle o;
    xf_bench_results r;
    xf_bench_layers l;
    int ho = xf_bench_oracle_parse(ctx, data, size, "fuzz.csv", &o) == XF_OK;
    int hr = xf_bench_results_parse(ctx, data, size, "fuzz.csv", &r) == XF_OK;
    int hl = xf_bench_layers_parse(ctx, data, size, "fuzz.csv", &l) == XF_OK;
    /* a results table against a fixed oracle of its own first rows, and the reverse */
    if (hr) {
        xf_bench_oracle mine = {0};
        for (int64_t i = 0; i < r.n && i < 16; i++)
            if (xf_bench_oracle_add(ctx, &mine, r.arch[i], r.source[i], r.target[i], (double)(i % 5) - 1.0)) break;
        xf_bench_opts opt;
        xf_bench_opts_default(&opt);
        xf_bench_layers one = {0};
        for (int64_t i = 0; i < r.n && i < 16; i++) xf_bench_layers_add(ctx, &one, r.arch[i], (double)i);
        opt.layers = &one;
        opt.capacity = XF_BENCH_CAPACITY_GLOBAL | XF_BENCH_CAPACITY_TARGET;
        xf_bench_eval e;
        if (mine.n && xf_bench_evaluate(ctx, &mine, &r, &opt, &e) == XF_OK) {
            FILE *devnull = fopen("/dev/null", "w");
            if (devnull) {
                xf_bench_eval_print(devnull, &e, 1, 1);
                xf_bench_eval_print(devnull, &e, 0, 0);
                fclose(devnull);
            }
            xf_bench_eval_free(ctx, &e);
        }
        xf_bench_layers_free(ctx, &one);
        xf_bench_oracle_free(ctx, &mine);
        xf_bench_results_free(ctx, &r);
    }
    if (ho) xf_bench_oracle_free(ctx, &o);
    if (hl) xf_bench_layers_free(ctx, &l);
    xf_ctx_free(ctx);
    return 0;
}
