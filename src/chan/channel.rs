//! The channel proper: one lock guarding a buffer, two FIFO wait queues and
//! the closed flags, after Go's `hchan`.
//!
//! # Invariants (under the lock)
//!
//! 1. At most one of `sendq` and `recvq` is non-empty.
//! 2. A non-empty buffer implies an empty `recvq`; a buffer with free space
//!    implies an empty `sendq`.
//! 3. Once `closed` or `no_receivers`, both queues stay empty.
//!
//! # Operations
//!
//! Each operation is split into a reserve step, run under the lock, that
//! decides where the message goes and moves it (`try_send_locked`,
//! `try_recv_locked`), and a complete step after unlocking: waking the
//! peer it paired with. Blocking calls, `try_*` calls and (later) `select!`
//! share the reserve step.
//!
//! * Send: a waiting receiver gets the message directly (even when the
//!   channel is buffered); else the buffer takes it; else the sender blocks
//!   in `sendq` with its message.
//! * Receive: the buffer's head, after which the oldest blocked sender's
//!   message moves to the buffer's tail (FIFO kept); or, unbuffered, the
//!   oldest blocked sender's message; else closed, or the receiver blocks.
//! * Close: sets `closed` and finishes every waiter as CLOSED (receivers get
//!   `Closed` once the buffer is drained; senders take their message back).
//!
//! A message always moves under the lock, directly to the party that gets
//! it, so a woken party never loses its turn to a newcomer. Nobody is woken
//! while the lock is held (Go's rule): the unparkers are collected and used
//! after unlocking.

use std::ops::DerefMut;
use std::time::Instant;

use super::buffer::Buffer;
use super::lock::Lock;
use super::slot::Slot;
use super::waiter::{CLOSED, DONE, WAITING, WaitQueue, Waiter};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::runtime::parking::{self, Unparker};

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
pub(crate) struct Channel<T> {
    inner: Lock<Inner<T>>,
    /// Mirrors `inner.closed || inner.no_receivers` for lock-free reads.
    closed: AtomicBool,
    /// Mirrors the buffer's length for lock-free `len`.
    len: AtomicUsize,
    /// `None` when unbounded.
    cap: Option<usize>,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
}

struct Inner<T> {
    buf: Buffer<T>,
    sendq: WaitQueue<T>,
    recvq: WaitQueue<T>,
    closed: bool,
    no_receivers: bool,
}

// SAFETY: the queues hold pointers to waiters on other threads' stacks;
// they are only dereferenced under the lock, following the protocol of
// `waiter.rs`, and carry messages of type `T` between threads: `T: Send`
// suffices, as for a `Mutex<VecDeque<T>>`.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above; all shared access goes through the lock or atomics.
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

impl<T> Channel<T> {
    pub(crate) fn new(buf: Buffer<T>) -> Channel<T> {
        Channel {
            cap: buf.capacity(),
            inner: Lock::new(Inner {
                buf,
                sendq: WaitQueue::new(),
                recvq: WaitQueue::new(),
                closed: false,
                no_receivers: false,
            }),
            closed: AtomicBool::new(false),
            len: AtomicUsize::new(0),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = Inner<T>> + '_ {
        self.inner.lock()
    }

    /// Reserve step of a send: moves the message out of `slot` to a waiting
    /// receiver or the buffer. Caller holds the lock; returns the receiver
    /// to wake after unlocking. On failure the message stays in `slot`.
    fn try_send_locked(
        &self,
        inner: &mut Inner<T>,
        slot: &mut Slot<T>,
    ) -> Result<Option<Unparker>, Fail> {
        debug_assert!(
            inner.sendq.is_empty() || inner.recvq.is_empty(),
            "invariant 1"
        );
        if inner.closed || inner.no_receivers {
            return Err(Fail::Closed);
        }
        if let Some(done) = inner.recvq.pop_receiver_from(slot) {
            return Ok(Some(done.finish(DONE)));
        }
        if inner.buf.is_full() {
            return Err(Fail::Full);
        }
        inner.buf.push_from(slot);
        self.len.store(inner.buf.len(), Ordering::Relaxed);
        Ok(None)
    }

    /// Reserve step of a receive: moves a message into `out` (empty).
    /// Caller holds the lock; returns the sender to wake after unlocking,
    /// if one unblocked.
    fn try_recv_locked(
        &self,
        inner: &mut Inner<T>,
        out: &mut Slot<T>,
    ) -> Result<Option<Unparker>, Fail> {
        if inner.buf.pop_into(out) {
            // Room now: the oldest blocked sender's message joins the tail,
            // moved from its slot straight into the buffer.
            let Inner { buf, sendq, .. } = inner;
            let wake = sendq
                .pop_sender_with(|slot| buf.push_from(slot))
                .map(|done| done.finish(DONE));
            self.len.store(buf.len(), Ordering::Relaxed);
            return Ok(wake);
        }
        if let Some(done) = inner.sendq.pop_sender_into(out) {
            return Ok(Some(done.finish(DONE)));
        }
        if inner.closed {
            Err(Fail::Closed)
        } else {
            Err(Fail::Full)
        }
    }

    /// Sends the message in `slot` without blocking; on failure it stays
    /// there.
    pub(crate) fn try_send(&self, slot: &mut Slot<T>) -> Result<(), Fail> {
        let mut inner = self.lock();
        let wake = self.try_send_locked(&mut inner, slot)?;
        drop(inner);
        unpark(wake);
        Ok(())
    }

    /// Receives into `out` without blocking (`Fail::Full` means empty).
    pub(crate) fn try_recv(&self, out: &mut Slot<T>) -> Result<(), Fail> {
        let mut inner = self.lock();
        let wake = self.try_recv_locked(&mut inner, out)?;
        drop(inner);
        unpark(wake);
        Ok(())
    }

    /// Sends the message in `slot`, blocking until a receiver or buffer
    /// space takes it, the channel closes, or `deadline` passes (then the
    /// message stays in `slot`).
    pub(crate) fn send(&self, slot: &mut Slot<T>, deadline: Option<Instant>) -> Result<(), Fail> {
        let mut inner = self.lock();
        match self.try_send_locked(&mut inner, slot) {
            Err(Fail::Full) => self.block(inner, slot, deadline, true),
            Ok(wake) => {
                drop(inner);
                unpark(wake);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Receives into `out`, blocking until a message arrives, the channel
    /// is closed and drained, or `deadline` passes.
    pub(crate) fn recv(&self, out: &mut Slot<T>, deadline: Option<Instant>) -> Result<(), Fail> {
        let mut inner = self.lock();
        match self.try_recv_locked(&mut inner, out) {
            Err(Fail::Full) => self.block(inner, out, deadline, false),
            Ok(wake) => {
                drop(inner);
                unpark(wake);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The blocking half of `send` (`send == true`) and `recv`: queues a
    /// waiter over `slot` and parks until a peer settles it, the channel
    /// closes, or `deadline` passes. Entered with the lock held (`inner`),
    /// after the reserve step failed; releases it before parking.
    fn block(
        &self,
        mut inner: impl DerefMut<Target = Inner<T>>,
        slot: &mut Slot<T>,
        deadline: Option<Instant>,
        send: bool,
    ) -> Result<(), Fail> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Fail::Timeout);
        }
        let waiter = Waiter::new(slot);
        let queue = if send {
            &mut inner.sendq
        } else {
            &mut inner.recvq
        };
        // SAFETY: `waiter` (and `slot`) stay alive in this frame, which does
        // not return (nor unwind, thanks to `Dequeue`) before it left the
        // queue.
        unsafe { queue.push(&waiter) };
        drop(inner);
        let state = Dequeue {
            chan: self,
            waiter: &waiter,
            send,
        }
        .wait(deadline);
        match state {
            DONE => Ok(()),
            CLOSED => Err(Fail::Closed),
            _ => Err(Fail::Timeout),
        }
    }

    /// Closes the channel; `true` for the call that closed it.
    pub(crate) fn close(&self) -> bool {
        let mut guard = self.lock();
        if guard.closed {
            return false;
        }
        guard.closed = true;
        self.closed.store(true, Ordering::Release);
        let inner = &mut *guard;
        let wake: Vec<Unparker> = inner
            .recvq
            .drain()
            .chain(inner.sendq.drain())
            .map(|c| c.finish(CLOSED))
            .collect();
        drop(guard);
        for u in wake {
            u.unpark();
        }
        true
    }

    /// The last receiver is gone: sends fail from now on, blocked senders
    /// get their messages back, and buffered messages are dropped (outside
    /// the lock: their destructors may use channels).
    pub(crate) fn disconnect_receivers(&self) {
        let mut inner = self.lock();
        inner.no_receivers = true;
        self.closed.store(true, Ordering::Release);
        let wake: Vec<Unparker> = inner.sendq.drain().map(|c| c.finish(CLOSED)).collect();
        let dropped = inner.buf.take_all();
        self.len.store(0, Ordering::Relaxed);
        drop(inner);
        for u in wake {
            u.unpark();
        }
        drop(dropped);
    }
}

/// Wakes the peer a reserve step paired with, after the lock is released.
fn unpark(wake: Option<Unparker>) {
    if let Some(u) = wake {
        u.unpark();
    }
}

/// Owns a queued waiter on behalf of a blocked call: waits for it to be
/// settled and, if the call stops waiting on its own (deadline, or an
/// unwind during a runtime shutdown), takes it out of its queue before the
/// frame holding it can die (`waiter.rs` step 3).
struct Dequeue<'a, T> {
    chan: &'a Channel<T>,
    waiter: &'a Waiter<T>,
    send: bool,
}

impl<T> Dequeue<'_, T> {
    /// Parks until the waiter is settled or `deadline` passes; returns its
    /// final state (WAITING means timed out, and it left the queue).
    fn wait(self, deadline: Option<Instant>) -> u8 {
        // On an OS thread the peer runs elsewhere: spin a little before
        // paying for a futex sleep and wake-up (bounded; never on a green
        // thread, whose peer may be waiting for this worker).
        #[cfg(not(loom))]
        if !parking::on_green_thread() {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() && self.waiter.state() == WAITING {
                backoff.snooze();
            }
        }
        loop {
            let state = self.waiter.state();
            if state != WAITING {
                std::mem::forget(self);
                return state;
            }
            match deadline {
                None => parking::park(reason(self.send)),
                Some(d) => {
                    if Instant::now() >= d {
                        let state = self.dequeue();
                        std::mem::forget(self);
                        return state;
                    }
                    parking::park_until(d, reason(self.send));
                }
            }
        }
    }

    /// Takes the waiter out of its queue if still there; returns its state.
    fn dequeue(&self) -> u8 {
        let mut inner = self.chan.lock();
        // Under the lock, a WAITING waiter is still queued and nobody else
        // touches it.
        let state = self.waiter.state();
        if state == WAITING {
            let q = if self.send {
                &mut inner.sendq
            } else {
                &mut inner.recvq
            };
            let removed = q.remove(self.waiter);
            debug_assert!(removed, "a waiting waiter is queued");
        }
        state
    }
}

impl<T> Drop for Dequeue<'_, T> {
    fn drop(&mut self) {
        // Only reached when unwinding out of `wait`.
        self.dequeue();
    }
}
