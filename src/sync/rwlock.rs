//! [`RwLock`]: Go's `sync.RWMutex` with Rust guards.
//!
//! All state lives under the internal lock: the number of active readers,
//! whether a writer holds it, and one FIFO queue of waiting readers and
//! writers (each waiter's `value` is [`READ`] or [`WRITE`]).
//!
//! # Invariants (internal lock free)
//!
//! 1. `writer` implies `readers == 0`.
//! 2. A non-empty queue means its head cannot be granted now: a writer at
//!    the head waits for `readers == 0 && !writer`, a reader for `!writer`.
//! 3. A newcomer joins the queue whenever it is non-empty, so a waiting
//!    writer blocks new readers (writers never starve) and everyone is
//!    served in arrival order; when a writer leaves, the run of readers at
//!    the head of the queue is admitted together.
//!
//! Like Go's, it is not re-entrant for readers either: a thread that holds
//! a read lock and asks for another while a writer waits deadlocks.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::lock::Lock;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};
use crate::loom::cell::UnsafeCell;
use crate::runtime::parking::Unparker;

/// Waiter value: wants to read.
const READ: usize = 0;
/// Waiter value: wants to write.
const WRITE: usize = 1;
/// Waiter grant: the lock (of the kind it asked for) is held on its behalf.
const GRANTED: usize = 1;

/// A reader-writer lock that parks the green thread (or OS thread) that
/// waits: any number of readers, or one writer.
///
/// Waiters are served in arrival order, and a waiting writer blocks new
/// readers, so writers never starve. No poisoning.
///
/// ```
/// use goro::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read();
///     let r2 = lock.read();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    inner: Lock<Inner>,
    data: UnsafeCell<T>,
}

struct Inner {
    /// Active readers.
    readers: usize,
    /// A writer holds the lock.
    writer: bool,
    queue: WaitQueue,
}

// SAFETY: `RwLock<T>` hands out `&mut T` to one thread (so `T: Send`) and
// `&T` to several at once (so `T: Sync`), like `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]'s value; released when dropped.
///
/// ```
/// let lock = goro::sync::RwLock::new(1);
/// let r = lock.read();
/// assert_eq!(*r, 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// Exclusive access to an [`RwLock`]'s value; released when dropped.
///
/// ```
/// let lock = goro::sync::RwLock::new(1);
/// *lock.write() = 2;
/// assert_eq!(*lock.read(), 2);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard gives out only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: a shared write guard gives out only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// A new unlocked `RwLock` holding `value`.
    ///
    /// ```
    /// static L: goro::sync::RwLock<u8> = goro::sync::RwLock::new(0);
    /// assert_eq!(*L.read(), 0);
    /// ```
    #[cfg(not(loom))]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            inner: Lock::new(Inner {
                readers: 0,
                writer: false,
                queue: WaitQueue::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// A new unlocked `RwLock` holding `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            inner: Lock::new(Inner {
                readers: 0,
                writer: false,
                queue: WaitQueue::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns its value.
    ///
    /// ```
    /// assert_eq!(goro::sync::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, parking while a writer holds or waits for it.
    ///
    /// ```
    /// let lock = goro::sync::RwLock::new(vec![1, 2]);
    /// assert_eq!(lock.read().len(), 2);
    /// ```
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.acquire(READ);
        RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Locks for writing, parking while anyone holds it.
    ///
    /// ```
    /// let lock = goro::sync::RwLock::new(vec![1]);
    /// lock.write().push(2);
    /// assert_eq!(*lock.read(), [1, 2]);
    /// ```
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.acquire(WRITE);
        RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Locks for reading if that is possible without waiting (no writer
    /// holds it and nobody waits).
    ///
    /// ```
    /// let lock = goro::sync::RwLock::new(1);
    /// let w = lock.write();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let granted = self.inner.lock().try_grant(READ);
        // A guard is built only when granted: dropping one releases.
        if granted {
            Some(RwLockReadGuard {
                lock: self,
                _not_send: PhantomData,
            })
        } else {
            None
        }
    }

    /// Locks for writing if nobody holds it or waits for it.
    ///
    /// ```
    /// let lock = goro::sync::RwLock::new(1);
    /// let r = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// assert!(lock.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let granted = self.inner.lock().try_grant(WRITE);
        // A guard is built only when granted: dropping one releases.
        if granted {
            Some(RwLockWriteGuard {
                lock: self,
                _not_send: PhantomData,
            })
        } else {
            None
        }
    }

    /// A mutable reference to the value, without locking.
    ///
    /// ```
    /// let mut lock = goro::sync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive access to the whole lock.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Takes the lock for `kind` ([`READ`] or [`WRITE`]), parking if needed.
    fn acquire(&self, kind: usize) {
        let mut inner = self.inner.lock();
        if inner.try_grant(kind) {
            return;
        }
        let waiter = Waiter::new(kind);
        // SAFETY: `waiter` lives in this frame, which leaves only after it
        // left the queue (granted, or removed by `abandon`).
        unsafe { inner.queue.push_back(&waiter) };
        drop(inner);
        let state = waitq::wait(&waiter, None, Why::RwLock, |_| self.abandon(&waiter, kind));
        debug_assert_eq!(state, GRANTED);
    }

    /// Step 3 for an unwinding waiter: leave the queue (which may unblock
    /// those behind it), or give back the lock it was granted.
    fn abandon(&self, waiter: &Waiter, kind: usize) -> usize {
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
            self.release(kind);
        }
        state
    }

    /// Releases a lock of `kind` held by the caller.
    fn release(&self, kind: usize) {
        let mut inner = self.inner.lock();
        if kind == WRITE {
            debug_assert!(inner.writer && inner.readers == 0);
            inner.writer = false;
        } else {
            debug_assert!(inner.readers > 0 && !inner.writer);
            inner.readers -= 1;
        }
        let wake = inner.grant_waiters();
        drop(inner);
        waitq::unpark_all(wake);
    }
}

impl Inner {
    /// Grants `kind` to a newcomer if possible without waiting.
    fn try_grant(&mut self, kind: usize) -> bool {
        if !self.queue.is_empty() || self.writer {
            return false;
        }
        if kind == WRITE {
            if self.readers > 0 {
                return false;
            }
            self.writer = true;
        } else {
            self.readers += 1;
        }
        true
    }

    /// Grants the head of the queue as far as possible (a writer, or a run
    /// of readers); returns the unparkers to use after unlocking.
    fn grant_waiters(&mut self) -> Vec<Unparker> {
        let mut wake = Vec::new();
        while let Some(kind) = self.queue.front_value() {
            if self.writer || (kind == WRITE && self.readers > 0) {
                break;
            }
            if kind == WRITE {
                self.writer = true;
            } else {
                self.readers += 1;
            }
            let w = self.queue.pop().expect("a front waiter");
            wake.push(w.finish(GRANTED));
        }
        wake
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read guard proves no writer holds the lock.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(READ);
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a write guard proves exclusive access.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a write guard proves exclusive access.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(WRITE);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

// As std's: a panic while the lock is held releases it (the guard drops
// during the unwind) and leaves the wait queue consistent, so the lock
// works on after `catch_unwind`. Unlike std's there is no poisoning (Go's
// and parking_lot's way): data a panicking holder left half-updated is
// what the next holder sees.
impl<T: ?Sized> std::panic::UnwindSafe for RwLock<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for RwLock<T> {}

// parking_lot's format (no poisoning to show, unlike std's).
impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}
