//! Runtime-core benchmarks of issue 2, goro beside its peers in one run
//! (criterion):
//!
//! - `yield_switch/{goro,may,tokio}`: two green threads (coroutines,
//!   tasks) on one worker alternately yield N times each; the reported time
//!   is per switch (one `yield_now` hand-over).
//! - `spawn/{goro,tokio,may,std_thread}`: spawn + run + complete of a batch
//!   of trivial green threads on 2 workers, the spawner (itself a green
//!   thread, task or coroutine) waiting for all of them like Go's
//!   `WaitGroup` (an atomic countdown; the last finisher wakes the
//!   spawner). The reported time is per green thread. A batch is 100,000
//!   green threads (1,000,000 with `GORO_BENCH_FULL=1`) for goro and tokio,
//!   10,000 coroutines for may (each may stack is an mmap plus an mprotect
//!   guard page, two of the default `vm.max_map_count` of 65530 maps, and
//!   with 100,000 in flight may's stack allocation fails), 10,000 OS
//!   threads for `std_thread` (joined).
//!
//! may's configuration is global and fixed at its first use, so each may
//! case runs in a child process (this binary re-executed with the same
//! arguments and `GORO_BENCH_MAY_CHILD` set): 1 worker for `yield_switch`,
//! 2 for `spawn`, may's default stack size (32 KiB) and pool.
//!
//! Run: `cargo bench --bench runtime` (a filter works as usual, e.g.
//! `cargo bench --bench runtime -- spawn`); about a minute (more with
//! `GORO_BENCH_FULL=1`). Go's figures for the same session:
//! `benches/go/run.sh`.

#[path = "support/runtime.rs"]
mod runtime;

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use runtime::{goro_spawn, goro_yield, may_spawn, may_yield, std_spawn, tokio_spawn, tokio_yield};

/// Set in a child process: which may case to run (`yield` or `spawn`).
const MAY_CHILD_ENV: &str = "GORO_BENCH_MAY_CHILD";

/// OS threads per `spawn/std_thread` batch.
const THREAD_BATCH: usize = 10_000;

/// Coroutines per `spawn/may` batch (see the top of the file).
const MAY_BATCH: usize = 10_000;

/// A may child process taking longer than this is killed (may can hang
/// instead of exiting when it runs out of memory maps).
const MAY_CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// Green threads per spawn batch.
fn green_batch() -> usize {
    if std::env::var("GORO_BENCH_FULL").is_ok_and(|v| v == "1") {
        1_000_000
    } else {
        100_000
    }
}

/// Criterion counts one iteration per switch / per green thread. A spawn
/// sample runs whole batches of `n` (at least one, as close to `iters`
/// items as whole batches get) and scales the time to `iters` items, so
/// every batch really has `n` green threads in flight.
fn batched(iters: u64, n: usize, mut batch: impl FnMut(usize) -> Duration) -> Duration {
    let batches = ((iters as f64 / n as f64).round() as u64).max(1);
    let mut total = Duration::ZERO;
    for _ in 0..batches {
        total += batch(n);
    }
    total.mul_f64(iters as f64 / (batches * n as u64) as f64)
}

/// `elapsed` for `done` switches, scaled to `iters`.
fn per_switch(elapsed: Duration, iters: u64, done: u64) -> Duration {
    elapsed.mul_f64(iters as f64 / done as f64)
}

/// Re-runs this benchmark binary (same arguments, so filters and
/// `--test`/`--list` carry over) for one may case.
fn run_may_child(case: &str) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(MAY_CHILD_ENV, case)
        .spawn()
        .expect("starting the may child process");
    let deadline = Instant::now() + MAY_CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the may child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    match status {
        Some(s) if s.success() => {}
        Some(s) => println!("may {case} benchmark failed: {s}"),
        None => println!("may {case} benchmark failed: killed after {MAY_CHILD_TIMEOUT:?}"),
    }
}

fn yield_group(
    c: &mut Criterion,
) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("yield_switch");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    g
}

fn spawn_group(
    c: &mut Criterion,
) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("spawn");
    g.sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    g
}

fn yield_switch(c: &mut Criterion) {
    {
        let mut g = yield_group(c);
        let rt = goro::runtime::Builder::new()
            .workers(1)
            .build()
            .expect("goro runtime");
        g.bench_function("goro", |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(2);
                per_switch(goro_yield(&rt, per), iters, 2 * per)
            })
        });
        drop(rt);

        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        g.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(2);
                per_switch(tokio_yield(&rt, per), iters, 2 * per)
            })
        });
        g.finish();
    }
    run_may_child("yield");
}

/// In the child: `yield_switch/may` on 1 may worker.
fn may_yield_bench(c: &mut Criterion) {
    may::config().set_workers(1);
    let mut g = yield_group(c);
    g.bench_function("may", |b| {
        b.iter_custom(|iters| {
            let per = iters.div_ceil(2);
            per_switch(may_yield(per), iters, 2 * per)
        })
    });
    g.finish();
}

fn spawn(c: &mut Criterion) {
    let n = green_batch();
    {
        let mut g = spawn_group(c);
        let rt = goro::runtime::Builder::new()
            .workers(2)
            .build()
            .expect("goro runtime");
        g.bench_function("goro", |b| {
            b.iter_custom(|iters| batched(iters, n, |n| goro_spawn(&rt, n)))
        });
        drop(rt);

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("tokio runtime");
        g.bench_function("tokio", |b| {
            b.iter_custom(|iters| batched(iters, n, |n| tokio_spawn(&rt, n)))
        });
        drop(rt);

        // An OS thread costs ~100 us here (a batch ~1 s): time for 10.
        g.measurement_time(Duration::from_secs(12));
        g.bench_function("std_thread", |b| {
            b.iter_custom(|iters| batched(iters, THREAD_BATCH, std_spawn))
        });
        g.finish();
    }
    run_may_child("spawn");
}

/// In the child: `spawn/may` on 2 may workers.
fn may_spawn_bench(c: &mut Criterion) {
    may::config().set_workers(2);
    let mut g = spawn_group(c);
    g.bench_function("may", |b| {
        b.iter_custom(|iters| batched(iters, MAY_BATCH, may_spawn))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    match std::env::var(MAY_CHILD_ENV).as_deref() {
        Ok("yield") => may_yield_bench(&mut c),
        Ok("spawn") => may_spawn_bench(&mut c),
        Ok(other) => panic!("unknown {MAY_CHILD_ENV}={other}"),
        Err(_) => {
            yield_switch(&mut c);
            spawn(&mut c);
            c.final_summary();
        }
    }
}
