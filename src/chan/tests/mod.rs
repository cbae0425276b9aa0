//! Model-checked tests of the channel protocols (run with
//! `RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2
//! LOOM_MAX_BRANCHES=10000 cargo test --release --lib loom`).
//!
//! Every model checks exactly-once delivery: each message is counted when
//! it is dropped ([`support::Tally`]), so a lost message (never dropped), a
//! duplicated one (dropped twice) and a wrong error all fail the model; a
//! lost wake-up shows up as a loom deadlock. Groups, one file each:
//!
//! * `loom_handoff`: send/recv per buffer flavor, 2 and 3 parties.
//! * `loom_close`: `close` racing blocked sends and receives.
//! * `loom_drop`: the last handle dropped while a peer blocks.
//! * `loom_timeout`: deadlines racing a peer, through the public calls.
//! * `loom_waiter`: a waiter giving up (`waiter.rs` step 3) racing its peer.

#[cfg(all(test, loom, not(debug_assertions)))]
compile_error!("run the loom models with `-C debug_assertions`: they check invariants");

#[cfg(all(test, loom))]
mod loom_close;
#[cfg(all(test, loom))]
mod loom_drop;
#[cfg(all(test, loom))]
mod loom_handoff;
#[cfg(all(test, loom))]
mod loom_timeout;
#[cfg(all(test, loom))]
mod loom_waiter;

#[cfg(all(test, loom))]
mod support {
    //! Shared by the models: the buffer flavors and a drop-counted message.

    use crate::chan::{Receiver, Sender, bounded, unbounded};
    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};

    /// The three buffers of `buffer.rs`, at their smallest interesting size.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Flavor {
        /// `bounded(0)`: every send is a rendezvous.
        Zero,
        /// `bounded(1)`: one message fills it.
        One,
        /// `unbounded()`: sends never block.
        Unbounded,
    }

    pub(super) fn channel<T>(flavor: Flavor) -> (Sender<T>, Receiver<T>) {
        match flavor {
            Flavor::Zero => bounded(0),
            Flavor::One => bounded(1),
            Flavor::Unbounded => unbounded(),
        }
    }

    /// Counts the drops of the messages it made.
    #[derive(Clone)]
    pub(super) struct Tally(Arc<AtomicUsize>);

    impl Tally {
        pub(super) fn new() -> Tally {
            Tally(Arc::new(AtomicUsize::new(0)))
        }

        pub(super) fn msg(&self, id: usize) -> Msg {
            Msg {
                id,
                drops: self.0.clone(),
            }
        }

        /// Messages dropped so far.
        pub(super) fn dropped(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A message that reports its drop to its [`Tally`].
    #[derive(Debug)]
    pub(super) struct Msg {
        pub(super) id: usize,
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Msg {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Receives until the channel is closed and drained; the ids in order.
    pub(super) fn drain(rx: &Receiver<Msg>) -> Vec<usize> {
        let mut ids = Vec::new();
        while let Ok(m) = rx.recv() {
            ids.push(m.id);
        }
        ids
    }

    /// Runs `model` as a `#[test]` for each flavor, in a module named
    /// after it: `per_flavor!(name, model)` gives `name::{zero, one,
    /// unbounded}`.
    macro_rules! per_flavor {
        ($name:ident, $model:path) => {
            mod $name {
                use super::*;

                #[test]
                fn zero() {
                    $model(Flavor::Zero);
                }

                #[test]
                fn one() {
                    $model(Flavor::One);
                }

                #[test]
                fn unbounded() {
                    $model(Flavor::Unbounded);
                }
            }
        };
    }
    pub(super) use per_flavor;
}
