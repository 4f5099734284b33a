/* bench/estimators: times every registered estimator on the benchmark inputs that
 * bench/estimators.py --gen wrote (DIR/<case>_F.npy, _y.npy, _P.npy), and prints one
 * JSON line per (case, method): {"case", "method", "score", "seconds"}. The Python side
 * times the reference implementations on the same files; bench/estimators.py --join
 * prints the side-by-side table.
 *
 *   estimators DIR [--methods a,b] [--cases c1,c2] [--threads 2] [--repeat 3] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name_list.h"
#include "xfer/xfer.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: estimators DIR [--methods a,b] [--cases c1,c2] [--threads N] [--repeat R]\n");
        return 2;
    }
    const char *dir = argv[1], *methods = NULL, *cases = "small,wide,large,tall";
    int threads = 2, repeat = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--methods")) methods = argv[i + 1];
        else if (!strcmp(argv[i], "--cases")) cases = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
    }
    xf_ctx_t *ctx;
    xf_ws_t *ws;
    if (xf_ctx_create(&ctx) || xf_ws_create(ctx, &ws)) return 1;
    xf_ctx_set_threads(ctx, threads);
    xf_la_set_threads(threads);
    char *cl = strdup(cases), *save = NULL;
    for (char *c = strtok_r(cl, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        char p[1024];
        xf_array Fa, ya, Pa;
        snprintf(p, sizeof p, "%s/%s_F.npy", dir, c);
        if (xf_npy_read(ctx, p, &Fa)) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); continue; }
        snprintf(p, sizeof p, "%s/%s_y.npy", dir, c);
        if (xf_npy_read(ctx, p, &ya)) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); return 1; }
        snprintf(p, sizeof p, "%s/%s_P.npy", dir, c);
        int haveP = xf_npy_read(ctx, p, &Pa) == XF_OK;
        float *F, *P = NULL;
        int64_t *yr, N = Fa.shape[0], D = Fa.shape[1], C;
        if (xf_array_to_f32(ctx, &Fa, 1, &F) || xf_array_to_i64(ctx, &ya, &yr)) { fprintf(stderr, "%s\n", xf_errmsg(ctx)); return 1; }
        if (haveP && xf_array_to_f32(ctx, &Pa, 1, &P)) return 1;
        int32_t *y = malloc(sizeof *y * (size_t)N);
        xf_labels_densify(ctx, yr, N, y, &C, NULL);
        xf_est_input in = {F, N, D, D, y, C, P, haveP ? Pa.shape[1] : 0, haveP ? Pa.shape[1] : 0, NULL};
        for (int m = 0; m < xf_est_count(); m++) {
            const xf_estimator *e = xf_est_at(m);
            if (!listed(methods, e->name)) continue;
            if ((e->flags & XF_NEEDS_P) && !haveP) continue;
            double best = INFINITY, score = NAN;
            xf_status st = XF_OK;
            /* best of `repeat` runs, fewer when one run takes over a second */
            for (int r = 0; r < repeat && (r == 0 || best < 1.0); r++) {
                double t0 = xf_now();
                st = xf_est_run(ctx, e->name, &in, NULL, ws, &score);
                double dt = xf_now() - t0;
                if (dt < best) best = dt;
                if (st) break;
            }
            if (st) printf("{\"case\": \"%s\", \"method\": \"%s\", \"error\": \"%s\"}\n", c, e->name, xf_status_str(st));
            else printf("{\"case\": \"%s\", \"method\": \"%s\", \"score\": %.10g, \"seconds\": %.6f, \"ws_peak_mb\": %.1f}\n", c,
                        e->name, score, best, xf_ws_peak(ws) / 1048576.0);
            fflush(stdout);
        }
        free(y);
        xf_free(ctx, F);
        xf_free(ctx, P);
        xf_free(ctx, yr);
        xf_array_free(ctx, &Fa);
        xf_array_free(ctx, &ya);
        if (haveP) xf_array_free(ctx, &Pa);
    }
    free(cl);
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return 0;
}
