//! One job's wait as a state machine that the driver steps: it is told what a poll returned and
//! answers what comes next — a verdict, or how long until the next poll. No I/O and no timers
//! here (the driver owns those), so a job costs a couple of hundred bytes while it waits, and the
//! rules — criteria, `confirm`, the error budget, the not-found grace — read top to bottom.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::schedule::{time_left, Schedule, TypeDurations};
use super::{JobResult, Outcome, Stop};
use crate::cloud::client::{ErrorClass, FetchError};
use crate::cloud::wire::{Entities, Job, JobStatus};
use crate::sanitize::{cap, Clean, MAX_TEXT};
use crate::spec::raw::PollSchedule;
use crate::spec::{Plan, PlannedJob, PollPolicy};
use crate::verdict::{aggregate, judge, Aggregate, Decision, SubJobCounts};

/// Where a job is in its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Sleeping until its next poll (the timer queue holds its one wake-up).
    Waiting,
    /// Due, queued for a request slot of its host.
    Ready,
    /// A request is out.
    InFlight,
}

/// What a poll led to.
#[derive(Debug, PartialEq)]
pub(super) enum Next {
    Verdict(Outcome, String),
    PollIn(Duration),
}

/// What the run has seen so far, for the adaptive schedule.
pub(super) struct Seen<'a> {
    /// This machine's wall clock now (moved by `tokio::time` in tests).
    pub now: SystemTime,
    pub types: &'a TypeDurations,
}

pub(super) struct JobState {
    pub phase: Phase,
    pub deadline: Instant,
    /// When its one poll timer in the queue is due (while `Waiting`): a timer for any other
    /// instant is stale (the poll was moved sooner).
    pub poll_at: Instant,
    pub polls: u32,
    schedule: Schedule,
    /// Boxed: most of a waiting job's size is this document, absent until the first answer.
    /// Without its sub-jobs when `digest` is set.
    last: Option<Box<Job>>,
    /// What a pending batch job's sub-jobs amount to, kept instead of them: a batch document is
    /// mostly sub-jobs, and ten thousand of them add up to megabytes while they run.
    digest: Option<Box<Digest>>,
    last_error: Option<String>,
    /// Retryable errors since the last job document.
    errors_in_a_row: u32,
    /// The status and counts last shown (an enum: no string per job for a known status).
    last_shown: Option<(JobStatus, SubJobCounts)>,
    /// The final decision read in a row so far and how often (for `confirm`).
    streak: Option<(Decision, u32)>,
}

/// The report's summary of a document's sub-jobs and the verdict's words for them.
struct Digest {
    summary: Aggregate,
    reason: String,
}

/// Whether a final decision has been read often enough in a row.
enum Confirmation {
    Done,
    DoneAfter(u32),
    Again,
}

impl JobState {
    pub(super) fn new(deadline: Instant, poll: PollPolicy, seed: u64) -> JobState {
        JobState {
            phase: Phase::Ready,
            deadline,
            poll_at: deadline,
            polls: 0,
            schedule: Schedule::new(poll, seed),
            last: None,
            digest: None,
            last_error: None,
            errors_in_a_row: 0,
            last_shown: None,
            streak: None,
        }
    }

    /// Takes in one poll's answer, `waited` after the start of the wait, and says what comes
    /// next. `change` receives the new status and sub-job counts of a pending job whose
    /// progress changed (for progress events).
    pub(super) fn on_fetched(
        &mut self,
        plan: &Plan,
        job: &PlannedJob,
        seen: &Seen,
        fetched: Result<Job, FetchError>,
        waited: Duration,
        change: &mut Option<(String, SubJobCounts)>,
    ) -> Next {
        self.polls += 1;
        let mut retry_after = None;
        let mut left = None;
        match fetched {
            Ok(doc) => {
                self.last_error = None;
                self.errors_in_a_row = 0;
                let verdict = judge(&job.criteria, &doc);
                tracing::debug!(job = %Clean(&job.label()), status = %Clean(doc.status.as_str()), poll = self.polls, decision = ?verdict.decision, "polled");
                let mut doc = doc;
                self.digest = None;
                if verdict.decision == Decision::Pending {
                    *change = self.changed(&doc);
                    if plan.poll.schedule == PollSchedule::Adaptive {
                        left = time_left(&doc, seen.now, seen.types, &plan.poll);
                    }
                    if !doc.entities.sub_jobs.is_empty() {
                        self.digest = Some(Box::new(Digest {
                            summary: aggregate(&doc),
                            reason: verdict.reason.clone(),
                        }));
                        doc.entities.sub_jobs = Vec::new();
                    }
                }
                // A document like the last (a running job's, mostly) is dropped and the last
                // kept where it is: ten thousand long-lived documents replaced at every poll
                // wander up the heap among the requests' short-lived buffers, and the holes
                // they leave stay in the process's memory (measured in BENCHMARKS.md).
                if self.last.as_deref() != Some(&doc) {
                    self.last = Some(Box::new(doc));
                }
                let outcome = match verdict.decision {
                    Decision::Pending => None,
                    Decision::Succeeded => Some(Outcome::Succeeded),
                    Decision::Failed => Some(Outcome::Failed),
                    Decision::Errored => Some(Outcome::Errored),
                };
                match (outcome, self.confirmed(job, verdict.decision)) {
                    (Some(outcome), Confirmation::Done) => {
                        return Next::Verdict(outcome, verdict.reason)
                    }
                    (Some(outcome), Confirmation::DoneAfter(n)) => {
                        let reason = format!("{} (read {n} times in a row)", verdict.reason);
                        return Next::Verdict(outcome, reason);
                    }
                    // A terminal read still to be confirmed: read again at the base interval,
                    // not the grown back-off.
                    (Some(_), Confirmation::Again) => return Next::PollIn(plan.poll.interval),
                    (None, _) => {}
                }
            }
            Err(err) => {
                tracing::debug!(job = %Clean(&job.label()), error = %Clean(&err.to_string()), "poll failed");
                let grace = job.criteria.not_found_grace;
                match err.class() {
                    ErrorClass::Fatal | ErrorClass::CredentialsRejected => {
                        return Next::Verdict(Outcome::Errored, err.to_string())
                    }
                    ErrorClass::NotFound if waited >= grace => {
                        return Next::Verdict(Outcome::Errored, not_found_reason(&err, grace))
                    }
                    ErrorClass::NotFound => {}
                    ErrorClass::Retryable | ErrorClass::Throttled => {
                        self.errors_in_a_row += 1;
                        if plan
                            .max_consecutive_errors
                            .is_some_and(|max| self.errors_in_a_row >= max)
                        {
                            let reason = format!("{} errors in a row (retry.max_consecutive_errors); the last: {err}", self.errors_in_a_row);
                            return Next::Verdict(Outcome::Errored, reason);
                        }
                    }
                }
                retry_after = err.retry_after();
                self.last_error = Some(err.to_string());
            }
        }
        let delay = self.schedule.next(left);
        // `Retry-After` is capped where it is read; the deadline bounds the wait anyway.
        Next::PollIn(retry_after.map_or(delay, |r| r.max(delay)))
    }

    /// The last document the API returned for this job, if any.
    pub(super) fn last_doc(&self) -> Option<&Job> {
        self.last.as_deref()
    }

    /// The status and sub-job counts of `doc`, when they differ from what was last shown.
    fn changed(&mut self, doc: &Job) -> Option<(String, SubJobCounts)> {
        let now = (doc.status.clone(), SubJobCounts::of(doc));
        if self.last_shown.as_ref() == Some(&now) {
            return None;
        }
        let shown = (now.0.as_str().to_owned(), now.1);
        self.last_shown = Some(now);
        Some(shown)
    }

    /// Counts `decision` into the streak of identical final reads (`confirm`).
    fn confirmed(&mut self, job: &PlannedJob, decision: Decision) -> Confirmation {
        if decision == Decision::Pending {
            self.streak = None;
            return Confirmation::Again;
        }
        let count = match self.streak {
            Some((d, n)) if d == decision => n + 1,
            _ => 1,
        };
        self.streak = Some((decision, count));
        match (job.criteria.confirm, count) {
            (1, _) => Confirmation::Done,
            (want, n) if n >= want => Confirmation::DoneAfter(n),
            _ => Confirmation::Again,
        }
    }

    /// The outcome and reason of a job whose deadline came before its verdict.
    pub(super) fn at_deadline(&self, job: &PlannedJob, waited: Duration) -> (Outcome, String) {
        let waited = humantime::format_duration(Duration::from_secs(waited.as_secs()));
        let state = match (&self.last, &self.digest, &self.last_error) {
            (_, _, Some(err)) => format!("last poll failed: {err}"),
            (_, Some(digest), None) => format!("still {}", digest.reason),
            (Some(doc), None, None) => format!("still {}", judge(&job.criteria, doc).reason),
            (None, None, None) => {
                "the API never answered (the last request was still pending)".to_owned()
            }
        };
        // A job the API never described — refused, failed or hung requests alike — is not
        // pending but without a verdict: errored (exit 3).
        match self.last {
            None => (
                Outcome::Errored,
                format!("no verdict after {waited}: {state}"),
            ),
            Some(_) => (
                Outcome::TimedOut,
                format!("timed out after {waited}: {state}"),
            ),
        }
    }

    /// Ends the job: its result, with the last document moved into it.
    pub(super) fn finish(
        &mut self,
        job: &PlannedJob,
        outcome: Outcome,
        reason: String,
        waited: Duration,
    ) -> JobResult {
        let reason = cap(reason, MAX_TEXT);
        tracing::info!(job = %Clean(&job.label()), outcome = outcome.as_str(), polls = self.polls, reason = %Clean(&reason), "finished");
        let mut last = self.last.take();
        let summary = match self.digest.take() {
            Some(digest) => digest.summary,
            None => last.as_deref().map(aggregate).unwrap_or_default(),
        };
        if let Some(doc) = last.as_deref_mut() {
            doc.entities = Entities::default();
        }
        JobResult {
            outcome,
            reason,
            last,
            summary,
            polls: self.polls,
            waited,
        }
    }
}

/// The reason of a job cancelled by a signal.
pub fn cancelled_by(sig: super::Signal) -> String {
    format!("cancelled by {}", sig.name())
}

/// The reason of a job cancelled by `stop`.
pub(super) fn cancelled_reason(stop: &Stop) -> String {
    match stop {
        Stop::Signal(sig) => cancelled_by(*sig),
        Stop::FailFast(by) => format!("cancelled: fail_fast after {by} failed"),
    }
}

fn not_found_reason(err: &FetchError, grace: Duration) -> String {
    format!(
        "the API does not know this job id after {} ({err}); check the project and service, and note that the cloud deletes finished job records after a while",
        humantime::format_duration(grace)
    )
}
