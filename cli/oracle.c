/* xfer oracle: the ground truth of a selection benchmark: fine-tune every (model,
 * target) pair of a bank and write PARC's oracle CSV (docs/SELECTION_BENCHMARK.md).
 *
 *   xfer oracle --bank BANK --targets SPEC[,SPEC...] --out oracle.csv [--jobs J]
 *               [--threads T] [--headonly] [protocol options] [--corpus-dir DIR]
 *
 * Reads its options, makes the plan (xf_oracle_plan_create), runs the pairs not yet done
 * in J worker processes (xf_oracle_run) and writes the CSVs (xf_oracle_write). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "xfer/benchmark.h"
#include "xfer/data.h"
#include "xfer/transfer.h"

static const char *USAGE =
    "usage: xfer oracle --bank BANK --targets SPEC[,SPEC...] --out oracle.csv [--jobs J]\n"
    "                   [--threads T] [--headonly] [--mode full|head|adapters]\n"
    "                   [--lr 0.1,0.03,0.01] [--epochs 10] [--steps N] [--batch 64]\n"
    "                   [--momentum 0.9] [--wd 0] [--val-fraction 0.2] [--seed S]\n"
    "                   [--corpus-dir DIR] [--resize R|stretch] [--skip-bad]\n"
    "\n"
    "Fine-tunes every model of BANK (a folder with bank.json) on every target with the\n"
    "protocol of 'xfer finetune' and writes oracle.csv (Architecture,Source Dataset,Target\n"
    "Dataset,Oracle: the bank entry's architecture and name, the target's name, the test\n"
    "accuracy in %), oracle.details.csv (learning rates, validation/train/test accuracy,\n"
    "seconds) and with --headonly oracle.headonly.csv (the linear probe's test accuracy).\n"
    "  SPEC          [NAME=]TRAIN[@TEST]: data specs as for --data; without @TEST, corpus:<task>\n"
    "                is tested on its test split, anything else on the split 'test' of TRAIN\n"
    "  --jobs J      fine-tune J pairs at a time in separate processes (each with T threads)\n"
    "Images are sized and normalised for each model as its bank entry says. Each finished\n"
    "pair is recorded in oracle.csv.state/; a killed run, rerun with the same options,\n"
    "skips the pairs already done and writes the same oracle.csv.\n";


int xf_cli_oracle(int argc, char **argv) {
    const char *cmd = "oracle", *bank = NULL, *targets = NULL, *out = NULL;
    int64_t jobs = 1, threads = 0, resize = 0;
    int ft;
    int headonly = 0;
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
        if (!strcmp(a, "--headonly")) {
            headonly = 1;
            continue;
        }
        if (!strcmp(a, "--skip-bad")) {
            dopt.skip_bad = 1;
            continue;
        }
        if (i + 1 >= argc) return xf_cli_usage(cmd, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--bank")) bank = v;
        else if (!strcmp(a, "--targets")) targets = v;
        else if (!strcmp(a, "--out") || !strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--corpus-dir")) dopt.corpus_dir = v;
        else if (!strcmp(a, "--resize")) {
            if (!strcmp(v, "stretch")) dopt.resize = XF_RESIZE_STRETCH;
            else if (xf_cli_parse_i64(v, 1, 1 << 16, &resize))
                return xf_cli_usage(cmd, "--resize must be a size >= 1 or 'stretch', got '%s'", v);
            else dopt.resize = (int)resize;
        } else if (!strcmp(a, "--jobs")) {
            if (xf_cli_parse_i64(v, 1, 1024, &jobs)) return xf_cli_usage(cmd, "--jobs must be an integer in 1..1024, got '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            if (xf_cli_parse_i64(v, 0, 4096, &threads)) return xf_cli_usage(cmd, "--threads must be an integer >= 0, got '%s'", v);
        } else if ((ft = xf_cli_ft_opt(cmd, a, v, &fo)) != 0) {
            if (ft < 0) return 2;
        } else
            return xf_cli_usage(cmd, "unknown option '%s'", a);
    }
    if (!bank) return xf_cli_usage(cmd, "--bank is required");
    if (!targets) return xf_cli_usage(cmd, "--targets is required");
    if (!out) return xf_cli_usage(cmd, "--out is required");

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(cmd, NULL);
    if (threads > 0) xf_ctx_set_threads(ctx, (int)threads);
    xf_ctx_set_progress(ctx, NULL, NULL);
    int rc = 1;
    int64_t T = 1;
    for (const char *p = targets; *p; p++) T += *p == ',';
    xf_oracle_target *tg = xf_calloc(ctx, (size_t)T, sizeof *tg);
    xf_oracle_plan_t *plan = NULL;
    char *list = NULL;
    if (!tg || !(list = xf_malloc(ctx, strlen(targets) + 1))) goto fail;
    strcpy(list, targets);
    int64_t k = 0;
    for (char *s = list, *e; k < T; s = e + 1, k++) {
        e = strchr(s, ',');
        if (e) *e = 0;
        else e = s + strlen(s);
        if (xf_oracle_target_parse(ctx, s, &tg[k]) != XF_OK) {
            xf_error_prefix(ctx, "--targets");
            goto fail;
        }
    }
    if (xf_oracle_plan_create(ctx, bank, tg, T, &fo, &dopt, headonly, out, &plan) != XF_OK) goto fail;
    int64_t P = xf_oracle_plan_pairs(plan), done = xf_oracle_plan_done(plan);
    fprintf(stderr, "xfer oracle: %lld pairs (%lld models x %lld targets), %lld already done\n", (long long)P,
            (long long)(P / T), (long long)T, (long long)done);
    if (done < P) {
        if (jobs <= 1) {
            if (xf_oracle_run(ctx, plan, 0, 1) != XF_OK) goto fail;
        } else {
            /* workers as processes: pair i goes to worker i % jobs; each records its pairs */
            fflush(NULL);
            pid_t *pid = xf_calloc(ctx, (size_t)jobs, sizeof(pid_t));
            if (!pid) goto fail;
            int failed = 0;
            for (int w = 0; w < jobs; w++) {
                pid[w] = fork();
                if (pid[w] == 0) {
                    int crc = xf_oracle_run(ctx, plan, w, (int)jobs) == XF_OK ? 0 : xf_cli_fail(cmd, ctx);
                    fflush(NULL);
                    _exit(crc);
                }
                if (pid[w] < 0) {
                    XF_ERR(ctx, XF_ERR_IO, "cannot start worker %d: %s", w, strerror(errno));
                    failed = 1;
                    break;
                }
            }
            for (int w = 0; w < jobs; w++) {
                int status;
                if (pid[w] <= 0) continue;
                if (failed) kill(pid[w], SIGTERM);
                while (waitpid(pid[w], &status, 0) < 0 && errno == EINTR) {}
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                    if (!failed) /* a worker that exits with an error has printed it */
                        failed = WIFEXITED(status) ? 2 : (XF_ERR(ctx, XF_ERR_INTERNAL, "worker %d of %lld was killed by signal %d",
                                                                 w, (long long)jobs, WTERMSIG(status)), 1);
                }
            }
            xf_free(ctx, pid);
            if (failed == 2) {
                rc = 1; /* nothing more to say */
                goto done;
            }
            if (failed) goto fail;
        }
    }
    if (xf_oracle_write(ctx, plan) != XF_OK) goto fail;
    printf("wrote %s (%lld pairs)\n", out, (long long)P);
    rc = 0;
fail:
    if (rc) xf_cli_fail(cmd, ctx);
done:
    xf_oracle_plan_free(plan);
    for (int64_t i = 0; tg && i < T; i++) xf_oracle_target_free(ctx, &tg[i]);
    xf_free(ctx, tg);
    xf_free(ctx, list);
    xf_ctx_free(ctx);
    return rc;
}
