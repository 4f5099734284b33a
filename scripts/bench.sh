#!/usr/bin/env bash
# make bench: runs every benchmark script bench/*.sh in turn (each prints its own
# figures), from the repository root, with its default arguments. A failing benchmark
# does not stop the others; the exit status says whether any failed.
set -u
cd "$(dirname "$0")/.."
failed=()
for b in bench/*.sh; do
    echo "==== $b"
    if ! "$b"; then
        echo "==== $b FAILED"
        failed+=("$b")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench.sh: failed: ${failed[*]}"
    exit 1
fi
