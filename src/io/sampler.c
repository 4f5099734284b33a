/* PARC's fixed-budget probe sampler (Bolya, Mittapalli, Hoffman, "Scalable Diverse Model
 * Selection for Accessible Transfer Learning", NeurIPS 2021; dbolya/parc datasets.py
 * FixedBudgetSampler; docs/research/methods.md section 2.1).
 *
 * Design, step by step as in the reference (with xf_rng instead of Python's random so a
 * run's probe set is reproducible in C):
 *   1. group the indices by class (ascending index order), skipping empty classes;
 *   2. shuffle every class's list (class order, one Fisher-Yates each);
 *   3. if min_per_class * C > budget, shuffle the class list and keep the first
 *      floor(budget / min_per_class) classes;
 *   4. round-robin over the kept classes in list order, one index per class per pass,
 *      until budget indices are taken or a whole pass adds nothing.
 * Step 4 stops in the middle of a pass when the budget is reached, as PARC's loop does.
 * The result is in selection order. */
#include <string.h>

#include "io/ioInt.h"

xf_status xf_probe_sample(xf_ctx_t *ctx, const int32_t *y, int64_t n, int k, int64_t budget, int min_per_class, uint64_t seed,
                          int64_t **out, int64_t *m) {
    *out = NULL;
    *m = 0;
    if (n < 0 || k <= 0 || (n > 0 && !y)) return XF_ERR(ctx, XF_ERR_INVALID, "probe sampler: %lld labels, %d classes", (long long)n, k);
    if (budget <= 0) return XF_ERR(ctx, XF_ERR_INVALID, "probe sampler: budget %lld must be positive", (long long)budget);
    if (min_per_class <= 0) return XF_ERR(ctx, XF_ERR_INVALID, "probe sampler: min_per_class %d must be positive", min_per_class);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= k)
            return XF_ERR(ctx, XF_ERR_INVALID, "probe sampler: label %d of sample %lld outside 0..%d", (int)y[i], (long long)i, k - 1);
    int64_t *off = xf_calloc(ctx, (size_t)k + 1, sizeof(int64_t));  /* (k + 1) class starts */
    int64_t *pos = xf_calloc(ctx, (size_t)k, sizeof(int64_t));      /* (k) taken per class */
    int64_t *byc = xf_malloc(ctx, sizeof(int64_t) * (size_t)(n ? n : 1)); /* (n) grouped */
    int64_t *cls = xf_malloc(ctx, sizeof(int64_t) * (size_t)k);      /* present classes */
    int64_t cap = budget < n ? budget : n;
    int64_t *res = xf_malloc(ctx, sizeof(int64_t) * (size_t)(cap ? cap : 1));
    if (!off || !pos || !byc || !cls || !res) {
        xf_free(ctx, off); xf_free(ctx, pos); xf_free(ctx, byc); xf_free(ctx, cls); xf_free(ctx, res);
        return XF_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) off[y[i] + 1]++;
    for (int c = 0; c < k; c++) off[c + 1] += off[c];
    for (int64_t i = 0; i < n; i++) byc[off[y[i]] + pos[y[i]]++] = i;
    memset(pos, 0, sizeof(int64_t) * (size_t)k);

    xf_rng r;
    xf_rng_seed(&r, seed);
    int64_t nc = 0;
    for (int c = 0; c < k; c++) {
        int64_t cnt = off[c + 1] - off[c];
        if (!cnt) continue;
        xf_rng_shuffle_i64(&r, byc + off[c], cnt);
        cls[nc++] = c;
    }
    if ((int64_t)min_per_class * nc > budget) {
        xf_rng_shuffle_i64(&r, cls, nc);
        nc = budget / min_per_class;
    }
    int64_t got = 0;
    for (;;) {
        int64_t before = got;
        for (int64_t j = 0; j < nc && got < budget; j++) {
            int64_t c = cls[j];
            if (off[c] + pos[c] < off[c + 1]) res[got++] = byc[off[c] + pos[c]++];
        }
        if (got == before || got >= budget) break;
    }
    xf_free(ctx, off); xf_free(ctx, pos); xf_free(ctx, byc); xf_free(ctx, cls);
    *out = res;
    *m = got;
    return XF_OK;
}
