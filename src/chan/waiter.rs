//! Blocked channel operations (Go's `sudog`), the FIFO queues of them, and
//! the rendezvous a receiver uses with a selecting sender.
//!
//! A blocked party (a plain `send`/`recv`, or a `select` waiting on all its
//! cases at once) owns one [`WaitCell`] on its stack: a state word and its
//! unparker. It queues one [`Waiter`] per operation, each pointing at the
//! cell, its case number, and its message slot (a sender's message, or
//! where a receiver's message goes). A `select`'s send case has no slot:
//! its value is built only once that case is chosen (DESIGN.md). A message
//! never moves into a waiter: it moves once, from the sender's slot to its
//! destination, which keeps large messages off small stacks.
//!
//! # Protocol
//!
//! 1. The owner pushes its waiters under each channel's lock, unlocks, and
//!    parks until the cell's state is *final*.
//! 2. A peer holding a channel's lock pops a waiter and **claims** the cell
//!    (CAS `WAITING -> CLAIMED`). If the claim fails, the cell was already
//!    claimed through another channel or abandoned: the waiter is stale,
//!    and the peer drops it from the queue and looks at the next. Once it
//!    holds the claim it alone may touch the waiter's slot; it moves the
//!    message, takes the unparker, and publishes a final state
//!    (`DONE`/`CLOSED`/`RETRY`/`PAIRED` with the case number) with release
//!    ordering. After that store it never touches the waiter again. It
//!    wakes the owner after unlocking. A peer usually settles the claim
//!    before unlocking; a `select` that claimed a waiter while polling
//!    settles it after unlocking, once its chosen case completes.
//! 3. An owner that stops waiting on its own (a deadline, or an unwind at
//!    shutdown) **abandons** the cell (CAS `WAITING -> ABANDONED`). If that
//!    fails, a peer holds the claim and will settle it: the owner waits for
//!    the final state (uncancellably: its slot may still be written).
//! 4. Whatever the final state, the owner then takes its remaining waiters
//!    out of their queues, under each lock, before its frame may die.
//!    Stale waiters are therefore valid while queued.
//!
//! `RETRY` tells the owner to start its operation again: a selecting
//! sender on a buffered channel whose buffer now has room, or a waiter
//! whose claimer gave up (a select that unwound before completing).
//! `PAIRED` is for a selecting sender claimed by a receiver: the receiver
//! left a [`Rendezvous`] in the cell and waits for the sender to build its
//! value and deliver it there.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::slot::Slot;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use crate::runtime::parking::{self, Unparker};

/// Queued, nobody has claimed it.
pub(crate) const WAITING: usize = 0;
/// A peer claimed it and will settle it.
pub(crate) const CLAIMED: usize = 1;
/// The owner gave up first.
pub(crate) const ABANDONED: usize = 2;
/// Final: a peer completed the operation of the case.
pub(crate) const DONE: usize = 3;
/// Final: the channel of the case closed (or lost its last receiver).
pub(crate) const CLOSED: usize = 4;
/// Final: start the operation again.
pub(crate) const RETRY: usize = 5;
/// Final: a receiver waits at the cell's rendezvous for this send case.
pub(crate) const PAIRED: usize = 6;
/// Final: a buffer cell is reserved for this (selecting) send case, which
/// completes into it (`Channel::complete_send`), keeping its turn.
pub(crate) const RESERVED: usize = 7;

const KIND_BITS: u32 = 3;

/// A final state: `kind` for case `case`.
fn settled(kind: usize, case: usize) -> usize {
    (case << KIND_BITS) | kind
}

/// The kind of a state (`WAITING`..`PAIRED`).
pub(crate) fn kind(state: usize) -> usize {
    state & ((1 << KIND_BITS) - 1)
}

/// The case number of a final state.
pub(crate) fn case(state: usize) -> usize {
    state >> KIND_BITS
}

/// Whether a state is final (the owner may proceed).
pub(crate) fn is_final(state: usize) -> bool {
    !matches!(kind(state), WAITING | CLAIMED)
}

/// The blocked party's side of the protocol: one per blocked call.
pub(crate) struct WaitCell {
    state: AtomicUsize,
    /// Whether the owner is a green thread (else a plain OS thread), as
    /// its unparker says; set once, at creation.
    green: bool,
    /// Taken by the claimer when it settles the cell.
    unparker: UnsafeCell<Option<Unparker>>,
    /// Set by the claimer before a `PAIRED` state.
    paired: UnsafeCell<*const Rendezvous>,
}

impl WaitCell {
    #[inline(always)]
    pub(crate) fn new() -> WaitCell {
        let unparker = Unparker::current();
        WaitCell {
            state: AtomicUsize::new(WAITING),
            green: unparker.is_green(),
            unparker: UnsafeCell::new(Some(unparker)),
            paired: UnsafeCell::new(ptr::null()),
        }
    }

    /// The owner's view of the state (acquire: sees the peer's message).
    #[inline]
    pub(crate) fn state(&self) -> usize {
        self.state.load(Ordering::Acquire)
    }

    /// Step 3: gives up waiting. `true` if nobody had claimed the cell, so
    /// nobody will; else a peer settles it and the owner must wait for it.
    pub(crate) fn abandon(&self) -> bool {
        self.state
            .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The rendezvous a receiver left with a `PAIRED` state.
    pub(crate) fn paired(&self) -> *const Rendezvous {
        // SAFETY: written by the claimer before its release store of
        // `PAIRED`, which the owner read with acquire; nobody writes after.
        self.paired.with(|p| unsafe { *p })
    }

    /// Parks until the state is final or `deadline` passes; returns the
    /// state (`ABANDONED` if the deadline passed first, then nobody holds
    /// a claim). `cancellable`: a runtime shutdown may unwind the wait,
    /// which the caller's guard must handle (step 3).
    #[inline(always)]
    pub(crate) fn wait(
        &self,
        deadline: Option<std::time::Instant>,
        reason: parking::Reason,
    ) -> usize {
        // On an OS thread the peer runs elsewhere: spin a little before
        // paying for a futex sleep and wake-up (bounded; never on a green
        // thread, whose peer may be waiting for this worker).
        #[cfg(not(loom))]
        if !self.green {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() && !is_final(self.state()) {
                backoff.snooze();
            }
        }
        let mut deadline = deadline;
        // Under loom the clock is not modelled: a near deadline (under a
        // minute away) passes after the first (spurious) timed wake-up, a
        // far one never, so models explore giving up after queueing
        // deterministically.
        let mut parked = false;
        let passed = |d: std::time::Instant, parked: bool| {
            if cfg!(loom) {
                parked && d < std::time::Instant::now() + std::time::Duration::from_secs(60)
            } else {
                std::time::Instant::now() >= d
            }
        };
        loop {
            let state = self.state();
            if is_final(state) {
                return state;
            }
            match deadline {
                None => parking::park(reason),
                Some(d) => {
                    if passed(d, parked) {
                        if self.abandon() {
                            return ABANDONED;
                        }
                        // Claimed: the peer settles it soon.
                        deadline = None;
                        continue;
                    }
                    parking::park_until(d, reason);
                    parked = true;
                }
            }
        }
    }

    /// Waits for a claimed cell to be settled, never unwinding (the
    /// claimer may still write to the owner's slot).
    pub(crate) fn wait_settled(&self, reason: parking::Reason) -> usize {
        loop {
            let state = self.state();
            if is_final(state) {
                return state;
            }
            parking::park_uncancellable(reason);
        }
    }
}

/// One queued operation of a blocked party.
pub(crate) struct Waiter {
    cell: NonNull<WaitCell>,
    case: usize,
    /// The `Slot<T>` of the queue's `T`, or null for a selecting sender
    /// and for a readiness waiter.
    slot: *mut (),
    /// A readiness waiter (`Select::ready`): a peer only wakes it
    /// (`RETRY`), it takes no part in a transfer.
    notify: bool,
    /// Whether the waiter is in its queue. Like the links, touched only
    /// under the lock of the queue's channel.
    queued: Cell<bool>,
    /// The neighbours in the queue (intrusive links: see [`WaitQueue`]).
    prev: Cell<Option<NonNull<Waiter>>>,
    next: Cell<Option<NonNull<Waiter>>>,
}

impl Waiter {
    /// A waiter of `cell` for case `case` over `slot` (null: a selecting
    /// sender without a value yet). `cell` and `slot` must outlive it.
    pub(crate) fn new<T>(cell: &WaitCell, case: usize, slot: *mut Slot<T>) -> Waiter {
        Waiter {
            cell: NonNull::from(cell),
            case,
            slot: slot.cast(),
            notify: false,
            queued: Cell::new(false),
            prev: Cell::new(None),
            next: Cell::new(None),
        }
    }

    /// A readiness waiter of `cell` for case `case`.
    pub(crate) fn notify(cell: &WaitCell, case: usize) -> Waiter {
        Waiter {
            notify: true,
            ..Waiter::new::<()>(cell, case, ptr::null_mut())
        }
    }
}

/// A FIFO queue of waiters (Go's `waitq`) carrying messages of type `T`.
///
/// Intrusive, as Go's `sudog` list: a doubly linked list through the
/// waiters themselves (on their owners' stacks), so queueing allocates
/// nothing and a hand-off touches no buffer of the queue's own, one cache
/// line less to miss per operation on a cold channel. The links are valid
/// because a queued waiter is (module protocol, step 4), and touched only
/// under the channel's lock.
pub(crate) struct WaitQueue<T> {
    head: Option<NonNull<Waiter>>,
    tail: Option<NonNull<Waiter>>,
    _msg: PhantomData<T>,
}

impl<T> WaitQueue<T> {
    pub(crate) fn new() -> WaitQueue<T> {
        WaitQueue {
            head: None,
            tail: None,
            _msg: PhantomData,
        }
    }

    /// Step 1: queues a waiter.
    ///
    /// # Safety
    /// The caller holds the channel's lock; `waiter`, its cell and its slot
    /// (a `Slot<T>`) stay valid, and `waiter` does not move, until it is
    /// popped or removed (the module protocol, step 4); it is in no queue.
    pub(crate) unsafe fn push(&mut self, waiter: &Waiter) {
        debug_assert!(!waiter.queued.get(), "a waiter queued twice");
        let w = NonNull::from(waiter);
        waiter.queued.set(true);
        waiter.prev.set(self.tail);
        waiter.next.set(None);
        match self.tail {
            // SAFETY: the tail is queued, so valid (step 4).
            Some(t) => unsafe { t.as_ref() }.next.set(Some(w)),
            None => self.head = Some(w),
        }
        self.tail = Some(w);
    }

    /// Whether no waiter (not even a stale one) is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Waiters queued, stale ones included.
    #[cfg(all(test, loom))]
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    /// Every queued waiter, oldest first.
    fn iter(&self) -> impl Iterator<Item = &Waiter> {
        // SAFETY: queued waiters are valid (step 4) while `self` is
        // borrowed under the lock.
        std::iter::successors(self.head.map(|w| unsafe { w.as_ref() }), |w| {
            // SAFETY: as above.
            w.next.get().map(|n| unsafe { n.as_ref() })
        })
    }

    /// Whether a live (unclaimed) waiter with a slot is queued: a receiver
    /// a send could hand its message to.
    pub(crate) fn has_live_slot(&self) -> bool {
        self.live().any(|w| !w.slot.is_null())
    }

    /// Whether a live waiter that takes part in transfers is queued: a
    /// sender a receive could take a message from.
    pub(crate) fn has_live_transfer(&self) -> bool {
        self.live().any(|w| !w.notify)
    }

    fn live(&self) -> impl Iterator<Item = &Waiter> {
        self.iter().filter(|w| {
            // SAFETY: a queued waiter's cell is valid (step 4).
            let cell = unsafe { w.cell.as_ref() };
            cell.state.load(Ordering::Acquire) == WAITING
        })
    }

    /// Takes `waiter`, which is queued here, out of the list.
    fn unlink(&mut self, waiter: &Waiter) {
        let (prev, next) = (waiter.prev.get(), waiter.next.get());
        match prev {
            // SAFETY: a neighbour in the queue is queued, so valid.
            Some(p) => unsafe { p.as_ref() }.next.set(next),
            None => self.head = next,
        }
        match next {
            // SAFETY: as above.
            Some(n) => unsafe { n.as_ref() }.prev.set(prev),
            None => self.tail = prev,
        }
        waiter.queued.set(false);
        waiter.prev.set(None);
        waiter.next.set(None);
    }

    /// Step 4: removes a waiter if still queued. Caller holds the lock of
    /// this queue's channel, the one `waiter` was pushed to.
    pub(crate) fn remove(&mut self, waiter: &Waiter) -> bool {
        if !waiter.queued.get() {
            return false;
        }
        self.unlink(waiter);
        true
    }

    /// Step 2: pops the oldest waiter whose cell this call claims, dropping
    /// stale ones. Caller holds the lock and must settle the claim.
    pub(crate) fn pop(&mut self) -> Option<Claim<T>> {
        while let Some(w) = self.head {
            // SAFETY: a queued waiter and its cell are valid (step 4).
            let waiter = unsafe { w.as_ref() };
            self.unlink(waiter);
            // SAFETY: as above.
            let cell = unsafe { waiter.cell.as_ref() };
            if cell
                .state
                .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Some(Claim {
                    waiter: w,
                    _msg: PhantomData,
                });
            }
        }
        None
    }

    /// Pops every waiter, settling those not stale as `kind` and handing
    /// their unparkers to `wake` (a closing channel). One pass: each
    /// waiter, on its owner's stack, is touched once, while it is still in
    /// the cache (a close may reach a million of them).
    pub(crate) fn settle_all(&mut self, kind: usize, wake: impl FnMut(Unparker)) {
        self.settle_at_most(usize::MAX, kind, wake);
    }

    /// As [`WaitQueue::settle_all`] for at most `max` live waiters (stale
    /// ones are dropped on the way and not counted). `true` if waiters may
    /// remain.
    pub(crate) fn settle_at_most(
        &mut self,
        max: usize,
        kind: usize,
        mut wake: impl FnMut(Unparker),
    ) -> bool {
        for _ in 0..max {
            match self.pop() {
                Some(c) => wake(c.settle(kind)),
                None => return false,
            }
        }
        !self.is_empty()
    }
}

/// A popped waiter whose cell the holder claimed (step 2). It must be
/// settled with [`Claim::settle`] (or [`Claim::pair`]); until then the
/// owner waits and its waiter, cell and slot stay valid.
#[must_use]
pub(crate) struct Claim<T> {
    waiter: NonNull<Waiter>,
    _msg: PhantomData<T>,
}

// SAFETY: a claim is the exclusive right to settle one waiter; the owner
// waits for it, so it may be settled from another thread (a `select`
// completes a claim after unlocking, possibly elsewhere); `T: Send` as
// the message moves between threads.
unsafe impl<T: Send> Send for Claim<T> {}

impl<T> Claim<T> {
    fn waiter(&self) -> &Waiter {
        // SAFETY: claimed, so valid until settled (module protocol).
        unsafe { self.waiter.as_ref() }
    }

    /// The owner's message slot; `None` for a selecting sender (no value
    /// yet).
    pub(crate) fn slot(&mut self) -> Option<&mut Slot<T>> {
        let slot = self.waiter().slot.cast::<Slot<T>>();
        // SAFETY: the claim gives exclusive access to the owner's slot,
        // which is a `Slot<T>` (the queue's type) valid until settled.
        unsafe { slot.as_mut() }
    }

    /// Whether this is a readiness waiter (settle it `RETRY`, no transfer).
    pub(crate) fn is_notify(&self) -> bool {
        self.waiter().notify
    }

    /// The claim as a raw pointer, for a `select` that settles it later.
    pub(crate) fn into_raw(self) -> NonNull<Waiter> {
        self.waiter
    }

    /// A claim back from [`Claim::into_raw`].
    ///
    /// # Safety
    /// `w` came from `into_raw` on a `Claim<T>` of this `T`, not yet
    /// settled, and is turned back at most once.
    pub(crate) unsafe fn from_raw(w: NonNull<Waiter>) -> Claim<T> {
        Claim {
            waiter: w,
            _msg: PhantomData,
        }
    }

    /// Publishes the final state `kind` (`DONE`, `CLOSED` or `RETRY`) for
    /// the waiter's case and returns the owner's unparker, to use after
    /// unlocking. The waiter must not be touched afterwards.
    pub(crate) fn settle(self, kind: usize) -> Unparker {
        let w = self.waiter();
        let state = settled(kind, w.case);
        // SAFETY: claimed, so valid until the store below.
        let cell = unsafe { w.cell.as_ref() };
        // SAFETY: the claim makes us the only one touching the unparker.
        let u = cell.unparker.with_mut(|u| unsafe { (*u).take() });
        cell.state.store(state, Ordering::Release);
        u.expect("a waiting party has an unparker")
    }

    /// Settles a selecting sender as `PAIRED` with the receiver's
    /// rendezvous `rv`, which must stay valid until the sender delivers
    /// or fails it.
    pub(crate) fn pair(self, rv: &Rendezvous) -> Unparker {
        // SAFETY: claimed, so the cell is valid; nobody else touches
        // `paired`, which the owner reads after the release store in
        // `settle`.
        let cell = unsafe { self.waiter().cell.as_ref() };
        // SAFETY: as above.
        cell.paired.with_mut(|p| unsafe { *p = rv });
        self.settle(PAIRED)
    }
}

/// Where a receiver that claimed a selecting sender waits for the value.
pub(crate) struct Rendezvous {
    /// `PENDING` until the sender delivers or gives up.
    state: AtomicU8,
    /// The receiver's empty `Slot<T>`.
    slot: *mut (),
    unparker: UnsafeCell<Option<Unparker>>,
}

/// The sender has not delivered yet.
pub(crate) const PENDING: u8 = 0;
/// The value is in the receiver's slot.
pub(crate) const DELIVERED: u8 = 1;
/// The sender gave up (it unwound): the receiver starts over.
pub(crate) const FAILED: u8 = 2;

impl Rendezvous {
    /// A rendezvous over the receiver's empty `slot` (which outlives it).
    pub(crate) fn new<T>(slot: *mut Slot<T>) -> Rendezvous {
        Rendezvous {
            state: AtomicU8::new(PENDING),
            slot: slot.cast(),
            unparker: UnsafeCell::new(Some(Unparker::current())),
        }
    }

    /// The receiver waits (uncancellably: the sender will write to its
    /// slot) until the sender delivers or fails; returns which.
    pub(crate) fn wait(&self, reason: parking::Reason) -> u8 {
        loop {
            let s = self.state.load(Ordering::Acquire);
            if s != PENDING {
                return s;
            }
            parking::park_uncancellable(reason);
        }
    }

    /// The sender's side: moves the value from `src` into the receiver's
    /// slot and wakes it.
    ///
    /// # Safety
    /// `rv` came from a `PAIRED` state of the caller's cell for a case on
    /// a channel of `T`, and is settled at most once.
    pub(crate) unsafe fn deliver<T>(rv: *const Rendezvous, src: &mut Slot<T>) {
        // SAFETY: the receiver waits (its frame alive) until we settle.
        let rv = unsafe { &*rv };
        // SAFETY: the receiver's slot is an empty `Slot<T>` nobody else
        // touches until we settle.
        src.move_to(unsafe { &mut *rv.slot.cast::<Slot<T>>() });
        Self::settle(rv, DELIVERED);
    }

    /// The sender's side when it gives up: the receiver starts over.
    ///
    /// # Safety
    /// As for [`Rendezvous::deliver`].
    pub(crate) unsafe fn fail(rv: *const Rendezvous) {
        // SAFETY: as in `deliver`.
        Self::settle(unsafe { &*rv }, FAILED);
    }

    fn settle(rv: &Rendezvous, state: u8) {
        // SAFETY: only the settling sender touches the unparker.
        let u = rv.unparker.with_mut(|u| unsafe { (*u).take() });
        rv.state.store(state, Ordering::Release);
        if let Some(u) = u {
            u.unpark();
        }
    }
}
