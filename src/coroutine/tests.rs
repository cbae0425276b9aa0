//! Coroutine-level tests of the switching protocol (module doc of
//! `coroutine`): a resume, a suspend, and direct switches between
//! coroutines, with the resumer told which one came back.

use std::cell::{Cell, RefCell};

use super::{Coroutine, stack, suspend, switch_to};

thread_local! {
    static LOG: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    static PEER: Cell<*mut Coroutine> = const { Cell::new(std::ptr::null_mut()) };
    static TURNS: Cell<u64> = const { Cell::new(0) };
}

fn log(s: &'static str) {
    LOG.with_borrow_mut(|l| l.push(s));
}

fn new(f: fn()) -> Box<Coroutine> {
    let stack = stack::acquire(64 * 1024).expect("a stack");
    Box::new(Coroutine::new(stack, f))
}

/// Resumes `c` from the test thread.
fn resume(c: *mut Coroutine) -> bool {
    // SAFETY: every coroutine of these tests is boxed and lives to the end
    // of its test, on the test's thread; no reference to one is held
    // across a resume.
    unsafe { Coroutine::resume(c, || (1, None)) }
}

/// A: runs, switches straight to its peer, and finishes when resumed.
fn a() {
    log("a1");
    // SAFETY: the peer is suspended, alive (owned by the test) and only
    // touched by this thread; the test resumes A again later.
    unsafe { switch_to(PEER.get()) };
    log("a2");
}

/// B: suspends to the resumer twice, then finishes.
fn b() {
    log("b1");
    suspend();
    log("b2");
    suspend();
    log("b3");
}

#[test]
fn a_direct_switch_lands_the_switched_from_context() {
    let mut ca = new(a);
    let mut cb = new(b);
    let (pa, pb): (*mut Coroutine, *mut Coroutine) = (&mut *ca, &mut *cb);
    assert!(!resume(pb));
    assert!(cb.is_suspended());
    PEER.set(pb);
    // A switches to B, which suspends: the resumer gets B's context back
    // although it resumed A, and A's context was stored when B landed.
    assert!(!resume(pa));
    assert!(ca.is_suspended(), "B's landing stored A's context");
    assert!(cb.is_suspended(), "the resumer stored B's context");
    assert!(resume(pa), "A finishes");
    assert!(!ca.is_suspended());
    assert!(resume(pb), "B finishes");
    assert_eq!(
        LOG.with_borrow(|l| l.clone()),
        ["b1", "a1", "b2", "a2", "b3"]
    );
}

/// Ping-pong by direct switches only, from a deeper call chain on one side
/// than the other; each side counts its turns.
fn pinger() {
    for _ in 0..1000 {
        TURNS.set(TURNS.get() + 1);
        // SAFETY: as in `a`.
        unsafe { switch_to(PEER.get()) };
    }
}

#[inline(never)]
fn ponger_turn(depth: u32, ping: *mut Coroutine) {
    if depth > 0 {
        ponger_turn(depth - 1, ping);
        return;
    }
    TURNS.set(TURNS.get() + 1_000_000);
    // SAFETY: as in `a`.
    unsafe { switch_to(ping) };
}

fn ponger() {
    let ping = PEER.get();
    suspend();
    for i in 0..1000 {
        ponger_turn(i % 7, ping);
    }
}

#[test]
fn direct_switches_ping_pong_and_the_resumer_stores_the_last_one() {
    let mut ping = new(pinger);
    let mut pong = new(ponger);
    let (p1, p2): (*mut Coroutine, *mut Coroutine) = (&mut *ping, &mut *pong);
    PEER.set(p1);
    assert!(!resume(p2), "pong waits for its peer");
    PEER.set(p2);
    TURNS.set(0);
    assert!(resume(p1), "ping finishes first");
    assert_eq!(TURNS.get(), 1000 * 1_000_000 + 1000);
    assert!(pong.is_suspended(), "pong's last switch stored its context");
    assert!(resume(p2), "pong finishes");
}

/// Reads the overflow record the running coroutine published.
fn read_record() {
    let running = super::overflow::running_record();
    // SAFETY: published by `resume` for this coroutine, which runs.
    let r = unsafe { &*running };
    RECORD.set((r.id, r.stack_size, r.guard.clone()));
    suspend();
}

thread_local! {
    static RECORD: Cell<(u64, usize, std::ops::Range<usize>)> = const { Cell::new((0, 0, 0..0)) };
}

#[test]
fn the_overflow_record_lives_on_the_stack_and_is_dropped_at_the_end() {
    let mut c = new(read_record);
    let (guard, size, top) = {
        let s = c.stack.as_ref().unwrap();
        (s.guard(), s.size(), s.top() as usize)
    };
    let name: std::sync::Arc<str> = std::sync::Arc::from("recorded");
    let p: *mut Coroutine = &mut *c;
    // SAFETY: as in `resume`, with the identity given here.
    assert!(!unsafe { Coroutine::resume(p, || (77, Some(name.clone()))) });
    assert_eq!(RECORD.take(), (77, size, guard));
    let record = c.running as usize;
    assert!(
        record < top && record >= top - super::RECORD_BYTES,
        "at the stack's top"
    );
    assert_eq!(
        std::sync::Arc::strong_count(&name),
        2,
        "the record holds the name"
    );
    assert!(resume(p), "finishes");
    assert_eq!(
        std::sync::Arc::strong_count(&name),
        1,
        "the record was dropped"
    );
    assert!(c.running.is_null());
}
