//! The waiters of every `goro::sync` primitive: a [`Waiter`] on the stack of
//! the green thread or OS thread that blocks, and a FIFO [`WaitQueue`] of
//! pointers to them, kept behind the primitive's internal [`Lock`].
//!
//! Protocol (the channel's, `chan/waiter.rs`, without a message):
//!
//! 1. The blocked party creates its waiter (with the `value` it asks for:
//!    permits, reader or writer), pushes it under the primitive's lock,
//!    unlocks, and parks ([`wait`]) until `state` leaves [`WAITING`].
//! 2. A peer that grants the request pops the waiter under the lock, takes
//!    its unparker and stores the grant (a non-zero, primitive-specific
//!    state) with release ordering ([`Completion::finish`]). After that
//!    store it never touches the waiter again: the owner may return at once
//!    and its frame die. It unparks the owner after unlocking.
//! 3. An owner that stops waiting on its own (a deadline, or an unwind
//!    during a runtime shutdown) calls the primitive's `abandon` hook, which
//!    locks: a waiter still WAITING is in the queue and nobody else will
//!    touch it, so it removes itself; otherwise it was granted, and on an
//!    unwind it must pass on what it was given (unlock, release permits).
//!
//! So a waiter is in a queue only while WAITING, and is never freed while
//! in a queue. Green threads never migrate once started, so a parked
//! waiter's stack stays where it is.
//!
//! [`Lock`]: super::lock::Lock

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::time::Instant;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::runtime::parking::{self, Unparker};

/// Still queued (every other state is a grant).
pub(crate) const WAITING: usize = 0;

/// What a waiter blocks on, for `Runtime::dump`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Why {
    Mutex,
    RwLock,
    WaitGroup,
    Semaphore,
    Condvar,
    Barrier,
    Once,
}

impl Why {
    #[cfg(not(loom))]
    fn reason(self) -> parking::Reason {
        use crate::runtime::task::WaitReason;
        match self {
            Why::Mutex => WaitReason::Mutex,
            Why::RwLock => WaitReason::RwLock,
            Why::WaitGroup => WaitReason::WaitGroup,
            Why::Semaphore => WaitReason::Semaphore,
            Why::Condvar => WaitReason::Condvar,
            Why::Barrier => WaitReason::Barrier,
            Why::Once => WaitReason::Once,
        }
    }

    #[cfg(loom)]
    fn reason(self) -> parking::Reason {}
}

/// One blocked call.
pub(crate) struct Waiter {
    /// [`WAITING`] while queued, then the grant its peer stored.
    state: AtomicUsize,
    /// What the owner asks for (read-only): permits, or reader/writer.
    value: usize,
    /// Taken by the peer that grants the request (under the lock).
    unparker: UnsafeCell<Option<Unparker>>,
}

impl Waiter {
    /// A waiter of the calling thread asking for `value`.
    pub(crate) fn new(value: usize) -> Waiter {
        Waiter {
            state: AtomicUsize::new(WAITING),
            value,
            unparker: UnsafeCell::new(Some(Unparker::current())),
        }
    }

    /// The owner's view of the state (acquire: sees what the granter did).
    pub(crate) fn state(&self) -> usize {
        self.state.load(Ordering::Acquire)
    }

    /// Makes a granted waiter WAITING again, to be queued once more. Only
    /// its owner calls it, while it is in no queue.
    pub(crate) fn rearm(&self) {
        self.unparker.with_mut(|u| {
            // SAFETY: the waiter is in no queue, so nobody else touches it.
            let u = unsafe { &mut *u };
            if u.is_none() {
                *u = Some(Unparker::current());
            }
        });
        self.state.store(WAITING, Ordering::Relaxed);
    }
}

/// A FIFO queue of waiters (Go's `sudog` list of a `sema` root).
pub(crate) struct WaitQueue {
    queue: VecDeque<NonNull<Waiter>>,
}

// SAFETY: the queue holds pointers to waiters on other threads' stacks; it
// is only used under its primitive's lock, following the module protocol,
// and a `Waiter` is made of `Send` parts (an atomic and an `Unparker`).
unsafe impl Send for WaitQueue {}

impl WaitQueue {
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            queue: VecDeque::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Step 1: queues `waiter` at the back.
    ///
    /// # Safety
    /// The caller holds the primitive's lock, `waiter` is WAITING and stays
    /// valid until it is popped or removed (module protocol).
    pub(crate) unsafe fn push_back(&mut self, waiter: &Waiter) {
        self.queue.push_back(NonNull::from(waiter));
    }

    /// Step 1, for a woken waiter that lost a race and keeps its turn.
    ///
    /// # Safety
    /// As for [`WaitQueue::push_back`].
    pub(crate) unsafe fn push_front(&mut self, waiter: &Waiter) {
        self.queue.push_front(NonNull::from(waiter));
    }

    /// Step 3: removes a waiter its owner gave up on; whether it was
    /// queued. Caller holds the lock.
    pub(crate) fn remove(&mut self, waiter: &Waiter) -> bool {
        let p = NonNull::from(waiter);
        match self.queue.iter().position(|&w| w == p) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// The `value` the oldest waiter asks for. Caller holds the lock.
    pub(crate) fn front_value(&self) -> Option<usize> {
        // SAFETY: a queued waiter is valid (module protocol), and `value`
        // is never written after creation.
        self.queue.front().map(|w| unsafe { w.as_ref().value })
    }

    /// Step 2: pops the oldest waiter. Caller holds the lock and must
    /// [`Completion::finish`] it before unlocking.
    pub(crate) fn pop(&mut self) -> Option<Completion> {
        self.queue.pop_front().map(|waiter| Completion { waiter })
    }

    /// Step 2 for everyone (a broadcast).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Completion> + '_ {
        self.queue.drain(..).map(|waiter| Completion { waiter })
    }
}

/// A waiter popped from its queue; it must be finished under the lock and
/// the returned unparker used after unlocking.
#[must_use]
pub(crate) struct Completion {
    waiter: NonNull<Waiter>,
}

impl Completion {
    /// Publishes `grant` (non-zero) and returns the owner's unparker. The
    /// waiter must not be touched afterwards (module protocol step 2).
    pub(crate) fn finish(self, grant: usize) -> Unparker {
        debug_assert_ne!(grant, WAITING);
        // SAFETY: the waiter was popped under the lock we still hold and is
        // still WAITING, so it is valid and its owner does not touch it.
        let w = unsafe { self.waiter.as_ref() };
        // SAFETY: as above; only the granter touches the unparker now.
        let u = w.unparker.with_mut(|u| unsafe { (*u).take() });
        w.state.store(grant, Ordering::Release);
        u.expect("a waiting party has an unparker")
    }
}

/// Wakes everyone collected under a lock, after unlocking.
pub(crate) fn unpark_all(wake: impl IntoIterator<Item = Unparker>) {
    for u in wake {
        u.unpark();
    }
}

/// Parks until `waiter` (queued by the caller) is granted or `deadline`
/// passes, and returns its final state.
///
/// `abandon(unwinding)` is the primitive's step 3: it locks, removes the
/// waiter if it is still WAITING, and returns its state. It is called when
/// the deadline passes (`false`: a grant that raced the deadline is kept,
/// the caller sees it in the returned state), and when the park unwinds
/// for a runtime shutdown (`true`: it must also pass on any grant).
pub(crate) fn wait(
    waiter: &Waiter,
    deadline: Option<Instant>,
    why: Why,
    abandon: impl FnMut(bool) -> usize,
) -> usize {
    /// Calls `abandon(true)` if the park unwinds.
    struct OnUnwind<F: FnMut(bool) -> usize>(F);
    impl<F: FnMut(bool) -> usize> Drop for OnUnwind<F> {
        fn drop(&mut self) {
            (self.0)(true);
        }
    }

    let mut guard = OnUnwind(abandon);
    loop {
        let state = waiter.state();
        if state != WAITING {
            std::mem::forget(guard);
            return state;
        }
        match deadline {
            None => parking::park(why.reason()),
            Some(d) => {
                if Instant::now() >= d {
                    let state = (guard.0)(false);
                    std::mem::forget(guard);
                    return state;
                }
                parking::park_until(d, why.reason());
            }
        }
    }
}
