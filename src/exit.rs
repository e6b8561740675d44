//! How a run ends, in the contract's terms: the counts of its outcomes ([`Summary`]), the word
//! for it ([`RunResult`]) and the process exit code ([`ExitStatus`]). The exit codes are one enum: every path through the program ends in
//! one of these, decided in one place ([`ExitStatus::decide`] for a wait). When a second reason
//! to fail comes on top of the wait's (an output that could not be written), the contract's
//! precedence picks the code ([`ExitStatus::worst`]).

#[cfg(test)]
use schemars::JsonSchema;
use serde::Serialize;

/// The run as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    Success,
    Failure,
    Error,
    Timeout,
    Interrupted,
}

impl RunResult {
    /// The name the report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Failure => "failure",
            RunResult::Error => "error",
            RunResult::Timeout => "timeout",
            RunResult::Interrupted => "interrupted",
        }
    }
}

/// How many jobs ended which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub struct Summary {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub errored: usize,
    pub timed_out: usize,
    pub cancelled: usize,
}

/// A signal that stops a wait (130 / 143).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// How the process ends. In the report it is the number (`exit_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every job met its criteria.
    Success,
    /// At least one job reached a state that violates its criteria.
    Failure,
    /// Invalid usage, configuration or spec: nothing was waited on.
    Usage,
    /// An API, auth or network error left a job without a verdict.
    Error,
    /// The deadline passed with jobs still pending.
    Timeout,
    /// SIGINT.
    Interrupted,
    /// SIGTERM.
    Terminated,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Error => 3,
            ExitStatus::Timeout => 124,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }

    /// The contract's precedence among the codes a wait can end with: 130/143, then 1, 3, 124.
    pub fn decide(summary: &Summary, signal: Option<Signal>) -> ExitStatus {
        match signal {
            Some(Signal::Interrupt) => ExitStatus::Interrupted,
            Some(Signal::Terminate) => ExitStatus::Terminated,
            None if summary.failed > 0 => ExitStatus::Failure,
            None if summary.errored > 0 => ExitStatus::Error,
            None if summary.timed_out > 0 => ExitStatus::Timeout,
            // Cancelled without a signal only happens under fail_fast, which implies a failure.
            None if summary.cancelled > 0 => ExitStatus::Failure,
            None => ExitStatus::Success,
        }
    }

    /// The report's word for the run.
    pub fn result(self) -> RunResult {
        match self {
            ExitStatus::Success => RunResult::Success,
            ExitStatus::Failure => RunResult::Failure,
            ExitStatus::Usage | ExitStatus::Error => RunResult::Error,
            ExitStatus::Timeout => RunResult::Timeout,
            ExitStatus::Interrupted | ExitStatus::Terminated => RunResult::Interrupted,
        }
    }

    /// The contract's precedence when several codes apply: 2, then 130/143, then 1, then 3,
    /// then 124, then 0. Higher wins.
    fn rank(self) -> u8 {
        match self {
            ExitStatus::Usage => 6,
            ExitStatus::Interrupted | ExitStatus::Terminated => 5,
            ExitStatus::Failure => 4,
            ExitStatus::Error => 3,
            ExitStatus::Timeout => 2,
            ExitStatus::Success => 1,
        }
    }

    /// Of two reasons to end, the one the contract's precedence puts first (`self` on a tie):
    /// a failed job and an output that could not be written exit 1, a timeout and a write
    /// error exit 3, a signal stays a signal.
    pub fn worst(self, other: ExitStatus) -> ExitStatus {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        // Every code of the contract fits in a byte.
        std::process::ExitCode::from(status.code() as u8)
    }
}

impl std::fmt::Display for ExitStatus {
    /// The number, as the shell sees it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl serde::Serialize for ExitStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

#[cfg(test)]
impl schemars::JsonSchema for ExitStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "int32".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        i32::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus::*;

    #[test]
    fn worst_follows_the_contract_precedence() {
        let cases = [
            (Success, Error, Error),
            (Failure, Error, Failure),
            (Timeout, Error, Error),
            (Interrupted, Error, Interrupted),
            (Terminated, Error, Terminated),
            (Usage, Error, Usage),
            (Error, Error, Error),
            (Success, Success, Success),
            (Timeout, Success, Timeout),
            (Failure, Interrupted, Interrupted),
            (Usage, Terminated, Usage),
            (Timeout, Failure, Failure),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.worst(b), want, "{a:?}.worst({b:?})");
            if a != Interrupted && b != Interrupted {
                assert_eq!(b.worst(a), want, "{b:?}.worst({a:?}) is symmetric");
            }
        }
    }
}
