/* transfer: network surgery, the stratified split, the protocol's errors, and agreement
 * with PyTorch (tests/ref/finetune/, written by tests/ref/gen_finetune.py):
 *   - one and two SGD steps of full fine-tuning from the same head on the same batch give
 *     PyTorch's parameters (and BatchNorm running statistics) to 1e-4;
 *   - the whole protocol's test accuracy lies within the spread of five PyTorch seeds. */
#include <stdint.h>

#include <cjson/cJSON.h>

#include "xfer/xfer.h"
#include "xfer/onnx.h"
#include "xfer/transfer.h"
#include "xtest.h"

static int sanitized(void) { return getenv("XF_SANITIZED") != NULL; }

/* A synthetic two-blob image task: class c brightens a quarter of the image. */
static void blobs(int64_t N, int64_t K, int64_t H, int64_t W, uint64_t seed, float **x, int32_t **y) {
    *x = malloc(sizeof(float) * (size_t)(N * H * W));
    *y = malloc(sizeof(int32_t) * (size_t)N);
    xf_rng r;
    xf_rng_seed(&r, seed);
    for (int64_t i = 0; i < N; i++) {
        int32_t c = (int32_t)(i % K);
        (*y)[i] = c;
        for (int64_t p = 0; p < H * W; p++) {
            int64_t q = (p / W >= H / 2) * 2 + (p % W >= W / 2);
            (*x)[i * H * W + p] = (float)(0.3 * xf_rng_normal(&r) + (q == c % 4 ? 1.0 : 0.0));
        }
    }
}

static void test_surgery(xf_ctx_t *ctx) {
    xf_graph *src = NULL, *g = NULL;
    int64_t widths[3] = {4, 8, 8};
    CHECK_OK(ctx, xf_model_small_resnet(ctx, 1, 8, 8, 7, widths, 1, &src));
    if (!src) return;
    xf_ft_head h;
    /* full: everything but the BatchNorm statistics trains, the head is (C, D) */
    CHECK_OK(ctx, xf_ft_graph_create(ctx, src, 3, XF_FT_FULL, 11, &g, &h));
    if (g) {
        CHECK(h.C == 3 && h.D == 8, "head %lld x %lld", (long long)h.C, (long long)h.D);
        CHECK(g->values[h.weight].shape[0] == 3 && g->values[h.weight].shape[1] == 8, "head.weight shape");
        CHECK(!strcmp(g->values[h.weight].name, "head.weight") && !strcmp(g->values[h.bias].name, "head.bias"), "head names");
        CHECK(xf_graph_output_value(g) == h.logits && g->values[h.logits].shape[1] == 3, "logits (B, 3)");
        CHECK(xf_graph_feature_value(g) == h.feature, "feature tap is the head's input");
        int64_t bound_ok = 1;
        double b = 1.0 / sqrt(8.0), s = 0;
        for (int i = 0; i < 24; i++) {
            float w = g->values[h.weight].data[i];
            bound_ok &= fabs(w) <= b;
            s += w;
        }
        CHECK(bound_ok, "head weights inside U(-1/sqrt(D), 1/sqrt(D))");
        CHECK(fabs(s / 24) < b / 2, "head weights centred (mean %g)", s / 24);
        /* the old classifier is gone; everything else trains */
        CHECK(xf_graph_find(g, "fc.weight") < 0, "old classifier dropped");
        int64_t frozen = xf_graph_param_count(g, 0) - xf_graph_param_count(g, 1);
        int64_t stats = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == XF_OP_BATCHNORM) stats += 2 * g->values[g->nodes[i].in[3]].shape[0];
        CHECK(frozen == stats, "full: only BN statistics frozen (%lld vs %lld)", (long long)frozen, (long long)stats);
        /* the same seed gives the same head, another seed another */
        xf_graph *g2 = NULL;
        xf_ft_head h2;
        CHECK_OK(ctx, xf_ft_graph_create(ctx, src, 3, XF_FT_HEAD, 11, &g2, &h2));
        if (g2) {
            CHECK(!memcmp(g->values[h.weight].data, g2->values[h2.weight].data, 24 * sizeof(float)), "seeded head");
            CHECK(xf_graph_param_count(g2, 1) == 3 * 8 + 3, "head mode trains %lld", (long long)xf_graph_param_count(g2, 1));
        }
        xf_graph_free(g2);
        CHECK_OK(ctx, xf_ft_graph_create(ctx, src, 3, XF_FT_FULL, 12, &g2, &h2));
        if (g2) CHECK(memcmp(g->values[h.weight].data, g2->values[h2.weight].data, 24 * sizeof(float)), "other seed");
        xf_graph_free(g2);
    }
    /* adapters: before stages 2 and 3 (strided convs) and before the global pooling;
     * untrained they are the identity, so logits equal head mode's */
    xf_graph *ga = NULL;
    xf_ft_head ha;
    CHECK_OK(ctx, xf_ft_graph_create(ctx, src, 3, XF_FT_ADAPTERS, 11, &ga, &ha));
    if (ga && g) {
        CHECK(ha.adapters == 3, "adapters %d (want 3)", ha.adapters);
        int64_t want = 0; /* per adapter on c channels: 2c (GN1) + c*c/2 + c (GN2) + c/2*c */
        int64_t cs[3] = {4, 8, 8};
        for (int i = 0; i < 3; i++) want += 2 * cs[i] + cs[i] * (cs[i] / 2) * 2 + cs[i];
        CHECK(xf_graph_param_count(ga, 1) == want + 3 * 8 + 3, "adapters train %lld, want %lld",
              (long long)xf_graph_param_count(ga, 1), (long long)(want + 27));
        float *x, *p0 = malloc(sizeof(float) * 16 * 3), *p1 = malloc(sizeof(float) * 16 * 3);
        int32_t *y;
        blobs(16, 3, 8, 8, 3, &x, &y);
        int64_t D;
        CHECK_OK(ctx, xf_net_extract(ctx, g, x, 16, 16, h.logits, 0, p0, &D));
        CHECK_OK(ctx, xf_net_extract(ctx, ga, x, 16, 16, ha.logits, 0, p1, &D));
        double md = 0;
        for (int i = 0; i < 48; i++) md = fmax(md, fabs(p0[i] - p1[i]));
        CHECK(md < 1e-5, "untrained adapters are the identity (max diff %g)", md);
        free(x), free(y), free(p0), free(p1);
    }
    xf_graph_free(ga);
    xf_graph_free(g);
    /* errors */
    g = NULL;
    CHECK_ST(ctx, xf_ft_graph_create(ctx, src, 1, XF_FT_FULL, 1, &g, &h), XF_ERR_INVALID);
    CHECK(g == NULL, "no graph on error");
    xf_graph *nohead;
    CHECK_OK(ctx, xf_graph_create(ctx, &nohead));
    int a, b;
    int64_t s4[4] = {-1, 1, 4, 4};
    CHECK_OK(ctx, xf_graph_add_value(nohead, "x", 4, s4, NULL, &a));
    CHECK_OK(ctx, xf_graph_add_value(nohead, "y", 4, s4, NULL, &b));
    CHECK_OK(ctx, xf_graph_add_node(nohead, XF_OP_RELU, "relu", &a, 1, &b, 1, NULL));
    nohead->input = a;
    CHECK_ST(ctx, xf_ft_graph_create(ctx, nohead, 3, XF_FT_FULL, 1, &g, &h), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "classifier") != NULL, "message names the classifier: %s", xf_errmsg(ctx));
    xf_graph_free(nohead);
    xf_graph_free(src);
}

static void test_split(xf_ctx_t *ctx) {
    int64_t N = 103, K = 4;
    int32_t y[103];
    int64_t cnt[4] = {0};
    for (int64_t i = 0; i < N; i++) y[i] = (int32_t)((i * 7) % 5 == 0 ? 3 : i % 3), cnt[y[i]]++;
    int64_t v[103], t[103], nv, nt, v2[103], t2[103], nv2, nt2;
    CHECK_OK(ctx, xf_ft_split(ctx, y, N, K, 0.2, 9, v, &nv, t, &nt));
    CHECK(nv + nt == N, "split covers everything");
    int64_t want = 0, got[4] = {0};
    for (int c = 0; c < 4; c++) want += (int64_t)floor(0.2 * (double)cnt[c] + 0.5);
    for (int64_t i = 0; i < nv; i++) got[y[v[i]]]++;
    for (int c = 0; c < 4; c++)
        CHECK(got[c] == (int64_t)floor(0.2 * (double)cnt[c] + 0.5), "class %d: %lld of %lld held out", c, (long long)got[c],
              (long long)cnt[c]);
    CHECK(nv == want, "validation %lld want %lld", (long long)nv, (long long)want);
    int sorted = 1;
    for (int64_t i = 1; i < nv; i++) sorted &= v[i] > v[i - 1];
    CHECK(sorted, "validation indices ascending");
    CHECK_OK(ctx, xf_ft_split(ctx, y, N, K, 0.2, 9, v2, &nv2, t2, &nt2));
    CHECK(nv2 == nv && !memcmp(v, v2, sizeof(int64_t) * (size_t)nv), "same seed, same split");
    CHECK_OK(ctx, xf_ft_split(ctx, y, N, K, 0.2, 10, v2, &nv2, t2, &nt2));
    CHECK(nv2 == nv && memcmp(v, v2, sizeof(int64_t) * (size_t)nv), "another seed, another split");
    CHECK_ST(ctx, xf_ft_split(ctx, y, N, K, 1.0, 9, v, &nv, t, &nt), XF_ERR_INVALID);
}

/* The protocol on a small synthetic task: every mode learns it; errors are clear. */
static void test_protocol(xf_ctx_t *ctx) {
    xf_graph *src = NULL;
    CHECK_OK(ctx, xf_model_small_cnn(ctx, 1, 8, 8, 5, 4, 8, &src));
    if (!src) return;
    float *x, *xt;
    int32_t *y, *yt;
    blobs(96, 3, 8, 8, 1, &x, &y);
    blobs(60, 3, 8, 8, 2, &xt, &yt);
    xf_imageset tr = {x, y, 96, 1, 8, 8, 3}, te = {xt, yt, 60, 1, 8, 8, 3};
    xf_ft_opts o;
    xf_ft_opts_default(&o);
    o.epochs = sanitized() ? 3 : 8;
    o.batch = 16;
    o.seed = 5;
    for (int m = 0; m < 3; m++) {
        o.mode = (xf_ft_mode)m;
        xf_graph *tuned = NULL;
        xf_ft_report rep;
        CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te, &o, &tuned, &rep));
        if (!tuned) continue;
        CHECK(rep.n_lrs == 3 && rep.best >= 0 && rep.best < 3 && rep.best_lr == o.lrs[rep.best], "%s: best lr",
              xf_ft_mode_name(o.mode));
        CHECK(rep.val_images == 18 && rep.train_images == 96 && rep.test_images == 60 && rep.classes == 3,
              "%s: counts val %lld", xf_ft_mode_name(o.mode), (long long)rep.val_images);
        for (int r = 0; r < 3; r++) CHECK(rep.val_acc[r] >= 0 && rep.val_acc[r] <= 100, "val acc %g", rep.val_acc[r]);
        for (int r = 0; r < 3; r++)
            if (r != rep.best) CHECK(rep.val_acc[r] < rep.val_acc[rep.best] || r > rep.best, "best is the first maximum");
        /* 78 training images at batch 16: 5 steps (4 + a last of 14) per epoch; final: 6 */
        CHECK(rep.steps == 3 * 5 * o.epochs + 6 * o.epochs, "%s: steps %lld", xf_ft_mode_name(o.mode), (long long)rep.steps);
        /* the backbone is random: training it learns the task, its frozen features less so */
        if (!sanitized())
            CHECK(rep.test_acc >= (o.mode == XF_FT_FULL ? 80 : 40), "%s: test accuracy %.1f%%", xf_ft_mode_name(o.mode),
                  rep.test_acc);
        /* the returned network gives the reported test accuracy, also after ONNX export */
        double acc;
        CHECK_OK(ctx, xf_evaluate(ctx, tuned, &te, 32, &acc));
        CHECK_NEAR(acc, rep.test_acc, 0, 1e-9, "tuned network's test accuracy");
        char path[512];
        xt_tmp("finetune_tuned.onnx", path, sizeof path);
        CHECK_OK(ctx, xf_onnx_export(ctx, tuned, path));
        xf_graph *back = NULL;
        CHECK_OK(ctx, xf_onnx_import(ctx, path, &back));
        if (back) {
            CHECK_OK(ctx, xf_evaluate(ctx, back, &te, 32, &acc));
            CHECK_NEAR(acc, rep.test_acc, 0, 1e-9, "exported network's test accuracy");
            CHECK(rep.adapters == 0 || xf_graph_find(back, "adapter0.conv1.weight") >= 0, "adapters exported");
        }
        xf_graph_free(back);
        /* the same seed gives the same numbers */
        xf_ft_report rep2;
        if (m == 0 || !sanitized()) {
            CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te, &o, NULL, &rep2));
            CHECK(rep2.test_acc == rep.test_acc && rep2.val_acc[1] == rep.val_acc[1], "%s: deterministic",
                  xf_ft_mode_name(o.mode));
        }
        xf_graph_free(tuned);
    }
    /* the sweep side by side on two threads: each of the first two runs has one thread,
     * as in the serial sweep at one thread, so their numbers are the same */
    {
        xf_ft_report r1, r2;
        o.mode = XF_FT_FULL;
        o.epochs = 2;
        CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te, &o, NULL, &r1));
        xf_ctx_set_threads(ctx, 2);
        CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te, &o, NULL, &r2));
        xf_ctx_set_threads(ctx, 1);
        CHECK(r1.val_acc[0] == r2.val_acc[0] && r1.val_acc[1] == r2.val_acc[1] && r1.steps == r2.steps,
              "parallel sweep: %g %g vs %g %g", r1.val_acc[0], r1.val_acc[1], r2.val_acc[0], r2.val_acc[1]);
        o.epochs = sanitized() ? 3 : 8;
    }
    /* no allocation inside the training loop: twice the epochs, the same allocations */
    {
        xf_ft_report r1;
        int64_t a[2];
        for (int k = 0; k < 2; k++) {
            o.epochs = 2 + 3 * k;
            int64_t before = xf_ctx_alloc_count(ctx);
            CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te, &o, NULL, &r1));
            a[k] = xf_ctx_alloc_count(ctx) - before;
        }
        CHECK(a[0] == a[1], "allocations: %lld for 2 epochs, %lld for 5", (long long)a[0], (long long)a[1]);
        o.epochs = sanitized() ? 3 : 8;
    }
    /* a single learning rate: no split, every image trains */
    xf_ft_report rep;
    o.mode = XF_FT_HEAD;
    o.n_lrs = 1;
    o.steps = 7;
    CHECK_OK(ctx, xf_finetune(ctx, src, &tr, NULL, &o, NULL, &rep));
    CHECK(rep.val_images == 0 && rep.test_acc < 0 && rep.steps == 7, "single lr: val %lld, steps %lld",
          (long long)rep.val_images, (long long)rep.steps);
    o.steps = 0;
    /* test classes the training set lacks: documented, counted as errors */
    int32_t yt2[60];
    for (int i = 0; i < 60; i++) yt2[i] = i < 10 ? 4 : yt[i];
    xf_imageset te2 = te;
    te2.y = yt2;
    CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te2, &o, NULL, &rep));
    CHECK(rep.classes == 5 && rep.test_unseen == 10 && rep.test_acc <= 100.0 * 50 / 60 + 1e-9, "unseen test classes: %lld, %g",
          (long long)rep.test_unseen, rep.test_acc);
    /* errors */
    xf_ft_opts bad = o;
    bad.lrs[0] = 0;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    bad = o;
    bad.lrs[0] = NAN;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    bad = o;
    bad.epochs = 0;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    bad = o;
    bad.batch = 1;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    bad = o;
    bad.n_lrs = 0;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    bad = o;
    bad.n_lrs = 2;
    bad.val_fraction = 0;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    /* a batch larger than the data is clamped (documented) */
    bad = o;
    bad.batch = 1000;
    CHECK_OK(ctx, xf_finetune(ctx, src, &tr, NULL, &bad, NULL, &rep));
    CHECK(rep.steps == o.epochs, "one batch per epoch: %lld steps", (long long)rep.steps);
    /* one label for every image */
    int32_t one[96];
    for (int i = 0; i < 96; i++) one[i] = 2;
    xf_imageset tr1 = tr;
    tr1.y = one;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr1, NULL, &o, NULL, &rep), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "same label") != NULL, "message: %s", xf_errmsg(ctx));
    /* a label far beyond the others (a class index, not a class name) */
    int32_t far[96];
    for (int i = 0; i < 96; i++) far[i] = y[i];
    far[7] = 2000000000;
    xf_imageset trf = tr;
    trf.y = far;
    CHECK_ST(ctx, xf_finetune(ctx, src, &trf, NULL, &o, NULL, &rep), XF_ERR_INVALID);
    /* negative labels, wrong image size, too few images for the sweep */
    one[5] = -1;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tr1, NULL, &o, NULL, &rep), XF_ERR_INVALID);
    xf_imageset trb = tr;
    trb.H = 9;
    CHECK_ST(ctx, xf_finetune(ctx, src, &trb, NULL, &o, NULL, &rep), XF_ERR_SHAPE);
    xf_imageset tiny = tr;
    tiny.N = 3;
    bad = o;
    bad.n_lrs = 3;
    CHECK_ST(ctx, xf_finetune(ctx, src, &tiny, NULL, &bad, NULL, &rep), XF_ERR_INVALID);
    /* allocation failures anywhere: an error, never a crash or a leak (under ASan) */
    o.mode = XF_FT_ADAPTERS;
    o.epochs = 1;
    o.n_lrs = 2;
    xf_imageset trs = tr, tes = te;
    trs.N = 24;
    tes.N = 12;
    int64_t a0 = xf_ctx_alloc_count(ctx);
    CHECK_OK(ctx, xf_finetune(ctx, src, &trs, &tes, &o, NULL, &rep));
    int64_t total = xf_ctx_alloc_count(ctx) - a0, stride = total / 60 + 1;
    int ok = 0;
    for (int64_t k = 1; k <= total + stride + 1 && !ok; k += (k < 40 ? 1 : stride)) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_graph *tuned = NULL;
        xf_status st = xf_finetune(ctx, src, &trs, &tes, &o, &tuned, &rep);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) ok = 1;
        else CHECK(st == XF_ERR_NOMEM && tuned == NULL, "alloc failure %lld: %s", (long long)k, xf_status_str(st));
        xf_graph_free(tuned);
    }
    CHECK(ok, "fine-tuning succeeds once allocations do");
    free(x), free(y), free(xt), free(yt);
    xf_graph_free(src);
}

/* A BatchNorm whose scale and bias are frozen runs on its running statistics in a
 * training net (PyTorch's eval() on a frozen backbone) and leaves them unchanged. */
static void test_frozen_bn(xf_ctx_t *ctx) {
    xf_graph *g = NULL;
    CHECK_OK(ctx, xf_model_small_cnn(ctx, 1, 8, 8, 3, 4, 4, &g));
    if (!g) return;
    float *x;
    int32_t *y;
    blobs(8, 3, 8, 8, 4, &x, &y);
    int rm = -1;
    for (int i = 0; i < g->n_nodes && rm < 0; i++)
        if (g->nodes[i].op == XF_OP_BATCHNORM) rm = g->nodes[i].in[3];
    for (int i = 0; i < 4; i++) g->values[rm].data[i] = 0.25f * (float)i;
    float before[4];
    memcpy(before, g->values[rm].data, sizeof before);
    float inf[24];
    int64_t D;
    CHECK_OK(ctx, xf_net_extract(ctx, g, x, 8, 8, xf_graph_output_value(g), 0, inf, &D));
    xf_graph_set_trainable(g, 0);
    xf_graph_set_trainable_prefix(g, "fc.", 1);
    xf_net_t *net = NULL;
    CHECK_OK(ctx, xf_net_create(ctx, g, 8, XF_NET_TRAIN, &net));
    if (net) {
        CHECK_OK(ctx, xf_net_forward(net, x, 8));
        const float *z = xf_net_data(net, xf_graph_output_value(g));
        double md = 0;
        for (int i = 0; i < 24 && z; i++) md = fmax(md, fabs(z[i] - inf[i]));
        CHECK(z && md < 1e-5, "frozen BN: training forward equals inference (max diff %g)", md);
        CHECK(!memcmp(before, g->values[rm].data, sizeof before), "running mean untouched");
        float loss;
        int64_t c;
        CHECK_OK(ctx, xf_net_loss(net, xf_graph_output_value(g), y, &loss, &c));
        CHECK_OK(ctx, xf_net_backward(net));
    }
    xf_net_free(net);
    /* unfrozen: batch statistics, running mean moves */
    xf_graph_set_trainable(g, 1);
    CHECK_OK(ctx, xf_net_create(ctx, g, 8, XF_NET_TRAIN, &net));
    if (net) {
        CHECK_OK(ctx, xf_net_forward(net, x, 8));
        CHECK(memcmp(before, g->values[rm].data, sizeof before), "trainable BN updates its running mean");
    }
    xf_net_free(net);
    free(x), free(y);
    xf_graph_free(g);
}


/* ---- against PyTorch (tests/ref/finetune, gen_finetune.py) ---------------------------- */

static const char *const NETS[] = {"resnet", "mobilenet", "groupnorm"};

/* a fixture as float32 (any dtype; uint8 images scaled by 1/255); NULL if absent */
static float *fixture(xf_ctx_t *ctx, const char *rel, int64_t *n, int scale_u8) {
    char path[512];
    xt_ref(rel, path, sizeof path);
    struct stat sb;
    if (stat(path, &sb) != 0) return NULL;
    xf_array a;
    if (xf_npy_read(ctx, path, &a) != XF_OK) {
        CHECK(0, "%s: %s", path, xf_errmsg(ctx));
        return NULL;
    }
    float *f = NULL;
    CHECK_OK(ctx, xf_array_to_f32(ctx, &a, 1, &f));
    if (f && scale_u8 && a.dtype == XF_DT_U8)
        for (int64_t i = 0; i < a.size; i++) f[i] /= 255.0f;
    if (n) *n = a.size;
    xf_array_free(ctx, &a);
    return f;
}

static int32_t *labels(xf_ctx_t *ctx, const char *rel, int64_t *n) {
    float *f = fixture(ctx, rel, n, 0);
    if (!f) return NULL;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)*n);
    for (int64_t i = 0; i < *n; i++) y[i] = (int32_t)f[i];
    xf_free(ctx, f);
    return y;
}

/* every parameter of g with a fixture in dir: max |xfer - torch| <= 1e-4 (1 + |torch|) */
static int compare_params(xf_ctx_t *ctx, const xf_graph *g, const char *net, const char *dir) {
    int found = 0;
    for (int v = 0; v < g->n_values; v++) {
        const xf_value *val = &g->values[v];
        if (!val->is_param) continue;
        /* the importer names a folded GroupNorm's per-channel scale "<Mul's initializer>/xf_gn_scaleN" */
        char rel[512], name[256];
        snprintf(name, sizeof name, "%s", val->name);
        char *cut = strstr(name, "/xf_gn_");
        if (cut) *cut = 0;
        snprintf(rel, sizeof rel, "finetune/%s_%s/%s.npy", net, dir, name);
        int64_t n;
        float *want = fixture(ctx, rel, &n, 0);
        if (!want) continue;
        found++;
        int64_t numel = 1;
        for (int d = 0; d < val->ndim; d++) numel *= val->shape[d];
        CHECK(n == numel, "%s: %lld values, fixture %lld", rel, (long long)numel, (long long)n);
        double worst = 0;
        int64_t at = 0;
        for (int64_t i = 0; i < n && i < numel; i++) {
            double e = fabs((double)val->data[i] - want[i]) / (1.0 + fabs(want[i]));
            if (e > worst) worst = e, at = i;
        }
        CHECK(worst <= 1e-4, "%s after %s: element %lld is %.8g, PyTorch %.8g", val->name, dir, (long long)at,
              (double)val->data[at], (double)want[at]);
        xf_free(ctx, want);
    }
    return found;
}

/* One or two SGD steps from the fixture's head on the fixture's batch. */
static void test_first_steps(xf_ctx_t *ctx, const char *net) {
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "finetune/%s.onnx", net);
    xf_graph *src = NULL;
    CHECK_OK(ctx, xf_onnx_import(ctx, xt_ref(rel, path, sizeof path), &src));
    if (!src) return;
    int64_t nx, ny, nw, nb, nl;
    snprintf(rel, sizeof rel, "finetune/%s_step_x.npy", net);
    float *x = fixture(ctx, rel, &nx, 0);
    snprintf(rel, sizeof rel, "finetune/%s_step_y.npy", net);
    int32_t *y = labels(ctx, rel, &ny);
    snprintf(rel, sizeof rel, "finetune/%s_step_head_w.npy", net);
    float *hw = fixture(ctx, rel, &nw, 0);
    snprintf(rel, sizeof rel, "finetune/%s_step_head_b.npy", net);
    float *hb = fixture(ctx, rel, &nb, 0);
    CHECK(x && y && hw && hb, "%s: step fixtures present", net);
    for (int mode = 0; mode < 2 && x && y && hw && hb; mode++) {
        xf_graph *g = NULL;
        xf_ft_head h;
        CHECK_OK(ctx, xf_ft_graph_create(ctx, src, nb, mode ? XF_FT_HEAD : XF_FT_FULL, 1, &g, &h));
        if (!g) break;
        CHECK(h.C * h.D == nw, "%s: head %lld x %lld, fixture %lld", net, (long long)h.C, (long long)h.D, (long long)nw);
        memcpy(g->values[h.weight].data, hw, sizeof(float) * (size_t)nw);
        memcpy(g->values[h.bias].data, hb, sizeof(float) * (size_t)nb);
        xf_train_opts to;
        xf_train_opts_default(&to);
        to.lr = 0.1;
        to.momentum = 0.9;
        to.weight_decay = 0;
        xf_net_t *net_ = NULL;
        xf_optim_t *opt = NULL;
        CHECK_OK(ctx, xf_net_create(ctx, g, ny, XF_NET_TRAIN, &net_));
        CHECK_OK(ctx, xf_optim_create(ctx, g, &to, &opt));
        int steps = mode ? 1 : 2;
        for (int s = 0; s < steps && net_ && opt; s++) {
            float loss;
            int64_t c;
            CHECK_OK(ctx, xf_net_forward(net_, x, ny));
            CHECK_OK(ctx, xf_net_loss(net_, h.logits, y, &loss, &c));
            snprintf(rel, sizeof rel, "finetune/%s_%s_loss.npy", net, mode ? "headstep" : s ? "step2" : "step");
            float *want = fixture(ctx, rel, &nl, 0);
            if (want) CHECK_NEAR(loss, want[0], 1e-5, 1e-6, rel);
            xf_free(ctx, want);
            CHECK_OK(ctx, xf_net_backward(net_));
            CHECK_OK(ctx, xf_optim_step(opt, net_, 0.1));
            const char *dir = mode ? "headstep1" : s ? "step2" : "step1";
            int found = compare_params(ctx, g, net, dir);
            /* full: every weight and statistic of the network; head: its two */
            int params = 0;
            for (int v = 0; v < g->n_values; v++) params += g->values[v].is_param;
            CHECK(found == (mode ? 2 : params), "%s %s: %d of %d parameters compared", net, dir, found, params);
        }
        xf_optim_free(opt);
        xf_net_free(net_);
        xf_graph_free(g);
    }
    xf_free(ctx, x), free(y), xf_free(ctx, hw), xf_free(ctx, hb);
    xf_graph_free(src);
}

/* The whole protocol: xfer's test accuracy within PyTorch's seed-to-seed spread,
 * |xfer - mean| <= max(3 sd, 1 point) over PyTorch's five seeds. */
static void test_accuracy(xf_ctx_t *ctx) {
    char path[512];
    FILE *f = fopen(xt_ref("finetune/accuracy.json", path, sizeof path), "rb");
    CHECK(f != NULL, "%s present", path);
    if (!f) return;
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    cJSON *root = cJSON_Parse(buf);
    CHECK(root != NULL, "accuracy.json parses");
    if (!root) return;
    cJSON *proto = cJSON_GetObjectItem(root, "protocol"), *nets = cJSON_GetObjectItem(root, "nets");
    int64_t ntr, nte, n;
    float *xtr = fixture(ctx, "finetune/target_train_x.npy", &ntr, 1), *xte = fixture(ctx, "finetune/target_test_x.npy", &nte, 1);
    int32_t *ytr = labels(ctx, "finetune/target_train_y.npy", &n), *yte = labels(ctx, "finetune/target_test_y.npy", &nte);
    cJSON *ep = cJSON_GetObjectItem(proto, "epochs");
    if (!xtr || !xte || !ytr || !yte || !cJSON_IsNumber(ep)) {
        CHECK(0, "target fixtures present");
        goto done;
    }
    xf_imageset tr = {xtr, ytr, n, 1, 16, 16, 10}, te = {xte, yte, nte, 1, 16, 16, 10};
    for (int k = 0; k < 3; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "finetune/%s.onnx", NETS[k]);
        xf_graph *src = NULL;
        CHECK_OK(ctx, xf_onnx_import(ctx, xt_ref(rel, path, sizeof path), &src));
        if (!src) continue;
        for (int mode = 0; mode < 2; mode++) {
            if (sanitized() && mode == 0) continue; /* full runs take minutes under the sanitizers */
            cJSON *r = cJSON_GetObjectItem(cJSON_GetObjectItem(nets, NETS[k]), mode ? "head" : "full");
            cJSON *mean = cJSON_GetObjectItem(r, "mean"), *sd = cJSON_GetObjectItem(r, "std");
            if (!cJSON_IsNumber(mean) || !cJSON_IsNumber(sd)) {
                CHECK(0, "%s: accuracy.json has no mean/std", NETS[k]);
                continue;
            }
            xf_ft_opts o;
            xf_ft_opts_default(&o);
            o.mode = mode ? XF_FT_HEAD : XF_FT_FULL;
            o.epochs = (int64_t)ep->valuedouble;
            o.seed = 1;
            xf_ft_report rep;
            CHECK_OK(ctx, xf_finetune(ctx, src, &tr, &te, &o, NULL, &rep));
            double band = fmax(3 * sd->valuedouble, 1.0);
            CHECK(fabs(rep.test_acc - mean->valuedouble) <= band, "%s %s: xfer %.2f%%, PyTorch %.2f +- %.2f (5 seeds)",
                  NETS[k], mode ? "head" : "full", rep.test_acc, mean->valuedouble, sd->valuedouble);
            printf("%-10s %-5s xfer %6.2f%% (lr %g)   PyTorch %6.2f +- %.2f%%   %.1f s\n", NETS[k], mode ? "head" : "full",
                   rep.test_acc, rep.best_lr, mean->valuedouble, sd->valuedouble, rep.seconds);
        }
        xf_graph_free(src);
    }
done:
    xf_free(ctx, xtr), xf_free(ctx, xte), free(ytr), free(yte);
    cJSON_Delete(root);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    /* one thread: ctest runs tests side by side, and spinning OpenMP teams on a shared
     * machine cost minutes (the CLI asks libgomp for passive waiting; a test cannot) */
    xf_ctx_set_threads(ctx, 1);
    test_surgery(ctx);
    test_split(ctx);
    test_frozen_bn(ctx);
    test_protocol(ctx);
    for (int k = 0; k < 3; k++) test_first_steps(ctx, NETS[k]);
    test_accuracy(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_finetune");
}
