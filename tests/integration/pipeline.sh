#!/usr/bin/env bash
# The selection pipeline end to end through the CLI: sample a probe set from a dataset
# named by a data spec, extract features and source probabilities from two ONNX models,
# score both with several estimators. Checks the files' shapes through `xfer score`
# accepting them, probe determinism, and the error line for a bad data spec.
. "$(dirname "$0")/common.sh" pipeline_sh
if [ ! -f /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz ]; then
  echo "pipeline.sh: SKIP (python3-sklearn's digits.csv.gz not installed)"; exit 0
fi
zcat "$R/onnx/resnet18.onnx.gz" > "$T/r18.onnx"
zcat "$R/onnx/mobilenet_v2.onnx.gz" > "$T/mv2.onnx"
for m in r18 mv2; do
  "$X" extract --model "$T/$m.onnx" --data digits --probe 120 --seed 5 --labels-out "$T/y_$m.npy" \
    --probs "$T/p_$m.npy" -o "$T/f_$m.npy" 2>"$T/err" && ok || bad "extract $m: $(cat "$T/err")"
done
cmp -s "$T/y_r18.npy" "$T/y_mv2.npy" && ok || bad "same seed gave different probe sets"
"$X" score --features "$T/f_r18.npy" "$T/f_mv2.npy" --labels "$T/y_r18.npy" --probs "$T/p_r18.npy" "$T/p_mv2.npy" \
  --method knn,logme,parc,leep,nce --csv >"$T/out" 2>"$T/err" && ok || bad "score: $(cat "$T/err")"
[ "$(grep -c ',' "$T/out")" -eq 13 ] && ok || bad "expected 10 scores + 2 ensemble rows + header: $(cat "$T/out")"
"$X" extract --model "$T/r18.onnx" --data corpus:nosuchtask --corpus-dir "$T/nocorpus" -o "$T/f.npy" >/dev/null 2>"$T/err"
[ $? -ne 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "nosuchtask" "$T/err" && ok || bad "bad data spec: $(cat "$T/err")"
"$X" extract --model "$T/r18.onnx" --data digits --size 0 -o "$T/f.npy" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q -- "--size" "$T/err" && ok || bad "bad --size: $(cat "$T/err")"
echo "pipeline.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
