/* Writing one split of a corpus task in the layout xf_data_open reads back
 * (include/xfer/data.h, "The embedded corpus layout"): <taskdir>/<split>_x.npy,
 * <split>_y.npy and classes.txt. Having the writer here keeps the two sides of the
 * layout in one module. Every file is written to a temporary name and renamed into place
 * (the .npy writer does this; classes.txt here), so a killed build leaves no half file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer/files.h"
#include "io/ioInt.h"
#include "xfer/npy.h"

/* mkdir -p */
static xf_status mkdirs(xf_ctx_t *ctx, const char *dir) {
    char buf[4096];
    size_t l = strlen(dir);
    if (l == 0 || l >= sizeof buf) return XF_ERR(ctx, XF_ERR_INVALID, "corpus: folder name '%s' is empty or too long", dir);
    memcpy(buf, dir, l + 1);
    for (size_t i = 1; i <= l; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
        buf[i] = c;
    }
    if (!xf_io_is_dir(dir)) return XF_ERR(ctx, XF_ERR_IO, "%s: not a folder", dir);
    return XF_OK;
}

xf_status xf_corpus_write_split(xf_ctx_t *ctx, const char *taskdir, const char *split, const xf_dataset *ds, int store_u8) {
    if (!taskdir || !split || !*split || strchr(split, '/') || !ds)
        return XF_ERR(ctx, XF_ERR_INVALID, "corpus: bad arguments (task folder, split name and dataset are required)");
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= ds->k)
            return XF_ERR(ctx, XF_ERR_INVALID, "corpus %s: label %d of sample %lld outside 0..%d", taskdir, (int)ds->y[i], (long long)i, ds->k - 1);
    xf_status st = mkdirs(ctx, taskdir);
    if (st) return st;
    size_t need = strlen(taskdir) + strlen(split) + 32;
    char *p = xf_malloc(ctx, need);
    if (!p) return XF_ERR_NOMEM;
    size_t cnt = (size_t)ds->n * ds->c * ds->h * ds->w;
    int64_t shape[4] = {ds->n, ds->c, ds->h, ds->w};
    snprintf(p, need, "%s/%s_x.npy", taskdir, split);
    if (store_u8) {
        uint8_t *u = xf_malloc(ctx, cnt ? cnt : 1);
        if (!u) { xf_free(ctx, p); return XF_ERR_NOMEM; }
        for (size_t i = 0; i < cnt && !st; i++) {
            float v = ds->x[i];
            if (!(v >= -0.5f / 255 && v <= 1.0f + 0.5f / 255))
                st = XF_ERR(ctx, XF_ERR_INVALID, "corpus %s: pixel %zu = %g is outside [0, 1]; cannot store as uint8", taskdir, i, (double)v);
            else u[i] = (uint8_t)lrintf(v * 255.0f);
        }
        if (!st) st = xf_npy_write_raw(ctx, p, XF_DT_U8, 4, shape, u);
        xf_free(ctx, u);
    } else {
        st = xf_npy_write_raw(ctx, p, XF_DT_F32, 4, shape, ds->x);
    }
    int64_t *y = NULL;
    if (!st && !(y = xf_malloc(ctx, sizeof(int64_t) * (size_t)(ds->n ? ds->n : 1)))) st = XF_ERR_NOMEM;
    if (!st) {
        for (int64_t i = 0; i < ds->n; i++) y[i] = ds->y[i];
        snprintf(p, need, "%s/%s_y.npy", taskdir, split);
        st = xf_npy_write_raw(ctx, p, XF_DT_I64, 1, &ds->n, y);
    }
    xf_free(ctx, y);
    if (!st) {
        snprintf(p, need, "%s/classes.txt", taskdir);
        xf_outfile out;
        st = xf_out_open(ctx, p, &out);
        int ok = !st;
        for (int i = 0; ok && i < ds->k; i++) {
            const char *nm = ds->classes && ds->classes[i] ? ds->classes[i] : "";
            if (!*nm || strpbrk(nm, "\r\n")) {
                st = XF_ERR(ctx, XF_ERR_INVALID, "corpus %s: class %d has an empty or multi-line name", taskdir, i);
                ok = 0;
            } else ok = fprintf(out.f, "%s\n", nm) >= 0;
        }
        if (!st) {
            if (!ok) {
                int e = errno;
                xf_out_close(ctx, &out, 0);
                st = XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", p, strerror(e));
            } else st = xf_out_close(ctx, &out, 1);
        } else xf_out_close(ctx, &out, 0);
    }
    xf_free(ctx, p);
    return st;
}
