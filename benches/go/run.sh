#!/bin/sh
# Prints every Go figure of goro's runtime-core benchmarks (issue 2) and
# channel benchmarks (issue 3), to compare with `cargo bench --bench runtime`
# (yield_switch, spawn), `cargo bench --bench parked` and
# `cargo bench --bench chan` run in the same session:
#   gosched   ns per runtime.Gosched switch between two goroutines, GOMAXPROCS=1
#   spawn     ns per goroutine, spawn + run + finish with a WaitGroup, GOMAXPROCS=2
#   parked    spawn ms, KiB per parked goroutine (VmRSS+VmPTE), wake-by-close ms
#   chan      ns per message, seq/spsc/mpsc/mpmc for capacity 0, 1, 1000,
#             GOMAXPROCS=2
#   pingpong  ns per round trip over unbuffered channels, GOMAXPROCS=1 and 2
#   sleep     ms for 100000 goroutines each sleeping 1 ms concurrently, GOMAXPROCS=2
#
# Run from anywhere: benches/go/run.sh
# Sizes: GOSCHED_N (default 5000000 per goroutine), SPAWN_N (1000000),
# PARKED_N (1000000), CHAN_N (5000000 messages per cell), PINGPONG_N
# (1000000 round trips), SLEEP_N (100000); REPS (5) repetitions for all but parked.
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
GOMAXPROCS=2 "$bin" -reps "${REPS:-5}" chan "${CHAN_N:-5000000}"
"$bin" -reps "${REPS:-5}" pingpong "${PINGPONG_N:-1000000}"
GOMAXPROCS=2 "$bin" -reps "${REPS:-5}" sleep "${SLEEP_N:-100000}"
