/* linalg/rank: average ranks, Kendall's tau-b and the weighted tau, bit-compatible with
 * SciPy 1.10 (scipy.stats.rankdata / kendalltau / weightedtau with default arguments).
 *
 * Design: every statistic here depends on the data only through comparisons, so the
 * inputs are first mapped to dense integer ranks (order-preserving); that also gives
 * weightedtau's NaN rule (SciPy's _toint64 ranks NaN below every number, all NaNs tied)
 * for free. Kendall follows Knight (1966) as SciPy does: sort by (x, y), count
 * discordant pairs with a Fenwick tree, correct for ties; O(n log n). The weighted tau
 * follows Vigna (2015), "A weighted correlation index for rankings with ties", with
 * SciPy's exact operation order (its merge-sort recursion and accumulation order) so
 * the floating-point result is the same. */
#include <math.h>
#include <string.h>

#include "linalg/linalgInt.h"

/* ---- sorting helpers ---- */

/* Heap sort of idx by x[idx], ascending (desc = 0) or descending; no extra memory,
 * O(n log n), not stable. A max-heap gives ascending order, a min-heap descending. */
static int heap_before(const double *x, int64_t a, int64_t b, int desc) { return desc ? x[a] < x[b] : x[a] > x[b]; }
static void sift_down(const double *x, int64_t *idx, int64_t root, int64_t end, int desc) {
    for (;;) {
        int64_t c = 2 * root + 1;
        if (c >= end) return;
        if (c + 1 < end && heap_before(x, idx[c + 1], idx[c], desc)) c++;
        if (heap_before(x, idx[c], idx[root], desc)) {
            int64_t t = idx[c];
            idx[c] = idx[root];
            idx[root] = t;
            root = c;
        } else
            return;
    }
}
/* Sort the n indices already in idx. */
static void heapsort_idx(const double *x, int64_t *idx, int64_t n, int desc) {
    for (int64_t i = n / 2 - 1; i >= 0; i--) sift_down(x, idx, i, n, desc);
    for (int64_t e = n - 1; e > 0; e--) {
        int64_t t = idx[0];
        idx[0] = idx[e];
        idx[e] = t;
        sift_down(x, idx, 0, e, desc);
    }
}

void xf_la_argsort(const double *x, int64_t n, int64_t *idx, int desc) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    heapsort_idx(x, idx, n, desc);
}

void xf_la_rank_avg(const double *x, int64_t n, double *ranks, int64_t *idx) {
    if (n <= 0) return;
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i])) { /* rankdata(nan_policy='propagate') */
            for (int64_t j = 0; j < n; j++) ranks[j] = NAN;
            return;
        }
    xf_la_argsort(x, n, idx, 0);
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && x[idx[j]] == x[idx[i]]) j++;
        /* SciPy: 0.5 * (count[dense] + count[dense-1] + 1) with count = group starts */
        double r = 0.5 * (double)(j + i + 1);
        for (int64_t t = i; t < j; t++) ranks[idx[t]] = r;
        i = j;
    }
}

/* Dense ranks of x (1-based; NaN -> 0, all NaNs tied), using idx (n) as scratch. */
static void dense_rank(const double *x, int64_t n, int64_t *out, int64_t *idx) {
    /* NaNs are set aside first: they would break the heap's ordering. */
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i])) out[i] = 0;
        else idx[m++] = i;
    heapsort_idx(x, idx, m, 0); /* the non-NaN indices */
    int64_t r = 1;
    for (int64_t i = 0; i < m; i++) {
        if (i > 0 && x[idx[i]] != x[idx[i - 1]]) r++;
        out[idx[i]] = r;
    }
}

/* Stable merge sort of perm (n) by the key pair (a[p], b[p]) ascending; tmp (n). Stable
 * so that equal pairs keep index order, as np.lexsort does. */
static void lexsort2(const int64_t *a, const int64_t *b, int64_t *perm, int64_t *tmp, int64_t n) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    int64_t *src = perm, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int64_t p = src[i], q = src[j];
                int take_right = a[q] < a[p] || (a[q] == a[p] && b[q] < b[p]);
                dst[k++] = take_right ? src[j++] : src[i++];
            }
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != perm) memcpy(perm, src, sizeof(int64_t) * (size_t)n);
}

/* ---- Kendall tau-b ---- */
xf_status xf_la_kendall(xf_ws_t *ws, const double *x, const double *y, int64_t n, double *tau) {
    *tau = NAN;
    if (n <= 1) return XF_OK;
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i])) return XF_OK; /* nan_policy='propagate' */
    int64_t *rx = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *ry = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *perm = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *tmp = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *cnt = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)(n + 2));
    int64_t *fen = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)(n + 2));
    if (!rx || !ry || !perm || !tmp || !cnt || !fen) return XF_ERR_NOMEM;
    dense_rank(x, n, rx, tmp);
    dense_rank(y, n, ry, tmp);
    lexsort2(rx, ry, perm, tmp, n);
    int64_t *sx = tmp, *sy = cnt; /* sorted rank sequences (reuse buffers) */
    for (int64_t i = 0; i < n; i++) {
        sx[i] = rx[perm[i]];
        sy[i] = ry[perm[i]];
    }
    /* discordant pairs (SciPy _kendall_dis): Fenwick tree over y ranks */
    int64_t sup = 1;
    for (int64_t i = 0; i < n; i++)
        if (sy[i] + 1 > sup) sup = sy[i] + 1;
    memset(fen, 0, sizeof(int64_t) * (size_t)sup);
    int64_t dis = 0;
    for (int64_t i = 0, k = 0; i < n;) {
        while (k < n && sx[i] == sx[k]) {
            dis += i;
            for (int64_t id = sy[k]; id != 0; id &= id - 1) dis -= fen[id];
            k++;
        }
        for (; i < k; i++)
            for (int64_t id = sy[i]; id < sup; id += id & -id) fen[id]++;
    }
    /* joint ties: runs of equal (x, y) in sorted order */
    int64_t ntie = 0, xtie = 0, ytie = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && sx[j] == sx[i] && sy[j] == sy[i]) j++;
        ntie += (j - i) * (j - i - 1) / 2;
        i = j;
    }
    for (int64_t i = 0; i < n;) { /* x ties: sx is sorted */
        int64_t j = i + 1;
        while (j < n && sx[j] == sx[i]) j++;
        xtie += (j - i) * (j - i - 1) / 2;
        i = j;
    }
    memset(fen, 0, sizeof(int64_t) * (size_t)sup); /* y ties: bincount */
    for (int64_t i = 0; i < n; i++) fen[sy[i]]++;
    for (int64_t v = 0; v < sup; v++) ytie += fen[v] * (fen[v] - 1) / 2;
    int64_t tot = n * (n - 1) / 2;
    if (xtie == tot || ytie == tot) return XF_OK;
    int64_t cmd = tot - xtie - ytie + ntie - 2 * dis;
    double t = (double)cmd / sqrt((double)(tot - xtie)) / sqrt((double)(tot - ytie));
    *tau = t > 1.0 ? 1.0 : (t < -1.0 ? -1.0 : t);
    return XF_OK;
}

/* ---- weighted tau (SciPy _weightedrankedtau, additive hyperbolic weigher) ---- */
typedef struct wt_state {
    const int64_t *y, *rank;
    int64_t *perm, *temp;
    double exch;
} wt_state;

static inline double weigh1(int64_t r) { return 1.0 / (1.0 + (double)r); }

/* Sorts perm[offset, offset+length) by y, accumulating the weight of exchanges. */
static double wt_weigh(wt_state *s, int64_t offset, int64_t length) {
    if (length == 1) return weigh1(s->rank[s->perm[offset]]);
    int64_t length0 = length / 2, length1 = length - length0, middle = offset + length0;
    double residual = wt_weigh(s, offset, length0);
    double weight = wt_weigh(s, middle, length1) + residual;
    const int64_t *y = s->y;
    int64_t *perm = s->perm, *temp = s->temp;
    if (y[perm[middle - 1]] < y[perm[middle]]) return weight;
    int64_t i = 0, j = 0, k = 0;
    while (j < length0 && k < length1) {
        if (y[perm[offset + j]] <= y[perm[middle + k]]) {
            temp[i] = perm[offset + j];
            residual -= weigh1(s->rank[temp[i]]);
            j++;
        } else {
            temp[i] = perm[middle + k];
            s->exch += weigh1(s->rank[temp[i]]) * (double)(length0 - j) + residual;
            k++;
        }
        i++;
    }
    memmove(perm + offset + i, perm + offset + j, sizeof(int64_t) * (size_t)(length0 - j));
    memcpy(perm + offset, temp, sizeof(int64_t) * (size_t)i);
    return weight;
}

/* Sum over tie runs (by key) of s * (run length - 1), s = sum of weights in the run. */
static double tie_weight(const int64_t *x, const int64_t *y2, const int64_t *perm, const int64_t *rank, int64_t n,
                         int *constant) {
    int64_t first = 0;
    double t = 0.0, w = weigh1(rank[perm[0]]), s = w;
    for (int64_t i = 1; i < n; i++) {
        if (x[perm[first]] != x[perm[i]] || (y2 && y2[perm[first]] != y2[perm[i]])) {
            t += s * (double)(i - first - 1);
            first = i;
            s = 0.0;
        }
        w = weigh1(rank[perm[i]]);
        s += w;
    }
    t += s * (double)(n - first - 1);
    if (constant) *constant = first == 0;
    return t;
}

static double weighted_ranked_tau(const int64_t *x, const int64_t *y, int64_t n, int64_t *perm, int64_t *temp,
                                  int64_t *rank) {
    lexsort2(x, y, perm, temp, n); /* np.lexsort((y, x)): by x, then y, stable */
    /* rank = inverse of the reversed permutation: the largest pair gets rank 0 */
    for (int64_t i = 0; i < n; i++) rank[perm[n - 1 - i]] = i;
    int constant;
    double t = tie_weight(x, y, perm, rank, n, NULL);  /* joint ties */
    double u = tie_weight(x, NULL, perm, rank, n, &constant); /* ties in x */
    if (constant) return NAN;
    wt_state st = {y, rank, perm, temp, 0.0};
    wt_weigh(&st, 0, n);
    double v = tie_weight(y, NULL, perm, rank, n, &constant); /* ties in y (perm now sorted by y) */
    if (constant) return NAN;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += weigh1(rank[perm[i]]);
    double tot = s * (double)(n - 1);
    double tau = ((tot - (v + u - t)) - 2.0 * st.exch) / sqrt(tot - u) / sqrt(tot - v);
    return tau > 1.0 ? 1.0 : (tau < -1.0 ? -1.0 : tau);
}

xf_status xf_la_weightedtau(xf_ws_t *ws, const double *x, const double *y, int64_t n, double *tau) {
    *tau = NAN;
    if (n <= 0) return XF_OK;
    int64_t *rx = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *ry = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *perm = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *temp = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    int64_t *rank = xf_ws_alloc(ws, sizeof(int64_t) * (size_t)n);
    if (!rx || !ry || !perm || !temp || !rank) return XF_ERR_NOMEM;
    dense_rank(x, n, rx, temp);
    dense_rank(y, n, ry, temp);
    double a = weighted_ranked_tau(rx, ry, n, perm, temp, rank);
    double b = weighted_ranked_tau(ry, rx, n, perm, temp, rank);
    *tau = (a + b) / 2;
    return XF_OK;
}
