//! The cells of a larger bounded channel (`bounded(n)`, `n >=
//! buffer::SPLIT_MIN_CAP`): a ring of `n` cells allocated once, for the
//! split queue of `split.rs`.
//!
//! Positions wrap by a compare and a subtraction, never a division (a
//! 64-bit `%` alone cost more than the rest of a push). Which cells hold
//! messages follows from the queue's counts (`split.rs`, invariant 3): the
//! `pushed - popped` cells from the head position on.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use super::small::wrap;
use super::split::Cells;

/// `cap` cells, shared by the senders (who write them under the queue's
/// tail lock) and the receivers (who read them under the channel's lock).
pub(crate) struct RingCells<T> {
    cells: NonNull<MaybeUninit<T>>,
    cap: usize,
}

impl<T> RingCells<T> {
    /// `cap >= 1` empty cells.
    pub(crate) fn new(cap: usize) -> RingCells<T> {
        assert!(cap >= 1, "a ring has at least one cell");
        let cells: Box<[MaybeUninit<T>]> = Box::new_uninit_slice(cap);
        RingCells {
            cells: NonNull::from(Box::leak(cells)).cast(),
            cap,
        }
    }

    /// Cell `i < cap`.
    #[inline(always)]
    fn cell(&self, i: usize) -> *mut T {
        debug_assert!(i < self.cap);
        // SAFETY: `i < cap`, inside the allocation.
        unsafe { self.cells.as_ptr().add(i).cast() }
    }

    /// The cell at position `pos`, which moves on to the next one (the
    /// same step for the senders' tail and the receivers' head).
    #[inline(always)]
    fn take_cell(&self, pos: &mut usize) -> *mut T {
        let cell = self.cell(*pos);
        *pos = wrap(*pos + 1, self.cap);
        cell
    }
}

impl<T> Cells<T> for RingCells<T> {
    /// The cell the next push fills.
    type Tail = usize;
    /// The cell of the oldest message.
    type Head = usize;

    fn start(&self) -> (usize, usize) {
        (0, 0)
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.cap)
    }

    #[inline(always)]
    unsafe fn push_cell(&self, tail: &mut usize) -> *mut T {
        self.take_cell(tail)
    }

    #[inline(always)]
    unsafe fn pop_cell(&self, head: &mut usize) -> *mut T {
        self.take_cell(head)
    }

    unsafe fn drop_all(&mut self, head: &usize, n: usize) {
        let mut i = *head;
        for _ in 0..n {
            // SAFETY: the `n` cells from `head` hold messages (the
            // contract); each is dropped once.
            unsafe { self.cell(i).drop_in_place() };
            i = wrap(i + 1, self.cap);
        }
        // SAFETY: from `Box::leak` of a slice of `cap` cells in `new`, freed
        // once; its cells hold no message now.
        drop(unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.cells.as_ptr(),
                self.cap,
            ))
        });
    }
}
