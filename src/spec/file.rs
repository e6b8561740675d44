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

/// YAML as a figment format, parsed by `serde-saphyr` with [`yaml_options`].
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
