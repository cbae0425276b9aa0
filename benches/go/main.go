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
// and of the channel benchmarks of issue 3 (benches/chan.rs):
//
//	chan [N]      the crossbeam-channel matrix for capacity 0, 1 and 1000
//	              (Go has no unbounded channel), GOMAXPROCS=2, N int
//	              messages per run: seq (one goroutine sends then
//	              receives; capacity 1000 only, in rounds of 1000), spsc (1
//	              sender, 1 receiver), mpsc (4 senders, 1 receiver), mpmc (4
//	              senders, 4 receivers); the main goroutine is the receiver
//	              of spsc and mpsc: ns per message, one line per cell
//	pingpong [N]  N round trips between two goroutines over two unbuffered
//	              channels, with GOMAXPROCS=1 and then 2: ns per round trip
//	sleep [N]     N goroutines each time.Sleep(1 ms) concurrently, GOMAXPROCS=2:
//	              ms from the first spawn until the last woke (WaitGroup)
//
// and select [N], the select benchmarks of issue 4 (select.go), and sieve
// [N], the concurrent prime sieve (sieve.go).
//
// Each prints one line (chan and pingpong one per cell), the subcommand,
// then key=value pairs (chan also the workload), e.g.
//
//	parked n=1000000 spawn_ms=1712.3 kib_per_parked=2.70 wake_ms=571.2
//	chan spsc cap=0 n=5000000 ns_per_msg=127.3 min=121.0
//	pingpong procs=1 n=1000000 ns_per_roundtrip=250.1 min=247.9
//	sleep n=100000 ms=96.1 min=90.3
//
// which benches/parked.rs and benches/chan.rs parse. gosched, spawn, chan
// and pingpong repeat the measurement (-reps, default 5) and print the
// median and the minimum.
//
// and of the sync benchmarks (benches/sync.rs): mutex and waitgroup, see
// sync.go.
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
	reps := flag.Int("reps", 5, "repetitions for gosched, spawn, chan and pingpong")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: goro-bench [-reps R] gosched|spawn|parked|chan|pingpong|select|mutex|waitgroup|sleep|sieve [N]")
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
	case "chan":
		if n == 0 {
			n = 5000000
		}
		runtime.GOMAXPROCS(2)
		chanMatrix(n, *reps)
	case "pingpong":
		if n == 0 {
			n = 1000000
		}
		for _, procs := range []int{1, 2} {
			runtime.GOMAXPROCS(procs)
			med, min := repeat(*reps, func() float64 { return pingpong(n) })
			fmt.Printf("pingpong procs=%d n=%d ns_per_roundtrip=%.1f min=%.1f\n", procs, n, med, min)
		}
	case "select":
		if n == 0 {
			n = 5000000
		}
		runtime.GOMAXPROCS(2)
		selectMatrix(n, *reps)
	case "mutex", "waitgroup":
		syncBench(cmd, n, *reps)
	case "sieve":
		if n == 0 {
			n = 5000
		}
		// One run, no warm-up, whatever -reps says: a finished run's
		// goroutines go on sieving until the chain clogs, which would
		// slow the next run in this process (the harness runs one
		// process per repetition).
		ms := sieve(n)
		fmt.Printf("sieve n=%d ms=%.1f min=%.1f\n", n, ms, ms)
	case "sleep":
		if n == 0 {
			n = 100000
		}
		runtime.GOMAXPROCS(2)
		med, min := repeat(*reps, func() float64 { return sleepAll(n) })
		fmt.Printf("sleep n=%d ms=%.2f min=%.2f\n", n, med, min)
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

// chanThreads: senders of mpsc and mpmc, receivers of mpmc.
const chanThreads = 4

// chanMatrix prints one line per cell of the channel matrix.
func chanMatrix(n, reps int) {
	n -= n % chanThreads
	for _, c := range []int{0, 1, 1000} {
		for _, w := range []string{"seq", "spsc", "mpsc", "mpmc"} {
			if w == "seq" && c < 2 {
				continue
			}
			c, w := c, w
			med, min := repeat(reps, func() float64 { return chanCell(w, c, n) })
			fmt.Printf("chan %s cap=%d n=%d ns_per_msg=%.1f min=%.1f\n", w, c, n, med, min)
		}
	}
}

// chanCell: ns per message for one cell, n messages.
func chanCell(work string, capacity, n int) float64 {
	ch := make(chan int, capacity)
	senders, receivers := chanThreads, 0
	switch work {
	case "seq":
		return chanSeq(ch, capacity, n)
	case "spsc":
		senders = 1
	case "mpmc":
		receivers = chanThreads
	}
	per := n / senders
	start := time.Now()
	for k := 0; k < senders; k++ {
		go func(k int) {
			for v := k * per; v < (k+1)*per; v++ {
				ch <- v
			}
		}(k)
	}
	sum := 0
	if receivers == 0 {
		for i := 0; i < n; i++ {
			sum += <-ch
		}
	} else {
		per := n / receivers
		sums := make(chan int, receivers)
		for k := 0; k < receivers; k++ {
			go func() {
				s := 0
				for i := 0; i < per; i++ {
					s += <-ch
				}
				sums <- s
			}()
		}
		for k := 0; k < receivers; k++ {
			sum += <-sums
		}
	}
	elapsed := time.Since(start)
	checkSum(sum, n)
	return float64(elapsed.Nanoseconds()) / float64(n)
}

// chanSeq: one goroutine sends then receives, in rounds of capacity.
func chanSeq(ch chan int, capacity, n int) float64 {
	start := time.Now()
	sum := 0
	for i := 0; i < n; i += capacity {
		end := i + capacity
		if end > n {
			end = n
		}
		for v := i; v < end; v++ {
			ch <- v
		}
		for v := i; v < end; v++ {
			sum += <-ch
		}
	}
	elapsed := time.Since(start)
	checkSum(sum, n)
	return float64(elapsed.Nanoseconds()) / float64(n)
}

// checkSum: the receivers got every message of 0..n-1 exactly once.
func checkSum(sum, n int) {
	if sum != n*(n-1)/2 {
		fmt.Fprintf(os.Stderr, "wrong sum %d for n=%d\n", sum, n)
		os.Exit(1)
	}
}

// pingpong: ns per round trip between two goroutines over two unbuffered
// channels; the main goroutine pings, a spawned one pongs.
func pingpong(n int) float64 {
	ping := make(chan int)
	pong := make(chan int)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			pong <- <-ping
		}
		close(done)
	}()
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong != i {
			fmt.Fprintln(os.Stderr, "pingpong: wrong value")
			os.Exit(1)
		}
	}
	<-done
	return float64(time.Since(start).Nanoseconds()) / float64(n)
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

// sleepAll: ms for n goroutines that each sleep 1 ms concurrently, from the
// first spawn until the last has woken (benches/time.rs).
func sleepAll(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Millisecond)
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Microseconds()) / 1000
}
