/* Private to src/nn: the per-parameter update kernels of the optimizers. */
#ifndef XFER_NN_OPTIM_INT_H
#define XFER_NN_OPTIM_INT_H
#include <stdint.h>

/* SGD with momentum (PyTorch torch.optim.SGD semantics, dampening 0):
 *   g = grad + wd * w;  buf = mu * buf + g (buf = g on the first step);
 *   w -= lr * (nesterov ? g + mu * buf : buf). */
void xf_nn_sgd_update(float *w, const float *grad, float *buf, int64_t n, double lr, double mu, double wd, int nesterov,
                      int first);
/* AdamW (Loshchilov & Hutter 2019, Alg. 2; torch.optim.AdamW): decoupled decay
 *   w -= lr * wd * w;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). t >= 1. */
void xf_nn_adamw_update(float *w, const float *grad, float *m, float *v, int64_t n, double lr, double b1, double b2,
                        double eps, double wd, int64_t t);
#endif
