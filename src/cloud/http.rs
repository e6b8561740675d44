//! The edge of an HTTP answer, shared by the job client and IAM: the one reqwest client both
//! use (redirects never followed: the APIs do not redirect, and a credential must not travel to
//! another host), bodies read up to a limit, and `Retry-After` capped.
//!
//! The client keeps reqwest's system proxy on purpose (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`): CI runners and corporate networks often reach the cloud only through one, and an
//! `https` request crosses it inside a `CONNECT` tunnel. `tests/it/proxy.rs` holds it to that.

use std::time::Duration;

use bytes::Bytes;

use super::error::{transport_error, FetchError};

/// The largest response body read by default. A 500-server batch job is about 100 KB.
pub const DEFAULT_MAX_BODY: u64 = 4 << 20;

/// The longest `Retry-After` honoured: a server asking for more is asked again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The HTTP client every request goes through. `tls`: whether any endpoint is `https` (the root
/// certificates — the system's, honouring `SSL_CERT_FILE` / `SSL_CERT_DIR`, and the bundled ones
/// for systems without any — are loaded only then).
pub fn client(tls: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("jobwait/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(tls)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
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

/// `Retry-After` in seconds, capped at [`MAX_RETRY_AFTER`] (the HTTP-date form is rare for
/// APIs; ignored).
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
