//! The scenario: which jobs the simulator knows and how their statuses change over time.
//!
//! A scenario is a YAML (or JSON) document. It is read into a raw serde model that mirrors the file
//! (`deny_unknown_fields`, durations as humantime strings), then validated into [`Scenario`], whose
//! every job has either a timeline or sub-jobs to derive its status from. Validation errors name the
//! job id and the key, e.g. `job ff80…: timeline[1].for: required on every entry but the last`.
//!
//! Every section of the file — jobs, `auth:`, `faults:`, `iam:` — is defined and validated here,
//! and every rule it breaks is a [`ScenarioError`]: this module is the simulator's data, the
//! bottom of its dependency graph. What the simulator *does* with the data (`timeline`, `faults`,
//! `iam`, `server`) sits above it and never the other way round.
//!
//! ```yaml
//! project_id: 0123456789abcdef0123456789abcdef   # optional
//! auth: { token: demo-token, ak: AKDEMO, sk: SKDEMO }   # optional
//! jobs:
//!   - id: ff80808288d41e1b018a0b1c2d3e4f50
//!     job_type: createServer
//!     timeline: [ { status: INIT, for: 1s }, { status: RUNNING, for: 5s }, { status: SUCCESS } ]
//!     entities: { server_id: "..." }
//!     error_code: Ecs.0013
//!     fail_reason: "Insufficient EIP quota"
//!     not_found_for: 3s
//!     progress: true        # entities.process_percent, as IMS reports it
//!     sub_jobs: [ { id: ..., job_type: createSingleServer, status: SUCCESS } ]
//!   - id: 31b8ae23-c687-4d80-b7b4-42a66c9bb886
//!     service: rds          # served as the RDS task center does: GET /v3/{project_id}/jobs?id=
//!     timeline: [ { status: RUNNING, for: 5s }, { status: SUCCESS } ]
//!     entities: { instance_id: "..." }   # the document's `instance`
//!   - id: 354331b2c-229a-11e8-9c75-0255ac100ceb
//!     service: cce          # served as CCE does: GET /api/v3/projects/{project_id}/jobs/{job_id}
//!     job_type: CreateCluster
//!     entities: { cluster_id: "..." }    # spec.clusterUID, also of sub-jobs that name none
//!     sub_jobs: [ { id: ..., job_type: InstallMaster, status: SUCCESS } ]   # spec.subJobs
//!   - id: 4827f2da-b008-4507-ab7d-42d0df5ed912
//!     service: cbr          # also gaussdb, gaussdb-mysql, gaussdb-nosql, dcs, sfs-turbo,
//!                           # elb-classic, elb: each where and as its API serves it
//!     job_type: backup
//!     entities: { backup_id: "..." }     # extra_info.backup.backup_id (elb: resource_id)
//! faults: { error_5xx: 0.05, rate_limit: 20, retry_after: 2, seed: 7 }   # optional
//! iam: { user: u, password: pw, domain: d, projects: { eu-de: 0123… } }   # optional
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::cloud::described::{DescribedApi, ServiceDescription};
use crate::cloud::endpoint::Service;
use crate::cloud::service_ref::ServiceRef;
use crate::secret::Secret;

/// The `job_type` of a job whose scenario does not name one.
const DEFAULT_JOB_TYPE: &str = "unknown";

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// When set, jobs are found only under this project id.
    pub(crate) project_id: Option<String>,
    /// When `None`, every request is accepted.
    pub(crate) auth: Option<Auth>,
    /// The top-level jobs (the ones `GET /v1/{project_id}/jobs/{job_id}` finds), in file order.
    pub(crate) jobs: Vec<Job>,
    /// What goes wrong on purpose (none by default).
    pub(crate) faults: Faults,
    /// An IAM that issues tokens for a password (none by default).
    pub(crate) iam: Option<Iam>,
}

/// Which credentials the simulator accepts. At least one of `token` and `ak`/`sk` is set.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// An `X-Auth-Token` value that is accepted.
    pub(crate) token: Option<Secret>,
    /// An access key and its secret key; requests signed with them (SDK-HMAC-SHA256) are accepted.
    pub(crate) aksk: Option<(String, Secret)>,
}

/// One job (top-level or sub-job).
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) id: String,
    /// Whose job API serves it: where it is found and how its document reads (the service's
    /// [`Shape`](crate::cloud::service::Shape)). Sub-jobs are part of their parent's document.
    pub(crate) service: ServiceRef,
    pub(crate) job_type: String,
    /// The statuses over time; `None` when the status is derived from `sub_jobs`.
    pub(crate) timeline: Option<Vec<Step>>,
    /// Merged into the document's `entities`.
    pub(crate) entities: serde_json::Map<String, serde_json::Value>,
    /// Sent when the status is `FAIL`.
    pub(crate) error_code: Option<String>,
    /// Sent when the status is `FAIL`.
    pub(crate) fail_reason: Option<String>,
    /// The job is unknown (400 `Common.0011`) this long after the simulator started. Top-level only.
    pub(crate) not_found_for: Option<Duration>,
    /// Report `entities.process_percent` as IMS does: the share of the time until the timeline
    /// reaches `SUCCESS` or `FAIL`.
    pub(crate) progress: bool,
    pub(crate) sub_jobs: Vec<Job>,
}

/// One entry of a timeline: a status held for a duration (`None` only on the last entry, which
/// stays forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) status: String,
    pub(crate) duration: Option<Duration>,
}

/// Probabilities (0..=1, per request) and limits, from the scenario's `faults:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// HTTP 500/502/503 with the bodies gateways and services send.
    pub error_5xx: f64,
    /// The connection ends in the middle of the response.
    pub drop: f64,
    /// The response comes only after `hang_for` (past any sane client timeout).
    pub hang: f64,
    pub hang_for: Duration,
    /// HTTP 200 with a body that is not a job document.
    pub garbage: f64,
    /// HTTP 429 APIGW.0308 at random.
    pub throttle: f64,
    /// `Retry-After` seconds sent with every 429; none when `None`.
    pub retry_after: Option<u64>,
    /// Requests per second the server admits (sliding one-second window); the rest get 429.
    pub rate_limit: Option<u32>,
    /// Seed of the fault dice, for reproducible runs.
    pub seed: Option<u64>,
}

/// The scenario's `iam:`.
#[derive(Debug, Clone)]
pub(crate) struct Iam {
    pub(crate) user: String,
    pub(crate) password: Secret,
    pub(crate) domain: String,
    /// How long an issued token is valid (the real IAM: 24 h).
    pub(crate) token_ttl: Duration,
    /// Project name (region) → project id, for `GET /v3/projects?name=`.
    pub(crate) projects: BTreeMap<String, String>,
    /// Tokens are refused this long after they were issued, whatever their `expires_at` says
    /// (a revoked token): what makes a client renew on a 401.
    pub(crate) revoke_after: Option<Duration>,
}

/// Why a scenario could not be loaded.
#[derive(Debug)]
pub enum ScenarioError {
    /// The file could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The text is not a scenario document (YAML syntax, unknown key, wrong type).
    Parse {
        file: Option<PathBuf>,
        message: String,
    },
    /// The document parsed but breaks a rule; `job` is the job id concerned (if any), `key` the
    /// offending key (e.g. `timeline[1].for`).
    Invalid {
        file: Option<PathBuf>,
        job: Option<String>,
        key: String,
        message: String,
    },
}

impl ScenarioError {
    fn invalid(job: Option<&str>, key: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError::Invalid {
            file: None,
            job: job.map(str::to_owned),
            key: key.into(),
            message: message.into(),
        }
    }

    fn in_file(self, path: &Path) -> Self {
        match self {
            ScenarioError::Parse { message, .. } => ScenarioError::Parse {
                file: Some(path.to_owned()),
                message,
            },
            ScenarioError::Invalid {
                job, key, message, ..
            } => ScenarioError::Invalid {
                file: Some(path.to_owned()),
                job,
                key,
                message,
            },
            other => other,
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = |f: &mut fmt::Formatter<'_>, file: &Option<PathBuf>| match file {
            Some(path) => write!(f, "invalid scenario {}: ", path.display()),
            None => f.write_str("invalid scenario: "),
        };
        match self {
            ScenarioError::Read { path, error } => {
                write!(f, "cannot read scenario file {}: {error}", path.display())
            }
            ScenarioError::Parse { file, message } => {
                prefix(f, file)?;
                f.write_str(message)
            }
            ScenarioError::Invalid {
                file,
                job,
                key,
                message,
            } => {
                prefix(f, file)?;
                if let Some(job) = job {
                    write!(f, "job {job}: ")?;
                }
                write!(f, "{key}: {message}")
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Parse and validate a scenario from YAML text (JSON is valid YAML too).
    pub fn from_yaml(text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = from_yaml(text).map_err(|e| ScenarioError::Parse {
            file: None,
            message: e.to_string(),
        })?;
        raw.validate()
    }

    /// Read, parse and validate a scenario file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.to_owned(),
            error,
        })?;
        Scenario::from_yaml(&text).map_err(|e| e.in_file(path))
    }
}

/// YAML read as `serde_yaml` read it (YAML 1.2 booleans, `0123` stays text, `<<` an ordinary
/// key), with the parser's node and event budgets grown with the text: a scenario of fifty
/// thousand jobs is far beyond its defaults for configuration files, and no node is smaller than
/// a byte. Its depth and alias limits stay.
fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    let budget = serde_saphyr::Budget::default();
    let events = budget.max_events.max(text.len());
    let nodes = budget.max_nodes.max(text.len());
    let scalars = budget.max_total_scalar_bytes.max(text.len());
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: events,
            max_nodes: nodes,
            max_total_scalar_bytes: scalars,
            max_reader_input_bytes: None,
        },
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        merge_keys: serde_saphyr::options::MergeKeyPolicy::AsOrdinary,
    };
    serde_saphyr::from_str_with_options(text, options)
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    auth: Option<RawAuth>,
    #[serde(default)]
    faults: Option<RawFaults>,
    #[serde(default)]
    iam: Option<RawIam>,
    /// Job APIs described as in a spec's `services`, for jobs whose `service:` names one.
    #[serde(default)]
    services: Option<BTreeMap<String, ServiceDescription>>,
    jobs: Vec<RawJob>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    ak: Option<String>,
    #[serde(default)]
    sk: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    id: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    job_type: Option<String>,
    #[serde(default)]
    timeline: Option<Vec<RawStep>>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    entities: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    fail_reason: Option<String>,
    #[serde(default)]
    not_found_for: Option<String>,
    #[serde(default)]
    progress: bool,
    #[serde(default)]
    sub_jobs: Option<Vec<RawJob>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    status: String,
    #[serde(default, rename = "for")]
    duration: Option<String>,
}

/// `faults:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    #[serde(default)]
    error_5xx: f64,
    #[serde(default)]
    drop: f64,
    #[serde(default)]
    hang: f64,
    #[serde(default)]
    hang_for: Option<String>,
    #[serde(default)]
    garbage: f64,
    #[serde(default)]
    throttle: f64,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    rate_limit: Option<u32>,
    #[serde(default)]
    seed: Option<u64>,
}

/// `iam:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIam {
    user: String,
    password: String,
    domain: String,
    #[serde(default)]
    token_ttl: Option<String>,
    #[serde(default)]
    projects: BTreeMap<String, String>,
    #[serde(default)]
    revoke_after: Option<String>,
}

fn parse_duration(job: &str, key: &str, text: &str) -> Result<Duration, ScenarioError> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        ScenarioError::invalid(
            Some(job),
            key,
            format!("{text:?} is not a duration like 500ms, 5s or 1m 30s ({e})"),
        )
    })
}

impl RawScenario {
    fn validate(self) -> Result<Scenario, ScenarioError> {
        if let Some(project_id) = &self.project_id {
            if project_id.is_empty() || project_id.contains('/') {
                return Err(ScenarioError::invalid(
                    None,
                    "project_id",
                    "must be a non-empty path segment",
                ));
            }
        }
        let auth = self.auth.map(RawAuth::validate).transpose()?;
        let mut services = BTreeMap::new();
        for (name, description) in self.services.into_iter().flatten() {
            let api = DescribedApi::new(&name, description).map_err(|(field, why)| {
                let key = match field {
                    "" => format!("services.{name}"),
                    field => format!("services.{name}.{field}"),
                };
                ScenarioError::invalid(None, key, why)
            })?;
            services.insert(name, ServiceRef::Described(Arc::new(api)));
        }
        let mut seen = HashSet::new();
        let mut jobs = Vec::with_capacity(self.jobs.len());
        for (index, raw) in self.jobs.into_iter().enumerate() {
            if !raw.id.is_empty() && !seen.insert(raw.id.clone()) {
                return Err(ScenarioError::invalid(
                    Some(&raw.id),
                    format!("jobs[{index}].id"),
                    "duplicate job id (top-level job ids must be unique)",
                ));
            }
            jobs.push(raw.validate(&format!("jobs[{index}]"), true, &services)?);
        }
        let faults = match self.faults {
            Some(raw) => raw.validate()?,
            None => Faults::default(),
        };
        let iam = self.iam.map(RawIam::validate).transpose()?;
        Ok(Scenario {
            project_id: self.project_id,
            auth,
            jobs,
            faults,
            iam,
        })
    }
}

impl RawAuth {
    fn validate(self) -> Result<Auth, ScenarioError> {
        let aksk = match (self.ak, self.sk) {
            (Some(ak), Some(sk)) if !ak.is_empty() && !sk.is_empty() => Some((ak, Secret::new(sk))),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(ScenarioError::invalid(
                    None,
                    "auth",
                    "ak and sk must not be empty",
                ))
            }
            (Some(_), None) => {
                return Err(ScenarioError::invalid(
                    None,
                    "auth.sk",
                    "required when auth.ak is set",
                ))
            }
            (None, Some(_)) => {
                return Err(ScenarioError::invalid(
                    None,
                    "auth.ak",
                    "required when auth.sk is set",
                ))
            }
        };
        let token = match self.token {
            Some(t) if t.is_empty() => {
                return Err(ScenarioError::invalid(
                    None,
                    "auth.token",
                    "must not be empty",
                ))
            }
            t => t.map(Secret::new),
        };
        if token.is_none() && aksk.is_none() {
            return Err(ScenarioError::invalid(
                None,
                "auth",
                "set token, or ak and sk (or leave auth out to accept every request)",
            ));
        }
        Ok(Auth { token, aksk })
    }
}

impl RawJob {
    /// `path` locates the job in the file (`jobs[0].sub_jobs[2]`) for errors about its id.
    fn validate(
        self,
        path: &str,
        top_level: bool,
        services: &BTreeMap<String, ServiceRef>,
    ) -> Result<Job, ScenarioError> {
        if self.id.is_empty() {
            return Err(ScenarioError::invalid(
                None,
                format!("{path}.id"),
                "must not be empty",
            ));
        }
        let id = self.id;
        let job = Some(id.as_str());
        if !top_level && self.not_found_for.is_some() {
            return Err(ScenarioError::invalid(
                job,
                "not_found_for",
                "only allowed on top-level jobs",
            ));
        }
        if !top_level && self.service.is_some() {
            return Err(ScenarioError::invalid(
                job,
                "service",
                "only allowed on top-level jobs (a sub-job is part of its parent's document)",
            ));
        }
        // A service of `services` first (it may stand in for a built-in prefix), then a
        // built-in one.
        let service = match self.service.as_deref() {
            Some(name) => match services.get(name) {
                Some(described) => described.clone(),
                None => ServiceRef::Builtin(name.parse::<Service>().map_err(|e| {
                    ScenarioError::invalid(job, "service", format!("{e}, or one of `services`"))
                })?),
            },
            None => ServiceRef::Builtin(Service::Ecs),
        };
        if !service.has_sub_jobs() && self.sub_jobs.is_some() {
            return Err(ScenarioError::invalid(
                job,
                "sub_jobs",
                format!("the {service} job document has no sub-jobs"),
            ));
        }
        let not_found_for = self
            .not_found_for
            .as_deref()
            .map(|t| parse_duration(&id, "not_found_for", t))
            .transpose()?;

        let sub_jobs = self
            .sub_jobs
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, sub)| sub.validate(&format!("{path}.sub_jobs[{i}]"), false, services))
            .collect::<Result<Vec<_>, _>>()?;

        let timeline = match (self.timeline, self.status) {
            (Some(_), Some(_)) => {
                return Err(ScenarioError::invalid(
                    job,
                    "status",
                    "give either timeline or status, not both",
                ))
            }
            (None, Some(status)) => Some(vec![Step {
                status,
                duration: None,
            }]),
            (Some(steps), None) => {
                if steps.is_empty() {
                    return Err(ScenarioError::invalid(job, "timeline", "must not be empty"));
                }
                let last = steps.len() - 1;
                let mut out = Vec::with_capacity(steps.len());
                for (i, step) in steps.into_iter().enumerate() {
                    let key = format!("timeline[{i}].for");
                    let duration = match step.duration.as_deref() {
                        Some(t) => Some(parse_duration(&id, &key, t)?),
                        None if i == last => None,
                        None => {
                            return Err(ScenarioError::invalid(
                                job,
                                key,
                                "required on every timeline entry but the last",
                            ))
                        }
                    };
                    out.push(Step {
                        status: step.status,
                        duration,
                    });
                }
                Some(out)
            }
            (None, None) if sub_jobs.is_empty() => {
                return Err(ScenarioError::invalid(
                    job,
                    "timeline",
                    "missing: give timeline, status or sub_jobs",
                ))
            }
            (None, None) => None,
        };

        if self.progress && timeline.as_ref().is_none_or(|t| ends_at(t).is_none()) {
            return Err(ScenarioError::invalid(
                job,
                "progress",
                "needs a timeline that reaches SUCCESS or FAIL",
            ));
        }
        let entities = self.entities.unwrap_or_default();
        if !sub_jobs.is_empty() {
            for reserved in ["sub_jobs", "sub_jobs_total"] {
                if entities.contains_key(reserved) {
                    return Err(ScenarioError::invalid(
                        job,
                        format!("entities.{reserved}"),
                        "set by the simulator when the job has sub_jobs",
                    ));
                }
            }
        }

        Ok(Job {
            id,
            service,
            job_type: self.job_type.unwrap_or_else(|| DEFAULT_JOB_TYPE.to_owned()),
            timeline,
            entities,
            error_code: self.error_code,
            fail_reason: self.fail_reason,
            not_found_for,
            progress: self.progress,
            sub_jobs,
        })
    }
}

/// A duration of the `faults:` or `iam:` section.
fn section_duration(key: &str, text: &str) -> Result<Duration, ScenarioError> {
    humantime::parse_duration(text.trim())
        .map_err(|e| ScenarioError::invalid(None, key, format!("{text:?} is not a duration ({e})")))
}

impl RawFaults {
    fn validate(self) -> Result<Faults, ScenarioError> {
        let probabilities = [
            ("error_5xx", self.error_5xx),
            ("drop", self.drop),
            ("hang", self.hang),
            ("garbage", self.garbage),
            ("throttle", self.throttle),
        ];
        for (key, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(ScenarioError::invalid(
                    None,
                    format!("faults.{key}"),
                    format!("{p} is not a probability within 0..=1"),
                ));
            }
        }
        let total: f64 = probabilities.iter().map(|(_, p)| p).sum();
        if total > 1.0 {
            return Err(ScenarioError::invalid(
                None,
                "faults",
                format!("the probabilities add up to {total}, more than 1"),
            ));
        }
        let hang_for = match self.hang_for {
            Some(text) => section_duration("faults.hang_for", &text)?,
            None => Duration::from_secs(60),
        };
        if self.rate_limit == Some(0) {
            return Err(ScenarioError::invalid(
                None,
                "faults.rate_limit",
                "must be at least 1 request per second",
            ));
        }
        Ok(Faults {
            error_5xx: self.error_5xx,
            drop: self.drop,
            hang: self.hang,
            hang_for,
            garbage: self.garbage,
            throttle: self.throttle,
            retry_after: self.retry_after,
            rate_limit: self.rate_limit,
            seed: self.seed,
        })
    }
}

impl RawIam {
    fn validate(self) -> Result<Iam, ScenarioError> {
        if self.user.is_empty() || self.password.is_empty() || self.domain.is_empty() {
            return Err(ScenarioError::invalid(
                None,
                "iam",
                "user, password and domain must not be empty",
            ));
        }
        let token_ttl = match self.token_ttl {
            Some(text) => section_duration("iam.token_ttl", &text)?,
            None => Duration::from_secs(24 * 3600),
        };
        let revoke_after = self
            .revoke_after
            .map(|text| section_duration("iam.revoke_after", &text))
            .transpose()?;
        Ok(Iam {
            revoke_after,
            user: self.user,
            password: Secret::new(self.password),
            domain: self.domain,
            token_ttl,
            projects: self.projects,
        })
    }
}

/// `SUCCESS` and `FAIL` end a job; every other status (known or not) is non-terminal. (Here, with
/// the data, because validation needs it as much as the timeline evaluation does.)
pub(crate) fn is_terminal(status: &str) -> bool {
    status == "SUCCESS" || status == "FAIL"
}

/// When a timeline reaches its first terminal status, if it does.
pub(crate) fn ends_at(steps: &[Step]) -> Option<Duration> {
    let mut t = Duration::ZERO;
    for step in steps {
        if is_terminal(&step.status) {
            return Some(t);
        }
        t = t.saturating_add(step.duration?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Scenario::from_yaml(text).unwrap_err().to_string()
    }

    /// The top-level job ids, in file order.
    fn ids(s: &Scenario) -> Vec<&str> {
        s.jobs.iter().map(|j| j.id.as_str()).collect()
    }

    #[test]
    fn parses_the_documented_example() {
        let s = Scenario::from_yaml(
            r#"
project_id: 0123456789abcdef0123456789abcdef
auth:
  token: demo-token
  ak: AKDEMO
  sk: SKDEMO
jobs:
  - id: ff80808288d41e1b018a0b1c2d3e4f50
    job_type: createServer
    timeline:
      - { status: INIT, for: 1s }
      - { status: RUNNING, for: 5s }
      - { status: SUCCESS }
    entities: { volume_id: "bdf1" }
    error_code: Ecs.0013
    fail_reason: "Insufficient EIP quota"
    not_found_for: 3s
    sub_jobs:
      - { id: sub1, job_type: createSingleServer, timeline: [ { status: SUCCESS } ], entities: { server_id: s1, nic_id: n1 } }
  - id: second
    status: RUNNING
"#,
        )
        .unwrap();
        assert_eq!(
            s.project_id.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        let auth = s.auth.as_ref().unwrap();
        assert_eq!(auth.token.as_ref().unwrap().expose(), "demo-token");
        let (ak, sk) = auth.aksk.as_ref().unwrap();
        assert_eq!((ak.as_str(), sk.expose()), ("AKDEMO", "SKDEMO"));
        assert_eq!(ids(&s), vec!["ff80808288d41e1b018a0b1c2d3e4f50", "second"]);
        let job = &s.jobs[0];
        let timeline = job.timeline.as_ref().unwrap();
        assert_eq!(timeline.len(), 3);
        assert_eq!(timeline[1].duration, Some(Duration::from_secs(5)));
        assert_eq!(timeline[2].duration, None);
        assert_eq!(job.not_found_for, Some(Duration::from_secs(3)));
        assert_eq!(job.entities["volume_id"], "bdf1");
        assert_eq!(job.sub_jobs[0].entities["server_id"], "s1");
        assert_eq!(
            s.jobs[1].timeline.as_deref(),
            Some(
                &[Step {
                    status: "RUNNING".into(),
                    duration: None
                }][..]
            )
        );
        assert_eq!(s.jobs[1].job_type, DEFAULT_JOB_TYPE);
        // Debug never shows the secrets.
        let debug = format!("{s:?}");
        assert!(!debug.contains("SKDEMO") && !debug.contains("demo-token"));
    }

    #[test]
    fn json_is_accepted() {
        let s = Scenario::from_yaml(
            r#"{"jobs":[{"id":"a","sub_jobs":[{"id":"b","status":"SUCCESS"}]}]}"#,
        )
        .unwrap();
        assert!(s.jobs[0].timeline.is_none());
        assert_eq!(s.jobs[0].sub_jobs[0].id, "b");
    }

    #[test]
    fn job_without_timeline_status_or_sub_jobs_is_rejected() {
        let e = err("jobs: [ { id: j1, job_type: createServer } ]");
        assert!(e.contains("job j1") && e.contains("timeline"), "{e}");
        let e = err("jobs: [ { id: j1, sub_jobs: [] } ]");
        assert!(e.contains("job j1") && e.contains("timeline"), "{e}");
    }

    #[test]
    fn duplicate_top_level_ids_are_rejected() {
        let e = err("jobs: [ { id: j1, status: RUNNING }, { id: j1, status: SUCCESS } ]");
        assert!(e.contains("job j1") && e.contains("duplicate"), "{e}");
    }

    #[test]
    fn empty_timeline_is_rejected() {
        let e = err("jobs: [ { id: j1, timeline: [] } ]");
        assert!(e.contains("job j1: timeline: must not be empty"), "{e}");
    }

    #[test]
    fn non_last_entry_without_for_is_rejected() {
        let e = err("jobs: [ { id: j1, timeline: [ { status: RUNNING }, { status: SUCCESS } ] } ]");
        assert!(e.contains("job j1: timeline[0].for"), "{e}");
        // in a sub-job too, naming the sub-job
        let e = err(
            "jobs: [ { id: j1, sub_jobs: [ { id: s1, timeline: [ { status: RUNNING }, { status: SUCCESS } ] } ] } ]",
        );
        assert!(e.contains("job s1: timeline[0].for"), "{e}");
    }

    #[test]
    fn bad_durations_name_job_and_key() {
        let e = err("jobs: [ { id: j1, timeline: [ { status: RUNNING, for: soon }, { status: SUCCESS } ] } ]");
        assert!(
            e.contains("job j1: timeline[0].for") && e.contains("soon"),
            "{e}"
        );
        let e = err("jobs: [ { id: j1, status: SUCCESS, not_found_for: 3 } ]");
        assert!(e.contains("job j1: not_found_for"), "{e}");
    }

    #[test]
    fn timeline_and_status_together_are_rejected() {
        let e = err("jobs: [ { id: j1, status: RUNNING, timeline: [ { status: SUCCESS } ] } ]");
        assert!(e.contains("job j1: status"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = err("jobs: [ { id: j1, status: RUNNING, colour: red } ]");
        assert!(e.contains("colour"), "{e}");
        let e = err("jobz: []");
        assert!(e.contains("jobz"), "{e}");
    }

    #[test]
    fn auth_rules() {
        let e = err("auth: { ak: AK }\njobs: [ { id: j1, status: RUNNING } ]");
        assert!(e.contains("auth.sk"), "{e}");
        let e = err("auth: { sk: SECRETVALUE }\njobs: [ { id: j1, status: RUNNING } ]");
        assert!(e.contains("auth.ak") && !e.contains("SECRETVALUE"), "{e}");
        let e = err("auth: {}\njobs: [ { id: j1, status: RUNNING } ]");
        assert!(e.contains("auth"), "{e}");
        let s = Scenario::from_yaml("auth: { token: t }\njobs: [ { id: j1, status: RUNNING } ]")
            .unwrap();
        assert!(s.auth.unwrap().aksk.is_none());
    }

    #[test]
    fn misc_rules() {
        // an empty job list is fine: the simulator then only answers errors
        assert!(Scenario::from_yaml("jobs: []").unwrap().jobs.is_empty());
        let e = err("jobs: [ { id: j1, status: RUNNING, sub_jobs: [ { id: s, status: RUNNING, not_found_for: 1s } ] } ]");
        assert!(e.contains("job s: not_found_for"), "{e}");
        let e = err(
            "jobs: [ { id: j1, entities: { sub_jobs_total: 3 }, sub_jobs: [ { id: s, status: RUNNING } ] } ]",
        );
        assert!(e.contains("job j1: entities.sub_jobs_total"), "{e}");
        let e = err("jobs: [ { id: '', status: RUNNING } ]");
        assert!(e.contains("jobs[0].id"), "{e}");
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scenario.yaml");
        std::fs::write(&path, "jobs: [ { id: j1, timeline: [] } ]").unwrap();
        let e = Scenario::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("scenario.yaml") && e.contains("job j1"), "{e}");
        let e = Scenario::from_file(&dir.path().join("missing.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.yaml"), "{e}");
        std::fs::write(&path, "jobs: [ { id: j1, status: SUCCESS } ]").unwrap();
        assert_eq!(ids(&Scenario::from_file(&path).unwrap()), vec!["j1"]);
    }

    #[test]
    fn faults_validation() {
        let raw = |yaml: &str| from_yaml::<RawFaults>(yaml).unwrap().validate();
        let key = |e: ScenarioError| match e {
            ScenarioError::Invalid { job: None, key, .. } => key,
            other => panic!("not an invalid section: {other}"),
        };
        assert_eq!(key(raw("error_5xx: 1.5").unwrap_err()), "faults.error_5xx");
        assert_eq!(key(raw("error_5xx: 0.6\ndrop: 0.6").unwrap_err()), "faults");
        assert_eq!(key(raw("hang_for: soon").unwrap_err()), "faults.hang_for");
        assert_eq!(key(raw("rate_limit: 0").unwrap_err()), "faults.rate_limit");
        assert_eq!(raw("hang: 0.1").unwrap().hang_for, Duration::from_secs(60));
        assert!(from_yaml::<RawFaults>("explode: 1").is_err());
    }
}
