//! Dropping the last handle of a side while the other side operates: the
//! last `Sender` closes the channel (a blocked receiver wakes with `Err`),
//! the last `Receiver` fails every send with its message handed back and
//! drops the buffered messages, each exactly once.

use super::support::{Flavor, Tally, channel, drain, fill, join2, per_flavor, spawn};
use crate::chan::SendError;

/// Two senders race to be the last one dropped (one sends first) while the
/// receiver blocks: whichever drop is last wakes it with `Err`, after the
/// message.
fn last_sender_drop(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let other = tx.clone();
        let a = {
            let tally = tally.clone();
            spawn(move || tx.send(tally.msg(0)).unwrap())
        };
        let b = spawn(move || drop(other));
        assert_eq!(drain(&rx), [0]);
        join2(a, b);
        assert_eq!(tally.dropped(), 1);
    });
}

per_flavor!(last_sender_drop_wakes_receiver, last_sender_drop);

/// The receiver takes one message and drops the last `Receiver` while the
/// sender sends a second: that one either comes back to the sender or is
/// left in the buffer and dropped there (never both, never neither).
fn last_receiver_drop(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let s = {
            let tally = tally.clone();
            spawn(move || {
                tx.send(tally.msg(0)).unwrap();
                match tx.send(tally.msg(1)) {
                    Ok(()) => false,
                    Err(SendError(m)) => {
                        assert_eq!(m.id, 1);
                        true
                    }
                }
            })
        };
        assert_eq!(rx.recv().unwrap().id, 0);
        drop(rx);
        let handed_back = s.join();
        if flavor == Flavor::Zero {
            assert!(
                handed_back,
                "an unbuffered send completed without a receiver"
            );
        }
        // Both handles are gone: the channel and everything in it is freed.
        assert_eq!(tally.dropped(), 2, "handed back: {handed_back}");
    });
}

per_flavor!(last_receiver_drop_hands_back_send, last_receiver_drop);

/// The last `Sender` and the last `Receiver` dropped concurrently, with a
/// message buffered (when the flavor has room) and a send in flight: the
/// buffered message is dropped once, by the receiver's disconnect or with
/// the channel, and the in-flight one is handed back or dropped likewise.
fn both_sides_drop(flavor: Flavor) {
    loom::model(move || {
        let tally = Tally::new();
        let (tx, rx) = channel(flavor);
        let n = fill(flavor);
        for id in 0..n {
            tx.send(tally.msg(id)).unwrap();
        }
        let s = {
            let tally = tally.clone();
            spawn(move || {
                let r = tx.send(tally.msg(n));
                if let Err(SendError(m)) = &r {
                    assert_eq!(m.id, n);
                }
                r.is_ok()
            })
        };
        drop(rx);
        let sent = s.join();
        if flavor != Flavor::Unbounded {
            assert!(
                !sent,
                "a send to a full channel completed without a receiver"
            );
        }
        assert_eq!(tally.dropped(), n + 1);
    });
}

per_flavor!(both_sides_drop_with_messages_inside, both_sides_drop);
