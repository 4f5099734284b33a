/* linalg/corr: Pearson and Spearman correlation with scipy.stats semantics (pearsonr,
 * spearmanr): NaN for constant input or fewer than 2 points, the n = 2 sign rule,
 * centring in double and normalising each centred vector before the dot product. */
#include <math.h>

#include "linalg/linalgInt.h"

/* Euclidean norm of v - m without overflow (scaled, as BLAS dnrm2 which
 * scipy.linalg.norm calls). */
static double centred_norm(const double *v, double m, int64_t n) {
    double scale = 0.0, ssq = 1.0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(v[i] - m);
        if (a == 0.0) continue;
        if (scale < a) {
            ssq = 1.0 + ssq * (scale / a) * (scale / a);
            scale = a;
        } else
            ssq += (a / scale) * (a / scale);
    }
    return scale * sqrt(ssq);
}

double xf_la_pearson(const double *x, const double *y, int64_t n) {
    if (n < 2) return NAN;
    int cx = 1, cy = 1;
    for (int64_t i = 1; i < n; i++) {
        if (x[i] != x[0]) cx = 0;
        if (y[i] != y[0]) cy = 0;
    }
    if (cx || cy) return NAN;
    if (n == 2) {
        double a = x[1] - x[0], b = y[1] - y[0];
        double sa = (a > 0) - (a < 0), sb = (b > 0) - (b < 0);
        if (isnan(a) || isnan(b)) return NAN;
        return sa * sb;
    }
    double mx = 0.0, my = 0.0;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    if (isnan(mx) || isnan(my)) return NAN;
    /* r = <xm/|xm|, ym/|ym|>, as SciPy: normalising first avoids overflow */
    double nx = centred_norm(x, mx, n), ny = centred_norm(y, my, n);
    double r = 0.0;
    for (int64_t i = 0; i < n; i++) r += ((x[i] - mx) / nx) * ((y[i] - my) / ny);
    if (isnan(r)) return NAN;
    return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
}

xf_status xf_la_spearman(xf_ws_t *ws, const double *x, const double *y, int64_t n, double *rho) {
    *rho = NAN;
    if (n < 2) return XF_OK;
    double *rx = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    double *ry = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    int64_t *idx = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    if (!rx || !ry || !idx) return XF_ERR_NOMEM;
    xf_la_rank_avg(x, n, rx, idx);
    xf_la_rank_avg(y, n, ry, idx);
    *rho = xf_la_pearson(rx, ry, n);
    return XF_OK;
}
