//! The criteria's vocabulary: how sub-jobs decide a verdict and what the special statuses mean.
//! These are the verdict's own types; the spec reads them (with the lenient number parsing it
//! uses for every value) but does not own them, so the verdict depends on nothing of the spec.

use std::fmt;

#[cfg(test)]
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::lenient;

/// What a status outside the documented set (SUCCESS, FAIL, RUNNING, INIT, PENDING_PAYMENT) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnknownStatus {
    /// Keep waiting: it may be a transitional state.
    Wait,
    /// Count the job as failed.
    Fail,
}

/// How sub-jobs decide the verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(with = "SubJobPolicySchema"))]
pub enum SubJobPolicy {
    /// The main job and every sub-job succeed.
    All,
    /// At least one sub-job succeeds.
    Any,
    /// Sub-jobs are ignored; the main status decides.
    None,
    /// At least N sub-jobs succeed.
    AtLeast(u32),
    /// At least this fraction (0..=1) of the sub-jobs succeed.
    Ratio(f64),
}

/// The schema of `sub_jobs`: a word or an object, or the same as text (`at-least=2`, `ratio=0.8`).
#[cfg(test)]
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum SubJobPolicySchema {
    Form(SubJobPolicyForm),
    /// `at-least=N` (or `at_least=N`) or `ratio=R`, as a variable, flag or Terraform query gives it.
    Text(#[schemars(pattern(r"^\s*(at[-_]least\s*=\s*[0-9]+|ratio\s*=\s*[0-9.]+)\s*$"))] String),
}

/// How sub-jobs decide the verdict.
#[cfg(test)]
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum SubJobPolicyForm {
    /// The main job and every sub-job succeed.
    All,
    /// At least one sub-job succeeds.
    Any,
    /// Sub-jobs are ignored; the main status decides.
    None,
    /// At least N sub-jobs succeed.
    AtLeast(u32),
    /// At least this fraction (0..=1) of the sub-jobs succeed.
    Ratio(f64),
}

impl fmt::Display for SubJobPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubJobPolicy::All => f.write_str("all"),
            SubJobPolicy::Any => f.write_str("any"),
            SubJobPolicy::None => f.write_str("none"),
            SubJobPolicy::AtLeast(n) => write!(f, "at_least {n}"),
            SubJobPolicy::Ratio(r) => write!(f, "ratio {r}"),
        }
    }
}

impl fmt::Display for PendingPayment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PendingPayment::Wait => "wait",
            PendingPayment::Success => "success",
            PendingPayment::Fail => "fail",
        })
    }
}

/// What PENDING_PAYMENT means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PendingPayment {
    /// Keep waiting for the order to be paid.
    Wait,
    /// Count the job as succeeded.
    Success,
    /// Count the job as failed.
    Fail,
}

/// Every form `sub_jobs` takes, for error messages.
const SUB_JOBS_FORMS: &str =
    "all, any, none, at-least=N (or at_least=N), ratio=R, { at_least: N } or { ratio: R }";

impl SubJobPolicy {
    /// Reads the text form: `all`, `any`, `none`, `at-least=N` / `at_least=N` or `ratio=R`, the
    /// one syntax wherever the value arrives as text (a `JOBWAIT_*` variable, a flag, a
    /// Terraform query key, or a string in a file).
    pub fn parse(text: &str) -> Result<SubJobPolicy, String> {
        let text = text.trim();
        let not_one = || format!("`{text}` is not one of {SUB_JOBS_FORMS}");
        match text {
            "all" => return Ok(SubJobPolicy::All),
            "any" => return Ok(SubJobPolicy::Any),
            "none" => return Ok(SubJobPolicy::None),
            _ => {}
        }
        let (name, value) = text.split_once('=').ok_or_else(not_one)?;
        let value = value.trim();
        match name.trim() {
            "at-least" | "at_least" => {
                value
                    .parse::<u32>()
                    .map(SubJobPolicy::AtLeast)
                    .map_err(|_| {
                        format!("`{text}`: N must be a whole number (one of {SUB_JOBS_FORMS})")
                    })
            }
            "ratio" => {
                let r: f64 = value.parse().map_err(|_| {
                    format!("`{text}`: R must be a number within 0..=1 (one of {SUB_JOBS_FORMS})")
                })?;
                SubJobPolicy::ratio(r)
            }
            _ => Err(not_one()),
        }
    }

    /// A ratio, held to 0..=1.
    fn ratio(r: f64) -> Result<SubJobPolicy, String> {
        if (0.0..=1.0).contains(&r) {
            Ok(SubJobPolicy::Ratio(r))
        } else {
            Err(format!("ratio {r} is not within 0..=1"))
        }
    }
}

impl<'de> Deserialize<'de> for SubJobPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PolicyVisitor;
        impl<'de> Visitor<'de> for PolicyVisitor {
            type Value = SubJobPolicy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SUB_JOBS_FORMS)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SubJobPolicy, E> {
                SubJobPolicy::parse(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SubJobPolicy, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom(format!("expected {SUB_JOBS_FORMS}")))?;
                let policy = match key.as_str() {
                    "at_least" => SubJobPolicy::AtLeast(map.next_value::<LenientU32>()?.0),
                    "ratio" => SubJobPolicy::ratio(map.next_value::<LenientF64>()?.0)
                        .map_err(de::Error::custom)?,
                    other => {
                        return Err(de::Error::custom(format!(
                            "`{other}` is not one of {SUB_JOBS_FORMS}"
                        )))
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom(format!(
                        "expected only one of {SUB_JOBS_FORMS}"
                    )));
                }
                Ok(policy)
            }
        }
        d.deserialize_any(PolicyVisitor)
    }
}

struct LenientU32(u32);
impl<'de> Deserialize<'de> for LenientU32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::number(d).map(LenientU32)
    }
}

struct LenientF64(f64);
impl<'de> Deserialize<'de> for LenientF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::number(d).map(LenientF64)
    }
}

#[cfg(test)]
mod tests {
    use super::SubJobPolicy;

    #[test]
    fn sub_jobs_text_forms() {
        let cases = [
            ("all", SubJobPolicy::All),
            (" any ", SubJobPolicy::Any),
            ("none", SubJobPolicy::None),
            ("at-least=2", SubJobPolicy::AtLeast(2)),
            ("at_least=3", SubJobPolicy::AtLeast(3)),
            ("at-least = 4", SubJobPolicy::AtLeast(4)),
            ("ratio=0.8", SubJobPolicy::Ratio(0.8)),
            ("ratio=1", SubJobPolicy::Ratio(1.0)),
        ];
        for (text, want) in cases {
            assert_eq!(SubJobPolicy::parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn sub_jobs_text_errors_name_the_value_and_list_the_forms() {
        for text in [
            "most",
            "at-least=two",
            "at-least=-1",
            "ratio=1.5",
            "ratio=NaN",
            "ratio",
            "at-most=2",
        ] {
            let err = SubJobPolicy::parse(text).unwrap_err();
            let named = err.contains(&format!("`{text}`")) || err.contains("ratio ");
            assert!(named, "{text}: {err}");
            if !text.starts_with("ratio=") {
                assert!(
                    err.contains("at-least=N") && err.contains("ratio=R"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn sub_jobs_objects_still_read() {
        let policy: SubJobPolicy = serde_json::from_str(r#"{"at_least": 2}"#).unwrap();
        assert_eq!(policy, SubJobPolicy::AtLeast(2));
        let policy: SubJobPolicy = serde_json::from_str(r#"{"ratio": "0.5"}"#).unwrap();
        assert_eq!(policy, SubJobPolicy::Ratio(0.5));
        let policy: SubJobPolicy = serde_json::from_str(r#""at-least=2""#).unwrap();
        assert_eq!(policy, SubJobPolicy::AtLeast(2));
        let err = serde_json::from_str::<SubJobPolicy>(r#"{"ratio": 2}"#).unwrap_err();
        assert!(
            err.to_string().contains("ratio 2 is not within 0..=1"),
            "{err}"
        );
    }
}
