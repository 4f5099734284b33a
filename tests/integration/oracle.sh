#!/usr/bin/env bash
# xfer oracle end to end on a tiny bank (two small ONNX models of tests/ref/bank) and a
# tiny target (500 digits of tests/ref/finetune, twice under two names): the CSVs, a run
# killed with SIGKILL mid-way and rerun (same oracle CSV as an uninterrupted run), --jobs 2
# (same CSV), a rerun on a finished state (nothing fine-tuned again), the oracle feeding
# xfer bench (layers from the bank), and bad arguments, each one line naming the problem.
. "$(dirname "$0")/common.sh" oracle_sh
mkdir -p "$T/bank"

cp "$R/bank/mlp.onnx" "$R/bank/resblock.onnx" "$T/bank/"
"$X" bank init "$T/bank" --source fashion-mnist >/dev/null 2>"$T/err" || { echo "bank init: $(cat "$T/err")"; exit 1; }
F=$R/finetune
TG="digits=$F/target_train_x.npy@$F/target_test_x.npy,again=$F/target_train_x.npy@$F/target_test_x.npy"
P=(--bank "$T/bank" --targets "$TG" --epochs 3 --lr 0.1,0.01 --threads 1 --seed 7 --headonly)

# --- an uninterrupted run ---
if "$X" oracle "${P[@]}" --out "$T/a.csv" >"$T/out" 2>"$T/err"; then ok; else bad "run a: $(cat "$T/err")"; fi
if [ "$(head -1 "$T/a.csv")" = "Architecture,Source Dataset,Target Dataset,Oracle" ] && [ "$(wc -l <"$T/a.csv")" -eq 5 ] &&
   grep -q '^mlp,mlp,digits,' "$T/a.csv" && grep -q '^resblock,resblock,again,' "$T/a.csv"; then ok; else bad "a.csv: $(cat "$T/a.csv")"; fi
if [ -f "$T/a.details.csv" ] && [ -f "$T/a.headonly.csv" ] && [ "$(wc -l <"$T/a.details.csv")" -eq 5 ] &&
   head -1 "$T/a.details.csv" | grep -q 'Best LR,Validation Accuracy,Train Accuracy,Test Accuracy,Head-only Test Accuracy,Seconds'
then ok; else bad "details/headonly files"; fi
# the accuracies are percentages of 500 test images (a multiple of 0.2)
if awk -F, 'NR > 1 { v = $4 * 5; if ($4 < 0 || $4 > 100 || v != int(v)) exit 1 }' "$T/a.csv"; then ok; else bad "accuracies: $(cat "$T/a.csv")"; fi

# --- killed mid-run, then rerun ---
"$X" oracle "${P[@]}" --out "$T/b.csv" >"$T/bout" 2>"$T/berr" &
pid=$!
for _ in $(seq 1 3000); do   # until two of the four pairs are recorded (up to 60 s)
  n=$(ls "$T/b.csv.state" 2>/dev/null | grep -c '\.pair$')
  [ "$n" -ge 2 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n=$(ls "$T/b.csv.state" | grep -c '\.pair$')
if [ ! -f "$T/b.csv" ] && [ "$n" -ge 1 ] && [ "$n" -lt 4 ]; then ok; else bad "the kill did not land mid-run ($n records, b.csv $( [ -f "$T/b.csv" ] && echo exists))"; fi
if "$X" oracle "${P[@]}" --out "$T/b.csv" >"$T/out" 2>"$T/err" && grep -q "4 pairs (2 models x 2 targets), $n already done" "$T/err"
then ok; else bad "rerun: $(cat "$T/err")"; fi
if cmp -s "$T/a.csv" "$T/b.csv" && cmp -s "$T/a.headonly.csv" "$T/b.headonly.csv"; then ok; else bad "killed+rerun differs: $(diff "$T/a.csv" "$T/b.csv")"; fi
# details equal but for the seconds
if diff <(cut -d, -f1-10 "$T/a.details.csv") <(cut -d, -f1-10 "$T/b.details.csv") >/dev/null; then ok; else bad "details differ"; fi

# --- a finished state: nothing is fine-tuned again, same file ---
if "$X" oracle "${P[@]}" --out "$T/b.csv" >"$T/out" 2>"$T/err" && grep -q "4 already done" "$T/err" && cmp -s "$T/a.csv" "$T/b.csv"
then ok; else bad "rerun on a finished state: $(cat "$T/err")"; fi
# a corrupted record is fine-tuned again
f=$(ls "$T/b.csv.state"/*.pair | head -1)
sed -i 's/^test_acc=.*/test_acc=99/' "$f"
if "$X" oracle "${P[@]}" --out "$T/b.csv" >"$T/out" 2>"$T/err" && grep -q "3 already done" "$T/err" && cmp -s "$T/a.csv" "$T/b.csv"
then ok; else bad "corrupted record: $(cat "$T/err")"; fi

# --- two worker processes ---
if "$X" oracle "${P[@]}" --out "$T/c.csv" --jobs 2 >"$T/out" 2>"$T/err" && cmp -s "$T/a.csv" "$T/c.csv"; then ok
else bad "--jobs 2: $(cat "$T/err"; diff "$T/a.csv" "$T/c.csv")"; fi

# --- the oracle feeds xfer bench; layers from the bank ---
{ echo "Run,Architecture,Source Dataset,Target Dataset,params"
  for t in digits again; do echo "0,mlp,mlp,$t,6418"; echo "0,resblock,resblock,$t,3030"; done; } >"$T/results.csv"
if "$X" bench --oracle "$T/a.csv" --results "$T/results.csv" --capacity --layers "$T/bank" >"$T/out" 2>"$T/err" &&
   grep -q '^params+capacity ' "$T/out"; then ok; else bad "bench on the oracle: $(cat "$T/out" "$T/err")"; fi

# --- the second form of xfer bench: scores from the bank itself (xfer rank), 2 runs ---
B=(--bank "$T/bank" --targets "$TG" --oracle "$T/a.csv" --probe 100 --runs 2 --cache-dir "$T/cache")
if "$X" bench "${B[@]}" --results-out "$T/ranked.csv" --json >"$T/r1.json" 2>"$T/err"; then ok; else bad "bench --bank: $(cat "$T/err")"; fi
if [ "$(wc -l <"$T/ranked.csv")" -eq 9 ] && head -1 "$T/ranked.csv" | grep -q '^Run,Architecture,Source Dataset,Target Dataset,.*knn.*,default$' &&
   grep -q '^1,resblock,resblock,again,' "$T/ranked.csv"; then ok; else bad "ranked.csv: $(cat "$T/ranked.csv")"; fi
if grep -q '"method": "default", "pearson": ' "$T/r1.json" && grep -q '"method": "knn", "pearson": ' "$T/r1.json"; then ok
else bad "bench --bank json: $(cat "$T/r1.json")"; fi
# the written table evaluates to the same numbers
"$X" bench --oracle "$T/a.csv" --results "$T/ranked.csv" --json >"$T/r2.json" 2>"$T/err" || bad "bench on ranked.csv"
if cmp -s "$T/r1.json" "$T/r2.json"; then ok; else bad "ranked.csv evaluates differently: $(diff "$T/r1.json" "$T/r2.json")"; fi
# without --oracle the second form only writes the table (cached features: same scores)
B2=(--bank "$T/bank" --targets "$TG" --probe 100 --runs 2 --cache-dir "$T/cache")
if "$X" bench "${B2[@]}" --results-out "$T/only.csv" >"$T/out" 2>"$T/err" && [ ! -s "$T/out" ] &&
   cmp -s "$T/ranked.csv" "$T/only.csv"; then ok; else bad "bench --bank without --oracle: $(cat "$T/err")"; fi
for args in "--bank $T/bank --oracle $T/a.csv|--bank needs --targets" \
            "--bank $T/bank --targets x.npy|--oracle FILE is required" \
            "--bank $T/bank --targets x.npy --oracle $T/a.csv --results $T/ranked.csv|not both" \
            "--targets x.npy --oracle $T/a.csv --results $T/ranked.csv|--targets is used only with --bank" \
            "--bank $T/bank --targets x.npy --oracle $T/a.csv --runs 0|--runs must be"; do
  "$X" bench ${args%%|*} >"$T/out" 2>"$T/err"
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -qF -- "${args##*|}" "$T/err"; then ok; else bad "bench ${args%%|*}: rc $rc $(cat "$T/err")"; fi
done
if ! "$X" bench --bank "$T/bank" --targets "none=$T/none_x.npy" --oracle "$T/a.csv" >"$T/out" 2>"$T/err" &&
   [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "none_x.npy" "$T/err"; then ok; else bad "bench --bank, missing data: $(cat "$T/err")"; fi

# --- bad arguments ---
check_err() {
  local want_rc=$1 want=$2; shift 2
  "$X" oracle "$@" >"$T/out" 2>"$T/err.all"
  local rc=$? lines
  grep -v 'already done$' "$T/err.all" >"$T/err"  # the status line before any pair runs
  lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want_rc" ]; then bad "oracle $*: exit $rc, want $want_rc: $(cat "$T/err")"; return; fi
  if [ "$lines" -ne 1 ]; then bad "oracle $*: $lines stderr lines: $(cat "$T/err")"; return; fi
  if ! grep -qF -- "$want" "$T/err"; then bad "oracle $*: message lacks '$want': $(cat "$T/err")"; return; fi
  ok
}
check_err 2 "--bank is required" --targets "$TG" --out "$T/x.csv"
check_err 2 "--targets is required" --bank "$T/bank" --out "$T/x.csv"
check_err 2 "--out is required" --bank "$T/bank" --targets "$TG"
check_err 2 "--jobs must be" --bank "$T/bank" --targets "$TG" --out "$T/x.csv" --jobs 0
check_err 2 "unknown option" --bank "$T/bank" --targets "$TG" --out "$T/x.csv" --bogus 1
check_err 1 "nobank/bank.json" --bank "$T/nobank" --targets "$TG" --out "$T/x.csv"
check_err 1 "empty name before '='" --bank "$T/bank" --targets "=x.npy" --out "$T/x.csv"
check_err 1 "two targets are named 'digits'" --bank "$T/bank" --targets "digits=$F/target_train_x.npy,digits=$F/target_test_x.npy" --out "$T/x.csv"
check_err 1 "model 'mlp' on target 'nowhere'" --bank "$T/bank" --targets "nowhere=$T/none_x.npy@$T/none_x.npy" --out "$T/x.csv" --epochs 1

# a failing worker process: its error line, exit 1, no CSV
"$X" oracle --bank "$T/bank" --targets "nowhere=$T/none_x.npy@$T/none_x.npy" --out "$T/y.csv" --jobs 2 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "xfer oracle: model '[a-z]*' on target 'nowhere'" "$T/err" && [ ! -f "$T/y.csv" ]; then ok
else bad "failing worker: rc $rc: $(cat "$T/err")"; fi

echo "oracle.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
