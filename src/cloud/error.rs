//! What can go wrong with one request, classified once ([`FetchError::class`]) so that the
//! engine decides on classes, never on status codes or bodies; and how a transport failure from
//! reqwest becomes one of these (certificate failures and requests that could not be built are
//! permanent; DNS, refused or reset connections and timeouts are worth another try).
//!
//! A few API codes get a hint after the server's own words (`hint`): their messages name the
//! symptom ("tenantId in token is not the same with in URL.") and not the setting to change.

use std::error::Error as _;
use std::time::Duration;

use super::wire::ApiErrorBody;
use crate::sanitize::{cap, MAX_TEXT};

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
    /// No connection: DNS, refused, reset before a response, a TLS handshake that failed, a
    /// connection that could not be set up in time.
    #[error("network error: {0}")]
    Transport(String),
    /// Connected, but no answer in time (a slow or hung reply): the host is there.
    #[error("network error: {0}")]
    Timeout(String),
    #[error("HTTP {status}{}{}", .error.as_ref().map(|e| format!(": {e}")).unwrap_or_default(), hint(.error.as_ref()))]
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
    /// A well-formed answer that holds no such job (GeminiDB's empty task list): an unknown
    /// id, as a service's 404 is.
    #[error("{0}")]
    Absent(String),
    /// Anything else retrying cannot fix (a certificate error, a value HTTP cannot carry, an
    /// unknown project).
    #[error("{0}")]
    Permanent(String),
}

impl FetchError {
    pub fn class(&self) -> ErrorClass {
        match self {
            FetchError::Transport(_) | FetchError::Timeout(_) | FetchError::Garbled { .. } => {
                ErrorClass::Retryable
            }
            FetchError::Absent(_) => ErrorClass::NotFound,
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
                    // The database task center (RDS, DDS): "DBS.200543, 400, The job does not
                    // exist." (RDS API reference, Appendix "Error Codes", en-us_topic_0032488241).
                    400 if code == "DBS.200543" => ErrorClass::NotFound,
                    // A service's own 404 for an id it does not know (below) includes CBR's
                    // "BackupService.6500, 404, The operation log does not exist." and SFS
                    // Turbo's "SFS.TURBO.0019, 404, Invalid Job Id".
                    // 404 from the gateway itself means a wrong host or path, not a missing job.
                    404 if code.starts_with("APIG") || error.is_none() => ErrorClass::Fatal,
                    // A service's own 404: ECS's `Ecs.0011`, and CCE's "CCE.01404001, 404,
                    // Resource not found." for a job id it does not know (CCE API reference,
                    // "Error Codes", cce_02_0250), in its `{"errorCode","errorMessage"}` form.
                    404 => ErrorClass::NotFound,
                    _ => ErrorClass::Fatal,
                }
            }
        }
    }

    /// The server's `Retry-After`, when it sent one (capped at [`MAX_RETRY_AFTER`](super::http::MAX_RETRY_AFTER)).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the server answered at all (the host's pace learns from answers).
    pub fn answered(&self) -> bool {
        !matches!(self, FetchError::Transport(_) | FetchError::Timeout(_))
    }

    /// Whether a connection to the host was made (a slow reply still reached it; a refused
    /// connection or a failed DNS lookup did not).
    pub fn reached(&self) -> bool {
        !matches!(self, FetchError::Transport(_))
    }
}

/// What to check for an API error code whose message does not say, appended to the error's text
/// (empty for every other code, whose text is left as it was).
fn hint(error: Option<&ApiErrorBody>) -> &'static str {
    match error.and_then(|e| e.code.as_deref()) {
        // The token was issued for one project and the URL names another: a token scoped by
        // another name than the project the id belongs to, or a JOBWAIT_TOKEN from elsewhere.
        Some("Common.0018") => {
            " — the token is scoped to another project than project_id in the job URL \
             (Common.0018): check project_id / project_name"
        }
        _ => "",
    }
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
    // A connect timeout never reached the host; any other timeout is a slow reply.
    if e.is_timeout() && !e.is_connect() {
        return FetchError::Timeout(text);
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
                http(
                    400,
                    r#"{"error_code":"DBS.200543","error_msg":"The job does not exist."}"#,
                ),
                NotFound,
            ),
            (
                http(
                    400,
                    r#"{"error_code":"DBS.200001","error_msg":"Parameter error."}"#,
                ),
                Fatal,
            ),
            (
                http(404, r#"{"error_code":"APIG.0101","error_msg":"no api"}"#),
                Fatal,
            ),
            (
                http(
                    404,
                    r#"{"errorCode":"CCE.01404001","errorMessage":"Resource not found."}"#,
                ),
                NotFound,
            ),
            (
                http(
                    404,
                    r#"{"errorCode":"APIG.0101","errorMessage":"The API does not exist"}"#,
                ),
                Fatal,
            ),
            (
                http(
                    401,
                    r#"{"errorCode":"CCE.01401001","errorMessage":"Authorization failed."}"#,
                ),
                CredentialsRejected,
            ),
            (
                http(
                    400,
                    r#"{"errorCode":"CCE.01400001","errorMessage":"Invalid request."}"#,
                ),
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
        let mismatch = http(
            403,
            r#"{"error":{"message":"tenantId in token is not the same with in URL.","code":"Common.0018"}}"#,
        );
        assert_eq!(
            mismatch.to_string(),
            "HTTP 403: Common.0018: tenantId in token is not the same with in URL. — the token is \
             scoped to another project than project_id in the job URL (Common.0018): check \
             project_id / project_name"
        );
        assert_eq!(mismatch.class(), ErrorClass::Fatal);
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
}
