//! The select workloads of issue 4 (`select_rx`, `select_both`), shared
//! by `benches/select.rs` (criterion) and `benches/compare.rs` (the
//! comparison table); included with `#[path]`. `bound` is the capacity of
//! each of the 4 channels (`None`: unbounded); each function runs one batch
//! of `n` messages, checks their sum and returns its wall time.

#![allow(dead_code)] // each includer uses its own subset

use std::time::{Duration, Instant};

/// Channels selected over; senders and receivers of `select_both`.
pub(crate) const THREADS: usize = 4;

fn sum_below(n: usize) -> usize {
    n * (n - 1) / 2
}

pub(crate) fn goro_chans(
    bound: Option<usize>,
) -> Vec<(goro::Sender<usize>, goro::Receiver<usize>)> {
    (0..THREADS)
        .map(|_| match bound {
            Some(c) => goro::bounded(c),
            None => goro::unbounded(),
        })
        .collect()
}

pub(crate) fn cb_chans(
    bound: Option<usize>,
) -> Vec<(
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
)> {
    (0..THREADS)
        .map(|_| match bound {
            Some(c) => crossbeam_channel::bounded(c),
            None => crossbeam_channel::unbounded(),
        })
        .collect()
}

pub(crate) fn goro_rx(rt: &goro::runtime::Runtime, bound: Option<usize>, n: usize) -> Duration {
    rt.block_on(move || {
        let chans = goro_chans(bound);
        let per = n / THREADS;
        let start = Instant::now();
        for (k, (tx, _)) in chans.iter().enumerate() {
            let tx = tx.clone();
            goro::go!(move || {
                for v in k * per..(k + 1) * per {
                    tx.send(v).unwrap();
                }
            });
        }
        let r: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
        let mut sum = 0;
        for _ in 0..n {
            goro::select! {
                recv(r[0]) -> v => sum += v.unwrap(),
                recv(r[1]) -> v => sum += v.unwrap(),
                recv(r[2]) -> v => sum += v.unwrap(),
                recv(r[3]) -> v => sum += v.unwrap(),
            }
        }
        let t = start.elapsed();
        assert_eq!(sum, sum_below(n));
        t
    })
}

pub(crate) fn goro_both(rt: &goro::runtime::Runtime, bound: Option<usize>, n: usize) -> Duration {
    rt.block_on(move || {
        let chans = goro_chans(bound);
        let per = n / THREADS;
        let start = Instant::now();
        for k in 0..THREADS {
            let t: Vec<_> = chans.iter().map(|(t, _)| t.clone()).collect();
            goro::go!(move || {
                for v in k * per..(k + 1) * per {
                    goro::select! {
                        send(t[0], v) -> r => r.unwrap(),
                        send(t[1], v) -> r => r.unwrap(),
                        send(t[2], v) -> r => r.unwrap(),
                        send(t[3], v) -> r => r.unwrap(),
                    }
                }
            });
        }
        let receivers: Vec<_> = (0..THREADS)
            .map(|_| {
                let r: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
                goro::go!(move || {
                    let mut sum = 0;
                    for _ in 0..per {
                        goro::select! {
                            recv(r[0]) -> v => sum += v.unwrap(),
                            recv(r[1]) -> v => sum += v.unwrap(),
                            recv(r[2]) -> v => sum += v.unwrap(),
                            recv(r[3]) -> v => sum += v.unwrap(),
                        }
                    }
                    sum
                })
            })
            .collect();
        let sum: usize = receivers.into_iter().map(|h| h.join().unwrap()).sum();
        let t = start.elapsed();
        assert_eq!(sum, sum_below(n));
        t
    })
}

pub(crate) fn cb_rx(bound: Option<usize>, n: usize) -> Duration {
    let chans = cb_chans(bound);
    let per = n / THREADS;
    std::thread::scope(|s| {
        let start = Instant::now();
        for (k, (tx, _)) in chans.iter().enumerate() {
            s.spawn(move || {
                for v in k * per..(k + 1) * per {
                    tx.send(v).unwrap();
                }
            });
        }
        let r: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
        let mut sum = 0;
        for _ in 0..n {
            crossbeam_channel::select! {
                recv(r[0]) -> v => sum += v.unwrap(),
                recv(r[1]) -> v => sum += v.unwrap(),
                recv(r[2]) -> v => sum += v.unwrap(),
                recv(r[3]) -> v => sum += v.unwrap(),
            }
        }
        let t = start.elapsed();
        assert_eq!(sum, sum_below(n));
        t
    })
}

pub(crate) fn cb_both(bound: Option<usize>, n: usize) -> Duration {
    let chans = cb_chans(bound);
    let per = n / THREADS;
    std::thread::scope(|s| {
        let start = Instant::now();
        for k in 0..THREADS {
            let t: Vec<_> = chans.iter().map(|(t, _)| t.clone()).collect();
            s.spawn(move || {
                for v in k * per..(k + 1) * per {
                    crossbeam_channel::select! {
                        send(t[0], v) -> r => r.unwrap(),
                        send(t[1], v) -> r => r.unwrap(),
                        send(t[2], v) -> r => r.unwrap(),
                        send(t[3], v) -> r => r.unwrap(),
                    }
                }
            });
        }
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let r: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
                s.spawn(move || {
                    let mut sum = 0;
                    for _ in 0..per {
                        crossbeam_channel::select! {
                            recv(r[0]) -> v => sum += v.unwrap(),
                            recv(r[1]) -> v => sum += v.unwrap(),
                            recv(r[2]) -> v => sum += v.unwrap(),
                            recv(r[3]) -> v => sum += v.unwrap(),
                        }
                    }
                    sum
                })
            })
            .collect();
        let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        let t = start.elapsed();
        assert_eq!(sum, sum_below(n));
        t
    })
}
