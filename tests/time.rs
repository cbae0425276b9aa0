//! Timer channels (`after`, `at`, `tick`, `never`) and `sleep` at scale.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::{RecvTimeoutError, TryRecvError};

#[test]
fn after_fires_once_and_does_not_close() {
    let rt = common::rt(2);
    rt.block_on(|| {
        let start = Instant::now();
        let t = goro::after(Duration::from_millis(20));
        assert_eq!(t.try_recv(), Err(TryRecvError::Empty));
        let fired = t.recv().unwrap();
        assert!(fired >= start + Duration::from_millis(20));
        assert!(!t.is_closed());
        assert_eq!(
            t.recv_timeout(Duration::from_millis(30)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(t.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn at_in_the_past_fires_at_once() {
    let rt = common::rt(1);
    rt.block_on(|| {
        let t = goro::at(Instant::now() - Duration::from_secs(5));
        // Generous bound: only "it fires" is asserted, not how fast.
        assert!(t.recv_timeout(Duration::from_secs(30)).is_ok());
    });
    let t = goro::at(Instant::now());
    assert!(t.recv_timeout(Duration::from_secs(30)).is_ok());
}

#[test]
fn huge_durations_never_fire_and_do_not_panic() {
    let rt = common::rt(1);
    rt.block_on(|| {
        let t = goro::after(Duration::MAX);
        assert_eq!(
            t.recv_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        let far = goro::after(Duration::from_secs(u64::MAX / 4));
        assert_eq!(far.try_recv(), Err(TryRecvError::Empty));
        let tk = goro::tick(Duration::MAX);
        assert_eq!(tk.try_recv(), Err(TryRecvError::Empty));
    });
    assert_eq!(
        goro::after(Duration::MAX).try_recv(),
        Err(TryRecvError::Empty)
    );
}

#[test]
fn tick_delivers_several_ticks() {
    let rt = common::rt(2);
    rt.block_on(|| {
        let period = Duration::from_millis(5);
        let ticks = goro::tick(period);
        let mut last = Instant::now();
        for _ in 0..5 {
            let t = ticks.recv().unwrap();
            assert!(t >= last);
            last = t;
        }
    });
}

#[test]
fn tick_drops_ticks_a_slow_receiver_did_not_take() {
    let rt = common::rt(2);
    rt.block_on(|| {
        let period = Duration::from_millis(2);
        let ticks = goro::tick(period);
        goro::sleep(period * 10);
        // Ten periods passed; the channel holds at most one tick.
        assert!(ticks.len() <= 1);
        assert!(ticks.try_recv().is_ok(), "at least one tick fired");
        assert!(ticks.len() <= 1);
        // Ticking goes on.
        assert!(ticks.recv().is_ok());
    });
}

#[test]
fn tick_stops_when_every_receiver_is_gone() {
    // Observable through memory: a dropped ticker's channel is freed once
    // the timer notices (no assertion on time; only that nothing breaks
    // and the runtime shuts down with the timer gone).
    let rt = common::rt(1);
    rt.block_on(|| {
        for _ in 0..100 {
            drop(goro::tick(Duration::from_micros(100)));
        }
        goro::sleep(Duration::from_millis(5));
    });
}

/// A zero period ticks at every receive (crossbeam-channel's `tick`),
/// blocking or not, and in a `select!`.
#[test]
fn tick_zero_is_ready_at_every_receive() {
    let t = goro::tick(Duration::ZERO);
    assert_eq!(t.capacity(), Some(1));
    for _ in 0..3 {
        assert!(t.try_recv().is_ok());
    }
    assert!(t.recv().is_ok());
    goro::select! {
        recv(t) -> v => assert!(v.is_ok()),
        default => panic!("tick(0) is always ready"),
    }
}

/// A timer channel whose fire is due is ready when looked at, before its
/// runtime timer ran (Go 1.23, crossbeam-channel): `try_recv`, a `select!`
/// with `default`, `Select::ready`; on an OS thread and on a green thread
/// that keeps its worker busy past the deadline.
#[test]
fn a_due_timer_channel_is_ready_at_once() {
    fn check() {
        assert!(goro::after(Duration::ZERO).try_recv().is_ok());
        let t = goro::after(Duration::ZERO);
        assert_eq!((t.len(), t.is_empty(), t.is_full()), (1, false, true));
        t.try_recv().unwrap();
        assert_eq!((t.len(), t.is_empty(), t.is_full()), (0, true, false));
        assert!(
            goro::at(Instant::now() - Duration::from_secs(1))
                .try_recv()
                .is_ok()
        );
        goro::select! {
            recv(goro::after(Duration::ZERO)) -> v => assert!(v.is_ok()),
            default => panic!("after(0) not ready in select! with default"),
        }
        let t = goro::after(Duration::ZERO);
        let mut sel = goro::Select::new();
        sel.recv(&t);
        assert_eq!(sel.try_ready(), Ok(0));
        let t = goro::after(Duration::from_millis(2));
        let ticks = goro::tick(Duration::from_millis(2));
        // Busy: a green thread does not yield to its worker here.
        std::thread::sleep(Duration::from_millis(20));
        assert!(t.try_recv().is_ok(), "an expired after()");
        assert!(ticks.try_recv().is_ok(), "an expired tick()");
        assert_eq!(t.try_recv(), Err(TryRecvError::Empty), "one fire only");
    }
    check();
    common::rt(1).block_on(check);
}

/// A fire taken by a receive is not delivered again by the runtime timer,
/// and a ticker's next tick keeps its phase after a receive took one.
#[test]
fn a_fire_taken_early_is_not_delivered_twice() {
    common::rt(1).block_on(|| {
        let t = goro::after(Duration::ZERO);
        assert!(t.try_recv().is_ok());
        goro::sleep(Duration::from_millis(10)); // the runtime timer has run
        assert_eq!(t.try_recv(), Err(TryRecvError::Empty));
        let start = Instant::now();
        let ticks = goro::tick(Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(7));
        let a = ticks.try_recv().expect("due");
        let b = ticks.recv().unwrap();
        assert!(b > a);
        assert!(
            b >= start + Duration::from_millis(10),
            "on the ticker's phase"
        );
    });
}

#[test]
fn never_never_delivers_and_never_closes() {
    let rx = goro::never::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(!rx.is_closed());
    let rt = common::rt(1);
    rt.block_on(move || {
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(!rx.is_closed());
    });
}

#[test]
fn timer_channels_work_from_a_plain_os_thread() {
    std::thread::spawn(|| {
        assert!(goro::current().is_none());
        let start = Instant::now();
        let t = goro::after(Duration::from_millis(10));
        assert!(t.recv().unwrap() >= start + Duration::from_millis(10));
        assert_eq!(
            t.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        let ticks = goro::tick(Duration::from_millis(2));
        for _ in 0..3 {
            ticks.recv().unwrap();
        }
        let past = goro::at(Instant::now() - Duration::from_millis(1));
        past.recv().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn timer_channels_from_many_os_threads_share_one_timer_thread() {
    let threads: Vec<_> = (0..8u64)
        .map(|i| {
            std::thread::spawn(move || {
                let t = goro::after(Duration::from_millis(20 - 2 * i));
                t.recv().unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_timer_made_on_one_worker_can_be_received_anywhere() {
    let rt = common::rt(2);
    rt.block_on(|| {
        let t = goro::after(Duration::from_millis(5));
        let h = goro::go!(move || t.recv().unwrap());
        h.join().unwrap();
        // And from an OS thread. The root waits on a goro channel (not a
        // std join, which would block the worker the timer lives on).
        let t = goro::after(Duration::from_millis(5));
        let (done_tx, done_rx) = goro::bounded(1);
        let os = std::thread::spawn(move || done_tx.send(t.recv().unwrap()).unwrap());
        done_rx.recv().unwrap();
        os.join().unwrap();
    });
}

#[test]
fn many_green_threads_sleep_concurrently() {
    const N: usize = 100_000;
    let rt = common::rt(2);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    rt.block_on(move || {
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let d = d.clone();
                goro::go!(move || {
                    goro::sleep(Duration::from_millis(1));
                    d.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert_eq!(done.load(Ordering::Relaxed), N);
}

#[test]
fn many_green_threads_wait_on_timer_channels() {
    const N: usize = 10_000;
    let rt = common::rt(2);
    rt.block_on(|| {
        let hs: Vec<_> = (0..N)
            .map(|i| {
                goro::go!(move || {
                    goro::after(Duration::from_millis((i % 7) as u64))
                        .recv()
                        .unwrap()
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn a_green_thread_waiting_on_after_does_not_block_its_worker() {
    let rt = common::rt(1);
    rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicUsize::new(0));
        let (s, p) = (stop.clone(), progress.clone());
        let other = goro::go!(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_add(1, Ordering::Relaxed);
                goro::yield_now();
            }
        });
        // One worker: the other green thread can only make progress while
        // this one is parked on the timer channel.
        let before = progress.load(Ordering::Relaxed);
        goro::after(Duration::from_millis(20)).recv().unwrap();
        let after = progress.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        other.join().unwrap();
        assert!(after > before, "the worker ran nothing while we waited");
    });
}

#[test]
fn sleep_and_timeouts_still_work() {
    let rt = common::rt(2);
    rt.block_on(|| {
        let start = Instant::now();
        goro::sleep(Duration::from_millis(5));
        assert!(start.elapsed() >= Duration::from_millis(5));
        let (_tx, rx) = goro::bounded::<i32>(0);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        let (tx, _rx) = goro::bounded::<i32>(0);
        assert!(
            tx.send_timeout(1, Duration::from_millis(5))
                .unwrap_err()
                .is_timeout()
        );
    });
}

#[test]
fn timer_channels_are_reexported_from_chan() {
    let a = goro::chan::after(Duration::ZERO);
    a.recv().unwrap();
    let _ = goro::chan::at(Instant::now());
    let _ = goro::chan::tick(Duration::from_secs(1));
    let _ = goro::chan::never::<()>();
}

/// A green thread polling with a zero or tiny sleep gives its worker up
/// each time (Go's `for !stop { time.Sleep(1) }` in its ticker stress
/// tests): the other green threads of its one worker run. It hung before
/// (the watchdog turns a hang into a failure).
#[test]
fn a_tiny_or_zero_sleep_lets_the_worker_run_others() {
    for d in [Duration::ZERO, Duration::from_nanos(1)] {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let polls = common::rt(1).block_on(move || {
                let stop = Arc::new(AtomicBool::new(false));
                let polls = Arc::new(AtomicUsize::new(0));
                let (s, p) = (stop.clone(), polls.clone());
                let poller = goro::go!(move || {
                    while !s.load(Ordering::SeqCst) {
                        goro::sleep(d);
                        p.fetch_add(1, Ordering::SeqCst);
                    }
                });
                // This green thread runs again only if the poller's sleep
                // gives the worker up.
                while polls.load(Ordering::SeqCst) < 3 {
                    goro::yield_now();
                }
                stop.store(true, Ordering::SeqCst);
                poller.join().unwrap();
                polls.load(Ordering::SeqCst)
            });
            let _ = done_tx.send(polls);
        });
        let polls = done_rx.recv_timeout(Duration::from_secs(60));
        assert!(
            polls.is_ok_and(|p| p >= 3),
            "{d:?}: the poller held its worker"
        );
    }
}

/// A ticker holds one tick nobody took; the ticks that fell due while it
/// was held were dropped, even those the runtime timer has not run yet, so
/// the tick after the held one is due after it was taken (crossbeam-
/// channel's `intervals`, Go's ticker). The worker's timers run while its
/// green thread sleeps (the 40 ms tick lands in the channel) and not while
/// it blocks the OS thread (60..140 ms are left to the receive).
#[test]
fn ticks_due_while_one_was_held_are_dropped() {
    common::rt(1).block_on(|| {
        let r = goro::tick(Duration::from_millis(20));
        let t1 = r.recv().unwrap();
        goro::sleep(Duration::from_millis(25)); // the next tick is held
        std::thread::sleep(Duration::from_millis(100)); // no timer runs
        let taken = Instant::now();
        let t2 = r.try_recv().expect("one tick is held");
        assert!(t2 > t1);
        let t3 = r.recv().unwrap();
        assert!(t3 >= taken, "a tick due while one was held came through");
    });
}

/// A `select!` blocked on two timer channels due together (made a moment
/// apart) picks either at random, on OS threads (the global timer thread)
/// and on green threads (the worker's timers), as crossbeam-channel's
/// `after` fairness test asks. Expected 200 hits each of 400; at least 100
/// each is ten standard deviations: a false failure is far below 1e-9.
#[test]
fn a_select_over_timers_due_together_picks_at_random() {
    fn check() {
        let mut hits = [0usize; 2];
        for _ in 0..400 {
            goro::select! {
                recv(goro::after(Duration::from_millis(1))) -> _ => hits[0] += 1,
                recv(goro::after(Duration::from_millis(1))) -> _ => hits[1] += 1,
            }
        }
        assert!(hits.iter().all(|&h| h >= 100), "{hits:?}");
    }
    check();
    common::rt(1).block_on(check);
}
