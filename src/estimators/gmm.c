/* Gaussian mixture with full covariances, fitted by EM exactly as scikit-learn's
 * GaussianMixture (covariance_type='full', init_params='kmeans', n_init=1), for N-LEEP.
 *
 * Design: each component keeps the inverse Linv of the Cholesky factor of its covariance
 * (sklearn's precisions_cholesky_ is Linv^T). Two kernel sets:
 *  - default (packed): with o_i the upper triangle of x_i x_i^T, all N x K Mahalanobis
 *    terms are one GEMM O vec(Prec_k) plus a thin GEMM X (-2 Prec_k mu_k), and the M-step
 *    sums sum_i r_ik o_i are one GEMM R^T O (see estep_packed);
 *  - reference (opts.reference = 1): sklearn's difference form, one GEMM X Linv^T over all
 *    components by row blocks for the E-step,
 *        log N(x | mu, S) = -(d log 2pi + |Linv x - Linv mu|^2)/2 + sum log diag(Linv),
 *    and one SYRK per covariance over the rows with non-zero responsibility.
 * Stopping rule, regularisation and the 10*eps added to component masses follow
 * sklearn 1.2. k-means initialisation: greedy k-means++ seeding (2 + log K local trials)
 * and Lloyd iterations like sklearn's KMeans(n_init=1), with our own seeded RNG, so the
 * starting point (not the algorithm) differs from sklearn's. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

/* squared distances D2 (N x K) between rows of X (N x d) and centers (K x d) */
static void sqdist(const double *X, const double *xn, int64_t N, int64_t d, const double *Cn, int64_t K,
                   double *cn, double *D2) {
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += Cn[k * d + j] * Cn[k * d + j];
        cn[k] = s;
    }
    xf_la_dgemm(0, 1, N, K, d, -2.0, X, d, Cn, d, 0.0, D2, K);
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < K; k++) {
            double v = D2[i * K + k] + xn[i] + cn[k];
            D2[i * K + k] = v > 0 ? v : 0;
        }
}

xf_status xf_est_kmeans(xf_ws_t *ws, const double *X0, int64_t N, int64_t d, int64_t K, uint64_t seed,
                        int32_t *labels) {
    double *X, *xn, *cen, *old, *cn, *D2, *closest, *cand, *cum; // (N,d) (N) (K,d) (K,d) (K) (N,K) (N) (N) (N)
    int64_t *cnt;
    XF_WS_NEW(ws, X, N * d);
    XF_WS_NEW(ws, xn, N);
    XF_WS_NEW(ws, cen, K * d);
    XF_WS_NEW(ws, old, K * d);
    XF_WS_NEW(ws, cn, K);
    XF_WS_NEW(ws, D2, N * K);
    XF_WS_NEW(ws, closest, N);
    XF_WS_NEW(ws, cand, N);
    XF_WS_NEW(ws, cum, N);
    XF_WS_NEW(ws, cnt, K);
    /* centre the data (as sklearn) and compute the tolerance: 1e-4 * mean variance */
    double tolv = 0;
    for (int64_t j = 0; j < d; j++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < N; i++) m += X0[i * d + j];
        m /= (double)N;
        for (int64_t i = 0; i < N; i++) {
            X[i * d + j] = X0[i * d + j] - m;
            v += X[i * d + j] * X[i * d + j];
        }
        tolv += v / (double)N;
    }
    tolv = tolv / (double)d * 1e-4;
    for (int64_t i = 0; i < N; i++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += X[i * d + j] * X[i * d + j];
        xn[i] = s;
    }
    xf_rng rng;
    xf_rng_seed(&rng, seed);
    /* greedy k-means++ */
    int64_t trials = 2 + (int64_t)log((double)K);
    int64_t c0 = (int64_t)xf_rng_below(&rng, (uint64_t)N);
    memcpy(cen, X + c0 * d, (size_t)d * sizeof *X);
    double pot = 0;
    for (int64_t i = 0; i < N; i++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (X[i * d + j] - cen[j]) * (X[i * d + j] - cen[j]);
        closest[i] = s;
        pot += s;
    }
    for (int64_t c = 1; c < K; c++) {
        double acc = 0;
        for (int64_t i = 0; i < N; i++) cum[i] = (acc += closest[i]);
        double best_pot = INFINITY;
        int64_t best = 0;
        for (int64_t t = 0; t < trials; t++) {
            double r = xf_rng_uniform(&rng) * pot;
            int64_t lo = 0, hi = N - 1; /* first index with cum >= r (searchsorted left) */
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (cum[mid] < r) lo = mid + 1;
                else hi = mid;
            }
            double p = 0;
            const double *xc = X + lo * d;
            /* |x - c|^2 = |x|^2 - 2 x.c + |c|^2 with one GEMV (as sklearn's euclidean_distances) */
            xf_la_dgemv(0, N, d, -2.0, X, d, xc, 0.0, cand);
            for (int64_t i = 0; i < N; i++) {
                double s = cand[i] + xn[i] + xn[lo];
                s = s > 0 ? s : 0;
                cand[i] = s < closest[i] ? s : closest[i];
                p += cand[i];
            }
            if (p < best_pot) {
                best_pot = p;
                best = lo;
                /* remember the candidate distances in D2's first column block */
                memcpy(D2, cand, (size_t)N * sizeof *cand);
            }
        }
        memcpy(closest, D2, (size_t)N * sizeof *closest);
        pot = best_pot;
        memcpy(cen + c * d, X + best * d, (size_t)d * sizeof *X);
    }
    /* Lloyd */
    int strict = 0;
    for (int it = 0; it < 300; it++) {
        sqdist(X, xn, N, d, cen, K, cn, D2);
        int changed = 0;
        for (int64_t i = 0; i < N; i++) {
            const double *r = D2 + i * K;
            int64_t a = 0;
            for (int64_t k = 1; k < K; k++)
                if (r[k] < r[a]) a = k;
            if (it == 0 || labels[i] != a) changed = 1;
            labels[i] = (int32_t)a;
            closest[i] = r[a];
        }
        if (it > 0 && !changed) {
            strict = 1;
            break;
        }
        memcpy(old, cen, (size_t)(K * d) * sizeof *cen);
        memset(cen, 0, (size_t)(K * d) * sizeof *cen);
        memset(cnt, 0, (size_t)K * sizeof *cnt);
        for (int64_t i = 0; i < N; i++) {
            cnt[labels[i]]++;
            for (int64_t j = 0; j < d; j++) cen[labels[i] * d + j] += X[i * d + j];
        }
        for (int64_t k = 0; k < K; k++) {
            if (cnt[k] == 0) {
                /* empty cluster: move it to the point farthest from its center */
                int64_t far = 0;
                for (int64_t i = 1; i < N; i++)
                    if (closest[i] > closest[far]) far = i;
                memcpy(cen + k * d, X + far * d, (size_t)d * sizeof *X);
                closest[far] = -1;
            } else {
                for (int64_t j = 0; j < d; j++) cen[k * d + j] /= (double)cnt[k];
            }
        }
        double shift = 0;
        for (int64_t k = 0; k < K * d; k++) shift += (cen[k] - old[k]) * (cen[k] - old[k]);
        if (shift <= tolv) break;
    }
    if (!strict) {
        sqdist(X, xn, N, d, cen, K, cn, D2);
        for (int64_t i = 0; i < N; i++) {
            const double *r = D2 + i * K;
            int64_t a = 0;
            for (int64_t k = 1; k < K; k++)
                if (r[k] < r[a]) a = k;
            labels[i] = (int32_t)a;
        }
    }
    return XF_OK;
}

/* In place: L (d x d lower Cholesky factor) -> L^-1 (lower). */
static void tri_inv_lower(double *L, int64_t d) {
    for (int64_t j = 0; j < d; j++) {
        L[j * d + j] = 1.0 / L[j * d + j];
        for (int64_t i = j + 1; i < d; i++) {
            double s = 0;
            for (int64_t k = j; k < i; k++) s += L[i * d + k] * L[k * d + j];
            L[i * d + j] = -s / L[i * d + i];
        }
    }
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i + 1; j < d; j++) L[i * d + j] = 0;
}

typedef struct {
    int64_t N, d, K, B;           // B: rows per E-step block
    double *w, *mu, *Li, *ldet;   // (K) (K,d) (K,d,d) (K)
    double *Lcat, *muL, *Y, *G;   // (d, K*d) (K, d) (B, K*d) (N, d) scratch
    double *Rt;                   // (K, N) responsibilities transposed
    /* packed kernels: P = d(d+1)/2 entries of the upper triangle */
    int packed;
    int64_t P, Bp;                // packed length, rows per packed block
    double *Pcat, *Q, *cst;       // (P, K) precisions (off-diagonals doubled), (d, K) -2 Prec mu, (K) mu Prec mu
    double *Ob, *A, *Pk;          // (Bp, P) x x^T rows, (K, P) sums r x x^T, (d, d)
    double *Oall;                 // (N, P) all packed rows when they fit in memory, else NULL
} gmm_t;

/* covariance -> Linv and log det(Linv); XF_ERR_NUMERIC if not SPD */
static xf_status factor(xf_ctx_t *ctx, gmm_t *g, int64_t k) {
    int64_t d = g->d;
    double *L = g->Li + k * d * d;
    xf_status st = xf_la_cholesky(ctx, d, L, d);
    if (st) {
        xf_ctx_clear_error(ctx);
        return XF_ERR(ctx, XF_ERR_NUMERIC,
                      "nleep: Gaussian mixture component %lld has an ill-defined covariance; decrease the number "
                      "of components or increase reg_covar", (long long)k);
    }
    tri_inv_lower(L, d);
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += log(L[j * d + j]);
    g->ldet[k] = s;
    return XF_OK;
}

/* E-step: lp (N x K) gets the responsibilities; returns the mean log-likelihood.
 * All components at once: Y = X [Linv_1^T ... Linv_K^T] by row blocks of B, so the GEMM
 * is large even when d is small. */
static double estep(const gmm_t *g, const double *X, double *lp) {
    const int64_t N = g->N, d = g->d, K = g->K, Kd = K * d;
    const double c0 = (double)d * log(2.0 * M_PI);
    for (int64_t k = 0; k < K; k++) {
        const double *Li = g->Li + k * d * d;
        for (int64_t a = 0; a < d; a++)
            for (int64_t b = 0; b < d; b++) g->Lcat[a * Kd + k * d + b] = Li[b * d + a];
        xf_la_dgemv(0, d, d, 1.0, Li, d, g->mu + k * d, 0.0, g->muL + k * d);
    }
    for (int64_t i0 = 0; i0 < N; i0 += g->B) {
        int64_t nb = N - i0 < g->B ? N - i0 : g->B;
        xf_la_dgemm(0, 0, nb, Kd, d, 1.0, X + i0 * d, d, g->Lcat, Kd, 0.0, g->Y, Kd);
        for (int64_t i = 0; i < nb; i++) {
            const double *y = g->Y + i * Kd;
            double *out = lp + (i0 + i) * K;
            for (int64_t k = 0; k < K; k++) {
                const double *yk = y + k * d, *mk = g->muL + k * d;
                double s = 0;
                for (int64_t j = 0; j < d; j++) {
                    double t = yk[j] - mk[j];
                    s += t * t;
                }
                out[k] = -0.5 * (c0 + s) + g->ldet[k] + log(g->w[k]);
            }
        }
    }
    double tot = 0;
    for (int64_t i = 0; i < N; i++) {
        double *r = lp + i * K, mx = r[0], s = 0;
        for (int64_t k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
        for (int64_t k = 0; k < K; k++) s += (r[k] = exp(r[k] - mx));
        for (int64_t k = 0; k < K; k++) r[k] /= s; /* responsibilities */
        tot += mx + log(s);
    }
    return tot / (double)N;
}

/* M-step from responsibilities R (N x K, probabilities) */
static xf_status mstep(xf_ctx_t *ctx, gmm_t *g, const double *X, const double *R, double reg) {
    const int64_t N = g->N, d = g->d, K = g->K;
    double wsum = 0;
    xf_la_dgemm(1, 0, K, d, N, 1.0, R, K, X, d, 0.0, g->mu, d); /* R^T X */
    for (int64_t i = 0; i < N; i++) /* contiguous per-component access below */
        for (int64_t k = 0; k < K; k++) g->Rt[k * N + i] = R[i * K + k];
    for (int64_t k = 0; k < K; k++) {
        const double *rk = g->Rt + k * N;
        double nk = 10.0 * DBL_EPSILON;
        for (int64_t i = 0; i < N; i++) nk += rk[i];
        g->w[k] = nk;
        wsum += nk;
        double *m = g->mu + k * d;
        for (int64_t j = 0; j < d; j++) m[j] /= nk;
        int64_t n = 0;
        for (int64_t i = 0; i < N; i++) {
            double r = rk[i];
            if (r <= 0) continue;
            double s = sqrt(r);
            const double *x = X + i * d;
            double *gr = g->G + n * d;
            for (int64_t j = 0; j < d; j++) gr[j] = s * (x[j] - m[j]);
            n++;
        }
        double *S = g->Li + k * d * d;
        if (n > 0) xf_la_dsyrk(1, d, n, 1.0 / nk, g->G, d, 0.0, S, d);
        else memset(S, 0, (size_t)(d * d) * sizeof *S);
        for (int64_t j = 0; j < d; j++) S[j * d + j] += reg;
        xf_status st = factor(ctx, g, k);
        if (st) return st;
    }
    for (int64_t k = 0; k < K; k++) g->w[k] /= wsum;
    return XF_OK;
}

/* Packed kernels (the default): with o_i = upper triangle of x_i x_i^T (P = d(d+1)/2),
 *   (x - mu)^T Prec (x - mu) = o_i . vec(Prec, off-diagonals doubled) - 2 x.Prec mu + mu.Prec mu
 * and sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T = sum_i r_ik o_i - n_k mu_k mu_k^T (+ O(eps)),
 * so both EM steps become one GEMM with inner dimension P (E-step) or N (M-step) over all
 * components, instead of K thin GEMMs / SYRKs with inner dimension d. The expansion loses
 * about eps |x|^2 lambda_max(Prec) absolutely, negligible against the O(d) values that
 * matter (PCA scores are centred); estep/mstep above stay as the reference kernels. */
static void pack_rows(const double *X, int64_t n, int64_t d, int64_t P, double *O) {
    for (int64_t i = 0; i < n; i++) {
        const double *x = X + i * d;
        double *o = O + i * P;
        for (int64_t j = 0, t = 0; j < d; j++)
            for (int64_t l = j; l < d; l++) o[t++] = x[j] * x[l];
    }
}

static double estep_packed(const gmm_t *g, const double *X, double *lp) {
    const int64_t N = g->N, d = g->d, K = g->K, P = g->P;
    const double c0 = (double)d * log(2.0 * M_PI);
    for (int64_t k = 0; k < K; k++) {
        const double *Li = g->Li + k * d * d, *mu = g->mu + k * d;
        xf_la_dgemm(1, 0, d, d, d, 1.0, Li, d, Li, d, 0.0, g->Pk, d); /* Prec = Linv^T Linv */
        for (int64_t j = 0, t = 0; j < d; j++)
            for (int64_t l = j; l < d; l++, t++) g->Pcat[t * K + k] = (j == l ? 1.0 : 2.0) * g->Pk[j * d + l];
        double c = 0;
        for (int64_t j = 0; j < d; j++) {
            double q = 0;
            for (int64_t l = 0; l < d; l++) q += g->Pk[j * d + l] * mu[l];
            g->Q[j * K + k] = -2.0 * q;
            c += mu[j] * q;
        }
        g->cst[k] = c + c0 - 2.0 * (g->ldet[k] + log(g->w[k]));
    }
    for (int64_t i0 = 0; i0 < N; i0 += g->Bp) {
        int64_t nb = N - i0 < g->Bp ? N - i0 : g->Bp;
        const double *O = g->Oall ? g->Oall + i0 * P : g->Ob;
        if (!g->Oall) pack_rows(X + i0 * d, nb, d, P, g->Ob);
        xf_la_dgemm(0, 0, nb, K, P, 1.0, O, P, g->Pcat, K, 0.0, lp + i0 * K, K);
        xf_la_dgemm(0, 0, nb, K, d, 1.0, X + i0 * d, d, g->Q, K, 1.0, lp + i0 * K, K);
    }
    double tot = 0;
    for (int64_t i = 0; i < N; i++) {
        double *r = lp + i * K, mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) { /* -(Mahalanobis + d log 2pi)/2 + log det + log w */
            r[k] = -0.5 * (r[k] + g->cst[k]);
            mx = r[k] > mx ? r[k] : mx;
        }
        for (int64_t k = 0; k < K; k++) s += (r[k] = exp(r[k] - mx));
        for (int64_t k = 0; k < K; k++) r[k] /= s; /* responsibilities */
        tot += mx + log(s);
    }
    return tot / (double)N;
}

static xf_status mstep_packed(xf_ctx_t *ctx, gmm_t *g, const double *X, const double *R, double reg) {
    const int64_t N = g->N, d = g->d, K = g->K, P = g->P;
    double wsum = 0;
    xf_la_dgemm(1, 0, K, d, N, 1.0, R, K, X, d, 0.0, g->mu, d); /* R^T X */
    if (g->Oall) {
        xf_la_dgemm(1, 0, K, P, N, 1.0, R, K, g->Oall, P, 0.0, g->A, P); /* A = R^T O */
    } else {
        for (int64_t i0 = 0; i0 < N; i0 += g->Bp) {
            int64_t nb = N - i0 < g->Bp ? N - i0 : g->Bp;
            pack_rows(X + i0 * d, nb, d, P, g->Ob);
            xf_la_dgemm(1, 0, K, P, nb, 1.0, R + i0 * K, K, g->Ob, P, i0 ? 1.0 : 0.0, g->A, P);
        }
    }
    for (int64_t k = 0; k < K; k++) {
        double nk = 10.0 * DBL_EPSILON;
        for (int64_t i = 0; i < N; i++) nk += R[i * K + k];
        g->w[k] = nk;
        wsum += nk;
        double *m = g->mu + k * d, *S = g->Li + k * d * d;
        for (int64_t j = 0; j < d; j++) m[j] /= nk;
        for (int64_t j = 0, t = 0; j < d; j++)
            for (int64_t l = j; l < d; l++, t++) S[j * d + l] = S[l * d + j] = g->A[k * P + t] / nk - m[j] * m[l];
        for (int64_t j = 0; j < d; j++) S[j * d + j] += reg;
        xf_status st = factor(ctx, g, k);
        if (st) return st;
    }
    for (int64_t k = 0; k < K; k++) g->w[k] /= wsum;
    return XF_OK;
}

xf_status xf_est_gmm_fit(xf_ws_t *ws, const double *X, int64_t N, int64_t d, const xf_gmm_opts *o, double *resp,
                         double *lower_bound, int *n_iter) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    gmm_t g = {.N = N, .d = d, .K = o->K};
    const int64_t K = o->K;
    XF_WS_NEW(ws, g.w, K);
    XF_WS_NEW(ws, g.mu, K * d);
    XF_WS_NEW(ws, g.Li, K * d * d);
    XF_WS_NEW(ws, g.ldet, K);
    g.B = (int64_t)(1 << 16) / (K * d); /* about 512 KB of block scratch: stays in cache */
    if (g.B < 8) g.B = 8;
    if (g.B > N) g.B = N;
    XF_WS_NEW(ws, g.Lcat, d * K * d);
    XF_WS_NEW(ws, g.muL, K * d);
    XF_WS_NEW(ws, g.Y, g.B * K * d);
    g.packed = !o->reference;
    if (g.packed) {
        g.P = d * (d + 1) / 2;
        g.Bp = (int64_t)(1 << 16) / (g.P + K);
        if (g.Bp < 8) g.Bp = 8;
        if (g.Bp > N) g.Bp = N;
        XF_WS_NEW(ws, g.Pcat, g.P * K);
        XF_WS_NEW(ws, g.Q, d * K);
        XF_WS_NEW(ws, g.cst, K);
        XF_WS_NEW(ws, g.Ob, g.Bp * g.P);
        XF_WS_NEW(ws, g.A, K * g.P);
        XF_WS_NEW(ws, g.Pk, d * d);
        if (N * g.P <= ((int64_t)1 << 23)) { /* up to 64 MB: pack once */
            XF_WS_NEW(ws, g.Oall, N * g.P);
            pack_rows(X, N, d, g.P, g.Oall);
        }
    } else {
        XF_WS_NEW(ws, g.G, N * d);
        XF_WS_NEW(ws, g.Rt, K * N);
    }
    xf_status st;
    if (o->w0) {
        memcpy(g.w, o->w0, (size_t)K * sizeof *g.w);
        memcpy(g.mu, o->mu0, (size_t)(K * d) * sizeof *g.mu);
        memcpy(g.Li, o->cov0, (size_t)(K * d * d) * sizeof *g.Li);
        for (int64_t k = 0; k < K; k++)
            if ((st = factor(ctx, &g, k))) return st;
    } else {
        int32_t *lab;
        XF_WS_NEW(ws, lab, N);
        if ((st = xf_est_kmeans(ws, X, N, d, K, o->seed, lab))) return st;
        /* one-hot responsibilities -> parameters (sklearn _initialize) */
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < K; k++) resp[i * K + k] = lab[i] == k;
        if ((st = (g.packed ? mstep_packed : mstep)(ctx, &g, X, resp, o->reg_covar))) return st;
    }
    double lb = -INFINITY;
    int it;
    for (it = 1; it <= o->max_iter; it++) {
        double prev = lb;
        lb = (g.packed ? estep_packed : estep)(&g, X, resp);
        if ((st = (g.packed ? mstep_packed : mstep)(ctx, &g, X, resp, o->reg_covar))) return st;
        if (fabs(lb - prev) < o->tol) break;
    }
    if (it > o->max_iter) it = o->max_iter;
    (g.packed ? estep_packed : estep)(&g, X, resp);
    *lower_bound = lb;
    *n_iter = it;
    return XF_OK;
}
