#!/usr/bin/env python3
"""Writes the fixtures of tests/unit/test_bench.c and tests/integration/bench.sh with
NumPy / SciPy (numpy 1.24, scipy 1.10), independently of xfer's C code:

bench/metric<k>_{x,y,expect}.npy
    one target: scores x, oracle y, and the 7 expected metrics
    [pearson, spearman, kendall, weighted_tau, top1, top3, regret] from scipy.stats
    (x100; NaN from a constant side written as 0, benchmark.h's rule) and top-k relative
    accuracy by brute force: the mean over every permutation of the models of the top-k
    of a stable sort by score (= uniformly random tie-breaking), for n <= 8.
bench/synth_{oracle,results}.csv, bench/synth_layers.csv, bench/synth_expect_<form>.npy
    a small benchmark: 2 runs x 3 targets x 6 models, 3 methods (ties, a constant column,
    an oracle of -1), aggregated as PARC's MetricEval (mean over targets per run, then
    mean and population std over runs), raw and with both capacity forms; each expect
    array is (M, 14): 7 means then 7 stds.
parc/heuristic_results.csv, parc/heuristic_expect.npy, parc/heuristic_expect_modes.npy
    PARC's "Heuristic" baseline on its controlled bank (parc/oracle_controlled.csv, the six
    default targets of constants.variables): the paper's formula l_s + ln(|D_s| + |D_t|)
    (column Heuristic) and the code's metrics.add_heuristic, layers + ln(src images) -
    ln(tgt images) (column "Heuristic (add_heuristic)"), from parc/models.csv and
    parc/datasets.csv; expect = mean Pearson x100 of both (scipy); expect_modes (4, 2):
    the same in Table 2's four evaluation modes (groups held constant: target;
    target+source; target+architecture; architecture+source).
"""
import csv
import itertools
import math
import os

import numpy as np
import scipy.stats as ss

root = os.path.dirname(os.path.abspath(__file__))
bdir = os.path.join(root, "bench")
pdir = os.path.join(root, "parc")
os.makedirs(bdir, exist_ok=True)
rng = np.random.default_rng(20261203)


def save(d, name, a):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(np.asarray(a, dtype=np.float64)))


def z0(v):
    return 0.0 if np.isnan(v) else float(v)


def topk_brute(x, y, k):
    n = len(x)
    k = min(k, n)
    tot = 0.0
    cnt = 0
    for perm in itertools.permutations(range(n)):
        order = sorted(perm, key=lambda i: -x[i])  # stable: ties keep the permutation's order
        tot += np.mean([y[i] for i in order[:k]])
        cnt += 1
    return tot / cnt


def topk_sorted(x, y, k):
    assert len(set(x)) == len(x), "brute force needed for ties"
    order = np.argsort(-np.asarray(x), kind="stable")
    return float(np.mean(np.asarray(y)[order[: min(k, len(x))]]))


def metrics(x, y):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = y > 0  # PARC metrics.pearson drops oracle <= 0
    x, y = x[keep], y[keep]
    with np.errstate(all="ignore"):
        import warnings
        warnings.simplefilter("ignore")
        p = z0(ss.pearsonr(x, y)[0])
        sp = z0(ss.spearmanr(x, y)[0])
        kt = z0(ss.kendalltau(x, y)[0])
        wt = z0(ss.weightedtau(x, y)[0])
    topk = topk_brute if len(x) <= 8 else topk_sorted
    best = y.max()
    t1 = topk(list(x), list(y), 1)
    t3 = topk(list(x), list(y), 3)
    return [100 * p, 100 * sp, 100 * kt, 100 * wt, 100 * t1 / best, 100 * t3 / best, best - t1]


# ---- single-target cases ----
cases = []
cases.append((rng.normal(size=12), rng.uniform(40, 90, 12)))                       # continuous, no ties
cases.append((np.round(rng.normal(size=8), 0), rng.uniform(40, 90, 8)))            # tied scores
cases.append((rng.normal(size=8), np.round(rng.uniform(40, 90, 8) / 10) * 10))     # tied oracle
cases.append((np.full(6, 0.3), rng.uniform(40, 90, 6)))                             # constant scores
cases.append((rng.normal(size=6), np.full(6, 71.5)))                                # constant oracle
y = rng.uniform(40, 90, 8); y[[1, 5]] = [-1.0, 0.0]
cases.append((rng.normal(size=8), y))                                               # oracle <= 0 rows dropped
cases.append((np.array([0.2, 0.7]), np.array([60.0, 50.0])))                        # n = 2
cases.append((np.array([1.0, 2.0, 2.0, 2.0, 0.5, 2.0, 0.1]), np.array([50, 70, 65, 80, 90, 55, 60.0])))  # 4-way tie at the top
cases.append((rng.normal(size=40), rng.uniform(40, 90, 40)))                        # larger
for k, (x, y) in enumerate(cases):
    save(bdir, "metric%d_x" % k, x)
    save(bdir, "metric%d_y" % k, y)
    save(bdir, "metric%d_expect" % k, metrics(x, y))

# ---- a small benchmark ----
archs = {"netA": 8, "netB": 50}
sources = ["src1", "src2", "src3"]
targets = ["tgt one", "tgt,two", "tgt3"]  # a space and a comma: quoting on the way
models = [(a, s) for a in archs for s in sources]
oracle = {}
for t in targets:
    for a, s in models:
        oracle[(a, s, t)] = round(float(rng.uniform(40, 95)), 2)
oracle[("netB", "src2", "tgt3")] = -1.0  # PARC's "no value"
methods = ["tied", "smooth", "flat"]
rows = []
for run in ["0", "1"]:
    for t in targets:
        for a, s in models:
            o = oracle[(a, s, t)]
            tied = float(round(o / 15))  # coarse: many ties
            smooth = 0.03 * o + float(rng.normal(0, 0.4))
            flat = 2.5 if t == "tgt one" else float(rng.normal())  # constant within one target
            rows.append([run, a, s, t, tied, smooth, flat])


def write_csv(path, header, body):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in body:
            w.writerow([repr(v) if isinstance(v, float) else v for v in r])


write_csv(os.path.join(bdir, "synth_oracle.csv"), ["Architecture", "Source Dataset", "Target Dataset", "Oracle"],
          [[a, s, t, oracle[(a, s, t)]] for (a, s, t) in oracle])
write_csv(os.path.join(bdir, "synth_results.csv"),
          ["Run", "Architecture", "Source Dataset", "Target Dataset"] + methods, rows)
write_csv(os.path.join(bdir, "synth_layers.csv"), ["Architecture", "Layers"], [[a, l] for a, l in archs.items()])


def aggregate(scores):
    """scores: per row (aligned with rows), one value per method -> (M, 14)."""
    M = scores.shape[1]
    out = np.zeros((M, 14))
    for m in range(M):
        per_run = []
        for run in ["0", "1"]:
            vals = []
            for t in targets:
                idx = [i for i, r in enumerate(rows) if r[0] == run and r[3] == t]
                x = [scores[i, m] for i in idx]
                y = [oracle[(rows[i][1], rows[i][2], t)] for i in idx]
                vals.append(metrics(x, y))
            per_run.append(np.mean(vals, axis=0))
        per_run = np.array(per_run)
        out[m, :7] = per_run.mean(axis=0)
        out[m, 7:] = per_run.std(axis=0)  # population std (PARC compute_variance)
    return out


raw = np.array([r[4:] for r in rows], float)
layers = np.array([archs[r[1]] for r in rows], float)
save(bdir, "synth_expect_raw", aggregate(raw))
# PARC metrics.add_plasticity: (v - mean) / std over ALL rows (pandas std: ddof 1) + layers / 50
glob = np.zeros_like(raw)
for m in range(raw.shape[1]):
    sd = raw[:, m].std(ddof=1)
    glob[:, m] = ((raw[:, m] - raw[:, m].mean()) / sd if sd > 0 else 0.0) + layers / 50
save(bdir, "synth_expect_capacity", aggregate(glob))
# the paper's Eq. 6: z within each (run, target) over the models with an oracle > 0
per = np.zeros_like(raw)
for run in ["0", "1"]:
    for t in targets:
        idx = [i for i, r in enumerate(rows) if r[0] == run and r[3] == t]
        use = [i for i in idx if oracle[(rows[i][1], rows[i][2], t)] > 0]
        for m in range(raw.shape[1]):
            mu, sd = raw[use, m].mean(), raw[use, m].std(ddof=1)
            for i in idx:
                per[i, m] = ((raw[i, m] - mu) / sd if sd > 0 else 0.0) + layers[i] / 50
save(bdir, "synth_expect_capacity_target", aggregate(per))

# ---- PARC's Heuristic baseline on the controlled bank ----
L = {r["Architecture"]: int(r["Layers"]) for r in csv.DictReader(open(os.path.join(pdir, "models.csv")))}
IM = {r["Dataset"]: int(r["Images"]) for r in csv.DictReader(open(os.path.join(pdir, "datasets.csv")))}
orows = list(csv.DictReader(open(os.path.join(pdir, "oracle_controlled.csv"))))
six = ["stanford_dogs", "oxford_pets", "cub200", "nabird", "cifar10", "caltech101"]  # constants.variables
hrows = []
for r in orows:
    a, s, t = r["Architecture"], r["Source Dataset"], r["Target Dataset"]
    if t not in six:
        continue
    paper = L[a] + math.log(IM[s] + IM[t])
    code = L[a] + math.log(IM[s]) - math.log(IM[t])
    hrows.append(["0", a, s, t, paper, code])
write_csv(os.path.join(pdir, "heuristic_results.csv"),
          ["Run", "Architecture", "Source Dataset", "Target Dataset", "Heuristic", "Heuristic (add_heuristic)"], hrows)
exp = []
for col in (4, 5):
    v = []
    for t in six:
        g = [(h[col], float(next(o["Oracle"] for o in orows if (o["Architecture"], o["Source Dataset"],
              o["Target Dataset"]) == (h[1], h[2], h[3])))) for h in hrows if h[3] == t]
        x, y = zip(*[p for p in g if p[1] > 0])
        v.append(100 * ss.pearsonr(x, y)[0])
    exp.append(np.mean(v))
save(pdir, "heuristic_expect", exp)
print("Heuristic (paper formula) mean Pearson x100: %.4f; add_heuristic: %.4f" % tuple(exp))

# Table 2's evaluation modes (MetricEval.aggregate(constants=...)): the columns held
# constant within a group: target / target+source / target+architecture / architecture+source.
acc = {(o["Architecture"], o["Source Dataset"], o["Target Dataset"]): float(o["Oracle"]) for o in orows}
modes = [(3,), (3, 2), (3, 1), (1, 2)]
out = np.zeros((len(modes), 2))
for mi, keys in enumerate(modes):
    for ci, col in enumerate((4, 5)):
        groups = {}
        for h in hrows:
            if acc[(h[1], h[2], h[3])] > 0:
                groups.setdefault(tuple(h[k] for k in keys), []).append((h[col], acc[(h[1], h[2], h[3])]))
        v = [100 * ss.pearsonr(*zip(*g))[0] for g in groups.values() if len(g) >= 2]
        out[mi, ci] = np.mean(v)
save(pdir, "heuristic_expect_modes", out)
print("Table 2 modes (paper formula):", np.round(out[:, 0], 2), "add_heuristic:", np.round(out[:, 1], 2))
