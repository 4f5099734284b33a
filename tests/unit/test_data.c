/* Data loaders against fixtures written by tests/ref/gen_data.py (struct/gzip, Pillow,
 * NumPy, scikit-learn): IDX (plain, gzipped, every type code, the bad-file table), the
 * digits CSV (small fixture, and Debian's real file when installed), Fashion-MNIST t10k
 * when installed, allocation failure. */
#include "xfer/data.h"
#include "xfer/npy.h"
#include "xtest.h"

static xf_ctx_t *ctx;

static const char *ref(const char *rel) {
    static char buf[8][1024];
    static int k = 0;
    k = (k + 1) % 8;
    return xt_ref(rel, buf[k], sizeof buf[k]);
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* a file's whole content (test helper; malloc'd) */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void check_bad(xf_status got, xf_status want, const char *name) {
    CHECK(got == want, "%s: got %s want %s (%s)", name, xf_status_str(got), xf_status_str(want), xf_errmsg(ctx));
    CHECK(strstr(xf_errmsg(ctx), name) != NULL, "%s: message does not name the file: %s", name, xf_errmsg(ctx));
    CHECK(strchr(xf_errmsg(ctx), '\n') == NULL, "%s: message is not one line", name);
}

/* ---- IDX -------------------------------------------------------------------------- */

static void test_idx(void) {
    xf_array ex, exl, a;
    CHECK_OK(ctx, xf_npy_read(ctx, ref("data/idx_expect_images.npy"), &ex));
    CHECK_OK(ctx, xf_npy_read(ctx, ref("data/idx_expect_labels.npy"), &exl));
    const char *imgs[] = {"data/idx_plain/train-images-idx3-ubyte", "data/idx_gz/train-images-idx3-ubyte.gz",
                          "data/idx_multi_member.idx.gz"};
    for (int i = 0; i < 3; i++) {
        xf_status st = xf_idx_read(ctx, ref(imgs[i]), &a);
        CHECK(st == XF_OK, "%s: %s", imgs[i], xf_errmsg(ctx));
        if (st) continue;
        CHECK(a.dtype == XF_DT_U8 && a.ndim == 3 && a.shape[0] == 6 && a.shape[1] == 5 && a.shape[2] == 4, "%s: shape", imgs[i]);
        CHECK(a.size == ex.size && memcmp(a.data, ex.data, (size_t)ex.size) == 0, "%s: pixels differ from numpy", imgs[i]);
        xf_array_free(ctx, &a);
    }
    const char *labs[] = {"data/idx_plain/train-labels-idx1-ubyte", "data/idx_gz/train-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(ctx, xf_idx_read(ctx, ref(labs[i]), &a));
        CHECK(a.ndim == 1 && a.shape[0] == 6 && memcmp(a.data, exl.data, 6) == 0, "%s: labels", labs[i]);
        xf_array_free(ctx, &a);
    }
    /* every type code, against numpy's native-endian copy */
    const char *types[] = {"int8", "int16", "int32", "float32", "float64"};
    const xf_dtype dts[] = {XF_DT_I8, XF_DT_I16, XF_DT_I32, XF_DT_F32, XF_DT_F64};
    for (int i = 0; i < 5; i++) {
        char p1[64], p2[64];
        snprintf(p1, sizeof p1, "data/idx_types/%s.idx", types[i]);
        snprintf(p2, sizeof p2, "data/idx_types/%s.npy", types[i]);
        xf_array e;
        CHECK_OK(ctx, xf_npy_read(ctx, ref(p2), &e));
        xf_status st = xf_idx_read(ctx, ref(p1), &a);
        CHECK(st == XF_OK, "%s: %s", p1, xf_errmsg(ctx));
        if (!st) {
            CHECK(a.dtype == dts[i] && a.ndim == 3 && a.size == 24, "%s: dtype/shape", p1);
            int same = a.size == e.size;
            for (int64_t j = 0; same && j < a.size; j++) same = xf_array_get_f64(&a, j) == xf_array_get_f64(&e, j);
            CHECK(same, "%s: values differ from numpy", p1);
            xf_array_free(ctx, &a);
        }
        xf_array_free(ctx, &e);
    }
    /* memory entry point, gzipped and not */
    size_t len = 0;
    unsigned char *buf = slurp(ref("data/idx_gz/train-images-idx3-ubyte.gz"), &len);
    CHECK_OK(ctx, xf_idx_read_mem(ctx, buf, len, "mem.gz", &a));
    CHECK(a.size == ex.size && memcmp(a.data, ex.data, (size_t)ex.size) == 0, "mem gz: pixels");
    xf_array_free(ctx, &a);
    CHECK_ST(ctx, xf_idx_read_mem(ctx, buf, len - 3, "mem_trunc.gz", &a), XF_ERR_FORMAT);
    free(buf);

    /* the bad-file table */
    const struct { const char *f; xf_status st; } bad[] = {
        {"data/bad_idx/truncated.idx", XF_ERR_FORMAT},
        {"data/bad_idx/truncated_header.idx", XF_ERR_FORMAT},
        {"data/bad_idx/wrong_magic.idx", XF_ERR_FORMAT},
        {"data/bad_idx/bad_type.idx", XF_ERR_FORMAT},
        {"data/bad_idx/zero_dims.idx", XF_ERR_FORMAT},
        {"data/bad_idx/nine_dims.idx", XF_ERR_UNSUPPORTED},
        {"data/bad_idx/dims_overflow.idx", XF_ERR_FORMAT},
        {"data/bad_idx/trailing.idx", XF_ERR_FORMAT},
        {"data/bad_idx/gz_trailing_garbage.idx.gz", XF_ERR_FORMAT},
        {"data/bad_idx/gz_truncated.idx.gz", XF_ERR_FORMAT},
        {"data/bad_idx/gz_short_data.idx.gz", XF_ERR_FORMAT},
        {"data/bad_idx/gz_long_data.idx.gz", XF_ERR_FORMAT},
        {"data/bad_idx/gz_corrupt.idx.gz", XF_ERR_FORMAT},
        {"data/bad_idx/gz_huge_declared.idx.gz", XF_ERR_FORMAT},
        {"data/bad_idx/empty.idx", XF_ERR_FORMAT},
        {"data/bad_idx/does_not_exist.idx", XF_ERR_IO},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xf_status st = xf_idx_read(ctx, ref(bad[i].f), &a);
        check_bad(st, bad[i].st, bad[i].f);
        CHECK(a.data == NULL, "%s: no data on failure", bad[i].f);
    }
    /* specific messages */
    xf_idx_read(ctx, ref("data/bad_idx/gz_trailing_garbage.idx.gz"), &a);
    CHECK(strstr(xf_errmsg(ctx), "trailing garbage") != NULL, "gz garbage message: %s", xf_errmsg(ctx));
    xf_idx_read(ctx, ref("data/bad_idx/dims_overflow.idx"), &a);
    CHECK(strstr(xf_errmsg(ctx), "overflow") != NULL, "overflow message: %s", xf_errmsg(ctx));
    /* the 4 GiB claim is refused after at most a small allocation */
    int64_t before = xf_ctx_alloc_count(ctx);
    xf_idx_read(ctx, ref("data/bad_idx/gz_huge_declared.idx.gz"), &a);
    CHECK(xf_ctx_alloc_count(ctx) - before < 20, "huge gz: %lld allocations", (long long)(xf_ctx_alloc_count(ctx) - before));
    CHECK(strstr(xf_errmsg(ctx), "truncated") != NULL, "huge gz message: %s", xf_errmsg(ctx));

    /* allocation failure at every step of a gzipped read: clean error, no leak */
    for (int k = 1; k < 40; k++) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_idx_read(ctx, ref("data/idx_gz/train-images-idx3-ubyte.gz"), &a);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) { xf_array_free(ctx, &a); break; }
        CHECK(st == XF_ERR_NOMEM, "alloc failure %d: %s (%s)", k, xf_status_str(st), xf_errmsg(ctx));
    }
    xf_array_free(ctx, &ex);
    xf_array_free(ctx, &exl);
}

static void test_fashion_mnist(void) {
    const char *img = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *lab = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (!file_exists(img) || !file_exists(lab)) {
        printf("skip: Fashion-MNIST not installed (%s; Debian package dataset-fashion-mnist)\n", img);
        return;
    }
    xf_array a, l;
    CHECK_OK(ctx, xf_idx_read(ctx, img, &a));
    CHECK_OK(ctx, xf_idx_read(ctx, lab, &l));
    CHECK(a.dtype == XF_DT_U8 && a.ndim == 3 && a.shape[0] == 10000 && a.shape[1] == 28 && a.shape[2] == 28, "t10k images shape");
    CHECK(l.dtype == XF_DT_U8 && l.ndim == 1 && l.shape[0] == 10000, "t10k labels shape");
    if (l.data && l.size == 10000) {
        /* Fashion-MNIST's test split is balanced: 1000 per class */
        int cnt[10] = {0}, bad = 0;
        for (int i = 0; i < 10000; i++) {
            int y = ((unsigned char *)l.data)[i];
            if (y < 10) cnt[y]++; else bad++;
        }
        for (int c = 0; c < 10; c++) CHECK(cnt[c] == 1000, "t10k class %d count %d", c, cnt[c]);
        CHECK(bad == 0, "t10k labels out of range");
    }
    xf_array_free(ctx, &a);
    xf_array_free(ctx, &l);
}

/* ---- digits ----------------------------------------------------------------------- */

static void test_digits(void) {
    xf_dataset d;
    xf_array ex, ey;
    CHECK_OK(ctx, xf_npy_read(ctx, ref("data/digits/small_x.npy"), &ex));
    CHECK_OK(ctx, xf_npy_read(ctx, ref("data/digits/small_y.npy"), &ey));
    const char *files[] = {"data/digits/small.csv", "data/digits/small.csv.gz"};
    for (int i = 0; i < 2; i++) {
        xf_status st = xf_digits_read(ctx, ref(files[i]), &d);
        CHECK(st == XF_OK, "%s: %s", files[i], xf_errmsg(ctx));
        if (st) continue;
        CHECK(d.n == 4 && d.c == 1 && d.h == 8 && d.w == 8 && d.k == 10, "%s: shape", files[i]);
        CHECK(memcmp(d.x, ex.data, 4 * 64 * sizeof(float)) == 0, "%s: pixels", files[i]);
        int same = 1;
        for (int j = 0; j < 4; j++) same &= d.y[j] == ((int64_t *)ey.data)[j];
        CHECK(same, "%s: labels", files[i]);
        CHECK(strcmp(d.classes[7], "7") == 0, "class names");
        xf_dataset_free(ctx, &d);
    }
    const char *bad[] = {"data/digits/bad_fields.csv", "data/digits/bad_pixel.csv", "data/digits/bad_label.csv",
                         "data/digits/bad_text.csv", "data/digits/empty.csv"};
    for (int i = 0; i < 5; i++) {
        check_bad(xf_digits_read(ctx, ref(bad[i]), &d), XF_ERR_FORMAT, bad[i]);
        CHECK(d.x == NULL, "%s: nothing on failure", bad[i]);
    }
    xf_digits_read(ctx, ref("data/digits/bad_pixel.csv"), &d);
    CHECK(strstr(xf_errmsg(ctx), "bad_pixel.csv:2:") != NULL, "line number: %s", xf_errmsg(ctx));
    xf_array_free(ctx, &ex);
    xf_array_free(ctx, &ey);

    if (!file_exists(XF_DIGITS_PATH)) {
        printf("skip: %s not installed (Debian package python3-sklearn)\n", XF_DIGITS_PATH);
        return;
    }
    CHECK_OK(ctx, xf_digits_read(ctx, NULL, &d));
    CHECK(d.n == 1797 && d.c == 1 && d.h == 8 && d.w == 8, "sklearn digits shape %lld", (long long)d.n);
    xf_array f10, cnt, sum;
    if (file_exists(ref("data/digits/sklearn_first10.npy")) && d.n == 1797) {
        CHECK_OK(ctx, xf_npy_read(ctx, ref("data/digits/sklearn_first10.npy"), &f10));
        CHECK_OK(ctx, xf_npy_read(ctx, ref("data/digits/sklearn_counts.npy"), &cnt));
        CHECK_OK(ctx, xf_npy_read(ctx, ref("data/digits/sklearn_pixel_sum.npy"), &sum));
        CHECK(memcmp(d.x, f10.data, 640 * sizeof(float)) == 0, "first 10 digits equal sklearn.load_digits");
        int64_t c[10] = {0};
        double s = 0;
        for (int64_t i = 0; i < d.n; i++) c[d.y[i]]++;
        for (int64_t i = 0; i < d.n * 64; i++) s += d.x[i] * 16.0;
        for (int j = 0; j < 10; j++) CHECK(c[j] == ((int64_t *)cnt.data)[j], "digit %d count %lld", j, (long long)c[j]);
        CHECK_NEAR(s, ((double *)sum.data)[0], 0, 0.5, "digits pixel sum");
        xf_array_free(ctx, &f10);
        xf_array_free(ctx, &cnt);
        xf_array_free(ctx, &sum);
    }
    xf_dataset_free(ctx, &d);
}

int main(void) {
    if (xf_ctx_create(&ctx)) return 1;
    test_idx();
    test_fashion_mnist();
    test_digits();
    xf_ctx_free(ctx);
    return xt_done("test_data");
}
