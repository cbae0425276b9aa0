//! `Once` and `Barrier`: racing callers run the closure once and see its
//! effect; a barrier round releases everyone once all arrived.

use super::support::spawn;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Barrier, Once};

#[test]
fn racing_call_once_runs_once() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let call = {
            let (once, runs) = (once.clone(), runs.clone());
            move || {
                once.call_once(|| {
                    runs.fetch_add(1, Ordering::Relaxed);
                });
                // The runner's write is visible to every caller that returns.
                assert_eq!(runs.load(Ordering::Relaxed), 1);
            }
        };
        let other = spawn(call.clone());
        call();
        other.join();
        assert!(once.is_completed());
    });
}

#[test]
fn a_barrier_round_has_one_leader() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let arrived = Arc::new(AtomicUsize::new(0));
        let party = {
            let (barrier, arrived) = (barrier.clone(), arrived.clone());
            move || {
                arrived.fetch_add(1, Ordering::SeqCst);
                let leader = barrier.wait().is_leader();
                assert_eq!(arrived.load(Ordering::SeqCst), 2, "released early");
                leader
            }
        };
        let other = spawn(party.clone());
        let me = party();
        assert!(me != other.join(), "exactly one leader");
    });
}
