//! The three flavors of channel buffer, dispatched by one enum (the wait
//! queues and the close protocol are shared, in `channel.rs`):
//!
//! * `Zero`: no buffer (`bounded(0)`); every send is a rendezvous with a
//!   receiver.
//! * `Array`: a ring of fixed capacity (`bounded(n)`, n >= 1), allocated
//!   once.
//! * `List`: unbounded (`unbounded()`). The ring doubles when full and
//!   halves once under a quarter full, down to `LIST_KEEP_BYTES` worth of
//!   cells (at least `LIST_MIN_CAPACITY`), so a channel that once held a
//!   million messages holds a small allocation when drained, and one that
//!   cycles through bursts below that size never reallocates.
//!
//! Ring indices wrap by a compare and a subtraction, never a division
//! (a 64-bit `%` alone cost more than the rest of a push).
//!
//! Messages move in and out of the ring with byte copies from and to
//! [`Slot`]s, never through a message-sized temporary. Accessed only under
//! the channel's lock.

use std::mem::MaybeUninit;

use super::slot::Slot;

/// Smallest ring of an unbounded buffer.
const LIST_MIN_CAPACITY: usize = 32;

/// An unbounded buffer does not shrink below this many bytes of cells (nor
/// below `LIST_MIN_CAPACITY` cells).
const LIST_KEEP_BYTES: usize = 8 * 1024;

/// The capacity an unbounded buffer of `T` keeps when drained.
fn list_floor<T>() -> usize {
    (LIST_KEEP_BYTES / std::mem::size_of::<T>().max(1))
        .next_power_of_two()
        .max(LIST_MIN_CAPACITY)
}

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
    List(Ring<T>),
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

    /// An unbounded buffer's ring, full: doubles it.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.resize(2 * self.cap());
    }

    /// An unbounded buffer's ring, under a quarter full: halves it, down to
    /// its floor.
    #[cold]
    #[inline(never)]
    fn shrink(&mut self) {
        self.resize((self.cap() / 2).max(list_floor::<T>()));
    }

    /// Moves every value into a ring of `cap` cells (`cap >= len`), in at
    /// most two block copies (the live cells up to the end of the ring,
    /// then those wrapped to its start).
    fn resize(&mut self, cap: usize) {
        debug_assert!(cap >= self.len);
        let mut next = Ring::with_capacity(cap);
        let first = self.len.min(self.cap() - self.head);
        let src = self.cells.as_ptr();
        let dst = next.cells.as_mut_ptr();
        // SAFETY: cells `head..head + first` and `0..len - first` of the
        // old ring are its `len` live values, in order (`first` stops at
        // the end of the ring); they go to cells `0..len` of the new one,
        // which has room (`cap >= len`) and is a separate allocation. Each
        // value moves once: `self.len` is reset below so the old ring
        // drops none of them.
        unsafe {
            std::ptr::copy_nonoverlapping(src.add(self.head), dst, first);
            std::ptr::copy_nonoverlapping(src, dst.add(first), self.len - first);
        }
        next.len = self.len;
        self.len = 0;
        *self = next;
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
        Buffer::List(Ring::with_capacity(LIST_MIN_CAPACITY))
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
            Buffer::Array(r) | Buffer::List(r) => r.len,
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
            Buffer::List(r) => {
                if r.len == r.cap() {
                    r.grow();
                }
                r.push_from(src);
            }
        }
    }

    /// Moves the head message into the empty `dst`; `false` if empty.
    #[inline(always)]
    pub(crate) fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        match self {
            Buffer::Zero => false,
            Buffer::Array(r) => r.pop_into(dst),
            Buffer::List(r) => {
                let got = r.pop_into(dst);
                if r.len < r.cap() / 4 && r.cap() > list_floor::<T>() {
                    r.shrink();
                }
                got
            }
        }
    }

    /// Takes every buffered message out (to drop them outside the lock).
    pub(crate) fn take_all(&mut self) -> Option<Ring<T>> {
        match self {
            Buffer::Zero => None,
            Buffer::Array(r) | Buffer::List(r) => {
                let cap = r.cap();
                Some(std::mem::replace(
                    r,
                    Ring::with_capacity(cap.min(LIST_MIN_CAPACITY)),
                ))
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn push<T>(b: &mut Buffer<T>, v: T) {
        b.push_from(&mut Slot::new(v));
    }

    fn pop<T>(b: &mut Buffer<T>) -> Option<T> {
        let mut s = Slot::empty();
        b.pop_into(&mut s).then(|| s.take())
    }

    #[test]
    fn list_gives_memory_back_after_a_burst() {
        let mut b = Buffer::unbounded();
        for i in 0..1_000_000 {
            push(&mut b, i);
        }
        for i in 0..1_000_000 {
            assert_eq!(pop(&mut b), Some(i));
        }
        let Buffer::List(r) = &b else { unreachable!() };
        assert_eq!(r.cap(), list_floor::<u32>(), "drained to its floor");
        assert!(r.cap() * std::mem::size_of::<u32>() <= 2 * LIST_KEEP_BYTES);
    }

    #[test]
    fn list_bursts_below_the_floor_keep_one_allocation() {
        let mut b = Buffer::unbounded();
        let floor = list_floor::<u64>();
        for round in 0..10u64 {
            for i in 0..floor as u64 {
                push(&mut b, round * 10_000 + i);
            }
            let Buffer::List(r) = &b else { unreachable!() };
            assert_eq!(r.cap(), floor, "a burst of {floor} fits the floor");
            for i in 0..floor as u64 {
                assert_eq!(pop(&mut b), Some(round * 10_000 + i));
            }
        }
    }

    /// Growing and shrinking while the live cells wrap around the end of
    /// the ring keeps FIFO order (the two block copies of `resize`).
    #[test]
    fn list_resizes_while_wrapped_keep_fifo() {
        let mut b = Buffer::unbounded();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u64;
        // Waves: push three, pop two until large, then pop three, push
        // one until small, so every resize meets a different head.
        for wave in 0..6 {
            for _ in 0..3000 {
                let (pushes, pops) = if wave % 2 == 0 { (3, 2) } else { (1, 3) };
                for _ in 0..pushes {
                    push(&mut b, next);
                    model.push_back(next);
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
