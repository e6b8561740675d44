//! The report in its three forms: `--report FILE` (the same document as stdout), `--output text`
//! (a table and a summary line) and the JSON Schema every report validates against.

use serde_json::json;

use crate::support::{
    aksk_env, assert_valid_report, job, json, report_schema, run, s, sim_with_auth, wait_args,
};

/// A failure and a success: B fails quickly, A succeeds.
const FAIL_AND_SUCCEED: &str = r#"
  - { id: okjob, job_type: createServer, timeline: [ { status: RUNNING, for: 150ms }, { status: SUCCESS } ], entities: { server_id: srv-ok } }
  - { id: badjob, job_type: createImage, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ], error_code: IMS.0097, fail_reason: "server not stopped" }
"#;

/// Runs a wait with `--report FILE` and returns (exit code, stdout document, file document).
async fn wait_with_report_file(
    yaml: &str,
    jobs: &[&str],
    timeout: &str,
) -> (i32, serde_json::Value, serde_json::Value) {
    let sim = sim_with_auth(yaml).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join("report.json");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let args = wait_args(&sim.base_url(), jobs, timeout, &["--report", s(&path)]);
    let out = run(&args, &aksk_env()).await;
    let file = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report file ({e}); stderr:\n{}", out.stderr));
    // Written atomically: nothing but the report is left in the directory.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json"], "temporary files left behind");
    sim.shutdown().await;
    (out.code, json(&out.stdout), json(&file))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_file_is_the_stdout_document_for_a_failed_run() {
    let (code, stdout, file) =
        wait_with_report_file(FAIL_AND_SUCCEED, &["okjob", "ims:badjob"], "10s").await;
    assert_eq!(code, 1);
    assert_eq!(file, stdout);
    assert_eq!(file["result"], "failure");
    assert_eq!(file["exit_code"], 1);
    assert_eq!(file["summary"]["failed"], 1);
    assert_eq!(file["summary"]["succeeded"], 1);
    assert_eq!(job(&file, "badjob")["error_code"], "IMS.0097");
    assert_eq!(job(&file, "badjob")["fail_reason"], "server not stopped");
    assert_eq!(file["entities"], json!({ "server_id": ["srv-ok"] }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_file_is_the_stdout_document_for_a_timed_out_run() {
    let yaml = "  - { id: forever, job_type: createServer, status: RUNNING }\n  - { id: quick, status: SUCCESS }\n";
    let (code, stdout, file) = wait_with_report_file(yaml, &["forever", "quick"], "600ms").await;
    assert_eq!(code, 124);
    assert_eq!(file, stdout);
    assert_eq!(file["result"], "timeout");
    assert_eq!(file["exit_code"], 124);
    assert_eq!(
        file["summary"],
        json!({ "total": 2, "succeeded": 1, "failed": 0, "errored": 0, "timed_out": 1, "cancelled": 0 })
    );
    // Every job is in the report, also on timeout.
    assert_eq!(job(&file, "forever")["outcome"], "timed_out");
    assert_eq!(job(&file, "forever")["status"], "RUNNING");
    assert_eq!(job(&file, "quick")["outcome"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_output_names_every_job_and_ends_with_a_summary_line() {
    let sim = sim_with_auth(FAIL_AND_SUCCEED).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let mut args = wait_args(
        &sim.base_url(),
        &["okjob", "ims:badjob"],
        "10s",
        &["--report", s(&path)],
    );
    let at = args.iter().position(|a| a == "json").unwrap();
    args[at] = "text".into();
    let out = run(&args, &aksk_env()).await;
    // The file is the JSON report whatever stdout's format.
    let file = json(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(file["result"], "failure");
    assert_eq!(file["summary"]["total"], 2);

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        !out.stdout.trim_start().starts_with('{'),
        "text output, not JSON:\n{}",
        out.stdout
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    let ok = lines
        .iter()
        .find(|l| l.contains("ecs:okjob"))
        .unwrap_or_else(|| panic!("no line for ecs:okjob:\n{}", out.stdout));
    assert!(ok.starts_with("succeeded"), "{ok}");
    let bad = lines
        .iter()
        .find(|l| l.contains("ims:badjob"))
        .unwrap_or_else(|| panic!("no line for ims:badjob:\n{}", out.stdout));
    assert!(bad.starts_with("FAILED"), "{bad}");
    assert!(out.stdout.contains("IMS.0097"), "{}", out.stdout);
    assert!(out.stdout.contains("srv-ok"), "{}", out.stdout);

    let summary = lines.iter().rev().find(|l| !l.trim().is_empty()).unwrap();
    let rest = summary
        .strip_prefix("failure (exit 1): 1 succeeded, 1 failed of 2 jobs, in ")
        .unwrap_or_else(|| panic!("unexpected summary line: {summary}"));
    let secs = rest
        .strip_suffix('s')
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("unexpected summary line: {summary}"));
    assert!(secs < 10.0, "{summary}");
    sim.shutdown().await;
}

// ---- the JSON Schema ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_report_schema_is_what_the_binary_prints() {
    let committed = crate::support::repo_root().join("schema/report.schema.json");
    let Ok(text) = std::fs::read_to_string(&committed) else {
        return; // not committed yet: the other schema tests use the binary's
    };
    let out = run(&["schema", "report"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        json(&out.stdout),
        json(&text),
        "schema/report.schema.json is stale"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schema_rejects_a_broken_report() {
    // The schema is not vacuous: a wrong result, a missing key and a wrong type are caught.
    let schema = report_schema().await;
    let validator = jsonschema::validator_for(&schema).unwrap();
    let sim = sim_with_auth("  - { id: s1, status: SUCCESS }\n").await;
    let out = run(
        &wait_args(&sim.base_url(), &["s1"], "10s", &[]),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let good = json(&out.stdout);
    assert!(validator.is_valid(&good));
    let mut bad = good.clone();
    bad["result"] = json!("bogus");
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("summary");
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["jobs"][0]["outcome"] = json!("exploded");
    assert!(!validator.is_valid(&bad));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schema_accepts_a_success_report() {
    let sim = sim_with_auth(
        r#"
  - id: batch
    job_type: createServer
    sub_jobs:
      - { id: b1, status: SUCCESS, entities: { server_id: srv-b1, nic_id: nic-b1 } }
      - { id: b2, timeline: [ { status: RUNNING, for: 100ms }, { status: SUCCESS } ], entities: { server_id: srv-b2 } }
"#,
    )
    .await;
    let out = run(
        &wait_args(&sim.base_url(), &["batch"], "10s", &[]),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success");
    assert_valid_report(&report).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schema_accepts_a_failure_report() {
    // A batch with a failed sub-job: `failures` is filled in.
    let sim = sim_with_auth(
        r#"
  - id: batch
    job_type: createServer
    sub_jobs:
      - { id: f1, status: SUCCESS, entities: { server_id: srv-f1 } }
      - { id: f2, job_type: createSingleServer, status: FAIL, error_code: Ecs.0013, fail_reason: "Insufficient EIP quota" }
"#,
    )
    .await;
    let out = run(
        &wait_args(&sim.base_url(), &["batch"], "10s", &[]),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "failure");
    let batch = job(&report, "batch");
    assert_eq!(batch["failures"][0]["job_id"], "f2");
    assert_eq!(batch["failures"][0]["error_code"], "Ecs.0013");
    assert_valid_report(&report).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schema_accepts_a_timeout_report() {
    let sim = sim_with_auth("  - { id: t1, status: RUNNING }\n").await;
    let out = run(
        &wait_args(&sim.base_url(), &["t1"], "500ms", &[]),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 124, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "timeout");
    assert_valid_report(&report).await;
    sim.shutdown().await;
}
