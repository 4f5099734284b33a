/* xfer core: status codes, the context that carries the last error message, a hookable
 * allocator, a scratch arena (workspace), matrices with shape and stride, a seeded RNG,
 * the thread count, and log / progress callbacks.
 *
 * Worked example:
 *
 *     xf_ctx_t *ctx;
 *     if (xf_ctx_create(&ctx) != XF_OK) return 1;       // only fails on out of memory
 *     xf_ctx_set_threads(ctx, 2);
 *     xf_array a;
 *     if (xf_npy_read(ctx, "feats.npy", &a) != XF_OK)
 *         fprintf(stderr, "xfer: %s\n", xf_errmsg(ctx));  // "feats.npy: header ..."
 *     xf_array_free(ctx, &a);
 *     xf_ctx_free(ctx);
 *
 * Ownership: every function that allocates says so; the matching _free releases it.
 * Views (xf_matf / xf_matd with a borrowed pointer) never own their data.
 * The library never exits or aborts on caller-triggerable conditions: it returns a
 * negative xf_status and leaves one line on the context (xf_errmsg).
 */
#ifndef XFER_CORE_H
#define XFER_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xf_status {
    XF_OK = 0,
    XF_ERR_NOMEM = -1,       /* an allocation failed */
    XF_ERR_INVALID = -2,     /* a bad argument or parameter */
    XF_ERR_IO = -3,          /* a file could not be opened, read or written */
    XF_ERR_FORMAT = -4,      /* a file is malformed */
    XF_ERR_UNSUPPORTED = -5, /* valid but not supported (dtype, op, version) */
    XF_ERR_NUMERIC = -6,     /* NaN / Inf in input, or a numerical failure */
    XF_ERR_SHAPE = -7,       /* inconsistent shapes between inputs */
    XF_ERR_NOTFOUND = -8,    /* a named thing (method, tensor, class) does not exist */
    XF_ERR_INTERNAL = -9     /* a broken internal invariant: a bug */
} xf_status;

const char *xf_status_str(xf_status st);

/* ---- context ---------------------------------------------------------------------- */

typedef struct xf_ctx xf_ctx_t;

/* Allocator hooks. realloc may be NULL (then malloc+copy+free is used). */
typedef struct xf_allocator {
    void *(*malloc_fn)(void *user, size_t size);
    void *(*realloc_fn)(void *user, void *ptr, size_t size);
    void (*free_fn)(void *user, void *ptr);
    void *user;
} xf_allocator;

typedef enum xf_log_level { XF_LOG_DEBUG = 0, XF_LOG_INFO = 1, XF_LOG_WARN = 2, XF_LOG_ERROR = 3 } xf_log_level;
typedef void (*xf_log_fn)(void *user, xf_log_level level, const char *msg);
/* done/total in arbitrary units; total <= 0 means unknown; done == total means finished. */
typedef void (*xf_progress_fn)(void *user, const char *label, int64_t done, int64_t total);

xf_status xf_ctx_create(xf_ctx_t **out);
void xf_ctx_free(xf_ctx_t *ctx);

/* The message of the last error ("" when none). Valid until the next error. */
const char *xf_errmsg(const xf_ctx_t *ctx);
xf_status xf_last_status(const xf_ctx_t *ctx);
void xf_ctx_clear_error(xf_ctx_t *ctx);
/* Records an error and returns st. Use the XF_ERR macro. */
xf_status xf_error_set(xf_ctx_t *ctx, xf_status st, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
#define XF_ERR(ctx, st, ...) xf_error_set((ctx), (st), __FILE__, __LINE__, __VA_ARGS__)
/* Source location of the last error (for debugging; "" when none). */
const char *xf_errloc(const xf_ctx_t *ctx);
/* Prefix the current message with "prefix: " (e.g. a file name added by a caller). */
void xf_error_prefix(xf_ctx_t *ctx, const char *prefix);

void xf_ctx_set_allocator(xf_ctx_t *ctx, const xf_allocator *a); /* NULL restores libc */
void xf_ctx_set_threads(xf_ctx_t *ctx, int nthreads);             /* <= 0: all cores */
int xf_ctx_threads(const xf_ctx_t *ctx);
void xf_ctx_set_seed(xf_ctx_t *ctx, uint64_t seed);
uint64_t xf_ctx_seed(const xf_ctx_t *ctx);
void xf_ctx_set_log(xf_ctx_t *ctx, xf_log_fn fn, void *user, xf_log_level min_level);
void xf_ctx_set_progress(xf_ctx_t *ctx, xf_progress_fn fn, void *user);

void xf_log(xf_ctx_t *ctx, xf_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void xf_progress(xf_ctx_t *ctx, const char *label, int64_t done, int64_t total);

/* A ready-made progress reporter writing to stderr: a redrawn bar when stderr is a
 * terminal, otherwise one plain line per 10% step. user must be NULL. */
void xf_progress_stderr(void *user, const char *label, int64_t done, int64_t total);

/* ---- allocation ------------------------------------------------------------------- */

/* Allocate through the context's allocator; on failure record XF_ERR_NOMEM and return
 * NULL. n*size overflow is detected. Memory is zeroed by xf_calloc only. */
void *xf_malloc(xf_ctx_t *ctx, size_t size);
void *xf_calloc(xf_ctx_t *ctx, size_t n, size_t size);
void *xf_realloc(xf_ctx_t *ctx, void *ptr, size_t size);
void xf_free(xf_ctx_t *ctx, void *ptr);
/* A copy of the NUL-terminated s through xf_malloc (free with xf_free); NULL on failure. */
char *xf_strdup(xf_ctx_t *ctx, const char *s);
/* Checked a*b (and a*b*c) for sizes taken from files; returns 0 on overflow. */
int xf_mul_ok(size_t a, size_t b, size_t *out);

/* Fault injection for tests: the k-th allocation from now (1-based) and every later one
 * fails; k = 0 disables. Works on top of whatever allocator is set. */
void xf_ctx_fail_alloc_after(xf_ctx_t *ctx, int64_t k);
int64_t xf_ctx_alloc_count(const xf_ctx_t *ctx); /* allocations since creation */

/* ---- paths ------------------------------------------------------------------------ */

/* Display names for n paths (src/core/path.c): names[i] = the shortest suffix of whole
 * components of paths[i] that no other path ends with, joined by '/', with `ext` (e.g.
 * ".npy"; NULL for none) cut from the last component: {"a/features.npy",
 * "b/features.npy"} -> {"a/features", "b/features"}; {"x/m1.npy", "y/m2.npy"} -> {"m1",
 * "m2"}. Empty and "." components are skipped. A path identical to an earlier one keeps
 * all its components and gets "#m" for its m-th occurrence ("a/f", "a/f#2"), so the
 * names are always distinct. A path with no component (e.g. "/") is named as given.
 * Each names[i] is allocated with xf_malloc (free with xf_free); on failure (only out of
 * memory) every names[i] is NULL. */
xf_status xf_path_short_names(xf_ctx_t *ctx, const char *const *paths, int64_t n, const char *ext, char **names);

/* ---- workspace: a growable arena for hot paths --------------------------------------
 * Estimators and kernels take scratch from a workspace sized up front, never from malloc
 * in an inner loop. xf_ws_reset keeps the memory for the next call. */
typedef struct xf_ws xf_ws_t;
xf_status xf_ws_create(xf_ctx_t *ctx, xf_ws_t **out);
void xf_ws_free(xf_ws_t *ws);
void xf_ws_reset(xf_ws_t *ws);
/* 64-byte aligned; NULL (with XF_ERR_NOMEM on ws's context) on failure. */
void *xf_ws_alloc(xf_ws_t *ws, size_t size);
void *xf_ws_calloc(xf_ws_t *ws, size_t n, size_t size);
xf_ctx_t *xf_ws_ctx(xf_ws_t *ws);
size_t xf_ws_peak(const xf_ws_t *ws); /* high-water mark in bytes */

/* ---- matrices: row-major with a leading dimension (ld >= cols) ---------------------- */
typedef struct xf_matf { float *data; int64_t rows, cols, ld; } xf_matf;
typedef struct xf_matd { double *data; int64_t rows, cols, ld; } xf_matd;

#define XF_AT(m, i, j) ((m).data[(int64_t)(i) * (m).ld + (j)])

static inline xf_matf xf_matf_view(float *data, int64_t rows, int64_t cols) {
    xf_matf m = {data, rows, cols, cols};
    return m;
}
static inline xf_matd xf_matd_view(double *data, int64_t rows, int64_t cols) {
    xf_matd m = {data, rows, cols, cols};
    return m;
}
/* Owning allocations (zeroed); free with xf_mat?_free. */
xf_status xf_matf_alloc(xf_ctx_t *ctx, xf_matf *m, int64_t rows, int64_t cols);
xf_status xf_matd_alloc(xf_ctx_t *ctx, xf_matd *m, int64_t rows, int64_t cols);
void xf_matf_free(xf_ctx_t *ctx, xf_matf *m);
void xf_matd_free(xf_ctx_t *ctx, xf_matd *m);

/* ---- RNG: xoshiro256** seeded by splitmix64; identical streams on every platform ---- */
typedef struct xf_rng { uint64_t s[4]; } xf_rng;
void xf_rng_seed(xf_rng *r, uint64_t seed);
uint64_t xf_rng_u64(xf_rng *r);
double xf_rng_uniform(xf_rng *r);          /* [0, 1) */
double xf_rng_normal(xf_rng *r);           /* N(0, 1), Box-Muller */
uint64_t xf_rng_below(xf_rng *r, uint64_t n); /* uniform in [0, n), unbiased; n > 0 */
void xf_rng_shuffle_i64(xf_rng *r, int64_t *a, int64_t n);

/* ---- SHA-256 (FIPS 180-4): content keys for bank models and cached features ---------- */
typedef struct xf_sha256 { uint32_t h[8]; uint64_t len; uint8_t buf[64]; size_t nbuf; } xf_sha256;
void xf_sha256_init(xf_sha256 *s);
void xf_sha256_update(xf_sha256 *s, const void *data, size_t n);
void xf_sha256_final(xf_sha256 *s, uint8_t out[32]);
void xf_sha256_hex(const uint8_t digest[32], char hex[65]); /* lower-case, NUL-terminated */
/* The digest of a whole file as 64 lower-case hex digits (what sha256sum prints). */
xf_status xf_sha256_file(xf_ctx_t *ctx, const char *path, char hex[65]);

/* ---- FNV-1a 64: a fast non-cryptographic hash --------------------------------------- */
/* The checksums of xfer's own files (adapter store, oracle records, corpus manifest) and
 * the keys of its hash tables. xf_fnv1a continues from h (start with XF_FNV1A_OFFSET). */
#define XF_FNV1A_OFFSET 0xcbf29ce484222325ULL
uint64_t xf_fnv1a(uint64_t h, const void *p, size_t n);
uint64_t xf_fnv1a_str(const char *s); /* of a NUL-terminated string, from the offset */

/* ---- misc ------------------------------------------------------------------------- */
double xf_now(void); /* monotonic seconds */
const char *xf_version(void);

#ifdef __cplusplus
}
#endif
#endif
