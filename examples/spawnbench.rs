//! Spawn + run + complete of many trivial green threads (scratch bench).
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1_000_000);
    let rt = goro::runtime::Builder::new().build().unwrap();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        rt.block_on(|| {
            let left = Arc::new(AtomicUsize::new(n));
            for _ in 0..n {
                let left = left.clone();
                goro::go!(move || {
                    left.fetch_sub(1, Ordering::Release);
                });
            }
            while left.load(Ordering::Acquire) != 0 {
                goro::yield_now();
            }
        });
        println!(
            "spawn+run {n}: {:?} per green thread",
            t.elapsed() / n as u32
        );
    }
}
