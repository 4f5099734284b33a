"""Which reference Python function the estimator benchmark times for each xfer method.

Each entry: name -> (fn(F, y, P) -> score, runs(N, D) -> bool or None). The references
(bench/ref/ref_*.py) follow the published implementations (dbolya/parc, thuml/LogME,
tllib, google-research stable_transfer, TencentARC/SFDA, NCTI, ETran). Where the
published code uses a randomized PCA, the benchmark calls it with the exact solver so
the scores are comparable with xfer's default exact PCA (time is nearly the same).
`runs` skips cases the reference cannot do here in reasonable time or memory."""
import ref_knn_linear_parc as A
import ref_leep_lda as C

BENCH = {
    "knn": (lambda F, y, P: A.knn(F, y), lambda n, d: n <= 20000),
    "linear": (lambda F, y, P: A.linear(F, y), None),
    # PARC's n x n float64 RDMs and the 2e8-pair spearmanr need > 20 GB at N = 20000
    "parc": (lambda F, y, P: A.parc(F, y, dims=32, pca="full"), lambda n, d: n <= 5000),
    "leep": (lambda F, y, P: C.leep(P, y), None),
    "nce": (lambda F, y, P: C.nce(P, y), None),
    "nleep": (lambda F, y, P: C.nleep(F, y, seed=0), lambda n, d: n * d <= 20000 * 512),
    "sfda": (lambda F, y, P: C.sfda(F, y), None),
    # single-model scores: the raw combinations of the terms (docs/ESTIMATORS.md)
    "ncti": (lambda F, y, P: (lambda t: t[1] + t[0] - t[2])(C.ncti_terms(F, y)), None),
    "etran": (lambda F, y, P: (lambda t: 0.15 * t[0] + 0.85 * t[1])(C.etran_terms(F, y)), None),
}

try:
    import ref_second_order as B  # noqa: E402
    for name, fn in [("logme", "logme"), ("hscore", "hscore"), ("hscore-shrink", "hscore_shrink"),
                     ("transrate", "transrate"), ("gbc", "gbc")]:
        if hasattr(B, fn):
            BENCH[name] = ((lambda f: lambda F, y, P: f(F, y))(getattr(B, fn)), None)
except ImportError:
    pass
