//! The HTTP client: one GET of a job document, authenticated, with every failure turned into
//! a [`FetchError`] that knows whether it is worth retrying.
//!
//! Errors are classified here, once ([`FetchError::class`]), so the engine never inspects
//! status codes or bodies.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use std::sync::Arc;

use url::Url;

use super::auth::Credentials;
use super::endpoint::redacted;
use super::iam::{PasswordLogin, TokenCache};
use super::wire::{ApiErrorBody, Job};

/// How long one request may take at most (the engine shortens it near a deadline).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a failed fetch means for the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transport trouble, 5xx, 429, garbled bodies: try again later.
    Retryable,
    /// The API does not know this job id (yet): pending within `not_found_grace`.
    NotFound,
    /// Authentication, authorization or a request the API will never accept.
    Fatal,
}

/// A fetch that produced no job document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("network error: {0}")]
    Transport(String),
    #[error("HTTP {status}{}", .error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    Http {
        status: u16,
        error: Option<ApiErrorBody>,
        retry_after: Option<Duration>,
    },
    #[error("unreadable response (HTTP {status}): {message}")]
    Garbled { status: u16, message: String },
}

impl FetchError {
    pub fn class(&self) -> ErrorClass {
        match self {
            FetchError::Transport(_) | FetchError::Garbled { .. } => ErrorClass::Retryable,
            FetchError::Http { status, error, .. } => {
                let code = error
                    .as_ref()
                    .and_then(|e| e.code.as_deref())
                    .unwrap_or_default();
                match status {
                    429 | 500..=599 => ErrorClass::Retryable,
                    400 if code == "Common.0011" => ErrorClass::NotFound,
                    // 404 from the gateway itself means a wrong host or path, not a missing job.
                    404 if code.starts_with("APIG") || error.is_none() => ErrorClass::Fatal,
                    404 => ErrorClass::NotFound,
                    _ => ErrorClass::Fatal,
                }
            }
        }
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Fetches job documents.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    credentials: Credentials,
    project_id: String,
    /// The shared IAM token, with password credentials.
    tokens: Option<Arc<TokenCache>>,
}

/// A response before it is read as a job.
struct Raw {
    status: u16,
    retry_after: Option<Duration>,
    body: bytes::Bytes,
}

impl Client {
    /// `iam` is IAM's base URL and the project (region) name to scope tokens to; password
    /// credentials need it.
    pub fn new(
        credentials: Credentials,
        project_id: String,
        iam: Option<(Url, String)>,
    ) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("jobwait/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let tokens = match (&credentials, iam) {
            (
                Credentials::Password {
                    user,
                    password,
                    domain,
                },
                Some((base, project_name)),
            ) => {
                let login = PasswordLogin {
                    user: user.clone(),
                    password: password.clone(),
                    domain: domain.clone(),
                    project_name,
                };
                Some(Arc::new(TokenCache::new(&base, login)))
            }
            (Credentials::Password { .. }, None) => {
                return Err(
                    "IAM password authentication needs an IAM endpoint and a region".to_owned(),
                )
            }
            _ => None,
        };
        Ok(Client {
            http,
            credentials,
            project_id,
            tokens,
        })
    }

    /// The project the job URLs are under (after discovery).
    pub fn set_project_id(&mut self, project_id: String) {
        self.project_id = project_id;
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// One GET of `url`, bounded by `timeout`.
    pub async fn get_job(&self, url: &Url, timeout: Duration) -> Result<Job, FetchError> {
        let raw = self.get(url, timeout, &self.project_id).await?;
        if (200..300).contains(&raw.status) {
            return Job::from_slice(&raw.body).map_err(|message| FetchError::Garbled {
                status: raw.status,
                message,
            });
        }
        Err(FetchError::Http {
            status: raw.status,
            error: ApiErrorBody::parse(&raw.body),
            retry_after: raw.retry_after,
        })
    }

    /// The id of the project named `name` (a region), from IAM (`GET /v3/projects?name=`).
    pub async fn discover_project(&self, iam_base: &Url, name: &str) -> Result<String, String> {
        let mut url = iam_base.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(["v3", "projects"]);
        }
        url.query_pairs_mut().append_pair("name", name);
        // No X-Project-Id: the project is what we are asking for.
        let raw = self
            .get(&url, REQUEST_TIMEOUT, "")
            .await
            .map_err(|e| format!("project discovery from IAM ({}): {e}", redacted(&url)))?;
        if !(200..300).contains(&raw.status) {
            let err = FetchError::Http {
                status: raw.status,
                error: ApiErrorBody::parse(&raw.body),
                retry_after: None,
            };
            return Err(format!(
                "project discovery from IAM ({}): {err}",
                redacted(&url)
            ));
        }
        super::iam::project_id_from(name, &raw.body)
    }

    /// An authenticated GET. With an IAM token, a 401 drops the token and the request is sent
    /// once more with a new one; every other answer (an AK/SK 401 included) is returned as is.
    async fn get(&self, url: &Url, timeout: Duration, project_id: &str) -> Result<Raw, FetchError> {
        let mut renewed = false;
        loop {
            let (headers, generation) = self.auth_headers(url, project_id).await?;
            let raw = self.send(url, headers, timeout).await?;
            match (&self.tokens, generation) {
                (Some(tokens), Some(generation)) if raw.status == 401 && !renewed => {
                    tokens.invalidate(generation).await;
                    renewed = true;
                }
                _ => return Ok(raw),
            }
        }
    }

    async fn auth_headers(
        &self,
        url: &Url,
        project_id: &str,
    ) -> Result<(HeaderMap, Option<u64>), FetchError> {
        let mut headers = HeaderMap::new();
        let mut generation = None;
        let mut pairs = self.credentials.headers(url, project_id, SystemTime::now());
        if let Some(tokens) = &self.tokens {
            let (token, g) = tokens.token(&self.http).await?;
            pairs.push(("x-auth-token", token.expose().to_owned()));
            generation = Some(g);
        }
        for (name, value) in pairs {
            let value = HeaderValue::from_str(&value).map_err(|_| {
                FetchError::Transport(format!("header {name} has characters HTTP cannot carry"))
            })?;
            headers.insert(HeaderName::from_static(name), value);
        }
        Ok((headers, generation))
    }

    async fn send(
        &self,
        url: &Url,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Raw, FetchError> {
        let response = self
            .http
            .get(url.clone())
            .headers(headers)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| FetchError::Transport(transport_text(&e)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .bytes()
            .await
            .map_err(|e| FetchError::Transport(transport_text(&e)))?;
        Ok(Raw {
            status,
            retry_after,
            body,
        })
    }
}

/// The error chain in one line (reqwest's top-level text alone is just "error sending request").
fn transport_text(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text += &format!(": {s_text}");
        }
        source = s.source();
    }
    // reqwest names the URL: not its password.
    match e.url().filter(|url| url.password().is_some()) {
        Some(url) => text.replace(url.as_str(), &redacted(url)),
        None => text,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs; ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> FetchError {
        FetchError::Http {
            status,
            error: ApiErrorBody::parse(body.as_bytes()),
            retry_after: None,
        }
    }

    #[test]
    fn classification() {
        use ErrorClass::*;
        let cases = [
            (http(500, ""), Retryable),
            (http(503, "<html>"), Retryable),
            (
                http(
                    429,
                    r#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#,
                ),
                Retryable,
            ),
            (
                http(
                    400,
                    r#"{"error":{"code":"Common.0011","message":"no job"}}"#,
                ),
                NotFound,
            ),
            (
                http(404, r#"{"error":{"code":"Ecs.0011","message":"no job"}}"#),
                NotFound,
            ),
            (
                http(404, r#"{"error_code":"APIG.0101","error_msg":"no api"}"#),
                Fatal,
            ),
            (http(404, ""), Fatal),
            (
                http(401, r#"{"error_code":"APIGW.0301","error_msg":"bad sig"}"#),
                Fatal,
            ),
            (http(403, ""), Fatal),
            (
                http(400, r#"{"error":{"code":"Ecs.0005","message":"bad"}}"#),
                Fatal,
            ),
            (FetchError::Transport("reset".into()), Retryable),
            (
                FetchError::Garbled {
                    status: 200,
                    message: "not JSON".into(),
                },
                Retryable,
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.class(), want, "{err}");
        }
    }

    #[test]
    fn display_is_one_readable_line() {
        let err = http(
            429,
            r#"{"error_code":"APIGW.0308","error_msg":"throttled","request_id":"r1"}"#,
        );
        assert_eq!(
            err.to_string(),
            "HTTP 429: APIGW.0308: throttled (request_id r1)"
        );
        assert_eq!(http(502, "").to_string(), "HTTP 502");
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
