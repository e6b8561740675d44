//! Layering and planning, in-process: synthetic environments, flag dicts and temp spec files.

use std::time::Duration;

use figment::value::Value;

use super::load::{load, TopKind, TopLayer};
use super::plan::{Context, Plan};
use super::problem::Problem;
use super::raw::{PendingPayment, SubJobPolicy};
use crate::cloud::endpoint::Service;
use crate::environment::Environment;

const CX: Context = Context {
    stdout_is_terminal: false,
    require_credentials: false,
};

fn flags(pairs: &[(&str, &str)]) -> TopLayer {
    let mut layer = TopLayer::new(TopKind::Flags);
    for (k, v) in pairs {
        layer.set(k, *v);
    }
    layer
}

fn spec_file(ext: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("spec.{ext}"));
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Loads and plans; the problems as users see them.
fn plan(
    path: Option<&std::path::Path>,
    env: &[(&str, &str)],
    flag_pairs: &[(&str, &str)],
) -> Result<Plan, Vec<String>> {
    let env = Environment::from_pairs(env.iter().copied());
    let shown = |problems: Vec<Problem>| problems.iter().map(ToString::to_string).collect();
    let loaded = load(path, None, &env, flags(flag_pairs)).map_err(shown)?;
    Plan::build(&loaded, &env, CX).map_err(shown)
}

const BASE: &str =
    "project_id: fromfile\nendpoint: http://127.0.0.1:1\ntimeout: 10m\njobs: [ecs:a]\n";

#[test]
fn file_then_env_then_flag() {
    let (_d, path) = spec_file("yaml", BASE);
    let p = plan(Some(&path), &[], &[]).unwrap();
    assert_eq!(
        (p.project_id().unwrap(), p.timeout),
        ("fromfile", Duration::from_secs(600))
    );

    let env = [("JOBWAIT_PROJECT_ID", "fromenv"), ("JOBWAIT_TIMEOUT", "5m")];
    let p = plan(Some(&path), &env, &[]).unwrap();
    assert_eq!(
        (p.project_id().unwrap(), p.timeout),
        ("fromenv", Duration::from_secs(300))
    );

    let p = plan(Some(&path), &env, &[("project_id", "fromflag")]).unwrap();
    assert_eq!(p.project_id().unwrap(), "fromflag");
    assert_eq!(
        p.timeout,
        Duration::from_secs(300),
        "env still wins over the file"
    );
    assert_eq!(
        p.jobs[0].url(p.project_id().unwrap()).as_str(),
        "http://127.0.0.1:1/v1/fromflag/jobs/a"
    );
}

#[test]
fn spec_path_from_jobwait_spec_and_flag_wins() {
    let (_d, path) = spec_file("yaml", BASE);
    let (_d2, other) = spec_file(
        "json",
        r#"{"project_id":"json","endpoint":"http://h","jobs":["evs:z"]}"#,
    );
    let env = [("JOBWAIT_SPEC", path.to_str().unwrap())];
    assert_eq!(
        plan(None, &env, &[]).unwrap().project_id(),
        Some("fromfile")
    );
    let p = plan(Some(&other), &env, &[]).unwrap();
    assert_eq!(p.project_id().unwrap(), "json");
    assert_eq!(p.jobs[0].service, Service::Evs.into());
}

#[test]
fn toml_spec_with_job_objects_and_criteria() {
    let (_d, path) = spec_file(
        "toml",
        r#"
project_id = "p"
cloud = "otc"
region = "eu-de"
rate_limit = 4
fail_fast = true
[success]
pending_payment = "fail"
[[jobs]]
id = "j1"
service = "evs"
name = "disk"
timeout = "2m"
success = { sub_jobs = { at_least = 2 } }
"#,
    );
    let p = plan(Some(&path), &[], &[]).unwrap();
    let job = &p.jobs[0];
    assert_eq!(
        job.url(p.project_id().unwrap()).as_str(),
        "https://evs.eu-de.otc.t-systems.com/v1/p/jobs/j1"
    );
    assert_eq!(job.name.as_deref(), Some("disk"));
    assert_eq!(job.timeout, Some(Duration::from_secs(120)));
    assert_eq!(job.criteria.sub_jobs, SubJobPolicy::AtLeast(2));
    assert_eq!(
        job.criteria.pending_payment,
        PendingPayment::Fail,
        "spec-wide default kept"
    );
    assert_eq!(p.rate_limit, 4.0);
    assert!(p.fail_fast);
}

#[test]
fn environment_values_are_text_and_empty_means_unset() {
    let env = [
        ("JOBWAIT_PROJECT_ID", "0123456789"),
        ("JOBWAIT_ENDPOINT", "http://127.0.0.1:9"),
        ("JOBWAIT_JOBS", "ecs:a, evs:b\nims:c"),
        ("JOBWAIT_TIMEOUT", ""),
        ("JOBWAIT_RATE_LIMIT", "2.5"),
        ("JOBWAIT_FAIL_FAST", "true"),
        ("JOBWAIT_POLL__INTERVAL", "2s"),
        ("JOBWAIT_SUCCESS__SUB_JOBS__RATIO", "0.5"),
        ("JOBWAIT_ENDPOINTS__EVS", "https://evs.example:8443"),
        ("JOBWAIT_TOKEN", "not-a-spec-key"),
    ];
    let p = plan(None, &env, &[]).unwrap();
    assert_eq!(
        p.project_id().unwrap(),
        "0123456789",
        "all-digit ids stay strings"
    );
    let ids: Vec<String> = p
        .jobs
        .iter()
        .map(|j| format!("{}:{}", j.service, j.id))
        .collect();
    assert_eq!(ids, ["ecs:a", "evs:b", "ims:c"]);
    assert_eq!(p.timeout, super::plan::DEFAULT_TIMEOUT);
    assert_eq!(p.rate_limit, 2.5);
    assert!(p.fail_fast);
    assert_eq!(p.poll.interval, Duration::from_secs(2));
    assert_eq!(p.jobs[0].criteria.sub_jobs, SubJobPolicy::Ratio(0.5));
    assert_eq!(
        p.jobs[1].url(p.project_id().unwrap()).as_str(),
        "https://evs.example:8443/v1/0123456789/jobs/b"
    );
}

#[test]
fn positional_jobs_replace_the_spec_jobs() {
    let (_d, path) = spec_file("yaml", BASE);
    let env = [("JOBWAIT_JOBS", "ecs:fromenv")];
    let p = plan(Some(&path), &env, &[]).unwrap();
    assert_eq!(p.jobs.len(), 1);
    assert_eq!(p.jobs[0].id, "fromenv");
    let env = Environment::from_pairs(env);
    let mut f = TopLayer::new(TopKind::Flags);
    f.set(
        "jobs",
        vec![Value::from("evs:x".to_owned()), Value::from("y".to_owned())],
    );
    let p = Plan::build(&load(Some(&path), None, &env, f).unwrap(), &env, CX).unwrap();
    let ids: Vec<&str> = p.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["x", "y"]);
}

/// A spec file, environment, flags, and the texts the error must contain.
type Case<'a> = (
    Option<&'a std::path::Path>,
    Vec<(&'a str, &'a str)>,
    Vec<(&'a str, &'a str)>,
    Vec<&'a str>,
);

/// Each bad input: the message names the key and where it came from.
#[test]
fn errors_name_key_and_source() {
    let (_d, path) = spec_file("yaml", "project_id: p\njobs: [ecs:a]\ntimeout: 5x\n");
    let shown = path.display().to_string();
    let cases: Vec<Case> = vec![
        (
            Some(&path),
            vec![],
            vec![],
            vec![shown.as_str(), "key `timeout`", "`5x` is not a duration"],
        ),
        (
            None,
            vec![("JOBWAIT_TIMEOUT", "abc")],
            vec![],
            vec!["environment variable JOBWAIT_TIMEOUT", "`abc`"],
        ),
        (
            None,
            vec![],
            vec![("timeout", "7q")],
            vec!["flag --timeout", "`7q`"],
        ),
        (
            None,
            vec![("JOBWAIT_POLL__INTERVAL", "zz")],
            vec![],
            vec!["environment variable JOBWAIT_POLL__INTERVAL", "`zz`"],
        ),
        (
            None,
            vec![("JOBWAIT_NOPE", "1")],
            vec![],
            vec!["JOBWAIT_NOPE", "unknown key `nope`"],
        ),
        (
            None,
            vec![("JOBWAIT_JOBS", "mongo:x")],
            vec![],
            vec!["JOBWAIT_JOBS", "unknown service `mongo`"],
        ),
        (
            None,
            vec![("JOBWAIT_CLOUD", "aws")],
            vec![],
            vec!["JOBWAIT_CLOUD", "aws"],
        ),
        (
            None,
            vec![("JOBWAIT_RATE_LIMIT", "fast")],
            vec![],
            vec!["JOBWAIT_RATE_LIMIT", "`fast`"],
        ),
        (None, vec![], vec![("jobs", ":")], vec!["has no job id"]),
    ];
    for (file, env, flag_pairs, wanted) in cases {
        let problems = plan(file, &env, &flag_pairs).expect_err("must fail");
        let text = problems.join("\n");
        for w in wanted {
            assert!(
                text.contains(w),
                "{w:?} not in {text:?} (env {env:?}, flags {flag_pairs:?})"
            );
        }
    }
}

#[test]
fn plan_lists_every_problem_at_once() {
    let env = [
        ("JOBWAIT_POLL__INTERVAL", "10s"),
        ("JOBWAIT_POLL__MAX_INTERVAL", "1s"),
    ];
    let problems = plan(None, &env, &[]).unwrap_err();
    let text = problems.join("\n");
    for w in ["project_id", "no jobs", "poll.max_interval"] {
        assert!(text.contains(w), "{w} not in {text}");
    }
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[test]
fn missing_endpoint_is_reported_once_per_service() {
    let problems = plan(
        None,
        &[
            ("JOBWAIT_PROJECT_ID", "p"),
            ("JOBWAIT_JOBS", "ecs:a ecs:b evs:c"),
        ],
        &[],
    )
    .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("service ecs") && problems[1].contains("service evs"));
}

#[test]
fn duplicate_jobs_and_bad_ids_are_rejected() {
    let env = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "ecs:a,ecs:a,evs:a"),
    ];
    let problems = plan(None, &env, &[]).unwrap_err();
    assert_eq!(
        problems,
        ["environment variable JOBWAIT_JOBS: job ecs:a is listed twice"]
    );
    let (_d, path) = spec_file(
        "yaml",
        "project_id: p\nendpoint: http://h\njobs: [{id: 'a/b'}]\n",
    );
    let problems = plan(Some(&path), &[], &[]).unwrap_err();
    assert!(
        problems[0].contains("jobs.0.id") && problems[0].contains("a/b"),
        "{problems:?}"
    );
}

#[test]
fn credentials_required_for_a_wait_only() {
    let env = Environment::from_pairs([
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "a"),
    ]);
    let loaded = load(None, None, &env, TopLayer::new(TopKind::Flags)).unwrap();
    let cx = Context {
        require_credentials: true,
        ..CX
    };
    let problems = Plan::build(&loaded, &env, cx).unwrap_err();
    assert!(
        problems[0].to_string().starts_with("no credentials"),
        "{problems:?}"
    );
    assert!(Plan::build(&loaded, &env, CX)
        .unwrap()
        .credentials
        .is_none());
}

#[test]
fn the_demo_spec_plans() {
    let env = Environment::from_pairs([("HUAWEICLOUD_SDK_AK", "a"), ("HUAWEICLOUD_SDK_SK", "b")]);
    let base = figment::Figment::new().merge(
        <crate::spec::file::Yaml as figment::providers::Format>::string(include_str!(
            "../demo/spec.yaml"
        )),
    );
    let loaded =
        super::load::load_from(base, &env, flags(&[("endpoint", "http://127.0.0.1:1")])).unwrap();
    let p = Plan::build(&loaded, &env, CX).unwrap();
    assert_eq!(p.jobs.len(), 5);
    assert_eq!(p.jobs[2].criteria.sub_jobs, SubJobPolicy::AtLeast(2));
    assert_eq!(p.jobs[4].service.to_string(), "rds");
}

#[test]
fn shards_split_the_job_list_by_position() {
    let env = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "a b c d e"),
    ];
    let ids = |p: Plan| p.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(plan(None, &env, &[("shard", "0/2")]).unwrap()),
        ["a", "c", "e"]
    );
    assert_eq!(
        ids(plan(None, &env, &[("shard", "1/2")]).unwrap()),
        ["b", "d"]
    );
    let mut k8s = env.to_vec();
    k8s.extend([("JOB_COMPLETION_INDEX", "2"), ("JOB_COMPLETIONS", "3")]);
    assert_eq!(ids(plan(None, &k8s, &[("shard", "auto")]).unwrap()), ["c"]);
    assert_eq!(
        ids(plan(None, &k8s, &[("shard", "auto/5")]).unwrap()),
        ["c"]
    );
    for (bad, wanted) in [
        ("2/2", "below the count"),
        ("x/2", "`x`"),
        ("auto", "JOB_COMPLETION_INDEX"),
        ("3", "INDEX/COUNT"),
    ] {
        let problems = plan(None, &env, &[("shard", bad)]).unwrap_err();
        assert!(
            problems[0].starts_with("flag --shard: key `shard`") && problems[0].contains(wanted),
            "{bad}: {problems:?}"
        );
    }
}

#[test]
fn criteria_keys_layer_per_job_and_confirm_zero_is_rejected() {
    let (_d, path) = spec_file(
        "yaml",
        "project_id: p\nendpoint: http://h\nsuccess: { confirm: 2, unknown_status: fail }\n\
         jobs:\n  - { id: a, success: { job_type: attachVolume, confirm: 3 } }\n  - b\n",
    );
    let p = plan(Some(&path), &[], &[]).unwrap();
    let (a, b) = (&p.jobs[0].criteria, &p.jobs[1].criteria);
    assert_eq!(
        (a.confirm, a.job_type.as_deref()),
        (3, Some("attachVolume"))
    );
    assert_eq!((b.confirm, b.job_type.as_deref()), (2, None));
    assert_eq!(b.unknown_status, super::raw::UnknownStatus::Fail);
    let env = [("JOBWAIT_SUCCESS__CONFIRM", "0")];
    let problems = plan(Some(&path), &env, &[]).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("job ecs:b: `success.confirm` must be at least 1")),
        "{problems:?}"
    );
}

/// A spec that says nothing about success gets the verdict's own defaults.
#[test]
fn criteria_default_to_the_verdicts() {
    let (_d, path) = spec_file("yaml", BASE);
    let p = plan(Some(&path), &[], &[]).unwrap();
    assert_eq!(p.jobs[0].criteria, crate::verdict::Criteria::default());
}

#[test]
fn project_from_region_and_password_login_need_iam() {
    use super::plan::Project;
    let env = [
        ("JOBWAIT_CLOUD", "otc"),
        ("JOBWAIT_REGION", "eu-ch2"),
        ("JOBWAIT_JOBS", "a"),
    ];
    let p = plan(None, &env, &[]).unwrap();
    assert_eq!(
        p.project,
        Project::Named {
            name: "eu-ch2".into(),
            by: "region"
        }
    );
    assert_eq!(
        p.iam.unwrap().as_str(),
        "https://iam-pub.eu-ch2.sc.otc.t-systems.com/"
    );

    let env = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://127.0.0.1:9"),
        ("JOBWAIT_ENDPOINTS__IAM", "http://127.0.0.1:10"),
        ("JOBWAIT_JOBS", "a"),
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", "secret"),
        ("OS_DOMAIN_NAME", "dom"),
    ];
    // Scoped by the project id: no region needed, only IAM's endpoint.
    let p = plan(None, &env, &[]).unwrap();
    assert_eq!(p.iam.unwrap().as_str(), "http://127.0.0.1:10/");
    let shown = format!("{:?}", p.credentials);
    assert!(!shown.contains("secret"), "{shown}");
    // …but the cloud preset names IAM's host after the region.
    let preset = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_CLOUD", "otc"),
        ("JOBWAIT_ENDPOINTS__ECS", "http://127.0.0.1:9"),
        ("JOBWAIT_JOBS", "a"),
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", "secret"),
        ("OS_DOMAIN_NAME", "dom"),
    ];
    let problems = plan(None, &preset, &[]).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("needs `region`")),
        "IAM's endpoint from the cloud preset still needs the region: {problems:?}"
    );

    let problems = plan(
        None,
        &[("OS_USERNAME", "alice"), ("JOBWAIT_JOBS", "a")],
        &[],
    )
    .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("needs OS_PASSWORD and OS_DOMAIN_NAME")),
        "{problems:?}"
    );
    let bad = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "a"),
        ("JOBWAIT_ENDPOINTS__MONGO", "http://x"),
    ];
    assert!(plan(None, &bad, &[]).unwrap_err()[0].contains("key `endpoints.mongo`"));
}

/// Zero and absurdly short durations: refused with the bound, at the bound accepted.
#[test]
fn durations_have_lower_bounds() {
    let env = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "a"),
    ];
    for (key, value, wanted) in [
        (
            "poll.interval",
            "9ms",
            "flag --poll-interval: key `poll.interval` must be at least 10ms",
        ),
        (
            "poll.interval",
            "0s",
            "key `poll.interval` must be at least 10ms",
        ),
        (
            "request_timeout",
            "99ms",
            "key `request_timeout` must be at least 100ms",
        ),
        (
            "progress_interval",
            "1ns",
            "key `progress_interval` must be 0s (off) or at least 1s",
        ),
        (
            "progress_interval",
            "999ms",
            "key `progress_interval` must be 0s (off) or at least 1s",
        ),
    ] {
        let problems = plan(None, &env, &[(key, value)]).unwrap_err();
        assert_eq!(problems.len(), 1, "{key}={value}: {problems:?}");
        assert!(problems[0].contains(wanted), "{key}={value}: {problems:?}");
    }
    let p = plan(
        None,
        &env,
        &[
            ("poll.interval", "10ms"),
            ("request_timeout", "100ms"),
            ("progress_interval", "1s"),
            ("success.not_found_grace", "0s"),
        ],
    )
    .unwrap();
    assert_eq!(
        (p.poll.interval, p.request_timeout, p.progress_interval),
        (
            super::plan::MIN_POLL_INTERVAL,
            super::plan::MIN_REQUEST_TIMEOUT,
            super::plan::MIN_PROGRESS_INTERVAL
        )
    );
    assert_eq!(p.jobs[0].criteria.not_found_grace, Duration::ZERO);
    let off = plan(None, &env, &[("progress_interval", "0s")]).unwrap();
    assert_eq!(off.progress_interval, Duration::ZERO);

    // A per-job timeout of 0 was accepted, then reported as "the API never answered".
    let (_d, path) = spec_file(
        "yaml",
        "project_id: p\nendpoint: http://h\njobs:\n  - { id: a, timeout: 1s }\n  - { id: b, timeout: 0s }\n",
    );
    let problems = plan(Some(&path), &[], &[]).unwrap_err();
    assert_eq!(
        problems,
        [format!(
            "spec file {}: key `jobs.1.timeout` must be more than 0",
            path.display()
        )]
    );
}

/// `retry.unreachable_after`: 30 s unless set, at least 1 s (there is no "off": a value at or
/// above the timeout leaves unreachable hosts to the deadline), from the file or a variable.
#[test]
fn unreachable_after_defaults_to_30s_and_refuses_less_than_a_second() {
    let env = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "a"),
    ];
    let p = plan(None, &env, &[]).unwrap();
    assert_eq!(p.unreachable_after, Duration::from_secs(30));

    let mut with = env.to_vec();
    with.push(("JOBWAIT_RETRY__UNREACHABLE_AFTER", "2m"));
    assert_eq!(
        plan(None, &with, &[]).unwrap().unreachable_after,
        Duration::from_secs(120)
    );

    for value in ["0s", "999ms"] {
        let mut with = env.to_vec();
        with.push(("JOBWAIT_RETRY__UNREACHABLE_AFTER", value));
        let problems = plan(None, &with, &[]).unwrap_err();
        assert_eq!(problems.len(), 1, "{value}: {problems:?}");
        assert!(
            problems[0].starts_with(
                "environment variable JOBWAIT_RETRY__UNREACHABLE_AFTER: key `retry.unreachable_after` must be at least 1s"
            ),
            "{value}: {problems:?}"
        );
    }
    let (_d, path) = spec_file(
        "yaml",
        "project_id: p\nendpoint: http://h\njobs: [a]\nretry: { unreachable_after: 400d }\n",
    );
    let problems = plan(Some(&path), &[], &[]).unwrap_err();
    assert!(
        problems[0].contains("key `retry.unreachable_after` is more than 1year"),
        "{problems:?}"
    );
}

/// `project_name` names the project to look the id up by (an OTC sub-project is not named like
/// its region), from the file, `JOBWAIT_PROJECT_NAME` or `--project-name`; `project_id` wins,
/// and a name IAM could not hold is refused with the key and its layer.
#[test]
fn project_name_picks_the_lookup_and_is_checked() {
    use super::plan::Project;
    let base = [("JOBWAIT_CLOUD", "otc"), ("JOBWAIT_REGION", "eu-de")];
    let named = |name: &str| Project::Named {
        name: name.into(),
        by: "project_name",
    };
    let (_d, path) = spec_file(
        "yaml",
        "project_name: eu-de_file
jobs: [a]
",
    );
    let p = plan(Some(&path), &base, &[]).unwrap();
    assert_eq!(p.project, named("eu-de_file"));
    assert!(p.iam.is_some());
    let env = [base.as_slice(), &[("JOBWAIT_PROJECT_NAME", "eu-de_env")]].concat();
    assert_eq!(
        plan(Some(&path), &env, &[]).unwrap().project,
        named("eu-de_env")
    );
    let flag = plan(Some(&path), &env, &[("project_name", "eu-de_flag")]).unwrap();
    assert_eq!(flag.project, named("eu-de_flag"));
    let id = plan(Some(&path), &env, &[("project_id", "p1")]).unwrap();
    assert_eq!(id.project, Project::Id("p1".into()));

    for bad in ["eu-de/x", "a b", "x@h", "é", &"p".repeat(65)] {
        let problems = plan(Some(&path), &base, &[("project_name", bad)]).unwrap_err();
        assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        assert!(
            problems[0].starts_with(&format!(
                "flag --project-name: key `project_name`: `{bad}` is not a project name"
            )),
            "{problems:?}"
        );
    }
    assert!(plan(Some(&path), &base, &[("project_name", &"p".repeat(64))]).is_ok());
}

/// Ids are path segments and the region is part of a host name: each is held to what real ones
/// look like, and the message names the key, where it came from and what is allowed.
#[test]
fn region_project_id_and_job_ids_are_checked() {
    let env = [("JOBWAIT_PROJECT_ID", "p"), ("JOBWAIT_CLOUD", "otc")];
    let problems = plan(None, &env, &[("region", "x@127.0.0.1:1/"), ("jobs", "a")]).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .starts_with("flag --region: key `region`: `x@127.0.0.1:1/` is not a region name"),
        "{problems:?}"
    );
    for region in ["eu-de", "eu-ch2", "ap-southeast-1", "la-south-2"] {
        assert!(plan(None, &env, &[("region", region), ("jobs", "a")]).is_ok());
    }
    let problems = plan(
        None,
        &[
            ("JOBWAIT_PROJECT_ID", ".."),
            ("JOBWAIT_ENDPOINT", "http://h"),
        ],
        &[("jobs", "a . .. b.c")],
    )
    .unwrap_err();
    let text = problems.join("\n");
    assert_eq!(problems.len(), 3, "{problems:?}");
    for wanted in [
        "environment variable JOBWAIT_PROJECT_ID: key `project_id`: `..` is not a project id",
        "key `jobs.1.id`: `.` is not a job id (letters, digits, -, _ and . only; not . or ..)",
        "key `jobs.2.id`: `..` is not a job id",
    ] {
        assert!(text.contains(wanted), "{wanted} not in {text}");
    }
}

/// A value that could not be read is left out of the spec; what only follows from its absence
/// ("not set", a comparison with its default, a template that needs it) is not listed again.
/// Left out by key: a file whose name happens to hold a key (`poll.yaml`) changes nothing.
#[test]
fn problems_that_follow_from_an_unreadable_value_are_left_out() {
    let only = |problems: Vec<String>, wanted: &str| {
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains(wanted), "{problems:#?}");
    };
    // Not "project_id is not set".
    let (_d, path) = spec_file("yaml", "project_id: [1]\nendpoint: http://h\njobs: [a]\n");
    only(plan(Some(&path), &[], &[]).unwrap_err(), "key `project_id`");
    // Not "max_interval is shorter than the default interval".
    let (_d, path) = spec_file(
        "yaml",
        "project_id: p\nendpoint: http://h\njobs: [a]\npoll: { interval: 5x, max_interval: 1s }\n",
    );
    only(
        plan(Some(&path), &[], &[]).unwrap_err(),
        "key `poll.interval`",
    );
    // Not "the cloud's template needs `region`", nor "project_id is not set".
    let (_d, path) = spec_file("yaml", "cloud: otc\nregion: [eu-de]\njobs: [a]\n");
    only(plan(Some(&path), &[], &[]).unwrap_err(), "key `region`");
    // Not "no endpoint for service ecs".
    let (_d, path) = spec_file("yaml", "project_id: p\ncloud: aws\njobs: [a]\n");
    only(plan(Some(&path), &[], &[]).unwrap_err(), "`aws`");
    // Problems under another key stay, whatever the file is called.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poll.yaml");
    std::fs::write(
        &path,
        "project_id: p\nendpoint: http://h\njobs: [a]\ntimeout: 0s\npoll: { interval: 5x }\n",
    )
    .unwrap();
    let problems = plan(Some(&path), &[], &[]).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[1].ends_with("key `timeout` must be more than 0"));
}

mod properties {
    //! Whatever text the spec file holds and whatever the environment says, loading and
    //! planning end in a plan or in problems: never a panic, every problem one readable line as
    //! printed, and never a credential or an endpoint's password in it.

    use proptest::prelude::*;

    use super::super::load::{load, load_from, TopKind, TopLayer};
    use super::super::plan::{Context, Plan};
    use super::super::problem::Problem;
    use crate::environment::Environment;

    /// Cases per property: `PROPTEST_CASES`, else a modest default that keeps a debug run short.
    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(256),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Marks every secret the inputs hold: no problem may contain it.
    const SECRET: &str = "S3CR3T";

    /// Values with a meaning for some key, and the edge cases of each kind.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "0s",
                "1ns",
                "9ms",
                "10ms",
                "90s",
                "-1s",
                "5000000000y",
                "eu-de",
                "eu-ch2",
                "x@127.0.0.1:1/",
                "EU-DE",
                ".",
                "..",
                "a.b",
                "p1",
                "0123",
                "ecs:a",
                "evs:b c,ims:d",
                "rds:x",
                ":",
                "otc",
                "aws",
                "all",
                "{ ratio: 2 }",
                "1/2",
                "auto",
                "true",
                "1e300",
                "http://127.0.0.1:9",
                "https://{service}.{region}.example",
                "http://u:S3CR3T@h.example",
                "https://u:S3CR3T@{service}.{region}.x",
                "https://u:S3CR3T@h:99999",
                "ftp://u:S3CR3T@h",
                "tab\there",
                "new\nline",
                "\u{1b}[31m",
                "\u{202e}bidi",
                "é",
            ])
            .prop_map(str::to_owned),
            ".{0,12}",
        ]
    }

    /// YAML-ish text: keys, indicators, brackets, quotes, comments and values in any order.
    fn yamlish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                "jobs",
                "region",
                "project_id",
                "endpoint",
                "endpoints",
                "evs",
                "iam",
                "cloud",
                "timeout",
                "poll",
                "interval",
                "max_interval",
                "success",
                "sub_jobs",
                "not_found_grace",
                "id",
                "service",
                "name",
                "progress_interval",
                "request_timeout",
                "shard",
                ": ",
                ":",
                "\n",
                "\n  ",
                "\n    ",
                "- ",
                "? ",
                "[",
                "]",
                "{",
                "}",
                ", ",
                "'",
                "\"",
                "# ",
                "|",
                ">-",
                "&a ",
                "*a",
                "!!str ",
                "---\n",
                "\t",
                "\\",
            ])
            .prop_map(str::to_owned),
            value(),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    /// Spec keys and credential variables, with values (credentials' carry the secret marker).
    fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
        let spec_var = (
            prop::sample::select(vec![
                "JOBWAIT_REGION",
                "JOBWAIT_PROJECT_ID",
                "JOBWAIT_ENDPOINT",
                "JOBWAIT_ENDPOINTS__EVS",
                "JOBWAIT_ENDPOINTS__IAM",
                "JOBWAIT_CLOUD",
                "JOBWAIT_TIMEOUT",
                "JOBWAIT_POLL__INTERVAL",
                "JOBWAIT_POLL__MAX_INTERVAL",
                "JOBWAIT_PROGRESS_INTERVAL",
                "JOBWAIT_REQUEST_TIMEOUT",
                "JOBWAIT_JOBS",
                "JOBWAIT_SHARD",
                "JOBWAIT_RATE_LIMIT",
                "JOBWAIT_SUCCESS__SUB_JOBS",
                "JOBWAIT_SUCCESS__NOT_FOUND_GRACE",
                "JOBWAIT_NOPE",
                "JOB_COMPLETION_INDEX",
            ]),
            value(),
        );
        let secret_var = (
            prop::sample::select(vec![
                "JOBWAIT_TOKEN",
                "OS_AUTH_TOKEN",
                "HUAWEICLOUD_SDK_AK",
                "HUAWEICLOUD_SDK_SK",
                "HUAWEICLOUD_SDK_SECURITY_TOKEN",
                "OS_USERNAME",
                "OS_PASSWORD",
                "OS_DOMAIN_NAME",
            ]),
            prop::sample::select(vec!["", " ", "\n", "\u{1}", "é", "\t"]),
        )
            .prop_map(|(name, extra)| (name, format!("{extra}{SECRET}{extra}x")));
        prop::collection::vec(
            prop_oneof![
                spec_var.prop_map(|(k, v)| (k.to_owned(), v)),
                secret_var.prop_map(|(k, v)| (k.to_owned(), v)),
            ],
            0..8,
        )
    }

    /// What a run prints for `problems` (as `main` does), checked.
    fn check_problems(problems: &[Problem]) -> Result<(), TestCaseError> {
        prop_assert!(!problems.is_empty(), "an error without a problem");
        for problem in problems {
            let shown = crate::diagnostics::one_line(&problem.to_string());
            prop_assert!(!shown.contains(SECRET), "a secret in {shown:?}");
            prop_assert!(
                !shown.chars().any(char::is_control),
                "not one clean line: {shown:?}"
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_spec_text_and_environment_plan_or_say_why(
            text in yamlish(),
            ext in prop::sample::select(vec!["yaml", "json", "toml"]),
            env in environment(),
            flag_region in prop::option::of(value()),
        ) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join(format!("spec.{ext}"));
            std::fs::write(&path, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let env = Environment::from_pairs(env);
            let mut flags = TopLayer::new(TopKind::Flags);
            if let Some(region) = flag_region {
                flags.set("region", region);
            }
            let loaded = load(Some(&path), None, &env, flags);
            let planned = loaded.and_then(|loaded| {
                Plan::build(
                    &loaded,
                    &env,
                    Context { stdout_is_terminal: false, require_credentials: true },
                )
            });
            if let Err(problems) = planned {
                check_problems(&problems)?;
            }
            // The text alone, without a file: the layer the demo uses.
            let base = figment::Figment::new()
                .merge(<crate::spec::file::Yaml as figment::providers::Format>::string(&text));
            let top = TopLayer::new(TopKind::Flags);
            match load_from(base, &env, top) {
                Ok(loaded) => {
                    if let Err(problems) = Plan::build(&loaded, &env, super::CX) {
                        check_problems(&problems)?;
                    }
                }
                Err(problems) => check_problems(&problems)?,
            }
        }
    }
}

/// One syntax for `sub_jobs` wherever it is text: a variable, a string in a file, a Terraform
/// query key; the file's objects still work, and a job's own criteria still win.
#[test]
fn sub_jobs_text_forms_in_every_layer() {
    let env = [("JOBWAIT_SUCCESS__SUB_JOBS", "at-least=2")];
    let p = plan(
        None,
        &env,
        &[
            ("project_id", "p"),
            ("endpoint", "http://127.0.0.1:1"),
            ("jobs", "a"),
        ],
    )
    .unwrap();
    assert_eq!(p.jobs[0].criteria.sub_jobs, SubJobPolicy::AtLeast(2));

    let (_d, path) = spec_file(
        "yaml",
        "project_id: p\nendpoint: http://127.0.0.1:1\nsuccess: { sub_jobs: \"ratio=0.8\" }\n\
         jobs: [a, { id: b, success: { sub_jobs: { at_least: 3 } } }, { id: c, success: { sub_jobs: at_least=1 } }]\n",
    );
    let p = plan(Some(&path), &[], &[]).unwrap();
    let policies: Vec<SubJobPolicy> = p.jobs.iter().map(|j| j.criteria.sub_jobs).collect();
    assert_eq!(
        policies,
        [
            SubJobPolicy::Ratio(0.8),
            SubJobPolicy::AtLeast(3),
            SubJobPolicy::AtLeast(1)
        ]
    );

    let mut query = TopLayer::new(TopKind::TerraformQuery);
    query
        .set_path("success__sub_jobs".split("__"), "ratio=0.25")
        .set("project_id", "p")
        .set("endpoint", "http://127.0.0.1:1")
        .set("jobs", "a");
    let env = Environment::from_pairs(std::iter::empty::<(&str, &str)>());
    let loaded = load(None, None, &env, query).unwrap();
    let p = Plan::build(&loaded, &env, CX).unwrap();
    assert_eq!(p.jobs[0].criteria.sub_jobs, SubJobPolicy::Ratio(0.25));
}

#[test]
fn a_bad_sub_jobs_text_names_the_variable_the_value_and_the_forms() {
    let env = [("JOBWAIT_SUCCESS__SUB_JOBS", "at-least=many")];
    let problems = plan(
        None,
        &env,
        &[
            ("project_id", "p"),
            ("endpoint", "http://127.0.0.1:1"),
            ("jobs", "a"),
        ],
    )
    .unwrap_err();
    let all = problems.join("\n");
    assert!(all.contains("JOBWAIT_SUCCESS__SUB_JOBS"), "{all}");
    assert!(all.contains("`at-least=many`"), "{all}");
    assert!(
        all.contains("ratio=R") && all.contains("{ at_least: N }"),
        "{all}"
    );
}

/// A variable with one `_` where the nesting needs `__` is told the variable it meant; one that
/// is no key either way keeps the list of known keys.
#[test]
fn a_misspelt_variable_is_told_the_nested_one() {
    let base = [
        ("project_id", "p"),
        ("endpoint", "http://127.0.0.1:1"),
        ("jobs", "a"),
    ];
    let cases = [
        (
            "JOBWAIT_POLL_INTERVAL",
            "did you mean JOBWAIT_POLL__INTERVAL?",
        ),
        (
            "JOBWAIT_POLL_MAX_INTERVAL",
            "did you mean JOBWAIT_POLL__MAX_INTERVAL?",
        ),
        (
            "JOBWAIT_SUCCESS_SUB_JOBS",
            "did you mean JOBWAIT_SUCCESS__SUB_JOBS?",
        ),
        (
            "JOBWAIT_RETRY_MAX_CONSECUTIVE_ERRORS",
            "did you mean JOBWAIT_RETRY__MAX_CONSECUTIVE_ERRORS?",
        ),
        (
            "JOBWAIT_ENDPOINTS_EVS",
            "did you mean JOBWAIT_ENDPOINTS__EVS?",
        ),
    ];
    for (var, wanted) in cases {
        let text = plan(None, &[(var, "2")], &base).unwrap_err().join("\n");
        assert!(
            text.contains(&format!("environment variable {var}")),
            "{text}"
        );
        assert!(text.contains(wanted), "{var}: {text}");
    }
    for var in [
        "JOBWAIT_TIMEOUT_X",
        "JOBWAIT_JOBS_X",
        "JOBWAIT_POLL_INTERVALL",
    ] {
        let text = plan(None, &[(var, "2")], &base).unwrap_err().join("\n");
        assert!(!text.contains("did you mean"), "{var}: {text}");
        assert!(text.contains("(known: cloud, region"), "{var}: {text}");
    }
}

/// The configuration of other tools (`HW_*`, `HUAWEICLOUD_SDK_*`, `OS_*`): each variable sets
/// its key and is named as its origin; the families stack below the spec file.
mod other_tools {
    use super::*;

    fn loaded(env: &[(&str, &str)]) -> super::super::load::Loaded {
        let env = Environment::from_pairs(env.iter().copied());
        load(None, None, &env, flags(&[])).unwrap()
    }

    #[test]
    fn each_variable_sets_its_key_and_is_named_as_its_origin() {
        for (var, key, value) in [
            ("HW_REGION_NAME", "region", "eu-de"),
            ("HW_PROJECT_ID", "project_id", "p1"),
            ("HW_PROJECT_NAME", "project_name", "eu-de_sub"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", "project_id", "p2"),
            (
                "HUAWEICLOUD_SDK_IAM_ENDPOINT",
                "endpoints.iam",
                "https://iam.example.com",
            ),
            ("OS_REGION_NAME", "region", "eu-nl"),
            ("OS_PROJECT_ID", "project_id", "p3"),
            ("OS_PROJECT_NAME", "project_name", "eu-nl_sub"),
            ("OS_AUTH_URL", "endpoints.iam", "https://iam.example.com"),
        ] {
            let l = loaded(&[(var, value)]);
            let got = match key {
                "region" => l.raw.region.clone(),
                "project_id" => l.raw.project_id.clone(),
                "project_name" => l.raw.project_name.clone(),
                _ => l.raw.endpoints.as_ref().and_then(|e| e.get("iam").cloned()),
            };
            assert_eq!(got.as_deref(), Some(value), "{var}");
            assert_eq!(
                l.origin(key).as_deref(),
                Some(format!("environment variable {var}").as_str()),
                "{var}"
            );
        }
        // Blank (or whitespace) counts as unset, and values are trimmed.
        let l = loaded(&[("OS_REGION_NAME", " \r\n"), ("HW_REGION_NAME", "eu-de\r\n")]);
        assert_eq!(l.raw.region.as_deref(), Some("eu-de"));
        assert_eq!(
            l.origin("region").as_deref(),
            Some("environment variable HW_REGION_NAME")
        );
        // Only documented names: no HUAWEICLOUD_SDK_REGION, no near-misses.
        let l = loaded(&[("HUAWEICLOUD_SDK_REGION", "eu-de"), ("OS_REGION", "eu-de")]);
        assert_eq!(l.raw.region, None);
    }

    #[test]
    fn precedence_flag_jobwait_file_os_sdk_hw() {
        let (_d, path) = spec_file("yaml", "project_id: fromfile\n");
        let all = [
            ("HW_PROJECT_ID", "fromhw"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", "fromsdk"),
            ("OS_PROJECT_ID", "fromos"),
            ("JOBWAIT_PROJECT_ID", "fromjobwait"),
        ];
        let with = |n: usize, file: bool, flag: bool| {
            let env = Environment::from_pairs(all[..n].iter().copied());
            let top = if flag {
                flags(&[("project_id", "fromflag")])
            } else {
                flags(&[])
            };
            let l = load(file.then_some(path.as_path()), None, &env, top).unwrap();
            (
                l.raw.project_id.clone().unwrap(),
                l.origin("project_id").unwrap(),
            )
        };
        assert_eq!(with(1, false, false).0, "fromhw");
        assert_eq!(with(2, false, false).0, "fromsdk");
        assert_eq!(
            with(3, false, false),
            (
                "fromos".to_owned(),
                "environment variable OS_PROJECT_ID".to_owned()
            )
        );
        let (value, origin) = with(3, true, false);
        assert_eq!(
            value, "fromfile",
            "the spec file wins over every other tool"
        );
        assert!(origin.starts_with("spec file "), "{origin}");
        assert_eq!(with(4, true, false).0, "fromjobwait");
        assert_eq!(with(4, true, true).0, "fromflag");

        // Key by key: the file's project id does not hide the openrc's region.
        let env = Environment::from_pairs([("OS_REGION_NAME", "eu-nl")]);
        let l = load(Some(&path), None, &env, flags(&[])).unwrap();
        assert_eq!(l.raw.region.as_deref(), Some("eu-nl"));
        assert_eq!(l.raw.project_id.as_deref(), Some("fromfile"));
    }

    #[test]
    fn the_auth_url_loses_its_v3_and_its_host_tells_the_cloud() {
        let env = [
            ("OS_AUTH_URL", "https://iam.eu-de.otc.t-systems.com/v3/"),
            ("OS_REGION_NAME", "eu-de"),
            ("OS_PROJECT_ID", "p"),
            ("JOBWAIT_JOBS", "a"),
        ];
        let p = plan(None, &env, &[]).unwrap();
        assert_eq!(
            p.jobs[0].url("p").as_str(),
            "https://ecs.eu-de.otc.t-systems.com/v1/p/jobs/a"
        );
        let l = loaded(&env);
        assert_eq!(
            l.raw.endpoints.as_ref().unwrap()["iam"],
            "https://iam.eu-de.otc.t-systems.com"
        );
        assert_eq!(
            l.origin("cloud").as_deref(),
            Some("the host of environment variable OS_AUTH_URL")
        );
        assert_eq!(
            l.origin("endpoints").as_deref(),
            Some("environment variable OS_AUTH_URL")
        );

        // A path before `/v3` stays; only a trailing `/v3` goes.
        let l = loaded(&[("OS_AUTH_URL", "https://h.example/identity/v3")]);
        assert_eq!(
            l.raw.endpoints.as_ref().unwrap()["iam"],
            "https://h.example/identity"
        );
        assert!(l.raw.cloud.is_none(), "an unknown host tells no cloud");

        use crate::cloud::endpoint::Cloud;
        for (url, cloud) in [
            (
                "https://iam.ap-southeast-1.myhuaweicloud.com/v3",
                Cloud::Huaweicloud,
            ),
            (
                "https://iam.eu-west-101.myhuaweicloud.eu",
                Cloud::Huaweicloud,
            ),
            (
                "https://iam.eu-west-0.prod-cloud-ocb.orange-business.com/v3",
                Cloud::Flexibleengine,
            ),
        ] {
            assert_eq!(
                loaded(&[("OS_AUTH_URL", url)]).raw.cloud,
                Some(cloud),
                "{url}"
            );
            let sdk = loaded(&[("HUAWEICLOUD_SDK_IAM_ENDPOINT", url)]);
            assert_eq!(sdk.raw.cloud, Some(cloud), "{url}");
        }

        // A `cloud` the user set wins, from any of jobwait's own layers.
        let otc = ("OS_AUTH_URL", "https://iam.eu-de.otc.t-systems.com/v3");
        let l = loaded(&[otc, ("JOBWAIT_CLOUD", "huaweicloud")]);
        assert_eq!(l.raw.cloud, Some(Cloud::Huaweicloud));
        let (_d, path) = spec_file("yaml", "cloud: flexibleengine\n");
        let env = Environment::from_pairs([otc]);
        let l = load(Some(&path), None, &env, flags(&[])).unwrap();
        assert_eq!(l.raw.cloud, Some(Cloud::Flexibleengine));

        // Only the IAM URL that wins tells the cloud: an SDK endpoint on Huawei Cloud under an
        // openrc on another host picks none.
        let l = loaded(&[
            (
                "HUAWEICLOUD_SDK_IAM_ENDPOINT",
                "https://iam.ap-southeast-1.myhuaweicloud.com",
            ),
            ("OS_AUTH_URL", "https://keystone.example/v3"),
        ]);
        assert_eq!(
            l.raw.endpoints.as_ref().unwrap()["iam"],
            "https://keystone.example"
        );
        assert!(l.raw.cloud.is_none());

        // A spec's own `endpoints.iam` tells no cloud (a spec that works today keeps its
        // meaning).
        let (_d, path) = spec_file(
            "yaml",
            "endpoints: { iam: 'https://iam.eu-de.otc.t-systems.com' }\n",
        );
        let l = load(Some(&path), None, &Environment::default(), flags(&[])).unwrap();
        assert!(l.raw.cloud.is_none());
    }

    #[test]
    fn a_bad_value_names_the_variable_that_gave_it() {
        let problems = plan(
            None,
            &[
                ("OS_REGION_NAME", "RegionOne"),
                ("JOBWAIT_ENDPOINT", "http://h"),
                ("JOBWAIT_JOBS", "a"),
            ],
            &[],
        )
        .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("environment variable OS_REGION_NAME")
                    && p.contains("RegionOne")),
            "{problems:?}"
        );
        let problems = plan(
            None,
            &[
                ("OS_PROJECT_ID", "p"),
                ("OS_AUTH_URL", "ftp://h.example/v3"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "pw-secret-value"),
                ("OS_DOMAIN_NAME", "d"),
                ("JOBWAIT_ENDPOINT", "http://h"),
                ("JOBWAIT_JOBS", "a"),
            ],
            &[],
        )
        .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("environment variable OS_AUTH_URL")),
            "{problems:?}"
        );
        assert!(!problems.iter().any(|p| p.contains("pw-secret-value")));
    }

    #[test]
    fn validate_shows_a_hostile_job_name_as_one_harmless_line() {
        let (_dir, path) = spec_file(
            "json",
            r#"{"endpoint": "http://h", "project_id": "p",
                "jobs": [{"id": "a", "name": "web\n::error::forged \u001b[2J"}]}"#,
        );
        let env = Environment::from_pairs::<&str, &str>([]);
        let l = load(Some(&path), None, &env, flags(&[])).unwrap();
        let p = Plan::build(&l, &env, CX).unwrap();
        let text = super::super::describe::describe_plan(&p, &l);
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("  web ::error::forged \\u{1b}[2J (ecs:a)\n"),
            "{text}"
        );
    }

    #[test]
    fn validate_names_the_openrc_variable() {
        let env = Environment::from_pairs([
            ("OS_REGION_NAME", "eu-de"),
            ("JOBWAIT_ENDPOINT", "http://h"),
            ("JOBWAIT_JOBS", "a"),
        ]);
        let l = load(None, None, &env, flags(&[])).unwrap();
        let p = Plan::build(&l, &env, CX).unwrap();
        let text = super::super::describe::describe_plan(&p, &l);
        assert!(
            text.contains(
                "looked up in IAM as the project named eu-de at the start \
                 (`region`, environment variable OS_REGION_NAME)"
            ),
            "{text}"
        );
    }
}

/// Which credentials a clouds.yaml entry gives, and when IAM is asked with them: `JOBWAIT_TOKEN`
/// wins over the entry's; the entry's AK/SK with a known project id ask no IAM, so no rule
/// applies; the entry's name, from a variable, reaches `validate` without its control
/// characters.
#[test]
fn clouds_yaml_credentials_and_the_token_over_them() {
    use crate::cloud::auth::Credentials;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clouds.yaml");
    std::fs::write(
        &file,
        "clouds:\n  \"otc\\e[2J\":\n    access_key: AKX\n    secret_key: SKX\n    auth:\n      project_id: 0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let base = [
        ("OS_CLIENT_CONFIG_FILE", file.as_str()),
        ("OS_CLOUD", "otc\u{1b}[2J"),
        ("JOBWAIT_JOBS", "a"),
        ("JOBWAIT_ENDPOINT", "http://127.0.0.1:1"),
    ];
    let p = plan(None, &base, &[]).unwrap();
    assert!(p.iam.is_none() && !p.credentials_from_env);
    match p.credentials.as_ref().unwrap() {
        Credentials::AkSk { ak, source, .. } => {
            assert_eq!(ak.expose(), "AKX");
            assert!(!source.contains('\u{1b}'), "{source}");
            assert!(source.ends_with("access_key/secret_key"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    let with_token = [&base[..], &[("JOBWAIT_TOKEN", "tok")]].concat();
    let p = plan(None, &with_token, &[]).unwrap();
    assert!(matches!(p.credentials, Some(Credentials::Token { .. })));
    assert!(p.credentials_from_env);
}

/// The entry's `auth_url` host tells the cloud (in the entry's layer, so `JOBWAIT_CLOUD` wins)
/// and its `region_name` the region, each named by file, entry and key.
#[test]
fn the_entrys_auth_url_tells_the_cloud_unless_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clouds.yaml");
    std::fs::write(
        &file,
        "clouds:\n  otc:\n    region_name: eu-de\n    auth:\n      auth_url: https://iam.eu-de.otc.t-systems.com/v3\n      project_id: 0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let env = Environment::from_pairs([
        ("OS_CLIENT_CONFIG_FILE", path.as_str()),
        ("OS_CLOUD", "otc"),
        ("OS_REGION_NAME", "eu-nl"),
        ("JOBWAIT_JOBS", "a"),
    ]);
    let loaded = load(None, None, &env, flags(&[])).unwrap();
    let p = Plan::build(&loaded, &env, CX).unwrap();
    assert_eq!(
        p.jobs[0].base.host_str(),
        Some("ecs.eu-de.otc.t-systems.com")
    );
    assert_eq!(
        loaded.origin("cloud").unwrap(),
        format!("the host of clouds.yaml {path}, entry otc, key auth.auth_url")
    );
    assert_eq!(
        loaded.origin("region").unwrap(),
        format!("clouds.yaml {path}, entry otc, key region_name")
    );
    let env = Environment::from_pairs([
        ("OS_CLIENT_CONFIG_FILE", path.as_str()),
        ("OS_CLOUD", "otc"),
        ("JOBWAIT_JOBS", "a"),
        ("JOBWAIT_CLOUD", "huaweicloud"),
    ]);
    let loaded = load(None, None, &env, flags(&[])).unwrap();
    let p = Plan::build(&loaded, &env, CX).unwrap();
    assert_eq!(
        p.jobs[0].base.host_str(),
        Some("ecs.eu-de.myhuaweicloud.com")
    );
}

#[test]
fn the_duration_cache_follows_xdg_then_home_and_can_be_moved_or_turned_off() {
    use std::path::PathBuf;
    let env = [
        ("JOBWAIT_PROJECT_ID", "p"),
        ("JOBWAIT_ENDPOINT", "http://h"),
        ("JOBWAIT_JOBS", "a"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = env.to_vec();
        all.extend_from_slice(extra);
        plan(None, &all, &[])
    };
    assert_eq!(
        with(&[]).unwrap().duration_cache,
        None,
        "no XDG_CACHE_HOME, no HOME"
    );
    assert_eq!(
        with(&[("HOME", "/home/u")]).unwrap().duration_cache,
        Some(PathBuf::from("/home/u/.cache/jobwait/durations.json"))
    );
    assert_eq!(
        with(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")])
            .unwrap()
            .duration_cache,
        Some(PathBuf::from("/c/jobwait/durations.json"))
    );
    assert_eq!(
        with(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "relative")])
            .unwrap()
            .duration_cache,
        Some(PathBuf::from("/home/u/.cache/jobwait/durations.json")),
        "a relative XDG_CACHE_HOME is ignored, as the XDG rule says"
    );
    assert_eq!(
        with(&[("HOME", "/home/u"), ("JOBWAIT_POLL__CACHE", "off")])
            .unwrap()
            .duration_cache,
        None
    );
    assert_eq!(
        with(&[("JOBWAIT_POLL__CACHE", "/tmp/d.json")])
            .unwrap()
            .duration_cache,
        Some(PathBuf::from("/tmp/d.json"))
    );
    let problems = with(&[("JOBWAIT_POLL__CACHE", " ")]).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("JOBWAIT_POLL__CACHE") && problems[0].contains("poll.cache"),
        "{problems:?}"
    );
}

/// `validate` says where the adaptive schedule keeps its durations, and where that came from.
#[test]
fn validate_shows_the_duration_cache() {
    let shown = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("JOBWAIT_PROJECT_ID", "p"),
            ("JOBWAIT_ENDPOINT", "http://h"),
            ("JOBWAIT_JOBS", "a"),
        ];
        all.extend_from_slice(pairs);
        let env = Environment::from_pairs(all);
        let l = load(None, None, &env, flags(&[])).unwrap();
        let p = Plan::build(&l, &env, CX).unwrap();
        let text = super::describe::describe_plan(&p, &l);
        text.lines()
            .find(|l| l.starts_with("poll cache"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        shown(&[("XDG_CACHE_HOME", "/x")]),
        "poll cache  /x/jobwait/durations.json (default)"
    );
    assert_eq!(
        shown(&[("XDG_CACHE_HOME", "/x"), ("JOBWAIT_POLL__CACHE", "off")]),
        "poll cache  off (environment variable JOBWAIT_POLL__CACHE)"
    );
    assert_eq!(
        shown(&[("JOBWAIT_POLL__SCHEDULE", "backoff"), ("HOME", "/h")]),
        "poll cache  not used by this schedule"
    );
}

/// A spec file's path (from `--spec` or `JOBWAIT_SPEC`) reaches `validate`'s standard output as
/// one harmless line.
#[test]
fn validate_shows_a_hostile_spec_path_as_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("x\n::error::forged");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("spec.yaml");
    std::fs::write(&path, "endpoint: http://h\nproject_id: p\njobs: [a]\n").unwrap();
    let env = Environment::from_pairs::<&str, &str>([]);
    let l = load(Some(&path), None, &env, flags(&[])).unwrap();
    let p = Plan::build(&l, &env, CX).unwrap();
    let text = super::describe::describe_plan(&p, &l);
    assert!(text.contains("x ::error::forged"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("::")), "{text}");
}
