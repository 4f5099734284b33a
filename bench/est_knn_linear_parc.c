/* Timing of the knn, linear and parc estimators on random class-clustered Gaussian data
 * (labels round-robin, as PARC's probe order), at the sizes of the benchmark table
 * (docs/ESTIMATORS.md). Prints one line per (size, method): score and seconds (best of
 * --reps runs). --out DIR also writes DIR/est_knn_linear_parc_<N>_<D>_<C>_{F,y}.npy so that
 * bench/ref/time_knn_linear_parc.py times the Python reference on the same inputs.
 *
 *   build/bench/est_knn_linear_parc [--threads 2] [--reps 3] [--out DIR] [--only N,D,C]
 *                                   [--methods knn,linear,parc] [--param key=value]
 * wall_s: best wall-clock time; cpu_s: best process CPU time (all threads), the fairer
 * figure on a shared machine.
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/estimators.h"
#include "xfer/npy.h"

extern const xf_estimator xf_est_def_knn, xf_est_def_linear, xf_est_def_parc;
const xf_estimator *const bench_force_link[] = {&xf_est_def_knn, &xf_est_def_linear, &xf_est_def_parc};

static void make_data(uint64_t seed, int64_t N, int64_t D, int64_t C, double sep, float *F, int32_t *y) {
    xf_rng r;
    xf_rng_seed(&r, seed);
    double *mu = malloc((size_t)(C * D) * sizeof *mu);
    for (int64_t t = 0; t < C * D; t++) mu[t] = sep * xf_rng_normal(&r);
    for (int64_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % C);
        for (int64_t t = 0; t < D; t++) F[i * D + t] = (float)(mu[y[i] * D + t] + xf_rng_normal(&r));
    }
    free(mu);
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 3;
    const char *out = NULL, *only = NULL, *methods = "knn,linear,parc", *params = NULL;
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--threads")) threads = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--reps")) reps = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--out")) out = argv[a + 1];
        else if (!strcmp(argv[a], "--only")) only = argv[a + 1];
        else if (!strcmp(argv[a], "--methods")) methods = argv[a + 1];
        else if (!strcmp(argv[a], "--param")) params = argv[a + 1];
    }
    const int64_t sizes[][3] = {{500, 512, 10}, {500, 2048, 100}, {5000, 2048, 100}, {20000, 512, 10}};
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, threads);
    xf_ws_t *ws;
    if (xf_ws_create(ctx, &ws)) return 1;
    /* one extra "key=value" parameter (e.g. parc.dims=0) */
    char pk[128] = "", *pv = NULL;
    xf_param prm[1];
    xf_params P = {prm, 0};
    if (params && strlen(params) < sizeof pk && strchr(params, '=')) {
        strcpy(pk, params);
        pv = strchr(pk, '=');
        *pv++ = 0;
        prm[0].key = pk;
        prm[0].value = pv;
        P.n = 1;
    }
    printf("%6s %5s %4s %-7s %12s %10s %10s\n", "N", "D", "C", "method", "score", "wall_s", "cpu_s");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        const int64_t N = sizes[s][0], D = sizes[s][1], C = sizes[s][2];
        if (only) {
            long long n, d, c;
            if (sscanf(only, "%lld,%lld,%lld", &n, &d, &c) == 3 && (n != N || d != D || c != C)) continue;
        }
        float *F = malloc((size_t)(N * D) * sizeof *F);
        int32_t *y = malloc((size_t)N * sizeof *y);
        make_data(1000 + s, N, D, C, 0.2, F, y);
        if (out) {
            char p[1024];
            int64_t shp[2] = {N, D};
            snprintf(p, sizeof p, "%s/est_knn_linear_parc_%lld_%lld_%lld_F.npy", out, (long long)N, (long long)D,
                     (long long)C);
            if (xf_npy_write_raw(ctx, p, XF_DT_F32, 2, shp, F)) fprintf(stderr, "%s\n", xf_errmsg(ctx));
            int64_t *yl = malloc((size_t)N * sizeof *yl);
            for (int64_t i = 0; i < N; i++) yl[i] = y[i];
            snprintf(p, sizeof p, "%s/est_knn_linear_parc_%lld_%lld_%lld_y.npy", out, (long long)N, (long long)D,
                     (long long)C);
            if (xf_npy_write_raw(ctx, p, XF_DT_I64, 1, shp, yl)) fprintf(stderr, "%s\n", xf_errmsg(ctx));
            free(yl);
        }
        xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
        const char *ms[] = {"knn", "linear", "parc"};
        for (int m = 0; m < 3; m++) {
            if (!strstr(methods, ms[m])) continue;
            double best = 1e30, bcpu = 1e30, score = 0;
            int r = N >= 20000 ? 1 : reps;
            for (int k = 0; k < r; k++) {
                double t0 = xf_now(), c0 = cpu_now();
                if (xf_est_run(ctx, ms[m], &in, &P, ws, &score)) {
                    fprintf(stderr, "%s: %s\n", ms[m], xf_errmsg(ctx));
                    break;
                }
                double t = xf_now() - t0, c = cpu_now() - c0;
                if (t < best) best = t;
                if (c < bcpu) bcpu = c;
            }
            printf("%6lld %5lld %4lld %-7s %12.6f %10.4f %10.4f\n", (long long)N, (long long)D, (long long)C, ms[m], score,
                   best, bcpu);
            fflush(stdout);
        }
        free(F);
        free(y);
    }
    printf("workspace peak: %.1f MB\n", (double)xf_ws_peak(ws) / 1048576.0);
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return 0;
}
