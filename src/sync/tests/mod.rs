//! Model-checked tests of `goro::sync`.
