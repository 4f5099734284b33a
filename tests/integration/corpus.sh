#!/usr/bin/env bash
# xfer data build / list on the system's Debian data at a small scale: the table, reuse
# on the second run, --force, and the CLI's errors (usage: exit 2, failure: exit 1 with
# one line naming the path).
set -u
BIN=${XF_BIN:-build/xfer}
TMP=${XF_TMP:-build/tmp}
OUT=$TMP/corpus-cli
fail=0
check() { if eval "$2"; then :; else echo "FAIL: $1" >&2; fail=1; fi; }
mkdir -p "$TMP"
if [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ ! -d /usr/share/fonts/truetype/dejavu ] ||
   [ ! -r /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz ]; then
  echo "corpus.sh: SKIP: corpus sources not installed (scripts/install-deps.sh demo)"; exit 0
fi
rm -rf "$OUT"
out=$("$BIN" data build --out "$OUT" --scale 0.02 --force 2>"$TMP/corpus-cli.err"); rc=$?
check "build exits 0 (rc $rc: $(cat "$TMP/corpus-cli.err"))" '[ $rc -eq 0 ]'
for t in upstream hand-digits new-scripts new-fonts font-digits script-id fashion-fine fashion-coarse; do
  check "table lists $t" 'grep -q "^$t " <<<"$out"'
  check "$t/train_x.npy written" '[ -s "$OUT/$t/train_x.npy" ]'
done
check "built line" 'grep -q "^built " <<<"$out"'
check "hierarchy written" '[ -s "$OUT/upstream/hierarchy.tsv" ]'
check "corpus.json written" 'grep -q "\"version\":" "$OUT/corpus.json"'
out2=$("$BIN" data build --out "$OUT" --scale 0.02 2>/dev/null); rc=$?
check "second run reuses" '[ $rc -eq 0 ] && grep -q "^reused " <<<"$out2"'
check "same table on reuse" '[ "$(grep -v "^built\|^reused" <<<"$out")" = "$(grep -v "^built\|^reused" <<<"$out2")" ]'
json=$("$BIN" data build --out "$OUT" --scale 0.02 --json 2>/dev/null)
check "json output" 'grep -q "\"reused\": true" <<<"$json" && grep -q "\"name\": \"new-fonts\"" <<<"$json"'
out3=$("$BIN" data build --out "$OUT" --scale 0.02 --force 2>/dev/null)
check "--force rebuilds" 'grep -q "^built " <<<"$out3"'
lst=$("$BIN" data list --out "$OUT" 2>/dev/null)
check "list shows the built corpus" 'grep -q "^script-id " <<<"$lst"'
lst=$("$BIN" data list --out "$TMP/corpus-none" 2>/dev/null)
check "list without a corpus" 'grep -q "^new-scripts " <<<"$lst" && grep -q "not built" <<<"$lst"'
"$BIN" data build --out "$OUT" --scale 0 >/dev/null 2>&1; rc=$?
check "bad --scale is a usage error" '[ $rc -eq 2 ]'
"$BIN" data frobnicate >/dev/null 2>&1; rc=$?
check "unknown subcommand is a usage error" '[ $rc -eq 2 ]'
err=$("$BIN" data build --out "$TMP/corpus-cli-err" --fonts /nonexistent/fonts --force 2>&1 >/dev/null); rc=$?
check "missing fonts dir fails (rc $rc)" '[ $rc -eq 1 ]'
check "one line naming the dir: $err" '[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "/nonexistent/fonts" <<<"$err"'
: > "$TMP/corpus-cli-file"
err=$("$BIN" data build --out "$TMP/corpus-cli-file/x" --scale 0.02 --force 2>&1 >/dev/null); rc=$?
check "unwritable output fails (rc $rc): $err" '[ $rc -eq 1 ] && grep -q "corpus-cli-file" <<<"$err"'
rm -rf "$OUT" "$TMP/corpus-cli-file" "$TMP/corpus-cli.err"
[ $fail -eq 0 ] && echo "corpus.sh: ok"
exit $fail
