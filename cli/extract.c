/* xfer extract: run an ONNX model over images and save one tensor per image.
 *
 *   xfer extract --model m.onnx --images X.npy [--layer auto|NAME] [--probs P.npy]
 *                [--batch 32] [--threads N] -o F.npy
 *
 * X is (N, C, H, W) float32 (any float/int dtype is converted) of normalised images.
 * --layer auto taps the input of the last Gemm/MatMul (the penultimate features PARC and
 * LogME score); NAME is any tensor of the model. F is (N, D), D the product of the
 * tapped tensor's non-batch dims. --probs also writes the softmax of the model's final
 * output (source-class probabilities for LEEP/NCE), (N, Z), from the same forward pass.
 * Built on the public headers only; progress goes to stderr through the context. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfer/onnx.h"

static const char *USAGE =
    "usage: xfer extract --model m.onnx --images X.npy [--layer auto|NAME] [--probs P.npy]\n"
    "                    [--batch 32] [--threads N] -o F.npy\n"
    "\n"
    "Runs the model over X ((N, C, H, W) float32 .npy of normalised images) and writes the\n"
    "tensor named by --layer for every image to F ((N, D) float32). --layer auto (default)\n"
    "is the input of the last Gemm/MatMul. --probs writes softmax(final output) (N, Z).\n";

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Non-batch element count of a value after planning. */
static int value_dim(xf_net_t *net, int id, int64_t *dim) {
    int nd;
    int64_t shape[XF_NN_MAXDIM];
    if (xf_net_shape(net, id, &nd, shape) != XF_OK) return -1;
    int64_t d = 1;
    for (int k = 1; k < nd; k++) d *= shape[k];
    *dim = d;
    return 0;
}

/* Row-wise softmax in float64 (max-shifted), written back as float32. */
static void softmax_rows(float *p, int64_t n, int64_t z) {
    for (int64_t i = 0; i < n; i++) {
        float *r = p + i * z;
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < z; k++) mx = r[k] > mx ? r[k] : mx;
        for (int64_t k = 0; k < z; k++) s += exp((double)r[k] - mx);
        for (int64_t k = 0; k < z; k++) r[k] = (float)(exp((double)r[k] - mx) / s);
    }
}

int xf_cli_extract(int argc, char **argv) {
    const char *cmd = "extract", *model = NULL, *images = NULL, *layer = "auto", *probs = NULL, *out = NULL;
    int64_t batch = 32, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (i + 1 >= argc) return xf_cli_usage(cmd, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--images")) images = v;
        else if (!strcmp(a, "--layer")) layer = v;
        else if (!strcmp(a, "--probs")) probs = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--batch")) {
            if (parse_i64(v, 1, 1 << 20, &batch)) return xf_cli_usage(cmd, "--batch must be an integer >= 1, got '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            if (parse_i64(v, 0, 4096, &threads)) return xf_cli_usage(cmd, "--threads must be an integer >= 0, got '%s'", v);
        } else
            return xf_cli_usage(cmd, "unknown option '%s'", a);
    }
    if (!model) return xf_cli_usage(cmd, "--model is required");
    if (!images) return xf_cli_usage(cmd, "--images is required");
    if (!out) return xf_cli_usage(cmd, "-o is required");

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(cmd, NULL);
    if (threads > 0) xf_ctx_set_threads(ctx, (int)threads);
    int rc = 1;
    xf_graph *g = NULL;
    xf_net_t *net = NULL;
    xf_array xa;
    memset(&xa, 0, sizeof xa);
    float *x = NULL, *feat = NULL, *prob = NULL;

    if (xf_onnx_import(ctx, model, &g) != XF_OK) goto fail;
    if (xf_npy_read(ctx, images, &xa) != XF_OK) goto fail;
    const xf_value *in = &g->values[g->input];
    if (xa.ndim != in->ndim) {
        XF_ERR(ctx, XF_ERR_SHAPE, "%s: %d-D images, the model '%s' takes %d-D input", images, xa.ndim, model, in->ndim);
        goto fail;
    }
    for (int k = 1; k < in->ndim; k++)
        if (in->shape[k] > 0 && xa.shape[k] != in->shape[k]) {
            XF_ERR(ctx, XF_ERR_SHAPE, "%s: image dimension %d is %lld, the model '%s' takes %lld", images, k,
                   (long long)xa.shape[k], model, (long long)in->shape[k]);
            goto fail;
        }
    int64_t N = xa.shape[0];
    if (N < 1) {
        XF_ERR(ctx, XF_ERR_SHAPE, "%s: no images", images);
        goto fail;
    }
    if (xf_array_to_f32(ctx, &xa, 1, &x) != XF_OK) {
        xf_error_prefix(ctx, images);
        goto fail;
    }
    int64_t per = xa.size / N;
    xf_array_free(ctx, &xa);

    int fv;
    if (!strcmp(layer, "auto")) {
        fv = xf_graph_feature_value(g);
        if (fv < 0) {
            XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no Gemm/MatMul in the model: name the feature tensor with --layer", model);
            goto fail;
        }
    } else if ((fv = xf_graph_find(g, layer)) < 0 || g->values[fv].is_param) {
        XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: no tensor named '%s' computed by the model", model, layer);
        goto fail;
    }
    int ov = xf_graph_output_value(g);
    if (probs && ov < 0) {
        XF_ERR(ctx, XF_ERR_NOTFOUND, "%s: the model has no output for --probs", model);
        goto fail;
    }
    int64_t B = batch < N ? batch : N;
    if (xf_net_create(ctx, g, B, XF_NET_INFER, &net) != XF_OK) goto fail;
    int64_t D, Z = 0;
    if (value_dim(net, fv, &D) || (probs && value_dim(net, ov, &Z))) goto fail;
    feat = xf_calloc(ctx, (size_t)N, (size_t)D * sizeof *feat);
    if (!feat) goto fail;
    if (probs && !(prob = xf_calloc(ctx, (size_t)N, (size_t)Z * sizeof *prob))) goto fail;
    xf_progress(ctx, "extract", 0, N);
    for (int64_t i = 0; i < N; i += B) {
        int64_t b = N - i < B ? N - i : B;
        if (xf_net_forward(net, x + i * per, b) != XF_OK) goto fail;
        const float *f = xf_net_data(net, fv);
        if (!f) {
            XF_ERR(ctx, XF_ERR_INTERNAL, "%s: tensor '%s' was not computed", model, g->values[fv].name);
            goto fail;
        }
        memcpy(feat + i * D, f, (size_t)(b * D) * sizeof *feat);
        if (prob) {
            const float *o = xf_net_data(net, ov);
            if (!o) {
                XF_ERR(ctx, XF_ERR_INTERNAL, "%s: output was not computed", model);
                goto fail;
            }
            memcpy(prob + i * Z, o, (size_t)(b * Z) * sizeof *prob);
        }
        xf_progress(ctx, "extract", i + b, N);
    }
    int64_t fshape[2] = {N, D};
    if (xf_npy_write_raw(ctx, out, XF_DT_F32, 2, fshape, feat) != XF_OK) goto fail;
    if (prob) {
        softmax_rows(prob, N, Z);
        int64_t pshape[2] = {N, Z};
        if (xf_npy_write_raw(ctx, probs, XF_DT_F32, 2, pshape, prob) != XF_OK) goto fail;
    }
    rc = 0;
fail:
    if (rc) xf_cli_fail(cmd, ctx);
    xf_free(ctx, prob);
    xf_free(ctx, feat);
    xf_free(ctx, x);
    xf_array_free(ctx, &xa);
    xf_net_free(net);
    xf_graph_free(g);
    xf_ctx_free(ctx);
    return rc;
}
