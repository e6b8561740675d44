//! The wait itself, shared by `wait`, `terraform` and `demo`.

use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::discovery::find_project;
use super::signals::forward_signals;
use super::RunError;
use crate::environment::Environment;
use crate::report::Report;
use crate::spec::Plan;
use crate::{cloud, progress, report, sanitize, spec, wait};

/// The wait itself, shared by `wait`, `terraform` and `demo`: signals, progress, the project
/// lookup, engine, report. Every way it ends — verdicts, the deadline, a signal, a failed lookup
/// — ends in a report with every job of the plan.
pub(super) async fn execute(plan: &Plan, env: &Environment) -> Result<Report, RunError> {
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
    // A password token is scoped by the project id when it is known, else by the name the id
    // is looked up by.
    let (known, scope) = match &plan.project {
        spec::plan::Project::Id(id) => (id.clone(), cloud::client::Scope::ProjectId(id.clone())),
        spec::plan::Project::Named { name, .. } => (
            String::new(),
            cloud::client::Scope::ProjectName(name.clone()),
        ),
    };
    let options = cloud::client::ClientOptions {
        iam: plan.iam.clone().map(|iam| (iam, scope)),
        // Credentials from a clouds.yaml are not replaced by the environment's after a rejection.
        reload_from: (plan.credentials_from_env && cloud::auth::Credentials::from_files(env))
            .then(|| env.clone()),
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
        let mode = progress::Mode::choose(
            std::io::stderr().is_terminal(),
            env,
            plan.log_format,
            plan.progress_interval,
        );
        (
            Some(tx),
            Some(tokio::spawn(progress::print(
                progress::Board::new(&plan.jobs),
                rx,
                mode,
            ))),
        )
    };
    let started = SystemTime::now();
    let t0 = Instant::now();
    let found = match (&plan.project, &plan.iam) {
        (spec::plan::Project::Named { name, .. }, Some(iam)) => {
            find_project(plan, &client, iam, name, t0, interrupts.clone()).await
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
                .map(|job| {
                    wait::JobResult::unpolled(outcome, reason.clone(), t0.elapsed())
                        .into_report(job)
                })
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
    Ok(Report::new(outcome.results, started, elapsed, signal))
}
