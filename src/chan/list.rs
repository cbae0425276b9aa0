//! The cells of an unbounded channel (`unbounded()`): a FIFO of
//! fixed-size blocks, for the split queue of `split.rs`.
//!
//! A push that reaches past the tail block links a new one (the spare, if
//! a receiver handed one back); a pop that reaches past the front block
//! moves to the next and hands the used one back as the spare. Messages
//! never move once buffered (a doubling ring copied every message on each
//! growth and faulted in fresh pages for the bigger allocations: 1.5x
//! crossbeam-channel's time for 200,000 messages through one thread), and
//! a channel that once held a million messages holds at most two blocks
//! when drained.
//!
//! # Invariants
//!
//! 1. The messages are the cells from (`FrontPos::block`, `FrontPos::head`) to
//!    (`BackPos::block`, `BackPos::tail`), in blocks linked by `next`. A block's
//!    `next` is set, before any message past the block is published, when
//!    the tail moves on from it, and it does not change until the block is
//!    handed back.
//! 2. A receiver hands its front block back only once it took every
//!    message of it and the tail has moved on (`next` is set): no sender
//!    touches that block again. At most one used block waits in `spare`.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr;

use super::split::Cells;
use crate::loom::sync::atomic::{AtomicPtr, Ordering};

/// Bytes of cells per block (at least one cell).
const LIST_BLOCK_BYTES: usize = 4 * 1024;

/// Cells per block of `T`: the largest power of two that fits
/// `LIST_BLOCK_BYTES`, at least 1 (any count for a zero-sized `T`, whose
/// blocks take no memory). Two under loom, so that short models cross
/// blocks.
pub(crate) const fn block_cells<T>() -> usize {
    if cfg!(loom) {
        return 2;
    }
    let size = std::mem::size_of::<T>();
    let n = if size == 0 {
        LIST_BLOCK_BYTES
    } else if size >= LIST_BLOCK_BYTES {
        1
    } else {
        LIST_BLOCK_BYTES / size
    };
    1 << (usize::BITS - 1 - n.leading_zeros())
}

/// A block's header; its `block_cells::<T>()` cells follow it in the same
/// allocation (`Block::layout`).
struct Block<T> {
    /// The block after this one, once the tail moved on (invariant 3).
    next: AtomicPtr<Block<T>>,
    _cells: PhantomData<T>,
}

impl<T> Block<T> {
    /// Where the cells start: past the header, aligned for `T`.
    const CELLS_AT: usize =
        std::mem::size_of::<Block<T>>().next_multiple_of(std::mem::align_of::<T>());

    /// The header, then the cells.
    fn layout() -> Layout {
        let size = std::mem::size_of::<T>()
            .checked_mul(block_cells::<T>())
            .and_then(|cells| cells.checked_add(Self::CELLS_AT))
            .expect("a block's size overflows");
        let align = std::mem::align_of::<Block<T>>().max(std::mem::align_of::<T>());
        Layout::from_size_align(size, align).expect("a block's size overflows")
    }

    /// A block with no value in its cells and no successor.
    fn alloc() -> *mut Block<T> {
        let layout = Block::<T>::layout();
        // SAFETY: the layout has a non-zero size (the header's pointer).
        let p = unsafe { alloc::alloc(layout) }.cast::<Block<T>>();
        if p.is_null() {
            alloc::handle_alloc_error(layout);
        }
        // SAFETY: freshly allocated with room for the header.
        unsafe {
            p.write(Block {
                next: AtomicPtr::new(ptr::null_mut()),
                _cells: PhantomData,
            })
        };
        p
    }

    /// Frees a block from [`Block::alloc`].
    ///
    /// # Safety
    /// `block` came from `Block::<T>::alloc`, is not used afterwards, and
    /// its cells hold no value.
    unsafe fn free(block: *mut Block<T>) {
        // SAFETY: the header is initialised (`alloc`); drop it in place
        // (a no-op but for loom's tracking), then free the allocation made
        // with this layout (the contract).
        unsafe {
            ptr::drop_in_place(block);
            alloc::dealloc(block.cast(), Block::<T>::layout());
        }
    }

    /// Cell `i` (`i < block_cells::<T>()`) of `block`.
    ///
    /// # Safety
    /// `block` is a live block from [`Block::alloc`].
    #[inline(always)]
    unsafe fn cell(block: *mut Block<T>, i: usize) -> *mut T {
        debug_assert!(i < block_cells::<T>());
        // SAFETY: the cells start `CELLS_AT` bytes in and `i` is in range
        // (the contract), all inside the block's allocation.
        unsafe { block.cast::<u8>().add(Self::CELLS_AT).cast::<T>().add(i) }
    }

    /// The successor set when the tail moved on (invariant 3).
    ///
    /// # Safety
    /// `block` is live.
    #[inline]
    unsafe fn next(block: *mut Block<T>) -> *mut Block<T> {
        // SAFETY: live by the contract.
        unsafe { (*block).next.load(Ordering::Acquire) }
    }
}

/// The senders' position: the block being filled (null before the first
/// push) and its next free cell (`CELLS` when full, or no block yet).
pub(crate) struct BackPos<T> {
    block: *mut Block<T>,
    tail: u32,
}

/// The receivers' position: the block of the next message (null before
/// the first pop) and its cell.
pub(crate) struct FrontPos<T> {
    block: *mut Block<T>,
    head: u32,
}

/// The block list's shared state.
pub(crate) struct BlockCells<T> {
    /// The first block, set by the first push; the first pop starts there.
    first: AtomicPtr<Block<T>>,
    /// A used-up block handed back by a receiver for the next append, or
    /// null (invariant 2).
    spare: AtomicPtr<Block<T>>,
}

impl<T> BlockCells<T> {
    const CELLS: u32 = block_cells::<T>() as u32;

    pub(crate) fn new() -> BlockCells<T> {
        BlockCells {
            first: AtomicPtr::new(ptr::null_mut()),
            spare: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The tail block is full (or there is none yet): links the spare or a
    /// new block after it and moves the tail there.
    #[cold]
    #[inline(never)]
    fn append(&self, pos: &mut BackPos<T>) {
        let spare = self.spare.swap(ptr::null_mut(), Ordering::Acquire);
        let block = if spare.is_null() {
            Block::alloc()
        } else {
            spare
        };
        if pos.block.is_null() {
            self.first.store(block, Ordering::Release);
        } else {
            // SAFETY: the tail block is live; it is full, so no receiver
            // hands it back before reading this link (invariant 2).
            unsafe { (*pos.block).next.store(block, Ordering::Release) };
        }
        pos.block = block;
        pos.tail = 0;
    }

    /// A message is queued past the front block (or this is the first
    /// pop): moves to the block holding it, handing the used one back.
    #[cold]
    #[inline(never)]
    fn advance(&self, pos: &mut FrontPos<T>) {
        let old = pos.block;
        pos.head = 0;
        if old.is_null() {
            pos.block = self.first.load(Ordering::Acquire);
            return;
        }
        // SAFETY: `old` is live; a message follows its last cell, so the
        // tail moved on and linked the next block (invariant 1).
        pos.block = unsafe { Block::next(old) };
        debug_assert!(!pos.block.is_null());
        // SAFETY: every message of `old` was taken and no sender touches it
        // again (invariant 2): reset it and offer it as the spare.
        unsafe {
            (*old).next.store(ptr::null_mut(), Ordering::Relaxed);
            let prev = self.spare.swap(old, Ordering::AcqRel);
            if !prev.is_null() {
                Block::free(prev);
            }
        }
    }
}

impl<T> Cells<T> for BlockCells<T> {
    type Tail = BackPos<T>;
    type Head = FrontPos<T>;

    fn start(&self) -> (BackPos<T>, FrontPos<T>) {
        (
            BackPos {
                block: ptr::null_mut(),
                tail: Self::CELLS,
            },
            FrontPos {
                block: ptr::null_mut(),
                head: 0,
            },
        )
    }

    fn capacity(&self) -> Option<usize> {
        None
    }

    #[inline(always)]
    unsafe fn push_cell(&self, pos: &mut BackPos<T>) -> *mut T {
        if pos.tail == Self::CELLS {
            self.append(pos);
        }
        // SAFETY: the tail block is live (`append` made one if needed) and
        // its cell `tail` is past every message (invariant 1).
        let cell = unsafe { Block::cell(pos.block, pos.tail as usize) };
        pos.tail += 1;
        cell
    }

    #[inline(always)]
    unsafe fn pop_cell(&self, pos: &mut FrontPos<T>) -> *mut T {
        if pos.head == Self::CELLS || pos.block.is_null() {
            self.advance(pos);
        }
        // SAFETY: a message is queued (the caller's contract), so cell
        // `head` of the front block holds the oldest (invariant 1).
        let cell = unsafe { Block::cell(pos.block, pos.head as usize) };
        pos.head += 1;
        cell
    }

    unsafe fn drop_all(&mut self, pos: &FrontPos<T>, mut left: usize) {
        let (mut block, mut i) = if pos.block.is_null() {
            (self.first.load(Ordering::Relaxed), 0)
        } else {
            (pos.block, pos.head as usize)
        };
        while left > 0 {
            if i == Self::CELLS as usize {
                // SAFETY: messages remain, so the block is followed by the
                // one holding them (invariant 1).
                (block, i) = (unsafe { Block::next(block) }, 0);
            }
            // SAFETY: the cells from the front position hold the `left`
            // messages (invariant 1); each is dropped once.
            unsafe { Block::cell(block, i).drop_in_place() };
            i += 1;
            left -= 1;
        }
        while !block.is_null() {
            // SAFETY: a live block of the chain up to the tail block; its
            // messages were dropped above.
            let next = unsafe { Block::next(block) };
            // SAFETY: as above; each block is freed once.
            unsafe { Block::free(block) };
            block = next;
        }
        let spare = self.spare.load(Ordering::Relaxed);
        if !spare.is_null() {
            // SAFETY: the spare is empty and in no chain (invariant 2).
            unsafe { Block::free(spare) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::slot::Slot;
    use super::super::split::Queue;
    use super::*;

    type List<T> = Queue<T, BlockCells<T>>;

    fn push<T>(l: &List<T>, v: T) {
        assert!(l.push_locked(&mut Slot::new(v), true));
    }

    fn pop<T>(l: &mut List<T>) -> Option<T> {
        let mut s = Slot::empty();
        l.pop_into(&mut s).then(|| s.take())
    }

    /// Blocks a list holds: from its front (or first) block to its tail
    /// block, and the spare.
    fn blocks<T>(l: &List<T>) -> usize {
        let (cells, front) = l.parts();
        let mut block = if front.block.is_null() {
            cells.first.load(Ordering::Relaxed)
        } else {
            front.block
        };
        let mut n = usize::from(!cells.spare.load(Ordering::Relaxed).is_null());
        while !block.is_null() {
            n += 1;
            // SAFETY: a live block of the list (the test owns it).
            block = unsafe { Block::next(block) };
        }
        n
    }

    #[test]
    fn block_cells_are_a_power_of_two_near_the_block_size() {
        assert_eq!(block_cells::<u64>(), LIST_BLOCK_BYTES / 8);
        assert_eq!(block_cells::<[u8; 3]>(), 1024);
        assert_eq!(block_cells::<[u8; 64 * 1024]>(), 1);
        assert_eq!(block_cells::<()>(), LIST_BLOCK_BYTES);
    }

    #[test]
    fn list_gives_memory_back_after_a_burst() {
        let mut l = List::new(BlockCells::new());
        for i in 0..1_000_000u32 {
            push(&l, i);
        }
        assert!(blocks(&l) >= 1_000_000 / block_cells::<u32>());
        for i in 0..1_000_000 {
            assert_eq!(pop(&mut l), Some(i));
        }
        assert!(
            blocks(&l) <= 2,
            "a drained list keeps its block and a spare"
        );
        assert_eq!(pop(&mut l), None);
    }

    /// A queue that stays short cycles through two blocks: the one being
    /// read and the one being filled, each used-up block coming back as
    /// the spare for the next append.
    #[test]
    fn short_bursts_cycle_through_two_blocks() {
        let mut l = List::new(BlockCells::new());
        let n = block_cells::<u64>() as u64 / 3;
        for round in 0..20u64 {
            for i in 0..n {
                push(&l, round * 10_000 + i);
            }
            assert!(blocks(&l) <= 2, "round {round}: {} blocks", blocks(&l));
            for i in 0..n {
                assert_eq!(pop(&mut l), Some(round * 10_000 + i));
            }
        }
    }
}
