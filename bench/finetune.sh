#!/bin/sh
# Fine-tuning benchmark, xfer vs PyTorch: the whole `xfer finetune` protocol (3 learning
# rates on an 80/20 split + retrain + test) per network (small ResNet, MobileNetV2-style,
# GroupNorm net) and mode, at 1 and 2 threads, on a VTAB-1k-sized task (1000 digits at
# 32x32) that bench/finetune.py builds, with the pretrained ONNX models, in a temporary
# directory. Prints one table (seconds, torch/xfer ratio, test accuracy, peak RSS).
# Usage: bench/finetune.sh [epochs (5)] [threads (1,2)] [modes (full,head)] [nets (all)]
# (from the repository root, after a build; FINETUNE_BENCH_DIR=DIR keeps/reuses the task)
set -e
cd "$(dirname "$0")/.."
E=${1:-5}
T=${2:-1,2}
M=${3:-full,head}
N=${4:-resnet,mobilenet,groupnorm}
# Each side runs with its own OpenMP defaults, as users get them (xfer's CLI asks libgomp
# for a bounded spin, cli/main.c; PyTorch keeps libgomp's). Time on an idle machine only.
if [ -n "$FINETUNE_BENCH_DIR" ]; then
    D=$FINETUNE_BENCH_DIR
else
    D=$(mktemp -d)
    trap 'rm -rf "$D"' EXIT
fi
echo "finetune.sh: epochs $E, threads $T, modes $M, task in $D"
[ -f "$D/task.json" ] || /usr/bin/python3 -W ignore bench/finetune.py build "$D"
/usr/bin/python3 -W ignore bench/finetune.py run "$D" --epochs "$E" --threads "$T" --modes "$M" --nets "$N" \
    --xfer "${XFER_BIN:-build/xfer}"
