/* benchmark: how good is a model-selection method? The ground truth is an oracle table
 * (the fine-tuned accuracy of every (model, target) pair); a method gives a score to every
 * (model, target) pair; per target, the scores are compared with the oracle over the
 * models. This is the benchmark of Bolya et al., "Scalable Diverse Model Selection for
 * Accessible Transfer Learning" (NeurIPS 2021, "PARC"), whose own CSV files load here.
 *
 * Worked example (what `xfer bench --oracle o.csv --results r.csv` does):
 *
 *     xf_bench_oracle o;  xf_bench_results r;  xf_bench_eval ev;
 *     xf_bench_opts opt;  xf_bench_opts_default(&opt);
 *     if (xf_bench_oracle_read(ctx, "o.csv", &o) != XF_OK ||
 *         xf_bench_results_read(ctx, "r.csv", &r) != XF_OK ||
 *         xf_bench_evaluate(ctx, &o, &r, &opt, &ev) != XF_OK)
 *         fprintf(stderr, "xfer: %s\n", xf_errmsg(ctx));   // "r.csv:7: column 'LEEP': ..."
 *     xf_bench_eval_print(stdout, &ev, 0, 0);               // one row per method
 *     xf_bench_eval_free(ctx, &ev); ...
 *
 * Files (PARC's columns; the CSV dialect is RFC 4180: fields may be quoted with "" for a
 * quote, CRLF or LF line ends, an optional UTF-8 byte-order mark, blank lines skipped):
 *   oracle   Architecture,Source Dataset,Target Dataset,Oracle
 *   results  Run,Architecture,Source Dataset,Target Dataset,<one column per method>
 * A model is the pair (Architecture, Source Dataset). Errors name file:line.
 *
 * Metrics, per target (and run), over the models whose oracle is > 0 (PARC's
 * metrics.pearson drops oracle <= 0; the same rows are used by every metric here):
 *   pearson, spearman, kendall (tau-b), weighted_tau (scipy.stats.weightedtau defaults),
 *   all x100, with SciPy's values; a constant score or oracle column (SciPy: NaN) gives 0,
 *   "no information", so that the mean over targets stays defined.
 *   top1, top3: mean oracle of the k best-scored models / best oracle, in % (PARC supp.
 *   section 5, "top-k relative accuracy"); k > n uses k = n. Ties in the score share the
 *   remaining places equally: the value is the expected one under a uniformly random
 *   order among tied models (so a constant score gives the bank's mean for top1).
 *   regret: best oracle - oracle of the top-1 pick (expected over tied picks), in the
 *   oracle's units (points of accuracy).
 * Aggregation as PARC's MetricEval.aggregate: within a run, the mean over targets; then
 * the mean and the population std (ddof 0, PARC's compute_variance) over runs. */
#ifndef XFER_BENCHMARK_H
#define XFER_BENCHMARK_H
#include <stdio.h>

#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- metrics ---------------------------------------------------------------------- */

typedef struct xf_bench_metrics {
    double pearson, spearman, kendall, weighted_tau; /* x100 */
    double top1, top3;                               /* % of the best oracle */
    double regret;                                   /* oracle units */
    int64_t n;                                       /* models used (oracle > 0) */
} xf_bench_metrics;

/* The metrics of one target. score, oracle: n each; rows with oracle <= 0 are left out.
 * Fewer than 2 rows left, or a non-finite score or oracle: XF_ERR_INVALID / XF_ERR_NUMERIC
 * with a message (the caller adds the method and target). Scratch from ws. */
xf_status xf_bench_metrics_compute(xf_ws_t *ws, const double *score, const double *oracle, int64_t n,
                                   xf_bench_metrics *out);

/* ---- tables ----------------------------------------------------------------------- */

/* Oracle table: n rows. All strings and arrays are owned by the table. */
typedef struct xf_bench_oracle {
    int64_t n;
    char **arch, **source, **target; /* (n) */
    double *acc;                     /* (n) oracle accuracy; <= 0 means "no value" (PARC: -1) */
    int64_t *line;                   /* (n) line in the file (1-based; header is line 1) */
    char *name;                      /* file name used in messages */
} xf_bench_oracle;

/* Results table: n rows, M methods; score is (n x M) row-major; a missing or "nan" cell
 * is NaN (pandas reads both as NaN); text in a method column is an error (file:line). */
typedef struct xf_bench_results {
    int64_t n, M;
    char **methods;                         /* (M) */
    char **run, **arch, **source, **target; /* (n) */
    double *score;                          /* (n x M) */
    int64_t *line;                          /* (n) */
    char *name;
} xf_bench_results;

/* Read from a file or parse from memory (name is used in messages). Duplicate keys,
 * wrong headers, a wrong field count, empty keys, non-numbers: XF_ERR_FORMAT naming
 * name:line. Empty tables are an error too. */
xf_status xf_bench_oracle_read(xf_ctx_t *ctx, const char *path, xf_bench_oracle *out);
xf_status xf_bench_oracle_parse(xf_ctx_t *ctx, const void *data, size_t size, const char *name,
                                xf_bench_oracle *out);
void xf_bench_oracle_free(xf_ctx_t *ctx, xf_bench_oracle *o);
xf_status xf_bench_results_read(xf_ctx_t *ctx, const char *path, xf_bench_results *out);
xf_status xf_bench_results_parse(xf_ctx_t *ctx, const void *data, size_t size, const char *name,
                                 xf_bench_results *out);
void xf_bench_results_free(xf_ctx_t *ctx, xf_bench_results *r);

/* Writers: the same formats, fields quoted when they hold a comma, quote or line end,
 * numbers with 17 significant digits (%.17g; NaN as "nan"); written to path.tmp, then
 * renamed into place. */
xf_status xf_bench_oracle_write(xf_ctx_t *ctx, const char *path, const xf_bench_oracle *o);
xf_status xf_bench_results_write(xf_ctx_t *ctx, const char *path, const xf_bench_results *r);

/* Building tables in memory (the strings are copied). */
xf_status xf_bench_oracle_add(xf_ctx_t *ctx, xf_bench_oracle *o, const char *arch, const char *source,
                              const char *target, double acc);
xf_status xf_bench_results_init(xf_ctx_t *ctx, xf_bench_results *r, int64_t M, const char *const *methods);
xf_status xf_bench_results_add(xf_ctx_t *ctx, xf_bench_results *r, const char *run, const char *arch,
                               const char *source, const char *target, const double *scores);

/* Layer counts per architecture (PARC's constants.model_layers), from a CSV with the
 * columns Architecture,Layers. */
typedef struct xf_bench_layers {
    int64_t n;
    char **arch;
    double *layers;
} xf_bench_layers;
xf_status xf_bench_layers_read(xf_ctx_t *ctx, const char *path, xf_bench_layers *out);
xf_status xf_bench_layers_parse(xf_ctx_t *ctx, const void *data, size_t size, const char *name,
                                xf_bench_layers *out);
xf_status xf_bench_layers_add(xf_ctx_t *ctx, xf_bench_layers *l, const char *arch, double layers);
void xf_bench_layers_free(xf_ctx_t *ctx, xf_bench_layers *l);

/* ---- evaluation ------------------------------------------------------------------- */

/* The capacity ("plasticity") term, PARC Eq. 6: score' = z(score) + w * layers / l_max.
 *  GLOBAL: as PARC's code (metrics.add_plasticity): z over ALL rows of the results table
 *          (every run, target and model) with the sample std (ddof 1, pandas).
 *  TARGET: as the paper writes it, (a_st - mu^t) / sigma^t: z within each (run, target)
 *          over the models, sample std.
 * A zero std leaves z = 0. Each form adds new methods named "<method>+capacity" and
 * "<method>+capacity/target" after the raw ones. */
enum { XF_BENCH_CAPACITY_GLOBAL = 1, XF_BENCH_CAPACITY_TARGET = 2 };

/* What a correlation is taken within (PARC's MetricEval.aggregate(constants=...), paper
 * Table 2): the columns held constant in a group; the rows of a group vary the others.
 * Default TARGET: per target over every model ("source & architecture" in Table 2);
 * TARGET|SOURCE: over architectures ("architecture only"); TARGET|ARCH: over sources
 * ("source only"); ARCH|SOURCE: over targets for each model ("varying target", Eq. 5).
 * Group names join the values with '/' in the order target, architecture, source. */
enum { XF_BENCH_GROUP_TARGET = 1, XF_BENCH_GROUP_ARCH = 2, XF_BENCH_GROUP_SOURCE = 4 };

typedef struct xf_bench_opts {
    int group;                     /* OR of XF_BENCH_GROUP_*; 0 = TARGET */
    int capacity;                  /* 0 or an OR of XF_BENCH_CAPACITY_* */
    const xf_bench_layers *layers; /* required with capacity */
    double capacity_weight;        /* w, default 1 (PARC) */
    double layers_max;             /* l_max, default 50 (PARC) */
    int nan_as_zero;               /* PARC's fillna(0); default 0: a method with a NaN is reported, not evaluated */
} xf_bench_opts;
void xf_bench_opts_default(xf_bench_opts *o);

typedef struct xf_bench_summary {
    xf_bench_metrics mean; /* mean over runs */
    xf_bench_metrics std;  /* population std over runs */
} xf_bench_summary;

/* One evaluated benchmark. "Targets" are the groups (opts.group; with the default, the
 * target names). Cells are indexed [(m * T + t) * R + r]; a cell with n == 0 was not
 * evaluated (a group with fewer than 2 rows in that run, or the method excluded). */
typedef struct xf_bench_eval {
    int64_t M, T, R;
    char **methods, **targets, **runs;
    int *evaluated;             /* (M) 1 if the method was evaluated */
    char **why_not;             /* (M) the reason when not (NULL otherwise) */
    xf_bench_metrics *cells;    /* (M x T x R) */
    xf_bench_summary *overall;  /* (M) mean over targets within a run, then over runs */
    xf_bench_summary *by_target;/* (M x T) over runs */
    /* Points for plots: per target, its models and, per method, the score averaged over
     * runs (after any capacity term) and the oracle. */
    int64_t *model_off;         /* (T + 1): target t's models are [model_off[t], model_off[t+1]) */
    char **model_arch, **model_source; /* (model_off[T]) */
    double *model_oracle;       /* (model_off[T]) */
    double *model_score;        /* (M x model_off[T]) */
    char **notes;               /* (n_notes) lines about skipped rows and targets */
    int64_t n_notes;
    int64_t rows_joined, rows_unmatched;
} xf_bench_eval;

/* Joins results with the oracle on (Architecture, Source Dataset, Target Dataset) and
 * computes every metric. Errors: no shared pair, no target with 2 models, a results
 * architecture missing from the layer table under capacity. A method with a NaN score
 * (without nan_as_zero) is kept with evaluated = 0 and why_not saying where. */
xf_status xf_bench_evaluate(xf_ctx_t *ctx, const xf_bench_oracle *o, const xf_bench_results *r,
                            const xf_bench_opts *opt, xf_bench_eval *out);
void xf_bench_eval_free(xf_ctx_t *ctx, xf_bench_eval *e);

/* Printing: a fixed-width table (one row per method, or per method and target when
 * by_target), or JSON (an array of objects with the keys method, [target,] pearson,
 * spearman, kendall, weighted_tau, top1, top3, regret, models, and *_std spreads over
 * runs; methods not evaluated have "error"). */
void xf_bench_eval_print(FILE *f, const xf_bench_eval *e, int by_target, int json);
/* report.md (the tables, the notes) and one SVG scatter per target (score against
 * oracle, one labelled point per model, one panel per method) in dir (created). */
xf_status xf_bench_report_write(xf_ctx_t *ctx, const xf_bench_eval *e, const char *dir);


/* ---- the oracle: fine-tuning every (model, target) pair -----------------------------
 * Bolya et al. 2021, Sec. 4.1: the ground truth of a selection benchmark is the test
 * accuracy of every model of the bank fine-tuned on every target. xf_oracle_* fine-tunes
 * each pair with the protocol of transfer.h (xf_finetune) and writes PARC's oracle CSV:
 *   Architecture   = the bank entry's architecture
 *   Source Dataset = the bank entry's NAME (unique in a bank, so (Architecture, Source
 *                    Dataset) names one model even when two share a source dataset; the
 *                    details CSV gives the entry's own source too)
 *   Target Dataset = the target's name
 *   Oracle         = test accuracy in %
 * plus a details CSV (chosen learning rate, validation accuracy per learning rate, train
 * and test accuracy, seconds) and, with headonly, a second oracle CSV of the linear probe
 * (mode HEAD) test accuracies.
 *
 * Resuming: every finished pair is one small file in the state folder (OUT.state/ beside
 * the output), written to a temporary name and renamed, holding the pair's identity
 * (model name and SHA-256, target name and data, the protocol) and a checksum. A rerun
 * skips pairs whose file is complete and matches, so a killed run continues where it
 * stopped and writes the same oracle CSV. Pairs are independent: workers (processes)
 * take pairs i with i % workers == worker, and the CSVs are assembled in bank x target
 * order once every pair is done. Fine-tuning is seeded (opts.ft.seed), so a pair's
 * result does not depend on when or in which worker it ran. */

/* A target: "[NAME=]TRAIN[@TEST]". TRAIN and TEST are data specs (docs/DATA_ARGUMENT.md);
 * without @TEST, corpus:<task> is tested on its test split and any other spec on the
 * split "test" of the same source. NAME defaults to the corpus task, or the file or
 * folder name without its extension (and a trailing "_x" or "_train_x"). */
typedef struct xf_oracle_target {
    char *name, *train, *test; /* owned; test NULL = the train spec's test split */
} xf_oracle_target;
xf_status xf_oracle_target_parse(xf_ctx_t *ctx, const char *spec, xf_oracle_target *out);
void xf_oracle_target_free(xf_ctx_t *ctx, xf_oracle_target *t);

struct xf_ft_opts;
struct xf_data_opts;
typedef struct xf_oracle_plan xf_oracle_plan_t;

/* A plan: the bank, the targets, the protocol and the state folder (created).
 * ft: the fine-tuning protocol (copied; NULL = xf_ft_opts_default). data: base data
 * options (corpus_dir, resize, skip_bad; size, channels, mean and std come from each
 * bank entry); NULL = defaults. Errors: an unreadable bank, duplicate target names. */
xf_status xf_oracle_plan_create(xf_ctx_t *ctx, const char *bank_dir, const xf_oracle_target *targets, int64_t T,
                                const struct xf_ft_opts *ft, const struct xf_data_opts *data, int headonly,
                                const char *out_csv, xf_oracle_plan_t **out);
void xf_oracle_plan_free(xf_oracle_plan_t *p);
int64_t xf_oracle_plan_pairs(const xf_oracle_plan_t *p);
/* Pairs whose state file is complete and matches the plan (reads the state folder). */
int64_t xf_oracle_plan_done(xf_oracle_plan_t *p);
/* Fine-tunes every pair i with i % workers == worker that is not done, recording each.
 * Stops at the first failing pair (its error on ctx, naming the model and the target). */
xf_status xf_oracle_run(xf_ctx_t *ctx, xf_oracle_plan_t *p, int worker, int workers);
/* With every pair done: writes out_csv, OUT-stem.details.csv and, with headonly,
 * OUT-stem.headonly.csv (temporary names, then renamed). A pair not done: XF_ERR_INVALID. */
xf_status xf_oracle_write(xf_ctx_t *ctx, xf_oracle_plan_t *p);
/* Layer counts of a bank's models by architecture (for the capacity term); two models
 * of one architecture with different counts: XF_ERR_INVALID naming both. */
xf_status xf_bench_layers_from_bank(xf_ctx_t *ctx, const char *bank_dir, xf_bench_layers *out);

/* ---- results from a bank: every method's scores, as `xfer rank` computes them --------
 * For each target and run r (0..runs-1), xf_rank (select.h) scores every model of the
 * bank on a probe set drawn from the target's training data with PARC's sampler and seed
 * XF_PROBE_SEED(r) (2020 + 3037 r, as PARC's evaluate.py); one results row per (run,
 * model, target) with the bank mapping of the oracle (Architecture = architecture,
 * Source Dataset = name) and one column per method, plus "default" (xfer's rule) when
 * methods is "default" or "all", or "ensemble" (mean z-score) for a list of several.
 * A model xf_rank could not use is left out of that run (a warning); a method that
 * failed on a model leaves NaN there (xf_bench_evaluate then reports the method). */
struct xf_params;
typedef struct xf_bench_rank_opts {
    int64_t probe;                  /* probe images per target and run; 500 (0 = all) */
    int64_t runs;                   /* 5 */
    const char *methods;            /* "all" (xf_rank_opts.methods) */
    const struct xf_params *params; /* estimator parameters; may be NULL */
    const char *cache_dir;          /* feature cache; NULL = the default */
    int no_cache;
    const char *corpus_dir;         /* for corpus:<task> targets; NULL = XF_CORPUS_DIR */
} xf_bench_rank_opts;
void xf_bench_rank_opts_default(xf_bench_rank_opts *o);
xf_status xf_bench_results_from_bank(xf_ctx_t *ctx, const char *bank_dir, const xf_oracle_target *targets, int64_t T,
                                     const xf_bench_rank_opts *o, xf_bench_results *out);

#ifdef __cplusplus
}
#endif
#endif
