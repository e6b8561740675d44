//! The wait engine: one task per job, all concurrent, sharing a pacer per endpoint host and a
//! limit on requests in flight. Each task ends with a [`JobResult`] — data, never an error —
//! so one job's failure never hides another's, and every job of the plan is in the result,
//! whatever happened (deadline, fail-fast, signal).
//!
//! Everything runs on `tokio::time`, so tests with paused time run hours of waiting instantly.

pub mod backoff;
pub mod pacer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep_until, Instant};

use crate::cloud::client::{Client, ErrorClass, FetchError};
use crate::cloud::wire::Job;
use crate::spec::{Plan, PlannedJob};
use crate::verdict::{judge, Decision, SubJobCounts};
use backoff::Backoff;
use pacer::Pacers;

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
    /// The last job document the API returned.
    pub last: Option<Job>,
    pub polls: u32,
    pub waited: Duration,
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

/// Shared by every job task.
struct Shared<S> {
    source: S,
    pacers: Pacers,
    in_flight: Semaphore,
    start: Instant,
    deadline: Instant,
    stop_tx: watch::Sender<Option<Stop>>,
    fail_fast: bool,
    max_consecutive_errors: Option<u32>,
    request_timeout: Duration,
    events: Option<mpsc::UnboundedSender<Event>>,
    poll: crate::spec::PollPolicy,
}

/// Waits on every job of `plan`; returns one result per job, in plan order. A `Stop` sent on
/// `stop` cancels the jobs that have no verdict yet.
pub async fn wait_all<S: JobSource>(
    plan: &Plan,
    source: S,
    stop: watch::Sender<Option<Stop>>,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Vec<JobResult> {
    let start = Instant::now();
    let hosts: Vec<String> = plan
        .jobs
        .iter()
        .map(|j| crate::cloud::auth::host_header(&j.base))
        .collect();
    let shared = Arc::new(Shared {
        source,
        pacers: Pacers::new(hosts.iter().map(String::as_str), plan.rate_limit),
        in_flight: Semaphore::new(plan.max_in_flight),
        start,
        deadline: start + plan.timeout,
        stop_tx: stop,
        fail_fast: plan.fail_fast,
        max_consecutive_errors: plan.max_consecutive_errors,
        request_timeout: plan.request_timeout,
        events,
        poll: plan.poll,
    });
    let handles: Vec<_> = plan
        .jobs
        .iter()
        .cloned()
        .enumerate()
        .zip(hosts)
        .map(|((index, job), host)| {
            let shared = shared.clone();
            tokio::spawn(async move { JobTask::new(index, job, host, &shared).run(&shared).await })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.unwrap_or_else(|e| JobResult {
            outcome: Outcome::Errored,
            reason: format!("internal error in this job's task: {e}"),
            last: None,
            polls: 0,
            waited: start.elapsed(),
        }));
    }
    results
}

/// One job's wait, as a small state machine over polls.
struct JobTask {
    index: usize,
    job: PlannedJob,
    host: String,
    deadline: Instant,
    backoff: Backoff,
    last: Option<Job>,
    last_error: Option<String>,
    /// Retryable errors since the last job document.
    errors_in_a_row: u32,
    last_shown: Option<(String, SubJobCounts)>,
    /// The final decision read in a row so far and how often (for `confirm`).
    streak: Option<(Decision, u32)>,
    polls: u32,
    stop: watch::Receiver<Option<Stop>>,
}

/// Whether a final decision has been read often enough in a row.
enum Confirmation {
    Done,
    DoneAfter(u32),
    Again,
}

/// Why a guarded await did not complete.
enum Interrupted {
    Deadline,
    Stopped(Stop),
}

impl JobTask {
    fn new<S>(index: usize, job: PlannedJob, host: String, shared: &Shared<S>) -> JobTask {
        let deadline = match job.timeout {
            Some(t) => (shared.start + t).min(shared.deadline),
            None => shared.deadline,
        };
        JobTask {
            index,
            backoff: Backoff::new(shared.poll, fastrand::u64(..)),
            job,
            host,
            deadline,
            last: None,
            last_error: None,
            errors_in_a_row: 0,
            last_shown: None,
            streak: None,
            polls: 0,
            stop: shared.stop_tx.subscribe(),
        }
    }

    async fn run<S: JobSource>(mut self, shared: &Shared<S>) -> JobResult {
        let result = match self.poll_until_verdict(shared).await {
            Ok((outcome, reason)) => self.finish(shared, outcome, reason),
            // A job the API never described — refused, failed or hung requests alike — is not
            // pending but without a verdict: errored (exit 3).
            Err(Interrupted::Deadline) if self.last.is_none() => {
                let reason = self
                    .timed_out_reason(shared)
                    .replacen("timed out", "no verdict", 1);
                self.finish(shared, Outcome::Errored, reason)
            }
            Err(Interrupted::Deadline) => {
                let reason = self.timed_out_reason(shared);
                self.finish(shared, Outcome::TimedOut, reason)
            }
            Err(Interrupted::Stopped(stop)) => {
                let reason = match stop {
                    Stop::Signal(sig) => format!("cancelled by {}", sig.name()),
                    Stop::FailFast(by) => format!("cancelled: fail_fast after {by} failed"),
                };
                self.finish(shared, Outcome::Cancelled, reason)
            }
        };
        if result.outcome == Outcome::Failed && shared.fail_fast {
            shared.stop_tx.send_if_modified(|s| {
                s.is_none()
                    .then(|| *s = Some(Stop::FailFast(self.job.label())))
                    .is_some()
            });
        }
        result
    }

    /// Polls until the job has an outcome; `Err` when the deadline or a stop came first.
    async fn poll_until_verdict<S: JobSource>(
        &mut self,
        shared: &Shared<S>,
    ) -> Result<(Outcome, String), Interrupted> {
        loop {
            // The permit first: a slot taken while queueing for a permit would be spent late,
            // and queued requests would then leave together, above the rate.
            let permit = self.guard(shared.in_flight.acquire()).await?;
            self.guard(shared.pacers.acquire(&self.host)).await?;
            let timeout = shared
                .request_timeout
                .min(self.deadline.saturating_duration_since(Instant::now()));
            // Boxed: a fetch future is about a kilobyte, and only the requests in flight need
            // one; inline, every idle job task would carry it.
            let fetched = self
                .guard(Box::pin(shared.source.fetch(&self.job, timeout)))
                .await?;
            drop(permit);
            self.polls += 1;
            if let Some(pacer) = shared.pacers.get(&self.host) {
                match &fetched {
                    Err(e @ FetchError::Http { status: 429, .. }) => {
                        pacer.throttled(e.retry_after())
                    }
                    Err(FetchError::Transport(_)) => {}
                    _ => pacer.answered(),
                }
            }
            let mut retry_after: Option<Duration> = None;
            match fetched {
                Ok(doc) => {
                    self.last_error = None;
                    self.errors_in_a_row = 0;
                    let verdict = judge(&self.job.criteria, &doc);
                    tracing::debug!(job = %self.job.label(), status = %doc.status, poll = self.polls, decision = ?verdict.decision, "polled");
                    if verdict.decision == Decision::Pending {
                        self.show_change(shared, &doc);
                    }
                    self.last = Some(doc);
                    let outcome = match verdict.decision {
                        Decision::Pending => None,
                        Decision::Succeeded => Some(Outcome::Succeeded),
                        Decision::Failed => Some(Outcome::Failed),
                        Decision::Errored => Some(Outcome::Errored),
                    };
                    match (outcome, self.confirmed(verdict.decision)) {
                        (Some(outcome), Confirmation::Done) => {
                            return Ok((outcome, verdict.reason))
                        }
                        (Some(outcome), Confirmation::DoneAfter(n)) => {
                            return Ok((
                                outcome,
                                format!("{} (read {n} times in a row)", verdict.reason),
                            ))
                        }
                        // A terminal read still to be confirmed: read again soon.
                        (Some(_), Confirmation::Again) => retry_after = Some(shared.poll.interval),
                        (None, _) => {}
                    }
                }
                Err(err) => {
                    tracing::debug!(job = %self.job.label(), error = %err, "poll failed");
                    match err.class() {
                        ErrorClass::Fatal => return Ok((Outcome::Errored, err.to_string())),
                        ErrorClass::NotFound
                            if shared.start.elapsed() >= self.job.criteria.not_found_grace =>
                        {
                            return Ok((
                                Outcome::Errored,
                                not_found_reason(&err, self.job.criteria.not_found_grace),
                            ))
                        }
                        ErrorClass::NotFound | ErrorClass::Retryable => {}
                    }
                    if err.class() == ErrorClass::Retryable {
                        self.errors_in_a_row += 1;
                        if shared
                            .max_consecutive_errors
                            .is_some_and(|max| self.errors_in_a_row >= max)
                        {
                            let reason = format!("{} errors in a row (retry.max_consecutive_errors); the last: {err}", self.errors_in_a_row);
                            return Ok((Outcome::Errored, reason));
                        }
                    }
                    retry_after = err.retry_after();
                    self.last_error = Some(err.to_string());
                }
            }
            let delay = match (self.streak, retry_after) {
                // Confirming: the base interval, not the grown back-off.
                (Some(_), Some(confirm_in)) => confirm_in,
                (_, retry_after) => {
                    let delay = self.backoff.next().unwrap_or(shared.poll.max_interval);
                    retry_after.map_or(delay, |r| r.max(delay))
                }
            };
            let wake = Instant::now() + delay;
            self.guard(sleep_until(wake.min(self.deadline))).await?;
            if Instant::now() >= self.deadline {
                return Err(Interrupted::Deadline);
            }
        }
    }

    /// Counts `decision` into the streak of identical final reads (`confirm`).
    fn confirmed(&mut self, decision: Decision) -> Confirmation {
        if decision == Decision::Pending {
            self.streak = None;
            return Confirmation::Again;
        }
        let count = match self.streak {
            Some((d, n)) if d == decision => n + 1,
            _ => 1,
        };
        self.streak = Some((decision, count));
        match (self.job.criteria.confirm, count) {
            (1, _) => Confirmation::Done,
            (want, n) if n >= want => Confirmation::DoneAfter(n),
            _ => Confirmation::Again,
        }
    }

    /// Runs `fut` unless the deadline passes or a stop arrives first.
    async fn guard<F: Future>(&self, fut: F) -> Result<F::Output, Interrupted> {
        let mut stop = self.stop.clone();
        let current = stop.borrow_and_update().clone();
        if let Some(reason) = current {
            return Err(Interrupted::Stopped(reason));
        }
        tokio::select! {
            biased;
            // If the sender were gone no stop could come: that branch then never completes.
            reason = async {
                match stop.wait_for(Option::is_some).await.ok().and_then(|r| r.clone()) {
                    Some(reason) => reason,
                    None => std::future::pending().await,
                }
            } => Err(Interrupted::Stopped(reason)),
            _ = sleep_until(self.deadline) => Err(Interrupted::Deadline),
            out = fut => Ok(out),
        }
    }

    fn show_change<S>(&mut self, shared: &Shared<S>, doc: &Job) {
        let now = (doc.status.as_str().to_owned(), SubJobCounts::of(doc));
        if self.last_shown.as_ref() != Some(&now) {
            if let Some(tx) = &shared.events {
                let _ = tx.send(Event::Changed {
                    index: self.index,
                    status: now.0.clone(),
                    sub_jobs: now.1,
                });
            }
            self.last_shown = Some(now);
        }
    }

    fn timed_out_reason<S>(&self, shared: &Shared<S>) -> String {
        let waited =
            humantime::format_duration(Duration::from_secs(shared.start.elapsed().as_secs()));
        let state = match (&self.last, &self.last_error) {
            (_, Some(err)) => format!("last poll failed: {err}"),
            (Some(doc), None) => format!("still {}", judge(&self.job.criteria, doc).reason),
            (None, None) => {
                "the API never answered (the last request was still pending)".to_owned()
            }
        };
        format!("timed out after {waited}: {state}")
    }

    fn finish<S>(&self, shared: &Shared<S>, outcome: Outcome, reason: String) -> JobResult {
        tracing::info!(job = %self.job.label(), outcome = ?outcome, polls = self.polls, reason = %reason, "finished");
        if let Some(tx) = &shared.events {
            let _ = tx.send(Event::Finished {
                index: self.index,
                outcome,
                reason: reason.clone(),
            });
        }
        JobResult {
            outcome,
            reason,
            last: self.last.clone(),
            polls: self.polls,
            waited: shared.start.elapsed(),
        }
    }
}

fn not_found_reason(err: &FetchError, grace: Duration) -> String {
    format!(
        "the API does not know this job id after {} ({err}); finished jobs are deleted 1 day after they end",
        humantime::format_duration(grace)
    )
}

#[cfg(test)]
mod tests;
