/* xfer data: build the embedded corpus (`xfer data build`) and list its tasks
 * (`xfer data list`). Only parses arguments and prints; the work is xf_corpus_build
 * (include/xfer/corpus.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfer/corpus.h"

static const char *USAGE =
    "usage: xfer data build [--out DIR] [--force] [--seed N] [--scale X] [--json]\n"
    "                       [--fonts DIR] [--fashion DIR] [--digits FILE]\n"
    "       xfer data list [--out DIR] [--json]\n"
    "\n"
    "build  writes the embedded corpus (upstream + target tasks) from Debian packages into DIR\n"
    "       (default data/corpus); an up-to-date corpus there is reused, --force rebuilds.\n"
    "       --scale X in (0, 1] multiplies every image count (small corpora for tests).\n"
    "       Sources default to /usr/share/fonts, /usr/share/datasets/fashion-mnist and\n"
    "       scikit-learn's digits.csv.gz (docs/DATA.md).\n"
    "list   prints the tasks, with their sizes when DIR holds a built corpus.\n";

static void print_table(const xf_corpus_report *r, int json, int about) {
    if (json) {
        printf("{\"reused\": %s, \"seconds\": %.3f, \"bytes\": %lld, \"params_hash\": \"%s\", \"tasks\": [",
               r->reused ? "true" : "false", r->seconds, (long long)r->bytes, r->hash);
        for (int i = 0; i < r->ntasks; i++) {
            const xf_corpus_task_info *t = &r->tasks[i];
            printf("%s{\"name\": \"%s\", \"kind\": \"%s\", \"classes\": %lld, \"train\": %lld, \"test\": %lld, "
                   "\"source\": \"%s\"}",
                   i ? ", " : "", t->name, t->upstream ? "upstream" : "target", (long long)t->classes,
                   (long long)t->train, (long long)t->test, t->source);
        }
        printf("]}\n");
        return;
    }
    printf("%-15s %7s %8s %7s  %s\n", "task", "classes", "train", "test", about ? "differs from the upstream by" : "source");
    for (int i = 0; i < r->ntasks; i++) {
        const xf_corpus_task_info *t = &r->tasks[i];
        printf("%-15s %7lld %8lld %7lld  %s\n", t->name, (long long)t->classes, (long long)t->train,
               (long long)t->test, about ? t->differs : t->source);
    }
}

static int build(int argc, char **argv) {
    xf_corpus_opts o;
    xf_corpus_opts_init(&o);
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--out") && more) o.out_dir = argv[++i];
        else if (!strcmp(a, "--fonts") && more) o.fonts_dir = argv[++i];
        else if (!strcmp(a, "--fashion") && more) o.fashion_dir = argv[++i];
        else if (!strcmp(a, "--digits") && more) o.digits_csv = argv[++i];
        else if (!strcmp(a, "--force")) o.force = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--seed") && more) {
            char *end;
            o.seed = strtoull(argv[++i], &end, 10);
            if (*end || !*argv[i]) return xf_cli_usage("data", "--seed wants a non-negative integer, not '%s'", argv[i]);
        } else if (!strcmp(a, "--scale") && more) {
            char *end;
            o.scale = strtod(argv[++i], &end);
            if (*end || !(o.scale > 0 && o.scale <= 1)) return xf_cli_usage("data", "--scale wants a number in (0, 1], not '%s'", argv[i]);
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        } else return xf_cli_usage("data", "unknown or incomplete option '%s'", a);
    }
    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail("data", NULL);
    xf_corpus_report r;
    if (xf_corpus_build(ctx, &o, &r) != XF_OK) {
        int rc = xf_cli_fail("data", ctx);
        xf_ctx_free(ctx);
        return rc;
    }
    print_table(&r, json, 0);
    if (!json)
        printf("\n%s %s: %d tasks, %.1f MB on disk, %d upstream + %d held-out fonts, parameters %s, %.2f s\n",
               r.reused ? "reused" : "built", o.out_dir, r.ntasks, r.bytes / 1e6, r.nfonts_upstream,
               r.nfonts_heldout, r.hash, r.seconds);
    xf_ctx_free(ctx);
    return 0;
}

static int list(int argc, char **argv) {
    const char *dir = "data/corpus";
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(USAGE, stdout); return 0; }
        else return xf_cli_usage("data", "unknown or incomplete option '%s'", argv[i]);
    }
    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail("data", NULL);
    xf_corpus_report r;
    int built = xf_corpus_info(ctx, dir, &r) == XF_OK;
    if (built) print_table(&r, json, 1);
    else if (json) {
        printf("{\"built\": false, \"tasks\": [");
        for (int i = 0; i < xf_corpus_task_count(); i++)
            printf("%s{\"name\": \"%s\", \"about\": \"%s\"}", i ? ", " : "", xf_corpus_task_name(i), xf_corpus_task_about(i));
        printf("]}\n");
    } else {
        printf("%-15s %s\n", "task", "differs from the upstream by");
        for (int i = 0; i < xf_corpus_task_count(); i++)
            printf("%-15s %s\n", xf_corpus_task_name(i), xf_corpus_task_about(i));
        printf("\nnot built in %s: run 'xfer data build --out %s'\n", dir, dir);
    }
    xf_ctx_free(ctx);
    return 0;
}

int xf_cli_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "build")) return build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return list(argc - 1, argv + 1);
    return xf_cli_usage("data", "unknown subcommand '%s' (build, list)", argv[1]);
}
