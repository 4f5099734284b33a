#!/bin/sh
# Engine benchmark, xfer vs PyTorch side by side at the same thread count (default 2):
# runs bench/engine.py (which also exports the ONNX models into build/) and the C
# program build/bench/engine one model at a time, alternating, and prints the ratios.
# Usage: bench/engine.sh [threads (2)] [repeats (2)] [blocks per stage of the small ResNet (2)]
# (from the repository root, after a build)
set -e
T=${1:-2}
R=${2:-2}
K=${3:-2}
BIN=${ENGINE_BIN:-build/bench/engine}
# libgomp's default spin-waiting collapses under a shared machine's load; PASSIVE is
# neutral when the machine is idle (each figure is also run without it below if asked).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# OpenBLAS 0.3.21 does not know Zen 4/5 and falls back to its Haswell (AVX2) kernels;
# on a CPU with AVX-512 tell it so (XF_BENCH_NATIVE_CORE=0 keeps the autodetected core).
if [ "${XF_BENCH_NATIVE_CORE:-1}" = 1 ] && [ -z "$OPENBLAS_CORETYPE" ] && grep -qw avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
echo "engine.sh: threads $T, OMP_WAIT_POLICY=$OMP_WAIT_POLICY, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
[ -x "$BIN" ] || { echo "engine.sh: $BIN not built (cmake --build build)"; exit 1; }
/usr/bin/python3 bench/engine.py "$T" export >/dev/null 2>&1 || echo "engine.sh: ONNX export failed; inference rows will be skipped"
OUT=$(mktemp)
for m in train resnet18 mobilenet_v2; do
    /usr/bin/python3 bench/engine.py "$T" "$m" "$R" "$K" | tee -a "$OUT"
    "$BIN" "$T" "$m" "$R" "$K" | tee -a "$OUT"
done
echo "---- xfer / torch, $T threads (images per second, best of $R) ----"
awk '{ key = $2; if ($1 == "torch") t[key] = $3; if ($1 == "xfer") x[key] = $3 }
     END { for (k in x) if (k in t && t[k] > 0) printf "%-22s xfer %8.1f  torch %8.1f  ratio %.2f\n", k, x[k], t[k], x[k] / t[k] }' "$OUT"
rm -f "$OUT"
