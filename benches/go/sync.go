// Go's side of goro's sync benchmarks (benches/sync.rs):
//
//	mutex [N]      1000 goroutines each incrementing a shared counter N
//	               times (default 1000) under one sync.Mutex, GOMAXPROCS=2:
//	               ms per run
//	waitgroup [N]  1000 goroutines each calling Done N times (default
//	               1000) on one WaitGroup, then Wait, GOMAXPROCS=2: ms per
//	               run (1,000,000 Done calls by default)
//
// Each prints one line, e.g.
//
//	mutex goroutines=1000 n=1000 ms_per_run=41.2 min=39.8
//
// with the median and minimum of -reps runs (after one warm-up run).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

// syncGoroutines: goroutines per run of the sync benchmarks.
const syncGoroutines = 1000

// syncBench runs the "mutex" or "waitgroup" subcommand.
func syncBench(cmd string, n, reps int) {
	if n == 0 {
		n = 1000
	}
	runtime.GOMAXPROCS(2)
	f := mutexRun
	if cmd == "waitgroup" {
		f = waitGroupRun
	}
	med, min := repeat(reps, func() float64 { return f(n) })
	fmt.Printf("%s goroutines=%d n=%d ms_per_run=%.2f min=%.2f\n", cmd, syncGoroutines, n, med, min)
}

// mutexRun: ms for syncGoroutines goroutines doing n locked increments each.
func mutexRun(n int) float64 {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	start := time.Now()
	wg.Add(syncGoroutines)
	for g := 0; g < syncGoroutines; g++ {
		go func() {
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counter != syncGoroutines*n {
		fmt.Fprintf(os.Stderr, "mutex: counter %d, want %d\n", counter, syncGoroutines*n)
		os.Exit(1)
	}
	return ms(elapsed)
}

// waitGroupRun: ms for syncGoroutines goroutines calling Done n times each
// on one WaitGroup, and the main goroutine's Wait.
func waitGroupRun(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(syncGoroutines * n)
	for g := 0; g < syncGoroutines; g++ {
		go func() {
			for i := 0; i < n; i++ {
				wg.Done()
			}
		}()
	}
	wg.Wait()
	return ms(time.Since(start))
}
