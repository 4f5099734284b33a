/* Training loop, evaluation and feature extraction over in-memory image sets.
 *
 * xf_train: per epoch a seeded shuffle, mini-batches assembled into one buffer with the
 * optional augmentation (random crop after zero padding by p pixels, i.e. a random
 * shift in [-p, p]^2 with zeros entering, and random horizontal flip, both as
 * torchvision's RandomCrop(padding=p) + RandomHorizontalFlip), forward, softmax
 * cross-entropy, backward, one optimizer step at the scheduled learning rate. A last
 * partial batch is used when it has at least 2 images (BatchNorm needs 2). After each
 * epoch the test set (if any) is evaluated in inference mode. All buffers are planned
 * up front; nothing is allocated per step. */
#include <math.h>
#include <string.h>

#include "nn/nnInt.h"

static xf_status check_set(xf_ctx_t *ctx, const xf_graph *g, const xf_imageset *s, const char *what) {
    if (!s || !s->x || s->N < 1) return XF_ERR(ctx, XF_ERR_INVALID, "%s set is empty", what);
    const xf_value *in = &g->values[g->input];
    if (in->ndim != 4 || in->shape[1] != s->C || in->shape[2] != s->H || in->shape[3] != s->W)
        return XF_ERR(ctx, XF_ERR_SHAPE, "%s set images are %lld x %lld x %lld, the network takes %lld x %lld x %lld", what,
                      (long long)s->C, (long long)s->H, (long long)s->W, (long long)(in->ndim > 1 ? in->shape[1] : 0),
                      (long long)(in->ndim > 2 ? in->shape[2] : 0), (long long)(in->ndim > 3 ? in->shape[3] : 0));
    return XF_OK;
}

static xf_status check_labels(xf_ctx_t *ctx, const xf_imageset *s, int64_t K, const char *what) {
    if (!s->y) return XF_ERR(ctx, XF_ERR_INVALID, "%s set has no labels", what);
    for (int64_t i = 0; i < s->N; i++)
        if (s->y[i] < 0 || s->y[i] >= K)
            return XF_ERR(ctx, XF_ERR_INVALID, "%s set: label %d of image %lld outside 0..%lld", what, (int)s->y[i],
                          (long long)i, (long long)(K - 1));
    return XF_OK;
}

static xf_status logits_dim(xf_ctx_t *ctx, xf_graph *g, int *ov, int64_t *K) {
    if (g->input < 0) return XF_ERR(ctx, XF_ERR_INVALID, "graph has no input");
    *ov = xf_graph_output_value(g);
    if (*ov < 0) return XF_ERR(ctx, XF_ERR_INVALID, "graph has no output");
    const xf_value *v = &g->values[*ov];
    if (v->ndim != 2 || v->shape[1] < 1)
        return XF_ERR(ctx, XF_ERR_SHAPE, "output '%s' is not (B, K) logits (run xf_graph_infer_shapes?)", v->name);
    *K = v->shape[1];
    return XF_OK;
}

xf_status xf_evaluate(xf_ctx_t *ctx, xf_graph *g, const xf_imageset *set, int64_t batch, double *acc) {
    if (!g || !acc) return XF_ERR(ctx, XF_ERR_INVALID, "xf_evaluate: graph or acc is NULL");
    int ov;
    int64_t K;
    xf_status st = logits_dim(ctx, g, &ov, &K);
    if (st || (st = check_set(ctx, g, set, "evaluation")) || (st = check_labels(ctx, set, K, "evaluation"))) return st;
    if (batch < 1) batch = 128;
    if (batch > set->N) batch = set->N;
    xf_net_t *net;
    if ((st = xf_net_create(ctx, g, batch, XF_NET_INFER, &net))) return st;
    int64_t per = set->C * set->H * set->W, correct = 0;
    for (int64_t i = 0; i < set->N; i += batch) {
        int64_t b = set->N - i < batch ? set->N - i : batch;
        if ((st = xf_net_forward(net, set->x + i * per, b))) break;
        const float *z = xf_net_data(net, ov);
        for (int64_t r = 0; r < b; r++) {
            int64_t am = 0;
            for (int64_t k = 1; k < K; k++)
                if (z[r * K + k] > z[r * K + am]) am = k;
            if (am == set->y[i + r]) correct++;
        }
    }
    xf_net_free(net);
    if (!st) *acc = 100.0 * (double)correct / (double)set->N;
    return st;
}

/* one augmented copy of image src (C x H x W) into dst */
static void augment(const float *src, float *dst, int64_t C, int64_t H, int64_t W, int64_t pad, int flip, xf_rng *r) {
    int64_t dy = 0, dx = 0;
    if (pad > 0) {
        dy = (int64_t)xf_rng_below(r, (uint64_t)(2 * pad + 1)) - pad;
        dx = (int64_t)xf_rng_below(r, (uint64_t)(2 * pad + 1)) - pad;
    }
    int fl = flip && (xf_rng_u64(r) & 1);
    for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H; h++) {
            int64_t sh = h + dy;
            float *d = dst + (c * H + h) * W;
            if (sh < 0 || sh >= H) {
                memset(d, 0, (size_t)W * sizeof(float));
                continue;
            }
            const float *s = src + (c * H + sh) * W;
            for (int64_t w = 0; w < W; w++) {
                int64_t sw = (fl ? W - 1 - w : w) + dx;
                d[w] = (sw >= 0 && sw < W) ? s[sw] : 0.0f;
            }
        }
}

xf_status xf_train(xf_ctx_t *ctx, xf_graph *g, const xf_imageset *train, const xf_imageset *test,
                   const xf_train_opts *o, xf_train_report *rep) {
    if (!g || !o) return XF_ERR(ctx, XF_ERR_INVALID, "xf_train: graph or options are NULL");
    int ov;
    int64_t K;
    xf_status st = logits_dim(ctx, g, &ov, &K);
    if (st || (st = check_set(ctx, g, train, "training")) || (st = check_labels(ctx, train, K, "training"))) return st;
    if (test && ((st = check_set(ctx, g, test, "test")) || (st = check_labels(ctx, test, K, "test")))) return st;
    if ((o->epochs < 1 && o->steps < 1) || o->batch < 2 || o->augment_crop_pad < 0 || o->augment_crop_pad > train->H)
        return XF_ERR(ctx, XF_ERR_INVALID, "xf_train: epochs %lld, batch %lld (>= 2), crop pad %lld out of range",
                      (long long)o->epochs, (long long)o->batch, (long long)o->augment_crop_pad);
    if (xf_graph_param_count(g, 1) == 0) return XF_ERR(ctx, XF_ERR_INVALID, "xf_train: no trainable parameters");
    int64_t batch = o->batch < train->N ? o->batch : train->N;
    if (batch < 2) return XF_ERR(ctx, XF_ERR_INVALID, "xf_train: need at least 2 training images");
    double t0 = xf_now();
    xf_net_t *net = NULL;
    xf_optim_t *opt = NULL;
    int64_t per = train->C * train->H * train->W;
    int64_t *perm = NULL;
    float *xb = NULL;
    int32_t *yb = NULL;
    if ((st = xf_net_create(ctx, g, batch, XF_NET_TRAIN, &net)) || (st = xf_optim_create(ctx, g, o, &opt))) goto done;
    perm = xf_malloc(ctx, (size_t)train->N * sizeof *perm);
    xb = xf_malloc(ctx, (size_t)(batch * per) * sizeof *xb);
    yb = xf_malloc(ctx, (size_t)batch * sizeof *yb);
    if (!perm || !xb || !yb) {
        st = XF_ERR_NOMEM;
        goto done;
    }
    xf_rng rng;
    xf_rng_seed(&rng, o->seed ? o->seed : xf_ctx_seed(ctx));
    int64_t nb_full = train->N / batch, rem = train->N % batch;
    int64_t steps_per_epoch = nb_full + (rem >= 2 ? 1 : 0);
    int64_t total = steps_per_epoch * o->epochs, step = 0;
    int64_t epochs = o->epochs;
    if (o->steps > 0) {
        total = o->steps;
        epochs = (total + steps_per_epoch - 1) / steps_per_epoch;
    }
    int aug = o->augment_flip || o->augment_crop_pad > 0;
    double last_loss = 0, last_acc = 0, test_acc = -1;
    for (int64_t ep = 0; ep < epochs; ep++) {
        for (int64_t i = 0; i < train->N; i++) perm[i] = i;
        xf_rng_shuffle_i64(&rng, perm, train->N);
        double lsum = 0;
        int64_t corr = 0, seen = 0;
        for (int64_t s = 0; s < steps_per_epoch && step < total; s++) {
            int64_t b = (s < nb_full) ? batch : rem;
            for (int64_t r = 0; r < b; r++) {
                int64_t idx = perm[s * batch + r];
                const float *src = train->x + idx * per;
                if (aug) augment(src, xb + r * per, train->C, train->H, train->W, o->augment_crop_pad, o->augment_flip, &rng);
                else memcpy(xb + r * per, src, (size_t)per * sizeof(float));
                yb[r] = train->y[idx];
            }
            float loss;
            int64_t c;
            if ((st = xf_net_forward(net, xb, b)) || (st = xf_net_loss(net, ov, yb, &loss, &c))) goto done;
            if (!isfinite(loss)) {
                st = XF_ERR(ctx, XF_ERR_NUMERIC, "xf_train: loss became %g at step %lld (learning rate too high?)", loss,
                            (long long)step);
                goto done;
            }
            if ((st = xf_net_backward(net))) goto done;
            if ((st = xf_optim_step(opt, net, xf_train_lr_at(o, step, total)))) goto done;
            step++;
            lsum += (double)loss * (double)b;
            corr += c;
            seen += b;
            xf_progress(ctx, "train", step, total);
        }
        last_loss = lsum / (double)(seen ? seen : 1);
        last_acc = 100.0 * (double)corr / (double)(seen ? seen : 1);
        if (test) {
            if ((st = xf_evaluate(ctx, g, test, batch, &test_acc))) goto done;
        }
        xf_log(ctx, XF_LOG_INFO, "epoch %lld: loss %.4f, train acc %.2f%%, test acc %.2f%%, %.1f s", (long long)(ep + 1),
               last_loss, last_acc, test_acc, xf_now() - t0);
        if (o->on_epoch) o->on_epoch(o->user, ep + 1, epochs, last_loss, last_acc);
    }
    if (rep) {
        rep->final_loss = last_loss;
        rep->train_acc = last_acc;
        rep->test_acc = test_acc;
        rep->seconds = xf_now() - t0;
        rep->steps = step;
    }
done:
    xf_free(ctx, perm);
    xf_free(ctx, xb);
    xf_free(ctx, yb);
    xf_optim_free(opt);
    xf_net_free(net);
    return st;
}

xf_status xf_net_extract(xf_ctx_t *ctx, xf_graph *g, const float *x, int64_t N, int64_t batch, int value_id,
                         int softmax, float *out, int64_t *dim) {
    if (!g || !x || !out || N < 1) return XF_ERR(ctx, XF_ERR_INVALID, "xf_net_extract: NULL argument or no images");
    if (value_id < 0 || value_id >= g->n_values || g->values[value_id].is_param)
        return XF_ERR(ctx, XF_ERR_NOTFOUND, "xf_net_extract: value %d is not an activation of the graph", value_id);
    if (batch < 1) batch = 32;
    if (batch > N) batch = N;
    xf_net_t *net;
    xf_net_opts opts = {&value_id, 1, 0, 0};
    xf_status st = xf_net_create_ex(ctx, g, batch, XF_NET_INFER, &opts, &net);
    if (st) return st;
    int nd;
    int64_t sh[XF_NN_MAXDIM];
    xf_net_shape(net, value_id, &nd, sh);
    int64_t D = nn_shape_numel(nd - 1, sh + 1);
    const xf_value *in = &g->values[g->input];
    int64_t per = nn_shape_numel(in->ndim - 1, in->shape + 1);
    for (int64_t i = 0; i < N && !st; i += batch) {
        int64_t b = N - i < batch ? N - i : batch;
        if ((st = xf_net_forward(net, x + i * per, b))) break;
        const float *v = xf_net_data(net, value_id);
        if (!v) {
            st = XF_ERR(ctx, XF_ERR_INTERNAL, "xf_net_extract: value %d not computed", value_id);
            break;
        }
        memcpy(out + i * D, v, (size_t)(b * D) * sizeof(float));
        if (softmax) xf_nn_softmax_rows(out + i * D, b, D);
        xf_progress(ctx, "extract", i + b, N);
    }
    xf_net_free(net);
    if (!st && dim) *dim = D;
    return st;
}
