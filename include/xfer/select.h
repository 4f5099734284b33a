/* Model selection: rank a bank of models (include/xfer/bank.h) for a labelled target set,
 * and check the top of the ranking by fine-tuning (successive halving).
 *
 *     xf_dataset ds;  xf_data_open(ctx, "digits", NULL, &ds);   // native size, pixels in [0, 1]
 *     xf_bank_t *bank;  xf_bank_open(ctx, "bank", &bank);
 *     xf_rank_opts o;  xf_rank_opts_default(&o);                 // probe 500, method "default"
 *     xf_rank_result *r;
 *     if (xf_rank(ctx, bank, &ds, &o, &r) == XF_OK)
 *         for (int64_t i = 0; i < r->n_models; i++)                // r->order: best first
 *             printf("%d %s %g\n", r->models[r->order[i]].rank, r->models[r->order[i]].name,
 *                    r->models[r->order[i]].score);
 *     xf_rank_result_free(ctx, r);
 *
 * Steps (xf_rank): PARC's fixed-budget probe set is sampled from ds (xf_probe_sample); for
 * every model the probe images are resized and their channels replicated or merged to the
 * model's input (xf_planes_to_tensor, as `xfer extract` does) and normalised with its
 * mean/std; the model runs once over them, giving the features F (N, D) (bank.json's
 * feature_tensor) and source probabilities P (N, Z) (softmax of its logits_tensor); both
 * are kept in the feature cache; every requested estimator scores F / P against the
 * probe labels; the models are ranked by one criterion (see xf_rank_opts.methods).
 *
 * A model that cannot be used (a file that does not hash to bank.json's sha256, a model
 * that fails to load, a tensor bank.json lies about) is reported in its result (ok = 0,
 * error) and the others are still ranked; xf_rank fails only when no model could be
 * ranked or the inputs are unusable. */
#ifndef XFER_SELECT_H
#define XFER_SELECT_H
#include "xfer/bank.h"
#include "xfer/data.h"
#include "xfer/estimators.h"
#include "xfer/transfer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the feature cache --------------------------------------------------------------
 * One file per (model sha256, probe data hash, probe spec, layer): F (N, D) and P (N, Z)
 * float32 with a SHA-256 checksum (docs/FORMATS.md), written to a temporary file and
 * renamed into place, so a killed run leaves either a whole entry or none. An entry whose
 * checksum, size or key does not match is reported (a warning through the log), removed
 * and treated as a miss. */
typedef struct xf_fcache xf_fcache_t;

/* The default folder: $XDG_CACHE_HOME/xfer, else $HOME/.cache/xfer. 0 ok, -1 if neither
 * variable is set or the path does not fit. */
int xf_fcache_default_dir(char *buf, size_t cap);
/* Opens (creating it and its parents) a cache folder; dir NULL = the default. */
xf_status xf_fcache_open(xf_ctx_t *ctx, const char *dir, xf_fcache_t **out);
void xf_fcache_free(xf_fcache_t *c);
const char *xf_fcache_dir(const xf_fcache_t *c);

typedef struct xf_fcache_key {
    const char *model_sha256; /* the model file's digest */
    const char *data_sha256;  /* digest of the probe images and labels as given to the model */
    const char *probe;        /* the probe spec and preprocessing, e.g. "n=500 seed=2020 min=2 1x16x16 ..." */
    const char *layer;        /* feature tensor and logits tensor names */
} xf_fcache_key;

/* The cached value: features, probabilities and what extracting them cost. */
typedef struct xf_fcache_entry {
    float *F;          /* (N, D), owned (xf_free) */
    float *P;          /* (N, Z), owned (xf_free) */
    int64_t N, D, Z;
    double seconds;    /* wall time the extraction took */
} xf_fcache_entry;

/* *hit = 1 and e filled on a hit; *hit = 0 on a miss (including a corrupt entry, removed). */
xf_status xf_fcache_get(xf_ctx_t *ctx, xf_fcache_t *c, const xf_fcache_key *k, xf_fcache_entry *e, int *hit);
xf_status xf_fcache_put(xf_ctx_t *ctx, xf_fcache_t *c, const xf_fcache_key *k, const xf_fcache_entry *e);
/* The key's SHA-256, stored in the entry header and naming its file (for tests and fuzzing). */
void xf_fcache_key_digest(const xf_fcache_key *k, uint8_t d[32]);
/* The entry's file name under the cache folder (for tests and messages). */
void xf_fcache_path(const xf_fcache_t *c, const xf_fcache_key *k, char *buf, size_t cap);
void xf_fcache_entry_free(xf_ctx_t *ctx, xf_fcache_entry *e);

/* ---- probe features of one model -------------------------------------------------------- */

/* The images x (N, sc, sh, sw) with pixels in [0, 1] converted for model m: resized to
 * (m->height, m->width), channels replicated (1 -> 3) or merged to luma (3 -> 1), then
 * (x - mean[c]) / std[c]. *out (N, C, H, W): xf_free. */
xf_status xf_select_images_for(xf_ctx_t *ctx, const xf_bank_model *m, const float *x, int64_t N, int sc, int sh, int sw,
                               float **out);
/* Runs g once over x (N images of its input shape) in batches and keeps two tensors per
 * image: F (N, D) = value `feature` and P (N, Z) = softmax of value `logits` (P may be
 * NULL: not kept). *F / *P: xf_free. Progress through the context ("extract"). */
xf_status xf_select_extract(xf_ctx_t *ctx, xf_graph *g, const float *x, int64_t N, int64_t batch, int feature, int logits,
                            float **F, int64_t *D, float **P, int64_t *Z);

/* ---- ranking ------------------------------------------------------------------------------ */

/* xf_rank reports each model as it finishes (k of M), for progress displays. */
typedef struct xf_rank_progress {
    int64_t k, M;          /* k-th model done (1-based) of M */
    const char *model;     /* its name */
    int cached;            /* features came from the cache */
    double images_per_second; /* extraction rate (0 when cached or failed) */
    int ok;
} xf_rank_progress;
typedef void (*xf_rank_progress_fn)(void *user, const xf_rank_progress *p);

typedef struct xf_rank_opts {
    int64_t probe;            /* probe images (PARC's sampler); 0 = every image. 500 */
    uint64_t seed;            /* probe seed, XF_PROBE_SEED(0) */
    /* "default": xfer's rule (xf_rank_default_rule); "NAME": one estimator; "A,B,...": the
     * mean of their z-scores (as `xfer score`'s ensemble); "all": every estimator, ranked
     * by the default rule. */
    const char *methods;
    int capacity;             /* add PARC's depth term: z(criterion) + layers / 50 */
    const xf_params *params;  /* estimator parameters ("parc.dims=32"); may be NULL */
    const char *cache_dir;    /* NULL: xf_fcache_default_dir */
    int no_cache;             /* neither read nor write the cache */
    int64_t batch;            /* extraction batch, 32 */
    xf_rank_progress_fn on_model; void *user;
} xf_rank_opts;
void xf_rank_opts_default(xf_rank_opts *o);

/* The default rule in words ("mean of z-scored linear, hscore-shrink, ncti") and its methods. */
const char *xf_rank_default_rule(void);
int xf_rank_default_methods(const char *const **names); /* returns the count */

typedef struct xf_rank_model {
    int64_t bank_index;
    const char *name;       /* the bank's name (owned by the bank) */
    int ok;                 /* 0: failed, see error; score NaN, rank 0 */
    char error[512];
    double score;           /* the ranking criterion (with capacity: z + layers/50) */
    int rank;               /* 1 = predicted best; ties share the better rank */
    double *scores;         /* (n_methods) each method's score, NaN where it failed */
    int cached;             /* features from the cache */
    double seconds_extract; /* extraction (on a hit: what the cached extraction took) */
    double seconds_score;   /* all methods */
    int64_t N, D, Z, layers;
} xf_rank_model;

typedef struct xf_rank_result {
    int64_t n_models;          /* = the bank's count, in bank order */
    xf_rank_model *models;
    int64_t *order;            /* (n_models) indices into models, best first, failed last */
    int n_methods;
    const char **methods;      /* (n_methods) estimator names (static strings) */
    char criterion[256];       /* what score is ("default: mean of z-scored ...", "logme", ...) */
    int64_t probe_n, classes;  /* probe images used and their classes */
    int64_t extracted, cache_hits, failed;
    char cache_dir[1024];      /* "" without a cache */
    double seconds;            /* wall time of xf_rank */
} xf_rank_result;

/* Ranks every model of bank for the labelled images ds (pixels in [0, 1], any size and 1
 * or 3 channels: each model gets them converted). *out: xf_rank_result_free. Fails (no
 * result) on bad options, an empty bank or data, or when every model failed. */
xf_status xf_rank(xf_ctx_t *ctx, const xf_bank_t *bank, const xf_dataset *ds, const xf_rank_opts *o,
                  xf_rank_result **out);
void xf_rank_result_free(xf_ctx_t *ctx, xf_rank_result *r);

/* ---- checking the pick by fine-tuning: successive halving ---------------------------------
 * The top K models of a ranking are fine-tuned (xf_finetune, one learning rate: ft's
 * first) on a class-stratified split of the training set (val_fraction held out) with a
 * short budget; the better half by validation accuracy continues with twice the budget,
 * until one is left or the budget reaches ft's full epochs. The pick is then evaluated
 * on test (optional). Every model's fine-tuning cost per training image-epoch is measured;
 * the cost of fine-tuning the whole bank with the full budget is estimated from it (models
 * not fine-tuned: their extraction cost times the ratio measured on those that were). */
typedef struct xf_halving_opts {
    int64_t top;            /* K, >= 1 */
    int64_t first_epochs;   /* budget of the first round; 0 = max(1, ft epochs / 2^(rounds-1)) */
    double val_fraction;    /* 0.2 */
    xf_ft_opts ft;          /* the protocol (mode, lrs[0], epochs = the full budget, batch, seed) */
    int64_t batch;          /* image conversion batch (unused by training), 32 */
} xf_halving_opts;
void xf_halving_opts_default(xf_halving_opts *o);

typedef struct xf_halving_model {
    int64_t model;            /* index into the ranking's models */
    int rounds;               /* rounds it took part in */
    int64_t epochs;           /* its last budget */
    double val_acc;           /* % after its last round (-1 if it failed) */
    double seconds;           /* fine-tuning time, all its rounds */
    double seconds_per_image_epoch;
    char error[512];
} xf_halving_model;

typedef struct xf_halving_report {
    int64_t n;                 /* models fine-tuned (min(K, ranked models)) */
    xf_halving_model *m;       /* (n), in ranking order */
    int64_t pick;              /* index into the ranking's models; -1 if all failed */
    double pick_val_acc, pick_test_acc; /* %; test -1 without a test set */
    int rounds;
    double seconds;            /* the whole halving (fine-tuning and evaluation) */
    double seconds_rank;       /* the ranking's own time (copied from it) */
    double seconds_whole_bank; /* estimated: every ranked model fine-tuned with the full budget */
} xf_halving_report;

/* train / test: labelled images (pixels in [0, 1]), converted per model like the probe.
 * test may be NULL. rep->m: xf_halving_report_free. */
xf_status xf_rank_halving(xf_ctx_t *ctx, const xf_bank_t *bank, const xf_rank_result *r, const xf_dataset *train,
                          const xf_dataset *test, const xf_halving_opts *o, xf_halving_report *rep);
void xf_halving_report_free(xf_ctx_t *ctx, xf_halving_report *rep);

#ifdef __cplusplus
}
#endif
#endif
