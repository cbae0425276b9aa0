//! Timer channels, Go's `time.After`, `time.NewTimer(..).C`,
//! `time.Tick` and the nil channel: [`after`], [`at`], [`tick`], [`never()`].
//!
//! A timer channel is an ordinary channel of capacity 1 plus a runtime
//! timer that `try_send`s the fire time into it when due (Go's design), so
//! it works everywhere a [`Receiver`] does: `recv`, `recv_timeout`, `iter`,
//! `select!`.
//!
//! # Invariants
//!
//! 1. A timer channel never closes: its sender count is bumped once more
//!    than there are `Sender`s (`chan::keep_open`), so the timer dropping
//!    its sender after the last fire does not close it (a second `recv` on
//!    [`after`] blocks forever, as in Go and crossbeam-channel). The channel
//!    is freed when the timer and every `Receiver` are gone.
//! 2. No green thread or OS thread per timer. Made on a green thread, a
//!    timer goes on its worker's heap and fires from the worker's run loop
//!    (when it wakes from its timed sleep, and between green threads while
//!    busy). Made on a plain OS thread, it goes on one global timer thread
//!    (`driver.rs`), started on first use and shared by all such timers.
//! 3. A ticker re-arms itself after each fire, keeping its phase, and drops
//!    a tick the receiver has not taken (the `try_send` into the full
//!    channel fails), like Go's `Ticker`; it stops once every `Receiver` is
//!    gone (the `try_send` reports the channel closed).
//! 4. A deadline too far to represent (`after(Duration::MAX)`) never fires:
//!    no timer is armed at all.
//!
//! # Limits
//!
//! A timer made on a green thread fires from its worker, so it fires late
//! if a green thread blocks that worker's OS thread (a `std` lock or
//! `std::thread::sleep`, which goro cannot see). If the runtime shuts down
//! first, the worker hands its live timers to the global timer thread as
//! it stops, and they fire from there.

pub(crate) mod driver;

#[cfg(not(loom))]
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use self::driver::Expire;
use crate::chan::{Receiver, Sender, TrySendError};

/// What a timer does when it fires: send the time into a timer channel
/// (re-arming a ticker), or cancel a context whose deadline passed.
pub(crate) struct Fire {
    kind: FireKind,
}

enum FireKind {
    /// A timer channel: the sender it fires into and, for a ticker, its
    /// period.
    Chan {
        tx: Sender<Instant>,
        period: Option<Duration>,
    },
    /// A context deadline (held weakly: a context dropped early is freed).
    #[cfg(not(loom))]
    Cancel(std::sync::Weak<crate::context::Canceler>),
}

impl Fire {
    fn chan(tx: Sender<Instant>, period: Option<Duration>) -> Fire {
        Fire {
            kind: FireKind::Chan { tx, period },
        }
    }

    /// Whether firing would be pointless, so the timer may be dropped:
    /// every receiver of the channel is gone (the channel itself never
    /// closes, invariant 1), or the context is gone or already cancelled
    /// (Go stops a context's timer on cancel; a dead timer no longer
    /// silences the deadlock detector).
    pub(crate) fn is_dead(&self) -> bool {
        match &self.kind {
            FireKind::Chan { tx, .. } => tx.is_closed(),
            #[cfg(not(loom))]
            FireKind::Cancel(c) => c.upgrade().is_none_or(|c| c.is_cancelled()),
        }
    }
}

impl Expire for Fire {
    fn is_dead(&self) -> bool {
        Fire::is_dead(self)
    }

    fn expire(&mut self, deadline: Instant, now: Instant) -> Option<Instant> {
        let (tx, period) = match &self.kind {
            FireKind::Chan { tx, period } => (tx, *period),
            #[cfg(not(loom))]
            FireKind::Cancel(c) => {
                if let Some(c) = c.upgrade() {
                    c.cancel(crate::context::ContextError::DeadlineExceeded);
                }
                return None;
            }
        };
        if let Err(TrySendError::Closed(_)) = tx.try_send(now) {
            // Every receiver is gone: nobody can see another fire.
            return None;
        }
        let period = period?;
        // The next multiple of `period` after `now` (ticks missed while the
        // timer could not run are dropped, as Go's ticker does), in 128-bit
        // nanoseconds: a stall of any length keeps the ticker going.
        let p = period.as_nanos();
        let late = now.saturating_duration_since(deadline).as_nanos();
        let ahead = p - late % p; // in (0, p]
        let ahead = Duration::new(
            u64::try_from(ahead / 1_000_000_000).ok()?,
            (ahead % 1_000_000_000) as u32,
        );
        now.checked_add(ahead)
    }
}

/// Cancels the context behind `c` with `DeadlineExceeded` at `deadline`
/// (`context::with_deadline`), on the caller's worker or the global timer
/// thread like a timer channel.
#[cfg(not(loom))]
pub(crate) fn cancel_at(deadline: Instant, c: std::sync::Weak<crate::context::Canceler>) {
    arm(
        deadline,
        Fire {
            kind: FireKind::Cancel(c),
        },
    );
}

/// Creates a channel that receives the current time once, `d` from now,
/// like Go's `time.After`. It never closes: after the one value a `recv`
/// blocks forever. A duration too large to represent never fires.
///
/// On a green thread the timer lives on its worker (no OS thread is
/// involved, and only the green thread that receives parks); on a plain OS
/// thread a single global timer thread fires it.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let t = goro::after(Duration::from_millis(10));
/// let fired = t.recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(10));
/// // It does not close after firing.
/// assert!(t.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(d) {
        Some(when) => at(when),
        None => never(),
    }
}

/// Creates a channel that receives the current time once, at `when` (at
/// once if `when` has passed). Like [`after`], it never closes.
///
/// ```
/// use std::time::{Duration, Instant};
/// let past = goro::at(Instant::now() - Duration::from_secs(1));
/// assert!(past.recv_timeout(Duration::from_secs(10)).is_ok());
///
/// let when = Instant::now() + Duration::from_millis(5);
/// assert!(goro::at(when).recv().unwrap() >= when);
/// ```
pub fn at(when: Instant) -> Receiver<Instant> {
    let (tx, rx) = crate::chan::bounded(1);
    crate::chan::keep_open(&tx);
    arm(when, Fire::chan(tx, None));
    rx
}

/// Creates a channel that receives the current time every `period`, like
/// Go's `time.Tick`. The channel holds one tick: ticks a slow receiver did
/// not take are dropped, so it never falls behind by more than one. The
/// timer stops when every [`Receiver`] is dropped; the channel never
/// closes.
///
/// # Panics
/// If `period` is zero (as Go's `time.NewTicker` does).
///
/// ```
/// use std::time::Duration;
/// let ticks = goro::tick(Duration::from_millis(2));
/// let a = ticks.recv().unwrap();
/// let b = ticks.recv().unwrap();
/// assert!(b >= a + Duration::from_millis(1));
/// ```
pub fn tick(period: Duration) -> Receiver<Instant> {
    assert!(!period.is_zero(), "goro::tick: the period must not be zero");
    let (tx, rx) = crate::chan::bounded(1);
    crate::chan::keep_open(&tx);
    if let Some(first) = Instant::now().checked_add(period) {
        arm(first, Fire::chan(tx, Some(period)));
    }
    rx
}

/// Creates a channel that never delivers and never closes: Go's nil
/// channel, for a `select!` case that must stay disabled (a `recv` on it
/// blocks forever).
///
/// ```
/// use std::time::Duration;
/// let rx = goro::never::<i32>();
/// assert_eq!(rx.try_recv(), Err(goro::TryRecvError::Empty));
/// assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
/// assert!(!rx.is_closed());
/// ```
pub fn never<T>() -> Receiver<T> {
    let (tx, rx) = crate::chan::bounded(0);
    crate::chan::keep_open(&tx);
    drop(tx);
    rx
}

/// Arms `fire` for `when`: on the calling green thread's worker, else on
/// the global timer thread.
#[cfg(not(loom))]
fn arm(when: Instant, fire: Fire) {
    if let Err(fire) = crate::runtime::worker::add_timer(when, fire) {
        global().register(when, fire);
    }
}

#[cfg(loom)]
fn arm(_when: Instant, _fire: Fire) {}

/// Arms `fire` for `when` on the global timer thread: a worker that stops
/// (its runtime shut down) hands over its live timers this way, so a timer
/// channel or a context deadline made inside a runtime still fires after
/// it.
#[cfg(not(loom))]
pub(crate) fn arm_global(when: Instant, fire: Fire) {
    global().register(when, fire);
}

/// The global timer thread's driver, started on first use.
#[cfg(not(loom))]
fn global() -> &'static driver::Driver<Fire> {
    static GLOBAL: OnceLock<&'static driver::Driver<Fire>> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let d: &'static driver::Driver<Fire> = Box::leak(Box::new(driver::Driver::new()));
        std::thread::Builder::new()
            .name("goro-timer".into())
            .spawn(move || {
                loop {
                    d.turn();
                }
            })
            .unwrap_or_else(|e| panic!("goro: cannot start the timer thread: {e}"));
        TIMER_THREAD.store(true, std::sync::atomic::Ordering::SeqCst);
        d
    })
}

/// Whether the global timer thread has been started.
#[cfg(not(loom))]
static TIMER_THREAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For the deadlock detector: `Some(threads)` (0 or 1) when the global
/// timer thread has no pending timer (it can only act on a registration,
/// and counts as one of goro's own threads), `None` when a timer is
/// pending (it will act).
#[cfg(not(loom))]
pub(crate) fn idle_timer_threads() -> Option<usize> {
    if !TIMER_THREAD.load(std::sync::atomic::Ordering::SeqCst) {
        // Registration starts the thread before it registers, so a thread
        // being started belongs to a live caller, which the detector sees.
        return Some(0);
    }
    (global().live_pending() == 0).then_some(1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    use super::Fire;
    use super::driver::Expire;

    /// Timer channels made on a plain OS thread and dropped unreceived
    /// leave the global timer thread's heap as it grows, not an hour later.
    #[test]
    fn dead_timers_leave_the_global_heap() {
        for _ in 0..10_000 {
            drop(super::after(Duration::from_secs(3600)));
        }
        let pending = super::global().pending();
        assert!(pending < 1_000, "{pending} timers pending");
    }

    /// A ticker that fires late re-arms at the next multiple of its period
    /// after now, however late: a stall of billions of periods (here 5 s
    /// of a 1 ns ticker) used to overflow the tick count and stop it.
    #[test]
    fn a_ticker_fired_very_late_rearms_at_the_next_period() {
        for (period, late) in [
            (Duration::from_nanos(1), Duration::from_secs(5)),
            (Duration::from_nanos(3), Duration::from_secs(5)),
            (Duration::from_millis(7), Duration::from_millis(100)),
            (Duration::from_secs(2), Duration::ZERO),
        ] {
            let (tx, rx) = crate::chan::bounded(1);
            let mut fire = Fire::chan(tx, Some(period));
            let deadline = Instant::now();
            let now = deadline + late;
            let next = fire.expire(deadline, now).expect("a ticker re-arms");
            assert!(
                next > now && next - now <= period,
                "{period:?} late by {late:?}"
            );
            assert_eq!(
                (next - deadline).as_nanos() % period.as_nanos(),
                0,
                "on the ticker's phase"
            );
            assert_eq!(rx.try_recv(), Ok(now), "the late tick is delivered");
        }
    }
}
