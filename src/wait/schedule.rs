//! When to poll a job next (`poll.schedule`).
//!
//! The plain back-off polls densely while a job is young and sparsely when it is old — the wrong
//! way round for jobs that take minutes: most of its requests go out when the job cannot be done
//! yet. The job document often says more. `begin_time` gives the job's age; `process_percent`
//! (IMS) and the share of finished sub-jobs give its progress, so `age × (1 − p) / p` estimates
//! the time left; and jobs of the same `job_type` that ended in this run say how long such a job
//! takes at least. With an estimate further away than the back-off's next delay, the adaptive
//! schedule polls sparsely — straight to the estimated end, in steps of at most `max_interval`
//! — and from there on follows the back-off again, starting over at `interval`, so polls are
//! dense where the job is likely to end. Otherwise it is the back-off: an estimate never makes
//! a poll come sooner than the back-off would.
//!
//! Every delay stays within `max_interval`, so the bound on how late a finished job is noticed
//! holds whatever the estimate; a wrong estimate only costs requests or lag within that bound.
//! Ages compare the API's clock with this machine's; a skew of seconds shifts estimates by as
//! much, inside the same bound.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::backoff::Backoff;
use crate::cloud::wire::{Job, JobStatus};
use crate::spec::raw::PollSchedule;
use crate::spec::PollPolicy;

/// One job's poll timing.
#[derive(Debug, Clone)]
pub struct Schedule {
    policy: PollPolicy,
    backoff: Backoff,
}

impl Schedule {
    pub fn new(policy: PollPolicy, seed: u64) -> Schedule {
        Schedule {
            policy,
            backoff: Backoff::new(policy, seed),
        }
    }

    /// The delay before the next poll, given what the last document said (if anything).
    pub fn next(&mut self, estimate: Option<Estimate>) -> Duration {
        let backoff = self.backoff.next().unwrap_or(self.policy.max_interval);
        let Some(estimate) = estimate.filter(|_| self.policy.schedule == PollSchedule::Adaptive)
        else {
            return backoff;
        };
        let left = match estimate {
            Estimate::EndsIn(left) | Estimate::NotBefore(left) => left,
        };
        if left > backoff {
            // Not near its end: go straight towards it. An expected end is where polls should
            // be dense again; a mere lower bound says nothing about when after it.
            if let Estimate::EndsIn(_) = estimate {
                self.backoff.restart();
            }
            left.min(self.policy.max_interval)
        } else {
            // Near (or past) its end: the back-off, which is dense again since the last skip.
            // Never sooner: an estimate is not worth a request the back-off would not make.
            backoff
        }
    }
}

/// What a pending job's document says about its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimate {
    /// Extrapolated from its progress: it should end in about this long.
    EndsIn(Duration),
    /// From the shortest job of its type in this run: it is not done sooner than this (zero once
    /// that has passed).
    NotBefore(Duration),
}

/// The shortest duration seen per `job_type` among the jobs that succeeded in this run.
#[derive(Debug, Default)]
pub struct TypeDurations(HashMap<String, Duration>);

impl TypeDurations {
    /// Learns from a finished job's document (`begin_time` to `end_time`).
    pub fn record(&mut self, doc: &Job) {
        if doc.status != JobStatus::Success {
            return;
        }
        let (Some(kind), Some(begin), Some(end)) = (
            doc.job_type.as_deref(),
            doc.begin_time.as_deref().and_then(parse_time),
            doc.end_time().and_then(parse_time),
        ) else {
            return;
        };
        let Ok(took) = end.duration_since(begin) else {
            return;
        };
        self.0
            .entry(kind.to_owned())
            .and_modify(|d| *d = (*d).min(took))
            .or_insert(took);
    }

    pub fn shortest(&self, job_type: &str) -> Option<Duration> {
        self.0.get(job_type).copied()
    }
}

/// How long a pending job probably has left at `now`: from its progress when the document
/// gives one, else from the shortest duration of its `job_type` in this run. `None` without a
/// usable `begin_time` or any of those.
pub fn time_left(doc: &Job, now: SystemTime, types: &TypeDurations) -> Option<Estimate> {
    let begin = doc.begin_time.as_deref().and_then(parse_time)?;
    let age = now.duration_since(begin).ok()?;
    if let Some(done) = progress(doc) {
        // Linear: the rest takes as long per percent as the part done did. A tiny share (say
        // 1e-20 %) makes that astronomically long: saturate rather than overflow.
        let left = Duration::try_from_secs_f64(age.as_secs_f64() * ((1.0 - done) / done))
            .unwrap_or(Duration::MAX);
        return Some(Estimate::EndsIn(left));
    }
    let shortest = doc.job_type.as_deref().and_then(|t| types.shortest(t))?;
    Some(Estimate::NotBefore(shortest.saturating_sub(age)))
}

/// The share of the job that is done, strictly between 0 and 1: IMS `process_percent`, else
/// finished sub-jobs out of `sub_jobs_total` (or the sub-jobs listed).
pub fn progress(doc: &Job) -> Option<f64> {
    let percent = doc.entities.get("process_percent").and_then(|v| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    let share = match percent {
        Some(p) => p / 100.0,
        None => {
            let subs = &doc.entities.sub_jobs;
            let total = doc
                .entities
                .sub_jobs_total
                .map_or(subs.len() as f64, |t| t as f64);
            let done = subs.iter().filter(|s| s.status.is_terminal()).count() as f64;
            if total == 0.0 {
                return None;
            }
            done / total
        }
    };
    (share > 0.0 && share < 1.0).then_some(share)
}

/// The API's times: RFC 3339 in UTC, with or without fractions of a second.
fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(s)
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn policy(schedule: PollSchedule) -> PollPolicy {
        PollPolicy {
            interval: secs(2),
            max_interval: secs(30),
            schedule,
        }
    }

    fn doc(json: serde_json::Value) -> Job {
        Job::from_slice(json.to_string().as_bytes()).unwrap()
    }

    fn at(s: &str) -> SystemTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn api_times_parse_with_and_without_fractions() {
        let t = at("2016-04-25T20:04:34.604Z");
        assert_eq!(
            at("2016-04-25T20:04:36Z").duration_since(t).unwrap(),
            Duration::from_millis(1396)
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn progress_from_process_percent_or_sub_jobs() {
        let ims =
            doc(serde_json::json!({"status": "RUNNING", "entities": {"process_percent": 25}}));
        assert_eq!(progress(&ims), Some(0.25));
        let text =
            doc(serde_json::json!({"status": "RUNNING", "entities": {"process_percent": "50.0"}}));
        assert_eq!(progress(&text), Some(0.5));
        let batch = doc(
            serde_json::json!({"status": "RUNNING", "entities": {"sub_jobs_total": 4,
            "sub_jobs": [{"status": "SUCCESS"}, {"status": "RUNNING"}, {"status": "INIT"}]}}),
        );
        assert_eq!(
            progress(&batch),
            Some(0.25),
            "one of four, counting the unlisted one"
        );
        let none_done = doc(
            serde_json::json!({"status": "RUNNING", "entities": {"sub_jobs": [{"status": "RUNNING"}]}}),
        );
        assert_eq!(
            progress(&none_done),
            None,
            "0 % says nothing about the rate"
        );
        assert_eq!(
            progress(&doc(serde_json::json!({"status": "RUNNING"}))),
            None
        );
    }

    #[test]
    fn time_left_extrapolates_progress_from_begin_time() {
        let d = doc(
            serde_json::json!({"status": "RUNNING", "begin_time": "2024-01-01T00:00:00.000Z",
            "entities": {"process_percent": 20}}),
        );
        // 20 % in 60 s: 240 s to go.
        let left = time_left(&d, at("2024-01-01T00:01:00Z"), &TypeDurations::default());
        assert_eq!(left, Some(Estimate::EndsIn(secs(240))));
        let no_begin =
            doc(serde_json::json!({"status": "RUNNING", "entities": {"process_percent": 20}}));
        assert_eq!(
            time_left(
                &no_begin,
                at("2024-01-01T00:01:00Z"),
                &TypeDurations::default()
            ),
            None
        );
    }

    #[test]
    fn time_left_from_the_shortest_job_of_the_same_type() {
        let mut types = TypeDurations::default();
        for (begin, end) in [("00:00:00", "00:05:00"), ("00:01:00", "00:04:30")] {
            types.record(&doc(serde_json::json!({"status": "SUCCESS", "job_type": "createImage",
                "begin_time": format!("2024-01-01T{begin}Z"), "end_time": format!("2024-01-01T{end}Z")})));
        }
        types.record(&doc(
            serde_json::json!({"status": "FAIL", "job_type": "createImage",
            "begin_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-01T00:00:05Z"}),
        ));
        assert_eq!(
            types.shortest("createImage"),
            Some(secs(210)),
            "failures do not count"
        );
        let running = doc(
            serde_json::json!({"status": "RUNNING", "job_type": "createImage",
            "begin_time": "2024-01-01T00:10:00Z"}),
        );
        assert_eq!(
            time_left(&running, at("2024-01-01T00:11:00Z"), &types),
            Some(Estimate::NotBefore(secs(150)))
        );
        let other = doc(
            serde_json::json!({"status": "RUNNING", "job_type": "createServer",
            "begin_time": "2024-01-01T00:10:00Z"}),
        );
        assert_eq!(time_left(&other, at("2024-01-01T00:11:00Z"), &types), None);
    }

    #[test]
    fn adaptive_goes_straight_to_a_far_end_then_backs_off_from_interval() {
        let mut s = Schedule::new(policy(PollSchedule::Adaptive), 7);
        let ends_in = |s: u64| Some(Estimate::EndsIn(secs(s)));
        assert_eq!(s.next(ends_in(100)), secs(30), "capped at max_interval");
        assert_eq!(s.next(ends_in(70)), secs(30));
        assert_eq!(s.next(ends_in(10)), secs(10), "lands on the estimate");
        let after = s.next(ends_in(0));
        assert!(
            after <= secs(2) && after >= secs(2).mul_f64(0.95),
            "{after:?}"
        );
        let next = s.next(ends_in(1));
        assert!(
            next > secs(2),
            "an end estimated sooner than the back-off changes nothing: {next:?}"
        );
    }

    #[test]
    fn a_lower_bound_skips_ahead_without_starting_the_back_off_over() {
        let mut s = Schedule::new(policy(PollSchedule::Adaptive), 7);
        let plain: Vec<Duration> = Backoff::new(policy(PollSchedule::Adaptive), 7)
            .take(3)
            .collect();
        assert_eq!(s.next(None), plain[0]);
        assert_eq!(s.next(Some(Estimate::NotBefore(secs(20)))), secs(20));
        // Past the shortest duration of its type: the back-off goes on where it was.
        assert_eq!(s.next(Some(Estimate::NotBefore(Duration::ZERO))), plain[2]);
    }

    #[test]
    fn backoff_ignores_estimates() {
        let mut plain = Schedule::new(policy(PollSchedule::Backoff), 7);
        let mut reference = Backoff::new(policy(PollSchedule::Backoff), 7);
        for _ in 0..10 {
            assert_eq!(
                plain.next(Some(Estimate::EndsIn(secs(100)))),
                reference.next().unwrap()
            );
        }
    }

    proptest! {
        #[test]
        fn adaptive_delays_stay_within_the_policy(
            estimates in prop::collection::vec(prop::option::of((any::<bool>(), 0u64..10_000_000)), 1..40),
            seed: u64,
        ) {
            let p = policy(PollSchedule::Adaptive);
            let mut s = Schedule::new(p, seed);
            for e in estimates {
                let d = s.next(e.map(|(expected, ms)| match expected {
                    true => Estimate::EndsIn(Duration::from_millis(ms)),
                    false => Estimate::NotBefore(Duration::from_millis(ms)),
                }));
                prop_assert!(d <= p.max_interval);
                prop_assert!(d >= p.interval.mul_f64(0.95) - Duration::from_micros(1));
            }
        }
    }
}
