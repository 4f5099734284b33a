/* Label hierarchy files (format in include/xfer/data.h): child<TAB>parent lines that must
 * form one tree. Experts train on the slice of upstream data under a node (Puigcerver
 * et al., "Scalable Transfer Learning with Expert Models", ICLR 2021, section 3), so a
 * malformed tree would silently give experts the wrong data: every structural problem is
 * an error naming the file and the line.
 *
 * Design: one pass builds the nodes (open-addressing hash of names, FNV-1a) and the
 * parent of each child, checking each line as it comes (field count, empty names, self
 * loops, a child given two different parents, the declared root given a parent). Then the
 * root is settled (declared, or the one node with no parent), every other parentless node
 * is reported, and parent chains are walked with three-colour marking so that each node
 * is visited once: a chain that returns to a node still being walked is a cycle, printed
 * in full. Children are stored CSR-style in order of first appearance. */
#include <string.h>

#include "io/ioInt.h"

#define HIER_MAX_BYTES ((size_t)256 << 20)

typedef struct {
    char *name;
    int64_t parent;      /* -1: none */
    int64_t line;        /* line that first named the node */
    int64_t parent_line; /* line of the child<TAB>parent edge */
} hnode;

struct xf_hierarchy {
    xf_ctx_t *ctx;
    int64_t n, cap;
    hnode *nodes;
    int64_t *table; /* (tcap) node ids, -1 empty */
    int64_t tcap;
    int64_t root;
    int64_t *kid_off; /* (n + 1) */
    int64_t *kids;    /* children of node i: kids[kid_off[i] .. kid_off[i+1]) */
    int *depth;       /* (n) */
};

static int64_t find_n(const xf_hierarchy_t *h, const char *s, size_t n) {
    if (!h->tcap) return -1;
    for (uint64_t i = xf_fnv1a(XF_FNV1A_OFFSET, s, n) & (uint64_t)(h->tcap - 1);; i = (i + 1) & (uint64_t)(h->tcap - 1)) {
        int64_t id = h->table[i];
        if (id < 0) return -1;
        if (strncmp(h->nodes[id].name, s, n) == 0 && h->nodes[id].name[n] == 0) return id;
    }
}

static xf_status rehash(xf_hierarchy_t *h, int64_t ncap) {
    int64_t *t = xf_malloc(h->ctx, sizeof(int64_t) * (size_t)ncap);
    if (!t) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < ncap; i++) t[i] = -1;
    for (int64_t id = 0; id < h->n; id++) {
        uint64_t i = xf_fnv1a(XF_FNV1A_OFFSET, h->nodes[id].name, strlen(h->nodes[id].name)) & (uint64_t)(ncap - 1);
        while (t[i] >= 0) i = (i + 1) & (uint64_t)(ncap - 1);
        t[i] = id;
    }
    xf_free(h->ctx, h->table);
    h->table = t;
    h->tcap = ncap;
    return XF_OK;
}

/* id of the name, adding it (first seen at line) when new */
static xf_status intern(xf_hierarchy_t *h, const char *s, size_t n, int64_t line, int64_t *id) {
    *id = find_n(h, s, n);
    if (*id >= 0) return XF_OK;
    if ((h->n + 1) * 2 > h->tcap) {
        xf_status st = rehash(h, h->tcap ? h->tcap * 2 : 64);
        if (st) return st;
    }
    if (h->n == h->cap) {
        int64_t nc = h->cap ? h->cap * 2 : 64;
        hnode *nn = xf_realloc(h->ctx, h->nodes, sizeof(hnode) * (size_t)nc);
        if (!nn) return XF_ERR_NOMEM;
        h->nodes = nn;
        h->cap = nc;
    }
    char *name = xf_malloc(h->ctx, n + 1);
    if (!name) return XF_ERR_NOMEM;
    memcpy(name, s, n);
    name[n] = 0;
    hnode *nd = &h->nodes[h->n];
    nd->name = name;
    nd->parent = -1;
    nd->line = line;
    nd->parent_line = 0;
    uint64_t i = xf_fnv1a(XF_FNV1A_OFFSET, s, n) & (uint64_t)(h->tcap - 1);
    while (h->table[i] >= 0) i = (i + 1) & (uint64_t)(h->tcap - 1);
    h->table[i] = h->n;
    *id = h->n++;
    return XF_OK;
}

void xf_hierarchy_free(xf_hierarchy_t *h) {
    if (!h) return;
    xf_ctx_t *ctx = h->ctx;
    for (int64_t i = 0; i < h->n; i++) xf_free(ctx, h->nodes[i].name);
    xf_free(ctx, h->nodes);
    xf_free(ctx, h->table);
    xf_free(ctx, h->kid_off);
    xf_free(ctx, h->kids);
    xf_free(ctx, h->depth);
    xf_free(ctx, h);
}

static int is_sp(char c) { return c == ' ' || c == '\r' || c == '\v' || c == '\f'; }

/* trims spaces (not tabs) of [*s, *e) */
static void trim(const char **s, const char **e) {
    while (*s < *e && is_sp(**s)) (*s)++;
    while (*e > *s && is_sp((*e)[-1])) (*e)--;
}

/* "a -> b -> c -> a" into buf, starting at node a, following parents */
static void cycle_text(const xf_hierarchy_t *h, int64_t a, char *buf, size_t cap) {
    size_t used = 0;
    int64_t v = a;
    for (int64_t steps = 0; steps <= h->n; steps++) {
        int w = snprintf(buf + used, cap - used, "%s%s", steps ? " -> " : "", h->nodes[v].name);
        if (w < 0 || (size_t)w >= cap - used) { if (cap > 4) strcpy(buf + cap - 4, "..."); return; }
        used += (size_t)w;
        if (steps && v == a) return;
        v = h->nodes[v].parent;
    }
}

static xf_status parse(xf_hierarchy_t *h, const char *name, const char *text, size_t len) {
    xf_ctx_t *ctx = h->ctx;
    int64_t line = 0, root_decl = -1, root_line = 0;
    xf_status st;
    for (const char *p = text; p < text + len;) {
        const char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        line++;
        const char *s = p, *t = e;
        p = e + 1;
        trim(&s, &t);
        if (s == t || *s == '#') continue;
        if (memchr(s, 0, (size_t)(t - s)))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: NUL byte in the line", name, (long long)line);
        const char *tab = memchr(s, '\t', (size_t)(t - s));
        if (!tab) {
            /* a single name declares the root */
            if (root_decl >= 0)
                return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: a second root declaration (the root was declared at line %lld)", name,
                              (long long)line, (long long)root_line);
            if ((st = intern(h, s, (size_t)(t - s), line, &root_decl))) return st;
            root_line = line;
            if (h->nodes[root_decl].parent >= 0)
                return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: '%s' is declared the root but has a parent at line %lld", name,
                              (long long)line, h->nodes[root_decl].name, (long long)h->nodes[root_decl].parent_line);
            continue;
        }
        if (memchr(tab + 1, '\t', (size_t)(t - tab - 1)))
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: malformed line: more than two tab-separated fields (expected child<TAB>parent)",
                          name, (long long)line);
        const char *cs = s, *ce = tab, *ps = tab + 1, *pe = t;
        trim(&cs, &ce);
        trim(&ps, &pe);
        if (cs == ce || ps == pe)
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: malformed line: empty %s name (expected child<TAB>parent)", name,
                          (long long)line, cs == ce ? "child" : "parent");
        if (ce - cs == pe - ps && memcmp(cs, ps, (size_t)(ce - cs)) == 0)
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: cycle: '%.*s' is its own parent", name, (long long)line, (int)(ce - cs), cs);
        int64_t c, par;
        if ((st = intern(h, cs, (size_t)(ce - cs), line, &c)) || (st = intern(h, ps, (size_t)(pe - ps), line, &par))) return st;
        hnode *cn = &h->nodes[c];
        if (cn->parent >= 0) {
            if (cn->parent == par) continue; /* the same edge again */
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: '%s' has parent '%s' here but '%s' at line %lld", name, (long long)line, cn->name,
                          h->nodes[par].name, h->nodes[cn->parent].name, (long long)cn->parent_line);
        }
        if (c == root_decl)
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: '%s' is declared the root (line %lld) but is given a parent here", name,
                          (long long)line, cn->name, (long long)root_line);
        cn->parent = par;
        cn->parent_line = line;
    }
    if (h->n == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no nodes (expected child<TAB>parent lines)", name);

    /* the root */
    if (root_decl >= 0) {
        h->root = root_decl;
        for (int64_t i = 0; i < h->n; i++)
            if (h->nodes[i].parent < 0 && i != root_decl)
                return XF_ERR(ctx, XF_ERR_FORMAT,
                              "%s:%lld: orphan: '%s' is a parent but never a child, so it does not reach the root '%s' (line %lld)", name,
                              (long long)h->nodes[i].line, h->nodes[i].name, h->nodes[root_decl].name, (long long)root_line);
    } else {
        int64_t r1 = -1, r2 = -1, nr = 0;
        for (int64_t i = 0; i < h->n; i++)
            if (h->nodes[i].parent < 0) {
                if (nr == 0) r1 = i;
                else if (nr == 1) r2 = i;
                nr++;
            }
        if (nr > 1)
            return XF_ERR(ctx, XF_ERR_FORMAT,
                          "%s:%lld: %lld roots (nodes that are never a child): '%s' (line %lld) and '%s' (line %lld)%s; a hierarchy "
                          "has exactly one root",
                          name, (long long)h->nodes[r2].line, (long long)nr, h->nodes[r1].name, (long long)h->nodes[r1].line,
                          h->nodes[r2].name, (long long)h->nodes[r2].line, nr > 2 ? " and more" : "");
        h->root = r1; /* -1 when every node has a parent: a cycle, found below */
    }

    /* every node must reach the root: walk parent chains, colouring */
    unsigned char *col = xf_calloc(ctx, (size_t)h->n, 1); /* 0 new, 1 on the current walk, 2 reaches the root */
    if (!col) return XF_ERR_NOMEM;
    if (h->root >= 0) col[h->root] = 2;
    st = XF_OK;
    for (int64_t i = 0; i < h->n && !st; i++) {
        int64_t v = i;
        while (v >= 0 && col[v] == 0) {
            col[v] = 1;
            v = h->nodes[v].parent;
        }
        if (v >= 0 && col[v] == 1) {
            char buf[512];
            cycle_text(h, v, buf, sizeof buf);
            /* report the line of the edge closing the cycle: the latest in it */
            int64_t ln = 0, u = v;
            do {
                if (h->nodes[u].parent_line > ln) ln = h->nodes[u].parent_line;
                u = h->nodes[u].parent;
            } while (u != v);
            st = XF_ERR(ctx, XF_ERR_FORMAT, "%s:%lld: cycle: %s (these nodes never reach a root)", name, (long long)ln, buf);
            break;
        }
        /* v reached a node known to reach the root: mark the walk */
        for (int64_t u = i; u >= 0 && col[u] == 1; u = h->nodes[u].parent) col[u] = 2;
    }
    xf_free(ctx, col);
    if (st) return st;
    if (h->root < 0) return XF_ERR(ctx, XF_ERR_INTERNAL, "%s: no root found", name);

    /* children (CSR, in order of node creation) and depths */
    h->kid_off = xf_calloc(ctx, (size_t)h->n + 1, sizeof(int64_t));
    h->kids = xf_malloc(ctx, sizeof(int64_t) * (size_t)(h->n > 1 ? h->n - 1 : 1));
    h->depth = xf_calloc(ctx, (size_t)h->n, sizeof(int));
    if (!h->kid_off || !h->kids || !h->depth) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < h->n; i++)
        if (h->nodes[i].parent >= 0) h->kid_off[h->nodes[i].parent + 1]++;
    for (int64_t i = 0; i < h->n; i++) h->kid_off[i + 1] += h->kid_off[i];
    int64_t *fill = xf_calloc(ctx, (size_t)h->n, sizeof(int64_t));
    if (!fill) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < h->n; i++) {
        int64_t p = h->nodes[i].parent;
        if (p >= 0) h->kids[h->kid_off[p] + fill[p]++] = i;
    }
    xf_free(ctx, fill);
    /* depths breadth-first from the root (the tree is now known to be one tree) */
    int64_t *q = xf_malloc(ctx, sizeof(int64_t) * (size_t)h->n);
    if (!q) return XF_ERR_NOMEM;
    int64_t qh = 0, qt = 0;
    q[qt++] = h->root;
    while (qh < qt) {
        int64_t v = q[qh++];
        for (int64_t j = h->kid_off[v]; j < h->kid_off[v + 1]; j++) {
            h->depth[h->kids[j]] = h->depth[v] + 1;
            q[qt++] = h->kids[j];
        }
    }
    xf_free(ctx, q);
    return XF_OK;
}

xf_status xf_hierarchy_parse_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_hierarchy_t **out) {
    *out = NULL;
    if (!name) name = "<memory>";
    xf_hierarchy_t *h = xf_calloc(ctx, 1, sizeof *h);
    if (!h) return XF_ERR_NOMEM;
    h->ctx = ctx;
    h->root = -1;
    xf_status st = parse(h, name, buf ? buf : "", buf ? len : 0);
    if (st) {
        xf_hierarchy_free(h);
        return st;
    }
    *out = h;
    return XF_OK;
}

xf_status xf_hierarchy_read(xf_ctx_t *ctx, const char *path, xf_hierarchy_t **out) {
    *out = NULL;
    xf_src s;
    xf_status st = xf_src_open_file(ctx, path, &s);
    if (st) return st;
    char *text;
    size_t len;
    st = xf_src_read_all(&s, HIER_MAX_BYTES, &text, &len);
    xf_src_close(&s);
    if (st) return st;
    st = xf_hierarchy_parse_mem(ctx, text, len, path, out);
    xf_free(ctx, text);
    return st;
}

int64_t xf_hierarchy_count(const xf_hierarchy_t *h) { return h->n; }
int64_t xf_hierarchy_root(const xf_hierarchy_t *h) { return h->root; }
const char *xf_hierarchy_name(const xf_hierarchy_t *h, int64_t node) {
    return node >= 0 && node < h->n ? h->nodes[node].name : NULL;
}
int64_t xf_hierarchy_find(const xf_hierarchy_t *h, const char *name) { return name ? find_n(h, name, strlen(name)) : -1; }
int64_t xf_hierarchy_parent(const xf_hierarchy_t *h, int64_t node) {
    return node >= 0 && node < h->n ? h->nodes[node].parent : -1;
}
int xf_hierarchy_depth(const xf_hierarchy_t *h, int64_t node) { return node >= 0 && node < h->n ? h->depth[node] : -1; }

int64_t xf_hierarchy_children(const xf_hierarchy_t *h, int64_t node, const int64_t **kids) {
    if (node < 0 || node >= h->n) {
        *kids = NULL;
        return 0;
    }
    *kids = h->kids + h->kid_off[node];
    return h->kid_off[node + 1] - h->kid_off[node];
}

int64_t xf_hierarchy_ancestors(const xf_hierarchy_t *h, int64_t node, int64_t *out, int64_t cap) {
    if (node < 0 || node >= h->n) return 0;
    int64_t k = 0;
    for (int64_t v = h->nodes[node].parent; v >= 0; v = h->nodes[v].parent, k++)
        if (k < cap) out[k] = v;
    return k;
}

int xf_hierarchy_is_under(const xf_hierarchy_t *h, int64_t node, int64_t anc) {
    if (node < 0 || node >= h->n || anc < 0 || anc >= h->n) return 0;
    for (int64_t v = node; v >= 0; v = h->nodes[v].parent)
        if (v == anc) return 1;
    return 0;
}

xf_status xf_hierarchy_leaves(xf_ctx_t *ctx, const xf_hierarchy_t *h, int64_t node, int64_t **out, int64_t *n) {
    *out = NULL;
    *n = 0;
    if (node < 0 || node >= h->n) return XF_ERR(ctx, XF_ERR_INVALID, "hierarchy node %lld does not exist", (long long)node);
    /* depth-first, children in file order, with an explicit stack (trees can be deep) */
    int64_t *stack = xf_malloc(ctx, sizeof(int64_t) * (size_t)h->n);
    int64_t *res = xf_malloc(ctx, sizeof(int64_t) * (size_t)h->n);
    if (!stack || !res) {
        xf_free(ctx, stack);
        xf_free(ctx, res);
        return XF_ERR_NOMEM;
    }
    int64_t sp = 0, m = 0;
    stack[sp++] = node;
    while (sp) {
        int64_t v = stack[--sp];
        int64_t a = h->kid_off[v], b = h->kid_off[v + 1];
        if (a == b) res[m++] = v;
        for (int64_t j = b - 1; j >= a; j--) stack[sp++] = h->kids[j];
    }
    xf_free(ctx, stack);
    *out = res;
    *n = m;
    return XF_OK;
}

xf_status xf_hierarchy_slice(xf_ctx_t *ctx, const xf_hierarchy_t *h, int64_t node, const xf_dataset *ds, int64_t **idx,
                             int64_t *n) {
    *idx = NULL;
    *n = 0;
    if (node < 0 || node >= h->n) return XF_ERR(ctx, XF_ERR_INVALID, "hierarchy node %lld does not exist", (long long)node);
    unsigned char *in = xf_calloc(ctx, ds->k ? (size_t)ds->k : 1, 1);
    if (!in) return XF_ERR_NOMEM;
    for (int c = 0; c < ds->k; c++) in[c] = (unsigned char)xf_hierarchy_is_under(h, xf_hierarchy_find(h, ds->classes[c]), node);
    int64_t m = 0;
    for (int64_t i = 0; i < ds->n; i++) m += ds->y[i] >= 0 && ds->y[i] < ds->k && in[ds->y[i]];
    int64_t *r = xf_malloc(ctx, sizeof(int64_t) * (size_t)(m ? m : 1));
    if (!r) {
        xf_free(ctx, in);
        return XF_ERR_NOMEM;
    }
    m = 0;
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->y[i] >= 0 && ds->y[i] < ds->k && in[ds->y[i]]) r[m++] = i;
    xf_free(ctx, in);
    *idx = r;
    *n = m;
    return XF_OK;
}
