//! jobwait: wait on Huawei Cloud / Open Telekom Cloud / Flexible Engine jobs from a declarative
//! spec, concurrently, and report what happened in forms pipelines can use.
//!
//! [`app`] runs one command line to its exit status; everything below it is a library it
//! composes. ARCHITECTURE.md draws the map.

pub mod app;
pub mod cli;
pub mod cloud;
pub mod diagnostics;
pub mod environment;
pub mod exit;
pub mod label;
pub mod lenient;
pub mod progress;
pub mod report;
pub mod sanitize;
pub mod schema;
pub mod secret;
pub mod sim;
pub mod spec;
pub mod verdict;
pub mod wait;
