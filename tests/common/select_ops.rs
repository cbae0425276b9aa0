//! Select programs and their model, shared by `tests/prop_select.rs`, the
//! `select_ops` fuzz target and `tests/fuzz_corpus.rs`.
//!
//! A program runs on one thread over 3 channels (capacities 1, 2, 7, 16 or
//! unbounded; an unbuffered channel could never complete a one-thread
//! select) and interleaves `try_send`, `close`, and selects over a random
//! subset of receive and send cases, with `default` (non-blocking), a
//! zero timeout, or, only when the model says some case is ready, no
//! default at all (so it cannot block). The model is a `VecDeque` and a
//! closed flag per channel. After each select the chosen case must have
//! been ready in the model, `default` must run only when no case was, a
//! received message must be the model's head, and a send value is built
//! only for the chosen case (counted).
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::Duration;

use goro::{Receiver, Select, Sender, bounded, select, unbounded};

/// Channel capacities the programs use (`None`: unbounded).
pub(crate) const SELECT_CAPS: [Option<usize>; 5] = [Some(1), Some(2), Some(7), None, Some(16)];

/// One step of a program.
#[derive(Debug, Clone)]
pub(crate) enum SelOp {
    /// `try_send` on a channel.
    TrySend(u8),
    /// `close` a channel.
    Close(u8),
    /// A select: receive cases (channel numbers), send cases, the waiting
    /// mode (0: `default`, 1: zero timeout, 2: block, 3: dynamic `Select`).
    Select {
        recvs: Vec<u8>,
        sends: Vec<u8>,
        mode: u8,
    },
}

/// A program: three capacities and the steps.
#[derive(Debug, Clone)]
pub(crate) struct SelProgram {
    pub(crate) caps: [Option<usize>; 3],
    pub(crate) ops: Vec<SelOp>,
}

impl SelProgram {
    /// Decodes bytes: three capacity bytes, then one or two bytes per op.
    pub(crate) fn decode(data: &[u8]) -> SelProgram {
        let mut it = data.iter().copied();
        let mut caps = [None; 3];
        for c in &mut caps {
            *c = SELECT_CAPS[usize::from(it.next().unwrap_or(0)) % SELECT_CAPS.len()];
        }
        let mut ops = Vec::new();
        while let Some(b) = it.next() {
            let ch = (b >> 2) % 3;
            ops.push(match b & 3 {
                0 | 1 => SelOp::TrySend(ch),
                2 if b & 0x80 != 0 => SelOp::Close(ch),
                _ => {
                    let m = it.next().unwrap_or(0);
                    let recvs = (0..3).filter(|i| m & (1 << i) != 0).collect();
                    let sends = (0..3).filter(|i| m & (8 << i) != 0).collect();
                    SelOp::Select {
                        recvs,
                        sends,
                        mode: (m >> 6) & 3,
                    }
                }
            });
        }
        SelProgram { caps, ops }
    }
}

struct Model {
    queue: VecDeque<u32>,
    closed: bool,
    cap: Option<usize>,
}

impl Model {
    fn recv_ready(&self) -> bool {
        !self.queue.is_empty() || self.closed
    }

    fn send_ready(&self) -> bool {
        self.closed || self.cap.is_none_or(|c| self.queue.len() < c)
    }
}

/// Which case ran.
#[derive(Debug, PartialEq)]
enum Ran {
    Recv(u8, Option<u32>),
    Send(u8, Result<(), u32>),
    Default,
}

/// Runs `p` against the model; panics on any disagreement.
pub(crate) fn run(p: &SelProgram) {
    let chans: Vec<(Sender<u32>, Receiver<u32>)> = p
        .caps
        .iter()
        .map(|c| match c {
            Some(c) => bounded(*c),
            None => unbounded(),
        })
        .collect();
    let mut model: Vec<Model> = p
        .caps
        .iter()
        .map(|&cap| Model {
            queue: VecDeque::new(),
            closed: false,
            cap,
        })
        .collect();
    let mut next = 0u32;
    for op in &p.ops {
        match op {
            SelOp::TrySend(c) => {
                let (tx, _) = &chans[usize::from(*c)];
                let m = &mut model[usize::from(*c)];
                let r = tx.try_send(next);
                if m.send_ready() && !m.closed {
                    assert_eq!(r, Ok(()));
                    m.queue.push_back(next);
                } else {
                    assert!(r.is_err(), "try_send on a full or closed channel");
                }
                next += 1;
            }
            SelOp::Close(c) => {
                let m = &mut model[usize::from(*c)];
                assert_eq!(chans[usize::from(*c)].0.close(), !m.closed);
                m.closed = true;
            }
            SelOp::Select { recvs, sends, mode } => {
                let any_ready = recvs.iter().any(|&c| model[usize::from(c)].recv_ready())
                    || sends.iter().any(|&c| model[usize::from(c)].send_ready());
                let mode = if *mode == 2 && !any_ready { 0 } else { *mode };
                let built = Cell::new(0);
                let value = || {
                    built.set(built.get() + 1);
                    next
                };
                let ran = run_select(&chans, recvs, sends, mode, &value);
                match ran {
                    Ran::Default => {
                        assert!(!any_ready, "default ran with a ready case");
                        assert_eq!(built.get(), 0, "a value built for no case");
                    }
                    Ran::Recv(c, got) => {
                        let m = &mut model[usize::from(c)];
                        assert!(m.recv_ready(), "chose a receive that was not ready");
                        assert_eq!(got, m.queue.pop_front(), "FIFO");
                        assert_eq!(built.get(), 0, "a value built for a receive");
                    }
                    Ran::Send(c, r) => {
                        let m = &mut model[usize::from(c)];
                        assert!(m.send_ready(), "chose a send that was not ready");
                        assert_eq!(built.get(), 1, "one value, for the chosen send");
                        if m.closed {
                            assert_eq!(r, Err(next), "a closed send hands the value back");
                        } else {
                            assert_eq!(r, Ok(()));
                            m.queue.push_back(next);
                        }
                        next += 1;
                    }
                }
            }
        }
        for (i, m) in model.iter().enumerate() {
            assert_eq!(chans[i].1.len(), m.queue.len(), "len of channel {i}");
        }
    }
}

/// Runs one select through the macro (modes 0-2, with up to 2 receive and
/// 1 send case via a fixed shape) or the dynamic `Select` (mode 3).
fn run_select(
    chans: &[(Sender<u32>, Receiver<u32>)],
    recvs: &[u8],
    sends: &[u8],
    mode: u8,
    value: &dyn Fn() -> u32,
) -> Ran {
    if mode == 3 || recvs.len() > 2 || sends.len() > 1 {
        return run_dynamic(chans, recvs, sends, value);
    }
    // The macro needs a fixed shape: absent cases use `never`-like
    // channels that are never ready (open, empty, unbuffered, no peer).
    let (_idle_tx, idle_rx) = bounded::<u32>(0);
    let (idle_tx2, _idle_rx2) = bounded::<u32>(0);
    let r0 = recvs
        .first()
        .map_or(&idle_rx, |&c| &chans[usize::from(c)].1);
    let r1 = recvs.get(1).map_or(&idle_rx, |&c| &chans[usize::from(c)].1);
    let s0 = sends
        .first()
        .map_or(&idle_tx2, |&c| &chans[usize::from(c)].0);
    let c0 = recvs.first().copied().unwrap_or(u8::MAX);
    let c1 = recvs.get(1).copied().unwrap_or(u8::MAX);
    let cs = sends.first().copied().unwrap_or(u8::MAX);
    match mode {
        0 => select! {
            recv(r0) -> v => Ran::Recv(c0, v.ok()),
            recv(r1) -> v => Ran::Recv(c1, v.ok()),
            send(s0, value()) -> r => Ran::Send(cs, r.map_err(|e| e.0)),
            default => Ran::Default,
        },
        1 => select! {
            recv(r0) -> v => Ran::Recv(c0, v.ok()),
            recv(r1) -> v => Ran::Recv(c1, v.ok()),
            send(s0, value()) -> r => Ran::Send(cs, r.map_err(|e| e.0)),
            default(Duration::ZERO) => Ran::Default,
        },
        _ => select! {
            recv(r0) -> v => Ran::Recv(c0, v.ok()),
            recv(r1) -> v => Ran::Recv(c1, v.ok()),
            send(s0, value()) -> r => Ran::Send(cs, r.map_err(|e| e.0)),
        },
    }
}

fn run_dynamic(
    chans: &[(Sender<u32>, Receiver<u32>)],
    recvs: &[u8],
    sends: &[u8],
    value: &dyn Fn() -> u32,
) -> Ran {
    let mut sel = Select::new();
    let mut cases = Vec::new();
    for &c in recvs {
        cases.push((sel.recv(&chans[usize::from(c)].1), true, c));
    }
    for &c in sends {
        cases.push((sel.send(&chans[usize::from(c)].0), false, c));
    }
    let Ok(oper) = sel.try_select() else {
        return Ran::Default;
    };
    let &(_, is_recv, c) = cases
        .iter()
        .find(|(i, _, _)| *i == oper.index())
        .expect("a known index");
    if is_recv {
        Ran::Recv(c, oper.recv(&chans[usize::from(c)].1).ok())
    } else {
        Ran::Send(
            c,
            oper.send(&chans[usize::from(c)].0, value())
                .map_err(|e| e.0),
        )
    }
}

/// Decodes and runs bytes (the fuzz target's entry).
pub(crate) fn run_bytes(data: &[u8]) {
    run(&SelProgram::decode(data));
}
