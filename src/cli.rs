//! The command line. Every option is an `Option` with no clap default: a default here would
//! shadow the spec file and environment, so defaults live in the plan. Flags reach the spec
//! as the last layer through [`WaitArgs::flag_layer`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use figment::value::Value;

use crate::spec::load::{TopKind, TopLayer};
use crate::spec::raw::FailOn;
use crate::spec::OutputFormat;

/// The help heading of the `success.*` flags.
const CRITERIA: &str =
    "Success criteria (defaults for every job; a job's own `success` in the spec wins)";

const AFTER_HELP: &str = "\
Examples:
  jobwait demo                                   run against the built-in simulator
  jobwait ecs:ff80808288d41e1b018a0b1c2d3e4f50 evs:4010a32d535527910153552b492c0002 \\
      --cloud otc --region eu-de --project-id 0123456789abcdef0123456789abcdef
  jobwait --spec jobs.yaml --output json --report report.json
  JOBWAIT_JOBS='ecs:ID1,ecs:ID2' jobwait --timeout 15m

Credentials come from the environment only: HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK
(or OS_ACCESS_KEY/OS_SECRET_KEY, HW_ACCESS_KEY/HW_SECRET_KEY), or JOBWAIT_TOKEN / OS_AUTH_TOKEN;
each also as NAME_FILE naming a file that holds it.

Exit codes:
  0    every job met its criteria
  1    at least one job reached a state that violates its criteria
  2    invalid usage, configuration or spec (nothing was waited on)
  3    API, auth or network error that left a job without a verdict
  124  deadline exceeded with jobs still pending
  130  interrupted by SIGINT, 143 by SIGTERM (the report is still written)";

/// Wait on Huawei Cloud / Open Telekom Cloud / Flexible Engine jobs, concurrently, and report.
#[derive(Debug, Parser)]
#[command(name = "jobwait", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Wait on jobs (the default command).
    #[command(after_help = AFTER_HELP)]
    Wait(WaitArgs),
    /// Resolve and check the spec and print the plan; no network. Exit 2 lists every problem.
    Validate(WaitArgs),
    /// Terraform external data source: the query (JSON object of strings) on stdin, the flat map on stdout.
    Terraform,
    /// Print a shell completion script: `jobwait completions bash > /etc/bash_completion.d/jobwait`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `jobwait man > jobwait.1`.
    Man,
    /// Print a JSON Schema: of the spec (for editors) or of the report.
    Schema {
        #[arg(value_enum, default_value_t = SchemaKind::Spec)]
        which: SchemaKind,
    },
    /// Serve a fake job API (for pipelines' own tests). Prints its base URL on standard output.
    Simulate {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Scenario file (YAML or JSON); without one, the demo's scenario is served.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// The embedded default: the simulator in-process and a real wait on a few demo jobs.
    Demo {
        /// Result format (default: text).
        #[arg(long, value_enum)]
        output: Option<OutputFormat>,
        /// No progress lines.
        #[arg(short, long)]
        quiet: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Spec,
    Report,
}

/// Options of `wait` (and `validate`); each is also a spec key and a `JOBWAIT_*` variable.
#[derive(Debug, Default, Clone, PartialEq, Args)]
pub struct WaitArgs {
    /// Spec file: YAML, TOML or JSON by extension [env: JOBWAIT_SPEC]
    #[arg(short = 'f', long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// The clouds.yaml entry to read region, project, IAM URL and credentials from (below the spec) [env: JOBWAIT_OS_CLOUD, OS_CLOUD]
    #[arg(long, value_name = "NAME")]
    pub os_cloud: Option<String>,
    /// Overall deadline, e.g. 90s, 15m, 1h 30m [default: 30m] [env: JOBWAIT_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Cloud, which picks the endpoint domain: huaweicloud, otc, flexibleengine [env: JOBWAIT_CLOUD]
    #[arg(long)]
    pub cloud: Option<String>,
    /// Region, e.g. eu-de [env: JOBWAIT_REGION]
    #[arg(long)]
    pub region: Option<String>,
    /// Project id the jobs belong to [env: JOBWAIT_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub project_id: Option<String>,
    /// Without a project id: the IAM project to look it up by, e.g. eu-de_myproject [default: the region] [env: JOBWAIT_PROJECT_NAME]
    #[arg(long, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Endpoint: a template with {service} and {region}, or one fixed URL [env: JOBWAIT_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// First delay between polls of a job [default: 5s] [env: JOBWAIT_POLL__INTERVAL]
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<String>,
    /// Longest delay between polls of a job [default: 60s] [env: JOBWAIT_POLL__MAX_INTERVAL]
    #[arg(long, value_name = "DURATION")]
    pub poll_max_interval: Option<String>,
    /// How the next poll is timed: adaptive (reads the job's progress) or backoff [default: adaptive] [env: JOBWAIT_POLL__SCHEDULE]
    #[arg(long, value_name = "SCHEDULE")]
    pub poll_schedule: Option<String>,
    /// Where the adaptive schedule remembers job durations per type: a file, or off [default: $XDG_CACHE_HOME/jobwait/durations.json] [env: JOBWAIT_POLL__CACHE]
    #[arg(long, value_name = "PATH|off")]
    pub poll_cache: Option<String>,
    /// Requests per second per endpoint host [default: 10] [env: JOBWAIT_RATE_LIMIT]
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<String>,
    /// Wait on one shard of the jobs: INDEX/COUNT, auto/COUNT or auto (Kubernetes Indexed Jobs) [env: JOBWAIT_SHARD]
    #[arg(long, value_name = "SHARD")]
    pub shard: Option<String>,
    /// Result format on standard output [default: text on a terminal, else json] [env: JOBWAIT_OUTPUT]
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
    /// Also write the JSON report to FILE (atomically) [env: JOBWAIT_REPORT]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Stop everything at the first failed job [env: JOBWAIT_FAIL_FAST]
    #[arg(long)]
    pub fail_fast: bool,
    /// When to exit non-zero: any (a job did not succeed) or never (the outputs tell) [default: any] [env: JOBWAIT_FAIL_ON]
    #[arg(long, value_enum, value_name = "WHEN")]
    pub fail_on: Option<FailOn>,
    /// How long one request may take before it is abandoned and retried [default: 30s] [env: JOBWAIT_REQUEST_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// The largest answer read, e.g. 512KiB, 8MiB or bytes [default: 4MiB] [env: JOBWAIT_MAX_RESPONSE_SIZE]
    #[arg(long, value_name = "SIZE")]
    pub max_response_size: Option<String>,
    /// How sub-jobs decide: all, any, none, at-least=N or ratio=R [default: all] [env: JOBWAIT_SUCCESS__SUB_JOBS]
    #[arg(long, value_name = "POLICY", help_heading = CRITERIA)]
    pub sub_jobs: Option<String>,
    /// What PENDING_PAYMENT (an unpaid order) means: wait, success or fail [default: wait] [env: JOBWAIT_SUCCESS__PENDING_PAYMENT]
    #[arg(long, value_name = "MEANING", value_parser = ["wait", "success", "fail"], hide_possible_values = true, help_heading = CRITERIA)]
    pub pending_payment: Option<String>,
    /// An id the API does not know yet counts as pending this long [default: 30s] [env: JOBWAIT_SUCCESS__NOT_FOUND_GRACE]
    #[arg(long, value_name = "DURATION", help_heading = CRITERIA)]
    pub not_found_grace: Option<String>,
    /// What a status outside the documented set means: wait or fail [default: wait] [env: JOBWAIT_SUCCESS__UNKNOWN_STATUS]
    #[arg(long, value_name = "MEANING", value_parser = ["wait", "fail"], hide_possible_values = true, help_heading = CRITERIA)]
    pub unknown_status: Option<String>,
    /// Require the terminal status this many reads in a row [default: 1] [env: JOBWAIT_SUCCESS__CONFIRM]
    #[arg(long, value_name = "N", help_heading = CRITERIA)]
    pub confirm: Option<String>,
    /// The expected job_type (e.g. createServer); another ends the job as errored [env: JOBWAIT_SUCCESS__JOB_TYPE]
    #[arg(long, value_name = "TYPE", help_heading = CRITERIA)]
    pub job_type: Option<String>,
    /// No progress on standard error [env: JOBWAIT_QUIET]
    #[arg(short, long)]
    pub quiet: bool,
    /// Log lines as text or JSON objects [default: text] [env: JOBWAIT_LOG_FORMAT]
    #[arg(long, value_enum)]
    pub log_format: Option<crate::spec::raw::LogFormat>,
    /// Resolve and print the plan like `validate`; send no request
    #[arg(long)]
    pub dry_run: bool,
    /// More log detail on standard error (-v info, -vv debug) [env: JOBWAIT_VERBOSE]
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Jobs as `[SERVICE:]JOB_ID` (service defaults to ecs); replaces the spec's `jobs`
    #[arg(
        value_name = "JOB",
        help = "Jobs as [SERVICE:]JOB_ID (service defaults to ecs); replaces the spec's `jobs` [env: JOBWAIT_JOBS]"
    )]
    pub jobs: Vec<String>,
}

impl WaitArgs {
    /// Whether no option and no job was given (a bare `jobwait`).
    pub fn is_empty(&self) -> bool {
        *self == WaitArgs::default()
    }

    /// The flags that were given, as the spec's last layer (keys as in the spec file).
    pub fn flag_layer(&self) -> TopLayer {
        let mut layer = TopLayer::new(TopKind::Flags);
        let options = [
            ("timeout", &self.timeout),
            ("cloud", &self.cloud),
            ("region", &self.region),
            ("project_id", &self.project_id),
            ("project_name", &self.project_name),
            ("endpoint", &self.endpoint),
            ("poll.interval", &self.poll_interval),
            ("poll.max_interval", &self.poll_max_interval),
            ("poll.schedule", &self.poll_schedule),
            ("poll.cache", &self.poll_cache),
            ("rate_limit", &self.rate_limit),
            ("shard", &self.shard),
            ("request_timeout", &self.request_timeout),
            ("max_response_size", &self.max_response_size),
        ];
        for (key, value) in options {
            if let Some(v) = value {
                layer.set(key, v.as_str());
            }
        }
        // The criteria flags are the spec-wide `success` defaults; a job's own `success` in the
        // file still overrides them key by key. Their flags are named without `success-`.
        let criteria = [
            ("sub_jobs", &self.sub_jobs),
            ("pending_payment", &self.pending_payment),
            ("not_found_grace", &self.not_found_grace),
            ("unknown_status", &self.unknown_status),
            ("confirm", &self.confirm),
            ("job_type", &self.job_type),
        ];
        for (key, value) in criteria {
            if let Some(v) = value {
                let flag = format!("flag --{}", key.replace('_', "-"));
                layer.set_named(&format!("success.{key}"), flag, v.as_str());
            }
        }
        let name = |v: clap::builder::PossibleValue| v.get_name().to_owned();
        if let Some(output) = self.output.and_then(|o| o.to_possible_value()) {
            layer.set("output", name(output));
        }
        if let Some(when) = self.fail_on.and_then(|f| f.to_possible_value()) {
            layer.set("fail_on", name(when));
        }
        if let Some(format) = self.log_format.and_then(|f| f.to_possible_value()) {
            layer.set("log_format", name(format));
        }
        if let Some(report) = &self.report {
            layer.set("report", report.to_string_lossy().as_ref());
        }
        if self.fail_fast {
            layer.set("fail_fast", true);
        }
        if self.quiet {
            layer.set("quiet", true);
        }
        if self.verbose > 0 {
            layer.set("verbose", self.verbose.to_string());
        }
        if !self.jobs.is_empty() {
            let jobs: Vec<Value> = self.jobs.iter().map(|j| Value::from(j.as_str())).collect();
            layer.set("jobs", jobs);
        }
        layer
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, WaitArgs};

    fn wait_args(args: &[&str]) -> WaitArgs {
        let mut all = vec!["jobwait"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().wait
    }

    fn text(layer: &crate::spec::load::TopLayer, key: &str) -> Option<String> {
        layer.get(key).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.to_num().map(|n| format!("{n:?}")))
        })
    }

    #[test]
    fn new_flags_reach_their_spec_keys() {
        let layer = wait_args(&[
            "--fail-on",
            "never",
            "-o",
            "json",
            "--request-timeout",
            "5s",
            "--max-response-size",
            "8MiB",
            "--sub-jobs",
            "at-least=2",
            "--pending-payment",
            "success",
            "--not-found-grace",
            "1m",
            "--unknown-status",
            "fail",
            "--confirm",
            "3",
            "--job-type",
            "createServer",
        ])
        .flag_layer();
        let want = [
            ("fail_on", "never"),
            ("output", "json"),
            ("request_timeout", "5s"),
            ("max_response_size", "8MiB"),
            ("success.sub_jobs", "at-least=2"),
            ("success.pending_payment", "success"),
            ("success.not_found_grace", "1m"),
            ("success.unknown_status", "fail"),
            ("success.confirm", "3"),
            ("success.job_type", "createServer"),
        ];
        for (key, value) in want {
            assert_eq!(text(&layer, key).as_deref(), Some(value), "{key}");
        }
    }

    #[test]
    fn flags_not_given_set_nothing() {
        let layer = wait_args(&[]).flag_layer();
        for key in [
            "fail_on",
            "output",
            "request_timeout",
            "success",
            "fail_fast",
        ] {
            assert!(layer.get(key).is_none(), "{key}");
        }
    }

    /// `--fail-on` used to be an unknown flag for which clap suggested `--fail-fast`, the
    /// opposite.
    #[test]
    fn fail_on_is_a_flag_and_a_bad_value_suggests_no_fail_fast() {
        assert!(Cli::try_parse_from(["jobwait", "--fail-on", "any", "x"]).is_ok());
        let err = Cli::try_parse_from(["jobwait", "--fail-on", "sometimes", "x"])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("fail-fast"), "{err}");
        assert!(err.contains("any") && err.contains("never"), "{err}");
        let err = Cli::try_parse_from(["jobwait", "--pending-payment", "later", "x"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("wait, success, fail"), "{err}");
    }

    /// Every option's help names its variable, and that variable is the spec key the flag sets:
    /// `JOBWAIT_SUCCESS__SUB_JOBS` for `--sub-jobs` means `success.sub_jobs` in the flag layer.
    #[test]
    fn each_flags_help_names_the_variable_of_the_key_it_sets() {
        let cmd = <Cli as clap::CommandFactory>::command();
        let not_spec_keys = ["spec", "os_cloud", "dry_run", "help", "version"];
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let var = help
                .split_once("[env: ")
                .and_then(|(_, rest)| rest.split_once(']'))
                .map(|(var, rest)| {
                    assert!(
                        rest.trim().is_empty(),
                        "{id}: [env: …] ends the help: {help}"
                    );
                    var.to_owned()
                });
            if not_spec_keys.contains(&id) {
                assert!(
                    id == "spec" || id == "os_cloud" || var.is_none(),
                    "{id}: {help}"
                );
                continue;
            }
            let var = var.unwrap_or_else(|| panic!("--{id} names no variable: {help}"));
            let key = var
                .strip_prefix("JOBWAIT_")
                .unwrap()
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            let mut line = vec!["jobwait".to_owned()];
            let value = arg
                .get_possible_values()
                .first()
                .map(|v| v.get_name().to_owned())
                .unwrap_or_else(|| "1".to_owned());
            let takes_value = arg.get_action().takes_values();
            match (arg.get_long(), arg.is_positional()) {
                (_, true) => line.push(value),
                (Some(long), false) => {
                    line.push(format!("--{long}"));
                    if takes_value {
                        line.push(value);
                    }
                }
                (None, false) => unreachable!("{id} has a long name"),
            }
            let layer = Cli::try_parse_from(&line)
                .unwrap_or_else(|e| panic!("{line:?}: {e}"))
                .wait
                .flag_layer();
            assert!(
                layer.get(&key).is_some(),
                "{line:?} sets no `{key}` ({var})"
            );
        }
    }
}
