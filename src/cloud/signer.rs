//! AK/SK request signing (`SDK-HMAC-SHA256`) as done by the official Huawei Cloud SDKs.
//!
//! The API gateway recomputes the signature from the request it receives and rejects anything that
//! differs by a single byte, so [`sign`] reproduces the official signer byte for byte (checked
//! against vectors produced by `huaweicloudsdkcore`). [`verify`] is the gateway's side of the same
//! computation; the simulator uses it to reject requests the real API would reject.
//!
//! The secret key only ever enters the HMAC: it is in no intermediate string, error or `Debug`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Max accepted clock difference when verifying (the real API: 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The Gregorian calendar repeats exactly every 400 years (146,097 days, leap days included), so
/// [`sdk_date`] and [`parse_sdk_date`] can move any date into humantime's range and back.
const GREGORIAN_CYCLE_YEARS: i64 = 400;
const GREGORIAN_CYCLE_SECS: i64 = 146_097 * 86_400;

const DATE_HEADER: &str = "x-sdk-date";
const HOST_HEADER: &str = "host";

/// Everything but the RFC 3986 unreserved characters gets `%XX` (uppercase hex).
const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Everything the signing produced; the intermediate strings are kept so tests and `-vv` debugging
/// can show them (none contains the SK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signed_headers: String,
    pub signature: String,
    pub authorization: String,
}

/// Why the gateway (here: the simulator) refuses a request. Never carries the SK.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
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

/// Signs a request the way the official SDKs do.
///
/// `path` is the URL path as sent (percent-encoded), `query` the raw query string without `?`
/// (None or "" when absent). `headers` are all headers that will be sent (names in any case, not
/// including Authorization), among them X-Sdk-Date and Host; every name without `_` is signed.
pub fn sign(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
    ak: &str,
    sk: &Secret,
) -> Signed {
    let req = RequestParts {
        method,
        path,
        query,
        headers,
        body,
    };
    let names = signable_header_names(headers);
    let date = header_value(headers, DATE_HEADER).unwrap_or("");
    req.sign(&names, date, ak, sk)
}

/// Server side: checks the Authorization header of a request and returns its access key.
///
/// The signature is recomputed over exactly the headers listed in SignedHeaders (looked up in
/// `headers` case-insensitively); host and x-sdk-date must be among them, and the date must be
/// within [`MAX_SKEW`] of `now`.
pub fn verify(
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
    let sent_at = parse_sdk_date(date).ok_or(VerifyError::MissingDate)?;
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
    let expected = req.sign(&names, date, auth.access, &sk);
    if constant_time_eq(expected.signature.as_bytes(), auth.signature.as_bytes()) {
        Ok(auth.access.to_owned())
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

/// `YYYYMMDDTHHMMSSZ` (UTC) for a time (sub-second part dropped): humantime's RFC 3339 form
/// (`2026-11-25T10:00:00Z`) without its `-` and `:`.
///
/// humantime only knows the years 1970 to 9999 (it panics before 1970), so the time is first moved
/// by whole 400-year cycles into 1970..2370 and the cycles are added back to the year.
pub fn sdk_date(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    let cycles = secs.div_euclid(GREGORIAN_CYCLE_SECS);
    let shifted = from_unix_seconds(secs - cycles * GREGORIAN_CYCLE_SECS);
    let rfc3339 = humantime::format_rfc3339_seconds(shifted).to_string();
    let year = rfc3339[..4]
        .parse::<i64>()
        .expect("humantime writes a four-digit year")
        + cycles * GREGORIAN_CYCLE_YEARS;
    format!("{year:04}{}", rfc3339[4..].replace(['-', ':'], ""))
}

/// Inverse of [`sdk_date`]; None when malformed (wrong shape or an impossible date/time).
///
/// The `-` and `:` go back in and humantime parses the result, after the year was moved by whole
/// 400-year cycles into 1970..2370 (its range starts in 1970; any year 0000 to 9999 is accepted).
pub fn parse_sdk_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 15) || c.is_ascii_digit());
    // humantime reads second 60 (a leap second) as 59; the SDK date has no leap seconds.
    if !shape_ok || &s[13..15] > "59" {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    let cycles = (year - 1970).div_euclid(GREGORIAN_CYCLE_YEARS);
    let rfc3339 = format!(
        "{:04}-{}-{}T{}:{}:{}Z",
        year - cycles * GREGORIAN_CYCLE_YEARS,
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15],
    );
    let shifted = humantime::parse_rfc3339(&rfc3339).ok()?;
    Some(from_unix_seconds(
        unix_seconds(shifted) + cycles * GREGORIAN_CYCLE_SECS,
    ))
}

/// The parts of a request that the signature covers.
struct RequestParts<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
}

impl RequestParts<'_> {
    /// The whole signing computation for a given list of (lowercase) signed header names.
    fn sign(&self, names: &[String], date: &str, ak: &str, sk: &Secret) -> Signed {
        let signed_headers = names.join(";");
        let canonical_request = format!(
            "{method}\n{uri}\n{query}\n{headers}\n{signed_headers}\n{body}",
            method = self.method,
            uri = canonical_uri(self.path),
            query = canonical_query(self.query.unwrap_or("")),
            headers = canonical_headers(self.headers, names),
            body = hex_sha256(self.body),
        );
        let string_to_sign = format!(
            "{ALGORITHM}\n{date}\n{}",
            hex_sha256(canonical_request.as_bytes())
        );
        let signature = hmac_hex(sk, &string_to_sign);
        let authorization = format!(
            "{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}"
        );
        Signed {
            canonical_request,
            string_to_sign,
            signed_headers,
            signature,
            authorization,
        }
    }
}

/// Lowercased, sorted, deduplicated names of the headers sent, minus those containing `_`
/// (gateways may drop such headers, so the SDKs never sign them).
fn signable_header_names(headers: &[(&str, &str)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| !name.contains('_'))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// First value of a header, name compared case-insensitively.
fn header_value<'a>(headers: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// `name:value\n` per signed header, values trimmed; a listed header that was not sent has an
/// empty value (and so will not match what the client signed).
fn canonical_headers(headers: &[(&str, &str)], names: &[String]) -> String {
    names
        .iter()
        .map(|name| {
            let value = header_value(headers, name).unwrap_or("").trim();
            format!("{name}:{value}\n")
        })
        .collect()
}

/// The decoded path, each segment re-encoded, always ending in `/`.
fn canonical_uri(path: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(path).collect();
    let mut uri = decoded
        .split(|b| *b == b'/')
        .map(encode_bytes)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Query pairs decoded, sorted by key then value, re-encoded and joined `k=v&...`.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODE_SET).to_string()
}

fn encode_bytes(b: &[u8]) -> String {
    percent_encoding::percent_encode(b, ENCODE_SET).to_string()
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_hex(sk: &Secret, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(sk.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
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

/// Whole seconds since the Unix epoch, rounded towards minus infinity.
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => {
            let d = e.duration();
            -(d.as_secs() as i64) - i64::from(d.subsec_nanos() > 0)
        }
    }
}

fn from_unix_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signing-vectors.json"
    ));
    const AK: &str = "AKTESTKEY";
    const SK: &str = "SKTESTSECRET";
    const PATH: &str = "/v1/0123456789abcdef0123456789abcdef/jobs/ff80808288d41e1b018a0b1c2d3e4f50";

    fn at(secs: i64) -> SystemTime {
        from_unix_seconds(secs)
    }

    fn now() -> SystemTime {
        at(1_736_937_000)
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
    fn official_vectors_match_byte_for_byte() {
        let doc: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let inputs = &doc["inputs"];
        let ak = inputs["ak"].as_str().unwrap();
        let sk = Secret::new(inputs["sk"].as_str().unwrap());
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(!vectors.is_empty());
        for v in vectors {
            let title = v["title"].as_str().unwrap();
            let url = url::Url::parse(v["url"].as_str().unwrap()).unwrap();
            let body = v["body"].as_str().unwrap_or("");
            let headers: Vec<(&str, &str)> = v["sent_headers"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("authorization"))
                .map(|(name, value)| (name.as_str(), value.as_str().unwrap()))
                .collect();
            let signed = sign(
                v["method"].as_str().unwrap(),
                url.path(),
                url.query(),
                &headers,
                body.as_bytes(),
                ak,
                &sk,
            );
            if let Some(expected) = v["canonical_request"].as_str() {
                assert_eq!(signed.canonical_request, expected, "{title}");
            }
            if let Some(expected) = v["string_to_sign"].as_str() {
                assert_eq!(signed.string_to_sign, expected, "{title}");
            }
            let expected = v["authorization"]
                .as_str()
                .or_else(|| v["sent_headers"]["Authorization"].as_str())
                .unwrap();
            assert_eq!(signed.authorization, expected, "{title}");
            assert_eq!(
                v["sent_headers"]["Authorization"].as_str(),
                Some(expected),
                "{title}"
            );
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
    fn sdk_date_known_value() {
        assert_eq!(sdk_date(at(1_736_937_000)), "20250115T103000Z");
        assert_eq!(sdk_date(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(parse_sdk_date("20250115T103000Z"), Some(at(1_736_937_000)));
    }

    #[test]
    fn sdk_date_drops_subseconds() {
        let t = at(1_736_937_000) + Duration::from_millis(999);
        assert_eq!(sdk_date(t), "20250115T103000Z");
        assert_eq!(
            sdk_date(UNIX_EPOCH - Duration::from_millis(1)),
            "19691231T235959Z"
        );
    }

    #[test]
    fn sdk_date_leap_years() {
        assert_eq!(parse_sdk_date("20240229T120000Z"), Some(at(1_709_208_000)));
        assert_eq!(sdk_date(at(1_709_208_000)), "20240229T120000Z");
        assert_eq!(sdk_date(at(951_782_400)), "20000229T000000Z");
        assert_eq!(sdk_date(at(1_709_251_199)), "20240229T235959Z");
        assert_eq!(sdk_date(at(1_709_251_200)), "20240301T000000Z");
        assert_eq!(parse_sdk_date("20250229T000000Z"), None);
        assert_eq!(parse_sdk_date("21000229T000000Z"), None);
        assert!(parse_sdk_date("20000229T000000Z").is_some());
    }

    #[test]
    fn sdk_date_round_trips() {
        let mut secs: i64 = -2_208_988_800; // 1900-01-01
        while secs < 4_102_444_800 {
            // 2100-01-01
            let t = at(secs);
            assert_eq!(parse_sdk_date(&sdk_date(t)), Some(t), "{secs}");
            secs += 86_399 * 7 + 3_601;
        }
    }

    proptest::proptest! {
        /// Every second of the years 0000 to 9999 formats to the 16-byte shape and parses back.
        #[test]
        fn sdk_date_round_trips_any_second(
            secs in -62_167_219_200i64..253_402_300_800, // 0000-01-01 .. 9999-12-31T23:59:59
            nanos in 0u32..1_000_000_000,
        ) {
            let t = at(secs);
            let text = sdk_date(t + Duration::from_nanos(u64::from(nanos)));
            proptest::prop_assert_eq!(text.len(), 16, "{}", text);
            proptest::prop_assert_eq!(parse_sdk_date(&text), Some(t), "{}", text);
        }
    }

    #[test]
    fn parse_sdk_date_rejects_malformed() {
        for bad in [
            "",
            "20250115T103000",
            "20250115 103000Z",
            "20250115T103000z",
            "2025-01-15T10:30:00Z",
            "20251315T103000Z",
            "20250100T103000Z",
            "20250132T103000Z",
            "20250115T243000Z",
            "20250115T106000Z",
            "20250115T103060Z",
            "2025011aT103000Z",
            "+0250115T103000Z",
            "20250115T103000Z ",
        ] {
            assert_eq!(parse_sdk_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn canonical_uri_reencodes_segments_and_adds_slash() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/v3/projects/"), "/v3/projects/");
        assert_eq!(canonical_uri("/a%20b/c~d/e%7Ef"), "/a%20b/c~d/e~f/");
        assert_eq!(canonical_uri("/a b/*"), "/a%20b/%2A/");
        assert_eq!(canonical_uri("/%c3%a9"), "/%C3%A9/");
    }

    #[test]
    fn canonical_query_sorts_by_key_then_value() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=2&a=1"), "a=1&a=2&b=2");
        assert_eq!(canonical_query("flag&x=a%2fb"), "flag=&x=a%2Fb");
        assert_eq!(canonical_query("q=a+b"), "q=a%20b");
    }

    #[test]
    fn header_names_with_underscore_are_not_signed() {
        let headers = [
            ("X-Sdk-Date", "20250115T103000Z"),
            ("Host", "example.com"),
            ("X_Custom_Header", "value"),
        ];
        let signed = sign("GET", "/", None, &headers, b"", AK, &Secret::new(SK));
        assert_eq!(signed.signed_headers, "host;x-sdk-date");
        assert!(!signed.canonical_request.contains("x_custom_header"));
        let without = sign("GET", "/", None, &headers[..2], b"", AK, &Secret::new(SK));
        assert_eq!(signed, without);
    }

    #[test]
    fn header_values_are_trimmed_and_names_lowercased() {
        let a = [("X-SDK-DATE", "20250115T103000Z"), ("host", " h\t")];
        let b = [("x-sdk-date", "20250115T103000Z"), ("HOST", "h")];
        let sk = Secret::new(SK);
        assert_eq!(
            sign("GET", "/", None, &a, b"", AK, &sk).signature,
            sign("GET", "/", None, &b, b"", AK, &sk).signature
        );
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

    #[test]
    fn signed_output_never_contains_the_sk() {
        let headers = [("X-Sdk-Date", "20250115T103000Z"), ("Host", "h")];
        let signed = sign("GET", "/", None, &headers, b"", AK, &Secret::new(SK));
        assert!(!format!("{signed:?}").contains(SK));
    }
}
