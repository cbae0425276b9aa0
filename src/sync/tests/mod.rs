//! Model-checked tests of `goro::sync` (run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --lib loom sync`; debug assertions are on under `cfg(loom)` in any profile).
//!
//! Each model is 2-3 threads. Data guarded by a lock lives in a loom
//! `UnsafeCell` (the types' own), so two threads inside the critical
//! section at once fail the model; a lost wake-up shows up as a loom
//! deadlock, or as "a model thread never finished" (see [`support`]).
//! Groups, one file each:
//!
//! * `loom_waitgroup`: `wait` racing the last `done`.
//! * `loom_mutex`: hand-off between two waiters and an unlock.
//! * `loom_rwlock`: a writer against readers.
//! * `loom_semaphore`: releases racing acquires; FIFO head blocking.
//! * `loom_condvar`: `notify_one` racing `wait`.
//! * `loom_once`: racing `call_once`; a `Barrier` round.

#[cfg(all(test, loom))]
mod loom_condvar;
#[cfg(all(test, loom))]
mod loom_mutex;
#[cfg(all(test, loom))]
mod loom_once;
#[cfg(all(test, loom))]
mod loom_rwlock;
#[cfg(all(test, loom))]
mod loom_semaphore;
#[cfg(all(test, loom))]
mod loom_waitgroup;

#[cfg(all(test, loom))]
mod support {
    //! A model thread joined only once it is done.
    //!
    //! The primitives unpark a waiter *after* unlocking, so the unpark may
    //! land after the waiter returned; loom aborts when a stale unpark hits
    //! a thread blocked in `JoinHandle::join` (tokio-rs/loom#249). So the
    //! spawner first yields until every thread it spawned finished, then
    //! joins (as `chan/tests/mod.rs` does).

    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::{AtomicBool, Ordering};

    pub(super) struct Spawned<T> {
        handle: loom::thread::JoinHandle<T>,
        done: Arc<AtomicBool>,
    }

    pub(super) fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> Spawned<T> {
        let done = Arc::new(AtomicBool::new(false));
        let handle = {
            let done = done.clone();
            loom::thread::spawn(move || {
                let out = f();
                done.store(true, Ordering::SeqCst);
                out
            })
        };
        Spawned { handle, done }
    }

    impl<T> Spawned<T> {
        /// Yields until the thread is done (many rounds mean it is blocked
        /// for good: a lost wake-up).
        fn wait(&self) {
            for _ in 0..1_000 {
                if self.done.load(Ordering::SeqCst) {
                    return;
                }
                loom::thread::yield_now();
            }
            panic!("a model thread never finished: a lost wake-up?");
        }

        pub(super) fn join(self) -> T {
            self.wait();
            self.handle.join().unwrap()
        }
    }

    /// Joins two threads once both are done.
    pub(super) fn join2<A, B>(a: Spawned<A>, b: Spawned<B>) -> (A, B) {
        a.wait();
        b.wait();
        (a.handle.join().unwrap(), b.handle.join().unwrap())
    }
}
