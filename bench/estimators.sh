#!/usr/bin/env bash
# Side-by-side estimator benchmark: xfer (C, 2 threads) against the reference Python
# implementations (bench/ref/, NumPy/SciPy/scikit-learn, 2 threads) on the same inputs.
# Usage: bench/estimators.sh [methods] [cases]
set -euo pipefail
cd "$(dirname "$0")/.."
D=build/bench/data
M=${1:-}
CASES=${2:-small,wide,large,tall}
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2
/usr/bin/python3 bench/estimators.py --gen $D
build/bench/estimators $D --threads 2 --cases "$CASES" ${M:+--methods $M} | tee build/bench/c.jsonl
/usr/bin/python3 bench/estimators.py --time $D --cases "$CASES" ${M:+--methods $M} | tee build/bench/py.jsonl
/usr/bin/python3 bench/estimators.py --join build/bench/c.jsonl build/bench/py.jsonl | tee build/bench/estimators.md
