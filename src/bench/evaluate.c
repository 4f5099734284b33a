/* bench/evaluate: a results table against an oracle table, as PARC's MetricEval does it
 * (metrics.py: add_oracle, fillna, add_plasticity, aggregate over constants=['Target
 * Dataset']), with the deviations written in benchmark.h: a method with NaN scores is
 * reported instead of silently scored 0 (unless nan_as_zero), constant columns give 0
 * instead of NaN, and the metric set is wider than Pearson.
 *
 * Plan: join every results row to its oracle row by (Architecture, Source Dataset,
 * Target Dataset); collect runs and targets in order of first appearance; build the
 * score matrix S (joined rows x methods, then the capacity variants as extra columns);
 * for each (method, target, run) compute the metrics over the rows of that run and
 * target; average over targets within a run, then mean and population std over runs. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "bench/benchInt.h"

#define NMETRIC 7
static const size_t metric_off[NMETRIC] = {
    offsetof(xf_bench_metrics, pearson), offsetof(xf_bench_metrics, spearman),
    offsetof(xf_bench_metrics, kendall), offsetof(xf_bench_metrics, weighted_tau),
    offsetof(xf_bench_metrics, top1),    offsetof(xf_bench_metrics, top3),
    offsetof(xf_bench_metrics, regret)};
static double *mf(xf_bench_metrics *m, int k) { return (double *)((char *)m + metric_off[k]); }
static double mfc(const xf_bench_metrics *m, int k) { return *(const double *)((const char *)m + metric_off[k]); }

void xf_bench_opts_default(xf_bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->capacity_weight = 1.0; /* PARC metrics.add_plasticity(weight=1) */
    o->layers_max = 50.0;     /* PARC: layers / 50 (paper: l_max = 50) */
}

void xf_bench_eval_free(xf_ctx_t *ctx, xf_bench_eval *e) {
    xf_bench_strs_free(ctx, e->methods, e->M);
    xf_bench_strs_free(ctx, e->targets, e->T);
    xf_bench_strs_free(ctx, e->runs, e->R);
    xf_free(ctx, e->evaluated);
    xf_bench_strs_free(ctx, e->why_not, e->M);
    xf_free(ctx, e->cells);
    xf_free(ctx, e->overall);
    xf_free(ctx, e->by_target);
    int64_t np = e->model_off ? e->model_off[e->T] : 0;
    xf_bench_strs_free(ctx, e->model_arch, np);
    xf_bench_strs_free(ctx, e->model_source, np);
    xf_free(ctx, e->model_off);
    xf_free(ctx, e->model_oracle);
    xf_free(ctx, e->model_score);
    xf_bench_strs_free(ctx, e->notes, e->n_notes);
    memset(e, 0, sizeof *e);
}

static xf_status note(xf_ctx_t *ctx, xf_bench_eval *e, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nn = xf_realloc(ctx, e->notes, sizeof(char *) * (size_t)(e->n_notes + 1));
    if (!nn) return XF_ERR_NOMEM;
    e->notes = nn;
    if (!(e->notes[e->n_notes] = xf_strdup(ctx, buf))) return XF_ERR_NOMEM;
    e->n_notes++;
    return XF_OK;
}

/* Index of s in the list (appending it when new); -1 on allocation failure. */
static int64_t intern(xf_ctx_t *ctx, bench_map *m, char ***list, int64_t *n, const char *s) {
    int64_t v = xf_bench_map_get(m, s);
    if (v >= 0) return v;
    char **nl = xf_realloc(ctx, *list, sizeof(char *) * (size_t)(*n + 1));
    if (!nl) return -1;
    *list = nl;
    if (!((*list)[*n] = xf_strdup(ctx, s))) return -1;
    if (xf_bench_map_put(m, s, *n, NULL)) {
        xf_free(ctx, (*list)[*n]);
        return -1;
    }
    return (*n)++;
}

/* Mean and sample std (ddof 1, pandas' default) of the finite values v[idx[0..k)]. */
static void mean_sd(const double *v, int64_t ld, const int64_t *idx, int64_t k, double *mean, double *sd) {
    double s = 0.0;
    for (int64_t i = 0; i < k; i++) s += v[idx[i] * ld];
    *mean = k ? s / (double)k : 0.0;
    double q = 0.0;
    for (int64_t i = 0; i < k; i++) {
        double d = v[idx[i] * ld] - *mean;
        q += d * d;
    }
    *sd = k > 1 ? sqrt(q / (double)(k - 1)) : 0.0;
}

typedef struct {
    xf_ctx_t *ctx;
    const xf_bench_oracle *o;
    const xf_bench_results *r;
    const xf_bench_opts *opt;
    int64_t J;          /* joined rows */
    int64_t *row;       /* (J) results row of each joined row */
    double *acc;        /* (J) its oracle */
    int64_t *run, *tgt; /* (J) run and target index */
    double *layers;     /* (J) layer count (capacity only) */
    double *S;          /* (J x Mo) scores, raw methods then capacity variants */
    int64_t Mo;
} joined;

static xf_status build_scores(joined *j, xf_bench_eval *e) {
    xf_ctx_t *ctx = j->ctx;
    const xf_bench_results *r = j->r;
    int64_t M = r->M, Mo = j->Mo, J = j->J;
    if (!(j->S = xf_malloc(ctx, sizeof(double) * (size_t)(J * Mo + 1)))) return XF_ERR_NOMEM;
    /* raw scores; NaN handling first (PARC's fillna(0) comes before add_plasticity) */
    for (int64_t m = 0; m < M; m++) {
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < r->n; i++)
            if (!isfinite(r->score[i * M + m])) {
                bad++;
                if (first < 0) first = r->line[i];
            }
        if (bad && !j->opt->nan_as_zero) {
            char buf[512];
            snprintf(buf, sizeof buf, "%lld non-finite score(s), the first at %s:%lld", (long long)bad, r->name ? r->name : "results",
                     (long long)first);
            for (int64_t v = m; v < Mo; v += M) {
                e->evaluated[v] = 0;
                if (!(e->why_not[v] = xf_strdup(ctx, buf))) return XF_ERR_NOMEM;
            }
        }
        for (int64_t k = 0; k < J; k++) {
            double s = r->score[j->row[k] * M + m];
            j->S[k * Mo + m] = isfinite(s) ? s : 0.0;
        }
    }
    int64_t col = M;
    if (j->opt->capacity & XF_BENCH_CAPACITY_GLOBAL) {
        /* PARC metrics.add_plasticity: z over all rows of the results file, every run and
         * target, (v - mean) / std + weight * layers / 50 */
        for (int64_t m = 0; m < M; m++, col++) {
            double s = 0.0, q = 0.0;
            for (int64_t i = 0; i < r->n; i++) {
                double v = r->score[i * M + m];
                s += isfinite(v) ? v : 0.0;
            }
            double mean = s / (double)r->n;
            for (int64_t i = 0; i < r->n; i++) {
                double v = r->score[i * M + m];
                double d = (isfinite(v) ? v : 0.0) - mean;
                q += d * d;
            }
            double sd = r->n > 1 ? sqrt(q / (double)(r->n - 1)) : 0.0;
            for (int64_t k = 0; k < J; k++) {
                double z = sd > 0 ? (j->S[k * Mo + m] - mean) / sd : 0.0;
                j->S[k * Mo + col] = z + j->opt->capacity_weight * j->layers[k] / j->opt->layers_max;
            }
        }
    }
    if (j->opt->capacity & XF_BENCH_CAPACITY_TARGET) {
        /* the paper's Eq. 6: z within each (run, target) over its models (oracle > 0) */
        int64_t *idx = xf_malloc(ctx, sizeof(int64_t) * (size_t)(J + 1));
        if (!idx) return XF_ERR_NOMEM;
        for (int64_t m = 0; m < M; m++, col++)
            for (int64_t rr = 0; rr < e->R; rr++)
                for (int64_t t = 0; t < e->T; t++) {
                    int64_t k = 0;
                    for (int64_t i = 0; i < J; i++)
                        if (j->run[i] == rr && j->tgt[i] == t && j->acc[i] > 0) idx[k++] = i;
                    double mean, sd;
                    mean_sd(j->S + m, Mo, idx, k, &mean, &sd);
                    for (int64_t i = 0; i < J; i++)
                        if (j->run[i] == rr && j->tgt[i] == t) {
                            double z = sd > 0 ? (j->S[i * Mo + m] - mean) / sd : 0.0;
                            j->S[i * Mo + col] = z + j->opt->capacity_weight * j->layers[i] / j->opt->layers_max;
                        }
                }
        xf_free(ctx, idx);
    }
    return XF_OK;
}

static xf_status method_names(xf_ctx_t *ctx, const xf_bench_results *r, const xf_bench_opts *opt, xf_bench_eval *e) {
    static const char *suffix[3] = {"", "+capacity", "+capacity/target"};
    int64_t v = 0;
    for (int form = 0; form < 3; form++) {
        if (form == 1 && !(opt->capacity & XF_BENCH_CAPACITY_GLOBAL)) continue;
        if (form == 2 && !(opt->capacity & XF_BENCH_CAPACITY_TARGET)) continue;
        for (int64_t m = 0; m < r->M; m++, v++) {
            size_t n = strlen(r->methods[m]) + strlen(suffix[form]) + 1;
            if (!(e->methods[v] = xf_malloc(ctx, n))) return XF_ERR_NOMEM;
            snprintf(e->methods[v], n, "%s%s", r->methods[m], suffix[form]);
            e->evaluated[v] = 1;
        }
    }
    return XF_OK;
}

/* The group of results row i: the held-constant columns joined by '/' (keys are at most
 * 1024 bytes each, so the buffer always holds them). */
static const char *group_name(int group, const xf_bench_results *r, int64_t i, char *buf, size_t cap) {
    const char *parts[3];
    int n = 0;
    if (!group || (group & XF_BENCH_GROUP_TARGET)) parts[n++] = r->target[i];
    if (group & XF_BENCH_GROUP_ARCH) parts[n++] = r->arch[i];
    if (group & XF_BENCH_GROUP_SOURCE) parts[n++] = r->source[i];
    snprintf(buf, cap, "%s%s%s%s%s", parts[0], n > 1 ? "/" : "", n > 1 ? parts[1] : "", n > 2 ? "/" : "",
             n > 2 ? parts[2] : "");
    return buf;
}

static xf_status join(joined *j, xf_bench_eval *e) {
    xf_ctx_t *ctx = j->ctx;
    const xf_bench_oracle *o = j->o;
    const xf_bench_results *r = j->r;
    bench_map om, rm, tm;
    xf_bench_map_init(&om, ctx);
    xf_bench_map_init(&rm, ctx);
    xf_bench_map_init(&tm, ctx);
    char kb[4 * 1025 + 8], gb[4 * 1025 + 8];
    xf_status st = XF_OK;
    for (int64_t i = 0; i < o->n && !st; i++) {
        const char *k = xf_bench_key(kb, sizeof kb, o->arch[i], o->source[i], o->target[i], NULL);
        if (!k) st = XF_ERR(ctx, XF_ERR_INVALID, "%s:%lld: key too long", o->name ? o->name : "oracle",
                            (long long)o->line[i]);
        else st = xf_bench_map_put(&om, k, i, NULL);
    }
    j->row = xf_malloc(ctx, sizeof(int64_t) * (size_t)(r->n + 1));
    j->acc = xf_malloc(ctx, sizeof(double) * (size_t)(r->n + 1));
    j->run = xf_malloc(ctx, sizeof(int64_t) * (size_t)(r->n + 1));
    j->tgt = xf_malloc(ctx, sizeof(int64_t) * (size_t)(r->n + 1));
    j->layers = xf_calloc(ctx, (size_t)(r->n + 1), sizeof(double));
    if (!st && (!j->row || !j->acc || !j->run || !j->tgt || !j->layers)) st = XF_ERR_NOMEM;
    int64_t first_unmatched = -1;
    for (int64_t i = 0; i < r->n && !st; i++) {
        const char *k = xf_bench_key(kb, sizeof kb, r->arch[i], r->source[i], r->target[i], NULL);
        int64_t oi = k ? xf_bench_map_get(&om, k) : -1;
        if (oi < 0) {
            if (first_unmatched < 0) first_unmatched = i;
            e->rows_unmatched++;
            continue;
        }
        int64_t J = j->J;
        j->row[J] = i;
        j->acc[J] = o->acc[oi];
        if ((j->run[J] = intern(ctx, &rm, &e->runs, &e->R, r->run[i])) < 0 ||
            (j->tgt[J] = intern(ctx, &tm, &e->targets, &e->T, group_name(j->opt->group, r, i, gb, sizeof gb))) < 0) {
            st = XF_ERR_NOMEM;
            break;
        }
        if (j->opt->capacity) {
            int64_t a = 0;
            const xf_bench_layers *L = j->opt->layers;
            while (a < L->n && strcmp(L->arch[a], r->arch[i])) a++;
            if (a == L->n) {
                st = XF_ERR(ctx, XF_ERR_NOTFOUND, "%s:%lld: architecture '%s' has no layer count (capacity term)",
                            r->name ? r->name : "results", (long long)r->line[i], r->arch[i]);
                break;
            }
            j->layers[J] = L->layers[a];
        }
        j->J++;
    }
    e->rows_joined = j->J;
    if (!st && j->J == 0)
        st = XF_ERR(ctx, XF_ERR_INVALID,
                    "%s and %s share no (Architecture, Source Dataset, Target Dataset) pair (first results row: %s, "
                    "%s, %s)",
                    o->name ? o->name : "oracle", r->name ? r->name : "results", r->arch[0], r->source[0],
                    r->target[0]);
    if (!st && e->rows_unmatched)
        st = note(ctx, e, "%lld results row(s) have no oracle row and are left out (the first: %s:%lld, %s, %s, %s)",
                  (long long)e->rows_unmatched, r->name ? r->name : "results",
                  (long long)r->line[first_unmatched], r->arch[first_unmatched], r->source[first_unmatched],
                  r->target[first_unmatched]);
    xf_bench_map_free(&om);
    xf_bench_map_free(&rm);
    xf_bench_map_free(&tm);
    return st;
}

/* Models of each target with their oracle and the run-averaged score of every method. */
static xf_status plot_points(joined *j, xf_bench_eval *e) {
    xf_ctx_t *ctx = j->ctx;
    const xf_bench_results *r = j->r;
    int64_t J = j->J, Mo = j->Mo;
    int64_t *pt = xf_malloc(ctx, sizeof(int64_t) * (size_t)(J + 1)); /* (J) point of each joined row */
    e->model_off = xf_calloc(ctx, (size_t)e->T + 1, sizeof(int64_t));
    e->model_arch = xf_calloc(ctx, (size_t)J + 1, sizeof(char *));
    e->model_source = xf_calloc(ctx, (size_t)J + 1, sizeof(char *));
    e->model_oracle = xf_calloc(ctx, (size_t)J + 1, sizeof(double));
    double *cnt = xf_calloc(ctx, (size_t)J + 1, sizeof(double));
    if (!pt || !e->model_off || !e->model_arch || !e->model_source || !e->model_oracle || !cnt) {
        xf_free(ctx, pt);
        xf_free(ctx, cnt);
        return XF_ERR_NOMEM;
    }
    bench_map pm;
    xf_bench_map_init(&pm, ctx);
    char kb[4 * 1025 + 8];
    int64_t P = 0;
    xf_status st = XF_OK;
    for (int64_t t = 0; t < e->T && !st; t++) {
        e->model_off[t] = P;
        for (int64_t i = 0; i < J && !st; i++) {
            if (j->tgt[i] != t) continue;
            const char *k = xf_bench_key(kb, sizeof kb, r->arch[j->row[i]], r->source[j->row[i]], r->target[j->row[i]],
                                         NULL);
            int64_t p = xf_bench_map_get(&pm, k);
            if (p < 0) {
                p = P++;
                e->model_arch[p] = xf_strdup(ctx, r->arch[j->row[i]]);
                e->model_source[p] = xf_strdup(ctx, r->source[j->row[i]]);
                e->model_oracle[p] = j->acc[i];
                if (!e->model_arch[p] || !e->model_source[p] || xf_bench_map_put(&pm, k, p, NULL)) st = XF_ERR_NOMEM;
            }
            pt[i] = p;
        }
    }
    e->model_off[e->T] = P;
    if (!st && !(e->model_score = xf_calloc(ctx, (size_t)(Mo * P + 1), sizeof(double)))) st = XF_ERR_NOMEM;
    if (!st) {
        for (int64_t i = 0; i < J; i++) {
            cnt[pt[i]] += 1.0;
            for (int64_t m = 0; m < Mo; m++) e->model_score[m * P + pt[i]] += j->S[i * Mo + m];
        }
        for (int64_t m = 0; m < Mo; m++)
            for (int64_t p = 0; p < P; p++) e->model_score[m * P + p] /= cnt[p];
    }
    xf_bench_map_free(&pm);
    xf_free(ctx, pt);
    xf_free(ctx, cnt);
    return st;
}

static const char *opt_group_word(int group) { return group && group != XF_BENCH_GROUP_TARGET ? "group" : "target"; }

static xf_status compute_cells(joined *j, xf_bench_eval *e) {
    xf_ctx_t *ctx = j->ctx;
    int64_t J = j->J, Mo = j->Mo, T = e->T, R = e->R;
    xf_ws_t *ws;
    xf_status st = xf_ws_create(ctx, &ws);
    if (st) return st;
    double *x = xf_malloc(ctx, sizeof(double) * (size_t)(J + 1));
    double *y = xf_malloc(ctx, sizeof(double) * (size_t)(J + 1));
    int64_t *skipped = xf_calloc(ctx, (size_t)T + 1, sizeof(int64_t)); /* (T) runs where t has < 2 models */
    int64_t *fewest = xf_calloc(ctx, (size_t)T + 1, sizeof(int64_t));
    if (!x || !y || !skipped || !fewest) st = XF_ERR_NOMEM;
    int64_t cells_ok = 0;
    for (int64_t t = 0; t < T && !st; t++)
        for (int64_t rr = 0; rr < R && !st; rr++) {
            int64_t k = 0, pos = 0;
            for (int64_t i = 0; i < J; i++)
                if (j->run[i] == rr && j->tgt[i] == t) {
                    y[k++] = j->acc[i];
                    pos += j->acc[i] > 0;
                }
            if (k == 0) continue; /* this run has no rows for the target */
            if (pos < 2) {
                if (!skipped[t]++ || pos < fewest[t]) fewest[t] = pos;
                continue;
            }
            for (int64_t m = 0; m < Mo && !st; m++) {
                if (!e->evaluated[m]) continue;
                for (int64_t i = 0, q = 0; i < J; i++)
                    if (j->run[i] == rr && j->tgt[i] == t) x[q++] = j->S[i * Mo + m];
                xf_ws_reset(ws);
                st = xf_bench_metrics_compute(ws, x, y, k, &e->cells[(m * T + t) * R + rr]);
                if (st) xf_error_prefix(ctx, e->methods[m]);
                else cells_ok++;
            }
        }
    for (int64_t t = 0; t < T && !st; t++)
        if (skipped[t])
            st = note(ctx, e, "%s '%s': %lld model(s) with an oracle > 0 in %lld of %lld run(s); not evaluated there "
                      "(a correlation needs 2)", opt_group_word(j->opt->group),
                      e->targets[t], (long long)fewest[t], (long long)skipped[t], (long long)R);
    int any = 0;
    for (int64_t m = 0; m < Mo; m++) any |= e->evaluated[m];
    if (!st && any && cells_ok == 0)
        st = XF_ERR(ctx, XF_ERR_INVALID, "no %s has 2 models with an oracle > 0 in the joined rows",
                    opt_group_word(j->opt->group));
    xf_free(ctx, x);
    xf_free(ctx, y);
    xf_free(ctx, skipped);
    xf_free(ctx, fewest);
    xf_ws_free(ws);
    return st;
}

/* Mean over targets within each run, then mean and population std over runs; and per
 * target, mean and std over runs. */
static void summarise(xf_bench_eval *e) {
    int64_t T = e->T, R = e->R;
    for (int64_t m = 0; m < e->M; m++) {
        xf_bench_summary *ov = &e->overall[m];
        double per_run[NMETRIC], sum[NMETRIC] = {0}, sq[NMETRIC] = {0}, nsum = 0;
        int64_t runs = 0;
        for (int64_t rr = 0; rr < R; rr++) {
            int64_t nt = 0;
            double ns = 0;
            for (int k = 0; k < NMETRIC; k++) per_run[k] = 0;
            for (int64_t t = 0; t < T; t++) {
                const xf_bench_metrics *c = &e->cells[(m * T + t) * R + rr];
                if (!c->n) continue;
                nt++;
                ns += (double)c->n;
                for (int k = 0; k < NMETRIC; k++) per_run[k] += mfc(c, k);
            }
            if (!nt) continue;
            runs++;
            nsum += ns / (double)nt;
            for (int k = 0; k < NMETRIC; k++) {
                double v = per_run[k] / (double)nt;
                sum[k] += v;
                sq[k] += v * v;
            }
        }
        if (runs) {
            for (int k = 0; k < NMETRIC; k++) {
                double mean = sum[k] / (double)runs, var = sq[k] / (double)runs - mean * mean;
                *mf(&ov->mean, k) = mean;
                *mf(&ov->std, k) = var > 0 ? sqrt(var) : 0.0;
            }
            ov->mean.n = (int64_t)llround(nsum / (double)runs);
        }
        for (int64_t t = 0; t < T; t++) {
            xf_bench_summary *bt = &e->by_target[m * T + t];
            double s2[NMETRIC] = {0}, q2[NMETRIC] = {0}, n2 = 0;
            int64_t k2 = 0;
            for (int64_t rr = 0; rr < R; rr++) {
                const xf_bench_metrics *c = &e->cells[(m * T + t) * R + rr];
                if (!c->n) continue;
                k2++;
                n2 += (double)c->n;
                for (int k = 0; k < NMETRIC; k++) {
                    s2[k] += mfc(c, k);
                    q2[k] += mfc(c, k) * mfc(c, k);
                }
            }
            if (!k2) continue;
            for (int k = 0; k < NMETRIC; k++) {
                double mean = s2[k] / (double)k2, var = q2[k] / (double)k2 - mean * mean;
                *mf(&bt->mean, k) = mean;
                *mf(&bt->std, k) = var > 0 ? sqrt(var) : 0.0;
            }
            bt->mean.n = (int64_t)llround(n2 / (double)k2);
        }
    }
}

xf_status xf_bench_evaluate(xf_ctx_t *ctx, const xf_bench_oracle *o, const xf_bench_results *r,
                            const xf_bench_opts *opt, xf_bench_eval *out) {
    memset(out, 0, sizeof *out);
    xf_bench_opts dflt;
    if (!opt) {
        xf_bench_opts_default(&dflt);
        opt = &dflt;
    }
    if (opt->group & ~(XF_BENCH_GROUP_TARGET | XF_BENCH_GROUP_ARCH | XF_BENCH_GROUP_SOURCE) ||
        opt->group == (XF_BENCH_GROUP_TARGET | XF_BENCH_GROUP_ARCH | XF_BENCH_GROUP_SOURCE))
        return XF_ERR(ctx, XF_ERR_INVALID, "group: hold at most two of target, architecture, source constant");
    if (!o || !r || o->n < 1 || r->n < 1 || r->M < 1)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_bench_evaluate: empty oracle or results table");
    if (opt->capacity && (!opt->layers || opt->layers_max <= 0))
        return XF_ERR(ctx, XF_ERR_INVALID, "the capacity term needs a layer table and layers_max > 0");
    joined j = {ctx, o, r, opt, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    int forms = 1 + !!(opt->capacity & XF_BENCH_CAPACITY_GLOBAL) + !!(opt->capacity & XF_BENCH_CAPACITY_TARGET);
    j.Mo = r->M * forms;
    out->M = j.Mo;
    xf_status st = XF_OK;
    if (!(out->methods = xf_calloc(ctx, (size_t)j.Mo, sizeof(char *))) ||
        !(out->why_not = xf_calloc(ctx, (size_t)j.Mo, sizeof(char *))) ||
        !(out->evaluated = xf_calloc(ctx, (size_t)j.Mo, sizeof(int))))
        st = XF_ERR_NOMEM;
    if (!st) st = method_names(ctx, r, opt, out);
    if (!st) st = join(&j, out);
    if (!st && !(out->cells = xf_calloc(ctx, (size_t)(j.Mo * out->T * out->R), sizeof(xf_bench_metrics))))
        st = XF_ERR_NOMEM;
    if (!st && (!(out->overall = xf_calloc(ctx, (size_t)j.Mo, sizeof(xf_bench_summary))) ||
                !(out->by_target = xf_calloc(ctx, (size_t)(j.Mo * out->T), sizeof(xf_bench_summary)))))
        st = XF_ERR_NOMEM;
    if (!st) st = build_scores(&j, out);
    if (!st) st = compute_cells(&j, out);
    if (!st) st = plot_points(&j, out);
    if (!st) summarise(out);
    xf_free(ctx, j.row);
    xf_free(ctx, j.acc);
    xf_free(ctx, j.run);
    xf_free(ctx, j.tgt);
    xf_free(ctx, j.layers);
    xf_free(ctx, j.S);
    if (st) xf_bench_eval_free(ctx, out);
    return st;
}
