// Go's side of goro's runtime-core benchmarks (issue 2), the same
// measurements as benches/runtime.rs and benches/parked.rs:
//
//	gosched [N]  two goroutines alternately calling runtime.Gosched N times
//	             each, GOMAXPROCS=1: ns per switch (one Gosched hand-over)
//	spawn [N]    spawn + run + complete of N trivial goroutines with a
//	             WaitGroup, GOMAXPROCS=2: ns per goroutine
//	parked [N]   N goroutines blocked on one channel receive, GOMAXPROCS=2:
//	             ms to spawn them until all have arrived, KiB per parked
//	             goroutine (VmRSS + VmPTE from /proc/self/status, minus the
//	             figure before spawning), ms to wake them all by close(ch)
//	             until all have finished
//
// Each prints one line, the subcommand then key=value pairs, e.g.
//
//	parked n=1000000 spawn_ms=1712.3 kib_per_parked=2.70 wake_ms=571.2
//
// which benches/parked.rs parses. gosched and spawn repeat the measurement
// (-reps, default 5) and print the median and the minimum.
//
// Run: cd benches/go && go run . spawn 1000000 (no external modules), or
// benches/go/run.sh for every figure.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	reps := flag.Int("reps", 5, "repetitions for gosched and spawn")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: goro-bench [-reps R] gosched|spawn|parked [N]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	cmd := flag.Arg(0)
	n := 0
	if flag.NArg() > 1 {
		v, err := strconv.Atoi(flag.Arg(1))
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "bad N %q\n", flag.Arg(1))
			os.Exit(2)
		}
		n = v
	}
	switch cmd {
	case "gosched":
		if n == 0 {
			n = 5000000
		}
		runtime.GOMAXPROCS(1)
		med, min := repeat(*reps, func() float64 { return gosched(n) })
		fmt.Printf("gosched n=%d ns_per_switch=%.1f min=%.1f\n", n, med, min)
	case "spawn":
		if n == 0 {
			n = 1000000
		}
		runtime.GOMAXPROCS(2)
		med, min := repeat(*reps, func() float64 { return spawn(n) })
		fmt.Printf("spawn n=%d ns_per_goroutine=%.1f min=%.1f\n", n, med, min)
	case "parked":
		if n == 0 {
			n = 1000000
		}
		runtime.GOMAXPROCS(2)
		parked(n)
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// repeat runs f reps times (after one unmeasured warm-up run) and returns
// the median and the minimum.
func repeat(reps int, f func() float64) (float64, float64) {
	if reps < 1 {
		reps = 1
	}
	f()
	xs := make([]float64, reps)
	for i := range xs {
		xs[i] = f()
	}
	sort.Float64s(xs)
	return xs[len(xs)/2], xs[0]
}

// gosched: ns per Gosched hand-over between two goroutines on one P.
func gosched(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for i := 0; i < 2; i++ {
		go func() {
			for j := 0; j < n; j++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(2*n)
}

// spawn: ns per goroutine for n trivial goroutines and a WaitGroup.
func spawn(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// parked: n goroutines blocked on one channel, woken by close.
func parked(n int) {
	ch := make(chan struct{})
	var arrived int64
	var wg sync.WaitGroup
	wg.Add(n)
	before := rssPteKiB()

	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&arrived, 1)
			<-ch
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&arrived) != int64(n) {
		runtime.Gosched()
	}
	spawnMs := ms(time.Since(start))
	// Let the last arrivals reach the receive.
	time.Sleep(20 * time.Millisecond)
	after := rssPteKiB()

	start = time.Now()
	close(ch)
	wg.Wait()
	wakeMs := ms(time.Since(start))

	fmt.Printf("parked n=%d spawn_ms=%.1f kib_per_parked=%.2f wake_ms=%.1f\n",
		n, spawnMs, float64(after-before)/float64(n), wakeMs)
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// rssPteKiB: VmRSS + VmPTE of this process, in KiB.
func rssPteKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading /proc/self/status:", err)
		os.Exit(1)
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmPTE:") {
			fields := strings.Fields(line)
			v, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				total += v
			}
		}
	}
	return total
}
