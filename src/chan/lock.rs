//! The channel lock: a test-and-test-and-set spinlock that backs off to
//! `thread::yield_now`.
//!
//! Why not a parking mutex: critical sections are a few dozen instructions
//! (no allocation but a buffer resize, no wake-up, no switch: nobody parks
//! or yields while holding it), so the holder is always running on another
//! OS thread and a waiter spins briefly. Taking and releasing it costs one
//! atomic read-modify-write and one store, where a parking mutex pays two
//! read-modify-writes; a channel operation takes it once or twice.
//!
//! Besides the guard, it can be taken and released by hand
//! ([`Lock::raw_lock`], [`Lock::raw_unlock`]): a `select` holds the locks of
//! all its channels at once, in address order (Go's `sellock`), which a
//! guard per channel of a different message type cannot express.
//!
//! Under `cfg(loom)` a loom mutex stands in for the spin (loom drops an
//! unpark that reaches a thread while it yields in a spin loop, which would
//! show up as false lost wake-ups), held by hand for `raw_lock`.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

#[cfg(not(loom))]
use crate::loom::sync::atomic::{AtomicBool, Ordering};

/// A spinlock guarding a `T` (the lock word first, next to the data).
#[repr(C)]
pub(crate) struct Lock<T> {
    #[cfg(not(loom))]
    locked: AtomicBool,
    #[cfg(loom)]
    mutex: crate::loom::sync::Mutex<()>,
    /// The held loom guard, between `raw_lock` and `raw_unlock`.
    #[cfg(loom)]
    held: UnsafeCell<Option<crate::loom::sync::MutexGuard<'static, ()>>>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time
// (acquire/release on `locked`), like `Mutex<T>`: `T: Send` suffices.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Lock<T> {}

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Lock<T> {
        Lock {
            #[cfg(not(loom))]
            locked: AtomicBool::new(false),
            #[cfg(loom)]
            mutex: crate::loom::sync::Mutex::new(()),
            #[cfg(loom)]
            held: UnsafeCell::new(None),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock until the guard drops.
    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.raw_lock();
        Guard { lock: self }
    }

    /// Takes the lock; the caller must pair it with [`Lock::raw_unlock`].
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn raw_lock(&self) {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    /// Takes the lock; the caller must pair it with [`Lock::raw_unlock`].
    #[cfg(loom)]
    pub(crate) fn raw_lock(&self) {
        let guard = self.mutex.lock();
        // SAFETY: the guard borrows `self.mutex`; it is dropped by
        // `raw_unlock`, which the caller calls before `self` can go (the
        // caller holds `&self` across both), so the 'static is never
        // observed. Only the lock holder touches `held`.
        unsafe {
            *self.held.get() = Some(std::mem::transmute::<
                crate::loom::sync::MutexGuard<'_, ()>,
                crate::loom::sync::MutexGuard<'static, ()>,
            >(guard))
        };
    }

    /// Releases a lock taken with [`Lock::raw_lock`].
    ///
    /// # Safety
    /// The caller holds the lock and no reference from [`Lock::get`]
    /// outlives this call.
    #[inline]
    pub(crate) unsafe fn raw_unlock(&self) {
        #[cfg(not(loom))]
        self.locked.store(false, Ordering::Release);
        // SAFETY: the caller holds the lock, so it alone touches `held`.
        #[cfg(loom)]
        drop(unsafe { (*self.held.get()).take() });
    }

    /// The guarded value, for a caller that holds the lock by hand.
    ///
    /// # Safety
    /// The caller holds the lock (taken with [`Lock::raw_lock`]), and the
    /// reference is dropped before it unlocks and is the only one.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get(&self) -> &mut T {
        // SAFETY: the caller holds the lock, exclusively.
        unsafe { &mut *self.value.get() }
    }

    #[cfg(not(loom))]
    #[cold]
    fn lock_slow(&self) {
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            // Spin on a plain load (no cache-line ping-pong) until free.
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Exclusive access to the locked value until dropped.
pub(crate) struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, exclusively.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock; its borrows end with it.
        unsafe { self.lock.raw_unlock() };
    }
}
