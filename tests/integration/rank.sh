#!/bin/bash
# xfer bank and xfer rank end to end on the three-model bank of tests/ref/gen_bank.py
# (PyTorch-made ONNX models of three architectures) and its 8x8 digits (smaller than
# every model's input: resized, and replicated to 3 channels for one model):
#   bank init / list / verify; rank as a table, --json, --csv, --report; rank's scores
#   equal `xfer extract` + `xfer score` on the same probe set; the cache: a second run
#   extracts nothing, a run killed with SIGKILL and rerun gives the same ranking, a
#   corrupt entry is detected and recomputed; --finetune-top 2; bad input: an empty bank,
#   no bank.json, a model that fails to load, a hash mismatch, a bank.json lying about a
#   tensor, bad options.
set -u
XF_BIN=${XF_BIN:-build/xfer}
XF_REF=${XF_REF:-tests/ref}
XF_BIN=$(cd "$(dirname "$XF_BIN")" && pwd)/$(basename "$XF_BIN")
T=${XF_TMP:-/tmp}/rank_sh.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
export XDG_CACHE_HOME=$T/xdg   # never the user's cache

R=$XF_REF/bank
DATA=$R/digits_train_x.npy
B=$T/bank
mkdir -p "$B"
cp "$R"/convnet.onnx "$R"/mlp.onnx "$R"/resblock.onnx "$B"/

# ---- bank init / list / verify ----
"$XF_BIN" bank init "$B" --mean 0.5 --std 0.25 --source digits 2>"$T/err" || bad "bank init: $(cat "$T/err")"
grep -q "describes 3 models" "$T/err" || bad "bank init summary: $(cat "$T/err")"
list=$("$XF_BIN" bank list "$B") || bad "bank list failed"
for m in convnet mlp resblock; do grep -q "^$m " <<<"$list" || bad "bank list lacks $m"; done
grep -q "3x12x12" <<<"$list" || bad "bank list: resblock input"
[ "$("$XF_BIN" bank list "$B" --csv | head -1)" = "name,architecture,source,layers,params,source_classes,channels,height,width,file,sha256" ] || bad "bank list --csv header"
[ "$("$XF_BIN" bank list "$B" --json | grep -c '"sha256"')" = 3 ] || bad "bank list --json"
"$XF_BIN" bank verify "$B" >"$T/out" 2>"$T/err" || bad "bank verify on a fresh bank: $(cat "$T/out" "$T/err")"
grep -q '"mean":	\[0.5\]' "$B/bank.json" || bad "--mean not written: $(grep -A1 mean "$B/bank.json" | head -2)"

# ---- rank: the formats ----
rank() { "$XF_BIN" rank --bank "$B" --data "$DATA" --threads 1 "$@"; }
rank --cache "$T/c1" >"$T/table" 2>"$T/err1" || bad "rank (table): $(cat "$T/err1")"
[ "$(grep -cE '^ +[123]  (convnet|mlp|resblock) ' "$T/table")" = 3 ] || bad "table rows: $(cat "$T/table")"
grep -q "model 3 of 3" "$T/err1" || bad "no per-model progress: $(cat "$T/err1")"
grep -q "3 extracted, 0 from the cache" "$T/err1" || bad "first run should extract 3: $(cat "$T/err1")"
rank --cache "$T/c1" --json >"$T/j1" 2>"$T/err2" || bad "rank --json: $(cat "$T/err2")"
[ "$(grep -c '^{"model": "[a-z]*", "rank": [123], "score": [-0-9.e]*, "scores": {"linear": .*, "hscore-shrink": .*, "ncti": ' "$T/j1")" = 3 ] ||
    bad "json lines: $(cat "$T/j1")"
# the cache hit: the second run extracted nothing, every model says cached
grep -q "0 extracted, 3 from the cache" "$T/err2" || bad "second run should extract nothing: $(cat "$T/err2")"
[ "$(grep -c '"cached": true' "$T/j1")" = 3 ] || bad "json: not all cached"
# same ranking and scores as the table (rank order = table order)
[ "$(grep -oE '"model": "[a-z]*"' "$T/j1" | cut -d'"' -f4 | tr '\n' ' ')" = \
  "$(grep -E '^ +[123]  ' "$T/table" | awk '{print $2}' | tr '\n' ' ')" ] || bad "json order differs from the table"
rank --cache "$T/c1" --csv --method all >"$T/csv" 2>/dev/null || bad "rank --csv"
head -1 "$T/csv" | grep -q '^rank,model,score,linear,hscore-shrink,ncti,.*,layers,cached,seconds_extract,seconds_score,error$' || bad "csv header: $(head -1 "$T/csv")"
[ "$(wc -l <"$T/csv")" = 4 ] || bad "csv rows"
rank --cache "$T/c1" --report "$T/r.md" >/dev/null 2>&1 || bad "rank --report"
grep -q '^| 1 | ' "$T/r.md" && grep -q "probe set: 200 images, 10 classes" "$T/r.md" || bad "report: $(cat "$T/r.md")"
ls "$T"/r.md.tmp.* >/dev/null 2>&1 && bad "report temp file left"
# --capacity changes the score to z + layers/50 (mean of z over models = 0, so the mean score is mean layers / 50 = 0.06)
rank --cache "$T/c1" --capacity --json 2>/dev/null | grep -oE '"score": [-0-9.e]*' | awk '{s += $2} END {exit !(s/NR > 0.0599 && s/NR < 0.0601)}' ||
    bad "--capacity: mean score should be mean(layers)/50"

# progress on a terminal: one redrawn line (model k of M, images per second), through a pseudo-terminal
if command -v script >/dev/null; then
    script -qec "'$XF_BIN' rank --bank '$B' --data '$DATA' --threads 1 --no-cache >/dev/null" /dev/null >"$T/tty" 2>&1
    grep -q $'\r.*model 3 of 3: resblock ([0-9]* images/s)' "$T/tty" || bad "no terminal progress: $(cat -v "$T/tty")"
fi

# ---- rank's numbers = extract + score on the same probe set (8x8 digits resized to 12x12, 3 channels;
# extract takes a .npy as ready images, so both read the scikit-learn digits) ----
"$XF_BIN" extract --model "$B/resblock.onnx" --data digits --probe 500 --mean 0.5 --std 0.25 --labels-out "$T/y.npy" \
    --probs "$T/p.npy" -o "$T/f.npy" 2>/dev/null || bad "extract"
"$XF_BIN" score --features "$T/f.npy" --probs "$T/p.npy" --labels "$T/y.npy" --method parc,logme,leep --json >"$T/s.json" 2>/dev/null || bad "score"
"$XF_BIN" rank --bank "$B" --data digits --threads 1 --no-cache --method parc,logme,leep --json >"$T/j2" 2>/dev/null || bad "rank --no-cache"
for m in parc logme leep; do
    a=$(grep '"model": "resblock"' "$T/j2" | grep -oE "\"$m\": [-0-9.e]*" | awk '{print $2}')
    b=$(grep "\"method\": \"$m\"" "$T/s.json" | grep -oE '"score": [-0-9.e]*' | awk '{print $2}')
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= 1e-6 * (m + 1)) }' ||
        bad "$m: rank $a, extract+score $b"
done

# ---- SIGKILL, then rerun: the third model's file is a FIFO, so hashing it blocks after the first two are cached ----
K=$T/killbank
mkdir -p "$K"
cp "$B"/*.onnx "$B/bank.json" "$K"/
rm "$K/resblock.onnx"
mkfifo "$K/resblock.onnx"
"$XF_BIN" rank --bank "$K" --data "$DATA" --threads 1 --cache "$T/c2" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ "$(ls "$T/c2"/*.xfc 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.1
done
sleep 0.2
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ "$(ls "$T/c2"/*.xfc 2>/dev/null | wc -l)" = 2 ] || bad "two entries before the kill: $(ls "$T/c2")"
rm "$K/resblock.onnx"
cp "$B/resblock.onnx" "$K/"
"$XF_BIN" rank --bank "$K" --data "$DATA" --threads 1 --cache "$T/c2" --json >"$T/j3" 2>"$T/err3" || bad "rerun after kill: $(cat "$T/err3")"
grep -q "1 extracted, 2 from the cache" "$T/err3" || bad "rerun should reuse two entries: $(cat "$T/err3")"
grep -q "corrupt" "$T/err3" && bad "rerun found a corrupt entry"
strip() { sed -E 's/, "cached": [a-z]*, "seconds_extract": [0-9.]*, "seconds_score": [0-9.]*//' "$1"; }
[ "$(strip "$T/j3")" = "$(strip "$T/j1")" ] || bad "ranking after SIGKILL differs: $(strip "$T/j3") vs $(strip "$T/j1")"

# ---- a corrupt entry: detected, recomputed, rewritten ----
e=$(ls "$T/c2"/*.xfc | head -1)
printf '\x7f' | dd of="$e" bs=1 seek=200 conv=notrunc 2>/dev/null
"$XF_BIN" rank --bank "$K" --data "$DATA" --threads 1 --cache "$T/c2" --json >"$T/j4" 2>"$T/err4" || bad "rank with a corrupt entry: $(cat "$T/err4")"
grep -q "corrupt cache entry (checksum mismatch): removed, recomputing" "$T/err4" || bad "corrupt entry not reported: $(cat "$T/err4")"
grep -q "1 extracted, 2 from the cache" "$T/err4" || bad "corrupt entry not recomputed: $(cat "$T/err4")"
[ "$(strip "$T/j4")" = "$(strip "$T/j1")" ] || bad "ranking after a corrupt entry differs"
"$XF_BIN" rank --bank "$K" --data "$DATA" --threads 1 --cache "$T/c2" >/dev/null 2>"$T/err5"
grep -q "0 extracted, 3 from the cache" "$T/err5" || bad "recomputed entry not rewritten: $(cat "$T/err5")"
: > "$e.tmp.99999"   # a torn temporary file from some killed run is never read
truncate -s 100 "$e"
"$XF_BIN" rank --bank "$K" --data "$DATA" --threads 1 --cache "$T/c2" >/dev/null 2>"$T/err6"
grep -q "corrupt cache entry (wrong size)" "$T/err6" || bad "truncated entry: $(cat "$T/err6")"

# ---- --finetune-top 2 ----
rank --cache "$T/c1" --method knn --finetune-top 2 --epochs 2 --test-data "$R/digits_test_x.npy" --report "$T/ft.md" >"$T/ft" 2>"$T/fterr" ||
    bad "finetune-top: $(cat "$T/fterr")"
grep -qE '^pick: (convnet|mlp|resblock), validation [0-9.]+%, test [0-9.]+%$' "$T/ft" || bad "finetune-top pick: $(cat "$T/ft")"
grep -qE '^time: ranking .* fine-tuning the whole bank: about [0-9.]+ s \(estimated\)$' "$T/ft" || bad "finetune-top time: $(cat "$T/ft")"
grep -qE '^  (convnet|mlp|resblock): 1 round, last 1 epochs' "$T/ft" || bad "halving: the loser had one short round: $(cat "$T/ft")"
grep -q "## Fine-tuning the top" "$T/ft.md" || bad "report lacks fine-tuning"
rank --cache "$T/c1" --method knn --finetune-top 1 --epochs 1 --json 2>/dev/null | tail -1 |
    grep -qE '^\{"finetune": \{"pick": "[a-z]+", "val_acc": [0-9.]+, "test_acc": null' || bad "finetune json"

# ---- bad input ----
# an empty bank
E=$T/empty
mkdir -p "$E"
echo '{"format": "xfer-bank", "version": 1, "models": []}' >"$E/bank.json"
"$XF_BIN" rank --bank "$E" --data "$DATA" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "the bank has no models" "$T/err" || bad "empty bank: rc $rc $(cat "$T/err")"
"$XF_BIN" bank init "$E" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "no \*.onnx models" "$T/err" || bad "bank init on an empty folder: rc $rc $(cat "$T/err")"
rm "$E/bank.json"
"$XF_BIN" rank --bank "$E" --data "$DATA" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "no bank.json (describe the models with 'xfer bank init" "$T/err" || bad "no bank.json: rc $rc $(cat "$T/err")"

# a model that fails to load (its hash is right: the importer refuses it); the others are ranked
F=$T/failbank
mkdir -p "$F"
cp "$B"/*.onnx "$F"/
head -c 3000 "$B/convnet.onnx" >"$F/broken.onnx"
"$XF_BIN" bank init "$F" >/dev/null 2>&1 && bad "bank init accepted a broken model"
"$XF_BIN" bank init "$F" 2>&1 | grep -q "broken.onnx" || bad "bank init does not name the broken model"
rm "$F/broken.onnx"
"$XF_BIN" bank init "$F" >/dev/null 2>&1 || bad "bank init"
head -c 3000 "$B/convnet.onnx" >"$F/convnet.onnx"
sha=$(sha256sum "$F/convnet.onnx" | cut -d' ' -f1)
sed -i "s/\"sha256\":\t\"$(sha256sum "$B/convnet.onnx" | cut -d' ' -f1)\"/\"sha256\":\t\"$sha\"/" "$F/bank.json"
"$XF_BIN" rank --bank "$F" --data "$DATA" --no-cache >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 1 ] || bad "a model that fails to load: rc $rc"
grep -q "convnet not ranked: .*convnet.onnx" "$T/err" || bad "failed model not named: $(cat "$T/err")"
grep -qE '^ +1  ' "$T/out" && grep -qE '^ +2  ' "$T/out" && grep -qE '^ +-  convnet ' "$T/out" || bad "others not ranked: $(cat "$T/out")"
"$XF_BIN" bank verify "$F" >"$T/out" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/out")" = 1 ] && grep -q "convnet.onnx" "$T/out" || bad "verify: rc $rc $(cat "$T/out")"

# a hash mismatch
H=$T/hashbank
mkdir -p "$H"
cp "$B"/*.onnx "$B/bank.json" "$H"/
printf 'x' >>"$H/mlp.onnx"
"$XF_BIN" rank --bank "$H" --data "$DATA" --no-cache --json >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "mlp not ranked: .*mlp.onnx: SHA-256 .*bank.json says" "$T/err" || bad "hash mismatch: rc $rc $(cat "$T/err")"
[ "$(grep -c '"rank": [12],' "$T/out")" = 2 ] && grep -q '"model": "mlp", "rank": null, "score": null.*"error": ' "$T/out" || bad "hash mismatch json: $(cat "$T/out")"
"$XF_BIN" bank verify "$H" 2>/dev/null | grep -q "mlp.onnx: SHA-256" || bad "verify: hash mismatch"

# bank.json lying about tensors
L=$T/liebank
mkdir -p "$L"
cp "$B"/*.onnx "$B/bank.json" "$L"/
sed -i 's|"/ReduceMean_output_0"|"/no/such/tensor"|' "$L/bank.json"
"$XF_BIN" rank --bank "$L" --data "$DATA" --no-cache >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "resblock not ranked: .*resblock.onnx: bank.json's feature_tensor '/no/such/tensor' is not a tensor the model computes" "$T/err" ||
    bad "lying bank.json: rc $rc $(cat "$T/err")"
sed -i 's|"source_classes":\t6|"source_classes":\t7|' "$L/bank.json"
"$XF_BIN" bank verify "$L" >"$T/out" 2>/dev/null
grep -q "feature_tensor" "$T/out" || bad "verify: lying tensor: $(cat "$T/out")"

# CSV quoting and JSON escaping of a model name
Q=$T/quotebank
mkdir -p "$Q"
cp "$B"/*.onnx "$B/bank.json" "$Q"/
sed -i 's|"name":\t"mlp"|"name":\t"m,l \\"p\\""|' "$Q/bank.json"
"$XF_BIN" rank --bank "$Q" --data "$DATA" --cache "$T/c1" --csv 2>/dev/null | grep -q ',"m,l ""p""",' || bad "csv quoting"
"$XF_BIN" rank --bank "$Q" --data "$DATA" --cache "$T/c1" --json 2>/dev/null | grep -q '"model": "m,l \\"p\\""' || bad "json escaping"

# options
"$XF_BIN" rank --bank "$B" --data "$DATA" --probe -1 >/dev/null 2>&1; [ $? = 2 ] || bad "--probe -1 not a usage error"
"$XF_BIN" rank --bank "$B" --data "$DATA" --mean 0.5 >/dev/null 2>"$T/err"; [ $? = 2 ] && grep -q "bank.json" "$T/err" || bad "--mean"
"$XF_BIN" rank --data "$DATA" >/dev/null 2>&1; [ $? = 2 ] || bad "missing --bank"
"$XF_BIN" rank --bank "$B" --data "$DATA" --method nosuch >/dev/null 2>"$T/err"; [ $? = 1 ] && grep -q "no estimator 'nosuch'" "$T/err" || bad "--method nosuch: $(cat "$T/err")"
"$XF_BIN" rank --bank "$B" --data "$T/none.npy" >/dev/null 2>"$T/err"; [ $? = 1 ] && grep -q "none.npy" "$T/err" || bad "missing data: $(cat "$T/err")"

[ $fail = 0 ] && echo "rank.sh: all checks passed"
exit $fail
