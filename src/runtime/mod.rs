//! The M:N scheduler: workers (OS threads) running green threads.
//!
//! Public here: [`Builder`] and [`Runtime`]. Inside the crate: the
//! park/unpark primitive (`parking`) every blocking operation builds on, and
//! the spawn path used by `goro::spawn`/`go!`.
//!
//! Most of the module is compiled out under `cfg(loom)`; what stays (the
//! run queue, the task state word, worker parking and the idle set, the
//! park primitive over loom threads) is model-checked by `tests/loom_*`.

pub(crate) mod oneshot;
pub(crate) mod parking;

pub(crate) mod idle;
mod inject;
pub(crate) mod park;
pub(crate) mod queue;
pub(crate) mod state;

#[cfg(not(loom))]
mod alloc;
#[cfg(not(loom))]
mod deadlock;
#[cfg(not(loom))]
mod scheduler;
#[cfg(not(loom))]
pub(crate) use self::scheduler::Shared;
#[cfg(not(loom))]
pub(crate) mod task;
#[cfg(not(loom))]
pub(crate) mod worker;

#[cfg(not(loom))]
mod handle;
#[cfg(not(loom))]
pub use self::handle::{Builder, Runtime, run};
#[cfg(not(loom))]
pub(crate) use self::handle::{current_shared, spawn_task};

#[cfg(test)]
mod tests;
