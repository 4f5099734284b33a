#!/usr/bin/python3
"""Times the Python reference (bench/ref/ref_knn_linear_parc.py, the published dbolya/parc code
paths) on the inputs bench/est_knn_linear_parc.c wrote with --out DIR, and prints the scores, so the
two can be compared side by side (docs/ESTIMATORS.md, benchmark table).

  /usr/bin/python3 bench/ref/time_knn_linear_parc.py DIR [N,D,C ...] [--full]

--full also runs the xfer-rule variants (slow float64 oracles) above N = 500.
Single-threaded figures: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1.

Published settings: kNN k=1 l2 (full distance matrix + argsort); SplitLogistic lbfgs
max_iter=20 tol=0.1; PARC dims=32 randomized PCA (random_state=1919, iterated_power=1).
Also printed: the same estimators under xfer's documented rules (exact PCA, index
exclusion, exact label RDM, converged logistic), whose scores xfer must reproduce.
Skipped where the reference would need more than ~60 s or ~8 GB (kNN and PARC at
N = 20000: two 20000 x 20000 float64 matrices and their argsort / triangle copies)."""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_knn_linear_parc as ref  # noqa: E402

SIZES = [(500, 512, 10), (500, 2048, 100), (5000, 2048, 100), (20000, 512, 10)]


def timed(fn, reps):
    best, bcpu, s = 1e30, 1e30, None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        s = fn()
        best = min(best, time.perf_counter() - t0)
        bcpu = min(bcpu, time.process_time() - c0)
    return s, best, bcpu


def main():
    d = sys.argv[1]
    only = [tuple(int(v) for v in a.split(',')) for a in sys.argv[2:] if not a.startswith('--')]
    print('%6s %5s %4s %-16s %12s %10s %10s' % ('N', 'D', 'C', 'method', 'score', 'wall_s', 'cpu_s'))
    for (N, D, C) in SIZES:
        if only and (N, D, C) not in only:
            continue
        F = np.load(os.path.join(d, 'est_knn_linear_parc_%d_%d_%d_F.npy' % (N, D, C)))
        y = np.load(os.path.join(d, 'est_knn_linear_parc_%d_%d_%d_y.npy' % (N, D, C)))
        reps = 3 if N <= 500 else 1
        runs = []
        full = '--full' in sys.argv or N <= 500  # the xfer-rule variants are slow oracles
        if N < 20000:
            runs.append(('knn', lambda: ref.knn(F, y)))
            if full:
                runs.append(('knn[xfer]', lambda: ref.knn(F, y, exclude='index', vote='mode', upcast=True)))
        runs.append(('linear', lambda: ref.linear(F, y)))
        runs.append(('linear[conv]', lambda: ref.linear(F, y, max_iter=1000, tol=1e-6, upcast=True)))
        if N < 20000:
            runs.append(('parc', lambda: ref.parc(F, y, num_classes=C)))
            if full:
                runs.append(('parc[xfer]', lambda: ref.parc(F, y, num_classes=C, pca='exact', label_rdm='exact',
                                                            feat_rdm='float32', upcast=True)))
        for name, fn in runs:
            s, w, c = timed(fn, reps)
            print('%6d %5d %4d %-16s %12.6f %10.4f %10.4f' % (N, D, C, name, s, w, c), flush=True)


if __name__ == '__main__':
    main()
