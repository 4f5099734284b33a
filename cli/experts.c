/* xfer experts: build a bank of expert models from the corpus's label hierarchy, pick
 * one for a target with a proxy, export adapter experts as ONNX (docs/EXPERTS.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfer/experts.h"

static const char *const usage_text =
    "usage: xfer experts build --corpus DIR --out BANK [--arch resnet|cnn] [--min-images N] [--epochs E]\n"
    "                          [--expert-steps S] [--expert-batch B] [--no-adapters] [--random-controls]\n"
    "                          [--seed S] [--threads T]\n"
    "       xfer experts select --bank BANK --data SPEC [--proxy knn|kl|epn|all] [--json] [data options]\n"
    "       xfer experts export --bank BANK (--name NAME | --all) [--to FILE.onnx]\n"
    "\n"
    "build: the generalist on the whole upstream, then per hierarchy slice (>= min-images\n"
    "training images, default 1000) a full expert and an adapter expert trained the same\n"
    "number of steps (default 60, batch 64), with --random-controls also experts on\n"
    "size-matched random slices. Killed and rerun with the same options, it continues.\n"
    "select: every expert's kNN (leave-one-out 1-NN accuracy, %), KL (label matching) and\n"
    "EPN (domain prediction) values on the target, and the pick of each proxy.\n"
    "export: an adapter expert from the compact store as an ordinary ONNX model; without\n"
    "--to it goes to BANK/adapters/<name>.onnx and into bank.json.\n";

static void on_model(void *user, int index, int total, const char *name, int64_t images, int64_t steps, int done,
                     int skipped, double seconds) {
    (void)user;
    if (skipped) fprintf(stderr, "xfer experts: [%d/%d] %s: already built, skipped\n", index, total, name);
    else if (!done)
        fprintf(stderr, "xfer experts: [%d/%d] %s: training on %lld images, %lld steps\n", index, total, name,
                (long long)images, (long long)steps);
    else fprintf(stderr, "xfer experts: [%d/%d] %s: done in %.1f s\n", index, total, name, seconds);
}

static int cmd_build(int argc, char **argv) {
    const char *cmd = "experts build";
    xf_experts_opts o;
    xf_experts_opts_default(&o);
    int64_t threads = 0, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-adapters")) { o.adapters = 0; continue; }
        if (!strcmp(a, "--adapters")) { o.adapters = 1; continue; }
        if (!strcmp(a, "--random-controls")) { o.random_controls = 1; continue; }
        if (i + 1 >= argc) return xf_cli_usage(cmd, "unknown option or missing value: '%s'", a);
        const char *val = argv[++i];
        if (!strcmp(a, "--corpus")) o.corpus_dir = val;
        else if (!strcmp(a, "--out")) o.out_dir = val;
        else if (!strcmp(a, "--arch")) o.arch = val;
        else if (!strcmp(a, "--min-images")) {
            if (xf_cli_parse_i64(val, 1, INT64_MAX / 2, &o.min_images)) return xf_cli_usage(cmd, "--min-images: '%s' is not >= 1", val);
        } else if (!strcmp(a, "--epochs")) {
            if (xf_cli_parse_i64(val, 1, 100000, &o.epochs)) return xf_cli_usage(cmd, "--epochs: '%s' is not >= 1", val);
        } else if (!strcmp(a, "--expert-steps")) {
            if (xf_cli_parse_i64(val, 1, 100000000, &o.expert_steps)) return xf_cli_usage(cmd, "--expert-steps: '%s' is not >= 1", val);
        } else if (!strcmp(a, "--expert-batch")) {
            if (xf_cli_parse_i64(val, 2, 65536, &o.expert_batch)) return xf_cli_usage(cmd, "--expert-batch: '%s' is not >= 2", val);
        } else if (!strcmp(a, "--epn-steps")) {
            if (xf_cli_parse_i64(val, 1, 100000000, &o.epn_steps)) return xf_cli_usage(cmd, "--epn-steps: '%s' is not >= 1", val);
        } else if (!strcmp(a, "--seed")) {
            if (xf_cli_parse_i64(val, 0, INT64_MAX, &v)) return xf_cli_usage(cmd, "--seed: '%s' is not a number >= 0", val);
            o.seed = (uint64_t)v;
        } else if (!strcmp(a, "--threads")) {
            if (xf_cli_parse_i64(val, 1, 4096, &threads)) return xf_cli_usage(cmd, "--threads: '%s' is not >= 1", val);
        } else return xf_cli_usage(cmd, "unknown option '%s'", a);
    }
    if (!o.corpus_dir || !o.out_dir) return xf_cli_usage(cmd, "--corpus and --out are required");
    if (strcmp(o.arch, "resnet") && strcmp(o.arch, "cnn")) return xf_cli_usage(cmd, "--arch: '%s' is not resnet or cnn", o.arch);
    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(cmd, NULL);
    if (threads) xf_ctx_set_threads(ctx, (int)threads);
    o.on_model = on_model;
    int rc = 0;
    double t0 = xf_now();
    if (xf_experts_build(ctx, &o) != XF_OK) rc = xf_cli_fail(cmd, ctx);
    else fprintf(stderr, "xfer experts: bank '%s' complete (%.1f s this run)\n", o.out_dir, xf_now() - t0);
    xf_ctx_free(ctx);
    return rc;
}

static void json_num(double v) {
    if (isnan(v)) printf("null");
    else printf("%.10g", v);
}

static int cmd_select(int argc, char **argv) {
    const char *cmd = "experts select";
    const char *bank = NULL, *spec = NULL, *proxy = "all";
    int json = 0;
    xf_data_opts dop;
    xf_data_opts_default(&dop);
    for (int i = 1; i < argc; i++) {
        int r = xf_cli_data_opt(cmd, argc, argv, &i, &dop);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (i + 1 >= argc) return xf_cli_usage(cmd, "unknown option or missing value: '%s'", a);
        if (!strcmp(a, "--bank")) bank = argv[++i];
        else if (!strcmp(a, "--data")) spec = argv[++i];
        else if (!strcmp(a, "--proxy")) proxy = argv[++i];
        else return xf_cli_usage(cmd, "unknown option '%s'", a);
    }
    if (!bank || !spec) return xf_cli_usage(cmd, "--bank and --data are required");
    int proxies = !strcmp(proxy, "knn") ? XF_PROXY_KNN : !strcmp(proxy, "kl") ? XF_PROXY_KL
                : !strcmp(proxy, "epn") ? XF_PROXY_EPN : !strcmp(proxy, "all") ? XF_PROXY_ALL : 0;
    if (!proxies) return xf_cli_usage(cmd, "--proxy: '%s' is not knn, kl, epn or all", proxy);
    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(cmd, NULL);
    xf_experts_t *ex = NULL;
    xf_dataset ds;
    memset(&ds, 0, sizeof ds);
    xf_experts_scores sc;
    memset(&sc, 0, sizeof sc);
    int rc = 0;
    if (xf_experts_open(ctx, bank, &ex)) {
        rc = xf_cli_fail(cmd, ctx);
        goto done;
    }
    xf_graph *g;
    if (xf_experts_load(ctx, ex, 0, &g, NULL)) {
        rc = xf_cli_fail(cmd, ctx);
        goto done;
    }
    float mean, sd;
    xf_experts_norm(ex, &mean, &sd);
    for (int c = 0; c < 3; c++) dop.mean[c] = mean, dop.std[c] = sd;
    xf_status st = xf_cli_fit_data_to_model(ctx, bank, g, &dop);
    xf_graph_free(g);
    if (st || xf_data_open(ctx, spec, &dop, &ds)) {
        rc = xf_cli_fail(cmd, ctx);
        goto done;
    }
    xf_imageset t = {ds.x, ds.y, ds.n, ds.c, ds.h, ds.w, ds.k};
    if (xf_experts_select(ctx, ex, &t, proxies, &sc)) {
        rc = xf_cli_fail(cmd, ctx);
        goto done;
    }
    static const int pids[3] = {XF_PROXY_KNN, XF_PROXY_KL, XF_PROXY_EPN};
    static const char *const pnames[3] = {"knn", "kl", "epn"};
    int n = xf_experts_count(ex);
    if (json) {
        printf("{\"bank\": ");
        xf_cli_json_str(stdout, bank);
        printf(", \"data\": ");
        xf_cli_json_str(stdout, spec);
        printf(", \"images\": %lld, \"experts\": [", (long long)ds.n);
        for (int i = 0; i < n; i++) {
            const xf_expert_info *e = xf_experts_info(ex, i);
            printf("%s\n  {\"name\": ", i ? "," : "");
            xf_cli_json_str(stdout, e->name);
            printf(", \"kind\": \"%s\", \"adapter\": %s, \"slice\": ", xf_expert_kind_name(e->kind), e->adapter ? "true" : "false");
            if (e->slice) xf_cli_json_str(stdout, e->slice);
            else printf("null");
            printf(", \"slice_size\": %lld, \"knn\": ", (long long)e->slice_size);
            json_num(sc.knn[i]);
            printf(", \"kl\": ");
            json_num(sc.kl[i]);
            printf(", \"epn\": ");
            json_num(sc.epn[i]);
            printf("}");
        }
        printf("],\n \"picks\": {");
        for (int p = 0; p < 3; p++)
            for (int a = 0; a < 2; a++) {
                int k = xf_experts_pick(ex, &sc, pids[p], a);
                printf("%s\"%s_%s\": ", p || a ? ", " : "", pnames[p], a ? "adapter" : "full");
                if (k >= 0) xf_cli_json_str(stdout, xf_experts_info(ex, k)->name);
                else printf("null");
            }
        printf("},\n \"seconds\": {\"knn\": %.3f, \"kl\": %.3f, \"epn\": %.3f}}\n", sc.seconds[0], sc.seconds[1], sc.seconds[2]);
    } else {
        printf("%-28s %-10s %8s %10s %10s %10s\n", "expert", "kind", "slice_n", "knn_%", "kl", "epn");
        for (int i = 0; i < n; i++) {
            const xf_expert_info *e = xf_experts_info(ex, i);
            printf("%-28s %-10s %8lld %10.2f %10.4f %10.4f\n", e->name,
                   e->adapter && e->kind == XF_EXPERT_RANDOM ? "random-ad" : xf_expert_kind_name(e->kind),
                   (long long)e->slice_size, sc.knn[i], sc.kl[i], sc.epn[i]);
        }
        for (int p = 0; p < 3; p++)
            for (int a = 0; a < 2; a++) {
                if (!(proxies & pids[p])) continue;
                int k = xf_experts_pick(ex, &sc, pids[p], a);
                printf("pick %-3s %-8s %s\n", pnames[p], a ? "adapter" : "full", k >= 0 ? xf_experts_info(ex, k)->name : "-");
            }
    }
done:
    xf_experts_scores_free(ctx, &sc);
    xf_dataset_free(ctx, &ds);
    xf_experts_close(ex);
    xf_ctx_free(ctx);
    return rc;
}

static int cmd_export(int argc, char **argv) {
    const char *cmd = "experts export";
    const char *bank = NULL, *name = NULL, *to = NULL;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--all")) { all = 1; continue; }
        if (i + 1 >= argc) return xf_cli_usage(cmd, "unknown option or missing value: '%s'", a);
        if (!strcmp(a, "--bank")) bank = argv[++i];
        else if (!strcmp(a, "--name")) name = argv[++i];
        else if (!strcmp(a, "--to")) to = argv[++i];
        else return xf_cli_usage(cmd, "unknown option '%s'", a);
    }
    if (!bank || (!name && !all) || (name && all)) return xf_cli_usage(cmd, "--bank and one of --name / --all are required");
    if (to && all) return xf_cli_usage(cmd, "--to takes one expert (--name)");
    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(cmd, NULL);
    xf_experts_t *ex = NULL;
    int rc = 0;
    if (xf_experts_open(ctx, bank, &ex)) {
        rc = xf_cli_fail(cmd, ctx);
        goto done;
    }
    int found = 0;
    for (int i = 0; i < xf_experts_count(ex) && !rc; i++) {
        const xf_expert_info *e = xf_experts_info(ex, i);
        if (all ? !e->adapter : strcmp(e->name, name)) continue;
        found++;
        xf_status st = to ? xf_experts_export(ctx, ex, i, to) : xf_experts_export_to_bank(ctx, ex, i);
        if (st) rc = xf_cli_fail(cmd, ctx);
        else if (to || e->adapter) fprintf(stderr, "xfer experts: %s -> %s%s%s.onnx\n", e->name, to ? to : bank, to ? "" : "/adapters/", to ? "" : e->name);
    }
    if (!rc && !found) {
        fprintf(stderr, "xfer %s: %s/experts.json: no expert named '%s'\n", cmd, bank, all ? "(any adapter)" : name);
        rc = 1;
    }
done:
    xf_experts_close(ex);
    xf_ctx_free(ctx);
    return rc;
}

int xf_cli_experts(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "build")) return cmd_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "select")) return cmd_select(argc - 1, argv + 1);
    if (!strcmp(argv[1], "export")) return cmd_export(argc - 1, argv + 1);
    return xf_cli_usage("experts", "unknown subcommand '%s' (build, select, export)", argv[1]);
}
