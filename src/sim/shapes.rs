//! The simulator's job documents for the services whose API is neither the classic one nor the
//! database task center nor CCE (those are in `server`): GeminiDB's task list, DCS, SFS Turbo,
//! ELB v3 and CBR, each with the field names, status words and time formats of its published
//! API reference, so the client's readers ([`crate::cloud::shapes`]) are tested against what
//! the services send; and the documents of services described in a scenario's `services`
//! block, written where their pointers say.
//!
//! Every renderer takes the timeline's common words (`INIT`, `RUNNING`, `SUCCESS`, `FAIL`) and
//! writes the service's own; any other word of a scenario passes through as written, so
//! scenarios can send words the service does not document.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::scenario::Job;
use super::timeline::{format_time, JobState};
use crate::cloud::described::DescribedApi;

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

/// A service described as in a spec's `services` (its status, reason, error code, entities
/// and sub-jobs where its pointers say): the timeline's `SUCCESS` and `FAIL` as the first word
/// of its `success` and `failure` lists, `INIT` and `RUNNING` as the first of `pending` (or
/// `RUNNING`), other words as written; sub-jobs in the array at `sub_jobs`, each written with
/// the same pointers relative to itself. A description has no times: none are written.
pub(super) fn described_doc(api: &DescribedApi, job: &Job, state: &JobState<'_>) -> Value {
    let d = api.description();
    let pending = d
        .pending
        .as_ref()
        .and_then(|p| p.first())
        .map_or("RUNNING", String::as_str);
    let status = word(
        state.status,
        [
            pending,
            pending,
            d.success[0].as_str(),
            d.failure[0].as_str(),
        ],
    );
    let mut doc = Value::Object(Map::new());
    put(&mut doc, &d.status, status.into());
    if state.status == "FAIL" {
        if let (Some(pointer), Some(reason)) = (&d.fail_reason, &job.fail_reason) {
            put(&mut doc, pointer, reason.clone().into());
        }
        if let (Some(pointer), Some(code)) = (&d.error_code, &job.error_code) {
            put(&mut doc, pointer, code.clone().into());
        }
    }
    if let Some(pointer) = &d.entities {
        if !job.entities.is_empty() {
            put(&mut doc, pointer, Value::Object(job.entities.clone()));
        }
    }
    if let Some(pointer) = &d.sub_jobs {
        let subs: Vec<Value> = job
            .sub_jobs
            .iter()
            .zip(&state.sub_jobs)
            .map(|(sub, sub_state)| described_doc(api, sub, sub_state))
            .collect();
        put(&mut doc, pointer, subs.into());
    }
    doc
}

/// `value` at `pointer` in `root`, making the objects (and, for a numeric token, arrays) on the
/// way; an existing value of the wrong kind on the way is replaced.
fn put(root: &mut Value, pointer: &str, value: Value) {
    if pointer.is_empty() {
        if let (Value::Object(into), Value::Object(from)) = (&mut *root, &value) {
            into.extend(from.clone());
        } else {
            *root = value;
        }
        return;
    }
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut at = root;
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let index = token.parse::<usize>().ok().filter(|i| *i < 64);
        at = match index {
            Some(index) => {
                if !at.is_array() {
                    *at = Value::Array(Vec::new());
                }
                let items = at.as_array_mut().expect("made an array");
                while items.len() <= index {
                    items.push(Value::Object(Map::new()));
                }
                &mut items[index]
            }
            None => {
                if !at.is_object() {
                    *at = Value::Object(Map::new());
                }
                at.as_object_mut()
                    .expect("made an object")
                    .entry(token.clone())
                    .or_insert(Value::Null)
            }
        };
        if last {
            *at = value;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cloud::service::{DocumentError, Shape};
    use crate::cloud::wire::{Job as ReadJob, JobStatus};
    use crate::sim::scenario::Scenario;
    use crate::sim::timeline::job_state;

    fn job(yaml: &str) -> Job {
        Scenario::from_yaml(&format!("jobs: [ {yaml} ]"))
            .unwrap()
            .jobs
            .remove(0)
    }

    /// The document of `yaml`'s job at `t` seconds, read back by the client's reader of `shape`:
    /// what the simulator writes is what the client reads.
    fn read(
        shape: Shape,
        render: fn(&Job, &JobState<'_>, SystemTime) -> Value,
        yaml: &str,
        t: f64,
    ) -> ReadJob {
        let j = job(yaml);
        let state = job_state(&j, Duration::from_secs_f64(t));
        let doc = render(&j, &state, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        shape
            .parse(doc.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{e:?}: {doc:#}"))
    }

    const TIMELINE: &str =
        "timeline: [ { status: INIT, for: 1s }, { status: RUNNING, for: 1s }, { status: SUCCESS } ]";
    const FAILS: &str = "timeline: [ { status: RUNNING, for: 1s }, { status: FAIL } ]";

    #[test]
    fn geminidb_task_list_reads_back() {
        let y = format!(
            "{{ id: g, service: gaussdb-nosql, job_type: CreateCassandra, progress: true, {TIMELINE}, entities: {{ instance_id: in06 }} }}"
        );
        let running = read(Shape::NosqlJobs, nosql_doc, &y, 1.5);
        assert_eq!(running.status, JobStatus::Running);
        assert!(running.entities.get("process_percent").is_some());
        let done = read(Shape::NosqlJobs, nosql_doc, &y, 3.0);
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.begin_time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(done.end_time(), Some("2023-11-14T22:13:22Z"));
        assert_eq!(done.entities.get("instance_id").unwrap(), "in06");
        let y = format!("{{ id: g, service: gaussdb-nosql, {FAILS}, fail_reason: no disk }}");
        let failed = read(Shape::NosqlJobs, nosql_doc, &y, 2.0);
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("no disk"));
        assert_eq!(
            Shape::NosqlJobs.parse(br#"{"total_count":0,"jobs":[]}"#),
            Err(DocumentError::Absent(
                "no such job: the task list is empty".into()
            ))
        );
    }

    #[test]
    fn dcs_document_reads_back_with_epoch_times() {
        let y = format!("{{ id: d, service: dcs, job_type: masterStandbySwapJob, {TIMELINE} }}");
        let init = read(Shape::DcsJob, dcs_doc, &y, 0.5);
        assert_eq!(init.status, JobStatus::Init);
        assert_eq!(init.end_time(), None);
        let done = read(Shape::DcsJob, dcs_doc, &y, 3.0);
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.begin_time.as_deref(), Some("2023-11-14T22:13:20.000Z"));
        assert_eq!(done.end_time(), Some("2023-11-14T22:13:22.000Z"));
        let j = job(&y);
        let doc = dcs_doc(&j, &job_state(&j, Duration::ZERO), UNIX_EPOCH);
        assert_eq!(doc["begin_time"], "0", "epoch milliseconds as text");
    }

    #[test]
    fn sfs_turbo_document_reads_back_with_sub_jobs() {
        let y = format!(
            "{{ id: s, service: sfs-turbo, job_type: extend_share, {TIMELINE},
               sub_jobs: [ {{ id: s1, status: SUCCESS }}, {{ id: s2, {FAILS}, fail_reason: quota, error_code: SFS.TURBO.9 }} ] }}"
        );
        let waiting = read(Shape::SfsTurboJob, sfs_turbo_doc, &y, 0.5);
        assert_eq!(waiting.status, JobStatus::Init);
        let done = read(Shape::SfsTurboJob, sfs_turbo_doc, &y, 3.0);
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.begin_time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(done.entities.sub_jobs_total, Some(2));
        let failed = &done.entities.sub_jobs[1];
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("quota"));
        assert_eq!(failed.error_code.as_deref(), Some("SFS.TURBO.9"));
        let j = job(&y);
        let doc = sfs_turbo_doc(&j, &job_state(&j, Duration::ZERO), UNIX_EPOCH);
        assert_eq!(doc["status"], "waiting");
        assert_eq!(doc["begin_time"], "1970-01-01 00:00:00");
    }

    #[test]
    fn elb_document_reads_back_with_its_resource() {
        let y = format!(
            "{{ id: e, service: elb, job_type: cloneLoadbalancer, {TIMELINE}, entities: {{ elb_id: lb1 }},
               sub_jobs: [ {{ id: e1, status: SUCCESS }}, {{ id: e2, status: COMPLETE, entities: {{ elb_id: lb2 }} }} ] }}"
        );
        let j = job(&y);
        let state = job_state(&j, Duration::from_secs(3));
        let doc = elb_doc(&j, &state, UNIX_EPOCH, "req-1");
        assert_eq!(doc["request_id"], "req-1");
        let done = Shape::ElbJob.parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.entities.get("elb_id").unwrap(), "lb1");
        let subs = &done.entities.sub_jobs;
        assert_eq!(
            subs[0].entities.get("elb_id").unwrap(),
            "lb1",
            "the parent's"
        );
        assert_eq!(subs[1].status, JobStatus::Success, "COMPLETE");
        assert_eq!(subs[1].entities.get("elb_id").unwrap(), "lb2");
        let y =
            format!("{{ id: e, service: elb, {FAILS}, fail_reason: quota, error_code: ELB.1 }}");
        let j = job(&y);
        let doc = elb_doc(&j, &job_state(&j, Duration::from_secs(2)), UNIX_EPOCH, "r");
        let failed = Shape::ElbJob.parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("quota"));
        assert_eq!(failed.error_code.as_deref(), Some("ELB.1"));
    }

    #[test]
    fn cbr_document_reads_back_with_backup_and_progress() {
        let y = format!(
            "{{ id: c, service: cbr, job_type: backup, progress: true, {TIMELINE},
               entities: {{ backup_id: b1, backup_name: manual }} }}"
        );
        let running = read(Shape::CbrOperationLog, cbr_doc, &y, 1.5);
        assert_eq!(running.status, JobStatus::Running);
        assert!(running.entities.get("process_percent").is_some());
        let done = read(Shape::CbrOperationLog, cbr_doc, &y, 3.0);
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.job_type.as_deref(), Some("backup"));
        assert_eq!(done.begin_time.as_deref(), Some("2023-11-14T22:13:20.000Z"));
        assert_eq!(done.end_time(), Some("2023-11-14T22:13:22.000Z"));
        assert_eq!((done.error_code, done.fail_reason), (None, None));
        assert_eq!(done.entities.get("backup_id").unwrap(), "b1");
        let y = format!(
            "{{ id: c, service: cbr, {FAILS}, fail_reason: busy, error_code: BackupService.6001 }}"
        );
        let failed = read(Shape::CbrOperationLog, cbr_doc, &y, 2.0);
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("busy"));
        assert_eq!(failed.error_code.as_deref(), Some("BackupService.6001"));
    }

    #[test]
    fn words_outside_the_timeline_pass_through() {
        let y = "{ id: c, service: cbr, status: timeout }";
        let j = job(y);
        let doc = cbr_doc(&j, &job_state(&j, Duration::ZERO), UNIX_EPOCH);
        assert_eq!(doc["operation_log"]["status"], "timeout");
        let read_back = Shape::CbrOperationLog
            .parse(doc.to_string().as_bytes())
            .unwrap();
        assert_eq!(read_back.status, JobStatus::Fail);
        assert_eq!(read_back.fail_reason.as_deref(), Some("timeout"));
    }

    #[test]
    fn a_described_service_reads_back_through_its_own_description() {
        use crate::cloud::described::ServiceDescription;
        let api = DescribedApi::new(
            "dms",
            ServiceDescription {
                path: "/v2/{project_id}/instances/i/tasks/{job_id}".into(),
                status: "/tasks/0/status".into(),
                success: vec!["SUCCESS".into()],
                failure: vec!["FAILED".into()],
                pending: Some(vec!["CREATING".into()]),
                fail_reason: Some("/tasks/0/message".into()),
                error_code: Some("/tasks/0/code".into()),
                entities: Some("/tasks/0/ids".into()),
                sub_jobs: Some("/tasks/0/steps".into()),
            },
        )
        .unwrap();
        let j = job(&format!(
            "{{ id: d, {TIMELINE}, entities: {{ topic_id: t1, name: n }},
               sub_jobs: [ {{ id: s1, status: SUCCESS }}, {{ id: s2, {FAILS}, fail_reason: disk }} ] }}"
        ));
        let at = |t: f64| {
            let state = job_state(&j, Duration::from_secs_f64(t));
            let doc = described_doc(&api, &j, &state);
            (doc.clone(), api.parse(doc.to_string().as_bytes()).unwrap())
        };
        let (doc, running) = at(0.5);
        assert_eq!(doc["tasks"][0]["status"], "CREATING");
        assert_eq!(running.status, JobStatus::Running);
        let (_, done) = at(3.0);
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.entities.get("topic_id").unwrap(), "t1");
        assert_eq!(done.entities.other.len(), 1, "only *_id fields");
        assert_eq!(done.entities.sub_jobs_total, Some(2));
        assert_eq!(done.entities.sub_jobs[1].status, JobStatus::Fail);
        assert_eq!(
            done.entities.sub_jobs[1].fail_reason.as_deref(),
            Some("disk")
        );
        let mut root = json!({"a": 1});
        put(&mut root, "/a/b~1c/2", json!("x"));
        assert_eq!(root, json!({"a": {"b/c": [{}, {}, "x"]}}));
    }
}
