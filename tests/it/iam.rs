//! IAM through the real binary: password login with a token renewed before it expires and once
//! when the API revokes it (one renewal shared by every job) and scoped by the project id when
//! it is known, and the project id looked up by `project_name` or the region; an `openrc`
//! (`OS_AUTH_URL`, `OS_PROJECT_NAME`, `OS_REGION_NAME`, the password) is all a wait needs.

use crate::support::*;

fn scenario(iam: &str, jobs: &str) -> String {
    format!(
        "project_id: {PROJECT}\nauth: {{ ak: {AK}, sk: {SK} }}\n\
         iam: {{ user: alice, password: s3cret-pw, domain: dom, projects: {{ eu-de: {PROJECT} }}{iam} }}\njobs:\n{jobs}"
    )
}

fn password_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", "s3cret-pw"),
        ("OS_DOMAIN_NAME", "dom"),
    ]
}

#[tokio::test]
async fn a_token_expiring_mid_wait_is_renewed_before_it_expires() {
    let sim = sim(&scenario(
        ", token_ttl: 1s",
        "  - { id: slow, timeline: [{ status: RUNNING, for: 2500ms }, { status: SUCCESS }] }\n",
    ))
    .await;
    let out = run(
        &wait_args(
            &sim.base_url(),
            &["slow"],
            "20s",
            &["--region", "eu-de", "-q"],
        ),
        &password_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stats = sim.stats();
    assert!(
        stats.tokens_issued >= 2,
        "renewed: {} tokens",
        stats.tokens_issued
    );
    assert_eq!(
        stats.rejected_auth, 0,
        "renewed before the API could refuse it"
    );
    assert!(!out.stdout.contains("s3cret-pw") && !out.stderr.contains("s3cret-pw"));
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_for_every_job() {
    let jobs: String = (0..5)
        .map(|i| format!("  - {{ id: r{i}, timeline: [{{ status: RUNNING, for: 1200ms }}, {{ status: SUCCESS }}] }}\n"))
        .collect();
    let sim = sim(&scenario(", revoke_after: 1s", &jobs)).await;
    let ids: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let out = run(
        &wait_args(&sim.base_url(), &ids, "20s", &["--region", "eu-de", "-q"]),
        &password_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stats = sim.stats();
    assert!(stats.rejected_auth >= 1, "the revocation was hit");
    assert_eq!(
        stats.tokens_issued, 2,
        "one renewal, shared by the five jobs"
    );
}

#[tokio::test]
async fn the_project_id_is_looked_up_from_the_region() {
    let sim = sim(&scenario("", "  - { id: j, status: SUCCESS }\n")).await;
    let args = vec![
        "wait".to_owned(),
        "j".into(),
        "--endpoint".into(),
        sim.base_url(),
        "--region".into(),
        "eu-de".into(),
        "--output".into(),
        "json".into(),
        "-q".into(),
    ];
    let out = run(&args, &aksk_env()).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "succeeded");
    assert_eq!(sim.stats().rejected_auth, 0);

    let validate = run(
        &[
            "validate",
            "j",
            "--endpoint",
            &sim.base_url(),
            "--region",
            "eu-de",
        ],
        &aksk_env(),
    )
    .await;
    assert!(
        validate
            .stdout
            .contains("looked up in IAM as the project named eu-de"),
        "{}",
        validate.stdout
    );
    assert!(
        validate.stdout.contains("/v1/{project_id}/jobs/j"),
        "{}",
        validate.stdout
    );

    let unknown = run(
        &["j", "--endpoint", &sim.base_url(), "--region", "eu-nl"],
        &aksk_env(),
    )
    .await;
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no project named eu-nl"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test]
async fn a_password_token_is_scoped_by_the_project_id_without_a_region() {
    let sim = sim(&scenario("", "  - { id: j, status: SUCCESS }\n")).await;
    let out = run(
        &wait_args(&sim.base_url(), &["j"], "20s", &["-q"]),
        &password_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.stats().tokens_issued, 1);

    // A project id IAM does not know is refused at login, once.
    let mut args = wait_args(&sim.base_url(), &["j"], "20s", &["-q"]);
    let at = args
        .iter()
        .position(|a| a == PROJECT)
        .expect("wait_args sets it");
    args[at] = "fedcba9876543210fedcba9876543210".into();
    let out = run(&args, &password_env()).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("project in the token scope does not exist"),
        "{}",
        out.stdout
    );
    assert_eq!(sim.stats().rejected_auth, 1);
    assert!(!out.stdout.contains("s3cret-pw") && !out.stderr.contains("s3cret-pw"));
}

#[tokio::test]
async fn the_project_id_is_looked_up_by_project_name_and_the_token_scoped_by_it() {
    // An OTC sub-project: not named like its region, which names another project.
    let sim = sim(&format!(
        "project_id: {PROJECT}\niam: {{ user: alice, password: s3cret-pw, domain: dom, \
         projects: {{ eu-de: fedcba9876543210fedcba9876543210, eu-de_sub: {PROJECT} }} }}\n\
         jobs:\n  - {{ id: j, status: SUCCESS }}\n"
    ))
    .await;
    let base = sim.base_url();
    let args = [
        "wait",
        "j",
        "--endpoint",
        &base,
        "--region",
        "eu-de",
        "--output",
        "json",
        "-q",
    ];
    let env = [
        password_env().as_slice(),
        &[("JOBWAIT_PROJECT_NAME", "eu-de_sub")],
    ]
    .concat();
    let out = run(&args, &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "succeeded");
    let stats = sim.stats();
    assert_eq!((stats.tokens_issued, stats.rejected_auth), (1, 0));

    let flag = [&args[..], &["--project-name", "eu-de_sub"]].concat();
    let out = run(&flag, &password_env()).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let validate = run(
        &["validate", "j", "--endpoint", &base, "--region", "eu-de"],
        &env,
    )
    .await;
    assert!(
        validate.stdout.contains(
            "looked up in IAM as the project named eu-de_sub at the start \
             (`project_name`, environment variable JOBWAIT_PROJECT_NAME)"
        ),
        "{}",
        validate.stdout
    );
    assert!(!validate.stdout.contains("s3cret-pw"));
}

/// The environment an OTC / Huawei Cloud `openrc` sets, pointed at the simulator: IAM from
/// `OS_AUTH_URL` (with its `/v3`), the project by `OS_PROJECT_NAME`, the password's user.
fn openrc_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OS_AUTH_URL", format!("{base}/v3")),
        ("OS_USERNAME", "alice".into()),
        ("OS_PASSWORD", "s3cret-pw".into()),
        ("OS_USER_DOMAIN_NAME", "dom".into()),
        ("OS_PROJECT_NAME", "eu-de_sub".into()),
        ("OS_REGION_NAME", "eu-de".into()),
    ]
}

#[tokio::test]
async fn an_openrc_is_enough_iam_from_os_auth_url_with_the_password() {
    let sim = sim(&format!(
        "project_id: {PROJECT}\niam: {{ user: alice, password: s3cret-pw, domain: dom, \
         projects: {{ eu-de: fedcba9876543210fedcba9876543210, eu-de_sub: {PROJECT} }} }}\n\
         jobs:\n  - {{ id: j, status: SUCCESS }}\n"
    ))
    .await;
    let base = sim.base_url();
    let mut env = openrc_env(&base);
    env.push(("JOBWAIT_JOBS", "j".into()));
    env.push(("JOBWAIT_ENDPOINT", base.clone()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let out = run(&["wait", "--output", "json", "-q"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "succeeded");
    let stats = sim.stats();
    assert_eq!((stats.tokens_issued, stats.rejected_auth), (1, 0));
    assert!(!out.stdout.contains("s3cret-pw") && !out.stderr.contains("s3cret-pw"));

    let validate = run(&["validate"], &env).await;
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    assert!(
        validate.stdout.contains(
            "looked up in IAM as the project named eu-de_sub at the start \
             (`project_name`, environment variable OS_PROJECT_NAME)"
        ),
        "{}",
        validate.stdout
    );
    assert!(!validate.stdout.contains("s3cret-pw"));
}

#[tokio::test]
async fn validate_names_os_region_name_and_jobwait_variables_win_over_it() {
    let sim = sim(&scenario("", "  - { id: j, status: SUCCESS }\n")).await;
    let base = sim.base_url();
    let env = [
        ("OS_REGION_NAME", "eu-de"),
        ("JOBWAIT_JOBS", "j"),
        ("JOBWAIT_ENDPOINT", base.as_str()),
    ];
    let validate = run(&["validate"], &env).await;
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    assert!(
        validate.stdout.contains(
            "looked up in IAM as the project named eu-de at the start \
             (`region`, environment variable OS_REGION_NAME)"
        ),
        "{}",
        validate.stdout
    );

    let over = [&env[..], &[("JOBWAIT_REGION", "eu-nl")]].concat();
    let validate = run(&["validate"], &over).await;
    assert!(
        validate
            .stdout
            .contains("(`region`, environment variable JOBWAIT_REGION)"),
        "{}",
        validate.stdout
    );

    // A region an openrc got wrong is refused by the variable's name.
    let bad = [&env[1..], &[("OS_REGION_NAME", "RegionOne")]].concat();
    let out = run(&["validate"], &bad).await;
    assert_usage_error(&out, &["environment variable OS_REGION_NAME", "RegionOne"]);
}

/// Project discovery under the engine's unreachable rule: an IAM URL where nothing listens
/// ends every job as errored after `retry.unreachable_after` (not the 10-minute deadline), with
/// the connection error as the reason and one `cannot reach` warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iam_that_never_answers_ends_every_job_errored_after_unreachable_after() {
    let sim = sim(&scenario("", "  - { id: j1, status: SUCCESS }\n")).await;
    let port = dead_port();
    let iam = format!("http://127.0.0.1:{port}");
    let args = [
        "wait",
        "j1",
        "ecs:j2",
        "--endpoint",
        &sim.base_url(),
        "--region",
        "eu-de",
        "--timeout",
        "10m",
        "--output",
        "json",
    ];
    let mut env = aksk_env();
    env.push(("JOBWAIT_ENDPOINTS__IAM", &iam));
    env.push(("JOBWAIT_RETRY__UNREACHABLE_AFTER", "1s"));
    let out = run(&args, &env).await;

    let (report, _) = assert_ended_unreachable(&out, port, &["j1", "j2"]);
    for id in ["j1", "j2"] {
        let reason = job(&report, id)["reason"].as_str().unwrap().to_owned();
        assert!(reason.starts_with("project discovery from IAM"), "{reason}");
    }
    assert_eq!(
        sim.stats().jobs.get("j1").map_or(0, |j| j.requests),
        0,
        "no poll without a project id"
    );
}
