//! The outputs against a hostile server and a hostile file system: text from the API cannot add
//! GitHub outputs, workflow commands, escapes or lines to any text output; an output that cannot
//! be written costs neither the verdict on stdout nor the other outputs; GitHub's outputs stay
//! under the runner's 1 MiB however big the report.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use indexmap::IndexMap;

use crate::support::*;

/// What a hostile server puts in a fail_reason: a newline and runner commands, the old command
/// syntax, an ANSI colour, HTML and a Markdown link.
const EVIL_REASON: &str =
    r#"x\n::add-mask::y\n::error::forged\n##[error]old \u001b[31mred <b>bold</b> [link](http://e)"#;

/// An entity key that would add outputs to GITHUB_OUTPUT if written as a key.
const EVIL_KEY: &str = r#"evil\nresult=success\nexit_code=0\nx_id"#;

/// Reads GITHUB_OUTPUT as the runner does.
fn runner_outputs(path: &Path) -> IndexMap<String, String> {
    let text = std::fs::read_to_string(path).expect("GITHUB_OUTPUT is written");
    jobwait::report::github::parse_runner_outputs(&text)
        .unwrap_or_else(|e| panic!("not a runner output file ({e}):\n{text}"))
}

/// No line (as the runner trims it) is a workflow command but jobwait's own, none holds the old
/// `##[` syntax or an escape character.
fn assert_no_forged_commands(what: &str, text: &str) {
    const OWN: [&str; 4] = [
        "::error title=jobwait%3A ",
        "::add-mask::",
        "::group::jobwait log",
        "::endgroup::",
    ];
    for line in text.lines() {
        let trimmed = line.trim_start();
        assert!(
            !trimmed.starts_with("::") || OWN.iter().any(|own| trimmed.starts_with(own)),
            "{what}: a forged command: {line:?}\n{text}"
        );
        assert!(
            !line.contains("##["),
            "{what}: old command syntax: {line:?}"
        );
        assert!(!line.contains('\x1b'), "{what}: an escape: {line:?}");
    }
}

/// Where GITHUB_OUTPUT and GITHUB_STEP_SUMMARY go in `dir`.
fn github_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (dir.join("github_output"), dir.join("step_summary"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_text_cannot_forge_outputs_commands_escapes_or_lines() {
    let yaml = format!(
        r#"
  - id: evil
    job_type: "createServer\n::warning::typed"
    status: SUCCESS
    entities: {{ server_id: srv-1, "{EVIL_KEY}": forged, "a<<EOF_id": heredoc, "ok-kind_id": fine }}
  - id: bad
    job_type: "{EVIL_REASON}"
    status: FAIL
    error_code: "IMS.0097\n::error::code"
    fail_reason: "{EVIL_REASON}"
  - id: batch
    job_type: createServer
    sub_jobs:
      - {{ id: "sub\n::error::id", status: FAIL, error_code: "E\u001b[2J", fail_reason: "{EVIL_REASON}" }}
"#
    );
    let sim = sim_with_auth(&yaml).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "jobs:\n  - { id: evil, name: \"::warning::name ##[error]x <img src=x>\" }\n  - { id: bad, service: ims }\n  - batch\n",
    );
    let (output, summary) = github_files(dir.path());
    let (log, report_path) = (
        dir.path().join("termination"),
        dir.path().join("report.json"),
    );
    let mut env = aksk_env();
    env.extend([
        ("GITHUB_OUTPUT", s(&output)),
        ("GITHUB_STEP_SUMMARY", s(&summary)),
        ("GITHUB_ACTIONS", "true"),
        ("RUNNER_TEMP", s(dir.path())),
        ("JOBWAIT_TERMINATION_LOG", s(&log)),
    ]);
    let mut args = wait_args(
        &sim.base_url(),
        &[],
        "10s",
        &["-f", s(&spec), "--report", s(&report_path)],
    );
    let at = args.iter().position(|a| a == "json").unwrap();
    args[at] = "text".into();
    let out = run(&args, &env).await;
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );

    // GITHUB_OUTPUT holds the real verdict and no key the server chose but the valid one.
    let outputs = runner_outputs(&output);
    assert_eq!(outputs["result"], "failure");
    assert_eq!(outputs["exit_code"], "1");
    let keys: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "result",
            "exit_code",
            "total",
            "succeeded",
            "failed",
            "errored",
            "timed_out",
            "cancelled",
            // An `ims` job was waited on: its kind's key is always there (empty here).
            "image_ids",
            "server_ids",
            "ok-kind_ids",
            "report",
            "report_file",
        ],
        "{outputs:#?}"
    );
    // The JSON report keeps the text as received, the evil key included.
    let report = json(&outputs["report"]);
    assert_eq!(
        report["entities"]["evil\nresult=success\nexit_code=0\nx_id"][0],
        "forged"
    );
    assert_eq!(
        crate::support::job(&report, "bad")["fail_reason"],
        "x\n::add-mask::y\n::error::forged\n##[error]old \u{1b}[31mred <b>bold</b> [link](http://e)"
    );
    assert_eq!(outputs["report_file"], s(&report_path));
    assert_eq!(
        json(&std::fs::read_to_string(&report_path).unwrap()),
        report
    );

    // One warning per dropped kind, naming it (as one harmless line).
    for dropped in ["evil result=success exit_code=0 x_id", "a<<EOF_id"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("jobwait: warning: entity kind `") && l.contains(dropped)),
            "no warning naming {dropped:?}:\n{}",
            out.stderr
        );
    }

    // Annotations: one per job that did not succeed, each one line.
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("::error"))
            .count(),
        2,
        "{}",
        out.stderr
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    let termination = std::fs::read_to_string(&log).unwrap();
    for (what, text) in [
        ("stdout", out.stdout.as_str()),
        ("stderr", out.stderr.as_str()),
        ("step summary", summary.as_str()),
        ("termination log", termination.as_str()),
    ] {
        assert_no_forged_commands(what, text);
    }
    // The step summary renders no markup from the server or the spec: once its backslash
    // escapes are taken out, no `<`, `[`, `]`, `*`, `_` or backtick is left.
    let mut plain = String::new();
    let mut chars = summary.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        } else {
            plain.push(c);
        }
    }
    assert!(
        !plain.contains(['<', '>', '[', ']', '*', '_', '`', '!', '&']),
        "markup in:\n{summary}"
    );
    // Every job is one row of five cells.
    let rows: Vec<&str> = summary.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 4, "header and three jobs:\n{summary}");
    // Termination log: the header and one line per job.
    assert_eq!(termination.lines().count(), 4, "{termination}");
    sim.shutdown().await;
}

/// A wait whose `--report` goes into a directory that does not exist.
async fn wait_with_unwritable_report(
    yaml: &str,
    jobs: &[&str],
    timeout: &str,
    extra_env: &[(&str, &str)],
) -> (Output, IndexMap<String, String>, String, tempfile::TempDir) {
    let sim = sim_with_auth(yaml).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("missing").join("report.json");
    let (output, _) = github_files(dir.path());
    let mut env = aksk_env();
    env.extend([
        ("GITHUB_OUTPUT", s(&output)),
        ("RUNNER_TEMP", s(dir.path())),
    ]);
    env.extend_from_slice(extra_env);
    let args = wait_args(
        &sim.base_url(),
        jobs,
        timeout,
        &["-q", "--report", s(&report)],
    );
    let out = run(&args, &env).await;
    sim.shutdown().await;
    let outputs = runner_outputs(&output);
    let path = s(&report).to_owned();
    (out, outputs, path, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_report_keeps_the_verdict_on_stdout_and_the_other_outputs() {
    let (out, outputs, path, _dir) =
        wait_with_unwritable_report("  - { id: ok, status: SUCCESS }\n", &["ok"], "10s", &[]).await;
    assert_eq!(out.code, 3, "stderr:\n{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("jobwait: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(
        errors[0].starts_with(&format!(
            "jobwait: error: cannot write the report to {path}: "
        )),
        "{}",
        errors[0]
    );
    // GITHUB_OUTPUT is still written; report_file falls back to a file jobwait could write.
    assert_eq!(outputs["result"], "success");
    assert_eq!(json(&outputs["report"]), report);
    assert_ne!(outputs["report_file"], path);
    assert_eq!(
        json(&std::fs::read_to_string(&outputs["report_file"]).unwrap()),
        report
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_error_ranks_by_the_contract_precedence() {
    /// One wait whose report cannot be written, and how it must end.
    struct Case {
        job: &'static str,
        timeout: &'static str,
        env: &'static [(&'static str, &'static str)],
        code: i32,
        result: &'static str,
    }
    let cases = [
        // A failed job outranks the write error.
        Case {
            job: "{ id: bad, status: FAIL, error_code: Ecs.0013 }",
            timeout: "10s",
            env: &[],
            code: 1,
            result: "failure",
        },
        // A write error outranks a timeout.
        Case {
            job: "{ id: slow, status: RUNNING }",
            timeout: "300ms",
            env: &[],
            code: 3,
            result: "timeout",
        },
        // fail_on: never does not hide a write error.
        Case {
            job: "{ id: ok, status: SUCCESS }",
            timeout: "10s",
            env: &[("JOBWAIT_FAIL_ON", "never")],
            code: 3,
            result: "success",
        },
    ];
    for Case {
        job,
        timeout,
        env,
        code,
        result,
    } in cases
    {
        let id = job.split(',').next().unwrap().trim_start_matches("{ id: ");
        let yaml = format!("  - {job}\n");
        let (out, outputs, path, _dir) =
            wait_with_unwritable_report(&yaml, &[id], timeout, env).await;
        assert_eq!(out.code, code, "{id}: stderr:\n{}", out.stderr);
        assert_eq!(json(&out.stdout)["result"], result, "{id}");
        assert_eq!(outputs["result"], result, "{id}");
        assert!(
            out.stderr.contains(&format!(
                "jobwait: error: cannot write the report to {path}"
            )),
            "{id}: {}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_outputs_stay_under_one_mib_whatever_the_report_size() {
    // Four batches of 275 sub-jobs, each with three 300-byte ids: a report of about 2 MB, kinds
    // of about 330 KB each.
    let long = "x".repeat(290);
    let mut yaml = String::new();
    for j in 0..4 {
        yaml += &format!("  - id: big{j}\n    job_type: createServer\n    sub_jobs:\n");
        for i in 0..275 {
            yaml += &format!(
                "      - {{ id: s{j}-{i}, status: SUCCESS, entities: {{ server_id: srv{j}-{i}-{long}, nic_id: nic{j}-{i}-{long}, volume_id: vol{j}-{i}-{long} }} }}\n"
            );
        }
    }
    let sim = sim_with_auth(&yaml).await;
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = github_files(dir.path());
    let mut env = aksk_env();
    env.extend([
        ("GITHUB_OUTPUT", s(&output)),
        ("RUNNER_TEMP", s(dir.path())),
    ]);
    let out = run(
        &wait_args(
            &sim.base_url(),
            &["big0", "big1", "big2", "big3"],
            "20s",
            &["-q"],
        ),
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stdout = json(&out.stdout);
    assert!(out.stdout.len() > 512 * 1024, "{} bytes", out.stdout.len());

    let size = std::fs::metadata(&output).unwrap().len();
    assert!(size < 1024 * 1024, "GITHUB_OUTPUT is {size} bytes");
    let outputs = runner_outputs(&output);
    assert!(!outputs.contains_key("report"), "{:?}", outputs.keys());
    assert_eq!(outputs["result"], "success");
    let file = Path::new(&outputs["report_file"]);
    assert!(
        file.starts_with(dir.path())
            && file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("jobwait-report-"),
        "{}",
        file.display()
    );
    assert_eq!(json(&std::fs::read_to_string(file).unwrap()), stdout);
    // The kinds that fit are complete; the one that does not is left out, with a warning.
    assert_eq!(outputs["server_ids"].split(',').count(), 4 * 275);
    assert_eq!(outputs["nic_ids"].split(',').count(), 4 * 275);
    assert!(!outputs.contains_key("volume_ids"));
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("jobwait: warning:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", out.stderr);
    assert!(warnings
        .iter()
        .any(|w| w.contains("`report`") && w.contains("report_file")));
    assert!(warnings
        .iter()
        .any(|w| w.contains("`volume_ids`") && w.contains("report_file")));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_into_a_fifo_is_written_through_and_report_file_is_a_regular_file() {
    let sim = sim_with_auth("  - { id: ok, status: SUCCESS }\n").await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let (output, _) = github_files(dir.path());
    let mut env = aksk_env();
    env.extend([
        ("GITHUB_OUTPUT", s(&output)),
        ("RUNNER_TEMP", s(dir.path())),
    ]);
    let args = wait_args(
        &sim.base_url(),
        &["ok"],
        "10s",
        &["-q", "--report", s(&fifo)],
    );
    let out = run(&args, &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Checked before joining: a reader left on a replaced FIFO would wait forever.
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let stdout = json(&out.stdout);
    assert_eq!(json(&reader.join().unwrap()), stdout);
    let outputs = runner_outputs(&output);
    let file = Path::new(&outputs["report_file"]);
    assert_ne!(file, fifo);
    assert_eq!(json(&std::fs::read_to_string(file).unwrap()), stdout);
    sim.shutdown().await;
}
