//! Job APIs described in the spec (`services.<name>`), for the services jobwait does not know.
//!
//! Users will always find one more job-like API (DMS tasks, Workspace, a private cloud's variant
//! of a known one). A description says where a job is (a path under the service's base URL with
//! `{project_id}` and `{job_id}`) and how its document reads: JSON Pointers (RFC 6901) to the
//! status, and optionally to the failure reason, the error code, an object of entities and an
//! array of sub-jobs, plus the status words that mean success and failure (and, optionally, the
//! ones that mean "not yet"). [`DescribedApi::new`] holds a description to those rules once,
//! for the spec and the simulator alike, and the reader turns a document into the same [`Job`]
//! model as every built-in shape, so the verdict, schedule and outputs treat it the same way.
//!
//! Reading is as lenient as the built-in readers: a missing or non-text status is an unreadable
//! answer (retried, then an error); any other field that is missing or odd is none. Words are
//! matched in any case. A word in neither list is pending — unless a `pending` list is given:
//! then a word in none of the three lists is an unknown status, for `success.unknown_status`.

#[cfg(test)]
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::service::{fill_path, DocumentError};
use super::wire::{read_document, ApiErrorBody, Entities, Job, JobStatus};
use crate::sanitize::{cap, MAX_TEXT};

/// `services.<name>` as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceDescription {
    /// Where a job is, appended to the service's base URL: `/`-separated segments with
    /// `{project_id}` and exactly one `{job_id}`, or a query `?name={job_id}`.
    pub path: String,
    /// JSON Pointer (RFC 6901) to the status word, e.g. `/job/status`.
    pub status: String,
    /// The words that mean success (at least one; any case).
    pub success: Vec<String>,
    /// The words that mean failure (at least one; any case).
    pub failure: Vec<String>,
    /// The words that mean "not yet". Without it every other word is pending; with it, a word in
    /// none of the lists follows `success.unknown_status`.
    #[serde(default)]
    pub pending: Option<Vec<String>>,
    /// JSON Pointer to the failure reason.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// JSON Pointer to the error code.
    #[serde(default)]
    pub error_code: Option<String>,
    /// JSON Pointer to an object whose `*_id` fields (a string or an array of strings) are the
    /// job's entities.
    #[serde(default)]
    pub entities: Option<String>,
    /// JSON Pointer to an array of sub-jobs, each read with the same pointers relative to it.
    #[serde(default)]
    pub sub_jobs: Option<String>,
}

/// A validated description: the API of a service named in the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedApi {
    name: String,
    description: ServiceDescription,
}

/// The longest name, path, pointer and word of a description.
const MAX_NAME: usize = 32;
const MAX_PATH: usize = 512;
const MAX_WORD: usize = 128;

/// What a described service's name may be: it is a `SERVICE:` prefix, an `endpoints.<name>` key,
/// a `{service}` host label and an environment variable part.
pub const NAME_RULE: &str =
    "lowercase letters, digits and - (a letter first), at most 32 characters, not `iam`";

/// Whether `name` may name a described service ([`NAME_RULE`]).
pub fn is_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name != "iam"
}

impl DescribedApi {
    /// `description` of the service `name`, held to the rules: the error is `(field, why)`, the
    /// field being the key under `services.<name>` that breaks one.
    pub fn new(
        name: &str,
        description: ServiceDescription,
    ) -> Result<DescribedApi, (&'static str, String)> {
        if !is_name(name) {
            return Err(("", format!("`{name}` is not a service name ({NAME_RULE})")));
        }
        check_path(&description.path).map_err(|e| ("path", e))?;
        check_pointer(&description.status, false).map_err(|e| ("status", e))?;
        for (field, pointer) in [
            ("fail_reason", &description.fail_reason),
            ("error_code", &description.error_code),
            ("entities", &description.entities),
            ("sub_jobs", &description.sub_jobs),
        ] {
            if let Some(pointer) = pointer {
                check_pointer(pointer, field == "entities").map_err(|e| (field, e))?;
            }
        }
        let lists = [
            ("success", Some(&description.success)),
            ("failure", Some(&description.failure)),
            ("pending", description.pending.as_ref()),
        ];
        for (field, words) in lists {
            let Some(words) = words else { continue };
            if words.is_empty() && field != "pending" {
                return Err((field, "must list at least one status word".to_owned()));
            }
            if let Some(bad) = words
                .iter()
                .find(|w| w.trim().is_empty() || w.len() > MAX_WORD || w.trim() != *w)
            {
                return Err((
                    field,
                    format!("`{bad}` is not a status word (no spaces around it, 1 to {MAX_WORD} characters)"),
                ));
            }
        }
        for (i, (field, words)) in lists.iter().enumerate() {
            for (other, other_words) in &lists[i + 1..] {
                let (Some(words), Some(other_words)) = (words, other_words) else {
                    continue;
                };
                if let Some(both) = words
                    .iter()
                    .find(|w| other_words.iter().any(|o| o.eq_ignore_ascii_case(w)))
                {
                    return Err((
                        other,
                        format!("`{both}` is also in `{field}`: a word means one thing"),
                    ));
                }
            }
        }
        Ok(DescribedApi {
            name: name.to_owned(),
            description,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &ServiceDescription {
        &self.description
    }

    /// The URL of job `job_id` of project `project_id` under `base`, path segments and query
    /// values encoded.
    pub fn url(&self, base: &Url, project_id: &str, job_id: &str) -> Url {
        fill_path(&self.description.path, base, project_id, job_id)
    }

    /// Whether its documents list sub-jobs.
    pub fn has_sub_jobs(&self) -> bool {
        self.description.sub_jobs.is_some()
    }

    /// A 2xx body as a job document.
    pub fn parse(&self, body: &[u8]) -> Result<Job, DocumentError> {
        let document: Value = read_document(body, &[]).map_err(DocumentError::Unreadable)?;
        self.read(&document).ok_or_else(|| {
            DocumentError::Unreadable(match ApiErrorBody::find(&document) {
                Some(err) => format!("no job status; the API said {err}"),
                None => format!(
                    "no text status at `{}` in the {} document",
                    self.description.status, self.name
                ),
            })
        })
    }

    /// One job (or sub-job) object; `None` without a text status.
    fn read(&self, at: &Value) -> Option<Job> {
        let d = &self.description;
        let word = match at.pointer(&d.status)? {
            Value::String(word) => cap(word.clone(), MAX_WORD),
            _ => return None,
        };
        let text = |pointer: &Option<String>| -> Option<String> {
            match at.pointer(pointer.as_deref()?)? {
                Value::String(s) if !s.is_empty() => Some(cap(s.clone(), MAX_TEXT)),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let mut entities = Entities::default();
        if let Some(Value::Object(fields)) = d.entities.as_deref().and_then(|p| at.pointer(p)) {
            for (key, value) in fields.iter().filter(|(k, _)| k.ends_with("_id")) {
                let ids: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for id in ids {
                    if let Value::String(id) = id {
                        if !id.is_empty() {
                            let id = Value::String(cap(id.clone(), MAX_TEXT));
                            entities.other.push((cap(key.clone(), 128), id));
                        }
                    }
                }
            }
        }
        if let Some(Value::Array(items)) = d.sub_jobs.as_deref().and_then(|p| at.pointer(p)) {
            entities.sub_jobs_total = (!items.is_empty()).then_some(items.len() as u64);
            entities.sub_jobs = items.iter().filter_map(|item| self.read(item)).collect();
        }
        Some(Job {
            status: self.status(word),
            job_id: None,
            job_type: None,
            begin_time: None,
            end_time: None,
            error_code: text(&d.error_code),
            fail_reason: text(&d.fail_reason),
            entities,
        })
    }

    /// A status word in the common vocabulary.
    fn status(&self, word: String) -> JobStatus {
        let d = &self.description;
        let is_in = |words: &[String]| words.iter().any(|w| w.eq_ignore_ascii_case(&word));
        if is_in(&d.success) {
            JobStatus::Success
        } else if is_in(&d.failure) {
            JobStatus::Fail
        } else {
            match &d.pending {
                Some(pending) if !is_in(pending) => JobStatus::Unknown(word),
                _ => JobStatus::Running,
            }
        }
    }

    /// The status words by meaning, for `validate`: (success, failure, pending; `None` for
    /// "every other word").
    pub fn words(&self) -> (&[String], &[String], Option<&[String]>) {
        let d = &self.description;
        (&d.success, &d.failure, d.pending.as_deref())
    }
}

/// A JSON Pointer as RFC 6901 writes it: empty (the whole document; only where `whole` allows
/// it) or `/`-prefixed tokens in which `~` is only ever `~0` or `~1`.
fn check_pointer(pointer: &str, whole: bool) -> Result<(), String> {
    if pointer.is_empty() {
        return if whole {
            Ok(())
        } else {
            Err("must point into the document, e.g. `/job/status` (not ``)".to_owned())
        };
    }
    if pointer.len() > MAX_PATH {
        return Err(format!("is longer than {MAX_PATH} characters"));
    }
    if !pointer.starts_with('/') {
        return Err(format!(
            "`{pointer}` is not a JSON Pointer: it starts with `/`, e.g. `/job/status`"
        ));
    }
    let bytes = pointer.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
            return Err(format!(
                "`{pointer}` is not a JSON Pointer: `~` is written `~0` and `/` inside a key `~1`"
            ));
        }
    }
    Ok(())
}

/// A path: `/`-separated non-empty segments, exactly one `{job_id}` (a whole segment, or the
/// value of the one query parameter), `{project_id}` at most as whole segments, no other `{…}`,
/// no `.`/`..` segment and no `#`.
fn check_path(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH {
        return Err(format!("is longer than {MAX_PATH} characters"));
    }
    if !path.starts_with('/') {
        return Err(format!("`{path}` must start with `/`"));
    }
    if path.contains(['#', '\\', ' ']) || path.chars().any(|c| c.is_control()) {
        return Err(format!(
            "`{path}` must not hold `#`, `\\`, spaces or control characters"
        ));
    }
    let (segments, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut job_ids = 0;
    for segment in segments.split('/').skip(1) {
        match segment {
            "" => return Err(format!("`{path}` has an empty segment (`//` or a trailing `/`)")),
            "." | ".." => return Err(format!("`{path}` has a `{segment}` segment")),
            "{job_id}" => job_ids += 1,
            "{project_id}" => {}
            other if other.contains(['{', '}']) => {
                return Err(format!(
                    "`{other}`: the placeholders are `{{project_id}}` and `{{job_id}}`, each a whole segment"
                ))
            }
            _ => {}
        }
    }
    if let Some(query) = query {
        match query.split_once('=') {
            Some((name, "{job_id}"))
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                job_ids += 1
            }
            _ => {
                return Err(format!(
                    "`?{query}`: a query is one `name={{job_id}}`, e.g. `?id={{job_id}}`"
                ))
            }
        }
    }
    if job_ids != 1 {
        return Err(format!(
            "`{path}` must hold `{{job_id}}` exactly once (as a segment or `?name={{job_id}}`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dms() -> ServiceDescription {
        ServiceDescription {
            path: "/v2/{project_id}/instances/INSTANCE/tasks/{job_id}".into(),
            status: "/tasks/0/status".into(),
            success: vec!["SUCCESS".into()],
            failure: vec!["FAILED".into()],
            pending: None,
            fail_reason: Some("/tasks/0/message".into()),
            error_code: None,
            entities: None,
            sub_jobs: None,
        }
    }

    #[test]
    fn a_described_api_reads_its_documents() {
        let api = DescribedApi::new("dms", dms()).unwrap();
        let job = api
            .parse(br#"{"tasks":[{"status":"failed","message":"broker down"}]}"#)
            .unwrap();
        assert_eq!(job.status, JobStatus::Fail, "any case");
        assert_eq!(job.fail_reason.as_deref(), Some("broker down"));
        let running = api.parse(br#"{"tasks":[{"status":"CREATING"}]}"#).unwrap();
        assert_eq!(running.status, JobStatus::Running, "neither list: pending");
        let base = Url::parse("https://dms.example/").unwrap();
        assert_eq!(
            api.url(&base, "p", "t/1").as_str(),
            "https://dms.example/v2/p/instances/INSTANCE/tasks/t%2F1"
        );
        for body in [
            &br#"{"tasks":[]}"#[..],
            br#"{"tasks":[{"status":7}]}"#,
            b"[]",
            b"{",
        ] {
            match api.parse(body) {
                Err(DocumentError::Unreadable(_)) => {}
                other => panic!("{body:?}: {other:?}"),
            }
        }
        let err = api
            .parse(br#"{"error_code":"DMS.0001","error_msg":"x"}"#)
            .unwrap_err();
        assert!(format!("{err:?}").contains("DMS.0001"), "{err:?}");
    }

    #[test]
    fn a_pending_list_makes_other_words_unknown() {
        let api = DescribedApi::new(
            "x",
            ServiceDescription {
                pending: Some(vec!["CREATING".into()]),
                ..dms()
            },
        )
        .unwrap();
        let status = |w: &str| {
            api.parse(format!(r#"{{"tasks":[{{"status":"{w}"}}]}}"#).as_bytes())
                .unwrap()
                .status
        };
        assert_eq!(status("creating"), JobStatus::Running);
        assert_eq!(status("Success"), JobStatus::Success);
        assert_eq!(status("FROZEN"), JobStatus::Unknown("FROZEN".into()));
    }

    #[test]
    fn entities_and_sub_jobs_are_read_relative_to_each_element() {
        let api = DescribedApi::new(
            "ws",
            ServiceDescription {
                path: "/v1/{project_id}/jobs?job_id={job_id}".into(),
                status: "/status".into(),
                entities: Some("/entities".into()),
                sub_jobs: Some("/sub_jobs".into()),
                fail_reason: Some("/reason".into()),
                error_code: Some("/code".into()),
                ..dms()
            },
        )
        .unwrap();
        let job = api
            .parse(
                br#"{"status":"SUCCESS","entities":{"desktop_id":["d1","d2",7],"user_id":"u1","name":"n","x_id":""},
                     "sub_jobs":[{"status":"SUCCESS","entities":{"desktop_id":"d1"}},
                                 {"status":"FAILED","reason":"quota","code":42},{"no":"status"}]}"#,
            )
            .unwrap();
        assert_eq!(job.status, JobStatus::Success);
        let ids: Vec<(&str, &str)> = job
            .entities
            .other
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(
            ids,
            [
                ("desktop_id", "d1"),
                ("desktop_id", "d2"),
                ("user_id", "u1")
            ]
        );
        assert_eq!(job.entities.sub_jobs_total, Some(3));
        assert_eq!(job.entities.sub_jobs.len(), 2);
        let failed = &job.entities.sub_jobs[1];
        assert_eq!(failed.status, JobStatus::Fail);
        assert_eq!(failed.fail_reason.as_deref(), Some("quota"));
        assert_eq!(failed.error_code.as_deref(), Some("42"));
        let base = Url::parse("https://ws.example/").unwrap();
        assert_eq!(
            api.url(&base, "p", "a&b").as_str(),
            "https://ws.example/v1/p/jobs?job_id=a%26b"
        );
    }

    #[test]
    fn descriptions_are_held_to_the_rules() {
        let with = |f: fn(&mut ServiceDescription)| {
            let mut d = dms();
            f(&mut d);
            DescribedApi::new("dms", d).map(|_| ()).unwrap_err()
        };
        type Case = (fn(&mut ServiceDescription), &'static str, &'static str);
        let cases: &[Case] = &[
            (|d| d.path = "v2/{job_id}".into(), "path", "start with `/`"),
            (
                |d| d.path = "/v2/{project_id}/tasks".into(),
                "path",
                "exactly once",
            ),
            (
                |d| d.path = "/v2/{job_id}/{job_id}".into(),
                "path",
                "exactly once",
            ),
            (
                |d| d.path = "/v2/{region}/{job_id}".into(),
                "path",
                "placeholders",
            ),
            (|d| d.path = "/v2//{job_id}".into(), "path", "empty segment"),
            (|d| d.path = "/v2/../{job_id}".into(), "path", "`..`"),
            (|d| d.path = "/v2/{job_id}#x".into(), "path", "`#`"),
            (
                |d| d.path = "/v2/jobs?id={job_id}&x=1".into(),
                "path",
                "a query is one",
            ),
            (
                |d| d.status = "tasks/0/status".into(),
                "status",
                "starts with `/`",
            ),
            (|d| d.status = String::new(), "status", "must point into"),
            (|d| d.status = "/a~2b".into(), "status", "`~0`"),
            (
                |d| d.fail_reason = Some("x".into()),
                "fail_reason",
                "JSON Pointer",
            ),
            (|d| d.sub_jobs = Some("/a~".into()), "sub_jobs", "`~0`"),
            (|d| d.success = vec![], "success", "at least one"),
            (
                |d| d.failure = vec![" FAILED".into()],
                "failure",
                "not a status word",
            ),
            (
                |d| d.failure = vec!["success".into()],
                "failure",
                "also in `success`",
            ),
            (
                |d| d.pending = Some(vec!["failed".into()]),
                "pending",
                "also in `failure`",
            ),
        ];
        for (f, field, needle) in cases {
            let (got, why) = with(*f);
            assert_eq!(got, *field, "{why}");
            assert!(why.contains(needle), "{field}: {why}");
        }
        // An empty pending list is allowed (every other word unknown), and so is an `entities`
        // pointer to the whole document.
        let ok = ServiceDescription {
            pending: Some(vec![]),
            entities: Some(String::new()),
            status: "/a~1b/~0c".into(),
            ..dms()
        };
        assert!(DescribedApi::new("dms", ok).is_ok());
        for bad in ["", "DMS", "1dms", "d_ms", "iam", &"a".repeat(33)] {
            assert!(DescribedApi::new(bad, dms()).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever the service sends, the reader answers and never panics.
        #[test]
        fn any_body_is_a_job_or_an_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let api = DescribedApi::new("dms", dms()).unwrap();
            let _ = api.parse(&body);
        }

        #[test]
        fn any_description_is_accepted_or_refused(path in ".{0,40}", pointer in ".{0,20}") {
            let d = ServiceDescription { path, status: pointer.clone(), fail_reason: Some(pointer), ..dms() };
            let _ = DescribedApi::new("dms", d);
        }
    }
}
