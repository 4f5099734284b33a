/* The xfer command-line tool: one file per subcommand, built only on the public headers.
 * Each subcommand is `int xf_cli_<name>(int argc, char **argv)` with argv[0] the
 * subcommand name; it returns the process exit code (0 ok, 1 error, 2 usage). */
#ifndef XFER_CLI_H
#define XFER_CLI_H
#include <stdio.h>

#include "xfer/xfer.h"

int xf_cli_score(int argc, char **argv);
int xf_cli_extract(int argc, char **argv);
int xf_cli_data(int argc, char **argv);
int xf_cli_train(int argc, char **argv);
int xf_cli_features(int argc, char **argv);
int xf_cli_finetune(int argc, char **argv);
int xf_cli_bench(int argc, char **argv);
int xf_cli_oracle(int argc, char **argv);
int xf_cli_experts(int argc, char **argv);
int xf_cli_bank(int argc, char **argv);
int xf_cli_rank(int argc, char **argv);

/* shared helpers (cli/common.c) */
/* Prints "xfer <cmd>: <message>" on one line to stderr and returns 1. */
int xf_cli_fail(const char *cmd, xf_ctx_t *ctx);
int xf_cli_usage(const char *cmd, const char *fmt, ...);
/* Whole-string numbers: an integer in [lo, hi], or a finite double; 0 ok, -1 otherwise. */
int xf_cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
int xf_cli_parse_f64(const char *s, double *out);
/* --mean / --std values: "a" (every channel) or "a,b,c", each finite with |x| <= 1e6, and
 * for a std (is_std) at least 1e-6; into v[3]. 0 ok, -1 otherwise. */
int xf_cli_parse_norm(const char *s, float v[3], int is_std);
/* Data options shared by every command that takes --data SPEC (docs/DATA_ARGUMENT.md):
 *   --split S  --size H[xW]  --resize R|stretch  --channels 1|3  --mean a[,b,c]
 *   --std a[,b,c]  --data-labels FILE  --corpus-dir DIR  --skip-bad  --max-bytes B
 * If argv[*i] is one of them, consumes it (and its value), fills o and returns 1; returns
 * 0 if it is not a data option, -1 (after printing a usage error) if its value is bad. */
struct xf_data_opts;
int xf_cli_data_opt(const char *cmd, int argc, char **argv, int *i, struct xf_data_opts *o);
#define XF_CLI_DATA_HELP \
    "data options: --split train|test  --size H[xW]  --resize R|stretch  --channels 1|3\n" \
    "              --mean a[,b,c]  --std a[,b,c]  --data-labels FILE  --corpus-dir DIR  --skip-bad\n" \
    "              --max-bytes B (limit on an IDX file loaded whole; default 2 GiB)\n"
/* Images for a model: checks that its input is (N, 1|3, H, W) and fills the channels and
 * size of o that the user left at 0 from it (images are then resized to the model). */
xf_status xf_cli_fit_data_to_model(xf_ctx_t *ctx, const char *model, const xf_graph *g, struct xf_data_opts *o);
/* The fine-tuning protocol options shared by `finetune` and `oracle` (docs/FINETUNE.md):
 *   --mode full|head|adapters  --lr a,b,...  --epochs E  --steps N  --batch B
 *   --momentum M  --wd W  --val-fraction F  --seed S
 * If a (with value v) is one of them, fills o and returns 1; returns 0 if it is not one,
 * -1 (after printing a usage error) if v is bad. */
struct xf_ft_opts;
int xf_cli_ft_opt(const char *cmd, const char *a, const char *v, struct xf_ft_opts *o);
/* The test set of a fine-tuning run: test_data when given; else for corpus:<task>[:split]
 * the task's test split (buf receives "corpus:<task>", *split "test"); else NULL. */
const char *xf_cli_test_spec(const char *data, const char *test_data, char *buf, size_t cap, const char **split);
/* A string as a JSON string literal: quotes and backslashes escaped, control characters
 * as \u00XX (bytes >= 0x80 pass through, so UTF-8 stays UTF-8). */
void xf_cli_json_str(FILE *f, const char *s);
/* A CSV field as RFC 4180 writes it: quoted (quotes doubled) when it holds a comma, a
 * quote or a line break, so that a model name cannot add columns or rows. */
void xf_cli_csv_str(FILE *f, const char *s);
/* Creates a context with stderr logging and the stderr progress reporter. */
xf_ctx_t *xf_cli_ctx(void);
#endif
