//! The three flavors of channel buffer, dispatched by one enum (the wait
//! queues and the close protocol are shared, in `channel.rs`):
//!
//! * `Zero`: no buffer (`bounded(0)`); every send is a rendezvous with a
//!   receiver.
//! * `Array`: a ring of fixed capacity (`bounded(n)`, n >= 1), allocated
//!   once.
//! * `List`: unbounded (`unbounded()`): a FIFO of fixed-size blocks
//!   (`list.rs`), whose senders' half lives outside the channel's lock
//!   so that a plain send can skip it. Messages never move once buffered
//!   (a doubling ring copied every message on each growth and faulted in
//!   fresh pages for the bigger allocations: 1.5x crossbeam-channel's time
//!   for 200,000 messages through one thread), and a channel that once
//!   held a million messages holds at most two blocks when drained.
//!
//! Ring indices wrap by a compare and a subtraction, never a division
//! (a 64-bit `%` alone cost more than the rest of a push).
//!
//! Messages move in and out of either buffer with byte copies from and to
//! [`Slot`]s, never through a message-sized temporary. Accessed only under
//! the channel's lock (a `List`'s senders' half also without it, see
//! `list.rs`).

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use super::list::{Back, List};
use super::slot::Slot;

/// `i` wrapped into `0..cap`, for `i < 2 * cap`.
#[inline]
fn wrap(i: usize, cap: usize) -> usize {
    if i >= cap { i - cap } else { i }
}

/// `repr(u8)`: the tag is the first byte (the channel's layout relies on
/// it, see `channel::Channel`).
#[repr(u8)]
pub(crate) enum Buffer<T> {
    Zero,
    Array(Ring<T>),
    List(List<T>),
}

/// A ring of `cells.len()` cells; `len` of them, from `head`, hold values.
pub(crate) struct Ring<T> {
    cells: Box<[MaybeUninit<T>]>,
    head: usize,
    len: usize,
}

impl<T> Ring<T> {
    fn with_capacity(cap: usize) -> Ring<T> {
        Ring {
            cells: Box::new_uninit_slice(cap),
            head: 0,
            len: 0,
        }
    }

    fn cap(&self) -> usize {
        self.cells.len()
    }

    /// Moves the message out of `src` into the tail; the caller checked
    /// there is room.
    #[inline]
    fn push_from(&mut self, src: &mut Slot<T>) {
        assert!(self.len < self.cap());
        let i = wrap(self.head + self.len, self.cap());
        // SAFETY: cell `i` is past the `len` live cells, so it holds no value.
        unsafe { src.move_into(self.cells[i].as_mut_ptr()) };
        self.len += 1;
    }

    /// Moves the head's message into the empty `dst`.
    #[inline]
    fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        if self.len == 0 {
            return false;
        }
        let i = self.head;
        // SAFETY: the head cell holds a value; we move it out and retire
        // the cell just below.
        unsafe { dst.move_from(self.cells[i].as_ptr()) };
        self.head = wrap(self.head + 1, self.cap());
        self.len -= 1;
        true
    }
}

impl<T> Ring<T> {
    /// A full ring holding `msgs` in order (at least one cell).
    fn from_vec(msgs: Vec<T>) -> Ring<T> {
        let mut ring = Ring::with_capacity(msgs.len().max(1));
        for (cell, msg) in ring.cells.iter_mut().zip(msgs) {
            cell.write(msg);
            ring.len += 1;
        }
        ring
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for k in 0..self.len {
            let i = wrap(self.head + k, self.cap());
            // SAFETY: the `len` cells from `head` are live; each dropped once.
            unsafe { self.cells[i].assume_init_drop() };
        }
    }
}

impl<T> Buffer<T> {
    pub(crate) fn bounded(cap: usize) -> Buffer<T> {
        if cap == 0 {
            Buffer::Zero
        } else {
            Buffer::Array(Ring::with_capacity(cap))
        }
    }

    pub(crate) fn unbounded() -> Buffer<T> {
        Buffer::List(List::new())
    }

    /// `None` for unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        match self {
            Buffer::Zero => Some(0),
            Buffer::Array(r) => Some(r.cap()),
            Buffer::List(_) => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Buffer::Zero => 0,
            Buffer::Array(r) => r.len,
            Buffer::List(l) => l.len(),
        }
    }

    /// Whether a push would find no room (the channel also counts cells
    /// reserved by selecting senders).
    #[cfg(test)]
    pub(crate) fn is_full(&self) -> bool {
        self.is_full_with(0)
    }

    /// Whether a push would find no room once `reserved` more cells are
    /// taken (one match: this is on every send's path).
    #[inline]
    pub(crate) fn is_full_with(&self, reserved: usize) -> bool {
        match self {
            Buffer::Zero => true,
            Buffer::Array(r) => r.len + reserved >= r.cap(),
            Buffer::List(_) => false,
        }
    }

    /// Moves the message in `src` to the tail; the caller checked
    /// `!is_full()`.
    #[inline(always)]
    pub(crate) fn push_from(&mut self, src: &mut Slot<T>) {
        match self {
            Buffer::Zero => unreachable!("push to a zero-capacity buffer"),
            Buffer::Array(r) => r.push_from(src),
            // Pushed from under the channel's lock, which only happens
            // with no receiver queued and the channel open.
            Buffer::List(b) => b.back_ref().push_locked(src),
        }
    }

    /// Moves the head message into the empty `dst`; `false` if empty.
    #[inline(always)]
    pub(crate) fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        match self {
            Buffer::Zero => false,
            Buffer::Array(r) => r.pop_into(dst),
            Buffer::List(b) => b.pop_into(dst),
        }
    }

    /// Takes every buffered message out (to drop them outside the lock),
    /// leaving an empty buffer (a ring of up to `TAKEN_RING_CELLS`, or the
    /// same list: nothing is pushed once the last receiver is gone, the
    /// only caller's case).
    pub(crate) fn take_all(&mut self) -> Buffer<T> {
        let empty = match self {
            Buffer::Zero => Buffer::Zero,
            Buffer::Array(r) => Buffer::Array(Ring::with_capacity(r.cap().min(TAKEN_RING_CELLS))),
            Buffer::List(l) => return Buffer::Array(Ring::from_vec(l.take_all())),
        };
        std::mem::replace(self, empty)
    }

    /// Whether a receive would find a message. A list that has none also
    /// stops plain sends from skipping the channel's lock, since the
    /// caller may queue a receiver next (`list.rs`, invariant 2).
    pub(crate) fn is_ready_to_recv(&self) -> bool {
        match self {
            Buffer::List(l) => l.is_ready(),
            _ => self.len() > 0,
        }
    }

    /// The channel is closing (or lost its last receiver): a list's plain
    /// sends take the channel's lock from now on, and so see it.
    pub(crate) fn stop_fast(&self) {
        if let Buffer::List(l) = self {
            l.back_ref().stop_fast();
        }
    }

    /// A list's senders' half, which lives as long as the buffer.
    pub(crate) fn list_back(&self) -> Option<NonNull<Back<T>>> {
        match self {
            Buffer::List(l) => Some(l.back_ptr()),
            _ => None,
        }
    }
}

/// The ring `Buffer::take_all` leaves behind.
const TAKEN_RING_CELLS: usize = 32;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::list::block_cells;
    use super::*;

    fn push<T>(b: &mut Buffer<T>, v: T) {
        b.push_from(&mut Slot::new(v));
    }

    fn pop<T>(b: &mut Buffer<T>) -> Option<T> {
        let mut s = Slot::empty();
        b.pop_into(&mut s).then(|| s.take())
    }

    /// FIFO order holds while the queue crosses blocks at every offset
    /// (three-cell values: 1024 to a block, not a divisor of the waves).
    #[test]
    fn list_keeps_fifo_across_blocks() {
        let mut b = Buffer::unbounded();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u32;
        let cell = |v: u32| [v as u8, (v >> 8) as u8, (v >> 16) as u8];
        // Waves: push three, pop two until large, then pop three, push
        // one until small, so blocks are appended and retired at every
        // head position.
        for wave in 0..6 {
            for _ in 0..3000 {
                let (pushes, pops) = if wave % 2 == 0 { (3, 2) } else { (1, 3) };
                for _ in 0..pushes {
                    push(&mut b, cell(next));
                    model.push_back(cell(next));
                    next += 1;
                }
                for _ in 0..pops {
                    assert_eq!(pop(&mut b), model.pop_front());
                }
            }
        }
        while let Some(v) = model.pop_front() {
            assert_eq!(pop(&mut b), Some(v));
        }
        assert_eq!(pop(&mut b), None);
    }

    /// Values left in a list spanning several blocks are each dropped once.
    #[test]
    fn list_drops_values_left_across_blocks() {
        use std::rc::Rc;
        let rc = Rc::new(());
        let mut b = Buffer::unbounded();
        let n = 3 * block_cells::<Rc<()>>() + 5;
        for _ in 0..n {
            push(&mut b, rc.clone());
        }
        for _ in 0..block_cells::<Rc<()>>() + 2 {
            assert!(pop(&mut b).is_some());
        }
        assert_eq!(Rc::strong_count(&rc), 1 + n - block_cells::<Rc<()>>() - 2);
        drop(b);
        assert_eq!(Rc::strong_count(&rc), 1);
    }

    proptest::proptest! {
        /// Random runs of pushes and pops against a `VecDeque`, with values
        /// that count their drops (48-byte cells: 64 to a block, so a run
        /// crosses blocks, drains and refills them at every offset): the
        /// same values come out in the same order, and each one pushed is
        /// dropped exactly once, the ones left in the buffer by its `Drop`.
        #[test]
        fn list_matches_a_vecdeque(ops in proptest::collection::vec((0usize..200, 0usize..200), 0..40)) {
            use std::rc::Rc;
            let drops = Rc::new(());
            let mut b = Buffer::unbounded();
            let mut model = std::collections::VecDeque::new();
            let mut next = 0u64;
            for (pushes, pops) in ops {
                for _ in 0..pushes {
                    push(&mut b, (next, drops.clone(), [0u64; 3]));
                    model.push_back(next);
                    next += 1;
                }
                for _ in 0..pops {
                    proptest::prop_assert_eq!(pop(&mut b).map(|v| v.0), model.pop_front());
                }
                proptest::prop_assert_eq!(b.len(), model.len());
            }
            proptest::prop_assert_eq!(Rc::strong_count(&drops), 1 + model.len());
            drop(b);
            proptest::prop_assert_eq!(Rc::strong_count(&drops), 1);
        }
    }

    #[test]
    fn rings_wrap_around_an_odd_capacity() {
        let mut b = Buffer::bounded(7);
        let mut next = 0u32;
        for k in 0..100u32 {
            // Fill to a varying level, then drain, so head and tail cross
            // the end of the ring at every offset.
            let n = 1 + k % 7;
            for i in 0..n {
                push(&mut b, k * 100 + i);
            }
            for i in 0..n {
                assert_eq!(pop(&mut b), Some(k * 100 + i));
                next += 1;
            }
        }
        assert_eq!(next, (0..100).map(|k| 1 + k % 7).sum());
        assert_eq!(pop(&mut b), None);
    }

    #[test]
    fn array_is_bounded_fifo_and_zero_is_always_full() {
        let mut b = Buffer::bounded(2);
        assert!(!b.is_full());
        push(&mut b, 1);
        push(&mut b, 2);
        assert!(b.is_full());
        assert_eq!(pop(&mut b), Some(1));
        push(&mut b, 3);
        assert_eq!(pop(&mut b), Some(2));
        assert_eq!(pop(&mut b), Some(3));
        assert_eq!(pop(&mut b), None);
        assert_eq!(Buffer::<u8>::bounded(0).capacity(), Some(0));
        assert!(Buffer::<u8>::bounded(0).is_full());
    }

    #[test]
    fn buffered_values_are_dropped_once() {
        use std::rc::Rc;
        let rc = Rc::new(());
        let mut b = Buffer::unbounded();
        for _ in 0..100 {
            b.push_from(&mut Slot::new(rc.clone()));
        }
        let mut s = Slot::empty();
        assert!(b.pop_into(&mut s));
        drop(s);
        assert_eq!(Rc::strong_count(&rc), 100);
        drop(b);
        assert_eq!(Rc::strong_count(&rc), 1);
    }
}
