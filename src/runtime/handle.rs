//! [`Builder`] and [`Runtime`]: configuring, starting, using and shutting
//! down one scheduler, plus the lazily started global runtime that `go!`
//! uses outside any runtime.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle as OsJoinHandle;

use super::parking::{self, Unparker};
use super::queue;
use super::scheduler::{Remote, Shared};
use super::task::WaitReason;
use super::task::{Cell, GreenId, Header, Task, TaskRef};
use super::worker;
use crate::coroutine::{Coroutine, stack};
use crate::green::{JoinHandle, Stage};

/// The most workers one runtime may have.
const MAX_WORKERS: usize = 4096;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = goro::runtime::Builder::new().workers(2).build().unwrap();
/// assert_eq!(rt.block_on(|| 40 + 2), 42);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    workers: Option<usize>,
    stack_size: Option<usize>,
    /// `worker::STEAL_GRACE` unless a test sets it.
    steal_grace: Option<std::time::Duration>,
}

impl Builder {
    /// A builder with the defaults: `GORO_WORKERS` workers if that
    /// environment variable is set, else one per available CPU; stacks of
    /// 256 KiB.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().build().unwrap();
    /// rt.block_on(|| ());
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Sets how long a thief leaves a few new green threads to a worker
    /// that is starting them itself (`worker::Grace`), for tests that need
    /// a placement that does not depend on timing.
    #[cfg(test)]
    pub(crate) fn steal_grace(&mut self, grace: std::time::Duration) -> &mut Builder {
        self.steal_grace = Some(grace);
        self
    }

    /// Sets the number of workers (OS threads running green threads).
    /// `build` fails with `InvalidInput` for 0 or more than 4096.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().workers(1).build().unwrap();
    /// assert_eq!(rt.workers(), 1);
    /// assert!(goro::runtime::Builder::new().workers(0).build().is_err());
    /// ```
    pub fn workers(&mut self, n: usize) -> &mut Builder {
        self.workers = Some(n);
        self
    }

    /// Sets the default stack size of this runtime's green threads, in
    /// bytes (rounded up to whole pages). `build` fails with `InvalidInput`
    /// below 16 KiB or above 1 GiB. The default is 256 KiB, enough for
    /// ordinary Rust code even in a debug build (serde_json at its deepest
    /// nesting needs 224 KiB there; `tests/default_stack.rs`). Pages are
    /// touched only as used, so a green thread that stays shallow costs one
    /// or two pages of memory whatever the size.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().stack_size(1 << 20).build().unwrap();
    /// rt.block_on(|| ());
    /// ```
    pub fn stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    /// `InvalidInput` for a worker count or stack size out of range, or an
    /// unparsable `GORO_WORKERS`; the OS error if a worker thread cannot
    /// be started.
    ///
    /// ```
    /// let err = goro::runtime::Builder::new().stack_size(1).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(n) => n,
            None => default_workers()?,
        };
        if workers == 0 || workers > MAX_WORKERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("goro: a runtime needs between 1 and {MAX_WORKERS} workers, got {workers}"),
            ));
        }
        let stack_size =
            stack::validate_size(self.stack_size.unwrap_or(stack::DEFAULT_STACK_SIZE))?;
        crate::green::install_panic_hook();
        let mut locals = Vec::with_capacity(workers);
        let mut remotes = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (steal, local) = queue::local();
            remotes.push(Remote::new(steal));
            locals.push(local);
        }
        let shared = Arc::new(Shared::new(
            remotes.into_boxed_slice(),
            stack_size,
            self.steal_grace.unwrap_or(worker::STEAL_GRACE),
        ));
        super::deadlock::register(&shared);
        let mut threads = Vec::with_capacity(workers);
        for (index, local) in locals.into_iter().enumerate() {
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("goro-worker-{index}"))
                .spawn(move || worker::run(s, index, local));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let rt = Runtime { shared, threads };
                    drop(rt);
                    return Err(e);
                }
            }
        }
        Ok(Runtime { shared, threads })
    }
}

fn default_workers() -> io::Result<usize> {
    match std::env::var("GORO_WORKERS") {
        // Set but empty (`GORO_WORKERS= cmd`) means unset, as for most
        // environment settings.
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<usize>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("goro: GORO_WORKERS must be a positive integer, got {v:?}"),
            )
        }),
        _ => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// A scheduler: a set of worker threads running green threads.
///
/// Dropping a `Runtime` shuts it down: every green thread still alive is
/// unwound (its pending blocking call panics with a private payload that
/// its root catches), so destructors run and stacks return; then the
/// workers exit and are joined.
///
/// ```
/// let rt = goro::runtime::Builder::new().workers(2).build().unwrap();
/// let h = rt.spawn(|| 6 * 7);
/// assert_eq!(rt.block_on(move || h.join().unwrap()), 42);
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<OsJoinHandle<()>>,
}

impl Runtime {
    /// The state the workers share (for the crate's own tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Runs `f` as a green thread on this runtime and blocks the calling
    /// OS thread until it returns; a panic in `f` resumes in the caller.
    /// Other green threads keep running afterwards (dropping the runtime
    /// stops them).
    ///
    /// # Panics
    /// If called from a green thread (blocking a worker would stall every
    /// green thread pinned to it), or if `f` panics. If the runtime
    /// deadlocks (every green thread is parked on goro primitives with no
    /// timer pending, and no other thread of the process could act; see
    /// the crate docs), it panics with `all green threads are asleep -
    /// deadlock!` and the list of blocked green threads, after shutting the
    /// runtime down (the green threads are unwound).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().build().unwrap();
    /// let v = vec![1, 2, 3];
    /// assert_eq!(rt.block_on(|| v.iter().sum::<i32>()), 6);
    /// ```
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        assert!(
            crate::current().is_none(),
            "goro: block_on (or run) called from a green thread; spawn with go! instead"
        );
        let name: Option<Arc<str>> = Some(Arc::from("main"));
        // Registered before the root exists: a deadlock the root runs into
        // at once is checked for only while someone waits to be told
        // (`deadlock.rs`), and the workers may go idle before this thread
        // gets here.
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.shared.enter_block_on(id, Unparker::current());
        // SAFETY: `f` and `T` may borrow from the caller (not 'static). We
        // wait below, uncancellably and without unwinding, until the body
        // has run and take the result before returning: a cancelled green
        // thread still runs its body (dropping `f` unrun).
        let task = match unsafe { spawn_task(&self.shared, name, None, f) } {
            Ok(t) => t,
            Err(e) => {
                self.shared.leave_block_on(id);
                panic!("{e}")
            }
        };
        // SAFETY: the closure returns `T`.
        let handle = unsafe { JoinHandle::<T>::new(task.clone()) };
        match self.wait_root::<T>(id, &task, handle) {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Waits (uncancellably) for the root green thread `task` of
    /// `block_on`, whose closure returns `T`, and takes its result; the
    /// caller registered as block_on waiter `id`, which this leaves. If a
    /// deadlock is reported meanwhile (`deadlock.rs`), shuts the runtime
    /// down, waits for the root to unwind (it may borrow from the caller),
    /// and panics with the report.
    #[track_caller]
    fn wait_root<T>(
        &self,
        id: u64,
        task: &TaskRef,
        handle: JoinHandle<T>,
    ) -> std::thread::Result<T> {
        let mut out: Option<std::thread::Result<T>> = None;
        let deadlock = loop {
            // SAFETY: `out` has the type of the root closure's result.
            if unsafe { task.body().poll_output(&mut out as *mut _ as *mut ()) } {
                break None;
            }
            if let Some(report) = self.shared.deadlock_report() {
                break Some(report);
            }
            parking::park_uncancellable(WaitReason::Join);
        };
        self.shared.leave_block_on(id);
        match deadlock {
            None => out.expect("poll_output stored the result"),
            Some(report) => {
                self.shared.begin_shutdown();
                drop(handle.join_uncancellable());
                panic!("{report}");
            }
        }
    }

    /// Spawns a green thread on this runtime, from any thread.
    ///
    /// # Panics
    /// If no stack can be had for it (see [`crate::Builder::spawn`] for the
    /// fallible form).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().build().unwrap();
    /// let h = rt.spawn(|| "hi");
    /// assert_eq!(h.join().unwrap(), "hi");
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> crate::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match crate::green::spawn_on(&self.shared, None, None, f) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// The number of workers.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().workers(3).build().unwrap();
    /// assert_eq!(rt.workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Lists every live green thread of this runtime, one per line: id,
    /// name, state, and what it waits on when parked.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = goro::runtime::Builder::new().build().unwrap();
    /// rt.spawn(|| goro::sleep(Duration::from_secs(60)));
    /// while !rt.dump().contains("parked: sleep") {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// drop(rt); // unwinds the sleeper
    /// ```
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for t in self.shared.tasks() {
            out.push_str(&describe(&t));
            out.push('\n');
        }
        let waiting = self.shared.not_started();
        if waiting > 0 {
            out.push_str(&format!("{waiting} green threads not started yet\n"));
        }
        out
    }
}

/// One line of `dump` (and of a deadlock report) for `t`.
pub(super) fn describe(t: &Task) -> String {
    let name = t.name.as_deref().unwrap_or("<unnamed>");
    let reason = t.wait_reason().as_str();
    let state = t.state.describe();
    if reason.is_empty() {
        format!("green thread {} '{}' [{}]", t.id, name, state)
    } else {
        format!("green thread {} '{}' [{}: {}]", t.id, name, state, reason)
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.begin_shutdown();
        let on_own_worker =
            worker::with_worker(|w| w.is_some_and(|w| Arc::ptr_eq(&w.shared, &self.shared)));
        if on_own_worker {
            // Dropped from one of its own green threads: joining would wait
            // for ourselves. The workers exit once the last green thread
            // (this one included) has unwound.
            return;
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Creates a green thread running `f` on `shared` and queues it.
///
/// # Safety
/// If `F` or `T` borrow (are not `'static`), the caller must not let those
/// borrows end before the green thread's body has finished running (its
/// result is stored), nor before the result is taken or dropped.
pub(crate) unsafe fn spawn_task<'a, F, T>(
    shared: &Arc<Shared>,
    name: Option<Arc<str>>,
    stack_size: Option<usize>,
    f: F,
) -> io::Result<TaskRef>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let size = match stack_size {
        Some(s) => stack::validate_size(s)?,
        None => shared.stack_size,
    };
    let stack = stack::acquire(size)?;
    let id = GreenId::next();
    let co = Coroutine::new(stack, task_entry);
    // SAFETY: the caller guarantees the borrows outlive every use of the
    // body.
    let task = unsafe {
        TaskRef::new(Cell {
            header: Header::new(shared, id, name, co),
            body: Stage::new(f),
        })
    };
    let on = worker::with_worker(|w| {
        w.filter(|w| Arc::ptr_eq(&w.shared, shared))
            .map(|w| w.index)
    });
    shared.count_spawn(on)?;
    worker::schedule_new(shared, task.clone());
    Ok(task)
}

/// The function every green thread's coroutine runs: the body of the task
/// the worker is resuming.
fn task_entry() {
    let task = worker::current_task_ptr().expect("a green thread's entry runs on its worker");
    // SAFETY: the task stays alive while its body runs: its home worker's
    // owned set holds a `TaskRef` from before the first resume until the
    // coroutine has finished (`Shared::adopt` / `Shared::complete`), so a
    // borrow for the body's run is sound without a count of its own. The
    // pointer is `Worker::current`'s, which came from a `TaskRef` and so
    // covers the whole cell.
    let (header, body) = unsafe { (task.as_ref(), super::task::body_at(task)) };
    body.run(header.state.is_cancelled());
}

/// The runtime `go!` uses outside any runtime, started on first use with
/// the default configuration; it lives as long as the process.
pub(crate) fn global() -> &'static Arc<Shared> {
    static GLOBAL: OnceLock<Runtime> = OnceLock::new();
    &GLOBAL
        .get_or_init(|| {
            Builder::new()
                .build()
                .unwrap_or_else(|e| panic!("goro: cannot start the global runtime: {e}"))
        })
        .shared
}

/// The runtime of the calling worker, else the global one.
pub(crate) fn current_shared() -> Arc<Shared> {
    worker::with_worker(|w| w.map(|w| w.shared.clone())).unwrap_or_else(|| global().clone())
}

/// Runs `f` as the root green thread of a new runtime with the default
/// configuration and returns its value, like Go's `main`: when `f` returns,
/// every other green thread still alive is unwound (destructors run,
/// stacks return) and the workers stop before `run` returns. A panic in
/// `f` resumes in the caller after that shutdown.
///
/// # Panics
/// If called from a green thread, if the runtime cannot start, or if `f`
/// panics; on a deadlock, with `all green threads are asleep - deadlock!`
/// and one line per blocked green thread (see [`Runtime::block_on`]).
///
/// ```
/// let total = goro::run(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| goro::go!(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(total, 285);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let rt = Builder::new()
        .build()
        .unwrap_or_else(|e| panic!("goro: cannot start a runtime: {e}"));
    rt.block_on(f)
}
