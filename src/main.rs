//! The `jobwait` binary: parse, run, exit. Everything else is in the library.

use clap::Parser;

fn main() {
    let cli = jobwait::cli::Cli::parse();
    let code = match jobwait::run_on_runtime(cli) {
        Ok(status) => status.code(),
        Err(jobwait::RunError::Usage(problems)) => {
            for problem in problems {
                eprintln!("jobwait: {}", jobwait::diagnostics::one_line(&problem));
            }
            jobwait::exit::ExitStatus::Usage.code()
        }
        Err(jobwait::RunError::Failed(message)) => {
            jobwait::diagnostics::error(&message);
            jobwait::exit::ExitStatus::Error.code()
        }
    };
    std::process::exit(code);
}
