//! Progress on standard error: one line whenever a job's status or sub-job progress changes,
//! and one when it ends, prefixed with the time since the start. Plain lines work the same on
//! a terminal, in a CI log and in `kubectl logs`; standard output stays for results only.

use std::io::Write;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::report::text::outcome_word;
use crate::spec::PlannedJob;
use crate::wait::Event;

/// Prints events until the sender side is dropped.
pub async fn print(labels: Vec<String>, mut events: mpsc::UnboundedReceiver<Event>) {
    let start = Instant::now();
    while let Some(event) = events.recv().await {
        let t = start.elapsed().as_secs_f64();
        let line = match event {
            Event::Changed {
                index,
                status,
                sub_jobs,
            } if sub_jobs.total > 0 => format!(
                "{} {status}, sub-jobs {} succeeded, {} failed, {} running",
                labels[index], sub_jobs.succeeded, sub_jobs.failed, sub_jobs.running
            ),
            Event::Changed { index, status, .. } => format!("{} {status}", labels[index]),
            Event::Finished {
                index,
                outcome,
                reason,
            } => {
                format!("{} {}: {reason}", labels[index], outcome_word(outcome))
            }
        };
        let _ = writeln!(std::io::stderr().lock(), "[{t:7.1}s] {line}");
    }
}

pub fn labels(jobs: &[PlannedJob]) -> Vec<String> {
    jobs.iter().map(PlannedJob::label).collect()
}
