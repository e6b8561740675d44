//! Success criteria end to end, against the simulator on loopback: the verdicts of issue 3's
//! acceptance list, each through the real binary.

use serde_json::{json, Value};

use crate::support::*;

/// A batch of 4 servers whose main job runs for 3 s; one sub-job fails at 300 ms.
const BATCH: &str = "\
- id: batch
  job_type: createServer
  timeline: [{ status: RUNNING, for: 3s }, { status: FAIL }]
  error_code: Ecs.0000
  fail_reason: 1 of 4 servers failed
  sub_jobs:
    - { id: s1, job_type: createSingleServer, timeline: [{ status: RUNNING, for: 200ms }, { status: SUCCESS }], entities: { server_id: srv-1 } }
    - { id: s2, job_type: createSingleServer, timeline: [{ status: RUNNING, for: 300ms }, { status: FAIL }], error_code: Ecs.0013, fail_reason: Insufficient EIP quota, entities: { errorcode_message: Insufficient EIP quota } }
    - { id: s3, job_type: createSingleServer, timeline: [{ status: RUNNING, for: 500ms }, { status: SUCCESS }], entities: { server_id: srv-3 } }
    - { id: s4, job_type: createSingleServer, timeline: [{ status: RUNNING, for: 700ms }, { status: SUCCESS }], entities: { server_id: srv-4 } }
";

fn spec(dir: &std::path::Path, url: &str, success: &str) -> std::path::PathBuf {
    write_file(
        dir,
        "spec.yaml",
        &format!(
            "endpoint: {url}\nproject_id: {PROJECT}\ntimeout: 10s\npoll: {{ interval: 50ms, max_interval: 200ms }}\n\
             output: json\nsuccess: {success}\njobs: [ecs:batch]\n"
        ),
    )
}

/// Waits on the batch with these spec-wide criteria; the exit code and the report.
async fn wait_on_batch(success: &str) -> (i32, Value) {
    let sim = sim_with_auth(BATCH).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), &sim.base_url(), success);
    let out = run(&["-f", s(&spec)], &aksk_env()).await;
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    (out.code, json(&out.stdout))
}

#[tokio::test]
async fn all_fails_a_batch_at_its_first_failed_sub_job_before_the_main_job_ends() {
    let (code, report) = wait_on_batch("{ sub_jobs: all }").await;
    assert_eq!(code, 1);
    let job = job(&report, "batch");
    assert_eq!(job["outcome"], "failed");
    // Decided before the main job's 3 s were up, measured by the simulator's clock rather than
    // this machine's speed: the last document read still said RUNNING.
    assert_eq!(
        job["status"], "RUNNING",
        "decided while the main job still ran"
    );
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains("Ecs.0013 Insufficient EIP quota (sub-job s2)"),
        "{}",
        job["reason"]
    );
    assert_eq!(job["failures"][0]["job_id"], "s2");
    assert_eq!(job["failures"][0]["error_code"], "Ecs.0013");
    assert_eq!(
        job["failures"][0]["errorcode_message"],
        "Insufficient EIP quota"
    );
}

#[tokio::test]
async fn at_least_succeeds_a_batch_whose_main_job_failed() {
    let (code, report) = wait_on_batch("{ sub_jobs: { at_least: 3 } }").await;
    assert_eq!(code, 0);
    let job = job(&report, "batch");
    assert_eq!(job["outcome"], "succeeded");
    assert_eq!(job["status"], "FAIL");
    assert_eq!(
        job["reason"],
        "FAIL, 3/4 sub-jobs succeeded (at_least 3): Ecs.0000 1 of 4 servers failed"
    );
    assert_eq!(
        job["sub_jobs"],
        json!({"total": 4, "succeeded": 3, "failed": 1, "running": 0})
    );
    assert_eq!(
        job["entities"]["server_id"],
        json!(["srv-1", "srv-3", "srv-4"])
    );
    assert_eq!(job["failures"][0]["error_code"], "Ecs.0013");
    assert_eq!(
        report["entities"]["server_id"],
        json!(["srv-1", "srv-3", "srv-4"])
    );
}

#[tokio::test]
async fn at_least_fails_early_once_it_can_no_longer_be_met() {
    let (code, report) = wait_on_batch("{ sub_jobs: { at_least: 4 } }").await;
    assert_eq!(code, 1);
    assert_eq!(job(&report, "batch")["status"], "RUNNING");
    assert!(job(&report, "batch")["reason"]
        .as_str()
        .unwrap()
        .contains("no longer possible"));
}

#[tokio::test]
async fn pending_payment_waits_succeeds_or_fails_by_policy() {
    let sim =
        sim_with_auth("- { id: order, job_type: createServer, status: PENDING_PAYMENT }\n").await;
    let url = sim.base_url();
    for (policy, code, outcome) in [
        ("wait", 124, "timed_out"),
        ("success", 0, "succeeded"),
        ("fail", 1, "failed"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let spec = write_file(
            dir.path(),
            "spec.yaml",
            &format!("endpoint: {url}\nproject_id: {PROJECT}\ntimeout: 1s\npoll: {{ interval: 50ms }}\nsuccess: {{ pending_payment: {policy} }}\njobs: [order]\n"),
        );
        let out = run(&["-f", s(&spec), "--output", "json"], &aksk_env()).await;
        assert_eq!(out.code, code, "{policy}: {}", out.stderr);
        let report: Value = json(&out.stdout);
        assert_eq!(job(&report, "order")["outcome"], outcome, "{policy}");
        assert!(
            job(&report, "order")["reason"]
                .as_str()
                .unwrap()
                .contains("not paid"),
            "{policy}"
        );
    }
}

#[tokio::test]
async fn confirm_job_type_and_unknown_status_through_the_binary() {
    let sim = sim_with_auth(
        "- { id: attach, job_type: attachVolume, timeline: [{ status: SUCCESS, for: 100ms }, { status: RUNNING, for: 300ms }, { status: SUCCESS }] }\n\
         - { id: other, job_type: createServer, status: SUCCESS }\n\
         - { id: odd, job_type: createServer, status: ROLLING_BACK }\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        &format!(
            "endpoint: {}\nproject_id: {PROJECT}\ntimeout: 5s\npoll: {{ interval: 50ms, max_interval: 100ms }}\njobs:\n\
             - {{ id: attach, success: {{ confirm: 3, job_type: attachVolume }} }}\n\
             - {{ id: other, success: {{ job_type: attachVolume }} }}\n\
             - {{ id: odd, success: {{ unknown_status: fail }} }}\n",
            sim.base_url()
        ),
    );
    let out = run(&["-f", s(&spec), "--output", "json"], &aksk_env()).await;
    let report = json(&out.stdout);
    let attach = job(&report, "attach");
    assert_eq!(attach["outcome"], "succeeded");
    assert!(
        attach["reason"]
            .as_str()
            .unwrap()
            .ends_with("(read 3 times in a row)"),
        "{}",
        attach["reason"]
    );
    // At least the three confirming reads. Whether the first read also lands in the 100 ms
    // SUCCESS blip depends on how fast the binary starts, so that the blip is not trusted is
    // checked on a paused clock (`wait::tests::confirm_requires_the_terminal_status_n_reads_in_a_row`).
    assert!(
        attach["polls"].as_u64().unwrap() >= 3,
        "{}",
        attach["polls"]
    );
    assert_eq!(job(&report, "other")["outcome"], "errored");
    assert_eq!(job(&report, "odd")["outcome"], "failed");
    assert_eq!(out.code, 1, "failed outranks errored");
}
