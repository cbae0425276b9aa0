//! `WaitGroup::wait` racing the last `done`: the waiter never misses the
//! release and sees the work done before it.

use super::support::{join2, spawn};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::WaitGroup;

#[test]
fn wait_races_the_last_done() {
    loom::model(|| {
        let wg = WaitGroup::new();
        let work = Arc::new(AtomicUsize::new(0));
        wg.add(2);
        let worker = || {
            let (wg, work) = (wg.clone(), work.clone());
            spawn(move || {
                work.fetch_add(1, Ordering::Relaxed);
                wg.done();
            })
        };
        let (a, b) = (worker(), worker());
        wg.wait();
        // `done` releases, `wait` acquires: both increments are visible.
        assert_eq!(work.load(Ordering::Relaxed), 2);
        join2(a, b);
    });
}

#[test]
fn two_waiters_one_done() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let w = {
            let wg = wg.clone();
            spawn(move || wg.wait())
        };
        let d = {
            let wg = wg.clone();
            spawn(move || wg.done())
        };
        wg.wait();
        join2(w, d);
    });
}
