//! State shared by all workers of one runtime, and the shutdown protocol.
//!
//! Per worker (`Remote`): the thieves' end of its local queue, its inbox of
//! woken pinned green threads (pushed by other threads), and its parker.
//! Shared: the injector, the idle set, the owned set of every live green
//! thread, and the shutdown flags.
//!
//! # Where a runnable green thread goes
//!
//! * Never started (spawned, or overflowed): the spawning worker's local
//!   queue, else the injector. Any worker may run it; it is pinned to the
//!   first one that does.
//! * Started and woken: its home worker only. From the home worker's own
//!   thread into its LIFO slot (`worker.rs`); from any other thread into the
//!   home's inbox, then the home is unparked if it sleeps.
//!
//! # Counting and owning green threads
//!
//! A green thread counts as live from spawn to completion: spawns bump the
//! spawning worker's `spawned` counter (or `spawned_outside`), completions
//! the home worker's `completed`; all monotonic, so no counter is shared
//! between workers on the hot path. Once started, a green thread sits in its
//! home worker's `owned` set (inserted and removed on that worker only, so
//! the lock is uncontended) until it completes; never-started ones are
//! reachable through the queues.
//!
//! # Shutdown
//!
//! 1. `begin_shutdown` sets `shutdown`, then cancels every green thread in
//!    every owned set: sets CANCELLED on all of them, then wakes them. A green thread starting
//!    concurrently joins its owned set, then checks `shutdown` and cancels
//!    itself, so none escapes: either the sweep sees it or it sees the flag.
//!    Never-started ones are cancelled the same way when they first run.
//! 2. A cancelled green thread's blocking call unwinds with a private
//!    payload caught at its root; a never-started one skips its closure.
//! 3. Once shutdown is set, every completion checks whether all spawned
//!    green threads completed (`all_completed`: all `completed` counters are
//!    read before all `spawned` ones, and both only grow, so equal sums
//!    prove that at one instant none was live); if so it sets `terminate`
//!    and unparks every worker; workers exit their loops.
//! 4. The thread dropping the `Runtime` joins the worker threads.

use std::io;

use crossbeam_utils::CachePadded;

use super::idle::Idle;
use super::inject::Inject;
use super::park::Parker;
use super::parking::Unparker;
use super::queue::Steal;
use super::task::TaskRef;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One runtime's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) inject: Inject<TaskRef>,
    pub(crate) idle: Idle,
    /// Green threads spawned from threads that are not this runtime's
    /// workers.
    spawned_outside: CachePadded<AtomicUsize>,
    /// No new green thread may run user code (step 1).
    shutdown: AtomicBool,
    /// Workers must exit (step 3).
    terminate: AtomicBool,
    /// Default usable stack size of this runtime's green threads.
    pub(crate) stack_size: usize,
    /// How long a thief leaves a few new green threads to a worker that is
    /// starting them itself (`worker::Grace`).
    pub(crate) steal_grace: std::time::Duration,
    /// OS threads waiting in `block_on` (with an id to leave by), woken
    /// when a deadlock is reported.
    block_on_waiters: Mutex<Vec<(u64, Unparker)>>,
    /// The deadlock report, set once (`deadlock.rs`).
    deadlock: Mutex<Option<String>>,
}

/// What a worker publishes each time it takes one of its own new green
/// threads to start it (`Remote::count_started`); thieves read it to leave
/// such green threads to it (`worker::Grace`). Hints only: relaxed, and a
/// stale value only makes a steal come sooner or later.
#[derive(Debug, Default)]
pub(crate) struct Starts {
    /// How many it has taken (wrapping).
    pub(crate) count: AtomicUsize,
    /// How many started green threads were waiting to run on it then.
    pub(crate) backlog: AtomicUsize,
    /// Whether a green thread woken by the one running there waits in its
    /// `runnext` slot while new ones wait too (kept up to date by the
    /// owner, `Worker::publish_conversing`): the running one is handing
    /// off to a peer beside it, and will switch to it when it blocks.
    pub(crate) conversing: AtomicBool,
}

/// What other threads may touch of one worker.
#[derive(Debug)]
pub(crate) struct Remote {
    pub(crate) steal: Steal<TaskRef>,
    /// Started green threads woken from other threads; drained by the owner.
    inbox: Mutex<Vec<TaskRef>>,
    /// Mirrors `inbox.len()`; read without the lock by the owner.
    inbox_len: AtomicUsize,
    pub(crate) parker: Parker,
    /// Started green threads pinned to this worker (see the module doc).
    owned: Mutex<Owned>,
    /// Green threads spawned on this worker's thread (monotonic).
    spawned: CachePadded<AtomicUsize>,
    /// Green threads that completed on this worker (monotonic).
    completed: CachePadded<AtomicUsize>,
    /// Entries in the worker's timer heap (wake-ups and timer channels),
    /// published by the owner for the deadlock detector.
    timers: AtomicUsize,
    /// What the owner publishes each time it starts one of its own new
    /// green threads, for thieves (`worker::Grace`).
    pub(crate) starts: CachePadded<Starts>,
}

impl Remote {
    /// Publishes in `starts` that the owner just took `t` from its own
    /// queue of new green threads, with `backlog` started ones waiting to
    /// run on it. Owner only.
    #[inline]
    pub(crate) fn count_started<T>(&self, t: Option<T>, backlog: usize) -> Option<T> {
        if t.is_some() {
            // The owner is the only writer: a load and a store, no
            // read-modify-write.
            let n = self.starts.count.load(Ordering::Relaxed);
            self.starts
                .count
                .store(n.wrapping_add(1), Ordering::Relaxed);
            self.starts.backlog.store(backlog, Ordering::Relaxed);
        }
        t
    }

    pub(crate) fn new(steal: Steal<TaskRef>) -> Remote {
        Remote {
            steal,
            inbox: Mutex::new(Vec::new()),
            inbox_len: AtomicUsize::new(0),
            parker: Parker::new(),
            owned: Mutex::new(Owned::default()),
            spawned: CachePadded::new(AtomicUsize::new(0)),
            completed: CachePadded::new(AtomicUsize::new(0)),
            timers: AtomicUsize::new(0),
            starts: CachePadded::new(Starts::default()),
        }
    }

    /// Publishes the size of the worker's timer heap (owner only).
    pub(crate) fn set_timers(&self, n: usize) {
        self.timers.store(n, Ordering::SeqCst);
    }

    /// Entries in the worker's timer heap, as last published.
    pub(crate) fn timers(&self) -> usize {
        self.timers.load(Ordering::SeqCst)
    }

    pub(crate) fn has_inbox(&self) -> bool {
        self.inbox_len.load(Ordering::SeqCst) != 0
    }

    /// Moves the inbox's tasks into `f` (owner only; `f` runs under the
    /// inbox lock, so it must only queue). The inbox keeps its buffer, so
    /// a cross-worker wake does not allocate in the steady state.
    pub(crate) fn drain_inbox(&self, f: impl FnMut(TaskRef)) {
        if !self.has_inbox() {
            return;
        }
        let mut inbox = self.inbox.lock();
        self.inbox_len.store(0, Ordering::SeqCst);
        inbox.drain(..).for_each(f);
    }

    /// Queues woken pinned tasks from another thread at once (one lock,
    /// at most one wake-up), as [`Remote::push_inbox`] does for one.
    pub(crate) fn push_inbox_batch(&self, tasks: &mut Vec<TaskRef>) {
        if !tasks.is_empty() {
            self.push_inbox_with(tasks.len(), |inbox| inbox.append(tasks));
        }
    }

    /// Queues a woken pinned task from another thread.
    fn push_inbox(&self, task: TaskRef) {
        self.push_inbox_with(1, |inbox| inbox.push(task));
    }

    /// Adds `n` tasks to the inbox with `add`, under its lock, then wakes
    /// the worker if it sleeps (see `park.rs` for why no wake-up is lost).
    #[inline(always)]
    fn push_inbox_with(&self, n: usize, add: impl FnOnce(&mut Vec<TaskRef>)) {
        {
            let mut inbox = self.inbox.lock();
            add(&mut inbox);
            self.inbox_len.fetch_add(n, Ordering::SeqCst);
        }
        if self.parker.is_parked() {
            self.parker.unpark();
        }
    }
}

impl Shared {
    pub(crate) fn new(
        remotes: Box<[Remote]>,
        stack_size: usize,
        steal_grace: std::time::Duration,
    ) -> Shared {
        Shared {
            remotes,
            inject: Inject::new(),
            idle: Idle::new(),
            spawned_outside: CachePadded::new(AtomicUsize::new(0)),
            shutdown: AtomicBool::new(false),
            terminate: AtomicBool::new(false),
            stack_size,
            steal_grace,
            block_on_waiters: Mutex::new(Vec::new()),
            deadlock: Mutex::new(None),
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    /// Counts a new green thread spawned on worker `on` (or outside any
    /// worker) before it is first queued. Fails if the runtime has
    /// terminated (its workers are gone).
    pub(crate) fn count_spawn(&self, on: Option<usize>) -> io::Result<()> {
        if self.terminate.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "goro: cannot spawn a green thread on a runtime that has shut down",
            ));
        }
        let counter = match on {
            Some(w) => &self.remotes[w].spawned,
            None => &self.spawned_outside,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// A green thread starts on `worker` (its home from now on): it joins
    /// that worker's owned set, and is cancelled at once during shutdown
    /// (step 1).
    pub(crate) fn adopt(&self, task: &TaskRef, worker: usize) {
        let slot = self.remotes[worker].owned.lock().insert(task.clone());
        let slot = u32::try_from(slot).expect("goro: over 4 billion green threads on one worker");
        task.owned_slot.store(slot, Ordering::Relaxed);
        if self.shutdown.load(Ordering::SeqCst) {
            task.state.mark_cancelled();
        }
    }

    /// A green thread completed on `worker` (step 3).
    pub(crate) fn complete(&self, task: &TaskRef, worker: usize) {
        let slot = task.owned_slot.load(Ordering::Relaxed) as usize;
        let removed = self.remotes[worker].owned.lock().remove(slot);
        drop(removed);
        self.remotes[worker]
            .completed
            .fetch_add(1, Ordering::SeqCst);
        if self.shutdown.load(Ordering::SeqCst) && self.all_completed() {
            self.terminate_workers();
        }
    }

    /// Whether every green thread spawned so far has completed (step 3).
    fn all_completed(&self) -> bool {
        let completed: usize = self
            .remotes
            .iter()
            .map(|r| r.completed.load(Ordering::SeqCst))
            .sum();
        let spawned: usize = self
            .remotes
            .iter()
            .map(|r| r.spawned.load(Ordering::SeqCst))
            .sum::<usize>()
            + self.spawned_outside.load(Ordering::SeqCst);
        completed == spawned
    }

    /// Whether shutdown has begun (step 1).
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// An OS thread starts waiting in `block_on`; `id` identifies it for
    /// [`Shared::leave_block_on`].
    pub(crate) fn enter_block_on(&self, id: u64, unparker: Unparker) {
        self.block_on_waiters.lock().push((id, unparker));
    }

    /// The `block_on` caller `id` stops waiting.
    pub(crate) fn leave_block_on(&self, id: u64) {
        self.block_on_waiters.lock().retain(|(i, _)| *i != id);
    }

    /// Whether an OS thread waits in `block_on` (someone to report a
    /// deadlock to).
    pub(crate) fn has_block_on_waiter(&self) -> bool {
        !self.block_on_waiters.lock().is_empty()
    }

    /// Records a deadlock report (the first one wins) and wakes every
    /// `block_on` caller, which panics with it.
    pub(crate) fn report_deadlock(&self, report: String) {
        {
            let mut slot = self.deadlock.lock();
            if slot.is_some() {
                return;
            }
            *slot = Some(report);
        }
        let waiters: Vec<Unparker> = self
            .block_on_waiters
            .lock()
            .iter()
            .map(|(_, u)| u.clone())
            .collect();
        for u in waiters {
            u.unpark();
        }
    }

    /// The deadlock report, once one was made.
    pub(crate) fn deadlock_report(&self) -> Option<String> {
        self.deadlock.lock().clone()
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminate.load(Ordering::SeqCst)
    }

    /// Shutdown step 1.
    pub(crate) fn begin_shutdown(&self) {
        if self.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        // Every green thread is marked before any is woken: a woken one
        // unwinds, and its destructors may wake others (a `Once` waiter
        // whose runner panicked), which must resume cancelled rather than
        // go on running their own code.
        let tasks: Vec<Vec<TaskRef>> = self
            .remotes
            .iter()
            .map(|r| r.owned.lock().snapshot())
            .collect();
        for task in tasks.iter().flatten() {
            task.state.mark_cancelled();
        }
        for task in tasks.into_iter().flatten() {
            if task.state.notify() {
                self.schedule_woken_remote(task);
            }
        }
        if self.all_completed() {
            self.terminate_workers();
        }
    }

    fn terminate_workers(&self) {
        self.terminate.store(true, Ordering::SeqCst);
        for r in self.remotes.iter() {
            r.parker.unpark();
        }
    }

    /// Queues a started task that was just woken, from a thread that is not
    /// its home worker (or does not know whether it is).
    pub(crate) fn schedule_woken_remote(&self, task: TaskRef) {
        let home = task.home().expect("a woken task has started");
        self.remotes[home].push_inbox(task);
    }

    /// Queues a never-started task from outside the runtime's workers.
    pub(crate) fn schedule_new_remote(&self, task: TaskRef) {
        self.inject.push(task);
        self.notify_work();
    }

    /// Wakes a sleeping worker for new never-started work, if needed.
    pub(crate) fn notify_work(&self) {
        if let Some(w) = self.idle.worker_to_notify() {
            self.remotes[w].parker.unpark();
        }
    }

    /// Whether any queue holds never-started work a worker could take.
    pub(crate) fn has_shared_work(&self) -> bool {
        !self.inject.is_empty() || self.remotes.iter().any(|r| !r.steal.is_empty())
    }

    /// Every started, unfinished green thread, for `Runtime::dump`.
    pub(crate) fn tasks(&self) -> Vec<TaskRef> {
        let mut v = Vec::new();
        for r in self.remotes.iter() {
            v.extend(r.owned.lock().snapshot());
        }
        v.sort_by_key(|t| t.id);
        v
    }

    /// Green threads spawned and not yet started.
    pub(crate) fn not_started(&self) -> usize {
        let started_or_done: usize = self
            .remotes
            .iter()
            .map(|r| r.owned.lock().len())
            .sum::<usize>()
            + self
                .remotes
                .iter()
                .map(|r| r.completed.load(Ordering::SeqCst))
                .sum::<usize>();
        let spawned: usize = self
            .remotes
            .iter()
            .map(|r| r.spawned.load(Ordering::SeqCst))
            .sum::<usize>()
            + self.spawned_outside.load(Ordering::SeqCst);
        spawned.saturating_sub(started_or_done)
    }
}

/// The started green threads of one worker: a slab, so insert and remove
/// are O(1) and a task remembers its slot.
#[derive(Debug, Default)]
struct Owned {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
    len: usize,
}

impl Owned {
    fn insert(&mut self, task: TaskRef) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(task);
                i
            }
            None => {
                self.slots.push(Some(task));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) -> Option<TaskRef> {
        let t = self.slots.get_mut(slot)?.take();
        if t.is_some() {
            self.len -= 1;
            self.free.push(slot);
        }
        t
    }

    fn len(&self) -> usize {
        self.len
    }

    fn snapshot(&self) -> Vec<TaskRef> {
        self.slots.iter().flatten().cloned().collect()
    }
}
