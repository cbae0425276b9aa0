//! The three flavors of channel buffer, dispatched by one enum (the wait
//! queues and the close protocol are shared, in `channel.rs`):
//!
//! * `Zero`: no buffer (`bounded(0)`); every send is a rendezvous with a
//!   receiver.
//! * `Small`: a ring of fixed capacity below [`SPLIT_MIN_CAP`]
//!   (`bounded(n)`, n >= 1), allocated once and kept whole under the
//!   channel's lock (`small.rs`).
//! * `Array`: a ring of fixed capacity from [`SPLIT_MIN_CAP`] on, allocated
//!   once (`ring.rs`).
//! * `List`: unbounded (`unbounded()`): a FIFO of fixed-size blocks
//!   (`list.rs`).
//!
//! `Array` and `List` are split queues (`split.rs`): the receivers'
//! half is here, under the channel's lock; the senders' half lives beside
//! it, behind a small lock of its own, so that a plain send can skip the
//! channel's lock ([`Senders`]). Messages move in and out with byte copies
//! from and to [`Slot`]s, never through a message-sized temporary.

use std::ptr::NonNull;

use super::list::BlockCells;
use super::ring::RingCells;
use super::slot::Slot;
use super::small::Ring;
use super::split::{Back, Queue};

/// The least capacity whose channel gets a split queue. Below it a buffer
/// is full or empty most of the time and the split costs more than it
/// saves (two OS threads, one sender, 200,000 messages, median ns a
/// message whole / split / crossbeam-channel: capacity 4: 295-319 /
/// 338 / 226-260; 16: 161-167 / 151-152 / 81-123; 64: 109-110 / 62-64 /
/// 167-235; 256: 85-88 / 34-49 / 51-139).
/// Two under loom, so that `bounded(2)` models the split ring.
pub(crate) const SPLIT_MIN_CAP: usize = if cfg!(loom) { 2 } else { 16 };

/// `repr(u8)`: the tag is the first byte (the channel's layout relies on
/// it, see `channel::Channel`).
#[repr(u8)]
pub(crate) enum Buffer<T> {
    Zero,
    Small(Ring<T>),
    Array(Queue<T, RingCells<T>>),
    List(Queue<T, BlockCells<T>>),
}

/// The senders' half of a buffered channel's queue, reached without the
/// channel's lock (`split.rs`); `None` for an unbuffered or small one.
pub(crate) enum Senders<T> {
    None,
    Array(NonNull<Back<T, RingCells<T>>>),
    List(NonNull<Back<T, BlockCells<T>>>),
}

impl<T> Senders<T> {
    /// Pushes the message in `src` without the channel's lock if the queue
    /// allows it now (`split.rs`, invariant 2); `false` leaves it there.
    ///
    /// # Safety
    /// The buffer these came from is alive.
    #[inline(always)]
    pub(crate) unsafe fn push_fast(&self, src: &mut Slot<T>) -> bool {
        // SAFETY: the `Back` lives as long as its buffer (the contract).
        unsafe {
            match self {
                Senders::None => false,
                Senders::Array(b) => b.as_ref().push_fast(src),
                Senders::List(b) => b.as_ref().push_fast(src),
            }
        }
    }

    /// Messages queued, without any lock (a hint); 0 when unbuffered.
    ///
    /// # Safety
    /// As for [`Senders::push_fast`].
    pub(crate) unsafe fn len(&self) -> usize {
        // SAFETY: as above.
        unsafe {
            match self {
                Senders::None => 0,
                Senders::Array(b) => b.as_ref().len(),
                Senders::List(b) => b.as_ref().len(),
            }
        }
    }
}

impl<T> Buffer<T> {
    pub(crate) fn bounded(cap: usize) -> Buffer<T> {
        match cap {
            0 => Buffer::Zero,
            1..SPLIT_MIN_CAP => Buffer::Small(Ring::with_capacity(cap)),
            _ => Buffer::Array(Queue::new(RingCells::new(cap))),
        }
    }

    pub(crate) fn unbounded() -> Buffer<T> {
        Buffer::List(Queue::new(BlockCells::new()))
    }

    /// The senders' half, which lives as long as the buffer.
    pub(crate) fn senders(&self) -> Senders<T> {
        match self {
            Buffer::Zero | Buffer::Small(_) => Senders::None,
            Buffer::Array(q) => Senders::Array(q.back_ptr()),
            Buffer::List(q) => Senders::List(q.back_ptr()),
        }
    }

    /// `None` for unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        match self {
            Buffer::Zero => Some(0),
            Buffer::Small(r) => Some(r.cap()),
            Buffer::Array(q) => q.capacity(),
            Buffer::List(q) => q.capacity(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Buffer::Zero => 0,
            Buffer::Small(r) => r.len(),
            Buffer::Array(q) => q.len(),
            Buffer::List(q) => q.len(),
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
            Buffer::Small(r) => r.len() + reserved >= r.cap(),
            Buffer::Array(q) => q.is_full_with(reserved),
            Buffer::List(_) => false,
        }
    }

    /// Moves the message in `src` to the tail if there is room (the caller
    /// checked `!is_full_with`, but a send without the channel's lock may
    /// have filled it since); `false` leaves it in `src`. `reopen`: plain
    /// sends may skip the channel's lock again (`split.rs`, invariant 2).
    #[inline(always)]
    pub(crate) fn push_from(&mut self, src: &mut Slot<T>, reopen: bool) -> bool {
        match self {
            Buffer::Zero => unreachable!("push to a zero-capacity buffer"),
            Buffer::Small(r) => r.push_from(src),
            Buffer::Array(q) => q.push_locked(src, reopen),
            Buffer::List(q) => q.push_locked(src, reopen),
        }
    }

    /// Moves the head message into the empty `dst`; `false` if empty (and
    /// then plain sends take the channel's lock, since the caller may queue
    /// a receiver next: `split.rs`, invariant 2).
    #[inline(always)]
    pub(crate) fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        match self {
            Buffer::Zero => false,
            Buffer::Small(r) => r.pop_into(dst),
            Buffer::Array(q) => q.pop_into(dst),
            Buffer::List(q) => q.pop_into(dst),
        }
    }

    /// Whether a receive would find a message; as with `pop_into`, an
    /// empty queue makes plain sends take the channel's lock.
    pub(crate) fn is_ready_to_recv(&self) -> bool {
        match self {
            Buffer::Zero => false,
            Buffer::Small(r) => r.len() > 0,
            Buffer::Array(q) => q.is_ready(),
            Buffer::List(q) => q.is_ready(),
        }
    }

    /// Plain sends take the channel's lock from now on (the caller queues
    /// a sender, or closes the channel, or lost its last receiver).
    pub(crate) fn stop_fast(&self) {
        match self {
            Buffer::Zero | Buffer::Small(_) => {}
            Buffer::Array(q) => q.stop_fast(),
            Buffer::List(q) => q.stop_fast(),
        }
    }

    /// Reserves a cell for a selecting sender; the caller found room
    /// beside the `reserved` ones (`!is_full_with`), which only a split
    /// ring must check again, under its senders' lock (and an unbounded
    /// buffer needs no reservation).
    pub(crate) fn reserve(&self, reserved: usize) -> bool {
        match self {
            Buffer::Array(q) => q.reserve(reserved),
            _ => true,
        }
    }

    /// Takes every buffered message out, in order, to drop them outside
    /// the lock (nothing is pushed once the last receiver is gone, the only
    /// caller's case).
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        let mut slot = Slot::empty();
        while self.pop_into(&mut slot) {
            out.push(slot.take());
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::list::block_cells;
    use super::*;

    fn push<T>(b: &mut Buffer<T>, v: T) {
        assert!(b.push_from(&mut Slot::new(v), true), "no room");
    }

    fn pop<T>(b: &mut Buffer<T>) -> Option<T> {
        let mut s = Slot::empty();
        b.pop_into(&mut s).then(|| s.take())
    }

    /// Both buffered flavors keep the buffer at five words, so that the
    /// channel's layout (`channel::Channel`) is the same for both.
    #[test]
    fn the_buffer_is_five_words() {
        assert_eq!(std::mem::size_of::<Buffer<u64>>(), 40);
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
            push(&mut b, rc.clone());
        }
        let mut s = Slot::empty();
        assert!(b.pop_into(&mut s));
        drop(s);
        assert_eq!(Rc::strong_count(&rc), 100);
        drop(b);
        assert_eq!(Rc::strong_count(&rc), 1);
    }
}
