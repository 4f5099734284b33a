/* experts: slices and label priors, the KL proxy (against tests/ref/gen_experts.py),
 * adapter experts (the identity at initialisation, frozen weights untouched by training),
 * the adapter store (round trip, exported ONNX == the store's network, damaged files). */
#include <stdint.h>
#include <string.h>

#include "xfer/experts.h"
#include "xfer/npy.h"
#include "xfer/onnx.h"
#include "xtest.h"

static xf_ctx_t *ctx;

static int read_npy(const char *rel, xf_array *a) {
    char p[1024];
    return xf_npy_read(ctx, xt_ref(rel, p, sizeof p), a) == XF_OK;
}

/* the fixture's upstream: 1x1 images, labels and class names from tests/ref/experts */
static int fixture_dataset(xf_dataset *ds) {
    xf_array lab;
    if (!read_npy("experts/labels.npy", &lab)) return 0;
    char p[1024], line[256];
    FILE *f = fopen(xt_ref("experts/classes.txt", p, sizeof p), "r");
    int k = 0;
    char names[64][32];
    while (f && k < 64 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        snprintf(names[k++], sizeof names[0], "%s", line);
    }
    if (f) fclose(f);
    if (xf_dataset_alloc(ctx, ds, lab.size, 1, 1, 1, k) != XF_OK) return 0;
    for (int i = 0; i < k; i++) xf_dataset_set_class(ctx, ds, i, names[i]);
    for (int64_t i = 0; i < lab.size; i++) ds->y[i] = (int32_t)((int64_t *)lab.data)[i];
    xf_array_free(ctx, &lab);
    return 1;
}

static void test_slices(void) {
    xf_dataset ds;
    memset(&ds, 0, sizeof ds);
    CHECK(fixture_dataset(&ds), "fixture dataset: %s", xf_errmsg(ctx));
    char p[1024];
    xf_hierarchy_t *h = NULL;
    CHECK_OK(ctx, xf_hierarchy_read(ctx, xt_ref("experts/hierarchy.tsv", p, sizeof p), &h));
    if (!h || !ds.n) return;
    xf_slice_set s;
    CHECK_OK(ctx, xf_experts_slices(ctx, h, &ds, 40, &s));
    xf_array mem, pri;
    CHECK(read_npy("experts/members.npy", &mem) && read_npy("experts/priors.npy", &pri), "fixtures");
    FILE *f = fopen(xt_ref("experts/slices.txt", p, sizeof p), "r");
    char name[64];
    long long n;
    int i = 0;
    while (f && fscanf(f, "%63s %lld", name, &n) == 2) {
        CHECK(i < s.n && !strcmp(s.s[i].name, name), "slice %d: '%s' expected '%s'", i, i < s.n ? s.s[i].name : "-", name);
        if (i >= s.n) break;
        CHECK(s.s[i].n == n, "slice %s: %lld images, expected %lld", name, (long long)s.s[i].n, n);
        /* membership: idx ascending == the fixture's mask */
        int64_t k = 0, bad = 0;
        for (int64_t j = 0; j < ds.n; j++) {
            int in = k < s.s[i].n && s.s[i].idx[k] == j;
            if (in) k++;
            bad += in != ((uint8_t *)mem.data)[i * ds.n + j];
        }
        CHECK(bad == 0, "slice %s: %lld images differ from NumPy's membership", name, (long long)bad);
        for (int z = 0; z < ds.k; z++)
            CHECK_NEAR(s.s[i].prior[z], ((double *)pri.data)[i * ds.k + z], 0, 1e-15, "prior");
        i++;
    }
    if (f) fclose(f);
    CHECK(i == s.n && i == 3, "%d slices, NumPy has %d", s.n, i);
    /* random controls: same sizes, members distinct and in range, reproducible */
    xf_slice_set r1, r2;
    CHECK_OK(ctx, xf_experts_random_slices(ctx, &s, ds.y, ds.n, 7, &r1));
    CHECK_OK(ctx, xf_experts_random_slices(ctx, &s, ds.y, ds.n, 7, &r2));
    for (int j = 0; j < r1.n && j < s.n; j++) {
        CHECK(r1.s[j].n == s.s[j].n && !strncmp(r1.s[j].name, "random-", 7), "control %d size/name", j);
        int ok = 1;
        for (int64_t k = 0; k < r1.s[j].n; k++) {
            ok &= r1.s[j].idx[k] >= 0 && r1.s[j].idx[k] < ds.n && (k == 0 || r1.s[j].idx[k] > r1.s[j].idx[k - 1]);
            ok &= r1.s[j].idx[k] == r2.s[j].idx[k];
        }
        CHECK(ok, "control %d: distinct ascending in-range indices, the same for the same seed", j);
    }
    xf_slice_set_free(ctx, &r1);
    xf_slice_set_free(ctx, &r2);
    xf_slice_set_free(ctx, &s);
    /* failing allocations in slicing: XF_ERR_NOMEM, nothing leaked */
    int k, done = 0;
    for (k = 1; k < 10000 && !done; k++) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status s2 = xf_experts_slices(ctx, h, &ds, 40, &s);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (s2 == XF_OK) {
            done = 1;
            xf_slice_set_free(ctx, &s);
        } else CHECK(s2 == XF_ERR_NOMEM, "slices, allocation %d failing: %s", k, xf_status_str(s2));
    }
    CHECK(done && k > 3, "slices under failing allocations ended after %d", k);
    /* min-images too high: a clear error naming the largest slice */
    CHECK_ST(ctx, xf_experts_slices(ctx, h, &ds, 1000, &s), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "at least 1000") && strstr(xf_errmsg(ctx), "'animals' with 56"), "message: %s", xf_errmsg(ctx));
    /* no class in the hierarchy */
    xf_hierarchy_t *h2;
    const char *other = "x\troot\ny\troot\n";
    CHECK_OK(ctx, xf_hierarchy_parse_mem(ctx, other, strlen(other), "other.tsv", &h2));
    CHECK_ST(ctx, xf_experts_slices(ctx, h2, &ds, 1, &s), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "no upstream class"), "message: %s", xf_errmsg(ctx));
    xf_hierarchy_free(h2);
    xf_array_free(ctx, &mem);
    xf_array_free(ctx, &pri);
    xf_hierarchy_free(h);
    xf_dataset_free(ctx, &ds);
}

static void test_kl(void) {
    xf_array P, L, Qr, K;
    if (!read_npy("experts/kl_P.npy", &P) || !read_npy("experts/kl_logits.npy", &L) || !read_npy("experts/kl_Q.npy", &Qr) ||
        !read_npy("experts/kl.npy", &K)) {
        CHECK(0, "kl fixtures: %s", xf_errmsg(ctx));
        return;
    }
    int64_t E = P.shape[0], Z = P.shape[1], M = L.shape[0];
    double Q[64];
    xf_experts_mean_softmax(L.data, M, Z, Q);
    for (int64_t z = 0; z < Z; z++) CHECK_NEAR(Q[z], ((double *)Qr.data)[z], 1e-12, 1e-15, "mean softmax Q");
    for (int64_t e = 0; e < E; e++)
        CHECK_NEAR(xf_experts_kl((double *)P.data + e * Z, Q, Z, XF_EXPERTS_KL_EPS), ((double *)K.data)[e], 1e-10, 1e-12,
                   "KL(P_e || Q)");
    /* not symmetric, and zero for P == Q */
    CHECK(fabs(xf_experts_kl(Q, Q, Z, 0)) < 1e-14, "KL(Q || Q) = %g", xf_experts_kl(Q, Q, Z, 0));
    xf_array_free(ctx, &P);
    xf_array_free(ctx, &L);
    xf_array_free(ctx, &Qr);
    xf_array_free(ctx, &K);
}

/* ---- adapter experts -------------------------------------------------------------------- */

enum { NI = 24, HW = 12, ZC = 6 };

static void logits_of(xf_graph *g, const float *x, int64_t n, float *out) {
    int64_t d;
    CHECK_OK(ctx, xf_net_extract(ctx, g, x, n, 8, xf_graph_output_value(g), 0, out, &d));
    CHECK(d == ZC, "logits width %lld", (long long)d);
}

static int is_adapter(const char *name) { return !strncmp(name, "adapter", 7); }

static void test_adapters(void) {
    char gp[1024], sp[1024], ep[1024];
    xt_tmp("experts_generalist.onnx", gp, sizeof gp);
    xt_tmp("experts_store.xfad", sp, sizeof sp);
    xt_tmp("experts_exported.onnx", ep, sizeof ep);
    xf_ctx_set_seed(ctx, 5);
    xf_graph *gen;
    int64_t w[3] = {8, 16, 32};
    CHECK_OK(ctx, xf_model_small_resnet(ctx, 1, HW, HW, ZC, w, 1, &gen));
    /* non-trivial BatchNorm statistics and weights: train the generalist a little */
    static float x[NI * HW * HW];
    static int32_t y[NI];
    xf_rng r;
    xf_rng_seed(&r, 11);
    for (int i = 0; i < NI * HW * HW; i++) x[i] = (float)xf_rng_normal(&r);
    for (int i = 0; i < NI; i++) y[i] = (int32_t)(i % ZC);
    xf_imageset set = {x, y, NI, 1, HW, HW, ZC};
    xf_train_opts t;
    xf_train_opts_default(&t);
    t.batch = 8;
    t.steps = 6;
    t.seed = 3;
    CHECK_OK(ctx, xf_train(ctx, gen, &set, NULL, &t, NULL));
    CHECK_OK(ctx, xf_onnx_export(ctx, gen, gp));
    xf_adapter_store_t *st = NULL;
    CHECK_OK(ctx, xf_adapter_store_create(ctx, gp, 9, &st));
    if (!st) return;
    /* identity at initialisation: bit for bit the generalist's logits */
    xf_graph *a0;
    int feat = -1;
    CHECK_OK(ctx, xf_adapter_store_graph(ctx, st, -1, &a0, &feat));
    static float l_gen[NI * ZC], l_a0[NI * ZC], l_tr[NI * ZC], l_st[NI * ZC], l_ex[NI * ZC];
    logits_of(gen, x, NI, l_gen);
    logits_of(a0, x, NI, l_a0);
    CHECK(!memcmp(l_gen, l_a0, sizeof l_gen), "an untrained adapter expert differs from the generalist (first %g vs %g)",
          l_a0[0], l_gen[0]);
    int nad = 0;
    for (int v = 0; v < a0->n_values; v++) nad += a0->values[v].is_param && is_adapter(a0->values[v].name);
    CHECK(nad == 6 * 3, "%d adapter tensors (3 adapters: 2 strided stages + global pooling)", nad);
    CHECK(feat >= 0 && !strcmp(a0->values[xf_graph_output_value(a0)].name, "logits"), "feature tap and logits");
    /* adapter training: only adapters change; every other parameter (BN statistics too) stays bit-identical */
    xf_graph *a1;
    CHECK_OK(ctx, xf_adapter_store_graph(ctx, st, -1, &a1, NULL));
    t.lr = 0.1;
    t.weight_decay = 0;
    t.steps = 5;
    CHECK_OK(ctx, xf_train(ctx, a1, &set, NULL, &t, NULL));
    int changed = 0, frozen_bad = 0;
    for (int v = 0; v < a1->n_values; v++) {
        const xf_value *p = &a1->values[v];
        if (!p->is_param) continue;
        int v0 = xf_graph_find(a0, p->name);
        int64_t n = 1;
        for (int d = 0; d < p->ndim; d++) n *= p->shape[d];
        int same = v0 >= 0 && !memcmp(p->data, a0->values[v0].data, (size_t)n * sizeof(float));
        if (is_adapter(p->name)) changed += !same;
        else if (!same) {
            frozen_bad++;
            fprintf(stderr, "frozen parameter changed: %s\n", p->name);
        }
    }
    CHECK(frozen_bad == 0, "%d frozen parameters changed in adapter training", frozen_bad);
    CHECK(changed >= 6, "only %d adapter tensors changed in training", changed);
    logits_of(a1, x, NI, l_tr);
    CHECK(memcmp(l_tr, l_gen, sizeof l_tr) != 0, "trained adapters still give the generalist's logits");
    /* the store round trip and export */
    CHECK_OK(ctx, xf_adapter_store_add(ctx, st, "e1", a1));
    CHECK_OK(ctx, xf_adapter_store_write(ctx, st, sp));
    xf_adapter_store_t *rd = NULL;
    CHECK_OK(ctx, xf_adapter_store_read(ctx, sp, &rd));
    if (rd) {
        CHECK(xf_adapter_store_count(rd) == 1 && xf_adapter_store_find(rd, "e1") == 0, "store read back");
        xf_graph *g1;
        CHECK_OK(ctx, xf_adapter_store_graph(ctx, rd, 0, &g1, NULL));
        logits_of(g1, x, NI, l_st);
        CHECK(!memcmp(l_st, l_tr, sizeof l_st), "the stored expert differs from the trained one");
        CHECK_OK(ctx, xf_onnx_export(ctx, g1, ep));
        xf_graph *ex;
        CHECK_OK(ctx, xf_onnx_import(ctx, ep, &ex));
        if (ex) {
            logits_of(ex, x, NI, l_ex);
            double md = 0;
            for (int i = 0; i < NI * ZC; i++) md = fmax(md, fabs((double)l_ex[i] - l_st[i]));
            CHECK(md <= 1e-5, "exported ONNX vs store: max |diff| %g > 1e-5", md);
            xf_graph_free(ex);
        }
        xf_graph_free(g1);
        CHECK_ST(ctx, xf_adapter_store_graph(ctx, rd, 1, &g1, NULL), XF_ERR_INVALID);
        xf_adapter_store_free(rd);
    }
    /* damaged stores: truncated, a flipped byte, not a store */
    FILE *f = fopen(sp, "rb");
    static unsigned char buf[1 << 22];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    char dp[1024];
    xt_tmp("experts_damaged.xfad", dp, sizeof dp);
    f = fopen(dp, "wb");
    fwrite(buf, 1, n - 100, f);
    fclose(f);
    CHECK_ST(ctx, xf_adapter_store_read(ctx, dp, &rd), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "experts_damaged.xfad"), "message names the file: %s", xf_errmsg(ctx));
    buf[n / 2] ^= 0x40;
    f = fopen(dp, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    CHECK_ST(ctx, xf_adapter_store_read(ctx, dp, &rd), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "checksum"), "message: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_adapter_store_read(ctx, gp, &rd), XF_ERR_FORMAT);
    CHECK_ST(ctx, xf_adapter_store_read(ctx, "/nonexistent/store.xfad", &rd), XF_ERR_IO);
    CHECK_ST(ctx, xf_adapter_store_create(ctx, "/nonexistent/gen.onnx", 1, &rd), XF_ERR_IO);
    /* every allocation of a store read failing in turn: an error, never a crash or a leak */
    int k, ok = 0;
    for (k = 1; k < 100000 && !ok; k++) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status s2 = xf_adapter_store_read(ctx, sp, &rd);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (s2 == XF_OK) {
            ok = 1;
            xf_adapter_store_free(rd);
        } else if (s2 != XF_ERR_NOMEM) {
            CHECK(0, "allocation %d failing gave %s: %s", k, xf_status_str(s2), xf_errmsg(ctx));
            break;
        }
    }
    CHECK(ok && k > 3, "store read under failing allocations ended after %d", k);
    xf_graph_free(a0);
    xf_graph_free(a1);
    xf_graph_free(gen);
    xf_adapter_store_free(st);
}

/* the store seeds written by tests/ref/gen_adapter_store_seeds.py (an independent packer
 * in Python, following docs/FORMATS.md): each accepted or refused as documented */
static void test_store_seeds(void) {
    static const struct { const char *file; xf_status st; const char *msg; } cases[] = {
        {"good.xfad", XF_OK, ""},
        {"good_empty.xfad", XF_OK, ""},
        {"bad_version.xfad", XF_ERR_UNSUPPORTED, "version 2"},
        {"bad_tensor_count.xfad", XF_ERR_FORMAT, "11 adapter tensors listed, the backbone takes 12"},
        {"bad_tensor_name.xfad", XF_ERR_FORMAT, "adapter tensor 0 does not match"},
        {"bad_tensor_shape.xfad", XF_ERR_FORMAT, "adapter tensor 0 does not match"},
        {"bad_set_count.xfad", XF_ERR_FORMAT, "1000000 adapter sets do not fit"},
        {"dup_set.xfad", XF_ERR_FORMAT, "'x' appears twice"},
        {"trailing.xfad", XF_ERR_FORMAT, "3 bytes after the last adapter set"},
        {"truncated.xfad", XF_ERR_FORMAT, "checksum mismatch"},
        {"bad_checksum.xfad", XF_ERR_FORMAT, "checksum mismatch"},
        {"bad_magic.xfad", XF_ERR_FORMAT, "not an adapter store"},
    };
    char p[1024], rel[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(rel, sizeof rel, "../fuzz/corpus/fuzz_adapter_store/%s", cases[i].file);
        xf_adapter_store_t *s = NULL;
        xf_status st = xf_adapter_store_read(ctx, xt_ref(rel, p, sizeof p), &s);
        CHECK(st == cases[i].st && (st == XF_OK || strstr(xf_errmsg(ctx), cases[i].msg)), "%s: %s '%s'", cases[i].file,
              xf_status_str(st), st ? xf_errmsg(ctx) : "");
        if (s && !strcmp(cases[i].file, "good.xfad")) {
            CHECK(xf_adapter_store_count(s) == 2 && !strcmp(xf_adapter_store_name(s, 1), "adapter-b"), "good.xfad sets");
            xf_graph *g;
            CHECK_OK(ctx, xf_adapter_store_graph(ctx, s, 1, &g, NULL));
            if (g) {
                int v = xf_graph_find(g, "adapter1.conv2.weight");
                CHECK(v >= 0 && g->values[v].shape[0] == 8 && g->values[v].shape[1] == 4, "adapter1.conv2.weight (8, 4, 1, 1)");
                xf_graph_free(g);
            }
        }
        xf_adapter_store_free(s);
    }
}

int main(void) {
    if (xf_ctx_create(&ctx) != XF_OK) return 1;
    xf_ctx_set_threads(ctx, 1);
    test_slices();
    test_kl();
    test_adapters();
    test_store_seeds();
    xf_ctx_free(ctx);
    return xt_done("test_experts");
}
