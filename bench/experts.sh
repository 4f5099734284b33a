#!/bin/sh
# Expert models on the corpus's 7 targets: the paper's table (Puigcerver et al. 2021,
# Tables 1-2) at this project's scale, printed by bench/experts.py: test accuracy after
# fine-tuning the generalist, each proxy's pick, the best expert and a random control, for
# full and adapter experts, with the mean over targets and the cost of selection against
# fine-tuning every expert. docs/EXPERTS.md says what it measures.
# Usage: bench/experts.sh [BANK (data/experts-bank)] [CORPUS (data/corpus)] [epochs (5)] [lr (0.03)]
# Builds the corpus and the bank first if they are missing (both resumable/reused).
# EXPERTS_BUILD_OPTS: options of `xfer experts build` (default --random-controls);
# EXPERTS_TARGETS: comma-separated subset of targets; EXPERTS_JSON: write the numbers there.
set -e
cd "$(dirname "$0")/.."
BANK=${1:-data/experts-bank}
CORPUS=${2:-data/corpus}
E=${3:-5}
LR=${4:-0.03}
X=${XFER_BIN:-build/xfer}
[ -f "$CORPUS/corpus.json" ] || "$X" data build --out "$CORPUS"
exec /usr/bin/python3 bench/experts.py --bank "$BANK" --corpus "$CORPUS" --xfer "$X" --epochs "$E" --lr "$LR" \
    --build-opts="${EXPERTS_BUILD_OPTS:---random-controls}" \
    --targets "${EXPERTS_TARGETS:-hand-digits,new-scripts,new-fonts,font-digits,script-id,fashion-fine,fashion-coarse}" \
    ${EXPERTS_JSON:+--json-out "$EXPERTS_JSON"}
