#!/usr/bin/env bash
# make bench-selection: the corpus model-selection benchmark behind `xfer rank --method
# default` (docs/SELECTION.md). Every step is resumable and cached, so a rerun after the
# first (the oracle took 26 minutes on 2 cores under load) takes minutes:
#   1. the corpus (`xfer data build`) and the expert bank (`xfer experts build`, shared
#      with `make demo`);
#   2. a benchmark bank: the generalist and the 16 full experts (small ResNet, 28x28,
#      upstream slices), three networks PyTorch trained on Fashion-MNIST at 16x16 (ResNet,
#      MobileNet, GroupNorm CNN: tests/ref/finetune/) and a random-weights CNN control
#      (tests/ref/bank/convnet.onnx): 21 models, 5 architectures, 4 kinds of source;
#   3. the oracle: `xfer oracle` fine-tunes every (model, target) pair (full mode,
#      EPOCHS epochs, lrs LRS, on the 7 corpus targets);
#   4. the results: `xfer bench --bank` scores every model with every estimator on RUNS
#      probe resamples of 500 images per target;
#   5. candidate rules (single estimators, z-score ensembles, +capacity) evaluated on the
#      CHOOSE targets (used to pick the rule) and on the HELD targets (never used to pick).
# Environment: XF_SELECTION_OUT (out/selection), XF_EXPERTS_BANK (out/experts),
# XF_SELECTION_RUNS (3), XF_SELECTION_JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
X=${XF_BIN:-build/xfer}
OUT=${XF_SELECTION_OUT:-out/selection}
EXPERTS=${XF_EXPERTS_BANK:-out/experts}
RUNS=${XF_SELECTION_RUNS:-3}
JOBS=${XF_SELECTION_JOBS:-2}
EPOCHS=4
LRS=0.1,0.03
CHOOSE="hand-digits new-scripts new-fonts fashion-fine"
HELD="font-digits script-id fashion-coarse"
mkdir -p "$OUT"
[ -x "$X" ] || { echo "bench/selection.sh: build xfer first (make)" >&2; exit 1; }

echo "== 1. corpus and expert bank ($EXPERTS)"
$X data build >/dev/null
$X experts build --corpus data/corpus --out "$EXPERTS" --random-controls --threads 2

echo "== 2. benchmark bank ($OUT/bank)"
BANK=$OUT/bank
mkdir -p "$BANK"
/usr/bin/python3 scripts/benchmark_bank.py "$EXPERTS" "$BANK"
$X bank init "$BANK" --architecture small-resnet >/dev/null
$X bank verify "$BANK"
echo "   $(grep -c '"file"' "$BANK/bank.json") models"

TARGETS=""
for t in $CHOOSE $HELD; do TARGETS+="${TARGETS:+,}corpus:$t"; done

echo "== 3. oracle: every (model, target) pair fine-tuned (full, $EPOCHS epochs, lr $LRS)"
t0=$(date +%s)
$X oracle --bank "$BANK" --targets "$TARGETS" --out "$OUT/oracle.csv" --epochs "$EPOCHS" --lr "$LRS" \
    --jobs "$JOBS" --threads 1
echo "   oracle wall time (this run, cached pairs skipped): $(( $(date +%s) - t0 )) s"

echo "== 4. results: every estimator on $RUNS probe resamples of 500 images per target"
if [ ! -s "$OUT/results.csv" ]; then
    t0=$(date +%s)
    $X bench --bank "$BANK" --targets "$TARGETS" --probe 500 --runs "$RUNS" --results-out "$OUT/results.csv.part"
    mv "$OUT/results.csv.part" "$OUT/results.csv"
    echo "   $(( $(date +%s) - t0 )) s"
else
    echo "   $OUT/results.csv exists (delete it to recompute)"
fi

echo "== 5. candidate rules: chosen on {$CHOOSE}, reported on {$HELD}"
/usr/bin/python3 bench/selection_rules.py "$OUT/results.csv" "$OUT/candidates.csv"
for part in choose held; do
    set_=$CHOOSE; [ $part = held ] && set_=$HELD
    /usr/bin/python3 - "$OUT/candidates.csv" "$OUT/oracle.csv" "$OUT" $part $set_ <<'PY'
import csv, sys
cand, oracle, out, part, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], set(sys.argv[5:])
for src, dst in ((cand, f"{out}/candidates_{part}.csv"), (oracle, f"{out}/oracle_{part}.csv")):
    rows = list(csv.reader(open(src, newline="")))
    col = rows[0].index("Target Dataset")
    with open(dst, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        w.writerows(r for r in rows[1:] if r[col].split(":")[-1] in targets)
PY
    $X bench --oracle "$OUT/oracle_$part.csv" --results "$OUT/candidates_$part.csv" --capacity \
        --layers "$BANK" --json > "$OUT/bench_$part.json"
    $X bench --oracle "$OUT/oracle_$part.csv" --results "$OUT/candidates_$part.csv" --capacity \
        --layers "$BANK" > "$OUT/bench_$part.txt"
done
$X bench --oracle "$OUT/oracle.csv" --results "$OUT/candidates.csv" --capacity --layers "$BANK" \
    --report "$OUT/report" > "$OUT/bench_all.txt"
/usr/bin/python3 bench/selection_rules.py --summary "$OUT/bench_choose.json" "$OUT/bench_held.json"
SAVE=bench/data/selection
mkdir -p "$SAVE"
cp "$OUT/oracle.csv" "$OUT/oracle.details.csv" "$OUT/results.csv" "$OUT"/bench_{choose,held,all}.txt \
   "$OUT"/bench_{choose,held}.json "$SAVE/"
echo "   tables: $OUT/bench_{choose,held,all}.txt, report: $OUT/report/report.md; small results copied to $SAVE/"
