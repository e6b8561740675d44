//! The command line. Every option is an `Option` with no clap default: a default here would
//! shadow the spec file and environment, so defaults live in the plan. Flags reach the spec
//! as the last layer through [`WaitArgs::flag_layer`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use figment::value::Value;

use crate::spec::load::{TopKind, TopLayer};
use crate::spec::OutputFormat;

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
#[derive(Debug, Default, Clone, Args)]
pub struct WaitArgs {
    /// Spec file: YAML, TOML or JSON by extension [env: JOBWAIT_SPEC]
    #[arg(short = 'f', long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Overall deadline, e.g. 90s, 15m, 1h 30m [default: 30m]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Cloud, which picks the endpoint domain: huaweicloud, otc, flexibleengine
    #[arg(long)]
    pub cloud: Option<String>,
    /// Region, e.g. eu-de
    #[arg(long)]
    pub region: Option<String>,
    /// Project id the jobs belong to
    #[arg(long, value_name = "ID")]
    pub project_id: Option<String>,
    /// Endpoint: a template with {service} and {region}, or one fixed URL
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// First delay between polls of a job [default: 5s]
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<String>,
    /// Longest delay between polls of a job [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub poll_max_interval: Option<String>,
    /// How the next poll is timed: adaptive (reads the job's progress) or backoff [default: adaptive]
    #[arg(long, value_name = "SCHEDULE")]
    pub poll_schedule: Option<String>,
    /// Requests per second per endpoint host [default: 10]
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<String>,
    /// Wait on one shard of the jobs: INDEX/COUNT, auto/COUNT or auto (Kubernetes Indexed Jobs)
    #[arg(long, value_name = "SHARD")]
    pub shard: Option<String>,
    /// Result format on standard output [default: text on a terminal, else json]
    #[arg(long, value_enum)]
    pub output: Option<OutputFormat>,
    /// Also write the JSON report to FILE (atomically)
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Stop everything at the first failed job
    #[arg(long)]
    pub fail_fast: bool,
    /// No progress on standard error
    #[arg(short, long)]
    pub quiet: bool,
    /// Log lines as text or JSON objects [default: text]
    #[arg(long, value_enum)]
    pub log_format: Option<crate::spec::raw::LogFormat>,
    /// Resolve and print the plan like `validate`; send no request
    #[arg(long)]
    pub dry_run: bool,
    /// More log detail on standard error (-v info, -vv debug)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Jobs as `[SERVICE:]JOB_ID` (service defaults to ecs); replaces the spec's `jobs`
    #[arg(
        value_name = "JOB",
        help = "Jobs as [SERVICE:]JOB_ID (service defaults to ecs); replaces the spec's `jobs`"
    )]
    pub jobs: Vec<String>,
}

impl WaitArgs {
    /// The flags that were given, as the spec's last layer (keys as in the spec file).
    pub fn flag_layer(&self) -> TopLayer {
        let mut layer = TopLayer::new(TopKind::Flags);
        let options = [
            ("timeout", &self.timeout),
            ("cloud", &self.cloud),
            ("region", &self.region),
            ("project_id", &self.project_id),
            ("endpoint", &self.endpoint),
            ("poll.interval", &self.poll_interval),
            ("poll.max_interval", &self.poll_max_interval),
            ("poll.schedule", &self.poll_schedule),
            ("rate_limit", &self.rate_limit),
            ("shard", &self.shard),
        ];
        for (key, value) in options {
            if let Some(v) = value {
                layer.set(key, v.as_str());
            }
        }
        let name = |v: clap::builder::PossibleValue| v.get_name().to_owned();
        if let Some(output) = self.output.and_then(|o| o.to_possible_value()) {
            layer.set("output", name(output));
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
