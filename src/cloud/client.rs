//! The HTTP client: one GET of a job document, authenticated, with every failure turned into
//! a [`FetchError`] that knows whether it is worth retrying.
//!
//! Errors are classified here, once ([`FetchError::class`]), so the engine never inspects
//! status codes or bodies.
//!
//! Everything that comes back is untrusted, and this is where it enters:
//! - no redirect is followed (the job API and IAM never redirect): a 3xx is an error naming its
//!   `Location`, so a credential header never travels to a host other than the configured one;
//!   the headers that carry credentials are also marked sensitive (kept out of debug output);
//! - bodies are read up to a limit (`max_response_size`), never whole on trust;
//! - `Retry-After` is capped ([`MAX_RETRY_AFTER`]);
//! - errors that retrying cannot fix (a certificate the roots do not vouch for, a redirect, an
//!   oversized answer, a header HTTP cannot carry) end the job at once instead of being retried
//!   to the deadline.
//!
//! Credentials go through a gate: the first request with credentials not yet accepted goes
//! alone and the others wait for its answer, so wrong credentials cost one rejected request, not
//! one per job — the gateway locks an AK/SK after 5 failed signatures in a row, and IAM locks
//! users after failed logins. A 401 then rejects the credentials for every job (the engine stops
//! them all); credentials read from `*_FILE` files are read once more first, in case they were
//! rotated under us.

use std::error::Error as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use url::Url;

use super::auth::Credentials;
use super::iam::{PasswordLogin, TokenCache};
use super::wire::{ApiErrorBody, Job};
use crate::environment::Environment;
use crate::sanitize::{cap, MAX_TEXT};

/// How long one request may take at most (the engine shortens it near a deadline).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read by default. A 500-server batch job is about 100 KB.
pub const DEFAULT_MAX_BODY: u64 = 4 << 20;

/// The longest `Retry-After` honoured: a server asking for more is asked again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What a failed fetch means for the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transport trouble, 5xx, garbled bodies: try again later.
    Retryable,
    /// 429: try again later, and slow down for the whole host.
    Throttled,
    /// The API does not know this job id (yet): pending within `not_found_grace`.
    NotFound,
    /// The credentials were refused: every job that uses them stops (retrying locks them).
    CredentialsRejected,
    /// A request the API will never accept, or an answer retrying cannot change.
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
    #[error("HTTP {status} redirect to {}: not followed (the API does not redirect, and credentials stay with the configured host)", .location.as_deref().unwrap_or("(no Location)"))]
    Redirect {
        status: u16,
        location: Option<String>,
    },
    #[error("the response is larger than {limit} bytes (max_response_size): not read; retrying cannot help")]
    TooLarge { limit: u64 },
    /// Anything else retrying cannot fix (a certificate error, a value HTTP cannot carry, an
    /// unknown project).
    #[error("{0}")]
    Permanent(String),
}

impl FetchError {
    pub fn class(&self) -> ErrorClass {
        match self {
            FetchError::Transport(_) | FetchError::Garbled { .. } => ErrorClass::Retryable,
            FetchError::Redirect { .. }
            | FetchError::TooLarge { .. }
            | FetchError::Permanent(_) => ErrorClass::Fatal,
            FetchError::Http { status, error, .. } => {
                let code = error
                    .as_ref()
                    .and_then(|e| e.code.as_deref())
                    .unwrap_or_default();
                match status {
                    429 => ErrorClass::Throttled,
                    500..=599 => ErrorClass::Retryable,
                    401 => ErrorClass::CredentialsRejected,
                    400 if code == "Common.0011" => ErrorClass::NotFound,
                    // 404 from the gateway itself means a wrong host or path, not a missing job.
                    404 if code.starts_with("APIG") || error.is_none() => ErrorClass::Fatal,
                    404 => ErrorClass::NotFound,
                    _ => ErrorClass::Fatal,
                }
            }
        }
    }

    /// The server's `Retry-After`, when it sent one (capped at [`MAX_RETRY_AFTER`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the server answered at all (the host's pace learns from answers).
    pub fn answered(&self) -> bool {
        !matches!(self, FetchError::Transport(_))
    }
}

/// How the client is set up beyond its credentials.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// IAM's base URL and the project (region) name to scope password tokens to.
    pub iam: Option<(Url, String)>,
    /// The environment the credentials came from, when some came from `*_FILE` files: read
    /// again once after a rejection.
    pub reload_from: Option<Environment>,
    /// The largest response body read.
    pub max_body: u64,
    /// Whether any endpoint is `https` (the root certificates are loaded only then).
    pub tls: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            iam: None,
            reload_from: None,
            max_body: DEFAULT_MAX_BODY,
            tls: true,
        }
    }
}

/// Fetches job documents.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    /// Swapped when `*_FILE` credentials are read again.
    credentials: Mutex<Arc<Credentials>>,
    reload_from: Option<Environment>,
    /// How often the credentials were read again (the gate's epoch outside password login).
    reloads: AtomicU64,
    project_id: String,
    /// The shared IAM token, with password credentials.
    tokens: Option<Arc<TokenCache>>,
    gate: Gate,
    max_body: u64,
}

/// A response before it is read as a job.
struct Raw {
    status: u16,
    retry_after: Option<Duration>,
    body: Bytes,
}

impl Client {
    pub fn new(
        credentials: Credentials,
        project_id: String,
        options: ClientOptions,
    ) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("jobwait/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            // The system's roots (honouring SSL_CERT_FILE / SSL_CERT_DIR) and the bundled ones
            // for systems that have none (scratch images); none at all for plain-HTTP plans.
            .tls_built_in_root_certs(options.tls)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let tokens = match (&credentials, options.iam) {
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
                Some(Arc::new(TokenCache::new(&base, login, options.max_body)))
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
            credentials: Mutex::new(Arc::new(credentials)),
            reload_from: options.reload_from,
            reloads: AtomicU64::new(0),
            project_id,
            tokens,
            gate: Gate::default(),
            max_body: options.max_body,
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
        Err(http_error(&raw))
    }

    /// The id of the project named `name` (a region), from IAM (`GET /v3/projects?name=`).
    /// Errors say where they came from; [`FetchError::class`] tells whether to ask again.
    pub async fn discover_project(
        &self,
        iam_base: &Url,
        name: &str,
        timeout: Duration,
    ) -> Result<String, FetchError> {
        let mut url = iam_base.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(["v3", "projects"]);
        }
        url.query_pairs_mut().append_pair("name", name);
        // No X-Project-Id: the project is what we are asking for.
        let raw = self.get(&url, timeout, "").await?;
        if !(200..300).contains(&raw.status) {
            return Err(http_error(&raw));
        }
        super::iam::project_id_from(name, &raw.body).map_err(FetchError::Permanent)
    }

    /// An authenticated GET through the credentials gate. With an IAM token, a 401 drops the
    /// token and the request is sent once more with a new one; credentials from `*_FILE` files
    /// are read once more after a 401; a 401 after that rejects the credentials for every
    /// request of this client.
    async fn get(&self, url: &Url, timeout: Duration, project_id: &str) -> Result<Raw, FetchError> {
        let mut renewed = false;
        let mut reloaded = false;
        loop {
            self.gate.check()?;
            let credentials = self.credentials();
            let (token, epoch) = match &self.tokens {
                Some(tokens) => {
                    let (token, generation) = tokens.token(&self.http, timeout).await?;
                    (Some(token), generation)
                }
                None => (None, self.reloads.load(Ordering::Relaxed)),
            };
            let _probe = self.gate.enter(epoch).await?;
            let headers = auth_headers(&credentials, token, url, project_id)?;
            let raw = self.send(url, headers, timeout).await?;
            if raw.status == 401 {
                if let (Some(tokens), false) = (&self.tokens, renewed) {
                    tokens.invalidate(epoch).await;
                    renewed = true;
                    continue;
                }
                if !reloaded && self.reload_credentials(&credentials) {
                    reloaded = true;
                    continue;
                }
                let err = http_error(&raw);
                self.gate.reject(&err);
                return Err(err);
            }
            if proves_credentials(&raw) {
                self.gate.prove(epoch);
            }
            return Ok(raw);
        }
    }

    fn credentials(&self) -> Arc<Credentials> {
        match self.credentials.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads `*_FILE` credentials again; `true` when they changed (and were swapped in).
    fn reload_credentials(&self, used: &Arc<Credentials>) -> bool {
        let Some(env) = &self.reload_from else {
            return false;
        };
        let Ok(Some(fresh)) = Credentials::from_env(env) else {
            return false;
        };
        let mut current = match self.credentials.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !Arc::ptr_eq(&current, used) {
            // Another request reloaded them already: try those.
            return true;
        }
        if *current.as_ref() == fresh {
            return false;
        }
        tracing::info!("the credential files changed; trying the new credentials once");
        *current = Arc::new(fresh);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        true
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
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .map(|v| cap(String::from_utf8_lossy(v.as_bytes()).into_owned(), 512));
            return Err(FetchError::Redirect { status, location });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = read_body(response, self.max_body).await?;
        Ok(Raw {
            status,
            retry_after,
            body,
        })
    }
}

/// The headers that authenticate one GET of `url`; those carrying credentials are marked
/// sensitive.
fn auth_headers(
    credentials: &Credentials,
    token: Option<crate::secret::Secret>,
    url: &Url,
    project_id: &str,
) -> Result<HeaderMap, FetchError> {
    let mut headers = HeaderMap::new();
    let mut pairs = credentials.headers(url, project_id, SystemTime::now());
    if let Some(token) = token {
        pairs.push(("x-auth-token", token.expose().to_owned()));
    }
    for (name, value) in pairs {
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            FetchError::Permanent(format!("header {name} has characters HTTP cannot carry"))
        })?;
        if matches!(name, "authorization" | "x-auth-token" | "x-security-token") {
            value.set_sensitive(true);
        }
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(headers)
}

/// A non-2xx answer as an error.
fn http_error(raw: &Raw) -> FetchError {
    FetchError::Http {
        status: raw.status,
        error: ApiErrorBody::parse(&raw.body),
        retry_after: raw.retry_after,
    }
}

/// Whether an answer shows that the credentials were accepted: a job document, or an error the
/// service behind the gateway gave (the gateway checks credentials first; its own `APIG…` errors
/// and throttling say nothing about them).
fn proves_credentials(raw: &Raw) -> bool {
    match raw.status {
        200..=299 => true,
        401 | 429 => false,
        400..=499 => ApiErrorBody::parse(&raw.body)
            .and_then(|e| e.code)
            .is_some_and(|code| !code.starts_with("APIG")),
        _ => false,
    }
}

/// The body of `response`, refused beyond `limit` bytes (by `Content-Length` before reading,
/// and while reading for bodies that do not say).
pub(super) async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Bytes, FetchError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge { limit });
    }
    // Most bodies come in one chunk: no copy then.
    let Some(first) = response.chunk().await.map_err(transport_error)? else {
        return Ok(Bytes::new());
    };
    let mut more = Vec::new();
    let mut size = first.len() as u64;
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(FetchError::TooLarge { limit });
        }
        more.push(chunk);
    }
    if size > limit {
        return Err(FetchError::TooLarge { limit });
    }
    if more.is_empty() {
        return Ok(first);
    }
    let mut body = Vec::with_capacity(size as usize);
    body.extend_from_slice(&first);
    for chunk in more {
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// A reqwest error as a [`FetchError`]: certificate failures and requests that could not be
/// built are permanent, the rest (DNS, refused, reset, timeouts) worth retrying. The URL is
/// left out of the text: it may carry userinfo.
pub(super) fn transport_error(e: reqwest::Error) -> FetchError {
    let builder = e.is_builder();
    let e = e.without_url();
    let text = transport_text(&e);
    if is_certificate_error(&e) {
        return FetchError::Permanent(format!(
            "TLS: {text} (the server's certificate is not trusted: for a private CA, set SSL_CERT_FILE or SSL_CERT_DIR)"
        ));
    }
    if builder {
        return FetchError::Permanent(format!("cannot build the request: {text}"));
    }
    FetchError::Transport(text)
}

/// Whether a rustls certificate error is somewhere in the chain (also inside an `io::Error`,
/// whose `source()` skips the error it wraps).
fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::InvalidCertRevocationList(_)
            );
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if is_certificate_error(inner) {
                return true;
            }
        }
        current = err.source();
    }
    false
}

/// The error chain in one line (reqwest's top-level text alone is just "error sending request").
fn transport_text(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text += &format!(": {s_text}");
        }
        source = s.source();
    }
    cap(text, MAX_TEXT)
}

/// `Retry-After` in seconds, capped at [`MAX_RETRY_AFTER`] (the HTTP-date form is rare for
/// APIs; ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// Whether credentials have been accepted yet (see the module docs). The epoch names one set
/// of credentials: the IAM token's generation with password login, otherwise how often the
/// credential files were read again.
#[derive(Debug)]
struct Gate {
    state: Mutex<GateState>,
    /// One permit: the one request that may go out while the credentials are unproven.
    probe: tokio::sync::Semaphore,
}

#[derive(Debug, Default)]
struct GateState {
    proven: Option<u64>,
    rejected: Option<FetchError>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::new(GateState::default()),
            probe: tokio::sync::Semaphore::new(1),
        }
    }
}

impl Gate {
    fn with_state<T>(&self, f: impl FnOnce(&mut GateState) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The rejection, once the credentials were rejected.
    fn check(&self) -> Result<(), FetchError> {
        self.with_state(|s| s.rejected.clone().map_or(Ok(()), Err))
    }

    /// Waits for the right to send with credentials of `epoch`: at once when they are proven,
    /// else as the one probe (the permit is held until the answer is in).
    async fn enter(
        &self,
        epoch: u64,
    ) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, FetchError> {
        if self.with_state(|s| s.proven == Some(epoch)) {
            return Ok(None);
        }
        let permit = self.probe.acquire().await.ok();
        self.check()?;
        if self.with_state(|s| s.proven == Some(epoch)) {
            return Ok(None);
        }
        Ok(permit)
    }

    fn prove(&self, epoch: u64) {
        self.with_state(|s| {
            if s.proven.is_none_or(|p| p < epoch) {
                s.proven = Some(epoch);
            }
        });
    }

    fn reject(&self, err: &FetchError) {
        self.with_state(|s| {
            s.rejected.get_or_insert_with(|| err.clone());
        });
    }
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
                Throttled,
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
                CredentialsRejected,
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
            (
                FetchError::Redirect {
                    status: 302,
                    location: Some("http://elsewhere/".into()),
                },
                Fatal,
            ),
            (FetchError::TooLarge { limit: 10 }, Fatal),
            (FetchError::Permanent("TLS".into()), Fatal),
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
        let redirect = FetchError::Redirect {
            status: 302,
            location: Some("https://evil.example/x".into()),
        };
        assert!(
            redirect
                .to_string()
                .starts_with("HTTP 302 redirect to https://evil.example/x: not followed"),
            "{redirect}"
        );
    }

    #[test]
    fn retry_after_seconds_capped() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
    }

    proptest::proptest! {
        /// Whatever a server sends as `Retry-After`, it parses without a panic and never asks
        /// for more than the cap.
        #[test]
        fn retry_after_of_any_text_is_capped(text in ".{0,40}", n: u64) {
            for value in [text, n.to_string(), format!(" {n}0 ")] {
                if let Some(d) = parse_retry_after(&value) {
                    proptest::prop_assert!(d <= MAX_RETRY_AFTER);
                }
            }
        }
    }

    #[test]
    fn what_proves_credentials() {
        let raw = |status: u16, body: &str| Raw {
            status,
            retry_after: None,
            body: Bytes::from(body.to_owned()),
        };
        assert!(proves_credentials(&raw(200, "{}")));
        assert!(proves_credentials(&raw(
            400,
            r#"{"error":{"code":"Common.0011","message":"no job"}}"#
        )));
        assert!(!proves_credentials(&raw(
            404,
            r#"{"error_code":"APIG.0101","error_msg":"no api"}"#
        )));
        assert!(!proves_credentials(&raw(401, "")));
        assert!(!proves_credentials(&raw(429, "")));
        assert!(!proves_credentials(&raw(503, "")));
    }
}
