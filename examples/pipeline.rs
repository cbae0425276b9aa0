//! A pipeline with fan-out, fan-in and cancellation, after the Go blog's
//! "Go Concurrency Patterns: Pipelines and cancellation".
//!
//! ```text
//! generator --> squarer 1 --> forwarder 1 --\
//!           \-> squarer 2 --> forwarder 2 ---+--> consumer
//!           \-> ...       --> ...         --/
//! ```
//!
//! The generator sends 1, 2, 3, ... forever; N squarers take numbers from
//! it in parallel (fan-out) and send their squares on; one forwarder per
//! squarer merges their outputs into one channel (fan-in). The consumer
//! takes as many squares as it wants, then closes a `done` channel, Go's
//! `close(done)`. Every stage `select!`s on `done` next to each blocking
//! send or receive, so each one returns as soon as it is closed, wherever
//! it was blocked; the consumer then joins every stage and prints what
//! each did before it stopped.
//!
//! ```text
//! cargo run --release --example pipeline            # 1,000,000 squares, 4 squarers
//! cargo run --release --example pipeline -- 100 8   # 100 squares, 8 squarers
//! ```
//!
//! `cargo test --example pipeline` (or plain `cargo test`) runs it small.

use std::time::{Duration, Instant};

use goro::{JoinHandle, Receiver, Sender};

/// Sends `v` on `out` unless `done` is closed first; false means stop.
fn send_or_stop(out: &Sender<u64>, v: u64, done: &Receiver<()>) -> bool {
    goro::select! {
        send(out, v) -> res => res.is_ok(),
        recv(done) -> _ => false,
    }
}

/// Receives from `input` unless `done` is closed first (or `input` is).
fn recv_or_stop(input: &Receiver<u64>, done: &Receiver<()>) -> Option<u64> {
    goro::select! {
        recv(input) -> v => v.ok(),
        recv(done) -> _ => None,
    }
}

/// Sends 1, 2, 3, ... until `done` closes; returns how many it sent.
fn generate(out: Sender<u64>, done: Receiver<()>) -> u64 {
    let mut sent = 0;
    while send_or_stop(&out, sent + 1, &done) {
        sent += 1;
    }
    sent
}

/// Squares what it receives; returns how many it squared.
fn square(input: Receiver<u64>, out: Sender<u64>, done: Receiver<()>) -> u64 {
    let mut squared = 0;
    while let Some(v) = recv_or_stop(&input, &done) {
        if !send_or_stop(&out, v * v, &done) {
            break;
        }
        squared += 1;
    }
    squared
}

/// Copies `input` into the merged channel; returns how many it copied.
fn forward(input: Receiver<u64>, out: Sender<u64>, done: Receiver<()>) -> u64 {
    let mut forwarded = 0;
    while let Some(v) = recv_or_stop(&input, &done) {
        if !send_or_stop(&out, v, &done) {
            break;
        }
        forwarded += 1;
    }
    forwarded
}

/// Spawns a named stage.
fn stage(name: String, f: impl FnOnce() -> u64 + Send + 'static) -> (String, JoinHandle<u64>) {
    let h = goro::Builder::new()
        .name(name.clone())
        .spawn(f)
        .expect("spawn a stage");
    (name, h)
}

/// What the pipeline did.
#[derive(Debug)]
struct Report {
    /// The squares the consumer took, in the order it got them.
    received: Vec<u64>,
    /// Each stage's name and how many values it handled before it stopped.
    stopped: Vec<(String, u64)>,
    /// From the start until the consumer closed `done`.
    elapsed: Duration,
    /// From closing `done` until every stage was joined.
    stop_latency: Duration,
}

/// Runs the pipeline with `squarers` parallel squarers until the consumer
/// has taken `wanted` squares, then cancels it and joins every stage.
fn run_with(wanted: usize, squarers: usize) -> Report {
    goro::run(move || {
        let start = Instant::now();
        let (done_tx, done) = goro::bounded::<()>(0);
        let mut stages = Vec::new();

        let (numbers_tx, numbers) = goro::bounded(0);
        let d = done.clone();
        stages.push(stage("generator".into(), move || generate(numbers_tx, d)));

        // Fan-out: every squarer receives from the same channel.
        let (merged_tx, merged) = goro::bounded(0);
        for i in 1..=squarers {
            let (squares_tx, squares) = goro::bounded(0);
            let (input, d) = (numbers.clone(), done.clone());
            stages.push(stage(format!("squarer {i}"), move || {
                square(input, squares_tx, d)
            }));
            // Fan-in: each forwarder sends into the same channel.
            let (out, d) = (merged_tx.clone(), done.clone());
            stages.push(stage(format!("forwarder {i}"), move || {
                forward(squares, out, d)
            }));
        }
        drop((numbers, merged_tx));

        let received: Vec<u64> = merged.iter().take(wanted).collect();
        // Enough: Go's close(done). Every stage sees it in its select!
        // (`merged` and the other channels stay open: `done` alone stops
        // them, wherever each is blocked).
        let closed_at = Instant::now();
        done_tx.close();
        let stopped = stages
            .into_iter()
            .map(|(name, h)| (name, h.join().expect("stages don't panic")))
            .collect();
        Report {
            received,
            stopped,
            elapsed: closed_at - start,
            stop_latency: closed_at.elapsed(),
        }
    })
}

/// The default size, or a small one for tests.
fn run(quick: bool) -> Report {
    if quick {
        run_with(1_000, 3)
    } else {
        run_with(1_000_000, 4)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: pipeline [SQUARES [SQUARERS]]";
    let report = match (args.next(), args.next()) {
        (None, _) => run(false),
        (Some(n), s) => run_with(
            n.parse().expect(usage),
            s.map_or(4, |s| s.parse().expect(usage)),
        ),
    };
    let n = report.received.len();
    let sum: u128 = report.received.iter().map(|&v| v as u128).sum();
    println!(
        "consumer took {n} squares (sum {sum}) in {:.2?}, then closed `done`",
        report.elapsed
    );
    println!(
        "all {} stages stopped and were joined {:.2?} later:",
        report.stopped.len(),
        report.stop_latency
    );
    for (name, count) in &report.stopped {
        println!("  {name:<12} handled {count} values");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn takes_what_it_wants_and_every_stage_stops() {
        let r = run(true);
        assert_eq!(r.received.len(), 1_000);
        // Distinct squares of distinct numbers the generator sent.
        let generated = r.stopped[0].1;
        let mut seen = HashSet::new();
        for &v in &r.received {
            let root = (v as f64).sqrt().round() as u64;
            assert_eq!(root * root, v, "{v} is not a square");
            assert!((1..=generated).contains(&root), "{root} never generated");
            assert!(seen.insert(v), "{v} received twice");
        }
        // The generator, 3 squarers and 3 forwarders all returned (join).
        let names: Vec<&str> = r.stopped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "generator",
                "squarer 1",
                "forwarder 1",
                "squarer 2",
                "forwarder 2",
                "squarer 3",
                "forwarder 3"
            ]
        );
        // Nothing is made from nothing: each stage passed on at most what
        // the one before it handled.
        let total = |kind: &str| -> u64 {
            let stages = r.stopped.iter().filter(|(n, _)| n.starts_with(kind));
            stages.map(|(_, count)| count).sum()
        };
        let (squared, forwarded) = (total("squarer"), total("forwarder"));
        assert!(generated >= squared && squared >= forwarded);
        // An unbuffered send returns only after the hand-off, so exactly
        // what the consumer took was forwarded.
        assert_eq!(forwarded, 1_000);
    }
}
