/* parc: PARC, Bolya, Mittapalli, Hoffman, "Scalable Diverse Model Selection for
 * Accessible Transfer Learning", NeurIPS 2021, Eq. 7-8 (dbolya/parc methods.PARC):
 *
 *     Z   = StandardScaler(PCA_f(F))                      (N, f), f = dims = 32
 *     D_f = 1 - corrcoef(Z)   (rows: samples)            (N, N)
 *     D_y = 1 - corrcoef(onehot(y))                        (N, N)
 *     PARC = 100 * spearman(triu(D_f, 1), triu(D_y, 1))    over M = N(N-1)/2 pairs
 *
 * Single-label targets (the rank-sum form). D_y takes two values, 0 for a same-class
 * pair and C/(C-1) otherwise, so the Spearman rho is the point-biserial correlation of
 * the average ranks of D_f with the different-class indicator:
 *
 *     rho = -(R_s - n_s (M + 1) / 2) / sqrt(S_xx * n_s n_d / M),
 *     S_xx = (M^3 - M - sum_ties (t^3 - t)) / 12,
 *
 * with R_s the sum of the average ranks of the n_s same-class pairs, n_d = M - n_s and t
 * the sizes of the groups of tied D_f values (exact tie correction: this is scipy's
 * spearmanr on the same values). R_s and the tie sum are integers (times 2) and are
 * accumulated exactly in 128-bit integers.
 *
 * Computing R_s without sorting M values: each D_f is rounded to float32, whose bit
 * pattern orders non-negative values (D_f = 1 - float32(corr), see dfeat). Pass 1
 * computes all pairs (GEMM of the unit-norm
 * centred rows, in row blocks) and histograms the top 20 bits (2^18 + 1 buckets for
 * values in [0, 2]); pass 2 computes them again and scatters the low 12 bits, with the
 * same-class flag, as one uint16 per pair into the buckets; then each bucket is sorted
 * (insertion or radix) or counted to give its tie groups and their ranks. Memory: 2 bytes per pair
 * (N = 20000: 400 MB) plus one block of products; time O(N^2 f) for two GEMM passes plus
 * O(N^2) counting. While 4 bytes per pair fit in 256 MB, pass 1 keeps its keys and
 * pass 2 reads them instead of recomputing. Correlations equal in float32 are ties: duplicate rows tie exactly
 * instead of being ordered by rounding noise (as in the published float64 code, where a
 * block of duplicates moves the score by ~3e-4 relative); for distinct values the
 * effect is far below 1e-6 in the score.
 *
 * Multi-label targets (Y, multi-hot) and kernel=plain (the test oracle) use the general
 * Spearman of the two triangles (xf_la_spearman), O(N^2) doubles.
 *
 * Label RDM: computed exactly, so equal label pairs have bit-equal dissimilarities. The
 * published np.corrcoef(onehot) leaves +-1 ulp noise on same-class pairs (0 or 1.1e-16
 * depending on where BLAS put the pair) and spearmanr ranks that noise: its score moves
 * by up to ~0.4% relative, depending on the BLAS. For 0/1 targets,
 * corr(a, b) = (C n_ab - n_a n_b) / sqrt((C n_a - n_a^2)(C n_b - n_b^2)) from counts.
 *
 * Undefined cases are errors, never a number: a constant row of Z (its correlation is
 * NaN in the reference; PARC's evaluator would turn that into 0), a constant label row
 * (multi-label), and a constant D_y (one class only, or every sample its own class).
 * Parameters: dims=32 (0 = no PCA; clamped to min(N-1, D)), pca=exact|randomized,
 * seed=1919, kernel=auto|plain, block=0 (rows per GEMM block; 0 = about 32 MB). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

__extension__ typedef unsigned __int128 u128;

enum { LOW_BITS = 12, NBUCKET = (0x40000000u >> LOW_BITS) + 1, SMALL_BUCKET = 64 };
/* Keep the float32 keys of pass 1 (4 bytes per pair) instead of recomputing the GEMM in
 * pass 2 while they fit in this many bytes (N <= ~11500). */
static const uint64_t KEEP_KEYS_BYTES = (uint64_t)256 << 20;
/* The general kernel refuses inputs whose pair arrays would exceed this (N > ~22000). */
static const double PLAIN_MAX_BYTES = 1e10;

/* Unit-norm centred rows: U_i = (Z_i - mean Z_i) / |.|, so corrcoef(Z)_ij = U_i . U_j.
 * A constant row is an error naming the row. */
static xf_status unit_rows(xf_ctx_t *ctx, double *Z, int64_t N, int64_t d) {
    for (int64_t i = 0; i < N; i++) {
        double *z = Z + i * d, m = 0, s = 0;
        for (int64_t t = 0; t < d; t++) m += z[t];
        m /= (double)d;
        for (int64_t t = 0; t < d; t++) { z[t] -= m; s += z[t] * z[t]; }
        if (!(s > 0))
            return XF_ERR(ctx, XF_ERR_NUMERIC,
                          "parc: row %lld of the reduced, standardised features is constant over its %lld dimensions "
                          "(its correlation is undefined; try more dims)",
                          (long long)i, (long long)d);
        s = 1.0 / sqrt(s);
        for (int64_t t = 0; t < d; t++) z[t] *= s;
    }
    return XF_OK;
}

/* D_f of a pair from the product of unit rows, clipped as np.corrcoef, then
 * 1 - float32(corr) in float32: correlations equal to float32 precision (duplicate rows,
 * ulp noise of the GEMM) are ties, with an absolute resolution of about 1e-7 in D_f. */
static inline float dfeat(double c) {
    if (c > 1.0) c = 1.0;
    if (c < -1.0) c = -1.0;
    return 1.0f - (float)c;
}

static inline uint32_t fkey(float f) {
    uint32_t b; /* f in [0, 2]: the bit pattern is monotone */
    memcpy(&b, &f, sizeof b);
    return b;
}

/* ---- the rank-sum kernel for single-label targets ---- */

typedef struct acc { u128 r2, ties; } acc; /* sum cs (2 base + t + 1), sum t^3 - t */

static inline void tie_group(acc *a, uint64_t base, uint64_t t, uint64_t cs) {
    if (!t) return;
    a->r2 += (u128)cs * (u128)(2 * base + t + 1);
    a->ties += (u128)t * t * t - t;
}

/* The entries of one bucket (low bits << 1 | same flag), ranks starting after base:
 * insertion sort when tiny, a two-pass LSD radix sort (7 + 6 bits) up to RADIX_MAX
 * entries, else counts of the 2^13 possible entries (whose clearing and walk cost 2^13
 * steps, too much for the many mid-size buckets of a small probe). tmp: RADIX_MAX. */
enum { RADIX_MAX = 2048 };
static void bucket_ranks(uint16_t *e, uint64_t n, uint64_t base, uint64_t *h, uint16_t *tmp, acc *a) {
    if (n <= RADIX_MAX) {
        if (n <= SMALL_BUCKET) {
            for (uint64_t i = 1; i < n; i++) { /* insertion sort */
                uint16_t v = e[i];
                uint64_t j = i;
                while (j > 0 && e[j - 1] > v) { e[j] = e[j - 1]; j--; }
                e[j] = v;
            }
        } else {
            uint32_t c0[129] = {0}, c1[65] = {0};
            for (uint64_t i = 0; i < n; i++) { c0[(e[i] & 127) + 1]++; c1[(e[i] >> 7) + 1]++; }
            for (int b = 0; b < 128; b++) c0[b + 1] += c0[b];
            for (int b = 0; b < 64; b++) c1[b + 1] += c1[b];
            for (uint64_t i = 0; i < n; i++) tmp[c0[e[i] & 127]++] = e[i];
            for (uint64_t i = 0; i < n; i++) e[c1[tmp[i] >> 7]++] = tmp[i];
        }
        uint64_t i = 0;
        while (i < n) {
            uint64_t j = i, cs = 0;
            while (j < n && (e[j] >> 1) == (e[i] >> 1)) cs += e[j++] & 1;
            tie_group(a, base, j - i, cs);
            base += j - i;
            i = j;
        }
        return;
    }
    memset(h, 0, sizeof(uint64_t) << (LOW_BITS + 1));
    for (uint64_t i = 0; i < n; i++) h[e[i]]++;
    for (uint32_t v = 0; v < (1u << LOW_BITS); v++) {
        uint64_t cd = h[2 * v], cs = h[2 * v + 1];
        tie_group(a, base, cd + cs, cs);
        base += cd + cs;
    }
}

#define PARC_PAIRS_PER_CHUNK 65536

static xf_status parc_ranksum(xf_ctx_t *ctx, xf_ws_t *ws, const double *U, int64_t N, int64_t d,
                              const int32_t *y, int nth, int64_t B, int recompute, u128 *R2, u128 *T) {
    const int P = nth; /* fixed chunks per block: the same pairs land in the same chunk in both passes */
    if (B <= 0) { /* about 32 MB of products per block */
        B = ((int64_t)4 << 20) / N;
        if (B < 32) B = 32;
    }
    if (B > N) B = N;
    double *G = xf_ws_alloc(ws, (size_t)B * (size_t)N * sizeof *G);       // (B, N - i0)
    int64_t *hist = xf_ws_calloc(ws, (size_t)P * NBUCKET, sizeof *hist);  // (P, NBUCKET) counts, then cursors
    int64_t *start = xf_ws_alloc(ws, (size_t)(NBUCKET + 1) * sizeof *start);
    uint64_t M = (uint64_t)N * (uint64_t)(N - 1) / 2;
    uint16_t *E = xf_ws_alloc(ws, (size_t)M * sizeof *E); // (M) low bits | same flag, bucketed
    uint64_t *hb = xf_ws_alloc(ws, (size_t)nth * ((size_t)2 << LOW_BITS) * sizeof *hb); // (nth, 2^13) per-thread counts
    uint16_t *tb = xf_ws_alloc(ws, (size_t)nth * RADIX_MAX * sizeof *tb);              // (nth, RADIX_MAX) radix scratch
    acc *accs = xf_ws_calloc(ws, (size_t)nth, sizeof *accs);
    if (!G || !hist || !start || !E || !hb || !tb || !accs) return XF_ERR_NOMEM;
    uint32_t *Kk = NULL; // (M) float32 keys of pass 1 in pair order, when small enough
    if (!recompute && M * sizeof *Kk <= KEEP_KEYS_BYTES && !(Kk = xf_ws_alloc(ws, (size_t)M * sizeof *Kk))) return XF_ERR_NOMEM;

    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i0 = 0; i0 < N - 1; i0 += B) {
            const int64_t i1 = i0 + B < N ? i0 + B : N, nb = i1 - i0, nc = N - i0;
            if (pass == 0 || !Kk) xf_la_dgemm(0, 1, nb, nc, d, 1.0, U + i0 * d, d, U + i0 * d, d, 0.0, G, nc);
            XF_OMP(parallel for schedule(static, 1) num_threads(nth))
            for (int q = 0; q < P; q++) {
                int64_t *hq = hist + (int64_t)q * NBUCKET;
                for (int64_t r = nb * q / P; r < nb * (q + 1) / P; r++) {
                    const double *g = G + r * nc;
                    const int64_t i = i0 + r;
                    const int32_t yi = y[i];
                    /* pairs (i, j > i) in row-major triangle order */
                    uint32_t *kr = Kk ? Kk + (uint64_t)i * (uint64_t)(2 * N - i - 1) / 2 : NULL; // kr[j - i - 1]
                    if (pass == 0) {
                        for (int64_t c = r + 1; c < nc; c++) {
                            uint32_t b = fkey(dfeat(g[c]));
                            if (kr) kr[c - r - 1] = b;
                            hq[b >> LOW_BITS]++;
                        }
                    } else {
                        for (int64_t c = r + 1; c < nc; c++) {
                            uint32_t b = kr ? kr[c - r - 1] : fkey(dfeat(g[c]));
                            E[hq[b >> LOW_BITS]++] =
                                (uint16_t)(((b & ((1u << LOW_BITS) - 1)) << 1) | (uint32_t)(y[i0 + c] == yi));
                        }
                    }
                }
            }
        }
        if (pass == 0) {
            /* bucket starts, then per-chunk cursors inside each bucket */
            int64_t s = 0;
            for (int64_t b = 0; b < NBUCKET; b++) {
                start[b] = s;
                for (int q = 0; q < P; q++) {
                    int64_t c = hist[(int64_t)q * NBUCKET + b];
                    hist[(int64_t)q * NBUCKET + b] = s;
                    s += c;
                }
            }
            start[NBUCKET] = s;
            if ((uint64_t)s != M) return XF_ERR(ctx, XF_ERR_INTERNAL, "parc: counted %lld pairs, expected %llu", (long long)s, (unsigned long long)M);
        }
    }
    XF_OMP(parallel for schedule(dynamic, 1024) num_threads(nth))
    for (int64_t b = 0; b < NBUCKET; b++) {
        uint64_t n = (uint64_t)(start[b + 1] - start[b]);
        if (!n) continue;
        int t = xf_est_tid();
        bucket_ranks(E + start[b], n, (uint64_t)start[b], hb + (size_t)t * ((size_t)2 << LOW_BITS),
                     tb + (size_t)t * RADIX_MAX, &accs[t]);
    }
    *R2 = 0;
    *T = 0;
    for (int t = 0; t < nth; t++) { *R2 += accs[t].r2; *T += accs[t].ties; }
    return XF_OK;
}

/* ---- the general (plain) kernel: Spearman of the two upper triangles ---- */

/* Label correlation of two target rows, exact for 0/1 rows (from counts), else from the
 * centred rows in a fixed order. */
static xf_status label_unit_rows(xf_ctx_t *ctx, const xf_est_input *in, double *V, int *binary) {
    const int64_t N = in->N, C = in->C;
    *binary = 1;
    for (int64_t t = 0; t < N * C; t++)
        if (in->Y[t] != 0.0f && in->Y[t] != 1.0f) *binary = 0;
    for (int64_t i = 0; i < N; i++) {
        const float *r = in->Y + i * C;
        double m = 0, s = 0;
        for (int64_t c = 0; c < C; c++) {
            if (!isfinite(r[c])) return XF_ERR(ctx, XF_ERR_NUMERIC, "parc: targets: non-finite value at row %lld", (long long)i);
            m += r[c];
        }
        m /= (double)C;
        for (int64_t c = 0; c < C; c++) { V[i * C + c] = r[c] - m; s += (r[c] - m) * (r[c] - m); }
        if (!(s > 0))
            return XF_ERR(ctx, XF_ERR_NUMERIC, "parc: targets: row %lld is constant (all classes equal); its correlation is undefined",
                          (long long)i);
        s = 1.0 / sqrt(s);
        for (int64_t c = 0; c < C; c++) V[i * C + c] *= s;
    }
    return XF_OK;
}

static xf_status parc_plain(xf_ctx_t *ctx, xf_ws_t *ws, const xf_est_input *in, const double *U, int64_t d,
                            double *rho) {
    const int64_t N = in->N, C = in->C;
    const uint64_t M = (uint64_t)N * (uint64_t)(N - 1) / 2;
    /* two triangles plus Spearman's ranks and index: about 40 bytes per pair */
    if ((double)M * 40.0 > PLAIN_MAX_BYTES)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED,
                      "parc: the general Spearman (multi-label targets or kernel=plain) over %llu pairs needs %.1f GB, "
                      "more than %.0f GB; use fewer samples",
                      (unsigned long long)M, (double)M * 40.0 / 1e9, PLAIN_MAX_BYTES / 1e9);
    double *a = xf_ws_alloc(ws, (size_t)M * sizeof *a); // (M) triu(D_f)
    double *b = xf_ws_alloc(ws, (size_t)M * sizeof *b); // (M) triu(D_y)
    if (!a || !b) return XF_ERR_NOMEM;
    double *V = NULL, *na = NULL;
    int binary = 1;
    if (in->Y) {
        V = xf_ws_alloc(ws, (size_t)N * (size_t)C * sizeof *V);
        na = xf_ws_alloc(ws, (size_t)N * sizeof *na);
        if (!V || !na) return XF_ERR_NOMEM;
        xf_status st = label_unit_rows(ctx, in, V, &binary);
        if (st) return st;
        for (int64_t i = 0; i < N; i++) {
            double s = 0;
            for (int64_t c = 0; c < C; c++) s += in->Y[i * C + c];
            na[i] = s;
        }
    }
    uint64_t p = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = i + 1; j < N; j++, p++) {
            double s = 0;
            for (int64_t t = 0; t < d; t++) s += U[i * d + t] * U[j * d + t];
            a[p] = dfeat(s);
            if (!in->Y) {
                b[p] = in->y[i] == in->y[j] ? 0.0 : (double)C / (double)(C - 1);
            } else if (binary) {
                double nab = 0;
                for (int64_t c = 0; c < C; c++) nab += (double)in->Y[i * C + c] * in->Y[j * C + c];
                double num = (double)C * nab - na[i] * na[j];
                double vi = (double)C * na[i] - na[i] * na[i], vj = (double)C * na[j] - na[j] * na[j];
                b[p] = 1.0 - num / sqrt(vi * vj);
            } else {
                double c2 = 0;
                for (int64_t c = 0; c < C; c++) c2 += V[i * C + c] * V[j * C + c];
                b[p] = 1.0 - (c2 > 1.0 ? 1.0 : c2 < -1.0 ? -1.0 : c2);
            }
        }
    return xf_la_spearman(ws, a, b, (int64_t)M, rho);
}

static xf_status parc_fn(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    const char *m = "parc";
    int64_t dims, block, recompute;
    xf_status st;
    if ((st = xf_params_i64(ctx, p, m, "dims", 32, &dims))) return st;
    if ((st = xf_params_i64(ctx, p, m, "block", 0, &block))) return st;
    if ((st = xf_params_i64(ctx, p, m, "recompute", 0, &recompute))) return st;
    if (dims < 0) return XF_ERR(ctx, XF_ERR_INVALID, "parc: parameter dims=%lld is negative", (long long)dims);
    if (block < 0) return XF_ERR(ctx, XF_ERR_INVALID, "parc: parameter block=%lld is negative", (long long)block);
    if (recompute != 0 && recompute != 1)
        return XF_ERR(ctx, XF_ERR_INVALID, "parc: parameter recompute=%lld must be 0 or 1", (long long)recompute);
    const char *kernel = xf_params_str(p, m, "kernel", "auto");
    int plain;
    if (strcmp(kernel, "auto") == 0) plain = 0;
    else if (strcmp(kernel, "plain") == 0) plain = 1;
    else return XF_ERR(ctx, XF_ERR_INVALID, "parc: parameter kernel: '%s' is not auto or plain", kernel);
    const int64_t N = in->N, C = in->C;
    /* each chunk of pairs holds a (2^18 + 1)-bucket histogram (2 MB): never more chunks
     * than there are PARC_PAIRS_PER_CHUNK pairs for (1024 threads on 60 samples took 2 GB).
     * The rank sums are exact integers, so the chunking does not change the score. */
    const uint64_t pairs = (uint64_t)N * (uint64_t)(N - 1) / 2;
    int nth = xf_ctx_threads(ctx);
    if ((uint64_t)nth > pairs / PARC_PAIRS_PER_CHUNK + 1) nth = (int)(pairs / PARC_PAIRS_PER_CHUNK + 1);
    xf_la_set_threads(nth);

    /* label structure first: a constant label RDM makes the score undefined */
    uint64_t ns = 0;
    if (!in->Y) {
        if (C < 2) return XF_ERR(ctx, XF_ERR_INVALID, "parc: only one class (C = 1): the label RDM is constant");
        int64_t *cnt = xf_ws_calloc(ws, (size_t)C, sizeof *cnt);
        if (!cnt) return XF_ERR_NOMEM;
        for (int64_t i = 0; i < N; i++) cnt[in->y[i]]++;
        for (int64_t c = 0; c < C; c++) ns += (uint64_t)cnt[c] * (uint64_t)(cnt[c] > 0 ? cnt[c] - 1 : 0) / 2;
        const uint64_t M = (uint64_t)N * (uint64_t)(N - 1) / 2;
        if (ns == M) return XF_ERR(ctx, XF_ERR_INVALID, "parc: all %lld samples have the same class: the label RDM is constant", (long long)N);
        if (ns == 0) return XF_ERR(ctx, XF_ERR_INVALID, "parc: every sample has its own class: the label RDM is constant");
    } else if (C < 2) {
        return XF_ERR(ctx, XF_ERR_INVALID, "parc: multi-label targets need at least 2 columns");
    }

    /* Z = StandardScaler(PCA(F)) (N, d), then unit centred rows */
    double *Z;
    int64_t d;
    if (dims > 0) {
        if ((st = xf_est_pca(ctx, m, in, p, ws, dims, &Z, &d))) return st;
    } else {
        d = in->D;
        Z = xf_ws_alloc(ws, (size_t)N * (size_t)d * sizeof *Z);
        if (!Z) return XF_ERR_NOMEM;
        for (int64_t i = 0; i < N; i++)
            for (int64_t t = 0; t < d; t++) Z[i * d + t] = in->F[i * in->ldF + t];
    }
    xf_la_standardize(Z, N, d, d);
    if ((st = unit_rows(ctx, Z, N, d))) return st;

    double rho;
    if (plain || in->Y) {
        if ((st = parc_plain(ctx, ws, in, Z, d, &rho))) return st;
    } else {
        u128 R2 = 0, T = 0;
        if ((st = parc_ranksum(ctx, ws, Z, N, d, in->y, nth, block, recompute != 0, &R2, &T))) return st;
        const u128 M = (u128)N * (u128)(N - 1) / 2;
        const u128 sxx12 = M * M * M - M - T;
        if (sxx12 == 0) return XF_ERR(ctx, XF_ERR_NUMERIC, "parc: all feature dissimilarities are equal");
        /* numerator 2 (R_s - n_s (M + 1) / 2) as a signed difference of exact integers */
        const u128 nsM = (u128)ns * (M + 1);
        long double num = R2 >= nsM ? (long double)(R2 - nsM) : -(long double)(nsM - R2);
        long double nd = (long double)(M - ns);
        long double den = sqrtl((long double)sxx12 / 12.0L * (long double)ns * nd / (long double)M);
        rho = (double)(-(num / 2.0L) / den);
    }
    if (!isfinite(rho))
        return XF_ERR(ctx, XF_ERR_NUMERIC, "parc: the Spearman correlation is undefined (a constant dissimilarity matrix)");
    *score = 100.0 * rho;
    return XF_OK;
}

static const char *const parc_params[] = {
    "dims=32  PCA components (0 = none; clamped to min(N-1, D))",
    "pca=exact  PCA solver: exact or randomized (the published code: randomized, iterated_power=1)",
    "seed=1919  seed of the randomized PCA (xfer's own stream)",
    "block=0  rows per GEMM block (0 = about 32 MB of products)",
    "recompute=0  1: pass 2 recomputes the GEMM instead of keeping 4-byte keys (automatic above 256 MB of keys)",
    "kernel=auto  auto: O(N^2 log N) rank-sum form for single labels; plain: general Spearman of the triangles",
    NULL};

const xf_estimator xf_est_def_parc = {
    .name = "parc",
    .flags = XF_NEEDS_F | XF_MULTILABEL_OK,
    .summary = "PARC (Bolya et al. 2021): Spearman of feature and label dissimilarities x 100",
    .params = parc_params,
    .fn = parc_fn,
};
