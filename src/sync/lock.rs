//! The internal lock of every `goro::sync` primitive, guarding its wait
//! queue and bookkeeping. Critical sections are a few instructions and
//! never park, switch or wake anyone (wake-ups happen after unlocking).
//!
//! In production it is the facade's `parking_lot` mutex. Under `cfg(loom)`
//! it is a spinlock over loom atomics that yields while it waits: a loom
//! mutex would abort the model when a stale `unpark` (sent after unlocking,
//! as the protocol does) lands on a thread blocked on it
//! (tokio-rs/loom#249), while a yielding spin is indifferent to it.

#[cfg(not(loom))]
pub(crate) use crate::loom::sync::Mutex as Lock;

#[cfg(loom)]
pub(crate) use self::spin::Lock;

#[cfg(loom)]
mod spin {
    use std::ops::{Deref, DerefMut};

    use crate::loom::cell::UnsafeCell;
    use crate::loom::sync::atomic::{AtomicBool, Ordering};

    /// A yielding spinlock guarding a `T`.
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: one thread at a time reaches `value` (acquire/release on
    // `locked`), as with `Mutex<T>`: `T: Send` suffices.
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

        pub(crate) fn lock(&self) -> Guard<'_, T> {
            while self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                loom::thread::yield_now();
            }
            Guard { lock: self }
        }
    }

    /// Exclusive access until dropped.
    pub(crate) struct Guard<'a, T> {
        lock: &'a Lock<T>,
    }

    impl<T> Deref for Guard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            // SAFETY: the guard proves we hold the lock.
            self.lock.value.with(|p| unsafe { &*p })
        }
    }

    impl<T> DerefMut for Guard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: the guard proves we hold the lock, exclusively.
            self.lock.value.with_mut(|p| unsafe { &mut *p })
        }
    }

    impl<T> Drop for Guard<'_, T> {
        fn drop(&mut self) {
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}
