//! Bad input never panics: the wire parsers (`Job::from_slice`, `ApiErrorBody::parse`) on
//! arbitrary bytes, arbitrary JSON and mutated real API examples; the spec loader and planner on
//! arbitrary spec files and `JOBWAIT_*` environments; `jobwait validate` and `jobwait terraform`
//! on malformed input (one line per problem on stderr); and values far out of range (rejected up
//! front, never a panic in the wait engine).
//!
//! Property tests run a moderate number of cases from a fixed seed (see [`config`]) so this file
//! stays fast and deterministic, and keep no regression files (the tests must not write into the
//! repository).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jobwait::cloud::wire::{ApiErrorBody, Job, JobStatus};
use jobwait::environment::Environment;
use jobwait::spec::load::{load, TopKind, TopLayer};
use jobwait::spec::plan::Context;
use jobwait::spec::Plan;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;

use crate::support::{aksk_env, bin, json, repo_root, run, sim_with_auth, wait_args, RUN_TIMEOUT};

/// `cases` cases from a fixed seed, so every run checks the same inputs (set
/// `PROPTEST_RNG_SEED` to explore others), and no regression files.
fn config(cases: u32) -> Config {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(0x6a6f_6277_6169_7401);
    }
    config
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Field names the parsers look at, so generated objects reach their interesting branches.
const WIRE_KEYS: &[&str] = &[
    "status",
    "job_id",
    "job_type",
    "begin_time",
    "end_time",
    "error_code",
    "fail_reason",
    "entities",
    "sub_jobs",
    "sub_jobs_total",
    "server_id",
    "volume_id",
    "error",
    "code",
    "message",
    "error_msg",
    "error_message",
    "request_id",
    "badRequest",
];

/// Statuses and other strings with a meaning somewhere.
const WIRE_STRINGS: &[&str] = &[
    "SUCCESS",
    "FAIL",
    "RUNNING",
    "INIT",
    "PENDING_PAYMENT",
    "",
    "Common.0011",
    "APIGW.0308",
    "18446744073709551616",
    "-1",
    " 7 ",
    "2016-04-25T20:08:41.593Z",
];

/// Any text, line breaks and control characters included.
const ANY_TEXT: &str = "(?s:.{0,24})";

/// Mostly one of `words`, else printable text, else text matching `arbitrary`.
fn text(
    words: &'static [&'static str],
    arbitrary: &'static str,
) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => prop::sample::select(words).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
        1 => prop::string::string_regex(arbitrary).expect("a valid regex"),
    ]
}

/// Any JSON value, objects keyed mostly by `keys`, strings mostly from `strings`.
fn json_value(
    keys: &'static [&'static str],
    strings: &'static [&'static str],
    arbitrary: &'static str,
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON numbers are finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        text(strings, arbitrary).prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(keys, arbitrary), inner), 0..7)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index, prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(&b"{}[]\",:0\\ \x00\xff-ne"[..])
        )
            .prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Mutation::Delete(a, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match m {
            Mutation::Flip(i, mask) => bytes[i.index(len)] ^= mask,
            Mutation::Set(i, b) => bytes[i.index(len)] = *b,
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::Delete(a, b) => {
                let (a, b) = (a.index(len), b.index(len));
                bytes.drain(a.min(b)..a.max(b));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        }
    }
    bytes
}

/// The real API examples under `tests/fixtures/api-examples`.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = repo_root().join("tests/fixtures/api-examples");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a readable fixture");
            (p.display().to_string(), bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 5, "fixtures missing in {}", dir.display());
    out
}

/// Both wire parsers on `body`. The checks are what callers rely on: an error says something,
/// and a parsed error body has a code or a message.
fn parse_both(body: &[u8]) -> Result<(), TestCaseError> {
    if let Err(message) = Job::from_slice(body) {
        prop_assert!(!message.trim().is_empty(), "an empty error for {body:?}");
    }
    if let Some(err) = ApiErrorBody::parse(body) {
        prop_assert!(
            err.code.is_some() || err.message.is_some(),
            "an error body with neither code nor message: {err:?}"
        );
        prop_assert!(!err.to_string().is_empty());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The wire parsers

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn wire_parsers_take_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_both(&body)?;
    }

    /// Any JSON value: a document is rejected only when it has no string `status` — the parser
    /// is lenient about every other field, so one odd field never loses a whole job.
    #[test]
    fn wire_parsers_take_arbitrary_json(value in json_value(WIRE_KEYS, WIRE_STRINGS, ANY_TEXT)) {
        let body = serde_json::to_vec(&value).unwrap();
        parse_both(&body)?;
        match value.get("status") {
            Some(Value::String(status)) => {
                let job = Job::from_slice(&body);
                prop_assert!(job.is_ok(), "a job with status {status:?} was rejected: {job:?}\n{value}");
                prop_assert_eq!(job.unwrap().status, JobStatus::parse(status));
            }
            _ => prop_assert!(Job::from_slice(&body).is_err(), "accepted without a string status: {value}"),
        }
    }

    /// Job-shaped documents with arbitrary values in every field and nested sub-jobs.
    #[test]
    fn wire_parsers_take_job_shaped_documents(
        status in text(WIRE_STRINGS, ANY_TEXT),
        fields in prop::collection::vec((prop::sample::select(WIRE_KEYS), json_value(WIRE_KEYS, WIRE_STRINGS, ANY_TEXT)), 0..8),
        sub_jobs in prop::collection::vec(json_value(WIRE_KEYS, WIRE_STRINGS, ANY_TEXT), 0..4),
    ) {
        let mut doc = serde_json::Map::new();
        for (key, value) in fields {
            doc.insert(key.to_owned(), value);
        }
        doc.insert("status".into(), Value::String(status.clone()));
        doc.insert(
            "entities".into(),
            serde_json::json!({ "sub_jobs": sub_jobs, "sub_jobs_total": 3 }),
        );
        let body = serde_json::to_vec(&Value::Object(doc)).unwrap();
        parse_both(&body)?;
        let job = Job::from_slice(&body);
        prop_assert!(job.is_ok(), "{job:?}");
        prop_assert_eq!(job.unwrap().status, JobStatus::parse(&status));
    }

    /// The real examples with random byte flips, insertions, deletions and truncations.
    #[test]
    fn wire_parsers_take_mutated_fixtures(
        which in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let all = fixtures();
        let (_, original) = &all[which.index(all.len())];
        parse_both(&mutate(original.clone(), &mutations))?;
    }
}

/// Nesting far deeper than any API sends: serde_json's recursion limit turns it into an error,
/// not a stack overflow — also inside `entities.sub_jobs`, which the parser walks recursively.
#[test]
fn wire_parsers_survive_deep_nesting() {
    let depth = 100_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"error\":".repeat(depth), "}".repeat(depth));
    let mut sub_jobs = String::from(r#"{"status":"SUCCESS"}"#);
    // Three levels of JSON per sub-job level (object, `entities`, `sub_jobs`): 40 × 3 < 128.
    for _ in 0..40 {
        sub_jobs = format!(r#"{{"status":"RUNNING","entities":{{"sub_jobs":[{sub_jobs}]}}}}"#);
    }
    for body in [&arrays, &objects, &sub_jobs] {
        let _ = Job::from_slice(body.as_bytes());
        let _ = ApiErrorBody::parse(body.as_bytes());
    }
    assert!(
        Job::from_slice(sub_jobs.as_bytes()).is_ok(),
        "40 levels of sub-jobs are within the limit"
    );
    assert!(Job::from_slice(arrays.as_bytes()).is_err());
    assert_eq!(ApiErrorBody::parse(objects.as_bytes()), None);
}

/// Every fixture cut at every length: never a panic.
#[test]
fn wire_parsers_take_every_prefix_of_every_fixture() {
    for (name, bytes) in fixtures() {
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            let job = Job::from_slice(prefix);
            let _ = ApiErrorBody::parse(prefix);
            if let Err(e) = job {
                assert!(!e.is_empty(), "{name}[..{len}]");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The spec loader and planner

/// Spec keys at every level, so generated documents get past "unknown key".
const SPEC_KEYS: &[&str] = &[
    "cloud",
    "region",
    "project_id",
    "endpoint",
    "endpoints",
    "timeout",
    "poll",
    "interval",
    "max_interval",
    "rate_limit",
    "fail_fast",
    "success",
    "sub_jobs",
    "pending_payment",
    "not_found_grace",
    "unknown_status",
    "confirm",
    "job_type",
    "at_least",
    "ratio",
    "jobs",
    "id",
    "service",
    "name",
    "fail_on",
    "shard",
    "output",
    "quiet",
    "verbose",
    "ecs",
    "evs",
    "retry",
    "max_consecutive_errors",
    "unreachable_after",
    "progress_interval",
];

/// Values with a meaning for some key, and edge cases of each kind.
const SPEC_STRINGS: &[&str] = &[
    "90s",
    "0s",
    "-1s",
    "1h 30m",
    "5000000000y",
    "99999999999999999999999h",
    "ecs:ff80808288d41e1b018a0b1c2d3e4f50",
    "evs:a, ims:b\necs:c",
    "line one\nline two",
    ":",
    "ecs:",
    "all",
    "any",
    "none",
    "wait",
    "success",
    "fail",
    "never",
    "otc",
    "huaweicloud",
    "flexibleengine",
    "https://{service}.{region}.example.com",
    "http://127.0.0.1:1",
    "{service}",
    "not a url",
    "0/0",
    "1/0",
    "2/3",
    "auto",
    "auto/0",
    "NaN",
    "inf",
    "-0",
    "1e309",
    "0.8",
    "256",
    "json",
    "text",
    "true",
    "",
    " ",
    "0123456789abcdef0123456789abcdef",
];

/// Fragments of YAML syntax, for text that is YAML-like but not necessarily YAML.
const YAML_BITS: &[&str] = &[
    "---",
    "...",
    "&a",
    "*a",
    "<<: *a",
    "!!binary",
    "!tag",
    "? ",
    "{",
    "}",
    "[",
    "]",
    "- ",
    "|",
    ">",
    "#",
    "'",
    "\"",
    ",",
    "%YAML 1.2",
    "~",
    "null",
    "=",
    "[[jobs]]",
    "\t",
];

/// Text built from spec keys, values and YAML syntax, line by line.
fn yamlish_text() -> impl Strategy<Value = String> {
    let line = (
        0..4usize,
        text(SPEC_KEYS, ANY_TEXT),
        prop::sample::select(&[": ", ":", " - ", "- ", " = ", ": [", ": {"][..]),
        prop_oneof![text(SPEC_STRINGS, ANY_TEXT), text(YAML_BITS, ANY_TEXT)],
        prop::option::of(text(YAML_BITS, ANY_TEXT)),
    )
        .prop_map(|(indent, key, sep, value, extra)| {
            format!(
                "{}{key}{sep}{value}{}",
                "  ".repeat(indent),
                extra.map(|e| format!(" {e}")).unwrap_or_default()
            )
        });
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

/// The spec's keys as `JOBWAIT_*` variables.
const ENV_NAMES: &[&str] = &[
    "JOBWAIT_CLOUD",
    "JOBWAIT_REGION",
    "JOBWAIT_PROJECT_ID",
    "JOBWAIT_ENDPOINT",
    "JOBWAIT_ENDPOINTS__EVS",
    "JOBWAIT_ENDPOINTS__NOPE",
    "JOBWAIT_TIMEOUT",
    "JOBWAIT_POLL__INTERVAL",
    "JOBWAIT_POLL__MAX_INTERVAL",
    "JOBWAIT_RATE_LIMIT",
    "JOBWAIT_FAIL_FAST",
    "JOBWAIT_SUCCESS__SUB_JOBS",
    "JOBWAIT_SUCCESS__SUB_JOBS__AT_LEAST",
    "JOBWAIT_SUCCESS__SUB_JOBS__RATIO",
    "JOBWAIT_SUCCESS__PENDING_PAYMENT",
    "JOBWAIT_SUCCESS__NOT_FOUND_GRACE",
    "JOBWAIT_SUCCESS__UNKNOWN_STATUS",
    "JOBWAIT_SUCCESS__CONFIRM",
    "JOBWAIT_SUCCESS__JOB_TYPE",
    "JOBWAIT_JOBS",
    "JOBWAIT_FAIL_ON",
    "JOBWAIT_SHARD",
    "JOBWAIT_OUTPUT",
    "JOBWAIT_QUIET",
    "JOBWAIT_VERBOSE",
    "JOBWAIT_SPEC",
    "JOBWAIT_REPORT",
    "JOBWAIT_",
    "JOBWAIT___",
    "JOBWAIT_POLL__",
];

/// `JOBWAIT_*` variables: mostly the spec's own, else names made of spec keys (nested with `__`)
/// or anything; values from the spec vocabulary or any printable text.
fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => prop::sample::select(ENV_NAMES).prop_map(str::to_owned),
        1 => prop::collection::vec(prop::sample::select(SPEC_KEYS), 1..4)
            .prop_map(|keys| format!("JOBWAIT_{}", keys.join("__").to_ascii_uppercase())),
        1 => "[A-Za-z_]{0,16}".prop_map(|n| format!("JOBWAIT_{n}")),
    ];
    let value = prop_oneof![3 => text(SPEC_STRINGS, ANY_TEXT), 1 => "\\PC{0,40}"];
    prop::collection::vec((name, value), 0..6)
}

/// A scalar a spec might hold, odd ones included.
fn spec_scalar() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        4 => text(SPEC_STRINGS, ANY_TEXT).prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => prop::sample::select(&[0.0, -1.0, 0.5, 1e-300, 1e300, f64::MIN_POSITIVE, 2.5][..])
            .prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
}

/// An object of `keys` (picked at random) to `values`.
fn object_of(
    keys: &'static [&'static str],
    values: impl Strategy<Value = Value> + Clone,
    max: usize,
) -> impl Strategy<Value = Value> + Clone {
    prop::collection::vec((prop::sample::select(keys), values), 0..=max).prop_map(|fields| {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

/// Spec-shaped documents: a valid base (project, endpoint, one job) with random keys of the
/// right shape overridden by odd values, so that validation gets past the document's shape.
fn spec_document() -> impl Strategy<Value = Value> {
    let sub_jobs = prop_oneof![
        3 => spec_scalar(),
        1 => object_of(&["at_least", "ratio", "all"], spec_scalar(), 2),
    ];
    let success = object_of(
        &[
            "pending_payment",
            "not_found_grace",
            "unknown_status",
            "confirm",
            "job_type",
        ],
        spec_scalar(),
        3,
    );
    let success = (success, prop::option::of(sub_jobs)).prop_map(|(mut s, sub)| {
        if let (Value::Object(map), Some(sub)) = (&mut s, sub) {
            map.insert("sub_jobs".into(), sub);
        }
        s
    });
    let job = prop_oneof![
        2 => spec_scalar(),
        2 => object_of(&["id", "service", "name", "timeout"], spec_scalar(), 4),
        1 => success.clone().prop_map(|s| serde_json::json!({ "id": "j1", "success": s })),
    ];
    let field = prop_oneof![
        6 => (
            prop::sample::select(&[
                "cloud", "region", "project_id", "endpoint", "timeout", "rate_limit", "fail_fast",
                "fail_on", "shard", "output", "quiet", "verbose", "report",
            ][..]),
            spec_scalar(),
        )
            .prop_map(|(k, v)| (k.to_owned(), v)),
        1 => object_of(&["interval", "max_interval"], spec_scalar(), 2)
            .prop_map(|v| ("poll".to_owned(), v)),
        1 => success.prop_map(|v| ("success".to_owned(), v)),
        1 => object_of(&["ecs", "evs", "ims", "nope"], spec_scalar(), 2)
            .prop_map(|v| ("endpoints".to_owned(), v)),
        2 => prop_oneof![
            spec_scalar(),
            prop::collection::vec(job, 0..4).prop_map(Value::Array),
        ]
        .prop_map(|v| ("jobs".to_owned(), v)),
    ];
    prop::collection::vec(field, 0..6).prop_map(|fields| {
        let mut doc = serde_json::json!({
            "project_id": "p0",
            "endpoint": "http://127.0.0.1:1",
            "jobs": ["ecs:a"],
        });
        let map = doc.as_object_mut().expect("an object");
        for (key, value) in fields {
            map.insert(key, value);
        }
        doc
    })
}

/// A temporary spec file with this text and extension.
fn spec_file(ext: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join(format!("spec.{ext}"));
    std::fs::write(&path, contents).expect("write the spec");
    (dir, path)
}

/// Loads and plans; `Ok`, or messages that say something and print as one line of bounded
/// length — and never a panic (a panic fails the property with its message and the input).
///
/// The messages themselves may span lines (a TOML snippet, a value with a line break): the
/// binary prints each through `jobwait::diagnostics::one_line`, which is what users see, so that is checked.
fn load_and_plan(
    path: Option<&std::path::Path>,
    env: &[(String, String)],
) -> Result<(), TestCaseError> {
    let env = Environment::from_pairs(env.iter().cloned());
    let cx = Context {
        stdout_is_terminal: false,
        require_credentials: false,
    };
    let problems = match load(path, None, &env, TopLayer::new(TopKind::Flags)) {
        Ok(loaded) => match Plan::build(&loaded, &env, cx) {
            Ok(_) => return Ok(()),
            Err(problems) => problems,
        },
        Err(problems) => problems,
    };
    prop_assert!(!problems.is_empty(), "an Err without a message");
    for p in &problems {
        let printed = jobwait::diagnostics::one_line(&p.to_string());
        prop_assert!(
            !printed.trim().is_empty(),
            "an empty message in {problems:?}"
        );
        prop_assert!(
            !printed.contains('\n') && !printed.contains('\r'),
            "a message printed on more than one line: {printed:?}"
        );
        prop_assert!(printed.chars().count() <= 450, "{printed:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Structured spec documents (spec keys, odd values) as YAML and as JSON.
    #[test]
    fn spec_documents_load_or_explain(value in json_value(SPEC_KEYS, SPEC_STRINGS, ANY_TEXT), as_yaml: bool) {
        let (ext, text) = if as_yaml {
            ("yaml", serde_saphyr::to_string(&value).unwrap())
        } else {
            ("json", serde_json::to_string(&value).unwrap())
        };
        let (_dir, path) = spec_file(ext, text.as_bytes());
        load_and_plan(Some(&path), &[])?;
    }

    /// Spec-shaped documents with odd values, as YAML and as JSON.
    #[test]
    fn spec_shaped_documents_load_or_explain(value in spec_document(), as_yaml: bool) {
        let (ext, text) = if as_yaml {
            ("yml", serde_saphyr::to_string(&value).unwrap())
        } else {
            ("json", serde_json::to_string(&value).unwrap())
        };
        let (_dir, path) = spec_file(ext, text.as_bytes());
        load_and_plan(Some(&path), &[])?;
    }

    /// YAML-like text, under the YAML and JSON extensions (TOML: see
    /// `toml_syntax_errors_are_one_line`).
    #[test]
    fn spec_text_loads_or_explains(
        text in yamlish_text(),
        ext in prop::sample::select(&["yaml", "yml", "json", "YAML"][..]),
    ) {
        let (_dir, path) = spec_file(ext, text.as_bytes());
        load_and_plan(Some(&path), &[])?;
    }

    /// Arbitrary bytes as a spec file (not even UTF-8).
    #[test]
    fn spec_bytes_load_or_explain(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        ext in prop::sample::select(&["yaml", "json"][..]),
    ) {
        let (_dir, path) = spec_file(ext, &bytes);
        load_and_plan(Some(&path), &[])?;
    }

    /// Arbitrary `JOBWAIT_*` environments over a valid spec.
    #[test]
    fn environment_values_load_or_explain(env in environment()) {
        let (_dir, path) = spec_file(
            "yaml",
            b"project_id: p0\nendpoint: http://127.0.0.1:1\njobs: [ecs:a]\n",
        );
        load_and_plan(Some(&path), &env)?;
        load_and_plan(None, &env)?;
    }
}

/// Extra environment variables of one run.
type Env = Vec<(&'static str, &'static str)>;

/// What users see of problems: `jobwait validate` prints each as one line starting with
/// `jobwait: ` — also for a TOML syntax error (the toml crate's message is a multi-line snippet)
/// and for values and keys with line breaks, which are common in CI (GitHub inputs, YAML block
/// scalars).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_prints_each_problem_on_one_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut cases: Vec<(Vec<String>, Env)> = Vec::new();
    for (i, (ext, text)) in [
        ("toml", "cloud: 90s"),
        ("toml", "timeout = "),
        ("toml", "[poll\ninterval = \"1s\""),
        ("toml", "\0"),
        (
            "yaml",
            "project_id: p0\njobs: [ecs:a]\nfail_on: |\n  line one\n  line two\n",
        ),
        ("yaml", "project_id: p0\njobs: [ecs:a]\n\"un\\nknown\": 1\n"),
        ("yaml", "project_id: \"a\\nb\"\njobs: [ecs:a]\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = crate::support::write_file(dir.path(), &format!("spec{i}.{ext}"), text);
        cases.push((
            vec![
                "validate".into(),
                "--spec".into(),
                crate::support::s(&path).into(),
            ],
            vec![],
        ));
    }
    let base: Vec<String> = [
        "validate",
        "--project-id",
        "p0",
        "--endpoint",
        "http://127.0.0.1:1",
        "ecs:a",
    ]
    .map(str::to_owned)
    .to_vec();
    for env in [
        ("JOBWAIT_FAIL_ON", "line one\nline two"),
        ("JOBWAIT_TIMEOUT", "1m\nsoon"),
        ("JOBWAIT_SUCCESS__SUB_JOBS", "al\r\nl"),
        ("JOBWAIT_PROJECT_ID", "evs:a, ims:b\necs:c"),
    ] {
        let mut args = base.clone();
        if env.0 == "JOBWAIT_PROJECT_ID" {
            args.drain(1..3);
        }
        cases.push((args, vec![env]));
    }
    for (args, env) in cases {
        let out = run(&args, &env).await;
        let shown = format!("{args:?} {env:?}\nstderr:\n{}", out.stderr);
        assert_eq!(out.code, 2, "{shown}");
        assert_eq!(out.stdout, "", "{shown}");
        assert!(!out.stderr.contains("panicked"), "{shown}");
        assert!(!out.stderr.trim().is_empty(), "{shown}");
        for line in out.stderr.lines() {
            assert!(
                line.starts_with("jobwait: "),
                "a problem continued on another line: {shown}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `jobwait terraform` on malformed queries

/// Runs `jobwait terraform` with `stdin` and an empty environment; exit code, stdout, stderr.
fn terraform(stdin: Vec<u8>) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .arg("terraform")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the jobwait binary starts");
    let mut input = child.stdin.take().expect("piped stdin");
    // Writer and reader threads: a large query or a large error must not block on a full pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let stdout = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = out.read_to_end(&mut text);
        text
    });
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = err.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jobwait terraform did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let text = |handle: std::thread::JoinHandle<Vec<u8>>| {
        String::from_utf8_lossy(&handle.join().expect("a reader thread")).into_owned()
    };
    (
        status.code().expect("an exit code, not a signal"),
        text(stdout),
        text(stderr),
    )
}

#[test]
fn terraform_malformed_queries_exit_2_with_one_readable_line() {
    let megabyte = "x".repeat(1 << 20);
    let deep = format!("{}\"x\"{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"jobs = ecs:abc".to_vec()),
        ("an array", br#"["ecs:abc"]"#.to_vec()),
        (
            "a number value",
            br#"{"jobs":"ecs:abc","rate_limit":5}"#.to_vec(),
        ),
        ("an object value", br#"{"jobs":{"id":"abc"}}"#.to_vec()),
        ("deeply nested", deep.into_bytes()),
        ("a 1 MB string", format!("\"{megabyte}\"").into_bytes()),
        (
            "an unterminated 1 MB string",
            format!("{{\"jobs\":\"{megabyte}").into_bytes(),
        ),
        ("invalid UTF-8", b"{\"jobs\":\"ecs:\xff\xfe\"}".to_vec()),
    ];
    for (what, input) in cases {
        let (code, stdout, stderr) = terraform(input);
        assert_eq!(code, 2, "{what}: exit {code}\nstderr:\n{stderr}");
        assert_eq!(stdout, "", "{what}: nothing on stdout");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: one line expected:\n{stderr}");
        assert!(
            lines[0].starts_with("jobwait: terraform query"),
            "{what}: {stderr}"
        );
        assert!(
            lines[0].len() < 400,
            "{what}: a line of {} bytes",
            lines[0].len()
        );
    }
}

/// A well-formed query whose one value is 1 MB: the error names the key without echoing the
/// megabyte back.
#[test]
fn terraform_huge_value_is_not_echoed_back() {
    let query = serde_json::json!({ "jobs": "ecs:a", "timeout": "x".repeat(1 << 20) });
    let (code, stdout, stderr) = terraform(query.to_string().into_bytes());
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert!(!stderr.contains("panicked"));
    assert!(
        stderr.contains("timeout"),
        "{}",
        &stderr[..stderr.len().min(300)]
    );
    assert!(
        stderr.len() < 4096,
        "{} bytes on stderr: {}…",
        stderr.len(),
        &stderr[..300]
    );
}

// ---------------------------------------------------------------------------------------------
// Values far out of range

/// A simulator with a job that never finishes (`far`) and one that is done (`done`).
async fn range_sim() -> jobwait::sim::SimHandle {
    sim_with_auth("  - { id: far, status: RUNNING }\n  - { id: done, status: SUCCESS }\n").await
}

/// `wait JOB` with a 1 s timeout, where `flags` (pairs of flag and value) replace or extend the
/// fast defaults of `wait_args` (clap refuses a flag given twice).
fn args_with(sim: &jobwait::sim::SimHandle, job: &str, flags: &[&str]) -> Vec<String> {
    let mut args = wait_args(&sim.base_url(), &[job], "1s", &[]);
    for pair in flags.chunks(2) {
        match args.iter().position(|a| a == pair[0]) {
            Some(at) => args[at + 1] = pair[1].to_owned(),
            None => args.extend(pair.iter().map(|a| (*a).to_owned())),
        }
    }
    args
}

/// Values humantime and f64 can hold but `Instant` and `Duration` arithmetic cannot (a timeout of
/// 5e11 years, a rate of 1e-300/s, a poll interval that overflows when grown by ×1.5) once
/// passed validation and panicked in the wait engine (exit 101, or a job "errored" by an internal
/// panic). They are rejected up front now: exit 2, naming the key, nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_out_values_are_rejected_up_front() {
    let sim = range_sim().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let spec = crate::support::write_file(
        dir.path(),
        "spec.yaml",
        "jobs:\n  - { id: far, timeout: 500000000000y }\n",
    );
    let cases: Vec<(Vec<String>, Env, &str)> = vec![
        (
            args_with(&sim, "far", &["--rate-limit", "1e-300"]),
            vec![],
            "rate_limit",
        ),
        (
            args_with(&sim, "far", &["--rate-limit", "1e300"]),
            vec![],
            "rate_limit",
        ),
        (
            args_with(&sim, "far", &["--timeout", "500000000000y"]),
            vec![],
            "timeout",
        ),
        (
            args_with(
                &sim,
                "far",
                &[
                    "--poll-interval",
                    "400000000000y",
                    "--poll-max-interval",
                    "400000000000y",
                ],
            ),
            vec![],
            "poll.interval",
        ),
        (
            {
                let mut args = wait_args(&sim.base_url(), &[], "1s", &[]);
                args.extend(["--spec".to_owned(), crate::support::s(&spec).to_owned()]);
                args
            },
            vec![],
            "timeout",
        ),
        (
            args_with(&sim, "far", &[]),
            vec![("JOBWAIT_SUCCESS__NOT_FOUND_GRACE", "500000000000y")],
            "not_found_grace",
        ),
    ];
    for (args, extra_env, key) in cases {
        let mut env = aksk_env();
        env.extend(extra_env);
        let out = run(&args, &env).await;
        crate::support::assert_usage_error(&out, &[key]);
    }
    assert_eq!(
        sim.stats().requests,
        0,
        "nothing may be sent for an invalid spec"
    );
    sim.shutdown().await;
}

/// The bounds themselves are accepted and harmless: a rate of 0.001/s and of 100 000/s, poll
/// intervals of a day, a timeout of 366 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_at_the_bounds_are_accepted_and_harmless() {
    let sim = range_sim().await;
    let cases: [(&str, &[&str], i32); 4] = [
        ("far", &["--rate-limit", "0.001"], 124),
        ("far", &["--rate-limit", "100000"], 124),
        (
            "far",
            &["--poll-interval", "1day", "--poll-max-interval", "1day"],
            124,
        ),
        ("done", &["--timeout", "366days"], 0),
    ];
    for (job, flags, code) in cases {
        let out = run(&args_with(&sim, job, flags), &aksk_env()).await;
        assert!(
            !out.stderr.contains("panicked"),
            "{flags:?}:\n{}",
            out.stderr
        );
        assert_eq!(out.code, code, "{flags:?}\nstderr:\n{}", out.stderr);
        let report = json(&out.stdout);
        let want = if code == 0 { "succeeded" } else { "timed_out" };
        assert_eq!(report["jobs"][0]["outcome"], want, "{flags:?}: {report:#}");
    }
    sim.shutdown().await;
}

/// `progress_interval` has no upper bound: the progress printer adds it to an `Instant`, which
/// overflows and panics its task ("overflow when adding duration to instant",
/// src/progress.rs). The wait itself still ends (exit 124) but prints a panic and loses its
/// progress output. It should be rejected like `timeout` (exit 2) or be harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enormous_progress_interval_does_not_panic() {
    let sim = range_sim().await;
    let mut env = aksk_env();
    env.push(("JOBWAIT_PROGRESS_INTERVAL", "500000000000y"));
    let out = run(&args_with(&sim, "far", &[]), &env).await;
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(
        [2, 124].contains(&out.code),
        "exit {}\nstderr:\n{}",
        out.code,
        out.stderr
    );
    sim.shutdown().await;
}
