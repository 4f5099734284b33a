/* xf_experts_build: the generalist, the experts and the selection side-models, written
 * into a bank folder one finished model at a time.
 *
 * Order (Puigcerver et al. 2021, Fig. 1 stages 1-2): the generalist on the whole upstream;
 * the expert prediction network (App. A); per slice a full expert (the generalist
 * fine-tuned on the slice) and an adapter expert (adapters trained, the rest frozen);
 * then the random-slice controls the same way (App. G). Every expert trains the same
 * number of steps whatever its slice's size (App. D), with the same batch.
 *
 * Resuming: experts.json (the build's record) is written first with "complete": false
 * and the options; a rerun with other options is refused (naming the option) so a bank
 * never mixes two builds. Each model is written to a temporary file and renamed, so a
 * model file that exists is finished and is skipped; adapter experts live in one store
 * rewritten (temporary + rename) after each, so a set in the store is finished. A full
 * expert starts from generalist.onnx as written (re-imported), so a resumed build starts
 * its experts from the same weights as an uninterrupted one. bank.json and the record
 * with "complete": true are written last.
 *
 * Memory: the upstream training set once (N x 784 floats at 28x28: 331 MB for the full
 * corpus) and one slice buffer the size of the largest slice. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "expertsInt.h"
#include "xfer/bank.h"
#include "xfer/npy.h"
#include "xfer/onnx.h"

void xf_experts_opts_default(xf_experts_opts *o) {
    memset(o, 0, sizeof *o);
    o->arch = "resnet";
    o->min_images = 1000;
    o->epochs = 2;
    o->gen_batch = 128;
    o->gen_lr = 0.1;
    o->expert_steps = 60;
    o->expert_batch = 64;
    o->full_lr = 0.01;
    o->adapter_lr = 0.1;
    o->epn_steps = 300;
    o->adapters = 1;
    o->seed = 1;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* what the build does, in order */
typedef struct job {
    char name[300];       /* "full-tops", "adapter-tops", "random-full-tops", ... */
    xf_expert_kind kind;
    int adapter;
    const xf_slice *sl;
    int epn_class;        /* semantic slices: their index; controls: -1 */
    char file[320];       /* relative: "full-tops.onnx"; adapter sets: "" */
    char set[300];        /* adapter set name in the store */
    char prior[340];      /* relative: "priors/full-tops.npy" */
} job;

typedef struct build {
    xf_ctx_t *ctx;
    const xf_experts_opts *o;
    xf_dataset ds;        /* upstream train */
    xf_slice_set sem, rnd;
    job *jobs;
    int nj;
    int index, total;     /* models, for progress */
    float *sx;            /* slice buffer (max n x per) */
    int32_t *sy;
    int64_t per;
    char path[4096];
} build;

static void model_event(build *b, const char *name, int64_t images, int64_t steps, int done, int skipped, double t) {
    if (b->o->on_model) b->o->on_model(b->o->user, b->index, b->total, name, images, steps, done, skipped, t);
}

/* ---- the record --------------------------------------------------------------------------- */

static cJSON *params_json(const xf_experts_opts *o, const xf_dataset *ds) {
    cJSON *p = cJSON_CreateObject();
    char s[32];
    cJSON_AddStringToObject(p, "arch", o->arch);
    cJSON_AddNumberToObject(p, "min_images", (double)o->min_images);
    cJSON_AddNumberToObject(p, "epochs", (double)o->epochs);
    cJSON_AddNumberToObject(p, "gen_batch", (double)o->gen_batch);
    cJSON_AddNumberToObject(p, "gen_lr", o->gen_lr);
    cJSON_AddNumberToObject(p, "expert_steps", (double)o->expert_steps);
    cJSON_AddNumberToObject(p, "expert_batch", (double)o->expert_batch);
    cJSON_AddNumberToObject(p, "full_lr", o->full_lr);
    cJSON_AddNumberToObject(p, "adapter_lr", o->adapter_lr);
    cJSON_AddNumberToObject(p, "epn_steps", (double)o->epn_steps);
    cJSON_AddBoolToObject(p, "adapters", o->adapters != 0);
    cJSON_AddBoolToObject(p, "random_controls", o->random_controls != 0);
    snprintf(s, sizeof s, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(p, "seed", s);
    cJSON_AddNumberToObject(p, "upstream_images", (double)ds->n);
    cJSON_AddNumberToObject(p, "upstream_classes", (double)ds->k);
    return p;
}

static cJSON *input_json(const xf_dataset *ds) {
    cJSON *in = cJSON_CreateObject(), *m = cJSON_CreateArray(), *s = cJSON_CreateArray();
    cJSON_AddNumberToObject(in, "channels", ds->c);
    cJSON_AddNumberToObject(in, "height", ds->h);
    cJSON_AddNumberToObject(in, "width", ds->w);
    for (int c = 0; c < ds->c; c++) {
        cJSON_AddItemToArray(m, cJSON_CreateNumber(EXPERTS_MEAN));
        cJSON_AddItemToArray(s, cJSON_CreateNumber(EXPERTS_STD));
    }
    cJSON_AddItemToObject(in, "mean", m);
    cJSON_AddItemToObject(in, "std", s);
    return in;
}

static xf_status write_json(build *b, const char *file, cJSON *root) {
    char *text = cJSON_Print(root);
    if (!text) return XF_ERR(b->ctx, XF_ERR_NOMEM, "%s: out of memory", file);
    xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", file);
    xf_status st = xf_experts_write_text(b->ctx, b->path, text);
    cJSON_free(text);
    return st;
}

static xf_status write_record(build *b, int complete) {
    const xf_experts_opts *o = b->o;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", EXPERTS_FORMAT);
    cJSON_AddNumberToObject(r, "version", EXPERTS_VERSION);
    cJSON_AddBoolToObject(r, "complete", complete);
    cJSON_AddItemToObject(r, "params", params_json(o, &b->ds));
    cJSON_AddItemToObject(r, "input", input_json(&b->ds));
    cJSON_AddNumberToObject(r, "source_classes", b->ds.k);
    cJSON_AddStringToObject(r, "generalist", EXPERTS_GENERALIST);
    cJSON_AddStringToObject(r, "adapter_store", o->adapters ? EXPERTS_STORE : "");
    cJSON_AddStringToObject(r, "epn", b->sem.n >= 2 ? EXPERTS_EPN : "");
    cJSON *es = cJSON_AddArrayToObject(r, "epn_classes");
    for (int i = 0; i < b->sem.n && b->sem.n >= 2; i++) cJSON_AddItemToArray(es, cJSON_CreateString(b->sem.s[i].name));
    cJSON *arr = cJSON_AddArrayToObject(r, "experts");
    for (int j = 0; j < b->nj; j++) {
        const job *x = &b->jobs[j];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", x->name);
        cJSON_AddStringToObject(e, "kind", xf_expert_kind_name(x->kind));
        cJSON_AddBoolToObject(e, "adapter", x->adapter);
        cJSON_AddStringToObject(e, "file", x->file);
        cJSON_AddStringToObject(e, "set", x->set);
        if (x->sl) cJSON_AddStringToObject(e, "slice", x->sl->name);
        else cJSON_AddNullToObject(e, "slice");
        cJSON_AddNumberToObject(e, "slice_size", (double)(x->sl ? x->sl->n : b->ds.n));
        cJSON_AddStringToObject(e, "label_prior", x->prior);
        cJSON_AddNumberToObject(e, "epn_class", x->epn_class);
        cJSON_AddItemToArray(arr, e);
    }
    xf_status st = write_json(b, EXPERTS_RECORD, r);
    cJSON_Delete(r);
    return st;
}

/* An existing record must hold the same options. */
static xf_status check_record(build *b) {
    xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", EXPERTS_RECORD);
    if (!exists(b->path)) return XF_OK;
    char *text;
    xf_status st = xf_experts_slurp(b->ctx, b->path, &text, NULL);
    if (st) return st;
    cJSON *r = cJSON_Parse(text), *want = params_json(b->o, &b->ds);
    xf_free(b->ctx, text);
    cJSON *have = cJSON_GetObjectItemCaseSensitive(r, "params");
    if (!r || !cJSON_IsObject(have)) st = XF_ERR(b->ctx, XF_ERR_FORMAT, "%s: not an experts record (no 'params')", b->path);
    for (cJSON *w = want ? want->child : NULL; w && !st; w = w->next) {
        cJSON *h = cJSON_GetObjectItemCaseSensitive(have, w->string);
        if (!h || !cJSON_Compare(h, w, 1))
            st = XF_ERR(b->ctx, XF_ERR_INVALID,
                        "%s: the bank was built with another '%s'; rerun with the same options or use a new --out", b->path,
                        w->string);
    }
    cJSON_Delete(r);
    cJSON_Delete(want);
    return st;
}

static xf_status write_bank(build *b) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", "xfer-bank");
    cJSON_AddNumberToObject(r, "version", 1);
    cJSON *arr = cJSON_AddArrayToObject(r, "models");
    for (int j = -1; j < b->nj; j++) {
        const job *x = j >= 0 ? &b->jobs[j] : NULL;
        if (x && x->adapter) continue; /* in the store; `xfer experts export` adds them */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", x ? x->name : "generalist");
        cJSON_AddStringToObject(e, "file", x ? x->file : EXPERTS_GENERALIST);
        cJSON_AddStringToObject(e, "architecture", !strcmp(b->o->arch, "cnn") ? "small_cnn" : "small_resnet");
        cJSON_AddStringToObject(e, "source", EXPERTS_SOURCE);
        cJSON_AddNumberToObject(e, "source_classes", b->ds.k);
        cJSON_AddItemToObject(e, "input", input_json(&b->ds));
        cJSON_AddStringToObject(e, "kind", xf_expert_kind_name(x ? x->kind : XF_EXPERT_GENERALIST));
        if (x) cJSON_AddStringToObject(e, "slice", x->sl->name);
        else cJSON_AddNullToObject(e, "slice");
        cJSON_AddNumberToObject(e, "slice_size", (double)(x ? x->sl->n : b->ds.n));
        cJSON_AddStringToObject(e, "label_prior", x ? x->prior : EXPERTS_PRIORS "/generalist.npy");
        cJSON_AddItemToArray(arr, e);
    }
    xf_status st = write_json(b, "bank.json", r);
    cJSON_Delete(r);
    /* sha256, layers, params, feature and logits tensors from the models; our keys kept */
    if (!st) st = xf_bank_init(b->ctx, b->o->out_dir, NULL);
    return st;
}

/* ---- training ------------------------------------------------------------------------------ */

static void train_opts(const build *b, xf_train_opts *t, double lr, int64_t batch, int64_t steps, int64_t epochs,
                       uint64_t seed) {
    xf_train_opts_default(t);
    t->lr = lr;
    t->batch = batch;
    t->steps = steps;
    t->epochs = epochs > 0 ? epochs : 1;
    t->seed = seed;
    (void)b;
}

/* the slice's images into the slice buffer */
static xf_imageset gather(build *b, const xf_slice *s) {
    for (int64_t i = 0; i < s->n; i++) {
        memcpy(b->sx + i * b->per, b->ds.x + s->idx[i] * b->per, (size_t)b->per * sizeof(float));
        b->sy[i] = b->ds.y[s->idx[i]];
    }
    xf_imageset set = {b->sx, b->sy, s->n, b->ds.c, b->ds.h, b->ds.w, b->ds.k};
    return set;
}

static xf_status train_generalist(build *b) {
    xf_ctx_t *ctx = b->ctx;
    xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", EXPERTS_GENERALIST);
    b->index++;
    int64_t spe = (b->ds.n + b->o->gen_batch - 1) / b->o->gen_batch, steps = spe * b->o->epochs;
    if (exists(b->path)) {
        model_event(b, "generalist", b->ds.n, steps, 1, 1, 0);
        return XF_OK;
    }
    model_event(b, "generalist", b->ds.n, steps, 0, 0, 0);
    double t0 = xf_now();
    uint64_t old = xf_ctx_seed(ctx);
    xf_ctx_set_seed(ctx, b->o->seed * 1000003ULL + 1);
    xf_graph *g = NULL;
    xf_status st;
    if (!strcmp(b->o->arch, "cnn")) st = xf_model_small_cnn(ctx, b->ds.c, b->ds.h, b->ds.w, b->ds.k, 32, 64, &g);
    else {
        int64_t w[3] = {16, 32, 64};
        st = xf_model_small_resnet(ctx, b->ds.c, b->ds.h, b->ds.w, b->ds.k, w, 1, &g);
    }
    xf_ctx_set_seed(ctx, old);
    if (st) return st;
    xf_train_opts t;
    train_opts(b, &t, b->o->gen_lr, b->o->gen_batch, 0, b->o->epochs, b->o->seed * 7919ULL + 11);
    xf_imageset all = {b->ds.x, b->ds.y, b->ds.n, b->ds.c, b->ds.h, b->ds.w, b->ds.k};
    if (!(st = xf_train(ctx, g, &all, NULL, &t, NULL))) st = xf_onnx_export(ctx, g, b->path);
    xf_graph_free(g);
    if (!st) model_event(b, "generalist", b->ds.n, steps, 1, 0, xf_now() - t0);
    return st;
}

/* The expert prediction network (App. A): a small CNN predicting the slice of an image,
 * trained on (image, slice) pairs drawn so that every slice is seen equally often (an
 * image under several slices can appear with each of its labels). */
static xf_status train_epn(build *b) {
    xf_ctx_t *ctx = b->ctx;
    if (b->sem.n < 2) return XF_OK;
    xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", EXPERTS_EPN);
    b->index++;
    int64_t batch = 64, per_slice = (b->o->epn_steps * batch + b->sem.n - 1) / b->sem.n, M = per_slice * b->sem.n;
    if (exists(b->path)) {
        model_event(b, "epn", M, b->o->epn_steps, 1, 1, 0);
        return XF_OK;
    }
    model_event(b, "epn", M, b->o->epn_steps, 0, 0, 0);
    double t0 = xf_now();
    float *x = xf_malloc(ctx, (size_t)(M * b->per) * sizeof *x);
    int32_t *y = xf_malloc(ctx, (size_t)M * sizeof *y);
    xf_graph *g = NULL;
    xf_status st = XF_OK;
    if (!x || !y) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    xf_rng r;
    xf_rng_seed(&r, b->o->seed * 0x2545f4914f6cdd1dULL + 0xe9aULL);
    for (int64_t m = 0; m < M; m++) {
        int e = (int)(m % b->sem.n);
        const xf_slice *s = &b->sem.s[e];
        int64_t i = s->idx[xf_rng_below(&r, (uint64_t)s->n)];
        memcpy(x + m * b->per, b->ds.x + i * b->per, (size_t)b->per * sizeof *x);
        y[m] = e;
    }
    uint64_t old = xf_ctx_seed(ctx);
    xf_ctx_set_seed(ctx, b->o->seed * 1000003ULL + 2);
    st = xf_model_small_cnn(ctx, b->ds.c, b->ds.h, b->ds.w, b->sem.n, 16, 32, &g);
    xf_ctx_set_seed(ctx, old);
    if (st) goto done;
    xf_train_opts t;
    train_opts(b, &t, 0.05, batch, b->o->epn_steps, 0, b->o->seed * 7919ULL + 13);
    xf_imageset set = {x, y, M, b->ds.c, b->ds.h, b->ds.w, b->sem.n};
    if ((st = xf_train(ctx, g, &set, NULL, &t, NULL))) goto done;
    st = xf_onnx_export(ctx, g, b->path);
    if (!st) model_event(b, "epn", M, b->o->epn_steps, 1, 0, xf_now() - t0);
done:
    xf_graph_free(g);
    xf_free(ctx, x);
    xf_free(ctx, y);
    return st;
}

static xf_status write_prior(build *b, const char *rel, const double *prior) {
    xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", rel);
    if (exists(b->path)) return XF_OK;
    int64_t shape[1] = {b->ds.k};
    return xf_npy_write_raw(b->ctx, b->path, XF_DT_F64, 1, shape, prior);
}

static xf_status train_full(build *b, const job *x, uint64_t seed) {
    xf_ctx_t *ctx = b->ctx;
    xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", x->file);
    b->index++;
    if (exists(b->path)) {
        model_event(b, x->name, x->sl->n, b->o->expert_steps, 1, 1, 0);
        return XF_OK;
    }
    model_event(b, x->name, x->sl->n, b->o->expert_steps, 0, 0, 0);
    double t0 = xf_now();
    char gp[4096];
    xf_experts_path(gp, sizeof gp, b->o->out_dir, "/", EXPERTS_GENERALIST);
    xf_graph *g;
    xf_status st = xf_onnx_import(ctx, gp, &g);
    if (st) return st;
    xf_graph_set_trainable(g, 1);
    xf_train_opts t;
    train_opts(b, &t, b->o->full_lr, b->o->expert_batch, b->o->expert_steps, 0, seed);
    xf_imageset set = gather(b, x->sl);
    if (!(st = xf_train(ctx, g, &set, NULL, &t, NULL))) st = xf_onnx_export(ctx, g, b->path);
    xf_graph_free(g);
    if (!st) model_event(b, x->name, x->sl->n, b->o->expert_steps, 1, 0, xf_now() - t0);
    return st;
}

static xf_status train_adapter(build *b, xf_adapter_store_t *store, const job *x, uint64_t seed) {
    xf_ctx_t *ctx = b->ctx;
    b->index++;
    if (xf_adapter_store_find(store, x->set) >= 0) {
        model_event(b, x->name, x->sl->n, b->o->expert_steps, 1, 1, 0);
        return XF_OK;
    }
    model_event(b, x->name, x->sl->n, b->o->expert_steps, 0, 0, 0);
    double t0 = xf_now();
    xf_graph *g;
    xf_status st = xf_adapter_store_graph(ctx, store, -1, &g, NULL);
    if (st) return st;
    xf_train_opts t;
    train_opts(b, &t, b->o->adapter_lr, b->o->expert_batch, b->o->expert_steps, 0, seed);
    t.weight_decay = 0; /* adapters start at the identity; decay would only pull them back */
    xf_imageset set = gather(b, x->sl);
    if (!(st = xf_train(ctx, g, &set, NULL, &t, NULL)) && !(st = xf_adapter_store_add(ctx, store, x->set, g))) {
        xf_experts_path(b->path, sizeof b->path, b->o->out_dir, "/", EXPERTS_STORE);
        st = xf_adapter_store_write(ctx, store, b->path);
    }
    xf_graph_free(g);
    if (!st) model_event(b, x->name, x->sl->n, b->o->expert_steps, 1, 0, xf_now() - t0);
    return st;
}

/* ---- the driver ---------------------------------------------------------------------------- */

static xf_status check_opts(xf_ctx_t *ctx, const xf_experts_opts *o) {
    if (!o || !o->corpus_dir || !o->out_dir) return XF_ERR(ctx, XF_ERR_INVALID, "experts build: no corpus or no output folder");
    if (!o->arch || (strcmp(o->arch, "resnet") && strcmp(o->arch, "cnn")))
        return XF_ERR(ctx, XF_ERR_INVALID, "experts build: unknown architecture '%s' (resnet or cnn)", o->arch ? o->arch : "");
    if (o->min_images < 1 || o->epochs < 1 || o->gen_batch < 2 || o->expert_steps < 1 || o->expert_batch < 2 ||
        o->epn_steps < 1 || !(o->gen_lr > 0) || !(o->full_lr > 0) || !(o->adapter_lr > 0))
        return XF_ERR(ctx, XF_ERR_INVALID,
                      "experts build: min-images, epochs, steps must be >= 1, batches >= 2, learning rates > 0");
    return XF_OK;
}

static void add_job(build *b, xf_expert_kind kind, int adapter, const xf_slice *s, int epn_class) {
    job *x = &b->jobs[b->nj++];
    char safe[256];
    xf_experts_safe_name(safe, sizeof safe, s->name);
    /* controls are named random-full-<slice> / random-adapter-<slice> */
    const char *base = kind == XF_EXPERT_RANDOM ? safe + 7 : safe; /* skip "random-" */
    snprintf(x->name, sizeof x->name, "%s%s-%s", kind == XF_EXPERT_RANDOM ? "random-" : "", adapter ? "adapter" : "full",
             base);
    x->kind = kind;
    x->adapter = adapter;
    x->sl = s;
    x->epn_class = epn_class;
    if (adapter) snprintf(x->set, sizeof x->set, "%s", x->name);
    else snprintf(x->file, sizeof x->file, "%s.onnx", x->name);
    snprintf(x->prior, sizeof x->prior, "%s/%s.npy", EXPERTS_PRIORS, x->name);
}

xf_status xf_experts_build(xf_ctx_t *ctx, const xf_experts_opts *o) {
    xf_status st = check_opts(ctx, o);
    if (st) return st;
    build b;
    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    b.o = o;
    xf_hierarchy_t *h = NULL;
    xf_adapter_store_t *store = NULL;
    double *gprior = NULL;
    char hp[4096];
    xf_experts_path(hp, sizeof hp, o->corpus_dir, "/upstream/", "hierarchy.tsv");
    if ((st = xf_hierarchy_read(ctx, hp, &h))) goto done;
    xf_data_opts dop;
    xf_data_opts_default(&dop);
    dop.corpus_dir = o->corpus_dir;
    dop.split = "train";
    dop.mean[0] = dop.mean[1] = dop.mean[2] = EXPERTS_MEAN;
    dop.std[0] = dop.std[1] = dop.std[2] = EXPERTS_STD;
    if ((st = xf_data_open(ctx, "corpus:upstream", &dop, &b.ds))) goto done;
    if (b.ds.k < 2) {
        st = XF_ERR(ctx, XF_ERR_INVALID, "%s/upstream: %d class; a generalist needs at least 2", o->corpus_dir, b.ds.k);
        goto done;
    }
    if ((st = xf_experts_slices(ctx, h, &b.ds, o->min_images, &b.sem))) {
        xf_error_prefix(ctx, hp);
        goto done;
    }
    if (o->random_controls && (st = xf_experts_random_slices(ctx, &b.sem, b.ds.y, b.ds.n, o->seed, &b.rnd))) goto done;
    int per_slice = 1 + (o->adapters != 0);
    if (!(b.jobs = xf_calloc(ctx, (size_t)(per_slice * (b.sem.n + b.rnd.n)), sizeof *b.jobs))) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < b.sem.n; i++) {
        add_job(&b, XF_EXPERT_FULL, 0, &b.sem.s[i], b.sem.n >= 2 ? i : -1);
        if (o->adapters) add_job(&b, XF_EXPERT_ADAPTER, 1, &b.sem.s[i], b.sem.n >= 2 ? i : -1);
    }
    for (int i = 0; i < b.rnd.n; i++) {
        add_job(&b, XF_EXPERT_RANDOM, 0, &b.rnd.s[i], -1);
        if (o->adapters) add_job(&b, XF_EXPERT_RANDOM, 1, &b.rnd.s[i], -1);
    }
    b.total = 1 + (b.sem.n >= 2) + b.nj;
    /* the folder and the record */
    if ((st = xf_experts_mkdirs(ctx, o->out_dir))) goto done;
    xf_experts_path(b.path, sizeof b.path, o->out_dir, "/", EXPERTS_PRIORS);
    if ((st = xf_experts_mkdirs(ctx, b.path))) goto done;
    xf_experts_path(b.path, sizeof b.path, o->out_dir, "/", "epn");
    if ((st = xf_experts_mkdirs(ctx, b.path))) goto done;
    if ((st = check_record(&b)) || (st = write_record(&b, 0))) goto done;
    /* buffers */
    b.per = (int64_t)b.ds.c * b.ds.h * b.ds.w;
    int64_t maxn = 1;
    for (int i = 0; i < b.sem.n; i++) maxn = b.sem.s[i].n > maxn ? b.sem.s[i].n : maxn;
    b.sx = xf_malloc(ctx, (size_t)(maxn * b.per) * sizeof *b.sx);
    b.sy = xf_malloc(ctx, (size_t)maxn * sizeof *b.sy);
    gprior = xf_calloc(ctx, (size_t)b.ds.k, sizeof *gprior);
    if (!b.sx || !b.sy || !gprior) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < b.ds.n; i++) gprior[b.ds.y[i]] += 1.0 / (double)b.ds.n;
    if ((st = write_prior(&b, EXPERTS_PRIORS "/generalist.npy", gprior))) goto done;
    if ((st = train_generalist(&b)) || (st = train_epn(&b))) goto done;
    if (o->adapters) {
        xf_experts_path(b.path, sizeof b.path, o->out_dir, "/", EXPERTS_STORE);
        if (exists(b.path)) st = xf_adapter_store_read(ctx, b.path, &store);
        else {
            char gp[4096];
            xf_experts_path(gp, sizeof gp, o->out_dir, "/", EXPERTS_GENERALIST);
            st = xf_adapter_store_create(ctx, gp, o->seed * 31ULL + 5, &store);
        }
        if (st) goto done;
    }
    for (int j = 0; j < b.nj && !st; j++) {
        const job *x = &b.jobs[j];
        uint64_t seed = o->seed * 0x100000001b3ULL + 17ULL * (uint64_t)j + 3;
        if ((st = write_prior(&b, x->prior, x->sl->prior))) break;
        st = x->adapter ? train_adapter(&b, store, x, seed) : train_full(&b, x, seed);
    }
    if (st) goto done;
    if ((st = write_bank(&b))) goto done;
    st = write_record(&b, 1);
done:
    xf_adapter_store_free(store);
    xf_free(ctx, gprior);
    xf_free(ctx, b.sx);
    xf_free(ctx, b.sy);
    xf_free(ctx, b.jobs);
    xf_slice_set_free(ctx, &b.sem);
    xf_slice_set_free(ctx, &b.rnd);
    xf_dataset_free(ctx, &b.ds);
    xf_hierarchy_free(h);
    return st;
}
