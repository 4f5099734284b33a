/* ONNX importer, part 2: constant folding. Shape arithmetic on constants (Shape, Gather,
 * Unsqueeze/Squeeze, Concat, Slice, elementwise arithmetic, Reshape targets) with the
 * per-element batch flag, so exported shape computations fold to static Reshape targets.
 * See onnx_import.c for the design; onnx_importInt.h for the shared state. */
#include <limits.h>
#include <string.h>

#include "onnx_importInt.h"

/* ---------------------------------------------------------------------------------- */
/* constant folding                                                                   */


static xf_status out_const(imp *m, int k, int is_int, int ndim, const int64_t *dims, imp_val **out) {
    if ((size_t)k >= m->node->n_output || !m->node->output[k] || !m->node->output[k][0])
        NERR(m, XF_ERR_FORMAT, "output %d missing", k);
    if (ndim > MAXD) NERR(m, XF_ERR_UNSUPPORTED, "result has %d dimensions", ndim);
    int64_t n = xf_onnx_count_checked(dims, (size_t)ndim, XF_ONNX_MAX_FOLD_ELEMS);
    if (n < 0) NERR(m, XF_ERR_UNSUPPORTED, "constant result too large or negative dims");
    int64_t bytes = (n ? n : 1) * (is_int ? (int64_t)(sizeof(int64_t) + 1) : (int64_t)sizeof(float));
    if (bytes > XF_ONNX_MAX_FOLD_BYTES - m->fold_bytes)
        NERR(m, XF_ERR_UNSUPPORTED, "folded constants would hold %lld MiB, above the limit of %lld MiB per model",
             (long long)((m->fold_bytes + bytes) >> 20), (long long)(XF_ONNX_MAX_FOLD_BYTES >> 20));
    m->fold_bytes += bytes;
    imp_val *v;
    xf_status st = xf_onnx_val_new(m, m->node->output[k], &v);
    if (st) return st;
    st = xf_onnx_const_alloc(m, v, is_int, ndim, dims);
    if (st) return st;
    *out = v;
    return XF_OK;
}

/* copies element s of a into element d of b (same kind) */
static void el_copy(imp_val *b, int64_t d, const imp_val *a, int64_t s) {
    if (a->is_int) { b->i[d] = a->i[s]; b->sym[d] = a->sym[s]; }
    else b->f[d] = a->f[s];
}


static xf_status fold_gather(imp *m, imp_val *x, imp_val *ix) {
    int64_t axis = norm_axis(attr_i(m->node, "axis", 0), x->ndim);
    if (axis < 0 || axis >= (x->ndim ? x->ndim : 1) || !ix->is_int || x->ndim == 0)
        NERR(m, XF_ERR_FORMAT, "bad axis or indices");
    int64_t dims[2 * MAXD];
    int nd = 0;
    for (int k = 0; k < axis; k++) dims[nd++] = x->dims[k];
    for (int k = 0; k < ix->ndim; k++) dims[nd++] = ix->dims[k];
    for (int k = (int)axis + 1; k < x->ndim; k++) dims[nd++] = x->dims[k];
    imp_val *o;
    xf_status st = out_const(m, 0, x->is_int, nd, dims, &o);
    if (st) return st;
    int64_t outer = prod(x->dims, (int)axis), ad = x->dims[axis], inner = prod(x->dims + axis + 1, x->ndim - (int)axis - 1);
    int64_t d = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < ix->n; j++) {
            int64_t q = ix->i[j] < 0 ? ix->i[j] + ad : ix->i[j];
            if (q < 0 || q >= ad || ix->sym[j]) NERR(m, XF_ERR_FORMAT, "index out of range");
            for (int64_t b = 0; b < inner; b++) el_copy(o, d++, x, (a * ad + q) * inner + b);
        }
    return XF_OK;
}

static xf_status fold_concat(imp *m) {
    int nin = n_inputs(m);
    imp_val *x0 = xf_onnx_in_val(m, 0);
    int64_t axis = norm_axis(attr_i(m->node, "axis", 0), x0->ndim);
    if (axis < 0 || axis >= x0->ndim) NERR(m, XF_ERR_FORMAT, "bad axis");
    int64_t dims[MAXD];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    int is_int = x0->is_int;
    for (int k = 0; k < nin; k++) {
        imp_val *x = xf_onnx_in_val(m, k);
        if (!x || x->ndim != x0->ndim || x->is_int != is_int) NERR(m, XF_ERR_FORMAT, "inputs differ in rank or type");
        for (int j = 0; j < x->ndim; j++)
            if (j != axis && x->dims[j] != x0->dims[j]) NERR(m, XF_ERR_SHAPE, "input shapes differ");
        dims[axis] += x->dims[axis];
    }
    imp_val *o;
    xf_status st = out_const(m, 0, is_int, x0->ndim, dims, &o);
    if (st) return st;
    int64_t outer = prod(dims, (int)axis), inner = prod(dims + axis + 1, x0->ndim - (int)axis - 1), d = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int k = 0; k < nin; k++) {
            imp_val *x = xf_onnx_in_val(m, k);
            int64_t blk = x->dims[axis] * inner;
            for (int64_t b = 0; b < blk; b++) el_copy(o, d++, x, a * blk + b);
        }
    return XF_OK;
}

static xf_status fold_copy_shape(imp *m, imp_val *x, int nd, const int64_t *dims) {
    if (xf_onnx_count_checked(dims, (size_t)nd, INT64_MAX) != x->n) NERR(m, XF_ERR_SHAPE, "element count changes");
    imp_val *o;
    xf_status st = out_const(m, 0, x->is_int, nd, dims, &o);
    if (st) return st;
    for (int64_t k = 0; k < x->n; k++) el_copy(o, k, x, k);
    return XF_OK;
}

/* axes for (Un)squeeze: attribute before opset 13, input from 13 */
static xf_status get_axes(imp *m, const int64_t **ax, int *na) {
    if (m->opset >= 13 && n_inputs(m) > 1) return xf_onnx_in_ints(m, 1, ax, na, 0);
    *ax = attr_ints(m->node, "axes", na);
    if (*na > 64) NERR(m, XF_ERR_FORMAT, "too many axes");
    return XF_OK;
}

static xf_status unsqueeze_dims(imp *m, int ndim, const int64_t *dims, const int64_t *ax, int na, int *ond,
                                int64_t *od) {
    int r = ndim + na;
    if (na < 0 || r > MAXD) NERR(m, XF_ERR_UNSUPPORTED, "bad axes for Unsqueeze");
    unsigned char mark[MAXD] = {0};
    for (int k = 0; k < na; k++) {
        int64_t a = norm_axis(ax[k], r);
        if (a < 0 || a >= r || mark[a]) NERR(m, XF_ERR_FORMAT, "bad axes for Unsqueeze");
        mark[a] = 1;
    }
    for (int k = 0, j = 0; k < r; k++) od[k] = mark[k] ? 1 : dims[j++];
    *ond = r;
    return XF_OK;
}

static xf_status squeeze_dims(imp *m, int ndim, const int64_t *dims, const int64_t *ax, int na, int *ond, int64_t *od) {
    unsigned char mark[MAXD] = {0};
    if (na < 0) {
        for (int k = 0; k < ndim; k++) mark[k] = dims[k] == 1;
    } else
        for (int k = 0; k < na; k++) {
            int64_t a = norm_axis(ax[k], ndim);
            if (a < 0 || a >= ndim || dims[a] != 1) NERR(m, XF_ERR_FORMAT, "bad axes for Squeeze");
            mark[a] = 1;
        }
    int r = 0;
    for (int k = 0; k < ndim; k++)
        if (!mark[k]) od[r++] = dims[k];
    *ond = r;
    return XF_OK;
}

static xf_status fold_slice(imp *m, imp_val *x) {
    const int64_t *st_, *en, *ax, *sp;
    int nst, nen, nax, nsp;
    xf_status st;
    if (m->opset >= 10) {
        if ((st = xf_onnx_in_ints(m, 1, &st_, &nst, 1)) || (st = xf_onnx_in_ints(m, 2, &en, &nen, 1)) || (st = xf_onnx_in_ints(m, 3, &ax, &nax, 0)) ||
            (st = xf_onnx_in_ints(m, 4, &sp, &nsp, 0)))
            return st;
    } else {
        st_ = attr_ints(m->node, "starts", &nst);
        en = attr_ints(m->node, "ends", &nen);
        ax = attr_ints(m->node, "axes", &nax);
        sp = NULL;
        nsp = -1;
    }
    if (nst != nen || nst < 0 || (nax >= 0 && nax != nst) || (nsp >= 0 && nsp != nst) || nst > x->ndim)
        NERR(m, XF_ERR_FORMAT, "inconsistent starts/ends/axes/steps");
    int64_t b[MAXD], step[MAXD], dims[MAXD];
    for (int k = 0; k < x->ndim; k++) b[k] = 0, step[k] = 1, dims[k] = x->dims[k];
    for (int k = 0; k < nst; k++) {
        int64_t a = nax >= 0 ? norm_axis(ax[k], x->ndim) : k;
        if (a < 0 || a >= x->ndim) NERR(m, XF_ERR_FORMAT, "bad slice axis");
        int64_t d = x->dims[a], s = nsp >= 0 ? sp[k] : 1;
        if (s == 0) NERR(m, XF_ERR_FORMAT, "slice step 0");
        int64_t lo = st_[k], hi = en[k];
        if (lo < 0) lo += d;
        if (hi < 0) hi += d;
        if (s > 0) {
            lo = lo < 0 ? 0 : lo > d ? d : lo;
            hi = hi < 0 ? 0 : hi > d ? d : hi;
            dims[a] = hi > lo ? (hi - lo + s - 1) / s : 0;
        } else {
            lo = lo < 0 ? -1 : lo > d - 1 ? d - 1 : lo;
            hi = hi < -1 ? -1 : hi > d - 1 ? d - 1 : hi;
            dims[a] = lo > hi ? (lo - hi + (-s) - 1) / (-s) : 0;
        }
        b[a] = lo;
        step[a] = s;
    }
    imp_val *o;
    if ((st = out_const(m, 0, x->is_int, x->ndim, dims, &o))) return st;
    int64_t idx[MAXD] = {0};
    for (int64_t d = 0; d < o->n; d++) {
        int64_t src = 0;
        for (int k = 0; k < x->ndim; k++) src = src * x->dims[k] + b[k] + idx[k] * step[k];
        el_copy(o, d, x, src);
        for (int k = x->ndim - 1; k >= 0; k--) {
            if (++idx[k] < dims[k]) break;
            idx[k] = 0;
        }
    }
    return XF_OK;
}

/* Elementwise arithmetic on constants with numpy broadcasting. Batch-derived entries
 * cannot take part (the result would not be a static shape). */
static xf_status fold_binary(imp *m, const char *op, imp_val *a, imp_val *b) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[MAXD];
    for (int k = 0; k < nd; k++) {
        int ia = k - (nd - a->ndim), ib = k - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) NERR(m, XF_ERR_SHAPE, "constant shapes do not broadcast");
        dims[k] = da == 1 ? db : da;
    }
    int is_int = a->is_int && b->is_int;
    imp_val *o;
    xf_status st = out_const(m, 0, is_int, nd, dims, &o);
    if (st) return st;
    int64_t idx[MAXD] = {0};
    for (int64_t d = 0; d < o->n; d++) {
        int64_t sa = 0, sb = 0;
        for (int k = 0; k < nd; k++) {
            int ia = k - (nd - a->ndim), ib = k - (nd - b->ndim);
            if (ia >= 0) sa = sa * a->dims[ia] + (a->dims[ia] == 1 ? 0 : idx[k]);
            if (ib >= 0) sb = sb * b->dims[ib] + (b->dims[ib] == 1 ? 0 : idx[k]);
        }
        if ((a->is_int && a->sym[sa]) || (b->is_int && b->sym[sb]))
            NERR(m, XF_ERR_UNSUPPORTED, "arithmetic on the batch size cannot be folded");
        if (is_int) {
            int64_t x = a->i[sa], y = b->i[sb], r = 0;
            int ovf = 0;
            if (op[0] == 'A') ovf = __builtin_add_overflow(x, y, &r);
            else if (op[0] == 'S') ovf = __builtin_sub_overflow(x, y, &r);
            else if (op[0] == 'M') ovf = __builtin_mul_overflow(x, y, &r);
            else {
                if (y == 0 || (x == INT64_MIN && y == -1)) NERR(m, XF_ERR_NUMERIC, "integer division by zero or overflow");
                r = x / y; /* ONNX integer Div truncates (as ONNX Runtime does) */
            }
            if (ovf) NERR(m, XF_ERR_NUMERIC, "integer overflow in constant arithmetic");
            o->i[d] = r;
        } else {
            double x = a->is_int ? (double)a->i[sa] : a->f[sa], y = b->is_int ? (double)b->i[sb] : b->f[sb];
            o->f[d] = (float)(op[0] == 'A' ? x + y : op[0] == 'S' ? x - y : op[0] == 'M' ? x * y : x / y);
        }
        for (int k = nd - 1; k >= 0; k--) {
            if (++idx[k] < dims[k]) break;
            idx[k] = 0;
        }
    }
    return XF_OK;
}

/* Reshape target (shape tensor) against an input's dims; 0 copies (unless allowzero),
 * -1 infers. Used for constants; activations have their own rule below. */
static xf_status reshape_dims(imp *m, const int64_t *in, int in_nd, const int64_t *tgt, int nt, int allowzero,
                              int64_t *out) {
    if (nt > MAXD || nt < 0) NERR(m, XF_ERR_UNSUPPORTED, "reshape to %d dimensions", nt);
    int neg = -1;
    int64_t known = 1;
    for (int k = 0; k < nt; k++) {
        int64_t t = tgt[k];
        if (t == 0 && !allowzero) {
            if (k >= in_nd) NERR(m, XF_ERR_SHAPE, "0 in reshape target beyond the input rank");
            t = in[k];
        }
        if (t == -1) {
            if (neg >= 0) NERR(m, XF_ERR_SHAPE, "two -1 in reshape target");
            neg = k;
            out[k] = -1;
            continue;
        }
        if (t < 0) NERR(m, XF_ERR_SHAPE, "negative reshape target");
        out[k] = t;
        if (t && known > INT64_MAX / t) NERR(m, XF_ERR_SHAPE, "reshape target overflows");
        known *= t;
    }
    int64_t total = prod(in, in_nd);
    if (neg >= 0) {
        if (known == 0 || total % known) NERR(m, XF_ERR_SHAPE, "cannot infer -1 in reshape target");
        out[neg] = total / known;
    } else if (known != total)
        NERR(m, XF_ERR_SHAPE, "reshape from %lld to %lld elements", (long long)total, (long long)known);
    return XF_OK;
}

/* Tries to fold the current node: *done = 1 when it produced constants. */
xf_status xf_onnx_try_fold(imp *m, int *done) {
    const char *op = m->node->op_type;
    int nin = n_inputs(m);
    *done = 0;
    xf_status st;
    if (!strcmp(op, "Constant")) {
        imp_val *o;
        const Onnx__AttributeProto *a;
        if ((a = attr(m->node, "value")) && a->t) {
            if ((size_t)0 >= m->node->n_output || !m->node->output[0]) NERR(m, XF_ERR_FORMAT, "no output");
            if ((st = xf_onnx_val_new(m, m->node->output[0], &o))) return st;
            if ((st = xf_onnx_load_tensor(m, a->t, o))) return st;
        } else if ((a = attr(m->node, "value_float")) && a->has_f) {
            if ((st = out_const(m, 0, 0, 0, NULL, &o))) return st;
            o->f[0] = a->f;
        } else if ((a = attr(m->node, "value_int")) && a->has_i) {
            if ((st = out_const(m, 0, 1, 0, NULL, &o))) return st;
            o->i[0] = a->i;
        } else if ((a = attr(m->node, "value_ints"))) {
            int64_t d = (int64_t)a->n_ints;
            if ((st = out_const(m, 0, 1, 1, &d, &o))) return st;
            if (a->n_ints) memcpy(o->i, a->ints, a->n_ints * sizeof *o->i);
        } else if ((a = attr(m->node, "value_floats"))) {
            int64_t d = (int64_t)a->n_floats;
            if ((st = out_const(m, 0, 0, 1, &d, &o))) return st;
            if (a->n_floats) memcpy(o->f, a->floats, a->n_floats * sizeof *o->f);
        } else
            NERR(m, XF_ERR_UNSUPPORTED, "no supported value attribute");
        *done = 1;
        return XF_OK;
    }
    imp_val *x = xf_onnx_in_val(m, 0);
    if (!strcmp(op, "Shape")) {
        if (!x) NERR(m, XF_ERR_FORMAT, "missing input");
        int nd = x->kind == IV_ACT ? gval(m, x)->ndim : x->ndim;
        const int64_t *d = x->kind == IV_ACT ? gval(m, x)->shape : x->dims; /* both stay put during out_const */
        int64_t lo = attr_i(m->node, "start", 0), hi = attr_i(m->node, "end", nd);
        if (lo < 0) lo += nd;
        if (hi < 0) hi += nd;
        lo = lo < 0 ? 0 : lo > nd ? nd : lo;
        hi = hi < lo ? lo : hi > nd ? nd : hi;
        int64_t len = hi - lo;
        imp_val *o;
        if ((st = out_const(m, 0, 1, 1, &len, &o))) return st;
        for (int64_t k = 0; k < len; k++) {
            o->i[k] = d[lo + k];
            o->sym[k] = d[lo + k] < 0;
        }
        *done = 1;
        return XF_OK;
    }
    /* the rest fold only when every present input is a constant */
    for (int k = 0; k < nin; k++) {
        imp_val *v = xf_onnx_in_val(m, k);
        if (m->node->input[k] && m->node->input[k][0] && !v) return XF_OK; /* reported by the caller */
        if (v && v->kind != IV_CONST) return XF_OK;
    }
    if (!x && strcmp(op, "ConstantOfShape")) return XF_OK;
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
        st = fold_copy_shape(m, x, x->ndim, x->dims);
    } else if (!strcmp(op, "Gather") && nin == 2 && xf_onnx_in_val(m, 1)) {
        st = fold_gather(m, x, xf_onnx_in_val(m, 1));
    } else if (!strcmp(op, "Concat")) {
        st = fold_concat(m);
    } else if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) {
        const int64_t *ax;
        int na, nd = 0;
        int64_t d[MAXD];
        if ((st = get_axes(m, &ax, &na))) return st;
        if (op[0] == 'U') {
            if (na < 0) NERR(m, XF_ERR_FORMAT, "Unsqueeze without axes");
            st = unsqueeze_dims(m, x->ndim, x->dims, ax, na, &nd, d);
        } else
            st = squeeze_dims(m, x->ndim, x->dims, ax, na, &nd, d);
        if (!st) st = fold_copy_shape(m, x, nd, d);
    } else if (!strcmp(op, "Cast")) {
        if (m->opset < 6) NERR(m, XF_ERR_UNSUPPORTED, "Cast before opset 6 (the type named by a string) is not supported");
        int64_t to = attr_i(m->node, "to", 0);
        int want_int = xf_onnx_dtype_is_int((int)to);
        if (!xf_onnx_dtype_bytes((int)to)) NERR(m, XF_ERR_UNSUPPORTED, "cast to type %lld", (long long)to);
        imp_val *o;
        if ((st = out_const(m, 0, want_int, x->ndim, x->dims, &o))) return st;
        for (int64_t k = 0; k < x->n; k++) {
            if (want_int && x->is_int) { o->i[k] = x->i[k]; o->sym[k] = x->sym[k]; }
            else if (want_int) {
                float f = x->f[k];
                if (!(f > -9.2e18f && f < 9.2e18f)) NERR(m, XF_ERR_NUMERIC, "cast of a non-finite value");
                o->i[k] = (int64_t)f;
            } else {
                if (x->is_int && x->sym[k]) NERR(m, XF_ERR_UNSUPPORTED, "cast of the batch size to float");
                o->f[k] = x->is_int ? (float)x->i[k] : x->f[k];
            }
        }
    } else if (!strcmp(op, "Slice")) {
        st = fold_slice(m, x);
    } else if (!strcmp(op, "Reshape") || !strcmp(op, "Flatten")) {
        int64_t d[MAXD];
        int nd;
        if (op[0] == 'R') {
            const int64_t *t;
            int nt;
            if ((st = xf_onnx_in_ints(m, 1, &t, &nt, 1))) return st;
            if ((st = reshape_dims(m, x->dims, x->ndim, t, nt, (int)attr_i(m->node, "allowzero", 0), d))) return st;
            nd = nt;
        } else {
            int64_t ax = norm_axis(attr_i(m->node, "axis", 1), x->ndim);
            if (ax < 0 || ax > x->ndim) NERR(m, XF_ERR_FORMAT, "bad axis");
            d[0] = prod(x->dims, (int)ax);
            d[1] = prod(x->dims + ax, x->ndim - (int)ax);
            nd = 2;
        }
        st = fold_copy_shape(m, x, nd, d);
    } else if ((!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) && nin == 2 &&
               xf_onnx_in_val(m, 1)) {
        st = fold_binary(m, op, x, xf_onnx_in_val(m, 1));
    } else if (!strcmp(op, "ConstantOfShape")) {
        const int64_t *d;
        int nd;
        if ((st = xf_onnx_in_ints(m, 0, &d, &nd, 1))) return st;
        const Onnx__AttributeProto *a = attr(m->node, "value");
        imp_val tmp;
        memset(&tmp, 0, sizeof tmp);
        int is_int = 0;
        float fv = 0;
        int64_t iv = 0;
        if (a && a->t) {
            tmp.name = m->node->output[0];
            if ((st = xf_onnx_load_tensor(m, a->t, &tmp))) { xf_onnx_const_free(m, &tmp); return st; }
            if (tmp.n != 1) { xf_onnx_const_free(m, &tmp); NERR(m, XF_ERR_FORMAT, "value must have one element"); }
            is_int = tmp.is_int;
            if (is_int) iv = tmp.i[0]; else fv = tmp.f[0];
            xf_onnx_const_free(m, &tmp);
        }
        imp_val *o;
        if ((st = out_const(m, 0, is_int, nd, d, &o))) return st;
        for (int64_t k = 0; k < o->n; k++) {
            if (is_int) o->i[k] = iv; else o->f[k] = fv;
        }
    } else if (!strcmp(op, "Transpose")) {
        int np;
        const int64_t *p = attr_ints(m->node, "perm", &np);
        int64_t perm[MAXD], d[MAXD];
        for (int k = 0; k < x->ndim; k++) perm[k] = np < 0 ? x->ndim - 1 - k : (k < np ? p[k] : -1);
        if (np >= 0 && np != x->ndim) NERR(m, XF_ERR_FORMAT, "perm length");
        unsigned char seen[MAXD] = {0};
        for (int k = 0; k < x->ndim; k++) {
            if (perm[k] < 0 || perm[k] >= x->ndim || seen[perm[k]]) NERR(m, XF_ERR_FORMAT, "bad perm");
            seen[perm[k]] = 1;
            d[k] = x->dims[perm[k]];
        }
        imp_val *o;
        if ((st = out_const(m, 0, x->is_int, x->ndim, d, &o))) return st;
        int64_t idx[MAXD] = {0}, str[MAXD];
        for (int k = x->ndim - 1, s = 1; k >= 0; k--) { str[k] = s; s *= (int)x->dims[k]; }
        for (int64_t q = 0; q < o->n; q++) {
            int64_t src = 0;
            for (int k = 0; k < x->ndim; k++) src += idx[k] * str[perm[k]];
            el_copy(o, q, x, src);
            for (int k = x->ndim - 1; k >= 0; k--) {
                if (++idx[k] < d[k]) break;
                idx[k] = 0;
            }
        }
    } else
        return XF_OK;
    if (st) return st;
    *done = 1;
    return XF_OK;
}
