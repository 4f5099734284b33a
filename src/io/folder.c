/* Image folders: root/<class>/<file>, as torchvision's ImageFolder reads them.
 *
 * Design: a scan lists class folders (sub-directories not starting with '.') sorted in
 * byte order (strcmp; for UTF-8 names the same as Python's sorted() on str), and in each
 * class, like torchvision's make_dataset, every folder below it (sorted by full path,
 * at most 16 levels deep) with its files whose extension is .png, .jpg or .jpeg (any
 * case) sorted by name; other files are ignored, as ImageFolder ignores files without an
 * image extension. Names starting with '.' are skipped (.DS_Store, .ipynb_checkpoints). A
 * class folder without images is an error naming it (a typo'd or half-copied dataset
 * should not silently lose a class). Loading decodes one file at a time into the
 * preallocated (N, C, H, W) tensor; scratch is one workspace reset per image, so a big
 * folder costs one image of scratch. The output size and channel count default to the
 * first image's; with no size given, every image must have the first image's size. */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/ioInt.h"

void xf_folder_free(xf_ctx_t *ctx, xf_folder *f) {
    if (!f) return;
    if (f->classes)
        for (int i = 0; i < f->k; i++) xf_free(ctx, f->classes[i]);
    if (f->paths)
        for (int64_t i = 0; i < f->n; i++) xf_free(ctx, f->paths[i]);
    xf_free(ctx, f->classes);
    xf_free(ctx, f->paths);
    xf_free(ctx, f->labels);
    memset(f, 0, sizeof *f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *n) {
    const char *dot = strrchr(n, '.');
    if (!dot) return 0;
    char ext[8];
    size_t l = strlen(dot + 1);
    if (l == 0 || l >= sizeof ext) return 0;
    for (size_t i = 0; i <= l; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    return strcmp(ext, "png") == 0 || strcmp(ext, "jpg") == 0 || strcmp(ext, "jpeg") == 0;
}

/* a growable list of strings */
typedef struct {
    char **v;
    int64_t n, cap;
} strlist;

static xf_status sl_push(xf_ctx_t *ctx, strlist *l, const char *s) {
    if (l->n == l->cap) {
        int64_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = xf_realloc(ctx, l->v, sizeof(char *) * (size_t)nc);
        if (!nv) return XF_ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n] = xf_strdup(ctx, s);
    if (!l->v[l->n]) return XF_ERR_NOMEM;
    l->n++;
    return XF_OK;
}
static void sl_free(xf_ctx_t *ctx, strlist *l) {
    for (int64_t i = 0; i < l->n; i++) xf_free(ctx, l->v[i]);
    xf_free(ctx, l->v);
    memset(l, 0, sizeof *l);
}

static char *join(xf_ctx_t *ctx, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    char *p = xf_malloc(ctx, la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* Sorted names in dir: sub-directories (want_dirs) or image files. */
static xf_status list_dir(xf_ctx_t *ctx, const char *dir, int want_dirs, strlist *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open the folder", dir);
    struct dirent *e;
    xf_status st = XF_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = join(ctx, dir, e->d_name);
        if (!p) { st = XF_ERR_NOMEM; break; }
        int ok = want_dirs ? xf_io_is_dir(p) : (xf_io_is_file(p) && is_image_name(e->d_name));
        xf_free(ctx, p);
        if (ok && (st = sl_push(ctx, out, e->d_name))) break;
    }
    closedir(d);
    if (st) { sl_free(ctx, out); return st; }
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
    return XF_OK;
}

/* Every folder under dir (dir included), down to FOLDER_MAX_DEPTH levels. Directory
 * links are followed (as ImageFolder's os.walk(followlinks=True) does), so the folders
 * on the way down are kept as (device, inode) pairs: a folder that is one of its own
 * ancestors is a link loop (two links to '.' would multiply the images without end). */
#define FOLDER_MAX_DEPTH 16
typedef struct {
    dev_t dev[FOLDER_MAX_DEPTH + 2];
    ino_t ino[FOLDER_MAX_DEPTH + 2];
    const char *path[FOLDER_MAX_DEPTH + 2];
    int n;
} ancestors;

/* Pushes dir onto the ancestors, or fails naming it when it is one of them already. */
static xf_status enter(xf_ctx_t *ctx, ancestors *a, const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) != 0) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open the folder", dir);
    for (int i = 0; i < a->n; i++)
        if (a->dev[i] == sb.st_dev && a->ino[i] == sb.st_ino)
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: symbolic link loop: this folder is %s again", dir, a->path[i]);
    if (a->n >= FOLDER_MAX_DEPTH + 2) return XF_ERR(ctx, XF_ERR_INTERNAL, "%s: folder nesting deeper than expected", dir);
    a->dev[a->n] = sb.st_dev;
    a->ino[a->n] = sb.st_ino;
    a->path[a->n] = dir;
    a->n++;
    return XF_OK;
}

static xf_status walk(xf_ctx_t *ctx, const char *dir, int depth, ancestors *anc, strlist *dirs) {
    xf_status st = enter(ctx, anc, dir);
    if (st) return st;
    st = sl_push(ctx, dirs, dir);
    if (st || depth >= FOLDER_MAX_DEPTH) { anc->n--; return st; }
    strlist subs;
    if ((st = list_dir(ctx, dir, 1, &subs))) { anc->n--; return st; }
    for (int64_t i = 0; i < subs.n && !st; i++) {
        char *p = join(ctx, dir, subs.v[i]);
        if (!p) { st = XF_ERR_NOMEM; break; }
        st = walk(ctx, p, depth + 1, anc, dirs);
        xf_free(ctx, p);
    }
    sl_free(ctx, &subs);
    anc->n--;
    return st;
}

/* The images of one class as torchvision's make_dataset lists them: for each folder in
 * sorted(os.walk(class_dir)) order (full paths compared as strings), its image files
 * sorted by name. */
static xf_status class_files(xf_ctx_t *ctx, const char *cdir, ancestors *anc, strlist *out) {
    memset(out, 0, sizeof *out);
    strlist dirs = {0};
    xf_status st = walk(ctx, cdir, 0, anc, &dirs);
    if (!st && dirs.n > 1) qsort(dirs.v, (size_t)dirs.n, sizeof(char *), cmp_str);
    for (int64_t d = 0; d < dirs.n && !st; d++) {
        strlist files;
        if ((st = list_dir(ctx, dirs.v[d], 0, &files))) break;
        for (int64_t i = 0; i < files.n && !st; i++) {
            char *p = join(ctx, dirs.v[d], files.v[i]);
            if (!p) { st = XF_ERR_NOMEM; break; }
            st = sl_push(ctx, out, p);
            xf_free(ctx, p);
        }
        sl_free(ctx, &files);
    }
    sl_free(ctx, &dirs);
    if (st) sl_free(ctx, out);
    return st;
}

xf_status xf_folder_scan(xf_ctx_t *ctx, const char *root, xf_folder *out) {
    memset(out, 0, sizeof *out);
    if (!root) return XF_ERR(ctx, XF_ERR_INVALID, "image folder: root is NULL");
    if (!xf_io_is_dir(root)) return XF_ERR(ctx, XF_ERR_IO, "%s: not a folder", root);
    strlist cls, paths = {0};
    xf_status st = list_dir(ctx, root, 1, &cls);
    if (st) return st;
    if (cls.n == 0) {
        sl_free(ctx, &cls);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no class folders (expected root/<class>/<image>)", root);
    }
    if (cls.n > INT32_MAX) {
        sl_free(ctx, &cls);
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: too many classes", root);
    }
    int32_t *labels = NULL;
    int64_t lcap = 0;
    ancestors anc = {.n = 0};
    st = enter(ctx, &anc, root);
    for (int64_t c = 0; c < cls.n && !st; c++) {
        char *cdir = join(ctx, root, cls.v[c]);
        if (!cdir) { st = XF_ERR_NOMEM; break; }
        strlist files;
        st = class_files(ctx, cdir, &anc, &files);
        if (!st && files.n == 0) st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: empty class folder (no .png / .jpg / .jpeg files)", cdir);
        for (int64_t i = 0; !st && i < files.n; i++) {
            st = sl_push(ctx, &paths, files.v[i]);
            if (st) break;
            if (paths.n > lcap) {
                int64_t nc = lcap ? lcap * 2 : 64;
                int32_t *nl = xf_realloc(ctx, labels, sizeof(int32_t) * (size_t)nc);
                if (!nl) { st = XF_ERR_NOMEM; break; }
                labels = nl;
                lcap = nc;
            }
            labels[paths.n - 1] = (int32_t)c;
        }
        if (files.v) sl_free(ctx, &files);
        xf_free(ctx, cdir);
    }
    if (st) {
        sl_free(ctx, &cls);
        sl_free(ctx, &paths);
        xf_free(ctx, labels);
        return st;
    }
    out->k = (int)cls.n;
    out->classes = cls.v;
    out->n = paths.n;
    out->paths = paths.v;
    out->labels = labels;
    return XF_OK;
}

/* Output geometry from the options and the first readable image. */
xf_status xf_folder_geometry(xf_ctx_t *ctx, const xf_folder *f, const xf_data_opts *o, int *c, int *h, int *w, int64_t *first) {
    *first = 0;
    int skip = o && o->skip_bad;
    for (int64_t i = 0; i < f->n; i++) {
        xf_image img;
        xf_status st = xf_image_read(ctx, f->paths[i], &img);
        if (st) {
            if (!skip || st == XF_ERR_NOMEM) return st;
            xf_log(ctx, XF_LOG_WARN, "skipping %s", xf_errmsg(ctx));
            continue;
        }
        *c = o && o->channels ? o->channels : img.c;
        *h = o && o->height ? o->height : img.h;
        *w = o && o->width ? o->width : img.w;
        xf_image_free(ctx, &img);
        *first = i;
        if (*c != 1 && *c != 3) return XF_ERR(ctx, XF_ERR_INVALID, "channels %d: use 1 or 3", *c);
        if ((o && o->height && !o->width) || (o && !o->height && o->width))
            return XF_ERR(ctx, XF_ERR_INVALID, "give both height and width (got %dx%d)", o->height, o->width);
        return XF_OK;
    }
    return XF_ERR(ctx, XF_ERR_FORMAT, "image folder: no readable image among %lld files", (long long)f->n);
}

/* Decodes file i and writes its (c, h, w) tensor; size mismatch is an error when no
 * output size was asked for. */
xf_status xf_folder_load_one(xf_ctx_t *ctx, const xf_folder *f, int64_t i, const xf_data_opts *o, int c, int h, int w,
                             xf_ws_t *ws, float *dst) {
    xf_image img;
    xf_status st = xf_image_read(ctx, f->paths[i], &img);
    if (st) return st;
    if (!(o && o->height) && (img.h != h || img.w != w)) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: image is %dx%d but the folder's first image is %dx%d (give a size to resize)",
                    f->paths[i], img.h, img.w, h, w);
    } else {
        xf_ws_reset(ws);
        st = xf_image_to_tensor(ctx, &img, o, c, h, w, ws, dst);
        if (st && st != XF_ERR_NOMEM) xf_error_prefix(ctx, f->paths[i]);
    }
    xf_image_free(ctx, &img);
    return st;
}

xf_status xf_folder_load(xf_ctx_t *ctx, const char *root, const xf_data_opts *o, xf_dataset *out) {
    memset(out, 0, sizeof *out);
    xf_folder f;
    xf_status st = xf_folder_scan(ctx, root, &f);
    if (st) return st;
    int c, h, w;
    int64_t first;
    xf_ws_t *ws = NULL;
    st = xf_folder_geometry(ctx, &f, o, &c, &h, &w, &first);
    if (!st) st = xf_dataset_alloc(ctx, out, f.n, c, h, w, f.k);
    if (!st) st = xf_ws_create(ctx, &ws);
    size_t per = (size_t)c * h * w;
    int64_t kept = 0;
    for (int64_t i = 0; !st && i < f.n; i++) {
        st = i < first ? XF_ERR_FORMAT : xf_folder_load_one(ctx, &f, i, o, c, h, w, ws, out->x + (size_t)kept * per);
        if (st && o && o->skip_bad && st != XF_ERR_NOMEM && st != XF_ERR_INVALID) {
            if (i >= first) xf_log(ctx, XF_LOG_WARN, "skipping %s", xf_errmsg(ctx));
            xf_ctx_clear_error(ctx);
            st = XF_OK;
            continue;
        }
        if (!st) out->y[kept++] = f.labels[i];
        xf_progress(ctx, "decode", i + 1, f.n);
    }
    for (int j = 0; !st && j < f.k; j++) st = xf_dataset_set_class(ctx, out, j, f.classes[j]);
    xf_ws_free(ws);
    xf_folder_free(ctx, &f);
    if (st) {
        xf_dataset_free(ctx, out);
        return st;
    }
    if (kept == 0) {
        xf_dataset_free(ctx, out);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no readable image", root);
    }
    out->n = kept; /* skipped files leave unused space at the end of x and y */
    return XF_OK;
}
