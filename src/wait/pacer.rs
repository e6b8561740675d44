//! A shared request pacer per endpoint host: requests are spaced `1/rate` apart, so in any
//! one-second window a host sees at most `rate` requests from us, however many jobs wait —
//! which also spreads the first polls of a thousand jobs instead of firing them together.
//!
//! Throttling is per user or IP, not per job, so the pacer adapts for the whole host: a 429
//! halves the rate (down to 1/16 of it) and a `Retry-After` pauses every job on the host; each
//! answered request then wins back a tenth of the lost pace. Built on `tokio::time`, so
//! paused-time tests drive it instantly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

/// How far a host's rate may fall under throttling: to 1/16 of the configured rate.
const MAX_SLOWDOWN: u32 = 16;

/// Slack for the time between a slot and the request's arrival at the server, which varies
/// (scheduling, connection set-up): any `floor(rate)` consecutive requests span at least
/// 1 s + this, so no one-second window at the server holds more than `rate`.
const DISPATCH_MARGIN: Duration = Duration::from_millis(50);

/// The spacing that keeps `rate` per second with [`DISPATCH_MARGIN`] of slack.
fn spacing_for(rate: f64) -> Duration {
    let plain = Duration::from_secs_f64(1.0 / rate);
    let per_window = rate.floor().max(1.0) as u32;
    plain.max((Duration::from_secs(1) + DISPATCH_MARGIN) / per_window)
}

#[derive(Debug)]
pub struct Pacer {
    /// The configured spacing, `1/rate`.
    base: Duration,
    state: Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    next: Option<Instant>,
    /// The current spacing: `base` unless throttled.
    spacing: Duration,
}

impl Pacer {
    pub fn new(rate_per_second: f64) -> Pacer {
        let base = spacing_for(rate_per_second);
        Pacer {
            base,
            state: Mutex::new(PaceState {
                next: None,
                spacing: base,
            }),
        }
    }

    /// Waits for this caller's slot. Slots are handed out in call order.
    pub async fn acquire(&self) {
        let slot = {
            let mut st = self.lock();
            let now = Instant::now();
            let slot = st.next.map_or(now, |n| n.max(now));
            st.next = Some(slot + st.spacing);
            slot
        };
        sleep_until(slot).await;
    }

    /// The host said 429: halve the rate, and hold every slot until `retry_after` has passed.
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let mut st = self.lock();
        st.spacing = (st.spacing * 2).min(self.base * MAX_SLOWDOWN);
        if let Some(wait) = retry_after {
            let resume = Instant::now() + wait;
            st.next = Some(st.next.map_or(resume, |n| n.max(resume)));
        }
    }

    /// The host answered: win back a tenth of the lost pace.
    pub fn answered(&self) {
        let mut st = self.lock();
        if st.spacing > self.base {
            // A tenth of the gap, but at least 1 % of the base, so it really gets back.
            let step = ((st.spacing - self.base) / 10).max(self.base / 100);
            st.spacing = st.spacing.saturating_sub(step).max(self.base);
        }
    }

    /// The current spacing (for tests and logs).
    pub fn spacing(&self) -> Duration {
        self.lock().spacing
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One pacer per host.
#[derive(Debug, Default)]
pub struct Pacers(HashMap<String, Pacer>);

impl Pacers {
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a str>, rate: f64) -> Pacers {
        Pacers(
            hosts
                .into_iter()
                .map(|h| (h.to_owned(), Pacer::new(rate)))
                .collect(),
        )
    }

    pub async fn acquire(&self, host: &str) {
        if let Some(p) = self.0.get(host) {
            p.acquire().await;
        }
    }

    pub fn get(&self, host: &str) -> Option<&Pacer> {
        self.0.get(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_at_the_rate() {
        let pacer = std::sync::Arc::new(Pacer::new(10.0));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..25 {
            let p = pacer.clone();
            handles.push(tokio::spawn(async move {
                p.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap() - start);
        }
        times.sort();
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

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_pauses_for_retry_after_and_recovers() {
        let pacer = Pacer::new(10.0);
        pacer.acquire().await;
        pacer.throttled(None);
        assert_eq!(pacer.spacing(), Duration::from_millis(210));
        for _ in 0..10 {
            pacer.throttled(None);
        }
        assert_eq!(
            pacer.spacing(),
            Duration::from_millis(1680),
            "at most 16 times slower"
        );
        let start = Instant::now();
        pacer.throttled(Some(Duration::from_secs(5)));
        pacer.acquire().await;
        assert!(
            Instant::now() - start >= Duration::from_secs(5),
            "Retry-After holds the host"
        );
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
