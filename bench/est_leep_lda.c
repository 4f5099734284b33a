/* Timings of LEEP, NCE, N-LEEP, SFDA, NCTI and ETran on class-clustered Gaussian data.
 *
 *   est_leep_lda [--write DIR] [--only name,name] [--sizes i,j] [--repeat R (best of R)] [--param k=v]...
 *
 * Sizes (N, D, C): (500, 512, 10), (500, 2048, 100), (5000, 2048, 100), (20000, 512, 10).
 * Features (float32): a 32-d latent z = M[y] + e, class means M ~ N(0, 0.5^2), e ~ N(0, I),
 * mapped to D dims by a random A (32 x D, entries N(0, 1/32)) plus N(0, 0.05^2) noise, so
 * that classes overlap and the spectrum decays (PCA 80% keeps <= 32 components);
 * P = softmax(3 F W / sqrt(D)) with W ~ N(0, 1), Z = 1000 source classes. BLAS runs on one
 * thread (compare with OPENBLAS_NUM_THREADS=1 python3 bench/ref/time_leep_lda.py DIR).
 * --write DIR saves the inputs as DIR/s<i>_{F,P,y}.npy so the Python reference times the
 * same matrices. Prints one line per (size, method): wall and process-CPU seconds of the
 * estimator (the machine may be shared; with one BLAS thread CPU time is the steadier
 * figure), the CPU seconds of xf_est_run's input checks (timed apart), and the score. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "name_list.h"
#include "xfer/estimators.h"
#include "xfer/linalg.h"
#include "xfer/npy.h"

extern const xf_estimator xf_est_def_leep, xf_est_def_nce, xf_est_def_nleep, xf_est_def_sfda, xf_est_def_ncti,
    xf_est_def_etran;

static const int64_t sizes[4][3] = {{500, 512, 10}, {500, 2048, 100}, {5000, 2048, 100}, {20000, 512, 10}};
static const char *methods[] = {"leep", "nce", "nleep", "sfda", "ncti", "etran"};

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void log_err(void *user, xf_log_level lv, const char *msg) {
    (void)user;
    (void)lv;
    fprintf(stderr, "  # %s\n", msg);
}

static int save(xf_ctx_t *ctx, const char *dir, int s, const char *what, xf_dtype dt, void *data, int nd,
                int64_t a, int64_t b) {
    char path[512];
    snprintf(path, sizeof path, "%s/s%d_%s.npy", dir, s, what);
    xf_array arr = {0};
    int64_t sh[2] = {a, b};
    if (xf_array_alloc(ctx, &arr, dt, nd, sh)) return 1;
    memcpy(arr.data, data, (size_t)arr.size * xf_dtype_size(dt));
    int r = xf_npy_write(ctx, path, &arr) != XF_OK;
    xf_array_free(ctx, &arr);
    return r;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *only = NULL, *which = NULL;
    int repeat = 1;
    xf_param par[8];
    int npar = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--write")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--sizes")) which = argv[i + 1];
        else if (!strcmp(argv[i], "--param") && npar < 8 && strchr(argv[i + 1], '=')) {
            char *kv = argv[i + 1], *eq = strchr(kv, '=');
            *eq = 0;
            par[npar].key = kv;
            par[npar++].value = eq + 1;
        } else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 1;
    }
    /* reference the definitions so the static library links them in */
    const xf_estimator *volatile keep[6] = {&xf_est_def_leep, &xf_est_def_nce,  &xf_est_def_nleep,
                                            &xf_est_def_sfda, &xf_est_def_ncti, &xf_est_def_etran};
    (void)keep;
    xf_ctx_t *ctx;
    xf_ws_t *ws;
    if (xf_ctx_create(&ctx) || xf_ws_create(ctx, &ws)) return 1;
    xf_la_set_threads(1);
    xf_ctx_set_log(ctx, log_err, NULL, XF_LOG_DEBUG);
    printf("%-6s %6s %5s %4s %-6s %10s %10s %10s %14s\n", "size", "N", "D", "C", "method", "wall_s", "cpu_s",
           "check_s", "score");
    for (int s = 0; s < 4; s++) {
        char sn[4];
        snprintf(sn, sizeof sn, "%d", s);
        if (which && !listed(which, sn)) continue;
        int64_t N = sizes[s][0], D = sizes[s][1], C = sizes[s][2], Z = 1000;
        const int64_t R = 32;
        float *F = malloc(sizeof(float) * N * D), *P = malloc(sizeof(float) * N * Z), *M = malloc(sizeof(float) * C * R);
        float *W = malloc(sizeof(float) * D * Z), *A = malloc(sizeof(float) * R * D), *L = malloc(sizeof(float) * N * R);
        int32_t *y = malloc(sizeof(int32_t) * N);
        if (!F || !P || !M || !W || !y || !A || !L) return 1;
        xf_rng r;
        xf_rng_seed(&r, 1000 + (uint64_t)s);
        for (int64_t k = 0; k < C * R; k++) M[k] = (float)(0.5 * xf_rng_normal(&r));
        for (int64_t k = 0; k < R * D; k++) A[k] = (float)(xf_rng_normal(&r) / sqrt((double)R));
        for (int64_t i = 0; i < N; i++) y[i] = (int32_t)(i % C);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < R; j++) L[i * R + j] = M[y[i] * R + j] + (float)xf_rng_normal(&r);
        xf_la_sgemm(0, 0, N, D, R, 1.0f, L, R, A, D, 0.0f, F, D);
        for (int64_t k = 0; k < N * D; k++) F[k] += (float)(0.05 * xf_rng_normal(&r));
        for (int64_t k = 0; k < D * Z; k++) W[k] = (float)(3.0 * xf_rng_normal(&r) / sqrt((double)D));
        xf_la_sgemm(0, 0, N, Z, D, 1.0f, F, D, W, Z, 0.0f, P, Z);
        for (int64_t i = 0; i < N; i++) {
            float *p = P + i * Z, mx = p[0];
            double t = 0;
            for (int64_t z = 1; z < Z; z++) mx = p[z] > mx ? p[z] : mx;
            for (int64_t z = 0; z < Z; z++) t += (p[z] = expf(p[z] - mx));
            for (int64_t z = 0; z < Z; z++) p[z] = (float)(p[z] / t);
        }
        if (dir && (save(ctx, dir, s, "F", XF_DT_F32, F, 2, N, D) || save(ctx, dir, s, "P", XF_DT_F32, P, 2, N, Z) ||
                    save(ctx, dir, s, "y", XF_DT_I32, y, 1, N, 0)))
            fprintf(stderr, "est_leep_lda: %s\n", xf_errmsg(ctx));
        xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C, .P = P, .Z = Z, .ldP = Z};
        for (int m = 0; m < 6; m++) {
            if (!listed(only, methods[m])) continue;
            /* the input checks of xf_est_run (finite values, rows of P summing to 1) are
             * timed apart: the Python reference does not validate */
            const xf_estimator *est = xf_est_find(methods[m]);
            xf_params pp = {par, npar};
            double score = NAN, t = INFINITY, c = INFINITY, ck = INFINITY;
            xf_status st = est ? XF_OK : XF_ERR_NOTFOUND;
            for (int rep = 0; rep < repeat && !st; rep++) { /* best of `repeat` */
                double c0 = cpu_now();
                st = xf_est_check_input(ctx, est, &in, npar ? &pp : NULL);
                ck = fmin(ck, cpu_now() - c0);
                if (st) break;
                xf_ws_reset(ws);
                double t0 = xf_now();
                c0 = cpu_now();
                st = est->fn(ctx, &in, npar ? &pp : NULL, ws, &score);
                t = fmin(t, xf_now() - t0);
                c = fmin(c, cpu_now() - c0);
            }
            if (st) printf("%-6d %6lld %5lld %4lld %-6s %10s %s\n", s, (long long)N, (long long)D, (long long)C,
                           methods[m], "error", xf_errmsg(ctx));
            else printf("%-6d %6lld %5lld %4lld %-6s %10.4f %10.4f %10.4f %14.8g\n", s, (long long)N, (long long)D,
                        (long long)C, methods[m], t, c, ck, score);
            fflush(stdout);
        }
        free(F); free(P); free(M); free(W); free(y); free(A); free(L);
    }
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return 0;
}
