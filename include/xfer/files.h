/* Input and output files: the one way xfer opens a file it reads and puts bytes at a
 * path the user named.
 *
 * Every writer in the library (npy, ONNX export, corpus files) opens its output with
 * xf_out_open and finishes it with xf_out_close. The rules (docs/SECURITY.md):
 *   - a regular file (or a path that does not exist yet) is written to a fresh temporary
 *     file beside it, PATH.tmp.<pid>.<n>, created with O_EXCL|O_NOFOLLOW, and renamed
 *     over PATH only when every byte was written; a symbolic link at PATH is replaced,
 *     its target is never written;
 *   - an existing character device or FIFO (/dev/null, /dev/stdout, a pipe) is written
 *     in place: it is never replaced by a regular file;
 *   - a directory, block device or socket at PATH is refused;
 *   - a path that is also an input of the command (same device and inode), or a path
 *     named twice as an output, is refused. While a group is open (below), every file
 *     the library reads is recorded as an input; xf_out_input adds inputs read otherwise.
 *
 * A command with several outputs brackets its work with xf_out_begin / xf_out_commit:
 * between them finished outputs stay under their temporary names, and commit renames
 * them all; xf_out_abort (or xf_ctx_free) removes them, so the outputs of a command
 * appear together or not at all. In-place outputs (devices, FIFOs) cannot be undone and
 * receive their bytes as they are written.
 *
 *     xf_out_begin(ctx);
 *     xf_out_input(ctx, model_path);               // inputs: never overwritten
 *     if (xf_out_claim(ctx, "F.npy") || xf_out_claim(ctx, "P.npy")) goto fail; // early check
 *     ... xf_npy_write(ctx, "F.npy", &f); xf_npy_write(ctx, "P.npy", &p); ...
 *     if (xf_out_commit(ctx)) goto fail;         // both appear now
 *   fail: xf_out_abort(ctx);                      // neither appears
 */
#ifndef XFER_FILES_H
#define XFER_FILES_H
#include <stdio.h>

#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xf_outfile {
    FILE *f;        /* write here */
    char *path;     /* the output path (owned) */
    char *tmp;      /* the temporary file, NULL when written in place (owned) */
} xf_outfile;

/* Opens path for writing under the rules above; errors name path. */
xf_status xf_out_open(xf_ctx_t *ctx, const char *path, xf_outfile *o);
/* Finishes o: ok != 0 and every write succeeded -> the file is renamed into place (or,
 * inside xf_out_begin/commit, kept for the commit); ok == 0 -> the temporary file is
 * removed. Returns an error naming the path when a write or the rename failed. */
xf_status xf_out_close(xf_ctx_t *ctx, xf_outfile *o, int ok);

/* Starts a group of outputs that appear together (see above). Groups nest: the outputs
 * of an inner begin/commit pair wait for the outermost commit; an abort ends them all. */
xf_status xf_out_begin(xf_ctx_t *ctx);
/* Registers an input file of the open group (ignored without one, and for NULL and
 * missing files); refused when it is an output already claimed. */
xf_status xf_out_input(xf_ctx_t *ctx, const char *path);
/* Checks an output path before any work: refused when it is an input, named twice, or
 * an existing directory, block device or socket. */
xf_status xf_out_claim(xf_ctx_t *ctx, const char *path);
/* Renames every finished output of the group into place and ends the group. */
xf_status xf_out_commit(xf_ctx_t *ctx);
/* The temporary file holding a finished output of the open group (NULL when path is not
 * one): to read back what will appear at path once committed. */
const char *xf_out_pending(xf_ctx_t *ctx, const char *path);
/* Removes every finished output of the group not yet committed and ends the group. */
void xf_out_abort(xf_ctx_t *ctx);

/* ---- inputs ----
 * Opens an input for reading: only a regular file is read. The open does not block (a
 * FIFO with no writer would hang the command for ever), and a directory, FIFO, device or
 * socket is refused with one line naming path. *fd / *f belong to the caller. */
xf_status xf_file_open_fd(xf_ctx_t *ctx, const char *path, int *fd);
xf_status xf_file_open(xf_ctx_t *ctx, const char *path, FILE **f);

/* ---- folders ----
 * mkdir -p: creates dir and every missing parent (mode 0777 less the umask); an existing
 * folder is fine. Errors name the first component that fails: "<p>: cannot create <what>:
 * <reason>", or "... a file is in the way" when a non-folder stands there. */
xf_status xf_dir_create(xf_ctx_t *ctx, const char *dir, const char *what);

/* Removes leftover temporary files (NAME.tmp.<pid> and NAME.tmp.<pid>.<n>) of processes
 * that no longer run, in dir and its subdirectories down to `depth` levels; returns the
 * number removed. For commands that write into a folder (xfer data build). */
int xf_out_sweep(xf_ctx_t *ctx, const char *dir, int depth);

#ifdef __cplusplus
}
#endif
#endif
