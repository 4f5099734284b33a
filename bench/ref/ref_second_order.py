"""Python references for xfer's estimators logme, hscore, hscore-shrink, transrate, gbc.

Written for xfer (own code) to mirror the ALGORITHMS of the published implementations,
so that (a) tests/ref/gen_est_second_order.py can write fixtures the C code is checked against and
(b) bench/est_second_order.c's figures can be compared with what the published code costs:

  logme_published  thuml/LogME LogME.py `_fit_fixed_point` as released (float64, eig of
                   F^T F when N > D, thin SVD otherwise, MacKay fixed point, 11 iterations,
                   tol 1e-3). Wrong when N < D (thuml/LogME#23): log|A| sums over k <= N
                   terms instead of D.
  logme            the same with the fix of thuml/LogME#24 (sigma padded with zeros to D in
                   the evidence), plus a relative numerical-rank cut (eigenvalues of F^T F
                   below lambda_max * max(N, D) * eps count as 0; only matters for
                   numerically rank-deficient F, where the published code divides rounding
                   noise by rounding noise).
  hscore           tllib `h_score`: np.cov (ddof 1), pinv(cov_f, rcond=1e-15) on the D x D
                   covariance.
  hscore_exact     the same quantity through the thin SVD of the centred features with a
                   numerical-rank floor; used for fixtures where the D x D pinv is rounding
                   noise (N <= D).
  hscore_shrink    tllib `regularized_h_score`: sklearn LedoitWolf on centred features,
                   (1 - shrinkage) * cov(E[f|y]), pinv(rcond=1e-15).
  transrate        the paper's definition (Huang et al. ICML 2022, Sec. 3):
                   R(Z, eps) = 1/2 logdet(I + d/(n eps^2) Z^T Z), R(Z, eps | Y) =
                   sum_c n_c/n R(Z_c, eps), Z centred; D x D slogdet as the published code.
  transrate_tllib  tllib `transrate`: 1/(n eps) scaling, uniform average over classes.
  gbc              google-research stable_transfer gbc.py in numpy (float64): sklearn
                   PCA(dims, svd_solver='full'), per-class mean and population variance
                   floored at 1e-4, Bhattacharyya distance, -sum_{c1 != c2} exp(-D_B).
                   variant='paper' multiplies the log term of the spherical case by the
                   dimension (the Bhattacharyya distance of N(mu, s I_k) Gaussians);
                   variant='published' keeps stable_transfer's single log term.
"""
import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA


# ---------------------------------------------------------------- LogME
def _truncated_svd(x):
    # as thuml/LogME truncated_svd: SVD of x^T x, sigma = sqrt, keep sigma > 1e-10
    u, s, vh = np.linalg.svd(x.T @ x)
    s = np.sqrt(s)
    u_times_sigma = x @ vh.T
    k = int(np.sum(s > 1e-10))
    s = s[:k]
    vh = vh[:k]
    u = u_times_sigma[:, :k] / s.reshape(1, -1)
    return u, s, vh


def _logme_core(f, y, pad, rank_cut, tol=1e-3, max_iter=11):
    f = f.astype(np.float64)
    N, D = f.shape
    if N > D:
        u, s, vh = _truncated_svd(f)
    else:
        u, s, vh = np.linalg.svd(f, full_matrices=False)
    if rank_cut and s.size:
        lam = s ** 2
        keep = lam > lam.max() * max(N, D) * np.finfo(np.float64).eps
        if N > D:  # directions without a column of F carry no z: drop them
            u, s = u[:, keep], s[keep]
        else:      # exact zeros (the thin SVD's null columns stay in u)
            s = np.where(keep, s, 0.0)
    sigma = (s ** 2).reshape(-1, 1)
    k = sigma.shape[0]
    sigma_ev = np.vstack([sigma, np.zeros((D - k, 1))]) if (pad and D > k) else sigma
    C = int(y.max() + 1)
    evs = []
    for c in range(C):
        y_ = (y == c).astype(np.float64).reshape(-1, 1)
        x = u.T @ y_
        x2 = x ** 2
        res_x2 = (y_ ** 2).sum() - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * x2 / ((t + sigma) ** 2)).sum()
            res2 = (x2 / ((1 + sigma / t) ** 2)).sum() + res_x2
            alpha = gamma / (m2 + 1e-5)
            beta = (N - gamma) / (res2 + 1e-5)
            t_ = alpha / beta
            if abs(t_ - t) / t <= tol:
                break
        ev = (D / 2.0 * np.log(alpha) + N / 2.0 * np.log(beta)
              - 0.5 * np.sum(np.log(alpha + beta * sigma_ev))
              - beta / 2.0 * res2 - alpha / 2.0 * m2 - N / 2.0 * np.log(2 * np.pi))
        evs.append(ev / N)
    return float(np.mean(evs))


def logme_icml(F, y):
    """thuml/LogME `_fit_icml` with `each_evidence`: full SVD of the D x D F^T F."""
    f = F.astype(np.float64)
    fh = f
    f = f.T
    D, N = f.shape
    v, s, vh = np.linalg.svd(f @ fh, full_matrices=True)
    evs = []
    for c in range(int(y.max() + 1)):
        y_ = (y == c).astype(np.float64)
        epsilon = 1e-5
        alpha, beta = 1.0, 1.0
        lam = alpha / beta
        tmp = vh @ (f @ y_)
        for _ in range(11):
            gamma = (s / (s + lam)).sum()
            m = v @ (tmp * beta / (alpha + beta * s))
            alpha_de = (m * m).sum()
            alpha = gamma / (alpha_de + epsilon)
            beta_de = ((y_ - fh @ m) ** 2).sum()
            beta = (N - gamma) / (beta_de + epsilon)
            new_lam = alpha / beta
            if np.abs(new_lam - lam) / lam < 0.01:
                break
            lam = new_lam
        ev = (D / 2.0 * np.log(alpha) + N / 2.0 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * s))
              - beta / 2.0 * (beta_de + epsilon) - alpha / 2.0 * (alpha_de + epsilon) - N / 2.0 * np.log(2 * np.pi))
        evs.append(ev / N)
    return float(np.mean(evs))


def logme_published(F, y):
    return _logme_core(F, y, pad=False, rank_cut=False)


def logme(F, y):
    return _logme_core(F, y, pad=True, rank_cut=True)


# ---------------------------------------------------------------- H-score
def _class_mean_matrix(f, y):
    g = np.zeros_like(f)
    for c in range(int(y.max() + 1)):
        if np.any(y == c):
            g[y == c] = np.mean(f[y == c, :], axis=0)
    return g


def _preprocess(F, dims=0, standardize=0):
    f = F.astype(np.float64)
    if dims and dims > 0:
        k = min(dims, f.shape[0], f.shape[1])
        f = PCA(n_components=k, svd_solver='full').fit_transform(f)
    if standardize:
        mu = f.mean(0)
        sd = f.std(0)
        sd[sd == 0] = 1.0
        f = (f - mu) / sd
    return f


def hscore(F, y, dims=0, standardize=0, rcond=1e-15):
    f = _preprocess(F, dims, standardize)
    covf = np.cov(f, rowvar=False)
    g = _class_mean_matrix(f, y)
    covg = np.cov(g, rowvar=False)
    return float(np.trace(np.dot(np.linalg.pinv(covf, rcond=rcond), covg)))


def hscore_exact(F, y, dims=0, standardize=0, rcond=1e-15):
    """tr(pinv(cov f) cov(E[f|y])) = ||P U_k||_F^2 with X_c = U S V^T (thin SVD of the
    centred features) and P the class-averaging projector; singular directions whose
    covariance eigenvalue is below max(rcond, max(N, D) eps) * largest count as null."""
    f = _preprocess(F, dims, standardize)
    x = f - f.mean(0)
    N, D = x.shape
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    lam = s ** 2
    cut = max(rcond, max(N, D) * np.finfo(np.float64).eps) * lam.max()
    u = u[:, lam > cut]
    h = 0.0
    for c in range(int(y.max() + 1)):
        m = y == c
        if m.any():
            h += (u[m].sum(0) ** 2).sum() / m.sum()
    return float(h)


def hscore_shrink(F, y):
    f = F.astype(np.float64)
    f = f - np.mean(f, axis=0, keepdims=True)
    cov = LedoitWolf(assume_centered=False).fit(f)
    alpha = cov.shrinkage_
    covf_alpha = cov.covariance_
    g = _class_mean_matrix(f, y)
    covg = np.cov(g, rowvar=False)
    return float(np.trace(np.dot(np.linalg.pinv(covf_alpha, rcond=1e-15), (1 - alpha) * covg)))


# ---------------------------------------------------------------- TransRate
def _rate(z, scale):
    n, d = z.shape
    _, r = np.linalg.slogdet(np.eye(d) + scale * z.T @ z)
    return 0.5 * r


def transrate(F, y, eps=1e-4):
    z = F.astype(np.float64)
    z = z - z.mean(0, keepdims=True)
    n, d = z.shape
    rz = _rate(z, d / (n * eps * eps))
    rzy = 0.0
    for c in range(int(y.max() + 1)):
        zc = z[y == c]
        if zc.shape[0]:
            rzy += zc.shape[0] / n * _rate(zc, d / (zc.shape[0] * eps * eps))
    return float(rz - rzy)


def transrate_tllib(F, y, eps=1e-4):
    z = F.astype(np.float64)
    z = z - z.mean(0, keepdims=True)
    n, d = z.shape
    rz = _rate(z, 1.0 / (n * eps))
    rzy = 0.0
    C = int(y.max() + 1)
    for c in range(C):
        zc = z[y == c]
        rzy += _rate(zc, 1.0 / (zc.shape[0] * eps))
    return float(rz - rzy / C)


# ---------------------------------------------------------------- GBC
def gbc(F, y, gaussian='spherical', dims=64, variant='paper'):
    f = F.astype(np.float64)
    if dims and dims > 0:
        k = min(dims, f.shape[0], f.shape[1])
        f = PCA(n_components=k, svd_solver='full').fit_transform(f)
    k = f.shape[1]
    stats = []
    for c in np.unique(y):
        fc = f[y == c]
        mu = fc.mean(0)
        var = np.maximum(fc.var(0), 1e-4)  # tf.math.reduce_variance: ddof 0
        if gaussian == 'spherical':
            var = np.array(var.mean())
        stats.append((mu, var))
    total = 0.0
    for i, (m1, s1) in enumerate(stats):
        for j, (m2, s2) in enumerate(stats):
            if i == j:
                continue
            avg = (s1 + s2) / 2
            first = np.sum((m1 - m2) ** 2 / avg) / 8
            second = np.sum(np.log(avg)) - 0.5 * np.sum(np.log(s1)) - 0.5 * np.sum(np.log(s2))
            if gaussian == 'spherical' and variant == 'paper':
                second *= k
            total += np.exp(-(first + 0.5 * second))
    return float(-total)


def make_data(N, D, C, seed=0, sep=1.0):
    """Class-clustered Gaussian features (float32) and labels, as bench/est_second_order.c."""
    rng = np.random.default_rng(seed)
    y = np.arange(N) % C
    rng.shuffle(y)
    centers = rng.standard_normal((C, D)) * sep
    F = centers[y] + rng.standard_normal((N, D))
    return F.astype(np.float32), y.astype(np.int32)
