/* Fault injection: the k-th allocation fails (and every one after it, as a process out of
 * memory would see), for every k, along the library calls of `xfer score`, `xfer
 * extract` and the data loaders. Each run must end with XF_ERR_NOMEM and a message on
 * the context, leave no output behind, and (under ASan) leak nothing; the loop ends at
 * the first k beyond the sequence's last allocation, where the run succeeds.
 * SQLite's malloc tests are the model (src/test_malloc.c). */
#include <unistd.h>

#include "xfer/onnx.h"
#include "xfer/xfer.h"
#include "xtest.h"

static char REF[1024], TMP[1024];

/* ---- xfer score: the files, the label mapping, every estimator ---------------------- */
static xf_status score_run(xf_ctx_t *ctx) {
    char p[1200];
    xf_array F = {0}, Y = {0}, P = {0};
    float *Ff = NULL, *Pf = NULL;
    int64_t *yraw = NULL;
    int32_t *y = NULL;
    xf_ws_t *ws = NULL;
    xf_status st;
    snprintf(p, sizeof p, "%s/cli/feat_good.npy", REF);
    if ((st = xf_npy_read(ctx, p, &F))) goto done;
    snprintf(p, sizeof p, "%s/cli/labels.npy", REF);
    if ((st = xf_npy_read(ctx, p, &Y))) goto done;
    snprintf(p, sizeof p, "%s/cli/probs.npy", REF);
    if ((st = xf_npy_read(ctx, p, &P))) goto done;
    if ((st = xf_array_to_f32(ctx, &F, 1, &Ff)) || (st = xf_array_to_f32(ctx, &P, 1, &Pf)) ||
        (st = xf_array_to_i64(ctx, &Y, &yraw)))
        goto done;
    int64_t N = Y.shape[0], C = 0;
    if (!(y = xf_malloc(ctx, sizeof *y * (size_t)N))) { st = XF_ERR_NOMEM; goto done; }
    if ((st = xf_labels_densify(ctx, yraw, N, y, &C, NULL))) goto done;
    if ((st = xf_ws_create(ctx, &ws))) goto done;
    xf_params prm = {NULL, 0};
    for (int j = 0; j < xf_est_count() && !st; j++) {
        const xf_estimator *e = xf_est_at(j);
        xf_est_input in = {Ff, N, F.shape[1], F.shape[1], y, C, Pf, P.shape[1], P.shape[1], NULL};
        double score, terms[16];
        if ((st = xf_est_check_input(ctx, e, &in, &prm))) break;
        xf_ws_reset(ws);
        if (e->nterms > 0 && e->terms && e->combine && e->nterms <= 16) {
            /* the bank path: one model's terms, then the combination */
            if (!(st = e->terms(ctx, &in, &prm, ws, terms))) st = e->combine(ctx, 1, terms, &prm, &score);
        } else
            st = e->fn(ctx, &in, &prm, ws, &score);
    }
done:
    xf_ws_free(ws);
    xf_free(ctx, y);
    xf_free(ctx, yraw);
    xf_free(ctx, Ff);
    xf_free(ctx, Pf);
    xf_array_free(ctx, &F);
    xf_array_free(ctx, &Y);
    xf_array_free(ctx, &P);
    return st;
}

/* ---- xfer extract: the model, the data (a streamed probe), the forward pass, the
 * outputs written as a group ---------------------------------------------------------- */
static xf_status extract_run(xf_ctx_t *ctx) {
    char p[1200], o1[1200], o2[1200];
    xf_graph *g = NULL;
    xf_net_t *net = NULL;
    xf_dataset ds = {0};
    int64_t *idx = NULL, m = 0;
    float *feat = NULL;
    xf_status st;
    snprintf(o1, sizeof o1, "%s/faults_F.npy", TMP);
    snprintf(o2, sizeof o2, "%s/faults_y.npy", TMP);
    unlink(o1);
    unlink(o2);
    snprintf(p, sizeof p, "%s/onnx/small_cnn_op13.onnx", REF);
    if ((st = xf_out_begin(ctx)) || (st = xf_out_input(ctx, p)) || (st = xf_out_claim(ctx, o1)) || (st = xf_out_claim(ctx, o2)))
        goto done;
    if ((st = xf_onnx_import(ctx, p, &g))) goto done;
    xf_data_opts o;
    xf_data_opts_default(&o);
    o.channels = 3;
    o.height = o.width = 32;
    snprintf(p, sizeof p, "%s/data/idx_gz/train-images-idx3-ubyte.gz", REF);
    if ((st = xf_data_open_probe(ctx, p, &o, 4, 1, 7, &ds, &idx, &m))) goto done;
    int fv = xf_graph_feature_value(g);
    int keep[1] = {fv};
    xf_net_opts nopts = {keep, 1, 0, 0};
    if ((st = xf_net_create_ex(ctx, g, ds.n, XF_NET_INFER, &nopts, &net))) goto done;
    if ((st = xf_net_forward(net, ds.x, ds.n))) goto done;
    const float *f = xf_net_data(net, fv);
    int64_t D = 64, sh[2] = {ds.n, D}, sy[1] = {ds.n};
    if (!f) { st = XF_ERR(ctx, XF_ERR_INTERNAL, "no features"); goto done; }
    if (!(feat = xf_malloc(ctx, sizeof *feat * (size_t)(ds.n * D)))) { st = XF_ERR_NOMEM; goto done; }
    memcpy(feat, f, sizeof *feat * (size_t)(ds.n * D));
    if ((st = xf_npy_write_raw(ctx, o1, XF_DT_F32, 2, sh, feat))) goto done;
    if ((st = xf_npy_write_raw(ctx, o2, XF_DT_I64, 1, sy, idx))) goto done;
    st = xf_out_commit(ctx);
done:
    if (st) xf_out_abort(ctx);
    /* outputs appear together or not at all */
    CHECK(st ? access(o1, F_OK) != 0 && access(o2, F_OK) != 0 : access(o1, F_OK) == 0 && access(o2, F_OK) == 0,
          "extract outputs after %s", xf_status_str(st));
    xf_free(ctx, feat);
    xf_free(ctx, idx);
    xf_dataset_free(ctx, &ds);
    xf_net_free(net);
    xf_graph_free(g);
    return st;
}

/* ---- the data loaders ------------------------------------------------------------------ */
static const char *SPECS[] = {"data/folder", "data/idx_gz/train-images-idx3-ubyte.gz", "data/idx_plain", "digits",
                              "corpus:tiny", NULL};

static xf_status loaders_run(xf_ctx_t *ctx) {
    xf_status st = XF_OK;
    char p[1200], cdir[1200];
    snprintf(cdir, sizeof cdir, "%s/data/corpus", REF);
    for (int i = 0; SPECS[i] && !st; i++) {
        if (strchr(SPECS[i], '/')) snprintf(p, sizeof p, "%s/%s", REF, SPECS[i]);
        else snprintf(p, sizeof p, "%s", SPECS[i]);
        xf_data_opts o;
        xf_data_opts_default(&o);
        o.corpus_dir = cdir;
        o.height = o.width = 8;
        o.channels = 1;
        xf_dataset ds = {0};
        st = xf_data_open(ctx, p, &o, &ds);
        xf_dataset_free(ctx, &ds);
        if (st) break;
        /* the batch stream over the same data */
        xf_data_stream_t *s = NULL;
        if ((st = xf_data_stream_open(ctx, p, &o, 2, &s))) break;
        xf_batch b;
        do st = xf_data_stream_next(s, &b);
        while (!st && b.n > 0);
        xf_data_stream_close(s);
    }
    return st;
}

/* Runs fn with the k-th allocation failing, for k = 1, 2, ... until it succeeds. */
static void sweep(xf_ctx_t *ctx, const char *name, xf_status (*fn)(xf_ctx_t *), int64_t cap) {
    int64_t k, runs = 0;
    for (k = 1; k <= cap; k++) {
        xf_ctx_clear_error(ctx);
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = fn(ctx);
        xf_ctx_fail_alloc_after(ctx, 0);
        runs++;
        if (st == XF_OK) break;
        CHECK(st == XF_ERR_NOMEM, "%s: allocation %lld failing: %s (%s), want out of memory", name, (long long)k, xf_status_str(st),
              xf_errmsg(ctx));
        CHECK(xf_errmsg(ctx)[0] != 0, "%s: allocation %lld failing: no message", name, (long long)k);
    }
    CHECK(k <= cap, "%s: still failing after %lld allocations", name, (long long)cap);
    printf("%s: %lld runs, the first %lld allocations failed one by one\n", name, (long long)runs, (long long)runs - 1);
}

int main(void) {
    xt_ref("", REF, sizeof REF);
    REF[strlen(REF) - 1] = 0; /* drop the trailing '/' */
    xt_tmp("faults", TMP, sizeof TMP);
    mkdir(TMP, 0777);
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 1);
    CHECK_OK(ctx, score_run(ctx));
    CHECK_OK(ctx, extract_run(ctx));
    CHECK_OK(ctx, loaders_run(ctx));
    sweep(ctx, "score", score_run, 100000);
    sweep(ctx, "extract", extract_run, 100000);
    sweep(ctx, "loaders", loaders_run, 100000);
    xf_ctx_free(ctx);
    return xt_done("test_faults");
}
