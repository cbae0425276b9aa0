//! The runtime-core workloads of issue 2 (yield switch, spawn), shared by
//! `benches/runtime.rs` (criterion) and `benches/compare.rs` (the
//! comparison table); included with `#[path]`. Each function runs one
//! measurement and returns its wall time; the caller picks the runtime
//! (1 worker for the yield switch, 2 for spawn). may's functions must run
//! in a process whose may configuration was set for them (may's config is
//! global and fixed at first use).

#![allow(dead_code)] // each includer uses its own subset

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Two goro green threads on `rt` each `yield_now` `per` times: the time
/// of `2 * per` switches.
pub(crate) fn goro_yield(rt: &goro::runtime::Runtime, per: u64) -> Duration {
    rt.block_on(|| {
        let start = Instant::now();
        let x = goro::spawn(move || {
            for _ in 0..per {
                goro::yield_now();
            }
        });
        let y = goro::spawn(move || {
            for _ in 0..per {
                goro::yield_now();
            }
        });
        x.join().unwrap();
        y.join().unwrap();
        start.elapsed()
    })
}

/// The same with two tokio tasks on `rt` (a current-thread runtime).
pub(crate) fn tokio_yield(rt: &tokio::runtime::Runtime, per: u64) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        let x = tokio::spawn(async move {
            for _ in 0..per {
                tokio::task::yield_now().await;
            }
        });
        let y = tokio::spawn(async move {
            for _ in 0..per {
                tokio::task::yield_now().await;
            }
        });
        x.await.unwrap();
        y.await.unwrap();
        start.elapsed()
    })
}

/// The same with two may coroutines (may configured with 1 worker).
pub(crate) fn may_yield(per: u64) -> Duration {
    may::go!(move || {
        let start = Instant::now();
        let x = may::go!(move || {
            for _ in 0..per {
                may::coroutine::yield_now();
            }
        });
        let y = may::go!(move || {
            for _ in 0..per {
                may::coroutine::yield_now();
            }
        });
        x.join().unwrap();
        y.join().unwrap();
        start.elapsed()
    })
    .join()
    .unwrap()
}

/// What every spawned green thread of one batch shares: the countdown and
/// the way to wake the spawner.
///
/// Each green thread captures a `&'static` to it, as Go's closure captures
/// a pointer to its `WaitGroup`: an `Arc` clone per spawn would add a
/// reference count that the spawner increments and the other worker
/// decrements, a cache line crossing cores twice per spawn that belongs to
/// the harness, not to the runtime (it made goro's spawn loop 25% slower,
/// 160 against 120 ns a green thread in a scratch run). One countdown is
/// leaked per batch of 10,000 or more spawns.
pub(crate) struct Countdown<W> {
    left: AtomicUsize,
    wake: W,
}

impl<W> Countdown<W> {
    pub(crate) fn new(n: usize, wake: W) -> &'static Self {
        Box::leak(Box::new(Countdown {
            left: AtomicUsize::new(n),
            wake,
        }))
    }

    /// True for the last finisher.
    pub(crate) fn done(&self) -> bool {
        self.left.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// Spawn + run + complete of `n` trivial goro green threads from the root
/// green thread of `rt`, which waits for all of them (the last finisher
/// opens a gate).
pub(crate) fn goro_spawn(rt: &goro::runtime::Runtime, n: usize) -> Duration {
    rt.block_on(|| {
        let start = Instant::now();
        let cd = Countdown::new(n, goro::__private::Gate::new());
        for _ in 0..n {
            drop(goro::spawn(move || {
                if cd.done() {
                    cd.wake.open();
                }
            }));
        }
        cd.wake.wait();
        start.elapsed()
    })
}

/// The same with tokio tasks; the spawner is a task on a worker, as
/// goro's and Go's are, not `block_on`'s thread.
pub(crate) fn tokio_spawn(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    rt.block_on(rt.spawn(async move {
        let start = Instant::now();
        let cd = Countdown::new(n, tokio::sync::Notify::new());
        for _ in 0..n {
            drop(tokio::spawn(async move {
                if cd.done() {
                    cd.wake.notify_one();
                }
            }));
        }
        cd.wake.notified().await;
        start.elapsed()
    }))
    .unwrap()
}

/// The same with may coroutines (may configured with 2 workers).
pub(crate) fn may_spawn(n: usize) -> Duration {
    may::go!(move || {
        let start = Instant::now();
        let cd = Countdown::new(n, may::sync::SyncFlag::new());
        for _ in 0..n {
            drop(may::go!(move || {
                if cd.done() {
                    cd.wake.fire();
                }
            }));
        }
        cd.wake.wait();
        start.elapsed()
    })
    .join()
    .unwrap()
}

/// The same with `n` OS threads, joined.
pub(crate) fn std_spawn(n: usize) -> Duration {
    let start = Instant::now();
    let left = Arc::new(AtomicUsize::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let left = left.clone();
            std::thread::spawn(move || {
                left.fetch_sub(1, Ordering::AcqRel);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(left.load(Ordering::Acquire), 0);
    start.elapsed()
}
