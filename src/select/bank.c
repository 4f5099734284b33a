/* The model bank (include/xfer/bank.h): reading and validating DIR/bank.json, loading a
 * model checked against its entry, verifying a whole bank.
 *
 * The parsed cJSON tree stays alive for the bank's lifetime: the string fields of
 * xf_bank_model point into it, and keys xfer does not know (the expert builder's kind,
 * slice, label_prior, ...) are served from it by xf_bank_extra_str. Every check lives in
 * xf_bank_check_entry so that reading (strict: every key) and xf_bank_init (lenient: the
 * keys present) refuse the same things with the same messages. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonInt.h"
#include "xfer/data.h"
#include "bankInt.h"
#include "xfer/onnx.h"

/* The keys of an entry xfer defines; anything else is an extra key. */
static const char *const STD_KEYS[] = {"name", "file", "sha256", "architecture", "source", "source_classes",
                                       "layers", "params", "input", "feature_tensor", "logits_tensor", NULL};

typedef struct {
    xf_bank_model m;
    char *path;
    int nextra;
    char **ekey; /* point into the tree */
    char **eval; /* owned (xf_malloc) */
} entry;

struct xf_bank {
    xf_ctx_t *ctx;
    char *dir;
    cJSON *root;
    int64_t n;
    entry *e; /* (n) */
};

/* ---- checks shared with bank_init.c ------------------------------------------------ */

int xf_bank_file_ok(const char *f) {
    if (!f || !*f || f[0] == '/') return 0;
    for (const char *p = f; *p;) { /* no ".." component */
        const char *s = strchr(p, '/');
        size_t l = s ? (size_t)(s - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.') return 0;
        if (!s) break;
        p = s + 1;
    }
    return 1;
}

const char *xf_bank_arch_from_graph(const xf_graph *g) {
    static const char *const generic[] = {"main_graph", "torch_jit", "torch-jit-export", "tf2onnx", "graph", NULL};
    if (!g->name || !g->name[0]) return "unknown";
    for (int k = 0; generic[k]; k++)
        if (!strcmp(g->name, generic[k])) return "unknown";
    return g->name;
}

static int is_hex64(const char *s) {
    if (strlen(s) != 64) return 0;
    for (int k = 0; k < 64; k++)
        if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f'))) return 0;
    return 1;
}

/* mean / std: an array of 1 or `channels` finite numbers (std > 0). */
static xf_status check_norm(xf_ctx_t *ctx, const char *where, int idx, const char *key, const cJSON *a, int64_t ch,
                            int positive) {
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n != 1 && n != ch)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input.%s' must be an array of 1 or %lld numbers", where, idx,
                      key, (long long)ch);
    for (const cJSON *v = a->child; v; v = v->next)
        if (!(positive ? xf_json_num_in(v, XF_NORM_STD_MIN, XF_NORM_MAX)
                       : xf_json_num_in(v, -XF_NORM_MAX, XF_NORM_MAX)))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input.%s' must hold numbers in %s", where, idx, key,
                          positive ? "[1e-6, 1e6]" : "[-1e6, 1e6]");
    return XF_OK;
}

xf_status xf_bank_check_entry(xf_ctx_t *ctx, const char *where, int idx, const cJSON *e, int strict) {
    if (!cJSON_IsObject(e)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d] is not an object", where, idx);
    static const char *const strs[] = {"name", "file", "sha256", "architecture", "source", "feature_tensor",
                                       "logits_tensor", NULL};
    for (int k = 0; strs[k]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, strs[k]);
        if (!v) {
            if (strict || k == 1) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: '%s' is missing", where, idx, strs[k]);
            continue;
        }
        if (!cJSON_IsString(v) || !v->valuestring[0])
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: '%s' must be a non-empty string", where, idx, strs[k]);
        if (k == 1 && !xf_bank_file_ok(v->valuestring))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: file '%s' leaves the bank folder", where, idx,
                          v->valuestring);
        if (k == 2 && !is_hex64(v->valuestring))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'sha256' must be 64 lower-case hex digits", where, idx);
    }
    static const char *const ints[] = {"source_classes", "layers", "params", NULL};
    for (int k = 0; ints[k]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, ints[k]);
        if (!v) {
            if (strict) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: '%s' is missing", where, idx, ints[k]);
            continue;
        }
        if (!xf_json_int_in(v, k == 1 ? 0 : 1, 9007199254740992.0))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: '%s' must be an integer >= %d", where, idx, ints[k],
                          k == 1 ? 0 : 1);
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "input");
    if (!in) {
        if (strict) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input' is missing", where, idx);
        return XF_OK;
    }
    if (!cJSON_IsObject(in)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input' must be an object", where, idx);
    static const char *const dims[] = {"channels", "height", "width", NULL};
    int64_t ch = 0;
    for (int k = 0; dims[k]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, dims[k]);
        if (!v) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input.%s' is missing", where, idx, dims[k]);
        if (!xf_json_int_in(v, 1, k == 0 ? 4 : 65536))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input.%s' must be an integer in 1..%d", where, idx,
                          dims[k], k == 0 ? 4 : 65536);
        if (k == 0) ch = (int64_t)v->valuedouble;
    }
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "std" : "mean";
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(in, key);
        if (!a) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d]: 'input.%s' is missing", where, idx, key);
        xf_status st = check_norm(ctx, where, idx, key, a, ch, k);
        if (st) return st;
    }
    return XF_OK;
}

xf_status xf_bank_check_root(xf_ctx_t *ctx, const char *where, const cJSON *root, int strict) {
    if (!cJSON_IsObject(root)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not a JSON object", where);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "models");
    if ((f || strict) && !(cJSON_IsString(f) && !strcmp(f->valuestring, XF_BANK_FORMAT)))
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: 'format' must be \"%s\"", where, XF_BANK_FORMAT);
    if (v || strict) {
        if (!xf_json_int_in(v, 1, 1e9)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: 'version' must be a positive integer", where);
        if (v->valuedouble > XF_BANK_VERSION)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: version %.0f is newer than this xfer reads (%d)", where,
                          v->valuedouble, XF_BANK_VERSION);
    }
    if ((m || strict) && !cJSON_IsArray(m)) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: 'models' must be an array", where);
    int idx = 0;
    for (const cJSON *e = m ? m->child : NULL; e; e = e->next, idx++) {
        xf_status st = xf_bank_check_entry(ctx, where, idx, e, strict);
        if (st) return st;
        /* names and files are unique */
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name"), *fl = cJSON_GetObjectItemCaseSensitive(e, "file");
        int j = 0;
        for (const cJSON *o = m->child; o != e; o = o->next, j++) {
            const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name"), *of = cJSON_GetObjectItemCaseSensitive(o, "file");
            if (nm && on && !strcmp(nm->valuestring, on->valuestring))
                return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d] and models[%d] are both named '%s'", where, j, idx,
                              nm->valuestring);
            if (!strcmp(fl->valuestring, of->valuestring))
                return XF_ERR(ctx, XF_ERR_FORMAT, "%s: models[%d] and models[%d] are both file '%s'", where, j, idx,
                              fl->valuestring);
        }
    }
    return XF_OK;
}

xf_status xf_bank_read_text(xf_ctx_t *ctx, const char *path, char **text, size_t *len) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return XF_ERR(ctx, errno == ENOENT ? XF_ERR_NOTFOUND : XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = xf_malloc(ctx, cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        if (cap > ((size_t)1 << 30)) { /* a description of models, not a model */
            xf_free(ctx, buf);
            fclose(f);
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: larger than 1 GiB", path);
        }
        char *nb = xf_realloc(ctx, buf, cap * 2);
        if (!nb) { xf_free(ctx, buf); buf = NULL; break; }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return XF_ERR_NOMEM;
    if (bad) {
        xf_free(ctx, buf);
        return XF_ERR(ctx, XF_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *text = buf;
    if (len) *len = n;
    return XF_OK;
}

/* ---- reading ------------------------------------------------------------------------ */

static const char *jstr(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuestring; }
static int64_t jint(const cJSON *o, const char *k) { return (int64_t)cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }

static xf_status fill_entry(xf_bank_t *b, entry *en, const cJSON *e) {
    xf_ctx_t *ctx = b->ctx;
    xf_bank_model *m = &en->m;
    m->name = jstr(e, "name");
    m->file = jstr(e, "file");
    m->sha256 = jstr(e, "sha256");
    m->architecture = jstr(e, "architecture");
    m->source = jstr(e, "source");
    m->feature_tensor = jstr(e, "feature_tensor");
    m->logits_tensor = jstr(e, "logits_tensor");
    m->source_classes = jint(e, "source_classes");
    m->layers = jint(e, "layers");
    m->params = jint(e, "params");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "input");
    m->channels = jint(in, "channels");
    m->height = jint(in, "height");
    m->width = jint(in, "width");
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(in, k ? "std" : "mean");
        float *dst = k ? m->std : m->mean;
        int n = cJSON_GetArraySize(a);
        for (int c = 0; c < 4; c++) dst[c] = (float)cJSON_GetArrayItem(a, c < n ? c : n - 1)->valuedouble; /* 1 value: all */
    }
    size_t dl = strlen(b->dir), fl = strlen(m->file);
    if (!(en->path = xf_malloc(ctx, dl + fl + 2))) return XF_ERR_NOMEM;
    snprintf(en->path, dl + fl + 2, "%s/%s", b->dir, m->file);
    m->path = en->path;
    int nx = 0;
    for (const cJSON *v = e->child; v; v = v->next) {
        int std = 0;
        for (int k = 0; STD_KEYS[k]; k++) std |= !strcmp(v->string, STD_KEYS[k]);
        nx += !std;
    }
    if (!nx) return XF_OK;
    en->ekey = xf_calloc(ctx, (size_t)nx, sizeof *en->ekey);
    en->eval = xf_calloc(ctx, (size_t)nx, sizeof *en->eval);
    if (!en->ekey || !en->eval) return XF_ERR_NOMEM;
    for (const cJSON *v = e->child; v; v = v->next) {
        int std = 0;
        for (int k = 0; STD_KEYS[k]; k++) std |= !strcmp(v->string, STD_KEYS[k]);
        if (std) continue;
        char *t = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
        if (!cJSON_IsString(v) && !t) return XF_ERR(ctx, XF_ERR_NOMEM, "bank.json: out of memory");
        en->ekey[en->nextra] = v->string;
        en->eval[en->nextra] = xf_strdup(ctx, t ? t : v->valuestring);
        if (t) cJSON_free(t);
        if (!en->eval[en->nextra++]) return XF_ERR_NOMEM;
    }
    return XF_OK;
}

/* Parses text (len bytes) as DIR/bank.json; where names it in messages. */
static xf_status open_text(xf_ctx_t *ctx, const char *dir, size_t dl, const char *where, const char *text, size_t len,
                           xf_bank_t **out) {
    xf_status st = XF_OK;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        long off = ep && ep >= text && ep <= text + len ? (long)(ep - text) : -1;
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", where, off);
    }
    if (!st) st = xf_bank_check_root(ctx, where, root, 1);
    xf_bank_t *b = NULL;
    if (!st && !(b = xf_calloc(ctx, 1, sizeof *b))) st = XF_ERR_NOMEM;
    if (!st && !(b->dir = xf_malloc(ctx, dl + 1))) st = XF_ERR_NOMEM;
    if (st) {
        xf_free(ctx, b);
        cJSON_Delete(root);
        return st;
    }
    b->ctx = ctx;
    b->root = root;
    memcpy(b->dir, dir, dl);
    b->dir[dl] = 0;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    b->n = cJSON_GetArraySize(models);
    if (b->n && !(b->e = xf_calloc(ctx, (size_t)b->n, sizeof *b->e))) st = XF_ERR_NOMEM;
    int64_t i = 0;
    for (const cJSON *e = models->child; e && !st; e = e->next, i++) st = fill_entry(b, &b->e[i], e);
    if (st) {
        xf_bank_free(b);
        return st;
    }
    *out = b;
    return XF_OK;
}

xf_status xf_bank_open_mem(xf_ctx_t *ctx, const char *dir, const void *buf, size_t len, xf_bank_t **out) {
    *out = NULL;
    size_t dl = strlen(dir);
    char where[1100];
    snprintf(where, sizeof where, "%.1000s/%s", dir, XF_BANK_FILE);
    return open_text(ctx, dir, dl, where, buf, len, out);
}

xf_status xf_bank_open(xf_ctx_t *ctx, const char *dir, xf_bank_t **out) {
    *out = NULL;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    char *where = xf_malloc(ctx, dl + sizeof XF_BANK_FILE + 1);
    if (!where) return XF_ERR_NOMEM;
    snprintf(where, dl + sizeof XF_BANK_FILE + 1, "%.*s/%s", (int)dl, dir, XF_BANK_FILE);
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_bank_read_text(ctx, where, &text, &len);
    if (st == XF_ERR_NOTFOUND)
        XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no bank.json (describe the models with 'xfer bank init %.*s')", where, (int)dl, dir);
    if (!st) st = open_text(ctx, dir, dl, where, text, len, out);
    xf_free(ctx, text);
    xf_free(ctx, where);
    return st;
}

void xf_bank_free(xf_bank_t *b) {
    if (!b) return;
    xf_ctx_t *ctx = b->ctx;
    for (int64_t i = 0; b->e && i < b->n; i++) {
        xf_free(ctx, b->e[i].path);
        for (int k = 0; k < b->e[i].nextra; k++) xf_free(ctx, b->e[i].eval[k]);
        xf_free(ctx, b->e[i].ekey);
        xf_free(ctx, b->e[i].eval);
    }
    xf_free(ctx, b->e);
    xf_free(ctx, b->dir);
    cJSON_Delete(b->root);
    xf_free(ctx, b);
}

const char *xf_bank_dir(const xf_bank_t *b) { return b ? b->dir : NULL; }
int64_t xf_bank_count(const xf_bank_t *b) { return b ? b->n : 0; }

const xf_bank_model *xf_bank_model_at(const xf_bank_t *b, int64_t i) {
    return b && i >= 0 && i < b->n ? &b->e[i].m : NULL;
}

int64_t xf_bank_find(const xf_bank_t *b, const char *name) {
    for (int64_t i = 0; b && name && i < b->n; i++)
        if (!strcmp(b->e[i].m.name, name)) return i;
    return -1;
}

const char *xf_bank_extra_str(const xf_bank_t *b, int64_t i, const char *key) {
    if (!b || i < 0 || i >= b->n || !key) return NULL;
    for (int k = 0; k < b->e[i].nextra; k++)
        if (!strcmp(b->e[i].ekey[k], key)) return b->e[i].eval[k];
    return NULL;
}

/* ---- loading and verifying ------------------------------------------------------------ */

int64_t xf_bank_graph_layers(const xf_graph *g) {
    int64_t n = 0;
    for (int i = 0; g && i < g->n_nodes; i++)
        n += g->nodes[i].op == XF_OP_CONV || g->nodes[i].op == XF_OP_GEMM || g->nodes[i].op == XF_OP_MATMUL;
    return n;
}

static int64_t width_of(const xf_value *v) {
    int64_t d = 1;
    for (int k = 1; k < v->ndim; k++) d *= v->shape[k];
    return d;
}

xf_status xf_bank_load(xf_ctx_t *ctx, const xf_bank_t *b, int64_t i, int check_hash, xf_graph **out, int *feature,
                       int *logits) {
    *out = NULL;
    const xf_bank_model *m = xf_bank_model_at(b, i);
    if (!m) return XF_ERR(ctx, XF_ERR_INVALID, "bank model %lld out of range", (long long)i);
    if (check_hash) {
        char hex[65];
        xf_status st = xf_sha256_file(ctx, m->path, hex);
        if (st) return st;
        if (strcmp(hex, m->sha256))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: SHA-256 %s, bank.json says %s (the file changed: rerun 'xfer bank init' after removing its sha256)",
                          m->path, hex, m->sha256);
    }
    xf_graph *g = NULL;
    xf_status st = xf_onnx_import(ctx, m->path, &g);
    if (st) return st;
    const xf_value *in = &g->values[g->input];
    int64_t want[3] = {m->channels, m->height, m->width};
    if (in->ndim != 4) st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: input is %d-D, bank.json describes (N, C, H, W) images", m->path, in->ndim);
    for (int k = 1; k < 4 && !st; k++)
        if (in->shape[k] > 0 && in->shape[k] != want[k - 1])
            st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: input is (N, %lld, %lld, %lld), bank.json says (N, %lld, %lld, %lld)", m->path,
                        (long long)in->shape[1], (long long)in->shape[2], (long long)in->shape[3],
                        (long long)want[0], (long long)want[1], (long long)want[2]);
    int fv = -1, lv = -1;
    if (!st) {
        fv = xf_graph_find(g, m->feature_tensor);
        lv = xf_graph_find(g, m->logits_tensor);
        if (fv < 0 || g->values[fv].is_param)
            st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: bank.json's feature_tensor '%s' is not a tensor the model computes",
                        m->path, m->feature_tensor);
        else if (lv < 0 || g->values[lv].is_param)
            st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: bank.json's logits_tensor '%s' is not a tensor the model computes",
                        m->path, m->logits_tensor);
        else if (width_of(&g->values[lv]) != m->source_classes)
            st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: logits '%s' are %lld wide, bank.json's source_classes is %lld", m->path,
                        m->logits_tensor, (long long)width_of(&g->values[lv]), (long long)m->source_classes);
    }
    if (st) {
        xf_graph_free(g);
        return st;
    }
    *out = g;
    if (feature) *feature = fv;
    if (logits) *logits = lv;
    return XF_OK;
}

static int has_onnx_suffix(const char *s) {
    size_t l = strlen(s);
    return l > 5 && !strcmp(s + l - 5, ".onnx");
}

static void problem(xf_bank_report_fn report, void *user, int64_t *np, const char *line) {
    ++*np;
    if (report) report(user, line);
}

xf_status xf_bank_verify(xf_ctx_t *ctx, const xf_bank_t *b, xf_bank_report_fn report, void *user, int64_t *problems) {
    *problems = 0;
    char line[1400];
    for (int64_t i = 0; i < b->n; i++) {
        const xf_bank_model *m = &b->e[i].m;
        xf_graph *g = NULL;
        if (xf_bank_load(ctx, b, i, 1, &g, NULL, NULL) != XF_OK) {
            snprintf(line, sizeof line, "%s", xf_errmsg(ctx));
            problem(report, user, problems, line);
            continue;
        }
        int64_t layers = xf_bank_graph_layers(g), params = xf_graph_param_count(g, 1);
        xf_graph_free(g);
        if (layers != m->layers) {
            XF_ERR(ctx, XF_ERR_FORMAT, "%s: %lld weighted layers, bank.json says %lld", m->path, (long long)layers,
                   (long long)m->layers);
            problem(report, user, problems, xf_errmsg(ctx));
        }
        if (params != m->params) {
            XF_ERR(ctx, XF_ERR_FORMAT, "%s: %lld parameters, bank.json says %lld", m->path, (long long)params,
                   (long long)m->params);
            problem(report, user, problems, xf_errmsg(ctx));
        }
    }
    DIR *d = opendir(b->dir);
    if (!d) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot list: %s", b->dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_onnx_suffix(de->d_name)) continue;
        int known = 0;
        for (int64_t i = 0; i < b->n && !known; i++) {
            const char *f = b->e[i].m.file;
            if (f[0] == '.' && f[1] == '/') f += 2;
            known = !strcmp(f, de->d_name);
        }
        if (!known) {
            XF_ERR(ctx, XF_ERR_FORMAT, "%s/%s: not in bank.json (add it with 'xfer bank init')", b->dir, de->d_name);
            problem(report, user, problems, xf_errmsg(ctx));
        }
    }
    closedir(d);
    return XF_OK;
}
