/* A built expert bank: the record experts.json read back, experts loaded as graphs (an
 * adapter expert rebuilt from the store), exported as ordinary ONNX models, and the
 * small file helpers the builder shares.
 *
 * The record is trusted no more than any input: every key is type-checked, file names
 * must stay inside the bank folder (no "/" at the start, no ".." component), the label
 * priors must be Z long and sum to 1 (within 1e-6), and an unfinished build
 * ("complete": false) is refused with the command that finishes it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/jsonInt.h"
#include "xfer/data.h"
#include "expertsInt.h"
#include "xfer/bank.h"
#include "xfer/npy.h"
#include "xfer/onnx.h"

/* ---- file helpers --------------------------------------------------------------------------- */

int xf_experts_path(char *dst, size_t cap, const char *dir, const char *a, const char *b) {
    int n = snprintf(dst, cap, "%s%s%s", dir, a, b);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

void xf_experts_safe_name(char *dst, size_t cap, const char *name) {
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        dst[i] = ok && !(i == 0 && c == '.') ? c : '_';
    }
    dst[i] = 0;
}

xf_status xf_experts_mkdirs(xf_ctx_t *ctx, const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return XF_ERR(ctx, XF_ERR_INVALID, "%s: path too long", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) return XF_ERR(ctx, XF_ERR_IO, "%s: not a folder", p);
    return XF_OK;
}

xf_status xf_experts_slurp(xf_ctx_t *ctx, const char *path, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long n = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    char *buf = n >= 0 ? xf_malloc(ctx, (size_t)n + 1) : NULL;
    int ok = buf && fseek(f, 0, SEEK_SET) == 0 && fread(buf, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        xf_free(ctx, buf);
        return n >= 0 && !buf ? XF_ERR_NOMEM : XF_ERR(ctx, XF_ERR_IO, "%s: cannot read", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = (size_t)n;
    return XF_OK;
}

xf_status xf_experts_write_text(xf_ctx_t *ctx, const char *path, const char *text) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    size_t n = strlen(text);
    int bad = !f || fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (f && fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        xf_status st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return st;
    }
    return XF_OK;
}

/* ---- the record ----------------------------------------------------------------------------- */

static const char *const kind_names[] = {"generalist", "full", "adapter", "random"};
const char *xf_expert_kind_name(xf_expert_kind k) { return (unsigned)k < 4 ? kind_names[k] : "?"; }

typedef struct expert {
    xf_expert_info info;
    char *name, *slice, *file, *set, *prior_file;
    double *prior; /* (Z) */
} expert;

struct xf_experts {
    xf_ctx_t *ctx;
    char *dir;
    int n;
    expert *e;      /* (n); e[0] is the generalist */
    int64_t Z;
    int64_t C, H, W;
    float mean, std;
    xf_adapter_store_t *store;
    char *epn;      /* path or NULL */
    int epn_classes;
};

int xf_experts_count(const xf_experts_t *ex) { return ex ? ex->n : 0; }
const xf_expert_info *xf_experts_info(const xf_experts_t *ex, int i) {
    return ex && i >= 0 && i < ex->n ? &ex->e[i].info : NULL;
}
void xf_experts_norm(const xf_experts_t *ex, float *mean, float *std) {
    *mean = ex->mean;
    *std = ex->std;
}

void xf_experts_close(xf_experts_t *ex) {
    if (!ex) return;
    xf_ctx_t *ctx = ex->ctx;
    for (int i = 0; i < ex->n; i++) {
        expert *e = &ex->e[i];
        xf_free(ctx, e->name);
        xf_free(ctx, e->slice);
        xf_free(ctx, e->file);
        xf_free(ctx, e->set);
        xf_free(ctx, e->prior_file);
        xf_free(ctx, e->prior);
    }
    xf_free(ctx, ex->e);
    xf_free(ctx, ex->dir);
    xf_free(ctx, ex->epn);
    xf_adapter_store_free(ex->store);
    xf_free(ctx, ex);
}

static char *str_dup(xf_ctx_t *ctx, const char *s) {
    size_t l = strlen(s);
    char *d = xf_malloc(ctx, l + 1);
    if (d) memcpy(d, s, l + 1);
    return d;
}

static int safe_rel(const char *p) {
    if (!p[0] || p[0] == '/') return 0;
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/')) return 0;
    return 1;
}

/* string key; "" allowed when empty_ok */
static xf_status rec_str(xf_ctx_t *ctx, const char *path, const cJSON *o, const char *key, int idx, int empty_ok,
                         const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || (!empty_ok && !v->valuestring[0])) {
        if (idx >= 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: experts[%d]: '%s' missing or not a string", path, idx, key);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: '%s' missing or not a string", path, key);
    }
    *out = v->valuestring;
    return XF_OK;
}

static xf_status read_prior(xf_ctx_t *ctx, xf_experts_t *ex, expert *e) {
    char p[4096];
    xf_experts_path(p, sizeof p, ex->dir, "/", e->prior_file);
    xf_array a;
    xf_status st = xf_npy_read(ctx, p, &a);
    if (st) return st;
    if (a.ndim != 1 || a.shape[0] != ex->Z) {
        long long got = (long long)a.size; /* read before the free, which clears the shape */
        int nd = a.ndim;
        xf_array_free(ctx, &a);
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: a label prior of %lld entries in %d dimensions, the bank has %lld classes", p,
                      got, nd, (long long)ex->Z);
    }
    st = xf_array_to_f64(ctx, &a, 1, &e->prior);
    xf_array_free(ctx, &a);
    if (st) return st;
    double s = 0;
    for (int64_t z = 0; z < ex->Z; z++) {
        if (e->prior[z] < 0) return XF_ERR(ctx, XF_ERR_NUMERIC, "%s: negative probability at %lld", p, (long long)z);
        s += e->prior[z];
    }
    if (fabs(s - 1.0) > 1e-6) return XF_ERR(ctx, XF_ERR_NUMERIC, "%s: the prior sums to %.9g, not 1", p, s);
    return XF_OK;
}

xf_status xf_experts_open(xf_ctx_t *ctx, const char *dir, xf_experts_t **out) {
    *out = NULL;
    char path[4096];
    if (xf_experts_path(path, sizeof path, dir, "/", EXPERTS_RECORD)) return XF_ERR(ctx, XF_ERR_INVALID, "%s: path too long", dir);
    char *text;
    xf_status st = xf_experts_slurp(ctx, path, &text, NULL);
    if (st) return st;
    cJSON *r = cJSON_Parse(text);
    xf_free(ctx, text);
    xf_experts_t *ex = xf_calloc(ctx, 1, sizeof *ex);
    if (!ex) {
        cJSON_Delete(r);
        return XF_ERR_NOMEM;
    }
    ex->ctx = ctx;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(r, "format"), *ver = cJSON_GetObjectItemCaseSensitive(r, "version");
    const cJSON *comp = cJSON_GetObjectItemCaseSensitive(r, "complete"), *arr = cJSON_GetObjectItemCaseSensitive(r, "experts");
    const cJSON *zc = cJSON_GetObjectItemCaseSensitive(r, "source_classes"), *in = cJSON_GetObjectItemCaseSensitive(r, "input");
    const char *gen, *store, *epn;
    if (!r) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not valid JSON", path);
        goto fail;
    }
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, EXPERTS_FORMAT) || !cJSON_IsNumber(ver)) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an experts record (format '%s')", path, EXPERTS_FORMAT);
        goto fail;
    }
    if (ver->valuedouble != EXPERTS_VERSION) {
        st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: version %g (this xfer reads %d)", path, ver->valuedouble, EXPERTS_VERSION);
        goto fail;
    }
    if (!cJSON_IsTrue(comp)) {
        st = XF_ERR(ctx, XF_ERR_INVALID, "%s: the build is not finished; rerun the same 'xfer experts build' to complete it", path);
        goto fail;
    }
    if (!xf_json_int_in(zc, 2, 1 << 20) || !cJSON_IsArray(arr) || !cJSON_IsObject(in)) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: 'source_classes', 'input' or 'experts' missing or malformed", path);
        goto fail;
    }
    ex->Z = (int64_t)zc->valuedouble;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(in, "channels"), *h = cJSON_GetObjectItemCaseSensitive(in, "height"),
                *w = cJSON_GetObjectItemCaseSensitive(in, "width"), *m = cJSON_GetObjectItemCaseSensitive(in, "mean"),
                *s = cJSON_GetObjectItemCaseSensitive(in, "std");
    /* the same bounds as bank.json's input (src/select/bank.c) */
    if (!xf_json_int_in(c, 1, 4) || !xf_json_int_in(h, 1, 65536) || !xf_json_int_in(w, 1, 65536) || !cJSON_IsArray(m) ||
        !cJSON_IsArray(s) || !xf_json_num_in(cJSON_GetArrayItem(m, 0), -XF_NORM_MAX, XF_NORM_MAX) ||
        !xf_json_num_in(cJSON_GetArrayItem(s, 0), XF_NORM_STD_MIN, XF_NORM_MAX)) {
        st = XF_ERR(ctx, XF_ERR_FORMAT,
                    "%s: 'input' needs channels (1-4), height, width (1-65536), mean [..], std [..] (in [1e-6, 1e6])", path);
        goto fail;
    }
    ex->C = (int64_t)c->valuedouble, ex->H = (int64_t)h->valuedouble, ex->W = (int64_t)w->valuedouble;
    ex->mean = (float)cJSON_GetArrayItem(m, 0)->valuedouble;
    ex->std = (float)cJSON_GetArrayItem(s, 0)->valuedouble;
    if ((st = rec_str(ctx, path, r, "generalist", -1, 0, &gen)) || (st = rec_str(ctx, path, r, "adapter_store", -1, 1, &store)) ||
        (st = rec_str(ctx, path, r, "epn", -1, 1, &epn)))
        goto fail;
    if (!safe_rel(gen) || (store[0] && !safe_rel(store)) || (epn[0] && !safe_rel(epn))) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: a file name leaves the bank folder", path);
        goto fail;
    }
    if (!(ex->dir = str_dup(ctx, dir))) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    int n = cJSON_GetArraySize(arr);
    if (!(ex->e = xf_calloc(ctx, (size_t)n + 1, sizeof *ex->e))) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    /* the generalist first */
    expert *g = &ex->e[ex->n++];
    if (!(g->name = str_dup(ctx, "generalist")) || !(g->file = str_dup(ctx, gen)) || !(g->set = str_dup(ctx, "")) ||
        !(g->prior_file = str_dup(ctx, EXPERTS_PRIORS "/generalist.npy"))) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    g->info.kind = XF_EXPERT_GENERALIST;
    g->info.epn_class = -1;
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "params"), "upstream_images");
    g->info.slice_size = xf_json_int_in(up, 1, 9007199254740992.0) ? (int64_t)up->valuedouble : 0;
    if ((st = read_prior(ctx, ex, g))) goto fail;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        const char *nm, *kind, *file, *set, *slice, *prior;
        const cJSON *ad = cJSON_GetObjectItemCaseSensitive(e, "adapter"), *sz = cJSON_GetObjectItemCaseSensitive(e, "slice_size"),
                    *ec = cJSON_GetObjectItemCaseSensitive(e, "epn_class");
        if ((st = rec_str(ctx, path, e, "name", i, 0, &nm)) || (st = rec_str(ctx, path, e, "kind", i, 0, &kind)) ||
            (st = rec_str(ctx, path, e, "file", i, 1, &file)) || (st = rec_str(ctx, path, e, "set", i, 1, &set)) ||
            (st = rec_str(ctx, path, e, "slice", i, 0, &slice)) || (st = rec_str(ctx, path, e, "label_prior", i, 0, &prior)))
            goto fail;
        if (!cJSON_IsBool(ad) || !xf_json_int_in(sz, 1, 9007199254740992.0) || !xf_json_int_in(ec, -1, n)) {
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: experts[%d]: 'adapter', 'slice_size' or 'epn_class' missing or malformed", path, i);
            goto fail;
        }
        expert *x = &ex->e[ex->n];
        int k = 0;
        while (k < 4 && strcmp(kind, kind_names[k])) k++;
        if (k == 0 || k == 4) {
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: experts[%d]: kind '%s' (full, adapter or random)", path, i, kind);
            goto fail;
        }
        int adapter = cJSON_IsTrue(ad);
        if ((adapter && (!set[0] || !store[0])) || (!adapter && (!file[0] || !safe_rel(file))) || !safe_rel(prior)) {
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: experts[%d] ('%s'): no model file or adapter set, or a path leaving the bank",
                        path, i, nm);
            goto fail;
        }
        ex->n++;
        if (!(x->name = str_dup(ctx, nm)) || !(x->file = str_dup(ctx, file)) || !(x->set = str_dup(ctx, set)) ||
            !(x->slice = str_dup(ctx, slice)) || !(x->prior_file = str_dup(ctx, prior))) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
        x->info.kind = (xf_expert_kind)k;
        x->info.adapter = adapter;
        x->info.slice_size = (int64_t)sz->valuedouble;
        x->info.epn_class = (int)ec->valuedouble;
        if ((st = read_prior(ctx, ex, x))) goto fail;
    }
    for (int i = 0; i < ex->n; i++) {
        expert *x = &ex->e[i];
        x->info.name = x->name;
        x->info.slice = x->slice;
        for (int j = 0; j < i; j++)
            if (!strcmp(ex->e[j].name, x->name)) {
                st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: expert '%s' appears twice", path, x->name);
                goto fail;
            }
        if (x->info.epn_class + 1 > ex->epn_classes) ex->epn_classes = x->info.epn_class + 1;
    }
    if (store[0]) {
        char sp[4096];
        xf_experts_path(sp, sizeof sp, dir, "/", store);
        if ((st = xf_adapter_store_read(ctx, sp, &ex->store))) goto fail;
        for (int i = 0; i < ex->n; i++)
            if (ex->e[i].info.adapter && xf_adapter_store_find(ex->store, ex->e[i].set) < 0) {
                st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: no adapter set '%s' (expert '%s')", sp, ex->e[i].set, ex->e[i].name);
                goto fail;
            }
    }
    if (epn[0]) {
        char ep[4096];
        xf_experts_path(ep, sizeof ep, dir, "/", epn);
        if (!(ex->epn = str_dup(ctx, ep))) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
    }
    cJSON_Delete(r);
    *out = ex;
    return XF_OK;
fail:
    cJSON_Delete(r);
    xf_experts_close(ex);
    return st;
}

/* ---- experts as graphs ---------------------------------------------------------------------- */

xf_status xf_experts_load(xf_ctx_t *ctx, const xf_experts_t *ex, int i, xf_graph **g, int *feature) {
    *g = NULL;
    if (!ex || i < 0 || i >= ex->n) return XF_ERR(ctx, XF_ERR_INVALID, "no expert %d", i);
    const expert *e = &ex->e[i];
    xf_status st;
    if (e->info.adapter) {
        st = xf_adapter_store_graph(ctx, ex->store, xf_adapter_store_find(ex->store, e->set), g, feature);
        if (st) xf_error_prefix(ctx, e->name);
        return st;
    }
    char p[4096];
    xf_experts_path(p, sizeof p, ex->dir, "/", e->file);
    if ((st = xf_onnx_import(ctx, p, g))) return st;
    int f = xf_graph_feature_value(*g);
    const xf_value *in = &(*g)->values[(*g)->input];
    int ov = xf_graph_output_value(*g);
    if (f < 0 || ov < 0 || in->ndim != 4 || in->shape[1] != ex->C || in->shape[2] != ex->H || in->shape[3] != ex->W ||
        (*g)->values[ov].ndim != 2 || (*g)->values[ov].shape[1] != ex->Z) {
        xf_graph_free(*g);
        *g = NULL;
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: not a (N, %lld, %lld, %lld) -> %lld-class network with a classifier", p,
                      (long long)ex->C, (long long)ex->H, (long long)ex->W, (long long)ex->Z);
    }
    if (feature) *feature = f;
    return XF_OK;
}

xf_status xf_experts_export(xf_ctx_t *ctx, const xf_experts_t *ex, int i, const char *path) {
    xf_graph *g;
    xf_status st = xf_experts_load(ctx, ex, i, &g, NULL);
    if (st) return st;
    st = xf_onnx_export(ctx, g, path);
    xf_graph_free(g);
    return st;
}

xf_status xf_experts_export_to_bank(xf_ctx_t *ctx, const xf_experts_t *ex, int i) {
    if (!ex || i < 0 || i >= ex->n) return XF_ERR(ctx, XF_ERR_INVALID, "no expert %d", i);
    const expert *e = &ex->e[i];
    if (!e->info.adapter) return XF_OK; /* already an ONNX model listed in bank.json */
    char rel[512], p[4096], bp[4096];
    snprintf(rel, sizeof rel, "%s/%s.onnx", EXPERTS_EXPORTS, e->name);
    xf_experts_path(p, sizeof p, ex->dir, "/", EXPERTS_EXPORTS);
    xf_status st = xf_experts_mkdirs(ctx, p);
    if (st) return st;
    xf_experts_path(p, sizeof p, ex->dir, "/", rel);
    if ((st = xf_experts_export(ctx, ex, i, p))) return st;
    xf_experts_path(bp, sizeof bp, ex->dir, "/", "bank.json");
    char *text;
    if ((st = xf_experts_slurp(ctx, bp, &text, NULL))) return st;
    cJSON *r = cJSON_Parse(text);
    xf_free(ctx, text);
    cJSON *models = cJSON_GetObjectItemCaseSensitive(r, "models");
    if (!cJSON_IsArray(models)) {
        cJSON_Delete(r);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no 'models' array", bp);
    }
    /* replace an entry of the same name (a second export), keep the others as they are */
    int n = cJSON_GetArraySize(models);
    for (int k = n - 1; k >= 0; k--) {
        cJSON *nm = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(models, k), "name");
        if (cJSON_IsString(nm) && !strcmp(nm->valuestring, e->name)) cJSON_DeleteItemFromArray(models, k);
    }
    cJSON *m = cJSON_CreateObject(), *in = cJSON_CreateObject(), *mean = cJSON_CreateArray(), *sd = cJSON_CreateArray();
    cJSON_AddStringToObject(m, "name", e->name);
    cJSON_AddStringToObject(m, "file", rel);
        cJSON_AddStringToObject(m, "source", EXPERTS_SOURCE);
    cJSON_AddNumberToObject(m, "source_classes", (double)ex->Z);
    cJSON_AddNumberToObject(in, "channels", (double)ex->C);
    cJSON_AddNumberToObject(in, "height", (double)ex->H);
    cJSON_AddNumberToObject(in, "width", (double)ex->W);
    for (int64_t c = 0; c < ex->C; c++) {
        cJSON_AddItemToArray(mean, cJSON_CreateNumber(ex->mean));
        cJSON_AddItemToArray(sd, cJSON_CreateNumber(ex->std));
    }
    cJSON_AddItemToObject(in, "mean", mean);
    cJSON_AddItemToObject(in, "std", sd);
    cJSON_AddItemToObject(m, "input", in);
    cJSON_AddStringToObject(m, "kind", xf_expert_kind_name(e->info.kind));
    cJSON_AddStringToObject(m, "slice", e->slice);
    cJSON_AddNumberToObject(m, "slice_size", (double)e->info.slice_size);
    cJSON_AddStringToObject(m, "label_prior", e->prior_file);
    cJSON_AddStringToObject(m, "adapter_set", e->set);
    cJSON_AddItemToArray(models, m);
    char *out = cJSON_Print(r);
    cJSON_Delete(r);
    if (!out) return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", bp);
    st = xf_experts_write_text(ctx, bp, out);
    cJSON_free(out);
    if (!st) st = xf_bank_init(ctx, ex->dir, NULL); /* the new entry's sha256, layers, ... */
    return st;
}

/* internal accessors for proxies.c */
const double *xf_experts_prior(const xf_experts_t *ex, int i) { return ex->e[i].prior; }
int64_t xf_experts_classes(const xf_experts_t *ex) { return ex->Z; }
const char *xf_experts_epn_path(const xf_experts_t *ex) { return ex->epn; }
int xf_experts_epn_classes(const xf_experts_t *ex) { return ex->epn_classes; }
