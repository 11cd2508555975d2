#!/usr/bin/env bash
# The solver benchmark recorded in docs/benchmarks.md: all 56 Li & Lim
# instances at 0.1 s, 1 s and 10 s each, and the 56 Solomon instances at
# 1 s. Tables go to stdout, JSON (with every route) to the folder given.
#
#   benchmarks/solver.sh [OUT_DIR]      (default: runs/bench-solver)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bench-solver}
mkdir -p "$out"

run() {
    local set=$1 limit=$2
    echo "== barq bench solver --set $set --time-limit $limit"
    ./dev barq bench solver --set "$set" --time-limit "$limit" \
        --json "$out/$set-$limit.json"
}

run lilim100 0.1
run lilim100 1
run solomon100 1
run lilim100 10
