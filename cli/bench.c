/* xfer bench: how good is each model-selection method on a benchmark (docs/SELECTION_BENCHMARK.md).
 *
 *   xfer bench --oracle oracle.csv --results results.csv [--capacity] [--capacity-per-target]
 *              [--layers models.csv|BANK] [--group COLS] [--by target] [--json] [--report DIR] [--nan-as-zero]
 *
 * Reads PARC's oracle and results CSVs, calls xf_bench_evaluate, prints the table (or
 * JSON) and writes the report; nothing else. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "xfer/benchmark.h"

static const char *USAGE =
    "usage: xfer bench --oracle oracle.csv --results results.csv [--capacity]\n"
    "                  [--capacity-per-target] [--layers models.csv] [--group COLS] [--by target]\n"
    "                  [--json] [--report DIR] [--nan-as-zero]\n"
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
    "  --nan-as-zero          PARC's fillna(0): a NaN score counts as 0 (default: a method with\n"
    "                         a NaN score is reported as not evaluated, the others are)\n";

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int xf_cli_bench(int argc, char **argv) {
    const char *oracle = NULL, *results = NULL, *layers = NULL, *report = NULL;
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
        } else if (!strcmp(a, "--bank") || !strcmp(a, "--targets") || !strcmp(a, "--probe") || !strcmp(a, "--runs"))
            return xf_cli_usage("bench", "%s: the form that scores a bank itself is not available in this build", a);
        else if (a[0] == '-' && !more &&
                 (!strcmp(a, "--oracle") || !strcmp(a, "--results") || !strcmp(a, "--layers") ||
                  !strcmp(a, "--report") || !strcmp(a, "--by") || !strcmp(a, "--group")))
            return xf_cli_usage("bench", "%s needs a value", a);
        else return xf_cli_usage("bench", "unknown argument '%s'", a);
    }
    if (!oracle) return xf_cli_usage("bench", "--oracle FILE is required");
    if (!results) return xf_cli_usage("bench", "--results FILE is required");
    if (opt.capacity && !layers)
        return xf_cli_usage("bench", "--capacity needs --layers FILE (columns Architecture,Layers)");
    if (!opt.capacity && layers) return xf_cli_usage("bench", "--layers is used only with --capacity");

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail("bench", NULL);
    xf_bench_oracle o = {0};
    xf_bench_results r = {0};
    xf_bench_layers l = {0};
    xf_bench_eval e = {0};
    int rc = 0;
    if (xf_bench_oracle_read(ctx, oracle, &o) || xf_bench_results_read(ctx, results, &r) ||
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
    xf_bench_eval_free(ctx, &e);
    xf_bench_layers_free(ctx, &l);
    xf_bench_results_free(ctx, &r);
    xf_bench_oracle_free(ctx, &o);
    xf_ctx_free(ctx);
    return rc;
}
