#!/bin/bash
# Zoo-style classic CNNs at opsets 6, 7 and 9 (tests/ref/onnx/zoo, written by gen_zoo.py:
# LRN, PRelu, BatchNormalization with spatial / is_test, legacy broadcast bias, Dropout,
# Softmax) through the CLI: `xfer extract` gives the (N, D) features of the last Gemm's
# input, `xfer finetune --mode full --epochs 1` trains through every op (backward of LRN,
# PRelu, BN) on the digits fixtures, and the tuned model, written as opset 13, extracts
# again. AlexNet-style must learn (test accuracy well above the 10% of chance after one
# epoch from random weights: 56% when written); the others must run and report.
set -u
XF_BIN=${XF_BIN:-build/xfer}
XF_REF=${XF_REF:-tests/ref}
T=${XF_TMP:-/tmp}/zoo_sh.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
F=$XF_REF/finetune
Z=$XF_REF/onnx/zoo
field() { sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p" "$1"; }
# bytes of an (N, D) float32 .npy: data plus a header of 64..256 bytes
npy_ok() { local sz; sz=$(stat -c %s "$1" 2>/dev/null || echo 0); [ "$sz" -gt $(($2 * 4 + 63)) ] && [ "$sz" -le $(($2 * 4 + 256)) ]; }

for spec in alexnet_op7:32:30 inception_op9:12:0 caffe2_op6:12:0; do
    IFS=: read -r m D floor <<<"$spec"
    "$XF_BIN" extract --model "$Z/$m.onnx" --data "$F/target_test_x.npy" -o "$T/$m.f.npy" 2>"$T/err" ||
        bad "$m: extract failed: $(tail -1 "$T/err")"
    npy_ok "$T/$m.f.npy" $((500 * D)) || bad "$m: features are not (500, $D) float32"
    if "$XF_BIN" finetune --model "$Z/$m.onnx" --data "$F/target_train_x.npy" --data-labels "$F/target_train_y.npy" \
        --test-data "$F/target_test_x.npy" --test-labels "$F/target_test_y.npy" --mode full --epochs 1 --lr 0.05 \
        --batch 16 --seed 1 --json -o "$T/$m.tuned.onnx" >"$T/$m.json" 2>"$T/err"; then
        cat "$T/$m.json"
        acc=$(field "$T/$m.json" test_accuracy)
        awk -v a="$acc" -v f="$floor" 'BEGIN { exit !(a >= f && a <= 100 && a != "") }' ||
            bad "$m: test accuracy '$acc' (at least $floor expected)"
        "$XF_BIN" extract --model "$T/$m.tuned.onnx" --data "$F/target_test_x.npy" --probs "$T/$m.p.npy" \
            -o "$T/$m.f2.npy" 2>"$T/err" || bad "$m: extract of the tuned model failed: $(tail -1 "$T/err")"
        npy_ok "$T/$m.p.npy" 5000 || bad "$m: probabilities of the tuned model are not (500, 10)"
    else
        bad "$m: finetune failed: $(tail -1 "$T/err")"
    fi
done
exit $fail
