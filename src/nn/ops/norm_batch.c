/* BatchNormalization, forward and backward: inference with running statistics;
 * training with batch statistics and the running update.
 *
 * Ioffe & Szegedy 2015, Alg. 1 and 2: training normalises with the biased batch
 * variance and updates running = m * running + (1 - m) * batch with the unbiased
 * variance (ONNX momentum m; PyTorch's momentum is 1 - m). Backward, per channel with
 * M = N*H*W elements and xhat = (x - mean) * invstd:
 *   dgamma = sum dy xhat,  dbeta = sum dy,
 *   dx = gamma invstd / M * (M dy - dbeta - xhat dgamma).
 * Statistics are accumulated in double; saved state: mean and invstd per channel.
 * Three kernels: the plain reference, the fast NCHW one (fused Relu/Clip, first-writer
 * gradients) and the blocked one (oneDNN's nChw16c layout between convolutions). */
#include "nn/ops/normInt.h"

/* ---- BatchNormalization ---- */
/* A channel's training statistics, from its mean and ss = sum (x - mean)^2 over M
 * elements: the running update (biased variance normalises, the unbiased one is kept),
 * the saved mean and invstd for backward; returns invstd. */
static double bn_commit(const xf_node_attr *a, double mean, double ss, int64_t M, float *rmean, float *rvar, float *sv,
                        int64_t c, int64_t C) {
    double m = a->momentum, var = ss / (double)M, uvar = M > 1 ? ss / (double)(M - 1) : var;
    double invstd = 1.0 / sqrt(var + a->eps);
    *rmean = (float)(m * *rmean + (1.0 - m) * mean);
    *rvar = (float)(m * *rvar + (1.0 - m) * uvar);
    if (sv) {
        sv[c] = (float)mean;
        sv[C + c] = (float)invstd;
    }
    return invstd;
}
static xf_status bn_shape(xf_ctx_t *ctx, const xf_node *n, const nn_t *const *in, nn_t *out) {
    if (in[0]->nd < 2) return NN_SHAPE_ERR(ctx, n, "input rank %d (need >= 2)", in[0]->nd);
    int64_t C = in[0]->s[1];
    for (int i = 1; i < 5; i++)
        if (nn_numel(in[i]) != C)
            return NN_SHAPE_ERR(ctx, n, "input %d has %lld elements for %lld channels", i, (long long)nn_numel(in[i]), (long long)C);
    if (!(n->attr.eps > 0)) return NN_SHAPE_ERR(ctx, n, "eps %g must be positive", n->attr.eps);
    out[0] = *in[0];
    return XF_OK;
}
static size_t bn_saved(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 2 * (size_t)x[0]->s[1] : 0;
}

/* Reference kernels: the plain per-plane loops (8-lane float partial sums per plane,
 * double across planes, a separate pass per reduction). They take no fused activation
 * (the executor fuses only for the fast kernels). */
static xf_status bn_fwd_ref(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C);
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *rmean = x[3]->d, *rvar = x[4]->d;
    float *Y = y->d;
    int train = kc->train;
    float *sv = kc->saved;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (train) {
            double s = 0, ss = 0;
            for (int64_t n = 0; n < N; n++) s += psum(X + (n * C + c) * S, S);
            int64_t M = N * S;
            mean = s / (double)M;
            /* two-pass variance around the float mean, corrected for its rounding
             * (sum (x - fm)^2 = sum (x - mean)^2 + M (mean - fm)^2) */
            float fm = (float)mean;
            for (int64_t n = 0; n < N; n++) ss += psqdev(X + (n * C + c) * S, S, fm);
            double dm = mean - fm;
            ss -= (double)M * dm * dm;
            invstd = bn_commit(a, mean, ss, M, rmean + c, rvar + c, sv, c, C);
        } else {
            mean = rmean[c];
            invstd = 1.0 / sqrt((double)rvar[c] + a->eps);
        }
        float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
        for (int64_t n = 0; n < N; n++) {
            const float *p = X + (n * C + c) * S;
            float *q = Y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) q[i] = p[i] * sc + sh;
        }
    }
    return XF_OK;
}

static xf_status bn_bwd_ref(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C);
    const float *X = x[0]->d, *gam = x[1]->d;
    int train = kc->train && kc->saved;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    const float *sv = kc->saved;
    const float *rmean = x[3]->d, *rvar = x[4]->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean = train ? sv[c] : rmean[c];
        double invstd = train ? sv[C + c] : 1.0 / sqrt((double)rvar[c] + a->eps);
        double sdy = 0, sdyx = 0;
        float fm = (float)mean;
        for (int64_t n = 0; n < N; n++) {
            const float *p = X + (n * C + c) * S, *g = dy + (n * C + c) * S;
            double s1 = psum(g, S);
            sdy += s1;
            sdyx += pdotdev(g, p, S, fm) - s1 * (mean - fm);
        }
        sdyx *= invstd; /* = sum dy * xhat */
        if (dG) dG[c] += (float)sdyx;
        if (dB) dB[c] += (float)sdy;
        if (dX) {
            int64_t M = N * S;
            if (train) {
                /* dx = a * dy + b * x + c0 with float coefficients */
                double k1 = gam[c] * invstd / (double)M;
                float fa = (float)(k1 * (double)M), fb = (float)(-k1 * sdyx * invstd),
                      fc = (float)(k1 * (-sdy + mean * sdyx * invstd));
                for (int64_t n = 0; n < N; n++) {
                    const float *p = X + (n * C + c) * S, *g = dy + (n * C + c) * S;
                    float *q = dX + (n * C + c) * S;
                    for (int64_t i = 0; i < S; i++) q[i] += fa * g[i] + fb * p[i] + fc;
                }
            } else { /* running statistics: an affine map */
                float k1 = (float)(gam[c] * invstd);
                for (int64_t n = 0; n < N; n++) {
                    const float *g = dy + (n * C + c) * S;
                    float *q = dX + (n * C + c) * S;
                    for (int64_t i = 0; i < S; i++) q[i] += k1 * g[i];
                }
            }
        }
    }
    return XF_OK;
}
/* Work in (sample, block) tasks, so two threads share even a 16-channel layer: the sums
 * of each task go to the scratch, (N, C/16, 2, 16) doubles, and are added per channel
 * over the samples in order (the same result for any thread count); then the per-channel
 * coefficients (4 C floats after the sums) and one more pass over the tasks. */
static size_t bn_scratch(const xf_node *n, const nn_t *const *x, const nn_t *y, int train, int threads) {
    return train ? 4 * (size_t)(x[0]->s[0] * x[0]->s[1]) + 4 * (size_t)x[0]->s[1] : 0;
}

static xf_status bn_fwd_blk(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S, CB = C / NN_BLK, T = N * CB;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *rmean = x[3]->d, *rvar = x[4]->d;
    float *Y = y->d, *sv = kc->saved;
    int train = kc->train, act = kc->act;
    float lo = kc->amin, hi = kc->amax;
    double m = a->momentum;
    double *AB = (double *)(void *)kc->scratch;  /* (T, 2, NN_BLK) */
    float *K = (float *)(void *)(AB + 2 * N * C); /* (C) shifts */
    float *SC = K + C, *SH = SC + C;              /* (C) scale, shift */
#pragma omp parallel num_threads(kc->threads)
    {
        if (train) {
#pragma omp for schedule(static)
            for (int64_t c = 0; c < C; c++) { /* the shift: the channel's mean in sample 0 */
                const float *p0 = X + (c / NN_BLK) * S * NN_BLK + c % NN_BLK;
                double k = 0;
                for (int64_t i = 0; i < S; i++) k += p0[i * NN_BLK];
                K[c] = (float)(k / (double)S);
            }
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) {
                double *ab = AB + 2 * NN_BLK * t;
                memset(ab, 0, 2 * NN_BLK * sizeof(double));
                blk_sum2(X + t * S * NN_BLK, S, K + (t % CB) * NN_BLK, ab, ab + NN_BLK);
            }
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double mean, invstd;
            if (train) {
                double sa = 0, sb = 0;
                for (int64_t n = 0; n < N; n++) {
                    const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                    sa += ab[c % NN_BLK];
                    sb += ab[NN_BLK + c % NN_BLK];
                }
                double d = sa / (double)M, ss = sb - (double)M * d * d;
                if (ss < 0) ss = 0;
                mean = K[c] + d;
                double var = ss / (double)M;
                invstd = 1.0 / sqrt(var + a->eps);
                double uvar = M > 1 ? ss / (double)(M - 1) : var;
                rmean[c] = (float)(m * rmean[c] + (1.0 - m) * mean);
                rvar[c] = (float)(m * rvar[c] + (1.0 - m) * uvar);
                if (sv) {
                    sv[c] = (float)mean;
                    sv[C + c] = (float)invstd;
                }
            } else {
                mean = rmean[c];
                invstd = 1.0 / sqrt((double)rvar[c] + a->eps);
            }
            SC[c] = (float)(gam[c] * invstd);
            SH[c] = (float)(bet[c] - mean * gam[c] * invstd);
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            const float *p = X + t * S * NN_BLK, *sc = SC + (t % CB) * NN_BLK, *sh = SH + (t % CB) * NN_BLK;
            float *q = Y + t * S * NN_BLK;
            if (act == 1)
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) {
                        float v = p[i * NN_BLK + l] * sc[l] + sh[l];
                        q[i * NN_BLK + l] = v > 0.0f ? v : 0.0f;
                    }
            else if (act == 2)
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) {
                        float v = p[i * NN_BLK + l] * sc[l] + sh[l];
                        v = v > lo ? v : lo;
                        q[i * NN_BLK + l] = v < hi ? v : hi;
                    }
            else
                for (int64_t i = 0; i < S; i++)
                    for (int l = 0; l < NN_BLK; l++) q[i * NN_BLK + l] = p[i * NN_BLK + l] * sc[l] + sh[l];
        }
    }
    return XF_OK;
}

static xf_status bn_bwd_blk(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S, CB = C / NN_BLK, T = N * CB;
    const float *X = x[0]->d, *gam = x[1]->d, *R = y->d;
    int train = kc->train && kc->saved, act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    const float *sv = kc->saved, *rmean = x[3]->d, *rvar = x[4]->d;
    double *AB = (double *)(void *)kc->scratch;   /* (T, 2, NN_BLK) */
    float *FM = (float *)(void *)(AB + 2 * N * C); /* (C) float mean, then dx = fa dy + fb x + fc */
    float *FA = FM + C, *FB = FA + C, *FC = FB + C;
#pragma omp parallel num_threads(kc->threads)
    {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) FM[c] = train ? sv[c] : rmean[c];
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            double *ab = AB + 2 * NN_BLK * t;
            memset(ab, 0, 2 * NN_BLK * sizeof(double));
            int64_t o = t * S * NN_BLK;
            blk_dsum(dy + o, X + o, R + o, act, lo, hi, S, FM + (t % CB) * NN_BLK, ab, ab + NN_BLK);
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double mean = train ? sv[c] : rmean[c];
            double invstd = train ? sv[C + c] : 1.0 / sqrt((double)rvar[c] + a->eps);
            double sdy = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                const double *ab = AB + 2 * NN_BLK * (n * CB + c / NN_BLK);
                sdy += ab[c % NN_BLK];
                sb += ab[NN_BLK + c % NN_BLK];
            }
            double sdyx = (sb - sdy * (mean - FM[c])) * invstd;
            if (dG) dG[c] += (float)sdyx;
            if (dB) dB[c] += (float)sdy;
            if (train) {
                double k1 = gam[c] * invstd / (double)M;
                FA[c] = (float)(k1 * (double)M);
                FB[c] = (float)(-k1 * sdyx * invstd);
                FC[c] = (float)(k1 * (-sdy + mean * sdyx * invstd));
            } else {
                FA[c] = (float)(gam[c] * invstd);
                FB[c] = FC[c] = 0.0f;
            }
        }
        if (dX) {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) {
                int64_t o = t * S * NN_BLK, cb = t % CB;
                blk_dx(dy + o, X + o, R + o, FA + cb * NN_BLK, FB + cb * NN_BLK, FC + cb * NN_BLK, S, act, lo, hi, set, dX + o);
            }
        }
    }
    return XF_OK;
}

static xf_status bn_fwd(nn_kctx *kc, const nn_t *const *x, nn_t *y) {
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) return bn_fwd_blk(kc, x, y);
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference BatchNorm takes no fused activation", kc->node->name);
        return bn_fwd_ref(kc, x, y);
    }
    const xf_node_attr *a = &kc->node->attr;
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S;
    const float *X = x[0]->d, *gam = x[1]->d, *bet = x[2]->d;
    float *rmean = x[3]->d, *rvar = x[4]->d;
    float *Y = y->d, *sv = kc->saved;
    int train = kc->train, act = kc->act;
    float lo = kc->amin, hi = kc->amax;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (train) {
            float k = (float)(psum(X + c * S, S) / (double)S);
            lanes2 L;
            memset(&L, 0, sizeof L);
            for (int64_t n = 0; n < N; n++) plane_sum2(X + (n * C + c) * S, S, k, &L);
            double d = lanes_total(L.a) / (double)M;
            double ss = lanes_total(L.b) - (double)M * d * d; /* sum (x - mean)^2 */
            if (ss < 0) ss = 0;
            mean = k + d;
            invstd = bn_commit(a, mean, ss, M, rmean + c, rvar + c, sv, c, C);
        } else {
            mean = rmean[c];
            invstd = 1.0 / sqrt((double)rvar[c] + a->eps);
        }
        float sc = (float)(gam[c] * invstd), sh = (float)(bet[c] - mean * gam[c] * invstd);
        for (int64_t n = 0; n < N; n++)
            plane_affine_act(X + (n * C + c) * S, Y + (n * C + c) * S, S, sc, sh, act, lo, hi);
    }
    return XF_OK;
}

static xf_status bn_bwd(nn_kctx *kc, const nn_t *const *x, const nn_t *y, const float *dy, float *const *dx) {
    int64_t N = x[0]->s[0], C = x[0]->s[1], S = nn_numel(x[0]) / (N * C), M = N * S;
    if ((kc->blk & 1u) != (kc->blk_y != 0))
        return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': input and output in different layouts", kc->node->name);
    if (kc->blk & 1u) return bn_bwd_blk(kc, x, y, dy, dx);
    if (kc->ref) {
        if (kc->act) return XF_ERR(kc->ctx, XF_ERR_INTERNAL, "node '%s': reference BatchNorm takes no fused activation", kc->node->name);
        if (dx[0] && (kc->set & 1u)) memset(dx[0], 0, (size_t)(N * C * S) * sizeof(float));
        return bn_bwd_ref(kc, x, y, dy, dx);
    }
    const xf_node_attr *a = &kc->node->attr;
    const float *X = x[0]->d, *gam = x[1]->d, *R = y->d;
    int train = kc->train && kc->saved, act = kc->act, set = (kc->set & 1u) != 0;
    float lo = kc->amin, hi = kc->amax;
    float *dX = dx[0], *dG = dx[1], *dB = dx[2];
    const float *sv = kc->saved;
    const float *rmean = x[3]->d, *rvar = x[4]->d;
#pragma omp parallel for num_threads(kc->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean = train ? sv[c] : rmean[c];
        double invstd = train ? sv[C + c] : 1.0 / sqrt((double)rvar[c] + a->eps);
        float fm = (float)mean;
        lanes2 L;
        memset(&L, 0, sizeof L);
        for (int64_t n = 0; n < N; n++) {
            int64_t o = (n * C + c) * S;
            plane_dsum(dy + o, X + o, R + o, act, lo, hi, S, fm, &L);
        }
        double sdy = lanes_total(L.a);
        double sdyx = (lanes_total(L.b) - sdy * (mean - fm)) * invstd; /* = sum dy * xhat */
        if (dG) dG[c] += (float)sdyx;
        if (dB) dB[c] += (float)sdy;
        if (!dX) continue;
        float fa, fb, fc;
        if (train) { /* dx = fa dy + fb x + fc, the formula above as float coefficients */
            double k1 = gam[c] * invstd / (double)M;
            fa = (float)(k1 * (double)M);
            fb = (float)(-k1 * sdyx * invstd);
            fc = (float)(k1 * (-sdy + mean * sdyx * invstd));
        } else { /* running statistics: an affine map */
            fa = (float)(gam[c] * invstd);
            fb = fc = 0.0f;
        }
        for (int64_t n = 0; n < N; n++) {
            int64_t o = (n * C + c) * S;
            plane_dx(dX + o, dy + o, X + o, R + o, act, lo, hi, S, fa, fb, fc, set);
        }
    }
    return XF_OK;
}
const nn_opdef xf_nn_op_batchnorm = {bn_shape, bn_fwd, bn_bwd, bn_scratch, bn_saved, 30u, 30u, 5, 5, 1u, 1};
