/* The feature cache (include/xfer/select.h): probe features and source probabilities of
 * one model on one probe set, so a second `xfer rank` on the same inputs extracts nothing
 * and a killed one resumes where it stopped.
 *
 * Key: SHA-256 of "model=<sha256>\ndata=<sha256>\nprobe=<spec>\nlayer=<names>\n"; the
 * entry is <dir>/features-<key hex>.xfc. Entry layout (docs/FORMATS.md, little-endian):
 *     0   8  magic "XFFCACHE"
 *     8   4  version (1)          12  4  0
 *     16 32  the key digest (a renamed file is caught)
 *     48  8  N   56 8 D   64 8 Z  (int64)   72 8 seconds (float64)
 *     80     F (N x D float32), then P (N x Z float32)
 *     end-32 SHA-256 of every byte before it.
 * Written to <entry>.tmp.<pid>, flushed to disk, renamed: readers see a whole entry or
 * none. Anything that does not check out is a miss: the entry is removed with a warning
 * and recomputed by the caller. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer/files.h"
#include "xfer/select.h"

#define FC_MAGIC "XFFCACHE"
#define FC_VERSION 1
#define FC_HEADER 80
#define FC_MAX_VALUES ((int64_t)1 << 34) /* 64 GiB of floats: refuse anything bigger */

struct xf_fcache {
    xf_ctx_t *ctx;
    char dir[1024];
};

int xf_fcache_default_dir(char *buf, size_t cap) {
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    int n;
    if (x && x[0] == '/') n = snprintf(buf, cap, "%s/xfer", x); /* the spec: relative XDG paths are ignored */
    else if (h && h[0]) n = snprintf(buf, cap, "%s/.cache/xfer", h);
    else return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

xf_status xf_fcache_open(xf_ctx_t *ctx, const char *dir, xf_fcache_t **out) {
    *out = NULL;
    char def[1024];
    if (!dir) {
        if (xf_fcache_default_dir(def, sizeof def))
            return XF_ERR(ctx, XF_ERR_INVALID, "no cache folder: neither XDG_CACHE_HOME nor HOME is set (give one)");
        dir = def;
    }
    if (!dir[0] || strlen(dir) >= sizeof def) return XF_ERR(ctx, XF_ERR_INVALID, "cache folder: bad path");
    xf_status st = xf_dir_create(ctx, dir, "the cache folder");
    if (st) return st;
    if (access(dir, W_OK) != 0) return XF_ERR(ctx, XF_ERR_IO, "%s: cache folder is not writable: %s", dir, strerror(errno));
    xf_fcache_t *c = xf_calloc(ctx, 1, sizeof *c);
    if (!c) return XF_ERR_NOMEM;
    c->ctx = ctx;
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    *out = c;
    return XF_OK;
}

void xf_fcache_free(xf_fcache_t *c) {
    if (c) xf_free(c->ctx, c);
}

const char *xf_fcache_dir(const xf_fcache_t *c) { return c ? c->dir : NULL; }

void xf_fcache_key_digest(const xf_fcache_key *k, uint8_t d[32]) {
    xf_sha256 s;
    xf_sha256_init(&s);
    const char *parts[4][2] = {{"model=", k->model_sha256}, {"data=", k->data_sha256}, {"probe=", k->probe},
                               {"layer=", k->layer}};
    for (int i = 0; i < 4; i++) {
        xf_sha256_update(&s, parts[i][0], strlen(parts[i][0]));
        if (parts[i][1]) xf_sha256_update(&s, parts[i][1], strlen(parts[i][1]));
        xf_sha256_update(&s, "\n", 1);
    }
    xf_sha256_final(&s, d);
}

void xf_fcache_path(const xf_fcache_t *c, const xf_fcache_key *k, char *buf, size_t cap) {
    uint8_t d[32];
    char hex[65];
    xf_fcache_key_digest(k, d);
    xf_sha256_hex(d, hex);
    snprintf(buf, cap, "%s/features-%s.xfc", c->dir, hex);
}

void xf_fcache_entry_free(xf_ctx_t *ctx, xf_fcache_entry *e) {
    xf_free(ctx, e->F);
    xf_free(ctx, e->P);
    memset(e, 0, sizeof *e);
}

/* A bad entry is a miss: say so, remove it. */
static xf_status corrupt(xf_ctx_t *ctx, const char *path, const char *why, int *hit) {
    xf_log(ctx, XF_LOG_WARN, "%s: corrupt cache entry (%s): removed, recomputing", path, why);
    remove(path);
    *hit = 0;
    return XF_OK;
}

xf_status xf_fcache_get(xf_ctx_t *ctx, xf_fcache_t *c, const xf_fcache_key *k, xf_fcache_entry *e, int *hit) {
    memset(e, 0, sizeof *e);
    *hit = 0;
    char path[1200];
    xf_fcache_path(c, k, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return XF_OK; /* a miss */
    uint8_t hdr[FC_HEADER];
    if (fread(hdr, 1, FC_HEADER, f) != FC_HEADER) {
        fclose(f);
        return corrupt(ctx, path, "short header", hit);
    }
    uint8_t kd[32];
    xf_fcache_key_digest(k, kd);
    uint32_t ver;
    int64_t n[3];
    double sec;
    memcpy(&ver, hdr + 8, 4);
    memcpy(n, hdr + 48, 24);
    memcpy(&sec, hdr + 72, 8);
    const char *why = NULL;
    if (memcmp(hdr, FC_MAGIC, 8)) why = "bad magic";
    else if (ver != FC_VERSION) why = "unknown version";
    else if (memcmp(hdr + 16, kd, 32)) why = "key mismatch";
    else if (n[0] < 1 || n[1] < 1 || n[2] < 0 || n[1] > FC_MAX_VALUES / n[0] || n[2] > FC_MAX_VALUES / n[0] ||
             n[0] * (n[1] + n[2]) > FC_MAX_VALUES)
        why = "bad shape";
    if (why) {
        fclose(f);
        return corrupt(ctx, path, why, hit);
    }
    int64_t nf = n[0] * n[1], np = n[0] * n[2];
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (int64_t)sb.st_size != FC_HEADER + 4 * (nf + np) + 32) {
        fclose(f);
        return corrupt(ctx, path, "wrong size", hit);
    }
    e->F = xf_malloc(ctx, (size_t)nf * sizeof(float));
    e->P = xf_malloc(ctx, (size_t)(np ? np : 1) * sizeof(float));
    if (!e->F || !e->P) {
        fclose(f);
        xf_fcache_entry_free(ctx, e);
        return XF_ERR_NOMEM;
    }
    uint8_t sum[32], want[32];
    int ok = fread(e->F, sizeof(float), (size_t)nf, f) == (size_t)nf &&
             fread(e->P, sizeof(float), (size_t)np, f) == (size_t)np && fread(want, 1, 32, f) == 32;
    fclose(f);
    if (ok) {
        xf_sha256 s;
        xf_sha256_init(&s);
        xf_sha256_update(&s, hdr, FC_HEADER);
        xf_sha256_update(&s, e->F, (size_t)nf * sizeof(float));
        xf_sha256_update(&s, e->P, (size_t)np * sizeof(float));
        xf_sha256_final(&s, sum);
    }
    if (!ok || memcmp(sum, want, 32)) {
        xf_fcache_entry_free(ctx, e);
        return corrupt(ctx, path, ok ? "checksum mismatch" : "short read", hit);
    }
    e->N = n[0];
    e->D = n[1];
    e->Z = n[2];
    e->seconds = sec;
    *hit = 1;
    return XF_OK;
}

xf_status xf_fcache_put(xf_ctx_t *ctx, xf_fcache_t *c, const xf_fcache_key *k, const xf_fcache_entry *e) {
    if (e->N < 1 || e->D < 1 || e->Z < 0 || !e->F || (e->Z && !e->P))
        return XF_ERR(ctx, XF_ERR_INVALID, "feature cache: nothing to store");
    char path[1200], tmp[1300];
    xf_fcache_path(c, k, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    uint8_t hdr[FC_HEADER] = {0}, sum[32];
    uint32_t ver = FC_VERSION;
    int64_t n[3] = {e->N, e->D, e->Z};
    memcpy(hdr, FC_MAGIC, 8);
    memcpy(hdr + 8, &ver, 4);
    xf_fcache_key_digest(k, hdr + 16);
    memcpy(hdr + 48, n, 24);
    memcpy(hdr + 72, &e->seconds, 8);
    size_t nf = (size_t)(e->N * e->D), np = (size_t)(e->N * e->Z);
    xf_sha256 s;
    xf_sha256_init(&s);
    xf_sha256_update(&s, hdr, FC_HEADER);
    xf_sha256_update(&s, e->F, nf * sizeof(float));
    if (np) xf_sha256_update(&s, e->P, np * sizeof(float));
    xf_sha256_final(&s, sum);
    FILE *f = fopen(tmp, "wb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = fwrite(hdr, 1, FC_HEADER, f) == FC_HEADER && fwrite(e->F, sizeof(float), nf, f) == nf &&
             (!np || fwrite(e->P, sizeof(float), np, f) == np) && fwrite(sum, 1, 32, f) == 32;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok; /* the data is on disk before the name points at it */
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int er = errno;
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot write the cache entry: %s", path, strerror(er));
    }
    return XF_OK;
}
