#!/usr/bin/env bash
# Ranking a bank: xfer rank against the equivalent Python pipeline (PyTorch extraction +
# the papers' estimator code in bench/ref/), side by side, per model: extraction and
# scoring seconds on the same probe images, same thread count.
#   banks: 16 small models (CNN / MLP / residual, 1x28x28) and 4 torchvision models with
#          random weights (resnet18, mobilenet_v2, efficientnet_b0, densenet121; 3x224x224),
#          exported by bench/rank.py into a temporary folder;
#   probe: 500 Fashion-MNIST test images (resized and replicated per model by both sides).
# Usage: bench/rank.sh [n_images] [n_small] [imagenet,archs] [threads]
#   e.g. a quick check: bench/rank.sh 40 2 resnet18 1
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
SMALL=${2:-16}
IMAGENET=${3-resnet18,mobilenet_v2,efficientnet_b0,densenet121}
THREADS=${4:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
XF=build/xfer
W=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench-rank.XXXXXX")
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 bench/rank.py --make "$W" --small "$SMALL" --imagenet "$IMAGENET"
/usr/bin/python3 bench/rank.py --data "$W/probe_x.npy" --n "$N"
"$XF" bank init "$W/small" --mean 0.286 --std 0.353 --source random >/dev/null
[ -n "$IMAGENET" ] && "$XF" bank init "$W/imagenet" --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --source random >/dev/null
mkdir -p build/bench
for bank in small imagenet; do
    [ "$bank" = imagenet ] && [ -z "$IMAGENET" ] && continue
    echo "== bank $bank: $N probe images, $THREADS threads"
    "$XF" rank --bank "$W/$bank" --data "$W/probe_x.npy" --probe 0 --no-cache --method parc,logme,knn,leep \
        --threads "$THREADS" --json >"build/bench/rank_$bank.xfer.jsonl"
    /usr/bin/python3 bench/rank.py --python "$W/$bank" "$W/probe_x.npy" --threads "$THREADS" >"build/bench/rank_$bank.py.jsonl"
    /usr/bin/python3 bench/rank.py --join "build/bench/rank_$bank.xfer.jsonl" "build/bench/rank_$bank.py.jsonl" |
        tee "build/bench/rank_$bank.md"
done
