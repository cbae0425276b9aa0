//! Scoped green threads: [`scope`] lets green threads borrow from the
//! caller's stack, like [`std::thread::scope`].
//!
//! Invariant (what makes the lifetime erasure in [`Scope::spawn`] sound):
//! `scope` does not return or unwind until every green thread spawned in it
//! has finished its closure (returned or unwound, and dropped it) and
//! stored its result, and until every result nobody joined is dropped.
//! What outlives the scope of a child (its task, held by its worker until
//! it completes) holds neither the closure nor a result. Its wait is uncancellable: during a runtime's shutdown the
//! children are cancelled and unwound like any green thread, and the scope
//! waits for that too.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use super::JoinHandle;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::runtime::parking::{self, Unparker};
use crate::runtime::task::{GreenId, TaskRef, WaitReason};

/// A scope to spawn borrowing green threads in; see [`scope`].
///
/// ```
/// let mut n = 0;
/// goro::scope(|s: &goro::Scope<'_, '_>| {
///     s.spawn(|| n += 1);
/// });
/// assert_eq!(n, 1);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

struct ScopeData {
    /// Green threads spawned in the scope whose body has not finished.
    running: AtomicUsize,
    /// The scope's owner, parked until `running` reaches zero.
    owner: Mutex<Option<Unparker>>,
    /// Every child, checked at the end for unjoined panics.
    children: Mutex<Vec<TaskRef>>,
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

/// Decrements the scope's count when a child's closure is done, even if it
/// panicked (the guard drops during the unwind, inside `catch_unwind`).
struct Finished(Arc<ScopeData>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.child_finished();
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
            children: Mutex::new(Vec::new()),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let mut panicked = false;
    loop {
        scope.data.wait_all();
        // Every child's closure is done; its result is stored a few
        // instructions later (no blocking in between). Drop the results
        // nobody joined here, inside the scope, since they may borrow from
        // it. Such a drop may spawn more scoped green threads (a result can
        // hold the `&Scope`): wait for those too, until none is left.
        let children = std::mem::take(&mut *scope.data.children.lock());
        if children.is_empty() {
            break;
        }
        for child in children {
            while !child.body().is_finished() {
                std::thread::yield_now();
            }
            panicked |= child.body().discard_output();
        }
    }
    match result {
        Err(e) => panic::resume_unwind(e),
        Ok(_) if panicked => {
            // Children unwound by their runtime's shutdown did not fail:
            // the owner, cancelled too, unwinds the same silent way.
            crate::runtime::parking::unwind_if_cancelled();
            // std::thread::scope's words, for tests ported from std.
            panic!("a scoped thread panicked")
        }
        Ok(v) => v,
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
        let finished = Finished(self.data.clone());
        let f = move || {
            let _finished = finished;
            f()
        };
        self.data.running.fetch_add(1, Ordering::AcqRel);
        let shared = crate::runtime::current_shared();
        // SAFETY: `f` and `T` borrow only data outliving 'scope, and by the
        // module invariant nothing of them survives the scope: `running`
        // counts this child until its `Finished` guard drops (after `f`
        // returned or unwound), then `scope` waits for its stored result and
        // drops it unless a `ScopedJoinHandle` (bounded by 'scope) took it.
        let task = match unsafe { crate::runtime::spawn_task(&shared, None, None, f) } {
            Ok(t) => t,
            Err(e) => {
                // The closure was dropped unrun, and its guard with it.
                panic!("{e}");
            }
        };
        self.data.children.lock().push(task.clone());
        ScopedJoinHandle {
            // SAFETY: the closure returns `T`.
            inner: unsafe { JoinHandle::new(task) },
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
