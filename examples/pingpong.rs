//! Ping-pong: the cost of one rendezvous on an unbuffered channel.
//!
//! Two green threads bounce a counter back and forth over two unbuffered
//! channels (`bounded(0)`): `ping` sends it on one and waits for it on the
//! other, `pong` adds one and sends it back. Every hop is a hand-off
//! between two green threads, so this measures goro's context switch plus
//! channel rendezvous. It runs on a runtime with 1 worker (both green
//! threads share one OS thread: a hop is a plain switch) and with 2
//! workers (they may sit on different OS threads, and then a hop has to
//! wake the other thread), and prints the round trips per second of each.
//!
//! ```text
//! cargo run --release --example pingpong            # 200,000 round trips each
//! cargo run --release --example pingpong -- 1000000 # more
//! ```
//!
//! `cargo test --example pingpong` (or plain `cargo test`) runs it small.

use std::thread::ThreadId;
use std::time::{Duration, Instant};

use goro::{Receiver, Sender};

/// What one run measured.
#[derive(Debug)]
struct Report {
    workers: usize,
    round_trips: u64,
    /// The counter as it came back the last time (one per hop).
    counter: u64,
    elapsed: Duration,
    /// Whether `ping` and `pong` ran on the same OS thread.
    same_thread: bool,
}

/// Sends the counter `round_trips` times and waits for it to come back
/// each time; returns its last value and the OS thread it ran on. Closing
/// `tx` on return (by dropping it) tells `pong` to stop.
fn ping(tx: Sender<u64>, rx: Receiver<u64>, round_trips: u64) -> (u64, ThreadId) {
    let mut counter = 0;
    for _ in 0..round_trips {
        tx.send(counter + 1).expect("pong is alive");
        counter = rx.recv().expect("pong is alive");
    }
    (counter, std::thread::current().id())
}

/// Bounces every value it gets back, plus one, until its input closes.
fn pong(rx: Receiver<u64>, tx: Sender<u64>) -> ThreadId {
    for counter in rx {
        tx.send(counter + 1).expect("ping is alive");
    }
    std::thread::current().id()
}

/// Runs `round_trips` round trips on a fresh runtime of `workers` workers.
fn measure(workers: usize, round_trips: u64) -> Report {
    let rt = goro::runtime::Builder::new()
        .workers(workers)
        .build()
        .expect("a runtime");
    rt.block_on(|| {
        let (to_pong, from_ping) = goro::bounded(0);
        let (to_ping, from_pong) = goro::bounded(0);
        let start = Instant::now();
        let pinger = goro::go!(move || ping(to_pong, from_pong, round_trips));
        let ponger = goro::go!(move || pong(from_ping, to_ping));
        let (counter, ping_thread) = pinger.join().unwrap();
        let pong_thread = ponger.join().unwrap();
        Report {
            workers,
            round_trips,
            counter,
            elapsed: start.elapsed(),
            same_thread: ping_thread == pong_thread,
        }
    })
}

/// One measurement with 1 worker and one with 2.
fn run(round_trips: u64) -> Vec<Report> {
    [1, 2].into_iter().map(|w| measure(w, round_trips)).collect()
}

fn main() {
    let round_trips: u64 = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("usage: pingpong [ROUND_TRIPS]"),
        None => 200_000,
    };
    for r in run(round_trips) {
        let per_sec = r.round_trips as f64 / r.elapsed.as_secs_f64();
        let placement = if r.same_thread {
            "same OS thread"
        } else {
            "different OS threads"
        };
        println!(
            "{} worker{}: {} round trips in {:.2?}: {:.0} round trips/s, {:.0} ns per hop ({placement})",
            r.workers,
            if r.workers == 1 { " " } else { "s" },
            r.round_trips,
            r.elapsed,
            per_sec,
            r.elapsed.as_nanos() as f64 / (2 * r.round_trips) as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hop_adds_one() {
        let reports = run(1_000);
        assert_eq!(reports.len(), 2);
        for r in &reports {
            assert_eq!(r.counter, 2 * r.round_trips, "{r:?}");
        }
        // With one worker there is only one OS thread to run on.
        assert!(reports[0].same_thread);
    }
}
