//! A million green threads at once.
//!
//! Spawns 1,000,000 green threads that first park on a channel until all
//! of them are there (the moment their memory is measured), then all sleep
//! for one second at once (parked: their worker runs the others
//! meanwhile); waits for all of them, and prints how long it took and how
//! much memory each one cost while parked.
//!
//! ```text
//! cargo run --release --example million            # 1,000,000
//! cargo run --release --example million -- 200000  # fewer
//! ```
//!
//! `cargo test --example million` (or plain `cargo test`) runs it with
//! 5,000 green threads.
//!
//! Each green thread has its own stack (256 KiB of address space by
//! default, of which only the pages it touches are backed by memory) with a
//! guard page below it. On Linux 6.13+ the guard page is a page-table
//! marker, so a million stacks fit in the default `vm.max_map_count`
//! (65530). On older kernels every stack costs two memory mappings, so about
//! 32,000 green threads fit: spawning more fails with an error naming
//! `vm.max_map_count`, which this example prints. Raise the limit with
//! `sudo sysctl vm.max_map_count=2200000`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// What [`run`] measured.
struct Report {
    spawned_in: Duration,
    total: Duration,
    /// Memory per green thread while all were parked, in bytes.
    bytes_per_thread: f64,
}

/// Spawns `n` green threads that each sleep `nap`, and joins them all.
/// Fails with goro's error (which names `vm.max_map_count` when that is
/// the likely cause) if a stack cannot be had; the green threads already
/// spawned are then unwound as the runtime shuts down.
fn run(n: usize, nap: Duration) -> std::io::Result<Report> {
    let before = memory_kib();
    let start = Instant::now();
    let (spawned_in, peak) = goro::run(move || {
        let mut handles = Vec::with_capacity(n);
        // Each green thread counts itself in, then parks until `gate`
        // closes.
        let arrived = Arc::new(AtomicUsize::new(0));
        let (gate_tx, gate_rx) = goro::bounded::<()>(0);
        for i in 0..n {
            let (arrived, gate_rx) = (arrived.clone(), gate_rx.clone());
            let spawned = goro::Builder::new().spawn(move || {
                arrived.fetch_add(1, Ordering::Relaxed);
                let _ = gate_rx.recv();
                goro::sleep(nap);
                i as u64
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    let msg = format!("could not spawn green thread #{i}: {e}");
                    return Err(std::io::Error::new(e.kind(), msg));
                }
            }
        }
        let spawned_in = start.elapsed();
        // Once every one has started (and so touched its stack) and
        // parked, measure; then let them all sleep at once.
        while arrived.load(Ordering::Relaxed) < n {
            goro::yield_now();
        }
        let peak = memory_kib();
        gate_tx.close();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, (n as u64) * (n as u64).saturating_sub(1) / 2);
        Ok((spawned_in, peak))
    })?;
    Ok(Report {
        spawned_in,
        total: start.elapsed(),
        bytes_per_thread: (peak.saturating_sub(before)) as f64 * 1024.0 / n.max(1) as f64,
    })
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("usage: million [COUNT]"),
        None => 1_000_000,
    };
    let r = match run(n, Duration::from_secs(1)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "(if vm.max_map_count is the limit, the header of examples/million.rs \
                 explains it; this machine's is {})",
                std::fs::read_to_string("/proc/sys/vm/max_map_count")
                    .map_or("unknown".into(), |s| s.trim().to_string())
            );
            std::process::exit(1);
        }
    };
    println!(
        "{n} green threads spawned in {:.2?}, all slept 1 s and joined in {:.2?}",
        r.spawned_in, r.total
    );
    println!(
        "memory while parked: {:.0} bytes per green thread (RSS + page tables)",
        r.bytes_per_thread
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_few_thousand() {
        // Far below any vm.max_map_count, even with two mappings a stack.
        let r = super::run(5_000, Duration::from_millis(20)).unwrap();
        assert!(r.total >= Duration::from_millis(20));
    }
}
