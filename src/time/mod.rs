//! Timer channels, Go's `time.After`, `time.NewTimer(..).C`,
//! `time.Tick` and the nil channel: [`after`], [`at`], [`tick`], [`never()`].
//!
//! A timer channel is an ordinary channel of capacity 1 holding its
//! schedule (`due.rs`), plus a runtime timer that delivers the fire time
//! into it when due (Go's design), so it works everywhere a [`Receiver`]
//! does: `recv`, `recv_timeout`, `iter`, `select!`. A receive that finds
//! it empty takes a fire already due itself (Go 1.23's rule), so
//! `after(Duration::ZERO)` is ready at once, even for `try_recv`.
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
//! 3. Each fire is delivered once, by the receive or the runtime timer,
//!    whichever comes first (both go through the schedule under the
//!    channel's lock). A ticker re-arms itself after each fire, keeping its
//!    phase, and drops a tick the receiver has not taken (the channel is
//!    full), like Go's `Ticker`; it stops once every `Receiver` is gone. A
//!    zero period has no runtime timer: every receive finds a tick due.
//! 4. A deadline too far to represent (`after(Duration::MAX)`) never fires:
//!    no timer is armed at all.
//!
//! # Limits
//!
//! A timer made on a green thread fires from its worker, so a receiver
//! blocked on it wakes late if a green thread blocks that worker's OS
//! thread (a `std` lock, `std::thread::sleep` or a `join` of an OS
//! thread, which goro cannot see), and never while it stays blocked (an OS
//! thread the blocked green thread waits for, itself waiting on that
//! timer, deadlocks); a receive that looks after the deadline gets it at
//! once. If the runtime shuts down first, the worker hands its live timers
//! to the global timer thread as it stops, and they fire from there.

pub(crate) mod driver;
pub(crate) mod due;

#[cfg(not(loom))]
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use self::driver::Expire;
use self::due::Due;
use crate::chan::{Receiver, Sender};

/// What a timer does when it fires: send the time into a timer channel
/// (re-arming a ticker), or cancel a context whose deadline passed.
pub(crate) struct Fire {
    kind: FireKind,
}

enum FireKind {
    /// A timer channel's runtime timer; its schedule is in the channel.
    Chan(Sender<Instant>),
    #[cfg(not(loom))]
    Cancel(std::sync::Weak<crate::context::Canceler>),
}

impl Fire {
    fn chan(tx: Sender<Instant>) -> Fire {
        Fire {
            kind: FireKind::Chan(tx),
        }
    }

    pub(crate) fn is_dead(&self) -> bool {
        match &self.kind {
            FireKind::Chan(tx) => tx.is_closed(),
            #[cfg(not(loom))]
            FireKind::Cancel(c) => c.upgrade().is_none_or(|c| c.is_cancelled()),
        }
    }
}

impl Expire for Fire {
    fn is_dead(&self) -> bool {
        Fire::is_dead(self)
    }

    fn expire(&mut self, now: Instant) -> Option<Instant> {
        match &self.kind {
            // Delivers the fire unless a receive took it already, and says
            // when the schedule fires next (a ticker re-arms).
            FireKind::Chan(tx) => crate::chan::fire_timer(tx, now),
            #[cfg(not(loom))]
            FireKind::Cancel(c) => {
                if let Some(c) = c.upgrade() {
                    c.cancel(crate::context::ContextError::DeadlineExceeded);
                }
                None
            }
        }
    }
}

#[cfg(not(loom))]
pub(crate) fn cancel_at(deadline: Instant, c: std::sync::Weak<crate::context::Canceler>) {
    arm(
        deadline,
        Fire {
            kind: FireKind::Cancel(c),
        },
    );
}

/// Creates a channel that receives one value `d` from now, like Go's
/// `time.After`: the instant it was due (`Instant::now() + d`), as Go 1.23
/// and crossbeam-channel deliver it, even when it is received late. It
/// never closes: after the one value a `recv` blocks forever. A duration
/// too large to represent never fires.
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

/// Creates a channel that receives `when` once, at `when` (at once if
/// `when` has passed). Like [`after`], it never closes.
///
/// ```
/// use std::time::{Duration, Instant};
/// let past = goro::at(Instant::now() - Duration::from_secs(1));
/// assert!(past.try_recv().is_ok()); // due already: ready at once
///
/// let when = Instant::now() + Duration::from_millis(5);
/// assert_eq!(goro::at(when).recv(), Ok(when));
/// ```
pub fn at(when: Instant) -> Receiver<Instant> {
    let (tx, rx) = crate::chan::timer_channel(Due::once(when));
    arm(when, Fire::chan(tx));
    rx
}

/// Creates a channel that receives a tick every `period`, like Go's
/// `time.Tick`; each tick is the instant it was due (creation plus a whole
/// number of periods). The channel holds one tick: ticks a slow receiver
/// did not take are dropped, so it never falls behind by more than one. The
/// timer stops when every [`Receiver`] is dropped; the channel never
/// closes. A zero `period` gives a tick at every receive (as
/// crossbeam-channel's `tick` does; Go's `NewTicker` panics instead).
///
/// ```
/// use std::time::Duration;
/// let ticks = goro::tick(Duration::from_millis(2));
/// let a = ticks.recv().unwrap();
/// let b = ticks.recv().unwrap();
/// assert!(b >= a + Duration::from_millis(2)); // whole periods apart
///
/// let always = goro::tick(Duration::ZERO);
/// assert!(always.try_recv().is_ok());
/// assert!(always.try_recv().is_ok());
/// ```
pub fn tick(period: Duration) -> Receiver<Instant> {
    let now = Instant::now();
    let first = if period.is_zero() {
        Some(now)
    } else {
        now.checked_add(period)
    };
    let (tx, rx) = crate::chan::timer_channel(Due::every(first, period));
    // A zero period needs no runtime timer: every receive finds it due.
    if let (false, Some(first)) = (period.is_zero(), first) {
        arm(first, Fire::chan(tx));
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
    crate::chan::never_channel()
}

/// Timers due within this long of each other count as due together: they
/// fire in random order ([`shuffle_ties`]).
const TIE: Duration = Duration::from_millis(1);

/// Puts each run of `due` (sorted by deadline) whose deadlines lie within
/// [`TIE`] of the run's first in random order, so that a `select!` over
/// timer channels due together picks among them at random (crossbeam's
/// fairness; the first fire completes a waiting select), while timers due
/// further apart still fire in deadline order.
pub(crate) fn shuffle_ties<T>(due: &mut [T], deadline: impl Fn(&T) -> Instant) {
    let mut start = 0;
    while start < due.len() {
        let first = deadline(&due[start]);
        let mut end = start + 1;
        while end < due.len() && deadline(&due[end]).saturating_duration_since(first) < TIE {
            end += 1;
        }
        crate::chan::select::shuffle(&mut due[start..end]);
        start = end;
    }
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
    fn a_ticker_fired_very_late_delivers_and_rearms_at_the_next_period() {
        let period = Duration::from_millis(7);
        let deadline = Instant::now();
        let (tx, rx) = crate::chan::timer_channel(super::Due::every(Some(deadline), period));
        let mut fire = Fire::chan(tx);
        let now = deadline + Duration::from_millis(100);
        let next = fire.expire(now).expect("a ticker re-arms");
        assert!(next > now && next - now <= period);
        assert_eq!(
            rx.try_recv(),
            Ok(deadline),
            "the late tick, at its due time"
        );
    }

    #[test]
    fn a_fire_taken_by_a_receive_is_not_delivered_again() {
        let deadline = Instant::now();
        let (tx, rx) = crate::chan::timer_channel(super::Due::once(deadline));
        let mut fire = Fire::chan(tx);
        assert!(rx.try_recv().is_ok(), "due: taken by the receive");
        assert_eq!(fire.expire(Instant::now()), None, "spent");
        assert!(rx.try_recv().is_err(), "delivered once");
    }
}
