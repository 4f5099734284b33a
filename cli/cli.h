/* The xfer command-line tool: one file per subcommand, built only on the public headers.
 * Each subcommand is `int xf_cli_<name>(int argc, char **argv)` with argv[0] the
 * subcommand name; it returns the process exit code (0 ok, 1 error, 2 usage). */
#ifndef XFER_CLI_H
#define XFER_CLI_H
#include "xfer/xfer.h"

int xf_cli_score(int argc, char **argv);
int xf_cli_extract(int argc, char **argv);
int xf_cli_data(int argc, char **argv);
int xf_cli_train(int argc, char **argv);
int xf_cli_features(int argc, char **argv);

/* shared helpers (cli/common.c) */
/* Prints "xfer <cmd>: <message>" on one line to stderr and returns 1. */
int xf_cli_fail(const char *cmd, xf_ctx_t *ctx);
int xf_cli_usage(const char *cmd, const char *fmt, ...);
/* Creates a context with stderr logging and the stderr progress reporter. */
xf_ctx_t *xf_cli_ctx(void);
#endif
