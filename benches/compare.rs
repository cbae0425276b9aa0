//! The comparison harness of issue 6: every workload of goro's benchmarks
//! for every system that has it, in one run, written up as
//! `docs/bench.md` (ns per operation, goro's ratio to each peer) and
//! `docs/bench.svg` (a grouped bar chart of those ratios).
//!
//! Systems (columns): goro (green threads), Go (`benches/go`, built with
//! `go build`; GOMAXPROCS as the goro worker count), may, tokio,
//! crossbeam-channel, flume and std (`std::sync::mpsc`; `std::thread` for
//! spawn). crossbeam-channel, flume and std run on OS threads. A system
//! without the workload gets a dash.
//!
//! Workloads (rows), each with one size for every system:
//! - `spawn`: spawn + run + complete of a batch of trivial green threads
//!   on 2 workers, the spawner waiting for all (ns per green thread);
//! - `yield switch`: two green threads alternately yielding on 1 worker (ns
//!   per switch);
//! - `ping-pong, 1 worker` / `2 workers`: round trips over two unbuffered
//!   channels (ns per round trip; the OS-thread channels in the 2-worker
//!   row, as two OS threads on 2 cores);
//! - `parked`: N green threads parked on one event, each system in a child
//!   process of its own: KiB per parked green thread (RSS + page tables),
//!   and the time to wake them all (ns per green thread);
//! - `chan <capacity> <workload>`: the crossbeam-channel matrix (seq, spsc,
//!   mpsc, mpmc; capacities 0, 1, 1000 and unbounded; ns per message);
//! - `select_rx` / `select_both` per capacity (ns per message);
//! - `sleep`: N green threads each sleeping 1 ms at once (ms until the
//!   last woke);
//! - `sieve`: the concurrent prime sieve to the 5000th prime (ms).
//!
//! Each cell runs once to warm up, then `REPS` times; the table shows the
//! median. The workloads themselves live in `benches/support/*.rs`, shared
//! with the criterion benches.
//!
//! Run: `GORO_BENCH_GO=1 cargo bench --bench compare` (about 5 to 10
//! minutes on 2 cores; `GORO_BENCH_FULL=1` for the issues' full sizes,
//! much longer). Without `--bench` (`cargo test --benches`) it is a smoke
//! run with tiny sizes that writes nothing.

#[path = "support/chan.rs"]
mod chan;
#[path = "support/go.rs"]
mod go;
#[path = "support/parked.rs"]
mod parked;
#[path = "support/report.rs"]
mod report;
#[path = "support/runtime.rs"]
mod runtime;
#[path = "support/select.rs"]
mod select;
#[path = "support/time.rs"]
mod time;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chan::{Cap, Crossbeam, Flume, StdSync, Work};
use goro::runtime::Runtime;

/// The command that regenerates `docs/bench.md` and `docs/bench.svg`.
const COMMAND: &str = "GORO_BENCH_GO=1 cargo bench --bench compare";

/// The argument that makes this binary a child measuring one may case.
const MAY_CHILD_ARG: &str = "--may-child";
/// First argument of a child process that runs one goro sieve.
const SIEVE_CHILD_ARG: &str = "--sieve-child";

/// The columns, in order; goro first.
const SYSTEMS: [&str; 7] = [
    "goro",
    "Go",
    "may",
    "tokio",
    "crossbeam-channel",
    "flume",
    "std",
];
const GORO: usize = 0;
const GO: usize = 1;
const MAY: usize = 2;
const TOKIO: usize = 3;
const CROSSBEAM: usize = 4;
const FLUME: usize = 5;
const STD: usize = 6;

/// The sizes of one run.
#[derive(Clone, Copy)]
struct Sizes {
    /// Measured repetitions per cell (after one warm-up).
    reps: usize,
    spawn: usize,
    /// Yields per green thread (two of them).
    yields: usize,
    round_trips: usize,
    parked: usize,
    /// Messages per cell, capacities 0 and 1.
    msgs_small: usize,
    /// Messages per cell, capacities 1000 and unbounded.
    msgs: usize,
    sleepers: usize,
    primes: usize,
    /// Repetitions of the sieve (it takes seconds).
    sieve_reps: usize,
    /// Repetitions of each Go mode (`-reps`; Go's own warm-up first).
    go_reps: usize,
}

impl Sizes {
    fn new(bench: bool) -> Sizes {
        let full = std::env::var("GORO_BENCH_FULL").is_ok_and(|v| v == "1");
        if !bench {
            return Sizes {
                reps: 1,
                spawn: 100,
                yields: 100,
                round_trips: 100,
                parked: 100,
                msgs_small: 400,
                msgs: 400,
                sleepers: 100,
                primes: 50,
                sieve_reps: 1,
                go_reps: 1,
            };
        }
        Sizes {
            reps: 5,
            spawn: if full { 100_000 } else { 10_000 },
            yields: if full { 5_000_000 } else { 500_000 },
            round_trips: if full { 1_000_000 } else { 50_000 },
            parked: if full { 1_000_000 } else { 100_000 },
            msgs_small: if full { 5_000_000 } else { 50_000 },
            msgs: if full { 5_000_000 } else { 200_000 },
            sleepers: 100_000,
            primes: 5000,
            sieve_reps: 3,
            go_reps: MAX_REPS,
        }
    }

    fn msgs_for(&self, cap: Cap) -> usize {
        match cap {
            Cap::Zero | Cap::One => self.msgs_small,
            Cap::N | Cap::Unbounded => self.msgs,
        }
    }
}

/// One row of the table: the value per system (lower is better).
struct Row {
    name: String,
    unit: &'static str,
    size: String,
    cells: [Option<f64>; 7],
}

impl Row {
    fn new(name: impl Into<String>, unit: &'static str, size: usize) -> Row {
        Row {
            name: name.into(),
            unit,
            size: group_digits(size),
            cells: [None; 7],
        }
    }
}

/// `1234567` as `1,234,567`.
fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Most runs of one cell: a cheap cell runs up to this many times, so its
/// median shrugs off the other loads of a shared machine.
const MAX_REPS: usize = 21;

/// A cell runs more than `reps` times (up to `MAX_REPS`) while its runs
/// have taken less than this.
const BUDGET: Duration = Duration::from_secs(1);

/// Runs `f` once to warm up, then at least `reps` times, and more (up to
/// `MAX_REPS`) while within `BUDGET`: the median of what it returns. With
/// `reps` below 5 (the smoke run, the sieve) it runs exactly `reps` times.
fn measure(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    f();
    let budget = if reps >= 5 { BUDGET } else { Duration::ZERO };
    let start = Instant::now();
    let mut xs = Vec::new();
    while xs.len() < reps.max(1) || (xs.len() < MAX_REPS && start.elapsed() < budget) {
        xs.push(f());
    }
    median(xs)
}

/// ns per operation of a batch of `n` taking `d`.
fn per_op(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn progress(what: &str) {
    eprintln!("compare: {what}");
}

/// Why cells are missing (a failed system), listed under the table.
static NOTES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Reports why a cell is missing, now and under the table.
fn note(why: String) {
    eprintln!("compare: {why}");
    NOTES.lock().unwrap().push(why);
}

// ===== Go =====

/// One output line of the Go program: its bare words (`chan`, `spsc`) and
/// its `key=value` pairs.
struct GoLine {
    words: Vec<String>,
    fields: HashMap<String, String>,
}

impl GoLine {
    fn parse(line: &str) -> GoLine {
        let mut words = Vec::new();
        let mut fields = HashMap::new();
        for w in line.split_whitespace() {
            match w.split_once('=') {
                Some((k, v)) => {
                    fields.insert(k.to_string(), v.to_string());
                }
                None => words.push(w.to_string()),
            }
        }
        GoLine { words, fields }
    }

    fn has(&self, words: &[&str], fields: &[(&str, &str)]) -> bool {
        words.iter().all(|w| self.words.iter().any(|x| x == w))
            && fields
                .iter()
                .all(|(k, v)| self.fields.get(*k).is_some_and(|x| x == v))
    }

    fn num(&self, key: &str) -> Option<f64> {
        self.fields.get(key)?.parse().ok()
    }
}

/// The built Go program and the lines of every mode run so far.
struct Go {
    bin: PathBuf,
    lines: Vec<GoLine>,
}

impl Go {
    /// Runs one mode with `GOMAXPROCS=procs`, keeping its lines.
    fn run(&mut self, procs: usize, reps: usize, mode: &str, n: usize) {
        progress(&format!("Go {mode} {n}"));
        let out = Command::new(&self.bin)
            .args(["-reps", &reps.to_string(), mode, &n.to_string()])
            .env("GOMAXPROCS", procs.to_string())
            .stderr(Stdio::inherit())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                for line in String::from_utf8_lossy(&o.stdout).lines() {
                    self.lines.push(GoLine::parse(line));
                }
            }
            Ok(o) => note(format!("Go {mode} failed: {}", o.status)),
            Err(e) => note(format!("Go {mode}: {e}")),
        }
    }

    /// `key` of every line with these words.
    fn all(&self, words: &[&str], key: &str) -> Vec<f64> {
        self.lines
            .iter()
            .filter(|l| l.has(words, &[]))
            .filter_map(|l| l.num(key))
            .collect()
    }

    /// `key` of the first line with these words and fields.
    fn get(&self, words: &[&str], fields: &[(&str, &str)], key: &str) -> Option<f64> {
        self.lines
            .iter()
            .find(|l| l.has(words, fields))
            .and_then(|l| l.num(key))
    }
}

// ===== Child processes (may's global configuration, parked memory) =====

/// Runs this binary again with `args`; its stdout, or why not (killed
/// after `timeout`).
fn run_self(args: &[String], timeout: Duration) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(s) => break s,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {timeout:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        use std::io::Read;
        let _ = o.read_to_string(&mut out);
    }
    if status.success() {
        Ok(out)
    } else {
        Err(status.to_string())
    }
}

/// In a child: one may case, printing `may <median>`.
fn may_child(case: &str, n: usize, reps: usize) {
    let v = match case {
        "yield" => {
            may::config().set_workers(1);
            measure(reps, || per_op(runtime::may_yield(n as u64), 2 * n))
        }
        "spawn" => {
            may::config().set_workers(2);
            measure(reps, || per_op(runtime::may_spawn(n), n))
        }
        other => panic!("unknown may case {other}"),
    };
    println!("may {v}");
}

/// may's figure for `case`, from a child process.
fn may_cell(case: &str, n: usize, reps: usize) -> Option<f64> {
    progress(&format!("may {case}"));
    let args = [MAY_CHILD_ARG, case, &n.to_string(), &reps.to_string()].map(String::from);
    child_figure(
        &args,
        "may ",
        Duration::from_secs(180),
        &format!("may {case}"),
    )
}

/// The number a child process (this binary run with `args`) printed after
/// `prefix`; `None`, noted under the table as `what`, if it failed.
fn child_figure(args: &[String], prefix: &str, timeout: Duration, what: &str) -> Option<f64> {
    match run_self(args, timeout) {
        Ok(out) => out
            .lines()
            .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok()),
        Err(why) => {
            note(format!("{what}: {why}"));
            None
        }
    }
}

/// KiB per parked green thread and ns to wake each, for one system.
fn parked_cell(outcome: parked::Outcome, n: usize, system: &str) -> (Option<f64>, Option<f64>) {
    match outcome {
        parked::Outcome::Done(m) => (Some(m.kib_per_parked), Some(m.wake_ms * 1e6 / n as f64)),
        parked::Outcome::Failed(why) => {
            note(format!("parked {system}: {why}"));
            (None, None)
        }
    }
}

// ===== Workloads not shared with another bench =====

/// The concurrent prime sieve on goro green threads: the time to find the
/// `n`-th prime, and the last receiver (while it lives, the chain goes on
/// sieving in the background until it clogs, as Go's does; dropping it
/// would make the chain unwind by sieving on past the `n`-th prime). So
/// each measured run has a process of its own ([`sieve_cell`]).
fn goro_sieve(rt: &Runtime, n: usize) -> (Duration, goro::Receiver<u64>) {
    rt.block_on(move || {
        let start = Instant::now();
        let (tx, mut rx) = goro::bounded::<u64>(0);
        goro::go!(move || {
            for i in 2.. {
                if tx.send(i).is_err() {
                    return;
                }
            }
        });
        let mut prime = 0;
        for _ in 0..n {
            prime = rx.recv().expect("the sieve never ends");
            let (tx2, rx2) = goro::bounded(0);
            goro::go!(move || {
                for i in rx {
                    if i % prime != 0 && tx2.send(i).is_err() {
                        return;
                    }
                }
            });
            rx = rx2;
        }
        let t = start.elapsed();
        if n == 5000 {
            assert_eq!(prime, 48611);
        }
        (t, rx)
    })
}

/// Child process: one goro sieve run on 2 workers; prints `sieve <ms>` and
/// exits without unwinding the chain.
fn sieve_child(n: usize) -> ! {
    let rt = goro_rt(2);
    let (t, _rx) = goro_sieve(&rt, n);
    println!("sieve {}", ms(t));
    std::process::exit(0)
}

/// The median of `reps` goro sieve runs, each in a child process (no
/// warm-up: a run takes seconds, and a finished run's chain keeps a
/// process busy).
fn sieve_cell(n: usize, reps: usize) -> Option<f64> {
    let args = [SIEVE_CHILD_ARG, &n.to_string()].map(String::from);
    let xs: Vec<f64> = (0..reps.max(1))
        .filter_map(|_| child_figure(&args, "sieve ", Duration::from_secs(600), "goro sieve"))
        .collect();
    (!xs.is_empty()).then(|| median(xs))
}

// ===== The run =====

fn goro_rt(workers: usize) -> Runtime {
    goro::runtime::Builder::new()
        .workers(workers)
        .build()
        .expect("goro runtime")
}

fn run_all(sz: Sizes, go: &mut Option<Go>) -> Vec<Row> {
    let reps = sz.reps;
    let rt1 = goro_rt(1);
    let rt2 = goro_rt(2);
    let tokio1 = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let tokio2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let mut rows = Vec::new();

    // spawn
    progress("spawn");
    let mut row = Row::new("spawn", "ns/green thread", sz.spawn);
    let n = sz.spawn;
    row.cells[GORO] = Some(measure(reps, || per_op(runtime::goro_spawn(&rt2, n), n)));
    row.cells[TOKIO] = Some(measure(reps, || {
        per_op(runtime::tokio_spawn(&tokio2, n), n)
    }));
    row.cells[STD] = Some(measure(reps, || per_op(runtime::std_spawn(n), n)));
    row.cells[MAY] = may_cell("spawn", n, reps);
    if let Some(g) = go.as_mut() {
        g.run(2, sz.go_reps, "spawn", n);
        row.cells[GO] = g.get(&["spawn"], &[], "ns_per_goroutine");
    }
    rows.push(row);

    // yield switch
    progress("yield switch");
    let per = sz.yields;
    let mut row = Row::new("yield switch, 1 worker", "ns/switch", 2 * per);
    row.cells[GORO] = Some(measure(reps, || {
        per_op(runtime::goro_yield(&rt1, per as u64), 2 * per)
    }));
    row.cells[TOKIO] = Some(measure(reps, || {
        per_op(runtime::tokio_yield(&tokio1, per as u64), 2 * per)
    }));
    row.cells[MAY] = may_cell("yield", per, reps);
    if let Some(g) = go.as_mut() {
        g.run(1, sz.go_reps, "gosched", per);
        row.cells[GO] = g.get(&["gosched"], &[], "ns_per_switch");
    }
    rows.push(row);

    // ping-pong
    progress("ping-pong");
    let n = sz.round_trips;
    if let Some(g) = go.as_mut() {
        g.run(2, sz.go_reps, "pingpong", n);
    }
    for (workers, rt) in [(1, &rt1), (2, &rt2)] {
        let name = if workers == 1 {
            "ping-pong, 1 worker".to_string()
        } else {
            "ping-pong, 2 workers".to_string()
        };
        let mut row = Row::new(name, "ns/round trip", n);
        row.cells[GORO] = Some(measure(reps, || per_op(chan::goro_ping_pong(rt, n), n)));
        if let Some(g) = go.as_ref() {
            let procs = workers.to_string();
            row.cells[GO] = g.get(&["pingpong"], &[("procs", &procs)], "ns_per_roundtrip");
        }
        if workers == 2 {
            row.cells[CROSSBEAM] = Some(measure(reps, || {
                per_op(chan::os_ping_pong::<Crossbeam>(n), n)
            }));
            row.cells[FLUME] = Some(measure(reps, || per_op(chan::os_ping_pong::<Flume>(n), n)));
            row.cells[STD] = Some(measure(reps, || {
                per_op(chan::os_ping_pong::<StdSync>(n), n)
            }));
        }
        rows.push(row);
    }

    // parked
    let n = sz.parked;
    let mut mem = Row::new("parked: memory", "KiB/parked", n);
    let mut wake = Row::new("parked: wake all", "ns/green thread", n);
    for (col, key) in [(GORO, "goro"), (MAY, "may"), (TOKIO, "tokio")] {
        progress(&format!("parked {key}"));
        let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
        cmd.arg(parked::CHILD_ARG).arg(key).arg(n.to_string());
        (mem.cells[col], wake.cells[col]) = parked_cell(parked::run_child(cmd), n, key);
    }
    if let Some(g) = go.as_ref() {
        progress("parked Go");
        let mut cmd = Command::new(&g.bin);
        cmd.arg("parked").arg(n.to_string()).env("GOMAXPROCS", "2");
        (mem.cells[GO], wake.cells[GO]) = parked_cell(parked::run_child(cmd), n, "Go");
    }
    rows.push(mem);
    rows.push(wake);

    // the channel matrix
    if let Some(g) = go.as_mut() {
        g.run(2, sz.go_reps, "chan", sz.msgs_small);
        if sz.msgs != sz.msgs_small {
            g.run(2, sz.go_reps, "chan", sz.msgs);
        }
    }
    for cap in [Cap::Zero, Cap::One, Cap::N, Cap::Unbounded] {
        let n = sz.msgs_for(cap) / chan::THREADS * chan::THREADS;
        for work in Work::ALL {
            if !work.applies(cap) {
                continue;
            }
            let name = format!("chan {} {}", cap.name(), work.name());
            progress(&name);
            let mut row = Row::new(name, "ns/msg", n);
            row.cells[GORO] = Some(measure(reps, || {
                per_op(chan::green_cell(&rt2, work, cap, n), n)
            }));
            row.cells[CROSSBEAM] = Some(measure(reps, || {
                per_op(chan::os_cell::<Crossbeam>(work, cap, n), n)
            }));
            row.cells[FLUME] = Some(measure(reps, || {
                per_op(chan::os_cell::<Flume>(work, cap, n), n)
            }));
            if matches!(work, Work::Spsc | Work::Mpsc) {
                row.cells[STD] = Some(measure(reps, || per_op(chan::std_cell(work, cap, n), n)));
            }
            if let (Some(g), Some(b)) = (go.as_ref(), cap.bound()) {
                let (b, n) = (b.to_string(), n.to_string());
                row.cells[GO] = g.get(
                    &["chan", work.name()],
                    &[("cap", &b), ("n", &n)],
                    "ns_per_msg",
                );
            }
            rows.push(row);
        }
    }

    // select
    if let Some(g) = go.as_mut() {
        g.run(2, sz.go_reps, "select", sz.msgs_small);
        if sz.msgs != sz.msgs_small {
            g.run(2, sz.go_reps, "select", sz.msgs);
        }
    }
    for (work, label) in [("rx", "select_rx"), ("both", "select_both")] {
        for cap in [Cap::Zero, Cap::One, Cap::N, Cap::Unbounded] {
            let n = sz.msgs_for(cap) / select::THREADS * select::THREADS;
            let name = format!("{label} {}", cap.name());
            progress(&name);
            let mut row = Row::new(name, "ns/msg", n);
            let bound = cap.bound();
            row.cells[GORO] = Some(measure(reps, || {
                let d = if work == "rx" {
                    select::goro_rx(&rt2, bound, n)
                } else {
                    select::goro_both(&rt2, bound, n)
                };
                per_op(d, n)
            }));
            row.cells[CROSSBEAM] = Some(measure(reps, || {
                let d = if work == "rx" {
                    select::cb_rx(bound, n)
                } else {
                    select::cb_both(bound, n)
                };
                per_op(d, n)
            }));
            if let (Some(g), Some(b)) = (go.as_ref(), bound) {
                let (b, n) = (b.to_string(), n.to_string());
                row.cells[GO] = g.get(&["select", work], &[("cap", &b), ("n", &n)], "ns_per_msg");
            }
            rows.push(row);
        }
    }

    // sleep
    progress("sleep");
    let n = sz.sleepers;
    let mut row = Row::new("sleep 1 ms, all at once", "ms", n);
    row.cells[GORO] = Some(measure(reps, || ms(time::goro_round(&rt2, n))));
    row.cells[TOKIO] = Some(measure(reps, || ms(time::tokio_round(&tokio2, n))));
    if let Some(g) = go.as_mut() {
        g.run(2, sz.go_reps, "sleep", n);
        row.cells[GO] = g.get(&["sleep"], &[], "ms");
    }
    rows.push(row);

    // sieve
    progress("sieve");
    let n = sz.primes;
    let mut row = Row::new("sieve", "ms", n);
    row.cells[GORO] = sieve_cell(n, sz.sieve_reps);
    if let Some(g) = go.as_mut() {
        // One run per process, as for goro (`sieve_cell`).
        for _ in 0..sz.sieve_reps.max(1) {
            g.run(2, 1, "sieve", n);
        }
        let xs = g.all(&["sieve"], "ms");
        row.cells[GO] = (!xs.is_empty()).then(|| median(xs));
    }
    rows.push(row);
    rows
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(a) if a == parked::CHILD_ARG => {
            let system = args.get(2).expect("child: system");
            let n = args.get(3).and_then(|s| s.parse().ok()).expect("child: N");
            parked::child(system, n);
            return;
        }
        Some(a) if a == SIEVE_CHILD_ARG => {
            sieve_child(args.get(2).and_then(|s| s.parse().ok()).expect("N"));
        }
        Some(a) if a == MAY_CHILD_ARG => {
            let num = |i: usize| -> usize { args.get(i).and_then(|s| s.parse().ok()).expect("N") };
            may_child(&args[2], num(3), num(4));
            return;
        }
        _ => {}
    }
    let bench = args.iter().any(|a| a == "--bench");
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let full = std::env::var("GORO_BENCH_FULL").is_ok_and(|v| v == "1");
    let sz = Sizes::new(bench);
    let load_before = report::load_average();
    let target = go::target_dir();
    let want_go = bench && std::env::var("GORO_BENCH_GO").is_ok_and(|v| v == "1");
    let mut go = if want_go {
        match go::build_go(&target) {
            Ok(bin) => Some(Go {
                bin,
                lines: Vec::new(),
            }),
            Err(why) => {
                note(why);
                None
            }
        }
    } else {
        None
    };
    let started = Instant::now();
    let rows = run_all(sz, &mut go);
    eprintln!("compare: measured in {:.0?}", started.elapsed());
    if !bench {
        return;
    }
    let env = report::Env {
        date: report::first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: report::first_line("uname", &["-m"]),
        cpu: report::cpu_model(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        load_after: report::load_average(),
        rustc: report::first_line("rustc", &["--version"]),
        go: if go.is_some() {
            report::first_line("go", &["version"])
        } else {
            "Go not run (set GORO_BENCH_GO=1)".to_string()
        },
        crates: report::crate_versions(),
    };
    let md = report::markdown(&rows, &env, sz, full);
    println!("{md}");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    if let Err(e) = std::fs::create_dir_all(&docs) {
        eprintln!("compare: cannot create {}: {e}", docs.display());
        return;
    }
    let md_path = docs.join("bench.md");
    match std::fs::write(&md_path, &md) {
        Ok(()) => eprintln!("compare: wrote {}", md_path.display()),
        Err(e) => eprintln!("compare: cannot write {}: {e}", md_path.display()),
    }
    let svg_path = docs.join("bench.svg");
    let title = format!(
        "goro / peer, lower is better for goro ({}, {}, {} cores)",
        env.date, env.machine, env.cores
    );
    match report::chart(&rows, &svg_path, &title) {
        Ok(()) => eprintln!("compare: wrote {}", svg_path.display()),
        Err(e) => eprintln!("compare: cannot draw {}: {e}", svg_path.display()),
    }
}
