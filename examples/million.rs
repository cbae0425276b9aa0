//! A million green threads at once.
//!
//! Spawns 1,000,000 green threads that each sleep for one second (parked:
//! their worker runs the others meanwhile), waits for all of them, and
//! prints how long it took and how much memory each one cost while parked.
//!
//! ```text
//! cargo run --release --example million            # 1,000,000
//! cargo run --release --example million -- 200000  # fewer
//! ```
//!
//! Each green thread has its own stack (256 KiB of address space by
//! default, of which only the pages it touches are backed by memory) with a
//! guard page below it. On Linux 6.13+ the guard page is a page-table
//! marker, so a million stacks fit in the default `vm.max_map_count`
//! (65530). On older kernels every stack costs two memory mappings, so about
//! 32,000 green threads fit: spawning more fails with an error naming
//! `vm.max_map_count`, which this example prints. Raise the limit with
//! `sudo sysctl vm.max_map_count=2200000`.

use std::time::{Duration, Instant};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn memory_kib() -> u64 {
    status_kib("VmRSS:") + status_kib("VmPTE:")
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("usage: million [COUNT]"),
        None => 1_000_000,
    };
    let before = memory_kib();
    let start = Instant::now();
    let peak = goro::run(move || {
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let spawned = goro::Builder::new().spawn(move || {
                goro::sleep(Duration::from_secs(1));
                i as u64
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    eprintln!("could not spawn green thread #{i}: {e}");
                    std::process::exit(1);
                }
            }
        }
        let spawned_in = start.elapsed();
        // All of them are asleep now, or about to be.
        let peak = memory_kib();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
        (spawned_in, peak)
    });
    let (spawned_in, peak) = peak;
    let per_thread = (peak.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    println!(
        "{n} green threads spawned in {spawned_in:.2?}, all slept 1 s and joined in {:.2?}",
        start.elapsed()
    );
    println!("memory while parked: {per_thread:.0} bytes per green thread (RSS + page tables)");
}
