//! `jobwait demo` (simulator + wait in one process) and `jobwait simulate` (the simulator as a
//! server for pipelines' own tests).

use std::time::Duration;

use crate::support::{
    job, json, run, s, send_signal, spawn, wait_args, write_file, PROJECT, TOKEN,
};

/// The demo's five jobs: (name, service:id).
const DEMO_JOBS: [(&str, &str); 5] = [
    ("web-servers", "ecs:ff80808288d41e1b018a0b1c2d3e4f50"),
    ("data-volume", "evs:4010a32d535527910153552b492c0002"),
    ("workers", "ecs:ff80808288d41e1b018a0b1c2d3e4f60"),
    ("golden-image", "ims:2c9eb2c5544cbf6101544f0602af2b90"),
    ("orders-db", "rds:31b8ae23-c687-4d80-b7b4-42a66c9bb886"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_exits_0_and_names_all_five_jobs() {
    let out = run(&["demo"], &[]).await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    for (name, reference) in DEMO_JOBS {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(reference))
            .unwrap_or_else(|| panic!("{reference} is not on stdout:\n{}", out.stdout));
        assert!(line.contains(name), "{line}");
    }
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("failure (exit 1): 4 succeeded, 1 failed of 5 jobs")),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_json_report_says_exit_1_with_one_failure() {
    let out = run(&["demo", "--output", "json", "--quiet"], &[]).await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["result"], "failure");
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["succeeded"], 4);
    assert_eq!(report["summary"]["total"], 5);
    for (name, reference) in DEMO_JOBS {
        let id = reference.split_once(':').unwrap().1;
        assert_eq!(job(&report, id)["name"], name);
    }
    assert_eq!(
        job(&report, "2c9eb2c5544cbf6101544f0602af2b90")["outcome"],
        "failed"
    );
    // The RDS job, read from the database task center's document: its instance is an output.
    let rds = job(&report, "31b8ae23-c687-4d80-b7b4-42a66c9bb886");
    assert_eq!(rds["outcome"], "succeeded");
    assert_eq!(rds["service"], "rds");
    assert_eq!(rds["job_type"], "CreateMysqlSingleHAInstance");
    assert_eq!(
        rds["entities"],
        serde_json::json!({ "instance_id": ["a48e43ff268f4c0e879652d65e63d0fbin01"] })
    );
}

/// `simulate` prints its URL first, serves a real wait, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_prints_its_url_serves_a_wait_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_file(
        dir.path(),
        "scenario.yaml",
        &format!(
            "project_id: {PROJECT}\nauth: {{ token: {TOKEN} }}\njobs:\n  - {{ id: simjob, timeline: [ {{ status: RUNNING, for: 200ms }}, {{ status: SUCCESS }} ], entities: {{ server_id: srv-sim }} }}\n"
        ),
    );
    let mut server = spawn(
        &[
            "simulate",
            "--scenario",
            s(&scenario),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let pid = server.pid();
    let first = server
        .next_stdout_line(Duration::from_secs(10))
        .await
        .expect("simulate closed stdout without printing its URL");
    let url = first.trim_end().to_owned();
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("first line is not the base URL: {url:?}"));
    assert!(
        port.parse::<u16>().is_ok_and(|p| p != 0),
        "first line is not the base URL: {url:?}"
    );

    let out = run(
        &wait_args(&url, &["simjob"], "10s", &[]),
        &[("JOBWAIT_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(job(&report, "simjob")["outcome"], "succeeded");
    assert_eq!(report["entities"]["server_id"][0], "srv-sim");

    send_signal(pid, "TERM");
    let stopped = server.finish(Duration::from_secs(5)).await;
    assert_eq!(stopped.code, 0, "stderr:\n{}", stopped.stderr);
    // Nothing else on stdout: it is for the URL only.
    assert_eq!(stopped.stdout, "");
    assert!(!stopped.stderr.contains("panicked"), "{}", stopped.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_with_an_invalid_scenario_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_file(
        dir.path(),
        "scenario.yaml",
        "jobs: [ { id: j1, timeline: [] } ]\n",
    );
    let out = run(
        &[
            "simulate",
            "--scenario",
            s(&scenario),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    )
    .await;
    crate::support::assert_usage_error(&out, &[s(&scenario), "j1", "timeline"]);
}
