#!/bin/bash
# The bad-input table (tests/integration/bad_input.tsv): every kind of bad file or
# argument, across all formats and commands, must end with one error line on stderr that
# names the file or argument, and the exit status the table gives (1 for bad input, 2 for
# usage). A signal (status >= 128: a crash, an abort, a timeout) or a sanitizer report
# (under make test-asan) fails the row whatever it says.
set -u
B=${XF_BIN:-build/xfer}
R=${XF_REF:-tests/ref}
T=${XF_TMP:-/tmp}/bad_input_sh.$$
TABLE=$(dirname "$0")/bad_input.tsv
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
export B R T

# ---- the scratch files the table refers to ----
mkfifo "$T/fifo"
: >"$T/empty.npy"
: >"$T/afile"
cp "$R/onnx/small_cnn_op13.onnx" "$T/model.onnx"
# 3 images of 28 x 28 (labels beside them, by name): too few for t10k's 10000 labels
{ printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 2352 /dev/zero; } >"$T/digits-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x00' >"$T/digits-labels-idx1-ubyte"
# image folders: one bad image beside a good one
for f in "$R"/data/bad_img/*; do
    n=$(basename "$f"); d="$T/img_${n//./_}"
    mkdir -p "$d/a_good" "$d/b_bad"
    cp "$R/data/folder/a_dog/g1_gray.png" "$d/a_good/1.png"
    cp "$f" "$d/b_bad/$n"
done
mkdir -p "$T/img_empty/a" "$T/img_empty/empty_class" "$T/img_loop/a" "$T/img_loop_free/a" "$T/img_loop_free/b" "$T/noclasses"
cp "$R/data/folder/a_dog/g1_gray.png" "$T/img_empty/a/1.png"
cp "$R/data/folder/a_dog/g1_gray.png" "$T/img_loop/a/1.png"
ln -s .. "$T/img_loop/a/loop"
cp "$R/data/folder/a_dog/g1_gray.png" "$T/img_loop_free/a/1.png"
cp "$R/data/folder/a_dog/g1_gray.png" "$T/img_loop_free/b/1.png"
cp "$R/data/folder/a_dog/g1_gray.png" "$T/noclasses/1.png"
# a corpus task whose images file is damaged
mkdir -p "$T/corpus/tiny"
cp "$R"/data/corpus/tiny/* "$T/corpus/tiny/"
head -c 100 "$R/data/corpus/tiny/train_x.npy" >"$T/corpus/tiny/train_x.npy"

# a bank whose bank.json holds a mean beyond the float range; expert bank records
mkdir -p "$T/bank_mean" "$T/experts_huge" "$T/experts_open"
cp "$R/bank/mlp.onnx" "$T/bank_mean/"
"$B" bank init "$T/bank_mean" >/dev/null 2>&1
sed -i 's/"mean":\t\[0\]/"mean": [1e300]/' "$T/bank_mean/bank.json"
sed 's/"channels": 1/"channels": 1e300/' "$(dirname "$0")"/../fuzz/corpus/fuzz_experts_json/good.json >"$T/experts_huge/experts.json"
cp "$(dirname "$0")"/../fuzz/corpus/fuzz_experts_json/unfinished.json "$T/experts_open/experts.json"

fail=0 n=0
while IFS=$'\t' read -r kind want pat cmd; do
    case "$kind" in ''|'#'*) continue ;; esac
    n=$((n + 1))
    pat=$(eval "printf %s \"$pat\"")
    eval "timeout 60 $cmd" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    last=$(tail -n 1 "$T/err")
    if [ $rc -ge 128 ] || [ $rc -eq 124 ]; then
        echo "FAIL [$kind]: killed or timed out (exit $rc): $(tail -c 400 "$T/err")" >&2; fail=1
    elif grep -q 'runtime error:\|Sanitizer' "$T/err"; then
        echo "FAIL [$kind]: sanitizer report: $(grep -m 3 'runtime error:\|Sanitizer' "$T/err")" >&2; fail=1
    elif [ "$rc" != "$want" ]; then
        echo "FAIL [$kind]: exit $rc, want $want: $last" >&2; fail=1
    elif ! grep -qF -- "$pat" <<<"$last"; then
        echo "FAIL [$kind]: the error line does not name '$pat': $last" >&2; fail=1
    elif ! grep -q '^xfer' <<<"$last"; then
        echo "FAIL [$kind]: the last stderr line is not an xfer error line: $last" >&2; fail=1
    fi
done <"$TABLE"
[ $n -ge 60 ] || { echo "FAIL: only $n rows in $TABLE (want at least 60)" >&2; fail=1; }
[ $fail -eq 0 ] && echo "bad_input.sh: $n kinds of bad input, each one line and the right exit status"
exit $fail
