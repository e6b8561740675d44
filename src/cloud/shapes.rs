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

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::wire::{lenient_string, ApiErrorBody, Entities, Job, JobStatus};
use crate::sanitize::{cap, MAX_TEXT};

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
    #[serde(default, deserialize_with = "lenient_string")]
    created: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
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
    Ok(JobStatus::parse_task_center(String::deserialize(d)?))
}

/// A 2xx body of the task center as a job document; the error says why it is not one, without
/// echoing the body.
pub fn rds_job(body: &[u8]) -> Result<Job, String> {
    let lossy;
    let body = match std::str::from_utf8(body) {
        Ok(_) => body,
        Err(_) => {
            lossy = String::from_utf8_lossy(body).into_owned();
            lossy.as_bytes()
        }
    };
    // Objects only: serde would also read a struct from an array.
    if body.trim_ascii_start().starts_with(b"{") {
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
            return Ok(envelope.job.into_job());
        }
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("job").and_then(|job| job.get("status")).is_none() {
        return Err(match ApiErrorBody::find(&value) {
            Some(err) => format!("no job status; the API said {err}"),
            None => "no `job.status` field in the job document".to_owned(),
        });
    }
    serde_json::from_value::<Envelope>(value)
        .map(|envelope| envelope.job.into_job())
        .map_err(|e| format!("unexpected job document: {e}"))
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
            fail_reason: self.fail_reason,
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

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/api-examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

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

    proptest::proptest! {
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
