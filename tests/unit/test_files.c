/* Input and output files (include/xfer/files.h): temporary file + rename, devices and
 * FIFOs written in place, refusals (directory, input named as output, a path named
 * twice), groups that appear together or not at all, symbolic links replaced and never
 * followed, leftover temporaries of dead processes swept, inputs that never block. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xfer/onnx.h"
#include "xfer/xfer.h"
#include "xtest.h"

static char T[1024];

static const char *tp(const char *rel, char *buf) {
    snprintf(buf, 1100, "%s/%s", T, rel);
    return buf;
}

static int exists(const char *p) {
    struct stat sb;
    return lstat(p, &sb) == 0;
}

/* entries of T whose name contains ".tmp." */
static int temporaries(void) {
    DIR *d = opendir(T);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void write_text(const char *p, const char *s) {
    FILE *f = fopen(p, "wb");
    if (f) { fputs(s, f); fclose(f); }
}

static xf_status npy(xf_ctx_t *ctx, const char *p, float v) {
    float x[3] = {v, v, v};
    int64_t sh[1] = {3};
    return xf_npy_write_raw(ctx, p, XF_DT_F32, 1, sh, x);
}

static void test_single(xf_ctx_t *ctx) {
    char a[1100], b[1100];
    /* a regular file: written, no temporary left */
    CHECK_OK(ctx, npy(ctx, tp("plain.npy", a), 1));
    CHECK(exists(a) && temporaries() == 0, "plain write leaves the file and no temporary");
    /* a symbolic link at the output path is replaced; its target is never written */
    write_text(tp("target.txt", b), "keep me");
    CHECK(symlink(b, tp("link.npy", a)) == 0, "symlink");
    CHECK_OK(ctx, npy(ctx, a, 2));
    struct stat sb;
    CHECK(lstat(a, &sb) == 0 && S_ISREG(sb.st_mode), "the link became a regular file");
    CHECK(stat(b, &sb) == 0 && sb.st_size == 7, "the link's target is untouched (%lld bytes)", (long long)sb.st_size);
    /* a directory is refused */
    mkdir(tp("adir", a), 0777);
    CHECK_ST(ctx, npy(ctx, a, 3), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "adir") && strstr(xf_errmsg(ctx), "directory"), "directory message: %s", xf_errmsg(ctx));
    /* a character device stays one: a private copy of /dev/null (mknod needs root; never
     * the system's own, which a regression would replace) */
    if (mknod(tp("nul", a), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        CHECK_OK(ctx, npy(ctx, a, 4));
        CHECK(lstat(a, &sb) == 0 && S_ISCHR(sb.st_mode), "the device is still a character device");
        unlink(a);
    } else
        printf("test_files: character device part skipped (mknod: not root)\n");
    /* a FIFO is written in place: the reader gets the bytes, the FIFO stays */
    CHECK(mkfifo(tp("fifo", a), 0666) == 0, "mkfifo");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(a, O_RDONLY);
        char buf[256];
        ssize_t n, tot = 0;
        while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) tot += n;
        _exit(tot == 128 + 12 ? 0 : 1); /* header (128 bytes) + 3 floats */
    }
    CHECK_OK(ctx, npy(ctx, a, 5));
    int ws = -1;
    waitpid(pid, &ws, 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the FIFO's reader got the whole file");
    CHECK(lstat(a, &sb) == 0 && S_ISFIFO(sb.st_mode), "the FIFO is still a FIFO");
    /* a full device: the write error is reported */
    if (access("/dev/full", W_OK) == 0) {
        CHECK_ST(ctx, npy(ctx, "/dev/full", 6), XF_ERR_IO);
        CHECK(strstr(xf_errmsg(ctx), "/dev/full") != NULL, "full device message: %s", xf_errmsg(ctx));
    }
    /* a missing folder: one line naming the path, nothing left behind */
    CHECK_ST(ctx, npy(ctx, tp("no/such/dir/x.npy", a), 7), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "no/such/dir/x.npy") != NULL, "missing folder message: %s", xf_errmsg(ctx));
    CHECK(temporaries() == 0, "no temporaries after the failures");
}

static void test_group(xf_ctx_t *ctx) {
    char in[1100], o1[1100], o2[1100], o3[1100];
    write_text(tp("input.npy", in), "input bytes");
    tp("out1.npy", o1);
    tp("out2.npy", o2);
    /* an input named as output: refused, by inode (another spelling of the same file too) */
    CHECK_OK(ctx, xf_out_begin(ctx));
    CHECK_OK(ctx, xf_out_input(ctx, in));
    CHECK_ST(ctx, xf_out_claim(ctx, in), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "also an input"), "input as output: %s", xf_errmsg(ctx));
    char alias[1200];
    snprintf(alias, sizeof alias, "%s/./input.npy", T);
    CHECK_ST(ctx, npy(ctx, alias, 1), XF_ERR_INVALID);
    char hard[1100];
    CHECK(link(in, tp("hardlink.npy", hard)) == 0, "hard link");
    CHECK_ST(ctx, npy(ctx, hard, 1), XF_ERR_INVALID);
    /* a path named twice, even spelled differently and not yet existing */
    CHECK_OK(ctx, xf_out_claim(ctx, o1));
    snprintf(alias, sizeof alias, "%s/adir/../out1.npy", T);
    CHECK_ST(ctx, xf_out_claim(ctx, alias), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "named twice"), "twice: %s", xf_errmsg(ctx));
    /* two outputs, then abort: neither appears, no temporary stays */
    CHECK_OK(ctx, npy(ctx, o1, 1));
    CHECK_OK(ctx, npy(ctx, o2, 2));
    CHECK(!exists(o1) && !exists(o2), "nothing appears before the commit");
    xf_out_abort(ctx);
    CHECK(!exists(o1) && !exists(o2) && temporaries() == 0, "abort: no output, no temporary");
    CHECK(exists(in), "the input is still there");
    /* a failure in the middle: the first output does not appear either */
    CHECK_OK(ctx, xf_out_begin(ctx));
    CHECK_OK(ctx, npy(ctx, o1, 1));
    CHECK_ST(ctx, npy(ctx, tp("no/such/out.npy", o3), 2), XF_ERR_IO);
    xf_out_abort(ctx);
    CHECK(!exists(o1) && temporaries() == 0, "a failed group leaves nothing");
    /* commit: both appear */
    CHECK_OK(ctx, xf_out_begin(ctx));
    CHECK_OK(ctx, npy(ctx, o1, 1));
    CHECK_OK(ctx, npy(ctx, o2, 2));
    CHECK_OK(ctx, xf_out_commit(ctx));
    CHECK(exists(o1) && exists(o2) && temporaries() == 0, "commit: both outputs, no temporary");
    /* an open group at xf_ctx_free: its outputs never appear */
    xf_ctx_t *c2;
    CHECK(xf_ctx_create(&c2) == XF_OK, "ctx");
    CHECK_OK(c2, xf_out_begin(c2));
    CHECK_OK(c2, npy(c2, tp("late.npy", o3), 1));
    xf_ctx_free(c2);
    CHECK(!exists(o3) && temporaries() == 0, "a group left open at xf_ctx_free leaves nothing");
}

static void test_sweep(xf_ctx_t *ctx) {
    char a[1100], b[1100], c[1100], d[1100], sub[1100], e[1100];
    /* pid 4194305 is above Linux's largest pid (2^22): no process has it */
    write_text(tp("x.npy.tmp.4194305", a), "stale");
    write_text(tp("y.npy.tmp.4194305.3", b), "stale");
    snprintf(c, sizeof c, "%s/z.npy.tmp.%ld.0", T, (long)getpid());
    write_text(c, "mine");
    write_text(tp("notes.tmp.txt", d), "not a temporary");
    mkdir(tp("sub", sub), 0777);
    snprintf(e, sizeof e, "%s/w.npy.tmp.4194305", sub);
    write_text(e, "stale");
    int n = xf_out_sweep(ctx, T, 1);
    CHECK(n == 3, "swept %d (want 3)", n);
    CHECK(!exists(a) && !exists(b) && !exists(e), "stale temporaries removed");
    CHECK(exists(c) && exists(d), "this process's temporary and other files kept");
    unlink(c);
    unlink(d);
}

static void test_inputs(xf_ctx_t *ctx) {
    char f[1100];
    xf_array arr;
    /* a FIFO with no writer: refused at once (a blocking open would hang here) */
    tp("in_fifo", f);
    CHECK(mkfifo(f, 0666) == 0, "mkfifo");
    CHECK_ST(ctx, xf_npy_read(ctx, f, &arr), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "not a regular file") && strstr(xf_errmsg(ctx), "in_fifo"), "FIFO input: %s", xf_errmsg(ctx));
    xf_graph *g = NULL;
    CHECK_ST(ctx, xf_onnx_import(ctx, f, &g), XF_ERR_IO);
    CHECK_ST(ctx, xf_idx_read(ctx, f, &arr), XF_ERR_IO);
    xf_image img;
    CHECK_ST(ctx, xf_image_read(ctx, f, &img), XF_ERR_IO);
    /* a directory and a character device */
    CHECK_ST(ctx, xf_npy_read(ctx, T, &arr), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "directory") != NULL, "directory input: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_npy_read(ctx, "/dev/zero", &arr), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "/dev/zero") != NULL, "device input: %s", xf_errmsg(ctx));
}

/* xf_dir_create: mkdir -p, an existing folder is fine, a file in the way and an over-long
 * path are refused with one line naming what. */
static void test_dir_create(xf_ctx_t *ctx) {
    char d[1100], f[1100], g[1100];
    CHECK_OK(ctx, xf_dir_create(ctx, tp("mk/a/b", d), "folder"));
    struct stat sb;
    CHECK(stat(d, &sb) == 0 && S_ISDIR(sb.st_mode), "mk/a/b created");
    CHECK_OK(ctx, xf_dir_create(ctx, d, "folder"));
    write_text(tp("mk/file", f), "x");
    snprintf(g, sizeof g, "%s/c", f);
    CHECK_ST(ctx, xf_dir_create(ctx, g, "the test folder"), XF_ERR_IO);
    CHECK(strstr(xf_errmsg(ctx), "mk/file: cannot create the test folder: a file is in the way") != NULL, "%s",
          xf_errmsg(ctx));
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    big[4999] = 0;
    CHECK_ST(ctx, xf_dir_create(ctx, big, "the test folder"), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "the test folder: path too long") != NULL, "%s", xf_errmsg(ctx));
    free(big);
}

int main(void) {
    xt_tmp("files", T, sizeof T);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0) return 1;
    mkdir(T, 0777);
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    test_single(ctx);
    test_group(ctx);
    test_sweep(ctx);
    test_inputs(ctx);
    test_dir_create(ctx);
    xf_ctx_free(ctx);
    if (system(cmd) != 0) return 1;
    return xt_done("test_files");
}
