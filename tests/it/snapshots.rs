//! What people read, pinned with insta snapshots: `--help`, `validate` on a good and a bad
//! spec, the text report, and the progress lines in a log. Times, ports and temporary paths are
//! filtered out. Also the live progress view on a real pseudo-terminal (`script`).
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
        "timeout: soon\npoll: { intervall: 2s }\njobs: [rds:x]\n",
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

/// The live view needs a terminal: `script` gives the program a pseudo-terminal.
#[tokio::test]
async fn live_view_on_a_terminal_redraws_in_place() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED live_view_on_a_terminal_redraws_in_place: `script` (util-linux) is not installed");
        return;
    }
    let sim = sim_with_auth(
        "- { id: j1, timeline: [{ status: RUNNING, for: 1200ms }, { status: SUCCESS }] }\n- { id: j2, status: FAIL }\n",
    )
    .await;
    let command = format!(
        "env -i HUAWEICLOUD_SDK_AK={AK} HUAWEICLOUD_SDK_SK={SK} {} {} > /dev/null",
        bin().display(),
        wait_args(&sim.base_url(), &["j1", "j2"], "10s", &[]).join(" ")
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{screen}");
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
