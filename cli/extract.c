/* xfer extract: run an ONNX model over images and save one tensor per image.
 *
 *   xfer extract --model m.onnx --images X.npy|DATA [--layer auto|NAME] [--probs P.npy]
 *                [--batch 32] [--threads N] [--mean a,b,c --std a,b,c] -o F.npy
 *
 * X.npy is (N, C, H, W) of normalised images (any float/int dtype is converted), used
 * as it is. Any other DATA is a data spec of xf_data_open (include/xfer/data.h: an image
 * folder, IDX files, digits, corpus:<task>[:split]): images are resized/cropped to the
 * model's input size and channels and normalised with --mean/--std (default 0 and 1).
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
#include "xfer/data.h"
#include "xfer/onnx.h"
#include "xfer/select.h"
#include "xfer/files.h"

static const char *USAGE =
    "usage: xfer extract --model m.onnx --images X.npy|DATA [--layer auto|NAME] [--probs P.npy]\n"
    "                    [--batch 32] [--threads N] [data options] [--probe N [--seed S]]\n"
    "                    [--labels-out y.npy] -o F.npy\n"
    XF_CLI_DATA_HELP
    "\n"
    "Runs the model over the images and writes the tensor named by --layer for every image\n"
    "to F ((N, D) float32). X.npy: (N, C, H, W) normalised images, used as they are. DATA\n"
    "(also --data): an image folder, IDX files, digits or corpus:<task>[:split], resized to\n"
    "the model's input (or --size) and normalised with --mean/--std. --probe N samples a\n"
    "PARC fixed-budget probe set of N images (at least 2 per class) from DATA first, and\n"
    "--labels-out writes the labels of the images extracted. --layer auto (default) is the\n"
    "input of the last Gemm/MatMul. --probs writes softmax(final output) (N, Z). The outputs\n"
    "appear together once everything succeeded; an output that is an input is refused.\n";

static int is_npy(const char *p) {
    size_t l = strlen(p);
    return l > 4 && !strcmp(p + l - 4, ".npy");
}

int xf_cli_extract(int argc, char **argv) {
    const char *cmd = "extract", *model = NULL, *images = NULL, *layer = "auto", *probs = NULL, *out = NULL;
    const char *labels_out = NULL;
    int64_t batch = 32, threads = 0, probe = 0, seed = (int64_t)XF_PROBE_SEED(0);
    float mean[3] = {0, 0, 0}, stdv[3] = {1, 1, 1};
    xf_data_opts dopt;
    xf_data_opts_default(&dopt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(a, "--mean") && strcmp(a, "--std")) {
            int d = xf_cli_data_opt(cmd, argc, argv, &i, &dopt);
            if (d < 0) return 2;
            if (d > 0) continue;
        }
        if (i + 1 >= argc) return xf_cli_usage(cmd, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--images") || !strcmp(a, "--data")) images = v;
        else if (!strcmp(a, "--labels-out")) labels_out = v;
        else if (!strcmp(a, "--probe")) {
            if (xf_cli_parse_i64(v, 0, INT64_MAX / 2, &probe)) return xf_cli_usage(cmd, "--probe must be a count >= 0, got '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            if (xf_cli_parse_i64(v, 0, INT64_MAX, &seed)) return xf_cli_usage(cmd, "--seed must be an integer >= 0, got '%s'", v);
        }
        else if (!strcmp(a, "--layer")) layer = v;
        else if (!strcmp(a, "--probs")) probs = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--mean")) {
            if (xf_cli_parse_norm(v, mean, 0))
                return xf_cli_usage(cmd, "--mean takes 1 or 3 comma-separated numbers in [-1e6, 1e6], got '%s'", v);
        } else if (!strcmp(a, "--std")) {
            if (xf_cli_parse_norm(v, stdv, 1))
                return xf_cli_usage(cmd, "--std takes 1 or 3 comma-separated numbers in [1e-6, 1e6], got '%s'", v);
        } else if (!strcmp(a, "--batch")) {
            if (xf_cli_parse_i64(v, 1, 1 << 20, &batch)) return xf_cli_usage(cmd, "--batch must be an integer >= 1, got '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            if (xf_cli_parse_i64(v, 0, 4096, &threads)) return xf_cli_usage(cmd, "--threads must be an integer >= 0, got '%s'", v);
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
    xf_array xa;
    memset(&xa, 0, sizeof xa);
    xf_dataset ds;
    memset(&ds, 0, sizeof ds);
    float *x = NULL, *feat = NULL, *prob = NULL;
    /* the outputs appear together, after everything succeeded, and never over an input */
    if (xf_out_begin(ctx) || xf_out_input(ctx, model) || xf_out_input(ctx, images) || xf_out_input(ctx, dopt.labels) ||
        xf_out_claim(ctx, out) || (probs && xf_out_claim(ctx, probs)) || (labels_out && xf_out_claim(ctx, labels_out)))
        goto fail;

    if (xf_onnx_import(ctx, model, &g) != XF_OK) goto fail;
    const xf_value *in = &g->values[g->input];
    if (!is_npy(images)) {
        /* a data spec: decoded, resized to the model's input, normalised */
        xf_data_opts o = dopt;
        if (xf_cli_fit_data_to_model(ctx, model, g, &o)) goto fail;
        for (int k = 0; k < 3; k++) o.mean[k] = mean[k], o.std[k] = stdv[k];
        int64_t *idx = NULL, m = 0;
        if (xf_data_open_probe(ctx, images, &o, probe, XF_PROBE_MIN_PER_CLASS, (uint64_t)seed, &ds, &idx, &m) != XF_OK) goto fail;
        xf_free(ctx, idx);
        if (labels_out) {
            int64_t *lab = xf_malloc(ctx, sizeof *lab * (size_t)(ds.n ? ds.n : 1)), shape1[1] = {ds.n};
            if (!lab) goto fail;
            for (int64_t i = 0; i < ds.n; i++) lab[i] = ds.y[i];
            xf_status ls = xf_npy_write_raw(ctx, labels_out, XF_DT_I64, 1, shape1, lab);
            xf_free(ctx, lab);
            if (ls) goto fail;
        }
        int64_t shape[4] = {ds.n, ds.c, ds.h, ds.w};
        if (xf_array_alloc(ctx, &xa, XF_DT_F32, 4, shape) != XF_OK) goto fail;
        memcpy(xa.data, ds.x, (size_t)xa.size * sizeof(float));
        xf_dataset_free(ctx, &ds);
    } else if (xf_npy_read(ctx, images, &xa) != XF_OK)
        goto fail;
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
    int64_t D = 0, Z = 0;
    /* one pass keeps both tensors (include/xfer/select.h, shared with xfer rank) */
    if (xf_select_extract(ctx, g, x, N, batch, fv, ov, &feat, &D, probs ? &prob : NULL, &Z) != XF_OK) {
        xf_error_prefix(ctx, model);
        goto fail;
    }
    int64_t fshape[2] = {N, D};
    if (xf_npy_write_raw(ctx, out, XF_DT_F32, 2, fshape, feat) != XF_OK) goto fail;
    if (prob) {
        int64_t pshape[2] = {N, Z};
        if (xf_npy_write_raw(ctx, probs, XF_DT_F32, 2, pshape, prob) != XF_OK) goto fail;
    }
    if (xf_out_commit(ctx) != XF_OK) goto fail;
    rc = 0;
fail:
    if (rc) xf_cli_fail(cmd, ctx);
    xf_free(ctx, prob);
    xf_free(ctx, feat);
    xf_free(ctx, x);
    xf_array_free(ctx, &xa);
    xf_dataset_free(ctx, &ds);
    xf_graph_free(g);
    xf_ctx_free(ctx);
    return rc;
}
