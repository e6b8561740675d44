//! AK/SK request signing (`SDK-HMAC-SHA256`) as done by the official Huawei Cloud SDKs.
//!
//! The API gateway recomputes the signature from the request it receives and rejects anything that
//! differs by a single byte, so [`sign`] reproduces the official signer byte for byte (checked
//! against vectors produced by `huaweicloudsdkcore`). The gateway's side — parsing `Authorization`,
//! the clock-skew rule, comparing signatures — is the simulator's (`src/sim/verify.rs`); it
//! recomputes the signature through the same crate-private `RequestParts::sign` that [`sign`]
//! uses, so client and gateway cannot drift apart.
//!
//! The secret key only ever enters the HMAC: it is in no intermediate string, error or `Debug`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The Gregorian calendar repeats exactly every 400 years (146,097 days, leap days included), so
/// [`sdk_date`] and [`parse_sdk_date`] can move any date into humantime's range and back.
const GREGORIAN_CYCLE_YEARS: i64 = 400;
const GREGORIAN_CYCLE_SECS: i64 = 146_097 * 86_400;

pub(crate) const DATE_HEADER: &str = "x-sdk-date";
pub(crate) const HOST_HEADER: &str = "host";

/// Everything but the RFC 3986 unreserved characters gets `%XX` (uppercase hex).
const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Everything the signing produced. Requests only need `authorization`; `canonical_request` and
/// `string_to_sign` are kept for the tests, which compare them with the official vectors' (no log
/// shows them, at any verbosity). None of the strings contains the SK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signed_headers: String,
    pub signature: String,
    pub authorization: String,
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

/// `YYYYMMDDTHHMMSSZ` (UTC) for a time (sub-second part dropped): humantime's RFC 3339 form
/// (`2026-11-25T10:00:00Z`) without its `-` and `:`.
///
/// humantime only knows the years 1970 to 9999 (it panics before 1970), so the time is first moved
/// by whole 400-year cycles into 1970..2370 and the cycles are added back to the year.
pub fn sdk_date(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    let cycles = secs.div_euclid(GREGORIAN_CYCLE_SECS);
    let shifted = from_unix_seconds(secs - cycles * GREGORIAN_CYCLE_SECS);
    // `YYYY-MM-DDTHH:MM:SSZ`, written to the stack: this runs for every signed request.
    let mut rfc3339 = [0u8; 20];
    {
        use std::io::Write;
        let mut cursor = &mut rfc3339[..];
        write!(cursor, "{}", humantime::format_rfc3339_seconds(shifted))
            .expect("humantime writes 20 bytes for a year below 10000");
    }
    let year = std::str::from_utf8(&rfc3339[..4])
        .ok()
        .and_then(|y| y.parse::<i64>().ok())
        .expect("humantime writes a four-digit year")
        + cycles * GREGORIAN_CYCLE_YEARS;
    let mut out = String::with_capacity(16);
    use std::fmt::Write;
    let _ = write!(out, "{year:04}");
    out.extend(
        rfc3339[4..]
            .iter()
            .filter(|b| !matches!(b, b'-' | b':'))
            .map(|&b| char::from(b)),
    );
    out
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
pub(crate) struct RequestParts<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: &'a [u8],
}

impl RequestParts<'_> {
    /// The whole signing computation — canonical request, string to sign, HMAC — for a given list
    /// of (lowercase) signed header names: [`sign`] passes the names of the headers it sends, the
    /// simulator's verifier the names the request's `Authorization` lists.
    pub(crate) fn sign(&self, names: &[String], date: &str, ak: &str, sk: &Secret) -> Signed {
        // Built in place, one buffer per string: this runs for every poll, and the format!-per-
        // part version spent more on allocating than on hashing (callgrind, BENCHMARKS.md notes).
        let signed_headers = names.join(";");
        let mut canonical_request = String::with_capacity(
            self.method.len() + self.path.len() + signed_headers.len() + 64 * (names.len() + 2),
        );
        canonical_request.push_str(self.method);
        canonical_request.push('\n');
        push_canonical_uri(&mut canonical_request, self.path);
        canonical_request.push('\n');
        push_canonical_query(&mut canonical_request, self.query.unwrap_or(""));
        canonical_request.push('\n');
        for name in names {
            // A listed header that was not sent has an empty value (and so will not match what
            // the client signed).
            let value = header_value(self.headers, name).unwrap_or("").trim();
            canonical_request.push_str(name);
            canonical_request.push(':');
            canonical_request.push_str(value);
            canonical_request.push('\n');
        }
        canonical_request.push('\n');
        canonical_request.push_str(&signed_headers);
        canonical_request.push('\n');
        push_hex_sha256(&mut canonical_request, self.body);

        let mut string_to_sign = String::with_capacity(ALGORITHM.len() + date.len() + 2 + 64);
        string_to_sign.push_str(ALGORITHM);
        string_to_sign.push('\n');
        string_to_sign.push_str(date);
        string_to_sign.push('\n');
        push_hex_sha256(&mut string_to_sign, canonical_request.as_bytes());
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
pub(crate) fn header_value<'a>(headers: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The decoded path, each segment re-encoded, always ending in `/`.
#[cfg(test)]
fn canonical_uri(path: &str) -> String {
    let mut uri = String::new();
    push_canonical_uri(&mut uri, path);
    uri
}

/// [`canonical_uri`] appended to `out`. A path of unreserved characters and `/` only (every job
/// URL: ids are letters, digits and `-`) decodes and re-encodes to itself, so it is copied.
fn push_canonical_uri(out: &mut String, path: &str) {
    let start = out.len();
    if path
        .bytes()
        .all(|b| b == b'/' || b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        out.push_str(path);
    } else {
        let decoded: Vec<u8> = percent_decode_str(path).collect();
        for (i, segment) in decoded.split(|b| *b == b'/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.extend(percent_encoding::percent_encode(segment, ENCODE_SET));
        }
    }
    if !out[start..].ends_with('/') {
        out.push('/');
    }
}

/// Query pairs decoded, sorted by key then value, re-encoded and joined `k=v&...`.
#[cfg(test)]
fn canonical_query(query: &str) -> String {
    let mut out = String::new();
    push_canonical_query(&mut out, query);
    out
}

/// [`canonical_query`] appended to `out` (nothing for the usual empty query).
fn push_canonical_query(out: &mut String, query: &str) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, ENCODE_SET));
        out.push('=');
        out.extend(utf8_percent_encode(v, ENCODE_SET));
    }
}

/// The SHA-256 of the empty body every GET signs, in hex.
const EMPTY_SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The SHA-256 of `data` in lowercase hex, appended to `out`.
fn push_hex_sha256(out: &mut String, data: &[u8]) {
    if data.is_empty() {
        out.push_str(EMPTY_SHA256_HEX);
        return;
    }
    let mut hex = [0u8; 64];
    let digest = Sha256::digest(data);
    hex::encode_to_slice(digest, &mut hex).expect("64 hex digits for 32 bytes");
    out.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
}

fn hmac_hex(sk: &Secret, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(sk.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
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

    fn at(secs: i64) -> SystemTime {
        from_unix_seconds(secs)
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
    fn the_empty_body_hash_is_the_sha256_of_nothing() {
        assert_eq!(EMPTY_SHA256_HEX, hex::encode(Sha256::digest(b"")));
        let mut with_body = String::new();
        push_hex_sha256(&mut with_body, b"{}");
        assert_eq!(with_body, hex::encode(Sha256::digest(b"{}")));
    }

    #[test]
    fn canonical_uri_reencodes_segments_and_adds_slash() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/v3/projects/"), "/v3/projects/");
        assert_eq!(canonical_uri("/a%20b/c~d/e%7Ef"), "/a%20b/c~d/e~f/");
        assert_eq!(canonical_uri("/a b/*"), "/a%20b/%2A/");
        assert_eq!(canonical_uri("/%c3%a9"), "/%C3%A9/");
        assert_eq!(
            canonical_uri("a"),
            "a/",
            "no leading slash added (as before)"
        );
        assert_eq!(
            canonical_uri("/v1/p-1/jobs/a.b_c~d"),
            "/v1/p-1/jobs/a.b_c~d/"
        );
        assert_eq!(canonical_uri("//x//"), "//x//");
        assert_eq!(
            canonical_uri("/%2F"),
            "//",
            "a decoded slash is a slash (as before)"
        );
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
    fn signed_output_never_contains_the_sk() {
        let headers = [("X-Sdk-Date", "20250115T103000Z"), ("Host", "h")];
        let signed = sign("GET", "/", None, &headers, b"", AK, &Secret::new(SK));
        assert!(!format!("{signed:?}").contains(SK));
    }
}
