//! A one-shot hand-over of a value from one producer to one consumer that
//! may wait for it: a green thread's result to its joiner.
//!
//! # Protocol (one atomic state word, no lock)
//!
//! ```text
//!  EMPTY --the consumer registers its unparker--> WAITING
//!  EMPTY or WAITING --the producer stores the value--> DONE
//!  DONE --the consumer takes the value--> TAKEN
//! ```
//!
//! 1. The producer writes `value`, then swaps the state to DONE (release).
//!    If it was WAITING, it takes the unparker the consumer wrote before
//!    publishing WAITING (acquire) and wakes it.
//! 2. A consumer that finds EMPTY writes its unparker into `waiter`, then
//!    moves EMPTY -> WAITING (release); if that fails the value is there.
//!    Once WAITING it only parks (a spurious wake-up finds WAITING again).
//! 3. Taking the value is the move DONE -> TAKEN, so it happens once.
//!
//! `waiter` is written only by the consumer while EMPTY and read only by
//! the producer after it saw WAITING; `value` is written only before DONE
//! and read only by whoever wins DONE -> TAKEN. One consumer at a time:
//! `poll` is called by one thread (the joiner owns the join handle).

use super::parking::Unparker;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU8, Ordering};

const EMPTY: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;
const TAKEN: u8 = 3;

/// A value handed over once.
pub(crate) struct Oneshot<T> {
    value: UnsafeCell<Option<T>>,
    waiter: UnsafeCell<Option<Unparker>>,
    state: AtomicU8,
}

// SAFETY: `value` and `waiter` are handed between the producer and the
// consumer by the state word's acquire/release (module protocol); the
// value moves between threads, so `T: Send`.
unsafe impl<T: Send> Sync for Oneshot<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Oneshot<T> {}

impl<T> Oneshot<T> {
    pub(crate) fn new() -> Oneshot<T> {
        Oneshot {
            value: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
            state: AtomicU8::new(EMPTY),
        }
    }

    /// Step 1: stores the value and wakes a waiting consumer. Called once.
    pub(crate) fn complete(&self, value: T) {
        // SAFETY: only the producer writes `value`, once, before DONE.
        self.value.with_mut(|v| unsafe { *v = Some(value) });
        if self.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY: the consumer wrote `waiter` before publishing WAITING,
            // which our swap acquired; it never touches it again.
            let waiter = self.waiter.with_mut(|w| unsafe { (*w).take() });
            if let Some(w) = waiter {
                w.unpark();
            }
        }
    }

    /// Whether the value has been stored (taken or not).
    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) >= DONE
    }

    /// Step 3: the value, if stored and not yet taken.
    pub(crate) fn take(&self) -> Option<T> {
        self.state
            .compare_exchange(DONE, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        // SAFETY: we won DONE -> TAKEN, so the producer finished writing
        // `value` (acquire) and nobody else reads it.
        self.value.with_mut(|v| unsafe { (*v).take() })
    }

    /// Step 2: the value if it is there; otherwise registers the calling
    /// thread to be woken when it is, and returns `None` (the caller
    /// parks, then polls again).
    pub(crate) fn poll(&self) -> Option<T> {
        match self.state.load(Ordering::Acquire) {
            EMPTY => {
                // SAFETY: while EMPTY only the (single) consumer touches
                // `waiter`.
                self.waiter
                    .with_mut(|w| unsafe { *w = Some(Unparker::current()) });
                match self.state.compare_exchange(
                    EMPTY,
                    WAITING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => None,
                    Err(_) => self.take(),
                }
            }
            WAITING => None,
            _ => self.take(),
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;

    /// The consumer parks in a loop on `poll`; the producer completes
    /// concurrently. No lost wake-up (loom reports a deadlock), the value
    /// arrives exactly once.
    #[test]
    fn completion_racing_a_waiting_consumer() {
        loom::model(|| {
            let o = Arc::new(Oneshot::new());
            let p = {
                let o = o.clone();
                loom::thread::spawn(move || o.complete(7u32))
            };
            let v = loop {
                if let Some(v) = o.poll() {
                    break v;
                }
                crate::runtime::parking::park(Default::default());
            };
            assert_eq!(v, 7);
            assert!(o.is_done());
            assert_eq!(o.take(), None, "taken once");
            p.join().unwrap();
        });
    }

    /// A second party (a scope discarding results) racing the consumer:
    /// exactly one of them gets the value.
    #[test]
    fn take_races_poll() {
        loom::model(|| {
            let o = Arc::new(Oneshot::new());
            o.complete(1u32);
            let t = {
                let o = o.clone();
                loom::thread::spawn(move || o.take())
            };
            let mine = o.poll();
            let theirs = t.join().unwrap();
            assert_eq!(mine.is_some() as u8 + theirs.is_some() as u8, 1);
        });
    }
}
