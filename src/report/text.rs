//! The end-of-run table for people: one block per job (label, outcome, sub-jobs, reason,
//! ids), then one summary line. Plain ASCII, readable at 80 columns. Every text from the API or
//! the spec goes through [`crate::sanitize`]: one job's block stays its lines, whatever a server
//! puts in a reason or an entity key.

use std::fmt::Write;

use super::Outcome;
use super::Report;
use crate::sanitize::Clean;
use crate::verdict::failure_words;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for job in &report.jobs {
        let label = job.label();
        let subs = if job.sub_jobs.total > 0 {
            format!(
                "  sub-jobs {}/{}",
                job.sub_jobs.succeeded, job.sub_jobs.total
            )
        } else {
            String::new()
        };
        let _ = writeln!(out, "{:<10} {label}{subs}", job.outcome.shout());
        let _ = writeln!(out, "           {}", Clean(&job.reason));
        for (key, ids) in &job.entities.0 {
            let _ = writeln!(out, "           {}: {}", Clean(key), Clean(&ids.join(", ")));
        }
        for f in &job.failures {
            let what = failure_words([
                f.error_code.as_deref(),
                f.fail_reason.as_deref(),
                f.errorcode_message.as_deref(),
            ]);
            let _ = writeln!(
                out,
                "           failed sub-job {}: {}",
                Clean(f.job_id.as_deref().unwrap_or("?")),
                Clean(&what.join(" "))
            );
        }
    }
    let s = &report.summary;
    // Succeeded always, the others when they happened: `3 succeeded, 1 timed out`.
    let counts: Vec<String> = Outcome::ALL
        .into_iter()
        .map(|o| (o, o.count_in(s)))
        .filter(|&(o, n)| n > 0 || o == Outcome::Succeeded)
        .map(|(o, n)| format!("{n} {}", o.word()))
        .collect();
    let _ = writeln!(
        out,
        "\n{} (exit {}): {} of {} jobs, in {:.1}s",
        report.result.as_str(),
        report.exit_code,
        counts.join(", "),
        s.total,
        report.elapsed_seconds
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{assert_harmless, hostile};

    #[test]
    fn server_text_cannot_add_lines_commands_or_escapes() {
        let text = render(&hostile());
        assert_harmless(&text, &[]);
        // label, reason, two entity kinds, one failed sub-job, a blank line, the summary.
        assert_eq!(text.lines().count(), 7, "{text}");
    }
}
