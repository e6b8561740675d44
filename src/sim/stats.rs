//! The simulator's statistics, as `SimHandle::stats` returns them and
//! `GET /_sim/stats` serves them as JSON: request counts, and when each job became terminal versus
//! when a response first showed it (the detection lag the benchmark measures).
//!
//! A leaf of its own because it is the one shape shared by the server (which fills it) and
//! everyone outside it (tests, the benchmark, which read it); it depends on nothing in `sim`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A snapshot of the simulator's counters (also served as JSON at `GET /_sim/stats`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// Requests answered, except those to `/_sim/stats` (404s and 401s included).
    pub requests: u64,
    /// Requests answered with 401.
    pub rejected_auth: u64,
    /// The most API requests that arrived within any one-second window (sliding), measured here
    /// at the server: what a client's rate limit must keep below the configured rate.
    pub max_requests_per_second: u64,
    /// Requests answered with a fault from the scenario's fault plan (429s of its rate limit
    /// included).
    pub faults_injected: u64,
    /// IAM tokens issued by `POST /v3/auth/tokens`.
    pub tokens_issued: u64,
    /// Per top-level job id.
    pub jobs: BTreeMap<String, JobStats>,
}

/// Counters of one top-level job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobStats {
    /// Authenticated requests for this job id (under the right project), hidden ones included.
    pub requests: u64,
    /// ms since start when the job became terminal (observably: not before its `not_found_for`
    /// ended); `None` while it is not terminal.
    pub terminal_at_ms: Option<f64>,
    /// ms since start of the first response that showed it terminal.
    pub first_terminal_response_ms: Option<f64>,
}
