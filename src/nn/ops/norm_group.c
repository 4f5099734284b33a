/* GroupNormalization (per-channel scale and bias, as opset 21 / torch.nn.GroupNorm) and
 * InstanceNormalization (one channel per group), forward and backward.
 *
 * Wu & He 2018: BatchNorm's formula (norm_batch.c) per (sample, group) instead of per
 * channel; no running statistics. Saved state: mean and invstd per (sample, group).
 * Three kernels: the plain reference, the fast NCHW one and the blocked one (nChw16c;
 * groups need not align with the 16-channel blocks). */
#include "nn/ops/normInt.h"

/* ---- GroupNorm / InstanceNorm ---- */
static int64_t gn_groups(const xf_node *n, int64_t C) { return n->op == XF_OP_INSTANCENORM ? C : n->attr.num_groups; }

static xf_status gn_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->nd < 3) return NN_SHAPE_ERR(ctx, n, "input rank %d (need >= 3)", in[0]->nd);
    int64_t C = in[0]->s[1], G = gn_groups(n, C);
    if (G <= 0 || C % G) return NN_SHAPE_ERR(ctx, n, "%lld channels not divisible into %lld groups", (long long)C, (long long)G);
    for (int i = 1; i < 3; i++)
        if (nn_numel(in[i]) != C)
            return NN_SHAPE_ERR(ctx, n, "input %d has %lld elements for %lld channels (per-channel scale/bias)", i,
                                (long long)nn_numel(in[i]), (long long)C);
    if (!(n->attr.eps > 0)) return NN_SHAPE_ERR(ctx, n, "eps %g must be positive", n->attr.eps);
    out[0] = *in[0];
    return XF_OK;
}
static size_t gn_saved(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 2 * (size_t)(x[0]->s[0] * gn_groups(n, x[0]->s[1])) : 0;
}

/* reference: double accumulation element by element, a separate pass per reduction */
static xf_status gn_fwd_ref(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *Y = y->d, *sv = kc->saved;
    double eps = kc->node->attr.eps;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G;
        const float *p = X + (n * C + g * cg) * S;
        int64_t M = cg * S;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < M; i++) s += p[i];
        double mean = s / (double)M;
        for (int64_t i = 0; i < M; i++) {
            double d = p[i] - mean;
            ss += d * d;
        }
        double invstd = 1.0 / sqrt(ss / (double)M + eps);
        if (sv) {
            sv[ng] = (float)mean;
            sv[N * G + ng] = (float)invstd;
        }
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
            const float *pc = X + (n * C + c) * S;
            float *q = Y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) q[i] = pc[i] * sc + sh;
        }
    }
    return XF_OK;
}

static xf_status gn_bwd_ref(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    const float *X = x[0]->d, *gam = x[1]->d, *sv = kc->saved;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    if (!sv) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': backward without saved statistics", kc->node->name);
    if (dG || dB) {
#pragma omp parallel for num_threads(kc->threads) schedule(static)
        for (int64_t c = 0; c < C; c++) {
            int64_t g = c / cg;
            double sg = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                double mean = sv[n * G + g], invstd = sv[N * G + n * G + g];
                const float *p = X + (n * C + c) * S, *d = dy + (n * C + c) * S;
                for (int64_t i = 0; i < S; i++) {
                    sg += d[i] * (p[i] - mean) * invstd;
                    sb += d[i];
                }
            }
            if (dG) dG[c] += (float)sg;
            if (dB) dB[c] += (float)sb;
        }
    }
    if (!dX) return XF_OK;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G, M = cg * S;
        double mean = sv[ng], invstd = sv[N * G + ng];
        double s1 = 0, s2 = 0; /* sum dxhat, sum dxhat * xhat */
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            const float *p = X + (n * C + c) * S, *d = dy + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                double dxh = (double)d[i] * gam[c];
                s1 += dxh;
                s2 += dxh * (p[i] - mean) * invstd;
            }
        }
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            const float *p = X + (n * C + c) * S, *d = dy + (n * C + c) * S;
            float *q = dX + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                double xh = (p[i] - mean) * invstd;
                q[i] += (float)(invstd / (double)M * ((double)M * d[i] * gam[c] - s1 - xh * s2));
            }
        }
    }
    return XF_OK;
}
/* Fast kernels, the BatchNorm scheme per (sample, group): forward takes the shifted sums
 * in one pass (k = the mean of the group's first plane), then normalises with the fused
 * activation; backward takes, per (sample, channel) plane, A = sum dy and B = sum dy xhat
 * in one pass (kept in the scratch: dgamma = sum_n B, dbeta = sum_n A), and writes dx
 * per group from s1 = sum_c gamma A, s2 = sum_c gamma B as dx = fa dy + fb x + fc with
 * fa = invstd gamma, fb = -invstd^2 s2 / M, fc = invstd (mean invstd s2 - s1) / M. */
static size_t gn_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 8 * (size_t)(x[0]->s[0] * x[0]->s[1]) : 0; /* (N, C, 2) doubles + the blocked kernels' (N, C, 4) floats */
}

/* Blocked GroupNorm (nnInt.h, NN_BLK), the blocked BatchNorm's scheme with per-sample
 * statistics: per (sample, block) task 16-lane sums with each lane's shift the mean of
 * its group's first plane; per (sample, group) the lanes of the group's channels are
 * added; the per-(sample, channel) coefficients go to the scratch for the last pass.
 * Groups need not align with blocks. Scratch (floats): the sums (N, C, 2) doubles, then
 * four (N, C) float arrays. */
static xf_status gn_fwd_blk(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    int64_t CB = C / NN_BLK, T = N * CB, M = cg * S;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *Y = y->d, *sv = kc->saved;
    double eps = kc->node->attr.eps;
    int act = kc->act;
    float lo = kc->amin, hi = kc->amax;
    double *AB = (double *)(void *)kc->scratch;        /* (T, 2, NN_BLK) */
    float *K = (float *)(void *)(AB + 2 * N * C), *SC = K + N * C, *SH = SC + N * C; /* (N, C) each */
#pragma omp parallel num_threads(kc->threads)
    {
#pragma omp for schedule(static)
        for (int64_t ng = 0; ng < N * G; ng++) { /* shift: the mean of the group's first plane */
            int64_t n = ng / G, c0 = (ng % G) * cg;
            const float *p0 = X + ((n * CB + c0 / NN_BLK) * S) * NN_BLK + c0 % NN_BLK;
            double k = 0;
            for (int64_t i = 0; i < S; i++) k += p0[i * NN_BLK];
            for (int64_t c = c0; c < c0 + cg; c++) K[n * C + c] = (float)(k / (double)S);
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            double *ab = AB + 2 * NN_BLK * t;
            memset(ab, 0, 2 * NN_BLK * sizeof(double));
            blk_sum2(X + t * S * NN_BLK, S, K + t * NN_BLK, ab, ab + NN_BLK); /* (n, cb) -> K[n C + cb 16 ..] */
        }
#pragma omp for schedule(static)
        for (int64_t ng = 0; ng < N * G; ng++) {
            int64_t n = ng / G, c0 = (ng % G) * cg;
            double sa = 0, sb = 0;
            for (int64_t c = c0; c < c0 + cg; c++) {
                const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                sa += ab[c % NN_BLK];
                sb += ab[NN_BLK + c % NN_BLK];
            }
            double d = sa / (double)M, ss = sb - (double)M * d * d;
            if (ss < 0) ss = 0;
            double mean = K[n * C + c0] + d, invstd = 1.0 / sqrt(ss / (double)M + eps);
            if (sv) {
                sv[ng] = (float)mean;
                sv[N * G + ng] = (float)invstd;
            }
            for (int64_t c = c0; c < c0 + cg; c++) {
                SC[n * C + c] = (float)(gam[c] * invstd);
                SH[n * C + c] = (float)(bet[c] - mean * gam[c] * invstd);
            }
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            const float *p = X + t * S * NN_BLK, *sc = SC + t * NN_BLK, *sh = SH + t * NN_BLK;
            float *q = Y + t * S * NN_BLK;
            for (int64_t i = 0; i < S; i++)
                for (int l = 0; l < NN_BLK; l++) {
                    float v = p[i * NN_BLK + l] * sc[l] + sh[l];
                    if (act == 1) v = v > 0.0f ? v : 0.0f;
                    else if (act == 2) v = v > lo ? (v < hi ? v : hi) : lo;
                    q[i * NN_BLK + l] = v;
                }
        }
    }
    return XF_OK;
}

static xf_status gn_bwd_blk(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    int64_t CB = C / NN_BLK, T = N * CB, M = cg * S;
    const float *X = x[0]->d, *gam = x[1]->d, *sv = kc->saved, *R = y->d;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    int act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    double *AB = (double *)(void *)kc->scratch; /* (T, 2, NN_BLK) */
    float *FM = (float *)(void *)(AB + 2 * N * C), *FA = FM + N * C, *FB = FA + N * C, *FC = FB + N * C; /* (N, C) each */
#pragma omp parallel num_threads(kc->threads)
    {
#pragma omp for schedule(static)
        for (int64_t nc = 0; nc < N * C; nc++) FM[nc] = sv[(nc / C) * G + (nc % C) / cg];
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            double *ab = AB + 2 * NN_BLK * t;
            memset(ab, 0, 2 * NN_BLK * sizeof(double));
            int64_t o = t * S * NN_BLK;
            blk_dsum(dy + o, X + o, R + o, act, lo, hi, S, FM + t * NN_BLK, ab, ab + NN_BLK);
        }
#pragma omp for schedule(static)
        for (int64_t ng = 0; ng < N * G; ng++) {
            int64_t n = ng / G, c0 = (ng % G) * cg;
            double mean = sv[ng], invstd = sv[N * G + ng], s1 = 0, s2 = 0;
            for (int64_t c = c0; c < c0 + cg; c++) {
                double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                double A = ab[c % NN_BLK], B = (ab[NN_BLK + c % NN_BLK] - A * (mean - FM[n * C + c])) * invstd;
                ab[NN_BLK + c % NN_BLK] = B; /* = sum dy xhat, for dgamma */
                s1 += gam[c] * A;
                s2 += gam[c] * B;
            }
            float fb = (float)(-invstd * invstd * s2 / (double)M), fc = (float)(invstd * (mean * invstd * s2 - s1) / (double)M);
            for (int64_t c = c0; c < c0 + cg; c++) {
                FA[n * C + c] = (float)(invstd * gam[c]);
                FB[n * C + c] = fb;
                FC[n * C + c] = fc;
            }
        }
        if (dG || dB) {
#pragma omp for schedule(static)
            for (int64_t c = 0; c < C; c++) {
                double sa = 0, sb = 0;
                for (int64_t n = 0; n < N; n++) {
                    const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                    sa += ab[c % NN_BLK];
                    sb += ab[NN_BLK + c % NN_BLK];
                }
                if (dG) dG[c] += (float)sb;
                if (dB) dB[c] += (float)sa;
            }
        }
        if (dX) {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) {
                int64_t o = t * S * NN_BLK;
                blk_dx(dy + o, X + o, R + o, FA + t * NN_BLK, FB + t * NN_BLK, FC + t * NN_BLK, S, act, lo, hi, set, dX + o);
            }
        }
    }
    return XF_OK;
}

static xf_status gn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) return gn_fwd_blk(kc, x, y);
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference GroupNorm takes no fused activation", kc->node->name);
        return gn_fwd_ref(kc, x, y);
    }
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *Y = y->d, *sv = kc->saved;
    double eps = kc->node->attr.eps;
    int act = kc->act;
    float lo = kc->amin, hi = kc->amax;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G, M = cg * S;
        const float *p = X + (n * C + g * cg) * S;
        float k = (float)(psum(p, S) / (double)S);
        lanes2 L;
        memset(&L, 0, sizeof L);
        for (int64_t cc = 0; cc < cg; cc++) plane_sum2(p + cc * S, S, k, &L);
        double d = lanes_total(L.a) / (double)M;
        double ss = lanes_total(L.b) - (double)M * d * d;
        if (ss < 0) ss = 0;
        double mean = k + d, invstd = 1.0 / sqrt(ss / (double)M + eps);
        if (sv) {
            sv[ng] = (float)mean;
            sv[N * G + ng] = (float)invstd;
        }
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc;
            float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
            plane_affine_act(X + (n * C + c) * S, Y + (n * C + c) * S, S, sc, sh, act, lo, hi);
        }
    }
    return XF_OK;
}

static xf_status gn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), G = gn_groups(kc->node, C), cg = C / G;
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) {
        if (!kc->saved) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': backward without saved statistics", kc->node->name);
        return gn_bwd_blk(kc, x, y, dy, dx);
    }
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference GroupNorm takes no fused activation", kc->node->name);
        if (dx[0] && (kc->set & 1u)) memset(dx[0], 0, (size_t)(N * C * S) * sizeof(float));
        return gn_bwd_ref(kc, x, y, dy, dx);
    }
    const float *X = x[0]->d, *gam = x[1]->d, *sv = kc->saved, *R = y->d;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    if (!sv) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': backward without saved statistics", kc->node->name);
    int act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    double *AB = (double *)(void *)kc->scratch; /* (N, C, 2) */
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, g = ng % G, M = cg * S;
        double mean = sv[ng], invstd = sv[N * G + ng];
        float fm = (float)mean;
        double s1 = 0, s2 = 0;
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc, o = (n * C + c) * S;
            lanes2 L;
            memset(&L, 0, sizeof L);
            plane_dsum(dy + o, X + o, R + o, act, lo, hi, S, fm, &L);
            double A = lanes_total(L.a), B = (lanes_total(L.b) - A * (mean - fm)) * invstd;
            AB[2 * (n * C + c)] = A;
            AB[2 * (n * C + c) + 1] = B;
            s1 += gam[c] * A;
            s2 += gam[c] * B;
        }
        if (!dX) continue;
        float fb = (float)(-invstd * invstd * s2 / (double)M), fc = (float)(invstd * (mean * invstd * s2 - s1) / (double)M);
        for (int64_t cc = 0; cc < cg; cc++) {
            int64_t c = g * cg + cc, o = (n * C + c) * S;
            plane_dx(dX + o, dy + o, X + o, R + o, act, lo, hi, S, (float)(invstd * gam[c]), fb, fc, set);
        }
    }
    if (dG || dB)
        for (int64_t c = 0; c < C; c++) {
            double sa = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                sa += AB[2 * (n * C + c)];
                sb += AB[2 * (n * C + c) + 1];
            }
            if (dG) dG[c] += (float)sb;
            if (dB) dB[c] += (float)sa;
        }
    return XF_OK;
}
const nn_opdef xf_nn_op_groupnorm = {gn_shape, gn_fwd, gn_bwd, gn_scratch, gn_saved, 6u, 6u, 3, 3, 1u, 1};
const nn_opdef xf_nn_op_instancenorm = {gn_shape, gn_fwd, gn_bwd, gn_scratch, gn_saved, 6u, 6u, 3, 3, 1u, 1};

