//! Go's `sync` package, for green threads: [`WaitGroup`], [`Mutex`],
//! [`RwLock`], [`Semaphore`], [`Barrier`], [`Condvar`], [`Once`] and
//! [`OnceLock`].
//!
//! Every blocking call parks the calling green thread and hands its worker
//! to the next runnable one; called from a plain OS thread, it parks that
//! thread. So the same lock can be shared by green threads and OS threads.
//! Nothing poisons (like `parking_lot` and Go): a panic while holding a
//! guard releases it as the guard drops.
//!
//! ```
//! use std::sync::Arc;
//! use goro::sync::{Mutex, WaitGroup};
//!
//! goro::run(|| {
//!     let wg = WaitGroup::new();
//!     let sum = Arc::new(Mutex::new(0u64));
//!     for i in 1..=100 {
//!         wg.add(1);
//!         let (wg, sum) = (wg.clone(), sum.clone());
//!         goro::go!(move || {
//!             *sum.lock() += i;
//!             wg.done();
//!         });
//!     }
//!     wg.wait();
//!     assert_eq!(*sum.lock(), 5050);
//! });
//! ```
//!
//! # Invariants, common to every type
//!
//! 1. Each type keeps its waiters in one FIFO queue of stack-allocated
//!    waiters behind a small internal lock (`waitq.rs`), and grants
//!    (a lock, permits, a release) under that lock, to the waiter itself,
//!    so a woken waiter never loses what it was given to a newcomer. The
//!    one exception is the [`Mutex`] in normal mode (module doc of
//!    `mutex.rs`), where a woken waiter competes, as in Go; after 1 ms of
//!    waiting it is handed the lock in arrival order.
//! 2. Nobody is woken while an internal lock is held: unparkers are
//!    collected under it and used after unlocking.
//! 3. Blocking waits are cancellable: during a runtime shutdown a parked
//!    green thread unwinds, and its waiter leaves the queue consistent
//!    (removes itself, or passes on what it was already granted).
//! 4. Green threads never change OS thread once started, so a guard held
//!    across a blocking call stays valid; guards are still `!Send`, as in
//!    std.
//!
//! Model-checked with loom (`src/sync/tests/`).

mod barrier;
mod condvar;
mod lock;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
mod waitgroup;
mod waitq;

#[cfg(test)]
mod tests;

pub use self::barrier::{Barrier, BarrierWaitResult};
pub use self::condvar::{Condvar, WaitTimeoutResult};
pub use self::mutex::{Mutex, MutexGuard};
pub use self::once::{Once, OnceLock};
pub use self::rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use self::semaphore::{Semaphore, SemaphorePermit};
pub use self::waitgroup::WaitGroup;
