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

/// Green threads whose destructors block (here: join a sleeping helper)
/// while they unwind, for the shutdown or from a panic of their own. std keeps "this thread is
/// panicking" per OS thread, so while one of them is parked in the middle
/// of its unwind, the others of its worker see it set too; they used to
/// take it for their own, skip their unwind and park for good, and `run`
/// never returned. Run on a watchdog thread: a hang fails the test.
#[test]
fn green_threads_that_block_in_destructors_while_unwinding_all_end() {
    let _g = SERIAL.lock();
    struct JoinOnDrop(Option<goro::JoinHandle<()>>, Arc<AtomicUsize>);
    impl Drop for JoinOnDrop {
        fn drop(&mut self) {
            if let Some(h) = self.0.take() {
                let _ = h.join();
            }
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    for workers in [1, 2] {
        let dropped = Arc::new(AtomicUsize::new(0));
        let d = dropped.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = common::rt(workers);
            rt.block_on(move || {
                let (ready_tx, ready_rx) = goro::bounded::<()>(0);
                for i in 0..4 {
                    let (d, ready) = (d.clone(), ready_tx.clone());
                    goro::go!(move || {
                        let helper = goro::go!(|| goro::sleep(Duration::from_secs(3600)));
                        let _guard = JoinOnDrop(Some(helper), d);
                        let (_tx, rx) = goro::bounded::<()>(0);
                        ready.send(()).unwrap();
                        if i % 2 == 0 {
                            // Unwinds now, on its own, and blocks in the
                            // guard's drop until the shutdown.
                            panic!("expected: a green thread panics");
                        }
                        let _ = rx.recv(); // until the shutdown unwinds it
                    });
                }
                for _ in 0..4 {
                    ready_rx.recv().unwrap();
                }
            });
            drop(rt);
            done_tx.send(()).unwrap();
        });
        assert!(
            done_rx.recv_timeout(Duration::from_secs(60)).is_ok(),
            "{workers} workers: the runtime's drop hung"
        );
        assert_eq!(dropped.load(Ordering::SeqCst), 4, "every guard dropped");
    }
}

/// A destructor that sends on an unbuffered channel while its green thread
/// unwinds for the shutdown: the receiver's owner, another green thread,
/// is unwound too and drops it, which fails the send, so the destructor
/// and the shutdown finish whichever green thread unwinds first.
#[test]
fn a_destructor_blocked_on_a_channel_ends_when_its_peer_is_unwound() {
    let _g = SERIAL.lock();
    struct SendOnDrop(goro::Sender<i32>, Arc<AtomicUsize>);
    impl Drop for SendOnDrop {
        fn drop(&mut self) {
            assert!(self.0.send(1).is_err(), "nobody receives");
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    for round in 0..20 {
        let dropped = Arc::new(AtomicUsize::new(0));
        let d = dropped.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            goro::run(move || {
                let (tx, rx) = goro::bounded::<i32>(0);
                let (_keep, block) = goro::bounded::<()>(0);
                let block2 = block.clone();
                let (ready_tx, ready_rx) = goro::bounded::<()>(2);
                let r = ready_tx.clone();
                goro::go!(move || {
                    let _guard = SendOnDrop(tx, d);
                    r.send(()).unwrap();
                    let _ = block.recv();
                });
                goro::go!(move || {
                    let _rx = rx; // dropped when this one unwinds
                    ready_tx.send(()).unwrap();
                    let _ = block2.recv();
                });
                ready_rx.recv().unwrap();
                ready_rx.recv().unwrap();
                std::mem::forget(_keep); // `block` stays open
            });
            done_tx.send(()).unwrap();
        });
        assert!(
            done_rx.recv_timeout(Duration::from_secs(60)).is_ok(),
            "round {round}: run never returned"
        );
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    }
}

/// A green thread waiting for its scoped children when the runtime shuts
/// down: the children are unwound, which is no failure of theirs, so the
/// scope unwinds its owner with the same private payload (silently), not
/// with std's "a scoped thread panicked" (which would be printed as a
/// panic of the owner).
#[test]
fn a_scope_whose_children_are_unwound_unwinds_silently() {
    let _g = SERIAL.lock();
    let payload_was_a_panic_message = Arc::new(parking_lot::Mutex::new(None::<bool>));
    let seen = payload_was_a_panic_message.clone();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    goro::run(move || {
        let (started_tx, started_rx) = goro::bounded::<()>(0);
        let (never_tx, never_rx) = goro::bounded::<()>(0);
        goro::go!(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                goro::scope(|s| {
                    s.spawn(move || {
                        let _guard = CountDrop(d);
                        let _no_close = never_tx;
                        started_tx.send(()).unwrap();
                        never_rx.recv().ok();
                    });
                })
            }));
            let payload = r.expect_err("the scope cannot end normally");
            *seen.lock() = Some(payload.is::<&str>() || payload.is::<String>());
            std::panic::resume_unwind(payload);
        });
        started_rx.recv().unwrap();
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the child was unwound");
    assert_eq!(
        *payload_was_a_panic_message.lock(),
        Some(false),
        "the scope's owner saw a real panic, not the shutdown's unwind"
    );
}
