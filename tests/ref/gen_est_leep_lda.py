"""Writes the fixtures of tests/unit/test_est_leep_lda.c from bench/ref/ref_leep_lda.py.

Run from the repository root: /usr/bin/python3 tests/ref/gen_est_leep_lda.py
Each case <name> gets <name>_F.npy (float32 N x D) and/or <name>_P.npy (float32 N x Z),
<name>_y.npy (int32) and <name>_expect.npy (float64, values listed below).
"""
import os
import sys

import numpy as np
from sklearn.mixture import GaussianMixture

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'bench', 'ref'))
import ref_leep_lda as R  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), 'est_leep_lda')
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261122)


def save(name, **arrs):
    for k, v in arrs.items():
        np.save(os.path.join(OUT, f'{name}_{k}.npy'), v)


def softmax(L):
    L = L - L.max(axis=1, keepdims=True)
    E = np.exp(L)
    return E / E.sum(axis=1, keepdims=True)


def clustered(N, D, C, sep=2.0, noise=1.0, scale=1.0):
    y = np.arange(N) % C
    rng.shuffle(y)
    M = rng.normal(size=(C, D)) * sep
    F = (M[y] + rng.normal(size=(N, D)) * noise) * scale
    return F.astype(np.float32), y.astype(np.int32)


# ---- LEEP / NCE: expect = [leep, leep_nolog, nce, nce_eps1e-5]
def pcase(name, P, y, C):
    P = P.astype(np.float32)
    P64 = P.astype(np.float64)
    e = [R.leep(P64, y, C=C), R.leep(P64, y, log=False, C=C), R.nce(P, y, C=C), R.nce(P, y, eps=1e-5, C=C)]
    save(name, P=P, y=y.astype(np.int32), expect=np.array(e, dtype=np.float64))


N, Z, C = 60, 10, 3
y = (np.arange(N) % C)
pcase('p_small', softmax(rng.normal(size=(N, Z)) * 2 + np.eye(Z)[y * 3] * 2), y, C)
N, Z, C = 100, 1000, 5
y = rng.integers(0, C, N)
pcase('p_z1000', softmax(rng.normal(size=(N, Z)) * 3), y, C)
# a source class with zero probability everywhere, C = 2, one-sample class, duplicate rows
N, Z, C = 41, 8, 3
y = np.r_[np.zeros(20, int), np.ones(20, int), [2]]
L = rng.normal(size=(N, Z)) * 2
L[:, 5] = -np.inf
P = softmax(L)
P[10] = P[11]
pcase('p_edge', P, y, C)
N, Z, C = 30, 4, 2
y = np.arange(N) % 2
P = np.full((N, Z), 0.25)          # all ties: argmax -> 0
P[::3] = softmax(rng.normal(size=(10, Z)))
pcase('p_ties', P, y, C)

# ---- feature estimators: expect = [sfda, sfda_exact_lambda, energy, lda_sfda, lda_released,
#                                     seli, ncc, log_vc]
def fcase(name, F, y):
    e = [R.sfda(F, y), R.sfda(F, y, power_iters=0)]
    e += list(R.etran_terms(F, y)) + [R.lda_score(F, y, 'released')]
    e += list(R.ncti_terms(F, y))
    save(name, F=F, y=y.astype(np.int32), expect=np.array(e, dtype=np.float64))
    return e


fcase('f_big', *clustered(150, 40, 4, sep=0.6))            # N > D, NCTI svd solver? (decided by variance)
fcase('f_wide', *clustered(50, 120, 3, sep=0.5))            # N < D
fcase('f_wide2', *clustered(60, 100, 3, sep=0.03, noise=0.3))   # N < D, overlapping: SFDA < 1
fcase('f_c2', *clustered(80, 16, 2, sep=0.4))               # C = 2
F, y = clustered(90, 24, 5, sep=0.5)
y[0] = 4; y[y == 4] = 3; y[0] = 4                           # class 4 has one sample
F[5] = F[6]; F[7] = F[6]                                    # duplicate rows
F[:, 3] = 1.5; F[:, 10] = 0.0                               # constant features
fcase('f_edge', F, y)
F, y = clustered(160, 80, 6, sep=0.5, scale=0.05)           # small variance: NCTI eigen solver
fcase('f_small', F, y)

# ---- NCTI / ETran banks: 4 models on the same labels
Fs = []
yb = None
for s in (0.3, 0.6, 1.0, 1.5):
    F, yb2 = clustered(120, 30, 4, sep=s)
    if yb is None:
        yb = yb2
    y = yb
    Fs.append(F)
for m in range(4):
    # reuse the same labels: regenerate features around those labels
    Mn = rng.normal(size=(4, 30)) * (0.3, 0.6, 1.0, 1.5)[m]
    Fs[m] = (Mn[yb] + rng.normal(size=(120, 30))).astype(np.float32)
    np.save(os.path.join(OUT, f'bank_F{m}.npy'), Fs[m])
np.save(os.path.join(OUT, 'bank_y.npy'), yb.astype(np.int32))
Tn = np.array([R.ncti_terms(F, yb) for F in Fs])
Te = np.array([R.etran_terms(F, yb) for F in Fs])
np.save(os.path.join(OUT, 'bank_expect.npy'),
        np.concatenate([Tn.ravel(), R.ncti_combine(Tn), Te.ravel(), R.etran_combine(Te)]))

# ---- N-LEEP EM core from given initial parameters (sklearn weights/means/precisions_init)
F, y = clustered(200, 3, 3, sep=1.5)
X = F.astype(np.float64)
K, d = 4, 3
w0 = np.full(K, 1.0 / K)
mu0 = X[rng.choice(len(X), K, replace=False)]
cov0 = np.array([np.eye(d) * (0.5 + k) for k in range(K)])
g = GaussianMixture(n_components=K, weights_init=w0, means_init=mu0, precisions_init=np.linalg.inv(cov0),
                    reg_covar=1e-6, tol=1e-3, max_iter=100).fit(X)
save('gmm', X=X, w0=w0, mu0=mu0, cov0=cov0, resp=g.predict_proba(X),
     expect=np.array([g.lower_bound_, g.n_iter_], dtype=np.float64))

# ---- N-LEEP end to end on well separated clusters (any initialisation finds them)
F, y = clustered(200, 20, 2, sep=6.0, noise=0.3)
s, gm, Xp = R.nleep(F, y, seed=0, return_gmm=True)
save('nleep_sep', F=F, y=y.astype(np.int32), expect=np.array([s, Xp.shape[1]], dtype=np.float64))
F, y = clustered(300, 12, 3, sep=1.0)
save('nleep_mix', F=F, y=y.astype(np.int32), expect=np.array([R.nleep(F, y, seed=s) for s in range(5)]))
print('wrote', len(os.listdir(OUT)), 'files to', OUT)
