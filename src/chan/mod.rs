//! Go's channels: bounded (including unbuffered) and unbounded MPMC
//! channels whose blocking calls park a green thread (or, called from a
//! plain OS thread, that thread).
//!
//! `Sender` and `Receiver` are handles to one shared `channel::Channel`;
//! both count their clones: dropping the last `Sender` closes the channel,
//! dropping the last `Receiver` makes sends fail with the message handed
//! back. The last handle to go drops the messages still buffered, each
//! exactly once. Semantics follow DESIGN.md: FIFO buffer and FIFO wait
//! queues, direct hand-off to a waiting party, close wakes everyone.

mod buffer;
mod channel;
mod err;
mod list;
mod lock;
mod ring;
pub(crate) mod select;
mod slot;
mod small;
mod split;
#[cfg(test)]
mod tests;
mod waiter;

pub use self::select::{
    ReadyTimeoutError, Select, SelectTimeoutError, SelectedOperation, TryReadyError, TrySelectError,
};

pub use self::err::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use crate::time::{after, at, never, tick};

use std::fmt;
use std::time::{Duration, Instant};

use self::buffer::Buffer;
use self::channel::{Channel, Fail, Timed};
use self::slot::Slot;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;
use crate::time::due::Due;

/// Creates a channel of capacity `cap`; `bounded(0)` is unbuffered (Go's
/// `make(chan T)`): a send completes only when a receiver takes the value.
///
/// ```
/// let (tx, rx) = goro::bounded(1);
/// tx.send("hello").unwrap();
/// assert_eq!(rx.recv(), Ok("hello"));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new(Buffer::bounded(cap))
}

/// Creates a channel with an unbounded buffer: sends never block.
///
/// ```
/// let (tx, rx) = goro::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.recv(), Ok(0));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new(Buffer::unbounded())
}

fn new<T>(buf: Buffer<T>) -> (Sender<T>, Receiver<T>) {
    from_channel(Channel::new(buf))
}

fn from_channel<T>(chan: Channel<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Keeps the channel of `tx` open for good: its sender count stays above
/// the number of `Sender`s, so dropping the last one does not close it
/// (timer channels and `never`, see `time/mod.rs` invariant 1). Only the
/// count is kept, not memory: the channel is freed with its last handle.
pub(crate) fn keep_open<T>(tx: &Sender<T>) {
    tx.chan.senders.fetch_add(1, Ordering::Relaxed);
}

/// A channel that never delivers nor closes (`time::never`): unbuffered,
/// with one sender counted and none made.
pub(crate) fn never_channel<T>() -> Receiver<T> {
    let mut chan = Channel::new(Buffer::bounded(0));
    chan.never = true;
    Receiver {
        chan: Arc::new(chan),
    }
}

/// A timer channel (`time/mod.rs`): capacity 1, kept open for good, with
/// its schedule `due` inside, under the channel's lock (`time/due.rs`).
pub(crate) fn timer_channel(due: Due) -> (Sender<Instant>, Receiver<Instant>) {
    let mut chan = Channel::new(Buffer::bounded(1));
    chan.set_timer(Timed { due, make: |at| at });
    let (tx, rx) = from_channel(chan);
    keep_open(&tx);
    (tx, rx)
}

/// The runtime timer of the timer channel of `tx` fires at `now`
/// (`Channel::fire_timer`): returns when to fire next, if ever.
pub(crate) fn fire_timer(tx: &Sender<Instant>, now: Instant) -> Option<Instant> {
    tx.chan.fire_timer(now)
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    // A timeout too large to represent waits forever.
    Instant::now().checked_add(timeout)
}

/// The sending half of a channel. Clone it for more senders.
///
/// ```
/// let (tx, rx) = goro::unbounded();
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
/// ```
pub struct Sender<T> {
    chan: Arc<Channel<T>>,
}

/// The receiving half of a channel. Clone it for more receivers (each
/// message goes to exactly one of them).
///
/// ```
/// let (tx, rx) = goro::bounded(2);
/// let rx2 = rx.clone();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.recv().unwrap() + rx2.recv().unwrap(), 3);
/// ```
pub struct Receiver<T> {
    chan: Arc<Channel<T>>,
}

impl<T> Sender<T> {
    /// Sends `msg`, blocking (parking) while the buffer is full or, when
    /// unbuffered, until a receiver takes it. Fails, handing the message
    /// back, if the channel is closed or every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(0);
    /// let h = goro::go!(move || rx.recv().unwrap());
    /// tx.send(42).unwrap();
    /// assert_eq!(h.join().unwrap(), 42);
    /// ```
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        // The message stays in this one slot until it reaches its
        // destination (no message-sized copies down the call chain).
        let mut slot = Slot::new(msg);
        match self.chan.send(&mut slot, None) {
            Ok(()) => Ok(()),
            Err(_) => Err(SendError(slot.take())),
        }
    }

    /// Sends `msg` if that can be done without blocking.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(tx.try_send(2).unwrap_err().is_full());
    /// drop(rx);
    /// assert!(tx.try_send(3).unwrap_err().is_closed());
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let mut slot = Slot::new(msg);
        match self.chan.try_send(&mut slot) {
            Ok(()) => Ok(()),
            Err(Fail::Full) => Err(TrySendError::Full(slot.take())),
            Err(_) => Err(TrySendError::Closed(slot.take())),
        }
    }

    /// Like [`Sender::send`], giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = goro::bounded(0);
    /// assert!(tx.send_timeout(1, Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, deadline_after(timeout))
    }

    /// Like [`Sender::send`], giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = goro::bounded(1);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// tx.send_deadline(1, deadline).unwrap();
    /// assert!(tx.send_deadline(2, deadline).unwrap_err().is_timeout());
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, Some(deadline))
    }

    fn send_until(&self, msg: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut slot = Slot::new(msg);
        match self.chan.send(&mut slot, deadline) {
            Ok(()) => Ok(()),
            Err(Fail::Closed) => Err(SendTimeoutError::Closed(slot.take())),
            Err(_) => Err(SendTimeoutError::Timeout(slot.take())),
        }
    }

    /// Closes the channel, for every handle: receivers drain what is
    /// buffered and then get `Closed`; blocked and later sends fail with
    /// their message back. Returns `true` for the call that closed it.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(2);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close());
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert_eq!(rx.recv(), Err(goro::RecvError));
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed (or every receiver is gone).
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded::<()>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Messages in the buffer.
    ///
    /// ```
    /// let (tx, _rx) = goro::bounded(3);
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty (always, for an unbuffered channel).
    ///
    /// ```
    /// let (tx, _rx) = goro::bounded::<()>(3);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always, for an unbuffered channel;
    /// never, for an unbounded one).
    ///
    /// ```
    /// let (tx, _rx) = goro::bounded(1);
    /// tx.send(()).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The buffer's capacity; `None` when unbounded.
    ///
    /// ```
    /// assert_eq!(goro::bounded::<()>(4).0.capacity(), Some(4));
    /// assert_eq!(goro::unbounded::<()>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether both handles belong to the same channel.
    ///
    /// ```
    /// let (a, _ra) = goro::unbounded::<()>();
    /// let (b, _rb) = goro::unbounded::<()>();
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a message, blocking (parking) until one arrives. Fails once
    /// the channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded();
    /// goro::go!(move || tx.send(5).unwrap());
    /// assert_eq!(rx.recv(), Ok(5));
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        let mut out = Slot::empty();
        match self.chan.recv(&mut out, None) {
            Ok(()) => Ok(out.take()),
            Err(_) => Err(RecvError),
        }
    }

    /// Receives a message if one is ready.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(1);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut out = Slot::empty();
        match self.chan.try_recv(&mut out) {
            Ok(()) => Ok(out.take()),
            Err(Fail::Full) => Err(TryRecvError::Empty),
            Err(_) => Err(TryRecvError::Closed),
        }
    }

    /// Like [`Receiver::recv`], giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro::bounded::<()>(1);
    /// assert!(rx.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(deadline_after(timeout))
    }

    /// Like [`Receiver::recv`], giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = goro::bounded::<()>(1);
    /// let r = rx.recv_deadline(Instant::now() + Duration::from_millis(5));
    /// assert_eq!(r, Err(goro::RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut out = Slot::empty();
        match self.chan.recv(&mut out, deadline.map(Some)) {
            Ok(()) => Ok(out.take()),
            Err(Fail::Closed) => Err(RecvTimeoutError::Closed),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// A blocking iterator over received messages; it ends when the channel
    /// is closed and drained (Go's `for v := range ch`).
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded();
    /// goro::go!(move || {
    ///     for i in 0..3 {
    ///         tx.send(i).unwrap();
    ///     }
    /// }); // dropping tx closes the channel
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over the messages ready now.
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Whether the channel is closed (or every receiver is gone).
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded::<()>();
    /// tx.close();
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Messages in the buffer.
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded();
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    ///
    /// ```
    /// let (_tx, rx) = goro::unbounded::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(1);
    /// tx.send(()).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The buffer's capacity; `None` when unbounded.
    ///
    /// ```
    /// assert_eq!(goro::bounded::<()>(0).1.capacity(), Some(0));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether both handles belong to the same channel. Every
    /// [`never()`] receiver counts as the same channel, as Go's
    /// nil channels compare equal.
    ///
    /// ```
    /// let (_t, r) = goro::unbounded::<()>();
    /// assert!(r.same_channel(&r.clone()));
    /// assert!(!r.same_channel(&goro::unbounded().1));
    /// assert!(goro::never::<()>().same_channel(&goro::never()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan) || (self.chan.never && other.chan.never)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

// A panic never leaves a channel inconsistent: no user code (not even a
// message's `Drop`) runs under its lock, so a handle used after a caught
// panic sees a working channel (as crossbeam-channel's handles declare).
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}
impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect_receivers();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

/// A blocking iterator over a receiver's messages, from
/// [`Receiver::iter`].
///
/// ```
/// let (tx, rx) = goro::bounded(1);
/// goro::go!(move || tx.send(9).unwrap());
/// let mut it = rx.iter();
/// assert_eq!(it.next(), Some(9));
/// assert_eq!(it.next(), None);
/// ```
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Iter { .. }")
    }
}

/// A non-blocking iterator over the messages ready now, from
/// [`Receiver::try_iter`].
///
/// ```
/// let (_tx, rx) = goro::unbounded::<i32>();
/// assert_eq!(rx.try_iter().next(), None);
/// ```
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("TryIter { .. }")
    }
}

/// An owning blocking iterator over a receiver's messages.
///
/// ```
/// let (tx, rx) = goro::unbounded();
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.into_iter().collect::<Vec<_>>(), [1]);
/// ```
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("IntoIter { .. }")
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

#[cfg(all(test, not(loom)))]
mod hint_tests {
    use std::time::Duration;

    /// `Channel::may_be_ready`, the lock-free hint of a select's first
    /// pass: `false` only for an open buffered channel that is empty (for
    /// a receive) or full (for a send).
    #[test]
    fn may_be_ready_is_false_only_for_an_open_empty_or_full_buffer() {
        let (tx, rx) = super::bounded::<u8>(2);
        assert!(tx.chan.may_be_ready(true));
        assert!(!rx.chan.may_be_ready(false));
        tx.send(1).unwrap();
        assert!(tx.chan.may_be_ready(true) && rx.chan.may_be_ready(false));
        tx.send(2).unwrap();
        assert!(!tx.chan.may_be_ready(true));
        assert!(rx.chan.may_be_ready(false));
        assert_eq!((rx.recv(), rx.recv()), (Ok(1), Ok(2)));
        assert!(!rx.chan.may_be_ready(false));
        tx.close();
        assert!(tx.chan.may_be_ready(true) && rx.chan.may_be_ready(false));

        // Unbuffered: a peer may wait, always maybe.
        let (tx, rx) = super::bounded::<u8>(0);
        assert!(tx.chan.may_be_ready(true) && rx.chan.may_be_ready(false));
        // Unbounded: room always; a receive only with a message.
        let (tx, rx) = super::unbounded::<u8>();
        assert!(tx.chan.may_be_ready(true) && !rx.chan.may_be_ready(false));
        tx.send(1).unwrap();
        assert!(rx.chan.may_be_ready(false));
        // A timer channel: a fire may be due with the buffer empty.
        let t = crate::after(Duration::ZERO);
        assert!(t.chan.may_be_ready(false));
    }
}
