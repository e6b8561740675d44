//! The process exit codes of the contract, as one enum: every path through the program ends in
//! one of these, decided in one place ([`ExitStatus::decide`] for a wait).

/// How the process ends.
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

    pub fn from_code(code: i32) -> ExitStatus {
        match code {
            0 => ExitStatus::Success,
            1 => ExitStatus::Failure,
            2 => ExitStatus::Usage,
            124 => ExitStatus::Timeout,
            130 => ExitStatus::Interrupted,
            143 => ExitStatus::Terminated,
            _ => ExitStatus::Error,
        }
    }
}
