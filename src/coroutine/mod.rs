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
//!  resumer (worker stack)                  coroutine A           coroutine B
//!  ----------------------                  -----------           -----------
//!  resume(A): CURRENT := A
//!    jump(ctx, 0) -----------------------> land: CALLER := t.context
//!                                          ... runs ...
//!                                          switch_to(B):
//!                                            CURRENT := B
//!                                            jump(B.ctx, &A) ------> land: A.ctx := t.context
//!                                                                    ... runs ...
//!  resume returns <--------------------------------------------- suspend(): jump(CALLER.take(), SUSPENDED)
//!  CURRENT.ctx := t.context (B's)                                (or entry: jump(.., FINISHED))
//! ```
//!
//! Invariants:
//! 1. `CALLER` (a thread-local) holds the resumer's context exactly while a
//!    coroutine runs on this OS thread; one coroutine runs per OS thread at
//!    a time, so one slot suffices. A direct switch leaves it in place.
//! 2. `CURRENT` (a thread-local) points to the coroutine running on this OS
//!    thread while one does: `resume` sets it to the one it resumes,
//!    `switch_to` to the one it switches to. When control comes back to the
//!    resumer, the context it receives is `CURRENT`'s, so it stores it
//!    there, whichever coroutine `resume` started with.
//! 3. The data word of a jump says where the context it carries belongs:
//!    into `CALLER` (0, from the resumer), into the coroutine at that
//!    address (a direct switch), or it is `SUSPENDED`/`FINISHED` (to the
//!    resumer). A switched-from coroutine's context is stored ("landed") by
//!    the next code to run on this thread, before anything can resume it.
//! 4. A suspended coroutine is resumed on the OS thread that last ran it
//!    (the runtime pins green threads after their first resume), so the
//!    thread-local addresses LLVM may have cached on its stack stay valid.
//! 5. Nothing unwinds through the assembly: `entry` catches every panic, and
//!    a panic escaping the runtime's own wrapper aborts the process.
//! 6. A stack returns to the pool only when the coroutine finished (no live
//!    frame) or never started. A coroutine dropped while suspended leaks
//!    its stack rather than free memory that live frames point into.
//! 7. A started coroutine's overflow record (`overflow::Running`: guard,
//!    size, id, name) lives in the top [`RECORD_BYTES`] of its own stack,
//!    above the first frame, from the first resume until it finishes (then
//!    it is dropped before the stack goes back to the pool). The stack top
//!    is touched by the first frame anyway, so the record costs no memory
//!    of its own; it keeps the coroutine, which sits in every green
//!    thread's heap cell, small (`runtime::task::Header`).

mod jump;
pub(crate) mod overflow;
pub(crate) mod stack;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use context::{Context, Transfer};

use self::stack::Stack;

/// Data of a jump from the resumer into a started coroutine: the context
/// it carries is the resumer's (invariant 3).
const FROM_RESUMER: usize = 0;
/// Value passed to the resumer when the coroutine suspends.
const SUSPENDED: usize = 0;
/// Value passed to the resumer when the coroutine's closure has returned.
const FINISHED: usize = 1;

thread_local! {
    /// The resumer's context while a coroutine runs on this thread (invariant 1).
    static CALLER: Cell<Option<Context>> = const { Cell::new(None) };
    /// The coroutine running on this thread, null when none (invariant 2).
    static CURRENT: Cell<*mut Coroutine> = const { Cell::new(std::ptr::null_mut()) };
}

/// The function a coroutine runs. It must not unwind: the runtime's
/// wrapper catches the user's panic; `entry` aborts if anything escapes
/// anyway. It takes no argument: the runtime finds the green thread it runs
/// for through its thread-local state.
pub(crate) type Entry = fn();

/// One stackful coroutine.
///
/// `repr(C)`: what every switch reads (`ctx`, `finished`) comes first, so
/// it shares a cache line with the runtime's hot fields just before it
/// (`runtime::task::Header`).
#[repr(C)]
pub(crate) struct Coroutine {
    /// The suspended context; `None` before the first resume and after the
    /// coroutine finished.
    ctx: Option<Context>,
    finished: bool,
    /// The function to run, taken at the first resume.
    start: Option<Entry>,
    /// The stack; `None` once released (finished) or leaked.
    stack: Option<Stack>,
    /// What the overflow handler reports if this coroutine hits its guard:
    /// a record at the top of its own stack (invariant 7), written at the
    /// first resume; null before.
    running: *mut overflow::Running,
}

/// Cache lines [`Coroutine::prefetch`] asks for: the saved frame and the
/// frames a resume returns through, 1 KiB of stack. Waking 100,000 parked
/// green threads (`benches/parked.rs`, medians of five or six alternating
/// runs): 10 lines 41 ms, 16 lines 32-35 ms, 22 lines 35 ms, 32 lines
/// 42 ms; 5 lines 44 ms; 1 line about 5% slower than 5.
#[cfg(target_arch = "x86_64")]
const PREFETCH_LINES: usize = 16;

/// Bytes kept free at the top of every stack for the coroutine's
/// [`overflow::Running`] record (invariant 7), a multiple of 64 so the
/// first frame below it starts a cache line.
const RECORD_BYTES: usize = (std::mem::size_of::<overflow::Running>() + 63) & !63;

impl Coroutine {
    /// Creates a coroutine that will run `f` on `stack` when first resumed.
    pub(crate) fn new(stack: Stack, f: Entry) -> Coroutine {
        Coroutine {
            ctx: None,
            start: Some(f),
            stack: Some(stack),
            running: std::ptr::null_mut(),
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
            self.stack = Some(stack::swap_for_hot(stack));
        }
    }

    /// Whether the coroutine has been resumed at least once.
    pub(crate) fn is_started(&self) -> bool {
        self.start.is_none()
    }

    /// Runs the coroutine until the coroutine then running on this thread
    /// (this one, or one it switched to with [`switch_to`], and so on)
    /// calls [`suspend`] or returns. Returns `true` when it finished; its
    /// stack is then back in the pool. Either way the caller learns which
    /// coroutine came back from its own record of the direct switches.
    ///
    /// At the first resume, `identity` gives the id and name the overflow
    /// handler reports for this coroutine (it is not called later).
    ///
    /// # Safety
    /// `this` points to a live coroutine, not finished, to which the caller
    /// has exclusive access, and which either never ran or last ran on this
    /// OS thread; the same holds for every coroutine it switches to. No
    /// reference to any of them is held across the call. Must not be called
    /// from inside a coroutine.
    #[inline]
    pub(crate) unsafe fn resume(
        this: *mut Coroutine,
        identity: impl FnOnce() -> (u64, Option<Arc<str>>),
    ) -> bool {
        debug_assert!(CURRENT.get().is_null(), "resume called inside a coroutine");
        // SAFETY: exclusive access by the contract; the reference ends
        // before the jump.
        let co = unsafe { &mut *this };
        assert!(!co.finished, "resumed a finished coroutine");
        let (ctx, data) = match co.ctx.take() {
            Some(ctx) => (ctx, FROM_RESUMER),
            None => {
                let stack = co.stack.as_ref().expect("coroutine has a stack");
                let (id, name) = identity();
                // SAFETY: `RECORD_BYTES` is far below any stack's size, so
                // the record stays inside the stack's memory.
                let record = unsafe { stack.top().sub(RECORD_BYTES) }.cast::<overflow::Running>();
                // SAFETY: the stack is this coroutine's alone (the pool
                // hands a stack to one owner) and unused (fresh, no live
                // frames: invariant 6); `record` is 64-aligned (`top` is
                // page-aligned) and writable; no frame will use these bytes
                // (the context below starts under them).
                unsafe {
                    record.write(overflow::Running {
                        guard: stack.guard(),
                        stack_size: stack.size(),
                        id,
                        name,
                    })
                };
                co.running = record;
                // SAFETY: `context::stack::Stack::new` only records the two
                // bounds. `record` is above `bottom`, both delimit memory
                // this coroutine owns exclusively, and it stays mapped for
                // as long as the context can run (slabs are never
                // unmapped).
                let bounds =
                    unsafe { context::stack::Stack::new(record.cast(), stack.bottom().cast()) };
                // SAFETY: `Context::new` (make_fcontext) lays out an initial
                // frame at the top of `bounds` that calls `entry` on first
                // jump. The memory is writable and unused (fresh stack, no
                // live frames: invariant 6).
                let ctx = unsafe { Context::new(&bounds, entry) };
                let f = co.start.take().expect("coroutine has a start function");
                (ctx, f as usize)
            }
        };
        CURRENT.set(this);
        // SAFETY: the record lives at the top of the coroutine's stack,
        // which stays allocated until it is unpublished below (or replaced
        // by `switch_to`, for a coroutine the caller keeps alive too).
        unsafe { overflow::set_running(co.running) };
        // SAFETY: `ctx` is either a fresh context made above or the context
        // the coroutine saved when it last switched away on this OS thread
        // (invariant 4). `jump_fcontext` saves the current registers on this
        // thread's stack, switches to the coroutine, and returns here with
        // the context of the coroutine running when control comes back
        // (`CURRENT`, invariant 2); no Rust frame is unwound or skipped on
        // our side.
        let t = unsafe { jump::jump(ctx, data) };
        // SAFETY: null unpublishes; nothing to keep alive.
        unsafe { overflow::set_running(std::ptr::null()) };
        // SAFETY: `CURRENT` is the coroutine that jumped back (invariant 2),
        // alive and exclusively ours by the contract; no other reference to
        // it is live.
        let back = unsafe { &mut *CURRENT.replace(std::ptr::null_mut()) };
        if t.data == FINISHED {
            back.finished = true;
            // SAFETY: written at the first resume and unpublished above;
            // nothing reads it again (invariant 7).
            unsafe { std::ptr::drop_in_place(back.running) };
            back.running = std::ptr::null_mut();
            let stack = back.stack.take().expect("coroutine has a stack");
            // SAFETY: the coroutine jumped back with FINISHED from the end of
            // `entry`, after its closure and every local of `entry` that
            // needs dropping were dropped; the context it left (`t.context`)
            // is discarded here, so nothing ever runs on the stack again.
            unsafe { stack::release(stack) };
            true
        } else {
            back.ctx = Some(t.context);
            false
        }
    }

    /// Asks the CPU to start loading what a resume of this suspended
    /// coroutine reads first: its saved registers and the frames just
    /// above them (the switch path and the blocking call it returns into),
    /// [`PREFETCH_LINES`] cache lines up from its saved stack pointer, and the
    /// page-table entries on the way. With many green threads those lines
    /// are cold and the page is not in the TLB. A hint only: nothing is
    /// dereferenced, and a prefetch never faults.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(ctx) = &self.ctx {
            // SAFETY: `Context` is a `repr(C)` wrapper of one pointer, the
            // saved stack pointer (as in `jump.rs`).
            let sp: *const i8 = unsafe { std::mem::transmute_copy(ctx) };
            for line in 0..PREFETCH_LINES {
                // SAFETY: a prefetch hint has no memory effect and never
                // faults, whatever the address.
                unsafe {
                    std::arch::x86_64::_mm_prefetch(
                        sp.wrapping_add(line * 64),
                        std::arch::x86_64::_MM_HINT_T0,
                    )
                };
            }
        }
    }

    /// Whether [`switch_to`] may switch to this coroutine: it has run and
    /// is suspended.
    pub(crate) fn is_suspended(&self) -> bool {
        self.ctx.is_some()
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            if self.is_started() {
                // Live frames remain on a suspended stack (invariant 6): leak
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
#[inline]
pub(crate) fn suspend() {
    let caller = CALLER
        .take()
        .expect("goro: suspend called outside a green thread");
    // SAFETY: `caller` is the context of the resumer, saved on this OS
    // thread when it resumed us and not used since (invariant 1). Jumping
    // to it returns from its `resume` call; when we are resumed again the
    // new resumer's context comes back in the `Transfer`.
    let t = unsafe { jump::jump(caller, SUSPENDED) };
    // SAFETY: `t` is the jump that resumed us.
    unsafe { land(t) };
}

/// Switches from the running coroutine straight to `next`, without passing
/// through the resumer (one context switch instead of two); returns when
/// something switches back to the caller. The caller's context is stored
/// into its own `Coroutine` by whatever runs next (invariant 3).
///
/// # Safety
/// Called on a coroutine (not on the resumer's stack). `next` points to a
/// live, suspended coroutine (see [`Coroutine::is_suspended`]) other than
/// the caller's, that last ran on this OS thread, to which the caller has
/// exclusive access, and which the resumer's record of the running
/// coroutine names from now on (so that it knows who comes back). The
/// caller's own coroutine stays alive until it is resumed again.
#[inline]
pub(crate) unsafe fn switch_to(next: *mut Coroutine) {
    let me = CURRENT.get();
    debug_assert!(!me.is_null(), "switch_to called outside a coroutine");
    debug_assert!(!std::ptr::eq(me, next), "switch_to the running coroutine");
    // SAFETY: by the contract `next` is live and ours; the reference ends
    // before the jump.
    let co = unsafe { &mut *next };
    let ctx = co
        .ctx
        .take()
        .expect("switch_to a coroutine that is not suspended");
    CURRENT.set(next);
    // SAFETY: as in `resume`: `next` and its stack stay alive while it runs.
    unsafe { overflow::set_running(co.running) };
    // SAFETY: `ctx` is the context `next` saved when it last switched away
    // on this thread (invariant 4). It lands with our address as the data
    // word and stores our context into our `Coroutine` (invariant 3).
    let t = unsafe { jump::jump(ctx, me as usize) };
    // SAFETY: `t` is the jump that resumed us.
    unsafe { land(t) };
}

/// Stores the context a jump into this coroutine carries where it belongs
/// (invariant 3).
///
/// # Safety
/// `t` is the `Transfer` of the jump that just resumed the calling
/// coroutine, from `Coroutine::resume` or `switch_to`.
#[inline(always)]
unsafe fn land(t: Transfer) {
    if t.data == FROM_RESUMER {
        CALLER.set(Some(t.context));
    } else {
        let from = t.data as *mut Coroutine;
        // SAFETY: `switch_to` passed the address of the coroutine it
        // switched from, which its caller keeps alive; it is suspended (it
        // just jumped here), so nothing else touches it until it is resumed,
        // which needs this very context.
        unsafe { (*from).ctx = Some(t.context) };
    }
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
        // further would cross the assembly (invariant 5).
        eprintln!("goro: a panic escaped a green thread's root; aborting");
        std::process::abort();
    }
    let caller = CALLER.take().expect("coroutine lost its resumer");
    // SAFETY: as in `suspend`. The resumer sees FINISHED and never resumes
    // this context again, so this call never returns. Every local of this
    // frame that needs dropping has been dropped or moved out.
    unsafe { jump::jump(caller, FINISHED) };
    unreachable_abort()
}

#[cold]
fn unreachable_abort() -> ! {
    eprintln!("goro: a finished coroutine was resumed; aborting");
    std::process::abort()
}
