/* transfer: fine-tuning a pretrained network on a labelled target set, the step both
 * papers end with (Puigcerver et al. 2021, Sec. 3 step 4; Bolya et al. 2021, Sec. 4.1 oracle).
 *
 *     xf_graph *model;  xf_onnx_import(ctx, "resnet.onnx", &model);
 *     xf_imageset train = {x, y, N, C, H, W, K}, test = {...};
 *     xf_ft_opts o;  xf_ft_opts_default(&o);          // VTAB-1k protocol at CPU scale
 *     o.mode = XF_FT_FULL;
 *     xf_graph *tuned;  xf_ft_report rep;
 *     if (xf_finetune(ctx, model, &train, &test, &o, &tuned, &rep) == XF_OK)
 *         printf("lr %g: test %.2f%%\n", rep.best_lr, rep.test_acc);
 *     xf_onnx_export(ctx, tuned, "tuned.onnx");
 *     xf_graph_free(tuned); xf_graph_free(model);
 *
 * The protocol (docs/FINETUNE.md): the model's classifier (the last Gemm/MatMul and what
 * follows it) is replaced by a new linear layer with one output per target class,
 * initialised as PyTorch's nn.Linear (U(-1/sqrt(D), 1/sqrt(D)), seeded); SGD with
 * momentum 0.9, batch 64, no weight decay, no augmentation, cosine decay to 0 over the
 * run. With several learning rates, each trains on a class-stratified (1 - val_fraction)
 * part of the training set and is scored on the rest; the best (ties: the first) is
 * retrained on the whole training set from the pretrained weights and tested.
 *
 * Modes: FULL trains every parameter (BatchNorm in training mode, running statistics
 * updated); HEAD trains the new layer only: the backbone is frozen and in inference mode,
 * so its features are computed once and the head trains on them (the same arithmetic as
 * running the frozen backbone at every step, without the cost); ADAPTERS inserts residual
 * adapters (GroupNorm-ReLU-Conv1x1 to c/2, GroupNorm-ReLU-Conv1x1 back to c, a skip
 * around both, the last conv zero so an untrained adapter is the identity; Puigcerver et
 * al. Sec. 3.1) before every stage of the backbone and trains adapters + head, the
 * backbone frozen (its BatchNorms use running statistics).
 */
#ifndef XFER_TRANSFER_H
#define XFER_TRANSFER_H
#include "xfer/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xf_ft_mode { XF_FT_FULL = 0, XF_FT_HEAD = 1, XF_FT_ADAPTERS = 2 } xf_ft_mode;
const char *xf_ft_mode_name(xf_ft_mode m);           /* "full", "head", "adapters" */
int xf_ft_mode_parse(const char *s, xf_ft_mode *out); /* 0 ok, -1 unknown */

/* ---- network surgery ------------------------------------------------------------------ */

/* Where the new head sits in a prepared graph (value ids). */
typedef struct xf_ft_head {
    int feature;  /* the (B, D) input of the head (after a Flatten xfer adds when needed) */
    int weight;   /* (C, D) parameter "head.weight" (Gemm transB = 1, PyTorch's layout) */
    int bias;     /* (C) parameter "head.bias" */
    int logits;   /* (B, C) output */
    int64_t D, C;
    int adapters; /* adapters inserted (ADAPTERS mode) */
} xf_ft_head;

/* A new graph for fine-tuning src on `classes` target classes: src's nodes that the
 * feature tap (the input of the last Gemm/MatMul) needs, in order, with copies of their
 * parameters; adapters in ADAPTERS mode; the new head seeded by `seed`; trainable flags
 * set for the mode. src is not changed. Errors: no Gemm/MatMul (XF_ERR_NOTFOUND: "no
 * classifier to replace"), classes < 2. */
xf_status xf_ft_graph_create(xf_ctx_t *ctx, const xf_graph *src, int64_t classes, xf_ft_mode mode, uint64_t seed,
                             xf_graph **out, xf_ft_head *head);
/* The adapter points of a graph: activations of rank 4 where a stage begins or ends,
 * i.e. the input of every node whose output is spatially smaller (a strided Conv or
 * pool), unless it is the image itself, and the input of the global pooling, among the
 * nodes before last_node (-1: all). Writes up to cap distinct value ids into ids, in
 * node order, and returns their count. Shapes must be inferred. */
int xf_ft_adapter_points(const xf_graph *g, int last_node, int *ids, int cap);

/* ---- the protocol --------------------------------------------------------------------- */

#define XF_FT_MAX_LRS 16
#define XF_FT_MAX_CLASSES (1 << 20) /* outputs of a new head at most (labels are class indices) */

/* Called after every epoch of every run (sweep runs, then the final one). */
typedef struct xf_ft_epoch {
    int run, runs;          /* 1-based run index; runs = number of lrs (+1 with a sweep) */
    int final;              /* 1 for the retrain on the whole training set */
    double lr;              /* the run's base learning rate */
    int64_t epoch, epochs;  /* 1-based */
    double loss, train_acc; /* running means over the epoch's batches (acc in %) */
    double seconds;         /* since xf_finetune started */
} xf_ft_epoch;
typedef void (*xf_ft_epoch_fn)(void *user, const xf_ft_epoch *e);

typedef struct xf_ft_opts {
    xf_ft_mode mode;       /* FULL */
    double lrs[XF_FT_MAX_LRS];
    int n_lrs;             /* {0.1, 0.03, 0.01} */
    int64_t epochs;        /* 10 */
    int64_t steps;         /* > 0: optimizer steps per run instead of epochs (the cosine spans them) */
    int64_t batch;         /* 64; clamped to the training images of a run */
    double momentum;       /* 0.9 */
    double weight_decay;   /* 0 */
    double val_fraction;   /* 0.2: share of each class held out when several lrs are swept */
    uint64_t seed;         /* head init, split and shuffles; 0 = the context's seed */
    int64_t eval_batch;    /* 128: batch of inference passes */
    int serial_sweep;      /* 0: with 2+ threads, sweep runs go side by side (one thread each) */
    xf_ft_epoch_fn on_epoch; void *user;
} xf_ft_opts;
void xf_ft_opts_default(xf_ft_opts *o);

typedef struct xf_ft_report {
    int n_lrs, best;          /* best: index into lrs of the chosen learning rate */
    double lrs[XF_FT_MAX_LRS];
    double val_acc[XF_FT_MAX_LRS]; /* % on the held-out part, per lr (sweep only; else -1) */
    double best_lr;
    double train_acc;         /* % on the whole training set after the final run (inference mode) */
    double test_acc;          /* % on the test set, -1 without one */
    double seconds;           /* wall time of the whole protocol */
    double images_per_second; /* training images processed (all runs) / seconds */
    int64_t classes, train_images, val_images, test_images;
    int64_t steps;            /* optimizer steps, all runs */
    int64_t params, params_trained;
    int adapters;
    int64_t test_unseen;      /* test images whose class no training image has (always errors) */
} xf_ft_report;

/* Runs the protocol. model: a network whose last Gemm/MatMul is the classifier (not
 * changed). train: labelled images of the model's input shape, labels in [0, K); test may
 * be NULL. The head has max(train K, test K) outputs; a test class absent from the
 * training set cannot be learnt, its images count as errors (rep->test_unseen, a
 * warning). *tuned (may be NULL) receives the network trained by the final run. */
xf_status xf_finetune(xf_ctx_t *ctx, const xf_graph *model, const xf_imageset *train, const xf_imageset *test,
                      const xf_ft_opts *o, xf_graph **tuned, xf_ft_report *rep);

/* The class-stratified split used by the sweep: for each class (in label order), its
 * indices shuffled with the seed, the first round(frac * n_c) go to the validation part.
 * val / trn (each N long) receive indices in ascending order; counts in *nv, *nt. */
xf_status xf_ft_split(xf_ctx_t *ctx, const int32_t *y, int64_t N, int64_t K, double frac, uint64_t seed, int64_t *val,
                      int64_t *nv, int64_t *trn, int64_t *nt);

#ifdef __cplusplus
}
#endif
#endif
