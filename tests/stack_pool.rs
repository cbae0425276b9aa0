//! The stack pool gives back the memory of a burst of green threads: their
//! stacks stay warm while the burst finishes (no page-freeing on the way),
//! and once the pool has sat unused, a worker returns the pages to the
//! kernel, whether it is idle or busy. Each test runs in a child process,
//! so the resident-memory figures are its own.

mod common;

use std::time::{Duration, Instant};

/// Green threads of the burst, all live at once.
const BURST: usize = 20_000;
/// Stack bytes each of them touches (on top of the page its frames use).
const TOUCHED: usize = 16 * 1024;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Writes `TOUCHED` bytes of the calling green thread's stack, so its
/// pages become resident.
#[inline(never)]
fn touch_stack() -> u8 {
    let mut buf = [0u8; TOUCHED];
    for (i, b) in buf.iter_mut().enumerate().step_by(512) {
        *b = i as u8;
    }
    std::hint::black_box(&mut buf);
    buf[512]
}

/// Runs a burst on `rt`: `BURST` green threads, each touching `TOUCHED`
/// bytes of its stack, all parked at once, then all ended by a `close`.
/// Returns how much resident memory it added at its peak over `before`.
fn burst(rt: &goro::runtime::Runtime, before: u64) -> u64 {
    let peak = rt.block_on(|| {
        let (tx, rx) = goro::bounded::<()>(0);
        let (arrived_tx, arrived_rx) = goro::unbounded::<()>();
        let hs: Vec<_> = (0..BURST)
            .map(|_| {
                let (rx, arrived_tx) = (rx.clone(), arrived_tx.clone());
                goro::go!(move || {
                    let v = touch_stack();
                    arrived_tx.send(()).unwrap();
                    let _ = rx.recv();
                    v
                })
            })
            .collect();
        for _ in 0..BURST {
            arrived_rx.recv().unwrap();
        }
        let peak = rss_bytes();
        tx.close();
        for h in hs {
            h.join().unwrap();
        }
        peak
    });
    let grown = peak.saturating_sub(before);
    assert!(
        grown >= (BURST * TOUCHED) as u64 / 2,
        "the burst made only {grown} bytes resident"
    );
    grown
}

/// Waits until at most a quarter of the `grown` bytes a burst added over
/// `before` is still resident: the pool gives the pages back once it has
/// sat unused for a second. Generously (the machine may be loaded), never
/// for a fixed time: fails after a minute.
fn wait_given_back(before: u64, grown: u64, context: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = rss_bytes().saturating_sub(before);
        if now <= grown / 4 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {now} bytes resident a minute after a burst of {grown}, {context}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether this process is the child playing `role` for `test`; if not,
/// re-runs `test` as that child and checks that it passed.
fn in_child(test: &str, role: &str) -> bool {
    if common::child_role().as_deref() == Some(role) {
        return true;
    }
    let out = common::run_child(test, role, &[]);
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[test]
fn an_idle_runtime_gives_back_the_stacks_of_a_finished_burst() {
    if !in_child(
        "an_idle_runtime_gives_back_the_stacks_of_a_finished_burst",
        "burst",
    ) {
        return;
    }
    let rt = common::rt(2);
    let before = rss_bytes();
    let grown = burst(&rt, before);
    wait_given_back(before, grown, "workers idle");
    drop(rt);
}

/// The same on a worker that never goes idle: a green thread keeps
/// yielding beside the burst (so the worker never reaches its sleep, where
/// it trims), and no green thread starts or ends once the burst is over
/// (so the pool is not touched). The busy worker's periodic check gives
/// the memory back all the same. One worker, so the yielding green thread
/// surely shares it.
#[test]
fn a_busy_worker_gives_back_the_stacks_of_a_finished_burst() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    if !in_child(
        "a_busy_worker_gives_back_the_stacks_of_a_finished_burst",
        "busy",
    ) {
        return;
    }
    let rt = common::rt(1);
    let before = rss_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = {
        let stop = stop.clone();
        rt.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                goro::yield_now();
            }
        })
    };
    let grown = burst(&rt, before);
    wait_given_back(before, grown, "the worker busy");
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
}
