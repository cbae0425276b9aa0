//! Go's `context` package: cancellation, deadlines and request-scoped
//! values that flow down a tree of [`Context`]s.
//!
//! # Invariants
//!
//! 1. A context node is immutable once made; it holds its parent, so a
//!    value or deadline lookup walks up a chain that cannot change.
//! 2. Every cancellable node owns one `Canceler`: a done channel (closed
//!    on cancellation, so `done()` works in `select!`), the error, set
//!    once, and its cancellable children. A value node shares its parent's.
//! 3. Cancellation is synchronous and top-down: `cancel` sets the error,
//!    closes the channel, then cancels every child with the same error
//!    before it returns. A child registers with its parent under the
//!    parent's lock after checking the parent's error there, so a child
//!    made while its parent is being cancelled is cancelled too (never
//!    missed). A cancelled child leaves its parent's list (nothing leaks).
//! 4. `err()` never changes once set.

#[cfg(test)]
mod tests;

use std::any::Any;
use std::fmt;
use std::time::{Duration, Instant};

use crate::chan::{Receiver, Sender, bounded};
use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// Why a context was cancelled.
///
/// ```
/// use goro::context::{self, Context, ContextError};
/// let (ctx, cancel) = context::with_cancel(&Context::background());
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// assert_eq!(ContextError::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Its cancel function was called (or dropped), or a parent's was.
    Canceled,
    /// Its deadline (or a parent's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// The cancellation state of one cancellable context.
pub(crate) struct Canceler {
    done_tx: Sender<()>,
    done_rx: Receiver<()>,
    /// 0 until cancelled, then the error's code (set once).
    err: AtomicU8,
    children: Mutex<Children>,
}

struct Children {
    next_id: u64,
    list: Vec<(u64, Arc<Canceler>)>,
}

impl Canceler {
    fn new() -> Arc<Canceler> {
        let (done_tx, done_rx) = bounded(0);
        Arc::new(Canceler {
            done_tx,
            done_rx,
            err: AtomicU8::new(0),
            children: Mutex::new(Children {
                next_id: 0,
                list: Vec::new(),
            }),
        })
    }

    /// Cancels this context and every descendant with `err` (a no-op if
    /// already cancelled). All of it runs under this node's lock, as in
    /// Go: a cancel that finds the node already cancelled, or under way
    /// on another thread, waits there until every child is cancelled, so
    /// each call returns with the whole subtree cancelled (invariant 3).
    /// Locks are taken parent before child only, so they cannot deadlock.
    pub(crate) fn cancel(&self, err: ContextError) {
        let code = match err {
            ContextError::Canceled => 1,
            ContextError::DeadlineExceeded => 2,
        };
        let mut c = self.children.lock();
        if self
            .err
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        self.done_tx.close();
        for (_, child) in std::mem::take(&mut c.list) {
            child.cancel(err);
        }
    }

    /// Whether this context has been cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.err().is_some()
    }

    /// Registers `child` to be cancelled with this context; if this one is
    /// already cancelled, cancels `child` now instead. Returns its id.
    fn adopt(&self, child: &Arc<Canceler>) -> Option<u64> {
        let mut c = self.children.lock();
        if let Some(err) = self.err() {
            // Under our lock, as `cancel` does (parent before child).
            child.cancel(err);
            return None;
        }
        let id = c.next_id;
        c.next_id += 1;
        c.list.push((id, child.clone()));
        Some(id)
    }

    fn err(&self) -> Option<ContextError> {
        match self.err.load(Ordering::Acquire) {
            0 => None,
            1 => Some(ContextError::Canceled),
            _ => Some(ContextError::DeadlineExceeded),
        }
    }

    fn disown(&self, id: u64) {
        self.children.lock().list.retain(|(i, _)| *i != id);
    }
}

struct Node {
    parent: Option<Context>,
    /// This node's cancellation, or the nearest ancestor's.
    cancel: Option<Arc<Canceler>>,
    deadline: Option<Instant>,
    value: Option<Box<dyn Any + Send + Sync>>,
}

/// A cancellation signal, a deadline and values, passed down a call tree
/// (Go's `context.Context`). Cheap to clone; `Send + Sync`.
///
/// ```
/// use goro::context::{self, Context};
/// let (ctx, cancel) = context::with_cancel(&Context::background());
/// let worker = {
///     let ctx = ctx.clone();
///     goro::go!(move || {
///         goro::select! {
///             recv(ctx.done()) -> _ => ctx.err(),
///         }
///     })
/// };
/// cancel.cancel();
/// assert_eq!(worker.join().unwrap(), Some(context::ContextError::Canceled));
/// ```
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
}

/// Cancels its context (and every descendant) when called or dropped.
///
/// ```
/// use goro::context::{self, Context};
/// let (ctx, cancel) = context::with_cancel(&Context::background());
/// drop(cancel); // dropping cancels too
/// assert!(ctx.err().is_some());
/// ```
#[must_use = "dropping a CancelFn cancels its context at once"]
pub struct CancelFn {
    canceler: Arc<Canceler>,
    /// The parent's canceler and our id in its list.
    parent: Option<(Arc<Canceler>, u64)>,
}

impl CancelFn {
    /// Cancels the context: `err()` is `Some(Canceled)` when this returns,
    /// for it and every descendant, and their `done()` channels are closed.
    ///
    /// ```
    /// use goro::context::{self, Context};
    /// let (ctx, cancel) = context::with_cancel(&Context::background());
    /// cancel.cancel();
    /// assert!(ctx.done().recv().is_err());
    /// ```
    pub fn cancel(self) {
        // Drop does it.
    }
}

impl Drop for CancelFn {
    fn drop(&mut self) {
        self.canceler.cancel(ContextError::Canceled);
        if let Some((parent, id)) = self.parent.take() {
            parent.disown(id);
        }
    }
}

impl fmt::Debug for CancelFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFn").finish_non_exhaustive()
    }
}

/// The done channel of contexts that are never cancelled.
fn never_done() -> &'static Receiver<()> {
    static NEVER: std::sync::OnceLock<Receiver<()>> = std::sync::OnceLock::new();
    NEVER.get_or_init(|| {
        // Kept open by a sender that is never dropped (it lives in the
        // static too), never sent on.
        static KEEP: std::sync::OnceLock<Sender<()>> = std::sync::OnceLock::new();
        let (tx, rx) = bounded(0);
        let _ = KEEP.set(tx);
        rx
    })
}

impl Context {
    /// The root of every context tree: never cancelled, no deadline, no
    /// values (Go's `context.Background()`).
    ///
    /// ```
    /// let ctx = goro::context::Context::background();
    /// assert!(ctx.err().is_none());
    /// assert!(ctx.deadline().is_none());
    /// ```
    pub fn background() -> Context {
        Context {
            node: Arc::new(Node {
                parent: None,
                cancel: None,
                deadline: None,
                value: None,
            }),
        }
    }

    /// A channel closed when this context is cancelled (it never carries
    /// a message): use it in `select!` next to the work.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::context::{self, Context};
    /// let (ctx, _cancel) = context::with_timeout(&Context::background(), Duration::from_millis(5));
    /// goro::select! {
    ///     recv(ctx.done()) -> _ => assert!(ctx.err().is_some()),
    ///     recv(goro::never::<()>()) -> _ => unreachable!(),
    /// }
    /// ```
    pub fn done(&self) -> &Receiver<()> {
        match &self.node.cancel {
            Some(c) => &c.done_rx,
            None => never_done(),
        }
    }

    /// `None` while not cancelled; then why, forever.
    ///
    /// ```
    /// use goro::context::{self, Context, ContextError};
    /// let (ctx, cancel) = context::with_cancel(&Context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.node.cancel.as_ref()?.err()
    }

    /// The nearest deadline among this context and its ancestors.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro::context::{self, Context};
    /// let d = Instant::now() + Duration::from_secs(60);
    /// let (ctx, _c) = context::with_deadline(&Context::background(), d);
    /// assert_eq!(ctx.deadline(), Some(d));
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// The value of type `T` nearest up the tree (set by [`with_value`]).
    ///
    /// ```
    /// use goro::context::{self, Context};
    /// #[derive(Debug, PartialEq)]
    /// struct RequestId(u32);
    /// let ctx = context::with_value(&Context::background(), RequestId(7));
    /// let (child, _c) = context::with_cancel(&ctx);
    /// assert_eq!(child.value::<RequestId>(), Some(&RequestId(7)));
    /// assert_eq!(child.value::<String>(), None);
    /// ```
    pub fn value<T: Any + Send + Sync>(&self) -> Option<&T> {
        let mut node = &*self.node;
        loop {
            if let Some(v) = node.value.as_ref().and_then(|v| v.downcast_ref::<T>()) {
                return Some(v);
            }
            node = &*node.parent.as_ref()?.node;
        }
    }
}

impl Default for Context {
    fn default() -> Context {
        Context::background()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// A child of `parent` cancelled by the returned [`CancelFn`] (called or
/// dropped) or when `parent` is (Go's `context.WithCancel`).
///
/// ```
/// use goro::context::{self, Context, ContextError};
/// let (parent, cancel_parent) = context::with_cancel(&Context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent.cancel();
/// assert_eq!(child.err(), Some(ContextError::Canceled));
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFn) {
    child(parent, parent.node.deadline)
}

fn child(parent: &Context, deadline: Option<Instant>) -> (Context, CancelFn) {
    let canceler = Canceler::new();
    let parent_link = match &parent.node.cancel {
        Some(p) => p.adopt(&canceler).map(|id| (p.clone(), id)),
        None => None,
    };
    let ctx = Context {
        node: Arc::new(Node {
            parent: Some(parent.clone()),
            cancel: Some(canceler.clone()),
            deadline,
            value: None,
        }),
    };
    (
        ctx,
        CancelFn {
            canceler,
            parent: parent_link,
        },
    )
}

/// A child of `parent` cancelled with `DeadlineExceeded` at `deadline`
/// (or `parent`'s, if sooner), or by the returned [`CancelFn`]. A deadline
/// already past cancels it at once (Go's `context.WithDeadline`).
///
/// ```
/// use std::time::{Duration, Instant};
/// use goro::context::{self, Context, ContextError};
/// let (ctx, _cancel) = context::with_deadline(&Context::background(), Instant::now());
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// ```
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFn) {
    if parent.node.deadline.is_some_and(|d| d <= deadline) {
        // The parent's deadline comes first and will cancel this one.
        return with_cancel(parent);
    }
    let (ctx, cancel) = child(parent, Some(deadline));
    if Instant::now() >= deadline {
        cancel.canceler.cancel(ContextError::DeadlineExceeded);
    } else if ctx.err().is_none() {
        arm(deadline, &cancel.canceler);
    }
    (ctx, cancel)
}

/// [`with_deadline`] at `timeout` from now (Go's `context.WithTimeout`).
/// A timeout too large to represent sets no deadline.
///
/// ```
/// use std::time::Duration;
/// use goro::context::{self, Context, ContextError};
/// let (ctx, _cancel) = context::with_timeout(&Context::background(), Duration::from_millis(5));
/// assert!(ctx.done().recv().is_err()); // closed when the deadline passes
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// ```
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFn) {
    match Instant::now().checked_add(timeout) {
        Some(d) => with_deadline(parent, d),
        None => with_cancel(parent),
    }
}

/// A child of `parent` carrying `value`, found by [`Context::value`] from
/// it and its descendants (Go's `context.WithValue`, keyed by type).
///
/// ```
/// use goro::context::{self, Context};
/// let ctx = context::with_value(&Context::background(), "user=ann");
/// assert_eq!(ctx.value::<&str>(), Some(&"user=ann"));
/// ```
pub fn with_value<T: Any + Send + Sync>(parent: &Context, value: T) -> Context {
    Context {
        node: Arc::new(Node {
            parent: Some(parent.clone()),
            cancel: parent.node.cancel.clone(),
            deadline: parent.node.deadline,
            value: Some(Box::new(value)),
        }),
    }
}

/// Arms the timer that cancels `c` with `DeadlineExceeded` at `deadline`
/// (it holds the canceler weakly: a context dropped early is freed).
#[cfg(not(loom))]
fn arm(deadline: Instant, c: &Arc<Canceler>) {
    crate::time::cancel_at(deadline, Arc::downgrade(c));
}

/// loom models no clock: deadlines are never armed there.
#[cfg(loom)]
fn arm(_deadline: Instant, _c: &Arc<Canceler>) {}
