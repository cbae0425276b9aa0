//! The parked workload of issue 2 (N green threads parked on one event,
//! for goro and Go an unbuffered channel that is closed:
//! spawn ms, KiB per parked, wake ms), shared by `benches/parked.rs` and
//! `benches/compare.rs`; included with `#[path]`. Each system runs in a
//! child process of its own (the including binary re-executed with
//! `CHILD_ARG <system> <N>`, dispatched to `child`), so each
//! resident-memory figure is that system's alone; `run_child` runs one and
//! parses its `parked ...` line (Go's `parked` mode prints the same).

#![allow(dead_code)] // each includer uses its own subset

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The argument that makes this binary a child measuring one system.
pub(crate) const CHILD_ARG: &str = "--parked-child";

/// A child taking longer than this is killed and reported as failed.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Time for the last arrivals to get from the count to the park.
const SETTLE: Duration = Duration::from_millis(20);

/// One child's result line: `parked n=.. spawn_ms=.. kib_per_parked=..
/// wake_ms=..`, or `parked n=.. failed=<reason>`. Go prints the same.
pub(crate) struct Measured {
    pub(crate) spawn_ms: f64,
    pub(crate) kib_per_parked: f64,
    pub(crate) wake_ms: f64,
}

pub(crate) fn print_result(n: usize, m: &Measured) {
    println!(
        "parked n={n} spawn_ms={:.1} kib_per_parked={:.2} wake_ms={:.1}",
        m.spawn_ms, m.kib_per_parked, m.wake_ms
    );
}

/// Reports a failure from a child and ends it at once (green threads may
/// still be parked; unwinding them all is not worth the wait).
pub(crate) fn fail(n: usize, why: &str) -> ! {
    println!("parked n={n} failed={}", why.replace('\n', " "));
    std::process::exit(1);
}

/// `VmRSS` + `VmPTE` of this process, in KiB.
fn rss_pte_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS:") || l.starts_with("VmPTE:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn kib_per(before: u64, after: u64, n: usize) -> f64 {
    after.saturating_sub(before) as f64 / n as f64
}

/// State shared by the spawner and every parked green thread of one
/// system: arrivals, the event they park on, and the countdown whose last
/// finisher fires `done`.
pub(crate) struct Shared<E> {
    arrived: AtomicUsize,
    left: AtomicUsize,
    event: E,
    done: E,
}

impl<E: Default> Shared<E> {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Shared {
            arrived: AtomicUsize::new(0),
            left: AtomicUsize::new(n),
            event: E::default(),
            done: E::default(),
        })
    }
}

impl<E> Shared<E> {
    fn arrive(&self) {
        self.arrived.fetch_add(1, Ordering::Release);
    }

    fn all_arrived(&self, n: usize) -> bool {
        self.arrived.load(Ordering::Acquire) == n
    }

    /// True for the last finisher.
    fn finish(&self) -> bool {
        self.left.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

pub(crate) fn goro_child(n: usize, stack_size: Option<usize>) -> Measured {
    let mut builder = goro::runtime::Builder::new();
    builder.workers(2);
    if let Some(s) = stack_size {
        builder.stack_size(s);
    }
    let rt = builder
        .build()
        .unwrap_or_else(|e| fail(n, &format!("runtime: {e}")));
    let m = rt.block_on(|| {
        let sh = Shared::<Chan>::new(n);
        let before = rss_pte_kib();
        let start = Instant::now();
        for i in 0..n {
            let sh = sh.clone();
            let spawned = goro::Builder::new().spawn(move || {
                sh.arrive();
                // Parks until `close` (then `Err(Closed)`), as Go's `<-ch`.
                let _ = sh.event.rx.recv();
                if sh.finish() {
                    sh.done.tx.close();
                }
            });
            if let Err(e) = spawned {
                fail(n, &format!("spawn {i}: {e}"));
            }
        }
        while !sh.all_arrived(n) {
            goro::yield_now();
        }
        let spawn_ms = ms(start.elapsed());
        goro::sleep(SETTLE);
        let after = rss_pte_kib();
        let start = Instant::now();
        sh.event.tx.close();
        let _ = sh.done.rx.recv();
        Measured {
            spawn_ms,
            kib_per_parked: kib_per(before, after, n),
            wake_ms: ms(start.elapsed()),
        }
    });
    drop(rt);
    m
}

/// goro's event: an unbuffered channel that is only ever closed, as Go's
/// `close(ch)` releasing every `<-ch`.
pub(crate) struct Chan {
    tx: goro::Sender<()>,
    rx: goro::Receiver<()>,
}

impl Default for Chan {
    fn default() -> Chan {
        let (tx, rx) = goro::bounded(0);
        Chan { tx, rx }
    }
}

pub(crate) fn may_child(n: usize) -> Measured {
    use may::sync::SyncFlag;
    may::config().set_workers(2);
    let root = may::go!(move || {
        let sh = Shared::<SyncFlag>::new(n);
        let before = rss_pte_kib();
        let start = Instant::now();
        for i in 0..n {
            let sh = sh.clone();
            // may panics when it cannot map a stack.
            let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                may::go!(move || {
                    sh.arrive();
                    sh.event.wait();
                    if sh.finish() {
                        sh.done.fire();
                    }
                })
            }));
            if let Err(p) = spawned {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                fail(n, &format!("spawn {i}: {why}"));
            }
        }
        while !sh.all_arrived(n) {
            may::coroutine::yield_now();
        }
        let spawn_ms = ms(start.elapsed());
        may::coroutine::sleep(SETTLE);
        let after = rss_pte_kib();
        let start = Instant::now();
        sh.event.fire();
        sh.done.wait();
        Measured {
            spawn_ms,
            kib_per_parked: kib_per(before, after, n),
            wake_ms: ms(start.elapsed()),
        }
    });
    root.join()
        .unwrap_or_else(|_| fail(n, "the spawning coroutine panicked"))
}

pub(crate) fn tokio_child(n: usize) -> Measured {
    use tokio::sync::Notify;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap_or_else(|e| fail(n, &format!("runtime: {e}")));
    // The spawner is a task on a worker, like goro's and Go's.
    let root = rt.spawn(async move {
        let sh = Shared::<Notify>::new(n);
        let before = rss_pte_kib();
        let start = Instant::now();
        for _ in 0..n {
            let sh = sh.clone();
            drop(tokio::spawn(async move {
                let mut notified = std::pin::pin!(sh.event.notified());
                // Registered before counting the arrival, so
                // `notify_waiters` finds every arrived task.
                notified.as_mut().enable();
                sh.arrive();
                notified.await;
                if sh.finish() {
                    sh.done.notify_one();
                }
            }));
        }
        while !sh.all_arrived(n) {
            tokio::task::yield_now().await;
        }
        let spawn_ms = ms(start.elapsed());
        tokio::time::sleep(SETTLE).await;
        let after = rss_pte_kib();
        let start = Instant::now();
        sh.event.notify_waiters();
        sh.done.notified().await;
        Measured {
            spawn_ms,
            kib_per_parked: kib_per(before, after, n),
            wake_ms: ms(start.elapsed()),
        }
    });
    rt.block_on(root)
        .unwrap_or_else(|e| fail(n, &format!("spawning task: {e}")))
}

pub(crate) fn child(system: &str, n: usize) {
    let m = match system {
        "goro" => goro_child(n, None),
        "goro-64k" => goro_child(n, Some(64 * 1024)),
        "may" => may_child(n),
        "tokio" => tokio_child(n),
        other => fail(n, &format!("unknown system {other}")),
    };
    print_result(n, &m);
}

/// How one system's run ended.
pub(crate) enum Outcome {
    Done(Measured),
    Failed(String),
}

/// Runs `cmd` to completion (killed after `CHILD_TIMEOUT`) and parses its
/// `parked ...` line.
pub(crate) fn run_child(mut cmd: Command) -> Outcome {
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot start: {e}")),
    };
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                s = String::from_utf8_lossy(&buf).into_owned();
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Outcome::Failed(format!("waiting: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let line = out.lines().find(|l| l.starts_with("parked "));
    let fields: HashMap<&str, &str> = line
        .map(|l| {
            l.split(' ')
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .collect()
        })
        .unwrap_or_default();
    if let Some(why) = line.and_then(|l| l.split_once(" failed=")) {
        return Outcome::Failed(why.1.to_string());
    }
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
    if let (Some(spawn_ms), Some(kib_per_parked), Some(wake_ms)) =
        (num("spawn_ms"), num("kib_per_parked"), num("wake_ms"))
    {
        return Outcome::Done(Measured {
            spawn_ms,
            kib_per_parked,
            wake_ms,
        });
    }
    let last_err = err
        .lines()
        .rev()
        .find(|l| {
            !l.trim().is_empty() && !l.trim_start().starts_with("at ") && !l.contains("backtrace")
        })
        .unwrap_or("")
        .trim()
        .to_string();
    let how = match status {
        None => format!("killed after {CHILD_TIMEOUT:?}"),
        Some(s) => s.to_string(),
    };
    Outcome::Failed(if last_err.is_empty() {
        how
    } else {
        format!("{how}: {last_err}")
    })
}
