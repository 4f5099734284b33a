/* xfer score: score one or more models' probe features with transferability estimators.
 *
 *   xfer score --features A.npy [B.npy ...] --labels y.npy [--probs PA.npy [PB.npy ...]]
 *              [--method NAME[,NAME...]|all] [--param NAME.KEY=VALUE ...] [--names a,b]
 *              [--threads N] [--json|--csv]
 *
 * One feature file per model (same probe images, same order), named by --names or else by
 * the shortest path suffix that tells the files apart (xf_path_short_names). With several models each
 * method's scores are ranked (1 = predicted best) and a z-scored ensemble of the methods
 * is added (when at least two methods scored every model). Methods whose across-bank combination needs the whole bank (NCTI, ETran) are
 * combined over the given models. A method that needs --probs and has none is reported
 * and skipped; the others still run. Exit status: 0 when every requested (runnable)
 * method scored every model, 1 when a file or a method failed, 2 for usage errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "score"

typedef struct {
    char *name;      /* display name */
    const char *fpath, *ppath;
    xf_array F, P;   /* as read */
    float *Ff, *Pf;  /* float32 copies, checked finite */
    int64_t D, Z;
} model;

typedef struct {
    int model, method; /* indices */
    double score, seconds;
    int ok, rank;
    char err[256];
} result;

static void usage(FILE *f) {
    fprintf(f,
            "usage: xfer score --features A.npy [B.npy ...] --labels y.npy [--probs PA.npy [PB.npy ...]]\n"
            "                  [--method NAME[,NAME...]|all] [--param NAME.KEY=VALUE ...] [--names a,b,...]\n"
            "                  [--threads N] [--json|--csv]\n\n"
            "Scores each model's probe features (N x D float .npy, one file per model, same images in\n"
            "the same order) against labels (N integers; any integer values, mapped to classes in\n"
            "increasing order; or an N x C 0/1 matrix for multi-label targets) with transferability\n"
            "estimators. Higher scores predict better transfer. Models are named by --names, else by\n"
            "the shortest path suffix that tells their files apart (a/features.npy b/features.npy:\n"
            "a/features, b/features). Methods:\n\n");
    for (int i = 0; i < xf_est_count(); i++) {
        const xf_estimator *e = xf_est_at(i);
        fprintf(f, "  %-14s %s%s\n", e->name, e->summary, (e->flags & XF_NEEDS_P) ? " [needs --probs]" : "");
        for (const char *const *p = e->params; p && *p; p++) fprintf(f, "  %-14s   %s.%s\n", "", e->name, *p);
    }
    fprintf(f, "\nDefault --method: all methods that can run on the given inputs.\n");
}

/* Loads a 2-D float matrix with n rows, names the file in every error. */
static xf_status load_matrix(xf_ctx_t *ctx, const char *path, int64_t n, const char *what, const char *lpath,
                             xf_array *a, float **f, int64_t *cols) {
    xf_status st = xf_npy_read(ctx, path, a);
    if (st) return st;
    if (!xf_dtype_is_float(a->dtype) && a->dtype != XF_DT_BOOL && a->dtype != XF_DT_U8 && a->dtype != XF_DT_I8 &&
        a->dtype != XF_DT_I16 && a->dtype != XF_DT_U16 && a->dtype != XF_DT_I32 && a->dtype != XF_DT_I64 &&
        a->dtype != XF_DT_U32 && a->dtype != XF_DT_U64)
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: unsupported dtype", path);
    if (a->ndim != 2)
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: %s must be a 2-D array (N x %s), got %d dimensions", path, what,
                      strcmp(what, "features") == 0 ? "D" : "Z", a->ndim);
    if (a->shape[0] != n)
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s: %lld rows but %s has %lld labels", path, (long long)a->shape[0], lpath,
                      (long long)n);
    if (a->shape[1] < 1) return XF_ERR(ctx, XF_ERR_SHAPE, "%s: %s have zero columns", path, what);
    st = xf_array_to_f32(ctx, a, 1, f);
    if (st) {
        xf_error_prefix(ctx, path);
        return st;
    }
    *cols = a->shape[1];
    return XF_OK;
}

static int cmp_desc(const void *a, const void *b) {
    double x = **(const double *const *)a, y = **(const double *const *)b;
    if (isnan(x)) return isnan(y) ? 0 : 1;
    if (isnan(y)) return -1;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* Ranks (1 = highest) of v over m entries, ties share the lowest rank; NaN last. */
static void rank_desc(const double *v, int m, int *rank) {
    const double **p = malloc(sizeof *p * (size_t)(m ? m : 1));
    if (!p) { for (int i = 0; i < m; i++) rank[i] = 0; return; }
    for (int i = 0; i < m; i++) p[i] = &v[i];
    qsort(p, (size_t)m, sizeof *p, cmp_desc);
    for (int k = 0; k < m; k++) {
        int r = k + 1;
        if (k > 0 && *p[k] == *p[k - 1]) r = rank[p[k - 1] - v];
        rank[p[k] - v] = r;
    }
    free(p);
}

int xf_cli_score(int argc, char **argv) {
    const char **feats = calloc((size_t)argc, sizeof *feats), **probs = calloc((size_t)argc, sizeof *probs);
    xf_param *params = calloc((size_t)argc, sizeof *params);
    int nf = 0, np = 0, npar = 0, fmt = 0, threads = 0; /* fmt: 0 table, 1 json, 2 csv */
    const char *labels = NULL, *methods = NULL, *names = NULL;
    int rc = 2;
    xf_ctx_t *ctx = NULL;
    model *ms = NULL;
    result *res = NULL;
    const xf_estimator **est = NULL;
    int nm = 0;
    xf_array ya = {0};
    int64_t *yraw = NULL;
    int32_t *y = NULL;
    float *Ymulti = NULL;
    xf_ws_t *ws = NULL;
    if (!feats || !probs || !params) { fprintf(stderr, "xfer score: out of memory\n"); goto done; }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); rc = 0; goto done; }
        else if (!strcmp(a, "--features")) { while (i + 1 < argc && argv[i + 1][0] != '-') feats[nf++] = argv[++i]; }
        else if (!strcmp(a, "--probs")) { while (i + 1 < argc && argv[i + 1][0] != '-') probs[np++] = argv[++i]; }
        else if (!strcmp(a, "--labels") || !strcmp(a, "--method") || !strcmp(a, "--param") || !strcmp(a, "--names") ||
                 !strcmp(a, "--threads")) {
            if (i + 1 >= argc) { rc = xf_cli_usage(CMD, "%s needs a value", a); goto done; }
            const char *v = argv[++i];
            if (!strcmp(a, "--labels")) labels = v;
            else if (!strcmp(a, "--method")) methods = v;
            else if (!strcmp(a, "--names")) names = v;
            else if (!strcmp(a, "--threads")) {
                char *end;
                long t = strtol(v, &end, 10);
                if (*end || t < 1 || t > 1024) { rc = xf_cli_usage(CMD, "--threads: '%s' is not a thread count", v); goto done; }
                threads = (int)t;
            } else {
                char *eq = strchr(v, '=');
                if (!eq || eq == v || !eq[1]) { rc = xf_cli_usage(CMD, "--param '%s': expected NAME.KEY=VALUE", v); goto done; }
                char *k = strdup(v);
                if (!k) goto done;
                k[eq - v] = 0;
                for (int j = 0; j < npar; j++)
                    if (!strcmp(params[j].key, k)) {
                        rc = xf_cli_usage(CMD, "--param %s given twice ('%s' and '%s')", k, params[j].value, k + (eq - v) + 1);
                        free(k);
                        goto done;
                    }
                params[npar].key = k;
                params[npar].value = k + (eq - v) + 1;
                npar++;
            }
        } else if (!strcmp(a, "--json")) fmt = 1;
        else if (!strcmp(a, "--csv")) fmt = 2;
        else { rc = xf_cli_usage(CMD, "unknown argument '%s'", a); goto done; }
    }
    if (nf == 0) { rc = xf_cli_usage(CMD, "--features needs at least one .npy file"); goto done; }
    if (!labels) { rc = xf_cli_usage(CMD, "--labels is required"); goto done; }
    if (np > 0 && np != nf) {
        rc = xf_cli_usage(CMD, "%d --probs files for %d --features files: give one per model", np, nf);
        goto done;
    }

    /* methods */
    est = calloc((size_t)xf_est_count() + 1, sizeof *est);
    if (!est) goto done;
    if (!methods || !strcmp(methods, "all")) {
        for (int i = 0; i < xf_est_count(); i++) {
            const xf_estimator *e = xf_est_at(i);
            est[nm++] = e;
        }
    } else {
        char *list = strdup(methods), *save = NULL;
        if (!list) goto done;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            const xf_estimator *e = xf_est_find(t);
            if (!e) {
                fprintf(stderr, "xfer score: --method: unknown method '%s'; available:", t);
                for (int i = 0; i < xf_est_count(); i++) fprintf(stderr, " %s", xf_est_at(i)->name);
                fputc('\n', stderr);
                free(list);
                rc = 2;
                goto done;
            }
            int dup = 0;
            for (int j = 0; j < nm; j++) dup |= est[j] == e;
            if (!dup) est[nm++] = e;
        }
        free(list);
    }
    if (nm == 0) { fprintf(stderr, "xfer score: no estimators are available in this build\n"); rc = 1; goto done; }
    /* parameters must name a known method (or be unqualified) */
    for (int i = 0; i < npar; i++) {
        const char *dot = strchr(params[i].key, '.');
        if (!dot) continue;
        char mname[64];
        size_t l = (size_t)(dot - params[i].key);
        if (l >= sizeof mname) l = sizeof mname - 1;
        memcpy(mname, params[i].key, l);
        mname[l] = 0;
        if (!xf_est_find(mname)) { rc = xf_cli_usage(CMD, "--param %s: unknown method '%s'", params[i].key, mname); goto done; }
    }
    xf_params P = {params, npar};

    rc = 1;
    ctx = xf_cli_ctx();
    if (!ctx) { fprintf(stderr, "xfer score: out of memory\n"); goto done; }
    if (threads) xf_ctx_set_threads(ctx, threads);
    if (xf_ws_create(ctx, &ws)) { rc = xf_cli_fail(CMD, ctx); goto done; }

    /* labels: N integers, or an N x C 0/1 matrix (multi-label) */
    if (xf_npy_read(ctx, labels, &ya)) { rc = xf_cli_fail(CMD, ctx); goto done; }
    int64_t N, C = 0;
    if (ya.ndim == 1 || (ya.ndim == 2 && ya.shape[1] == 1)) {
        N = ya.shape[0];
        if (N < 2) { fprintf(stderr, "xfer score: %s: need at least 2 labels, got %lld\n", labels, (long long)N); goto done; }
        if (xf_array_to_i64(ctx, &ya, &yraw)) { xf_error_prefix(ctx, labels); rc = xf_cli_fail(CMD, ctx); goto done; }
        y = malloc(sizeof *y * (size_t)N);
        if (!y || xf_labels_densify(ctx, yraw, N, y, &C, NULL)) { rc = xf_cli_fail(CMD, ctx); goto done; }
        if (C < 2) {
            fprintf(stderr, "xfer score: %s: all %lld labels are the same class; need at least 2 classes\n", labels, (long long)N);
            goto done;
        }
    } else if (ya.ndim == 2) {
        N = ya.shape[0];
        C = ya.shape[1];
        if (N < 2) { fprintf(stderr, "xfer score: %s: need at least 2 rows\n", labels); goto done; }
        double *d;
        if (xf_array_to_f64(ctx, &ya, 1, &d)) { xf_error_prefix(ctx, labels); rc = xf_cli_fail(CMD, ctx); goto done; }
        Ymulti = malloc(sizeof *Ymulti * (size_t)(N * C));
        y = calloc((size_t)N, sizeof *y);
        if (!Ymulti || !y) { xf_free(ctx, d); goto done; }
        for (int64_t i = 0; i < N * C; i++) {
            if (d[i] != 0 && d[i] != 1) {
                fprintf(stderr, "xfer score: %s: multi-label matrix has value %g at row %lld (want 0 or 1)\n", labels, d[i],
                        (long long)(i / C));
                xf_free(ctx, d);
                goto done;
            }
            Ymulti[i] = (float)d[i];
        }
        /* y holds the first positive class of each row, for methods that need one label */
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = C - 1; c >= 0; c--)
                if (d[i * C + c] == 1) y[i] = (int32_t)c;
        xf_free(ctx, d);
    } else {
        fprintf(stderr, "xfer score: %s: labels must be a 1-D array of N integers (or N x C multi-hot), got %d dimensions\n",
                labels, ya.ndim);
        goto done;
    }

    /* models */
    ms = calloc((size_t)nf, sizeof *ms);
    if (!ms) goto done;
    /* default names: the shortest path suffixes that tell the models apart */
    char **auto_names = calloc((size_t)nf, sizeof *auto_names);
    if (!auto_names) goto done;
    if (xf_path_short_names(ctx, (const char *const *)feats, nf, ".npy", auto_names)) {
        free(auto_names);
        rc = xf_cli_fail(CMD, ctx);
        goto done;
    }
    char *nlist = names ? strdup(names) : NULL, *nsave = NULL, *ntok = nlist ? strtok_r(nlist, ",", &nsave) : NULL;
    for (int i = 0; i < nf; i++) {
        ms[i].fpath = feats[i];
        ms[i].ppath = np ? probs[i] : NULL;
        ms[i].name = strdup(ntok ? ntok : auto_names[i]);
        if (ntok) ntok = strtok_r(NULL, ",", &nsave);
        if (load_matrix(ctx, feats[i], N, "features", labels, &ms[i].F, &ms[i].Ff, &ms[i].D) ||
            (np && load_matrix(ctx, probs[i], N, "probabilities", labels, &ms[i].P, &ms[i].Pf, &ms[i].Z))) {
            free(nlist);
            for (int k = 0; k < nf; k++) xf_free(ctx, auto_names[k]);
            free(auto_names);
            rc = xf_cli_fail(CMD, ctx);
            goto done;
        }
    }
    if (names && ntok) fprintf(stderr, "xfer score: warning: more --names than models; extra names ignored\n");
    free(nlist);
    for (int i = 0; i < nf; i++) xf_free(ctx, auto_names[i]);
    free(auto_names);

    /* run */
    res = calloc((size_t)(nf * nm), sizeof *res);
    if (!res) goto done;
    int failed = 0;
    for (int j = 0; j < nm; j++) {
        const xf_estimator *e = est[j];
        if ((e->flags & XF_NEEDS_P) && !np) {
            fprintf(stderr, "xfer score: %s: needs source-class probabilities (--probs); skipped\n", e->name);
            for (int i = 0; i < nf; i++) {
                result *r = &res[j * nf + i];
                r->model = i; r->method = j; r->score = NAN;
                snprintf(r->err, sizeof r->err, "needs --probs");
            }
            continue;
        }
        if (Ymulti && !(e->flags & XF_MULTILABEL_OK)) {
            fprintf(stderr, "xfer score: %s: multi-label targets are not supported by this method; skipped\n", e->name);
            for (int i = 0; i < nf; i++) {
                result *r = &res[j * nf + i];
                r->model = i; r->method = j; r->score = NAN;
                snprintf(r->err, sizeof r->err, "multi-label not supported");
            }
            continue;
        }
        /* bank combination: terms for every model, then combine */
        double *terms = NULL;
        int bank = nf > 1 && e->nterms > 0 && e->terms && e->combine;
        if (bank && !(terms = calloc((size_t)(nf * e->nterms), sizeof *terms))) goto done;
        int bank_ok = 1;
        for (int i = 0; i < nf; i++) {
            result *r = &res[j * nf + i];
            r->model = i;
            r->method = j;
            xf_est_input in = {ms[i].Ff, N, ms[i].D, ms[i].D, y, C, ms[i].Pf, ms[i].Z, ms[i].Z, Ymulti};
            double t0 = xf_now();
            xf_status st = xf_est_check_input(ctx, e, &in, &P);
            if (!st) {
                xf_ws_reset(ws);
                if (bank) st = e->terms(ctx, &in, &P, ws, terms + (size_t)i * e->nterms);
                else st = e->fn(ctx, &in, &P, ws, &r->score);
            }
            r->seconds = xf_now() - t0;
            if (st) {
                snprintf(r->err, sizeof r->err, "%s", xf_errmsg(ctx));
                if (ms[i].ppath && (e->flags & XF_NEEDS_P))
                    fprintf(stderr, "xfer score: %s on %s (probs %s): %s\n", e->name, ms[i].fpath, ms[i].ppath, xf_errmsg(ctx));
                else fprintf(stderr, "xfer score: %s on %s: %s\n", e->name, ms[i].fpath, xf_errmsg(ctx));
                r->score = NAN;
                failed = 1;
                bank_ok = 0;
            } else r->ok = 1;
        }
        if (bank && bank_ok) {
            double *sc = malloc(sizeof *sc * (size_t)nf);
            double t0 = xf_now();
            xf_status st = sc ? e->combine(ctx, nf, terms, &P, sc) : XF_ERR_NOMEM;
            double dt = (xf_now() - t0) / nf;
            for (int i = 0; i < nf; i++) {
                result *r = &res[j * nf + i];
                r->score = st ? NAN : sc[i];
                r->seconds += dt;
                if (st) { r->ok = 0; snprintf(r->err, sizeof r->err, "%s", xf_errmsg(ctx)); }
            }
            if (st) { fprintf(stderr, "xfer score: %s: %s\n", e->name, xf_errmsg(ctx)); failed = 1; }
            free(sc);
        }
        free(terms);
        double *v = malloc(sizeof *v * (size_t)nf);
        int *rk = malloc(sizeof *rk * (size_t)nf);
        if (v && rk) {
            for (int i = 0; i < nf; i++) v[i] = res[j * nf + i].ok ? res[j * nf + i].score : NAN;
            rank_desc(v, nf, rk);
            for (int i = 0; i < nf; i++) res[j * nf + i].rank = res[j * nf + i].ok ? rk[i] : 0;
        }
        free(v);
        free(rk);
    }

    /* ensemble: mean over methods of the z-scored scores (population std across models);
     * methods with a constant or missing score are left out. */
    double *ens = NULL;
    int *ens_rank = NULL, ens_n = 0;
    if (nf > 1) {
        ens = calloc((size_t)nf, sizeof *ens);
        ens_rank = calloc((size_t)nf, sizeof *ens_rank);
        if (!ens || !ens_rank) goto done;
        for (int j = 0; j < nm; j++) {
            double mu = 0, sd = 0;
            int all = 1;
            for (int i = 0; i < nf; i++) { all &= res[j * nf + i].ok && isfinite(res[j * nf + i].score); mu += res[j * nf + i].score; }
            if (!all) continue;
            mu /= nf;
            for (int i = 0; i < nf; i++) sd += (res[j * nf + i].score - mu) * (res[j * nf + i].score - mu);
            sd = sqrt(sd / nf);
            if (!(sd > 0)) continue;
            for (int i = 0; i < nf; i++) ens[i] += (res[j * nf + i].score - mu) / sd;
            ens_n++;
        }
        if (ens_n < 2) ens_n = 0; /* an ensemble of one method is that method */
        if (ens_n) {
            for (int i = 0; i < nf; i++) ens[i] /= ens_n;
            rank_desc(ens, nf, ens_rank);
        }
    }

    /* output */
    if (fmt == 2) printf("model,method,score,rank,seconds\n");
    else if (fmt == 0) printf("%-24s %-14s %14s %5s %10s\n", "model", "method", "score", "rank", "seconds");
    for (int j = 0; j < nm; j++)
        for (int k = 1; k <= nf + 1; k++)
            for (int i = 0; i < nf; i++) {
                result *r = &res[j * nf + i];
                /* in rank order; failed ones (rank 0) last */
                if (!((r->ok && r->rank == k) || (!r->ok && k == nf + 1))) continue;
                const char *mn = ms[i].name, *en = est[j]->name;
                if (fmt == 1) {
                    printf("{\"model\": ");
                    xf_cli_json_str(stdout, mn);
                    printf(", \"method\": ");
                    xf_cli_json_str(stdout, en);
                    if (r->ok) printf(", \"score\": %.10g, \"rank\": %d, \"seconds\": %.6f}\n", r->score, r->rank, r->seconds);
                    else {
                        printf(", \"score\": null, \"rank\": null, \"seconds\": %.6f, \"error\": ", r->seconds);
                        xf_cli_json_str(stdout, r->err);
                        printf("}\n");
                    }
                } else if (fmt == 2) {
                    xf_cli_csv_str(stdout, mn);
                    printf(",%s,", en);
                    if (r->ok) printf("%.10g,%d,%.6f\n", r->score, r->rank, r->seconds);
                    else printf(",,%.6f\n", r->seconds);
                } else {
                    if (r->ok) printf("%-24s %-14s %14.6g %5d %10.4f\n", mn, en, r->score, r->rank, r->seconds);
                    else printf("%-24s %-14s %14s %5s %10.4f  (%s)\n", mn, en, "-", "-", r->seconds, r->err);
                }
            }
    if (ens_n) {
        for (int k = 1; k <= nf; k++)
            for (int i = 0; i < nf; i++) {
                if (ens_rank[i] != k) continue;
                if (fmt == 1) {
                    printf("{\"model\": ");
                    xf_cli_json_str(stdout, ms[i].name);
                    printf(", \"method\": \"ensemble\", \"score\": %.10g, \"rank\": %d, \"seconds\": 0, \"methods\": %d}\n",
                           ens[i], k, ens_n);
                } else if (fmt == 2) {
                    xf_cli_csv_str(stdout, ms[i].name);
                    printf(",ensemble,%.10g,%d,0\n", ens[i], k);
                }
                else printf("%-24s %-14s %14.6g %5d %10s\n", ms[i].name, "ensemble", ens[i], k, "-");
            }
    }
    free(ens);
    free(ens_rank);
    rc = failed ? 1 : 0;

done:
    if (ms)
        for (int i = 0; i < nf; i++) {
            free(ms[i].name);
            xf_array_free(ctx, &ms[i].F);
            xf_array_free(ctx, &ms[i].P);
            xf_free(ctx, ms[i].Ff);
            xf_free(ctx, ms[i].Pf);
        }
    free(ms);
    free(res);
    free(est);
    for (int i = 0; i < npar; i++) free((char *)params[i].key);
    free(params);
    free(feats);
    free(probs);
    xf_array_free(ctx, &ya);
    xf_free(ctx, yraw);
    free(y);
    free(Ymulti);
    xf_ws_free(ws);
    xf_ctx_free(ctx);
    return rc;
}
