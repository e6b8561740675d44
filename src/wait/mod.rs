//! The wait engine: every job of the plan waited on concurrently, with a pacer per endpoint host
//! and a limit on requests in flight. Each job ends with a [`JobResult`] — data, never an error —
//! so one job's failure never hides another's, and every job of the plan is in the result,
//! whatever happened (deadline, fail-fast, signal). A result becomes the job's report entry the
//! moment the job ends, so a finished job's last document does not outlive it: ten thousand
//! documents, their results and the report never sit in memory together.
//!
//! One driver (`driver.rs`) runs all jobs from a timer queue: a waiting job is a small state
//! (`job.rs`), not a task, and polls that fall due together leave in one wake-up. That is what
//! keeps ten thousand jobs in a few megabytes and a poll's CPU cost near the request's own.
//!
//! Everything runs on `tokio::time`, so tests with paused time run hours of waiting instantly.

pub mod backoff;
mod driver;
pub(crate) use driver::{unreachable_reason, warn_unreachable};
pub mod durations;
mod job;
pub use job::cancelled_by;
pub mod pacer;
pub mod schedule;

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::cloud::client::{Client, FetchError};
use crate::cloud::wire::Job;
use crate::spec::{Plan, PlannedJob};
use crate::verdict::{Aggregate, SubJobCounts};

/// Where job documents come from: the real client, or a fake in tests.
pub trait JobSource: Send + Sync + 'static {
    fn fetch(
        &self,
        job: &PlannedJob,
        timeout: Duration,
    ) -> impl Future<Output = Result<Job, FetchError>> + Send;
}

impl JobSource for Client {
    fn fetch(
        &self,
        job: &PlannedJob,
        timeout: Duration,
    ) -> impl Future<Output = Result<Job, FetchError>> + Send {
        let url = job.url(self.project_id());
        let service = job.service.clone();
        async move { self.get_job(&url, |body| service.read(body), timeout).await }
    }
}

pub use crate::exit::Signal;
pub use crate::report::Outcome;

/// Why the whole wait was stopped before every job had a verdict (the engine's own; callers
/// learn of it from [`RunOutcome::end`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT (130) or SIGTERM (143).
    Signal(Signal),
    /// `fail_fast`, after this job failed.
    FailFast(String),
}

/// How a wait ended as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every job has its verdict (or its deadline passed).
    Completed,
    /// A signal stopped it; the jobs without a verdict were cancelled.
    Interrupted(Signal),
    /// `fail_fast`: this job failed and the others were cancelled.
    FailFast(String),
}

/// What a wait returns: one report entry per job of the plan, in plan order, and how it ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub results: Vec<crate::report::JobReport>,
    pub end: End,
}

impl RunOutcome {
    /// The signal that stopped the wait, if one did.
    pub fn signal(&self) -> Option<Signal> {
        match self.end {
            End::Interrupted(sig) => Some(sig),
            _ => None,
        }
    }
}

/// The end of one job's wait.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub outcome: Outcome,
    pub reason: String,
    /// The last job document the API returned, without its `entities`: what the report shows of
    /// them is in `summary`. (Ten thousand documents with their sub-jobs would be megabytes kept
    /// for nothing; boxed, because a result without one should not carry its size.)
    pub last: Option<Box<Job>>,
    /// Sub-job counts, entity ids and failures of the last document.
    pub summary: Aggregate,
    pub polls: u32,
    pub waited: Duration,
}

impl JobResult {
    /// This result as the report's entry for `job`. Takes the result by value: its document is
    /// dropped as soon as the entry is made (the engine makes it when the job ends).
    pub fn into_report(self, job: &PlannedJob) -> crate::report::JobReport {
        let agg = self.summary;
        let (status, job_type, begin_time, end_time, error_code, fail_reason) = match self.last {
            Some(doc) => {
                let doc = *doc;
                (
                    Some(doc.status.as_str().to_owned()),
                    doc.job_type,
                    doc.begin_time.filter(|s| !s.is_empty()),
                    doc.end_time.filter(|s| !s.is_empty()),
                    doc.error_code,
                    doc.fail_reason,
                )
            }
            None => (None, None, None, None, None, None),
        };
        crate::report::JobReport {
            name: job.name.clone(),
            id: job.id.clone(),
            service: job.service.clone(),
            outcome: self.outcome,
            reason: self.reason,
            status,
            job_type,
            begin_time,
            end_time,
            error_code,
            fail_reason,
            polls: self.polls,
            waited_seconds: crate::report::round_seconds(self.waited),
            sub_jobs: agg.sub_jobs,
            entities: agg.entities,
            failures: agg.failures,
        }
    }

    /// The result of a job that was never polled (the wait ended before it began).
    pub fn unpolled(outcome: Outcome, reason: String, waited: Duration) -> JobResult {
        JobResult {
            outcome,
            reason,
            last: None,
            summary: Aggregate::default(),
            polls: 0,
            waited,
        }
    }
}

/// Progress, for whoever shows it.
#[derive(Debug, Clone)]
pub enum Event {
    /// A job's status or sub-job progress changed.
    Changed {
        index: usize,
        status: String,
        sub_jobs: SubJobCounts,
    },
    /// A job has its outcome.
    Finished {
        index: usize,
        outcome: Outcome,
        reason: String,
    },
}

/// Waits on every job of `plan`; one result per job, in plan order. A signal sent on
/// `interrupts` cancels the jobs that have no verdict yet.
pub async fn wait_all<S: JobSource>(
    plan: &Plan,
    source: S,
    interrupts: watch::Receiver<Option<Signal>>,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> RunOutcome {
    wait_all_from(plan, source, Instant::now(), interrupts, events).await
}

/// [`wait_all`] for a wait that began at `start` (deadlines count from there: the time spent
/// finding the project before the first poll is part of the wait).
pub async fn wait_all_from<S: JobSource>(
    plan: &Plan,
    source: S,
    start: Instant,
    interrupts: watch::Receiver<Option<Signal>>,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> RunOutcome {
    // The duration cache: read before the first poll, written after the last (tiny files; a
    // missing or read-only one only costs requests).
    let cache = plan
        .duration_cache
        .as_deref()
        .filter(|_| plan.poll.schedule == crate::spec::raw::PollSchedule::Adaptive);
    let types = cache.map_or_else(durations::TypeDurations::default, |path| {
        durations::TypeDurations::load(path, std::time::SystemTime::now())
    });
    let (outcome, types) = driver::Driver::new(plan, &source, start, interrupts, events, types)
        .run()
        .await;
    if let Some(path) = cache {
        types.save(path, std::time::SystemTime::now());
    }
    outcome
}

#[cfg(test)]
mod tests;
