//! The verdict on one job document: pure functions, no I/O, no clocks.
//!
//! [`judge`] decides succeeded / failed / still pending from the main status, the sub-jobs and
//! the criteria, deciding as early as the outcome is certain (an `all` policy fails at the first
//! failed sub-job, before the main job ends). [`aggregate`] collects what the report shows:
//! sub-job counts, entity ids by key, and the failed sub-jobs.

use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::cloud::wire::{Job, JobStatus};
use crate::spec::raw::{PendingPayment, SubJobPolicy};

/// What counts as success for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    pub sub_jobs: SubJobPolicy,
    pub pending_payment: PendingPayment,
    /// How long an id the API does not know counts as pending (the engine applies it).
    pub not_found_grace: Duration,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            sub_jobs: SubJobPolicy::All,
            pending_payment: PendingPayment::Wait,
            not_found_grace: Duration::from_secs(30),
        }
    }
}

/// Where a job stands after one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pending,
    Succeeded,
    Failed,
}

/// A decision and the one line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
}

/// Sub-jobs by status. `total` is the larger of `sub_jobs_total` and the list's length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SubJobCounts {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Not terminal yet (including those announced by `sub_jobs_total` but not listed).
    pub running: u64,
}

impl SubJobCounts {
    pub fn of(job: &Job) -> SubJobCounts {
        let subs = &job.entities.sub_jobs;
        let succeeded = subs
            .iter()
            .filter(|s| s.status == JobStatus::Success)
            .count() as u64;
        let failed = subs.iter().filter(|s| s.status == JobStatus::Fail).count() as u64;
        let total = job
            .entities
            .sub_jobs_total
            .unwrap_or(0)
            .max(subs.len() as u64);
        SubJobCounts {
            total,
            succeeded,
            failed,
            running: total - succeeded - failed,
        }
    }
}

/// Decides one job from one document.
pub fn judge(criteria: &Criteria, job: &Job) -> Verdict {
    let counts = SubJobCounts::of(job);
    let status = &job.status;
    match status {
        JobStatus::PendingPayment => match criteria.pending_payment {
            PendingPayment::Wait => pending("PENDING_PAYMENT: the order is not paid yet"),
            PendingPayment::Success => verdict(
                Decision::Succeeded,
                "PENDING_PAYMENT: order not paid yet, counted as success (pending_payment: success)".into(),
            ),
            PendingPayment::Fail => verdict(
                Decision::Failed,
                "PENDING_PAYMENT: the order is not paid (pending_payment: fail)".into(),
            ),
        },
        JobStatus::Success | JobStatus::Fail => on_terminal(criteria.sub_jobs, job, counts),
        JobStatus::Init | JobStatus::Running | JobStatus::Unknown(_) => {
            match cannot_succeed(criteria.sub_jobs, counts) {
                true => verdict(
                    Decision::Failed,
                    explain(status, criteria.sub_jobs, counts, job, "no longer possible"),
                ),
                false if counts.total > 0 => pending(&format!(
                    "{status}, {}/{} sub-jobs done",
                    counts.succeeded + counts.failed,
                    counts.total
                )),
                false => pending(status.as_str()),
            }
        }
    }
}

fn on_terminal(policy: SubJobPolicy, job: &Job, c: SubJobCounts) -> Verdict {
    let main_ok = job.status == JobStatus::Success;
    let decide = |ok: bool| {
        if ok {
            Decision::Succeeded
        } else {
            Decision::Failed
        }
    };
    let decision = match policy {
        SubJobPolicy::None => decide(main_ok),
        SubJobPolicy::All if c.failed > 0 || !main_ok => Decision::Failed,
        // A SUCCESS whose sub-jobs are still listed as running is not final yet.
        SubJobPolicy::All if c.running > 0 => Decision::Pending,
        SubJobPolicy::All => Decision::Succeeded,
        // Without sub-jobs, the policies that count them fall back to the main status.
        SubJobPolicy::Any | SubJobPolicy::Ratio(_) if c.total == 0 => decide(main_ok),
        _ if meets(policy, c) => Decision::Succeeded,
        _ if c.running > 0 && !cannot_succeed(policy, c) => Decision::Pending,
        _ => Decision::Failed,
    };
    let note = match decision {
        Decision::Pending => "waiting for the remaining sub-jobs",
        _ => "",
    };
    verdict(decision, explain(&job.status, policy, c, job, note))
}

/// The policy is met by the sub-jobs that succeeded so far.
fn meets(policy: SubJobPolicy, c: SubJobCounts) -> bool {
    match policy {
        SubJobPolicy::All => c.failed == 0 && c.running == 0,
        SubJobPolicy::Any => c.succeeded >= 1,
        SubJobPolicy::None => true,
        SubJobPolicy::AtLeast(n) => c.succeeded >= u64::from(n),
        SubJobPolicy::Ratio(r) => c.total > 0 && c.succeeded as f64 >= r * c.total as f64,
    }
}

/// Even if every sub-job not yet terminal succeeded, the policy could not be met.
fn cannot_succeed(policy: SubJobPolicy, c: SubJobCounts) -> bool {
    let best = c.total - c.failed;
    match policy {
        SubJobPolicy::None => false,
        SubJobPolicy::All => c.failed > 0,
        SubJobPolicy::Any => c.total > 0 && best == 0,
        SubJobPolicy::AtLeast(n) => c.total > 0 && best < u64::from(n),
        SubJobPolicy::Ratio(r) => c.total > 0 && (best as f64) < r * c.total as f64,
    }
}

/// `FAIL, 9/10 sub-jobs succeeded (at_least 8): Ecs.0013 Insufficient EIP quota`.
fn explain(
    status: &JobStatus,
    policy: SubJobPolicy,
    c: SubJobCounts,
    job: &Job,
    note: &str,
) -> String {
    let mut out = status.as_str().to_owned();
    if c.total > 0 && policy != SubJobPolicy::None {
        out += &format!(", {}/{} sub-jobs succeeded", c.succeeded, c.total);
        match policy {
            SubJobPolicy::All => {}
            SubJobPolicy::Any => out += " (any)",
            SubJobPolicy::AtLeast(n) => out += &format!(" (at_least {n})"),
            SubJobPolicy::Ratio(r) => out += &format!(" (ratio {r})"),
            SubJobPolicy::None => {}
        }
    }
    if !note.is_empty() {
        out += &format!(", {note}");
    }
    if let Some(why) = first_failure_text(job) {
        out += &format!(": {why}");
    }
    out
}

/// The main job's error, else the first failed sub-job's (and how many more failed).
fn first_failure_text(job: &Job) -> Option<String> {
    let text = |j: &Job| {
        let parts = failure_words([
            j.error_code.as_deref(),
            j.fail_reason.as_deref(),
            errorcode_message(j),
        ]);
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    if job.status == JobStatus::Fail {
        if let Some(t) = text(job) {
            return Some(t);
        }
    }
    let failed: Vec<&Job> = job
        .entities
        .sub_jobs
        .iter()
        .filter(|s| s.status == JobStatus::Fail)
        .collect();
    let first = failed.first()?;
    let mut out = text(first).unwrap_or_else(|| "a sub-job failed".to_owned());
    if let Some(id) = &first.job_id {
        out += &format!(" (sub-job {id})");
    }
    if failed.len() > 1 {
        out += &format!(" and {} more", failed.len() - 1);
    }
    Some(out)
}

/// The non-empty texts among code, reason and message, each once (ECS often repeats the reason
/// as `errorcode_message`).
pub fn failure_words<const N: usize>(texts: [Option<&str>; N]) -> Vec<&str> {
    let mut words: Vec<&str> = Vec::with_capacity(N);
    for t in texts.into_iter().flatten() {
        if !t.is_empty() && !words.contains(&t) {
            words.push(t);
        }
    }
    words
}

fn errorcode_message(job: &Job) -> Option<&str> {
    job.entities
        .other
        .get("errorcode_message")
        .and_then(Value::as_str)
}

fn pending(reason: &str) -> Verdict {
    verdict(Decision::Pending, reason.to_owned())
}

fn verdict(decision: Decision, reason: String) -> Verdict {
    Verdict { decision, reason }
}

/// Entity ids by key (`server_id` → [...]), in API order, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct EntityIds(pub IndexMap<String, Vec<String>>);

impl EntityIds {
    fn add(&mut self, key: &str, id: &str) {
        let ids = self.0.entry(key.to_owned()).or_default();
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_owned());
        }
    }

    /// Every `*_id` string field of one `entities` object.
    fn add_fields(&mut self, job: &Job) {
        for (key, value) in &job.entities.other {
            if let (true, Some(id)) = (key.ends_with("_id"), value.as_str()) {
                if !id.is_empty() {
                    self.add(key, id);
                }
            }
        }
    }

    pub fn merge(&mut self, other: &EntityIds) {
        for (key, ids) in &other.0 {
            for id in ids {
                self.add(key, id);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A failed sub-job, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Failure {
    pub job_id: Option<String>,
    pub job_type: Option<String>,
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
    /// ECS puts a readable message for a failed sub-job in `entities.errorcode_message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errorcode_message: Option<String>,
    pub entities: EntityIds,
}

/// What the report shows of one job document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub sub_jobs: SubJobCounts,
    pub entities: EntityIds,
    pub failures: Vec<Failure>,
}

/// Collects ids from the job (unless it failed) and its successful sub-jobs, recursively (EIP
/// sub-jobs nest), and lists every failed sub-job at any depth.
pub fn aggregate(job: &Job) -> Aggregate {
    let mut out = Aggregate {
        sub_jobs: SubJobCounts::of(job),
        ..Aggregate::default()
    };
    if job.status != JobStatus::Fail {
        out.entities.add_fields(job);
    }
    collect_sub_jobs(job, &mut out);
    out
}

fn collect_sub_jobs(job: &Job, out: &mut Aggregate) {
    for sub in &job.entities.sub_jobs {
        match sub.status {
            JobStatus::Success => {
                out.entities.add_fields(sub);
                collect_sub_jobs(sub, out);
            }
            JobStatus::Fail => {
                let mut entities = EntityIds::default();
                entities.add_fields(sub);
                out.failures.push(Failure {
                    job_id: sub.job_id.clone(),
                    job_type: sub.job_type.clone(),
                    error_code: sub.error_code.clone(),
                    fail_reason: sub.fail_reason.clone(),
                    errorcode_message: errorcode_message(sub).map(str::to_owned),
                    entities,
                });
                collect_sub_jobs(sub, out);
            }
            _ => {}
        }
    }
}
