#!/usr/bin/env bash
# make demo: xfer's main job on the embedded corpus. For each of the corpus's 7 target
# tasks, "which model of my bank should I fine-tune?":
#   1. the corpus (`xfer data build`) and an expert bank (`xfer experts build`: a
#      generalist trained on the whole upstream, then one expert per node of its label
#      hierarchy, Puigcerver et al. 2021), made once and reused;
#   2. the bank ranked: the generalist and its 16 full experts, three networks pretrained
#      on Fashion-MNIST and a random-weights control (21 models; scripts/benchmark_bank.py);
#   3. per target, `xfer rank` (xfer's default selection rule on a 500-image probe)
#      picks a model and fine-tunes it (`--finetune-top 1`);
#   4. a table: the pick, its test accuracy, and from the benchmark's oracle (every model
#      fine-tuned on every target, bench/data/selection/oracle.csv, `make bench-selection`)
#      the generalist's and the best model's accuracy and the regret of the pick; and the
#      time of selection against fine-tuning the whole bank.
# First run about 4-5 minutes on 2 cores (measured 4 min 23 s idle, most of it the expert
# bank), later runs under 2 minutes
# (bank and probe features cached). XF_DEMO_OUT (out) moves the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
X=build/xfer
OUT=${XF_DEMO_OUT:-out}
EXPERTS=$OUT/experts
BANK=$OUT/selection/bank
ORACLE=bench/data/selection/oracle.csv
TARGETS="hand-digits new-scripts new-fonts font-digits script-id fashion-fine fashion-coarse"
mkdir -p "$OUT/demo"
t_start=$(date +%s)

echo "== 1. corpus and expert bank ($EXPERTS; built once, then reused)"
$X data build | tail -1 | sed 's/^/   /'
$X experts build --corpus data/corpus --out "$EXPERTS" --random-controls 2>&1 |
    grep -v 'already built, skipped' | sed 's/^/   /'

echo
echo "== 2. the bank: generalist + 16 full experts + 3 Fashion-MNIST networks + a random control"
/usr/bin/python3 scripts/benchmark_bank.py "$EXPERTS" "$BANK"
$X bank init "$BANK" --architecture small-resnet >/dev/null
$X bank list "$BANK" | sed 's/^/   /' | head -4
echo "   ... ($(grep -c '"file"' "$BANK/bank.json") models)"

echo
echo "== 3. per target: xfer rank --method default, then fine-tune the pick"
for t in $TARGETS; do
    echo "   -- corpus:$t"
    { $X rank --bank "$BANK" --data "corpus:$t" --method default --finetune-top 1 --epochs 4 --lr 0.1 \
        --json > "$OUT/demo/rank-$t.json"; } 2>&1 | sed '/(cached)$/d; s/^/      /'
done

echo
echo "== 4. the pick per target against the oracle of this bank ($ORACLE)"
/usr/bin/python3 - "$OUT/demo" "$ORACLE" $TARGETS <<'PY'
import csv, json, os, sys
out, oracle_path, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
oracle = {}
if os.path.exists(oracle_path):
    for r in csv.DictReader(open(oracle_path, newline="")):
        oracle.setdefault(r["Target Dataset"].split(":")[-1].split("=")[0], {})[r["Source Dataset"]] = float(r["Oracle"])
fmt = "   %-15s %-22s %7s %8s %7s %-22s %7s %7s %9s %8s"
print(fmt % ("target", "pick", "test %", "oracle", "gen.", "best (oracle)", "best", "regret", "select s", "bank s"))
sums = [0.0, 0.0, 0.0]
for t in targets:
    rows = [json.loads(l) for l in open(os.path.join(out, "rank-%s.json" % t)) if l.strip()]
    ft = next(r["finetune"] for r in rows if "finetune" in r)
    pick, acc = ft["pick"], ft.get("test_acc")
    o = oracle.get(t, {})
    best = max(o, key=o.get) if o else None
    cell = lambda v: "-" if v is None else "%.1f" % v
    regret = o[best] - o[pick] if best and pick in o else None
    sel = ft["seconds_rank"] + ft["seconds_finetune"]
    print(fmt % (t, pick, cell(acc), cell(o.get(pick)), cell(o.get("generalist")), best or "-",
                 cell(o.get(best) if best else None), cell(regret), "%.0f" % sel, "%.0f" % ft["seconds_whole_bank"]))
    sums[0] += sel
    sums[1] += ft["seconds_whole_bank"]
    sums[2] += regret or 0.0
print("   mean regret %.2f points; selection + one fine-tune %.0f s against %.0f s to fine-tune the whole bank (%.1fx)"
      % (sums[2] / len(targets), sums[0], sums[1], sums[1] / max(sums[0], 1e-9)))
print("   test %: the pick fine-tuned now (lr 0.1, 4 epochs); oracle/gen./best: the benchmark's oracle of")
print("   this bank (full fine-tuning, lr sweep 0.1/0.03, 4 epochs); regret = best - pick, in points.")
PY
echo
echo "demo done in $(( $(date +%s) - t_start )) s; outputs under $OUT/"
