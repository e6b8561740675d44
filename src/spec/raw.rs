//! The spec as users write it: every key optional, so the layers (defaults, file, environment,
//! flags) can be merged key by key before [`super::plan`] validates the result.
//!
//! Values arrive as native YAML/TOML/JSON types from files but as strings from the environment
//! and flags, so numbers, booleans and ids accept both (see [`lenient`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

#[cfg(test)]
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::cloud::described::{is_name, ServiceDescription};
use crate::cloud::endpoint::{Cloud, Service};
#[cfg(test)]
use crate::cloud::service_ref::ServiceRef;
pub use crate::diagnostics::LogFormat;
use crate::lenient;
pub use crate::verdict::{PendingPayment, SubJobPolicy, UnknownStatus};

/// A jobwait spec: what to wait on and what counts as done.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, schemars(title = "jobwait spec"))]
pub struct RawSpec {
    /// Picks the endpoint domain.
    pub cloud: Option<Cloud>,
    /// Region name, e.g. `eu-de`: lowercase letters and digits in parts joined by `-`, at most
    /// 64 characters.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub region: Option<String>,
    /// Project id the jobs belong to (letters, digits, `-`, `_`; at most 64 characters); without
    /// it, IAM is asked for the project named `project_name`, else `region`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project_id: Option<String>,
    /// The IAM project to look the project id up by when `project_id` is not set, e.g. an OTC
    /// sub-project `eu-de_myproject` (letters, digits, `-`, `_`; at most 64 characters); without
    /// it, the project named `region`. Password tokens are scoped by this name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project_name: Option<String>,
    /// A URL template with `{service}` and `{region}`, or one fixed URL for every service.
    pub endpoint: Option<String>,
    /// Per-service base URL overrides (`ecs`, `evs`, …, a service of `services`, and `iam`).
    pub endpoints: Option<BTreeMap<String, String>>,
    /// Job APIs jobwait does not know, described by name: where a job is and how its document
    /// reads (a name of a built-in prefix replaces that prefix's document reading).
    pub services: Option<BTreeMap<String, ServiceDescription>>,
    /// Overall deadline (humantime, e.g. `30m`).
    pub timeout: Option<HumanDuration>,
    /// Time between polls of one job.
    pub poll: Option<RawPoll>,
    /// How long one request may take before it is abandoned and retried (default 30s, at least
    /// 100ms).
    pub request_timeout: Option<HumanDuration>,
    /// The largest response body read (e.g. `4MiB`, `512KiB` or a number of bytes; default
    /// 4MiB). A larger answer ends its job as errored: retrying cannot make it smaller.
    pub max_response_size: Option<ByteSize>,
    /// Requests per second, shared by all jobs to one endpoint host.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    #[cfg_attr(test, schemars(with = "Option<f64>"))]
    pub rate_limit: Option<f64>,
    /// Stop everything at the first failed job.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[cfg_attr(test, schemars(with = "Option<bool>"))]
    pub fail_fast: Option<bool>,
    /// How errors are retried.
    pub retry: Option<RawRetry>,
    /// Default success criteria for every job.
    pub success: Option<RawCriteria>,
    /// The jobs: objects, `[SERVICE:]JOB_ID` strings, or one string of those separated by
    /// commas, spaces or newlines.
    pub jobs: Option<JobList>,
    /// When the process exits non-zero: on any job that did not succeed (`any`, the default) or
    /// `never` (the report and outputs still tell; for pipelines that decide themselves).
    pub fail_on: Option<FailOn>,
    /// Wait on one shard of the jobs: `INDEX/COUNT` (jobs at positions i with i % COUNT == INDEX),
    /// or `auto` / `auto/COUNT` with the index from Kubernetes' `JOB_COMPLETION_INDEX` (and the
    /// count from `JOB_COMPLETIONS` when not given).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub shard: Option<String>,
    /// Result format on standard output.
    pub output: Option<OutputFormat>,
    /// Also write the JSON report to this file (atomically).
    pub report: Option<String>,
    /// In a log (not a terminal): a progress summary line this often, even when nothing
    /// changed (default 30s; 0s turns it off, otherwise at least 1s).
    pub progress_interval: Option<HumanDuration>,
    /// No progress on standard error.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[cfg_attr(test, schemars(with = "Option<bool>"))]
    pub quiet: Option<bool>,
    /// Log lines as text or as JSON objects (one per line, for log collectors).
    pub log_format: Option<LogFormat>,
    /// Log detail: 0 (warnings), 1 (info), 2 (debug), 3 (trace).
    #[serde(default, deserialize_with = "lenient::opt_u8")]
    #[cfg_attr(test, schemars(with = "Option<u8>"))]
    pub verbose: Option<u8>,
}

/// Result format on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// A readable table (the default on a terminal).
    Text,
    /// The report document (the default when standard output is not a terminal).
    Json,
}

/// When the process exits non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailOn {
    /// Exit with the contract's code whenever a job did not succeed.
    Any,
    /// Exit 0 after a completed wait, whatever the jobs did (usage errors still exit 2).
    Never,
}

/// Poll schedule: starts at `interval`, grows to `max_interval`, with jitter.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    /// The first delay between polls of a job (default 5s, at least 10ms).
    pub interval: Option<HumanDuration>,
    /// The longest delay between polls of a job (default 60s).
    pub max_interval: Option<HumanDuration>,
    pub schedule: Option<PollSchedule>,
    /// Where the adaptive schedule remembers how long jobs of each `job_type` took, across
    /// runs: a file path, or `off` (default: `$XDG_CACHE_HOME/jobwait/durations.json`, else
    /// `~/.cache/jobwait/durations.json`). A missing or read-only file only costs requests.
    pub cache: Option<String>,
}

/// How the delay before a job's next poll is chosen. Either way it is never longer than
/// `max_interval`, which bounds how late a finished job is noticed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PollSchedule {
    /// Read the job document: its `begin_time`, sub-job progress, `process_percent`, and how
    /// long jobs of the same `job_type` took in this run. Poll sparsely while the job cannot be
    /// near its end, around the estimated end, and on the back-off when there is no estimate.
    #[default]
    Adaptive,
    /// The plain back-off from `interval` to `max_interval`, whatever the job says.
    Backoff,
}

impl PollSchedule {
    pub fn as_str(self) -> &'static str {
        match self {
            PollSchedule::Adaptive => "adaptive",
            PollSchedule::Backoff => "backoff",
        }
    }
}

/// How errors are retried. Retryable errors (network, 5xx, 429, unreadable bodies) are retried
/// until the deadline unless a budget ends the job earlier: `max_consecutive_errors` per job,
/// `unreachable_after` per host that never answered (a wrong endpoint shows in seconds, not at
/// the deadline).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// End a job as errored after this many retryable errors in a row (default: no limit).
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    #[cfg_attr(test, schemars(with = "Option<u32>"))]
    pub max_consecutive_errors: Option<u32>,
    /// End every job on an endpoint host as errored when the host has not answered at all
    /// (connection refused, DNS, TLS handshake, reset or timed out before a response) this long
    /// after its first request (default `30s`, at least `1s`). A host that answered once,
    /// even with a 5xx or a 429, is never cut off by this: its later outages are the deadline's.
    pub unreachable_after: Option<HumanDuration>,
}

/// Success criteria; a job's own criteria override the defaults key by key.
#[derive(Debug, Default, Clone, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawCriteria {
    /// How sub-jobs decide the verdict.
    pub sub_jobs: Option<SubJobPolicy>,
    /// What PENDING_PAYMENT (an unpaid yearly/monthly order) means.
    pub pending_payment: Option<PendingPayment>,
    /// A job id the API does not know yet counts as pending this long.
    pub not_found_grace: Option<HumanDuration>,
    /// What a status outside the documented set means.
    pub unknown_status: Option<UnknownStatus>,
    /// Require the terminal status this many reads in a row (volume attachment: the job says
    /// SUCCESS before EVS is consistent). Default 1.
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    #[cfg_attr(test, schemars(with = "Option<u32>"))]
    pub confirm: Option<u32>,
    /// The expected `job_type` (e.g. `createServer`); another type ends the job as errored.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub job_type: Option<String>,
}

/// A job entry.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    /// The job id returned by the asynchronous call: letters, digits, `-`, `_` and `.`, not `.`
    /// or `..`.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// The service that created the job (default `ecs`): a built-in prefix or a service of
    /// `services`.
    #[serde(default, deserialize_with = "service_name")]
    #[cfg_attr(test, schemars(with = "Option<ServiceRef>"))]
    pub service: Option<String>,
    /// A label used in outputs.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// Deadline for this job, more than 0 (still bounded by the overall `timeout`).
    pub timeout: Option<HumanDuration>,
    /// Criteria overriding the spec-wide `success`.
    // Boxed: most jobs have none, and a list of a hundred thousand jobs need not carry the room.
    pub success: Option<Box<RawCriteria>>,
}

impl RawJob {
    /// Parses `[SERVICE:]JOB_ID`.
    pub fn parse_ref(text: &str) -> Result<RawJob, String> {
        let text = text.trim();
        let (service, id) = match text.split_once(':') {
            Some((svc, id)) => (Some(svc), id),
            None => (None, text),
        };
        if id.is_empty() || service == Some("") {
            let missing = if id.is_empty() {
                "job id"
            } else {
                "service before `:`"
            };
            return Err(format!(
                "`{text}` has no {missing} (expected [SERVICE:]JOB_ID)"
            ));
        }
        let service = service.map(normalise_service).transpose()?;
        Ok(RawJob {
            id: id.to_owned(),
            service,
            name: None,
            timeout: None,
            success: None,
        })
    }
}

/// A `SERVICE:` prefix as the plan looks it up: case is ignored and `_` stands for `-` (as in
/// environment variable names); a text that cannot be a service name is an error here, an
/// unknown name one when planning (where the spec's `services` are known).
pub fn normalise_service(text: &str) -> Result<String, String> {
    let name = text.trim().to_ascii_lowercase().replace('_', "-");
    if name.parse::<Service>().is_ok() || is_name(&name) {
        Ok(name)
    } else {
        let known: Vec<_> = Service::ALL.iter().map(|s| s.as_str()).collect();
        Err(format!(
            "unknown service `{text}` (known: {}, or a name described under `services`)",
            known.join(", ")
        ))
    }
}

fn service_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.as_deref()
        .map(normalise_service)
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// The `jobs` key: a list of entries, or one string of `[SERVICE:]JOB_ID` separated by commas,
/// spaces or newlines (as `JOBWAIT_JOBS` and the GitHub `jobs` input give it).
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(with = "JobListSchema"))]
pub struct JobList(pub Vec<RawJob>);

#[cfg(test)]
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum JobListSchema {
    List(Vec<JobEntrySchema>),
    Text(String),
}

#[cfg(test)]
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum JobEntrySchema {
    Ref(String),
    Job(RawJob),
}

impl JobList {
    pub fn parse_text(text: &str) -> Result<Vec<RawJob>, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(RawJob::parse_ref)
            .collect()
    }
}

impl<'de> Deserialize<'de> for JobList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = JobList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of jobs or a string of [SERVICE:]JOB_ID")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JobList, E> {
                JobList::parse_text(v).map(JobList).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JobList, A::Error> {
                let mut jobs = Vec::new();
                while let Some(JobEntry(job)) = seq.next_element()? {
                    jobs.push(job);
                }
                Ok(JobList(jobs))
            }
        }
        d.deserialize_any(ListVisitor)
    }
}

/// One element of a `jobs` list: an object or a `[SERVICE:]JOB_ID` string.
struct JobEntry(RawJob);

impl<'de> Deserialize<'de> for JobEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = JobEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a job object or a [SERVICE:]JOB_ID string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JobEntry, E> {
                RawJob::parse_ref(v).map(JobEntry).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JobEntry, A::Error> {
                RawJob::deserialize(de::value::MapAccessDeserializer::new(map)).map(JobEntry)
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

/// A humantime duration (`90s`, `15m`, `1h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(
    test,
    schemars(with = "String", description = "a duration such as 90s, 15m or 1h 30m")
)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = lenient::string(d)?;
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|e| {
                de::Error::custom(format!(
                    "`{text}` is not a duration ({e}); write e.g. 90s, 15m or 1h 30m"
                ))
            })
    }
}

/// A size in bytes: a number, or a number with a unit (`B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(
    test,
    schemars(
        with = "String",
        description = "a size such as 4MiB, 512KiB or a number of bytes"
    )
)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "kib" | "k" => 1 << 10,
            "mb" => 1000 * 1000,
            "mib" | "m" => 1 << 20,
            "gb" => 1000 * 1000 * 1000,
            "gib" | "g" => 1 << 30,
            _ => {
                return Err(format!(
                    "`{text}` is not a size; write e.g. 4MiB, 512KiB or 1000000"
                ))
            }
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a size; write e.g. 4MiB, 512KiB or 1000000"))?;
        let bytes = value * factor as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(format!("`{text}` is not a size in range"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = lenient::string(d)?;
        ByteSize::parse(&text).map_err(de::Error::custom)
    }
}
