//! The `jobwait` binary: parse, run, exit. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use jobwait::app::{run_on_runtime, RunError};
use jobwait::exit::ExitStatus;

fn main() -> ExitCode {
    let cli = jobwait::cli::Cli::parse();
    let status = match run_on_runtime(cli) {
        Ok(status) => status,
        Err(RunError::Usage(problems)) => {
            for problem in problems {
                eprintln!("jobwait: {}", jobwait::diagnostics::one_line(&problem));
            }
            ExitStatus::Usage
        }
        Err(RunError::Failed(message)) => {
            jobwait::diagnostics::error(&message);
            ExitStatus::Error
        }
    };
    status.into()
}
