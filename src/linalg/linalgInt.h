/* Private to src/linalg (and to tests that include it): the split symmetric eigensolver
 * used by PCA, and small helpers. Not API. */
#ifndef XFER_LINALG_INT_H
#define XFER_LINALG_INT_H
#include "xfer/linalg.h"

/* A symmetric matrix reduced to tridiagonal form T = Q^T A Q (LAPACK dsytrd, lower).
 * A keeps the Householder vectors that represent Q. */
typedef struct xf_la_tridiag {
    int64_t n;
    double *A; /* (n, n), lda; Householder vectors */
    int64_t lda;
    double *d, *e, *tau; /* (n), (n), (n) */
} xf_la_tridiag;

/* Reduce A (n x n symmetric, row-major; only the upper triangle in row-major terms is
 * read, which is LAPACK's lower triangle) and compute all eigenvalues ascending into w.
 * Scratch and the returned arrays come from ws. XF_ERR_NUMERIC on non-finite input. */
xf_status xf_la_tridiag_reduce(xf_ws_t *ws, int64_t n, double *A, int64_t lda, xf_la_tridiag *t, double *w);
/* Eigenvectors number il..iu (0-based, inclusive, ascending order) of the reduced
 * matrix: Z is (iu-il+1) x n row-major (row j = eigenvector of eigenvalue il+j). */
xf_status xf_la_tridiag_vectors(xf_ws_t *ws, const xf_la_tridiag *t, int64_t il, int64_t iu, double *Z, int64_t ldz);

/* Mirror the lower triangle of a row-major square matrix onto the upper one. */
void xf_la_mirror_lower_d(double *C, int64_t n, int64_t ldc);
void xf_la_mirror_lower_s(float *C, int64_t n, int64_t ldc);

/* Transpose a square row-major matrix in place. */
void xf_la_transpose_sq(double *A, int64_t n, int64_t lda);

/* Householder QR of A (m x n, m >= n, row-major): A is replaced by the thin Q (m x n). */
xf_status xf_la_qr_thin(xf_ws_t *ws, int64_t m, int64_t n, double *A, int64_t lda);

#endif
