#!/bin/bash
# xfer finetune end to end on the committed fine-tuning fixtures (tests/ref/finetune:
# a small ResNet pretrained on Fashion-MNIST and 500 + 500 handwritten digits, written by
# gen_finetune.py): the JSON report, the tuned ONNX file loading in `xfer extract`, the
# corpus-less test split, and every bad input as one line on stderr with a non-zero exit.
set -u
XF_BIN=${XF_BIN:-build/xfer}
XF_REF=${XF_REF:-tests/ref}
T=${XF_TMP:-/tmp}/finetune_sh.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
F=$XF_REF/finetune
M=$F/resnet.onnx
TR=(--data "$F/target_train_x.npy" --data-labels "$F/target_train_y.npy")
TE=(--test-data "$F/target_test_x.npy" --test-labels "$F/target_test_y.npy")

# an int64 .npy of the given values (numpy format 1.0, header padded to 64 bytes)
npy_i64() {
    local out=$1
    shift
    local n=$#
    local hdr="{'descr': '<i8', 'fortran_order': False, 'shape': ($n,), }"
    while [ $(((10 + ${#hdr} + 1) % 64)) -ne 0 ]; do hdr="$hdr "; done
    {
        printf '\x93NUMPY\x01\x00'
        printf "\\x$(printf %02x $(((${#hdr} + 1) % 256)))\\x$(printf %02x $(((${#hdr} + 1) / 256)))"
        printf '%s\n' "$hdr"
        for v in "$@"; do
            printf "\\x$(printf %02x $((v & 255)))\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
        done
    } >"$out"
}
# a field of the one-line JSON report
field() { sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p" "$1"; }

# 1. head mode with a sweep: JSON fields, a tuned model that extract loads
if "$XF_BIN" finetune --model "$M" "${TR[@]}" "${TE[@]}" --mode head --epochs 3 --json -o "$T/tuned.onnx" \
    >"$T/out.json" 2>"$T/err"; then
    cat "$T/out.json"
    for k in model mode best_lr val_accuracy train_accuracy test_accuracy seconds images_per_second peak_rss_mb; do
        grep -q "\"$k\": " "$T/out.json" || bad "JSON lacks $k"
    done
    grep -q '"val_accuracy": {"0.1": [0-9.]*, "0.03": [0-9.]*, "0.01": [0-9.]*}' "$T/out.json" || bad "val_accuracy per lr"
    acc=$(field "$T/out.json" test_accuracy)
    awk -v a="$acc" 'BEGIN { exit !(a > 20 && a <= 100) }' || bad "test accuracy '$acc'"
    [ -s "$T/tuned.onnx" ] || bad "no tuned model"
    ls "$T" | grep -q '\.tmp' && bad "temporary file left"
    "$XF_BIN" extract --model "$T/tuned.onnx" --data "$F/target_test_x.npy" --data-labels "$F/target_test_y.npy" \
        --probs "$T/p.npy" -o "$T/f.npy" 2>"$T/err2" || bad "extract of the tuned model failed: $(cat "$T/err2")"
    # 10 target classes come out of the new head: (500, 10) float32 = 20,000 bytes + header
    sz=$(stat -c %s "$T/p.npy" 2>/dev/null || echo 0)
    [ "$sz" -ge 20000 ] && [ "$sz" -le 20200 ] || bad "probabilities of the tuned model: $sz bytes"
    if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
        /usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$T/tuned.onnx" ||
            bad "onnx.checker rejects the tuned model"
    fi
else
    bad "finetune head failed: $(cat "$T/err")"
fi

# 2. full mode, one learning rate, a step budget; no test data: validation only, test null
if "$XF_BIN" finetune --model "$M" "${TR[@]}" --mode full --lr 0.05 --steps 3 --batch 32 --json >"$T/full.json" 2>"$T/err"; then
    cat "$T/full.json"
    [ "$(field "$T/full.json" steps)" = 3 ] || bad "steps: $(field "$T/full.json" steps)"
    [ "$(field "$T/full.json" test_accuracy)" = null ] || bad "test accuracy without test data"
    grep -q '"val_accuracy": {}' "$T/full.json" || bad "val_accuracy without a sweep"
else
    bad "finetune full failed: $(cat "$T/err")"
fi

# 3. adapters, a table on stdout
"$XF_BIN" finetune --model "$M" "${TR[@]}" "${TE[@]}" --mode adapters --lr 0.1 --steps 2 >"$T/table" 2>"$T/err" ||
    bad "finetune adapters failed: $(cat "$T/err")"
grep -q "adapters" "$T/table" && grep -q "test accuracy" "$T/table" || bad "adapters table: $(cat "$T/table")"

# 4. documented behaviour: a batch larger than the data (clamped), test classes the
#    training set lacks (a warning; those images count as errors)
"$XF_BIN" finetune --model "$M" "${TR[@]}" --mode head --lr 0.1 --epochs 1 --batch 100000 --json >"$T/b.json" 2>"$T/err" ||
    bad "batch larger than the data: $(cat "$T/err")"
[ "$(field "$T/b.json" steps)" = 1 ] || bad "clamped batch: $(field "$T/b.json" steps) steps"
labs=()
for i in $(seq 0 499); do labs+=($((i % 5))); done
npy_i64 "$T/y5.npy" "${labs[@]}"
"$XF_BIN" finetune --model "$M" --data "$F/target_train_x.npy" --data-labels "$T/y5.npy" "${TE[@]}" --mode head --lr 0.1 \
    --epochs 1 --json >"$T/u.json" 2>"$T/err" || bad "unseen test classes: $(cat "$T/err")"
grep -q "no training image has" "$T/err" || bad "no warning for unseen test classes: $(cat "$T/err")"

# 5. errors: exit status and one line naming the problem
expect_err() { # want_status pattern args...
    local want=$1 pat=$2
    shift 2
    "$XF_BIN" finetune "$@" >"$T/o" 2>"$T/e"
    local st=$?
    [ "$st" = "$want" ] || bad "finetune $*: exit $st (want $want): $(cat "$T/e")"
    [ "$(wc -l <"$T/e")" = 1 ] || bad "finetune $*: not one line: $(cat "$T/e")"
    grep -q -- "$pat" "$T/e" || bad "finetune $*: message lacks '$pat': $(cat "$T/e")"
}
zeros=()
for i in $(seq 0 499); do zeros+=(3); done
npy_i64 "$T/one.npy" "${zeros[@]}"
npy_i64 "$T/short.npy" 1 2 3 4 5 6 7 8 9 0
expect_err 1 "same label" --model "$M" --data "$F/target_train_x.npy" --data-labels "$T/one.npy" --lr 0.1
expect_err 1 "short.npy" --model "$M" --data "$F/target_train_x.npy" --data-labels "$T/short.npy"
expect_err 1 "classifier" --model "$F/no_classifier.onnx" "${TR[@]}" --lr 0.1
expect_err 2 "\-\-lr" --model "$M" "${TR[@]}" --lr 0.1,,0.2
expect_err 2 "\-\-lr" --model "$M" "${TR[@]}" --lr abc
expect_err 2 "\-\-lr" --model "$M" "${TR[@]}" --lr -0.1
expect_err 2 "\-\-lr" --model "$M" "${TR[@]}" --lr 0
expect_err 2 "\-\-epochs" --model "$M" "${TR[@]}" --epochs 0
expect_err 2 "\-\-batch" --model "$M" "${TR[@]}" --batch 1
expect_err 2 "\-\-mode" --model "$M" "${TR[@]}" --mode everything
expect_err 2 "\-\-sweep" --model "$M" "${TR[@]}" --sweep sometimes
expect_err 2 "\-\-val-fraction" --model "$M" "${TR[@]}" --val-fraction 1
expect_err 1 "also an input" --model "$M" "${TR[@]}" -o "$M"  # the file facility refuses it (docs/SECURITY.md)
expect_err 2 "\-\-data is required" --model "$M"
expect_err 1 "nonexistent.onnx" --model "$T/nonexistent.onnx" "${TR[@]}"
expect_err 1 "nonexistent_x.npy" --model "$M" --data "$T/nonexistent_x.npy"
exit $fail
