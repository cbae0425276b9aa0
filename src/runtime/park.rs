//! Parking an idle worker's OS thread: a three-state machine over a mutex
//! and a condition variable (the netpoller issue turns the wait into an
//! epoll wait behind the same interface).
//!
//! ```text
//!  EMPTY --park--> PARKED --unpark--> NOTIFIED --park returns--> EMPTY
//!  EMPTY --unpark--> NOTIFIED (the next park returns at once)
//! ```
//!
//! # No lost wake-up
//!
//! A waker publishes work first, then calls [`Parker::is_parked`] (a
//! `SeqCst` fence, then a load) and only if it says so [`Parker::unpark`],
//! which issues the OS-level notify only when the state was PARKED. The
//! worker moves to PARKED, issues a `SeqCst` fence, re-checks for work with
//! the caller's `has_work` closure, then waits. By the two fences either the
//! waker sees PARKED and notifies (it takes the mutex first, so the notify
//! cannot fall between the worker's check and its wait), or the worker's
//! re-check sees the work. (loom checks this with explicit fences: it models
//! `SeqCst` accesses alone as acquire/release.)

use std::time::Instant;

use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};
use crate::loom::sync::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// Parks one worker thread; any thread may unpark it.
#[derive(Debug)]
pub(crate) struct Parker {
    /// EMPTY, PARKED or NOTIFIED (see the module doc).
    state: AtomicUsize,
    /// Held from the move to PARKED until the wait, and by `unpark` around
    /// its notify, so a notify cannot be missed.
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    /// Blocks until [`Parker::unpark`] or `deadline`, unless a notification
    /// is pending or `has_work` (checked after announcing PARKED) says there
    /// is something to do. May return spuriously.
    pub(crate) fn park(&self, deadline: Option<Instant>, has_work: impl FnOnce() -> bool) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        let mut guard = self.lock.lock();
        if self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // NOTIFIED arrived since the check above.
            self.state.store(EMPTY, Ordering::SeqCst);
            return;
        }
        // Pairs with the fence in `is_parked` (Dekker): the waker's work
        // push or our PARKED store is seen by the other side.
        fence(Ordering::SeqCst);
        if !has_work() {
            loop {
                guard = match deadline {
                    Some(d) => self.cvar.wait_until(guard, d),
                    None => self.cvar.wait(guard),
                };
                if self.state.load(Ordering::SeqCst) == NOTIFIED {
                    break;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
            }
        }
        drop(guard);
        // Whatever woke us (work, notify or deadline), we are running again.
        self.state.store(EMPTY, Ordering::SeqCst);
    }

    /// Wakes the parked worker, or makes its next park return at once. The
    /// OS-level notify happens only when the worker is parked.
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, Ordering::SeqCst) == PARKED {
            drop(self.lock.lock());
            self.cvar.notify_one();
        }
    }

    /// Whether the worker is (about to be) asleep. A waker that published
    /// work calls this (it starts with a `SeqCst` fence) to skip a needless
    /// `unpark` (see the module doc).
    pub(crate) fn is_parked(&self) -> bool {
        fence(Ordering::SeqCst);
        self.state.load(Ordering::SeqCst) == PARKED
    }
}
