"""Fixtures for tests/unit/test_est_second_order.c: logme, hscore, hscore-shrink, transrate, gbc.

Run from the repository root with /usr/bin/python3 (numpy 1.24, scipy 1.10, sklearn 1.2):
    /usr/bin/python3 tests/ref/gen_est_second_order.py
Writes tests/ref/est_second_order/<case>_F.npy (float32, N x D), <case>_y.npy (int32) and
<case>_expect.npy (float64, one value per entry of KEYS below, NaN where not computed).
The expected values come from bench/ref/ref_second_order.py (independent numpy/scipy/sklearn
code mirroring the published implementations).
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'bench', 'ref'))
import ref_second_order as R  # noqa: E402

KEYS = [
    'logme', 'logme_published', 'logme_maxev',
    'hscore_tllib', 'hscore_exact', 'hscore_std', 'hscore_pca8',
    'hscore_shrink',
    'transrate_paper', 'transrate_paper_exact', 'transrate_tllib',
    'gbc', 'gbc_published', 'gbc_diag', 'gbc_raw', 'gbc_raw_diag',
    'logme_icml',
]


def transrate_paper_exact(F, y, eps=1e-4):
    """The paper's TransRate with each logdet from the singular values of Z (no D x D
    LU): sum log1p(c s^2). Independent of both the published D x D slogdet and the C
    code's Cholesky of the smaller Gram; accurate when c s^2 spans many decades."""
    z = F.astype(np.float64)
    z = z - z.mean(0, keepdims=True)
    n, d = z.shape

    def rate(zz, scale):
        s = np.linalg.svd(zz, compute_uv=False)
        return 0.5 * np.sum(np.log1p(scale * s * s))
    r = rate(z, d / (n * eps * eps))
    for c in range(int(y.max() + 1)):
        zc = z[y == c]
        if zc.shape[0]:
            r -= zc.shape[0] / n * rate(zc, d / (zc.shape[0] * eps * eps))
    return float(r)


def logme_maxev(F, y):
    """LogME from its definition, independent of the fixed point and of the rank handling:
    maximise the exact log evidence over (log alpha, log beta) with scipy, per class, with
    log|A| = sum over all D eigenvalues of A = alpha I + beta F^T F (full D x D eigh, zeros
    included) and m, ||Fm - y|| from the same eigenbasis. The fixed point stops at a
    relative step of 1e-3, so agreement is to ~1e-4, not to rounding."""
    from scipy.optimize import minimize
    f = F.astype(np.float64)
    N, D = f.shape
    lam, V = np.linalg.eigh(f.T @ f)
    lam = np.maximum(lam, 0)
    out = []
    for c in range(int(y.max() + 1)):
        yc = (y == c).astype(np.float64)
        b0 = V.T @ (f.T @ yc)

        def neg(p):
            a, b = np.exp(p)
            m = V @ (b * b0 / (a + b * lam))
            r = f @ m - yc
            ev = (D / 2 * np.log(a) + N / 2 * np.log(b) - N / 2 * np.log(2 * np.pi) - b / 2 * r @ r
                  - a / 2 * m @ m - 0.5 * np.sum(np.log(a + b * lam)))
            return -ev / N
        out.append(-minimize(neg, [0.0, 0.0], method='Nelder-Mead',
                             options={'xatol': 1e-10, 'fatol': 1e-13, 'maxiter': 4000}).fun)
    return float(np.mean(out))


def expect(F, y):
    v = {}
    v['logme_maxev'] = logme_maxev(F, y)
    v['logme_icml'] = R.logme_icml(F, y)
    v['logme'] = R.logme(F, y)
    v['logme_published'] = R.logme_published(F, y)
    v['hscore_tllib'] = R.hscore(F, y)
    v['hscore_exact'] = R.hscore_exact(F, y)
    v['hscore_std'] = R.hscore_exact(F, y, standardize=1)
    v['hscore_pca8'] = R.hscore_exact(F, y, dims=8)
    v['hscore_shrink'] = R.hscore_shrink(F, y)
    v['transrate_paper'] = R.transrate(F, y)
    v['transrate_paper_exact'] = transrate_paper_exact(F, y)
    v['transrate_tllib'] = R.transrate_tllib(F, y)
    v['gbc'] = R.gbc(F, y)
    v['gbc_published'] = R.gbc(F, y, variant='published')
    v['gbc_diag'] = R.gbc(F, y, gaussian='diagonal')
    v['gbc_raw'] = R.gbc(F, y, dims=0)
    v['gbc_raw_diag'] = R.gbc(F, y, gaussian='diagonal', dims=0)
    return np.array([v[k] for k in KEYS], dtype=np.float64)


def cases():
    out = {}
    out['tall'] = R.make_data(200, 50, 4, seed=1)            # N > D
    out['wide'] = R.make_data(60, 100, 4, seed=2)            # N < D
    out['wide10'] = R.make_data(100, 300, 10, seed=3, sep=0.5)  # N < D, more classes
    out['c2tall'] = R.make_data(80, 20, 2, seed=4)           # C = 2
    out['c2wide'] = R.make_data(40, 120, 2, seed=5)          # C = 2, N < D
    F, y = R.make_data(100, 30, 5, seed=6)                   # a class with one sample
    y = y.copy()
    y[y == 4] = 3
    y[7] = 4
    out['single'] = (F, y)
    F, y = R.make_data(30, 40, 3, seed=7)                    # duplicate rows: N = 60 > D, rank 30
    out['dup'] = (np.vstack([F, F]), np.concatenate([y, y]))
    F, y = R.make_data(120, 30, 3, seed=8)                   # five constant features
    F = F.copy()
    F[:, :5] = 2.5
    out['const'] = (F, y)
    F, y = R.make_data(25, 60, 3, seed=9)                    # N < D with duplicate rows
    out['dupwide'] = (np.vstack([F, F[:10]]), np.concatenate([y, y[:10]]))
    return out


def main():
    d = os.path.join(HERE, 'est_second_order')
    os.makedirs(d, exist_ok=True)
    for name, (F, y) in cases().items():
        F = np.ascontiguousarray(F, dtype=np.float32)
        y = np.ascontiguousarray(y, dtype=np.int32)
        e = expect(F, y)
        np.save(os.path.join(d, name + '_F.npy'), F)
        np.save(os.path.join(d, name + '_y.npy'), y)
        np.save(os.path.join(d, name + '_expect.npy'), e)
        print(name, F.shape, ' '.join('%s=%.10g' % (k, x) for k, x in zip(KEYS, e)))


if __name__ == '__main__':
    main()
