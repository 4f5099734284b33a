/* xfer finetune: give a pretrained ONNX model a new head and fine-tune it on a labelled
 * target set with the protocol of include/xfer/transfer.h (docs/FINETUNE.md).
 *
 *   xfer finetune --model M.onnx --data TRAIN [--data-labels Y.npy] [--test-data TEST
 *                 [--test-labels Y.npy]] [--mode full|head|adapters] [--lr 0.1,0.03,0.01]
 *                 [--epochs 10] [--steps N] [--batch 64] [--momentum 0.9] [--wd 0]
 *                 [--val-fraction 0.2] [--seed S] [--threads T] [--sweep parallel|serial] [data options]
 *                 [-o tuned.onnx] [--json]
 *
 * Images are decoded, resized to the model's input and normalised as `xfer extract`
 * does. Reads its options, loads, calls xf_finetune, prints; nothing else. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "xfer/data.h"
#include "xfer/onnx.h"
#include "xfer/files.h"
#include "xfer/transfer.h"

static const char *USAGE =
    "usage: xfer finetune --model M.onnx --data TRAIN [--data-labels Y.npy]\n"
    "                     [--test-data TEST [--test-labels Y.npy]] [--mode full|head|adapters]\n"
    "                     [--lr 0.1,0.03,0.01] [--epochs 10] [--steps N] [--batch 64]\n"
    "                     [--momentum 0.9] [--wd 0] [--val-fraction 0.2] [--seed S]\n"
    "                     [--threads T] [--sweep parallel|serial] [data options]\n"
    "                     [-o tuned.onnx] [--json]\n" XF_CLI_DATA_HELP
    "\n"
    "Replaces the model's classifier (its last Gemm/MatMul and what follows) by a new linear\n"
    "layer with one output per class and fine-tunes: SGD with momentum, cosine decay to 0, no\n"
    "augmentation. With several --lr, each trains on a class-stratified (1 - val-fraction)\n"
    "part of TRAIN and is scored on the rest; the best (ties: the first) is retrained on all of\n"
    "TRAIN and tested on TEST. Without --test-data, corpus:<task> is tested on its test split\n"
    "and other data report validation accuracy only. --test-data naming the same source as\n"
    "--data reads its test split.\n"
    "  --mode full      train everything (BatchNorm in training mode)\n"
    "         head      train the new layer only (frozen backbone: features computed once)\n"
    "         adapters  residual adapters before every stage + the new layer\n"
    "  --steps N        optimizer steps per run instead of --epochs\n"
    "  --sweep parallel with T >= 2 threads, sweep runs go side by side, one thread each\n"
    "                   (default; more memory); serial: one run at a time on T threads\n"
    "  -o tuned.onnx    the fine-tuned network (written to a temporary file, then renamed)\n"
    "  --json           one JSON object instead of the table\n";

/* "0.1,0.03,0.01": every value a positive finite number */

/* the model's name: the file name without its directory and .onnx */
static void model_name(const char *path, char *buf, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, cap, "%s", b);
    size_t l = strlen(buf);
    if (l > 5 && !strcmp(buf + l - 5, ".onnx")) buf[l - 5] = 0;
}

static void on_epoch(void *user, const xf_ft_epoch *e) {
    (void)user;
    fprintf(stderr, "xfer finetune: %s lr %g (run %d/%d), epoch %lld/%lld: loss %.4f, train %.1f%%, %.1f s\n",
            e->final ? "final" : "sweep", e->lr, e->run, e->runs, (long long)e->epoch, (long long)e->epochs, e->loss,
            e->train_acc, e->seconds);
}

static void print_num(double v, int valid) {
    if (valid && isfinite(v)) printf("%.4f", v);
    else printf("null");
}

int xf_cli_finetune(int argc, char **argv) {
    const char *cmd = "finetune", *model = NULL, *data = NULL, *test_data = NULL, *test_labels = NULL, *out = NULL;
    int json = 0;
    int64_t threads = 0;
    int ft;
    xf_ft_opts fo;
    xf_ft_opts_default(&fo);
    xf_data_opts dopt;
    xf_data_opts_default(&dopt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        int d = xf_cli_data_opt(cmd, argc, argv, &i, &dopt);
        if (d < 0) return 2;
        if (d > 0) continue;
        if (i + 1 >= argc) return xf_cli_usage(cmd, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--test-data")) test_data = v;
        else if (!strcmp(a, "--test-labels")) test_labels = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if ((ft = xf_cli_ft_opt(cmd, a, v, &fo)) != 0) {
            if (ft < 0) return 2;
        } else if (!strcmp(a, "--sweep")) {
            if (strcmp(v, "parallel") && strcmp(v, "serial"))
                return xf_cli_usage(cmd, "--sweep must be parallel or serial, got '%s'", v);
            fo.serial_sweep = !strcmp(v, "serial");
        } else if (!strcmp(a, "--threads")) {
            if (xf_cli_parse_i64(v, 0, 4096, &threads)) return xf_cli_usage(cmd, "--threads must be an integer >= 0, got '%s'", v);
        } else
            return xf_cli_usage(cmd, "unknown option '%s'", a);
    }
    if (!model) return xf_cli_usage(cmd, "--model is required");
    if (!data) return xf_cli_usage(cmd, "--data is required");
    if (test_labels && !test_data) return xf_cli_usage(cmd, "--test-labels needs --test-data");

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(cmd, NULL);
    if (threads > 0) xf_ctx_set_threads(ctx, (int)threads);
    /* one line per epoch on a terminal instead of the per-step progress bar */
    xf_ctx_set_progress(ctx, NULL, NULL);
    if (isatty(2)) fo.on_epoch = on_epoch;
    int rc = 1;
    xf_graph *g = NULL, *tuned = NULL;
    xf_dataset tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    char corpus_task[512];

    /* -o never replaces an input, and appears only when the run succeeded */
    if (out && (xf_out_begin(ctx) || xf_out_input(ctx, model) || xf_out_input(ctx, data) || xf_out_input(ctx, test_data) ||
                xf_out_input(ctx, test_labels) || xf_out_input(ctx, dopt.labels) || xf_out_claim(ctx, out)))
        goto fail;
    if (xf_onnx_import(ctx, model, &g) != XF_OK) goto fail;
    xf_data_opts o = dopt;
    if (xf_cli_fit_data_to_model(ctx, model, g, &o) || xf_data_open(ctx, data, &o, &tr)) goto fail;
    /* the test set: --test-data, or a corpus task's test split */
    const char *tsplit;
    const char *tspec = xf_cli_test_spec(data, test_data, corpus_task, sizeof corpus_task, &tsplit);
    xf_data_opts ot = o;
    ot.labels = test_labels;
    if (tsplit && !(test_data && test_labels)) ot.split = tsplit;
    if (tspec && xf_data_open(ctx, tspec, &ot, &te) != XF_OK) goto fail;

    xf_imageset trs = {tr.x, tr.y, tr.n, tr.c, tr.h, tr.w, tr.k};
    xf_imageset tes = {te.x, te.y, te.n, te.c, te.h, te.w, te.k};
    xf_ft_report rep;
    if (xf_finetune(ctx, g, &trs, tspec ? &tes : NULL, &fo, out ? &tuned : NULL, &rep) != XF_OK) {
        xf_error_prefix(ctx, model);
        goto fail;
    }
    if (out && (xf_onnx_export(ctx, tuned, out) != XF_OK || xf_out_commit(ctx) != XF_OK)) goto fail;
    struct rusage ru;
    double rss_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0;
    char name[256];
    model_name(model, name, sizeof name);
    if (json) {
        printf("{\"model\": ");
        xf_cli_json_str(stdout, name);
        printf(", \"mode\": \"%s\", \"classes\": %lld, \"train_images\": %lld, \"val_images\": %lld, \"test_images\": %lld",
               xf_ft_mode_name(fo.mode), (long long)rep.classes, (long long)rep.train_images, (long long)rep.val_images,
               (long long)rep.test_images);
        printf(", \"best_lr\": %g, \"val_accuracy\": {", rep.best_lr);
        for (int r = 0; r < rep.n_lrs && rep.n_lrs > 1; r++) {
            printf("%s\"%g\": ", r ? ", " : "", rep.lrs[r]);
            print_num(rep.val_acc[r], rep.val_acc[r] >= 0);
        }
        printf("}, \"train_accuracy\": ");
        print_num(rep.train_acc, 1);
        printf(", \"test_accuracy\": ");
        print_num(rep.test_acc, rep.test_acc >= 0);
        printf(", \"epochs\": %lld, \"steps\": %lld, \"batch\": %lld, \"params\": %lld, \"params_trained\": %lld, "
               "\"adapters\": %d, \"seconds\": %.3f, \"images_per_second\": %.1f, \"peak_rss_mb\": %.1f, \"threads\": %d",
               (long long)fo.epochs, (long long)rep.steps, (long long)fo.batch, (long long)rep.params,
               (long long)rep.params_trained, rep.adapters, rep.seconds, rep.images_per_second, rss_mb, xf_ctx_threads(ctx));
        if (out) {
            printf(", \"output\": ");
            xf_cli_json_str(stdout, out);
        }
        printf("}\n");
    } else {
        printf("model %s, mode %s, %lld classes, %lld training images", name, xf_ft_mode_name(fo.mode), (long long)rep.classes,
               (long long)rep.train_images);
        if (rep.adapters) printf(", %d adapters", rep.adapters);
        printf(", %lld of %lld parameters trained\n", (long long)rep.params_trained, (long long)rep.params);
        if (rep.n_lrs > 1) {
            printf("%-10s %s\n", "lr", "validation accuracy (%)");
            for (int r = 0; r < rep.n_lrs; r++)
                printf("%-10g %6.2f%s\n", rep.lrs[r], rep.val_acc[r], r == rep.best ? "  <- best" : "");
        }
        printf("best lr %g: train accuracy %.2f%%", rep.best_lr, rep.train_acc);
        if (rep.test_acc >= 0) printf(", test accuracy %.2f%% (%lld images)", rep.test_acc, (long long)rep.test_images);
        printf("\n%.2f s, %.0f images/s, %lld steps, peak RSS %.0f MB%s%s\n", rep.seconds, rep.images_per_second,
               (long long)rep.steps, rss_mb, out ? ", written to " : "", out ? out : "");
    }
    rc = 0;
fail:
    if (rc) xf_cli_fail(cmd, ctx);
    xf_dataset_free(ctx, &tr);
    xf_dataset_free(ctx, &te);
    xf_graph_free(tuned);
    xf_graph_free(g);
    xf_ctx_free(ctx);
    return rc;
}
