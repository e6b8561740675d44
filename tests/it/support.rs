//! Shared machinery of the integration tests.
//!
//! - Running the real `jobwait` binary as a subprocess ([`run`], [`spawn`] → [`Running`]; in a
//!   given working directory with [`run_in`] / [`spawn_in`]): always
//!   with a cleared environment plus only the variables a test passes, killed when dropped, and
//!   with an overall deadline ([`RUN_TIMEOUT`]) so that a hang fails the test instead of
//!   blocking it. [`run`] returns an [`Output`]: exit code, standard output and standard error.
//! - Starting the in-process simulator ([`sim`], [`sim_with_auth`]) on `127.0.0.1:0`, with the
//!   test credentials [`AK`]/[`SK`] (or [`TOKEN`]) and the project [`PROJECT`].
//! - Argument and environment builders for a fast wait against a simulator ([`wait_args`],
//!   [`aksk_env`]), a port where nothing listens ([`dead_port`]) and a server that accepts
//!   connections but never answers ([`black_hole`]).
//! - Report helpers: parsing ([`json`]), finding a job ([`job`]), validating against the report
//!   JSON Schema ([`assert_valid_report`]).
//! - [`assert_usage_error`]: the checks every exit-2 case shares.
//! - [`wait_for_requests`]: waits (bounded) until the simulator has seen requests for a job.
//! - [`send_signal`]: `kill -SIG PID` through the system's `kill`.
//! - Files: [`write_file`] (in a test's temp dir) and [`s`] (a path as `&str`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jobwait::sim::{Scenario, SimHandle};
use serde_json::Value;
use tokio::sync::mpsc;

/// The project id every simulator scenario and wait of these tests uses.
pub(crate) const PROJECT: &str = "0123456789abcdef0123456789abcdef";
/// The access key the simulator accepts (it must never show up in any output).
pub(crate) const AK: &str = "AKITESTACCESSKEY7Q2W";
/// The secret key the simulator accepts (it must never show up in any output).
pub(crate) const SK: &str = "SKsecretTESTvalue9f8e7d6c5b4a39281706";
/// An IAM token the simulator accepts when a scenario says so.
pub(crate) const TOKEN: &str = "MIIT-test-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The longest any single run of the binary may take before the test fails.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished run of the binary left behind.
#[derive(Debug)]
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Everything the process printed, for "never shows X" checks.
    pub(crate) fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Path of the `jobwait` binary cargo built for these tests.
pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jobwait"))
}

/// The repository root (where `schema/` lives).
pub(crate) fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `jobwait` process: started with an empty environment plus the test's variables,
/// no stdin, stdout and stderr read by threads (so a full pipe never blocks it). Dropping it kills
/// the process. (`std::process` rather than `tokio::process`: the tests' tokio has no `process`
/// feature; waiting polls `try_wait`, so the test's runtime and its simulator keep running.)
pub(crate) struct Running {
    child: Child,
    shown: String,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Starts the binary with `args` and exactly the environment `env`.
pub(crate) fn spawn<S: AsRef<str>>(args: &[S], env: &[(&str, &str)]) -> Running {
    spawn_in(None, args, env)
}

/// [`spawn`] in the working directory `dir` (the test process's own when `None`).
pub(crate) fn spawn_in<S: AsRef<str>>(
    dir: Option<&Path>,
    args: &[S],
    env: &[(&str, &str)],
) -> Running {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let mut command = Command::new(bin());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
        .env_clear()
        .envs(env.iter().copied())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the jobwait binary starts");
    let (tx, stdout) = mpsc::unbounded_channel();
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    std::thread::spawn(move || loop {
        let mut line = String::new();
        match out.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if tx.send(line).is_err() {
                    break;
                }
            }
        }
    });
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    Running {
        child,
        shown: format!("jobwait {args:?}"),
        stdout,
        stderr: Some(stderr),
    }
}

impl Running {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of standard output (with its newline), or `None` at its end; at most
    /// `within`. Lines taken here are not in [`Running::finish`]'s output.
    pub(crate) async fn next_stdout_line(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, self.stdout.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: no line on stdout within {within:?}", self.shown))
    }

    /// Waits for the process to end (failing the test after `within`) and collects its output.
    pub(crate) async fn finish(mut self, within: Duration) -> Output {
        let deadline = tokio::time::Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not finish within {within:?}",
                self.shown
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut stdout = String::new();
        while let Some(line) = self.stdout.recv().await {
            stdout.push_str(&line);
        }
        let handle = self.stderr.take().expect("stderr not collected yet");
        let stderr = tokio::task::spawn_blocking(move || handle.join().expect("stderr reader"))
            .await
            .expect("stderr reader");
        let code = status.code().unwrap_or_else(|| {
            panic!(
                "{} was killed by a signal ({status:?})\nstderr:\n{stderr}",
                self.shown
            )
        });
        Output {
            code,
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Never leave a process behind a failed test. (A no-op once it has been reaped.)
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary to completion (bounded by [`RUN_TIMEOUT`]).
pub(crate) async fn run<S: AsRef<str>>(args: &[S], env: &[(&str, &str)]) -> Output {
    spawn(args, env).finish(RUN_TIMEOUT).await
}

/// [`run`] in the working directory `dir`.
pub(crate) async fn run_in<S: AsRef<str>>(dir: &Path, args: &[S], env: &[(&str, &str)]) -> Output {
    spawn_in(Some(dir), args, env).finish(RUN_TIMEOUT).await
}

/// Sends `signal` (`TERM`, `INT`…) to `pid` with the system's `kill`.
pub(crate) fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed: {status:?}");
}

/// Starts the simulator on a free loopback port with this scenario (YAML).
pub(crate) async fn sim(yaml: &str) -> SimHandle {
    let scenario = Scenario::from_yaml(yaml)
        .unwrap_or_else(|e| panic!("test scenario is invalid: {e}\n{yaml}"));
    jobwait::sim::start(scenario, "127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the simulator starts")
}

/// Starts the simulator for [`PROJECT`], accepting only requests signed with [`AK`]/[`SK`] or
/// carrying [`TOKEN`]; `jobs` is the scenario's `jobs:` list (YAML, starting with `-`).
pub(crate) async fn sim_with_auth(jobs: &str) -> SimHandle {
    sim(&format!(
        "project_id: {PROJECT}\nauth: {{ ak: {AK}, sk: {SK}, token: {TOKEN} }}\njobs:\n{jobs}"
    ))
    .await
}

/// The environment with the accepted AK/SK.
pub(crate) fn aksk_env() -> Vec<(&'static str, &'static str)> {
    vec![("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)]
}

/// `wait JOBS… --endpoint URL --project-id PROJECT --timeout T` with a fast poll schedule and
/// JSON output, then `extra`.
pub(crate) fn wait_args(
    base_url: &str,
    jobs: &[&str],
    timeout: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = vec!["wait".into()];
    args.extend(jobs.iter().map(|j| (*j).to_owned()));
    for a in [
        "--endpoint",
        base_url,
        "--project-id",
        PROJECT,
        "--timeout",
        timeout,
        "--poll-interval",
        "50ms",
        "--poll-max-interval",
        "200ms",
        "--output",
        "json",
    ] {
        args.push(a.to_owned());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// A loopback port where nothing listens (bound, then released).
pub(crate) fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}

/// Parses a report printed by `--output json` (or read from `--report`).
pub(crate) fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON document ({e}):\n{text}"))
}

/// The report's entry for the job with this id.
pub(crate) fn job<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["jobs"]
        .as_array()
        .expect("jobs is an array")
        .iter()
        .find(|j| j["id"] == id)
        .unwrap_or_else(|| panic!("job {id} is not in the report:\n{report:#}"))
}

/// The report's JSON Schema: the committed `schema/report.schema.json`, or what
/// `jobwait schema report` prints when the file is not there yet.
pub(crate) async fn report_schema() -> Value {
    let committed = repo_root().join("schema/report.schema.json");
    if let Ok(text) = std::fs::read_to_string(&committed) {
        return json(&text);
    }
    let out = run(&["schema", "report"], &[]).await;
    assert_eq!(out.code, 0, "jobwait schema report failed:\n{}", out.stderr);
    json(&out.stdout)
}

/// Fails with every violation when `report` does not validate against the report schema.
pub(crate) async fn assert_valid_report(report: &Value) {
    let schema = report_schema().await;
    let validator = jsonschema::validator_for(&schema).expect("the report schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "the report does not match the schema:\n{}\n{report:#}",
        errors.join("\n")
    );
}

/// Exit 2, nothing on stdout, no panic, and every needle on stderr.
pub(crate) fn assert_usage_error(out: &Output, needles: &[&str]) {
    assert_eq!(
        out.code, 2,
        "expected exit 2\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "", "nothing may be printed on stdout");
    assert!(
        !out.stderr.contains("panicked"),
        "the program panicked:\n{}",
        out.stderr
    );
    assert!(
        !out.stderr.trim().is_empty(),
        "an exit 2 must say why on stderr"
    );
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "stderr does not mention {needle:?}:\n{}",
            out.stderr
        );
    }
}

/// Waits (at most 5 s) until the simulator has answered at least `n` requests for `job_id`.
pub(crate) async fn wait_for_requests(sim: &SimHandle, job_id: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = sim.stats().jobs.get(job_id).map_or(0, |j| j.requests);
        if seen >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulator saw only {seen} request(s) for {job_id} in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Writes `contents` to `dir/name` and returns the path.
pub(crate) fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path
}

/// A path as a `&str` (test paths are UTF-8).
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// A server that accepts connections and never answers: every request hangs. Returns its base
/// URL and a counter of accepted connections; it stops with the test's runtime.
pub(crate) async fn black_hole() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a black hole");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let accepted = std::sync::Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// What a wait ended by `retry.unreachable_after` (1 s) against the dead 127.0.0.1:`port` looks
/// like: exit 3; each job of `ids` errored with that host's cut-off and the connection refusal
/// in its reason; the cut-off, not the deadline, ended it; and one `cannot reach` warning named
/// the host however many jobs waited on it. Returns the report and that warning.
pub(crate) fn assert_ended_unreachable(out: &Output, port: u16, ids: &[&str]) -> (Value, String) {
    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    let cut_off = format!("127.0.0.1:{port} never answered within 1s (retry.unreachable_after): ");
    for id in ids {
        let j = job(&report, id);
        assert_eq!(j["outcome"], "errored", "{j:#}");
        let reason = j["reason"].as_str().unwrap();
        assert!(reason.contains(&cut_off), "{reason}");
        assert!(
            reason.to_lowercase().contains("connection refused"),
            "{reason}"
        );
    }
    assert!(
        report["elapsed_seconds"].as_f64().unwrap() < 15.0,
        "the cut-off, not the deadline, ended it: {report:#}"
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("cannot reach"))
        .collect();
    assert_eq!(warnings.len(), 1, "stderr:\n{}", out.stderr);
    assert!(
        warnings[0].starts_with(&format!(
            "jobwait: warning: cannot reach 127.0.0.1:{port}: "
        )),
        "{}",
        warnings[0]
    );
    let warning = warnings[0].to_owned();
    (report, warning)
}
