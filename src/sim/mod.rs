//! The simulator: a fake of the cloud's job API on a real TCP socket.
//!
//! It serves every job API jobwait reads (a scenario job's `service:` picks where and in which
//! document shape), first of all `GET /v1/{project_id}/jobs/{job_id}` the way Huawei Cloud, Open
//! Telekom Cloud and Flexible Engine do (ECS, EVS, BMS, IMS, the EIP batch job): the same job document, the same
//! status names, `end_time` empty until the job is terminal, recursive `sub_jobs`, and the same
//! error bodies — 400 `Common.0011` for an unknown job id, the API gateway's 404 `APIG.0101` for an
//! unknown path and 401 `APIGW.0301` for a bad token or AK/SK signature (checked by the gateway's
//! rules in `verify`, over the signature computed by [`crate::cloud::signer`]'s own code).
//!
//! What each job does over time comes from a [`Scenario`] (statuses on a timeline measured from the
//! moment [`start`] is called). It exists so that we can test the waiter end to end without a cloud
//! account: `jobwait simulate` serves a scenario file for pipelines' own tests, `jobwait demo` runs
//! one in-process, our integration tests start it on `127.0.0.1:0`, and the benchmark reads
//! `GET /_sim/stats` ([`Stats`]: request counts and when each job became terminal versus when a
//! response first showed it) to measure detection lag.
//!
//! # Layers
//!
//! The files depend on each other in one direction only, from the HTTP edge down to the data:
//!
//! ```text
//! server (HTTP: routing, auth, documents, start/stop)
//!   ├─> shapes (GeminiDB, DCS, SFS Turbo, ELB v3, CBR, described) ───┐
//!   ├─> iam (token and project endpoints) ─┐                         │
//!   ├─> faults (fault dice, rate window)   │
//!   ├─> timeline (pure: a job's state at t) <┘ <──────────────────────┘
//!   ├─> stats (the /_sim/stats shape)
//!   ├─> verify (the gateway's AK/SK rules, on cloud::signer's computation)
//!   └─> scenario (the data: every section of the file, its validation, ScenarioError)
//! ```
//!
//! `shapes`, `timeline`, `iam` and `faults` use `scenario` (`shapes` also `timeline`); `stats`, `verify` and `scenario` use nothing in
//! `sim`. Nothing below `server` may use it, and `scenario` uses none of the others: new code goes in
//! the lowest layer that has what it needs (a rule about the file goes in `scenario`, a pure
//! function of a job and `t` in `timeline`), so that no two files depend on each other and each
//! layer can be tested without the ones above it. This file only declares and re-exports.

pub mod faults;
mod iam;
pub(crate) mod scenario;
mod server;
mod shapes;
mod stats;
mod timeline;
mod verify;

pub use scenario::{Scenario, ScenarioError};
pub use server::{start, SimHandle};
pub use stats::{JobStats, Stats};
