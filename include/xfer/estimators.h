/* Transferability estimators: one signature for all.
 *
 * An estimator scores how well a pretrained model's probe features F (N x D) and,
 * where used, its source-class probabilities P (N x Z) predict a target's labels y (N);
 * higher means "predicted to transfer better". Estimators see matrices only.
 *
 *     xf_est_input in = {.F = F, .N = N, .D = D, .ldF = D, .y = y, .C = C};
 *     double s;
 *     if (xf_est_run(ctx, "logme", &in, NULL, ws, &s) != XF_OK) puts(xf_errmsg(ctx));
 *
 * Parameters are "key=value" strings; a key may be qualified by the method name
 * ("parc.dims=32") so one list can serve many methods; unqualified keys apply to all
 * methods that accept them. Each estimator lists the keys it accepts with their
 * defaults (xf_estimator.params); an unknown key for a method is an error.
 *
 * Labels: y holds dense class indices 0..C-1. xf_labels_densify maps arbitrary integer
 * labels (e.g. {3, 7, 7, 10}) to dense indices in increasing order of the raw value.
 */
#ifndef XFER_ESTIMATORS_H
#define XFER_ESTIMATORS_H
#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xf_param { const char *key, *value; } xf_param;
typedef struct xf_params { const xf_param *items; int n; } xf_params;

/* Value of "method.key" if present, else "key", else def. Malformed numbers are an error
 * (XF_ERR_INVALID naming the key). */
xf_status xf_params_f64(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, double def, double *out);
xf_status xf_params_i64(xf_ctx_t *ctx, const xf_params *p, const char *method, const char *key, int64_t def, int64_t *out);
const char *xf_params_str(const xf_params *p, const char *method, const char *key, const char *def);

typedef struct xf_est_input {
    const float *F;      /* (N, D) probe features, row stride ldF; NULL if not given */
    int64_t N, D, ldF;
    const int32_t *y;    /* (N) dense labels in 0..C-1 */
    int64_t C;
    const float *P;      /* (N, Z) source-class probabilities (rows sum to 1); NULL if not given */
    int64_t Z, ldP;
    const float *Y;      /* (N, C) optional multi-hot targets (multi-label); NULL otherwise */
} xf_est_input;

enum { XF_NEEDS_F = 1, XF_NEEDS_P = 2, XF_MULTILABEL_OK = 4 };

typedef xf_status (*xf_est_fn)(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score);

typedef struct xf_estimator {
    const char *name;          /* "logme" */
    unsigned flags;            /* XF_NEEDS_F / XF_NEEDS_P / XF_MULTILABEL_OK */
    const char *summary;       /* one line */
    const char *const *params; /* NULL-terminated "key=default  doc" strings */
    xf_est_fn fn;              /* the per-model score */
    /* Across-bank combination (NCTI, ETran): terms() gives nterms raw sub-scores for one
     * model; combine() turns an M x nterms table into M scores (e.g. min-max across the
     * bank). NULL / 0 for ordinary estimators. */
    int nterms;
    xf_status (*terms)(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *terms);
    xf_status (*combine)(xf_ctx_t *ctx, int64_t M, const double *terms, const xf_params *p, double *scores);
} xf_estimator;

/* The registry, in a stable order. */
const xf_estimator *xf_est_find(const char *name);
int xf_est_count(void);
const xf_estimator *xf_est_at(int i);

/* Validates the input for est (shapes, finite values, label range, probabilities that are
 * rows of a distribution, parameter keys) with messages naming the argument, then runs
 * it. ws is reset first. */
xf_status xf_est_run(xf_ctx_t *ctx, const char *name, const xf_est_input *in, const xf_params *p, xf_ws_t *ws,
                     double *score);
xf_status xf_est_check_input(xf_ctx_t *ctx, const xf_estimator *est, const xf_est_input *in, const xf_params *p);

/* raw (N) -> y (N) dense in 0..C-1, ordered by raw value; classes (optional, C entries,
 * caller provides N slots) receives the raw value of each dense class. */
xf_status xf_labels_densify(xf_ctx_t *ctx, const int64_t *raw, int64_t N, int32_t *y, int64_t *C, int64_t *classes);

#ifdef __cplusplus
}
#endif
#endif
