//! What goes to standard error besides progress: the tracing subscriber (text or JSON lines,
//! verbosity, `JOBWAIT_LOG`), [`one_line`], which keeps every error message one readable line,
//! and [`error`] / [`warning`], the program's own `jobwait: error: …` lines (they show whatever
//! the log level, because they change what the run produced).

use std::io::IsTerminal;

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

/// `jobwait: error: MESSAGE` on standard error, as one line.
pub fn error(message: &str) {
    eprintln!("jobwait: error: {}", one_line(message));
}

/// `jobwait: warning: MESSAGE` on standard error, as one line.
pub fn warning(message: &str) {
    eprintln!("jobwait: warning: {}", one_line(message));
}

/// `-v` info, `-vv` debug, `-vvv` trace; `JOBWAIT_LOG` (an env-filter) overrides. JSON lines
/// for log collectors with `log_format: json`.
pub fn init_logging(verbose: u8, format: LogFormat) {
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
}
