//! Fuzz target: turns bytes into a program of channel operations and checks
//! it against a model. Decoding and models live in `tests/common/ops.rs`
//! (shared with `tests/prop_chan.rs` and with `tests/fuzz_corpus.rs`, which
//! replays `fuzz/corpus/chan_ops/` under plain `cargo test`):
//!
//! * first byte's top bit clear: single-threaded operations on one channel
//!   (capacity 0, 1, 2, 7, 16 or unbounded), step by step against a sequential
//!   model with drop counting;
//! * top bit set: a concurrent plan (senders and receivers on green threads
//!   and OS threads), checking exactly-once delivery and per-sender order.
//!
//! Run: `cd fuzz && cargo fuzz run chan_ops` (a scratch corpus directory
//! first keeps new inputs out of the checked-in one:
//! `cargo fuzz run chan_ops /tmp/chan_ops corpus/chan_ops`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/ops.rs"]
mod ops;

fuzz_target!(|data: &[u8]| ops::run_bytes(data));
