//! The poll schedule as a pure iterator: delays grow from `interval` by ×1.5 up to
//! `max_interval`. While they grow, each is shortened by up to 5 % of random jitter so that many
//! jobs started together drift apart instead of polling in lock-step; at the cap the delay is
//! `max_interval` exactly. Never longer than `max_interval`, which bounds how late a finished
//! job is noticed; and jitter at the cap would only add requests for the same bound (20 % of it
//! made jobs poll 11 % more often than a fixed interval). The host's pacer keeps jobs that
//! still line up from leaving in a burst.

use std::time::Duration;

use crate::spec::PollPolicy;

const GROWTH: f64 = 1.5;
const JITTER: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct Backoff {
    interval: Duration,
    base: Duration,
    max: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(policy: PollPolicy, seed: u64) -> Backoff {
        Backoff {
            interval: policy.interval,
            base: policy.interval,
            max: policy.max_interval,
            rng: fastrand::Rng::with_seed(seed),
        }
    }
}

impl Backoff {
    /// Starts over: the next delay is `interval` again.
    pub fn restart(&mut self) {
        self.base = self.interval;
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = self.base.min(self.max);
        self.base = base.mul_f64(GROWTH).min(self.max);
        if base == self.max {
            return Some(base);
        }
        Some(base.mul_f64(1.0 - JITTER * self.rng.f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(interval_ms: u64, max_ms: u64) -> PollPolicy {
        PollPolicy {
            interval: Duration::from_millis(interval_ms),
            max_interval: Duration::from_millis(max_ms),
            schedule: crate::spec::raw::PollSchedule::Backoff,
        }
    }

    #[test]
    fn grows_to_the_cap() {
        let delays: Vec<_> = Backoff::new(policy(1000, 5000), 1).take(10).collect();
        assert!(
            delays[0] <= Duration::from_millis(1000) && delays[0] >= Duration::from_millis(800)
        );
        assert!(delays[3] > delays[0], "{delays:?}");
        assert_eq!(delays[9], Duration::from_millis(5000), "the cap, exactly");
    }

    proptest! {
        #[test]
        fn never_above_max_nor_below_jittered_interval(interval in 1u64..10_000, extra in 0u64..100_000, seed: u64) {
            let p = policy(interval, interval + extra);
            for d in Backoff::new(p, seed).take(40) {
                prop_assert!(d <= p.max_interval);
                prop_assert!(d >= p.interval.mul_f64(1.0 - JITTER) - Duration::from_micros(1));
            }
        }
    }
}
