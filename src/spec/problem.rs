//! One thing wrong with the spec, as data: the key it is about, where the value came from, and
//! what is wrong.
//!
//! Loading and planning report every problem at once, and some follow from others: a value
//! that could not be read is left out, and its absence must not be reported again as "not set"
//! or as a bad comparison. Keeping the key apart from the text lets the plan leave those out by
//! key instead of by searching the message, and lets a caller that wants more than a line (a
//! report, an editor) have the key without parsing it back out. The text users see is
//! unchanged: [`Problem`]'s `Display` is the one line `jobwait` prints.

use std::fmt;

/// One problem with the spec.
///
/// Shown as `<origin>: <message>`, or just `<message>` without an origin. The message is the
/// whole sentence after the origin: it names the key itself where the wording does (a file's
/// problems say ``key `timeout`: …``; a variable or a flag already names its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dotted spec key it is about (`poll.interval`, `jobs.3.id`), when there is one.
    pub key: Option<String>,
    /// Where the value came from: `spec file x.yaml`, `environment variable JOBWAIT_…`,
    /// `flag --…`, `default`; `None` when the message says it or no value was given.
    pub origin: Option<String>,
    /// What is wrong, after the origin.
    pub message: String,
}

impl Problem {
    /// A problem with neither key nor origin (credentials, a file that cannot be read).
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            key: None,
            origin: None,
            message: message.into(),
        }
    }

    /// This problem, about `key`.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Problem {
        self.key = Some(key.into());
        self
    }

    /// This problem, with the value from `origin`.
    #[must_use]
    pub fn origin(mut self, origin: impl Into<String>) -> Problem {
        self.origin = Some(origin.into());
        self
    }

    /// Whether the problem is about `key` or a key under it (`poll.interval` is under `poll`;
    /// `pollx` is not).
    pub fn is_under(&self, key: &str) -> bool {
        self.key.as_deref().is_some_and(|k| {
            k.strip_prefix(key)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    }

    /// The problem with every URL's password shown as `***`, in each part: serde's messages
    /// quote values, and an endpoint (wherever it was put) may hold a password.
    #[must_use]
    pub fn redacted(self) -> Problem {
        use crate::cloud::endpoint::redacted_in;
        let redact = |s: String| match redacted_in(&s) {
            std::borrow::Cow::Borrowed(_) => s,
            std::borrow::Cow::Owned(r) => r,
        };
        Problem {
            key: self.key.map(redact),
            origin: self.origin.map(redact),
            message: redact(self.message),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{origin}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Problem;

    #[test]
    fn shown_as_origin_then_message() {
        let p = Problem::new("key `timeout` must be more than 0")
            .key("timeout")
            .origin("flag --timeout");
        assert_eq!(
            p.to_string(),
            "flag --timeout: key `timeout` must be more than 0"
        );
        assert_eq!(Problem::new("no credentials").to_string(), "no credentials");
    }

    #[test]
    fn under_means_the_key_or_a_dotted_child() {
        let p = Problem::new("x").key("poll.interval");
        assert!(p.is_under("poll") && p.is_under("poll.interval"));
        assert!(!p.is_under("pol") && !p.is_under("poll.interval.x"));
        assert!(!Problem::new("x").is_under("poll"));
    }

    #[test]
    fn passwords_are_hidden_in_every_part() {
        let p = Problem::new("`http://u:pw@h` is not a URL")
            .key("endpoints.http://u:pw@h")
            .origin("spec file s.yaml")
            .redacted();
        assert!(!format!("{p:?}").contains("pw"), "{p:?}");
    }
}
