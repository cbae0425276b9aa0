//! The select protocol, after Go's `selectgo`, over channels of different
//! message types (each reached through [`Operand`]).
//!
//! 1. Lock every channel of the select, in address order, each once
//!    (duplicates are allowed: the same channel in several cases).
//! 2. Poll the cases in a random order (source order when biased). The
//!    first ready one is reserved under the locks: a receive moves its
//!    message into the case's [`RecvCell`] at once; a send claims the
//!    waiting receiver or reserves a buffer cell, to complete once the
//!    caller has built its value. Unlock and return it.
//! 3. If none is ready and the caller may wait, queue one waiter per case,
//!    all sharing one [`WaitCell`], unlock, and park. The first peer to
//!    claim the cell (`waiter.rs`) settles exactly one case; the others
//!    become stale. A select never pairs with itself: it does nothing while
//!    its waiters are queued.
//! 4. Woken (or timed out, having abandoned the cell), lock every channel
//!    again and take out the waiters still queued, then report the case.
//!    `RETRY` goes back to step 1. `RESERVED` (a receive freed room in a
//!    full buffer and kept a cell for a send case, in its turn) reports
//!    that case reserved, as step 2 would.
//!
//! A receive case that meets a selecting sender pairs with it through the
//! rendezvous in its cell and waits for the value before returning; if the
//! sender gives up, the select starts over.

use std::cell::Cell as StdCell;
use std::ptr::NonNull;
use std::time::Instant;

use super::super::channel::{Channel, Fail, Got, SendReady, Wakes};
use super::super::slot::Slot;
use super::super::waiter::{
    self, ABANDONED, CLOSED, DELIVERED, DONE, PAIRED, RESERVED, RETRY, Rendezvous, WaitCell, Waiter,
};
use crate::runtime::parking;

/// A reserved operation, type-erased (see [`Operand`]).
#[derive(Debug)]
pub(crate) enum Token {
    /// A receive case: its result is in the case's cell (a message, or
    /// nothing when the channel is closed and drained).
    Recv,
    /// A send case on a closed channel.
    SendClosed,
    /// A send case that claimed this receiver's waiter.
    SendTo(NonNull<Waiter>),
    /// A send case with a reserved buffer cell.
    SendReserved,
    /// A send case a receiver waits for at this rendezvous.
    SendPaired(*const Rendezvous),
}

/// The outcome of polling one case.
pub(crate) enum Polled {
    /// Not ready.
    No,
    /// Ready and reserved.
    Ready(Token),
    /// A receive case claimed a selecting sender: unlock, then wait for
    /// its value (`Operand::wait_paired`).
    Paired,
}

/// Where a receive case's message lands, in the select's frame.
/// `repr(C)` with the slot first: a pointer to the cell is a pointer to
/// its slot, which is what the case's waiter points at.
#[repr(C)]
pub struct RecvCell<T> {
    slot: Slot<T>,
    rv: Option<Rendezvous>,
}

impl<T> RecvCell<T> {
    /// An empty cell for messages of `T`.
    pub(crate) fn new() -> RecvCell<T> {
        RecvCell {
            slot: Slot::empty(),
            rv: None,
        }
    }

    /// The case's result: the message, or `None` if the channel was
    /// closed and drained.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.slot.take_if_full()
    }
}

/// One channel of a select, whatever its message type.
pub(crate) trait Operand {
    /// Whether the channel has a buffer (bounded above 0, or unbounded).
    fn buffered(&self) -> bool;
    /// Whether the case might be ready, read without the lock (a hint for
    /// the first pass of [`select`]: `false` lets it skip the lock of a
    /// buffered channel that is empty, for a receive, or full, for a
    /// send).
    fn may_be_ready(&self, send: bool) -> bool;
    fn lock(&self);
    /// # Safety
    /// The caller holds the lock.
    unsafe fn unlock(&self);
    /// Step 2 for one case. `cell` is the case's `RecvCell<T>` for a
    /// receive.
    ///
    /// # Safety
    /// The caller holds the lock; `cell` is a `RecvCell` of this channel's
    /// `T`, valid and unaliased for the select.
    unsafe fn poll(&self, send: bool, cell: *mut (), wakes: &mut Wakes) -> Polled;
    /// After a receive case paired with a selecting sender (`poll` said
    /// `Paired` and left a rendezvous in the cell): waits for the value;
    /// `false` if the sender gave up.
    ///
    /// # Safety
    /// As for `poll`, without the lock.
    unsafe fn wait_paired(&self, cell: *mut ()) -> bool;
    /// Whether the case would complete now. Caller holds the lock.
    ///
    /// # Safety
    /// The caller holds the lock.
    unsafe fn ready(&self, send: bool) -> bool;
    /// The waiter of case `case` (over the cell's slot for a receive).
    fn waiter(&self, wait: &WaitCell, case: usize, send: bool, cell: *mut ()) -> Waiter;
    /// # Safety
    /// The caller holds the lock; the waiter stays valid until taken out.
    unsafe fn register(&self, w: &Waiter, send: bool);
    /// # Safety
    /// The caller holds the lock.
    unsafe fn unregister(&self, w: &Waiter, send: bool);
    /// Drops a message left in a receive case's cell (its selected
    /// operation was dropped uncompleted), so the cell can be used again.
    ///
    /// # Safety
    /// As for `poll`, without the lock.
    unsafe fn clear(&self, cell: *mut ());
    /// Gives up a reserved send (the select unwound before completing it).
    ///
    /// # Safety
    /// `token` came from this channel's send case and is used once.
    unsafe fn abort(&self, token: Token);
}

impl<T> Channel<T> {
    /// A send token of this channel, typed back.
    ///
    /// # Safety
    /// `token` came from this channel's send case.
    pub(crate) unsafe fn send_ready(token: Token) -> SendReady<T> {
        match token {
            Token::SendClosed => SendReady::Closed,
            // SAFETY: the claim was made on this channel's queue (of `T`).
            Token::SendTo(w) => SendReady::To(unsafe { waiter::Claim::from_raw(w) }),
            Token::SendReserved => SendReady::Reserved,
            Token::SendPaired(rv) => SendReady::Paired(rv),
            Token::Recv => unreachable!("a receive token for a send"),
        }
    }
}

impl<T> Operand for Channel<T> {
    fn buffered(&self) -> bool {
        self.capacity() != Some(0)
    }

    fn may_be_ready(&self, send: bool) -> bool {
        self.may_be_ready(send)
    }

    fn lock(&self) {
        self.inner.raw_lock();
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock.
        unsafe { self.inner.raw_unlock() };
    }

    unsafe fn poll(&self, send: bool, cell: *mut (), wakes: &mut Wakes) -> Polled {
        // SAFETY: the caller holds the lock; no other reference to `Inner`
        // lives meanwhile.
        let inner = unsafe { self.inner.get() };
        if send {
            return match self.poll_send_locked(inner, wakes) {
                None => Polled::No,
                Some(SendReady::Closed) => Polled::Ready(Token::SendClosed),
                Some(SendReady::To(c)) => Polled::Ready(Token::SendTo(c.into_raw())),
                Some(SendReady::Reserved) => Polled::Ready(Token::SendReserved),
                Some(SendReady::Paired(rv)) => Polled::Ready(Token::SendPaired(rv)),
            };
        }
        // SAFETY: the caller's contract: a valid `RecvCell<T>`.
        let cell = unsafe { &mut *cell.cast::<RecvCell<T>>() };
        match self.recv_locked(inner, &mut cell.slot, wakes) {
            Ok(Got::Done) | Err(Fail::Closed) => Polled::Ready(Token::Recv),
            Err(_) => Polled::No,
            Ok(Got::Pair(claim)) => {
                let slot: *mut Slot<T> = &mut cell.slot;
                let rv = cell.rv.insert(Rendezvous::new(slot));
                wakes.push(claim.pair(rv));
                Polled::Paired
            }
        }
    }

    unsafe fn wait_paired(&self, cell: *mut ()) -> bool {
        // SAFETY: the caller's contract.
        let cell = unsafe { &mut *cell.cast::<RecvCell<T>>() };
        let Some(rv) = cell.rv.as_ref() else {
            return false;
        };
        let delivered = rv.wait(reason()) == DELIVERED;
        cell.rv = None;
        delivered
    }

    unsafe fn ready(&self, send: bool) -> bool {
        // SAFETY: the caller holds the lock.
        self.ready_locked(unsafe { self.inner.get() }, send)
    }

    fn waiter(&self, wait: &WaitCell, case: usize, send: bool, cell: *mut ()) -> Waiter {
        if send {
            Waiter::new::<T>(wait, case, std::ptr::null_mut())
        } else if cell.is_null() {
            Waiter::notify(wait, case)
        } else {
            Waiter::new::<T>(wait, case, cell.cast::<Slot<T>>())
        }
    }

    unsafe fn register(&self, w: &Waiter, send: bool) {
        // SAFETY: the caller holds the lock and keeps `w` valid.
        unsafe { self.register_locked(self.inner.get(), w, send) };
    }

    unsafe fn unregister(&self, w: &Waiter, send: bool) {
        // SAFETY: the caller holds the lock.
        self.unregister_locked(unsafe { self.inner.get() }, w, send);
    }

    unsafe fn clear(&self, cell: *mut ()) {
        // SAFETY: the caller's contract.
        drop(unsafe { (*cell.cast::<RecvCell<T>>()).take() });
    }

    unsafe fn abort(&self, token: Token) {
        // SAFETY: the caller's contract.
        self.abort_send(unsafe { Channel::<T>::send_ready(token) });
    }
}

#[cfg(not(loom))]
fn reason() -> parking::Reason {
    crate::runtime::task::WaitReason::Select
}

#[cfg(loom)]
fn reason() -> parking::Reason {}

/// One case of a select: a channel, a direction, and for a receive the
/// cell its message lands in (null for a readiness check).
#[derive(Clone, Copy)]
pub struct Case<'a> {
    pub(crate) op: &'a dyn Operand,
    pub(crate) send: bool,
    pub(crate) cell: *mut (),
}

/// How long a select may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    Forever,
    Never,
    Until(Instant),
}

impl Wait {
    fn deadline(self) -> Option<Instant> {
        match self {
            Wait::Until(d) => Some(d),
            _ => None,
        }
    }

    fn expired(self) -> bool {
        match self {
            Wait::Forever => false,
            Wait::Never => true,
            // Under loom the clock is not modelled: the wait always
            // queues, and `WaitCell::wait` gives up after one wake-up.
            Wait::Until(_) if cfg!(loom) => false,
            Wait::Until(d) => Instant::now() >= d,
        }
    }
}

/// Positions of cases, on the stack for small selects.
struct Order {
    small: [u32; 8],
    big: Vec<u32>,
    len: usize,
}

impl Order {
    fn new(n: usize) -> Order {
        let mut o = Order {
            small: [0; 8],
            big: Vec::new(),
            len: n,
        };
        if n > 8 {
            o.big = (0..n as u32).collect();
        } else {
            for i in 0..n {
                o.small[i] = i as u32;
            }
        }
        o
    }

    fn as_mut(&mut self) -> &mut [u32] {
        if self.len > 8 {
            &mut self.big
        } else {
            &mut self.small[..self.len]
        }
    }

    fn as_ref(&self) -> &[u32] {
        if self.len > 8 {
            &self.big
        } else {
            &self.small[..self.len]
        }
    }

    /// Go's `pollorder`: a uniformly random permutation (Fisher-Yates,
    /// one read and one write of the thread's generator).
    ///
    /// Up to 8 cases (at most 8! orders, under 16 bits of entropy) one
    /// 64-bit draw feeds every swap: each step takes the index from the
    /// high half of a widening multiply by its range and goes on with the
    /// low half (Lemire's reduction, chained), which leaves at least 48
    /// fresh bits to the last step, so each choice is uniform to within
    /// 2^-48. Larger selects draw once per swap.
    fn shuffle(&mut self) {
        if cfg!(loom) {
            // Models must replay deterministically: keep source order.
            return;
        }
        let s = self.as_mut();
        RNG.with(|r| {
            let mut x = r.get();
            if x == 0 {
                x = seed();
            }
            if s.len() <= 8 {
                x = xorshift(x);
                let mut v = x.wrapping_mul(XORSHIFT_STAR);
                for i in (1..s.len()).rev() {
                    let m = u128::from(v) * (i as u128 + 1);
                    v = m as u64;
                    s.swap(i, (m >> 64) as usize);
                }
            } else {
                for i in (1..s.len()).rev() {
                    x = xorshift(x);
                    s.swap(i, below(x, i as u64 + 1) as usize);
                }
            }
            r.set(x);
        });
    }
}

thread_local! {
    /// This thread's xorshift64* state, 0 until seeded.
    static RNG: StdCell<u64> = const { StdCell::new(0) };
}

/// Puts `s` in a uniformly random order (Fisher-Yates on this thread's
/// generator, one draw per swap); keeps it as it is under loom, whose
/// models must replay deterministically.
pub(crate) fn shuffle<T>(s: &mut [T]) {
    if cfg!(loom) || s.len() < 2 {
        return;
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = seed();
        }
        for i in (1..s.len()).rev() {
            x = xorshift(x);
            s.swap(i, below(x, i as u64 + 1) as usize);
        }
        r.set(x);
    });
}

/// A non-zero seed from this thread's stack address and the clock.
#[cold]
fn seed() -> u64 {
    let local = 0u8;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    ((&local as *const u8 as u64) ^ t ^ 0x9E37_79B9_7F4A_7C15) | 1
}

/// xorshift64*'s output multiplier.
const XORSHIFT_STAR: u64 = 0x2545_F491_4F6C_DD1D;

/// One xorshift64 step (never 0 from a non-zero state).
fn xorshift(mut x: u64) -> u64 {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x
}

/// A uniform number below `n` from the state `x` (xorshift64*'s output,
/// Lemire's reduction).
fn below(x: u64, n: u64) -> u64 {
    let v = x.wrapping_mul(XORSHIFT_STAR);
    ((u128::from(v >> 32) * u128::from(n)) >> 32) as u64
}

/// The address of a case's channel, its identity (lock order, and matching
/// a completion to its case): the data half of its `&dyn Operand`.
pub(crate) fn addr(op: &dyn Operand) -> *const () {
    (op as *const dyn Operand).cast::<()>()
}

/// The locks of a select's channels, in address order, each once
/// (computed once per select; small selects keep them on the stack).
struct Locks<'a> {
    small: [Option<&'a dyn Operand>; 8],
    big: Vec<&'a dyn Operand>,
    len: usize,
}

impl<'a> Locks<'a> {
    fn new(cases: &[Case<'a>]) -> Self {
        let mut order = Order::new(cases.len());
        // Under loom, addresses differ between executions, which would make
        // the lock order (and the model) non-deterministic: keep source
        // order there (the models never lock two channels in opposite
        // orders).
        if !cfg!(loom) {
            order
                .as_mut()
                .sort_unstable_by_key(|&i| addr(cases[i as usize].op));
        }
        let mut locks = Locks {
            small: [None; 8],
            big: Vec::new(),
            len: 0,
        };
        let order = order.as_ref();
        for (k, &i) in order.iter().enumerate() {
            let op = cases[i as usize].op;
            let seen = if cfg!(loom) {
                order[..k]
                    .iter()
                    .any(|&j| std::ptr::eq(addr(cases[j as usize].op), addr(op)))
            } else {
                // Sorted: a duplicate follows its first occurrence.
                k > 0 && std::ptr::eq(addr(cases[order[k - 1] as usize].op), addr(op))
            };
            if !seen {
                locks.push(op);
            }
        }
        locks
    }

    fn push(&mut self, op: &'a dyn Operand) {
        if self.len < self.small.len() {
            self.small[self.len] = Some(op);
        } else {
            if self.big.is_empty() {
                self.big.extend(self.small.iter().flatten());
            }
            self.big.push(op);
        }
        self.len += 1;
    }

    /// The distinct channels, in lock order.
    fn distinct(&self) -> impl Iterator<Item = &'a dyn Operand> + '_ {
        let small = if self.len <= self.small.len() {
            &self.small[..self.len]
        } else {
            &[][..]
        };
        small
            .iter()
            .flatten()
            .copied()
            .chain(self.big.iter().copied())
    }

    /// Takes every lock, in order; they are released by [`Held::unlock`],
    /// or when the guard drops (a panic while they are held must not leave
    /// the channels locked for good).
    fn lock(&self) -> Held<'_, 'a> {
        for op in self.distinct() {
            op.lock();
        }
        Held(self)
    }
}

/// All the locks of a [`Locks`], held.
struct Held<'l, 'a>(&'l Locks<'a>);

impl Held<'_, '_> {
    fn unlock(self) {
        drop(self);
    }
}

impl Drop for Held<'_, '_> {
    fn drop(&mut self) {
        for op in self.0.distinct() {
            // SAFETY: `Locks::lock` took each of these once, and this guard
            // of that call releases them once.
            unsafe { op.unlock() };
        }
    }
}

/// Runs a select over `cases`: the position of the case that completed
/// and its token, or `None` if `wait` ran out first.
pub(crate) fn select(cases: &[Case<'_>], biased: bool, wait: Wait) -> Option<(usize, Token)> {
    if cases.is_empty() {
        block_empty(wait);
        return None;
    }
    let mut order = Order::new(cases.len());
    // Whether `order` is already a fresh shuffle for the next pass.
    let mut shuffled = false;
    // Over buffered channels a case is often ready at once: try each under
    // its own lock first (crossbeam-channel's first pass), and work out the
    // lock order and lock them all only to wait. Unbuffered channels skip
    // it: they are rarely ready, and the pass would only add lock traffic.
    if cases.len() > 1 && cases.iter().any(|c| c.op.buffered()) {
        if !biased {
            order.shuffle();
            shuffled = true;
        }
        if let Some(done) = poll_each(cases, order.as_ref()) {
            return Some(done);
        }
    }
    let locks = Locks::new(cases);
    loop {
        if !biased && !std::mem::take(&mut shuffled) {
            order.shuffle();
        }
        let held = locks.lock();
        let mut wakes = Wakes::default();
        let mut paired = None;
        for &i in order.as_ref() {
            let c = &cases[i as usize];
            // SAFETY: all locks held; the cells are the cases' own.
            match unsafe { c.op.poll(c.send, c.cell, &mut wakes) } {
                Polled::Ready(token) => {
                    held.unlock();
                    wakes.fire();
                    return Some((i as usize, token));
                }
                Polled::Paired => {
                    paired = Some(i as usize);
                    break;
                }
                Polled::No => {}
            }
        }
        if let Some(i) = paired {
            held.unlock();
            wakes.fire();
            let c = &cases[i];
            // SAFETY: the cell is this case's, and holds the rendezvous.
            if unsafe { c.op.wait_paired(c.cell) } {
                return Some((i, Token::Recv));
            }
            continue;
        }
        if wait.expired() {
            held.unlock();
            wakes.fire();
            return None;
        }
        let (state, paired) = park_on(cases, held, order.as_ref(), wakes, wait, |cell, i, c| {
            c.op.waiter(cell, i, c.send, c.cell)
        });
        let case = waiter::case(state);
        match waiter::kind(state) {
            ABANDONED => return None,
            RETRY => continue,
            DONE => return Some((case, Token::Recv)),
            CLOSED if cases[case].send => return Some((case, Token::SendClosed)),
            CLOSED => return Some((case, Token::Recv)),
            PAIRED => return Some((case, Token::SendPaired(paired))),
            // A receive freed room and kept a cell for this send case.
            RESERVED => return Some((case, Token::SendReserved)),
            k => unreachable!("select woke in state {k}"),
        }
    }
}

/// The first pass of [`select`] over buffered channels: polls the cases in
/// `order`, each under its own channel's lock only. The first ready case
/// in `order` wins, as under all the locks; `None` if none was (or a
/// selecting sender paired with a receive case gave up), and the caller
/// goes on to the locked pass, which checks every case again before it
/// waits, so no wake-up is lost.
fn poll_each(cases: &[Case<'_>], order: &[u32]) -> Option<(usize, Token)> {
    for &i in order {
        let c = &cases[i as usize];
        if !c.op.may_be_ready(c.send) {
            // Empty (or full) a moment ago: taking its lock would only
            // pull the channel's line from the core that fills (or
            // drains) it.
            continue;
        }
        let mut wakes = Wakes::default();
        c.op.lock();
        // SAFETY: we hold this case's lock; the cell is the case's own.
        let polled = unsafe { c.op.poll(c.send, c.cell, &mut wakes) };
        // SAFETY: taken just above.
        unsafe { c.op.unlock() };
        wakes.fire();
        match polled {
            Polled::Ready(token) => return Some((i as usize, token)),
            Polled::Paired => {
                // SAFETY: the cell is this case's, and holds the rendezvous.
                if unsafe { c.op.wait_paired(c.cell) } {
                    return Some((i as usize, Token::Recv));
                }
                return None;
            }
            Polled::No => {}
        }
    }
    None
}

/// Waits until one of `cases` is ready (checked under its lock, nothing
/// reserved): its position, or `None` if `wait` ran out first.
pub(crate) fn ready(cases: &[Case<'_>], wait: Wait) -> Option<usize> {
    if cases.is_empty() {
        block_empty(wait);
        return None;
    }
    let locks = Locks::new(cases);
    let mut order = Order::new(cases.len());
    loop {
        order.shuffle();
        let held = locks.lock();
        for &i in order.as_ref() {
            let c = &cases[i as usize];
            // SAFETY: all locks held.
            if unsafe { c.op.ready(c.send) } {
                held.unlock();
                return Some(i as usize);
            }
        }
        if wait.expired() {
            held.unlock();
            return None;
        }
        let (state, _) = park_on(
            cases,
            held,
            order.as_ref(),
            Wakes::default(),
            wait,
            |cell, i, _| Waiter::notify(cell, i),
        );
        if state == ABANDONED {
            return None;
        }
    }
}

/// Steps 3 and 4: queues one waiter per case (made by `waiter`, all over
/// one fresh cell) in `order`, releases the locks `held`, fires `wakes`,
/// parks until the cell is settled or `wait` runs out, and takes the
/// waiters out again. Returns the final state and, for `PAIRED`, the
/// receiver's rendezvous.
fn park_on(
    cases: &[Case<'_>],
    held: Held<'_, '_>,
    order: &[u32],
    wakes: Wakes,
    wait: Wait,
    waiter: impl Fn(&WaitCell, usize, &Case<'_>) -> Waiter,
) -> (usize, *const Rendezvous) {
    let cell = WaitCell::new();
    let waiters = Waiters::new(&cell, cases, waiter);
    // Queue in poll order: when one channel appears in several cases,
    // which of them a peer completes is random too (Go's lockorder is
    // sorted from the random pollorder with an unstable sort).
    for &i in order {
        let (c, w) = (&cases[i as usize], &waiters[i as usize]);
        // SAFETY: locks held; `waiters` outlives the registration
        // (`Registered` takes them out before they drop).
        unsafe { c.op.register(w, c.send) };
    }
    let locks = held.0;
    held.unlock();
    wakes.fire();
    let reg = Registered {
        cases,
        locks,
        waiters: &waiters,
        cell: &cell,
    };
    let state = cell.wait(wait.deadline(), reason());
    reg.unregister();
    std::mem::forget(reg);
    let paired = if waiter::kind(state) == PAIRED {
        cell.paired()
    } else {
        std::ptr::null()
    };
    (state, paired)
}

/// Cases whose waiters a parking select keeps in its own frame; more go
/// to the heap. One allocation and one free per park were 6-8% of a
/// four-case `select_both` (perf).
const INLINE_WAITERS: usize = 4;

/// A parked select's waiters, one per case. They do not move once queued:
/// the value stays in `park_on`'s frame (and a `Vec`'s buffer stays put).
enum Waiters {
    /// The first `.1` are the cases'; the rest are never queued.
    Inline([Waiter; INLINE_WAITERS], usize),
    Heap(Vec<Waiter>),
}

impl Waiters {
    fn new(
        cell: &WaitCell,
        cases: &[Case<'_>],
        waiter: impl Fn(&WaitCell, usize, &Case<'_>) -> Waiter,
    ) -> Waiters {
        let n = cases.len();
        if n <= INLINE_WAITERS {
            let ws = std::array::from_fn(|i| match cases.get(i) {
                Some(c) => waiter(cell, i, c),
                None => Waiter::notify(cell, i),
            });
            Waiters::Inline(ws, n)
        } else {
            Waiters::Heap(
                cases
                    .iter()
                    .enumerate()
                    .map(|(i, c)| waiter(cell, i, c))
                    .collect(),
            )
        }
    }
}

impl std::ops::Deref for Waiters {
    type Target = [Waiter];

    fn deref(&self) -> &[Waiter] {
        match self {
            Waiters::Inline(ws, n) => &ws[..*n],
            Waiters::Heap(ws) => ws,
        }
    }
}

/// A select with no cases waits for its deadline, or forever (Go's empty
/// `select {}`; a runtime shutdown still unwinds it).
fn block_empty(wait: Wait) {
    match wait {
        Wait::Never => {}
        Wait::Until(d) => {
            while Instant::now() < d {
                parking::park_until(d, reason());
            }
        }
        Wait::Forever => loop {
            parking::park(reason());
        },
    }
}

/// A select's queued waiters: taken out of their queues (step 4) before
/// the frame holding them may die, also when the wait unwinds.
struct Registered<'r, 'c, 'a> {
    cases: &'c [Case<'a>],
    locks: &'r Locks<'a>,
    waiters: &'r [Waiter],
    cell: &'r WaitCell,
}

impl Registered<'_, '_, '_> {
    fn unregister(&self) {
        let held = self.locks.lock();
        for (c, w) in self.cases.iter().zip(self.waiters) {
            // SAFETY: all locks held.
            unsafe { c.op.unregister(w, c.send) };
        }
        held.unlock();
    }
}

impl Drop for Registered<'_, '_, '_> {
    fn drop(&mut self) {
        // Only reached when the wait unwinds (a runtime shutdown).
        let state = if self.cell.abandon() {
            ABANDONED
        } else {
            self.cell.wait_settled(reason())
        };
        self.unregister();
        match waiter::kind(state) {
            // SAFETY: the rendezvous of our `PAIRED` state, settled once.
            PAIRED => unsafe { Rendezvous::fail(self.cell.paired()) },
            RESERVED => {
                // The cell kept for our send case goes to whoever is next.
                let c = &self.cases[waiter::case(state)];
                // SAFETY: the token our `RESERVED` state stands for, given
                // back once, to the channel of that case.
                unsafe { c.op.abort(Token::SendReserved) };
            }
            _ => {}
        }
        // A message a sender delivered (`DONE`) stays in its case's cell
        // and drops with it.
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::HashMap;

    use super::Order;

    /// Every order of `n` cases comes out of `shuffle` equally often:
    /// `per` expected draws of each of the `n!` orders, each count within
    /// `per / 10` of it (about ten standard deviations: a false failure
    /// has a probability far below 1e-9).
    fn uniform(n: usize, per: usize) {
        let orders: usize = (1..=n).product();
        let mut seen: HashMap<Vec<u32>, usize> = HashMap::new();
        for _ in 0..orders * per {
            let mut o = Order::new(n);
            o.shuffle();
            *seen.entry(o.as_ref().to_vec()).or_default() += 1;
        }
        assert_eq!(seen.len(), orders, "every order of {n} appears");
        for (order, count) in seen {
            assert!(
                count.abs_diff(per) < per / 10,
                "{order:?} came {count} times, expected {per}"
            );
        }
    }

    #[test]
    fn small_selects_draw_every_order_uniformly() {
        uniform(2, 100_000);
        uniform(4, 10_000);
    }

    #[test]
    fn every_case_lands_everywhere_uniformly() {
        // 8 cases (the last of the one-draw path) and 9 (the per-swap
        // path): their orders are too many to count, so count where each
        // case lands instead.
        lands_uniformly(8);
        lands_uniformly(9);
    }

    fn lands_uniformly(n: usize) {
        let per = 20_000;
        let mut at = vec![vec![0usize; n]; n];
        for _ in 0..n * per {
            let mut o = Order::new(n);
            o.shuffle();
            for (pos, &case) in o.as_ref().iter().enumerate() {
                at[case as usize][pos] += 1;
            }
        }
        for (case, counts) in at.iter().enumerate() {
            for (pos, &c) in counts.iter().enumerate() {
                assert!(
                    c.abs_diff(per) < per / 10,
                    "case {case} at {pos} {c} times, expected {per}"
                );
            }
        }
    }
}
