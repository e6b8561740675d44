//! `jobwait wait cce:<id>` against the simulator serving CCE's job API
//! (`GET /api/v3/projects/{project_id}/jobs/{job_id}`): success with sub-jobs and the cluster id
//! as an output, a failed sub-job judged by `success.sub_jobs` as for ECS batch jobs, an unknown
//! id (404 `CCE.01404001`) under `not_found_grace`, and `validate`'s URL.

use serde_json::json;

use crate::support::*;

const CLUSTER: &str = "4d1ecb2c-229a-11e8-9c75-0255ac100ceb";

const JOBS: &str = "  - { id: cce-ok, service: cce, job_type: CreateCluster,
      timeline: [ { status: INIT, for: 100ms }, { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { cluster_id: 4d1ecb2c-229a-11e8-9c75-0255ac100ceb },
      sub_jobs: [ { id: master, job_type: InstallMaster,
                    timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ] },
                  { id: cert, job_type: CreatePSMCert, status: SUCCESS } ] }
  - { id: cce-part, service: cce, job_type: CreateNode,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { cluster_id: c-part },
      sub_jobs: [ { id: vm-1, job_type: CreateVM, status: SUCCESS },
                  { id: vm-2, job_type: CreateVM, fail_reason: insufficient quota,
                    timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ] } ] }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cce_success_with_sub_jobs_sets_cluster_ids() {
    let sim = sim_with_auth(JOBS).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let mut env = aksk_env();
    env.extend([("GITHUB_OUTPUT", s(&output)), ("GITHUB_ACTIONS", "true")]);
    let args = wait_args(&sim.base_url(), &["cce:cce-ok"], "10s", &[]);
    let out = run(&args, &env).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success");
    let j = job(&report, "cce-ok");
    assert_eq!(j["service"], "cce");
    assert_eq!(j["outcome"], "succeeded");
    assert_eq!(j["status"], "SUCCESS");
    assert_eq!(j["job_type"], "CreateCluster");
    assert_eq!(
        j["sub_jobs"],
        json!({"total": 2, "succeeded": 2, "failed": 0, "running": 0})
    );
    for key in ["begin_time", "end_time"] {
        let t = j[key].as_str().unwrap_or_else(|| panic!("{key}: {j:#}"));
        assert!(t.ends_with('Z') && t.contains('T'), "RFC 3339 UTC: {t}");
    }
    assert_eq!(j["entities"], json!({ "cluster_id": [CLUSTER] }));
    let outputs =
        jobwait::report::github::parse_runner_outputs(&std::fs::read_to_string(&output).unwrap())
            .unwrap();
    assert_eq!(outputs["cluster_ids"], CLUSTER);
    assert!(sim.stats().jobs["cce-ok"].requests >= 2);
    assert_eq!(sim.stats().rejected_auth, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cce_failed_sub_job_fails_the_job_under_all() {
    let sim = sim_with_auth(JOBS).await;
    let args = wait_args(&sim.base_url(), &["cce:cce-part"], "10s", &[]);
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__SUB_JOBS", "all"));
    let out = run(&args, &env).await;

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let j = job(&report, "cce-part");
    assert_eq!(j["outcome"], "failed", "{j:#}");
    assert_eq!(
        j["sub_jobs"],
        json!({"total": 2, "succeeded": 1, "failed": 1, "running": 0})
    );
    assert!(
        report.to_string().contains("insufficient quota"),
        "the failed sub-job's reason is reported: {report:#}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cce_failed_sub_job_passes_under_at_least() {
    let sim = sim_with_auth(JOBS).await;
    let args = wait_args(
        &sim.base_url(),
        &["cce:cce-part"],
        "10s",
        &["--sub-jobs", "at-least=1"],
    );
    let out = run(&args, &aksk_env()).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let j = job(&report, "cce-part");
    assert_eq!(j["outcome"], "succeeded", "{j:#}");
    assert_eq!(j["entities"], json!({ "cluster_id": ["c-part"] }));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cce_unknown_job_is_errored_after_the_not_found_grace() {
    // A classic job is not found at CCE's path either.
    let sim = sim_with_auth(&format!("{JOBS}  - {{ id: classic, status: SUCCESS }}\n")).await;
    let args = wait_args(
        &sim.base_url(),
        &["cce:nosuchjob", "cce:classic"],
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
        assert!(reason.contains("CCE.01404001"), "{reason}");
    }
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() < 5.0,
        "the grace, not the deadline, should end it: {report:#}"
    );
    assert_eq!(sim.stats().jobs["classic"].requests, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_shows_the_cce_url() {
    let out = run(
        &[
            "validate",
            "cce:354331b2c-229a",
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
        out.stdout.contains(&format!(
            "https://cce.eu-de.otc.t-systems.com/api/v3/projects/{PROJECT}/jobs/354331b2c-229a"
        )) || out.stdout.contains(
            "https://cce.eu-de.otc.t-systems.com/api/v3/projects/{project_id}/jobs/354331b2c-229a"
        ),
        "{}",
        out.stdout
    );
}
