//! A shared request pacer per endpoint host: requests are spaced `1/rate` apart, so in any
//! one-second window a host sees at most `rate` requests from us, however many jobs wait.
//! Built on `tokio::time`, so paused-time tests drive it instantly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

#[derive(Debug)]
pub struct Pacer {
    spacing: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(rate_per_second: f64) -> Pacer {
        Pacer {
            spacing: Duration::from_secs_f64(1.0 / rate_per_second),
            next: Mutex::new(None),
        }
    }

    /// Waits for this caller's slot. Slots are handed out in call order.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.spacing);
            slot
        };
        sleep_until(slot).await;
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
        // 25 requests at 10/s: the last one goes at 2.4 s; no 1-s window holds more than 10.
        assert_eq!(*times.last().unwrap(), Duration::from_millis(2400));
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
}
