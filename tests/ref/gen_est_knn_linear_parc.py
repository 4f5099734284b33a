#!/usr/bin/python3
"""Writes fixtures for tests/unit/test_est_knn_linear_parc.c: the knn, linear and parc estimators
against the Python reference bench/ref/ref_knn_linear_parc.py (numpy / scipy / scikit-learn).

Each case: est_knn_linear_parc/<name>_F.npy (float32 features), est_knn_linear_parc/<name>_y.npy (int64 raw labels,
deliberately not 0..C-1 in some cases: the test maps them with xf_labels_densify),
optionally est_knn_linear_parc/<name>_Y.npy (float32 multi-hot targets), and one line of
est_knn_linear_parc/cases.txt: "<name> <method> <params or -> <expected score %.17g>".

Reference settings for agreement to 1e-6 (see docs/ESTIMATORS.md):
  - exact PCA (svd_solver='full') instead of the published randomized one;
  - float64 arithmetic (upcast=True);
  - knn: sample excluded by index, distance ties by lower index, vote ties by the
    smallest label (xfer's documented rules);
  - parc: exact label RDM (label_rdm='exact'), D_f = 1 - float32(corr) (feat_rdm='float32');
  - linear: sklearn lbfgs run to convergence (max_iter=1000, tol=1e-10); xfer is run with
    the same max_iter/tol.
  - linear with PARC's settings (xfer's defaults, max_iter=20, tol=0.1): sklearn's own fit,
    with its coefficients and test predictions (est_knn_linear_parc/lin20_cases.txt, checked by
    tests/unit/test_est_linear.c).
Run: /usr/bin/python3 tests/ref/gen_est_knn_linear_parc.py   (from the repository root)
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'bench', 'ref'))
import ref_knn_linear_parc as ref  # noqa: E402

OUT = os.path.join(ROOT, 'tests', 'ref', 'est_knn_linear_parc')


def data(seed, N, D, C, sep=1.0, raw=None, balanced=True):
    """Class-clustered Gaussian features with a decaying spectrum (well separated PCA
    eigenvalues), labels round-robin (as PARC's probe order) unless balanced=False."""
    rng = np.random.default_rng(seed)
    y = np.arange(N) % C if balanced else rng.integers(0, C, N)
    scale = 1.0 / (1.0 + 0.15 * np.arange(D))
    means = rng.normal(size=(C, D)) * sep
    F = (means[y] + rng.normal(size=(N, D))) * scale
    F = F.astype(np.float32)
    if raw is not None:
        y = np.asarray(raw)[y]
    return F, y.astype(np.int64)


def dense(y):
    return np.unique(y, return_inverse=True)[1]


cases = []


def add(name, method, params, F, y, Y=None, **kw):
    np.save(os.path.join(OUT, name + '_F.npy'), F)
    np.save(os.path.join(OUT, name + '_y.npy'), y)
    if Y is not None:
        np.save(os.path.join(OUT, name + '_Y.npy'), Y.astype(np.float32))
    Fd = F.astype(np.float64)
    yd = dense(y)
    if method == 'knn':
        s = ref.knn(Fd, yd, exclude='index', vote='mode', pca='exact', **kw)
    elif method == 'linear':
        s = ref.linear(Fd, yd, pca='exact', max_iter=1000, tol=1e-10, **kw)
    else:
        s = ref.parc(Fd, yd, pca='exact', label_rdm='exact', feat_rdm='float32', Y=Y, num_classes=int(yd.max()) + 1, **kw)
    cases.append('%s %s %s %.17g' % (name, method, params if params else '-', s))
    print(cases[-1])


os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))

# ---- knn ----
F, y = data(1, 90, 24, 4, sep=0.5)
add('knn_basic', 'knn', '', F, y)
add('knn_k3', 'knn', 'k=3', F, y, k=3)
add('knn_k4_cos', 'knn', 'k=4,metric=cosine', F, y, k=4, metric='cosine')
F, y = data(2, 30, 120, 3, sep=0.4, raw=[3, 7, 10])  # N < D, raw labels not 0..C-1
add('knn_n_lt_d', 'knn', '', F, y)
F, y = data(3, 50, 16, 2, sep=0.4, raw=[-5, 9])  # C = 2
add('knn_c2', 'knn', 'k=5', F, y, k=5)
F, y = data(4, 41, 12, 4, sep=0.6)
y[40] = 99  # a class with one sample
add('knn_single', 'knn', '', F, y)
F, y = data(5, 60, 20, 3, sep=0.3, balanced=False)
F[30:40] = F[0:10]  # duplicate rows (exact ties at distance 0), some with other labels
y[35:40] = (y[5:10] + 1) % 3
add('knn_dups', 'knn', '', F, y)
add('knn_dups_k3', 'knn', 'k=3', F, y, k=3)
F, y = data(6, 70, 20, 5, sep=0.5)
F[:, 3] = 2.5
F[:, 7] = 0.0  # constant features
add('knn_const', 'knn', '', F, y)
F, y = data(7, 80, 40, 4, sep=0.4)
add('knn_pca', 'knn', 'dims=6', F, y, dims=6)

# ---- linear ----
F, y = data(11, 120, 20, 4, sep=0.35)
add('lin_basic', 'linear', 'max_iter=1000,tol=1e-10', F, y)
add('lin_c01', 'linear', 'max_iter=1000,tol=1e-10,C=0.05', F, y, C=0.05)
add('lin_folds', 'linear', 'max_iter=1000,tol=1e-10,folds=4', F, y, folds=4)
add('lin_pca', 'linear', 'max_iter=1000,tol=1e-10,dims=5', F, y, dims=5)
F, y = data(12, 50, 100, 3, sep=0.25, raw=[2, 4, 8])  # N < D
add('lin_n_lt_d', 'linear', 'max_iter=1000,tol=1e-10', F, y)
F, y = data(13, 61, 10, 2, sep=0.3)  # C = 2, odd N (train = first 31 rows)
add('lin_c2', 'linear', 'max_iter=1000,tol=1e-10', F, y)
F, y = data(14, 80, 12, 4, sep=0.5)
y[41:] = np.where(y[41:] == 3, 1, y[41:])
y[50] = 3  # class 3 appears only in the test half (xfer, like sklearn, cannot predict it)
y[2] = 7   # a class with one sample, in the train half
add('lin_absent', 'linear', 'max_iter=1000,tol=1e-10', F, y)
F, y = data(15, 60, 20, 3, sep=0.3)
F[:, 4] = 1.0  # constant feature
F[30:40] = F[0:10]  # duplicates across the halves
add('lin_const_dups', 'linear', 'max_iter=1000,tol=1e-10', F, y)

# ---- parc ----
F, y = data(21, 100, 48, 5, sep=0.4)
add('parc_basic', 'parc', '', F, y, dims=32)
add('parc_nopca', 'parc', 'dims=0', F, y, dims=0)
add('parc_d8', 'parc', 'dims=8', F, y, dims=8)
F, y = data(22, 45, 100, 3, sep=0.3, raw=[10, 20, 30])  # N < D
add('parc_n_lt_d', 'parc', '', F, y, dims=32)
F, y = data(23, 24, 60, 3, sep=0.3)  # N <= dims: xfer keeps min(N - 1, D) = 23 components
add('parc_small_n', 'parc', '', F, y, dims=23)
F, y = data(24, 60, 30, 2, sep=0.3)  # C = 2
add('parc_c2', 'parc', '', F, y, dims=30)  # clamped to D = 30
F, y = data(25, 61, 40, 4, sep=0.4)
y[60] = 42  # a class with one sample
add('parc_single', 'parc', 'dims=16', F, y, dims=16)
F, y = data(26, 70, 40, 4, sep=0.3)
F[50:60] = F[0:10]  # duplicate rows
add('parc_dups', 'parc', 'dims=16', F, y, dims=16)
F, y = data(27, 70, 40, 4, sep=0.3)
F[:, 0] = 3.0
F[:, 5] = -1.0  # constant features
add('parc_const', 'parc', 'dims=0', F, y, dims=0)
add('parc_const_pca', 'parc', 'dims=16', F, y, dims=16)
rng = np.random.default_rng(28)
F, y = data(28, 60, 30, 5, sep=0.4)
Y = (rng.random((60, 5)) < 0.35).astype(np.float64)
Y[np.arange(60), y] = 1
Y[Y.sum(axis=1) == 5, 0] = 0  # no constant rows
add('parc_multi', 'parc', 'dims=16', F, y, Y=Y, dims=16)

# ---- linear with PARC's settings (the defaults): sklearn's own 20-iteration fit ----
# est_knn_linear_parc/lin20_cases.txt: "<name> <params or -> <score %.17g> <n_iter>"; <name>_coef.npy
# (K, D + 1) float64 = [coef_ | intercept_] over the K training classes (ascending);
# <name>_pred.npy: sklearn's predicted dense labels of the test half (or of fold 0).
import sklearn.linear_model  # noqa: E402

lin20 = []


def add20(name, F, y, params='-', C=1.0, folds=0, dims=None):
    np.save(os.path.join(OUT, name + '_F.npy'), F)
    np.save(os.path.join(OUT, name + '_y.npy'), y)
    yd = dense(y)
    Fd = ref.feature_reduce(F.astype(np.float64), dims, 'exact')
    n = Fd.shape[0]
    if folds:
        te = np.zeros(n, bool)
        te[0:n // folds] = True
    else:
        te = np.arange(n) >= n - n // 2
    lr = sklearn.linear_model.LogisticRegression(multi_class='multinomial', solver='lbfgs', C=C, max_iter=20,
                                                 tol=0.1, random_state=0).fit(Fd[~te], yd[~te])
    pred = lr.predict(Fd[te])
    coef = np.hstack([lr.coef_, lr.intercept_[:, None]])
    if coef.shape[0] == 1:  # sklearn folds binary multinomial to one row: W1 = -W0 of the K = 2 fit
        coef = np.vstack([-coef, coef]) / 1.0
    np.save(os.path.join(OUT, name + '_coef.npy'), coef)
    np.save(os.path.join(OUT, name + '_pred.npy'), pred.astype(np.int64))
    s = ref.linear(F.astype(np.float64), yd, C=C, dims=dims, pca='exact', folds=folds)  # PARC's defaults
    if not folds:
        assert s == 100 * (pred == yd[te]).mean()
    lin20.append('%s %s %.17g %d' % (name, params, s, lr.n_iter_[0]))
    print('lin20', lin20[-1])


F, y = data(31, 200, 30, 5, sep=0.3)
add20('l20_basic', F, y)
add20('l20_reg', F, y, 'C=0.5', C=0.5)
add20('l20_folds', F, y, 'folds=3', folds=3)
add20('l20_pca', F, y, 'dims=8', dims=8)
F, y = data(32, 60, 150, 4, sep=0.2, raw=[3, 5, 9, 11])  # N < D
add20('l20_n_lt_d', F, y)
F, y = data(33, 81, 16, 2, sep=0.15)  # two classes, odd N
add20('l20_c2', F, y)
F, y = data(34, 100, 24, 4, sep=0.3)
y[51:] = np.where(y[51:] == 3, 1, y[51:])
y[60] = 3  # class 3 only in the test half
add20('l20_absent', F, y)
F, y = data(35, 400, 128, 12, sep=0.12)
add20('l20_wide', F, y)
F, y = data(36, 300, 64, 3, sep=0.05)  # hard: 20 iterations far from the optimum
add20('l20_hard', F, y, 'C=2', C=2.0)
F, y = data(37, 600, 96, 10, sep=0.1)
add20('l20_big', F, y)

with open(os.path.join(OUT, 'lin20_cases.txt'), 'w') as f:
    f.write('\n'.join(lin20) + '\n')

with open(os.path.join(OUT, 'cases.txt'), 'w') as f:
    f.write('\n'.join(cases) + '\n')
