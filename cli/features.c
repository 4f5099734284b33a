/* xfer features: network-free feature extractors (raw pixels, pooled pixels, PCA,
 * random projections) over a probe set of any dataset xfer can name; the baselines a
 * model bank must beat, and what `make demo` ranks.
 *
 *   xfer features --data SPEC [--split train|test] [--probe 500] [--seed S]
 *                 --kind raw,pool:7,pca:32,randproj:256 --out-dir DIR
 *
 * Writes DIR/<kind>.npy (':' becomes '-') for each kind, DIR/labels.npy (int64) and
 * DIR/probe_idx.npy (the sampled indices, int64). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "xfer/data.h"
#include "xfer/files.h"

#define CMD "features"

static void usage(void) {
    printf("usage: xfer features --data SPEC [data options] [--probe N] [--seed S]\n"
           "                     --kind raw,pool:S,pca:K,randproj:K --out-dir DIR\n"
           XF_CLI_DATA_HELP "\nSamples a probe set with PARC's fixed-budget sampler (N images, default 500, at least 2\n"
           "per class; --probe 0 keeps every image), computes each network-free feature kind and\n"
           "writes DIR/<kind>.npy, DIR/labels.npy and DIR/probe_idx.npy. SPEC names data as every\n"
           "xfer command does (an image folder, IDX file, .npy array, 'digits', corpus:<task>).\n"
           "An IDX probe is streamed (only the sampled images are kept); the files appear together\n"
           "once every kind is computed.\n");
}

int xf_cli_features(int argc, char **argv) {
    const char *spec = NULL, *kinds = NULL, *outdir = NULL;
    long long probe = XF_PROBE_BUDGET;
    unsigned long long seed = XF_PROBE_SEED(0);
    xf_data_opts o;
    xf_data_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(); return 0; }
        int d = xf_cli_data_opt(CMD, argc, argv, &i, &o);
        if (d < 0) return 2;
        if (d > 0) continue;
        if (i + 1 >= argc) return xf_cli_usage(CMD, "%s needs a value", a);
        const char *v = argv[++i];
        int64_t iv;
        if (!strcmp(a, "--data")) spec = v;
        else if (!strcmp(a, "--kind")) kinds = v;
        else if (!strcmp(a, "--out-dir")) outdir = v;
        else if (!strcmp(a, "--probe")) {
            if (xf_cli_parse_i64(v, 0, INT64_MAX / 2, &iv)) return xf_cli_usage(CMD, "--probe: '%s' is not a count", v);
            probe = iv;
        } else if (!strcmp(a, "--seed")) {
            if (xf_cli_parse_i64(v, 0, INT64_MAX, &iv)) return xf_cli_usage(CMD, "--seed: '%s' is not an integer >= 0", v);
            seed = (unsigned long long)iv;
        } else return xf_cli_usage(CMD, "unknown argument '%s'", a);
    }
    if (!spec) return xf_cli_usage(CMD, "--data is required");
    if (!kinds) return xf_cli_usage(CMD, "--kind is required");
    if (!outdir) return xf_cli_usage(CMD, "--out-dir is required");

    xf_ctx_t *ctx = xf_cli_ctx();
    if (!ctx) return xf_cli_fail(CMD, NULL);
    int rc = 1;
    xf_dataset pr = {0};
    int64_t *idx = NULL, m = 0, *lab = NULL;
    char *list = strdup(kinds), *save = NULL;
    char path[4096];
    if (!list) { rc = xf_cli_fail(CMD, NULL); goto done; }
    /* every kind is checked before any image is decoded */
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save))
        if (xf_features_check(ctx, k)) { xf_error_prefix(ctx, "--kind"); rc = xf_cli_fail(CMD, ctx); goto done; }
    if (mkdir(outdir, 0777) != 0) {
        struct stat sb;
        if (stat(outdir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "xfer features: --out-dir %s: cannot create the output directory\n", outdir);
            goto done;
        }
    }
    /* every output appears together once all are computed, never over an input */
    if (xf_out_begin(ctx) || xf_out_input(ctx, spec) || xf_out_input(ctx, o.labels)) { rc = xf_cli_fail(CMD, ctx); goto done; }
    if (xf_data_open_probe(ctx, spec, &o, probe, XF_PROBE_MIN_PER_CLASS, seed, &pr, &idx, &m)) { rc = xf_cli_fail(CMD, ctx); goto done; }
    lab = xf_malloc(ctx, sizeof *lab * (size_t)(m ? m : 1));
    if (!lab) { rc = xf_cli_fail(CMD, ctx); goto done; }
    for (int64_t i = 0; i < m; i++) lab[i] = pr.y[i];
    int64_t shape1[1] = {m};
    snprintf(path, sizeof path, "%s/labels.npy", outdir);
    if (xf_npy_write_raw(ctx, path, XF_DT_I64, 1, shape1, lab)) { rc = xf_cli_fail(CMD, ctx); goto done; }
    snprintf(path, sizeof path, "%s/probe_idx.npy", outdir);
    if (xf_npy_write_raw(ctx, path, XF_DT_I64, 1, shape1, idx)) { rc = xf_cli_fail(CMD, ctx); goto done; }
    strcpy(list, kinds);
    save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        float *F;
        int64_t dim;
        double t0 = xf_now();
        if (xf_features_extract(ctx, k, pr.x, m, pr.c, pr.h, pr.w, seed, &F, &dim)) { rc = xf_cli_fail(CMD, ctx); goto done; }
        char name[256];
        snprintf(name, sizeof name, "%s", k);
        for (char *p = name; *p; p++)
            if (*p == ':' || *p == '/') *p = '-';
        snprintf(path, sizeof path, "%s/%s.npy", outdir, name);
        int64_t shape[2] = {m, dim};
        xf_status st = xf_npy_write_raw(ctx, path, XF_DT_F32, 2, shape, F);
        xf_free(ctx, F);
        if (st) { rc = xf_cli_fail(CMD, ctx); goto done; }
        fprintf(stderr, "xfer features: computed %s (%lld x %lld) in %.2fs\n", k, (long long)m, (long long)dim, xf_now() - t0);
    }
    if (xf_out_commit(ctx)) { rc = xf_cli_fail(CMD, ctx); goto done; }
    rc = 0;
done:
    free(list);
    xf_free(ctx, lab);
    xf_free(ctx, idx);
    xf_dataset_free(ctx, &pr);
    xf_ctx_free(ctx);
    return rc;
}
