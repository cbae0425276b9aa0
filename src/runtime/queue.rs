//! The per-worker run queue: a fixed-capacity, lock-free work-stealing ring.
//!
//! One worker owns the queue through [`Local`]: it alone pushes to the tail
//! and pops from the head. Any number of other workers hold a [`Steal`]
//! handle and take about half of the queued tasks at once from the head
//! (Go's `runqsteal`, tokio's `steal_into`). When the ring is full, the owner
//! moves half of it plus the new task to the caller's overflow (the global
//! injection queue) in one batch, like Go's `runqputslow`.
//!
//! # Layout
//!
//! The ring has [`LOCAL_QUEUE_CAPACITY`] slots (a power of two). Positions
//! are free-running `u32` counters that wrap; a position `p` lives in slot
//! `p & MASK`. Two atomics describe the contents:
//!
//! ```text
//!  head: AtomicU64 = | steal: u32 (bits 63..32) | real: u32 (bits 31..0) |
//!  tail: AtomicU32 = one past the newest task
//!
//!           steal        real                     tail
//!    ... ----+-----------+------------------------+---- ...
//!            | claimed by|  queued: the owner pops |  free
//!            | one thief |  here, thieves claim    |
//!            | (copying) |  from here              |
//! ```
//!
//! - `[real, tail)` are the queued tasks: initialised slots nobody else reads.
//! - `[steal, real)` is non-empty only while one thief copies the tasks it
//!   claimed out of the ring. Those slots are still initialised and the
//!   owner must not overwrite them, so "full" is measured from `steal`, not
//!   from `real`.
//! - while the overflow closure runs, the batch it was given (positions the
//!   owner's CAS moved both `steal` and `real` past) is still initialised
//!   until the [`Overflow`] iterator hands each task out; the owner is
//!   borrowed by `push` meanwhile, so nothing can overwrite it.
//! - every other slot is logically uninitialised (it may hold the bits of a
//!   task that was moved out; those are never dropped again).
//!
//! # Invariants
//!
//! 1. `steal <= real <= tail` and `tail - steal <= CAPACITY` (in wrapping
//!    arithmetic). Only [`Local`] writes `tail`; every writer of `head` uses
//!    compare-and-swap.
//! 2. At most one steal is in progress: a thief may only claim when
//!    `steal == real`, and a claim makes `steal != real` until the thief
//!    releases it.
//! 3. Every task is moved out of its slot exactly once: by the owner's `pop`
//!    or overflow, or by the one thief whose claim covers it. Each of those
//!    first wins a CAS on `head` that moves `real` past the slot.
//!
//! # Protocol
//!
//! Who writes which field:
//!
//! | field       | written by                                              |
//! |-------------|---------------------------------------------------------|
//! | `tail`      | the owner only (`push`): a plain `store(Release)`       |
//! | `head.real` | CAS: the owner (`pop`, overflow), a thief's claim        |
//! | `head.steal`| CAS: the owner only while no steal runs; else the thief  |
//! |             | that claimed, when it releases                          |
//! | slot `p`    | the owner, for `p` in `[tail, steal + CAPACITY)`; read   |
//! |             | by whoever's CAS moved `real` past `p`                  |
//!
//! **Push** (owner): read `head`; if `tail - steal < CAPACITY`, write the
//! slot at `tail`, then publish with `tail.store(tail + 1, Release)`.
//! Otherwise, if a steal is running (`steal != real`), the ring will have
//! room in a moment; rather than wait for a thief (which may not be running:
//! never spin on a peer), hand only the new task to the overflow. Otherwise
//! CAS `head` from `(real, real)` to `(real + CAP/2, real + CAP/2)`, which
//! claims the oldest half for the owner, and pass those tasks plus the new
//! one to the overflow. If that CAS fails a thief took tasks, so retry the
//! push from the start: it now has room.
//!
//! **Pop** (owner): CAS `head` so that `real` moves one forward (and
//! `steal` with it when no steal is running); the task at the old `real` is
//! then the owner's.
//!
//! **Steal** (thief), in numbered steps:
//!
//! 1. Load `head`. If `steal != real` another thief is copying; give up.
//! 2. Load `tail` (Acquire: the owner's slot writes before its `Release`
//!    store become visible), and pick `n = ceil((tail - real) / 2)`, capped
//!    by the room in the thief's own queue.
//! 3. CAS `head` from `(real, real)` to `(real, real + n)`. Success claims
//!    `[real, real + n)`; the owner keeps popping at `real + n` meanwhile.
//! 4. Move the claimed tasks into the thief's own ring past its tail (its
//!    own, so nobody else touches those slots), keeping the newest one to
//!    return.
//! 5. Release the claim: CAS `head` from `(steal, r)` to `(r, r)`, where `r`
//!    is the current `real` (the owner may have popped since; retry with the
//!    new value until it succeeds; only the owner can interfere here).
//! 6. Publish the moved tasks in the thief's own queue with
//!    `tail.store(Release)`.
//!
//! # ABA
//!
//! Every CAS compares the whole `(steal, real)` word. Positions only grow
//! (mod 2^32), so a CAS could wrongly succeed only if `head` went through
//! exactly 2^32 pops or claims between a thread's load and its CAS. That
//! would need four billion operations while a thread sits between two
//! adjacent instructions; as in tokio and Go, we accept that as impossible.
//! The ring capacity is far below 2^31, so wrapping differences like
//! `tail - real` are unambiguous.
//!
//! # Memory orderings
//!
//! Three edges carry all the synchronisation on slot contents:
//!
//! - **publish**: the owner's slot write, then `tail.store(Release)`, pairs
//!   with a thief's `tail.load(Acquire)` (step 2) before it reads the slot.
//!   The same edge on the thief's own queue (step 6) publishes what it moved.
//! - **reuse**: a thief's slot reads, then its release CAS (step 5,
//!   `Release`), pair with the owner's `head.load(Acquire)` in push before it
//!   overwrites those slots.
//! - the owner's own pops and overflow read slots it wrote itself.
//!
//! The owner's `Acquire` load may read a later `head` than the thief's
//! release (say, after the owner's next pop). That still synchronises,
//! because every write to `head` after initialisation is a CAS: a
//! read-modify-write continues the release sequence. **Never add a plain
//! store to `head`.** The claim, pop and overflow CASes would be correct
//! with `Relaxed` (loom agrees); they use `AcqRel` as tokio does, which is
//! free on x86 and keeps `head` reasoning uniform.

use std::fmt;
use std::iter::FusedIterator;
use std::mem::MaybeUninit;
use std::ptr;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in each worker's ring: Go's `runq` and tokio also use 256.
#[cfg(not(loom))]
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;

/// Slots in each worker's ring: tiny under loom, so that models reach the
/// full and overflow paths with few operations.
#[cfg(loom)]
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 4;

/// `LOCAL_QUEUE_CAPACITY` as a position difference.
const CAPACITY: u32 = LOCAL_QUEUE_CAPACITY as u32;

/// Maps a position to its slot: `position & MASK`.
const MASK: u32 = CAPACITY - 1;

/// How many of the oldest tasks a full ring hands to the overflow (the new
/// task comes on top).
const OVERFLOW_HALF: u32 = CAPACITY / 2;

const _: () = {
    assert!(LOCAL_QUEUE_CAPACITY.is_power_of_two());
    assert!(LOCAL_QUEUE_CAPACITY >= 2);
    // Wrapping differences of `u32` positions are only unambiguous if the
    // ring is at most half the position space.
    assert!(LOCAL_QUEUE_CAPACITY <= 1 << 31);
};

/// The owner's handle: pushes and pops. There is exactly one per queue, so
/// every method that moves `tail` takes `&mut self`. `Send` (and `Sync`,
/// harmlessly: `&Local` only reads atomics) when `T: Send`.
pub(crate) struct Local<T> {
    inner: Arc<Inner<T>>,
}

/// A thief's handle: steals half of the queue into the thief's own
/// [`Local`]. Cheap to clone; every worker keeps one per peer. `Send + Sync`
/// when `T: Send` (it only ever moves tasks, never shares a `&T`).
pub(crate) struct Steal<T>(Arc<Inner<T>>);

/// The ring shared by the owner and the thieves.
struct Inner<T> {
    /// Packed `(steal, real)` positions, see [`Head`]. `real` is the next
    /// task to pop or claim; `steal` trails it while one thief copies
    /// `[steal, real)` out. Written only by CAS, by the owner and thieves.
    head: AtomicU64,

    /// One past the newest task. Written only by the owner (plain store,
    /// `Release`, after the slot is written); read by thieves with `Acquire`.
    tail: AtomicU32,

    /// The slots. Slot `p & MASK` holds position `p`; it holds a live task
    /// when `p` is in `[steal, tail)` or in an [`Overflow`] batch not yet
    /// handed out, and is logically uninitialised otherwise (module docs).
    buffer: Box<[UnsafeCell<MaybeUninit<T>>; LOCAL_QUEUE_CAPACITY]>,
}

// SAFETY: `Inner` moves `T`s between threads (a thief takes tasks the owner
// pushed) but never shares a `&T`: each task is accessed by one thread at a
// time, handed over by the protocol in the module docs, so `T: Send` is
// enough for both. The atomics are `Send + Sync` already.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above; concurrent access to a slot is ruled out by the
// `head`/`tail` protocol, never by `T`.
unsafe impl<T: Send> Sync for Inner<T> {}

/// The packed value of [`Inner::head`]:
///
/// ```text
/// bit 63            32 31             0
///     |    steal      |      real      |
/// ```
///
/// `steal == real` means no steal is in progress.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Head(u64);

/// Where `steal` sits in [`Head`].
const STEAL_SHIFT: u32 = 32;

/// Selects `real` in [`Head`].
const REAL_MASK: u64 = u32::MAX as u64;

impl Head {
    #[inline]
    fn new(steal: u32, real: u32) -> Head {
        Head(((steal as u64) << STEAL_SHIFT) | real as u64)
    }

    /// The oldest slot still being copied by a thief (`== real` if none).
    #[inline]
    fn steal(self) -> u32 {
        (self.0 >> STEAL_SHIFT) as u32
    }

    /// The next task to pop or claim.
    #[inline]
    fn real(self) -> u32 {
        (self.0 & REAL_MASK) as u32
    }
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Head(steal: {}, real: {})", self.steal(), self.real())
    }
}

/// Creates an empty queue and returns the thieves' handle and the owner's.
pub(crate) fn local<T>() -> (Steal<T>, Local<T>) {
    local_at(0)
}

/// Creates an empty queue whose positions start at `position` (tests use a
/// start near `u32::MAX` to exercise wrap-around).
fn local_at<T>(position: u32) -> (Steal<T>, Local<T>) {
    let buffer: Box<[UnsafeCell<MaybeUninit<T>>]> = (0..LOCAL_QUEUE_CAPACITY)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let buffer: Box<[_; LOCAL_QUEUE_CAPACITY]> = match buffer.try_into() {
        Ok(buffer) => buffer,
        Err(_) => unreachable!("collected exactly LOCAL_QUEUE_CAPACITY slots"),
    };
    let inner = Arc::new(Inner {
        head: AtomicU64::new(Head::new(position, position).0),
        tail: AtomicU32::new(position),
        buffer,
    });
    (Steal(inner.clone()), Local { inner })
}

// ===== impl Local =====

impl<T> Local<T> {
    /// Pushes `task` to the tail.
    ///
    /// When the ring is full, calls `overflow` once with an [`Overflow`]
    /// iterator and returns when the call does: either the oldest
    /// `LOCAL_QUEUE_CAPACITY / 2` tasks in FIFO order followed by `task`, or,
    /// if a thief is busy emptying part of the ring at that moment, `task`
    /// alone. The iterator reads the tasks straight out of the ring, without
    /// allocating; whatever the closure leaves unconsumed is dropped with
    /// it. `overflow` must not touch this queue (it cannot: `self` is
    /// borrowed).
    #[inline]
    pub(crate) fn push_back_or_overflow(
        &mut self,
        task: T,
        overflow: impl FnOnce(Overflow<'_, T>),
    ) {
        // Only this handle writes `tail`, so a relaxed load reads our own
        // latest store.
        let tail = self.inner.tail.load(Ordering::Relaxed);
        loop {
            // Acquire: the "reuse" edge. Pairs with a thief's release CAS
            // (step 5), so its reads of the slots it copied happen before
            // we overwrite them below.
            let head = Head(self.inner.head.load(Ordering::Acquire));
            if tail.wrapping_sub(head.steal()) < CAPACITY {
                // SAFETY: `tail - steal < CAPACITY`, so position `tail` is
                // outside `[steal, tail)`: its slot holds no task and no
                // thief reads it (thieves read only below `tail`, which we
                // have not published yet). We are the only writer.
                unsafe { self.write_slot(tail, task) };
                // Release: the "publish" edge, pairs with step 2.
                self.inner
                    .tail
                    .store(tail.wrapping_add(1), Ordering::Release);
                return;
            }
            if head.steal() != head.real() {
                // A thief is copying `[steal, real)` and will free room
                // shortly; don't wait for it (it may not be running).
                overflow(Overflow::single(&self.inner, task));
                return;
            }
            match self.claim_overflow(head, tail) {
                Some(start) => {
                    overflow(Overflow {
                        inner: &self.inner,
                        next: start,
                        end: start.wrapping_add(OVERFLOW_HALF),
                        task: Some(task),
                    });
                    return;
                }
                // A thief claimed tasks since our load: there is room now.
                None => continue,
            }
        }
    }

    /// Claims the oldest `OVERFLOW_HALF` tasks of a full ring with no steal
    /// running (`head` is `(real, real)` as loaded). Returns the first
    /// claimed position, or `None` if a thief changed `head` first.
    #[cold]
    fn claim_overflow(&mut self, head: Head, tail: u32) -> Option<u32> {
        let real = head.real();
        debug_assert_eq!(tail.wrapping_sub(real), CAPACITY, "{head:?}");
        let next = real.wrapping_add(OVERFLOW_HALF);
        // AcqRel is stronger than needed (see "Memory orderings": we wrote
        // these slots ourselves, and the `Acquire` load in `push` already
        // synchronised with the last thief). On failure we loop back to
        // that load, so the failure ordering can be `Relaxed`.
        self.inner
            .head
            .compare_exchange(
                head.0,
                Head::new(next, next).0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| real)
    }

    /// Takes the oldest task, if any.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<T> {
        // Relaxed: only this handle writes `tail` (see `push`).
        let tail = self.inner.tail.load(Ordering::Relaxed);
        let mut head = Head(self.inner.head.load(Ordering::Acquire));
        let position = loop {
            let real = head.real();
            if real == tail {
                return None;
            }
            let next_real = real.wrapping_add(1);
            // Move `steal` along only if no steal is running; a running
            // thief still owns `[steal, real)` and releases it itself.
            let next = if head.steal() == real {
                Head::new(next_real, next_real)
            } else {
                Head::new(head.steal(), next_real)
            };
            // `Relaxed` would do (see "Memory orderings": the slot at
            // `real` was written by this thread and no thief reads at or
            // above `real`); `AcqRel` as for every CAS on `head`.
            match self.inner.head.compare_exchange(
                head.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break real,
                Err(actual) => head = Head(actual),
            }
        };
        // SAFETY: our CAS moved `real` past `position`, which was in
        // `[real, tail)`: the slot is initialised, no thief can claim it any
        // more, and the owner (us) will not overwrite it before `steal`
        // passes it, which needs this read to be done.
        Some(unsafe { self.inner.read_slot(position) })
    }

    /// Calls `f` on the task the next `pop` would take, if the queue looks
    /// non-empty, for a hint such as a prefetch of its memory. A thief may
    /// take that task meanwhile (and run it, and free it): `f` may look at
    /// the handle itself, never use what it points to.
    #[inline]
    pub(crate) fn peek_next<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        // Relaxed: only this handle writes `tail`, and a stale `real` only
        // makes the hint stale.
        let tail = self.inner.tail.load(Ordering::Relaxed);
        let real = Head(self.inner.head.load(Ordering::Relaxed)).real();
        if real == tail {
            return None;
        }
        self.inner.buffer[(real & MASK) as usize].with(|slot| {
            // SAFETY: `real != tail`, so this owner wrote the slot at
            // `real`, and only the owner (this thread, inside this call)
            // ever writes a slot: its bytes are an initialised `T` for the
            // whole call, even if a thief copies it out meanwhile (a read,
            // like this one). `f` is told not to use the task itself.
            Some(f(unsafe { (*slot).assume_init_ref() }))
        })
    }

    /// Tasks the owner can still pop (a steal in progress has already taken
    /// its share).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let head = Head(self.inner.head.load(Ordering::Acquire));
        // Relaxed: only this handle writes `tail`.
        let tail = self.inner.tail.load(Ordering::Relaxed);
        tail.wrapping_sub(head.real()) as usize
    }

    /// Whether [`Local::pop`] would find nothing right now.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes that would succeed without overflowing right now (slots a
    /// thief is still copying out count as used, so this can be less than
    /// `LOCAL_QUEUE_CAPACITY - len()`, and it only grows until the owner
    /// pushes again).
    #[inline]
    pub(crate) fn remaining_slots(&self) -> usize {
        let head = Head(self.inner.head.load(Ordering::Acquire));
        // Relaxed: only this handle writes `tail`.
        let tail = self.inner.tail.load(Ordering::Relaxed);
        (CAPACITY - tail.wrapping_sub(head.steal())) as usize
    }

    /// Moves `task` into the slot of `position`.
    ///
    /// # Safety
    ///
    /// Must be called through the owner's handle, for a position whose slot
    /// no other thread can access until a later `Release` store of `tail`
    /// publishes it, and whose slot holds no live task (it is overwritten
    /// without being dropped).
    #[inline]
    unsafe fn write_slot(&mut self, position: u32, task: T) {
        self.inner.buffer[(position & MASK) as usize].with_mut(|slot| {
            // SAFETY: the caller guarantees exclusive access to the slot;
            // `slot` points into the live buffer.
            unsafe { ptr::write(slot, MaybeUninit::new(task)) }
        })
    }
}

impl<T> Drop for Local<T> {
    /// Drops every task still queued, each exactly once. Tasks a thief is
    /// copying out at this moment are the thief's to run or drop. If a
    /// task's destructor panics, the tasks after it leak (never double-drop).
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}

impl<T> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

// ===== impl Inner =====

impl<T> Inner<T> {
    /// Moves the task out of the slot of `position`.
    ///
    /// # Safety
    ///
    /// The slot must hold an initialised task that the caller alone owns:
    /// it won the CAS on `head` that moved `real` past `position`, and
    /// `steal` has not yet passed it (so the owner does not overwrite it).
    /// The slot is logically uninitialised afterwards.
    #[inline]
    unsafe fn read_slot(&self, position: u32) -> T {
        self.buffer[(position & MASK) as usize].with(|slot| {
            // SAFETY: the caller guarantees the slot is initialised and that
            // nobody else reads or writes it concurrently; it is read once.
            unsafe { ptr::read(slot).assume_init() }
        })
    }
}

impl<T> fmt::Debug for Inner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("queue")
            .field("head", &Head(self.head.load(Ordering::Relaxed)))
            .field("tail", &self.tail.load(Ordering::Relaxed))
            .finish()
    }
}

// ===== impl Steal =====

impl<T> Steal<T> {
    /// Steals about half (rounded up) of this queue's tasks into `dst`, the
    /// thief's own queue, and returns one of them to run now.
    ///
    /// Takes fewer if `dst` has less room: at most `dst.remaining_slots() +
    /// 1` (the returned task needs no slot). Returns `None` if the queue is
    /// empty, another thief is stealing from it right now, or `dst` is this
    /// same queue.
    #[inline]
    pub(crate) fn steal_into(&self, dst: &mut Local<T>) -> Option<T> {
        if ptr::eq(&*self.0, &*dst.inner) {
            return None;
        }
        // Relaxed: `dst` is ours, we are its only `tail` writer.
        let dst_tail = dst.inner.tail.load(Ordering::Relaxed);
        // Room in `dst` plus one for the task we return. Thieves of `dst`
        // can only make more room meanwhile, so this is a safe bound.
        let max = dst.remaining_slots() as u32 + 1;
        let (first, n) = self.claim(max)?;

        // Step 4: move `[first, first + n - 1)` into `dst` and keep the
        // newest task of the batch to return.
        for i in 0..n - 1 {
            // SAFETY: [1] our claim CAS moved `real` past `first + i`, and
            // `steal` stays at `first` until our release below, so the slot
            // is initialised and ours alone; we read it once.
            let task = unsafe { self.0.read_slot(first.wrapping_add(i)) };
            // SAFETY: [2] `dst` is our own queue (not this one, checked
            // above), `n - 1 <= dst.remaining_slots()` slots past its tail
            // are free, and nobody reads them before the `tail` store below.
            unsafe { dst.write_slot(dst_tail.wrapping_add(i), task) };
        }
        // SAFETY: as [1], for the last claimed position.
        let task = unsafe { self.0.read_slot(first.wrapping_add(n - 1)) };

        // Step 5: the slots are copied; let the owner reuse them.
        self.release(first);

        // Step 6. Release: publishes the slot writes to thieves of `dst`.
        if n > 1 {
            dst.inner
                .tail
                .store(dst_tail.wrapping_add(n - 1), Ordering::Release);
        }
        Some(task)
    }

    /// Steps 1 to 3: claims up to `max` (at least 1) of the oldest tasks,
    /// about half of the queue. Returns the first claimed position and how
    /// many were claimed (`n >= 1`), leaving `head` as `(first, first + n)`;
    /// the caller must copy them out and then call [`Steal::release`].
    #[inline]
    fn claim(&self, max: u32) -> Option<(u32, u32)> {
        // Acquire on `head`: when the owner wrote this value (a pop, with
        // Release), the `tail` we load next is at least its `real`. Not
        // needed for safety: the `available > CAPACITY` check below also
        // catches a `tail` older than `head`.
        let mut head = Head(self.0.head.load(Ordering::Acquire));
        loop {
            // Step 1: one steal at a time.
            if head.steal() != head.real() {
                return None;
            }
            // Step 2. Acquire: pairs with the owner's `Release` store of
            // `tail`, so the slot writes below `tail` are visible to us.
            let tail = self.0.tail.load(Ordering::Acquire);
            let available = tail.wrapping_sub(head.real());
            if available > CAPACITY {
                // The owner popped and pushed past our stale `head`; the
                // CAS would fail anyway, so reload first.
                head = Head(self.0.head.load(Ordering::Acquire));
                continue;
            }
            let n = (available - available / 2).min(max);
            if n == 0 {
                return None;
            }
            // Step 3. The slots' contents are ours through the `tail` load
            // above, so `Relaxed` would do; `AcqRel` as for every CAS on
            // `head` (see "Memory orderings").
            let next = Head::new(head.real(), head.real().wrapping_add(n));
            match self
                .0
                .head
                .compare_exchange(head.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some((head.real(), n)),
                Err(actual) => head = Head(actual),
            }
        }
    }

    /// Step 5: ends the steal that claimed from `first`, letting the owner
    /// reuse the copied slots.
    #[inline]
    fn release(&self, first: u32) {
        let mut head = Head(self.0.head.load(Ordering::Acquire));
        loop {
            // Only the owner's `pop` (which moves `real`) can change `head`
            // during our claim: other thieves and the overflow path back off
            // while `steal != real`.
            debug_assert_eq!(head.steal(), first, "{head:?}");
            debug_assert_ne!(head.steal(), head.real(), "{head:?}");
            let real = head.real();
            // Release: the "reuse" edge. Our slot reads happen before the
            // owner's next writes to those slots (it loads `head` with
            // Acquire before each push). Acquire: uniform with the others.
            match self.0.head.compare_exchange(
                head.0,
                Head::new(real, real).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => head = Head(actual),
            }
        }
    }

    /// Whether the queue holds no task that could be stolen or popped.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the number of queued tasks (stale as soon as it
    /// returns; tasks a thief is copying out are not counted).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        // `head` first: `real` never passes `tail`, and `tail` only grows,
        // so the later `tail` load is at or past this `real`.
        let head = Head(self.0.head.load(Ordering::Acquire));
        let tail = self.0.tail.load(Ordering::Acquire);
        // The owner may have popped and pushed between the loads.
        tail.wrapping_sub(head.real()).min(CAPACITY) as usize
    }
}

impl<T> Clone for Steal<T> {
    fn clone(&self) -> Steal<T> {
        Steal(self.0.clone())
    }
}

impl<T> fmt::Debug for Steal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// ===== impl Overflow =====

/// The batch a full [`Local`] hands to the overflow closure of
/// [`Local::push_back_or_overflow`]: the claimed oldest tasks in FIFO
/// order, then the task being pushed. Reads tasks straight out of the ring;
/// dropping it drops the tasks not yet taken.
pub(crate) struct Overflow<'a, T> {
    /// The ring the claimed tasks live in (not read when `next == end`).
    inner: &'a Inner<T>,
    /// Next claimed position to hand out.
    next: u32,
    /// One past the last claimed position; `next == end` when exhausted.
    end: u32,
    /// The task being pushed, handed out last.
    task: Option<T>,
}

impl<'a, T> Overflow<'a, T> {
    /// A batch of just `task`: the claimed range is empty, so the ring's
    /// tasks stay where they are.
    #[inline]
    fn single(inner: &'a Inner<T>, task: T) -> Overflow<'a, T> {
        Overflow {
            inner,
            next: 0,
            end: 0,
            task: Some(task),
        }
    }
}

impl<T> Iterator for Overflow<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.next != self.end {
            let position = self.next;
            self.next = position.wrapping_add(1);
            // SAFETY: `[next, end)` was claimed by the owner's overflow CAS,
            // which moved both `steal` and `real` past it: the slots are
            // initialised, thieves cannot reach them, and the owner cannot
            // overwrite them while `self` borrows its `Local`. Each position
            // is read once, since `next` moves past it.
            return Some(unsafe { self.inner.read_slot(position) });
        }
        self.task.take()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.wrapping_sub(self.next) as usize + usize::from(self.task.is_some());
        (n, Some(n))
    }
}

impl<T> ExactSizeIterator for Overflow<'_, T> {}

impl<T> FusedIterator for Overflow<'_, T> {}

impl<T> Drop for Overflow<'_, T> {
    fn drop(&mut self) {
        for task in self.by_ref() {
            drop(task);
        }
    }
}

impl<T> fmt::Debug for Overflow<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overflow")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::VecDeque;
    use std::thread;

    use proptest::prelude::*;

    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};

    const CAP: usize = LOCAL_QUEUE_CAPACITY;

    fn push<T>(q: &mut Local<T>, task: T) {
        q.push_back_or_overflow(task, |_| panic!("unexpected overflow"));
    }

    fn drain<T>(q: &mut Local<T>) -> Vec<T> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    /// A task that counts its drops in `counts[id]`.
    struct Counted(usize, Arc<Vec<AtomicUsize>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1[self.0].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counters(n: usize) -> Arc<Vec<AtomicUsize>> {
        Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
    }

    fn assert_each_dropped_once(counts: &[AtomicUsize]) {
        for (id, c) in counts.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), 1, "task {id}");
        }
    }

    #[test]
    fn auto_traits() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Steal<Box<u32>>>();
        send_sync::<Local<Box<u32>>>();
        send_sync::<Overflow<'_, Box<u32>>>();
    }

    #[test]
    fn push_pop_fifo() {
        let (steal, mut q) = local();
        assert!(q.is_empty() && steal.is_empty() && q.pop().is_none());
        for round in 0..3u32 {
            for i in 0..100 {
                push(&mut q, round * 100 + i);
            }
            assert_eq!((q.len(), steal.len()), (100, 100));
            assert_eq!(q.remaining_slots(), CAP - 100);
            assert_eq!(
                drain(&mut q),
                (round * 100..round * 100 + 100).collect::<Vec<_>>()
            );
        }
        assert!(q.is_empty() && steal.is_empty());
    }

    #[test]
    fn overflow_moves_half_plus_one_in_order() {
        // Start just below the wrap so positions cross `u32::MAX`.
        let (_steal, mut q) = local_at(u32::MAX - 10);
        for i in 0..CAP {
            push(&mut q, i);
        }
        assert_eq!(q.remaining_slots(), 0);
        let mut batch = Vec::new();
        q.push_back_or_overflow(CAP, |tasks| {
            assert_eq!(tasks.len(), CAP / 2 + 1);
            batch.extend(tasks);
        });
        let mut expected: Vec<_> = (0..CAP / 2).collect();
        expected.push(CAP);
        assert_eq!(batch, expected);
        assert_eq!((q.len(), q.remaining_slots()), (CAP / 2, CAP / 2));
        assert_eq!(drain(&mut q), (CAP / 2..CAP).collect::<Vec<_>>());
    }

    #[test]
    fn overflow_drops_what_the_closure_leaves() {
        let counts = counters(CAP + 1);
        let (_steal, mut q) = local();
        for i in 0..CAP {
            push(&mut q, Counted(i, counts.clone()));
        }
        q.push_back_or_overflow(Counted(CAP, counts.clone()), |mut tasks| {
            assert_eq!(tasks.next().map(|t| t.0), Some(0));
        });
        drop(q);
        assert_each_dropped_once(&counts);
    }

    #[test]
    fn steal_takes_half() {
        let (steal, mut q) = local();
        let (_, mut dst) = local();
        for i in 0..11 {
            push(&mut q, i);
        }
        // ceil(11 / 2) = 6: five land in `dst`, the newest is returned.
        assert_eq!(steal.steal_into(&mut dst), Some(5));
        assert_eq!(drain(&mut dst), vec![0, 1, 2, 3, 4]);
        assert_eq!(drain(&mut q), (6..11).collect::<Vec<_>>());
        assert_eq!(steal.steal_into(&mut dst), None);
        push(&mut q, 42);
        assert_eq!(steal.steal_into(&mut dst), Some(42));
        assert!(q.is_empty() && dst.is_empty());
    }

    #[test]
    fn steal_is_limited_by_room_in_dst() {
        let (steal, mut q) = local();
        let (dst_steal, mut dst) = local();
        for i in 0..CAP {
            push(&mut q, i);
            push(&mut dst, CAP + i);
        }
        // `dst` is full: only the returned task is taken.
        assert_eq!(steal.steal_into(&mut dst), Some(0));
        for _ in 0..2 {
            dst.pop();
        }
        // Two free slots: three taken.
        assert_eq!(steal.steal_into(&mut dst), Some(3));
        assert_eq!((q.len(), dst.len()), (CAP - 4, CAP));
        // Stealing from oneself is refused.
        assert_eq!(dst_steal.steal_into(&mut dst), None);
    }

    #[test]
    fn drop_drops_each_remaining_task_once() {
        let counts = counters(3 * CAP / 2);
        let (steal, mut q) = local_at(u32::MAX - 5);
        let (_, mut dst) = local();
        for i in 0..CAP {
            push(&mut q, Counted(i, counts.clone()));
        }
        drop(q.pop());
        drop(steal.steal_into(&mut dst));
        for i in CAP..3 * CAP / 2 {
            push(&mut dst, Counted(i, counts.clone()));
        }
        drop((q, dst, steal));
        assert_each_dropped_once(&counts);
    }

    /// One owner pushes (overflowing when full) and pops 100k boxed tasks
    /// while two thieves steal into their own queues and run what they got.
    #[test]
    fn stress_one_owner_two_thieves() {
        const N: u32 = 100_000;
        let (steal, mut q) = local::<Box<u32>>();
        let (ready, done) = (AtomicUsize::new(0), AtomicBool::new(false));
        let seen = thread::scope(|s| {
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let (steal, ready, done) = (steal.clone(), &ready, &done);
                    s.spawn(move || {
                        let (_, mut own) = local();
                        let mut seen = Vec::new();
                        ready.fetch_add(1, Ordering::Relaxed);
                        loop {
                            if let Some(task) = steal.steal_into(&mut own) {
                                seen.push(*task);
                                seen.extend(drain(&mut own).into_iter().map(|t| *t));
                            } else if done.load(Ordering::Acquire) && steal.is_empty() {
                                return seen;
                            } else {
                                std::hint::spin_loop();
                            }
                        }
                    })
                })
                .collect();
            while ready.load(Ordering::Relaxed) < 2 {
                thread::yield_now();
            }
            let (mut popped, mut overflowed) = (Vec::new(), Vec::new());
            for i in 0..N {
                q.push_back_or_overflow(Box::new(i), |batch| {
                    overflowed.extend(batch.map(|t| *t));
                });
                if i % 2 == 0 {
                    popped.extend(q.pop().map(|t| *t));
                }
                if i % 512 == 0 {
                    thread::yield_now();
                }
            }
            popped.extend(drain(&mut q).into_iter().map(|t| *t));
            done.store(true, Ordering::Release);
            let stolen: Vec<_> = thieves.into_iter().map(|t| t.join().unwrap()).collect();
            [popped, overflowed, stolen.concat()]
        });
        // How the tasks left: `cargo test stress -- --nocapture` shows it.
        let [popped, overflowed, stolen] = seen.each_ref().map(Vec::len);
        println!("popped {popped}, overflowed {overflowed}, stolen {stolen}");
        let mut seen = seen.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..N).collect::<Vec<_>>());
    }

    // ===== model check against two `VecDeque`s =====

    #[derive(Clone, Debug)]
    enum Op {
        /// Push this many new tasks to queue `.0`.
        Push(usize, usize),
        /// Pop from queue `.0`.
        Pop(usize),
        /// Steal from queue `.0` into the other one.
        Steal(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..2usize, 1..CAP + 40).prop_map(|(q, n)| Op::Push(q, n)),
            3 => (0..2usize).prop_map(Op::Pop),
            2 => (0..2usize).prop_map(Op::Steal),
        ]
    }

    /// Start positions: zero, just below the `u32` wrap, or anywhere.
    fn start() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0), Just(u32::MAX - 300), any::<u32>()]
    }

    proptest! {
        #[test]
        fn matches_vecdeque_model(
            starts in (start(), start()),
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let (s0, q0) = local_at(starts.0);
            let (s1, q1) = local_at(starts.1);
            let (steals, mut qs) = ([s0, s1], [q0, q1]);
            let mut models = [VecDeque::new(), VecDeque::new()];
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Push(i, n) => for _ in 0..n {
                        let mut got = None;
                        qs[i].push_back_or_overflow(next, |t| got = Some(t.collect::<Vec<_>>()));
                        let model = &mut models[i];
                        let expected = (model.len() == CAP).then(|| {
                            let mut batch: Vec<_> = model.drain(..CAP / 2).collect();
                            batch.push(next);
                            batch
                        });
                        if expected.is_none() {
                            model.push_back(next);
                        }
                        prop_assert_eq!(got, expected);
                        next += 1;
                    },
                    Op::Pop(i) => prop_assert_eq!(qs[i].pop(), models[i].pop_front()),
                    Op::Steal(i) => {
                        let [a, b] = &mut qs;
                        let dst = if i == 0 { b } else { a };
                        let got = steals[i].steal_into(dst);
                        let [m0, m1] = &mut models;
                        let (src, dstm) = if i == 0 { (m0, m1) } else { (m1, m0) };
                        let n = (src.len() - src.len() / 2).min(CAP - dstm.len() + 1);
                        let mut batch: Vec<_> = src.drain(..n).collect();
                        let expected = batch.pop();
                        dstm.extend(batch);
                        prop_assert_eq!(got, expected);
                    }
                }
                for i in 0..2 {
                    let len = models[i].len();
                    prop_assert_eq!((qs[i].len(), steals[i].len()), (len, len));
                    prop_assert_eq!(qs[i].remaining_slots(), CAP - len);
                    prop_assert_eq!(qs[i].is_empty(), len == 0);
                    prop_assert_eq!(steals[i].is_empty(), len == 0);
                }
            }
        }
    }
}
