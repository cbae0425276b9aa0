//! Channel benchmarks of issue 3, goro beside its peers in one run
//! (criterion):
//!
//! - The crossbeam-channel matrix, `<capacity>/<workload>/<system>`:
//!   capacities `bounded_0`, `bounded_1`, `bounded_n` (1000) and
//!   `unbounded`; workloads `seq` (one thread sends then receives; for
//!   `bounded_n` in rounds of 1000 sends then 1000 receives, as the buffer
//!   holds no more; none for `bounded_0` and `bounded_1`), `spsc` (1 sender,
//!   1 receiver), `mpsc` (4 senders, 1 receiver) and `mpmc` (4 senders, 4
//!   receivers). Systems: `goro_green` (the senders and receivers are green
//!   threads of one 2-worker goro runtime, the receiver of spsc/mpsc being
//!   the `block_on` root, as Go's main goroutine), `goro_os` (the same
//!   channels between OS threads), `crossbeam`, `flume` and `std` (spsc and
//!   mpsc only: `sync_channel(0)`, `sync_channel(n)`, `channel()`), all on
//!   OS threads (`std::thread::scope`). Messages are `usize`; a batch is
//!   200,000 messages, 50,000 for capacities 0 and 1 (5,000,000 for all
//!   with `GORO_BENCH_FULL=1`, the figure); the reported time is
//!   per message. Each batch checks that every message arrived.
//! - `ping_pong/{goro_1_worker,goro_2_workers,crossbeam_os}`: two green
//!   threads (OS threads for crossbeam) bounce a `usize` over two unbuffered
//!   channels; a batch is 50,000 round trips (1,000,000 with
//!   `GORO_BENCH_FULL=1`); the reported time is per round trip.
//!
//! After the criterion groups (under `cargo bench`, not `--test`), a
//! markdown table of the medians side by side (with the ratios goro
//! green / Go and goro OS / crossbeam) is printed and written to
//! `<target>/chan.md`. With `GORO_BENCH_GO=1` and `go` on PATH, Go's figures
//! for the same cells (`benches/go`: `chan` and `pingpong`, same N) are run
//! first and added to it, so one command shows everything.
//!
//! Run: `GORO_BENCH_GO=1 cargo bench --bench chan` (about 5 minutes on 2
//! cores, much more with `GORO_BENCH_FULL=1`; a filter works as usual, e.g. `cargo bench --bench chan --
//! bounded_0/`). Go alone: `benches/go/run.sh`.

#[path = "support/chan.rs"]
mod chan;
#[path = "support/go.rs"]
mod go;

use chan::{
    Cap, Crossbeam, Flume, Goro, Work, crossbeam_ping_pong, goro_ping_pong, green_cell, os_cell,
    std_cell,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};

fn full() -> bool {
    std::env::var("GORO_BENCH_FULL").is_ok_and(|v| v == "1")
}

/// Messages per batch of the matrix's cells of capacity `cap` (a multiple
/// of `THREADS`). By default a quarter for capacities 0 and 1: there a
/// hand-off between OS threads costs microseconds on a loaded 2-core
/// machine, and criterion's 10 samples of whole batches would take minutes.
fn messages(cap: Cap) -> usize {
    match cap {
        _ if full() => 5_000_000,
        Cap::Zero | Cap::One => 50_000,
        Cap::N | Cap::Unbounded => 200_000,
    }
}

/// Round trips per ping-pong batch.
fn round_trips() -> usize {
    if full() { 1_000_000 } else { 50_000 }
}

/// Criterion counts one iteration per message (round trip). A sample runs
/// whole batches of `n` (at least one, as close to `iters` as whole batches
/// get) and scales the time to `iters`, so every batch moves `n` messages.
fn batched(iters: u64, n: usize, mut batch: impl FnMut(usize) -> Duration) -> Duration {
    let batches = ((iters as f64 / n as f64).round() as u64).max(1);
    let mut total = Duration::ZERO;
    for _ in 0..batches {
        total += batch(n);
    }
    total.mul_f64(iters as f64 / (batches * n as u64) as f64)
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    let measure = if full() { 10.0 } else { 1.5 };
    g.sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs_f64(measure))
        .sample_size(10);
    g
}

fn matrix(c: &mut Criterion, rt: &goro::runtime::Runtime) {
    for cap in Cap::ALL {
        let n = messages(cap);
        for work in Work::ALL {
            if !work.applies(cap) {
                continue;
            }
            let mut g = group(c, &format!("{}/{}", cap.name(), work.name()));
            g.bench_function("goro_green", |b| {
                b.iter_custom(|iters| batched(iters, n, |n| green_cell(rt, work, cap, n)))
            });
            g.bench_function("goro_os", |b| {
                b.iter_custom(|iters| batched(iters, n, |n| os_cell::<Goro>(work, cap, n)))
            });
            g.bench_function("crossbeam", |b| {
                b.iter_custom(|iters| batched(iters, n, |n| os_cell::<Crossbeam>(work, cap, n)))
            });
            g.bench_function("flume", |b| {
                b.iter_custom(|iters| batched(iters, n, |n| os_cell::<Flume>(work, cap, n)))
            });
            if matches!(work, Work::Spsc | Work::Mpsc) {
                g.bench_function("std", |b| {
                    b.iter_custom(|iters| batched(iters, n, |n| std_cell(work, cap, n)))
                });
            }
            g.finish();
        }
    }
}

fn ping_pong(c: &mut Criterion, rt2: &goro::runtime::Runtime) {
    let n = round_trips();
    let rt1 = goro::runtime::Builder::new()
        .workers(1)
        .build()
        .expect("goro runtime");
    let mut g = group(c, "ping_pong");
    g.bench_function("goro_1_worker", |b| {
        b.iter_custom(|iters| batched(iters, n, |n| goro_ping_pong(&rt1, n)))
    });
    g.bench_function("goro_2_workers", |b| {
        b.iter_custom(|iters| batched(iters, n, |n| goro_ping_pong(rt2, n)))
    });
    g.bench_function("crossbeam_os", |b| {
        b.iter_custom(|iters| batched(iters, n, crossbeam_ping_pong))
    });
    g.finish();
}

// ---- The side-by-side summary ----

/// Where criterion writes its results (as criterion finds it).
fn criterion_dir(target: &Path) -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(home) => PathBuf::from(home),
        None => target.join("criterion"),
    }
}

/// The median of `group/function` in ns per iteration, if this run
/// measured it (criterion's `new/estimates.json`, written after `since`).
fn median_ns(crit: &Path, group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = crit
        .join(group.replace('/', "_"))
        .join(function)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json = std::fs::read_to_string(&path).ok()?;
    let rest = &json[json.find("\"median\":")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

/// Go's figures, keyed like the table rows (`bounded_0/spsc`,
/// `ping_pong/1`, ...), plus Go's version.
struct GoFigures {
    ns: HashMap<String, f64>,
    version: String,
}

/// Runs Go's `chan` (N of the larger batches, for every cell: the per
/// message figure hardly depends on it) and `pingpong` (same N), echoing
/// their lines.
fn run_go(target: &Path) -> Result<GoFigures, String> {
    let bin = go::build_go(target)?;
    let version = Command::new("go")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("\n# {version}");
    let mut ns = HashMap::new();
    for (cmd, n) in [("chan", messages(Cap::N)), ("pingpong", round_trips())] {
        let out = Command::new(&bin)
            .arg(cmd)
            .arg(n.to_string())
            .output()
            .map_err(|e| format!("go bench: cannot run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "go bench {cmd} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("{line}");
            let mut words = line.split(' ');
            let kind = words.next().unwrap_or("");
            let mut fields = HashMap::new();
            let mut work = "";
            for w in words {
                match w.split_once('=') {
                    Some((k, v)) => {
                        fields.insert(k, v);
                    }
                    None => work = w,
                }
            }
            let key = match (kind, fields.get("cap"), fields.get("procs")) {
                ("chan", Some(&cap), _) => {
                    let cap = match cap {
                        "0" => Cap::Zero,
                        "1" => Cap::One,
                        _ => Cap::N,
                    };
                    format!("{}/{work}", cap.name())
                }
                ("pingpong", _, Some(&procs)) => format!("ping_pong/{procs}"),
                _ => continue,
            };
            let value = fields
                .get("ns_per_msg")
                .or_else(|| fields.get("ns_per_roundtrip"))
                .and_then(|v| v.parse::<f64>().ok());
            if let Some(v) = value {
                ns.insert(key, v);
            }
        }
    }
    Ok(GoFigures { ns, version })
}

fn fmt_ns(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    }
}

fn summary(since: SystemTime) {
    let target = go::target_dir();
    let crit = criterion_dir(&target);
    let go = if std::env::var("GORO_BENCH_GO").is_ok_and(|v| v == "1") {
        match run_go(&target) {
            Ok(g) => Some(g),
            Err(why) => {
                println!("{why}");
                None
            }
        }
    } else {
        None
    };
    let go_ns = |key: &str| go.as_ref().and_then(|g| g.ns.get(key).copied());

    let mut table = format!(
        "Channels: median ns per message; batches of {} messages ({} for capacities 0 and 1{}); \
         goro green on 2 workers, Go with GOMAXPROCS=2\n\n",
        messages(Cap::N),
        messages(Cap::Zero),
        if full() {
            ""
        } else {
            "; GORO_BENCH_FULL=1 for 5,000,000"
        }
    );
    table.push_str(
        "| cell | goro green | goro OS | crossbeam | flume | std | Go | green/Go | OS/crossbeam |\n",
    );
    table.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut any = false;
    for cap in Cap::ALL {
        for work in Work::ALL {
            if !work.applies(cap) {
                continue;
            }
            let cell = format!("{}/{}", cap.name(), work.name());
            let get = |f: &str| median_ns(&crit, &cell, f, since);
            let (green, os, cb) = (get("goro_green"), get("goro_os"), get("crossbeam"));
            let (fl, st) = (get("flume"), get("std"));
            if [green, os, cb, fl, st].iter().all(Option::is_none) {
                continue;
            }
            any = true;
            let go_v = go_ns(&cell);
            table.push_str(&format!(
                "| {cell} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                fmt_ns(green),
                fmt_ns(os),
                fmt_ns(cb),
                fmt_ns(fl),
                fmt_ns(st),
                fmt_ns(go_v),
                fmt_ratio(green, go_v),
                fmt_ratio(os, cb),
            ));
        }
    }
    table.push_str(&format!(
        "\nPing-pong: median ns per round trip, batches of {} round trips\n\n",
        round_trips()
    ));
    table.push_str("| workers | goro green | Go | green/Go | crossbeam OS threads |\n");
    table.push_str("|---|---:|---:|---:|---:|\n");
    let cb = median_ns(&crit, "ping_pong", "crossbeam_os", since);
    for (workers, f) in [(1, "goro_1_worker"), (2, "goro_2_workers")] {
        let green = median_ns(&crit, "ping_pong", f, since);
        if green.is_none() && cb.is_none() {
            continue;
        }
        any = true;
        let go_v = go_ns(&format!("ping_pong/{workers}"));
        table.push_str(&format!(
            "| {workers} | {} | {} | {} | {} |\n",
            fmt_ns(green),
            fmt_ns(go_v),
            fmt_ratio(green, go_v),
            fmt_ns(cb),
        ));
    }
    if let Some(g) = &go {
        table.push_str(&format!(
            "\nGo: {} (GOMAXPROCS=2 for the matrix)\n",
            g.version
        ));
    }
    if !any {
        return;
    }
    println!("\n{table}");
    let path = target.join("chan.md");
    match std::fs::write(&path, &table) {
        Ok(()) => println!("written to {}", path.display()),
        Err(e) => println!("cannot write {}: {e}", path.display()),
    }
}

fn main() {
    let since = SystemTime::now();
    let bench = std::env::args().any(|a| a == "--bench");
    let list = std::env::args().any(|a| a == "--list");
    let mut c = Criterion::default().configure_from_args();
    let rt = goro::runtime::Builder::new()
        .workers(2)
        .build()
        .expect("goro runtime");
    matrix(&mut c, &rt);
    ping_pong(&mut c, &rt);
    drop(rt);
    c.final_summary();
    if bench && !list {
        summary(since);
    }
}
