//! goro-specific channel semantics (DESIGN.md, "Semantics"), beyond what
//! Go's own tests cover:
//!
//! * close wakes every blocked sender (each gets its own message back) and
//!   every blocked receiver; receivers drain the buffer, then get `Closed`;
//! * dropping the last `Sender` closes; dropping the last `Receiver` fails
//!   sends with the message back and wakes blocked senders;
//! * messages left in a channel are dropped exactly once, when the last
//!   receiver goes (drop counters); none is duplicated or lost;
//! * blocked senders and receivers are served in arrival order (each party
//!   is seen parked in `Runtime::dump` before the next one starts);
//! * timeouts park a green thread (another one keeps its worker) and hand
//!   the message back; a zero timeout or past deadline acts like `try_*`;
//! * unbuffered hand-off: neither side returns before the other took part;
//!   two green threads on ONE worker pair up; OS threads and green threads
//!   mix on one channel;
//! * a timed-out waiter leaves its queue without disturbing the others'
//!   order; a runtime's shutdown unwinds blocked parties and leaves no
//!   stale waiter behind; green threads of two runtimes share a channel;
//!   a message's destructor may use the channel it travels on;
//! * 64 KiB messages through every flavor from green threads, in child
//!   processes (an overflow aborts): on 256 KiB stacks (ignored in debug
//!   builds, a known bug: see the attribute) and on 2 MiB stacks;
//! * an unbounded channel gives its memory back after a burst (counting
//!   allocator, in a child process);
//! * `Send`/`Sync`, the error types' traits, texts and `into_inner`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{rt, wait_parked};
use goro::{
    Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError,
};

/// Counts live heap bytes (for the unbounded-memory test, which runs alone
/// in a child process).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Capacities of the three flavors: unbuffered, ring, unbounded.
#[derive(Clone, Copy, Debug)]
enum Cap {
    B(usize),
    Unb,
}

const CAPS: [Cap; 4] = [Cap::B(0), Cap::B(1), Cap::B(3), Cap::Unb];

fn chan<T>(cap: Cap) -> (Sender<T>, Receiver<T>) {
    match cap {
        Cap::B(n) => goro::bounded(n),
        Cap::Unb => goro::unbounded(),
    }
}

/// Counts drops of `Tracked` values.
#[derive(Clone, Default)]
struct Drops(Arc<AtomicUsize>);

impl Drops {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn make(&self, id: u32) -> Tracked {
        Tracked {
            id,
            drops: self.0.clone(),
        }
    }
}

/// A message that counts its drop; deliberately not `Debug`.
struct Tracked {
    id: u32,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- close

#[test]
fn close_wakes_every_blocked_receiver() {
    for workers in [1, 2] {
        for cap in CAPS {
            let rt = rt(workers);
            let (tx, rx) = chan::<u32>(cap);
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    rt.spawn(move || rx.recv())
                })
                .collect();
            wait_parked(&rt, "chan recv", 4);
            assert!(tx.close(), "{cap:?}: the first close closes");
            assert!(!tx.close(), "{cap:?}: the second does not");
            for h in hs {
                assert_eq!(h.join().unwrap(), Err(RecvError), "{cap:?}");
            }
            assert!(rx.is_closed() && tx.is_closed());
        }
    }
}

/// A close on a green thread that wakes hundreds of parked receivers
/// spread over both workers (those of the other worker go to its inbox in
/// batches), plus receivers on OS threads and on another runtime: every
/// one of them wakes with `Err`.
#[test]
fn close_from_a_green_thread_wakes_hundreds_everywhere() {
    const GREEN: usize = 300;
    let other = rt(1);
    let rt = rt(2);
    let (tx, rx) = chan::<u32>(Cap::B(0));
    let mut green: Vec<_> = (0..GREEN)
        .map(|_| {
            let rx = rx.clone();
            rt.spawn(move || rx.recv())
        })
        .collect();
    green.extend((0..3).map(|_| {
        let rx = rx.clone();
        other.spawn(move || rx.recv())
    }));
    let os: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || rx.recv())
        })
        .collect();
    wait_parked(&rt, "chan recv", GREEN);
    wait_parked(&other, "chan recv", 3);
    // The OS threads may or may not be blocked yet: either way they must
    // end with `Err`.
    let closer = rt.spawn(move || tx.close());
    assert!(closer.join().unwrap());
    for h in green {
        assert_eq!(h.join().unwrap(), Err(RecvError));
    }
    for h in os {
        assert_eq!(h.join().unwrap(), Err(RecvError));
    }
}

/// `close` wakes blocked receivers a batch per lock hold: a send that
/// sees the channel closed while some receivers are still queued fails
/// with its message back, never pairing with one of them, and every
/// receiver still ends with `Err`.
#[test]
fn a_send_after_close_fails_while_receivers_are_still_being_woken() {
    const RECEIVERS: usize = 1000;
    let rt = rt(2);
    let (tx, rx) = chan::<u32>(Cap::B(0));
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let rx = rx.clone();
            rt.spawn(move || rx.recv())
        })
        .collect();
    wait_parked(&rt, "chan recv", RECEIVERS);
    let late = {
        let tx = tx.clone();
        std::thread::spawn(move || {
            while !tx.is_closed() {
                std::hint::spin_loop();
            }
            (0..100).map(|i| tx.send(i)).collect::<Vec<_>>()
        })
    };
    assert!(tx.close());
    let sent = late.join().unwrap();
    assert_eq!(
        sent,
        (0..100).map(|i| Err(SendError(i))).collect::<Vec<_>>()
    );
    for h in receivers {
        assert_eq!(h.join().unwrap(), Err(RecvError));
    }
}

#[test]
fn close_wakes_every_blocked_sender_with_its_message() {
    for cap in [Cap::B(0), Cap::B(1), Cap::B(3)] {
        let Cap::B(n) = cap else { unreachable!() };
        let rt = rt(2);
        let (tx, rx) = chan::<String>(cap);
        for i in 0..n {
            tx.send(format!("buffered {i}")).unwrap();
        }
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let tx = tx.clone();
                rt.spawn(move || tx.send(format!("blocked {i}")))
            })
            .collect();
        wait_parked(&rt, "chan send", 4);
        assert!(tx.close());
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(
                h.join().unwrap(),
                Err(SendError(format!("blocked {i}"))),
                "{cap:?}: sender {i} gets its own message back"
            );
        }
        // What was buffered before the close is still delivered, in order.
        for i in 0..n {
            assert_eq!(rx.recv(), Ok(format!("buffered {i}")), "{cap:?}");
        }
        assert_eq!(rx.recv(), Err(RecvError), "{cap:?}");
    }
}

#[test]
fn receivers_drain_then_get_closed() {
    for cap in [Cap::B(1), Cap::B(7), Cap::Unb] {
        let (tx, rx) = chan::<u32>(cap);
        let n = match cap {
            Cap::B(n) => n as u32,
            Cap::Unb => 100,
        };
        for i in 0..n {
            tx.send(i).unwrap();
        }
        assert!(tx.close());
        assert!(rx.is_closed());
        assert_eq!(rx.len(), n as usize, "{cap:?}: close keeps the buffer");
        assert_eq!(tx.try_send(99), Err(TrySendError::Closed(99)));
        assert_eq!(
            tx.send_timeout(98, Duration::from_millis(1)),
            Err(SendTimeoutError::Closed(98))
        );
        assert_eq!(tx.send(97), Err(SendError(97)));
        for i in 0..n {
            let got = match i % 3 {
                0 => rx.recv().ok(),
                1 => rx.try_recv().ok(),
                _ => rx.recv_timeout(Duration::from_secs(1)).ok(),
            };
            assert_eq!(got, Some(i), "{cap:?}");
        }
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(RecvTimeoutError::Closed)
        );
        assert_eq!(
            rx.recv_deadline(Instant::now() + Duration::from_secs(1)),
            Err(RecvTimeoutError::Closed)
        );
    }
}

#[test]
fn close_from_many_threads_returns_true_once() {
    for cap in CAPS {
        let (tx, _rx) = chan::<()>(cap);
        let barrier = Arc::new(Barrier::new(4));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (tx, b) = (tx.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    tx.close()
                })
            })
            .collect();
        let closed: Vec<bool> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            closed.iter().filter(|&&t| t).count(),
            1,
            "{cap:?}: {closed:?}"
        );
    }
}

#[test]
fn dropping_the_last_sender_closes_and_wakes_receivers() {
    for cap in CAPS {
        let rt = rt(2);
        let (tx, rx) = chan::<u32>(cap);
        let tx2 = tx.clone();
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                rt.spawn(move || rx.recv())
            })
            .collect();
        wait_parked(&rt, "chan recv", 3);
        drop(tx);
        assert!(!rx.is_closed(), "{cap:?}: a sender is left");
        drop(tx2);
        assert!(rx.is_closed(), "{cap:?}");
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(RecvError), "{cap:?}");
        }
        // And from an OS thread: a blocked `recv` wakes on the last drop.
        let (tx, rx) = chan::<u32>(cap);
        let h = std::thread::spawn(move || rx.recv());
        std::thread::sleep(Duration::from_millis(5)); // may or may not block yet
        drop(tx);
        assert_eq!(h.join().unwrap(), Err(RecvError), "{cap:?}");
    }
}

#[test]
fn dropping_the_last_receiver_fails_sends_and_wakes_blocked_senders() {
    for cap in [Cap::B(0), Cap::B(1), Cap::B(3)] {
        let Cap::B(n) = cap else { unreachable!() };
        let rt = rt(2);
        let drops = Drops::default();
        let (tx, rx) = chan::<Tracked>(cap);
        for i in 0..n as u32 {
            tx.send(drops.make(i)).unwrap();
        }
        let hs: Vec<_> = (0..3u32)
            .map(|i| {
                let (tx, m) = (tx.clone(), drops.make(100 + i));
                rt.spawn(move || match tx.send(m) {
                    Ok(()) => None,
                    Err(SendError(m)) => Some(m.id),
                })
            })
            .collect();
        wait_parked(&rt, "chan send", 3);
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed(), "{cap:?}: a receiver is left");
        assert_eq!(drops.count(), 0);
        drop(rx2);
        assert!(tx.is_closed(), "{cap:?}");
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), Some(100 + i as u32), "{cap:?}");
        }
        // The buffered ones went with the last receiver, the blocked ones
        // were handed back (and dropped by their senders).
        assert_eq!(drops.count(), n + 3, "{cap:?}");
        match tx.try_send(drops.make(7)) {
            Err(TrySendError::Closed(m)) => assert_eq!(m.id, 7),
            _ => panic!("{cap:?}: try_send after the last receiver"),
        }
        match tx.send_timeout(drops.make(8), Duration::from_secs(5)) {
            Err(SendTimeoutError::Closed(m)) => assert_eq!(m.id, 8),
            _ => panic!("{cap:?}: send_timeout after the last receiver"),
        }
        assert_eq!(drops.count(), n + 5, "{cap:?}");
        // An OS thread's blocked send wakes too.
        let (tx, rx) = chan::<u32>(cap);
        for i in 0..n as u32 {
            tx.send(i).unwrap();
        }
        let h = std::thread::spawn(move || tx.send(42));
        std::thread::sleep(Duration::from_millis(5)); // may or may not block yet
        drop(rx);
        assert_eq!(h.join().unwrap(), Err(SendError(42)), "{cap:?}");
    }
}

// ------------------------------------------------- drops, loss, duplicates

#[test]
fn buffered_messages_are_dropped_exactly_once_when_the_last_handle_goes() {
    for cap in [Cap::B(1), Cap::B(7), Cap::Unb] {
        let n = match cap {
            Cap::B(n) => n,
            Cap::Unb => 50,
        };
        // Senders go first: the messages stay for the receivers.
        let drops = Drops::default();
        let (tx, rx) = chan::<Tracked>(cap);
        for i in 0..n as u32 {
            tx.send(drops.make(i)).unwrap();
        }
        drop(tx);
        assert_eq!(drops.count(), 0, "{cap:?}");
        assert_eq!(rx.recv().map(|m| m.id).ok(), Some(0), "{cap:?}");
        assert_eq!(drops.count(), 1, "{cap:?}");
        let rx2 = rx.clone();
        drop(rx);
        assert_eq!(drops.count(), 1, "{cap:?}: a receiver is left");
        drop(rx2);
        assert_eq!(drops.count(), n, "{cap:?}");

        // Receivers go first: the messages go with the last one at once.
        let drops = Drops::default();
        let (tx, rx) = chan::<Tracked>(cap);
        for i in 0..n as u32 {
            tx.send(drops.make(i)).unwrap();
        }
        drop(rx);
        assert_eq!(drops.count(), n, "{cap:?}");
        assert_eq!(tx.len(), 0, "{cap:?}");
        drop(tx);
        assert_eq!(drops.count(), n, "{cap:?}");

        // Closed first, then both dropped.
        let drops = Drops::default();
        let (tx, rx) = chan::<Tracked>(cap);
        for i in 0..n as u32 {
            tx.send(drops.make(i)).unwrap();
        }
        tx.close();
        drop(tx);
        drop(rx);
        assert_eq!(drops.count(), n, "{cap:?}");
    }
}

#[test]
fn an_unbuffered_blocked_message_is_dropped_once() {
    let rt = rt(1);
    let drops = Drops::default();
    let (tx, rx) = goro::bounded::<Tracked>(0);
    let m = drops.make(1);
    let h = rt.spawn(move || tx.send(m).map_err(|SendError(m)| m.id));
    wait_parked(&rt, "chan send", 1);
    assert_eq!(drops.count(), 0);
    drop(rx);
    assert_eq!(h.join().unwrap(), Err(1));
    assert_eq!(drops.count(), 1);
}

#[test]
fn no_message_is_duplicated_or_lost() {
    const PER: u64 = 1500;
    for workers in [1, 2] {
        for cap in [Cap::B(0), Cap::B(1), Cap::B(16), Cap::Unb] {
            let rt = rt(workers);
            let (tx, rx) = chan::<u64>(cap);
            // 3 green senders, 1 OS sender; 2 green receivers, 1 OS one.
            let os_tx = tx.clone();
            let os_sender = std::thread::spawn(move || {
                for i in 0..PER {
                    os_tx.send(3 * PER + i).unwrap();
                }
            });
            let os_rx = rx.clone();
            let os_receiver = std::thread::spawn(move || os_rx.iter().collect::<Vec<_>>());
            let mut got = rt.block_on(move || {
                let senders: Vec<_> = (0..3)
                    .map(|s| {
                        let tx = tx.clone();
                        goro::go!(move || {
                            for i in 0..PER {
                                tx.send(s * PER + i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let receivers: Vec<_> = (0..2)
                    .map(|_| {
                        let rx = rx.clone();
                        goro::go!(move || rx.iter().collect::<Vec<_>>())
                    })
                    .collect();
                drop(rx);
                senders.into_iter().for_each(|h| h.join().unwrap());
                receivers
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            });
            os_sender.join().unwrap();
            got.extend(os_receiver.join().unwrap());
            got.sort_unstable();
            assert_eq!(got.len() as u64, 4 * PER, "{cap:?} on {workers} workers");
            assert!(
                got.iter().copied().eq(0..4 * PER),
                "{cap:?} on {workers} workers: a message lost or duplicated"
            );
        }
    }
}

// ------------------------------------------------------------------ FIFO

#[test]
fn blocked_receivers_are_served_in_arrival_order() {
    for cap in CAPS {
        let rt = rt(2);
        let (tx, rx) = chan::<u32>(cap);
        let mut hs = Vec::new();
        for i in 0..6 {
            let rx = rx.clone();
            hs.push(rt.spawn(move || rx.recv().unwrap()));
            wait_parked(&rt, "chan recv", i + 1);
        }
        for v in 0..6 {
            tx.send(v).unwrap();
        }
        let got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 5], "{cap:?}");
    }
}

#[test]
fn blocked_senders_are_served_in_arrival_order() {
    for cap in [Cap::B(0), Cap::B(1), Cap::B(3)] {
        let Cap::B(n) = cap else { unreachable!() };
        let rt = rt(2);
        let (tx, rx) = chan::<u32>(cap);
        for i in 0..n as u32 {
            tx.send(i).unwrap();
        }
        let mut hs = Vec::new();
        for i in 0..6 {
            let tx = tx.clone();
            hs.push(rt.spawn(move || tx.send(100 + i as u32).unwrap()));
            wait_parked(&rt, "chan send", i + 1);
        }
        let got: Vec<u32> = (0..n + 6).map(|_| rx.recv().unwrap()).collect();
        let want: Vec<u32> = (0..n as u32).chain(100..106).collect();
        assert_eq!(got, want, "{cap:?}");
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert!(rx.is_empty());
    }
}

#[test]
fn a_woken_sender_keeps_its_turn_against_newcomers() {
    // A receive that frees room moves the oldest blocked sender's message
    // into the buffer at once, so a try_send arriving right after finds
    // the buffer full again and cannot overtake it.
    let rt = rt(2);
    let (tx, rx) = goro::bounded::<u32>(1);
    tx.send(0).unwrap();
    let tx2 = tx.clone();
    let h = rt.spawn(move || tx2.send(1).unwrap());
    wait_parked(&rt, "chan send", 1);
    assert_eq!(rx.recv(), Ok(0));
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(rx.recv(), Ok(1));
    h.join().unwrap();
}

/// A waiter that times out between two others leaves the queue, and the
/// two are served in order. B's timeout must end after C queued: if this
/// OS thread is descheduled longer than that (a loaded machine), the round
/// is redone with a timeout four times longer.
#[test]
fn a_timed_out_waiter_leaves_the_queue_without_disturbing_the_order() {
    fn rounds(mut round: impl FnMut(Duration) -> bool) {
        let mut timeout = Duration::from_millis(30);
        while !round(timeout) {
            timeout *= 4;
            assert!(
                timeout < Duration::from_secs(60),
                "never got B between A and C"
            );
        }
    }
    for cap in CAPS {
        // Receivers: A waits, B gives up, C waits; A then C are served.
        rounds(|timeout| {
            let rt = rt(2);
            let (tx, rx) = chan::<u32>(cap);
            let (ra, rb, rc) = (rx.clone(), rx.clone(), rx.clone());
            let a = rt.spawn(move || ra.recv());
            wait_parked(&rt, "chan recv", 1);
            let b = rt.spawn(move || rb.recv_timeout(timeout));
            if !common::wait_parked_unless(&rt, "chan recv", 2, || b.is_finished()) {
                return false;
            }
            let c = rt.spawn(move || rc.recv());
            let c_queued = common::wait_parked_unless(&rt, "chan recv", 3, || b.is_finished());
            assert_eq!(b.join().unwrap(), Err(RecvTimeoutError::Timeout), "{cap:?}");
            if !c_queued {
                return false;
            }
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            assert_eq!(a.join().unwrap(), Ok(1), "{cap:?}");
            assert_eq!(c.join().unwrap(), Ok(2), "{cap:?}");
            true
        });
    }
    for n in [0usize, 2] {
        // Senders: A waits, B gives up (with its message), C waits.
        rounds(|timeout| {
            let rt = rt(2);
            let (tx, rx) = goro::bounded::<u32>(n);
            for i in 0..n as u32 {
                tx.send(90 + i).unwrap();
            }
            let (ta, tb, tc) = (tx.clone(), tx.clone(), tx.clone());
            let a = rt.spawn(move || ta.send(1));
            wait_parked(&rt, "chan send", 1);
            let b = rt.spawn(move || tb.send_timeout(2, timeout));
            if !common::wait_parked_unless(&rt, "chan send", 2, || b.is_finished()) {
                return false;
            }
            let c = rt.spawn(move || tc.send(3));
            let c_queued = common::wait_parked_unless(&rt, "chan send", 3, || b.is_finished());
            assert_eq!(b.join().unwrap(), Err(SendTimeoutError::Timeout(2)));
            if !c_queued {
                return false;
            }
            let got: Vec<u32> = (0..n + 2).map(|_| rx.recv().unwrap()).collect();
            let want: Vec<u32> = (0..n as u32).map(|i| 90 + i).chain([1, 3]).collect();
            assert_eq!(got, want, "cap {n}");
            assert_eq!(a.join().unwrap(), Ok(()));
            assert_eq!(c.join().unwrap(), Ok(()));
            true
        });
    }
}

// -------------------------------------------------------------- timeouts

#[test]
fn recv_timeout_parks_the_green_thread_not_its_worker() {
    let rt = rt(1);
    let (_tx, rx) = goro::bounded::<u32>(1);
    let (parked, other_ran) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    // `other` first: it exists before the waiter's timeout starts, however
    // long this thread is descheduled between the two spawns.
    let (p, o) = (parked.clone(), other_ran.clone());
    let other = rt.spawn(move || {
        // Only one worker: once this runs after the waiter started, the
        // waiter must be parked inside recv_timeout.
        while !p.load(Ordering::SeqCst) {
            goro::yield_now();
        }
        o.store(true, Ordering::SeqCst);
    });
    let (p, o) = (parked.clone(), other_ran.clone());
    let waiter = rt.spawn(move || {
        p.store(true, Ordering::SeqCst);
        let t = Instant::now();
        let r = rx.recv_timeout(Duration::from_millis(100));
        (r, t.elapsed(), o.load(Ordering::SeqCst))
    });
    let (r, elapsed, saw_other) = waiter.join().unwrap();
    other.join().unwrap();
    assert_eq!(r, Err(RecvTimeoutError::Timeout));
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(
        saw_other,
        "the other green thread ran while the first waited"
    );
}

#[test]
fn send_timeout_parks_and_hands_the_message_back() {
    for cap in [Cap::B(0), Cap::B(2)] {
        let Cap::B(n) = cap else { unreachable!() };
        let rt = rt(1);
        let (tx, rx) = chan::<String>(cap);
        for i in 0..n {
            tx.send(i.to_string()).unwrap();
        }
        let flag = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicBool::new(false));
        // `other` first, as in the receive test above.
        let (f, r) = (flag.clone(), ran.clone());
        let other = rt.spawn(move || {
            while !f.load(Ordering::SeqCst) {
                goro::yield_now();
            }
            r.store(true, Ordering::SeqCst);
        });
        let (f, r) = (flag.clone(), ran.clone());
        let waiter = rt.spawn(move || {
            f.store(true, Ordering::SeqCst);
            let t = Instant::now();
            let res = tx.send_timeout("late".to_string(), Duration::from_millis(80));
            (res, t.elapsed(), r.load(Ordering::SeqCst))
        });
        let (res, elapsed, saw_other) = waiter.join().unwrap();
        other.join().unwrap();
        assert_eq!(
            res,
            Err(SendTimeoutError::Timeout("late".to_string())),
            "{cap:?}"
        );
        assert_eq!(res.unwrap_err().into_inner(), "late");
        assert!(elapsed >= Duration::from_millis(80), "{cap:?}: {elapsed:?}");
        assert!(saw_other, "{cap:?}: the worker ran another green thread");
        // The timed-out sender left the queue: the buffer holds only the
        // first n, and nothing else arrives.
        assert_eq!(rx.len(), n, "{cap:?}");
        for i in 0..n {
            assert_eq!(rx.recv(), Ok(i.to_string()));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "{cap:?}");
    }
}

/// Between OS threads alone, a blocking call on a buffered channel first
/// spins for the peer before it queues a waiter: 4 senders and 2 receivers
/// on every flavor keep each sender's order and lose nothing, and
/// receivers that spin or wait on an empty channel see it close.
#[test]
fn os_threads_alone_keep_order_and_see_close() {
    const PER: usize = 20_000;
    for cap in CAPS {
        let (tx, rx) = chan::<(usize, usize)>(cap);
        let got = std::thread::scope(|s| {
            for k in 0..4 {
                let tx = tx.clone();
                s.spawn(move || {
                    for i in 0..PER {
                        tx.send((k, i)).unwrap();
                    }
                });
            }
            drop(tx);
            let receivers: Vec<_> = (0..2)
                .map(|_| {
                    let rx = rx.clone();
                    s.spawn(move || {
                        let mut next = [0; 4];
                        let mut n = 0;
                        for (k, i) in rx.iter() {
                            assert!(i >= next[k], "{cap:?}: sender {k} out of order");
                            next[k] = i + 1;
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            receivers
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(got, 4 * PER, "{cap:?}: a message lost or duplicated");

        let (tx, rx) = chan::<u32>(cap);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..2).map(|_| s.spawn(|| rx.recv())).collect();
            tx.close();
            for h in hs {
                assert_eq!(h.join().unwrap(), Err(RecvError), "{cap:?}");
            }
        });
    }
}

#[test]
fn deadlines_and_timeouts_on_os_threads() {
    let (tx, rx) = goro::bounded::<u8>(0);
    let t = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    let t = Instant::now();
    let d = t + Duration::from_millis(30);
    assert_eq!(tx.send_deadline(5, d), Err(SendTimeoutError::Timeout(5)));
    assert!(Instant::now() >= d);
    // A partner arriving in time completes the wait early.
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        tx.send(6)
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(6));
    h.join().unwrap().unwrap();
}

#[test]
fn a_late_partner_completes_a_timed_wait_on_a_green_thread() {
    for cap in [Cap::B(0), Cap::B(1)] {
        let rt = rt(1);
        let (tx, rx) = chan::<u32>(cap);
        let t = Instant::now();
        let h = rt.spawn(move || rx.recv_timeout(Duration::from_secs(20)));
        wait_parked(&rt, "chan recv", 1);
        tx.send(3).unwrap();
        assert_eq!(h.join().unwrap(), Ok(3), "{cap:?}");
        assert!(t.elapsed() < Duration::from_secs(10), "{cap:?}");
        // And a timed send met by a receiver.
        let (tx, rx) = chan::<u32>(cap);
        if let Cap::B(1) = cap {
            tx.send(0).unwrap();
        }
        let h = rt.spawn(move || tx.send_timeout(4, Duration::from_secs(20)));
        wait_parked(&rt, "chan send", 1);
        if let Cap::B(1) = cap {
            assert_eq!(rx.recv(), Ok(0));
        }
        assert_eq!(rx.recv(), Ok(4), "{cap:?}");
        assert_eq!(h.join().unwrap(), Ok(()), "{cap:?}");
    }
}

#[test]
fn a_zero_timeout_or_past_deadline_acts_like_try() {
    let past = Instant::now();
    for cap in CAPS {
        let (tx, rx) = chan::<u32>(cap);
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(rx.recv_deadline(past), Err(RecvTimeoutError::Timeout));
        match cap {
            Cap::B(0) => {
                assert_eq!(
                    tx.send_timeout(1, Duration::ZERO),
                    Err(SendTimeoutError::Timeout(1))
                );
                assert_eq!(tx.send_deadline(2, past), Err(SendTimeoutError::Timeout(2)));
            }
            _ => {
                assert_eq!(tx.send_timeout(1, Duration::ZERO), Ok(()), "{cap:?}");
                assert_eq!(rx.recv_deadline(past), Ok(1), "{cap:?}");
                assert_eq!(tx.send_deadline(2, past), Ok(()), "{cap:?}");
                assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(2), "{cap:?}");
            }
        }
        if let Cap::B(n) = cap {
            for i in 0..n as u32 {
                tx.send(i).unwrap();
            }
            assert_eq!(
                tx.send_timeout(9, Duration::ZERO),
                Err(SendTimeoutError::Timeout(9))
            );
        }
        tx.close();
        assert_eq!(
            tx.send_timeout(8, Duration::ZERO),
            Err(SendTimeoutError::Closed(8))
        );
        while rx.try_recv().is_ok() {}
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Closed)
        );
        assert_eq!(rx.recv_deadline(past), Err(RecvTimeoutError::Closed));
    }
    // Zero timeouts pair with a parked partner on an unbuffered channel.
    let rt = rt(1);
    let (tx, rx) = goro::bounded::<u32>(0);
    let rx2 = rx.clone();
    let h = rt.spawn(move || rx2.recv());
    wait_parked(&rt, "chan recv", 1);
    assert_eq!(tx.send_timeout(7, Duration::ZERO), Ok(()));
    assert_eq!(h.join().unwrap(), Ok(7));
    let h = rt.spawn(move || tx.send(8));
    wait_parked(&rt, "chan send", 1);
    assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(8));
    assert_eq!(h.join().unwrap(), Ok(()));
}

#[test]
fn a_huge_timeout_waits_like_a_plain_call() {
    let rt = rt(1);
    let (tx, rx) = goro::bounded::<u32>(0);
    let h = rt.spawn(move || rx.recv_timeout(Duration::MAX));
    wait_parked(&rt, "chan recv", 1);
    tx.send(1).unwrap();
    assert_eq!(h.join().unwrap(), Ok(1));
}

// ------------------------------------------------------------- hand-off

#[test]
fn an_unbuffered_send_returns_only_after_a_receiver_took_the_value() {
    let rt = rt(2);
    let (tx, rx) = goro::bounded::<u32>(0);
    let sent = Arc::new(AtomicBool::new(false));
    let s = sent.clone();
    let h = rt.spawn(move || {
        tx.send(1).unwrap();
        s.store(true, Ordering::SeqCst);
    });
    wait_parked(&rt, "chan send", 1);
    assert!(
        !sent.load(Ordering::SeqCst),
        "send returned without a receiver"
    );
    assert_eq!(rx.len(), 0, "nothing is buffered");
    assert_eq!(rx.recv(), Ok(1));
    h.join().unwrap();
    assert!(sent.load(Ordering::SeqCst));
}

#[test]
fn an_unbuffered_recv_returns_only_after_a_sender_came() {
    let rt = rt(2);
    let (tx, rx) = goro::bounded::<u32>(0);
    let got = Arc::new(AtomicBool::new(false));
    let (g, rx2) = (got.clone(), rx.clone());
    let h = rt.spawn(move || {
        let v = rx2.recv();
        g.store(true, Ordering::SeqCst);
        v
    });
    wait_parked(&rt, "chan recv", 1);
    assert!(!got.load(Ordering::SeqCst));
    // A receiver waits: try_send hands off directly.
    assert_eq!(tx.try_send(5), Ok(()));
    assert_eq!(h.join().unwrap(), Ok(5));
    // No receiver waits any more: the next try_send finds no one.
    assert_eq!(tx.try_send(6), Err(TrySendError::Full(6)));
}

#[test]
fn a_receiver_gets_a_direct_hand_off_even_when_buffered() {
    // A waiting receiver means the buffer is empty: the value goes straight
    // to it and the buffer stays empty.
    let rt = rt(2);
    let (tx, rx) = goro::bounded::<u32>(4);
    let rx2 = rx.clone();
    let h = rt.spawn(move || rx2.recv());
    wait_parked(&rt, "chan recv", 1);
    tx.send(1).unwrap();
    assert_eq!(tx.len(), 0);
    assert_eq!(h.join().unwrap(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn two_green_threads_on_one_worker_pair_on_an_unbuffered_channel() {
    for workers in [1, 2] {
        let rt = rt(workers);
        let (ping_tx, ping_rx) = goro::bounded::<u32>(0);
        let (pong_tx, pong_rx) = goro::bounded::<u32>(0);
        let sum = rt.block_on(move || {
            let echo = goro::go!(move || {
                let id = std::thread::current().id();
                for v in ping_rx.iter() {
                    pong_tx.send(v + 1).unwrap();
                }
                id
            });
            let mut sum = 0;
            for i in 0..1000 {
                ping_tx.send(i).unwrap();
                sum += pong_rx.recv().unwrap();
            }
            drop(ping_tx);
            let echo_thread = echo.join().unwrap();
            if workers == 1 {
                assert_eq!(echo_thread, std::thread::current().id(), "same worker");
            }
            sum
        });
        assert_eq!(sum, (1..=1000).sum::<u32>());
    }
}

#[test]
fn os_threads_and_green_threads_mix_on_one_channel() {
    for cap in CAPS {
        let rt = rt(2);
        // OS senders -> green receivers.
        let (tx, rx) = chan::<u32>(cap);
        let senders: Vec<_> = (0..2u32)
            .map(|s| {
                let tx = tx.clone();
                std::thread::spawn(move || (0..300).for_each(|i| tx.send(s * 1000 + i).unwrap()))
            })
            .collect();
        drop(tx);
        let mut got = rt.block_on(move || {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let rx = rx.clone();
                    goro::go!(move || rx.iter().collect::<Vec<_>>())
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        senders.into_iter().for_each(|h| h.join().unwrap());
        got.sort_unstable();
        let want: Vec<u32> = (0..300).chain(1000..1300).collect();
        assert_eq!(got, want, "{cap:?}: OS -> green");

        // Green senders -> OS receivers.
        let (tx, rx) = chan::<u32>(cap);
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.iter().collect::<Vec<_>>())
            })
            .collect();
        drop(rx);
        rt.block_on(move || {
            let hs: Vec<_> = (0..2u32)
                .map(|s| {
                    let tx = tx.clone();
                    goro::go!(move || (0..300).for_each(|i| tx.send(s * 1000 + i).unwrap()))
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        });
        let mut got: Vec<u32> = receivers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, want, "{cap:?}: green -> OS");
    }
}

#[test]
fn green_threads_of_two_runtimes_share_a_channel() {
    let (a, b) = (rt(1), rt(1));
    let (ping_tx, ping_rx) = goro::bounded::<u32>(0);
    let (pong_tx, pong_rx) = goro::bounded::<u32>(0);
    let echo = b.spawn(move || {
        let me = std::thread::current().id();
        for v in ping_rx.iter() {
            pong_tx.send(v * 2).unwrap();
            assert_eq!(std::thread::current().id(), me, "stays on its worker");
        }
    });
    let sum = a.block_on(move || {
        let me = std::thread::current().id();
        let mut sum = 0;
        for i in 0..500 {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv().unwrap();
            assert_eq!(std::thread::current().id(), me, "stays on its worker");
        }
        sum
    });
    echo.join().unwrap();
    assert_eq!(sum, 2 * (0..500).sum::<u32>());
}

#[test]
fn runtime_shutdown_unwinds_blocked_parties_and_cleans_the_queues() {
    // A blocked sender: its message is dropped once, its waiter leaves the
    // queue (a later receive must not find it).
    let drops = Drops::default();
    let (tx, rx) = goro::bounded::<Tracked>(0);
    let rt1 = rt(1);
    let (t, m) = (tx.clone(), drops.make(1));
    rt1.spawn(move || {
        let _ = t.send(m);
    });
    wait_parked(&rt1, "chan send", 1);
    drop(rt1);
    assert_eq!(drops.count(), 1);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    assert!(!tx.is_closed());

    // Blocked receivers: a later send must not hand off to a dead one.
    for cap in [Cap::B(0), Cap::B(1), Cap::Unb] {
        let (tx, rx) = chan::<u32>(cap);
        let rt = rt(2);
        for _ in 0..3 {
            let r = rx.clone();
            rt.spawn(move || r.recv());
        }
        wait_parked(&rt, "chan recv", 3);
        drop(rt);
        match cap {
            Cap::B(0) => assert_eq!(tx.try_send(5), Err(TrySendError::Full(5))),
            _ => {
                tx.send(5).unwrap();
                assert_eq!(rx.try_recv(), Ok(5), "{cap:?}");
            }
        }
    }
}

/// A message whose destructor uses the channel it travels on.
struct Reentrant {
    tx: Option<Sender<Reentrant>>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if let Some(tx) = self.tx.take() {
            let _ = (tx.len(), tx.is_closed(), tx.is_full());
            let m = Reentrant {
                tx: None,
                drops: self.drops.clone(),
            };
            let _ = tx.try_send(m);
        }
    }
}

#[test]
fn message_destructors_may_use_the_channel() {
    // Run with a watchdog: a destructor run under the channel's lock would
    // deadlock.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for cap in [Cap::B(1), Cap::B(4), Cap::Unb] {
            let drops = Arc::new(AtomicUsize::new(0));
            let make = |tx: &Sender<Reentrant>| Reentrant {
                tx: Some(tx.clone()),
                drops: drops.clone(),
            };
            // Dropped with the last receiver: each destructor's try_send
            // fails (no receivers) and its message is dropped too.
            let (tx, rx) = chan::<Reentrant>(cap);
            tx.send(make(&tx)).unwrap();
            drop(tx);
            drop(rx);
            assert_eq!(drops.load(Ordering::SeqCst), 2, "{cap:?}");
            // Handed back by a failed try_send, and received.
            let (tx, rx) = chan::<Reentrant>(cap);
            match cap {
                Cap::B(n) => {
                    for _ in 0..n {
                        tx.send(make(&tx)).unwrap();
                    }
                    drop(tx.try_send(make(&tx)).unwrap_err()); // its try_send: Full
                }
                Cap::Unb => tx.send(make(&tx)).unwrap(),
            }
            drop(rx.recv().unwrap()); // its try_send refills the buffer
            drop(rx);
            drop(tx);
            // Each message dropped once: the ones holding a sender send one
            // more (dropped with its channel or on a failed try_send).
            let want = match cap {
                Cap::B(n) => 2 + 2 * (n + 1),
                Cap::Unb => 2 + 2,
            };
            assert_eq!(drops.load(Ordering::SeqCst), want, "{cap:?}");
        }
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a destructor using the channel deadlocked (or failed)");
}

// -------------------------------------------------------- large messages

type Big = [u8; 64 * 1024];

/// Each operation in its own frame, so the test's own temporaries do not
/// pile up in one (a debug build gives every temporary its own slot).
mod big {
    use super::*;

    #[inline(never)]
    pub(super) fn make(i: u8) -> Big {
        [i; 64 * 1024]
    }

    fn check(r: Result<&Big, String>, i: u8) {
        match r {
            Ok(m) => assert!(m.iter().all(|&b| b == i), "message {i} corrupted"),
            Err(e) => panic!("message {i}: {e}"),
        }
    }

    #[inline(never)]
    pub(super) fn send(tx: &Sender<Big>, i: u8) {
        tx.send(make(i)).unwrap();
    }

    #[inline(never)]
    pub(super) fn send_timeout(tx: &Sender<Big>, i: u8) {
        tx.send_timeout(make(i), Duration::from_secs(10)).unwrap();
    }

    #[inline(never)]
    pub(super) fn send_deadline(tx: &Sender<Big>, i: u8) {
        let d = Instant::now() + Duration::from_secs(10);
        tx.send_deadline(make(i), d).unwrap();
    }

    /// `true` once sent.
    #[inline(never)]
    pub(super) fn try_send(tx: &Sender<Big>, i: u8) -> bool {
        match tx.try_send(make(i)) {
            Ok(()) => true,
            Err(e) => {
                assert!(e.is_full());
                false
            }
        }
    }

    /// A failed send hands the big message back.
    #[inline(never)]
    pub(super) fn send_fails(tx: &Sender<Big>, i: u8) {
        let e = tx.send(make(i)).unwrap_err();
        assert!(e.0.iter().all(|&b| b == i));
        assert!(tx.try_send(make(i)).unwrap_err().is_closed());
    }

    #[inline(never)]
    pub(super) fn recv(rx: &Receiver<Big>, i: u8) {
        check(rx.recv().as_ref().map_err(|e| e.to_string()), i);
    }

    #[inline(never)]
    pub(super) fn recv_timeout(rx: &Receiver<Big>, i: u8) {
        let r = rx.recv_timeout(Duration::from_secs(10));
        check(r.as_ref().map_err(|e| e.to_string()), i);
    }

    #[inline(never)]
    pub(super) fn recv_deadline(rx: &Receiver<Big>, i: u8) {
        let r = rx.recv_deadline(Instant::now() + Duration::from_secs(10));
        check(r.as_ref().map_err(|e| e.to_string()), i);
    }

    /// `true` once received.
    #[inline(never)]
    pub(super) fn try_recv(rx: &Receiver<Big>, i: u8) -> bool {
        match rx.try_recv() {
            Ok(m) => {
                check(Ok(&m), i);
                true
            }
            Err(e) => {
                assert!(e.is_empty());
                false
            }
        }
    }

    #[inline(never)]
    pub(super) fn iter(rx: &Receiver<Big>, i: u8) {
        let mut n = 0;
        for m in rx.iter().take(1) {
            check(Ok(&m), i);
            n += 1;
        }
        assert_eq!(n, 1);
    }
}

/// Child: 64 KiB messages through the flavor `role` names, between green
/// threads with `stack`-byte stacks, with every blocking and non-blocking
/// call on both sides (a `try_*` loop always faces a blocking partner, so
/// an unbuffered pair cannot livelock). An overflow aborts this process.
fn big_messages_child(flavor: &str, stack: usize) {
    let cap = match flavor {
        "zero" => Cap::B(0),
        "one" => Cap::B(1),
        _ => Cap::Unb,
    };
    let (tx, rx) = chan::<Big>(cap);
    let (tx2, rx2) = (tx.clone(), rx.clone());
    let rt = rt(2);
    rt.block_on(move || {
        let s = goro::Builder::new()
            .name(format!("big-sender-{flavor}"))
            .stack_size(stack)
            .spawn(move || {
                big::send(&tx, 0);
                big::send_timeout(&tx, 1);
                big::send_deadline(&tx, 2);
                while !big::try_send(&tx, 3) {
                    goro::yield_now();
                }
                big::send(&tx, 4);
                big::send(&tx, 5);
            })
            .unwrap();
        let r = goro::Builder::new()
            .name(format!("big-receiver-{flavor}"))
            .stack_size(stack)
            .spawn(move || {
                big::recv(&rx, 0);
                big::recv_timeout(&rx, 1);
                big::recv_deadline(&rx, 2);
                big::recv(&rx, 3);
                while !big::try_recv(&rx, 4) {
                    goro::yield_now();
                }
                big::iter(&rx, 5);
            })
            .unwrap();
        s.join().unwrap();
        r.join().unwrap();
    });
    drop(rx2);
    rt.block_on(move || {
        goro::Builder::new()
            .name(format!("big-failed-sender-{flavor}"))
            .stack_size(stack)
            .spawn(move || big::send_fails(&tx2, 6))
            .unwrap()
            .join()
            .unwrap();
    });
}

fn big_messages(stack: usize, test: &str) {
    if let Some(role) = common::child_role() {
        let (flavor, stack) = role.split_once(':').expect("flavor:stack");
        big_messages_child(flavor, stack.parse().expect("a stack size"));
        return;
    }
    for flavor in ["zero", "one", "unbounded"] {
        let out = common::run_child(test, &format!("{flavor}:{stack}"), &[]);
        assert!(
            out.status.success(),
            "64 KiB messages through {flavor} with {} KiB stacks: {:?}\n{}",
            stack / 1024,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The design's target: a 64 KiB message on a 256 KiB green stack (goro is
/// built with opt-level 1 even in this crate's dev profile; unoptimised code
/// would copy the message at every call level).
#[test]
fn big_messages_pass_every_flavor_on_256k_stacks() {
    big_messages(256 * 1024, "big_messages_pass_every_flavor_on_256k_stacks");
}

/// Correctness of 64 KiB messages in any build, on a stack roomy enough
/// for a debug build.
#[test]
fn big_messages_pass_every_flavor_on_a_2m_stack() {
    big_messages(2 << 20, "big_messages_pass_every_flavor_on_a_2m_stack");
}

// ------------------------------------------------------ unbounded memory

#[test]
fn an_unbounded_channel_gives_memory_back_after_a_burst() {
    if common::child_role().as_deref() != Some("burst") {
        // Alone in a child process, so the allocation count is ours only.
        let out = common::run_child(
            "an_unbounded_channel_gives_memory_back_after_a_burst",
            "burst",
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let (tx, rx) = goro::unbounded::<u64>();
    let before = LIVE.load(Ordering::SeqCst);
    for i in 0..1_000_000 {
        tx.send(i).unwrap();
    }
    let peak = LIVE.load(Ordering::SeqCst) - before;
    assert!(peak >= 8_000_000, "1M u64 buffered: {peak} bytes");
    for i in 0..1_000_000 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    let after = LIVE.load(Ordering::SeqCst) - before;
    assert!(
        after <= 64 * 1024,
        "a drained unbounded channel still holds {after} bytes (peak {peak})"
    );
}

// ------------------------------------------------------- API properties

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<Sender<i32>>();
    assert_send_sync::<Receiver<i32>>();
    // `T: Send` is enough, as for a Mutex<VecDeque<T>>.
    assert_send_sync::<Sender<std::cell::Cell<i32>>>();
    assert_send_sync::<Receiver<std::cell::Cell<i32>>>();
    assert_send_sync::<SendError<i32>>();
    assert_send_sync::<TrySendError<i32>>();
    assert_send_sync::<SendTimeoutError<i32>>();
    assert_send_sync::<RecvError>();
    assert_send_sync::<TryRecvError>();
    assert_send_sync::<RecvTimeoutError>();
}

fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

/// A handle used after a caught panic sees a working channel (no user code
/// runs under a channel's lock), so handles cross `catch_unwind` freely,
/// as crossbeam-channel's do.
#[test]
fn handles_are_unwind_safe_and_work_after_a_caught_panic() {
    assert_unwind_safe::<Sender<std::cell::Cell<i32>>>();
    assert_unwind_safe::<Receiver<std::cell::Cell<i32>>>();
    let (tx, rx) = goro::bounded::<i32>(1);
    let r = std::panic::catch_unwind(|| {
        tx.send(1).unwrap();
        panic!("after a send");
    });
    assert!(r.is_err());
    assert_eq!(rx.recv(), Ok(1));
    tx.send(2).unwrap();
    assert_eq!(rx.recv(), Ok(2));
}

/// Neither `Debug` nor `Clone`.
#[derive(PartialEq, Eq)]
struct Opaque(u8);

#[test]
fn error_types_debug_display_into_inner_and_traits() {
    // Debug without T: Debug.
    assert_eq!(format!("{:?}", SendError(Opaque(1))), "SendError(..)");
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque(1))), "Full(..)");
    assert_eq!(
        format!("{:?}", TrySendError::Closed(Opaque(1))),
        "Closed(..)"
    );
    assert_eq!(
        format!("{:?}", SendTimeoutError::Timeout(Opaque(1))),
        "Timeout(..)"
    );
    assert_eq!(
        format!("{:?}", SendTimeoutError::Closed(Opaque(1))),
        "Closed(..)"
    );
    assert_eq!(format!("{:?}", RecvError), "RecvError");
    assert_eq!(format!("{:?}", TryRecvError::Empty), "Empty");
    assert_eq!(format!("{:?}", RecvTimeoutError::Timeout), "Timeout");
    // `unwrap` needs only Debug of the error: works for any T.
    let (tx, rx) = goro::bounded::<Opaque>(1);
    tx.send(Opaque(3)).unwrap();
    assert!(rx.recv().unwrap() == Opaque(3));

    // Display texts.
    let texts = [
        SendError(()).to_string(),
        TrySendError::Full(()).to_string(),
        TrySendError::Closed(()).to_string(),
        SendTimeoutError::Timeout(()).to_string(),
        SendTimeoutError::Closed(()).to_string(),
        RecvError.to_string(),
        TryRecvError::Empty.to_string(),
        TryRecvError::Closed.to_string(),
        RecvTimeoutError::Timeout.to_string(),
        RecvTimeoutError::Closed.to_string(),
    ];
    assert_eq!(
        texts,
        [
            "sending on a closed channel",
            "sending on a full channel",
            "sending on a closed channel",
            "timed out waiting on send operation",
            "sending on a closed channel",
            "receiving on a closed and empty channel",
            "receiving on an empty channel",
            "receiving on a closed and empty channel",
            "timed out waiting on receive operation",
            "receiving on a closed and empty channel",
        ]
    );

    // std::error::Error, boxed.
    let errs: Vec<Box<dyn std::error::Error + Send + Sync>> = vec![
        Box::new(SendError(1)),
        Box::new(TrySendError::Full(1)),
        Box::new(SendTimeoutError::Timeout(1)),
        Box::new(RecvError),
        Box::new(TryRecvError::Empty),
        Box::new(RecvTimeoutError::Timeout),
    ];
    assert!(errs.iter().all(|e| !e.to_string().is_empty()));

    // into_inner and the 0 field.
    assert_eq!(SendError(String::from("a")).into_inner(), "a");
    assert_eq!(SendError(7).0, 7);
    assert_eq!(TrySendError::Full(String::from("b")).into_inner(), "b");
    assert_eq!(TrySendError::Closed(String::from("c")).into_inner(), "c");
    assert_eq!(
        SendTimeoutError::Timeout(String::from("d")).into_inner(),
        "d"
    );
    assert_eq!(
        SendTimeoutError::Closed(String::from("e")).into_inner(),
        "e"
    );

    // Predicates.
    assert!(TrySendError::Full(()).is_full() && !TrySendError::Full(()).is_closed());
    assert!(TrySendError::Closed(()).is_closed() && !TrySendError::Closed(()).is_full());
    assert!(SendTimeoutError::Timeout(()).is_timeout());
    assert!(SendTimeoutError::Closed(()).is_closed());
    assert!(TryRecvError::Empty.is_empty() && TryRecvError::Closed.is_closed());
    assert!(RecvTimeoutError::Timeout.is_timeout() && RecvTimeoutError::Closed.is_closed());

    // Clone, Copy, PartialEq, Eq where T allows.
    fn copy_eq<T: Copy + Clone + PartialEq + Eq>(t: T) -> bool {
        let u = t;
        #[allow(clippy::clone_on_copy)]
        let v = t.clone();
        u == v && u == t
    }
    assert!(copy_eq(SendError(1)));
    assert!(copy_eq(TrySendError::Full(1)));
    assert!(copy_eq(SendTimeoutError::Closed(1)));
    assert!(copy_eq(RecvError));
    assert!(copy_eq(TryRecvError::Closed));
    assert!(copy_eq(RecvTimeoutError::Timeout));
    let s = SendError(String::from("x"));
    assert_eq!(s.clone(), s);
    assert_ne!(TrySendError::Full(1), TrySendError::Closed(1));
    assert_ne!(SendTimeoutError::Timeout(1), SendTimeoutError::Closed(1));

    // Conversions.
    assert_eq!(TrySendError::from(SendError(2)), TrySendError::Closed(2));
    assert_eq!(
        SendTimeoutError::from(SendError(2)),
        SendTimeoutError::Closed(2)
    );
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Closed);
    assert_eq!(RecvTimeoutError::from(RecvError), RecvTimeoutError::Closed);
}

#[test]
fn len_capacity_is_full_is_empty_and_same_channel() {
    let (tx, rx) = goro::bounded::<u8>(0);
    assert_eq!((tx.capacity(), rx.capacity()), (Some(0), Some(0)));
    assert!(tx.is_full() && rx.is_full(), "unbuffered is always full");
    assert!(tx.is_empty() && rx.is_empty());

    let (tx, rx) = goro::bounded::<u8>(2);
    assert_eq!(tx.capacity(), Some(2));
    tx.send(1).unwrap();
    assert_eq!((tx.len(), rx.len()), (1, 1));
    assert!(!tx.is_full() && !rx.is_empty());
    tx.send(2).unwrap();
    assert!(tx.is_full() && rx.is_full());

    let (tx, rx) = goro::unbounded::<u8>();
    assert_eq!(rx.capacity(), None);
    for i in 0..200 {
        tx.send(i).unwrap();
    }
    assert!(!tx.is_full(), "unbounded is never full");
    assert_eq!(rx.len(), 200);

    let (tx2, rx2) = goro::unbounded::<u8>();
    assert!(tx.same_channel(&tx.clone()) && rx.same_channel(&rx.clone()));
    assert!(!tx.same_channel(&tx2) && !rx.same_channel(&rx2));
    assert_eq!(format!("{tx:?} {rx:?}"), "Sender { .. } Receiver { .. }");
}

#[test]
fn iterators() {
    let (tx, rx) = goro::bounded::<u32>(8);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    // try_iter takes what is ready and stops.
    assert_eq!(rx.try_iter().take(2).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(rx.try_iter().next(), None);
    // iter / &Receiver / owned into_iter end at close.
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        tx.send(3).unwrap();
        tx.close();
    });
    let mut got = Vec::new();
    for v in &rx {
        got.push(v);
    }
    h.join().unwrap();
    assert_eq!(got, [0, 1, 2, 3]);
    assert_eq!(rx.iter().next(), None);

    let (tx, rx) = goro::unbounded::<u32>();
    tx.send(7).unwrap();
    drop(tx);
    assert_eq!(rx.into_iter().collect::<Vec<_>>(), [7]);

    let seen: HashSet<u32> = goro::run(|| {
        let (tx, rx) = goro::bounded(0);
        goro::go!(move || (0..10).for_each(|i| tx.send(i).unwrap()));
        rx.into_iter().collect()
    });
    assert_eq!(seen, (0..10).collect());
}

/// A blocking channel call in a thread-local destructor of a plain OS
/// thread (crossbeam-channel's `use_while_exiting`): goro's own
/// thread-locals may be gone by then; the call still works, and the thread
/// exits (it aborted the process, or hung in a `select!`, before).
#[test]
fn blocking_calls_work_in_thread_local_destructors() {
    struct Foo;
    impl Drop for Foo {
        fn drop(&mut self) {
            let (_s, r) = goro::unbounded::<()>();
            goro::select! {
                recv(r) -> _ => panic!("nothing was sent"),
                default(Duration::from_millis(20)) => {}
            }
            assert!(r.recv_timeout(Duration::from_millis(20)).is_err());
            let (s, r) = goro::bounded::<i32>(0);
            let t = std::thread::spawn(move || s.send(7).unwrap());
            assert_eq!(r.recv(), Ok(7)); // an untimed park
            t.join().unwrap();
        }
    }
    thread_local! { static FOO: Foo = const { Foo }; }
    let h = std::thread::spawn(|| {
        // FOO registers its destructor first, goro's thread-locals after
        // (they are destroyed first).
        FOO.with(|_| ());
        let (_s, r) = goro::unbounded::<()>();
        let _ = r.recv_timeout(Duration::from_millis(1));
        let (s, r) = goro::bounded::<i32>(0);
        let t = std::thread::spawn(move || s.send(1).unwrap());
        assert_eq!(r.recv(), Ok(1));
        t.join().unwrap();
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(h.join().is_ok()).unwrap());
    let joined = rx.recv_timeout(Duration::from_secs(60));
    assert_eq!(joined, Ok(true), "the thread exits after its destructors");
}
