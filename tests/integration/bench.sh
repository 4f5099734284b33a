#!/usr/bin/env bash
# xfer bench end to end: PARC's Heuristic baseline on PARC's controlled bank (the paper's
# number), the table / --json / --by target / --capacity / --report outputs, and the bad
# inputs: each exits non-zero with one line naming the file or argument, except a NaN
# method and a one-model target, which are reported while the rest is evaluated.
. "$(dirname "$0")/common.sh" bench_sh

check_err() { check_err_of bench "$@"; }
# a JSON number of one method: json_num FILE METHOD KEY
json_num() { grep -F "\"method\": \"$2\"" "$1" | head -1 | sed -n "s/.*\"$3\": \([-0-9.eE+]*\).*/\1/p"; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t) }'; }

# --- PARC's Heuristic baseline: the paper prints 51.0 (Table 1) and 51.05 (Table 2) ---
PO=$R/parc/oracle_controlled.csv PR=$R/parc/heuristic_results.csv
if "$X" bench --oracle $PO --results $PR --json >"$T/h.json" 2>"$T/err"; then
  v=$(json_num "$T/h.json" Heuristic pearson)
  if near "$v" 51.05 0.05; then ok; else bad "Heuristic mean Pearson $v, the paper's 51.05"; fi
  v=$(json_num "$T/h.json" "Heuristic (add_heuristic)" pearson)
  if near "$v" 50.76 0.005; then ok; else bad "add_heuristic mean Pearson $v, want 50.76"; fi
else bad "heuristic run: $(cat "$T/err")"; fi

# Table 2 (evaluation modes): 61.27 over architectures, 7.13 over sources, 13.63 over targets
for gm in "target,source 61.27" "target,architecture 7.13" "architecture,source 13.63"; do
  set -- $gm
  "$X" bench --oracle $PO --results $PR --group "$1" --json >"$T/g.json" 2>"$T/err" || bad "--group $1: $(cat "$T/err")"
  v=$(json_num "$T/g.json" Heuristic pearson)
  if near "$v" "$2" 0.005; then ok; else bad "--group $1: Heuristic $v, the paper's $2"; fi
done

# --- outputs ---
SO=$R/bench/synth_oracle.csv SR=$R/bench/synth_results.csv SL=$R/bench/synth_layers.csv
"$X" bench --oracle $SO --results $SR >"$T/table" 2>"$T/err" || bad "table run: $(cat "$T/err")"
if grep -q '^smooth ' "$T/table" && grep -q '2 run(s)' "$T/table"; then ok; else bad "table: $(cat "$T/table")"; fi
"$X" bench --oracle $SO --results $SR --json >"$T/j" 2>"$T/err" || bad "json run"
for k in method pearson spearman kendall weighted_tau top1 top3 regret pearson_std; do
  if [ "$(grep -c "\"$k\": " "$T/j")" -eq 3 ]; then ok; else bad "json key $k"; fi
done
if /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/j" 2>/dev/null || ! /usr/bin/python3 -c 1 2>/dev/null; then ok; else bad "json does not parse"; fi
"$X" bench --oracle $SO --results $SR --by target --json >"$T/bt" 2>"$T/err" || bad "by target run"
if [ "$(grep -c '"target": ' "$T/bt")" -eq 9 ] && grep -qF '"target": "tgt,two"' "$T/bt"; then ok; else bad "by target: $(cat "$T/bt")"; fi
"$X" bench --oracle $SO --results $SR --capacity --capacity-per-target --layers $SL --report "$T/rep" >"$T/c" 2>"$T/err" ||
  bad "capacity run: $(cat "$T/err")"
if grep -q '^tied+capacity ' "$T/c" && grep -q '^flat+capacity/target ' "$T/c"; then ok; else bad "capacity rows"; fi
if [ -f "$T/rep/report.md" ] && [ "$(ls "$T/rep"/scatter_*.svg | wc -l)" -eq 3 ] && ! grep -q '<script' "$T/rep"/*.svg &&
   grep -q 'scatter_01_tgt_two.svg' "$T/rep/report.md"; then ok; else bad "report files: $(ls "$T/rep")"; fi
# the report parses as XML where python is there
if /usr/bin/python3 -c "import sys,xml.dom.minidom as m; [m.parse(f) for f in sys.argv[1:]]" "$T/rep"/*.svg 2>/dev/null ||
   ! /usr/bin/python3 -c 1 2>/dev/null; then ok; else bad "svg is not well-formed XML"; fi

# --- bad input ---
printf 'Run,Architecture,Source Dataset,Target Dataset,A\n0,x,y,z,1\n0,x,w,z,2\n' >"$T/noshare.csv"
check_err 1 "share no (Architecture, Source Dataset, Target Dataset) pair" --oracle $SO --results "$T/noshare.csv"
printf 'Run,Architecture,Source Dataset,Target Dataset,A,B\n0,netA,src1,tgt3,1,2\n0,netA,src2,tgt3,oops,2\n' >"$T/text.csv"
check_err 1 "text.csv:3: column 'A': 'oops' is not a number" --oracle $SO --results "$T/text.csv"
printf 'Run,Architecture,Source Dataset,Target Dataset,A\n0,netA,src1,tgt3,1\n' >"$T/one.csv"
check_err 1 "no target has 2 models" --oracle $SO --results "$T/one.csv"
check_err 1 "missing.csv: cannot open" --oracle $SO --results "$T/missing.csv"
check_err 2 "--oracle" --results $SR
check_err 2 "--results" --oracle $SO
check_err 2 "--capacity needs --layers" --oracle $SO --results $SR --capacity
check_err 2 "--by takes 'target'" --oracle $SO --results $SR --by model
check_err 2 "unknown argument" --oracle $SO --results $SR --bogus
check_err 2 "--group takes target, architecture, source" --oracle $SO --results $SR --group model
check_err 2 "--group holds one or two" --oracle $SO --results $SR --group target,architecture,source
check_err 2 "--oracle needs a value" --results $SR --oracle
printf 'Architecture,Layers\nnetA,8\n' >"$T/layers.csv"
check_err 1 "architecture 'netB' has no layer count" --oracle $SO --results $SR --capacity --layers "$T/layers.csv"
: >"$T/file"
check_err 1 "cannot create the report directory" --oracle $SO --results $SR --report "$T/file/sub"

# a one-model target next to good ones: noted, the rest evaluated
{ cat $SR; printf '0,netA,src1,lonely,1,2,3\n'; } >"$T/lonely.csv"
{ cat $SO; printf 'netA,src1,lonely,50\n'; } >"$T/lonely_oracle.csv"
if "$X" bench --oracle "$T/lonely_oracle.csv" --results "$T/lonely.csv" >"$T/out" 2>"$T/err" &&
   grep -q "note: target 'lonely': 1 model(s)" "$T/out" && grep -q '^smooth ' "$T/out"; then ok; else bad "lonely target: $(cat "$T/out" "$T/err")"; fi

# NaN scores in one method: that method reported, the others evaluated
sed '3s/,[^,]*$/,nan/' $SR >"$T/nan.csv"
if "$X" bench --oracle $SO --results "$T/nan.csv" --json >"$T/out" 2>"$T/err" &&
   grep -q "method 'flat' not evaluated: 1 non-finite score(s), the first at $T/nan.csv:3" "$T/err" &&
   grep -q '"method": "flat", "error"' "$T/out" && [ -n "$(json_num "$T/out" smooth pearson)" ]; then ok
else bad "nan method: $(cat "$T/out" "$T/err")"; fi
# with PARC's fillna(0) it is evaluated
if "$X" bench --oracle $SO --results "$T/nan.csv" --json --nan-as-zero >"$T/out" 2>"$T/err" &&
   [ -n "$(json_num "$T/out" flat pearson)" ]; then ok; else bad "nan-as-zero"; fi

echo "bench.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
