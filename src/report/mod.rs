//! The report: the contract's `"version": 1` document, built once from the plan and the
//! engine's results, then handed to each writer (JSON, text; the orchestrator outputs build on
//! the same document). The exit code is decided here, once, by the contract's precedence.

pub mod flat;
pub mod github;
pub mod k8s;
pub mod text;
pub mod write;

use std::time::{Duration, SystemTime};

#[cfg(test)]
use schemars::JsonSchema;
use serde::Serialize;

use crate::cloud::service_ref::ServiceRef;
use crate::exit::{ExitStatus, Signal};
pub use crate::exit::{RunResult, Summary};
use crate::label::job_label;
use crate::verdict::{EntityCollector, EntityIds, Failure, SubJobCounts};

/// The report document (`jobwait schema report` prints its JSON Schema).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(title = "jobwait report"))]
pub struct Report {
    /// Always 1 for this layout.
    pub version: u32,
    pub result: RunResult,
    pub exit_code: ExitStatus,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_seconds: f64,
    pub summary: Summary,
    /// Every entity id of every job, by key (`server_id`, `volume_id`…).
    pub entities: EntityIds,
    /// Every job of the spec, in spec order, whatever happened to it.
    pub jobs: Vec<JobReport>,
}

/// How one job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Met its criteria.
    Succeeded,
    /// Reached a state that violates its criteria.
    Failed,
    /// An API, auth or network error left it without a verdict.
    Errored,
    /// Its deadline passed while it was still pending.
    TimedOut,
    /// The wait was stopped (signal or fail-fast) before it had a verdict.
    Cancelled,
}

/// Each wording of an outcome has one owner here, and every writer takes it from there: the
/// report's name ([`as_str`](Outcome::as_str)), the word in a sentence ([`word`](Outcome::word))
/// and the word that starts a job's line in the tables ([`shout`](Outcome::shout)).
impl Outcome {
    /// Every outcome, in the order counts are listed (the report's summary order).
    pub const ALL: [Outcome; 5] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Errored,
        Outcome::TimedOut,
        Outcome::Cancelled,
    ];

    /// The name the report uses (its serialized form): `timed_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The outcome in a sentence, for people: `2 timed out`, `jobwait: web timed out`.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::TimedOut => "timed out",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The word that starts a job's line in the text table, the progress log and the termination
    /// message: the outcomes that need a look in capitals (`FAILED`, `TIMED OUT`), so they stand
    /// out in a long list.
    pub fn shout(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "FAILED",
            Outcome::Errored => "ERRORED",
            Outcome::TimedOut => "TIMED OUT",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// How many of `summary`'s jobs ended this way.
    pub fn count_in(self, summary: &Summary) -> usize {
        match self {
            Outcome::Succeeded => summary.succeeded,
            Outcome::Failed => summary.failed,
            Outcome::Errored => summary.errored,
            Outcome::TimedOut => summary.timed_out,
            Outcome::Cancelled => summary.cancelled,
        }
    }
}

/// One job's outcome and what the API last said about it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub struct JobReport {
    pub name: Option<String>,
    pub id: String,
    pub service: ServiceRef,
    pub outcome: Outcome,
    /// One line that says why.
    pub reason: String,
    /// The last status the API reported (null if it never answered with a job).
    pub status: Option<String>,
    pub job_type: Option<String>,
    pub begin_time: Option<String>,
    pub end_time: Option<String>,
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
    pub polls: u32,
    pub waited_seconds: f64,
    pub sub_jobs: SubJobCounts,
    pub entities: EntityIds,
    pub failures: Vec<Failure>,
}

impl JobReport {
    /// [`job_label`] (`name (service:id)`, or `service:id` for a job without a name), as one
    /// harmless line for the text outputs (the name and id come from a spec or a command line).
    pub fn label(&self) -> String {
        crate::sanitize::owned(job_label(self.name.as_deref(), &self.service, &self.id))
    }
}

impl Report {
    /// The report of a wait: its jobs' entries in plan order, when it started and how long it
    /// took, and the signal that stopped it, if one did. The summary, the entities of all jobs
    /// and the exit status follow from those.
    pub fn new(
        jobs: Vec<JobReport>,
        started: SystemTime,
        elapsed: Duration,
        signal: Option<Signal>,
    ) -> Report {
        let mut summary = Summary {
            total: jobs.len(),
            ..Summary::default()
        };
        let mut entities = EntityCollector::default();
        for job in &jobs {
            match job.outcome {
                Outcome::Succeeded => summary.succeeded += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Errored => summary.errored += 1,
                Outcome::TimedOut => summary.timed_out += 1,
                Outcome::Cancelled => summary.cancelled += 1,
            }
            entities.merge(&job.entities);
        }
        let status = ExitStatus::decide(&summary, signal);
        Report {
            version: 1,
            result: status.result(),
            exit_code: status,
            started_at: rfc3339(started),
            finished_at: rfc3339(started + elapsed),
            elapsed_seconds: round_seconds(elapsed),
            summary,
            entities: entities.finish(),
            jobs,
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        self.exit_code
    }

    /// Pretty JSON and a final newline, as `--output json` prints it and `--report` writes it,
    /// streamed (a 10,000-job report is megabytes).
    pub fn write_json_pretty(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

/// Seconds, rounded to the millisecond.
pub fn round_seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Reports for the writers' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::cloud::endpoint::Service;

    /// What a hostile server can put in the text of a job: a newline followed by runner
    /// commands, the runner's old command syntax, ANSI and OSC escapes, Markdown and HTML.
    pub(crate) const HOSTILE: &str = "x\n::add-mask::y\n::error::forged\n##[error]old \u{1b}[31mred\u{1b}]0;t\u{7} [a](http://e) ![i](http://e) <b>&amp;</b> *_~`|\\";

    /// Every kind of text a writer shows, from a hostile server and spec.
    pub(crate) fn hostile() -> Report {
        let evil_key = format!("evil\nresult=success\n{HOSTILE}_id");
        let entities = EntityIds(
            [
                ("server_id".to_owned(), vec![format!("srv-{HOSTILE}")]),
                (evil_key.clone(), vec!["v".to_owned()]),
            ]
            .into(),
        );
        let job = JobReport {
            name: Some(format!("::warning::{HOSTILE}")),
            id: format!("id{HOSTILE}"),
            service: Service::Ecs.into(),
            outcome: Outcome::Failed,
            reason: format!("FAIL: {HOSTILE}"),
            status: Some(format!("FAIL{HOSTILE}")),
            job_type: Some(HOSTILE.to_owned()),
            begin_time: None,
            end_time: None,
            error_code: Some(HOSTILE.to_owned()),
            fail_reason: Some(HOSTILE.to_owned()),
            polls: 1,
            waited_seconds: 0.1,
            sub_jobs: SubJobCounts::default(),
            entities: entities.clone(),
            failures: vec![Failure {
                job_id: Some(HOSTILE.to_owned()),
                job_type: Some(HOSTILE.to_owned()),
                error_code: Some(format!("E{HOSTILE}")),
                fail_reason: Some(format!("R{HOSTILE}")),
                errorcode_message: Some(format!("M{HOSTILE}")),
                entities: entities.clone(),
            }],
        };
        Report {
            version: 1,
            result: RunResult::Failure,
            exit_code: ExitStatus::Failure,
            started_at: "2026-01-01T00:00:00Z".to_owned(),
            finished_at: "2026-01-01T00:00:01Z".to_owned(),
            elapsed_seconds: 1.0,
            summary: Summary {
                total: 1,
                failed: 1,
                ..Summary::default()
            },
            entities,
            jobs: vec![job],
        }
    }

    /// Fails when a text output lets server text act: a line (as the runner trims it) that is a
    /// command other than jobwait's own annotation, the old `##[` syntax, or an escape.
    pub(crate) fn assert_harmless(text: &str, own_lines: &[&str]) {
        for line in text.lines() {
            let trimmed = line.trim_start();
            let own = own_lines.iter().any(|own| trimmed.starts_with(own));
            assert!(!trimmed.starts_with("::") || own, "a command: {line:?}");
            assert!(!line.contains("##["), "old command syntax: {line:?}");
            assert!(!line.contains('\u{1b}'), "an escape: {line:?}");
            assert!(!line.contains('\u{7}'), "a control: {line:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(failed: usize, errored: usize, timed_out: usize, cancelled: usize) -> Summary {
        Summary {
            total: 9,
            succeeded: 1,
            failed,
            errored,
            timed_out,
            cancelled,
        }
    }

    #[test]
    fn names_match_the_serialized_form() {
        for r in [
            RunResult::Success,
            RunResult::Failure,
            RunResult::Error,
            RunResult::Timeout,
            RunResult::Interrupted,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

    #[test]
    fn exit_code_precedence() {
        let cases = [
            (summary(0, 0, 0, 0), None, 0),
            (summary(1, 1, 1, 0), None, 1),
            (summary(0, 1, 1, 0), None, 3),
            (summary(0, 0, 1, 0), None, 124),
            (summary(1, 1, 1, 1), Some(Signal::Interrupt), 130),
            (summary(1, 0, 0, 0), Some(Signal::Terminate), 143),
            (summary(1, 0, 0, 5), None, 1),
        ];
        for (s, sig, code) in cases {
            assert_eq!(ExitStatus::decide(&s, sig).code(), code, "{s:?} {sig:?}");
        }
    }
}
