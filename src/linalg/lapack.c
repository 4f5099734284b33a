/* linalg/lapack: symmetric and generalised eigenproblems, SVD, Cholesky, linear solves
 * and the split tridiagonal eigensolver used by PCA, on top of LAPACKE's *_work entry
 * points.
 *
 * Design: xfer's matrices are row-major, LAPACK's are column-major. The row-major
 * LAPACKE drivers transpose through hidden mallocs, which would bypass the context's
 * allocator (and its fault injection). Instead we hand the same buffer to the
 * column-major routine, which then sees the transpose: for a symmetric matrix that is
 * the same matrix; for the SVD of A we factor A^T = V S U^T and swap the roles of U and
 * Vt; for Cholesky / LU we keep the transposed factors and solve with row-major CBLAS
 * triangular solves. Workspace sizes are queried (lwork = -1) and allocated through the
 * context (public functions) or the workspace (the PCA helpers). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "linalg/linalgInt.h"

#define COLMAJ LAPACK_COL_MAJOR

static int all_finite(const double *A, int64_t m, int64_t n, int64_t lda) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(A[i * lda + j])) return 0;
    return 1;
}

static xf_status check_dims(xf_ctx_t *ctx, const char *fn, int64_t n, int64_t lda, int64_t cols) {
    if (n < 0 || lda < (cols > 1 ? cols : 1) || n > INT32_MAX || lda > INT32_MAX)
        return XF_ERR(ctx, XF_ERR_INVALID, "%s: bad size n=%lld lda=%lld", fn, (long long)n, (long long)lda);
    return XF_OK;
}

void xf_la_transpose_sq(double *A, int64_t n, int64_t lda) {
    const int64_t T = 32;
    for (int64_t ib = 0; ib < n; ib += T)
        for (int64_t jb = ib; jb < n; jb += T) {
            int64_t ie = ib + T < n ? ib + T : n, je = jb + T < n ? jb + T : n;
            for (int64_t i = ib; i < ie; i++)
                for (int64_t j = (jb > i + 1 ? jb : i + 1); j < je; j++) {
                    double t = A[i * lda + j];
                    A[i * lda + j] = A[j * lda + i];
                    A[j * lda + i] = t;
                }
        }
}

/* ---- symmetric eigendecomposition (dsyevd: divide and conquer, fastest for all
 * vectors) ---- */
xf_status xf_la_eigh(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda, double *w) {
    xf_status st = check_dims(ctx, "xf_la_eigh", n, lda, n);
    if (st) return st;
    if (n == 0) return XF_OK;
    if (!all_finite(A, n, n, lda)) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_eigh: matrix has NaN or Inf");
    double wq;
    lapack_int iwq, info;
    info = LAPACKE_dsyevd_work(COLMAJ, 'V', 'L', (lapack_int)n, A, (lapack_int)lda, w, &wq, -1, &iwq, -1);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dsyevd workspace query failed (info %d)", (int)info);
    lapack_int lwork = (lapack_int)wq, liwork = iwq;
    double *work = xf_malloc(ctx, sizeof(double) * (size_t)lwork);
    lapack_int *iwork = xf_malloc(ctx, sizeof(lapack_int) * (size_t)liwork);
    if (!work || !iwork) {
        xf_free(ctx, work);
        xf_free(ctx, iwork);
        return XF_ERR_NOMEM;
    }
    info = LAPACKE_dsyevd_work(COLMAJ, 'V', 'L', (lapack_int)n, A, (lapack_int)lda, w, work, lwork, iwork, liwork);
    xf_free(ctx, work);
    xf_free(ctx, iwork);
    if (info) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_eigh: dsyevd failed to converge (info %d)", (int)info);
    /* column-major vectors: A[i + j*lda] = component i of vector j; we promise the
     * row-major A[i*lda + j], i.e. the transpose. */
    xf_la_transpose_sq(A, n, lda);
    return XF_OK;
}

xf_status xf_la_eigh_gen(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda, double *B, int64_t ldb, double *w) {
    xf_status st = check_dims(ctx, "xf_la_eigh_gen", n, lda, n);
    if (!st) st = check_dims(ctx, "xf_la_eigh_gen", n, ldb, n);
    if (st) return st;
    if (n == 0) return XF_OK;
    if (!all_finite(A, n, n, lda) || !all_finite(B, n, n, ldb))
        return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_eigh_gen: matrix has NaN or Inf");
    double wq;
    lapack_int iwq, info;
    info = LAPACKE_dsygvd_work(COLMAJ, 1, 'V', 'L', (lapack_int)n, A, (lapack_int)lda, B, (lapack_int)ldb, w, &wq, -1,
                               &iwq, -1);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dsygvd workspace query failed (info %d)", (int)info);
    lapack_int lwork = (lapack_int)wq, liwork = iwq;
    double *work = xf_malloc(ctx, sizeof(double) * (size_t)lwork);
    lapack_int *iwork = xf_malloc(ctx, sizeof(lapack_int) * (size_t)liwork);
    if (!work || !iwork) {
        xf_free(ctx, work);
        xf_free(ctx, iwork);
        return XF_ERR_NOMEM;
    }
    info = LAPACKE_dsygvd_work(COLMAJ, 1, 'V', 'L', (lapack_int)n, A, (lapack_int)lda, B, (lapack_int)ldb, w, work,
                               lwork, iwork, liwork);
    xf_free(ctx, work);
    xf_free(ctx, iwork);
    if (info > n) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_eigh_gen: B is not positive definite");
    if (info) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_eigh_gen: dsygvd failed to converge (info %d)", (int)info);
    xf_la_transpose_sq(A, n, lda);
    /* B's factor is in LAPACK's lower triangle = our upper one; present it as lower L */
    xf_la_transpose_sq(B, n, ldb);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) B[i * ldb + j] = 0.0;
    return XF_OK;
}

/* ---- SVD: dgesdd on the column-major view A^T (n x m) = V S U^T ---- */
xf_status xf_la_svd(xf_ctx_t *ctx, int64_t m, int64_t n, double *A, int64_t lda, double *s, double *U, int64_t ldu,
                    double *Vt, int64_t ldvt) {
    if (m < 0 || n < 0 || lda < (n > 1 ? n : 1) || m > INT32_MAX || n > INT32_MAX || lda > INT32_MAX)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_svd: bad size %lld x %lld (lda %lld)", (long long)m, (long long)n,
                      (long long)lda);
    int64_t k = m < n ? m : n;
    if (k == 0) return XF_OK;
    if ((U && ldu < k) || (Vt && ldvt < n))
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_svd: ldu %lld / ldvt %lld too small", (long long)ldu,
                      (long long)ldvt);
    if (!all_finite(A, m, n, lda)) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_svd: matrix has NaN or Inf");
    char jobz = (U || Vt) ? 'S' : 'N';
    /* In the column-major call: "U" is V (n x k, ld = ldvt) stored in our Vt, "VT" is
     * U^T (k x m, ld = ldu) stored in our U. Missing outputs get scratch. */
    double *uu = NULL, *vv = NULL;
    lapack_int ldvv = (lapack_int)(Vt ? ldvt : n), lduu = (lapack_int)(U ? ldu : k);
    lapack_int *iwork = xf_malloc(ctx, sizeof(lapack_int) * 8 * (size_t)k);
    if (!iwork) return XF_ERR_NOMEM;
    if (jobz == 'S' && !Vt) {
        vv = xf_malloc(ctx, sizeof(double) * (size_t)n * (size_t)k);
        if (!vv) goto nomem;
    }
    if (jobz == 'S' && !U) {
        uu = xf_malloc(ctx, sizeof(double) * (size_t)m * (size_t)k);
        if (!uu) goto nomem;
    }
    double *pv = Vt ? Vt : vv, *pu = U ? U : uu;
    double wq;
    lapack_int info = LAPACKE_dgesdd_work(COLMAJ, jobz, (lapack_int)n, (lapack_int)m, A, (lapack_int)lda, s, pv,
                                          ldvv > 0 ? ldvv : 1, pu, lduu > 0 ? lduu : 1, &wq, -1, iwork);
    if (info) {
        xf_free(ctx, iwork);
        xf_free(ctx, uu);
        xf_free(ctx, vv);
        return XF_ERR(ctx, XF_ERR_INTERNAL, "dgesdd workspace query failed (info %d)", (int)info);
    }
    lapack_int lwork = (lapack_int)wq;
    double *work = xf_malloc(ctx, sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) goto nomem;
    info = LAPACKE_dgesdd_work(COLMAJ, jobz, (lapack_int)n, (lapack_int)m, A, (lapack_int)lda, s, pv,
                               ldvv > 0 ? ldvv : 1, pu, lduu > 0 ? lduu : 1, work, lwork, iwork);
    xf_free(ctx, work);
    xf_free(ctx, iwork);
    xf_free(ctx, uu);
    xf_free(ctx, vv);
    if (info) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_svd: dgesdd failed to converge (info %d)", (int)info);
    return XF_OK;
nomem:
    xf_free(ctx, iwork);
    xf_free(ctx, uu);
    xf_free(ctx, vv);
    return XF_ERR_NOMEM;
}

/* ---- Cholesky: dpotrf 'U' on the column-major view = our lower L ---- */
xf_status xf_la_cholesky(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda) {
    xf_status st = check_dims(ctx, "xf_la_cholesky", n, lda, n);
    if (st) return st;
    if (n == 0) return XF_OK;
    if (!all_finite(A, n, n, lda)) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_cholesky: matrix has NaN or Inf");
    lapack_int info = LAPACKE_dpotrf_work(COLMAJ, 'U', (lapack_int)n, A, (lapack_int)lda);
    if (info > 0)
        return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_cholesky: matrix is not positive definite (leading minor %d)",
                      (int)info);
    if (info < 0) return XF_ERR(ctx, XF_ERR_INTERNAL, "dpotrf: bad argument %d", (int)-info);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) A[i * lda + j] = 0.0;
    return XF_OK;
}

xf_status xf_la_solve_spd(xf_ctx_t *ctx, int64_t n, int64_t nrhs, double *A, int64_t lda, double *B, int64_t ldb) {
    if (nrhs < 0 || nrhs > INT32_MAX || ldb < (nrhs > 1 ? nrhs : 1) || ldb > INT32_MAX)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_solve_spd: bad nrhs %lld / ldb %lld", (long long)nrhs,
                      (long long)ldb);
    if (!all_finite(B, n > 0 ? n : 0, nrhs, ldb))
        return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_solve_spd: right-hand side has NaN or Inf");
    xf_status st = xf_la_cholesky(ctx, n, A, lda);
    if (st || n == 0 || nrhs == 0) return st;
    /* L L^T X = B */
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (blasint)n, (blasint)nrhs, 1.0, A,
                (blasint)lda, B, (blasint)ldb);
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (blasint)n, (blasint)nrhs, 1.0, A,
                (blasint)lda, B, (blasint)ldb);
    return XF_OK;
}

/* LU of the column-major view A^T = P L U, so A = U^T L^T P^T. In our row-major buffer
 * the lower triangle holds U^T (non-unit) and the strict upper L^T (unit diagonal). */
xf_status xf_la_solve(xf_ctx_t *ctx, int64_t n, int64_t nrhs, double *A, int64_t lda, double *B, int64_t ldb) {
    xf_status st = check_dims(ctx, "xf_la_solve", n, lda, n);
    if (st) return st;
    if (nrhs < 0 || nrhs > INT32_MAX || ldb < (nrhs > 1 ? nrhs : 1) || ldb > INT32_MAX)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_solve: bad nrhs %lld / ldb %lld", (long long)nrhs, (long long)ldb);
    if (n == 0) return XF_OK;
    if (!all_finite(A, n, n, lda) || !all_finite(B, n, nrhs, ldb))
        return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_solve: input has NaN or Inf");
    lapack_int *ipiv = xf_malloc(ctx, sizeof(lapack_int) * (size_t)n);
    if (!ipiv) return XF_ERR_NOMEM;
    lapack_int info = LAPACKE_dgetrf_work(COLMAJ, (lapack_int)n, (lapack_int)n, A, (lapack_int)lda, ipiv);
    if (info) {
        xf_free(ctx, ipiv);
        if (info > 0) return XF_ERR(ctx, XF_ERR_NUMERIC, "xf_la_solve: matrix is singular (pivot %d is zero)", (int)info);
        return XF_ERR(ctx, XF_ERR_INTERNAL, "dgetrf: bad argument %d", (int)-info);
    }
    if (nrhs > 0) {
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (blasint)n, (blasint)nrhs, 1.0, A,
                    (blasint)lda, B, (blasint)ldb);
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasUnit, (blasint)n, (blasint)nrhs, 1.0, A,
                    (blasint)lda, B, (blasint)ldb);
        /* X = P Z: the interchanges in reverse order */
        for (int64_t i = n - 1; i >= 0; i--) {
            int64_t p = (int64_t)ipiv[i] - 1;
            if (p != i)
                for (int64_t j = 0; j < nrhs; j++) {
                    double t = B[i * ldb + j];
                    B[i * ldb + j] = B[p * ldb + j];
                    B[p * ldb + j] = t;
                }
        }
    }
    xf_free(ctx, ipiv);
    return XF_OK;
}

xf_status xf_la_logdet_spd(xf_ctx_t *ctx, int64_t n, double *A, int64_t lda, double *out) {
    xf_status st = xf_la_cholesky(ctx, n, A, lda);
    if (st) return st;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += log(A[i * lda + i]);
    *out = 2.0 * s;
    return XF_OK;
}

/* ---- split eigensolver for PCA: one tridiagonal reduction, all eigenvalues (dsterf),
 * then only the eigenvectors that are needed (dstemr, dstebz + dstein as fallback) and
 * the back-transformation (dormtr). This is what dsyevr does internally, split in two so
 * that PCA can pick k from the full spectrum before computing any vector. ---- */
xf_status xf_la_tridiag_reduce(xf_ws_t *ws, int64_t n, double *A, int64_t lda, xf_la_tridiag *t, double *w) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    memset(t, 0, sizeof *t);
    xf_status st = check_dims(ctx, "xf_la_tridiag_reduce", n, lda, n);
    if (st) return st;
    if (n == 0) return XF_OK;
    if (!all_finite(A, n, n, lda)) return XF_ERR(ctx, XF_ERR_NUMERIC, "eigensolver: matrix has NaN or Inf");
    t->n = n;
    t->A = A;
    t->lda = lda;
    t->d = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    t->e = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    t->tau = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    double *e2 = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    if (!t->d || !t->e || !t->tau || !e2) return XF_ERR_NOMEM;
    double wq;
    lapack_int info = LAPACKE_dsytrd_work(COLMAJ, 'L', (lapack_int)n, A, (lapack_int)lda, t->d, t->e, t->tau, &wq, -1);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dsytrd workspace query failed (info %d)", (int)info);
    lapack_int lwork = (lapack_int)wq;
    double *work = xf_ws_alloc(ws, sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) return XF_ERR_NOMEM;
    info = LAPACKE_dsytrd_work(COLMAJ, 'L', (lapack_int)n, A, (lapack_int)lda, t->d, t->e, t->tau, work, lwork);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dsytrd failed (info %d)", (int)info);
    t->e[n - 1] = 0.0;
    memcpy(w, t->d, sizeof(double) * (size_t)n);
    memcpy(e2, t->e, sizeof(double) * (size_t)n);
    info = LAPACKE_dsterf_work((lapack_int)n, w, e2);
    if (info) return XF_ERR(ctx, XF_ERR_NUMERIC, "eigensolver: dsterf failed to converge (info %d)", (int)info);
    return XF_OK;
}

xf_status xf_la_tridiag_vectors(xf_ws_t *ws, const xf_la_tridiag *t, int64_t il, int64_t iu, double *Z, int64_t ldz) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    int64_t n = t->n;
    if (il < 0 || iu >= n || il > iu || ldz < n)
        return XF_ERR(ctx, XF_ERR_INVALID, "eigensolver: bad vector range %lld..%lld of %lld", (long long)il,
                      (long long)iu, (long long)n);
    lapack_int m = 0, nz = (lapack_int)(iu - il + 1);
    double *d = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    double *e = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    double *wv = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    lapack_int *isuppz = xf_ws_alloc(ws, sizeof(lapack_int) * 2 * (size_t)n);
    if (!d || !e || !wv || !isuppz) return XF_ERR_NOMEM;
    memcpy(d, t->d, sizeof(double) * (size_t)n);
    memcpy(e, t->e, sizeof(double) * (size_t)n);
    lapack_logical tryrac = 0;
    double wq;
    lapack_int iwq;
    lapack_int info = LAPACKE_dstemr_work(COLMAJ, 'V', 'I', (lapack_int)n, d, e, 0.0, 0.0, (lapack_int)il + 1,
                                          (lapack_int)iu + 1, &m, wv, Z, (lapack_int)ldz, nz, isuppz, &tryrac, &wq, -1,
                                          &iwq, -1);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dstemr workspace query failed (info %d)", (int)info);
    lapack_int lwork = (lapack_int)wq, liwork = iwq;
    double *work = xf_ws_alloc(ws, sizeof(double) * (size_t)lwork);
    lapack_int *iwork = xf_ws_alloc(ws, sizeof(lapack_int) * (size_t)liwork);
    if (!work || !iwork) return XF_ERR_NOMEM;
    info = LAPACKE_dstemr_work(COLMAJ, 'V', 'I', (lapack_int)n, d, e, 0.0, 0.0, (lapack_int)il + 1, (lapack_int)iu + 1,
                               &m, wv, Z, (lapack_int)ldz, nz, isuppz, &tryrac, work, lwork, iwork, liwork);
    if (info || m != nz) {
        /* MRRR can fail on pathological spectra; bisection + inverse iteration is the
         * classical fallback (as in dsyevr). */
        double *dd = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
        double *ee = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
        lapack_int *iblock = xf_ws_alloc(ws, sizeof(lapack_int) * (size_t)n);
        lapack_int *isplit = xf_ws_alloc(ws, sizeof(lapack_int) * (size_t)n);
        lapack_int *ifail = xf_ws_alloc(ws, sizeof(lapack_int) * (size_t)n);
        double *w2 = xf_ws_alloc(ws, sizeof(double) * 5 * (size_t)n);
        lapack_int *iw2 = xf_ws_alloc(ws, sizeof(lapack_int) * 5 * (size_t)n);
        if (!dd || !ee || !iblock || !isplit || !ifail || !w2 || !iw2) return XF_ERR_NOMEM;
        memcpy(dd, t->d, sizeof(double) * (size_t)n);
        memcpy(ee, t->e, sizeof(double) * (size_t)n);
        lapack_int nsplit = 0;
        info = LAPACKE_dstebz_work('I', 'B', (lapack_int)n, 0.0, 0.0, (lapack_int)il + 1, (lapack_int)iu + 1, 0.0, dd,
                                   ee, &m, &nsplit, wv, iblock, isplit, w2, iw2);
        if (info || m != nz) return XF_ERR(ctx, XF_ERR_NUMERIC, "eigensolver: dstebz failed (info %d)", (int)info);
        info = LAPACKE_dstein_work(COLMAJ, (lapack_int)n, dd, ee, m, wv, iblock, isplit, Z, (lapack_int)ldz, w2, iw2,
                                   ifail);
        if (info) return XF_ERR(ctx, XF_ERR_NUMERIC, "eigensolver: dstein failed to converge (info %d)", (int)info);
        /* dstebz with order 'B' sorts within blocks only: sort the vectors ascending */
        for (lapack_int i = 1; i < m; i++)
            for (lapack_int j = i; j > 0 && wv[j - 1] > wv[j]; j--) {
                double tw = wv[j];
                wv[j] = wv[j - 1];
                wv[j - 1] = tw;
                for (int64_t r = 0; r < n; r++) {
                    double tz = Z[(int64_t)j * ldz + r];
                    Z[(int64_t)j * ldz + r] = Z[(int64_t)(j - 1) * ldz + r];
                    Z[(int64_t)(j - 1) * ldz + r] = tz;
                }
            }
    }
    /* back-transform: Z := Q Z */
    info = LAPACKE_dormtr_work(COLMAJ, 'L', 'L', 'N', (lapack_int)n, m, t->A, (lapack_int)t->lda, t->tau, Z,
                               (lapack_int)ldz, &wq, -1);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dormtr workspace query failed (info %d)", (int)info);
    lwork = (lapack_int)wq;
    work = xf_ws_alloc(ws, sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) return XF_ERR_NOMEM;
    info = LAPACKE_dormtr_work(COLMAJ, 'L', 'L', 'N', (lapack_int)n, m, t->A, (lapack_int)t->lda, t->tau, Z,
                               (lapack_int)ldz, work, lwork);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "dormtr failed (info %d)", (int)info);
    return XF_OK;
}

/* Thin Householder QR (dgeqrf + dorgqr) of the row-major A (m x n, m >= n). The
 * column-major view is A^T (n x m), whose LQ factorisation A^T = L Q' gives A = Q'^T L^T:
 * the rows of Q' (dorglq) are the orthonormal columns we want, already in place. */
xf_status xf_la_qr_thin(xf_ws_t *ws, int64_t m, int64_t n, double *A, int64_t lda) {
    xf_ctx_t *ctx = xf_ws_ctx(ws);
    if (n == 0 || m == 0) return XF_OK;
    if (m < n || lda < n) return XF_ERR(ctx, XF_ERR_INVALID, "xf_la_qr_thin: need m >= n");
    double *tau = xf_ws_alloc(ws, sizeof(double) * (size_t)n);
    if (!tau) return XF_ERR_NOMEM;
    double wq1, wq2;
    lapack_int info = LAPACKE_dgelqf_work(COLMAJ, (lapack_int)n, (lapack_int)m, A, (lapack_int)lda, tau, &wq1, -1);
    if (!info) info = LAPACKE_dorglq_work(COLMAJ, (lapack_int)n, (lapack_int)m, (lapack_int)n, A, (lapack_int)lda, tau, &wq2, -1);
    if (info) return XF_ERR(ctx, XF_ERR_INTERNAL, "QR workspace query failed (info %d)", (int)info);
    lapack_int lwork = (lapack_int)(wq1 > wq2 ? wq1 : wq2);
    double *work = xf_ws_alloc(ws, sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) return XF_ERR_NOMEM;
    info = LAPACKE_dgelqf_work(COLMAJ, (lapack_int)n, (lapack_int)m, A, (lapack_int)lda, tau, work, lwork);
    if (!info) info = LAPACKE_dorglq_work(COLMAJ, (lapack_int)n, (lapack_int)m, (lapack_int)n, A, (lapack_int)lda, tau, work, lwork);
    if (info) return XF_ERR(ctx, XF_ERR_NUMERIC, "QR failed (info %d)", (int)info);
    return XF_OK;
}
