//! Idle-worker park and wake: work that arrives while a worker goes to
//! sleep is never missed (a lost wake-up shows up as a loom deadlock).

use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::runtime::idle::Idle;
use crate::runtime::park::Parker;

/// A worker loop reduced to its sleep protocol (`worker.rs` `run_loop`,
/// `sleep`, `end_searching`): sleep until `work` is non-zero, then take one
/// unit; a worker woken as a searcher that finds work and was the last
/// searcher wakes another sleeper if work remains.
fn worker(idle: &Idle, parkers: &[Parker], work: &AtomicUsize, index: usize) {
    let mut searching = false;
    loop {
        let n = work.load(Ordering::SeqCst);
        if n > 0 {
            if work
                .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            if searching && idle.transition_from_searching() && work.load(Ordering::SeqCst) > 0 {
                if let Some(i) = idle.worker_to_notify() {
                    parkers[i].unpark();
                }
            }
            return;
        }
        idle.transition_to_sleeping(index, searching);
        parkers[index].park(None, || work.load(Ordering::SeqCst) > 0);
        searching = idle.transition_from_sleeping(index);
    }
}

/// A producer: publish one unit of work, then wake a sleeper if needed.
fn produce(idle: &Idle, parkers: &[Parker], work: &AtomicUsize) {
    work.fetch_add(1, Ordering::SeqCst);
    if let Some(i) = idle.worker_to_notify() {
        parkers[i].unpark();
    }
}

#[test]
fn new_work_wakes_a_sleeping_worker() {
    loom::model(|| {
        let idle = Arc::new(Idle::new());
        let parkers = Arc::new([Parker::new()]);
        let work = Arc::new(AtomicUsize::new(0));
        let w = {
            let (idle, parkers, work) = (idle.clone(), parkers.clone(), work.clone());
            loom::thread::spawn(move || worker(&idle, &parkers[..], &work, 0))
        };
        produce(&idle, &parkers[..], &work);
        w.join().unwrap();
        assert_eq!(work.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn two_workers_two_tasks_both_run() {
    loom::model(|| {
        let idle = Arc::new(Idle::new());
        let parkers = Arc::new([Parker::new(), Parker::new()]);
        let work = Arc::new(AtomicUsize::new(0));
        let ws: Vec<_> = (0..2)
            .map(|i| {
                let (idle, parkers, work) = (idle.clone(), parkers.clone(), work.clone());
                loom::thread::spawn(move || worker(&idle, &parkers[..], &work, i))
            })
            .collect();
        produce(&idle, &parkers[..], &work);
        produce(&idle, &parkers[..], &work);
        for w in ws {
            w.join().unwrap();
        }
    });
}

/// A waker publishes `batches` of pinned green threads to a worker's inbox
/// (the count is added before the waker checks whether the worker sleeps,
/// and unparks it only if so); the worker drains what it finds and parks in
/// between. A missed batch shows up as a loom deadlock.
fn inbox_model(batches: &'static [usize]) {
    loom::model(move || {
        let total: usize = batches.iter().sum();
        let parker = Arc::new(Parker::new());
        let inbox = Arc::new(AtomicUsize::new(0));
        let w = {
            let (parker, inbox) = (parker.clone(), inbox.clone());
            loom::thread::spawn(move || {
                let mut taken = 0;
                while taken < total {
                    taken += inbox.swap(0, Ordering::SeqCst);
                    if taken < total {
                        parker.park(None, || inbox.load(Ordering::SeqCst) > 0);
                    }
                }
                assert_eq!(taken, total);
            })
        };
        for &batch in batches {
            inbox.fetch_add(batch, Ordering::SeqCst);
            if parker.is_parked() {
                parker.unpark();
            }
        }
        w.join().unwrap();
    });
}

#[test]
fn inbox_wake_reaches_a_parking_worker() {
    // A pinned green thread woken from another thread.
    inbox_model(&[1]);
}

#[test]
fn inbox_batches_reach_a_worker_that_drains_between_them() {
    // A `close` waking many green threads pinned to another worker
    // (`worker::schedule_woken_all`): a first batch leaves early, the rest
    // follows.
    inbox_model(&[2, 1]);
}
