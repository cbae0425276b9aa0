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
//! # Shutdown
//!
//! 1. `begin_shutdown` sets `shutdown`, then cancels every task in the owned
//!    set (sets CANCELLED and wakes it). A task spawned concurrently checks
//!    `shutdown` after joining the owned set and cancels itself, so no task
//!    escapes: either the sweep sees it or it sees the flag.
//! 2. A cancelled task's blocking call unwinds with a private payload caught
//!    at its root; a never-started one skips its closure. Each completes.
//! 3. The completion that takes `live` to zero while `shutdown` is set sets
//!    `terminate` and unparks every worker; workers exit their loops.
//! 4. The thread dropping the `Runtime` joins the worker threads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;

use crossbeam_utils::CachePadded;

use super::idle::Idle;
use super::inject::Inject;
use super::park::Parker;
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
    owned: Owned,
    /// Green threads spawned and not yet finished.
    live: AtomicUsize,
    /// No new green thread may run user code (step 1).
    shutdown: AtomicBool,
    /// Workers must exit (step 3).
    terminate: AtomicBool,
    /// Default usable stack size of this runtime's green threads.
    pub(crate) stack_size: usize,
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
}

impl Remote {
    pub(crate) fn new(steal: Steal<TaskRef>) -> Remote {
        Remote {
            steal,
            inbox: Mutex::new(Vec::new()),
            inbox_len: AtomicUsize::new(0),
            parker: Parker::new(),
        }
    }

    pub(crate) fn has_inbox(&self) -> bool {
        self.inbox_len.load(Ordering::SeqCst) != 0
    }

    /// Moves the inbox's tasks into `f` (owner only).
    pub(crate) fn drain_inbox(&self, mut f: impl FnMut(TaskRef)) {
        if !self.has_inbox() {
            return;
        }
        let tasks = {
            let mut inbox = self.inbox.lock();
            self.inbox_len.store(0, Ordering::SeqCst);
            std::mem::take(&mut *inbox)
        };
        for t in tasks {
            f(t);
        }
    }

    /// Queues a woken pinned task from another thread and wakes the worker
    /// if it sleeps (see `park.rs` for why no wake-up is lost).
    fn push_inbox(&self, task: TaskRef) {
        {
            let mut inbox = self.inbox.lock();
            inbox.push(task);
            self.inbox_len.fetch_add(1, Ordering::SeqCst);
        }
        if self.parker.is_parked() {
            self.parker.unpark();
        }
    }
}

impl Shared {
    pub(crate) fn new(remotes: Box<[Remote]>, stack_size: usize) -> Shared {
        Shared {
            remotes,
            inject: Inject::new(),
            idle: Idle::new(),
            owned: Owned::new(),
            live: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            terminate: AtomicBool::new(false),
            stack_size,
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    /// Registers a new task before it is first queued. Returns an error if
    /// the runtime has terminated (its workers are gone).
    pub(crate) fn register(&self, task: &TaskRef) -> io::Result<()> {
        if self.terminate.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "goro: cannot spawn a green thread on a runtime that has shut down",
            ));
        }
        self.live.fetch_add(1, Ordering::SeqCst);
        self.owned.insert(task.clone());
        if self.shutdown.load(Ordering::SeqCst) {
            // Shutdown step 1: the sweep may have missed us.
            task.state.cancel();
        }
        Ok(())
    }

    /// A task finished (shutdown step 3).
    pub(crate) fn complete(&self, task: &TaskRef) {
        self.owned.remove(task);
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 && self.shutdown.load(Ordering::SeqCst) {
            self.terminate_workers();
        }
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminate.load(Ordering::SeqCst)
    }

    /// Shutdown step 1.
    pub(crate) fn begin_shutdown(&self) {
        if self.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        for task in self.owned.snapshot() {
            if task.state.cancel() {
                self.schedule_woken_remote(task);
            }
        }
        if self.live.load(Ordering::SeqCst) == 0 {
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

    /// Every live task, for `Runtime::dump`.
    pub(crate) fn tasks(&self) -> Vec<TaskRef> {
        let mut v = self.owned.snapshot();
        v.sort_by_key(|t| t.id);
        v
    }
}

/// The set of live tasks, sharded to keep spawn and completion on
/// different workers from contending on one lock.
#[derive(Debug)]
struct Owned {
    shards: Box<[CachePadded<Mutex<HashMap<u64, TaskRef, BuildHasherDefault<IdHasher>>>>]>,
}

const OWNED_SHARDS: usize = 16;

impl Owned {
    fn new() -> Owned {
        Owned {
            shards: (0..OWNED_SHARDS)
                .map(|_| CachePadded::new(Mutex::new(HashMap::default())))
                .collect(),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<HashMap<u64, TaskRef, BuildHasherDefault<IdHasher>>> {
        &self.shards[id as usize % OWNED_SHARDS]
    }

    fn insert(&self, task: TaskRef) {
        let id = task.id.as_u64();
        self.shard(id).lock().insert(id, task);
    }

    fn remove(&self, task: &TaskRef) {
        let id = task.id.as_u64();
        let removed = self.shard(id).lock().remove(&id);
        // Dropped outside the lock.
        drop(removed);
    }

    /// Clones of every live task, taken shard by shard.
    fn snapshot(&self) -> Vec<TaskRef> {
        let mut v = Vec::new();
        for s in self.shards.iter() {
            v.extend(s.lock().values().cloned());
        }
        v
    }
}

/// Green-thread ids are unique sequential numbers: mixing them with one
/// multiplication spreads them over the table well enough.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
