//! A one-shot gate that any number of green threads or OS threads wait on
//! until it opens: the smallest waiter built on the park primitive, used
//! by benchmarks and tests to park many green threads at once before
//! channels exist. Not public API (`__private`).
//!
//! Waiters register their unparker under the lock and re-check the flag
//! there; `open` sets the flag under the same lock and wakes them after
//! unlocking, so no wake-up is lost.

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::runtime::parking::{self, Unparker};
use crate::runtime::task::WaitReason;

/// A gate that starts closed; `open` releases every waiter, present and
/// future.
#[derive(Debug, Default)]
pub struct Gate {
    open: AtomicBool,
    waiters: Mutex<Vec<Unparker>>,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Blocks until the gate is open (parks a green thread, or the OS
    /// thread).
    pub fn wait(&self) {
        while !self.open.load(Ordering::Acquire) {
            {
                let mut w = self.waiters.lock();
                if self.open.load(Ordering::Acquire) {
                    return;
                }
                w.push(Unparker::current());
            }
            parking::park(WaitReason::Sync);
        }
    }

    /// Opens the gate and wakes every waiter.
    pub fn open(&self) {
        let waiters = {
            let mut w = self.waiters.lock();
            self.open.store(true, Ordering::Release);
            std::mem::take(&mut *w)
        };
        for u in waiters {
            u.unpark();
        }
    }
}
