/* bench/metrics: the per-target metrics of a model-selection method (benchmark.h).
 *
 * PARC's benchmark (Bolya et al., NeurIPS 2021, Eq. 2) correlates a method's scores with
 * the fine-tuned accuracies over the models of one target; rows whose oracle is <= 0 are
 * left out (metrics.pearson). The rank correlations reuse linalg's SciPy-exact Spearman,
 * Kendall tau-b and weighted tau. SciPy answers NaN when a side is constant; here that is
 * 0, because a constant column orders nothing and a NaN would poison the mean over
 * targets (PARC's evaluator leaves it NaN, which prints as nan).
 *
 * top-k relative accuracy (PARC supp. section 5): the mean oracle of the k best-scored
 * models over the best oracle. Tied scores make "the k best" ambiguous, so the models of
 * a tied group that straddles place k share the remaining places equally: the expected
 * value under a uniformly random order among ties. Regret is the best oracle minus the
 * top-1 pick's oracle, with the same rule. */
#include <math.h>
#include <string.h>

#include "xfer/benchmark.h"
#include "xfer/linalg.h"

/* Expected mean oracle of the k best-scored models; idx sorted by score descending. */
static double topk_mean(const double *score, const double *oracle, const int64_t *idx, int64_t n, int64_t k) {
    if (k > n) k = n;
    double sum = 0.0;
    int64_t left = k;
    for (int64_t i = 0; i < n && left > 0;) {
        int64_t j = i + 1;
        while (j < n && score[idx[j]] == score[idx[i]]) j++;
        double g = 0.0;
        for (int64_t t = i; t < j; t++) g += oracle[idx[t]];
        int64_t size = j - i;
        if (size <= left) {
            sum += g;
            left -= size;
        } else {
            sum += g * (double)left / (double)size; /* each tied model holds left/size places */
            left = 0;
        }
        i = j;
    }
    return sum / (double)k;
}

static double zero_if_nan(double v) { return isnan(v) ? 0.0 : v; }

xf_status xf_bench_metrics_compute(xf_ws_t *ws, const double *score, const double *oracle, int64_t n,
                                   xf_bench_metrics *out) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    memset(out, 0, sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(score[i])) return XF_ERR(ctx, XF_ERR_NUMERIC, "score %lld is not a finite number", (long long)i);
        if (!isfinite(oracle[i])) return XF_ERR(ctx, XF_ERR_NUMERIC, "oracle %lld is not a finite number", (long long)i);
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += oracle[i] > 0;
    if (m < 2) return XF_ERR(ctx, XF_ERR_INVALID, "%lld model(s) with an oracle > 0: a correlation needs 2", (long long)m);
    double *x = xf_ws_alloc(ws, sizeof(double) * (size_t)m); /* (m) scores */
    double *y = xf_ws_alloc(ws, sizeof(double) * (size_t)m); /* (m) oracles */
    int64_t *idx = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)m);
    if (!x || !y || !idx) return XF_ERR_NOMEM;
    for (int64_t i = 0, j = 0; i < n; i++)
        if (oracle[i] > 0) {
            x[j] = score[i];
            y[j++] = oracle[i];
        }
    double sp, kt, wt;
    xf_status st;
    if ((st = xf_la_spearman(ws, x, y, m, &sp)) != XF_OK) return st;
    if ((st = xf_la_kendall(ws, x, y, m, &kt)) != XF_OK) return st;
    if ((st = xf_la_weightedtau(ws, x, y, m, &wt)) != XF_OK) return st;
    out->pearson = 100.0 * zero_if_nan(xf_la_pearson(x, y, m));
    out->spearman = 100.0 * zero_if_nan(sp);
    out->kendall = 100.0 * zero_if_nan(kt);
    out->weighted_tau = 100.0 * zero_if_nan(wt);
    double best = y[0];
    for (int64_t i = 1; i < m; i++)
        if (y[i] > best) best = y[i];
    xf_la_argsort(x, m, idx, 1); /* by score, descending */
    double top1 = topk_mean(x, y, idx, m, 1);
    out->top1 = 100.0 * top1 / best;
    out->top3 = 100.0 * topk_mean(x, y, idx, m, 3) / best;
    out->regret = best - top1;
    out->n = m;
    return XF_OK;
}
