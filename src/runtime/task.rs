//! A green thread in one allocation: a [`Header`] (identity, state word,
//! home worker, the coroutine) followed by its body (the closure, then its
//! result), shared as an `Arc<Task>` between the queue or worker holding
//! the run right, wakers, the join handle, and its worker's owned set.
//!
//! `Task` is `Cell<dyn Body>`: the header is reached directly (through
//! `Deref`), the body through the small [`Body`] trait, so spawning costs
//! one allocation whatever the closure's type.
//!
//! Invariants:
//! 1. `coroutine` is touched only by the worker that moved the task to
//!    RUNNING (`State` grants that right to one party at a time).
//! 2. `home` is written once, by the first worker to run the task, before
//!    the first resume, and never changes: a started green thread is pinned
//!    to its worker for life (DESIGN.md "Architecture"). Only never-started
//!    tasks sit in stealable queues or the injector.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;

use super::scheduler::Shared;
use super::state::State;
use crate::coroutine::Coroutine;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

/// A green thread: its header and a type-erased body.
pub(crate) type Task = Cell<dyn Body>;

/// A shared reference to a green thread.
pub(crate) type TaskRef = Arc<Task>;

/// A header followed by a body; unsized when `B` is `dyn Body`.
pub(crate) struct Cell<B: ?Sized> {
    pub(crate) header: Header,
    pub(crate) body: B,
}

impl<B: ?Sized> std::ops::Deref for Cell<B> {
    type Target = Header;

    fn deref(&self) -> &Header {
        &self.header
    }
}

impl<B: ?Sized> fmt::Debug for Cell<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.header, f)
    }
}

/// What the runtime needs of a green thread's closure and result, whatever
/// their types (implemented in `green/join.rs`).
pub(crate) trait Body: Send + Sync {
    /// Runs the closure on the green thread's coroutine, catching its panic,
    /// and stores the result. If `cancelled`, drops the closure unrun and
    /// stores the shutdown payload instead. Called once, by the coroutine.
    fn run(&self, cancelled: bool);

    /// Whether the result is stored.
    fn is_finished(&self) -> bool;

    /// Drops the stored result, if any; returns whether it was a panic.
    fn discard_output(&self) -> bool;

    /// Moves the result into `out` if it is stored and returns `true`;
    /// otherwise registers the caller's unparker to be woken when it is.
    ///
    /// # Safety
    /// `out` points to an `Option<std::thread::Result<T>>` where `T` is the
    /// closure's return type.
    unsafe fn poll_output(&self, out: *mut ()) -> bool;
}

const NO_HOME: usize = usize::MAX;

/// A unique identifier for a green thread.
///
/// Identifiers are never reused within a process, like
/// [`std::thread::ThreadId`].
///
/// ```
/// let h = goro::go!(|| goro::current().unwrap().id());
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GreenId(NonZeroU64);

impl GreenId {
    pub(crate) fn next() -> GreenId {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        GreenId(NonZeroU64::new(id).expect("green thread ids exhausted"))
    }

    /// The identifier as a number (unique, never zero).
    ///
    /// ```
    /// let h = goro::go!(|| ());
    /// assert!(h.id().as_u64() > 0);
    /// h.join().unwrap();
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for GreenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GreenId({})", self.0)
    }
}

impl fmt::Display for GreenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The part of a green thread the runtime schedules.
pub(crate) struct Header {
    pub(crate) id: GreenId,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) state: State,
    /// The runtime this green thread belongs to.
    pub(crate) shared: Arc<Shared>,
    /// Worker index once started, `NO_HOME` before (invariant 2).
    home: AtomicUsize,
    /// Bumped at every park so a timer armed for one park cannot wake a
    /// later one. Written only on the home worker's thread.
    pub(crate) park_seq: AtomicU64,
    /// What the task blocks on, a `WaitReason` (for `Runtime::dump`).
    wait_reason: AtomicU8,
    coroutine: UnsafeCell<Coroutine>,
    /// Index in the home worker's owned set once started (`usize::MAX`
    /// before). Touched only on the home worker's thread.
    pub(crate) owned_slot: AtomicUsize,
}

// SAFETY: every field but `coroutine` is `Sync`. `coroutine` is accessed
// only by the single worker holding the run right (invariant 1), which the
// `State` protocol hands over with acquire/release ordering.
unsafe impl Sync for Header {}

impl Header {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: GreenId,
        name: Option<Arc<str>>,
        coroutine: Coroutine,
    ) -> Header {
        Header {
            id,
            name,
            state: State::new(),
            shared,
            home: AtomicUsize::new(NO_HOME),
            park_seq: AtomicU64::new(0),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            coroutine: UnsafeCell::new(coroutine),
            owned_slot: AtomicUsize::new(usize::MAX),
        }
    }

    /// The worker this task is pinned to, if it has started.
    pub(crate) fn home(&self) -> Option<usize> {
        match self.home.load(Ordering::Acquire) {
            NO_HOME => None,
            w => Some(w),
        }
    }

    /// Pins the task to `worker` (invariant 2). Called by the worker that
    /// runs it for the first time, before resuming it.
    pub(crate) fn pin(&self, worker: usize) {
        let prev = self.home.swap(worker, Ordering::AcqRel);
        debug_assert!(prev == NO_HOME || prev == worker, "a started task moved");
    }

    /// Resumes the coroutine; `true` when it finished.
    ///
    /// # Safety
    /// The caller is the worker holding the run right (it moved the state
    /// to RUNNING and has not given it up), running on the task's home
    /// worker thread (set by [`Header::pin`] first).
    pub(crate) unsafe fn resume(&self) -> bool {
        // SAFETY: exclusive access by the contract above (invariant 1).
        self.coroutine.with_mut(|c| unsafe { (*c).resume() })
    }

    /// Before the first resume, lets the coroutine run on a hot stack.
    ///
    /// # Safety
    /// As for [`Header::resume`].
    pub(crate) unsafe fn prefer_hot_stack(&self) {
        // SAFETY: exclusive access by the contract above (invariant 1).
        self.coroutine
            .with_mut(|c| unsafe { (*c).prefer_hot_stack() })
    }

    /// Records what the task is about to block on (for `Runtime::dump`).
    pub(crate) fn set_wait_reason(&self, reason: WaitReason) {
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
    }

    /// What the task blocks on.
    pub(crate) fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }
}

/// What a parked green thread waits for, as `Runtime::dump` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WaitReason {
    None,
    Join,
    Sleep,
    ChanSend,
    ChanRecv,
    Select,
    Sync,
    Scope,
}

impl WaitReason {
    const ALL: [WaitReason; 8] = [
        WaitReason::None,
        WaitReason::Join,
        WaitReason::Sleep,
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::Sync,
        WaitReason::Scope,
    ];

    fn from_u8(v: u8) -> WaitReason {
        Self::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::None)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::Join => "join",
            WaitReason::Sleep => "sleep",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan recv",
            WaitReason::Select => "select",
            WaitReason::Sync => "sync",
            WaitReason::Scope => "scope",
        }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
