/* Private header of the nn module: the tensor view the kernels work on, the kernel
 * context, and the op table (shape rule, forward, backward, scratch and saved sizes per
 * op family). Only src/nn includes this.
 *
 * Kernel contract:
 *   - forward writes y (never aliases an input);
 *   - backward ACCUMULATES (+=) into every dx[i] that is not NULL, except where bit i of
 *     k->set is on: then dx[i] holds no gradient yet and the kernel WRITES it (=). The
 *     executor sets that bit only for the first writer of a gradient buffer and only
 *     for inputs in op->bwd_set; other first writers find the buffer zeroed (so fan-out
 *     needs no special case, and most activation gradients are never memset);
 *   - scratch: k->scratch holds at least op->scratch() floats, shared by all nodes;
 *   - saved: k->saved holds op->saved() floats kept from forward to backward (BN batch
 *     statistics, max-pool arg-max, dropout mask), training mode only.
 * Activations have the batch in dimension 0; parameters have their full shape. */
#ifndef XFER_NN_INT_H
#define XFER_NN_INT_H
#include <stddef.h>
#include <string.h>

#include "xfer/nn.h"

/* The engine's loops (elementwise, depthwise, im2col) need the vectoriser's dynamic
 * cost model (GCC's -O2 only vectorises loops without an epilogue); -O3 for this module
 * is set here rather than in the shared build files. Not applied in Debug builds. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize("O3")
#endif
#if !defined(XFER_HAVE_OPENMP) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunknown-pragmas" /* serial build: the omp pragmas are inert */
#endif
#ifdef XFER_HAVE_OPENMP
#include <omp.h>
#endif
/* The index of the calling thread inside a parallel loop (0 in a serial build): kernels
 * use it to pick their slice of the per-thread scratch. */
static inline int nn_thread_id(void) {
#ifdef XFER_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

typedef struct nn_t {
    float *d;
    int nd;
    int64_t s[XF_NN_MAXDIM];
    int param; /* a parameter (no batch dimension) */
} nn_t;

static inline int64_t nn_numel(const nn_t *t) {
    int64_t n = 1;
    for (int i = 0; i < t->nd; i++) n *= t->s[i];
    return n;
}
static inline int64_t nn_shape_numel(int nd, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

/* The blocked activation layout of training nets, oneDNN's nChw16c: element (n, c, h, w)
 * of an (N, C, H, W) tensor lives at ((n * C/16 + c/16) * H*W + h*W + w) * 16 + c % 16.
 * The executor keeps a value in it when the value has C % 16 == 0 and every op that
 * writes or reads it takes it (oneDNN convs, BatchNorm, GroupNorm, InstanceNorm, Relu,
 * Clip, Add without broadcast, GlobalAveragePool), so convolutions need no layout conversion in between.
 * With C % 16 == 0 there is no padding: the blocked tensor has the same size. */
#define NN_BLK 16

typedef struct nn_dnnl nn_dnnl;           /* oneDNN engine + stream of a net (conv_dnnl.c) */
typedef struct nn_dnnl_conv nn_dnnl_conv; /* oneDNN primitives of one conv node */

typedef struct nn_kctx {
    xf_ctx_t *ctx;
    const xf_node *node;
    int train;    /* training-mode semantics (BN batch stats, dropout) */
    int ref;      /* use the plain reference kernels */
    int threads;    /* the context's thread count */
    float *scratch; /* shared scratch, size from op->scratch */
    float *saved;   /* per-node saved state (training) */
    xf_rng *rng;    /* dropout */
    /* fusion (set by the executor's plan): inference folds a following BatchNorm into
     * conv weights/bias and applies an activation to the output as it is written (Conv,
     * Add); training applies it in the ops with op->train_act (norms, Add), where y is
     * then the activation's output and backward recovers the activation's mask from it
     * (relu: y > 0; clip: amin < y < amax) and multiplies dy by it */
    const float *wfold, *bfold;
    int act; /* 0 none, 1 relu, 2 clip(amin, amax) */
    float amin, amax;
    unsigned set; /* backward: bit i on: write dx[i] instead of adding (see above) */
    /* blocked layout (training, fast kernels; see NN_BLK): bit i on: x[i] (and dx[i]) are
     * stored as (N, C/NN_BLK, H, W, NN_BLK); blk_y: y and dy are */
    unsigned blk;
    int blk_y;
    nn_dnnl_conv *dnn;    /* conv: run through oneDNN (NULL: the kernels in conv.c) */
    size_t scratch_bytes; /* size of scratch */
} nn_kctx;

/* the fused activation over a row */
static inline void nn_apply_act(const nn_kctx *kc, float *y, int64_t n) {
    if (kc->act == 1) {
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    } else if (kc->act == 2) {
        float lo = kc->amin, hi = kc->amax;
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] > lo ? y[i] : lo;
            y[i] = v < hi ? v : hi;
        }
    }
}
/* y[i] = act(y[i] + b) */
static inline void nn_bias_act(const nn_kctx *kc, float *y, int64_t n, float b) {
    if (kc->act == 1) {
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + b;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    } else if (kc->act == 2) {
        float lo = kc->amin, hi = kc->amax;
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + b;
            v = v > lo ? v : lo;
            y[i] = v < hi ? v : hi;
        }
    } else if (b != 0.0f) {
        for (int64_t i = 0; i < n; i++) y[i] += b;
    }
}

/* Shape rule: in[i] holds input shapes (activations with the concrete batch B in
 * dim 0); fills out[0] (and out[1] where an op has a second output). Errors name the node. */
typedef xf_status (*nn_shape_fn)(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out);
typedef xf_status (*nn_fwd_fn)(nn_kctx *k, const nn_t *const *x, nn_t *y);
/* dx[i] NULL: no gradient wanted for input i. */
typedef xf_status (*nn_bwd_fn)(nn_kctx *k, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx);
/* Floats of scratch (forward and backward; threads: the kernel's thread count, for
 * per-thread slices) and of saved state for the node. */
typedef size_t (*nn_size_fn)(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads);

typedef struct nn_opdef {
    nn_shape_fn shape;
    nn_fwd_fn fwd;
    nn_bwd_fn bwd; /* NULL: not differentiable (error if a gradient is needed) */
    nn_size_fn scratch;
    nn_size_fn saved;
    unsigned param_ok;  /* bit i: input i may be a parameter */
    unsigned param_req; /* bit i: input i must be a parameter */
    int min_in, max_in;
    unsigned bwd_set; /* bit i: backward honours k->set for input i */
    int train_act;    /* forward / backward take a fused activation in training (k->act) */
} nn_opdef;

/* the activation's mask as a factor on dy, from the activation's output r */
static inline float nn_act_mask(int act, float r, float lo, float hi, float g) {
    if (act == 1) return r > 0.0f ? g : 0.0f;
    if (act == 2) return (r > lo && r < hi) ? g : 0.0f;
    return g;
}

const nn_opdef *xf_nn_opdef(xf_op op);

/* op families, one file each under src/nn/ops */
extern const nn_opdef xf_nn_op_conv;
extern const nn_opdef xf_nn_op_batchnorm, xf_nn_op_groupnorm, xf_nn_op_instancenorm;
extern const nn_opdef xf_nn_op_relu, xf_nn_op_clip, xf_nn_op_sigmoid, xf_nn_op_gelu;
extern const nn_opdef xf_nn_op_add, xf_nn_op_mul;
extern const nn_opdef xf_nn_op_maxpool, xf_nn_op_avgpool, xf_nn_op_gap;
extern const nn_opdef xf_nn_op_gemm, xf_nn_op_matmul;
extern const nn_opdef xf_nn_op_concat, xf_nn_op_flatten, xf_nn_op_reshape, xf_nn_op_transpose, xf_nn_op_pad,
    xf_nn_op_identity, xf_nn_op_dropout;
extern const nn_opdef xf_nn_op_softmax, xf_nn_op_logsoftmax;
extern const nn_opdef xf_nn_op_smooth, xf_nn_op_prelu, xf_nn_op_lrn, xf_nn_op_reduce, xf_nn_op_convtranspose;

#ifdef XFER_HAVE_DNNL
/* oneDNN convolution (conv_dnnl.c). create: primitives for node n at the batch of x[0]
 * (has_bias: a bias or a folded BatchNorm bias is passed; act as nn_kctx.act);
 * bytes: the scratch (net->scratch) a call needs. fwd / bwd set *done = 0 without error
 * when the scratch is too small for a rebuilt batch (the caller falls back). */
xf_status xf_nn_dnnl_open(xf_ctx_t *ctx, nn_dnnl **out);
void xf_nn_dnnl_close(xf_ctx_t *ctx, nn_dnnl *d);
/* blk: bit 0 the source (and diff_src), bit 1 the destination (and diff_dst) are in the
 * blocked layout NN_BLK (the primitives are made for it). Where oneDNN has only its
 * reference code for a pass, XF_ERR_UNSUPPORTED (the caller falls back to im2col) unless
 * force (XF_NET_CONV_DNNL asked for oneDNN). */
xf_status xf_nn_dnnl_conv_create(xf_ctx_t *ctx, nn_dnnl *d, const xf_node *n, const nn_t *const *x, const nn_t *y, int has_bias,
                                 int act, float amin, float amax, int train, int threads, int blk, int force,
                                 nn_dnnl_conv **out);
void xf_nn_dnnl_conv_free(xf_ctx_t *ctx, nn_dnnl_conv *c);
size_t xf_nn_dnnl_conv_bytes(const nn_dnnl_conv *c);
xf_status xf_nn_dnnl_conv_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y, int *done);
xf_status xf_nn_dnnl_conv_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx, int *done);
#endif
/* number of conv nodes of a net that run through oneDNN (exec.c; tests) */
int xf_nn_net_dnnl_convs(const xf_net_t *net);
/* number of values a training net keeps in the blocked layout (exec.c; tests) */
int xf_nn_net_blocked_values(const xf_net_t *net);
/* 1 for a depthwise convolution (group = Cin = Cout > 1) given x and W shapes (conv.c) */
int xf_nn_conv_is_depthwise(const xf_node *n, const nn_t *x, const nn_t *w);

/* Softmax cross-entropy (softmax.c): logits (B x K), labels; loss mean over the batch;
 * dlogits (B x K, may be NULL) = (softmax - onehot) / B. Row sums in double. */
xf_status xf_nn_softmax_xent(xf_ctx_t *ctx, const float *logits, int64_t B, int64_t K, const int32_t *labels,
                             double *loss, int64_t *correct, float *dlogits);
/* Row softmax in place (B x K), double accumulation. */
void xf_nn_softmax_rows(float *x, int64_t B, int64_t K);

/* Shared shape helper: numpy broadcasting of two shapes (eltwise.c). */
xf_status xf_nn_broadcast_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *a, const nn_t *b, nn_t *out);

/* Output spatial size of a conv/pool window (PyTorch's rule for ceil_mode: the last
 * window must start inside the input or the left padding). */
static inline int64_t nn_win_out(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d, int ceil_mode) {
    int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    if (ceil_mode && (o - 1) * s >= in + p0) o--;
    return o;
}

/* Kernels name their context `kc` and parallelise with
 *   #pragma omp parallel for num_threads(kc->threads)
 * (ignored without OpenMP). */

#define NN_SHAPE_ERR(ctx, n, ...) nn_shape_err((ctx), (n), __FILE__, __LINE__, __VA_ARGS__)
xf_status nn_shape_err(xf_ctx_t *ctx, const xf_node *n, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

#endif
