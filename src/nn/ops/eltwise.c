/* Elementwise binary ops with numpy broadcasting, forward and backward: Add and Mul
 * (SiLU is Mul(x, Sigmoid(x)); squeeze-excitation is Mul(x (B,C,H,W), s (B,C,1,1))).
 *
 * Design: both inputs are aligned to the output's rank (missing leading dims = 1), given
 * strides (0 on broadcast dims), and runs of dimensions with the same broadcast pattern
 * are merged, so (B,C,H,W) * (B,C,1,1) becomes a 2-D (B*C, H*W) loop with an inner
 * stride of 0. Backward reduces dy over the broadcast dimensions (serial when an input
 * is broadcast, so no two threads add into the same element). Add may carry a fused
 * activation in training (nn_kctx.act; the executor fuses only without broadcasting). */
#include "nn/nnInt.h"

xf_status xf_nn_broadcast_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *a, const nn_t *b, nn_t *out) {
    int nd = a->nd > b->nd ? a->nd : b->nd;
    memset(out, 0, sizeof *out);
    out->nd = nd;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->nd), ib = i - (nd - b->nd);
        int64_t da = ia >= 0 ? a->s[ia] : 1, db = ib >= 0 ? b->s[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return NN_SHAPE_ERR(ctx, n, "cannot broadcast dimension %d: %lld vs %lld", i, (long long)da, (long long)db);
        out->s[i] = da == 1 ? db : da;
    }
    return XF_OK;
}

static xf_status bin_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->param && in[1]->param) return NN_SHAPE_ERR(ctx, n, "both inputs are parameters (fold them at import)");
    xf_status st = xf_nn_broadcast_shape(ctx, n, in[0], in[1], &out[0]);
    if (st) return st;
    /* the activation must carry the batch: a parameter may not widen dimension 0 */
    const nn_t *act = in[0]->param ? in[1] : in[0];
    if (act->nd != out[0].nd) return NN_SHAPE_ERR(ctx, n, "a parameter has more dimensions than the activation");
    return XF_OK;
}

typedef struct bc_plan {
    int nd;
    int64_t s[XF_NN_MAXDIM];
    int64_t sa[XF_NN_MAXDIM], sb[XF_NN_MAXDIM];
} bc_plan;

static void bc_make(const nn_t *a, const nn_t *b, const nn_t *y, bc_plan *p) {
    int nd = y->nd;
    int64_t sa[XF_NN_MAXDIM], sb[XF_NN_MAXDIM];
    int64_t ra = 1, rb = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = i - (nd - a->nd), ib = i - (nd - b->nd);
        int64_t da = ia >= 0 ? a->s[ia] : 1, db = ib >= 0 ? b->s[ib] : 1;
        sa[i] = (da == 1 && y->s[i] != 1) ? 0 : ra;
        sb[i] = (db == 1 && y->s[i] != 1) ? 0 : rb;
        ra *= da;
        rb *= db;
    }
    /* merge dims: (i, i+1) merge when both inputs are contiguous across them */
    p->nd = 0;
    for (int i = 0; i < nd; i++) {
        if (y->s[i] == 1) continue; /* size-1 dims carry no iteration */
        if (p->nd > 0) {
            int j = p->nd - 1;
            int okA = (sa[i] == 0 && p->sa[j] == 0) || (sa[i] != 0 && p->sa[j] == sa[i] * y->s[i]);
            int okB = (sb[i] == 0 && p->sb[j] == 0) || (sb[i] != 0 && p->sb[j] == sb[i] * y->s[i]);
            if (okA && okB) {
                p->s[j] *= y->s[i];
                p->sa[j] = sa[i];
                p->sb[j] = sb[i];
                continue;
            }
        }
        p->s[p->nd] = y->s[i];
        p->sa[p->nd] = sa[i];
        p->sb[p->nd] = sb[i];
        p->nd++;
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->s[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
}

/* offsets of row r (all dims but the last) */
static void bc_row(const bc_plan *p, int64_t r, int64_t *oa, int64_t *ob) {
    int64_t a = 0, b = 0;
    for (int i = p->nd - 2; i >= 0; i--) {
        int64_t c = r % p->s[i];
        r /= p->s[i];
        a += c * p->sa[i];
        b += c * p->sb[i];
    }
    *oa = a;
    *ob = b;
}

static xf_status bin_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y, int mul) {
    bc_plan p;
    bc_make(x[0], x[1], y, &p);
    const float *A = x[0]->d, *Bv = x[1]->d;
    float *Y = y->d;
    int64_t L = p.s[p.nd - 1], sa = p.sa[p.nd - 1], sb = p.sb[p.nd - 1];
    int64_t rows = nn_numel(y) / L;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oa, ob;
        bc_row(&p, r, &oa, &ob);
        const float *a = A + oa, *b = Bv + ob;
        float *o = Y + r * L;
        if (mul) {
            if (sa == 1 && sb == 1) for (int64_t j = 0; j < L; j++) o[j] = a[j] * b[j];
            else if (sb == 0) { float bv = b[0]; for (int64_t j = 0; j < L; j++) o[j] = a[j * sa] * bv; }
            else for (int64_t j = 0; j < L; j++) o[j] = a[j * sa] * b[j * sb];
        } else {
            if (sa == 1 && sb == 1) for (int64_t j = 0; j < L; j++) o[j] = a[j] + b[j];
            else if (sb == 0) { float bv = b[0]; for (int64_t j = 0; j < L; j++) o[j] = a[j * sa] + bv; }
            else for (int64_t j = 0; j < L; j++) o[j] = a[j * sa] + b[j * sb];
        }
        if (kc->act) nn_apply_act(kc, o, L); /* fused ReLU after a residual Add (inference) */
    }
    return XF_OK;
}

/* d(in w) += dy * (mul ? other : 1), reduced over broadcast dims of input w. */
static void bin_bwd_one(nn_kctx *kc, const bc_plan *p, const float *dy, const float *other, float *dw, int w, int mul,
                        int64_t total) {
    int64_t L = p->s[p->nd - 1];
    int64_t rows = total / L;
    int64_t sw = w == 0 ? p->sa[p->nd - 1] : p->sb[p->nd - 1];
    int64_t so = w == 0 ? p->sb[p->nd - 1] : p->sa[p->nd - 1];
    int broadcast = 0;
    for (int i = 0; i < p->nd; i++)
        if ((w == 0 ? p->sa[i] : p->sb[i]) == 0) broadcast = 1;
    if (!broadcast) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            int64_t oa, ob;
            bc_row(p, r, &oa, &ob);
            int64_t ow = w == 0 ? oa : ob, oo = w == 0 ? ob : oa;
            const float *g = dy + r * L;
            float *d = dw + ow;
            if (mul) for (int64_t j = 0; j < L; j++) d[j * sw] += g[j] * other[oo + j * so];
            else for (int64_t j = 0; j < L; j++) d[j * sw] += g[j];
        }
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        int64_t oa, ob;
        bc_row(p, r, &oa, &ob);
        int64_t ow = w == 0 ? oa : ob, oo = w == 0 ? ob : oa;
        const float *g = dy + r * L;
        float *d = dw + ow;
        if (sw == 0) {
            double acc = 0;
            if (mul) for (int64_t j = 0; j < L; j++) acc += (double)g[j] * other[oo + j * so];
            else for (int64_t j = 0; j < L; j++) acc += g[j];
            d[0] += (float)acc;
        } else {
            if (mul) for (int64_t j = 0; j < L; j++) d[j * sw] += g[j] * other[oo + j * so];
            else for (int64_t j = 0; j < L; j++) d[j * sw] += g[j];
        }
    }
}

/* Add with no broadcast input, the residual case: one pass writes (k->set) or adds dy,
 * masked by a fused activation, to both input gradients (they may be one buffer when
 * the node reads a value twice; the executor then sets neither bit). */
static void add_bwd_full(nn_kctx *kc, const float *y, const float *dy, float *d0, float *d1, int64_t n) {
    int act = kc->act, s0 = (kc->set & 1u) != 0, s1 = (kc->set & 2u) != 0;
    float lo = kc->amin, hi = kc->amax;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = nn_act_mask(act, y[i], lo, hi, dy[i]);
        if (d0) d0[i] = s0 ? g : d0[i] + g;
        if (d1) d1[i] = s1 ? g : d1[i] + g;
    }
}

static xf_status bin_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx, int mul) {
    int64_t total = nn_numel(y);
    if (!mul && nn_numel(x[0]) == total && nn_numel(x[1]) == total) {
        add_bwd_full(kc, y->d, dy, dx[0], dx[1], total);
        return XF_OK;
    }
    if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': fused activation with a broadcast input", kc->node->name);
    bc_plan p;
    bc_make(x[0], x[1], y, &p);
    for (int j = 0; j < 2; j++) /* these loops add */
        if (dx[j] && (kc->set >> j & 1u)) memset(dx[j], 0, (size_t)nn_numel(x[j]) * sizeof(float));
    if (dx[0]) bin_bwd_one(kc, &p, dy, x[1]->d, dx[0], 0, mul, total);
    if (dx[1]) bin_bwd_one(kc, &p, dy, x[0]->d, dx[1], 1, mul, total);
    return XF_OK;
}

static xf_status add_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) { return bin_fwd(kc, x, y, 0); }
static xf_status mul_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) { return bin_fwd(kc, x, y, 1); }
static xf_status add_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    return bin_bwd(kc, x, y, dy, dx, 0);
}
static xf_status mul_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    return bin_bwd(kc, x, y, dy, dx, 1);
}

const nn_opdef xf_nn_op_add = {bin_shape, add_fwd, add_bwd, NULL, NULL, 3u, 0, 2, 2, 3u, 1};
const nn_opdef xf_nn_op_mul = {bin_shape, mul_fwd, mul_bwd, NULL, NULL, 3u, 0, 2, 2, 0, 0};
