//! Writing the outputs after a wait: standard output (the report or the table) and everything
//! else (the `--report` file, GitHub's files and annotations, the termination message), each
//! attempted whatever happened to the others.

use std::io::Write;

use crate::environment::Environment;
use crate::exit::ExitStatus;
use crate::report::{self, Report};
use crate::spec::{OutputFormat, Plan};

/// Everything but standard output: the `--report` file, GitHub's files and annotations, the
/// Kubernetes termination message. Each is attempted whatever happened to the others — a full
/// disk under the report must not cost a pipeline its outputs — and each that could not be
/// written is one message in the returned list (see [`with_write_errors`]).
///
/// A SIGTERM that arrives now is not acted on: the signal task ended with the wait, and tokio's
/// handler stays installed, so the signal is swallowed. That is acceptable because these writes
/// (and printing the result) are short; the process exits right after them.
pub(super) fn write_side_outputs(plan: &Plan, report: &Report, env: &Environment) -> Vec<String> {
    let mut errors = Vec::new();
    let mut written = None;
    if let Some(path) = &plan.report_path {
        match report::write::write_file(path, |w| report.write_json_pretty(w)) {
            // A FIFO or `/dev/stdout` cannot be read back: GitHub's report_file gets its own.
            Ok(()) if path.is_file() => written = Some(path.as_path()),
            Ok(()) => {}
            Err(e) => errors.push(format!(
                "cannot write the report to {}: {e}",
                path.display()
            )),
        }
    }
    // Under `fail_on: never` the step succeeds whatever the jobs did: warnings, not errors.
    let severity = match plan.fail_on {
        crate::spec::raw::FailOn::Never => report::github::Severity::Warning,
        crate::spec::raw::FailOn::Any => report::github::Severity::Error,
    };
    errors.extend(report::github::GitHub::from_env(env).write(report, written, severity));
    if let Err(e) = report::k8s::write(report, env) {
        errors.push(e);
    }
    errors
}

/// The exit status once the outputs are written: `status`, or — when an output could not be
/// written — 3 by the contract's precedence (a failed job still exits 1, a signal 130/143, a
/// timeout becomes 3; `fail_on: never` does not hide it). Each error is one line on standard
/// error.
pub(super) fn with_write_errors(status: ExitStatus, errors: &[String]) -> ExitStatus {
    for error in errors {
        crate::diagnostics::error(error);
    }
    if errors.is_empty() {
        status
    } else {
        status.worst(ExitStatus::Error)
    }
}

/// Standard output: the report document or the text table.
pub(super) fn print_result(plan: &Plan, report: &Report) {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match plan.output {
        OutputFormat::Json => report.write_json_pretty(&mut stdout),
        OutputFormat::Text => stdout.write_all(report::text::render(report).as_bytes()),
    };
    // A closed pipe (`| head`) is not worth failing the run over.
    let _ = written.and_then(|()| stdout.flush());
}
