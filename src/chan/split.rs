//! A buffered channel's queue, split in two halves so that a plain send
//! can skip the channel's lock: the protocol shared by the ring of
//! `bounded(n)` from `buffer::SPLIT_MIN_CAP` cells on (`ring.rs`; smaller
//! rings stay whole, `small.rs`) and the block list of `unbounded()`
//! (`list.rs`), which only say where a message's cell is ([`Cells`]).
//!
//! * [`Back`], the senders' half, on the heap: its own small lock over the
//!   tail position ([`Tail`]), the count of messages pushed, and the `fast`
//!   flag. While `fast` is set, a plain send takes only this lock
//!   ([`Back::push_fast`]); otherwise it goes through the channel's lock and
//!   pushes from under it ([`Queue::push_locked`]).
//! * [`Queue`], the receivers' half, in the channel's locked state: the
//!   head position and how many messages are known to follow it.
//!
//! With one lock for everything, four senders and a receiver on OS threads
//! fought for one cache line and a preempted holder stalled them all
//! (1.25x crossbeam-channel's time on `unbounded/mpsc`; `bounded_n/spsc`
//! spent 40% of its time spinning on the lock); now receivers take the
//! channel's lock, senders take theirs, and neither waits for the other.
//!
//! # Invariants
//!
//! 1. Lock order: the channel's lock, then `Back::tail`; never the reverse.
//! 2. `Tail::fast` implies that the channel is open (neither closed nor
//!    without receivers), that no waiter of any kind is queued in its
//!    `recvq` or `sendq`, and that no cell is reserved for a selecting
//!    sender (`pending_send`). It is set only under both locks, by a push
//!    made under the channel's lock when all that holds
//!    ([`Queue::push_locked`] with `reopen`). It is cleared under both
//!    locks: by a receive that finds the queue empty ([`Queue::pop_into`],
//!    [`Queue::is_ready`]), which every receive does under the same hold
//!    of the channel's lock before it queues a waiter; by a sender about
//!    to queue a waiter or to reserve a cell
//!    ([`Queue::stop_fast`], [`Queue::reserve`]); by `close` and by the
//!    last receiver's drop. So a push without the channel's lock can never
//!    leave a message beside a parked receiver (either it comes first under
//!    `tail` and the receive sees it, or the receive comes first and the
//!    sender finds `fast` cleared and meets the waiter under the channel's
//!    lock), nor take a cell that a pop freed for a blocked or selecting
//!    sender.
//! 3. The messages are `Back::pushed - Back::popped` cells from the head
//!    position on. A cell is written only under `tail`, before the
//!    `pushed` store (release) that publishes it; a receiver reads it only
//!    after loading a `pushed` past it (acquire), under the channel's lock,
//!    and publishes its reuse with the `popped` store (release) that a
//!    sender loads (acquire) before writing the cell again.

use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use super::lock::Lock;
use super::slot::Slot;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Where a queue's messages live: which cell the next push fills and the
/// next pop empties (invariant 3 says when each may be touched).
pub(crate) trait Cells<T> {
    /// The senders' position, kept under `Back::tail`.
    type Tail;
    /// The receivers' position, kept under the channel's lock.
    type Head;

    fn start(&self) -> (Self::Tail, Self::Head);

    /// How many cells there are; `None`: as many as pushed.
    fn capacity(&self) -> Option<usize>;

    /// The cell the next push fills (it holds no message), the tail moved
    /// past it.
    ///
    /// # Safety
    /// Called under `Back::tail` with fewer than `capacity` messages
    /// queued, counting every cell a receiver has not published as freed.
    unsafe fn push_cell(&self, tail: &mut Self::Tail) -> *mut T;

    /// The cell of the oldest message, the head moved past it.
    ///
    /// # Safety
    /// Called under the channel's lock, with a message published there
    /// (invariant 3).
    unsafe fn pop_cell(&self, head: &mut Self::Head) -> *mut T;

    /// Drops the `n` messages from `head` on, then frees the storage.
    ///
    /// # Safety
    /// Called once, by the queue's drop, with nothing else using the cells;
    /// `n` messages are queued from `head`.
    unsafe fn drop_all(&mut self, head: &Self::Head, n: usize);
}

/// The senders' half, guarded by [`Back::tail`].
struct Tail<P> {
    pos: P,
    /// Messages pushed so far (mirrored in `Back::pushed`).
    pushed: usize,
    /// `Back::popped` as last read: a bounded queue rereads it only when it
    /// looks full.
    popped_seen: usize,
}

/// The senders' line of a [`Back`]: their lock, and beside it `fast`.
struct TailLine<P> {
    lock: Lock<Tail<P>>,
    /// Whether a plain send may push without the channel's lock
    /// (invariant 2). Written only under both locks, so a holder of either
    /// reads it exactly: a sender under `lock` (after a first look without
    /// it, a hint that spares the lock when it is clear), a holder of the
    /// channel's lock without `lock`.
    fast: AtomicBool,
}

/// The senders' half of a buffered queue, shared by every handle of the
/// channel (owned by its [`Queue`]).
///
/// Each field on a line of its own (`repr(C)`, each padded): the cells,
/// which both sides read on every operation and nobody writes (a ring's
/// pointer and size; a list's first and spare blocks, touched once per
/// block); the receivers' `popped`; the senders' lock, which receivers
/// take only before they wait; and `pushed`, which receivers read when
/// they run out of known messages. On one line, a single sender and
/// receiver stalled on each other's writes (60% of a bounded spsc's
/// samples on two loads).
#[repr(C)]
pub(crate) struct Back<T, C: Cells<T>> {
    cells: CachePadded<C>,
    /// Messages popped so far: written by receivers under the channel's
    /// lock, read by senders (when the queue looks full) and `len`.
    popped: CachePadded<AtomicUsize>,
    tail: CachePadded<TailLine<C::Tail>>,
    /// `Tail::pushed`, published after each push (release, invariant 3).
    pushed: CachePadded<AtomicUsize>,
    _msgs: std::marker::PhantomData<T>,
}

impl<T, C: Cells<T>> Back<T, C> {
    /// Pushes the message in `src` if a plain send may skip the channel's
    /// lock (invariant 2) and there is room; `false` leaves it there for
    /// the locked path.
    #[inline]
    pub(crate) fn push_fast(&self, src: &mut Slot<T>) -> bool {
        if !self.tail.fast.load(Ordering::Relaxed) {
            return false;
        }
        let mut t = self.tail.lock.lock();
        if !self.tail.fast.load(Ordering::Relaxed) || !self.has_room(&mut t, 0) {
            return false;
        }
        self.push(&mut t, src);
        true
    }

    /// Whether `reserved` cells more than the queued messages leave room
    /// for one, rereading `popped` only if the last look says no.
    #[inline(always)]
    fn has_room(&self, t: &mut Tail<C::Tail>, reserved: usize) -> bool {
        let Some(cap) = self.cells.capacity() else {
            return true;
        };
        if t.pushed - t.popped_seen + reserved < cap {
            return true;
        }
        t.popped_seen = self.popped.load(Ordering::Acquire);
        t.pushed - t.popped_seen + reserved < cap
    }

    /// Moves `src`'s message into the next cell, under `tail`, with room.
    #[inline(always)]
    fn push(&self, t: &mut Tail<C::Tail>, src: &mut Slot<T>) {
        // SAFETY: under `tail`, with room (the callers checked): the cell
        // is free (invariant 3).
        unsafe { src.move_into(self.cells.push_cell(&mut t.pos)) };
        t.pushed += 1;
        self.pushed.store(t.pushed, Ordering::Release);
    }

    /// Messages queued, without any lock (a hint: stale at once).
    pub(crate) fn len(&self) -> usize {
        // Popped first: it never passes what `pushed` was when read.
        let popped = self.popped.load(Ordering::Acquire);
        self.pushed.load(Ordering::Acquire).saturating_sub(popped)
    }
}

/// A buffered queue as the channel's locked state holds it: the receivers'
/// half, and the senders' half it owns.
pub(crate) struct Queue<T, C: Cells<T>> {
    /// Freed by `Drop`, after which no handle of the channel is left.
    back: NonNull<Back<T, C>>,
    head: C::Head,
    /// Messages known to be queued from `head` on, from the last look at
    /// `Back::pushed` (so a receive reads the senders' line only when it
    /// runs out).
    known: usize,
}

// SAFETY: a `Queue` owns its cells and the `T`s in them, like a `Vec<T>`;
// the `Back` it points to is shared only with the senders of its own
// channel, through its lock and atomics.
unsafe impl<T: Send, C: Cells<T>> Send for Queue<T, C> {}

impl<T, C: Cells<T>> Queue<T, C> {
    pub(crate) fn new(cells: C) -> Queue<T, C> {
        let (pos, head) = cells.start();
        let back = Box::new(Back {
            cells: CachePadded::new(cells),
            popped: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(TailLine {
                lock: Lock::new(Tail {
                    pos,
                    pushed: 0,
                    popped_seen: 0,
                }),
                fast: AtomicBool::new(true),
            }),
            pushed: CachePadded::new(AtomicUsize::new(0)),
            _msgs: std::marker::PhantomData,
        });
        Queue {
            back: NonNull::from(Box::leak(back)),
            head,
            known: 0,
        }
    }

    /// The senders' half, for the channel's lock-free path.
    pub(crate) fn back_ptr(&self) -> NonNull<Back<T, C>> {
        self.back
    }

    /// The cells and the receivers' position (for tests of a flavor's
    /// cells).
    #[cfg(test)]
    pub(crate) fn parts(&self) -> (&C, &C::Head) {
        (&self.back_ref().cells, &self.head)
    }

    /// The senders' half.
    pub(crate) fn back_ref(&self) -> &Back<T, C> {
        // SAFETY: the `Back` lives until `self` drops.
        unsafe { self.back.as_ref() }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.back_ref().cells.capacity()
    }

    /// Messages queued (exact under the channel's lock, but for pushes
    /// racing it).
    pub(crate) fn len(&self) -> usize {
        self.back_ref().len()
    }

    /// Whether a push would find no room once `reserved` more cells are
    /// taken. Under the channel's lock (no pop can race it).
    #[inline]
    pub(crate) fn is_full_with(&self, reserved: usize) -> bool {
        self.capacity()
            .is_some_and(|cap| self.len() + reserved >= cap)
    }

    /// Moves the message in `src` to the tail, from under the channel's
    /// lock, if there is room; `false` leaves it there. The caller checked
    /// `!is_full_with(reserved)`, but while `fast` is set a plain send may
    /// have taken the last cell since, so room is checked again under
    /// `tail`. `reopen`: the channel is open and nobody waits or holds a
    /// reservation, so plain sends may skip the channel's lock again
    /// (invariant 2).
    #[must_use]
    pub(crate) fn push_locked(&self, src: &mut Slot<T>, reopen: bool) -> bool {
        let back = self.back_ref();
        let mut t = back.tail.lock.lock();
        if !back.has_room(&mut t, 0) {
            return false;
        }
        if back.tail.fast.load(Ordering::Relaxed) != reopen {
            back.tail.fast.store(reopen, Ordering::Relaxed);
        }
        back.push(&mut t, src);
        true
    }

    /// Reserves a cell for a selecting sender if there is room beside the
    /// `reserved` ones, clearing `fast` (invariant 2) so that no plain send
    /// takes it. Under the channel's lock.
    pub(crate) fn reserve(&self, reserved: usize) -> bool {
        let back = self.back_ref();
        let mut t = back.tail.lock.lock();
        if !back.has_room(&mut t, reserved) {
            return false;
        }
        back.tail.fast.store(false, Ordering::Relaxed);
        true
    }

    /// Clears `fast`: from now on plain sends take the channel's lock,
    /// which the caller holds (it is about to queue a sender, or closes
    /// the channel, or lost its last receiver).
    pub(crate) fn stop_fast(&self) {
        let back = self.back_ref();
        if back.tail.fast.load(Ordering::Relaxed) {
            let _t = back.tail.lock.lock();
            back.tail.fast.store(false, Ordering::Relaxed);
        }
    }

    /// Under the channel's lock: if the queue is empty, clears `fast` and
    /// returns `true` (invariant 2: a receiver may be queued now); `false`
    /// if a message arrived.
    fn stop_fast_if_empty(back: &Back<T, C>) -> bool {
        let popped = back.popped.load(Ordering::Relaxed);
        if back.pushed.load(Ordering::Acquire) != popped {
            return false;
        }
        if !back.tail.fast.load(Ordering::Relaxed) {
            // Already clear, and only we (holding the channel's lock) could
            // set it: nothing is pushed meanwhile.
            return true;
        }
        let t = back.tail.lock.lock();
        if t.pushed != popped {
            return false;
        }
        back.tail.fast.store(false, Ordering::Relaxed);
        true
    }

    /// Whether a receive would find a message; if not, clears `fast`
    /// (invariant 2), as a receive that may queue a waiter next must.
    pub(crate) fn is_ready(&self) -> bool {
        self.known > 0 || !Self::stop_fast_if_empty(self.back_ref())
    }

    /// Moves the oldest message into the empty `dst`; `false` if empty,
    /// with `fast` cleared (invariant 2). Clearing it on every empty look,
    /// not only right before a waiter is queued, also paces a receiver
    /// that keeps up with its sender: polling `pushed` for each message
    /// moved that line between cores per message (bounded spsc on OS
    /// threads, 5M messages: 62-114 ns a message instead of 29-38).
    #[inline]
    pub(crate) fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        // SAFETY: the `Back` lives until `self` drops; not through
        // `back_ref`, whose borrow would cover `self`.
        let back = unsafe { self.back.as_ref() };
        // Only receivers, under the channel's lock, write it.
        let popped = back.popped.load(Ordering::Relaxed);
        while self.known == 0 {
            self.known = back.pushed.load(Ordering::Acquire) - popped;
            if self.known == 0 && Self::stop_fast_if_empty(back) {
                return false;
            }
        }
        // SAFETY: under the channel's lock with a message published at
        // the head (the acquire load of `pushed`, invariant 3); it is
        // moved out, and the cell freed by the `popped` store after.
        unsafe { dst.move_from(back.cells.pop_cell(&mut self.head)) };
        self.known -= 1;
        back.popped.store(popped + 1, Ordering::Release);
        true
    }
}

impl<T, C: Cells<T>> Drop for Queue<T, C> {
    fn drop(&mut self) {
        // SAFETY: no handle of the channel is left, so nothing else
        // touches the `Back`; it came from `Box::leak` in `new`.
        let mut back = unsafe { Box::from_raw(self.back.as_ptr()) };
        let n = back.len();
        // SAFETY: exclusive; `n` messages are queued from `head`.
        unsafe { back.cells.drop_all(&self.head, n) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::ring::RingCells;
    use super::*;

    type Ring<T> = Queue<T, RingCells<T>>;

    fn fast(q: &Ring<u8>, v: u8) -> bool {
        let mut s = Slot::new(v);
        let pushed = q.back_ref().push_fast(&mut s);
        assert_eq!(pushed, s.take_if_full().is_none());
        pushed
    }

    fn pop(q: &mut Ring<u8>) -> Option<u8> {
        let mut s = Slot::empty();
        q.pop_into(&mut s).then(|| s.take())
    }

    /// Plain sends skip the channel's lock only while invariant 2 allows:
    /// an empty look by a receiver stops them until a push under the lock
    /// with `reopen` starts them again; a reservation or a queued sender
    /// (`stop_fast`) stops them too; a full ring turns them away.
    #[test]
    fn plain_sends_skip_the_lock_only_while_nobody_may_wait() {
        let mut q = Ring::new(RingCells::new(2));
        assert!(fast(&q, 1), "open and nobody waits");
        assert!(fast(&q, 2));
        assert!(!fast(&q, 3), "full");
        assert!(q.is_full_with(0));
        assert_eq!(pop(&mut q), Some(1));
        assert!(fast(&q, 3), "room again: the sender rereads `popped`");
        assert_eq!(pop(&mut q), Some(2));
        assert_eq!(pop(&mut q), Some(3));
        assert_eq!(pop(&mut q), None);
        assert!(!fast(&q, 4), "a receiver may wait now");
        assert!(q.push_locked(&mut Slot::new(4), false));
        assert!(!fast(&q, 5), "not reopened");
        assert!(q.push_locked(&mut Slot::new(5), true));
        assert!(!q.push_locked(&mut Slot::new(6), true), "full");
        assert_eq!(pop(&mut q), Some(4));
        assert!(q.is_ready());
        assert!(q.reserve(0), "one cell free");
        assert!(!q.reserve(1), "that cell is reserved");
        assert!(!fast(&q, 6), "a reserved cell is not for plain sends");
        assert!(q.push_locked(&mut Slot::new(6), true));
        assert_eq!(q.len(), 2);
        assert_eq!(pop(&mut q), Some(5));
        assert!(fast(&q, 7));
        q.stop_fast();
        assert!(!fast(&q, 8), "stopped");
        assert_eq!(pop(&mut q), Some(6));
        assert_eq!(pop(&mut q), Some(7));
        assert_eq!(pop(&mut q), None);
        assert!(!q.is_ready());
    }

    /// Messages left in a ring that wrapped are each dropped once with it.
    #[test]
    fn a_dropped_queue_drops_what_it_holds() {
        use std::rc::Rc;
        let rc = Rc::new(());
        let mut q: Queue<Rc<()>, RingCells<Rc<()>>> = Queue::new(RingCells::new(3));
        for round in 0..8 {
            assert!(q.push_locked(&mut Slot::new(rc.clone()), true), "{round}");
            if round >= 2 {
                let mut s = Slot::empty();
                assert!(q.pop_into(&mut s));
            }
        }
        assert_eq!(Rc::strong_count(&rc), 1 + 2);
        drop(q);
        assert_eq!(Rc::strong_count(&rc), 1);
    }
}
