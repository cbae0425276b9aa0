//! A blocked channel operation (Go's `sudog`) and the FIFO queues of them.
//!
//! A [`Waiter`] lives on the stack of the green thread or OS thread that
//! blocks, next to the message slot it points to (the sender's message, or
//! where the receiver's message goes); the channel's wait queues hold
//! pointers to it. A message is never copied into the waiter: it moves
//! once, from the sender's slot to its destination, which keeps large
//! messages from filling small green-thread stacks. Protocol (all queue
//! operations under the channel's lock):
//!
//! 1. The blocked party creates its waiter over its slot (a sender's holds
//!    the message), pushes it on `sendq`/`recvq`, unlocks, and parks until
//!    `state` leaves WAITING.
//! 2. A peer that completes the operation pops the waiter, moves the
//!    message (into `slot` for a receiver, out of it for a sender), takes
//!    the unparker, then stores DONE (or CLOSED when the channel closes)
//!    with release ordering. After that store it never touches the waiter
//!    again: the owner may return at once and its stack frame die. It
//!    wakes the owner with the unparker it took, after unlocking.
//! 3. An owner that stops waiting on its own (deadline, or unwinding during
//!    a runtime shutdown) locks the channel: if its state is still WAITING
//!    nobody will touch it, so it removes itself from the queue; otherwise
//!    a peer already completed it.
//!
//! So a waiter is in a queue only while WAITING, and is never freed while
//! in a queue.

use std::collections::VecDeque;
use std::ptr::NonNull;

use super::slot::Slot;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::runtime::parking::Unparker;

/// Still in a queue.
pub(crate) const WAITING: u8 = 0;
/// A peer completed the operation.
pub(crate) const DONE: u8 = 1;
/// The channel closed (or lost its last receiver) first.
pub(crate) const CLOSED: u8 = 2;

/// One blocked send or receive.
pub(crate) struct Waiter<T> {
    state: AtomicU8,
    /// The owner's message slot: a sender's message until a receiver takes
    /// it; a receiver's message once a sender delivers it. Accessed under
    /// the channel's lock while WAITING, by the owner alone after (through
    /// its own `&mut`, once the waiter is gone).
    slot: NonNull<Slot<T>>,
    /// Taken by the peer that completes or closes the operation.
    unparker: UnsafeCell<Option<Unparker>>,
}

impl<T> Waiter<T> {
    /// A waiter over `slot`, which must outlive it (the owner's frame holds
    /// both).
    pub(crate) fn new(slot: &mut Slot<T>) -> Waiter<T> {
        Waiter {
            state: AtomicU8::new(WAITING),
            slot: NonNull::from(slot),
            unparker: UnsafeCell::new(Some(Unparker::current())),
        }
    }

    /// The owner's view of the state (acquire: sees the peer's message).
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
}

/// A FIFO queue of waiters (Go's `waitq`).
pub(crate) struct WaitQueue<T> {
    queue: VecDeque<NonNull<Waiter<T>>>,
}

impl<T> WaitQueue<T> {
    pub(crate) fn new() -> WaitQueue<T> {
        WaitQueue {
            queue: VecDeque::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Step 1: queues a waiter.
    ///
    /// # Safety
    /// The caller holds the channel's lock, `waiter` is WAITING and stays
    /// valid until it is popped or removed (the module protocol).
    pub(crate) unsafe fn push(&mut self, waiter: &Waiter<T>) {
        self.queue.push_back(NonNull::from(waiter));
    }

    /// Step 3: removes a waiter its owner gave up on. Returns whether it was
    /// still queued. Caller holds the channel's lock.
    pub(crate) fn remove(&mut self, waiter: &Waiter<T>) -> bool {
        let p = NonNull::from(waiter);
        match self.queue.iter().position(|&w| w == p) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// Step 2, for a receiver taking a sender's message: pops the oldest
    /// sender and moves its message into `dst` (which is empty). Caller
    /// holds the channel's lock and must call [`Completion::finish`].
    pub(crate) fn pop_sender_into(&mut self, dst: &mut Slot<T>) -> Option<Completion<T>> {
        self.pop_sender_with(|slot| slot.move_to(dst))
    }

    /// Step 2, for a receiver that moves the oldest blocked sender's message
    /// somewhere of its choosing (`take` moves it out of the sender's slot,
    /// e.g. straight into a buffer cell: no message-sized temporary).
    /// Caller holds the channel's lock and must call [`Completion::finish`].
    pub(crate) fn pop_sender_with(
        &mut self,
        take: impl FnOnce(&mut Slot<T>),
    ) -> Option<Completion<T>> {
        let w = self.queue.pop_front()?;
        // SAFETY: a queued waiter is WAITING, so it and the slot it points
        // to are valid (module protocol), and under the lock we are the only
        // one touching that slot.
        take(unsafe { &mut *w.as_ref().slot.as_ptr() });
        Some(Completion { waiter: w })
    }

    /// Step 2, for a sender delivering to a blocked receiver: pops the
    /// oldest receiver and moves the message from `src` into its slot.
    /// Returns `None` (and leaves `src` alone) if no receiver waits. Caller
    /// holds the lock and must call [`Completion::finish`].
    pub(crate) fn pop_receiver_from(&mut self, src: &mut Slot<T>) -> Option<Completion<T>> {
        let w = self.queue.pop_front()?;
        // SAFETY: as in `pop_sender_into`; the receiver's slot is empty.
        unsafe { src.move_to(&mut *w.as_ref().slot.as_ptr()) };
        Some(Completion { waiter: w })
    }

    /// Pops every waiter, to be finished as CLOSED (a closing channel).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Completion<T>> + '_ {
        self.queue.drain(..).map(|waiter| Completion { waiter })
    }
}

/// A waiter popped from its queue whose operation is settled; it must be
/// finished under the lock, and the returned unparker used after unlocking.
#[must_use]
pub(crate) struct Completion<T> {
    waiter: NonNull<Waiter<T>>,
}

impl<T> Completion<T> {
    /// Publishes `state` (DONE or CLOSED) and returns the owner's unparker.
    /// The waiter must not be touched afterwards (module protocol step 2).
    pub(crate) fn finish(self, state: u8) -> Unparker {
        // SAFETY: the waiter was popped under the lock we still hold and is
        // still WAITING, so it is valid; nobody else touches its unparker.
        let w = unsafe { self.waiter.as_ref() };
        // SAFETY: as above.
        let u = w.unparker.with_mut(|u| unsafe { (*u).take() });
        w.state.store(state, Ordering::Release);
        u.expect("a waiting party has an unparker")
    }
}
