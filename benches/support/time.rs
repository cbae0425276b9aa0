//! The sleep workload (N green threads each sleeping 1 ms concurrently,
//! on 2 workers), shared by `benches/time.rs` and `benches/compare.rs`;
//! included with `#[path]`. Each function times one round: from the first
//! spawn until the last sleeper has woken and counted down.

#![allow(dead_code)] // each includer uses its own subset

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What each sleeper sleeps.
pub(crate) const NAP: Duration = Duration::from_millis(1);

/// goro: `n` green threads sleep `NAP`; the last to wake signals the root.
pub(crate) fn goro_round(rt: &goro::runtime::Runtime, n: usize) -> Duration {
    rt.block_on(|| {
        let left = Arc::new(AtomicUsize::new(n));
        let (tx, rx) = goro::bounded::<()>(1);
        let start = Instant::now();
        for _ in 0..n {
            let left = left.clone();
            let tx = tx.clone();
            goro::go!(move || {
                goro::sleep(NAP);
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    tx.send(()).unwrap();
                }
            });
        }
        rx.recv().unwrap();
        start.elapsed()
    })
}

/// tokio: the same with tasks and `tokio::time::sleep`.
pub(crate) fn tokio_round(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    rt.block_on(async {
        let left = Arc::new(AtomicUsize::new(n));
        let done = Arc::new(tokio::sync::Notify::new());
        let start = Instant::now();
        for _ in 0..n {
            let left = left.clone();
            let done = done.clone();
            tokio::spawn(async move {
                tokio::time::sleep(NAP).await;
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    done.notify_one();
                }
            });
        }
        done.notified().await;
        start.elapsed()
    })
}
