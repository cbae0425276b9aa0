//! The concurrent prime sieve from the Go tour, in goro.
//!
//! One green thread generates 2, 3, 4, ...; each prime found gets a green
//! thread of its own that filters its multiples out of the stream, chained
//! by unbuffered channels. Finding the n-th prime runs n green threads
//! passing millions of messages, each send a rendezvous.
//!
//! ```text
//! cargo run --release --example sieve          # the 5000th prime
//! cargo run --release --example sieve -- 1000  # the 1000th
//! ```
//!
//! `cargo test --example sieve` (or plain `cargo test`) runs it small.

use std::time::Instant;

use goro::{Receiver, Sender};

/// Sends 2, 3, 4, ... until the receiver goes away.
fn generate(tx: Sender<u64>) {
    for i in 2.. {
        if tx.send(i).is_err() {
            return;
        }
    }
}

/// Passes on the values from `rx` that `prime` does not divide.
fn filter(rx: Receiver<u64>, tx: Sender<u64>, prime: u64) {
    for i in rx {
        if i % prime != 0 && tx.send(i).is_err() {
            return;
        }
    }
}

/// The `n`-th prime, found by a chain of `n` filters.
fn nth_prime(n: usize) -> u64 {
    goro::run(move || {
        let (tx, mut rx) = goro::bounded(0);
        goro::go!(move || generate(tx));
        let mut prime = 0;
        for _ in 0..n {
            prime = rx.recv().expect("the sieve never ends");
            let (tx2, rx2) = goro::bounded(0);
            goro::go!(move || filter(rx, tx2, prime));
            rx = rx2;
        }
        prime
    })
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("usage: sieve [N]"),
        None => 5000,
    };
    let start = Instant::now();
    let last = nth_prime(n);
    println!(
        "the {n}th prime is {last}, found by {n} chained green threads in {:.2?}",
        start.elapsed()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_primes() {
        assert_eq!(super::nth_prime(1), 2);
        assert_eq!(super::nth_prime(10), 29);
        assert_eq!(super::nth_prime(300), 1987);
    }
}
