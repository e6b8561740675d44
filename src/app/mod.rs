//! The application layer: what each command does, from the parsed command line to the exit
//! status. One file per command (`wait`, `validate`, `terraform`, `demo`, `simulate`), plus the
//! steps they share: the wait itself (`execute`: signals, progress, the project lookup, the
//! engine, the report), the project lookup (`discovery`), signal forwarding (`signals`) and
//! writing the outputs (`outputs`).
//!
//! This is the top of the house: it uses every other module and none uses it (only `main.rs`).
//! The library below it — spec, cloud, engine, verdict, report — never calls back up here.

mod demo;
mod discovery;
mod execute;
mod outputs;
mod signals;
mod simulate;
mod terraform;
mod validate;
mod wait;

use std::io::IsTerminal;

use crate::cli::{Cli, Command, WaitArgs};
use crate::environment::Environment;
use crate::exit::ExitStatus;
use crate::spec::plan::Context;
use crate::spec::{self, OutputFormat, Plan, Problem};

/// Why the program could not do what it was asked.
#[derive(Debug)]
pub enum RunError {
    /// Invalid usage, configuration or spec: one line per problem (exit 2).
    Usage(Vec<String>),
    /// Anything else that stopped the run (exit 3).
    Failed(String),
}

/// The spec's problems, as the lines users see (each shown through its `Display`).
impl From<Vec<Problem>> for RunError {
    fn from(problems: Vec<Problem>) -> Self {
        RunError::Usage(problems.iter().map(ToString::to_string).collect())
    }
}

/// Runs one command line on a runtime made for it, to its exit status.
///
/// Waiting runs on the calling thread alone: the engine is one driver future, and a second
/// thread would only add wake-ups and hand-offs between threads to every poll. The simulator
/// serves many clients at once, so `simulate` gets a worker per core.
pub fn run_on_runtime(cli: Cli) -> Result<ExitStatus, RunError> {
    let mut builder = match cli.command {
        Some(Command::Simulate { .. }) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| RunError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run(cli))
}

/// Runs one command line to its exit status.
pub async fn run(cli: Cli) -> Result<ExitStatus, RunError> {
    match cli.command {
        None => {
            let env = Environment::capture();
            if is_bare(&cli.wait, &env) {
                let mut cmd = <Cli as clap::CommandFactory>::command();
                eprint!("{}", cmd.render_help());
                return Ok(ExitStatus::Usage);
            }
            wait::run(cli.wait, env).await
        }
        Some(Command::Wait(args)) => wait::run(args, Environment::capture()).await,
        Some(Command::Validate(args)) => validate::run(args, Environment::capture()),
        Some(Command::Schema { which }) => {
            // The committed file as it is, final newline included.
            print!(
                "{}",
                match which {
                    crate::cli::SchemaKind::Spec => crate::schema::SPEC,
                    crate::cli::SchemaKind::Report => crate::schema::REPORT,
                }
            );
            Ok(ExitStatus::Success)
        }
        Some(Command::Simulate { listen, scenario }) => {
            simulate::run(listen, scenario.as_deref()).await
        }
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "jobwait", &mut std::io::stdout());
            Ok(ExitStatus::Success)
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(RunError::Failed(format!("cannot write the man page: {e}")))
                }
                _ => {}
            }
            Ok(ExitStatus::Success)
        }
        Some(Command::Terraform) => terraform::run(Environment::capture()).await,
        Some(Command::Demo { output, quiet }) => {
            demo::run(output.unwrap_or(OutputFormat::Text), quiet).await
        }
    }
}

/// A bare `jobwait`: no option, no job, and neither `JOBWAIT_JOBS` nor `JOBWAIT_SPEC`. Nothing
/// says what to wait on, so the usage helps more than the spec's problems would.
fn is_bare(args: &WaitArgs, env: &Environment) -> bool {
    args.is_empty() && env.get("JOBWAIT_JOBS").is_none() && env.get("JOBWAIT_SPEC").is_none()
}

/// Layers → plan, every problem at once; the loaded layers too (`validate` names where each
/// value came from).
fn plan(
    args: &WaitArgs,
    env: &Environment,
    require_credentials: bool,
) -> Result<(spec::load::Loaded, Plan), RunError> {
    let mut loaded = spec::load::load(
        args.spec.as_deref(),
        args.os_cloud.as_deref(),
        env,
        args.flag_layer(),
    )?;
    let cx = Context {
        stdout_is_terminal: std::io::stdout().is_terminal(),
        require_credentials,
    };
    let plan = Plan::build(&loaded, env, cx)?;
    // The plan holds the jobs now: the raw list (a hundred thousand entries, for a big spec)
    // need not stay beside it while `validate` writes.
    loaded.raw.jobs = None;
    // Before anything else is printed: a probable typo explains what may follow.
    for warning in &plan.warnings {
        crate::diagnostics::warning(&warning.to_string());
    }
    Ok((loaded, plan))
}
