//! Unit and loom tests of the runtime internals.
