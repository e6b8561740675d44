//! The simulator: a fake of the cloud's job API on a real TCP socket.
//!
//! It serves `GET /v1/{project_id}/jobs/{job_id}` the way Huawei Cloud, Open Telekom Cloud and
//! Flexible Engine do (ECS, EVS, BMS, IMS, the EIP batch job): the same job document, the same
//! status names, `end_time` empty until the job is terminal, recursive `sub_jobs`, and the same
//! error bodies — 400 `Common.0011` for an unknown job id, the API gateway's 404 `APIG.0101` for an
//! unknown path and 401 `APIGW.0301` for a bad token or AK/SK signature (checked with the real
//! verifier in [`crate::cloud::signer`]).
//!
//! What each job does over time comes from a [`Scenario`] (statuses on a timeline measured from the
//! moment [`start`] is called). It exists so that we can test the waiter end to end without a cloud
//! account: `jobwait simulate` serves a scenario file for pipelines' own tests, `jobwait demo` runs
//! one in-process, our integration tests start it on `127.0.0.1:0`, and the benchmark reads
//! `GET /_sim/stats` ([`Stats`]: request counts and when each job became terminal versus when a
//! response first showed it) to measure detection lag.

pub mod faults;
pub mod iam;
pub mod scenario;
mod server;
mod timeline;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use scenario::{Scenario, ScenarioError};
pub use server::{start, SimHandle};

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
