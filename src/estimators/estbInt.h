/* Private helpers shared by the second-order estimators logme, hscore, hscore-shrink,
 * transrate and gbc (src/estimators/est_b_common.c). Not API. */
#ifndef XFER_ESTB_INT_H
#define XFER_ESTB_INT_H
#include "xfer/estimators.h"

/* Class sizes (C) of in->y; fails with XF_ERR_INVALID naming `method` when fewer than
 * two classes have samples (every method here compares classes). */
xf_status xf_estb_class_counts(xf_ctx_t *ctx, const char *method, const xf_est_input *in, int64_t *counts);

/* (N, D) float -> double copy from ws; centre = 1 subtracts the column means. */
double *xf_estb_to_double(xf_ws_t *ws, const float *F, int64_t N, int64_t D, int64_t ldF, int centre);

/* The cut below which an eigenvalue of a Gram / scatter matrix is treated as zero:
 * max(rcond, max(N, D) * DBL_EPSILON) * lam_max (numpy.linalg.matrix_rank's default
 * tolerance, never tighter than pinv's rcond). */
double xf_estb_rank_cut(double lam_max, double rcond, int64_t N, int64_t D);

/* out = tr(pinv(A) B B^T) for symmetric positive semi-definite A (D x D, both triangles,
 * destroyed) and B (D x K, ld K), with pinv's cut xf_estb_rank_cut(lam_max, rcond, N, D).
 * Fast path: Cholesky A = L L^T, and when the condition number estimated by inverse and
 * direct power iteration is below 1e9 (so no eigenvalue is near the cut and pinv = inv),
 * out = ||L^{-1} B||_F^2 by blocked forward substitution (D^3/3 + D^2 K flops). Otherwise
 * the eigendecomposition A = V diag(w) V^T: out = sum_{w_i > cut} ||(V^T B)_i||^2 / w_i.
 * *used_eigh (optional) tells which path ran. */
xf_status xf_estb_trace_pinv_quad(xf_ctx_t *ctx, xf_ws_t *ws, int64_t D, double *A, const double *B, int64_t K,
                                  double rcond, int64_t N, double *out, int *used_eigh);

/* Solve L W = B in place for lower-triangular L (n x n, row-major, ld lda) and B (n x k,
 * ld k): blocks of 64 rows through GEMM, the diagonal blocks by substitution. */
void xf_estb_trsm_lower(int64_t n, int64_t k, const double *L, int64_t lda, double *B);

/* Parse a choice parameter: *out = index of the value in choices (NULL-terminated). */
xf_status xf_estb_choice(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, const char *def,
                         const char *const *choices, int *out);
#endif
