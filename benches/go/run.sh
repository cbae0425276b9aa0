#!/bin/sh
# Prints every Go figure of goro's runtime-core benchmarks (issue 2), to
# compare with `cargo bench --bench runtime` (yield_switch, spawn) and
# `cargo bench --bench parked` run in the same session:
#   gosched  ns per runtime.Gosched switch between two goroutines, GOMAXPROCS=1
#   spawn    ns per goroutine, spawn + run + finish with a WaitGroup, GOMAXPROCS=2
#   parked   spawn ms, KiB per parked goroutine (VmRSS+VmPTE), wake-by-close ms
#
# Run from anywhere: benches/go/run.sh
# Sizes: GOSCHED_N (default 5000000 per goroutine), SPAWN_N (1000000),
# PARKED_N (1000000); REPS (5) repetitions for gosched and spawn.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null 2>&1; then
    echo "go: not installed"
    exit 0
fi
out="$dir/../../target/go-bench"
mkdir -p "$out"
(cd "$dir" && go build -o "$out/goro-bench" .)
bin="$out/goro-bench"
echo "# $(go version)"
GOMAXPROCS=1 "$bin" -reps "${REPS:-5}" gosched "${GOSCHED_N:-5000000}"
GOMAXPROCS=2 "$bin" -reps "${REPS:-5}" spawn "${SPAWN_N:-1000000}"
GOMAXPROCS=2 "$bin" parked "${PARKED_N:-1000000}"
