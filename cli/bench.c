/* xfer bench: how good is each model-selection method on a benchmark (docs/SELECTION_BENCHMARK.md).
 *
 *   xfer bench --bank BANK --targets SPEC[,SPEC...] --oracle oracle.csv [--probe 500] [--runs 5]
 *              [--methods all] [--results-out results.csv] [same options]
 *   xfer bench --oracle oracle.csv --results results.csv [--capacity] [--capacity-per-target]
 *              [--layers models.csv|BANK] [--group COLS] [--by target] [--json] [--report DIR] [--nan-as-zero]
 *
 * Reads PARC's oracle and results CSVs, calls xf_bench_evaluate, prints the table (or
 * JSON) and writes the report; nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "xfer/benchmark.h"

static const char *USAGE =
    "usage: xfer bench --oracle oracle.csv --results results.csv [--capacity]\n"
    "                  [--capacity-per-target] [--layers models.csv] [--group COLS] [--by target]\n"
    "                  [--json] [--report DIR] [--nan-as-zero]\n"
    "       xfer bench --bank BANK --targets SPEC[,SPEC...] --oracle oracle.csv [--probe 500]\n"
    "                  [--runs 5] [--methods all] [--results-out results.csv] [--cache-dir DIR]\n"
    "                  [--no-cache] [--corpus-dir DIR] [the options above]\n"
    "\n"
    "Per target (and run), compares every method column of results.csv (PARC's columns\n"
    "Run,Architecture,Source Dataset,Target Dataset,<methods>) with the oracle accuracies of\n"
    "oracle.csv (Architecture,Source Dataset,Target Dataset,Oracle) over the models; rows with\n"
    "an oracle <= 0 are left out. Prints Pearson, Spearman, Kendall tau-b, weighted tau (x100),\n"
    "top-1/top-3 relative accuracy (%) and top-1 regret (oracle points): the mean over targets\n"
    "within a run, then mean (std) over runs.\n"
    "  --capacity             add '<method>+capacity': PARC's code form of the capacity term,\n"
    "                         z-score of the column over ALL rows + layers/50\n"
    "  --capacity-per-target  add '<method>+capacity/target': the paper's Eq. 6, z-score within\n"
    "                         each (run, target) + layers/50\n"
    "  --layers models.csv    layer counts (columns Architecture,Layers), or a bank folder (its\n"
    "                         bank.json's layers by architecture); needed by --capacity\n"
    "  --by target            one row per method and target (group)\n"
    "  --group COLS           the columns held constant while correlating (PARC Table 2):\n"
    "                         target (default: over every model of a target), target,source\n"
    "                         (over architectures), target,architecture (over sources),\n"
    "                         architecture,source (over targets, the paper's Eq. 5)\n"
    "  --json                 a JSON array of objects (method, pearson, spearman, kendall,\n"
    "                         weighted_tau, top1, top3, regret, their *_std, models, runs)\n"
    "  --report DIR           DIR/report.md and one SVG scatter per target\n"
    "The second form makes results.csv itself: for each target (SPEC as in 'xfer oracle',\n"
    "[NAME=]TRAIN[@TEST], the probe drawn from TRAIN) and run r, 'xfer rank' scores every model\n"
    "with every method (--methods, default all, plus the 'default' rule) on a probe of --probe\n"
    "images drawn with seed 2020 + 3037 r (PARC's); Architecture and Source Dataset are the bank\n"
    "entry's architecture and name, as 'xfer oracle' writes them. --results-out keeps the table;\n"
    "without --oracle this form only writes it.\n"
    "  --nan-as-zero          PARC's fillna(0): a NaN score counts as 0 (default: a method with\n"
    "                         a NaN score is reported as not evaluated, the others are)\n";

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int xf_cli_bench(int argc, char **argv) {
    const char *oracle = NULL, *results = NULL, *layers = NULL, *report = NULL, *bank = NULL, *targets = NULL,
               *results_out = NULL;
    xf_bench_rank_opts ro;
    xf_bench_rank_opts_default(&ro);
    int64_t v64;
    int by_target = 0, json = 0;
    xf_bench_opts opt;
    xf_bench_opts_default(&opt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--oracle") && more) oracle = argv[++i];
        else if (!strcmp(a, "--results") && more) results = argv[++i];
        else if (!strcmp(a, "--layers") && more) layers = argv[++i];
        else if (!strcmp(a, "--report") && more) report = argv[++i];
        else if (!strcmp(a, "--capacity")) opt.capacity |= XF_BENCH_CAPACITY_GLOBAL;
        else if (!strcmp(a, "--capacity-per-target")) opt.capacity |= XF_BENCH_CAPACITY_TARGET;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--nan-as-zero")) opt.nan_as_zero = 1;
        else if (!strcmp(a, "--group") && more) {
            opt.group = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (!strcmp(t, "target")) opt.group |= XF_BENCH_GROUP_TARGET;
                else if (!strcmp(t, "architecture")) opt.group |= XF_BENCH_GROUP_ARCH;
                else if (!strcmp(t, "source")) opt.group |= XF_BENCH_GROUP_SOURCE;
                else return xf_cli_usage("bench", "--group takes target, architecture, source (got '%s')", t);
            }
            if (opt.group == 0 || opt.group == 7)
                return xf_cli_usage("bench", "--group holds one or two of target, architecture, source constant");
        } else if (!strcmp(a, "--by") && more) {
            if (strcmp(argv[++i], "target")) return xf_cli_usage("bench", "--by takes 'target' (got '%s')", argv[i]);
            by_target = 1;
        } else if (!strcmp(a, "--bank") && more) bank = argv[++i];
        else if (!strcmp(a, "--targets") && more) targets = argv[++i];
        else if (!strcmp(a, "--results-out") && more) results_out = argv[++i];
        else if (!strcmp(a, "--methods") && more) ro.methods = argv[++i];
        else if (!strcmp(a, "--cache-dir") && more) ro.cache_dir = argv[++i];
        else if (!strcmp(a, "--corpus-dir") && more) ro.corpus_dir = argv[++i];
        else if (!strcmp(a, "--no-cache")) ro.no_cache = 1;
        else if (!strcmp(a, "--probe") && more) {
            if (xf_cli_parse_i64(argv[++i], 0, INT64_MAX / 4, &v64))
                return xf_cli_usage("bench", "--probe must be an integer >= 0, got '%s'", argv[i]);
            ro.probe = v64;
        } else if (!strcmp(a, "--runs") && more) {
            if (xf_cli_parse_i64(argv[++i], 1, 1000, &v64))
                return xf_cli_usage("bench", "--runs must be an integer in 1..1000, got '%s'", argv[i]);
            ro.runs = v64;
        }
        else if (a[0] == '-' && !more &&
                 (!strcmp(a, "--oracle") || !strcmp(a, "--results") || !strcmp(a, "--layers") ||
                  !strcmp(a, "--report") || !strcmp(a, "--by") || !strcmp(a, "--group") || !strcmp(a, "--bank") ||
                  !strcmp(a, "--targets") || !strcmp(a, "--results-out") || !strcmp(a, "--methods") ||
                  !strcmp(a, "--probe") || !strcmp(a, "--runs") || !strcmp(a, "--cache-dir") ||
                  !strcmp(a, "--corpus-dir")))
            return xf_cli_usage("bench", "%s needs a value", a);
        else return xf_cli_usage("bench", "unknown argument '%s'", a);
    }
    if (!oracle && !(bank && results_out))
        return xf_cli_usage("bench", "--oracle FILE is required (the --bank form may instead only write --results-out)");
    if (bank && results) return xf_cli_usage("bench", "give --results FILE or --bank BANK --targets ..., not both");
    if (!bank && !results) return xf_cli_usage("bench", "--results FILE (or --bank BANK --targets ...) is required");
    if (bank && !targets) return xf_cli_usage("bench", "--bank needs --targets SPEC[,SPEC...]");
    if (!bank && (targets || results_out))
        return xf_cli_usage("bench", "%s is used only with --bank", targets ? "--targets" : "--results-out");
    if (opt.capacity && !layers)
        return xf_cli_usage("bench", "--capacity needs --layers FILE (columns Architecture,Layers)");
    if (!opt.capacity && layers) return xf_cli_usage("bench", "--layers is used only with --capacity");

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail("bench", NULL);
    xf_ctx_set_progress(ctx, NULL, NULL); /* a line per extraction would bury the table */
    xf_bench_oracle o = {0};
    xf_bench_results r = {0};
    xf_bench_layers l = {0};
    xf_bench_eval e = {0};
    xf_oracle_target *tg = NULL;
    int64_t T = 0;
    int rc = 0;
    if (bank) { /* the second form: score the bank on every target, PARC's runs x targets x models */
        T = 1;
        for (const char *p = targets; *p; p++) T += *p == ',';
        char *list = strdup(targets);
        tg = calloc((size_t)T, sizeof *tg);
        if (!list || !tg) {
            free(list);
            rc = xf_cli_fail("bench", NULL);
            goto done;
        }
        int64_t k = 0;
        for (char *s = list, *e2; k < T; s = e2 + 1, k++) {
            e2 = strchr(s, ',');
            if (e2) *e2 = 0;
            else e2 = s + strlen(s);
            if (xf_oracle_target_parse(ctx, s, &tg[k]) != XF_OK) {
                xf_error_prefix(ctx, "--targets");
                break;
            }
        }
        free(list);
        if (k < T || (oracle && xf_bench_oracle_read(ctx, oracle, &o)) ||
            xf_bench_results_from_bank(ctx, bank, tg, T, &ro, &r) ||
            (results_out && xf_bench_results_write(ctx, results_out, &r))) {
            rc = xf_cli_fail("bench", ctx);
            goto done;
        }
        if (!oracle) { /* only the results table was asked for */
            rc = 0;
            goto done;
        }
    }
    if ((!bank && xf_bench_oracle_read(ctx, oracle, &o)) || (!bank && xf_bench_results_read(ctx, results, &r)) ||
        (layers && (is_dir(layers) ? xf_bench_layers_from_bank(ctx, layers, &l) : xf_bench_layers_read(ctx, layers, &l)))) {
        rc = xf_cli_fail("bench", ctx);
        goto done;
    }
    opt.layers = &l;
    if (xf_bench_evaluate(ctx, &o, &r, &opt, &e)) {
        rc = xf_cli_fail("bench", ctx);
        goto done;
    }
    int any = 0;
    for (int64_t m = 0; m < e.M; m++) {
        if (e.evaluated[m]) any = 1;
        else fprintf(stderr, "xfer bench: method '%s' not evaluated: %s\n", e.methods[m], e.why_not[m]);
    }
    if (json)
        for (int64_t i = 0; i < e.n_notes; i++) fprintf(stderr, "xfer bench: note: %s\n", e.notes[i]);
    xf_bench_eval_print(stdout, &e, by_target, json);
    if (report && xf_bench_report_write(ctx, &e, report)) {
        rc = xf_cli_fail("bench", ctx);
        goto done;
    }
    if (!any) {
        fprintf(stderr, "xfer bench: no method could be evaluated\n");
        rc = 1;
    }
done:
    for (int64_t i = 0; tg && i < T; i++) xf_oracle_target_free(ctx, &tg[i]);
    free(tg);
    xf_bench_eval_free(ctx, &e);
    xf_bench_layers_free(ctx, &l);
    xf_bench_results_free(ctx, &r);
    xf_bench_oracle_free(ctx, &o);
    xf_ctx_free(ctx);
    return rc;
}
