//! 100,000 green threads each sleeping 1 ms concurrently, on 2 workers:
//! goro (`goro::sleep`) beside tokio (`tokio::time::sleep` in 100,000
//! tasks on a 2-worker runtime) and Go (`time.Sleep` in 100,000 goroutines,
//! GOMAXPROCS=2; `benches/go`: `sleep`), in one run.
//!
//! One measurement: from the first spawn until the last sleeper has woken
//! and counted down (the last one signals the waiting root, like Go's
//! `WaitGroup`). The ideal is 1 ms plus the cost of spawning, parking and
//! waking 100,000 green threads.
//!
//! Criterion measures goro and tokio (`sleep_100k/goro`,
//! `sleep_100k/tokio`). Then, under `--bench`, a summary measures each
//! system `REPS` times more in this same process (Go in a child) and
//! prints the medians and the ratios to goro.
//!
//! Run: `GORO_BENCH_GO=1 cargo bench --bench time` (Go is skipped without
//! `GORO_BENCH_GO=1` or without `go` on the PATH). Without `--bench`
//! (`cargo test --benches`) it is a smoke run with N = 1,000.

#[path = "support/go.rs"]
mod go;
#[path = "support/time.rs"]
mod time;

use std::process::Command;
use std::time::Duration;

use criterion::Criterion;
use time::{goro_round, tokio_round};

/// Sleepers per measurement.
const N: usize = 100_000;
/// Measurements per system in the summary.
const REPS: usize = 11;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Go's median ms, from `benches/go` (`sleep N`).
fn go_ms(n: usize) -> Result<f64, String> {
    let bin = go::build_go(&go::target_dir())?;
    let out = Command::new(bin)
        .args(["-reps", &REPS.to_string(), "sleep", &n.to_string()])
        .env("GOMAXPROCS", "2")
        .output()
        .map_err(|e| format!("go bench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("go bench: unexpected output {text:?}"))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let list = std::env::args().any(|a| a == "--list");
    let n = if bench { N } else { 1_000 };
    let goro_rt = goro::runtime::Builder::new().workers(2).build().unwrap();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("sleep_100k");
        g.bench_function("goro", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| goro_round(&goro_rt, n)).sum())
        });
        g.bench_function("tokio", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| tokio_round(&tokio_rt, n)).sum())
        });
        g.finish();
    }
    c.final_summary();
    if !bench || list {
        return;
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let goro = median((0..REPS).map(|_| ms(goro_round(&goro_rt, n))).collect());
    let tokio = median((0..REPS).map(|_| ms(tokio_round(&tokio_rt, n))).collect());
    let go = if std::env::var("GORO_BENCH_GO").is_ok_and(|v| v == "1") {
        go_ms(n)
    } else {
        Err("skipped (set GORO_BENCH_GO=1)".to_string())
    };
    println!("\n{n} sleepers of 1 ms on 2 workers, median of {REPS} (ms; ratio = other / goro)");
    println!("| system | ms | ratio |");
    println!("|---|---|---|");
    println!("| goro | {goro:.1} | 1.00 |");
    println!("| tokio | {tokio:.1} | {:.2} |", tokio / goro);
    match go {
        Ok(g) => println!("| Go | {g:.1} | {:.2} |", g / goro),
        Err(why) => println!("| Go | {why} | |"),
    }
}
