//! Progress on standard error, so a long wait is never silent and standard output stays for
//! results.
//!
//! - In a log (CI, `kubectl logs`): one line whenever a job's status or sub-job progress
//!   changes, one when it ends, and a summary line every `progress_interval` (default 30 s)
//!   even when nothing changed, so CI systems that kill silent jobs don't.
//! - On a terminal: the same job-end lines scroll, under a live block redrawn in place (a summary
//!   and the jobs still pending, longest-waiting first).
//!
//! Plain ASCII, no colour: it reads the same in every terminal and log. Statuses and reasons come
//! from the API and labels from the spec: all pass through [`crate::sanitize`] as they enter the
//! board, so no escape sequence reaches the terminal and no line of the log is a runner command.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::sanitize::{self, Clean};
use crate::spec::PlannedJob;
use crate::verdict::SubJobCounts;
use crate::wait::{Event, Outcome};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redraw a block in place (standard error is a terminal).
    Live,
    /// Append lines; a summary every `interval` (none when zero).
    Lines { interval: Duration },
}

/// Pending jobs shown in the live block.
const LIVE_ROWS: usize = 8;
const REDRAW: Duration = Duration::from_millis(250);

/// What is known of each job.
#[derive(Debug, Clone)]
struct JobLine {
    label: String,
    status: Option<String>,
    sub_jobs: SubJobCounts,
    outcome: Option<Outcome>,
}

/// The progress state, separate from the printing so it can be tested as text.
#[derive(Debug)]
pub struct Board {
    jobs: Vec<JobLine>,
    start: Instant,
}

impl Board {
    pub fn new(jobs: &[PlannedJob]) -> Board {
        Board {
            jobs: jobs
                .iter()
                .map(|j| JobLine {
                    label: sanitize::owned(j.label()),
                    status: None,
                    sub_jobs: SubJobCounts::default(),
                    outcome: None,
                })
                .collect(),
            start: Instant::now(),
        }
    }

    /// Applies an event; returns the line to append for it.
    pub fn apply(&mut self, event: Event) -> String {
        let t = self.start.elapsed().as_secs_f64();
        match event {
            Event::Changed {
                index,
                status,
                sub_jobs,
            } => {
                let job = &mut self.jobs[index];
                job.status = Some(sanitize::owned(status));
                job.sub_jobs = sub_jobs;
                format!("[{t:7.1}s] {} {}", job.label, state_text(job))
            }
            Event::Finished {
                index,
                outcome,
                reason,
            } => {
                let job = &mut self.jobs[index];
                job.outcome = Some(outcome);
                format!(
                    "[{t:7.1}s] {} {}: {}",
                    job.label,
                    outcome.shout(),
                    Clean(&reason)
                )
            }
        }
    }

    /// `[  30.0s] waiting: 3 of 10 done (2 succeeded, 1 failed); pending: a RUNNING, b INIT, and 5 more`
    pub fn summary(&self) -> String {
        let t = self.start.elapsed().as_secs_f64();
        let pending: Vec<&JobLine> = self.jobs.iter().filter(|j| j.outcome.is_none()).collect();
        let done = self.jobs.len() - pending.len();
        let mut out = format!(
            "[{t:7.1}s] waiting: {done} of {} done{}",
            self.jobs.len(),
            self.counts()
        );
        if !pending.is_empty() {
            let shown: Vec<String> = pending
                .iter()
                .take(3)
                .map(|j| format!("{} {}", j.label, state_text(j)))
                .collect();
            let _ = write!(out, "; pending: {}", shown.join(", "));
            if pending.len() > 3 {
                let _ = write!(out, " and {} more", pending.len() - 3);
            }
        }
        out
    }

    /// The live block: the summary, then the pending jobs.
    pub fn block(&self, width: usize) -> Vec<String> {
        let mut lines = vec![self.summary_head()];
        let pending: Vec<&JobLine> = self.jobs.iter().filter(|j| j.outcome.is_none()).collect();
        for job in pending.iter().take(LIVE_ROWS) {
            lines.push(format!("  {} {}", job.label, state_text(job)));
        }
        if pending.len() > LIVE_ROWS {
            lines.push(format!("  ... and {} more", pending.len() - LIVE_ROWS));
        }
        lines.into_iter().map(|l| truncate(&l, width)).collect()
    }

    fn summary_head(&self) -> String {
        let t = self.start.elapsed().as_secs_f64();
        let done = self.jobs.iter().filter(|j| j.outcome.is_some()).count();
        format!(
            "[{t:7.1}s] {done} of {} jobs done{}",
            self.jobs.len(),
            self.counts()
        )
    }

    fn counts(&self) -> String {
        let mut parts = Vec::new();
        for outcome in Outcome::ALL {
            let n = self
                .jobs
                .iter()
                .filter(|j| j.outcome == Some(outcome))
                .count();
            if n > 0 {
                parts.push(format!("{n} {}", outcome.word()));
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }
}

fn state_text(job: &JobLine) -> String {
    let status = job.status.as_deref().unwrap_or("(no answer yet)");
    let s = job.sub_jobs;
    match (s.total, s.failed) {
        (0, _) => status.to_owned(),
        (total, 0) => format!("{status}, sub-jobs {}/{total}", s.succeeded),
        (total, failed) => format!(
            "{status}, sub-jobs {}/{total} ({failed} failed)",
            s.succeeded
        ),
    }
}

/// Cuts a line to `width` characters (ASCII-safe: cuts on a char boundary).
fn truncate(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut out: String = line.chars().take(width.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// Shows progress until the sender side is dropped.
pub async fn print(jobs: Vec<PlannedJob>, mut events: mpsc::UnboundedReceiver<Event>, mode: Mode) {
    let mut board = Board::new(&jobs);
    let tick_every = match mode {
        Mode::Live => REDRAW,
        Mode::Lines { interval } if interval.is_zero() => Duration::from_secs(24 * 3600),
        Mode::Lines { interval } => interval,
    };
    let mut tick = tokio::time::interval_at(Instant::now() + tick_every, tick_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut drawn = 0usize;
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let line = board.apply(event.clone());
                match (mode, &event) {
                    // On a terminal only endings scroll; status changes show in the block.
                    (Mode::Live, Event::Changed { .. }) => {}
                    (Mode::Live, _) => {
                        drawn = redraw(&board, drawn, Some(&line));
                    }
                    (Mode::Lines { .. }, _) => emit(&line),
                }
            }
            _ = tick.tick() => match mode {
                Mode::Live => drawn = redraw(&board, drawn, None),
                Mode::Lines { .. } => emit(&board.summary()),
            },
        }
    }
    if mode == Mode::Live {
        clear(drawn);
    }
}

fn emit(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Erases the previous block, prints `line` above it (scrolling), and draws the block again.
/// Returns the block's height.
fn redraw(board: &Board, drawn: usize, line: Option<&str>) -> usize {
    let width = terminal_width();
    let mut out = String::new();
    if drawn > 0 {
        let _ = write!(out, "\x1b[{drawn}A\x1b[J");
    }
    if let Some(line) = line {
        out.push_str(line);
        out.push('\n');
    }
    let block = board.block(width);
    for l in &block {
        out.push_str(l);
        out.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
    block.len()
}

fn clear(drawn: usize) {
    if drawn > 0 {
        let _ = write!(std::io::stderr().lock(), "\x1b[{drawn}A\x1b[J");
    }
}

/// `COLUMNS` when set, else 80: no ioctl, so it behaves the same everywhere.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 20)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Criteria;

    fn jobs(n: usize) -> Vec<PlannedJob> {
        (0..n)
            .map(|i| PlannedJob {
                id: format!("job{i}"),
                service: crate::cloud::endpoint::Service::Ecs,
                name: None,
                base: std::sync::Arc::new(url::Url::parse("http://h").unwrap()),
                timeout: None,
                criteria: Criteria::default(),
            })
            .collect()
    }

    fn changed(index: usize, status: &str, succeeded: u64, failed: u64, total: u64) -> Event {
        let sub_jobs = SubJobCounts {
            total,
            succeeded,
            failed,
            running: total - succeeded - failed,
        };
        Event::Changed {
            index,
            status: status.into(),
            sub_jobs,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lines_for_changes_endings_and_the_periodic_summary() {
        let mut board = Board::new(&jobs(5));
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(
            board.apply(changed(0, "RUNNING", 1, 0, 3)),
            "[    1.5s] ecs:job0 RUNNING, sub-jobs 1/3"
        );
        assert_eq!(
            board.apply(changed(1, "RUNNING", 1, 1, 3)),
            "[    1.5s] ecs:job1 RUNNING, sub-jobs 1/3 (1 failed)"
        );
        let done = Event::Finished {
            index: 2,
            outcome: Outcome::Failed,
            reason: "FAIL: Ecs.0013".into(),
        };
        assert_eq!(
            board.apply(done),
            "[    1.5s] ecs:job2 FAILED: FAIL: Ecs.0013"
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(
            board.summary(),
            "[   31.5s] waiting: 1 of 5 done (1 failed); pending: ecs:job0 RUNNING, sub-jobs 1/3, \
             ecs:job1 RUNNING, sub-jobs 1/3 (1 failed), ecs:job3 (no answer yet) and 1 more"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn server_and_spec_text_cannot_drive_the_terminal_or_the_runner() {
        use crate::report::fixtures::{assert_harmless, HOSTILE};
        let mut planned = jobs(2);
        planned[0].name = Some(format!("::warning::{HOSTILE}"));
        let mut board = Board::new(&planned);
        let mut lines = vec![board.apply(Event::Changed {
            index: 0,
            status: HOSTILE.into(),
            sub_jobs: SubJobCounts::default(),
        })];
        lines.push(board.summary());
        lines.extend(board.block(400));
        lines.push(board.apply(Event::Finished {
            index: 0,
            outcome: Outcome::Failed,
            reason: HOSTILE.into(),
        }));
        for line in &lines {
            assert!(!line.contains(['\n', '\r']), "{line:?}");
            assert_harmless(line, &[]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_live_block_lists_pending_jobs_within_the_width() {
        let mut board = Board::new(&jobs(12));
        board.apply(Event::Finished {
            index: 0,
            outcome: Outcome::Succeeded,
            reason: "SUCCESS".into(),
        });
        board.apply(changed(1, "RUNNING", 0, 0, 40));
        let block = board.block(30);
        assert_eq!(block[0], "[    0.0s] 1 of 12 jobs don...");
        assert_eq!(block[1], "  ecs:job1 RUNNING, sub-job...");
        assert_eq!(block.len(), 1 + LIVE_ROWS + 1);
        assert_eq!(block.last().unwrap(), "  ... and 3 more");
        assert!(block
            .iter()
            .all(|l| l.chars().count() <= 30 && l.is_ascii()));
    }
}
