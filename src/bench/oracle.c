/* bench/oracle: the ground truth of a selection benchmark, the fine-tuned test accuracy
 * of every (model, target) pair (benchmark.h has the CSV mapping and the resume design).
 *
 * A pair's record is a small text file in the state folder, named by a 64-bit FNV-1a
 * hash of the pair's identity (model name and SHA-256, target name and data specs, the
 * protocol string): "key=value" lines, the last one "end=<FNV-1a of every byte before
 * it>", written to a temporary name and renamed. A record that is missing, truncated,
 * fails its checksum or names another identity is not done; the pair is fine-tuned again
 * and the record replaced. Numbers are written with 17 significant digits, and the CSVs
 * are always assembled from the records, so a resumed run writes the same bytes as an
 * uninterrupted one. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/benchInt.h"
#include "xfer/bank.h"
#include "xfer/data.h"
#include "xfer/transfer.h"

typedef struct pair_rec {
    int done;
    int n_lrs;
    double lrs[XF_FT_MAX_LRS], val[XF_FT_MAX_LRS];
    double best_lr, train_acc, test_acc, head_acc, seconds;
} pair_rec;

struct xf_oracle_plan {
    xf_ctx_t *ctx;
    xf_bank_t *bank;
    int64_t M, T;
    xf_oracle_target *targets; /* (T) */
    xf_ft_opts ft;
    xf_data_opts data;
    int headonly;
    char *out, *state, *details, *head_out;
    char protocol[512];
    pair_rec *rec; /* (M x T) */
};

/* ---- targets ---- */

void xf_oracle_target_free(xf_ctx_t *ctx, xf_oracle_target *t) {
    xf_free(ctx, t->name);
    xf_free(ctx, t->train);
    xf_free(ctx, t->test);
    memset(t, 0, sizeof *t);
}

static char *strndup_ctx(xf_ctx_t *ctx, const char *s, size_t n) {
    char *d = xf_malloc(ctx, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* The default name of a data spec: corpus:<task>[:split] -> task; a path -> its last
 * component without extension and without a trailing "_train_x" / "_x". */
static char *default_name(xf_ctx_t *ctx, const char *spec) {
    if (!strncmp(spec, "corpus:", 7)) {
        const char *t = spec + 7, *c = strchr(t, ':');
        return strndup_ctx(ctx, t, c ? (size_t)(c - t) : strlen(t));
    }
    size_t n = strlen(spec);
    while (n > 1 && spec[n - 1] == '/') n--;
    const char *b = spec;
    for (size_t i = 0; i < n; i++)
        if (spec[i] == '/') b = spec + i + 1;
    size_t l = (size_t)(spec + n - b);
    const char *dot = NULL;
    for (size_t i = 0; i < l; i++)
        if (b[i] == '.') dot = b + i;
    if (dot && dot > b) l = (size_t)(dot - b);
    static const char *const tails[] = {"_train_x", "_x"};
    for (int k = 0; k < 2; k++) {
        size_t tl = strlen(tails[k]);
        if (l > tl && !strncmp(b + l - tl, tails[k], tl)) {
            l -= tl;
            break;
        }
    }
    return strndup_ctx(ctx, b, l);
}

xf_status xf_oracle_target_parse(xf_ctx_t *ctx, const char *spec, xf_oracle_target *out) {
    memset(out, 0, sizeof *out);
    for (const char *p = spec; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\x1f')
            return XF_ERR(ctx, XF_ERR_INVALID, "target '%s': a line end or control character", spec);
    const char *eq = strchr(spec, '='), *body = spec;
    if (eq) body = eq + 1;
    const char *at = strchr(body, '@');
    size_t tl = at ? (size_t)(at - body) : strlen(body);
    if (eq && eq == spec) return XF_ERR(ctx, XF_ERR_INVALID, "target '%s': empty name before '='", spec);
    if (tl == 0) return XF_ERR(ctx, XF_ERR_INVALID, "target '%s': no training data", spec);
    if (at && !at[1]) return XF_ERR(ctx, XF_ERR_INVALID, "target '%s': no test data after '@'", spec);
    out->train = strndup_ctx(ctx, body, tl);
    out->test = at ? xf_strdup(ctx, at + 1) : NULL;
    out->name = eq ? strndup_ctx(ctx, spec, (size_t)(eq - spec)) : out->train ? default_name(ctx, out->train) : NULL;
    if (!out->train || !out->name || (at && !out->test)) {
        xf_oracle_target_free(ctx, out);
        return XF_ERR_NOMEM;
    }
    if (!*out->name) {
        xf_oracle_target_free(ctx, out);
        return XF_ERR(ctx, XF_ERR_INVALID, "target '%s': no name (give NAME=...)", spec);
    }
    return XF_OK;
}

/* ---- the plan ---- */

void xf_oracle_plan_free(xf_oracle_plan_t *p) {
    if (!p) return;
    xf_ctx_t *ctx = p->ctx;
    for (int64_t t = 0; t < p->T && p->targets; t++) xf_oracle_target_free(ctx, &p->targets[t]);
    xf_free(ctx, p->targets);
    xf_bank_free(p->bank);
    xf_free(ctx, p->out);
    xf_free(ctx, p->state);
    xf_free(ctx, p->details);
    xf_free(ctx, p->head_out);
    xf_free(ctx, p->rec);
    xf_free(ctx, p);
}

int64_t xf_oracle_plan_pairs(const xf_oracle_plan_t *p) { return p->M * p->T; }

static char *cat3(xf_ctx_t *ctx, const char *a, size_t an, const char *b) {
    size_t n = an + strlen(b) + 1;
    char *d = xf_malloc(ctx, n);
    if (d) snprintf(d, n, "%.*s%s", (int)an, a, b);
    return d;
}

xf_status xf_oracle_plan_create(xf_ctx_t *ctx, const char *bank_dir, const xf_oracle_target *targets, int64_t T,
                                const struct xf_ft_opts *ft, const struct xf_data_opts *data, int headonly,
                                const char *out_csv, xf_oracle_plan_t **out) {
    *out = NULL;
    if (T < 1) return XF_ERR(ctx, XF_ERR_INVALID, "no targets");
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(targets[i].name, targets[j].name))
                return XF_ERR(ctx, XF_ERR_INVALID, "two targets are named '%s' (give NAME=... to tell them apart)",
                              targets[i].name);
    xf_oracle_plan_t *p = xf_calloc(ctx, 1, sizeof *p);
    if (!p) return XF_ERR_NOMEM;
    p->ctx = ctx;
    xf_status st = xf_bank_open(ctx, bank_dir, &p->bank);
    if (st) {
        xf_free(ctx, p);
        return st;
    }
    p->M = xf_bank_count(p->bank);
    p->T = T;
    p->headonly = headonly;
    if (ft) p->ft = *ft;
    else xf_ft_opts_default(&p->ft);
    p->ft.on_epoch = NULL;
    p->ft.user = NULL;
    if (data) p->data = *data;
    else xf_data_opts_default(&p->data);
    if (p->M < 1) st = XF_ERR(ctx, XF_ERR_INVALID, "%s: the bank has no models", bank_dir);
    /* the stem: out_csv without ".csv" */
    size_t ol = strlen(out_csv), sl = ol > 4 && !strcmp(out_csv + ol - 4, ".csv") ? ol - 4 : ol;
    if (!st && (!(p->targets = xf_calloc(ctx, (size_t)T, sizeof *p->targets)) ||
                !(p->rec = xf_calloc(ctx, (size_t)(p->M * T), sizeof *p->rec)) ||
                !(p->out = xf_strdup(ctx, out_csv)) || !(p->state = cat3(ctx, out_csv, ol, ".state")) ||
                !(p->details = cat3(ctx, out_csv, sl, ".details.csv")) ||
                !(p->head_out = cat3(ctx, out_csv, sl, ".headonly.csv"))))
        st = XF_ERR_NOMEM;
    for (int64_t t = 0; t < T && !st; t++) {
        p->targets[t].name = xf_strdup(ctx, targets[t].name);
        p->targets[t].train = xf_strdup(ctx, targets[t].train);
        p->targets[t].test = targets[t].test ? xf_strdup(ctx, targets[t].test) : NULL;
        if (!p->targets[t].name || !p->targets[t].train || (targets[t].test && !p->targets[t].test)) st = XF_ERR_NOMEM;
    }
    if (!st) {
        /* what makes two runs' numbers comparable; the thread count is not part of it */
        int n = snprintf(p->protocol, sizeof p->protocol,
                         "mode=%s epochs=%lld steps=%lld batch=%lld momentum=%.17g wd=%.17g val=%.17g seed=%llu "
                         "headonly=%d resize=%d lrs=",
                         xf_ft_mode_name(p->ft.mode), (long long)p->ft.epochs, (long long)p->ft.steps,
                         (long long)p->ft.batch, p->ft.momentum, p->ft.weight_decay, p->ft.val_fraction,
                         (unsigned long long)p->ft.seed, headonly, p->data.resize);
        for (int i = 0; i < p->ft.n_lrs && n > 0 && (size_t)n < sizeof p->protocol; i++)
            n += snprintf(p->protocol + n, sizeof p->protocol - (size_t)n, "%s%.17g", i ? "," : "", p->ft.lrs[i]);
    }
    if (!st && mkdir(p->state, 0777) != 0 && errno != EEXIST)
        st = XF_ERR(ctx, XF_ERR_IO, "%s: cannot create the state folder: %s", p->state, strerror(errno));
    if (st) {
        xf_oracle_plan_free(p);
        return st;
    }
    *out = p;
    return XF_OK;
}

/* ---- records ---- */


/* The identity lines every record starts with. */
static int identity(const xf_oracle_plan_t *p, int64_t mi, int64_t ti, char *buf, size_t cap) {
    const xf_bank_model *m = xf_bank_model_at(p->bank, mi);
    const xf_oracle_target *t = &p->targets[ti];
    return snprintf(buf, cap, "xfer-oracle-pair 1\nmodel=%s\nsha256=%s\ntarget=%s\ntrain=%s\ntest=%s\nprotocol=%s\n",
                    m->name, m->sha256, t->name, t->train, t->test ? t->test : "-", p->protocol);
}

static void record_path(const xf_oracle_plan_t *p, int64_t mi, int64_t ti, char *path, size_t cap) {
    char id[4096];
    int n = identity(p, mi, ti, id, sizeof id);
    uint64_t h = xf_fnv1a(XF_FNV1A_OFFSET, id, n > 0 && (size_t)n < sizeof id ? (size_t)n : strlen(id));
    snprintf(path, cap, "%s/%016llx.pair", p->state, (unsigned long long)h);
}

static int acc_ok(double a) { return isfinite(a) && a >= 0 && a <= 100; }

/* 1 and *r filled when the record of (mi, ti) is complete and matches; 0 otherwise. */
static int record_read(xf_oracle_plan_t *p, int64_t mi, int64_t ti, pair_rec *r) {
    char path[4200], id[4096];
    record_path(p, mi, ti, path, sizeof path);
    int idn = identity(p, mi, ti, id, sizeof id);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *end = strstr(buf, "end=");
    if (idn <= 0 || (size_t)idn >= sizeof id || n < (size_t)idn || memcmp(buf, id, (size_t)idn) || !end ||
        (end != buf && end[-1] != '\n'))
        return 0;
    unsigned long long want = strtoull(end + 4, NULL, 16);
    if (xf_fnv1a(XF_FNV1A_OFFSET, buf, (size_t)(end - buf)) != want) return 0;
    memset(r, 0, sizeof *r);
    r->head_acc = -1;
    int got = 0;
    for (char *line = buf + idn; line < end;) {
        char *nl = strchr(line, '\n');
        if (!nl) return 0;
        *nl = 0;
        double a, b;
        if (sscanf(line, "lr=%lf val=%lf", &a, &b) == 2 && r->n_lrs < XF_FT_MAX_LRS) {
            r->lrs[r->n_lrs] = a;
            r->val[r->n_lrs++] = b;
        } else if (sscanf(line, "best_lr=%lf", &a) == 1) r->best_lr = a, got |= 1;
        else if (sscanf(line, "train_acc=%lf", &a) == 1) r->train_acc = a, got |= 2;
        else if (sscanf(line, "test_acc=%lf", &a) == 1) r->test_acc = a, got |= 4;
        else if (sscanf(line, "headonly_test_acc=%lf", &a) == 1) r->head_acc = a, got |= 8;
        else if (sscanf(line, "seconds=%lf", &a) == 1) r->seconds = a, got |= 16;
        line = nl + 1;
    }
    if (got != 31 || (p->headonly && r->head_acc < 0)) return 0;
    /* a record that checks out but holds impossible numbers is recomputed, not believed */
    int ok = acc_ok(r->train_acc) && acc_ok(r->test_acc) && (r->head_acc == -1 || acc_ok(r->head_acc)) &&
             isfinite(r->seconds) && r->seconds >= 0 && isfinite(r->best_lr) && r->best_lr > 0;
    for (int i = 0; i < r->n_lrs; i++) ok = ok && isfinite(r->lrs[i]) && r->lrs[i] > 0 && isfinite(r->val[i]);
    if (!ok) return 0;
    r->done = 1;
    return 1;
}

static xf_status record_write(xf_oracle_plan_t *p, int64_t mi, int64_t ti, const pair_rec *r) {
    xf_ctx_t *ctx = p->ctx;
    char path[4200], tmp[4300], buf[16384];
    record_path(p, mi, ti, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = identity(p, mi, ti, buf, sizeof buf);
    for (int i = 0; i < r->n_lrs; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "lr=%.17g val=%.17g\n", r->lrs[i], r->val[i]);
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "best_lr=%.17g\ntrain_acc=%.17g\ntest_acc=%.17g\nheadonly_test_acc=%.17g\nseconds=%.17g\n", r->best_lr,
                  r->train_acc, r->test_acc, r->head_acc, r->seconds);
    if (n <= 0 || (size_t)n + 32 >= sizeof buf) return XF_ERR(ctx, XF_ERR_INTERNAL, "%s: record too long", path);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "end=%016llx\n",
                  (unsigned long long)xf_fnv1a(XF_FNV1A_OFFSET, buf, (size_t)n));
    FILE *f = fopen(tmp, "wb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    int bad = fwrite(buf, 1, (size_t)n, f) != (size_t)n;
    bad |= fflush(f) != 0;
    if (fclose(f)) bad = 1;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot write", path);
    }
    return XF_OK;
}

int64_t xf_oracle_plan_done(xf_oracle_plan_t *p) {
    int64_t d = 0;
    for (int64_t i = 0; i < p->M * p->T; i++) d += record_read(p, i / p->T, i % p->T, &p->rec[i]);
    return d;
}

/* ---- fine-tuning one pair ---- */

static xf_status open_sets(xf_oracle_plan_t *p, const xf_bank_model *m, const xf_oracle_target *t, xf_dataset *tr,
                           xf_dataset *te) {
    xf_ctx_t *ctx = p->ctx;
    xf_data_opts o = p->data;
    /* images as the model expects them (xf_cli_fit_data_to_model does this for a graph) */
    o.channels = (int)m->channels;
    o.height = (int)m->height;
    o.width = (int)m->width;
    for (int c = 0; c < 3; c++) {
        o.mean[c] = m->mean[c < m->channels ? c : 0];
        o.std[c] = m->std[c < m->channels ? c : 0];
    }
    xf_status st = xf_data_open(ctx, t->train, &o, tr);
    if (st) return st;
    xf_data_opts ot = o;
    char task[1024];
    const char *spec = t->test;
    if (!spec) {
        ot.labels = NULL;
        if (!strncmp(t->train, "corpus:", 7)) {
            const char *tk = t->train + 7, *c = strchr(tk, ':');
            snprintf(task, sizeof task, "corpus:%.*s", (int)(c ? (size_t)(c - tk) : strlen(tk)), tk);
            spec = task;
        } else
            spec = t->train;
        ot.split = "test";
    } else
        ot.split = NULL, ot.labels = NULL;
    return xf_data_open(ctx, spec, &ot, te);
}

static xf_status run_pair(xf_oracle_plan_t *p, int64_t mi, int64_t ti, pair_rec *r) {
    xf_ctx_t *ctx = p->ctx;
    const xf_bank_model *m = xf_bank_model_at(p->bank, mi);
    const xf_oracle_target *t = &p->targets[ti];
    xf_graph *g = NULL;
    xf_dataset tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    memset(r, 0, sizeof *r);
    r->head_acc = -1;
    xf_status st = xf_bank_load(ctx, p->bank, mi, 1, &g, NULL, NULL);
    if (!st) st = open_sets(p, m, t, &tr, &te);
    xf_imageset trs = {tr.x, tr.y, tr.n, tr.c, tr.h, tr.w, tr.k};
    xf_imageset tes = {te.x, te.y, te.n, te.c, te.h, te.w, te.k};
    xf_ft_report rep;
    if (!st) st = xf_finetune(ctx, g, &trs, &tes, &p->ft, NULL, &rep);
    if (!st) {
        r->n_lrs = rep.n_lrs > 1 ? rep.n_lrs : 0;
        for (int i = 0; i < r->n_lrs; i++) {
            r->lrs[i] = rep.lrs[i];
            r->val[i] = rep.val_acc[i];
        }
        r->best_lr = rep.best_lr;
        r->train_acc = rep.train_acc;
        r->test_acc = rep.test_acc;
        r->seconds = rep.seconds;
    }
    if (!st && p->headonly) { /* the linear-probe ground truth: same protocol, backbone frozen */
        xf_ft_opts h = p->ft;
        h.mode = XF_FT_HEAD;
        xf_ft_report hr;
        st = xf_finetune(ctx, g, &trs, &tes, &h, NULL, &hr);
        if (!st) {
            r->head_acc = hr.test_acc;
            r->seconds += hr.seconds;
        }
    }
    if (st) {
        char pre[1200];
        snprintf(pre, sizeof pre, "model '%s' on target '%s'", m->name, t->name);
        xf_error_prefix(ctx, pre);
    }
    xf_dataset_free(ctx, &tr);
    xf_dataset_free(ctx, &te);
    xf_graph_free(g);
    return st;
}

xf_status xf_oracle_run(xf_ctx_t *ctx, xf_oracle_plan_t *p, int worker, int workers) {
    if (workers < 1 || worker < 0 || worker >= workers)
        return XF_ERR(ctx, XF_ERR_INVALID, "worker %d of %d", worker, workers);
    int64_t P = p->M * p->T;
    for (int64_t i = worker; i < P; i += workers) {
        int64_t mi = i / p->T, ti = i % p->T;
        if (record_read(p, mi, ti, &p->rec[i])) continue;
        pair_rec r;
        xf_status st = run_pair(p, mi, ti, &r);
        if (st) return st;
        if ((st = record_write(p, mi, ti, &r))) return st;
        p->rec[i] = r;
        p->rec[i].done = 1;
        xf_log(ctx, XF_LOG_INFO, "oracle: %s on %s: test %.2f%% (pair %lld of %lld)", xf_bank_model_at(p->bank, mi)->name,
               p->targets[ti].name, r.test_acc, (long long)i + 1, (long long)P);
        xf_progress(ctx, "oracle", i + 1, P);
    }
    return XF_OK;
}

/* ---- the CSVs ---- */

static xf_status write_details(xf_oracle_plan_t *p) {
    xf_ctx_t *ctx = p->ctx;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", p->details);
    FILE *f = fopen(tmp, "wb");
    if (!f) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    fputs("Architecture,Source Dataset,Target Dataset,Model Source,Mode,Best LR,Validation Accuracy,Train Accuracy,"
          "Test Accuracy,Head-only Test Accuracy,Seconds\n",
          f);
    for (int64_t i = 0; i < p->M * p->T; i++) {
        const xf_bank_model *m = xf_bank_model_at(p->bank, i / p->T);
        const pair_rec *r = &p->rec[i];
        xf_bench_csv_put(f, m->architecture);
        fputc(',', f);
        xf_bench_csv_put(f, m->name);
        fputc(',', f);
        xf_bench_csv_put(f, p->targets[i % p->T].name);
        fputc(',', f);
        xf_bench_csv_put(f, m->source);
        char a[40], b[40];
        xf_bench_fmt_num(a, sizeof a, r->best_lr);
        fprintf(f, ",%s,%s,", xf_ft_mode_name(p->ft.mode), a);
        for (int k = 0; k < r->n_lrs; k++) { /* "lr:validation accuracy" pairs, ';'-separated */
            xf_bench_fmt_num(a, sizeof a, r->lrs[k]);
            xf_bench_fmt_num(b, sizeof b, r->val[k]);
            fprintf(f, "%s%s:%s", k ? ";" : "", a, b);
        }
        xf_bench_fmt_num(a, sizeof a, r->train_acc);
        xf_bench_fmt_num(b, sizeof b, r->test_acc);
        fprintf(f, ",%s,%s,", a, b);
        if (p->headonly) {
            xf_bench_fmt_num(a, sizeof a, r->head_acc);
            fputs(a, f);
        }
        fprintf(f, ",%.3f\n", r->seconds);
    }
    int bad = ferror(f);
    if (fclose(f)) bad = 1;
    if (bad || rename(tmp, p->details)) {
        remove(tmp);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot write", p->details);
    }
    return XF_OK;
}

xf_status xf_oracle_write(xf_ctx_t *ctx, xf_oracle_plan_t *p) {
    int64_t P = p->M * p->T, missing = 0, first = -1;
    for (int64_t i = 0; i < P; i++)
        if (!record_read(p, i / p->T, i % p->T, &p->rec[i])) {
            if (first < 0) first = i;
            missing++;
        }
    if (missing)
        return XF_ERR(ctx, XF_ERR_INVALID, "%lld of %lld pairs not done (the first: model '%s', target '%s')",
                      (long long)missing, (long long)P, xf_bank_model_at(p->bank, first / p->T)->name,
                      p->targets[first % p->T].name);
    xf_bench_oracle o = {0}, h = {0};
    xf_status st = XF_OK;
    for (int64_t i = 0; i < P && !st; i++) {
        const xf_bank_model *m = xf_bank_model_at(p->bank, i / p->T);
        st = xf_bench_oracle_add(ctx, &o, m->architecture, m->name, p->targets[i % p->T].name, p->rec[i].test_acc);
        if (!st && p->headonly)
            st = xf_bench_oracle_add(ctx, &h, m->architecture, m->name, p->targets[i % p->T].name, p->rec[i].head_acc);
    }
    if (!st) st = xf_bench_oracle_write(ctx, p->out, &o);
    if (!st && p->headonly) st = xf_bench_oracle_write(ctx, p->head_out, &h);
    if (!st) st = write_details(p);
    xf_bench_oracle_free(ctx, &o);
    xf_bench_oracle_free(ctx, &h);
    return st;
}

xf_status xf_bench_layers_from_bank(xf_ctx_t *ctx, const char *bank_dir, xf_bench_layers *out) {
    memset(out, 0, sizeof *out);
    xf_bank_t *b;
    xf_status st = xf_bank_open(ctx, bank_dir, &b);
    if (st) return st;
    for (int64_t i = 0; i < xf_bank_count(b) && !st; i++) {
        const xf_bank_model *m = xf_bank_model_at(b, i);
        for (int64_t j = 0; j < i && !st; j++) {
            const xf_bank_model *q = xf_bank_model_at(b, j);
            if (!strcmp(q->architecture, m->architecture) && q->layers != m->layers)
                st = XF_ERR(ctx, XF_ERR_INVALID,
                            "%s: models '%s' and '%s' are both '%s' but have %lld and %lld layers", bank_dir, q->name,
                            m->name, m->architecture, (long long)q->layers, (long long)m->layers);
        }
        if (!st) st = xf_bench_layers_add(ctx, out, m->architecture, (double)m->layers);
    }
    xf_bank_free(b);
    if (st) xf_bench_layers_free(ctx, out);
    return st;
}
