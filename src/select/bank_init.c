/* Writing DIR/bank.json (xf_bank_init, include/xfer/bank.h).
 *
 * An existing bank.json is the authority: its entries keep every key they have, in their
 * order, and only missing keys are added, from the model's graph. That is how the expert
 * builder works (it writes name, file, kind, slice, label_prior and lets init do the rest)
 * and how a user overrides detection (write "architecture" or "feature_tensor" by hand,
 * rerun init). *.onnx files of DIR that no entry names get new entries. The result is
 * checked with the same strict reader xf_bank_open uses before it replaces the old file
 * (temporary file + rename), so a bank.json init writes always opens. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bankInt.h"
#include "xfer/onnx.h"

void xf_bank_init_opts_default(xf_bank_init_opts *o) {
    memset(o, 0, sizeof *o);
    for (int c = 0; c < 3; c++) o->mean[c] = 0, o->std[c] = 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The *.onnx names directly in dir, sorted; *names: free each and the array with free(). */
static xf_status list_onnx(xf_ctx_t *ctx, const char *dir, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return XF_ERR(ctx, errno == ENOENT ? XF_ERR_NOTFOUND : XF_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *de;
    int cap = 0;
    xf_status st = XF_OK;
    while ((de = readdir(d)) && !st) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l <= 5 || strcmp(de->d_name + l - 5, ".onnx")) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(*names, (size_t)cap * sizeof *nn);
            if (!nn) { st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", dir); break; }
            *names = nn;
        }
        if (!((*names)[*n] = strdup(de->d_name))) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", dir);
        else ++*n;
    }
    closedir(d);
    if (*n > 1) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return st;
}

static const char *strip_dot(const char *f) { return f[0] == '.' && f[1] == '/' ? f + 2 : f; }

static int name_taken(const cJSON *models, const char *name) {
    for (const cJSON *e = models->child; e; e = e->next) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(v) && !strcmp(v->valuestring, name)) return 1;
    }
    return 0;
}

/* A new entry {"name": stem (made unique), "file": file}. */
static cJSON *new_entry(const cJSON *models, const char *file) {
    char name[512];
    size_t l = strlen(file) - 5;
    snprintf(name, sizeof name, "%.*s", (int)(l < 400 ? l : 400), file);
    for (int k = 2; name_taken(models, name); k++)
        snprintf(name, sizeof name, "%.*s-%d", (int)(l < 400 ? l : 400), file, k);
    cJSON *e = cJSON_CreateObject();
    if (e && (!cJSON_AddStringToObject(e, "name", name) || !cJSON_AddStringToObject(e, "file", file))) {
        cJSON_Delete(e);
        e = NULL;
    }
    return e;
}

static int add_str(cJSON *e, const char *k, const char *v) {
    return cJSON_GetObjectItemCaseSensitive(e, k) || cJSON_AddStringToObject(e, k, v);
}
static int add_num(cJSON *e, const char *k, double v) {
    return cJSON_GetObjectItemCaseSensitive(e, k) || cJSON_AddNumberToObject(e, k, v);
}

/* The float as its shortest decimal that reads back the same (0.485, not 0.48500001430511475). */
static double short_decimal(float f) {
    char t[32];
    for (int p = 6; p < 9; p++) {
        snprintf(t, sizeof t, "%.*g", p, f);
        if ((float)strtod(t, NULL) == f) return strtod(t, NULL);
    }
    snprintf(t, sizeof t, "%.9g", f);
    return strtod(t, NULL);
}

static int needs_graph(const cJSON *e) {
    static const char *const keys[] = {"sha256", "architecture", "source", "source_classes", "layers", "params",
                                       "input", "feature_tensor", "logits_tensor", NULL};
    for (int k = 0; keys[k]; k++)
        if (!cJSON_GetObjectItemCaseSensitive(e, keys[k])) return 1;
    return 0;
}

/* Adds every missing key of entry e (its file in dir) from the model. */
static xf_status complete_entry(xf_ctx_t *ctx, const char *dir, cJSON *e, const xf_bank_init_opts *o) {
    if (!needs_graph(e)) return XF_OK;
    const char *file = cJSON_GetObjectItemCaseSensitive(e, "file")->valuestring;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char hex[65];
    xf_status st = XF_OK;
    if (!cJSON_GetObjectItemCaseSensitive(e, "sha256") && (st = xf_sha256_file(ctx, path, hex))) return st;
    xf_graph *g = NULL;
    if ((st = xf_onnx_import(ctx, path, &g))) return st;
    const xf_value *in = &g->values[g->input];
    if (in->ndim != 4 || in->shape[1] < 1 || in->shape[1] > 4 || in->shape[2] < 1 || in->shape[3] < 1) {
        xf_graph_free(g);
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input is not (N, C, H, W) images with a fixed C, H and W", path);
    }
    int fv = -1, lv = xf_graph_output_value(g);
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(e, "feature_tensor");
    if (!ft && (fv = xf_graph_feature_value(g)) < 0) {
        xf_graph_free(g);
        return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no Gemm/MatMul to take features from: write its \"feature_tensor\" into %s/%s",
                      path, dir, XF_BANK_FILE);
    }
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(e, "logits_tensor");
    if (lt && cJSON_IsString(lt)) lv = xf_graph_find(g, lt->valuestring);
    if (lv < 0 || g->values[lv].is_param) {
        xf_graph_free(g);
        return XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no logits tensor ('%s')", path,
                      lt && cJSON_IsString(lt) ? lt->valuestring : "the graph output");
    }
    int64_t Z = 1;
    for (int k = 1; k < g->values[lv].ndim; k++) Z *= g->values[lv].shape[k];
    const char *arch = o->architecture ? o->architecture : xf_bank_arch_from_graph(g);
    int ok = (cJSON_GetObjectItemCaseSensitive(e, "sha256") || cJSON_AddStringToObject(e, "sha256", hex)) &&
             add_str(e, "architecture", arch) && add_str(e, "source", o->source ? o->source : "unknown") &&
             add_num(e, "source_classes", (double)Z) && add_num(e, "layers", (double)xf_bank_graph_layers(g)) &&
             add_num(e, "params", (double)xf_graph_param_count(g, 1));
    if (ok && !cJSON_GetObjectItemCaseSensitive(e, "input")) {
        cJSON *io = cJSON_AddObjectToObject(e, "input");
        int64_t C = in->shape[1];
        double m[4], s[4];
        for (int c = 0; c < 4; c++) m[c] = short_decimal(o->mean[c < 3 ? c : 2]), s[c] = short_decimal(o->std[c < 3 ? c : 2]);
        ok = io && cJSON_AddNumberToObject(io, "channels", (double)C) && cJSON_AddNumberToObject(io, "height", (double)in->shape[2]) &&
             cJSON_AddNumberToObject(io, "width", (double)in->shape[3]) &&
             cJSON_AddItemToObject(io, "mean", cJSON_CreateDoubleArray(m, (int)C)) &&
             cJSON_AddItemToObject(io, "std", cJSON_CreateDoubleArray(s, (int)C));
    }
    ok = ok && add_str(e, "feature_tensor", ft ? "" : g->values[fv].name) &&
         add_str(e, "logits_tensor", g->values[lv].name);
    xf_graph_free(g);
    return ok ? XF_OK : XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", path);
}

static xf_status write_atomic(xf_ctx_t *ctx, const char *path, const char *text) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return XF_OK;
}

xf_status xf_bank_init(xf_ctx_t *ctx, const char *dir, const xf_bank_init_opts *opts) {
    xf_bank_init_opts defo;
    if (!opts) {
        xf_bank_init_opts_default(&defo);
        opts = &defo;
    }
    xf_bank_init_opts o = *opts;
    if (!o.has_norm)
        for (int c = 0; c < 3; c++) o.mean[c] = 0, o.std[c] = 1;
    for (int c = 0; c < 3; c++)
        if (!(o.std[c] > 0)) return XF_ERR(ctx, XF_ERR_INVALID, "bank init: std must be positive");
    char where[4200];
    snprintf(where, sizeof where, "%s/%s", dir, XF_BANK_FILE);
    char **files = NULL;
    int nfiles = 0;
    xf_status st = list_onnx(ctx, dir, &files, &nfiles);
    cJSON *root = NULL;
    char *text = NULL;
    size_t len = 0;
    if (!st) {
        st = xf_bank_read_text(ctx, where, &text, &len);
        if (st == XF_ERR_NOTFOUND) {
            xf_ctx_clear_error(ctx);
            st = XF_OK;
            root = cJSON_CreateObject();
            if (!root) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
        } else if (!st && !(root = cJSON_ParseWithLength(text, len)))
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not valid JSON: fix or remove it", where);
        xf_free(ctx, text);
    }
    if (!st) st = xf_bank_check_root(ctx, where, root, 0);
    cJSON *models = NULL;
    if (!st) {
        /* format and version first for a file written from scratch */
        if (!cJSON_GetObjectItemCaseSensitive(root, "format")) {
            cJSON *f = cJSON_CreateString(XF_BANK_FORMAT);
            if (!f || !cJSON_InsertItemInArray(root, 0, f)) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
            else f->string = strdup("format");
            if (f && !f->string) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
        }
        if (!st && !cJSON_GetObjectItemCaseSensitive(root, "version") && !cJSON_AddNumberToObject(root, "version", XF_BANK_VERSION))
            st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
        if (!st && !(models = cJSON_GetObjectItemCaseSensitive(root, "models")) &&
            !(models = cJSON_AddArrayToObject(root, "models")))
            st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
    }
    /* entries whose file is gone are errors: the user decides what the bank holds */
    int idx = 0;
    for (cJSON *e = models ? models->child : NULL; e && !st; e = e->next, idx++) {
        const char *f = cJSON_GetObjectItemCaseSensitive(e, "file")->valuestring;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, f);
        if (access(p, R_OK) != 0)
            st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: models[%d]: file %s: %s", where, idx, p, strerror(errno));
    }
    for (int k = 0; k < nfiles && !st; k++) {
        int known = 0;
        for (const cJSON *e = models->child; e && !known; e = e->next)
            known = !strcmp(strip_dot(cJSON_GetObjectItemCaseSensitive(e, "file")->valuestring), files[k]);
        if (known) continue;
        cJSON *e = new_entry(models, files[k]);
        if (!e || !cJSON_AddItemToArray(models, e)) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
    }
    if (!st && !cJSON_GetArraySize(models))
        st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no *.onnx models to describe", dir);
    for (cJSON *e = models ? models->child : NULL; e && !st; e = e->next) {
        if (!cJSON_GetObjectItemCaseSensitive(e, "name")) {
            cJSON *ne = new_entry(models, strip_dot(cJSON_GetObjectItemCaseSensitive(e, "file")->valuestring));
            cJSON *nm = ne ? cJSON_DetachItemFromObjectCaseSensitive(ne, "name") : NULL;
            cJSON_Delete(ne);
            if (!nm || !cJSON_AddItemToObject(e, "name", nm)) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
            if (st) cJSON_Delete(nm);
        }
        if (!st) st = complete_entry(ctx, dir, e, &o);
    }
    char *out = NULL;
    if (!st && !(out = cJSON_Print(root))) st = XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", where);
    if (!st) { /* what we write must read back */
        cJSON *back = cJSON_Parse(out);
        st = back ? xf_bank_check_root(ctx, where, back, 1) : XF_ERR(ctx, XF_ERR_INTERNAL, "%s: unreadable output", where);
        cJSON_Delete(back);
    }
    if (!st) st = write_atomic(ctx, where, out);
    if (out) cJSON_free(out);
    cJSON_Delete(root);
    for (int k = 0; k < nfiles; k++) free(files[k]);
    free(files);
    return st;
}
