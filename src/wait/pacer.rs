//! The request pacer of one endpoint host: slots `1/rate` apart, so in any one-second window a
//! host sees at most `rate` requests from us, however many jobs wait — which also spreads the
//! first polls of a thousand jobs instead of firing them together.
//!
//! Throttling is per user or IP, not per job, so the pacer adapts for the whole host: a 429
//! halves the rate (down to 1/16 of it) and a `Retry-After` pauses every job on the host; each
//! answered request then wins back a tenth of the lost pace.
//!
//! It is plain data with no timers or locks: the engine's single driver asks it for slots with
//! the current time and sleeps until [`Pacer::next_slot`] itself. A slot may be lent up to a
//! small `ahead` early, so that requests due together leave in one wake-up; the
//! [`DISPATCH_MARGIN`] in the spacing absorbs that, as it absorbs late dispatch.

use std::time::Duration;

use tokio::time::Instant;

/// The longest pause a `Retry-After` can impose when the asked one cannot be represented.
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// How far a host's rate may fall under throttling: to 1/16 of the configured rate.
const MAX_SLOWDOWN: u32 = 16;

/// Slack for the time between a slot and the request's arrival at the server, which varies
/// (scheduling, connection set-up, slots lent early): any `floor(rate)` consecutive requests
/// span at least 1 s + this, so no one-second window at the server holds more than `rate`.
pub const DISPATCH_MARGIN: Duration = Duration::from_millis(50);

/// The spacing that keeps `rate` per second with [`DISPATCH_MARGIN`] of slack.
fn spacing_for(rate: f64) -> Duration {
    let plain = Duration::from_secs_f64(1.0 / rate);
    let per_window = rate.floor().max(1.0) as u32;
    plain.max((Duration::from_secs(1) + DISPATCH_MARGIN) / per_window)
}

#[derive(Debug)]
pub struct Pacer {
    /// The configured spacing, `1/rate` with the margin.
    base: Duration,
    /// The current spacing: `base` unless throttled.
    spacing: Duration,
    /// The next free slot; `None` before the first request.
    next: Option<Instant>,
}

impl Pacer {
    pub fn new(rate_per_second: f64) -> Pacer {
        let base = spacing_for(rate_per_second);
        Pacer {
            base,
            spacing: base,
            next: None,
        }
    }

    /// When the next slot is free (`now` if it already is).
    pub fn next_slot(&self, now: Instant) -> Instant {
        self.next.map_or(now, |n| n.max(now))
    }

    /// Takes the next slot if it is due by `now + ahead`; slots are handed out in call order.
    pub fn try_take(&mut self, now: Instant, ahead: Duration) -> bool {
        let slot = self.next_slot(now);
        if slot > now + ahead {
            return false;
        }
        self.next = Some(slot + self.spacing);
        true
    }

    /// The host said 429: halve the rate, and hold every slot until `retry_after` has passed.
    pub fn throttled(&mut self, now: Instant, retry_after: Option<Duration>) {
        self.spacing = (self.spacing * 2).min(self.base * MAX_SLOWDOWN);
        if let Some(wait) = retry_after {
            // Capped where it is read; still never trusted to fit an `Instant`.
            let resume = now.checked_add(wait).unwrap_or(now + MAX_PAUSE);
            self.next = Some(self.next.map_or(resume, |n| n.max(resume)));
        }
    }

    /// The host answered: win back a tenth of the lost pace.
    pub fn answered(&mut self) {
        if self.spacing > self.base {
            // A tenth of the gap, but at least 1 % of the base, so it really gets back.
            let step = ((self.spacing - self.base) / 10).max(self.base / 100);
            self.spacing = self.spacing.saturating_sub(step).max(self.base);
        }
    }

    /// The current spacing (for tests and logs).
    pub fn spacing(&self) -> Duration {
        self.spacing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `n` slots, each as soon as it is free, and returns their offsets from the start.
    fn take_as_due(pacer: &mut Pacer, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut now = start;
        (0..n)
            .map(|_| {
                now = pacer.next_slot(now);
                assert!(pacer.try_take(now, Duration::ZERO));
                now - start
            })
            .collect()
    }

    #[test]
    fn spaces_requests_at_the_rate() {
        let times = take_as_due(&mut Pacer::new(10.0), 25);
        // 25 requests at 10/s, 105 ms apart (50 ms of slack per second): the last at 2.52 s;
        // no 1-s window holds more than 10, even with 50 ms of dispatch jitter.
        assert_eq!(*times.last().unwrap(), Duration::from_millis(2520));
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u < *t + Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 10,
                "{in_window} requests in the second after {t:?}"
            );
        }
    }

    #[test]
    fn a_slot_is_lent_early_only_within_ahead() {
        let mut pacer = Pacer::new(1000.0);
        let now = Instant::now();
        // 1.05 ms apart: ten slots fall within 10 ms, the eleventh does not.
        let lent = (0..20)
            .take_while(|_| pacer.try_take(now, Duration::from_millis(10)))
            .count();
        assert_eq!(lent, 10);
        assert_eq!(
            pacer.next_slot(now) - now,
            Duration::from_micros(10_500),
            "a refused slot stays the next one"
        );
    }

    #[test]
    fn throttling_halves_the_rate_pauses_for_retry_after_and_recovers() {
        let mut pacer = Pacer::new(10.0);
        let now = Instant::now();
        assert!(pacer.try_take(now, Duration::ZERO));
        pacer.throttled(now, None);
        assert_eq!(pacer.spacing(), Duration::from_millis(210));
        for _ in 0..10 {
            pacer.throttled(now, None);
        }
        assert_eq!(
            pacer.spacing(),
            Duration::from_millis(1680),
            "at most 16 times slower"
        );
        pacer.throttled(now, Some(Duration::from_secs(5)));
        assert_eq!(
            pacer.next_slot(now) - now,
            Duration::from_secs(5),
            "Retry-After holds the host"
        );
        assert!(!pacer.try_take(now + Duration::from_secs(4), Duration::ZERO));
        for _ in 0..200 {
            pacer.answered();
        }
        assert_eq!(
            pacer.spacing(),
            Duration::from_millis(105),
            "back to the configured rate"
        );
    }
}
