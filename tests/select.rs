//! `select!`, `select_biased!` and `Select`: readiness, blocking on many
//! channels from green threads and OS threads, close, timeouts, the
//! operand/value evaluation rules, and the dynamic API's details.

mod common;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{rt, wait_parked};
use goro::{Select, bounded, select, select_biased, unbounded};

#[test]
fn ready_recv_case_runs_and_default_when_none() {
    let (tx, rx) = bounded::<i32>(1);
    let hit = select! {
        recv(rx) -> _ => "recv",
        default => "default",
    };
    assert_eq!(hit, "default");
    tx.send(7).unwrap();
    let got = select! {
        recv(rx) -> v => v.unwrap(),
        default => -1,
    };
    assert_eq!(got, 7);
}

#[test]
fn default_timeout_expires_then_case_wins() {
    let (tx, rx) = bounded::<i32>(0);
    let r = select! {
        recv(rx) -> _ => false,
        default(Duration::from_millis(10)) => true,
    };
    assert!(r);
    let h = std::thread::spawn(move || tx.send(3).unwrap());
    let r = select! {
        recv(rx) -> v => v,
        default(Duration::from_secs(30)) => Err(goro::RecvError),
    };
    assert_eq!(r, Ok(3));
    h.join().unwrap();
}

#[test]
fn blocking_select_is_woken_by_a_sender_on_any_channel() {
    for cap in [0, 1] {
        rt(2).block_on(move || {
            let (tx1, rx1) = bounded::<u32>(cap);
            let (tx2, rx2) = bounded::<u32>(cap);
            // Each sender hands its `Sender` back, so neither channel closes
            // (a closed channel's recv case would be ready).
            let h1 = goro::go!(move || {
                for i in 0..500 {
                    tx1.send(i).unwrap();
                }
                tx1
            });
            let h2 = goro::go!(move || {
                for i in 0..500 {
                    tx2.send(1000 + i).unwrap();
                }
                tx2
            });
            let (mut a, mut b) = (Vec::new(), Vec::new());
            while a.len() + b.len() < 1000 {
                select! {
                    recv(rx1) -> v => a.push(v.unwrap()),
                    recv(rx2) -> v => b.push(v.unwrap()),
                }
            }
            h1.join().unwrap();
            h2.join().unwrap();
            assert_eq!(a, (0..500).collect::<Vec<_>>(), "per-sender order");
            assert_eq!(b, (1000..1500).collect::<Vec<_>>());
        });
    }
}

#[test]
fn send_cases_pair_with_receivers_on_every_flavor() {
    for cap in [Some(0), Some(1), Some(3), None] {
        rt(2).block_on(move || {
            let (tx1, rx1) = match cap {
                Some(c) => bounded::<u32>(c),
                None => unbounded(),
            };
            let (tx2, rx2) = bounded::<u32>(0);
            let r1 = goro::go!(move || rx1.iter().collect::<Vec<_>>());
            let r2 = goro::go!(move || rx2.iter().collect::<Vec<_>>());
            for i in 0..300 {
                select! {
                    send(tx1, i) -> r => r.unwrap(),
                    send(tx2, i) -> r => r.unwrap(),
                }
            }
            drop((tx1, tx2));
            let mut all = r1.join().unwrap();
            all.extend(r2.join().unwrap());
            all.sort_unstable();
            assert_eq!(all, (0..300).collect::<Vec<_>>(), "each value exactly once");
        });
    }
}

#[test]
fn send_value_is_built_only_for_the_chosen_case() {
    let built = Cell::new(0);
    let make = |v: i32| {
        built.set(built.get() + 1);
        v
    };
    let (tx1, rx1) = bounded::<i32>(1);
    let (tx2, _rx2) = bounded::<i32>(0); // never ready: nobody receives
    for _ in 0..20 {
        select! {
            send(tx1, make(1)) -> r => r.unwrap(),
            send(tx2, make(2)) -> _ => panic!("no receiver on tx2"),
        }
        assert_eq!(rx1.recv(), Ok(1));
    }
    assert_eq!(built.get(), 20, "one value per select");
    // Nothing ready: the default runs and no value is built.
    select! {
        send(tx2, make(3)) -> _ => panic!("not ready"),
        default => {}
    }
    assert_eq!(built.get(), 20);
}

/// An operand may be any expression giving a channel or a reference to
/// one, `if` and `match` included: Go's idiom of switching a case off
/// with a nil channel (`never()`), as crossbeam-channel's `select!` takes
/// it.
#[test]
fn if_and_match_operands_switch_cases_off() {
    let (tx, rx) = bounded::<i32>(1);
    let never = goro::never::<i32>();
    for enabled in [true, false] {
        tx.send(1).unwrap();
        let got = select! {
            recv(if enabled { &rx } else { &never }) -> v => v.ok(),
            default => None,
        };
        assert_eq!(got, enabled.then_some(1));
        if !enabled {
            assert_eq!(rx.recv(), Ok(1));
        }
        let sent = select! {
            send(match enabled { true => &tx, false => &tx }, 2) -> r => r.is_ok(),
            default => false,
        };
        assert!(sent);
        assert_eq!(rx.recv(), Ok(2));
    }
}

#[test]
fn operands_are_evaluated_once_in_source_order() {
    let order = std::cell::RefCell::new(Vec::new());
    let (tx, rx) = bounded::<i32>(1);
    let (tx2, rx2) = bounded::<i32>(1);
    tx2.send(9).unwrap();
    let pick_rx = |name: &'static str, r| {
        order.borrow_mut().push(name);
        r
    };
    select! {
        recv(pick_rx("a", &rx)) -> _ => panic!("empty"),
        send(pick_rx_s(&order, "b", &tx), 1) -> r => r.unwrap(),
        recv(pick_rx("c", &rx2)) -> v => assert_eq!(v, Ok(9)),
    }
    assert_eq!(*order.borrow(), ["a", "b", "c"]);

    fn pick_rx_s<'a, T>(
        order: &std::cell::RefCell<Vec<&'static str>>,
        name: &'static str,
        s: &'a goro::Sender<T>,
    ) -> &'a goro::Sender<T> {
        order.borrow_mut().push(name);
        s
    }
}

#[test]
fn closed_channels_are_ready() {
    let (tx, rx) = bounded::<i32>(0);
    tx.close();
    select! {
        recv(rx) -> v => assert_eq!(v, Err(goro::RecvError)),
        default => panic!("a closed channel's recv is ready"),
    }
    select! {
        send(tx, 4) -> r => assert_eq!(r, Err(goro::SendError(4))),
        default => panic!("a closed channel's send is ready"),
    }
}

#[test]
fn close_wakes_a_blocked_select() {
    rt(2).block_on(|| {
        let (tx, rx) = bounded::<i32>(0);
        let (tx2, rx2) = bounded::<i32>(0);
        let closer = goro::go!(move || {
            goro::sleep(Duration::from_millis(5));
            tx.close();
        });
        select! {
            recv(rx) -> v => assert_eq!(v, Err(goro::RecvError)),
            recv(rx2) -> _ => panic!("nobody sends on rx2"),
        }
        closer.join().unwrap();
        // A blocked send case gets its value back when the receivers go.
        let blocked = goro::go!(move || {
            select! {
                send(tx2, 5) -> r => r,
            }
        });
        goro::sleep(Duration::from_millis(5));
        drop(rx2);
        assert_eq!(blocked.join().unwrap(), Err(goro::SendError(5)));
    });
}

#[test]
fn a_select_never_pairs_with_itself() {
    let (tx, rx) = bounded::<i32>(0);
    let r = select! {
        send(tx, 1) -> _ => "sent",
        recv(rx) -> _ => "received",
        default(Duration::from_millis(20)) => "timeout",
    };
    assert_eq!(r, "timeout");
}

#[test]
fn the_same_channel_twice() {
    let (tx, rx) = bounded::<i32>(4);
    for i in 0..4 {
        tx.send(i).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        select! {
            recv(rx) -> v => got.push(v.unwrap()),
            recv(rx) -> v => got.push(v.unwrap()),
        }
    }
    assert_eq!(got, [0, 1, 2, 3]);
    // Blocking on the same channel twice: one message, one case.
    rt(1).block_on(move || {
        let h = goro::go!(move || {
            select! {
                recv(rx) -> v => v.unwrap(),
                recv(rx) -> v => v.unwrap() + 100,
            }
        });
        goro::sleep(Duration::from_millis(2));
        tx.send(1).unwrap();
        let v = h.join().unwrap();
        assert!(v == 1 || v == 101);
        assert!(tx.is_empty());
    });
}

#[test]
fn selects_on_both_ends_of_unbuffered_channels_pair() {
    // Go's doubleselect: selects sending and selects receiving over the
    // same unbuffered channels meet each other.
    rt(2).block_on(|| {
        const N: u32 = 2000;
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = bounded::<u32>(0);
        let (tx3, rx3) = bounded::<u32>(0);
        let sender = goro::go!(move || {
            for i in 0..N {
                select! {
                    send(tx1, i) -> r => r.unwrap(),
                    send(tx2, i) -> r => r.unwrap(),
                    send(tx3, i) -> r => r.unwrap(),
                }
            }
        });
        let mut receivers = Vec::new();
        for _ in 0..2 {
            let (rx1, rx2, rx3) = (rx1.clone(), rx2.clone(), rx3.clone());
            receivers.push(goro::go!(move || {
                let mut got = Vec::new();
                loop {
                    select! {
                        recv(rx1) -> v => match v { Ok(v) => got.push(v), Err(_) => break },
                        recv(rx2) -> v => match v { Ok(v) => got.push(v), Err(_) => break },
                        recv(rx3) -> v => match v { Ok(v) => got.push(v), Err(_) => break },
                    }
                }
                got
            }));
        }
        // A plain receiver too.
        let plain = goro::go!(move || rx1.iter().collect::<Vec<_>>());
        drop((rx2, rx3));
        sender.join().unwrap();
        // `sender` dropped its senders: every channel is closed.
        let mut all = plain.join().unwrap();
        for r in receivers {
            all.extend(r.join().unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>());
    });
}

#[test]
fn random_choice_is_fair() {
    // Two always-ready cases: each wins about half of the time. With
    // n = 100_000 the count is Binomial(n, 1/2); |k - n/2| > 3_000 is
    // beyond 18 standard deviations (probability far below 1e-9).
    let (tx1, rx1) = unbounded::<()>();
    let (tx2, rx2) = unbounded::<()>();
    let n = 100_000;
    let mut first = 0i64;
    for _ in 0..n {
        tx1.send(()).unwrap();
        tx2.send(()).unwrap();
        select! {
            recv(rx1) -> _ => { first += 1; rx2.recv().unwrap(); }
            recv(rx2) -> _ => { rx1.recv().unwrap(); }
        }
    }
    assert!((first - n / 2).abs() < 3_000, "first won {first} of {n}");
}

#[test]
fn biased_select_takes_the_first_ready_case() {
    let (tx1, rx1) = unbounded::<i32>();
    let (tx2, rx2) = unbounded::<i32>();
    for i in 0..100 {
        tx1.send(i).unwrap();
        tx2.send(i).unwrap();
    }
    for i in 0..100 {
        select_biased! {
            recv(rx1) -> v => assert_eq!(v, Ok(i)),
            recv(rx2) -> _ => panic!("rx1 is ready"),
        }
    }
}

#[test]
fn os_threads_select_too() {
    let (tx1, rx1) = bounded::<u32>(0);
    let (tx2, rx2) = bounded::<u32>(0);
    let t = std::thread::spawn(move || {
        for i in 0..200 {
            if i % 2 == 0 {
                tx1.send(i).unwrap();
            } else {
                tx2.send(i).unwrap();
            }
        }
    });
    let mut sum = 0;
    for _ in 0..200 {
        select! {
            recv(rx1) -> v => sum += v.unwrap(),
            recv(rx2) -> v => sum += v.unwrap(),
        }
    }
    t.join().unwrap();
    assert_eq!(sum, (0..200).sum::<u32>());
}

#[test]
fn timed_out_selects_leave_no_waiters_behind() {
    // After many timed-out selects on a channel, a later send and receive
    // still pair normally (stale waiters would swallow the message).
    rt(1).block_on(|| {
        let (tx, rx) = bounded::<i32>(0);
        for _ in 0..50 {
            select! {
                recv(rx) -> _ => panic!("nothing sent"),
                default(Duration::from_micros(50)) => {}
            }
        }
        let h = goro::go!(move || rx.recv().unwrap());
        tx.send(11).unwrap();
        assert_eq!(h.join().unwrap(), 11);
    });
}

#[test]
fn stress_select_over_capacities_0_0_2_3() {
    // Go's TestSelectStress: 4 channels, senders and receivers that use
    // select and plain operations, every message accounted for.
    rt(2).block_on(|| {
        const N: usize = 2000;
        let caps = [0, 0, 2, 3];
        let chans: Vec<_> = caps.iter().map(|&c| bounded::<usize>(c)).collect();
        let received = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        // Plain senders, one per channel.
        for (tx, _) in &chans {
            let tx = tx.clone();
            hs.push(goro::go!(move || for i in 0..N {
                tx.send(i).unwrap();
            }));
        }
        // A selecting sender over all four.
        let txs: Vec<_> = chans.iter().map(|(t, _)| t.clone()).collect();
        hs.push(goro::go!(move || {
            for i in 0..4 * N {
                select! {
                    send(txs[0], i) -> r => r.unwrap(),
                    send(txs[1], i) -> r => r.unwrap(),
                    send(txs[2], i) -> r => r.unwrap(),
                    send(txs[3], i) -> r => r.unwrap(),
                }
            }
        }));
        // A selecting receiver and plain receivers share the 8N messages.
        let rxs: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
        let total = 8 * N;
        let got = received.clone();
        hs.push(goro::go!(move || {
            while got.load(Ordering::SeqCst) < total {
                select! {
                    recv(rxs[0]) -> _ => { got.fetch_add(1, Ordering::SeqCst); }
                    recv(rxs[1]) -> _ => { got.fetch_add(1, Ordering::SeqCst); }
                    recv(rxs[2]) -> _ => { got.fetch_add(1, Ordering::SeqCst); }
                    recv(rxs[3]) -> _ => { got.fetch_add(1, Ordering::SeqCst); }
                    default(Duration::from_millis(1)) => {}
                }
            }
        }));
        for (_, rx) in &chans {
            let rx = rx.clone();
            let got = received.clone();
            hs.push(goro::go!(move || {
                while got.load(Ordering::SeqCst) < total {
                    if rx.recv_timeout(Duration::from_millis(1)).is_ok() {
                        got.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(received.load(Ordering::SeqCst), total);
    });
}

/// A `Select::ready` parked on an unbuffered channel wakes when a peer
/// arrives and blocks there (a receiver for its send case, a sender for
/// its recv case): the peer's reserve step tells the readiness waiter to
/// look again, and that wake-up must reach it also when the peer goes on
/// to block (it did not: the ready call slept to its deadline). The peer
/// runs on an OS thread, then on a green thread.
#[test]
fn ready_wakes_when_a_peer_arrives_and_blocks() {
    for peer_on_green in [false, true] {
        for send_case in [true, false] {
            let rt = rt(2);
            let (tx, rx) = bounded::<i32>(0);
            let (tx2, rx2) = (tx.clone(), rx.clone());
            let waiter = rt.spawn(move || {
                let mut sel = Select::new();
                if send_case {
                    sel.send(&tx2);
                } else {
                    sel.recv(&rx2);
                }
                // A missed wake-up shows as a wait to the deadline (then
                // the case is ready): 20 s, against microseconds.
                let start = std::time::Instant::now();
                let woke = sel.ready_timeout(Duration::from_secs(20)).is_ok()
                    && start.elapsed() < Duration::from_secs(10);
                // Complete the peer's operation either way.
                if send_case {
                    tx2.send(7).unwrap();
                } else {
                    assert_eq!(rx2.recv(), Ok(7));
                }
                woke
            });
            wait_parked(&rt, "select", 1);
            let peer = move || {
                if send_case {
                    assert_eq!(rx.recv(), Ok(7));
                } else {
                    tx.send(7).unwrap();
                }
            };
            if peer_on_green {
                rt.spawn(peer).join().unwrap();
            } else {
                std::thread::spawn(peer).join().unwrap();
            }
            assert!(
                waiter.join().unwrap(),
                "ready (send case: {send_case}) missed a peer on a green thread: {peer_on_green}"
            );
        }
    }
}

/// A sender blocked in a `select` on a full buffered channel keeps its
/// turn: the receive that frees a cell reserves it for the select, ahead
/// of a plain sender queued after it and of a newcomer's `try_send`
/// (before, the select was only told to try again and queued anew at the
/// back). (A receive that comes while the select still builds its value
/// finds the buffer empty and takes the plain sender's message directly:
/// a limit of building send values lazily.)
#[test]
fn a_selecting_sender_keeps_its_turn_on_a_buffered_channel() {
    for dynamic in [false, true] {
        let rt = rt(2);
        let (tx, rx) = bounded::<i32>(1);
        tx.send(0).unwrap();
        let t1 = tx.clone();
        let h1 = rt.spawn(move || {
            if dynamic {
                let mut sel = Select::new();
                let i = sel.send(&t1);
                let op = sel.select();
                assert_eq!(op.index(), i);
                op.send(&t1, 1).unwrap();
            } else {
                select! { send(t1, 1) -> r => r.unwrap() }
            }
        });
        wait_parked(&rt, "select", 1);
        let t2 = tx.clone();
        let h2 = rt.spawn(move || t2.send(2).unwrap());
        wait_parked(&rt, "chan send", 1);
        assert_eq!(rx.recv(), Ok(0));
        // The freed cell is the select's now, built or not.
        assert!(
            tx.try_send(99).is_err(),
            "a newcomer took the select's turn"
        );
        // It completes into its cell (it would wait for room for good if
        // the cell had gone to the plain sender).
        let start = std::time::Instant::now();
        while !h1.is_finished() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the select never sent"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        h1.join().unwrap();
        let rest: Vec<i32> = (0..2).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(rest, [1, 2], "dynamic: {dynamic}");
        h2.join().unwrap();
    }
}

/// A select parks on every case, with its waiters in its own frame up to
/// four cases and on the heap past that: whichever channel a peer uses
/// completes it with that case's index and value, and afterwards no
/// channel pairs with it any more (an unbuffered `try_send` on each finds
/// no receiver).
#[test]
fn a_select_parked_on_few_or_many_cases_completes_on_any_and_leaves_no_waiter() {
    let rt = rt(2);
    for n in [1usize, 3, 4, 5, 9] {
        for pick in [0, n / 2, n - 1] {
            let chans: Vec<_> = (0..n).map(|_| bounded::<usize>(0)).collect();
            let rxs: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
            let h = rt.spawn(move || {
                let mut sel = Select::new();
                for r in &rxs {
                    sel.recv(r);
                }
                let oper = sel.select();
                let i = oper.index();
                (i, oper.recv(&rxs[i]).unwrap())
            });
            wait_parked(&rt, "select", 1);
            chans[pick].0.send(100 + pick).unwrap();
            assert_eq!(h.join().unwrap(), (pick, 100 + pick), "{n} cases");
            for (i, (tx, _)) in chans.iter().enumerate() {
                assert!(
                    tx.try_send(i).unwrap_err().is_full(),
                    "{n} cases: channel {i} still pairs with the finished select"
                );
            }
        }
    }
}

#[test]
fn dynamic_select_remove_ready_and_errors() {
    let (tx1, rx1) = bounded::<i32>(1);
    let (tx2, rx2) = bounded::<i32>(1);
    let mut sel = Select::new();
    let i1 = sel.recv(&rx1);
    let i2 = sel.recv(&rx2);
    assert_eq!((i1, i2), (0, 1));
    assert!(sel.try_ready().is_err());
    assert!(sel.ready_timeout(Duration::from_millis(5)).is_err());
    tx2.send(2).unwrap();
    assert_eq!(sel.ready(), i2);
    sel.remove(i2);
    assert!(sel.try_select().is_err(), "rx2 removed");
    tx1.send(1).unwrap();
    let oper = sel.select();
    assert_eq!(oper.index(), i1);
    assert_eq!(oper.recv(&rx1), Ok(1));
    assert_eq!(rx2.try_recv(), Ok(2));
}

#[test]
#[should_panic(expected = "passed a receiver that wasn't selected")]
fn completing_with_the_wrong_handle_panics() {
    let (tx1, rx1) = bounded::<i32>(1);
    let (_tx2, rx2) = bounded::<i32>(1);
    tx1.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx1);
    let oper = sel.select();
    let _ = oper.recv(&rx2);
}

#[test]
fn an_uncompleted_send_releases_its_reservation() {
    let (tx, rx) = bounded::<i32>(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.send(&tx);
        let _oper = sel.select();
        // dropped without `send`: panics, after giving the cell back
    }));
    assert!(r.is_err());
    tx.try_send(5).expect("the reserved cell was released");
    assert_eq!(rx.recv(), Ok(5));
}

fn failing_value() -> i32 {
    panic!("value failed")
}

#[test]
fn a_panicking_send_value_releases_a_claimed_receiver() {
    rt(2).block_on(|| {
        let (tx, rx) = bounded::<i32>(0);
        let r = goro::go!(move || rx.recv());
        goro::sleep(Duration::from_millis(5)); // the receiver is waiting
        let tx2 = tx.clone();
        let p = goro::go!(move || {
            select! {
                send(tx2, failing_value()) -> _ => {},
            }
        });
        assert!(p.join().is_err());
        // The receiver was told to start over and still gets a value.
        tx.send(3).unwrap();
        assert_eq!(r.join().unwrap(), Ok(3));
    });
}

#[test]
fn try_recv_takes_from_a_blocked_selecting_sender() {
    rt(1).block_on(|| {
        let (tx, rx) = bounded::<i32>(0);
        let (_tx2, rx2) = bounded::<i32>(0);
        let s = goro::go!(move || {
            select! {
                send(tx, 8) -> r => r.unwrap(),
                recv(rx2) -> _ => panic!("nobody sends"),
            }
        });
        let v = loop {
            match rx.try_recv() {
                Ok(v) => break v,
                Err(_) => goro::yield_now(),
            }
        };
        assert_eq!(v, 8);
        s.join().unwrap();
    });
}

#[test]
fn empty_select_with_default_runs_default() {
    let r = select! {
        default => 5,
    };
    assert_eq!(r, 5);
}

/// crossbeam-channel's operand forms: a temporary made inside an operand
/// lives until the select completes (`never()` here), trailing commas inside
/// a case's parentheses, and `default()` with empty parentheses.
#[test]
fn operand_temporaries_trailing_commas_and_empty_default_parens() {
    let (tx, rx) = unbounded::<i32>();
    tx.send(1).unwrap();
    let maybe = |on: bool| on.then_some(&rx);
    select! {
        recv(maybe(true).unwrap_or(&goro::never())) -> v => assert_eq!(v, Ok(1)),
        default => panic!("rx holds a message"),
    }
    select! {
        recv(maybe(false).unwrap_or(&goro::never())) -> _ => panic!("never() is never ready"),
        default(Duration::from_millis(10),) => {}
    }
    select! {
        send(tx, 2,) -> r => r.unwrap(),
        recv(rx,) -> _ => panic!("rx was empty"),
    }
    assert_eq!(rx.try_recv(), Ok(2));
    select! {
        recv(rx) -> _ => panic!("rx is empty"),
        default() => {}
    }
}

/// The macro takes its documented maximum of 32 channel cases.
#[test]
fn thirty_two_cases() {
    let chans: Vec<_> = (0..32).map(|_| bounded::<usize>(1)).collect();
    chans[29].0.send(29).unwrap();
    let r = |i: usize| &chans[i].1;
    select! {
        recv(r(0)) -> _ => panic!(), recv(r(1)) -> _ => panic!(),
        recv(r(2)) -> _ => panic!(), recv(r(3)) -> _ => panic!(),
        recv(r(4)) -> _ => panic!(), recv(r(5)) -> _ => panic!(),
        recv(r(6)) -> _ => panic!(), recv(r(7)) -> _ => panic!(),
        recv(r(8)) -> _ => panic!(), recv(r(9)) -> _ => panic!(),
        recv(r(10)) -> _ => panic!(), recv(r(11)) -> _ => panic!(),
        recv(r(12)) -> _ => panic!(), recv(r(13)) -> _ => panic!(),
        recv(r(14)) -> _ => panic!(), recv(r(15)) -> _ => panic!(),
        recv(r(16)) -> _ => panic!(), recv(r(17)) -> _ => panic!(),
        recv(r(18)) -> _ => panic!(), recv(r(19)) -> _ => panic!(),
        recv(r(20)) -> _ => panic!(), recv(r(21)) -> _ => panic!(),
        recv(r(22)) -> _ => panic!(), recv(r(23)) -> _ => panic!(),
        recv(r(24)) -> _ => panic!(), recv(r(25)) -> _ => panic!(),
        recv(r(26)) -> _ => panic!(), recv(r(27)) -> _ => panic!(),
        recv(r(28)) -> _ => panic!(), recv(r(29)) -> v => assert_eq!(v, Ok(29)),
        recv(r(30)) -> _ => panic!(), recv(r(31)) -> _ => panic!(),
    }
}

/// `Select` is `Send + Sync + Clone`, as crossbeam-channel's: one built on
/// this thread is cloned by others (shared by reference) and moved into
/// them, and each clone selects on its own cells (crossbeam's
/// `sync_and_clone` and `send_and_clone`).
#[test]
fn select_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone>() {}
    assert_traits::<Select<'static>>();
    const THREADS: usize = 8;
    let (tx, rx) = &bounded::<usize>(0);
    let mut sel = Select::new();
    let i_send = sel.send(tx);
    let i_recv = sel.recv(rx);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let sel = &sel;
            s.spawn(move || {
                let mut sel = sel.clone();
                let oper = sel.select();
                match oper.index() {
                    i if i == i_send => oper.send(tx, 1).unwrap(),
                    i if i == i_recv => assert_eq!(oper.recv(rx), Ok(1)),
                    _ => unreachable!(),
                }
            });
        }
        for _ in 0..THREADS {
            let mut sel = sel.clone();
            s.spawn(move || {
                let oper = sel.select();
                match oper.index() {
                    i if i == i_send => oper.send(tx, 1).unwrap(),
                    i if i == i_recv => assert_eq!(oper.recv(rx), Ok(1)),
                    _ => unreachable!(),
                }
            });
        }
    });
}
