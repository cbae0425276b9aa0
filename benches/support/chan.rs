//! The channel workloads of issue 3 (the crossbeam-channel matrix and
//! ping-pong), shared by `benches/chan.rs` (criterion) and
//! `benches/compare.rs` (the comparison table); included with `#[path]`,
//! not a bench target itself. Each function runs one batch and returns its
//! wall time; each checks that every message arrived.

#![allow(dead_code)] // each includer uses its own subset

use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Senders in mpsc and mpmc, receivers in mpmc.
pub(crate) const THREADS: usize = 4;

/// The capacity of `bounded_n`.
pub(crate) const CAP_N: usize = 1000;

/// The sum of `0..n`, what the receivers of a batch must add up to.
pub(crate) fn sum_below(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Cap {
    Zero,
    One,
    N,
    Unbounded,
}

impl Cap {
    pub(crate) const ALL: [Cap; 4] = [Cap::Unbounded, Cap::Zero, Cap::One, Cap::N];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Cap::Zero => "bounded_0",
            Cap::One => "bounded_1",
            Cap::N => "bounded_n",
            Cap::Unbounded => "unbounded",
        }
    }

    /// `None` for unbounded.
    pub(crate) fn bound(self) -> Option<usize> {
        match self {
            Cap::Zero => Some(0),
            Cap::One => Some(1),
            Cap::N => Some(CAP_N),
            Cap::Unbounded => None,
        }
    }

    /// Messages one seq round sends before receiving them all.
    pub(crate) fn seq_round(self, n: usize) -> usize {
        self.bound().unwrap_or(n).min(n)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Work {
    Seq,
    Spsc,
    Mpsc,
    Mpmc,
}

impl Work {
    pub(crate) const ALL: [Work; 4] = [Work::Seq, Work::Spsc, Work::Mpsc, Work::Mpmc];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Work::Seq => "seq",
            Work::Spsc => "spsc",
            Work::Mpsc => "mpsc",
            Work::Mpmc => "mpmc",
        }
    }

    /// Whether the cell exists (seq would deadlock on capacity 0 and is
    /// left out on capacity 1, as in crossbeam-channel's matrix).
    pub(crate) fn applies(self, cap: Cap) -> bool {
        !(self == Work::Seq && matches!(cap, Cap::Zero | Cap::One))
    }
}

/// One channel implementation, driven from OS threads.
pub(crate) trait Flavor {
    type Tx: Clone + Send;
    type Rx: Send;
    fn new(cap: Option<usize>) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: usize);
    fn recv(rx: &Self::Rx) -> usize;
}

pub(crate) struct Goro;
impl Flavor for Goro {
    type Tx = goro::Sender<usize>;
    type Rx = goro::Receiver<usize>;
    fn new(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(c) => goro::bounded(c),
            None => goro::unbounded(),
        }
    }
    #[inline]
    fn send(tx: &Self::Tx, v: usize) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> usize {
        rx.recv().unwrap()
    }
}

pub(crate) struct Crossbeam;
impl Flavor for Crossbeam {
    type Tx = crossbeam_channel::Sender<usize>;
    type Rx = crossbeam_channel::Receiver<usize>;
    fn new(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(c) => crossbeam_channel::bounded(c),
            None => crossbeam_channel::unbounded(),
        }
    }
    #[inline]
    fn send(tx: &Self::Tx, v: usize) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> usize {
        rx.recv().unwrap()
    }
}

pub(crate) struct Flume;
impl Flavor for Flume {
    type Tx = flume::Sender<usize>;
    type Rx = flume::Receiver<usize>;
    fn new(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(c) => flume::bounded(c),
            None => flume::unbounded(),
        }
    }
    #[inline]
    fn send(tx: &Self::Tx, v: usize) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> usize {
        rx.recv().unwrap()
    }
}

/// std's `sync_channel(cap)` (bounded, including 0).
pub(crate) struct StdSync;
impl Flavor for StdSync {
    type Tx = mpsc::SyncSender<usize>;
    type Rx = mpsc::Receiver<usize>;
    fn new(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        mpsc::sync_channel(cap.expect("StdSync is bounded"))
    }
    #[inline]
    fn send(tx: &Self::Tx, v: usize) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> usize {
        rx.recv().unwrap()
    }
}

/// std's `channel()` (unbounded).
pub(crate) struct StdAsync;
impl Flavor for StdAsync {
    type Tx = mpsc::Sender<usize>;
    type Rx = mpsc::Receiver<usize>;
    fn new(_cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        mpsc::channel()
    }
    #[inline]
    fn send(tx: &Self::Tx, v: usize) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> usize {
        rx.recv().unwrap()
    }
}

// The OS-thread workloads, shaped like crossbeam-channel's benchmarks: the
// calling thread is the receiver of spsc and mpsc.

pub(crate) fn os_seq<F: Flavor>(cap: Cap, n: usize) -> Duration {
    let (tx, rx) = F::new(cap.bound());
    let round = cap.seq_round(n);
    let start = Instant::now();
    let mut sum = 0;
    let mut i = 0;
    while i < n {
        let end = (i + round).min(n);
        for v in i..end {
            F::send(&tx, v);
        }
        for _ in i..end {
            sum += F::recv(&rx);
        }
        i = end;
    }
    let t = start.elapsed();
    assert_eq!(black_box(sum), sum_below(n));
    t
}

/// `senders` threads send `n` messages in all; the caller receives them.
pub(crate) fn os_to_one<F: Flavor>(cap: Cap, n: usize, senders: usize) -> Duration {
    let (tx, rx) = F::new(cap.bound());
    let per = n / senders;
    let start = Instant::now();
    let sum = std::thread::scope(|s| {
        for k in 0..senders {
            let tx = tx.clone();
            s.spawn(move || {
                for v in k * per..(k + 1) * per {
                    F::send(&tx, v);
                }
            });
        }
        let mut sum = 0;
        for _ in 0..n {
            sum += F::recv(&rx);
        }
        sum
    });
    let t = start.elapsed();
    assert_eq!(black_box(sum), sum_below(n));
    t
}

pub(crate) fn os_mpmc<F: Flavor>(cap: Cap, n: usize) -> Duration
where
    F::Rx: Clone,
{
    let (tx, rx) = F::new(cap.bound());
    let per = n / THREADS;
    let start = Instant::now();
    let sum: usize = std::thread::scope(|s| {
        for k in 0..THREADS {
            let tx = tx.clone();
            s.spawn(move || {
                for v in k * per..(k + 1) * per {
                    F::send(&tx, v);
                }
            });
        }
        let receivers: Vec<_> = (0..THREADS)
            .map(|_| {
                let rx = rx.clone();
                s.spawn(move || {
                    let mut sum = 0;
                    for _ in 0..per {
                        sum += F::recv(&rx);
                    }
                    sum
                })
            })
            .collect();
        receivers.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let t = start.elapsed();
    assert_eq!(black_box(sum), sum_below(n));
    t
}

pub(crate) fn os_cell<F: Flavor>(work: Work, cap: Cap, n: usize) -> Duration
where
    F::Rx: Clone,
{
    match work {
        Work::Seq => os_seq::<F>(cap, n),
        Work::Spsc => os_to_one::<F>(cap, n, 1),
        Work::Mpsc => os_to_one::<F>(cap, n, THREADS),
        Work::Mpmc => os_mpmc::<F>(cap, n),
    }
}

/// std: spsc and mpsc only (its receiver is single).
pub(crate) fn std_cell(work: Work, cap: Cap, n: usize) -> Duration {
    let senders = match work {
        Work::Spsc => 1,
        Work::Mpsc => THREADS,
        _ => unreachable!("std has spsc and mpsc only"),
    };
    match cap {
        Cap::Unbounded => os_to_one::<StdAsync>(cap, n, senders),
        _ => os_to_one::<StdSync>(cap, n, senders),
    }
}

/// The same workloads on green threads of `rt`; the `block_on` root plays
/// the calling thread's part.
pub(crate) fn green_cell(rt: &goro::runtime::Runtime, work: Work, cap: Cap, n: usize) -> Duration {
    if work == Work::Seq {
        return rt.block_on(|| os_seq::<Goro>(cap, n));
    }
    rt.block_on(|| {
        let (tx, rx) = Goro::new(cap.bound());
        // The root receives alone, or `THREADS` green threads do (mpmc).
        let (senders, receivers) = match work {
            Work::Spsc => (1, None),
            Work::Mpsc => (THREADS, None),
            _ => (THREADS, Some(THREADS)),
        };
        let per = n / senders;
        let start = Instant::now();
        let sent: Vec<_> = (0..senders)
            .map(|k| {
                let tx = tx.clone();
                goro::go!(move || {
                    for v in k * per..(k + 1) * per {
                        tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        let sum: usize = if let Some(receivers) = receivers {
            let per = n / receivers;
            let got: Vec<_> = (0..receivers)
                .map(|_| {
                    let rx = rx.clone();
                    goro::go!(move || {
                        let mut sum = 0;
                        for _ in 0..per {
                            sum += rx.recv().unwrap();
                        }
                        sum
                    })
                })
                .collect();
            got.into_iter().map(|h| h.join().unwrap()).sum()
        } else {
            let mut sum = 0;
            for _ in 0..n {
                sum += rx.recv().unwrap();
            }
            sum
        };
        for h in sent {
            h.join().unwrap();
        }
        let t = start.elapsed();
        assert_eq!(black_box(sum), sum_below(n));
        t
    })
}

/// `n` round trips between two green threads of `rt`: the root pings, a
/// spawned green thread pongs.
pub(crate) fn goro_ping_pong(rt: &goro::runtime::Runtime, n: usize) -> Duration {
    rt.block_on(|| {
        let (ping_tx, ping_rx) = goro::bounded::<usize>(0);
        let (pong_tx, pong_rx) = goro::bounded::<usize>(0);
        let start = Instant::now();
        let ponger = goro::go!(move || {
            for _ in 0..n {
                let v = ping_rx.recv().unwrap();
                pong_tx.send(v).unwrap();
            }
        });
        for i in 0..n {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
        }
        ponger.join().unwrap();
        start.elapsed()
    })
}

/// The same between two OS threads on channels of flavor `F` (capacity 0).
pub(crate) fn os_ping_pong<F: Flavor>(n: usize) -> Duration {
    let (ping_tx, ping_rx) = F::new(Some(0));
    let (pong_tx, pong_rx) = F::new(Some(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
            for _ in 0..n {
                let v = F::recv(&ping_rx);
                F::send(&pong_tx, v);
            }
        });
        for i in 0..n {
            F::send(&ping_tx, i);
            assert_eq!(F::recv(&pong_rx), i);
        }
    });
    start.elapsed()
}

/// The same between two OS threads on crossbeam-channel.
pub(crate) fn crossbeam_ping_pong(n: usize) -> Duration {
    os_ping_pong::<Crossbeam>(n)
}
