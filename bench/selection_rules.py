#!/usr/bin/python3
"""Candidate selection rules for bench/selection.sh (docs/SELECTION.md).

  selection_rules.py RESULTS.csv CANDIDATES.csv
      Reads PARC's results table (Run,Architecture,Source Dataset,Target Dataset,<method>...)
      that `xfer bench --bank --results-out` wrote and writes it back with one more column
      per z-score ensemble: for every pair and triple of estimators, the mean over its
      members of each member's score z-scored over the bank's models within one (run,
      target), as `xfer rank --method a,b,c` computes it. Ensemble columns are named
      'a&b&c'. A member with a NaN score on a row makes the ensemble NaN there (reported
      by `xfer bench` as not evaluated).

  selection_rules.py --summary CHOOSE.json HELD.json
      Prints every candidate (from `xfer bench --json` on the targets used to choose and
      on the held-out targets) ordered by the choice criterion: the sum of its rank by
      mean Pearson and its rank by mean top-1 regret on the CHOOSE targets (both
      matter: a rule must correlate and must not miss the best model), then the pick.
Standard library only."""
import csv
import itertools
import json
import math
import sys

SKIP = {"default"}  # the provisional rule is evaluated as is, not combined


def zscore(v):
    ok = [x for x in v if not math.isnan(x)]
    if len(ok) != len(v) or not ok:
        return [math.nan] * len(v)
    m = sum(ok) / len(ok)
    sd = math.sqrt(sum((x - m) ** 2 for x in ok) / len(ok))
    return [0.0 if sd == 0 else (x - m) / sd for x in v]


def candidates(src, dst):
    rows = list(csv.reader(open(src, newline="")))
    head, body = rows[0], rows[1:]
    key = [head.index("Run"), head.index("Target Dataset")]
    methods = [c for c in head[4:] if c not in SKIP]
    col = {m: head.index(m) for m in methods}
    groups = {}
    for i, r in enumerate(body):
        groups.setdefault(tuple(r[k] for k in key), []).append(i)
    z = {m: [math.nan] * len(body) for m in methods}
    for idx in groups.values():
        for m in methods:
            vals = []
            for i in idx:
                try:
                    vals.append(float(body[i][col[m]]))
                except ValueError:
                    vals.append(math.nan)
            for i, v in zip(idx, zscore(vals)):
                z[m][i] = v
    combos = [c for k in (2, 3) for c in itertools.combinations(methods, k)]
    with open(dst, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head + ["&".join(c) for c in combos])
        for i, r in enumerate(body):
            extra = []
            for c in combos:
                v = sum(z[m][i] for m in c) / len(c)
                extra.append("nan" if math.isnan(v) else "%.9g" % v)
            w.writerow(r + extra)
    print("   %d estimators, %d ensembles" % (len(methods), len(combos)))


def summary(choose_path, held_path):
    choose = {o["method"]: o for o in json.load(open(choose_path))}
    held = {o["method"]: o for o in json.load(open(held_path))}
    ok = [m for m, o in choose.items() if o.get("pearson") is not None and m in held
          and held[m].get("pearson") is not None]
    by_p = sorted(ok, key=lambda m: -choose[m]["pearson"])
    by_r = sorted(ok, key=lambda m: choose[m]["regret"])
    crit = {m: by_p.index(m) + by_r.index(m) for m in ok}
    order = sorted(ok, key=lambda m: (crit[m], -choose[m]["pearson"]))
    singles = [m for m in ok if "&" not in m]
    fmt = "%-34s %8s %8s %8s | %8s %8s %8s"
    print(fmt % ("rule", "pearson", "top1", "regret", "pearson", "top1", "regret"))
    print(fmt % ("", "choose", "choose", "choose", "held", "held", "held"))
    shown = order[:15] + [m for m in sorted(singles, key=lambda m: -choose[m]["pearson"]) if m not in order[:15]]
    for m in shown:
        c, h = choose[m], held[m]
        print("%-34s %8.1f %8.1f %8.2f | %8.1f %8.1f %8.2f" % (m, c["pearson"], c["top1"], c["regret"],
                                                                h["pearson"], h["top1"], h["regret"]))
    print("pick (best rank sum on the choose targets): %s" % order[0])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--summary":
        summary(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        candidates(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
