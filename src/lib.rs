//! goro: Go's concurrency model for Rust.
//!
//! Green threads ("goroutines") run on an M:N work-stealing scheduler. A
//! green thread that blocks (on a channel, joining another, sleeping) parks
//! and hands its OS thread to the next runnable one, so plain blocking code
//! scales to hundreds of thousands of concurrent green threads, with no
//! `async`/`await`. The same channels work from plain OS threads.
//!
//! ```
//! let total = goro::run(|| {
//!     let (tx, rx) = goro::bounded(0); // unbuffered, like make(chan u64)
//!     for i in 1..=4u64 {
//!         let tx = tx.clone();
//!         goro::go!(move || tx.send(i * i).unwrap());
//!     }
//!     drop(tx); // the channel closes when the last sender is gone
//!     rx.iter().sum::<u64>()
//! });
//! assert_eq!(total, 30);
//! ```
//!
//! # A tour
//!
//! * [`run`] starts a runtime, runs a closure as its root green thread and
//!   shuts the runtime down when it returns, like Go's `main`.
//! * [`go!`] and [`spawn`] start a green thread and return a
//!   [`JoinHandle`]; [`Builder`] names it or sizes its stack; [`scope`]
//!   lets green threads borrow.
//! * [`bounded`] and [`unbounded`] make channels ([`Sender`], [`Receiver`]):
//!   Go's semantics (FIFO, close wakes everyone, direct hand-off), with the
//!   message handed back in the error when a send fails.
//! * [`select!`] waits on several channel operations at once (one ready
//!   case chosen at random, `default` and `default(timeout)` arms);
//!   [`select_biased!`] prefers the first ready case; [`Select`] builds the
//!   case list at run time.
//! * [`after`], [`at`], [`tick`] and [`never()`] are timer channels (Go's
//!   `time.After`, `time.Tick` and nil channel): plain [`Receiver`]s fired
//!   by the workers' timers, with no thread per timer.
//! * [`yield_now`], [`sleep`], [`current`] act on the running green thread.
//! * [`sync`] has Go's `sync` package ([`sync::WaitGroup`],
//!   [`sync::Mutex`], [`sync::RwLock`], [`sync::Semaphore`], ...): blocking
//!   on them parks the green thread, not its worker.
//! * [`context`] is Go's `context` package: cancellation and deadlines
//!   down a tree, with `done()` usable in `select!`.
//! * [`runtime::Builder`] configures a [`runtime::Runtime`] (workers, stack
//!   size) for `block_on`, `spawn` and `dump`.
//!
//! # Green threads are pinned after they first run
//!
//! A green thread may start on any worker (idle workers steal never-started
//! ones), but once it has run it stays on that worker's OS thread for life.
//! Stackful coroutines that migrate between OS threads are unsound in Rust:
//! a `thread_local!` address, an `Rc`, or a `std::sync::MutexGuard` held
//! across a blocking call would silently move to another thread (and LLVM
//! may cache thread-local addresses across calls). Pinning makes all of
//! these behave as on an ordinary thread:
//!
//! ```
//! thread_local!(static X: u8 = 0);
//! goro::run(|| {
//!     let before = (std::thread::current().id(), X.with(|x| x as *const u8));
//!     for _ in 0..100 {
//!         goro::yield_now();
//!     }
//!     let after = (std::thread::current().id(), X.with(|x| x as *const u8));
//!     assert_eq!(before, after);
//! });
//! ```
//!
//! Scheduling is cooperative: a green thread that loops without blocking
//! or yielding keeps its worker, and the green threads pinned there wait.
//!
//! # Panics of green threads
//!
//! A panic ends its green thread only: [`JoinHandle::join`] returns it as
//! `Err(payload)`, as std's does, and the runtime goes on. It is reported
//! on stderr as std reports a thread's, naming the green thread (`green
//! thread 'name' (id N) panicked at ...`). A panic hook of your own gets it
//! instead, as it gets std threads' panics, if it is installed before the
//! process's first runtime starts (goro wraps the hook it finds then).
//!
//! # Deadlock detection
//!
//! Like Go, [`run`] (and [`runtime::Runtime::block_on`]) panics with `all
//! green threads are asleep - deadlock!` and one line per blocked green
//! thread (id, name, what it waits on, as [`runtime::Runtime::dump`]
//! prints) when no progress is possible any more: every green thread of
//! the runtime is parked on goro primitives, no timer is pending, and every
//! live thread of the process is one of goro's own, the one waiting in
//! `run`, or an OS thread blocked in a goro operation. A process with any
//! other live thread (a test harness, a thread pool, a thread reading
//! stdin) is never reported, since that thread could still act; so the
//! check is conservative and only on Linux (it counts the threads in
//! `/proc/self/task`). The runtime is shut down (its green threads
//! unwound) before the panic.
//!
//! ```no_run
//! goro::run(|| {
//!     let (_tx, rx) = goro::bounded::<i32>(0);
//!     rx.recv().unwrap(); // nobody will ever send: reported, not a hang
//! });
//! ```
//!
//! # Stacks
//!
//! Each green thread gets a fixed virtual stack (256 KiB by default, set per
//! runtime with [`runtime::Builder::stack_size`] or per green thread with
//! [`Builder::stack_size`]) of which only touched pages cost memory, with a
//! guard page below it. The default fits ordinary Rust code (serde_json,
//! regex, formatting) in debug builds too, whose frames are several times
//! larger. Overflowing it aborts the process with a message naming the
//! green thread and the setting to raise.

#![warn(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, unreachable_pub)]
#![warn(clippy::undocumented_unsafe_blocks)]
// Under loom only the model-checked protocols are compiled; the rest of
// their callers is not, which leaves helpers unused. A park's reason (what
// `Runtime::dump` shows) is `()` there, so passing one is a unit argument.
#![cfg_attr(loom, allow(dead_code, unused_imports, clippy::unit_arg))]

// The loom models check the crate's internal invariants in any profile:
// under `cfg(loom)` the debug assertions of every module below are plain
// assertions (these definitions shadow std's, textually, in this crate
// only), so DESIGN.md's `RUSTFLAGS="--cfg loom" cargo test --release --lib
// loom` checks as much as a run with `-C debug_assertions`.
#[cfg(loom)]
macro_rules! debug_assert {
    ($($t:tt)*) => { assert!($($t)*) };
}
#[cfg(loom)]
macro_rules! debug_assert_eq {
    ($($t:tt)*) => { assert_eq!($($t)*) };
}
#[cfg(loom)]
macro_rules! debug_assert_ne {
    ($($t:tt)*) => { assert_ne!($($t)*) };
}

mod loom;
mod macros;

pub mod chan;
pub mod context;
pub mod runtime;
pub mod sync;
mod time;

#[cfg(not(loom))]
mod coroutine;
#[cfg(not(loom))]
mod green;

pub use crate::chan::{
    ReadyTimeoutError, Receiver, RecvError, RecvTimeoutError, Select, SelectTimeoutError,
    SelectedOperation, SendError, SendTimeoutError, Sender, TryReadyError, TryRecvError,
    TrySelectError, TrySendError, after, at, bounded, never, tick, unbounded,
};
#[cfg(not(loom))]
pub use crate::green::{
    Builder, Green, JoinHandle, Scope, ScopedJoinHandle, current, scope, sleep, sleep_until, spawn,
    yield_now,
};
#[cfg(not(loom))]
pub use crate::runtime::run;
#[cfg(not(loom))]
pub use crate::runtime::task::GreenId;

#[doc(hidden)]
pub mod __private {
    //! Support for tests and benchmarks; not part of the public API.

    /// Stacks currently handed out to green threads (leak tests).
    #[cfg(not(loom))]
    pub fn live_stacks() -> usize {
        crate::coroutine::stack::live_stacks()
    }

    #[cfg(not(loom))]
    pub use crate::green::gate::Gate;

    /// What `select!` expands to.
    pub use crate::chan::select::__private as select;
}
