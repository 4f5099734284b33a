/* knn: leave-one-out k-nearest-neighbour accuracy (%) on the probe, the "1-NN CV" proxy
 * of Puigcerver et al. 2021 and Bolya et al. 2021 (dbolya/parc methods.kNN).
 *
 * Design. Squared Euclidean distances come from one GEMM per block of rows,
 * |a|^2 + |b|^2 - 2 a.b in float32 (cosine: 1 - a.b on unit rows). Only the upper block
 * triangle is computed: the block of rows [i0, i1) against columns [i0, N) updates both
 * the rows' and the columns' candidate lists, so each pair is multiplied once and the
 * memory is one (B, N - i0) block, never N x N (N = 20000, D = 512: a 33 MB block).
 * Each row keeps its K' = k + 8 best candidates by the float32 distance. If the gap
 * between the k-th and (k+1)-th exceeds twice the float32 error bound, the set of the k
 * nearest (all the vote needs) is already exact; otherwise the candidates are re-ranked
 * by the exact float64 distance computed pair by pair. If the float32
 * error bound (D + 8) u (|a|^2 + max |b|^2), u = 2^-24, cannot guarantee that no
 * non-candidate beats the k-th exact distance, that row falls back to an exact scan of
 * all N samples. So the neighbours are those of exact float64 distances, computed pair by
 * pair (as scipy's cdist, not sklearn's |a|^2 + |b|^2 - 2ab formula, which rounds
 * near-duplicates differently).
 * Range: float32 squared norms overflow from |x| ~ 1.8e19 (and underflow below ~1e-19),
 * so for l2 the GEMM operand is the features times a power of two s that brings the
 * largest squared norm near 1 (exact: only values below 2^-126 / s lose bits, far under
 * the error bound); the exact distances stay in float64 on the unscaled rows and are
 * multiplied by s^2, so both sides compare on one scale. The nearest-neighbour sets do
 * not change under a uniform scale.
 *
 * Rules (docs/ESTIMATORS.md):
 *   - the sample itself is excluded BY INDEX. The published code drops sort position 0
 *     and assumes it is the sample; with duplicate rows (distance 0) argsort may put the
 *     duplicate first, and the sample then votes for itself;
 *   - equal distances: the lower index wins;
 *   - equal vote counts among the k neighbours: the smallest label wins (scipy.stats.mode).
 *     The published code instead scores every vote when all k votes differ.
 *   - cosine: a zero row has similarity 0 to everything (distance 1), as sklearn.
 * Parameters: k=1, metric=l2|cosine, dims=0 (PCA components, 0 = none), pca, seed,
 * block=0 (rows per GEMM block; 0 = about 32 MB). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

enum { KNN_EXTRA = 8 }; /* spare float32 candidates per row before the exact re-rank */

typedef struct knn_data {
    int64_t N, D;
    const float *X; /* (N, D) float32 rows used by the GEMM, ld = ldx */
    int64_t ldx;
    const float *F; /* exact rows: float features (ldF) ... */
    int64_t ldF;
    const double *Xd; /* ... or PCA scores (N, D) in double when non-NULL */
    int cosine;
    const double *nrm; /* (N) exact |x_i| (cosine) or s^2 |x_i|^2 (l2) */
    double sc2;        /* s^2: exact l2 distances are reported on the GEMM operand's scale */
} knn_data;

/* Exact float64 distance (squared for l2, 1 - cos for cosine), computed pair by pair. */
static double exact_dist(const knn_data *d, int64_t i, int64_t j) {
    double s = 0;
    if (d->Xd) {
        const double *a = d->Xd + i * d->D, *b = d->Xd + j * d->D;
        if (d->cosine) for (int64_t t = 0; t < d->D; t++) s += a[t] * b[t];
        else for (int64_t t = 0; t < d->D; t++) { double e = a[t] - b[t]; s += e * e; }
    } else {
        const float *a = d->F + i * d->ldF, *b = d->F + j * d->ldF;
        if (d->cosine) for (int64_t t = 0; t < d->D; t++) s += (double)a[t] * b[t];
        else for (int64_t t = 0; t < d->D; t++) { double e = (double)a[t] - b[t]; s += e * e; }
    }
    if (!d->cosine) return s * d->sc2;
    double den = d->nrm[i] * d->nrm[j];
    return den > 0 ? 1.0 - s / den : 1.0;
}

/* Candidate list of one row, ascending by (distance, index); the last entry is the worst. */
static inline void list_insert(float *ld, int32_t *lj, int K, float v, int32_t j) {
    int p = K - 1;
    if (!(v < ld[p] || (v == ld[p] && j < lj[p]))) return;
    while (p > 0 && (v < ld[p - 1] || (v == ld[p - 1] && j < lj[p - 1]))) {
        ld[p] = ld[p - 1];
        lj[p] = lj[p - 1];
        p--;
    }
    ld[p] = v;
    lj[p] = j;
}

typedef struct { double d; int64_t j; } dj;
static int cmp_dj(const void *a, const void *b) {
    const dj *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Plurality vote; ties to the smallest label. */
static int32_t vote(const int32_t *y, const dj *nb, int k) {
    int32_t best = -1;
    int bc = 0;
    for (int a = 0; a < k; a++) {
        int32_t l = y[nb[a].j];
        int c = 0;
        for (int b = 0; b < k; b++) c += y[nb[b].j] == l;
        if (c > bc || (c == bc && l < best)) { bc = c; best = l; }
    }
    return best;
}

static xf_status knn_fn(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    const char *m = "knn";
    int64_t k, dims, B;
    xf_status st;
    if ((st = xf_params_i64(ctx, p, m, "k", 1, &k))) return st;
    if ((st = xf_params_i64(ctx, p, m, "block", 0, &B))) return st;
    if ((st = xf_params_i64(ctx, p, m, "dims", 0, &dims))) return st;
    const char *metric = xf_params_str(p, m, "metric", "l2");
    int cosine;
    if (strcmp(metric, "l2") == 0 || strcmp(metric, "euclidean") == 0) cosine = 0;
    else if (strcmp(metric, "cosine") == 0) cosine = 1;
    else return XF_ERR(ctx, XF_ERR_INVALID, "knn: parameter metric: '%s' is not l2 or cosine", metric);
    const int64_t N = in->N;
    if (k < 1 || k > N - 1)
        return XF_ERR(ctx, XF_ERR_INVALID, "knn: parameter k=%lld must be in 1..N-1 = %lld", (long long)k,
                      (long long)N - 1);
    if (dims < 0) return XF_ERR(ctx, XF_ERR_INVALID, "knn: parameter dims=%lld is negative", (long long)dims);
    if (B < 0) return XF_ERR(ctx, XF_ERR_INVALID, "knn: parameter block=%lld is negative", (long long)B);
    if (N > INT32_MAX) return XF_ERR(ctx, XF_ERR_INVALID, "knn: %lld samples is too many", (long long)N);
    {
        /* one class: every neighbour agrees and the accuracy is a meaningless 100 */
        int64_t i = 1;
        while (i < N && in->y[i] == in->y[0]) i++;
        if (i == N)
            return XF_ERR(ctx, XF_ERR_INVALID, "knn: all %lld samples have the same class (one class): nothing to score",
                          (long long)N);
    }
    int nth = xf_ctx_threads(ctx);
    xf_la_set_threads(nth);

    knn_data d = {.N = N, .D = in->D, .F = in->F, .ldF = in->ldF, .cosine = cosine, .sc2 = 1.0};
    if (dims > 0) {
        double *Xd;
        int64_t kd;
        if ((st = xf_est_pca(ctx, m, in, p, ws, dims, &Xd, &kd))) return st;
        d.Xd = Xd;
        d.D = kd;
    }
    const int64_t D = d.D;
    /* (N, D) float32 GEMM operand: the features as given (l2, no PCA), else a copy */
    double *nrm = xf_ws_alloc(ws, (size_t)N * sizeof *nrm); // (N)
    float *sq = xf_ws_alloc(ws, (size_t)N * sizeof *sq);     // (N) float |x|^2 for the GEMM form
    if (!nrm || !sq) return XF_ERR_NOMEM;
    double sqmax = 0;
    for (int64_t i = 0; i < N; i++) {
        double s = 0;
        if (d.Xd) for (int64_t t = 0; t < D; t++) s += d.Xd[i * D + t] * d.Xd[i * D + t];
        else for (int64_t t = 0; t < D; t++) s += (double)in->F[i * in->ldF + t] * in->F[i * in->ldF + t];
        nrm[i] = cosine ? sqrt(s) : s;
        if (s > sqmax) sqmax = s;
    }
    /* l2: the power of two s = 2^-e with s^2 sqmax in [2^-2, 2^0) unless the squared
     * norms already sit well inside the float32 range (then s = 1: no copy) */
    double sc = 1.0;
    if (!cosine && sqmax > 0 && (sqmax > 0x1p60 || sqmax < 0x1p-60)) {
        int e;
        frexp(sqmax, &e);
        sc = ldexp(1.0, -((e + 1) / 2));
        d.sc2 = sc * sc;
        sqmax *= d.sc2;
        for (int64_t i = 0; i < N; i++) nrm[i] *= d.sc2;
    }
    float *Xc = NULL;
    if (cosine || d.Xd || sc != 1.0) {
        Xc = xf_ws_alloc(ws, (size_t)N * (size_t)D * sizeof *Xc); // (N, D)
        if (!Xc) return XF_ERR_NOMEM;
    }
    for (int64_t i = 0; i < N; i++) {
        double f = cosine ? (nrm[i] > 0 ? 1.0 / nrm[i] : 0.0) : sc;
        if (Xc)
            for (int64_t t = 0; t < D; t++)
                Xc[i * D + t] = (float)((d.Xd ? d.Xd[i * D + t] : (double)in->F[i * in->ldF + t]) * f);
        if (!cosine) sq[i] = (float)nrm[i];
    }
    d.nrm = nrm;
    d.X = Xc ? Xc : in->F;
    d.ldx = Xc ? D : in->ldF;
    const double u = 0x1p-24;

    /* candidate lists (N, K) */
    const int K = (int)(k + KNN_EXTRA < N - 1 ? k + KNN_EXTRA : N - 1);
    float *Ld = xf_ws_alloc(ws, (size_t)N * K * sizeof *Ld);
    int32_t *Lj = xf_ws_alloc(ws, (size_t)N * K * sizeof *Lj);
    if (!Ld || !Lj) return XF_ERR_NOMEM;
    for (int64_t t = 0; t < N * K; t++) { Ld[t] = FLT_MAX; Lj[t] = INT32_MAX; }

    /* block of B rows: at most about 32 MB of float32 products, and beyond 2000 rows at
     * most N/8 rows, so that the computed part (N^2/2 + N B/2 products) stays near the
     * triangle; small N: one block, one SYRK */
    if (B <= 0) {
        B = ((int64_t)8 << 20) / N;
        if (N > 2000 && B > (N + 7) / 8) B = (N + 7) / 8;
        if (B < 64) B = 64;
    }
    if (B > N) B = N;
    float *G = xf_ws_alloc(ws, (size_t)B * (size_t)N * sizeof *G); // (B, N - i0), ld = N - i0
    if (!G) return XF_ERR_NOMEM;
    enum { CH = 64 };
    for (int64_t i0 = 0; i0 < N; i0 += B) {
        const int64_t i1 = i0 + B < N ? i0 + B : N, nb = i1 - i0, nc = N - i0;
        if (nb == N && d.ldx == D) /* one block: the symmetric product costs half */
            xf_la_ssyrk(0, N, D, 1.0f, d.X, d.ldx, 0.0f, G, N);
        else
            xf_la_sgemm(0, 1, nb, nc, D, 1.0f, d.X + i0 * d.ldx, d.ldx, d.X + i0 * d.ldx, d.ldx, 0.0f, G, nc);
        /* products -> float32 distances, then the rows' own lists (all j >= i0, j != i) */
        XF_OMP(parallel for schedule(dynamic, 4) num_threads(nth))
        for (int64_t r = 0; r < nb; r++) {
            float *g = G + r * nc;
            const int64_t i = i0 + r;
            if (cosine) for (int64_t c = 0; c < nc; c++) g[c] = 1.0f - g[c];
            else {
                const float si = sq[i], *sj = sq + i0;
                for (int64_t c = 0; c < nc; c++) g[c] = si + sj[c] - 2.0f * g[c];
            }
            float *ld = Ld + i * K;
            int32_t *lj = Lj + i * K;
            for (int64_t c = 0; c < nc; c++)
                if (g[c] <= ld[K - 1] && c != r) list_insert(ld, lj, K, g[c], (int32_t)(i0 + c));
        }
        /* the columns beyond the block: their lists get the pairs with the block's rows */
        const int64_t nch = (N - i1 + CH - 1) / CH;
        XF_OMP(parallel for schedule(dynamic, 1) num_threads(nth))
        for (int64_t q = 0; q < nch; q++) {
            const int64_t c0 = (i1 - i0) + q * CH, c1 = c0 + CH < nc ? c0 + CH : nc;
            for (int64_t r = 0; r < nb; r++) {
                const float *g = G + r * nc;
                for (int64_t c = c0; c < c1; c++) {
                    const int64_t j = i0 + c;
                    if (g[c] <= Ld[j * K + K - 1]) list_insert(Ld + j * K, Lj + j * K, K, g[c], (int32_t)(i0 + r));
                }
            }
        }
    }

    /* The vote needs only the SET of the k nearest. It is certain from float32 alone when
     * the gap between the k-th and (k+1)-th float32 distances exceeds twice the error
     * bound (every other sample is then strictly farther in exact arithmetic too); else
     * the candidates are re-ranked exactly, and where even that cannot decide, the row is
     * scanned exactly. */
    int64_t correct = 0, fallbacks = 0;
    dj *nbuf = xf_ws_alloc(ws, (size_t)nth * (size_t)N * sizeof *nbuf); // (nth, N) per-thread scan space
    if (!nbuf) return XF_ERR_NOMEM;
    XF_OMP(parallel for schedule(dynamic, 16) num_threads(nth) reduction(+ : correct, fallbacks))
    for (int64_t i = 0; i < N; i++) {
        dj *nbh = nbuf + (int64_t)xf_est_tid() * N;
        const double bound = cosine ? (double)(D + 8) * u * 4.0 : (double)(D + 8) * u * (nrm[i] + sqmax);
        /* a list not filled (no finite float32 distance) cannot be trusted: exact scan */
        const int filled = Lj[i * K + K - 1] != INT32_MAX;
        if (filled && (K == k || (double)Ld[i * K + k] - (double)Ld[i * K + k - 1] > 2.0 * bound)) {
            for (int a = 0; a < k; a++) nbh[a].j = Lj[i * K + a];
            correct += vote(in->y, nbh, (int)k) == in->y[i];
            continue;
        }
        if (filled) {
            for (int a = 0; a < K; a++) { nbh[a].j = Lj[i * K + a]; nbh[a].d = exact_dist(&d, i, nbh[a].j); }
            qsort(nbh, (size_t)K, sizeof *nbh, cmp_dj);
        }
        if (K < N - 1 || !filled) {
            /* any non-candidate j has float32 distance >= Ld[worst]; its exact distance is
             * at least that minus the bound */
            if (!filled || !((double)Ld[i * K + K - 1] - bound > nbh[k - 1].d)) {
                fallbacks++;
                int64_t n = 0;
                for (int64_t j = 0; j < N; j++)
                    if (j != i) { nbh[n].j = j; nbh[n].d = exact_dist(&d, i, j); n++; }
                qsort(nbh, (size_t)n, sizeof *nbh, cmp_dj);
            }
        }
        correct += vote(in->y, nbh, (int)k) == in->y[i];
    }
    if (fallbacks) xf_log(ctx, XF_LOG_DEBUG, "knn: %lld of %lld rows re-ranked by an exact scan", (long long)fallbacks,
                          (long long)N);
    *score = 100.0 * (double)correct / (double)N;
    return XF_OK;
}

static const char *const knn_params[] = {
    "k=1  neighbours that vote (ties: smallest label)",
    "metric=l2  l2 (Euclidean) or cosine",
    "dims=0  PCA components before the search (0 = none; clamped to min(N-1, D))",
    "pca=exact  PCA solver when dims > 0: exact or randomized",
    "seed=1919  seed of the randomized PCA",
    "block=0  rows per GEMM block (0 = about 32 MB of products)",
    NULL};

const xf_estimator xf_est_def_knn = {
    .name = "knn",
    .flags = XF_NEEDS_F,
    .summary = "leave-one-out k-NN accuracy in % (1-NN CV; sample excluded by index)",
    .params = knn_params,
    .fn = knn_fn,
};
