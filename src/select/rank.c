/* Ranking a bank for a target (include/xfer/select.h: xf_rank).
 *
 * Per model, in bank order: hash the file (the cache key, and a check against
 * bank.json), look the probe features up in the cache, else load the model (checked
 * against its entry), convert the probe images to its input, extract F and P in one pass
 * and store them; then every requested estimator scores them (estimators with an
 * across-bank combination, NCTI and ETran, give their terms now and are combined once
 * every model is done). F and P are freed after each model: memory holds one model's
 * features, not the bank's.
 *
 * The criterion: one method's score, or the mean over methods of their z-scores across
 * the ranked models (population standard deviation; a method that is constant or missing
 * for some model is left out, as in `xfer score`'s ensemble). The default rule is the one
 * table DEFAULT_METHODS below. --capacity adds PARC's depth prior: Bolya et al. 2021,
 * Sec. 5 ("capacity"): z(score) + layers / 50, layers = weighted layers from bank.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/select.h"

/* xfer's default selection rule: the z-scored mean of these methods. Provisional: the
 * benchmark sets the final rule (docs/SELECTION.md). The only place it is defined. */
/* The default rule, chosen with the corpus selection benchmark (docs/SELECTION.md,
 * `make bench-selection`): of every estimator and every pair and triple of z-scored
 * estimators, the best sum of ranks by mean Pearson and by mean top-1 regret on 4 of the 7
 * corpus targets; the other 3 were held out and are reported there. Three families: a
 * linear probe's held-out accuracy, the Ledoit-Wolf H-score (feature discriminability) and
 * NCTI (neural-collapse terms combined across the bank). */
static const char *const DEFAULT_METHODS[] = {"linear", "hscore-shrink", "ncti"};
#define N_DEFAULT ((int)(sizeof DEFAULT_METHODS / sizeof *DEFAULT_METHODS))
#define CAPACITY_DIVISOR 50.0 /* PARC's depth term: layers / 50 */

const char *xf_rank_default_rule(void) { return "mean of z-scored linear, hscore-shrink, ncti"; }
int xf_rank_default_methods(const char *const **names) {
    *names = DEFAULT_METHODS;
    return N_DEFAULT;
}

void xf_rank_opts_default(xf_rank_opts *o) {
    memset(o, 0, sizeof *o);
    o->probe = XF_PROBE_BUDGET;
    o->seed = XF_PROBE_SEED(0);
    o->methods = "default";
    o->batch = 32;
}

void xf_rank_result_free(xf_ctx_t *ctx, xf_rank_result *r) {
    if (!r) return;
    for (int64_t i = 0; r->models && i < r->n_models; i++) xf_free(ctx, r->models[i].scores);
    xf_free(ctx, r->models);
    xf_free(ctx, r->order);
    xf_free(ctx, r->methods);
    xf_free(ctx, r);
}

/* methods spec -> estimator list; *zmean: the criterion is the z-mean of all of them (else
 * the single one); *crit_n: how many leading methods the criterion uses. */
static xf_status parse_methods(xf_ctx_t *ctx, const char *spec, const xf_estimator ***out, int *n, int *crit_n,
                               char *crit, size_t cap) {
    *out = NULL;
    *n = 0;
    int M = xf_est_count();
    const xf_estimator **e = xf_calloc(ctx, (size_t)M + N_DEFAULT + 1, sizeof *e);
    if (!e) return XF_ERR_NOMEM;
    if (!spec || !strcmp(spec, "default") || !strcmp(spec, "all")) {
        for (int k = 0; k < N_DEFAULT; k++)
            if (!(e[(*n)++] = xf_est_find(DEFAULT_METHODS[k]))) {
                xf_free(ctx, e);
                return XF_ERR(ctx, XF_ERR_INTERNAL, "default rule: no estimator '%s'", DEFAULT_METHODS[k]);
            }
        *crit_n = N_DEFAULT;
        snprintf(crit, cap, "default (%s)", xf_rank_default_rule());
        if (spec && !strcmp(spec, "all"))
            for (int i = 0; i < M; i++) {
                const xf_estimator *x = xf_est_at(i);
                int dup = 0;
                for (int k = 0; k < *n; k++) dup |= e[k] == x;
                if (x && !dup) e[(*n)++] = x;
            }
        *out = e;
        return XF_OK;
    }
    const char *p = spec;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        char name[64];
        if (l == 0 || l >= sizeof name) {
            xf_free(ctx, e);
            return XF_ERR(ctx, XF_ERR_INVALID, "--method: empty or too long name in '%s'", spec);
        }
        memcpy(name, p, l);
        name[l] = 0;
        const xf_estimator *x = xf_est_find(name);
        if (!x) {
            xf_free(ctx, e);
            return XF_ERR(ctx, XF_ERR_NOTFOUND, "--method: no estimator '%s' (see 'xfer score --help')", name);
        }
        int dup = 0;
        for (int k = 0; k < *n; k++) dup |= e[k] == x;
        if (!dup) {
            if (*n >= M) break;
            e[(*n)++] = x;
        }
        p += l;
        if (*p == ',') p++;
    }
    if (!*n) {
        xf_free(ctx, e);
        return XF_ERR(ctx, XF_ERR_INVALID, "--method: no method named");
    }
    *crit_n = *n;
    if (*n == 1) snprintf(crit, cap, "%s", e[0]->name);
    else snprintf(crit, cap, "mean of z-scored %s", spec);
    *out = e;
    return XF_OK;
}

/* Digest of the probe images and labels (shape included). */
static void probe_digest(const xf_dataset *d, const int32_t *y, char hex[65]) {
    xf_sha256 s;
    xf_sha256_init(&s);
    int64_t hdr[4] = {d->n, d->c, d->h, d->w};
    xf_sha256_update(&s, "xfer-probe-v1", 13);
    xf_sha256_update(&s, hdr, sizeof hdr);
    xf_sha256_update(&s, d->x, (size_t)(d->n * d->c * d->h * d->w) * sizeof(float));
    xf_sha256_update(&s, y, (size_t)d->n * sizeof *y);
    uint8_t dg[32];
    xf_sha256_final(&s, dg);
    xf_sha256_hex(dg, hex);
}

/* z-scores of v over the models with ok set; 0 if the method is unusable (a non-finite
 * value or no spread). */
static int zscore(const double *v, const xf_rank_model *m, int64_t n, double *z) {
    double mu = 0, sd = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!m[i].ok) continue;
        if (!isfinite(v[i])) return 0;
        mu += v[i];
        k++;
    }
    if (k < 1) return 0;
    mu /= (double)k;
    for (int64_t i = 0; i < n; i++)
        if (m[i].ok) sd += (v[i] - mu) * (v[i] - mu);
    sd = sqrt(sd / (double)k);
    if (!(sd > 0)) {
        if (k == 1) { /* one model: z = 0 (nothing to compare) */
            for (int64_t i = 0; i < n; i++) z[i] = m[i].ok ? 0 : NAN;
            return 1;
        }
        return 0;
    }
    for (int64_t i = 0; i < n; i++) z[i] = m[i].ok ? (v[i] - mu) / sd : NAN;
    return 1;
}

/* Everything one model needs: hash, cache, load, convert, extract, score. Records the
 * failure in r->error and returns non-OK on failure. */
typedef struct {
    xf_ctx_t *ctx;
    const xf_bank_t *bank;
    const xf_rank_opts *o;
    const xf_dataset *probe; /* the probe images (pixels in [0, 1]) */
    const int32_t *y;        /* dense labels */
    int64_t C;
    char data_hex[65];
    xf_fcache_t *cache;
    const xf_estimator **est;
    int n_est;
    xf_params params;
    xf_ws_t *ws;
    double **terms;          /* per method: (n_models x nterms) for bank-combined methods, else NULL */
    int *terms_bad;          /* per method: some model's terms failed (no combination) */
} ranker;

static xf_status model_features(ranker *k, int64_t i, xf_rank_model *r, xf_fcache_entry *e) {
    xf_ctx_t *ctx = k->ctx;
    const xf_bank_model *m = xf_bank_model_at(k->bank, i);
    char hex[65];
    xf_status st = xf_sha256_file(ctx, m->path, hex);
    if (st) return st;
    if (strcmp(hex, m->sha256))
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: SHA-256 %s, bank.json says %s (the file changed)", m->path, hex, m->sha256);
    char spec[512], layer[1024];
    snprintf(spec, sizeof spec, "n=%lld seed=%llu min=%d all=%d in=%lldx%lldx%lld mean=%.9g,%.9g,%.9g std=%.9g,%.9g,%.9g",
             (long long)k->probe->n, (unsigned long long)k->o->seed, XF_PROBE_MIN_PER_CLASS, k->o->probe == 0,
             (long long)m->channels, (long long)m->height, (long long)m->width, m->mean[0], m->mean[1], m->mean[2],
             m->std[0], m->std[1], m->std[2]);
    snprintf(layer, sizeof layer, "%s|%s", m->feature_tensor, m->logits_tensor);
    xf_fcache_key key = {hex, k->data_hex, spec, layer};
    int hit = 0;
    if (k->cache && (st = xf_fcache_get(ctx, k->cache, &key, e, &hit))) return st;
    if (hit) {
        r->cached = 1;
        r->seconds_extract = e->seconds;
        return XF_OK;
    }
    xf_graph *g = NULL;
    int fv, lv;
    if ((st = xf_bank_load(ctx, k->bank, i, 0, &g, &fv, &lv))) return st;
    double t0 = xf_now();
    float *x = NULL;
    st = xf_select_images_for(ctx, m, k->probe->x, k->probe->n, k->probe->c, k->probe->h, k->probe->w, &x);
    if (!st)
        st = xf_select_extract(ctx, g, x, k->probe->n, k->o->batch, fv, lv, &e->F, &e->D, &e->P, &e->Z);
    xf_free(ctx, x);
    xf_graph_free(g);
    if (st) return st;
    e->N = k->probe->n;
    e->seconds = r->seconds_extract = xf_now() - t0;
    if (k->cache && xf_fcache_put(ctx, k->cache, &key, e) != XF_OK)
        xf_log(ctx, XF_LOG_WARN, "%s", xf_errmsg(ctx)); /* a cache that cannot be written only costs time */
    return XF_OK;
}

static xf_status model_scores(ranker *k, int64_t i, xf_rank_model *r, const xf_fcache_entry *e, int64_t n_models) {
    xf_ctx_t *ctx = k->ctx;
    double t0 = xf_now();
    xf_est_input in = {e->F, e->N, e->D, e->D, k->y, k->C, e->P, e->Z, e->Z, NULL};
    for (int j = 0; j < k->n_est; j++) {
        const xf_estimator *est = k->est[j];
        xf_status st = xf_est_check_input(ctx, est, &in, &k->params);
        xf_ws_reset(k->ws);
        if (!st && k->terms[j]) st = est->terms(ctx, &in, &k->params, k->ws, k->terms[j] + (size_t)i * est->nterms);
        else if (!st) st = est->fn(ctx, &in, &k->params, k->ws, &r->scores[j]);
        if (st) {
            r->scores[j] = NAN;
            if (k->terms[j]) k->terms_bad[j] = 1;
            xf_log(ctx, XF_LOG_WARN, "%s: %s: %s", r->name, est->name, xf_errmsg(ctx));
        }
    }
    (void)n_models;
    r->seconds_score = xf_now() - t0;
    return XF_OK;
}

xf_status xf_rank(xf_ctx_t *ctx, const xf_bank_t *bank, const xf_dataset *ds, const xf_rank_opts *opts,
                  xf_rank_result **out) {
    *out = NULL;
    xf_rank_opts o;
    if (opts) o = *opts;
    else xf_rank_opts_default(&o);
    const int64_t M = xf_bank_count(bank);
    if (M < 1) return XF_ERR(ctx, XF_ERR_INVALID, "%s: the bank has no models", xf_bank_dir(bank));
    if (!ds || ds->n < 2) return XF_ERR(ctx, XF_ERR_INVALID, "the data has %lld images: need at least 2", ds ? (long long)ds->n : 0LL);
    if (ds->c != 1 && ds->c != 3) return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "images with %d channels: xfer takes 1 or 3", ds->c);
    if (o.probe < 0) return XF_ERR(ctx, XF_ERR_INVALID, "probe size %lld: must be >= 0", (long long)o.probe);
    double t_start = xf_now();
    ranker k;
    memset(&k, 0, sizeof k);
    k.ctx = ctx;
    k.bank = bank;
    k.o = &o;
    if (o.params) k.params = *o.params;
    xf_rank_result *r = xf_calloc(ctx, 1, sizeof *r);
    if (!r) return XF_ERR_NOMEM;
    int crit_n = 0;
    xf_status st = parse_methods(ctx, o.methods, &k.est, &k.n_est, &crit_n, r->criterion, sizeof r->criterion);
    xf_dataset sub;
    memset(&sub, 0, sizeof sub);
    int64_t *idx = NULL, *raw = NULL, m = 0;
    int32_t *y = NULL;
    /* the probe set: PARC's sampler, or every image */
    if (!st) {
        if (o.probe == 0 || o.probe >= ds->n) {
            m = ds->n;
            if (!(idx = xf_malloc(ctx, sizeof *idx * (size_t)m))) st = XF_ERR_NOMEM;
            for (int64_t i = 0; idx && i < m; i++) idx[i] = i;
        } else
            st = xf_probe_sample(ctx, ds->y, ds->n, ds->k, o.probe, XF_PROBE_MIN_PER_CLASS, o.seed, &idx, &m);
    }
    if (!st) st = xf_dataset_subset(ctx, ds, idx, m, &sub);
    if (!st && sub.n < 2) st = XF_ERR(ctx, XF_ERR_INVALID, "the probe set has %lld images: need at least 2", (long long)sub.n);
    if (!st && (!(raw = xf_malloc(ctx, sizeof *raw * (size_t)sub.n)) || !(y = xf_malloc(ctx, sizeof *y * (size_t)sub.n))))
        st = XF_ERR_NOMEM;
    if (!st) {
        for (int64_t i = 0; i < sub.n; i++) raw[i] = sub.y[i];
        st = xf_labels_densify(ctx, raw, sub.n, y, &k.C, NULL);
    }
    if (!st && k.C < 2) st = XF_ERR(ctx, XF_ERR_INVALID, "the probe set has one class: ranking needs at least 2");
    k.probe = &sub;
    k.y = y;
    if (!st) probe_digest(&sub, y, k.data_hex);
    if (!st && !o.no_cache) {
        if (xf_fcache_open(ctx, o.cache_dir, &k.cache) != XF_OK) {
            xf_log(ctx, XF_LOG_WARN, "%s (running without a cache)", xf_errmsg(ctx));
            xf_ctx_clear_error(ctx);
        } else
            snprintf(r->cache_dir, sizeof r->cache_dir, "%s", xf_fcache_dir(k.cache));
    }
    if (!st) st = xf_ws_create(ctx, &k.ws);
    if (!st && (!(k.terms = xf_calloc(ctx, (size_t)k.n_est, sizeof *k.terms)) ||
                !(k.terms_bad = xf_calloc(ctx, (size_t)k.n_est, sizeof *k.terms_bad))))
        st = XF_ERR_NOMEM;
    for (int j = 0; j < k.n_est && !st; j++)
        if (k.est[j]->nterms > 0 && k.est[j]->terms && k.est[j]->combine &&
            !(k.terms[j] = xf_calloc(ctx, (size_t)(M * k.est[j]->nterms), sizeof **k.terms)))
            st = XF_ERR_NOMEM;
    if (!st && (!(r->models = xf_calloc(ctx, (size_t)M, sizeof *r->models)) ||
                !(r->order = xf_calloc(ctx, (size_t)M, sizeof *r->order)) ||
                !(r->methods = xf_calloc(ctx, (size_t)k.n_est, sizeof *r->methods))))
        st = XF_ERR_NOMEM;
    if (!st) {
        r->n_models = M;
        r->n_methods = k.n_est;
        r->probe_n = sub.n;
        r->classes = k.C;
        for (int j = 0; j < k.n_est; j++) r->methods[j] = k.est[j]->name;
    }
    for (int64_t i = 0; i < M && !st; i++) {
        xf_rank_model *rm = &r->models[i];
        const xf_bank_model *bm = xf_bank_model_at(bank, i);
        rm->bank_index = i;
        rm->name = bm->name;
        rm->layers = bm->layers;
        rm->score = NAN;
        if (!(rm->scores = xf_malloc(ctx, sizeof *rm->scores * (size_t)k.n_est))) {
            st = XF_ERR_NOMEM;
            break;
        }
        for (int j = 0; j < k.n_est; j++) rm->scores[j] = NAN;
        xf_fcache_entry e;
        memset(&e, 0, sizeof e);
        xf_status ms = model_features(&k, i, rm, &e);
        if (ms == XF_ERR_NOMEM) st = ms;
        else if (ms) {
            snprintf(rm->error, sizeof rm->error, "%s", xf_errmsg(ctx));
            xf_log(ctx, XF_LOG_ERROR, "%s: %s", bm->name, rm->error);
            r->failed++;
        } else {
            rm->ok = 1;
            rm->N = e.N, rm->D = e.D, rm->Z = e.Z;
            r->cache_hits += rm->cached;
            r->extracted += !rm->cached;
            model_scores(&k, i, rm, &e, M);
        }
        xf_fcache_entry_free(ctx, &e);
        if (o.on_model) {
            xf_rank_progress p = {i + 1, M, bm->name, rm->cached,
                                  rm->ok && !rm->cached && rm->seconds_extract > 0 ? (double)sub.n / rm->seconds_extract : 0,
                                  rm->ok};
            o.on_model(o.user, &p);
        }
    }
    if (!st && r->failed == M) st = XF_ERR(ctx, XF_ERR_INVALID, "no model of the bank could be ranked (last: %s)", r->models[M - 1].error);
    /* bank-combined methods over the ranked models */
    double *v = NULL, *z = NULL, *crit = NULL;
    if (!st && (!(v = xf_malloc(ctx, sizeof *v * (size_t)M)) || !(z = xf_malloc(ctx, sizeof *z * (size_t)M)) ||
                !(crit = xf_calloc(ctx, (size_t)M, sizeof *crit))))
        st = XF_ERR_NOMEM;
    for (int j = 0; j < k.n_est && !st; j++) {
        if (!k.terms[j] || k.terms_bad[j]) continue;
        const xf_estimator *est = k.est[j];
        int64_t nok = 0;
        for (int64_t i = 0; i < M; i++)
            if (r->models[i].ok) { /* compact the rows of ranked models */
                memmove(k.terms[j] + nok * est->nterms, k.terms[j] + i * est->nterms, sizeof(double) * (size_t)est->nterms);
                nok++;
            }
        if (est->combine(ctx, nok, k.terms[j], &k.params, v) != XF_OK) {
            xf_log(ctx, XF_LOG_WARN, "%s: %s", est->name, xf_errmsg(ctx));
            continue;
        }
        for (int64_t i = 0, q = 0; i < M; i++)
            if (r->models[i].ok) r->models[i].scores[j] = v[q++];
    }
    /* the criterion */
    int used = 0;
    for (int j = 0; j < crit_n && !st; j++) {
        for (int64_t i = 0; i < M; i++) v[i] = r->models[i].scores[j];
        if (crit_n == 1) {
            for (int64_t i = 0; i < M; i++) crit[i] = v[i];
            used = 1;
        } else if (zscore(v, r->models, M, z)) {
            for (int64_t i = 0; i < M; i++) crit[i] += z[i];
            used++;
        }
    }
    if (!st && !used) st = XF_ERR(ctx, XF_ERR_NUMERIC, "no method of '%s' scored every model", r->criterion);
    if (!st && crit_n > 1)
        for (int64_t i = 0; i < M; i++) crit[i] /= used;
    if (!st && o.capacity) {
        if (!zscore(crit, r->models, M, z))
            for (int64_t i = 0; i < M; i++) z[i] = r->models[i].ok && isfinite(crit[i]) ? 0 : NAN;
        for (int64_t i = 0; i < M; i++) crit[i] = z[i] + (double)r->models[i].layers / CAPACITY_DIVISOR;
        size_t l = strlen(r->criterion);
        snprintf(r->criterion + l, sizeof r->criterion - l, " + capacity (z + layers/50)");
    }
    if (!st) {
        /* order: by score, best first; failed and non-finite last; ties keep bank order */
        int64_t n = 0;
        for (int64_t i = 0; i < M; i++) {
            xf_rank_model *rm = &r->models[i];
            rm->score = rm->ok ? crit[i] : NAN;
            if (rm->ok && !isfinite(rm->score)) {
                rm->ok = 0;
                snprintf(rm->error, sizeof rm->error, "no score (%s)", r->criterion);
                r->failed++;
            }
        }
        for (int64_t i = 0; i < M; i++)
            if (r->models[i].ok) {
                int64_t p = n++;
                while (p > 0 && r->models[r->order[p - 1]].score < r->models[i].score) {
                    r->order[p] = r->order[p - 1];
                    p--;
                }
                r->order[p] = i;
            }
        for (int64_t q = 0; q < n; q++) {
            xf_rank_model *rm = &r->models[r->order[q]];
            rm->rank = q > 0 && rm->score == r->models[r->order[q - 1]].score ? r->models[r->order[q - 1]].rank : (int)q + 1;
        }
        for (int64_t i = 0; i < M; i++)
            if (!r->models[i].ok) r->order[n++] = i;
        if (r->failed == M) st = XF_ERR(ctx, XF_ERR_NUMERIC, "no model could be scored by %s", r->criterion);
    }
    r->seconds = xf_now() - t_start;
    xf_free(ctx, v);
    xf_free(ctx, z);
    xf_free(ctx, crit);
    for (int j = 0; k.terms && j < k.n_est; j++) xf_free(ctx, k.terms[j]);
    xf_free(ctx, k.terms);
    xf_free(ctx, k.terms_bad);
    xf_free(ctx, (void *)k.est);
    xf_ws_free(k.ws);
    xf_fcache_free(k.cache);
    xf_free(ctx, idx);
    xf_free(ctx, raw);
    xf_free(ctx, y);
    xf_dataset_free(ctx, &sub);
    if (st) {
        xf_rank_result_free(ctx, r);
        return st;
    }
    *out = r;
    return XF_OK;
}
