//! The simulator's job documents for the services whose API is neither the classic one nor the
//! database task center nor CCE (those are in `server`): GeminiDB's task list, DCS, SFS Turbo,
//! ELB v3 and CBR, each with the field names, status words and time formats of its published
//! API reference, so the client's readers ([`crate::cloud::shapes`]) are tested against what
//! the services send.
//!
//! Every renderer takes the timeline's common words (`INIT`, `RUNNING`, `SUCCESS`, `FAIL`) and
//! writes the service's own; any other word of a scenario passes through as written, so
//! scenarios can send words the service does not document.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::scenario::Job;
use super::timeline::{format_time, JobState};

/// The word for `status` in a service's vocabulary (`words`: INIT, RUNNING, SUCCESS, FAIL).
fn word<'a>(status: &'a str, words: [&'a str; 4]) -> &'a str {
    match status {
        "INIT" => words[0],
        "RUNNING" => words[1],
        "SUCCESS" => words[2],
        "FAIL" => words[3],
        other => other,
    }
}

/// The scenario's `fail_reason` once the job failed.
fn reason(job: &Job, state: &JobState<'_>) -> Value {
    match (state.status, &job.fail_reason) {
        ("FAIL", Some(reason)) => reason.clone().into(),
        _ => Value::Null,
    }
}

/// GeminiDB's task list ("Querying Tasks and Details"): `{"total_count": 1, "jobs": [{id, name,
/// status: Running|Completed|Failed, start_time, end_time, progress, instance, fail_reason}]}`,
/// times with a `+0000` offset, the instance from `entities.instance_id`/`instance_name`.
pub(super) fn nosql_doc(job: &Job, state: &JobState<'_>, wall_start: SystemTime) -> Value {
    let time = |t: SystemTime| {
        let utc = humantime::format_rfc3339_seconds(t).to_string();
        format!("{}+0000", utc.trim_end_matches('Z'))
    };
    let progress = match (state.percent, state.end) {
        (Some(p), None) => format!("{p}%"),
        _ => String::new(),
    };
    let mut task = Map::new();
    task.insert("id".into(), job.id.clone().into());
    task.insert("name".into(), job.job_type.clone().into());
    task.insert(
        "status".into(),
        word(state.status, ["Running", "Running", "Completed", "Failed"]).into(),
    );
    task.insert("start_time".into(), time(wall_start + state.begin).into());
    if let Some(end) = state.end {
        task.insert("end_time".into(), time(wall_start + end).into());
    }
    task.insert("progress".into(), progress.into());
    if let Some(id) = job.entities.get("instance_id") {
        let name = job
            .entities
            .get("instance_name")
            .cloned()
            .unwrap_or_else(|| "".into());
        task.insert("instance".into(), json!({"id": id, "name": name}));
    }
    task.insert("fail_reason".into(), reason(job, state));
    json!({"total_count": 1, "jobs": [task]})
}

/// DCS ("Querying the Job Execution Result of a Tenant"): `{job_id, job_type, status:
/// INIT|RUNNING|SUCCESS|FAIL, begin_time, end_time, fail_reason}`, times as epoch-millisecond
/// strings, no entities.
pub(super) fn dcs_doc(job: &Job, state: &JobState<'_>, wall_start: SystemTime) -> Value {
    let ms = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis().to_string())
            .unwrap_or_default()
    };
    json!({
        "job_id": job.id,
        "job_type": job.job_type,
        "status": state.status,
        "begin_time": ms(wall_start + state.begin),
        "end_time": state.end.map(|end| ms(wall_start + end)).unwrap_or_default(),
        "fail_reason": reason(job, state),
    })
}

/// SFS Turbo ("Querying the Status of a Task"): `{job_id, job_type, status:
/// waiting|running|success|failed, begin_time, end_time, error_code, fail_reason, sub_jobs}`,
/// times as `2016-01-02 15:04:05` (UTC), sub-jobs with the same fields.
pub(super) fn sfs_turbo_doc(job: &Job, state: &JobState<'_>, wall_start: SystemTime) -> Value {
    let time = |t: SystemTime| {
        humantime::format_rfc3339_seconds(t)
            .to_string()
            .trim_end_matches('Z')
            .replacen('T', " ", 1)
    };
    let mut doc = Map::new();
    doc.insert("job_id".into(), job.id.clone().into());
    doc.insert(
        "status".into(),
        word(state.status, ["waiting", "running", "success", "failed"]).into(),
    );
    doc.insert("job_type".into(), job.job_type.clone().into());
    doc.insert("begin_time".into(), time(wall_start + state.begin).into());
    if let Some(end) = state.end {
        doc.insert("end_time".into(), time(wall_start + end).into());
    }
    if state.status == "FAIL" {
        if let Some(code) = &job.error_code {
            doc.insert("error_code".into(), code.clone().into());
        }
        doc.insert("fail_reason".into(), reason(job, state));
    }
    if !job.sub_jobs.is_empty() {
        let subs: Vec<Value> = job
            .sub_jobs
            .iter()
            .zip(&state.sub_jobs)
            .map(|(sub, sub_state)| sfs_turbo_doc(sub, sub_state, wall_start))
            .collect();
        doc.insert("sub_jobs".into(), subs.into());
    }
    Value::Object(doc)
}

/// ELB v3 (`ShowJob`): `{"job": {status, job_id, job_type, begin_time, end_time, error_code,
/// error_msg, project_id, resource_id, sub_jobs}, "request_id"}`, statuses as the timeline
/// writes them (ELB's own are upper case: `INIT`, `RUNNING`, `SUCCESS`, `FAIL`, `COMPLETE`…),
/// `resource_id` from `entities.elb_id` (a sub-job without one names its parent's).
pub(super) fn elb_doc(
    job: &Job,
    state: &JobState<'_>,
    wall_start: SystemTime,
    request_id: &str,
) -> Value {
    json!({ "job": elb_job(job, state, wall_start, None), "request_id": request_id })
}

fn elb_job(
    job: &Job,
    state: &JobState<'_>,
    wall_start: SystemTime,
    parent: Option<&Value>,
) -> Value {
    let resource = job.entities.get("elb_id").or(parent);
    let mut doc = Map::new();
    doc.insert("status".into(), state.status.into());
    doc.insert("job_id".into(), job.id.clone().into());
    doc.insert("job_type".into(), job.job_type.clone().into());
    doc.insert(
        "begin_time".into(),
        format_time(wall_start + state.begin).into(),
    );
    if let Some(end) = state.end {
        doc.insert("end_time".into(), format_time(wall_start + end).into());
    }
    if state.status == "FAIL" {
        if let Some(code) = &job.error_code {
            doc.insert("error_code".into(), code.clone().into());
        }
        doc.insert("error_msg".into(), reason(job, state));
    }
    if let Some(id) = resource {
        doc.insert("resource_id".into(), id.clone());
    }
    if !job.sub_jobs.is_empty() {
        let subs: Vec<Value> = job
            .sub_jobs
            .iter()
            .zip(&state.sub_jobs)
            .map(|(sub, sub_state)| elb_job(sub, sub_state, wall_start, resource))
            .collect();
        doc.insert("sub_jobs".into(), subs.into());
    }
    Value::Object(doc)
}

/// CBR ("Querying a Single Task", `ShowOpLog`): `{"operation_log": {id, operation_type, status:
/// waiting|running|success|failed, created_at, started_at, updated_at, ended_at, error_info:
/// {code, message}, extra_info: {backup: {backup_id, backup_name}, common: {progress}}}}`,
/// times as `2019-05-23T14:35:23.584+00:00`, the backup from `entities.backup_id`.
pub(super) fn cbr_doc(job: &Job, state: &JobState<'_>, wall_start: SystemTime) -> Value {
    let time = |t: SystemTime| {
        let utc = humantime::format_rfc3339_millis(t).to_string();
        format!("{}+00:00", utc.trim_end_matches('Z'))
    };
    let failed = state.status == "FAIL";
    let mut log = Map::new();
    log.insert("id".into(), job.id.clone().into());
    log.insert("operation_type".into(), job.job_type.clone().into());
    log.insert(
        "status".into(),
        word(state.status, ["waiting", "running", "success", "failed"]).into(),
    );
    let begin = time(wall_start + state.begin);
    log.insert("created_at".into(), begin.clone().into());
    log.insert("started_at".into(), begin.into());
    if let Some(end) = state.end {
        log.insert("ended_at".into(), time(wall_start + end).into());
        log.insert("updated_at".into(), time(wall_start + end).into());
    }
    log.insert(
        "error_info".into(),
        json!({
            "code": job.error_code.as_deref().filter(|_| failed).unwrap_or_default(),
            "message": job.fail_reason.as_deref().filter(|_| failed).unwrap_or_default(),
        }),
    );
    let mut extra = Map::new();
    if let Some(id) = job.entities.get("backup_id") {
        let name = job
            .entities
            .get("backup_name")
            .cloned()
            .unwrap_or_else(|| "".into());
        extra.insert(
            "backup".into(),
            json!({"backup_id": id, "backup_name": name}),
        );
    }
    let progress = match (state.percent, state.end) {
        (Some(p), None) => Some(p),
        (Some(_), Some(_)) => Some(100),
        _ => None,
    };
    if let Some(p) = progress {
        extra.insert("common".into(), json!({"progress": p}));
    }
    log.insert("extra_info".into(), Value::Object(extra));
    json!({ "operation_log": log })
}
