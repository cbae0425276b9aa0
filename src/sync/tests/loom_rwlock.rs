//! A writer against readers: readers see the value before or after the
//! write, never during it (the loom cell checks no read overlaps the
//! write); everyone finishes.

use super::support::{join2, spawn};
use crate::loom::sync::Arc;
use crate::sync::RwLock;

#[test]
fn writer_vs_two_readers() {
    loom::model(|| {
        let l = Arc::new(RwLock::new(0usize));
        let w = {
            let l = l.clone();
            spawn(move || *l.write() += 1)
        };
        let r = {
            let l = l.clone();
            spawn(move || *l.read())
        };
        let mine = *l.read();
        let (_, theirs) = join2(w, r);
        assert!(mine <= 1 && theirs <= 1);
        assert_eq!(*l.read(), 1);
    });
}

#[test]
fn a_waiting_writer_blocks_new_readers() {
    loom::model(|| {
        let l = Arc::new(RwLock::new(0usize));
        let first = l.read();
        let w = {
            let l = l.clone();
            spawn(move || *l.write() = 1)
        };
        // Until the writer queued, a new reader may get in; afterwards it
        // must wait for the write.
        let r = {
            let l = l.clone();
            spawn(move || *l.read())
        };
        drop(first);
        join2(w, r);
        assert_eq!(*l.read(), 1);
    });
}
