//! Byte-coded programs of channel operations and the models they are
//! checked against. One copy, shared by `tests/prop_chan.rs`,
//! `tests/fuzz_corpus.rs` (via `#[path]`) and the cargo-fuzz target
//! `fuzz/fuzz_targets/chan_ops.rs` (via `#[path]` too).
//!
//! Two kinds of program:
//!
//! * [`Program`]: operations on ONE channel from one thread (`try_*`,
//!   zero timeouts, past deadlines, blocking calls only where the model
//!   says they cannot block, `close`, clone/drop of either handle, the
//!   length/capacity/closed queries, the iterators), checked step by step
//!   against a sequential model: a `VecDeque` of message ids, the closed
//!   flag, the no-receivers flag and the handle counts. Every message
//!   carries a drop counter: after each step a message still in the model's
//!   buffer must be undropped and every other message dropped exactly once
//!   (so the channel drops what it holds when the last receiver goes, and
//!   never duplicates or loses a message).
//! * [`Plan`]: a concurrent program: senders and receivers, on green
//!   threads and OS threads, with blocking, `try_*`-and-yield or
//!   timeout-and-retry styles, optionally closing early. Checked: every
//!   message sent successfully is received exactly once, a failed send
//!   hands back the very message, and each receiver sees each sender's
//!   messages in order.
//!
//! Byte format ([`run_bytes`]): the first byte's top bit picks the kind (set:
//! a [`Plan`] decoded from the remaining bytes, see [`Plan::decode`]; clear:
//! a [`Program`] with capacity `CAPS[b0 % 6]`, one [`Op`] per following
//! byte, see [`Op::from_byte`]).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use goro::{
    Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError,
};

/// A channel's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cap {
    Bounded(usize),
    Unbounded,
}

/// The capacities every program is run with.
pub(crate) const CAPS: [Cap; 6] = [
    Cap::Bounded(0),
    Cap::Bounded(1),
    Cap::Bounded(2),
    Cap::Bounded(7),
    Cap::Unbounded,
    // The least capacity with a split queue (`src/chan/buffer.rs`).
    Cap::Bounded(16),
];

impl Cap {
    pub(crate) fn channel<T>(self) -> (Sender<T>, Receiver<T>) {
        match self {
            Cap::Bounded(n) => goro::bounded(n),
            Cap::Unbounded => goro::unbounded(),
        }
    }

    fn limit(self) -> Option<usize> {
        match self {
            Cap::Bounded(n) => Some(n),
            Cap::Unbounded => None,
        }
    }
}

/// Most handles of one side a program keeps at once.
const MAX_HANDLES: usize = 8;

/// One single-threaded operation; the `u8` picks a handle (modulo the
/// number alive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    TrySend(u8),
    TryRecv(u8),
    /// `send_timeout(.., Duration::ZERO)`.
    SendZero(u8),
    /// `recv_timeout(Duration::ZERO)`.
    RecvZero(u8),
    /// `send_deadline(.., now)`.
    SendPast(u8),
    /// `recv_deadline(now)`.
    RecvPast(u8),
    /// `send`, only when the model says it cannot block (else skipped).
    Send(u8),
    /// `recv`, only when the model says it cannot block (else skipped).
    Recv(u8),
    Close(u8),
    CloneTx(u8),
    DropTx(u8),
    CloneRx(u8),
    DropRx(u8),
    /// `len`, `is_empty`, `is_full`, `capacity`, `is_closed` on both sides.
    Check(u8),
    /// `try_iter().take(n + 1)`.
    TryIter(u8),
    /// Once closed: drain with `for m in &rx` (else skipped).
    Iter(u8),
}

impl Op {
    /// Low nibble: the operation; high nibble: the handle.
    pub(crate) fn from_byte(b: u8) -> Op {
        let h = b >> 4;
        match b & 0x0f {
            0 => Op::TrySend(h),
            1 => Op::TryRecv(h),
            2 => Op::SendZero(h),
            3 => Op::RecvZero(h),
            4 => Op::SendPast(h),
            5 => Op::RecvPast(h),
            6 => Op::Send(h),
            7 => Op::Recv(h),
            8 => Op::Close(h),
            9 => Op::CloneTx(h),
            10 => Op::DropTx(h),
            11 => Op::CloneRx(h),
            12 => Op::DropRx(h),
            13 => Op::Check(h),
            14 => Op::TryIter(h),
            _ => Op::Iter(h),
        }
    }

    /// The inverse of [`Op::from_byte`] (for writing corpus files).
    pub(crate) fn to_byte(self) -> u8 {
        let (code, h) = match self {
            Op::TrySend(h) => (0, h),
            Op::TryRecv(h) => (1, h),
            Op::SendZero(h) => (2, h),
            Op::RecvZero(h) => (3, h),
            Op::SendPast(h) => (4, h),
            Op::RecvPast(h) => (5, h),
            Op::Send(h) => (6, h),
            Op::Recv(h) => (7, h),
            Op::Close(h) => (8, h),
            Op::CloneTx(h) => (9, h),
            Op::DropTx(h) => (10, h),
            Op::CloneRx(h) => (11, h),
            Op::DropRx(h) => (12, h),
            Op::Check(h) => (13, h),
            Op::TryIter(h) => (14, h),
            Op::Iter(h) => (15, h),
        };
        (h & 0x0f) << 4 | code
    }
}

/// A single-threaded program on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program {
    pub(crate) cap: Cap,
    pub(crate) ops: Vec<Op>,
}

impl Program {
    pub(crate) fn decode(b0: u8, rest: &[u8]) -> Program {
        Program {
            cap: CAPS[(b0 & 0x7f) as usize % CAPS.len()],
            ops: rest.iter().map(|&b| Op::from_byte(b)).collect(),
        }
    }

    /// Bytes that [`run_bytes`] decodes back to this program.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let b0 = CAPS
            .iter()
            .position(|&c| c == self.cap)
            .expect("a known capacity") as u8;
        std::iter::once(b0)
            .chain(self.ops.iter().map(|op| op.to_byte()))
            .collect()
    }
}

/// Counts drops per message id.
type Drops = Rc<RefCell<Vec<u32>>>;

/// A message that records its drop; deliberately neither `Debug` nor
/// `Clone` (the error types must not need them).
struct Msg {
    id: u32,
    drops: Drops,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.borrow_mut()[self.id as usize] += 1;
    }
}

/// The sequential model of one channel.
struct Model {
    cap: Cap,
    buf: VecDeque<u32>,
    /// Closed by `close` or by the last sender's drop.
    closed: bool,
    /// The last receiver is gone.
    no_rx: bool,
}

impl Model {
    fn full(&self) -> bool {
        self.cap.limit().is_some_and(|c| self.buf.len() >= c)
    }

    fn send_fails(&self) -> bool {
        self.closed || self.no_rx
    }
}

/// Where a program stands while it runs.
struct State {
    model: Model,
    txs: Vec<Sender<Msg>>,
    rxs: Vec<Receiver<Msg>>,
    drops: Drops,
    step: usize,
    op: Option<Op>,
}

impl State {
    fn msg(&mut self) -> Msg {
        let mut d = self.drops.borrow_mut();
        let id = d.len() as u32;
        d.push(0);
        Msg {
            id,
            drops: self.drops.clone(),
        }
    }

    fn tx(&self, h: u8) -> Option<&Sender<Msg>> {
        (!self.txs.is_empty()).then(|| &self.txs[h as usize % self.txs.len()])
    }

    fn rx(&self, h: u8) -> Option<&Receiver<Msg>> {
        (!self.rxs.is_empty()).then(|| &self.rxs[h as usize % self.rxs.len()])
    }

    /// The model's outcome of a non-blocking send: `Ok`, or `Err(closed)`.
    fn model_send(&mut self, id: u32) -> Result<(), bool> {
        if self.model.send_fails() {
            Err(true)
        } else if self.model.full() {
            Err(false)
        } else {
            self.model.buf.push_back(id);
            Ok(())
        }
    }

    /// The model's outcome of a non-blocking receive: `Ok(id)`, or
    /// `Err(closed)`.
    fn model_recv(&mut self) -> Result<u32, bool> {
        match self.model.buf.pop_front() {
            Some(id) => Ok(id),
            None => Err(self.model.closed),
        }
    }

    /// Where we are, for failure messages (only formatted on failure).
    fn ctx(&self) -> String {
        format!(
            "step {} ({:?}), cap {:?}, model buf {:?} closed {} no_rx {} senders {} receivers {}",
            self.step,
            self.op,
            self.model.cap,
            self.model.buf,
            self.model.closed,
            self.model.no_rx,
            self.txs.len(),
            self.rxs.len()
        )
    }

    fn apply(&mut self, op: Op) {
        self.op = Some(op);
        match op {
            Op::TrySend(h) | Op::SendZero(h) | Op::SendPast(h) | Op::Send(h) => {
                if self.txs.is_empty() {
                    return;
                }
                if matches!(op, Op::Send(_)) && !self.model.send_fails() && self.model.full() {
                    return; // would block
                }
                let m = self.msg();
                let id = m.id;
                let tx = self.tx(h).unwrap();
                // (closed?, message back) on failure.
                let got: Result<(), (bool, Msg)> = match op {
                    Op::TrySend(_) => tx.try_send(m).map_err(|e| match e {
                        TrySendError::Full(m) => (false, m),
                        TrySendError::Closed(m) => (true, m),
                    }),
                    Op::SendZero(_) | Op::SendPast(_) => {
                        let r = if let Op::SendZero(_) = op {
                            tx.send_timeout(m, Duration::ZERO)
                        } else {
                            tx.send_deadline(m, Instant::now())
                        };
                        r.map_err(|e| match e {
                            SendTimeoutError::Timeout(m) => (false, m),
                            SendTimeoutError::Closed(m) => (true, m),
                        })
                    }
                    _ => tx.send(m).map_err(|SendError(m)| (true, m)),
                };
                let want = self.model_send(id);
                match (got, want) {
                    (Ok(()), Ok(())) => {}
                    (Err((closed, m)), Err(want_closed)) => {
                        assert_eq!(closed, want_closed, "{}: failure kind", self.ctx());
                        assert_eq!(m.id, id, "{}: the message handed back", self.ctx());
                    }
                    (got, want) => panic!(
                        "{}: got {:?}, model says {want:?}",
                        self.ctx(),
                        got.map_err(|(c, _)| c)
                    ),
                }
            }
            Op::TryRecv(h) | Op::RecvZero(h) | Op::RecvPast(h) | Op::Recv(h) => {
                if self.rxs.is_empty() {
                    return;
                }
                if matches!(op, Op::Recv(_)) && self.model.buf.is_empty() && !self.model.closed {
                    return; // would block
                }
                let rx = self.rx(h).unwrap();
                // Err(closed?) on failure.
                let got: Result<Msg, bool> = match op {
                    Op::TryRecv(_) => rx.try_recv().map_err(|e| e == TryRecvError::Closed),
                    Op::RecvZero(_) | Op::RecvPast(_) => {
                        let r = if let Op::RecvZero(_) = op {
                            rx.recv_timeout(Duration::ZERO)
                        } else {
                            rx.recv_deadline(Instant::now())
                        };
                        r.map_err(|e| e == RecvTimeoutError::Closed)
                    }
                    _ => rx.recv().map_err(|RecvError| true),
                };
                let got = got.map(|m| m.id);
                let want = self.model_recv();
                assert_eq!(got, want, "{}: Ok(id) or Err(closed?)", self.ctx());
            }
            Op::Close(h) => {
                let Some(tx) = self.tx(h) else { return };
                let closed_now = tx.close();
                assert_eq!(
                    closed_now,
                    !self.model.closed,
                    "{}: close() result",
                    self.ctx()
                );
                self.model.closed = true;
            }
            Op::CloneTx(h) => {
                if self.txs.len() >= MAX_HANDLES {
                    return;
                }
                let Some(tx) = self.tx(h) else { return };
                let c = tx.clone();
                assert!(c.same_channel(tx), "{}", self.ctx());
                self.txs.push(c);
            }
            Op::DropTx(h) => {
                if self.txs.is_empty() {
                    return;
                }
                let i = h as usize % self.txs.len();
                drop(self.txs.swap_remove(i));
                if self.txs.is_empty() {
                    self.model.closed = true;
                }
            }
            Op::CloneRx(h) => {
                if self.rxs.len() >= MAX_HANDLES {
                    return;
                }
                let Some(rx) = self.rx(h) else { return };
                let c = rx.clone();
                assert!(c.same_channel(rx), "{}", self.ctx());
                self.rxs.push(c);
            }
            Op::DropRx(h) => {
                if self.rxs.is_empty() {
                    return;
                }
                let i = h as usize % self.rxs.len();
                drop(self.rxs.swap_remove(i));
                if self.rxs.is_empty() {
                    self.model.no_rx = true;
                    // The last receiver drops what is buffered.
                    self.model.buf.clear();
                }
            }
            Op::Check(h) => {
                let len = self.model.buf.len();
                let cap = self.model.cap.limit();
                let full = self.model.full();
                let closed = self.model.closed || self.model.no_rx;
                if let Some(tx) = self.tx(h) {
                    assert_eq!(tx.len(), len, "{}: Sender::len", self.ctx());
                    assert_eq!(tx.is_empty(), len == 0, "{}: Sender::is_empty", self.ctx());
                    assert_eq!(tx.is_full(), full, "{}: Sender::is_full", self.ctx());
                    assert_eq!(tx.capacity(), cap, "{}: Sender::capacity", self.ctx());
                    assert_eq!(tx.is_closed(), closed, "{}: Sender::is_closed", self.ctx());
                }
                if let Some(rx) = self.rx(h) {
                    assert_eq!(rx.len(), len, "{}: Receiver::len", self.ctx());
                    assert_eq!(
                        rx.is_empty(),
                        len == 0,
                        "{}: Receiver::is_empty",
                        self.ctx()
                    );
                    assert_eq!(rx.is_full(), full, "{}: Receiver::is_full", self.ctx());
                    assert_eq!(rx.capacity(), cap, "{}: Receiver::capacity", self.ctx());
                    assert_eq!(
                        rx.is_closed(),
                        closed,
                        "{}: Receiver::is_closed",
                        self.ctx()
                    );
                }
            }
            Op::TryIter(h) => {
                let Some(rx) = self.rx(h) else { return };
                let n = h as usize + 1;
                let got: Vec<u32> = rx.try_iter().take(n).map(|m| m.id).collect();
                let k = n.min(self.model.buf.len());
                let want: Vec<u32> = self.model.buf.drain(..k).collect();
                assert_eq!(got, want, "{}: try_iter", self.ctx());
            }
            Op::Iter(h) => {
                if !self.model.closed {
                    return; // would block
                }
                let Some(rx) = self.rx(h) else { return };
                let mut got = Vec::new();
                for m in rx {
                    got.push(m.id);
                }
                let want: Vec<u32> = self.model.buf.drain(..).collect();
                assert_eq!(got, want, "{}: iter on a closed channel", self.ctx());
            }
        }
    }

    /// Every message in the model's buffer is alive, every other one was
    /// dropped exactly once.
    fn check_drops(&self, what: &str) {
        let drops = self.drops.borrow();
        let live = drops.iter().filter(|&&d| d == 0).count();
        let ok = drops.iter().all(|&d| d <= 1)
            && live == self.model.buf.len()
            && self.model.buf.iter().all(|&id| drops[id as usize] == 0);
        if !ok {
            let mut want = vec![1u32; drops.len()];
            for &id in &self.model.buf {
                want[id as usize] = 0;
            }
            let bad: Vec<_> = drops
                .iter()
                .zip(&want)
                .enumerate()
                .filter(|(_, (d, w))| d != w)
                .map(|(id, (d, w))| format!("msg {id}: dropped {d}x, want {w}x"))
                .collect();
            panic!("{} {what}: {}", self.ctx(), bad.join("; "));
        }
    }
}

/// Runs `p` against the model; panics at the first divergence.
pub(crate) fn run_program(p: &Program) {
    let (tx, rx) = p.cap.channel::<Msg>();
    let mut s = State {
        model: Model {
            cap: p.cap,
            buf: VecDeque::new(),
            closed: false,
            no_rx: false,
        },
        txs: vec![tx],
        rxs: vec![rx],
        drops: Rc::new(RefCell::new(Vec::new())),
        step: 0,
        op: None,
    };
    for (i, &op) in p.ops.iter().enumerate() {
        s.step = i;
        s.apply(op);
        s.check_drops("after it");
    }
    // The end: drop every handle, in an order the program picks; then
    // every message must have been dropped exactly once.
    let txs_first = p.ops.len() & 1 == 0;
    let (txs, rxs) = (std::mem::take(&mut s.txs), std::mem::take(&mut s.rxs));
    if txs_first {
        drop(txs);
        drop(rxs);
    } else {
        drop(rxs);
        drop(txs);
    }
    s.model.buf.clear();
    s.step = p.ops.len();
    s.check_drops("after dropping every handle");
}

/// How a concurrent party sends or receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// `send` / `recv`.
    Blocking,
    /// `try_send` / `try_recv`, yielding while it would block.
    Try,
    /// `send_timeout` / `recv_timeout` of 1 ms, retried on timeout.
    Timeout,
}

/// One sender or receiver of a [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Party {
    /// A plain OS thread rather than a green thread.
    pub(crate) os: bool,
    pub(crate) style: Style,
}

/// A concurrent program on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) cap: Cap,
    /// Workers of the runtime the green parties run on (1..=4).
    pub(crate) workers: usize,
    /// 1..=4 senders; sender `i` sends `(i, 0..per_sender)`.
    pub(crate) senders: Vec<Party>,
    /// 1..=3 receivers; each receives until the channel is closed.
    pub(crate) receivers: Vec<Party>,
    pub(crate) per_sender: u32,
    /// Sender 0 closes the channel once it sent its messages (the other
    /// senders then fail, getting their message back, and stop).
    pub(crate) early_close: bool,
}

fn style(b: u8) -> Style {
    match b % 3 {
        0 => Style::Blocking,
        1 => Style::Try,
        _ => Style::Timeout,
    }
}

fn party(b: u8) -> Party {
    Party {
        os: b & 0x80 != 0,
        style: style(b & 0x7f),
    }
}

impl Plan {
    /// Decodes a plan: byte 0 the capacity, 1 the workers and the close
    /// flag, 2 the message count, 3 the party counts, then one byte per
    /// party (top bit: OS thread; rest modulo 3: the style). Missing bytes
    /// read as zero.
    pub(crate) fn decode(bytes: &[u8]) -> Plan {
        let b = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let nsend = 1 + (b(3) & 0x03) as usize;
        let nrecv = 1 + ((b(3) >> 2) % 3) as usize;
        Plan {
            cap: CAPS[b(0) as usize % CAPS.len()],
            workers: 1 + (b(1) & 0x03) as usize,
            early_close: b(1) & 0x04 != 0,
            per_sender: 1 + (b(2) % 48) as u32,
            senders: (0..nsend).map(|i| party(b(4 + i))).collect(),
            receivers: (0..nrecv).map(|i| party(b(4 + nsend + i))).collect(),
        }
    }

    /// Bytes that [`run_bytes`] decodes back to this plan (top bit of the
    /// first byte set).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let cap = CAPS
            .iter()
            .position(|&c| c == self.cap)
            .expect("a known capacity") as u8;
        let p = |p: &Party| {
            let s = match p.style {
                Style::Blocking => 0,
                Style::Try => 1,
                Style::Timeout => 2,
            };
            s | if p.os { 0x80 } else { 0 }
        };
        let mut v = vec![
            0x80,
            cap,
            (self.workers - 1) as u8 | if self.early_close { 0x04 } else { 0 },
            (self.per_sender - 1) as u8,
            (self.senders.len() - 1) as u8 | ((self.receivers.len() - 1) as u8) << 2,
        ];
        v.extend(self.senders.iter().map(p));
        v.extend(self.receivers.iter().map(p));
        v
    }
}

/// One runtime per worker count, built on first use and kept for the
/// process (fuzzing runs many plans).
pub(crate) fn shared_runtime(workers: usize) -> &'static goro::runtime::Runtime {
    static RTS: [OnceLock<goro::runtime::Runtime>; 4] = [const { OnceLock::new() }; 4];
    let i = workers.clamp(1, 4) - 1;
    RTS[i].get_or_init(|| {
        goro::runtime::Builder::new()
            .workers(i + 1)
            .build()
            .expect("a runtime")
    })
}

type Tagged = (u32, u32);

/// Lets another party run: a green thread yields, an OS thread too.
fn pause() {
    goro::yield_now();
}

/// Sends `(tag, 0..n)`; returns how many went through (a prefix: the first
/// failure means the channel is closed, and the party stops).
fn send_all(tx: Sender<Tagged>, tag: u32, n: u32, style: Style, close: bool) -> u32 {
    for i in 0..n {
        let m = (tag, i);
        let back = match style {
            Style::Blocking => tx.send(m).err().map(|SendError(m)| m),
            Style::Try => loop {
                match tx.try_send(m) {
                    Ok(()) => break None,
                    Err(TrySendError::Full(back)) => {
                        assert_eq!(back, m, "try_send hands back its message");
                        pause();
                    }
                    Err(TrySendError::Closed(back)) => break Some(back),
                }
            },
            Style::Timeout => loop {
                match tx.send_timeout(m, Duration::from_millis(1)) {
                    Ok(()) => break None,
                    Err(SendTimeoutError::Timeout(back)) => {
                        assert_eq!(back, m, "send_timeout hands back its message");
                    }
                    Err(SendTimeoutError::Closed(back)) => break Some(back),
                }
            },
        };
        if let Some(back) = back {
            assert_eq!(back, m, "a failed send hands back its message");
            assert!(tx.is_closed(), "a send failed on an open channel");
            return i;
        }
    }
    if close {
        tx.close();
    }
    n
}

/// Receives until the channel is closed and drained.
fn recv_all(rx: Receiver<Tagged>, style: Style) -> Vec<Tagged> {
    let mut got = Vec::new();
    loop {
        let r = match style {
            Style::Blocking => rx.recv().ok(),
            Style::Try => loop {
                match rx.try_recv() {
                    Ok(m) => break Some(m),
                    Err(TryRecvError::Empty) => pause(),
                    Err(TryRecvError::Closed) => break None,
                }
            },
            Style::Timeout => loop {
                match rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(m) => break Some(m),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Closed) => break None,
                }
            },
        };
        match r {
            Some(m) => got.push(m),
            None => return got,
        }
    }
}

/// Runs `plan` with its green parties on `rt`; panics if a message is lost,
/// duplicated, reordered within one sender's stream, or not handed back.
///
/// Unbuffered, a `try_send` succeeds only against a parked receiver and a
/// `try_recv` only against a parked sender, so if every receiver only
/// polls, a polling sender could never get through: receiver 0 then blocks
/// instead.
pub(crate) fn run_plan(plan: &Plan, rt: &goro::runtime::Runtime) {
    let mut plan = plan.clone();
    if plan.cap == Cap::Bounded(0) && plan.receivers.iter().all(|r| r.style == Style::Try) {
        plan.receivers[0].style = Style::Blocking;
    }
    let plan = &plan;
    let (tx, rx) = plan.cap.channel::<Tagged>();
    let n = plan.per_sender;
    let mut os_senders = Vec::new();
    let mut green_senders = Vec::new();
    for (tag, p) in plan.senders.iter().enumerate() {
        let (tx, style, close) = (tx.clone(), p.style, plan.early_close && tag == 0);
        let f = move || send_all(tx, tag as u32, n, style, close);
        if p.os {
            os_senders.push((tag, std::thread::spawn(f)));
        } else {
            green_senders.push((tag, f));
        }
    }
    let mut os_receivers = Vec::new();
    let mut green_receivers = Vec::new();
    for p in &plan.receivers {
        let (rx, style) = (rx.clone(), p.style);
        let f = move || recv_all(rx, style);
        if p.os {
            os_receivers.push(std::thread::spawn(f));
        } else {
            green_receivers.push(f);
        }
    }
    // Only the parties hold handles now: the last sender to finish closes
    // the channel, which ends the receivers.
    drop((tx, rx));
    let (mut sent, mut received) = rt.block_on(move || {
        let s: Vec<_> = green_senders
            .into_iter()
            .map(|(tag, f)| (tag, goro::go!(f)))
            .collect();
        let r: Vec<_> = green_receivers.into_iter().map(|f| goro::go!(f)).collect();
        let sent: Vec<(usize, u32)> = s
            .into_iter()
            .map(|(tag, h)| (tag, h.join().expect("a green sender")))
            .collect();
        let received: Vec<Vec<Tagged>> = r
            .into_iter()
            .map(|h| h.join().expect("a green receiver"))
            .collect();
        (sent, received)
    });
    sent.extend(
        os_senders
            .into_iter()
            .map(|(tag, h)| (tag, h.join().expect("an OS sender"))),
    );
    received.extend(
        os_receivers
            .into_iter()
            .map(|h| h.join().expect("an OS receiver")),
    );
    sent.sort_unstable();
    // Each receiver sees each sender's messages in order.
    for (r, got) in received.iter().enumerate() {
        let mut next = vec![0u32; plan.senders.len()];
        for &(tag, i) in got {
            assert!(
                i >= next[tag as usize],
                "{plan:?}: receiver {r} got ({tag}, {i}) after ({tag}, {})",
                next[tag as usize] - 1
            );
            next[tag as usize] = i + 1;
        }
    }
    // Exactly the messages that were sent, each once.
    let mut all: Vec<Tagged> = received.into_iter().flatten().collect();
    all.sort_unstable();
    let want: Vec<Tagged> = sent
        .iter()
        .flat_map(|&(tag, k)| (0..k).map(move |i| (tag as u32, i)))
        .collect();
    if !plan.early_close {
        assert!(sent.iter().all(|&(_, k)| k == n), "{plan:?}: sent {sent:?}");
    }
    assert_eq!(
        all.len(),
        want.len(),
        "{plan:?}: sent {sent:?}, received count"
    );
    assert_eq!(all, want, "{plan:?}: received set");
}

/// Runs the program or plan `data` encodes (see the module doc).
pub(crate) fn run_bytes(data: &[u8]) {
    let Some((&b0, rest)) = data.split_first() else {
        return;
    };
    if b0 & 0x80 != 0 {
        let plan = Plan::decode(rest);
        run_plan(&plan, shared_runtime(plan.workers));
    } else {
        run_program(&Program::decode(b0, rest));
    }
}
