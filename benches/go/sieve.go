package main

// Go's side of the concurrent prime sieve (benches/compare.rs; goro's is
// examples/sieve.rs): one goroutine generates 2, 3, 4, ...; each prime
// found gets a goroutine that filters its multiples out of the stream,
// chained by unbuffered channels.
//
//	sieve [N]  ms to find the N-th prime (default 5000), GOMAXPROCS as
//	           set by the environment (benches/compare.rs sets 2), e.g.
//	           sieve n=5000 prime=48611 ms=1234.5 min=1200.1

import (
	"fmt"
	"os"
	"time"
)

// sieveGenerate sends 2, 3, 4, ... forever.
func sieveGenerate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

// sieveFilter passes on the values from in that prime does not divide.
func sieveFilter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

// sieve: ms to find the n-th prime. As in the Go tour, the generator and
// the filters are left running when it returns (a goroutine cannot be
// killed; making each also select on a quit channel would double the cost
// of every step): they go on sieving until the chain clogs, which takes
// seconds of CPU, so main.go runs it once per process.
func sieve(n int) float64 {
	start := time.Now()
	ch := make(chan int)
	go sieveGenerate(ch)
	prime := 0
	for i := 0; i < n; i++ {
		prime = <-ch
		ch1 := make(chan int)
		go sieveFilter(ch, ch1, prime)
		ch = ch1
	}
	elapsed := time.Since(start)
	if n == 5000 && prime != 48611 {
		fmt.Fprintf(os.Stderr, "sieve: the 5000th prime is not %d\n", prime)
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / 1e6
}
