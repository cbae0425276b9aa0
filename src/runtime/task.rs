//! A green thread in one allocation: a [`Header`] (identity, state word,
//! home worker, the coroutine) followed by its body (the closure, then its
//! result), shared as a counted [`TaskRef`] between the queue or worker
//! holding the run right, wakers, the join handle, and its worker's owned
//! set.
//!
//! The allocation is a `Cell<dyn Body>`, and a `TaskRef` is a thin
//! pointer to its header (`Task`), one word: it moves through every run
//! queue and every wake-up in a register. The header keeps a function that
//! recovers the wide pointer to the whole cell ([`whole_cell_at`]),
//! through which the body is reached by the small [`Body`] trait
//! ([`TaskRef::body`], [`body_at`]) and the cell is freed; so spawning
//! costs one allocation whatever the closure's type. Only a pointer that
//! came from the allocation (a `TaskRef`'s, `Worker::current`) may be used
//! to reach the body: a `&Header` covers the header alone.
//!
//! Invariants:
//! 1. `coroutine` is touched only by the worker that moved the task to
//!    RUNNING (`State` grants that right to one party at a time).
//! 3. `shared` is a plain pointer (no reference count: cloning an `Arc`
//!    per spawn made every spawn and completion write one cache line shared
//!    by all workers). It is valid as long as the task is not DONE: the
//!    runtime's workers hold the `Shared` alive and exit only after every
//!    task they own completed (`scheduler.rs` shutdown protocol), and the
//!    global runtime never ends.
//! 2. `home` is written once, by the first worker to run the task, before
//!    the first resume, and never changes: a started green thread is pinned
//!    to its worker for life (DESIGN.md "Architecture"). Only never-started
//!    tasks sit in stealable queues or the injector.

use std::alloc::Layout;
use std::fmt;
use std::num::NonZeroU64;
use std::ptr::NonNull;
use std::sync::Arc;

use super::scheduler::Shared;
use super::state::State;
use crate::coroutine::Coroutine;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

/// A green thread, as the scheduler sees it: the header at the start of
/// its `Cell<dyn Body>`.
pub(crate) type Task = Header;

/// A counted reference to a green thread, like `Arc<Task>` but allocated
/// through the block caches of `alloc.rs` (a green thread is usually freed
/// by another thread than the one that spawned it).
pub(crate) struct TaskRef {
    ptr: NonNull<Task>,
}

// SAFETY: a `TaskRef` is a shared reference to a `Task`, which is `Sync`
// (`Header` by its impl below, the body by `Body: Sync`) and `Send` (its
// body is `Send`, and the header's fields are); the count is atomic.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Allocates a green thread with count one.
    ///
    /// # Safety
    /// If `B` borrows (is not `'static`), the caller must keep the borrow
    /// alive for as long as the body may still be used (see
    /// `handle::spawn_task`): its lifetime is erased here.
    pub(crate) unsafe fn new<'a, B: Body + 'a>(cell: Cell<B>) -> TaskRef {
        let layout = Layout::new::<Cell<B>>();
        let p = super::alloc::allocate(layout).cast::<Cell<B>>();
        // SAFETY: freshly allocated for `Cell<B>`'s layout.
        unsafe { p.as_ptr().write(cell) };
        // SAFETY: written above and not shared yet: nothing else reads the
        // header while we complete it.
        unsafe { (*p.as_ptr()).header.whole = Some(whole_cell::<B>) };
        // `Cell` is `repr(C)` with the header first: same address.
        TaskRef {
            ptr: p.cast::<Header>(),
        }
    }

    /// Starts loading the lines of the task's header (128 bytes from a
    /// 16-byte-aligned block: up to three lines) without touching the task:
    /// a hint that is safe even if the task is freed meanwhile (see
    /// `queue::Local::peek_next`).
    #[inline]
    pub(crate) fn prefetch_header_lines(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            let at = self.ptr.as_ptr().cast::<i8>().cast_const();
            for offset in [0, 64, 127] {
                // SAFETY: a prefetch hint has no memory effect and never
                // faults, whatever the address.
                unsafe {
                    std::arch::x86_64::_mm_prefetch(
                        at.wrapping_add(offset),
                        std::arch::x86_64::_MM_HINT_T0,
                    )
                };
            }
        }
    }

    /// Gives up this reference without dropping its count, for the
    /// worker's `current` slot; [`TaskRef::from_raw`] takes it back.
    pub(crate) fn into_raw(self) -> NonNull<Task> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// Takes back a count given up by [`TaskRef::into_raw`].
    ///
    /// # Safety
    /// `ptr` comes from `into_raw`, and that count is taken back once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Task>) -> TaskRef {
        TaskRef { ptr }
    }

    /// A new counted reference from the address of a live task.
    ///
    /// # Safety
    /// `ptr` comes from [`TaskRef::into_raw`], and that count (or another)
    /// keeps the task alive for the duration of this call.
    pub(crate) unsafe fn clone_from_ptr(ptr: NonNull<Task>) -> TaskRef {
        // SAFETY: the caller guarantees the task is alive.
        let task = unsafe { ptr.as_ref() };
        task.refs.fetch_add(1, Ordering::Relaxed);
        TaskRef { ptr }
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        let old = self.refs.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            std::process::abort();
        }
        TaskRef { ptr: self.ptr }
    }
}

impl Drop for TaskRef {
    #[inline]
    fn drop(&mut self) {
        if self.refs.fetch_sub(1, Ordering::Release) == 1 {
            self.drop_last();
        }
    }
}

impl TaskRef {
    /// [`Drop::drop`] of the last reference: frees the task.
    #[cold]
    #[inline(never)]
    fn drop_last(&mut self) {
        // Pairs with the releases of the other references' drops, as in
        // `Arc`: their uses of the task happen before it is freed.
        crate::loom::sync::atomic::fence(Ordering::Acquire);
        // SAFETY: the last reference keeps the task alive until the free
        // below, and `ptr` came from the allocation itself.
        let whole = unsafe { whole_cell_at(self.ptr) };
        // SAFETY: the count reached zero, so this was the last reference:
        // nothing else can reach the task. It was allocated by `new` with
        // the layout of its concrete type, which `for_value` recovers
        // through the vtable of `whole`, the wide pointer to that cell.
        unsafe {
            let layout = Layout::for_value(whole.as_ref());
            std::ptr::drop_in_place(whole.as_ptr());
            super::alloc::deallocate(whole.cast(), layout);
        }
    }

    /// The green thread's body (its closure, then its result).
    pub(crate) fn body(&self) -> &dyn Body {
        // SAFETY: `self` keeps the task alive while the borrow lasts, and
        // `ptr` came from the allocation itself.
        unsafe { body_at(self.ptr) }
    }
}

/// The wide pointer to the whole cell that the header at `ptr` starts.
///
/// # Safety
/// The task is alive, and `ptr` carries the provenance of its whole
/// allocation (it comes from `TaskRef::new`'s pointer, as every `TaskRef`'s
/// and `Worker::current`'s do, not from a `&Header`, which covers the
/// header alone).
unsafe fn whole_cell_at(ptr: NonNull<Header>) -> NonNull<Cell<dyn Body>> {
    // SAFETY: the task is alive (the caller's contract); `whole` is written
    // before the task is shared and only read after.
    let whole = unsafe { (*ptr.as_ptr()).whole }.expect("set by TaskRef::new");
    // SAFETY: `whole` is `whole_cell::<B>` for the cell's own `B`, and
    // `ptr` covers the whole cell (the caller's contract).
    unsafe { whole(ptr) }
}

/// The body of the task whose header is at `ptr`.
///
/// # Safety
/// As for [`whole_cell_at`], and the task stays alive for `'a`.
pub(crate) unsafe fn body_at<'a>(ptr: NonNull<Header>) -> &'a dyn Body {
    // SAFETY: the caller's contract.
    unsafe { &(*whole_cell_at(ptr).as_ptr()).body }
}

impl std::ops::Deref for TaskRef {
    type Target = Task;

    fn deref(&self) -> &Task {
        // SAFETY: the task is alive while a reference exists.
        unsafe { self.ptr.as_ref() }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Recovers the wide pointer to a whole `Cell<B>` from its header (a
/// header stores the instance for its own `B`).
type WholeCell = unsafe fn(NonNull<Header>) -> NonNull<Cell<dyn Body>>;

/// The [`WholeCell`] of cells of body `B`.
///
/// # Safety
/// `header` starts a `Cell<B>` (`TaskRef::new` allocated it), and the
/// caller answers for any borrow in `B`, as for `TaskRef::new`: only the
/// trait object's lifetime bound is erased.
unsafe fn whole_cell<'a, B: Body + 'a>(header: NonNull<Header>) -> NonNull<Cell<dyn Body>> {
    let fat: NonNull<Cell<dyn Body + 'a>> = header.cast::<Cell<B>>();
    // SAFETY: same layout, only the lifetime bound changes (the caller's
    // contract).
    unsafe { std::mem::transmute::<NonNull<Cell<dyn Body + 'a>>, NonNull<Cell<dyn Body>>>(fat) }
}

/// A header followed by a body; unsized when `B` is `dyn Body`. `repr(C)`
/// keeps the header at the start of the allocation (see [`Header`]).
#[repr(C)]
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

const NO_HOME: u32 = u32::MAX;

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
///
/// `repr(C)`, hot fields first: what a park, a wake and a switch touch
/// (the count, the state word, the runtime, the home, the park sequence
/// and the coroutine's context) fits in the first 64 bytes, at most two
/// cache lines of the 16-byte-aligned cell (`alloc.rs`), where they were
/// spread over three. With thousands of green threads (the prime sieve)
/// every hand-off reaches a header that is no longer in the core's cache.
/// (Aligning cells to 64 bytes too saved no further miss on the sieve
/// and cost 0.1 KiB per parked green thread in `malloc`'s aligned path.)
#[repr(C)]
pub(crate) struct Header {
    /// Count of `TaskRef`s.
    refs: AtomicUsize,
    pub(crate) state: State,
    /// What the task blocks on, a `WaitReason` (for `Runtime::dump`).
    wait_reason: AtomicU8,
    /// Whether this green thread is unwinding, as far as goro can tell
    /// (std's own flag is per OS thread, shared by the worker's green
    /// threads: `parking::unwinding_here`). Touched only by the green
    /// thread itself.
    unwinding: AtomicBool,
    /// The runtime this green thread belongs to; see [`Header::shared`].
    shared: NonNull<Shared>,
    /// Worker index once started, `NO_HOME` before (invariant 2).
    home: AtomicU32,
    /// Index in the home worker's owned set once started (`u32::MAX`
    /// before). Touched only on the home worker's thread.
    pub(crate) owned_slot: AtomicU32,
    /// Bumped at every park so a timer armed for one park cannot wake a
    /// later one. Written only on the home worker's thread.
    pub(crate) park_seq: AtomicU64,
    /// `repr(C)` with its context first (see `Coroutine`).
    coroutine: UnsafeCell<Coroutine>,
    pub(crate) id: GreenId,
    pub(crate) name: Option<Arc<str>>,
    /// Recovers the wide pointer to the whole cell this header starts (to
    /// reach the body and to free the cell): a function, one word where the
    /// pointer would take two. Written once by `TaskRef::new`, before the
    /// task is shared; only read afterwards.
    whole: Option<WholeCell>,
}

// SAFETY: every field but `coroutine` and `shared` is `Sync` (`whole` is
// a function pointer, written before the task is shared). `coroutine`
// is accessed only by the single worker holding the run right (invariant
// 1), which the `State` protocol hands over with acquire/release ordering.
// `shared` points to a `Sync` value (invariant 3 says when it is valid).
unsafe impl Sync for Header {}

impl Header {
    pub(crate) fn new(
        shared: &Arc<Shared>,
        id: GreenId,
        name: Option<Arc<str>>,
        coroutine: Coroutine,
    ) -> Header {
        Header {
            refs: AtomicUsize::new(1),
            id,
            name,
            state: State::new(),
            shared: NonNull::new(Arc::as_ptr(shared).cast_mut()).expect("non-null Arc"),
            home: AtomicU32::new(NO_HOME),
            park_seq: AtomicU64::new(0),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            unwinding: AtomicBool::new(false),
            coroutine: UnsafeCell::new(coroutine),
            owned_slot: AtomicU32::new(u32::MAX),
            whole: None,
        }
    }

    /// The runtime this green thread belongs to.
    ///
    /// Valid while the task is not DONE (invariant 3). Callers reach it only
    /// to spawn, or to schedule a task whose `State::notify` just moved it
    /// out of PARKED, so never for a DONE task.
    pub(crate) fn shared(&self) -> &Shared {
        debug_assert!(self.state.describe() != "done");
        // SAFETY: invariant 3.
        unsafe { self.shared.as_ref() }
    }

    /// A counted reference to the runtime, for a caller that may outlive
    /// the task's completion (a remote wake: the task may run, complete and
    /// let the runtime end before the waker is done).
    ///
    /// Only while the task is not DONE, as for [`Header::shared`].
    pub(crate) fn shared_arc(&self) -> Arc<Shared> {
        let p: *const Shared = self.shared.as_ptr();
        // SAFETY: `p` came from `Arc::as_ptr` of the runtime's `Arc`, which
        // is alive while the task is not DONE (invariant 3); we take one
        // more strong count for the `Arc` we build.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    }

    /// The worker this task is pinned to, if it has started.
    pub(crate) fn home(&self) -> Option<usize> {
        match self.home.load(Ordering::Acquire) {
            NO_HOME => None,
            w => Some(w as usize),
        }
    }

    /// Pins the task to `worker` (invariant 2). Called by the worker that
    /// runs it for the first time, before resuming it.
    pub(crate) fn pin(&self, worker: usize) {
        // `Builder::build` caps the workers far below `u32::MAX`.
        let worker = worker as u32;
        let prev = self.home.swap(worker, Ordering::AcqRel);
        debug_assert!(prev == NO_HOME || prev == worker, "a started task moved");
    }

    /// Resumes the coroutine until the green thread then running on this
    /// worker (this one, or one switched to with [`Header::switch_to`])
    /// switches back; `true` when that one finished.
    ///
    /// # Safety
    /// The caller is the worker holding the run right (it moved the state
    /// to RUNNING and has not given it up), running on the task's home
    /// worker thread (set by [`Header::pin`] first); it keeps every task
    /// switched to alive and tracks which one runs (see
    /// `coroutine::Coroutine::resume`).
    pub(crate) unsafe fn resume(&self) -> bool {
        // SAFETY: exclusive access by the contract above (invariant 1); the
        // pointer is not turned into a reference held across the switch.
        self.coroutine.with_mut(|c| unsafe {
            crate::coroutine::Coroutine::resume(c, || (self.id.as_u64(), self.name.clone()))
        })
    }

    /// Whether the task's coroutine has run and is suspended, so a green
    /// thread of its worker may [`Header::switch_to`] it.
    ///
    /// # Safety
    /// The caller holds the task's run right, on its home worker's thread.
    pub(crate) unsafe fn is_suspended(&self) -> bool {
        // SAFETY: exclusive access by the contract above (invariant 1).
        self.coroutine.with(|c| unsafe { (*c).is_suspended() })
    }

    /// From the green thread running on this worker, switches straight to
    /// this one; returns when the caller is resumed.
    ///
    /// # Safety
    /// The caller runs on a green thread of this task's home worker, which
    /// gave its own run right to a queue (or parks) and now holds this
    /// task's run right, and records this task as the running one before
    /// the call; the task is suspended ([`Header::is_suspended`]) and kept
    /// alive while it runs; the caller's task stays alive until resumed.
    #[inline]
    pub(crate) unsafe fn switch_to(&self) {
        // SAFETY: by the contract above (see `coroutine::switch_to`).
        self.coroutine
            .with_mut(|c| unsafe { crate::coroutine::switch_to(c) })
    }

    /// Starts loading what resuming this task will read first (see
    /// `Coroutine::prefetch`): called for the task queued next, or just
    /// woken to run next.
    ///
    /// # Safety
    /// The caller runs on the task's home worker and holds the task's run
    /// right, or that worker's queue does (so nothing else touches the
    /// coroutine meanwhile).
    #[inline]
    pub(crate) unsafe fn prefetch(&self) {
        // SAFETY: by the contract, no one else accesses the coroutine.
        self.coroutine.with(|c| unsafe { (*c).prefetch() })
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

    /// Records whether the green thread is unwinding (called on it).
    pub(crate) fn set_unwinding(&self, unwinding: bool) {
        self.unwinding.store(unwinding, Ordering::Relaxed);
    }

    /// Whether the green thread was last recorded as unwinding.
    pub(crate) fn is_unwinding(&self) -> bool {
        self.unwinding.load(Ordering::Relaxed)
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
    Mutex,
    RwLock,
    WaitGroup,
    Semaphore,
    Condvar,
    Barrier,
    Once,
}

impl WaitReason {
    const ALL: [WaitReason; 15] = [
        WaitReason::None,
        WaitReason::Join,
        WaitReason::Sleep,
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::Sync,
        WaitReason::Scope,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::WaitGroup,
        WaitReason::Semaphore,
        WaitReason::Condvar,
        WaitReason::Barrier,
        WaitReason::Once,
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
            WaitReason::Mutex => "mutex",
            WaitReason::RwLock => "rwlock",
            WaitReason::WaitGroup => "waitgroup",
            WaitReason::Semaphore => "semaphore",
            WaitReason::Condvar => "condvar",
            WaitReason::Barrier => "barrier",
            WaitReason::Once => "once",
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

#[cfg(all(test, not(loom)))]
mod layout_tests {
    use std::mem::offset_of;

    use super::Header;

    /// The fields a park, wake and switch touch share the header's first
    /// cache line (see `Header`): the context is the first field of
    /// `Coroutine`.
    #[test]
    fn the_hot_fields_fit_in_one_cache_line() {
        for end in [
            offset_of!(Header, refs) + 8,
            offset_of!(Header, state) + 4,
            offset_of!(Header, wait_reason) + 1,
            offset_of!(Header, shared) + 8,
            offset_of!(Header, home) + 8,
            offset_of!(Header, park_seq) + 8,
            offset_of!(Header, coroutine) + 16,
        ] {
            assert!(end <= 64, "a hot field ends at byte {end}");
        }
    }

    /// The header stays within two cache lines, so a green thread whose
    /// closure captures one pointer fits a 192-byte block of `alloc.rs`
    /// (the coroutine's overflow record lives on its stack, not here).
    #[test]
    fn the_header_fits_two_cache_lines() {
        let size = std::mem::size_of::<Header>();
        assert!(size <= 128, "the header is {size} bytes");
    }
}
