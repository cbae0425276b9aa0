//! `goro::sync`: the primitives park green threads, not workers; they mix
//! green threads and OS threads; the Mutex is fair after 1 ms; shutdown
//! unwinds blocked waiters and leaves every primitive consistent.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::rt;
use goro::runtime::Runtime;
use goro::sync::{Barrier, Condvar, Mutex, Once, OnceLock, RwLock, Semaphore, WaitGroup};

/// Polls `Runtime::dump` until at least `n` green threads are parked on
/// `what` (a `WaitReason` string such as "mutex"); panics after 30 s.
fn wait_parked(r: &Runtime, what: &str, n: usize) {
    let needle = format!(": {what}]");
    let start = Instant::now();
    loop {
        let dump = r.dump();
        if dump.matches(&needle).count() >= n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never saw {n} green threads parked on {what}:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_mutex_held_across_a_channel_receive_does_not_stall_the_worker() {
    let got = rt(1).block_on(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let locked = Arc::new(AtomicBool::new(false));
        let (tx, rx) = goro::bounded::<u32>(0);
        let holder = {
            let (m, locked) = (m.clone(), locked.clone());
            goro::go!(move || {
                let mut g = m.lock();
                locked.store(true, Ordering::SeqCst);
                g.push(rx.recv().unwrap()); // parks holding the lock
            })
        };
        while !locked.load(Ordering::SeqCst) {
            goro::yield_now();
        }
        let contender = {
            let m = m.clone();
            goro::go!(move || m.lock().push(2))
        };
        // The one worker still runs other green threads while one parks on
        // the receive and one on the mutex.
        for i in 0..10 {
            assert_eq!(goro::go!(move || i * 2).join().unwrap(), i * 2);
        }
        tx.send(1).unwrap();
        holder.join().unwrap();
        contender.join().unwrap();
        m.lock().clone()
    });
    assert_eq!(got, [1, 2]);
}

#[test]
fn starving_waiters_are_served_in_arrival_order_against_a_hot_relocker() {
    let r = rt(2);
    let m = Arc::new(Mutex::new(Vec::<u32>::new()));
    let g = m.lock(); // held by this OS thread while the waiters queue
    let mut waiters = Vec::new();
    for id in 1..=3 {
        let m = m.clone();
        waiters.push(r.spawn(move || m.lock().push(id)));
        wait_parked(&r, "mutex", id as usize); // queued in this order
    }
    let stop = Arc::new(AtomicBool::new(false));
    let hot = {
        let (m, stop) = (m.clone(), stop.clone());
        r.spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::SeqCst) {
                drop(m.lock());
                rounds += 1;
                // Scheduling is cooperative: let a waiter pinned to this
                // worker run (it re-locks at once, racing the waiters).
                goro::yield_now();
            }
            rounds
        })
    };
    // Every waiter has now waited over 1 ms: once the first loses a race
    // to the hot re-locker, the lock goes round in arrival order.
    std::thread::sleep(Duration::from_millis(2));
    drop(g);
    for w in waiters {
        w.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    assert!(hot.join().unwrap() > 0, "the hot re-locker ran too");
    assert_eq!(*m.lock(), [1, 2, 3], "served out of arrival order");
}

#[test]
fn a_panic_while_locked_releases_the_lock() {
    rt(2).block_on(|| {
        let m = Arc::new(Mutex::new(0));
        let h = {
            let m = m.clone();
            goro::go!(move || {
                let mut g = m.lock();
                *g += 1;
                panic!("boom");
            })
        };
        assert!(h.join().is_err());
        *m.lock() += 1; // no poisoning
        assert_eq!(*m.lock(), 2);
    });
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn waitgroup_done_below_zero_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

/// An `add` that overflows, or a `done` below zero, panics and leaves the
/// counter as it was: a waiter still waits for the right count, and a
/// concurrent `add` never sees a wrapped-around counter.
#[test]
fn waitgroup_misuse_panics_and_leaves_the_counter_intact() {
    let wg = WaitGroup::new();
    wg.add(1);
    let w = wg.clone();
    let waiter = std::thread::spawn(move || w.wait());
    let overflow = std::panic::catch_unwind(|| wg.add(usize::MAX));
    assert!(overflow.is_err(), "overflow panics");
    wg.done(); // the count was still 1
    waiter.join().unwrap();

    // `done` at zero, again and again, while another thread waits on the
    // (zero) counter: a wait that saw it wrapped to usize::MAX would park
    // and never be woken. Watched: a hang fails the test.
    let wg = WaitGroup::new();
    let stop = Arc::new(AtomicBool::new(false));
    let misuser = {
        let (wg, stop) = (wg.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert!(std::panic::catch_unwind(|| wg.done()).is_err());
            }
        })
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..50_000 {
            wg.wait();
        }
        done_tx.send(()).unwrap();
    });
    let finished = done_rx.recv_timeout(Duration::from_secs(60)).is_ok();
    stop.store(true, Ordering::Relaxed);
    misuser.join().unwrap();
    assert!(finished, "a wait on a zero counter hung");
}

#[test]
fn waitgroup_clones_share_one_counter_and_drops_are_not_done() {
    let wg = WaitGroup::new();
    wg.add(1);
    drop(wg.clone());
    let w = wg.clone();
    let t = std::thread::spawn(move || w.wait());
    wg.done();
    t.join().unwrap();
    wg.wait();
}

#[test]
fn os_threads_and_green_threads_share_the_primitives() {
    const OS: usize = 4;
    const GREEN: usize = 50;
    let r = rt(2);
    let counter = Arc::new(Mutex::new(0usize));
    let sem = Arc::new(Semaphore::new(3));
    let busy = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    wg.add(OS + GREEN);
    let work = {
        let (counter, sem, busy, wg) = (counter.clone(), sem.clone(), busy.clone(), wg.clone());
        move |rounds: usize| {
            for _ in 0..rounds {
                *counter.lock() += 1;
                let _p = sem.acquire();
                assert!(busy.fetch_add(1, Ordering::SeqCst) < 3, "over the limit");
                std::hint::spin_loop();
                busy.fetch_sub(1, Ordering::SeqCst);
            }
            wg.done();
        }
    };
    let threads: Vec<_> = (0..OS)
        .map(|_| {
            let work = work.clone();
            std::thread::spawn(move || work(500))
        })
        .collect();
    let greens: Vec<_> = (0..GREEN)
        .map(|_| {
            let work = work.clone();
            r.spawn(move || work(100))
        })
        .collect();
    // One waiter of each kind.
    let green_waiter = {
        let wg = wg.clone();
        r.spawn(move || wg.wait())
    };
    wg.wait();
    green_waiter.join().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    for g in greens {
        g.join().unwrap();
    }
    assert_eq!(*counter.lock(), OS * 500 + GREEN * 100);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn condvar_wait_timeout_times_out_and_notify_wakes() {
    rt(2).block_on(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let (m, c) = &*pair;
        let (g, res) = c.wait_timeout(m.lock(), Duration::from_millis(10));
        assert!(res.timed_out());
        assert!(!*g, "the mutex is locked again, value intact");
        drop(g);
        let n = {
            let pair = pair.clone();
            goro::go!(move || {
                *pair.0.lock() = true;
                pair.1.notify_one();
            })
        };
        let (g, res) = c.wait_timeout_while(m.lock(), Duration::from_secs(60), |ready| !*ready);
        assert!(!res.timed_out() && *g);
        drop(g);
        n.join().unwrap();
    });
}

/// A notified green waiter that is unwound by a runtime shutdown while it
/// locks the mutex again passes its notification on: the next waiter (an
/// OS thread here) wakes.
#[test]
fn a_notification_survives_its_waiter_unwinding_in_the_relock() {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let rt = rt(1);
    let p = pair.clone();
    rt.spawn(move || {
        let (m, cv) = &*p;
        let _g = cv.wait(m.lock());
    });
    wait_parked(&rt, "condvar", 1);
    let p = pair.clone();
    let (os_tx, os_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (m, cv) = &*p;
        let mut g = m.lock();
        *g += 1;
        // No notification of its own comes: only the green waiter's,
        // passed on.
        let _ = os_tx.send(*cv.wait_while(g, |v| *v != 7));
    });
    // The OS thread queues behind the green one (it released the mutex).
    while *pair.0.lock() == 0 {
        std::thread::yield_now();
    }
    let (m, cv) = &*pair;
    let mut g = m.lock();
    cv.notify_one(); // to the green waiter, the oldest
    wait_parked(&rt, "mutex", 1); // which now waits to lock again
    // The shutdown unwinds it there (it never gets the mutex we hold).
    std::thread::spawn(move || drop(rt)).join().unwrap();
    *g = 7;
    drop(g);
    assert_eq!(
        os_rx.recv_timeout(Duration::from_secs(20)),
        Ok(7),
        "the OS waiter was woken"
    );
}

#[test]
fn once_runs_once_under_contention() {
    let r = rt(2);
    let once = Arc::new(Once::new());
    let cell = Arc::new(OnceLock::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let call = {
        let (once, cell, runs) = (once.clone(), cell.clone(), runs.clone());
        move |me: usize| {
            once.call_once(|| {
                // Keep the runner busy so the others find it RUNNING.
                for _ in 0..20 {
                    if goro::current().is_some() {
                        goro::yield_now();
                    } else {
                        std::thread::yield_now();
                    }
                }
                runs.fetch_add(1, Ordering::SeqCst);
            });
            assert!(once.is_completed());
            *cell.get_or_init(|| me)
        }
    };
    let greens: Vec<_> = (0..100)
        .map(|i| {
            let call = call.clone();
            r.spawn(move || call(i))
        })
        .collect();
    let threads: Vec<_> = (100..104)
        .map(|i| {
            let call = call.clone();
            std::thread::spawn(move || call(i))
        })
        .collect();
    let mut seen: Vec<usize> = greens.into_iter().map(|h| h.join().unwrap()).collect();
    seen.extend(threads.into_iter().map(|t| t.join().unwrap()));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(seen.iter().all(|&v| v == seen[0]), "one value for all");
    assert_eq!(cell.get(), Some(&seen[0]));
}

#[test]
fn once_retries_after_a_panicking_initialiser() {
    let once = Once::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"))
    }));
    assert!(r.is_err());
    assert!(!once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(ran && once.is_completed());
}

#[test]
fn a_big_semaphore_request_at_the_head_blocks_later_small_ones() {
    let r = rt(2);
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire().unwrap();
    let big = {
        let sem = sem.clone();
        r.spawn(move || sem.acquire_many(2).num_permits())
    };
    wait_parked(&r, "semaphore", 1);
    sem.add_permits(1); // 1 free, the head wants 2
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.try_acquire().is_none(), "overtook the head");
    drop(held); // 2 free: the head gets them
    assert_eq!(big.join().unwrap(), 2);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn a_waiting_writer_blocks_new_readers() {
    let r = rt(2);
    let lock = Arc::new(RwLock::new(0));
    let reader = lock.read();
    let writer = {
        let lock = lock.clone();
        r.spawn(move || *lock.write() = 1)
    };
    wait_parked(&r, "rwlock", 1);
    assert!(lock.try_read().is_none(), "a reader overtook the writer");
    let late_reader = {
        let lock = lock.clone();
        r.spawn(move || *lock.read())
    };
    wait_parked(&r, "rwlock", 2);
    drop(reader);
    writer.join().unwrap();
    assert_eq!(late_reader.join().unwrap(), 1, "read before the write");
}

#[test]
fn barrier_rounds_have_one_leader_each() {
    const N: usize = 5;
    const ROUNDS: usize = 20;
    let r = rt(2);
    let barrier = Arc::new(Barrier::new(N));
    let arrived = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..N)
        .map(|_| {
            let (barrier, arrived) = (barrier.clone(), arrived.clone());
            r.spawn(move || {
                let mut leads = 0;
                for round in 0..ROUNDS {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    if barrier.wait().is_leader() {
                        leads += 1;
                    }
                    // Nobody is released before all N arrived this round.
                    assert!(arrived.load(Ordering::SeqCst) >= (round + 1) * N);
                }
                leads
            })
        })
        .collect();
    let leaders: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(leaders, ROUNDS);
}

#[test]
fn shutdown_unwinds_blocked_waiters_and_leaves_the_primitives_consistent() {
    let r = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let m = Arc::new(Mutex::new(0));
    let sem = Arc::new(Semaphore::new(1));
    let rw = Arc::new(RwLock::new(0));
    let wg = WaitGroup::new();
    wg.add(1);
    let once = Arc::new(Once::new());
    let cv = Arc::new((Mutex::new(()), Condvar::new()));
    let barrier = Arc::new(Barrier::new(10));

    // Owners that never let go (they sleep "forever").
    {
        let (m, sem, rw, d) = (m.clone(), sem.clone(), rw.clone(), drops.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            let _g = m.lock();
            let _p = sem.acquire();
            let _r = rw.read();
            goro::sleep(Duration::from_secs(3600));
        });
    }
    {
        let (once, d) = (once.clone(), drops.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            once.call_once(|| goro::sleep(Duration::from_secs(3600)));
        });
    }
    goro_wait_sleeping(&r, 2);
    // Waiters, three of each kind.
    for _ in 0..3 {
        let d = drops.clone();
        let m = m.clone();
        r.spawn(move || {
            let _c = CountDrop(d);
            drop(m.lock());
        });
        let (d, sem) = (drops.clone(), sem.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            drop(sem.acquire());
        });
        let (d, rw) = (drops.clone(), rw.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            drop(rw.write());
        });
        let (d, wg) = (drops.clone(), wg.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            wg.wait();
        });
        let (d, once) = (drops.clone(), once.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            once.call_once(|| {});
        });
        let (d, cv) = (drops.clone(), cv.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            drop(cv.1.wait(cv.0.lock()));
        });
        let (d, barrier) = (drops.clone(), barrier.clone());
        r.spawn(move || {
            let _c = CountDrop(d);
            barrier.wait();
        });
    }
    for what in [
        "mutex",
        "semaphore",
        "rwlock",
        "waitgroup",
        "once",
        "condvar",
        "barrier",
    ] {
        wait_parked(&r, what, 3);
    }
    drop(r);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2 + 3 * 7,
        "every waiter unwound"
    );
    // Every queue was left consistent: the primitives work as new.
    assert!(m.try_lock().is_some());
    assert_eq!(sem.available_permits(), 1);
    assert!(rw.try_write().is_some());
    assert!(!once.is_completed());
    once.call_once(|| {});
    assert!(once.is_completed());
    wg.done();
    wg.wait();
    cv.1.notify_all();
    let b = barrier.clone();
    let helpers: Vec<_> = (0..9)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || b.wait().is_leader())
        })
        .collect();
    let me = barrier.wait().is_leader();
    let leaders = helpers.into_iter().map(|t| t.join().unwrap());
    assert_eq!(leaders.filter(|&l| l).count() + usize::from(me), 1);
}

/// Waits until `n` green threads sleep (the owners of the shutdown test).
fn goro_wait_sleeping(r: &Runtime, n: usize) {
    wait_parked(r, "sleep", n);
}

#[test]
fn a_failed_try_lock_leaves_the_owner_alone() {
    let m = Mutex::new(0);
    let g = m.lock();
    assert!(m.try_lock().is_none());
    assert!(
        m.try_lock().is_none(),
        "a failed try_lock unlocked the mutex"
    );
    drop(g);
    let rw = RwLock::new(0);
    let w = rw.write();
    assert!(rw.try_read().is_none() && rw.try_write().is_none());
    assert!(
        rw.try_read().is_none(),
        "a failed try_read released the writer"
    );
    drop(w);
    let r = rw.read();
    assert!(rw.try_write().is_none());
    assert!(
        rw.try_write().is_none(),
        "a failed try_write released a reader"
    );
    drop(r);
    assert!(rw.try_write().is_some());
}

#[test]
fn auto_traits_match_std() {
    // As std: every primitive is `Send + Sync` and crosses `catch_unwind`
    // (none is poisoned).
    fn primitive<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn sync<T: Sync>() {}
    primitive::<Mutex<Vec<u8>>>();
    primitive::<RwLock<Vec<u8>>>();
    primitive::<Semaphore>();
    primitive::<WaitGroup>();
    primitive::<Barrier>();
    primitive::<Condvar>();
    primitive::<Once>();
    primitive::<OnceLock<String>>();
    sync::<goro::sync::MutexGuard<'static, u8>>();
    sync::<goro::sync::RwLockReadGuard<'static, u8>>();
    // As std: `Mutex<T>` is `Sync` for a `Send` but `!Sync` `T`.
    primitive::<Mutex<std::cell::Cell<u8>>>();
    let m = Mutex::new(1);
    assert!(
        std::panic::catch_unwind(|| {
            let _g = m.lock();
            panic!("while locked");
        })
        .is_err()
    );
    assert_eq!(*m.try_lock().expect("released by the unwind"), 1);
}

/// Shutdown marks every green thread cancelled before it wakes any: the
/// runner of a `Once` unwinds and wakes its waiters, which must then unwind
/// too, not run their own initialisers (they would complete the `Once`
/// during the shutdown). Thousands of parked green threads between the
/// runner and its waiters give the runner time to unwind while the
/// shutdown is still walking them.
#[test]
fn shutdown_wakes_no_green_thread_before_marking_all_of_them() {
    for _ in 0..5 {
        let r = rt(2);
        let once = Arc::new(Once::new());
        let ran = Arc::new(AtomicUsize::new(0));
        {
            let once = once.clone();
            r.spawn(move || once.call_once(|| goro::sleep(Duration::from_secs(3600))));
        }
        goro_wait_sleeping(&r, 1);
        let (_tx, rx) = goro::chan::bounded::<()>(0);
        for _ in 0..5000 {
            let rx = rx.clone();
            r.spawn(move || {
                let _ = rx.recv();
            });
        }
        for _ in 0..20 {
            let (once, ran) = (once.clone(), ran.clone());
            r.spawn(move || {
                once.call_once(|| {
                    ran.fetch_add(1, Ordering::SeqCst);
                })
            });
        }
        wait_parked(&r, "once", 20);
        drop(r);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "a waiter ran during shutdown"
        );
        assert!(!once.is_completed());
    }
}

/// `Debug` prints the data, or `<locked>`, in parking_lot's format.
#[test]
fn mutex_and_rwlock_debug_as_parking_lot() {
    let m = Mutex::new(vec![0u8, 10]);
    assert_eq!(format!("{m:?}"), "Mutex { data: [0, 10] }");
    let g = m.lock();
    assert_eq!(format!("{m:?}"), "Mutex { data: <locked> }");
    drop(g);
    let rw = RwLock::new(vec![0u8, 10]);
    assert_eq!(format!("{rw:?}"), "RwLock { data: [0, 10] }");
    let w = rw.write();
    assert_eq!(format!("{rw:?}"), "RwLock { data: <locked> }");
    drop(w);
}
