//! The global injection queue: green threads spawned from outside a worker,
//! and the overflow of full local queues. Only never-started green threads
//! go here (started ones are pinned, see `worker.rs`), so any worker may
//! take from it.
//!
//! A mutex guards the queue; `len` mirrors its length so that idle checks
//! and the every-61-ticks fairness poll cost one load when it is empty.

use std::collections::VecDeque;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// A FIFO of runnable, never-started tasks shared by all workers.
#[derive(Debug)]
pub(crate) struct Inject<T> {
    queue: Mutex<VecDeque<T>>,
    /// Equal to `queue.len()` whenever the lock is free.
    len: AtomicUsize,
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Inject<T> {
        Inject {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::SeqCst) == 0
    }

    pub(crate) fn push(&self, task: T) {
        let mut q = self.queue.lock();
        q.push_back(task);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    /// Pushes a batch (a local queue's overflow) under one lock.
    pub(crate) fn push_batch(&self, tasks: impl Iterator<Item = T>) {
        let mut q = self.queue.lock();
        q.extend(tasks);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.queue.lock();
        let t = q.pop_front();
        self.len.store(q.len(), Ordering::SeqCst);
        t
    }

    /// Takes up to `max` tasks at once (a worker refilling its local queue).
    pub(crate) fn pop_batch(&self, max: usize, mut f: impl FnMut(T)) {
        if self.is_empty() {
            return;
        }
        let mut q = self.queue.lock();
        let n = max.min(q.len());
        for t in q.drain(..n) {
            f(t);
        }
        self.len.store(q.len(), Ordering::SeqCst);
    }
}
