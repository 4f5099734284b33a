/* xfer: dispatch to one subcommand. Subcommands not linked into this build (weak
 * symbols left NULL) are reported as unavailable rather than failing the link, so each
 * subcommand can live in its own file and land on its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#pragma weak xf_cli_score
#pragma weak xf_cli_extract
#pragma weak xf_cli_data
#pragma weak xf_cli_train
#pragma weak xf_cli_features
#pragma weak xf_cli_finetune
#pragma weak xf_cli_bench
#pragma weak xf_cli_oracle
#pragma weak xf_cli_experts
#pragma weak xf_cli_bank
#pragma weak xf_cli_rank

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} subcmd;

static int version(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("xfer %s\n", xf_version());
    return 0;
}

int main(int argc, char **argv) {
    /* libgomp reads its wait settings once, when it loads. Its default (spin about 300,000
     * times before sleeping) makes the engine's OpenMP workers spin against OpenBLAS's
     * threads and whatever else runs on the machine (2 threads measured far slower than 1
     * on a loaded 2-core box); sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs a futex
     * wake-up per parallel region, thousands per training epoch (2 threads slower than 1
     * on an idle box: resnet fine-tune 2.72 s against 1.75 s with a bounded spin). So ask
     * for a short spin, GOMP_SPINCOUNT=30000 (tens of microseconds), by re-executing once,
     * unless the user chose a policy or a count. */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && !getenv("XF_NO_REEXEC")) {
        setenv("GOMP_SPINCOUNT", "30000", 1);
        setenv("XF_NO_REEXEC", "1", 1);
        execv("/proc/self/exe", argv); /* on failure, carry on as we are */
    }
    const subcmd cmds[] = {
        {"score", xf_cli_score, "score feature files with transferability estimators"},
        {"extract", xf_cli_extract, "run an ONNX model over images and save features"},
        {"data", xf_cli_data, "build the embedded corpus (xfer data build)"},
        {"train", xf_cli_train, "train a network on a dataset"},
        {"finetune", xf_cli_finetune, "give a pretrained ONNX model a new head and fine-tune it"},
        {"experts", xf_cli_experts, "expert models from the label hierarchy: build, select, export"},
        {"bank", xf_cli_bank, "describe, list and verify a folder of ONNX models (bank.json)"},
        {"rank", xf_cli_rank, "rank a bank of models for a labelled dataset (which model to fine-tune)"},
        {"features", xf_cli_features, "network-free baseline features (raw, pooled, PCA, random projections)"},
        {"bench", xf_cli_bench, "evaluate selection methods against an oracle (PARC's CSV formats)"},
        {"oracle", xf_cli_oracle, "fine-tune every (model, target) pair of a bank: the benchmark's ground truth"},
        {"version", version, "print the version"},
    };
    size_t n = sizeof cmds / sizeof *cmds;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        printf("usage: xfer <command> [options]\n\ncommands:\n");
        for (size_t i = 0; i < n; i++)
            if (cmds[i].fn) printf("  %-10s %s\n", cmds[i].name, cmds[i].help);
        printf("\n'xfer <command> --help' describes one command.\n");
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            if (!cmds[i].fn) {
                fprintf(stderr, "xfer: command '%s' is not available in this build\n", argv[1]);
                return 2;
            }
            int rc = cmds[i].fn(argc - 1, argv + 1);
            /* results that cannot be written are not results: `xfer score > /dev/full` fails */
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "xfer %s: standard output: write failed: %s\n", argv[1], strerror(errno));
                return rc ? rc : 1;
            }
            return rc;
        }
    fprintf(stderr, "xfer: unknown command '%s' (try 'xfer --help')\n", argv[1]);
    return 2;
}
