//! The waiter protocol of `waiter.rs`: an owner that gives up (step 3:
//! its deadline passed, it abandons its cell) racing the peer that claims
//! and settles it (step 2), or a close. Either the peer's claim wins and
//! the owner waits for the final state, or the abandon wins and nobody
//! touches the waiter again; the message moves exactly once either way.
//!
//! `channel.rs` decides "the deadline passed" from the wall clock, which
//! loom cannot replay, so the owner here is a stand-in that follows
//! `Blocked::wait` step for step and gives up after one yield, over the
//! real `WaitCell`, `Waiter`, `WaitQueue`, `Claim` and `Slot`, behind the
//! channel's `Lock`.

use super::support::{Msg, Tally, join2, spawn};
use crate::chan::lock::{Guard, Lock};
use crate::chan::slot::Slot;
use crate::chan::waiter::{ABANDONED, CLOSED, DONE, WaitCell, WaitQueue, Waiter, is_final, kind};
use crate::loom::sync::Arc;
use crate::runtime::parking::Unparker;

/// The channel's lock around one wait queue.
struct Queue(Lock<WaitQueue<Msg>>);

// SAFETY: the queue holds pointers to waiters (and their slots) on the
// models' stacks, only dereferenced under the lock following the
// `waiter.rs` protocol, as for `Channel` (`channel.rs`); `Msg` is `Send`.
unsafe impl Send for Queue {}
// SAFETY: as above: every access goes through the lock.
unsafe impl Sync for Queue {}

impl Queue {
    fn new() -> Arc<Queue> {
        Arc::new(Queue(Lock::new(WaitQueue::new())))
    }

    fn lock(&self) -> Guard<'_, WaitQueue<Msg>> {
        self.0.lock()
    }
}

/// Step 1, one yield, then step 3 (abandon, or wait for the claimer) and
/// step 4 (leave the queue): returns the final kind.
fn wait_then_give_up(q: &Queue, cell: &WaitCell, waiter: &Waiter) -> usize {
    // SAFETY: `cell`, `waiter` and its slot outlive this call, which
    // returns only once the waiter has left the queue.
    unsafe { q.lock().push(waiter) };
    let mut state = cell.state();
    if !is_final(state) {
        loom::thread::yield_now();
        state = if cell.abandon() {
            ABANDONED
        } else {
            cell.wait_settled(())
        };
    }
    q.lock().remove(waiter);
    kind(state)
}

/// Wakes the owner after unlocking, as `channel.rs` does.
fn wake(queue: Guard<'_, WaitQueue<Msg>>, unparker: Unparker) {
    drop(queue);
    unparker.unpark();
}

/// A receiver's reserve step against the sender queue: claims the oldest
/// blocked sender and takes its message.
fn take_from_sender(q: &Queue) -> Option<usize> {
    let mut out: Slot<Msg> = Slot::empty();
    let mut queue = q.lock();
    let mut claim = queue.pop()?;
    claim.slot().expect("a plain sender").move_to(&mut out);
    let u = claim.settle(DONE);
    wake(queue, u);
    Some(out.take().id)
}

/// `close`: settles every queued waiter it can claim as CLOSED.
fn close(q: &Queue) {
    let mut queue = q.lock();
    let mut woken: Vec<Unparker> = Vec::new();
    queue.settle_all(CLOSED, |u| woken.push(u));
    drop(queue);
    for u in woken {
        u.unpark();
    }
}

/// A blocked sender whose deadline passes races a receiver taking its
/// message: the message ends up with exactly one of them, and the state
/// tells the sender which.
#[test]
fn sender_gives_up_racing_receiver() {
    loom::model(|| {
        let tally = Tally::new();
        let q = Queue::new();
        let r = {
            let q = q.clone();
            spawn(move || take_from_sender(&q))
        };
        let mut slot = Slot::new(tally.msg(0));
        let cell = WaitCell::new();
        let waiter = Waiter::new(&cell, 0, &mut slot);
        let state = wait_then_give_up(&q, &cell, &waiter);
        let taken = r.join();
        match state {
            ABANDONED => {
                assert_eq!(slot.take().id, 0, "timed out: the message is back");
                assert_eq!(taken, None);
            }
            DONE => assert_eq!(taken, Some(0), "delivered"),
            s => panic!("state {s}"),
        }
        drop(slot);
        assert_eq!(q.lock().len(), 0);
        assert_eq!(tally.dropped(), 1);
    });
}

/// A blocked receiver whose deadline passes races a sender: the sender
/// delivers into the receiver's slot, or finds no live receiver and keeps
/// the message.
#[test]
fn receiver_gives_up_racing_sender() {
    loom::model(|| {
        let tally = Tally::new();
        let q = Queue::new();
        let s = {
            let (q, tally) = (q.clone(), tally.clone());
            spawn(move || {
                let mut src = Slot::new(tally.msg(0));
                let mut queue = q.lock();
                match queue.pop() {
                    Some(mut claim) => {
                        src.move_to(claim.slot().expect("a plain receiver"));
                        let u = claim.settle(DONE);
                        wake(queue, u);
                        None
                    }
                    None => Some(src.take().id),
                }
            })
        };
        let mut out: Slot<Msg> = Slot::empty();
        let cell = WaitCell::new();
        let waiter = Waiter::new(&cell, 0, &mut out);
        let state = wait_then_give_up(&q, &cell, &waiter);
        let kept = s.join();
        match state {
            ABANDONED => assert_eq!(kept, Some(0), "timed out: the sender kept it"),
            DONE => {
                assert_eq!(out.take().id, 0, "delivered");
                assert_eq!(kept, None);
            }
            s => panic!("state {s}"),
        }
        drop(out);
        assert_eq!(q.lock().len(), 0);
        assert_eq!(tally.dropped(), 1);
    });
}

/// A blocked sender giving up, a receiver and a close, all racing: whoever
/// claims the cell first decides, and only DONE means the receiver has the
/// message; on ABANDONED or CLOSED it is back in the sender's slot.
#[test]
fn sender_gives_up_racing_receiver_and_close() {
    loom::model(|| {
        let tally = Tally::new();
        let q = Queue::new();
        let r = {
            let q = q.clone();
            spawn(move || take_from_sender(&q))
        };
        let c = {
            let q = q.clone();
            spawn(move || close(&q))
        };
        let mut slot = Slot::new(tally.msg(0));
        let cell = WaitCell::new();
        let waiter = Waiter::new(&cell, 0, &mut slot);
        let state = wait_then_give_up(&q, &cell, &waiter);
        let (taken, ()) = join2(r, c);
        match state {
            ABANDONED | CLOSED => {
                assert_eq!(slot.take().id, 0, "state {state}: the message is back");
                assert_eq!(taken, None);
            }
            DONE => assert_eq!(taken, Some(0), "delivered"),
            s => panic!("state {s}"),
        }
        drop(slot);
        assert_eq!(q.lock().len(), 0);
        assert_eq!(tally.dropped(), 1);
    });
}
