//! Mutex hand-off: two waiters and an unlock. The counter lives in the
//! mutex's loom cell, so two owners at once fail the model; a lost wake-up
//! is a deadlock. Under loom a waiter that loses after a wake-up turns the
//! mutex to starvation mode at once (`waited_long`), so both the normal
//! wake-and-compete path and the direct hand-off are explored.

use super::support::{join2, spawn};
use crate::loom::sync::Arc;
use crate::sync::Mutex;

#[test]
fn two_waiters_and_an_unlock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let guard = m.lock();
        let waiter = || {
            let m = m.clone();
            spawn(move || *m.lock() += 1)
        };
        let (a, b) = (waiter(), waiter());
        drop(guard);
        join2(a, b);
        assert_eq!(*m.lock(), 2);
    });
}

#[test]
fn three_lockers_twice_each() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let locker = || {
            let m = m.clone();
            spawn(move || {
                *m.lock() += 1;
                *m.lock() += 1;
            })
        };
        let a = locker();
        *m.lock() += 1;
        *m.lock() += 1;
        a.join();
        assert_eq!(*m.lock(), 4);
    });
}

#[test]
fn try_lock_against_lock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let a = {
            let m = m.clone();
            spawn(move || *m.lock() += 1)
        };
        let got = m.try_lock().map(|mut g| *g += 10).is_some();
        a.join();
        let want = if got { 11 } else { 1 };
        assert_eq!(*m.lock(), want);
    });
}

/// A hot re-locker against one waiter: the waiter is woken, loses to the
/// re-locker, queues again in front and (under loom, at once) turns the
/// mutex to starvation mode; the next unlock hands it the lock, and the
/// re-locker's third lock must wait for it (two owners fail the model).
#[test]
fn a_woken_waiter_that_loses_is_handed_the_lock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let a = {
            let m = m.clone();
            spawn(move || *m.lock() += 1)
        };
        for _ in 0..3 {
            *m.lock() += 1;
        }
        a.join();
        assert_eq!(*m.lock(), 4);
    });
}
