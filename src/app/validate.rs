//! `jobwait validate` and `wait --dry-run`: the plan in words, no network.

use std::io::Write;

use super::RunError;
use crate::cli::WaitArgs;
use crate::environment::Environment;
use crate::exit::ExitStatus;

pub(super) fn run(args: WaitArgs, env: Environment) -> Result<ExitStatus, RunError> {
    let (loaded, plan) = super::plan(&args, &env, false)?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    // A closed pipe (`validate | head`) is not an error.
    let _ = crate::spec::describe::write_plan(&plan, &loaded, &mut stdout)
        .and_then(|()| stdout.flush());
    Ok(ExitStatus::Success)
}
