//! Job documents that are not the classic shape, read into the classic [`Job`] model.
//!
//! The rest of the program (verdict, schedule, report) knows one job model; a service whose API
//! words its jobs differently is translated here, once, at the edge. The database task center
//! (RDS, DDS: "Obtaining Information About a Task with a Specified ID") answers
//! `{"job": {id, name, status, created, ended, process, instance: {id, name}, entities,
//! fail_reason}}` with the status words `Running`, `Completed` and `Failed`, times with a
//! `+0000`-style offset, and its progress as a percent string (`"60"`, `"9%"`, `""` when not
//! running; RDS calls it `process`, DDS `progress`). Read with the classic parser's leniency:
//! odd fields become none, texts are capped, text that is not UTF-8 is read lossily, and only a
//! missing or non-text `job.status` makes a body not a job document.
//!
//! CCE ("Reading Job Progress") answers a Kubernetes-style object, `{kind: Job, metadata: {uid,
//! creationTimestamp, updateTimestamp}, spec: {type, clusterUID, resourceID, subJobs}, status:
//! {phase, reason}}`, with the phases `Initializing`, `Running`, `Success` and `Failed` and
//! times as Go prints them (`2020-02-02 08:12:40.672772389 +0000 UTC`). Its sub-jobs are whole
//! job objects of the same shape, so they are read by the same rules and judged by the same
//! `success.sub_jobs` criteria as ECS batch jobs; the cluster becomes the `cluster_id` entity of
//! the job and of each sub-job. Only a missing or non-text `status.phase` makes a body (or a
//! sub-job) not a job document.
//!
//! The others, each read by the same rules (lenient fields, capped texts, only a missing status
//! is an error; a word outside the service's documented set is kept as unknown, for
//! `success.unknown_status`):
//!
//! - GaussDB, TaurusDB: the task center's document above. GeminiDB lists the task in
//!   `{"jobs": [...]}` with `start_time`/`end_time`; an empty list means no such job.
//! - DCS: classic fields, times as epoch-millisecond strings (made RFC 3339 here).
//! - SFS Turbo: classic fields with lower-case statuses (`waiting`, `running`, `success`,
//!   `failed`), `sub_jobs` at the top level, zone-less UTC times (`2016-01-02 15:04:05`).
//! - ELB v3: `{"job": {...}}` with eight status words (`COMPLETE` succeeds; `ROLLBACK_FAIL` and
//!   `CANCEL` fail, named in the reason), `resource_id` as the `elb_id` entity.
//! - CBR: `{"operation_log": {...}}` (`timeout` and `skipped` fail, named in the reason),
//!   `error_info` as code and reason, `extra_info.backup.backup_id` as the `backup_id` entity,
//!   `extra_info.common.progress` as the progress the adaptive schedule reads.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::wire::{lenient_string, read_document, Entities, Job, JobStatus};
use crate::sanitize::{cap, MAX_TEXT};

// The documented status words of each shape, as the service writes them, each with its meaning:
// the readers below look words up here (any case), and `validate` shows the same tables by class
// (`Shape::statuses`), so what is shown is what is read.

/// The database task center's (RDS, DDS, GaussDB): `Running`, `Completed`, `Failed`.
pub(super) const TASK_CENTER_STATUSES: &[(&str, JobStatus)] = &[
    ("Running", JobStatus::Running),
    ("Completed", JobStatus::Success),
    ("Failed", JobStatus::Fail),
];

/// CCE's job phases.
pub(super) const CCE_STATUSES: &[(&str, JobStatus)] = &[
    ("Initializing", JobStatus::Init),
    ("Running", JobStatus::Running),
    ("Success", JobStatus::Success),
    ("Failed", JobStatus::Fail),
];

/// SFS Turbo's.
pub(super) const SFS_TURBO_STATUSES: &[(&str, JobStatus)] = &[
    ("waiting", JobStatus::Init),
    ("running", JobStatus::Running),
    ("success", JobStatus::Success),
    ("failed", JobStatus::Fail),
];

/// ELB v3's: `ROLLBACKING` undoes a failed job (not over yet).
pub(super) const ELB_STATUSES: &[(&str, JobStatus)] = &[
    ("INIT", JobStatus::Init),
    ("RUNNING", JobStatus::Running),
    ("ROLLBACKING", JobStatus::Running),
    ("SUCCESS", JobStatus::Success),
    ("COMPLETE", JobStatus::Success),
    ("FAIL", JobStatus::Fail),
    ("ROLLBACK_FAIL", JobStatus::Fail),
    ("CANCEL", JobStatus::Fail),
];

/// CBR's: `skipped` means the backup was not made.
pub(super) const CBR_STATUSES: &[(&str, JobStatus)] = &[
    ("waiting", JobStatus::Init),
    ("running", JobStatus::Running),
    ("success", JobStatus::Success),
    ("failed", JobStatus::Fail),
    ("timeout", JobStatus::Fail),
    ("skipped", JobStatus::Fail),
];

/// `{"job": {...}}`.
#[derive(Deserialize)]
struct Envelope {
    job: TaskJob,
}

/// The task center's `job` object as written.
#[derive(Deserialize)]
struct TaskJob {
    #[serde(deserialize_with = "task_status")]
    status: JobStatus,
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    /// `start_time` in GeminiDB's task list.
    #[serde(default, alias = "start_time", deserialize_with = "lenient_string")]
    created: Option<String>,
    /// `end_time` in GeminiDB's task list.
    #[serde(default, alias = "end_time", deserialize_with = "lenient_string")]
    ended: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    fail_reason: Option<String>,
    /// RDS's name for the progress.
    #[serde(default)]
    process: Value,
    /// DDS's name for the progress.
    #[serde(default)]
    progress: Value,
    #[serde(default)]
    instance: Value,
    #[serde(default)]
    entities: Entities,
}

fn task_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<JobStatus, D::Error> {
    status_of(d, TASK_CENTER_STATUSES)
}

/// A 2xx body of the task center as a job document; the error says why it is not one, without
/// echoing the body.
pub fn rds_job(body: &[u8]) -> Result<Job, String> {
    read_document::<Envelope>(body, &["job", "status"]).map(|envelope| envelope.job.into_job())
}

/// GeminiDB's `{"total_count", "jobs": [...]}`.
#[derive(Deserialize)]
struct TaskList {
    jobs: Vec<Value>,
}

/// A 2xx body of GeminiDB's task list as the job it lists (`None`: the list is empty, no such
/// job); the error says why it is not one, without echoing the body. The first listed task with
/// a readable status is the job (the query names one id).
pub fn nosql_jobs(body: &[u8]) -> Result<Option<Job>, String> {
    let list = read_document::<TaskList>(body, &["jobs"])?;
    if list.jobs.is_empty() {
        return Ok(None);
    }
    list.jobs
        .into_iter()
        .find_map(|job| serde_json::from_value::<TaskJob>(job).ok())
        .map(|job| Some(job.into_job()))
        .ok_or_else(|| "no task in `jobs` has a text `status`".to_owned())
}

impl TaskJob {
    fn into_job(self) -> Job {
        let mut entities = self.entities;
        // The task center documents no sub-jobs: a field of that name is not one.
        entities.sub_jobs = Vec::new();
        entities.sub_jobs_total = None;
        let instance_id = match &self.instance {
            Value::Object(o) => match o.get("id") {
                Some(Value::String(s)) if !s.is_empty() => Some(cap(s.clone(), MAX_TEXT)),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
            _ => None,
        };
        let percent = percent(&self.process).or_else(|| percent(&self.progress));
        // What the common model reads first: the instance the job works on, and its progress
        // as the adaptive schedule expects it (`process_percent`, a number).
        let mut front = Vec::new();
        if let Some(id) = instance_id {
            front.push(("instance_id".to_owned(), Value::String(id)));
        }
        if let Some(p) = percent {
            front.push(("process_percent".to_owned(), p));
        }
        if !front.is_empty() {
            entities
                .other
                .retain(|(k, _)| !front.iter().any(|(f, _)| f == k));
            front.append(&mut entities.other);
            entities.other = front;
        }
        entities.other.shrink_to_fit();
        Job {
            status: self.status,
            job_id: self.id,
            job_type: self.name,
            begin_time: self.created.map(rfc3339_utc),
            end_time: self.ended.map(rfc3339_utc),
            error_code: None,
            fail_reason: self.fail_reason.filter(|r| !r.is_empty()),
            entities,
        }
    }
}

/// A CCE job object as written: the job itself and each of its `spec.subJobs`. `metadata` and
/// `spec` are read field by field (an odd one is no field, not a lost document).
#[derive(Deserialize)]
struct CceJob {
    status: CceStatus,
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    spec: Value,
}

/// `status`: the phase, and why the job is in it.
#[derive(Deserialize)]
struct CceStatus {
    #[serde(deserialize_with = "cce_phase")]
    phase: JobStatus,
    #[serde(default, deserialize_with = "lenient_string")]
    reason: Option<String>,
}

fn cce_phase<'de, D: serde::Deserializer<'de>>(d: D) -> Result<JobStatus, D::Error> {
    status_of(d, CCE_STATUSES)
}

/// A 2xx body of CCE's job API as a job document; the error says why it is not one, without
/// echoing the body.
pub fn cce_job(body: &[u8]) -> Result<Job, String> {
    read_document::<CceJob>(body, &["status", "phase"]).map(CceJob::into_job)
}

impl CceJob {
    fn into_job(mut self) -> Job {
        let field = |object: &Value, key: &str| -> Option<String> {
            object
                .get(key)
                .and_then(|v| lenient_string(v).ok().flatten())
                .filter(|s| !s.is_empty())
        };
        let mut entities = Entities::default();
        // Sub-jobs are whole CCE jobs; one without a readable phase cannot be judged. CCE
        // announces no total, so the list's length is the total: such a sub-job still counts
        // (as not done) instead of vanishing from the `success.sub_jobs` arithmetic.
        if let Some(Value::Array(items)) = self.spec.get_mut("subJobs").map(Value::take) {
            entities.sub_jobs_total = (!items.is_empty()).then_some(items.len() as u64);
            entities.sub_jobs = items
                .into_iter()
                .filter_map(|item| serde_json::from_value::<CceJob>(item).ok())
                .map(CceJob::into_job)
                .collect();
            entities.sub_jobs.shrink_to_fit();
        }
        if let Some(cluster) = field(&self.spec, "clusterUID") {
            entities
                .other
                .push(("cluster_id".to_owned(), Value::String(cluster)));
        }
        // `updateTimestamp` is the last change: the end only once the job is over.
        let end_time = self
            .status
            .phase
            .is_terminal()
            .then(|| field(&self.metadata, "updateTimestamp"))
            .flatten()
            .map(go_time_utc);
        Job {
            job_id: field(&self.metadata, "uid"),
            job_type: field(&self.spec, "type"),
            begin_time: field(&self.metadata, "creationTimestamp").map(go_time_utc),
            end_time,
            error_code: None,
            fail_reason: self.status.reason.filter(|r| !r.is_empty()),
            status: self.status.phase,
            entities,
        }
    }
}

/// A time as Go's `time.Time.String()` writes it (`2020-02-02 08:12:40.672772389 +0000 UTC`:
/// CCE's) as RFC 3339 in UTC (`2020-02-02T08:12:40.672Z`); any other text goes through
/// [`rfc3339_utc`], and a text that is no time is kept as it is.
pub(super) fn go_time_utc(text: String) -> String {
    let go = {
        let mut parts = text.trim().rsplitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(zone), Some(offset), Some(local))
                if !zone.is_empty()
                    && zone.len() <= 5
                    && zone.bytes().all(|b| b.is_ascii_alphabetic())
                    && offset.starts_with(['+', '-']) =>
            {
                Some(format!("{}{offset}", local.trim_end()))
            }
            _ => None,
        }
    };
    match go {
        Some(joined) => {
            let utc = rfc3339_utc(joined.clone());
            if utc == joined {
                text
            } else {
                utc
            }
        }
        None => rfc3339_utc(text),
    }
}

/// DCS's job document: the classic fields (statuses `INIT`, `RUNNING`, `SUCCESS`, `FAIL`, read
/// in any case) without entities, `begin_time`/`end_time` as epoch-millisecond strings
/// (`"1684191545379"`), made RFC 3339 in UTC here.
pub fn dcs_job(body: &[u8]) -> Result<Job, String> {
    let mut job = Job::from_slice(body)?;
    job.status = classic_any_case(job.status);
    job.begin_time = job.begin_time.map(epoch_ms_utc);
    job.end_time = job.end_time.map(epoch_ms_utc);
    // DCS documents no sub-jobs.
    job.entities.sub_jobs = Vec::new();
    job.entities.sub_jobs_total = None;
    Ok(job)
}

/// A classic status word written in another case (`Success`), as its classic self.
fn classic_any_case(status: JobStatus) -> JobStatus {
    match status {
        JobStatus::Unknown(word) => match JobStatus::parse(&word.to_ascii_uppercase()) {
            JobStatus::Unknown(_) => JobStatus::Unknown(word),
            known => known,
        },
        known => known,
    }
}

/// An epoch-millisecond text (`"1684191545379"`) as RFC 3339 in UTC with milliseconds; any
/// other text is kept as it is.
pub(super) fn epoch_ms_utc(text: String) -> String {
    let Ok(ms) = text.trim().parse::<u64>() else {
        return text;
    };
    // Before year 10000: humantime cannot write later times (and panics trying).
    if ms >= 253_402_300_800_000 {
        return text;
    }
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_millis(at).to_string()
}

/// SFS Turbo's job and sub-job: the classic fields, lower-case statuses.
#[derive(Deserialize)]
struct SfsJob {
    #[serde(deserialize_with = "sfs_status")]
    status: JobStatus,
    #[serde(default, deserialize_with = "lenient_string")]
    job_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    job_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    begin_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    fail_reason: Option<String>,
    #[serde(default)]
    sub_jobs: Value,
}

fn sfs_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<JobStatus, D::Error> {
    status_of(d, SFS_TURBO_STATUSES)
}

/// A status word of `words` (a table of [`Shape::statuses`](super::service::Shape::statuses), any case) in the common vocabulary;
/// any other word is kept as [`JobStatus::Unknown`].
fn status_of<'de, D: serde::Deserializer<'de>>(
    d: D,
    words: &[(&str, JobStatus)],
) -> Result<JobStatus, D::Error> {
    Ok(JobStatus::parse_words(String::deserialize(d)?, words))
}

/// A 2xx body of SFS Turbo's job API ("Querying the Status of a Task"): statuses `waiting`,
/// `running`, `success`, `failed` (any case), `sub_jobs` at the top level (same fields), times
/// as `2016-01-02 15:04:05` in UTC, made RFC 3339 here.
pub fn sfs_turbo_job(body: &[u8]) -> Result<Job, String> {
    read_document::<SfsJob>(body, &["status"]).map(SfsJob::into_job)
}

impl SfsJob {
    fn into_job(mut self) -> Job {
        let mut entities = Entities::default();
        if let Value::Array(items) = self.sub_jobs.take() {
            entities.sub_jobs_total = (!items.is_empty()).then_some(items.len() as u64);
            entities.sub_jobs = items
                .into_iter()
                .filter_map(|item| serde_json::from_value::<SfsJob>(item).ok())
                .map(SfsJob::into_job)
                .collect();
        }
        Job {
            status: self.status,
            job_id: self.job_id,
            job_type: self.job_type,
            begin_time: self.begin_time.map(utc_without_zone),
            end_time: self.end_time.map(utc_without_zone),
            error_code: self.error_code.filter(|c| !c.is_empty()),
            fail_reason: self.fail_reason.filter(|r| !r.is_empty()),
            entities,
        }
    }
}

/// A UTC time written without a zone (`2016-01-02 15:04:05`) as RFC 3339; a text with a zone
/// goes through [`rfc3339_utc`], and one that is no time is kept as it is.
pub(super) fn utc_without_zone(text: String) -> String {
    if split_offset(text.trim()).is_some() {
        return rfc3339_utc(text);
    }
    let zoned = format!("{}Z", text.trim());
    let utc = rfc3339_utc(zoned.clone());
    if utc == zoned {
        text
    } else {
        utc
    }
}

/// ELB v3's `{"job": {...}}`.
#[derive(Deserialize)]
struct ElbEnvelope {
    job: ElbJob,
}

/// ELB v3's job and sub-job (`MainJob`, `SubJob` in the official SDKs).
#[derive(Deserialize)]
struct ElbJob {
    #[serde(deserialize_with = "elb_status")]
    status: (JobStatus, String),
    #[serde(default, deserialize_with = "lenient_string")]
    job_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    job_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    begin_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_msg: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    resource_id: Option<String>,
    #[serde(default)]
    sub_jobs: Value,
}

/// ELB v3's statuses ([`ELB_STATUSES`]), with the word as written, for the reason of a job
/// that failed by another word than `FAIL`.
fn elb_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(JobStatus, String), D::Error> {
    status_and_word(d, ELB_STATUSES)
}

/// A status read by `words` (any case), with the word as written (capped): for a reason
/// that names the word when a job failed by another word than the plain one.
fn status_and_word<'de, D: serde::Deserializer<'de>>(
    d: D,
    words: &[(&str, JobStatus)],
) -> Result<(JobStatus, String), D::Error> {
    let word = cap(String::deserialize(d)?, 128);
    Ok((JobStatus::parse_words(word.clone(), words), word))
}

/// A 2xx body of ELB v3's job API (`ShowJob`) as a job document: `resource_id` becomes the
/// `elb_id` entity, `error_msg` the reason, `sub_jobs` are read by the same rules.
pub fn elb_job(body: &[u8]) -> Result<Job, String> {
    read_document::<ElbEnvelope>(body, &["job", "status"]).map(|e| e.job.into_job())
}

impl ElbJob {
    fn into_job(mut self) -> Job {
        let mut entities = Entities::default();
        if let Value::Array(items) = self.sub_jobs.take() {
            entities.sub_jobs_total = (!items.is_empty()).then_some(items.len() as u64);
            entities.sub_jobs = items
                .into_iter()
                .filter_map(|item| serde_json::from_value::<ElbJob>(item).ok())
                .map(ElbJob::into_job)
                .collect();
        }
        if let Some(id) = self.resource_id.filter(|id| !id.is_empty()) {
            entities
                .other
                .push(("elb_id".to_owned(), Value::String(id)));
        }
        let (status, word) = self.status;
        let fail_reason = self.error_msg.filter(|m| !m.is_empty()).or_else(|| {
            (status == JobStatus::Fail && !word.eq_ignore_ascii_case("FAIL")).then_some(word)
        });
        Job {
            status,
            job_id: self.job_id,
            job_type: self.job_type,
            begin_time: self.begin_time.map(rfc3339_utc),
            end_time: self.end_time.map(rfc3339_utc),
            error_code: self.error_code.filter(|c| !c.is_empty()),
            fail_reason,
            entities,
        }
    }
}

/// CBR's `{"operation_log": {...}}`.
#[derive(Deserialize)]
struct CbrEnvelope {
    operation_log: CbrTask,
}

/// CBR's task ("Querying a Single Task", `ShowOpLog`).
#[derive(Deserialize)]
struct CbrTask {
    #[serde(deserialize_with = "cbr_status")]
    status: (JobStatus, String),
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    operation_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    started_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    ended_at: Option<String>,
    #[serde(default)]
    error_info: Value,
    #[serde(default)]
    extra_info: Value,
}

/// CBR's statuses ([`CBR_STATUSES`]), with the word as written, for the reason of a
/// task that failed by another word than `failed`.
fn cbr_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(JobStatus, String), D::Error> {
    status_and_word(d, CBR_STATUSES)
}

/// A 2xx body of CBR's task API as a job document: `extra_info.backup.backup_id` becomes the
/// `backup_id` entity, `extra_info.common.progress` the progress that feeds the adaptive
/// schedule, `error_info` the error code and reason (`""` is none).
pub fn cbr_operation_log(body: &[u8]) -> Result<Job, String> {
    read_document::<CbrEnvelope>(body, &["operation_log", "status"])
        .map(|e| e.operation_log.into_job())
}

impl CbrTask {
    fn into_job(self) -> Job {
        let text = |at: Option<&Value>| -> Option<String> {
            at.and_then(|v| lenient_string(v).ok().flatten())
                .filter(|s| !s.is_empty())
        };
        let mut entities = Entities::default();
        if let Some(id) = text(self.extra_info.pointer("/backup/backup_id")) {
            entities
                .other
                .push(("backup_id".to_owned(), Value::String(id)));
        }
        let (status, word) = self.status;
        if !status.is_terminal() {
            if let Some(p) = self
                .extra_info
                .pointer("/common/progress")
                .and_then(percent)
            {
                entities.other.push(("process_percent".to_owned(), p));
            }
        }
        let fail_reason = text(self.error_info.get("message")).or_else(|| {
            (status == JobStatus::Fail && !word.eq_ignore_ascii_case("failed")).then_some(word)
        });
        Job {
            status,
            job_id: self.id,
            job_type: self.operation_type,
            begin_time: self.started_at.or(self.created_at).map(rfc3339_utc),
            end_time: self.ended_at.map(rfc3339_utc),
            error_code: text(self.error_info.get("code")),
            fail_reason,
            entities,
        }
    }
}

/// A progress as a number of percent: `60`, `"60"`, `"9%"`, `"60% "`; `""` (not running) and
/// anything else is none.
fn percent(value: &Value) -> Option<Value> {
    let p = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().trim_end_matches('%').trim_end().parse().ok()?,
        _ => return None,
    };
    if !p.is_finite() {
        return None;
    }
    Some(if p.fract() == 0.0 && (0.0..=1e15).contains(&p) {
        Value::from(p as u64)
    } else {
        Value::from(p)
    })
}

/// A task center time (`2018-08-06T10:41:14+0800`, `+08:00`, `Z`) as RFC 3339 in UTC
/// (`2018-08-06T02:41:14Z`), as the classic documents write times; a text that is not such a
/// time is kept as it is.
pub(super) fn rfc3339_utc(text: String) -> String {
    let trimmed = text.trim();
    let Some((local, offset)) = split_offset(trimmed) else {
        return text;
    };
    let Ok(at) = humantime::parse_rfc3339_weak(local) else {
        return text;
    };
    // Local time is UTC plus the offset.
    let utc = if offset >= 0 {
        at.checked_sub(Duration::from_secs(offset.unsigned_abs()))
    } else {
        at.checked_add(Duration::from_secs(offset.unsigned_abs()))
    };
    let Some(utc) = utc else {
        return text;
    };
    // Before 1970 or after 9999: humantime cannot write it (and panics trying).
    let year_10000 = Duration::from_secs(253_402_300_800);
    match utc.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) if since < year_10000 => {}
        _ => return text,
    }
    if local.contains('.') {
        humantime::format_rfc3339_millis(utc).to_string()
    } else {
        humantime::format_rfc3339_seconds(utc).to_string()
    }
}

/// `(local time, offset in seconds east of UTC)`; `None` without a recognisable offset.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, 0));
    }
    // The offset comes after the time of day (`…T10:41:14`), so after byte 19.
    let sign_at = text.get(19..)?.rfind(['+', '-'])? + 19;
    let (local, offset) = text.split_at(sign_at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((local, sign * (hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::wire::tests::fixture;

    #[test]
    fn rds_published_examples() {
        let done = rds_job(&fixture("rds-job-completed.json")).unwrap();
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(
            done.job_id.as_deref(),
            Some("31b8ae23-c687-4d80-b7b4-42a66c9bb886")
        );
        assert_eq!(
            done.job_type.as_deref(),
            Some("CreateMysqlSingleHAInstance")
        );
        assert_eq!(done.begin_time.as_deref(), Some("2018-08-06T10:41:14Z"));
        assert_eq!(done.end_time(), Some("2018-08-06T16:41:14Z"));
        assert_eq!(
            done.entities.get("instance_id").unwrap(),
            "a48e43ff268f4c0e879652d65e63d0fbin01"
        );
        assert!(
            done.entities.get("process_percent").is_none(),
            "\"\" is no progress"
        );
        assert!(
            done.entities.get("resource_ids").is_some(),
            "entities are kept"
        );
        assert_eq!(done.fail_reason, None);

        let running = rds_job(&fixture("rds-job-running.json")).unwrap();
        assert_eq!(running.status, JobStatus::Running);
        assert_eq!(running.end_time(), None);
        assert_eq!(running.entities.get("process_percent").unwrap(), 60);

        let failed = rds_job(&fixture("rds-job-failed.json")).unwrap();
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("createVM failed."));
        assert_eq!(failed.error_code, None);
    }

    #[test]
    fn dds_published_example_reports_progress() {
        let running = rds_job(&fixture("dds-job-running.json")).unwrap();
        assert_eq!(running.status, JobStatus::Running);
        assert_eq!(running.job_type.as_deref(), Some("Create_MongoDB"));
        assert_eq!(running.entities.get("process_percent").unwrap(), 9);
        assert_eq!(
            running.entities.get("instance_id").unwrap(),
            "cf538a2dd8ec4b26860b27060902712fin02"
        );
        assert_eq!(running.fail_reason, None, "null is none");
    }

    #[test]
    fn status_words_are_read_in_any_case_and_others_kept() {
        for (word, want) in [
            ("Running", JobStatus::Running),
            ("RUNNING", JobStatus::Running),
            ("completed", JobStatus::Success),
            ("FAILED", JobStatus::Fail),
            ("Pending", JobStatus::Unknown("Pending".into())),
        ] {
            let body = format!(r#"{{"job":{{"status":"{word}"}}}}"#);
            assert_eq!(rds_job(body.as_bytes()).unwrap().status, want, "{word}");
        }
    }

    #[test]
    fn times_become_utc_and_odd_ones_stay() {
        for (text, want) in [
            ("2018-08-06T10:41:14+0800", "2018-08-06T02:41:14Z"),
            ("2018-08-06T10:41:14+0000", "2018-08-06T10:41:14Z"),
            ("2018-08-06T01:41:14-05:30", "2018-08-06T07:11:14Z"),
            ("2018-08-06T10:41:14.250+0100", "2018-08-06T09:41:14.250Z"),
            ("2018-08-06T10:41:14Z", "2018-08-06T10:41:14Z"),
            ("", ""),
            ("yesterday", "yesterday"),
            ("2018-08-06T10:41:14+9999", "2018-08-06T10:41:14+9999"),
            ("2018-08-06T10:41:14", "2018-08-06T10:41:14"),
            ("1970-01-01T00:00:00+0100", "1970-01-01T00:00:00+0100"),
        ] {
            assert_eq!(rfc3339_utc(text.to_owned()), want, "{text}");
        }
    }

    #[test]
    fn odd_fields_are_lenient_and_a_missing_status_is_an_error() {
        let job = rds_job(
            br#"{"job":{"status":"Running","id":7,"instance":"x","process":{},"progress":"42.5",
                 "entities":[1],"fail_reason":{},"created":null}}"#,
        )
        .unwrap();
        assert_eq!(job.job_id.as_deref(), Some("7"));
        assert_eq!(job.entities.get("instance_id"), None);
        assert_eq!(job.entities.get("process_percent").unwrap(), 42.5);
        assert_eq!(job.begin_time, None);
        let err = rds_job(br#"{"error_code":"DBS.200543","error_msg":"The job does not exist."}"#)
            .unwrap_err();
        assert!(err.contains("DBS.200543"), "{err}");
        let err = rds_job(br#"{"job":{"name":"x"}}"#).unwrap_err();
        assert!(err.contains("job.status"), "{err}");
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            br#"{"job":{"status":5}}"#,
            b"\xff",
        ] {
            assert!(rds_job(body).is_err(), "{body:?}");
        }
        // A classic document is not a task center one.
        assert!(rds_job(br#"{"status":"SUCCESS","job_id":"j"}"#).is_err());
    }

    #[test]
    fn texts_are_capped_and_read_lossily() {
        let huge = "x".repeat(10 * MAX_TEXT);
        let body = serde_json::json!({"job": {"status": huge, "fail_reason": huge,
            "name": huge, "instance": {"id": huge}}});
        let job = rds_job(body.to_string().as_bytes()).unwrap();
        assert!(job.status.as_str().len() < 200);
        for text in [job.fail_reason.as_deref(), job.job_type.as_deref()] {
            assert!(text.unwrap().len() < MAX_TEXT + 64);
        }
        let id = job.entities.get("instance_id").unwrap().as_str().unwrap();
        assert!(id.len() < MAX_TEXT + 64);
        let mut body = br#"{"job":{"status":"Failed","fail_reason":"caf"#.to_vec();
        body.push(0xe9);
        body.extend_from_slice(br#""}}"#);
        let job = rds_job(&body).unwrap();
        assert_eq!(job.status, JobStatus::Fail);
        assert_eq!(job.fail_reason.as_deref(), Some("caf\u{fffd}"));
    }

    #[test]
    fn cce_published_example() {
        let job = cce_job(&fixture("cce-job-running.json")).unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(
            job.job_id.as_deref(),
            Some("354331b2c-229a-11e8-9c75-0255ac100ceb")
        );
        assert_eq!(job.job_type.as_deref(), Some("CreateCluster"));
        assert_eq!(job.begin_time.as_deref(), Some("2020-02-02T08:12:40.672Z"));
        assert_eq!(
            job.end_time(),
            None,
            "updateTimestamp is no end while running"
        );
        assert_eq!(job.fail_reason, None, "\"\" is no reason");
        assert_eq!(job.error_code, None);
        assert_eq!(
            job.entities.get("cluster_id").unwrap(),
            "4d1ecb2c-229a-11e8-9c75-0255ac100ceb"
        );
        assert_eq!(job.entities.other.len(), 1, "only the cluster is an entity");
        assert_eq!(job.entities.sub_jobs_total, Some(2));
        let [master, cert] = &job.entities.sub_jobs[..] else {
            panic!("{:?}", job.entities.sub_jobs)
        };
        assert_eq!(master.status, JobStatus::Success);
        assert_eq!(master.job_type.as_deref(), Some("InstallMaster"));
        assert_eq!(
            master.job_id.as_deref(),
            Some("fd474fab-9606-11e8-baa9-0255ac10215d")
        );
        assert_eq!(
            master.begin_time.as_deref(),
            Some("2020-02-02T03:52:34.615Z")
        );
        assert_eq!(master.end_time(), Some("2020-02-02T04:05:29.196Z"));
        assert_eq!(
            master.entities.get("cluster_id").unwrap(),
            "fcc72de0-9606-11e8-baa8-0255ac10215d"
        );
        assert_eq!(cert.job_type.as_deref(), Some("CreatePSMCert"));
        assert_eq!(cert.status, JobStatus::Success);
    }

    #[test]
    fn cce_phases_are_read_in_any_case_and_others_kept() {
        for (word, want) in [
            ("Initializing", JobStatus::Init),
            ("Running", JobStatus::Running),
            ("SUCCESS", JobStatus::Success),
            ("success", JobStatus::Success),
            ("Failed", JobStatus::Fail),
            ("FAILED", JobStatus::Fail),
            ("Completed", JobStatus::Unknown("Completed".into())),
            ("Fail", JobStatus::Unknown("Fail".into())),
        ] {
            let body = format!(r#"{{"status":{{"phase":"{word}"}}}}"#);
            assert_eq!(cce_job(body.as_bytes()).unwrap().status, want, "{word}");
        }
    }

    #[test]
    fn cce_failed_job_and_failed_sub_job() {
        let body = br#"{"kind":"Job","metadata":{"uid":"j1",
            "creationTimestamp":"2020-02-02 08:12:40 +0800 CST",
            "updateTimestamp":"2020-02-02T09:00:00Z"},
            "spec":{"type":"CreateNode","clusterUID":"c1","subJobs":[
              {"metadata":{"uid":"s1"},"spec":{"type":"CreateVM","clusterUID":"c1"},
               "status":{"phase":"Failed","reason":"quota"}},
              {"spec":{"type":"no phase"},"status":{}},
              {"status":{"phase":"Running"},"spec":{"subJobs":[{"status":{"phase":"Success"}}]}}]},
            "status":{"phase":"Failed","reason":"sub-job CreateVM failed"}}"#;
        let job = cce_job(body).unwrap();
        assert_eq!(job.status, JobStatus::Fail);
        assert_eq!(job.fail_reason.as_deref(), Some("sub-job CreateVM failed"));
        assert_eq!(job.begin_time.as_deref(), Some("2020-02-02T00:12:40Z"));
        assert_eq!(job.end_time(), Some("2020-02-02T09:00:00Z"));
        // The sub-job without a phase cannot be judged, but still counts.
        assert_eq!(job.entities.sub_jobs_total, Some(3));
        assert_eq!(job.entities.sub_jobs.len(), 2);
        let failed = &job.entities.sub_jobs[0];
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("quota"));
        assert_eq!(failed.entities.get("cluster_id").unwrap(), "c1");
        let nested = &job.entities.sub_jobs[1].entities.sub_jobs[0];
        assert_eq!(nested.status, JobStatus::Success);
    }

    #[test]
    fn cce_odd_fields_are_lenient_and_a_missing_phase_is_an_error() {
        let job =
            cce_job(br#"{"status":{"phase":"Running","reason":{}},"metadata":[1],"spec":"x"}"#)
                .unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(
            (job.job_id, job.job_type, job.fail_reason),
            (None, None, None)
        );
        assert_eq!(job.entities, Entities::default());
        let job = cce_job(
            br#"{"status":{"phase":"Success"},"metadata":{"uid":7,"creationTimestamp":"soon"},
                 "spec":{"clusterUID":"","subJobs":{"a":1}}}"#,
        )
        .unwrap();
        assert_eq!(job.job_id.as_deref(), Some("7"));
        assert_eq!(job.begin_time.as_deref(), Some("soon"), "kept as written");
        assert_eq!(job.entities, Entities::default(), "\"\" is no cluster");
        let err = cce_job(&fixture("cce-error-401.json")).unwrap_err();
        assert!(err.contains("CCE.01401001"), "{err}");
        let err = cce_job(br#"{"kind":"Job","status":{"reason":"x"}}"#).unwrap_err();
        assert!(err.contains("status.phase"), "{err}");
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            br#"{"status":{"phase":5}}"#,
            br#"{"status":"Running"}"#,
            b"\xff",
        ] {
            assert!(cce_job(body).is_err(), "{body:?}");
        }
        // Neither a classic nor a task center document is a CCE one.
        assert!(cce_job(br#"{"status":"SUCCESS","job_id":"j"}"#).is_err());
        assert!(cce_job(br#"{"job":{"status":"Completed"}}"#).is_err());
    }

    #[test]
    fn cce_texts_are_capped_and_read_lossily() {
        let huge = "x".repeat(10 * MAX_TEXT);
        let body = serde_json::json!({"status": {"phase": huge, "reason": huge},
            "metadata": {"uid": huge}, "spec": {"type": huge, "clusterUID": huge}});
        let job = cce_job(body.to_string().as_bytes()).unwrap();
        assert!(job.status.as_str().len() < 200);
        for text in [&job.fail_reason, &job.job_type, &job.job_id] {
            assert!(text.as_deref().unwrap().len() < MAX_TEXT + 64);
        }
        let id = job.entities.get("cluster_id").unwrap().as_str().unwrap();
        assert!(id.len() < MAX_TEXT + 64);
        let mut body = br#"{"status":{"phase":"Failed","reason":"caf"#.to_vec();
        body.push(0xe9);
        body.extend_from_slice(br#""}}"#);
        let job = cce_job(&body).unwrap();
        assert_eq!(job.status, JobStatus::Fail);
        assert_eq!(job.fail_reason.as_deref(), Some("caf\u{fffd}"));
    }

    #[test]
    fn go_times_become_utc_and_odd_ones_stay() {
        for (text, want) in [
            (
                "2020-02-02 08:12:40.672772389 +0000 UTC",
                "2020-02-02T08:12:40.672Z",
            ),
            ("2020-02-02 08:12:40 +0800 CST", "2020-02-02T00:12:40Z"),
            ("2020-02-02 08:12:40 -0130 XYZ", "2020-02-02T09:42:40Z"),
            ("2020-02-02T08:12:40Z", "2020-02-02T08:12:40Z"),
            ("2020-02-02T08:12:40+0100", "2020-02-02T07:12:40Z"),
            (
                "2020-02-02 08:12:40 +9999 UTC",
                "2020-02-02 08:12:40 +9999 UTC",
            ),
            ("later +0000 UTC", "later +0000 UTC"),
            ("a b c", "a b c"),
            ("", ""),
        ] {
            assert_eq!(go_time_utc(text.to_owned()), want, "{text}");
        }
    }

    #[test]
    fn gaussdb_and_taurusdb_published_examples() {
        let done = rds_job(&fixture("gaussdb-job-completed.json")).unwrap();
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.job_type.as_deref(), Some("CreateGaussDBV5Instance"));
        assert_eq!(done.begin_time.as_deref(), Some("2021-07-12T01:22:04Z"));
        assert_eq!(done.end_time(), Some("2021-07-12T02:10:13Z"));
        assert_eq!(
            done.entities.get("instance_id").unwrap(),
            "b34f8c791f2643578510c093aa2351a8in14"
        );
        let done = rds_job(&fixture("taurusdb-job-completed.json")).unwrap();
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.end_time(), Some("2018-08-06T16:41:14Z"));
        assert_eq!(
            done.entities.get("instance_id").unwrap(),
            "a48e43ff268f4c0e879652d65e63d0fbin07"
        );
    }

    #[test]
    fn geminidb_task_list() {
        let running = nosql_jobs(&fixture("geminidb-jobs-running.json"))
            .unwrap()
            .unwrap();
        assert_eq!(running.status, JobStatus::Running);
        assert_eq!(running.job_type.as_deref(), Some("CreateCassandra"));
        assert_eq!(running.begin_time.as_deref(), Some("2023-09-12T06:44:01Z"));
        assert_eq!(running.entities.get("process_percent").unwrap(), 14);
        assert_eq!(
            running.entities.get("instance_id").unwrap(),
            "27a045b6bf9e46f691f81366d398cb04in06"
        );
        assert_eq!(running.fail_reason, None, "\"\" is no reason");
        // An empty list: no such job; a list of odd members: not a document.
        assert_eq!(nosql_jobs(br#"{"total_count":0,"jobs":[]}"#).unwrap(), None);
        assert!(nosql_jobs(br#"{"jobs":[{"name":"x"},7]}"#).is_err());
        let failed = nosql_jobs(br#"{"jobs":[{"status":"failed","fail_reason":"disk","id":"j"}]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("disk"));
        let err = nosql_jobs(br#"{"error_code":"DBS.280001","error_msg":"x"}"#).unwrap_err();
        assert!(err.contains("DBS.280001"), "{err}");
        for body in [&b""[..], b"[]", b"null", br#"{"jobs":{}}"#, b"\xff"] {
            assert!(nosql_jobs(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn dcs_published_example_has_epoch_millisecond_times() {
        let job = dcs_job(&fixture("dcs-job-success.json")).unwrap();
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(job.job_type.as_deref(), Some("masterStandbySwapJob"));
        assert_eq!(job.begin_time.as_deref(), Some("2023-05-15T22:59:05.379Z"));
        assert_eq!(job.end_time(), Some("2023-05-15T22:59:08.248Z"));
        assert_eq!(job.fail_reason, None);
        assert_eq!(job.entities, Entities::default());
        for (word, want) in [
            ("INIT", JobStatus::Init),
            ("running", JobStatus::Running),
            ("Success", JobStatus::Success),
            ("fail", JobStatus::Fail),
            ("FAILED", JobStatus::Unknown("FAILED".into())),
        ] {
            let body = format!(r#"{{"status":"{word}","end_time":""}}"#);
            let job = dcs_job(body.as_bytes()).unwrap();
            assert_eq!(job.status, want, "{word}");
            assert_eq!(job.end_time(), None);
        }
        let err = dcs_job(&fixture("dcs-error-400.json")).unwrap_err();
        assert!(err.contains("111400063"), "{err}");
    }

    #[test]
    fn epoch_milliseconds_become_utc_and_odd_ones_stay() {
        for (text, want) in [
            ("1684191545379", "2023-05-15T22:59:05.379Z"),
            ("0", "1970-01-01T00:00:00.000Z"),
            ("", ""),
            ("-5", "-5"),
            ("1.5", "1.5"),
            ("99999999999999999999", "99999999999999999999"),
            ("253402300800000", "253402300800000"),
            ("2023-05-15T22:59:05Z", "2023-05-15T22:59:05Z"),
        ] {
            assert_eq!(epoch_ms_utc(text.to_owned()), want, "{text}");
        }
    }

    #[test]
    fn sfs_turbo_published_example_and_sub_jobs() {
        let job = sfs_turbo_job(&fixture("sfs-turbo-job-success.json")).unwrap();
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(job.job_type.as_deref(), Some("bind_ldap"));
        assert_eq!(job.begin_time.as_deref(), Some("2023-07-26T09:33:58Z"));
        assert_eq!(job.end_time(), Some("2023-07-26T09:33:58Z"));
        let job = sfs_turbo_job(
            br#"{"status":"failed","job_id":"j","error_code":"SFS.TURBO.9000",
                 "fail_reason":"no capacity","sub_jobs":[
                   {"status":"success","job_id":"s1","job_type":"create_share"},
                   {"status":"FAILED","job_id":"s2","fail_reason":"quota"},
                   {"job_id":"no status"}]}"#,
        )
        .unwrap();
        assert_eq!(job.status, JobStatus::Fail);
        assert_eq!(job.error_code.as_deref(), Some("SFS.TURBO.9000"));
        assert_eq!(job.fail_reason.as_deref(), Some("no capacity"));
        assert_eq!(job.entities.sub_jobs_total, Some(3));
        let subs: Vec<_> = job.entities.sub_jobs.iter().map(|s| &s.status).collect();
        assert_eq!(subs, [&JobStatus::Success, &JobStatus::Fail]);
        for (word, want) in [
            ("waiting", JobStatus::Init),
            ("Running", JobStatus::Running),
            ("SUCCESS", JobStatus::Success),
            ("FAIL", JobStatus::Unknown("FAIL".into())),
        ] {
            let body = format!(r#"{{"status":"{word}"}}"#);
            assert_eq!(
                sfs_turbo_job(body.as_bytes()).unwrap().status,
                want,
                "{word}"
            );
        }
        let err = sfs_turbo_job(&fixture("sfs-turbo-error-404.json")).unwrap_err();
        assert!(err.contains("SFS.TURBO.0001"), "{err}");
        for (text, want) in [
            ("2016-01-02 15:04:05", "2016-01-02T15:04:05Z"),
            ("2016-01-02T15:04:05+0100", "2016-01-02T14:04:05Z"),
            ("", ""),
            ("soon", "soon"),
        ] {
            assert_eq!(utc_without_zone(text.to_owned()), want, "{text}");
        }
    }

    #[test]
    fn elb_classic_published_example_is_the_classic_shape() {
        let job = Job::from_slice(&fixture("elb-classic-job-running.json")).unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(
            job.entities.get("elb_id").unwrap(),
            "ea3e5715b68850a747ec41f335625c08"
        );
        assert_eq!(job.end_time(), None);
    }

    /// ELB v3 has no published example: a body written from its field table.
    #[test]
    fn elb_v3_job_from_its_field_table() {
        let job = elb_job(
            br#"{"job":{"status":"RUNNING","job_id":"j1","job_type":"cloneLoadbalancer",
                 "begin_time":"2024-01-02T03:04:05Z","project_id":"p","resource_id":"lb1",
                 "sub_jobs":[
                   {"status":"COMPLETE","job_id":"s1","resource_id":"lb2",
                    "entities":[{"resource_id":"l1","resource_type":"listener"}]},
                   {"status":"CANCEL","job_id":"s2"},
                   {"status":"ROLLBACK_FAIL","job_id":"s3","error_msg":"rollback"}]},
                 "request_id":"r"}"#,
        )
        .unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.job_type.as_deref(), Some("cloneLoadbalancer"));
        assert_eq!(job.entities.get("elb_id").unwrap(), "lb1");
        assert_eq!(job.entities.sub_jobs_total, Some(3));
        let [done, cancelled, rolled] = &job.entities.sub_jobs[..] else {
            panic!("{:?}", job.entities.sub_jobs)
        };
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.entities.get("elb_id").unwrap(), "lb2");
        assert_eq!(cancelled.status, JobStatus::Fail);
        assert_eq!(
            cancelled.fail_reason.as_deref(),
            Some("CANCEL"),
            "the word is the reason"
        );
        assert_eq!(rolled.fail_reason.as_deref(), Some("rollback"));
        for (word, want) in [
            ("init", JobStatus::Init),
            ("ROLLBACKING", JobStatus::Running),
            ("success", JobStatus::Success),
            ("Fail", JobStatus::Fail),
            ("DONE", JobStatus::Unknown("DONE".into())),
        ] {
            let body = format!(r#"{{"job":{{"status":"{word}"}}}}"#);
            assert_eq!(elb_job(body.as_bytes()).unwrap().status, want, "{word}");
        }
        let failed =
            elb_job(br#"{"job":{"status":"FAIL","error_code":"ELB.1","error_msg":"quota"}}"#)
                .unwrap();
        assert_eq!(failed.error_code.as_deref(), Some("ELB.1"));
        assert_eq!(failed.fail_reason.as_deref(), Some("quota"));
        let err = elb_job(br#"{"error_code":"ELB.8902","error_msg":"x"}"#).unwrap_err();
        assert!(err.contains("ELB.8902"), "{err}");
        for body in [
            &b""[..],
            b"{}",
            br#"{"job":{"status":1}}"#,
            br#"{"status":"SUCCESS"}"#,
        ] {
            assert!(elb_job(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn cbr_published_example_names_the_backup() {
        let job = cbr_operation_log(&fixture("cbr-operation-log-success.json")).unwrap();
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(
            job.job_id.as_deref(),
            Some("4827f2da-b008-4507-ab7d-42d0df5ed912")
        );
        assert_eq!(job.job_type.as_deref(), Some("backup"));
        assert_eq!(job.begin_time.as_deref(), Some("2019-05-23T14:31:36.007Z"));
        assert_eq!(job.end_time(), Some("2019-05-23T14:35:23.511Z"));
        assert_eq!(
            (job.error_code, job.fail_reason),
            (None, None),
            "\"\" is none"
        );
        let keys: Vec<&str> = job.entities.other.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["backup_id"], "no progress once over, no other ids");
        assert_eq!(
            job.entities.get("backup_id").unwrap(),
            "0e5d0ef6-7f0a-4890-b98c-cb12490e31c1"
        );
        let running = cbr_operation_log(
            br#"{"operation_log":{"status":"running","extra_info":{"common":{"progress":42}}}}"#,
        )
        .unwrap();
        assert_eq!(running.entities.get("process_percent").unwrap(), 42);
        for (word, want, reason) in [
            ("waiting", JobStatus::Init, None),
            ("RUNNING", JobStatus::Running, None),
            ("failed", JobStatus::Fail, None),
            ("timeout", JobStatus::Fail, Some("timeout")),
            ("skipped", JobStatus::Fail, Some("skipped")),
            ("queued", JobStatus::Unknown("queued".into()), None),
        ] {
            let body = format!(r#"{{"operation_log":{{"status":"{word}"}}}}"#);
            let job = cbr_operation_log(body.as_bytes()).unwrap();
            assert_eq!(job.status, want, "{word}");
            assert_eq!(job.fail_reason.as_deref(), reason, "{word}");
        }
        let failed = cbr_operation_log(
            br#"{"operation_log":{"status":"failed","error_info":{"code":"BackupService.6001","message":"disk busy"},
                 "extra_info":[1]}}"#,
        )
        .unwrap();
        assert_eq!(failed.error_code.as_deref(), Some("BackupService.6001"));
        assert_eq!(failed.fail_reason.as_deref(), Some("disk busy"));
        let err = cbr_operation_log(&fixture("cbr-error-404.json")).unwrap_err();
        assert!(err.contains("BackupService.6500"), "{err}");
    }

    proptest::proptest! {
        /// Whatever these services send, the readers answer and never panic.
        #[test]
        fn any_body_of_the_other_shapes_is_a_job_or_an_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = nosql_jobs(&body);
            let _ = dcs_job(&body);
            let _ = sfs_turbo_job(&body);
            let _ = elb_job(&body);
            let _ = cbr_operation_log(&body);
        }

        #[test]
        fn any_epoch_text_is_kept_or_normalised(ms in proptest::prelude::any::<u64>(), other in ".{0,24}") {
            let _ = epoch_ms_utc(ms.to_string());
            let _ = epoch_ms_utc(other.clone());
            let _ = utc_without_zone(other);
        }
    }

    proptest::proptest! {
        /// Whatever CCE sends, the parser answers and never panics.
        #[test]
        fn any_cce_body_is_a_job_or_an_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = cce_job(&body);
        }

        /// Any tree of phases is read with one sub-job per listed object that has a phase.
        #[test]
        fn any_cce_phase_tree_is_read(
            phases in proptest::collection::vec("(Initializing|Running|Success|Failed|[A-Za-z]{0,8})", 0..6),
            top in "(Initializing|Running|Success|Failed)",
        ) {
            let subs: Vec<Value> = phases
                .iter()
                .map(|p| serde_json::json!({"status": {"phase": p}, "spec": {"clusterUID": "c"}}))
                .collect();
            let body = serde_json::json!({"status": {"phase": top}, "spec": {"subJobs": subs}});
            let job = cce_job(body.to_string().as_bytes()).unwrap();
            proptest::prop_assert_eq!(job.entities.sub_jobs.len(), phases.len());
            for (sub, phase) in job.entities.sub_jobs.iter().zip(&phases) {
                proptest::prop_assert_eq!(&sub.status, &JobStatus::parse_words(phase.clone(), CCE_STATUSES));
            }
        }

        #[test]
        fn any_go_time_text_is_kept_or_normalised(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})? [+-][0-9]{4} [A-Z]{1,5}",
            other in ".{0,40}",
        ) {
            let _ = go_time_utc(text);
            let _ = go_time_utc(other);
        }

        /// Whatever the server sends, the parser answers and never panics.
        #[test]
        fn any_body_is_a_job_or_an_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = rds_job(&body);
        }

        #[test]
        fn any_time_text_is_kept_or_normalised(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([+-][0-9]{2}:?[0-9]{2}|Z)?",
            other in ".{0,40}",
        ) {
            let _ = rfc3339_utc(text);
            let _ = rfc3339_utc(other);
        }

        #[test]
        fn any_progress_text_is_a_number_or_none(text in ".{0,12}") {
            let body = serde_json::json!({"job": {"status": "Running", "process": text}});
            let job = rds_job(body.to_string().as_bytes()).unwrap();
            if let Some(p) = job.entities.get("process_percent") {
                proptest::prop_assert!(p.is_number());
            }
        }
    }
}
