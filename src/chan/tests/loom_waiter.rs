//! The waiter protocol of `waiter.rs`: a queued waiter whose owner gives up
//! (step 3: its deadline passed) racing the peer that completes it (step
//! 2) or a close that finishes it CLOSED. Either the peer wins and the
//! owner sees DONE or CLOSED, or the owner takes its waiter out while it is
//! still WAITING and nobody touches it again; the message moves exactly
//! once either way.
//!
//! `channel.rs` decides "the deadline passed" from the wall clock, which
//! loom cannot replay, and its `Dequeue` is private; so the owner here is a
//! stand-in that follows `Dequeue::wait`/`dequeue` step for step and gives
//! up after one spurious wake-up, over the real `Waiter`, `WaitQueue`, `Completion`
//! and `Slot`, behind the channel's `Lock`.

use super::support::{Msg, Tally, join2, spawn};
use crate::chan::lock::Lock;
use crate::chan::slot::Slot;
use crate::chan::waiter::{CLOSED, DONE, WAITING, WaitQueue, Waiter};
use crate::loom::sync::{Arc, MutexGuard};
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

    fn lock(&self) -> MutexGuard<'_, WaitQueue<Msg>> {
        self.0.lock()
    }
}

/// Step 1, then `Dequeue::wait` with a deadline that passes after one
/// spurious wake-up, then `Dequeue::dequeue`: returns the final state.
fn wait_then_give_up(q: &Queue, waiter: &Waiter<Msg>) -> u8 {
    // SAFETY: `waiter` and its slot outlive this call, which returns only
    // once the waiter has left the queue (settled by a peer, or removed
    // below); the owner does not touch the slot meanwhile.
    unsafe { q.lock().push(waiter) };
    for round in 0.. {
        let state = waiter.state();
        if state != WAITING {
            return state;
        }
        if round == 1 {
            break;
        }
        // `park_until` under loom.
        loom::thread::yield_now();
    }
    let mut queue = q.lock();
    let state = waiter.state();
    if state == WAITING {
        assert!(queue.remove(waiter), "a waiting waiter is queued");
    }
    state
}

/// Wakes the owner after unlocking, as `channel.rs` does.
fn wake(queue: MutexGuard<'_, WaitQueue<Msg>>, unparker: Unparker) {
    drop(queue);
    unparker.unpark();
}

/// A receiver's reserve step against the sender queue: takes the oldest
/// blocked sender's message.
fn take_from_sender(q: &Queue) -> Option<usize> {
    let mut out = Slot::empty();
    let mut queue = q.lock();
    let done = queue.pop_sender_into(&mut out)?;
    let u = done.finish(DONE);
    wake(queue, u);
    Some(out.take().id)
}

/// `close`: finishes every queued waiter CLOSED.
fn close(q: &Queue) {
    let mut queue = q.lock();
    let woken: Vec<Unparker> = queue.drain().map(|c| c.finish(CLOSED)).collect();
    drop(queue);
    for u in woken {
        u.unpark();
    }
}

/// A blocked sender whose deadline passes races a receiver taking its
/// message: the message ends up with exactly one of them, and the state
/// tells the sender which. (A message left in the slot after DONE would be
/// dropped a second time, failing the tally.)
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
        let waiter = Waiter::new(&mut slot);
        let state = wait_then_give_up(&q, &waiter);
        let taken = r.join();
        match state {
            WAITING => {
                assert_eq!(slot.take().id, 0, "timed out: the message is back");
                assert_eq!(taken, None);
            }
            DONE => assert_eq!(taken, Some(0), "delivered"),
            s => panic!("state {s}"),
        }
        drop(slot);
        assert!(q.lock().is_empty());
        assert_eq!(tally.dropped(), 1);
    });
}

/// A blocked receiver whose deadline passes races a sender: the sender
/// delivers into the receiver's slot, or finds no receiver and keeps the
/// message (for the buffer, i.e. the next receive).
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
                match queue.pop_receiver_from(&mut src) {
                    Some(done) => {
                        let u = done.finish(DONE);
                        wake(queue, u);
                        None
                    }
                    None => Some(src.take().id),
                }
            })
        };
        let mut out = Slot::empty();
        let waiter = Waiter::new(&mut out);
        let state = wait_then_give_up(&q, &waiter);
        let kept = s.join();
        match state {
            WAITING => assert_eq!(kept, Some(0), "timed out: the sender kept it"),
            DONE => {
                assert_eq!(out.take().id, 0, "delivered");
                assert_eq!(kept, None);
            }
            s => panic!("state {s}"),
        }
        drop(out);
        assert!(q.lock().is_empty());
        assert_eq!(tally.dropped(), 1);
    });
}

/// A blocked sender giving up, a receiver and a close, all racing: whoever
/// settles the waiter first decides, and only DONE means the receiver has
/// the message; on WAITING or CLOSED it is back in the sender's slot.
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
        let waiter = Waiter::new(&mut slot);
        let state = wait_then_give_up(&q, &waiter);
        let (taken, ()) = join2(r, c);
        match state {
            WAITING | CLOSED => {
                assert_eq!(slot.take().id, 0, "state {state}: the message is back");
                assert_eq!(taken, None);
            }
            DONE => assert_eq!(taken, Some(0), "delivered"),
            s => panic!("state {s}"),
        }
        drop(slot);
        assert!(q.lock().is_empty());
        assert_eq!(tally.dropped(), 1);
    });
}
