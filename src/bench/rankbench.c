/* bench/rankbench: a results table made by scoring a bank (benchmark.h, "results from a
 * bank"): PARC's evaluate.py Experiment loop (runs x targets x models, a fresh probe set
 * per run and target) with xf_rank doing the extraction (feature cache included) and
 * every estimator. The table then goes to xf_bench_evaluate like any results CSV. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/benchInt.h"
#include "xfer/select.h"

void xf_bench_rank_opts_default(xf_bench_rank_opts *o) {
    memset(o, 0, sizeof *o);
    o->probe = 500; /* PARC's fixed budget */
    o->runs = 5;    /* PARC: 5 probe sets */
    o->methods = "all";
}

xf_status xf_bench_results_from_bank(xf_ctx_t *ctx, const char *bank_dir, const xf_oracle_target *targets, int64_t T,
                                     const xf_bench_rank_opts *o, xf_bench_results *out) {
    memset(out, 0, sizeof *out);
    xf_bench_rank_opts dflt;
    if (!o) {
        xf_bench_rank_opts_default(&dflt);
        o = &dflt;
    }
    if (T < 1 || o->runs < 1 || o->probe < 0)
        return XF_ERR(ctx, XF_ERR_INVALID, "results from a bank: %lld targets, %lld runs, probe %lld", (long long)T,
                      (long long)o->runs, (long long)o->probe);
    xf_bank_t *bank;
    xf_status st = xf_bank_open(ctx, bank_dir, &bank);
    if (st) return st;
    const char *spec = o->methods ? o->methods : "all";
    int criterion_col = !strcmp(spec, "all") || !strcmp(spec, "default") || strchr(spec, ',') != NULL;
    const char *crit_name = strchr(spec, ',') ? "ensemble" : "default";
    double *row = NULL;
    for (int64_t t = 0; t < T && !st; t++) {
        xf_dataset ds;
        memset(&ds, 0, sizeof ds);
        xf_data_opts dopt;
        xf_data_opts_default(&dopt);
        dopt.corpus_dir = o->corpus_dir;
        if ((st = xf_data_open(ctx, targets[t].train, &dopt, &ds))) break;
        for (int64_t run = 0; run < o->runs && !st; run++) {
            xf_rank_opts ro;
            xf_rank_opts_default(&ro);
            ro.probe = o->probe;
            ro.seed = XF_PROBE_SEED(run);
            ro.methods = spec;
            ro.params = o->params;
            ro.cache_dir = o->cache_dir;
            ro.no_cache = o->no_cache;
            xf_rank_result *rr;
            if ((st = xf_rank(ctx, bank, &ds, &ro, &rr))) {
                char pre[1100];
                snprintf(pre, sizeof pre, "target '%s', run %lld", targets[t].name, (long long)run);
                xf_error_prefix(ctx, pre);
                break;
            }
            int64_t M = rr->n_methods + criterion_col;
            if (!out->methods) { /* the columns, from the first ranking */
                const char **names = xf_calloc(ctx, (size_t)M, sizeof *names);
                row = xf_malloc(ctx, sizeof(double) * (size_t)M);
                if (!names || !row) st = XF_ERR_NOMEM;
                for (int j = 0; j < rr->n_methods && !st; j++) names[j] = rr->methods[j];
                if (!st && criterion_col) names[M - 1] = crit_name;
                if (!st) st = xf_bench_results_init(ctx, out, M, names);
                xf_free(ctx, names);
            } else if (M != out->M)
                st = XF_ERR(ctx, XF_ERR_INTERNAL, "rankings with %lld and %lld methods", (long long)M,
                            (long long)out->M);
            char runs[32];
            snprintf(runs, sizeof runs, "%lld", (long long)run);
            for (int64_t i = 0; i < rr->n_models && !st; i++) {
                const xf_rank_model *rm = &rr->models[i];
                const xf_bank_model *bm = xf_bank_model_at(bank, rm->bank_index);
                if (!rm->ok) {
                    xf_log(ctx, XF_LOG_WARN, "target '%s', run %lld: model '%s' left out: %s", targets[t].name,
                           (long long)run, rm->name, rm->error);
                    continue;
                }
                for (int j = 0; j < rr->n_methods; j++) row[j] = rm->scores[j];
                if (criterion_col) row[M - 1] = rm->score;
                st = xf_bench_results_add(ctx, out, runs, bm->architecture, bm->name, targets[t].name, row);
            }
            xf_rank_result_free(ctx, rr);
        }
        xf_dataset_free(ctx, &ds);
    }
    xf_free(ctx, row);
    xf_bank_free(bank);
    if (!st && out->n == 0) st = XF_ERR(ctx, XF_ERR_INVALID, "%s: no model could be scored", bank_dir);
    if (!st) { /* messages about rows name the table by its bank; lines are those of a written copy */
        size_t n = strlen(bank_dir) + 16;
        if (!(out->name = xf_malloc(ctx, n))) st = XF_ERR_NOMEM;
        else snprintf(out->name, n, "scores of %s", bank_dir);
    }
    if (st) xf_bench_results_free(ctx, out);
    return st;
}
