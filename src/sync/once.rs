//! [`Once`] and [`OnceLock`]: one-time initialisation, std's shapes.
//!
//! `state` is [`INCOMPLETE`], [`RUNNING`] (one caller runs the closure) or
//! [`COMPLETE`] (acquire-read on the fast path: the initialisation's
//! writes are visible). Callers that find it RUNNING queue behind the
//! internal lock and park; the runner publishes the new state first, then
//! locks and wakes them all (so a waiter that reads RUNNING under the lock
//! is sure to be woken: the same argument as `waitgroup.rs`).
//!
//! A panic in the closure (including the unwind of a runtime shutdown)
//! resets the state to INCOMPLETE and wakes the waiters: the next caller
//! runs its own closure. Unlike `std::sync::Once` there is no poisoning;
//! like `std::sync::OnceLock`, a failed initialisation is simply retried.

use std::fmt;
use std::mem::MaybeUninit;

use super::lock::Lock;
use super::waitq::{self, WAITING, WaitQueue, Waiter, Why};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU8, Ordering};

/// Nobody ran the closure to completion yet.
const INCOMPLETE: u8 = 0;
/// A caller is running its closure.
const RUNNING: u8 = 1;
/// A closure completed.
const COMPLETE: u8 = 2;

/// Waiter grant: the runner finished (completed or panicked).
const SETTLED: usize = 1;

/// Runs a closure exactly once, parking the other callers (green threads or
/// OS threads) until it is done, like `std::sync::Once`.
///
/// ```
/// use goro::sync::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    state: AtomicU8,
    waiters: Lock<WaitQueue>,
}

impl Once {
    /// A `Once` whose closure has not run.
    ///
    /// ```
    /// static O: goro::sync::Once = goro::sync::Once::new();
    /// assert!(!O.is_completed());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Once {
        Once {
            state: AtomicU8::new(INCOMPLETE),
            waiters: Lock::new(WaitQueue::new()),
        }
    }

    /// A `Once` whose closure has not run.
    #[cfg(loom)]
    pub fn new() -> Once {
        Once {
            state: AtomicU8::new(INCOMPLETE),
            waiters: Lock::new(WaitQueue::new()),
        }
    }

    /// Runs `f` if no call has completed yet; other callers park until it
    /// is done. When `call_once` returns, some closure has completed and its
    /// effects are visible. If `f` panics, the panic propagates and a later
    /// call runs its own closure (no poisoning).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// goro::run(|| {
    ///     let once = Arc::new(goro::sync::Once::new());
    ///     let runs = Arc::new(AtomicUsize::new(0));
    ///     let hs: Vec<_> = (0..4)
    ///         .map(|_| {
    ///             let (once, runs) = (once.clone(), runs.clone());
    ///             goro::go!(move || once.call_once(|| {
    ///                 runs.fetch_add(1, Ordering::SeqCst);
    ///             }))
    ///         })
    ///         .collect();
    ///     for h in hs {
    ///         h.join().unwrap();
    ///     }
    ///     assert_eq!(runs.load(Ordering::SeqCst), 1);
    /// });
    /// ```
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        self.call_once_slow(f);
    }

    /// Whether a closure has completed.
    ///
    /// ```
    /// let o = goro::sync::Once::new();
    /// o.call_once(|| {});
    /// assert!(o.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    #[cold]
    fn call_once_slow<F: FnOnce()>(&self, f: F) {
        /// Resets the state if the closure unwinds.
        struct Reset<'a>(&'a Once);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.settle(INCOMPLETE);
            }
        }

        let mut f = Some(f);
        loop {
            match self.state.compare_exchange(
                INCOMPLETE,
                RUNNING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let reset = Reset(self);
                    (f.take().expect("the closure runs at most once"))();
                    std::mem::forget(reset);
                    self.settle(COMPLETE);
                    return;
                }
                Err(COMPLETE) => return,
                Err(_) => self.wait_running(),
            }
        }
    }

    /// Parks until the current runner settles (returns at once if it
    /// already has).
    fn wait_running(&self) {
        let mut waiters = self.waiters.lock();
        if self.state.load(Ordering::Acquire) != RUNNING {
            return;
        }
        let waiter = Waiter::new(0);
        // SAFETY: `waiter` lives in this frame, which leaves only after it
        // left the queue (settled, or removed by the abandon hook).
        unsafe { waiters.push_back(&waiter) };
        drop(waiters);
        waitq::wait(&waiter, None, Why::Once, |_| {
            let mut waiters = self.waiters.lock();
            let state = waiter.state();
            if state == WAITING {
                waiters.remove(&waiter);
            }
            state
        });
    }

    /// The runner publishes `state` (COMPLETE or INCOMPLETE), then wakes
    /// every waiter.
    fn settle(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        let wake: Vec<_> = self
            .waiters
            .lock()
            .drain()
            .map(|w| w.finish(SETTLED))
            .collect();
        waitq::unpark_all(wake);
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish_non_exhaustive()
    }
}

/// A cell written once, then read without locking, like
/// `std::sync::OnceLock`; initialisers race through a [`Once`], so the
/// losers park (a green thread parks, never blocking its worker).
///
/// ```
/// use goro::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let c = CONFIG.get_or_init(|| "ready".to_string());
/// assert_eq!(c, "ready");
/// assert_eq!(CONFIG.set("late".to_string()), Err("late".to_string()));
/// ```
pub struct OnceLock<T> {
    once: Once,
    /// Written once, by the runner of `once`; read only once it completed.
    value: UnsafeCell<MaybeUninit<T>>,
    /// Owns a `T` for the drop checker.
    _owns: std::marker::PhantomData<T>,
}

// SAFETY: the value is written by one thread (the `Once` runner) and then
// only read through `&T`: sharing needs `T: Sync`, and since any thread
// may initialise it (or `set` moves a `T` in from another thread), `T:
// Send` too, as for `std::sync::OnceLock`.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: moving the cell moves the `T` it may hold.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell.
    ///
    /// ```
    /// let c: goro::sync::OnceLock<u8> = goro::sync::OnceLock::new();
    /// assert!(c.get().is_none());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            _owns: std::marker::PhantomData,
        }
    }

    /// An empty cell.
    #[cfg(loom)]
    pub fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            _owns: std::marker::PhantomData,
        }
    }

    /// The value, if it is set.
    ///
    /// ```
    /// let c = goro::sync::OnceLock::new();
    /// c.set(1).unwrap();
    /// assert_eq!(c.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: COMPLETE (acquire) means the value was written, and
            // it is never written again while `&self` lives.
            Some(self.value.with(|p| unsafe { (*p).assume_init_ref() }))
        } else {
            None
        }
    }

    /// The value, initialised by `f` if it was not set; concurrent callers
    /// park until one initialiser completes. If `f` panics, the cell stays
    /// empty and the next caller tries again.
    ///
    /// ```
    /// let c = goro::sync::OnceLock::new();
    /// assert_eq!(*c.get_or_init(|| 1), 1);
    /// assert_eq!(*c.get_or_init(|| 2), 1);
    /// ```
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        self.once.call_once(|| {
            let v = f();
            // SAFETY: only the `Once` runner writes, once.
            self.value.with_mut(|p| unsafe { (*p).write(v) });
        });
        self.get().expect("the Once completed")
    }

    /// Sets the value if it is empty; otherwise hands `value` back.
    ///
    /// ```
    /// let c = goro::sync::OnceLock::new();
    /// assert_eq!(c.set(1), Ok(()));
    /// assert_eq!(c.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// A mutable reference to the value, if set.
    ///
    /// ```
    /// let mut c = goro::sync::OnceLock::new();
    /// c.set(1).unwrap();
    /// *c.get_mut().unwrap() += 1;
    /// assert_eq!(c.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            // SAFETY: set, and `&mut self` is exclusive.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_mut() }))
        } else {
            None
        }
    }

    /// The value, if set, consuming the cell.
    ///
    /// ```
    /// let c = goro::sync::OnceLock::new();
    /// c.set("x").unwrap();
    /// assert_eq!(c.into_inner(), Some("x"));
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        let v = if self.once.is_completed() {
            // SAFETY: set; we reset the state below so `Drop` does not
            // drop it again.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_read() }))
        } else {
            None
        };
        self.once = Once::new();
        v
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: set, and never read again.
            self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

/// A new cell holding a clone of this one's value, if set (std's).
///
/// ```
/// let a = goro::sync::OnceLock::from(5);
/// assert_eq!(a.clone().get(), Some(&5));
/// assert!(goro::sync::OnceLock::<i32>::new().clone().get().is_none());
/// ```
impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> OnceLock<T> {
        match self.get() {
            Some(v) => OnceLock::from(v.clone()),
            None => OnceLock::new(),
        }
    }
}

/// Equal when both are unset, or both hold equal values (std's).
///
/// ```
/// use goro::sync::OnceLock;
/// assert!(OnceLock::from("a") == OnceLock::from("a"));
/// assert!(OnceLock::<i32>::new() == OnceLock::new());
/// assert!(OnceLock::from(1) != OnceLock::new());
/// ```
impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> OnceLock<T> {
        let c = OnceLock::new();
        let _ = c.set(value);
        c
    }
}

// The internal state stays consistent across a panic anywhere (waiters
// that unwind leave their queue), so observing it after one is fine.
impl std::panic::UnwindSafe for Once {}
impl std::panic::RefUnwindSafe for Once {}

// As `std::sync::OnceLock`: a panicking initialiser leaves the cell empty.
impl<T: std::panic::RefUnwindSafe + std::panic::UnwindSafe> std::panic::RefUnwindSafe
    for OnceLock<T>
{
}
impl<T: std::panic::UnwindSafe> std::panic::UnwindSafe for OnceLock<T> {}
