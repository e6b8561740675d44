//! The criteria's vocabulary: how sub-jobs decide a verdict and what the special statuses mean.
//! These are the verdict's own types; the spec reads them (with the lenient number parsing it
//! uses for every value) but does not own them, so the verdict depends on nothing of the spec.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::lenient;

/// What a status outside the documented set (SUCCESS, FAIL, RUNNING, INIT, PENDING_PAYMENT) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownStatus {
    /// Keep waiting: it may be a transitional state.
    Wait,
    /// Count the job as failed.
    Fail,
}

/// How sub-jobs decide the verdict.
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingPayment {
    /// Keep waiting for the order to be paid.
    Wait,
    /// Count the job as succeeded.
    Success,
    /// Count the job as failed.
    Fail,
}

impl<'de> Deserialize<'de> for SubJobPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PolicyVisitor;
        const EXPECTED: &str = "all, any, none, { at_least: N } or { ratio: R }";
        impl<'de> Visitor<'de> for PolicyVisitor {
            type Value = SubJobPolicy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SubJobPolicy, E> {
                match v.trim() {
                    "all" => Ok(SubJobPolicy::All),
                    "any" => Ok(SubJobPolicy::Any),
                    "none" => Ok(SubJobPolicy::None),
                    other => Err(E::custom(format!("`{other}` is not one of {EXPECTED}"))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SubJobPolicy, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom(format!("expected {EXPECTED}")))?;
                let policy = match key.as_str() {
                    "at_least" => SubJobPolicy::AtLeast(map.next_value::<LenientU32>()?.0),
                    "ratio" => {
                        let r = map.next_value::<LenientF64>()?.0;
                        if !(0.0..=1.0).contains(&r) {
                            return Err(de::Error::custom(format!(
                                "ratio {r} is not within 0..=1"
                            )));
                        }
                        SubJobPolicy::Ratio(r)
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "`{other}` is not one of {EXPECTED}"
                        )))
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom(format!(
                        "expected only one of {EXPECTED}"
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
