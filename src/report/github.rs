//! GitHub Actions: outputs in the runner's file format, a Markdown step summary, and workflow
//! commands (`::error::` per failed job, `::add-mask::` for secrets).
//!
//! Workflow commands go to standard error: the runner reads commands from both streams, and
//! standard output stays reserved for results (`--output json`).
//!
//! Text from the API reaches the runner's files and commands only after [`crate::sanitize`]: an
//! annotation stays one command, a summary cell stays one cell of plain text (the Markdown and
//! HTML punctuation in it is escaped, so a server cannot add links, images or markup).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::flat::{flat, Limits};
use super::{Outcome, Report};
use crate::environment::Environment;
use crate::exit::{ExitStatus, RunResult};

/// Where the runner wants things, from its environment.
#[derive(Debug, Clone, Default)]
pub struct GitHub {
    pub output_file: Option<String>,
    pub summary_file: Option<String>,
    /// `GITHUB_ACTIONS=true`: workflow commands are understood.
    pub commands: bool,
    /// `RUNNER_TEMP`: where the `report_file` output's file goes when `--report` named none.
    pub temp_dir: Option<String>,
}

impl GitHub {
    pub fn from_env(env: &Environment) -> GitHub {
        GitHub {
            output_file: env.get("GITHUB_OUTPUT").map(str::to_owned),
            summary_file: env.get("GITHUB_STEP_SUMMARY").map(str::to_owned),
            commands: env.get("GITHUB_ACTIONS") == Some("true"),
            temp_dir: env.get("RUNNER_TEMP").map(str::to_owned),
        }
    }

    /// Writes every output the runner asked for, each whatever happened to the others, and
    /// returns one message per output that could not be written. `report_file` is the
    /// `--report` file, when one was written and is a regular file.
    ///
    /// The runner allows 1 MiB of outputs per step: the `report` output is set only while it
    /// fits [`Limits::GITHUB`], and `report_file` always names a file with the whole report.
    pub fn write(
        &self,
        report: &Report,
        report_file: Option<&Path>,
        severity: Severity,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(path) = &self.output_file {
            let mut flat = flat(report, Limits::GITHUB);
            match self.report_file(report, report_file) {
                Ok(file) => {
                    flat.map.insert("report_file".to_owned(), file);
                }
                Err(e) => errors.push(e),
            }
            for left in &flat.left_out {
                crate::diagnostics::warning(&left.message());
            }
            if let Err(e) = append(path, &outputs_file(&flat.map)) {
                errors.push(format!("cannot write GITHUB_OUTPUT {path}: {e}"));
            }
        }
        if let Some(path) = &self.summary_file {
            if let Err(e) = append(path, &summary(report)) {
                errors.push(format!("cannot write GITHUB_STEP_SUMMARY {path}: {e}"));
            }
        }
        if self.commands {
            let mut err = std::io::stderr().lock();
            for line in annotations(report, severity) {
                let _ = writeln!(err, "{line}");
            }
        }
        errors
    }

    /// A configuration that could not be used (exit 2): the `result` and `exit_code` outputs
    /// still say so, and each problem is an `::error::` annotation, so a pipeline sees why the
    /// step failed without reading its log. Returns the outputs that could not be written.
    pub fn usage_error(&self, problems: &[String]) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(path) = &self.output_file {
            let map: IndexMap<String, String> = [
                ("result", RunResult::Error.as_str().to_owned()),
                ("exit_code", ExitStatus::Usage.code().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            if let Err(e) = append(path, &outputs_file(&map)) {
                errors.push(format!("cannot write GITHUB_OUTPUT {path}: {e}"));
            }
        }
        if self.commands {
            let mut err = std::io::stderr().lock();
            for problem in problems.iter().take(MAX_ANNOTATIONS) {
                let _ = writeln!(
                    err,
                    "::error title={}::{}",
                    escape_property("jobwait: invalid configuration"),
                    escape_data(&crate::sanitize::line(problem))
                );
            }
        }
        errors
    }

    /// The `report_file` output: the `--report` file (absolute), else a new file with the
    /// pretty report under `RUNNER_TEMP` (or the system's temporary directory).
    fn report_file(&self, report: &Report, given: Option<&Path>) -> Result<String, String> {
        if let Some(path) = given {
            return std::path::absolute(path)
                .map(|p| p.to_string_lossy().into_owned())
                .map_err(|e| format!("cannot make {} absolute: {e}", path.display()));
        }
        let dir = self
            .temp_dir
            .as_ref()
            .map_or_else(std::env::temp_dir, PathBuf::from);
        let written = (|| {
            let mut file = tempfile::Builder::new()
                .prefix("jobwait-report-")
                .suffix(".json")
                .tempfile_in(&dir)?;
            let mut out = std::io::BufWriter::new(file.as_file_mut());
            report.write_json_pretty(&mut out)?;
            out.flush()?;
            drop(out);
            file.keep().map_err(|e| e.error)
        })();
        match written {
            Ok((_, path)) => Ok(path.to_string_lossy().into_owned()),
            Err(e) => Err(format!(
                "cannot write the report file for report_file in {}: {e}",
                dir.display()
            )),
        }
    }
}

/// `::add-mask::` lines for secret values, so the runner hides them if they ever get printed.
pub fn mask_commands<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    secrets
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| format!("::add-mask::{}", escape_data(s)))
        .collect()
}

fn append(path: &str, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// `key=value` lines; values with a newline use `key<<DELIMITER` heredocs with a random
/// delimiter that does not occur in the value.
pub fn outputs_file(flat: &IndexMap<String, String>) -> String {
    let mut out = String::new();
    for (key, value) in flat {
        if value.contains('\n') || value.contains('\r') {
            let delimiter = loop {
                let d = format!("ghadelimiter_{}", fastrand::u64(..));
                if !value.contains(&d) {
                    break d;
                }
            };
            let _ = write!(out, "{key}<<{delimiter}\n{value}\n{delimiter}\n");
        } else {
            let _ = writeln!(out, "{key}={value}");
        }
    }
    out
}

/// Reads a `GITHUB_OUTPUT` file as the runner does: `key=value` lines, and `key<<DELIMITER`
/// heredocs up to a line that is the delimiter. For tests (unit and end-to-end) that check what
/// a workflow's next step would see.
#[doc(hidden)]
pub fn parse_runner_outputs(text: &str) -> Result<IndexMap<String, String>, String> {
    let mut out = IndexMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        match (line.find('='), line.find("<<")) {
            (Some(eq), heredoc) if heredoc.is_none_or(|h| eq < h) => {
                out.insert(line[..eq].to_owned(), line[eq + 1..].to_owned());
            }
            (_, Some(h)) => {
                let (key, delimiter) = (&line[..h], &line[h + 2..]);
                let mut value = Vec::new();
                loop {
                    match lines.next() {
                        Some(l) if l == delimiter => break,
                        Some(l) => value.push(l),
                        None => return Err(format!("heredoc {key:?} never ends")),
                    }
                }
                out.insert(key.to_owned(), value.join("\n"));
            }
            _ => return Err(format!("invalid line {line:?}")),
        }
    }
    Ok(out)
}

/// A Markdown table of the jobs and a summary line.
pub fn summary(report: &Report) -> String {
    let s = &report.summary;
    let mut out = format!(
        "### jobwait: {} ({} of {} jobs succeeded)\n\n| job | service | outcome | sub-jobs | reason |\n|---|---|---|---|---|\n",
        report.result.as_str(),
        s.succeeded,
        s.total
    );
    for job in &report.jobs {
        let name = job.name.clone().unwrap_or_else(|| job.id.clone());
        let subs = if job.sub_jobs.total > 0 {
            format!("{}/{}", job.sub_jobs.succeeded, job.sub_jobs.total)
        } else {
            "–".to_owned()
        };
        let outcome = job.outcome.as_str();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&name),
            job.service,
            outcome,
            subs,
            cell(&job.reason)
        );
    }
    out.push('\n');
    out
}

/// How jobs that did not succeed are annotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `::error::` — the step fails on them.
    Error,
    /// `::warning::` — `fail_on: never`: the step succeeds and the outputs tell.
    Warning,
}

impl Severity {
    fn command(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// GitHub shows about ten annotations per step; with more jobs that did not succeed, one
/// annotation sums them up instead of ten that hide the rest.
pub const MAX_ANNOTATIONS: usize = 10;

/// One annotation per job that did not succeed (failed, errored, timed out), or one for all of
/// them when there are more than [`MAX_ANNOTATIONS`].
pub fn annotations(report: &Report, severity: Severity) -> Vec<String> {
    let bad: Vec<_> = report
        .jobs
        .iter()
        .filter(|j| {
            matches!(
                j.outcome,
                Outcome::Failed | Outcome::Errored | Outcome::TimedOut
            )
        })
        .collect();
    let command = severity.command();
    if bad.len() > MAX_ANNOTATIONS {
        let named: Vec<String> = bad
            .iter()
            .take(MAX_ANNOTATIONS)
            .map(|j| format!("{} {}", j.label(), j.outcome.word()))
            .collect();
        let title = format!(
            "jobwait: {} of {} jobs did not succeed",
            bad.len(),
            report.jobs.len()
        );
        let message = format!(
            "{} and {} more (the step summary and the report list them all)",
            named.join("; "),
            bad.len() - MAX_ANNOTATIONS
        );
        return vec![format!(
            "::{command} title={}::{}",
            escape_property(&title),
            escape_data(&crate::sanitize::line(&message))
        )];
    }
    bad.iter()
        .map(|j| {
            let label = j.label();
            let word = j.outcome.word();
            format!(
                "::{command} title={}::{}",
                escape_property(&format!("jobwait: {label} {word}")),
                escape_data(&crate::sanitize::line(&j.reason))
            )
        })
        .collect()
}

/// Escaping of a command's message, as the runner's toolkit does it.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a command's property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// ASCII punctuation that Markdown or HTML act on in a table cell (`|` ends the cell).
const MARKDOWN_PUNCTUATION: &[char] =
    &['\\', '`', '*', '_', '[', ']', '<', '>', '!', '~', '&', '|'];

/// A Markdown table cell: one harmless line, its Markdown/HTML punctuation backslash-escaped
/// (CommonMark renders an escaped ASCII punctuation character as itself).
fn cell(s: &str) -> String {
    let clean = crate::sanitize::line(s);
    let mut out = String::with_capacity(clean.len() + 8);
    for c in clean.chars() {
        if MARKDOWN_PUNCTUATION.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_round_trip_through_the_runner_format() {
        let mut flat = IndexMap::new();
        flat.insert("result".to_owned(), "failure".to_owned());
        flat.insert("server_ids".to_owned(), "a,b".to_owned());
        flat.insert(
            "multi".to_owned(),
            "line one\nline=two\nghadelimiter_1".to_owned(),
        );
        flat.insert("report".to_owned(), r#"{"a":"x<<y"}"#.to_owned());
        flat.insert("cr".to_owned(), "a\rb=c\r".to_owned());
        flat.insert(
            "crlf".to_owned(),
            "x\r\nghadelimiter_\nresult=success\n".to_owned(),
        );
        let text = outputs_file(&flat);
        assert_eq!(parse_runner_outputs(&text), Ok(flat));
    }

    #[test]
    fn command_escaping() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(mask_commands(["s3cr3t", ""]), ["::add-mask::s3cr3t"]);
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("[x](y) <b>"), "\\[x\\](y) \\<b\\>");
    }

    /// What is left of a Markdown line once its backslash escapes are taken out.
    fn unescaped(line: &str) -> String {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                chars.next();
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn summary_cells_stay_plain_text_in_their_columns() {
        let report = crate::report::fixtures::hostile();
        let text = summary(&report);
        crate::report::fixtures::assert_harmless(&text, &[]);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 3, "header, separator, one job:\n{text}");
        let row = unescaped(rows[2]);
        assert_eq!(row.matches('|').count(), 6, "five columns: {}", rows[2]);
        for c in MARKDOWN_PUNCTUATION.iter().filter(|c| **c != '|') {
            assert!(!row.contains(*c), "unescaped {c:?} in {}", rows[2]);
        }
    }

    #[test]
    fn an_annotation_is_one_command_whatever_the_server_says() {
        let report = crate::report::fixtures::hostile();
        let lines = annotations(&report, Severity::Error);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains(['\n', '\r']), "{}", lines[0]);
        crate::report::fixtures::assert_harmless(&lines[0], &["::error title=jobwait%3A "]);
    }

    #[test]
    fn warnings_under_fail_on_never_and_one_annotation_beyond_ten() {
        let report = crate::report::fixtures::hostile();
        let warning = annotations(&report, Severity::Warning);
        assert!(
            warning[0].starts_with("::warning title=jobwait%3A "),
            "{}",
            warning[0]
        );

        let mut many = report.clone();
        let failed = many.jobs[0].clone();
        many.jobs = (0..12)
            .map(|i| {
                let mut job = failed.clone();
                job.id = format!("job{i}");
                job
            })
            .collect();
        let lines = annotations(&many, Severity::Error);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("::error title=jobwait%3A 12 of 12 jobs did not succeed::"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("and 2 more"), "{}", lines[0]);
        many.jobs.truncate(MAX_ANNOTATIONS);
        assert_eq!(annotations(&many, Severity::Error).len(), MAX_ANNOTATIONS);
    }
}
