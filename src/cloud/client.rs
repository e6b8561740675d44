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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use url::Url;

pub use super::error::{ErrorClass, FetchError};
pub use super::http::{DEFAULT_MAX_BODY, MAX_RETRY_AFTER};

use super::auth::Credentials;
use super::error::transport_error;
use super::http::{parse_retry_after, read_body};
pub use super::iam::Scope;
use super::iam::{PasswordLogin, TokenCache};
use super::service::DocumentError;
use super::wire::{ApiErrorBody, Job};
use crate::environment::Environment;
use crate::sanitize::cap;

/// How long one request may take at most (the engine shortens it near a deadline).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the client is set up beyond its credentials.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// IAM's base URL and the project to scope password tokens to.
    pub iam: Option<(Url, Scope)>,
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
        let http = super::http::client(options.tls)?;
        let tokens = match (&credentials, options.iam) {
            (
                Credentials::Password {
                    user,
                    password,
                    domain,
                    ..
                },
                Some((base, scope)),
            ) => {
                let login = PasswordLogin {
                    user: user.clone(),
                    password: password.clone(),
                    domain: domain.clone(),
                    scope,
                };
                Some(Arc::new(TokenCache::new(&base, login, options.max_body)))
            }
            (Credentials::Password { .. }, None) => {
                return Err(
                    "IAM password authentication needs an IAM endpoint and a project".to_owned(),
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

    /// One GET of `url`, bounded by `timeout`; a 2xx body is read by `read` (the service's
    /// reader: [`super::service_ref::ServiceRef::read`]).
    pub async fn get_job(
        &self,
        url: &Url,
        read: impl FnOnce(&[u8]) -> Result<Job, DocumentError>,
        timeout: Duration,
    ) -> Result<Job, FetchError> {
        let raw = self.get(url, timeout, &self.project_id).await?;
        if (200..300).contains(&raw.status) {
            return read(&raw.body).map_err(|e| match e {
                DocumentError::Unreadable(message) => FetchError::Garbled {
                    status: raw.status,
                    message,
                },
                DocumentError::Absent(message) => FetchError::Absent(message),
            });
        }
        Err(http_error(&raw))
    }

    /// The id of the project named `name` (`project_name` or the region), from IAM (`GET /v3/projects?name=`).
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

    /// Password login and project discovery through the real client, against the
    /// simulator's IAM on 127.0.0.1:0.
    mod against_the_simulator {
        use std::sync::Arc;

        use crate::cloud::auth::Credentials;
        use crate::cloud::client::{Client, ClientOptions, FetchError, Scope};
        use crate::secret::Secret;
        use crate::sim::{start, Scenario, SimHandle};

        const PROJECT: &str = "0123456789abcdef0123456789abcdef";
        const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

        async fn sim(iam_extra: &str) -> SimHandle {
            let yaml = format!(
                "project_id: {PROJECT}\niam: {{ user: alice, password: pw, domain: dom, projects: {{ eu-de: {PROJECT} }}{iam_extra} }}\n\
                 jobs: [{{ id: j1, status: SUCCESS }}]"
            );
            start(
                Scenario::from_yaml(&yaml).unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap()
        }

        fn client(sim: &SimHandle, password: &str) -> Arc<Client> {
            scoped_client(sim, password, Scope::ProjectName("eu-de".into()))
        }

        fn scoped_client(sim: &SimHandle, password: &str, scope: Scope) -> Arc<Client> {
            let creds = Credentials::Password {
                user: "alice".into(),
                password: Secret::new(password),
                domain: "dom".into(),
                source: "test".into(),
            };
            let iam = Some((url::Url::parse(&sim.base_url()).unwrap(), scope));
            Arc::new(
                Client::new(
                    creds,
                    PROJECT.to_owned(),
                    ClientOptions {
                        iam,
                        ..ClientOptions::default()
                    },
                )
                .unwrap(),
            )
        }

        async fn get_concurrently(
            client: &Arc<Client>,
            sim: &SimHandle,
            n: usize,
        ) -> Vec<Result<(), FetchError>> {
            let url = url::Url::parse(&format!("{}/v1/{PROJECT}/jobs/j1", sim.base_url())).unwrap();
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (client, url) = (client.clone(), url.clone());
                    tokio::spawn(async move {
                        client
                            .get_job(
                                &url,
                                |b| crate::cloud::service::Shape::Classic.parse(b),
                                std::time::Duration::from_secs(10),
                            )
                            .await
                            .map(|_| ())
                    })
                })
                .collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        }

        #[tokio::test]
        async fn one_token_serves_concurrent_requests() {
            let sim = sim("").await;
            let client = client(&sim, "pw");
            let results = get_concurrently(&client, &sim, 20).await;
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            let stats = sim.stats();
            assert_eq!(
                stats.tokens_issued, 1,
                "single-flight: one login for 20 requests"
            );
            assert_eq!(stats.rejected_auth, 0);
        }

        #[tokio::test]
        async fn a_token_scoped_by_project_id_serves_and_an_unknown_id_is_refused_once() {
            let known = sim("").await;
            let client = scoped_client(&known, "pw", Scope::ProjectId(PROJECT.into()));
            let results = get_concurrently(&client, &known, 3).await;
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            assert_eq!(known.stats().tokens_issued, 1);

            let other_sim = sim("").await;
            let other = "fedcba9876543210fedcba9876543210";
            let client = scoped_client(&other_sim, "pw", Scope::ProjectId(other.into()));
            let results = get_concurrently(&client, &other_sim, 3).await;
            for r in &results {
                let err = r.as_ref().unwrap_err();
                assert!(
                    err.to_string()
                        .contains("project in the token scope does not exist"),
                    "{err}"
                );
            }
            assert_eq!(other_sim.stats().tokens_issued, 0);
            assert_eq!(
                other_sim.stats().rejected_auth,
                1,
                "IAM asked once, not per job"
            );
        }

        #[tokio::test]
        async fn a_rejected_token_is_renewed_once_not_in_a_loop() {
            // Every token is refused at once: the request renews once, then gives up with 401.
            let sim = sim(", revoke_after: 0s").await;
            let client = client(&sim, "pw");
            let results = get_concurrently(&client, &sim, 1).await;
            assert!(
                matches!(results[0], Err(FetchError::Http { status: 401, .. })),
                "{results:?}"
            );
            assert_eq!(
                sim.stats().tokens_issued,
                2,
                "the first token and one renewal"
            );
            assert_eq!(sim.stats().rejected_auth, 2);
        }

        #[tokio::test]
        async fn a_wrong_password_is_tried_once_and_never_echoed() {
            let sim = sim("").await;
            let client = client(&sim, "WRONGPASSWORD");
            let results = get_concurrently(&client, &sim, 10).await;
            for r in &results {
                let err = r.as_ref().unwrap_err();
                assert!(
                    err.to_string().contains("username or password is wrong"),
                    "{err}"
                );
                assert!(!err.to_string().contains("WRONGPASSWORD"));
            }
            assert_eq!(
                sim.stats().rejected_auth,
                1,
                "IAM locks users after failed logins: ask once"
            );
            assert_eq!(sim.stats().tokens_issued, 0);
        }

        #[tokio::test]
        async fn project_discovery_with_a_token_and_with_aksk() {
            let sim = sim("").await;
            let iam = url::Url::parse(&sim.base_url()).unwrap();
            assert_eq!(
                client(&sim, "pw")
                    .discover_project(&iam, "eu-de", TIMEOUT)
                    .await
                    .unwrap(),
                PROJECT
            );
            let err = client(&sim, "pw")
                .discover_project(&iam, "eu-nl", TIMEOUT)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("no project named eu-nl"), "{err}");

            let yaml = format!(
                "project_id: {PROJECT}\nauth: {{ ak: AK1, sk: SK1 }}\niam: {{ user: u, password: p, domain: d, projects: {{ eu-de: {PROJECT} }} }}\n\
                 jobs: [{{ id: j1, status: SUCCESS }}]"
            );
            let signed = start(
                Scenario::from_yaml(&yaml).unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap();
            let creds = Credentials::AkSk {
                ak: Secret::new("AK1"),
                sk: Secret::new("SK1"),
                security_token: None,
                source: "test".into(),
            };
            let aksk = Client::new(creds, String::new(), ClientOptions::default()).unwrap();
            let iam = url::Url::parse(&signed.base_url()).unwrap();
            assert_eq!(
                aksk.discover_project(&iam, "eu-de", TIMEOUT).await.unwrap(),
                PROJECT
            );
            assert_eq!(signed.stats().rejected_auth, 0);
        }

        /// A Kubernetes secret rotated under a running wait: the credentials in use are refused,
        /// the `*_FILE` files hold new ones, and they are read once more before giving up.
        #[tokio::test]
        async fn rotated_file_credentials_are_read_once_more_after_a_401() {
            let yaml = format!(
                "project_id: {PROJECT}\nauth: {{ ak: AKNEW, sk: SKNEW }}\njobs: [{{ id: j1, status: SUCCESS }}]"
            );
            let sim = start(
                Scenario::from_yaml(&yaml).unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let (ak, sk) = (dir.path().join("ak"), dir.path().join("sk"));
            std::fs::write(&ak, "AKNEW\n").unwrap();
            std::fs::write(&sk, "SKNEW\n").unwrap();
            let env = crate::environment::Environment::from_pairs([
                ("HUAWEICLOUD_SDK_AK_FILE", ak.display().to_string()),
                ("HUAWEICLOUD_SDK_SK_FILE", sk.display().to_string()),
            ]);
            let old = Credentials::AkSk {
                ak: Secret::new("AKOLD"),
                sk: Secret::new("SKOLD"),
                security_token: None,
                source: "HUAWEICLOUD_SDK_AK/SK".into(),
            };
            let options = ClientOptions {
                reload_from: Some(env),
                ..ClientOptions::default()
            };
            let client = Client::new(old, PROJECT.to_owned(), options).unwrap();
            let url = url::Url::parse(&format!("{}/v1/{PROJECT}/jobs/j1", sim.base_url())).unwrap();
            let job = client
                .get_job(
                    &url,
                    |b| crate::cloud::service::Shape::Classic.parse(b),
                    TIMEOUT,
                )
                .await
                .unwrap();
            assert_eq!(job.status, crate::cloud::wire::JobStatus::Success);
            assert_eq!(
                sim.stats().rejected_auth,
                1,
                "one refusal, then the new key"
            );

            // Files that still hold refused credentials: one more try at most, then rejected.
            std::fs::write(&sk, "SKWRONG\n").unwrap();
            let stale = Client::new(
                Credentials::AkSk {
                    ak: Secret::new("AKNEW"),
                    sk: Secret::new("SKWRONG"),
                    security_token: None,
                    source: "HUAWEICLOUD_SDK_AK/SK".into(),
                },
                PROJECT.to_owned(),
                ClientOptions {
                    reload_from: Some(crate::environment::Environment::from_pairs([
                        ("HUAWEICLOUD_SDK_AK_FILE", ak.display().to_string()),
                        ("HUAWEICLOUD_SDK_SK_FILE", sk.display().to_string()),
                    ])),
                    ..ClientOptions::default()
                },
            )
            .unwrap();
            let err = stale
                .get_job(
                    &url,
                    |b| crate::cloud::service::Shape::Classic.parse(b),
                    TIMEOUT,
                )
                .await
                .unwrap_err();
            assert!(matches!(err, FetchError::Http { status: 401, .. }), "{err}");
            assert_eq!(
                sim.stats().rejected_auth,
                2,
                "unchanged files are not tried again"
            );
        }
    }
}
