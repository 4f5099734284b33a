/* The context: last error (status + one-line message + source location), settings
 * (threads, seed) and the log / progress callbacks. No global state: everything a call
 * needs is reached through the context it is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coreInt.h"
#include "xfer/files.h"

const char *xf_status_str(xf_status st) {
    switch (st) {
    case XF_OK: return "ok";
    case XF_ERR_NOMEM: return "out of memory";
    case XF_ERR_INVALID: return "invalid argument";
    case XF_ERR_IO: return "i/o error";
    case XF_ERR_FORMAT: return "malformed file";
    case XF_ERR_UNSUPPORTED: return "unsupported";
    case XF_ERR_NUMERIC: return "numerical error";
    case XF_ERR_SHAPE: return "shape mismatch";
    case XF_ERR_NOTFOUND: return "not found";
    case XF_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

xf_status xf_ctx_create(xf_ctx_t **out) {
    if (!out) return XF_ERR_INVALID;
    xf_ctx_t *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return XF_ERR_NOMEM;
    c->threads = 1;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) c->threads = (int)n;
    c->seed = 0;
    c->log_min = XF_LOG_WARN;
    return XF_OK;
}

void xf_ctx_free(xf_ctx_t *ctx) {
    if (!ctx) return;
    xf_out_abort(ctx); /* outputs of an unfinished group never appear */
    free(ctx);
}

const char *xf_errmsg(const xf_ctx_t *ctx) { return ctx ? ctx->msg : "no context"; }
const char *xf_errloc(const xf_ctx_t *ctx) { return ctx ? ctx->loc : ""; }
xf_status xf_last_status(const xf_ctx_t *ctx) { return ctx ? ctx->status : XF_ERR_INVALID; }

void xf_ctx_clear_error(xf_ctx_t *ctx) {
    if (!ctx) return;
    ctx->status = XF_OK;
    ctx->msg[0] = 0;
    ctx->loc[0] = 0;
}

xf_status xf_error_set(xf_ctx_t *ctx, xf_status st, const char *file, int line, const char *fmt, ...) {
    if (!ctx) return st;
    /* Keep the first (innermost) message of an out-of-memory cascade: the allocator
     * already wrote a precise one. */
    ctx->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    /* one line: replace newlines */
    for (char *p = ctx->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    const char *base = file ? strrchr(file, '/') : NULL;
    snprintf(ctx->loc, sizeof ctx->loc, "%s:%d", base ? base + 1 : (file ? file : "?"), line);
    return st;
}

void xf_error_prefix(xf_ctx_t *ctx, const char *prefix) {
    if (!ctx || !prefix || !*prefix) return;
    size_t lp = strlen(prefix);
    /* avoid doubling the same prefix */
    if (strncmp(ctx->msg, prefix, lp) == 0 && ctx->msg[lp] == ':') return;
    char tmp[XF_ERRMSG_MAX];
    snprintf(tmp, sizeof tmp, "%s: %s", prefix, ctx->msg);
    memcpy(ctx->msg, tmp, sizeof tmp);
}

void xf_ctx_set_threads(xf_ctx_t *ctx, int n) {
    if (!ctx) return;
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    ctx->threads = n;
}
int xf_ctx_threads(const xf_ctx_t *ctx) { return ctx ? ctx->threads : 1; }
void xf_ctx_set_seed(xf_ctx_t *ctx, uint64_t seed) { if (ctx) ctx->seed = seed; }
uint64_t xf_ctx_seed(const xf_ctx_t *ctx) { return ctx ? ctx->seed : 0; }

void xf_ctx_set_log(xf_ctx_t *ctx, xf_log_fn fn, void *user, xf_log_level min_level) {
    if (!ctx) return;
    ctx->log_fn = fn;
    ctx->log_user = user;
    ctx->log_min = min_level;
}

void xf_ctx_set_progress(xf_ctx_t *ctx, xf_progress_fn fn, void *user) {
    if (!ctx) return;
    ctx->prog_fn = fn;
    ctx->prog_user = user;
}

void xf_log(xf_ctx_t *ctx, xf_log_level level, const char *fmt, ...) {
    if (!ctx || !ctx->log_fn || level < ctx->log_min) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_user, level, buf);
}

void xf_progress(xf_ctx_t *ctx, const char *label, int64_t done, int64_t total) {
    if (ctx && ctx->prog_fn) ctx->prog_fn(ctx->prog_user, label, done, total);
}

/* A bar redrawn in place on a terminal; plain lines at each 10% step otherwise, so logs
 * of CI runs stay readable. State is per label; one progress stream at a time. */
void xf_progress_stderr(void *user, const char *label, int64_t done, int64_t total) {
    (void)user;
    static int last_decile = -1;
    static char last_label[64];
    static double t0;
    int tty = isatty(2);
    if (!label) label = "";
    if (strncmp(last_label, label, sizeof last_label - 1) != 0 || done == 0) {
        snprintf(last_label, sizeof last_label, "%s", label);
        last_decile = -1;
        t0 = xf_now();
    }
    double el = xf_now() - t0;
    if (total <= 0) {
        if (tty) fprintf(stderr, "\r%s: %lld", label, (long long)done);
        else fprintf(stderr, "%s: %lld\n", label, (long long)done);
        return;
    }
    int pct = (int)(100.0 * (double)done / (double)total);
    if (pct > 100) pct = 100;
    if (tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r%-20.20s [%s] %3d%% %lld/%lld %.1fs", label, bar, pct, (long long)done,
                (long long)total, el);
        if (done >= total) fputc('\n', stderr);
    } else {
        int dec = pct / 10;
        if (dec != last_decile) {
            last_decile = dec;
            fprintf(stderr, "%s: %d%% (%lld/%lld) %.1fs\n", label, pct, (long long)done, (long long)total, el);
        }
    }
    fflush(stderr);
}

double xf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *xf_version(void) { return "0.1.0"; }
