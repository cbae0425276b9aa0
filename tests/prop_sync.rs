//! proptest: random programs of lock/unlock, acquire/release, read/write
//! and yields over several green threads (and optionally an OS thread), on
//! 1-3 workers, never deadlock and keep each primitive's invariant:
//! a counter guarded by the `Mutex` ends exact and no two holders overlap;
//! permits in use never exceed the `Semaphore`'s limit and all come back;
//! an `RwLock` writer never overlaps anyone; the `WaitGroup` sees every
//! thread finish.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use goro::sync::{Mutex, RwLock, Semaphore, WaitGroup};
use proptest::prelude::*;

const PERMITS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// Lock, increment, yield `0..n` times holding it, unlock.
    Lock(u8),
    /// `try_lock`; increment if it succeeded.
    TryLock,
    /// Take `n` permits (1..=PERMITS), yield while holding them.
    Acquire(usize, u8),
    /// `try_acquire_many(n)`.
    TryAcquire(usize),
    /// Read the RwLock, yielding while holding it.
    Read(u8),
    /// Write the RwLock (increment), yielding while holding it.
    Write(u8),
    Yield,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::Lock),
        Just(Op::TryLock),
        (1..=PERMITS, 0u8..3).prop_map(|(n, y)| Op::Acquire(n, y)),
        (1..=PERMITS).prop_map(Op::TryAcquire),
        (0u8..3).prop_map(Op::Read),
        (0u8..3).prop_map(Op::Write),
        Just(Op::Yield),
    ]
}

struct Shared {
    mutex: Mutex<usize>,
    in_mutex: AtomicBool,
    sem: Semaphore,
    in_use: AtomicUsize,
    rw: RwLock<usize>,
    readers: AtomicUsize,
    writing: AtomicBool,
    /// What the mutex counter must end at.
    locks: AtomicUsize,
}

fn pause(n: u8) {
    for _ in 0..n {
        if goro::current().is_some() {
            goro::yield_now();
        } else {
            std::thread::yield_now();
        }
    }
}

fn run_op(s: &Shared, op: &Op) {
    match *op {
        Op::Lock(y) => {
            let mut g = s.mutex.lock();
            assert!(
                !s.in_mutex.swap(true, Ordering::SeqCst),
                "two mutex holders"
            );
            *g += 1;
            pause(y);
            s.in_mutex.store(false, Ordering::SeqCst);
            s.locks.fetch_add(1, Ordering::SeqCst);
        }
        Op::TryLock => {
            if let Some(mut g) = s.mutex.try_lock() {
                assert!(
                    !s.in_mutex.swap(true, Ordering::SeqCst),
                    "two mutex holders"
                );
                *g += 1;
                s.in_mutex.store(false, Ordering::SeqCst);
                s.locks.fetch_add(1, Ordering::SeqCst);
            }
        }
        Op::Acquire(n, y) => {
            let p = s.sem.acquire_many(n);
            assert_eq!(p.num_permits(), n);
            let used = s.in_use.fetch_add(n, Ordering::SeqCst) + n;
            assert!(used <= PERMITS, "{used} permits in use");
            pause(y);
            s.in_use.fetch_sub(n, Ordering::SeqCst);
        }
        Op::TryAcquire(n) => {
            if let Some(_p) = s.sem.try_acquire_many(n) {
                let used = s.in_use.fetch_add(n, Ordering::SeqCst) + n;
                assert!(used <= PERMITS, "{used} permits in use");
                s.in_use.fetch_sub(n, Ordering::SeqCst);
            }
        }
        Op::Read(y) => {
            let g = s.rw.read();
            s.readers.fetch_add(1, Ordering::SeqCst);
            assert!(!s.writing.load(Ordering::SeqCst), "read during a write");
            let _ = *g;
            pause(y);
            s.readers.fetch_sub(1, Ordering::SeqCst);
        }
        Op::Write(y) => {
            let mut g = s.rw.write();
            assert!(!s.writing.swap(true, Ordering::SeqCst), "two writers");
            assert_eq!(s.readers.load(Ordering::SeqCst), 0, "write during a read");
            *g += 1;
            pause(y);
            s.writing.store(false, Ordering::SeqCst);
        }
        Op::Yield => pause(1),
    }
}

fn check(workers: usize, programs: Vec<Vec<Op>>, os_thread: bool) {
    let shared = Arc::new(Shared {
        mutex: Mutex::new(0),
        in_mutex: AtomicBool::new(false),
        sem: Semaphore::new(PERMITS),
        in_use: AtomicUsize::new(0),
        rw: RwLock::new(0),
        readers: AtomicUsize::new(0),
        writing: AtomicBool::new(false),
        locks: AtomicUsize::new(0),
    });
    let writes: usize = programs
        .iter()
        .flatten()
        .filter(|o| matches!(o, Op::Write(_)))
        .count();
    let rt = common::rt(workers);
    let s = shared.clone();
    rt.block_on(move || {
        let wg = WaitGroup::new();
        wg.add(programs.len());
        let mut os = None;
        for (i, prog) in programs.into_iter().enumerate() {
            let (s, wg) = (s.clone(), wg.clone());
            let body = move || {
                for op in &prog {
                    run_op(&s, op);
                }
                wg.done();
            };
            if os_thread && i == 0 {
                os = Some(std::thread::spawn(body));
            } else {
                goro::go!(body);
            }
        }
        wg.wait();
        if let Some(t) = os {
            t.join().unwrap();
        }
    });
    assert_eq!(*shared.mutex.lock(), shared.locks.load(Ordering::SeqCst));
    assert_eq!(shared.sem.available_permits(), PERMITS);
    assert_eq!(*shared.rw.read(), writes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_sync_programs_keep_their_invariants(
        workers in 1usize..=3,
        programs in prop::collection::vec(prop::collection::vec(op(), 1..24), 1..7),
        os_thread in any::<bool>(),
    ) {
        check(workers, programs, os_thread);
    }
}
