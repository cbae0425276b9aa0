//! The one park/unpark primitive of the crate, for green threads and plain
//! OS threads alike. Channels, join, sleep and the sync types build their
//! waiters on it.
//!
//! Semantics are those of `std::thread::park`: an [`Unparker::unpark`]
//! that arrives before the park makes the park return at once (a token),
//! and a park may return spuriously, so every caller parks in a loop that
//! re-checks its condition.
//!
//! On a green thread, `park` switches away first (to the next green thread
//! of its worker, or to the worker); whatever runs next publishes the
//! thread as parked from its own stack (`state.rs` step 2), so an unpark
//! can never resume a coroutine that is still running. On an
//! OS thread it parks the thread. Under `cfg(loom)` every green thread is a
//! loom thread, so only the OS-thread half exists.
//!
//! Cancellation: during a runtime's shutdown a green thread's cancellable
//! park unwinds with a private payload (caught at the green thread's root)
//! so that its destructors run; `park_uncancellable` never does (for waits
//! that must not unwind, such as a scope waiting for its borrowers). A
//! green thread already unwinding (a destructor that blocks) is not
//! unwound again: it parks until its wait ends. Whether it is unwinding is
//! tracked per green thread ([`unwinding_here`]), not read from std, whose
//! flag is per OS thread and so shared by the worker's green threads.

use std::time::Instant;

use crate::loom::thread::{self, Thread};

#[cfg(not(loom))]
use super::task::{TaskRef, WaitReason};

/// Wakes one parked green thread or OS thread.
#[derive(Clone, Debug)]
#[must_use = "an unparker dropped unused is a lost wake-up"]
pub(crate) enum Unparker {
    /// A green thread.
    #[cfg(not(loom))]
    Green(TaskRef),
    /// A plain OS thread (or a loom thread under `cfg(loom)`). Boxed, so
    /// that an unparker is two words: it moves through every blocking
    /// channel operation of green threads (in registers, not through the
    /// stack), while an OS thread that blocks can afford the allocation.
    Os(Box<OsThread>),
}

/// A plain OS thread to unpark, with its "parked in goro" flag (counted
/// by the deadlock detector, `deadlock.rs`).
#[derive(Clone, Debug)]
pub(crate) struct OsThread {
    thread: Thread,
    #[cfg(not(loom))]
    slot: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Unparker {
    /// The unparker of the calling green thread or OS thread.
    #[inline(always)]
    pub(crate) fn current() -> Unparker {
        #[cfg(not(loom))]
        {
            if let Some(task) = super::worker::with_worker(|w| w.and_then(|w| w.current_task_ref()))
            {
                return Unparker::Green(task);
            }
        }
        Unparker::current_os()
    }

    /// [`Unparker::current`] on a plain OS thread (the rarer caller, and
    /// one about to sleep in the kernel anyway).
    #[cold]
    #[inline(never)]
    fn current_os() -> Unparker {
        Unparker::Os(Box::new(OsThread {
            thread: thread::current(),
            #[cfg(not(loom))]
            slot: super::deadlock::os_slot(),
        }))
    }

    /// Whether this wakes a green thread (else a plain OS thread).
    pub(crate) fn is_green(&self) -> bool {
        match self {
            #[cfg(not(loom))]
            Unparker::Green(_) => true,
            Unparker::Os(_) => false,
        }
    }

    /// Wakes the thread, or makes its next park return at once. Consumes
    /// the unparker: a green thread's reference moves into its run queue
    /// (no reference count traffic on the wake path).
    pub(crate) fn unpark(self) {
        match self {
            #[cfg(not(loom))]
            Unparker::Green(task) => {
                if task.state.notify() {
                    super::worker::schedule_woken(task);
                }
            }
            Unparker::Os(t) => {
                #[cfg(not(loom))]
                super::deadlock::os_unparking(&t.slot);
                t.thread.unpark()
            }
        }
    }
}

/// Wakes every thread of `unparkers`, like [`Unparker::unpark`] on each in
/// turn, with green threads of another worker queued there in batches
/// (`worker::schedule_woken_all`).
pub(crate) fn unpark_all(unparkers: Vec<Unparker>) {
    #[cfg(not(loom))]
    {
        let mut os = Vec::new();
        let green = unparkers.into_iter().filter_map(|u| match u {
            Unparker::Green(task) => task.state.notify().then_some(task),
            other => {
                os.push(other);
                None
            }
        });
        super::worker::schedule_woken_all(green);
        os.into_iter().for_each(Unparker::unpark);
    }
    #[cfg(loom)]
    unparkers.into_iter().for_each(Unparker::unpark);
}

/// Payload of the unwind that shutdown injects into blocked green threads.
/// Private: user code can only see it as an opaque `Box<dyn Any>`.
#[derive(Debug)]
pub(crate) struct Shutdown;

/// Parks the caller until unparked (see the module doc for cancellation).
#[inline]
pub(crate) fn park(reason: Reason) {
    park_inner(None, reason, true)
}

/// Parks the caller until unparked or `deadline` passes.
pub(crate) fn park_until(deadline: Instant, reason: Reason) {
    park_inner(Some(deadline), reason, true)
}

/// Parks the caller until unparked; never unwinds for shutdown.
pub(crate) fn park_uncancellable(reason: Reason) {
    park_inner(None, reason, false)
}

/// What a parked green thread waits for (shown by `Runtime::dump`).
#[cfg(not(loom))]
pub(crate) type Reason = WaitReason;
/// What a parked thread waits for (unused under loom).
#[cfg(loom)]
pub(crate) type Reason = ();

#[cfg(not(loom))]
fn park_inner(deadline: Option<Instant>, reason: Reason, cancellable: bool) {
    use super::worker::{park_current, with_current_task};
    use crate::loom::sync::atomic::Ordering;

    let on_green = with_current_task(|t| match t {
        None => false,
        Some(t) => {
            // Cancelled in the middle of its own unwind (a destructor
            // that blocks), it must not start another: it parks as usual,
            // until its wait ends.
            if cancellable && t.state.is_cancelled() && !unwinding_here(t) {
                return true; // unwinds below
            }
            if t.state.take_notification() {
                return true;
            }
            t.park_seq.store(
                t.park_seq.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
            t.set_wait_reason(reason);
            if std::thread::panicking() || t.is_unwinding() {
                park_mid_unwind(t, deadline);
            } else {
                park_current(deadline);
            }
            t.set_wait_reason(WaitReason::None);
            true
        }
    });
    if !on_green {
        match deadline {
            // Counted as parked inside goro (a timed park is not: the
            // thread may wake by itself and act).
            None => super::deadlock::os_park(thread::park),
            Some(d) => {
                let now = Instant::now();
                if d > now {
                    thread::park_timeout(d - now);
                }
            }
        }
        return;
    }
    if cancellable {
        unwind_if_cancelled();
    }
}

#[cfg(loom)]
fn park_inner(deadline: Option<Instant>, _reason: Reason, _cancellable: bool) {
    match deadline {
        None => thread::park(),
        Some(_) => thread::yield_now(),
    }
}

/// Whether the running green thread `t` is unwinding.
///
/// std's `thread::panicking` is kept per OS thread, and a worker's green
/// threads share one: while a green thread is switched out in the middle
/// of its unwind (a destructor that blocks), std reports "panicking" to
/// every other green thread of the worker too, until that one finishes.
/// So goro keeps its own flag per green thread (`Header::is_unwinding`):
/// set by goro's panic hook when the green thread panics and when goro
/// unwinds it for a shutdown, cleared whenever std says the OS thread is
/// not panicking (the unwind was caught), and set when std says it is and
/// no other green thread of the worker is switched out mid-unwind (then
/// the panic must be this one's, started without the hook, e.g. by
/// `resume_unwind`). std's flag itself cannot be kept per green thread:
/// other green threads of the worker still see it (a `std::sync::Mutex`
/// guard they drop then poisons it), which the README lists.
#[cfg(not(loom))]
pub(crate) fn unwinding_here(t: &super::task::Task) -> bool {
    if !std::thread::panicking() {
        t.set_unwinding(false);
        return false;
    }
    if !t.is_unwinding() && super::worker::mid_unwind() == 0 {
        t.set_unwinding(true);
    }
    t.is_unwinding()
}

/// [`park_inner`]'s park of green thread `t` when std says its OS thread
/// is panicking or `t` was last seen unwinding: clears a stale mark (a
/// panic it caught), and counts the park while it lasts among its
/// worker's green threads switched out mid-unwind if it is one.
#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn park_mid_unwind(t: &super::task::Task, deadline: Option<Instant>) {
    use super::worker::{park_counted, park_current};
    if unwinding_here(t) {
        park_counted(|| park_current(deadline));
    } else {
        park_current(deadline);
    }
}

/// Whether the caller is unwinding: std's flag on a plain OS thread,
/// [`unwinding_here`] on a green thread.
#[cfg(not(loom))]
pub(crate) fn panicking() -> bool {
    use super::worker::with_current_task;
    with_current_task(|t| match t {
        Some(t) => unwinding_here(t),
        None => std::thread::panicking(),
    })
}

/// Whether the caller is unwinding (under loom every party is a thread).
#[cfg(loom)]
pub(crate) fn panicking() -> bool {
    std::thread::panicking()
}

/// Unwinds the calling green thread, as [`unwind_for_shutdown`] does, if
/// its runtime has cancelled it (it shuts down); else returns.
#[cfg(not(loom))]
#[inline]
pub(crate) fn unwind_if_cancelled() {
    use super::worker::with_current_task;
    if with_current_task(|t| t.is_some_and(|t| t.state.is_cancelled())) {
        unwind_for_shutdown();
    }
}

/// Unwinds the calling green thread because its runtime shuts down, unless
/// it is already unwinding.
#[cfg(not(loom))]
pub(crate) fn unwind_for_shutdown() {
    use super::worker::with_current_task;
    let unwind = with_current_task(|t| match t {
        Some(t) if unwinding_here(t) => false,
        Some(t) => {
            t.set_unwinding(true);
            true
        }
        None => !std::thread::panicking(),
    });
    if unwind {
        std::panic::resume_unwind(Box::new(Shutdown));
    }
}
