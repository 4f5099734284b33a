/* bench/tables: PARC's oracle and results tables and the layer-count table, read and
 * written in the CSV dialect of csv.c. Columns are found by their header names
 * (Architecture, Source Dataset, Target Dataset, Oracle / Run / Layers); in a results
 * file every column after the first four is a method, as PARC's MetricEval takes
 * columns[4:]. Keys are checked as they come: empty keys, duplicate pairs and text in a
 * number column are errors naming file:line, so that a join can never silently pair the
 * wrong rows. Writers write path.tmp and rename it into place. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/benchInt.h"

#define KEY_MAX 1024 /* longest key field; keeps joined keys in a fixed buffer */
#define KEYBUF (4 * (KEY_MAX + 1) + 8)

static xf_status grow(xf_ctx_t *ctx, void **p, int64_t n, size_t elem) {
    /* capacity doubles at powers of two: grow when n is 0 or a power of two */
    if (n && (n & (n - 1))) return XF_OK;
    void *np = xf_realloc(ctx, *p, elem * (size_t)(n ? 2 * n : 8));
    if (!np) return XF_ERR_NOMEM;
    *p = np;
    return XF_OK;
}

/* ---- oracle ---- */

void xf_bench_oracle_free(xf_ctx_t *ctx, xf_bench_oracle *o) {
    xf_bench_strs_free(ctx, o->arch, o->n);
    xf_bench_strs_free(ctx, o->source, o->n);
    xf_bench_strs_free(ctx, o->target, o->n);
    xf_free(ctx, o->acc);
    xf_free(ctx, o->line);
    xf_free(ctx, o->name);
    memset(o, 0, sizeof *o);
}

xf_status xf_bench_oracle_add(xf_ctx_t *ctx, xf_bench_oracle *o, const char *arch, const char *source,
                              const char *target, double acc) {
    int64_t n = o->n;
    if (grow(ctx, (void **)&o->arch, n, sizeof(char *)) || grow(ctx, (void **)&o->source, n, sizeof(char *)) ||
        grow(ctx, (void **)&o->target, n, sizeof(char *)) || grow(ctx, (void **)&o->acc, n, sizeof(double)) ||
        grow(ctx, (void **)&o->line, n, sizeof(int64_t)))
        return XF_ERR_NOMEM;
    o->arch[n] = xf_strdup(ctx, arch);
    o->source[n] = xf_strdup(ctx, source);
    o->target[n] = xf_strdup(ctx, target);
    o->acc[n] = acc;
    o->line[n] = n + 2;
    o->n = n + 1; /* counted even when a copy failed, so that free releases the others */
    if (!o->arch[n] || !o->source[n] || !o->target[n]) return XF_ERR_NOMEM;
    return XF_OK;
}

/* Column index of each wanted name in the header record; -1 when absent. */
static int find_cols(bench_csv *c, const char *const *want, int nw, int64_t *col) {
    for (int k = 0; k < nw; k++) {
        col[k] = -1;
        for (int64_t i = 0; i < c->nf; i++)
            if (!strcmp(c->f[i], want[k])) {
                if (col[k] >= 0)
                    return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: column '%s' appears twice", c->name,
                                  (long long)c->rec_line, want[k]);
                col[k] = i;
            }
        if (col[k] < 0)
            return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: no column '%s' in the header", c->name,
                          (long long)c->rec_line, want[k]);
    }
    return 0;
}

static int check_key(bench_csv *c, const char *what, const char *s) {
    if (!*s) return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: empty %s", c->name, (long long)c->rec_line, what);
    if (strlen(s) > KEY_MAX)
        return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s:%lld: %s longer than %d bytes", c->name, (long long)c->rec_line,
                      what, KEY_MAX);
    return 0;
}

/* Opens the CSV and reads its header: 0 ok, < 0 error. */
static int read_header(bench_csv *c) {
    int r = xf_bench_csv_next(c);
    if (r < 0) return r;
    if (r == 0) return XF_ERR(c->ctx, XF_ERR_FORMAT, "%s: empty file (no header)", c->name);
    return 0;
}

xf_status xf_bench_oracle_parse(xf_ctx_t *ctx, const void *data, size_t size, const char *name,
                                xf_bench_oracle *out) {
    memset(out, 0, sizeof *out);
    static const char *const want[] = {"Architecture", "Source Dataset", "Target Dataset", "Oracle"};
    bench_csv c;
    bench_map seen;
    xf_bench_csv_init(&c, ctx, data, size, name);
    xf_bench_map_init(&seen, ctx);
    int64_t col[4];
    char kb[KEYBUF];
    int r = read_header(&c);
    if (!r) r = find_cols(&c, want, 4, col);
    if (!r && !(out->name = xf_strdup(ctx, name))) r = XF_ERR_NOMEM;
    while (!r && (r = xf_bench_csv_next(&c)) == 1) {
        r = 0;
        int64_t hdr_n = col[0] > col[1] ? col[0] : col[1];
        for (int k = 2; k < 4; k++) hdr_n = col[k] > hdr_n ? col[k] : hdr_n;
        if (c.nf <= hdr_n) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: %lld fields, the header needs %lld", name, (long long)c.rec_line,
                       (long long)c.nf, (long long)hdr_n + 1);
            break;
        }
        const char *a = c.f[col[0]], *s = c.f[col[1]], *t = c.f[col[2]];
        if ((r = check_key(&c, "Architecture", a)) || (r = check_key(&c, "Source Dataset", s)) ||
            (r = check_key(&c, "Target Dataset", t)))
            break;
        double v;
        if (xf_bench_parse_cell(c.f[col[3]], &v) || !isfinite(v)) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: Oracle '%s' is not a finite number", name, (long long)c.rec_line,
                       c.f[col[3]]);
            break;
        }
        int64_t old;
        if ((r = xf_bench_map_put(&seen, xf_bench_key(kb, sizeof kb, a, s, t, NULL), out->n, &old))) break;
        if (old >= 0) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: (%s, %s, %s) already given at line %lld", name,
                       (long long)c.rec_line, a, s, t, (long long)out->line[old]);
            break;
        }
        if ((r = xf_bench_oracle_add(ctx, out, a, s, t, v))) break;
        out->line[out->n - 1] = c.rec_line;
    }
    if (!r && out->n == 0) r = XF_ERR(ctx, XF_ERR_FORMAT, "%s: no rows after the header", name);
    xf_bench_csv_free(&c);
    xf_bench_map_free(&seen);
    if (r) xf_bench_oracle_free(ctx, out);
    return (xf_status)r;
}

xf_status xf_bench_oracle_read(xf_ctx_t *ctx, const char *path, xf_bench_oracle *out) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    xf_status st = xf_bench_file_read(ctx, path, &text, &len);
    if (st) return st;
    st = xf_bench_oracle_parse(ctx, text, len, path, out);
    xf_free(ctx, text);
    return st;
}

/* ---- results ---- */

void xf_bench_results_free(xf_ctx_t *ctx, xf_bench_results *r) {
    xf_bench_strs_free(ctx, r->methods, r->M);
    xf_bench_strs_free(ctx, r->run, r->n);
    xf_bench_strs_free(ctx, r->arch, r->n);
    xf_bench_strs_free(ctx, r->source, r->n);
    xf_bench_strs_free(ctx, r->target, r->n);
    xf_free(ctx, r->score);
    xf_free(ctx, r->line);
    xf_free(ctx, r->name);
    memset(r, 0, sizeof *r);
}

xf_status xf_bench_results_init(xf_ctx_t *ctx, xf_bench_results *r, int64_t M, const char *const *methods) {
    memset(r, 0, sizeof *r);
    if (M < 1) return XF_ERR(ctx, XF_ERR_INVALID, "a results table needs at least one method");
    if (!(r->methods = xf_calloc(ctx, (size_t)M, sizeof(char *)))) return XF_ERR_NOMEM;
    r->M = M;
    for (int64_t m = 0; m < M; m++)
        if (!(r->methods[m] = xf_strdup(ctx, methods[m]))) return XF_ERR_NOMEM;
    return XF_OK;
}

xf_status xf_bench_results_add(xf_ctx_t *ctx, xf_bench_results *r, const char *run, const char *arch,
                               const char *source, const char *target, const double *scores) {
    int64_t n = r->n;
    if (grow(ctx, (void **)&r->run, n, sizeof(char *)) || grow(ctx, (void **)&r->arch, n, sizeof(char *)) ||
        grow(ctx, (void **)&r->source, n, sizeof(char *)) || grow(ctx, (void **)&r->target, n, sizeof(char *)) ||
        grow(ctx, (void **)&r->line, n, sizeof(int64_t)))
        return XF_ERR_NOMEM;
    if (!n || !(n & (n - 1))) { /* scores grow with the rows, M per row */
        double *ns = xf_realloc(ctx, r->score, sizeof(double) * (size_t)r->M * (size_t)(n ? 2 * n : 8));
        if (!ns) return XF_ERR_NOMEM;
        r->score = ns;
    }
    r->run[n] = xf_strdup(ctx, run);
    r->arch[n] = xf_strdup(ctx, arch);
    r->source[n] = xf_strdup(ctx, source);
    r->target[n] = xf_strdup(ctx, target);
    memcpy(r->score + n * r->M, scores, sizeof(double) * (size_t)r->M);
    r->line[n] = n + 2;
    r->n = n + 1;
    if (!r->run[n] || !r->arch[n] || !r->source[n] || !r->target[n]) return XF_ERR_NOMEM;
    return XF_OK;
}

xf_status xf_bench_results_parse(xf_ctx_t *ctx, const void *data, size_t size, const char *name,
                                 xf_bench_results *out) {
    memset(out, 0, sizeof *out);
    static const char *const want[] = {"Run", "Architecture", "Source Dataset", "Target Dataset"};
    bench_csv c;
    bench_map seen;
    xf_bench_csv_init(&c, ctx, data, size, name);
    xf_bench_map_init(&seen, ctx);
    char kb[KEYBUF];
    double *row = NULL;
    int r = read_header(&c);
    if (!r) {
        for (int k = 0; k < 4 && !r; k++)
            if (c.nf <= k || strcmp(c.f[k], want[k]))
                r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: column %d of the header must be '%s' (got '%s')", name,
                           (long long)c.rec_line, k + 1, want[k], c.nf > k ? c.f[k] : "");
        if (!r && c.nf < 5)
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: no method columns after '%s'", name, (long long)c.rec_line,
                       want[3]);
        for (int64_t i = 4; !r && i < c.nf; i++) {
            if (!*c.f[i]) r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: method column %lld has no name", name,
                                     (long long)c.rec_line, (long long)i + 1);
            for (int64_t j = 4; !r && j < i; j++)
                if (!strcmp(c.f[i], c.f[j]))
                    r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: method column '%s' appears twice", name,
                               (long long)c.rec_line, c.f[i]);
        }
        if (!r) r = xf_bench_results_init(ctx, out, c.nf - 4, (const char *const *)(c.f + 4));
    }
    if (!r && !(out->name = xf_strdup(ctx, name))) r = XF_ERR_NOMEM;
    if (!r && !(row = xf_malloc(ctx, sizeof(double) * (size_t)out->M))) r = XF_ERR_NOMEM;
    while (!r && (r = xf_bench_csv_next(&c)) == 1) {
        r = 0;
        if (c.nf != out->M + 4) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: %lld fields, the header has %lld", name, (long long)c.rec_line,
                       (long long)c.nf, (long long)out->M + 4);
            break;
        }
        if ((r = check_key(&c, "Run", c.f[0])) || (r = check_key(&c, "Architecture", c.f[1])) ||
            (r = check_key(&c, "Source Dataset", c.f[2])) || (r = check_key(&c, "Target Dataset", c.f[3])))
            break;
        for (int64_t m = 0; m < out->M && !r; m++)
            if (xf_bench_parse_cell(c.f[4 + m], &row[m]))
                r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: column '%s': '%s' is not a number", name,
                           (long long)c.rec_line, out->methods[m], c.f[4 + m]);
        if (r) break;
        int64_t old;
        if ((r = xf_bench_map_put(&seen, xf_bench_key(kb, sizeof kb, c.f[0], c.f[1], c.f[2], c.f[3]), out->n, &old)))
            break;
        if (old >= 0) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: run %s, (%s, %s, %s) already given at line %lld", name,
                       (long long)c.rec_line, c.f[0], c.f[1], c.f[2], c.f[3], (long long)out->line[old]);
            break;
        }
        if ((r = xf_bench_results_add(ctx, out, c.f[0], c.f[1], c.f[2], c.f[3], row))) break;
        out->line[out->n - 1] = c.rec_line;
    }
    if (!r && out->n == 0) r = XF_ERR(ctx, XF_ERR_FORMAT, "%s: no rows after the header", name);
    xf_free(ctx, row);
    xf_bench_csv_free(&c);
    xf_bench_map_free(&seen);
    if (r) xf_bench_results_free(ctx, out);
    return (xf_status)r;
}

xf_status xf_bench_results_read(xf_ctx_t *ctx, const char *path, xf_bench_results *out) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    xf_status st = xf_bench_file_read(ctx, path, &text, &len);
    if (st) return st;
    st = xf_bench_results_parse(ctx, text, len, path, out);
    xf_free(ctx, text);
    return st;
}

/* ---- layers ---- */

void xf_bench_layers_free(xf_ctx_t *ctx, xf_bench_layers *l) {
    xf_bench_strs_free(ctx, l->arch, l->n);
    xf_free(ctx, l->layers);
    memset(l, 0, sizeof *l);
}

xf_status xf_bench_layers_add(xf_ctx_t *ctx, xf_bench_layers *l, const char *arch, double layers) {
    for (int64_t i = 0; i < l->n; i++)
        if (!strcmp(l->arch[i], arch)) {
            l->layers[i] = layers;
            return XF_OK;
        }
    if (grow(ctx, (void **)&l->arch, l->n, sizeof(char *)) || grow(ctx, (void **)&l->layers, l->n, sizeof(double)))
        return XF_ERR_NOMEM;
    l->layers[l->n] = layers;
    l->arch[l->n] = xf_strdup(ctx, arch);
    l->n++;
    return l->arch[l->n - 1] ? XF_OK : XF_ERR_NOMEM;
}

xf_status xf_bench_layers_parse(xf_ctx_t *ctx, const void *data, size_t size, const char *name,
                                xf_bench_layers *out) {
    memset(out, 0, sizeof *out);
    static const char *const want[] = {"Architecture", "Layers"};
    bench_csv c;
    xf_bench_csv_init(&c, ctx, data, size, name);
    int64_t col[2];
    int r = read_header(&c);
    if (!r) r = find_cols(&c, want, 2, col);
    while (!r && (r = xf_bench_csv_next(&c)) == 1) {
        r = 0;
        int64_t need = col[0] > col[1] ? col[0] : col[1];
        double v;
        if (c.nf <= need) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: %lld fields, the header needs %lld", name, (long long)c.rec_line,
                       (long long)c.nf, (long long)need + 1);
            break;
        }
        if ((r = check_key(&c, "Architecture", c.f[col[0]]))) break;
        if (xf_bench_parse_cell(c.f[col[1]], &v) || !isfinite(v) || v < 0) {
            r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: Layers '%s' is not a count", name, (long long)c.rec_line,
                       c.f[col[1]]);
            break;
        }
        for (int64_t i = 0; i < out->n && !r; i++)
            if (!strcmp(out->arch[i], c.f[col[0]]))
                r = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: architecture '%s' given twice", name, (long long)c.rec_line,
                           c.f[col[0]]);
        if (!r) r = xf_bench_layers_add(ctx, out, c.f[col[0]], v);
    }
    if (!r && out->n == 0) r = XF_ERR(ctx, XF_ERR_FORMAT, "%s: no rows after the header", name);
    xf_bench_csv_free(&c);
    if (r) xf_bench_layers_free(ctx, out);
    return (xf_status)r;
}

xf_status xf_bench_layers_read(xf_ctx_t *ctx, const char *path, xf_bench_layers *out) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    xf_status st = xf_bench_file_read(ctx, path, &text, &len);
    if (st) return st;
    st = xf_bench_layers_parse(ctx, text, len, path, out);
    xf_free(ctx, text);
    return st;
}

/* ---- writers ---- */

static void put_num(FILE *f, double v) {
    char b[40];
    xf_bench_fmt_num(b, sizeof b, v);
    fputs(b, f);
}

static xf_status finish(xf_ctx_t *ctx, FILE *f, const char *tmp, const char *path) {
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot write", path);
    }
    return XF_OK;
}

static FILE *open_tmp(xf_ctx_t *ctx, const char *path, char *tmp, size_t cap) {
    if ((size_t)snprintf(tmp, cap, "%s.tmp", path) >= cap) {
        XF_ERR(ctx, XF_ERR_INVALID, "%s: path too long", path);
        return NULL;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) XF_ERR(ctx, XF_ERR_IO, "%s: cannot create", tmp);
    return f;
}

xf_status xf_bench_oracle_write(xf_ctx_t *ctx, const char *path, const xf_bench_oracle *o) {
    char tmp[4096];
    FILE *f = open_tmp(ctx, path, tmp, sizeof tmp);
    if (!f) return xf_last_status(ctx);
    fputs("Architecture,Source Dataset,Target Dataset,Oracle\n", f);
    for (int64_t i = 0; i < o->n; i++) {
        xf_bench_csv_put(f, o->arch[i]);
        fputc(',', f);
        xf_bench_csv_put(f, o->source[i]);
        fputc(',', f);
        xf_bench_csv_put(f, o->target[i]);
        fputc(',', f);
        put_num(f, o->acc[i]);
        fputc('\n', f);
    }
    return finish(ctx, f, tmp, path);
}

xf_status xf_bench_results_write(xf_ctx_t *ctx, const char *path, const xf_bench_results *r) {
    char tmp[4096];
    FILE *f = open_tmp(ctx, path, tmp, sizeof tmp);
    if (!f) return xf_last_status(ctx);
    fputs("Run,Architecture,Source Dataset,Target Dataset", f);
    for (int64_t m = 0; m < r->M; m++) {
        fputc(',', f);
        xf_bench_csv_put(f, r->methods[m]);
    }
    fputc('\n', f);
    for (int64_t i = 0; i < r->n; i++) {
        const char *k[4] = {r->run[i], r->arch[i], r->source[i], r->target[i]};
        for (int j = 0; j < 4; j++) {
            if (j) fputc(',', f);
            xf_bench_csv_put(f, k[j]);
        }
        for (int64_t m = 0; m < r->M; m++) {
            fputc(',', f);
            put_num(f, r->score[i * r->M + m]);
        }
        fputc('\n', f);
    }
    return finish(ctx, f, tmp, path);
}
