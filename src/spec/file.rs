//! The spec file: read within its size cap, pre-scanned for nesting ([`super::depth`]), then
//! parsed once into a small figment layer (every key but `jobs`) and the compact job list.
//!
//! A figment layer is a tree of [`figment::value::Value`]s: for ten thousand jobs that tree, not
//! the wait, set the peak memory of a run (37 MiB against 25 MiB with the same ids as
//! arguments), and `validate` of a hundred thousand jobs spent most of its time building and
//! merging it. So the file is read with one streaming deserializer: `jobs` goes straight into
//! [`JobList`] (a few words per job), the rest into the layer. The layer keeps an empty `jobs`
//! list from the file in its place, so figment's merging and provenance still decide whose
//! `jobs` win (a `JOBWAIT_JOBS` or `JOB` arguments override the file's) and name the file as
//! their origin; [`super::load`] then puts the file's list where its placeholder won.
//!
//! Every message stays the one figment gives: when the streaming read fails for any reason (a
//! syntax error, a bad job, a duplicate key), the file is read again the old way, as one value
//! tree, and figment reports exactly what and where. The second read costs only on bad input.
//!
//! YAML is parsed by `serde-saphyr` (on the `granit-parser` scanner), chosen over the others on
//! crates.io: it is maintained (frequent releases), pure Rust with `forbid(unsafe_code)` (the
//! deprecated `serde_yaml` and its maintained fork `serde_norway` run libyaml translated to
//! unsafe Rust), streams events into serde without loading the document first (`serde_yaml`
//! and `serde_norway` keep every event of a document in memory before deserializing), has
//! budgets against hostile input (depth, aliases, nodes), and measured faster here.
//! `serde_yml` was ruled out (unsound, unmaintained, a RustSec advisory) and `saphyr` /
//! `yaml-rust2` have no serde support of their own. Its options are set to read what
//! `serde_yaml` read: YAML 1.2 booleans, `0123` and `1_000` as text, `<<` an ordinary key.

use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::depth::{Syntax, MAX_DEPTH};
use super::problem::Problem;
use super::raw::JobList;

/// The largest spec file read (a real one is kilobytes; ten thousand jobs are about a megabyte).
pub const MAX_SPEC_BYTES: u64 = 64 * 1024 * 1024;

/// A spec file, read and checked.
pub struct SpecFile {
    /// The file as a figment layer: without `jobs` (an empty list in its place) when they were
    /// read straight into [`SpecFile::jobs`], else the whole file.
    pub layer: Figment,
    /// The file's `jobs`, when read straight.
    pub jobs: Option<JobList>,
}

/// Reads the spec file at `path` (its syntax from the extension) after the checks that keep a
/// hostile or broken file from costing more than reading it: its size ([`MAX_SPEC_BYTES`]) and
/// its nesting depth ([`super::depth`]), both before any parser sees it.
pub fn read(path: &Path) -> Result<SpecFile, Vec<Problem>> {
    let shown = path.display();
    let in_file =
        |message: String| vec![Problem::new(message).origin(format!("spec file {shown}"))];
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let syntax = match ext.as_str() {
        "yaml" | "yml" => Syntax::Yaml,
        "toml" => Syntax::Toml,
        "json" => Syntax::Json,
        _ => {
            let problem = match std::fs::metadata(path) {
                Err(e) => e.to_string(),
                Ok(_) => "unknown extension; use .yaml, .yml, .toml or .json".to_owned(),
            };
            return Err(in_file(problem));
        }
    };
    let text = read_text(path).map_err(in_file)?;
    if let Some(line) = super::depth::too_deep(&text, syntax, MAX_DEPTH) {
        return Err(in_file(format!(
            "nested more than {MAX_DEPTH} levels deep (line {line})"
        )));
    }
    let path = path.to_path_buf();
    Ok(match split(&text, syntax) {
        Some(Split { rest, jobs }) => SpecFile {
            layer: Figment::new().merge(Parsed {
                dict: rest,
                path,
                syntax,
            }),
            jobs,
        },
        // Read again as one tree: figment says what is wrong, and where.
        None => SpecFile {
            layer: Figment::new().merge(Text { text, path, syntax }),
            jobs: None,
        },
    })
}

/// The file's text, refusing one larger than [`MAX_SPEC_BYTES`] without reading it all.
fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(format!(
            "larger than {} MiB; a spec this big is surely not one",
            MAX_SPEC_BYTES / (1024 * 1024)
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

/// The streaming read: `None` when anything about the file is not as expected.
fn split(text: &str, syntax: Syntax) -> Option<Split> {
    match syntax {
        Syntax::Yaml => serde_saphyr::from_str_with_options(text, yaml_options()).ok(),
        Syntax::Json => serde_json::from_str(text).ok(),
        Syntax::Toml => toml::from_str(text).ok(),
    }
}

/// How YAML is read: as `serde_yaml` read it (YAML 1.2 booleans only, `0123` and `1_000`
/// stay text, `<<` is an ordinary key, a duplicate key is an error), with budgets sized for
/// the largest file accepted rather than the parser's defaults for configuration files (its
/// node and event counts would refuse a spec of a few hundred thousand jobs). The depth is
/// [`MAX_DEPTH`] like the pre-scan's; aliases keep the parser's limits against alias bombs.
fn yaml_options() -> serde_saphyr::Options {
    let bytes = MAX_SPEC_BYTES as usize;
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: bytes,
            max_nodes: bytes,
            max_total_scalar_bytes: bytes,
            max_reader_input_bytes: Some(bytes + 1),
            max_depth: MAX_DEPTH,
        },
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        merge_keys: serde_saphyr::options::MergeKeyPolicy::AsOrdinary,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        with_snippet: false,
    }
}

/// A document read with `jobs` apart: the other top-level keys as figment values, `jobs` (an
/// empty list in `rest` holds its place) as the compact list.
struct Split {
    rest: Dict,
    jobs: Option<JobList>,
}

impl<'de> Deserialize<'de> for Split {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SplitVisitor;
        impl<'de> Visitor<'de> for SplitVisitor {
            type Value = Split;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a spec: a table of keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Split, A::Error> {
                let mut rest = Dict::new();
                let mut jobs = None;
                while let Some(key) = map.next_key::<String>()? {
                    // A key twice is for figment to explain (or to take the last of).
                    if rest.contains_key(&key) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    if key == "jobs" {
                        jobs = Some(map.next_value::<JobList>()?);
                        rest.insert(key, Value::from(Vec::<Value>::new()));
                    } else {
                        let value: Value = map.next_value()?;
                        rest.insert(key, value);
                    }
                }
                Ok(Split { rest, jobs })
            }
        }
        d.deserialize_map(SplitVisitor)
    }
}

/// How the file's layer is named in messages, as figment's own file providers name theirs.
fn metadata(syntax: Syntax, path: &Path) -> Metadata {
    let name = match syntax {
        Syntax::Yaml => "YAML file",
        Syntax::Toml => "TOML file",
        Syntax::Json => "JSON file",
    };
    Metadata::from(name, Source::File(path.to_path_buf()))
}

/// The file read by [`split`].
struct Parsed {
    dict: Dict,
    path: PathBuf,
    syntax: Syntax,
}

impl Provider for Parsed {
    fn metadata(&self) -> Metadata {
        metadata(self.syntax, &self.path)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The file as text, parsed as one value tree when figment asks.
struct Text {
    text: String,
    path: PathBuf,
    syntax: Syntax,
}

impl Provider for Text {
    fn metadata(&self) -> Metadata {
        metadata(self.syntax, &self.path)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        use figment::providers::{Format, Json, Toml};
        match self.syntax {
            Syntax::Yaml => Yaml::string(&self.text).data(),
            Syntax::Toml => Toml::string(&self.text).data(),
            Syntax::Json => Json::string(&self.text).data(),
        }
    }
}

/// YAML as a figment format, parsed by `serde-saphyr` as spec files are (see the module doc).
pub struct Yaml;

impl figment::providers::Format for Yaml {
    type Error = serde_saphyr::Error;

    const NAME: &'static str = "YAML";

    fn from_str<T: serde::de::DeserializeOwned>(string: &str) -> Result<T, Self::Error> {
        serde_saphyr::from_str_with_options(string, yaml_options())
    }
}

/// YAML text (a scenario, the demo's spec) read as `T` the way spec files are read.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, yaml_options())
}

#[cfg(test)]
mod tests {
    use figment::value::Value;
    use figment::Provider as _;

    use super::super::load::{load, TopKind, TopLayer};
    use super::super::plan::{Context, Plan};
    use super::read;
    use crate::environment::Environment;

    const CX: Context = Context {
        stdout_is_terminal: false,
        require_credentials: false,
    };

    fn spec_file(ext: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("spec.{ext}"));
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const YAML: &str = "project_id: p1\nendpoint: http://127.0.0.1:1\njobs:\n  - ecs:a\n  \
                        - { id: b, service: evs, name: 0123 }\n  - id: 1_000\n    \
                        success: { confirm: 2 }\n";
    const JSON: &str = r#"{"project_id": "p1", "endpoint": "http://127.0.0.1:1", "jobs":
        ["ecs:a", {"id": "b", "service": "evs", "name": "0123"},
         {"id": "1_000", "success": {"confirm": 2}}]}"#;

    /// Each syntax reads `jobs` straight into the list, and the layer keeps only an empty list
    /// in their place: no value per job.
    #[test]
    fn jobs_are_read_apart_from_the_layer_in_every_syntax() {
        let toml = "project_id = \"p1\"\nendpoint = \"http://127.0.0.1:1\"\n\
                    jobs = [\"ecs:a\", { id = \"b\", service = \"evs\", name = \"0123\" }, \
                    { id = \"1_000\", success = { confirm = 2 } }]\n";
        for (ext, text) in [("yaml", YAML), ("json", JSON), ("toml", toml)] {
            let (_dir, path) = spec_file(ext, text);
            let file = read(&path).unwrap();
            assert_eq!(file.jobs.as_ref().map(|j| j.0.len()), Some(3), "{ext}");
            let data = file.layer.data().unwrap();
            let dict = data.values().next().unwrap();
            assert!(
                matches!(dict.get("jobs"), Some(Value::Array(_, a)) if a.is_empty()),
                "{ext}: {:?}",
                dict.get("jobs")
            );
            let env = Environment::from_pairs::<&str, &str>([]);
            let loaded = load(Some(&path), None, &env, TopLayer::new(TopKind::Flags)).unwrap();
            let shown = format!("spec file {}", path.display());
            assert_eq!(loaded.origin("jobs").as_deref(), Some(&*shown), "{ext}");
            assert_eq!(
                loaded.origin("jobs.2.id").as_deref(),
                Some(&*shown),
                "{ext}"
            );
            let plan = Plan::build(&loaded, &env, CX).unwrap();
            let jobs: Vec<_> = plan
                .jobs
                .iter()
                .map(|j| (j.service.name(), j.id.as_str(), j.name.as_deref()))
                .collect();
            // `0123` and `1_000` stay text, as serde_yaml read them.
            assert_eq!(
                jobs,
                [
                    ("ecs", "a", None),
                    ("evs", "b", Some("0123")),
                    ("ecs", "1_000", None)
                ],
                "{ext}"
            );
            assert_eq!(plan.jobs[2].criteria.confirm, 2, "{ext}");
        }
    }

    /// `JOBWAIT_JOBS` and `JOB` arguments still replace the file's jobs, and are named as their
    /// origin.
    #[test]
    fn a_higher_layer_still_replaces_the_file_jobs() {
        let (_dir, path) = spec_file("yaml", YAML);
        let env = Environment::from_pairs([("JOBWAIT_JOBS", "evs:x, evs:y")]);
        let loaded = load(Some(&path), None, &env, TopLayer::new(TopKind::Flags)).unwrap();
        assert_eq!(
            loaded.origin("jobs").as_deref(),
            Some("environment variable JOBWAIT_JOBS")
        );
        let plan = Plan::build(&loaded, &env, CX).unwrap();
        let ids: Vec<_> = plan.jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["x", "y"]);

        let mut flags = TopLayer::new(TopKind::Flags);
        flags.set("jobs", vec![Value::from("z".to_owned())]);
        let loaded = load(Some(&path), None, &env, flags).unwrap();
        assert_eq!(
            loaded.origin("jobs").as_deref(),
            Some("command-line argument JOB")
        );
        let plan = Plan::build(&loaded, &env, CX).unwrap();
        assert_eq!(plan.jobs.len(), 1);
        assert_eq!(plan.jobs[0].id, "z");

        // An empty list in a higher layer is that layer's, not the file's jobs.
        let env = Environment::from_pairs([("JOBWAIT_JOBS", " ")]);
        let loaded = load(Some(&path), None, &env, TopLayer::new(TopKind::Flags)).unwrap();
        assert!(loaded.raw.jobs.as_ref().is_some_and(|j| j.0.is_empty()));
    }

    /// A file the streaming read does not take (a bad job, a duplicate key, a syntax error) is
    /// read as one tree, so figment's message, key and file are the ones users always got.
    #[test]
    fn a_file_the_streaming_read_refuses_is_explained_by_figment() {
        for (text, expected) in [
            (
                "project_id: p1\njobs: [\"m/o:x\"]\n",
                "key `jobs.0`: unknown service `m/o`",
            ),
            (
                "project_id: p1\njobs:\n  - { id: a, nmae: x }\n",
                "key `jobs.0.nmae`: unknown key `nmae`",
            ),
            ("jobs: [a]\njobs: [b]\n", "duplicate"),
            ("timeout: 5m\njobs: [a1\n  b: : c\n", "line 3"),
        ] {
            let (_dir, path) = spec_file("yaml", text);
            let file = read(&path).unwrap();
            assert!(file.jobs.is_none(), "{text}");
            let env = Environment::from_pairs::<&str, &str>([]);
            let problems: Vec<String> =
                match load(Some(&path), None, &env, TopLayer::new(TopKind::Flags)) {
                    Ok(loaded) => match Plan::build(&loaded, &env, CX) {
                        Ok(_) => panic!("{text}: planned"),
                        Err(p) => p.iter().map(ToString::to_string).collect(),
                    },
                    Err(p) => p.iter().map(ToString::to_string).collect(),
                };
            let shown = format!("spec file {}", path.display());
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains(expected) && p.contains(&shown)),
                "{text}: {problems:#?}"
            );
        }
    }

    /// YAML 1.1's `yes`/`no` are text, as serde_yaml read them, not booleans.
    #[test]
    fn yaml_reads_as_serde_yaml_did() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct T {
            a: serde_json::Value,
            b: serde_json::Value,
            c: serde_json::Value,
            d: serde_json::Value,
        }
        let t: T = super::from_yaml("a: yes\nb: 0123\nc: 1_000\nd: 0x1F\n").unwrap();
        assert_eq!(
            t,
            T {
                a: "yes".into(),
                b: "0123".into(),
                c: "1_000".into(),
                d: 31.into()
            }
        );
    }
}

#[cfg(test)]
mod depth_tests {
    use super::super::depth::{too_deep, Syntax, MAX_DEPTH};
    use super::{split, yaml_options};

    /// The parser's own depth budget never refuses what the pre-scan lets through: the deepest
    /// document the pre-scan accepts still reads, in flow and in block style.
    #[test]
    fn the_parser_takes_every_depth_the_pre_scan_accepts() {
        let flow = |n: usize| format!("x: {}{}\n", "[".repeat(n), "]".repeat(n));
        let block = |n: usize| -> String {
            (0..n)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .chain(std::iter::once(format!("{}v: 1\n", " ".repeat(n))))
                .collect()
        };
        for (style, make) in [
            ("flow", &flow as &dyn Fn(usize) -> String),
            ("block", &block),
        ] {
            let deepest = (1..2 * MAX_DEPTH)
                .take_while(|&n| too_deep(&make(n), Syntax::Yaml, MAX_DEPTH).is_none())
                .last()
                .unwrap();
            let text = make(deepest);
            assert!(split(&text, Syntax::Yaml).is_some(), "{style} {deepest}");
            let tree: Result<serde_json::Value, _> =
                serde_saphyr::from_str_with_options(&text, yaml_options());
            assert!(tree.is_ok(), "{style} {deepest}: {tree:?}");
        }
    }
}
