/* .npy reader/writer against files NumPy wrote (tests/ref/gen_npy.py), the table of bad
 * files, round trips, and allocation failure. */
#include "xfer/npy.h"
#include "xtest.h"

static void check_values(xf_ctx_t *ctx, const char *name, const double *expect, int ubits) {
    char p[512];
    xf_array a;
    xf_status st = xf_npy_read(ctx, xt_ref(name, p, sizeof p), &a);
    CHECK(st == XF_OK, "%s: %s", name, xf_errmsg(ctx));
    if (st) return;
    CHECK(a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4, "%s: shape", name);
    for (int i = 0; i < 24; i++) {
        double e = expect[i];
        if (ubits) e = fabs(e);
        if (strstr(name, "_i") || strstr(name, "_u")) e = ubits ? floor(fabs(expect[i])) : trunc(expect[i]);
        double g = xf_array_get_f64(&a, i);
        if (fabs(g - e) > 1e-6) { CHECK(0, "%s[%d]: got %g expected %g", name, i, g, e); break; }
    }
    xf_array_free(ctx, &a);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    char p[512], q[512];
    xf_array ex;
    CHECK_OK(ctx, xf_npy_read(ctx, xt_ref("npy/expect_f8.npy", p, sizeof p), &ex));
    const double *e = ex.data;
    const char *good[] = {"npy/good_f2.npy", "npy/good_f4.npy", "npy/good_f8.npy", "npy/good_i1.npy",
                          "npy/good_i2.npy", "npy/good_i4.npy", "npy/good_i8.npy", "npy/good_fortran.npy",
                          "npy/good_bigendian.npy", "npy/good_v2.npy", "npy/good_v3.npy"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) check_values(ctx, good[i], e, 0);
    const char *ugood[] = {"npy/good_u1.npy", "npy/good_u2.npy", "npy/good_u4.npy", "npy/good_u8.npy"};
    for (size_t i = 0; i < 4; i++) check_values(ctx, ugood[i], e, 1);

    xf_array a;
    CHECK_OK(ctx, xf_npy_read(ctx, xt_ref("npy/good_bool.npy", p, sizeof p), &a));
    CHECK(a.dtype == XF_DT_BOOL && a.size == 24 && xf_array_get_f64(&a, 3) == 1.0 && xf_array_get_f64(&a, 4) == 0.0, "bool");
    xf_array_free(ctx, &a);
    CHECK_OK(ctx, xf_npy_read(ctx, xt_ref("npy/good_scalar.npy", p, sizeof p), &a));
    CHECK(a.ndim == 0 && a.size == 1 && xf_array_get_f64(&a, 0) == 7.25, "scalar");
    xf_array_free(ctx, &a);
    CHECK_OK(ctx, xf_npy_read(ctx, xt_ref("npy/good_empty.npy", p, sizeof p), &a));
    CHECK(a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 5 && a.size == 0, "empty");
    xf_array_free(ctx, &a);

    /* the bad-file table: each must fail with a message naming the file */
    const struct { const char *f; xf_status st; } bad[] = {
        {"npy/bad_magic.npy", XF_ERR_FORMAT}, {"npy/bad_version.npy", XF_ERR_UNSUPPORTED},
        {"npy/bad_truncated_data.npy", XF_ERR_FORMAT}, {"npy/bad_truncated_header.npy", XF_ERR_FORMAT},
        {"npy/bad_trailing.npy", XF_ERR_FORMAT}, {"npy/bad_dtype.npy", XF_ERR_FORMAT},
        {"npy/bad_structured.npy", XF_ERR_FORMAT}, {"npy/bad_shape_overflow.npy", XF_ERR_FORMAT},
        {"npy/bad_shape_huge.npy", XF_ERR_FORMAT}, {"npy/bad_missing_key.npy", XF_ERR_FORMAT},
        {"npy/bad_dup_key.npy", XF_ERR_FORMAT}, {"npy/bad_not_dict.npy", XF_ERR_FORMAT},
        {"npy/bad_header_len.npy", XF_ERR_FORMAT}, {"npy/bad_empty.npy", XF_ERR_FORMAT},
        {"npy/bad_neg_shape.npy", XF_ERR_FORMAT}, {"npy/bad_fortran_value.npy", XF_ERR_FORMAT},
        {"npy/does_not_exist.npy", XF_ERR_IO}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xf_status st = xf_npy_read(ctx, xt_ref(bad[i].f, p, sizeof p), &a);
        CHECK(st == bad[i].st, "%s: got %s want %s (%s)", bad[i].f, xf_status_str(st), xf_status_str(bad[i].st), xf_errmsg(ctx));
        CHECK(strstr(xf_errmsg(ctx), bad[i].f) != NULL, "%s: message does not name the file: %s", bad[i].f, xf_errmsg(ctx));
        CHECK(strchr(xf_errmsg(ctx), '\n') == NULL, "one line");
        CHECK(a.data == NULL, "%s: no data on failure", bad[i].f);
    }

    /* round trip for every dtype through the writer */
    for (int dt = XF_DT_BOOL; dt <= XF_DT_F64; dt++) {
        int64_t shape[2] = {3, 5};
        CHECK_OK(ctx, xf_array_alloc(ctx, &a, (xf_dtype)dt, 2, shape));
        unsigned char *b = a.data;
        for (size_t k = 0; k < 15 * xf_dtype_size((xf_dtype)dt); k++) b[k] = (unsigned char)(k * 7 + 1);
        if (dt == XF_DT_BOOL) for (int k = 0; k < 15; k++) b[k] &= 1;
        if (dt == XF_DT_F16) for (int k = 0; k < 15; k++) ((uint16_t *)b)[k] = xf_f32_to_f16((float)k - 3.5f);
        if (dt == XF_DT_F32) for (int k = 0; k < 15; k++) ((float *)b)[k] = (float)k * 0.25f;
        if (dt == XF_DT_F64) for (int k = 0; k < 15; k++) ((double *)b)[k] = (double)k / 3.0;
        xt_tmp("rt.npy", q, sizeof q);
        CHECK_OK(ctx, xf_npy_write(ctx, q, &a));
        xf_array r;
        CHECK_OK(ctx, xf_npy_read(ctx, q, &r));
        CHECK(r.dtype == a.dtype && r.ndim == 2 && r.shape[0] == 3 && r.shape[1] == 5 &&
                  memcmp(r.data, a.data, 15 * xf_dtype_size((xf_dtype)dt)) == 0,
              "round trip %s", xf_dtype_name((xf_dtype)dt));
        xf_array_free(ctx, &r);
        xf_array_free(ctx, &a);
    }
    /* 1-D round trip writes "(5,)" */
    {
        int64_t s1[1] = {5};
        float v[5] = {1, 2, 3, 4, 5};
        CHECK_OK(ctx, xf_npy_write_raw(ctx, xt_tmp("rt1.npy", q, sizeof q), XF_DT_F32, 1, s1, v));
        xf_array r;
        CHECK_OK(ctx, xf_npy_read(ctx, q, &r));
        CHECK(r.ndim == 1 && r.shape[0] == 5 && ((float *)r.data)[4] == 5.0f, "1-D round trip");
        xf_array_free(ctx, &r);
    }
    /* float16 conversion corner cases */
    CHECK(xf_f16_to_f32(xf_f32_to_f16(65504.0f)) == 65504.0f, "f16 max");
    CHECK(isinf(xf_f16_to_f32(xf_f32_to_f16(1e6f))), "f16 overflow to inf");
    CHECK(xf_f16_to_f32(0x0001) > 0 && xf_f16_to_f32(0x0001) < 1e-7f, "f16 subnormal");

    /* converters: non-finite and non-integral detection */
    {
        int64_t s1[1] = {4};
        CHECK_OK(ctx, xf_array_alloc(ctx, &a, XF_DT_F32, 1, s1));
        float *f = a.data;
        f[0] = 1; f[1] = 2.5f; f[2] = NAN; f[3] = 3;
        float *o32;
        int64_t *oi;
        CHECK_ST(ctx, xf_array_to_f32(ctx, &a, 1, &o32), XF_ERR_NUMERIC);
        CHECK_ST(ctx, xf_array_to_i64(ctx, &a, &oi), XF_ERR_INVALID);
        f[1] = 2; f[2] = 0;
        CHECK_OK(ctx, xf_array_to_i64(ctx, &a, &oi));
        CHECK(oi && oi[3] == 3, "to_i64");
        xf_free(ctx, oi);
        xf_array_free(ctx, &a);
    }

    /* every allocation of a read fails cleanly */
    for (int k = 1; k <= 4; k++) {
        xf_ctx_fail_alloc_after(ctx, k);
        xf_status st = xf_npy_read(ctx, xt_ref("npy/good_fortran.npy", p, sizeof p), &a);
        xf_ctx_fail_alloc_after(ctx, 0);
        if (st == XF_OK) { xf_array_free(ctx, &a); break; }
        CHECK(st == XF_ERR_NOMEM, "alloc failure %d: %s", k, xf_status_str(st));
    }
    xf_array_free(ctx, &ex);
    xf_ctx_free(ctx);
    return xt_done("test_npy");
}
