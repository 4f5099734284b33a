/* Input and output files (include/xfer/files.h): temporary file + rename for regular files, in
 * place for character devices and FIFOs, refusal for what must never be written over
 * (an input of the command, a directory, a block device), and groups of outputs that
 * appear together.
 *
 * Design: the state of a group lives on the context (no global state): the inputs as
 * (device, inode) pairs, the outputs claimed so far under a key (device and inode when
 * the file exists, else the real path of its folder joined with its name, so that
 * "a/../F.npy" and "F.npy" are one output), and the finished temporary files waiting
 * for the commit. Temporary names carry the process id so that a later run can tell a
 * leftover of a dead process (xf_out_sweep) from a file being written. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coreInt.h"
#include "xfer/files.h"

typedef struct {
    char *key;      /* identity, see above */
    char *path;
    char *tmp;      /* finished, waiting for the commit; NULL before */
    int opened;
} out_entry;

struct xf_outgroup {
    int active;     /* open groups: nested begin/commit pairs form one group */
    dev_t *in_dev;  /* (n_in) */
    ino_t *in_ino;  /* (n_in) */
    char **in_path; /* (n_in) for messages */
    int n_in, cap_in;
    out_entry *out; /* (n_out) */
    int n_out, cap_out;
    unsigned serial; /* temporary name counter */
};

static struct xf_outgroup *group(xf_ctx_t *ctx) {
    if (!ctx->out && (ctx->out = xf_calloc(ctx, 1, sizeof *ctx->out)) == NULL) return NULL;
    return ctx->out;
}

/* Identity of an output path: "d<dev>:<ino>" when it exists, else realpath(dir)/name. */
static char *out_key(xf_ctx_t *ctx, const char *path) {
    struct stat sb;
    char buf[PATH_MAX + 64];
    if (stat(path, &sb) == 0) {
        snprintf(buf, sizeof buf, "d%llu:%llu", (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
        return xf_strdup(ctx, buf);
    }
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    const char *name = slash ? slash + 1 : path;
    size_t dl = slash ? (size_t)(slash - path) : 1;
    if (dl >= sizeof dir) return xf_strdup(ctx, path);
    if (slash) {
        memcpy(dir, path, dl);
        dir[dl ? dl : 1] = 0;
        if (!dl) dir[0] = '/';
    } else strcpy(dir, ".");
    if (!realpath(dir, real)) return xf_strdup(ctx, path);
    snprintf(buf, sizeof buf, "p%s/%s", real, name);
    return xf_strdup(ctx, buf);
}

/* The kinds of file an output may not be written over, and the input check. */
static xf_status check_target(xf_ctx_t *ctx, const char *path, int *in_place) {
    struct stat sb;
    *in_place = 0;
    if (!path || !*path) return XF_ERR(ctx, XF_ERR_INVALID, "output path is empty");
    if (stat(path, &sb) != 0) return XF_OK; /* created */
    if (S_ISDIR(sb.st_mode)) return XF_ERR(ctx, XF_ERR_IO, "%s: output is a directory", path);
    if (S_ISBLK(sb.st_mode)) return XF_ERR(ctx, XF_ERR_IO, "%s: output is a block device; refusing to write to it", path);
    if (S_ISSOCK(sb.st_mode)) return XF_ERR(ctx, XF_ERR_IO, "%s: output is a socket; refusing to write to it", path);
    if (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)) *in_place = 1;
    else if (!S_ISREG(sb.st_mode)) return XF_ERR(ctx, XF_ERR_IO, "%s: output is not a regular file; refusing to write to it", path);
    struct xf_outgroup *g = ctx->out;
    for (int i = 0; g && i < g->n_in; i++)
        if (g->in_dev[i] == sb.st_dev && g->in_ino[i] == sb.st_ino)
            return XF_ERR(ctx, XF_ERR_INVALID, "%s: output is also an input of this command (%s); refusing to overwrite it", path,
                          g->in_path[i]);
    return XF_OK;
}

xf_status xf_out_begin(xf_ctx_t *ctx) {
    if (!ctx) return XF_ERR_INVALID;
    struct xf_outgroup *g = group(ctx);
    if (!g) return XF_ERR_NOMEM;
    g->active++;
    return XF_OK;
}

/* Records an input (already stat'ed) of the open group; an input that is a claimed
 * output is refused (the output would replace what is being read). */
static xf_status add_input(xf_ctx_t *ctx, const char *path, const struct stat *sb) {
    struct xf_outgroup *g = group(ctx);
    if (!g) return XF_ERR_NOMEM;
    char key[64];
    snprintf(key, sizeof key, "d%llu:%llu", (unsigned long long)sb->st_dev, (unsigned long long)sb->st_ino);
    for (int i = 0; i < g->n_out; i++)
        if (!strcmp(g->out[i].key, key))
            return XF_ERR(ctx, XF_ERR_INVALID, "%s: output is also an input of this command (%s); refusing to overwrite it",
                          g->out[i].path, path);
    if (g->n_in == g->cap_in) {
        int nc = g->cap_in ? 2 * g->cap_in : 8;
        dev_t *d = xf_realloc(ctx, g->in_dev, sizeof *d * (size_t)nc);
        if (!d) return XF_ERR_NOMEM;
        g->in_dev = d;
        ino_t *n = xf_realloc(ctx, g->in_ino, sizeof *n * (size_t)nc);
        if (!n) return XF_ERR_NOMEM;
        g->in_ino = n;
        char **p = xf_realloc(ctx, g->in_path, sizeof *p * (size_t)nc);
        if (!p) return XF_ERR_NOMEM;
        g->in_path = p;
        g->cap_in = nc;
    }
    if (!(g->in_path[g->n_in] = xf_strdup(ctx, path))) return XF_ERR_NOMEM;
    g->in_dev[g->n_in] = sb->st_dev;
    g->in_ino[g->n_in] = sb->st_ino;
    g->n_in++;
    return XF_OK;
}

xf_status xf_out_input(xf_ctx_t *ctx, const char *path) {
    if (!ctx) return XF_ERR_INVALID;
    struct stat sb;
    if (!ctx->out || !ctx->out->active || !path || stat(path, &sb) != 0) return XF_OK;
    return add_input(ctx, path, &sb);
}

/* Finds or adds the output entry of path; `opening` marks it opened (a second open of
 * the same output in one group is a path named twice). */
static xf_status claim(xf_ctx_t *ctx, const char *path, int opening) {
    struct xf_outgroup *g = ctx->out;
    char *key = out_key(ctx, path);
    if (!key) return XF_ERR_NOMEM;
    for (int i = 0; i < g->n_out; i++)
        if (!strcmp(g->out[i].key, key)) {
            xf_free(ctx, key);
            if (!opening || g->out[i].opened)
                return XF_ERR(ctx, XF_ERR_INVALID, "%s: named twice as an output of this command (also as %s)", path, g->out[i].path);
            g->out[i].opened = 1;
            return XF_OK;
        }
    if (g->n_out == g->cap_out) {
        int nc = g->cap_out ? 2 * g->cap_out : 8;
        out_entry *e = xf_realloc(ctx, g->out, sizeof *e * (size_t)nc);
        if (!e) { xf_free(ctx, key); return XF_ERR_NOMEM; }
        g->out = e;
        g->cap_out = nc;
    }
    out_entry *e = &g->out[g->n_out];
    memset(e, 0, sizeof *e);
    e->key = key;
    if (!(e->path = xf_strdup(ctx, path))) { xf_free(ctx, key); return XF_ERR_NOMEM; }
    e->opened = opening;
    g->n_out++;
    return XF_OK;
}

xf_status xf_out_claim(xf_ctx_t *ctx, const char *path) {
    if (!ctx) return XF_ERR_INVALID;
    int in_place;
    xf_status st = check_target(ctx, path, &in_place);
    if (st) return st;
    if (!group(ctx)) return XF_ERR_NOMEM;
    return claim(ctx, path, 0);
}

xf_status xf_out_open(xf_ctx_t *ctx, const char *path, xf_outfile *o) {
    memset(o, 0, sizeof *o);
    if (!ctx) return XF_ERR_INVALID;
    int in_place;
    xf_status st = check_target(ctx, path, &in_place);
    if (st) return st;
    if (ctx->out && ctx->out->active && (st = claim(ctx, path, 1))) return st;
    if (!(o->path = xf_strdup(ctx, path))) return XF_ERR_NOMEM;
    if (in_place) {
        o->f = fopen(path, "wb");
        if (!o->f) {
            st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
            xf_free(ctx, o->path);
            o->path = NULL;
        }
        return st;
    }
    size_t tl = strlen(path) + 48;
    if (!(o->tmp = xf_malloc(ctx, tl))) {
        xf_free(ctx, o->path);
        o->path = NULL;
        return XF_ERR_NOMEM;
    }
    struct xf_outgroup *g = group(ctx);
    unsigned serial = g ? g->serial : 0;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(o->tmp, tl, "%s.tmp.%ld.%u", path, (long)getpid(), serial++);
        /* O_EXCL|O_NOFOLLOW: a file or link planted at the temporary name is never followed */
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (g) g->serial = serial;
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        if (fd >= 0) { close(fd); unlink(o->tmp); }
        xf_free(ctx, o->tmp);
        xf_free(ctx, o->path);
        memset(o, 0, sizeof *o);
    }
    return st;
}

xf_status xf_out_close(xf_ctx_t *ctx, xf_outfile *o, int ok) {
    xf_status st = XF_OK;
    if (!o->path) return XF_OK;
    int werr = 0;
    if (o->f) {
        werr = ferror(o->f) || fflush(o->f) != 0;
        int e = errno;
        werr |= fclose(o->f) != 0;
        if (!werr) e = 0;
        else if (!e) e = errno;
        o->f = NULL;
        if (werr && ok) st = XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", o->path, e ? strerror(e) : "I/O error");
    }
    if (o->tmp) {
        struct xf_outgroup *g = ctx ? ctx->out : NULL;
        if (!ok || st) unlink(o->tmp);
        else if (g && g->active) {
            /* kept for the commit: the entry takes the temporary name */
            char *key = out_key(ctx, o->path);
            int found = 0;
            for (int i = 0; key && i < g->n_out && !found; i++)
                if (!strcmp(g->out[i].key, key) && !g->out[i].tmp) {
                    g->out[i].tmp = o->tmp;
                    o->tmp = NULL;
                    found = 1;
                }
            xf_free(ctx, key);
            if (!found) {
                unlink(o->tmp);
                st = key ? XF_ERR(ctx, XF_ERR_INTERNAL, "%s: output was not opened in this group", o->path) : XF_ERR_NOMEM;
            }
        } else if (rename(o->tmp, o->path) != 0) {
            st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot rename into place: %s", o->path, strerror(errno));
            unlink(o->tmp);
        }
    }
    xf_free(ctx, o->tmp);
    xf_free(ctx, o->path);
    memset(o, 0, sizeof *o);
    return st;
}

static void group_end(xf_ctx_t *ctx, int remove_pending) {
    struct xf_outgroup *g = ctx->out;
    if (!g) return;
    for (int i = 0; i < g->n_out; i++) {
        if (g->out[i].tmp && remove_pending) unlink(g->out[i].tmp);
        xf_free(ctx, g->out[i].tmp);
        xf_free(ctx, g->out[i].key);
        xf_free(ctx, g->out[i].path);
    }
    for (int i = 0; i < g->n_in; i++) xf_free(ctx, g->in_path[i]);
    xf_free(ctx, g->out);
    xf_free(ctx, g->in_dev);
    xf_free(ctx, g->in_ino);
    xf_free(ctx, g->in_path);
    xf_free(ctx, g);
    ctx->out = NULL;
}

xf_status xf_out_commit(xf_ctx_t *ctx) {
    if (!ctx) return XF_ERR_INVALID;
    struct xf_outgroup *g = ctx->out;
    xf_status st = XF_OK;
    if (g && g->active > 1) { /* an inner group: its outputs wait for the outermost commit */
        g->active--;
        return XF_OK;
    }
    for (int i = 0; g && i < g->n_out; i++) {
        if (!g->out[i].tmp) continue;
        if (!st && rename(g->out[i].tmp, g->out[i].path) != 0)
            st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot rename into place: %s", g->out[i].path, strerror(errno));
        if (st) unlink(g->out[i].tmp);
    }
    group_end(ctx, 1);
    return st;
}

const char *xf_out_pending(xf_ctx_t *ctx, const char *path) {
    struct xf_outgroup *g = ctx ? ctx->out : NULL;
    if (!g || !g->active || !path) return NULL;
    char *key = out_key(ctx, path);
    const char *tmp = NULL;
    for (int i = 0; key && i < g->n_out && !tmp; i++)
        if (!strcmp(g->out[i].key, key)) tmp = g->out[i].tmp;
    xf_free(ctx, key);
    return tmp;
}

void xf_out_abort(xf_ctx_t *ctx) {
    if (ctx) group_end(ctx, 1);
}

/* NAME.tmp.<pid> or NAME.tmp.<pid>.<n>: the pid, or 0 when name is not a temporary. */
static long tmp_pid(const char *name) {
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) t = p;
    if (!t || t == name) return 0;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (end == t + 5 || pid <= 0) return 0;
    if (*end == '.') {
        const char *q = end + 1;
        if (!*q) return 0;
        for (; *q; q++)
            if (*q < '0' || *q > '9') return 0;
    } else if (*end) return 0;
    return pid;
}

int xf_out_sweep(xf_ctx_t *ctx, const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    size_t dl = strlen(dir);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t need = dl + strlen(e->d_name) + 2;
        char *p = xf_malloc(ctx, need);
        if (!p) break;
        snprintf(p, need, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0) {
            long pid = tmp_pid(e->d_name);
            if (S_ISDIR(sb.st_mode)) {
                if (depth > 0) removed += xf_out_sweep(ctx, p, depth - 1);
            } else if (S_ISREG(sb.st_mode) && pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                if (unlink(p) == 0) removed++;
            }
        }
        xf_free(ctx, p);
    }
    closedir(d);
    return removed;
}

xf_status xf_file_open_fd(xf_ctx_t *ctx, const char *path, int *fd) {
    *fd = -1;
    if (!path) return XF_ERR(ctx, XF_ERR_INVALID, "input path is NULL");
    int d = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (d < 0) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(d, &sb) != 0) {
        int e = errno;
        close(d);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(d);
        return XF_ERR(ctx, XF_ERR_IO, "%s: is a directory, expected a file", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(d);
        return XF_ERR(ctx, XF_ERR_IO, "%s: not a regular file (a FIFO, device or socket); inputs must be regular files", path);
    }
    /* inside a group of outputs, every file read is an input that no output may replace */
    if (ctx && ctx->out && ctx->out->active) {
        xf_status st = add_input(ctx, path, &sb);
        if (st) {
            close(d);
            return st;
        }
    }
    int fl = fcntl(d, F_GETFL);
    if (fl >= 0) fcntl(d, F_SETFL, fl & ~O_NONBLOCK);
    *fd = d;
    return XF_OK;
}

xf_status xf_file_open(xf_ctx_t *ctx, const char *path, FILE **f) {
    *f = NULL;
    int fd;
    xf_status st = xf_file_open_fd(ctx, path, &fd);
    if (st) return st;
    if (!(*f = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    return XF_OK;
}

xf_status xf_dir_create(xf_ctx_t *ctx, const char *dir, const char *what) {
    char p[4096];
    size_t l = strlen(dir);
    if (l >= sizeof p) return XF_ERR(ctx, XF_ERR_INVALID, "%s: path too long", what);
    memcpy(p, dir, l + 1);
    for (size_t i = 1; i <= l; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        struct stat sb;
        if (stat(p, &sb) != 0) {
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create %s: %s", p, what, strerror(errno));
        } else if (!S_ISDIR(sb.st_mode))
            return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create %s: a file is in the way", p, what);
        p[i] = c;
    }
    return XF_OK;
}
