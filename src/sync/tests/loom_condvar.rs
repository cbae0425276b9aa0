//! `notify_one` racing `wait`: a waiter that checked its condition under
//! the mutex before the notifier set it is never left asleep.

use super::support::spawn;
use crate::loom::sync::Arc;
use crate::sync::{Condvar, Mutex};

#[test]
fn notify_races_wait() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let n = {
            let pair = pair.clone();
            spawn(move || {
                *pair.0.lock() = true;
                pair.1.notify_one();
            })
        };
        let g = pair.1.wait_while(pair.0.lock(), |ready| !*ready);
        assert!(*g);
        drop(g);
        n.join();
    });
}
