/* Checking a ranking by fine-tuning its top (include/xfer/select.h: xf_rank_halving).
 *
 * Successive halving (Jamieson and Talwalkar 2016; Li et al. 2018, Hyperband's inner
 * loop): the K best-ranked models are fine-tuned with a short budget, the better half by
 * validation accuracy continues with twice the budget, until one model is left; that one
 * finishes with the full budget. With R = ceil(log2 K) + 1 rounds the first budget is
 * full / 2^(R-1) epochs (at least 1): round r trains K / 2^r models for full / 2^(R-1-r)
 * epochs, about K / 2^(R-1) full runs per round, so about (R - 1) + 1 full runs in all
 * against K for fine-tuning all K.
 *
 * Validation: one class-stratified split of the training set (xf_ft_split, val_fraction
 * held out), the same for every model; each run is xf_finetune with one learning rate (no
 * inner sweep) on the rest, scored on the held-out part. The pick is then evaluated on the
 * test set with the network its last run trained. The whole-bank estimate: each ranked
 * model's fine-tuning cost per training image-epoch, measured where it was fine-tuned, else
 * its measured extraction cost per image times the mean ratio (fine-tune / extract) of the
 * models that were, times the training images and the full budget. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "xfer/select.h"

void xf_halving_opts_default(xf_halving_opts *o) {
    memset(o, 0, sizeof *o);
    o->top = 2;
    o->val_fraction = 0.2;
    xf_ft_opts_default(&o->ft);
    o->ft.n_lrs = 1;
    o->ft.lrs[0] = 0.01;
    o->batch = 32;
}

void xf_halving_report_free(xf_ctx_t *ctx, xf_halving_report *rep) {
    xf_free(ctx, rep->m);
    rep->m = NULL;
    rep->n = 0;
}

/* An xf_imageset of ds's images converted for model m. *buf: xf_free. */
static xf_status imageset_for(xf_ctx_t *ctx, const xf_bank_model *m, const xf_dataset *ds, int64_t K, float **buf,
                              xf_imageset *set) {
    xf_status st = xf_select_images_for(ctx, m, ds->x, ds->n, ds->c, ds->h, ds->w, buf);
    if (st) return st;
    xf_imageset s = {*buf, ds->y, ds->n, m->channels, m->height, m->width, K};
    *set = s;
    return XF_OK;
}

/* One fine-tuning run of ranked model q with `epochs`; fills hm; *tuned (optional) keeps
 * the trained network. */
static xf_status run_one(xf_ctx_t *ctx, const xf_bank_t *bank, const xf_rank_result *r, const xf_dataset *trn,
                         const xf_dataset *val, int64_t K, const xf_halving_opts *o, int64_t epochs, xf_halving_model *hm,
                         xf_graph **tuned) {
    const xf_rank_model *rm = &r->models[hm->model];
    const xf_bank_model *m = xf_bank_model_at(bank, rm->bank_index);
    xf_graph *g = NULL;
    float *xt = NULL, *xv = NULL;
    xf_imageset ts, vs;
    xf_status st = xf_bank_load(ctx, bank, rm->bank_index, 0, &g, NULL, NULL);
    if (!st) st = imageset_for(ctx, m, trn, K, &xt, &ts);
    if (!st) st = imageset_for(ctx, m, val, K, &xv, &vs);
    xf_ft_report rep;
    memset(&rep, 0, sizeof rep);
    if (!st) {
        xf_ft_opts ft = o->ft;
        ft.epochs = epochs;
        ft.steps = 0;
        ft.n_lrs = 1;
        st = xf_finetune(ctx, g, &ts, &vs, &ft, tuned, &rep);
    }
    xf_free(ctx, xt);
    xf_free(ctx, xv);
    xf_graph_free(g);
    hm->rounds++;
    hm->epochs = epochs;
    if (st) {
        snprintf(hm->error, sizeof hm->error, "%s", xf_errmsg(ctx));
        hm->val_acc = -1;
        return st;
    }
    hm->val_acc = rep.test_acc;
    hm->seconds += rep.seconds;
    hm->seconds_per_image_epoch = rep.seconds / ((double)trn->n * (double)epochs);
    return XF_OK;
}

xf_status xf_rank_halving(xf_ctx_t *ctx, const xf_bank_t *bank, const xf_rank_result *r, const xf_dataset *train,
                          const xf_dataset *test, const xf_halving_opts *o, xf_halving_report *rep) {
    memset(rep, 0, sizeof *rep);
    rep->pick = -1;
    rep->pick_test_acc = -1;
    if (!o || o->top < 1) return XF_ERR(ctx, XF_ERR_INVALID, "fine-tune top: K must be >= 1");
    if (o->ft.epochs < 1) return XF_ERR(ctx, XF_ERR_INVALID, "fine-tune top: the full budget must be >= 1 epoch");
    if (!(o->val_fraction > 0 && o->val_fraction < 1))
        return XF_ERR(ctx, XF_ERR_INVALID, "fine-tune top: validation fraction %g not in (0, 1)", o->val_fraction);
    if (!train || train->n < 4) return XF_ERR(ctx, XF_ERR_INVALID, "fine-tune top: too few training images");
    double t0 = xf_now();
    int64_t ranked = 0;
    for (int64_t i = 0; i < r->n_models; i++) ranked += r->models[i].ok;
    int64_t n = o->top < ranked ? o->top : ranked;
    if (n < 1) return XF_ERR(ctx, XF_ERR_INVALID, "fine-tune top: no ranked model");
    int64_t K = train->k;
    if (test && test->k > K) K = test->k;
    /* the split, the same for every model */
    int64_t *vi = xf_malloc(ctx, sizeof *vi * (size_t)train->n), *ti = xf_malloc(ctx, sizeof *ti * (size_t)train->n);
    int64_t nv = 0, nt = 0;
    xf_dataset trn, val;
    memset(&trn, 0, sizeof trn);
    memset(&val, 0, sizeof val);
    xf_status st = vi && ti ? XF_OK : XF_ERR_NOMEM;
    uint64_t seed = o->ft.seed ? o->ft.seed : xf_ctx_seed(ctx);
    if (!st) st = xf_ft_split(ctx, train->y, train->n, train->k, o->val_fraction, seed, vi, &nv, ti, &nt);
    if (!st && (nv < 1 || nt < 2)) st = XF_ERR(ctx, XF_ERR_INVALID, "fine-tune top: %lld training images leave no validation split", (long long)train->n);
    if (!st) st = xf_dataset_subset(ctx, train, ti, nt, &trn);
    if (!st) st = xf_dataset_subset(ctx, train, vi, nv, &val);
    xf_free(ctx, vi);
    xf_free(ctx, ti);
    if (!st && !(rep->m = xf_calloc(ctx, (size_t)n, sizeof *rep->m))) st = XF_ERR_NOMEM;
    int64_t *alive = st ? NULL : xf_malloc(ctx, sizeof *alive * (size_t)n);
    if (!st && !alive) st = XF_ERR_NOMEM;
    if (!st) {
        rep->n = n;
        for (int64_t q = 0, k = 0; q < r->n_models && k < n; q++)
            if (r->models[r->order[q]].ok) rep->m[k].model = r->order[q], alive[k] = k, k++;
    }
    /* rounds: R = ceil(log2 n) + 1, budgets first * 2^t, the survivor finishes at full */
    int R = 1;
    while (((int64_t)1 << (R - 1)) < n) R++;
    const int64_t full = o->ft.epochs;
    int64_t budget = o->first_epochs > 0 ? o->first_epochs : full >> (R - 1);
    if (budget < 1) budget = 1;
    if (budget > full) budget = full;
    int64_t na = n;
    xf_graph *tuned = NULL;
    while (!st && na > 1) {
        rep->rounds++;
        for (int64_t a = 0; a < na; a++) {
            xf_halving_model *hm = &rep->m[alive[a]];
            xf_log(ctx, XF_LOG_INFO, "successive halving: round %d, %s, %lld epochs", rep->rounds, r->models[hm->model].name,
                   (long long)budget);
            if (run_one(ctx, bank, r, &trn, &val, K, o, budget, hm, NULL) == XF_ERR_NOMEM) st = XF_ERR_NOMEM;
        }
        /* keep the better half (ties: ranking order); failed runs drop out */
        int64_t keep = (na + 1) / 2, kept = 0;
        for (int64_t s = 0; s < keep; s++) {
            int64_t best = -1;
            for (int64_t a = s; a < na; a++)
                if (!rep->m[alive[a]].error[0] && (best < 0 || rep->m[alive[a]].val_acc > rep->m[alive[best]].val_acc)) best = a;
            if (best < 0) break;
            int64_t t = alive[s];
            alive[s] = alive[best];
            alive[best] = t;
            kept++;
        }
        /* restore ranking order among the kept */
        for (int64_t a = 1; a < kept; a++)
            for (int64_t b = a; b > 0 && alive[b] < alive[b - 1]; b--) {
                int64_t t = alive[b];
                alive[b] = alive[b - 1];
                alive[b - 1] = t;
            }
        na = kept;
        budget = budget * 2 < full ? budget * 2 : full;
    }
    if (!st && na == 1) {
        /* the survivor trains with the full budget, keeping the network for the test */
        xf_halving_model *hm = &rep->m[alive[0]];
        rep->rounds++;
        xf_status rs = run_one(ctx, bank, r, &trn, &val, K, o, full, hm, &tuned);
        if (rs == XF_ERR_NOMEM) st = rs;
        else if (!rs) {
            rep->pick = hm->model;
            rep->pick_val_acc = hm->val_acc;
        }
    }
    if (!st && rep->pick >= 0 && test && test->n > 0) {
        const xf_bank_model *m = xf_bank_model_at(bank, r->models[rep->pick].bank_index);
        float *xs = NULL;
        xf_imageset ts;
        st = imageset_for(ctx, m, test, K, &xs, &ts);
        if (!st) st = xf_evaluate(ctx, tuned, &ts, o->ft.eval_batch > 0 ? o->ft.eval_batch : 128, &rep->pick_test_acc);
        xf_free(ctx, xs);
    }
    xf_graph_free(tuned);
    /* the whole bank with the full budget, from the measured costs */
    if (!st) {
        double ratio = 0;
        int nr = 0;
        for (int64_t k = 0; k < rep->n; k++) {
            const xf_rank_model *rm = &r->models[rep->m[k].model];
            if (!rep->m[k].error[0] && rep->m[k].rounds && rm->seconds_extract > 0 && rm->N > 0) {
                ratio += rep->m[k].seconds_per_image_epoch / (rm->seconds_extract / (double)rm->N);
                nr++;
            }
        }
        ratio = nr ? ratio / nr : 0;
        for (int64_t i = 0; i < r->n_models; i++) {
            const xf_rank_model *rm = &r->models[i];
            if (!rm->ok) continue;
            double c = -1;
            for (int64_t k = 0; k < rep->n; k++)
                if (rep->m[k].model == i && !rep->m[k].error[0] && rep->m[k].rounds) c = rep->m[k].seconds_per_image_epoch;
            if (c < 0 && rm->N > 0) c = ratio * rm->seconds_extract / (double)rm->N;
            if (c > 0) rep->seconds_whole_bank += c * (double)nt * (double)full;
        }
        rep->seconds_rank = r->seconds;
    }
    rep->seconds = xf_now() - t0;
    xf_free(ctx, alive);
    xf_dataset_free(ctx, &trn);
    xf_dataset_free(ctx, &val);
    if (st) xf_halving_report_free(ctx, rep);
    return st;
}
