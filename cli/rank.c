/* xfer rank: which model of a bank should be fine-tuned for this data?
 *
 *   xfer rank --bank DIR --data SPEC [--probe 500] [--seed S] [--method default|NAME,...|all]
 *             [--capacity] [--finetune-top K [--test-data SPEC] [--epochs E] [--lr LR]]
 *             [--cache DIR | --no-cache] [--threads T] [--json|--csv] [--report FILE.md]
 *
 * Reads the options and calls the library: xf_rank (include/xfer/select.h) for the
 * ranking, xf_rank_halving for --finetune-top. Prints the ranked bank; exit status 1 when
 * a model could not be ranked (named on stderr; the others are still ranked). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xfer/select.h"

#define CMD "rank"

static void usage(FILE *f) {
    fprintf(f,
            "usage: xfer rank --bank DIR --data SPEC [--probe 500] [--seed S] [--method default|NAME,...|all]\n"
            "                 [--capacity] [--param NAME.KEY=VALUE ...] [--finetune-top K [--test-data SPEC]\n"
            "                 [--epochs E] [--lr LR] [--mode full|head|adapters]] [--cache DIR | --no-cache]\n"
            "                 [--threads T] [--json|--csv] [--report FILE.md] [data options]\n"
            XF_CLI_DATA_HELP
            "\n"
            "Ranks the models of a bank (a folder with bank.json: 'xfer bank init DIR') for a labelled\n"
            "dataset: samples PARC's probe set (--probe images, at least 2 per class; 0 = all), runs\n"
            "every model over it (images resized and their channels replicated to each model's input,\n"
            "normalised with its bank.json mean/std), scores the features with transferability\n"
            "estimators and prints the bank best first.\n\n"
            "--method default   xfer's rule: %s (docs/SELECTION.md)\n"
            "--method NAME,...  one estimator, or the mean of several estimators' z-scores\n"
            "--method all       every estimator's score, ranked by the default rule\n"
            "--capacity         adds PARC's depth term: z-scored score + layers / 50\n"
            "--finetune-top K   fine-tunes the top K by successive halving (short budgets first, the\n"
            "                   better half by validation accuracy continues) and reports the pick, its\n"
            "                   validation and --test-data accuracy and the time against fine-tuning the\n"
            "                   whole bank (estimated from the measured per-model cost). --epochs: the\n"
            "                   full budget (10), --lr: learning rate (0.01), --mode (full). Without\n"
            "                   --test-data, corpus:<task> is tested on its test split.\n"
            "--cache DIR        feature cache (default $XDG_CACHE_HOME/xfer or ~/.cache/xfer): a second\n"
            "                   run on the same inputs extracts nothing\n"
            "--json             one object per model: model, rank, score, scores{method: value}, ...\n"
            "--csv              one row per model; --report FILE.md writes a Markdown report too\n"
            "Exit status: 0 when every model was ranked, 1 when one failed (named), 2 for usage errors.\n",
            xf_rank_default_rule());
}

/* ---- progress: a redrawn line on a terminal, plain lines otherwise ---- */
typedef struct {
    int tty;
} progress;

static void on_model(void *user, const xf_rank_progress *p) {
    progress *pg = user;
    char what[64];
    if (!p->ok) snprintf(what, sizeof what, "failed");
    else if (p->cached) snprintf(what, sizeof what, "cached");
    else snprintf(what, sizeof what, "%.0f images/s", p->images_per_second);
    if (pg->tty) {
        fprintf(stderr, "\r\033[Kxfer rank: model %lld of %lld: %s (%s)", (long long)p->k, (long long)p->M, p->model, what);
        if (p->k == p->M) fputc('\n', stderr);
    } else
        fprintf(stderr, "xfer rank: model %lld of %lld: %s (%s)\n", (long long)p->k, (long long)p->M, p->model, what);
    fflush(stderr);
}

static void on_epoch(void *user, const xf_ft_epoch *e) {
    progress *pg = user;
    if (pg->tty)
        fprintf(stderr, "\r\033[Kxfer rank: fine-tune epoch %lld/%lld loss %.4f train %.1f%%", (long long)e->epoch,
                (long long)e->epochs, e->loss, e->train_acc);
}

/* ---- output ---- */
static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

static void print_table(FILE *f, const xf_rank_result *r, int md) {
    if (md) {
        fprintf(f, "| rank | model | score |");
        for (int j = 0; j < r->n_methods; j++) fprintf(f, " %s |", r->methods[j]);
        fprintf(f, " layers | seconds | features |\n|---:|---|---:|");
        for (int j = 0; j < r->n_methods; j++) fprintf(f, "---:|");
        fprintf(f, "---:|---:|---|\n");
    } else {
        fprintf(f, "%4s  %-24s %10s", "rank", "model", "score");
        for (int j = 0; j < r->n_methods; j++) fprintf(f, " %10.10s", r->methods[j]);
        fprintf(f, " %6s %9s  %s\n", "layers", "seconds", "features");
    }
    for (int64_t q = 0; q < r->n_models; q++) {
        const xf_rank_model *m = &r->models[r->order[q]];
        char rk[16], sc[32];
        snprintf(rk, sizeof rk, m->ok ? "%d" : "-", m->rank);
        if (m->ok) snprintf(sc, sizeof sc, "%.4f", m->score);
        else snprintf(sc, sizeof sc, "-");
        const char *feat = !m->ok ? m->error : m->cached ? "cached" : "extracted";
        if (md) {
            fprintf(f, "| %s | %s | %s |", rk, m->name, sc);
            for (int j = 0; j < r->n_methods; j++)
                if (isfinite(m->scores[j])) fprintf(f, " %.4f |", m->scores[j]);
                else fprintf(f, " - |");
            fprintf(f, " %lld | %.3f | %s |\n", (long long)m->layers, m->seconds_extract + m->seconds_score, feat);
        } else {
            fprintf(f, "%4s  %-24s %10s", rk, m->name, sc);
            for (int j = 0; j < r->n_methods; j++)
                if (isfinite(m->scores[j])) fprintf(f, " %10.4f", m->scores[j]);
                else fprintf(f, " %10s", "-");
            fprintf(f, " %6lld %9.3f  %s\n", (long long)m->layers, m->seconds_extract + m->seconds_score, feat);
        }
    }
}

static void print_json(const xf_rank_result *r) {
    for (int64_t q = 0; q < r->n_models; q++) {
        const xf_rank_model *m = &r->models[r->order[q]];
        printf("{\"model\": ");
        xf_cli_json_str(stdout, m->name);
        if (m->ok) printf(", \"rank\": %d, \"score\": ", m->rank);
        else printf(", \"rank\": null, \"score\": ");
        json_num(stdout, m->score);
        printf(", \"scores\": {");
        for (int j = 0; j < r->n_methods; j++) {
            printf(j ? ", \"%s\": " : "\"%s\": ", r->methods[j]);
            json_num(stdout, m->scores[j]);
        }
        printf("}, \"layers\": %lld, \"cached\": %s, \"seconds_extract\": %.6f, \"seconds_score\": %.6f",
               (long long)m->layers, m->cached ? "true" : "false", m->seconds_extract, m->seconds_score);
        if (!m->ok) {
            printf(", \"error\": ");
            xf_cli_json_str(stdout, m->error);
        }
        printf("}\n");
    }
}

static void print_csv(const xf_rank_result *r) {
    printf("rank,model,score");
    for (int j = 0; j < r->n_methods; j++) printf(",%s", r->methods[j]);
    printf(",layers,cached,seconds_extract,seconds_score,error\n");
    for (int64_t q = 0; q < r->n_models; q++) {
        const xf_rank_model *m = &r->models[r->order[q]];
        if (m->ok) printf("%d,", m->rank);
        else printf(",");
        xf_cli_csv_str(stdout, m->name);
        if (m->ok) printf(",%.10g", m->score);
        else printf(",");
        for (int j = 0; j < r->n_methods; j++)
            if (isfinite(m->scores[j])) printf(",%.10g", m->scores[j]);
            else printf(",");
        printf(",%lld,%d,%.6f,%.6f,", (long long)m->layers, m->cached, m->seconds_extract, m->seconds_score);
        xf_cli_csv_str(stdout, m->ok ? "" : m->error);
        printf("\n");
    }
}

static void print_halving(FILE *f, const xf_rank_result *r, const xf_halving_report *h, int md) {
    const char *b = md ? "- " : "";
    fprintf(f, "%sfine-tuned the top %lld by successive halving (%d round%s):\n", md ? "" : "", (long long)h->n, h->rounds,
            h->rounds == 1 ? "" : "s");
    for (int64_t i = 0; i < h->n; i++) {
        const xf_halving_model *m = &h->m[i];
        if (m->error[0])
            fprintf(f, "%s  %s: failed: %s\n", b, r->models[m->model].name, m->error);
        else
            fprintf(f, "%s  %s: %d round%s, last %lld epochs, validation %.2f%%, %.1f s\n", b, r->models[m->model].name,
                    m->rounds, m->rounds == 1 ? "" : "s", (long long)m->epochs, m->val_acc, m->seconds);
    }
    if (h->pick < 0) {
        fprintf(f, "%sno model could be fine-tuned\n", b);
        return;
    }
    fprintf(f, "%spick: %s, validation %.2f%%", b, r->models[h->pick].name, h->pick_val_acc);
    if (h->pick_test_acc >= 0) fprintf(f, ", test %.2f%%", h->pick_test_acc);
    fprintf(f, "\n%stime: ranking %.1f s + fine-tuning %.1f s = %.1f s; fine-tuning the whole bank: about %.1f s (estimated)\n",
            b, h->seconds_rank, h->seconds, h->seconds_rank + h->seconds, h->seconds_whole_bank);
}

static int write_report(xf_ctx_t *ctx, const char *path, const char *bank, const char *data, const xf_rank_result *r,
                        const xf_halving_report *h) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        XF_ERR(ctx, XF_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "# xfer rank\n\n- bank: `%s` (%lld models)\n- data: `%s`; probe set: %lld images, %lld classes\n",
            bank, (long long)r->n_models, data, (long long)r->probe_n, (long long)r->classes);
    fprintf(f, "- score: %s\n- features: %lld extracted, %lld from the cache%s%s%s; %lld failed\n- ranking time: %.2f s\n\n",
            r->criterion, (long long)r->extracted, (long long)r->cache_hits, r->cache_dir[0] ? " (`" : "", r->cache_dir,
            r->cache_dir[0] ? "`)" : "", (long long)r->failed, r->seconds);
    print_table(f, r, 1);
    if (h) {
        fprintf(f, "\n## Fine-tuning the top of the ranking\n\n");
        print_halving(f, r, h, 1);
    }
    int ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        XF_ERR(ctx, XF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int xf_cli_rank(int argc, char **argv) {
    const char *bank_dir = NULL, *data = NULL, *test_data = NULL, *report = NULL, *cache = NULL, *mode = NULL;
    int64_t threads = 0, top = 0, epochs = 10;
    double lr = 0.01;
    int fmt = 0;
    xf_rank_opts o;
    xf_rank_opts_default(&o);
    xf_data_opts dopt;
    xf_data_opts_default(&dopt);
    int npar = 0;
    xf_param params[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json") || !strcmp(a, "--csv")) {
            fmt = a[2] == 'j' ? 1 : 2;
            continue;
        }
        if (!strcmp(a, "--capacity")) { o.capacity = 1; continue; }
        if (!strcmp(a, "--no-cache")) { o.no_cache = 1; continue; }
        if (!strcmp(a, "--mean") || !strcmp(a, "--std"))
            return xf_cli_usage(CMD, "%s: each model's normalisation comes from bank.json ('xfer bank init --mean/--std')", a);
        int d = xf_cli_data_opt(CMD, argc, argv, &i, &dopt);
        if (d < 0) return 2;
        if (d > 0) continue;
        if (i + 1 >= argc) return xf_cli_usage(CMD, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--bank")) bank_dir = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--test-data")) test_data = v;
        else if (!strcmp(a, "--report")) report = v;
        else if (!strcmp(a, "--cache")) cache = v;
        else if (!strcmp(a, "--method")) o.methods = v;
        else if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--probe")) {
            if (xf_cli_parse_i64(v, 0, INT64_MAX / 2, &o.probe)) return xf_cli_usage(CMD, "--probe must be a count >= 0, got '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            int64_t s;
            if (xf_cli_parse_i64(v, 0, INT64_MAX, &s)) return xf_cli_usage(CMD, "--seed must be an integer >= 0, got '%s'", v);
            o.seed = (uint64_t)s;
        } else if (!strcmp(a, "--threads")) {
            if (xf_cli_parse_i64(v, 0, 4096, &threads)) return xf_cli_usage(CMD, "--threads must be an integer >= 0, got '%s'", v);
        } else if (!strcmp(a, "--finetune-top")) {
            if (xf_cli_parse_i64(v, 1, 1 << 20, &top)) return xf_cli_usage(CMD, "--finetune-top must be an integer >= 1, got '%s'", v);
        } else if (!strcmp(a, "--epochs")) {
            if (xf_cli_parse_i64(v, 1, 100000, &epochs)) return xf_cli_usage(CMD, "--epochs must be an integer >= 1, got '%s'", v);
        } else if (!strcmp(a, "--lr")) {
            if (xf_cli_parse_f64(v, &lr) || !(lr > 0)) return xf_cli_usage(CMD, "--lr must be a positive number, got '%s'", v);
        } else if (!strcmp(a, "--param")) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || npar >= 64) return xf_cli_usage(CMD, "--param takes NAME.KEY=VALUE, got '%s'", v);
            params[npar].key = v; /* "key=value": split below */
            params[npar++].value = eq + 1;
        } else
            return xf_cli_usage(CMD, "unknown option '%s'", a);
    }
    if (!bank_dir) return xf_cli_usage(CMD, "--bank is required");
    if (!data) return xf_cli_usage(CMD, "--data is required");
    if (test_data && !top) return xf_cli_usage(CMD, "--test-data is only used with --finetune-top");
    xf_ft_mode ftmode = XF_FT_FULL;
    if (mode && xf_ft_mode_parse(mode, &ftmode)) return xf_cli_usage(CMD, "--mode: '%s' is not full, head or adapters", mode);
    char keys[64][128];
    for (int k = 0; k < npar; k++) {
        size_t l = (size_t)(params[k].value - 1 - params[k].key);
        if (l >= sizeof keys[k]) return xf_cli_usage(CMD, "--param: key too long");
        memcpy(keys[k], params[k].key, l);
        keys[k][l] = 0;
        params[k].key = keys[k];
    }
    xf_params P = {params, npar};
    o.params = &P;
    o.cache_dir = cache;

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(CMD, NULL);
    if (threads > 0) xf_ctx_set_threads(ctx, (int)threads);
    progress pg = {isatty(2)};
    if (!pg.tty) xf_ctx_set_progress(ctx, NULL, NULL); /* per-model lines only */
    o.on_model = on_model;
    o.user = &pg;
    int rc = 1;
    xf_bank_t *bank = NULL;
    xf_dataset ds, ts;
    memset(&ds, 0, sizeof ds);
    memset(&ts, 0, sizeof ts);
    xf_rank_result *r = NULL;
    xf_halving_report h;
    memset(&h, 0, sizeof h);
    int have_h = 0;
    if (xf_bank_open(ctx, bank_dir, &bank) != XF_OK) goto fail;
    if (xf_bank_count(bank) < 1) {
        XF_ERR(ctx, XF_ERR_INVALID, "%s: the bank has no models", bank_dir);
        goto fail;
    }
    if (xf_data_open(ctx, data, &dopt, &ds) != XF_OK) goto fail;
    if (xf_rank(ctx, bank, &ds, &o, &r) != XF_OK) goto fail;
    fprintf(stderr, "xfer rank: %lld models, probe %lld images of %lld classes; features: %lld extracted, %lld from the cache%s%s\n",
            (long long)r->n_models, (long long)r->probe_n, (long long)r->classes, (long long)r->extracted,
            (long long)r->cache_hits, r->cache_dir[0] ? " " : "", r->cache_dir);
    if (fmt == 1) print_json(r);
    else if (fmt == 2) print_csv(r);
    else {
        printf("score: %s\n", r->criterion);
        print_table(stdout, r, 0);
    }
    for (int64_t i = 0; i < r->n_models; i++)
        if (!r->models[i].ok) fprintf(stderr, "xfer rank: %s not ranked: %s\n", r->models[i].name, r->models[i].error);
    if (top) {
        xf_halving_opts ho;
        xf_halving_opts_default(&ho);
        ho.top = top;
        ho.ft.mode = ftmode;
        ho.ft.epochs = epochs;
        ho.ft.lrs[0] = lr;
        ho.ft.n_lrs = 1;
        ho.ft.on_epoch = pg.tty ? on_epoch : NULL;
        ho.ft.user = &pg;
        char corpus_task[300];
        const char *tsplit, *tspec = xf_cli_test_spec(data, test_data, corpus_task, sizeof corpus_task, &tsplit);
        if (tspec) {
            xf_data_opts topt = dopt;
            topt.split = tsplit;
            if (xf_data_open(ctx, tspec, &topt, &ts) != XF_OK) goto fail;
        }
        if (xf_rank_halving(ctx, bank, r, &ds, tspec ? &ts : NULL, &ho, &h) != XF_OK) goto fail;
        have_h = 1;
        if (pg.tty) fputc('\n', stderr);
        if (fmt == 1) {
            printf("{\"finetune\": {\"pick\": ");
            if (h.pick >= 0) xf_cli_json_str(stdout, r->models[h.pick].name);
            else printf("null");
            printf(", \"val_acc\": ");
            json_num(stdout, h.pick >= 0 ? h.pick_val_acc : NAN);
            printf(", \"test_acc\": ");
            json_num(stdout, h.pick_test_acc >= 0 ? h.pick_test_acc : NAN);
            printf(", \"rounds\": %d, \"seconds_rank\": %.3f, \"seconds_finetune\": %.3f, \"seconds_whole_bank\": %.3f}}\n",
                   h.rounds, h.seconds_rank, h.seconds, h.seconds_whole_bank);
        } else
            print_halving(fmt == 2 ? stderr : stdout, r, &h, 0);
        if (h.pick < 0) {
            XF_ERR(ctx, XF_ERR_INVALID, "no model of the top %lld could be fine-tuned", (long long)top);
            goto fail;
        }
    }
    if (report && write_report(ctx, report, bank_dir, data, r, have_h ? &h : NULL)) goto fail;
    rc = r->failed ? 1 : 0;
    goto done;
fail:
    xf_cli_fail(CMD, ctx);
    rc = 1;
done:
    xf_halving_report_free(ctx, &h);
    xf_rank_result_free(ctx, r);
    xf_dataset_free(ctx, &ds);
    xf_dataset_free(ctx, &ts);
    xf_bank_free(bank);
    xf_ctx_free(ctx);
    return rc;
}
