#!/usr/bin/env python3
"""Writes fixtures for tests/unit/test_linalg.c with NumPy / SciPy / scikit-learn:
eigendecompositions, SVD, solves, covariance, StandardScaler, exact PCA (tall, wide,
variance fraction), ranks and the four correlation coefficients (SciPy semantics).
Run with /usr/bin/python3 (numpy 1.24, scipy 1.10, sklearn 1.2)."""
import os
import numpy as np
import scipy.linalg as sla
import scipy.stats as ss
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linalg")
os.makedirs(here, exist_ok=True)
rng = np.random.default_rng(20240611)


def save(name, a):
    np.save(os.path.join(here, name + ".npy"), np.ascontiguousarray(a))


# ---- dense linear algebra ----
M = rng.standard_normal((7, 7))
S = M @ M.T + 0.5 * np.eye(7)          # SPD
save("sym", S)
w, V = np.linalg.eigh(S)
save("sym_w", w)
save("sym_v", V)
Bm = rng.standard_normal((7, 7))
B = Bm @ Bm.T + 7 * np.eye(7)
save("gen_b", B)
gw, gV = sla.eigh(S, B)
save("gen_w", gw)
save("gen_v", gV)
A = rng.standard_normal((9, 5))
save("svd_a", A)
U, s, Vt = np.linalg.svd(A, full_matrices=False)
save("svd_s", s)
save("svd_u", U)
save("svd_vt", Vt)
save("svd_at_s", np.linalg.svd(A.T, compute_uv=False))
G = rng.standard_normal((6, 6))
R = rng.standard_normal((6, 3))
save("lu_a", G)
save("lu_b", R)
save("lu_x", np.linalg.solve(G, R))
Bspd = rng.standard_normal((7, 2))
save("spd_b", Bspd)
save("spd_x", np.linalg.solve(S, Bspd))
save("chol_l", np.linalg.cholesky(S))
save("logdet", np.array([np.linalg.slogdet(S)[1]]))

# ---- statistics ----
X = rng.standard_normal((25, 6)) * np.array([1, 2, 0.5, 3, 1, 1]) + 4
X[:, 4] = 2.5                            # a constant column
Xf = X.astype(np.float32)
save("stat_x", Xf)
Xd = Xf.astype(np.float64)
save("stat_mean", Xd.mean(axis=0))
save("stat_std", StandardScaler().fit_transform(Xd))
save("stat_cov1", np.cov(Xd, rowvar=False, ddof=1))
save("stat_cov0", np.cov(Xd, rowvar=False, ddof=0))


# ---- PCA (float32 data, computed by sklearn in float64 on the same values) ----
def lowrank(n, d, decay):
    Z = rng.standard_normal((n, d))
    scale = decay ** np.arange(d)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (Z * scale) @ Q.T + rng.standard_normal(d)


for name, n, d, k in [("tall", 200, 30, 8), ("wide", 40, 100, 10)]:
    Xp = lowrank(n, d, 0.8).astype(np.float32)
    save(f"pca_{name}_x", Xp)
    p = PCA(n_components=k, svd_solver="full").fit(Xp.astype(np.float64))
    save(f"pca_{name}_scores", p.transform(Xp.astype(np.float64)))
    full = PCA(svd_solver="full").fit(Xp.astype(np.float64))
    save(f"pca_{name}_evr", full.explained_variance_ratio_)
Xp = lowrank(300, 20, 0.85).astype(np.float32)
save("pca_frac_x", Xp)
p = PCA(n_components=0.8, svd_solver="full").fit(Xp.astype(np.float64))
save("pca_frac_scores", p.transform(Xp.astype(np.float64)))
# a clear spectral gap for the randomized solver: rank-6 signal + small noise
Z = rng.standard_normal((400, 6)) * np.array([10, 8, 6, 5, 4, 3.0])
W, _ = np.linalg.qr(rng.standard_normal((60, 6)))
Xg = (Z @ W.T + 0.01 * rng.standard_normal((400, 60))).astype(np.float32)
save("pca_gap_x", Xg)
p = PCA(n_components=6, svd_solver="full").fit(Xg.astype(np.float64))
save("pca_gap_scores", p.transform(Xg.astype(np.float64)))
save("pca_gap_evr", p.explained_variance_ratio_)

# ---- ranks and correlations ----
sets = {}
n = 60
xs, ys = [], []
a = rng.standard_normal(n)
xs.append(a); ys.append(a + 0.5 * rng.standard_normal(n))            # continuous
xs.append(rng.integers(0, 8, n).astype(float)); ys.append(rng.integers(0, 5, n).astype(float))  # ties
b = rng.integers(0, 3, n).astype(float)
xs.append(b); ys.append(-b + rng.integers(0, 2, n))                   # heavy ties, negative
c = rng.standard_normal(n)
xs.append(c); ys.append(-c ** 3)                                      # perfect anti-monotone
d = np.round(rng.standard_normal(n), 1)
xs.append(d); ys.append(np.round(d + rng.standard_normal(n), 1))      # rounded: some ties
e = rng.standard_normal(n)
xs.append(e); ys.append(np.where(np.arange(n) % 2 == 0, 1.0, 2.0) + 0 * e)  # y two-valued
sets["s60"] = (np.array(xs), np.array(ys))
n = 2000
f = rng.standard_normal(n)
g = rng.integers(0, 50, n).astype(float)
sets["s2000"] = (np.array([f, g]), np.array([f + rng.standard_normal(n), g + rng.integers(0, 20, n)]))
n = 7
sets["s7"] = (np.array([[1, 2, 3, 4, 5, 6, 7], [3, 1, 4, 1, 5, 9, 2.]]),
              np.array([[7, 6, 5, 4, 3, 2, 1.], [2, 7, 1, 8, 2, 8, 1.]]))
for name, (X2, Y2) in sets.items():
    save(f"corr_{name}_x", X2)
    save(f"corr_{name}_y", Y2)
    out = []
    for x, y in zip(X2, Y2):
        out.append([ss.pearsonr(x, y)[0], ss.spearmanr(x, y)[0], ss.kendalltau(x, y)[0],
                    ss.weightedtau(x, y)[0]])
    save(f"corr_{name}_expect", np.array(out))
    save(f"rank_{name}", np.array([ss.rankdata(x) for x in X2]))
# weightedtau ranks NaN below every number
xn = np.array([0.3, np.nan, 1.2, -0.5, np.nan, 2.0, 0.3, 1.1])
yn = np.array([1.0, 0.2, np.nan, -1.0, 0.5, 3.0, 0.1, 0.9])
save("wtau_nan_x", xn)
save("wtau_nan_y", yn)
save("wtau_nan_expect", np.array([ss.weightedtau(xn, yn)[0], ss.weightedtau(xn, -yn)[0]]))
