//! [`Condvar`]: a condition variable for goro's [`Mutex`].
//!
//! Protocol: a waiter queues itself on the condvar's FIFO queue *before* it
//! unlocks the mutex, so a notification sent by anyone who locked the mutex
//! after it cannot miss it. `notify_one` grants the oldest waiter,
//! `notify_all` every waiter queued at that moment; the woken ones lock the
//! mutex again before returning. A waiter whose deadline passes removes
//! itself; if a notification reached it first it reports no time-out (the
//! notification is consumed, never lost). A waiter unwinding for a runtime
//! shutdown, while it waits or while it locks the mutex again, passes a
//! notification it received on to the next waiter.

use std::fmt;
use std::time::{Duration, Instant};

#[cfg(doc)]
use super::Mutex;
use super::lock::Lock;
use super::mutex::MutexGuard;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};

/// Waiter grant: notified.
const NOTIFIED: usize = 1;

/// A condition variable: park until another green thread (or OS thread)
/// notifies, with std's shape, for [`Mutex`].
///
/// Spurious wake-ups do not happen (a return means a notification or a
/// time-out), but as with any condition variable, wait in a loop on the
/// condition, or use [`Condvar::wait_while`].
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::{Condvar, Mutex};
///
/// goro::run(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let p = pair.clone();
///     goro::go!(move || {
///         *p.0.lock() = true;
///         p.1.notify_one();
///     });
///     let (ready, cvar) = &*pair;
///     let guard = cvar.wait_while(ready.lock(), |ready| !*ready);
///     assert!(*guard);
/// });
/// ```
pub struct Condvar {
    queue: Lock<WaitQueue>,
}

/// Whether a timed wait on a [`Condvar`] returned because the time ran out.
///
/// ```
/// use std::time::Duration;
/// use goro::sync::{Condvar, Mutex};
///
/// let (m, c) = (Mutex::new(()), Condvar::new());
/// let (_g, res) = c.wait_timeout(m.lock(), Duration::from_millis(1));
/// assert!(res.timed_out());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because the time ran out.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (m, c) = (goro::sync::Mutex::new(()), goro::sync::Condvar::new());
    /// assert!(c.wait_timeout(m.lock(), Duration::ZERO).1.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// let c = goro::sync::Condvar::new();
    /// c.notify_all(); // nobody waits: nothing happens
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Condvar {
        Condvar {
            queue: Lock::new(WaitQueue::new()),
        }
    }

    /// A condition variable with no waiters.
    #[cfg(loom)]
    pub fn new() -> Condvar {
        Condvar {
            queue: Lock::new(WaitQueue::new()),
        }
    }

    /// Unlocks the guard's mutex, parks until notified, then locks it
    /// again and returns the new guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    ///
    /// goro::run(|| {
    ///     let pair = Arc::new((Mutex::new(0), Condvar::new()));
    ///     let p = pair.clone();
    ///     goro::go!(move || {
    ///         *p.0.lock() = 1;
    ///         p.1.notify_all();
    ///     });
    ///     let mut g = pair.0.lock();
    ///     while *g == 0 {
    ///         g = pair.1.wait(g);
    ///     }
    ///     assert_eq!(*g, 1);
    /// });
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_deadline(guard, None).0
    }

    /// Waits while `condition` holds: returns with the mutex locked and
    /// `condition` false.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    ///
    /// goro::run(|| {
    ///     let pair = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    ///     let p = pair.clone();
    ///     goro::go!(move || {
    ///         p.0.lock().push(7);
    ///         p.1.notify_one();
    ///     });
    ///     let g = pair.1.wait_while(pair.0.lock(), |v| v.is_empty());
    ///     assert_eq!(*g, [7]);
    /// });
    /// ```
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`Condvar::wait`], but gives up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::sync::{Condvar, Mutex};
    ///
    /// let (m, c) = (Mutex::new(0), Condvar::new());
    /// let (g, res) = c.wait_timeout(m.lock(), Duration::from_millis(5));
    /// assert!(res.timed_out());
    /// assert_eq!(*g, 0); // the mutex is locked again
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = Instant::now().checked_add(timeout);
        self.wait_deadline(guard, deadline)
    }

    /// Waits while `condition` holds, for at most `timeout` in all; the
    /// result says whether the time ran out (with `condition` still true).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::sync::{Condvar, Mutex};
    ///
    /// let (m, c) = (Mutex::new(false), Condvar::new());
    /// let (g, res) = c.wait_timeout_while(m.lock(), Duration::from_millis(5), |ok| !*ok);
    /// assert!(res.timed_out() && !*g);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult)
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(timeout);
        while condition(&mut *guard) {
            let (g, res) = self.wait_deadline(guard, deadline);
            guard = g;
            if res.timed_out() {
                let still = condition(&mut *guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    /// The one waiting path (`deadline` `None`: no time limit).
    fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = guard.mutex;
        let waiter = Waiter::new(0);
        // SAFETY: `waiter` lives in this frame, which leaves only after it
        // left the queue (notified, or removed by `abandon`).
        unsafe { self.queue.lock().push_back(&waiter) };
        drop(guard);
        let state = waitq::wait(&waiter, deadline, Why::Condvar, |unwinding| {
            self.abandon(&waiter, unwinding)
        });
        // Re-locking may unwind for a runtime shutdown too: a notification
        // this waiter took then goes to the next waiter, as in `abandon`.
        let pass_on = PassOn(self, state != WAITING);
        let guard = mutex.lock();
        std::mem::forget(pass_on);
        (guard, WaitTimeoutResult(state == WAITING))
    }

    /// Step 3: removes a waiter that gave up; on an unwind, a notification
    /// it already received goes to the next waiter instead.
    fn abandon(&self, waiter: &Waiter, unwinding: bool) -> usize {
        let mut queue = self.queue.lock();
        let state = waiter.state();
        if state == WAITING {
            let removed = queue.remove(waiter);
            debug_assert!(removed, "a waiting waiter is queued");
        } else if unwinding {
            drop(queue);
            self.notify_one();
        }
        state
    }

    /// Wakes the oldest waiter, if any.
    ///
    /// ```
    /// let c = goro::sync::Condvar::new();
    /// c.notify_one(); // no waiter: a no-op (notifications are not stored)
    /// ```
    pub fn notify_one(&self) {
        let wake = self.queue.lock().pop().map(|w| w.finish(NOTIFIED));
        waitq::unpark_all(wake);
    }

    /// Wakes every current waiter.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    ///
    /// goro::run(|| {
    ///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
    ///     let hs: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let p = pair.clone();
    ///             goro::go!(move || drop(p.1.wait_while(p.0.lock(), |go| !*go)))
    ///         })
    ///         .collect();
    ///     *pair.0.lock() = true;
    ///     pair.1.notify_all();
    ///     for h in hs {
    ///         h.join().unwrap();
    ///     }
    /// });
    /// ```
    pub fn notify_all(&self) {
        let wake: Vec<_> = self
            .queue
            .lock()
            .drain()
            .map(|w| w.finish(NOTIFIED))
            .collect();
        waitq::unpark_all(wake);
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

// The internal state stays consistent across a panic anywhere (waiters
// that unwind leave their queue), so observing it after one is fine.
impl std::panic::UnwindSafe for Condvar {}
impl std::panic::RefUnwindSafe for Condvar {}

/// Passes a notification on to the next waiter when dropped, which happens
/// only if re-locking the mutex after it unwinds (it is forgotten
/// otherwise); `.1` says whether there is one to pass.
struct PassOn<'c>(&'c Condvar, bool);

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.notify_one();
        }
    }
}
