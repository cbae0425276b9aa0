//! Property tests of channels against models (`tests/common/ops.rs`, the
//! same code the fuzz target runs):
//!
//! * (a) random sequences of operations on ONE channel from one thread
//!   (`try_send`/`try_recv`, zero timeouts, past deadlines, blocking
//!   `send`/`recv` only where the model says they cannot block, `close`,
//!   clone and drop of senders and receivers, `len`/`is_empty`/`is_full`/
//!   `capacity`/`is_closed`, `try_iter`, `iter` once closed) against a
//!   sequential model (a `VecDeque`, the closed flag, the handle counts),
//!   with a drop counter on every message, for capacities 0, 1, 2, 7, 16 and
//!   unbounded;
//! * (b) random concurrent programs: 1-4 senders and 1-3 receivers on green
//!   threads (runtimes of 1-4 workers) and OS threads, blocking, `try_*` or
//!   timeout styles, sometimes closing early: every message sent is
//!   received exactly once, a failed send returns its message, and each
//!   receiver sees each sender's messages in order; for each capacity.

mod common;
#[path = "common/ops.rs"]
mod ops;

use ops::{CAPS, Cap, Op, Party, Plan, Program, Style};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

type MakeOp = fn(u8) -> Op;

/// Operations weighted towards sends and receives, so programs spend most
/// of their length on an open channel: (weight, constructor).
const WEIGHTS: [(u8, MakeOp); 16] = [
    (8, Op::TrySend),
    (4, Op::SendZero),
    (3, Op::SendPast),
    (6, Op::Send),
    (8, Op::TryRecv),
    (4, Op::RecvZero),
    (3, Op::RecvPast),
    (6, Op::Recv),
    (6, Op::Check),
    (2, Op::TryIter),
    (1, Op::Iter),
    (2, Op::CloneTx),
    (2, Op::CloneRx),
    (1, Op::DropTx),
    (1, Op::DropRx),
    (1, Op::Close),
];

/// Low byte: the operation, by weight; high byte: the handle. (A mapped
/// integer: much cheaper to generate than a `prop_oneof!` of 16 arms, and
/// it shrinks towards `TrySend(0)`.)
fn weighted(x: u16) -> Op {
    let total: u16 = WEIGHTS.iter().map(|&(w, _)| w as u16).sum();
    let mut k = (x & 0xff) % total;
    let h = (x >> 8) as u8 & 0x0f;
    for (w, f) in WEIGHTS {
        if k < w as u16 {
            return f(h);
        }
        k -= w as u16;
    }
    unreachable!()
}

fn op() -> impl Strategy<Value = Op> {
    any::<u16>().prop_map(weighted)
}

fn sequential(cap: Cap) {
    let mut runner = TestRunner::new(config(2000));
    runner
        .run(&prop::collection::vec(op(), 0..250), |ops| {
            ops::run_program(&Program { cap, ops });
            Ok(())
        })
        .unwrap();
    // Uniform bytes too, as the fuzz target decodes them.
    let mut runner = TestRunner::new(config(500));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..120), |bytes| {
            let ops = bytes.into_iter().map(Op::from_byte).collect();
            ops::run_program(&Program { cap, ops });
            Ok(())
        })
        .unwrap();
}

#[test]
fn sequential_cap_0() {
    sequential(Cap::Bounded(0));
}

#[test]
fn sequential_cap_1() {
    sequential(Cap::Bounded(1));
}

#[test]
fn sequential_cap_2() {
    sequential(Cap::Bounded(2));
}

#[test]
fn sequential_cap_7() {
    sequential(Cap::Bounded(7));
}

#[test]
fn sequential_unbounded() {
    sequential(Cap::Unbounded);
}

#[test]
fn byte_programs_round_trip() {
    let mut runner = TestRunner::new(config(200));
    runner
        .run(
            &(
                prop::sample::select(CAPS.to_vec()),
                prop::collection::vec(op(), 0..50),
            ),
            |(cap, ops)| {
                let p = Program { cap, ops };
                let bytes = p.encode();
                prop_assert_eq!(Program::decode(bytes[0], &bytes[1..]), p);
                Ok(())
            },
        )
        .unwrap();
}

fn party() -> impl Strategy<Value = Party> {
    (
        prop::bool::weighted(0.3),
        prop::sample::select(vec![Style::Blocking, Style::Try, Style::Timeout]),
    )
        .prop_map(|(os, style)| Party { os, style })
}

fn plan(cap: Cap) -> impl Strategy<Value = Plan> {
    (
        1usize..=4,
        prop::collection::vec(party(), 1..=4),
        prop::collection::vec(party(), 1..=3),
        1u32..=48,
        prop::bool::weighted(0.25),
    )
        .prop_map(
            move |(workers, senders, receivers, per_sender, early_close)| Plan {
                cap,
                workers,
                senders,
                receivers,
                per_sender,
                early_close,
            },
        )
}

fn concurrent(cap: Cap) {
    let mut runner = TestRunner::new(config(40));
    runner
        .run(&plan(cap), |plan| {
            let rt = common::rt(plan.workers);
            ops::run_plan(&plan, &rt);
            Ok(())
        })
        .unwrap();
}

#[test]
fn concurrent_cap_0() {
    concurrent(Cap::Bounded(0));
}

#[test]
fn concurrent_cap_1() {
    concurrent(Cap::Bounded(1));
}

#[test]
fn concurrent_cap_2() {
    concurrent(Cap::Bounded(2));
}

#[test]
fn concurrent_cap_7() {
    concurrent(Cap::Bounded(7));
}

#[test]
fn concurrent_unbounded() {
    concurrent(Cap::Unbounded);
}

#[test]
fn plans_round_trip() {
    let mut runner = TestRunner::new(config(200));
    runner
        .run(
            &prop::sample::select(CAPS.to_vec()).prop_flat_map(plan),
            |p| {
                let bytes = p.encode();
                prop_assert_eq!(bytes[0] & 0x80, 0x80);
                prop_assert_eq!(Plan::decode(&bytes[1..]), p);
                Ok(())
            },
        )
        .unwrap();
}
