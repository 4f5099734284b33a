/* nn training: optimizer updates against torch.optim (fixtures from gen_nn.py), the
 * learning-rate schedules, freezing (head-only), augmentation through xf_train, and the
 * end-to-end check: a small CNN on Fashion-MNIST reaches >= 90% test accuracy within
 * 3 epochs (XF_SANITIZED=1: 2,000 images, 1 epoch, the loss must decrease). Skips the
 * Fashion-MNIST part with a message when the dataset is absent. */
#include <unistd.h>

#include "xfer/array.h"
#include "xfer/data.h"
#include "xfer/nn.h"
#include "xfer/npy.h"
#include "xfer/onnx.h"
#include "xtest.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static float *load_f32(xf_ctx_t *ctx, const char *rel, int64_t *n) {
    char p[512], q[600];
    snprintf(q, sizeof q, "nn/%s", rel);
    xf_array a;
    if (xf_npy_read(ctx, xt_ref(q, p, sizeof p), &a) != XF_OK) {
        CHECK(0, "read %s: %s", q, xf_errmsg(ctx));
        return NULL;
    }
    float *f = NULL;
    xf_array_to_f32(ctx, &a, 0, &f);
    if (n) *n = (int64_t)a.size;
    xf_array_free(ctx, &a);
    return f;
}

/* one parameter w (n) driven by the gradient sequence of the fixture */
static void test_optim_vs_torch(xf_ctx_t *ctx) {
    const char *names[3] = {"sgd", "sgd_nesterov", "adamw"};
    for (int k = 0; k < 3; k++) {
        char f[64];
        int64_t n, ng, nw;
        snprintf(f, sizeof f, "optim_%s_w0.npy", names[k]);
        float *w0 = load_f32(ctx, f, &n);
        snprintf(f, sizeof f, "optim_%s_grads.npy", names[k]);
        float *gs = load_f32(ctx, f, &ng);
        snprintf(f, sizeof f, "optim_%s_w.npy", names[k]);
        float *wt = load_f32(ctx, f, &nw);
        if (!w0 || !gs || !wt) return;
        int steps = (int)(ng / n);
        /* graph: y = Mul(x, w) so that dL/dw = dy * x; with x = 1, dy = g gives grad g */
        xf_graph *g;
        xf_graph_create(ctx, &g);
        int x, wv, y;
        int64_t xs[2] = {-1, n}, ws[2] = {1, n};
        xf_graph_add_value(g, "x", 2, xs, NULL, &x);
        xf_graph_add_value(g, "w", 2, ws, w0, &wv);
        xf_graph_add_value(g, "y", 2, xs, NULL, &y);
        g->input = x;
        int in[2] = {x, wv};
        CHECK_OK(ctx, xf_graph_add_node(g, XF_OP_MUL, "m", in, 2, &y, 1, NULL));
        CHECK_OK(ctx, xf_graph_infer_shapes(g));
        xf_train_opts o;
        xf_train_opts_default(&o);
        o.lr = 0.05;
        o.momentum = 0.9;
        o.weight_decay = 0.01;
        o.nesterov = k == 1;
        if (k == 2) {
            o.optim = XF_OPT_ADAMW;
            o.lr = 0.01;
            o.beta1 = 0.9;
            o.beta2 = 0.99;
            o.adam_eps = 1e-6;
            o.weight_decay = 0.1;
        }
        xf_net_t *net;
        xf_optim_t *opt;
        CHECK_OK(ctx, xf_net_create(ctx, g, 1, XF_NET_TRAIN, &net));
        CHECK_OK(ctx, xf_optim_create(ctx, g, &o, &opt));
        float *ones = malloc(sizeof(float) * n);
        for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
        for (int s = 0; s < steps; s++) {
            CHECK_OK(ctx, xf_net_forward(net, ones, 1));
            CHECK_OK(ctx, xf_net_seed_grad(net, y, gs + s * n));
            CHECK_OK(ctx, xf_net_backward(net));
            CHECK_OK(ctx, xf_optim_step(opt, net, o.lr));
        }
        for (int64_t i = 0; i < n; i++) CHECK_NEAR(g->values[wv].data[i], wt[i], 1e-5, 1e-6, names[k]);
        CHECK_ST(ctx, xf_optim_step(opt, net, -1.0), XF_ERR_INVALID);
        free(ones);
        xf_optim_free(opt);
        xf_net_free(net);
        xf_graph_free(g);
        xf_free(ctx, w0);
        xf_free(ctx, gs);
        xf_free(ctx, wt);
    }
    /* bad options */
    xf_graph *g;
    CHECK_OK(ctx, xf_model_small_cnn(ctx, 1, 8, 8, 3, 4, 4, &g));
    xf_train_opts o;
    xf_train_opts_default(&o);
    xf_optim_t *opt;
    o.momentum = 1.5;
    CHECK_ST(ctx, xf_optim_create(ctx, g, &o, &opt), XF_ERR_INVALID);
    o.momentum = 0.9;
    o.optim = XF_OPT_ADAMW;
    o.beta2 = 1.0;
    CHECK_ST(ctx, xf_optim_create(ctx, g, &o, &opt), XF_ERR_INVALID);
    xf_graph_free(g);
}

static void test_schedules(void) {
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 0.2;
    o.sched = XF_SCHED_COSINE;
    CHECK_NEAR(xf_train_lr_at(&o, 0, 100), 0.2, 1e-12, 0, "cosine start");
    CHECK_NEAR(xf_train_lr_at(&o, 50, 100), 0.1, 1e-12, 1e-12, "cosine middle");
    CHECK_NEAR(xf_train_lr_at(&o, 100, 100), 0.0, 0, 1e-12, "cosine end");
    o.warmup_steps = 10;
    CHECK_NEAR(xf_train_lr_at(&o, 0, 110), 0.02, 1e-12, 0, "warm-up first step");
    CHECK_NEAR(xf_train_lr_at(&o, 9, 110), 0.2, 1e-12, 0, "warm-up last step");
    CHECK_NEAR(xf_train_lr_at(&o, 60, 110), 0.1, 1e-12, 1e-12, "cosine after warm-up");
    o.warmup_steps = 0;
    o.sched = XF_SCHED_STEP;
    o.step_gamma = 0.1;
    o.milestones[0] = 0.5;
    o.milestones[1] = 0.75;
    o.n_milestones = 2;
    CHECK_NEAR(xf_train_lr_at(&o, 49, 100), 0.2, 1e-12, 0, "step before");
    CHECK_NEAR(xf_train_lr_at(&o, 50, 100), 0.02, 1e-12, 0, "step first milestone");
    CHECK_NEAR(xf_train_lr_at(&o, 80, 100), 0.002, 1e-12, 0, "step second milestone");
    o.sched = XF_SCHED_CONST;
    CHECK_NEAR(xf_train_lr_at(&o, 80, 100), 0.2, 1e-12, 0, "constant");
}

/* synthetic 2-class images: class 1 has a bright left half; head-only freezing keeps
 * every other parameter bit-identical; augmentation paths run */
static void test_freeze_and_augment(xf_ctx_t *ctx) {
    int64_t N = 64, H = 8, W = 8;
    float *x = malloc(sizeof(float) * N * H * W);
    int32_t *y = malloc(sizeof(int32_t) * N);
    xf_rng r;
    xf_rng_seed(&r, 5);
    for (int64_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % 2);
        for (int64_t p = 0; p < H * W; p++)
            x[i * H * W + p] = (float)(0.3 * xf_rng_normal(&r) + ((y[i] && p % W < W / 2) ? 1.0 : 0.0));
    }
    xf_imageset set = {x, y, N, 1, H, W, 2};
    xf_graph *g;
    CHECK_OK(ctx, xf_model_small_cnn(ctx, 1, H, W, 2, 4, 8, &g));
    if (!g) return;
    int cw = xf_graph_find(g, "conv1.weight"), fw = xf_graph_find(g, "fc.weight");
    float c0 = g->values[cw].data[0], f0 = g->values[fw].data[0];
    xf_graph_set_trainable(g, 0);
    xf_graph_set_trainable_prefix(g, "fc.", 1);
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.batch = 16;
    o.epochs = 2;
    o.lr = 0.05;
    o.augment_flip = 1;
    o.augment_crop_pad = 1;
    xf_train_report rep;
    CHECK_OK(ctx, xf_train(ctx, g, &set, &set, &o, &rep));
    CHECK(g->values[cw].data[0] == c0, "frozen conv weight unchanged");
    CHECK(g->values[fw].data[0] != f0, "head weight changed");
    CHECK(rep.steps == 8, "steps %lld", (long long)rep.steps);
    CHECK(rep.test_acc >= 0 && rep.test_acc <= 100, "test acc %g", rep.test_acc);
    /* full training learns the easy task */
    xf_graph_set_trainable(g, 1);
    o.epochs = 6;
    o.augment_crop_pad = 0;
    o.augment_flip = 0;
    o.optim = XF_OPT_ADAMW;
    o.lr = 0.01;
    o.weight_decay = 0.01;
    o.warmup_steps = 2;
    CHECK_OK(ctx, xf_train(ctx, g, &set, &set, &o, &rep));
    CHECK(rep.test_acc >= 90.0, "synthetic task accuracy %.1f%%", rep.test_acc);
    double acc;
    CHECK_OK(ctx, xf_evaluate(ctx, g, &set, 10, &acc));
    CHECK_NEAR(acc, rep.test_acc, 0, 1e-9, "evaluate matches the report");
    /* extraction: logits with softmax sum to one; features have the GAP width */
    float *out = malloc(sizeof(float) * N * 8);
    int64_t D;
    CHECK_OK(ctx, xf_net_extract(ctx, g, x, N, 7, xf_graph_output_value(g), 1, out, &D));
    CHECK(D == 2 && fabs(out[0] + out[1] - 1.0) < 1e-5, "softmax probabilities");
    CHECK_OK(ctx, xf_net_extract(ctx, g, x, N, 7, xf_graph_feature_value(g), 0, out, &D));
    CHECK(D == 8, "feature dim %lld", (long long)D);
    CHECK_ST(ctx, xf_net_extract(ctx, g, x, N, 7, cw, 0, out, &D), XF_ERR_NOTFOUND);
    /* errors */
    y[3] = 5;
    CHECK_ST(ctx, xf_train(ctx, g, &set, NULL, &o, &rep), XF_ERR_INVALID);
    y[3] = 1;
    xf_imageset bad = set;
    bad.H = 9;
    CHECK_ST(ctx, xf_train(ctx, g, &bad, NULL, &o, &rep), XF_ERR_SHAPE);
    o.batch = 1;
    CHECK_ST(ctx, xf_train(ctx, g, &set, NULL, &o, &rep), XF_ERR_INVALID);
    o.batch = 16;
    xf_graph_set_trainable(g, 0);
    CHECK_ST(ctx, xf_train(ctx, g, &set, NULL, &o, &rep), XF_ERR_INVALID);
    free(out);
    xf_graph_free(g);
    free(x);
    free(y);
}

static int load_fmnist(xf_ctx_t *ctx, const char *img, const char *lab, int64_t limit, float **x, int32_t **y,
                       int64_t *N) {
    char p[512];
    xf_array a, b;
    snprintf(p, sizeof p, "%s/%s", FMNIST, img);
    if (xf_idx_read(ctx, p, &a) != XF_OK) {
        CHECK(0, "%s", xf_errmsg(ctx));
        return 0;
    }
    snprintf(p, sizeof p, "%s/%s", FMNIST, lab);
    if (xf_idx_read(ctx, p, &b) != XF_OK) {
        CHECK(0, "%s", xf_errmsg(ctx));
        xf_array_free(ctx, &a);
        return 0;
    }
    int64_t n = a.shape[0] < limit ? a.shape[0] : limit;
    *x = malloc(sizeof(float) * n * 784);
    *y = malloc(sizeof(int32_t) * n);
    const uint8_t *ab = a.data, *bb = b.data;
    for (int64_t i = 0; i < n * 784; i++) (*x)[i] = ((float)ab[i] / 255.0f - 0.2860f) / 0.3530f;
    for (int64_t i = 0; i < n; i++) (*y)[i] = bb[i];
    *N = n;
    xf_array_free(ctx, &a);
    xf_array_free(ctx, &b);
    return 1;
}

static double mean_loss(xf_ctx_t *ctx, xf_graph *g, const float *x, const int32_t *y, int64_t N) {
    xf_net_t *net;
    if (xf_net_create(ctx, g, 250, XF_NET_INFER, &net)) return NAN;
    double s = 0;
    for (int64_t i = 0; i < N; i += 250) {
        int64_t b = N - i < 250 ? N - i : 250;
        float l;
        int64_t c;
        xf_net_forward(net, x + i * 784, b);
        xf_net_loss(net, xf_graph_output_value(g), y + i, &l, &c);
        s += l * b;
    }
    xf_net_free(net);
    return s / N;
}

static void test_fashion_mnist(xf_ctx_t *ctx) {
    if (access(FMNIST "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("test_nn_train: %s absent, skipping the Fashion-MNIST run\n", FMNIST);
        return;
    }
    const char *san = getenv("XF_SANITIZED");
    int quick = san && strcmp(san, "1") == 0;
    float *xtr, *xte;
    int32_t *ytr, *yte;
    int64_t Ntr, Nte;
    if (!load_fmnist(ctx, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", quick ? 2000 : 60000, &xtr, &ytr, &Ntr))
        return;
    if (!load_fmnist(ctx, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", quick ? 500 : 10000, &xte, &yte, &Nte)) {
        free(xtr);
        free(ytr);
        return;
    }
    xf_ctx_set_seed(ctx, 1);
    xf_graph *g;
    CHECK_OK(ctx, xf_model_small_cnn_flat(ctx, 1, 28, 28, 10, 16, 32, &g));
    xf_imageset tr = {xtr, ytr, Ntr, 1, 28, 28, 10}, te = {xte, yte, Nte, 1, 28, 28, 10};
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.optim = XF_OPT_SGD;
    o.lr = quick ? 0.02 : 0.1; /* 16 steps: keep BN running statistics in step with the weights */
    o.momentum = 0.9;
    o.nesterov = 1;
    o.weight_decay = 5e-4;
    o.batch = 128;
    o.epochs = quick ? 1 : 2;
    o.sched = XF_SCHED_COSINE;
    o.warmup_steps = quick ? 2 : 50;
    o.seed = 7;
    double l0 = mean_loss(ctx, g, xtr, ytr, Ntr);
    xf_train_report rep;
    xf_status st = xf_train(ctx, g, &tr, &te, &o, &rep);
    CHECK(st == XF_OK, "train: %s", xf_errmsg(ctx));
    double l1 = mean_loss(ctx, g, xtr, ytr, Ntr);
    printf("test_nn_train: Fashion-MNIST %lld train images, %lld epochs, %d threads: loss %.4f -> %.4f, train acc %.2f%%, "
           "test acc %.2f%%, %.1f s\n",
           (long long)Ntr, (long long)o.epochs, xf_ctx_threads(ctx), l0, l1, rep.train_acc, rep.test_acc, rep.seconds);
    CHECK(l1 < l0, "training loss decreased: %g -> %g", l0, l1);
    if (!quick) CHECK(rep.test_acc >= 90.0, "Fashion-MNIST test accuracy %.2f%% (want >= 90%%)", rep.test_acc);

    /* the trained network goes out as ONNX and comes back with the same predictions */
    char onnx_path[512];
    xt_tmp("fmnist_trained.onnx", onnx_path, sizeof onnx_path);
    CHECK_OK(ctx, xf_onnx_export(ctx, g, onnx_path));
    xf_graph *g2 = NULL;
    CHECK_OK(ctx, xf_onnx_import(ctx, onnx_path, &g2));
    float *o1 = malloc(sizeof *o1 * (size_t)Nte * 10), *o2 = malloc(sizeof *o2 * (size_t)Nte * 10);
    int64_t d1 = 0, d2 = 0;
    if (g2 && o1 && o2) {
        CHECK_OK(ctx, xf_net_extract(ctx, g, xte, Nte, 256, xf_graph_output_value(g), 0, o1, &d1));
        CHECK_OK(ctx, xf_net_extract(ctx, g2, xte, Nte, 256, xf_graph_output_value(g2), 0, o2, &d2));
        CHECK(d1 == 10 && d2 == 10, "exported logits: %lld and %lld outputs", (long long)d1, (long long)d2);
        int64_t same = 0, correct = 0;
        double maxd = 0, maxv = 0;
        for (int64_t i = 0; i < Nte && d1 == 10 && d2 == 10; i++) {
            int a = 0, b = 0;
            for (int k = 1; k < 10; k++) {
                if (o1[i * 10 + k] > o1[i * 10 + a]) a = k;
                if (o2[i * 10 + k] > o2[i * 10 + b]) b = k;
            }
            for (int k = 0; k < 10; k++) {
                maxd = fmax(maxd, fabs((double)o1[i * 10 + k] - o2[i * 10 + k]));
                maxv = fmax(maxv, fabs((double)o1[i * 10 + k]));
            }
            same += a == b;
            correct += b == yte[i];
        }
        printf("test_nn_train: re-imported ONNX export: %lld/%lld same predictions, accuracy %.2f%%, max|dlogit|/max|logit| %.2e\n",
               (long long)same, (long long)Nte, 100.0 * (double)correct / (double)Nte, maxd / (maxv > 0 ? maxv : 1));
        CHECK(same == Nte, "exported model changed %lld of %lld predictions", (long long)(Nte - same), (long long)Nte);
        CHECK(maxd <= 1e-5 * (maxv > 0 ? maxv : 1), "exported logits differ: %g (max %g)", maxd, maxv);
    }
    free(o1);
    free(o2);
    xf_graph_free(g2);
    xf_graph_free(g);
    free(xtr);
    free(ytr);
    free(xte);
    free(yte);
}

int main(int argc, char **argv) {
    /* libgomp reads its wait policy once at start-up; on a shared, oversubscribed machine
     * its default spin-waiting makes two threads far slower than one, so this long test
     * re-executes itself with passive waiting unless the caller chose a policy. */
    if (argc > 0 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv);
    }
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    test_schedules();
    test_optim_vs_torch(ctx);
    test_freeze_and_augment(ctx);
    test_fashion_mnist(ctx);
    xf_ctx_free(ctx);
    return xt_done("test_nn_train");
}
