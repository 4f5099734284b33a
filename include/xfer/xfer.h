/* xfer: scalable transfer learning. The umbrella header: include this one.
 * Modules: core (status, context, allocation, workspace, matrices, RNG), array/npy
 * (.npy files), linalg (BLAS/LAPACK wrappers, PCA, ranks, correlations), estimators
 * (transferability scores), nn (the engine), data, transfer (fine-tuning). */
#ifndef XFER_XFER_H
#define XFER_XFER_H
#include "xfer/core.h"
#include "xfer/files.h"
#include "xfer/array.h"
#include "xfer/npy.h"
#include "xfer/linalg.h"
#include "xfer/estimators.h"
#include "xfer/nn.h"
#include "xfer/features.h"
#include "xfer/data.h"
#include "xfer/corpus.h"
#include "xfer/transfer.h"
#include "xfer/experts.h"
#include "xfer/bank.h"
#include "xfer/benchmark.h"
#endif
