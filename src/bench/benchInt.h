/* bench module internals: the CSV reader shared by the oracle, results and layer tables,
 * a string -> index map for joins and duplicate checks, and small string helpers. */
#ifndef XFER_BENCH_INT_H
#define XFER_BENCH_INT_H
#include "xfer/benchmark.h"

/* ---- CSV records (RFC 4180 plus the usual leniencies; see benchmark.h) ---- */
typedef struct bench_csv {
    xf_ctx_t *ctx;
    const char *name;          /* file name in messages */
    const unsigned char *p, *end;
    int64_t line;              /* line of the next character (1-based) */
    char *buf;                 /* field text of the current record, NUL-separated */
    size_t blen, bcap;
    size_t *off;               /* (cap) field offsets into buf */
    int64_t nf, fcap;
    char **f;                  /* (nf) the fields of the current record, valid until the next call */
    int64_t rec_line;          /* line where the current record starts */
} bench_csv;

void xf_bench_csv_init(bench_csv *c, xf_ctx_t *ctx, const void *data, size_t size, const char *name);
/* 1: a record in c->f / c->nf; 0: end of input; < 0: an error (message on ctx, name:line). */
int xf_bench_csv_next(bench_csv *c);
void xf_bench_csv_free(bench_csv *c);
/* Reads a whole file (limit 1 GiB) into *out (NUL-terminated, freed with xf_free). */
xf_status xf_bench_file_read(xf_ctx_t *ctx, const char *path, char **out, size_t *len);
/* Writes a field, quoted when it holds a comma, quote, CR or LF (or spaces at an end). */
void xf_bench_csv_put(FILE *f, const char *s);
/* The shortest of %.15g, %.16g, %.17g that reads back as v (Python's repr for most
 * values): exact round trips without 0.10000000000000001. NaN is "nan". */
void xf_bench_fmt_num(char *buf, size_t cap, double v);
/* A number cell: 0 ok (value in *v, NaN for pandas' missing-value words and ""), -1 text. */
int xf_bench_parse_cell(const char *s, double *v);
/* Frees the n strings of s (NULL entries allowed) and s itself; s may be NULL. */
void xf_bench_strs_free(xf_ctx_t *ctx, char **s, int64_t n);

/* ---- string -> int64 map (open addressing, FNV-1a) ---- */
typedef struct bench_map {
    xf_ctx_t *ctx;
    char **key;    /* (cap) owned copies; NULL = empty slot */
    int64_t *val;  /* (cap) */
    int64_t n, cap;
} bench_map;
void xf_bench_map_init(bench_map *m, xf_ctx_t *ctx);
void xf_bench_map_free(bench_map *m);
/* Value of key, or -1. */
int64_t xf_bench_map_get(const bench_map *m, const char *key);
/* Inserts key -> val unless present; *old gets the existing value (or -1). */
xf_status xf_bench_map_put(bench_map *m, const char *key, int64_t val, int64_t *old);
/* The key "a\x1fb\x1fc" of up to 4 strings in buf (NULL when it does not fit). */
const char *xf_bench_key(char *buf, size_t cap, const char *a, const char *b, const char *c, const char *d);
#endif
