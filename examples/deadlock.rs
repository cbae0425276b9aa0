//! A program that deadlocks on purpose, to show goro's report: the root
//! green thread waits on an unbuffered channel nobody sends on, while a
//! second green thread waits to send on another channel nobody receives
//! from. Every green thread is parked and no other thread could act, so
//! `goro::run` panics with
//!
//! ```text
//! all green threads are asleep - deadlock!
//!
//! green thread 1 'main' [parked: chan recv]
//! green thread 2 'stuck-sender' [parked: chan send]
//! ```
//!
//! and the process exits with an error (Go prints the same first line
//! for the same mistake). `tests/deadlock.rs` runs this same program.
//!
//! Run: `cargo run --example deadlock`.

fn main() {
    deadlock();
}

/// The deadlocking program (shared with `tests/deadlock.rs`).
pub fn deadlock() {
    goro::run(|| {
        let (tx, rx) = goro::bounded::<u32>(0);
        let (tx2, _rx2) = goro::bounded::<u32>(0);
        goro::Builder::new()
            .name("stuck-sender".into())
            .spawn(move || tx2.send(1))
            .unwrap();
        // `tx` is alive (so the channel stays open) but nobody sends.
        let _keep = tx;
        rx.recv().unwrap()
    });
}
