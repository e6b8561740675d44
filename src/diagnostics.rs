//! What goes to standard error besides progress: the tracing subscriber (text or JSON lines,
//! verbosity, `JOBWAIT_LOG`), [`one_line`], which keeps every error message one readable line,
//! and [`error`] / [`warning`], the program's own `jobwait: error: …` lines (they show whatever
//! the log level, because they change what the run produced).
//!
//! With `log_format: json` a log collector reads standard error as JSON lines, and one plain
//! line among them is a parse error or a lost message there. So the format is a process-wide
//! setting ([`init_logging`] records it once), and everything else that writes to standard error
//! — [`error`], [`warning`], the progress lines — asks [`log_format`] and builds its JSON with
//! [`json_line`], in the shape of the tracing subscriber's own lines (`timestamp`, `level`).
//!
//! On a terminal, progress keeps a live block at the bottom of standard error and redraws it in
//! place by moving the cursor up over it. A warning written meanwhile by anyone else landed
//! inside that block and was erased by the next redraw. So every line this process writes to
//! standard error while a block may be shown goes through one [`Screen`]: it erases the block,
//! writes the line, and draws the block again below it — the warnings, the errors and the
//! tracing subscriber's lines alike.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::SystemTime;

#[cfg(test)]
use schemars::JsonSchema;
use serde::Deserialize;

/// How log lines look on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A message as one readable line: the shared sanitiser ([`crate::sanitize::line`]) makes it
/// harmless, runs of spaces collapse, and a huge value someone passed is cut (at 400
/// characters) instead of echoed whole.
pub fn one_line(message: &str) -> String {
    const MAX: usize = 400;
    let clean = crate::sanitize::line(message);
    let mut out = String::with_capacity(clean.len().min(MAX + 32));
    for c in clean.chars() {
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
    let total = out.chars().count();
    if total > MAX {
        out = out.chars().take(MAX).collect::<String>()
            + &format!("... ({} more characters)", total - MAX);
    }
    out
}

/// The format [`init_logging`] was given; text until then (errors found before the spec is
/// read cannot know it).
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// How this process's lines on standard error look (see the module docs).
pub fn log_format() -> LogFormat {
    FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// One JSON line: `{"timestamp":…,"level":…,"kind":…, ...fields}` (RFC 3339 UTC with
/// microseconds, as the tracing subscriber writes it). `fields` come after, in their order.
pub fn json_line(
    level: &str,
    kind: &str,
    fields: serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut line = serde_json::Map::new();
    line.insert(
        "timestamp".into(),
        humantime::format_rfc3339_micros(SystemTime::now())
            .to_string()
            .into(),
    );
    line.insert("level".into(), level.into());
    line.insert("kind".into(), kind.into());
    line.extend(fields);
    serde_json::Value::Object(line).to_string()
}

/// A message of the program's own in the process's format: `jobwait: KIND: MESSAGE`, or its
/// JSON line.
fn own_line(format: LogFormat, level: &str, kind: &str, message: &str) -> String {
    let message = one_line(message);
    match format {
        LogFormat::Text => format!("jobwait: {kind}: {message}"),
        LogFormat::Json => {
            let mut fields = serde_json::Map::new();
            fields.insert("message".into(), message.into());
            json_line(level, kind, fields)
        }
    }
}

/// `jobwait: error: MESSAGE` on standard error, as one line (a JSON line under `json`).
pub fn error(message: &str) {
    let line = own_line(log_format(), "ERROR", "error", message);
    above_block(format!("{line}\n").as_bytes());
}

/// `jobwait: warning: MESSAGE` on standard error, as one line (a JSON line under `json`).
pub fn warning(message: &str) {
    let line = own_line(log_format(), "WARN", "warning", message);
    above_block(format!("{line}\n").as_bytes());
}

/// The bottom of a terminal where a live block of lines is redrawn in place, and the text that
/// scrolls above it. It only remembers the block; the terminal is the writer each call is given
/// (standard error in the program, a buffer in tests).
#[derive(Debug, Default)]
pub struct Screen {
    /// The block as last drawn (each line already fits the width: no line wraps, or the cursor
    /// movement that erases it would miss).
    block: Vec<String>,
}

impl Screen {
    pub const fn new() -> Screen {
        Screen { block: Vec::new() }
    }

    /// Writes `text` (whole lines, each ending in `\n`) above the block: erases the block,
    /// writes the text, draws the block again.
    pub fn above(&mut self, out: &mut impl Write, text: &[u8]) -> std::io::Result<()> {
        let block = self.block.clone();
        self.draw(out, text, block)
    }

    /// Erases the block, writes `text` (whole lines) where it was, and draws `block` below.
    pub fn draw(
        &mut self,
        out: &mut impl Write,
        text: &[u8],
        block: Vec<String>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(text.len() + 64 * block.len() + 16);
        if !self.block.is_empty() {
            write!(buf, "\x1b[{}A\x1b[J", self.block.len())?;
        }
        buf.extend_from_slice(text);
        if !text.is_empty() && !text.ends_with(b"\n") {
            buf.push(b'\n');
        }
        for line in &block {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        self.block = block;
        // One write, so the terminal never shows the block half erased.
        out.write_all(&buf)?;
        out.flush()
    }

    /// Erases the block for good (the wait is over).
    pub fn clear(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.draw(out, b"", Vec::new())
    }
}

/// The screen of standard error: the one place that knows whether a live block is drawn.
static SCREEN: std::sync::Mutex<Screen> = std::sync::Mutex::new(Screen::new());

/// Runs `f` on standard error's [`Screen`] (a poisoned lock is taken over: a screen holds no
/// invariant a panic could break beyond a stale block).
pub fn with_screen<T>(f: impl FnOnce(&mut Screen, &mut std::io::StderrLock<'static>) -> T) -> T {
    let mut screen = SCREEN.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut screen, &mut std::io::stderr().lock())
}

/// Writes whole lines to standard error above the live block, if one is drawn.
pub fn above_block(text: &[u8]) {
    with_screen(|screen, err| {
        let _ = screen.above(err, text);
    });
}

/// The tracing subscriber's writer: each event's lines, once formatted, go above the live block.
struct AboveBlock;

/// One event being formatted; written above the block when the subscriber is done with it.
struct EventLines(Vec<u8>);

impl Write for EventLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventLines {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            above_block(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for AboveBlock {
    type Writer = EventLines;

    fn make_writer(&'a self) -> EventLines {
        EventLines(Vec::new())
    }
}

/// `-v` info, `-vv` debug, `-vvv` trace; `JOBWAIT_LOG` (`LEVEL` and `TARGET=LEVEL` directives
/// separated by commas, see `log_filter`) overrides. JSON lines for log collectors with
/// `log_format: json`, which from here on [`error`], [`warning`] and the progress lines follow too.
pub fn init_logging(verbose: u8, format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let _ = FORMAT.set(format);
    let (filter, problem) = log_filter(std::env::var("JOBWAIT_LOG").ok().as_deref(), verbose);
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .with_writer(AboveBlock)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().finish().with(filter).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .finish()
            .with(filter)
            .try_init(),
    };
    if let Some(problem) = problem {
        warning(&problem);
    }
}

/// The log filter: `JOBWAIT_LOG` when set and not empty, else warnings from everything and the
/// `-v` level from jobwait itself. `JOBWAIT_LOG` takes what tracing's `Targets` parses (`debug`,
/// `warn,jobwait=trace`, `jobwait::cloud=debug`), not `RUST_LOG`'s span and field filters (they
/// need a regex engine, about a megabyte of the static binary). A value it cannot parse is
/// ignored with a warning (the returned line), so a typo never costs the run.
fn log_filter(
    var: Option<&str>,
    verbose: u8,
) -> (tracing_subscriber::filter::Targets, Option<String>) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let default = format!("warn,jobwait={level}");
    let parse = |text: &str| text.parse::<tracing_subscriber::filter::Targets>();
    match var.map(str::trim).filter(|s| !s.is_empty()) {
        None => (parse(&default).expect("the default filter parses"), None),
        Some(text) => match parse(text) {
            Ok(filter) => (filter, None),
            Err(_) => (
                parse(&default).expect("the default filter parses"),
                Some(format!(
                    "JOBWAIT_LOG is ignored: it is not a list of LEVEL or TARGET=LEVEL directives \
                     separated by commas (levels: off, error, warn, info, debug, trace); using \
                     `{default}`"
                )),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filter_takes_targets_and_ignores_what_it_cannot_parse() {
        use tracing::level_filters::LevelFilter;
        let (default, problem) = log_filter(None, 2);
        assert!(problem.is_none());
        assert!(default.would_enable("jobwait::wait", &tracing::Level::DEBUG));
        assert!(!default.would_enable("jobwait::wait", &tracing::Level::TRACE));
        assert!(!default.would_enable("hyper", &tracing::Level::INFO));
        assert!(default.would_enable("hyper", &tracing::Level::WARN));
        let (empty, problem) = log_filter(Some("  "), 0);
        assert!(problem.is_none());
        assert_eq!(empty.default_level(), Some(LevelFilter::WARN));
        let (custom, problem) = log_filter(Some("error,jobwait::cloud=trace"), 0);
        assert!(problem.is_none());
        assert!(custom.would_enable("jobwait::cloud::client", &tracing::Level::TRACE));
        assert!(!custom.would_enable("jobwait::wait", &tracing::Level::WARN));
        // A span filter (RUST_LOG's `[span{field}]`) or a typo: the default, and a warning.
        for bad in ["jobwait[poll{id=1}]=debug", "jobwait=loud"] {
            let (filter, problem) = log_filter(Some(bad), 1);
            let problem = problem.unwrap_or_else(|| panic!("{bad}: no warning"));
            assert!(problem.starts_with("JOBWAIT_LOG is ignored"), "{problem}");
            assert!(
                filter.would_enable("jobwait::wait", &tracing::Level::INFO),
                "{bad}"
            );
        }
    }

    #[test]
    fn one_line_joins_lines_escapes_controls_and_cuts_huge_values() {
        assert_eq!(one_line("a\n  b\r\nc\u{7}"), "a b c\\u{7}");
        let huge = format!("bad value `{}`", "x".repeat(5000));
        let line = one_line(&huge);
        assert!(
            line.chars().count() < 450 && line.ends_with("more characters)"),
            "{line}"
        );
    }

    /// A fake terminal: the text it shows, line by line, for the bytes a [`Screen`] writes (text,
    /// `\n`, and the two escape sequences it uses: cursor up `ESC[nA`, erase below `ESC[J`).
    fn shown(bytes: &[u8]) -> Vec<String> {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut rows: Vec<String> = vec![String::new()];
        let mut row = 0usize;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let Some(esc) = rest.strip_prefix("\x1b[") {
                let end = esc.find(|c: char| c.is_ascii_alphabetic()).unwrap();
                let (n, cmd) = (&esc[..end], &esc[end..=end]);
                match cmd {
                    "A" => row -= n.parse::<usize>().unwrap(),
                    "J" => {
                        rows.truncate(row + 1);
                        rows[row].clear();
                    }
                    other => panic!("unexpected escape {other}"),
                }
                rest = &esc[end + 1..];
                continue;
            }
            if c == '\n' {
                row += 1;
                if rows.len() <= row {
                    rows.push(String::new());
                }
            } else {
                rows[row].push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
        rows.pop_if(|r| r.is_empty());
        rows
    }

    /// A warning printed while the live block is drawn shows above the block, and the next
    /// redraw keeps it: before, it was written where the cursor was and erased by the redraw.
    #[test]
    fn lines_written_while_a_block_is_drawn_go_above_it_and_stay() {
        let mut term = Vec::new();
        let mut screen = Screen::new();
        let block = |s: &str| {
            vec![
                format!("[ 1.0s] 0 of 2 jobs done {s}"),
                "  ecs:a RUNNING".to_owned(),
            ]
        };
        screen.draw(&mut term, b"", block("x")).unwrap();
        screen
            .above(&mut term, b"jobwait: warning: cannot reach h: refused\n")
            .unwrap();
        assert_eq!(
            shown(&term),
            [
                "jobwait: warning: cannot reach h: refused",
                "[ 1.0s] 0 of 2 jobs done x",
                "  ecs:a RUNNING"
            ]
        );
        // The next redraw (a job's end scrolls, a shorter block) keeps the warning.
        screen
            .draw(
                &mut term,
                b"ecs:b SUCCEEDED: done\n",
                vec!["[ 1.2s] 1 of 2".into()],
            )
            .unwrap();
        screen.above(&mut term, b"line without newline").unwrap();
        assert_eq!(
            shown(&term),
            [
                "jobwait: warning: cannot reach h: refused",
                "ecs:b SUCCEEDED: done",
                "line without newline",
                "[ 1.2s] 1 of 2"
            ]
        );
        screen.clear(&mut term).unwrap();
        assert_eq!(
            shown(&term),
            [
                "jobwait: warning: cannot reach h: refused",
                "ecs:b SUCCEEDED: done",
                "line without newline",
            ]
        );
        // Without a block, a line is just written.
        let mut plain = Vec::new();
        Screen::new().above(&mut plain, b"a\n").unwrap();
        assert_eq!(plain, b"a\n");
    }

    #[test]
    fn warnings_and_errors_are_json_lines_under_the_json_format() {
        assert_eq!(
            own_line(LogFormat::Text, "WARN", "warning", "a\nb"),
            "jobwait: warning: a b"
        );
        let line = own_line(
            LogFormat::Json,
            "ERROR",
            "error",
            "::error::x\nbad \u{1b}[2J",
        );
        assert!(!line.contains('\n'), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["timestamp", "level", "kind", "message"]);
        assert_eq!(value["level"], "ERROR");
        assert_eq!(value["kind"], "error");
        assert_eq!(value["message"], "\\::error::x bad \\u{1b}[2J");
        let timestamp = value["timestamp"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(timestamp).is_ok(), "{timestamp}");
    }
}
