/* Linear discriminant analysis pieces shared by SFDA, ETran and NCTI.
 *
 * Shrinkage LDA (SFDA, Shao et al. ECCV 2022, and sklearn's 'eigen' solver, which NCTI
 * uses): with within-class centred data Xw (N x D), S_w = Xw^T Xw / N is the prior-
 * weighted sum of the biased class covariances, and the shrunk
 *     S = (1 - lam) S_w + lam (tr S_w / D) I
 * equals both SFDA's shrinking of the pooled S_w and sklearn's prior-weighted sum of
 * per-class shrunk covariances (the trace is linear). The published code solves
 * eigh(S_b, S) and forms coef = means V V^T; for the full set of S-orthonormal
 * generalised eigenvectors V V^T = S^-1, so the posteriors need only one SPD solve
 * S W = means^T: O(N D^2 + D^3) instead of a D x D generalised eigenproblem. When N < D
 * the solve goes through the N x N Gram matrix (Woodbury identity), O(N^2 D), and the
 * power iteration applies S_w as Xw^T (Xw v) / N.
 *
 * sklearn's 'svd' solver (NCTI's fallback when its shrinkage underflows) is reproduced
 * step by step in xf_est_lda_svd. */
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

void xf_est_softmax_rows(double *A, int64_t N, int64_t K) {
    for (int64_t i = 0; i < N; i++) {
        double *a = A + i * K, mx = a[0], s = 0;
        for (int64_t k = 1; k < K; k++) mx = a[k] > mx ? a[k] : mx;
        for (int64_t k = 0; k < K; k++) s += (a[k] = exp(a[k] - mx));
        for (int64_t k = 0; k < K; k++) a[k] /= s;
    }
}

void xf_est_gaussian_posteriors(double *prob, int64_t N, int64_t Cp, const int64_t *counts, const double *A,
                                int64_t sac, int64_t saj, const double *B, int64_t sbc, int64_t sbj, int64_t J) {
    for (int64_t c = 0; c < Cp; c++) {
        double q = 0;
        for (int64_t j = 0; j < J; j++) q += A[c * sac + j * saj] * B[c * sbc + j * sbj];
        double b = -0.5 * q + log((double)counts[c] / (double)N);
        for (int64_t i = 0; i < N; i++) prob[i * Cp + c] += b;
    }
    xf_est_softmax_rows(prob, N, Cp);
}

/* means (Cp x D), Xw = X - means[y] (N x D) */
static void class_means(const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp, const int64_t *counts,
                        double *means) {
    memset(means, 0, (size_t)(Cp * D) * sizeof *means);
    for (int64_t i = 0; i < N; i++) {
        double *m = means + (int64_t)yd[i] * D;
        const double *x = X + i * D;
        for (int64_t j = 0; j < D; j++) m[j] += x[j];
    }
    for (int64_t c = 0; c < Cp; c++)
        for (int64_t j = 0; j < D; j++) means[c * D + j] /= (double)counts[c];
}

/* SFDA utils.iterative_A: x = A 1; three rounds of y = Ax/|Ax|, x = Ay/|Ay|; x^T A y. */
static double power_lambda_max(const double *A, int64_t D, int iters, double *x, double *y, double *t) {
    for (int64_t i = 0; i < D; i++) {
        double s = 0;
        for (int64_t j = 0; j < D; j++) s += A[i * D + j];
        x[i] = s;
    }
    for (int it = 0; it < iters; it++) {
        xf_la_dgemv(0, D, D, 1.0, A, D, x, 0.0, t);
        double n = 0;
        for (int64_t i = 0; i < D; i++) n += t[i] * t[i];
        n = sqrt(n);
        for (int64_t i = 0; i < D; i++) y[i] = t[i] / n;
        xf_la_dgemv(0, D, D, 1.0, A, D, y, 0.0, t);
        n = 0;
        for (int64_t i = 0; i < D; i++) n += t[i] * t[i];
        n = sqrt(n);
        for (int64_t i = 0; i < D; i++) x[i] = t[i] / n;
    }
    xf_la_dgemv(0, D, D, 1.0, A, D, y, 0.0, t);
    double r = 0;
    for (int64_t i = 0; i < D; i++) r += x[i] * t[i];
    return r;
}

/* S_w (D x D) from X, and the means. */
static xf_status within_scatter(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                                const int64_t *counts, double *means, double *Sw) {
    class_means(X, N, D, yd, Cp, counts, means);
    double *Xw; // (N, D)
    XF_WS_NEW(ws, Xw, N * D);
    for (int64_t i = 0; i < N; i++) {
        const double *m = means + (int64_t)yd[i] * D;
        for (int64_t j = 0; j < D; j++) Xw[i * D + j] = X[i * D + j] - m[j];
    }
    xf_la_dsyrk(1, D, N, 1.0 / (double)N, Xw, D, 0.0, Sw, D);
    return XF_OK;
}

static void shrink(double *S, int64_t D, double lam) {
    double tr = 0;
    for (int64_t j = 0; j < D; j++) tr += S[j * D + j];
    for (int64_t k = 0; k < D * D; k++) S[k] *= (1.0 - lam);
    for (int64_t j = 0; j < D; j++) S[j * D + j] += lam * tr / (double)D;
}

/* lambda_max(S_w) with S_w = Xw^T Xw / N applied as two GEMVs (N < D): the same
 * iteration as power_lambda_max without forming S_w. */
static double power_lambda_max_gram(const double *Xw, int64_t N, int64_t D, int iters, double *x, double *y,
                                    double *t, double *u) {
    for (int64_t j = 0; j < D; j++) x[j] = 0;
    for (int64_t i = 0; i < N; i++) { /* S_w 1 = Xw^T (Xw 1) / N */
        double s = 0;
        for (int64_t j = 0; j < D; j++) s += Xw[i * D + j];
        u[i] = s / (double)N;
    }
    xf_la_dgemv(1, N, D, 1.0, Xw, D, u, 0.0, x);
#define SW_APPLY(in, out)                                            \
    do {                                                             \
        xf_la_dgemv(0, N, D, 1.0 / (double)N, Xw, D, (in), 0.0, u); \
        xf_la_dgemv(1, N, D, 1.0, Xw, D, u, 0.0, (out));             \
    } while (0)
    for (int it = 0; it < iters; it++) {
        SW_APPLY(x, t);
        double n = 0;
        for (int64_t i = 0; i < D; i++) n += t[i] * t[i];
        n = sqrt(n);
        for (int64_t i = 0; i < D; i++) y[i] = t[i] / n;
        SW_APPLY(y, t);
        n = 0;
        for (int64_t i = 0; i < D; i++) n += t[i] * t[i];
        n = sqrt(n);
        for (int64_t i = 0; i < D; i++) x[i] = t[i] / n;
    }
    SW_APPLY(y, t);
#undef SW_APPLY
    double r = 0;
    for (int64_t i = 0; i < D; i++) r += x[i] * t[i];
    return r;
}

xf_status xf_est_lda_posterior(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                               const int64_t *counts, double lam, int power_iters, double *prob, double *lam_out) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    double *means, *W, *Xw; // (Cp, D), (D, Cp), (N, D)
    XF_WS_NEW(ws, means, Cp * D);
    XF_WS_NEW(ws, W, D * Cp);
    XF_WS_NEW(ws, Xw, N * D);
    class_means(X, N, D, yd, Cp, counts, means);
    for (int64_t i = 0; i < N; i++) {
        const double *m = means + (int64_t)yd[i] * D;
        for (int64_t j = 0; j < D; j++) Xw[i * D + j] = X[i * D + j] - m[j];
    }
    double trw = 0; /* tr S_w = |Xw|_F^2 / N */
    for (int64_t k = 0; k < N * D; k++) trw += Xw[k] * Xw[k];
    trw /= (double)N;
    /* N < D: S = a I + b Xw^T Xw has rank-N structure; solve through the N x N Gram
     * (Woodbury) instead of a D x D factorisation */
    const int gram = N < D;
    double *S = NULL; // (D, D) when !gram
    if (!gram) {
        XF_WS_NEW(ws, S, D * D);
        xf_la_dsyrk(1, D, N, 1.0 / (double)N, Xw, D, 0.0, S, D);
    }
    xf_status st;
    if (lam < 0) {
        /* adaptive strength (SFDA): lam = max(exp(-5 lambda_max(S_w)), 1e-10) */
        double lmax;
        if (power_iters > 0) {
            double *a, *b, *t, *u;
            XF_WS_NEW(ws, a, D);
            XF_WS_NEW(ws, b, D);
            XF_WS_NEW(ws, t, D);
            XF_WS_NEW(ws, u, N);
            lmax = gram ? power_lambda_max_gram(Xw, N, D, power_iters, a, b, t, u)
                        : power_lambda_max(S, D, power_iters, a, b, t);
        } else {
            /* exact: the largest eigenvalue of Xw^T Xw / N equals that of Xw Xw^T / N */
            int64_t n = gram ? N : D;
            double *E, *w;
            XF_WS_NEW(ws, E, n * n);
            XF_WS_NEW(ws, w, n);
            if (gram) xf_la_dsyrk(0, N, D, 1.0 / (double)N, Xw, D, 0.0, E, N);
            else memcpy(E, S, (size_t)(D * D) * sizeof *E);
            if ((st = xf_la_eigh(ctx, n, E, n, w))) return st;
            lmax = w[n - 1];
        }
        lam = exp(-5.0 * lmax);
        if (!(lam > 1e-10)) lam = 1e-10; /* also catches NaN */
    }
    *lam_out = lam;
    for (int64_t c = 0; c < Cp; c++)
        for (int64_t j = 0; j < D; j++) W[j * Cp + c] = means[c * D + j];
    if (!gram) {
        shrink(S, D, lam);
        st = xf_la_solve_spd(ctx, D, Cp, S, D, W, Cp);
    } else {
        /* S^-1 M^T = (M^T - Xw^T (a/b I + Xw Xw^T)^-1 Xw M^T) / a,
         * a = lam tr(S_w)/D, b = (1 - lam)/N */
        double a = lam * trw / (double)D, b = (1.0 - lam) / (double)N;
        double *G, *T; // (N, N), (N, Cp)
        XF_WS_NEW(ws, G, N * N);
        XF_WS_NEW(ws, T, N * Cp);
        st = a > 0 ? XF_OK : XF_ERR_NUMERIC;
        if (!st) {
            xf_la_dsyrk(0, N, D, 1.0, Xw, D, 0.0, G, N);
            for (int64_t i = 0; i < N; i++) G[i * N + i] += a / b;
            xf_la_dgemm(0, 0, N, Cp, D, 1.0, Xw, D, W, Cp, 0.0, T, Cp);
            st = xf_la_solve_spd(ctx, N, Cp, G, N, T, Cp);
        }
        if (!st) {
            xf_la_dgemm(1, 0, D, Cp, N, -1.0, Xw, D, T, Cp, 1.0, W, Cp);
            for (int64_t k = 0; k < D * Cp; k++) W[k] /= a;
        }
    }
    if (st) {
        xf_ctx_clear_error(ctx);
        return XF_ERR(ctx, XF_ERR_NUMERIC,
                      "shrunk within-class scatter (D = %lld, shrinkage %g) is not positive definite",
                      (long long)D, lam);
    }
    /* logits = X W - diag(means W)/2 + log prior */
    xf_la_dgemm(0, 0, N, Cp, D, 1.0, X, D, W, Cp, 0.0, prob, Cp);
    xf_est_gaussian_posteriors(prob, N, Cp, counts, means, D, 1, W, 1, Cp, D);
    return XF_OK;
}

xf_status xf_est_lda_eigen_transform(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd,
                                     int64_t Cp, const int64_t *counts, double lam, double **Zout, int64_t *kout) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    double *means, *Sw, *St, *w, *mu; // (Cp, D), (D, D), (D, D), (D), (D)
    XF_WS_NEW(ws, means, Cp * D);
    XF_WS_NEW(ws, Sw, D * D);
    XF_WS_NEW(ws, St, D * D);
    XF_WS_NEW(ws, w, D);
    XF_WS_NEW(ws, mu, D);
    xf_status st = within_scatter(ws, X, N, D, yd, Cp, counts, means, Sw);
    if (st) return st;
    /* total scatter (biased), shrunk the same way */
    double *Xt; // (N, D)
    XF_WS_NEW(ws, Xt, N * D);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) mu[j] += X[i * D + j];
    for (int64_t j = 0; j < D; j++) mu[j] /= (double)N;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) Xt[i * D + j] = X[i * D + j] - mu[j];
    xf_la_dsyrk(1, D, N, 1.0 / (double)N, Xt, D, 0.0, St, D);
    shrink(Sw, D, lam);
    shrink(St, D, lam);
    for (int64_t k = 0; k < D * D; k++) St[k] -= Sw[k]; /* S_b = S_t - S_w */
    st = xf_la_eigh_gen(ctx, D, St, D, Sw, D, w);
    if (st) return st;
    /* eigenvectors in descending eigenvalue order; keep min(Cp - 1, D) as sklearn's
     * transform; then X V (the 'eigen' solver does not centre) */
    int64_t k = Cp - 1 < D ? Cp - 1 : D;
    double *V, *Z; // (D, k), (N, k)
    XF_WS_NEW(ws, V, D * k);
    XF_WS_NEW(ws, Z, N * k);
    for (int64_t j = 0; j < D; j++)
        for (int64_t c = 0; c < k; c++) V[j * k + c] = St[j * D + (D - 1 - c)];
    xf_la_dgemm(0, 0, N, k, D, 1.0, X, D, V, k, 0.0, Z, k);
    *Zout = Z;
    *kout = k;
    return XF_OK;
}

xf_status xf_est_lda_svd(xf_ws_t *ws, const double *X, int64_t N, int64_t D, const int32_t *yd, int64_t Cp,
                         const int64_t *counts, double **Zout, int64_t *kout, double *prob) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    const double tol = 1e-4; /* sklearn's default */
    double *means, *xbar, *Xw, *sd; // (Cp, D), (D), (N, D), (D)
    XF_WS_NEW(ws, means, Cp * D);
    XF_WS_NEW(ws, xbar, D);
    XF_WS_NEW(ws, Xw, N * D);
    XF_WS_NEW(ws, sd, D);
    if (N <= Cp) return XF_ERR(ctx, XF_ERR_INVALID, "lda: the number of samples must exceed the number of classes");
    class_means(X, N, D, yd, Cp, counts, means);
    for (int64_t c = 0; c < Cp; c++)
        for (int64_t j = 0; j < D; j++) xbar[j] += (double)counts[c] / (double)N * means[c * D + j];
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) Xw[i * D + j] = X[i * D + j] - means[(int64_t)yd[i] * D + j];
    /* 1) within-class std per feature (population), zeros -> 1 */
    for (int64_t j = 0; j < D; j++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < N; i++) m += Xw[i * D + j];
        m /= (double)N;
        for (int64_t i = 0; i < N; i++) v += (Xw[i * D + j] - m) * (Xw[i * D + j] - m);
        sd[j] = sqrt(v / (double)N);
        if (sd[j] == 0) sd[j] = 1.0;
    }
    /* 2) SVD of sqrt(1/(N-C)) Xw / std */
    double f = sqrt(1.0 / (double)(N - Cp));
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) Xw[i * D + j] = f * Xw[i * D + j] / sd[j];
    int64_t r0 = N < D ? N : D;
    double *s, *Vt; // (r0), (r0, D)
    XF_WS_NEW(ws, s, r0);
    XF_WS_NEW(ws, Vt, r0 * D);
    xf_status st = xf_la_svd(ctx, N, D, Xw, D, s, NULL, 1, Vt, D);
    if (st) return st;
    int64_t rank = 0;
    for (int64_t j = 0; j < r0; j++) rank += s[j] > tol;
    double *sc; // scalings (D, rank) = (Vt[:rank] / std).T / S[:rank]
    XF_WS_NEW(ws, sc, D * (rank ? rank : 1));
    for (int64_t j = 0; j < D; j++)
        for (int64_t r = 0; r < rank; r++) sc[j * rank + r] = Vt[r * D + j] / sd[j] / s[r];
    /* 3) between-class: sqrt(N pi_c / (C-1)) (mu_c - xbar) scalings, SVD */
    double fb = 1.0 / (double)(Cp - 1);
    double *B; // (Cp, rank)
    XF_WS_NEW(ws, B, Cp * (rank ? rank : 1));
    double *Mc; // (Cp, D)
    XF_WS_NEW(ws, Mc, Cp * D);
    for (int64_t c = 0; c < Cp; c++) {
        double g = sqrt((double)counts[c] * fb);
        for (int64_t j = 0; j < D; j++) Mc[c * D + j] = g * (means[c * D + j] - xbar[j]);
    }
    if (rank == 0) return XF_ERR(ctx, XF_ERR_NUMERIC, "lda: within-class data has rank 0");
    xf_la_dgemm(0, 0, Cp, rank, D, 1.0, Mc, D, sc, rank, 0.0, B, rank);
    int64_t r1 = Cp < rank ? Cp : rank;
    double *s2, *Vt2; // (r1), (r1, rank)
    XF_WS_NEW(ws, s2, r1);
    XF_WS_NEW(ws, Vt2, r1 * rank);
    if ((st = xf_la_svd(ctx, Cp, rank, B, rank, s2, NULL, 1, Vt2, rank))) return st;
    int64_t rank2 = 0;
    for (int64_t j = 0; j < r1; j++) rank2 += s2[j] > tol * s2[0];
    if (rank2 == 0) return XF_ERR(ctx, XF_ERR_NUMERIC, "lda: class means coincide");
    double *scal; // scalings_ (D, rank2) = sc @ Vt2.T[:, :rank2]
    XF_WS_NEW(ws, scal, D * rank2);
    xf_la_dgemm(0, 1, D, rank2, rank, 1.0, sc, rank, Vt2, rank, 0.0, scal, rank2);
    /* coef = (means - xbar) scal (Cp, rank2); intercept = -|coef|^2/2 + log pi - xbar coef_^T;
     * logits = X coef_^T + intercept = ((X - xbar) scal) coef^T - |coef|^2/2 + log pi */
    double *coef, *Z; // (Cp, rank2), (N, rank2)
    XF_WS_NEW(ws, coef, Cp * rank2);
    XF_WS_NEW(ws, Z, N * rank2);
    for (int64_t c = 0; c < Cp; c++)
        for (int64_t j = 0; j < D; j++) Mc[c * D + j] = means[c * D + j] - xbar[j];
    xf_la_dgemm(0, 0, Cp, rank2, D, 1.0, Mc, D, scal, rank2, 0.0, coef, rank2);
    double *Xc; // (N, D) X - xbar
    XF_WS_NEW(ws, Xc, N * D);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) Xc[i * D + j] = X[i * D + j] - xbar[j];
    xf_la_dgemm(0, 0, N, rank2, D, 1.0, Xc, D, scal, rank2, 0.0, Z, rank2);
    xf_la_dgemm(0, 1, N, Cp, rank2, 1.0, Z, rank2, coef, rank2, 0.0, prob, Cp);
    xf_est_gaussian_posteriors(prob, N, Cp, counts, coef, rank2, 1, coef, rank2, 1, rank2);
    /* transform keeps min(rank2, Cp - 1) columns */
    int64_t k = rank2 < Cp - 1 ? rank2 : Cp - 1;
    if (k < rank2)
        for (int64_t i = 0; i < N; i++) memmove(Z + i * k, Z + i * rank2, (size_t)k * sizeof *Z);
    *Zout = Z;
    *kout = k;
    return XF_OK;
}
