//! When to poll a job next (`poll.schedule`).
//!
//! The plain back-off polls densely while a job is young and sparsely when it is old — the wrong
//! way round for jobs that take minutes: most of its requests go out when the job cannot be done
//! yet. The job document often says more. `begin_time` gives the job's age; `process_percent`
//! (IMS) and the share of finished sub-jobs give its progress, so `age × (1 − p) / p` estimates
//! the time left; and jobs of the same `job_type` that ended (in this run, or in earlier runs
//! through the duration cache: `durations.rs`) say in which range of ages such a job ends.
//!
//! With an estimated end further away than the back-off's next delay, the adaptive schedule
//! polls sparsely — straight to the estimated end, in steps of at most `max_interval` — and
//! from there on follows the back-off again, starting over at `interval`. Before the shortest
//! duration of its type a job is skipped ahead to it. Inside its type's range (and a margin past
//! the longest, since the range only grows as jobs end) the job is where jobs of its type end:
//! the hazard is high, so it is polled densely — every twentieth of its age ([`DENSE_SHARE`]), or
//! every `interval` when that is longer, so a wide range of long jobs does not cost a poll every
//! `interval` for minutes. Past that, or with no estimate at all, it is the back-off.
//!
//! Every delay stays within `max_interval`, so the bound on how late a finished job is noticed
//! holds whatever the estimate; a wrong estimate (or a poisoned cache) only costs requests or
//! lag within that bound. Ages compare the API's clock with this machine's; a skew of seconds
//! shifts estimates by as much, inside the same bound.

use std::time::{Duration, SystemTime};

use super::backoff::Backoff;
pub use super::durations::TypeDurations;
use crate::cloud::wire::Job;
use crate::spec::raw::PollSchedule;
use crate::spec::PollPolicy;

/// Inside its type's range, a job is polled every 1/`DENSE_SHARE` of its age (never more often
/// than every `interval`).
pub const DENSE_SHARE: u32 = 20;

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
        let Some(estimate) = estimate.filter(|_| self.policy.schedule == PollSchedule::Adaptive)
        else {
            return self.backoff.next().unwrap_or(self.policy.max_interval);
        };
        if let Estimate::Likely(period) = estimate {
            // Where jobs of its type end: dense, and the back-off starts over from here.
            self.backoff.restart();
            let dense = self.backoff.next().unwrap_or(self.policy.interval);
            return dense.max(period).min(self.policy.max_interval);
        }
        let backoff = self.backoff.next().unwrap_or(self.policy.max_interval);
        let left = match estimate {
            Estimate::EndsIn(left) | Estimate::NotBefore(left) => left,
            Estimate::Likely(_) => unreachable!("handled above"),
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
    /// From the shortest duration of its type: it is not done sooner than this (zero once that
    /// has passed).
    NotBefore(Duration),
    /// Its age is inside the range its type's jobs end in: poll about this often.
    Likely(Duration),
}

/// How long a pending job probably has left at `now`: from its progress when the document
/// gives one, else from the durations known for its `job_type`. `None` without a usable
/// `begin_time`, or without either, or once the job is older than its type's range.
pub fn time_left(
    doc: &Job,
    now: SystemTime,
    types: &TypeDurations,
    poll: &PollPolicy,
) -> Option<Estimate> {
    let begin = doc.begin_time.as_deref().and_then(parse_time)?;
    let age = now.duration_since(begin).ok()?;
    if let Some(done) = progress(doc) {
        // Linear: the rest takes as long per percent as the part done did. A tiny share (say
        // 1e-20 %) makes that astronomically long: saturate rather than overflow.
        let left = Duration::try_from_secs_f64(age.as_secs_f64() * ((1.0 - done) / done))
            .unwrap_or(Duration::MAX);
        return Some(Estimate::EndsIn(left));
    }
    let range = doc.job_type.as_deref().and_then(|t| types.range(t))?;
    if age < range.shortest {
        return Some(Estimate::NotBefore(range.shortest - age));
    }
    let width = range.longest - range.shortest;
    // Past the longest seen by a little: in a cohort started together the longest so far is
    // just behind the jobs still running.
    let margin = (width / 4).max(poll.interval.saturating_mul(2));
    // Dense, relative to the job's age: a twentieth of it (at least `interval`, which the
    // schedule applies). A lag of 5 % of the time waited is what an operator notices as "at
    // once", and it keeps the polls of a wide range bounded: at interval 1 s and ages 20-120 s,
    // about twice the back-off's (for a quarter of its median lag), not a poll every second.
    let period = age / DENSE_SHARE;
    (age <= range.longest.saturating_add(margin)).then_some(Estimate::Likely(period))
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

use super::durations::parse_time;

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
        let p = policy(PollSchedule::Adaptive);
        let left = time_left(
            &d,
            at("2024-01-01T00:01:00Z"),
            &TypeDurations::default(),
            &p,
        );
        assert_eq!(left, Some(Estimate::EndsIn(secs(240))));
        let no_begin =
            doc(serde_json::json!({"status": "RUNNING", "entities": {"process_percent": 20}}));
        assert_eq!(
            time_left(
                &no_begin,
                at("2024-01-01T00:01:00Z"),
                &TypeDurations::default(),
                &p
            ),
            None
        );
    }

    #[test]
    fn time_left_from_the_range_of_the_same_type() {
        let p = policy(PollSchedule::Adaptive);
        let mut types = TypeDurations::default();
        for (begin, end) in [("00:00:00", "00:05:00"), ("00:01:00", "00:04:30")] {
            types.record(&doc(serde_json::json!({"status": "SUCCESS", "job_type": "createImage",
                "begin_time": format!("2024-01-01T{begin}Z"), "end_time": format!("2024-01-01T{end}Z")})));
        }
        // Range 210-300 s: before it a lower bound, inside it (and a quarter of its width past
        // it) dense, every twentieth of the job's age, then nothing.
        let running = doc(
            serde_json::json!({"status": "RUNNING", "job_type": "createImage",
            "begin_time": "2024-01-01T00:10:00Z"}),
        );
        let at_age = |age: &str| time_left(&running, at(&format!("2024-01-01T{age}Z")), &types, &p);
        assert_eq!(at_age("00:11:00"), Some(Estimate::NotBefore(secs(150))));
        assert_eq!(at_age("00:14:00"), Some(Estimate::Likely(secs(12))));
        assert_eq!(
            at_age("00:15:22"),
            Some(Estimate::Likely(Duration::from_millis(16_100)))
        );
        assert_eq!(at_age("00:15:23"), None, "past the range and its margin");
        let other = doc(
            serde_json::json!({"status": "RUNNING", "job_type": "createServer",
            "begin_time": "2024-01-01T00:10:00Z"}),
        );
        assert_eq!(
            time_left(&other, at("2024-01-01T00:11:00Z"), &types, &p),
            None
        );
    }

    #[test]
    fn inside_the_range_of_its_type_a_job_is_polled_densely() {
        let mut s = Schedule::new(policy(PollSchedule::Adaptive), 7);
        for _ in 0..7 {
            s.next(None);
        }
        assert_eq!(s.next(None), secs(30), "the back-off is at its cap");
        let dense = s.next(Some(Estimate::Likely(Duration::ZERO)));
        assert!(
            dense <= secs(2) && dense >= secs(2).mul_f64(0.95),
            "{dense:?}"
        );
        assert_eq!(
            s.next(Some(Estimate::Likely(secs(5)))),
            secs(5),
            "a wide range: fewer polls"
        );
        assert_eq!(s.next(Some(Estimate::Likely(secs(500)))), secs(30));
        let after = s.next(None);
        assert!(
            after <= secs(3),
            "past the range: back off from interval again: {after:?}"
        );
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
            estimates in prop::collection::vec(prop::option::of((0u8..3, 0u64..10_000_000)), 1..40),
            seed: u64,
        ) {
            let p = policy(PollSchedule::Adaptive);
            let mut s = Schedule::new(p, seed);
            for e in estimates {
                let d = s.next(e.map(|(kind, ms)| match kind {
                    0 => Estimate::EndsIn(Duration::from_millis(ms)),
                    1 => Estimate::NotBefore(Duration::from_millis(ms)),
                    _ => Estimate::Likely(Duration::from_millis(ms)),
                }));
                prop_assert!(d <= p.max_interval);
                prop_assert!(d >= p.interval.mul_f64(0.95) - Duration::from_micros(1));
            }
        }
    }
}
