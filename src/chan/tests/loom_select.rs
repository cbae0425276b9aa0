//! `select` (`select/engine.rs`) model-checked through the macro: the
//! claim on a select's shared cell decides exactly one case; the losing
//! registrations are taken out; close, a timeout and a duplicate channel
//! race a peer. Poll order is source order under loom (deterministic
//! replay), and a timed wait gives up after its first wake-up.

use std::time::Duration;

use super::support::{Msg, Tally, join2, spawn};
use crate::chan::{Receiver, bounded};
use crate::select;

/// Receives from `rx` or learns that `stop` closed.
fn recv_or_stop(rx: &Receiver<Msg>, stop: &Receiver<()>) -> Option<usize> {
    select! {
        recv(rx) -> m => Some(m.expect("rx stays open").id),
        recv(stop) -> _ => None,
    }
}

/// Two selects race for one message on an unbuffered channel: exactly one
/// gets it, the other wakes from the close of `stop`, and no registration
/// is left in either channel.
#[test]
fn two_selects_race_for_one_sender() {
    // Three threads and four spinlocks: one preemption keeps it in seconds.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(0);
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let a = {
            let (rx, stop) = (rx.clone(), stop_rx.clone());
            spawn(move || recv_or_stop(&rx, &stop))
        };
        let b = {
            let (rx, stop) = (rx.clone(), stop_rx.clone());
            spawn(move || recv_or_stop(&rx, &stop))
        };
        tx.send(tally.msg(0)).unwrap();
        stop_tx.close();
        let (ra, rb) = join2(a, b);
        assert!(
            matches!((ra, rb), (Some(0), None) | (None, Some(0))),
            "exactly one select wins: {ra:?} {rb:?}"
        );
        assert_eq!(rx.chan.queued(), (0, 0), "losing registration removed");
        assert_eq!(stop_rx.chan.queued(), (0, 0));
        assert_eq!(tally.dropped(), 1);
    });
}

/// A select blocked on a receive and a send races `close` of both: the
/// receive case sees `Err` or the send case gets its value back; the
/// value is built at most once and dropped exactly once.
#[test]
fn select_races_close() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(0);
        let (tx2, _rx2) = bounded::<Msg>(0);
        let closer = tx.clone();
        let closer2 = tx2.clone();
        let s = {
            let tally = tally.clone();
            spawn(move || {
                select! {
                    recv(rx) -> m => { assert!(m.is_err(), "nobody sends"); 0 }
                    send(tx2, tally.msg(1)) -> r => {
                        let m = r.expect_err("nobody receives").into_inner();
                        assert_eq!(m.id, 1);
                        1
                    }
                }
            })
        };
        closer.close();
        closer2.close();
        let case = s.join();
        drop((tx, closer, closer2));
        assert_eq!(
            tally.dropped(),
            case,
            "the send value exists only if chosen"
        );
    });
}

/// A select with a timeout races a sender: it takes the message, or gives
/// up and the message stays for a plain receive. Never lost, never twice.
#[test]
fn select_timeout_races_send() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(0);
        let s = {
            let tally = tally.clone();
            spawn(move || tx.send(tally.msg(0)).unwrap())
        };
        let got = select! {
            recv(rx) -> m => Some(m.unwrap().id),
            // Near: under loom it passes after the first timed wake-up.
            default(Duration::from_millis(1)) => None,
        };
        let id = match got {
            Some(id) => id,
            None => rx.recv().expect("the sender still waits").id,
        };
        s.join();
        assert_eq!(id, 0);
        assert_eq!(rx.chan.queued(), (0, 0));
        assert_eq!(tally.dropped(), 1);
    });
}

/// The same channel in two cases of one select: one message completes
/// exactly one case, and both registrations are gone afterwards.
#[test]
fn select_on_the_same_channel_twice() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(0);
        let s = {
            let rx = rx.clone();
            spawn(move || {
                select! {
                    recv(rx) -> m => m.unwrap().id,
                    recv(rx) -> m => m.unwrap().id + 10,
                }
            })
        };
        tx.send(tally.msg(0)).unwrap();
        let v = s.join();
        assert!(v == 0 || v == 10);
        assert_eq!(rx.chan.queued(), (0, 0));
        assert_eq!(tally.dropped(), 1);
    });
}

/// A selecting sender meets a plain receiver through the rendezvous: the
/// receiver claims the select's send case and waits for its value.
#[test]
fn selecting_sender_pairs_with_receiver() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(0);
        let (_tx2, rx2) = bounded::<Msg>(0);
        let s = {
            let tally = tally.clone();
            spawn(move || {
                select! {
                    send(tx, tally.msg(0)) -> r => r.unwrap(),
                    recv(rx2) -> _ => panic!("nobody sends on rx2"),
                }
            })
        };
        assert_eq!(rx.recv().unwrap().id, 0);
        s.join();
        assert_eq!(tally.dropped(), 1);
    });
}

/// A select over two buffered channels races a sender on each: its first
/// pass, each case under its own lock, or its locked pass takes exactly
/// one message; the other stays in its channel, nothing is lost or taken
/// twice, and no registration is left behind.
fn select_over_buffered_channels(cap: usize) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(move || {
        let tally = Tally::new();
        let (tx1, rx1) = bounded::<Msg>(cap);
        let (tx2, rx2) = bounded::<Msg>(cap);
        let (m1, m2) = (tally.msg(1), tally.msg(2));
        let a = spawn(move || tx1.send(m1).unwrap());
        let b = spawn(move || tx2.send(m2).unwrap());
        let got = select! {
            recv(rx1) -> m => m.expect("rx1 stays open").id,
            recv(rx2) -> m => m.expect("rx2 stays open").id,
        };
        join2(a, b);
        let (taken, left) = match got {
            1 => (&rx1, &rx2),
            2 => (&rx2, &rx1),
            other => panic!("a message that was never sent: {other}"),
        };
        assert_eq!(
            left.try_recv().expect("the other message stays").id,
            3 - got
        );
        assert!(taken.try_recv().is_err(), "a message taken twice");
        assert_eq!(rx1.chan.queued(), (0, 0), "registration left on rx1");
        assert_eq!(rx2.chan.queued(), (0, 0), "registration left on rx2");
        assert_eq!(tally.dropped(), 2);
    });
}

#[test]
fn select_over_buffered_channels_races_two_senders() {
    select_over_buffered_channels(1);
}

/// The same over split rings (`split.rs`), whose sends skip the lock.
#[test]
fn select_over_split_channels_races_two_senders() {
    select_over_buffered_channels(2);
}

/// A `Select::ready` waiting on a send case, then a receiver that finds
/// no sender and blocks: the receiver's reserve step tells the readiness
/// waiter to look again, and must wake it (before it parks itself) so the
/// select sees the receiver and sends. A dropped wake-up leaves both
/// parked: a loom deadlock.
#[test]
fn ready_wakes_when_a_peer_blocks() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(0);
        let sender = {
            let tally = tally.clone();
            spawn(move || {
                let mut sel = crate::chan::Select::new();
                sel.send(&tx);
                assert_eq!(sel.ready(), 0);
                tx.send(tally.msg(0)).unwrap();
            })
        };
        let got = rx.recv().expect("the sender stays");
        assert_eq!(got.id, 0);
        drop(got);
        sender.join();
        assert_eq!(tally.dropped(), 1);
    });
}

/// A selecting sender and a plain sender racing for the cells of a
/// channel of capacity `cap` that holds `prefill` messages: if it is full,
/// the receive that frees a cell serves the first queued of them (a
/// selecting one gets the cell reserved, `RESERVED`, and completes into
/// it); if not, the select reserves the free cell, which the plain send
/// must not take. Every message arrives once, nothing stays reserved or
/// queued. Explored with `preemptions` preemptions.
fn cell_reserved(cap: usize, prefill: usize, preemptions: usize) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(preemptions);
    model.check(move || {
        let tally = Tally::new();
        let (tx, rx) = bounded::<Msg>(cap);
        let (_stop_tx, stop) = bounded::<()>(0);
        for id in 0..prefill {
            tx.send(tally.msg(id)).unwrap();
        }
        let a = {
            let (tx, tally) = (tx.clone(), tally.clone());
            spawn(move || {
                select! {
                    send(tx, tally.msg(prefill)) -> r => r.unwrap(),
                    recv(stop) -> _ => panic!("stop stays open"),
                }
            })
        };
        let b = {
            let tally = tally.clone();
            spawn(move || tx.send(tally.msg(prefill + 1)).unwrap())
        };
        let n = prefill + 2;
        let mut got: Vec<usize> = (0..n).map(|_| rx.recv().unwrap().id).collect();
        assert_eq!(
            got[..prefill],
            (0..prefill).collect::<Vec<_>>(),
            "the buffered messages first"
        );
        got.sort_unstable();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        a.join();
        b.join();
        assert_eq!(rx.chan.queued(), (0, 0), "nothing left queued");
        assert_eq!(rx.len(), 0);
        assert_eq!(tally.dropped(), n);
    });
}

#[test]
fn a_freed_cell_is_reserved_for_a_selecting_sender() {
    cell_reserved(1, 1, 1);
}

/// The same on a split ring (`split.rs`): the reservation also keeps
/// plain sends, which may skip the lock, off the reserved cell.
#[test]
fn a_freed_split_cell_is_reserved_for_a_selecting_sender() {
    cell_reserved(2, 2, 1);
}

/// A selecting sender that reserves the last free cell of a split ring
/// (`split.rs`) as a plain sender races it: the reservation clears `fast`
/// (invariant 2), so the plain send cannot take the reserved cell; it
/// waits for room instead.
#[test]
fn a_reservation_keeps_lock_free_sends_off_its_cell() {
    cell_reserved(2, 1, 2);
}
