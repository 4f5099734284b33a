/* nn: xfer's CPU engine for convolutional networks: a graph of ops over float32 NCHW
 * tensors, run for inference in batches or trained with backprop.
 *
 * The graph (xf_graph) is plain data that importers (ONNX) fill and exporters read:
 * values (tensors: the input, parameters, intermediates) and nodes (ops) in topological
 * order. The executor (xf_net) plans every buffer once for a (graph, batch size) and then
 * runs forward / backward with no allocation.
 *
 *     xf_graph *g;  xf_onnx_import(ctx, "resnet18.onnx", &g);   // or build by hand
 *     xf_net_t *net; xf_net_create(ctx, g, 32, XF_NET_INFER, &net);
 *     xf_net_forward(net, images, 32);                  // images: (32, 3, 224, 224)
 *     const float *feat = xf_net_data(net, xf_graph_find(g, "flatten_out"));
 *     xf_net_free(net); xf_graph_free(g);
 *
 * Conventions: tensors are dense, C order; activations are NCHW; the batch dimension of
 * non-parameter values is written as -1 in xf_value.shape and fixed by the executor.
 * Parameters (initializers) own their float data; the graph owns everything in it.
 */
#ifndef XFER_NN_H
#define XFER_NN_H
#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XF_NN_MAXDIM 6

typedef enum xf_op {
    XF_OP_CONV = 0,       /* in: X, W, [B]      attr: kernel, stride, pads, dilation, group */
    XF_OP_BATCHNORM,      /* in: X, scale, B, mean, var   attr: eps, momentum */
    XF_OP_GROUPNORM,      /* in: X, scale, B (per channel) attr: num_groups, eps */
    XF_OP_RELU,
    XF_OP_CLIP,           /* attr: min, max (ReLU6 = Clip(0, 6)) */
    XF_OP_SIGMOID,
    XF_OP_MUL,            /* elementwise, numpy broadcasting (SiLU = Mul(x, Sigmoid(x))) */
    XF_OP_ADD,            /* elementwise, numpy broadcasting */
    XF_OP_GELU,           /* attr: gelu_tanh */
    XF_OP_MAXPOOL,        /* attr: kernel, stride, pads, dilation, ceil_mode */
    XF_OP_AVGPOOL,        /* attr: kernel, stride, pads, ceil_mode, count_include_pad */
    XF_OP_GLOBALAVGPOOL,
    XF_OP_GEMM,           /* in: A, B, [C]  attr: alpha, beta, transA, transB */
    XF_OP_MATMUL,
    XF_OP_CONCAT,         /* attr: axis */
    XF_OP_FLATTEN,        /* attr: axis */
    XF_OP_RESHAPE,        /* attr: shape (0 = copy, -1 = infer), static after import */
    XF_OP_SOFTMAX,        /* attr: axis */
    XF_OP_DROPOUT,        /* attr: ratio; identity at inference */
    XF_OP_IDENTITY,
    XF_OP_PAD,            /* attr: pad_amounts (ONNX order: begins then ends), pad_mode, pad_value */
    XF_OP_TRANSPOSE,      /* attr: perm */
    XF_OP_INSTANCENORM,   /* in: X, scale, B  attr: eps (used for GroupNorm below opset 18) */
    XF_OP_TANH,
    XF_OP_ELU,            /* attr: alpha */
    XF_OP_CELU,           /* attr: alpha */
    XF_OP_SELU,           /* attr: alpha, beta (= ONNX gamma) */
    XF_OP_ERF,
    XF_OP_PRELU,          /* in: X, slope (1 or C values: one per channel, dimension 1) */
    XF_OP_LRN,            /* attr: size, alpha, beta, bias (across channels) */
    XF_OP_LOGSOFTMAX,     /* attr: axis */
    XF_OP_REDUCEMEAN,     /* attr: axes_mask (bit k: dimension k; never the batch), keepdims */
    XF_OP_REDUCESUM,      /* attr: axes_mask, keepdims */
    XF_OP_CONVTRANSPOSE,  /* in: X, W (C, M/group, kh, kw), [B]  attr: kernel, stride, pads, dilation, group, out_pad */
    XF_OP__COUNT
} xf_op;

const char *xf_op_name(xf_op op); /* ONNX op type: "Conv", "BatchNormalization", ... */

typedef struct xf_node_attr {
    int64_t kernel[2], stride[2], dilation[2];
    int64_t pads[4];        /* conv/pool: top, left, bottom, right */
    int64_t group;          /* conv */
    int ceil_mode, count_include_pad;
    float alpha, beta;      /* gemm */
    int transA, transB;
    float eps, momentum;    /* batchnorm (ONNX momentum: running = m*running + (1-m)*batch) */
    int64_t num_groups;     /* groupnorm */
    float min, max;         /* clip */
    int64_t axis;           /* concat, flatten, softmax */
    int64_t shape[XF_NN_MAXDIM]; int shape_n;  /* reshape */
    int64_t perm[XF_NN_MAXDIM];  int perm_n;   /* transpose */
    float ratio;            /* dropout */
    int gelu_tanh;          /* gelu approximation */
    int64_t pad_amounts[2 * XF_NN_MAXDIM]; int pad_n; int pad_mode; float pad_value; /* pad: mode 0 constant, 1 reflect, 2 edge */
    int64_t size; float bias;      /* lrn (alpha, beta above: ONNX LRN's) */
    unsigned axes_mask; int keepdims; /* reducemean, reducesum */
    int64_t out_pad[2];            /* convtranspose: output_padding (h, w) */
} xf_node_attr;

/* Sets the defaults ONNX gives absent attributes (stride 1, dilation 1, group 1,
 * alpha = beta = 1, eps 1e-5, momentum 0.9, axis 1, ...; per op: LRN alpha 1e-4,
 * beta 0.75, bias 1; Selu alpha 1.67326, gamma 1.0507; reductions keepdims 1). */
void xf_node_attr_default(xf_op op, xf_node_attr *a);

typedef struct xf_value {
    char *name;
    int ndim;
    int64_t shape[XF_NN_MAXDIM]; /* -1 for the batch dimension of activations */
    float *data;                 /* parameters only: owned, size = product of shape */
    int is_param;                /* an initializer (weights, BN statistics) */
    int trainable;               /* updated by the optimizer (BN running stats: 0) */
} xf_value;

#define XF_NODE_MAXIN 8
typedef struct xf_node {
    xf_op op;
    char *name;
    int n_in, n_out;
    int in[XF_NODE_MAXIN]; /* value ids; -1 for an absent optional input */
    int out[2];
    xf_node_attr attr;
} xf_node;

typedef struct xf_graph {
    xf_ctx_t *ctx;
    xf_value *values; int n_values, cap_values;
    xf_node *nodes;   int n_nodes, cap_nodes;   /* topological order */
    int input;                 /* the image input value id */
    int *outputs; int n_outputs;
    char *name;
    int64_t opset;             /* for export */
    /* private to graph.c: open-addressing hash of the value names (slot -> value id or
     * -1), name_index_cap slots, covering the first name_index_n values */
    int *name_index;
    int name_index_cap, name_index_n;
} xf_graph;

xf_status xf_graph_create(xf_ctx_t *ctx, xf_graph **out);
void xf_graph_free(xf_graph *g);
/* Adds a value; data (if not NULL) is copied and the value becomes a parameter.
 * Returns the id in *id. Names must be unique (XF_ERR_INVALID otherwise). */
xf_status xf_graph_add_value(xf_graph *g, const char *name, int ndim, const int64_t *shape, const float *data,
                             int *id);
xf_status xf_graph_add_node(xf_graph *g, xf_op op, const char *name, const int *in, int n_in, const int *out,
                            int n_out, const xf_node_attr *attr);
int xf_graph_find(const xf_graph *g, const char *name); /* value id or -1 */
/* Infers every activation's shape from the input's (batch dimension -1); checks every
 * node's inputs (ranks, channel counts, parameter shapes) with errors naming the node. */
xf_status xf_graph_infer_shapes(xf_graph *g);
/* Total number of float parameters, and of trainable ones. */
int64_t xf_graph_param_count(const xf_graph *g, int trainable_only);
/* Freezing for fine-tuning: mark every parameter trainable or not; then names matching
 * a prefix can be switched (e.g. head-only: freeze all, unfreeze the last Gemm's). */
void xf_graph_set_trainable(xf_graph *g, int trainable);
int xf_graph_set_trainable_prefix(xf_graph *g, const char *prefix, int trainable); /* returns count */
/* The feature tap: the value feeding the last Gemm/MatMul (PARC's and LogME's
 * penultimate features). -1 if none. */
int xf_graph_feature_value(const xf_graph *g);
/* The final output value (logits). */
int xf_graph_output_value(const xf_graph *g);

/* ---- executor ---- */

typedef enum xf_net_mode { XF_NET_INFER = 0, XF_NET_TRAIN = 1 } xf_net_mode;
typedef struct xf_net xf_net_t;

/* Plans all activations (and gradients in training mode) for batches up to max_batch.
 * A plan above XF_NET_MAX_PLAN_BYTES (activations, scratch, saved state and gradients
 * together; one value above it alone) fails with XF_ERR_UNSUPPORTED before allocating,
 * naming the size: a hostile model's shapes must not exhaust memory. Lower max_batch. */
#define XF_NET_MAX_PLAN_BYTES ((int64_t)1 << 36)
xf_status xf_net_create(xf_ctx_t *ctx, xf_graph *g, int64_t max_batch, xf_net_mode mode, xf_net_t **out);
void xf_net_free(xf_net_t *net);
/* x: (B, C, H, W) matching the graph input, B <= max_batch. In TRAIN mode BatchNorm uses
 * batch statistics (and updates running ones) and Dropout drops. */
xf_status xf_net_forward(xf_net_t *net, const float *x, int64_t B);
/* Activation of a value after forward (NULL if not computed); shape with the batch
 * filled in via shape/ndim if not NULL. In a TRAIN-mode net, an intermediate value the
 * fast path keeps in oneDNN's blocked layout (between convolutions, C % 16 == 0), or a
 * normalisation output fused into the following Relu/Clip, reads as NULL: ask for it
 * with xf_net_opts.keep (kept values, graph outputs, the feature tap and inputs are
 * always plain NCHW), or use the reference kernels. */
const float *xf_net_data(xf_net_t *net, int value_id);
xf_status xf_net_shape(xf_net_t *net, int value_id, int *ndim, int64_t *shape);
/* Softmax cross-entropy on the logits value (B x K) against labels; mean over the batch.
 * Seeds the backward pass when followed by xf_net_backward. */
xf_status xf_net_loss(xf_net_t *net, int logits_value, const int32_t *labels, float *loss, int64_t *correct);
xf_status xf_net_backward(xf_net_t *net);
/* Gradient of a parameter after backward (NULL if the value has none). Between forward
 * and backward its contents are undefined (kernels write, rather than add to, the first
 * contribution). */
const float *xf_net_grad(xf_net_t *net, int value_id);
/* Use the plain reference kernels instead of the fast ones (tests compare the two). */
void xf_net_use_reference(xf_net_t *net, int on);

/* ---- training ---- */

typedef enum xf_optim_kind { XF_OPT_SGD = 0, XF_OPT_ADAMW = 1 } xf_optim_kind;
typedef enum xf_sched_kind { XF_SCHED_CONST = 0, XF_SCHED_STEP = 1, XF_SCHED_COSINE = 2 } xf_sched_kind;

typedef struct xf_train_opts {
    xf_optim_kind optim;
    double lr, momentum, weight_decay, beta1, beta2, adam_eps;
    int nesterov;
    xf_sched_kind sched;
    int64_t warmup_steps;
    double step_gamma;            /* step schedule: lr *= gamma at each milestone */
    double milestones[4]; int n_milestones; /* fractions of total steps */
    int64_t epochs, batch;
    int augment_flip;             /* random horizontal flip */
    int64_t augment_crop_pad;     /* random crop after zero-padding by this many pixels */
    uint64_t seed;
    int64_t steps;                /* > 0: stop after this many optimizer steps (the schedule
                                     spans them; epochs is then only an upper bound) */
    /* called after every epoch (NULL: none): 1-based epoch, epochs, mean loss, running
     * training accuracy (%) over the epoch's batches */
    void (*on_epoch)(void *user, int64_t epoch, int64_t epochs, double loss, double acc);
    void *user;
} xf_train_opts;
void xf_train_opts_default(xf_train_opts *o); /* SGD 0.9, lr 0.1, cosine, wd 5e-4, batch 128 */
double xf_train_lr_at(const xf_train_opts *o, int64_t step, int64_t total_steps);

typedef struct xf_optim xf_optim_t;
xf_status xf_optim_create(xf_ctx_t *ctx, xf_graph *g, const xf_train_opts *o, xf_optim_t **out);
void xf_optim_free(xf_optim_t *opt);
/* One update of every trainable parameter from the net's gradients. */
xf_status xf_optim_step(xf_optim_t *opt, xf_net_t *net, double lr);

/* A labelled image set in memory: x (N, C, H, W) float32, y (N) in 0..K-1. Borrowed. */
typedef struct xf_imageset {
    const float *x; const int32_t *y;
    int64_t N, C, H, W, K;
} xf_imageset;

typedef struct xf_train_report {
    double final_loss, train_acc, test_acc, seconds;
    int64_t steps;
} xf_train_report;
/* Trains g on train (logits = the graph's output), evaluating on test (optional) after
 * every epoch; progress through the context. */
xf_status xf_train(xf_ctx_t *ctx, xf_graph *g, const xf_imageset *train, const xf_imageset *test,
                   const xf_train_opts *o, xf_train_report *rep);
/* Accuracy (%) of the graph's output on a set, in batches. */
xf_status xf_evaluate(xf_ctx_t *ctx, xf_graph *g, const xf_imageset *set, int64_t batch, double *acc);

/* Runs the graph over images in batches and copies one value per image into out
 * (N x dim, dim = product of the value's non-batch shape). With softmax set, a softmax
 * is applied over that dimension (source-class probabilities from logits). */
xf_status xf_net_extract(xf_ctx_t *ctx, xf_graph *g, const float *x, int64_t N, int64_t batch, int value_id,
                         int softmax, float *out, int64_t *dim);


/* ---- additions (after the first interface) ---- */

/* BatchNorm in a TRAIN-mode net: a BatchNormalization node whose scale and bias are both
 * frozen (not trainable) runs in inference mode, with its running statistics, which it
 * does not update: frozen backbones behave as PyTorch's module.eval() parts do. */

/* Executor options. keep: values to keep readable after forward (inference reuses
 * buffers; by default only the graph outputs and the feature tap survive); n_keep < 0
 * keeps every value (no reuse). input_grads: in TRAIN mode also compute gradients with
 * respect to the graph inputs (tests; costs a full backward even through frozen parts). */
typedef struct xf_net_opts {
    const int *keep;
    int n_keep;
    int input_grads;
    int conv; /* convolution kernels: xf_net_conv (0: env XF_CONV=auto|im2col|dnnl, else auto) */
} xf_net_opts;
/* XF_NET_CONV_AUTO: oneDNN when built with it (measured faster for every conv kind),
 * falling back per node to im2col / the direct depthwise kernel where oneDNN has no
 * primitive; IM2COL: never oneDNN; DNNL: oneDNN for every convolution, an error where it
 * cannot (XF_ERR_UNSUPPORTED from xf_net_create_ex when built without it). */
typedef enum xf_net_conv { XF_NET_CONV_DEFAULT = 0, XF_NET_CONV_AUTO, XF_NET_CONV_IM2COL, XF_NET_CONV_DNNL } xf_net_conv;
xf_status xf_net_create_ex(xf_ctx_t *ctx, xf_graph *g, int64_t max_batch, xf_net_mode mode, const xf_net_opts *opts,
                           xf_net_t **out);
/* Extra graph inputs: a non-parameter value that no node produces, declared with shape
 * (-1, d1, ...), is an input too; bind its data (B x d1 x ...) before each forward. */
xf_status xf_net_bind(xf_net_t *net, int value_id, const float *data);
/* Seeds backward with an arbitrary upstream gradient dy (same shape as the value) instead
 * of the loss (tests, custom losses). */
xf_status xf_net_seed_grad(xf_net_t *net, int value_id, const float *dy);
int64_t xf_net_max_batch(const xf_net_t *net);
xf_graph *xf_net_graph(const xf_net_t *net);

/* ---- model zoo (src/nn/zoo.c): built by hand with seeded He init (seed from the context) ----
 * small CNN: conv3x3(c1)-BN-ReLU-conv3x3(c1)-BN-ReLU-maxpool2 - conv3x3(c2)-BN-ReLU-
 * conv3x3(c2)-BN-ReLU-maxpool2 - GAP - Gemm(classes); widths c1, c2 (0: 32, 64). */
xf_status xf_model_small_cnn(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes, int64_t c1,
                             int64_t c2, xf_graph **out);
/* The same CNN with a Flatten head instead of GAP: the (c2, H/4, W/4) map goes whole into
 * the Gemm (keeps positions; what small-image sets such as Fashion-MNIST benefit from). */
xf_status xf_model_small_cnn_flat(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes, int64_t c1,
                                  int64_t c2, xf_graph **out);
/* small ResNet: 3x3 stem (widths[0]) + BN + ReLU, 3 stages of blocks_per_stage basic blocks
 * (conv3x3-BN-ReLU-conv3x3-BN + skip, ReLU; stages 2 and 3 halve the resolution with a
 * stride-2 first conv and a 1x1 stride-2 conv + BN on the skip), GAP, Flatten, Gemm head. */
xf_status xf_model_small_resnet(xf_ctx_t *ctx, int64_t in_ch, int64_t H, int64_t W, int64_t classes,
                                const int64_t widths[3], int blocks_per_stage, xf_graph **out);

#ifdef __cplusplus
}
#endif
#endif
