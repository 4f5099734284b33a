/* xf_finetune: the fine-tuning protocol (include/xfer/transfer.h, docs/FINETUNE.md).
 *
 * The VTAB-1k protocol of Puigcerver et al. (App. E: SGD momentum 0.9, no augmentation,
 * hyper-parameters chosen on an 800/200 split then retrained on all 1,000 images) at CPU
 * scale: a learning-rate sweep on a class-stratified split, a retrain with the best, a
 * test. Every run starts from the pretrained weights and the same seeded head, so runs
 * differ only in their learning rate; the split, the head and the shuffles all follow
 * from one seed (the head from seed, the split from seed ^ SPLIT_SALT, the shuffles of
 * run r from seed + r).
 *
 * FULL and ADAPTERS run xf_train on the prepared graph (all buffers planned once per
 * run; nothing is allocated per step). HEAD never runs the frozen backbone during
 * training: its output for an image does not change (frozen weights, BatchNorm on running
 * statistics, no augmentation, Dropout off), so the features of every training and test
 * image are computed once, and a graph holding only the head trains on them with the
 * same batches, schedule and optimizer. The trained head is copied back into the full
 * network. Memory plan: the subsets of the sweep (train part, validation part) are
 * gathered once into two buffers; HEAD keeps N x D features instead. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "xfer/linalg.h"
#include "xfer/transfer.h"

#define SPLIT_SALT 0x5eed5b1175ULL

void xf_ft_opts_default(xf_ft_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = XF_FT_FULL;
    o->lrs[0] = 0.1;
    o->lrs[1] = 0.03;
    o->lrs[2] = 0.01;
    o->n_lrs = 3;
    o->epochs = 10;
    o->batch = 64;
    o->momentum = 0.9;
    o->weight_decay = 0.0;
    o->val_fraction = 0.2;
    o->eval_batch = 128;
}

xf_status xf_ft_split(xf_ctx_t *ctx, const int32_t *y, int64_t N, int64_t K, double frac, uint64_t seed, int64_t *val,
                      int64_t *nv, int64_t *trn, int64_t *nt) {
    if (!y || !val || !trn || !nv || !nt || N < 1 || K < 1 || !(frac >= 0 && frac < 1))
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_ft_split: bad arguments (N %lld, K %lld, fraction %g)", (long long)N,
                      (long long)K, frac);
    int64_t *idx = xf_malloc(ctx, (size_t)N * sizeof *idx);
    unsigned char *is_val = xf_calloc(ctx, (size_t)N, 1);
    if (!idx || !is_val) {
        xf_free(ctx, idx);
        xf_free(ctx, is_val);
        return XF_ERR_NOMEM;
    }
    xf_rng r;
    xf_rng_seed(&r, seed);
    for (int64_t c = 0; c < K; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < N; i++)
            if (y[i] == c) idx[m++] = i;
        if (!m) continue;
        xf_rng_shuffle_i64(&r, idx, m);
        int64_t take = (int64_t)floor(frac * (double)m + 0.5);
        for (int64_t i = 0; i < take; i++) is_val[idx[i]] = 1;
    }
    *nv = *nt = 0;
    for (int64_t i = 0; i < N; i++) {
        if (is_val[i]) val[(*nv)++] = i;
        else trn[(*nt)++] = i;
    }
    xf_free(ctx, idx);
    xf_free(ctx, is_val);
    return XF_OK;
}

/* rows idx of a set (per floats each) into x / y */
static void gather(const xf_imageset *s, const int64_t *idx, int64_t m, int64_t per, float *x, int32_t *y) {
    for (int64_t i = 0; i < m; i++) {
        memcpy(x + i * per, s->x + idx[i] * per, (size_t)per * sizeof *x);
        y[i] = s->y[idx[i]];
    }
}

typedef struct run_state {
    const xf_ft_opts *o;
    xf_ft_epoch e;
    double t0;
} run_state;

static void epoch_cb(void *user, int64_t epoch, int64_t epochs, double loss, double acc) {
    run_state *rs = user;
    if (!rs->o->on_epoch) return;
    rs->e.epoch = epoch;
    rs->e.epochs = epochs;
    rs->e.loss = loss;
    rs->e.train_acc = acc;
    rs->e.seconds = xf_now() - rs->t0;
    rs->o->on_epoch(rs->o->user, &rs->e);
}

/* The head alone: input (B, D, 1, 1) -> Flatten -> Gemm with the weights of head. Its
 * values, in the order they are added: features, flat, head.weight, head.bias, logits. */
enum { HG_WEIGHT = 2, HG_BIAS = 3 };
static xf_status head_graph(xf_ctx_t *ctx, const xf_graph *g, const xf_ft_head *h, xf_graph **out) {
    xf_graph *hg;
    xf_status st = xf_graph_create(ctx, &hg);
    if (st) return st;
    int x, f, w, b, lo;
    int64_t xs[4] = {-1, h->D, 1, 1}, ws[2] = {h->C, h->D}, bs[1] = {h->C}, fs[2] = {-1, h->D}, ls[2] = {-1, h->C};
    xf_node_attr fa, ga;
    xf_node_attr_default(XF_OP_FLATTEN, &fa);
    fa.axis = 1;
    xf_node_attr_default(XF_OP_GEMM, &ga);
    ga.transB = 1;
    if ((st = xf_graph_add_value(hg, "features", 4, xs, NULL, &x)) || (st = xf_graph_add_value(hg, "flat", 2, fs, NULL, &f)) ||
        (st = xf_graph_add_value(hg, "head.weight", 2, ws, g->values[h->weight].data, &w)) ||
        (st = xf_graph_add_value(hg, "head.bias", 1, bs, g->values[h->bias].data, &b)) ||
        (st = xf_graph_add_value(hg, "logits", 2, ls, NULL, &lo)) ||
        (st = xf_graph_add_node(hg, XF_OP_FLATTEN, "flatten", &x, 1, &f, 1, &fa)))
        goto fail;
    int in[3] = {f, w, b};
    if ((st = xf_graph_add_node(hg, XF_OP_GEMM, "head", in, 3, &lo, 1, &ga))) goto fail;
    hg->input = x;
    if (!(hg->outputs = xf_malloc(ctx, sizeof *hg->outputs))) {
        st = XF_ERR_NOMEM;
        goto fail;
    }
    hg->outputs[0] = lo;
    hg->n_outputs = 1;
    if ((st = xf_graph_infer_shapes(hg))) goto fail;
    *out = hg;
    return XF_OK;
fail:
    xf_graph_free(hg);
    return st;
}

/* One training run of the prepared graph g (HEAD: of its head graph hg over features)
 * at learning rate lr on set tr. */
static xf_status train_run(xf_ctx_t *ctx, const xf_ft_opts *o, xf_graph *g, const xf_ft_head *h, xf_graph *hg,
                           const xf_imageset *tr, double lr, uint64_t seed, run_state *rs, int64_t *steps) {
    xf_train_opts to;
    xf_train_opts_default(&to);
    to.optim = XF_OPT_SGD;
    to.lr = lr;
    to.momentum = o->momentum;
    to.weight_decay = o->weight_decay;
    to.sched = XF_SCHED_COSINE;
    to.epochs = o->epochs;
    to.steps = o->steps;
    to.batch = o->batch < tr->N ? o->batch : tr->N;
    to.seed = seed ? seed : 1;
    to.on_epoch = epoch_cb;
    to.user = rs;
    xf_train_report tr_rep;
    xf_status st = xf_train(ctx, hg ? hg : g, tr, NULL, &to, &tr_rep);
    if (st) return st;
    *steps += tr_rep.steps;
    if (hg) { /* the trained head back into the network */
        memcpy(g->values[h->weight].data, hg->values[HG_WEIGHT].data, (size_t)(h->C * h->D) * sizeof(float));
        memcpy(g->values[h->bias].data, hg->values[HG_BIAS].data, (size_t)h->C * sizeof(float));
    }
    return XF_OK;
}

/* The sweep: run r of the learning rates, on its own graph (and head graph in HEAD
 * mode), trained on tr and scored on va (pixels, or features in HEAD mode). */
typedef struct sweep_state {
    const xf_graph *model;
    const xf_ft_opts *o;
    int64_t K;
    uint64_t seed;
    const xf_imageset *tr, *va;
    double t0;
    double val_acc[XF_FT_MAX_LRS];
    int64_t steps[XF_FT_MAX_LRS];
} sweep_state;

static xf_status sweep_run(xf_ctx_t *ctx, sweep_state *sw, int r) {
    const xf_ft_opts *o = sw->o;
    xf_graph *g = NULL, *hg = NULL;
    xf_ft_head h;
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.o = o;
    rs.t0 = sw->t0;
    rs.e.runs = o->n_lrs + 1;
    rs.e.run = r + 1;
    rs.e.lr = o->lrs[r];
    sw->steps[r] = 0;
    /* every run starts from the pretrained weights and the same head */
    xf_status st = xf_ft_graph_create(ctx, sw->model, sw->K, o->mode, sw->seed, &g, &h);
    if (!st && o->mode == XF_FT_HEAD) st = head_graph(ctx, g, &h, &hg);
    if (!st) st = train_run(ctx, o, g, &h, hg, sw->tr, o->lrs[r], sw->seed + 1 + (uint64_t)r, &rs, &sw->steps[r]);
    if (!st) st = xf_evaluate(ctx, hg ? hg : g, sw->va, o->eval_batch, &sw->val_acc[r]);
    if (!st) xf_log(ctx, XF_LOG_INFO, "lr %g: validation accuracy %.2f%%", o->lrs[r], sw->val_acc[r]);
    xf_graph_free(hg);
    xf_graph_free(g);
    return st;
}

/* A run on a thread of its own, with a context of its own (libc allocation; its error
 * is copied to the caller's context after the join). */
typedef struct sweep_worker {
    sweep_state *sw;
    int r, threads;
    uint64_t ctx_seed;
    xf_status st;
    char err[512];
    pthread_t tid;
} sweep_worker;

static void *sweep_thread(void *arg) {
    sweep_worker *w = arg;
    xf_ctx_t *ctx;
    w->st = xf_ctx_create(&ctx);
    if (w->st) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return NULL;
    }
    xf_ctx_set_threads(ctx, w->threads);
    xf_ctx_set_seed(ctx, w->ctx_seed);
    w->st = sweep_run(ctx, w->sw, w->r);
    if (w->st) snprintf(w->err, sizeof w->err, "%s", xf_errmsg(ctx));
    xf_ctx_free(ctx);
    return NULL;
}

/* Runs every learning rate of the sweep. Small networks use two cores poorly inside one
 * run (each op is too short to split), while the runs are independent: with T threads
 * and R runs, waves of min(T, R) runs go side by side, one thread each, and the runs
 * left over (fewer than 2) run alone with all T threads. o->serial_sweep turns it off. */
static xf_status sweep_all(xf_ctx_t *ctx, sweep_state *sw) {
    const xf_ft_opts *o = sw->o;
    int T = xf_ctx_threads(ctx), R = o->n_lrs, r = 0;
    xf_status st = XF_OK;
    int blas = xf_la_get_threads();
    if (T >= 2 && !o->serial_sweep && R >= 2) {
        /* the executor keeps OpenBLAS at one thread around a graph; fix it there first so
         * concurrent runs never touch the process-wide setting */
        xf_la_set_threads(1);
        while (R - r >= 2 && !st) {
            int W = R - r < T ? R - r : T, started = 0;
            sweep_worker w[XF_FT_MAX_LRS];
            for (int i = 0; i < W; i++) {
                memset(&w[i], 0, sizeof w[i]);
                w[i].sw = sw;
                w[i].r = r + i;
                w[i].threads = T / W > 0 ? T / W : 1;
                w[i].ctx_seed = xf_ctx_seed(ctx);
                if (pthread_create(&w[i].tid, NULL, sweep_thread, &w[i]) != 0) {
                    st = XF_ERR(ctx, XF_ERR_INTERNAL, "cannot start a thread for the learning-rate sweep");
                    break;
                }
                started++;
            }
            for (int i = 0; i < started; i++) {
                pthread_join(w[i].tid, NULL);
                if (w[i].st && !st) {
                    st = w[i].st == XF_ERR_NOMEM ? XF_ERR_NOMEM : XF_ERR(ctx, w[i].st, "%s", w[i].err);
                    if (w[i].st == XF_ERR_NOMEM) XF_ERR(ctx, XF_ERR_NOMEM, "%s", w[i].err);
                }
            }
            r += W;
        }
        xf_la_set_threads(blas);
    }
    for (; r < R && !st; r++) st = sweep_run(ctx, sw, r);
    return st;
}

/* training images a run of n images processes (for images_per_second) */
static int64_t run_images(const xf_ft_opts *o, int64_t n) {
    return o->steps > 0 ? o->steps * (o->batch < n ? o->batch : n) : o->epochs * n;
}

static int64_t max_label(const xf_imageset *s) {
    int64_t k = s->K;
    for (int64_t i = 0; i < s->N; i++) k = s->y[i] + 1 > k ? s->y[i] + 1 : k;
    return k;
}

xf_status xf_finetune(xf_ctx_t *ctx, const xf_graph *model, const xf_imageset *train, const xf_imageset *test,
                      const xf_ft_opts *o, xf_graph **tuned, xf_ft_report *rep) {
    if (tuned) *tuned = NULL;
    if (!model || !train || !o) return XF_ERR(ctx, XF_ERR_INVALID, "xf_finetune: model, training set or options are NULL");
    if (o->n_lrs < 1 || o->n_lrs > XF_FT_MAX_LRS)
        return XF_ERR(ctx, XF_ERR_INVALID, "give 1 to %d learning rates, got %d", XF_FT_MAX_LRS, o->n_lrs);
    for (int i = 0; i < o->n_lrs; i++)
        if (!(o->lrs[i] > 0) || !isfinite(o->lrs[i]))
            return XF_ERR(ctx, XF_ERR_INVALID, "learning rate %g must be a positive number", o->lrs[i]);
    if (o->epochs < 1 && o->steps < 1) return XF_ERR(ctx, XF_ERR_INVALID, "epochs must be >= 1 (or steps >= 1)");
    if (o->batch < 2) return XF_ERR(ctx, XF_ERR_INVALID, "batch %lld must be >= 2 (BatchNorm needs 2)", (long long)o->batch);
    if (!(o->momentum >= 0 && o->momentum < 1) || !(o->weight_decay >= 0))
        return XF_ERR(ctx, XF_ERR_INVALID, "momentum %g must lie in [0, 1) and weight decay %g be >= 0", o->momentum,
                      o->weight_decay);
    if (o->n_lrs > 1 && !(o->val_fraction > 0 && o->val_fraction < 1))
        return XF_ERR(ctx, XF_ERR_INVALID, "validation fraction %g must lie in (0, 1)", o->val_fraction);
    if (!train->x || !train->y || train->N < 2) return XF_ERR(ctx, XF_ERR_INVALID, "the training set needs at least 2 images");
    for (int64_t i = 0; i < train->N; i++)
        if (train->y[i] < 0)
            return XF_ERR(ctx, XF_ERR_INVALID, "training label %d of image %lld is negative", (int)train->y[i], (long long)i);
    if (test && test->N > 0 && (!test->x || !test->y))
        return XF_ERR(ctx, XF_ERR_INVALID, "the test set has no images or no labels");
    if (test && test->N > 0)
        for (int64_t i = 0; i < test->N; i++)
            if (test->y[i] < 0)
                return XF_ERR(ctx, XF_ERR_INVALID, "test label %d of image %lld is negative", (int)test->y[i], (long long)i);
    if (test && test->N > 0 && (test->C != train->C || test->H != train->H || test->W != train->W))
        return XF_ERR(ctx, XF_ERR_SHAPE, "test images are %lld x %lld x %lld, training images %lld x %lld x %lld",
                      (long long)test->C, (long long)test->H, (long long)test->W, (long long)train->C, (long long)train->H,
                      (long long)train->W);
    int64_t K = max_label(train), Kt = test && test->N > 0 ? max_label(test) : 0;
    if (Kt > K) K = Kt;
    if (K > XF_FT_MAX_CLASSES)
        return XF_ERR(ctx, XF_ERR_INVALID, "labels reach %lld: more than %d classes for a head", (long long)(K - 1),
                      XF_FT_MAX_CLASSES);
    /* a single class leaves nothing to learn */
    int64_t present = 0;
    {
        unsigned char *seen = xf_calloc(ctx, (size_t)K, 1);
        if (!seen) return XF_ERR_NOMEM;
        for (int64_t i = 0; i < train->N; i++) seen[train->y[i]] = 1;
        for (int64_t c = 0; c < K; c++) present += seen[c];
        int64_t unseen = 0;
        for (int64_t i = 0; test && i < test->N; i++) unseen += !seen[test->y[i]];
        xf_free(ctx, seen);
        if (present < 2)
            return XF_ERR(ctx, XF_ERR_INVALID, "every training image has the same label: nothing to fine-tune (need 2 classes)");
        if (rep) {
            memset(rep, 0, sizeof *rep);
            rep->test_unseen = unseen;
        }
        if (unseen)
            xf_log(ctx, XF_LOG_WARN, "%lld test images belong to classes no training image has: they count as errors",
                   (long long)unseen);
    }
    uint64_t seed = o->seed ? o->seed : xf_ctx_seed(ctx);
    double t0 = xf_now();
    int64_t per = train->C * train->H * train->W;
    int sweep = o->n_lrs > 1;
    xf_status st = XF_OK;
    xf_graph *g = NULL, *hg = NULL;
    xf_ft_head h;
    int64_t *vi = NULL, *ti = NULL, nv = 0, nt = 0, steps = 0, seen_images = 0;
    float *xs = NULL, *fall = NULL, *ftest = NULL;
    int32_t *ys = NULL;
    double val_acc[XF_FT_MAX_LRS], train_acc = -1, test_acc = -1;
    for (int i = 0; i < XF_FT_MAX_LRS; i++) val_acc[i] = -1;
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.o = o;
    rs.t0 = t0;
    rs.e.runs = o->n_lrs + sweep;

    /* the network with its new head (HEAD: also every image's features, once) */
    if ((st = xf_ft_graph_create(ctx, model, K, o->mode, seed, &g, &h))) goto done;
    const xf_value *in = &g->values[g->input];
    if (in->ndim != 4 || in->shape[1] != train->C || in->shape[2] != train->H || in->shape[3] != train->W) {
        st = XF_ERR(ctx, XF_ERR_SHAPE, "training images are %lld x %lld x %lld, the network takes %lld x %lld x %lld",
                    (long long)train->C, (long long)train->H, (long long)train->W, (long long)(in->ndim > 1 ? in->shape[1] : 0),
                    (long long)(in->ndim > 2 ? in->shape[2] : 0), (long long)(in->ndim > 3 ? in->shape[3] : 0));
        goto done;
    }
    int64_t unit = per; /* floats per training example: pixels, or features in HEAD mode */
    const float *xall = train->x, *xtest = test && test->N > 0 ? test->x : NULL;
    if (o->mode == XF_FT_HEAD) {
        int64_t D;
        fall = xf_malloc(ctx, (size_t)(train->N * h.D) * sizeof *fall);
        if (xtest) ftest = xf_malloc(ctx, (size_t)(test->N * h.D) * sizeof *ftest);
        if (!fall || (xtest && !ftest)) {
            st = XF_ERR_NOMEM;
            goto done;
        }
        if ((st = xf_net_extract(ctx, g, train->x, train->N, o->eval_batch, h.feature, 0, fall, &D))) goto done;
        if (xtest && (st = xf_net_extract(ctx, g, test->x, test->N, o->eval_batch, h.feature, 0, ftest, &D))) goto done;
        if ((st = head_graph(ctx, g, &h, &hg))) goto done;
        unit = h.D;
        xall = fall;
        xtest = ftest;
    }
    xf_imageset all = {xall, train->y, train->N, unit, 1, 1, K};
    if (o->mode != XF_FT_HEAD) all.C = train->C, all.H = train->H, all.W = train->W;
    xf_graph *run_g = hg ? hg : g;

    if (sweep) {
        vi = xf_malloc(ctx, (size_t)train->N * sizeof *vi);
        ti = xf_malloc(ctx, (size_t)train->N * sizeof *ti);
        if (!vi || !ti) {
            st = XF_ERR_NOMEM;
            goto done;
        }
        if ((st = xf_ft_split(ctx, train->y, train->N, K, o->val_fraction, seed ^ SPLIT_SALT, vi, &nv, ti, &nt))) goto done;
        if (nv < 1 || nt < 2) {
            st = XF_ERR(ctx, XF_ERR_INVALID,
                        "%lld training images leave %lld for validation and %lld for training: give one --lr or more images",
                        (long long)train->N, (long long)nv, (long long)nt);
            goto done;
        }
        xs = xf_malloc(ctx, (size_t)(train->N * unit) * sizeof *xs);
        ys = xf_malloc(ctx, (size_t)train->N * sizeof *ys);
        if (!xs || !ys) {
            st = XF_ERR_NOMEM;
            goto done;
        }
        gather(&all, ti, nt, unit, xs, ys);
        gather(&all, vi, nv, unit, xs + nt * unit, ys + nt);
        xf_imageset tr = all, va = all;
        tr.x = xs, tr.y = ys, tr.N = nt;
        va.x = xs + nt * unit, va.y = ys + nt, va.N = nv;
        sweep_state sw;
        memset(&sw, 0, sizeof sw);
        sw.model = model;
        sw.o = o;
        sw.K = K;
        sw.seed = seed;
        sw.tr = &tr;
        sw.va = &va;
        sw.t0 = t0;
        if ((st = sweep_all(ctx, &sw))) goto done;
        for (int r = 0; r < o->n_lrs; r++) {
            val_acc[r] = sw.val_acc[r];
            steps += sw.steps[r];
            seen_images += run_images(o, nt);
        }
        xf_free(ctx, xs);
        xf_free(ctx, ys);
        xs = NULL;
        ys = NULL;
    }
    int best = 0;
    for (int r = 1; r < o->n_lrs && sweep; r++)
        if (val_acc[r] > val_acc[best]) best = r;

    /* the final run: the best learning rate on every training image, on the network made
     * above (the sweep's runs trained copies of their own, so it is still untrained) */
    rs.e.run = rs.e.runs;
    rs.e.final = 1;
    rs.e.lr = o->lrs[best];
    if ((st = train_run(ctx, o, g, &h, hg, &all, o->lrs[best], seed + 1 + (uint64_t)o->n_lrs, &rs, &steps))) goto done;
    seen_images += run_images(o, all.N);
    if ((st = xf_evaluate(ctx, run_g, &all, o->eval_batch, &train_acc))) goto done;
    if (xtest) {
        xf_imageset te = {xtest, test->y, test->N, all.C, all.H, all.W, K};
        if ((st = xf_evaluate(ctx, run_g, &te, o->eval_batch, &test_acc))) goto done;
    }
    if (rep) {
        rep->n_lrs = o->n_lrs;
        rep->best = best;
        for (int r = 0; r < o->n_lrs; r++) {
            rep->lrs[r] = o->lrs[r];
            rep->val_acc[r] = val_acc[r];
        }
        rep->best_lr = o->lrs[best];
        rep->train_acc = train_acc;
        rep->test_acc = test_acc;
        rep->seconds = xf_now() - t0;
        rep->images_per_second = rep->seconds > 0 ? (double)seen_images / rep->seconds : 0;
        rep->classes = K;
        rep->train_images = train->N;
        rep->val_images = nv;
        rep->test_images = xtest ? test->N : 0;
        rep->steps = steps;
        rep->params = xf_graph_param_count(g, 0);
        rep->params_trained = xf_graph_param_count(g, 1);
        rep->adapters = h.adapters;
    }
    if (tuned) {
        xf_graph_set_trainable(g, 1);
        *tuned = g;
        g = NULL;
    }
done:
    xf_graph_free(g);
    xf_graph_free(hg);
    xf_free(ctx, vi);
    xf_free(ctx, ti);
    xf_free(ctx, xs);
    xf_free(ctx, ys);
    xf_free(ctx, fall);
    xf_free(ctx, ftest);
    return st;
}
