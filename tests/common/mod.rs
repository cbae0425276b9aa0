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

/// Waits until `rt` shows exactly `n` green threads parked on `what`
/// ("chan send", "chan recv", "select"), polling `Runtime::dump`; panics
/// with the dump after 10 s.
pub(crate) fn wait_parked(rt: &goro::runtime::Runtime, what: &str, n: usize) {
    assert!(wait_parked_unless(rt, what, n, || false));
}

/// [`wait_parked`], but gives up and returns `false` as soon as `gone()`
/// holds (a timed waiter that may time out before the count is reached,
/// when this OS thread is descheduled long enough).
#[allow(dead_code)] // not every test binary uses it
pub(crate) fn wait_parked_unless(
    rt: &goro::runtime::Runtime,
    what: &str,
    n: usize,
    gone: impl Fn() -> bool,
) -> bool {
    use std::time::{Duration, Instant};
    let pat = format!("parked: {what}]");
    let start = Instant::now();
    loop {
        let dump = rt.dump();
        let k = dump.lines().filter(|l| l.contains(&pat)).count();
        if k == n {
            return true;
        }
        if gone() {
            return false;
        }
        assert!(k < n, "more than {n} parked on {what}:\n{dump}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited 10 s for {n} parked on {what}:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
