/* linalg/blas: thin wrappers over OpenBLAS's CBLAS (row-major) for GEMM, GEMV and SYRK,
 * plus the thread-count switch. Design: the rest of xfer never includes cblas.h; these
 * wrappers keep the int64 / 0-1 flag interface of include/xfer/linalg.h and add what
 * CBLAS leaves out (SYRK fills only one triangle; we mirror it so callers get a full
 * symmetric matrix). Sizes are passed to BLAS as its int type (blasint), which is 32-bit
 * in the Debian build: callers keep dimensions below 2^31. */
#include <cblas.h>

#include "linalg/linalgInt.h"

/* OpenBLAS extensions (declared in its cblas.h, repeated here for clarity of intent). */
void xf_la_set_threads(int n) {
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
}
int xf_la_get_threads(void) { return openblas_get_num_threads(); }

static CBLAS_TRANSPOSE tr(int t) { return t ? CblasTrans : CblasNoTrans; }

void xf_la_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, tr(transA), tr(transB), (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B,
                (blasint)ldb, beta, C, (blasint)ldc);
}

void xf_la_dgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
                 const double *B, int64_t ldb, double beta, double *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_dgemm(CblasRowMajor, tr(transA), tr(transB), (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B,
                (blasint)ldb, beta, C, (blasint)ldc);
}

void xf_la_dgemv(int transA, int64_t M, int64_t N, double alpha, const double *A, int64_t lda, const double *x,
                 double beta, double *y) {
    if (M <= 0 || N <= 0) {
        /* y has length 0 or the product is empty: only the beta scaling applies */
        int64_t ny = transA ? N : M;
        for (int64_t i = 0; i < ny; i++) y[i] = beta == 0.0 ? 0.0 : beta * y[i];
        return;
    }
    cblas_dgemv(CblasRowMajor, tr(transA), (blasint)M, (blasint)N, alpha, A, (blasint)lda, x, 1, beta, y, 1);
}

/* Copy the lower triangle onto the upper one, in tiles so both sides stay in cache. */
#define MIRROR_TILE 64
#define DEF_MIRROR(name, T)                                                                  \
    void name(T *C, int64_t n, int64_t ldc) {                                                \
        for (int64_t ib = 0; ib < n; ib += MIRROR_TILE)                                      \
            for (int64_t jb = ib; jb < n; jb += MIRROR_TILE) {                               \
                int64_t ie = ib + MIRROR_TILE < n ? ib + MIRROR_TILE : n;                    \
                int64_t je = jb + MIRROR_TILE < n ? jb + MIRROR_TILE : n;                    \
                for (int64_t i = ib; i < ie; i++)                                            \
                    for (int64_t j = (jb > i + 1 ? jb : i + 1); j < je; j++)                 \
                        C[i * ldc + j] = C[j * ldc + i];                                     \
            }                                                                                \
    }
DEF_MIRROR(xf_la_mirror_lower_d, double)
DEF_MIRROR(xf_la_mirror_lower_s, float)

void xf_la_dsyrk(int trans, int64_t n, int64_t k, double alpha, const double *A, int64_t lda, double beta, double *C,
                 int64_t ldc) {
    if (n <= 0) return;
    if (k <= 0) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
        return;
    }
    cblas_dsyrk(CblasRowMajor, CblasLower, tr(trans), (blasint)n, (blasint)k, alpha, A, (blasint)lda, beta, C,
                (blasint)ldc);
    xf_la_mirror_lower_d(C, n, ldc);
}

void xf_la_ssyrk(int trans, int64_t n, int64_t k, float alpha, const float *A, int64_t lda, float beta, float *C,
                 int64_t ldc) {
    if (n <= 0) return;
    if (k <= 0) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    cblas_ssyrk(CblasRowMajor, CblasLower, tr(trans), (blasint)n, (blasint)k, alpha, A, (blasint)lda, beta, C,
                (blasint)ldc);
    xf_la_mirror_lower_s(C, n, ldc);
}
