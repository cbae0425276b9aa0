//! Go's own channel tests, written anew for goro's API: one `mod` per
//! upstream file (runtime/chan_test.go, runtime/chanbarrier_test.go and
//! test/chan/*.go), each naming it. Iteration counts are scaled down (Go's
//! `-short` values or less) so every test stays well under a few seconds.
//!
//! Where Go sleeps "long enough" for a goroutine to block, these wait until
//! `Runtime::dump` shows it parked on the channel; where Go uses
//! `select { .. default: }` for a non-blocking operation on one channel,
//! these use `try_send`/`try_recv`. The select tests of chan_test.go are
//! in `select_test` (TestSelectStress is `tests/select.rs`'s
//! `stress_select_over_capacities_0_0_2_3`), test/chan/doubleselect.go in
//! `doubleselect`. Not ported: TestSelectStackAdjust (Go's stack copying),
//! test/chan/select2.go (Go's memory statistics), select4-7.go (compiler
//! corner cases), sieve2.go, powser1.go and powser2.go (a select-free
//! power-series pipeline stands in for the last two).

mod common;

use std::time::{Duration, Instant};

use common::{rt, wait_parked};
use goro::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

/// A receive that fails the test instead of hanging it.
fn recv<T>(rx: &Receiver<T>) -> T {
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(v) => v,
        Err(e) => panic!("recv: {e}"),
    }
}

/// runtime/chan_test.go
mod chan_test {
    use super::*;
    use std::any::Any;
    use std::collections::HashMap;

    /// TestChan, for capacities 0..20 (Go's -short N): each block of the
    /// upstream test in turn.
    #[test]
    fn test_chan() {
        let rt = rt(2);
        for cap in 0..20usize {
            // Ensure that receive from empty chan blocks.
            {
                let (tx, rx) = goro::bounded::<i32>(cap);
                let r1 = {
                    let rx = rx.clone();
                    rt.spawn(move || rx.recv())
                };
                let r2 = {
                    let rx = rx.clone();
                    rt.spawn(move || rx.recv().is_ok())
                };
                wait_parked(&rt, "chan recv", 2);
                assert!(
                    !r1.is_finished() && !r2.is_finished(),
                    "chan[{cap}]: receive from empty chan"
                );
                // Ensure that non-blocking receive does not block.
                assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "chan[{cap}]");
                assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "chan[{cap}]");
                tx.send(0).unwrap();
                tx.send(0).unwrap();
                assert_eq!(r1.join().unwrap(), Ok(0));
                assert!(r2.join().unwrap());
            }

            // Ensure that send to full chan blocks.
            {
                let (tx, rx) = goro::bounded::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send(i).unwrap();
                }
                let s = {
                    let tx = tx.clone();
                    rt.spawn(move || tx.send(0))
                };
                wait_parked(&rt, "chan send", 1);
                assert!(!s.is_finished(), "chan[{cap}]: send to full chan");
                // Ensure that non-blocking send does not block.
                assert_eq!(tx.try_send(0), Err(TrySendError::Full(0)), "chan[{cap}]");
                rx.recv().unwrap();
                assert_eq!(s.join().unwrap(), Ok(()));
            }

            // Ensure that we receive 0 from closed chan (here: the buffered
            // values in order, then an error).
            {
                let (tx, rx) = goro::bounded::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send(i).unwrap();
                }
                tx.close();
                for i in 0..cap as i32 {
                    assert_eq!(rx.recv(), Ok(i), "chan[{cap}]");
                }
                assert!(rx.recv().is_err(), "chan[{cap}]");
                assert!(rx.recv().is_err(), "chan[{cap}]");
            }

            // Ensure that close unblocks receive.
            {
                let (tx, rx) = goro::bounded::<i32>(cap);
                let (done_tx, done_rx) = goro::bounded::<bool>(0);
                rt.spawn(move || done_tx.send(rx.recv().is_err()).unwrap());
                wait_parked(&rt, "chan recv", 1);
                tx.close();
                assert!(
                    recv(&done_rx),
                    "chan[{cap}]: received non zero from closed chan"
                );
            }

            // Send 100 integers, ensure that we receive them non-corrupted
            // in FIFO order; the second time with an iterator.
            {
                let (tx, rx) = goro::bounded::<i32>(cap);
                let t = tx.clone();
                rt.spawn(move || (0..100).for_each(|i| t.send(i).unwrap()));
                for i in 0..100 {
                    assert_eq!(recv(&rx), i, "chan[{cap}]");
                }
                let t = tx.clone();
                rt.spawn(move || (0..100).for_each(|i| t.send(i).unwrap()));
                assert!(rx.iter().take(100).eq(0..100), "chan[{cap}]");

                // Send L integers in P goroutines, ensure that we receive
                // what we send.
                const P: usize = 4;
                const L: i32 = 250;
                for _ in 0..P {
                    let t = tx.clone();
                    rt.spawn(move || (0..L).for_each(|i| t.send(i).unwrap()));
                }
                let (done_tx, done_rx) = goro::bounded::<HashMap<i32, usize>>(0);
                for _ in 0..P {
                    let (rx, done_tx) = (rx.clone(), done_tx.clone());
                    rt.spawn(move || {
                        let mut m = HashMap::new();
                        for _ in 0..L {
                            *m.entry(rx.recv().unwrap()).or_default() += 1;
                        }
                        done_tx.send(m).unwrap();
                    });
                }
                let mut all: HashMap<i32, usize> = HashMap::new();
                for _ in 0..P {
                    for (k, v) in recv(&done_rx) {
                        *all.entry(k).or_default() += v;
                    }
                }
                assert_eq!(all.len(), L as usize, "chan[{cap}]");
                assert!(all.values().all(|&v| v == P), "chan[{cap}]");
            }

            // Test len/cap.
            {
                let (tx, rx) = goro::bounded::<i32>(cap);
                assert_eq!((rx.len(), rx.capacity()), (0, Some(cap)));
                for i in 0..cap as i32 {
                    tx.send(i).unwrap();
                }
                assert_eq!((tx.len(), tx.capacity()), (cap, Some(cap)));
            }
        }
    }

    /// TestNonblockRecvRace: a buffered value raced by close is always
    /// ready for a non-blocking receive (value or closed, never empty).
    #[test]
    fn nonblock_recv_race() {
        for workers in [1, 2] {
            let rt = rt(workers);
            for _ in 0..300 {
                let (tx, rx) = goro::bounded::<i32>(1);
                tx.send(1).unwrap();
                let rx2 = rx.clone();
                let h = rt.spawn(move || rx2.try_recv());
                tx.close();
                let mine = rx.recv();
                let theirs = h.join().unwrap();
                assert_ne!(theirs, Err(TryRecvError::Empty), "chan is not ready");
                // Exactly one of the two got the value.
                assert!(theirs.is_ok() != mine.is_ok(), "{theirs:?} / {mine:?}");
            }
        }
    }

    /// TestNonblockRecvRace from plain OS threads.
    #[test]
    fn nonblock_recv_race_os_threads() {
        for _ in 0..200 {
            let (tx, rx) = goro::bounded::<i32>(1);
            tx.send(1).unwrap();
            let rx2 = rx.clone();
            let h = std::thread::spawn(move || rx2.try_recv());
            tx.close();
            let mine = rx.recv();
            let theirs = h.join().unwrap();
            assert_ne!(theirs, Err(TryRecvError::Empty), "chan is not ready");
            assert!(theirs.is_ok() != mine.is_ok());
        }
    }

    /// TestChanSendInterface: sending trait objects; the non-blocking
    /// sends (Go's `select` with `default`) find the channel full and hand
    /// the value back.
    #[test]
    fn chan_send_interface() {
        struct Mt;
        let (tx, rx) = goro::bounded::<Box<dyn Any + Send>>(1);
        tx.send(Box::new(Mt)).unwrap();
        match tx.try_send(Box::new(Mt)) {
            Err(TrySendError::Full(b)) => assert!(b.is::<Mt>()),
            _ => panic!("a full channel accepted a value"),
        }
        match tx.try_send(Box::new(7u8)) {
            Err(TrySendError::Full(b)) => assert_eq!(b.downcast_ref::<u8>(), Some(&7)),
            _ => panic!("a full channel accepted a value"),
        }
        assert!(rx.recv().unwrap().is::<Mt>());
    }

    /// TestMultiConsumer: 23 workers range over a buffered queue (some
    /// yielding to mess with the FIFO-ish order) and forward to a results
    /// channel that the feeder closes once every worker is done.
    fn multi_consumer(niter: usize) {
        const NWORK: usize = 23;
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
        let (q_tx, q_rx) = goro::bounded::<usize>(NWORK * 3);
        let (r_tx, r_rx) = goro::bounded::<usize>(NWORK * 3);
        let workers: Vec<_> = (0..NWORK)
            .map(|w| {
                let (q_rx, r_tx) = (q_rx.clone(), r_tx.clone());
                goro::go!(move || {
                    for v in &q_rx {
                        if PN[w % PN.len()] == v {
                            goro::yield_now();
                        }
                        r_tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        drop((q_rx, r_tx));
        let feeder = goro::go!(move || {
            let mut expect = 0;
            for i in 0..niter {
                let v = PN[i % PN.len()];
                expect += v;
                q_tx.send(v).unwrap();
            }
            q_tx.close(); // no more work
            for w in workers {
                w.join().unwrap(); // workers done
            }
            // ... so there can be no more results: the last result sender
            // is gone and the results channel is closed.
            expect
        });
        let (mut n, mut s) = (0, 0);
        for v in r_rx {
            n += 1;
            s += v;
        }
        let expect = feeder.join().unwrap();
        assert_eq!((n, s), (niter, expect));
    }

    #[test]
    fn multi_consumer_1_worker() {
        rt(1).block_on(|| multi_consumer(20_000));
    }

    #[test]
    fn multi_consumer_2_workers() {
        rt(2).block_on(|| multi_consumer(20_000));
    }

    #[inline(never)]
    fn stack_growth_recursive(i: u32) -> u32 {
        let pad = std::hint::black_box([i as u8; 128]);
        if i == 0 {
            return pad[0] as u32;
        }
        stack_growth_recursive(i - 1) + pad[1] as u32
    }

    #[inline(never)]
    fn send_at_depth(tx: &Sender<u32>, depth: u32, v: u32) -> u32 {
        let pad = std::hint::black_box([depth as u8; 64]);
        if depth == 0 {
            tx.send(v).unwrap();
            return pad[0] as u32;
        }
        send_at_depth(tx, depth - 1, v) + pad[1] as u32
    }

    /// TestShrinkStackDuringBlockedSend / TestNoShrinkStackWhileParking:
    /// goro never moves stacks, but a sender blocks with its waiter at
    /// varying depths of a small stack and uses lots of that stack between
    /// sends; the values must arrive intact and in order.
    #[test]
    fn blocked_send_with_stack_churn() {
        for workers in [1, 2] {
            rt(workers).block_on(|| {
                for _ in 0..20 {
                    let (tx, rx) = goro::bounded::<u32>(0);
                    let sender = goro::Builder::new()
                        .stack_size(64 * 1024)
                        .spawn(move || {
                            for i in 0..10 {
                                send_at_depth(&tx, i * 7, i);
                                // Use lots of stack, briefly.
                                stack_growth_recursive(20);
                            }
                        })
                        .unwrap();
                    for i in 0..10 {
                        assert_eq!(rx.recv(), Ok(i), "bad channel read");
                        // Give the sender time to finish with its stack and
                        // block again.
                        goro::yield_now();
                    }
                    sender.join().unwrap();
                }
            });
        }
    }
}

/// runtime/chanbarrier_test.go (TestChanSendBarrier; the select variant
/// needs `select!`).
mod chanbarrier_test {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct MyError;

    struct Response;

    /// A request answered by a fresh green thread over an unbuffered
    /// channel of boxed results.
    fn do_request() -> Result<Box<Response>, MyError> {
        let (tx, rx) = goro::bounded::<Box<Result<Box<Response>, MyError>>>(0);
        goro::go!(move || tx.send(Box::new(Err(MyError))).unwrap());
        let r = rx.recv().unwrap();
        goro::yield_now();
        *r
    }

    #[test]
    fn chan_send_barrier() {
        for workers in [1, 2] {
            rt(workers).block_on(|| {
                let hs: Vec<_> = (0..20)
                    .map(|_| {
                        goro::go!(move || {
                            let mut garbage = Vec::new();
                            for _ in 0..100 {
                                assert_eq!(do_request().err(), Some(MyError));
                                garbage = vec![0u8; 1 << 10];
                            }
                            garbage.len()
                        })
                    })
                    .collect();
                for h in hs {
                    assert_eq!(h.join().unwrap(), 1 << 10);
                }
            });
        }
    }
}

/// test/chan/fifo.go: a buffered channel is FIFO, and so is an unbuffered
/// one read by a daisy chain of goroutines taking turns.
mod fifo {
    use super::*;

    const N: i32 = 10;

    #[test]
    fn asynch_fifo() {
        let (tx, rx) = goro::bounded::<i32>(N as usize);
        for i in 0..N {
            tx.send(i).unwrap();
        }
        for i in 0..N {
            assert_eq!(rx.recv(), Ok(i), "bad receive");
        }
    }

    fn chain(ch: Receiver<i32>, val: i32, inp: Receiver<i32>, out: Sender<i32>) {
        inp.recv().unwrap();
        assert_eq!(ch.recv(), Ok(val));
        out.send(1).unwrap();
    }

    /// Thread together a daisy chain to read the elements in sequence.
    fn synch_fifo(spawn: &dyn Fn(Box<dyn FnOnce() + Send>)) {
        let (tx, ch) = goro::bounded::<i32>(0);
        let (start, mut inp) = goro::bounded::<i32>(0);
        for i in 0..N {
            let (out, next) = goro::bounded::<i32>(0);
            let (ch, this_in) = (ch.clone(), std::mem::replace(&mut inp, next));
            spawn(Box::new(move || chain(ch, i, this_in, out)));
        }
        start.send(0).unwrap();
        for i in 0..N {
            tx.send(i).unwrap();
        }
        assert_eq!(recv(&inp), 1);
    }

    #[test]
    fn synch_fifo_green() {
        for workers in [1, 2] {
            rt(workers).block_on(|| {
                synch_fifo(&|f| {
                    goro::spawn(f);
                })
            });
        }
    }

    #[test]
    fn synch_fifo_os_threads() {
        synch_fifo(&|f| {
            std::thread::spawn(f);
        });
    }
}

/// test/chan/goroutines.go: a chain of goroutines each passing one value
/// from its right neighbour to its left.
mod goroutines {
    use super::*;

    fn f(left: Sender<i32>, right: Receiver<i32>) {
        left.send(right.recv().unwrap()).unwrap();
    }

    fn chain(n: usize, spawn: &dyn Fn(Box<dyn FnOnce() + Send>)) {
        let (leftmost_tx, leftmost) = goro::bounded::<i32>(0);
        let mut left = leftmost_tx;
        for _ in 0..n {
            let (tx, right) = goro::bounded::<i32>(0);
            let l = std::mem::replace(&mut left, tx);
            spawn(Box::new(move || f(l, right)));
        }
        left.send(7).unwrap();
        assert_eq!(recv(&leftmost), 7);
    }

    #[test]
    fn chain_of_green_threads() {
        for workers in [1, 2] {
            rt(workers).block_on(|| {
                chain(5000, &|f| {
                    goro::spawn(f);
                })
            });
        }
    }

    #[test]
    fn chain_of_os_threads() {
        chain(50, &|f| {
            std::thread::spawn(f);
        });
    }
}

/// test/chan/nonblock.go: non-blocking sends and receives (Go's `select`
/// with `default`, here `try_send`/`try_recv`) against a goroutine doing
/// the blocking side, for buffer sizes 0 and 1 and several element types.
mod nonblock {
    use super::*;

    /// Up to 10 s per operation.
    const MAX_TRIES: u32 = 100_000;

    fn pause() {
        if goro::current().is_some() {
            goro::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn try_send_until<T>(tx: &Sender<T>, mut v: T, what: &str) {
        for _ in 0..MAX_TRIES {
            match tx.try_send(v) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) => v = back,
                Err(e) => panic!("{what}: {e}"),
            }
            pause();
        }
        panic!("{what}: the receiver never came");
    }

    fn try_recv_until<T>(rx: &Receiver<T>, what: &str) -> T {
        for _ in 0..MAX_TRIES {
            match rx.try_recv() {
                Ok(v) => return v,
                Err(TryRecvError::Empty) => {}
                Err(e) => panic!("{what}: {e}"),
            }
            pause();
        }
        panic!("{what}: the sender never came");
    }

    fn one_type<T>(buffer: usize, a: T, b: T, spawn: &dyn Fn(Box<dyn FnOnce() + Send>))
    where
        T: Send + Clone + PartialEq + std::fmt::Debug + 'static,
    {
        let (tx, rx) = goro::bounded::<T>(buffer);
        let (sync_tx, sync_rx) = goro::bounded::<bool>(0);
        assert!(rx.try_recv().is_err(), "blocked sender");

        // A receiver goroutine; we try to send until it takes the value.
        let (r, st, want) = (rx.clone(), sync_tx.clone(), a.clone());
        spawn(Box::new(move || {
            assert_eq!(r.recv().unwrap(), want, "receiver value");
            st.send(true).unwrap();
        }));
        try_send_until(&tx, a, "receiver");
        assert!(recv(&sync_rx));

        // A sender goroutine; we try to receive until its value arrives.
        let (t, st, v) = (tx.clone(), sync_tx.clone(), b.clone());
        spawn(Box::new(move || {
            t.send(v).unwrap();
            st.send(true).unwrap();
        }));
        if buffer > 0 {
            assert!(recv(&sync_rx));
        }
        assert_eq!(try_recv_until(&rx, "sender"), b, "sender value");
        if buffer == 0 {
            assert!(recv(&sync_rx));
        }
    }

    fn all_types(spawn: &dyn Fn(Box<dyn FnOnce() + Send>)) {
        for buffer in 0..2 {
            one_type::<i32>(buffer, 123, 234, spawn);
            one_type::<i64>(buffer, 123_456, 234_567, spawn);
            one_type::<bool>(buffer, true, false, spawn);
            one_type::<String>(buffer, "hello".into(), "hello again".into(), spawn);
        }
    }

    #[test]
    fn nonblock_green() {
        for workers in [1, 2] {
            rt(workers).block_on(|| {
                all_types(&|f| {
                    goro::spawn(f);
                })
            });
        }
    }

    #[test]
    fn nonblock_os_threads() {
        all_types(&|f| {
            std::thread::spawn(f);
        });
    }
}

/// test/chan/zerosize.go: channels of zero-sized types, of every flavor.
mod zerosize {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Empty;

    fn exercise<T: Copy + PartialEq + std::fmt::Debug + Send + 'static>(v: T) {
        for cap in [Some(0), Some(1), Some(5), None] {
            let (tx, rx) = match cap {
                Some(n) => goro::bounded::<T>(n),
                None => goro::unbounded::<T>(),
            };
            let n = cap.unwrap_or(10_000);
            for _ in 0..n {
                tx.send(v).unwrap();
            }
            assert_eq!(rx.len(), n, "{cap:?}");
            // Bounded ones are full now, the unbounded one takes more.
            assert_eq!(tx.try_send(v).is_ok(), cap.is_none(), "{cap:?}");
            let n = n + usize::from(cap.is_none());
            for _ in 0..n {
                assert_eq!(rx.recv(), Ok(v));
            }
            assert!(rx.try_recv().is_err());
            let h = goro::go!(move || {
                for _ in 0..1000 {
                    tx.send(v).unwrap();
                }
            });
            assert_eq!(rx.iter().count(), 1000, "{cap:?}");
            h.join().unwrap();
        }
    }

    #[test]
    fn zero_sized_values() {
        rt(2).block_on(|| {
            exercise(());
            exercise([0u8; 0]);
            exercise(Empty);
        });
    }
}

/// test/chan/sieve1.go: the concurrent prime sieve, a chain of filter
/// goroutines that grows by one per prime. The generator and filters never
/// finish: dropping the runtime unwinds them.
mod sieve1 {
    use super::*;

    fn generate(ch: Sender<u32>) {
        for i in 2.. {
            if ch.send(i).is_err() {
                return;
            }
        }
    }

    fn filter(inp: Receiver<u32>, out: Sender<u32>, prime: u32) {
        for i in inp {
            if i % prime != 0 && out.send(i).is_err() {
                return;
            }
        }
    }

    fn sieve(primes: Sender<u32>) {
        let (tx, mut ch) = goro::bounded(0);
        goro::go!(move || generate(tx));
        loop {
            let prime = ch.recv().unwrap();
            if primes.send(prime).is_err() {
                return;
            }
            let (tx1, ch1) = goro::bounded(0);
            goro::go!(move || filter(ch, tx1, prime));
            ch = ch1;
        }
    }

    fn is_prime(n: u32) -> bool {
        n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
    }

    #[test]
    fn first_primes() {
        let a = [
            2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
            89, 97,
        ];
        for workers in [1, 2] {
            let rt = rt(workers);
            let got = rt.block_on(|| {
                let (tx, primes) = goro::bounded(0);
                goro::go!(move || sieve(tx));
                (0..300).map(|_| recv(&primes)).collect::<Vec<u32>>()
            });
            assert_eq!(got[..a.len()], a);
            let want: Vec<u32> = (2..).filter(|&n| is_prime(n)).take(300).collect();
            assert_eq!(got, want);
            drop(rt); // unwinds the 300 parked goroutines
        }
    }
}

/// A select-free stand-in for test/chan/powser1.go and powser2.go: power
/// series as streams of rational coefficients, one goroutine per operator,
/// with feedback loops (exp is the integral of itself; sin and cos are
/// each other's integrals).
mod powser {
    use super::*;

    /// A reduced fraction.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Rat(i64, i64);

    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a.abs() } else { gcd(b, a % b) }
    }

    impl Rat {
        fn new(n: i64, d: i64) -> Rat {
            let g = gcd(n, d).max(1) * d.signum();
            Rat(n / g, d / g)
        }
        fn add(self, o: Rat) -> Rat {
            Rat::new(self.0 * o.1 + o.0 * self.1, self.1 * o.1)
        }
        fn mul(self, o: Rat) -> Rat {
            Rat::new(self.0 * o.0, self.1 * o.1)
        }
    }

    /// How many coefficients each stream carries.
    const N: usize = 12;

    type Series = Receiver<Rat>;

    fn stream(cap: usize) -> (Sender<Rat>, Series) {
        goro::bounded(cap)
    }

    /// 1 + x + x^2 + ...
    fn ones(cap: usize) -> Series {
        let (tx, rx) = stream(cap);
        goro::go!(move || (0..N).for_each(|_| tx.send(Rat(1, 1)).unwrap()));
        rx
    }

    /// Two copies of a stream.
    fn split(s: Series, cap: usize) -> (Series, Series) {
        let ((a_tx, a), (b_tx, b)) = (stream(cap), stream(cap));
        goro::go!(move || {
            for v in s {
                a_tx.send(v).unwrap();
                b_tx.send(v).unwrap();
            }
        });
        (a, b)
    }

    /// `c0` + the integral of `s` (whose terms arrive after `c0` left).
    fn integ(c0: Rat, s: Series, cap: usize) -> Series {
        let (tx, rx) = stream(cap);
        goro::go!(move || {
            tx.send(c0).unwrap();
            for (n, v) in s.iter().take(N - 1).enumerate() {
                tx.send(v.mul(Rat(1, n as i64 + 1))).unwrap();
            }
        });
        rx
    }

    fn neg(s: Series, cap: usize) -> Series {
        let (tx, rx) = stream(cap);
        goro::go!(move || s.iter().for_each(|v| tx.send(v.mul(Rat(-1, 1))).unwrap()));
        rx
    }

    /// The Cauchy product.
    fn mul(a: Series, b: Series, cap: usize) -> Series {
        let (tx, rx) = stream(cap);
        goro::go!(move || {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for (x, y) in a.iter().zip(b.iter()) {
                xs.push(x);
                ys.push(y);
                let n = xs.len();
                let c = (0..n).fold(Rat(0, 1), |acc, i| acc.add(xs[i].mul(ys[n - 1 - i])));
                tx.send(c).unwrap();
            }
        });
        rx
    }

    fn fact(n: i64) -> i64 {
        (1..=n).product()
    }

    fn check(cap: usize) {
        // (1/(1-x))^2 = sum (n+1) x^n.
        let sq: Vec<Rat> = mul(ones(cap), ones(cap), cap).iter().collect();
        assert_eq!(sq, (1..=N as i64).map(|n| Rat(n, 1)).collect::<Vec<_>>());

        // exp = 1 + integral(exp).
        let (fb_tx, fb) = stream(cap);
        let e = integ(Rat(1, 1), fb, cap);
        let (out, back) = split(e, cap);
        goro::go!(move || back.iter().for_each(|v| {
            let _ = fb_tx.send(v);
        }));
        let exp: Vec<Rat> = (0..N).map(|_| recv(&out)).collect();
        assert_eq!(
            exp,
            (0..N as i64).map(|n| Rat(1, fact(n))).collect::<Vec<_>>()
        );

        // sin = integral(cos), cos = 1 - integral(sin).
        let (c_fb_tx, c_fb) = stream(cap);
        let (s_fb_tx, s_fb) = stream(cap);
        let (sin, s_back) = split(integ(Rat(0, 1), c_fb, cap), cap);
        let (cos, c_back) = split(integ(Rat(1, 1), neg(s_fb, cap), cap), cap);
        goro::go!(move || s_back.iter().for_each(|v| {
            let _ = s_fb_tx.send(v);
        }));
        goro::go!(move || c_back.iter().for_each(|v| {
            let _ = c_fb_tx.send(v);
        }));
        let mut s = Vec::new();
        let mut c = Vec::new();
        for _ in 0..N {
            s.push(recv(&sin));
            c.push(recv(&cos));
        }
        let sign = |k: usize| if k % 2 == 0 { 1 } else { -1 };
        for n in 0..N {
            let (ws, wc) = if n % 2 == 0 {
                (Rat(0, 1), Rat(sign(n / 2), fact(n as i64)))
            } else {
                (Rat(sign(n / 2), fact(n as i64)), Rat(0, 1))
            };
            assert_eq!((s[n], c[n]), (ws, wc), "term {n} of sin, cos");
        }
    }

    #[test]
    fn power_series_pipelines() {
        for workers in [1, 2] {
            for cap in [0, 1, 4] {
                rt(workers).block_on(|| check(cap));
            }
        }
    }
}

/// test/chan/select3.go, the parts without `select`: which basic channel
/// operations block and which fail at once.
mod select3_without_select {
    use super::*;

    /// Runs `f` on a green thread and reports whether it is still blocked
    /// (parked on a channel) after it had every chance to finish.
    fn blocks(what: &str, f: impl FnOnce() + Send + 'static) -> bool {
        let rt = rt(1);
        let h = rt.spawn(f);
        let start = Instant::now();
        loop {
            if h.is_finished() {
                return false;
            }
            let dump = rt.dump();
            if dump.contains("parked: chan") {
                return true;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{what}:\n{dump}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn which_operations_block() {
        // Unbuffered send and receive without a partner block.
        assert!(blocks("unbuffered send", || {
            let (tx, _rx) = goro::bounded::<i32>(0);
            let _ = tx.send(7);
        }));
        assert!(blocks("unbuffered receive", || {
            let (_tx, rx) = goro::bounded::<i32>(0);
            let _ = rx.recv();
        }));
        // A buffered send with room does not; a full one does.
        assert!(!blocks("buffered send", || {
            let (tx, _rx) = goro::bounded::<i32>(1);
            tx.send(7).unwrap();
        }));
        assert!(blocks("full buffered send", || {
            let (tx, _rx) = goro::bounded::<i32>(1);
            tx.send(7).unwrap();
            let _ = tx.send(8);
        }));
        // Receiving from a closed channel does not block.
        assert!(!blocks("receive from closed", || {
            let (tx, rx) = goro::bounded::<i32>(0);
            tx.close();
            assert!(rx.recv().is_err());
        }));
        // Sending on a closed channel fails at once (Go panics).
        assert!(!blocks("send to closed", || {
            let (tx, _rx) = goro::bounded::<i32>(0);
            tx.close();
            assert_eq!(tx.send(7).unwrap_err().into_inner(), 7);
        }));
        // Timed operations give up.
        let (_tx, rx) = goro::bounded::<i32>(0);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
    }
}

/// test/chan/sendstmt.go: a channel of channels (send on a channel
/// received from another), and a send of a computed expression.
mod sendstmt {
    use super::*;

    #[test]
    fn chanchan() {
        let (cc_tx, cc_rx) = goro::bounded::<Sender<i32>>(1);
        let (c_tx, c_rx) = goro::bounded::<i32>(1);
        cc_tx.send(c_tx).unwrap();
        // Go: select { case <-cc <- 2: default: panic }.
        let c = cc_rx.try_recv().expect("a channel in cc");
        c.try_send(2).expect("room in c");
        assert_eq!(c_rx.try_recv(), Ok(2));
        c.send(3).unwrap();
        assert_eq!(c_rx.recv(), Ok(3));
    }

    #[test]
    fn sendprec() {
        let (tx, rx) = goro::bounded::<bool>(1);
        let (f, t) = std::hint::black_box((false, true));
        tx.send(f || t).unwrap();
        assert!(rx.recv().unwrap());
    }
}

/// runtime/chan_test.go, the tests that use `select` with several cases.
mod select_test {
    use super::*;
    use goro::select;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// TestNonblockSelectRace: a select with `default` never misses a case
    /// made ready before it started, even as another case is taken away.
    #[test]
    fn nonblock_select_race() {
        let rt = rt(2);
        for _ in 0..1000 {
            let (tx1, rx1) = goro::bounded::<i32>(1);
            let (tx2, rx2) = goro::bounded::<i32>(1);
            tx1.send(1).unwrap();
            let (rx1b, rx2b) = (rx1.clone(), rx2.clone());
            let h = rt.spawn(move || {
                select! {
                    recv(rx1b) -> _ => true,
                    recv(rx2b) -> _ => true,
                    default => false,
                }
            });
            tx2.send(1).unwrap();
            select! {
                recv(rx1) -> _ => {},
                default => {},
            }
            assert!(h.join().unwrap(), "no chan is ready");
            drop(rx2);
        }
    }

    /// TestNonblockSelectRace2: the same with a close for the second case.
    #[test]
    fn nonblock_select_race2() {
        let rt = rt(2);
        for _ in 0..1000 {
            let (tx1, rx1) = goro::bounded::<i32>(1);
            let (tx2, rx2) = goro::bounded::<i32>(1);
            tx1.send(1).unwrap();
            let (rx1b, rx2b) = (rx1.clone(), rx2.clone());
            let h = rt.spawn(move || {
                select! {
                    recv(rx1b) -> _ => true,
                    recv(rx2b) -> _ => true,
                    default => false,
                }
            });
            tx2.close();
            select! {
                recv(rx1) -> _ => {},
                default => {},
            }
            assert!(h.join().unwrap(), "no chan is ready");
        }
    }

    /// TestSelfSelect: sends and receives on one channel in one select,
    /// from two green threads, neither crash nor deadlock, and on an
    /// unbuffered channel a select never receives its own value.
    #[test]
    fn self_select() {
        let rt = rt(2);
        for cap in [0usize, 10] {
            let (tx, rx) = goro::bounded::<usize>(cap);
            let hs: Vec<_> = (0..2)
                .map(|p| {
                    let (tx, rx) = (tx.clone(), rx.clone());
                    rt.spawn(move || {
                        for i in 0..1000 {
                            let got = if p == 0 || i % 2 == 0 {
                                select! {
                                    send(tx, p) -> r => { r.unwrap(); None }
                                    recv(rx) -> v => Some(v.unwrap()),
                                }
                            } else {
                                select! {
                                    recv(rx) -> v => Some(v.unwrap()),
                                    send(tx, p) -> r => { r.unwrap(); None }
                                }
                            };
                            if cap == 0 {
                                assert_ne!(got, Some(p), "self receive");
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    }

    /// TestSelectFairness: with two always-ready cases (and two never
    /// ready), each wins half of the time. Go allows a deviation of
    /// 4.891676 / (2 sqrt(n)) (six nines); this uses 6.109 / (2 sqrt(n)),
    /// the two-sided bound for a failure probability of 1e-9.
    #[test]
    fn select_fairness() {
        const TRIALS: usize = 10_000;
        let rt = rt(2);
        let (c1tx, c1) = goro::bounded::<u8>(TRIALS + 1);
        let (c2tx, c2) = goro::bounded::<u8>(TRIALS + 1);
        for _ in 0..=TRIALS {
            c1tx.send(1).unwrap();
            c2tx.send(2).unwrap();
        }
        let (_c3tx, c3) = goro::bounded::<u8>(0);
        let (_c4tx, c4) = goro::bounded::<u8>(0);
        let (out_tx, out) = goro::bounded::<u8>(0);
        let (done_tx, done) = goro::bounded::<u8>(0);
        let h = rt.spawn(move || {
            loop {
                let b = select! {
                    recv(c3) -> b => b.unwrap(),
                    recv(c4) -> b => b.unwrap(),
                    recv(c1) -> b => b.unwrap(),
                    recv(c2) -> b => b.unwrap(),
                };
                select! {
                    send(out_tx, b) -> r => r.unwrap(),
                    recv(done) -> _ => return,
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0, 0);
        for _ in 0..TRIALS {
            match recv(&out) {
                1 => cnt1 += 1,
                2 => cnt2 += 1,
                b => panic!("unexpected value {b} on channel"),
            }
        }
        done_tx.close();
        h.join().unwrap();
        let r = cnt1 as f64 / TRIALS as f64;
        let e = (r - 0.5).abs();
        let bound = 6.109 / (2.0 * (TRIALS as f64).sqrt());
        assert!(
            e <= bound,
            "unfair select: {cnt1}/{cnt2}, deviation {e} > {bound}"
        );
    }

    /// TestPseudoRandomSend: a select with two ready sends of 0 and 1
    /// sends each a fair share of the time.
    #[test]
    fn pseudo_random_send() {
        const N: usize = 100;
        let rt = rt(2);
        for cap in [0, N] {
            let (tx, rx) = goro::bounded::<u8>(cap);
            let h = rt.spawn(move || {
                (0..N)
                    .map(|_| {
                        goro::yield_now();
                        recv(&rx)
                    })
                    .collect::<Vec<_>>()
            });
            for _ in 0..N {
                select! {
                    send(tx, 1) -> r => r.unwrap(),
                    send(tx, 0) -> r => r.unwrap(),
                }
            }
            let l = h.join().unwrap();
            let n1 = l.iter().filter(|&&b| b == 1).count();
            let n0 = N - n1;
            assert!(
                n0 > N / 10 && n1 > N / 10,
                "want pseudorandom, got {n0} zeros and {n1} ones (chan cap {cap})"
            );
        }
    }

    /// TestSelectDuplicateChannel: a select waiting twice on `c` (and on
    /// `d`) completes through `d`; its stale registrations on `c` must not
    /// swallow a later send to a plain receiver of `c`.
    #[test]
    fn select_duplicate_channel() {
        let rt = rt(2);
        let (c_tx, c) = goro::bounded::<i32>(0);
        let (d_tx, d) = goro::bounded::<i32>(0);
        let (e_tx, e) = goro::bounded::<i32>(0);
        let c2 = c.clone();
        rt.spawn(move || {
            select! {
                recv(c2) -> _ => {},
                recv(c2) -> _ => {},
                recv(d) -> _ => {},
            }
            e_tx.send(9).unwrap();
        });
        wait_parked(&rt, "select", 1);
        rt.spawn(move || {
            recv(&c);
        });
        wait_parked(&rt, "chan recv", 1);
        d_tx.send(7).unwrap();
        assert_eq!(recv(&e), 9);
        c_tx.send(8).unwrap(); // must not deadlock
    }

    /// TestChanSendSelectBarrier's core: many green threads each finish
    /// with a select send racing a timer-like channel; every result is
    /// collected exactly once.
    #[test]
    fn chan_send_select_barrier() {
        let rt = rt(2);
        let (tx, rx) = goro::bounded::<usize>(1);
        let (_never_tx, never) = goro::bounded::<usize>(0);
        let n = 200;
        let sent = Arc::new(AtomicUsize::new(0));
        for i in 0..n {
            let (tx, never, sent) = (tx.clone(), never.clone(), sent.clone());
            rt.spawn(move || {
                select! {
                    send(tx, i) -> r => { r.unwrap(); sent.fetch_add(1, Ordering::SeqCst); }
                    recv(never) -> _ => unreachable!(),
                }
            });
        }
        let mut got: Vec<usize> = (0..n).map(|_| recv(&rx)).collect();
        got.sort_unstable();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
    }
}

/// test/chan/doubleselect.go: a sender selecting over four unbuffered
/// channels, four multiplexers (one per channel) forwarding into one
/// channel, and a receiver checking that no value arrives twice.
mod doubleselect {
    use super::*;
    use goro::select;

    fn sender(
        n: usize,
        c1: Sender<usize>,
        c2: Sender<usize>,
        c3: Sender<usize>,
        c4: Sender<usize>,
    ) {
        for i in 0..n {
            select! {
                send(c1, i) -> r => r.unwrap(),
                send(c2, i) -> r => r.unwrap(),
                send(c3, i) -> r => r.unwrap(),
                send(c4, i) -> r => r.unwrap(),
            }
        }
        // Dropping the senders closes the four channels.
    }

    fn mux(out: Sender<usize>, inp: Receiver<usize>, done: Sender<bool>) {
        for v in inp {
            out.send(v).unwrap();
        }
        done.send(true).unwrap();
    }

    fn recver(inp: Receiver<usize>, n: usize) {
        let mut seen = vec![false; n];
        for v in inp {
            assert!(!seen[v], "got duplicate value: {v}");
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s), "a value never arrived");
    }

    #[test]
    fn double_select() {
        const N: usize = 10_000;
        rt(2).block_on(|| {
            let chans: Vec<_> = (0..4).map(|_| goro::bounded::<usize>(0)).collect();
            let (cmux_tx, cmux) = goro::bounded::<usize>(0);
            let (done_tx, done) = goro::bounded::<bool>(0);
            let mut txs = chans.iter().map(|(t, _)| t.clone());
            let (c1, c2, c3, c4) = (
                txs.next().unwrap(),
                txs.next().unwrap(),
                txs.next().unwrap(),
                txs.next().unwrap(),
            );
            goro::go!(move || sender(N, c1, c2, c3, c4));
            for (_, rx) in chans {
                let (out, done) = (cmux_tx.clone(), done_tx.clone());
                goro::go!(move || mux(out, rx, done));
            }
            drop(done_tx);
            goro::go!(move || {
                for _ in 0..4 {
                    recv(&done);
                }
                drop(cmux_tx);
            });
            recver(cmux, N);
        });
    }
}
