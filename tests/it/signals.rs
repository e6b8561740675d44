//! SIGTERM / SIGINT during a wait: the wait stops promptly, every job is in the report as
//! cancelled, the report file is complete, and the exit code is 143 / 130.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    aksk_env, assert_valid_report, job, json, s, send_signal, sim_with_auth, spawn, wait_args,
    wait_for_requests,
};

/// How long the process may take to exit after the signal (the issue: within one second).
const EXIT_WITHIN: Duration = Duration::from_secs(1);

/// Starts a 60 s wait on a job that runs forever (plus one that already succeeded), sends
/// `signal` once the simulator has seen a poll, and returns the exit code, the stdout
/// document and the `--report` file's document.
async fn interrupted_wait(signal: &str) -> (i32, serde_json::Value, serde_json::Value) {
    let sim = sim_with_auth(
        "  - { id: endless, job_type: createServer, status: RUNNING }\n  - { id: done, status: SUCCESS, entities: { volume_id: vol-done } }\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let args = wait_args(
        &sim.base_url(),
        &["ecs:endless", "evs:done"],
        "60s",
        &["--report", s(&path)],
    );
    let child = spawn(&args, &aksk_env());
    let pid = child.pid();
    wait_for_requests(&sim, "endless", 1).await;
    wait_for_requests(&sim, "done", 1).await;

    send_signal(pid, signal);
    let out = child.finish(EXIT_WITHIN).await;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report file after SIG{signal} ({e}):\n{}", out.stderr));
    sim.shutdown().await;
    (out.code, json(&out.stdout), json(&text))
}

fn assert_interrupted(
    code: i32,
    expected: i64,
    stdout: &serde_json::Value,
    file: &serde_json::Value,
) {
    assert_eq!(i64::from(code), expected);
    assert_eq!(file, stdout, "the report file is the stdout document");
    assert_eq!(file["result"], "interrupted");
    assert_eq!(file["exit_code"], expected);
    assert_eq!(
        file["summary"],
        json!({ "total": 2, "succeeded": 1, "failed": 0, "errored": 0, "timed_out": 0, "cancelled": 1 })
    );
    let endless = job(file, "endless");
    assert_eq!(endless["outcome"], "cancelled");
    assert_eq!(endless["status"], "RUNNING", "the last status seen is kept");
    assert_eq!(job(file, "done")["outcome"], "succeeded");
    assert_eq!(file["entities"], json!({ "volume_id": ["vol-done"] }));
    assert!(
        file["elapsed_seconds"].as_f64().unwrap() < 10.0,
        "the wait did not stop at the signal: {file:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_wait_exit_143_with_a_complete_report() {
    let (code, stdout, file) = interrupted_wait("TERM").await;
    assert_interrupted(code, 143, &stdout, &file);
    assert!(
        job(&file, "endless")["reason"]
            .as_str()
            .unwrap()
            .contains("SIGTERM"),
        "{file:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_wait_exit_130_with_a_complete_report() {
    let (code, stdout, file) = interrupted_wait("INT").await;
    assert_interrupted(code, 130, &stdout, &file);
    assert!(
        job(&file, "endless")["reason"]
            .as_str()
            .unwrap()
            .contains("SIGINT"),
        "{file:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schema_accepts_an_interrupted_report() {
    let (code, _, file) = interrupted_wait("TERM").await;
    assert_eq!(code, 143);
    assert_valid_report(&file).await;
}

/// SIGTERM while the only request hangs (the API accepted the connection and never answered):
/// the in-flight request does not delay the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_hanging_request_exits_143_promptly() {
    let (endpoint, accepted) = crate::support::black_hole().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let args = wait_args(&endpoint, &["stuck"], "60s", &["--report", s(&path)]);
    let child = spawn(&args, &aksk_env());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while accepted.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no connection in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(child.pid(), "TERM");
    let out = child.finish(EXIT_WITHIN).await;

    assert_eq!(out.code, 143, "stderr:\n{}", out.stderr);
    let report = json(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(report, json(&out.stdout));
    assert_eq!(report["result"], "interrupted");
    let stuck = job(&report, "stuck");
    assert_eq!(stuck["outcome"], "cancelled");
    assert_eq!(stuck["status"], serde_json::Value::Null);
}
