//! The GitHub side of a wait without act: what the runner's files and workflow commands get
//! when the configuration is unusable (exit 2), when `fail_on: never` lets the step succeed, and
//! when many jobs fail at once.

use crate::support::*;

/// The runner's environment for one step, with its output file in `dir`.
fn runner_env(dir: &std::path::Path) -> (std::path::PathBuf, Vec<(&'static str, String)>) {
    let output = dir.join("github_output");
    std::fs::write(&output, "").unwrap();
    let env = vec![
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_OUTPUT", s(&output).to_owned()),
        ("RUNNER_TEMP", s(dir).to_owned()),
    ];
    (output, env)
}

fn with<'a>(
    env: &'a [(&'static str, String)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(more.iter().copied())
        .collect()
}

#[tokio::test]
async fn an_unusable_configuration_still_sets_result_and_an_error_annotation() {
    let dir = tempfile::tempdir().unwrap();
    let (output, env) = runner_env(dir.path());
    let out = run(
        &[
            "wait",
            "ecs:j1",
            "--timeout",
            "soon",
            "--project-id",
            PROJECT,
            "--endpoint",
            "http://127.0.0.1:1",
        ],
        &with(&env, &aksk_env()),
    )
    .await;
    assert_usage_error(&out, &["timeout"]);
    let outputs =
        jobwait::report::github::parse_runner_outputs(&std::fs::read_to_string(&output).unwrap())
            .unwrap();
    assert_eq!(outputs["result"], "error");
    assert_eq!(outputs["exit_code"], "2");
    let annotation = out
        .stderr
        .lines()
        .find(|l| l.starts_with("::error title=jobwait%3A invalid configuration::"))
        .unwrap_or_else(|| panic!("no annotation:\n{}", out.stderr));
    assert!(annotation.contains("timeout"), "{annotation}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_never_annotates_with_warnings() {
    let sim = sim_with_auth("  - { id: bad, status: FAIL, error_code: Ecs.0013 }\n").await;
    let dir = tempfile::tempdir().unwrap();
    let (output, env) = runner_env(dir.path());
    let out = run(
        &wait_args(&sim.base_url(), &["bad"], "20s", &["-q"]),
        &with(
            &env,
            &[aksk_env()[0], aksk_env()[1], ("JOBWAIT_FAIL_ON", "never")],
        ),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("::warning title=jobwait%3A ecs%3Abad failed::"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("::error"), "{}", out.stderr);
    let outputs =
        jobwait::report::github::parse_runner_outputs(&std::fs::read_to_string(&output).unwrap())
            .unwrap();
    assert_eq!(outputs["result"], "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_ten_failed_jobs_one_annotation_sums_them_up() {
    let jobs: String = (0..12)
        .map(|i| format!("  - {{ id: f{i}, status: FAIL }}\n"))
        .collect();
    let sim = sim_with_auth(&jobs).await;
    let ids: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let (_, env) = runner_env(dir.path());
    let out = run(
        &wait_args(&sim.base_url(), &ids, "20s", &["-q"]),
        &with(&env, &aksk_env()),
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let annotations: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(annotations.len(), 1, "{annotations:#?}");
    assert!(
        annotations[0].starts_with("::error title=jobwait%3A 12 of 12 jobs did not succeed::"),
        "{}",
        annotations[0]
    );
}

#[tokio::test]
async fn variables_an_earlier_action_set_are_not_taken_for_spec_keys() {
    // Earlier action versions set JOBWAIT_ACTION_* for themselves; a newer binary they run
    // (the `binary` input) must not refuse them as unknown spec keys.
    let out = run(
        &[
            "validate",
            "ecs:j1",
            "--project-id",
            PROJECT,
            "--endpoint",
            "http://127.0.0.1:1",
        ],
        &[
            ("JOBWAIT_TOKEN", TOKEN),
            ("JOBWAIT_ACTION_BIN", "/opt/jobwait"),
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}
