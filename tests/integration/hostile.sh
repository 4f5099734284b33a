#!/bin/bash
# Hostile input and hostile output paths (docs/SECURITY.md), through the CLI: outputs never
# replace a device, a FIFO or an input and appear together or not at all; image folders
# with directory-link loops; IDX decompression bombs (limit from the header, streamed
# probes); and the smaller defects (NaN pixels, FIFO inputs, unwritable stdout, repeated
# or out-of-range parameters, CSV quoting, option checks before decoding). Every
# failure must be one line on stderr and an exit status of 1 or 2, never a signal.
set -u
XF_BIN=${XF_BIN:-build/xfer}
XF_REF=${XF_REF:-tests/ref}
T=${XF_TMP:-/tmp}/hostile_sh.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
M=$XF_REF/onnx/small_cnn_op13.onnx
X=$XF_REF/onnx/input32.npy
F=$XF_REF/cli/feat_good.npy
Y=$XF_REF/cli/labels.npy

# expect RC PATTERN CMD...: exit status RC, one stderr line matching PATTERN
expect() {
    local want=$1 pat=$2; shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne "$want" ]; then bad "$* -> exit $rc (want $want): $(head -c 300 "$T/err")"; return 1; fi
    if grep -q 'runtime error:\|Sanitizer' "$T/err"; then bad "$* -> sanitizer report: $(grep -m 3 'runtime error:\|Sanitizer' "$T/err")"; return 1; fi
    # the error is the last line (progress lines may come before it)
    if ! tail -n 1 "$T/err" | grep -q -- "$pat"; then bad "$* -> message '$(head -c 300 "$T/err")' lacks '$pat'"; return 1; fi
    return 0
}

# ---- 1. outputs ----------------------------------------------------------------------
# a character device at -o stays one. Never the system's /dev/null: a regressed binary
# would replace it; a private copy made with mknod (root only) shows the same safely.
if [ "$(id -u)" = 0 ] && mknod -m 666 "$T/nul" c 1 3 2>/dev/null; then
    "$XF_BIN" extract --model "$M" --images "$X" -o "$T/nul" 2>"$T/err" || bad "extract -o device: $(cat "$T/err")"
    [ -c "$T/nul" ] || bad "extract -o a character device replaced it by a regular file"
else
    echo "hostile.sh: mknod part skipped (not root)"
fi
# a FIFO at -o: written in place, the reader gets a whole .npy
mkfifo "$T/fifo"
(timeout 60 cat "$T/fifo" >"$T/fifo.out") &
reader=$!
timeout 60 "$XF_BIN" extract --model "$M" --images "$X" -o "$T/fifo" 2>"$T/err" || bad "extract -o FIFO: $(cat "$T/err")"
wait $reader
[ -p "$T/fifo" ] || bad "the FIFO was replaced"
head -c 6 "$T/fifo.out" | grep -q NUMPY || bad "the FIFO's reader got no .npy"
# an output that is an input: refused, the input unchanged
cp "$M" "$T/model.onnx"
expect 1 "also an input" "$XF_BIN" extract --model "$T/model.onnx" --images "$X" -o "$T/model.onnx"
cmp -s "$M" "$T/model.onnx" || bad "-o = --model changed the model"
cp "$X" "$T/images.npy"
expect 1 "also an input" "$XF_BIN" extract --model "$M" --images "$T/images.npy" --probs "$T/./images.npy" -o "$T/F.npy"
cmp -s "$X" "$T/images.npy" || bad "--probs = --images changed the images"
[ -e "$T/F.npy" ] && bad "-o appeared although --probs was refused"
expect 1 "named twice" "$XF_BIN" extract --model "$M" --images "$X" --probs "$T/same.npy" -o "$T/same.npy"
expect 1 "also an input" "$XF_BIN" finetune --model "$T/model.onnx" --data "$T/images.npy" -o "$T/model.onnx"
expect 1 "directory" "$XF_BIN" extract --model "$M" --images "$X" -o "$T"
# all or nothing: --probs cannot be written -> -o does not appear
expect 1 "no/such" "$XF_BIN" extract --model "$M" --images "$X" --probs "$T/no/such/P.npy" -o "$T/F.npy"
[ -e "$T/F.npy" ] && bad "-o F.npy stayed when --probs could not be written"
# all or nothing: extraction fails after the data were read -> --labels-out does not appear
{ printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x1c\x00\x00\x00\x1c'
  head -c 3136 /dev/zero | tr '\0' '\200'; } >"$T/tiny-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x04\x00\x01\x00\x01' >"$T/tiny-labels-idx1-ubyte"
expect 1 "no tensor named" "$XF_BIN" extract --model "$M" --images "$T/tiny-images-idx3-ubyte" --layer nonesuch \
    --labels-out "$T/y.npy" -o "$T/F.npy"
[ -e "$T/y.npy" ] && bad "--labels-out stayed when extraction failed"
"$XF_BIN" extract --model "$M" --images "$T/tiny-images-idx3-ubyte" --labels-out "$T/y.npy" -o "$T/F.npy" 2>"$T/err" ||
    bad "extract with --labels-out: $(cat "$T/err")"
[ -s "$T/y.npy" ] && [ -s "$T/F.npy" ] || bad "a successful extract wrote both outputs"
# an input the library finds by itself (the labels beside an IDX file) is an input too
cp "$T/tiny-labels-idx1-ubyte" "$T/labels.orig"
expect 1 "also an input" "$XF_BIN" extract --model "$M" --images "$T/tiny-images-idx3-ubyte" --labels-out "$T/tiny-labels-idx1-ubyte" -o "$T/F2.npy"
cmp -s "$T/labels.orig" "$T/tiny-labels-idx1-ubyte" || bad "--labels-out replaced the labels file it read"
[ -e "$T/F2.npy" ] && bad "-o appeared although --labels-out was refused"
# features --out-dir: a kind that fails late (pool larger than the image) -> nothing written
expect 1 "pool" "$XF_BIN" features --data "$T/tiny-images-idx3-ubyte" --probe 0 --kind raw,pool:99 --out-dir "$T/fo"
[ -e "$T/fo/labels.npy" ] || [ -e "$T/fo/raw.npy" ] && bad "features left outputs after a failed kind"
ls "$T/fo" 2>/dev/null | grep -q tmp && bad "features left temporaries"
"$XF_BIN" features --data "$T/tiny-images-idx3-ubyte" --probe 0 --kind raw,pool:2 --out-dir "$T/fo" 2>"$T/err" ||
    bad "features: $(cat "$T/err")"
[ -s "$T/fo/labels.npy" ] && [ -s "$T/fo/raw.npy" ] && [ -s "$T/fo/pool-2.npy" ] && [ -s "$T/fo/probe_idx.npy" ] ||
    bad "features wrote all outputs"
ls "$T" | grep -q '\.tmp\.' && bad "temporaries left in $T: $(ls "$T" | grep '\.tmp\.')"

# ---- 3. image folders with directory-link loops ------------------------------------------
mkdir -p "$T/img/a" "$T/img/b"
cp "$XF_REF/data/folder/a_dog/g1_gray.png" "$T/img/a/1.png"
cp "$XF_REF/data/folder/b_cat/r2_rgb.png" "$T/img/b/1.png"
ln -s . "$T/img/a/self"
expect 1 "symbolic link loop" "$XF_BIN" features --data "$T/img" --size 8 --channels 1 --probe 0 --kind raw --out-dir "$T/fl"
grep -q "img/a/self" "$T/err" || bad "the loop message names the link: $(cat "$T/err")"
rm "$T/img/a/self"
ln -s .. "$T/img/b/up"
expect 1 "symbolic link loop" "$XF_BIN" features --data "$T/img" --size 8 --channels 1 --probe 0 --kind raw --out-dir "$T/fl"
rm "$T/img/b/up"
ln -s . "$T/img/c"
expect 1 "symbolic link loop" "$XF_BIN" features --data "$T/img" --size 8 --channels 1 --probe 0 --kind raw --out-dir "$T/fl"
rm "$T/img/c"
# a link to a folder elsewhere (no loop) is followed, as ImageFolder does
mkdir -p "$T/elsewhere"
cp "$XF_REF/data/folder/a_dog/g1_gray.png" "$T/elsewhere/2.png"
ln -s "$(cd "$T/elsewhere" && pwd)" "$T/img/a/more"
"$XF_BIN" features --data "$T/img" --size 8 --channels 1 --probe 0 --kind raw --out-dir "$T/fl" 2>"$T/err" ||
    bad "a folder with a link (no loop): $(cat "$T/err")"
head -c 80 "$T/fl/raw.npy" | grep -q "'shape': (3, 64)" || bad "the linked folder's image is counted once"

# ---- 6. IDX decompression bombs ------------------------------------------------------------
# 300 images of 100 x 100 (3 MB, 12 MB as float32), gzip: a few KB
idx3() { # N H W -> header
    printf '\x00\x00\x08\x03'
    for v in "$@"; do printf "\\x$(printf %02x $((v >> 24 & 255)))\\x$(printf %02x $((v >> 16 & 255)))\\x$(printf %02x $((v >> 8 & 255)))\\x$(printf %02x $((v & 255)))"; done
}
{ idx3 300 100 100; head -c 3000000 /dev/zero; } | gzip -c >"$T/bomb-images-idx3-ubyte.gz"
{ printf '\x00\x00\x08\x01\x00\x00\x01\x2c'; for i in $(seq 150); do printf '\x00\x01'; done; } | gzip -c >"$T/bomb-labels-idx1-ubyte.gz"
expect 1 "above the limit" "$XF_BIN" features --data "$T/bomb-images-idx3-ubyte.gz" --max-bytes 1000000 --probe 0 --kind raw --out-dir "$T/fb"
grep -q "bomb-images-idx3-ubyte.gz" "$T/err" || bad "the limit message names the file"
# a probe is streamed: 20 images of the 300 fit under the same limit
"$XF_BIN" features --data "$T/bomb-images-idx3-ubyte.gz" --max-bytes 1000000 --probe 20 --kind raw --out-dir "$T/fb" 2>"$T/err" ||
    bad "streamed probe under the limit: $(cat "$T/err")"
head -c 80 "$T/fb/raw.npy" | grep -q "'shape': (20, 10000)" || bad "streamed probe: 20 x 10000"
# ... and gives the same probe as the whole load
"$XF_BIN" features --data "$T/bomb-images-idx3-ubyte.gz" --probe 20 --seed 7 --kind pool:5 --out-dir "$T/fs" 2>/dev/null &&
    "$XF_BIN" features --data "$T/bomb-images-idx3-ubyte.gz" --data-labels "$T/bomb-labels-idx1-ubyte.gz" --probe 20 --seed 7 --kind pool:5 --out-dir "$T/fw" 2>/dev/null ||
    bad "probe runs"
cmp -s "$T/fs/probe_idx.npy" "$T/fw/probe_idx.npy" && cmp -s "$T/fs/labels.npy" "$T/fw/labels.npy" || bad "streamed probe: same sample"
# a header declaring 5000 x 1000 x 1000 (5 GB) with almost nothing behind it: refused from the header
{ idx3 5000 1000 1000; head -c 1000 /dev/zero; } | gzip -c >"$T/huge-images-idx3-ubyte.gz"
cp "$T/bomb-labels-idx1-ubyte.gz" "$T/huge-labels-idx1-ubyte.gz"
expect 1 "above the limit" "$XF_BIN" features --data "$T/huge-images-idx3-ubyte.gz" --probe 0 --kind raw --out-dir "$T/fh"
expect 1 "above the limit" "$XF_BIN" extract --model "$M" --images "$T/huge-images-idx3-ubyte.gz" -o "$T/H.npy"

# ---- 7. the smaller defects ------------------------------------------------------------------
# NaN pixels in a float image array (features used to accept them; extract rejects them)
npy_header() { # DICT -> a version 1.0 header padded to 128 bytes
    local d=$1
    printf '\x93NUMPY\x01\x00\x76\x00%s%*s\n' "$d" $((117 - ${#d})) ''
}
{ npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 2), }"
  printf '\x00\x00\x00\x00\x00\x00\xc0\x7f\x00\x00\x00\x00\x00\x00\x00\x00'
  head -c 16 /dev/zero; } >"$T/nan_x.npy"
{ npy_header "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"
  printf '\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00'; } >"$T/nan_y.npy"
expect 1 "not finite\|finite" "$XF_BIN" features --data "$T/nan_x.npy" --probe 0 --kind raw --out-dir "$T/fn"
grep -q "nan_x.npy" "$T/err" || bad "the NaN message names the file: $(cat "$T/err")"
# a FIFO as --features: refused at once, not a hang
mkfifo "$T/feat_fifo"
expect 1 "not a regular file" "$XF_BIN" score --features "$T/feat_fifo" --labels "$Y" --method knn
# results that cannot be written are an error
if [ -w /dev/full ]; then
    "$XF_BIN" score --features "$F" --labels "$Y" --method knn >/dev/full 2>"$T/err"; rc=$?
    [ $rc -eq 1 ] && grep -q "standard output" "$T/err" || bad "score > /dev/full: exit $rc, $(cat "$T/err")"
fi
expect 2 "given twice" "$XF_BIN" score --features "$F" --labels "$Y" --method knn --param knn.k=3 --param knn.k=5
expect 1 "block=-4 is negative" "$XF_BIN" score --features "$F" --labels "$Y" --method knn --param knn.block=-4
expect 1 "block=-1 is negative" "$XF_BIN" score --features "$F" --labels "$Y" --method parc --param parc.block=-1
expect 1 "log=7 must be 0 or 1" "$XF_BIN" score --features "$F" --labels "$Y" --probs "$XF_REF/cli/probs.npy" --method leep --param leep.log=7
expect 1 "out of the 64-bit integer range" "$XF_BIN" score --features "$F" --labels "$Y" --method knn --param knn.k=99999999999999999999999
expect 1 "max_classes" "$XF_BIN" score --features "$F" --labels "$Y" --method gbc --param gbc.max_classes=1
# --threads 1024 on a small input: PARC's scratch is bounded by the pairs, not the threads
/usr/bin/env time -f %M "$XF_BIN" score --features "$F" --labels "$Y" --method parc --threads 1024 >/dev/null 2>"$T/err" &&
    kb=$(tail -1 "$T/err") && [ "${kb:-0}" -lt 400000 ] 2>/dev/null || { [ -x /usr/bin/time ] && bad "parc --threads 1024: $(tail -2 "$T/err") KB"; }
# CSV fields holding a comma or a quote are quoted
cp "$F" "$T/a,b\"c.npy"
"$XF_BIN" score --features "$T/a,b\"c.npy" --labels "$Y" --method knn --csv >"$T/csv" 2>/dev/null
grep -q '^"a,b""c",knn,' "$T/csv" || bad "CSV quoting: $(cat "$T/csv")"
# --kind is checked before the data are read: a bad kind wins over a missing data file
expect 1 "unknown feature kind 'foo'" "$XF_BIN" features --data "$T/no-such-data" --kind raw,foo --out-dir "$T/fk"
expect 1 "data-labels" "$XF_BIN" features --data "$T/img" --data-labels "$Y" --size 8 --kind raw --out-dir "$T/fd"
expect 2 "1 or 3" "$XF_BIN" features --data "$T/img" --mean 1,2 --kind raw --out-dir "$T/fd"

[ $fail -eq 0 ] && echo "hostile.sh: all checks passed"
exit $fail
