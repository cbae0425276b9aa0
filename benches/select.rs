//! Select benchmarks of issue 4, goro beside crossbeam-channel (and Go) in
//! one run (criterion):
//!
//! - `select_rx/<capacity>/<system>`: 4 producers each send on their own
//!   channel; one receiver selects over the 4 channels.
//! - `select_both/<capacity>/<system>`: 4 senders each select a send over
//!   the same 4 channels; 4 receivers each select a receive over them.
//!
//! Capacities `bounded_0`, `bounded_1`, `bounded_n` (1000) and
//! `unbounded`. Systems: `goro_green` (green threads of one 2-worker goro
//! runtime; the receiver of `select_rx` is the `block_on` root, like Go's
//! main goroutine) and `crossbeam_os` (crossbeam-channel's `select!` on OS
//! threads). A batch is 200,000 messages (50,000 for capacities 0 and 1;
//! 5,000,000 with `GORO_BENCH_FULL=1`, the figure); the time is per
//! message, and each batch checks the sum of what arrived.
//!
//! Afterwards (under `cargo bench`), a markdown table of the medians is
//! printed and written to `<target>/select.md`, with Go's figures (the
//! `select` mode of `benches/go`, same N) when `GORO_BENCH_GO=1` and `go`
//! is installed.
//!
//! Run: `GORO_BENCH_GO=1 cargo bench --bench select`.

#[path = "support/go.rs"]
mod go;
#[path = "support/select.rs"]
mod select;

use select::{cb_both, cb_rx, goro_both, goro_rx};

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};

fn full() -> bool {
    std::env::var("GORO_BENCH_FULL").is_ok_and(|v| v == "1")
}

#[derive(Clone, Copy)]
enum Cap {
    Zero,
    One,
    N,
    Unbounded,
}

impl Cap {
    const ALL: [Cap; 4] = [Cap::Zero, Cap::One, Cap::N, Cap::Unbounded];

    fn name(self) -> &'static str {
        match self {
            Cap::Zero => "bounded_0",
            Cap::One => "bounded_1",
            Cap::N => "bounded_n",
            Cap::Unbounded => "unbounded",
        }
    }

    fn bound(self) -> Option<usize> {
        match self {
            Cap::Zero => Some(0),
            Cap::One => Some(1),
            Cap::N => Some(1000),
            Cap::Unbounded => None,
        }
    }

    fn messages(self) -> usize {
        match self {
            _ if full() => 5_000_000,
            Cap::Zero | Cap::One => 50_000,
            _ => 200_000,
        }
    }
}

/// Runs whole batches of `n` messages and scales to `iters` messages.
fn batched(iters: u64, n: usize, mut batch: impl FnMut(usize) -> Duration) -> Duration {
    let batches = ((iters as f64 / n as f64).round() as u64).max(1);
    let mut total = Duration::ZERO;
    for _ in 0..batches {
        total += batch(n);
    }
    total.mul_f64(iters as f64 / (batches * n as u64) as f64)
}

/// Go's figures, `select <work> cap=<c>` -> ns per message.
fn run_go() -> Result<HashMap<String, f64>, String> {
    let bin = go::build_go(&go::target_dir())?;
    let out = Command::new(&bin)
        .args(["-reps", "3", "select"])
        .arg(Cap::N.messages().to_string())
        .output()
        .map_err(|e| format!("go bench: {e}"))?;
    let mut m = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("{line}");
        let w: Vec<&str> = line.split(' ').collect();
        if w.len() >= 5 && w[0] == "select" {
            let ns = w[4]
                .trim_start_matches("ns_per_msg=")
                .parse()
                .unwrap_or(f64::NAN);
            m.insert(format!("{} {}", w[1], w[2]), ns);
        }
    }
    Ok(m)
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let rt = goro::runtime::Builder::new().workers(2).build().unwrap();
    let mut medians: HashMap<String, f64> = HashMap::new();
    for (work, name) in [("rx", "select_rx"), ("both", "select_both")] {
        for cap in Cap::ALL {
            let mut g = c.benchmark_group(format!("{name}/{}", cap.name()));
            g.sampling_mode(SamplingMode::Flat);
            let n = cap.messages();
            for system in ["goro_green", "crossbeam_os"] {
                let mut best = Vec::new();
                g.bench_function(system, |b| {
                    b.iter_custom(|iters| {
                        let t = batched(iters, n, |n| match (work, system) {
                            ("rx", "goro_green") => goro_rx(&rt, cap.bound(), n),
                            ("rx", _) => cb_rx(cap.bound(), n),
                            (_, "goro_green") => goro_both(&rt, cap.bound(), n),
                            _ => cb_both(cap.bound(), n),
                        });
                        best.push(t.as_nanos() as f64 / iters as f64);
                        t
                    })
                });
                if !best.is_empty() {
                    best.sort_by(f64::total_cmp);
                    medians.insert(
                        format!("{name}/{}/{system}", cap.name()),
                        best[best.len() / 2],
                    );
                }
            }
            g.finish();
        }
    }
    c.final_summary();
    if medians.is_empty() {
        return; // `--test` or a filter that matched nothing
    }
    let go = if std::env::var("GORO_BENCH_GO").is_ok_and(|v| v == "1") {
        run_go().unwrap_or_else(|why| {
            println!("{why}");
            HashMap::new()
        })
    } else {
        HashMap::new()
    };
    let mut table = String::from(
        "| workload | capacity | goro green (ns/msg) | crossbeam OS | Go | goro/crossbeam | goro/Go |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (work, name) in [("rx", "select_rx"), ("both", "select_both")] {
        for cap in Cap::ALL {
            let g = medians.get(&format!("{name}/{}/goro_green", cap.name()));
            let cb = medians.get(&format!("{name}/{}/crossbeam_os", cap.name()));
            let gov = cap
                .bound()
                .and_then(|b| go.get(&format!("{work} cap={b}")).copied());
            let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            let r = |a: Option<&f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}", a / b),
                _ => "-".to_string(),
            };
            table += &format!(
                "| {name} | {} | {} | {} | {} | {} | {} |\n",
                cap.name(),
                f(g.copied()),
                f(cb.copied()),
                f(gov),
                r(g, cb.copied()),
                r(g, gov),
            );
        }
    }
    println!("\n{table}");
    let _ = std::fs::write(go::target_dir().join("select.md"), &table);
}
