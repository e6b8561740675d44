//! The simulator's fault plan: what a hostile API does to some requests — 5xx, dropped
//! connections, responses that hang past the client's timeout, garbage bodies, 429 throttling
//! with or without `Retry-After`, and a server-side rate limit — so resilience is tested
//! against a real socket, not a mock. Also [`RateWindow`], which measures at the server the most
//! requests seen in any one-second window.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

/// Probabilities (0..=1, per request) and limits, from the scenario's `faults:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// HTTP 500/502/503 with the bodies gateways and services send.
    pub error_5xx: f64,
    /// The connection ends in the middle of the response.
    pub drop: f64,
    /// The response comes only after `hang_for` (past any sane client timeout).
    pub hang: f64,
    pub hang_for: Duration,
    /// HTTP 200 with a body that is not a job document.
    pub garbage: f64,
    /// HTTP 429 APIGW.0308 at random.
    pub throttle: f64,
    /// `Retry-After` seconds sent with every 429; none when `None`.
    pub retry_after: Option<u64>,
    /// Requests per second the server admits (sliding one-second window); the rest get 429.
    pub rate_limit: Option<u32>,
    /// Seed of the fault dice, for reproducible runs.
    pub seed: Option<u64>,
}

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

/// `faults:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFaults {
    #[serde(default)]
    error_5xx: f64,
    #[serde(default)]
    drop: f64,
    #[serde(default)]
    hang: f64,
    #[serde(default)]
    hang_for: Option<String>,
    #[serde(default)]
    garbage: f64,
    #[serde(default)]
    throttle: f64,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    rate_limit: Option<u32>,
    #[serde(default)]
    seed: Option<u64>,
}

impl RawFaults {
    pub(crate) fn validate(self) -> Result<Faults, (String, String)> {
        let probabilities = [
            ("error_5xx", self.error_5xx),
            ("drop", self.drop),
            ("hang", self.hang),
            ("garbage", self.garbage),
            ("throttle", self.throttle),
        ];
        for (key, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err((
                    format!("faults.{key}"),
                    format!("{p} is not a probability within 0..=1"),
                ));
            }
        }
        let total: f64 = probabilities.iter().map(|(_, p)| p).sum();
        if total > 1.0 {
            return Err((
                "faults".into(),
                format!("the probabilities add up to {total}, more than 1"),
            ));
        }
        let hang_for = match self.hang_for {
            Some(text) => humantime::parse_duration(text.trim()).map_err(|e| {
                (
                    "faults.hang_for".to_owned(),
                    format!("{text:?} is not a duration ({e})"),
                )
            })?,
            None => Duration::from_secs(60),
        };
        if self.rate_limit == Some(0) {
            return Err((
                "faults.rate_limit".into(),
                "must be at least 1 request per second".into(),
            ));
        }
        Ok(Faults {
            error_5xx: self.error_5xx,
            drop: self.drop,
            hang: self.hang,
            hang_for,
            garbage: self.garbage,
            throttle: self.throttle,
            retry_after: self.retry_after,
            rate_limit: self.rate_limit,
            seed: self.seed,
        })
    }
}

/// Request times of the last second, for a server-side limit and for measuring the peak.
#[derive(Debug, Default)]
pub struct RateWindow {
    recent: VecDeque<Instant>,
    /// The most requests seen in any one-second window so far.
    pub peak: u64,
}

impl RateWindow {
    /// Records a request at `now` unless `limit` requests are already in the last second;
    /// returns whether it was admitted.
    pub fn admit(&mut self, now: Instant, limit: Option<u32>) -> bool {
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

    #[test]
    fn validation() {
        let raw = |yaml: &str| serde_yaml::from_str::<RawFaults>(yaml).unwrap().validate();
        assert_eq!(raw("error_5xx: 1.5").unwrap_err().0, "faults.error_5xx");
        assert_eq!(raw("error_5xx: 0.6\ndrop: 0.6").unwrap_err().0, "faults");
        assert_eq!(raw("hang_for: soon").unwrap_err().0, "faults.hang_for");
        assert_eq!(raw("rate_limit: 0").unwrap_err().0, "faults.rate_limit");
        assert_eq!(raw("hang: 0.1").unwrap().hang_for, Duration::from_secs(60));
        assert!(serde_yaml::from_str::<RawFaults>("explode: 1").is_err());
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
