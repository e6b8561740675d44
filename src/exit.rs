//! The process exit codes of the contract, as one enum: every path through the program ends in
//! one of these, decided in one place ([`ExitStatus::decide`] for a wait). When a second reason
//! to fail comes on top of the wait's (an output that could not be written), the contract's
//! precedence picks the code ([`ExitStatus::worst`]).

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
