//! Text from outside — the API's statuses, reasons and error messages, a spec's names — on its
//! way to a text output.
//!
//! The JSON report keeps such text as received (JSON escaping makes it harmless there), but a
//! terminal, a log, the text table, the Kubernetes termination message, GitHub's step summary and
//! its annotations all read text line by line, and some of them act on what they read: a newline
//! in a `fail_reason` followed by `::add-mask::` or `::error::` would become a command to the
//! GitHub runner, an ANSI/OSC escape would drive the terminal, a bidi override would make a line
//! read differently from what it holds. So every such text passes through [`line()`] (or the
//! [`Clean`] wrapper, for `format!` and `tracing` fields), which makes it one harmless line:
//!
//! - newlines, carriage returns and tabs become spaces;
//! - other control characters (C0, DEL, C1 — ESC among them), the Unicode line and paragraph
//!   separators and the bidi embedding/override/isolate controls become visible `\u{..}` escapes;
//! - the runner's two command syntaxes lose their power: a leading `::` (the runner trims
//!   whitespace before looking) becomes `\::`, and `##[` anywhere (the old syntax, matched
//!   anywhere in a line) becomes `#\#[`.
//!
//! [`cap`] bounds how much of a text is kept at all (see [`MAX_TEXT`]).

use std::borrow::Cow;
use std::fmt;

/// The most bytes of one text from the network kept per field (a reason, a status, an error
/// message): enough for any real message, small enough that ten thousand jobs' worth stays
/// small and a hostile server cannot blow up the outputs.
pub const MAX_TEXT: usize = 4096;

/// Whether `c` must not reach a text output as it is.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{200e}' | '\u{200f}' // left-to-right / right-to-left marks
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}' // byte order mark / zero-width no-break space
        )
}

/// `text` as one harmless line (see the module docs). Borrows when nothing needs changing.
pub fn line(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim_start();
    let leading_command = trimmed.starts_with("::");
    if !leading_command && !text.contains("##[") && !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let lead = text.len() - trimmed.len();
    for (i, c) in text.char_indices() {
        if i == lead && leading_command {
            out.push('\\');
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_unsafe(c) => out.push_str(&c.escape_unicode().to_string()),
            '[' if out.ends_with("##") => {
                out.pop();
                out.push_str("\\#[");
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`line()`] for text already owned: no copy when it is clean.
pub fn owned(text: String) -> String {
    match line(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

/// [`line()`] as a `Display` wrapper: `format!("{}", Clean(&reason))`, `tracing` fields
/// (`reason = %Clean(&reason)`).
#[derive(Debug, Clone, Copy)]
pub struct Clean<'a>(pub &'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&line(self.0))
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), with a marker saying how much
/// was left out. Texts within the limit are returned as they are.
pub fn cap(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let total = text.len();
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!("...({} more bytes)", total - cut));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            line("FAIL: Ecs.0013 Insufficient EIP quota (é, 日本)"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn newlines_controls_and_escapes_are_neutralised() {
        assert_eq!(line("a\nb\r\nc\td"), "a b  c d");
        assert_eq!(line("red \x1b[31mtext"), "red \\u{1b}[31mtext");
        assert_eq!(line("osc \x1b]0;title\x07"), "osc \\u{1b}]0;title\\u{7}");
        assert_eq!(line("c1 \u{9b}2J"), "c1 \\u{9b}2J");
        assert_eq!(line("rtl \u{202e}txt"), "rtl \\u{202e}txt");
        assert_eq!(line("ls \u{2028}x"), "ls \\u{2028}x");
    }

    #[test]
    fn runner_commands_are_defused() {
        assert_eq!(line("::add-mask::x"), "\\::add-mask::x");
        assert_eq!(line("   ::error::x"), "   \\::error::x");
        assert_eq!(line("a ::b"), "a ::b", "only a leading :: is a command");
        assert_eq!(line("x ##[error]forged"), "x #\\#[error]forged");
        assert_eq!(line("###[x"), "##\\#[x");
        // A newline can no longer start a line with a command.
        assert_eq!(
            line("ok\n::set-output name=x::1"),
            "ok ::set-output name=x::1"
        );
    }

    #[test]
    fn cap_cuts_on_a_char_boundary_and_says_so() {
        assert_eq!(cap("short".into(), 10), "short");
        let capped = cap("é".repeat(10), 5);
        assert_eq!(capped, "éé...(16 more bytes)");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn a_line_never_breaks_and_never_starts_a_command(text in ".*", prefix in "[ \t]{0,3}") {
            let clean = line(&format!("{prefix}{text}")).into_owned();
            prop_assert!(!clean.chars().any(is_unsafe), "{clean:?}");
            prop_assert!(!clean.trim_start().starts_with("::"), "{clean:?}");
            prop_assert!(!clean.contains("##["), "{clean:?}");
        }
    }
}
