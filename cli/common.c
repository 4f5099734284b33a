/* Helpers shared by the subcommands: error lines, usage errors, the context setup. */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

int xf_cli_fail(const char *cmd, xf_ctx_t *ctx) {
    fprintf(stderr, "xfer %s: %s\n", cmd, ctx ? xf_errmsg(ctx) : "out of memory");
    return 1;
}

int xf_cli_usage(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "xfer %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'xfer %s --help')\n", cmd);
    return 2;
}

static void log_stderr(void *user, xf_log_level level, const char *msg) {
    (void)user;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "xfer: %s: %s\n", names[level & 3], msg);
}

xf_ctx_t *xf_cli_ctx(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return NULL;
    xf_ctx_set_log(ctx, log_stderr, NULL, XF_LOG_WARN);
    xf_ctx_set_progress(ctx, xf_progress_stderr, NULL);
    return ctx;
}
