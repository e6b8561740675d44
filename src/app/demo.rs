//! `jobwait demo` and `jobwait simulate`: the simulator with the embedded demo scenario, and a
//! real wait on it through the same path a cloud wait takes (spec layering, plan, AK/SK
//! signing, HTTP, engine, report). The demo checks its own outcome against what the scenario
//! scripts, so it is also a smoke test of the whole program on a fresh machine.

use std::net::SocketAddr;

use figment::providers::Format;
use figment::Figment;

use super::execute::execute;
use super::outputs::print_result;
use super::RunError;
use crate::environment::Environment;
use crate::exit::ExitStatus;
use crate::sim::scenario::Auth;
use crate::sim::Scenario;
use crate::spec::load::{load_from, TopKind, TopLayer};
use crate::spec::plan::Context;
use crate::spec::{OutputFormat, Plan};
use crate::wait::Outcome;

/// The simulated cloud of the demo.
pub(super) const SCENARIO: &str = include_str!("../demo/scenario.yaml");
/// The spec a user would write for it.
pub(super) const SPEC: &str = include_str!("../demo/spec.yaml");
/// What the scenario scripts for each job of the spec, in order.
const EXPECTED: [Outcome; 5] = [
    Outcome::Succeeded,
    Outcome::Succeeded,
    Outcome::Succeeded,
    Outcome::Failed,
    Outcome::Succeeded,
];

pub(super) async fn run(output: OutputFormat, quiet: bool) -> Result<ExitStatus, RunError> {
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
    let mut top = TopLayer::new(TopKind::Flags);
    top.set("endpoint", sim.base_url()).set(
        "output",
        if output == OutputFormat::Json {
            "json"
        } else {
            "text"
        },
    );
    if quiet {
        top.set("quiet", true);
    }
    let base = Figment::new().merge(crate::spec::file::Yaml::string(SPEC));
    let loaded = load_from(base, &env, top)?;
    let cx = Context {
        stdout_is_terminal: true,
        require_credentials: true,
    };
    let plan = Plan::build(&loaded, &env, cx)?;
    if !quiet {
        eprintln!(
            "jobwait demo: a simulated cloud on {} with {} jobs; waiting on them with AK/SK-signed requests\n",
            sim.base_url(),
            plan.jobs.len()
        );
    }
    let report = execute(&plan, &env).await?;
    sim.shutdown().await;
    print_result(&plan, &report);
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

fn random_key(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}
