#!/bin/bash
# xfer extract end to end: features and probabilities of the small GroupNorm CNN
# (tests/ref/onnx, written by gen_onnx.py with PyTorch) against PyTorch's, a named
# layer, and the one-line errors. Comparison without Python: od dumps the float32
# payloads, awk checks max|a-b| / max|b| <= 1e-4.
set -u
XF_BIN=${XF_BIN:-build/xfer}
XF_REF=${XF_REF:-tests/ref}
T=${XF_TMP:-/tmp}/extract_sh.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

# float32 payload of a .npy (header length at bytes 8-9, little endian)
payload() {
    local hl
    hl=$(od -A n -t u2 -j 8 -N 2 "$1" | tr -d ' ')
    od -A n -v -t f4 -j $((10 + hl)) "$1" | tr -s ' ' '\n' | grep -v '^$'
}
# relative error max|a-b|/max|b| of two .npy files, printed; exit 1 above tol or on size mismatch
compare() {
    paste <(payload "$1") <(payload "$2") | awk -v tol="$3" '
        NF != 2 { bad = 1 }
        { d = $1 - $2; if (d < 0) d = -d; if (d > md) md = d; b = $2 < 0 ? -$2 : $2; if (b > mb) mb = b; n++ }
        END { if (bad || n == 0 || mb == 0) { print "size mismatch"; exit 1 }
              printf "%.3g (%d values)\n", md / mb, n; exit (md / mb <= tol) ? 0 : 1 }'
}

M=$XF_REF/onnx/small_cnn_op13.onnx
X=$XF_REF/onnx/input32.npy

# 1. features (auto = input of the last Gemm) and probabilities
if "$XF_BIN" extract --model "$M" --images "$X" --probs "$T/P.npy" --batch 1 --threads 1 -o "$T/F.npy" 2>"$T/err"; then
    grep -q extract "$T/err" || bad "no progress on stderr"
    r=$(compare "$T/F.npy" "$XF_REF/onnx/small_cnn_op13_features.npy" 1e-4) || bad "features differ: $r"
    echo "features rel err $r"
    # probs = softmax(PyTorch logits), computed here in awk
    payload "$XF_REF/onnx/small_cnn_op13_logits.npy" | awk '{ v[NR] = $1 } END {
        for (i = 0; i < NR / 10; i++) { m = -1e30; for (k = 1; k <= 10; k++) if (v[i*10+k] > m) m = v[i*10+k];
            s = 0; for (k = 1; k <= 10; k++) s += exp(v[i*10+k] - m);
            for (k = 1; k <= 10; k++) printf "%.9g\n", exp(v[i*10+k] - m) / s } }' >"$T/p_ref.txt"
    r=$(paste <(payload "$T/P.npy") "$T/p_ref.txt" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > md) md = d; n++ }
        END { printf "%.3g (%d values)\n", md, n; exit (n == 20 && md < 1e-5) ? 0 : 1 }') || bad "probs differ: $r"
    echo "probs max abs err $r"
else
    bad "extract failed: $(cat "$T/err")"
fi

# 2. a named layer: the logits themselves
if "$XF_BIN" extract --model "$M" --images "$X" --layer logits -o "$T/L.npy" 2>"$T/err"; then
    r=$(compare "$T/L.npy" "$XF_REF/onnx/small_cnn_op13_logits.npy" 1e-4) || bad "logits differ: $r"
    echo "logits rel err $r"
else
    bad "extract --layer logits failed: $(cat "$T/err")"
fi

# 2b. an intermediate tensor (the executor reuses buffers: it must be kept): fc1 before
#     its ReLU; relu() of it is the feature tap
if "$XF_BIN" extract --model "$M" --images "$X" --layer /fc1/Gemm_output_0 -o "$T/G.npy" 2>"$T/err"; then
    payload "$T/G.npy" | awk '{ print ($1 > 0 ? $1 : 0) }' >"$T/g_relu.txt"
    r=$(paste "$T/g_relu.txt" <(payload "$XF_REF/onnx/small_cnn_op13_features.npy") | awk '
        { d = $1 - $2; if (d < 0) d = -d; if (d > md) md = d; b = $2 < 0 ? -$2 : $2; if (b > mb) mb = b; n++ }
        END { printf "%.3g (%d values)\n", md / mb, n; exit (n == 64 && md / mb <= 1e-4) ? 0 : 1 }') || bad "intermediate layer: $r"
    echo "relu(fc1) vs features rel err $r"
else
    bad "extract --layer /fc1/Gemm_output_0 failed: $(cat "$T/err")"
fi

# 3. a data spec instead of a .npy: a two-image IDX file (28x28 gray, resized to the
#    model's 3x32x32 by xf_data_open), labels found beside it by the standard name
{ printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c'
  head -c 1568 /dev/zero | tr '\0' '\200'; } >"$T/tiny-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x01\x00' >"$T/tiny-labels-idx1-ubyte"
if "$XF_BIN" extract --model "$M" --images "$T/tiny-images-idx3-ubyte" --mean 0.5 --std 0.25 -o "$T/D.npy" 2>"$T/err"; then
    head -c 80 "$T/D.npy" | grep -q "'shape': (2, 32)" || bad "data spec: wrong output shape"
else
    bad "extract on an IDX data spec failed: $(cat "$T/err")"
fi

# 4. errors: exit status 1 (2 for usage) and one line naming the file
expect_err() { # code pattern args...
    local code=$1 pat=$2
    shift 2
    "$XF_BIN" extract "$@" -o "$T/never.npy" 2>"$T/err"
    local rc=$?
    [ $rc -eq "$code" ] || bad "exit $rc (want $code) for: $* : $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -eq 1 ] || bad "not one line for: $* : $(cat "$T/err")"
    grep -qF -- "$pat" "$T/err" || bad "'$pat' missing for: $* : $(cat "$T/err")"
    [ -e "$T/never.npy" ] && bad "output written for: $*"
}
expect_err 1 "bad/unsupported_op.onnx: node 'lstm_7' (op LSTM): unsupported op" --model "$XF_REF/onnx/bad/unsupported_op.onnx" --images "$X"
expect_err 1 "bad/truncated.onnx: not an ONNX model" --model "$XF_REF/onnx/bad/truncated.onnx" --images "$X"
expect_err 1 "no_such.onnx" --model "$T/no_such.onnx" --images "$X"
expect_err 1 "hand_input.npy: image dimension 1 is 4" --model "$M" --images "$XF_REF/onnx/hand_input.npy"
expect_err 1 "no tensor named 'nope'" --model "$M" --images "$X" --layer nope
expect_err 1 "bad_magic.npy" --model "$M" --images "$XF_REF/npy/bad_magic.npy"
expect_err 2 "--model is required" --images "$X"
expect_err 2 "--batch must be" --model "$M" --images "$X" --batch 0
expect_err 2 "--std takes" --model "$M" --images "$X" --std 0

[ $fail -eq 0 ] && echo "extract.sh: ok"
exit $fail
