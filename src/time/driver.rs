//! The global timer thread: fires the timer channels made on plain OS
//! threads (outside any runtime). Timers made on a green thread go on its
//! worker's heap instead (`runtime/worker.rs`); this thread exists only
//! once some OS thread has made a timer, and is then shared by all.
//!
//! # Protocol (no lost wake-up)
//!
//! 1. `register` takes the lock, pushes the entry, and, if it is the new
//!    earliest one, notifies the condition variable after unlocking.
//! 2. The thread (`turn`) takes the lock, pops every due entry, and if none
//!    was due waits on the condition variable (until the earliest deadline,
//!    or without a deadline when the heap is empty) without releasing the
//!    lock in between. So a registration either happens before the thread
//!    looks at the heap (it sees the entry) or after it started waiting
//!    (the notify wakes it).
//! 3. Due entries fire outside the lock (a fire sends on a channel, which
//!    may wake threads), in deadline order except that entries due within
//!    a millisecond of each other fire in random order (`shuffle_ties`);
//!    an entry that asks to be re-armed (a ticker) goes back into the heap.
//!
//! `pending` counts entries registered and not yet done firing (it drops
//! only after the fire completed), so the deadlock detector never sees
//! "no timer pending" while a fire is still on its way to a receiver.
//! loom checks steps 1-2 (`tests::loom_*`).

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Condvar, Mutex};

/// Something a timer does when due.
pub(crate) trait Expire: Send + 'static {
    /// Fires at time `now` (at or after its deadline); returns the
    /// deadline to fire again at, or `None` when done.
    fn expire(&mut self, now: Instant) -> Option<Instant>;

    /// Whether firing would do nothing (every receiver gone, the context
    /// cancelled or freed), so the entry may go before its deadline.
    fn is_dead(&self) -> bool {
        false
    }
}

/// A heap smaller than this is never swept for dead entries.
pub(crate) const SWEEP_MIN: usize = 64;

/// A heap of timers and the condition variable its thread waits on.
pub(crate) struct Driver<E> {
    state: Mutex<BinaryHeap<Reverse<Entry<E>>>>,
    cvar: Condvar,
    /// Entries registered and not yet done (see the module doc).
    pending: AtomicUsize,
    /// Heap size at which `register` sweeps dead entries out (written
    /// under the lock).
    sweep_at: AtomicUsize,
}

struct Entry<E> {
    deadline: Instant,
    e: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.deadline.cmp(&other.deadline)
    }
}

impl<E: Expire> Driver<E> {
    pub(crate) fn new() -> Driver<E> {
        Driver {
            state: Mutex::new(BinaryHeap::new()),
            cvar: Condvar::new(),
            pending: AtomicUsize::new(0),
            sweep_at: AtomicUsize::new(SWEEP_MIN),
        }
    }

    /// Step 1: arms `e` to fire at `deadline`.
    pub(crate) fn register(&self, deadline: Instant, e: E) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let mut heap = self.state.lock();
        // Dead entries (a `select` loop over `after(1 h)` makes one per
        // turn) would stay until their deadlines: once the heap has
        // doubled since the last sweep, drop them (amortised O(1) per
        // registration).
        if heap.len() >= self.sweep_at.load(Ordering::Relaxed) {
            self.sweep(&mut heap);
            self.sweep_at
                .store((2 * heap.len()).max(SWEEP_MIN), Ordering::Relaxed);
        }
        let earliest = heap.peek().is_none_or(|Reverse(t)| deadline < t.deadline);
        heap.push(Reverse(Entry { deadline, e }));
        drop(heap);
        if earliest {
            self.cvar.notify_one();
        }
    }

    /// Timers registered and not done firing.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Drops the dead entries now (every receiver gone, the context
    /// cancelled), then counts the pending ones: for the deadlock
    /// detector, for which a dead timer is no timer.
    pub(crate) fn live_pending(&self) -> usize {
        self.sweep(&mut self.state.lock());
        self.pending()
    }

    /// Drops the dead entries of `heap` (this driver's, locked) and
    /// uncounts them.
    fn sweep(&self, heap: &mut BinaryHeap<Reverse<Entry<E>>>) {
        let before = heap.len();
        heap.retain(|Reverse(t)| !t.e.is_dead());
        self.pending
            .fetch_sub(before - heap.len(), Ordering::SeqCst);
    }

    /// Steps 2-3: fires what is due, else waits until the earliest
    /// deadline or a registration (may return spuriously). The thread's
    /// body calls this in a loop.
    pub(crate) fn turn(&self) {
        let mut heap = self.state.lock();
        let now = Instant::now();
        let mut due = Vec::new();
        while heap.peek().is_some_and(|Reverse(t)| t.deadline <= now) {
            if let Some(Reverse(t)) = heap.pop() {
                due.push(t);
            }
        }
        if due.is_empty() {
            let next = heap.peek().map(|Reverse(t)| t.deadline);
            drop(match next {
                None => self.cvar.wait(heap),
                Some(d) => self.cvar.wait_until(heap, d),
            });
            return;
        }
        drop(heap);
        super::shuffle_ties(&mut due, |t| t.deadline);
        for mut t in due {
            match t.e.expire(now) {
                Some(next) => self.state.lock().push(Reverse(Entry {
                    deadline: next,
                    e: t.e,
                })),
                None => {
                    drop(t);
                    self.pending.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! A registration racing the timer thread's check-then-wait is never
    //! lost (a lost one shows up as a loom deadlock: the thread waits
    //! forever and the registering thread waits for the fire).

    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::AtomicBool;
    use loom::thread;

    struct Flag(Arc<AtomicBool>);

    impl Expire for Flag {
        fn expire(&mut self, _now: Instant) -> Option<Instant> {
            self.0.store(true, Ordering::SeqCst);
            None
        }
    }

    #[test]
    fn loom_timer_register_races_wait() {
        loom::model(|| {
            let driver = Arc::new(Driver::<Flag>::new());
            let fired = Arc::new(AtomicBool::new(false));
            let d = driver.clone();
            let f = fired.clone();
            let thread = thread::spawn(move || {
                while !f.load(Ordering::SeqCst) {
                    d.turn();
                }
            });
            // Already due: the thread must fire it whether it is checking
            // the heap, about to wait, or waiting.
            driver.register(Instant::now(), Flag(fired.clone()));
            thread.join().unwrap();
            assert!(fired.load(Ordering::SeqCst));
            assert_eq!(driver.pending(), 0);
        });
    }

    #[test]
    fn loom_timer_two_registrations() {
        loom::model(|| {
            let driver = Arc::new(Driver::<Flag>::new());
            let a = Arc::new(AtomicBool::new(false));
            let b = Arc::new(AtomicBool::new(false));
            let d = driver.clone();
            let (fa, fb) = (a.clone(), b.clone());
            let thread = thread::spawn(move || {
                while !(fa.load(Ordering::SeqCst) && fb.load(Ordering::SeqCst)) {
                    d.turn();
                }
            });
            let d2 = driver.clone();
            let b2 = b.clone();
            let other = thread::spawn(move || d2.register(Instant::now(), Flag(b2)));
            driver.register(Instant::now(), Flag(a.clone()));
            other.join().unwrap();
            thread.join().unwrap();
            assert_eq!(driver.pending(), 0);
        });
    }
}
