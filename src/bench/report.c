/* bench/report: a benchmark report a person reads: DIR/report.md (the overall table, the
 * per-target Pearson table, the notes) and DIR/scatter_<target>.svg, one static SVG per
 * target with one panel per method: the method's score (x, averaged over runs) against
 * the oracle (y), one point per model labelled "architecture/source". Plain SVG 1.1, no
 * script, so any browser shows it. Files are written to a temporary name and renamed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/benchInt.h"

static void xml(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: if ((unsigned char)*s >= 0x20) fputc(*s, f);
        }
}

/* Markdown table cells must not hold a '|' or a line end. */
static void md(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}
/* One table cell " s |" (the row's leading '|' is the caller's). */
static void md_cell(FILE *f, const char *s) {
    fputc(' ', f);
    md(f, s);
    fputs(" |", f);
}

/* A file name for target t: its letters, digits, '-', '_', '.', the rest '_', plus the index. */
static void svg_name(const xf_bench_eval *e, int64_t t, char *buf, size_t cap) {
    char s[80];
    size_t k = 0;
    for (const char *p = e->targets[t]; *p && k < sizeof s - 1; p++) {
        char c = *p;
        s[k++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
                     ? c
                     : '_';
    }
    s[k] = 0;
    snprintf(buf, cap, "scatter_%02lld_%s.svg", (long long)t, s);
}

static FILE *open_tmp(xf_ctx_t *ctx, const char *dir, const char *name, char *path, char *tmp, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    snprintf(tmp, cap, "%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "wb");
    if (!f) XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    return f;
}

static xf_status close_rename(xf_ctx_t *ctx, FILE *f, const char *tmp, const char *path) {
    int bad = ferror(f);
    if (fclose(f)) bad = 1;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot write", path);
    }
    return XF_OK;
}

#define PW 380.0 /* panel size */
#define PH 320.0
#define ML 52.0 /* margins inside a panel: left, right, top, bottom */
#define MR 12.0
#define MT 28.0
#define MB 40.0

static void panel(FILE *f, const xf_bench_eval *e, int64_t m, int64_t t, double ox, double oy) {
    int64_t a = e->model_off[t], b = e->model_off[t + 1], P = e->model_off[e->T];
    const double *sc = e->model_score + m * P;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int64_t p = a; p < b; p++) {
        if (e->model_oracle[p] <= 0) continue; /* left out of every metric */
        x0 = fmin(x0, sc[p]);
        x1 = fmax(x1, sc[p]);
        y0 = fmin(y0, e->model_oracle[p]);
        y1 = fmax(y1, e->model_oracle[p]);
    }
    if (!(x1 >= x0)) x0 = 0, x1 = 1;
    if (!(y1 >= y0)) y0 = 0, y1 = 1;
    double dx = x1 - x0, dy = y1 - y0;
    if (dx <= 0) dx = fabs(x0) > 0 ? fabs(x0) * 0.1 : 1.0;
    if (dy <= 0) dy = fabs(y0) > 0 ? fabs(y0) * 0.1 : 1.0;
    x0 -= 0.05 * dx, x1 = x0 + 1.1 * dx;
    y0 -= 0.05 * dy, y1 = y0 + 1.1 * dy;
    double W = PW - ML - MR, H = PH - MT - MB;
    fprintf(f, "<g transform=\"translate(%.1f,%.1f)\">\n", ox, oy);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", ML, MT,
            W, H);
    const xf_bench_summary *s = &e->by_target[m * e->T + t];
    fprintf(f, "<text x=\"%.1f\" y=\"16\" font-size=\"12\" font-weight=\"bold\">", ML);
    xml(f, e->methods[m]);
    if (e->evaluated[m] && s->mean.n) fprintf(f, "  (pearson %.1f, top-1 %.1f%%)", s->mean.pearson, s->mean.top1);
    else fputs("  (not evaluated)", f);
    fputs("</text>\n", f);
    for (int k = 0; k <= 4; k++) { /* ticks: 5 on each axis */
        double vx = x0 + (x1 - x0) * k / 4.0, vy = y0 + (y1 - y0) * k / 4.0;
        double px = ML + W * k / 4.0, py = MT + H - H * k / 4.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", px, MT + H, px,
                MT + H + 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">%.3g</text>\n", px,
                MT + H + 14, vx);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", ML - 4, py, ML, py);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\">%.3g</text>\n", ML - 6, py + 3, vy);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">score</text>\n", ML + W / 2,
            PH - 6);
    fprintf(f,
            "<text x=\"12\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" transform=\"rotate(-90 12 %.1f)\">"
            "oracle accuracy</text>\n",
            MT + H / 2, MT + H / 2);
    for (int64_t p = a; p < b; p++) {
        if (e->model_oracle[p] <= 0) continue;
        double px = ML + W * (sc[p] - x0) / (x1 - x0), py = MT + H - H * (e->model_oracle[p] - y0) / (y1 - y0);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f77b4\"><title>", px, py);
        xml(f, e->model_arch[p]);
        fputc('/', f);
        xml(f, e->model_source[p]);
        fprintf(f, ": score %.4g, oracle %.4g</title></circle>", sc[p], e->model_oracle[p]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"7\" fill=\"#333\">", px + 4, py - 3);
        xml(f, e->model_arch[p]);
        fputc('/', f);
        xml(f, e->model_source[p]);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

static xf_status write_svg(xf_ctx_t *ctx, const xf_bench_eval *e, int64_t t, const char *dir) {
    char name[128], path[4096], tmp[4096];
    svg_name(e, t, name, sizeof name);
    FILE *f = open_tmp(ctx, dir, name, path, tmp, sizeof path);
    if (!f) return xf_last_status(ctx);
    int64_t cols = e->M < 3 ? e->M : 3, rows = (e->M + cols - 1) / cols;
    double W = cols * PW, H = rows * PH + 30;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">target ");
    xml(f, e->targets[t]);
    fprintf(f, ": method score against oracle accuracy, one point per model (score averaged over %lld run(s))</text>\n",
            (long long)e->R);
    for (int64_t m = 0; m < e->M; m++) panel(f, e, m, t, (double)(m % cols) * PW, 30 + (double)(m / cols) * PH);
    fputs("</svg>\n", f);
    return close_rename(ctx, f, tmp, path);
}

static void md_num(FILE *f, const xf_bench_summary *s, int k, int R) {
    const double v[7] = {s->mean.pearson, s->mean.spearman, s->mean.kendall, s->mean.weighted_tau,
                         s->mean.top1,    s->mean.top3,     s->mean.regret};
    const double d[7] = {s->std.pearson, s->std.spearman, s->std.kendall, s->std.weighted_tau,
                         s->std.top1,    s->std.top3,     s->std.regret};
    if (R > 1) fprintf(f, " %.2f ± %.2f |", v[k], d[k]);
    else fprintf(f, " %.2f |", v[k]);
}

xf_status xf_bench_report_write(xf_ctx_t *ctx, const xf_bench_eval *e, const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create the report directory: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return XF_ERR(ctx, XF_ERR_IO, "%s: not a directory", dir);
    xf_status st;
    for (int64_t t = 0; t < e->T; t++)
        if ((st = write_svg(ctx, e, t, dir))) return st;
    char path[4096], tmp[4096];
    FILE *f = open_tmp(ctx, dir, "report.md", path, tmp, sizeof path);
    if (!f) return xf_last_status(ctx);
    fprintf(f, "# Model-selection benchmark\n\n%lld target(s), %lld run(s), %lld joined (model, target, run) row(s). "
               "Correlations are x100 (Pearson is PARC's metric), top-k is the mean oracle of the k best-scored models "
               "in %% of the best oracle, regret is the best oracle minus the top-1 pick's, in oracle points.%s\n\n",
            (long long)e->T, (long long)e->R, (long long)e->rows_joined,
            e->R > 1 ? " Values are the mean ± the population std over runs." : "");
    fputs("## Mean over targets\n\n| method | Pearson | Spearman | Kendall | weighted tau | top-1 % | top-3 % | regret |\n"
          "|---|---|---|---|---|---|---|---|\n", f);
    for (int64_t m = 0; m < e->M; m++) {
        fputc('|', f);
        md_cell(f, e->methods[m]);
        if (!e->evaluated[m] || !e->overall[m].mean.n) {
            fputs(" not evaluated: ", f);
            md(f, e->why_not[m] ? e->why_not[m] : "no target with 2 models");
            fputs(" | | | | | | |\n", f);
            continue;
        }
        for (int k = 0; k < 7; k++) md_num(f, &e->overall[m], k, (int)e->R);
        fputc('\n', f);
    }
    fputs("\n## Pearson x100 per target\n\n| method |", f);
    for (int64_t t = 0; t < e->T; t++) md_cell(f, e->targets[t]);
    fputs("\n|---|", f);
    for (int64_t t = 0; t < e->T; t++) fputs("---|", f);
    fputc('\n', f);
    for (int64_t m = 0; m < e->M; m++) {
        fputc('|', f);
        md_cell(f, e->methods[m]);
        for (int64_t t = 0; t < e->T; t++) {
            const xf_bench_summary *s = &e->by_target[m * e->T + t];
            if (!e->evaluated[m] || !s->mean.n) fputs(" - |", f);
            else md_num(f, s, 0, (int)e->R);
        }
        fputc('\n', f);
    }
    if (e->n_notes) {
        fputs("\n## Notes\n\n", f);
        for (int64_t i = 0; i < e->n_notes; i++) {
            fputs("- ", f);
            md(f, e->notes[i]);
            fputc('\n', f);
        }
    }
    fputs("\n## Scatter plots (score against oracle, one point per model)\n\n", f);
    for (int64_t t = 0; t < e->T; t++) {
        char name[128];
        svg_name(e, t, name, sizeof name);
        fputs("- ", f);
        md(f, e->targets[t]);
        fprintf(f, ": [%s](%s)\n\n![%s](%s)\n\n", name, name, name, name);
    }
    return close_rename(ctx, f, tmp, path);
}
