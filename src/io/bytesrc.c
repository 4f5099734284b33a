/* A sequential byte source over a file or a buffer, gzip-transparent (ioInt.h).
 *
 * Design: the first chunk is read up front and its first two bytes decide gzip or raw
 * (content, not file name). gzip goes through zlib's inflate with windowBits 16+15
 * (gzip wrapper only, CRC and length checked by zlib). We use inflate rather than
 * gzread because gzread silently ignores garbage after the last member, which would let
 * a damaged or doctored file pass. After a member ends, the next input bytes must be
 * either nothing or another gzip member. zlib's allocations go through the context so
 * allocation-failure tests reach them. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "xfer/files.h"
#include "io/ioInt.h"

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) { return xf_calloc((xf_ctx_t *)opaque, items, size); }
static void z_free(voidpf opaque, voidpf p) { xf_free((xf_ctx_t *)opaque, p); }

const char *xf_io_basename(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int xf_io_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}
int xf_io_is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Raw (compressed or not) input: the rest of the memory buffer, or the next file chunk.
 * Returns bytes made available at *p. */
static xf_status raw_more(xf_src *s, const unsigned char **p, size_t *n) {
    *n = 0;
    if (s->f) {
        size_t r = fread(s->in, 1, XF_SRC_CHUNK, s->f);
        if (r == 0 && ferror(s->f)) return XF_ERR(s->ctx, XF_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
        *p = s->in;
        *n = r;
    } else {
        size_t r = s->memlen - s->mempos;
        if (r > (1u << 30)) r = 1u << 30; /* avail_in is a uInt */
        *p = s->mem + s->mempos;
        s->mempos += r;
        *n = r;
    }
    return XF_OK;
}

static xf_status start(xf_src *s) {
    const unsigned char *p;
    size_t n;
    xf_status st = raw_more(s, &p, &n);
    if (st) return st;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        s->gz = 1;
        s->zs.zalloc = z_alloc;
        s->zs.zfree = z_free;
        s->zs.opaque = s->ctx;
        int zr = inflateInit2(&s->zs, 16 + MAX_WBITS);
        if (zr != Z_OK) return zr == Z_MEM_ERROR ? XF_ERR(s->ctx, XF_ERR_NOMEM, "%s: out of memory for zlib", s->name)
                                                 : XF_ERR(s->ctx, XF_ERR_INTERNAL, "%s: inflateInit2 failed", s->name);
        s->zinit = 1;
        s->zs.next_in = (unsigned char *)p;
        s->zs.avail_in = (uInt)n;
    } else {
        /* raw: keep what was read as pending input */
        s->zs.next_in = (unsigned char *)p;
        s->zs.avail_in = (uInt)n;
    }
    return XF_OK;
}

xf_status xf_src_open_file(xf_ctx_t *ctx, const char *path, xf_src *s) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    snprintf(s->name, sizeof s->name, "%s", path);
    s->raw_size = -1;
    xf_status ost = xf_file_open(ctx, path, &s->f);
    if (ost) return ost;
    struct stat sb;
    if (fstat(fileno(s->f), &sb) == 0) s->raw_size = (int64_t)sb.st_size;
    s->in = xf_malloc(ctx, XF_SRC_CHUNK);
    if (!s->in) {
        fclose(s->f);
        s->f = NULL;
        return XF_ERR_NOMEM;
    }
    xf_status st = start(s);
    if (st) xf_src_close(s);
    return st;
}

xf_status xf_src_open_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_src *s) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    snprintf(s->name, sizeof s->name, "%s", name ? name : "<memory>");
    s->mem = buf;
    s->memlen = buf ? len : 0;
    s->raw_size = (int64_t)s->memlen;
    xf_status st = start(s);
    if (st) xf_src_close(s);
    return st;
}

/* Gets at least two pending raw bytes if the input has them (for the magic check of a
 * following gzip member), moving a single leftover byte to the front of the buffer. */
static xf_status need2(xf_src *s) {
    while (s->zs.avail_in < 2) {
        unsigned char keep = s->zs.avail_in ? s->zs.next_in[0] : 0;
        int had = s->zs.avail_in;
        const unsigned char *p;
        size_t n;
        if (s->f) {
            if (had) s->in[0] = keep;
            size_t r = fread(s->in + had, 1, XF_SRC_CHUNK - had, s->f);
            if (r == 0 && ferror(s->f)) return XF_ERR(s->ctx, XF_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
            if (r == 0) return XF_OK;
            s->zs.next_in = s->in;
            s->zs.avail_in = (uInt)(had + r);
        } else {
            /* a memory source hands over everything at once (up to 1 GiB) */
            if (s->mempos >= s->memlen) return XF_OK;
            if (had) {
                /* the pending byte is mem[mempos-1]: back up one */
                s->mempos -= 1;
            }
            xf_status st = raw_more(s, &p, &n);
            if (st) return st;
            s->zs.next_in = (unsigned char *)p;
            s->zs.avail_in = (uInt)n;
        }
    }
    return XF_OK;
}

static xf_status gz_read(xf_src *s, unsigned char *out, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        if (s->zend) {
            xf_status st = need2(s);
            if (st) return st;
            if (s->zs.avail_in == 0) return XF_OK; /* clean end */
            if (s->zs.avail_in < 2 || s->zs.next_in[0] != 0x1f || s->zs.next_in[1] != 0x8b)
                return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: trailing garbage after the gzip stream", s->name);
            if (inflateReset(&s->zs) != Z_OK) return XF_ERR(s->ctx, XF_ERR_INTERNAL, "%s: inflateReset failed", s->name);
            s->zend = 0;
        }
        if (s->zs.avail_in == 0) {
            const unsigned char *p;
            size_t m;
            xf_status st = raw_more(s, &p, &m);
            if (st) return st;
            if (m == 0) return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: gzip stream truncated (ends before its end marker)", s->name);
            s->zs.next_in = (unsigned char *)p;
            s->zs.avail_in = (uInt)m;
        }
        size_t want = n - *got;
        if (want > (1u << 30)) want = 1u << 30;
        s->zs.next_out = out + *got;
        s->zs.avail_out = (uInt)want;
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        size_t made = want - s->zs.avail_out;
        *got += made;
        s->out_pos += (int64_t)made;
        if (zr == Z_STREAM_END) s->zend = 1;
        else if (zr == Z_MEM_ERROR) return XF_ERR(s->ctx, XF_ERR_NOMEM, "%s: out of memory in zlib", s->name);
        else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR)
            return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: corrupt gzip data (%s)", s->name, s->zs.msg ? s->zs.msg : "zlib error");
        /* Z_OK / Z_BUF_ERROR: loop; more input is fetched above when needed */
    }
    return XF_OK;
}

static xf_status plain_read(xf_src *s, unsigned char *out, size_t n, size_t *got) {
    *got = 0;
    /* pending bytes from the sniffing chunk first */
    size_t k = s->zs.avail_in < n ? s->zs.avail_in : n;
    if (k) {
        memcpy(out, s->zs.next_in, k);
        s->zs.next_in += k;
        s->zs.avail_in -= (uInt)k;
        *got = k;
    }
    while (*got < n) {
        if (s->f) {
            size_t r = fread(out + *got, 1, n - *got, s->f);
            if (r == 0) {
                if (ferror(s->f)) return XF_ERR(s->ctx, XF_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
                break;
            }
            *got += r;
        } else {
            size_t r = s->memlen - s->mempos;
            if (r > n - *got) r = n - *got;
            if (r == 0) break;
            memcpy(out + *got, s->mem + s->mempos, r);
            s->mempos += r;
            *got += r;
        }
    }
    s->out_pos += (int64_t)*got;
    return XF_OK;
}

xf_status xf_src_read(xf_src *s, void *buf, size_t n, size_t *got) {
    return s->gz ? gz_read(s, buf, n, got) : plain_read(s, buf, n, got);
}

int64_t xf_src_remaining(const xf_src *s) {
    if (s->gz || s->raw_size < 0) return -1;
    return s->raw_size - s->out_pos;
}

void xf_src_close(xf_src *s) {
    if (s->zinit) inflateEnd(&s->zs);
    s->zinit = 0;
    if (s->f) fclose(s->f);
    s->f = NULL;
    if (s->in) xf_free(s->ctx, s->in);
    s->in = NULL;
}

xf_status xf_src_read_all(xf_src *s, size_t max, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    size_t cap = 1 << 16, have = 0;
    char *buf = xf_malloc(s->ctx, cap + 1);
    if (!buf) return XF_ERR_NOMEM;
    for (;;) {
        if (have == cap) {
            if (cap >= max) {
                xf_free(s->ctx, buf);
                return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: larger than the %zu-byte limit for this kind of file", s->name, max);
            }
            size_t nc = cap * 2 > max ? max : cap * 2;
            char *nb = xf_realloc(s->ctx, buf, nc + 1);
            if (!nb) { xf_free(s->ctx, buf); return XF_ERR_NOMEM; }
            buf = nb;
            cap = nc;
        }
        size_t got;
        xf_status st = xf_src_read(s, buf + have, cap - have, &got);
        if (st) { xf_free(s->ctx, buf); return st; }
        have += got;
        if (have < cap) break;
        if (have == max) {
            /* exactly at the limit: anything more is too much */
            char b;
            st = xf_src_read(s, &b, 1, &got);
            if (st) { xf_free(s->ctx, buf); return st; }
            if (got) {
                xf_free(s->ctx, buf);
                return XF_ERR(s->ctx, XF_ERR_FORMAT, "%s: larger than the %zu-byte limit for this kind of file", s->name, max);
            }
            break;
        }
    }
    buf[have] = 0;
    *out = buf;
    *len = have;
    return XF_OK;
}
