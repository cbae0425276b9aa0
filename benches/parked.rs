//! The "1,000,000 parked green threads" benchmark of issue 2, goro beside
//! may, tokio and Go in one run.
//!
//! For each system, in its own child process (this binary re-executed with
//! `--parked-child <system> <N>`, so each resident-memory figure is that
//! system's alone), on 2 workers:
//! 1. spawn N green threads (coroutines, tasks, goroutines) that each count
//!    their arrival and then park on one shared one-shot event (goro and
//!    Go: a receive on an unbuffered channel; may: a `SyncFlag`; tokio: a
//!    `Notify`);
//!    "spawn ms" runs until all N have arrived;
//! 2. after 20 ms more (for the last arrivals to park), read `VmRSS` +
//!    `VmPTE` from `/proc/self/status`, subtract the figure read before
//!    spawning, divide by N: "KiB per parked";
//! 3. open the event (`Sender::close` and `close(ch)`, `SyncFlag::fire`,
//!    `Notify::notify_waiters`); "wake ms" runs until all N
//!    have finished (a countdown; the last one wakes the spawner).
//!
//! goro runs twice: with the default stack size and with 64 KiB stacks. A
//! system that fails (may runs out of memory maps under the default
//! `vm.max_map_count`: two per stack) is reported as failed, with its
//! error. Go's side is `benches/go/main.go` (`parked N`), built with
//! `go build` when `go` is on the PATH.
//!
//! Run: `cargo bench --bench parked` (N = 1,000,000; `PARKED_N=100000` to
//! override; a further argument keeps only the systems whose name contains
//! it, e.g. `cargo bench --bench parked -- goro`). The markdown table is
//! printed and written to `target/parked.md`. Without `--bench` (e.g.
//! under `cargo test --benches`) it is a smoke run: N = 1,000, no Go, no
//! file.

#[path = "support/go.rs"]
mod go;

#[path = "support/parked.rs"]
mod parked;

use std::process::Command;

use parked::{CHILD_ARG, Outcome, child, run_child};

/// The systems measured, in table order: (key, label).
const SYSTEMS: &[(&str, &str)] = &[
    ("goro", "goro (default stack)"),
    ("goro-64k", "goro (64 KiB stack)"),
    ("may", "may (default 32 KiB stack)"),
    ("tokio", "tokio"),
    ("go", "Go"),
];

fn go_version() -> Option<String> {
    let out = Command::new("go").arg("version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_ARG) {
        let system = args.get(2).expect("child: system");
        let n = args.get(3).and_then(|s| s.parse().ok()).expect("child: N");
        child(system, n);
        return;
    }

    let bench = args.iter().any(|a| a == "--bench");
    let filter = args.iter().skip(1).find(|a| !a.starts_with("--"));
    let n: usize = match std::env::var("PARKED_N") {
        Ok(v) => v.parse().expect("PARKED_N must be a positive integer"),
        Err(_) if bench => 1_000_000,
        Err(_) => 1_000,
    };
    assert!(n > 0, "PARKED_N must be a positive integer");
    let target = go::target_dir();
    let exe = std::env::current_exe().expect("current_exe");

    let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".to_string());
    let mut table = String::new();
    table.push_str(&format!(
        "N parked at once on one event, 2 workers, vm.max_map_count = {max_map_count}{}\n\n",
        if bench { "" } else { " (smoke run)" }
    ));
    table.push_str("| system | N | spawn ms | KiB per parked (RSS+PTE) | wake ms |\n");
    table.push_str("|---|---:|---:|---:|---:|\n");
    print!("{table}");
    let mut notes = Vec::new();

    for &(key, label) in SYSTEMS {
        if filter.is_some_and(|f| !key.contains(f.as_str())) {
            continue;
        }
        let outcome = if key == "go" {
            if !bench {
                continue;
            }
            match go::build_go(&target) {
                Ok(bin) => {
                    if let Some(v) = go_version() {
                        notes.push(v);
                    }
                    let mut cmd = Command::new(bin);
                    cmd.arg("parked").arg(n.to_string()).env("GOMAXPROCS", "2");
                    run_child(cmd)
                }
                Err(why) => {
                    println!("{why}");
                    notes.push(why);
                    continue;
                }
            }
        } else {
            let mut cmd = Command::new(&exe);
            cmd.arg(CHILD_ARG).arg(key).arg(n.to_string());
            run_child(cmd)
        };
        let row = match outcome {
            Outcome::Done(m) => format!(
                "| {label} | {n} | {:.0} | {:.2} | {:.0} |",
                m.spawn_ms, m.kib_per_parked, m.wake_ms
            ),
            Outcome::Failed(why) => format!("| {label} | {n} | failed: {why} | | |"),
        };
        println!("{row}");
        table.push_str(&row);
        table.push('\n');
    }
    for note in &notes {
        table.push_str(&format!("\n{note}\n"));
    }
    if bench {
        let path = target.join("parked.md");
        match std::fs::write(&path, &table) {
            Ok(()) => println!("\nwritten to {}", path.display()),
            Err(e) => println!("\ncannot write {}: {e}", path.display()),
        }
    }
}
