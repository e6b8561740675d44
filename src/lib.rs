//! jobwait: wait on Huawei Cloud / Open Telekom Cloud / Flexible Engine jobs from a declarative
//! spec, concurrently, and report what happened in forms pipelines can use.
//!
//! [`run`] is the whole program as a short pipeline — load → plan → wait → report → write —
//! and returns the exit status as a value; `main.rs` only parses and exits.

pub mod cli;
pub mod cloud;
pub mod demo;
pub mod diagnostics;
pub mod environment;
pub mod exit;
pub mod lenient;
pub mod progress;
pub mod report;
pub mod sanitize;
pub mod schema;
pub mod secret;
pub mod sim;
pub mod spec;
pub mod terraform;
pub mod verdict;
pub mod wait;

use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use cli::{Cli, Command, WaitArgs};
use environment::Environment;
use exit::ExitStatus;
use exit::Signal;
use report::Report;
use spec::plan::Context;
use spec::{OutputFormat, Plan};

/// Why the program could not do what it was asked.
#[derive(Debug)]
pub enum RunError {
    /// Invalid usage, configuration or spec: one line per problem (exit 2).
    Usage(Vec<String>),
    /// Anything else that stopped the run (exit 3).
    Failed(String),
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
        None => wait(cli.wait, Environment::capture()).await,
        Some(Command::Wait(args)) => wait(args, Environment::capture()).await,
        Some(Command::Validate(args)) => validate(args, Environment::capture()),
        Some(Command::Schema { which }) => {
            println!("{}", schema::schema(which));
            Ok(ExitStatus::Success)
        }
        Some(Command::Simulate { listen, scenario }) => {
            demo::simulate(listen, scenario.as_deref()).await
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

/// Layers → plan; every problem at once.
pub fn plan(
    args: &WaitArgs,
    env: &Environment,
    require_credentials: bool,
) -> Result<Plan, RunError> {
    load_and_plan(args, env, require_credentials).map(|(_, plan)| plan)
}

fn load_and_plan(
    args: &WaitArgs,
    env: &Environment,
    require_credentials: bool,
) -> Result<(spec::load::Loaded, Plan), RunError> {
    let loaded =
        spec::load::load(args.spec.as_deref(), env, args.flag_layer()).map_err(RunError::Usage)?;
    let cx = Context {
        stdout_is_terminal: std::io::stdout().is_terminal(),
        require_credentials,
    };
    let plan = Plan::build(&loaded, env, cx).map_err(RunError::Usage)?;
    Ok((loaded, plan))
}

async fn wait(args: WaitArgs, env: Environment) -> Result<ExitStatus, RunError> {
    if args.dry_run {
        return validate(args, env);
    }
    let plan = plan(&args, &env, true)?;
    // The plan has all it needs; ten thousand ids from the command line need not stay.
    drop(args);
    // On GitHub, detailed logs fold into a group so the job's log stays readable.
    let group = plan.verbose > 0 && report::github::GitHub::from_env(&env).commands;
    if group {
        eprintln!("::group::jobwait log");
    }
    diagnostics::init_logging(plan.verbose, plan.log_format);
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
pub fn final_status(plan: &Plan, report: &Report) -> ExitStatus {
    match (plan.fail_on, report.exit_status()) {
        (_, s @ (ExitStatus::Interrupted | ExitStatus::Terminated)) => s,
        (spec::raw::FailOn::Never, _) => ExitStatus::Success,
        (spec::raw::FailOn::Any, s) => s,
    }
}

fn validate(args: WaitArgs, env: Environment) -> Result<ExitStatus, RunError> {
    let (loaded, plan) = load_and_plan(&args, &env, false)?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`validate | head`) is not an error.
    let _ = stdout
        .write_all(spec::describe::describe_plan(&plan, &loaded).as_bytes())
        .and_then(|()| stdout.flush());
    Ok(ExitStatus::Success)
}

/// The wait itself, shared by `wait`, `terraform` and `demo`: signals, progress, the project
/// lookup, engine, report. Every way it ends — verdicts, the deadline, a signal, a failed lookup
/// — ends in a report with every job of the plan.
pub async fn execute(plan: &Plan, env: &Environment) -> Result<Report, RunError> {
    let credentials = plan
        .credentials
        .clone()
        .ok_or_else(|| RunError::Usage(vec!["no credentials".to_owned()]))?;
    if report::github::GitHub::from_env(env).commands {
        let mut err = std::io::stderr().lock();
        for line in report::github::mask_commands(credentials.secrets().iter().map(|s| s.expose()))
        {
            let _ = writeln!(err, "{line}");
        }
    }
    let known = match &plan.project {
        spec::plan::Project::Id(id) => id.clone(),
        spec::plan::Project::FromRegion(_) => String::new(),
    };
    let options = cloud::client::ClientOptions {
        iam: plan.iam.clone().zip(plan.region.clone()),
        reload_from: cloud::auth::Credentials::from_files(env).then(|| env.clone()),
        max_body: plan.max_response_size,
        tls: plan.uses_https(),
    };
    let mut client =
        cloud::client::Client::new(credentials, known, options).map_err(RunError::Failed)?;
    let (signal_tx, interrupts) = watch::channel(None);
    let signals = tokio::spawn(forward_signals(signal_tx));
    let (events_tx, progress) = if plan.quiet {
        (None, None)
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        let mode = if std::io::stderr().is_terminal() {
            progress::Mode::Live
        } else {
            progress::Mode::Lines {
                interval: plan.progress_interval,
            }
        };
        (
            Some(tx),
            Some(tokio::spawn(progress::print(plan.jobs.clone(), rx, mode))),
        )
    };
    let started = SystemTime::now();
    let t0 = Instant::now();
    let found = match (&plan.project, &plan.iam) {
        (spec::plan::Project::FromRegion(region), Some(iam)) => {
            find_project(plan, &client, iam, region, t0, interrupts.clone()).await
        }
        _ => Ok(None),
    };
    let outcome = match found {
        Ok(project) => {
            if let Some(id) = project {
                client.set_project_id(id);
            }
            wait::wait_all_from(plan, client, t0, interrupts.clone(), events_tx).await
        }
        Err((outcome, reason)) => {
            let reason = sanitize::cap(reason, sanitize::MAX_TEXT);
            if let Some(events) = &events_tx {
                for index in 0..plan.jobs.len() {
                    let _ = events.send(wait::Event::Finished {
                        index,
                        outcome,
                        reason: reason.clone(),
                    });
                }
            }
            // (The progress printer ends when its sender is gone.)
            drop(events_tx);
            let results = plan
                .jobs
                .iter()
                .map(|_| wait::JobResult::unpolled(outcome, reason.clone(), t0.elapsed()))
                .collect();
            let end = match *interrupts.borrow() {
                Some(sig) => wait::End::Interrupted(sig),
                None => wait::End::Completed,
            };
            wait::RunOutcome { results, end }
        }
    };
    let elapsed = t0.elapsed();
    // From here on a signal is not acted on: only the report and the outputs are left to
    // write, which takes moments (a second signal still ends the process at once).
    signals.abort();
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    let signal = outcome.signal();
    Ok(Report::new(
        outcome.into_reports(plan),
        started,
        elapsed,
        signal,
    ))
}

/// The project id of the project named `region`, from IAM, under the same rules as a poll:
/// retryable errors are retried on the poll back-off (honouring `Retry-After`), the overall
/// deadline bounds it, and a signal stops it. `Err` is every job's outcome and reason.
async fn find_project(
    plan: &Plan,
    client: &cloud::client::Client,
    iam: &url::Url,
    region: &str,
    start: Instant,
    mut interrupts: watch::Receiver<Option<Signal>>,
) -> Result<Option<String>, (wait::Outcome, String)> {
    use cloud::client::ErrorClass;
    let deadline = start + plan.timeout;
    let mut backoff = wait::backoff::Backoff::new(plan.poll, fastrand::u64(..));
    let mut last_error = None;
    loop {
        let timeout = plan
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let attempt = tokio::select! {
            biased;
            _ = interrupts.wait_for(Option::is_some) => None,
            () = tokio::time::sleep_until(deadline) => Some(None),
            found = client.discover_project(iam, region, timeout) => Some(Some(found)),
        };
        let failed = match attempt {
            None => {
                let reason = interrupts
                    .borrow()
                    .map(wait::cancelled_by)
                    .unwrap_or_default();
                return Err((wait::Outcome::Cancelled, reason));
            }
            Some(None) => None,
            Some(Some(Ok(id))) => {
                tracing::info!(project_id = %sanitize::Clean(&id), region = %region, "project found in IAM");
                return Ok(Some(id));
            }
            Some(Some(Err(e))) => Some(e),
        };
        let waited =
            humantime::format_duration(std::time::Duration::from_secs(start.elapsed().as_secs()));
        let place = format!(
            "project discovery from IAM ({})",
            cloud::endpoint::redacted(iam)
        );
        let Some(err) = failed else {
            let last = last_error.map_or_else(String::new, |e| format!(" (last error: {e})"));
            return Err((
                wait::Outcome::Errored,
                format!("no verdict after {waited}: {place} did not finish{last}"),
            ));
        };
        match err.class() {
            ErrorClass::Retryable | ErrorClass::Throttled => {
                tracing::warn!(error = %sanitize::Clean(&err.to_string()), "{place} failed; trying again");
                let delay = backoff.next().unwrap_or(plan.poll.max_interval);
                let delay = err.retry_after().map_or(delay, |r| r.max(delay));
                last_error = Some(err);
                let wake = Instant::now()
                    .checked_add(delay)
                    .unwrap_or(deadline)
                    .min(deadline);
                tokio::select! {
                    biased;
                    _ = interrupts.wait_for(Option::is_some) => {}
                    () = tokio::time::sleep_until(wake) => {}
                }
            }
            ErrorClass::NotFound | ErrorClass::CredentialsRejected | ErrorClass::Fatal => {
                return Err((wait::Outcome::Errored, format!("{place}: {err}")));
            }
        }
    }
}

/// Everything but standard output: the `--report` file, GitHub's files and annotations, the
/// Kubernetes termination message. Each is attempted whatever happened to the others — a full
/// disk under the report must not cost a pipeline its outputs — and each that could not be
/// written is one message in the returned list (see [`with_write_errors`]).
///
/// A SIGTERM that arrives now is not acted on: the signal task ended with the wait, and tokio's
/// handler stays installed, so the signal is swallowed. That is acceptable because these writes
/// (and printing the result) are short; the process exits right after them.
pub fn write_side_outputs(plan: &Plan, report: &Report, env: &Environment) -> Vec<String> {
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
    errors.extend(report::github::GitHub::from_env(env).write(report, written));
    if let Err(e) = report::k8s::write(report, env) {
        errors.push(e);
    }
    errors
}

/// The exit status once the outputs are written: `status`, or — when an output could not be
/// written — 3 by the contract's precedence (a failed job still exits 1, a signal 130/143, a
/// timeout becomes 3; `fail_on: never` does not hide it). Each error is one line on standard
/// error.
pub fn with_write_errors(status: ExitStatus, errors: &[String]) -> ExitStatus {
    for error in errors {
        diagnostics::error(error);
    }
    if errors.is_empty() {
        status
    } else {
        status.worst(ExitStatus::Error)
    }
}

/// Standard output: the report document or the text table.
pub fn print_result(plan: &Plan, report: &Report) {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match plan.output {
        OutputFormat::Json => report.write_json_pretty(&mut stdout),
        OutputFormat::Text => stdout.write_all(report::text::render(report).as_bytes()),
    };
    // A closed pipe (`| head`) is not worth failing the run over.
    let _ = written.and_then(|()| stdout.flush());
}

/// SIGINT / SIGTERM stop the wait; a second signal ends the process at once.
async fn forward_signals(interrupts: watch::Sender<Option<Signal>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!(
            "cannot listen for signals; SIGINT/SIGTERM will end the process without a report"
        );
        return;
    };
    let mut received = 0;
    loop {
        let sig = tokio::select! {
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        };
        received += 1;
        if received > 1 {
            let code = ExitStatus::decide(&report::Summary::default(), Some(sig)).code();
            std::process::exit(code);
        }
        tracing::warn!(
            "{} received: stopping the wait and writing the report",
            sig.name()
        );
        interrupts.send_replace(Some(sig));
    }
}
