"""Times bench/ref/ref_leep_lda.py on the inputs bench/est_leep_lda.c wrote (--write DIR).

    OPENBLAS_NUM_THREADS=1 python3 bench/ref/time_leep_lda.py DIR [sizes] [methods]

Each (size, method) runs in a child process killed after 90 s ("> 90").
Prints wall and process-CPU seconds (the machine may be shared: CPU time is the steadier
figure with one BLAS thread). The C figures include xf_est_run's input checks; these do
not include np.load.
"""
import multiprocessing as mp
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import ref_leep_lda as R  # noqa: E402


def one(d, s, m, q):
    F = np.load(f'{d}/s{s}_F.npy')
    y = np.load(f'{d}/s{s}_y.npy').astype(np.int64)
    P = np.load(f'{d}/s{s}_P.npy') if m in ('leep', 'nce') else None
    t0, c0 = time.perf_counter(), time.process_time()
    if m == 'leep':
        v = R.leep(P.astype(np.float64), y)
    elif m == 'nce':
        v = R.nce(P, y)
    elif m == 'nleep':
        v, gm, Xp = R.nleep(F, y, seed=0, return_gmm=True)
        print(f'  # nleep: PCA d = {Xp.shape[1]}, K = {gm.n_components}, EM iterations {gm.n_iter_}', flush=True)
    elif m == 'sfda':
        v = R.sfda(F, y)
    elif m == 'ncti':
        t = R.ncti_terms(F, y)
        v = t[1] + t[0] - t[2]
    else:
        t = R.etran_terms(F, y)
        v = 0.15 * t[0] + 0.85 * t[1]
    q.put((time.perf_counter() - t0, time.process_time() - c0, float(v)))


if __name__ == '__main__':
    d = sys.argv[1]
    sizes = sys.argv[2].split(',') if len(sys.argv) > 2 else ['0', '1', '2', '3']
    methods = sys.argv[3].split(',') if len(sys.argv) > 3 else ['leep', 'nce', 'nleep', 'sfda', 'ncti', 'etran']
    for s in sizes:
        for m in methods:
            q = mp.Queue()
            p = mp.Process(target=one, args=(d, s, m, q))
            p.start()
            p.join(90)
            if p.is_alive():
                p.terminate()
                p.join()
                print(f'{s} {m} >90', flush=True)
            else:
                t, c, v = q.get()
                print(f'{s} {m} wall {t:.4f} cpu {c:.4f} score {v:.10g}', flush=True)
