//! Fuzz target: turns bytes into a program of sends, closes and selects
//! (`select!` and `Select`) over three channels and checks it against a
//! sequential model. Decoding and the model live in
//! `tests/common/select_ops.rs` (shared with `tests/prop_select.rs` and
//! with `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/select_ops/`
//! under plain `cargo test`).
//!
//! Run: `cd fuzz && cargo fuzz run select_ops /tmp/select_ops corpus/select_ops`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/select_ops.rs"]
mod select_ops;

fuzz_target!(|data: &[u8]| select_ops::run_bytes(data));
