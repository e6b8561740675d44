//! The `jobwait` binary: parse, run, exit. Everything else is in the library.

use clap::Parser;

fn main() {
    let cli = jobwait::cli::Cli::parse();
    let runtime = match jobwait::runtime_for(&cli) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("jobwait: error: cannot start the async runtime: {e}");
            std::process::exit(jobwait::exit::ExitStatus::Error.code());
        }
    };
    let code = match runtime.block_on(jobwait::run(cli)) {
        Ok(status) => status.code(),
        Err(jobwait::RunError::Usage(problems)) => {
            for problem in problems {
                eprintln!("jobwait: {}", jobwait::diagnostics::one_line(&problem));
            }
            jobwait::exit::ExitStatus::Usage.code()
        }
        Err(jobwait::RunError::Failed(message)) => {
            eprintln!(
                "jobwait: error: {}",
                jobwait::diagnostics::one_line(&message)
            );
            jobwait::exit::ExitStatus::Error.code()
        }
    };
    std::process::exit(code);
}
