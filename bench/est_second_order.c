/* Timing of logme, hscore, hscore-shrink, transrate and gbc on class-clustered Gaussian
 * features: class centres ~ N(0, I_D), samples = centre + N(0, I_D), labels round-robin
 * then shuffled. Usage:
 *   bench/est_second_order N D C [threads reps outdir]
 * Prints one line per method: seconds (best of reps) and score. With outdir, writes
 * outdir/F.npy (float32) and outdir/y.npy (int32) so bench/ref/time_second_order.py can time the
 * Python references on the same inputs and compare the scores. */
#include <stdio.h>
#include <stdlib.h>

#include "xfer/estimators.h"
#include "xfer/npy.h"

extern const xf_estimator xf_est_def_logme, xf_est_def_hscore, xf_est_def_hscore_shrink, xf_est_def_transrate,
    xf_est_def_gbc;
static const xf_estimator *const linked[] = {&xf_est_def_logme, &xf_est_def_hscore, &xf_est_def_hscore_shrink,
                                             &xf_est_def_transrate, &xf_est_def_gbc};

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s N D C [threads reps outdir]\n", argv[0]);
        return 2;
    }
    int64_t N = atoll(argv[1]), D = atoll(argv[2]), C = atoll(argv[3]);
    int threads = argc > 4 ? atoi(argv[4]) : 2, reps = argc > 5 ? atoi(argv[5]) : 3;
    const char *outdir = argc > 6 ? argv[6] : NULL;
    xf_ctx_t *ctx;
    xf_ws_t *ws;
    if (N < 2 || D < 1 || C < 2 || xf_ctx_create(&ctx) || xf_ws_create(ctx, &ws)) return 1;
    xf_ctx_set_threads(ctx, threads);
    float *F = xf_malloc(ctx, sizeof(float) * (size_t)(N * D));
    int32_t *y = xf_malloc(ctx, sizeof(int32_t) * (size_t)N);
    int64_t *perm = xf_malloc(ctx, sizeof(int64_t) * (size_t)N);
    double *ctr = xf_malloc(ctx, sizeof(double) * (size_t)(C * D));
    if (!F || !y || !perm || !ctr) return 1;
    xf_rng r;
    xf_rng_seed(&r, 7);
    for (int64_t i = 0; i < N; i++) perm[i] = i;
    xf_rng_shuffle_i64(&r, perm, N);
    for (int64_t i = 0; i < N; i++) y[i] = (int32_t)(perm[i] % C);
    for (int64_t i = 0; i < C * D; i++) ctr[i] = xf_rng_normal(&r);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) F[i * D + j] = (float)(ctr[y[i] * D + j] + xf_rng_normal(&r));
    if (outdir) {
        char p[1024];
        int64_t sh[2] = {N, D};
        snprintf(p, sizeof p, "%s/F.npy", outdir);
        if (xf_npy_write_raw(ctx, p, XF_DT_F32, 2, sh, F)) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); return 1; }
        snprintf(p, sizeof p, "%s/y.npy", outdir);
        if (xf_npy_write_raw(ctx, p, XF_DT_I32, 1, sh, y)) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); return 1; }
    }
    xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
    printf("# N=%lld D=%lld C=%lld threads=%d reps=%d\n", (long long)N, (long long)D, (long long)C, threads, reps);
    for (int m = 0; m < 5; m++) {
        double best = 1e30, s = 0;
        for (int rep = 0; rep < reps; rep++) {
            double t0 = xf_now();
            if (xf_est_run(ctx, linked[m]->name, &in, NULL, ws, &s)) {
                fprintf(stderr, "%s: %s\n", linked[m]->name, xf_errmsg(ctx));
                return 1;
            }
            double t = xf_now() - t0;
            if (t < best) best = t;
        }
        printf("%-14s %10.4f s  score %.10g\n", linked[m]->name, best, s);
        fflush(stdout);
    }
    xf_free(ctx, F);
    xf_free(ctx, y);
    xf_free(ctx, perm);
    xf_free(ctx, ctr);
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return 0;
}
