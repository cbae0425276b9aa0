//! Go's "all goroutines are asleep - deadlock!" check, without false
//! positives.
//!
//! # The rule (DESIGN.md "Deadlock")
//!
//! A runtime is deadlocked when, at one instant, all of these hold:
//!
//! 1. every worker is asleep, with an empty timer heap, an empty inbox, and
//!    no never-started work anywhere (so no green thread is runnable or
//!    running, and none will be woken by a worker's timer);
//! 2. every live green thread is parked without a deadline, and none is
//!    sleeping (a `sleep` of an unrepresentable length parks without a
//!    deadline; it is not reported, as Go would not);
//! 3. the global timer thread (`time/driver.rs`) has no pending timer;
//! 4. every live thread of the process (counted in `/proc/self/task`) is one
//!    of this runtime's workers, a worker of another runtime that is itself
//!    at rest (1 and 2 hold for it too: the global runtime of `go!` outside
//!    `run`, say, once its green threads have finished or parked), the
//!    global timer thread, or an OS thread parked without a deadline inside
//!    a goro operation (`OS_PARKED`; this includes the thread waiting in
//!    `block_on`). Any other thread (a test harness, a thread pool, a
//!    worker of a runtime with work to do, a thread sleeping or reading
//!    stdin, an OS thread in a timed goro wait) could still act, so the
//!    process is never reported while one exists. Runtimes find each other
//!    through [`RUNTIMES`].
//!
//! and somebody waits in `block_on` to be told.
//!
//! # Counting OS threads parked in goro (no over-count)
//!
//! Each OS thread has a flag (`SLOT`). Before an untimed park it sets the
//! flag, then increments `OS_PARKED`; whoever clears the flag (the
//! unparker, with a swap, or the thread itself when the park returns)
//! decrements. So a thread counts only from just before its park until the
//! first unpark aimed at it, which clears its flag *before* the thread can
//! run. An unpark racing the increment makes the count briefly one too
//! low, never too high: an under-count only delays a report.
//!
//! # Who checks, and racing wake-ups
//!
//! The last worker to go to sleep with an empty heap runs [`check`]. It
//! reads `EVENTS` (bumped after every unpark of an OS thread and every OS
//! park's return; a green thread's wake needs no bump, it shows in the
//! task's state and its worker's inbox before the waker moves on),
//! runs the whole check, sleeps `SETTLE`, runs it again, and reports only if
//! both passes agree and `EVENTS` did not move: a wake-up in flight is
//! either seen by a pass or bumps the counter. Every party that could still
//! wake someone is itself visible to the check: a green thread running
//! (its worker is awake), an OS thread running (an extra live thread), a
//! worker's or the timer thread's timer (a pending count that drops only
//! after the fire). When the check fails only because of something outside
//! the runtime (a thread count that does not add up, a pending timer on the
//! timer thread), the worker sleeps with a growing timeout and checks
//! again, so a deadlock that completes when an OS thread parks is still
//! found.
//!
//! # Reporting
//!
//! The report (the message and one line per blocked green thread, as
//! `Runtime::dump` prints them) is stored in the runtime once, and every
//! OS thread waiting in `block_on` is woken; each begins the runtime's
//! shutdown (which unwinds the parked green threads, root included), waits
//! for its root green thread to finish unwinding, and panics with it.

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::scheduler::Shared;
use super::task::WaitReason;

/// The message's first line, as Go prints it.
pub(crate) const MESSAGE: &str = "all green threads are asleep - deadlock!";

/// Time between the two passes of a check.
const SETTLE: Duration = Duration::from_millis(2);

/// Bumped after every unpark of an OS thread and after every untimed OS
/// park returns.
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// OS threads in an untimed goro park whose flag is still set.
static OS_PARKED: AtomicIsize = AtomicIsize::new(0);

/// Every runtime of the process not yet dropped (dead entries are pruned
/// as new runtimes register), so that a check can tell another runtime's
/// workers at rest from workers with something to do (condition 4).
static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Makes a new runtime known to the checks of the others.
pub(crate) fn register(shared: &Arc<Shared>) {
    let mut all = RUNTIMES.lock();
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(shared));
}

/// The live runtimes other than `shared`.
fn other_runtimes(shared: &Shared) -> Vec<Arc<Shared>> {
    RUNTIMES
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|o| !std::ptr::eq(&**o, shared))
        .collect()
}

thread_local! {
    /// This OS thread's "parked in goro" flag.
    static SLOT: Arc<AtomicBool> = Arc::new(AtomicBool::new(false));
}

/// The calling OS thread's flag, for its `Unparker`. A thread whose
/// thread-locals are being destroyed (a destructor that blocks on a
/// channel) gets a flag of its own that no park ever sets: it is never
/// counted as parked, so it can only hold a report off, never cause one.
pub(crate) fn os_slot() -> Arc<AtomicBool> {
    SLOT.try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(AtomicBool::new(false)))
}

/// Runs `park` (an untimed park of the calling OS thread) counted in
/// `OS_PARKED` (uncounted once the thread's thread-locals are gone, see
/// [`os_slot`]).
pub(crate) fn os_park(park: impl FnOnce()) {
    let mut park = Some(park);
    let _ = SLOT.try_with(|slot| {
        slot.store(true, Ordering::SeqCst);
        OS_PARKED.fetch_add(1, Ordering::SeqCst);
        (park.take().expect("parks once"))();
        if slot.swap(false, Ordering::SeqCst) {
            OS_PARKED.fetch_sub(1, Ordering::SeqCst);
        }
    });
    if let Some(park) = park {
        park();
    }
    EVENTS.fetch_add(1, Ordering::SeqCst);
}

/// An unpark is aimed at the OS thread owning `slot`: it no longer counts
/// as parked. Call before the actual unpark.
pub(crate) fn os_unparking(slot: &AtomicBool) {
    if slot.swap(false, Ordering::SeqCst) {
        OS_PARKED.fetch_sub(1, Ordering::SeqCst);
    }
    EVENTS.fetch_add(1, Ordering::SeqCst);
}

/// The outcome of a check.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Not deadlocked, and the runtime itself will act again (and check
    /// again when it next goes idle).
    No,
    /// Not proved, because of something outside the runtime; check again
    /// later.
    Retry,
    /// Deadlocked: the report.
    Deadlock(String),
}

/// Checks `shared` for a deadlock (see the module doc). Called by a worker
/// that just registered as sleeping; takes `SETTLE` when the first pass
/// finds one.
pub(crate) fn check(shared: &Shared) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Verdict::No;
    }
    let before = EVENTS.load(Ordering::SeqCst);
    if let v @ (Verdict::No | Verdict::Retry) = pass(shared) {
        return v;
    }
    std::thread::sleep(SETTLE);
    let report = pass(shared);
    if EVENTS.load(Ordering::SeqCst) != before {
        return Verdict::Retry;
    }
    report
}

/// Condition 1 for `shared`: all its workers asleep with nothing to run
/// and no timer to fire.
fn workers_at_rest(shared: &Shared) -> bool {
    shared.idle.num_sleeping() == shared.num_workers()
        && !shared
            .remotes
            .iter()
            .any(|r| r.timers() != 0 || r.has_inbox())
        && !shared.has_shared_work()
        && shared.not_started() == 0
}

/// Condition 2 for `tasks`: each parked without a deadline, none asleep.
fn all_blocked(tasks: &[super::task::TaskRef]) -> bool {
    tasks
        .iter()
        .all(|t| t.state.describe() == "parked" && t.wait_reason() != WaitReason::Sleep)
}

/// The worker threads of the runtimes other than `shared`, if every one of
/// them is at rest (conditions 1 and 2; a terminated one's workers are
/// gone, or about to be: a straggler only makes the count not add up).
/// `None` if one may still act.
fn workers_of_others_at_rest(shared: &Shared) -> Option<usize> {
    let mut workers = 0;
    for other in other_runtimes(shared) {
        if other.is_terminating() {
            continue;
        }
        if other.is_shutting_down() || !workers_at_rest(&other) || !all_blocked(&other.tasks()) {
            return None;
        }
        workers += other.num_workers();
    }
    Some(workers)
}

/// One pass over conditions 1-4.
fn pass(shared: &Shared) -> Verdict {
    if shared.is_shutting_down()
        || shared.deadlock_report().is_some()
        || !shared.has_block_on_waiter()
    {
        return Verdict::No;
    }
    // 1.
    if !workers_at_rest(shared) {
        return Verdict::No;
    }
    // 3 and 4 before 2: cheaper than a pass over every green thread,
    // and what usually stands in the way (another live thread).
    // 3.
    let Some(timer_threads) = crate::time::idle_timer_threads() else {
        return Verdict::Retry;
    };
    // 4.
    let Some(others) = workers_of_others_at_rest(shared) else {
        return Verdict::Retry;
    };
    let workers = shared.num_workers() + others;
    let os_parked = OS_PARKED.load(Ordering::SeqCst);
    let Some(live) = live_threads() else {
        return Verdict::No;
    };
    if os_parked < 1 || live as isize != (workers + timer_threads) as isize + os_parked {
        return Verdict::Retry;
    }
    // 2.
    let tasks = shared.tasks();
    if tasks.is_empty() || !all_blocked(&tasks) {
        return Verdict::No;
    }
    let mut report = format!("{MESSAGE}\n");
    for t in &tasks {
        report.push('\n');
        report.push_str(&super::handle::describe(t));
    }
    Verdict::Deadlock(report)
}

/// The number of live threads of this process.
fn live_threads() -> Option<usize> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    let mut n = 0;
    for entry in dir {
        entry.ok()?;
        n += 1;
    }
    Some(n)
}
