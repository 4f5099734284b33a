#!/usr/bin/env bash
# make demo: xfer's main job on data Debian ships. Until the model pipeline lands, the
# "bank" is a set of network-free feature extractors (raw pixels, pooled pixels, PCA,
# random ReLU projections). For a Fashion-MNIST task, xfer
#   1. samples a 500-image probe set (PARC's fixed-budget sampler),
#   2. extracts each extractor's features on it,
#   3. scores every extractor with the transferability estimators (`xfer score`),
#   4. measures the truth: a linear classifier trained on 5,000 images with each
#      extractor's features and tested on 5,000 others,
#   5. prints how well each estimator's ranking agrees with that truth.
set -euo pipefail
cd "$(dirname "$0")/.."
X=build/xfer
OUT=${XF_DEMO_OUT:-out/demo}
DATA=/usr/share/datasets/fashion-mnist
KINDS=raw,pool:4,pool:7,pca:4,pca:16,pca:64,randproj:16,randproj:128,randproj:1024
METHODS=${XF_DEMO_METHODS:-knn,linear,logme,parc,hscore,hscore-shrink,gbc,transrate,nleep,sfda,ncti,etran}
rm -rf "$OUT"; mkdir -p "$OUT"

echo "== 1-2. probe set of 500 Fashion-MNIST test images, features from 9 extractors"
$X features --data "$DATA" --split test --probe 500 --kind "$KINDS" --out-dir "$OUT/probe" 2>&1 | sed 's/^/   /'
feats=()
for k in ${KINDS//,/ }; do feats+=("$OUT/probe/${k//:/-}.npy"); done

echo
echo "== 3. xfer score: every estimator, every extractor (rank 1 = predicted best)"
t0=$(date +%s%N)
$X score --features "${feats[@]}" --labels "$OUT/probe/labels.npy" --method "$METHODS" --csv > "$OUT/scores.csv"
t1=$(date +%s%N)
table() { awk -F, '{ printf "   %-14s %-14s %12s %5s %9s\n", $1, $2, $3, $4, $5 }'; }
awk -F, 'NR==1 || $2=="ensemble" || $2=="parc" || $2=="logme" || $2=="knn"' "$OUT/scores.csv" | table
echo "   (full table: $OUT/scores.csv; all $(($(wc -l < "$OUT/scores.csv") - 1)) scores in $(( (t1 - t0) / 1000000 )) ms)"

echo
echo "== 4. the truth: a linear classifier per extractor, trained on 5,000 and tested on 5,000"
echo "      other images of the train split (disjoint from the probe set)"
$X features --data "$DATA" --split train --probe 10000 --seed 1 --kind "$KINDS" --out-dir "$OUT/full" 2>/dev/null
tfeats=()
for k in ${KINDS//,/ }; do tfeats+=("$OUT/full/${k//:/-}.npy"); done
$X score --features "${tfeats[@]}" --labels "$OUT/full/labels.npy" --method linear --csv > "$OUT/oracle.csv"
table < "$OUT/oracle.csv"

echo
echo "== 5. how well each estimator predicts the truth (Pearson r over the 9 extractors, x100,"
echo "      as PARC's benchmark reports; and whether its top pick is the true best)"
awk -F, '
  FNR == 1 { next }
  NR == FNR { if ($2 == "linear") { truth[$1] = $3; if ($4 == 1) best = $1 }; next }
  $3 != "" { s[$2, $1] = $3; n[$2]++; meth[$2] = 1; if ($4 == 1) top[$2] = $1 }
  END {
    for (m in meth) {
      sx = sy = sxx = syy = sxy = 0; k = 0
      for (key in s) { split(key, p, SUBSEP); if (p[1] != m) continue
        x = s[key]; y = truth[p[2]]; sx += x; sy += y; sxx += x*x; syy += y*y; sxy += x*y; k++ }
      vx = sxx - sx*sx/k; vy = syy - sy*sy/k
      r = (vx > 0 && vy > 0) ? 100 * (sxy - sx*sy/k) / sqrt(vx*vy) : 0
      printf "%08.2f|   %-14s r = %6.1f   top pick: %-14s %s\n", 500 + r, m, r, top[m], (top[m] == best ? "(the true best)" : "")
    }
    printf "99999999|   true best extractor: %s (%.1f%% test accuracy)\n", best, truth[best]
  }' "$OUT/oracle.csv" "$OUT/scores.csv" | sort -t'|' -k1,1 -r | cut -d'|' -f2-
