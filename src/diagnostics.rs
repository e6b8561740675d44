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

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::Deserialize;

/// How log lines look on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
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
    eprintln!("{}", own_line(log_format(), "ERROR", "error", message));
}

/// `jobwait: warning: MESSAGE` on standard error, as one line (a JSON line under `json`).
pub fn warning(message: &str) {
    eprintln!("{}", own_line(log_format(), "WARN", "warning", message));
}

/// `-v` info, `-vv` debug, `-vvv` trace; `JOBWAIT_LOG` (an env-filter) overrides. JSON lines
/// for log collectors with `log_format: json`, which from here on [`error`], [`warning`] and the
/// progress lines follow too.
pub fn init_logging(verbose: u8, format: LogFormat) {
    let _ = FORMAT.set(format);
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("JOBWAIT_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("warn,jobwait={level}"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

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
