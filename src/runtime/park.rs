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
//! A waker publishes work first, then calls [`Parker::unpark`], which issues
//! the OS-level notify only when the state was PARKED. The worker moves to
//! PARKED (a `SeqCst` swap), then re-checks for work with the caller's
//! `has_work` closure, then waits. Either the waker's swap sees PARKED and
//! notifies (it takes the mutex first, so the notify cannot fall between
//! the worker's check and its wait), or it saw EMPTY and then the worker's
//! re-check, ordered after it, sees the work.

use std::time::Instant;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
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
        if !has_work() {
            loop {
                wait(&self.cvar, &mut guard, deadline);
                if self.state.load(Ordering::SeqCst) == NOTIFIED {
                    break;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
            }
        }
        // Whatever woke us (work, notify, deadline), we are running again.
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

    /// Whether the worker is (about to be) asleep. Wakers that published
    /// work and then issued a `SeqCst` fence use this to skip a needless
    /// `unpark` (see the module doc).
    pub(crate) fn is_parked(&self) -> bool {
        self.state.load(Ordering::SeqCst) == PARKED
    }
}

#[cfg(not(loom))]
fn wait(cvar: &Condvar, guard: &mut crate::loom::sync::MutexGuard<'_, ()>, deadline: Option<Instant>) {
    match deadline {
        Some(d) => {
            cvar.wait_until(guard, d);
        }
        None => cvar.wait(guard),
    }
}

#[cfg(loom)]
fn wait(cvar: &Condvar, guard: &mut crate::loom::sync::MutexGuard<'_, ()>, deadline: Option<Instant>) {
    // loom has no timed wait: a deadline is modelled as an immediate spurious
    // wake-up, which the caller's loop tolerates.
    if deadline.is_none() {
        cvar.wait(guard);
    }
}
