/* bench/print: an evaluated benchmark as a fixed-width table or as JSON (benchmark.h).
 * The table shows the mean over runs and, when there are several runs, the population
 * std over runs in parentheses (PARC's "mean +- std over 5 probe sets"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "xfer/benchmark.h"

static const char *const names[7] = {"pearson", "spearman", "kendall", "weighted_tau", "top1", "top3", "regret"};

static double field(const xf_bench_metrics *m, int k) {
    const double v[7] = {m->pearson, m->spearman, m->kendall, m->weighted_tau, m->top1, m->top3, m->regret};
    return v[k];
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_obj(FILE *f, const xf_bench_eval *e, int64_t m, const char *target, const xf_bench_summary *s,
                     int first) {
    fputs(first ? "  {" : ",\n  {", f);
    fputs("\"method\": ", f);
    json_str(f, e->methods[m]);
    if (target) {
        fputs(", \"target\": ", f);
        json_str(f, target);
    }
    if (!e->evaluated[m]) {
        fputs(", \"error\": ", f);
        json_str(f, e->why_not[m] ? e->why_not[m] : "not evaluated");
        fputc('}', f);
        return;
    }
    if (!s->mean.n) {
        fputs(", \"error\": \"fewer than 2 models with an oracle > 0\"}", f);
        return;
    }
    for (int k = 0; k < 7; k++) fprintf(f, ", \"%s\": %.10g", names[k], field(&s->mean, k));
    for (int k = 0; k < 7; k++) fprintf(f, ", \"%s_std\": %.10g", names[k], field(&s->std, k));
    fprintf(f, ", \"models\": %lld, \"runs\": %lld}", (long long)s->mean.n, (long long)e->R);
}

static void row(FILE *f, const xf_bench_eval *e, int64_t m, const char *target, const xf_bench_summary *s, int w) {
    fprintf(f, "%-*s", w, e->methods[m]);
    if (target) fprintf(f, "  %-16s", target);
    if (!e->evaluated[m]) {
        fprintf(f, "  not evaluated: %s\n", e->why_not[m] ? e->why_not[m] : "");
        return;
    }
    if (!s->mean.n) {
        fprintf(f, "  not evaluated: fewer than 2 models with an oracle > 0\n");
        return;
    }
    for (int k = 0; k < 7; k++) {
        if (e->R > 1) fprintf(f, "  %7.2f (%5.2f)", field(&s->mean, k), field(&s->std, k));
        else fprintf(f, "  %8.2f", field(&s->mean, k));
    }
    fprintf(f, "  %6lld\n", (long long)s->mean.n);
}

void xf_bench_eval_print(FILE *f, const xf_bench_eval *e, int by_target, int json) {
    if (json) {
        fputs("[\n", f);
        int first = 1;
        for (int64_t m = 0; m < e->M; m++) {
            if (!by_target) json_obj(f, e, m, NULL, &e->overall[m], first);
            else
                for (int64_t t = 0; t < e->T; t++, first = 0)
                    json_obj(f, e, m, e->targets[t], &e->by_target[m * e->T + t], first);
            first = 0;
        }
        fputs("\n]\n", f);
        return;
    }
    int w = 6;
    for (int64_t m = 0; m < e->M; m++)
        if ((int)strlen(e->methods[m]) > w) w = (int)strlen(e->methods[m]);
    static const char *const head[7] = {"pearson", "spearman", "kendall", "w.tau", "top1%", "top3%", "regret"};
    fprintf(f, "%-*s", w, "method");
    if (by_target) fprintf(f, "  %-16s", "target");
    for (int k = 0; k < 7; k++) fprintf(f, e->R > 1 ? "  %7s (  std)" : "  %8s", head[k]);
    fprintf(f, "  %6s\n", "models");
    for (int64_t m = 0; m < e->M; m++) {
        if (!by_target) row(f, e, m, NULL, &e->overall[m], w);
        else
            for (int64_t t = 0; t < e->T; t++) row(f, e, m, e->targets[t], &e->by_target[m * e->T + t], w);
    }
    fprintf(f, "(%lld target(s), %lld run(s), %lld joined row(s); correlations x100, top-k in %% of the best oracle, "
               "regret in oracle points%s)\n",
            (long long)e->T, (long long)e->R, (long long)e->rows_joined,
            e->R > 1 ? "; (std) over runs" : "");
    for (int64_t i = 0; i < e->n_notes; i++) fprintf(f, "note: %s\n", e->notes[i]);
}
