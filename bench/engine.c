/* Engine benchmark: images per second of xfer's CPU engine, to compare side by side
 * with PyTorch (bench/engine.py; bench/engine.sh runs both and prints the ratios).
 *
 *   (c) train: the zoo's small ResNet (3x3 stem, 3 stages x 2 (or given) basic blocks, widths
 *       32-64-128, BN, ReLU, GAP, Gemm head), 1 x 28 x 28 inputs, batch 128, one SGD
 *       momentum step (forward + loss + backward + update) per batch;
 *   (a) resnet18 and (b) mobilenet_v2 inference, 3 x 224 x 224, batch 32, from the ONNX
 *       files bench/engine.py exports from torchvision (build/bench_resnet18.onnx,
 *       build/bench_mobilenet_v2.onnx); skipped when the files are absent.
 *
 * Usage: engine [threads (2)] [what: all|train|resnet18|mobilenet_v2] [repeats (2)] [blocks per stage (2)]
 * Each figure is the best of `repeats` timed runs (the machine is shared), after a
 * warm-up. Prints one line per model: "xfer <model> <images/s> img/s <GFLOP/s>" with the
 * model's multiply-add count (x2) from the graph's conv / gemm shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/nn.h"
#if defined(__has_include)
#if __has_include("xfer/onnx.h")
#include "xfer/onnx.h"
#define HAVE_ONNX 1
#endif
#endif

/* forward FLOPs per image (2 x multiply-adds of Conv and Gemm/MatMul) */
static double graph_flops(xf_ctx_t *ctx, xf_graph *g) {
    xf_net_t *net;
    xf_net_opts o = {NULL, -1, 0, 0};
    if (xf_net_create_ex(ctx, g, 1, XF_NET_INFER, &o, &net)) return 0;
    double f = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const xf_node *n = &g->nodes[i];
        int nd;
        int64_t ys[XF_NN_MAXDIM];
        xf_net_shape(net, n->out[0], &nd, ys);
        double outn = 1;
        for (int d = 0; d < nd; d++) outn *= (double)ys[d];
        if (n->op == XF_OP_CONV) {
            const xf_value *w = &g->values[n->in[1]];
            f += 2.0 * outn * (double)(w->shape[1] * w->shape[2] * w->shape[3]);
        } else if (n->op == XF_OP_GEMM || n->op == XF_OP_MATMUL) {
            int xn;
            int64_t xs[XF_NN_MAXDIM];
            xf_net_shape(net, n->in[0], &xn, xs);
            f += 2.0 * outn * (double)xs[xn - 1];
        }
    }
    xf_net_free(net);
    return f;
}

static void fill(float *x, int64_t n, uint64_t seed) {
    xf_rng r;
    xf_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = (float)xf_rng_normal(&r);
}

static int bench_train(xf_ctx_t *ctx, int repeats, int blocks) {
    int64_t widths[3] = {32, 64, 128};
    xf_graph *g;
    xf_ctx_set_seed(ctx, 1);
    if (xf_model_small_resnet(ctx, 1, 28, 28, 10, widths, blocks, &g)) {
        fprintf(stderr, "engine: %s\n", xf_errmsg(ctx));
        return 1;
    }
    const int64_t B = 128, steps = 10;
    float *x = malloc(sizeof(float) * B * 784);
    int32_t *y = malloc(sizeof(int32_t) * B);
    fill(x, B * 784, 3);
    for (int64_t i = 0; i < B; i++) y[i] = (int32_t)(i % 10);
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 0.01; /* small enough to stay finite on random data */
    xf_net_t *net;
    xf_optim_t *opt;
    if (xf_net_create(ctx, g, B, XF_NET_TRAIN, &net) || xf_optim_create(ctx, g, &o, &opt)) {
        fprintf(stderr, "engine: %s\n", xf_errmsg(ctx));
        return 1;
    }
    int ov = xf_graph_output_value(g);
    double best = 1e30;
    double tf = 0, tb = 0, tu = 0;
    for (int r = 0; r <= repeats; r++) {
        double t0 = xf_now(), f = 0, b = 0, u = 0;
        for (int s = 0; s < steps; s++) {
            float loss;
            int64_t c;
            double a0 = xf_now();
            if (xf_net_forward(net, x, B) || xf_net_loss(net, ov, y, &loss, &c)) goto fail;
            double a1 = xf_now();
            if (xf_net_backward(net)) goto fail;
            double a2 = xf_now();
            if (xf_optim_step(opt, net, o.lr)) goto fail;
            double a3 = xf_now();
            f += a1 - a0;
            b += a2 - a1;
            u += a3 - a2;
        }
        double t = xf_now() - t0;
        if (r > 0 && t < best) { /* run 0 is the warm-up */
            best = t;
            tf = f;
            tb = b;
            tu = u;
        }
    }
    double flops = 3.0 * graph_flops(ctx, g); /* forward + backward (2x) */
    double ips = (double)(B * steps) / best;
    printf("xfer train_small_resnet%d %.1f img/s %.1f GFLOP/s (fwd %.1f ms, bwd %.1f ms, update %.1f ms per step)\n", blocks, ips,
           ips * flops * 1e-9, 1e3 * tf / steps, 1e3 * tb / steps, 1e3 * tu / steps);
    fflush(stdout);
    xf_optim_free(opt);
    xf_net_free(net);
    xf_graph_free(g);
    free(x);
    free(y);
    return 0;
fail:
    fprintf(stderr, "engine: %s\n", xf_errmsg(ctx));
    return 1;
}

#ifdef HAVE_ONNX
static int bench_infer(xf_ctx_t *ctx, const char *name, int repeats) {
    char path[256];
    snprintf(path, sizeof path, "build/bench_%s.onnx", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("xfer %s skipped (%s absent: run bench/engine.py first)\n", name, path);
        return 0;
    }
    fclose(f);
    xf_graph *g;
    if (xf_onnx_import(ctx, path, &g)) {
        fprintf(stderr, "engine: %s\n", xf_errmsg(ctx));
        return 1;
    }
    const int64_t B = 32;
    const int iters = 3;
    float *x = malloc(sizeof(float) * B * 3 * 224 * 224);
    fill(x, B * 3 * 224 * 224, 5);
    xf_net_t *net;
    if (xf_net_create(ctx, g, B, XF_NET_INFER, &net)) {
        fprintf(stderr, "engine: %s\n", xf_errmsg(ctx));
        return 1;
    }
    double best = 1e30;
    for (int r = 0; r <= repeats; r++) {
        double t0 = xf_now();
        for (int s = 0; s < iters; s++)
            if (xf_net_forward(net, x, B)) {
                fprintf(stderr, "engine: %s\n", xf_errmsg(ctx));
                return 1;
            }
        double t = xf_now() - t0;
        if (r > 0 && t < best) best = t;
    }
    double ips = (double)(B * iters) / best;
    printf("xfer %s %.1f img/s %.1f GFLOP/s\n", name, ips, ips * graph_flops(ctx, g) * 1e-9);
    fflush(stdout);
    xf_net_free(net);
    xf_graph_free(g);
    free(x);
    return 0;
}
#endif

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    const char *what = argc > 2 ? argv[2] : "all";
    int repeats = argc > 3 ? atoi(argv[3]) : 2;
    int blocks = argc > 4 ? atoi(argv[4]) : 2;
    if (blocks < 1) blocks = 1;
    if (repeats < 1) repeats = 1;
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, threads);
    int rc = 0;
    if (!strcmp(what, "all") || !strcmp(what, "train")) rc |= bench_train(ctx, repeats, blocks);
#ifdef HAVE_ONNX
    if (!strcmp(what, "all") || !strcmp(what, "resnet18")) rc |= bench_infer(ctx, "resnet18", repeats);
    if (!strcmp(what, "all") || !strcmp(what, "mobilenet_v2")) rc |= bench_infer(ctx, "mobilenet_v2", repeats);
#else
    printf("xfer resnet18/mobilenet_v2 skipped (built without the ONNX importer)\n");
#endif
    xf_ctx_free(ctx);
    return rc;
}
