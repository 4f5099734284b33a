#!/usr/bin/env bash
# Runs each libFuzzer target of build-fuzz/ (make fuzz) one after the other, seeded with
# a scratch copy of its committed corpus, and prints one line of figures per target:
# executions, executions/s, edges (libFuzzer's cov), new inputs and crashes.
# Usage: [FUZZ_RUNS=N] scripts/fuzz.sh [SECONDS_PER_TARGET=240] [TARGET...]
# Without TARGETs every fuzz target of build-fuzz/ runs. FUZZ_RUNS stops a target after N
# executions if that comes before SECONDS (a full campaign: FUZZ_RUNS=10000000 and 1800 s,
# so fast targets stop at 10 million executions and slow ones at 30 minutes).
# Crash inputs land in build-fuzz/fuzz-work/crashes/; add each to tests/fuzz/corpus/<target>/
# with a fix, so the replay tests keep it fixed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-240}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for b in build-fuzz/fuzz_*; do
    case $b in *_replay) ;; *) [ -x "$b" ] && targets+=("$(basename "$b")") ;; esac
  done
fi
[ ${#targets[@]} -eq 0 ] && { echo "fuzz.sh: no fuzz targets in build-fuzz/ (run make fuzz)" >&2; exit 2; }
runs=${FUZZ_RUNS:--1}
work=build-fuzz/fuzz-work
mkdir -p "$work/crashes"
printf '%-20s %12s %9s %7s %7s %6s %8s\n' target executions exec/s seconds edges new crashes
for t in "${targets[@]}"; do
  bin=build-fuzz/$t
  [ -x "$bin" ] || { echo "fuzz.sh: $bin missing (run make fuzz)" >&2; exit 2; }
  rm -rf "$work/$t" && mkdir -p "$work/$t" && cp tests/fuzz/corpus/$t/* "$work/$t/"
  log=$work/$t.log
  t0=$(date +%s)
  # -fork=0 keeps one process (the machine is shared); a crash stops the run and is counted
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin" -max_total_time="$secs" -runs="$runs" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/$t-" "$work/$t" >"$log" 2>&1
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  newu=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  took=$(( $(date +%s) - t0 ))
  crashes=$(ls "$work/crashes" 2>/dev/null | grep -c "^$t-" || true)
  printf '%-20s %12s %9s %7s %7s %6s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$took" "${cov:-?}" "${newu:-?}" "$crashes"
done
