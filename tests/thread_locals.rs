//! A started green thread never changes OS thread: its
//! `thread::current().id()` and the address of a `thread_local!` stay the
//! same across yields and blocking calls while hundreds of others run (and
//! idle workers steal) on two workers.

mod common;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

thread_local! {
    static SLOT: Cell<u64> = const { Cell::new(0) };
}

fn where_am_i() -> (std::thread::ThreadId, usize) {
    (
        std::thread::current().id(),
        SLOT.with(|s| s as *const Cell<u64> as usize),
    )
}

#[test]
fn green_threads_are_pinned_after_first_run() {
    let r = common::rt(2);
    let moves = Arc::new(AtomicUsize::new(0));
    let threads_seen = Arc::new(parking_lot::Mutex::new(std::collections::HashSet::new()));
    let root = r.block_on(|| {
        let hs: Vec<_> = (0..300)
            .map(|i| {
                let moves = moves.clone();
                let seen = threads_seen.clone();
                goro::go!(move || {
                    let home = where_am_i();
                    seen.lock().insert(home.0);
                    // A `!Send` value held across every blocking call.
                    let rc = std::rc::Rc::new(i);
                    for round in 0..1000u32 {
                        match round % 50 {
                            0 => goro::sleep(Duration::from_micros(50)),
                            25 => goro::go!(move || round).join().map(|_| ()).unwrap(),
                            _ => goro::yield_now(),
                        }
                        SLOT.with(|s| s.set(s.get() + 1));
                        if where_am_i() != home {
                            moves.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    assert_eq!(*rc, i);
                })
            })
            .collect();
        // Keep this worker busy (no yield) until a green thread has started
        // on the other worker: the idle worker was woken by the spawns and
        // steals some of them, so both workers certainly run green threads
        // and the test below cannot pass vacuously.
        let root = std::thread::current().id();
        while !threads_seen.lock().iter().any(|&t| t != root) {
            std::hint::spin_loop();
        }
        for h in hs {
            h.join().unwrap();
        }
        root
    });
    assert_eq!(
        moves.load(Ordering::Relaxed),
        0,
        "a started green thread changed OS thread"
    );
    // Green threads ran on the worker that did not spawn them (stealing
    // happened), while the spawning worker sat idle in `join` next to
    // them: a scheduler that moved started green threads had every chance
    // to. (Whether the spawning worker also ran some of the 300 depends
    // on the OS: if it pauses that worker's thread, the other steals all.)
    let seen = threads_seen.lock();
    assert!(
        seen.iter().any(|&t| t != root),
        "no green thread ran off the spawning worker: {seen:?}"
    );
}
