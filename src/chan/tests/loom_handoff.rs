//! Send/receive hand-off per buffer flavor: every message is received
//! exactly once, in send order per sender, whether it goes through the
//! buffer, directly to a blocked receiver, or from a blocked sender.

use super::support::{Flavor, Msg, Tally, channel, drain, fill, join2, per_flavor, spawn};

/// One sender, one receiver, two messages; dropping the sender ends the
/// receiver's loop (its blocked `recv` wakes with `Err`).
fn spsc(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let s = {
            let tally = tally.clone();
            spawn(move || {
                for id in 0..2 {
                    tx.send(tally.msg(id)).unwrap();
                }
            })
        };
        assert_eq!(drain(&rx), [0, 1]);
        s.join();
        drop(rx);
        assert_eq!(tally.dropped(), 2);
    });
}

per_flavor!(spsc_in_order, spsc);

/// Two senders (two messages and one), one receiver: all three arrive,
/// each once, the first sender's in order.
fn two_senders(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let spawn_sender = |ids: &'static [usize]| {
            let (tx, tally) = (tx.clone(), tally.clone());
            spawn(move || {
                for &id in ids {
                    tx.send(tally.msg(id)).unwrap();
                }
            })
        };
        let a = spawn_sender(&[0, 1]);
        let b = spawn_sender(&[10]);
        drop(tx);
        let got = drain(&rx);
        join2(a, b);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 10], "received {got:?}");
        let pos = |id| got.iter().position(|&g| g == id).unwrap();
        assert!(pos(0) < pos(1), "sender order lost: {got:?}");
        drop(rx);
        assert_eq!(tally.dropped(), 3);
    });
}

per_flavor!(two_senders_one_receiver, two_senders);

/// One sender (two messages), two receivers: each message goes to exactly
/// one receiver, and each receiver sees them in send order.
fn two_receivers(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let r = {
            let rx = rx.clone();
            spawn(move || drain(&rx))
        };
        let s = {
            let tally = tally.clone();
            spawn(move || {
                for id in 0..2 {
                    tx.send(tally.msg(id)).unwrap();
                }
            })
        };
        let mine = drain(&rx);
        let (theirs, ()) = join2(r, s);
        for got in [&mine, &theirs] {
            assert!(got.is_sorted(), "receiver saw {got:?}");
        }
        let mut all = [mine.clone(), theirs.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, [0, 1], "split {mine:?} / {theirs:?}");
        drop(rx);
        assert_eq!(tally.dropped(), 2);
    });
}

per_flavor!(one_sender_two_receivers, two_receivers);

/// Two receivers blocked on one unbuffered channel, one message, then the
/// sender drops: exactly one receiver gets it, the other gets `Err`.
#[test]
fn zero_two_receivers_one_message() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = channel::<Msg>(Flavor::Zero);
        let r = {
            let rx = rx.clone();
            spawn(move || rx.recv().ok().map(|m| m.id))
        };
        let s = {
            let tally = tally.clone();
            spawn(move || tx.send(tally.msg(7)).unwrap())
        };
        let mine = rx.recv().ok().map(|m| m.id);
        let (theirs, ()) = join2(r, s);
        match (mine, theirs) {
            (Some(7), None) | (None, Some(7)) => {}
            other => panic!("expected exactly one Ok(7), got {other:?}"),
        }
        drop(rx);
        assert_eq!(tally.dropped(), 1);
    });
}

/// A full buffer: the receive that frees a cell moves the blocked
/// sender's message into it and completes that send, so the sender
/// finishes with no further receive (and the buffer is full again).
fn freed_slot_completes_blocked_send(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let n = fill(flavor);
        let s = {
            let tally = tally.clone();
            spawn(move || {
                for id in 0..=n {
                    tx.send(tally.msg(id)).unwrap();
                }
                tx
            })
        };
        assert_eq!(rx.recv().unwrap().id, 0);
        let tx = s.join();
        assert_eq!(rx.len(), n);
        for id in 1..=n {
            assert_eq!(rx.try_recv().unwrap().id, id);
        }
        drop((tx, rx));
        assert_eq!(tally.dropped(), n + 1);
    });
}

#[test]
fn one_freed_slot_completes_blocked_send() {
    freed_slot_completes_blocked_send(Flavor::One);
}

#[test]
fn a_freed_split_slot_completes_blocked_send() {
    freed_slot_completes_blocked_send(Flavor::Two);
}

/// Unbounded (two cells per block under loom): a sender's five messages
/// fill three blocks while the receiver drains them, so lock-free pushes
/// link blocks, the receiver recycles used ones as the spare, and a later
/// append reuses it, racing each other (`list.rs` invariants 3 and 4);
/// the receiver also parks on an empty list between them (invariant 2).
#[test]
fn unbounded_crosses_and_recycles_blocks() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = channel(Flavor::Unbounded);
        let s = {
            let tally = tally.clone();
            spawn(move || {
                for id in 0..5 {
                    tx.send(tally.msg(id)).unwrap();
                }
            })
        };
        assert_eq!(drain(&rx), [0, 1, 2, 3, 4]);
        s.join();
        drop(rx);
        assert_eq!(tally.dropped(), 5);
    });
}

/// A split ring (`split.rs`) full, a sender queued on it, and a second
/// sender whose send may skip the lock: the receive that frees a cell
/// hands it to the queued sender, never to the second one (a queued
/// sender clears `fast`, invariant 2). Every message arrives once, the
/// first sender's before the second's only if it queued first.
#[test]
fn a_queued_sender_keeps_its_cell_from_a_lock_free_send() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = channel(Flavor::Two);
        for id in 0..2 {
            tx.send(tally.msg(id)).unwrap();
        }
        let spawn_sender = |id| {
            let (tx, tally) = (tx.clone(), tally.clone());
            spawn(move || tx.send(tally.msg(id)).unwrap())
        };
        let (a, b) = (spawn_sender(2), spawn_sender(3));
        drop(tx);
        let got = drain(&rx);
        join2(a, b);
        assert_eq!(got[..2], [0, 1], "the buffered messages first");
        let mut rest = got[2..].to_vec();
        rest.sort_unstable();
        assert_eq!(rest, [2, 3], "received {got:?}");
        assert_eq!(tally.dropped(), 4);
    });
}
