//! The job API's wire model and its error bodies.
//!
//! The documented job document is loose: every field but `status` and `job_id` may be missing or
//! null, `end_time` is `""` while running, entities differ by service and EIP sub-jobs nest. So
//! everything here is optional and lenient, and statuses are parsed once into [`JobStatus`]
//! (with an `Unknown` case) so the rest of the program never compares strings.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::sanitize::{cap, MAX_TEXT};

/// A job's status as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Init,
    Running,
    Success,
    Fail,
    /// A yearly/monthly order that is not paid yet.
    PendingPayment,
    /// Anything outside the documented set, kept verbatim.
    Unknown(String),
}

/// The classic job API's status words (upper case), with their meaning ([`JobStatus::parse`]
/// reads them; `validate` shows them).
pub(crate) const CLASSIC_STATUSES: &[(&str, JobStatus)] = &[
    ("INIT", JobStatus::Init),
    ("RUNNING", JobStatus::Running),
    ("SUCCESS", JobStatus::Success),
    ("FAIL", JobStatus::Fail),
    ("PENDING_PAYMENT", JobStatus::PendingPayment),
];

impl JobStatus {
    pub fn parse(s: &str) -> JobStatus {
        match s {
            "INIT" => JobStatus::Init,
            "RUNNING" => JobStatus::Running,
            "SUCCESS" => JobStatus::Success,
            "FAIL" => JobStatus::Fail,
            "PENDING_PAYMENT" => JobStatus::PendingPayment,
            other => JobStatus::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::Init => "INIT",
            JobStatus::Running => "RUNNING",
            JobStatus::Success => "SUCCESS",
            JobStatus::Fail => "FAIL",
            JobStatus::PendingPayment => "PENDING_PAYMENT",
            JobStatus::Unknown(s) => s,
        }
    }

    /// SUCCESS and FAIL never change again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::Fail)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // A status is a word: an unknown one is kept, but not at any length.
        Ok(JobStatus::parse(&cap(text, MAX_STATUS)))
    }
}

impl JobStatus {
    /// The status of one IMS `entities.results` member (`success` in the examples, `SUCCESS`,
    /// `FAIL`, `RUNNING`, `INIT` in the field table; also `failed`), in any case; any other
    /// word is kept as [`JobStatus::Unknown`].
    fn parse_ims_result(text: String) -> JobStatus {
        let text = cap(text, MAX_STATUS);
        match text.to_ascii_lowercase().as_str() {
            "success" => JobStatus::Success,
            "fail" | "failed" => JobStatus::Fail,
            "running" => JobStatus::Running,
            "init" => JobStatus::Init,
            _ => JobStatus::Unknown(text),
        }
    }
}

impl JobStatus {
    /// `text` looked up in a service's documented `words` (any case), in the common vocabulary;
    /// any other word is kept as [`JobStatus::Unknown`].
    pub(super) fn parse_words(text: String, words: &[(&str, JobStatus)]) -> JobStatus {
        let text = cap(text, MAX_STATUS);
        words
            .iter()
            .find(|(word, _)| word.eq_ignore_ascii_case(&text))
            .map_or(JobStatus::Unknown(text), |(_, status)| status.clone())
    }
}

/// The longest unknown status kept.
const MAX_STATUS: usize = 128;

/// A job or sub-job document. Sub-jobs have the same shape (EIP batch jobs nest them).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Job {
    pub status: JobStatus,
    #[serde(default, deserialize_with = "lenient_string")]
    pub job_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub job_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub begin_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub fail_reason: Option<String>,
    #[serde(default)]
    pub entities: Entities,
}

/// `entities`: sub-jobs when the job has them, plus whatever else the service puts there.
/// `sub_jobs` is read from `sub_jobs`, or else from IMS's `sub_jobs_result` (the same
/// documents), or else from IMS's `results` (one member each, read by `ims_results`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entities {
    pub sub_jobs_total: Option<u64>,
    pub sub_jobs: Vec<Job>,
    /// Every other field, in API order (`server_id`, `volume_id`, `image_id`, `process_percent`…).
    /// A list, not a map: a document has a handful of these, and a run keeps ten thousand
    /// documents for its report, so a hash table per document is memory for nothing.
    pub other: Vec<(String, Value)>,
}

impl Entities {
    /// The field `key` of [`Entities::other`].
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.other.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Read field by field (no buffering of the whole object, as `#[serde(flatten)]` would), with
/// the same leniency as the rest: odd `sub_jobs_total`/`sub_jobs` values become none, and
/// anything but an object is no entities at all.
impl<'de> Deserialize<'de> for Entities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Entities;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an entities object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entities, A::Error> {
                let mut out = Entities::default();
                // Sub-jobs come from `sub_jobs` (ECS, EVS, EIP), else IMS's `sub_jobs_result`
                // (the same documents), else IMS's per-member `results`: whichever key comes
                // first in the body, the better source wins.
                let mut sub_jobs_result: Option<Vec<Job>> = None;
                let mut results: Option<Vec<Job>> = None;
                let mut have_sub_jobs = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "sub_jobs_total" => {
                            out.sub_jobs_total = lenient_u64(map.next_value::<Value>()?)
                        }
                        "sub_jobs" => {
                            out.sub_jobs = lenient_sub_jobs(map.next_value::<Value>()?);
                            have_sub_jobs = true;
                        }
                        "sub_jobs_result" => {
                            sub_jobs_result = Some(lenient_sub_jobs(map.next_value::<Value>()?))
                        }
                        "results" => results = Some(ims_results(map.next_value::<Value>()?)),
                        _ => {
                            let value = map.next_value::<Value>()?;
                            match out.other.iter_mut().find(|(k, _)| *k == key) {
                                // A repeated key: the last one wins, as in a JSON object.
                                Some((_, v)) => *v = value,
                                None => out.other.push((key, value)),
                            }
                        }
                    }
                }
                if !have_sub_jobs {
                    if let Some(subs) = sub_jobs_result.or(results) {
                        out.sub_jobs = subs;
                    }
                }
                // Kept for the report: no room for fields that will never come.
                out.other.shrink_to_fit();
                out.sub_jobs.shrink_to_fit();
                Ok(out)
            }
            fn visit_unit<E>(self) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_none<E>(self) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Entities, E> {
                Ok(Entities::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Entities, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Entities::default())
            }
        }
        d.deserialize_any(Fields)
    }
}

impl Job {
    /// Parses a 2xx body. A body without `status` (or that is not a job at all) is an error,
    /// described without echoing the body.
    pub fn from_slice(body: &[u8]) -> Result<Job, String> {
        read_document(body, &["status"])
    }

    /// `end_time` that actually carries a time (it is `""` while running).
    pub fn end_time(&self) -> Option<&str> {
        self.end_time.as_deref().filter(|s| !s.is_empty())
    }
}

/// A 2xx body as a document of type `D`, the one reading every shape shares: text that is not
/// UTF-8 (a `fail_reason` in a legacy encoding) is read lossily, so a failed job stays failed;
/// the common case is one pass, without a `Value` tree to build and drop per poll; only a body
/// that is not such a document is read twice, to explain why — without echoing it — naming the
/// status field at `status` (a path of keys) or the API error the body holds instead.
pub(super) fn read_document<D: serde::de::DeserializeOwned>(
    body: &[u8],
    status: &[&str],
) -> Result<D, String> {
    let body = utf8_lossy(body);
    let body: &[u8] = &body;
    // Objects only: serde would also read a struct from an array.
    if body.trim_ascii_start().starts_with(b"{") {
        if let Ok(document) = serde_json::from_slice::<D>(body) {
            return Ok(document);
        }
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let found = status
        .iter()
        .try_fold(&value, |at, key| at.get(*key))
        .is_some();
    if !found {
        return Err(match ApiErrorBody::find(&value) {
            Some(err) => format!("no job status; the API said {err}"),
            None => format!("no `{}` field in the job document", status.join(".")),
        });
    }
    serde_json::from_value(value).map_err(|e| format!("unexpected job document: {e}"))
}

/// `body` as UTF-8: borrowed when it is, read lossily when it is not (a `fail_reason` in a
/// legacy encoding must not turn a failed job into an unreadable answer).
fn utf8_lossy(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // The usual case checked with the fast validator (the lossy one walks the body in chunks:
    // 2 % of a poll's instructions under callgrind).
    if std::str::from_utf8(body).is_ok() {
        return std::borrow::Cow::Borrowed(body);
    }
    match String::from_utf8_lossy(body) {
        std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(body),
        std::borrow::Cow::Owned(text) => std::borrow::Cow::Owned(text.into_bytes()),
    }
}

/// Strings, with numbers and booleans turned into their text and null/empty-object into None,
/// so one odd field never loses the whole document.
/// Texts are capped at [`MAX_TEXT`]: a hostile server cannot make one field megabytes long in
/// every output.
/// Read straight from the parser (no `Value` per field: six of them per document and sub-job,
/// every poll); numbers are written as `serde_json::Number` writes them.
pub(super) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Lenient;
    impl<'de> serde::de::Visitor<'de> for Lenient {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, number or boolean")
        }
        fn visit_str<E>(self, s: &str) -> Result<Option<String>, E> {
            Ok(Some(cap(s.to_owned(), MAX_TEXT)))
        }
        fn visit_string<E>(self, s: String) -> Result<Option<String>, E> {
            Ok(Some(cap(s, MAX_TEXT)))
        }
        fn visit_u64<E>(self, n: u64) -> Result<Option<String>, E> {
            Ok(Some(serde_json::Number::from(n).to_string()))
        }
        fn visit_i64<E>(self, n: i64) -> Result<Option<String>, E> {
            Ok(Some(serde_json::Number::from(n).to_string()))
        }
        fn visit_f64<E>(self, n: f64) -> Result<Option<String>, E> {
            Ok(serde_json::Number::from_f64(n).map(|n| n.to_string()))
        }
        fn visit_bool<E>(self, b: bool) -> Result<Option<String>, E> {
            Ok(Some(b.to_string()))
        }
        fn visit_unit<E>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            d.deserialize_any(Lenient)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Option<String>, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Option<String>, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(Lenient)
}

fn lenient_u64(value: Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Sub-jobs without a `status` cannot be judged; they are dropped here and counted by the
/// verdict through `sub_jobs_total`.
fn lenient_sub_jobs(value: Value) -> Vec<Job> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    }
}

/// IMS's `entities.results` (image member jobs): one `{image_id, project_id, status}` per
/// member, read as sub-jobs with the `image_id` as their entity. The status is lower case in
/// the published examples (`success`) and upper case in the field table (`SUCCESS`, `FAIL`,
/// `RUNNING`, `INIT`): read in any case, `failed` as `FAIL`, other words kept as unknown.
/// Members without a status cannot be judged and are dropped, as sub-jobs are.
fn ims_results(value: Value) -> Vec<Job> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Object(mut member) = item else {
                return None;
            };
            let status = match member.remove("status")? {
                Value::String(s) => JobStatus::parse_ims_result(s),
                _ => return None,
            };
            let mut entities = Entities::default();
            if let Some(Value::String(id)) = member.remove("image_id") {
                entities.other = vec![("image_id".to_owned(), Value::String(cap(id, MAX_TEXT)))];
            }
            Some(Job {
                status,
                job_id: None,
                job_type: None,
                begin_time: None,
                end_time: None,
                error_code: None,
                fail_reason: None,
                entities,
            })
        })
        .collect()
}

/// An error body in any of the forms the APIs use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl ApiErrorBody {
    /// Parses `{"error":{"code","message"}}` (ECS, EVS, BMS, IMS), flat `{"code","message"}`
    /// (VPC/EIP), `{"error_code","error_msg","request_id"}` (API gateway, IAM, RDS v3),
    /// `{"errorCode","errorMessage"}` (CCE), `{"errCode","errMsg"}` (SFS Turbo),
    /// `{"errCode","externalMessage"}` (RDS v1) and any of these nested one level or more inside
    /// another object (as the official SDK does).
    pub fn parse(body: &[u8]) -> Option<ApiErrorBody> {
        let value: Value = serde_json::from_slice(body)
            .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(body)))
            .ok()?;
        ApiErrorBody::find(&value)
    }

    pub(super) fn find(value: &Value) -> Option<ApiErrorBody> {
        let obj = value.as_object()?;
        let text = |keys: &[&str]| {
            keys.iter()
                .filter_map(|k| obj.get(*k))
                .find_map(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(cap(s.clone(), MAX_TEXT)),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        let found = ApiErrorBody {
            code: text(&["error_code", "code", "errorCode", "errCode"]),
            message: text(&[
                "error_msg",
                "message",
                "error_message",
                "errorMessage",
                "errMsg",
                "externalMessage",
            ]),
            request_id: text(&["request_id"]),
        };
        if found.code.is_some() || found.message.is_some() {
            return Some(found);
        }
        obj.values().find_map(ApiErrorBody::find)
    }
}

impl std::fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, "{c}: {m}")?,
            (Some(c), None) => f.write_str(c)?,
            (None, Some(m)) => f.write_str(m)?,
            (None, None) => f.write_str("unknown error")?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request_id {id})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A published response body from `tests/fixtures/api-examples/` (the other shapes' tests
    /// read theirs with it too).
    pub(in crate::cloud) fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/api-examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn ecs_success_fixture() {
        let job = Job::from_slice(&fixture("ecs-job-success.json")).unwrap();
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(
            job.job_id.as_deref(),
            Some("2c9eb2c5544cbf6101544f0602af2b4f")
        );
        assert_eq!(job.job_type.as_deref(), Some("createServer"));
        assert_eq!(job.end_time(), Some("2016-04-25T20:08:41.593Z"));
        assert_eq!(job.error_code, None);
        assert_eq!(job.entities.sub_jobs_total, Some(1));
        let sub = &job.entities.sub_jobs[0];
        assert_eq!(sub.status, JobStatus::Success);
        assert_eq!(sub.job_type.as_deref(), Some("createSingleServer"));
        assert_eq!(
            sub.entities.get("server_id").unwrap(),
            "bae51750-0089-41a1-9b18-5c777978ff6d"
        );
    }

    #[test]
    fn evs_running_fixture() {
        let job = Job::from_slice(&fixture("evs-job-running.json")).unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.end_time(), None, "\"\" while running means no end time");
        assert!(job.entities.sub_jobs.is_empty());
        assert_eq!(
            job.entities.get("volume_id").unwrap(),
            "bdf1bb37-f20f-4266-9a04-f43e0a127376"
        );
        assert_eq!(job.error_code, None, "missing fields are None");
    }

    #[test]
    fn eip_batch_fixture_with_empty_sub_jobs() {
        let job = Job::from_slice(&fixture("eip-batch-job-success.json")).unwrap();
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(job.job_type.as_deref(), Some("createBatchPublicip"));
        assert!(job.entities.sub_jobs.is_empty());
        assert_eq!(job.entities.sub_jobs_total, None);
    }

    #[test]
    fn ims_sub_jobs_result_fixture_is_read_as_sub_jobs() {
        let job = Job::from_slice(&fixture("ims-job-ova-sub-jobs-result.json")).unwrap();
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(job.job_type.as_deref(), Some("imsImportOvaImageJob"));
        assert_eq!(job.entities.sub_jobs.len(), 1);
        let sub = &job.entities.sub_jobs[0];
        assert_eq!(sub.status, JobStatus::Success);
        assert_eq!(
            sub.job_id.as_deref(),
            Some("9a175ac892fa13420193006c29e133f0")
        );
        assert_eq!(sub.job_type.as_deref(), Some("imsImportImageJob"));
        assert_eq!(sub.end_time(), Some("2024-11-06T07:49:45.814Z"));
        assert_eq!(
            sub.entities.get("image_id").unwrap(),
            "fc496c19-40c2-4220-8b1a-eba9d53fca7b"
        );
        let keys: Vec<&str> = job.entities.other.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["sub_jobs_list"], "sub_jobs_result is not kept twice");
    }

    #[test]
    fn ims_results_fixture_is_read_as_sub_jobs() {
        let job = Job::from_slice(&fixture("ims-job-add-members-results.json")).unwrap();
        assert_eq!(job.job_type.as_deref(), Some("imsAddImageMembersJob"));
        assert_eq!(job.entities.sub_jobs.len(), 1);
        let member = &job.entities.sub_jobs[0];
        assert_eq!(member.status, JobStatus::Success, "lower-case `success`");
        assert_eq!(
            member.entities.get("image_id").unwrap(),
            "30e55148-deb9-4923-adb9-91618de16ba0"
        );
        assert!(job.entities.other.is_empty(), "results is not kept twice");
    }

    #[test]
    fn ims_results_statuses_in_any_case_and_odd_members() {
        let job = Job::from_slice(
            br#"{"status":"FAIL","entities":{"results":[
                 {"image_id":"i1","project_id":"p","status":"success"},
                 {"image_id":"i2","status":"failed"},
                 {"image_id":"i3","status":"FAIL"},
                 {"image_id":"i4","status":"Running"},
                 {"image_id":"i5","status":"rejected"},
                 {"image_id":"i6"},
                 {"image_id":"i7","status":3},
                 "text", 7]}}"#,
        )
        .unwrap();
        let seen: Vec<(JobStatus, &str)> = job
            .entities
            .sub_jobs
            .iter()
            .map(|s| {
                (
                    s.status.clone(),
                    s.entities.get("image_id").unwrap().as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (JobStatus::Success, "i1"),
                (JobStatus::Fail, "i2"),
                (JobStatus::Fail, "i3"),
                (JobStatus::Running, "i4"),
                (JobStatus::Unknown("rejected".into()), "i5"),
            ],
            "members without a word status are dropped"
        );
        assert_eq!(
            job.entities.sub_jobs[0].entities.other.len(),
            1,
            "only image_id"
        );
        for odd in [r#""text""#, "null", "{}", "7"] {
            let body = format!(r#"{{"status":"SUCCESS","entities":{{"results":{odd}}}}}"#);
            let job = Job::from_slice(body.as_bytes()).unwrap();
            assert!(job.entities.sub_jobs.is_empty(), "results: {odd}");
        }
    }

    #[test]
    fn sub_jobs_win_over_sub_jobs_result_which_wins_over_results_in_any_order() {
        let sub = |id: &str| format!(r#"[{{"status":"SUCCESS","job_id":"{id}"}}]"#);
        let member = r#"[{"status":"failed","image_id":"m"}]"#;
        let cases = [
            (
                format!(r#""results":{member},"sub_jobs":{}"#, sub("a")),
                Some("a"),
            ),
            (
                format!(r#""sub_jobs":{},"sub_jobs_result":{}"#, sub("a"), sub("b")),
                Some("a"),
            ),
            (
                format!(r#""sub_jobs_result":{},"sub_jobs":{}"#, sub("b"), sub("a")),
                Some("a"),
            ),
            (
                format!(r#""results":{member},"sub_jobs_result":{}"#, sub("b")),
                Some("b"),
            ),
            (
                format!(r#""sub_jobs_result":{},"results":{member}"#, sub("b")),
                Some("b"),
            ),
            (format!(r#""results":{member}"#), None),
        ];
        for (entities, want) in cases {
            let body = format!(r#"{{"status":"SUCCESS","entities":{{{entities}}}}}"#);
            let job = Job::from_slice(body.as_bytes()).unwrap();
            assert_eq!(job.entities.sub_jobs.len(), 1, "{entities}");
            assert_eq!(
                job.entities.sub_jobs[0].job_id.as_deref(),
                want,
                "{entities}"
            );
            assert!(job.entities.other.is_empty(), "{entities}");
        }
        // An empty `sub_jobs` is still the authority (an EIP batch job without sub-jobs).
        let job = Job::from_slice(
            format!(r#"{{"status":"SUCCESS","entities":{{"sub_jobs":[],"results":{member}}}}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert!(job.entities.sub_jobs.is_empty());
    }

    #[test]
    fn evs_error_fixture() {
        let err = ApiErrorBody::parse(&fixture("evs-error-400.json")).unwrap();
        assert_eq!(err.code.as_deref(), Some("XXX"));
        assert_eq!(err.message.as_deref(), Some("XXXX"));
    }

    #[test]
    fn throttling_fixture() {
        let err = ApiErrorBody::parse(&fixture("apigw-throttled-429.json")).unwrap();
        assert_eq!(err.code.as_deref(), Some("APIGW.0308"));
        assert!(err.message.unwrap().starts_with("The throttling threshold"));
        assert_eq!(
            err.request_id.as_deref(),
            Some("d4e8174b8df00840aef0c6907ec0e384")
        );
    }

    #[test]
    fn every_fixture_parses_as_a_job_or_an_error() {
        let dir = format!("{}/tests/fixtures/api-examples", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let body = std::fs::read(&path).unwrap();
            let ok = Job::from_slice(&body).is_ok()
                || super::super::shapes::rds_job(&body).is_ok()
                || super::super::shapes::cce_job(&body).is_ok()
                || super::super::shapes::nosql_jobs(&body).is_ok()
                || super::super::shapes::sfs_turbo_job(&body).is_ok()
                || super::super::shapes::cbr_operation_log(&body).is_ok()
                || ApiErrorBody::parse(&body).is_some();
            assert!(ok, "{} parses as neither", path.display());
            seen += 1;
        }
        assert_eq!(seen, 24);
    }

    #[test]
    fn cce_error_form() {
        let err = ApiErrorBody::parse(&fixture("cce-error-401.json")).unwrap();
        assert_eq!(err.code.as_deref(), Some("CCE.01401001"));
        assert_eq!(err.message.as_deref(), Some("Authorization failed."));
        let err = ApiErrorBody::parse(
            br#"{"errorCode":"CCE.01404001","errorMessage":"Resource not found."}"#,
        )
        .unwrap();
        assert_eq!(err.to_string(), "CCE.01404001: Resource not found.");
    }

    #[test]
    fn sfs_turbo_error_form() {
        let err =
            ApiErrorBody::parse(br#"{"errCode":"SFS.TEAM.XXXX","errMsg":"turbo says"}"#).unwrap();
        assert_eq!(err.code.as_deref(), Some("SFS.TEAM.XXXX"));
        assert_eq!(err.message.as_deref(), Some("turbo says"));
    }

    #[test]
    fn rds_v1_error_form() {
        let err = ApiErrorBody::parse(br#"{"errCode":"DBS.XXXXXX","externalMessage":"v1 says"}"#)
            .unwrap();
        assert_eq!(err.code.as_deref(), Some("DBS.XXXXXX"));
        assert_eq!(err.message.as_deref(), Some("v1 says"));
    }

    #[test]
    fn all_error_body_forms() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"error":{"code":"Ecs.0114","message":"bad"}}"#,
                "Ecs.0114",
                "bad",
            ),
            (
                r#"{"code":"VPC.0101","message":"flat"}"#,
                "VPC.0101",
                "flat",
            ),
            (
                r#"{"error_code":"IAM.0001","error_msg":"gw","request_id":"r1"}"#,
                "IAM.0001",
                "gw",
            ),
            (
                r#"{"badRequest":{"message":"nested","code":400}}"#,
                "400",
                "nested",
            ),
        ];
        for (body, code, message) in cases {
            let err = ApiErrorBody::parse(body.as_bytes()).unwrap();
            assert_eq!(err.code.as_deref(), Some(*code), "{body}");
            assert_eq!(err.message.as_deref(), Some(*message), "{body}");
        }
        assert_eq!(ApiErrorBody::parse(b"<html>502</html>"), None);
        assert_eq!(ApiErrorBody::parse(br#"{"unrelated":true}"#), None);
    }

    #[test]
    fn top_level_code_inside_a_job_document_is_an_error() {
        let err = Job::from_slice(br#"{"code":"Ecs.0011","message":"job not found"}"#).unwrap_err();
        assert!(err.contains("Ecs.0011"), "{err}");
    }

    #[test]
    fn unknown_status_and_odd_fields_are_kept_not_fatal() {
        let job = Job::from_slice(
            br#"{"status":"ROLLING_BACK","job_id":7,"entities":[],"end_time":null,
                 "error_code":0,"fail_reason":{}}"#,
        )
        .unwrap();
        assert_eq!(job.status, JobStatus::Unknown("ROLLING_BACK".into()));
        assert!(!job.status.is_terminal());
        assert_eq!(job.job_id.as_deref(), Some("7"));
        assert_eq!(job.error_code.as_deref(), Some("0"));
        assert_eq!(job.fail_reason, None);
    }

    proptest::proptest! {
        /// The field-by-field reader gives what reading a `Value` first gave (strings capped,
        /// numbers in `Number`'s own text, booleans as text, anything else none).
        #[test]
        fn lenient_strings_read_as_through_a_value(
            text in ".{0,20}",
            big in proptest::collection::vec(proptest::char::any(), 4090..4100),
            int: i64,
            uint: u64,
            float in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
            flag: bool,
        ) {
            #[derive(Deserialize)]
            struct One {
                #[serde(default, deserialize_with = "lenient_string")]
                v: Option<String>,
            }
            let big: String = big.into_iter().collect();
            let values = [
                Value::from(text), Value::from(big), Value::from(int), Value::from(uint),
                Value::from(float), Value::from(flag), Value::Null,
                serde_json::json!([1, "a", {"b": [null]}]), serde_json::json!({"a": {"b": 1}}),
            ];
            for value in values {
                let body = serde_json::json!({"v": value}).to_string();
                // From the body, as the old reader saw it (float parsing is not an exact
                // round trip of `value`).
                let seen: Value = serde_json::from_str(&body).unwrap();
                let expected = match seen["v"].clone() {
                    Value::String(s) => Some(cap(s, MAX_TEXT)),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                };
                let got = serde_json::from_str::<One>(&body).unwrap().v;
                proptest::prop_assert_eq!(got, expected, "{}", body);
            }
        }
    }

    #[test]
    fn recursive_eip_sub_jobs() {
        let job = Job::from_slice(
            br#"{"status":"SUCCESS","job_id":"a","entities":{"sub_jobs":[
                 {"status":"SUCCESS","job_id":"b","entities":{"sub_jobs":[
                   {"status":"FAIL","job_id":"c","entities":{"publicip_id":"p1"}}]}}]}}"#,
        )
        .unwrap();
        let inner = &job.entities.sub_jobs[0].entities.sub_jobs[0];
        assert_eq!(inner.status, JobStatus::Fail);
        assert_eq!(inner.entities.get("publicip_id").unwrap(), "p1");
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            b"{\"status\":5}",
            b"\xff\xfe",
        ] {
            assert!(Job::from_slice(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn entities_keep_api_order_take_the_last_repeat_and_tolerate_non_objects() {
        let job = Job::from_slice(
            br#"{"status":"RUNNING","entities":{"volume_id":"v1","size":10,"name":"a","volume_id":"v2"}}"#,
        )
        .unwrap();
        let keys: Vec<&str> = job.entities.other.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["volume_id", "size", "name"]);
        assert_eq!(job.entities.get("volume_id").unwrap(), "v2");
        for odd in [r#""text""#, "[1,2]", "null", "7", "true"] {
            let body = format!(r#"{{"status":"SUCCESS","entities":{odd}}}"#);
            let job = Job::from_slice(body.as_bytes()).unwrap();
            assert_eq!(job.entities, Entities::default(), "entities: {odd}");
        }
    }

    #[test]
    fn a_fail_reason_that_is_not_utf8_is_read_lossily() {
        let mut body = br#"{"status":"FAIL","fail_reason":"caf"#.to_vec();
        body.push(0xe9); // Latin-1 é
        body.extend_from_slice(br#"","error_code":"Ecs.0013"}"#);
        let job = Job::from_slice(&body).unwrap();
        assert_eq!(job.status, JobStatus::Fail, "a failed job stays failed");
        assert_eq!(job.fail_reason.as_deref(), Some("caf\u{fffd}"));
        let mut err = br#"{"error":{"code":"E1","message":"x"#.to_vec();
        err.push(0xff);
        err.extend_from_slice(b"\"}}");
        assert_eq!(
            ApiErrorBody::parse(&err).unwrap().code.as_deref(),
            Some("E1")
        );
    }

    #[test]
    fn texts_from_the_network_are_capped() {
        let huge = "x".repeat(10 * MAX_TEXT);
        let body = serde_json::json!({"status": huge, "fail_reason": huge, "job_type": huge});
        let job = Job::from_slice(body.to_string().as_bytes()).unwrap();
        assert!(
            job.status.as_str().len() < 200,
            "{}",
            job.status.as_str().len()
        );
        for text in [&job.fail_reason, &job.job_type] {
            let text = text.as_deref().unwrap();
            assert!(text.len() < MAX_TEXT + 64, "{}", text.len());
            assert!(text.ends_with("more bytes)"));
        }
        let err = serde_json::json!({"error_code": huge, "error_msg": huge});
        let err = ApiErrorBody::parse(err.to_string().as_bytes()).unwrap();
        assert!(err.to_string().len() < 2 * MAX_TEXT + 200);
    }
}
