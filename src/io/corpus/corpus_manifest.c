/* Corpus manifest and reuse: the hash of every parameter and source file, writing
 * corpus.json, and reading it back (xf_corpus_info, and the reuse check of
 * xf_corpus_build in corpus.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cJSON.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#define XF_CORPUS_BUILDER
#include <zlib.h>

#include "xfer/files.h"
#include "io/corpus/corpusInt.h"
#include "xfer/corpus.h"

static int64_t file_mtime(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_mtime : -1;
}

/* ---- parameters, corpus.json, reuse ----------------------------------------------- */

xf_status xf_corpus_params_hash(builder *b, char out[17]) {
    xf_ctx_t *ctx = b->ctx;
    uint64_t fh;
    int nfonts;
    xf_status st = xf_fonts_list_hash(ctx, b->o->fonts_dir, &fh, &nfonts);
    if (st != XF_OK) return st;
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "xfer-corpus v%d seed %llu scale %.17g freetype %d.%d.%d glyph %d %g %g %g fonts %016llx %d",
                     XF_CORPUS_VERSION, (unsigned long long)b->o->seed, b->o->scale, FREETYPE_MAJOR, FREETYPE_MINOR,
                     FREETYPE_PATCH, XF_GLYPH_SIZE, XF_GLYPH_EM_PX, XF_GLYPH_FIT_PX, XF_GLYPH_MAX_PX,
                     (unsigned long long)fh, nfonts);
    char p[4200];
    for (int k = 0; k < 4; k++) {
        if ((st = xf_corpus_fashion_path(b, xf_corpus_fashion_files[k], p, sizeof p)) != XF_OK) return st;
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %s %lld %lld", xf_corpus_fashion_files[k], (long long)file_size(p),
                      (long long)file_mtime(p));
    }
    int64_t dsz = file_size(b->o->digits_csv);
    if (dsz < 0)
        return XF_ERR(ctx, XF_ERR_IO, "%s: digits file not found (install python3-sklearn)", b->o->digits_csv);
    n += snprintf(buf + n, sizeof buf - (size_t)n, " digits %lld %lld", (long long)dsz, (long long)file_mtime(b->o->digits_csv));
    snprintf(out, 17, "%016llx", (unsigned long long)xf_fnv1a(XF_FNV1A_OFFSET, buf, (size_t)n));
    return XF_OK;
}

static cJSON *task_json(const xf_corpus_task_info *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "kind", t->upstream ? "upstream" : "target");
    cJSON_AddNumberToObject(o, "classes", (double)t->classes);
    cJSON_AddNumberToObject(o, "train", (double)t->train);
    cJSON_AddNumberToObject(o, "test", (double)t->test);
    cJSON_AddStringToObject(o, "source", t->source);
    cJSON_AddStringToObject(o, "differs", t->differs);
    return o;
}

xf_status xf_corpus_write_json(builder *b) {
    xf_ctx_t *ctx = b->ctx;
    const xf_corpus_opts *o = b->o;
    cJSON *root = cJSON_CreateObject();
    if (!root) return XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    char seed[32], ft[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(ft, sizeof ft, "%d.%d.%d", FREETYPE_MAJOR, FREETYPE_MINOR, FREETYPE_PATCH);
    cJSON_AddStringToObject(root, "format", "xfer-corpus");
    cJSON_AddNumberToObject(root, "version", XF_CORPUS_VERSION);
    cJSON_AddStringToObject(root, "seed", seed);
    cJSON_AddNumberToObject(root, "scale", o->scale);
    cJSON_AddStringToObject(root, "params_hash", b->rep->hash);
    cJSON_AddStringToObject(root, "freetype", ft);
    cJSON *src = cJSON_AddArrayToObject(root, "sources");
    const char *pk[3][2] = {{"dataset-fashion-mnist", o->fashion_dir},
                            {"python3-sklearn", o->digits_csv},
                            {"fonts-dejavu-core fonts-noto-core fonts-freefont-ttf fonts-liberation fonts-urw-base35", o->fonts_dir}};
    for (int k = 0; k < 3 && src; k++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddStringToObject(e, "packages", pk[k][0]);
        cJSON_AddStringToObject(e, "path", pk[k][1]);
        cJSON_AddItemToArray(src, e);
    }
    cJSON *fonts = cJSON_AddArrayToObject(root, "fonts");
    int nf = xf_fonts_count(b->fonts);
    char *used = xf_calloc(ctx, (size_t)nf + 1, 1); /* only fonts in some class's pool */
    if (!used) { cJSON_Delete(root); return XF_ERR_NOMEM; }
    for (int c = 0; c < b->ncls; c++)
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < b->cls[c].npool[p]; q++) used[b->cls[c].pool[p][q]] = 1;
    for (int i = 0; i < nf && fonts; i++) {
        if (!used[i] || b->role[i] == ROLE_EXCLUDED) continue;
        if (b->role[i] == ROLE_UPSTREAM) b->rep->nfonts_upstream++;
        else b->rep->nfonts_heldout++;
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddStringToObject(e, "file", xf_fonts_file(b->fonts, i));
        cJSON_AddStringToObject(e, "family", xf_fonts_family(b->fonts, i));
        cJSON_AddStringToObject(e, "style", xf_fonts_style(b->fonts, i));
        cJSON_AddStringToObject(e, "role", b->role[i] == ROLE_UPSTREAM ? "upstream" : "heldout");
        cJSON_AddItemToArray(fonts, e);
    }
    xf_free(ctx, used);
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (int i = 0; i < b->rep->ntasks && tasks; i++) {
        cJSON *e = task_json(&b->rep->tasks[i]);
        if (e) cJSON_AddItemToArray(tasks, e);
    }
    cJSON_AddNumberToObject(root, "bytes", (double)b->bytes);
    cJSON_AddItemToObject(root, "files", b->files);
    b->files = NULL; /* owned by root now */
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.json", o->out_dir);
    size_t n = strlen(text);
    char *nl = malloc(n + 2);
    xf_status st;
    if (!nl) st = XF_ERR(ctx, XF_ERR_NOMEM, "corpus.json: out of memory");
    else {
        memcpy(nl, text, n);
        nl[n] = '\n';
        nl[n + 1] = 0;
        st = xf_corpus_write_atomic(ctx, p, nl);
    }
    free(nl);
    cJSON_free(text);
    return st;
}

int64_t xf_corpus_file_crc(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char buf[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crc = crc32(crc, buf, (uInt)n);
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : (int64_t)(crc & 0xffffffffu);
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
/* A number that is a non-negative count (files are untrusted: no NaN, no overflow when
 * it becomes an int64). */
static int jnum(const cJSON *o, const char *k, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 9e15)) return 0;
    *out = v->valuedouble;
    return 1;
}

/* Parses a corpus.json text (name is used in messages); with dir, also verifies that
 * every listed file exists under dir with its recorded size. */
static xf_status parse_info(xf_ctx_t *ctx, const char *text, size_t len, const char *p, const char *dir,
                            xf_corpus_report *rep) {
    memset(rep, 0, sizeof *rep);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not valid JSON", p);
    xf_status st = XF_OK;
    double ver = 0, d;
    const char *fmt = jstr(root, "format"), *hash = jstr(root, "params_hash");
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    if (!fmt || strcmp(fmt, "xfer-corpus") || !jnum(root, "version", &ver) || !hash || !cJSON_IsArray(tasks) ||
        !cJSON_IsArray(files))
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an xfer corpus description", p);
    else if (ver != XF_CORPUS_VERSION)
        st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: corpus version %g, this xfer writes %d", p, ver, XF_CORPUS_VERSION);
    if (st == XF_OK) {
        snprintf(rep->hash, sizeof rep->hash, "%s", hash);
        rep->reused = 1;
        if (jnum(root, "bytes", &d)) rep->bytes = (int64_t)d;
        const cJSON *t;
        cJSON_ArrayForEach(t, tasks) {
            if (rep->ntasks >= XF_CORPUS_MAX_TASKS) break;
            xf_corpus_task_info *ti = &rep->tasks[rep->ntasks];
            const char *nm = jstr(t, "name"), *kind = jstr(t, "kind"), *so = jstr(t, "source"), *df = jstr(t, "differs");
            double c, tr, te;
            if (!nm || !kind || !jnum(t, "classes", &c) || !jnum(t, "train", &tr) || !jnum(t, "test", &te)) {
                st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: task %d malformed", p, rep->ntasks);
                break;
            }
            snprintf(ti->name, sizeof ti->name, "%s", nm);
            ti->upstream = !strcmp(kind, "upstream");
            ti->classes = (int64_t)c;
            ti->train = (int64_t)tr;
            ti->test = (int64_t)te;
            snprintf(ti->source, sizeof ti->source, "%s", so ? so : "");
            snprintf(ti->differs, sizeof ti->differs, "%s", df ? df : "");
            rep->ntasks++;
        }
        const cJSON *fo = cJSON_GetObjectItemCaseSensitive(root, "fonts"), *e;
        cJSON_ArrayForEach(e, fo) {
            const char *role = jstr(e, "role");
            if (role && !strcmp(role, "upstream")) rep->nfonts_upstream++;
            else if (role) rep->nfonts_heldout++;
        }
    }
    if (st == XF_OK && dir) {
        const cJSON *e;
        cJSON_ArrayForEach(e, files) {
            const char *rel = jstr(e, "path");
            if (!rel || !jnum(e, "bytes", &d) || strstr(rel, "..")) { st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: bad file entry", p); break; }
            char fp[4200];
            snprintf(fp, sizeof fp, "%s/%s", dir, rel);
            if (file_size(fp) != (int64_t)d) { st = XF_ERR(ctx, XF_ERR_IO, "%s: missing or changed", fp); break; }
            /* the checksum (absent from corpora written before it was recorded) */
            double crc;
            if (jnum(e, "crc32", &crc) && xf_corpus_file_crc(fp) != (int64_t)crc) {
                st = XF_ERR(ctx, XF_ERR_IO, "%s: changed (checksum differs from corpus.json)", fp);
                break;
            }
        }
    }
    cJSON_Delete(root);
    return st;
}

/* Reads dir/corpus.json; with check_files, also verifies every listed file's size. */
xf_status xf_corpus_read_info(xf_ctx_t *ctx, const char *dir, xf_corpus_report *rep, int check_files) {
    memset(rep, 0, sizeof *rep);
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.json", dir);
    FILE *f;
    xf_status ost = xf_file_open(ctx, p, &f);
    if (ost) return ost;
    char *text = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (64L << 20) && fseek(f, 0, SEEK_SET) == 0) {
        text = xf_malloc(ctx, (size_t)len + 1);
        if (text && fread(text, 1, (size_t)len, f) != (size_t)len) { xf_free(ctx, text); text = NULL; }
    }
    fclose(f);
    if (!text) return xf_last_status(ctx) == XF_ERR_NOMEM ? XF_ERR_NOMEM : XF_ERR(ctx, XF_ERR_IO, "%s: cannot read", p);
    text[len] = 0;
    xf_status st = parse_info(ctx, text, (size_t)len, p, check_files ? dir : NULL, rep);
    xf_free(ctx, text);
    return st;
}

xf_status xf_corpus_info(xf_ctx_t *ctx, const char *dir, xf_corpus_report *rep) {
    if (!dir || !rep) return XF_ERR(ctx, XF_ERR_INVALID, "corpus info: NULL argument");
    return xf_corpus_read_info(ctx, dir, rep, 0);
}

xf_status xf_corpus_info_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_corpus_report *rep) {
    if (!buf || !rep) return XF_ERR(ctx, XF_ERR_INVALID, "corpus info: NULL argument");
    return parse_info(ctx, buf, len, name ? name : "corpus.json", NULL, rep);
}
