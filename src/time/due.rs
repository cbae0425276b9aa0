//! The schedule of a timer channel ([`after`](super::after),
//! [`at`](super::at), [`tick`](super::tick)), kept inside the channel,
//! under its lock, so that a receive finding the channel empty delivers a
//! fire that is already due at once (Go 1.23's `maybeRunChan`, and how
//! crossbeam-channel's timer flavors behave): `after(Duration::ZERO)` is
//! ready for `try_recv` and for a `select!` with `default`, and a timer
//! whose worker was busy past its deadline is ready when looked at.
//!
//! Invariants: each fire is delivered at most once, by whichever comes
//! first, the receive (lazily) or the runtime timer (eagerly, to wake
//! blocked receivers); both take it through [`Due::take`] under the
//! channel's lock. A one-shot schedule is spent after its fire; a periodic
//! one moves to the next multiple of its period after the fire, keeping
//! its phase and dropping the periods missed (Go's `Ticker`); a zero
//! period is due at every look.

use std::time::{Duration, Instant};

/// When a timer channel fires next.
#[derive(Debug)]
pub(crate) struct Due {
    /// The next fire time; `None` once a one-shot fired (or for a deadline
    /// too far to represent).
    next: Option<Instant>,
    /// `None` for a one-shot timer.
    period: Option<Duration>,
}

impl Due {
    /// Fires once, at `at`.
    pub(crate) fn once(at: Instant) -> Due {
        Due {
            next: Some(at),
            period: None,
        }
    }

    /// Fires at `first`, then every `period` (`None`: never, the first
    /// fire being too far to represent).
    pub(crate) fn every(first: Option<Instant>, period: Duration) -> Due {
        Due {
            next: first,
            period: Some(period),
        }
    }

    /// The next fire time, if any.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Whether a fire is due at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.next.is_some_and(|n| n <= now)
    }

    /// Takes the fire due at `now`, if one is: returns the value to deliver,
    /// the time it was due (as Go 1.23 and crossbeam-channel deliver: a
    /// late fire does not shift the value, and a ticker's values are whole
    /// periods apart), and moves the schedule on.
    pub(crate) fn take(&mut self, now: Instant) -> Option<Instant> {
        let due = self.next.filter(|&n| n <= now)?;
        self.next = match self.period {
            None => None,
            Some(p) if p.is_zero() => Some(now),
            Some(p) => next_period(due, now, p),
        };
        Some(due)
    }

    /// A receive takes a fire from the full channel at `now`: the fires
    /// that fell due meanwhile found the channel full, so they are dropped
    /// (Go's ticker), whether or not the runtime timer has run them yet.
    pub(crate) fn drop_due(&mut self, now: Instant) {
        let _ = self.take(now);
    }
}

/// The first instant after `now` on the phase of `deadline` with period
/// `period` (non-zero), in 128-bit nanoseconds so that a stall of any
/// length keeps the schedule going; `None` past what `Instant` represents.
fn next_period(deadline: Instant, now: Instant, period: Duration) -> Option<Instant> {
    let p = period.as_nanos();
    let late = now.saturating_duration_since(deadline).as_nanos();
    let ahead = p - late % p; // in (0, p]
    let ahead = Duration::new(
        u64::try_from(ahead / 1_000_000_000).ok()?,
        (ahead % 1_000_000_000) as u32,
    );
    now.checked_add(ahead)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Due;

    #[test]
    fn a_one_shot_fires_once_and_only_when_due() {
        let t0 = Instant::now();
        let mut d = Due::once(t0 + Duration::from_secs(1));
        assert!(!d.is_due(t0));
        assert_eq!(d.take(t0), None);
        let late = t0 + Duration::from_secs(2);
        assert!(d.is_due(late));
        assert_eq!(
            d.take(late),
            Some(t0 + Duration::from_secs(1)),
            "its due time"
        );
        assert_eq!(d.next(), None);
        assert_eq!(d.take(late + Duration::from_secs(9)), None, "spent");
    }

    #[test]
    fn fires_due_while_the_channel_was_full_are_dropped() {
        let t0 = Instant::now();
        let p = Duration::from_millis(50);
        let mut d = Due::every(Some(t0 + p), p);
        d.drop_due(t0 + Duration::from_millis(170)); // fires at 50, 100, 150
        assert_eq!(d.next(), Some(t0 + Duration::from_millis(200)));
        assert!(!d.is_due(t0 + Duration::from_millis(199)));
    }

    #[test]
    fn a_zero_period_is_due_at_every_look() {
        let t0 = Instant::now();
        let mut d = Due::every(Some(t0), Duration::ZERO);
        let mut last = t0;
        for i in 0..3 {
            let now = t0 + Duration::from_millis(i);
            assert_eq!(d.take(now), Some(last), "due since the last look");
            assert!(d.is_due(now));
            last = now;
        }
    }

    #[test]
    fn a_period_fired_very_late_moves_to_the_next_one_on_its_phase() {
        for (period, late) in [
            (Duration::from_nanos(1), Duration::from_secs(5)),
            (Duration::from_nanos(3), Duration::from_secs(5)),
            (Duration::from_millis(7), Duration::from_millis(100)),
            (Duration::from_secs(2), Duration::ZERO),
        ] {
            let deadline = Instant::now();
            let mut d = Due::every(Some(deadline), period);
            let now = deadline + late;
            assert_eq!(
                d.take(now),
                Some(deadline),
                "the late fire, at its due time"
            );
            let next = d.next().expect("a ticker goes on");
            assert!(
                next > now && next - now <= period,
                "{period:?} late by {late:?}"
            );
            assert_eq!(
                (next - deadline).as_nanos() % period.as_nanos(),
                0,
                "on the ticker's phase"
            );
        }
    }
}
