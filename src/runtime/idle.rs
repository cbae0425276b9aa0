//! Which workers sleep, and which are searching for work.
//!
//! New never-started work (a spawn, an injector push) may run on any worker;
//! `notify_work` wakes one sleeping worker for it, unless a worker is
//! already searching (that one will find it) or none sleeps.
//!
//! # Protocol (no lost wake-up)
//!
//! 1. A worker with nothing to do calls [`Idle::transition_to_sleeping`]
//!    (it joins `sleepers` and bumps `num_sleeping`), issues a `SeqCst`
//!    fence, then re-checks every queue before it parks.
//! 2. A producer publishes its task, issues a `SeqCst` fence, then reads
//!    the counters in [`Idle::worker_to_notify`].
//! 3. By the fences, either the producer sees the sleeper (and wakes it) or
//!    the sleeper's re-check sees the task. A searcher counted in
//!    `num_searching` goes through step 1 before it sleeps, so a producer
//!    that skips the wake because someone searches is covered too.
//! 4. A woken worker starts out searching; when it finds work it calls
//!    [`Idle::transition_from_searching`], and the last searcher to stop
//!    wakes one more sleeper if work remains (tokio's chained wake-up), so
//!    parallelism ramps up without waking every worker on every spawn.

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};

/// The idle set of one runtime.
#[derive(Debug)]
pub(crate) struct Idle {
    /// Workers registered as asleep (or about to be). Equal in length to
    /// `num_sleeping` whenever the lock is free.
    sleepers: Mutex<Vec<usize>>,
    num_sleeping: AtomicUsize,
    /// Workers woken for new work that have not found it yet.
    num_searching: AtomicUsize,
}

impl Idle {
    pub(crate) fn new() -> Idle {
        Idle {
            sleepers: Mutex::new(Vec::new()),
            num_sleeping: AtomicUsize::new(0),
            num_searching: AtomicUsize::new(0),
        }
    }

    /// Step 2: after publishing work, picks a sleeping worker to wake, if
    /// one should be. The caller unparks the returned worker.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(Ordering::SeqCst);
        if self.num_searching.load(Ordering::SeqCst) != 0
            || self.num_sleeping.load(Ordering::SeqCst) == 0
        {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Re-check under the lock: another producer may have taken the last
        // sleeper, or a searcher may have appeared.
        if self.num_searching.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let w = sleepers.pop()?;
        self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
        self.num_searching.fetch_add(1, Ordering::SeqCst);
        Some(w)
    }

    /// Step 1: `worker` is about to sleep. The caller re-checks the queues
    /// after this returns (the fence is included).
    pub(crate) fn transition_to_sleeping(&self, worker: usize, searching: bool) {
        let mut sleepers = self.sleepers.lock();
        sleepers.push(worker);
        self.num_sleeping.fetch_add(1, Ordering::SeqCst);
        if searching {
            self.num_searching.fetch_sub(1, Ordering::SeqCst);
        }
        drop(sleepers);
        fence(Ordering::SeqCst);
    }

    /// A worker woke up (work, notify or deadline). Returns `true` when a
    /// producer picked it (it now counts as searching); otherwise it
    /// removes itself from the sleepers and does not search.
    pub(crate) fn transition_from_sleeping(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
                false
            }
            None => true,
        }
    }

    /// Workers registered as asleep (or about to be), for the deadlock
    /// detector.
    pub(crate) fn num_sleeping(&self) -> usize {
        self.num_sleeping.load(Ordering::SeqCst)
    }

    /// A searching worker stopped searching (step 4). Returns `true` when it
    /// was the last searcher: the caller should wake another worker if work
    /// remains.
    pub(crate) fn transition_from_searching(&self) -> bool {
        self.num_searching.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// A worker starts searching on its own (it ran out of local work).
    /// Returns `false` if enough workers already search (at most half the
    /// workers search at once, as in Go and tokio).
    pub(crate) fn transition_to_searching(&self, num_workers: usize) -> bool {
        let searching = self.num_searching.load(Ordering::SeqCst);
        if 2 * searching >= num_workers.max(2) {
            return false;
        }
        self.num_searching.fetch_add(1, Ordering::SeqCst);
        true
    }
}
