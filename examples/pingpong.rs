//! Ping-pong: the cost of one rendezvous on an unbuffered channel.
//!
//! Two green threads bounce a counter back and forth over two unbuffered
//! channels (`bounded(0)`): `ping` sends it on one and waits for it on the
//! other, `pong` adds one and sends it back. Every hop is a hand-off
//! between two green threads, so this measures goro's context switch plus
//! channel rendezvous. It prints the round trips per second on a runtime
//! of 1 worker and of 2 workers (`goro::runtime::Builder::new().workers(n)`),
//! and says whether the two green threads ran on one OS thread: a green
//! thread stays on the worker that first ran it, and the two usually start
//! on the same one even with 2 workers, where a hop is a plain switch. For
//! comparison, a last line has `ping` on a plain OS thread (goro's channels
//! work there too), so every hop has to wake the other thread.
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
    /// The runtime, and where `ping` ran if not on it.
    setup: &'static str,
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

/// Runs `round_trips` round trips on a fresh runtime of `workers`
/// workers; with `ping_on_os_thread`, `ping` runs on the calling thread.
fn measure(workers: usize, round_trips: u64, ping_on_os_thread: bool) -> Report {
    let rt = goro::runtime::Builder::new()
        .workers(workers)
        .build()
        .expect("a runtime");
    let (to_pong, from_ping) = goro::bounded(0);
    let (to_ping, from_pong) = goro::bounded(0);
    let start = Instant::now();
    let ponger = rt.spawn(move || pong(from_ping, to_ping));
    let (counter, ping_thread) = if ping_on_os_thread {
        ping(to_pong, from_pong, round_trips)
    } else {
        let pinger = rt.spawn(move || ping(to_pong, from_pong, round_trips));
        pinger.join().unwrap()
    };
    let pong_thread = ponger.join().unwrap();
    Report {
        setup: match (ping_on_os_thread, workers) {
            (true, _) => "1 worker, ping on an OS thread",
            (false, 1) => "1 worker",
            (false, _) => "2 workers",
        },
        round_trips,
        counter,
        elapsed: start.elapsed(),
        same_thread: ping_thread == pong_thread,
    }
}

/// One measurement with 1 worker, one with 2, and one with `ping` on
/// this OS thread (a tenth as many round trips: they wake OS threads, and
/// on a busy machine each wake-up can wait for a time slice).
fn run(round_trips: u64) -> Vec<Report> {
    vec![
        measure(1, round_trips, false),
        measure(2, round_trips, false),
        measure(1, round_trips.div_ceil(10), true),
    ]
}

fn main() {
    let round_trips: u64 = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("usage: pingpong [ROUND_TRIPS]"),
        None => 200_000,
    };
    for r in run(round_trips) {
        assert_eq!(r.counter, 2 * r.round_trips, "every hop adds one");
        let per_sec = r.round_trips as f64 / r.elapsed.as_secs_f64();
        let placement = if r.same_thread {
            "same OS thread"
        } else {
            "different OS threads"
        };
        println!(
            "{:<30} {} round trips in {:.2?}: {:>9.0} round trips/s, {:>5.0} ns per hop ({placement})",
            r.setup,
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
        assert_eq!(reports[2].round_trips, 100);
        assert_eq!(reports.len(), 3);
        for r in &reports {
            assert_eq!(r.counter, 2 * r.round_trips, "{r:?}");
        }
        // With one worker there is only one OS thread to run on.
        assert!(reports[0].same_thread);
        // A green thread never runs on a thread that is not a worker.
        assert!(!reports[2].same_thread);
    }
}
