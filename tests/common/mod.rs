//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Environment variable that tells a re-run test binary which child role
/// to play.
pub(crate) const CHILD_ENV: &str = "GORO_TEST_CHILD";

/// Re-runs the current test binary, running only `test` (its full path,
/// e.g. `overflow::child`), with `GORO_TEST_CHILD=role` and extra `env`.
pub(crate) fn run_child(test: &str, role: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn child test process")
}

/// The child role this process was started with, if any.
pub(crate) fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// A runtime with `n` workers.
pub(crate) fn rt(n: usize) -> goro::runtime::Runtime {
    goro::runtime::Builder::new().workers(n).build().unwrap()
}
