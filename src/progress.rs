//! Progress on standard error, so a long wait is never silent and standard output stays for
//! results.
//!
//! - In a log (CI, `kubectl logs`): one line whenever a job's status or sub-job progress
//!   changes, one when it ends, and a summary line every `progress_interval` (default 30 s)
//!   even when nothing changed, so CI systems that kill silent jobs don't.
//! - On a terminal: the same job-end lines scroll, under a live block redrawn in place (a summary
//!   and the jobs still pending, longest-waiting first), cut to the terminal's real width so no
//!   line wraps (a wrapped line would throw off the cursor movements that erase the block).
//!   Warnings and log lines written meanwhile go above the block, not into it
//!   ([`diagnostics::Screen`]).
//! - With `log_format: json`: the log's lines as JSON objects, one a line, like the tracing
//!   subscriber's, so a log collector parses every line of standard error.
//!
//! [`Mode::choose`] is the one place the mode is decided. CI systems (`CI`, `GITHUB_ACTIONS`)
//! often run the program on a pseudo-terminal, where the live block's cursor movements would
//! land in the stored log as escape sequences and redrawn copies, so there it is lines.
//!
//! Plain ASCII, no colour: it reads the same in every terminal and log. Statuses and reasons come
//! from the API and labels from the spec: all pass through [`crate::sanitize`] as they enter the
//! board, so no escape sequence reaches the terminal and no line of the log is a runner command
//! (JSON escaping alone would not defuse `##[`, which the runner matches anywhere in a line).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::diagnostics::{self, LogFormat};
use crate::environment::Environment;
use crate::sanitize;
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
    /// [`Mode::Lines`] as JSON objects, one a line (`log_format: json`).
    Json { interval: Duration },
}

impl Mode {
    /// The mode for a standard error that is (or not) a terminal, in `env`, under `format`:
    /// JSON whenever the format says so; the live block only on a terminal outside CI (`CI` or
    /// `GITHUB_ACTIONS` set and not empty); lines otherwise.
    pub fn choose(
        stderr_is_terminal: bool,
        env: &Environment,
        format: LogFormat,
        interval: Duration,
    ) -> Mode {
        let in_ci = env.get("CI").is_some() || env.get("GITHUB_ACTIONS").is_some();
        match format {
            LogFormat::Json => Mode::Json { interval },
            LogFormat::Text if stderr_is_terminal && !in_ci => Mode::Live,
            LogFormat::Text => Mode::Lines { interval },
        }
    }
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
    /// Why it ended (sanitised), once it has.
    reason: String,
}

/// What [`Board::apply`] changed: the job at `index`, which has now ended or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    index: usize,
    finished: bool,
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
                    reason: String::new(),
                })
                .collect(),
            start: Instant::now(),
        }
    }

    /// Applies an event; returns what changed, for [`Board::line`] or [`Board::json`].
    pub fn apply(&mut self, event: Event) -> Update {
        match event {
            Event::Changed {
                index,
                status,
                sub_jobs,
            } => {
                let job = &mut self.jobs[index];
                job.status = Some(sanitize::owned(status));
                job.sub_jobs = sub_jobs;
                Update {
                    index,
                    finished: false,
                }
            }
            Event::Finished {
                index,
                outcome,
                reason,
            } => {
                let job = &mut self.jobs[index];
                job.outcome = Some(outcome);
                job.reason = sanitize::owned(reason);
                Update {
                    index,
                    finished: true,
                }
            }
        }
    }

    /// The log line for an update: `[   1.5s] ecs:x RUNNING, sub-jobs 1/3` or
    /// `[   1.5s] ecs:x FAILED: reason`.
    pub fn line(&self, update: Update) -> String {
        let t = self.start.elapsed().as_secs_f64();
        let job = &self.jobs[update.index];
        match job.outcome.filter(|_| update.finished) {
            Some(outcome) => format!(
                "[{t:7.1}s] {} {}: {}",
                job.label,
                outcome.shout(),
                job.reason
            ),
            None => format!("[{t:7.1}s] {} {}", job.label, state_text(job)),
        }
    }

    /// [`Board::line`] as a JSON line: `kind` `progress` (with `status` and `sub_jobs`) or
    /// `finished` (with the report's `outcome` and the `reason`; level `WARN` unless it
    /// succeeded).
    pub fn json(&self, update: Update) -> String {
        let job = &self.jobs[update.index];
        let mut fields = Map::new();
        fields.insert("elapsed_s".into(), self.elapsed_s());
        fields.insert("job".into(), job.label.clone().into());
        match job.outcome.filter(|_| update.finished) {
            Some(outcome) => {
                fields.insert("outcome".into(), outcome.as_str().into());
                fields.insert("reason".into(), job.reason.clone().into());
                let level = if outcome == Outcome::Succeeded {
                    "INFO"
                } else {
                    "WARN"
                };
                diagnostics::json_line(level, "finished", fields)
            }
            None => {
                fields.insert("status".into(), job.status.clone().into());
                fields.insert("sub_jobs".into(), json!(job.sub_jobs));
                diagnostics::json_line("INFO", "progress", fields)
            }
        }
    }

    /// [`Board::summary`] as a JSON line: `done` of `total`, a count per outcome (the report's
    /// names) and the first three pending jobs with their status.
    pub fn summary_json(&self) -> String {
        let mut fields = Map::new();
        fields.insert("elapsed_s".into(), self.elapsed_s());
        let done = self.jobs.iter().filter(|j| j.outcome.is_some()).count();
        fields.insert("done".into(), done.into());
        fields.insert("total".into(), self.jobs.len().into());
        for outcome in Outcome::ALL {
            let n = self
                .jobs
                .iter()
                .filter(|j| j.outcome == Some(outcome))
                .count();
            fields.insert(outcome.as_str().into(), n.into());
        }
        let pending: Vec<Value> = self
            .jobs
            .iter()
            .filter(|j| j.outcome.is_none())
            .take(3)
            .map(|j| json!({ "job": j.label, "status": j.status }))
            .collect();
        fields.insert("pending".into(), pending.into());
        diagnostics::json_line("INFO", "summary", fields)
    }

    /// Seconds since the start, to the millisecond.
    fn elapsed_s(&self) -> Value {
        let ms = self.start.elapsed().as_millis();
        json!(ms as f64 / 1000.0)
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
    if width < 4 {
        return line.chars().take(width).collect();
    }
    let mut out: String = line.chars().take(width - 3).collect();
    out.push_str("...");
    out
}

/// Shows progress on `board` (made from the plan's jobs with [`Board::new`]: the printer keeps
/// their labels, not a copy of the jobs) until the sender side is dropped.
pub async fn print(mut board: Board, mut events: mpsc::UnboundedReceiver<Event>, mode: Mode) {
    let tick_every = match mode {
        Mode::Live => REDRAW,
        Mode::Lines { interval } | Mode::Json { interval } if interval.is_zero() => {
            Duration::from_secs(24 * 3600)
        }
        Mode::Lines { interval } | Mode::Json { interval } => interval,
    };
    let mut tick = tokio::time::interval_at(Instant::now() + tick_every, tick_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let update = board.apply(event);
                match mode {
                    // On a terminal only endings scroll; status changes show in the block.
                    Mode::Live if !update.finished => {}
                    Mode::Live => redraw(&board, Some(&board.line(update))),
                    Mode::Lines { .. } => emit(&board.line(update)),
                    Mode::Json { .. } => emit(&board.json(update)),
                }
            }
            _ = tick.tick() => match mode {
                Mode::Live => redraw(&board, None),
                Mode::Lines { .. } => emit(&board.summary()),
                Mode::Json { .. } => emit(&board.summary_json()),
            },
        }
    }
    if mode == Mode::Live {
        clear();
    }
}

fn emit(line: &str) {
    diagnostics::above_block(format!("{line}\n").as_bytes());
}

/// Draws the block again, with `line` scrolled above it, through standard error's
/// [`diagnostics::Screen`] (which other lines written meanwhile also go through, above the block).
fn redraw(board: &Board, line: Option<&str>) {
    let block = board.block(terminal_width());
    let text = line.map(|l| format!("{l}\n")).unwrap_or_default();
    diagnostics::with_screen(|screen, err| {
        let _ = screen.draw(err, text.as_bytes(), block);
    });
}

fn clear() {
    diagnostics::with_screen(|screen, err| {
        let _ = screen.clear(err);
    });
}

/// The width of the terminal on standard error, asked each redraw (so a resized window is
/// followed).
fn terminal_width() -> usize {
    let real = terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| w.0);
    width_from(real, std::env::var("COLUMNS").ok().as_deref())
}

/// The terminal's own width when it tells one; else `COLUMNS` (when a number of at least 20:
/// some terminals and `script` report no size); else 80.
fn width_from(terminal: Option<u16>, columns: Option<&str>) -> usize {
    terminal
        .filter(|w| *w > 0)
        .map(usize::from)
        .or_else(|| {
            columns
                .and_then(|c| c.trim().parse().ok())
                .filter(|w| *w >= 20)
        })
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
                service: crate::cloud::endpoint::Service::Ecs.into(),
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

    /// Applies `event` and returns its log line.
    fn line(board: &mut Board, event: Event) -> String {
        let update = board.apply(event);
        board.line(update)
    }

    #[tokio::test(start_paused = true)]
    async fn lines_for_changes_endings_and_the_periodic_summary() {
        let mut board = Board::new(&jobs(5));
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(
            line(&mut board, changed(0, "RUNNING", 1, 0, 3)),
            "[    1.5s] ecs:job0 RUNNING, sub-jobs 1/3"
        );
        assert_eq!(
            line(&mut board, changed(1, "RUNNING", 1, 1, 3)),
            "[    1.5s] ecs:job1 RUNNING, sub-jobs 1/3 (1 failed)"
        );
        let done = Event::Finished {
            index: 2,
            outcome: Outcome::Failed,
            reason: "FAIL: Ecs.0013".into(),
        };
        assert_eq!(
            line(&mut board, done),
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
        let change = board.apply(Event::Changed {
            index: 0,
            status: HOSTILE.into(),
            sub_jobs: SubJobCounts::default(),
        });
        let mut lines = vec![board.line(change), board.json(change)];
        lines.push(board.summary());
        lines.push(board.summary_json());
        lines.extend(board.block(400));
        let end = board.apply(Event::Finished {
            index: 0,
            outcome: Outcome::Failed,
            reason: HOSTILE.into(),
        });
        lines.push(board.line(end));
        lines.push(board.json(end));
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

    /// Every key of a JSON line, in order.
    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn json_lines_for_changes_endings_and_the_periodic_summary() {
        let mut board = Board::new(&jobs(4));
        tokio::time::advance(Duration::from_millis(1500)).await;
        let change = board.apply(changed(0, "RUNNING", 1, 0, 3));
        let text = board.json(change);
        assert!(!text.contains('\n'), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            keys(&v),
            [
                "timestamp",
                "level",
                "kind",
                "elapsed_s",
                "job",
                "status",
                "sub_jobs"
            ]
        );
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["kind"], "progress");
        assert_eq!(v["elapsed_s"], 1.5);
        assert_eq!(v["job"], "ecs:job0");
        assert_eq!(v["status"], "RUNNING");
        assert_eq!(
            v["sub_jobs"],
            serde_json::json!({"total": 3, "succeeded": 1, "failed": 0, "running": 2})
        );
        assert!(humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).is_ok());

        let ends = [
            (Outcome::TimedOut, "WARN", "timed_out"),
            (Outcome::Succeeded, "INFO", "succeeded"),
        ];
        for (index, (outcome, level, word)) in ends.into_iter().enumerate() {
            let end = board.apply(Event::Finished {
                index: index + 1,
                outcome,
                reason: "the reason".into(),
            });
            let v: serde_json::Value = serde_json::from_str(&board.json(end)).unwrap();
            assert_eq!(
                keys(&v),
                [
                    "timestamp",
                    "level",
                    "kind",
                    "elapsed_s",
                    "job",
                    "outcome",
                    "reason"
                ]
            );
            assert_eq!(v["kind"], "finished");
            assert_eq!(v["level"], level);
            assert_eq!(v["outcome"], word, "the report's lower-case name");
            assert_eq!(v["job"], format!("ecs:job{}", index + 1));
            assert_eq!(v["reason"], "the reason");
        }

        let v: serde_json::Value = serde_json::from_str(&board.summary_json()).unwrap();
        assert_eq!(v["kind"], "summary");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["done"], 2);
        assert_eq!(v["total"], 4);
        for (word, n) in [
            ("succeeded", 1),
            ("failed", 0),
            ("errored", 0),
            ("timed_out", 1),
            ("cancelled", 0),
        ] {
            assert_eq!(v[word], n, "{word}");
        }
        assert_eq!(
            v["pending"],
            serde_json::json!([
                {"job": "ecs:job0", "status": "RUNNING"},
                {"job": "ecs:job3", "status": null},
            ])
        );
    }

    #[test]
    fn the_mode_follows_the_terminal_ci_and_the_log_format() {
        use LogFormat::{Json, Text};
        let interval = Duration::from_secs(30);
        let lines = Mode::Lines { interval };
        let json = Mode::Json { interval };
        // terminal, CI, GITHUB_ACTIONS, format → mode
        let table = [
            (true, None, None, Text, Mode::Live),
            (true, Some("true"), None, Text, lines),
            (true, None, Some("true"), Text, lines),
            (true, Some("1"), Some("true"), Text, lines),
            // Empty counts as unset.
            (true, Some(""), Some(""), Text, Mode::Live),
            (false, None, None, Text, lines),
            (false, Some("true"), None, Text, lines),
            (false, None, Some("true"), Text, lines),
            (true, None, None, Json, json),
            (true, Some("true"), None, Json, json),
            (true, None, Some("true"), Json, json),
            (false, None, None, Json, json),
            (false, Some("true"), Some("true"), Json, json),
        ];
        for (terminal, ci, github_actions, format, expected) in table {
            let env = Environment::from_pairs(
                [("CI", ci), ("GITHUB_ACTIONS", github_actions)]
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?))),
            );
            assert_eq!(
                Mode::choose(terminal, &env, format, interval),
                expected,
                "terminal {terminal}, CI {ci:?}, GITHUB_ACTIONS {github_actions:?}, {format:?}"
            );
        }
    }

    #[test]
    fn the_width_is_the_terminals_then_columns_then_80() {
        assert_eq!(width_from(Some(132), Some("100")), 132);
        assert_eq!(
            width_from(Some(12), None),
            12,
            "a narrow terminal is believed"
        );
        assert_eq!(
            width_from(Some(0), Some("100")),
            100,
            "a pty without a size"
        );
        assert_eq!(width_from(None, Some("100")), 100);
        assert_eq!(width_from(None, Some(" 120 ")), 120);
        assert_eq!(width_from(None, Some("10")), 80, "an implausible COLUMNS");
        assert_eq!(width_from(None, Some("wide")), 80);
        assert_eq!(width_from(None, None), 80);
    }

    #[test]
    fn lines_are_cut_to_tiny_widths_too() {
        assert_eq!(truncate("abcdefgh", 8), "abcdefgh");
        assert_eq!(truncate("abcdefgh", 6), "abc...");
        assert_eq!(truncate("abcdefgh", 3), "abc");
        assert_eq!(truncate("abcdefgh", 0), "");
    }
}
