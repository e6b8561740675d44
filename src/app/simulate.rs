//! `jobwait simulate`: serve a scenario (the demo's by default) until SIGINT/SIGTERM, for
//! pipelines' own tests.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use super::RunError;
use crate::exit::ExitStatus;
use crate::sim::Scenario;

/// `jobwait simulate`: serve a scenario until SIGINT/SIGTERM. The base URL goes to standard
/// output (one line, for scripts); everything else to standard error.
pub(super) async fn run(
    listen: SocketAddr,
    scenario: Option<&Path>,
) -> Result<ExitStatus, RunError> {
    let scenario = match scenario {
        Some(path) => {
            Scenario::from_file(path).map_err(|e| RunError::Usage(vec![e.to_string()]))?
        }
        None => Scenario::from_yaml(super::demo::SCENARIO)
            .map_err(|e| RunError::Failed(e.to_string()))?,
    };
    let jobs = scenario.jobs.len();
    let sim = crate::sim::start(scenario, listen)
        .await
        .map_err(|e| RunError::Usage(vec![format!("cannot listen on {listen}: {e}")]))?;
    println!("{}", sim.base_url());
    let _ = std::io::stdout().flush();
    eprintln!(
        "jobwait simulate: serving {jobs} jobs on {}; stop with Ctrl-C",
        sim.base_url()
    );
    shutdown_signal().await;
    sim.shutdown().await;
    Ok(ExitStatus::Success)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
