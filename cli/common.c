/* Helpers shared by the subcommands: error lines, usage errors, the context setup. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfer/data.h"
#include "xfer/transfer.h"

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

int xf_cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int xf_cli_parse_f64(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

xf_status xf_cli_fit_data_to_model(xf_ctx_t *ctx, const char *model, const xf_graph *g, struct xf_data_opts *o) {
    const xf_value *in = &g->values[g->input];
    if (in->ndim != 4 || (in->shape[1] != 1 && in->shape[1] != 3) || in->shape[2] < 1 || in->shape[3] < 1)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input is not (N, 1|3, H, W) images: give images as a .npy", model);
    if (!o->channels) o->channels = (int)in->shape[1];
    if (!o->height) o->height = (int)in->shape[2];
    if (!o->width) o->width = (int)in->shape[3];
    return XF_OK;
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

int xf_cli_parse_norm(const char *s, float v[3], int is_std) {
    double d[3];
    int n = 0;
    const char *p = s;
    while (n < 3) {
        char *end;
        errno = 0;
        d[n] = strtod(p, &end);
        if (errno || end == p || !isfinite(d[n]) || fabs(d[n]) > XF_NORM_MAX || (is_std && !(d[n] >= XF_NORM_STD_MIN)))
            return -1;
        n++;
        if (*end == 0) break;
        if (*end != ',' || n == 3) return -1;
        p = end + 1;
    }
    if (n == 2) return -1; /* one value for every channel, or one per channel */
    for (int k = 0; k < 3; k++) v[k] = (float)d[n == 1 ? 0 : k];
    return 0;
}

int xf_cli_data_opt(const char *cmd, int argc, char **argv, int *i, struct xf_data_opts *o) {
    const char *a = argv[*i];
    if (!strcmp(a, "--skip-bad")) { o->skip_bad = 1; return 1; }
    static const char *const with_value[] = {"--split", "--size", "--resize", "--channels", "--mean",
                                             "--std", "--data-labels", "--corpus-dir", "--max-bytes", NULL};
    int k = 0;
    while (with_value[k] && strcmp(a, with_value[k])) k++;
    if (!with_value[k]) return 0;
    if (*i + 1 >= argc) { xf_cli_usage(cmd, "%s needs a value", a); return -1; }
    const char *v = argv[++*i];
    char *end;
    switch (k) {
    case 0: o->split = v; break;
    case 1: {
        long h = strtol(v, &end, 10), w = h;
        if (*end == 'x') w = strtol(end + 1, &end, 10);
        if (*end || h < 1 || w < 1 || h > 65536 || w > 65536) { xf_cli_usage(cmd, "--size: '%s' is not H or HxW", v); return -1; }
        o->height = (int)h;
        o->width = (int)w;
        break;
    }
    case 2:
        if (!strcmp(v, "stretch")) o->resize = XF_RESIZE_STRETCH;
        else {
            long r = strtol(v, &end, 10);
            if (*end || r < 1 || r > 65536) { xf_cli_usage(cmd, "--resize: '%s' is not a size or 'stretch'", v); return -1; }
            o->resize = (int)r;
        }
        break;
    case 3:
        if (strcmp(v, "1") && strcmp(v, "3")) { xf_cli_usage(cmd, "--channels: '%s' must be 1 or 3", v); return -1; }
        o->channels = atoi(v);
        break;
    case 4:
    case 5:
        if (xf_cli_parse_norm(v, k == 4 ? o->mean : o->std, k == 5)) {
            xf_cli_usage(cmd, "%s: '%s' must be 1 or 3 comma-separated numbers (one for every channel, or one per channel)%s",
                         a, v, k == 5 ? " in [1e-6, 1e6]" : " in [-1e6, 1e6]");
            return -1;
        }
        break;
    case 6: o->labels = v; break;
    case 7: o->corpus_dir = v; break;
    case 8: {
        int64_t mb;
        if (xf_cli_parse_i64(v, 1, INT64_MAX, &mb)) { xf_cli_usage(cmd, "--max-bytes: '%s' is not a byte count >= 1", v); return -1; }
        o->max_bytes = mb;
        break;
    }
    }
    return 1;
}

/* "a,b,c": 1 to XF_FT_MAX_LRS positive finite numbers. */
static int parse_lrs(const char *s, double *lrs, int *n) {
    *n = 0;
    const char *p = s;
    while (*p) {
        if (*n == XF_FT_MAX_LRS) return -1;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || !(v > 0)) return -1;
        lrs[(*n)++] = v;
        if (*end == ',') {
            p = end + 1;
            if (!*p) return -1;
        } else if (*end) return -1;
        else p = end;
    }
    return *n > 0 ? 0 : -1;
}

int xf_cli_ft_opt(const char *cmd, const char *a, const char *v, struct xf_ft_opts *o) {
    double f;
    int64_t i;
    if (!strcmp(a, "--mode")) {
        if (xf_ft_mode_parse(v, &o->mode)) return xf_cli_usage(cmd, "--mode must be full, head or adapters, got '%s'", v), -1;
    } else if (!strcmp(a, "--lr")) {
        if (parse_lrs(v, o->lrs, &o->n_lrs))
            return xf_cli_usage(cmd, "--lr takes 1 to %d comma-separated positive numbers, got '%s'", XF_FT_MAX_LRS, v), -1;
    } else if (!strcmp(a, "--epochs")) {
        if (xf_cli_parse_i64(v, 1, 1000000, &o->epochs)) return xf_cli_usage(cmd, "--epochs must be an integer >= 1, got '%s'", v), -1;
    } else if (!strcmp(a, "--steps")) {
        if (xf_cli_parse_i64(v, 1, INT64_MAX / 4, &o->steps)) return xf_cli_usage(cmd, "--steps must be an integer >= 1, got '%s'", v), -1;
    } else if (!strcmp(a, "--batch")) {
        if (xf_cli_parse_i64(v, 2, 1 << 20, &o->batch)) return xf_cli_usage(cmd, "--batch must be an integer >= 2, got '%s'", v), -1;
    } else if (!strcmp(a, "--momentum")) {
        if (xf_cli_parse_f64(v, &f) || !(f >= 0 && f < 1)) return xf_cli_usage(cmd, "--momentum must lie in [0, 1), got '%s'", v), -1;
        o->momentum = f;
    } else if (!strcmp(a, "--wd")) {
        if (xf_cli_parse_f64(v, &f) || !(f >= 0)) return xf_cli_usage(cmd, "--wd must be a number >= 0, got '%s'", v), -1;
        o->weight_decay = f;
    } else if (!strcmp(a, "--val-fraction")) {
        if (xf_cli_parse_f64(v, &f) || !(f > 0 && f < 1)) return xf_cli_usage(cmd, "--val-fraction must lie in (0, 1), got '%s'", v), -1;
        o->val_fraction = f;
    } else if (!strcmp(a, "--seed")) {
        if (xf_cli_parse_i64(v, 0, INT64_MAX, &i)) return xf_cli_usage(cmd, "--seed must be an integer >= 0, got '%s'", v), -1;
        o->seed = (uint64_t)i;
    } else
        return 0;
    return 1;
}

const char *xf_cli_test_spec(const char *data, const char *test_data, char *buf, size_t cap, const char **split) {
    *split = NULL;
    if (test_data) {
        if (!strcmp(test_data, data)) *split = "test"; /* the same source: its test split */
        return test_data;
    }
    if (strncmp(data, "corpus:", 7) || cap < 16) return NULL;
    const char *task = data + 7, *colon = strchr(task, ':');
    size_t l = colon ? (size_t)(colon - task) : strlen(task);
    if (l > cap - 8) l = cap - 8;
    snprintf(buf, cap, "corpus:%.*s", (int)l, task);
    *split = "test";
    return buf;
}

void xf_cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void xf_cli_csv_str(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
