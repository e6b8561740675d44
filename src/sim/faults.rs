//! The simulator's fault plan: what a hostile API does to some requests — 5xx, dropped
//! connections, responses that hang past the client's timeout, garbage bodies, 429 throttling
//! with or without `Retry-After`, and a server-side rate limit — so resilience is tested
//! against a real socket, not a mock. Also `RateWindow`, which measures at the server the most
//! requests seen in any one-second window.
//!
//! The plan itself, [`Faults`] (the scenario's `faults:`), is data: it is defined and validated
//! with the rest of the scenario in `scenario` (so a bad plan is a `ScenarioError` like any other)
//! and re-exported here. This module is what the server does with it: [`Faults::pick`] rolls the
//! dice for a request, `RateWindow` enforces the rate limit.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

pub use super::scenario::Faults;

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServerError(u16),
    Drop,
    Hang,
    Garbage,
    Throttle,
}

impl Faults {
    /// Picks a fault for a request from two uniform numbers in [0, 1).
    pub fn pick(&self, roll: f64, variant: f64) -> Fault {
        let mut edge = 0.0;
        for (p, fault) in [
            (
                self.error_5xx,
                Fault::ServerError([500, 502, 503][(variant * 3.0) as usize % 3]),
            ),
            (self.drop, Fault::Drop),
            (self.hang, Fault::Hang),
            (self.garbage, Fault::Garbage),
            (self.throttle, Fault::Throttle),
        ] {
            edge += p;
            if roll < edge {
                return fault;
            }
        }
        Fault::None
    }
}

/// Request times of the last second, for a server-side limit and for measuring the peak.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    recent: VecDeque<Instant>,
    /// The most requests seen in any one-second window so far.
    pub(crate) peak: u64,
}

impl RateWindow {
    /// Records a request at `now` unless `limit` requests are already in the last second;
    /// returns whether it was admitted.
    pub(crate) fn admit(&mut self, now: Instant, limit: Option<u32>) -> bool {
        while let Some(&front) = self.recent.front() {
            if now.duration_since(front) >= Duration::from_secs(1) {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if limit.is_some_and(|l| self.recent.len() >= l as usize) {
            return false;
        }
        self.recent.push_back(now);
        self.peak = self.peak.max(self.recent.len() as u64);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_follows_cumulative_probabilities() {
        let f = Faults {
            error_5xx: 0.1,
            drop: 0.1,
            garbage: 0.2,
            ..Faults::default()
        };
        assert_eq!(f.pick(0.05, 0.0), Fault::ServerError(500));
        assert_eq!(f.pick(0.05, 0.99), Fault::ServerError(503));
        assert_eq!(f.pick(0.15, 0.0), Fault::Drop);
        assert_eq!(f.pick(0.35, 0.0), Fault::Garbage);
        assert_eq!(f.pick(0.45, 0.0), Fault::None);
        assert_eq!(Faults::default().pick(0.0, 0.0), Fault::None);
    }

    #[tokio::test(start_paused = true)]
    async fn window_limits_and_measures_the_peak() {
        let mut w = RateWindow::default();
        let t0 = Instant::now();
        let admitted = (0..30)
            .filter(|i| w.admit(t0 + Duration::from_millis(i * 10), Some(20)))
            .count();
        assert_eq!(admitted, 20);
        assert_eq!(w.peak, 20);
        assert!(
            w.admit(t0 + Duration::from_millis(1000), Some(20)),
            "the first one left the window"
        );
        let mut unlimited = RateWindow::default();
        for i in 0..50 {
            unlimited.admit(t0 + Duration::from_millis(i * 100), None);
        }
        assert_eq!(unlimited.peak, 10);
    }
}
