/* The adapter store: many adapter experts in one file, the shared backbone once.
 *
 * Adapter experts (Puigcerver et al. 2021, Sec. 3.1) differ from the generalist only in
 * their residual adapters: the backbone and the upstream head are frozen and shared. So
 * the store holds the generalist's ONNX bytes once and, per expert, the adapter weights
 * alone (about c^2 + 3c floats per adapter; docs/FORMATS.md "Adapter store" has the byte
 * layout). An expert's network is rebuilt on demand: the backbone imported, adapters
 * placed by xf_ft_graph_create (ADAPTERS mode, which copies the nodes the feature tap
 * needs and puts an adapter before every stage and the global pooling), the new head
 * overwritten with the backbone's own classifier (so the graph ends in the upstream
 * logits), then the set's weights copied in by tensor name.
 *
 * The tensor table in the file (names and shapes, in value order of the rebuilt graph) is
 * checked against the graph rebuilt from the file's own backbone, so a store whose
 * adapters do not fit its backbone is refused rather than silently mis-assigned. A
 * trailing FNV-1a 64 checksum covers every byte before it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xfer/experts.h"
#include "xfer/onnx.h"
#include "xfer/transfer.h"

#define STORE_MAGIC "XFERADPT"
#define STORE_VERSION 1u
#define STORE_MAX_NAME 4096u

typedef struct store_set {
    char *name;
    float *w; /* all tensors of the table, concatenated */
} store_set;

struct xf_adapter_store {
    xf_ctx_t *ctx;
    uint8_t *backbone; /* ONNX bytes */
    size_t nb;
    uint64_t seed;
    int nt;             /* tensors per set */
    char **tname;       /* (nt) */
    int *tndim;         /* (nt) */
    int64_t (*tshape)[XF_NN_MAXDIM];
    int64_t *toff;      /* (nt + 1) float offsets into a set */
    int ns, cap;
    store_set *sets;
};


void xf_adapter_store_free(xf_adapter_store_t *s) {
    if (!s) return;
    xf_ctx_t *ctx = s->ctx;
    for (int i = 0; i < s->nt && s->tname; i++) xf_free(ctx, s->tname[i]);
    for (int i = 0; i < s->ns; i++) {
        xf_free(ctx, s->sets[i].name);
        xf_free(ctx, s->sets[i].w);
    }
    xf_free(ctx, s->sets);
    xf_free(ctx, s->tname);
    xf_free(ctx, s->tndim);
    xf_free(ctx, s->tshape);
    xf_free(ctx, s->toff);
    xf_free(ctx, s->backbone);
    xf_free(ctx, s);
}

int xf_adapter_store_count(const xf_adapter_store_t *s) { return s ? s->ns : 0; }
const char *xf_adapter_store_name(const xf_adapter_store_t *s, int i) {
    return s && i >= 0 && i < s->ns ? s->sets[i].name : NULL;
}
int xf_adapter_store_find(const xf_adapter_store_t *s, const char *name) {
    for (int i = 0; s && name && i < s->ns; i++)
        if (!strcmp(s->sets[i].name, name)) return i;
    return -1;
}

/* The backbone with untrained adapters and its own classifier as the head. */
static xf_status template_graph(xf_ctx_t *ctx, const uint8_t *bytes, size_t n, uint64_t seed, const char *name,
                                xf_graph **out, int *feature) {
    xf_graph *src = NULL, *g = NULL;
    *out = NULL;
    xf_status st = xf_onnx_import_mem(ctx, bytes, n, name, &src);
    if (st) return st;
    int cls = -1;
    for (int i = src->n_nodes - 1; i >= 0 && cls < 0; i--)
        if (src->nodes[i].op == XF_OP_GEMM || src->nodes[i].op == XF_OP_MATMUL) cls = i;
    int ov = xf_graph_output_value(src);
    const xf_node *cn = cls >= 0 ? &src->nodes[cls] : NULL;
    if (!cn || cn->op != XF_OP_GEMM || cn->n_in < 3 || cn->in[1] < 0 || cn->in[2] < 0 || !src->values[cn->in[1]].is_param ||
        !src->values[cn->in[2]].is_param || cn->attr.transA || cn->attr.alpha != 1.0f || cn->attr.beta != 1.0f ||
        cn->out[0] != ov) {
        st = XF_ERR(ctx, XF_ERR_UNSUPPORTED,
                    "%s: the backbone must end in a Gemm classifier (weight, bias, alpha = beta = 1) giving its output", name);
        goto done;
    }
    const xf_value *W = &src->values[cn->in[1]], *B = &src->values[cn->in[2]];
    if (W->ndim != 2 || B->ndim != 1) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: classifier weight/bias of rank %d/%d", name, W->ndim, B->ndim);
        goto done;
    }
    int64_t Z = cn->attr.transB ? W->shape[0] : W->shape[1], D = cn->attr.transB ? W->shape[1] : W->shape[0];
    if (B->shape[0] != Z) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: classifier bias has %lld entries for %lld classes", name, (long long)B->shape[0],
                    (long long)Z);
        goto done;
    }
    xf_ft_head h;
    if ((st = xf_ft_graph_create(ctx, src, Z, XF_FT_ADAPTERS, seed, &g, &h))) goto done;
    if (h.D != D || h.C != Z) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "%s: the classifier takes %lld features, the tap gives %lld", name, (long long)D,
                    (long long)h.D);
        goto done;
    }
    /* head.weight is (Z, D) (transB = 1) */
    float *hw = g->values[h.weight].data, *hb = g->values[h.bias].data;
    for (int64_t z = 0; z < Z; z++)
        for (int64_t d = 0; d < D; d++) hw[z * D + d] = cn->attr.transB ? W->data[z * D + d] : W->data[d * Z + z];
    memcpy(hb, B->data, (size_t)Z * sizeof *hb);
    g->values[h.weight].trainable = g->values[h.bias].trainable = 0;
    if (feature) *feature = h.feature;
    *out = g;
    g = NULL;
done:
    xf_graph_free(g);
    xf_graph_free(src);
    return st;
}

/* the tensor table from a template: its trainable parameters (the adapters), in value order */
static xf_status table_from_graph(xf_adapter_store_t *s, const xf_graph *g) {
    xf_ctx_t *ctx = s->ctx;
    int nt = 0;
    for (int v = 0; v < g->n_values; v++) nt += g->values[v].is_param && g->values[v].trainable;
    if (nt == 0) return XF_ERR(ctx, XF_ERR_INTERNAL, "adapter store: the backbone got no adapters");
    s->tname = xf_calloc(ctx, (size_t)nt, sizeof *s->tname);
    s->tndim = xf_calloc(ctx, (size_t)nt, sizeof *s->tndim);
    s->tshape = xf_calloc(ctx, (size_t)nt, sizeof *s->tshape);
    s->toff = xf_calloc(ctx, (size_t)nt + 1, sizeof *s->toff);
    if (!s->tname || !s->tndim || !s->tshape || !s->toff) return XF_ERR_NOMEM;
    s->nt = nt;
    int k = 0;
    for (int v = 0; v < g->n_values; v++) {
        const xf_value *x = &g->values[v];
        if (!x->is_param || !x->trainable) continue;
        size_t l = strlen(x->name);
        if (!(s->tname[k] = xf_malloc(ctx, l + 1))) return XF_ERR_NOMEM;
        memcpy(s->tname[k], x->name, l + 1);
        s->tndim[k] = x->ndim;
        int64_t n = 1;
        for (int d = 0; d < x->ndim; d++) n *= (s->tshape[k][d] = x->shape[d]);
        s->toff[k + 1] = s->toff[k] + n;
        k++;
    }
    return XF_OK;
}

xf_status xf_adapter_store_create(xf_ctx_t *ctx, const char *backbone_onnx, uint64_t seed, xf_adapter_store_t **out) {
    *out = NULL;
    xf_adapter_store_t *s = xf_calloc(ctx, 1, sizeof *s);
    if (!s) return XF_ERR_NOMEM;
    s->ctx = ctx;
    s->seed = seed;
    xf_status st = XF_OK;
    xf_graph *g = NULL;
    FILE *f = fopen(backbone_onnx, "rb");
    if (!f) {
        st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", backbone_onnx, strerror(errno));
        goto fail;
    }
    long len = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    if (len <= 0 || fseek(f, 0, SEEK_SET) != 0 || !(s->backbone = xf_malloc(ctx, (size_t)len)) ||
        fread(s->backbone, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        st = s->backbone || len <= 0 ? XF_ERR(ctx, XF_ERR_IO, "%s: cannot read", backbone_onnx) : XF_ERR_NOMEM;
        goto fail;
    }
    fclose(f);
    s->nb = (size_t)len;
    if ((st = template_graph(ctx, s->backbone, s->nb, seed, backbone_onnx, &g, NULL)) || (st = table_from_graph(s, g)))
        goto fail;
    xf_graph_free(g);
    *out = s;
    return XF_OK;
fail:
    xf_graph_free(g);
    xf_adapter_store_free(s);
    return st;
}

xf_status xf_adapter_store_graph(xf_ctx_t *ctx, const xf_adapter_store_t *s, int set, xf_graph **out, int *feature) {
    *out = NULL;
    if (!s || set < -1 || set >= s->ns) return XF_ERR(ctx, XF_ERR_INVALID, "adapter store: no set %d", set);
    xf_graph *g;
    xf_status st = template_graph(ctx, s->backbone, s->nb, s->seed, "adapter store backbone", &g, feature);
    if (st) return st;
    if (set >= 0)
        for (int t = 0; t < s->nt; t++) {
            int v = xf_graph_find(g, s->tname[t]);
            if (v < 0 || !g->values[v].is_param) {
                xf_graph_free(g);
                return XF_ERR(ctx, XF_ERR_FORMAT, "adapter store: tensor '%s' is not in the rebuilt network", s->tname[t]);
            }
            memcpy(g->values[v].data, s->sets[set].w + s->toff[t], (size_t)(s->toff[t + 1] - s->toff[t]) * sizeof(float));
        }
    *out = g;
    return XF_OK;
}

xf_status xf_adapter_store_add(xf_ctx_t *ctx, xf_adapter_store_t *s, const char *name, const xf_graph *g) {
    if (!s || !name || !g || !name[0] || strlen(name) > STORE_MAX_NAME)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_adapter_store_add: bad arguments");
    float *w = xf_malloc(ctx, (size_t)(s->toff[s->nt] ? s->toff[s->nt] : 1) * sizeof *w);
    if (!w) return XF_ERR_NOMEM;
    for (int t = 0; t < s->nt; t++) {
        int v = xf_graph_find(g, s->tname[t]);
        int64_t n = 1;
        if (v >= 0)
            for (int d = 0; d < g->values[v].ndim; d++) n *= g->values[v].shape[d];
        if (v < 0 || !g->values[v].is_param || !g->values[v].data || n != s->toff[t + 1] - s->toff[t]) {
            xf_free(ctx, w);
            return XF_ERR(ctx, XF_ERR_SHAPE, "adapter set '%s': tensor '%s' missing or of another size", name, s->tname[t]);
        }
        memcpy(w + s->toff[t], g->values[v].data, (size_t)n * sizeof *w);
    }
    int i = xf_adapter_store_find(s, name);
    if (i >= 0) {
        xf_free(ctx, s->sets[i].w);
        s->sets[i].w = w;
        return XF_OK;
    }
    if (s->ns == s->cap) {
        int nc = s->cap ? 2 * s->cap : 16;
        store_set *ns = xf_realloc(ctx, s->sets, (size_t)nc * sizeof *ns);
        if (!ns) {
            xf_free(ctx, w);
            return XF_ERR_NOMEM;
        }
        s->sets = ns;
        s->cap = nc;
    }
    size_t l = strlen(name);
    char *nm = xf_malloc(ctx, l + 1);
    if (!nm) {
        xf_free(ctx, w);
        return XF_ERR_NOMEM;
    }
    memcpy(nm, name, l + 1);
    s->sets[s->ns].name = nm;
    s->sets[s->ns].w = w;
    s->ns++;
    return XF_OK;
}

/* ---- the file --------------------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int nomem;
    xf_ctx_t *ctx;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
    if (b->nomem) return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n) nc *= 2;
        uint8_t *np = xf_realloc(b->ctx, b->p, nc);
        if (!np) {
            b->nomem = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(wbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(wbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(wbuf *b, const char *s) {
    put_u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

xf_status xf_adapter_store_write(xf_ctx_t *ctx, const xf_adapter_store_t *s, const char *path) {
    wbuf b = {NULL, 0, 0, 0, ctx};
    put(&b, STORE_MAGIC, 8);
    put_u32(&b, STORE_VERSION);
    put_u32(&b, 0);
    put_u64(&b, s->seed);
    put_u64(&b, (uint64_t)s->nb);
    put(&b, s->backbone, s->nb);
    put_u32(&b, (uint32_t)s->nt);
    for (int t = 0; t < s->nt; t++) {
        put_str(&b, s->tname[t]);
        put_u32(&b, (uint32_t)s->tndim[t]);
        for (int d = 0; d < s->tndim[t]; d++) put_u64(&b, (uint64_t)s->tshape[t][d]);
    }
    put_u32(&b, (uint32_t)s->ns);
    for (int i = 0; i < s->ns; i++) {
        put_str(&b, s->sets[i].name);
        put(&b, s->sets[i].w, (size_t)s->toff[s->nt] * sizeof(float));
    }
    if (!b.nomem) put_u64(&b, xf_fnv1a(XF_FNV1A_OFFSET, b.p, b.n));
    if (b.nomem) {
        xf_free(ctx, b.p);
        return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t pl = strlen(path);
    char *tmp = xf_malloc(ctx, pl + 32);
    if (!tmp) {
        xf_free(ctx, b.p);
        return XF_ERR_NOMEM;
    }
    snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    xf_status st = XF_OK;
    if (!f || fwrite(b.p, 1, b.n, f) != b.n || fflush(f) != 0 || fsync(fileno(f)) != 0) st = XF_ERR_IO;
    if (f && fclose(f) != 0) st = XF_ERR_IO;
    if (!st && rename(tmp, path) != 0) st = XF_ERR_IO;
    if (st) {
        st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    xf_free(ctx, tmp);
    xf_free(ctx, b.p);
    return st;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, at;
    int bad;
} rbuf;

static int get(rbuf *r, void *dst, size_t n) {
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        return -1;
    }
    memcpy(dst, r->p + r->at, n);
    r->at += n;
    return 0;
}
static uint32_t get_u32(rbuf *r) {
    uint32_t v = 0;
    get(r, &v, 4);
    return v;
}
static uint64_t get_u64(rbuf *r) {
    uint64_t v = 0;
    get(r, &v, 8);
    return v;
}
static char *get_str(xf_ctx_t *ctx, rbuf *r) {
    uint32_t l = get_u32(r);
    if (r->bad || l == 0 || l > STORE_MAX_NAME || l > r->n - r->at) {
        r->bad = 1;
        return NULL;
    }
    char *s = xf_malloc(ctx, l + 1);
    if (!s) return NULL;
    memcpy(s, r->p + r->at, l);
    s[l] = 0;
    r->at += l;
    if (memchr(s, 0, l)) {
        r->bad = 1;
        xf_free(ctx, s);
        return NULL;
    }
    return s;
}

xf_status xf_adapter_store_read(xf_ctx_t *ctx, const char *path, xf_adapter_store_t **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long len = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    uint8_t *buf = len > 0 ? xf_malloc(ctx, (size_t)len) : NULL;
    int ok = buf && fseek(f, 0, SEEK_SET) == 0 && fread(buf, 1, (size_t)len, f) == (size_t)len;
    fclose(f);
    if (!ok) {
        xf_free(ctx, buf);
        return len > 0 && !buf ? XF_ERR_NOMEM : XF_ERR(ctx, XF_ERR_IO, "%s: cannot read (empty?)", path);
    }
    xf_status st = xf_adapter_store_read_mem(ctx, buf, (size_t)len, path, out);
    xf_free(ctx, buf);
    return st;
}

xf_status xf_adapter_store_read_mem(xf_ctx_t *ctx, const void *data, size_t n, const char *path, xf_adapter_store_t **out) {
    *out = NULL;
    const uint8_t *buf = data;
    xf_status st = XF_OK;
    xf_graph *g = NULL;
    xf_adapter_store_t *s = xf_calloc(ctx, 1, sizeof *s);
    if (!s) return XF_ERR_NOMEM;
    s->ctx = ctx;
    uint64_t sum;
    if (n < 48 || memcmp(buf, STORE_MAGIC, 8)) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an adapter store (no %s header)", path, STORE_MAGIC);
        goto fail;
    }
    memcpy(&sum, buf + n - 8, 8);
    if (xf_fnv1a(XF_FNV1A_OFFSET, buf, n - 8) != sum) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: checksum mismatch (truncated or damaged)", path);
        goto fail;
    }
    rbuf r = {buf, n - 8, 8, 0};
    uint32_t ver = get_u32(&r);
    get_u32(&r);
    if (ver != STORE_VERSION) {
        st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: adapter store version %u (this xfer reads %u)", path, ver, STORE_VERSION);
        goto fail;
    }
    s->seed = get_u64(&r);
    uint64_t nb = get_u64(&r);
    if (r.bad || nb == 0 || nb > r.n - r.at) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: backbone of %llu bytes does not fit the file", path, (unsigned long long)nb);
        goto fail;
    }
    if (!(s->backbone = xf_malloc(ctx, (size_t)nb))) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    get(&r, s->backbone, (size_t)nb);
    s->nb = (size_t)nb;
    /* the table the backbone implies, then the file's, which must agree */
    if ((st = template_graph(ctx, s->backbone, s->nb, s->seed, path, &g, NULL)) || (st = table_from_graph(s, g))) goto fail;
    uint32_t nt = get_u32(&r);
    if (r.bad || nt != (uint32_t)s->nt) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: %u adapter tensors listed, the backbone takes %d", path, nt, s->nt);
        goto fail;
    }
    for (int t = 0; t < s->nt; t++) {
        char *nm = get_str(ctx, &r);
        if (!nm && !r.bad) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
        uint32_t nd = get_u32(&r);
        int same = nm && !r.bad && !strcmp(nm, s->tname[t]) && nd == (uint32_t)s->tndim[t];
        for (uint32_t d = 0; d < nd && d < XF_NN_MAXDIM; d++) same &= get_u64(&r) == (uint64_t)s->tshape[t][d];
        xf_free(ctx, nm);
        if (!same || r.bad) {
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: adapter tensor %d does not match the backbone's '%s'", path, t, s->tname[t]);
            goto fail;
        }
    }
    uint32_t ns = get_u32(&r);
    size_t per = (size_t)s->toff[s->nt] * sizeof(float);
    if (r.bad || (per && ns > (r.n - r.at) / per)) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: %u adapter sets do not fit the file", path, ns);
        goto fail;
    }
    if (ns && !(s->sets = xf_calloc(ctx, ns, sizeof *s->sets))) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    s->cap = (int)ns;
    for (uint32_t i = 0; i < ns; i++) {
        char *nm = get_str(ctx, &r);
        float *w = nm ? xf_malloc(ctx, per ? per : 1) : NULL;
        if (!nm || !w || get(&r, w, per)) {
            xf_free(ctx, nm);
            xf_free(ctx, w);
            st = r.bad ? XF_ERR(ctx, XF_ERR_FORMAT, "%s: adapter set %u is truncated or unnamed", path, i) : XF_ERR_NOMEM;
            goto fail;
        }
        s->sets[s->ns].name = nm;
        s->sets[s->ns].w = w;
        s->ns++;
        if (xf_adapter_store_find(s, nm) != (int)i) {
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: adapter set '%s' appears twice", path, nm);
            goto fail;
        }
    }
    if (r.at != r.n) {
        st = XF_ERR(ctx, XF_ERR_FORMAT, "%s: %zu bytes after the last adapter set", path, r.n - r.at);
        goto fail;
    }
    xf_graph_free(g);
    *out = s;
    return XF_OK;
fail:
    xf_graph_free(g);
    xf_adapter_store_free(s);
    return st;
}
