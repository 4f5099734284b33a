/* Data loaders against fixtures written by tests/ref/gen_data.py (struct/gzip, Pillow,
 * NumPy, scikit-learn): IDX (plain, gzipped, every type code, the bad-file table), the
 * digits CSV (small fixture, and Debian's real file when installed), Fashion-MNIST t10k
 * when installed, allocation failure. */
#include "io/ioInt.h"
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
        /* subset in a given order keeps rows, labels and class names */
        xf_dataset sub;
        int64_t pick[3] = {3, 0, 3};
        CHECK_OK(ctx, xf_dataset_subset(ctx, &d, pick, 3, &sub));
        CHECK(sub.n == 3 && sub.k == 10 && sub.y[0] == d.y[3] && sub.y[1] == d.y[0] &&
                  memcmp(sub.x + 64, d.x, 64 * sizeof(float)) == 0 && strcmp(sub.classes[9], "9") == 0, "subset");
        xf_dataset_free(ctx, &sub);
        pick[1] = 4;
        CHECK_ST(ctx, xf_dataset_subset(ctx, &d, pick, 3, &sub), XF_ERR_INVALID);
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

/* ---- images ----------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to) {
    size_t n = 0;
    unsigned char *b = slurp(from, &n);
    FILE *f = fopen(to, "wb");
    if (f && b) fwrite(b, 1, n, f);
    if (f) fclose(f);
    free(b);
}

static void mkdirs(const char *p) {
    char b[1024];
    snprintf(b, sizeof b, "%s", p);
    for (char *q = b + 1; *q; q++)
        if (*q == '/') { *q = 0; mkdir(b, 0777); *q = '/'; }
    mkdir(b, 0777);
}

static void check_decode(const char *file, const char *expect, int c, int depth) {
    xf_image img;
    xf_array e;
    CHECK_OK(ctx, xf_npy_read(ctx, ref(expect), &e));
    xf_status st = xf_image_read(ctx, ref(file), &img);
    CHECK(st == XF_OK, "%s: %s", file, xf_errmsg(ctx));
    if (!st) {
        int64_t eh = e.shape[0], ew = e.shape[1], ec = e.ndim == 3 ? e.shape[2] : 1;
        CHECK(img.h == eh && img.w == ew && img.c == ec && img.c == c && img.depth == depth, "%s: got %dx%dx%d/%d want %lldx%lldx%lld",
              file, img.h, img.w, img.c, img.depth, (long long)eh, (long long)ew, (long long)ec);
        if (img.h == eh && img.w == ew && img.c == ec) {
            int64_t n = eh * ew * ec, bad = 0;
            for (int64_t i = 0; i < n; i++) {
                double g = depth == 8 ? ((unsigned char *)img.data)[i] : ((uint16_t *)img.data)[i];
                if (g != xf_array_get_f64(&e, i)) bad++;
            }
            /* same libjpeg-turbo and libpng as Pillow: exact */
            CHECK(bad == 0, "%s: %lld of %lld samples differ from Pillow", file, (long long)bad, (long long)n);
        }
        xf_image_free(ctx, &img);
    }
    xf_array_free(ctx, &e);
}

static void check_tensor(const float *got, const xf_array *e, double atol, const char *what) {
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < e->size; i++) {
        double ev = xf_array_get_f64(e, i);
        if (isnan(ev)) continue;
        double d = fabs(got[i] - ev);
        if (!(d <= worst)) { worst = d; at = i; }
    }
    CHECK(worst <= atol, "%s: max |diff| %g at %lld (tolerance %g)", what, worst, (long long)at, atol);
}

static void test_images(void) {
    check_decode("data/folder/a_dog/g2.jpg", "data/decode_g2_jpg.npy", 3, 8);
    check_decode("data/folder/a_dog/g3_gray.jpg", "data/decode_g3_gray_jpg.npy", 1, 8);
    check_decode("data/folder/C_upper/p1_palette.png", "data/decode_p1_palette.npy", 3, 8);
    check_decode("data/folder/C_upper/p2_rgb16.png", "data/decode_p2_rgb16.npy", 3, 16);
    check_decode("data/folder/a_dog/g4_gray16.png", "data/decode_g4_gray16.npy", 1, 16);
    check_decode("data/folder/b_cat/r1_rgba.png", "data/decode_r1_rgba.npy", 3, 8);
    check_decode("data/folder/b_cat/r3_1bit.png", "data/decode_r3_1bit.npy", 1, 8);

    /* the resampler alone against Pillow's BILINEAR on float images: same arithmetic up
     * to float32 storage, so 1e-5 */
    const int rs[][4] = {{7, 9, 3, 4}, {5, 5, 11, 13}, {32, 20, 7, 20}, {9, 30, 9, 8}, {1, 6, 4, 3}};
    for (int i = 0; i < 5; i++) {
        char a[128], b[128];
        snprintf(a, sizeof a, "data/resize_src_%dx%d.npy", rs[i][0], rs[i][1]);
        snprintf(b, sizeof b, "data/resize_dst_%dx%d_%dx%d.npy", rs[i][0], rs[i][1], rs[i][2], rs[i][3]);
        xf_array src, dst;
        CHECK_OK(ctx, xf_npy_read(ctx, ref(a), &src));
        CHECK_OK(ctx, xf_npy_read(ctx, ref(b), &dst));
        float *out = calloc((size_t)rs[i][2] * rs[i][3], sizeof(float));
        CHECK_OK(ctx, xf_resize_bilinear(ctx, src.data, rs[i][0], rs[i][1], out, rs[i][2], rs[i][3]));
        check_tensor(out, &dst, 1e-5, b);
        free(out);
        xf_array_free(ctx, &src);
        xf_array_free(ctx, &dst);
    }

    /* bad images, each named */
    const struct { const char *f; xf_status st; } bad[] = {
        {"data/bad_img/corrupt.png", XF_ERR_FORMAT}, {"data/bad_img/truncated.png", XF_ERR_FORMAT},
        {"data/bad_img/truncated.jpg", XF_ERR_FORMAT}, {"data/bad_img/not_image.png", XF_ERR_FORMAT},
        {"data/bad_img/huge_header.png", XF_ERR_FORMAT}, {"data/bad_img/bomb_header.png", XF_ERR_FORMAT}, {"data/bad_img/missing.png", XF_ERR_IO}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xf_image img;
        check_bad(xf_image_read(ctx, ref(bad[i].f), &img), bad[i].st, bad[i].f);
        CHECK(img.data == NULL, "%s: no pixels on failure", bad[i].f);
    }
    xf_image img;
    CHECK_OK(ctx, xf_image_read(ctx, ref("data/flat_1500.png"), &img));
    CHECK(img.w == 1500 && img.h == 1500, "flat png");
    xf_image_free(ctx, &img);
    int64_t before = xf_ctx_alloc_count(ctx);
    xf_image_read(ctx, ref("data/bad_img/bomb_header.png"), &img);
    CHECK(strstr(xf_errmsg(ctx), "more than its") != NULL && xf_ctx_alloc_count(ctx) - before < 30, "png bomb refused early: %s", xf_errmsg(ctx));
    xf_image_read(ctx, ref("data/bad_img/truncated.jpg"), &img);
    CHECK(strstr(xf_errmsg(ctx), "truncated") != NULL, "truncated jpeg message: %s", xf_errmsg(ctx));
}

static void test_folder(void) {
    const char *names[] = {"C_upper", "a_dog", "b_cat"};
    xf_array lab;
    CHECK_OK(ctx, xf_npy_read(ctx, ref("data/folder_expect_labels.npy"), &lab));
    xf_folder f;
    CHECK_OK(ctx, xf_folder_scan(ctx, ref("data/folder"), &f));
    CHECK(f.k == 3 && f.n == 9, "folder: %d classes %lld images", f.k, (long long)f.n);
    for (int i = 0; i < f.k && i < 3; i++) CHECK(strcmp(f.classes[i], names[i]) == 0, "class %d is %s (byte order)", i, f.classes[i]);
    if (f.n == 9) CHECK(strstr(f.paths[2], "a_dog/g1_gray.png") && strstr(f.paths[8], "b_cat/r3_1bit.png"), "file order");
    xf_folder_free(ctx, &f);

    struct { int ch, h, w, resize; float mean[3], std[3]; const char *expect; double atol; } cases[] = {
        /* float pipeline vs Pillow 'F' resample: float32 rounding only */
        {3, 8, 8, 0, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, "data/folder_expect_rgb_8x8.npy", 2e-5},
        {1, 8, 8, 0, {0.5f, 0, 0}, {0.25f, 1, 1}, "data/folder_expect_gray_8x8.npy", 2e-5},
        {3, 6, 9, XF_RESIZE_STRETCH, {0, 0, 0}, {1, 1, 1}, "data/folder_expect_stretch_6x9.npy", 2e-6},
        {3, 7, 5, 12, {0, 0, 0}, {1, 1, 1}, "data/folder_expect_r12_7x5.npy", 2e-6},
        /* torchvision's own Resize+CenterCrop+ToTensor+Normalize on PIL images: Pillow
         * rounds 8-bit images to uint8 after each resampling pass, so up to ~1/255 of a
         * pixel; in normalised units 1/255/std = 0.0175 (16-bit files are NaN = skipped) */
        {3, 8, 8, 0, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, "data/folder_expect_torchvision_8x8.npy", 1.0 / 255 / 0.224},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        xf_data_opts o;
        xf_data_opts_default(&o);
        o.channels = cases[t].ch;
        o.height = cases[t].h;
        o.width = cases[t].w;
        o.resize = cases[t].resize;
        memcpy(o.mean, cases[t].mean, sizeof o.mean);
        memcpy(o.std, cases[t].std, sizeof o.std);
        xf_dataset d;
        xf_array e;
        CHECK_OK(ctx, xf_npy_read(ctx, ref(cases[t].expect), &e));
        xf_status st = xf_folder_load(ctx, ref("data/folder"), &o, &d);
        CHECK(st == XF_OK, "%s: %s", cases[t].expect, xf_errmsg(ctx));
        if (!st) {
            CHECK(d.n == 9 && d.c == cases[t].ch && d.h == cases[t].h && d.w == cases[t].w && d.k == 3, "%s: shape", cases[t].expect);
            CHECK(e.size == d.n * d.c * d.h * d.w, "%s: expected size", cases[t].expect);
            if (e.size == d.n * d.c * d.h * d.w) check_tensor(d.x, &e, cases[t].atol, cases[t].expect);
            int same = 1;
            for (int i = 0; i < 9 && d.n == 9; i++) same &= d.y[i] == ((int64_t *)lab.data)[i];
            CHECK(same, "folder labels");
            CHECK(strcmp(d.classes[1], "a_dog") == 0, "folder class names");
            xf_dataset_free(ctx, &d);
        }
        xf_array_free(ctx, &e);
    }
    xf_array_free(ctx, &lab);

    /* sub-folders inside a class: torchvision ImageFolder's order (hidden folders aside) */
    CHECK_OK(ctx, xf_folder_scan(ctx, ref("data/nested"), &f));
    {
        size_t len = 0;
        char *ex = (char *)slurp(ref("data/nested_expect.txt"), &len), *save = NULL;
        char *copy = calloc(len + 1, 1);
        if (ex) memcpy(copy, ex, len);
        int64_t i = 0;
        for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), i++) {
            char *tab = strchr(ln, '\t');
            if (!tab || i >= f.n) { CHECK(0, "nested: line %lld", (long long)i); break; }
            size_t lp = strlen(f.paths[i]), lt = strlen(tab + 1);
            CHECK(atoi(ln) == f.labels[i] && lp >= lt && strcmp(f.paths[i] + lp - lt, tab + 1) == 0, "nested %lld: %s (%d) want %s (%d)",
                  (long long)i, f.paths[i], f.labels[i], tab + 1, atoi(ln));
        }
        CHECK(i == f.n && f.n == 6, "nested: %lld files, expected %lld", (long long)f.n, (long long)i);
        free(copy);
        free(ex);
    }
    xf_folder_free(ctx, &f);

    /* no size: images differ in size -> error naming the file */
    xf_dataset d;
    xf_status st = xf_folder_load(ctx, ref("data/folder"), NULL, &d);
    CHECK(st == XF_ERR_SHAPE && strstr(xf_errmsg(ctx), "p2_rgb16.png"), "mixed sizes without a size: %s", xf_errmsg(ctx));

    /* built trees: a corrupt image, a truncated JPEG, an empty class, skip_bad */
    char root[512], p[1024];
    xt_tmp("folders", root, sizeof root);
    const char *bads[][2] = {{"corrupt", "data/bad_img/corrupt.png"}, {"truncjpg", "data/bad_img/truncated.jpg"}};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s/x", root, bads[i][0]);
        mkdirs(p);
        snprintf(p, sizeof p, "%s/%s/x/ok.png", root, bads[i][0]);
        copy_file(ref("data/folder/a_dog/g1_gray.png"), p);
        snprintf(p, sizeof p, "%s/%s/y", root, bads[i][0]);
        mkdirs(p);
        snprintf(p, sizeof p, "%s/%s/y/bad%s", root, bads[i][0], strstr(bads[i][1], ".jpg") ? ".jpg" : ".png");
        copy_file(ref(bads[i][1]), p);
        snprintf(p, sizeof p, "%s/%s/y/ok2.png", root, bads[i][0]);
        copy_file(ref("data/folder/a_dog/g1_gray.png"), p);
        snprintf(p, sizeof p, "%s/%s", root, bads[i][0]);
        st = xf_folder_load(ctx, p, NULL, &d);
        CHECK(st == XF_ERR_FORMAT && strstr(xf_errmsg(ctx), "/y/bad"), "%s: %s", bads[i][0], xf_errmsg(ctx));
        CHECK(d.x == NULL, "nothing on failure");
        xf_data_opts o;
        xf_data_opts_default(&o);
        o.skip_bad = 1;
        st = xf_folder_load(ctx, p, &o, &d);
        CHECK(st == XF_OK && d.n == 2 && d.y[0] == 0 && d.y[1] == 1, "%s skip_bad: %s n=%lld", bads[i][0], xf_errmsg(ctx), (long long)d.n);
        xf_dataset_free(ctx, &d);
    }
    snprintf(p, sizeof p, "%s/empty/x", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/empty/x/ok.png", root);
    copy_file(ref("data/folder/a_dog/g1_gray.png"), p);
    snprintf(p, sizeof p, "%s/empty/yy_empty", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/empty", root);
    st = xf_folder_load(ctx, p, NULL, &d);
    CHECK(st == XF_ERR_FORMAT && strstr(xf_errmsg(ctx), "yy_empty") && strstr(xf_errmsg(ctx), "empty class"), "empty class: %s", xf_errmsg(ctx));
    snprintf(p, sizeof p, "%s/empty/x", root);
    st = xf_folder_load(ctx, p, NULL, &d);
    CHECK(st == XF_ERR_FORMAT && strstr(xf_errmsg(ctx), "no class folders"), "no classes: %s", xf_errmsg(ctx));

    /* allocation failure throughout a folder load: clean errors, no leaks */
    xf_data_opts o;
    xf_data_opts_default(&o);
    o.height = o.width = 8;
    for (int k = 1; k < 400; k += 7) {
        xf_ctx_fail_alloc_after(ctx, k);
        st = xf_folder_load(ctx, ref("data/folder"), &o, &d);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) { xf_dataset_free(ctx, &d); break; }
        CHECK(st == XF_ERR_NOMEM, "folder alloc failure %d: %s (%s)", k, xf_status_str(st), xf_errmsg(ctx));
    }
}

/* ---- hierarchy -------------------------------------------------------------------- */

/* "a,b,c" == names of ids */
static int same_names(const xf_hierarchy_t *h, const int64_t *ids, int64_t n, const char *csv) {
    char buf[1024];
    size_t u = 0;
    buf[0] = 0;
    for (int64_t i = 0; i < n; i++) u += (size_t)snprintf(buf + u, sizeof buf - u, "%s%s", i ? "," : "", xf_hierarchy_name(h, ids[i]));
    return strcmp(buf, csv) == 0;
}

/* classes.txt (xf_data_read_classes); the inputs are the fuzz target's seeds */
static void test_class_names(void) {
    static const struct {
        const char *file;
        int k;               /* names read, 0 for an error */
        const char *first;   /* the first name, or a piece of the error */
    } cases[] = {{"three.txt", 3, "cat"},       {"crlf.txt", 2, "cat"},         {"one_no_newline.txt", 1, "one"},
                 {"utf8.txt", 2, "caf\xc3\xa9"}, {"empty_line.txt", 0, ":2: empty"}, {"nul.txt", 0, ":1: a NUL byte"},
                 {"blank.txt", 0, "no class names"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[128], p[1024];
        snprintf(rel, sizeof rel, "../fuzz/corpus/fuzz_class_names/%s", cases[i].file);
        snprintf(p, sizeof p, "%s", ref(rel));
        char **names = NULL;
        int k = -1;
        xf_status st = xf_data_read_classes(ctx, p, &names, &k);
        if (cases[i].k) {
            CHECK(st == XF_OK && k == cases[i].k && !strcmp(names[0], cases[i].first), "%s: %d names (%s)", cases[i].file, k,
                  st ? xf_errmsg(ctx) : names[0]);
            CHECK(st || strchr(names[k - 1], '\r') == NULL, "%s: a CR kept", cases[i].file);
        } else {
            check_bad(st, XF_ERR_FORMAT, cases[i].file);
            CHECK(strstr(xf_errmsg(ctx), cases[i].first) != NULL, "%s: %s", cases[i].file, xf_errmsg(ctx));
        }
        for (int j = 0; j < k && names; j++) xf_free(ctx, names[j]);
        xf_free(ctx, names);
    }
}

static void test_hierarchy(void) {
    const char *goods[] = {"data/hier/good.tsv", "data/hier/good_crlf_rootdecl.tsv"};
    size_t elen = 0;
    unsigned char *expect = slurp(ref("data/hier/good_expect.txt"), &elen);
    for (int g = 0; g < 2; g++) {
        xf_hierarchy_t *h;
        xf_status st = xf_hierarchy_read(ctx, ref(goods[g]), &h);
        CHECK(st == XF_OK, "%s: %s", goods[g], xf_errmsg(ctx));
        if (st) continue;
        CHECK(xf_hierarchy_count(h) == 10, "%s: %lld nodes", goods[g], (long long)xf_hierarchy_count(h));
        CHECK(strcmp(xf_hierarchy_name(h, xf_hierarchy_root(h)), "all") == 0, "root");
        CHECK(xf_hierarchy_find(h, "seven") >= 0 && xf_hierarchy_find(h, " seven ") < 0, "names trimmed");
        CHECK(xf_hierarchy_find(h, "small b") >= 0, "names with spaces");
        CHECK(xf_hierarchy_depth(h, xf_hierarchy_find(h, "small b")) == 3, "depth");
        const int64_t *kids;
        CHECK(xf_hierarchy_children(h, xf_hierarchy_root(h), &kids) == 3 && same_names(h, kids, 3, "latin,greek,digits"), "children of root");
        /* every line of the Python walk: node, leaves, ancestors */
        char *text = (char *)expect, *save = NULL;
        char *copy = malloc(elen + 1);
        memcpy(copy, text, elen);
        copy[elen] = 0;
        int lines = 0;
        for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
            char *t1 = strchr(ln, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            if (!t1 || !t2) continue;
            *t1 = *t2 = 0;
            int64_t node = xf_hierarchy_find(h, ln), *lv = NULL, nl = 0, anc[16];
            CHECK(node >= 0, "node %s", ln);
            CHECK_OK(ctx, xf_hierarchy_leaves(ctx, h, node, &lv, &nl));
            CHECK(same_names(h, lv, nl, t1 + 1), "leaves under %s, want %s", ln, t1 + 1);
            int64_t na = xf_hierarchy_ancestors(h, node, anc, 16);
            CHECK(same_names(h, anc, na, t2 + 1), "ancestors of %s, want %s", ln, t2 + 1);
            CHECK(na == xf_hierarchy_depth(h, node), "depth = ancestors");
            xf_free(ctx, lv);
            lines++;
        }
        CHECK(lines == 10, "expect lines %d", lines);
        free(copy);

        /* the slice of a dataset under "latin": classes a, b, small b and latin itself */
        xf_dataset d;
        CHECK_OK(ctx, xf_dataset_alloc(ctx, &d, 6, 1, 1, 1, 4));
        const char *cn[] = {"alpha", "small b", "zzz-not-in-tree", "a"};
        for (int i = 0; i < 4; i++) xf_dataset_set_class(ctx, &d, i, cn[i]);
        int32_t ys[] = {0, 1, 2, 3, 1, 0};
        memcpy(d.y, ys, sizeof ys);
        int64_t *idx, m;
        CHECK_OK(ctx, xf_hierarchy_slice(ctx, h, xf_hierarchy_find(h, "latin"), &d, &idx, &m));
        CHECK(m == 3 && idx[0] == 1 && idx[1] == 3 && idx[2] == 4, "slice under latin: %lld", (long long)m);
        xf_free(ctx, idx);
        CHECK_OK(ctx, xf_hierarchy_slice(ctx, h, xf_hierarchy_root(h), &d, &idx, &m));
        CHECK(m == 5, "slice under root: %lld (class outside the tree excluded)", (long long)m);
        xf_free(ctx, idx);
        CHECK_ST(ctx, xf_hierarchy_slice(ctx, h, 99, &d, &idx, &m), XF_ERR_INVALID);
        xf_dataset_free(ctx, &d);
        xf_hierarchy_free(h);
    }
    free(expect);

    const struct { const char *f; const char *why; } bad[] = {
        {"data/hier/cycle.tsv", "cycle: b -> c -> d -> b"},
        {"data/hier/self_loop.tsv", ":2: cycle"},
        {"data/hier/two_roots.tsv", "2 roots"},
        {"data/hier/orphan.tsv", ":3: orphan: 'lost'"},
        {"data/hier/malformed_fields.tsv", ":2: malformed"},
        {"data/hier/malformed_empty.tsv", ":2: malformed"},
        {"data/hier/dup_parent.tsv", ":4: 'c' has parent 'b' here but 'a' at line 3"},
        {"data/hier/root_has_parent.tsv", ":3:"},
        {"data/hier/two_root_decls.tsv", ":2: a second root"},
        {"data/hier/empty.tsv", "no nodes"},
        {"data/hier/cycle_no_root.tsv", "cycle"},
        {"data/hier/missing.tsv", "cannot open"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xf_hierarchy_t *h = (xf_hierarchy_t *)1;
        xf_status st = xf_hierarchy_read(ctx, ref(bad[i].f), &h);
        check_bad(st, i + 1 == sizeof bad / sizeof *bad ? XF_ERR_IO : XF_ERR_FORMAT, bad[i].f);
        CHECK(strstr(xf_errmsg(ctx), bad[i].why) != NULL, "%s: message lacks '%s': %s", bad[i].f, bad[i].why, xf_errmsg(ctx));
        CHECK(h == NULL, "%s: no tree on failure", bad[i].f);
    }
    /* allocation failures */
    for (int k = 1; k < 80; k += 3) {
        xf_hierarchy_t *h;
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_hierarchy_read(ctx, ref("data/hier/good.tsv"), &h);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) { xf_hierarchy_free(h); break; }
        CHECK(st == XF_ERR_NOMEM, "hierarchy alloc failure %d: %s", k, xf_errmsg(ctx));
    }
}

/* ---- probe sampler ---------------------------------------------------------------- */

static void test_sampler(void) {
    xf_array ya;
    CHECK_OK(ctx, xf_npy_read(ctx, ref("data/sampler_y.npy"), &ya));
    const int32_t *y = ya.data;
    int64_t n = ya.size;
    const int budgets[] = {500, 100, 37};
    for (int b = 0; b < 3; b++) {
        char name[64];
        snprintf(name, sizeof name, "data/sampler_counts_%d.npy", budgets[b]);
        xf_array ec;
        CHECK_OK(ctx, xf_npy_read(ctx, ref(name), &ec));
        int64_t *idx, m, *idx2, m2;
        CHECK_OK(ctx, xf_probe_sample(ctx, y, n, 12, budgets[b], 2, XF_PROBE_SEED(0), &idx, &m));
        int64_t cnt[12] = {0}, dup = 0;
        unsigned char *seen = calloc((size_t)n, 1);
        for (int64_t i = 0; i < m; i++) {
            cnt[y[idx[i]]]++;
            dup += seen[idx[i]]++;
        }
        free(seen);
        CHECK(dup == 0, "budget %d: duplicate indices", budgets[b]);
        int same = 1;
        for (int c = 0; c < 12; c++) same &= cnt[c] == ((int64_t *)ec.data)[c];
        CHECK(same, "budget %d: per-class counts differ from PARC's loop", budgets[b]);
        /* determinism, and a different seed changes the set but not the counts */
        CHECK_OK(ctx, xf_probe_sample(ctx, y, n, 12, budgets[b], 2, XF_PROBE_SEED(0), &idx2, &m2));
        CHECK(m2 == m && memcmp(idx, idx2, sizeof(int64_t) * (size_t)m) == 0, "budget %d: same seed, same probe set", budgets[b]);
        xf_free(ctx, idx2);
        CHECK_OK(ctx, xf_probe_sample(ctx, y, n, 12, budgets[b], 2, XF_PROBE_SEED(1), &idx2, &m2));
        CHECK(m2 == m && memcmp(idx, idx2, sizeof(int64_t) * (size_t)m) != 0, "budget %d: another seed, another set", budgets[b]);
        xf_free(ctx, idx2);
        xf_free(ctx, idx);
        xf_array_free(ctx, &ec);
    }
    xf_array_free(ctx, &ya);

    /* more classes than budget / 2: 300 classes of 3 -> 250 classes x 2 */
    int32_t *yy = malloc(sizeof(int32_t) * 900);
    for (int i = 0; i < 900; i++) yy[i] = (i * 7) % 300;
    int64_t *idx, m;
    CHECK_OK(ctx, xf_probe_sample(ctx, yy, 900, 300, 500, 2, 42, &idx, &m));
    int cnt[300] = {0}, classes = 0, not2 = 0;
    for (int64_t i = 0; i < m; i++) cnt[yy[idx[i]]]++;
    for (int c = 0; c < 300; c++) {
        classes += cnt[c] > 0;
        not2 += cnt[c] != 0 && cnt[c] != 2;
    }
    CHECK(m == 500 && classes == 250 && not2 == 0, "subsampled classes: m=%lld classes=%d", (long long)m, classes);
    xf_free(ctx, idx);
    /* budget above N: everything, once */
    CHECK_OK(ctx, xf_probe_sample(ctx, yy, 900, 300, 5000, 2, 42, &idx, &m));
    CHECK(m == 900, "budget > N gives all %lld", (long long)m);
    xf_free(ctx, idx);
    /* bad arguments */
    CHECK_ST(ctx, xf_probe_sample(ctx, yy, 900, 300, 0, 2, 1, &idx, &m), XF_ERR_INVALID);
    CHECK_ST(ctx, xf_probe_sample(ctx, yy, 900, 299, 500, 2, 1, &idx, &m), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "label 299") != NULL, "bad label named: %s", xf_errmsg(ctx));
    free(yy);
}

/* ---- xf_data_open and streams ------------------------------------------------------- */

static void check_ds(const xf_dataset *d, const char *expect, int64_t n, int c, int h, int w, double atol, const char *what) {
    CHECK(d->n == n && d->c == c && d->h == h && d->w == w, "%s: shape (%lld,%d,%d,%d) want (%lld,%d,%d,%d)", what, (long long)d->n, d->c,
          d->h, d->w, (long long)n, c, h, w);
    if (!expect) return;
    xf_array e;
    CHECK_OK(ctx, xf_npy_read(ctx, ref(expect), &e));
    if (e.size == d->n * d->c * d->h * d->w) check_tensor(d->x, &e, atol, what);
    else CHECK(0, "%s: expected size %lld", what, (long long)e.size);
    xf_array_free(ctx, &e);
}

/* all batches of a stream concatenated must equal the whole dataset */
static void check_stream(const char *spec, const xf_data_opts *o, int64_t batch, const xf_dataset *whole, const char *what) {
    xf_data_stream_t *s;
    xf_status st = xf_data_stream_open(ctx, spec, o, batch, &s);
    CHECK(st == XF_OK, "%s: stream open: %s", what, xf_errmsg(ctx));
    if (st) return;
    CHECK(xf_data_stream_count(s) == whole->n, "%s: stream count %lld", what, (long long)xf_data_stream_count(s));
    char *const *names;
    int k = xf_data_stream_classes(s, &names);
    CHECK(k == whole->k && (k == 0 || strcmp(names[k - 1], whole->classes[k - 1]) == 0), "%s: stream classes", what);
    int64_t seen = 0, batches = 0;
    size_t per = (size_t)whole->c * whole->h * whole->w;
    int same = 1;
    for (;;) {
        xf_batch b;
        st = xf_data_stream_next(s, &b);
        CHECK(st == XF_OK, "%s: stream next: %s", what, xf_errmsg(ctx));
        if (st || b.n == 0) break;
        batches++;
        CHECK(b.n <= batch && b.first == seen && b.c == whole->c && b.h == whole->h && b.w == whole->w, "%s: batch geometry", what);
        if (seen + b.n > whole->n) { same = 0; break; }
        same &= memcmp(b.x, whole->x + (size_t)seen * per, sizeof(float) * per * (size_t)b.n) == 0;
        same &= memcmp(b.y, whole->y + seen, sizeof(int32_t) * (size_t)b.n) == 0;
        seen += b.n;
    }
    CHECK(same && seen == whole->n, "%s: streamed %lld of %lld, equal to the whole load: %d", what, (long long)seen, (long long)whole->n, same);
    CHECK(batches == (whole->n + batch - 1) / batch, "%s: %lld batches", what, (long long)batches);
    xf_data_stream_close(s);
}

static void test_spec(void) {
    xf_dataset d;
    xf_data_opts o;
    char spec[1024];
    /* IDX folder, both splits, plain and gz */
    xf_data_opts_default(&o);
    CHECK_OK(ctx, xf_data_open(ctx, ref("data/idx_plain"), &o, &d));
    check_ds(&d, NULL, 6, 1, 5, 4, 0, "idx folder");
    if (d.n == 6) {
        xf_array e;
        CHECK_OK(ctx, xf_npy_read(ctx, ref("data/idx_expect_images.npy"), &e));
        int ok = 1;
        for (int i = 0; i < 120; i++) ok &= fabsf(d.x[i] - ((unsigned char *)e.data)[i] / 255.0f) < 1e-7f;
        CHECK(ok, "idx folder pixels / 255");
        xf_array_free(ctx, &e);
        CHECK(d.k == 3 && d.y[1] == 2, "idx labels k=%d", d.k);
    }
    check_stream(ref("data/idx_plain"), &o, 4, &d, "idx plain stream");
    xf_dataset_free(ctx, &d);
    o.split = "test";
    CHECK_OK(ctx, xf_data_open(ctx, ref("data/idx_plain"), &o, &d));
    check_ds(&d, NULL, 3, 1, 5, 4, 0, "idx folder test split");
    xf_dataset_free(ctx, &d);
    /* an IDX file (labels by name), resized to RGB 8x8 and normalised */
    xf_data_opts_default(&o);
    o.height = o.width = 8;
    o.channels = 3;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, sd, sizeof sd);
    snprintf(spec, sizeof spec, "%s", ref("data/idx_gz/train-images-idx3-ubyte.gz"));
    CHECK_OK(ctx, xf_data_open(ctx, spec, &o, &d));
    check_ds(&d, "data/idx_expect_3x8x8.npy", 6, 3, 8, 8, 2e-5, "idx gz file 3x8x8");
    check_stream(spec, &o, 4, &d, "idx gz stream");
    check_stream(spec, &o, 1, &d, "idx gz stream batch 1");
    check_stream(spec, &o, 100, &d, "idx gz stream batch 100");
    xf_dataset_free(ctx, &d);

    /* .npy arrays: NHWC uint8, NCHW float resized with gray -> RGB */
    xf_data_opts_default(&o);
    CHECK_OK(ctx, xf_data_open(ctx, ref("data/npy/nhwc_x.npy"), &o, &d));
    check_ds(&d, "data/npy/nhwc_expect.npy", 5, 3, 6, 7, 1e-7, "npy nhwc");
    CHECK(d.k == 4 && d.y[2] == 3, "npy labels");
    check_stream(ref("data/npy/nhwc_x.npy"), &o, 2, &d, "npy stream");
    xf_dataset_free(ctx, &d);
    o.height = o.width = 4;
    o.channels = 3;
    CHECK_OK(ctx, xf_data_open(ctx, ref("data/npy/planes_x.npy"), &o, &d));
    check_ds(&d, "data/npy/planes_expect_3x4x4.npy", 4, 3, 4, 4, 2e-6, "npy planes 3x4x4");
    xf_dataset_free(ctx, &d);
    /* labels given explicitly: the npy labels of another file */
    xf_data_opts_default(&o);
    o.labels = ref("data/npy/planes_y.npy");
    CHECK_OK(ctx, xf_data_open(ctx, ref("data/npy/badcount_x.npy"), &o, &d));
    CHECK(d.n == 4 && d.k == 2, "explicit labels");
    xf_dataset_free(ctx, &d);

    /* the corpus layout */
    xf_data_opts_default(&o);
    o.corpus_dir = ref("data/corpus");
    CHECK_OK(ctx, xf_data_open(ctx, "corpus:tiny", &o, &d));
    check_ds(&d, "data/corpus_tiny_train_expect.npy", 6, 1, 4, 4, 1e-7, "corpus train");
    CHECK(d.k == 3 && strcmp(d.classes[2], "triangle") == 0, "corpus classes");
    check_stream("corpus:tiny", &o, 4, &d, "corpus stream");
    xf_dataset_free(ctx, &d);
    CHECK_OK(ctx, xf_data_open(ctx, "corpus:tiny:test", &o, &d));
    CHECK(d.n == 3 && d.y[0] == 2 && d.k == 3, "corpus test split");
    xf_dataset_free(ctx, &d);
    o.split = "test";
    CHECK_OK(ctx, xf_data_open(ctx, "corpus:tiny", &o, &d));
    CHECK(d.n == 3, "corpus split from opts");
    xf_dataset_free(ctx, &d);

    /* the corpus writer round-trips through corpus:<task>, float and uint8 */
    {
        char cdir[512], tdir[1024];
        xt_tmp("corpus_rt", cdir, sizeof cdir);
        snprintf(tdir, sizeof tdir, "%s/deep/task1", cdir);
        o.split = NULL; /* the uint8 train split: exact through uint8 storage */
        CHECK_OK(ctx, xf_data_open(ctx, "corpus:tiny", &o, &d));
        CHECK_OK(ctx, xf_corpus_write_split(ctx, tdir, "train", &d, 1));
        CHECK_OK(ctx, xf_corpus_write_split(ctx, tdir, "test", &d, 0));
        xf_data_opts o2;
        xf_data_opts_default(&o2);
        snprintf(tdir, sizeof tdir, "%s/deep", cdir);
        o2.corpus_dir = tdir;
        const char *sp[] = {"corpus:task1", "corpus:task1:test"};
        for (int i = 0; i < 2; i++) {
            xf_dataset r;
            CHECK_OK(ctx, xf_data_open(ctx, sp[i], &o2, &r));
            CHECK(r.n == d.n && r.k == d.k && r.k == 3 && strcmp(r.classes[1], "square") == 0 &&
                      memcmp(r.y, d.y, sizeof(int32_t) * (size_t)d.n) == 0, "%s: round trip", sp[i]);
            int same = r.n == d.n;
            for (int64_t j = 0; same && j < d.n * 16; j++) same = r.x[j] == d.x[j];
            CHECK(same, "%s: pixels round trip exactly (uint8 data)", sp[i]);
            xf_dataset_free(ctx, &r);
        }
        d.x[0] = 1.5f;
        CHECK_ST(ctx, xf_corpus_write_split(ctx, tdir, "bad", &d, 1), XF_ERR_INVALID);
        xf_dataset_free(ctx, &d);
        o.split = "test";
    }

    /* an image folder through the spec equals the folder loader; streamed in batches */
    xf_data_opts_default(&o);
    o.height = o.width = 8;
    o.channels = 3;
    CHECK_OK(ctx, xf_data_open(ctx, ref("data/folder"), &o, &d));
    check_ds(&d, NULL, 9, 3, 8, 8, 0, "folder spec");
    check_stream(ref("data/folder"), &o, 2, &d, "folder stream");
    xf_dataset_free(ctx, &d);

    /* digits */
    if (file_exists(XF_DIGITS_PATH)) {
        xf_data_opts_default(&o);
        o.height = o.width = 16;
        CHECK_OK(ctx, xf_data_open(ctx, "digits", &o, &d));
        check_ds(&d, NULL, 1797, 1, 16, 16, 0, "digits 16x16");
        check_stream("digits", &o, 500, &d, "digits stream");
        xf_dataset_free(ctx, &d);
        o.split = "test";
        CHECK_ST(ctx, xf_data_open(ctx, "digits", &o, &d), XF_ERR_INVALID);
    }

    /* errors, each naming what is wrong */
    xf_data_opts_default(&o);
    const struct { const char *spec; const char *want; xf_status st; int isref; } bad[] = {
        {"data/npy/badcount_x.npy", "3 labels for 4 images", XF_ERR_SHAPE, 1},
        {"data/npy/badlabel_x.npy", "label -1 of sample 2", XF_ERR_FORMAT, 1},
        {"data/npy/nhwc_expect.npy", "cannot derive a labels file", XF_ERR_NOTFOUND, 1},
        {"data/digits/small.csv", "not a recognised data file", XF_ERR_FORMAT, 1},
        {"data/bad_idx/truncated.idx", "cannot derive", XF_ERR_NOTFOUND, 1},
        {"data/nothing_here", "cannot open", XF_ERR_IO, 1},
        {"corpus:nope", "no task folder", XF_ERR_NOTFOUND, 0},
        {"corpus:tiny:val", "no split 'val'", XF_ERR_NOTFOUND, 0},
        {"corpus:", "expected corpus:<task>", XF_ERR_INVALID, 0},
        {"", "empty data argument", XF_ERR_INVALID, 0},
    };
    o.corpus_dir = ref("data/corpus");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *sp = bad[i].isref ? ref(bad[i].spec) : bad[i].spec;
        xf_status st = xf_data_open(ctx, sp, &o, &d);
        CHECK(st == bad[i].st && strstr(xf_errmsg(ctx), bad[i].want), "spec %s: %s (want %s: '%s')", bad[i].spec, xf_errmsg(ctx),
              xf_status_str(bad[i].st), bad[i].want);
        CHECK(d.x == NULL, "spec %s: nothing on failure", bad[i].spec);
        xf_data_stream_t *s = (xf_data_stream_t *)1;
        st = xf_data_stream_open(ctx, sp, &o, 4, &s);
        CHECK(st != XF_OK && s == NULL, "stream %s fails too", bad[i].spec);
    }
    /* a folder split that does not exist */
    o.split = "test";
    CHECK_ST(ctx, xf_data_open(ctx, ref("data/folder"), &o, &d), XF_ERR_NOTFOUND);
    /* bad options */
    xf_data_opts_default(&o);
    o.height = 8;
    CHECK_ST(ctx, xf_data_open(ctx, ref("data/idx_plain"), &o, &d), XF_ERR_INVALID);
    xf_data_opts_default(&o);
    o.channels = 2;
    CHECK_ST(ctx, xf_data_open(ctx, ref("data/idx_plain"), &o, &d), XF_ERR_INVALID);
    xf_data_opts_default(&o);
    o.std[0] = 0;
    CHECK_ST(ctx, xf_data_open(ctx, ref("data/idx_plain"), &o, &d), XF_ERR_INVALID);
    xf_data_opts_default(&o);
    o.height = o.width = 8;
    o.resize = 4;
    CHECK_ST(ctx, xf_data_open(ctx, ref("data/idx_plain"), &o, &d), XF_ERR_INVALID);
    CHECK(strstr(xf_errmsg(ctx), "smaller than the 8x8 crop") != NULL, "resize below crop: %s", xf_errmsg(ctx));
    /* a truncated gz IDX set detected mid-stream: the bad file named */
    char root[512], p[1024];
    xt_tmp("idx_trunc", root, sizeof root);
    mkdirs(root);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", root);
    copy_file(ref("data/bad_idx/gz_short_data.idx.gz"), p);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", root);
    copy_file(ref("data/idx_gz/train-labels-idx1-ubyte.gz"), p);
    xf_data_stream_t *s;
    xf_data_opts_default(&o);
    CHECK_OK(ctx, xf_data_stream_open(ctx, root, &o, 4, &s));
    if (s) {
        xf_batch b;
        CHECK_OK(ctx, xf_data_stream_next(s, &b));
        xf_status st = xf_data_stream_next(s, &b);
        CHECK(st == XF_ERR_FORMAT && strstr(xf_errmsg(ctx), "train-images-idx3-ubyte.gz") && strstr(xf_errmsg(ctx), "truncated"),
              "mid-stream truncation: %s", xf_errmsg(ctx));
        xf_data_stream_close(s);
    }
    /* allocation failure through a whole open */
    xf_data_opts_default(&o);
    o.height = o.width = 8;
    o.channels = 3;
    for (int k = 1; k < 60; k += 2) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_data_open(ctx, spec, &o, &d);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) { xf_dataset_free(ctx, &d); break; }
        CHECK(st == XF_ERR_NOMEM, "open alloc failure %d: %s (%s)", k, xf_status_str(st), xf_errmsg(ctx));
    }
    for (int k = 1; k < 60; k += 2) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_data_stream_open(ctx, spec, &o, 2, &s);
        xf_batch b;
        while (st == XF_OK) {
            st = xf_data_stream_next(s, &b);
            if (b.n == 0) break;
        }
        xf_ctx_fail_alloc_after(ctx, 0);
        if (s) xf_data_stream_close(s);
        if (st == XF_OK) break;
        CHECK(st == XF_ERR_NOMEM, "stream alloc failure %d: %s (%s)", k, xf_status_str(st), xf_errmsg(ctx));
    }
}

static void test_fashion_stream(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char p[256];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (!file_exists(p)) return;
    xf_data_opts o;
    xf_data_opts_default(&o);
    o.split = "test";
    xf_data_stream_t *s;
    CHECK_OK(ctx, xf_data_stream_open(ctx, dir, &o, 1000, &s));
    if (!s) return;
    CHECK(xf_data_stream_count(s) == 10000, "fashion t10k stream count");
    xf_array a;
    CHECK_OK(ctx, xf_idx_read(ctx, p, &a));
    int64_t seen = 0;
    int same = 1;
    xf_batch b;
    while (xf_data_stream_next(s, &b) == XF_OK && b.n) {
        for (int64_t i = 0; i < b.n * 784 && a.data; i++) same &= b.x[i] == ((unsigned char *)a.data)[seen * 784 + i] / 255.0f;
        seen += b.n;
    }
    CHECK(seen == 10000 && same, "fashion t10k streamed %lld images equal to the whole read", (long long)seen);
    xf_array_free(ctx, &a);
    xf_data_stream_close(s);
}

/* xf_data_open_probe streams an IDX set (labels first, then only the sampled images):
 * the same images, labels, classes and indices as loading everything and sampling, at a
 * resize, on the small gzip set and on Fashion-MNIST's t10k when installed; other
 * sources take the whole-load path. */
static void probe_same(const char *spec, const xf_data_opts *o, int64_t budget, uint64_t seed) {
    xf_dataset whole = {0}, sub = {0}, pr = {0};
    int64_t *idx = NULL, *pidx = NULL, m = 0, pm = 0;
    CHECK_OK(ctx, xf_data_open(ctx, spec, o, &whole));
    CHECK_OK(ctx, xf_probe_sample(ctx, whole.y, whole.n, whole.k, budget, 1, seed, &idx, &m));
    CHECK_OK(ctx, xf_dataset_subset(ctx, &whole, idx, m, &sub));
    CHECK_OK(ctx, xf_data_open_probe(ctx, spec, o, budget, 1, seed, &pr, &pidx, &pm));
    int same = pm == m && pr.n == sub.n && pr.k == sub.k && pr.c == sub.c && pr.h == sub.h && pr.w == sub.w;
    for (int64_t i = 0; same && i < m; i++) same = pidx[i] == idx[i] && pr.y[i] == sub.y[i];
    size_t per = (size_t)sub.c * sub.h * sub.w;
    if (same && m) same = memcmp(pr.x, sub.x, (size_t)m * per * sizeof(float)) == 0;
    for (int i = 0; same && i < pr.k; i++) same = !strcmp(pr.classes[i], sub.classes[i]);
    CHECK(same, "%s: the streamed probe of %lld equals the whole load's (%lld of %lld)", spec, (long long)budget, (long long)pm,
          (long long)whole.n);
    xf_free(ctx, idx);
    xf_free(ctx, pidx);
    xf_dataset_free(ctx, &whole);
    xf_dataset_free(ctx, &sub);
    xf_dataset_free(ctx, &pr);
}

static void test_probe_stream(void) {
    xf_data_opts o;
    xf_data_opts_default(&o);
    o.height = o.width = 3;
    o.channels = 3;
    probe_same(ref("data/idx_gz/train-images-idx3-ubyte.gz"), &o, 4, 11);
    probe_same(ref("data/folder"), &o, 3, 5);
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char p[256];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (!file_exists(p)) return;
    xf_data_opts_default(&o);
    o.split = "test";
    o.height = o.width = 20;
    probe_same(dir, &o, 500, 2020);
}

int main(void) {
    if (xf_ctx_create(&ctx)) return 1;
    test_probe_stream();
    test_idx();
    test_fashion_mnist();
    test_digits();
    test_images();
    test_folder();
    test_hierarchy();
    test_class_names();
    test_sampler();
    test_spec();
    test_fashion_stream();
    xf_ctx_free(ctx);
    return xt_done("test_data");
}
