/* bench/csv: the CSV dialect of PARC's tables (benchmark.h): RFC 4180 records (quoted
 * fields with "" for a quote and line ends inside quotes), CRLF or LF line ends, an
 * optional UTF-8 byte-order mark, blank lines skipped, spaces around unquoted fields
 * trimmed (a key " resnet50" must not silently miss "resnet50"). Every error names
 * file:line; NUL bytes are refused (binary data is not a CSV). Also the string map used
 * for joins and duplicate checks. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/benchInt.h"

#define CSV_MAX_BYTES ((size_t)1 << 30)
#define CSV_MAX_FIELDS 1000000

void xf_bench_strs_free(xf_ctx_t *ctx, char **s, int64_t n) {
    if (!s) return;
    for (int64_t i = 0; i < n; i++) xf_free(ctx, s[i]);
    xf_free(ctx, s);
}

xf_status xf_bench_file_read(xf_ctx_t *ctx, const char *path, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xf_malloc(ctx, cap);
    if (!buf) {
        fclose(f);
        return XF_ERR_NOMEM;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= CSV_MAX_BYTES) {
                xf_free(ctx, buf);
                fclose(f);
                return XF_ERR(ctx, XF_ERR_FORMAT, "%s: larger than %zu bytes", path, (size_t)CSV_MAX_BYTES);
            }
            char *nb = xf_realloc(ctx, buf, cap * 2);
            if (!nb) {
                xf_free(ctx, buf);
                fclose(f);
                return XF_ERR_NOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        xf_free(ctx, buf);
        return XF_ERR(ctx, XF_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return XF_OK;
}

void xf_bench_csv_init(bench_csv *c, xf_ctx_t *ctx, const void *data, size_t size, const char *name) {
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->name = name;
    c->p = data;
    c->end = c->p + size;
    c->line = 1;
    if (size >= 3 && c->p[0] == 0xEF && c->p[1] == 0xBB && c->p[2] == 0xBF) c->p += 3; /* UTF-8 BOM */
}

void xf_bench_csv_free(bench_csv *c) {
    xf_free(c->ctx, c->buf);
    xf_free(c->ctx, c->off);
    xf_free(c->ctx, c->f);
    memset(c, 0, sizeof *c);
}

static int put_char(bench_csv *c, char ch) {
    if (c->blen + 1 >= c->bcap) {
        size_t nc = c->bcap ? c->bcap * 2 : 256;
        char *nb = xf_realloc(c->ctx, c->buf, nc);
        if (!nb) return XF_ERR_NOMEM;
        c->buf = nb;
        c->bcap = nc;
    }
    c->buf[c->blen++] = ch;
    return 0;
}

static int begin_field(bench_csv *c) {
    if (c->nf >= CSV_MAX_FIELDS)
        return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: more than %d fields", c->name, (long long)c->rec_line,
                      CSV_MAX_FIELDS);
    if (c->nf == c->fcap) {
        int64_t nc = c->fcap ? c->fcap * 2 : 16;
        size_t *no = xf_realloc(c->ctx, c->off, sizeof(size_t) * (size_t)nc);
        if (!no) return XF_ERR_NOMEM;
        c->off = no;
        char **nf = xf_realloc(c->ctx, c->f, sizeof(char *) * (size_t)nc);
        if (!nf) return XF_ERR_NOMEM;
        c->f = nf;
        c->fcap = nc;
    }
    c->off[c->nf++] = c->blen;
    return 0;
}

/* Ends the current field: unquoted fields lose the spaces and tabs at both ends. */
static int end_field(bench_csv *c, int quoted) {
    if (!quoted) {
        size_t s = c->off[c->nf - 1];
        while (c->blen > s && (c->buf[c->blen - 1] == ' ' || c->buf[c->blen - 1] == '\t')) c->blen--;
        size_t lead = 0;
        while (s + lead < c->blen && (c->buf[s + lead] == ' ' || c->buf[s + lead] == '\t')) lead++;
        if (lead) {
            memmove(c->buf + s, c->buf + s + lead, c->blen - s - lead);
            c->blen -= lead;
        }
    }
    return put_char(c, 0);
}

int xf_bench_csv_next(bench_csv *c) {
    int st;
    for (;;) { /* one record per pass; blank lines are skipped */
        if (c->p >= c->end) return 0;
        c->blen = 0;
        c->nf = 0;
        c->rec_line = c->line;
        int quoted_any = 0;
        if ((st = begin_field(c))) return st;
        int quoted = 0, in_quotes = 0, after_quote = 0;
        for (;;) {
            if (c->p >= c->end) {
                if (in_quotes)
                    return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: unterminated quoted field", c->name,
                                  (long long)c->rec_line);
                break;
            }
            unsigned char ch = *c->p++;
            if (ch == 0)
                return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: NUL byte (binary data, not a CSV)", c->name,
                              (long long)c->line);
            if (in_quotes) {
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') {
                        c->p++;
                        if ((st = put_char(c, '"'))) return st;
                    } else {
                        in_quotes = 0;
                        after_quote = 1;
                    }
                    continue;
                }
                if (ch == '\n') c->line++;
                if ((st = put_char(c, (char)ch))) return st;
                continue;
            }
            if (ch == '\r' || ch == '\n') {
                if (ch == '\r' && c->p < c->end && *c->p == '\n') c->p++;
                c->line++;
                break;
            }
            if (ch == ',') {
                if ((st = end_field(c, quoted))) return st;
                if ((st = begin_field(c))) return st;
                quoted = after_quote = 0;
                continue;
            }
            if (after_quote) {
                if (ch == ' ' || ch == '\t') continue;
                return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: text after a closing quote", c->name,
                              (long long)c->line);
            }
            if (ch == '"') {
                /* a quote opens a quoted field only at its start (after optional spaces) */
                size_t s = c->off[c->nf - 1];
                int blank = 1;
                for (size_t k = s; k < c->blen; k++)
                    if (c->buf[k] != ' ' && c->buf[k] != '\t') blank = 0;
                if (blank) {
                    c->blen = s;
                    in_quotes = quoted = quoted_any = 1;
                    continue;
                }
            }
            if ((st = put_char(c, (char)ch))) return st;
        }
        if ((st = end_field(c, quoted))) return st;
        if (c->nf == 1 && !quoted_any && c->buf[c->off[0]] == 0) continue; /* blank line */
        for (int64_t i = 0; i < c->nf; i++) c->f[i] = c->buf + c->off[i];
        return 1;
    }
}

void xf_bench_csv_put(FILE *f, const char *s) {
    size_t n = strlen(s);
    int q = n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    for (const char *p = s; *p && !q; p++) q = *p == ',' || *p == '"' || *p == '\r' || *p == '\n';
    if (!q) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

void xf_bench_fmt_num(char *buf, size_t cap, double v) {
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

int xf_bench_parse_cell(const char *s, double *v) {
    /* pandas' default missing-value words (read_csv na_values) */
    static const char *na[] = {"", "nan", "NaN", "-nan", "-NaN", "NA", "N/A", "n/a", "NULL", "null", "None",
                               "<NA>", "#N/A", "#NA", "1.#IND", "1.#QNAN", "-1.#IND", "-1.#QNAN", "#N/A N/A"};
    for (size_t i = 0; i < sizeof na / sizeof *na; i++)
        if (!strcmp(s, na[i])) {
            *v = NAN;
            return 0;
        }
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return -1;
    if (isnan(d)) d = NAN; /* one NaN, whatever its sign or payload */
    *v = d;
    return 0;
}

/* ---- map ---- */

void xf_bench_map_init(bench_map *m, xf_ctx_t *ctx) {
    memset(m, 0, sizeof *m);
    m->ctx = ctx;
}

void xf_bench_map_free(bench_map *m) {
    for (int64_t i = 0; i < m->cap; i++) xf_free(m->ctx, m->key[i]);
    xf_free(m->ctx, m->key);
    xf_free(m->ctx, m->val);
    m->key = NULL;
    m->val = NULL;
    m->n = m->cap = 0;
}

int64_t xf_bench_map_get(const bench_map *m, const char *key) {
    if (!m->cap) return -1;
    for (uint64_t i = xf_fnv1a_str(key) & (uint64_t)(m->cap - 1);; i = (i + 1) & (uint64_t)(m->cap - 1)) {
        if (!m->key[i]) return -1;
        if (!strcmp(m->key[i], key)) return m->val[i];
    }
}

xf_status xf_bench_map_put(bench_map *m, const char *key, int64_t val, int64_t *old) {
    if (old) *old = -1;
    if (2 * (m->n + 1) > m->cap) { /* keep the load under 1/2 */
        int64_t nc = m->cap ? m->cap * 2 : 64;
        char **nk = xf_calloc(m->ctx, (size_t)nc, sizeof(char *));
        int64_t *nv = xf_calloc(m->ctx, (size_t)nc, sizeof(int64_t));
        if (!nk || !nv) {
            xf_free(m->ctx, nk);
            xf_free(m->ctx, nv);
            return XF_ERR_NOMEM;
        }
        for (int64_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                uint64_t j = xf_fnv1a_str(m->key[i]) & (uint64_t)(nc - 1);
                while (nk[j]) j = (j + 1) & (uint64_t)(nc - 1);
                nk[j] = m->key[i];
                nv[j] = m->val[i];
            }
        xf_free(m->ctx, m->key);
        xf_free(m->ctx, m->val);
        m->key = nk;
        m->val = nv;
        m->cap = nc;
    }
    uint64_t i = xf_fnv1a_str(key) & (uint64_t)(m->cap - 1);
    for (; m->key[i]; i = (i + 1) & (uint64_t)(m->cap - 1))
        if (!strcmp(m->key[i], key)) {
            if (old) *old = m->val[i];
            return XF_OK;
        }
    if (!(m->key[i] = xf_strdup(m->ctx, key))) return XF_ERR_NOMEM;
    m->val[i] = val;
    m->n++;
    return XF_OK;
}

const char *xf_bench_key(char *buf, size_t cap, const char *a, const char *b, const char *c, const char *d) {
    int n = snprintf(buf, cap, "%s\x1f%s\x1f%s\x1f%s", a ? a : "", b ? b : "", c ? c : "", d ? d : "");
    return n < 0 || (size_t)n >= cap ? NULL : buf;
}
