//! A service described in the spec (`services.<name>`), waited on end to end against the
//! simulator serving the same description: success with its entities as outputs, failure with
//! the reason at its pointer, an unknown id under `not_found_grace`, words outside a `pending`
//! list under `unknown_status`, a description standing in for a built-in prefix, `validate`'s
//! URL and words, and every broken description refused with exit 2 and its key.

use serde_json::json;

use crate::support::*;

/// DMS tasks, as the issue describes them.
const DMS: &str = "  dms:
    path: /v2/{project_id}/instances/INSTANCE/tasks/{job_id}
    status: /tasks/0/status
    success: [SUCCESS]
    failure: [FAILED]
    fail_reason: /tasks/0/message
    entities: /tasks/0/ids
    sub_jobs: /tasks/0/steps
";

/// The same API as a spec's `services` and a scenario's.
fn scenario(jobs: &str) -> String {
    format!(
        "project_id: {PROJECT}\nauth: {{ ak: {AK}, sk: {SK} }}\nservices:\n{DMS}  strict:
    path: /v1/{{project_id}}/tasks?task_id={{job_id}}
    status: /state
    success: [done]
    failure: [broken]
    pending: [queued, working]
  rds:
    path: /v3/{{project_id}}/jobs?id={{job_id}}
    status: /job/state
    success: [ok]
    failure: [ko]
jobs:\n{jobs}"
    )
}

const JOBS: &str =
    "  - { id: 8abfa7b272adc5b40172b73130065ae7, service: dms, job_type: createTopic,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { topic_id: [t-1, t-2], name: orders },
      sub_jobs: [ { id: step-1, status: SUCCESS }, { id: step-2, status: SUCCESS } ] }
  - { id: dms-bad, service: dms, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: broker quota exceeded }
  - { id: odd, service: strict, timeline: [ { status: RUNNING, for: 100ms }, { status: frozen } ] }
  - { id: db-1, service: rds, timeline: [ { status: RUNNING, for: 100ms }, { status: SUCCESS } ] }
";

fn spec(dir: &std::path::Path, url: &str, jobs: &str, extra: &str) -> String {
    let services = scenario("").replace(&format!("project_id: {PROJECT}\n"), "");
    let services = services
        .split_once("services:\n")
        .unwrap()
        .1
        .trim_end_matches("jobs:\n");
    let text = format!(
        "endpoint: {url}\nproject_id: {PROJECT}\ntimeout: 20s\npoll: {{ interval: 50ms, max_interval: 200ms }}\n{extra}services:\n{services}jobs: [{jobs}]\n"
    );
    s(&write_file(dir, "spec.yaml", &text)).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_described_service_is_waited_on_like_a_built_in_one() {
    let sim = sim(&scenario(JOBS)).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let spec = spec(
        dir.path(),
        &sim.base_url(),
        "dms:8abfa7b272adc5b40172b73130065ae7, rds:db-1",
        "",
    );
    let mut env = aksk_env();
    env.extend([("GITHUB_OUTPUT", s(&output)), ("GITHUB_ACTIONS", "true")]);
    let out = run(&["-f", &spec, "--output", "json"], &env).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_valid_report(&report).await;
    let j = job(&report, "8abfa7b272adc5b40172b73130065ae7");
    assert_eq!(j["service"], "dms");
    assert_eq!(j["outcome"], "succeeded", "{j:#}");
    assert_eq!(j["status"], "SUCCESS");
    assert_eq!(
        j["sub_jobs"],
        json!({"total": 2, "succeeded": 2, "failed": 0, "running": 0})
    );
    assert_eq!(j["entities"], json!({ "topic_id": ["t-1", "t-2"] }));
    // `rds` described in the spec reads the description's words, at the built-in's host.
    assert_eq!(job(&report, "db-1")["outcome"], "succeeded");
    let outputs =
        jobwait::report::github::parse_runner_outputs(&std::fs::read_to_string(&output).unwrap())
            .unwrap();
    assert_eq!(outputs["topic_ids"], "t-1,t-2");
    assert_eq!(sim.stats().rejected_auth, 0, "signed with its path");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_described_service_fails_errors_and_follows_unknown_status() {
    let sim = sim(&scenario(JOBS)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        &sim.base_url(),
        "dms:dms-bad, strict:odd, dms:nosuchtask",
        "success: { unknown_status: fail, not_found_grace: 300ms }\n",
    );
    let out = run(&["-f", &spec, "--output", "json"], &aksk_env()).await;

    // A failure outranks an error in the exit code.
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let bad = job(&report, "dms-bad");
    assert_eq!(bad["outcome"], "failed", "{bad:#}");
    assert_eq!(bad["fail_reason"], "broker quota exceeded");
    let odd = job(&report, "odd");
    assert_eq!(odd["outcome"], "failed", "{odd:#}");
    assert!(
        odd["reason"].as_str().unwrap().contains("frozen"),
        "{odd:#}"
    );
    let missing = job(&report, "nosuchtask");
    assert_eq!(missing["outcome"], "errored", "{missing:#}");
    assert!(
        missing["reason"].as_str().unwrap().contains("SIM.0404"),
        "{missing:#}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_shows_a_described_services_url_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "https://{service}.eu-de.example.com",
        "dms:t1, strict:t2",
        "",
    );
    let out = run(&["validate", "-f", &spec], &aksk_env()).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for want in [
        &format!("GET https://dms.eu-de.example.com/v2/{PROJECT}/instances/INSTANCE/tasks/t1")[..],
        &format!("GET https://strict.eu-de.example.com/v1/{PROJECT}/tasks?task_id=t2"),
        "statuses: success SUCCESS; failure FAILED; pending any other word",
        "statuses: success done; failure broken; pending queued, working (other words: success.unknown_status)",
    ] {
        assert!(out.stdout.contains(want), "{want} not in\n{}", out.stdout);
    }
}

/// `endpoints.<name>` reaches a described service, `_` for `-` in a variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_described_services_endpoint_is_keyed_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "cloud: otc\nregion: eu-de\nproject_id: {PROJECT}\nservices:\n  my-tasks:\n    path: /v1/{{project_id}}/t/{{job_id}}\n    status: /s\n    success: [ok]\n    failure: [ko]\njobs: [my-tasks:a]\n"
    );
    let spec = write_file(dir.path(), "spec.yaml", &text);
    let out = run(&["validate", "-f", s(&spec)], &aksk_env()).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "https://my-tasks.eu-de.otc.t-systems.com/v1/{PROJECT}/t/a"
        )),
        "{}",
        out.stdout
    );
    let mut env = aksk_env();
    env.push((
        "JOBWAIT_ENDPOINTS__MY_TASKS",
        "https://tasks.example:8443/base",
    ));
    let out = run(&["validate", "-f", s(&spec)], &env).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("https://tasks.example:8443/base/v1/{PROJECT}/t/a")),
        "{}",
        out.stdout
    );
}

/// Each broken description: exit 2, one line naming the key under `services.<name>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_description_is_a_usage_error_naming_its_key() {
    let good = "    path: /v2/{project_id}/tasks/{job_id}\n    status: /status\n    success: [SUCCESS]\n    failure: [FAILED]\n";
    for (name, description, key, why) in [
        (
            "dms",
            good.replace("/status", "status"),
            "services.dms.status",
            "JSON Pointer",
        ),
        (
            "dms",
            good.replace("/status", "/a~2"),
            "services.dms.status",
            "`~0`",
        ),
        (
            "dms",
            good.replace("/tasks/{job_id}", "/tasks"),
            "services.dms.path",
            "{job_id}",
        ),
        (
            "dms",
            good.replace("{project_id}", "{region}"),
            "services.dms.path",
            "placeholders",
        ),
        (
            "dms",
            good.replace("[SUCCESS]", "[]"),
            "services.dms.success",
            "at least one",
        ),
        (
            "dms",
            good.replace("[FAILED]", "[success]"),
            "services.dms.failure",
            "also in `success`",
        ),
        (
            "dms",
            format!("{good}    fail_reason: message\n"),
            "services.dms.fail_reason",
            "JSON Pointer",
        ),
        (
            "dms",
            format!("{good}    sub_job: /steps\n"),
            "services.dms",
            "sub_job",
        ),
        ("iam", good.to_owned(), "services.iam", "not a service name"),
        (
            "Bad_Name",
            good.to_owned(),
            "services.Bad_Name",
            "not a service name",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "endpoint: https://x.example\nproject_id: {PROJECT}\nservices:\n  {name}:\n{description}jobs: [ecs:j1]\n"
        );
        let spec = write_file(dir.path(), "spec.yaml", &text);
        let out = run(&["validate", "-f", s(&spec)], &aksk_env()).await;
        assert_usage_error(&out, &[key, why]);
    }
    // A job of a service that is neither built in nor described.
    let dir = tempfile::tempdir().unwrap();
    let text = format!("endpoint: https://x.example\nproject_id: {PROJECT}\njobs: [mq:j1]\n");
    let spec = write_file(dir.path(), "spec.yaml", &text);
    let out = run(&["validate", "-f", s(&spec)], &aksk_env()).await;
    assert_usage_error(&out, &["jobs.0", "unknown service `mq`", "services"]);
}
