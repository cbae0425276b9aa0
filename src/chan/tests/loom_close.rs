//! `close` racing blocked operations: a blocked receiver wakes with `Err`
//! once the buffer is drained, a blocked sender gets its message back, and
//! no message is lost or delivered twice on the way.

use super::support::{
    Flavor, Msg, Spawned, Tally, channel, drain, fill, join2, join3, per_flavor, spawn,
};
use crate::chan::{SendError, Sender};

/// A sender sends one message and closes the channel while the receiver
/// loops: the receiver gets the message (buffered ones are drained before
/// `Closed`), then `Err` from the close (the sender is still alive).
fn send_then_close(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let s = {
            let tally = tally.clone();
            spawn(move || {
                tx.send(tally.msg(0)).unwrap();
                assert!(tx.close(), "the first close");
                tx
            })
        };
        assert_eq!(drain(&rx), [0]);
        let tx = s.join();
        assert!(!tx.close(), "closed twice");
        assert!(tx.send(tally.msg(1)).is_err());
        drop((tx, rx));
        assert_eq!(tally.dropped(), 2);
    });
}

per_flavor!(close_wakes_blocked_receiver, send_then_close);

/// A sender blocked on a full (or unbuffered) channel with no receiver
/// running: the close hands its message back, and the buffered message is
/// still received afterwards.
fn blocked_send_gets_message_back(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let n = fill(flavor);
        for id in 0..n {
            tx.send(tally.msg(id)).unwrap();
        }
        let closer = tx.clone();
        let s = {
            let tally = tally.clone();
            spawn(move || match tx.send(tally.msg(n)) {
                Err(SendError(m)) => assert_eq!(m.id, n),
                Ok(()) => panic!("send on a full channel succeeded without a receiver"),
            })
        };
        assert!(closer.close());
        s.join();
        assert_eq!(drain(&rx), (0..n).collect::<Vec<_>>());
        drop((closer, rx));
        assert_eq!(tally.dropped(), n + 1);
    });
}

#[test]
fn close_hands_back_blocked_send_zero() {
    blocked_send_gets_message_back(Flavor::Zero);
}

#[test]
fn close_hands_back_blocked_send_one() {
    blocked_send_gets_message_back(Flavor::One);
}

#[test]
fn close_hands_back_blocked_send_two() {
    blocked_send_gets_message_back(Flavor::Two);
}

/// A thread that sends message `id` on `tx`: `true` if it went through,
/// `false` if the close handed it back (and not another message).
fn spawn_sender(tx: Sender<Msg>, tally: &Tally, id: usize) -> Spawned<bool> {
    let msg = tally.msg(id);
    spawn(move || match tx.send(msg) {
        Ok(()) => true,
        Err(SendError(m)) => {
            assert_eq!(m.id, id, "another message came back");
            false
        }
    })
}

/// A sender, a receiver and a third party that closes, all racing (with a
/// message already buffered when the flavor has room for one): the sent
/// message either reaches the receiver (and the send succeeds) or comes
/// back to the sender; the receiver drains the buffer before `Err`.
fn close_races_send_and_recv(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let prefill = flavor != Flavor::Zero;
        if prefill {
            tx.send(tally.msg(0)).unwrap();
        }
        let closer = tx.clone();
        let s = spawn_sender(tx, &tally, 1);
        let r = spawn(move || drain(&rx));
        assert!(closer.close());
        let (sent, got) = join2(s, r);
        let mut expect = if prefill { vec![0] } else { vec![] };
        if sent {
            expect.push(1);
        }
        assert_eq!(got, expect, "sent: {sent}");
        drop(closer);
        assert_eq!(tally.dropped(), expect.len() + usize::from(!sent));
    });
}

per_flavor!(close_races_blocked_send_and_recv, close_races_send_and_recv);

/// Two receivers blocked on an unbuffered channel while a third party
/// closes it and a sender races the close. `close` settles receivers one
/// per lock hold under loom (`CLOSE_BATCH`), so the sender may find the
/// channel closed with a receiver still queued: it must fail and get its
/// message back then, never pair with that receiver. Either the send
/// completed before the close (one receiver has the message, the other
/// `Err`) or it failed; every receiver wakes.
#[test]
fn close_in_batches_races_a_send() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = channel::<Msg>(Flavor::Zero);
        let (rx1, rx2) = (rx.clone(), rx);
        let r1 = spawn(move || rx1.recv().ok().map(|m| m.id));
        let r2 = spawn(move || rx2.recv().ok().map(|m| m.id));
        let closer = tx.clone();
        let s = spawn_sender(tx, &tally, 7);
        assert!(closer.close());
        let (sent, got1, got2) = join3(s, r1, r2);
        let got: Vec<usize> = got1.into_iter().chain(got2).collect();
        assert_eq!(got, if sent { vec![7] } else { vec![] }, "sent: {sent}");
        drop(closer);
        assert_eq!(tally.dropped(), 1);
    });
}
