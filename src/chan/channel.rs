//! The channel proper: one lock guarding a buffer, two FIFO wait queues and
//! the closed flags, after Go's `hchan`.
//!
//! # Invariants (under the lock)
//!
//! Counting only live waiters (a `select` that completed elsewhere leaves
//! stale waiters behind until it takes them out, `waiter.rs`):
//!
//! 1. At most one of `sendq` and `recvq` holds a live waiter with a slot
//!    (readiness waiters of `Select::ready` aside).
//! 2. A message available in the buffer implies no live receiver waits; a
//!    buffer with room (counting cells reserved by selecting senders,
//!    `pending_send`) implies no live sender waits, plain or selecting
//!    (`refill` serves them in order: a selecting one gets a reserved
//!    cell, which no later sender can take; a receive that comes before
//!    the select has built its value still finds the buffer empty and
//!    may take a later plain sender's message directly).
//! 3. Once `closed` or `no_receivers`, no waiter joins a queue, and the
//!    call that set the flag empties both before it returns (`close`
//!    settles blocked receivers in batches, unlocking between them: until
//!    it is done, a closed channel may still hold some in `recvq`).
//!
//! # Operations
//!
//! Each operation is split into a reserve step, run under the lock, that
//! decides where the message goes and moves it (`try_send_locked`,
//! `try_recv_locked`), and a complete step after unlocking: waking the
//! peer it paired with. Blocking calls, `try_*` calls and `select` share
//! the reserve step (`select.rs` reaches it through `Operand`).
//!
//! * Send: a waiting receiver gets the message directly (even when the
//!   channel is buffered); else the buffer takes it; else the sender blocks
//!   in `sendq` with its message.
//! * Receive: the buffer's head, after which the oldest blocked sender's
//!   message moves to the buffer's tail (FIFO kept); or, unbuffered, the
//!   oldest blocked sender's message; else closed, or the receiver blocks.
//! * Close: sets `closed` and finishes every waiter as CLOSED (receivers get
//!   `Closed` once the buffer is drained; senders take their message back),
//!   senders first, then receivers a batch per lock hold.
//!
//! * Blocking on a buffered channel from an OS thread: the call first
//!   spins a bounded while, lock released, for room or a message (the
//!   queue's counts) and starts over, before it queues a waiter (a green
//!   thread never spins: its peer may be queued on its own worker).
//!
//! A message always moves under the lock, directly to the party that gets
//! it, so a woken party never loses its turn to a newcomer. Nobody is woken
//! while the lock is held (Go's rule): the unparkers are collected and used
//! after unlocking.
//!
//! One exception: a buffered channel's plain send, while nobody waits and
//! nothing is reserved, pushes to the queue's senders' half under that
//! half's own lock instead (`split.rs`, whose invariant 2 says why no
//! waiter can miss it), so that senders and receivers on different cores
//! do not contend for one lock.

use std::time::Instant;

use super::buffer::{Buffer, Senders};
use super::lock::{Guard, Lock};
use super::slot::Slot;
use super::waiter::{
    self, ABANDONED, CLOSED, Claim, DELIVERED, DONE, RESERVED, RETRY, Rendezvous, WaitCell,
    WaitQueue, Waiter,
};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::runtime::parking::{self, Unparker};
use crate::time::due::Due;

/// Blocked receivers `close` settles per lock hold (see `Channel::close`);
/// one under loom, so that the models see the lock released between two.
const CLOSE_BATCH: usize = if cfg!(loom) { 1 } else { 64 };

/// Why an operation did not complete. The message of a failed send stays
/// in the caller's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// A send found the buffer full (or no receiver, unbuffered); a receive
    /// found nothing.
    Full,
    /// The channel is closed (for a receive: closed and drained) or, for a
    /// send, every receiver is gone.
    Closed,
    /// The deadline passed.
    Timeout,
}

/// The state shared by every handle of one channel.
///
/// Layout (`repr(C)`, from a cache-line boundary): the lock word, the
/// closed flags, both wait queues and the buffer's tag fill the first 64
/// bytes, so an operation on an unbuffered channel touches one cache line
/// (the prime sieve makes a hand-off on thousands of channels that are no
/// longer in the core's cache); a buffered one adds the line after it,
/// with the receivers' position in its queue and the reservation count
/// (the senders' half is on the heap, `split.rs`). `layout_tests` checks
/// it.
#[repr(C, align(64))]
pub(crate) struct Channel<T> {
    pub(crate) inner: Lock<Inner<T>>,
    /// Mirrors the length of a small buffer (`small.rs`) for a lock-free
    /// `len` (0 for the others: a split queue's counts are read instead).
    /// Beside the ring's indices, on the line every operation writes
    /// anyway: at the end of the struct it was one more line moving
    /// between cores per message.
    len: AtomicUsize,
    /// Mirrors `inner.closed || inner.no_receivers` for lock-free reads.
    closed: AtomicBool,
    /// `None` when unbounded.
    cap: Option<usize>,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
    /// Made by `never()`: every such channel counts as the same one for
    /// `same_channel` (Go's nil channels compare equal).
    pub(crate) never: bool,
    /// A timer channel (`inner.timer` is set): `len` counts a due fire.
    timed: bool,
    /// A buffered channel's senders' half (`split.rs`), which a plain
    /// send pushes to without the lock while nobody waits; it lives as
    /// long as `inner`'s buffer, which owns it.
    unlocked: Senders<T>,
}

#[repr(C)]
pub(crate) struct Inner<T> {
    closed: bool,
    no_receivers: bool,
    sendq: WaitQueue<T>,
    recvq: WaitQueue<T>,
    /// `repr(u8)`: its tag first.
    buf: Buffer<T>,
    /// Buffer cells reserved by selecting senders that chose this channel
    /// and have not built their value yet.
    pending_send: usize,
    /// A timer channel's schedule (`None` for every other channel): a
    /// receive that finds the channel empty takes a fire already due.
    timer: Option<Box<Timed<T>>>,
}

/// The schedule of a timer channel and how its fire time becomes a message
/// (the identity: only a `Channel<Instant>` has one).
pub(crate) struct Timed<T> {
    pub(crate) due: Due,
    pub(crate) make: fn(Instant) -> T,
}

impl<T> Timed<T> {
    /// Moves a fire due now into `out` (empty); `false` if none is due.
    /// Out of line: its `T` temporary must not weigh on the frame of every
    /// receive (a 64 KiB message on a small green stack).
    #[cold]
    #[inline(never)]
    fn take_due(&mut self, out: &mut Slot<T>) -> bool {
        match self.due.take(Instant::now()) {
            Some(at) => {
                *out = Slot::new((self.make)(at));
                true
            }
            None => false,
        }
    }
}

// SAFETY: the queues hold pointers to waiters on other threads' stacks;
// they are only dereferenced under the lock, following the protocol of
// `waiter.rs`, and carry messages of type `T` between threads: `T: Send`
// suffices, as for a `Mutex<VecDeque<T>>`. `unlocked` points to the
// buffer's senders' half, which lives as long as the channel and is used
// only through its own lock and atomics (`split.rs`).
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above; all shared access goes through the locks or atomics.
unsafe impl<T: Send> Sync for Channel<T> {}

/// What a blocked party waits on, for `Runtime::dump`.
#[cfg(not(loom))]
fn reason(send: bool) -> parking::Reason {
    use crate::runtime::task::WaitReason;
    if send {
        WaitReason::ChanSend
    } else {
        WaitReason::ChanRecv
    }
}

#[cfg(loom)]
fn reason(_send: bool) -> parking::Reason {}

/// Unparkers collected under a lock, used after unlocking (Go's rule:
/// nobody is woken while a channel lock is held). Almost always one or
/// none: the rest is boxed so the common case stays two words to move and
/// nothing to free.
#[derive(Default)]
pub(crate) struct Wakes {
    first: Option<Unparker>,
    // Boxed on purpose: one word (null) in the common case, so the struct
    // moves and drops cheaply on every channel operation.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Unparker>>>,
}

impl Wakes {
    #[inline(always)]
    pub(crate) fn push(&mut self, u: Unparker) {
        if self.first.is_none() {
            self.first = Some(u);
        } else {
            self.rest.get_or_insert_with(Default::default).push(u);
        }
    }

    /// Wakes everyone collected so far, leaving `self` empty, without
    /// moving it (a `Wakes` moved by value right after its small fields
    /// were written is copied by wider loads that the CPU cannot forward
    /// from those stores: a stall on every blocking operation). Call it
    /// once the lock is released.
    #[inline(always)]
    pub(crate) fn fire_in_place(&mut self) {
        if let Some(u) = self.first.take() {
            u.unpark();
        }
        if let Some(rest) = self.rest.take() {
            fire_rest(*rest);
        }
    }

    /// Wakes everyone collected. Call it once the lock is released: that
    /// is the point of collecting.
    #[inline(always)]
    pub(crate) fn fire(mut self) {
        // Not `fire_in_place` then `forget`: that twin compiles worse here
        // (callgrind, one-worker ping-pong: 2.8% more instructions).
        let (first, rest) = (self.first.take(), self.rest.take());
        // Nothing left for `drop`: skip its second look.
        std::mem::forget(self);
        if let Some(u) = first {
            u.unpark();
        }
        if let Some(rest) = rest {
            fire_rest(*rest);
        }
    }
}

/// A `Wakes` fires when dropped, so none is ever lost: an unparker held
/// here belongs to a party already told its outcome (settled), which waits
/// for this wake-up alone. Every path of the channel code fires it
/// explicitly after unlocking; this only makes a path that forgets late,
/// never silent (`Select::ready` once slept to its deadline that way).
impl Drop for Wakes {
    #[inline(always)]
    fn drop(&mut self) {
        self.fire_in_place();
    }
}

/// Releases a channel's lock, then wakes what the locked step collected
/// (Go's rule: nobody is woken under a channel lock).
#[inline(always)]
fn unlock_then_wake<T>(inner: Guard<'_, Inner<T>>, wakes: Wakes) {
    drop(inner);
    wakes.fire();
}

/// The rare tail of [`Wakes::fire`]: several parties woken by one call
/// (a close, readiness waiters, selecting senders told to retry).
#[cold]
#[inline(never)]
fn fire_rest(rest: Vec<Unparker>) {
    crate::runtime::parking::unpark_all(rest);
}

/// Whether a blocking operation of a buffered channel should first spin
/// ([`Channel::spin_until_ready`]) before it queues a waiter: on an OS thread, whose peer
/// runs on another OS thread and usually acts within microseconds (a
/// waiter costs a queue entry, a wake-up and more cache-line transfers; a
/// lock-free channel retries the same way); on a green thread only when
/// nothing else waits to run on its worker (else its peer may be queued
/// behind it, `worker::may_spin`). Never under loom (whose models need no
/// spin).
#[inline]
fn spins_here() -> bool {
    #[cfg(not(loom))]
    return crate::runtime::worker::may_spin();
    #[cfg(loom)]
    false
}

/// The outcome of a receive's reserve step.
pub(crate) enum Got<T> {
    /// The message is in the caller's slot.
    Done,
    /// A selecting sender is claimed: the caller must pair it with a
    /// rendezvous over its slot and wait for the value.
    Pair(Claim<T>),
}

impl<T> Inner<T> {
    /// Whether a send would find no room (counting reserved cells).
    #[inline]
    fn no_room(&self) -> bool {
        self.buf.is_full_with(self.pending_send)
    }

    fn is_closed_for_send(&self) -> bool {
        self.closed || self.no_receivers
    }

    /// The wait queue a waiter is about to join (`send`: `sendq`), for a
    /// blocked call or a select. Taken before the waiter is built (a
    /// blocked call's frame: 8 fewer instructions a ping-pong round trip
    /// than after, callgrind).
    #[inline(always)]
    fn queue_to_join(&mut self, send: bool) -> &mut WaitQueue<T> {
        if send {
            // No plain send may overtake a queued sender (`split.rs`,
            // invariant 2).
            self.buf.stop_fast();
            &mut self.sendq
        } else {
            // A receiver's failed look at the buffer, under this same lock
            // hold, already stopped plain sends from skipping the lock.
            &mut self.recvq
        }
    }

    /// Whether plain sends may skip the lock after a push made under it:
    /// open, nobody queued, no cell reserved (`split.rs`, invariant 2).
    #[inline]
    fn may_go_fast(&self) -> bool {
        !self.is_closed_for_send()
            && self.recvq.is_empty()
            && self.sendq.is_empty()
            && self.pending_send == 0
    }

    /// After room appeared: serves blocked senders in arrival order while
    /// there is room. A plain sender's message moves into the buffer; a
    /// selecting sender (no value built yet) gets a cell reserved for it
    /// (`RESERVED`, counted in `pending_send`), so neither loses its turn
    /// to a sender queued behind it or to a newcomer; a readiness waiter
    /// is told to look again.
    fn refill(&mut self, wakes: &mut Wakes) {
        while !self.no_room() {
            let Some(mut c) = self.sendq.pop() else { break };
            let notify = c.is_notify();
            match c.slot() {
                Some(slot) => {
                    // Room is certain: with a sender queued, no send skips
                    // the lock (`split.rs`, invariant 2).
                    let pushed = self.buf.push_from(slot, false);
                    debug_assert!(pushed, "room vanished under the lock");
                    wakes.push(c.settle(DONE));
                }
                None if notify => wakes.push(c.settle(RETRY)),
                None => {
                    self.pending_send += 1;
                    wakes.push(c.settle(RESERVED));
                }
            }
        }
    }
}

impl<T> Channel<T> {
    pub(crate) fn new(buf: Buffer<T>) -> Channel<T> {
        Channel {
            cap: buf.capacity(),
            unlocked: buf.senders(),
            len: AtomicUsize::new(0),
            inner: Lock::new(Inner {
                buf,
                sendq: WaitQueue::new(),
                recvq: WaitQueue::new(),
                closed: false,
                no_receivers: false,
                pending_send: 0,
                timer: None,
            }),
            closed: AtomicBool::new(false),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            never: false,
            timed: false,
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        let n = match self.unlocked {
            Senders::None => self.len.load(Ordering::Relaxed),
            // SAFETY: the buffer owning it lives as long as `self`.
            _ => unsafe { self.unlocked.len() },
        };
        if n == 0 && self.timed {
            return self.due_len();
        }
        n
    }

    /// A timer channel's `len` when its buffer is empty: 1 if a fire is
    /// due (a receive would take it at once), as crossbeam-channel's timer
    /// flavors count.
    #[cold]
    fn due_len(&self) -> usize {
        let inner = self.inner.lock();
        let due = inner.buf.len() > 0
            || (inner.timer.as_ref()).is_some_and(|t| t.due.is_due(Instant::now()));
        usize::from(due)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether a send (`send`) or receive might complete now, from the
    /// queue's counts, without the lock: `false` only for a buffered channel,
    /// not a timer one, that is open and was full (send) or empty
    /// (receive) when read. A hint: the answer may be stale at once.
    pub(crate) fn may_be_ready(&self, send: bool) -> bool {
        if self.cap == Some(0) || self.timed || self.is_closed() {
            // Unbuffered: a peer may be waiting. Timer: a fire may be due.
            return true;
        }
        let len = self.len();
        match self.cap {
            _ if !send => len > 0,
            Some(cap) => len < cap,
            None => true,
        }
    }

    /// Updates the mirror of a small buffer's length after the locked step
    /// changed it.
    #[inline(always)]
    fn mirror_len(&self, buf: &Buffer<T>) {
        if let Buffer::Small(r) = buf {
            self.len.store(r.len(), Ordering::Relaxed);
        }
    }

    /// A buffered channel's plain send without the lock (`split.rs`):
    /// `true` if it pushed the message in `slot`.
    #[inline(always)]
    fn push_unlocked(&self, slot: &mut Slot<T>) -> bool {
        // SAFETY: the buffer owning it lives as long as `self`.
        unsafe { self.unlocked.push_fast(slot) }
    }

    /// Whether a blocking call first spins for its peer ([`spins_here`]):
    /// only on a buffered channel (an unbuffered one needs the peer to
    /// wait too), and not a timer one (no peer acts on it but its timer).
    fn spins_for_peer(&self) -> bool {
        self.cap != Some(0) && !self.timed && spins_here()
    }

    /// Spins a bounded while (crossbeam's `Backoff`: a few microseconds,
    /// ending in `yield_now`s) until a send (`send`) or receive may
    /// complete ([`Channel::may_be_ready`]).
    fn spin_until_ready(&self, send: bool) {
        let backoff = crossbeam_utils::Backoff::new();
        while !self.may_be_ready(send) && !backoff.is_completed() {
            backoff.snooze();
        }
    }

    /// Waiters queued (stale ones included): `(senders, receivers)`.
    #[cfg(all(test, loom))]
    pub(crate) fn queued(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.sendq.len(), inner.recvq.len())
    }

    /// Reserve step of a send: moves the message out of `slot` to a waiting
    /// receiver or the buffer. Caller holds the lock. On failure the
    /// message stays in `slot`.
    pub(crate) fn send_locked(
        &self,
        inner: &mut Inner<T>,
        slot: &mut Slot<T>,
        wakes: &mut Wakes,
    ) -> Result<(), Fail> {
        if inner.is_closed_for_send() {
            return Err(Fail::Closed);
        }
        while let Some(mut c) = inner.recvq.pop() {
            match c.slot() {
                Some(dst) => {
                    slot.move_to(dst);
                    wakes.push(c.settle(DONE));
                    return Ok(());
                }
                // A readiness waiter: tell it, and look further.
                None => wakes.push(c.settle(RETRY)),
            }
        }
        let reopen = inner.may_go_fast();
        if inner.no_room() || !inner.buf.push_from(slot, reopen) {
            return Err(Fail::Full);
        }
        self.mirror_len(&inner.buf);
        Ok(())
    }

    /// Reserve step of a receive: moves a message into `out` (empty), or
    /// claims a selecting sender to pair with. Caller holds the lock.
    pub(crate) fn recv_locked(
        &self,
        inner: &mut Inner<T>,
        out: &mut Slot<T>,
        wakes: &mut Wakes,
    ) -> Result<Got<T>, Fail> {
        if inner.buf.pop_into(out) {
            if let Some(t) = inner.timer.as_deref_mut() {
                // The fires that fell due while this one sat in the full
                // channel were dropped (the runtime timer may not have run
                // them yet): a tick is never older than the last receive.
                t.due.drop_due(Instant::now());
            }
            // Room now: blocked senders' messages join the tail, moved from
            // their slots straight into the buffer.
            inner.refill(wakes);
            self.mirror_len(&inner.buf);
            return Ok(Got::Done);
        }
        while let Some(mut c) = inner.sendq.pop() {
            if c.is_notify() {
                wakes.push(c.settle(RETRY));
                continue;
            }
            match c.slot() {
                Some(src) => {
                    src.move_to(out);
                    wakes.push(c.settle(DONE));
                    return Ok(Got::Done);
                }
                None => return Ok(Got::Pair(c)),
            }
        }
        // A timer channel delivers a fire already due at once, even if its
        // runtime timer has not run yet (`time/due.rs`).
        if let Some(t) = inner.timer.as_deref_mut()
            && t.take_due(out)
        {
            return Ok(Got::Done);
        }
        if inner.closed {
            Err(Fail::Closed)
        } else {
            Err(Fail::Full)
        }
    }

    /// Makes this new channel a timer channel with schedule `timed`.
    pub(crate) fn set_timer(&mut self, timed: Timed<T>) {
        self.inner.lock().timer = Some(Box::new(timed));
        self.timed = true;
    }

    /// The runtime timer of a timer channel fires at `now`: delivers the
    /// fire if it is still due (a receive may have taken it already) and
    /// there is room (a tick nobody took is dropped). Returns when to fire
    /// next; `None` when done (spent, or every receiver gone).
    pub(crate) fn fire_timer(&self, now: Instant) -> Option<Instant> {
        let mut inner = self.inner.lock();
        if inner.no_receivers {
            return None;
        }
        let t = inner.timer.as_deref_mut()?;
        let msg = t.due.take(now).map(t.make);
        let next = t.due.next();
        if let Some(msg) = msg {
            let mut slot = Slot::new(msg);
            let mut wakes = Wakes::default();
            // `Full`: the receiver has not taken the last fire; this one
            // is dropped (Go's ticker).
            let _ = self.send_locked(&mut inner, &mut slot, &mut wakes);
            unlock_then_wake(inner, wakes);
        }
        next
    }

    /// The fast path of a send, under the lock: open, nobody waiting to
    /// receive, room in the buffer (the steady state of a buffered
    /// channel): pushes with no wake bookkeeping. `false` leaves the
    /// message in `slot` for `send_locked`.
    #[inline]
    fn push_fast(&self, inner: &mut Inner<T>, slot: &mut Slot<T>) -> bool {
        if inner.is_closed_for_send() || !inner.recvq.is_empty() || inner.no_room() {
            return false;
        }
        let reopen = inner.may_go_fast();
        let pushed = inner.buf.push_from(slot, reopen);
        self.mirror_len(&inner.buf);
        pushed
    }

    /// Sends the message in `slot` without blocking; on failure it stays
    /// there.
    pub(crate) fn try_send(&self, slot: &mut Slot<T>) -> Result<(), Fail> {
        if self.push_unlocked(slot) {
            return Ok(());
        }
        let mut inner = self.inner.lock();
        if self.push_fast(&mut inner, slot) {
            return Ok(());
        }
        let mut wakes = Wakes::default();
        let r = self.send_locked(&mut inner, slot, &mut wakes);
        unlock_then_wake(inner, wakes);
        r
    }

    /// Receives into `out` without blocking (`Fail::Full` means empty).
    pub(crate) fn try_recv(&self, out: &mut Slot<T>) -> Result<(), Fail> {
        self.recv(out, Some(None))
    }

    /// Sends the message in `slot`, blocking until a receiver or buffer
    /// space takes it, the channel closes, or `deadline` passes (then the
    /// message stays in `slot`).
    pub(crate) fn send(&self, slot: &mut Slot<T>, deadline: Option<Instant>) -> Result<(), Fail> {
        if self.push_unlocked(slot) {
            return Ok(());
        }
        let mut spun = false;
        loop {
            let mut inner = self.inner.lock();
            if self.push_fast(&mut inner, slot) {
                return Ok(());
            }
            let mut wakes = Wakes::default();
            match self.send_locked(&mut inner, slot, &mut wakes) {
                Err(Fail::Full) => {}
                r => {
                    unlock_then_wake(inner, wakes);
                    return r;
                }
            }
            // (The reserve step may have told readiness waiters to look
            // again: `wakes` is fired on every way out.)
            if deadline.is_some_and(|d| Instant::now() >= d) {
                unlock_then_wake(inner, wakes);
                return Err(Fail::Timeout);
            }
            // Bounded and buffered, on an OS thread (or a green thread
            // alone on its worker): first watch for room (then start
            // over), as a lock-free channel's sender would.
            if !spun && self.spins_for_peer() {
                spun = true;
                unlock_then_wake(inner, wakes);
                self.spin_until_ready(true);
                continue;
            }
            let r = self.block(inner, &mut wakes, slot, deadline, true);
            // `block` fired `wakes`: nothing is left for its drop.
            std::mem::forget(wakes);
            if let Some(r) = r {
                return r;
            } // else RETRY: start over
        }
    }

    /// Receives into `out`, blocking until a message arrives, the channel
    /// is closed and drained, or the deadline passes. `deadline`:
    /// `None` waits forever, `Some(None)` not at all (`try_recv`).
    pub(crate) fn recv(
        &self,
        out: &mut Slot<T>,
        deadline: Option<Option<Instant>>,
    ) -> Result<(), Fail> {
        let out: *mut Slot<T> = out;
        let mut spun = false;
        loop {
            let mut inner = self.inner.lock();
            // Fast path: a buffered message and no blocked sender to move
            // into the freed cell.
            if inner.sendq.is_empty() {
                // SAFETY: `out` is the caller's `&mut`, unaliased here.
                if !self.timed && inner.buf.pop_into(unsafe { &mut *out }) {
                    self.mirror_len(&inner.buf);
                    return Ok(());
                }
            }
            let mut wakes = Wakes::default();
            // SAFETY: `out` is the caller's `&mut`, unaliased here.
            match self.recv_locked(&mut inner, unsafe { &mut *out }, &mut wakes) {
                Ok(Got::Done) => {
                    unlock_then_wake(inner, wakes);
                    return Ok(());
                }
                Ok(Got::Pair(claim)) => {
                    let rv = Rendezvous::new(out);
                    wakes.push(claim.pair(&rv));
                    unlock_then_wake(inner, wakes);
                    if rv.wait(reason(false)) == DELIVERED {
                        return Ok(());
                    }
                    continue; // the sender gave up: start over
                }
                Err(Fail::Full) => {}
                Err(e) => {
                    unlock_then_wake(inner, wakes);
                    return Err(e);
                }
            }
            // (The reserve step may have told readiness waiters to look
            // again: `wakes` is fired on every way out.)
            let deadline = match deadline {
                None => None,
                Some(Some(d)) if Instant::now() < d => Some(d),
                Some(d) => {
                    unlock_then_wake(inner, wakes);
                    // A try finds nothing; a deadline has passed.
                    return Err(if d.is_none() {
                        Fail::Full
                    } else {
                        Fail::Timeout
                    });
                }
            };
            // Buffered, on an OS thread (or a green thread alone on its
            // worker): first watch for a message (then start over), as a
            // lock-free channel's receiver would.
            if !spun && self.spins_for_peer() {
                spun = true;
                unlock_then_wake(inner, wakes);
                self.spin_until_ready(false);
                continue;
            }
            let r = self.block(inner, &mut wakes, out, deadline, false);
            // `block` fired `wakes`: nothing is left for its drop.
            std::mem::forget(wakes);
            if let Some(r) = r {
                return r;
            } // else RETRY: start over
        }
    }

    /// The blocking half of `send` (`send == true`) and `recv`: queues a
    /// waiter over `slot` and parks until a peer settles it, the channel
    /// closes, or `deadline` passes. Entered with the lock held (`inner`)
    /// after the reserve step failed; releases it, then fires the reserve
    /// step's `wakes`, before parking. `None` means RETRY (start the
    /// operation over).
    #[inline(always)]
    fn block(
        &self,
        mut inner: Guard<'_, Inner<T>>,
        wakes: &mut Wakes,
        slot: *mut Slot<T>,
        deadline: Option<Instant>,
        send: bool,
    ) -> Option<Result<(), Fail>> {
        let q = inner.queue_to_join(send);
        let cell = WaitCell::new();
        let w = Waiter::new(&cell, 0, slot);
        // SAFETY: `cell` and `w` live in this frame and `slot` in the
        // caller's, which do not return (nor unwind, thanks to `Blocked`)
        // before `w` left the queue.
        unsafe { q.push(&w) };
        drop(inner);
        wakes.fire_in_place();
        match Blocked::new(self, &cell, &w, send).wait(deadline) {
            DONE => Some(Ok(())),
            CLOSED => Some(Err(Fail::Closed)),
            ABANDONED => Some(Err(Fail::Timeout)),
            _ => None,
        }
    }

    /// Closes the channel; `true` for the call that closed it.
    pub(crate) fn close(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.closed {
            return false;
        }
        inner.closed = true;
        inner.buf.stop_fast();
        self.closed.store(true, Ordering::Release);
        let mut wakes = Wakes::default();
        inner.sendq.settle_all(CLOSED, |u| wakes.push(u));
        // Blocked receivers in batches, the lock released between them, so
        // that their workers run the first ones while the rest are settled
        // (each waiter is a cache and TLB miss on a parked stack: 100,000
        // of them took 12-20 ms to settle, during which nobody ran).
        // Nothing can join `recvq` meanwhile (invariant 3), and a receiver
        // still queued is settled by a later batch or abandons on its own.
        loop {
            let more = inner
                .recvq
                .settle_at_most(CLOSE_BATCH, CLOSED, |u| wakes.push(u));
            unlock_then_wake(inner, wakes);
            if !more {
                return true;
            }
            wakes = Wakes::default();
            inner = self.inner.lock();
        }
    }

    /// The last receiver is gone: sends fail from now on, blocked senders
    /// get their messages back, and buffered messages are dropped (outside
    /// the lock: their destructors may use channels).
    pub(crate) fn disconnect_receivers(&self) {
        let mut inner = self.inner.lock();
        inner.no_receivers = true;
        inner.buf.stop_fast();
        self.closed.store(true, Ordering::Release);
        let mut wakes = Wakes::default();
        inner.sendq.settle_all(CLOSED, |u| wakes.push(u));
        let dropped = inner.buf.take_all();
        self.mirror_len(&inner.buf);
        unlock_then_wake(inner, wakes);
        drop(dropped);
    }

    // ---- the `select` side (see `select/engine.rs`) ----

    /// Whether a send (`send`) or receive would complete now, without
    /// doing it. Caller holds the lock.
    pub(crate) fn ready_locked(&self, inner: &Inner<T>, send: bool) -> bool {
        if send {
            inner.is_closed_for_send() || !inner.no_room() || inner.recvq.has_live_slot()
        } else {
            inner.buf.is_ready_to_recv()
                || inner.closed
                || inner.sendq.has_live_transfer()
                || (inner.timer.as_ref()).is_some_and(|t| t.due.is_due(Instant::now()))
        }
    }

    /// A selecting send's reserve step: claims a waiting receiver, or
    /// reserves a buffer cell, for the value the select will build.
    /// Caller holds the lock.
    pub(crate) fn poll_send_locked(
        &self,
        inner: &mut Inner<T>,
        wakes: &mut Wakes,
    ) -> Option<SendReady<T>> {
        if inner.is_closed_for_send() {
            return Some(SendReady::Closed);
        }
        while let Some(mut c) = inner.recvq.pop() {
            if c.slot().is_some() {
                return Some(SendReady::To(c));
            }
            wakes.push(c.settle(RETRY));
        }
        // Checks for room again beside the senders' lock, and stops plain
        // sends from taking the reserved cell (`split.rs`, invariant 2).
        if inner.no_room() || !inner.buf.reserve(inner.pending_send) {
            return None;
        }
        if inner.buf.capacity().is_some() {
            inner.pending_send += 1;
        }
        Some(SendReady::Reserved)
    }

    /// Completes a selecting send chosen with `ready`, moving the value out
    /// of `slot` (on failure it stays there).
    pub(crate) fn complete_send(
        &self,
        ready: SendReady<T>,
        slot: &mut Slot<T>,
    ) -> Result<(), Fail> {
        match ready {
            SendReady::Closed => Err(Fail::Closed),
            SendReady::To(mut c) => {
                slot.move_to(c.slot().expect("a claimed receiver has a slot"));
                c.settle(DONE).unpark();
                Ok(())
            }
            SendReady::Reserved => {
                // Unbounded: no cell was reserved, and the push may skip the
                // lock as a plain send's would (`split.rs`).
                if self.cap.is_none() && self.push_unlocked(slot) {
                    return Ok(());
                }
                let mut inner = self.inner.lock();
                let mut wakes = Wakes::default();
                if inner.buf.capacity().is_some() {
                    inner.pending_send -= 1;
                }
                let r = self.send_locked(&mut inner, slot, &mut wakes);
                debug_assert_ne!(r, Err(Fail::Full), "a reserved cell is free");
                if r.is_err() {
                    inner.refill(&mut wakes);
                    self.mirror_len(&inner.buf);
                }
                unlock_then_wake(inner, wakes);
                r
            }
            SendReady::Paired(rv) => {
                // SAFETY: `rv` came with this case's `PAIRED` state, so the
                // receiver waits on a channel of `T`; settled once here.
                unsafe { Rendezvous::deliver(rv, slot) };
                Ok(())
            }
        }
    }

    /// Gives up a selecting send chosen with `ready` without a value (the
    /// select unwound): whoever was promised it starts over.
    pub(crate) fn abort_send(&self, ready: SendReady<T>) {
        match ready {
            SendReady::Closed => {}
            SendReady::To(c) => c.settle(RETRY).unpark(),
            SendReady::Reserved => {
                let mut inner = self.inner.lock();
                let mut wakes = Wakes::default();
                if inner.buf.capacity().is_some() {
                    inner.pending_send -= 1;
                    inner.refill(&mut wakes);
                    self.mirror_len(&inner.buf);
                }
                unlock_then_wake(inner, wakes);
            }
            // SAFETY: as in `complete_send`.
            SendReady::Paired(rv) => unsafe { Rendezvous::fail(rv) },
        }
    }

    /// Queues a select's waiter (`send`: in `sendq`). Caller holds the lock.
    ///
    /// # Safety
    /// As for [`WaitQueue::push`].
    pub(crate) unsafe fn register_locked(&self, inner: &mut Inner<T>, w: &Waiter, send: bool) {
        // SAFETY: the caller's contract.
        unsafe { inner.queue_to_join(send).push(w) };
    }

    /// Takes a select's waiter out if still queued. Caller holds the lock.
    pub(crate) fn unregister_locked(&self, inner: &mut Inner<T>, w: &Waiter, send: bool) {
        let q = if send {
            &mut inner.sendq
        } else {
            &mut inner.recvq
        };
        q.remove(w);
    }
}

/// How a selecting send that found its channel ready completes.
pub(crate) enum SendReady<T> {
    /// The channel is closed: the value comes back.
    Closed,
    /// A claimed receiver gets the value in its slot.
    To(Claim<T>),
    /// A buffer cell is reserved (or the buffer is unbounded).
    Reserved,
    /// A receiver waits at this rendezvous (the select was registered and
    /// a receiver claimed its send case).
    Paired(*const Rendezvous),
}

/// Owns a queued waiter on behalf of a blocked `send`/`recv`: waits for it
/// to be settled and, if the call stops waiting on its own (deadline, or
/// an unwind during a runtime shutdown), abandons it and takes it out of
/// its queue before the frame holding it can die (`waiter.rs` steps 3-4).
struct Blocked<'a, T> {
    chan: &'a Channel<T>,
    cell: &'a WaitCell,
    waiter: &'a Waiter,
    send: bool,
}

impl<'a, T> Blocked<'a, T> {
    fn new(chan: &'a Channel<T>, cell: &'a WaitCell, waiter: &'a Waiter, send: bool) -> Self {
        Blocked {
            chan,
            cell,
            waiter,
            send,
        }
    }

    /// Parks until settled or `deadline` passes; returns the final kind
    /// (`ABANDONED`: timed out, and the waiter left its queue).
    #[inline(always)]
    fn wait(self, deadline: Option<Instant>) -> usize {
        let state = self.cell.wait(deadline, reason(self.send));
        if state == ABANDONED {
            self.dequeue();
        }
        std::mem::forget(self);
        waiter::kind(state)
    }

    fn dequeue(&self) {
        let mut inner = self.chan.inner.lock();
        self.chan
            .unregister_locked(&mut inner, self.waiter, self.send);
    }
}

impl<T> Drop for Blocked<'_, T> {
    fn drop(&mut self) {
        // Only reached when unwinding out of `wait`.
        if !self.cell.abandon() {
            // A peer holds the claim and may still write to our slot.
            self.cell.wait_settled(reason(self.send));
        }
        self.dequeue();
    }
}

#[cfg(all(test, not(loom)))]
mod layout_tests {
    use std::mem::offset_of;

    use super::{Channel, Inner};

    /// An unbuffered operation's fields share the channel's first cache
    /// line (see `Channel`); the lock word is its first byte.
    #[test]
    fn an_unbuffered_operation_touches_one_cache_line() {
        type C = Channel<u64>;
        assert_eq!(std::mem::align_of::<C>(), 64);
        let inner = offset_of!(C, inner) + 8; // after the lock word
        assert_eq!(inner % 8, 0);
        for end in [
            inner + offset_of!(Inner<u64>, closed) + 1,
            inner + offset_of!(Inner<u64>, no_receivers) + 1,
            inner + offset_of!(Inner<u64>, sendq) + 16,
            inner + offset_of!(Inner<u64>, recvq) + 16,
            inner + offset_of!(Inner<u64>, buf) + 1,
        ] {
            assert!(end <= 64, "a field of unbuffered operations ends at {end}");
        }
    }

    /// A small buffered channel's operation writes its second line (the
    /// ring's indices, at the end of the buffer) and the length mirror
    /// that spinning peers read: the same line.
    #[test]
    fn a_small_buffered_operation_writes_two_cache_lines() {
        type C = Channel<u64>;
        let buf_end = offset_of!(C, inner)
            + 8
            + offset_of!(Inner<u64>, buf)
            + std::mem::size_of::<super::Buffer<u64>>();
        assert_eq!((buf_end - 1) / 64, 1, "the buffer ends at {buf_end}");
        assert_eq!(
            offset_of!(C, len) / 64,
            1,
            "the mirror is at {}",
            offset_of!(C, len)
        );
    }
}
