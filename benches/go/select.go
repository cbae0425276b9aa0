package main

// Go's side of the select benchmarks of issue 4 (benches/select.rs):
//
//	select [N]  select_rx (4 producers, each sending N/4 ints on its own
//	            channel; the main goroutine selects over the 4 channels)
//	            and select_both (4 goroutines each selecting a send over
//	            the same 4 channels, 4 goroutines each selecting a receive
//	            over them), for capacity 0, 1 and 1000, GOMAXPROCS=2: ns
//	            per message, one line per cell, e.g.
//	            select rx cap=0 n=200000 ns_per_msg=277.0 min=270.1

import (
	"fmt"
	"time"
)

const selectThreads = 4

func selectMatrix(n, reps int) {
	n -= n % selectThreads
	for _, w := range []string{"rx", "both"} {
		for _, c := range []int{0, 1, 1000} {
			w, c := w, c
			med, min := repeat(reps, func() float64 { return selectCell(w, c, n) })
			fmt.Printf("select %s cap=%d n=%d ns_per_msg=%.1f min=%.1f\n", w, c, n, med, min)
		}
	}
}

func selectCell(work string, capacity, n int) float64 {
	var chs [selectThreads]chan int
	for i := range chs {
		chs[i] = make(chan int, capacity)
	}
	per := n / selectThreads
	start := time.Now()
	sum := 0
	if work == "rx" {
		for k := 0; k < selectThreads; k++ {
			go func(k int) {
				for v := k * per; v < (k+1)*per; v++ {
					chs[k] <- v
				}
			}(k)
		}
		for i := 0; i < n; i++ {
			select {
			case v := <-chs[0]:
				sum += v
			case v := <-chs[1]:
				sum += v
			case v := <-chs[2]:
				sum += v
			case v := <-chs[3]:
				sum += v
			}
		}
	} else {
		for k := 0; k < selectThreads; k++ {
			go func(k int) {
				for v := k * per; v < (k+1)*per; v++ {
					select {
					case chs[0] <- v:
					case chs[1] <- v:
					case chs[2] <- v:
					case chs[3] <- v:
					}
				}
			}(k)
		}
		sums := make(chan int, selectThreads)
		for k := 0; k < selectThreads; k++ {
			go func() {
				s := 0
				for i := 0; i < per; i++ {
					select {
					case v := <-chs[0]:
						s += v
					case v := <-chs[1]:
						s += v
					case v := <-chs[2]:
						s += v
					case v := <-chs[3]:
						s += v
					}
				}
				sums <- s
			}()
		}
		for k := 0; k < selectThreads; k++ {
			sum += <-sums
		}
	}
	elapsed := time.Since(start)
	checkSum(sum, n)
	return float64(elapsed.Nanoseconds()) / float64(n)
}
