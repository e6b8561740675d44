//! `jobwait wait rds:<id>` against the simulator serving the database task center
//! (`GET /v3/{project_id}/jobs?id=`): success with its instance id as an output, failure with the
//! task's `fail_reason`, an unknown id (`DBS.200543`) under `not_found_grace`, and `validate`'s URL.

use serde_json::json;

use crate::support::*;

const JOBS: &str =
    "  - { id: rds-ok, service: rds, job_type: CreateMysqlSingleHAInstance, progress: true,
      timeline: [ { status: RUNNING, for: 300ms }, { status: SUCCESS } ],
      entities: { instance_id: a48e43ff268f4c0e879652d65e63d0fbin01, instance_name: db1 } }
  - { id: rds-bad, service: rds, job_type: CreateMysqlSingleHAInstance,
      timeline: [ { status: RUNNING, for: 200ms }, { status: FAIL } ],
      fail_reason: createVM failed., entities: { instance_id: in-bad } }
  - { id: dds-ok, service: dds, job_type: Create_MongoDB, status: SUCCESS,
      entities: { instance_id: d87f5b33049144ec95f0cab0a5f22cfbin02 } }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_success_sets_instance_ids() {
    let sim = sim_with_auth(JOBS).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let mut env = aksk_env();
    env.extend([("GITHUB_OUTPUT", s(&output)), ("GITHUB_ACTIONS", "true")]);
    let args = wait_args(&sim.base_url(), &["rds:rds-ok", "dds:dds-ok"], "10s", &[]);
    let out = run(&args, &env).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success");
    let j = job(&report, "rds-ok");
    assert_eq!(j["service"], "rds");
    assert_eq!(j["outcome"], "succeeded");
    assert_eq!(j["status"], "SUCCESS");
    assert_eq!(j["job_type"], "CreateMysqlSingleHAInstance");
    assert!(
        j["begin_time"].as_str().unwrap().ends_with('Z'),
        "times are RFC 3339 UTC: {j:#}"
    );
    assert!(j["end_time"].as_str().unwrap().ends_with('Z'), "{j:#}");
    assert_eq!(
        j["entities"],
        json!({ "instance_id": ["a48e43ff268f4c0e879652d65e63d0fbin01"] })
    );
    assert_eq!(job(&report, "dds-ok")["outcome"], "succeeded");
    assert_eq!(
        report["entities"],
        json!({ "instance_id": ["a48e43ff268f4c0e879652d65e63d0fbin01",
                                "d87f5b33049144ec95f0cab0a5f22cfbin02"] })
    );
    let outputs =
        jobwait::report::github::parse_runner_outputs(&std::fs::read_to_string(&output).unwrap())
            .unwrap();
    assert_eq!(
        outputs["instance_ids"],
        "a48e43ff268f4c0e879652d65e63d0fbin01,d87f5b33049144ec95f0cab0a5f22cfbin02"
    );
    assert!(sim.stats().jobs["rds-ok"].requests >= 2);
    assert_eq!(sim.stats().rejected_auth, 0, "signed with the query");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_failure_exits_1_with_the_fail_reason() {
    let sim = sim_with_auth(JOBS).await;
    let args = wait_args(&sim.base_url(), &["rds:rds-bad"], "10s", &[]);
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let j = job(&report, "rds-bad");
    assert_eq!(j["outcome"], "failed");
    assert_eq!(j["status"], "FAIL");
    assert_eq!(j["fail_reason"], "createVM failed.");
    // As for classic jobs, only what succeeded counts as created.
    assert_eq!(j["entities"], json!({}));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_unknown_job_is_errored_after_the_not_found_grace() {
    // A classic job is not found at the task center's path either.
    let sim = sim_with_auth(&format!("{JOBS}  - {{ id: classic, status: SUCCESS }}\n")).await;
    let args = wait_args(
        &sim.base_url(),
        &["rds:nosuchjob", "rds:classic"],
        "10s",
        &[],
    );
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__NOT_FOUND_GRACE", "300ms"));
    let out = run(&args, &env).await;

    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    for id in ["nosuchjob", "classic"] {
        let j = job(&report, id);
        assert_eq!(j["outcome"], "errored", "{j:#}");
        let reason = j["reason"].as_str().unwrap();
        assert!(reason.contains("DBS.200543"), "{reason}");
    }
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() < 5.0,
        "the grace, not the deadline, should end it: {report:#}"
    );
    assert_eq!(sim.stats().jobs["classic"].requests, 0);
    sim.shutdown().await;
}

/// An error body the task center sends for a request it will never accept (here: the gateway's
/// 401 for wrong credentials) ends the job at once, with the code in the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_error_body_is_reported() {
    let sim = sim_with_auth(JOBS).await;
    let args = wait_args(&sim.base_url(), &["rds:rds-ok"], "10s", &[]);
    let out = run(
        &args,
        &[("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", "wrong")],
    )
    .await;
    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let j = job(&report, "rds-ok");
    assert_eq!(j["outcome"], "errored");
    let reason = j["reason"].as_str().unwrap();
    assert!(reason.contains("APIGW.0301"), "{reason}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_shows_the_task_center_url() {
    let out = run(
        &[
            "validate",
            "rds:31b8ae23-c687",
            "dds:x",
            "--project-id",
            PROJECT,
            "--cloud",
            "otc",
            "--region",
            "eu-de",
        ],
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("https://rds.eu-de.otc.t-systems.com/v3/{project_id}/jobs?id=31b8ae23-c687")
            || out.stdout.contains(&format!(
                "https://rds.eu-de.otc.t-systems.com/v3/{PROJECT}/jobs?id=31b8ae23-c687"
            )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("dds.eu-de.otc.t-systems.com/v3/"),
        "{}",
        out.stdout
    );
}
