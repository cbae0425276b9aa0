//! `goro::sync` benchmarks (criterion), goro beside tokio and Go:
//!
//! - `mutex_counter/{goro_green,tokio}`: 1,000 green threads (tokio tasks)
//!   on 2 workers, each incrementing one shared counter 1,000 times under
//!   `goro::sync::Mutex` (`tokio::sync::Mutex`); one iteration is one whole
//!   run (1,000,000 locked increments, checked at the end).
//! - `waitgroup/goro_green`: 1,000 green threads on 2 workers each calling
//!   `done` 1,000 times on one `WaitGroup`, then the root's `wait`; one
//!   iteration is one run (1,000,000 `done` calls).
//!
//! After the criterion groups (under `cargo bench`, not `--test`), a table
//! of the medians of the runs criterion made is printed, with Go's figures
//! for the same workloads (`benches/go`, `mutex` and `waitgroup`, with
//! `GOMAXPROCS=2`) when `GORO_BENCH_GO=1` and `go` is on PATH.
//!
//! Run: `GORO_BENCH_GO=1 cargo bench --bench sync` (add
//! `-- --measurement-time 2 --warm-up-time 1` for a quick run). Go alone:
//! `cd benches/go && go run . mutex && go run . waitgroup`.

#[path = "support/go.rs"]
mod go;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use goro::sync::{Mutex, WaitGroup};

/// Green threads (tasks, goroutines) per run.
const THREADS: usize = 1000;
/// Increments (or `done` calls) per green thread.
const PER: usize = 1000;

/// Every run's duration, per `group/function`, for the summary table.
static RUNS: parking_lot::Mutex<Option<HashMap<String, Vec<Duration>>>> =
    parking_lot::Mutex::new(None);

fn record(key: &str, d: Duration) -> Duration {
    RUNS.lock()
        .get_or_insert_with(HashMap::new)
        .entry(key.to_string())
        .or_default()
        .push(d);
    d
}

fn goro_mutex(rt: &goro::runtime::Runtime) -> Duration {
    rt.block_on(|| {
        let m = Arc::new(Mutex::new(0usize));
        let start = Instant::now();
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let m = m.clone();
                goro::go!(move || {
                    for _ in 0..PER {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(*m.lock(), THREADS * PER);
        elapsed
    })
}

fn tokio_mutex(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let m = Arc::new(tokio::sync::Mutex::new(0usize));
        let start = Instant::now();
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..PER {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(*m.lock().await, THREADS * PER);
        elapsed
    })
}

fn goro_waitgroup(rt: &goro::runtime::Runtime) -> Duration {
    rt.block_on(|| {
        let wg = WaitGroup::new();
        let start = Instant::now();
        wg.add(THREADS * PER);
        for _ in 0..THREADS {
            let wg = wg.clone();
            goro::go!(move || {
                for _ in 0..PER {
                    wg.done();
                }
            });
        }
        wg.wait();
        start.elapsed()
    })
}

/// One criterion function whose iterations are whole runs of `run`.
fn runs(key: &'static str, mut run: impl FnMut() -> Duration) -> impl FnMut(u64) -> Duration {
    move |iters| (0..iters).map(|_| record(key, run())).sum()
}

fn median_ms(key: &str) -> Option<f64> {
    let runs = RUNS.lock();
    let mut v: Vec<f64> = runs
        .as_ref()?
        .get(key)?
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Go's median ms per run for `mutex` and `waitgroup`, or why not.
fn run_go() -> Result<HashMap<String, f64>, String> {
    let bin = go::build_go(&go::target_dir())?;
    let mut out = HashMap::new();
    for cmd in ["mutex", "waitgroup"] {
        let o = Command::new(&bin)
            .args(["-reps", "5", cmd, &PER.to_string()])
            .env("GOMAXPROCS", "2")
            .output()
            .map_err(|e| format!("go bench: {e}"))?;
        let line = String::from_utf8_lossy(&o.stdout).to_string();
        let ms = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("ms_per_run="))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("go bench: cannot parse {line:?}"))?;
        out.insert(cmd.to_string(), ms);
    }
    Ok(out)
}

fn summary() {
    let go = if std::env::var("GORO_BENCH_GO").is_ok_and(|v| v == "1") {
        match run_go() {
            Ok(g) => Some(g),
            Err(why) => {
                println!("{why}");
                None
            }
        }
    } else {
        None
    };
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    };
    let mut t = format!(
        "sync: median ms per run ({THREADS} green threads x {PER}, 2 workers; Go GOMAXPROCS=2)\n\n"
    );
    t.push_str("| workload | goro green | tokio | Go | goro/Go | goro/tokio |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (name, go_key) in [("mutex_counter", "mutex"), ("waitgroup", "waitgroup")] {
        let g = median_ms(&format!("{name}/goro_green"));
        let tk = median_ms(&format!("{name}/tokio"));
        let gov = go.as_ref().and_then(|m| m.get(go_key).copied());
        t.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            fmt(g),
            fmt(tk),
            fmt(gov),
            ratio(g, gov),
            ratio(g, tk)
        ));
    }
    println!("\n{t}");
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let list = std::env::args().any(|a| a == "--list");
    let mut c = Criterion::default().configure_from_args();
    let rt = goro::runtime::Builder::new()
        .workers(2)
        .build()
        .expect("goro runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    {
        let mut g = c.benchmark_group("mutex_counter");
        g.sample_size(10);
        g.bench_function("goro_green", |b| {
            b.iter_custom(runs("mutex_counter/goro_green", || goro_mutex(&rt)))
        });
        g.bench_function("tokio", |b| {
            b.iter_custom(runs("mutex_counter/tokio", || tokio_mutex(&tokio_rt)))
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("waitgroup");
        g.sample_size(10);
        g.bench_function("goro_green", |b| {
            b.iter_custom(runs("waitgroup/goro_green", || goro_waitgroup(&rt)))
        });
        g.finish();
    }
    drop(rt);
    drop(tokio_rt);
    c.final_summary();
    if bench && !list {
        summary();
    }
}
