/* Allocation through the context: a hookable allocator (tests replace it or make the
 * k-th allocation fail), overflow-checked sizes, and the workspace arena.
 *
 * The workspace is a list of blocks; allocation bumps a pointer in the current block and
 * opens a new block (at least double the last) when full. Reset rewinds to the first
 * block, and if the previous round needed several blocks, merges them into one of the
 * peak size so that a steady state is a single block with no allocation at all. */
#include <stdlib.h>
#include <string.h>

#include "coreInt.h"

int xf_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

static int fault_now(xf_ctx_t *ctx) {
    ctx->alloc_count++;
    return ctx->fail_at > 0 && ctx->alloc_count >= ctx->fail_at;
}

void xf_ctx_set_allocator(xf_ctx_t *ctx, const xf_allocator *a) {
    if (!ctx) return;
    if (a) {
        ctx->alloc = *a;
        ctx->has_alloc = 1;
    } else {
        memset(&ctx->alloc, 0, sizeof ctx->alloc);
        ctx->has_alloc = 0;
    }
}

void xf_ctx_fail_alloc_after(xf_ctx_t *ctx, int64_t k) {
    if (!ctx) return;
    ctx->fail_at = k > 0 ? ctx->alloc_count + k : 0;
}
int64_t xf_ctx_alloc_count(const xf_ctx_t *ctx) { return ctx ? ctx->alloc_count : 0; }

static void *raw_malloc(xf_ctx_t *ctx, size_t size) {
    if (ctx->has_alloc) return ctx->alloc.malloc_fn(ctx->alloc.user, size);
    return malloc(size);
}

void *xf_malloc(xf_ctx_t *ctx, size_t size) {
    if (size == 0) size = 1;
    if (!ctx) return malloc(size);
    void *p = fault_now(ctx) ? NULL : raw_malloc(ctx, size);
    if (!p) XF_ERR(ctx, XF_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

char *xf_strdup(xf_ctx_t *ctx, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xf_malloc(ctx, n);
    if (d) memcpy(d, s, n);
    return d;
}

void *xf_calloc(xf_ctx_t *ctx, size_t n, size_t size) {
    size_t tot;
    if (!xf_mul_ok(n, size, &tot)) {
        if (ctx) XF_ERR(ctx, XF_ERR_NOMEM, "allocation size overflow (%zu x %zu)", n, size);
        return NULL;
    }
    void *p = xf_malloc(ctx, tot);
    if (p) memset(p, 0, tot == 0 ? 1 : tot);
    return p;
}

void *xf_realloc(xf_ctx_t *ctx, void *ptr, size_t size) {
    if (!ptr) return xf_malloc(ctx, size);
    if (size == 0) size = 1;
    if (!ctx) return realloc(ptr, size);
    if (fault_now(ctx)) {
        XF_ERR(ctx, XF_ERR_NOMEM, "out of memory reallocating %zu bytes", size);
        return NULL;
    }
    void *p;
    if (ctx->has_alloc && ctx->alloc.realloc_fn) p = ctx->alloc.realloc_fn(ctx->alloc.user, ptr, size);
    else if (ctx->has_alloc) {
        /* no realloc hook: the caller's allocator cannot tell us the old size, so a
         * realloc hook is required for growing buffers; fail cleanly. */
        p = NULL;
    } else p = realloc(ptr, size);
    if (!p) XF_ERR(ctx, XF_ERR_NOMEM, "out of memory reallocating %zu bytes", size);
    return p;
}

void xf_free(xf_ctx_t *ctx, void *ptr) {
    if (!ptr) return;
    if (ctx && ctx->has_alloc) ctx->alloc.free_fn(ctx->alloc.user, ptr);
    else free(ptr);
}

/* ---- workspace ---- */

typedef struct ws_block {
    struct ws_block *next;
    size_t size, used;
    /* data follows, 64-aligned offset computed on use */
} ws_block;

struct xf_ws {
    xf_ctx_t *ctx;
    ws_block *head; /* current block is head; older blocks follow */
    size_t in_use, peak;
};

xf_status xf_ws_create(xf_ctx_t *ctx, xf_ws_t **out) {
    *out = NULL;
    xf_ws_t *w = xf_calloc(ctx, 1, sizeof *w);
    if (!w) return XF_ERR_NOMEM;
    w->ctx = ctx;
    *out = w;
    return XF_OK;
}

static void ws_free_blocks(xf_ws_t *w) {
    ws_block *b = w->head;
    while (b) {
        ws_block *n = b->next;
        xf_free(w->ctx, b);
        b = n;
    }
    w->head = NULL;
}

void xf_ws_free(xf_ws_t *w) {
    if (!w) return;
    ws_free_blocks(w);
    xf_free(w->ctx, w);
}

xf_ctx_t *xf_ws_ctx(xf_ws_t *w) { return w->ctx; }
size_t xf_ws_peak(const xf_ws_t *w) { return w->peak; }

void xf_ws_reset(xf_ws_t *w) {
    if (!w) return;
    if (w->head && w->head->next) {
        /* several blocks were needed: replace them by one block of the peak size */
        size_t want = w->peak + 64 * 16;
        ws_free_blocks(w);
        ws_block *b = xf_malloc(w->ctx, sizeof(ws_block) + want + 64);
        if (b) {
            b->next = NULL;
            b->size = want;
            b->used = 0;
            w->head = b;
        } else {
            xf_ctx_clear_error(w->ctx); /* not fatal: the next alloc will retry */
        }
    } else if (w->head) {
        w->head->used = 0;
    }
    w->in_use = 0;
}

void *xf_ws_alloc(xf_ws_t *w, size_t size) {
    size = (size + 63) & ~(size_t)63;
    if (size == 0) size = 64;
    ws_block *b = w->head;
    if (!b || b->used + size > b->size) {
        size_t want = size;
        if (b && b->size * 2 > want) want = b->size * 2;
        if (want < 1 << 16) want = 1 << 16;
        if (want > SIZE_MAX - sizeof(ws_block) - 64) {
            XF_ERR(w->ctx, XF_ERR_NOMEM, "workspace request too large (%zu bytes)", size);
            return NULL;
        }
        ws_block *nb = xf_malloc(w->ctx, sizeof(ws_block) + want + 64);
        if (!nb) return NULL;
        nb->next = b;
        nb->size = want;
        nb->used = 0;
        w->head = nb;
        b = nb;
    }
    uintptr_t base = ((uintptr_t)(b + 1) + 63) & ~(uintptr_t)63;
    void *p = (void *)(base + b->used);
    b->used += size;
    w->in_use += size;
    if (w->in_use > w->peak) w->peak = w->in_use;
    return p;
}

void *xf_ws_calloc(xf_ws_t *w, size_t n, size_t size) {
    size_t tot;
    if (!xf_mul_ok(n, size, &tot)) {
        XF_ERR(w->ctx, XF_ERR_NOMEM, "workspace size overflow (%zu x %zu)", n, size);
        return NULL;
    }
    void *p = xf_ws_alloc(w, tot);
    if (p) memset(p, 0, tot);
    return p;
}

/* ---- matrices ---- */

xf_status xf_matf_alloc(xf_ctx_t *ctx, xf_matf *m, int64_t rows, int64_t cols) {
    m->data = NULL;
    m->rows = m->cols = m->ld = 0;
    if (rows < 0 || cols < 0) return XF_ERR(ctx, XF_ERR_INVALID, "negative matrix shape %lld x %lld", (long long)rows, (long long)cols);
    size_t n;
    if (!xf_mul_ok((size_t)rows, (size_t)cols, &n)) return XF_ERR(ctx, XF_ERR_NOMEM, "matrix %lld x %lld too large", (long long)rows, (long long)cols);
    m->data = xf_calloc(ctx, n ? n : 1, sizeof(float));
    if (!m->data) return XF_ERR_NOMEM;
    m->rows = rows;
    m->cols = cols;
    m->ld = cols;
    return XF_OK;
}

xf_status xf_matd_alloc(xf_ctx_t *ctx, xf_matd *m, int64_t rows, int64_t cols) {
    m->data = NULL;
    m->rows = m->cols = m->ld = 0;
    if (rows < 0 || cols < 0) return XF_ERR(ctx, XF_ERR_INVALID, "negative matrix shape %lld x %lld", (long long)rows, (long long)cols);
    size_t n;
    if (!xf_mul_ok((size_t)rows, (size_t)cols, &n)) return XF_ERR(ctx, XF_ERR_NOMEM, "matrix %lld x %lld too large", (long long)rows, (long long)cols);
    m->data = xf_calloc(ctx, n ? n : 1, sizeof(double));
    if (!m->data) return XF_ERR_NOMEM;
    m->rows = rows;
    m->cols = cols;
    m->ld = cols;
    return XF_OK;
}

void xf_matf_free(xf_ctx_t *ctx, xf_matf *m) {
    if (!m) return;
    xf_free(ctx, m->data);
    m->data = NULL;
    m->rows = m->cols = m->ld = 0;
}
void xf_matd_free(xf_ctx_t *ctx, xf_matd *m) {
    if (!m) return;
    xf_free(ctx, m->data);
    m->data = NULL;
    m->rows = m->cols = m->ld = 0;
}
