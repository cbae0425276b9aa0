//! Model-checked tests of the channel protocols (run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --lib loom`; debug assertions are on under `cfg(loom)` in any profile).
//!
//! Every model checks exactly-once delivery: each message is counted when
//! it is dropped ([`support::Tally`]), so a lost message (never dropped), a
//! duplicated one (dropped twice) and a wrong error all fail the model; a
//! lost wake-up shows up as a loom deadlock, or as "a model thread never
//! finished" when the main thread is the one waiting ([`support::Spawned`]).
//! Groups, one file each:
//!
//! * `loom_handoff`: send/recv per buffer flavor, 2 and 3 parties.
//! * `loom_close`: `close` racing blocked sends and receives.
//! * `loom_drop`: the last handle dropped while a peer blocks.
//! * `loom_timeout`: deadlines racing a peer, through the public calls.
//! * `loom_waiter`: a waiter giving up (`waiter.rs` step 3) racing its peer.
//! * `loom_select`: selects racing each other, close, a timeout, and
//!   themselves (the same channel twice).

#[cfg(all(test, loom))]
mod loom_close;
#[cfg(all(test, loom))]
mod loom_drop;
#[cfg(all(test, loom))]
mod loom_handoff;
#[cfg(all(test, loom))]
mod loom_select;
#[cfg(all(test, loom))]
mod loom_timeout;
#[cfg(all(test, loom))]
mod loom_waiter;

#[cfg(all(test, loom))]
mod support {
    //! Shared by the models: the buffer flavors and a drop-counted message.

    use crate::chan::{Receiver, Sender, bounded, unbounded};
    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// The buffers of `buffer.rs`, at their smallest interesting size.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Flavor {
        /// `bounded(0)`: every send is a rendezvous.
        Zero,
        /// `bounded(1)`: one message fills it (a small ring, whole under the
        /// channel's lock).
        One,
        /// `bounded(2)`: a split ring (`split.rs`; split from capacity 2
        /// under loom), whose plain sends may skip the channel's lock.
        Two,
        /// `unbounded()`: sends never block.
        Unbounded,
    }

    /// Messages that fill the flavor's buffer (one for unbounded: it is
    /// never full).
    pub(super) fn fill(flavor: Flavor) -> usize {
        match flavor {
            Flavor::Zero => 0,
            Flavor::One | Flavor::Unbounded => 1,
            Flavor::Two => 2,
        }
    }

    pub(super) fn channel<T>(flavor: Flavor) -> (Sender<T>, Receiver<T>) {
        match flavor {
            Flavor::Zero => bounded(0),
            Flavor::One => bounded(1),
            Flavor::Two => bounded(2),
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

    /// A model thread that its spawner joins only once it is done.
    ///
    /// A channel peer unparks its waiter *after* unlocking, so the waiter
    /// may have returned and moved on when the unpark lands. With std (and
    /// with a green thread) that unpark is a harmless token or spurious
    /// wake-up, but loom lets it wake a thread blocked in `JoinHandle::join`
    /// and then aborts (`assertion failed: state.notified`,
    /// tokio-rs/loom#249). So the spawner first waits, yielding, until
    /// every thread it spawned has finished its work, and with it every
    /// unpark it could send, and joins after that. It yields rather than
    /// parks: an unpark of its own would be one more stale unpark, and loom
    /// aborts on those too when they hit a thread blocked on a loom mutex
    /// (`expected to be able to acquire lock`).
    pub(super) struct Spawned<T> {
        handle: loom::thread::JoinHandle<T>,
        done: Arc<AtomicBool>,
    }

    pub(super) fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> Spawned<T> {
        let done = Arc::new(AtomicBool::new(false));
        let handle = {
            let done = done.clone();
            loom::thread::spawn(move || {
                // `f`'s captures (channel handles) are dropped inside it.
                let out = f();
                done.store(true, Ordering::SeqCst);
                out
            })
        };
        Spawned { handle, done }
    }

    impl<T> Spawned<T> {
        /// Yields until the thread is done. Loom runs a yielding thread
        /// again only after another one made progress, or when no other
        /// can run: so many rounds mean the others are blocked for good.
        fn wait(&self) {
            for _ in 0..1_000 {
                if self.done.load(Ordering::SeqCst) {
                    return;
                }
                loom::thread::yield_now();
            }
            panic!("a model thread never finished: a lost wake-up?");
        }

        /// Joins the thread, the only one spawned.
        pub(super) fn join(self) -> T {
            self.wait();
            self.handle.join().unwrap()
        }
    }

    /// Joins two threads once both are done (see [`Spawned`]).
    pub(super) fn join2<A, B>(a: Spawned<A>, b: Spawned<B>) -> (A, B) {
        a.wait();
        b.wait();
        (a.handle.join().unwrap(), b.handle.join().unwrap())
    }

    /// Joins three threads once all are done (see [`Spawned`]).
    pub(super) fn join3<A, B, C>(a: Spawned<A>, b: Spawned<B>, c: Spawned<C>) -> (A, B, C) {
        a.wait();
        b.wait();
        c.wait();
        let a = a.handle.join().unwrap();
        let b = b.handle.join().unwrap();
        (a, b, c.handle.join().unwrap())
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
                fn two() {
                    $model(Flavor::Two);
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
