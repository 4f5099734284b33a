/* SGD with momentum and optional Nesterov momentum (Sutskever et al. 2013, eq. 3-4 in
 * PyTorch's reformulation), L2 weight decay added to the gradient. */
#include "nn/optim/optimInt.h"

void xf_nn_sgd_update(float *w, const float *grad, float *buf, int64_t n, double lr, double mu, double wd, int nesterov,
                      int first) {
    float flr = (float)lr, fmu = (float)mu, fwd = (float)wd;
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] + fwd * w[i];
        if (mu != 0.0) {
            float b = first ? g : fmu * buf[i] + g;
            buf[i] = b;
            g = nesterov ? g + fmu * b : b;
        }
        w[i] -= flr * g;
    }
}
