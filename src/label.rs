//! How a job is named in messages: `name (service:id)`, or `service:id` for a job without a name.
//!
//! The plan (`PlannedJob::label`, for progress, logs and `validate`) and the report
//! (`JobReport::label`, for the text outputs) name the same job and must agree, so the format lives
//! here once. This module depends on nothing in the crate, so both can use it without an import
//! cycle. The label is not sanitised: a name and an id come from a spec or a command line, and
//! each text output passes the label through [`crate::sanitize`] itself.

use std::fmt::Display;

/// `name (service:id)`, or `service:id` when `name` is None.
pub fn job_label(name: Option<&str>, service: impl Display, id: &str) -> String {
    match name {
        Some(name) => format!("{name} ({service}:{id})"),
        None => format!("{service}:{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_a_name() {
        assert_eq!(job_label(Some("web"), "ecs", "j1"), "web (ecs:j1)");
        assert_eq!(job_label(None, "evs", "j2"), "evs:j2");
    }
}
