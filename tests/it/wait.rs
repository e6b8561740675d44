//! `jobwait wait` against the simulator: outcomes, exit codes and their precedence, auth,
//! and network trouble.

use serde_json::json;

use crate::support::{
    aksk_env, assert_ended_unreachable, assert_valid_report, dead_port, job, json, run,
    sim_with_auth, wait_args, AK, SK, TOKEN,
};

/// The contract's headline: A succeeds with two sub-jobs, B fails, C is still RUNNING at the
/// deadline. A failure outranks a timeout, so the exit code is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headline_success_failure_and_timeout_exit_1() {
    // The second sub-job finishes first: the ids must still come in API (scenario) order.
    let sim = sim_with_auth(
        r#"
  - id: jobA
    job_type: createServer
    sub_jobs:
      - { id: subA1, job_type: createSingleServer, timeline: [ { status: RUNNING, for: 600ms }, { status: SUCCESS } ], entities: { server_id: srv-a1 } }
      - { id: subA2, job_type: createSingleServer, timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ], entities: { server_id: srv-a2 } }
  - id: jobB
    job_type: createVolume
    timeline: [ { status: RUNNING, for: 300ms }, { status: FAIL } ]
    error_code: EVS.2024
    fail_reason: "Volume quota exceeded"
  - id: jobC
    job_type: createServer
    status: RUNNING
"#,
    )
    .await;
    let args = wait_args(
        &sim.base_url(),
        &["ecs:jobA", "evs:jobB", "ecs:jobC"],
        "2s",
        &[],
    );
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["version"], 1);
    assert_eq!(report["result"], "failure");
    assert_eq!(report["exit_code"], 1);
    assert_eq!(
        report["summary"],
        json!({ "total": 3, "succeeded": 1, "failed": 1, "errored": 0, "timed_out": 1, "cancelled": 0 })
    );
    assert_eq!(
        report["entities"],
        json!({ "server_id": ["srv-a1", "srv-a2"] })
    );
    // Every job, in the order given.
    let ids: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["jobA", "jobB", "jobC"]);

    let a = job(&report, "jobA");
    assert_eq!(a["service"], "ecs");
    assert_eq!(a["outcome"], "succeeded");
    assert_eq!(a["status"], "SUCCESS");
    assert_eq!(a["job_type"], "createServer");
    assert_eq!(a["entities"], json!({ "server_id": ["srv-a1", "srv-a2"] }));
    assert_eq!(
        a["sub_jobs"],
        json!({ "total": 2, "succeeded": 2, "failed": 0, "running": 0 })
    );
    assert_eq!(a["failures"], json!([]));
    assert!(a["end_time"].is_string(), "{a:#}");

    let b = job(&report, "jobB");
    assert_eq!(b["service"], "evs");
    assert_eq!(b["outcome"], "failed");
    assert_eq!(b["status"], "FAIL");
    assert_eq!(b["error_code"], "EVS.2024");
    assert_eq!(b["fail_reason"], "Volume quota exceeded");
    assert!(b["reason"].as_str().unwrap().contains("EVS.2024"), "{b:#}");

    let c = job(&report, "jobC");
    assert_eq!(c["outcome"], "timed_out");
    assert_eq!(c["status"], "RUNNING");
    assert_eq!(c["end_time"], serde_json::Value::Null);
    assert!(c["polls"].as_u64().unwrap() >= 2, "{c:#}");

    // Every request was signed correctly, and C was polled until the deadline.
    let stats = sim.stats();
    assert_eq!(stats.rejected_auth, 0);
    for id in ["jobA", "jobB", "jobC"] {
        assert!(stats.jobs[id].requests >= 1, "{id} was never requested");
    }
    assert_valid_report(&report).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_jobs_succeed_exit_0() {
    let sim = sim_with_auth(
        r#"
  - { id: vol1, job_type: createVolume, timeline: [ { status: RUNNING, for: 150ms }, { status: SUCCESS } ], entities: { volume_id: vol-111 } }
  - { id: srv1, job_type: createServer, timeline: [ { status: INIT, for: 100ms }, { status: RUNNING, for: 200ms }, { status: SUCCESS } ], entities: { server_id: srv-222 } }
"#,
    )
    .await;
    let args = wait_args(&sim.base_url(), &["evs:vol1", "srv1"], "10s", &[]);
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(
        report["summary"],
        json!({ "total": 2, "succeeded": 2, "failed": 0, "errored": 0, "timed_out": 0, "cancelled": 0 })
    );
    assert_eq!(
        report["entities"],
        json!({ "volume_id": ["vol-111"], "server_id": ["srv-222"] })
    );
    // A job without a service prefix is an ECS job.
    assert_eq!(job(&report, "srv1")["service"], "ecs");
    assert_eq!(job(&report, "vol1")["service"], "evs");
    assert_eq!(sim.stats().rejected_auth, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn still_running_job_times_out_exit_124() {
    let sim = sim_with_auth("  - { id: slow, status: RUNNING }\n").await;
    let args = wait_args(&sim.base_url(), &["ecs:slow"], "700ms", &[]);
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 124, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "timeout");
    assert_eq!(report["exit_code"], 124);
    assert_eq!(report["summary"]["timed_out"], 1);
    assert_eq!(report["summary"]["total"], 1);
    let slow = job(&report, "slow");
    assert_eq!(slow["outcome"], "timed_out");
    assert_eq!(slow["status"], "RUNNING");
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() >= 0.6,
        "ended before the deadline: {report:#}"
    );
    sim.shutdown().await;
}

/// A wrong secret key: the simulator's verifier answers 401, which no retry can fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_key_is_errored_exit_3_and_never_printed() {
    let sim = sim_with_auth("  - { id: job1, status: SUCCESS }\n").await;
    let wrong_sk = "SKwrongTESTvalue0000111122223333444455";
    // -vv: debug logs too must not show a credential.
    let args = wait_args(&sim.base_url(), &["job1"], "5s", &["-vv"]);
    let env = [("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", wrong_sk)];
    let out = run(&args, &env).await;

    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "error");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(report["summary"]["errored"], 1);
    let j = job(&report, "job1");
    assert_eq!(j["outcome"], "errored");
    assert_eq!(j["status"], serde_json::Value::Null);
    assert!(
        j["reason"].as_str().unwrap().contains("401"),
        "the reason should carry the HTTP status: {j:#}"
    );
    assert!(sim.stats().rejected_auth >= 1);
    for secret in [AK, wrong_sk, SK] {
        assert!(
            !out.all().contains(secret),
            "a credential was printed:\n{}",
            out.all()
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_jobwait_token_is_accepted() {
    let sim = sim_with_auth(
        "  - { id: tok1, timeline: [ { status: RUNNING, for: 150ms }, { status: SUCCESS } ] }\n",
    )
    .await;
    let args = wait_args(&sim.base_url(), &["tok1"], "10s", &["-vv"]);
    let out = run(&args, &[("JOBWAIT_TOKEN", TOKEN)]).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success");
    assert_eq!(job(&report, "tok1")["outcome"], "succeeded");
    let stats = sim.stats();
    assert_eq!(stats.rejected_auth, 0);
    assert!(stats.jobs["tok1"].requests >= 1);
    assert!(!out.all().contains(TOKEN), "the token was printed");
    sim.shutdown().await;
}

/// Connection refused on every poll: the job never got a document, so at the deadline it is
/// errored (exit 3), not timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_errored_exit_3_after_the_deadline() {
    let endpoint = format!("http://127.0.0.1:{}", dead_port());
    let args = wait_args(&endpoint, &["ecs:gone"], "1s", &[]);
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "error");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(
        report["summary"],
        json!({ "total": 1, "succeeded": 0, "failed": 0, "errored": 1, "timed_out": 0, "cancelled": 0 })
    );
    let j = job(&report, "gone");
    assert_eq!(j["outcome"], "errored");
    assert_eq!(j["status"], serde_json::Value::Null);
    let reason = j["reason"].as_str().unwrap();
    assert!(reason.contains("network error"), "{reason}");
    assert!(
        j["polls"].as_u64().unwrap() >= 2,
        "a network error is retried until the deadline: {j:#}"
    );
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() >= 0.9,
        "gave up before the deadline: {report:#}"
    );
}

/// A wrong endpoint shows at once: one warning line for the host however many jobs poll it,
/// and every job errored after `retry.unreachable_after`, long before the 10-minute deadline,
/// with the connection error as the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_is_reported_once_and_ends_errored_after_unreachable_after() {
    let port = dead_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let args = wait_args(&endpoint, &["ecs:d1", "ecs:d2", "ecs:d3"], "10m", &[]);
    let mut env = aksk_env();
    env.push(("JOBWAIT_RETRY__UNREACHABLE_AFTER", "1s"));
    let out = run(&args, &env).await;

    let (report, warning) = assert_ended_unreachable(&out, port, &["d1", "d2", "d3"]);
    assert_eq!(report["result"], "error");
    for id in ["d1", "d2", "d3"] {
        let reason = job(&report, id)["reason"].as_str().unwrap().to_owned();
        assert!(
            reason.starts_with(&format!("127.0.0.1:{port} never answered within 1s")),
            "the host's cut-off first: {reason}"
        );
    }
    assert!(
        warning.ends_with(
            "(every job on this host waits; they end as errored after retry.unreachable_after=1s unless it answers)"
        ),
        "{}",
        warning
    );
}

/// Precedence 3 over 124: an errored job (dead endpoint for EVS) next to a timed-out one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errored_outranks_timed_out_exit_3() {
    let sim = sim_with_auth("  - { id: run1, status: RUNNING }\n").await;
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let args = wait_args(&sim.base_url(), &["ecs:run1", "evs:vol9"], "1s", &[]);
    let mut env = aksk_env();
    env.push(("JOBWAIT_ENDPOINTS__EVS", &dead));
    let out = run(&args, &env).await;

    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "error");
    assert_eq!(job(&report, "run1")["outcome"], "timed_out");
    assert_eq!(job(&report, "vol9")["outcome"], "errored");
    sim.shutdown().await;
}

/// A job id the API does not know: pending for `not_found_grace`, then errored (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_job_id_is_errored_after_the_not_found_grace() {
    let sim = sim_with_auth("  - { id: known, status: SUCCESS }\n").await;
    let args = wait_args(&sim.base_url(), &["ecs:nosuchjob"], "10s", &[]);
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__NOT_FOUND_GRACE", "300ms"));
    let out = run(&args, &env).await;

    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "error");
    let j = job(&report, "nosuchjob");
    assert_eq!(j["outcome"], "errored");
    let reason = j["reason"].as_str().unwrap();
    assert!(reason.contains("Common.0011"), "{reason}");
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() < 5.0,
        "the grace, not the deadline, should end it: {report:#}"
    );
    assert_eq!(sim.stats().rejected_auth, 0);
    sim.shutdown().await;
}

/// Precedence 1 over 3: a failed job next to an errored one (dead endpoint for EVS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_outranks_errored_exit_1() {
    let sim = sim_with_auth(
        "  - { id: boom, status: FAIL, error_code: Ecs.0001, fail_reason: broken }\n",
    )
    .await;
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let args = wait_args(&sim.base_url(), &["ecs:boom", "evs:vol9"], "1s", &[]);
    let mut env = aksk_env();
    env.push(("JOBWAIT_ENDPOINTS__EVS", &dead));
    let out = run(&args, &env).await;

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "failure");
    assert_eq!(job(&report, "boom")["outcome"], "failed");
    assert_eq!(job(&report, "vol9")["outcome"], "errored");
    sim.shutdown().await;
}

/// `--fail-fast`: the first failure cancels the jobs still pending, long before the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_cancels_the_pending_jobs_exit_1() {
    let sim = sim_with_auth(
        r#"
  - { id: fails, timeline: [ { status: RUNNING, for: 200ms }, { status: FAIL } ], error_code: Ecs.0002, fail_reason: nope }
  - { id: endless, status: RUNNING }
"#,
    )
    .await;
    let args = wait_args(
        &sim.base_url(),
        &["fails", "endless"],
        "30s",
        &["--fail-fast"],
    );
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "failure");
    assert_eq!(
        report["summary"],
        json!({ "total": 2, "succeeded": 0, "failed": 1, "errored": 0, "timed_out": 0, "cancelled": 1 })
    );
    assert_eq!(job(&report, "endless")["outcome"], "cancelled");
    assert_eq!(job(&report, "endless")["status"], "RUNNING");
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() < 10.0,
        "{report:#}"
    );
    sim.shutdown().await;
}

/// A job's own `timeout` ends that job early; the others go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_job_timeout_ends_only_that_job() {
    let sim = sim_with_auth(
        r#"
  - { id: short, status: RUNNING }
  - { id: later, timeline: [ { status: RUNNING, for: 800ms }, { status: SUCCESS } ] }
"#,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::support::write_file(
        dir.path(),
        "spec.yaml",
        "jobs:\n  - { id: short, timeout: 300ms }\n  - { id: later }\n",
    );
    let mut args = wait_args(&sim.base_url(), &[], "20s", &[]);
    args.extend(["--spec".to_owned(), crate::support::s(&spec).to_owned()]);
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 124, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "timeout");
    let short = job(&report, "short");
    assert_eq!(short["outcome"], "timed_out");
    assert!(
        short["waited_seconds"].as_f64().unwrap() < 0.8,
        "the job's own timeout was not applied: {short:#}"
    );
    assert_eq!(job(&report, "later")["outcome"], "succeeded");
    sim.shutdown().await;
}

/// A job the API does not know yet (just created) is pending within `not_found_grace`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_unknown_at_first_is_waited_for_within_the_grace() {
    let sim = sim_with_auth(
        "  - { id: fresh, not_found_for: 400ms, timeline: [ { status: RUNNING, for: 600ms }, { status: SUCCESS } ] }\n",
    )
    .await;
    let out = run(
        &wait_args(&sim.base_url(), &["fresh"], "10s", &[]),
        &aksk_env(),
    )
    .await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(job(&report, "fresh")["outcome"], "succeeded");
    assert!(sim.stats().jobs["fresh"].requests >= 2);
    sim.shutdown().await;
}

/// `pending_payment: success` turns an unpaid order into a success; the default keeps waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_payment_follows_the_criteria() {
    let sim = sim_with_auth("  - { id: unpaid, status: PENDING_PAYMENT }\n").await;
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__PENDING_PAYMENT", "success"));
    let out = run(&wait_args(&sim.base_url(), &["unpaid"], "10s", &[]), &env).await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert_eq!(job(&json(&out.stdout), "unpaid")["outcome"], "succeeded");

    let out = run(
        &wait_args(&sim.base_url(), &["unpaid"], "400ms", &[]),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 124, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(job(&report, "unpaid")["outcome"], "timed_out");
    assert_eq!(job(&report, "unpaid")["status"], "PENDING_PAYMENT");
    sim.shutdown().await;
}

/// The other credential families: `OS_ACCESS_KEY` + a secret key read from `OS_SECRET_KEY_FILE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn os_access_key_and_secret_key_file_are_accepted() {
    let sim = sim_with_auth("  - { id: fam, status: SUCCESS }\n").await;
    let dir = tempfile::tempdir().unwrap();
    let sk_file = crate::support::write_file(dir.path(), "sk", &format!("{SK}\n"));
    let env = [
        ("OS_ACCESS_KEY", AK),
        ("OS_SECRET_KEY_FILE", crate::support::s(&sk_file)),
    ];
    let out = run(&wait_args(&sim.base_url(), &["fam"], "10s", &["-vv"]), &env).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert_eq!(sim.stats().rejected_auth, 0);
    assert!(!out.all().contains(SK) && !out.all().contains(AK));
    sim.shutdown().await;
}

/// Standard output is not a terminal here, so without `--output` the result is the JSON report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_defaults_to_json_when_stdout_is_not_a_terminal() {
    let sim = sim_with_auth("  - { id: plain, status: SUCCESS }\n").await;
    let mut args = wait_args(&sim.base_url(), &["plain"], "10s", &[]);
    let at = args.iter().position(|a| a == "--output").unwrap();
    args.drain(at..at + 2);
    let out = run(&args, &aksk_env()).await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert_eq!(json(&out.stdout)["result"], "success");
    sim.shutdown().await;
}

/// The API accepts the connection but never answers: by the deadline the job never had a
/// state to be pending in, so (as for a refused connection) it should be errored, exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_that_never_answers_is_errored_exit_3() {
    let (endpoint, _) = crate::support::black_hole().await;
    let out = run(&wait_args(&endpoint, &["mute"], "1s", &[]), &aksk_env()).await;
    assert_eq!(
        out.code, 3,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let report = json(&out.stdout);
    assert_eq!(job(&report, "mute")["outcome"], "errored");
    assert_eq!(report["result"], "error");
}

/// The adaptive schedule remembers how long each `job_type` took in
/// `$XDG_CACHE_HOME/jobwait/durations.json`; `--poll-cache off` writes nothing; a cache file
/// that is garbage changes nothing but what is learned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_type_durations_are_remembered_in_the_cache_file_unless_off() {
    let sim = sim_with_auth(
        r#"
  - id: vol1
    job_type: createVolume
    timeline: [ { status: RUNNING, for: 300ms }, { status: SUCCESS } ]
  - id: vol2
    job_type: createVolume
    timeline: [ { status: RUNNING, for: 500ms }, { status: SUCCESS } ]
"#,
    )
    .await;
    let jobs = ["evs:vol1", "evs:vol2"];
    let cache_home = tempfile::tempdir().unwrap();
    let home = cache_home.path().to_str().unwrap();
    let mut env = aksk_env();
    env.push(("XDG_CACHE_HOME", home));

    let off = run(
        &wait_args(&sim.base_url(), &jobs, "30s", &["--poll-cache", "off"]),
        &env,
    )
    .await;
    assert_eq!(off.code, 0, "stderr:\n{}", off.stderr);
    assert!(
        std::fs::read_dir(cache_home.path())
            .unwrap()
            .next()
            .is_none(),
        "off: nothing written"
    );

    let file = cache_home.path().join("jobwait/durations.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"{\"version\":1,\"types\":{\"x\":\xff}}").unwrap();
    let out = run(&wait_args(&sim.base_url(), &jobs, "30s", &[]), &env).await;
    assert_eq!(out.code, 0, "a garbage cache is ignored:\n{}", out.stderr);
    let cache = json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(cache["version"], 1);
    let volume = &cache["types"]["createVolume"];
    assert!(
        volume["shortest_ms"].as_u64().unwrap() <= volume["longest_ms"].as_u64().unwrap(),
        "{cache}"
    );
    assert!(volume["longest_ms"].as_u64().unwrap() < 5_000, "{cache}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_poll_cache_path_is_a_usage_error_naming_the_key() {
    let out = run(
        &[
            "wait",
            "j1",
            "--endpoint",
            "http://127.0.0.1:9",
            "--project-id",
            "p1",
            "--poll-cache",
            " ",
        ],
        &aksk_env(),
    )
    .await;
    crate::support::assert_usage_error(&out, &["poll.cache", "--poll-cache"]);
}
