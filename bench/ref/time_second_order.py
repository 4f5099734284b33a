"""Time the Python references of bench/ref/ref_second_order.py on the inputs bench/est_second_order wrote.

    build/bench/est_second_order N D C threads reps DIR     # writes DIR/F.npy, DIR/y.npy
    /usr/bin/python3 bench/ref/time_second_order.py DIR [skip,...]

Prints seconds (one run; numba's compile cost of the published LogME is not counted,
numpy runs un-jitted) and scores per reference. `skip` names references not to run
(e.g. transrate when its estimated cost is > 60 s)."""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_second_order as R  # noqa: E402

d = sys.argv[1]
skip = set(sys.argv[2].split(',')) if len(sys.argv) > 2 else set()
F = np.load(os.path.join(d, 'F.npy'))
y = np.load(os.path.join(d, 'y.npy'))
print('# N=%d D=%d C=%d' % (F.shape[0], F.shape[1], int(y.max() + 1)))
for name, fn in [('logme', R.logme), ('logme_published', R.logme_published), ('hscore', R.hscore),
                 ('hscore_shrink', R.hscore_shrink), ('transrate', R.transrate),
                 ('transrate_tllib', R.transrate_tllib), ('gbc', R.gbc)]:
    if name in skip:
        print('%-16s skipped' % name)
        continue
    t0 = time.perf_counter()
    s = fn(F, y)
    print('%-16s %9.3f s  score %.10g' % (name, time.perf_counter() - t0, s), flush=True)
