//! [`WaitGroup`]: Go's `sync.WaitGroup`.
//!
//! The counter is an atomic (`add` and `done` are one atomic operation each
//! unless `done` reaches zero); the waiters sit in a queue behind the
//! internal lock. Protocol against a lost wake-up:
//!
//! 1. `done` decrements; the call that brings the counter to zero then
//!    locks and wakes every queued waiter.
//! 2. `wait` locks, reads the counter, and queues itself only if it is
//!    non-zero. If step 1's decrement came first, the lock orders it before
//!    the read (zero seen, no wait); otherwise the waker locks after the
//!    waiter queued and finds it.
//!
//! A waiter returns once woken, even if the counter went up again since
//! (Go's semantics: `Wait` returns when the counter hits zero).

use std::fmt;

use super::lock::Lock;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// Waiter grant: the counter reached zero.
const RELEASED: usize = 1;

/// Waits for a collection of green threads (or OS threads) to finish, like
/// Go's `sync.WaitGroup`: [`add`](WaitGroup::add) counts work up,
/// [`done`](WaitGroup::done) counts it down, [`wait`](WaitGroup::wait)
/// parks until the count is zero.
///
/// Clones share one counter (hand one to each green thread); dropping a
/// clone does not count as `done`.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use goro::sync::WaitGroup;
///
/// goro::run(|| {
///     let wg = WaitGroup::new();
///     let hits = Arc::new(AtomicUsize::new(0));
///     for _ in 0..10 {
///         wg.add(1);
///         let (wg, hits) = (wg.clone(), hits.clone());
///         goro::go!(move || {
///             hits.fetch_add(1, Ordering::SeqCst);
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(hits.load(Ordering::SeqCst), 10);
/// });
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    count: AtomicUsize,
    waiters: Lock<WaitQueue>,
}

impl WaitGroup {
    /// A wait group with a zero counter.
    ///
    /// ```
    /// goro::sync::WaitGroup::new().wait(); // zero: returns at once
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                count: AtomicUsize::new(0),
                waiters: Lock::new(WaitQueue::new()),
            }),
        }
    }

    /// Adds `n` to the counter. Call it before starting the work (and so
    /// before a `wait` that must see it), as in Go.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// wg.done();
    /// wg.wait();
    /// ```
    pub fn add(&self, n: usize) {
        // A compare-and-swap loop, not `fetch_add`: an overflow leaves the
        // counter as it was.
        if self
            .inner
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(n))
            .is_err()
        {
            panic!("sync: WaitGroup counter overflow");
        }
    }

    /// Subtracts one from the counter; at zero every waiter wakes.
    ///
    /// # Panics
    ///
    /// `sync: negative WaitGroup counter` if the counter is already zero
    /// (more `done` than `add`), as in Go.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// let r = std::panic::catch_unwind(|| wg.done());
    /// assert!(r.is_err()); // below zero
    /// ```
    pub fn done(&self) {
        // A compare-and-swap loop, not `fetch_sub`: a `done` below zero
        // never shows a wrapped-around counter to a concurrent `add` or
        // `wait`.
        let Ok(prev) = self
            .inner
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_sub(1))
        else {
            panic!("sync: negative WaitGroup counter");
        };
        if prev == 1 {
            self.release();
        }
    }

    /// Parks until the counter is zero.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// std::thread::spawn(move || w.done());
    /// wg.wait();
    /// ```
    pub fn wait(&self) {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut waiters = self.inner.waiters.lock();
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let waiter = Waiter::new(0);
        // SAFETY: `waiter` lives in this frame, which leaves only after it
        // left the queue (released, or removed by `abandon`).
        unsafe { waiters.push_back(&waiter) };
        drop(waiters);
        waitq::wait(&waiter, None, Why::WaitGroup, |_| {
            let mut waiters = self.inner.waiters.lock();
            let state = waiter.state();
            if state == WAITING {
                waiters.remove(&waiter);
            }
            state
        });
    }

    /// Step 1: the counter reached zero, wake every waiter.
    fn release(&self) {
        let wake: Vec<_> = self
            .inner
            .waiters
            .lock()
            .drain()
            .map(|w| w.finish(RELEASED))
            .collect();
        waitq::unpark_all(wake);
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner.count.load(Ordering::Relaxed))
            .finish()
    }
}

// The internal state stays consistent across a panic anywhere (waiters
// that unwind leave their queue), so observing it after one is fine.
impl std::panic::UnwindSafe for WaitGroup {}
impl std::panic::RefUnwindSafe for WaitGroup {}
