#!/usr/bin/env python3
"""Estimator benchmark, Python side.

  estimators.py --gen DIR            write the benchmark inputs (seeded)
  estimators.py --time DIR [--methods a,b] [--cases ...] [--budget S]
                                     time the reference Python implementations
                                     (bench/ref/ref_*.py) on the same inputs; JSON lines
  estimators.py --join C.jsonl PY.jsonl   print the side-by-side table with ratios

Cases (N, D, C) as the issue names them: small (500, 512, 10), wide (500, 2048, 100),
large (5000, 2048, 100), tall (20000, 512, 10). Features are class-clustered Gaussians
pushed through a random ReLU layer (non-negative, correlated like CNN features); P is
the softmax of a random linear map of the features to Z = 1000 source classes."""
import argparse, json, os, sys, time
import numpy as np

CASES = {"small": (500, 512, 10), "wide": (500, 2048, 100), "large": (5000, 2048, 100), "tall": (20000, 512, 10)}
Z = 1000


def gen(d):
    os.makedirs(d, exist_ok=True)
    for name, (n, dim, c) in CASES.items():
        if os.path.exists(os.path.join(d, f"{name}_P.npy")):
            continue
        rng = np.random.default_rng(abs(hash(name)) % 2**32 if False else sum(map(ord, name)))
        y = np.arange(n) % c
        rng.shuffle(y)
        h = 64
        mu = rng.normal(size=(c, h))
        z = mu[y] + rng.normal(size=(n, h)) * 1.5
        W = rng.normal(size=(h, dim)) / np.sqrt(h)
        F = np.maximum(z @ W + 0.1 * rng.normal(size=(n, dim)), 0).astype(np.float32)
        L = (F @ (rng.normal(size=(dim, Z)) / np.sqrt(dim))) * 2.0
        L -= L.max(1, keepdims=True)
        P = np.exp(L)
        P /= P.sum(1, keepdims=True)
        np.save(os.path.join(d, f"{name}_F.npy"), F)
        np.save(os.path.join(d, f"{name}_y.npy"), y.astype(np.int64))
        np.save(os.path.join(d, f"{name}_P.npy"), P.astype(np.float32))


def refs():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
    import bench_table
    return bench_table.BENCH


def time_refs(d, methods, cases, budget):
    table = refs()
    for c in cases:
        F = np.load(os.path.join(d, f"{c}_F.npy"))
        y = np.load(os.path.join(d, f"{c}_y.npy"))
        P = np.load(os.path.join(d, f"{c}_P.npy"))
        n, dim, _ = CASES[c]
        for name, (fn, limit) in table.items():
            if methods and name not in methods:
                continue
            if limit is not None and not limit(n, dim):
                print(json.dumps({"case": c, "method": name, "skipped": "too slow or too large for the reference"}))
                continue
            try:
                # best of up to 3 runs while a run takes under a second (as the C side)
                best, s = float("inf"), None
                for _ in range(3):
                    t0 = time.perf_counter()
                    s = float(fn(F, y, P))
                    best = min(best, time.perf_counter() - t0)
                    if best > 1.0:
                        break
                print(json.dumps({"case": c, "method": name, "score": s, "seconds": best}), flush=True)
            except MemoryError:
                print(json.dumps({"case": c, "method": name, "error": "out of memory"}), flush=True)


def join(cf, pf):
    def load(f):
        out = {}
        for line in open(f):
            if line.startswith("{"):
                r = json.loads(line)
                out[(r["case"], r["method"])] = r
        return out
    C, P = load(cf), load(pf)
    print(f"| method | case (N, D, C) | xfer s | reference s | speed-up | xfer score | reference score |")
    print("|---|---|---|---|---|---|---|")
    methods = sorted({m for _, m in C} | {m for _, m in P})
    for m in methods:
        for c, shape in CASES.items():
            a, b = C.get((c, m)), P.get((c, m))
            if not a and not b:
                continue
            xs = f"{a['seconds']:.4f}" if a and "seconds" in a else (a or {}).get("error", "-")
            rs = f"{b['seconds']:.4f}" if b and "seconds" in b else (b or {}).get("skipped", (b or {}).get("error", "-"))
            ratio = f"{b['seconds'] / a['seconds']:.1f}x" if a and b and "seconds" in a and "seconds" in b and a["seconds"] > 0 else "-"
            xsc = f"{a['score']:.6g}" if a and "score" in a else "-"
            rsc = f"{b['score']:.6g}" if b and "score" in b else "-"
            print(f"| {m} | {c} {shape} | {xs} | {rs} | {ratio} | {xsc} | {rsc} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen")
    ap.add_argument("--time")
    ap.add_argument("--join", nargs=2)
    ap.add_argument("--methods")
    ap.add_argument("--cases", default="small,wide,large,tall")
    ap.add_argument("--budget", type=float, default=120)
    a = ap.parse_args()
    if a.gen:
        gen(a.gen)
    if a.time:
        time_refs(a.time, a.methods.split(",") if a.methods else None, a.cases.split(","), a.budget)
    if a.join:
        join(*a.join)
