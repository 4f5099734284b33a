#!/usr/bin/env bash
# xfer experts build / select / export on a small corpus (scale 0.02): a whole build, a
# build killed after a few models and rerun (it continues and ends with the same bytes),
# selection output, adapter export into the bank, and the errors (usage: exit 2; failure:
# exit 1 with one line naming the file or option).
set -u
BIN=${XF_BIN:-build/xfer}
TMP=${XF_TMP:-build/tmp}/experts-cli
fail=0
check() { if eval "$2"; then :; else echo "FAIL: $1" >&2; fail=1; fi; }
mkdir -p "$TMP"
if [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ ! -d /usr/share/fonts/truetype/dejavu ] ||
   [ ! -r /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz ]; then
  echo "experts.sh: SKIP: corpus sources not installed (scripts/install-deps.sh demo)"; exit 0
fi
C=$TMP/corpus
"$BIN" data build --out "$C" --scale 0.02 >/dev/null 2>"$TMP/data.err" || { echo "FAIL: corpus: $(cat "$TMP/data.err")"; exit 1; }
# 2 slices at this scale (tops, footwear); with controls: generalist, EPN, 8 experts
OPTS="--corpus $C --min-images 300 --epochs 1 --expert-steps 3 --epn-steps 5 --random-controls --threads 1"
A=$TMP/bankA B=$TMP/bankB
rm -rf "$A" "$B"
"$BIN" experts build $OPTS --out "$A" 2>"$TMP/a.err"; rc=$?
check "build exits 0 (rc $rc: $(grep -v '^train:' "$TMP/a.err" | tail -2))" '[ $rc -eq 0 ]'
check "progress lines" 'grep -q "^xfer experts: \[1/10\] generalist: training on" "$TMP/a.err" && grep -q "\[10/10\] random-adapter-footwear: done" "$TMP/a.err"'
for f in generalist.onnx full-tops.onnx full-footwear.onnx random-full-tops.onnx random-full-footwear.onnx adapters.xfad \
         epn/epn.onnx priors/generalist.npy priors/adapter-tops.npy priors/random-full-footwear.npy bank.json experts.json; do
  check "$f written" '[ -s "$A/$f" ]'
done
check "experts.json complete" 'grep -q "\"complete\":[[:space:]]*true" "$A/experts.json"'
check "bank.json lists generalist, full and random models with their keys" '/usr/bin/python3 - "$A/bank.json" <<EOF
import json, sys
b = json.load(open(sys.argv[1]))
assert b["format"] == "xfer-bank" and b["version"] == 1
m = {x["name"]: x for x in b["models"]}
assert set(m) == {"generalist", "full-tops", "full-footwear", "random-full-tops", "random-full-footwear"}, m.keys()
assert m["full-tops"]["kind"] == "full" and m["full-tops"]["slice"] == "tops" and m["random-full-tops"]["kind"] == "random"
assert m["full-tops"]["slice_size"] == m["random-full-tops"]["slice_size"] > 300
assert m["generalist"]["source_classes"] == 354 and m["generalist"]["input"]["height"] == 28
assert all(x["label_prior"].startswith("priors/") for x in m.values())
EOF'
# a second run finds everything finished
"$BIN" experts build $OPTS --out "$A" 2>"$TMP/a2.err"; rc=$?
check "rerun of a finished build skips every model" '[ $rc -eq 0 ] && [ "$(grep -c "already built, skipped" "$TMP/a2.err")" -eq 10 ]'

# killed after the third model, then rerun: continues, same bytes as the uninterrupted build
rm -f "$TMP/b1.err" # a previous run's log would satisfy the wait below at once
"$BIN" experts build $OPTS --out "$B" 2>"$TMP/b1.err" & pid=$!
for _ in $(seq 1 6000); do grep -q "\[3/10\] .*: done" "$TMP/b1.err" 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "the first run was interrupted before the end" '! grep -q "complete (" "$TMP/b1.err"'
out=$("$BIN" experts select --bank "$B" --data corpus:font-digits --corpus-dir "$C" 2>&1); rc=$?
check "select on an unfinished bank: exit 1, says so ($out)" '[ $rc -eq 1 ] && grep -q "experts.json: the build is not finished" <<<"$out"'
"$BIN" experts build $OPTS --out "$B" 2>"$TMP/b2.err"; rc=$?
check "resumed build exits 0 ($(tail -1 "$TMP/b2.err"))" '[ $rc -eq 0 ]'
check "resumed build skips the finished models" '[ "$(grep -c "already built, skipped" "$TMP/b2.err")" -ge 3 ] && grep -q "\[1/10\] generalist: already built" "$TMP/b2.err"'
check "resumed build trains the rest" 'grep -q "\[10/10\] random-adapter-footwear: training on" "$TMP/b2.err"'
for f in generalist.onnx full-tops.onnx full-footwear.onnx random-full-tops.onnx adapters.xfad epn/epn.onnx; do
  check "resumed $f equals the uninterrupted build's" 'cmp -s "$A/$f" "$B/$f"'
done

# selection
out=$("$BIN" experts select --bank "$A" --data corpus:font-digits --corpus-dir "$C" 2>/dev/null); rc=$?
check "select exits 0" '[ $rc -eq 0 ]'
check "select lists every expert and a pick per proxy" 'grep -q "^generalist " <<<"$out" && grep -q "^random-adapter-tops " <<<"$out" &&
  grep -q "^pick knn full " <<<"$out" && grep -q "^pick kl  adapter " <<<"$out" && grep -q "^pick epn full " <<<"$out"'
json=$("$BIN" experts select --bank "$A" --data corpus:hand-digits --corpus-dir "$C" --json 2>/dev/null)
check "select --json" '/usr/bin/python3 - <<EOF
import json, math
j = json.loads("""$json""")
e = {x["name"]: x for x in j["experts"]}
assert len(e) == 9 and e["generalist"]["kl"] is None
assert all(0 <= x["knn"] <= 100 for x in e.values())
assert all(x["kl"] >= 0 for n, x in e.items() if n != "generalist")
assert e["full-tops"]["epn"] < 0 and e["full-tops"]["epn"] == e["adapter-tops"]["epn"] and e["random-full-tops"]["epn"] is None
assert j["picks"]["knn_full"] in ("full-tops", "full-footwear") and j["picks"]["kl_adapter"] in ("adapter-tops", "adapter-footwear")
EOF'
out=$("$BIN" experts select --bank "$A" --data corpus:hand-digits --corpus-dir "$C" --proxy kl 2>/dev/null)
check "--proxy kl prints only kl picks" 'grep -q "^pick kl" <<<"$out" && ! grep -q "^pick knn" <<<"$out"'

# export
"$BIN" experts export --bank "$A" --name adapter-tops 2>"$TMP/e.err"; rc=$?
check "export into the bank" '[ $rc -eq 0 ] && [ -s "$A/adapters/adapter-tops.onnx" ] && grep -q "\"adapters/adapter-tops.onnx\"" "$A/bank.json"'
"$BIN" experts export --bank "$A" --name random-adapter-footwear --to "$TMP/ra.onnx" 2>/dev/null; rc=$?
check "export --to" '[ $rc -eq 0 ] && [ -s "$TMP/ra.onnx" ]'
out=$("$BIN" experts export --bank "$A" --name nobody 2>&1); rc=$?
check "export of an unknown expert: exit 1 naming it ($out)" '[ $rc -eq 1 ] && grep -q "no expert named .nobody." <<<"$out"'

# a damaged bank: each problem is exit 1 with one line naming the file
T=$TMP/bankT
tamper() { rm -rf "$T"; cp -r "$A" "$T"; /usr/bin/python3 -c "$1" "$T"; "$BIN" experts select --bank "$T" --data corpus:hand-digits --corpus-dir "$C" 2>&1; }
out=$(tamper 'import json,sys; p=sys.argv[1]+"/experts.json"; r=json.load(open(p)); r["experts"][0]["file"]="../x.onnx"; json.dump(r,open(p,"w"))'); rc=$?
check "a record path leaving the bank ($out)" '[ $rc -eq 1 ] && grep -q "experts.json: experts\[0\].*leaving the bank" <<<"$out"'
out=$(tamper 'import numpy as np,sys; np.save(sys.argv[1]+"/priors/full-tops.npy", np.ones(354))'); rc=$?
check "a label prior not summing to 1 ($out)" '[ $rc -eq 1 ] && grep -q "priors/full-tops.npy: the prior sums to 354" <<<"$out"'
out=$(tamper 'import sys; p=sys.argv[1]+"/adapters.xfad"; b=open(p,"rb").read(); open(p,"wb").write(b[:-9])'); rc=$?
check "a truncated adapter store ($out)" '[ $rc -eq 1 ] && grep -q "adapters.xfad: checksum mismatch" <<<"$out"'
out=$(tamper 'import sys; open(sys.argv[1]+"/experts.json","w").write("{")'); rc=$?
check "a record that is not JSON ($out)" '[ $rc -eq 1 ] && grep -q "experts.json: not valid JSON" <<<"$out"'

# errors
out=$("$BIN" experts build --corpus "$TMP/nonexistent" --out "$TMP/bankX" 2>&1); rc=$?
check "missing corpus: exit 1, one line naming it ($out)" '[ $rc -eq 1 ] && [ $(wc -l <<<"$out") -eq 1 ] && grep -q "nonexistent" <<<"$out"'
rm -rf "$TMP/badc"; mkdir -p "$TMP/badc"; cp -r "$C/upstream" "$TMP/badc/"
printf 'tops\troot\nroot\ttops\n' >"$TMP/badc/upstream/hierarchy.tsv"
out=$("$BIN" experts build --corpus "$TMP/badc" --out "$TMP/bankX" 2>&1); rc=$?
check "bad hierarchy: exit 1 naming hierarchy.tsv ($out)" '[ $rc -eq 1 ] && grep -q "hierarchy.tsv" <<<"$out"'
out=$("$BIN" experts build --corpus "$C" --out "$TMP/bankX" --min-images 100000 2>&1); rc=$?
check "min-images too high: exit 1, clear ($out)" '[ $rc -eq 1 ] && grep -q "no hierarchy node has at least 100000 training images" <<<"$out"'
out=$("$BIN" experts build $OPTS --out "$A" --expert-steps 4 2>&1); rc=$?
check "rerun with other options: exit 1 naming the option ($out)" '[ $rc -eq 1 ] && grep -q "another .expert_steps." <<<"$out"'
"$BIN" experts build --corpus "$C" --out "$TMP/bankX" --arch vgg >/dev/null 2>&1; rc=$?
check "--arch vgg is a usage error" '[ $rc -eq 2 ]'
"$BIN" experts build --corpus "$C" >/dev/null 2>&1; rc=$?
check "missing --out is a usage error" '[ $rc -eq 2 ]'
"$BIN" experts select --bank "$A" --data corpus:hand-digits --proxy best >/dev/null 2>&1; rc=$?
check "--proxy best is a usage error" '[ $rc -eq 2 ]'
out=$("$BIN" experts select --bank "$TMP/nobank" --data corpus:hand-digits 2>&1); rc=$?
check "select without a bank: exit 1 naming experts.json ($out)" '[ $rc -eq 1 ] && grep -q "nobank/experts.json" <<<"$out"'
"$BIN" experts frobnicate >/dev/null 2>&1; rc=$?
check "unknown subcommand is a usage error" '[ $rc -eq 2 ]'
[ $fail -eq 0 ] && echo "experts.sh: all checks passed"
exit $fail
