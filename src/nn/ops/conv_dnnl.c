/* oneDNN (libdnnl 2.x C API) path of the 2-D convolution: forward (inference with the
 * executor's fused BatchNorm fold and ReLU / Clip as a post-op; training), backward data
 * and backward weights (+ bias). The im2col kernels in conv.c stay the fallback and the
 * default where they measure faster (depthwise); see xf_nn_conv_mode in exec.c.
 *
 * Design:
 *   - one primitive set per (node, batch), created at net creation (rebuilt in place if
 *     a forward runs with another batch); the engine's tensors stay NCHW / OIHW, oneDNN
 *     picks its own (blocked) formats through format_tag_any and the state keeps a
 *     reorder in and out of them where they differ from the engine's layout;
 *   - the kernel contract is "backward accumulates": the diff_src / diff_weights
 *     results are reordered into the engine's buffers with a sum post-op (dst += src),
 *     diff_bias goes through a small buffer and is added; a first writer of diff_src
 *     (nn_kctx.set) converts without the sum, or lets the primitive write dX directly
 *     where the layouts agree;
 *   - every buffer oneDNN needs beyond the engine's tensors (blocked copies, the
 *     primitives' scratchpads in user mode) is carved out of the net's shared scratch:
 *     each phase (forward, backward) lays its pieces out from offset 0, and
 *     xf_nn_dnnl_conv_bytes tells the executor the largest phase;
 *   - threads: Debian's libdnnl uses the OpenMP runtime (DNNL_CPU_RUNTIME OMP) and
 *     reads omp_get_max_threads() when it creates (blocking decisions) and runs a
 *     primitive, so both are bracketed by omp_set_num_threads(context threads). In a
 *     build with XFER_OPENMP=OFF (the sanitizer build) xfer cannot set it and oneDNN
 *     uses libgomp's default (OMP_NUM_THREADS, else all cores); the sanitizer build runs
 *     this path too (ASan/UBSan clean, libdnnl itself is not instrumented).
 *   - OpenBLAS is untouched here; the executor keeps it at 1 thread around the graph.
 *   - every oneDNN status is checked; a failure is an XF_ERR naming the node. */
#include "nn/nnInt.h"

#ifdef XFER_HAVE_DNNL
#include <dnnl.h>
#include <stdint.h>
#ifdef XFER_HAVE_OPENMP
#include <omp.h>
#endif

struct nn_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
};

/* a conversion between the engine's layout and the primitive's: prim NULL when the
 * layouts agree (the engine's buffer is used directly) */
typedef struct dconv {
    dnnl_primitive_t prim;
    dnnl_memory_t from, to;
    size_t off, bytes; /* the blocked side's place in the phase's scratch */
} dconv;

/* a primitive with its memories (handles set per call) and scratchpad */
typedef struct dprim {
    dnnl_primitive_t prim;
    dnnl_memory_t m[5]; /* src/diff_src, weights/diff_weights, bias/diff_bias, dst/diff_dst, scratchpad */
    size_t scr_off, scr_bytes;
} dprim;

struct nn_dnnl_conv {
    nn_dnnl *d;
    const xf_node *node;
    int64_t batch;
    int has_bias, act, train, threads;
    int blk; /* bit 0: src / diff_src, bit 1: dst / diff_dst in NN_BLK's layout (nChw16c) */
    int ref_impl; /* oneDNN chose its reference (non-JIT) code for some pass */
    float amin, amax;
    int64_t geo[16]; /* the shapes the primitives were made for (x, w, y dims) */
    dprim fwd, bwd_data, bwd_w;
    dconv f_x, f_w, f_y;          /* forward: src in, weights in, dst out */
    dconv d_dy, d_w, d_dx;        /* backward data: diff_dst in, weights in, diff_src out (+=) */
    dconv d_dx0;                  /* diff_src out (=) for a first writer (nn_kctx.set); NULL prim
                                   * when the layouts agree: the primitive writes dX itself */
    dconv w_x, w_dy, w_dw;        /* backward weights: src in, diff_dst in, diff_weights out (+=) */
    int w_dy_shared;              /* backward weights reads the backward-data diff_dst copy */
    size_t db_off;                /* diff_bias floats in the backward scratch */
    size_t fwd_bytes, bwd_bytes;  /* scratch each phase needs */
};

static const char *dst_name(dnnl_status_t s) {
    switch (s) {
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "error";
    }
}

/* check a oneDNN call; on failure record the node and the call, and jump to fail */
#define DN(call)                                                                                                        \
    do {                                                                                                                \
        dnnl_status_t s_ = (call);                                                                                      \
        if (s_ != dnnl_success) {                                                                                       \
            st = XF_ERR(ctx, s_ == dnnl_out_of_memory ? XF_ERR_NOMEM : XF_ERR_UNSUPPORTED, "node '%s': oneDNN %s: %s", \
                        name, #call, dst_name(s_));                                                                     \
            goto fail;                                                                                                  \
        }                                                                                                               \
    } while (0)

typedef struct thr_guard {
    int old;
} thr_guard;
static thr_guard thr_enter(int threads) {
    thr_guard g = {0};
#ifdef XFER_HAVE_OPENMP
    g.old = omp_get_max_threads();
    if (g.old != threads) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    return g;
}
static void thr_leave(thr_guard g, int threads) {
#ifdef XFER_HAVE_OPENMP
    if (g.old != threads) omp_set_num_threads(g.old);
#else
    (void)g;
    (void)threads;
#endif
}

xf_status xf_nn_dnnl_open(xf_ctx_t *ctx, nn_dnnl **out) {
    const char *name = "(engine)";
    xf_status st = XF_OK;
    *out = NULL;
    nn_dnnl *d = xf_calloc(ctx, 1, sizeof *d);
    if (!d) return XF_ERR_NOMEM;
    DN(dnnl_engine_create(&d->eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&d->strm, d->eng, dnnl_stream_default_flags));
    *out = d;
    return XF_OK;
fail:
    xf_nn_dnnl_close(ctx, d);
    return st;
}

void xf_nn_dnnl_close(xf_ctx_t *ctx, nn_dnnl *d) {
    if (!d) return;
    if (d->strm) dnnl_stream_destroy(d->strm);
    if (d->eng) dnnl_engine_destroy(d->eng);
    xf_free(ctx, d);
}

static void dconv_free(dconv *c) {
    if (c->prim) dnnl_primitive_destroy(c->prim);
    if (c->from) dnnl_memory_destroy(c->from);
    if (c->to) dnnl_memory_destroy(c->to);
    memset(c, 0, sizeof *c);
}
static void dprim_free(dprim *p) {
    if (p->prim) dnnl_primitive_destroy(p->prim);
    for (int i = 0; i < 5; i++)
        if (p->m[i]) dnnl_memory_destroy(p->m[i]);
    memset(p, 0, sizeof *p);
}
static void conv_release(nn_dnnl_conv *c) {
    dprim_free(&c->fwd);
    dprim_free(&c->bwd_data);
    dprim_free(&c->bwd_w);
    dconv *all[] = {&c->f_x, &c->f_w, &c->f_y, &c->d_dy, &c->d_w, &c->d_dx, &c->d_dx0, &c->w_x, &c->w_dy, &c->w_dw};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) dconv_free(all[i]);
    c->batch = 0;
}

void xf_nn_dnnl_conv_free(xf_ctx_t *ctx, nn_dnnl_conv *c) {
    if (!c) return;
    conv_release(c);
    xf_free(ctx, c);
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

/* Makes conversion c between the engine's layout `user` and the primitive's `prim`
 * (direction: to_prim, user -> prim; else prim -> user, with dst += src when sum).
 * The blocked side takes `*off` bytes onward in the phase's scratch. A conversion that
 * must accumulate is made even when the layouts agree. */
static xf_status dconv_make(xf_ctx_t *ctx, const char *name, nn_dnnl *d, dconv *c, const dnnl_memory_desc_t *user,
                            const dnnl_memory_desc_t *prim, int to_prim, int sum, size_t *off) {
    xf_status st = XF_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (!sum && dnnl_memory_desc_equal(user, prim)) return XF_OK;
    const dnnl_memory_desc_t *src = to_prim ? user : prim, *dst = to_prim ? prim : user;
    DN(dnnl_primitive_attr_create(&attr));
    if (sum) {
        DN(dnnl_post_ops_create(&po));
        DN(dnnl_post_ops_append_sum(po, 1.0f));
        DN(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    DN(dnnl_reorder_primitive_desc_create(&pd, src, d->eng, dst, d->eng, attr));
    DN(dnnl_primitive_create(&c->prim, pd));
    DN(dnnl_memory_create(&c->from, src, d->eng, DNNL_MEMORY_NONE));
    DN(dnnl_memory_create(&c->to, dst, d->eng, DNNL_MEMORY_NONE));
    c->bytes = align64(dnnl_memory_desc_get_size(prim));
    c->off = *off;
    *off += c->bytes;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

/* memories of a primitive for its src/weights/bias/dst roles + the user-mode scratchpad */
static xf_status dprim_make(xf_ctx_t *ctx, const char *name, nn_dnnl *d, dprim *p, dnnl_primitive_desc_t pd,
                            const dnnl_query_t q[4], size_t *off) {
    xf_status st = XF_OK;
    DN(dnnl_primitive_create(&p->prim, pd));
    for (int i = 0; i < 4; i++) {
        if (q[i] == dnnl_query_undef) continue;
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q[i], 0);
        if (!md || md->ndims == 0) continue;
        DN(dnnl_memory_create(&p->m[i], md, d->eng, DNNL_MEMORY_NONE));
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd && smd->ndims > 0) {
        p->scr_bytes = align64(dnnl_memory_desc_get_size(smd));
        if (p->scr_bytes) {
            DN(dnnl_memory_create(&p->m[4], smd, d->eng, DNNL_MEMORY_NONE));
            p->scr_off = *off;
            *off += p->scr_bytes;
        }
    }
fail:
    return st;
}

static void md_tag(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_format_tag_t tag, dnnl_status_t *s) {
    dnnl_dims_t dd;
    for (int i = 0; i < nd; i++) dd[i] = dims[i];
    if (*s == dnnl_success) *s = dnnl_memory_desc_init_by_tag(md, nd, dd, dnnl_f32, tag);
}

/* (re)builds the primitives for the batch of x */
/* 1 if oneDNN picked its reference implementation ("ref:..."): plain loops, 10-30x slower
 * than the engine's im2col + BLAS for the small-channel convolutions where it happens
 * (a 1 -> 8 channel 3x3 conv at 16x16 trained at 300 images/s against 7,000). */
static int pd_is_ref(const_dnnl_primitive_desc_t pd) {
    const char *s = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s) return 0;
    return strncmp(s, "ref", 3) == 0;
}

static xf_status conv_build(xf_ctx_t *ctx, nn_dnnl_conv *c, const nn_t *x, const nn_t *w, const nn_t *y) {
    const xf_node *n = c->node;
    const char *name = n->name;
    const xf_node_attr *a = &n->attr;
    xf_status st = XF_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t fpd = NULL, bdpd = NULL, bwpd = NULL;
    conv_release(c);
    thr_guard tg = thr_enter(c->threads);
    int64_t G = a->group, M = w->s[0];
    int64_t xd[4] = {x->s[0], x->s[1], x->s[2], x->s[3]}, yd[4] = {y->s[0], y->s[1], y->s[2], y->s[3]};
    int64_t wd[5] = {G, M / G, w->s[1], w->s[2], w->s[3]}, bd[1] = {M};
    dnnl_dims_t strides = {a->stride[0], a->stride[1]}, dil = {a->dilation[0] - 1, a->dilation[1] - 1};
    dnnl_dims_t pl = {a->pads[0], a->pads[1]}, pr = {a->pads[2], a->pads[3]};
    dnnl_memory_desc_t ux, uw, ub, uy, ax, aw, ay, ab;
    dnnl_status_t s = dnnl_success;
    /* the engine's layouts */
    md_tag(&ux, 4, xd, dnnl_nchw, &s);
    md_tag(&uy, 4, yd, dnnl_nchw, &s);
    if (G == 1) md_tag(&uw, 4, wd + 1, dnnl_oihw, &s);
    else md_tag(&uw, 5, wd, dnnl_goihw, &s);
    md_tag(&ub, 1, bd, dnnl_x, &s);
    /* the primitives choose, except for activations the executor keeps blocked */
    md_tag(&ax, 4, xd, (c->blk & 1) ? dnnl_nChw16c : dnnl_format_tag_any, &s);
    md_tag(&ay, 4, yd, (c->blk & 2) ? dnnl_nChw16c : dnnl_format_tag_any, &s);
    if (G == 1) md_tag(&aw, 4, wd + 1, dnnl_format_tag_any, &s);
    else md_tag(&aw, 5, wd, dnnl_format_tag_any, &s);
    md_tag(&ab, 1, bd, dnnl_x, &s);
    DN(s);

    /* forward */
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_forward_desc_init(&cd, c->train ? dnnl_forward_training : dnnl_forward_inference,
                                                  dnnl_convolution_direct, &ax, &aw, c->has_bias ? &ab : NULL, &ay,
                                                  strides, dil, pl, pr));
    DN(dnnl_primitive_attr_create(&attr));
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (c->act) {
        DN(dnnl_post_ops_create(&po));
        if (c->act == 1) DN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        else DN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, c->amin, c->amax));
        DN(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    DN(dnnl_primitive_desc_create(&fpd, &cd, attr, c->d->eng, NULL));
    c->ref_impl = pd_is_ref(fpd);
    size_t off = 0;
    {
        const dnnl_query_t q[4] = {dnnl_query_src_md, dnnl_query_weights_md,
                                   c->has_bias ? dnnl_query_weights_md : dnnl_query_undef, dnnl_query_dst_md};
        DN(dnnl_primitive_create(&c->fwd.prim, fpd));
        for (int i = 0; i < 4; i++) {
            if (q[i] == dnnl_query_undef) continue;
            const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(fpd, q[i], i == 2 ? 1 : 0);
            DN(md ? dnnl_success : dnnl_runtime_error);
            DN(dnnl_memory_create(&c->fwd.m[i], md, c->d->eng, DNNL_MEMORY_NONE));
        }
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(fpd, dnnl_query_scratchpad_md, 0);
        if (smd && smd->ndims > 0 && dnnl_memory_desc_get_size(smd)) {
            c->fwd.scr_bytes = align64(dnnl_memory_desc_get_size(smd));
            DN(dnnl_memory_create(&c->fwd.m[4], smd, c->d->eng, DNNL_MEMORY_NONE));
            c->fwd.scr_off = off;
            off += c->fwd.scr_bytes;
        }
        xf_status e;
        if ((e = dconv_make(ctx, name, c->d, &c->f_x, &ux, dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0), 1, 0, &off)) ||
            (e = dconv_make(ctx, name, c->d, &c->f_w, &uw, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0), 1, 0, &off)) ||
            (e = dconv_make(ctx, name, c->d, &c->f_y, &uy, dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), 0, 0, &off))) {
            st = e;
            goto fail;
        }
        c->fwd_bytes = off;
    }
    if (c->train) {
        /* backward data */
        off = 0;
        dnnl_convolution_desc_t bdd;
        DN(dnnl_dilated_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &ax, &aw, &ay, strides, dil, pl, pr));
        DN(dnnl_primitive_desc_create(&bdpd, &bdd, attr, c->d->eng, fpd));
        c->ref_impl |= pd_is_ref(bdpd);
        const dnnl_query_t qd[4] = {dnnl_query_diff_src_md, dnnl_query_weights_md, dnnl_query_undef, dnnl_query_diff_dst_md};
        if ((st = dprim_make(ctx, name, c->d, &c->bwd_data, bdpd, qd, &off))) goto fail;
        xf_status e;
        if ((e = dconv_make(ctx, name, c->d, &c->d_dy, &uy, dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_dst_md, 0), 1, 0, &off)) ||
            (e = dconv_make(ctx, name, c->d, &c->d_w, &uw, dnnl_primitive_desc_query_md(bdpd, dnnl_query_weights_md, 0), 1, 0, &off)) ||
            (e = dconv_make(ctx, name, c->d, &c->d_dx, &ux, dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_src_md, 0), 0, 1, &off))) {
            st = e;
            goto fail;
        }
        { /* the same blocked diff_src as d_dx, converted without the sum */
            size_t off0 = off;
            if ((e = dconv_make(ctx, name, c->d, &c->d_dx0, &ux, dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_src_md, 0), 0, 0, &off0))) {
                st = e;
                goto fail;
            }
            c->d_dx0.off = c->d_dx.off;
        }
        /* backward weights: its pieces follow the backward-data ones (the diff_dst copy
         * may be shared) */
        dnnl_convolution_desc_t bwd;
        DN(dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &ax, &aw, c->has_bias ? &ab : NULL, &ay,
                                                               strides, dil, pl, pr));
        DN(dnnl_primitive_desc_create(&bwpd, &bwd, attr, c->d->eng, fpd));
        c->ref_impl |= pd_is_ref(bwpd);
        const dnnl_query_t qw[4] = {dnnl_query_src_md, dnnl_query_diff_weights_md, dnnl_query_undef, dnnl_query_diff_dst_md};
        if ((st = dprim_make(ctx, name, c->d, &c->bwd_w, bwpd, qw, &off))) goto fail;
        if (c->has_bias) {
            const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 1);
            DN(md ? dnnl_success : dnnl_runtime_error);
            DN(dnnl_memory_create(&c->bwd_w.m[2], md, c->d->eng, DNNL_MEMORY_NONE));
            c->db_off = off;
            off += align64((size_t)M * sizeof(float));
        }
        const dnnl_memory_desc_t *wdy = dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_dst_md, 0);
        const dnnl_memory_desc_t *ddy = dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_dst_md, 0);
        c->w_dy_shared = c->d_dy.prim && dnnl_memory_desc_equal(wdy, ddy);
        if ((e = dconv_make(ctx, name, c->d, &c->w_x, &ux, dnnl_primitive_desc_query_md(bwpd, dnnl_query_src_md, 0), 1, 0, &off)) ||
            (!c->w_dy_shared && (e = dconv_make(ctx, name, c->d, &c->w_dy, &uy, wdy, 1, 0, &off))) ||
            (e = dconv_make(ctx, name, c->d, &c->w_dw, &uw, dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 0), 0, 1, &off))) {
            st = e;
            goto fail;
        }
        c->bwd_bytes = off;
    }
    c->batch = x->s[0];
    for (int i = 0; i < 4; i++) {
        c->geo[i] = xd[i];
        c->geo[4 + i] = yd[i];
    }
fail:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bdpd) dnnl_primitive_desc_destroy(bdpd);
    if (bwpd) dnnl_primitive_desc_destroy(bwpd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    thr_leave(tg, c->threads);
    if (st) conv_release(c);
    return st;
}

xf_status xf_nn_dnnl_conv_create(xf_ctx_t *ctx, nn_dnnl *d, const xf_node *n, const nn_t *const *x, const nn_t *y, int has_bias,
                                 int act, float amin, float amax, int train, int threads, int blk, int force, nn_dnnl_conv **out) {
    *out = NULL;
    nn_dnnl_conv *c = xf_calloc(ctx, 1, sizeof *c);
    if (!c) return XF_ERR_NOMEM;
    c->d = d;
    c->node = n;
    c->has_bias = has_bias;
    c->act = act;
    c->amin = amin;
    c->amax = amax;
    c->train = train;
    c->threads = threads;
    c->blk = blk;
    xf_status st = conv_build(ctx, c, x[0], x[1], y);
    if (!st && c->ref_impl && !force) {
        conv_release(c);
        st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "node '%s': oneDNN has only its reference code for this convolution", n->name);
    }
    if (st) {
        xf_free(ctx, c);
        return st;
    }
    *out = c;
    return XF_OK;
}

size_t xf_nn_dnnl_conv_bytes(const nn_dnnl_conv *c) {
    if (!c) return 0;
    return c->fwd_bytes > c->bwd_bytes ? c->fwd_bytes : c->bwd_bytes;
}

/* base of the phase scratch: the kernel scratch aligned to 64 bytes */
static char *scr_base(nn_kctx *kc) { return (char *)(((uintptr_t)kc->scratch + 63) & ~(uintptr_t)63); }

static xf_status run_conv(xf_ctx_t *ctx, const char *name, nn_dnnl *d, const dconv *c, const void *from, void *to) {
    xf_status st = XF_OK;
    DN(dnnl_memory_set_data_handle(c->from, (void *)from));
    DN(dnnl_memory_set_data_handle(c->to, to));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, c->from}, {DNNL_ARG_TO, c->to}};
    DN(dnnl_primitive_execute(c->prim, d->strm, 2, args));
fail:
    return st;
}

/* user buffer in, primitive buffer out: through the conversion if there is one */
static xf_status in_conv(xf_ctx_t *ctx, const char *name, nn_dnnl *d, const dconv *c, char *base, const void *user, void **prim) {
    if (!c->prim) {
        *prim = (void *)user;
        return XF_OK;
    }
    *prim = base + c->off;
    return run_conv(ctx, name, d, c, user, *prim);
}

static xf_status run_prim(xf_ctx_t *ctx, const char *name, nn_dnnl *d, dprim *p, const int roles[4], void *const buf[4], char *base) {
    xf_status st = XF_OK;
    dnnl_exec_arg_t args[5];
    int na = 0;
    for (int i = 0; i < 4; i++) {
        if (!p->m[i]) continue;
        DN(dnnl_memory_set_data_handle(p->m[i], buf[i]));
        args[na].arg = roles[i];
        args[na++].memory = p->m[i];
    }
    if (p->m[4]) {
        DN(dnnl_memory_set_data_handle(p->m[4], base + p->scr_off));
        args[na].arg = DNNL_ARG_SCRATCHPAD;
        args[na++].memory = p->m[4];
    }
    DN(dnnl_primitive_execute(p->prim, d->strm, na, args));
fail:
    return st;
}

/* the primitives match x / y, rebuilding them for another batch; 1 if the phase fits the
 * scratch (else the caller falls back to im2col) */
static xf_status conv_ready(nn_kctx *kc, const nn_t *const *x, const nn_t *y, int bwd, int *fits) {
    nn_dnnl_conv *c = kc->dnn;
    int same = c->batch == x[0]->s[0];
    for (int i = 0; i < 4 && same; i++) same = c->geo[i] == x[0]->s[i] && c->geo[4 + i] == y->s[i];
    if (!same) {
        xf_status st = conv_build(kc->ctx, c, x[0], x[1], y);
        if (st) return st;
    }
    size_t need = (bwd ? c->bwd_bytes : c->fwd_bytes) + 64;
    *fits = need <= kc->scratch_bytes;
    return XF_OK;
}

xf_status xf_nn_dnnl_conv_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y, int *done) {
    nn_dnnl_conv *c = kc->dnn;
    xf_ctx_t *ctx = kc->ctx;
    const char *name = kc->node->name;
    int fits = 0;
    *done = 0;
    int bx = (kc->blk & 1u) != 0, by = kc->blk_y != 0;
    if ((bx && !(c->blk & 1)) || (by && !(c->blk & 2)))
        return XF_ERR(ctx, XF_ERR_INTERNAL, "node '%s': blocked activation for primitives made without it", name);
    xf_status st = conv_ready(kc, x, y, 0, &fits);
    if (st) return st;
    if (!fits) /* the im2col fallback reads the engine's layout */
        return (bx || by) ? XF_ERR(ctx, XF_ERR_INTERNAL, "node '%s': blocked activation without scratch for oneDNN", name) : XF_OK;
    thr_guard tg = thr_enter(c->threads);
    char *base = scr_base(kc);
    const float *Wt = kc->wfold ? kc->wfold : x[1]->d;
    const float *Bs = kc->wfold ? kc->bfold : (x[2] ? x[2]->d : NULL);
    void *px = x[0]->d, *pw, *py = (c->f_y.prim && !by) ? (void *)(base + c->f_y.off) : (void *)y->d;
    if (!bx && (st = in_conv(ctx, name, c->d, &c->f_x, base, x[0]->d, &px))) goto done;
    if ((st = in_conv(ctx, name, c->d, &c->f_w, base, Wt, &pw))) goto done;
    {
        static const int roles[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
        void *buf[4] = {px, pw, (void *)Bs, py};
        if ((st = run_prim(ctx, name, c->d, &c->fwd, roles, buf, base))) goto done;
    }
    if (c->f_y.prim && !by && (st = run_conv(ctx, name, c->d, &c->f_y, py, y->d))) goto done;
    {
        dnnl_status_t s = dnnl_stream_wait(c->d->strm);
        if (s != dnnl_success) st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "node '%s': oneDNN stream wait: %s", name, dst_name(s));
    }
    *done = st == XF_OK;
done:
    thr_leave(tg, c->threads);
    return st;
}

xf_status xf_nn_dnnl_conv_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx, int *done) {
    nn_dnnl_conv *c = kc->dnn;
    xf_ctx_t *ctx = kc->ctx;
    const char *name = kc->node->name;
    int fits = 0;
    *done = 0;
    if (!c->train) return XF_OK;
    int bx = (kc->blk & 1u) != 0, by = kc->blk_y != 0;
    if ((bx && !(c->blk & 1)) || (by && !(c->blk & 2)))
        return XF_ERR(ctx, XF_ERR_INTERNAL, "node '%s': blocked activation for primitives made without it", name);
    xf_status st = conv_ready(kc, x, y, 1, &fits);
    if (st) return st;
    if (!fits) return (bx || by) ? XF_ERR(ctx, XF_ERR_INTERNAL, "node '%s': blocked activation without scratch for oneDNN", name) : XF_OK;
    float *dX = dx[0], *dW = dx[1], *dB = x[2] ? dx[2] : NULL;
    thr_guard tg = thr_enter(c->threads);
    char *base = scr_base(kc);
    void *pdy = by ? (void *)dy : NULL; /* blocked: both primitives read dy as it is */
    int set = (kc->set & 1u) != 0;
    if (dX) {
        /* the primitive writes dX itself where it is the first writer and the layouts
         * agree; else into the scratch, then converted (+=, or = for a first writer) or,
         * blocked, added */
        void *pw, *pdx = (set && (bx || !c->d_dx0.prim)) ? (void *)dX : (void *)(base + c->d_dx.off);
        if (!by && (st = in_conv(ctx, name, c->d, &c->d_dy, base, dy, &pdy))) goto done;
        if ((st = in_conv(ctx, name, c->d, &c->d_w, base, x[1]->d, &pw))) goto done;
        static const int roles[4] = {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, 0, DNNL_ARG_DIFF_DST};
        void *buf[4] = {pdx, pw, NULL, pdy};
        if ((st = run_prim(ctx, name, c->d, &c->bwd_data, roles, buf, base))) goto done;
        if (bx && !set) {
            dnnl_status_t s = dnnl_stream_wait(c->d->strm);
            if (s != dnnl_success) {
                st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "node '%s': oneDNN stream wait: %s", name, dst_name(s));
                goto done;
            }
            const float *t = pdx;
            int64_t n = nn_numel(x[0]);
#pragma omp parallel for num_threads(kc->threads) schedule(static)
            for (int64_t i = 0; i < n; i++) dX[i] += t[i];
        } else if (!bx && !set) {
            if ((st = run_conv(ctx, name, c->d, &c->d_dx, pdx, dX))) goto done; /* dX += */
        } else if (!bx && c->d_dx0.prim && (st = run_conv(ctx, name, c->d, &c->d_dx0, pdx, dX))) goto done; /* dX = */
    }
    if (dW || dB) {
        void *px, *pdw = base + c->w_dw.off;
        float *db = c->has_bias ? (float *)(void *)(base + c->db_off) : NULL;
        if (!pdy || (!by && !c->w_dy_shared)) {
            if (c->w_dy_shared) { /* backward data did not run: make the shared copy here */
                if ((st = in_conv(ctx, name, c->d, &c->d_dy, base, dy, &pdy))) goto done;
            } else if ((st = in_conv(ctx, name, c->d, &c->w_dy, base, dy, &pdy))) goto done;
        }
        px = x[0]->d;
        if (!bx && (st = in_conv(ctx, name, c->d, &c->w_x, base, x[0]->d, &px))) goto done;
        static const int roles[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS, DNNL_ARG_DIFF_DST};
        void *buf[4] = {px, pdw, db, pdy};
        if ((st = run_prim(ctx, name, c->d, &c->bwd_w, roles, buf, base))) goto done;
        if (dW && (st = run_conv(ctx, name, c->d, &c->w_dw, pdw, dW))) goto done; /* dW += */
    }
    {
        dnnl_status_t s = dnnl_stream_wait(c->d->strm);
        if (s != dnnl_success) {
            st = XF_ERR(ctx, XF_ERR_UNSUPPORTED, "node '%s': oneDNN stream wait: %s", name, dst_name(s));
            goto done;
        }
    }
    if (dB && c->has_bias) {
        const float *db = (const float *)(const void *)(base + c->db_off);
        for (int64_t m = 0; m < x[1]->s[0]; m++) dB[m] += db[m];
    }
    *done = 1;
done:
    thr_leave(tg, c->threads);
    return st;
}
#endif
