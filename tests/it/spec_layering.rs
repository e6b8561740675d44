//! Spec layering through the binary, observed with `jobwait validate` (the plan, no network):
//! defaults < spec file < `JOBWAIT_*` environment < flags; YAML, TOML and JSON files;
//! `JOBWAIT_JOBS` as a list; empty variables count as unset.

use crate::support::{aksk_env, bin, run, s, write_file, Output, AK, SK};

const ENDPOINT: &str = "http://jobs.example:8443";

const SPEC_YAML: &str = r#"
timeout: 90s
project_id: fileproj
endpoint: "http://jobs.example:8443"
jobs:
  - { id: j1, service: evs, name: data }
  - "ims:j2"
  - j3
"#;

async fn validate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["validate"];
    all.extend_from_slice(args);
    let out = run(&all, env).await;
    assert_eq!(
        out.code, 0,
        "validate failed\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

/// The `GET` URLs of the plan, in order (they carry the project id).
fn urls(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("GET "))
        .map(str::to_owned)
        .collect()
}

/// The number of jobs the plan's first line announces (`3 job(s) from …`).
fn job_count(out: &Output) -> usize {
    let first = out.stdout.lines().next().unwrap_or_default();
    first
        .split_once(" job(s)")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line of the plan: {first:?}"))
}

/// A setting row of the plan (`timeout     1m 30s (flag --timeout)`): its value and where it
/// came from.
fn setting(out: &Output, name: &str) -> (String, String) {
    let row = out
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .filter(|rest| rest.starts_with(' '))
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("the plan has no {name:?} row:\n{}", out.stdout));
    match row.rsplit_once(" (") {
        Some((value, origin)) => (value.to_owned(), origin.trim_end_matches(')').to_owned()),
        None => (row.to_owned(), String::new()),
    }
}

/// Asserts a setting's value and that its origin mentions `from`.
fn assert_setting(out: &Output, name: &str, value: &str, from: &str) {
    let (v, origin) = setting(out, name);
    assert_eq!(v, value, "{name}:\n{}", out.stdout);
    assert!(
        origin.contains(from),
        "{name} should come from {from:?}, the plan says {origin:?}:\n{}",
        out.stdout
    );
}

fn assert_has(out: &Output, needle: &str) {
    assert!(
        out.stdout.contains(needle),
        "the plan does not show {needle:?}:\n{}",
        out.stdout
    );
}

fn job_url(project: &str, id: &str) -> String {
    format!("{ENDPOINT}/v1/{project}/jobs/{id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_file_sets_timeout_project_and_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "jobs.yaml", SPEC_YAML);
    let out = validate(&["--spec", s(&spec)], &[]).await;

    assert_eq!(job_count(&out), 3);
    assert_eq!(
        urls(&out),
        [
            job_url("fileproj", "j1"),
            job_url("fileproj", "j2"),
            job_url("fileproj", "j3")
        ]
    );
    assert_has(&out, "data (evs:j1)");
    assert_has(&out, "ims:j2");
    assert_has(&out, "ecs:j3");
    assert_setting(&out, "project", "fileproj", s(&spec));
    assert_setting(&out, "timeout", "1m 30s", s(&spec));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_the_spec_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "jobs.yaml", SPEC_YAML);
    let env = [
        ("JOBWAIT_SPEC", s(&spec)),
        ("JOBWAIT_PROJECT_ID", "envproj"),
        ("JOBWAIT_TIMEOUT", "2m"),
        ("JOBWAIT_POLL__SCHEDULE", "backoff"),
    ];
    let out = validate(&[], &env).await;

    assert_eq!(job_count(&out), 3);
    assert_eq!(urls(&out)[0], job_url("envproj", "j1"));
    assert_setting(&out, "project", "envproj", "JOBWAIT_PROJECT_ID");
    assert_setting(&out, "timeout", "2m", "JOBWAIT_TIMEOUT");
    assert_setting(&out, "poll schedule", "backoff", "JOBWAIT_POLL__SCHEDULE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_overrides_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "jobs.yaml", SPEC_YAML);
    let env = [
        ("JOBWAIT_PROJECT_ID", "envproj"),
        ("JOBWAIT_TIMEOUT", "2m"),
        ("JOBWAIT_ENDPOINT", "http://env.example"),
    ];
    let out = validate(
        &[
            "-f",
            s(&spec),
            "--project-id",
            "flagproj",
            "--timeout",
            "45s",
            "--poll-schedule",
            "backoff",
        ],
        &env,
    )
    .await;

    assert_eq!(job_count(&out), 3);
    // The endpoint came from the environment (over the file), the project from the flag.
    assert_eq!(
        urls(&out),
        [
            "http://env.example/v1/flagproj/jobs/j1",
            "http://env.example/v1/flagproj/jobs/j2",
            "http://env.example/v1/flagproj/jobs/j3"
        ]
    );
    assert_setting(&out, "project", "flagproj", "--project-id");
    assert_setting(&out, "timeout", "45s", "--timeout");
    assert_setting(&out, "poll schedule", "backoff", "--poll-schedule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_arguments_replace_the_spec_files_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "jobs.yaml", SPEC_YAML);
    let out = validate(
        &["-f", s(&spec), "bms:only1"],
        &[("JOBWAIT_JOBS", "ecs:envjob")],
    )
    .await;
    assert_eq!(job_count(&out), 1);
    assert_eq!(urls(&out), [job_url("fileproj", "only1")]);
    assert_has(&out, "bms:only1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobwait_jobs_splits_on_commas_spaces_and_newlines() {
    let env = [
        ("JOBWAIT_JOBS", "ecs:a, evs:b\necs:c"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
    ];
    let out = validate(&[], &env).await;
    assert_eq!(job_count(&out), 3);
    assert_eq!(
        urls(&out),
        [job_url("p1", "a"), job_url("p1", "b"), job_url("p1", "c")]
    );
    let labels: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .map(str::trim)
        .collect();
    assert_eq!(labels, ["ecs:a", "evs:b", "ecs:c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_variables_count_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "jobs.yaml", SPEC_YAML);
    // Empty values must neither override the file nor be parsed (an empty duration is invalid).
    let env = [
        ("JOBWAIT_SPEC", s(&spec)),
        ("JOBWAIT_TIMEOUT", ""),
        ("JOBWAIT_PROJECT_ID", ""),
        ("JOBWAIT_POLL__INTERVAL", ""),
        ("JOBWAIT_JOBS", ""),
    ];
    let out = validate(&[], &env).await;
    assert_eq!(job_count(&out), 3);
    assert_setting(&out, "project", "fileproj", s(&spec));
    assert_setting(&out, "timeout", "1m 30s", s(&spec));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_jobwait_timeout_without_a_file_means_the_default() {
    let env = [
        ("JOBWAIT_TIMEOUT", ""),
        ("JOBWAIT_JOBS", "x1"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
    ];
    let out = validate(&[], &env).await;
    assert_setting(&out, "timeout", "30m", "default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toml_spec_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "jobs.toml",
        r#"
project_id = "tomlproj"
endpoint = "http://jobs.example:8443"
timeout = "45s"
jobs = ["evs:t1", "t2"]

[poll]
interval = "2s"
max_interval = "20s"
"#,
    );
    let out = validate(&["--spec", s(&spec)], &[]).await;
    assert_eq!(job_count(&out), 2);
    assert_eq!(
        urls(&out),
        [job_url("tomlproj", "t1"), job_url("tomlproj", "t2")]
    );
    assert_setting(&out, "timeout", "45s", s(&spec));
    assert_setting(&out, "poll", "every 2s growing to 20s", s(&spec));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_spec_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "jobs.json",
        r#"{"project_id": "jsonproj", "endpoint": "http://jobs.example:8443", "timeout": "50s",
            "jobs": [{"id": "j1", "service": "ims", "name": "image"}]}"#,
    );
    let out = validate(&[], &[("JOBWAIT_SPEC", s(&spec))]).await;
    assert_eq!(job_count(&out), 1);
    assert_eq!(urls(&out), [job_url("jsonproj", "j1")]);
    assert_has(&out, "image (ims:j1)");
    assert_setting(&out, "timeout", "50s", s(&spec));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_names_the_auth_method_but_never_a_secret() {
    let mut env = aksk_env();
    env.extend([
        ("JOBWAIT_JOBS", "x1"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
    ]);
    let out = validate(&[], &env).await;
    assert_has(&out, "HUAWEICLOUD_SDK_AK");
    for secret in [AK, SK] {
        assert!(!out.all().contains(secret), "{}", out.all());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_jobwait_spec_counts_as_unset() {
    let env = [
        ("JOBWAIT_SPEC", ""),
        ("JOBWAIT_JOBS", "x1"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
    ];
    let out = validate(&[], &env).await;
    assert_eq!(urls(&out), [job_url("p1", "x1")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_with_spaces_are_accepted_from_flags_and_environment() {
    let env = [
        ("JOBWAIT_JOBS", "x1"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
        ("JOBWAIT_POLL__MAX_INTERVAL", "1m 30s"),
    ];
    let out = validate(&["--timeout", "1h 30m"], &env).await;
    assert_setting(&out, "timeout", "1h 30m", "--timeout");
    assert_setting(
        &out,
        "poll",
        "every 5s growing to 1m 30s",
        "JOBWAIT_POLL__MAX_INTERVAL",
    );
}

/// Regression: `validate … | head -1` panicked on the closed pipe (exit 101).
#[test]
fn validate_into_a_closed_pipe_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<String> = (0..3000).map(|i| format!("ecs:job{i}")).collect();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        &format!(
            "project_id: p\nendpoint: http://127.0.0.1:1\njobs: [{}]\n",
            jobs.join(", ")
        ),
    );
    let script = format!(
        "{} validate -f {} | head -1; echo \"rc=${{PIPESTATUS[0]}}\"",
        bin().display(),
        s(&spec)
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env_clear()
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with("rc=0\n"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// The `success.*` flags are spec-wide defaults: they win over the file's and the environment's
/// `success`, and a job's own `success` in the file still wins over them, key by key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn criteria_flags_are_defaults_that_a_jobs_own_success_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "jobs.yaml",
        "project_id: p1\nendpoint: http://jobs.example:8443\n\
         success: { sub_jobs: none, pending_payment: fail }\n\
         jobs:\n  - a\n  - { id: b, success: { sub_jobs: { at_least: 3 }, confirm: 1 } }\n",
    );
    let env = [
        ("JOBWAIT_SUCCESS__SUB_JOBS", "any"),
        ("JOBWAIT_SUCCESS__CONFIRM", "5"),
    ];
    let out = validate(
        &[
            "-f",
            s(&spec),
            "--sub-jobs",
            "ratio=0.5",
            "--confirm",
            "2",
            "--not-found-grace",
            "2m",
            "--unknown-status",
            "fail",
            "--job-type",
            "createServer",
        ],
        &env,
    )
    .await;
    let criteria: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("success: "))
        .collect();
    assert_eq!(
        criteria,
        [
            "sub_jobs ratio 0.5, pending_payment fail, unknown_status fail, not_found_grace 2m, confirm 2, job_type createServer",
            "sub_jobs at_least 3, pending_payment fail, unknown_status fail, not_found_grace 2m, job_type createServer",
        ],
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_and_short_output_flags() {
    let env = [
        ("JOBWAIT_JOBS", "x1"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
        ("JOBWAIT_FAIL_ON", "any"),
    ];
    let out = validate(&["--fail-on", "never", "-o", "json"], &env).await;
    assert_setting(&out, "fail on", "never", "--fail-on");
}

/// A bad value given by a new flag is named by that flag (not by its spec key), exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_of_the_new_flags_name_the_flag() {
    let env = [
        ("JOBWAIT_JOBS", "x1"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", ENDPOINT),
    ];
    let cases = [
        (
            ["--request-timeout", "soon"],
            "flag --request-timeout: `soon` is not a duration",
        ),
        (
            ["--max-response-size", "8XB"],
            "flag --max-response-size: `8XB` is not a size",
        ),
        (
            ["--sub-jobs", "most"],
            "flag --sub-jobs: `most` is not one of",
        ),
        (
            ["--not-found-grace", "later"],
            "flag --not-found-grace: `later`",
        ),
        (["--confirm", "twice"], "flag --confirm: `twice`"),
    ];
    for (args, want) in cases {
        let mut all = vec!["validate"];
        all.extend_from_slice(&args);
        let out = run(&all, &env).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
}
