/* linalg against NumPy / SciPy / scikit-learn fixtures (tests/ref/gen_linalg.py), BLAS
 * wrappers against plain loops, edge cases, and allocation failure on every path that
 * allocates. */
#include "xfer/linalg.h"
#include "xfer/npy.h"
#include "linalg/linalgInt.h"
#include "xtest.h"

static xf_ctx_t *ctx;

/* Load a fixture as a double array (owned by the caller, xf_free). */
static double *load(const char *name, int64_t *rows, int64_t *cols) {
    char rel[256], p[512];
    snprintf(rel, sizeof rel, "linalg/%s.npy", name);
    xf_array a;
    if (xf_npy_read(ctx, xt_ref(rel, p, sizeof p), &a) != XF_OK) {
        CHECK(0, "fixture %s: %s", name, xf_errmsg(ctx));
        return NULL;
    }
    double *d = NULL;
    if (xf_array_to_f64(ctx, &a, 0, &d) != XF_OK) CHECK(0, "fixture %s: %s", name, xf_errmsg(ctx));
    if (rows) *rows = a.ndim >= 1 ? a.shape[0] : 1;
    if (cols) *cols = a.ndim >= 2 ? a.shape[1] : 1;
    xf_array_free(ctx, &a);
    return d;
}
static float *load_f(const char *name, int64_t *rows, int64_t *cols) {
    char rel[256], p[512];
    snprintf(rel, sizeof rel, "linalg/%s.npy", name);
    xf_array a;
    if (xf_npy_read(ctx, xt_ref(rel, p, sizeof p), &a) != XF_OK) {
        CHECK(0, "fixture %s: %s", name, xf_errmsg(ctx));
        return NULL;
    }
    float *d = NULL;
    if (xf_array_to_f32(ctx, &a, 0, &d) != XF_OK) CHECK(0, "fixture %s: %s", name, xf_errmsg(ctx));
    *rows = a.shape[0];
    *cols = a.shape[1];
    xf_array_free(ctx, &a);
    return d;
}

static double maxdiff(const double *a, const double *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}
/* columns of A (r x c, lda) equal to those of B (ldb) up to sign */
static double maxdiff_cols_sign(const double *A, int64_t lda, const double *B, int64_t ldb, int64_t r, int64_t c) {
    double m = 0;
    for (int64_t j = 0; j < c; j++) {
        double dot = 0;
        for (int64_t i = 0; i < r; i++) dot += A[i * lda + j] * B[i * ldb + j];
        double s = dot < 0 ? -1 : 1;
        for (int64_t i = 0; i < r; i++) {
            double d = fabs(A[i * lda + j] - s * B[i * ldb + j]);
            if (!(d <= m)) m = d;
        }
    }
    return m;
}

static void fill(double *a, int64_t n, uint64_t seed) {
    xf_rng r;
    xf_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) a[i] = xf_rng_normal(&r);
}

/* ---- BLAS wrappers vs plain loops ---- */
static void test_blas(void) {
    enum { M = 5, N = 4, K = 6, LD = 9 };
    double A[K * LD], B[K * LD], C[M * LD], R[M * LD];
    float Af[K * LD], Bf[K * LD], Cf[M * LD];
    fill(A, K * LD, 1);
    fill(B, K * LD, 2);
    for (int i = 0; i < K * LD; i++) { Af[i] = (float)A[i]; Bf[i] = (float)B[i]; }
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            fill(C, M * LD, 3);
            for (int i = 0; i < M * LD; i++) Cf[i] = (float)C[i];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++) s += (ta ? A[k * LD + i] : A[i * LD + k]) * (tb ? B[j * LD + k] : B[k * LD + j]);
                    R[i * LD + j] = 1.5 * s - 0.5 * C[i * LD + j];
                }
            xf_la_dgemm(ta, tb, M, N, K, 1.5, A, LD, B, LD, -0.5, C, LD);
            xf_la_sgemm(ta, tb, M, N, K, 1.5f, Af, LD, Bf, LD, -0.5f, Cf, LD);
            double e = 0, ef = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    e = fmax(e, fabs(C[i * LD + j] - R[i * LD + j]));
                    ef = fmax(ef, fabs(Cf[i * LD + j] - R[i * LD + j]));
                }
            CHECK(e < 1e-12, "dgemm ta=%d tb=%d err %g", ta, tb, e);
            CHECK(ef < 1e-4, "sgemm ta=%d tb=%d err %g", ta, tb, ef);
        }
    /* gemv */
    for (int ta = 0; ta < 2; ta++) {
        double x[K], y[K], r[K];
        fill(x, K, 4);
        fill(y, K, 5);
        int64_t rows = ta ? K : M, cols = ta ? M : K; /* A is M x K as stored */
        (void)rows;
        int64_t ny = ta ? K : M;
        for (int64_t i = 0; i < ny; i++) {
            double s = 0;
            for (int64_t k = 0; k < (ta ? M : K); k++) s += (ta ? A[k * LD + i] : A[i * LD + k]) * x[k];
            r[i] = 2 * s + 0.25 * y[i];
        }
        (void)cols;
        xf_la_dgemv(ta, M, K, 2.0, A, LD, x, 0.25, y);
        CHECK(maxdiff(y, r, ny) < 1e-12, "dgemv ta=%d", ta);
    }
    /* syrk, both triangles */
    for (int t = 0; t < 2; t++) {
        int64_t n = t ? 4 : 5, k = t ? 5 : 4; /* trans=0: A is n x k; trans=1: A is k x n */
        double Cs[5 * 7], Rs[5 * 7];
        float Csf[5 * 7];
        fill(Cs, 35, 6);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) Cs[i * 7 + j] = Cs[j * 7 + i]; /* symmetric start */
        for (int i = 0; i < 35; i++) Csf[i] = (float)Cs[i];
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t q = 0; q < k; q++) s += t ? A[q * LD + i] * A[q * LD + j] : A[i * LD + q] * A[j * LD + q];
                Rs[i * 7 + j] = 0.5 * s + 2 * Cs[i * 7 + j];
            }
        xf_la_dsyrk(t, n, k, 0.5, A, LD, 2.0, Cs, 7);
        xf_la_ssyrk(t, n, k, 0.5f, Af, LD, 2.0f, Csf, 7);
        double e = 0, ef = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                e = fmax(e, fabs(Cs[i * 7 + j] - Rs[i * 7 + j]));
                ef = fmax(ef, fabs(Csf[i * 7 + j] - Rs[i * 7 + j]));
            }
        CHECK(e < 1e-12, "dsyrk trans=%d err %g", t, e);
        CHECK(ef < 1e-4, "ssyrk trans=%d err %g", t, ef);
    }
    xf_la_set_threads(2);
    CHECK(xf_la_get_threads() >= 1, "threads");
}

/* ---- LAPACK wrappers ---- */
static void test_lapack(void) {
    int64_t n, c;
    double *S = load("sym", &n, &c), *w = load("sym_w", NULL, NULL), *V = load("sym_v", NULL, NULL);
    double A[49], w2[7], B[49], X[49];
    memcpy(A, S, sizeof A);
    CHECK_OK(ctx, xf_la_eigh(ctx, 7, A, 7, w2));
    CHECK(maxdiff(w2, w, 7) < 1e-12, "eigh values %g", maxdiff(w2, w, 7));
    CHECK(maxdiff_cols_sign(A, 7, V, 7, 7, 7) < 1e-10, "eigh vectors");
    /* padded leading dimension */
    double Ap[7 * 9];
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 9; j++) Ap[i * 9 + j] = j < 7 ? S[i * 7 + j] : 99;
    CHECK_OK(ctx, xf_la_eigh(ctx, 7, Ap, 9, w2));
    CHECK(maxdiff_cols_sign(Ap, 9, V, 7, 7, 7) < 1e-10 && Ap[8] == 99, "eigh with lda 9");

    double *Bg = load("gen_b", NULL, NULL), *gw = load("gen_w", NULL, NULL), *gV = load("gen_v", NULL, NULL);
    memcpy(A, S, sizeof A);
    memcpy(B, Bg, sizeof B);
    CHECK_OK(ctx, xf_la_eigh_gen(ctx, 7, A, 7, B, 7, w2));
    CHECK(maxdiff(w2, gw, 7) < 1e-12, "eigh_gen values");
    CHECK(maxdiff_cols_sign(A, 7, gV, 7, 7, 7) < 1e-10, "eigh_gen vectors");
    /* B now holds L with L L^T = B */
    double e = 0;
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++) {
            double s = 0;
            for (int k = 0; k < 7; k++) s += B[i * 7 + k] * B[j * 7 + k];
            e = fmax(e, fabs(s - Bg[i * 7 + j]));
        }
    CHECK(e < 1e-10, "eigh_gen: B factor %g", e);
    memcpy(A, S, sizeof A);
    memcpy(B, S, sizeof B);
    for (int i = 0; i < 7; i++) B[i * 7 + i] -= 100; /* indefinite */
    CHECK_ST(ctx, xf_la_eigh_gen(ctx, 7, A, 7, B, 7, w2), XF_ERR_NUMERIC);

    /* SVD, both orientations, with and without vectors */
    int64_t m;
    double *Asv = load("svd_a", &m, &n), *s = load("svd_s", NULL, NULL), *U = load("svd_u", NULL, NULL),
           *Vt = load("svd_vt", NULL, NULL), *sT = load("svd_at_s", NULL, NULL);
    double As[45], s2[5], U2[45], Vt2[25];
    memcpy(As, Asv, sizeof As);
    CHECK_OK(ctx, xf_la_svd(ctx, 9, 5, As, 5, s2, U2, 5, Vt2, 5));
    CHECK(maxdiff(s2, s, 5) < 1e-12, "svd values");
    CHECK(maxdiff_cols_sign(U2, 5, U, 5, 9, 5) < 1e-10, "svd U");
    { /* rows of Vt up to the same signs as U's columns: check U S Vt = A */
        double r = 0;
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 5; j++) {
                double t = 0;
                for (int k = 0; k < 5; k++) t += U2[i * 5 + k] * s2[k] * Vt2[k * 5 + j];
                r = fmax(r, fabs(t - Asv[i * 5 + j]));
            }
        CHECK(r < 1e-12, "svd reconstruct %g", r);
    }
    (void)Vt;
    double AT[45];
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 5; j++) AT[j * 9 + i] = Asv[i * 5 + j];
    double UT[25], VtT[45];
    CHECK_OK(ctx, xf_la_svd(ctx, 5, 9, AT, 9, s2, UT, 5, VtT, 9));
    CHECK(maxdiff(s2, sT, 5) < 1e-12, "svd wide values");
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 5; j++) AT[j * 9 + i] = Asv[i * 5 + j];
    CHECK_OK(ctx, xf_la_svd(ctx, 5, 9, AT, 9, s2, NULL, 0, NULL, 0));
    CHECK(maxdiff(s2, sT, 5) < 1e-12, "svd values only");
    memcpy(As, Asv, sizeof As);
    CHECK_OK(ctx, xf_la_svd(ctx, 9, 5, As, 5, s2, U2, 5, NULL, 0));
    CHECK(maxdiff_cols_sign(U2, 5, U, 5, 9, 5) < 1e-10, "svd U only");
    As[3] = NAN;
    CHECK_ST(ctx, xf_la_svd(ctx, 9, 5, As, 5, s2, U2, 5, NULL, 0), XF_ERR_NUMERIC);

    /* Cholesky, SPD solve, logdet */
    double *L = load("chol_l", NULL, NULL), *Bs = load("spd_b", NULL, NULL), *Xs = load("spd_x", NULL, NULL),
           *ld = load("logdet", NULL, NULL);
    memcpy(A, S, sizeof A);
    CHECK_OK(ctx, xf_la_cholesky(ctx, 7, A, 7));
    CHECK(maxdiff(A, L, 49) < 1e-12, "cholesky");
    memcpy(A, S, sizeof A);
    memcpy(X, Bs, sizeof(double) * 14);
    CHECK_OK(ctx, xf_la_solve_spd(ctx, 7, 2, A, 7, X, 2));
    CHECK(maxdiff(X, Xs, 14) < 1e-10, "solve_spd");
    memcpy(A, S, sizeof A);
    double lg = 0;
    CHECK_OK(ctx, xf_la_logdet_spd(ctx, 7, A, 7, &lg));
    CHECK_NEAR(lg, ld[0], 1e-12, 1e-12, "logdet");
    memcpy(A, S, sizeof A);
    A[0] = -1;
    CHECK_ST(ctx, xf_la_cholesky(ctx, 7, A, 7), XF_ERR_NUMERIC);
    CHECK(strstr(xf_errmsg(ctx), "positive definite") != NULL, "cholesky message: %s", xf_errmsg(ctx));
    memcpy(A, S, sizeof A);
    A[10] = NAN;
    CHECK_ST(ctx, xf_la_logdet_spd(ctx, 7, A, 7, &lg), XF_ERR_NUMERIC);

    /* LU solve */
    double *G = load("lu_a", NULL, NULL), *R = load("lu_b", NULL, NULL), *Xl = load("lu_x", NULL, NULL);
    double Gc[36], Rc[18];
    memcpy(Gc, G, sizeof Gc);
    memcpy(Rc, R, sizeof Rc);
    CHECK_OK(ctx, xf_la_solve(ctx, 6, 3, Gc, 6, Rc, 3));
    CHECK(maxdiff(Rc, Xl, 18) < 1e-10, "solve LU %g", maxdiff(Rc, Xl, 18));
    memcpy(Gc, G, sizeof Gc);
    for (int j = 0; j < 6; j++) Gc[2 * 6 + j] = 0.0; /* a zero row: exactly singular */
    memcpy(Rc, R, sizeof Rc);
    CHECK_ST(ctx, xf_la_solve(ctx, 6, 3, Gc, 6, Rc, 3), XF_ERR_NUMERIC);
    CHECK_ST(ctx, xf_la_solve(ctx, 6, 3, Gc, 2, Rc, 3), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_la_eigh(ctx, -1, A, 7, w2), XF_ERR_INVALID);
    memcpy(A, S, sizeof A);
    A[5] = INFINITY;
    CHECK_ST(ctx, xf_la_eigh(ctx, 7, A, 7, w2), XF_ERR_NUMERIC);
    /* n = 0 and n = 1 */
    CHECK_OK(ctx, xf_la_eigh(ctx, 0, A, 1, w2));
    double one = 4.0, wone = 0;
    CHECK_OK(ctx, xf_la_eigh(ctx, 1, &one, 1, &wone));
    CHECK(wone == 4.0 && fabs(one) == 1.0, "eigh 1x1");

    /* allocation failure in every allocating call */
    for (int k = 1; k <= 3; k++) {
        memcpy(A, S, sizeof A);
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_la_eigh(ctx, 7, A, 7, w2);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK(st == XF_OK || st == XF_ERR_NOMEM, "eigh fail@%d: %s", k, xf_status_str(st));
        memcpy(As, Asv, sizeof As);
        xf_ctx_fail_alloc_after(ctx, k);
        st = xf_la_svd(ctx, 9, 5, As, 5, s2, NULL, 0, Vt2, 5);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK(st == XF_OK || st == XF_ERR_NOMEM, "svd fail@%d: %s", k, xf_status_str(st));
        memcpy(A, S, sizeof A);
        memcpy(B, Bg, sizeof B);
        xf_ctx_fail_alloc_after(ctx, k);
        st = xf_la_eigh_gen(ctx, 7, A, 7, B, 7, w2);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK(st == XF_OK || st == XF_ERR_NOMEM, "eigh_gen fail@%d: %s", k, xf_status_str(st));
        memcpy(Gc, G, sizeof Gc);
        memcpy(Rc, R, sizeof Rc);
        xf_ctx_fail_alloc_after(ctx, k);
        st = xf_la_solve(ctx, 6, 3, Gc, 6, Rc, 3);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK(st == XF_OK || st == XF_ERR_NOMEM, "solve fail@%d: %s", k, xf_status_str(st));
    }
    memcpy(A, S, sizeof A);
    xf_ctx_fail_alloc_after(ctx, 1);
    CHECK_ST(ctx, xf_la_eigh(ctx, 7, A, 7, w2), XF_ERR_NOMEM);
    xf_ctx_fail_alloc_after(ctx, 0);

    double *fr[] = {S, w, V, Bg, gw, gV, Asv, s, U, Vt, sT, L, Bs, Xs, ld, G, R, Xl};
    for (size_t i = 0; i < sizeof fr / sizeof *fr; i++) xf_free(ctx, fr[i]);
}

/* ---- statistics ---- */
static void test_stats(xf_ws_t *ws) {
    int64_t N, D;
    float *X = load_f("stat_x", &N, &D);
    double *mean = load("stat_mean", NULL, NULL), *sd = load("stat_std", NULL, NULL),
           *c1 = load("stat_cov1", NULL, NULL), *c0 = load("stat_cov0", NULL, NULL);
    double m[6], Xd[25 * 6], C[36];
    xf_la_col_mean_f(X, N, D, D, m);
    CHECK(maxdiff(m, mean, D) < 1e-12, "col_mean_f");
    for (int64_t i = 0; i < N * D; i++) Xd[i] = X[i];
    CHECK_OK(ctx, xf_la_cov(ws, Xd, N, D, D, 1, C));
    CHECK(maxdiff(C, c1, D * D) < 1e-12, "cov ddof=1");
    CHECK_OK(ctx, xf_la_cov(ws, Xd, N, D, D, 0, C));
    CHECK(maxdiff(C, c0, D * D) < 1e-12, "cov ddof=0");
    CHECK_ST(ctx, xf_la_cov(ws, Xd, 1, D, D, 1, C), XF_ERR_INVALID);
    xf_la_standardize(Xd, N, D, D);
    CHECK(maxdiff(Xd, sd, N * D) < 1e-12, "standardize %g", maxdiff(Xd, sd, N * D));
    int zero = 1;
    for (int64_t i = 0; i < N; i++) zero &= Xd[i * D + 4] == 0.0;
    CHECK(zero, "standardize: constant column is zero");
    xf_free(ctx, X);
    xf_free(ctx, mean);
    xf_free(ctx, sd);
    xf_free(ctx, c1);
    xf_free(ctx, c0);
}

/* ---- PCA ---- */
static void check_pca(xf_ws_t *ws, const char *name, int64_t k, int method, double tol) {
    char b1[64], b2[64], b3[64];
    snprintf(b1, sizeof b1, "pca_%s_x", name);
    snprintf(b2, sizeof b2, "pca_%s_scores", name);
    snprintf(b3, sizeof b3, "pca_%s_evr", name);
    int64_t N, D, kr, kk;
    float *X = load_f(b1, &N, &D);
    double *S = load(b2, NULL, &kr);
    int64_t r = N < D ? N : D, ne = 0;
    double *evr_ref = NULL;
    if (strcmp(name, "frac")) evr_ref = load(b3, &ne, NULL);
    xf_pca_opts o;
    xf_pca_opts_default(&o);
    o.method = method;
    o.k = k;
    if (k == 0) o.var_frac = 0.8;
    o.seed = 7;
    double *scores = NULL, *evr = xf_malloc(ctx, sizeof(double) * (size_t)r);
    xf_ws_reset(ws);
    CHECK_OK(ctx, xf_la_pca(ws, X, N, D, D, &o, &scores, &kk, evr));
    int64_t kwant = k > 0 ? k : kr;
    CHECK(kk == kwant, "pca %s: k = %lld, want %lld", name, (long long)kk, (long long)kwant);
    if (kk == kwant && kk <= kr) {
        double e = 0, sc = 0;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < kk; j++) {
                e = fmax(e, fabs(scores[i * kk + j] - S[i * kr + j]));
                sc = fmax(sc, fabs(S[i * kr + j]));
            }
        CHECK(e <= tol * sc, "pca %s method %d: scores differ by %g (scale %g)", name, method, e, sc);
    }
    if (evr_ref) {
        int64_t ncmp = method == XF_PCA_EXACT ? ne : kk;
        CHECK(maxdiff(evr, evr_ref, ncmp) < 1e-9, "pca %s evr %g", name, maxdiff(evr, evr_ref, ncmp));
    }
    /* the double entry point gives the same */
    double *Xd = xf_malloc(ctx, sizeof(double) * (size_t)(N * D));
    for (int64_t i = 0; i < N * D; i++) Xd[i] = X[i];
    double *s2 = NULL;
    int64_t k2;
    CHECK_OK(ctx, xf_la_pca_d(ws, Xd, N, D, D, &o, &s2, &k2, NULL));
    CHECK(k2 == kk && s2 && maxdiff(s2, scores, N * kk) < 1e-9, "pca_d %s", name);
    xf_free(ctx, Xd);
    xf_free(ctx, X);
    xf_free(ctx, S);
    xf_free(ctx, evr);
    xf_free(ctx, evr_ref);
}

static void test_pca(xf_ws_t *ws) {
    check_pca(ws, "tall", 8, XF_PCA_EXACT, 1e-9);
    check_pca(ws, "wide", 10, XF_PCA_EXACT, 1e-9);
    check_pca(ws, "frac", 0, XF_PCA_EXACT, 1e-9);
    check_pca(ws, "gap", 6, XF_PCA_EXACT, 1e-9);
    check_pca(ws, "gap", 6, XF_PCA_RANDOMIZED, 1e-6);
    check_pca(ws, "tall", 3, XF_PCA_RANDOMIZED, 1e-3); /* decay 0.8: a modest gap */

    /* edge cases */
    float x1[4] = {1, 2, 3, 4};
    double *sc;
    int64_t k;
    double evr[64];
    xf_pca_opts o;
    xf_pca_opts_default(&o);
    o.k = 10; /* clamps */
    CHECK_OK(ctx, xf_la_pca(ws, x1, 1, 4, 4, &o, &sc, &k, evr)); /* N = 1 */
    CHECK(k == 1 && sc[0] == 0.0, "pca N=1: k %lld", (long long)k);
    CHECK_OK(ctx, xf_la_pca(ws, x1, 4, 1, 1, &o, &sc, &k, evr)); /* D = 1 */
    CHECK(k == 1 && fabs(fabs(sc[0]) - 1.5) < 1e-12 && fabs(evr[0] - 1.0) < 1e-15, "pca D=1");
    CHECK(sc[3] > 0 || sc[0] > 0, "pca D=1 sign");
    float xc[6] = {2, 5, 2, 5, 2, 5}; /* both columns constant */
    o.k = 0;
    CHECK_OK(ctx, xf_la_pca(ws, xc, 3, 2, 2, &o, &sc, &k, evr));
    CHECK(k >= 1 && sc[0] == 0.0 && evr[0] == 0.0, "pca constant");
    float xn[6] = {1, 2, NAN, 4, 5, 6};
    CHECK_ST(ctx, xf_la_pca(ws, xn, 3, 2, 2, &o, &sc, &k, evr), XF_ERR_NUMERIC);
    CHECK_ST(ctx, xf_la_pca(ws, x1, 0, 4, 4, &o, &sc, &k, evr), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_la_pca(ws, x1, 2, 2, 1, &o, &sc, &k, evr), XF_ERR_INVALID);
    o.k = -1;
    CHECK_ST(ctx, xf_la_pca(ws, x1, 2, 2, 2, &o, &sc, &k, evr), XF_ERR_INVALID);
    o.k = 0;
    o.var_frac = NAN;
    CHECK_ST(ctx, xf_la_pca(ws, x1, 2, 2, 2, &o, &sc, &k, evr), XF_ERR_INVALID);
    CHECK_OK(ctx, xf_la_pca(ws, x1, 2, 2, 2, NULL, &sc, &k, NULL)); /* NULL opts: defaults */
    CHECK(k == 2, "pca default keeps all");

    /* fault injection: every allocation of exact (tall and wide) and randomized PCA */
    int64_t N, D;
    float *X = load_f("pca_gap_x", &N, &D);
    for (int meth = 0; meth < 2; meth++)
        for (int wide = 0; wide < 2; wide++) {
            int64_t n = wide ? 30 : N; /* 30 x 60: the Gram path */
            int ok = 0;
            for (int f = 1; f < 200 && !ok; f++) {
                xf_ws_t *w2;
                if (xf_ws_create(ctx, &w2)) { CHECK(0, "ws"); break; }
                xf_pca_opts q;
                xf_pca_opts_default(&q);
                q.method = meth;
                q.k = 5;
                double *s = NULL;
                xf_ctx_fail_alloc_after(ctx, f);
                xf_status st = xf_la_pca(w2, X, n, D, D, &q, &s, &k, evr);
                xf_ctx_fail_alloc_after(ctx, 0);
                if (st == XF_OK) ok = 1;
                else CHECK(st == XF_ERR_NOMEM && s == NULL, "pca fail@%d: %s", f, xf_status_str(st));
                xf_ws_free(w2);
            }
            CHECK(ok, "pca method %d wide %d never succeeded", meth, wide);
        }
    xf_free(ctx, X);
}

/* ---- ranks and correlations ---- */
static void test_corr(xf_ws_t *ws) {
    const char *sets[] = {"s60", "s2000", "s7"};
    for (int si = 0; si < 3; si++) {
        char b[64];
        int64_t P, n;
        snprintf(b, sizeof b, "corr_%s_x", sets[si]);
        double *X = load(b, &P, &n);
        snprintf(b, sizeof b, "corr_%s_y", sets[si]);
        double *Y = load(b, NULL, NULL);
        snprintf(b, sizeof b, "corr_%s_expect", sets[si]);
        double *E = load(b, NULL, NULL);
        snprintf(b, sizeof b, "rank_%s", sets[si]);
        double *Rk = load(b, NULL, NULL);
        double *r = xf_malloc(ctx, sizeof(double) * (size_t)n);
        int64_t *idx = xf_malloc(ctx, sizeof(int64_t) * (size_t)n);
        for (int64_t p = 0; p < P; p++) {
            const double *x = X + p * n, *y = Y + p * n, *e = E + p * 4;
            xf_la_rank_avg(x, n, r, idx);
            CHECK(maxdiff(r, Rk + p * n, n) == 0.0, "rank_avg %s[%lld]", sets[si], (long long)p);
            double v[4];
            v[0] = xf_la_pearson(x, y, n);
            CHECK_OK(ctx, xf_la_spearman(ws, x, y, n, &v[1]));
            CHECK_OK(ctx, xf_la_kendall(ws, x, y, n, &v[2]));
            CHECK_OK(ctx, xf_la_weightedtau(ws, x, y, n, &v[3]));
            const char *nm[] = {"pearson", "spearman", "kendall", "weightedtau"};
            for (int q = 0; q < 4; q++) {
                /* Kendall and weighted tau follow SciPy's operation order: exact match */
                double tol = q >= 2 ? 0.0 : 1e-13;
                CHECK(fabs(v[q] - e[q]) <= tol, "%s %s[%lld]: got %.17g scipy %.17g", nm[q], sets[si], (long long)p,
                      v[q], e[q]);
            }
            xf_ws_reset(ws);
        }
        xf_free(ctx, r);
        xf_free(ctx, idx);
        xf_free(ctx, X);
        xf_free(ctx, Y);
        xf_free(ctx, E);
        xf_free(ctx, Rk);
    }
    /* NaN handling in weightedtau (NaN ranks lowest), and in the others (NaN result) */
    double *xn = load("wtau_nan_x", NULL, NULL), *yn = load("wtau_nan_y", NULL, NULL),
           *en = load("wtau_nan_expect", NULL, NULL);
    double t, yneg[8];
    for (int i = 0; i < 8; i++) yneg[i] = -yn[i];
    CHECK_OK(ctx, xf_la_weightedtau(ws, xn, yn, 8, &t));
    CHECK(t == en[0], "weightedtau NaN: %.17g vs %.17g", t, en[0]);
    CHECK_OK(ctx, xf_la_weightedtau(ws, xn, yneg, 8, &t));
    CHECK(t == en[1], "weightedtau NaN (neg): %.17g vs %.17g", t, en[1]);
    CHECK(isnan(xf_la_pearson(xn, yn, 8)), "pearson NaN");
    CHECK_OK(ctx, xf_la_kendall(ws, xn, yn, 8, &t));
    CHECK(isnan(t), "kendall NaN");
    CHECK_OK(ctx, xf_la_spearman(ws, xn, yn, 8, &t));
    CHECK(isnan(t), "spearman NaN");
    xf_free(ctx, xn);
    xf_free(ctx, yn);
    xf_free(ctx, en);
    /* constant input and tiny n */
    double c[5] = {1, 1, 1, 1, 1}, z[5] = {1, 2, 3, 4, 5}, z2[2] = {3, 1};
    CHECK(isnan(xf_la_pearson(c, z, 5)), "pearson constant");
    CHECK(xf_la_pearson(z, z2, 2) == -1.0, "pearson n=2");
    CHECK(isnan(xf_la_pearson(z, z, 1)), "pearson n=1");
    CHECK_OK(ctx, xf_la_kendall(ws, c, z, 5, &t));
    CHECK(isnan(t), "kendall constant");
    CHECK_OK(ctx, xf_la_weightedtau(ws, z, c, 5, &t));
    CHECK(isnan(t), "weightedtau constant");
    CHECK_OK(ctx, xf_la_weightedtau(ws, z, z, 0, &t));
    CHECK(isnan(t), "weightedtau empty");
    CHECK_OK(ctx, xf_la_kendall(ws, z, z, 5, &t));
    CHECK(fabs(t - 1.0) < 1e-15, "kendall identical: %.17g", t); /* SciPy gives 0.9999999999999999 too */
    /* fault injection */
    for (int f = 1; f <= 2; f++) {
        xf_ws_t *w2;
        if (xf_ws_create(ctx, &w2)) return;
        xf_ctx_fail_alloc_after(ctx, f);
        xf_status a = xf_la_kendall(w2, z, z, 5, &t), b = xf_la_weightedtau(w2, z, z, 5, &t),
                  s = xf_la_spearman(w2, z, z, 5, &t);
        xf_ctx_fail_alloc_after(ctx, 0);
        CHECK((a == XF_ERR_NOMEM || a == XF_OK) && (b == XF_ERR_NOMEM || b == XF_OK) &&
                  (s == XF_ERR_NOMEM || s == XF_OK),
              "corr fail@%d", f);
        if (f == 1) CHECK(a == XF_ERR_NOMEM, "kendall NOMEM");
        xf_ws_free(w2);
    }
}

int main(void) {
    if (xf_ctx_create(&ctx)) return 1;
    xf_ws_t *ws;
    if (xf_ws_create(ctx, &ws)) return 1;
    xf_la_set_threads(2);
    test_blas();
    test_lapack();
    test_stats(ws);
    test_pca(ws);
    test_corr(ws);
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return xt_done("test_linalg");
}
