/* Feature extractors that need no network: the baselines a bank of real models must beat,
 * and what `make demo` ranks before the model pipeline exists.
 *
 *   raw          the pixels, flattened                                   (N, C*H*W)
 *   pool:S       average-pooled to S x S per channel                     (N, C*S*S)
 *   pca:K        projection on the K leading principal components of the
 *                images themselves (unsupervised: labels never used)     (N, K)
 *   randproj:K   ReLU(x W) with W (C*H*W, K) Gaussian / sqrt(C*H*W), seeded
 *                (random features; Rahimi & Recht 2007)                  (N, K)
 */
#ifndef XFER_FEATURES_H
#define XFER_FEATURES_H
#include "xfer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks a kind's name and argument syntax before any image is decoded (pool:S is bounded
 * by the image size later). */
xf_status xf_features_check(xf_ctx_t *ctx, const char *spec);
/* x: (N, C, H, W) float32. spec: "raw", "pool:7", "pca:64", "randproj:256".
 * *out (N, *dim) is allocated with xf_malloc; free with xf_free. */
xf_status xf_features_extract(xf_ctx_t *ctx, const char *spec, const float *x, int64_t N, int64_t C, int64_t H,
                               int64_t W, uint64_t seed, float **out, int64_t *dim);

#ifdef __cplusplus
}
#endif
#endif
