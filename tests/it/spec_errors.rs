//! Bad input: exit 2 before any request, one readable line per problem on stderr naming the key
//! and where the value came from (file path, `JOBWAIT_*` variable or `--flag`), nothing on
//! stdout, never a panic and never a secret.

use crate::support::{assert_usage_error, run, s, write_file, Output, AK, SK};

/// An endpoint nothing listens on: were a bad spec ever accepted, no job could succeed.
const DEAD_ENDPOINT: &str = "http://127.0.0.1:9";

/// Everything a wait needs, but for what a test changes.
fn base_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", DEAD_ENDPOINT),
    ]
}

/// `jobwait wait ARGS…` with `env`; the caller's checks follow.
async fn wait(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["wait"];
    all.extend_from_slice(args);
    let out = run(&all, env).await;
    // Whatever the problem, no credential is ever echoed.
    for secret in [AK, SK] {
        assert!(
            !out.all().contains(secret),
            "a credential was printed:\n{}",
            out.all()
        );
    }
    out
}

/// The stderr lines that carry a problem.
fn problems(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("jobwait:"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_in_spec_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "spec.yaml", "jobs: [a1]\ncolour: red\n");
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "colour"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_nested_key_in_spec_file_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs: [a1]\npoll: { interval: 1s, maximum: 5s }\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "maximum", "poll"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_duration_in_spec_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "spec.yaml", "jobs: [a1]\ntimeout: soon\n");
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "timeout", "soon"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_duration_in_jobwait_timeout_names_the_variable() {
    let mut env = base_env();
    env.push(("JOBWAIT_TIMEOUT", "soon"));
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["JOBWAIT_TIMEOUT", "soon"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_duration_in_timeout_flag_names_the_flag() {
    let out = wait(&["a1", "--timeout", "soon"], &base_env()).await;
    assert_usage_error(&out, &["--timeout", "soon"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_nested_variable_names_the_variable() {
    let mut env = base_env();
    env.push(("JOBWAIT_POLL__INTERVAL", "abc"));
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["JOBWAIT_POLL__INTERVAL", "abc"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_poll_schedule_names_the_flag_the_variable_or_the_file_and_the_choices() {
    let out = wait(&["a1", "--poll-schedule", "fast"], &base_env()).await;
    assert_usage_error(&out, &["--poll-schedule", "fast", "adaptive", "backoff"]);
    let mut env = base_env();
    env.push(("JOBWAIT_POLL__SCHEDULE", "smart"));
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["JOBWAIT_POLL__SCHEDULE", "smart"]);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs: [a1]\npoll: { schedule: exponential }\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "poll.schedule", "exponential"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_entry_without_id_names_the_file_and_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs:\n  - { id: ok1 }\n  - { service: evs, name: nameless }\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "jobs", "id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_service_argument_names_the_argument() {
    let out = wait(&["mongo:x"], &base_env()).await;
    assert_usage_error(&out, &["mongo", "JOB"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_service_in_jobwait_jobs_names_the_variable() {
    let mut env = base_env();
    env.push(("JOBWAIT_JOBS", "ecs:a1,mongo:x"));
    let out = wait(&[], &env).await;
    assert_usage_error(&out, &["mongo", "JOBWAIT_JOBS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_service_in_spec_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs: [ { id: x1, service: mongo } ]\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "mongo", "service"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_project_id_says_where_to_set_it() {
    let env: Vec<_> = base_env()
        .into_iter()
        .filter(|(k, _)| *k != "JOBWAIT_PROJECT_ID")
        .collect();
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["project_id", "JOBWAIT_PROJECT_ID", "--project-id"]);
    assert_eq!(problems(&out).len(), 1, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_cloud_or_region_is_an_error() {
    let env: Vec<_> = base_env()
        .into_iter()
        .filter(|(k, _)| *k != "JOBWAIT_ENDPOINT")
        .collect();
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["endpoint", "cloud", "region"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_file_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.yaml");
    let out = wait(&["-f", s(&missing)], &base_env()).await;
    assert_usage_error(&out, &[s(&missing)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_file_from_jobwait_spec_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.yaml");
    let mut env = base_env();
    env.push(("JOBWAIT_SPEC", s(&missing)));
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &[s(&missing)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_file_with_unknown_extension_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "spec.ini", "project_id = p1\n");
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "extension"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_yaml_names_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "timeout: 5m\njobs: [a1\n  b: : c\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "line"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_interval_shorter_than_interval_names_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs: [a1]\npoll: { interval: 2s, max_interval: 1s }\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(&out, &[s(&spec), "poll.max_interval", "poll.interval"]);

    // From flags, the flag is named.
    let out = wait(
        &["a1", "--poll-interval", "2s", "--poll-max-interval", "1s"],
        &base_env(),
    )
    .await;
    assert_usage_error(&out, &["--poll-max-interval", "poll.interval"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_names_the_variables_to_set() {
    let env: Vec<_> = base_env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("HUAWEICLOUD_"))
        .collect();
    let out = wait(&["a1"], &env).await;
    assert_usage_error(
        &out,
        &[
            "credentials",
            "HUAWEICLOUD_SDK_AK",
            "HUAWEICLOUD_SDK_SK",
            "JOBWAIT_TOKEN",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_key_without_secret_key_names_both_variables_not_the_value() {
    let env: Vec<_> = base_env()
        .into_iter()
        .filter(|(k, _)| *k != "HUAWEICLOUD_SDK_SK")
        .collect();
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]);
    assert!(!out.stderr.contains(AK), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_problems_are_all_listed() {
    // No project id, no jobs and no credentials: three lines.
    let out = wait(&[], &[("JOBWAIT_ENDPOINT", DEAD_ENDPOINT)]).await;
    assert_usage_error(&out, &["project_id", "no jobs", "credentials"]);
    assert_eq!(problems(&out).len(), 3, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_lists_the_same_problems_with_exit_2() {
    let out = run(&["validate"], &[("JOBWAIT_ENDPOINT", DEAD_ENDPOINT)]).await;
    assert_usage_error(&out, &["project_id", "no jobs"]);
    assert_eq!(problems(&out).len(), 2, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_invalid_values_are_all_listed() {
    let env = [
        ("JOBWAIT_ENDPOINT", DEAD_ENDPOINT),
        ("JOBWAIT_JOBS", "a1"),
        ("JOBWAIT_TIMEOUT", "soon"),
        ("JOBWAIT_POLL__INTERVAL", "abc"),
    ];
    let out = run(&["validate"], &env).await;
    assert_usage_error(
        &out,
        &["JOBWAIT_TIMEOUT", "JOBWAIT_POLL__INTERVAL", "project_id"],
    );
    assert_eq!(problems(&out).len(), 3, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_listed_twice_is_an_error() {
    let out = wait(&["ecs:a1", "a1"], &base_env()).await;
    assert_usage_error(&out, &["a1", "twice"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_timeout_is_an_error() {
    let out = wait(&["a1", "--timeout", "0s"], &base_env()).await;
    assert_usage_error(&out, &["--timeout", "timeout"]);
}

/// libyaml's scanner (under serde_yaml, once) cost time proportional to the depth for every
/// token: a 200 KB file of brackets took tens of seconds of CPU before it was refused. The
/// pre-scan refuses it at once, whatever parser follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_spec_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let deep = 100_000;
    let cases = [
        (
            "deep.yaml",
            format!(
                "project_id: p1\njobs: {}{}\n",
                "[".repeat(deep),
                "]".repeat(deep)
            ),
            2,
        ),
        (
            "block.yaml",
            (0..70)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect(),
            65,
        ),
        (
            "deep.json",
            format!("{{\"jobs\": {}{}}}", "[".repeat(deep), "]".repeat(deep)),
            1,
        ),
        (
            "deep.toml",
            format!("jobs = {}{}\n", "[".repeat(deep), "]".repeat(deep)),
            1,
        ),
    ];
    for (name, text, line) in cases {
        let spec = write_file(dir.path(), name, &text);
        let started = std::time::Instant::now();
        let out = run(&["validate", "-f", s(&spec)], &[]).await;
        let took = started.elapsed();
        assert_usage_error(
            &out,
            &[&format!(
                "spec file {}: nested more than 64 levels deep (line {line})",
                s(&spec)
            )],
        );
        assert_eq!(problems(&out).len(), 1, "{}", out.stderr);
        // Generous for a debug build on a busy machine; parsing took tens of seconds.
        assert!(took < std::time::Duration::from_secs(5), "{name}: {took:?}");
    }
}

/// Brackets in quoted strings, comments and block scalars are text, not nesting: such a spec
/// still validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brackets_in_strings_comments_and_block_scalars_do_not_count_as_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let brackets = "[{".repeat(80);
    let text = format!(
        "# {brackets}\nproject_id: p1\nendpoint: http://127.0.0.1:9\n\
         success: {{ sub_jobs: {{ at_least: 1 }} }}  # {brackets}\n\
         jobs:\n  - id: a1\n    name: '{brackets}'\n  - id: a2\n    name: \"{brackets}\"\n\
         \x20 - id: a3\n    name: |\n      {brackets}\n        {brackets}\n\
         \x20 - {{ id: a4, success: {{ sub_jobs: {{ ratio: 0.5 }} }} }}\n"
    );
    let spec = write_file(dir.path(), "spec.yaml", &text);
    let out = run(&["validate", "-f", s(&spec)], &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("4 job(s)"), "{}", out.stdout);
}

/// A spec file larger than 64 MiB is refused without being parsed (or even read whole).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_file_over_64_mib_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    // Sparse: no disk space is used.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(64 * 1024 * 1024 + 1).unwrap();
    let out = run(&["validate", "-f", s(&path)], &[]).await;
    assert_usage_error(&out, &[s(&path), "larger than 64 MiB"]);
}

/// `region` was pasted into the URL template unchecked: `x@127.0.0.1:PORT/` made the host
/// 127.0.0.1, and the IAM password went there. Now it is refused before any connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_that_would_move_the_host_is_refused_before_any_connection() {
    let (url, accepted) = crate::support::black_hole().await;
    let hole = url.trim_start_matches("http://");
    let region = format!("x@{hole}/");
    let password = [
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", "pw-never-sent"),
        ("OS_DOMAIN_NAME", "dom"),
    ];
    let out = wait(
        &[
            "a1",
            "--cloud",
            "otc",
            "--region",
            &region,
            "--timeout",
            "2s",
        ],
        &password,
    )
    .await;
    assert_usage_error(&out, &["flag --region", "key `region`", "eu-de"]);
    assert_eq!(problems(&out).len(), 1, "{}", out.stderr);
    assert!(!out.all().contains("pw-never-sent"));
    let mut env = base_env();
    env.retain(|(k, _)| *k != "JOBWAIT_ENDPOINT");
    env.push(("JOBWAIT_REGION", "eu-de.evil.example"));
    let out = wait(&["a1", "--cloud", "huaweicloud"], &env).await;
    assert_usage_error(&out, &["JOBWAIT_REGION", "region"]);
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a connection was made"
    );
}

/// `.` and `..` are path segments that mean "here" and "up": as ids they moved the request to
/// another path. Job ids keep `.` otherwise (and the message says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_as_ids_are_refused() {
    for id in [".", ".."] {
        let out = wait(&[id], &base_env()).await;
        assert_usage_error(&out, &["jobs.0.id", "letters, digits, -, _ and . only"]);
    }
    let out = wait(&["a.1", "--project-id", ".."], &base_env()).await;
    assert_usage_error(&out, &["flag --project-id", "project_id", "`..`"]);
    assert_eq!(problems(&out).len(), 1, "{}", out.stderr);
}

/// A password in an endpoint's userinfo never reaches `validate`'s output or an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_in_endpoints_are_never_shown() {
    let env = [("JOBWAIT_PROJECT_ID", "p1"), ("JOBWAIT_JOBS", "a1 evs:b2")];
    let out = run(
        &["validate", "--endpoint", "https://u:s3cret@h.example"],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("GET https://u:***@h.example/v1/p1/jobs/a1"),
        "{}",
        out.stdout
    );
    assert!(!out.all().contains("s3cret"), "{}", out.all());
    for endpoint in [
        "https://u:s3cret@h.example:99999",
        "ftp://u:s3cret@h.example",
        "https://u:s3cret@{service}.{region}.example",
    ] {
        let out = run(&["validate", "--endpoint", endpoint], &env).await;
        assert_usage_error(&out, &["endpoint", "u:***@"]);
        assert!(!out.all().contains("s3cret"), "{}", out.all());
    }
}

/// A per-job `timeout: 0s` was accepted and then reported as "the API never answered";
/// `progress_interval: 1ns` printed a summary line per wake-up. Both are refused up front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_job_timeout_and_absurd_intervals_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs:\n  - { id: a1, timeout: 0s }\n",
    );
    let out = wait(&["-f", s(&spec)], &base_env()).await;
    assert_usage_error(
        &out,
        &[&format!(
            "spec file {}: key `jobs.0.timeout` must be more than 0",
            s(&spec)
        )],
    );
    let mut env = base_env();
    env.push(("JOBWAIT_PROGRESS_INTERVAL", "1ns"));
    let out = wait(&["a1"], &env).await;
    assert_usage_error(
        &out,
        &["JOBWAIT_PROGRESS_INTERVAL", "0s (off) or at least 1s"],
    );
    let out = wait(&["a1", "--poll-interval", "1ms"], &base_env()).await;
    assert_usage_error(&out, &["--poll-interval", "at least 10ms"]);
    let mut env = base_env();
    env.push(("JOBWAIT_REQUEST_TIMEOUT", "1ms"));
    let out = wait(&["a1"], &env).await;
    assert_usage_error(&out, &["JOBWAIT_REQUEST_TIMEOUT", "at least 100ms"]);
}

/// A token with a trailing newline (as `$(cat token)` or a pasted secret gives it) was sent as
/// it is: every request failed and was retried until the deadline. It is trimmed now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_a_trailing_newline_is_trimmed_and_works() {
    let sim = crate::support::sim_with_auth(
        "  - { id: j1, timeline: [ { status: RUNNING, for: 100ms }, { status: SUCCESS } ] }\n",
    )
    .await;
    let args = crate::support::wait_args(&sim.base_url(), &["j1"], "10s", &[]);
    let token = format!("{}\n", crate::support::TOKEN);
    let out = run(&args, &[("JOBWAIT_TOKEN", &token)]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    sim.shutdown().await;
}

/// A credential HTTP cannot carry is a usage error naming the variable, never its value, and
/// nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_a_control_character_names_the_variable_not_the_value() {
    let (url, accepted) = crate::support::black_hole().await;
    let env = [
        ("JOBWAIT_TOKEN", "tok\u{1}SECRETPART"),
        ("JOBWAIT_PROJECT_ID", "p1"),
        ("JOBWAIT_ENDPOINT", url.as_str()),
    ];
    let out = wait(&["a1", "--timeout", "2s"], &env).await;
    assert_usage_error(&out, &["JOBWAIT_TOKEN", "control character"]);
    assert_eq!(problems(&out).len(), 1, "{}", out.stderr);
    assert!(!out.all().contains("SECRETPART"), "{}", out.all());
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// `JOBWAIT_POLL_INTERVAL` (one `_`) is no key: exit 2, telling the variable meant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_nested_variable_suggests_the_double_underscore() {
    let mut env = base_env();
    env.push(("JOBWAIT_POLL_INTERVAL", "2s"));
    let out = wait(&["ecs:a"], &env).await;
    assert_usage_error(
        &out,
        &[
            "environment variable JOBWAIT_POLL_INTERVAL",
            "did you mean JOBWAIT_POLL__INTERVAL?",
        ],
    );
}

/// A bare `jobwait` (no argument, no `JOBWAIT_JOBS`, no `JOBWAIT_SPEC`) prints the usage on
/// stderr and exits 2, instead of three problems with a spec nobody wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_jobwait_prints_the_usage_and_exits_2() {
    // Other variables (credentials, spec keys) do not say what to wait on either.
    for env in [vec![], base_env()] {
        let out = run(&[] as &[&str], &env).await;
        assert_usage_error(
            &out,
            &["Usage: jobwait [OPTIONS] [JOB]...", "--spec <FILE>"],
        );
        assert!(!out.stderr.contains("jobwait: "), "{}", out.stderr);
        // The short help: one line per option, not the long form.
        assert!(!out.stderr.contains("Possible values:"), "{}", out.stderr);
    }
}

/// With some flags, or a variable that names jobs or a spec, the spec's problems stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobwait_with_flags_but_no_jobs_keeps_the_spec_errors() {
    let no_jobs = "no jobs to wait on";
    let out = run(&["--timeout", "1m"], &[]).await;
    assert_usage_error(&out, &[no_jobs, "project_id"]);
    assert!(!out.stderr.contains("Usage:"), "{}", out.stderr);

    let out = run(&[] as &[&str], &[("JOBWAIT_JOBS", "ecs:a")]).await;
    assert_usage_error(&out, &["project_id"]);
    assert!(!out.stderr.contains("Usage:"), "{}", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(dir.path(), "spec.yaml", "timeout: 1m\n");
    let out = run(&[] as &[&str], &[("JOBWAIT_SPEC", s(&spec))]).await;
    assert_usage_error(&out, &[no_jobs]);
    assert!(!out.stderr.contains("Usage:"), "{}", out.stderr);
}

/// A region the cloud preset does not know is a warning, not an error: `validate` still
/// succeeds (clouds open new regions), but the typo shows before any request goes to a host
/// that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_region_of_a_known_cloud_is_a_warning_in_validate() {
    let env = |cloud: &'static str, region: &'static str| {
        vec![
            ("JOBWAIT_CLOUD", cloud),
            ("JOBWAIT_REGION", region),
            ("JOBWAIT_PROJECT_ID", "p1"),
            ("JOBWAIT_JOBS", "ecs:a1"),
        ]
    };
    let out = run(&["validate"], &env("otc", "eu-dee")).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("1 job(s)"), "{}", out.stdout);
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        ["jobwait: warning: region eu-dee is not a known OTC region (known: eu-de, eu-nl, eu-ch2); if it is new, ignore this"],
        "{}",
        out.stderr
    );

    let out = run(&["validate"], &env("huaweicloud", "ap-southeast-9")).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: region ap-southeast-9 is not a known Huawei Cloud region (known: "),
        "{}",
        out.stderr
    );

    for (cloud, region) in [
        ("otc", "eu-ch2"),
        ("huaweicloud", "eu-west-101"),
        ("flexibleengine", "eu-west-0"),
    ] {
        let out = run(&["validate"], &env(cloud, region)).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            !out.stderr.contains("warning"),
            "{cloud} {region}: {}",
            out.stderr
        );
    }
}
