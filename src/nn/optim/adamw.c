/* AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 2),
 * bias-corrected moments as torch.optim.AdamW. */
#include <math.h>

#include "nn/optim/optimInt.h"

void xf_nn_adamw_update(float *w, const float *grad, float *m, float *v, int64_t n, double lr, double b1, double b2,
                        double eps, double wd, int64_t t) {
    double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
    float decay = (float)(1.0 - lr * wd);
    float fb1 = (float)b1, fb2 = (float)b2;
    float step = (float)(lr / c1), isc2 = (float)(1.0 / sqrt(c2)), feps = (float)eps;
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        w[i] *= decay;
        m[i] = fb1 * m[i] + (1.0f - fb1) * g;
        v[i] = fb2 * v[i] + (1.0f - fb2) * g * g;
        w[i] -= step * m[i] / (sqrtf(v[i]) * isc2 + feps);
    }
}
