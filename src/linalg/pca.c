/* linalg/pca: principal component scores, exact or randomized, matching
 * sklearn.decomposition.PCA.
 *
 * Exact (sklearn's svd_solver='full' up to sign): centre X in double, form the smaller
 * of the two cross-product matrices with one SYRK -- the D x D scatter Xc^T Xc when
 * N >= D, the N x N Gram matrix Xc Xc^T when N < D -- and eigendecompose it. Both have
 * the squared singular values of Xc as eigenvalues. We reduce to tridiagonal form once,
 * get every eigenvalue (needed for the explained-variance ratios and for choosing k by
 * variance), then compute only the k top eigenvectors (MRRR) and back-transform them.
 * Scores are Xc V (scatter case) or u_i * sqrt(lambda_i) (Gram case: Xc = U S V^T, so
 * Xc V = U S).
 *
 * Randomized (svd_solver='randomized'): Halko, Martinsson & Tropp 2011, Alg. 4.4
 * (randomized subspace iteration) with a Gaussian test matrix of k + oversample columns
 * drawn from xf_rng(seed), QR re-orthonormalisation after every product (sklearn uses
 * LU, which spans the same subspace), then the SVD of the small Q^T Xc (Alg. 5.1).
 *
 * Sign: sklearn's svd_flip(u_based_decision=True) makes the largest-|.| entry of each
 * column of U positive (first one on ties); scores = U S, so we apply it to the scores. */
#include <math.h>
#include <string.h>

#include "linalg/linalgInt.h"

void xf_pca_opts_default(xf_pca_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = XF_PCA_EXACT;
    o->k = 0;
    o->var_frac = 1.0;
    o->oversample = 10;
    o->power_iters = 4;
    o->seed = 0;
}

/* sklearn.utils.extmath.svd_flip, u-based, applied to a score column block. */
static void sign_flip(double *S, int64_t N, int64_t k) {
    for (int64_t j = 0; j < k; j++) {
        int64_t im = 0;
        double best = -1.0;
        for (int64_t i = 0; i < N; i++) {
            double a = fabs(S[i * k + j]);
            if (a > best) {
                best = a;
                im = i;
            }
        }
        if (S[im * k + j] < 0.0)
            for (int64_t i = 0; i < N; i++) S[i * k + j] = -S[i * k + j];
    }
}

/* Centre X (float or double) into Xc (N, D) double; returns 0 on a non-finite value. */
static int centre(const float *Xf, const double *Xd, int64_t N, int64_t D, int64_t ldx, double *mean, double *Xc) {
    for (int64_t j = 0; j < D; j++) mean[j] = 0.0;
    int ok = 1;
    for (int64_t i = 0; i < N; i++) {
        double *dst = Xc + i * D;
        if (Xf) {
            const float *x = Xf + i * ldx;
            for (int64_t j = 0; j < D; j++) dst[j] = (double)x[j];
        } else {
            memcpy(dst, Xd + i * ldx, sizeof(double) * (size_t)D);
        }
        for (int64_t j = 0; j < D; j++) mean[j] += dst[j];
    }
    for (int64_t j = 0; j < D; j++) {
        mean[j] /= (double)N;
        if (!isfinite(mean[j])) ok = 0;
    }
    if (!ok) return 0;
    for (int64_t i = 0; i < N; i++) {
        double *dst = Xc + i * D;
        for (int64_t j = 0; j < D; j++) dst[j] -= mean[j];
    }
    return 1;
}

/* sklearn: n_components = searchsorted(cumsum(evr), frac, side='right') + 1, i.e. the
 * smallest k whose cumulative ratio is strictly above frac; frac >= 1 keeps all. */
static int64_t choose_k(const double *evr, int64_t r, double frac) {
    if (frac >= 1.0) return r;
    double c = 0.0;
    for (int64_t i = 0; i < r; i++) {
        c += evr[i];
        if (c > frac) return i + 1;
    }
    return r;
}

static xf_status pca_exact(xf_ws_t *ws, double *Xc, int64_t N, int64_t D, const xf_pca_opts *opt, double **scores,
                           int64_t *k_out, double *evr) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    int gram = N < D;
    int64_t m = gram ? N : D; /* size of the eigenproblem = min(N, D) */
    size_t mm;
    if (!xf_mul_ok((size_t)m, (size_t)m, &mm) || !xf_mul_ok(mm, sizeof(double), &mm))
        return XF_ERR(ctx, XF_ERR_NOMEM, "PCA: %lld x %lld eigenproblem too large", (long long)m, (long long)m);
    double *C = xf_ws_alloc(ws, mm);                           // (m, m)
    double *w = xf_ws_alloc(ws, sizeof(double) * (size_t)m);   // (m) ascending
    double *lam = xf_ws_alloc(ws, sizeof(double) * (size_t)m); // (m) descending, >= 0
    if (!C || !w || !lam) return XF_ERR_NOMEM;
    if (gram) xf_la_dsyrk(0, N, D, 1.0, Xc, D, 0.0, C, m);
    else xf_la_dsyrk(1, D, N, 1.0, Xc, D, 0.0, C, m);
    double total = 0.0;
    for (int64_t i = 0; i < m; i++) total += C[i * m + i];
    xf_la_tridiag t;
    xf_status st = xf_la_tridiag_reduce(ws, m, C, m, &t, w);
    if (st) return st;
    for (int64_t i = 0; i < m; i++) lam[i] = w[m - 1 - i] > 0.0 ? w[m - 1 - i] : 0.0;
    double *ratio = xf_ws_alloc(ws, sizeof(double) * (size_t)m);
    if (!ratio) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < m; i++) ratio[i] = total > 0.0 ? lam[i] / total : 0.0;
    if (evr) memcpy(evr, ratio, sizeof(double) * (size_t)m);
    int64_t k = opt->k > 0 ? (opt->k < m ? opt->k : m) : choose_k(ratio, m, opt->var_frac);
    if (k < 1) k = 1;
    double *Z = xf_ws_alloc(ws, sizeof(double) * (size_t)k * (size_t)m); // (k, m), row j = eigvec m-k+j
    double *S = xf_ws_alloc(ws, sizeof(double) * (size_t)N * (size_t)k); // (N, k)
    if (!Z || !S) return XF_ERR_NOMEM;
    st = xf_la_tridiag_vectors(ws, &t, m - k, m - 1, Z, m);
    if (st) return st;
    if (gram) {
        /* scores[:, j] = u_{top j} * sqrt(lambda_j) */
        for (int64_t j = 0; j < k; j++) {
            const double *u = Z + (k - 1 - j) * m;
            double s = sqrt(lam[j]);
            for (int64_t i = 0; i < N; i++) S[i * k + j] = u[i] * s;
        }
    } else {
        /* reverse the rows so row j is the j-th largest component, then S = Xc V */
        for (int64_t a = 0, b = k - 1; a < b; a++, b--)
            for (int64_t c = 0; c < m; c++) {
                double tmp = Z[a * m + c];
                Z[a * m + c] = Z[b * m + c];
                Z[b * m + c] = tmp;
            }
        xf_la_dgemm(0, 1, N, k, D, 1.0, Xc, D, Z, m, 0.0, S, k);
    }
    sign_flip(S, N, k);
    *scores = S;
    *k_out = k;
    return XF_OK;
}

static xf_status pca_randomized(xf_ws_t *ws, double *Xc, int64_t N, int64_t D, const xf_pca_opts *opt,
                                double **scores, int64_t *k_out, double *evr) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    int64_t r = N < D ? N : D;
    int64_t k = opt->k < r ? opt->k : r;
    int64_t over = opt->oversample == 0 ? 10 : (opt->oversample < 0 ? 0 : opt->oversample);
    int64_t l = k + over < r ? k + over : r;
    int iters = opt->power_iters == 0 ? 4 : (opt->power_iters < 0 ? 0 : opt->power_iters);
    double *Om = xf_ws_alloc(ws, sizeof(double) * (size_t)D * (size_t)l); // (D, l)
    double *Q = xf_ws_alloc(ws, sizeof(double) * (size_t)N * (size_t)l);  // (N, l)
    double *B = xf_ws_alloc(ws, sizeof(double) * (size_t)l * (size_t)D);  // (l, D)
    double *s = xf_ws_alloc(ws, sizeof(double) * (size_t)l);
    double *Ub = xf_ws_alloc(ws, sizeof(double) * (size_t)l * (size_t)l); // (l, l)
    double *S = xf_ws_alloc(ws, sizeof(double) * (size_t)N * (size_t)k);  // (N, k)
    if (!Om || !Q || !B || !s || !Ub || !S) return XF_ERR_NOMEM;
    xf_rng rng;
    xf_rng_seed(&rng, opt->seed);
    for (int64_t i = 0; i < D * l; i++) Om[i] = xf_rng_normal(&rng);
    xf_status st;
    xf_la_dgemm(0, 0, N, l, D, 1.0, Xc, D, Om, l, 0.0, Q, l); /* Y = Xc Om */
    if ((st = xf_la_qr_thin(ws, N, l, Q, l))) return st;
    for (int it = 0; it < iters; it++) {
        xf_la_dgemm(1, 0, D, l, N, 1.0, Xc, D, Q, l, 0.0, Om, l); /* Z = Xc^T Q */
        if ((st = xf_la_qr_thin(ws, D, l, Om, l))) return st;
        xf_la_dgemm(0, 0, N, l, D, 1.0, Xc, D, Om, l, 0.0, Q, l); /* Y = Xc Z */
        if ((st = xf_la_qr_thin(ws, N, l, Q, l))) return st;
    }
    xf_la_dgemm(1, 0, l, D, N, 1.0, Q, l, Xc, D, 0.0, B, D); /* B = Q^T Xc */
    if ((st = xf_la_svd(ctx, l, D, B, D, s, Ub, l, NULL, 0))) return st;
    /* scores = Q Ub[:, :k] diag(s[:k]) */
    xf_la_dgemm(0, 0, N, k, l, 1.0, Q, l, Ub, l, 0.0, S, k);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < k; j++) S[i * k + j] *= s[j];
    if (evr) {
        double total = 0.0;
        for (int64_t i = 0; i < N * D; i++) total += Xc[i] * Xc[i];
        for (int64_t j = 0; j < r; j++) evr[j] = j < k ? (total > 0.0 ? s[j] * s[j] / total : 0.0) : NAN;
    }
    sign_flip(S, N, k);
    *scores = S;
    *k_out = k;
    return XF_OK;
}

static xf_status pca_any(xf_ws_t *ws, const float *Xf, const double *Xd, int64_t N, int64_t D, int64_t ldx,
                         const xf_pca_opts *opt_in, double **scores, int64_t *k_out, double *evr) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    xf_pca_opts opt;
    if (opt_in) opt = *opt_in;
    else xf_pca_opts_default(&opt);
    *scores = NULL;
    *k_out = 0;
    if (N < 1 || D < 1 || ldx < D)
        return XF_ERR(ctx, XF_ERR_INVALID, "PCA: bad shape %lld x %lld (ld %lld)", (long long)N, (long long)D,
                      (long long)ldx);
    if (N > INT32_MAX || D > INT32_MAX) return XF_ERR(ctx, XF_ERR_INVALID, "PCA: dimension above 2^31");
    if (opt.k < 0) return XF_ERR(ctx, XF_ERR_INVALID, "PCA: k = %lld is negative", (long long)opt.k);
    if (opt.k == 0 && !(opt.var_frac > 0.0)) /* also rejects NaN */
        return XF_ERR(ctx, XF_ERR_INVALID, "PCA: var_frac %g must be > 0 when k = 0", opt.var_frac);
    if (opt.method != XF_PCA_EXACT && opt.method != XF_PCA_RANDOMIZED)
        return XF_ERR(ctx, XF_ERR_INVALID, "PCA: unknown method %d", (int)opt.method);
    size_t nd;
    if (!xf_mul_ok((size_t)N, (size_t)D, &nd) || !xf_mul_ok(nd, sizeof(double), &nd))
        return XF_ERR(ctx, XF_ERR_NOMEM, "PCA: %lld x %lld too large", (long long)N, (long long)D);
    double *mean = xf_ws_alloc(ws, sizeof(double) * (size_t)D); // (D)
    double *Xc = xf_ws_alloc(ws, nd);                           // (N, D)
    if (!mean || !Xc) return XF_ERR_NOMEM;
    if (!centre(Xf, Xd, N, D, ldx, mean, Xc)) return XF_ERR(ctx, XF_ERR_NUMERIC, "PCA: input has NaN or Inf");
    /* var_frac needs the whole spectrum, which only the exact solver has */
    if (opt.method == XF_PCA_RANDOMIZED && opt.k > 0) return pca_randomized(ws, Xc, N, D, &opt, scores, k_out, evr);
    return pca_exact(ws, Xc, N, D, &opt, scores, k_out, evr);
}

xf_status xf_la_pca(xf_ws_t *ws, const float *X, int64_t N, int64_t D, int64_t ldx, const xf_pca_opts *opt,
                    double **scores, int64_t *k_out, double *evr) {
    return pca_any(ws, X, NULL, N, D, ldx, opt, scores, k_out, evr);
}

xf_status xf_la_pca_d(xf_ws_t *ws, const double *X, int64_t N, int64_t D, int64_t ldx, const xf_pca_opts *opt,
                      double **scores, int64_t *k_out, double *evr) {
    return pca_any(ws, NULL, X, N, D, ldx, opt, scores, k_out, evr);
}
