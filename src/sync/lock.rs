//! The internal lock of every `goro::sync` primitive, guarding its wait
//! queue and bookkeeping: the facade's non-poisoning mutex (`parking_lot`
//! in production, loom's under `cfg(loom)`, so the models explore it).
//!
//! Contract for every holder: critical sections are a few instructions and
//! never park, switch, allocate more than a queue slot, or wake anyone
//! (wake-ups happen after unlocking), so a green thread that contends for
//! it waits for a peer that is running on another OS thread, briefly.
//!
//! Why not a yielding spinlock under loom (as the channel's lock could
//! be): loom drops an `unpark` that reaches a thread while it is yielding
//! instead of storing the token, which turns every spin into a false lost
//! wake-up.

pub(crate) use crate::loom::sync::Mutex as Lock;
