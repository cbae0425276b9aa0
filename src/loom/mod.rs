//! The loom facade: every atomic, lock, cell and thread primitive goro uses
//! comes from here, never from `std::sync` directly.
//!
//! Under `cfg(loom)` the same names resolve to loom's model-checked
//! versions (see `mocked.rs`), so the queue, park and wake protocols can be
//! explored exhaustively with `RUSTFLAGS="--cfg loom"`. Both halves expose
//! the same modules with the same signatures; code that compiles against one
//! compiles against the other.

#[cfg(not(loom))]
mod std;
#[cfg(not(loom))]
pub(crate) use self::std::*;

#[cfg(loom)]
mod mocked;
#[cfg(loom)]
pub(crate) use self::mocked::*;
