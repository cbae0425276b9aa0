//! loom models of the work-stealing run queue (`runtime/queue.rs`).
//!
//! Under loom the ring has `LOCAL_QUEUE_CAPACITY = 4` slots, so a handful of
//! tasks reaches the full, overflow and wrap-around paths. Every model
//! collects each task it sees (popped, stolen, overflowed or drained at the
//! end) and checks that every task pushed was seen exactly once. loom itself
//! checks the slot accesses: a read of a slot that races with its write
//! fails the model as a causality violation.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release loom_queue`.

use loom::thread;

use crate::runtime::queue::{self, LOCAL_QUEUE_CAPACITY, Local, Steal};

const CAP: usize = LOCAL_QUEUE_CAPACITY;

/// Pushes `task`; an overflow batch counts as seen.
fn push(q: &mut Local<usize>, task: usize, seen: &mut Vec<usize>) {
    q.push_back_or_overflow(task, |batch| seen.extend(batch));
}

/// Pops everything left in `q` into `seen`.
fn drain(q: &mut Local<usize>, seen: &mut Vec<usize>) {
    while let Some(task) = q.pop() {
        seen.push(task);
    }
}

/// Up to `attempts` steals by a thief with its own empty queue, stopping at
/// the first success; returns what it got (the task `steal_into` returned
/// and everything it moved into the thief's queue).
fn thief(steal: &Steal<usize>, attempts: usize) -> Vec<usize> {
    let (_, mut own) = queue::local();
    let mut seen = Vec::new();
    for _ in 0..attempts {
        if let Some(task) = steal.steal_into(&mut own) {
            seen.push(task);
            drain(&mut own, &mut seen);
            break;
        }
    }
    seen
}

/// Asserts that `seen` holds `0..n`, each exactly once.
fn assert_exactly_once(mut seen: Vec<usize>, n: usize) {
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>(), "lost or duplicated task");
}

/// The owner pops and pushes while one thief steals. The owner's pushes wrap
/// the ring onto the slots the thief may still be copying out, so they must
/// wait for the thief's release (or overflow) rather than overwrite them.
#[test]
fn loom_queue_push_pop_race_steal() {
    loom::model(|| {
        let (steal, mut local) = queue::local();
        let mut seen = Vec::new();
        for task in 0..3 {
            push(&mut local, task, &mut seen);
        }
        let thief = thread::spawn(move || thief(&steal, 2));

        seen.extend(local.pop());
        push(&mut local, 3, &mut seen);
        push(&mut local, 4, &mut seen);
        seen.extend(local.pop());

        seen.extend(thief.join().unwrap());
        drain(&mut local, &mut seen);
        assert_exactly_once(seen, 5);
    });
}

/// The owner overflows a full ring while a thief steals from it: depending
/// on the interleaving the owner hands over half the ring plus the new task,
/// or (thief mid-copy) the new task alone, or finds room after the steal.
#[test]
fn loom_queue_overflow_while_stealing() {
    loom::model(|| {
        let (steal, mut local) = queue::local();
        let mut seen = Vec::new();
        for task in 0..CAP {
            push(&mut local, task, &mut seen);
        }
        let thief = thread::spawn(move || thief(&steal, 2));

        push(&mut local, CAP, &mut seen);
        seen.extend(local.pop());
        push(&mut local, CAP + 1, &mut seen);

        seen.extend(thief.join().unwrap());
        drain(&mut local, &mut seen);
        assert_exactly_once(seen, CAP + 2);
    });
}

/// Two thieves race each other and the owner, who pushes into a full ring
/// (wrapping onto the slots a thief may be copying) and pops.
#[test]
fn loom_queue_two_thieves_and_owner() {
    loom::model(|| {
        let (steal, mut local) = queue::local();
        let mut seen = Vec::new();
        for task in 0..CAP {
            push(&mut local, task, &mut seen);
        }
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let steal = steal.clone();
                thread::spawn(move || thief(&steal, 2))
            })
            .collect();

        push(&mut local, CAP, &mut seen);
        seen.extend(local.pop());

        for thief in thieves {
            seen.extend(thief.join().unwrap());
        }
        drain(&mut local, &mut seen);
        assert_exactly_once(seen, CAP + 1);
    });
}

/// The owner's pop and a steal race for the only task: exactly one wins.
#[test]
fn loom_queue_pop_races_steal_of_last_task() {
    loom::model(|| {
        let (steal, mut local) = queue::local();
        let mut seen = Vec::new();
        push(&mut local, 0, &mut seen);
        let thief = thread::spawn(move || thief(&steal, 2));

        seen.extend(local.pop());

        let stolen = thief.join().unwrap();
        assert!(stolen.len() + seen.len() == 1, "{stolen:?} {seen:?}");
        seen.extend(stolen);
        assert!(local.is_empty());
        assert_exactly_once(seen, 1);
    });
}

/// A thief steals into its own full queue while a second thief steals from
/// that queue: the room the first thief computes (here none, so it takes one
/// task instead of two) must stay a safe bound while the second one copies.
#[test]
fn loom_queue_steal_into_queue_being_stolen_from() {
    loom::model(|| {
        let (steal_a, mut a) = queue::local();
        let (steal_b, mut b) = queue::local();
        let mut seen = Vec::new();
        for task in 0..2 * CAP {
            let q = if task < CAP { &mut a } else { &mut b };
            push(q, task, &mut seen);
        }
        // Thief of `b`; `b`'s owner (this thread) steals from `a` into `b`.
        let thief = thread::spawn(move || thief(&steal_b, 1));

        seen.extend(steal_a.steal_into(&mut b));
        push(&mut b, 2 * CAP, &mut seen);

        seen.extend(thief.join().unwrap());
        drain(&mut a, &mut seen);
        drain(&mut b, &mut seen);
        assert_exactly_once(seen, 2 * CAP + 1);
    });
}

/// Tasks left in the ring (and in a thief's queue) when the handles drop are
/// dropped exactly once; loom reports a leaked `Arc` as a failure.
#[test]
fn loom_queue_drop_with_tasks_racing_steal() {
    use loom::sync::Arc;

    loom::model(|| {
        let (steal, mut local) = queue::local();
        let tasks: Vec<_> = (0..3).map(Arc::new).collect();
        for task in &tasks {
            local.push_back_or_overflow(task.clone(), |_| unreachable!("not full"));
        }
        let thief = thread::spawn(move || {
            let (_, mut own) = queue::local();
            drop(steal.steal_into(&mut own));
            // `own` and `steal` drop here with whatever they hold.
        });
        drop(local);
        thief.join().unwrap();
        for task in &tasks {
            assert_eq!(Arc::strong_count(task), 1);
        }
    });
}

/// The owner peeks at its next task (a prefetch hint, `Local::peek_next`)
/// while a thief steals, and pops between peeks: the peek only reads a slot
/// the owner wrote, so it never races with a write, and a peeked value is
/// one of the tasks pushed; every task is still seen exactly once.
#[test]
fn loom_queue_peek_races_steal() {
    loom::model(|| {
        let (steal, mut local) = queue::local();
        let mut seen = Vec::new();
        for task in 0..3 {
            push(&mut local, task, &mut seen);
        }
        let th = thread::spawn(move || thief(&steal, 1));
        for _ in 0..2 {
            if let Some(peeked) = local.peek_next(|t| *t) {
                assert!(peeked < 3, "a peek saw a task never pushed");
            }
            if let Some(task) = local.pop() {
                seen.push(task);
            }
        }
        drain(&mut local, &mut seen);
        seen.extend(th.join().unwrap());
        assert_exactly_once(seen, 3);
    });
}
