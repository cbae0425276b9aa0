//! [`JoinHandle`] and the packet through which a green thread hands its
//! result (or panic) to whoever joins it.
//!
//! The packet's lock guards the result and the joiner's unparker. The green
//! thread stores the result and takes the unparker under the lock, then
//! wakes the joiner after unlocking; the joiner registers its unparker and
//! re-checks under the same lock, so the wake-up cannot be lost.

use std::fmt;
use std::sync::Arc;
use std::thread;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::runtime::parking::{self, Unparker};
use crate::runtime::task::{GreenId, TaskRef, WaitReason};

/// Where a green thread's result waits for its joiner.
pub(crate) struct Packet<T> {
    inner: Mutex<Inner<T>>,
    finished: AtomicBool,
}

struct Inner<T> {
    result: Option<thread::Result<T>>,
    waiter: Option<Unparker>,
}

impl<T> Packet<T> {
    pub(crate) fn new() -> Packet<T> {
        Packet {
            inner: Mutex::new(Inner {
                result: None,
                waiter: None,
            }),
            finished: AtomicBool::new(false),
        }
    }

    /// Stores the result and wakes the joiner (called once, by the green
    /// thread's root).
    pub(crate) fn complete(&self, result: thread::Result<T>) {
        let waiter = {
            let mut inner = self.inner.lock();
            inner.result = Some(result);
            self.finished.store(true, Ordering::Release);
            inner.waiter.take()
        };
        if let Some(w) = waiter {
            w.unpark();
        }
    }

    /// Whether a panic payload is stored and nobody took it (scope end).
    pub(crate) fn holds_panic(&self) -> bool {
        matches!(self.inner.lock().result, Some(Err(_)))
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    fn try_take(&self) -> Option<thread::Result<T>> {
        let mut inner = self.inner.lock();
        let r = inner.result.take();
        if r.is_none() {
            inner.waiter = Some(Unparker::current());
        }
        r
    }

    /// Waits for the result from a green thread or OS thread.
    pub(crate) fn wait(&self, cancellable: bool) -> thread::Result<T> {
        loop {
            if let Some(r) = self.try_take() {
                return r;
            }
            if cancellable {
                parking::park(WaitReason::Join);
            } else {
                parking::park_uncancellable(WaitReason::Join);
            }
        }
    }

    /// Waits for the result from an OS thread outside every runtime
    /// (`block_on`); never unwinds.
    pub(crate) fn wait_os(&self) -> thread::Result<T> {
        self.wait(false)
    }
}

/// An owned permission to join a green thread (wait for it to finish and
/// take its result). Dropping it detaches the green thread.
///
/// ```
/// let h = goro::go!(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// ```
pub struct JoinHandle<T> {
    pub(crate) packet: Arc<Packet<T>>,
    pub(crate) task: TaskRef,
}

impl<T> JoinHandle<T> {
    /// Waits for the green thread to finish and returns its result, or
    /// `Err` with the panic payload if it panicked. From a green thread
    /// this parks the green thread, not its worker.
    ///
    /// ```
    /// let h = goro::go!(|| panic!("boom"));
    /// let err = h.join().unwrap_err();
    /// assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn join(self) -> thread::Result<T> {
        self.packet.wait(true)
    }

    /// Whether the green thread has finished running its closure.
    ///
    /// ```
    /// let h = goro::go!(|| ());
    /// while !h.is_finished() {
    ///     goro::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.is_finished()
    }

    /// The green thread's identifier.
    ///
    /// ```
    /// let h = goro::go!(|| goro::current().unwrap().id());
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> GreenId {
        self.task.id
    }

    /// The green thread's name, if it was given one.
    ///
    /// ```
    /// let h = goro::Builder::new().name("worker".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.name(), Some("worker"));
    /// h.join().unwrap();
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.task.id)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
