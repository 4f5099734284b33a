"""Python references for xfer's knn, linear and parc estimators.

These follow the published implementation of Bolya et al. 2021 (dbolya/parc,
methods.py: kNN, SplitLogistic, PARC and feature_reduce) step by step with
numpy / scipy / scikit-learn, so that the benchmark times xfer against the code the
paper's numbers came from, and so that the test fixtures (tests/ref/gen_est_knn_linear_parc.py) come
from an independent implementation.

Published behaviour is the default. Switches exist only where xfer deliberately differs
(documented in docs/ESTIMATORS.md) so that the fixtures can state what xfer computes:
  - pca='exact' instead of the published randomized PCA (random_state=1919,
    iterated_power=1), so results are reproducible to 1e-6;
  - knn exclude='index' (drop the sample itself by index, ties by lower index) instead
    of dropping sort position 0; vote='mode' (smallest label wins a tie) instead of the
    published broadcast of the votes when every vote is distinct;
  - upcast=True computes in float64 (the published code keeps the caller's dtype).
"""
import numpy as np
import scipy.spatial.distance
import scipy.stats
import sklearn.decomposition
import sklearn.linear_model
import sklearn.metrics
import sklearn.preprocessing


def _prep(F, upcast):
    F = np.asarray(F)
    return F.astype(np.float64) if upcast else F


def feature_reduce(F, dims, pca='randomized', seed=1919):
    """PCA to dims components (None or 0: no reduction). Published: dims clamped to n,
    randomized solver, random_state=1919, iterated_power=1."""
    if not dims:
        return F
    if dims > F.shape[0]:
        dims = F.shape[0]
    if pca == 'randomized':
        p = sklearn.decomposition.PCA(n_components=dims, svd_solver='randomized', random_state=seed,
                                      iterated_power=1)
    else:
        p = sklearn.decomposition.PCA(n_components=dims, svd_solver='full')
    return p.fit_transform(F)


def knn(F, y, k=1, metric='l2', dims=None, pca='randomized', exclude='position', vote='published',
        upcast=False):
    """Leave-one-out k-NN accuracy in % (methods.kNN)."""
    F = feature_reduce(_prep(F, upcast), dims, pca)
    y = np.asarray(y)
    n = F.shape[0]
    dist = sklearn.metrics.pairwise_distances(F, metric=metric)
    if exclude == 'position':
        # published: the first index after sorting is assumed to be the sample itself
        idx = np.argsort(dist, axis=-1)[:, 1:k + 1]
    else:
        # xfer: the sample is excluded by index; equal distances: lower index first.
        # Distances computed pair by pair (cdist) so that duplicate rows are exact ties.
        m = {'l2': 'euclidean', 'euclidean': 'euclidean', 'cosine': 'cosine'}[metric]
        dist = scipy.spatial.distance.cdist(F, F, metric=m)
        np.fill_diagonal(dist, np.inf)
        idx = np.argsort(dist, axis=-1, kind='stable')[:, :k]
    votes = y[idx]
    if vote == 'published':
        preds, counts = scipy.stats.mode(votes, axis=1, keepdims=True)
        preds = preds.reshape(n, -1)
        counts = counts.reshape(n, -1)
        votes = votes.reshape(n, -1)
        preds = np.where(counts == 1, votes, preds)
        return 100 * (preds == y.reshape(n, -1)).mean()
    preds, _ = scipy.stats.mode(votes, axis=1, keepdims=True)  # ties: smallest label
    return 100 * (preds.reshape(n) == y).mean()


def split_data(data, percent_train=0.5):
    split = data.shape[0] - int(percent_train * data.shape[0])
    return data[:split], data[split:]


def linear(F, y, C=1.0, max_iter=20, tol=1e-1, dims=None, pca='randomized', folds=0, upcast=False):
    """Logistic-regression probe accuracy in % (methods.SplitLogistic): multinomial, lbfgs,
    first half of the probe trains, the second half tests. folds > 1: mean accuracy over
    contiguous folds (fold f tests rows [floor(f N / k), floor((f+1) N / k)))."""
    F = feature_reduce(_prep(F, upcast), dims, pca)
    y = np.asarray(y)

    def fit_score(trx, try_, tex, tey):
        lr = sklearn.linear_model.LogisticRegression(random_state=0, multi_class='multinomial', solver='lbfgs',
                                                     max_iter=max_iter, tol=tol, C=C).fit(trx, try_)
        return 100 * (lr.predict(tex) == tey).mean()

    if not folds or folds < 2:
        trx, tex = split_data(F)
        try_, tey = split_data(y)
        return fit_score(trx, try_, tex, tey)
    n = F.shape[0]
    accs = []
    for f in range(folds):
        a, b = (f * n) // folds, ((f + 1) * n) // folds
        m = np.ones(n, bool)
        m[a:b] = False
        accs.append(fit_score(F[m], y[m], F[~m], y[~m]))
    return float(np.mean(accs))


def _label_rdm_exact(Y):
    # corr of 0/1 rows from integer counts: (C n_ab - n_a n_b) / sqrt((C n_a - n_a^2)(C n_b - n_b^2))
    Y = np.asarray(Y, dtype=np.float64)
    C = Y.shape[1]
    nab = Y @ Y.T  # small integers: exact
    na = Y.sum(axis=1)
    v = C * na - na * na
    num = C * nab - na[:, None] * na[None, :]
    c = num / np.sqrt(v[:, None] * v[None, :])
    return 1 - c


def parc(F, y, dims=32, pca='randomized', Y=None, num_classes=None, upcast=False, label_rdm='published',
         feat_rdm='published'):
    """PARC (Bolya et al. 2021, Eq. 7-8; methods.PARC): PCA, StandardScaler, feature RDM
    1 - corrcoef, label RDM 1 - corrcoef(one-hot), 100 x Spearman of the upper triangles.
    Y: optional multi-hot (N, C) targets used as-is."""
    F = feature_reduce(_prep(F, upcast), dims, pca)
    if Y is None:
        y = np.asarray(y)
        C = num_classes if num_classes else int(y.max()) + 1
        labels = np.eye(C)[y]
    else:
        labels = np.asarray(Y)
    feats = sklearn.preprocessing.StandardScaler().fit_transform(F)
    if feat_rdm == 'published':
        rdm1 = 1 - np.corrcoef(feats)
    else:
        # xfer: D_f = 1 - float32(corr) in float32, so pairs whose correlations agree to
        # float32 precision (duplicate rows, +-1 ulp BLAS noise) are ties
        rdm1 = (np.float32(1) - np.corrcoef(feats).astype(np.float32)).astype(np.float64)
    rdm2 = 1 - np.corrcoef(labels) if label_rdm == 'published' else _label_rdm_exact(labels)
    iu = np.triu_indices(rdm1.shape[0], 1)
    return scipy.stats.spearmanr(rdm1[iu], rdm2[iu])[0] * 100
