//! `jobwait wait` on every job API shape beyond the classic one, RDS and CCE, against the
//! simulator serving each where and as its service does: GaussDB, TaurusDB (`gaussdb-mysql`),
//! GeminiDB (`gaussdb-nosql`), DCS, SFS Turbo, classic ELB, ELB v3 and CBR. For each: success
//! with its entity outputs (report, GitHub outputs), failure with its reason, an unknown id
//! under `not_found_grace`, an error body; then the service names in variables and the
//! plan-time answer for a job API a cloud does not document.

use serde_json::json;

use crate::support::*;

/// One job that succeeds and one that fails per service.
const JOBS: &str = "  - { id: gs-ok, service: gaussdb, job_type: CreateGaussDBV5Instance, progress: true,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { instance_id: gs-in14, instance_name: gauss-c1a3 } }
  - { id: gs-bad, service: gaussdb, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: gaussdb says no, entities: { instance_id: gs-bad-in } }
  - { id: tdb-ok, service: gaussdb-mysql, job_type: CreateMysqlInstance,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { instance_id: tdb-in07 } }
  - { id: tdb-bad, service: gaussdb-mysql, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: taurusdb says no }
  - { id: gem-ok, service: gaussdb-nosql, job_type: CreateCassandra, progress: true,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { instance_id: gem-in06 } }
  - { id: gem-bad, service: gaussdb-nosql, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: geminidb says no }
  - { id: dcs-ok, service: dcs, job_type: masterStandbySwapJob,
      timeline: [ { status: INIT, for: 100ms }, { status: RUNNING, for: 100ms }, { status: SUCCESS } ] }
  - { id: dcs-bad, service: dcs, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: dcs says no }
  - { id: sfs-ok, service: sfs-turbo, job_type: extend_share,
      timeline: [ { status: INIT, for: 100ms }, { status: RUNNING, for: 100ms }, { status: SUCCESS } ],
      sub_jobs: [ { id: sfs-sub, job_type: extend_share, status: SUCCESS } ] }
  - { id: sfs-bad, service: sfs-turbo, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      error_code: SFS.TURBO.9000, fail_reason: sfs turbo says no }
  - { id: elbc-ok, service: elb-classic, job_type: createELB,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { elb_id: elbc-1 } }
  - { id: elbc-bad, service: elb-classic, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: classic elb says no, entities: { elb_id: elbc-bad } }
  - { id: elb-ok, service: elb, job_type: cloneLoadbalancer,
      timeline: [ { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { elb_id: elb-3 },
      sub_jobs: [ { id: elb-sub, job_type: cloneListener, status: SUCCESS } ] }
  - { id: elb-bad, service: elb, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      fail_reason: elb says no }
  - { id: cbr-ok, service: cbr, job_type: backup, progress: true,
      timeline: [ { status: INIT, for: 100ms }, { status: RUNNING, for: 200ms }, { status: SUCCESS } ],
      entities: { backup_id: 0e5d0ef6-7f0a-4890-b98c-cb12490e31c1, backup_name: manualbk_1234 } }
  - { id: cbr-bad, service: cbr, timeline: [ { status: RUNNING, for: 100ms }, { status: FAIL } ],
      error_code: BackupService.6001, fail_reason: cbr says no,
      entities: { backup_id: cbr-bad-backup } }
";

/// `(service, succeeding job, failing job, the entity the success creates, its failure reason,
/// the service's answer for an unknown id)`.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

const CASES: &[Case] = &[
    (
        "gaussdb",
        "gs-ok",
        "gs-bad",
        Some(("instance_id", "gs-in14")),
        "gaussdb says no",
        "DBS.200543",
    ),
    (
        "gaussdb-mysql",
        "tdb-ok",
        "tdb-bad",
        Some(("instance_id", "tdb-in07")),
        "taurusdb says no",
        "DBS.200543",
    ),
    (
        "gaussdb-nosql",
        "gem-ok",
        "gem-bad",
        Some(("instance_id", "gem-in06")),
        "geminidb says no",
        "DBS.200543",
    ),
    ("dcs", "dcs-ok", "dcs-bad", None, "dcs says no", "SIM.0404"),
    (
        "sfs-turbo",
        "sfs-ok",
        "sfs-bad",
        None,
        "sfs turbo says no",
        "SFS.TURBO.0019",
    ),
    (
        "elb-classic",
        "elbc-ok",
        "elbc-bad",
        Some(("elb_id", "elbc-1")),
        "classic elb says no",
        "SIM.0404",
    ),
    (
        "elb",
        "elb-ok",
        "elb-bad",
        Some(("elb_id", "elb-3")),
        "elb says no",
        "SIM.0404",
    ),
    (
        "cbr",
        "cbr-ok",
        "cbr-bad",
        Some(("backup_id", "0e5d0ef6-7f0a-4890-b98c-cb12490e31c1")),
        "cbr says no",
        "BackupService.6500",
    ),
];

fn github_outputs(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    jobwait::report::github::parse_runner_outputs(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_succeeds_with_its_entities() {
    let sim = sim_with_auth(JOBS).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let mut env = aksk_env();
    env.extend([("GITHUB_OUTPUT", s(&output)), ("GITHUB_ACTIONS", "true")]);
    let refs: Vec<String> = CASES
        .iter()
        .map(|(service, ok, ..)| format!("{service}:{ok}"))
        .collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let out = run(&wait_args(&sim.base_url(), &refs, "20s", &[]), &env).await;

    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_valid_report(&report).await;
    assert_eq!(report["result"], "success");
    for (service, ok, _, entity, ..) in CASES {
        let j = job(&report, ok);
        assert_eq!(j["service"], *service, "{j:#}");
        assert_eq!(j["outcome"], "succeeded", "{j:#}");
        assert_eq!(j["status"], "SUCCESS", "{j:#}");
        for key in ["begin_time", "end_time"] {
            let t = j[key].as_str().unwrap_or_else(|| panic!("{key}: {j:#}"));
            assert!(
                t.ends_with('Z') && t.contains('T'),
                "RFC 3339 UTC: {t} ({ok})"
            );
        }
        let want = match entity {
            Some((kind, id)) => json!({ *kind: [id] }),
            None => json!({}),
        };
        assert_eq!(j["entities"], want, "{ok}");
        assert!(sim.stats().jobs[*ok].requests >= 1, "{ok} was polled");
    }
    assert_eq!(job(&report, "sfs-ok")["sub_jobs"]["total"], 1);
    assert_eq!(job(&report, "elb-ok")["sub_jobs"]["succeeded"], 1);
    assert_eq!(job(&report, "dcs-ok")["job_type"], "masterStandbySwapJob");
    assert_eq!(job(&report, "cbr-ok")["job_type"], "backup");
    let outputs = github_outputs(&output);
    assert_eq!(outputs["instance_ids"], "gs-in14,tdb-in07,gem-in06");
    assert_eq!(outputs["elb_ids"], "elbc-1,elb-3");
    assert_eq!(
        outputs["backup_ids"],
        "0e5d0ef6-7f0a-4890-b98c-cb12490e31c1"
    );
    assert_eq!(sim.stats().rejected_auth, 0, "every path is signed as sent");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_fails_with_its_reason_and_keeps_its_output_keys() {
    let sim = sim_with_auth(JOBS).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let mut env = aksk_env();
    env.extend([("GITHUB_OUTPUT", s(&output)), ("GITHUB_ACTIONS", "true")]);
    let refs: Vec<String> = CASES
        .iter()
        .map(|(service, _, bad, ..)| format!("{service}:{bad}"))
        .collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let out = run(&wait_args(&sim.base_url(), &refs, "20s", &[]), &env).await;

    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_valid_report(&report).await;
    for (_, _, bad, _, reason, _) in CASES {
        let j = job(&report, bad);
        assert_eq!(j["outcome"], "failed", "{j:#}");
        assert_eq!(j["status"], "FAIL", "{j:#}");
        assert_eq!(j["fail_reason"], *reason, "{j:#}");
        assert_eq!(j["entities"], json!({}), "only what succeeded is created");
    }
    assert_eq!(job(&report, "sfs-bad")["error_code"], "SFS.TURBO.9000");
    assert_eq!(job(&report, "cbr-bad")["error_code"], "BackupService.6001");
    // The kinds of the services waited on are outputs even when nothing was created.
    let outputs = github_outputs(&output);
    for key in ["instance_ids", "elb_ids", "backup_ids"] {
        assert_eq!(outputs.get(key).map(String::as_str), Some(""), "{key}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_errors_an_unknown_id_after_the_not_found_grace() {
    // A classic job is found at none of these paths either.
    let sim = sim_with_auth(&format!("{JOBS}  - {{ id: classic, status: SUCCESS }}\n")).await;
    let mut refs = Vec::new();
    for (service, ..) in CASES {
        refs.push(format!("{service}:nosuchjob"));
        refs.push(format!("{service}:classic"));
    }
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__NOT_FOUND_GRACE", "300ms"));
    let out = run(&wait_args(&sim.base_url(), &refs, "20s", &[]), &env).await;

    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2 * CASES.len());
    for j in jobs {
        let (.., code) = CASES
            .iter()
            .find(|(service, ..)| j["service"] == *service)
            .unwrap();
        assert_eq!(j["outcome"], "errored", "{j:#}");
        let reason = j["reason"].as_str().unwrap();
        assert!(reason.contains(code), "{code} in {reason}");
    }
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() < 10.0,
        "the grace, not the deadline, should end it: {report:#}"
    );
    assert_eq!(sim.stats().jobs["classic"].requests, 0);
    sim.shutdown().await;
}

/// GeminiDB answers an id it does not know (yet) with an empty task list: pending under the
/// grace, then an error; a job that appears within the grace is waited on as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geminidb_empty_task_list_is_an_unknown_id() {
    let sim = sim_with_auth(
        "  - { id: gem-never, service: gaussdb-nosql, status: SUCCESS, not_found_for: 1h }
  - { id: gem-soon, service: gaussdb-nosql, not_found_for: 200ms,
      timeline: [ { status: RUNNING, for: 100ms }, { status: SUCCESS } ],
      entities: { instance_id: gem-soon-in } }
",
    )
    .await;
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__NOT_FOUND_GRACE", "3s"));
    let out = run(
        &wait_args(
            &sim.base_url(),
            &["gaussdb-nosql:gem-never", "gaussdb-nosql:gem-soon"],
            "20s",
            &[],
        ),
        &env,
    )
    .await;
    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let never = job(&report, "gem-never");
    assert_eq!(never["outcome"], "errored", "{never:#}");
    assert!(
        never["reason"]
            .as_str()
            .unwrap()
            .contains("task list is empty"),
        "{never:#}"
    );
    let soon = job(&report, "gem-soon");
    assert_eq!(soon["outcome"], "succeeded", "{soon:#}");
    assert_eq!(soon["entities"], json!({ "instance_id": ["gem-soon-in"] }));
    sim.shutdown().await;
}

/// An error body for a request the API will never accept (the gateway's 401 for a wrong
/// signature) ends each job at once, with the code in the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_reports_an_error_body() {
    let sim = sim_with_auth(JOBS).await;
    let refs: Vec<String> = CASES
        .iter()
        .map(|(service, ok, ..)| format!("{service}:{ok}"))
        .collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let out = run(
        &wait_args(&sim.base_url(), &refs, "20s", &[]),
        &[("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", "wrong")],
    )
    .await;
    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    for (_, ok, ..) in CASES {
        let j = job(&report, ok);
        assert_eq!(j["outcome"], "errored", "{j:#}");
        let reason = j["reason"].as_str().unwrap();
        assert!(reason.contains("APIGW.0301"), "{reason}");
    }
    sim.shutdown().await;
}

/// A word outside a service's documented set (SFS Turbo's `frozen`) is pending by default and,
/// under `unknown_status: fail`, a failure that names it; CBR's `timeout` is a documented
/// failure, named in the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_outside_a_services_set_follow_unknown_status() {
    let sim = sim_with_auth(
        "  - { id: sfs-odd, service: sfs-turbo, timeline: [ { status: RUNNING, for: 100ms }, { status: frozen } ] }
  - { id: cbr-late, service: cbr, timeline: [ { status: RUNNING, for: 100ms }, { status: timeout } ] }
",
    )
    .await;
    let mut env = aksk_env();
    env.push(("JOBWAIT_SUCCESS__UNKNOWN_STATUS", "fail"));
    let out = run(
        &wait_args(
            &sim.base_url(),
            &["sfs-turbo:sfs-odd", "cbr:cbr-late"],
            "20s",
            &[],
        ),
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let odd = job(&report, "sfs-odd");
    assert_eq!(odd["outcome"], "failed", "{odd:#}");
    assert_eq!(odd["status"], "frozen");
    assert!(
        odd["reason"].as_str().unwrap().contains("frozen"),
        "{odd:#}"
    );
    let late = job(&report, "cbr-late");
    assert_eq!(late["outcome"], "failed", "{late:#}");
    assert_eq!(late["fail_reason"], "timeout");
    sim.shutdown().await;
}

/// `endpoints.<prefix>` is keyed by the prefix, and a variable writes its `-` as `_`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_with_a_dash_is_reached_through_its_variable() {
    let sim = sim_with_auth(JOBS).await;
    let base = sim.base_url();
    let mut env = aksk_env();
    env.extend([
        ("JOBWAIT_ENDPOINTS__SFS_TURBO", base.as_str()),
        ("JOBWAIT_ENDPOINTS__ELB_CLASSIC", base.as_str()),
    ]);
    let out = run(
        &[
            "wait",
            "sfs-turbo:sfs-ok",
            "elb-classic:elbc-ok",
            "--cloud",
            "otc",
            "--region",
            "eu-de",
            "--project-id",
            PROJECT,
            "--poll-interval",
            "50ms",
            "--timeout",
            "20s",
            "--output",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(job(&report, "sfs-ok")["outcome"], "succeeded");
    assert_eq!(job(&report, "elbc-ok")["outcome"], "succeeded");
    sim.shutdown().await;
}

/// A job API the cloud does not document is a usage error before any request, naming the job
/// and the way around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undocumented_job_api_is_refused_at_plan_time() {
    for (job_ref, cloud, region, service) in [
        ("vpc:eip-batch-1", "otc", "eu-de", "vpc"),
        ("deh:dh-1", "otc", "eu-nl", "deh"),
        ("gaussdb:g-1", "flexibleengine", "eu-west-0", "gaussdb"),
    ] {
        let out = run(
            &[
                "validate",
                job_ref,
                "--project-id",
                PROJECT,
                "--cloud",
                cloud,
                "--region",
                region,
            ],
            &aksk_env(),
        )
        .await;
        assert_usage_error(
            &out,
            &[
                &format!("job {job_ref}"),
                &format!("documents no job API for {service}"),
                &format!("endpoints.{service}"),
            ],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_shows_each_url_and_the_status_words() {
    let out = run(
        &[
            "validate",
            "sfs-turbo:s1",
            "cbr:c1",
            "elb-classic:e1",
            "gaussdb-mysql:t1",
            "cce:k1",
            "--project-id",
            PROJECT,
            "--cloud",
            "huaweicloud",
            "--region",
            "eu-west-101",
        ],
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for want in [
        &format!("https://sfs-turbo.eu-west-101.myhuaweicloud.eu/v1/{PROJECT}/sfs-turbo/jobs/s1")[..],
        &format!("https://cbr.eu-west-101.myhuaweicloud.eu/v3/{PROJECT}/operation-logs/c1"),
        &format!("https://elb.eu-west-101.myhuaweicloud.com/v1.0/{PROJECT}/jobs/e1"),
        &format!("https://gaussdb.eu-west-101.myhuaweicloud.com/v3/{PROJECT}/jobs?id=t1"),
        "statuses: success success; failure failed, timeout, skipped; pending waiting, running",
        "statuses: success Completed; failure Failed; pending Running",
        "statuses: success SUCCESS; failure FAIL; pending INIT, RUNNING, PENDING_PAYMENT",
        "statuses: success Success; failure Failed; pending Initializing, Running",
    ] {
        assert!(out.stdout.contains(want), "{want} not in\n{}", out.stdout);
    }
}
