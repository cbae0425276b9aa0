//! When `run`'s closure returns (or a `Runtime` is dropped), every green
//! thread still alive is unwound: destructors run and every stack returns.
//!
//! One test per process section: `live_stacks` is process-wide, so the
//! tests here run one after another under a lock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn run_unwinds_every_live_green_thread() {
    let _g = SERIAL.lock();
    let base = goro::__private::live_stacks();
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let s = started.clone();
    goro::run(move || {
        for i in 0..500 {
            let guard = CountDrop(d.clone());
            let s = s.clone();
            goro::go!(move || {
                let _guard = guard;
                s.fetch_add(1, Ordering::SeqCst);
                match i % 3 {
                    // Parked forever on a join of a green thread that sleeps.
                    0 => {
                        let inner = goro::go!(|| goro::sleep(Duration::from_secs(3600)));
                        let _ = inner.join();
                    }
                    // Parked on a long sleep.
                    1 => goro::sleep(Duration::from_secs(3600)),
                    // Spinning on yield.
                    _ => loop {
                        goro::yield_now();
                    },
                }
                unreachable!("a blocked green thread cannot finish before shutdown");
            });
        }
        // Green threads that never started also count: their closures
        // (holding a CountDrop) are dropped unrun.
        while s.load(Ordering::SeqCst) < 100 {
            goro::yield_now();
        }
    });
    assert_eq!(
        drops.load(Ordering::SeqCst),
        500,
        "every captured value dropped once"
    );
    assert_eq!(goro::__private::live_stacks(), base, "every stack returned");
}

#[test]
fn dropping_a_runtime_unwinds_and_joins() {
    let _g = SERIAL.lock();
    let base = goro::__private::live_stacks();
    let drops = Arc::new(AtomicUsize::new(0));
    let r = common::rt(2);
    for _ in 0..100 {
        let guard = CountDrop(drops.clone());
        r.spawn(move || {
            let _guard = guard;
            goro::sleep(Duration::from_secs(3600));
        });
    }
    let h = r.spawn(|| 1);
    assert_eq!(h.join().unwrap(), 1);
    drop(r);
    assert_eq!(drops.load(Ordering::SeqCst), 100);
    assert_eq!(goro::__private::live_stacks(), base);
}

#[test]
fn a_green_thread_that_catches_the_unwind_still_finishes() {
    let _g = SERIAL.lock();
    let caught = Arc::new(AtomicUsize::new(0));
    let c = caught.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    goro::run(move || {
        goro::go!(move || {
            s.fetch_add(1, Ordering::SeqCst);
            let r = std::panic::catch_unwind(|| goro::sleep(Duration::from_secs(3600)));
            if r.is_err() {
                c.fetch_add(1, Ordering::SeqCst);
            }
        });
        while started.load(Ordering::SeqCst) == 0 {
            goro::yield_now();
        }
    });
    assert_eq!(caught.load(Ordering::SeqCst), 1);
}
