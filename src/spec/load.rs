//! Layering: built-in defaults < the configuration users already have (`HW_*` <
//! `HUAWEICLOUD_SDK_*` < `OS_*`, see [`super::sources`]; then the `OS_CLOUD` entry of a
//! clouds.yaml, see [`super::clouds`]) < spec file < `JOBWAIT_*` environment < command-line flags.
//!
//! figment merges the layers key by key and remembers which layer gave each value, so every
//! error can say where the bad value came from: the file's path, the exact `JOBWAIT_…`
//! variable or the `--flag`. Environment and flag values enter as strings; the raw model's
//! lenient fields turn them into numbers and booleans.

use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::problem::Problem;
use super::raw::{JobList, RawSpec};
use crate::environment::Environment;

/// `JOBWAIT_*` variables that are not spec keys (besides `*_FILE` credential files and
/// `JOBWAIT_ACTION_*`, which earlier versions of the GitHub Action set for themselves: a newer
/// binary run by such an action must not take them for spec keys. The action's own variables
/// are now `ACTION_*` and `INPUT_*`, outside this namespace).
pub const NON_SPEC_VARS: &[&str] = &[
    "JOBWAIT_SPEC",
    "JOBWAIT_TOKEN",
    "JOBWAIT_TOKEN_FILE",
    "JOBWAIT_TERMINATION_LOG",
    "JOBWAIT_LOG",
    super::clouds::SELECT_VAR,
];

/// The merged raw spec and the figment that remembers where each value came from.
pub struct Loaded {
    /// The spec, without the values listed in `problems`.
    pub raw: RawSpec,
    /// The layers, which remember where each value came from (see [`Loaded::origin`]).
    figment: Figment,
    /// Values that could not be read (empty when all were fine).
    pub problems: Vec<Problem>,
    /// Top-level keys left out of `raw` because of those problems: the plan leaves out its own
    /// problems under them, which would only follow from the value's absence.
    pub dropped: Vec<String>,
    /// The layers merged once, on first use, for [`Loaded::origin`]: each of figment's own
    /// lookups would merge every layer again (a 10,000-job spec made that dominate `validate`).
    merged: std::sync::OnceLock<Dict>,
    /// The clouds.yaml entry `OS_CLOUD` selected (its values are a layer already; its
    /// credentials and their files are for the plan).
    pub entry: Option<super::clouds::Entry>,
    /// The name of the entry's layer, to tell whether it gave a value ([`Loaded::from_entry`]).
    entry_layer: Option<String>,
    /// Whether `jobs` are the spec file's, read apart from its layer: a key under `jobs` is
    /// then not in the layers, and comes from where `jobs` does.
    jobs_from_file: bool,
}

impl Loaded {
    /// Where the value at `key` (dotted path) came from, for messages: a file path, a variable or
    /// a flag; `None` when it is the built-in default.
    pub fn origin(&self, key: &str) -> Option<String> {
        let merged = self.merged.get_or_init(|| {
            self.figment
                .data()
                .ok()
                .and_then(|mut p| p.remove(&Profile::Default))
                .unwrap_or_default()
        });
        if self.jobs_from_file && key.starts_with("jobs.") {
            return self.origin("jobs");
        }
        let keys: Vec<&str> = key.split('.').collect();
        let (first, rest) = keys.split_first()?;
        let mut value = merged.get(*first)?;
        for k in rest {
            value = match value {
                Value::Dict(_, d) => d.get(*k)?,
                Value::Array(_, a) => a.get(k.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        let md = self.figment.get_metadata(value.tag())?;
        Some(describe(md, &Profile::Default, &keys))
    }

    /// Whether the value at `key` (dotted) came from the clouds.yaml entry.
    pub fn from_entry(&self, key: &str) -> bool {
        let Some(layer) = &self.entry_layer else {
            return false;
        };
        self.figment
            .find_metadata(key)
            .is_some_and(|md| md.name == layer.as_str())
    }
}

/// Loads every layer: the variables of other tools ([`super::sources`]), the clouds.yaml entry
/// `os_cloud_flag` (`--os-cloud`), `JOBWAIT_OS_CLOUD` or `OS_CLOUD` names ([`super::clouds`]),
/// the spec file (`spec_flag` is `--spec`, else `JOBWAIT_SPEC`), the `JOBWAIT_*` environment,
/// and `top` (the flags or a Terraform query).
pub fn load(
    spec_flag: Option<&Path>,
    os_cloud_flag: Option<&str>,
    env: &Environment,
    top: TopLayer,
) -> Result<Loaded, Vec<Problem>> {
    let spec_file = spec_flag
        .map(Path::to_path_buf)
        .or_else(|| env.get("JOBWAIT_SPEC").map(PathBuf::from));
    let entry = match super::clouds::selection(os_cloud_flag, env) {
        Some(selection) => Some(super::clouds::load(
            &selection,
            env,
            &super::clouds::Places::of_process(env),
        )?),
        None => None,
    };
    match &spec_file {
        Some(path) => {
            let file = super::file::read(path)?;
            load_layers(file.layer, file.jobs, entry, env, top)
        }
        None => load_layers(Figment::new(), None, entry, env, top),
    }
}

/// Like [`load`], with the spec layer given as a figment (the demo's embedded spec) and no
/// clouds.yaml.
pub fn load_from(base: Figment, env: &Environment, top: TopLayer) -> Result<Loaded, Vec<Problem>> {
    load_layers(base, None, None, env, top)
}

/// Merges the layers and reads the raw spec from them.
///
/// serde stops at the first bad value; to report them all, each failing key is dropped and the
/// rest read again. `Err` only when not even the rest can be read.
///
/// `file_jobs` are the spec file's `jobs`, read apart from its layer (which holds an empty list
/// in their place, see [`super::file`]); `entry` is the clouds.yaml entry.
fn load_layers(
    base: Figment,
    mut file_jobs: Option<JobList>,
    mut entry: Option<super::clouds::Entry>,
    env: &Environment,
    top: TopLayer,
) -> Result<Loaded, Vec<Problem>> {
    let layer = entry.as_mut().and_then(|e| e.layer.take());
    let entry_layer = layer.as_ref().map(|l| l.name().to_owned());
    let figment = super::sources::layers(env, layer)
        .merge(base)
        .merge(EnvLayer::new(env))
        .merge(top);
    let mut problems = Vec::new();
    let mut dropped = Vec::new();
    let mut current = figment.clone();
    let mut data: Option<Dict> = None;
    // Each round drops at least one key, so this ends; the bound is a guard.
    for _ in 0..64 {
        let err = match current.extract::<RawSpec>() {
            Ok(mut raw) => {
                // The file's jobs where its placeholder won (no higher layer set `jobs`).
                let jobs_from_file = file_jobs.is_some()
                    && raw.jobs.as_ref().is_some_and(|j| j.0.is_empty())
                    && figment
                        .find_metadata("jobs")
                        .is_some_and(|md| matches!(md.source, Some(Source::File(_))));
                if jobs_from_file {
                    raw.jobs = file_jobs.take();
                }
                return Ok(Loaded {
                    raw,
                    figment,
                    problems,
                    dropped,
                    merged: std::sync::OnceLock::new(),
                    entry,
                    entry_layer,
                    jobs_from_file,
                });
            }
            Err(err) => err,
        };
        let errors: Vec<figment::Error> = err.into_iter().collect();
        problems.extend(errors.iter().map(|e| explain(&figment, e.clone())));
        // A file that does not parse, or an error at the root: nothing to drop, nothing to add.
        if errors.iter().any(|e| e.path.is_empty()) {
            return Err(problems);
        }
        let dict = match &mut data {
            Some(dict) => dict,
            None => data.insert(
                figment
                    .data()
                    .ok()
                    .and_then(|mut p| p.remove(&Profile::Default))
                    .unwrap_or_default(),
            ),
        };
        for e in &errors {
            let top_key = e.path[0].clone();
            if !remove(dict, &e.path) {
                dict.remove(&top_key);
            }
            if !dropped.contains(&top_key) {
                dropped.push(top_key);
            }
        }
        current = Figment::from(figment::providers::Serialized::defaults(&*dict));
    }
    Err(problems)
}

/// Removes the value at `path` from nested dicts; `false` when the path goes through a list or
/// does not exist (the caller then drops the whole top-level key).
fn remove(dict: &mut Dict, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => dict.remove(last).is_some(),
        [first, rest @ ..] => match dict.get_mut(first) {
            Some(Value::Dict(_, inner)) => remove(inner, rest),
            _ => false,
        },
    }
}

pub use super::file::MAX_SPEC_BYTES;

/// One figment error as a problem, shown `<where>: <key>: <what>`.
fn explain(figment: &Figment, e: figment::Error) -> Problem {
    use figment::error::Kind;
    let path = e.path.clone();
    let what = match &e.kind {
        // figment's path already ends with the unknown field's name.
        Kind::UnknownField(field, expected) => {
            let from_env = figment
                .find_metadata(&path.join("."))
                .is_some_and(|md| md.name == "environment");
            if let Some(var) = from_env.then(|| misspelt_variable(&path)).flatten() {
                format!("unknown key `{field}`; did you mean {var}?")
            } else if expected.is_empty() {
                format!("unknown key `{field}`")
            } else {
                format!("unknown key `{field}` (known: {})", expected.join(", "))
            }
        }
        Kind::Message(m) => m.clone(),
        other => other.to_string(),
    };
    let key = path.join(".");
    let md = figment.find_metadata(&key).or(e.metadata.as_ref());
    let from_file = md.is_none_or(|md| matches!(md.source, Some(Source::File(_))));
    let place = match md {
        Some(md) => describe(md, &e.profile.clone().unwrap_or_default(), &path),
        None => "spec".to_owned(),
    };
    // A variable, flag or query key already names the key; a file needs it said.
    let problem = if key.is_empty() {
        Problem::new(what)
    } else if !from_file {
        Problem::new(what).key(key)
    } else {
        Problem::new(format!("key `{key}`: {what}")).key(key)
    };
    // serde's messages quote values (and keys): an endpoint's password must not be in them.
    problem.origin(place).redacted()
}

/// For a `JOBWAIT_*` variable that names no key (`path`, as the environment layer split it):
/// the variable that does when one of its single `_` is read as `__`, the nesting separator
/// (`JOBWAIT_POLL_INTERVAL` → `JOBWAIT_POLL__INTERVAL`).
fn misspelt_variable(path: &[String]) -> Option<String> {
    let name = path.join("__");
    let schema: serde_json::Value = serde_json::from_str(crate::schema::SPEC).ok()?;
    let bytes = name.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            bytes[i] == b'_'
                && (i == 0 || bytes[i - 1] != b'_')
                && bytes.get(i + 1).is_some_and(|&b| b != b'_')
        })
        .map(|i| format!("{}__{}", &name[..i], &name[i + 1..]))
        .find(|candidate| {
            let keys: Vec<&str> = candidate.split("__").collect();
            keys.iter().all(|k| !k.is_empty()) && schema_has(&schema, &schema, &keys)
        })
        .map(|candidate| format!("JOBWAIT_{}", candidate.to_ascii_uppercase()))
}

/// Whether the JSON Schema `node` (of the document `root`) has the nested key `keys`.
fn schema_has(root: &serde_json::Value, node: &serde_json::Value, keys: &[&str]) -> bool {
    let Some((first, rest)) = keys.split_first() else {
        return true;
    };
    if let Some(target) = node.get("$ref").and_then(|r| r.as_str()) {
        let target = target.strip_prefix('#').unwrap_or(target);
        return root
            .pointer(target)
            .is_some_and(|n| schema_has(root, n, keys));
    }
    let alternatives = ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter_map(|k| node.get(*k).and_then(|v| v.as_array()))
        .flatten();
    if alternatives
        .into_iter()
        .any(|alt| schema_has(root, alt, keys))
    {
        return true;
    }
    if let Some(child) = node.get("properties").and_then(|p| p.get(*first)) {
        return schema_has(root, child, rest);
    }
    match node.get("additionalProperties") {
        Some(child) if child.is_object() => schema_has(root, child, rest),
        _ => false,
    }
}

/// Where a value came from, in words. A file's path comes from `--spec` or `JOBWAIT_SPEC` and
/// reaches `validate`'s standard output as well as messages: one harmless line.
fn describe<K: AsRef<str>>(md: &Metadata, profile: &Profile, keys: &[K]) -> String {
    match &md.source {
        Some(Source::File(path)) => format!(
            "spec file {}",
            crate::sanitize::line(&path.display().to_string())
        ),
        Some(Source::Custom(_)) | Some(Source::Code(_)) | None => md.interpolate(profile, keys),
        Some(_) => md.name.to_string(),
    }
}

/// The `JOBWAIT_*` environment as a nested dict of strings (`__` separates levels).
struct EnvLayer(Dict);

impl EnvLayer {
    fn new(env: &Environment) -> Self {
        let mut dict = Dict::new();
        for (name, value) in env.with_prefix("JOBWAIT_") {
            if NON_SPEC_VARS.contains(&name)
                || name.ends_with("_FILE")
                || name.starts_with("JOBWAIT_ACTION_")
            {
                continue;
            }
            let keys: Vec<String> = name["JOBWAIT_".len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            insert(&mut dict, &keys, Value::from(value.to_owned()));
        }
        EnvLayer(dict)
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_: &Profile, keys: &[&str]| {
            let name = keys.join("__").to_ascii_uppercase();
            format!("environment variable JOBWAIT_{name}")
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// The last layer: command-line flags, the Terraform external data source's query, or the
/// demo's own settings. All arrive as values by key path; only how a key is named in messages
/// differs. This is the one builder of that layer, whoever fills it.
#[derive(Debug)]
pub struct TopLayer {
    dict: Dict,
    kind: TopKind,
    /// How messages name a key whose name is not the kind's rule (`success.sub_jobs` is the
    /// flag `--sub-jobs`), by dotted key.
    names: std::collections::BTreeMap<String, String>,
}

impl TopLayer {
    pub fn new(kind: TopKind) -> TopLayer {
        TopLayer {
            dict: Dict::new(),
            kind,
            names: Default::default(),
        }
    }

    /// Sets the value at a dotted key (`poll.interval`).
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.set_path(key.split('.'), value)
    }

    /// Sets the value at a dotted key, named `shown` in messages (`flag --sub-jobs` for
    /// `success.sub_jobs`).
    pub fn set_named(
        &mut self,
        key: &str,
        shown: impl Into<String>,
        value: impl Into<Value>,
    ) -> &mut Self {
        self.names.insert(key.to_owned(), shown.into());
        self.set(key, value)
    }

    /// Sets the value at a path of keys (`["poll", "interval"]`).
    pub fn set_path<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k str>,
        value: impl Into<Value>,
    ) -> &mut Self {
        let keys: Vec<String> = keys.into_iter().map(str::to_owned).collect();
        insert(&mut self.dict, &keys, value.into());
        self
    }

    /// Sets a top-level key unless it is set already.
    pub fn set_default(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.dict
            .entry(key.to_owned())
            .or_insert_with(|| value.into());
        self
    }

    /// The value at a dotted key, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let mut parts = key.split('.');
        let mut value = self.dict.get(parts.next()?)?;
        for part in parts {
            value = value.as_dict()?.get(part)?;
        }
        Some(value)
    }

    /// Removes a top-level key, returning its value.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.dict.remove(key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKind {
    Flags,
    TerraformQuery,
}

impl Provider for TopLayer {
    fn metadata(&self) -> Metadata {
        match self.kind {
            TopKind::Flags => {
                let names = self.names.clone();
                Metadata::named("command line").interpolater(move |_: &Profile, keys: &[&str]| {
                    if let Some(shown) = names.get(&keys.join(".")) {
                        return shown.clone();
                    }
                    match keys.first().copied() {
                        Some("jobs") => "command-line argument JOB".to_owned(),
                        _ => format!("flag --{}", keys.join("-").replace('_', "-")),
                    }
                })
            }
            TopKind::TerraformQuery => {
                Metadata::named("terraform query").interpolater(|_: &Profile, keys: &[&str]| {
                    format!("terraform query key `{}`", keys.join("__"))
                })
            }
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Sets `keys` (a path) to `value` in a nested dict.
fn insert(dict: &mut Dict, keys: &[String], value: Value) {
    match keys {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
