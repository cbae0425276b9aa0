//! Model-checked tests of the runtime's protocols (run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`).

#[cfg(all(test, loom))]
mod loom_park;
#[cfg(all(test, loom))]
mod loom_queue;
#[cfg(all(test, loom))]
mod loom_state;
