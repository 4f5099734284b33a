/* Fully connected ops, forward and backward: Gemm (Y = alpha * A op(B) + beta * C, the
 * classifier head; transB as PyTorch's Linear exports it) and MatMul (A (..., K) times a
 * (K, N) weight). A is an activation with the batch in its rows; B and C are parameters.
 *
 * Fast path: OpenBLAS SGEMM through xf_la_sgemm; reference: plain loops with double
 * accumulation (xf_net_use_reference). Backward:
 *   dA += alpha dY op(B)^T,  dB += alpha dY^T A (transB) or alpha A^T dY,  dC += beta * sum_rows dY. */
#include "nn/nnInt.h"
#include "xfer/linalg.h"

static xf_status gemm_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    const xf_node_attr *a = &n->attr;
    if (in[0]->nd != 2) return NN_SHAPE_ERR(ctx, n, "A has rank %d (need 2; add a Flatten)", in[0]->nd);
    if (in[1]->nd != 2) return NN_SHAPE_ERR(ctx, n, "B has rank %d (need 2)", in[1]->nd);
    if (a->transA) return NN_SHAPE_ERR(ctx, n, "transA = 1 on an activation is not supported");
    int64_t K = in[0]->s[1];
    int64_t Kb = a->transB ? in[1]->s[1] : in[1]->s[0], N = a->transB ? in[1]->s[0] : in[1]->s[1];
    if (Kb != K) return NN_SHAPE_ERR(ctx, n, "A has %lld columns, B has %lld rows (transB %d)", (long long)K, (long long)Kb, a->transB);
    if (in[2]) {
        int64_t c = nn_numel(in[2]);
        if (!(c == 1 || c == N) || (in[2]->nd == 2 && in[2]->s[0] != 1) || in[2]->nd > 2)
            return NN_SHAPE_ERR(ctx, n, "C must have shape (N) or (1, N) with N = %lld", (long long)N);
    }
    memset(&out[0], 0, sizeof out[0]);
    out[0].nd = 2;
    out[0].s[0] = in[0]->s[0];
    out[0].s[1] = N;
    return XF_OK;
}

/* Y (M x N) = alpha A (M x K) op(W) [+ beta C] */
static void fc_forward(nn_kctx *kc, int64_t M, int64_t N, int64_t K, float alpha, int transB, const float *A,
                       const float *W, float beta, const float *C, int64_t nc, float *Y) {
    if (kc->ref) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += (double)A[i * K + k] * (transB ? W[j * K + k] : W[k * N + j]);
                Y[i * N + j] = (float)(alpha * s);
            }
    } else {
        xf_la_sgemm(0, transB, M, N, K, alpha, A, K, W, transB ? K : N, 0.0f, Y, N);
    }
    if (C && beta != 0.0f)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) Y[i * N + j] += beta * C[nc == 1 ? 0 : j];
}

static void fc_backward(nn_kctx *kc, int64_t M, int64_t N, int64_t K, float alpha, int transB, const float *A,
                        const float *W, const float *dY, float *dA, float *dW, float beta, float *dC, int64_t nc) {
    if (kc->ref) {
        if (dA)
            for (int64_t i = 0; i < M; i++)
                for (int64_t k = 0; k < K; k++) {
                    double s = 0;
                    for (int64_t j = 0; j < N; j++) s += (double)dY[i * N + j] * (transB ? W[j * K + k] : W[k * N + j]);
                    dA[i * K + k] += (float)(alpha * s);
                }
        if (dW)
            for (int64_t j = 0; j < N; j++)
                for (int64_t k = 0; k < K; k++) {
                    double s = 0;
                    for (int64_t i = 0; i < M; i++) s += (double)dY[i * N + j] * A[i * K + k];
                    dW[transB ? j * K + k : k * N + j] += (float)(alpha * s);
                }
    } else {
        if (dA) {
            if (transB) xf_la_sgemm(0, 0, M, K, N, alpha, dY, N, W, K, 1.0f, dA, K);
            else xf_la_sgemm(0, 1, M, K, N, alpha, dY, N, W, N, 1.0f, dA, K);
        }
        if (dW) {
            if (transB) xf_la_sgemm(1, 0, N, K, M, alpha, dY, N, A, K, 1.0f, dW, K);
            else xf_la_sgemm(1, 0, K, N, M, alpha, A, K, dY, N, 1.0f, dW, N);
        }
    }
    if (dC)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t i = 0; i < M; i++) s += dY[i * N + j];
            if (nc == 1) dC[0] += (float)(beta * s);
            else dC[j] += (float)(beta * s);
        }
}

static xf_status gemm_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t M = y->s[0], N = y->s[1], K = x[0]->s[1];
    fc_forward(kc, M, N, K, a->alpha, a->transB, x[0]->d, x[1]->d, a->beta, x[2] ? x[2]->d : NULL,
               x[2] ? nn_numel(x[2]) : 0, y->d);
    return XF_OK;
}
static xf_status gemm_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t M = y->s[0], N = y->s[1], K = x[0]->s[1];
    fc_backward(kc, M, N, K, a->alpha, a->transB, x[0]->d, x[1]->d, dy, dx[0], dx[1], a->beta, x[2] ? dx[2] : NULL,
                x[2] ? nn_numel(x[2]) : 0);
    return XF_OK;
}
const nn_opdef xf_nn_op_gemm = {gemm_shape, gemm_fwd, gemm_bwd, NULL, NULL, 6u, 2u, 2, 3, 0, 0};

/* ---- MatMul: (..., K) x (K, N) ---- */
static xf_status matmul_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->nd < 2) return NN_SHAPE_ERR(ctx, n, "A has rank %d (need >= 2)", in[0]->nd);
    if (in[1]->nd != 2) return NN_SHAPE_ERR(ctx, n, "B has rank %d (only a 2-D weight is supported)", in[1]->nd);
    int64_t K = in[0]->s[in[0]->nd - 1];
    if (in[1]->s[0] != K) return NN_SHAPE_ERR(ctx, n, "A has %lld columns, B %lld rows", (long long)K, (long long)in[1]->s[0]);
    out[0] = *in[0];
    out[0].s[in[0]->nd - 1] = in[1]->s[1];
    return XF_OK;
}
static xf_status matmul_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t K = x[1]->s[0], N = x[1]->s[1], M = nn_numel(x[0]) / K;
    fc_forward(kc, M, N, K, 1.0f, 0, x[0]->d, x[1]->d, 0.0f, NULL, 0, y->d);
    return XF_OK;
}
static xf_status matmul_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t K = x[1]->s[0], N = x[1]->s[1], M = nn_numel(x[0]) / K;
    fc_backward(kc, M, N, K, 1.0f, 0, x[0]->d, x[1]->d, dy, dx[0], dx[1], 0.0f, NULL, 0);
    return XF_OK;
}
const nn_opdef xf_nn_op_matmul = {matmul_shape, matmul_fwd, matmul_bwd, NULL, NULL, 2u, 2u, 2, 2, 0, 0};
