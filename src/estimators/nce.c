/* NCE, the Negative Conditional Entropy (Tran et al., ICCV 2019).
 *
 * z_i = argmax_z theta_iz is the source model's hard label (ties: the lowest index, as
 * numpy's argmax). With the empirical joint P(y, z) = #{i: y_i = y, z_i = z} / N,
 *     NCE = -H(Y|Z) = sum_{y,z} P(y, z) log (P(y, z) / P(z)),
 * exactly: empty cells contribute 0 (0 log 0 = 0), as thuml/LogME's masking does up to its
 * 1e-20. eps > 0 reproduces PARC's smoothing: eps is added to every one of the C x Z joint
 * cells and Z marginal cells before the sum, which then runs over all cells. */
#include <math.h>

#include "estimators/estimatorsInt.h"

static const char *const nce_params[] = {
    "eps=0  smoothing added to every joint and marginal cell (PARC uses 1e-5); 0 = exact conditional entropy",
    NULL};

static xf_status nce_run(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    double eps;
    xf_status st = xf_params_f64(ctx, p, "nce", "eps", 0.0, &eps);
    if (st) return st;
    if (eps < 0) return XF_ERR(ctx, XF_ERR_INVALID, "nce: eps must be >= 0, got %g", eps);
    int64_t Cp, *counts;
    int32_t *yd;
    if ((st = xf_est_classes(ctx, ws, "nce", in->y, in->N, in->C, &Cp, &yd, &counts))) return st;
    const int64_t N = in->N, Z = in->Z, C = in->C;
    double *joint, *pz; // (C, Z) counts, (Z)
    XF_WS_NEW(ws, joint, C * Z);
    XF_WS_NEW(ws, pz, Z);
    for (int64_t i = 0; i < N; i++) {
        const float *t = in->P + i * in->ldP;
        int64_t a = 0;
        for (int64_t z = 1; z < Z; z++)
            if (t[z] > t[a]) a = z; /* strict: first maximum wins */
        joint[(int64_t)in->y[i] * Z + a] += 1.0;
        pz[a] += 1.0;
    }
    double s = 0;
    if (eps == 0) {
        for (int64_t c = 0; c < C; c++)
            for (int64_t z = 0; z < Z; z++) {
                double j = joint[c * Z + z];
                if (j > 0) s += j / (double)N * log(j / pz[z]);
            }
    } else {
        for (int64_t c = 0; c < C; c++)
            for (int64_t z = 0; z < Z; z++) {
                double j = joint[c * Z + z] / (double)N + eps, m = pz[z] / (double)N + eps;
                s += j * log(j / m);
            }
    }
    *score = s;
    return XF_OK;
}

const xf_estimator xf_est_def_nce = {
    .name = "nce",
    .flags = XF_NEEDS_P,
    .summary = "NCE (Tran et al. 2019): negative conditional entropy of target labels given argmax source labels",
    .params = nce_params,
    .fn = nce_run,
};
