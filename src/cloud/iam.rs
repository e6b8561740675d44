//! IAM: password tokens and project discovery.
//!
//! One [`TokenCache`] serves every job. It fetches a token once (`POST /v3/auth/tokens`; the
//! mutex is held across the fetch, so concurrent jobs wait for that one request instead of each
//! sending their own), renews it before it expires, and drops it when the API answers 401 —
//! once per token, however many jobs saw the 401. A rejected password is remembered, not
//! retried: IAM locks users after repeated failed logins.
//!
//! A token is scoped to the project by id when the plan knows the id ([`Scope::ProjectId`]),
//! and by name only otherwise: the id is what the job URLs carry, so a token scoped by it can
//! never belong to another project than the URLs (`Common.0018`), and it needs no region to
//! name the project.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::error::{transport_error, ErrorClass, FetchError};
use super::http::read_body;
use super::wire::ApiErrorBody;
use crate::secret::Secret;

/// A password login: user, password, domain, and the project to scope the token to.
#[derive(Debug, Clone)]
pub struct PasswordLogin {
    pub user: String,
    pub password: Secret,
    pub domain: String,
    pub scope: Scope,
}

/// The project a password token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `"scope":{"project":{"id":…}}`, when the project id is known.
    ProjectId(String),
    /// `"scope":{"project":{"name":…}}`: `project_name`, else the region.
    ProjectName(String),
}

impl Scope {
    /// The `scope` object of the token request.
    fn to_json(&self) -> Value {
        match self {
            Scope::ProjectId(id) => json!({"project": {"id": id}}),
            Scope::ProjectName(name) => json!({"project": {"name": name}}),
        }
    }
}

/// The shared token.
#[derive(Debug)]
pub struct TokenCache {
    tokens_url: Url,
    login: PasswordLogin,
    state: Mutex<State>,
    /// The largest IAM answer read.
    max_body: u64,
    /// Generations only grow, so a late 401 for an old token can never drop a newer one.
    generations: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
enum State {
    Empty,
    Ready {
        token: Secret,
        renew_at: Instant,
        generation: u64,
    },
    /// IAM rejected the login for good (401/403/400): not asked again.
    Rejected(FetchError),
}

impl TokenCache {
    pub fn new(iam_base: &Url, login: PasswordLogin, max_body: u64) -> TokenCache {
        let mut tokens_url = iam_base.clone();
        if let Ok(mut s) = tokens_url.path_segments_mut() {
            s.pop_if_empty().extend(["v3", "auth", "tokens"]);
        }
        TokenCache {
            tokens_url,
            login,
            state: Mutex::new(State::Empty),
            max_body,
            generations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A valid token and its generation (to pass to [`TokenCache::invalidate`]); a login takes
    /// at most `timeout`.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(Secret, u64), FetchError> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Ready {
                token,
                renew_at,
                generation,
            } if Instant::now() < *renew_at => {
                return Ok((token.clone(), *generation));
            }
            State::Rejected(err) => return Err(err.clone()),
            State::Ready { .. } | State::Empty => {}
        }
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        match self.fetch(http, timeout).await {
            Ok((token, ttl)) => {
                tracing::info!(ttl = ?ttl, "IAM token obtained");
                *state = State::Ready {
                    token: token.clone(),
                    renew_at: Instant::now() + renew_after(ttl),
                    generation,
                };
                Ok((token, generation))
            }
            Err(err) => {
                if matches!(
                    err.class(),
                    ErrorClass::Fatal | ErrorClass::CredentialsRejected
                ) {
                    *state = State::Rejected(err.clone());
                }
                Err(err)
            }
        }
    }

    /// Forgets the token of `generation` after a 401, unless it was already renewed.
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if matches!(&*state, State::Ready { generation: g, .. } if *g == generation) {
            tracing::info!("IAM token rejected by the API; renewing it");
            *state = State::Empty;
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(Secret, Duration), FetchError> {
        let l = &self.login;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": l.user, "password": l.password.expose(), "domain": {"name": l.domain}}}},
            "scope": l.scope.to_json(),
        }});
        let response = http
            .post(self.tokens_url.clone())
            .header("content-type", "application/json;charset=utf8")
            .body(serde_json::to_vec(&body).expect("JSON serializes"))
            .timeout(timeout)
            .send()
            .await
            .map_err(transport_error)?;
        if response.status().is_redirection() {
            return Err(FetchError::Redirect {
                status: response.status().as_u16(),
                location: None,
            });
        }
        let status = response.status().as_u16();
        let token = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_body(response, self.max_body).await?;
        match (status, token) {
            (200..=299, Some(token)) => Ok((Secret::new(token), token_ttl(&bytes))),
            (200..=299, None) => Err(FetchError::Garbled {
                status,
                message: "IAM sent no X-Subject-Token".into(),
            }),
            _ => Err(FetchError::Http {
                status,
                error: ApiErrorBody::parse(&bytes),
                retry_after: None,
            }),
        }
    }
}

/// A token's lifetime, from its own `expires_at - issued_at` (immune to clock skew); 24 h, the
/// documented validity, when the body does not say, and never more than that (a lifetime from
/// the network must not push the renewal past what an `Instant` can hold).
fn token_ttl(body: &[u8]) -> Duration {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    let time = |key: &str| {
        value["token"][key]
            .as_str()
            .and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
    };
    match (time("issued_at"), time("expires_at")) {
        (Some(issued), Some(expires)) => expires
            .duration_since(issued)
            .unwrap_or_default()
            .min(MAX_TOKEN_TTL),
        _ => MAX_TOKEN_TTL,
    }
}

/// IAM tokens are valid 24 hours.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Renew a fifth of the lifetime before the end (at most 10 minutes before).
fn renew_after(ttl: Duration) -> Duration {
    ttl.saturating_sub((ttl / 5).min(Duration::from_secs(600)))
}

/// The id of the one project IAM lists under `name` (`project_name` or the region), from `GET /v3/projects?name=`.
pub fn project_id_from(name: &str, body: &[u8]) -> Result<String, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("IAM project list is not JSON: {e}"))?;
    let ids: Vec<&str> = value["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .filter_map(|p| p["id"].as_str())
        .collect();
    match ids.as_slice() {
        // It becomes a path segment of every job URL, like a project id from the spec.
        [id] if !super::endpoint::is_project_id(id) => Err(format!(
            "IAM's project {name} has an id that is not a project id ({}): set project_id",
            super::endpoint::PROJECT_ID_RULE
        )),
        [id] => Ok((*id).to_owned()),
        [] => Err(format!("IAM knows no project named {name}: set project_id")),
        _ => Err(format!(
            "IAM lists {} projects named {name}: set project_id",
            ids.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_project_id_when_known_else_its_name() {
        assert_eq!(
            Scope::ProjectId("p1".into()).to_json(),
            json!({"project": {"id": "p1"}})
        );
        assert_eq!(
            Scope::ProjectName("eu-de_sub".into()).to_json(),
            json!({"project": {"name": "eu-de_sub"}})
        );
    }

    #[test]
    fn ttl_from_the_token_body_and_renewal_margin() {
        let body = br#"{"token":{"issued_at":"2026-11-25T10:00:00.000000Z","expires_at":"2026-11-26T10:00:00.000000Z"}}"#;
        assert_eq!(token_ttl(body), Duration::from_secs(24 * 3600));
        assert_eq!(token_ttl(b"{}"), Duration::from_secs(24 * 3600));
        assert_eq!(
            renew_after(Duration::from_secs(24 * 3600)),
            Duration::from_secs(24 * 3600 - 600)
        );
        assert_eq!(renew_after(Duration::from_secs(10)), Duration::from_secs(8));
    }

    #[test]
    fn project_lookup_needs_exactly_one_match() {
        let body = br#"{"projects":[{"id":"p1","name":"eu-de"},{"id":"p2","name":"eu-de_sub"}]}"#;
        assert_eq!(project_id_from("eu-de", body).unwrap(), "p1");
        assert!(project_id_from("eu-nl", body)
            .unwrap_err()
            .contains("no project named eu-nl"));
        let two = br#"{"projects":[{"id":"p1","name":"x"},{"id":"p2","name":"x"}]}"#;
        assert!(project_id_from("x", two)
            .unwrap_err()
            .contains("2 projects"));
        assert!(project_id_from("x", b"<html>").is_err());
        let dots = br#"{"projects":[{"name":"eu-de","id":".."}]}"#;
        assert!(project_id_from("eu-de", dots)
            .unwrap_err()
            .contains("not a project id"));
    }
}
