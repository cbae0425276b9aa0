//! Semaphore releases racing acquires: permits in use never exceed the
//! limit, nobody misses a release, and the count ends where it started.

use super::support::{join2, spawn};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Semaphore;

#[test]
fn release_races_acquire() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let busy = Arc::new(AtomicUsize::new(0));
        let user = || {
            let (sem, busy) = (sem.clone(), busy.clone());
            spawn(move || {
                let p = sem.acquire();
                assert_eq!(busy.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                busy.fetch_sub(1, Ordering::SeqCst);
                drop(p);
            })
        };
        let (a, b) = (user(), user());
        join2(a, b);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn a_big_request_at_the_head_is_served_first() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let big = {
            let sem = sem.clone();
            spawn(move || sem.acquire_many(2).forget())
        };
        let small = {
            let sem = sem.clone();
            spawn(move || sem.acquire().forget())
        };
        sem.add_permits(1);
        sem.add_permits(2);
        join2(big, small);
        assert_eq!(sem.available_permits(), 0);
    });
}
