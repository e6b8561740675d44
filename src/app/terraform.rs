//! `jobwait terraform`: the Terraform external data source protocol. The query — a JSON object
//! of strings on standard input, keys as in the spec (nested keys joined by `__`, `jobs` as in
//! `JOBWAIT_JOBS`) — is the spec's last layer; the flat map of strings goes to standard output.
//! On a wait that did not succeed the program exits non-zero with the reason on standard error,
//! which Terraform shows as the data source's error, unless the query says `"fail_on": "never"`.

use std::io::Read;

use super::execute::execute;
use super::outputs::{with_write_errors, write_side_outputs};
use super::RunError;
use crate::environment::Environment;
use crate::exit::ExitStatus;
use crate::report::{flat, k8s};
use crate::spec::load::{load, TopKind, TopLayer};
use crate::spec::raw::FailOn;

/// Reads the query, waits, prints the flat map.
pub(super) async fn run(env: Environment) -> Result<ExitStatus, RunError> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).map_err(|e| {
        RunError::Usage(vec![format!(
            "terraform query: cannot read standard input: {e}"
        )])
    })?;
    let mut query = parse_query(&input).map_err(|e| RunError::Usage(vec![e]))?;
    let spec = query
        .take("spec")
        .and_then(|v| v.as_str().map(std::path::PathBuf::from));
    // Terraform shows standard error only on failure: no progress by default.
    query.set_default("quiet", "true");
    let loaded = load(spec.as_deref(), None, &env, query)?;
    let plan = crate::spec::Plan::build(
        &loaded,
        &env,
        crate::spec::plan::Context {
            stdout_is_terminal: false,
            require_credentials: true,
        },
    )?;
    let report = execute(&plan, &env).await?;
    let errors = write_side_outputs(&plan, &report, &env);
    let flat = flat::flat(&report, flat::Limits::NONE);
    for left in &flat.left_out {
        crate::diagnostics::warning(&left.message());
    }
    println!(
        "{}",
        serde_json::to_string(&flat.map).expect("strings serialize")
    );
    let mut status = report.exit_status();
    if status == ExitStatus::Success || plan.fail_on == FailOn::Never {
        status = ExitStatus::Success;
    } else {
        eprint!("{}", k8s::message(&report));
    }
    Ok(with_write_errors(status, &errors))
}

/// The query: an object whose values are all strings (the provider's rule). `a__b` keys nest.
fn parse_query(input: &str) -> Result<TopLayer, String> {
    let value: serde_json::Value = serde_json::from_str(input)
        .map_err(|e| format!("terraform query: not a JSON object: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "terraform query: not a JSON object".to_owned())?;
    let mut layer = TopLayer::new(TopKind::TerraformQuery);
    for (key, value) in object {
        let text = value
            .as_str()
            .ok_or_else(|| format!("terraform query: key `{key}` must be a string (the external data source passes strings only)"))?;
        if text.is_empty() {
            continue; // as with environment variables: empty means unset
        }
        layer.set_path(key.split("__"), text);
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keys_nest_and_empty_values_are_unset() {
        let layer =
            parse_query(r#"{"jobs":"ecs:a,ecs:b","poll__interval":"2s","region":""}"#).unwrap();
        assert!(layer.get("jobs").is_some());
        assert!(layer.get("region").is_none());
        assert_eq!(
            layer.get("poll.interval").and_then(|v| v.as_str()),
            Some("2s")
        );
    }

    #[test]
    fn non_string_values_and_non_objects_are_errors() {
        assert!(parse_query(r#"{"rate_limit": 5}"#)
            .unwrap_err()
            .contains("`rate_limit` must be a string"));
        assert!(parse_query("[]").is_err());
        assert!(parse_query("").is_err());
    }
}
