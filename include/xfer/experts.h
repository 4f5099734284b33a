/* experts: expert models from a label hierarchy, the method of Puigcerver et al.,
 * "Scalable Transfer Learning with Expert Models" (ICLR 2021), at the corpus's scale.
 *
 *     xf_experts_opts o;
 *     xf_experts_opts_default(&o);
 *     o.corpus_dir = "data/corpus";  o.out_dir = "bank";  o.adapters = 1;
 *     if (xf_experts_build(ctx, &o) != XF_OK)            // resumable: rerun continues
 *         fprintf(stderr, "%s\n", xf_errmsg(ctx));
 *     // bank/bank.json, bank/experts.json, bank/generalist.onnx, full-*.onnx, adapters.xfad, priors
 *
 *     xf_experts_t *ex;  xf_experts_open(ctx, "bank", &ex);
 *     xf_experts_scores sc;                               // every proxy for every expert
 *     xf_experts_select(ctx, ex, &target, XF_PROXY_ALL, &sc);
 *     xf_experts_scores_free(ctx, &sc);  xf_experts_close(ex);
 *
 * The four stages (methods.md 1.1): a generalist trained on the whole upstream; one
 * expert per hierarchy slice, initialised from it; a cheap proxy picks the expert for a
 * target; the picked expert is fine-tuned (xf_finetune). docs/EXPERTS.md has the choices
 * and their reasons; docs/FORMATS.md the files.
 *
 * Slices: every hierarchy node other than the root and the leaves whose subtree holds at
 * least min_images training images (an image belongs to every node above its label; the
 * corpus's 16 groups). Full experts fine-tune the whole generalist on their slice;
 * adapter experts train only residual adapters (xf_ft_graph_create, ADAPTERS mode),
 * the backbone and the upstream head frozen and shared. Both keep the generalist's
 * upstream head (all Z classes) and train on the slice's upstream labels: the paper
 * keeps the upstream head (App. D.2, adapters learn to ignore the classes absent from
 * their slice); a head cut down to the slice's classes could not train the corpus's
 * one-class slices (trousers, bags), whose softmax would be constant. */
#ifndef XFER_EXPERTS_H
#define XFER_EXPERTS_H
#include "xfer/data.h"
#include "xfer/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- slices ---------------------------------------------------------------------------- */

typedef struct xf_slice {
    char *name;      /* the hierarchy node's name; random controls: "random-<name>" */
    int64_t node;    /* hierarchy node id; -1 for a random control */
    int64_t n;       /* training images */
    int64_t *idx;    /* (n) indices into the upstream training set, ascending */
    double *prior;   /* (Z) the slice's upstream-label prior P_e: counts / n */
} xf_slice;

typedef struct xf_slice_set {
    int n;           /* slices */
    xf_slice *s;     /* (n) owned */
    int64_t Z;       /* upstream classes (prior length) */
} xf_slice_set;

/* The slices of ds (labels y in [0, ds->k), class names looked up in h): every node that
 * is neither the root nor a leaf, in node-id order, whose slice (xf_hierarchy_slice) has
 * >= min_images images. Errors: no node qualifies (XF_ERR_INVALID naming the largest
 * slice and its size), no class of ds in the hierarchy. */
xf_status xf_experts_slices(xf_ctx_t *ctx, const xf_hierarchy_t *h, const xf_dataset *ds, int64_t min_images,
                            xf_slice_set *out);
/* The random-slice control (App. G): for each slice of sem, sem->s[i].n images drawn
 * uniformly without replacement from all N images (labels y (N) in [0, Z)), seeded by
 * seed and the slice index. Named "random-<name>". */
xf_status xf_experts_random_slices(xf_ctx_t *ctx, const xf_slice_set *sem, const int32_t *y, int64_t N, uint64_t seed,
                                   xf_slice_set *out);
void xf_slice_set_free(xf_ctx_t *ctx, xf_slice_set *s);

/* ---- proxies (Sec. 5, App. A-C) -------------------------------------------------------- */

/* Label matching, App. B: D_KL(P || Q) = sum_z P(z) log(P(z) / Q'(z)) over the z with
 * P(z) > 0 (0 log 0 = 0), where Q'(z) = (1 - eps) Q(z) + eps / Z smooths a Q that the
 * generalist drives to 0. P, Q: (Z) distributions. The corpus is single-label, so P and Q
 * are categorical distributions (the paper's multi-label data uses per-label Bernoullis). */
#define XF_EXPERTS_KL_EPS 1e-6
double xf_experts_kl(const double *P, const double *Q, int64_t Z, double eps);
/* Q(z) = (1/N) sum_i softmax(logits_i)(z): the generalist's mean predicted upstream-label
 * distribution over the target. logits (N, Z) float32; Q (Z) out. */
void xf_experts_mean_softmax(const float *logits, int64_t N, int64_t Z, double *Q);

/* ---- the adapter store: one file holding the shared backbone and every adapter set ----- */

typedef struct xf_adapter_store xf_adapter_store_t;
/* An empty store around the backbone (an ONNX file: the generalist, head included) whose
 * adapters are placed as xf_ft_graph_create(ADAPTERS) places them, drawn with seed. */
xf_status xf_adapter_store_create(xf_ctx_t *ctx, const char *backbone_onnx, uint64_t seed, xf_adapter_store_t **out);
/* Reads a store (docs/FORMATS.md, "Adapter store"); every size is checked against the
 * file, errors name it. */
xf_status xf_adapter_store_read(xf_ctx_t *ctx, const char *path, xf_adapter_store_t **out);
/* The same from memory (n bytes); name is used in messages. */
xf_status xf_adapter_store_read_mem(xf_ctx_t *ctx, const void *data, size_t n, const char *name, xf_adapter_store_t **out);
/* Writes the store to a temporary file renamed into place. */
xf_status xf_adapter_store_write(xf_ctx_t *ctx, const xf_adapter_store_t *s, const char *path);
void xf_adapter_store_free(xf_adapter_store_t *s);
int xf_adapter_store_count(const xf_adapter_store_t *s);
const char *xf_adapter_store_name(const xf_adapter_store_t *s, int i); /* NULL if out of range */
int xf_adapter_store_find(const xf_adapter_store_t *s, const char *name); /* -1 if absent */
/* A new graph: the backbone with adapters and the upstream head (output "logits"). set -1:
 * untrained adapters (the identity); else the set's trained adapter weights. Trainable:
 * the adapters only. *feature (may be NULL): the feature tap's value id. */
xf_status xf_adapter_store_graph(xf_ctx_t *ctx, const xf_adapter_store_t *s, int set, xf_graph **out, int *feature);
/* Adds (or replaces) set `name` with the adapter weights of g, a graph made by
 * xf_adapter_store_graph and trained. */
xf_status xf_adapter_store_add(xf_ctx_t *ctx, xf_adapter_store_t *s, const char *name, const xf_graph *g);

/* ---- build ------------------------------------------------------------------------------- */

typedef struct xf_experts_opts {
    const char *corpus_dir;  /* holds upstream/{train,test}_{x,y}.npy, classes.txt, hierarchy.tsv */
    const char *out_dir;     /* the bank folder (created) */
    const char *arch;        /* "resnet" (small ResNet 16-32-64, one block a stage) or "cnn" */
    int64_t min_images;      /* 1000: smallest slice */
    int64_t epochs;          /* 2: generalist epochs over the whole upstream */
    int64_t gen_batch;       /* 128 */
    double gen_lr;           /* 0.1, cosine, SGD momentum 0.9, weight decay 5e-4 */
    int64_t expert_steps;    /* 60: the same for every expert (App. D) */
    int64_t expert_batch;    /* 64 */
    double full_lr;          /* 0.01: full experts start from trained weights */
    double adapter_lr;       /* 0.1: adapters start from the identity (App. D: 1e-1) */
    int64_t epn_steps;       /* 300: the expert prediction network */
    int adapters;            /* 1: adapter experts too */
    int random_controls;     /* 0: also experts on size-matched random slices */
    uint64_t seed;           /* 1 */
    /* called when a model starts (done = 0) and ends (done = 1); index is 1-based over the
     * whole build; skipped = 1 when a finished model was found (resume) */
    void (*on_model)(void *user, int index, int total, const char *name, int64_t images, int64_t steps, int done,
                     int skipped, double seconds);
    void *user;
} xf_experts_opts;
void xf_experts_opts_default(xf_experts_opts *o);

/* Builds the bank: generalist.onnx, full-<slice>.onnx, adapters.xfad (every adapter
 * expert), random-<slice>.onnx and random adapter sets (controls), epn.onnx,
 * priors/<expert>.npy, experts.json (the build's record) and bank.json. Every model is
 * written to a temporary file and renamed; a rerun with the same options skips what is
 * finished; with other options it is an error naming the option. */
xf_status xf_experts_build(xf_ctx_t *ctx, const xf_experts_opts *o);

/* ---- a built bank, and selection ---------------------------------------------------------- */

typedef enum xf_expert_kind { XF_EXPERT_GENERALIST = 0, XF_EXPERT_FULL, XF_EXPERT_ADAPTER, XF_EXPERT_RANDOM } xf_expert_kind;
const char *xf_expert_kind_name(xf_expert_kind k); /* "generalist", "full", "adapter", "random" */

typedef struct xf_expert_info {
    const char *name;    /* "full-tops", "adapter-tops", "random-full-tops", "generalist" */
    xf_expert_kind kind;
    int adapter;         /* 1: an adapter set of the store (adapter experts and their controls) */
    const char *slice;   /* NULL for the generalist */
    int64_t slice_size;
    int epn_class;       /* the slice's class of the EPN, -1 for none (generalist, controls) */
} xf_expert_info;

typedef struct xf_experts xf_experts_t;
/* Opens a finished build (DIR/experts.json; an unfinished build is an error). */
xf_status xf_experts_open(xf_ctx_t *ctx, const char *dir, xf_experts_t **out);
void xf_experts_close(xf_experts_t *ex);
int xf_experts_count(const xf_experts_t *ex);
const xf_expert_info *xf_experts_info(const xf_experts_t *ex, int i);
/* Expert i as a graph (adapter experts from the store); *feature: the feature tap. */
xf_status xf_experts_load(xf_ctx_t *ctx, const xf_experts_t *ex, int i, xf_graph **g, int *feature);
/* Writes expert i as an ordinary ONNX model. */
xf_status xf_experts_export(xf_ctx_t *ctx, const xf_experts_t *ex, int i, const char *path);
/* An adapter expert exported into the bank: DIR/adapters/<name>.onnx, with its entry
 * (kind, slice, slice_size, label_prior, adapter_set) added to bank.json or replacing one
 * of the same name, so `xfer rank` sees it. Other experts are already listed: no-op. */
xf_status xf_experts_export_to_bank(xf_ctx_t *ctx, const xf_experts_t *ex, int i);
/* Input normalisation of every model: (x - mean) / std on [0, 1] pixels. */
void xf_experts_norm(const xf_experts_t *ex, float *mean, float *std);

enum { XF_PROXY_KNN = 1, XF_PROXY_KL = 2, XF_PROXY_EPN = 4, XF_PROXY_ALL = 7 };

typedef struct xf_experts_scores {
    int n;              /* experts (xf_experts_count) */
    double *knn;        /* (n) leave-one-out 1-NN accuracy (%) on the expert's features; NAN if not computed */
    double *kl;         /* (n) D_KL(P_e || Q); NAN for the generalist */
    double *epn;        /* (n) mean log Q_EPN(e | x) over the target; NAN where e has no EPN class */
    double seconds[3];  /* wall time of knn, kl, epn */
} xf_experts_scores;
/* Scores every expert (except the generalist, whose knn is computed too as a reference)
 * on a labelled target set (images of the bank's input shape, already normalised). */
xf_status xf_experts_select(xf_ctx_t *ctx, const xf_experts_t *ex, const xf_imageset *target, int proxies,
                            xf_experts_scores *out);
void xf_experts_scores_free(xf_ctx_t *ctx, xf_experts_scores *s);
/* The pick of a proxy among experts of one family (adapter = 0: full experts; 1:
 * adapter experts; controls and the generalist never): argmax of knn and epn, argmin of
 * kl; ties: the lower index. -1 if no expert has a score. */
int xf_experts_pick(const xf_experts_t *ex, const xf_experts_scores *s, int proxy, int adapter);

#ifdef __cplusplus
}
#endif
#endif
