/* The model bank: a folder of ONNX models described by DIR/bank.json (docs/FORMATS.md).
 *
 *     xf_bank_t *b;
 *     if (xf_bank_open(ctx, "bank", &b) != XF_OK)
 *         fprintf(stderr, "%s\n", xf_errmsg(ctx));  // "bank/bank.json: models[2] ('r18'): 'sha256' ..."
 *     for (int64_t i = 0; i < xf_bank_count(b); i++) {
 *         const xf_bank_model *m = xf_bank_model_at(b, i);
 *         xf_graph *g; int feat, logits;
 *         if (xf_bank_load(ctx, b, i, 1, &g, &feat, &logits) != XF_OK) continue;  // named error
 *         ... run g on images of m->channels x m->height x m->width, normalised by m->mean/std
 *         xf_graph_free(g);
 *     }
 *     xf_bank_free(b);
 *
 * bank.json is written by xf_bank_init (`xfer bank init DIR`): it keeps every key an
 * existing bank.json holds (the expert builder writes kind, slice, label_prior, ... and
 * lets init fill the rest) and describes every other *.onnx of DIR from its graph.
 * Reading is strict: a missing or ill-typed key, a duplicate name or file, a path that
 * leaves DIR, a bad digest are errors naming bank.json, the entry and the key. */
#ifndef XFER_BANK_H
#define XFER_BANK_H
#include "xfer/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XF_BANK_FORMAT "xfer-bank"
#define XF_BANK_VERSION 1
#define XF_BANK_FILE "bank.json"

typedef struct xf_bank xf_bank_t;

/* One model. Strings are owned by the bank (valid until xf_bank_free). */
typedef struct xf_bank_model {
    const char *name;           /* unique in the bank */
    const char *file;           /* relative to the bank folder */
    const char *path;           /* folder + "/" + file */
    const char *sha256;         /* 64 lower-case hex digits of the file */
    const char *architecture;   /* a plain name ("resnet18", "unknown") */
    const char *source;         /* the upstream dataset ("imagenet", "unknown") */
    const char *feature_tensor; /* the tensor scored as features (input of the last Gemm/MatMul) */
    const char *logits_tensor;  /* the source-class logits (the graph's output) */
    int64_t source_classes;     /* Z: the logits' width */
    int64_t layers;             /* weighted layers: Conv + Gemm + MatMul (PARC's depth) */
    int64_t params;             /* trainable parameters (PyTorch's parameters() count) */
    int64_t channels, height, width; /* the input images (C, H, W) */
    float mean[4], std[4];      /* per-channel normalisation, channels entries used */
} xf_bank_model;

/* Reads and validates DIR/bank.json. Files are not opened here (see xf_bank_load and
 * xf_bank_verify). *out: free with xf_bank_free. */
xf_status xf_bank_open(xf_ctx_t *ctx, const char *dir, xf_bank_t **out);
/* The same from bank.json's text in memory; dir is where its files are (and names the
 * file in messages). */
xf_status xf_bank_open_mem(xf_ctx_t *ctx, const char *dir, const void *buf, size_t len, xf_bank_t **out);
void xf_bank_free(xf_bank_t *b);
const char *xf_bank_dir(const xf_bank_t *b);
int64_t xf_bank_count(const xf_bank_t *b);
const xf_bank_model *xf_bank_model_at(const xf_bank_t *b, int64_t i); /* NULL if out of range */
int64_t xf_bank_find(const xf_bank_t *b, const char *name);          /* index or -1 */
/* A key of model i that is not one of the standard ones above (e.g. "kind", "slice"):
 * strings as they are, numbers as JSON writes them ("42", "0.5"), true/false, and arrays
 * or objects as compact JSON text. NULL if absent. Owned by the bank. */
const char *xf_bank_extra_str(const xf_bank_t *b, int64_t i, const char *key);

/* Imports model i and checks it against its entry: with check_hash the file's SHA-256
 * (a mismatch is an error naming the file and both digests), always the input shape
 * (N, channels, height, width), that feature_tensor and logits_tensor are tensors the
 * model computes and that the logits are source_classes wide. *g: xf_graph_free;
 * *feature / *logits: their value ids in *g (either pointer may be NULL). */
xf_status xf_bank_load(xf_ctx_t *ctx, const xf_bank_t *b, int64_t i, int check_hash, xf_graph **g, int *feature,
                       int *logits);

/* Checks every model as xf_bank_load does (hash included) plus its layer and parameter
 * counts, and that no *.onnx of the folder is missing from bank.json. Every problem is one
 * line "<file>: <problem>" passed to report (if not NULL); *problems counts them.
 * Returns XF_OK when it could look (problems or not); the error of the last problem
 * stays on the context. */
typedef void (*xf_bank_report_fn)(void *user, const char *line);
xf_status xf_bank_verify(xf_ctx_t *ctx, const xf_bank_t *b, xf_bank_report_fn report, void *user, int64_t *problems);

/* What xf_bank_init writes into entries that do not say it themselves. */
typedef struct xf_bank_init_opts {
    int has_norm;               /* use mean/std below (else 0 and 1) */
    float mean[3], std[3];      /* per channel; a 1-channel model takes [0] */
    const char *source;         /* NULL: "unknown" */
    const char *architecture;   /* NULL: detected (the ONNX graph name unless it is an exporter's
                                   default such as "main_graph"; else "unknown") */
} xf_bank_init_opts;
void xf_bank_init_opts_default(xf_bank_init_opts *o);

/* Writes (or completes) DIR/bank.json: every entry of an existing bank.json keeps every
 * key it has (standard or not), missing keys are filled from the model's graph (sha256,
 * architecture, source_classes, layers, params, input, feature_tensor, logits_tensor);
 * every *.onnx in DIR (not in sub-folders) that no entry names gets a new entry named
 * after its file (stem; made unique). Written to a temporary file and renamed into place.
 * A model that cannot be read, or that has no Gemm/MatMul and no feature_tensor given,
 * is an error naming it (and nothing is written). o may be NULL (defaults). */
xf_status xf_bank_init(xf_ctx_t *ctx, const char *dir, const xf_bank_init_opts *o);

/* Weighted layers of a graph as PARC counts depth: Conv, Gemm and MatMul nodes. */
int64_t xf_bank_graph_layers(const xf_graph *g);

#ifdef __cplusplus
}
#endif
#endif
