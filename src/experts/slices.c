/* Expert slices from a label hierarchy and the label-matching proxy's arithmetic.
 *
 * Puigcerver et al. 2021, Sec. 4.1 / methods.md 1.2: an expert's domain is a node of the
 * "is-a" hierarchy, D_e = the upstream images whose label lies under the node (an image
 * belongs to every node above its label), chosen automatically by image count. Here:
 * every inner node except the root (the root's slice is the whole upstream, i.e. the
 * generalist's) with at least min_images training images. Leaves are left out: a leaf
 * slice has one label, and where a group has a single leaf (trousers, bags) the group's
 * slice is the same set.
 *
 * Each slice keeps its upstream-label prior P_e (counts / n, App. B), which the KL proxy
 * compares with the generalist's mean prediction on a target.
 *
 * Random controls (App. G): size-matched subsets drawn uniformly from the whole upstream,
 * each from an xf_rng seeded by (seed, slice index), so one control does not depend on
 * how many others are drawn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/experts.h"

void xf_slice_set_free(xf_ctx_t *ctx, xf_slice_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n && s->s; i++) {
        xf_free(ctx, s->s[i].name);
        xf_free(ctx, s->s[i].idx);
        xf_free(ctx, s->s[i].prior);
    }
    xf_free(ctx, s->s);
    memset(s, 0, sizeof *s);
}

static char *dup_str(xf_ctx_t *ctx, const char *prefix, const char *s) {
    size_t lp = strlen(prefix), l = strlen(s);
    char *d = xf_malloc(ctx, lp + l + 1);
    if (!d) return NULL;
    memcpy(d, prefix, lp);
    memcpy(d + lp, s, l + 1);
    return d;
}

/* prior (Z) = label counts of idx / n */
static xf_status slice_prior(xf_ctx_t *ctx, xf_slice *s, const int32_t *y, int64_t Z) {
    s->prior = xf_calloc(ctx, (size_t)Z, sizeof *s->prior);
    if (!s->prior) return XF_ERR_NOMEM;
    for (int64_t i = 0; i < s->n; i++) s->prior[y[s->idx[i]]] += 1.0;
    for (int64_t z = 0; z < Z; z++) s->prior[z] /= (double)(s->n ? s->n : 1);
    return XF_OK;
}

xf_status xf_experts_slices(xf_ctx_t *ctx, const xf_hierarchy_t *h, const xf_dataset *ds, int64_t min_images,
                            xf_slice_set *out) {
    memset(out, 0, sizeof *out);
    if (!h || !ds || ds->n < 1 || ds->k < 1) return XF_ERR(ctx, XF_ERR_INVALID, "xf_experts_slices: no hierarchy or no images");
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= ds->k)
            return XF_ERR(ctx, XF_ERR_INVALID, "upstream label %d of image %lld outside 0..%d", (int)ds->y[i], (long long)i,
                          ds->k - 1);
    int known = 0;
    for (int c = 0; c < ds->k; c++) known += xf_hierarchy_find(h, ds->classes[c]) >= 0;
    if (!known) return XF_ERR(ctx, XF_ERR_INVALID, "no upstream class is a node of the hierarchy (first class '%s')", ds->classes[0]);
    int64_t count = xf_hierarchy_count(h), root = xf_hierarchy_root(h);
    out->Z = ds->k;
    out->s = xf_calloc(ctx, (size_t)count, sizeof *out->s);
    if (!out->s) return XF_ERR_NOMEM;
    xf_status st = XF_OK;
    int64_t best = -1, best_n = -1;
    for (int64_t v = 0; v < count; v++) {
        const int64_t *kids;
        if (v == root || xf_hierarchy_children(h, v, &kids) == 0) continue;
        int64_t *idx, n;
        if ((st = xf_hierarchy_slice(ctx, h, v, ds, &idx, &n))) goto fail;
        if (n > best_n) best = v, best_n = n;
        if (n < min_images || n < 1) {
            xf_free(ctx, idx);
            continue;
        }
        xf_slice *s = &out->s[out->n++];
        s->node = v;
        s->n = n;
        s->idx = idx;
        if (!(s->name = dup_str(ctx, "", xf_hierarchy_name(h, v)))) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
        if ((st = slice_prior(ctx, s, ds->y, ds->k))) goto fail;
    }
    if (out->n == 0) {
        if (best < 0)
            st = XF_ERR(ctx, XF_ERR_INVALID, "the hierarchy has no node between the root and the leaves to make a slice");
        else
            st = XF_ERR(ctx, XF_ERR_INVALID,
                        "no hierarchy node has at least %lld training images (min-images); the largest is '%s' with %lld",
                        (long long)min_images, xf_hierarchy_name(h, best), (long long)best_n);
        goto fail;
    }
    return XF_OK;
fail:
    xf_slice_set_free(ctx, out);
    return st;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

xf_status xf_experts_random_slices(xf_ctx_t *ctx, const xf_slice_set *sem, const int32_t *y, int64_t N, uint64_t seed,
                                   xf_slice_set *out) {
    memset(out, 0, sizeof *out);
    if (!sem || !y || N < 1) return XF_ERR(ctx, XF_ERR_INVALID, "xf_experts_random_slices: no slices or no images");
    int64_t *perm = xf_malloc(ctx, (size_t)N * sizeof *perm);
    out->s = xf_calloc(ctx, (size_t)(sem->n ? sem->n : 1), sizeof *out->s);
    out->Z = sem->Z;
    xf_status st = XF_OK;
    if (!perm || !out->s) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < sem->n; i++) {
        const xf_slice *a = &sem->s[i];
        if (a->n > N) {
            st = XF_ERR(ctx, XF_ERR_INVALID, "slice '%s' has %lld images, more than the %lld upstream images", a->name,
                        (long long)a->n, (long long)N);
            goto fail;
        }
        xf_rng r;
        xf_rng_seed(&r, seed * 0x9e3779b97f4a7c15ULL + 0x7a3d0c1ULL + (uint64_t)i);
        /* a partial Fisher-Yates shuffle: the first n of a uniform permutation */
        for (int64_t k = 0; k < N; k++) perm[k] = k;
        for (int64_t k = 0; k < a->n; k++) {
            int64_t j = k + (int64_t)xf_rng_below(&r, (uint64_t)(N - k));
            int64_t t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
        xf_slice *s = &out->s[out->n++];
        s->node = -1;
        s->n = a->n;
        if (!(s->idx = xf_malloc(ctx, (size_t)a->n * sizeof *s->idx)) || !(s->name = dup_str(ctx, "random-", a->name))) {
            st = XF_ERR_NOMEM;
            goto fail;
        }
        memcpy(s->idx, perm, (size_t)a->n * sizeof *s->idx);
        qsort(s->idx, (size_t)a->n, sizeof *s->idx, cmp_i64);
        if ((st = slice_prior(ctx, s, y, sem->Z))) goto fail;
    }
    xf_free(ctx, perm);
    return XF_OK;
fail:
    xf_free(ctx, perm);
    xf_slice_set_free(ctx, out);
    return st;
}

double xf_experts_kl(const double *P, const double *Q, int64_t Z, double eps) {
    double kl = 0;
    for (int64_t z = 0; z < Z; z++) {
        if (!(P[z] > 0)) continue;
        double q = (1.0 - eps) * Q[z] + eps / (double)Z;
        kl += P[z] * log(P[z] / q);
    }
    return kl;
}

void xf_experts_mean_softmax(const float *logits, int64_t N, int64_t Z, double *Q) {
    for (int64_t z = 0; z < Z; z++) Q[z] = 0;
    for (int64_t i = 0; i < N; i++) {
        const float *l = logits + i * Z;
        double m = l[0], s = 0;
        for (int64_t z = 1; z < Z; z++) m = l[z] > m ? l[z] : m;
        for (int64_t z = 0; z < Z; z++) s += exp((double)l[z] - m);
        for (int64_t z = 0; z < Z; z++) Q[z] += exp((double)l[z] - m) / s;
    }
    for (int64_t z = 0; z < Z; z++) Q[z] /= (double)(N ? N : 1);
}
