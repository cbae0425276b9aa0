//! The model-checking half of the facade: loom's types under the names the
//! production half uses. `parking_lot`-style non-poisoning locks are
//! emulated over loom's `Mutex`/`Condvar`.

pub(crate) mod sync {
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::MutexGuard;

    /// A non-poisoning mutex with `parking_lot`'s API over loom's.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(t: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(t))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    /// A condition variable with the facade's by-value guard API.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap()
        }

        /// loom has no timed wait: a deadline is modelled as an immediate
        /// spurious wake-up, which every caller tolerates.
        pub(crate) fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _deadline: std::time::Instant,
        ) -> MutexGuard<'a, T> {
            guard
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park, yield_now};

    /// loom has no timed park; a timed park is modelled as a spurious
    /// wake-up, which every caller must already tolerate.
    pub(crate) fn park_timeout(_dur: std::time::Duration) {
        loom::thread::yield_now();
    }
}
