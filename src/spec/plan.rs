//! The validated plan: raw layered input becomes fully resolved jobs (service, URL, criteria,
//! deadline), credentials and schedule. Every problem is collected, so one run shows them all.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::load::Loaded;
use super::problem::Problem;
use super::raw::{FailOn, LogFormat, OutputFormat, RawCriteria, RawSpec};
use crate::cloud::auth::Credentials;
use crate::cloud::described::DescribedApi;
use crate::cloud::endpoint::{self, Cloud, Endpoints, Service};
use crate::cloud::service_ref::ServiceRef;
use crate::environment::Environment;
use crate::verdict::Criteria;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_RATE_LIMIT: f64 = 10.0;
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(30);
/// The longest overall or per-job timeout accepted (a year; longer is surely a typo, and
/// deadlines must stay representable).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(366 * 24 * 3600);
/// The longest poll interval accepted.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The shortest poll interval accepted: below it a job is polled as fast as the rate limit
/// lets, which only burns the shared request budget.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// The shortest `request_timeout` accepted: no real API answers faster, so a shorter one only
/// turns every request into a timeout and a retry.
pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(100);
/// The shortest `progress_interval` accepted besides 0 (off): a summary every nanosecond would
/// be millions of log lines.
pub const MIN_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// The accepted range of `rate_limit`, requests per second.
pub const RATE_LIMIT_RANGE: std::ops::RangeInclusive<f64> = 0.001..=100_000.0;
/// The accepted range of `max_response_size`: a job document fits in the smallest, and the
/// largest is as much as anyone should hold in memory per answer.
pub const RESPONSE_SIZE_RANGE: std::ops::RangeInclusive<u64> = 1024..=(1 << 30);
/// How long a host that never answered is retried before its jobs end as errored
/// (`retry.unreachable_after`).
pub const DEFAULT_UNREACHABLE_AFTER: Duration = Duration::from_secs(30);
/// The shortest `retry.unreachable_after` accepted: a connection takes a while to fail, and
/// below a second a host that is merely slow to accept would be cut off.
pub const MIN_UNREACHABLE_AFTER: Duration = Duration::from_secs(1);
/// Requests in flight at once, across all jobs.
pub const MAX_IN_FLIGHT: usize = 64;

/// Everything a wait needs, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub jobs: Vec<PlannedJob>,
    /// Overall deadline, from the start of the wait.
    pub timeout: Duration,
    pub poll: PollPolicy,
    /// The file that remembers how long jobs of each type took (`poll.cache`); `None`: off.
    pub duration_cache: Option<PathBuf>,
    /// Requests per second per endpoint host.
    pub rate_limit: f64,
    pub max_in_flight: usize,
    /// How long one request may take (bounded by the time left).
    pub request_timeout: Duration,
    /// The largest response body read.
    pub max_response_size: u64,
    /// Retryable errors in a row that end a job as errored (`None`: retry until the deadline).
    pub max_consecutive_errors: Option<u32>,
    /// How long an endpoint host that never answered (only connection-level failures) is
    /// retried, from its first request, before every job on it ends as errored.
    pub unreachable_after: Duration,
    pub fail_fast: bool,
    pub fail_on: FailOn,
    /// The shard of the spec's jobs this run waits on (`jobs` already holds only those).
    pub shard: Option<Shard>,
    pub output: OutputFormat,
    pub report_path: Option<PathBuf>,
    pub quiet: bool,
    /// How often a progress summary is printed in a log.
    pub progress_interval: Duration,
    pub verbose: u8,
    pub log_format: LogFormat,
    pub project: Project,
    /// IAM's base URL, when it will be asked (password login, project discovery).
    pub iam: Option<Url>,
    /// `None` only where no request will be made (`validate`).
    pub credentials: Option<Credentials>,
    /// Whether the credentials came from the environment (which may be read again after a
    /// rejection, for rotated `*_FILE` secrets), not from a clouds.yaml entry.
    pub credentials_from_env: bool,
    /// What is allowed but probably a mistake: shown before the wait, never refused.
    pub warnings: Vec<Warning>,
}

/// A value the plan accepts but that is probably wrong. A warning, not a [`Problem`]: the
/// list behind it can be out of date (clouds open regions), and a wait must not be refused
/// for that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// `region` is not among the regions known for `cloud`: a typo sends every request to a
    /// host that does not exist.
    UnknownRegion { cloud: Cloud, region: String },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::UnknownRegion { cloud, region } => write!(
                f,
                "region {region} is not a known {} region (known: {}); if it is new, ignore this",
                cloud.display_name(),
                cloud.known_regions().join(", ")
            ),
        }
    }
}

/// The project the jobs belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    Id(String),
    /// Asked from IAM at the start (`GET /v3/projects?name=NAME`); password tokens are scoped by
    /// this name.
    Named {
        name: String,
        /// The key that gave the name: `project_name`, else `region`.
        by: &'static str,
    },
}

/// What a `project_name` may hold: it is sent to IAM as a query value and a token scope, and
/// real names (`eu-de`, `eu-de_myproject`) need no more.
pub const PROJECT_NAME_RULE: &str = "letters, digits, - and _ only; at most 64 characters";

/// Whether `name` follows [`PROJECT_NAME_RULE`].
pub fn is_project_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One job to wait on.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub id: String,
    pub service: ServiceRef,
    pub name: Option<String>,
    /// The service's endpoint; the job is at `base/v1/{project_id}/jobs/{id}`. Shared by the
    /// service's jobs (ten thousand copies of one URL would be a megabyte and a half).
    pub base: Arc<Url>,
    /// This job's own deadline, if shorter than the overall one.
    pub timeout: Option<Duration>,
    pub criteria: Criteria,
}

impl PlannedJob {
    /// The job's URL under `project_id`.
    pub fn url(&self, project_id: &str) -> Url {
        self.service.url(&self.base, project_id, &self.id)
    }

    /// `service:id`, how the job is named in messages.
    pub fn label(&self) -> String {
        crate::label::job_label(self.name.as_deref(), &self.service, &self.id)
    }
}

/// Time between polls of one job: from `interval`, growing to `max_interval`, chosen by
/// `schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub interval: Duration,
    pub max_interval: Duration,
    pub schedule: crate::spec::raw::PollSchedule,
}

/// One shard of the job list: the jobs at positions `i` with `i % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `INDEX/COUNT`, `auto/COUNT` or `auto` (index from `JOB_COMPLETION_INDEX`, count from
    /// `JOB_COMPLETIONS`, as a Kubernetes Indexed Job can set them).
    pub fn parse(text: &str, env: &Environment) -> Result<Shard, String> {
        let (index, count) = match text.trim().split_once('/') {
            Some((i, c)) => (i.trim(), Some(c.trim())),
            None => (text.trim(), None),
        };
        let number = |what: &str, s: &str| {
            s.parse::<usize>().map_err(|_| {
                format!(
                    "{what} `{s}` is not a whole number (write INDEX/COUNT, auto/COUNT or auto)"
                )
            })
        };
        let index = match index {
            "auto" => number(
                "JOB_COMPLETION_INDEX",
                env.get("JOB_COMPLETION_INDEX").ok_or(
                    "`auto` needs JOB_COMPLETION_INDEX, which Kubernetes sets in Indexed Jobs",
                )?,
            )?,
            i => number("shard index", i)?,
        };
        let count = match count {
            Some(c) => number("shard count", c)?,
            None if text.trim() == "auto" => number(
                "JOB_COMPLETIONS",
                env.get("JOB_COMPLETIONS").ok_or(
                    "`auto` needs the shard count: write auto/COUNT or set JOB_COMPLETIONS",
                )?,
            )?,
            None => return Err(format!("`{text}` is not INDEX/COUNT, auto/COUNT or auto")),
        };
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: the index must be below the count, and the count above 0"
            ));
        }
        Ok(Shard { index, count })
    }

    pub fn holds(self, position: usize) -> bool {
        position % self.count == self.index
    }
}

/// What the plan needs to know about the place it runs.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub stdout_is_terminal: bool,
    /// Whether credentials are required (not for `validate`).
    pub require_credentials: bool,
}

impl Plan {
    /// Whether any request will go over TLS (the root certificates are loaded only then).
    pub fn uses_https(&self) -> bool {
        self.iam.iter().any(|u| u.scheme() == "https")
            || self.jobs.iter().any(|j| j.base.scheme() == "https")
    }

    /// The project id, when the spec gave it (not when IAM is to be asked). Only tests ask:
    /// the wait takes the id from the project lookup, which also covers `Named`.
    #[cfg(test)]
    pub fn project_id(&self) -> Option<&str> {
        match &self.project {
            Project::Id(id) => Some(id),
            Project::Named { .. } => None,
        }
    }
}

/// Where the value at a key came from, for messages (`default` when no layer set it).
type Origin<'a> = dyn Fn(&str) -> String + 'a;

impl Plan {
    /// The plan, or every problem with the spec at once.
    ///
    /// One section per concern, each reading its keys and adding its problems; the order of
    /// the sections is the order problems are listed in.
    pub fn build(loaded: &Loaded, env: &Environment, cx: Context) -> Result<Plan, Vec<Problem>> {
        let raw = &loaded.raw;
        let origin = |key: &str| loaded.origin(key).unwrap_or_else(|| "default".to_owned());
        let mut problems = Vec::new();

        let poll = poll_policy(raw);
        let intervals = intervals(raw, &poll, &origin, &mut problems);
        let max_consecutive_errors = max_consecutive_errors(raw, &origin, &mut problems);
        let unreachable_after = unreachable_after(raw, &origin, &mut problems);
        let timeout = timeout(raw, &origin, &mut problems);
        let limits = rate_and_limits(raw, &origin, &mut problems);

        // A value refused here is left out like one the loader could not read: the problems
        // that only follow from its absence are not listed.
        let mut unreadable: Vec<&str> = loaded.dropped.iter().map(String::as_str).collect();
        let (region, refused) = match region(raw, &origin) {
            Ok(region) => (region, None),
            Err(problem) => {
                unreadable.push("region");
                (None, Some(problem))
            }
        };
        let project = project(raw, region.as_deref(), &origin, &unreadable, &mut problems);
        let described = described_services(raw, &origin, &mut problems);
        let endpoints = endpoints(raw, region.as_deref(), &described, &origin, &mut problems);
        let jobs = jobs(
            raw,
            &endpoints,
            &described,
            loaded,
            &unreadable,
            &mut problems,
        );
        let shard = shard(raw, env, &origin, &mut problems);
        let duration_cache = duration_cache(raw, env, &origin, &mut problems);
        let jobs = in_shard(jobs, shard);
        let (credentials, iam, credentials_from_env) = credentials_and_iam(
            env,
            loaded,
            cx,
            &project,
            &endpoints,
            &unreadable,
            &mut problems,
        );
        let outputs = outputs(raw, cx);
        let warnings = warnings(raw, region.as_deref());

        // A key whose value was bad is missing from `raw`: problems about it (its "not set",
        // a comparison with its default) would only repeat what the value's problem says.
        problems.retain(|p| !unreadable.iter().any(|k| p.is_under(k)));
        problems.splice(0..0, loaded.problems.iter().cloned().chain(refused));
        if !problems.is_empty() {
            // Values are quoted in problems: a URL's password, wherever it was put, is not.
            return Err(problems.into_iter().map(Problem::redacted).collect());
        }
        Ok(Plan {
            jobs,
            timeout,
            poll,
            duration_cache,
            rate_limit: limits.rate_limit,
            max_in_flight: MAX_IN_FLIGHT,
            request_timeout: intervals.request_timeout,
            max_response_size: limits.max_response_size,
            max_consecutive_errors,
            unreachable_after,
            fail_fast: raw.fail_fast.unwrap_or(false),
            fail_on: raw.fail_on.unwrap_or(FailOn::Any),
            shard,
            output: outputs.output,
            report_path: outputs.report_path,
            quiet: outputs.quiet,
            progress_interval: intervals.progress_interval,
            verbose: outputs.verbose,
            log_format: outputs.log_format,
            project,
            iam,
            credentials,
            credentials_from_env,
            warnings,
        })
    }
}

/// `poll`: the given interval, maximum and schedule, or the defaults.
fn poll_policy(raw: &RawSpec) -> PollPolicy {
    let poll = raw.poll.as_ref();
    PollPolicy {
        interval: poll
            .and_then(|p| p.interval)
            .map_or(DEFAULT_POLL_INTERVAL, |d| d.0),
        max_interval: poll
            .and_then(|p| p.max_interval)
            .map_or(DEFAULT_MAX_INTERVAL, |d| d.0),
        schedule: poll.and_then(|p| p.schedule).unwrap_or_default(),
    }
}

/// The request timeout and the progress interval, resolved.
struct Intervals {
    request_timeout: Duration,
    progress_interval: Duration,
}

/// The bounds of the polling intervals, `request_timeout` and `progress_interval` (upper bounds
/// first, then lower), and a maximum poll interval below the interval.
fn intervals(
    raw: &RawSpec,
    poll: &PollPolicy,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) -> Intervals {
    for (key, value, max) in [
        ("poll.interval", poll.interval, MAX_POLL_INTERVAL),
        ("poll.max_interval", poll.max_interval, MAX_POLL_INTERVAL),
        (
            "progress_interval",
            raw.progress_interval.map_or(Duration::ZERO, |d| d.0),
            MAX_POLL_INTERVAL,
        ),
        (
            "request_timeout",
            raw.request_timeout.map_or(Duration::ZERO, |d| d.0),
            MAX_POLL_INTERVAL,
        ),
    ] {
        if value > max {
            problems.push(bad_value(
                key,
                origin(key),
                format!("is more than {}", humantime::format_duration(max)),
            ));
        }
    }
    for (key, value, min, what) in [
        (
            "poll.interval",
            Some(poll.interval),
            MIN_POLL_INTERVAL,
            "at least",
        ),
        (
            "request_timeout",
            raw.request_timeout.map(|d| d.0),
            MIN_REQUEST_TIMEOUT,
            "at least",
        ),
        (
            "progress_interval",
            raw.progress_interval.map(|d| d.0).filter(|d| !d.is_zero()),
            MIN_PROGRESS_INTERVAL,
            "0s (off) or at least",
        ),
    ] {
        if value.is_some_and(|v| v < min) {
            problems.push(bad_value(
                key,
                origin(key),
                format!("must be {what} {}", humantime::format_duration(min)),
            ));
        }
    }
    if poll.max_interval < poll.interval {
        problems.push(bad_value(
            "poll.max_interval",
            origin("poll.max_interval"),
            format!(
                "({}) is shorter than `poll.interval` ({}, {})",
                humantime::format_duration(poll.max_interval),
                humantime::format_duration(poll.interval),
                origin("poll.interval"),
            ),
        ));
    }
    Intervals {
        request_timeout: raw
            .request_timeout
            .map_or(crate::cloud::client::REQUEST_TIMEOUT, |d| d.0),
        progress_interval: raw
            .progress_interval
            .map_or(DEFAULT_PROGRESS_INTERVAL, |d| d.0),
    }
}

/// `retry.max_consecutive_errors`: unset retries until the deadline; 0 is refused.
fn max_consecutive_errors(
    raw: &RawSpec,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) -> Option<u32> {
    let max = raw.retry.as_ref().and_then(|r| r.max_consecutive_errors);
    if max == Some(0) {
        problems.push(bad_value(
            "retry.max_consecutive_errors",
            origin("retry.max_consecutive_errors"),
            "must be at least 1",
        ));
    }
    max
}

/// `retry.unreachable_after`: at least [`MIN_UNREACHABLE_AFTER`], at most [`MAX_TIMEOUT`]. There
/// is no "off": a value at or above `timeout` never fires before the deadline.
fn unreachable_after(raw: &RawSpec, origin: &Origin, problems: &mut Vec<Problem>) -> Duration {
    const KEY: &str = "retry.unreachable_after";
    let after = raw
        .retry
        .as_ref()
        .and_then(|r| r.unreachable_after)
        .map_or(DEFAULT_UNREACHABLE_AFTER, |d| d.0);
    if after < MIN_UNREACHABLE_AFTER {
        problems.push(bad_value(
            KEY,
            origin(KEY),
            format!(
                "must be at least {} (set it to the timeout or longer to leave unreachable hosts to the deadline)",
                humantime::format_duration(MIN_UNREACHABLE_AFTER)
            ),
        ));
    }
    if after > MAX_TIMEOUT {
        problems.push(bad_value(
            KEY,
            origin(KEY),
            format!("is more than {}", humantime::format_duration(MAX_TIMEOUT)),
        ));
    }
    after
}

/// The overall `timeout`: above 0, at most [`MAX_TIMEOUT`].
fn timeout(raw: &RawSpec, origin: &Origin, problems: &mut Vec<Problem>) -> Duration {
    let timeout = raw.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout > MAX_TIMEOUT {
        problems.push(bad_value(
            "timeout",
            origin("timeout"),
            format!("is more than {}", humantime::format_duration(MAX_TIMEOUT)),
        ));
    }
    if timeout.is_zero() {
        problems.push(bad_value(
            "timeout",
            origin("timeout"),
            "must be more than 0",
        ));
    }
    timeout
}

/// The request rate and the largest answer read, resolved.
struct Limits {
    rate_limit: f64,
    max_response_size: u64,
}

/// `rate_limit` and `max_response_size`, each within its range.
fn rate_and_limits(raw: &RawSpec, origin: &Origin, problems: &mut Vec<Problem>) -> Limits {
    let rate_limit = raw.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
    if !RATE_LIMIT_RANGE.contains(&rate_limit) {
        problems.push(bad_value(
            "rate_limit",
            origin("rate_limit"),
            format!("must be between 0.001 and 100000 requests per second, not {rate_limit}"),
        ));
    }
    let max_response_size = raw
        .max_response_size
        .map_or(crate::cloud::client::DEFAULT_MAX_BODY, |s| s.0);
    if !RESPONSE_SIZE_RANGE.contains(&max_response_size) {
        problems.push(bad_value(
            "max_response_size",
            origin("max_response_size"),
            format!("must be between 1KiB and 1GiB, not {max_response_size} bytes"),
        ));
    }
    Limits {
        rate_limit,
        max_response_size,
    }
}

/// `region`, or the problem that refuses it: it becomes part of host names.
fn region(raw: &RawSpec, origin: &Origin) -> Result<Option<String>, Problem> {
    match &raw.region {
        Some(region) if !endpoint::is_region(region) => Err(Problem::new(format!(
            "key `region`: `{region}` is not a region name ({})",
            endpoint::REGION_RULE
        ))
        .key("region")
        .origin(origin("region"))),
        region => Ok(region.clone()),
    }
}

/// What the plan accepts but is probably a mistake: a region the cloud preset does not know.
fn warnings(raw: &RawSpec, region: Option<&str>) -> Vec<Warning> {
    match (raw.cloud, region) {
        (Some(cloud), Some(region)) if !cloud.knows_region(region) => {
            vec![Warning::UnknownRegion {
                cloud,
                region: region.to_owned(),
            }]
        }
        _ => Vec::new(),
    }
}

/// `project_id`, else the project named `project_name`, else the one named `region` (asked from
/// IAM). Neither is a problem unless an `unreadable` key was meant to give it.
fn project(
    raw: &RawSpec,
    region: Option<&str>,
    origin: &Origin,
    unreadable: &[&str],
    problems: &mut Vec<Problem>,
) -> Project {
    let name = raw.project_name.as_deref();
    if let Some(name) = name.filter(|n| !is_project_name(n)) {
        problems.push(
            Problem::new(format!(
                "key `project_name`: `{name}` is not a project name ({PROJECT_NAME_RULE})"
            ))
            .key("project_name")
            .origin(origin("project_name")),
        );
    }
    match (&raw.project_id, name, region) {
        (Some(id), _, _) => {
            if !endpoint::is_project_id(id) {
                problems.push(
                    Problem::new(format!(
                        "key `project_id`: `{id}` is not a project id ({})",
                        endpoint::PROJECT_ID_RULE
                    ))
                    .key("project_id")
                    .origin(origin("project_id")),
                );
            }
            Project::Id(id.clone())
        }
        (None, Some(name), _) => Project::Named {
            name: name.to_owned(),
            by: "project_name",
        },
        (None, None, Some(region)) => Project::Named {
            name: region.to_owned(),
            by: "region",
        },
        (None, None, None) => {
            if !unreadable.contains(&"region") && !unreadable.contains(&"project_name") {
                problems.push(
                    Problem::new(
                        "key `project_id` is not set: put it in the spec file, JOBWAIT_PROJECT_ID or --project-id \
                         (or set `project_name` or `region` to look it up in IAM)",
                    )
                    .key("project_id"),
                );
            }
            Project::Id(String::new())
        }
    }
}

/// Where requests go: `endpoint`, `cloud` and `region`, and the `endpoints.<name>` overrides.
fn endpoints(
    raw: &RawSpec,
    region: Option<&str>,
    described: &BTreeMap<String, ServiceRef>,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) -> Endpoints {
    let endpoints = Endpoints {
        template: raw.endpoint.clone(),
        cloud: raw.cloud,
        region: region.map(str::to_owned),
        overrides: BTreeMap::new(),
        described: BTreeMap::new(),
        iam: None,
    };
    with_overrides(
        endpoints,
        raw.endpoints.as_ref(),
        described,
        &origin("endpoints"),
        problems,
    )
}

/// `services`: each described service, held to the rules of a description; a broken one is a
/// problem naming its key (`services.<name>.<field>`) and is left out.
fn described_services(
    raw: &RawSpec,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, ServiceRef> {
    let mut out = BTreeMap::new();
    for (name, description) in raw.services.iter().flatten() {
        match DescribedApi::new(name, description.clone()) {
            Ok(api) => {
                out.insert(name.clone(), ServiceRef::Described(Arc::new(api)));
            }
            Err((field, why)) => {
                let key = match field {
                    "" => format!("services.{name}"),
                    field => format!("services.{name}.{field}"),
                };
                problems.push(
                    Problem::new(format!("key `{key}`: {why}"))
                        .key(key)
                        .origin(origin("services")),
                );
            }
        }
    }
    out
}

/// `shard`, parsed (`auto` reads the Kubernetes index from `env`).
fn shard(
    raw: &RawSpec,
    env: &Environment,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) -> Option<Shard> {
    match raw.shard.as_deref().map(|text| Shard::parse(text, env)) {
        Some(Ok(shard)) => Some(shard),
        Some(Err(e)) => {
            problems.push(
                Problem::new(format!("key `shard`: {e}"))
                    .key("shard")
                    .origin(origin("shard")),
            );
            None
        }
        None => None,
    }
}

/// `poll.cache`: where the adaptive schedule remembers durations per job type. A path, `off`,
/// or by default `$XDG_CACHE_HOME/jobwait/durations.json` (else `$HOME/.cache/jobwait/…`; the
/// XDG rule: only absolute directories count), or none when neither is set.
fn duration_cache(
    raw: &RawSpec,
    env: &Environment,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    match raw.poll.as_ref().and_then(|p| p.cache.as_deref()) {
        Some("off") => None,
        Some(text) if text.trim().is_empty() || text.contains('\0') || text.len() > 4096 => {
            problems.push(
                Problem::new(
                    "key `poll.cache`: expected a file path or `off` (not empty, at most 4096 bytes)"
                        .to_owned(),
                )
                .key("poll.cache")
                .origin(origin("poll.cache")),
            );
            None
        }
        Some(text) => Some(PathBuf::from(text)),
        None => {
            let absolute =
                |name: &str| env.get(name).map(PathBuf::from).filter(|p| p.is_absolute());
            let dir = absolute("XDG_CACHE_HOME")
                .or_else(|| absolute("HOME").map(|home| home.join(".cache")))?;
            Some(dir.join("jobwait").join("durations.json"))
        }
    }
}

/// The jobs of `shard` (all of them without one).
fn in_shard(jobs: Vec<PlannedJob>, shard: Option<Shard>) -> Vec<PlannedJob> {
    match shard {
        Some(shard) => jobs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.holds(*i))
            .map(|(_, j)| j)
            .collect(),
        None => jobs,
    }
}

/// The credentials in the environment or the clouds.yaml entry (required for a wait), and IAM's
/// base URL when it will be asked: for the project id, or for a token from a password. A
/// password token is scoped to the project the plan names (`project_id`, else the project looked
/// up), so it needs no `region` of its own; IAM's endpoint still has to be known.
///
/// Credentials come from the entry when it holds them and no `JOBWAIT_TOKEN` is set, else from
/// the environment. Whichever they are, they go to IAM only under [`credentials_may_go_to`].
fn credentials_and_iam(
    env: &Environment,
    loaded: &Loaded,
    cx: Context,
    project: &Project,
    endpoints: &Endpoints,
    unreadable: &[&str],
    problems: &mut Vec<Problem>,
) -> (Option<Credentials>, Option<Url>, bool) {
    let origin = |key: &str| loaded.origin(key).unwrap_or_else(|| "default".to_owned());
    let token_set = ["JOBWAIT_TOKEN", "JOBWAIT_TOKEN_FILE"]
        .iter()
        .any(|v| env.get(v).is_some());
    let from_entry = loaded
        .entry
        .as_ref()
        .and_then(|e| e.credentials.clone())
        .filter(|_| !token_set);
    let found = match &from_entry {
        Some((credentials, _)) => Ok(Some(credentials.clone())),
        None => Credentials::from_env(env),
    };
    let password = matches!(found, Ok(Some(Credentials::Password { .. })));
    let needs_iam = matches!(project, Project::Named { .. }) || password;
    let iam = match needs_iam.then(|| endpoints.iam_base()) {
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => {
            let given = endpoints.iam.is_some();
            let problem = endpoint_problem(endpoints, "iam", given, e, unreadable);
            // `endpoints.iam` may come from another tool's variable (`OS_AUTH_URL`): say which.
            problems.extend(problem.map(|p| {
                if given {
                    p.origin(origin("endpoints.iam"))
                } else {
                    p
                }
            }));
            None
        }
        None => None,
    };
    let credentials = match found {
        Ok(Some(c)) => Some(c),
        Ok(None) if cx.require_credentials => {
            problems.push(Problem::new(
                "no credentials in the environment: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
                 (or OS_ACCESS_KEY/OS_SECRET_KEY, HW_ACCESS_KEY/HW_SECRET_KEY), or JOBWAIT_TOKEN / OS_AUTH_TOKEN, \
                 or select a clouds.yaml entry that holds them with OS_CLOUD",
            ));
            None
        }
        Ok(None) => None,
        Err(e) => {
            problems.push(Problem::new(e));
            None
        }
    };
    if let (Some(credentials), Some(iam)) = (&credentials, &iam) {
        let file = from_entry.as_ref().map(|(_, file)| file.as_path());
        if let Err(problem) = credentials_may_go_to(credentials, file, iam, loaded, &origin) {
            problems.push(problem);
        }
    }
    (credentials, iam, from_entry.is_none())
}

/// The rule that keeps credentials and IAM's URL from the same source, so that no file can
/// send credentials from elsewhere to a host of its choosing (a repository can hold a
/// clouds.yaml, and `OS_CLOUD` reads the working directory's first):
///
/// - credentials from the **environment** (variables, or files they name) never go to an
///   `auth_url` read from a clouds.yaml; any other IAM URL (a flag, `JOBWAIT_*`, the spec file,
///   `OS_AUTH_URL` and the SDKs' variables, the cloud's own) is theirs;
/// - credentials from a **clouds.yaml entry** go only to that entry's `auth.auth_url`, read from
///   a file in the same directory as the credentials (a secure.yaml beside its clouds.yaml; not a
///   working directory's clouds.yaml with the user's secure.yaml); a higher layer may repeat the
///   same URL, never change it.
///
/// `credentials_file` is the file the credentials came from, `None` for the environment. A
/// violation is a problem naming both sources.
fn credentials_may_go_to(
    credentials: &Credentials,
    credentials_file: Option<&std::path::Path>,
    iam: &Url,
    loaded: &Loaded,
    origin: &Origin,
) -> Result<(), Problem> {
    let shown_url = endpoint::redacted(iam);
    let iam_origin = origin("endpoints.iam");
    match (credentials_file, loaded.entry.as_ref()) {
        (None, _) => {
            if loaded.from_entry("endpoints.iam") {
                return Err(Problem::new(format!(
                    "the credentials from the environment ({}) would be sent to IAM at {shown_url} \
                     ({iam_origin}); credentials from the environment never go to a clouds.yaml's \
                     auth_url (one in a working directory could be planted): put the credentials in \
                     that entry (or its secure.yaml), or set `endpoints.iam` in the spec file or \
                     JOBWAIT_ENDPOINTS__IAM",
                    credentials.source()
                ))
                .key("endpoints.iam"));
            }
            Ok(())
        }
        (Some(file), Some(entry)) => {
            let own = entry.auth_url.as_ref().map(|(url, from)| {
                let same_dir = from.parent() == file.parent();
                let same_url = Url::parse(&format!("{}/", url.trim_end_matches('/')))
                    .ok()
                    .is_some_and(|u| {
                        u.as_str().trim_end_matches('/') == iam.as_str().trim_end_matches('/')
                    });
                (same_dir, same_url, from)
            });
            let why = match own {
                Some((true, true, _)) => return Ok(()),
                None => format!(
                    "entry `{}` has no auth.auth_url, and its credentials go to no other IAM",
                    entry.name
                ),
                Some((false, _, from)) => format!(
                    "its auth.auth_url is from {}, another directory than the credentials",
                    from.display()
                ),
                Some((true, false, _)) => "they go only to their entry's auth.auth_url".to_owned(),
            };
            Err(Problem::new(format!(
                "the credentials of {} would be sent to IAM at {shown_url} ({iam_origin}): {why}",
                credentials.source()
            ))
            .key("endpoints.iam"))
        }
        // Credentials from a file without an entry cannot be; nothing to check.
        (Some(_), None) => Ok(()),
    }
}

/// What the run shows and writes, resolved.
struct Outputs {
    output: OutputFormat,
    report_path: Option<PathBuf>,
    quiet: bool,
    verbose: u8,
    log_format: LogFormat,
}

/// `output` (text on a terminal, JSON otherwise), `report`, `quiet`, `verbose`, `log_format`.
fn outputs(raw: &RawSpec, cx: Context) -> Outputs {
    Outputs {
        output: raw.output.unwrap_or(if cx.stdout_is_terminal {
            OutputFormat::Text
        } else {
            OutputFormat::Json
        }),
        report_path: raw.report.as_ref().map(PathBuf::from),
        quiet: raw.quiet.unwrap_or(false),
        verbose: raw.verbose.unwrap_or(0),
        log_format: raw.log_format.unwrap_or(LogFormat::Text),
    }
}

/// `jobs`: each with its service's URL and its criteria; a bad one is a problem and left out.
fn jobs(
    raw: &RawSpec,
    endpoints: &Endpoints,
    described: &BTreeMap<String, ServiceRef>,
    loaded: &Loaded,
    unreadable: &[&str],
    problems: &mut Vec<Problem>,
) -> Vec<PlannedJob> {
    let list = raw
        .jobs
        .as_ref()
        .map(|j| j.0.as_slice())
        .unwrap_or_default();
    if list.is_empty() {
        problems.push(
            Problem::new(
                "no jobs to wait on: give [SERVICE:]JOB_ID arguments, `jobs` in the spec file, or JOBWAIT_JOBS",
            )
            .key("jobs"),
        );
        return Vec::new();
    }
    // Looked up only when a problem needs it.
    let where_jobs =
        std::cell::LazyCell::new(|| loaded.origin("jobs").unwrap_or_else(|| "spec".to_owned()));
    let spec_wide = raw.success.clone().unwrap_or_default();
    let mut seen = HashSet::new();
    // The problem is taken by the first job of the service: one message per service.
    let mut base_urls: BTreeMap<ServiceRef, Result<Arc<Url>, Option<Problem>>> = BTreeMap::new();
    let mut jobs = Vec::with_capacity(list.len());
    for (i, job) in list.iter().enumerate() {
        // A described service first (it may stand in for a built-in prefix), then a built-in.
        let name = job.service.as_deref().unwrap_or("ecs");
        let service = match described.get(name) {
            Some(service) => service.clone(),
            None => match name.parse::<Service>() {
                Ok(builtin) => ServiceRef::Builtin(builtin),
                Err(e) => {
                    let e = e.strip_suffix(')').unwrap_or(&e);
                    problems.push(
                        Problem::new(format!(
                            "key `jobs.{i}`: {e}, or a name described under `services`)"
                        ))
                        .key(format!("jobs.{i}"))
                        .origin(&*where_jobs),
                    );
                    continue;
                }
            },
        };
        // Borrowed until the job is planned: the duplicate check holds no copy of every id.
        let id = job.id.trim();
        if !endpoint::is_job_id(id) {
            problems.push(
                Problem::new(format!(
                    "key `jobs.{i}.id`: `{}` is not a job id ({})",
                    job.id,
                    endpoint::JOB_ID_RULE
                ))
                .key(format!("jobs.{i}.id"))
                .origin(&*where_jobs),
            );
            continue;
        }
        if job.timeout.is_some_and(|t| t.0.is_zero()) {
            problems.push(bad_value(
                &format!("jobs.{i}.timeout"),
                (*where_jobs).clone(),
                "must be more than 0",
            ));
            continue;
        }
        if !seen.insert((service.clone(), id)) {
            problems.push(
                Problem::new(format!("job {service}:{id} is listed twice"))
                    .key(format!("jobs.{i}"))
                    .origin(&*where_jobs),
            );
            continue;
        }
        // One message per service, not one per job, when its endpoint cannot be built.
        let base = match base_urls.entry(service.clone()).or_insert_with(|| {
            // The cloud preset would reach a job API its cloud does not document.
            let builtin = match &service {
                ServiceRef::Builtin(s) => Some(*s),
                ServiceRef::Described(_) => None,
            };
            if let Some(why) = builtin.and_then(|s| endpoints.undocumented(s)) {
                return Err(Some(
                    Problem::new(format!("job {service}:{id}: {why}"))
                        .key("cloud")
                        .origin(&*where_jobs),
                ));
            }
            service.base(endpoints).map(Arc::new).map_err(|e| {
                let given = match &service {
                    ServiceRef::Builtin(s) => endpoints.overrides.contains_key(s),
                    ServiceRef::Described(api) => endpoints.described.contains_key(api.name()),
                };
                endpoint_problem(endpoints, service.name(), given, e, unreadable)
            })
        }) {
            Ok(base) => base.clone(),
            Err(e) => {
                problems.extend(e.take());
                continue;
            }
        };
        let criteria = criteria(&spec_wide, job.success.as_deref());
        // A criterion's key is the job's own, or the spec-wide `success` default it took.
        let own = job.success.as_deref();
        let key_of = |key: &str, own_has: bool| {
            if own_has {
                format!("jobs.{i}.{key}")
            } else {
                key.to_owned()
            }
        };
        let too_long = [
            ("timeout", job.timeout.map(|d| d.0), true),
            (
                "success.not_found_grace",
                Some(criteria.not_found_grace),
                own.is_some_and(|c| c.not_found_grace.is_some()),
            ),
        ]
        .into_iter()
        .find(|(_, d, _)| d.is_some_and(|d| d > MAX_TIMEOUT));
        if let Some((key, _, own_has)) = too_long {
            problems.push(
                Problem::new(format!("job {service}:{id}: `{key}` is more than a year"))
                    .key(key_of(key, own_has))
                    .origin(&*where_jobs),
            );
            continue;
        }
        if criteria.confirm == 0 {
            problems.push(
                Problem::new(format!(
                    "job {service}:{id}: `success.confirm` must be at least 1"
                ))
                .key(key_of(
                    "success.confirm",
                    own.is_some_and(|c| c.confirm.is_some()),
                ))
                .origin(&*where_jobs),
            );
            continue;
        }
        jobs.push(PlannedJob {
            id: id.to_owned(),
            service,
            name: job.name.clone(),
            base,
            timeout: job.timeout.map(|d| d.0),
            criteria,
        });
    }
    jobs
}

/// `endpoints.<name>`: a service or `iam`; an unknown name is a problem.
fn with_overrides(
    mut endpoints: Endpoints,
    overrides: Option<&BTreeMap<String, String>>,
    described: &BTreeMap<String, ServiceRef>,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Endpoints {
    for (name, url) in overrides.into_iter().flatten() {
        if name == "iam" {
            endpoints.iam = Some(url.clone());
            continue;
        }
        let normalised = name.to_ascii_lowercase().replace('_', "-");
        if described.contains_key(&normalised) && normalised.parse::<Service>().is_err() {
            endpoints.described.insert(normalised, url.clone());
            continue;
        }
        match name.parse::<Service>() {
            Ok(service) => {
                endpoints.overrides.insert(service, url.clone());
            }
            Err(e) => problems.push(
                Problem::new(format!("key `endpoints.{name}`: {e} (or iam)"))
                    .key(format!("endpoints.{name}"))
                    .origin(origin),
            ),
        }
    }
    endpoints
}

/// `<origin>: key `<key>` <predicate>`, the shape of a value out of bounds.
fn bad_value(key: &str, origin: impl Into<String>, predicate: impl std::fmt::Display) -> Problem {
    Problem::new(format!("key `{key}` {predicate}"))
        .key(key)
        .origin(origin)
}

/// The keys that decide where requests go: when one was unreadable, "no endpoint: set one of
/// them" would only repeat its problem.
const ENDPOINT_KEYS: [&str; 4] = ["endpoint", "endpoints", "cloud", "region"];

/// `message`, why the URL of `name` (a service, or `iam`) cannot be built, as a problem about
/// the key that was to give it: `endpoints.<name>` when `given`, else the template or the
/// cloud preset — or `region` when that needs it and it is not set. `None` when no key gives
/// one because one of [`ENDPOINT_KEYS`] was `unreadable`.
fn endpoint_problem(
    endpoints: &Endpoints,
    name: &str,
    given: bool,
    message: String,
    unreadable: &[&str],
) -> Option<Problem> {
    let no_region = endpoints.region.is_none();
    let key = if given {
        format!("endpoints.{name}")
    } else if let Some(template) = &endpoints.template {
        let key = if no_region && template.contains("{region}") {
            "region"
        } else {
            "endpoint"
        };
        key.to_owned()
    } else if endpoints.cloud.is_some() {
        (if no_region { "region" } else { "cloud" }).to_owned()
    } else if ENDPOINT_KEYS.iter().any(|k| unreadable.contains(k)) {
        return None;
    } else {
        "endpoint".to_owned()
    };
    Some(Problem::new(message).key(key))
}

/// The job's own criteria over the spec-wide ones, key by key, over the verdict's defaults.
fn criteria(spec_wide: &RawCriteria, own: Option<&RawCriteria>) -> Criteria {
    fn pick<T>(
        own: Option<&RawCriteria>,
        spec_wide: &RawCriteria,
        key: impl Fn(&RawCriteria) -> Option<T>,
    ) -> Option<T> {
        own.and_then(&key).or_else(|| key(spec_wide))
    }
    let mut criteria = Criteria::default();
    if let Some(sub_jobs) = pick(own, spec_wide, |c| c.sub_jobs) {
        criteria.sub_jobs = sub_jobs;
    }
    if let Some(pending_payment) = pick(own, spec_wide, |c| c.pending_payment) {
        criteria.pending_payment = pending_payment;
    }
    if let Some(grace) = pick(own, spec_wide, |c| c.not_found_grace) {
        criteria.not_found_grace = grace.0;
    }
    if let Some(unknown_status) = pick(own, spec_wide, |c| c.unknown_status) {
        criteria.unknown_status = unknown_status;
    }
    if let Some(confirm) = pick(own, spec_wide, |c| c.confirm) {
        criteria.confirm = confirm;
    }
    if let Some(job_type) = pick(own, spec_wide, |c| c.job_type.clone()) {
        criteria.job_type = Some(job_type);
    }
    criteria
}
