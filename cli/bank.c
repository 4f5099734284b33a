/* xfer bank: describe, list and check a folder of ONNX models (include/xfer/bank.h).
 *
 *   xfer bank init DIR [--mean a,b,c --std a,b,c] [--source NAME] [--architecture NAME]
 *   xfer bank list DIR [--json|--csv]
 *   xfer bank verify DIR
 *
 * init writes DIR/bank.json (keeping what an existing one says); list prints it as a
 * table; verify hashes and loads every model and prints one line per problem (exit 1 on
 * any). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CMD "bank"

static const char *USAGE =
    "usage: xfer bank init DIR [--mean a[,b,c] --std a[,b,c]] [--source NAME] [--architecture NAME]\n"
    "       xfer bank list DIR [--json|--csv]\n"
    "       xfer bank verify DIR\n\n"
    "A bank is a folder of ONNX models described by DIR/bank.json (docs/FORMATS.md).\n"
    "init     writes bank.json for every *.onnx in DIR: input shape, feature tensor (input of\n"
    "         the last Gemm/MatMul), logits, weighted layers, parameters, SHA-256. What an\n"
    "         existing bank.json says is kept; --mean/--std/--source/--architecture fill\n"
    "         entries that do not say it (default mean 0, std 1, source and architecture\n"
    "         'unknown' unless the graph is named).\n"
    "list     prints the bank.\n"
    "verify   hashes and loads every model, checks it against bank.json and prints one\n"
    "         line per problem; exit status 1 if there is any.\n";

static void print_problem(void *user, const char *line) {
    (void)user;
    printf("%s\n", line);
}

static int list(xf_ctx_t *ctx, const char *dir, int fmt) {
    xf_bank_t *b;
    if (xf_bank_open(ctx, dir, &b) != XF_OK) return xf_cli_fail(CMD, ctx);
    int64_t n = xf_bank_count(b);
    if (fmt == 0) printf("%-24s %-16s %-12s %8s %10s %7s %-11s %s\n", "name", "architecture", "source", "layers", "params",
                         "classes", "input", "file");
    if (fmt == 2) printf("name,architecture,source,layers,params,source_classes,channels,height,width,file,sha256\n");
    for (int64_t i = 0; i < n; i++) {
        const xf_bank_model *m = xf_bank_model_at(b, i);
        char in[48];
        snprintf(in, sizeof in, "%lldx%lldx%lld", (long long)m->channels, (long long)m->height, (long long)m->width);
        if (fmt == 0)
            printf("%-24s %-16s %-12s %8lld %10lld %7lld %-11s %s\n", m->name, m->architecture, m->source,
                   (long long)m->layers, (long long)m->params, (long long)m->source_classes, in, m->file);
        else if (fmt == 2) {
            const char *s[] = {m->name, m->architecture, m->source};
            for (int k = 0; k < 3; k++) xf_cli_csv_str(stdout, s[k]), putchar(',');
            printf("%lld,%lld,%lld,%lld,%lld,%lld,", (long long)m->layers, (long long)m->params,
                   (long long)m->source_classes, (long long)m->channels, (long long)m->height, (long long)m->width);
            xf_cli_csv_str(stdout, m->file);
            printf(",%s\n", m->sha256);
        } else {
            printf("{\"name\": ");
            xf_cli_json_str(stdout, m->name);
            printf(", \"architecture\": ");
            xf_cli_json_str(stdout, m->architecture);
            printf(", \"source\": ");
            xf_cli_json_str(stdout, m->source);
            printf(", \"layers\": %lld, \"params\": %lld, \"source_classes\": %lld, \"input\": [%lld, %lld, %lld], \"file\": ",
                   (long long)m->layers, (long long)m->params, (long long)m->source_classes, (long long)m->channels,
                   (long long)m->height, (long long)m->width);
            xf_cli_json_str(stdout, m->file);
            printf(", \"sha256\": \"%s\"}\n", m->sha256);
        }
    }
    xf_bank_free(b);
    return 0;
}

int xf_cli_bank(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1], *dir = NULL;
    if (strcmp(action, "init") && strcmp(action, "list") && strcmp(action, "verify"))
        return xf_cli_usage(CMD, "unknown action '%s': init, list or verify", action);
    int fmt = 0, has_mean = 0, has_std = 0;
    xf_bank_init_opts o;
    xf_bank_init_opts_default(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (a[0] != '-' || !a[1]) {
            if (dir) return xf_cli_usage(CMD, "one folder only ('%s' and '%s')", dir, a);
            dir = a;
            continue;
        }
        if (!strcmp(action, "list") && (!strcmp(a, "--json") || !strcmp(a, "--csv"))) {
            fmt = a[2] == 'j' ? 1 : 2;
            continue;
        }
        if (strcmp(action, "init")) return xf_cli_usage(CMD, "unknown option '%s' for 'bank %s'", a, action);
        if (i + 1 >= argc) return xf_cli_usage(CMD, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--mean")) {
            if (xf_cli_parse_norm(v, o.mean, 0))
                return xf_cli_usage(CMD, "--mean takes 1 or 3 comma-separated numbers in [-1e6, 1e6], got '%s'", v);
            has_mean = 1;
        } else if (!strcmp(a, "--std")) {
            if (xf_cli_parse_norm(v, o.std, 1))
                return xf_cli_usage(CMD, "--std takes 1 or 3 comma-separated numbers in [1e-6, 1e6], got '%s'", v);
            has_std = 1;
        } else if (!strcmp(a, "--source")) o.source = v;
        else if (!strcmp(a, "--architecture")) o.architecture = v;
        else return xf_cli_usage(CMD, "unknown option '%s'", a);
    }
    if (!dir) return xf_cli_usage(CMD, "'bank %s' needs the bank folder", action);
    o.has_norm = has_mean || has_std;
    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(CMD, NULL);
    int rc = 0;
    if (!strcmp(action, "init")) {
        if (xf_bank_init(ctx, dir, &o) != XF_OK) rc = xf_cli_fail(CMD, ctx);
        else {
            xf_bank_t *b;
            if (xf_bank_open(ctx, dir, &b) != XF_OK) rc = xf_cli_fail(CMD, ctx);
            else {
                fprintf(stderr, "xfer bank: %s/bank.json describes %lld models\n", xf_bank_dir(b), (long long)xf_bank_count(b));
                xf_bank_free(b);
            }
        }
    } else if (!strcmp(action, "list"))
        rc = list(ctx, dir, fmt);
    else {
        xf_bank_t *b;
        int64_t np = 0;
        if (xf_bank_open(ctx, dir, &b) != XF_OK) rc = xf_cli_fail(CMD, ctx);
        else {
            if (xf_bank_verify(ctx, b, print_problem, NULL, &np) != XF_OK) rc = xf_cli_fail(CMD, ctx);
            else if (np) {
                fprintf(stderr, "xfer bank: %lld problem%s in %s\n", (long long)np, np == 1 ? "" : "s", dir);
                rc = 1;
            } else
                fprintf(stderr, "xfer bank: %s: %lld models, all verified\n", dir, (long long)xf_bank_count(b));
            xf_bank_free(b);
        }
    }
    xf_ctx_free(ctx);
    return rc;
}
