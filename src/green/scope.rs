//! Scoped green threads: [`scope`] lets green threads borrow from the
//! caller's stack, like [`std::thread::scope`].
//!
//! Invariant (what makes the lifetime erasure in [`Scope::spawn`] sound):
//! `scope` does not return or unwind until every green thread spawned in it
//! has run its entry to completion, dropping its closure and storing its
//! result. Its wait is uncancellable: during a runtime's shutdown the
//! children are cancelled and unwound like any green thread, and the scope
//! waits for that too.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use super::{JoinHandle, Packet, make_entry};
use crate::coroutine::Entry;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::runtime::parking::{self, Unparker};
use crate::runtime::task::{GreenId, WaitReason};

/// A scope to spawn borrowing green threads in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

struct ScopeData {
    /// Green threads spawned in the scope whose entry has not finished.
    running: AtomicUsize,
    /// The scope's owner, parked until `running` reaches zero.
    owner: Mutex<Option<Unparker>>,
    /// Packets of every child, checked at the end for unjoined panics.
    packets: Mutex<Vec<Arc<dyn UnjoinedPanic>>>,
}

trait UnjoinedPanic: Send + Sync {
    fn has_unjoined_panic(&self) -> bool;
}

impl<T: Send> UnjoinedPanic for Packet<T> {
    fn has_unjoined_panic(&self) -> bool {
        self.holds_panic()
    }
}

impl ScopeData {
    fn child_finished(&self) {
        let owner = {
            let mut owner = self.owner.lock();
            if self.running.fetch_sub(1, Ordering::AcqRel) != 1 {
                return;
            }
            owner.take()
        };
        if let Some(o) = owner {
            o.unpark();
        }
    }

    fn wait_all(&self) {
        loop {
            {
                let mut owner = self.owner.lock();
                if self.running.load(Ordering::Acquire) == 0 {
                    return;
                }
                *owner = Some(Unparker::current());
            }
            parking::park_uncancellable(WaitReason::Scope);
        }
    }
}

/// Creates a scope for spawning green threads that borrow from the
/// caller; every green thread spawned in it is joined before `scope`
/// returns.
///
/// # Panics
/// If `f` panics, or a green thread spawned in the scope panicked and was
/// not joined (after all of them have finished), like
/// [`std::thread::scope`].
///
/// ```
/// let mut counts = [0usize; 4];
/// let words = ["a", "bb", "ccc", "dddd"];
/// goro::scope(|s| {
///     for (c, w) in counts.iter_mut().zip(&words) {
///         s.spawn(move || *c = w.len());
///     }
/// });
/// assert_eq!(counts, [1, 2, 3, 4]);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            owner: Mutex::new(None),
            packets: Mutex::new(Vec::new()),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.wait_all();
    match result {
        Err(e) => panic::resume_unwind(e),
        Ok(v) => {
            let panicked = scope
                .data
                .packets
                .lock()
                .iter()
                .any(|p| p.has_unjoined_panic());
            if panicked {
                panic!("a scoped green thread panicked");
            }
            v
        }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a green thread that may borrow anything that outlives the
    /// scope.
    ///
    /// # Panics
    /// If no stack can be mapped for it.
    ///
    /// ```
    /// let v = vec![1, 2, 3];
    /// let sum = goro::scope(|s| s.spawn(|| v.iter().sum::<i32>()).join().unwrap());
    /// assert_eq!(sum, 6);
    /// ```
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet::new());
        let inner = make_entry(f, packet.clone());
        let data = self.data.clone();
        let entry: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            inner();
            data.child_finished();
        });
        // SAFETY: the closure borrows only data outliving 'scope, and
        // `scope` does not return before this entry has finished running
        // (the module invariant): `running` counts it from here until
        // `child_finished`, its last action.
        let entry: Entry =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Entry>(entry) };
        self.data.running.fetch_add(1, Ordering::AcqRel);
        let shared = crate::runtime::current_shared();
        let task = match crate::runtime::spawn_entry(&shared, None, None, entry) {
            Ok(t) => t,
            Err(e) => {
                // The entry was dropped unrun: undo the count.
                self.data.running.fetch_sub(1, Ordering::AcqRel);
                panic!("{e}");
            }
        };
        let check: Arc<dyn UnjoinedPanic + 'scope> = packet.clone();
        // SAFETY: only `has_unjoined_panic` is ever called through this
        // erased pointer, and only inside `scope` (before 'scope ends); it
        // reads whether a panic payload is stored, never a `T`.
        let check: Arc<dyn UnjoinedPanic> = unsafe {
            std::mem::transmute::<Arc<dyn UnjoinedPanic + 'scope>, Arc<dyn UnjoinedPanic>>(check)
        };
        self.data.packets.lock().push(check);
        ScopedJoinHandle {
            inner: JoinHandle { packet, task },
            _scope: PhantomData,
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A handle to join a green thread spawned in a [`scope`].
///
/// ```
/// goro::scope(|s| {
///     let h = s.spawn(|| 5);
///     assert_eq!(h.join().unwrap(), 5);
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinHandle<T>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the green thread and returns its result or panic payload.
    ///
    /// ```
    /// goro::scope(|s| {
    ///     let r = s.spawn(|| panic!("no")).join();
    ///     assert!(r.is_err());
    /// });
    /// ```
    pub fn join(self) -> thread::Result<T> {
        self.inner.join()
    }

    /// Whether the green thread has finished.
    ///
    /// ```
    /// goro::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     while !h.is_finished() {
    ///         goro::yield_now();
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The green thread's identifier.
    ///
    /// ```
    /// goro::scope(|s| {
    ///     let h = s.spawn(|| goro::current().unwrap().id());
    ///     let id = h.id();
    ///     assert_eq!(h.join().unwrap(), id);
    /// });
    /// ```
    pub fn id(&self) -> GreenId {
        self.inner.id()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
