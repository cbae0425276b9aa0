//! Deadlines through the public calls, racing a peer.
//!
//! Time is not modelled: `channel.rs` reads `std::time::Instant` directly,
//! so a deadline is either already past or far away, in every execution
//! (anything in between would make the model depend on the wall clock,
//! which loom cannot replay). A past deadline takes the "give up before
//! queueing" exit after the reserve step; a far one queues the waiter and
//! parks with `park_until`, which loom models as a spurious wake-up, so the
//! wait loop re-checks its state each time round. Giving up *after*
//! queueing (the dequeue of `waiter.rs` step 3) is modelled in
//! `loom_waiter.rs`.

use std::time::{Duration, Instant};

use super::support::{Flavor, Tally, channel, drain, fill, per_flavor, spawn};
use crate::chan::{RecvTimeoutError, SendTimeoutError};

/// A deadline no execution reaches.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// A receive with a past deadline races a send: it gets the message, or
/// times out and the message is left for the next (far-deadline) receive.
fn recv_deadline_races_send(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let s = {
            let tally = tally.clone();
            spawn(move || tx.send(tally.msg(0)).unwrap())
        };
        let id = match rx.recv_deadline(Instant::now()) {
            Ok(m) => m.id,
            Err(RecvTimeoutError::Timeout) => {
                rx.recv_deadline(far())
                    .expect("the message stays for the next receive")
                    .id
            }
            Err(RecvTimeoutError::Closed) => panic!("closed before the message arrived"),
        };
        assert_eq!(id, 0);
        s.join();
        assert!(matches!(
            rx.recv_deadline(far()),
            Err(RecvTimeoutError::Closed)
        ));
        drop(rx);
        assert_eq!(tally.dropped(), 1);
    });
}

per_flavor!(recv_deadline_keeps_message, recv_deadline_races_send);

/// A send with a past deadline races a receiver (behind a buffered message
/// when the flavor has room): it is delivered, or times out handing the
/// message back, which a far-deadline send then delivers.
fn send_deadline_races_recv(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let n = fill(flavor);
        for id in 0..n {
            tx.send(tally.msg(id)).unwrap();
        }
        let r = spawn(move || drain(&rx));
        match tx.send_deadline(tally.msg(n), Instant::now()) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(m)) => {
                assert_eq!(m.id, n, "another message came back");
                tx.send_deadline(m, far()).unwrap();
            }
            Err(SendTimeoutError::Closed(_)) => panic!("closed with a receiver alive"),
        }
        drop(tx);
        let got = r.join();
        assert_eq!(got, (0..=n).collect::<Vec<_>>());
        assert_eq!(tally.dropped(), got.len());
    });
}

#[test]
fn send_deadline_hands_back_message_zero() {
    send_deadline_races_recv(Flavor::Zero);
}

#[test]
fn send_deadline_hands_back_message_one() {
    send_deadline_races_recv(Flavor::One);
}

#[test]
fn send_deadline_hands_back_message_two() {
    send_deadline_races_recv(Flavor::Two);
}

/// A receive with a far deadline, queued or not, racing `close`: the error
/// is `Closed`, never `Timeout`.
#[test]
fn timed_recv_sees_close() {
    loom::model(|| {
        let (tx, rx) = channel::<()>(Flavor::Zero);
        let c = spawn(move || {
            assert!(tx.close());
            tx
        });
        assert_eq!(rx.recv_deadline(far()), Err(RecvTimeoutError::Closed));
        drop(c.join());
    });
}

/// A send with a far deadline on an unbuffered channel, queued or not,
/// racing `close`: it fails with `Closed` and its own message back.
#[test]
fn timed_send_sees_close() {
    loom::model(|| {
        let tally = Tally::new();
        let (tx, rx) = channel(Flavor::Zero);
        let closer = tx.clone();
        let c = spawn(move || assert!(closer.close()));
        match tx.send_deadline(tally.msg(3), far()) {
            Err(SendTimeoutError::Closed(m)) => assert_eq!(m.id, 3),
            Err(SendTimeoutError::Timeout(_)) => panic!("timed out before a far deadline"),
            Ok(()) => panic!("delivered without a receiver"),
        }
        c.join();
        drop((tx, rx));
        assert_eq!(tally.dropped(), 1);
    });
}
