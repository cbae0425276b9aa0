//! [`Barrier`]: std's reusable barrier.
//!
//! Under the internal lock: how many have arrived in the current round and
//! the queue of those waiting. The `n`-th arrival is the leader: it resets
//! the count (starting the next round) and releases the whole queue, so a
//! fast thread that comes back for the next round cannot mix with the
//! previous one. A waiter unwinding for a runtime shutdown before its round
//! completes leaves the queue and takes back its arrival.

use std::fmt;

use super::lock::Lock;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};

/// Waiter grant: the round completed.
const RELEASED: usize = 1;

/// Lets `n` green threads (or OS threads) wait for each other, round after
/// round, like `std::sync::Barrier`.
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::Barrier;
///
/// goro::run(|| {
///     let barrier = Arc::new(Barrier::new(3));
///     let hs: Vec<_> = (0..3)
///         .map(|_| {
///             let b = barrier.clone();
///             goro::go!(move || b.wait().is_leader())
///         })
///         .collect();
///     let leaders = hs.into_iter().map(|h| h.join().unwrap());
///     assert_eq!(leaders.filter(|&leader| leader).count(), 1);
/// });
/// ```
pub struct Barrier {
    n: usize,
    inner: Lock<Inner>,
}

struct Inner {
    /// Arrivals in the current round (always `< n` when unlocked).
    arrived: usize,
    queue: WaitQueue,
}

/// What [`Barrier::wait`] returns: one caller per round is the leader.
///
/// ```
/// let b = goro::sync::Barrier::new(1);
/// assert!(b.wait().is_leader());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this caller completed the round (exactly one per round).
    ///
    /// ```
    /// assert!(goro::sync::Barrier::new(0).wait().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` behaves like `1`, as in std).
    ///
    /// ```
    /// let b = goro::sync::Barrier::new(2);
    /// # drop(b);
    /// ```
    #[cfg(not(loom))]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            inner: Lock::new(Inner {
                arrived: 0,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// A barrier for `n` parties (`0` behaves like `1`, as in std).
    #[cfg(loom)]
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n,
            inner: Lock::new(Inner {
                arrived: 0,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// Parks until `n` parties have called `wait` in this round; the last
    /// to arrive returns at once as the leader.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let b = Arc::new(goro::sync::Barrier::new(2));
    /// let b2 = b.clone();
    /// let t = std::thread::spawn(move || b2.wait().is_leader());
    /// let me = b.wait().is_leader();
    /// assert!(me != t.join().unwrap());
    /// ```
    pub fn wait(&self) -> BarrierWaitResult {
        let mut inner = self.inner.lock();
        inner.arrived += 1;
        if inner.arrived >= self.n {
            inner.arrived = 0;
            let wake: Vec<_> = inner.queue.drain().map(|w| w.finish(RELEASED)).collect();
            drop(inner);
            waitq::unpark_all(wake);
            return BarrierWaitResult(true);
        }
        let waiter = Waiter::new(0);
        // SAFETY: `waiter` lives in this frame, which leaves only after it
        // left the queue (released, or removed by the abandon hook).
        unsafe { inner.queue.push_back(&waiter) };
        drop(inner);
        waitq::wait(&waiter, None, Why::Barrier, |_| {
            let mut inner = self.inner.lock();
            let state = waiter.state();
            if state == WAITING {
                inner.queue.remove(&waiter);
                inner.arrived -= 1;
            }
            state
        });
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

// The internal state stays consistent across a panic anywhere (waiters
// that unwind leave their queue), so observing it after one is fine.
impl std::panic::UnwindSafe for Barrier {}
impl std::panic::RefUnwindSafe for Barrier {}
