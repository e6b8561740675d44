//! `jobwait demo` and `jobwait simulate`: the simulator with the embedded demo scenario, and a
//! real wait on it through the same path a cloud wait takes (spec layering, plan, AK/SK
//! signing, HTTP, engine, report). The demo checks its own outcome against what the scenario
//! scripts, so it is also a smoke test of the whole program on a fresh machine.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Format, Yaml};
use figment::value::Value;
use figment::Figment;

use crate::environment::Environment;
use crate::exit::ExitStatus;
use crate::sim::scenario::Auth;
use crate::sim::Scenario;
use crate::spec::load::{insert, load_from, TopKind, TopLayer};
use crate::spec::plan::Context;
use crate::spec::{OutputFormat, Plan};
use crate::wait::Outcome;
use crate::RunError;

/// The simulated cloud of the demo.
pub const SCENARIO: &str = include_str!("scenario.yaml");
/// The spec a user would write for it.
pub const SPEC: &str = include_str!("spec.yaml");
/// What the scenario scripts for each job of the spec, in order.
const EXPECTED: [Outcome; 4] = [
    Outcome::Succeeded,
    Outcome::Succeeded,
    Outcome::Succeeded,
    Outcome::Failed,
];

pub async fn run(output: OutputFormat, quiet: bool) -> Result<ExitStatus, RunError> {
    let ak = random_key(20);
    let sk = random_key(40);
    let mut scenario = Scenario::from_yaml(SCENARIO)
        .map_err(|e| RunError::Failed(format!("demo scenario: {e}")))?;
    scenario.auth = Some(Auth {
        token: None,
        aksk: Some((ak.clone(), crate::secret::Secret::new(sk.clone()))),
    });
    let sim = crate::sim::start(scenario, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| RunError::Failed(format!("cannot start the simulator: {e}")))?;
    let env = Environment::from_pairs([("HUAWEICLOUD_SDK_AK", ak), ("HUAWEICLOUD_SDK_SK", sk)]);
    let mut flags = figment::value::Dict::new();
    let mut set = |k: &str, v: &str| insert(&mut flags, &[k.to_owned()], Value::from(v.to_owned()));
    set("endpoint", &sim.base_url());
    set(
        "output",
        if output == OutputFormat::Json {
            "json"
        } else {
            "text"
        },
    );
    if quiet {
        flags.insert("quiet".into(), Value::from(true));
    }
    let base = Figment::new().merge(Yaml::string(SPEC));
    let top = TopLayer {
        dict: flags,
        kind: TopKind::Flags,
    };
    let loaded = load_from(base, None, &env, top).map_err(RunError::Usage)?;
    let cx = Context {
        stdout_is_terminal: true,
        require_credentials: true,
    };
    let plan = Plan::build(&loaded, &env, cx).map_err(RunError::Usage)?;
    if !quiet {
        eprintln!(
            "jobwait demo: a simulated cloud on {} with {} jobs; waiting on them with AK/SK-signed requests\n",
            sim.base_url(),
            plan.jobs.len()
        );
    }
    let report = crate::execute(&plan, &env).await?;
    sim.shutdown().await;
    crate::print_result(&plan, &report);
    let outcomes: Vec<Outcome> = report.jobs.iter().map(|j| j.outcome).collect();
    if report.exit_status() != ExitStatus::Failure || outcomes != EXPECTED {
        // Interrupted, or something really went wrong: the demo's exit code is the wait's.
        eprintln!("\njobwait demo: the wait did not end as the scenario scripts ({outcomes:?})");
        return Ok(match report.exit_status() {
            ExitStatus::Success => ExitStatus::Failure,
            other => other,
        });
    }
    if !quiet {
        eprintln!(
            "\njobwait demo: every job ended as scripted. In a pipeline this wait exits {} because \
             golden-image failed; `workers` succeeded with 2 of 3 servers under `at_least: 2`.",
            report.exit_code
        );
    }
    Ok(ExitStatus::Success)
}

/// `jobwait simulate`: serve a scenario until SIGINT/SIGTERM. The base URL goes to standard
/// output (one line, for scripts); everything else to standard error.
pub async fn simulate(listen: SocketAddr, scenario: Option<&Path>) -> Result<ExitStatus, RunError> {
    let scenario = match scenario {
        Some(path) => {
            Scenario::from_file(path).map_err(|e| RunError::Usage(vec![e.to_string()]))?
        }
        None => Scenario::from_yaml(SCENARIO).map_err(|e| RunError::Failed(e.to_string()))?,
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

fn random_key(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}
