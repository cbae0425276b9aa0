//! The green-thread park/wake hand-off: a wake racing a park is never lost,
//! and a task is queued (given to a worker to resume) only after its worker
//! published it parked, at most once per park.

use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::runtime::state::State;

/// The green thread and its worker, merged into one loom thread: wait for
/// `flag` by parking. `queued` counts the run rights wakers handed over.
fn park_until_flag(state: &State, flag: &AtomicBool, queued: &AtomicUsize) {
    loop {
        if flag.load(Ordering::Acquire) {
            return;
        }
        // The fast path inside the green thread.
        if state.take_notification() {
            continue;
        }
        // Switched to the worker; it publishes the park from its stack.
        if state.transition_to_parked() {
            // Parked: only a waker's `notify` can requeue us.
            while queued.load(Ordering::Acquire) == 0 {
                loom::thread::yield_now();
            }
            queued.fetch_sub(1, Ordering::AcqRel);
            state.transition_to_running();
        }
    }
}

fn waker(state: &State, flag: &AtomicBool, queued: &AtomicUsize) {
    flag.store(true, Ordering::Release);
    if state.notify() {
        // We hold the run right: "push it on its worker's queue".
        assert_eq!(queued.fetch_add(1, Ordering::AcqRel), 0, "queued twice");
    }
}

#[test]
fn wake_racing_park_is_not_lost() {
    loom::model(|| {
        let state = Arc::new(State::new());
        let flag = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        state.transition_to_running();
        let w = {
            let (state, flag, queued) = (state.clone(), flag.clone(), queued.clone());
            loom::thread::spawn(move || waker(&state, &flag, &queued))
        };
        park_until_flag(&state, &flag, &queued);
        w.join().unwrap();
        assert_eq!(
            queued.load(Ordering::Acquire),
            0,
            "a run right was left over"
        );
    });
}

#[test]
fn two_wakers_queue_the_task_at_most_once() {
    loom::model(|| {
        let state = Arc::new(State::new());
        let flag = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        state.transition_to_running();
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let (state, flag, queued) = (state.clone(), flag.clone(), queued.clone());
                loom::thread::spawn(move || waker(&state, &flag, &queued))
            })
            .collect();
        park_until_flag(&state, &flag, &queued);
        for w in ws {
            w.join().unwrap();
        }
        assert_eq!(queued.load(Ordering::Acquire), 0);
    });
}

#[test]
fn cancel_racing_park_wakes_the_task() {
    loom::model(|| {
        let state = Arc::new(State::new());
        let queued = Arc::new(AtomicUsize::new(0));
        state.transition_to_running();
        let c = {
            let (state, queued) = (state.clone(), queued.clone());
            loom::thread::spawn(move || {
                if state.cancel() {
                    queued.fetch_add(1, Ordering::AcqRel);
                }
            })
        };
        loop {
            if state.is_cancelled() {
                break;
            }
            if state.take_notification() {
                continue;
            }
            if state.transition_to_parked() {
                while queued.load(Ordering::Acquire) == 0 {
                    loom::thread::yield_now();
                }
                queued.fetch_sub(1, Ordering::AcqRel);
                state.transition_to_running();
            }
        }
        c.join().unwrap();
    });
}
