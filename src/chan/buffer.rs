//! The three flavors of channel buffer, dispatched by one enum (the wait
//! queues and the close protocol are shared, in `channel.rs`):
//!
//! * `Zero`: no buffer (`bounded(0)`); every send is a rendezvous with a
//!   receiver.
//! * `Array`: a ring of fixed capacity (`bounded(n)`, n >= 1), allocated
//!   once.
//! * `List`: unbounded (`unbounded()`): a FIFO of fixed-size blocks of
//!   about `LIST_BLOCK_BYTES` each (a power of two of cells). A push that
//!   reaches past the last block links one; a pop that empties the front
//!   block unlinks it, keeping one spare for the next append. Messages
//!   never move once buffered (a doubling ring copied every message on
//!   each growth and faulted in fresh pages for the bigger allocations:
//!   1.5x crossbeam-channel's time for 200,000 messages through one
//!   thread), and a channel that once held a million messages holds at
//!   most two blocks when drained.
//!
//! Ring indices wrap by a compare and a subtraction, never a division
//! (a 64-bit `%` alone cost more than the rest of a push).
//!
//! Messages move in and out of either buffer with byte copies from and to
//! [`Slot`]s, never through a message-sized temporary. Accessed only under
//! the channel's lock.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

use super::slot::Slot;

/// Bytes of cells per block of an unbounded buffer (at least one cell).
const LIST_BLOCK_BYTES: usize = 4 * 1024;

/// Cells per block of an unbounded buffer of `T`: the largest power of two
/// that fits `LIST_BLOCK_BYTES`, at least 1 (any count for a zero-sized `T`,
/// whose blocks take no memory).
const fn block_cells<T>() -> usize {
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
    List(Blocks<T>),
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

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for k in 0..self.len {
            let i = wrap(self.head + k, self.cap());
            // SAFETY: the `len` cells from `head` are live; each dropped once.
            unsafe { self.cells[i].assume_init_drop() };
        }
    }
}

/// An unbounded buffer: a singly linked list of blocks of
/// `block_cells::<T>()` cells, `len` values in FIFO order from cell `head`
/// of `front` to the cell before `tail` of `back`. 32 bytes, as a ring:
/// the channel's layout keeps a buffered operation's fields in two cache
/// lines (`channel::Channel`).
///
/// Invariants:
/// 1. `front` and `back` are both null (no block yet) or both point to
///    live blocks, `back` reachable from `front` by `next`; the cells
///    holding values are those from (`front`, `head`) up to (`back`,
///    `tail`), every other cell holds none.
/// 2. `head <= tail` when `front == back`; `tail == CELLS` means `back`
///    is full (and is the initial state); `tail >= 1` when `back !=
///    front`.
/// 3. `back.next` is null or one empty spare block, whose `next` is null.
pub(crate) struct Blocks<T> {
    front: *mut Block<T>,
    back: *mut Block<T>,
    head: u32,
    tail: u32,
    len: usize,
}

/// A block's header; its `block_cells::<T>()` cells follow it in the same
/// allocation (`Block::layout`).
struct Block<T> {
    next: *mut Block<T>,
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
                next: ptr::null_mut(),
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
        // SAFETY: allocated by `alloc` with this layout (the contract).
        unsafe { alloc::dealloc(block.cast(), Block::<T>::layout()) };
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
}

impl<T> Blocks<T> {
    const CELLS: u32 = block_cells::<T>() as u32;

    fn new() -> Blocks<T> {
        Blocks {
            front: ptr::null_mut(),
            back: ptr::null_mut(),
            head: 0,
            tail: Self::CELLS,
            len: 0,
        }
    }

    /// Moves the message out of `src` into the tail.
    #[inline]
    fn push_from(&mut self, src: &mut Slot<T>) {
        if self.tail == Self::CELLS {
            self.append();
        }
        // SAFETY: `back` is live and cell `tail` of it lies past the tail
        // (invariant 1), so it holds no value.
        unsafe { src.move_into(Block::cell(self.back, self.tail as usize)) };
        self.tail += 1;
        self.len += 1;
    }

    /// Moves the head's message into the empty `dst`.
    #[inline]
    fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        if self.len == 0 {
            return false;
        }
        // SAFETY: with values queued `front` is live and its cell `head`
        // holds the oldest (invariant 1); it is moved out and its cell
        // retired just below.
        unsafe { dst.move_from(Block::cell(self.front, self.head as usize)) };
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            // Drained (`front == back`): the next push starts this block
            // over.
            self.head = 0;
            self.tail = 0;
        } else if self.head == Self::CELLS {
            self.retire();
        }
        true
    }

    /// `back` is full (or there is no block yet): moves the tail to the
    /// spare after it, or to a new block.
    #[cold]
    #[inline(never)]
    fn append(&mut self) {
        if self.back.is_null() {
            let block = Block::alloc();
            (self.front, self.back, self.tail) = (block, block, 0);
            return;
        }
        // SAFETY: `back` is live (invariant 1).
        let back = unsafe { &mut *self.back };
        if back.next.is_null() {
            back.next = Block::alloc();
        }
        self.back = back.next;
        self.tail = 0;
    }

    /// The front block is used up and values remain after it: the next
    /// block becomes the front, the old one the spare after `back` (or it
    /// is freed if there is one).
    #[cold]
    #[inline(never)]
    fn retire(&mut self) {
        let old = self.front;
        // SAFETY: `old` is live and, values remaining past it, not `back`,
        // so its `next` is the block holding them (invariant 1).
        self.front = unsafe { (*old).next };
        self.head = 0;
        // SAFETY: `old`'s values were all moved out; `back` is live.
        unsafe {
            (*old).next = ptr::null_mut();
            if (*self.back).next.is_null() {
                (*self.back).next = old;
            } else {
                Block::free(old);
            }
        }
    }
}

impl<T> Drop for Blocks<T> {
    fn drop(&mut self) {
        let (mut block, mut i) = (self.front, self.head as usize);
        for _ in 0..self.len {
            if i == block_cells::<T>() {
                // SAFETY: values remain, so the block is followed by the
                // next one holding them (invariant 1).
                (block, i) = (unsafe { (*block).next }, 0);
            }
            // SAFETY: the `len` cells from (`front`, `head`) hold values;
            // each is dropped once.
            unsafe { Block::cell(block, i).drop_in_place() };
            i += 1;
        }
        let mut block = self.front;
        while !block.is_null() {
            // SAFETY: a live block of the list (and its spare); its values
            // were dropped above.
            let next = unsafe { (*block).next };
            // SAFETY: as above; each block is freed once.
            unsafe { Block::free(block) };
            block = next;
        }
    }
}

// SAFETY: `Blocks<T>` owns its blocks and the `T`s in them, like a
// `Vec<T>`; the raw pointers are not shared with anything else.
unsafe impl<T: Send> Send for Blocks<T> {}

impl<T> Buffer<T> {
    pub(crate) fn bounded(cap: usize) -> Buffer<T> {
        if cap == 0 {
            Buffer::Zero
        } else {
            Buffer::Array(Ring::with_capacity(cap))
        }
    }

    pub(crate) fn unbounded() -> Buffer<T> {
        Buffer::List(Blocks::new())
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
            Buffer::List(l) => l.len,
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
            Buffer::List(b) => b.push_from(src),
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
    /// leaving an empty buffer of the same flavor (a ring of up to
    /// `TAKEN_RING_CELLS`: nothing is pushed once the last receiver is
    /// gone, the only caller's case).
    pub(crate) fn take_all(&mut self) -> Buffer<T> {
        let empty = match self {
            Buffer::Zero => Buffer::Zero,
            Buffer::Array(r) => Buffer::Array(Ring::with_capacity(r.cap().min(TAKEN_RING_CELLS))),
            Buffer::List(_) => Buffer::List(Blocks::new()),
        };
        std::mem::replace(self, empty)
    }
}

/// The ring `Buffer::take_all` leaves behind.
const TAKEN_RING_CELLS: usize = 32;

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

    fn list<T>(b: &Buffer<T>) -> &Blocks<T> {
        let Buffer::List(l) = b else { unreachable!() };
        l
    }

    /// Blocks a list holds, its spare included.
    fn blocks<T>(l: &Blocks<T>) -> usize {
        let (mut n, mut block) = (0, l.front);
        while !block.is_null() {
            n += 1;
            // SAFETY: a live block of the list (the test owns it).
            block = unsafe { (*block).next };
        }
        n
    }

    /// The list is no bigger than the ring, so the buffer (and with it
    /// the channel's layout, `channel::Channel`) is the same for both.
    #[test]
    fn a_list_is_no_bigger_than_a_ring() {
        assert!(std::mem::size_of::<Blocks<u64>>() <= std::mem::size_of::<Ring<u64>>());
        assert_eq!(std::mem::size_of::<Buffer<u64>>(), 40);
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
        let mut b = Buffer::unbounded();
        for i in 0..1_000_000u32 {
            push(&mut b, i);
        }
        assert!(blocks(list(&b)) >= 1_000_000 / block_cells::<u32>());
        for i in 0..1_000_000 {
            assert_eq!(pop(&mut b), Some(i));
        }
        assert!(
            blocks(list(&b)) <= 2,
            "a drained list keeps its block and a spare"
        );
    }

    /// A queue that keeps below one block's worth reuses its block: no
    /// allocation after the first push.
    #[test]
    fn list_bursts_within_a_block_keep_one_allocation() {
        let mut b = Buffer::unbounded();
        let n = block_cells::<u64>() as u64 - 1;
        push(&mut b, 0);
        let first = list(&b).front;
        assert_eq!(pop(&mut b), Some(0));
        for round in 0..10u64 {
            for i in 0..n {
                push(&mut b, round * 10_000 + i);
            }
            assert_eq!(blocks(list(&b)), 1, "a burst of {n} fits one block");
            assert_eq!(list(&b).front, first);
            for i in 0..n {
                assert_eq!(pop(&mut b), Some(round * 10_000 + i));
            }
        }
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
