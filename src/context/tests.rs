//! Model-checked tests of context cancellation (run with the loom command
//! of `src/chan/tests/mod.rs`).

#[cfg(loom)]
mod loom_context {
    use crate::context::{Context, ContextError, with_cancel};

    /// A parent's cancel races a child's creation: either the child
    /// registers first and the cancel reaches it, or it sees the parent
    /// cancelled and starts cancelled. Never a live child of a dead parent.
    #[test]
    fn cancel_races_child_creation() {
        loom::model(|| {
            let (parent, cancel) = with_cancel(&Context::background());
            let t = {
                let parent = parent.clone();
                loom::thread::spawn(move || {
                    let (child, child_cancel) = with_cancel(&parent);
                    (child, child_cancel)
                })
            };
            cancel.cancel();
            let (child, child_cancel) = t.join().unwrap();
            assert_eq!(parent.err(), Some(ContextError::Canceled));
            assert_eq!(
                child.err(),
                Some(ContextError::Canceled),
                "child missed the cancel"
            );
            assert!(child.done().try_recv().is_err());
            drop(child_cancel);
        });
    }

    /// Two cancels race (a parent's and the child's own): the child's error
    /// is set once and never changes.
    #[test]
    fn concurrent_cancels_set_the_error_once() {
        loom::model(|| {
            let (parent, cancel) = with_cancel(&Context::background());
            let (child, child_cancel) = with_cancel(&parent);
            let t = loom::thread::spawn(move || cancel.cancel());
            child_cancel.cancel();
            let first = child.err();
            t.join().unwrap();
            assert_eq!(first, Some(ContextError::Canceled));
            assert_eq!(child.err(), first, "err changed");
            assert_eq!(parent.err(), Some(ContextError::Canceled));
        });
    }
}
