//! [`Mutex`]: Go's `sync.Mutex` with a Rust guard.
//!
//! # State
//!
//! `state` holds four bits: [`LOCKED`] (someone owns the lock),
//! [`QUEUED`] (the wait queue is non-empty, so an unlock must take the slow
//! path), [`STARVING`] (the mode, below: a newcomer does not spin for a
//! lock that is handed over in order) and [`WAKING`] (a woken waiter is on
//! its way back). `QUEUED`, `STARVING` and `WAKING` change only under the
//! internal lock; whenever the internal lock is free, `QUEUED` is set
//! exactly when the queue is non-empty. `LOCKED` is set by a CAS from anywhere and cleared by its
//! owner. Uncontended, `lock` and `unlock` are one CAS each (`0 -> LOCKED`
//! and back).
//!
//! # Modes (Go's `sync/mutex.go`)
//!
//! * Normal: an unlock with waiters clears `LOCKED` and wakes the oldest
//!   waiter (state [`WOKEN`]); it competes with newcomers, which may barge
//!   in (good throughput: the running thread keeps its cache warm). A woken
//!   waiter that loses queues again at the *front*. Only one waiter is
//!   woken at a time ([`WAKING`], Go's `mutexWoken`): while it has not come
//!   back, unlocks wake nobody else, so waiters keep their order.
//! * Starvation: a woken waiter that loses after waiting 1 ms or more sets
//!   [`STARVING`] as it queues again. From then on an unlock keeps `LOCKED`
//!   set and hands the lock straight to the oldest waiter (state
//!   [`HANDED`]), so newcomers queue at the back and everyone is served in
//!   arrival order; the mode ends when the queue empties, or when a waiter
//!   handed the lock had waited under 1 ms (Go's rule: the queue moves).
//!
//! Invariant (internal lock free): `STARVING` implies `LOCKED` and a
//! non-empty queue, so a newcomer's CAS can never beat a starving waiter.
//!
//! A waiter that unwinds (runtime shutdown) leaves the queue consistent:
//! still queued, it removes itself; handed the lock, it unlocks (passing it
//! on); woken, it clears `WAKING` and takes and releases the lock if free,
//! so the next waiter is woken in its place.
//!
//! No poisoning: a guard dropped while unwinding simply unlocks.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use super::lock::Lock;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// `state` bit: the lock is owned.
const LOCKED: usize = 1;
/// `state` bit: the wait queue is non-empty.
const QUEUED: usize = 2;
/// `state` bit: starvation mode, unlocks hand the lock to the oldest waiter
/// (module doc). Changed under the internal lock; read without it by a
/// newcomer, which skips a spin that cannot win.
const STARVING: usize = 4;
/// `state` bit: a waiter was woken in normal mode and has not come back to
/// the queue yet (Go's `mutexWoken`). Set and cleared under the internal
/// lock; an unlock that sees it (and not [`STARVING`]) wakes nobody, so it
/// just clears [`LOCKED`], without the internal lock.
const WAKING: usize = 8;

/// Waiter grant: woken in normal mode, compete again.
const WOKEN: usize = 1;
/// Waiter grant: the lock was handed over, the waiter owns it.
const HANDED: usize = 2;

/// Rounds of the bounded spin before queueing (`Backoff::spin`: 1, 2, 4, 8
/// and 16 spin hints, under a microsecond here: a spin hint costs 27 ns on
/// this machine's AMD EPYC, and a longer spin only delays the queueing).
#[cfg(not(loom))]
const SPINS: usize = 5;

/// How long a waiter waits before the mutex turns to starvation mode.
#[cfg(not(loom))]
const STARVATION_THRESHOLD: std::time::Duration = std::time::Duration::from_millis(1);

/// A mutual exclusion lock that parks the green thread (or the OS thread)
/// that waits for it, never blocking a worker.
///
/// Like Go's `sync.Mutex` it is fair in the long run: once a waiter has
/// waited 1 ms, the lock is handed over in arrival order until no one
/// waits. Like `parking_lot`'s, it does not poison: a panic while the lock
/// is held simply releases it as the guard drops. It is not re-entrant:
/// locking it again from the thread that holds it deadlocks.
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::Mutex;
///
/// let total = goro::run(|| {
///     let counter = Arc::new(Mutex::new(0));
///     let handles: Vec<_> = (0..10)
///         .map(|_| {
///             let counter = counter.clone();
///             goro::go!(move || *counter.lock() += 1)
///         })
///         .collect();
///     for h in handles {
///         h.join().unwrap();
///     }
///     let n = *counter.lock();
///     n
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Mutex<T: ?Sized> {
    /// [`LOCKED`] | [`QUEUED`] | [`STARVING`] | [`WAKING`] (module doc).
    state: AtomicUsize,
    /// The wait queue.
    inner: Lock<Inner>,
    data: UnsafeCell<T>,
}

struct Inner {
    queue: WaitQueue,
}

// SAFETY: the lock gives one thread at a time access to `data`, so the
// `Mutex` moves and shares like `std::sync::Mutex`: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]; it unlocks when dropped.
///
/// `!Send`, like `std`'s guard: it stays on the thread that locked (a green
/// thread never changes OS thread once started, so holding it across a
/// blocking call is fine).
///
/// ```
/// let m = goro::sync::Mutex::new(vec![1]);
/// let mut guard = m.lock();
/// guard.push(2);
/// drop(guard); // unlocks
/// assert_eq!(*m.lock(), [1, 2]);
/// ```
///
/// It cannot move to another thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = goro::sync::Mutex::new(0);
/// assert_send(m.lock());
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives out `&T`, so sharing it across threads
// is sharing `&T`: sound when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    ///
    /// ```
    /// static M: goro::sync::Mutex<u32> = goro::sync::Mutex::new(0);
    /// *M.lock() += 1;
    /// assert_eq!(*M.lock(), 1);
    /// ```
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicUsize::new(0),
            inner: Lock::new(Inner {
                queue: WaitQueue::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// A new unlocked mutex holding `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicUsize::new(0),
            inner: Lock::new(Inner {
                queue: WaitQueue::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its value.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(String::from("hi"));
    /// assert_eq!(m.into_inner(), "hi");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the caller until it is free.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks the mutex if it is free right now.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        // Not `then_some`: it would build (and drop, unlocking) a guard
        // on failure too.
        if self.try_acquire() {
            Some(MutexGuard {
                mutex: self,
                _not_send: PhantomData,
            })
        } else {
            None
        }
    }

    /// A mutable reference to the value, without locking (`&mut self`
    /// proves no one else holds it).
    ///
    /// ```
    /// let mut m = goro::sync::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive access to the whole mutex.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Sets `LOCKED` if it is clear (keeps `QUEUED` as it is).
    fn try_acquire(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & LOCKED == 0 {
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
        false
    }

    #[cold]
    fn lock_slow(&self) {
        // A short spin first: the owner usually runs on another OS thread
        // and holds the lock for a few instructions (bounded, and a
        // green thread whose owner shares its worker loses little).
        #[cfg(not(loom))]
        {
            let backoff = crossbeam_utils::Backoff::new();
            for _ in 0..SPINS {
                let s = self.state.load(Ordering::Relaxed);
                if s & STARVING != 0 {
                    // Handed over in order: spinning cannot win.
                    break;
                }
                if s & LOCKED == 0 && self.try_acquire() {
                    return;
                }
                backoff.spin();
            }
        }
        let waiter = Waiter::new(0);
        let start = Instant::now();
        let mut woken = false;
        loop {
            let mut inner = self.inner.lock();
            if woken {
                self.state.fetch_and(!WAKING, Ordering::Relaxed);
            }
            // From here until we unlock `inner`, an unlock cannot take the
            // fast path: it sees QUEUED and queues behind our decision.
            let mut s = self.state.fetch_or(QUEUED, Ordering::Acquire) | QUEUED;
            while s & LOCKED == 0 {
                match self.state.compare_exchange_weak(
                    s,
                    s | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if inner.queue.is_empty() {
                            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
                        }
                        return;
                    }
                    Err(actual) => s = actual,
                }
            }
            waiter.rearm();
            if woken {
                // SAFETY: `waiter` lives in this frame, which leaves only
                // after it left the queue (granted, or `abandon` on unwind).
                unsafe { inner.queue.push_front(&waiter) };
                if waited_long(start) {
                    self.set_starving(&mut inner, true);
                }
            } else {
                // SAFETY: as above.
                unsafe { inner.queue.push_back(&waiter) };
            }
            drop(inner);
            match waitq::wait(&waiter, None, Why::Mutex, |_| self.abandon(&waiter)) {
                HANDED => {
                    // Go's exit rule: a waiter served in under 1 ms means
                    // the queue moves fast enough for normal mode.
                    if !waited_long(start) {
                        self.set_starving(&mut self.inner.lock(), false);
                    }
                    return;
                }
                _ => woken = true,
            }
        }
    }

    /// Sets or clears [`STARVING`]; `_held` proves the caller holds the
    /// internal lock.
    fn set_starving(&self, _held: &mut Inner, on: bool) {
        if on {
            self.state.fetch_or(STARVING, Ordering::Relaxed);
        } else {
            self.state.fetch_and(!STARVING, Ordering::Relaxed);
        }
    }

    /// Step 3 for a waiter unwinding out of `lock_slow` (module doc).
    fn abandon(&self, waiter: &Waiter) -> usize {
        let mut inner = self.inner.lock();
        let state = waiter.state();
        if state == WAITING {
            let removed = inner.queue.remove(waiter);
            debug_assert!(removed, "a waiting waiter is queued");
            if inner.queue.is_empty() {
                self.set_starving(&mut inner, false);
                self.state.fetch_and(!QUEUED, Ordering::Relaxed);
            }
            return state;
        }
        if state == WOKEN {
            self.state.fetch_and(!WAKING, Ordering::Relaxed);
        }
        drop(inner);
        match state {
            HANDED => self.unlock(),
            // Woken: the wake-up must not be lost for those behind us.
            _ => {
                if self.try_acquire() {
                    self.unlock();
                }
            }
        }
        state
    }

    /// Releases the lock (the caller owns it).
    #[inline]
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// Unlock with waiters: wake the oldest (normal mode) or hand it the
    /// lock (starvation mode). Caller owns the lock.
    #[cold]
    fn unlock_slow(&self) {
        // A woken waiter will retry, and queue again if it loses: wake
        // nobody else (keeps the woken waiters in arrival order).
        let mut s = self.state.load(Ordering::Relaxed);
        while s & (WAKING | STARVING) == WAKING {
            match self.state.compare_exchange_weak(
                s,
                s & !LOCKED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
        let mut inner = self.inner.lock();
        if self.state.load(Ordering::Relaxed) & (WAKING | STARVING) == WAKING {
            self.state.fetch_and(!LOCKED, Ordering::Release);
            return;
        }
        let wake = match inner.queue.pop() {
            // QUEUED was clear by the time we locked `inner`.
            None => {
                self.state.fetch_and(!LOCKED, Ordering::Release);
                None
            }
            Some(next) => {
                let empty = inner.queue.is_empty();
                if self.state.load(Ordering::Relaxed) & STARVING != 0 {
                    // LOCKED stays set: ownership moves to `next`, with the
                    // release store of its state.
                    if empty {
                        self.set_starving(&mut inner, false);
                        self.state.fetch_and(!QUEUED, Ordering::Relaxed);
                    }
                    Some(next.finish(HANDED))
                } else {
                    let clear = if empty { LOCKED | QUEUED } else { LOCKED };
                    self.state.fetch_or(WAKING, Ordering::Relaxed);
                    self.state.fetch_and(!clear, Ordering::Release);
                    Some(next.finish(WOKEN))
                }
            }
        };
        drop(inner);
        waitq::unpark_all(wake);
    }
}

/// Whether a waiter that started waiting at `start` has waited long enough
/// to turn the mutex to starvation mode. Under loom time does not pass, so
/// any loss after a wake-up counts (both modes get explored).
fn waited_long(start: Instant) -> bool {
    #[cfg(not(loom))]
    {
        start.elapsed() >= STARVATION_THRESHOLD
    }
    #[cfg(loom)]
    {
        let _ = start;
        true
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, exclusively.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

// As std's: a panic while the lock is held releases it (the guard drops
// during the unwind) and leaves the wait queue consistent, so the lock
// works on after `catch_unwind`. Unlike std's there is no poisoning (Go's
// and parking_lot's way): data a panicking holder left half-updated is
// what the next holder sees.
impl<T: ?Sized> std::panic::UnwindSafe for Mutex<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for Mutex<T> {}

// parking_lot's format (no poisoning to show, unlike std's).
impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}
