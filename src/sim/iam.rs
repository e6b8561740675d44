//! The simulator's IAM: `POST /v3/auth/tokens` (password method) issues tokens that expire after
//! the scenario's `token_ttl`, and `GET /v3/projects?name=` resolves a project name (a region)
//! to its id — enough for the client's token lifecycle (fetch, share, renew before expiry and
//! once on a 401) and its project discovery to be tested against a real socket.
//!
//! A token is scoped to a project by id or by name, as IAM takes either; a project the
//! scenario's `projects` does not list is refused with a 401 like IAM's, so a client that
//! scopes by the wrong id or name fails here as it would against the cloud. (A scenario with
//! no `projects` at all accepts any scope: it only tests the token lifecycle.)
//!
//! The scenario's `iam:` section (`Iam`: the user, the projects, the token lifetimes) is data,
//! defined and validated in `scenario`; this module is what the endpoints do with it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::scenario::Iam;
use super::timeline::format_time;

/// Tokens issued so far and when each expires.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Instant>>,
}

/// Whether a presented token is one of ours.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid,
    Expired,
    Unknown,
}

impl Tokens {
    pub(crate) fn check(&self, token: &str) -> TokenCheck {
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        match issued.get(token) {
            Some(expires) if Instant::now() < *expires => TokenCheck::Valid,
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.issued
            .lock()
            .map(|m| m.len() as u64)
            .unwrap_or_default()
    }

    /// Handles `POST /v3/auth/tokens`: `Ok((token, body))` for a 201, `Err(body)` for a 401.
    pub(crate) fn issue(&self, iam: &Iam, request: &[u8]) -> Result<(String, Value), Value> {
        let unauthorized = |message: &str| json!({"error": {"code": 401, "message": message, "title": "Unauthorized"}});
        let body: Value = serde_json::from_slice(request)
            .map_err(|_| unauthorized("The request body is not JSON."))?;
        let identity = &body["auth"]["identity"];
        let user = &identity["password"]["user"];
        let methods_ok = identity["methods"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "password"));
        let matches = methods_ok
            && user["name"] == iam.user.as_str()
            && user["password"] == iam.password.expose()
            && user["domain"]["name"] == iam.domain.as_str();
        if !matches {
            return Err(unauthorized("The username or password is wrong."));
        }
        let (project, project_id) = scoped_project(iam, &body["auth"]["scope"]["project"])
            .ok_or_else(|| unauthorized("The project in the token scope does not exist."))?;
        let token = format!("MII{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                Instant::now() + iam.revoke_after.unwrap_or(iam.token_ttl).min(iam.token_ttl),
            );
        let now = SystemTime::now();
        let document = json!({"token": {
            "methods": ["password"],
            "issued_at": format_time(now),
            "expires_at": format_time(now + iam.token_ttl),
            "user": {"name": iam.user, "domain": {"name": iam.domain}},
            "project": {"name": project, "id": project_id},
        }});
        Ok((token, document))
    }
}

/// The project a token request is scoped to (`{"id": …}` or `{"name": …}`), as its name and
/// id; `None` when the scenario lists projects and this is not one of them.
fn scoped_project(iam: &Iam, scope: &Value) -> Option<(String, Option<String>)> {
    let by_id = scope["id"].as_str();
    let by_name = scope["name"].as_str();
    let found = iam.projects.iter().find(|(name, id)| match by_id {
        Some(want) => want == id.as_str(),
        None => by_name == Some(name.as_str()),
    });
    match found {
        Some((name, id)) => Some((name.clone(), Some(id.clone()))),
        None if iam.projects.is_empty() => Some((by_name.unwrap_or_default().to_owned(), None)),
        None => None,
    }
}

/// `GET /v3/projects?name=X` → the documented list shape.
pub(crate) fn projects(iam: &Iam, query: Option<&str>) -> Value {
    let name = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("name="))
        .map(|n| {
            percent_encoding::percent_decode_str(n)
                .decode_utf8_lossy()
                .into_owned()
        });
    let list: Vec<Value> = iam
        .projects
        .iter()
        .filter(|(n, _)| name.as_deref().is_none_or(|want| want == n.as_str()))
        .map(|(n, id)| json!({"id": id, "name": n, "enabled": true, "domain_id": "d0000000000000000000000000000000"}))
        .collect();
    json!({"projects": list, "links": {"self": "/v3/projects"}})
}
