//! The `clouds.yaml` entry a user selects with `OS_CLOUD`: the configuration openstacksdk, the
//! OpenStack client, otcextensions and the OTC Terraform provider already read, as a layer of
//! the spec (above the `OS_*` variables, below the spec file) and, when it holds them, the
//! credentials.
//!
//! Found as openstacksdk finds it: `OS_CLIENT_CONFIG_FILE`, else the first `clouds.yaml` (or
//! `.yml`, `.json`) in the working directory, `$XDG_CONFIG_HOME/openstack` (default
//! `~/.config/openstack`) and `/etc/openstack`; a `secure.yaml` found the same way
//! (`OS_CLIENT_SECURE_FILE` first) is laid over it, key by key, so passwords can live apart.
//! The entry is chosen by `--os-cloud`, else `JOBWAIT_OS_CLOUD`, else `OS_CLOUD`: nothing is read
//! unless one of them names an entry.
//!
//! Read: `auth.auth_url` (IAM's endpoint; its host tells the `cloud`), `region_name`,
//! `auth.project_id` / `auth.project_name`, the password login (`auth.username`,
//! `auth.password`, `auth.user_domain_name` or `auth.domain_name`), and AK/SK in the two forms
//! otcextensions accepts: `auth.ak` / `auth.sk` / `auth.security_token` (its `aksk` auth plugin)
//! and `access_key` / `secret_key` (or `ak` / `sk`) beside `auth` (`get_ak_sk` in
//! `otcextensions/sdk/__init__.py`).
//!
//! The files are input like any other: each is read only up to [`MAX_CLOUDS_BYTES`], checked
//! for nesting depth ([`super::depth`]) before the YAML parser sees it, and an entry that is
//! missing, or a value of the wrong shape, is a problem (exit 2) naming the file and the key.
//! Where credentials may be sent is [`super::plan`]'s rule (credentials and IAM's URL from the
//! same source); this module only remembers which file gave each.

use std::path::{Path, PathBuf};

// Read as spec files are (`super::file::from_yaml`: serde-saphyr, YAML 1.2) into JSON values:
// an entry needs no more than mappings of scalars.
use serde_json::{Map, Value};

/// One YAML mapping, as read.
type Mapping = Map<String, Value>;

use super::depth::{Syntax, MAX_DEPTH};
use super::problem::Problem;
use super::sources::FamilyLayer;
use crate::cloud::auth::Credentials;
use crate::cloud::endpoint::Cloud;
use crate::environment::Environment;
use crate::secret::Secret;

/// The largest clouds.yaml or secure.yaml read (real ones are a few kilobytes).
pub const MAX_CLOUDS_BYTES: u64 = 1024 * 1024;

/// The `JOBWAIT_*` variable that selects an entry (not a spec key: it picks a layer below them).
pub const SELECT_VAR: &str = "JOBWAIT_OS_CLOUD";

/// Which entry to read, and what asked for it (`flag --os-cloud`, `environment variable
/// OS_CLOUD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub name: String,
    pub by: String,
}

/// The entry named by `--os-cloud` (`flag`), else `JOBWAIT_OS_CLOUD`, else `OS_CLOUD`.
pub fn selection(flag: Option<&str>, env: &Environment) -> Option<Selection> {
    let pick = |value: &str, by: &str| {
        let value = value.trim();
        (!value.is_empty()).then(|| Selection {
            name: value.to_owned(),
            by: by.to_owned(),
        })
    };
    flag.and_then(|f| pick(f, "flag --os-cloud"))
        .or_else(|| {
            env.get(SELECT_VAR)
                .and_then(|v| pick(v, &format!("environment variable {SELECT_VAR}")))
        })
        .or_else(|| {
            env.get("OS_CLOUD")
                .and_then(|v| pick(v, "environment variable OS_CLOUD"))
        })
}

/// The directories searched, in order.
#[derive(Debug, Clone)]
pub struct Places {
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME/openstack`, else `$HOME/.config/openstack`.
    pub user: Option<PathBuf>,
    /// `/etc/openstack`.
    pub system: PathBuf,
}

impl Places {
    /// The places of this process: its working directory and the user's from `env`.
    pub fn of_process(env: &Environment) -> Places {
        let user = env
            .get("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".config")))
            .map(|d| d.join("openstack"));
        Places {
            cwd: std::env::current_dir().ok(),
            user,
            system: PathBuf::from("/etc/openstack"),
        }
    }

    fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.cwd
            .iter()
            .chain(self.user.iter())
            .map(PathBuf::as_path)
            .chain(std::iter::once(self.system.as_path()))
    }

    /// The file `OS_CLIENT_*_FILE` names, else the first `stem.{yaml,yml,json}` found.
    fn find(&self, explicit: Option<&str>, stem: &str) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(PathBuf::from(path));
        }
        self.dirs()
            .flat_map(|d| ["yaml", "yml", "json"].map(|ext| d.join(format!("{stem}.{ext}"))))
            .find(|p| p.is_file())
    }
}

/// The selected entry, read.
pub struct Entry {
    pub name: String,
    /// The clouds.yaml it is in.
    pub clouds_file: PathBuf,
    /// Its values as a layer of the spec (each named by file, entry and key); taken by the
    /// loader.
    pub layer: Option<FamilyLayer>,
    /// `auth.auth_url` as the spec's `endpoints.iam`, and the file that held it.
    pub auth_url: Option<(String, PathBuf)>,
    /// The credentials it holds, and the file that held them.
    pub credentials: Option<(Credentials, PathBuf)>,
}

/// One value of the entry: its text, the file it came from and its key in the entry.
struct Found {
    text: String,
    file: PathBuf,
    key: String,
}

/// The entry's mapping in each file that has it: secure.yaml's first (it wins), then clouds.yaml's.
struct Sources {
    name: String,
    maps: Vec<(Mapping, PathBuf)>,
}

impl Sources {
    /// The value at `path` (`["auth", "password"]`) from the first file that has it. A value
    /// that is not a single scalar is a problem naming the file and the key; `null` and blank
    /// text count as unset.
    fn get(&self, path: &[&str]) -> Result<Option<Found>, Problem> {
        let key = path.join(".");
        for (map, file) in &self.maps {
            let mut value = None;
            let mut current = map;
            for (i, part) in path.iter().enumerate() {
                let Some(v) = current.get(*part) else {
                    break;
                };
                if i + 1 == path.len() {
                    value = Some(v);
                } else if let Value::Object(m) = v {
                    current = m;
                } else if v.is_null() {
                    break;
                } else {
                    return Err(malformed(
                        file,
                        &self.name,
                        &path[..=i].join("."),
                        "a mapping",
                    ));
                }
            }
            let text = match value {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(_) => return Err(malformed(file, &self.name, &key, "a single value")),
            };
            if text.is_empty() {
                continue;
            }
            if text.chars().any(char::is_control) {
                return Err(malformed(
                    file,
                    &self.name,
                    &key,
                    "text without control characters",
                ));
            }
            return Ok(Some(Found {
                text,
                file: file.clone(),
                key,
            }));
        }
        Ok(None)
    }

    /// The first of `paths` that is set.
    fn first(&self, paths: &[&[&str]]) -> Result<Option<Found>, Problem> {
        for path in paths {
            if let Some(found) = self.get(path)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// How a value of the entry is named in messages: `clouds.yaml /x/clouds.yaml, entry otc, key
/// auth.auth_url`.
fn shown(file: &Path, name: &str, key: &str) -> String {
    format!(
        "{}, entry {}, key {key}",
        described(file),
        crate::sanitize::line(name)
    )
}

/// A file of this module as messages name it.
fn described(file: &Path) -> String {
    let kind = match file.file_stem().and_then(|s| s.to_str()) {
        Some("secure") => "secure.yaml",
        _ => "clouds.yaml",
    };
    // A path (or an entry name, from a variable) is shown in `validate`, which prints it as it
    // is: no control character may reach the terminal that way.
    format!(
        "{kind} {}",
        crate::sanitize::line(&file.display().to_string())
    )
}

fn malformed(file: &Path, name: &str, key: &str, wanted: &str) -> Problem {
    Problem::new(format!("key `clouds.{name}.{key}` must be {wanted}")).origin(described(file))
}

/// Reads the entry `selection` names, from the files found in `places` (or named by `env`).
pub fn load(
    selection: &Selection,
    env: &Environment,
    places: &Places,
) -> Result<Entry, Vec<Problem>> {
    let name = &selection.name;
    let Some(clouds_file) = places.find(env.get("OS_CLIENT_CONFIG_FILE"), "clouds") else {
        let looked: Vec<String> = places
            .dirs()
            .map(|d| d.join("clouds.yaml").display().to_string())
            .collect();
        return Err(vec![Problem::new(format!(
            "{} selects the clouds.yaml entry `{name}`, but there is no clouds.yaml (looked for {}; OS_CLIENT_CONFIG_FILE names another)",
            selection.by,
            looked.join(", ")
        ))]);
    };
    let secure_file = places.find(env.get("OS_CLIENT_SECURE_FILE"), "secure");
    let mut maps = Vec::new();
    for file in secure_file.iter().chain(std::iter::once(&clouds_file)) {
        let doc = read(file).map_err(|p| vec![p])?;
        if let Some(map) = entry_of(&doc, name, file).map_err(|p| vec![p])? {
            maps.push((map, file.clone()));
        }
    }
    if maps.is_empty() {
        return Err(vec![Problem::new(format!(
            "there is no entry `{name}` under `clouds` (selected by {})",
            selection.by
        ))
        .origin(described(&clouds_file))]);
    }
    let sources = Sources {
        name: name.clone(),
        maps,
    };
    entry(&sources, clouds_file).map_err(|p| vec![p])
}

/// The values and credentials of the entry in `sources`.
fn entry(sources: &Sources, clouds_file: PathBuf) -> Result<Entry, Problem> {
    let name = &sources.name;
    let mut layer = FamilyLayer::named(format!(
        "{}, entry {}",
        described(&clouds_file),
        crate::sanitize::line(name)
    ));
    let mut auth_url = None;
    if let Some(url) = sources.get(&["auth", "auth_url"])? {
        let shown = shown(&url.file, name, &url.key);
        layer.set_iam(&url.text, shown.clone());
        auth_url = Some((
            super::sources::iam_base(&url.text).to_owned(),
            url.file.clone(),
        ));
        // The host tells the cloud, in this layer, so a `cloud` set above wins.
        let host = url::Url::parse(&url.text)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        if let Some(cloud) = host.as_deref().and_then(Cloud::of_host) {
            layer.set(
                "cloud",
                cloud.as_str().to_owned(),
                format!("the host of {shown}"),
            );
        }
    }
    for (path, key) in [
        (&["region_name"][..], "region"),
        (&["auth", "project_id"][..], "project_id"),
        (&["auth", "project_name"][..], "project_name"),
    ] {
        if let Some(found) = sources.get(path)? {
            layer.set(key, found.text, shown(&found.file, name, &found.key));
        }
    }
    Ok(Entry {
        name: name.clone(),
        credentials: credentials(sources)?,
        clouds_file,
        layer: Some(layer),
        auth_url,
    })
}

/// AK/SK (`auth.ak`/`auth.sk`, else `access_key`/`secret_key` or `ak`/`sk` beside `auth`), else
/// the password login; half a pair is a problem naming the key that is missing.
fn credentials(sources: &Sources) -> Result<Option<(Credentials, PathBuf)>, Problem> {
    // Shown in `validate` as it is (see `described`).
    let name = &crate::sanitize::line(&sources.name).into_owned();
    /// Where one AK/SK form keeps the security token, the AK (first set wins) and the SK.
    struct Form {
        token: &'static [&'static str],
        ak: &'static [&'static [&'static str]],
        sk: &'static [&'static [&'static str]],
    }
    let forms = [
        Form {
            token: &["auth", "security_token"],
            ak: &[&["auth", "ak"]],
            sk: &[&["auth", "sk"]],
        },
        Form {
            token: &["security_token"],
            ak: &[&["access_key"], &["ak"]],
            sk: &[&["secret_key"], &["sk"]],
        },
    ];
    for Form { token, ak, sk } in forms {
        match (sources.first(ak)?, sources.first(sk)?) {
            (Some(ak), Some(sk)) => {
                header_safe(&ak, name)?;
                header_safe(&sk, name)?;
                let security_token = match sources.get(token)? {
                    Some(t) => {
                        header_safe(&t, name)?;
                        Some(Secret::new(t.text))
                    }
                    None => None,
                };
                let file = sk.file.clone();
                let source = format!(
                    "{}, entry {name}, {}/{}",
                    described(&sk.file),
                    ak.key,
                    sk.key
                );
                return Ok(Some((
                    Credentials::AkSk {
                        ak: Secret::new(ak.text),
                        sk: Secret::new(sk.text),
                        security_token,
                        source,
                    },
                    file,
                )));
            }
            (Some(half), None) | (None, Some(half)) => {
                let missing = if ak.iter().any(|p| p.join(".") == half.key) {
                    sk[0].join(".")
                } else {
                    ak[0].join(".")
                };
                return Err(Problem::new(format!(
                    "key `clouds.{name}.{}` is set but `{missing}` is not",
                    half.key
                ))
                .origin(described(&half.file)));
            }
            (None, None) => {}
        }
    }
    let user = sources.get(&["auth", "username"])?;
    let password = sources.get(&["auth", "password"])?;
    let domain = sources.first(&[&["auth", "user_domain_name"], &["auth", "domain_name"]])?;
    match (user, password, domain) {
        (None, None, _) => Ok(None),
        (Some(user), Some(password), Some(domain)) => {
            let source = format!("{}, entry {name}", described(&password.file));
            Ok(Some((
                Credentials::Password {
                    user: user.text,
                    password: Secret::new(password.text),
                    domain: domain.text,
                    source,
                },
                password.file,
            )))
        }
        (user, password, domain) => {
            let file = user
                .as_ref()
                .or(password.as_ref())
                .map(|f| f.file.clone())
                .unwrap_or_default();
            let missing: Vec<&str> = [
                (user.is_none(), "auth.username"),
                (password.is_none(), "auth.password"),
                (domain.is_none(), "auth.user_domain_name"),
            ]
            .into_iter()
            .filter_map(|(m, k)| m.then_some(k))
            .collect();
            Err(Problem::new(format!(
                "the password login of entry `{name}` needs {} as well",
                missing.join(" and ")
            ))
            .origin(described(&file)))
        }
    }
}

/// A problem (naming the key, never the value) when an AK, SK or token holds what an HTTP
/// header cannot carry.
fn header_safe(found: &Found, name: &str) -> Result<(), Problem> {
    if found.text.is_ascii() {
        Ok(())
    } else {
        Err(malformed(&found.file, name, &found.key, "ASCII text"))
    }
}

/// The document in `file`, after the size and nesting checks.
fn read(file: &Path) -> Result<Value, Problem> {
    use std::io::Read as _;
    let in_file = |message: String| Problem::new(message).origin(described(file));
    let handle = std::fs::File::open(file).map_err(|e| in_file(format!("cannot read it: {e}")))?;
    let mut bytes = Vec::new();
    handle
        .take(MAX_CLOUDS_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| in_file(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_CLOUDS_BYTES {
        return Err(in_file(format!(
            "larger than {} KiB; a clouds.yaml this big is surely not one",
            MAX_CLOUDS_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| in_file(format!("not UTF-8 text ({e})")))?;
    if let Some(line) = super::depth::too_deep(&text, Syntax::Yaml, MAX_DEPTH) {
        return Err(in_file(format!(
            "nested more than {MAX_DEPTH} levels deep (line {line})"
        )));
    }
    // The parser's messages name a line and column, never more of the text than a token.
    super::file::from_yaml(&text).map_err(|e| in_file(format!("not YAML: {e}")))
}

/// The mapping of entry `name` under `clouds` in `doc`; `None` when the file has no such entry.
fn entry_of(doc: &Value, name: &str, file: &Path) -> Result<Option<Mapping>, Problem> {
    let root = match doc {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => {
            return Err(Problem::new("the document must be a mapping with `clouds`")
                .origin(described(file)))
        }
    };
    let clouds = match root.get("clouds") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(
                Problem::new("key `clouds` must be a mapping of entries").origin(described(file))
            )
        }
    };
    match clouds.get(name) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(
            Problem::new(format!("key `clouds.{name}` must be a mapping")).origin(described(file)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(dir: &Path) -> Places {
        Places {
            cwd: Some(dir.join("cwd")),
            user: Some(dir.join("user")),
            system: dir.join("system"),
        }
    }

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn select(name: &str) -> Selection {
        Selection {
            name: name.into(),
            by: "environment variable OS_CLOUD".into(),
        }
    }

    #[test]
    fn selection_prefers_the_flag_then_jobwait_then_os_cloud() {
        let env = Environment::from_pairs([("OS_CLOUD", "a"), (SELECT_VAR, "b")]);
        assert_eq!(selection(Some("c"), &env).unwrap().name, "c");
        assert_eq!(selection(None, &env).unwrap().name, "b");
        let env = Environment::from_pairs([("OS_CLOUD", " a ")]);
        let s = selection(None, &env).unwrap();
        assert_eq!(
            (s.name.as_str(), s.by.as_str()),
            ("a", "environment variable OS_CLOUD")
        );
        assert!(selection(None, &Environment::default()).is_none());
    }

    #[test]
    fn the_working_directory_wins_and_secure_yaml_is_laid_over() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "system/clouds.yaml",
            "clouds: { otc: { region_name: eu-nl } }",
        );
        let user = write(
            d,
            "user/clouds.yaml",
            "clouds:\n  otc:\n    region_name: eu-de\n    auth:\n      auth_url: https://iam.eu-de.otc.t-systems.com/v3\n      username: alice\n      user_domain_name: OTC0001\n      project_name: eu-de_sub\n",
        );
        let secure = write(
            d,
            "user/secure.yaml",
            "clouds: { otc: { auth: { password: pw } } }",
        );
        let entry = load(&select("otc"), &Environment::default(), &places(d)).unwrap();
        assert_eq!(entry.clouds_file, user);
        assert_eq!(
            entry.auth_url,
            Some((
                "https://iam.eu-de.otc.t-systems.com".to_owned(),
                user.clone()
            ))
        );
        match entry.credentials {
            Some((
                Credentials::Password {
                    user: u,
                    password,
                    domain,
                    source,
                },
                file,
            )) => {
                assert_eq!(
                    (u.as_str(), password.expose(), domain.as_str()),
                    ("alice", "pw", "OTC0001")
                );
                assert_eq!(file, secure);
                assert!(source.starts_with("secure.yaml "), "{source}");
            }
            _ => panic!("a password login"),
        }
        // A clouds.yaml in the working directory comes first.
        let cwd = write(
            d,
            "cwd/clouds.yaml",
            "clouds: { otc: { region_name: eu-ch2, auth: { username: bob, user_domain_name: D } } }",
        );
        let entry = load(&select("otc"), &Environment::default(), &places(d)).unwrap();
        assert_eq!(entry.clouds_file, cwd);
        // OS_CLIENT_CONFIG_FILE before all.
        let env = Environment::from_pairs([("OS_CLIENT_CONFIG_FILE", user.display().to_string())]);
        assert_eq!(
            load(&select("otc"), &env, &places(d)).unwrap().clouds_file,
            user
        );
    }

    #[test]
    fn both_aksk_forms_of_otcextensions() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "cwd/clouds.yaml",
            "clouds:\n  a: { auth_type: aksk, auth: { ak: AK1, sk: SK1, security_token: T1 } }\n  b: { access_key: AK2, secret_key: SK2 }\n  c: { ak: AK3, sk: SK3 }\n  d: { auth: { ak: AK4 } }\n",
        );
        let env = Environment::default();
        for (name, want) in [
            ("a", ("AK1", "SK1", true)),
            ("b", ("AK2", "SK2", false)),
            ("c", ("AK3", "SK3", false)),
        ] {
            match load(&select(name), &env, &places(d)).unwrap().credentials {
                Some((
                    Credentials::AkSk {
                        ak,
                        sk,
                        security_token,
                        ..
                    },
                    _,
                )) => {
                    assert_eq!((ak.expose(), sk.expose(), security_token.is_some()), want);
                }
                _ => panic!("{name}: AK/SK"),
            }
        }
        let err = load(&select("d"), &env, &places(d)).err().unwrap();
        assert!(
            err[0]
                .to_string()
                .contains("key `clouds.d.auth.ak` is set but `auth.sk` is not"),
            "{}",
            err[0]
        );
        assert!(!err[0].to_string().contains("AK4"));
    }

    #[test]
    fn missing_and_malformed_entries_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let env = Environment::default();
        let err = load(&select("otc"), &env, &places(d)).err().unwrap();
        assert!(err[0].to_string().contains("environment variable OS_CLOUD selects the clouds.yaml entry `otc`, but there is no clouds.yaml"), "{}", err[0]);
        let file = write(d, "cwd/clouds.yaml", "clouds:\n  other: {}\n  bad: [1]\n  worse: { auth: { password: [x] } }\n  deep: { auth: 7 }\n");
        let cases = [
            ("otc", "there is no entry `otc` under `clouds` (selected by environment variable OS_CLOUD)"),
            ("bad", "key `clouds.bad` must be a mapping"),
            ("worse", "key `clouds.worse.auth.password` must be a single value"),
            ("deep", "key `clouds.deep.auth` must be a mapping"),
        ];
        for (name, wanted) in cases {
            let err = load(&select(name), &env, &places(d)).err().unwrap();
            let text = err[0].to_string();
            assert!(
                text.starts_with(&format!("clouds.yaml {}: ", file.display())),
                "{text}"
            );
            assert!(text.contains(wanted), "{name}: {text}");
        }
        write(
            d,
            "cwd/clouds.yaml",
            &format!("clouds: {}1{}", "[".repeat(200), "]".repeat(200)),
        );
        let err = load(&select("otc"), &env, &places(d)).err().unwrap();
        assert!(
            err[0].to_string().contains("nested more than"),
            "{}",
            err[0]
        );
        write(d, "cwd/clouds.yaml", "clouds: {otc: \n  - :");
        let err = load(&select("otc"), &env, &places(d)).err().unwrap();
        assert!(err[0].to_string().contains("not YAML"), "{}", err[0]);
        let big = "#".repeat(MAX_CLOUDS_BYTES as usize + 1);
        write(d, "cwd/clouds.yaml", &big);
        let err = load(&select("otc"), &env, &places(d)).err().unwrap();
        assert!(err[0].to_string().contains("larger than"), "{}", err[0]);
    }
}
