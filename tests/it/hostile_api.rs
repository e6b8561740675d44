//! A hostile or broken job API against the real binary: answers that once crashed jobwait,
//! leaked a credential, locked a key or kept it busy until the deadline. Each test is named for
//! what must hold, and each reproduces a defect of the hardening issue: the tiny server below
//! answers whatever the test scripts (a redirect, an absurd `Retry-After`, megabytes of body,
//! text that is not UTF-8), and the simulator plays wrong credentials and a hung IAM.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// What a [`Hostile`] server saw: every request head, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn heads(&self) -> Vec<String> {
        self.0.lock().expect("not poisoned").clone()
    }
    fn count(&self) -> usize {
        self.heads().len()
    }
}

/// A job API on 127.0.0.1:0 that answers request number `n` (from 0) with the raw HTTP/1.1
/// response `answer(n)` and closes the connection. Returns its base URL and what it saw.
async fn hostile(answer: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a hostile server");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let seen = Seen::default();
    let log = seen.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (log, answer) = (log.clone(), answer.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let n = {
                    let mut heads = log.0.lock().expect("not poisoned");
                    heads.push(String::from_utf8_lossy(&head).into_owned());
                    heads.len() - 1
                };
                let _ = socket.write_all(&answer(n)).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, seen)
}

/// An HTTP/1.1 response with these extra header lines and body.
fn response(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        out += h;
        out += "\r\n";
    }
    out += "\r\n";
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn token_env() -> Vec<(&'static str, &'static str)> {
    vec![("JOBWAIT_TOKEN", TOKEN)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_no_credential_leaves_for_another_host() {
    let (elsewhere, elsewhere_saw) = hostile(|_| {
        response(
            "200 OK",
            &[],
            br#"{"status":"SUCCESS","job_id":"j","entities":{"server_id":"forged"}}"#,
        )
    })
    .await;
    let location = format!("{elsewhere}/v1/{PROJECT}/jobs/j");
    let target = location.clone();
    let (api, api_saw) =
        hostile(move |_| response("302 Found", &[&format!("Location: {target}")], b"")).await;
    for env in [token_env(), aksk_env()] {
        let out = run(&wait_args(&api, &["j"], "10s", &["-q"]), &env).await;
        assert_eq!(out.code, 3, "{}", out.stderr);
        let report = json(&out.stdout);
        let j = job(&report, "j");
        assert_eq!(j["outcome"], "errored");
        let reason = j["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("HTTP 302 redirect to {location}"))
                && reason.contains("not followed"),
            "{reason}"
        );
        assert_eq!(j["polls"], 1, "a redirect is not retried");
        assert!(report["entities"].as_object().unwrap().is_empty());
    }
    assert_eq!(elsewhere_saw.count(), 0, "{:?}", elsewhere_saw.heads());
    let heads = api_saw.heads();
    assert_eq!(heads.len(), 2);
    assert!(heads[0].to_ascii_lowercase().contains("x-auth-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_capped_and_the_report_is_written() {
    // Was: `Instant + Duration` overflowed, exit 101, no report.
    let (api, saw) = hostile(|_| {
        response(
            "429 Too Many Requests",
            &["Retry-After: 18446744073709551615"],
            br#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#,
        )
    })
    .await;
    let out = run(&wait_args(&api, &["j"], "2s", &["-q"]), &token_env()).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let report = json(&out.stdout);
    let reason = job(&report, "j")["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("HTTP 429"), "{reason}");
    assert_eq!(saw.count(), 1, "the pause holds until the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanishing_progress_neither_panics_nor_loses_the_job() {
    // Was: `process_percent: 1e-20` made the adaptive schedule's estimate overflow a Duration.
    let (api, _) = hostile(|_| {
        response(
            "200 OK",
            &[],
            br#"{"status":"RUNNING","job_id":"j","begin_time":"2020-01-01T00:00:00Z","entities":{"process_percent":1e-20}}"#,
        )
    })
    .await;
    let out = run(&wait_args(&api, &["j"], "1s", &["-q"]), &token_env()).await;
    assert_eq!(out.code, 124, "{}", out.stderr);
    assert_eq!(job(&json(&out.stdout), "j")["outcome"], "timed_out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_ends_the_job_at_once_and_long_texts_are_capped() {
    // 6 MB of `fail_reason`: over the default 4 MiB it is not read at all (and not retried);
    // under a raised limit the job is read, failed, and the reason is capped in every output.
    let mut body =
        br#"{"status":"FAIL","job_id":"j","error_code":"Ecs.0013","fail_reason":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 6_000_000));
    body.extend_from_slice(br#""}"#);
    let (api, saw) = hostile(move |_| response("200 OK", &[], &body)).await;
    let out = run(&wait_args(&api, &["j"], "10s", &["-q"]), &token_env()).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report = json(&out.stdout);
    let j = job(&report, "j");
    assert_eq!(j["outcome"], "errored");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .contains("larger than 4194304 bytes"),
        "{}",
        j["reason"]
    );
    assert_eq!(saw.count(), 1, "retrying cannot make it smaller");

    let dir = tempfile::tempdir().unwrap();
    let output = write_file(dir.path(), "output", "");
    let mut env = token_env();
    env.extend([
        ("JOBWAIT_MAX_RESPONSE_SIZE", "8MiB"),
        ("GITHUB_OUTPUT", s(&output)),
        ("RUNNER_TEMP", s(dir.path())),
    ]);
    let out = run(&wait_args(&api, &["j"], "10s", &["-q"]), &env).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.len() < 64 * 1024, "{} bytes", out.stdout.len());
    let fail_reason = job(&json(&out.stdout), "j")["fail_reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        fail_reason.len() < 5000 && fail_reason.ends_with("more bytes)"),
        "{} bytes",
        fail_reason.len()
    );
    let written = std::fs::metadata(&output).unwrap().len();
    assert!(written < 64 * 1024, "GITHUB_OUTPUT is {written} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_reason_that_is_not_utf8_keeps_a_failed_job_failed() {
    // Was: the body did not parse, the job was retried to the deadline and exited 3, not 1.
    let mut body = br#"{"status":"FAIL","job_id":"j","fail_reason":"Kapazit"#.to_vec();
    body.push(0xe4); // Latin-1 ä
    body.extend_from_slice(b"t ersch\xf6pft\"}");
    let (api, _) = hostile(move |_| response("200 OK", &[], &body)).await;
    let out = run(&wait_args(&api, &["j"], "10s", &["-q"]), &token_env()).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(job(&report, "j")["outcome"], "failed");
    assert!(job(&report, "j")["fail_reason"]
        .as_str()
        .unwrap()
        .starts_with("Kapazit\u{fffd}t"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_key_is_tried_once_not_once_per_job() {
    // Was: 20 jobs sent 20 bad signatures within 2 s; the gateway locks a key after 5.
    let jobs: String = (0..20)
        .map(|i| format!("  - {{ id: j{i}, status: RUNNING }}\n"))
        .collect();
    let sim = sim_with_auth(&jobs).await;
    let ids: Vec<String> = (0..20).map(|i| format!("j{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let env = [
        ("HUAWEICLOUD_SDK_AK", AK),
        (
            "HUAWEICLOUD_SDK_SK",
            "SKwrongTESTvalue0000000000000000000000",
        ),
    ];
    let out = run(&wait_args(&sim.base_url(), &ids, "20s", &["-q"]), &env).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report = json(&out.stdout);
    for id in &ids {
        let j = job(&report, id);
        assert_eq!(j["outcome"], "errored");
        assert!(
            j["reason"]
                .as_str()
                .unwrap()
                .starts_with("authentication rejected: HTTP 401: APIGW.0301"),
            "{}",
            j["reason"]
        );
    }
    let rejected = sim.stats().rejected_auth;
    assert!(
        (1..=2).contains(&rejected),
        "{rejected} bad signatures reached the gateway"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_api_keeps_refusing_is_fetched_at_most_twice() {
    // Was: a password login whose tokens the API refused logged in again once per job.
    let jobs: String = (0..20)
        .map(|i| format!("  - {{ id: r{i}, status: RUNNING }}\n"))
        .collect();
    let sim = sim(&format!(
        "project_id: {PROJECT}\niam: {{ user: alice, password: pw, domain: dom, projects: {{ eu-de: {PROJECT} }}, revoke_after: 0s }}\njobs:\n{jobs}"
    ))
    .await;
    let ids: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let env = [
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", "pw"),
        ("OS_DOMAIN_NAME", "dom"),
    ];
    let out = run(
        &wait_args(&sim.base_url(), &ids, "20s", &["--region", "eu-de", "-q"]),
        &env,
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["summary"]["errored"], 20);
    let stats = sim.stats();
    assert!(stats.tokens_issued <= 2, "{} logins", stats.tokens_issued);
    assert!(
        stats.rejected_auth <= 2,
        "{} refused requests",
        stats.rejected_auth
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_discovery_is_bounded_by_the_deadline_and_writes_the_report() {
    // Was: a hung IAM took 30 s under `--timeout 3s` and no report was written.
    let (iam, accepted) = black_hole().await;
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let args = vec![
        "wait".to_owned(),
        "j".into(),
        "--endpoint".into(),
        iam.clone(),
        "--region".into(),
        "eu-de".into(),
        "--timeout".into(),
        "2s".into(),
        "--output".into(),
        "json".into(),
        "--report".into(),
        s(&report_path).to_owned(),
        "-q".into(),
    ];
    let out = spawn(&args, &aksk_env())
        .finish(Duration::from_secs(15))
        .await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report = json(&std::fs::read_to_string(&report_path).unwrap());
    let reason = job(&report, "j")["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("no verdict after 2s: project discovery from IAM"),
        "{reason}"
    );
    assert!(accepted.load(Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_during_project_discovery_writes_the_report() {
    let (iam, accepted) = black_hole().await;
    let args = vec![
        "wait".to_owned(),
        "j".into(),
        "--endpoint".into(),
        iam,
        "--region".into(),
        "eu-de".into(),
        "--output".into(),
        "json".into(),
        "-q".into(),
    ];
    let running = spawn(&args, &aksk_env());
    wait_until(|| accepted.load(Ordering::SeqCst) >= 1).await;
    send_signal(running.pid(), "TERM");
    let out = running.finish(Duration::from_secs(10)).await;
    assert_eq!(out.code, 143, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(job(&report, "j")["outcome"], "cancelled");
    assert_eq!(report["result"], "interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_discovery_retries_server_errors() {
    // Was: one 500 from IAM ended the run. Every request here fails with a 5xx half the time
    // (seeded), the lookup included.
    let sim = sim(&format!(
        "project_id: {PROJECT}\nauth: {{ ak: {AK}, sk: {SK} }}\nfaults: {{ error_5xx: 0.5, seed: 3 }}\n\
         iam: {{ user: u, password: p, domain: d, projects: {{ eu-de: {PROJECT} }} }}\n\
         jobs: [ {{ id: j, status: SUCCESS }} ]"
    ))
    .await;
    let args = vec![
        "wait".to_owned(),
        "j".into(),
        "--endpoint".into(),
        sim.base_url(),
        "--region".into(),
        "eu-de".into(),
        "--poll-interval".into(),
        "50ms".into(),
        "--poll-max-interval".into(),
        "100ms".into(),
        "--timeout".into(),
        "20s".into(),
        "--output".into(),
        "json".into(),
        "-q".into(),
    ];
    let out = run(&args, &aksk_env()).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        sim.stats().faults_injected >= 1,
        "the plan injected no fault"
    );
}

/// Waits (at most 5 s) until `ready` holds.
async fn wait_until(ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !ready() {
        assert!(tokio::time::Instant::now() < deadline, "not ready in 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
