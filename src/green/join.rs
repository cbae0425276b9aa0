//! The body of a green thread (its closure, then its result) and
//! [`JoinHandle`], through which whoever joins it takes the result.
//!
//! The hand-over of the result to the joiner is a `runtime::oneshot`
//! (one atomic state word, no lock; model-checked there).

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::thread;

use crate::loom::cell::UnsafeCell;
use crate::runtime::oneshot::Oneshot;
use crate::runtime::parking::{self, Shutdown};
use crate::runtime::task::{Body, GreenId, TaskRef, WaitReason};

/// A green thread's closure and, once it ran, its result.
pub(crate) struct Stage<F, T> {
    /// Taken by `run`, which only the coroutine calls, once.
    f: UnsafeCell<Option<F>>,
    result: Oneshot<thread::Result<T>>,
}

impl<F, T> Stage<F, T> {
    pub(crate) fn new(f: F) -> Stage<F, T> {
        Stage {
            f: UnsafeCell::new(Some(f)),
            result: Oneshot::new(),
        }
    }
}

// SAFETY: `f` is touched only by `run` (once, by the coroutine) and by the
// drop of the whole cell, never concurrently; moving `F` to the thread that
// runs it needs `F: Send`. The result moves to the joiner through a
// `Oneshot`, which needs `T: Send`.
unsafe impl<F: Send, T: Send> Sync for Stage<F, T> {}

impl<F, T> Body for Stage<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, cancelled: bool) {
        // SAFETY: only the coroutine of this green thread calls `run`, once.
        let f = self.f.with_mut(|f| unsafe { (*f).take() });
        let Some(f) = f else { return };
        let result = if cancelled {
            drop(f);
            Err(Box::new(Shutdown) as Box<dyn std::any::Any + Send>)
        } else {
            panic::catch_unwind(AssertUnwindSafe(f))
        };
        self.result.complete(result);
    }

    fn is_finished(&self) -> bool {
        self.result.is_done()
    }

    fn discard_output(&self) -> bool {
        matches!(self.result.take(), Some(Err(_)))
    }

    unsafe fn poll_output(&self, out: *mut ()) -> bool {
        match self.result.poll() {
            None => false,
            Some(r) => {
                // SAFETY: the caller passes a pointer to an
                // `Option<thread::Result<T>>` of this `T`.
                unsafe { *(out as *mut Option<thread::Result<T>>) = Some(r) };
                true
            }
        }
    }
}

/// Waits for the result of `task`, whose closure returns `T`.
///
/// # Safety
/// `T` is the return type of `task`'s closure.
pub(crate) unsafe fn wait_output<T>(task: &TaskRef, cancellable: bool) -> thread::Result<T> {
    let mut out: Option<thread::Result<T>> = None;
    loop {
        // SAFETY: `out` has the type the caller vouches for.
        if unsafe { task.body().poll_output(&mut out as *mut _ as *mut ()) } {
            return out.expect("poll_output stored the result");
        }
        if cancellable {
            parking::park(WaitReason::Join);
        } else {
            parking::park_uncancellable(WaitReason::Join);
        }
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
    /// Its body's closure returns `T`.
    task: TaskRef,
    _result: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `task`'s closure returns `T`.
    pub(crate) unsafe fn new(task: TaskRef) -> JoinHandle<T> {
        JoinHandle {
            task,
            _result: PhantomData,
        }
    }

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
        // SAFETY: invariant of the `task` field.
        unsafe { wait_output(&self.task, true) }
    }

    /// Waits like [`JoinHandle::join`] but never unwinds for shutdown.
    pub(crate) fn join_uncancellable(self) -> thread::Result<T> {
        // SAFETY: invariant of the `task` field.
        unsafe { wait_output(&self.task, false) }
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
        self.task.body().is_finished()
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
