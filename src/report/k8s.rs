//! Kubernetes: the termination message, a short summary of at most 4096 bytes that
//! `kubectl describe pod` shows, written to `/dev/termination-log` when it is writable or to the
//! file `JOBWAIT_TERMINATION_LOG` names. Jobs that did not succeed come first, so a truncated
//! message still says what went wrong. One line per job: the reasons, from the API, pass through
//! [`crate::sanitize`] (this message is also what `jobwait terraform` prints on a failed wait).

use std::fmt::Write as _;
use std::io::Write as _;

use super::Outcome;
use super::Report;
use crate::environment::Environment;
use crate::sanitize::Clean;

pub const LIMIT: usize = 4096;
const DEFAULT_PATH: &str = "/dev/termination-log";

pub fn message(report: &Report) -> String {
    let s = &report.summary;
    let mut out = format!(
        "jobwait: {} (exit {}): {} of {} jobs succeeded\n",
        report.result.as_str(),
        report.exit_code,
        s.succeeded,
        s.total
    );
    let mut jobs: Vec<_> = report.jobs.iter().collect();
    jobs.sort_by_key(|j| j.outcome == Outcome::Succeeded);
    for job in jobs {
        let word = job.outcome.shout();
        let _ = writeln!(out, "{word} {}: {}", job.label(), Clean(&job.reason));
    }
    truncate(out, LIMIT)
}

/// Cuts `text` to at most `limit` bytes on a character boundary, marking the cut.
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    const MARK: &str = "\n...(truncated)";
    let mut cut = limit - MARK.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(MARK);
    text
}

/// Writes the message where Kubernetes reads it; does nothing outside a pod.
pub fn write(report: &Report, env: &Environment) -> Result<(), String> {
    let text = message(report);
    if let Some(path) = env.get("JOBWAIT_TERMINATION_LOG") {
        return std::fs::write(path, text)
            .map_err(|e| format!("cannot write JOBWAIT_TERMINATION_LOG {path}: {e}"));
    }
    // Only an existing, writable file: never create one under /dev.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(DEFAULT_PATH)
    {
        let _ = file.write_all(text.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_the_limit_and_utf8() {
        let long = "é".repeat(5000);
        let cut = truncate(long, LIMIT);
        assert!(cut.len() <= LIMIT, "{}", cut.len());
        assert!(cut.ends_with("(truncated)"));
        assert_eq!(truncate("short".into(), LIMIT), "short");
    }

    #[test]
    fn one_line_per_job_whatever_the_server_says() {
        let text = message(&crate::report::fixtures::hostile());
        crate::report::fixtures::assert_harmless(&text, &[]);
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
