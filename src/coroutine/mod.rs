//! Stackful coroutines: the only module that touches the `context` crate,
//! stacks and signals.
//!
//! A [`Coroutine`] owns one [`stack::Stack`] and, until its first resume,
//! the closure to run on it. Everything above this module sees a safe pair
//! of operations: [`Coroutine::resume`] (from the OS thread's own stack)
//! and [`suspend`] (from inside the coroutine).
//!
//! # Switching protocol
//!
//! ```text
//!  resumer (worker stack)                       coroutine stack
//!  ----------------------                       ---------------
//!  resume(): ctx.resume(data) ---------------->  entry(t) / suspend() returns
//!                                                 CALLER := t.context
//!                                                 ... runs ...
//!  resume() returns <-------------------------  suspend(): CALLER.take().resume(SUSPENDED)
//!  self.ctx := t.context                         (or entry: ...resume(FINISHED), never returns)
//! ```
//!
//! Invariants:
//! 1. `CALLER` (a thread-local) holds the resumer's context exactly while a
//!    coroutine runs on this OS thread; one coroutine runs per OS thread at
//!    a time, so one slot suffices.
//! 2. A suspended coroutine is resumed on the OS thread that last resumed it
//!    (the runtime pins green threads after their first resume), so the
//!    thread-local addresses LLVM may have cached on its stack stay valid.
//! 3. Nothing unwinds through the assembly: `entry` catches every panic, and
//!    a panic escaping the runtime's own wrapper aborts the process.
//! 4. A stack returns to the pool only when the coroutine finished (no live
//!    frame) or never started. A coroutine dropped while suspended leaks
//!    its stack rather than free memory that live frames point into.

pub(crate) mod overflow;
pub(crate) mod stack;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use context::{Context, Transfer};

use self::stack::Stack;

/// Value passed to the resumer when the coroutine suspends.
const SUSPENDED: usize = 0;
/// Value passed to the resumer when the coroutine's closure has returned.
const FINISHED: usize = 1;

thread_local! {
    /// The resumer's context while a coroutine runs on this thread (invariant 1).
    static CALLER: Cell<Option<Context>> = const { Cell::new(None) };
}

/// The function a coroutine runs. It must not unwind: the runtime's
/// wrapper catches the user's panic; `entry` aborts if anything escapes
/// anyway. It takes no argument: the runtime finds the green thread it runs
/// for through its thread-local state.
pub(crate) type Entry = fn();

/// One stackful coroutine.
pub(crate) struct Coroutine {
    /// The suspended context; `None` before the first resume and after the
    /// coroutine finished.
    ctx: Option<Context>,
    /// The function to run, taken at the first resume.
    start: Option<Entry>,
    /// The stack; `None` once released (finished) or leaked.
    stack: Option<Stack>,
    /// What the overflow handler reports if this coroutine hits its guard.
    running: overflow::Running,
    finished: bool,
}

impl Coroutine {
    /// Creates a coroutine that will run `f` on `stack` when first resumed.
    pub(crate) fn new(stack: Stack, f: Entry, id: u64, name: Option<Arc<str>>) -> Coroutine {
        let running = overflow::Running {
            guard: stack.guard(),
            stack_size: stack.size(),
            id,
            name,
        };
        Coroutine {
            ctx: None,
            start: Some(f),
            stack: Some(stack),
            running,
            finished: false,
        }
    }

    /// Before the first resume: trades the stack for a hot one from this
    /// thread's pool cache if the stack was never used (see
    /// `stack::swap_for_hot`). The runtime calls it on the worker that is
    /// about to run the coroutine for the first time.
    pub(crate) fn prefer_hot_stack(&mut self) {
        if self.is_started() {
            return;
        }
        if let Some(stack) = self.stack.take() {
            let stack = stack::swap_for_hot(stack);
            self.running.guard = stack.guard();
            self.stack = Some(stack);
        }
    }

    /// Whether the coroutine has been resumed at least once.
    pub(crate) fn is_started(&self) -> bool {
        self.start.is_none()
    }

    /// Runs the coroutine until it calls [`suspend`] or its closure returns.
    /// Returns `true` when it finished; its stack is then back in the pool.
    ///
    /// Must not be called from inside a coroutine, nor after it finished.
    pub(crate) fn resume(&mut self) -> bool {
        assert!(!self.finished, "resumed a finished coroutine");
        debug_assert!(
            CALLER.with(|c| {
                let caller = c.take();
                let empty = caller.is_none();
                c.set(caller);
                empty
            }),
            "Coroutine::resume called from inside a coroutine"
        );
        let (ctx, data) = match self.ctx.take() {
            Some(ctx) => (ctx, 0),
            None => {
                let stack = self.stack.as_ref().expect("coroutine has a stack");
                // SAFETY: `context::stack::Stack::new` only records the two
                // bounds. `top` is above `bottom`, both delimit memory this
                // coroutine owns exclusively (the pool hands a stack to one
                // owner), and it stays mapped for as long as the context
                // can run (slabs are never unmapped).
                let bounds = unsafe {
                    context::stack::Stack::new(stack.top().cast(), stack.bottom().cast())
                };
                // SAFETY: `Context::new` (make_fcontext) lays out an initial
                // frame at the top of `bounds` that calls `entry` on first
                // jump. The memory is writable and unused (fresh stack, no
                // live frames: invariant 4).
                let ctx = unsafe { Context::new(&bounds, entry) };
                let f = self.start.take().expect("coroutine has a start function");
                (ctx, f as usize)
            }
        };
        // SAFETY: `running` lives in `self`, which is borrowed for the whole
        // switch; it is unpublished before this borrow ends.
        unsafe { overflow::set_running(&self.running) };
        // SAFETY: `ctx` is either a fresh context made above or the context
        // the coroutine saved when it last suspended on this OS thread
        // (invariant 2). `jump_fcontext` saves the current registers on this
        // thread's stack, switches to the coroutine, and returns here with
        // the coroutine's new context when it jumps back to us; no Rust
        // frame is unwound or skipped on our side.
        let t = unsafe { ctx.resume(data) };
        // SAFETY: null unpublishes; nothing to keep alive.
        unsafe { overflow::set_running(std::ptr::null()) };
        if t.data == FINISHED {
            self.finished = true;
            let stack = self.stack.take().expect("coroutine has a stack");
            // SAFETY: the coroutine jumped back with FINISHED from the end of
            // `entry`, after its closure and every local of `entry` that
            // needs dropping were dropped; the context it left (`t.context`)
            // is discarded here, so nothing ever runs on the stack again.
            unsafe { stack::release(stack) };
            true
        } else {
            self.ctx = Some(t.context);
            false
        }
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            if self.is_started() {
                // Live frames remain on a suspended stack (invariant 4): leak
                // it (a `Stack` that is never released stays out of the pool).
                let _leaked = stack;
            } else {
                // SAFETY: never resumed: no code ran on it since acquire,
                // and no context was made on it.
                unsafe { stack::release_unused(stack) };
            }
        }
    }
}

// SAFETY: a `Coroutine` holds a function pointer until its first resume, and
// after that a stack whose frames may hold `!Send` values. The runtime only
// moves a coroutine between OS threads before its first resume (a green
// thread is pinned to its worker once started, DESIGN.md "Architecture");
// after that it is touched only by its home worker. That pinning rule,
// enforced in `runtime::worker`, is what makes this impl sound.
unsafe impl Send for Coroutine {}

/// Switches from the running coroutine back to its resumer; returns when
/// the coroutine is resumed again (on the same OS thread).
///
/// # Panics
/// If called outside a coroutine.
pub(crate) fn suspend() {
    let caller = CALLER
        .take()
        .expect("goro: suspend called outside a green thread");
    // SAFETY: `caller` is the context of the resumer, saved on this OS
    // thread when it resumed us and not used since (invariant 1). Jumping
    // to it returns from its `resume` call; when we are resumed again the
    // new resumer's context comes back in the `Transfer`.
    let t = unsafe { caller.resume(SUSPENDED) };
    CALLER.set(Some(t.context));
}

/// The first frame on every coroutine stack.
extern "C" fn entry(t: Transfer) -> ! {
    CALLER.set(Some(t.context));
    // SAFETY: the first resume passes the `Entry` function pointer as its
    // data word (see `resume`); a `fn()` round-trips through `usize`.
    let f = unsafe { std::mem::transmute::<usize, Entry>(t.data) };
    if panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        // The runtime's wrapper catches user panics; reaching this means a
        // panic escaped it (e.g. a payload whose drop panicked). Unwinding
        // further would cross the assembly (invariant 3).
        eprintln!("goro: a panic escaped a green thread's root; aborting");
        std::process::abort();
    }
    let caller = CALLER.take().expect("coroutine lost its resumer");
    // SAFETY: as in `suspend`. The resumer sees FINISHED and never resumes
    // this context again, so this call never returns. Every local of this
    // frame that needs dropping has been dropped or moved out.
    unsafe { caller.resume(FINISHED) };
    unreachable_abort()
}

#[cold]
fn unreachable_abort() -> ! {
    eprintln!("goro: a finished coroutine was resumed; aborting");
    std::process::abort()
}
