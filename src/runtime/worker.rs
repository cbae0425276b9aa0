//! One worker: an OS thread that runs green threads until the runtime
//! terminates.
//!
//! # Queues of one worker
//!
//! * `runnext` (LIFO slot): the green thread this worker's own thread just
//!   woke, run next so a ping-pong pair shares one time slice (Go's
//!   `runnext`). At most `RUNNEXT_STREAK` picks in a row come from it; then
//!   the slot's task goes to the back of `pinned`, so it cannot starve the
//!   rest.
//! * `pinned`: started green threads ready to run here (yielded, or woken
//!   and displaced from `runnext`, or drained from the inbox). Owner only.
//! * `local`: never-started green threads, a bounded work-stealing queue
//!   whose other end (`Remote::steal`) thieves take half of.
//! * the inbox in `Remote`: started green threads woken by other threads.
//!
//! # Pinning
//!
//! Only `local` and the injector are ever stolen from, and they hold only
//! never-started green threads. A task is pinned (`Task::pin`) before its
//! first resume and afterwards is only queued on its home worker. So a
//! started green thread runs on one OS thread for life, which keeps
//! `thread_local!` addresses and `!Send` values on its stack valid.
//!
//! # Placement: the steal grace
//!
//! A thief leaves a victim's new green threads alone while the victim is
//! starting them itself (its `Starts::count`, in `Remote::starts`, moved
//! within the last `STEAL_GRACE`) and holds only a few (`GRACE_MAX_QUEUED`); see
//! `Grace`. Green threads spawned together usually talk to each other,
//! and once started they stay where they started: a hand-off between two
//! green threads of one worker is a direct switch, one across workers
//! goes through the other worker's inbox and contends for the channel's
//! cache lines from two cores (a 4-sender, 1-receiver channel of capacity
//! 1 moved a message in 63-69 ns with all five on one worker, 117-362 ns
//! with one or two senders on the other: scratch runs of 400,000
//! messages). Go keeps such groups together by running a woken
//! goroutine on its waker's thread, which pinning rules out, so goro does
//! it when it places them. A worker that is busy with one green thread, or
//! a long queue, is still stolen from at once (after the grace, for a
//! short queue), so spawned work spreads as before. A victim "in a
//! conversation" (`Starts::conversing`: a green thread its running one
//! woke waits in `runnext`) gets ten graces: its running green thread is
//! handing off to a peer beside it and will switch when it blocks, even if
//! it drains a full buffer first.
//!
//! # Order of picks (`next_task`)
//!
//! Every `GLOBAL_POLL_INTERVAL` (61, as Go) ticks the injector and inbox
//! come first; otherwise `runnext`, then `pinned` and `local` in
//! alternation (so neither a yielding loop nor a spawn storm starves the
//! other), then the inbox, then the injector; then stealing; then sleep.
//! On every other tick a new green thread waiting in `local` goes before
//! `runnext` (`Core::new_first`), so that spawned green threads start here
//! soon even while a pair hands off through `runnext` (see "Placement").
//!
//! # Direct switches
//!
//! A green thread that yields or parks switches straight to the next one
//! (`Worker::next_suspended`: a started task from `runnext` or `pinned`,
//! on a tick that is not for the global queues) instead of through the
//! worker's loop: one context switch instead of two. The worker's
//! `current` slot always names the running green thread and owns its
//! count; a parking one leaves itself in `parking`, and the green thread
//! switched to publishes that park first thing (`Worker::land`). Timers,
//! the inbox and the injector are looked at by the loop, so at least every
//! `GLOBAL_POLL_INTERVAL` picks.
//!
//! # Timers
//!
//! `timers` is a min-heap of deadlines: wake-ups of green threads parked
//! with a deadline (`sleep`, `*_timeout`), and timer channels (`after`,
//! `at`, `tick`) made by this worker's green threads. Only the owner
//! touches it. It fires in `next_task` (so between green threads while the
//! worker is busy) and the worker sleeps until its earliest deadline when
//! idle. Its size is published in `Remote::timers` for the deadlock
//! detector (`deadlock.rs`), which the last worker to go idle with an empty
//! heap runs.
//!
//! # Borrowing `core`
//!
//! `core` is borrowed only for short queue operations and never across a
//! coroutine resume or an unpark: the running green thread, on this same OS
//! thread, borrows it to queue the threads it wakes.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::loom::sync::atomic::Ordering;

use crate::time::Fire;
use crate::time::driver::Expire;

use super::queue::Local;
use super::scheduler::{Shared, Starts};
use super::task::{Task, TaskRef};
use crate::coroutine::{self, overflow};

/// How long an idle worker keeps looking for work, spinning, before it
/// sleeps on its parker (see `run_loop`).
const IDLE_SPIN: Duration = Duration::from_micros(50);

/// Spin hints between two looks for work while idle-spinning.
const IDLE_PAUSES: u32 = 4;

/// How long a thief leaves a short queue of new green threads to a victim
/// that keeps starting them itself (see `Grace`). The trade-off: two
/// 100 µs CPU-bound green threads forked and joined on two workers took
/// 127-131 µs a round with 25 µs, 212 µs with 250 µs, 103 µs with none.
pub(crate) const STEAL_GRACE: Duration = Duration::from_micros(25);

/// A victim with more new green threads queued than this is stolen from
/// at once, grace or not: it has more than it can start soon.
const GRACE_MAX_QUEUED: usize = 8;

/// How many times longer the grace is while the victim is in a
/// conversation (`Starts::conversing`).
const CONVERSING_GRACE_FACTOR: u32 = 10;

/// A victim that had more started green threads than this waiting to run
/// when it last started a new one is stolen from at once: it has plenty
/// to run, and what it spawns is better started on an idle worker (the
/// prime sieve's filters, spawned one by one while dozens of others wait
/// to run, ran in 2.9-3.1 s all on one worker and in 2.1-2.6 s spread over
/// both).
const GRACE_MAX_BACKLOG: usize = 8;

const GLOBAL_POLL_INTERVAL: u32 = 61;
const RUNNEXT_STREAK: u32 = 64;

/// Why a green thread switches away (to its worker, or straight to the
/// next green thread: `Worker::switch_away`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Switch {
    /// Requeue behind the other runnable green threads.
    Yield,
    /// Park until notified, or until the deadline if there is one.
    Park(Option<Instant>),
}

/// A worker's state, reachable from its thread through `WORKER`.
pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    core: RefCell<Core>,
    /// The green thread running on this worker, `None` between resumes.
    /// Holds one count of the task (`TaskRef::into_raw`) while set. A green
    /// thread that switches straight to another (`yield_current`) hands its
    /// own count to a queue and puts the other's here.
    current: Cell<Option<NonNull<Task>>>,
    /// Set by the green thread just before it switches back.
    switch: Cell<Switch>,
    /// A green thread that parked by switching straight to another one,
    /// and its deadline: the one that runs next publishes the park
    /// (`Worker::land`).
    parking: Cell<Option<(TaskRef, Option<Instant>)>>,
    /// Green threads of this worker switched out in the middle of their
    /// own unwind (std's panicking flag then reads true for every green
    /// thread of the worker: `parking::unwinding_here`).
    mid_unwind: Cell<usize>,
}

struct Core {
    local: Local<TaskRef>,
    runnext: Option<TaskRef>,
    pinned: VecDeque<TaskRef>,
    tick: u32,
    runnext_streak: u32,
    searching: bool,
    timers: BinaryHeap<Reverse<Timer>>,
    /// Heap size at which `push_timer` sweeps stale timers out.
    sweep_timers_at: usize,
    /// How long to sleep before re-checking for a deadlock that only a
    /// thread outside the runtime stands in the way of (`sleep`); reset
    /// when work is found.
    deadlock_backoff: Duration,
    rng: u32,
    /// Per victim worker, what this worker saw of its queue of new green
    /// threads (`search`).
    grace: Box<[Grace]>,
    /// What this worker last published in `Starts::conversing`.
    conversing: bool,
    /// Whether `local` may hold new green threads: set when one is queued,
    /// recomputed by `next_task` (thieves may empty `local` meanwhile, so
    /// it can stay set a while for nothing). Read on every switch instead
    /// of `local`'s indices.
    new_waiting: bool,
}

/// A thief's view of one victim's queue of new green threads: whether to
/// steal from it now, or leave them to the victim (module doc, "Placement").
#[derive(Debug, Clone, Copy, Default)]
struct Grace {
    /// The victim's start count when this thief first saw its queue
    /// non-empty with that count, and when.
    seen: Option<(usize, Instant)>,
}

impl Grace {
    /// Whether to steal from a victim that has `queued` new green threads
    /// and publishes `starts`. `now` is called only when the answer
    /// depends on time.
    fn may_steal(
        &mut self,
        queued: usize,
        starts: &Starts,
        grace: Duration,
        now: impl FnOnce() -> Instant,
    ) -> bool {
        if queued == 0 {
            self.seen = None;
            return false;
        }
        // Too many to start soon, or too busy with started ones (a long
        // pipeline, where spreading beats keeping together), or no grace.
        if queued > GRACE_MAX_QUEUED
            || starts.backlog.load(Ordering::Relaxed) > GRACE_MAX_BACKLOG
            || grace.is_zero()
        {
            return true;
        }
        // A victim in a conversation (its running green thread woke a
        // peer beside it) switches when it blocks, however long it drains
        // first (a receiver taking a thousand buffered messages).
        let grace = if starts.conversing.load(Ordering::Relaxed) {
            grace * CONVERSING_GRACE_FACTOR
        } else {
            grace
        };
        let count = starts.count.load(Ordering::Relaxed);
        match self.seen {
            // The victim started none of them since we first looked: it is
            // busy with something else, so take them.
            Some((seen, since)) if seen == count => now().duration_since(since) >= grace,
            // First look, or the victim started one since: look again later.
            _ => {
                self.seen = Some((count, now()));
                false
            }
        }
    }
}

impl Core {
    /// Whether the pick of tick `tick` goes to a new green thread before
    /// `runnext`: on every other tick while some wait to start, so that a
    /// pair handing off through `runnext` does not keep them from starting
    /// here (and being stolen instead, see `Grace`).
    fn new_first(&self, tick: u32) -> bool {
        tick & 1 == 1 && self.new_waiting
    }

    /// Started green threads waiting to run here.
    fn backlog(&self) -> usize {
        self.pinned.len() + usize::from(self.runnext.is_some())
    }

    /// The `runnext` pick of `next_task`: the LIFO slot's task, unless
    /// `RUNNEXT_STREAK` picks in a row came from it; then the slot's task
    /// goes to the back of `pinned` and the streak starts over.
    #[inline(always)]
    fn take_runnext(&mut self) -> Option<TaskRef> {
        if self.runnext_streak < RUNNEXT_STREAK {
            if let Some(t) = self.runnext.take() {
                self.runnext_streak += 1;
                return Some(t);
            }
        } else if let Some(t) = self.runnext.take() {
            self.pinned.push_back(t);
        }
        self.runnext_streak = 0;
        None
    }
}

/// A worker about to sleep gives stack memory back only if it expects to
/// sleep at least this long.
const TRIM_IDLE: Duration = Duration::from_millis(10);

const DEADLOCK_BACKOFF_MIN: Duration = Duration::from_millis(1);
const DEADLOCK_BACKOFF_MAX: Duration = Duration::from_millis(250);

/// An entry of a worker's timer heap.
struct Timer {
    deadline: Instant,
    kind: TimerKind,
}

/// What a due timer does.
enum TimerKind {
    /// Wakes a parked green thread whose deadline passed, only if it is
    /// still in the park that armed it (`seq` equals its `park_seq`).
    Wake { seq: u64, task: TaskRef },
    /// Fires a timer channel (`after`, `at`, `tick`) made on one of this
    /// worker's green threads; a ticker is re-armed here.
    Fire(Fire),
}

impl Timer {
    /// A wake-up whose park has ended (the task was woken otherwise and
    /// parked again, or has completed), or a timer channel whose receivers
    /// are all gone: firing it would do nothing. (A stale timer left on
    /// the heap would also hold off the deadlock report.)
    fn is_stale(&self) -> bool {
        match &self.kind {
            TimerKind::Wake { seq, task } => {
                task.park_seq
                    .load(crate::loom::sync::atomic::Ordering::Relaxed)
                    != *seq
                    || task.state.is_done()
            }
            TimerKind::Fire(fire) => fire.is_dead(),
        }
    }
}

impl PartialEq for Timer {
    fn eq(&self, other: &Timer) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Timer) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Timer) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

thread_local! {
    /// The worker running on this OS thread, null on other threads.
    static WORKER: Cell<*const Worker> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` with the worker of the calling thread, if it is one.
#[inline(always)]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let w = WORKER.get();
    // SAFETY: `WORKER` is non-null only while `run` keeps the `Worker` alive
    // on this thread's stack; it is reset before `run` returns.
    f(unsafe { w.as_ref() })
}

/// The green thread running on this OS thread, if any.
#[inline(always)]
pub(crate) fn with_current_task<R>(f: impl FnOnce(Option<&Task>) -> R) -> R {
    // SAFETY: `current` holds a count of the task while set.
    f(current_task_ptr().map(|t| unsafe { t.as_ref() }))
}

/// The address of the green thread running on this OS thread, as the
/// worker holds it (from a `TaskRef`: it covers the task's whole cell, as
/// `task::body_at` needs, where a `&Task` covers only the header).
#[inline(always)]
pub(crate) fn current_task_ptr() -> Option<NonNull<Task>> {
    with_worker(|w| w.and_then(|w| w.current.get()))
}

/// Whether the caller may spin a bounded while for a channel's peer
/// instead of parking at once: on an OS thread (its peer runs elsewhere),
/// or on a green thread with nothing else to run on its worker (the peer
/// cannot be queued behind it, and parking would only leave the worker
/// spinning idle while the wake-up comes the long way, through its inbox).
pub(crate) fn may_spin() -> bool {
    with_worker(|w| match w {
        Some(w) if w.current.get().is_some() => !w.has_local_work(),
        _ => true,
    })
}

/// Green threads of the caller's worker switched out in the middle of
/// their own unwind (0 on a plain OS thread).
pub(crate) fn mid_unwind() -> usize {
    with_worker(|w| w.map_or(0, |w| w.mid_unwind.get()))
}

/// Runs `f`, a park of the running green thread in the middle of its own
/// unwind, counted meanwhile among its worker's green threads switched
/// out mid-unwind.
#[cold]
pub(crate) fn park_counted(f: impl FnOnce()) {
    with_worker(|w| match w {
        Some(w) => w.count_mid_unwind(true, f),
        None => f(),
    })
}

/// Parks the running green thread until notified (or until `deadline`):
/// switches straight to the next green thread of its worker if there is
/// one (`Worker::next_suspended`), else back to the worker. Either way the
/// park is published from the stack that runs next (`state.rs` step 2):
/// the worker's, or the next green thread's, which calls
/// `Worker::land` before anything else.
///
/// # Panics
/// If the caller is not a green thread.
#[inline(always)]
pub(crate) fn park_current(deadline: Option<Instant>) {
    let w = WORKER.get();
    assert!(!w.is_null(), "goro: not on a green thread");
    // SAFETY: as in `with_worker`.
    let w = unsafe { &*w };
    let task = w.current.get().expect("goro: not on a green thread");
    w.switch_away(task, Switch::Park(deadline));
}

/// Yields the running green thread to the others of its worker. Returns
/// `None` on a plain OS thread, else whether the green thread has been
/// cancelled (its runtime shuts down).
pub(crate) fn yield_current() -> Option<bool> {
    let w = WORKER.get();
    if w.is_null() {
        return None;
    }
    // SAFETY: as in `with_worker`.
    let w = unsafe { &*w };
    let task = w.current.get()?;
    // SAFETY: `current` holds a count of the task while set.
    if std::thread::panicking() && super::parking::unwinding_here(unsafe { task.as_ref() }) {
        yield_mid_unwind(w, task);
    } else {
        w.switch_away(task, Switch::Yield);
    }
    // SAFETY: the task is still running (we are it), and `current` holds a
    // count of it.
    Some(unsafe { task.as_ref() }.state.is_cancelled())
}

/// [`yield_current`]'s switch for a green thread that yields while it
/// unwinds (a destructor that yields), counted meanwhile among its
/// worker's green threads switched out mid-unwind.
#[cold]
#[inline(never)]
fn yield_mid_unwind(w: &Worker, task: NonNull<Task>) {
    w.count_mid_unwind(true, || w.switch_away(task, Switch::Yield));
}

/// Arms a timer channel's `fire` for `when` on the calling green thread's
/// worker. Hands it back on a thread that is not a worker.
pub(crate) fn add_timer(when: Instant, fire: Fire) -> Result<(), Fire> {
    with_worker(|w| match w {
        Some(w) => {
            w.push_timer(Timer {
                deadline: when,
                kind: TimerKind::Fire(fire),
            });
            Ok(())
        }
        None => Err(fire),
    })
}

/// The body of a worker thread.
pub(crate) fn run(shared: Arc<Shared>, index: usize, local: Local<TaskRef>) {
    let workers = shared.num_workers();
    overflow::install();
    overflow::ensure_altstack();
    let worker = Worker {
        index,
        shared,
        core: RefCell::new(Core {
            local,
            runnext: None,
            pinned: VecDeque::new(),
            tick: 0,
            runnext_streak: 0,
            searching: false,
            timers: BinaryHeap::new(),
            sweep_timers_at: crate::time::driver::SWEEP_MIN,
            deadlock_backoff: DEADLOCK_BACKOFF_MIN,
            rng: 0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1,
            grace: vec![Grace::default(); workers].into_boxed_slice(),
            conversing: false,
            new_waiting: false,
        }),
        current: Cell::new(None),
        switch: Cell::new(Switch::Yield),
        parking: Cell::new(None),
        mid_unwind: Cell::new(0),
    };
    WORKER.set(&worker);
    worker.run_loop();
    WORKER.set(std::ptr::null());
    worker.hand_over_timers();
}

impl Worker {
    /// A counted reference to the green thread being resumed, if any.
    pub(crate) fn current_task_ref(&self) -> Option<TaskRef> {
        let t = self.current.get()?;
        // SAFETY: `t` came from `TaskRef::into_raw`, and `current` holds
        // that count while set.
        Some(unsafe { TaskRef::clone_from_ptr(t) })
    }

    fn run_loop(&self) {
        while !self.shared.is_terminating() {
            if let Some(task) = self.next_task() {
                self.run_task(task);
                continue;
            }
            // Spin up to `IDLE_SPIN` looking for work before sleeping (no
            // syscall): waking a sleeping worker costs the waker a syscall,
            // a spawning green thread produces work in a steady trickle,
            // and green threads handing a lock or a message back and forth
            // across workers (a contended `sync::Mutex` in starvation mode
            // hands over in arrival order, whatever the worker) would
            // otherwise pay a futex sleep and wake-up per hand-off, a
            // thousand times the hand-off itself.
            let mut since: Option<Instant> = None;
            let mut polls = 0u32;
            let found = loop {
                let found = self.search();
                if found.is_some() || self.has_local_work() {
                    break found;
                }
                // Poll often: a pause is tens of nanoseconds on some CPUs
                // (27 ns on this AMD EPYC), so a long burst would add
                // microseconds to every cross-worker hand-off.
                for _ in 0..IDLE_PAUSES {
                    std::hint::spin_loop();
                }
                polls = polls.wrapping_add(1);
                if polls % 16 == 0 {
                    let start = *since.get_or_insert_with(Instant::now);
                    if start.elapsed() >= IDLE_SPIN || self.shared.is_terminating() {
                        break None;
                    }
                }
            };
            match found {
                Some(task) => self.run_task(task),
                None if self.has_local_work() => {}
                None => self.sleep(),
            }
        }
    }

    /// Picks the next task from this worker's own queues (see module doc).
    fn next_task(&self) -> Option<TaskRef> {
        self.fire_timers();
        let mut core = self.core.borrow_mut();
        core.tick = core.tick.wrapping_add(1);
        let remote = &self.shared.remotes[self.index];
        if core.tick % GLOBAL_POLL_INTERVAL == 0 {
            // A busy worker never trims on its way to sleep: give back a
            // past burst's stacks here once they are due.
            crate::coroutine::stack::trim_if_due();
            if let Some(t) = self.shared.inject.pop() {
                return Some(t);
            }
            remote.drain_inbox(|t| core.pinned.push_back(t));
        }
        if !core.new_first(core.tick)
            && let Some(t) = core.take_runnext()
        {
            self.publish_conversing(&mut core);
            return Some(t);
        }
        let backlog = core.backlog();
        let t = if core.tick & 1 == 0 {
            core.pinned
                .pop_front()
                .or_else(|| remote.count_started(core.local.pop(), backlog))
        } else {
            remote
                .count_started(core.local.pop(), backlog)
                .or_else(|| core.pinned.pop_front())
        };
        core.new_waiting = !core.local.is_empty();
        self.publish_conversing(&mut core);
        if t.is_some() {
            if let Some(next) = core.pinned.front() {
                // SAFETY: a queued pinned task: this worker's queue holds
                // its run right, and we run on its home worker.
                unsafe { next.prefetch() };
            }
            // The next new task: its spawner, on another core most of the
            // time, has just written its header (a cross-core miss per
            // spawn, perf's top item in a spawn loop).
            core.local.peek_next(TaskRef::prefetch_header_lines);
            if let Some(after) = core.pinned.get(1) {
                // The header of the one after, so that its own prefetch
                // (next time) does not wait for it.
                after.prefetch_header_lines();
            }
            return t;
        }
        remote.drain_inbox(|t| core.pinned.push_back(t));
        if let Some(t) = core.pinned.pop_front() {
            return Some(t);
        }
        let core = &mut *core;
        let room = core.local.remaining_slots() / 2;
        self.shared.inject.pop_batch(room.max(1), |t| {
            core.local.push_back_or_overflow(t, |_| unreachable!())
        });
        let t = remote.count_started(core.local.pop(), 0);
        core.new_waiting = !core.local.is_empty();
        t
    }

    /// Switches the running green thread `task` (the one `current` names)
    /// away for `how`: straight to the next green thread of this worker if
    /// there is one ([`Worker::next_suspended`]), else back to the worker;
    /// returns when `task` runs again, after [`Worker::land`].
    #[inline(always)]
    fn switch_away(&self, task: NonNull<Task>, how: Switch) {
        if let Some(next) = self.next_suspended() {
            // Straight to the next green thread: one context switch, and no
            // trip through the worker's loop. The next one's count moves
            // into `current`; ours goes to the back of `pinned` if we yield
            // (we stay RUNNING there, `state.rs` step 4), or to `parking` if
            // we park, for the next one to publish the park.
            // SAFETY: `current` holds one count of our task; it moves out
            // here and `current` is overwritten just below.
            let me = unsafe { TaskRef::from_raw(task) };
            let next = next.into_raw();
            self.current.set(Some(next));
            match how {
                Switch::Yield => self.core.borrow_mut().pinned.push_back(me),
                Switch::Park(deadline) => {
                    debug_assert!(self.parking.take().is_none());
                    // SAFETY: `parking` is a `Cell` of this thread's worker,
                    // and no reference into it exists (a `Cell` hands out
                    // none). It holds `None` (`land` took the last one), so
                    // overwriting it without dropping loses nothing; unlike
                    // `set`, this does not read the old value first, which
                    // spans the 4-byte store of `take`'s `None` and could
                    // not be forwarded from it (a stall on every park).
                    unsafe { self.parking.as_ptr().write(Some((me, deadline))) };
                }
            }
            // SAFETY: we run on a green thread of `next`'s home worker (it
            // came from this worker's own queues), gave our run right to
            // `pinned` or `parking` and hold `next`'s (`next_suspended` made
            // it RUNNING), recorded it in `current`, which keeps it alive
            // while it runs; it is suspended. `pinned` or `parking` keeps our
            // task alive until it is resumed or its park published (then
            // whoever wakes it holds a count of its own). Our context is
            // stored before anything else runs here, so no one can pop us
            // from `pinned` first (only this thread does).
            unsafe { next.as_ref().switch_to() };
        } else {
            self.switch.set(how);
            coroutine::suspend();
        }
        self.land();
    }

    /// For a green thread that yields or parks: the task `next_task` would
    /// pick next, moved to RUNNING, if it is a started one from `runnext`
    /// or `pinned` and the pick is not a tick for the global queues (those
    /// picks, and timers, go through the worker's loop, at least every
    /// `GLOBAL_POLL_INTERVAL` ticks) nor one for a new green thread
    /// (`Core::new_first`: only the loop starts those). `None` if the
    /// switch must go through the worker.
    #[inline(always)]
    fn next_suspended(&self) -> Option<TaskRef> {
        let mut core = self.core.borrow_mut();
        let tick = core.tick.wrapping_add(1);
        if tick % GLOBAL_POLL_INTERVAL == 0 || core.new_first(tick) {
            return None;
        }
        // On an odd tick `local` is empty here (`new_first`), so `pinned`
        // is the pick `next_task` would make too.
        let t = match core.take_runnext() {
            Some(t) => t,
            None => core.pinned.pop_front()?,
        };
        if core.conversing && core.runnext.is_none() {
            self.store_conversing(&mut core, false);
        }
        core.tick = tick;
        t.state.transition_to_running();
        // SAFETY: we hold its run right now, on this worker's thread.
        debug_assert!(unsafe { t.is_suspended() }, "a queued started task");
        debug_assert_eq!(t.home(), Some(self.index));
        Some(t)
    }

    /// The runtime has ended: the timer channels and context deadlines
    /// still armed here go to the global timer thread, to fire on time
    /// after all (wake-ups of green threads are moot: none is left).
    fn hand_over_timers(&self) {
        let timers = std::mem::take(&mut self.core.borrow_mut().timers);
        for Reverse(t) in timers {
            if let TimerKind::Fire(fire) = t.kind
                && !fire.is_dead()
            {
                #[cfg(not(loom))]
                crate::time::arm_global(t.deadline, fire);
            }
        }
        self.publish_timers();
    }

    /// Runs `f` (a switch away of the running green thread) counted in
    /// `mid_unwind` if `mid`.
    fn count_mid_unwind(&self, mid: bool, f: impl FnOnce()) {
        if mid {
            self.mid_unwind.set(self.mid_unwind.get() + 1);
        }
        f();
        if mid {
            self.mid_unwind.set(self.mid_unwind.get() - 1);
        }
    }

    /// Whether this worker's own queues hold anything.
    fn has_local_work(&self) -> bool {
        let core = self.core.borrow();
        core.runnext.is_some()
            || !core.pinned.is_empty()
            || !core.local.is_empty()
            || self.shared.remotes[self.index].has_inbox()
    }

    /// Looks for never-started work elsewhere: the injector, then other
    /// workers' local queues from a random start.
    fn search(&self) -> Option<TaskRef> {
        let mut core = self.core.borrow_mut();
        if !core.searching {
            if !self
                .shared
                .idle
                .transition_to_searching(self.shared.num_workers())
            {
                return None;
            }
            core.searching = true;
        }
        let n = self.shared.num_workers();
        core.rng ^= core.rng << 13;
        core.rng ^= core.rng >> 17;
        core.rng ^= core.rng << 5;
        let start = core.rng as usize % n;
        let core = &mut *core;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            let remote = &self.shared.remotes[victim];
            if !core.grace[victim].may_steal(
                remote.steal.len(),
                &remote.starts,
                self.shared.steal_grace,
                Instant::now,
            ) {
                continue;
            }
            if let Some(t) = remote.steal.steal_into(&mut core.local) {
                return Some(t);
            }
        }
        self.shared.inject.pop()
    }

    /// Parks the worker's OS thread until there is work or a timer is due.
    fn sleep(&self) {
        let (searching, mut deadline) = {
            let mut core = self.core.borrow_mut();
            let s = std::mem::replace(&mut core.searching, false);
            // Wake-ups of parks that already ended would only delay the
            // sleep (and the deadlock check); drop those at the top.
            while core.timers.peek().is_some_and(|Reverse(t)| t.is_stale()) {
                core.timers.pop();
            }
            (s, core.timers.peek().map(|Reverse(t)| t.deadline))
        };
        self.publish_timers();
        // Idle time: give back the memory of stacks that finished in a
        // burst, unless a timer is due soon (many green threads sleeping
        // briefly would otherwise fault their stacks' pages in again and
        // again), or the pool says to wait (it was used recently: wake up
        // then and trim).
        let mut trim_at = None;
        if deadline.is_none_or(|d| d.saturating_duration_since(Instant::now()) >= TRIM_IDLE) {
            trim_at = crate::coroutine::stack::trim();
        }
        self.shared
            .idle
            .transition_to_sleeping(self.index, searching);
        if deadline.is_none() {
            deadline = self.check_deadlock();
        }
        if let Some(t) = trim_at {
            deadline = Some(deadline.map_or(t, |d| d.min(t)));
        }
        let shared = &self.shared;
        let me = &shared.remotes[self.index];
        me.parker.park(deadline, || {
            shared.is_terminating() || me.has_inbox() || shared.has_shared_work()
        });
        if deadline.is_none_or(|d| Instant::now() < d) {
            // Woken for work (not by the deadline): a later deadlock
            // re-check starts from a short wait again.
            self.core.borrow_mut().deadlock_backoff = DEADLOCK_BACKOFF_MIN;
        }
        let picked = self.shared.idle.transition_from_sleeping(self.index);
        self.core.borrow_mut().searching = picked;
    }

    /// The last worker to go idle, with no timer of its own, checks for a
    /// deadlock (`deadlock.rs`). Returns a deadline to re-check at when
    /// only threads outside the runtime's knowledge stand in the way.
    fn check_deadlock(&self) -> Option<Instant> {
        use super::deadlock::{Verdict, check};
        match check(&self.shared) {
            Verdict::No => {
                self.core.borrow_mut().deadlock_backoff = DEADLOCK_BACKOFF_MIN;
                None
            }
            Verdict::Deadlock(report) => {
                self.shared.report_deadlock(report);
                None
            }
            Verdict::Retry => {
                let mut core = self.core.borrow_mut();
                let wait = core.deadlock_backoff;
                core.deadlock_backoff = (wait * 2).min(DEADLOCK_BACKOFF_MAX);
                Some(Instant::now() + wait)
            }
        }
    }

    /// Publishes the size of the timer heap for the deadlock detector.
    fn publish_timers(&self) {
        let n = self.core.borrow().timers.len();
        self.shared.remotes[self.index].set_timers(n);
    }

    /// Adds `timer` to the heap (on this worker's thread only). Stale
    /// timers (wake-ups of parks that ended early, timer channels nobody
    /// can receive from) would stay until their deadlines: once the heap
    /// has doubled since the last sweep, they go (amortised O(1)).
    fn push_timer(&self, timer: Timer) {
        {
            let mut core = self.core.borrow_mut();
            if core.timers.len() >= core.sweep_timers_at {
                core.timers.retain(|Reverse(t)| !t.is_stale());
                core.sweep_timers_at = (2 * core.timers.len()).max(crate::time::driver::SWEEP_MIN);
            }
            core.timers.push(Reverse(timer));
        }
        self.publish_timers();
    }

    /// Stops searching (work was found); the last searcher wakes another
    /// worker if more work waits (`idle.rs` step 4).
    fn end_searching(&self) {
        let was = std::mem::replace(&mut self.core.borrow_mut().searching, false);
        if was && self.shared.idle.transition_from_searching() && self.shared.has_shared_work() {
            self.shared.notify_work();
        }
    }

    /// Fires the timers whose deadline passed: wakes green threads, sends
    /// on timer channels (re-arming tickers). The heap is borrowed only to
    /// pop, never while firing (a fire may wake a green thread of this
    /// worker, which queues it through `core`).
    fn fire_timers(&self) {
        let mut due = Vec::new();
        {
            let mut core = self.core.borrow_mut();
            let mut now = None;
            while core
                .timers
                .peek()
                .is_some_and(|Reverse(t)| t.deadline <= *now.get_or_insert_with(Instant::now))
            {
                due.extend(core.timers.pop().map(|Reverse(t)| t));
            }
        }
        if due.is_empty() {
            return;
        }
        // In deadline order, except that timers due together (within a
        // millisecond) go in random order: a select over timer channels due
        // at once picks among them at random.
        crate::time::shuffle_ties(&mut due, |t| t.deadline);
        let now = Instant::now();
        for timer in due {
            match timer.kind {
                TimerKind::Wake { seq, task } => {
                    if task
                        .park_seq
                        .load(crate::loom::sync::atomic::Ordering::Relaxed)
                        == seq
                        && task.state.notify_parked()
                    {
                        self.schedule_woken_local(task);
                    }
                }
                TimerKind::Fire(mut fire) => {
                    if let Some(next) = fire.expire(now) {
                        self.core.borrow_mut().timers.push(Reverse(Timer {
                            deadline: next,
                            kind: TimerKind::Fire(fire),
                        }));
                    }
                }
            }
        }
        self.publish_timers();
    }

    /// Runs `task` until it finishes, parks, or yields.
    fn run_task(&self, task: TaskRef) {
        self.end_searching();
        task.state.transition_to_running();
        match task.home() {
            None => {
                task.pin(self.index);
                self.shared.adopt(&task, self.index);
                // SAFETY: we hold the run right and just pinned it here.
                unsafe { task.prefer_hot_stack() };
            }
            Some(home) => debug_assert_eq!(home, self.index, "a started task changed worker"),
        }
        let mut task = task;
        loop {
            let ptr = task.into_raw();
            self.current.set(Some(ptr));
            // SAFETY: we moved the task to RUNNING, so we hold its run right,
            // and it is pinned to this worker (just above). `current` keeps
            // it, and every task it switches to, alive and names the one
            // running.
            let finished = unsafe { ptr.as_ref().resume() };
            // The green thread that switched back: `task`, or one that it
            // (or one after it) switched to directly.
            let back = self.current.take().expect("a resumed task is current");
            // SAFETY: the count `current` held (set above, or moved in by a
            // direct switch).
            task = unsafe { TaskRef::from_raw(back) };
            if finished {
                task.state.transition_to_done();
                self.shared.complete(&task, self.index);
                return;
            }
            match self.switch.get() {
                Switch::Yield => {
                    // The task stays RUNNING in the queue (`state.rs` step 4).
                    self.core.borrow_mut().pinned.push_back(task);
                    return;
                }
                Switch::Park(deadline) => match self.publish_park(task, deadline) {
                    None => return,
                    // A wake-up raced in while switching: run on.
                    Some(t) => task = t,
                },
            }
        }
    }

    /// Run first by a green thread that was just switched to, on its own
    /// stack: publishes the park of the one that switched to it, if it
    /// parked (`park_current`); a wake-up that raced in requeues it.
    #[inline(always)]
    fn land(&self) {
        if let Some((task, deadline)) = self.parking.take() {
            self.land_parked(task, deadline);
        }
    }

    /// [`Worker::land`] when the green thread that switched here parked.
    #[inline(never)]
    fn land_parked(&self, task: TaskRef, deadline: Option<Instant>) {
        if let Some(task) = self.publish_park(task, deadline) {
            self.core.borrow_mut().pinned.push_back(task);
        }
    }

    /// RUNNING -> PARKED for `task`, which has switched away (`state.rs`
    /// step 2), arming its deadline. Hands the task back if a notification
    /// raced in: it must run on.
    fn publish_park(&self, task: TaskRef, deadline: Option<Instant>) -> Option<TaskRef> {
        if !task.state.transition_to_parked() {
            return Some(task);
        }
        if let Some(deadline) = deadline {
            let seq = task
                .park_seq
                .load(crate::loom::sync::atomic::Ordering::Relaxed);
            self.push_timer(Timer {
                deadline,
                kind: TimerKind::Wake { seq, task },
            });
        }
        None
    }

    /// Keeps `Starts::conversing` in step with `core`: set while a green
    /// thread waits in `runnext` and new ones may wait in `local`. Reads
    /// only `core` (no atomic unless the answer changes).
    #[inline(always)]
    fn publish_conversing(&self, core: &mut Core) {
        let now = core.runnext.is_some() && core.new_waiting;
        if now != core.conversing {
            self.store_conversing(core, now);
        }
    }

    #[cold]
    #[inline(never)]
    fn store_conversing(&self, core: &mut Core, now: bool) {
        core.conversing = now;
        self.shared.remotes[self.index]
            .starts
            .conversing
            .store(now, Ordering::Relaxed);
    }

    /// Queues a started task woken on its home worker's thread: it takes
    /// the LIFO slot, and the slot's previous occupant goes to `pinned`.
    #[inline(always)]
    pub(crate) fn schedule_woken_local(&self, task: TaskRef) {
        debug_assert_eq!(task.home(), Some(self.index));
        let mut core = self.core.borrow_mut();
        if let Some(prev) = core.runnext.replace(task) {
            core.pinned.push_back(prev);
        }
        self.publish_conversing(&mut core);
    }

    /// Queues a never-started task spawned on this worker's thread.
    pub(crate) fn schedule_new_local(&self, task: TaskRef) {
        {
            let mut core = self.core.borrow_mut();
            let shared = &self.shared;
            core.local
                .push_back_or_overflow(task, |batch| shared.inject.push_batch(batch));
            core.new_waiting = true;
            self.publish_conversing(&mut core);
        }
        self.shared.notify_work();
    }
}

/// Queues a started task that was just woken (its `State::notify` returned
/// `true`), wherever the caller runs.
pub(crate) fn schedule_woken(task: TaskRef) {
    with_worker(|w| match w {
        Some(w) if std::ptr::eq(&*w.shared, task.shared()) => {
            if task.home() == Some(w.index) {
                // One green thread woken by another of its worker (a
                // channel hand-off): it runs next, usually within a few
                // hundred instructions, so start loading its stack now
                // (not in `schedule_woken_all`, whose wake storms would
                // evict such lines long before their turn).
                // SAFETY: we run on its home worker, and it is woken but
                // not queued yet: nothing else touches its coroutine.
                unsafe { task.prefetch() };
                w.schedule_woken_local(task)
            } else {
                // Another worker of our own runtime: `w.shared` keeps the
                // runtime alive for this whole call, whatever the task does
                // once queued (no reference count traffic on the runtime's
                // `Arc`, whose cache line every worker reads).
                w.shared.schedule_woken_remote(task)
            }
        }
        _ => {
            // A counted reference: once queued, the task may run, complete
            // and let its runtime end while this call still runs.
            let shared = task.shared_arc();
            shared.schedule_woken_remote(task)
        }
    })
}

/// Queues started tasks that were just woken (each one's `State::notify`
/// returned `true`), as [`schedule_woken`] does one by one, but those
/// pinned to another worker of the caller's runtime go to its inbox in
/// batches of [`WAKE_BATCH`]: one lock and at most one OS wake-up per
/// batch (a `close` may wake a million green threads), and the first batch
/// leaves early so that worker starts on it while the rest are queued.
pub(crate) fn schedule_woken_all(tasks: impl Iterator<Item = TaskRef>) {
    with_worker(|w| {
        let Some(w) = w else {
            tasks.for_each(schedule_woken);
            return;
        };
        let mut batches: Vec<Vec<TaskRef>> = Vec::new();
        for task in tasks {
            if !std::ptr::eq(&*w.shared, task.shared()) {
                schedule_woken(task);
                continue;
            }
            let home = task.home().expect("a woken task has started");
            if home == w.index {
                w.schedule_woken_local(task);
                continue;
            }
            if batches.is_empty() {
                batches.resize_with(w.shared.num_workers(), Vec::new);
            }
            let batch = &mut batches[home];
            batch.push(task);
            if batch.len() >= WAKE_BATCH {
                w.shared.remotes[home].push_inbox_batch(batch);
            }
        }
        for (home, batch) in batches.iter_mut().enumerate() {
            w.shared.remotes[home].push_inbox_batch(batch);
        }
    })
}

/// Tasks [`schedule_woken_all`] hands to another worker's inbox at once.
const WAKE_BATCH: usize = 64;

/// Queues a never-started task on `shared`, locally when the caller is one
/// of its workers.
pub(crate) fn schedule_new(shared: &Arc<Shared>, task: TaskRef) {
    with_worker(|w| match w {
        Some(w) if Arc::ptr_eq(&w.shared, shared) => w.schedule_new_local(task),
        _ => shared.schedule_new_remote(task),
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::{GRACE_MAX_BACKLOG, GRACE_MAX_QUEUED, Grace, Starts};

    /// A `select` loop that makes an hour-long `after` per turn and never
    /// takes it leaves dead timers behind: the heap is swept as it grows,
    /// so it stays small instead of holding one timer per turn for an hour
    /// (410 bytes each).
    #[test]
    fn dead_timers_are_swept_as_the_heap_grows() {
        let rt = crate::runtime::Builder::new().workers(1).build().unwrap();
        rt.block_on(|| {
            let (tx, rx) = crate::bounded::<u32>(1);
            for i in 0..10_000 {
                tx.send(i).unwrap();
                crate::select! {
                    recv(rx) -> v => assert_eq!(v, Ok(i)),
                    recv(crate::after(Duration::from_secs(3600))) -> _ => unreachable!(),
                }
            }
        });
        let timers = rt.shared().remotes[0].timers();
        assert!(timers < 200, "{timers} timers left on the heap");
    }

    /// `Grace::may_steal`: nothing queued, too many queued, a victim that
    /// keeps starting its own, and one that does not.
    #[test]
    fn grace_leaves_a_few_new_green_threads_to_a_victim_starting_them() {
        let grace = Duration::from_micros(10);
        let t0 = Instant::now();
        let at = |us: u64| move || t0 + Duration::from_micros(us);
        let starts = Starts::default();
        let start = |backlog: usize| {
            let n = starts.count.load(Ordering::Relaxed);
            starts.count.store(n + 1, Ordering::Relaxed);
            starts.backlog.store(backlog, Ordering::Relaxed);
        };
        let mut g = Grace::default();
        assert!(!g.may_steal(0, &starts, grace, at(0)));
        // Too many to start soon: at once.
        assert!(g.may_steal(GRACE_MAX_QUEUED + 1, &starts, grace, at(0)));
        // A few: not at first sight, nor within the grace.
        assert!(!g.may_steal(3, &starts, grace, at(0)));
        assert!(!g.may_steal(3, &starts, grace, at(9)));
        // The victim started one: the grace starts over.
        start(0);
        assert!(!g.may_steal(2, &starts, grace, at(15)));
        assert!(!g.may_steal(2, &starts, grace, at(24)));
        // It started none for the whole grace: steal.
        assert!(g.may_steal(2, &starts, grace, at(25)));
        // An empty queue forgets: the next one gets a full grace.
        assert!(!g.may_steal(0, &starts, grace, at(26)));
        assert!(!g.may_steal(1, &starts, grace, at(40)));
        assert!(!g.may_steal(1, &starts, grace, at(49)));
        assert!(g.may_steal(1, &starts, grace, at(50)));
        // A victim with a long backlog of started ones when it last
        // started a new one: at once; a short one: the grace again.
        let mut g = Grace::default();
        start(GRACE_MAX_BACKLOG + 1);
        assert!(g.may_steal(1, &starts, grace, at(60)));
        start(GRACE_MAX_BACKLOG);
        assert!(!g.may_steal(1, &starts, grace, at(60)));
        // A victim in a conversation gets ten graces.
        let mut g = Grace::default();
        start(0);
        starts.conversing.store(true, Ordering::Relaxed);
        assert!(!g.may_steal(1, &starts, grace, at(100)));
        assert!(!g.may_steal(1, &starts, grace, at(199)));
        assert!(g.may_steal(1, &starts, grace, at(200)));
        starts.conversing.store(false, Ordering::Relaxed);
        // No grace: a few are stolen at once too.
        let mut g = Grace::default();
        assert!(g.may_steal(1, &starts, Duration::ZERO, at(0)));
    }

    /// Runs `root` on a fresh 2-worker runtime with steal grace `grace`.
    fn on_two_workers<T: Send>(grace: Duration, root: impl FnOnce() -> T + Send) -> T {
        let rt = crate::runtime::Builder::new()
            .workers(2)
            .steal_grace(grace)
            .build()
            .unwrap();
        rt.block_on(root)
    }

    /// Green threads spawned together by a green thread that then waits for
    /// them start on its worker: the other worker, idle all along, leaves
    /// them to it (with a grace long enough that timing cannot matter).
    #[test]
    fn green_threads_spawned_together_start_on_the_spawners_worker() {
        for _ in 0..20 {
            let (root, children) = on_two_workers(Duration::from_secs(3600), || {
                let (tx, rx) = crate::bounded(0);
                for _ in 0..4 {
                    let tx = tx.clone();
                    crate::go!(move || tx.send(std::thread::current().id()).unwrap());
                }
                drop(tx);
                let children: Vec<_> = rx.iter().collect();
                (std::thread::current().id(), children)
            });
            assert_eq!(children, vec![root; 4]);
        }
    }

    /// A new green thread starts within a few picks while a pair hands off
    /// through `runnext` (`Core::new_first`), not after the rest of the
    /// pair's streak: one of the pair spawns a green thread every 7th
    /// hand-off, and each starts within 4.
    #[test]
    fn a_new_green_thread_starts_soon_beside_a_runnext_pair() {
        let rt = crate::runtime::Builder::new().workers(1).build().unwrap();
        let waits = rt.block_on(|| {
            let hops = Arc::new(AtomicUsize::new(0));
            let (tx1, rx1) = crate::bounded::<()>(0);
            let (tx2, rx2) = crate::bounded::<()>(0);
            let ping = crate::go!(move || {
                while tx1.send(()).is_ok() {
                    if rx2.recv().is_err() {
                        break;
                    }
                }
            });
            let pong = crate::go!(move || {
                let mut spawned = Vec::new();
                for hop in 1..=1000 {
                    rx1.recv().unwrap();
                    hops.store(hop, Ordering::Relaxed);
                    if hop % 7 == 0 {
                        let h = hops.clone();
                        spawned.push(crate::go!(move || h.load(Ordering::Relaxed) - hop));
                    }
                    tx2.send(()).unwrap();
                }
                spawned
            });
            let spawned = pong.join().unwrap();
            ping.join().unwrap();
            let waits: Vec<usize> = spawned.into_iter().map(|h| h.join().unwrap()).collect();
            waits
        });
        let max = waits.iter().max().unwrap();
        assert!(*max <= 4, "started up to {max} hand-offs late: {waits:?}");
    }

    /// On a one-worker runtime: a green thread parked in a receive on an
    /// unbuffered channel, with the channel's sender. One worker, no
    /// preemption: once it has started, it is parked whenever we run.
    fn parked_receiver() -> (crate::Sender<()>, crate::JoinHandle<()>) {
        let (tx, rx) = crate::bounded(0);
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let h = crate::go!(move || {
            s.store(true, Ordering::Relaxed);
            rx.recv().unwrap()
        });
        while !started.load(Ordering::Relaxed) {
            crate::yield_now();
        }
        (tx, h)
    }

    /// `may_spin`: an OS thread may; a green thread only while nothing else
    /// waits to run on its worker.
    #[test]
    fn a_green_thread_may_spin_only_alone_on_its_worker() {
        assert!(super::may_spin());
        let rt = crate::runtime::Builder::new().workers(1).build().unwrap();
        rt.block_on(|| {
            assert!(super::may_spin());
            let h = crate::go!(|| ());
            assert!(!super::may_spin(), "a new green thread waits to run");
            h.join().unwrap();
            assert!(super::may_spin());
            let (tx, h) = parked_receiver();
            tx.send(()).unwrap();
            assert!(!super::may_spin(), "the woken receiver waits to run");
            h.join().unwrap();
        });
    }

    /// `Starts::conversing` is set while a woken green thread waits in
    /// `runnext` beside a new one, and cleared once they have run.
    #[test]
    fn a_worker_publishes_when_it_is_in_a_conversation() {
        fn conversing() -> bool {
            super::with_worker(|w| {
                let w = w.expect("on a worker");
                w.shared.remotes[w.index]
                    .starts
                    .conversing
                    .load(Ordering::Relaxed)
            })
        }
        let rt = crate::runtime::Builder::new().workers(1).build().unwrap();
        rt.block_on(|| {
            let (tx, peer) = parked_receiver();
            assert!(!conversing());
            let new = crate::go!(|| ());
            assert!(!conversing(), "nobody waits in runnext yet");
            tx.send(()).unwrap();
            assert!(conversing(), "the peer waits in runnext beside a new one");
            peer.join().unwrap();
            new.join().unwrap();
            crate::yield_now();
            assert!(!conversing());
        });
    }

    /// Spawns a green thread that sets `done` and returns the id of the OS
    /// thread it ran on.
    fn probe(done: &Arc<AtomicBool>) -> crate::JoinHandle<std::thread::ThreadId> {
        let d = done.clone();
        crate::go!(move || {
            d.store(true, Ordering::Release);
            std::thread::current().id()
        })
    }

    /// Spins (without yielding: the worker is busy) until `done`; fails
    /// the test after a minute rather than hang.
    fn spin_until(done: &AtomicBool) {
        let start = Instant::now();
        while !done.load(Ordering::Acquire) {
            assert!(start.elapsed() < Duration::from_secs(60), "never ran");
            std::hint::spin_loop();
        }
    }

    /// A worker busy with one green thread keeps a new one from starting:
    /// the other worker takes it once the grace has passed.
    #[test]
    fn a_busy_workers_new_green_thread_is_stolen_after_the_grace() {
        let (root, child) = on_two_workers(Duration::from_millis(1), || {
            let done = Arc::new(AtomicBool::new(false));
            let h = probe(&done);
            spin_until(&done);
            (std::thread::current().id(), h.join().unwrap())
        });
        assert_ne!(root, child);
    }

    /// A worker with a long backlog of started green threads to run gets
    /// no grace: a new one is stolen from it at once.
    #[test]
    fn a_new_green_thread_of_a_worker_with_a_backlog_is_stolen_at_once() {
        let (root, probe) = on_two_workers(Duration::from_secs(3600), || {
            let root = std::thread::current().id();
            let stop = Arc::new(AtomicBool::new(false));
            let (started, here) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let mut yielders = Vec::new();
            // Batches until the backlog here is long: a yielder the other
            // worker stole leaves at once, or it would keep that worker
            // busy for good (a busy worker does not steal) and the probe
            // could never run.
            while here.load(Ordering::Relaxed) < 2 * GRACE_MAX_BACKLOG {
                for _ in 0..GRACE_MAX_BACKLOG {
                    let (stop, started, here) = (stop.clone(), started.clone(), here.clone());
                    yielders.push(crate::go!(move || {
                        if std::thread::current().id() == root {
                            here.fetch_add(1, Ordering::Relaxed);
                            while !stop.load(Ordering::Relaxed) {
                                crate::yield_now();
                            }
                        }
                        started.fetch_add(1, Ordering::Relaxed);
                    }));
                }
                while started.load(Ordering::Relaxed) + here.load(Ordering::Relaxed)
                    < yielders.len()
                {
                    crate::yield_now();
                }
            }
            let done = Arc::new(AtomicBool::new(false));
            let h = probe(&done);
            spin_until(&done);
            stop.store(true, Ordering::Relaxed);
            for y in yielders {
                y.join().unwrap();
            }
            (root, h.join().unwrap())
        });
        assert_ne!(root, probe);
    }

    /// More new green threads than a worker starts soon are stolen from at
    /// once, whatever the grace.
    #[test]
    fn a_long_queue_of_new_green_threads_is_stolen_from_at_once() {
        let (root, children) = on_two_workers(Duration::from_secs(3600), || {
            let done = Arc::new(AtomicBool::new(false));
            let hs: Vec<_> = (0..=GRACE_MAX_QUEUED).map(|_| probe(&done)).collect();
            spin_until(&done);
            let children: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            (std::thread::current().id(), children)
        });
        assert!(children.iter().any(|&c| c != root), "{children:?}");
    }
}
