/* Short display names for a list of file paths: each path is named by the shortest
 * suffix of whole components that no other path in the list ends with, so that
 * `a/features.npy b/features.npy` become "a/features" and "b/features" rather than two
 * "features". Used by `xfer score` (one name per model) and by anything that lists
 * models given as paths.
 *
 * A path is read as its components between '/' separators; empty and "." components are
 * skipped (so "./a//f.npy" and "a/f.npy" read the same), and `ext`, when given, is cut
 * from the last component. The suffix of k components of a path with fewer than k
 * components is the whole path. Cost: O(n^2 c) component comparisons for n paths of at
 * most c components, fine for the model lists this serves. */
#include <stdio.h>
#include <string.h>

#include "xfer/core.h"

typedef struct comp {
    const char *s;
    size_t len;
} comp;

typedef struct split {
    comp *c; /* (nc) components, first to last */
    int64_t nc;
} split;

/* Components of path into c (capacity strlen(path) / 2 + 1 is enough: every component
 * but the last is followed by a separator). */
static int64_t split_path(const char *path, const char *ext, comp *c) {
    int64_t nc = 0;
    for (const char *p = path; *p;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0 && !(len == 1 && p[0] == '.')) c[nc++] = (comp){p, len};
        p += len + (e != NULL);
    }
    size_t el = ext ? strlen(ext) : 0;
    if (nc > 0 && el > 0) {
        comp *l = &c[nc - 1];
        if (l->len > el && memcmp(l->s + l->len - el, ext, el) == 0) l->len -= el;
    }
    return nc;
}

static int comp_eq(comp a, comp b) { return a.len == b.len && memcmp(a.s, b.s, a.len) == 0; }

/* Whether the suffixes of k components of a and b are the same. */
static int same_suffix(const split *a, const split *b, int64_t k) {
    int64_t ka = a->nc < k ? a->nc : k, kb = b->nc < k ? b->nc : k;
    if (ka != kb) return 0;
    for (int64_t t = 1; t <= ka; t++)
        if (!comp_eq(a->c[a->nc - t], b->c[b->nc - t])) return 0;
    return 1;
}

xf_status xf_path_short_names(xf_ctx_t *ctx, const char *const *paths, int64_t n, const char *ext, char **names) {
    for (int64_t i = 0; i < n; i++) names[i] = NULL;
    if (n <= 0) return XF_OK;
    split *sp = xf_calloc(ctx, (size_t)n, sizeof *sp);
    if (!sp) return XF_ERR_NOMEM;
    xf_status st = XF_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        sp[i].c = xf_malloc(ctx, (strlen(paths[i]) / 2 + 1) * sizeof *sp[i].c);
        if (!sp[i].c) st = XF_ERR_NOMEM;
        else sp[i].nc = split_path(paths[i], ext, sp[i].c);
    }
    for (int64_t i = 0; i < n && !st; i++) {
        const split *a = &sp[i];
        /* smallest k that no other path shares; a path identical to another (all of its
         * components) keeps them all and is told apart by its occurrence "#m", m >= 2 */
        int64_t k = 1, copy = 1;
        for (; k < a->nc; k++) {
            int64_t j = 0;
            while (j < n && (j == i || !same_suffix(a, &sp[j], k))) j++;
            if (j == n) break;
        }
        for (int64_t j = 0; j < i; j++) copy += same_suffix(a, &sp[j], a->nc > sp[j].nc ? a->nc : sp[j].nc);
        if (a->nc == 0) { /* nothing but separators or dots: the path as given */
            size_t len = strlen(paths[i]);
            if (!(names[i] = xf_malloc(ctx, len + 24))) { st = XF_ERR_NOMEM; break; }
            memcpy(names[i], paths[i], len + 1);
        } else {
            if (k > a->nc) k = a->nc;
            size_t len = 0;
            for (int64_t t = a->nc - k; t < a->nc; t++) len += a->c[t].len + 1;
            if (!(names[i] = xf_malloc(ctx, len + 24))) { st = XF_ERR_NOMEM; break; }
            char *o = names[i];
            for (int64_t t = a->nc - k; t < a->nc; t++) {
                if (o != names[i]) *o++ = '/';
                memcpy(o, a->c[t].s, a->c[t].len);
                o += a->c[t].len;
            }
            *o = 0;
        }
        if (copy > 1) snprintf(names[i] + strlen(names[i]), 24, "#%lld", (long long)copy);
    }
    for (int64_t i = 0; i < n; i++) xf_free(ctx, sp[i].c);
    xf_free(ctx, sp);
    if (st)
        for (int64_t i = 0; i < n; i++) {
            xf_free(ctx, names[i]);
            names[i] = NULL;
        }
    return st;
}
