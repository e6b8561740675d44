//! The declarative spec: the raw model users write ([`raw`]), the layering that merges file,
//! environment and flags ([`load`]) over the variables of other tools ([`sources`]), and the
//! validated [`plan::Plan`] that everything after it runs on. No request is made before a
//! `Plan` exists.

pub mod clouds;
pub mod depth;
pub mod describe;
pub mod file;
pub mod load;
pub mod plan;
pub mod problem;
pub mod raw;
pub mod sources;

pub use plan::{Plan, PlannedJob, PollPolicy};
pub use problem::Problem;
pub use raw::OutputFormat;

#[cfg(test)]
mod tests;
