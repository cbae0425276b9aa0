//! A green thread that yields or blocks switches straight to the next one
//! of its worker, bypassing the worker's loop. These tests check that the
//! loop's other duties still happen while green threads only ever switch
//! to each other: timers fire, and green threads queued from outside the
//! worker run, within a bounded number of switches (the loop takes over at
//! least every 61 picks, as Go polls its global queue). The bounds count
//! switches, not time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Far above the 61 picks between two turns of the worker's loop, far
/// below what a starved timer or queue would show (unbounded).
const BOUND: u64 = 10_000;

fn one_worker() -> goro::runtime::Runtime {
    goro::runtime::Builder::new()
        .workers(1)
        .build()
        .expect("a runtime")
}

#[test]
fn a_timer_fires_while_two_green_threads_yield_to_each_other() {
    let rt = one_worker();
    let late = rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_millis(5);
        // Yields made after the sleeper's deadline passed, by both yielders.
        let late = Arc::new(AtomicU64::new(0));
        let yielders: Vec<_> = (0..2)
            .map(|_| {
                let (stop, late) = (stop.clone(), late.clone());
                goro::go!(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if Instant::now() >= deadline
                            && late.fetch_add(1, Ordering::Relaxed) > BOUND
                        {
                            return;
                        }
                        goro::yield_now();
                    }
                })
            })
            .collect();
        let sleeper = {
            let stop = stop.clone();
            goro::go!(move || {
                goro::sleep_until(deadline);
                stop.store(true, Ordering::Relaxed);
            })
        };
        for y in yielders {
            y.join().unwrap();
        }
        sleeper.join().unwrap();
        late.load(Ordering::Relaxed)
    });
    assert!(
        late <= BOUND,
        "the timer waited {late} yields past its deadline"
    );
}

#[test]
fn a_green_thread_spawned_from_outside_runs_during_a_ping_pong() {
    let rt = one_worker();
    let stop = Arc::new(AtomicBool::new(false));
    let injected = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = goro::bounded::<()>(1);
    let late = std::thread::scope(|s| {
        s.spawn(|| {
            // Wait until the ping-pong is under way, then queue a green
            // thread from this OS thread (the runtime's global queue).
            ready_rx.recv().unwrap();
            let stop = stop.clone();
            let h = rt.spawn(move || stop.store(true, Ordering::Relaxed));
            injected.store(true, Ordering::Relaxed);
            h.join().unwrap();
        });
        rt.block_on(|| {
            let (ping_tx, ping_rx) = goro::bounded::<u64>(0);
            let (pong_tx, pong_rx) = goro::bounded::<u64>(0);
            let ponger = goro::go!(move || {
                for v in ping_rx {
                    if pong_tx.send(v + 1).is_err() {
                        return;
                    }
                }
            });
            // Round trips made after the green thread was queued.
            let mut late = 0u64;
            let mut v = 0;
            ready_tx.send(()).unwrap();
            while !stop.load(Ordering::Relaxed) && late <= BOUND {
                ping_tx.send(v).unwrap();
                v = pong_rx.recv().unwrap();
                if injected.load(Ordering::Relaxed) {
                    late += 1;
                }
            }
            drop(ping_tx);
            ponger.join().unwrap();
            late
        })
    });
    assert!(
        late <= BOUND,
        "the queued green thread waited {late} round trips"
    );
}
