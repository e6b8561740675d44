//! What people read, pinned with insta snapshots: `--help`, `validate` on a good and a bad
//! spec, the text report, and the progress lines in a log. Times, ports and temporary paths are
//! filtered out. Also the live progress view on a real pseudo-terminal (`script`), the same
//! pseudo-terminal under CI (lines, not the block), and `--log-format json` (every line JSON).
//!
//! After an intended change: `INSTA_UPDATE=always cargo test --test it snapshots`, then review
//! the `.snap` diffs.

use crate::support::*;

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\[\s*\d+\.\ds\]", "[   T.Ts]"),
        (r"in \d+\.\ds", "in T.Ts"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
        (r"jobwait \d+\.\d+\.\d+", "jobwait [VERSION]"),
    ]
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ filters => filters(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[tokio::test]
async fn help() {
    let out = run(&["--help"], &[]).await;
    assert_eq!(out.code, 0);
    snapshot!("help", out.stdout);
}

#[tokio::test]
async fn validate_a_good_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "cloud: otc\nregion: eu-de\nproject_id: 0123456789abcdef0123456789abcdef\npoll: { interval: 2s }\n\
         jobs:\n  - { id: ff80808288d41e1b018a0b1c2d3e4f50, name: web, success: { sub_jobs: { at_least: 2 } } }\n  - evs:4010a32d535527910153552b492c0002\n",
    );
    let env = [
        ("JOBWAIT_TIMEOUT", "10m"),
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
    ];
    let out = run(&["validate", "-f", s(&spec), "--rate-limit", "5"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("validate_good", out.stdout);
}

#[tokio::test]
async fn validate_a_bad_spec_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_file(
        dir.path(),
        "spec.yaml",
        "timeout: soon\npoll: { intervall: 2s }\njobs: [mongo:x]\n",
    );
    let out = run(
        &["validate", "-f", s(&spec)],
        &[("JOBWAIT_RATE_LIMIT", "fast")],
    )
    .await;
    assert_eq!(out.code, 2);
    snapshot!("validate_bad", out.stderr);
}

const SCRIPTED: &str = "\
- id: web
  job_type: createServer
  sub_jobs:
    - { id: s1, job_type: createSingleServer, status: SUCCESS, entities: { server_id: srv-1 } }
    - { id: s2, job_type: createSingleServer, status: FAIL, error_code: Ecs.0013, fail_reason: Insufficient EIP quota }
- { id: vol, job_type: createVolume, status: SUCCESS, entities: { volume_id: vol-1 } }
";

#[tokio::test]
async fn text_report() {
    let sim = sim_with_auth(SCRIPTED).await;
    let mut args = wait_args(
        &sim.base_url(),
        &["ecs:web", "evs:vol"],
        "10s",
        &["--quiet"],
    );
    let at = args.iter().position(|a| a == "json").unwrap();
    args[at] = "text".into();
    let out = run(&args, &aksk_env()).await;
    assert_eq!(out.code, 1);
    snapshot!("text_report", out.stdout);
}

#[tokio::test]
async fn progress_lines_in_a_log() {
    let sim = sim_with_auth(
        "- { id: j1, job_type: createVolume, timeline: [{ status: INIT, for: 600ms }, { status: RUNNING, for: 600ms }, { status: SUCCESS }] }\n",
    )
    .await;
    let args = wait_args(&sim.base_url(), &["evs:j1"], "10s", &[]);
    let mut env = aksk_env();
    env.push(("JOBWAIT_PROGRESS_INTERVAL", "0s"));
    let out = run(&args, &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("progress_lines", out.stderr);
}

/// Whether `script` (util-linux), which gives the program a pseudo-terminal, is installed.
fn has_script(test: &str) -> bool {
    let found = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("SKIPPED {test}: `script` (util-linux) is not installed");
    }
    found
}

/// Runs `jobwait ARGS` on a pseudo-terminal with only the test credentials and `env` in its
/// environment (`env -i`: none of the test runner's, so no `CI` unless given); returns its exit
/// code and what the terminal showed (standard output goes to /dev/null).
async fn on_a_terminal(args: &[String], env: &[&str]) -> (Option<i32>, String) {
    let command = format!(
        "env -i HUAWEICLOUD_SDK_AK={AK} HUAWEICLOUD_SDK_SK={SK} {} {} {} > /dev/null",
        env.join(" "),
        bin().display(),
        args.join(" ")
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The live view needs a terminal: `script` gives the program a pseudo-terminal.
#[tokio::test]
async fn live_view_on_a_terminal_redraws_in_place() {
    if !has_script("live_view_on_a_terminal_redraws_in_place") {
        return;
    }
    let sim = sim_with_auth(
        "- { id: j1, timeline: [{ status: RUNNING, for: 1200ms }, { status: SUCCESS }] }\n- { id: j2, status: FAIL }\n",
    )
    .await;
    let args = wait_args(&sim.base_url(), &["j1", "j2"], "10s", &[]);
    let (code, screen) = on_a_terminal(&args, &[]).await;
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("\x1b[J"),
        "the block is erased and redrawn: {screen:?}"
    );
    assert!(screen.contains("of 2 jobs done"), "{screen:?}");
    assert!(
        screen.contains("ecs:j1 RUNNING"),
        "pending jobs are listed: {screen:?}"
    );
    assert!(
        screen.contains("ecs:j2 FAILED: FAIL"),
        "endings scroll above the block: {screen:?}"
    );
    assert!(screen.contains("ecs:j1 succeeded: SUCCESS"), "{screen:?}");
    assert!(!screen.contains(SK) && !screen.contains(AK));
}

/// CI systems run steps on pseudo-terminals too, and store what they print: with `CI` set the
/// progress is plain lines, with no cursor movement to garble the stored log.
#[tokio::test]
async fn a_terminal_under_ci_gets_lines_not_the_live_block() {
    if !has_script("a_terminal_under_ci_gets_lines_not_the_live_block") {
        return;
    }
    let sim = sim_with_auth(
        "- { id: j1, timeline: [{ status: RUNNING, for: 600ms }, { status: SUCCESS }] }\n- { id: j2, status: FAIL }\n",
    )
    .await;
    let args = wait_args(&sim.base_url(), &["j1", "j2"], "10s", &[]);
    let (code, screen) = on_a_terminal(&args, &["CI=true"]).await;
    assert_eq!(code, Some(1), "{screen}");
    assert!(!screen.contains('\x1b'), "no escape sequence: {screen:?}");
    assert!(!screen.contains("jobs done"), "no live block: {screen:?}");
    assert!(screen.contains("ecs:j1 RUNNING"), "{screen:?}");
    assert!(screen.contains("ecs:j2 FAILED: FAIL"), "{screen:?}");
    assert!(screen.contains("ecs:j1 succeeded: SUCCESS"), "{screen:?}");
}

/// With `--log-format json` a log collector can parse every line of standard error: progress
/// changes, job endings, summaries and the program's own error lines.
#[tokio::test]
async fn json_log_format_makes_every_line_of_standard_error_json() {
    let sim = sim_with_auth(
        "- { id: j1, timeline: [{ status: INIT, for: 300ms }, { status: RUNNING, for: 1500ms }, { status: SUCCESS }] }\n- { id: j2, status: FAIL, fail_reason: \"disk full\\n::error::boom\" }\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let unwritable = dir.path().join("no-such-dir").join("report.json");
    let args = wait_args(
        &sim.base_url(),
        &["j1", "j2"],
        "10s",
        &["--log-format", "json", "-v", "--report", s(&unwritable)],
    );
    let mut env = aksk_env();
    env.push(("JOBWAIT_PROGRESS_INTERVAL", "1s"));
    let out = run(&args, &env).await;
    assert_eq!(out.code, 1, "a failed job: {}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{}", out.stderr))
        })
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|v| v["kind"].as_str()).collect();
    for kind in ["progress", "finished", "summary", "error"] {
        assert!(kinds.contains(&kind), "a {kind} line: {}", out.stderr);
    }
    let outcomes: Vec<(&str, &str)> = lines
        .iter()
        .filter(|v| v["kind"] == "finished")
        .map(|v| (v["job"].as_str().unwrap(), v["outcome"].as_str().unwrap()))
        .collect();
    assert!(outcomes.contains(&("ecs:j1", "succeeded")), "{outcomes:?}");
    assert!(outcomes.contains(&("ecs:j2", "failed")), "{outcomes:?}");
    assert!(
        lines.iter().any(|v| v["fields"].is_object()),
        "the tracing subscriber's own lines (-v) are among them: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("\n::error::"), "{}", out.stderr);
}
