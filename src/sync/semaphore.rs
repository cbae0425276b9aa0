//! [`Semaphore`]: counted permits with a FIFO wait queue.
//!
//! All state lives under the internal lock: the free permits and the queue
//! of waiters, each asking for `value` permits.
//!
//! # Invariant (internal lock free)
//!
//! The queue is empty or its head asks for more permits than are free. So
//! a newcomer may take permits only when the queue is empty (no overtaking:
//! a large request at the head holds back later small ones), and whoever
//! frees permits (a dropped permit, `add_permits`, or a waiter leaving the
//! queue) grants the head, then the next, while they fit.
//!
//! A granted waiter holds its permits from the moment of the grant; if it
//! unwinds (runtime shutdown) before returning, it gives them back.

use std::fmt;

use super::lock::Lock;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};
use crate::runtime::parking::Unparker;

/// Waiter grant: its permits are taken on its behalf.
const GRANTED: usize = 1;

/// A counting semaphore that parks the green thread (or OS thread) that
/// waits for permits; waiters are served in arrival order.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use goro::sync::Semaphore;
///
/// goro::run(|| {
///     let sem = Arc::new(Semaphore::new(2)); // at most 2 at a time
///     let busy = Arc::new(AtomicUsize::new(0));
///     let hs: Vec<_> = (0..8)
///         .map(|_| {
///             let (sem, busy) = (sem.clone(), busy.clone());
///             goro::go!(move || {
///                 let _permit = sem.acquire();
///                 assert!(busy.fetch_add(1, Ordering::SeqCst) < 2);
///                 goro::yield_now();
///                 busy.fetch_sub(1, Ordering::SeqCst);
///             })
///         })
///         .collect();
///     for h in hs {
///         h.join().unwrap();
///     }
///     assert_eq!(sem.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    inner: Lock<Inner>,
}

struct Inner {
    /// Free permits.
    permits: usize,
    queue: WaitQueue,
}

/// Permits taken from a [`Semaphore`]; they go back when it is dropped.
///
/// ```
/// let sem = goro::sync::Semaphore::new(3);
/// let p = sem.acquire_many(2);
/// assert_eq!((p.num_permits(), sem.available_permits()), (2, 1));
/// drop(p);
/// assert_eq!(sem.available_permits(), 3);
/// ```
#[must_use = "the permits are released at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// ```
    /// static S: goro::sync::Semaphore = goro::sync::Semaphore::new(1);
    /// assert_eq!(S.available_permits(), 1);
    /// ```
    #[cfg(not(loom))]
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: Lock::new(Inner {
                permits,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// A semaphore with `permits` free permits.
    #[cfg(loom)]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: Lock::new(Inner {
                permits,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// Takes one permit, parking until it is available and every earlier
    /// waiter was served.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, parking until they are available and
    /// every earlier waiter was served (`n == 0` returns at once).
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(5);
    /// let p = sem.acquire_many(5);
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// ```
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        if n == 0 {
            return SemaphorePermit {
                sem: self,
                permits: 0,
            };
        }
        let mut inner = self.inner.lock();
        if inner.queue.is_empty() && inner.permits >= n {
            inner.permits -= n;
            return SemaphorePermit {
                sem: self,
                permits: n,
            };
        }
        let waiter = Waiter::new(n);
        // SAFETY: `waiter` lives in this frame, which leaves only after it
        // left the queue (granted, or removed by `abandon`).
        unsafe { inner.queue.push_back(&waiter) };
        drop(inner);
        let state = waitq::wait(&waiter, None, Why::Semaphore, |_| self.abandon(&waiter, n));
        debug_assert_eq!(state, GRANTED);
        SemaphorePermit {
            sem: self,
            permits: n,
        }
    }

    /// Takes one permit if one is free and nobody waits.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_none());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut inner = self.inner.lock();
        if n == 0 || (inner.queue.is_empty() && inner.permits >= n) {
            inner.permits -= n;
            Some(SemaphorePermit {
                sem: self,
                permits: n,
            })
        } else {
            None
        }
    }

    /// The permits free right now.
    ///
    /// ```
    /// assert_eq!(goro::sync::Semaphore::new(4).available_permits(), 4);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.inner.lock().permits
    }

    /// Adds `n` permits (waking waiters they satisfy, in order).
    ///
    /// # Panics
    ///
    /// If the number of free permits would overflow `usize`.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut inner = self.inner.lock();
        inner.permits = inner
            .permits
            .checked_add(n)
            .expect("goro::sync::Semaphore: permit count overflow");
        let wake = inner.grant_waiters();
        drop(inner);
        waitq::unpark_all(wake);
    }

    /// Step 3 for an unwinding waiter: leave the queue (which may let the
    /// next ones through), or give back the permits it was granted.
    fn abandon(&self, waiter: &Waiter, n: usize) -> usize {
        let mut inner = self.inner.lock();
        let state = waiter.state();
        if state == WAITING {
            let removed = inner.queue.remove(waiter);
            debug_assert!(removed, "a waiting waiter is queued");
            let wake = inner.grant_waiters();
            drop(inner);
            waitq::unpark_all(wake);
        } else {
            drop(inner);
            self.add_permits(n);
        }
        state
    }
}

impl Inner {
    /// Grants waiters from the head while their requests fit; returns the
    /// unparkers to use after unlocking.
    fn grant_waiters(&mut self) -> Vec<Unparker> {
        let mut wake = Vec::new();
        while let Some(n) = self.queue.front_value() {
            if n > self.permits {
                break;
            }
            self.permits -= n;
            let w = self.queue.pop().expect("a front waiter");
            wake.push(w.finish(GRANTED));
        }
        wake
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(3);
    /// assert_eq!(sem.acquire_many(3).num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Drops the permit without giving its permits back (they are gone
    /// from the semaphore for good).
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(2);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.sem.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

// The internal state stays consistent across a panic anywhere (waiters
// that unwind leave their queue), so observing it after one is fine.
impl std::panic::UnwindSafe for Semaphore {}
impl std::panic::RefUnwindSafe for Semaphore {}
