//! The unbounded flavor's buffer: a FIFO of fixed-size blocks split in two
//! halves, so that senders do not take the channel's lock.
//!
//! * [`Back`], the senders' half, on the heap: its own small lock over the
//!   tail block ([`Tail`]), the count of messages pushed, and the `fast`
//!   flag. A plain send takes only this lock while `fast` is set
//!   ([`Back::push_fast`]); otherwise it goes through the channel's lock
//!   like every other flavor, and pushes from under it ([`Back::push_locked`]).
//! * [`List`], the receivers' half, in the channel's locked state: the front
//!   block, where the next message is, and how many are known to follow it.
//!
//! With one lock for everything, four senders and a receiver on OS threads
//! fought for one cache line and a preempted holder stalled all of them
//! (1.25x crossbeam-channel's time on `unbounded/mpsc`); now the receiver
//! takes the channel's lock alone, and senders contend only with each other.
//!
//! # Invariants
//!
//! 1. Lock order: the channel's lock, then `Back::tail`; never the reverse.
//! 2. `Tail::fast` implies that no waiter of any kind is queued in the
//!    channel's `recvq` and that the channel is open (neither closed nor
//!    without receivers). It is set only under both locks, by a push made
//!    under the channel's lock (which only happens with `recvq` empty and
//!    the channel open), and cleared under both locks by a receive that
//!    finds the buffer empty ([`List::pop_into`], [`List::is_ready`]),
//!    before that receive can queue a waiter, and by `close` and the last
//!    receiver's drop. So a sender that pushes without the channel's lock
//!    can never leave a message beside a parked receiver: either its push
//!    comes first under `tail` and the receive sees it, or the receive
//!    comes first and the sender finds `fast` cleared and takes the
//!    channel's lock, where it meets the waiter.
//! 3. The messages are the cells from (`List::front`, `List::head`) to
//!    (`Tail::back`, `Tail::tail`), `Back::pushed - Back::popped` of them.
//!    A block's cells are written only under `tail`, each before the
//!    `pushed` store (release) that publishes it; a receiver reads a cell
//!    only after loading a `pushed` past it (acquire). A block's `next`
//!    is set (before that publication) when the tail moves on from it, and
//!    never changes until the block is recycled.
//! 4. A receiver recycles its front block only once it read every cell of
//!    it and the tail has moved on (`next` is set): no sender touches it
//!    again. At most one used block waits in `Back::spare` for the next
//!    append; a drained channel holds its tail block and that spare.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crossbeam_utils::CachePadded;

use super::lock::Lock;
use super::slot::Slot;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

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

/// The senders' half, guarded by [`Back::tail`].
struct Tail<T> {
    /// The block being filled; null before the first push.
    back: *mut Block<T>,
    /// Its next free cell (`CELLS`: full, or no block yet).
    tail: u32,
    /// Messages pushed so far (mirrored in `Back::pushed`).
    pushed: usize,
    /// Whether a plain send may push without the channel's lock
    /// (invariant 2).
    fast: bool,
}

/// The senders' half of an unbounded buffer, shared by every handle of the
/// channel (owned by its [`List`]).
pub(crate) struct Back<T> {
    tail: Lock<Tail<T>>,
    /// `Tail::pushed`, published after each push (release, invariant 3).
    pushed: AtomicUsize,
    /// The first block, set by the first push; the first receive starts
    /// there.
    first: AtomicPtr<Block<T>>,
    /// A used-up block handed back by a receiver for the next append, or
    /// null (invariant 4).
    spare: AtomicPtr<Block<T>>,
    /// Messages popped so far: written by receivers under the channel's
    /// lock, read by `len` without it. On a line of its own, away from the
    /// senders'.
    popped: CachePadded<AtomicUsize>,
}

impl<T> Back<T> {
    const CELLS: u32 = block_cells::<T>() as u32;

    /// Pushes the message in `src` if a plain send may skip the channel's
    /// lock (invariant 2); `false` leaves it there for the locked path.
    #[inline]
    pub(crate) fn push_fast(&self, src: &mut Slot<T>) -> bool {
        let mut t = self.tail.lock();
        if !t.fast {
            return false;
        }
        self.push(&mut t, src);
        true
    }

    /// Pushes the message in `src` from under the channel's lock, which the
    /// caller holds with nobody queued in `recvq` and the channel open: a
    /// plain send may skip the channel's lock again (invariant 2).
    pub(crate) fn push_locked(&self, src: &mut Slot<T>) {
        let mut t = self.tail.lock();
        t.fast = true;
        self.push(&mut t, src);
    }

    /// Moves `src`'s message into the next cell, under `tail`.
    #[inline(always)]
    fn push(&self, t: &mut Tail<T>, src: &mut Slot<T>) {
        if t.tail == Self::CELLS {
            self.append(t);
        }
        // SAFETY: `back` is live (`append` made one if needed) and its
        // cell `tail` is past every message (invariant 3): it holds none.
        unsafe { src.move_into(Block::cell(t.back, t.tail as usize)) };
        t.tail += 1;
        t.pushed += 1;
        self.pushed.store(t.pushed, Ordering::Release);
    }

    /// The tail block is full (or there is none yet): links the spare or a
    /// new block after it and moves the tail there.
    #[cold]
    #[inline(never)]
    fn append(&self, t: &mut Tail<T>) {
        let spare = self.spare.swap(ptr::null_mut(), Ordering::Acquire);
        let block = if spare.is_null() {
            Block::alloc()
        } else {
            spare
        };
        if t.back.is_null() {
            self.first.store(block, Ordering::Release);
        } else {
            // SAFETY: `back` is live; it is full, so no receiver recycles
            // it before reading this link (invariant 4).
            unsafe { (*t.back).next.store(block, Ordering::Release) };
        }
        t.back = block;
        t.tail = 0;
    }

    /// Clears `fast` (`close`, the last receiver gone): from now on every
    /// send takes the channel's lock, which the caller holds.
    pub(crate) fn stop_fast(&self) {
        self.tail.lock().fast = false;
    }

    /// Under the channel's lock, with `popped` messages taken so far: if
    /// the buffer is empty, clears `fast` and returns `true` (invariant 2:
    /// a waiter may be queued now); `false` if a message arrived.
    fn stop_fast_if_empty(&self, popped: usize) -> bool {
        let mut t = self.tail.lock();
        if t.pushed != popped {
            return false;
        }
        t.fast = false;
        true
    }

    /// Messages buffered, without any lock (a hint: stale at once).
    pub(crate) fn len(&self) -> usize {
        // Popped first: it never passes what `pushed` was when read.
        let popped = self.popped.load(Ordering::Acquire);
        self.pushed.load(Ordering::Acquire).saturating_sub(popped)
    }
}

/// An unbounded buffer as the channel's locked state holds it: the
/// receivers' half, and the senders' half it owns.
pub(crate) struct List<T> {
    /// Freed by `Drop`, after which no handle of the channel is left.
    back: NonNull<Back<T>>,
    /// The block of the next message; null until the first receive.
    front: *mut Block<T>,
    /// The cell of the next message in `front`.
    head: u32,
    /// Messages known to be buffered past (`front`, `head`) from the last
    /// look at `Back::pushed` (so a receive reads the senders' line only
    /// when it runs out).
    known: usize,
}

// SAFETY: a `List<T>` owns its blocks and the `T`s in them, like a
// `Vec<T>`; the `Back` it points to is shared only with the senders of its
// own channel, through its lock and atomics.
unsafe impl<T: Send> Send for List<T> {}

impl<T> List<T> {
    const CELLS: u32 = block_cells::<T>() as u32;

    pub(crate) fn new() -> List<T> {
        let back = Box::new(Back {
            tail: Lock::new(Tail {
                back: ptr::null_mut(),
                tail: Self::CELLS,
                pushed: 0,
                fast: true,
            }),
            pushed: AtomicUsize::new(0),
            first: AtomicPtr::new(ptr::null_mut()),
            spare: AtomicPtr::new(ptr::null_mut()),
            popped: CachePadded::new(AtomicUsize::new(0)),
        });
        List {
            back: NonNull::from(Box::leak(back)),
            front: ptr::null_mut(),
            head: 0,
            known: 0,
        }
    }

    /// The senders' half, for the channel's lock-free path.
    pub(crate) fn back_ptr(&self) -> NonNull<Back<T>> {
        self.back
    }

    /// The senders' half.
    pub(crate) fn back_ref(&self) -> &Back<T> {
        // SAFETY: the `Back` lives until `self` drops.
        unsafe { self.back.as_ref() }
    }

    /// Messages buffered (exact under the channel's lock, but for pushes
    /// racing it).
    pub(crate) fn len(&self) -> usize {
        self.back_ref().len()
    }

    /// Whether a receive would find a message; if not, clears `fast`
    /// (invariant 2), as a receive that may queue a waiter next must.
    pub(crate) fn is_ready(&self) -> bool {
        let back = self.back_ref();
        let popped = back.popped.load(Ordering::Relaxed);
        self.known > 0
            || back.pushed.load(Ordering::Acquire) != popped
            || !back.stop_fast_if_empty(popped)
    }

    /// Moves the head's message into the empty `dst`; `false` if empty,
    /// with `fast` cleared (invariant 2).
    #[inline]
    pub(crate) fn pop_into(&mut self, dst: &mut Slot<T>) -> bool {
        // SAFETY: the `Back` lives until `self` drops; not through
        // `self.back_ref()`, whose borrow would cover `self`.
        let back = unsafe { self.back.as_ref() };
        // Only receivers under the channel's lock write it.
        let popped = back.popped.load(Ordering::Relaxed);
        while self.known == 0 {
            self.known = back.pushed.load(Ordering::Acquire) - popped;
            if self.known == 0 && back.stop_fast_if_empty(popped) {
                return false;
            }
        }
        if self.head == Self::CELLS || self.front.is_null() {
            self.next_block(back);
        }
        // SAFETY: a message is buffered, so cell `head` of `front` holds
        // the oldest, published to us by the acquire load of `pushed`
        // (invariant 3); it is moved out and the cell retired below.
        unsafe { dst.move_from(Block::cell(self.front, self.head as usize)) };
        self.head += 1;
        self.known -= 1;
        back.popped.store(popped + 1, Ordering::Release);
        true
    }

    /// A message is buffered past the front block (or this is the first
    /// receive): moves to the block holding it, recycling the used one.
    #[cold]
    #[inline(never)]
    fn next_block(&mut self, back: &Back<T>) {
        let old = self.front;
        self.head = 0;
        if old.is_null() {
            self.front = back.first.load(Ordering::Acquire);
            return;
        }
        // SAFETY: `old` is live; a message follows its last cell, so the
        // tail moved on and linked the next block (invariant 3).
        self.front = unsafe { Block::next(old) };
        debug_assert!(!self.front.is_null());
        // SAFETY: every cell of `old` was read and no sender touches it
        // again (invariant 4): reset it and offer it as the spare.
        unsafe {
            (*old).next.store(ptr::null_mut(), Ordering::Relaxed);
            let prev = back.spare.swap(old, Ordering::AcqRel);
            if !prev.is_null() {
                Block::free(prev);
            }
        }
    }

    /// Takes every buffered message out, in order (the last receiver is
    /// gone and `fast` is cleared: nothing is pushed any more).
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        let mut slot = Slot::empty();
        while self.pop_into(&mut slot) {
            out.push(slot.take());
        }
        out
    }
}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        // SAFETY: no handle of the channel is left, so nothing else
        // touches the `Back`; it came from `Box::leak` in `new`.
        let back = unsafe { Box::from_raw(self.back.as_ptr()) };
        let mut left = back.pushed.load(Ordering::Relaxed) - back.popped.load(Ordering::Relaxed);
        let (mut block, mut i) = if self.front.is_null() {
            (back.first.load(Ordering::Relaxed), 0)
        } else {
            (self.front, self.head as usize)
        };
        while left > 0 {
            if i == Self::CELLS as usize {
                // SAFETY: messages remain, so the block is followed by the
                // one holding them (invariant 3).
                (block, i) = (unsafe { Block::next(block) }, 0);
            }
            // SAFETY: the cells from (`front`, `head`) hold the `left`
            // messages (invariant 3); each is dropped once.
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
        let spare = back.spare.load(Ordering::Relaxed);
        if !spare.is_null() {
            // SAFETY: the spare is empty and in no chain (invariant 4).
            unsafe { Block::free(spare) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn push<T>(l: &List<T>, v: T) {
        l.back_ref().push_locked(&mut Slot::new(v));
    }

    fn pop<T>(l: &mut List<T>) -> Option<T> {
        let mut s = Slot::empty();
        l.pop_into(&mut s).then(|| s.take())
    }

    /// Blocks a list holds: from its front (or first) block to its tail
    /// block, and the spare.
    fn blocks<T>(l: &List<T>) -> usize {
        let back = l.back_ref();
        let mut block = if l.front.is_null() {
            back.first.load(Ordering::Relaxed)
        } else {
            l.front
        };
        let mut n = usize::from(!back.spare.load(Ordering::Relaxed).is_null());
        while !block.is_null() {
            n += 1;
            // SAFETY: a live block of the list (the test owns it).
            block = unsafe { Block::next(block) };
        }
        n
    }

    /// The list is no bigger than the ring, so the buffer (and with it
    /// the channel's layout, `channel::Channel`) is the same for both.
    #[test]
    fn a_list_is_no_bigger_than_a_ring() {
        use super::super::buffer::Buffer;
        assert!(std::mem::size_of::<List<u64>>() <= 32);
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
        let mut l = List::new();
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
        let mut l = List::new();
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

    /// A receive that finds the list empty stops lock-free sends until a
    /// push under the channel's lock starts them again (invariant 2); a
    /// receive that finds a message leaves them be.
    #[test]
    fn an_empty_receive_stops_lock_free_sends() {
        let mut l = List::new();
        let mut s = Slot::new(1u8);
        assert!(l.back_ref().push_fast(&mut s), "open and nobody waits");
        assert_eq!(pop(&mut l), Some(1));
        assert_eq!(pop(&mut l), None);
        let mut s = Slot::new(2u8);
        assert!(!l.back_ref().push_fast(&mut s), "a receiver may wait now");
        l.back_ref().push_locked(&mut s);
        assert!(l.is_ready());
        let mut s = Slot::new(3u8);
        assert!(l.back_ref().push_fast(&mut s));
        assert_eq!(pop(&mut l), Some(2));
        assert_eq!(pop(&mut l), Some(3));
        assert!(!l.is_ready());
        assert!(!l.back_ref().push_fast(&mut Slot::new(4u8)));
        l.back_ref().push_locked(&mut Slot::new(5u8));
        l.back_ref().stop_fast();
        assert!(!l.back_ref().push_fast(&mut Slot::new(6u8)));
        assert_eq!(l.take_all(), vec![5]);
    }
}
