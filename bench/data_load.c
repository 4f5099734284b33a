/* Data loading throughput: Fashion-MNIST (Debian dataset-fashion-mnist) through
 * xf_data_open and through a batch stream, native 28x28 gray and resized to 32x32 RGB
 * (ImageNet normalisation), and the sklearn digits. Prints images per second.
 * Usage: data_load [fashion-mnist folder]   (default /usr/share/datasets/fashion-mnist) */
#include <stdio.h>

#include "xfer/data.h"

static void run(xf_ctx_t *ctx, const char *spec, const char *split, int size, int ch, int stream) {
    xf_data_opts o;
    xf_data_opts_default(&o);
    o.split = split;
    o.height = o.width = size;
    o.channels = ch;
    if (ch == 3) {
        const float m[3] = {0.485f, 0.456f, 0.406f}, s[3] = {0.229f, 0.224f, 0.225f};
        for (int i = 0; i < 3; i++) { o.mean[i] = m[i]; o.std[i] = s[i]; }
    }
    double t0 = xf_now();
    int64_t n = 0;
    double sum = 0;
    if (stream) {
        xf_data_stream_t *s;
        if (xf_data_stream_open(ctx, spec, &o, 1000, &s) != XF_OK) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); return; }
        xf_batch b;
        while (xf_data_stream_next(s, &b) == XF_OK && b.n) {
            sum += b.x[0];
            n += b.n;
        }
        xf_data_stream_close(s);
    } else {
        xf_dataset d;
        if (xf_data_open(ctx, spec, &o, &d) != XF_OK) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); return; }
        n = d.n;
        sum = d.x[0];
        xf_dataset_free(ctx, &d);
    }
    double dt = xf_now() - t0;
    printf("%-40s %-5s %s %3dx%-3d c=%d  %6lld images  %7.3f s  %9.0f images/s  (x0=%.3f)\n", spec, split ? split : "-",
           stream ? "stream" : "whole ", size, size, ch, (long long)n, dt, n / dt, sum);
}

int main(int argc, char **argv) {
    const char *fm = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    run(ctx, fm, "test", 0, 0, 0);
    run(ctx, fm, "train", 0, 0, 0);
    run(ctx, fm, "train", 0, 0, 1);
    run(ctx, fm, "train", 32, 3, 0);
    run(ctx, fm, "train", 32, 3, 1);
    run(ctx, "digits", NULL, 32, 3, 0);
    xf_ctx_free(ctx);
    return 0;
}
