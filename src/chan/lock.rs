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
//! Under `cfg(loom)` the facade's mutex stands in, so models explore it.

#[cfg(loom)]
pub(crate) type Lock<T> = crate::loom::sync::Mutex<T>;

#[cfg(not(loom))]
pub(crate) use self::spin::Lock;

#[cfg(not(loom))]
mod spin {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};

    use crossbeam_utils::Backoff;

    use crate::loom::sync::atomic::{AtomicBool, Ordering};

    /// A spinlock guarding a `T`.
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
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
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_slow();
            }
            Guard { lock: self }
        }

        #[cold]
        fn lock_slow(&self) {
            let backoff = Backoff::new();
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
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}
