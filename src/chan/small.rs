//! The cells of a small bounded channel (`bounded(n)`, `1 <= n <
//! buffer::SPLIT_MIN_CAP`): a ring kept whole under the channel's lock.
//!
//! A small buffer is full or empty most of the time, so a send that skips
//! the channel's lock (`split.rs`) rarely finds it allowed, and the split
//! queue's extra lines cost more than they save (`bounded(1)` between two
//! OS threads: 1,060-1,110 ns a message split, 650 whole).
//!
//! Invariant: `len` cells from `head` (wrapping) hold messages, the others
//! none. Positions wrap by a compare and a subtraction, never a division.

use std::mem::MaybeUninit;

use super::slot::Slot;

/// `i` wrapped into `0..cap`, for `i < 2 * cap` (`ring.rs` too).
#[inline]
pub(super) fn wrap(i: usize, cap: usize) -> usize {
    if i >= cap { i - cap } else { i }
}

/// A ring of `cells.len()` cells; `len` of them, from `head`, hold values.
pub(crate) struct Ring<T> {
    cells: Box<[MaybeUninit<T>]>,
    head: usize,
    len: usize,
}

impl<T> Ring<T> {
    pub(crate) fn with_capacity(cap: usize) -> Ring<T> {
        Ring {
            cells: Box::new_uninit_slice(cap),
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cells.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Moves the message out of `src` into the tail; `false` if full.
    #[inline]
    pub(crate) fn push_from(&mut self, src: &mut Slot<T>) -> bool {
        if self.len == self.cap() {
            return false;
        }
        let i = wrap(self.head + self.len, self.cap());
        // SAFETY: cell `i` is past the `len` live cells, so it holds no value.
        unsafe { src.move_into(self.cells[i].as_mut_ptr()) };
        self.len += 1;
        true
    }

    /// Moves the head's message into the empty `dst`; `false` if empty.
    #[inline]
    pub(crate) fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
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

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for k in 0..self.len {
            let i = wrap(self.head + k, self.cap());
            // SAFETY: the `len` cells from `head` are live; each dropped once.
            unsafe { self.cells[i].assume_init_drop() };
        }
    }
}
