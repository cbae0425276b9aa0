//! The state word of a green thread: where it is in its life and whether a
//! wake-up or a cancellation is pending.
//!
//! ```text
//!  bits 0-1  lifecycle  QUEUED (never started, in a run queue or about to be)
//!                       RUNNING (started and not parked: executing, or
//!                       queued on its worker after a yield or a wake-up)
//!                       PARKED (suspended, waiting for `notify`)
//!                       DONE (its closure returned; never runs again)
//!  bit 2     NOTIFIED   an unpark arrived while not PARKED: the next park
//!                       returns at once (a token, like `Thread::unpark`)
//!  bit 3     CANCELLED  the runtime shuts down: blocking calls unwind
//! ```
//!
//! # Protocol
//!
//! 1. A worker that pops a never-started task moves it QUEUED -> RUNNING.
//! 2. A task that blocks first switches away: to its worker, or straight to
//!    the next green thread of its worker. Whatever runs next, on its own
//!    stack, moves it RUNNING -> PARKED ([`State::transition_to_parked`]).
//!    If a notification raced in, the move fails, the token is consumed and
//!    the task runs on (the worker resumes it at once; a green thread
//!    requeues it). So a waker can never see PARKED while the coroutine is
//!    still executing: it cannot resume it early.
//! 3. A waker calls [`State::notify`]: PARKED -> RUNNING returns `true` and
//!    the waker, and only it, must push the task on its home worker's
//!    queue; QUEUED/RUNNING just gain NOTIFIED; DONE is left alone.
//! 4. A started task is RUNNING whenever it is not PARKED, also while it
//!    waits in its worker's queue after a yield or a wake-up: for wakers it
//!    is running (a `notify` leaves a token), and only its worker can run
//!    it again, so picking it needs no atomic write (perf showed the
//!    QUEUED -> RUNNING `fetch_add` on every resume of a woken task).
//!    Completion moves RUNNING -> DONE.
//!
//! Exactly one party holds the right to run the task at any time: the queue
//! that holds it, the worker running it, or (while PARKED) nobody; `notify`
//! is the only way out of PARKED.

use crate::loom::sync::atomic::{AtomicU32, Ordering};

const LIFECYCLE: u32 = 0b11;
const QUEUED: u32 = 0;
const RUNNING: u32 = 1;
const PARKED: u32 = 2;
const DONE: u32 = 3;
const NOTIFIED: u32 = 1 << 2;
const CANCELLED: u32 = 1 << 3;

/// The atomic state word of one green thread.
#[derive(Debug)]
pub(crate) struct State(AtomicU32);

impl State {
    /// A new task, about to be queued.
    pub(crate) fn new() -> State {
        State(AtomicU32::new(QUEUED))
    }

    /// QUEUED -> RUNNING (step 1). Called by the worker that popped it. A
    /// started task is RUNNING in the queue already (step 4): nothing to do.
    pub(crate) fn transition_to_running(&self) {
        if self.0.load(Ordering::Acquire) & LIFECYCLE == RUNNING {
            return;
        }
        // QUEUED is 0, so adding RUNNING sets the lifecycle without touching
        // the flag bits a concurrent `notify` or `cancel` may be setting.
        let prev = self.0.fetch_add(RUNNING, Ordering::AcqRel);
        debug_assert_eq!(prev & LIFECYCLE, QUEUED, "ran a task that was not queued");
    }

    /// RUNNING -> PARKED unless a notification is pending (step 2). Returns
    /// `false` when the task must keep running (the token is consumed).
    pub(crate) fn transition_to_parked(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            debug_assert_eq!(cur & LIFECYCLE, RUNNING);
            let (next, parked) = if cur & NOTIFIED != 0 {
                (cur & !NOTIFIED, false)
            } else {
                ((cur & !LIFECYCLE) | PARKED, true)
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return parked,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Consumes a pending notification from inside the running task (the
    /// fast path of a park that need not switch at all).
    pub(crate) fn take_notification(&self) -> bool {
        if self.0.load(Ordering::Acquire) & NOTIFIED == 0 {
            return false;
        }
        self.0.fetch_and(!NOTIFIED, Ordering::AcqRel) & NOTIFIED != 0
    }

    /// RUNNING -> DONE (step 4).
    pub(crate) fn transition_to_done(&self) {
        let prev = self.0.fetch_or(DONE, Ordering::AcqRel);
        debug_assert_eq!(prev & LIFECYCLE, RUNNING);
    }

    /// Wakes the task (step 3). Returns `true` when it was PARKED: the
    /// caller now holds the right to run it and must queue it.
    pub(crate) fn notify(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let next = match cur & LIFECYCLE {
                PARKED => (cur & !LIFECYCLE) | RUNNING,
                DONE => return false,
                _ if cur & NOTIFIED != 0 => return false,
                _ => cur | NOTIFIED,
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return cur & LIFECYCLE == PARKED,
                Err(actual) => cur = actual,
            }
        }
    }

    /// PARKED -> RUNNING only (a timer firing for the park that armed it).
    /// Returns `true` when the caller must queue the task.
    pub(crate) fn notify_parked(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        while cur & LIFECYCLE == PARKED {
            match self.0.compare_exchange_weak(
                cur,
                (cur & !LIFECYCLE) | RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
        false
    }

    /// Marks the task cancelled, then wakes it like [`State::notify`]
    /// (shutdown does the two steps for all tasks in turn, so only the
    /// models use the pair).
    #[cfg(test)]
    pub(crate) fn cancel(&self) -> bool {
        self.0.fetch_or(CANCELLED, Ordering::AcqRel);
        self.notify()
    }

    /// Sets CANCELLED on a running task (it cancels itself).
    pub(crate) fn mark_cancelled(&self) {
        self.0.fetch_or(CANCELLED, Ordering::AcqRel);
    }

    /// Whether the runtime asked this task to unwind.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire) & CANCELLED != 0
    }

    /// Whether the task has completed (DONE: it never runs again).
    pub(crate) fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire) & LIFECYCLE == DONE
    }

    /// A word for `Runtime::dump`.
    pub(crate) fn describe(&self) -> &'static str {
        match self.0.load(Ordering::Acquire) & LIFECYCLE {
            QUEUED => "runnable",
            // Or queued after a wake-up or a yield (step 4).
            RUNNING => "running",
            PARKED => "parked",
            _ => "done",
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn park_then_notify_hands_over_the_run_right_once() {
        let s = State::new();
        s.transition_to_running();
        assert!(s.transition_to_parked());
        assert!(s.notify(), "the first notify of a parked task queues it");
        assert!(!s.notify(), "a second notify only sets the token");
        s.transition_to_running();
        assert!(s.take_notification());
        assert!(!s.take_notification());
    }

    #[test]
    fn notify_before_park_is_a_token() {
        let s = State::new();
        s.transition_to_running();
        assert!(!s.notify());
        assert!(!s.transition_to_parked(), "the token cancels the park");
        assert!(s.transition_to_parked(), "the token was consumed");
    }

    #[test]
    fn done_ignores_notify_and_cancel_sets_flag() {
        let s = State::new();
        s.transition_to_running();
        // Yielded: still RUNNING in its queue.
        assert!(!s.cancel(), "a queued task is not queued twice");
        s.transition_to_running();
        assert!(s.is_cancelled());
        assert!(s.take_notification(), "the cancel left a token");
        s.transition_to_done();
        assert_eq!(s.describe(), "done");
        assert!(!s.notify());
    }
}
