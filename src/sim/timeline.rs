//! The pure timeline evaluation: what a scenario job looks like at a moment `t` after the
//! simulator started (its status, begin and end offsets, sub-jobs, `process_percent`), whether it
//! is still hidden, since when it has been observably terminal, and how the API writes times.
//!
//! It is its own module, apart from the HTTP side in `server`, because it is shared: the server
//! formats its documents and statistics from it, the IAM writes token times with [`format_time`].
//! Keeping it free of sockets, locks and clocks (`t` is an argument) means whoever needs the
//! timeline does not depend on the server, and the rules can be unit-tested on their own.

use std::time::{Duration, SystemTime};

use super::scenario::{ends_at, is_terminal, Job, Step};

/// A job's state at one moment; offsets are relative to the simulator's start.
#[derive(Debug)]
pub(crate) struct JobState<'a> {
    pub(crate) status: &'a str,
    /// When the job's first status began.
    pub(crate) begin: Duration,
    /// When the current terminal status began; `None` while the status is not terminal.
    pub(crate) end: Option<Duration>,
    /// The sub-jobs' states, in scenario order.
    pub(crate) sub_jobs: Vec<JobState<'a>>,
    /// `process_percent`, for jobs with `progress: true`.
    pub(crate) percent: Option<u32>,
}

/// The timeline entry in force at `t`, and the offset where it began. The last entry stays forever.
fn timeline_at(steps: &[Step], t: Duration) -> (&Step, Duration) {
    let mut began = Duration::ZERO;
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.iter().enumerate() {
        match step.duration {
            Some(d) if i < last => {
                let ends = began.saturating_add(d);
                if t < ends {
                    return (step, began);
                }
                began = ends;
            }
            _ => return (step, began),
        }
    }
    unreachable!("validated timelines are never empty")
}

/// The state of `job` at `t` after the simulator started.
///
/// With a timeline: the entry in force; `end` is where it began if it is terminal.
/// Without one (derived from sub-jobs): `RUNNING` while any sub-job is not terminal, then `SUCCESS`
/// if every sub-job is `SUCCESS`, else `FAIL`, ending when the last sub-job ended.
pub(crate) fn job_state(job: &Job, t: Duration) -> JobState<'_> {
    let sub_jobs: Vec<JobState<'_>> = job.sub_jobs.iter().map(|s| job_state(s, t)).collect();
    match &job.timeline {
        Some(steps) => {
            let (step, began) = timeline_at(steps, t);
            let percent = job.progress.then(|| ends_at(steps)).flatten().map(|ends| {
                match is_terminal(&step.status) {
                    true => 100,
                    false => (t.as_secs_f64() / ends.as_secs_f64() * 100.0).min(99.0) as u32,
                }
            });
            JobState {
                status: &step.status,
                begin: Duration::ZERO,
                end: is_terminal(&step.status).then_some(began),
                sub_jobs,
                percent,
            }
        }
        None => {
            let begin = sub_jobs
                .iter()
                .map(|s| s.begin)
                .min()
                .unwrap_or(Duration::ZERO);
            let (status, end) = if sub_jobs.iter().any(|s| s.end.is_none()) {
                ("RUNNING", None)
            } else {
                let end = sub_jobs.iter().filter_map(|s| s.end).max().unwrap_or(begin);
                if sub_jobs.iter().all(|s| s.status == "SUCCESS") {
                    ("SUCCESS", Some(end))
                } else {
                    ("FAIL", Some(end))
                }
            };
            JobState {
                status,
                begin,
                end,
                sub_jobs,
                percent: None,
            }
        }
    }
}

/// Whether a top-level job is hidden (answered with 400 `Common.0011`) at `t`.
pub(crate) fn is_hidden(job: &Job, t: Duration) -> bool {
    job.not_found_for.is_some_and(|d| t < d)
}

/// Since when a top-level job has been *observably* terminal at `t`: the later of the moment it
/// became terminal and the moment it stopped being hidden. `None` if it is not terminal (or still
/// hidden) at `t`.
pub(crate) fn terminal_since(job: &Job, t: Duration) -> Option<Duration> {
    if is_hidden(job, t) {
        return None;
    }
    let end = job_state(job, t).end?;
    Some(end.max(job.not_found_for.unwrap_or(Duration::ZERO)))
}

/// ISO-8601 UTC with milliseconds and `Z`, as the API writes times.
pub(crate) fn format_time(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn job(yaml: &str) -> Job {
        Scenario::from_yaml(&format!("jobs: [ {yaml} ]"))
            .unwrap()
            .jobs
            .remove(0)
    }

    #[test]
    fn status_follows_the_timeline_and_the_last_entry_stays() {
        let j = job("{ id: j, timeline: [ { status: INIT, for: 1s }, { status: RUNNING, for: 5s }, { status: SUCCESS } ] }");
        let at = |t: f64| job_state(&j, secs(t));
        assert_eq!(at(0.0).status, "INIT");
        assert_eq!(at(0.999).status, "INIT");
        assert_eq!(at(1.0).status, "RUNNING");
        assert_eq!(at(5.999).status, "RUNNING");
        assert_eq!(at(6.0).status, "SUCCESS");
        assert_eq!(at(1e6).status, "SUCCESS");
        assert_eq!(at(3.0).end, None);
        assert_eq!(at(7.0).end, Some(secs(6.0)));
        assert_eq!(at(7.0).begin, Duration::ZERO);
    }

    #[test]
    fn the_last_entrys_for_is_ignored_and_zero_durations_are_skipped() {
        let j =
            job("{ id: j, timeline: [ { status: INIT, for: 0s }, { status: FAIL, for: 1s } ] }");
        assert_eq!(job_state(&j, secs(0.0)).status, "FAIL");
        assert_eq!(job_state(&j, secs(100.0)).status, "FAIL");
        assert_eq!(job_state(&j, secs(100.0)).end, Some(Duration::ZERO));
    }

    #[test]
    fn unknown_statuses_pass_through_and_are_not_terminal() {
        let j =
            job("{ id: j, timeline: [ { status: PENDING_PAYMENT, for: 1s }, { status: WEIRD } ] }");
        assert_eq!(job_state(&j, secs(0.5)).status, "PENDING_PAYMENT");
        let s = job_state(&j, secs(2.0));
        assert_eq!((s.status, s.end), ("WEIRD", None));
    }

    #[test]
    fn end_time_only_while_the_current_status_is_terminal() {
        // FAIL then RUNNING again (odd, but allowed): the end disappears.
        let j = job("{ id: j, timeline: [ { status: FAIL, for: 1s }, { status: RUNNING, for: 1s }, { status: SUCCESS } ] }");
        assert_eq!(job_state(&j, secs(0.5)).end, Some(Duration::ZERO));
        assert_eq!(job_state(&j, secs(1.5)).end, None);
        assert_eq!(job_state(&j, secs(2.5)).end, Some(secs(2.0)));
    }

    #[test]
    fn derived_status_from_sub_jobs() {
        let j = job("{ id: p, sub_jobs: [
                { id: a, timeline: [ { status: RUNNING, for: 1s }, { status: SUCCESS } ] },
                { id: b, timeline: [ { status: INIT, for: 2s }, { status: SUCCESS } ] } ] }");
        let s = job_state(&j, secs(0.5));
        assert_eq!((s.status, s.end), ("RUNNING", None));
        let s = job_state(&j, secs(1.5));
        assert_eq!((s.status, s.end), ("RUNNING", None));
        assert_eq!(s.sub_jobs[0].status, "SUCCESS");
        let s = job_state(&j, secs(2.5));
        assert_eq!((s.status, s.end), ("SUCCESS", Some(secs(2.0))));
        assert_eq!(s.sub_jobs[1].end, Some(secs(2.0)));
    }

    #[test]
    fn derived_status_fails_when_any_sub_job_failed() {
        let j = job("{ id: p, sub_jobs: [
                { id: a, timeline: [ { status: RUNNING, for: 3s }, { status: SUCCESS } ] },
                { id: b, timeline: [ { status: RUNNING, for: 1s }, { status: FAIL } ] } ] }");
        // b failed at 1s, but a still runs: the parent is RUNNING until both are terminal
        assert_eq!(job_state(&j, secs(2.0)).status, "RUNNING");
        let s = job_state(&j, secs(4.0));
        assert_eq!((s.status, s.end), ("FAIL", Some(secs(3.0))));
    }

    #[test]
    fn explicit_timeline_wins_over_sub_jobs() {
        let j = job("{ id: p, status: RUNNING, sub_jobs: [ { id: a, status: SUCCESS } ] }");
        let s = job_state(&j, secs(10.0));
        assert_eq!(s.status, "RUNNING");
        assert_eq!(s.sub_jobs[0].status, "SUCCESS");
    }

    #[test]
    fn derivation_recurses_through_nested_sub_jobs() {
        let j = job("{ id: batch, sub_jobs: [
                { id: mid, sub_jobs: [
                    { id: leaf1, timeline: [ { status: RUNNING, for: 1s }, { status: SUCCESS } ] },
                    { id: leaf2, timeline: [ { status: RUNNING, for: 2s }, { status: FAIL } ] } ] },
                { id: other, status: SUCCESS } ] }");
        let s = job_state(&j, secs(1.5));
        assert_eq!(s.status, "RUNNING");
        assert_eq!(s.sub_jobs[0].status, "RUNNING");
        assert_eq!(s.sub_jobs[0].sub_jobs[0].status, "SUCCESS");
        let s = job_state(&j, secs(2.5));
        assert_eq!((s.status, s.end), ("FAIL", Some(secs(2.0))));
        assert_eq!(
            (s.sub_jobs[0].status, s.sub_jobs[0].end),
            ("FAIL", Some(secs(2.0)))
        );
    }

    #[test]
    fn hidden_jobs_and_terminal_since() {
        let j = job("{ id: j, not_found_for: 2s, timeline: [ { status: RUNNING, for: 1s }, { status: SUCCESS } ] }");
        assert!(is_hidden(&j, secs(1.9)));
        assert!(!is_hidden(&j, secs(2.0)));
        assert_eq!(terminal_since(&j, secs(1.5)), None); // terminal but not visible yet
        assert_eq!(terminal_since(&j, secs(2.5)), Some(secs(2.0)));
        let j = job("{ id: j, timeline: [ { status: RUNNING, for: 1s }, { status: SUCCESS } ] }");
        assert_eq!(terminal_since(&j, secs(0.5)), None);
        assert_eq!(terminal_since(&j, secs(5.0)), Some(secs(1.0)));
    }
}
