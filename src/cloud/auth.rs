//! Credentials: where they come from and how a request carries them.
//!
//! Credentials come only from the environment (or files it names, as Kubernetes mounts secrets)
//! or a clouds.yaml entry (read by `spec::clouds`, which builds these same values), never from
//! flags or the spec, so they stay out of shell history and process listings. They are held as
//! [`Secret`]s; errors name the variable, never its value.
//!
//! Every value is trimmed of surrounding whitespace (a pasted newline is the usual stray), and
//! one that still holds a character an HTTP request cannot carry is a usage error here: sent
//! as it is, it failed every request and was retried until the deadline.

use std::time::SystemTime;

use crate::cloud::signer;
use crate::environment::Environment;
use crate::secret::Secret;

/// How requests are authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// Access key / secret key, signed with SDK-HMAC-SHA256. The AK is treated as a secret too.
    AkSk {
        ak: Secret,
        sk: Secret,
        security_token: Option<Secret>,
        /// Where they came from, e.g. the variables `HUAWEICLOUD_SDK_AK/SK` or a clouds.yaml
        /// entry.
        source: String,
    },
    /// A ready IAM token, sent as `X-Auth-Token`.
    Token { token: Secret, source: &'static str },
    /// An IAM user's password: a token is fetched from IAM and renewed (see `iam`).
    Password {
        user: String,
        password: Secret,
        domain: String,
        /// Where they came from: `OS_USERNAME/OS_PASSWORD` or a clouds.yaml entry.
        source: String,
    },
}

/// AK/SK variable families, in order of preference: (AK, SK, security token).
const AKSK_FAMILIES: [(&str, &str, &str, &str); 3] = [
    (
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_SK",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "HUAWEICLOUD_SDK_AK/SK",
    ),
    (
        "OS_ACCESS_KEY",
        "OS_SECRET_KEY",
        "OS_SECURITY_TOKEN",
        "OS_ACCESS_KEY/OS_SECRET_KEY",
    ),
    (
        "HW_ACCESS_KEY",
        "HW_SECRET_KEY",
        "HW_SECURITY_TOKEN",
        "HW_ACCESS_KEY/HW_SECRET_KEY",
    ),
];

const TOKEN_VARS: [&str; 2] = ["JOBWAIT_TOKEN", "OS_AUTH_TOKEN"];

impl Credentials {
    /// Finds credentials in `env`: AK/SK first, then a token. `Ok(None)` when there are none;
    /// `Err` (naming the variable) when they are incomplete, a `*_FILE` cannot be read, or a
    /// value holds a character HTTP cannot carry.
    pub fn from_env(env: &Environment) -> Result<Option<Credentials>, String> {
        for (ak_var, sk_var, token_var, source) in AKSK_FAMILIES {
            let ak = read(env, ak_var, Charset::Header)?;
            let sk = read(env, sk_var, Charset::Header)?;
            match (ak, sk) {
                (Some(ak), Some(sk)) => {
                    return Ok(Some(Credentials::AkSk {
                        ak,
                        sk,
                        security_token: read(env, token_var, Charset::Header)?,
                        source: source.to_owned(),
                    }))
                }
                (Some(_), None) => return Err(format!("{ak_var} is set but {sk_var} is not")),
                (None, Some(_)) => return Err(format!("{sk_var} is set but {ak_var} is not")),
                (None, None) => {}
            }
        }
        for var in TOKEN_VARS {
            if let Some(token) = read(env, var, Charset::Header)? {
                return Ok(Some(Credentials::Token { token, source: var }));
            }
        }
        let user = read_text(env, "OS_USERNAME", Charset::Text)?;
        let password = read(env, "OS_PASSWORD", Charset::Text)?;
        let domain = match read_text(env, "OS_DOMAIN_NAME", Charset::Text)? {
            Some(domain) => Some(domain),
            None => read_text(env, "OS_USER_DOMAIN_NAME", Charset::Text)?,
        };
        match (user, password, domain) {
            (None, None, _) => Ok(None),
            (Some(user), Some(password), Some(domain)) => Ok(Some(Credentials::Password {
                user,
                password,
                domain,
                source: "OS_USERNAME/OS_PASSWORD".to_owned(),
            })),
            (user, password, _) => {
                let missing: Vec<&str> = [
                    (user.is_none(), "OS_USERNAME"),
                    (password.is_none(), "OS_PASSWORD"),
                    (true, "OS_DOMAIN_NAME"),
                ]
                .into_iter()
                .filter_map(|(m, name)| m.then_some(name))
                .collect();
                Err(format!(
                    "IAM password authentication needs {} as well",
                    missing.join(" and ")
                ))
            }
        }
    }

    /// Whether any credential variable of `env` names a file (`*_FILE`): such credentials can
    /// change under a running process (a rotated Kubernetes secret) and are worth reading again
    /// after a rejection.
    pub fn from_files(env: &Environment) -> bool {
        AKSK_FAMILIES
            .iter()
            .flat_map(|(ak, sk, token, _)| [*ak, *sk, *token])
            .chain(TOKEN_VARS)
            .chain(["OS_PASSWORD"])
            .any(|name| env.get(&format!("{name}_FILE")).is_some())
    }

    /// Every secret value held (to mask in CI logs).
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Credentials::AkSk {
                ak,
                sk,
                security_token,
                ..
            } => {
                let mut all = vec![ak, sk];
                all.extend(security_token);
                all
            }
            Credentials::Token { token, .. } => vec![token],
            Credentials::Password { password, .. } => vec![password],
        }
    }

    /// Where they came from: the variables, or the clouds.yaml entry.
    pub fn source(&self) -> &str {
        match self {
            Credentials::AkSk { source, .. } | Credentials::Password { source, .. } => source,
            Credentials::Token { source, .. } => source,
        }
    }

    /// One line for `validate` and logs: the method and where it came from, never a value.
    pub fn describe(&self) -> String {
        match self {
            Credentials::AkSk {
                security_token,
                source,
                ..
            } => format!(
                "AK/SK signing (SDK-HMAC-SHA256) from {source}{}",
                if security_token.is_some() {
                    " with a security token"
                } else {
                    ""
                }
            ),
            Credentials::Token { source, .. } => format!("IAM token (X-Auth-Token) from {source}"),
            Credentials::Password {
                user,
                domain,
                source,
                ..
            } => format!(
                "IAM password of user {user} in domain {domain} ({source}); token renewed before expiry"
            ),
        }
    }

    /// The headers (lowercase names) that authenticate one GET of `url` at `now`.
    /// `project_id` is sent as `X-Project-Id` with AK/SK (when not empty), as the official SDK
    /// does. Password credentials need a token from IAM first: no headers here.
    pub fn headers(
        &self,
        url: &url::Url,
        project_id: &str,
        now: SystemTime,
    ) -> Vec<(&'static str, String)> {
        match self {
            Credentials::Password { .. } => Vec::new(),
            Credentials::Token { token, .. } => vec![("x-auth-token", token.expose().to_owned())],
            Credentials::AkSk {
                ak,
                sk,
                security_token,
                ..
            } => {
                let mut headers: Vec<(&'static str, String)> = vec![
                    ("host", host_header(url)),
                    ("x-sdk-date", signer::sdk_date(now)),
                ];
                if !project_id.is_empty() {
                    headers.push(("x-project-id", project_id.to_owned()));
                }
                if let Some(token) = security_token {
                    headers.push(("x-security-token", token.expose().to_owned()));
                }
                let pairs: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let signed =
                    signer::sign("GET", url.path(), url.query(), &pairs, b"", ak.expose(), sk);
                headers.push(("authorization", signed.authorization));
                headers
            }
        }
    }
}

/// `host[:port]` exactly as the HTTP client sends it (the port only when not the scheme's default).
pub fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// What a credential value may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Sent in an HTTP header (AK, SK, tokens): printable ASCII.
    Header,
    /// Sent in IAM's JSON body (user, password, domain): any text but control characters.
    Text,
}

/// A secret from `NAME`, else from the file named by `NAME_FILE` (see [`read_text`]).
fn read(env: &Environment, name: &str, charset: Charset) -> Result<Option<Secret>, String> {
    Ok(read_text(env, name, charset)?.map(Secret::new))
}

/// A credential value from `NAME`, else from the file named by `NAME_FILE`, trimmed of
/// surrounding whitespace. A variable that is empty after trimming counts as unset; such a file
/// is an error. A value holding a character `charset` does not allow is an error naming the
/// variable, never showing the value.
fn read_text(env: &Environment, name: &str, charset: Charset) -> Result<Option<String>, String> {
    if let Some(value) = env.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        check(name, value, charset)?;
        return Ok(Some(value.to_owned()));
    }
    let file_var = format!("{name}_FILE");
    let Some(path) = env.get(&file_var) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{file_var}: cannot read {path}: {e}"))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("{file_var}: {path} is empty"));
    }
    check(&file_var, value, charset)?;
    Ok(Some(value.to_owned()))
}

/// `Err` naming `var` (not the value) when `value` holds a character `charset` does not allow.
fn check(var: &str, value: &str, charset: Charset) -> Result<(), String> {
    let what = value.chars().find_map(|c| {
        if c.is_control() {
            Some("a control character")
        } else if charset == Charset::Header && !c.is_ascii() {
            Some("a non-ASCII character")
        } else {
            None
        }
    });
    match what {
        None => Ok(()),
        Some(what) => Err(format!(
            "{var}: the value holds {what}, which an HTTP request cannot carry"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_order_and_token_fallback() {
        let env = Environment::from_pairs([
            ("OS_ACCESS_KEY", "ak2"),
            ("OS_SECRET_KEY", "sk2"),
            ("HUAWEICLOUD_SDK_AK", "ak1"),
            ("HUAWEICLOUD_SDK_SK", "sk1"),
            ("JOBWAIT_TOKEN", "t"),
        ]);
        match Credentials::from_env(&env).unwrap().unwrap() {
            Credentials::AkSk { ak, source, .. } => {
                assert_eq!(ak.expose(), "ak1");
                assert_eq!(source, "HUAWEICLOUD_SDK_AK/SK");
            }
            other => panic!("{other:?}"),
        }
        let env = Environment::from_pairs([("OS_AUTH_TOKEN", "t2"), ("HUAWEICLOUD_SDK_AK", "")]);
        assert!(matches!(
            Credentials::from_env(&env).unwrap(),
            Some(Credentials::Token {
                source: "OS_AUTH_TOKEN",
                ..
            })
        ));
        assert!(Credentials::from_env(&Environment::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn incomplete_pairs_name_the_missing_variable_not_the_value() {
        let env = Environment::from_pairs([("HW_ACCESS_KEY", "AKVALUE")]);
        let err = Credentials::from_env(&env).unwrap_err();
        assert_eq!(err, "HW_ACCESS_KEY is set but HW_SECRET_KEY is not");
        assert!(!err.contains("AKVALUE"));
    }

    #[test]
    fn file_variants_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let sk = dir.path().join("sk");
        std::fs::write(&sk, "SKFROMFILE\n").unwrap();
        let env = Environment::from_pairs([
            ("HUAWEICLOUD_SDK_AK", "AK".to_owned()),
            ("HUAWEICLOUD_SDK_SK_FILE", sk.display().to_string()),
        ]);
        match Credentials::from_env(&env).unwrap().unwrap() {
            Credentials::AkSk { sk, .. } => assert_eq!(sk.expose(), "SKFROMFILE"),
            other => panic!("{other:?}"),
        }
        let env = Environment::from_pairs([("JOBWAIT_TOKEN_FILE", "/nonexistent/token")]);
        let err = Credentials::from_env(&env).unwrap_err();
        assert!(
            err.starts_with("JOBWAIT_TOKEN_FILE: cannot read /nonexistent/token"),
            "{err}"
        );
    }

    #[test]
    fn values_are_trimmed_and_whitespace_only_counts_as_unset() {
        let env = Environment::from_pairs([
            ("HUAWEICLOUD_SDK_AK", "  \n"),
            ("HUAWEICLOUD_SDK_SK", " "),
            ("JOBWAIT_TOKEN", "tok\n"),
        ]);
        match Credentials::from_env(&env).unwrap().unwrap() {
            Credentials::Token { token, source } => {
                assert_eq!((token.expose(), source), ("tok", "JOBWAIT_TOKEN"));
            }
            other => panic!("{other:?}"),
        }
        let env = Environment::from_pairs([
            ("OS_USERNAME", " alice\r\n"),
            ("OS_PASSWORD", "\tpäss wörd\n"),
            ("OS_DOMAIN_NAME", " "),
            ("OS_USER_DOMAIN_NAME", "dom\n"),
        ]);
        match Credentials::from_env(&env).unwrap().unwrap() {
            Credentials::Password {
                user,
                password,
                domain,
                ..
            } => assert_eq!(
                (user.as_str(), password.expose(), domain.as_str()),
                ("alice", "päss wörd", "dom")
            ),
            other => panic!("{other:?}"),
        }
    }

    /// A value HTTP cannot carry was accepted, then every request failed and was retried until
    /// the deadline. Now it is an error naming the variable, never showing the value.
    #[test]
    fn values_http_cannot_carry_name_the_variable_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sk");
        std::fs::write(&file, "SK\u{1}VALUE\n").unwrap();
        let blank = dir.path().join("blank");
        std::fs::write(&blank, " \n\t\n").unwrap();
        let file = file.display().to_string();
        let blank = blank.display().to_string();
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[("JOBWAIT_TOKEN", "a\u{1}b")], "JOBWAIT_TOKEN: "),
            (&[("OS_AUTH_TOKEN", "a\nb")], "OS_AUTH_TOKEN: "),
            (
                &[("HUAWEICLOUD_SDK_AK", "AKé"), ("HUAWEICLOUD_SDK_SK", "s")],
                "HUAWEICLOUD_SDK_AK: the value holds a non-ASCII character",
            ),
            (
                &[("HW_ACCESS_KEY", "ak"), ("HW_SECRET_KEY_FILE", &file)],
                "HW_SECRET_KEY_FILE: the value holds a control character",
            ),
            (
                &[
                    ("OS_ACCESS_KEY", "ak"),
                    ("OS_SECRET_KEY", "sk"),
                    ("OS_SECURITY_TOKEN", "t\u{7f}"),
                ],
                "OS_SECURITY_TOKEN: ",
            ),
            (
                &[
                    ("OS_USERNAME", "al\u{0}ice"),
                    ("OS_PASSWORD", "p"),
                    ("OS_DOMAIN_NAME", "d"),
                ],
                "OS_USERNAME: ",
            ),
            (
                &[
                    ("OS_USERNAME", "alice"),
                    ("OS_PASSWORD", "p\u{1b}[0m"),
                    ("OS_DOMAIN_NAME", "d"),
                ],
                "OS_PASSWORD: ",
            ),
            (&[("JOBWAIT_TOKEN_FILE", &blank)], "JOBWAIT_TOKEN_FILE: "),
        ];
        for (pairs, wanted) in cases {
            let err =
                Credentials::from_env(&Environment::from_pairs(pairs.iter().copied())).unwrap_err();
            assert!(err.starts_with(wanted), "{pairs:?}: {err}");
            for (name, value) in pairs {
                // A file's path may be named; a value never.
                let path = name.ends_with("_FILE");
                assert!(path || value.len() < 3 || !err.contains(value), "{err}");
            }
            assert!(
                !err.contains("VALUE") && !err.chars().any(char::is_control),
                "{err}"
            );
        }
    }

    #[test]
    fn debug_of_credentials_shows_no_secret() {
        let env = Environment::from_pairs([
            ("HUAWEICLOUD_SDK_AK", "AKVISIBLE"),
            ("HUAWEICLOUD_SDK_SK", "SKVISIBLE"),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "TOKVISIBLE"),
        ]);
        let creds = Credentials::from_env(&env).unwrap().unwrap();
        let shown = format!("{creds:?} {}", creds.describe());
        for secret in ["AKVISIBLE", "SKVISIBLE", "TOKVISIBLE"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn host_header_includes_only_non_default_ports() {
        let u = url::Url::parse("http://127.0.0.1:8080/v1/p/jobs/j").unwrap();
        assert_eq!(host_header(&u), "127.0.0.1:8080");
        let u = url::Url::parse("https://ecs.eu-de.otc.t-systems.com:443/v1").unwrap();
        assert_eq!(host_header(&u), "ecs.eu-de.otc.t-systems.com");
    }
}
