//! The API gateway's side of AK/SK signing: the simulator checks each signed request the way
//! the real gateway does, so that a request the cloud would refuse is refused here too.
//!
//! It lives with the simulator because nothing else receives signed requests: jobwait itself only
//! signs. The signature is recomputed by the signer's own code (the crate-private
//! `RequestParts::sign` in [`crate::cloud::signer`], the one path [`signer::sign`] takes), over
//! exactly the headers the request says it signed; what is checked here is the rest of the
//! gateway's rules: the `Authorization` syntax, required headers, the clock and the access key.

use std::time::{Duration, SystemTime};

use crate::cloud::signer::{self, header_value, RequestParts, ALGORITHM, DATE_HEADER, HOST_HEADER};
use crate::secret::Secret;

/// Max accepted clock difference when verifying (the real API: 15 minutes).
pub(super) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why the gateway (here: the simulator) refuses a request. Never carries the SK.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum VerifyError {
    #[error("missing Authorization header")]
    MissingAuthorization,
    #[error("malformed Authorization header (expected `{ALGORITHM} Access=..., SignedHeaders=..., Signature=...`)")]
    MalformedAuthorization,
    #[error("unknown access key {0:?}")]
    UnknownAccessKey(String),
    #[error("missing or malformed X-Sdk-Date header (expected YYYYMMDDTHHMMSSZ)")]
    MissingDate,
    #[error("X-Sdk-Date is more than 15 minutes away from the server clock")]
    ClockSkew,
    #[error("host and x-sdk-date must both be among SignedHeaders")]
    UnsignedRequiredHeader,
    #[error("signature mismatch")]
    SignatureMismatch,
}

/// Checks the Authorization header of a request and returns its access key.
///
/// The signature is recomputed over exactly the headers listed in SignedHeaders (looked up in
/// `headers` case-insensitively); host and x-sdk-date must be among them, and the date must be
/// within [`MAX_SKEW`] of `now`.
pub(super) fn verify(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
    lookup_sk: impl Fn(&str) -> Option<Secret>,
    now: SystemTime,
) -> Result<String, VerifyError> {
    let auth = header_value(headers, "authorization").ok_or(VerifyError::MissingAuthorization)?;
    let auth = parse_authorization(auth)?;
    let names: Vec<String> = auth.signed_headers.split(';').map(str::to_owned).collect();
    let listed = |wanted: &str| names.iter().any(|n| n.eq_ignore_ascii_case(wanted));
    if !listed(HOST_HEADER) || !listed(DATE_HEADER) {
        return Err(VerifyError::UnsignedRequiredHeader);
    }
    let date = header_value(headers, DATE_HEADER).ok_or(VerifyError::MissingDate)?;
    let sent_at = signer::parse_sdk_date(date).ok_or(VerifyError::MissingDate)?;
    if !within_skew(sent_at, now) {
        return Err(VerifyError::ClockSkew);
    }
    let sk = lookup_sk(auth.access)
        .ok_or_else(|| VerifyError::UnknownAccessKey(auth.access.to_owned()))?;
    let req = RequestParts {
        method,
        path,
        query,
        headers,
        body,
    };
    // The signer's own computation, over the names the client listed.
    let expected = req.sign(&names, date, auth.access, &sk);
    if constant_time_eq(expected.signature.as_bytes(), auth.signature.as_bytes()) {
        Ok(auth.access.to_owned())
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

struct Authorization<'a> {
    access: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
fn parse_authorization(value: &str) -> Result<Authorization<'_>, VerifyError> {
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or(VerifyError::MalformedAuthorization)?;
    let (mut access, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, val) = part
            .trim()
            .split_once('=')
            .ok_or(VerifyError::MalformedAuthorization)?;
        let slot = match key {
            "Access" => &mut access,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(VerifyError::MalformedAuthorization),
        };
        if slot.replace(val).is_some() || val.is_empty() {
            return Err(VerifyError::MalformedAuthorization);
        }
    }
    match (access, signed_headers, signature) {
        (Some(access), Some(signed_headers), Some(signature)) => Ok(Authorization {
            access,
            signed_headers,
            signature,
        }),
        _ => Err(VerifyError::MalformedAuthorization),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn within_skew(sent_at: SystemTime, now: SystemTime) -> bool {
    let diff = now
        .duration_since(sent_at)
        .or_else(|_| sent_at.duration_since(now))
        .unwrap_or(Duration::MAX);
    diff <= MAX_SKEW
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::cloud::signer::{parse_sdk_date, sdk_date, sign};

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signing-vectors.json"
    ));
    const AK: &str = "AKTESTKEY";
    const SK: &str = "SKTESTSECRET";
    const PATH: &str = "/v1/0123456789abcdef0123456789abcdef/jobs/ff80808288d41e1b018a0b1c2d3e4f50";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_736_937_000)
    }

    fn lookup(ak: &str) -> Option<Secret> {
        (ak == AK).then(|| Secret::new(SK))
    }

    /// A request as the client sends it: headers plus the Authorization from sign().
    struct Request {
        method: &'static str,
        path: String,
        query: Option<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Request {
        fn signed(sk: &str) -> Self {
            let mut req = Request {
                method: "POST",
                path: PATH.to_owned(),
                query: Some("limit=10&offset=0".to_owned()),
                headers: vec![
                    ("X-Sdk-Date".into(), sdk_date(now())),
                    ("Host".into(), "ecs.eu-de.otc.t-systems.com".into()),
                    (
                        "X-Project-Id".into(),
                        "0123456789abcdef0123456789abcdef".into(),
                    ),
                    ("Content-Type".into(), "application/json".into()),
                ],
                body: br#"{"a":1}"#.to_vec(),
            };
            let signed = sign(
                req.method,
                &req.path,
                req.query.as_deref(),
                &req.header_refs(),
                &req.body,
                AK,
                &Secret::new(sk),
            );
            req.headers
                .push(("Authorization".into(), signed.authorization));
            req
        }

        fn header_refs(&self) -> Vec<(&str, &str)> {
            self.headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect()
        }

        fn set_header(&mut self, name: &str, value: &str) {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            self.headers.push((name.to_owned(), value.to_owned()));
        }

        fn verify_at(&self, now: SystemTime) -> Result<String, VerifyError> {
            verify(
                self.method,
                &self.path,
                self.query.as_deref(),
                &self.header_refs(),
                &self.body,
                lookup,
                now,
            )
        }

        fn verify(&self) -> Result<String, VerifyError> {
            self.verify_at(now())
        }
    }

    #[test]
    fn official_vectors_pass_verification() {
        let doc: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let when = parse_sdk_date(doc["inputs"]["x_sdk_date"].as_str().unwrap()).unwrap();
        for v in doc["vectors"].as_array().unwrap() {
            let url = url::Url::parse(v["url"].as_str().unwrap()).unwrap();
            let headers: Vec<(&str, &str)> = v["sent_headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str().unwrap()))
                .collect();
            let body = v["body"].as_str().unwrap_or("");
            let result = verify(
                v["method"].as_str().unwrap(),
                url.path(),
                url.query(),
                &headers,
                body.as_bytes(),
                lookup,
                when,
            );
            assert_eq!(result, Ok(AK.to_owned()), "{}", v["title"]);
        }
    }

    #[test]
    fn verify_accepts_what_sign_produces() {
        assert_eq!(Request::signed(SK).verify(), Ok(AK.to_owned()));
    }

    #[test]
    fn verify_accepts_skew_up_to_fifteen_minutes() {
        let req = Request::signed(SK);
        assert!(req.verify_at(now() + MAX_SKEW).is_ok());
        assert!(req.verify_at(now() - MAX_SKEW).is_ok());
    }

    #[test]
    fn verify_rejects_date_sixteen_minutes_off() {
        let req = Request::signed(SK);
        let sixteen = Duration::from_secs(16 * 60);
        assert_eq!(req.verify_at(now() + sixteen), Err(VerifyError::ClockSkew));
        assert_eq!(req.verify_at(now() - sixteen), Err(VerifyError::ClockSkew));
    }

    #[test]
    fn verify_rejects_tampered_path() {
        let mut req = Request::signed(SK);
        req.path = req.path.replace("/jobs/", "/jobs/0");
        assert_eq!(req.verify(), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn verify_rejects_tampered_query_and_body() {
        let mut req = Request::signed(SK);
        req.query = Some("limit=11&offset=0".into());
        assert_eq!(req.verify(), Err(VerifyError::SignatureMismatch));
        let mut req = Request::signed(SK);
        req.body.push(b' ');
        assert_eq!(req.verify(), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn verify_rejects_tampered_signed_header() {
        let mut req = Request::signed(SK);
        req.set_header("x-project-id", "ffffffffffffffffffffffffffffffff");
        assert_eq!(req.verify(), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn verify_ignores_unsigned_extra_headers() {
        let mut req = Request::signed(SK);
        req.set_header("User-Agent", "something");
        assert_eq!(req.verify(), Ok(AK.to_owned()));
    }

    #[test]
    fn verify_rejects_wrong_sk() {
        let req = Request::signed("SKWRONGSECRET");
        assert_eq!(req.verify(), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn verify_rejects_unknown_ak() {
        let req = Request::signed(SK);
        let result = verify(
            req.method,
            &req.path,
            req.query.as_deref(),
            &req.header_refs(),
            &req.body,
            |_| None,
            now(),
        );
        assert_eq!(result, Err(VerifyError::UnknownAccessKey(AK.to_owned())));
    }

    #[test]
    fn verify_rejects_missing_authorization() {
        let mut req = Request::signed(SK);
        req.headers.retain(|(n, _)| n != "Authorization");
        assert_eq!(req.verify(), Err(VerifyError::MissingAuthorization));
    }

    #[test]
    fn verify_rejects_garbled_authorization() {
        let sig = "a".repeat(64);
        for garbled in [
            String::new(),
            "garbage".to_owned(),
            format!("AWS4-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={sig}"),
            format!("SDK-HMAC-SHA256Access={AK}, SignedHeaders=host;x-sdk-date, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date"),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature="),
            format!("SDK-HMAC-SHA256 Access={AK} SignedHeaders=host;x-sdk-date Signature={sig}"),
            format!(
                "SDK-HMAC-SHA256 Access={AK}, Access={AK}, SignedHeaders=host, Signature={sig}"
            ),
            format!("SDK-HMAC-SHA256 Access={AK}, Foo=bar, SignedHeaders=host, Signature={sig}"),
        ] {
            let mut req = Request::signed(SK);
            req.set_header("Authorization", &garbled);
            assert_eq!(
                req.verify(),
                Err(VerifyError::MalformedAuthorization),
                "{garbled:?}"
            );
        }
    }

    #[test]
    fn verify_rejects_signed_headers_without_host() {
        let mut req = Request::signed(SK);
        req.headers.retain(|(n, _)| n != "Host");
        let signed = sign(
            req.method,
            &req.path,
            req.query.as_deref(),
            &req.header_refs(),
            &req.body,
            AK,
            &Secret::new(SK),
        );
        assert!(!signed.signed_headers.contains("host"));
        req.set_header("Authorization", &signed.authorization);
        req.set_header("Host", "ecs.eu-de.otc.t-systems.com");
        assert_eq!(req.verify(), Err(VerifyError::UnsignedRequiredHeader));
    }

    #[test]
    fn verify_rejects_missing_or_bad_date() {
        let mut req = Request::signed(SK);
        req.set_header("X-Sdk-Date", "yesterday");
        assert_eq!(req.verify(), Err(VerifyError::MissingDate));
        req.headers.retain(|(n, _)| n != "X-Sdk-Date");
        assert_eq!(req.verify(), Err(VerifyError::MissingDate));
    }

    #[test]
    fn verify_error_display_never_shows_the_sk() {
        let errors = [
            VerifyError::MissingAuthorization,
            VerifyError::MalformedAuthorization,
            VerifyError::UnknownAccessKey(AK.to_owned()),
            VerifyError::MissingDate,
            VerifyError::ClockSkew,
            VerifyError::UnsignedRequiredHeader,
            VerifyError::SignatureMismatch,
        ];
        for e in errors {
            assert!(!e.to_string().contains(SK), "{e}");
            assert!(!format!("{e:?}").contains(SK), "{e:?}");
        }
        let wrong = Request::signed("SKWRONGSECRET").verify().unwrap_err();
        assert!(!wrong.to_string().contains(SK));
    }
}
