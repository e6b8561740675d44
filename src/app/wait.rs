//! `jobwait wait` (the default command): layers → plan → the wait → outputs → exit status.

use super::execute::execute;
use super::outputs::{print_result, with_write_errors, write_side_outputs};
use super::RunError;
use crate::cli::WaitArgs;
use crate::environment::Environment;
use crate::exit::ExitStatus;
use crate::report::Report;
use crate::spec::raw::FailOn;
use crate::spec::Plan;

pub(super) async fn run(args: WaitArgs, env: Environment) -> Result<ExitStatus, RunError> {
    if args.dry_run {
        return super::validate::run(args, env);
    }
    let plan = match super::plan(&args, &env, true) {
        Ok((_, plan)) => plan,
        Err(RunError::Usage(problems)) => {
            // On GitHub the outputs and an annotation still say why the step failed.
            let github = crate::report::github::GitHub::from_env(&env);
            for error in github.usage_error(&problems) {
                crate::diagnostics::error(&error);
            }
            return Err(RunError::Usage(problems));
        }
        Err(e) => return Err(e),
    };
    // The plan has all it needs; ten thousand ids from the command line need not stay.
    drop(args);
    // On GitHub, detailed logs fold into a group so the job's log stays readable.
    let group = plan.verbose > 0 && crate::report::github::GitHub::from_env(&env).commands;
    if group {
        eprintln!("::group::jobwait log");
    }
    crate::diagnostics::init_logging(plan.verbose, plan.log_format);
    let report = execute(&plan, &env).await;
    if group {
        eprintln!("::endgroup::");
    }
    let report = report?;
    // The verdict reaches standard output whatever happened to the other outputs.
    let errors = write_side_outputs(&plan, &report, &env);
    print_result(&plan, &report);
    Ok(with_write_errors(final_status(&plan, &report), &errors))
}

/// The report's exit status, unless `fail_on: never` asks for 0 after a completed wait.
pub(super) fn final_status(plan: &Plan, report: &Report) -> ExitStatus {
    match (plan.fail_on, report.exit_status()) {
        (_, s @ (ExitStatus::Interrupted | ExitStatus::Terminated)) => s,
        (FailOn::Never, _) => ExitStatus::Success,
        (FailOn::Any, s) => s,
    }
}
