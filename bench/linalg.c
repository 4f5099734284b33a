/* Benchmark of the linalg hot paths: exact and randomized PCA of a 5000 x 2048 float
 * matrix to 32 components (the PARC / GBC setting), plus the SYRK alone.
 * Usage: bench/linalg [N D k threads reps]. Prints seconds per call (best of reps). */
#include <stdio.h>
#include <stdlib.h>

#include "xfer/linalg.h"

int main(int argc, char **argv) {
    int64_t N = argc > 1 ? atoll(argv[1]) : 5000, D = argc > 2 ? atoll(argv[2]) : 2048;
    int64_t k = argc > 3 ? atoll(argv[3]) : 32;
    int threads = argc > 4 ? atoi(argv[4]) : 2, reps = argc > 5 ? atoi(argv[5]) : 3;
    xf_ctx_t *ctx;
    xf_ws_t *ws;
    if (xf_ctx_create(&ctx) || xf_ws_create(ctx, &ws)) return 1;
    xf_la_set_threads(threads);
    float *X = xf_malloc(ctx, sizeof(float) * (size_t)(N * D));
    if (!X) return 1;
    /* features with a decaying spectrum: a random low-rank part plus noise */
    xf_rng r;
    xf_rng_seed(&r, 1);
    for (int64_t i = 0; i < N * D; i++) X[i] = (float)(0.1 * xf_rng_normal(&r));
    for (int f = 0; f < 64; f++) {
        double *u = xf_malloc(ctx, sizeof(double) * (size_t)D);
        for (int64_t j = 0; j < D; j++) u[j] = xf_rng_normal(&r) / (1.0 + f);
        for (int64_t i = 0; i < N; i++) {
            double a = xf_rng_normal(&r);
            for (int64_t j = 0; j < D; j++) X[i * D + j] += (float)(a * u[j]);
        }
        xf_free(ctx, u);
    }
    const char *names[] = {"exact", "randomized"};
    for (int m = 0; m < 2; m++) {
        double best = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            xf_pca_opts o;
            xf_pca_opts_default(&o);
            o.method = m;
            o.k = k;
            double *sc;
            int64_t kk;
            xf_ws_reset(ws);
            double t0 = xf_now();
            if (xf_la_pca(ws, X, N, D, D, &o, &sc, &kk, NULL)) {
                fprintf(stderr, "pca: %s\n", xf_errmsg(ctx));
                return 1;
            }
            double t = xf_now() - t0;
            if (t < best) best = t;
        }
        printf("pca %-10s %lld x %lld -> %lld, %d threads: %.3f s\n", names[m], (long long)N, (long long)D,
               (long long)k, threads, best);
    }
    /* the var_frac path (whole spectrum, k chosen) */
    {
        xf_pca_opts o;
        xf_pca_opts_default(&o);
        o.var_frac = 0.8;
        double *sc;
        int64_t kk;
        xf_ws_reset(ws);
        double t0 = xf_now();
        if (xf_la_pca(ws, X, N, D, D, &o, &sc, &kk, NULL)) return 1;
        printf("pca exact var_frac=0.8 -> k=%lld: %.3f s\n", (long long)kk, xf_now() - t0);
    }
    {
        double *Xd = xf_malloc(ctx, sizeof(double) * (size_t)(N * D)), *C = xf_malloc(ctx, sizeof(double) * (size_t)(D * D));
        for (int64_t i = 0; i < N * D; i++) Xd[i] = X[i];
        double t0 = xf_now();
        xf_la_dsyrk(1, D, N, 1.0, Xd, D, 0.0, C, D);
        printf("dsyrk %lld x %lld: %.3f s\n", (long long)N, (long long)D, xf_now() - t0);
        double *w = xf_malloc(ctx, sizeof(double) * (size_t)D);
        t0 = xf_now();
        xf_la_eigh(ctx, D, C, D, w);
        printf("eigh (dsyevd, all vectors) %lld: %.3f s\n", (long long)D, xf_now() - t0);
        xf_free(ctx, w);
        xf_free(ctx, Xd);
        xf_free(ctx, C);
    }
    xf_free(ctx, X);
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return 0;
}
