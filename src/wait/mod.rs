//! The wait engine: every job of the plan waited on concurrently, with a pacer per endpoint host
//! and a limit on requests in flight. Each job ends with a [`JobResult`] — data, never an error —
//! so one job's failure never hides another's, and every job of the plan is in the result,
//! whatever happened (deadline, fail-fast, signal).
//!
//! One driver (`driver.rs`) runs all jobs from a timer queue: a waiting job is a small state
//! (`job.rs`), not a task, and polls that fall due together leave in one wake-up. That is what
//! keeps ten thousand jobs in a few megabytes and a poll's CPU cost near the request's own.
//!
//! Everything runs on `tokio::time`, so tests with paused time run hours of waiting instantly.

pub mod backoff;
mod driver;
mod job;
pub use job::cancelled_reason;
pub mod pacer;
pub mod schedule;

use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
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
        async move { self.get_job(&url, timeout).await }
    }
}

/// How one job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Met its criteria.
    Succeeded,
    /// Reached a state that violates its criteria.
    Failed,
    /// An API, auth or network error left it without a verdict.
    Errored,
    /// Its deadline passed while it was still pending.
    TimedOut,
    /// The wait was stopped (signal or fail-fast) before it had a verdict.
    Cancelled,
}

impl Outcome {
    /// The name the report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// Why the whole wait is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (130) or SIGTERM (143).
    Signal(Signal),
    /// `fail_fast`, after this job failed.
    FailFast(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
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

/// Waits on every job of `plan`; returns one result per job, in plan order. A `Stop` sent on
/// `stop` cancels the jobs that have no verdict yet.
pub async fn wait_all<S: JobSource>(
    plan: &Plan,
    source: S,
    stop: watch::Sender<Option<Stop>>,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Vec<JobResult> {
    wait_all_from(plan, source, Instant::now(), stop, events).await
}

/// [`wait_all`] for a wait that began at `start` (deadlines count from there: the time spent
/// finding the project before the first poll is part of the wait).
pub async fn wait_all_from<S: JobSource>(
    plan: &Plan,
    source: S,
    start: Instant,
    stop: watch::Sender<Option<Stop>>,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Vec<JobResult> {
    driver::Driver::new(plan, &source, start, stop, events)
        .run()
        .await
}

#[cfg(test)]
mod tests;
