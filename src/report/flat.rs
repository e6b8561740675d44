//! The flat map of strings that GitHub Actions outputs and the Terraform external data source
//! share: `result`, `exit_code`, the summary counts, one `<kind>s` key per entity kind with
//! comma-separated ids (`server_id` → `server_ids`), and `report`, the document as compact JSON.
//!
//! Entity kinds are keys of the API's `entities` objects, so a server chooses them. The runner's
//! output file reads a key up to the first `=` or `<<` and a line up to its newline: a kind like
//! `"x\nresult=success\ny_id"` would write other outputs. So only kinds whose key is made of
//! `[A-Za-z0-9_-]` (at most [`MAX_KEY`] characters) become outputs; the others stay in the JSON
//! report, and [`LeftOut`] says why each is missing.
//!
//! A consumer may cap the size of its outputs ([`Limits`]; GitHub allows 1 MiB per step): the
//! `report` entry is then kept only up to `Limits::report`, and `<kind>s` entries only while the
//! whole map stays under `Limits::total`.

use indexmap::IndexMap;

use super::Report;

/// The longest output key kept.
pub const MAX_KEY: usize = 100;

/// What one entry costs beyond its key and value in the runner's file, at worst: the heredoc
/// form's `<<`, two delimiters (`ghadelimiter_` and a 64-bit number) and newlines.
const ENTRY_OVERHEAD: usize = 80;

/// Whether `key` can be an output key: `[A-Za-z0-9_-]`, 1 to [`MAX_KEY`] characters.
pub fn is_output_key(key: &str) -> bool {
    (1..=MAX_KEY).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Caps on the flat map's size, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The `report` entry is kept only up to this size.
    pub report: usize,
    /// `<kind>s` entries are added only while the whole map stays under this.
    pub total: usize,
}

impl Limits {
    /// No caps (Terraform).
    pub const NONE: Limits = Limits {
        report: usize::MAX,
        total: usize::MAX,
    };
    /// GitHub: 1 MiB of outputs per step; room is left for `report_file` and the margin.
    pub const GITHUB: Limits = Limits {
        report: 512 * 1024,
        total: 900 * 1024,
    };
}

/// An entry the flat map could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOut {
    /// An entity kind whose `<kind>s` is not an output key (see [`is_output_key`]).
    BadKey(String),
    /// The `<kind>s` entry of this kind did not fit within [`Limits::total`].
    TooLarge(String),
    /// The report (this many bytes of compact JSON) is larger than [`Limits::report`].
    Report(usize),
}

impl LeftOut {
    /// One line for standard error (server text in it still has to be sanitised on printing).
    pub fn message(&self) -> String {
        match self {
            LeftOut::BadKey(kind) => format!(
                "entity kind `{kind}` left out of the outputs: an output key is made of \
                 A-Z a-z 0-9 _ - (at most {MAX_KEY} characters); its ids are in the JSON report"
            ),
            LeftOut::TooLarge(kind) => format!(
                "output `{kind}s` left out: it would take the outputs past their size limit; \
                 its ids are in the report (report_file)"
            ),
            LeftOut::Report(size) => format!(
                "output `report` left out: the report is {} KiB of JSON, more than the outputs \
                 can hold; read it from report_file",
                size.div_ceil(1024)
            ),
        }
    }
}

/// The flat map, and what had to be left out of it.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    pub map: IndexMap<String, String>,
    pub left_out: Vec<LeftOut>,
}

/// The flat map of `report`, within `limits`.
pub fn flat(report: &Report, limits: Limits) -> Flat {
    let s = &report.summary;
    let mut out = Flat {
        map: [
            ("result", report.result.as_str().to_owned()),
            ("exit_code", report.exit_code.to_string()),
            ("total", s.total.to_string()),
            ("succeeded", s.succeeded.to_string()),
            ("failed", s.failed.to_string()),
            ("errored", s.errored.to_string()),
            ("timed_out", s.timed_out.to_string()),
            ("cancelled", s.cancelled.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        left_out: Vec::new(),
    };
    let mut size: usize = out.map.iter().map(|(k, v)| cost(k, v)).sum();
    let json = serde_json::to_string(report).expect("the report always serializes");
    let json = if json.len() <= limits.report {
        size = size.saturating_add(cost("report", &json));
        Some(json)
    } else {
        out.left_out.push(LeftOut::Report(json.len()));
        None
    };
    // The kinds the services waited on create are always there (empty when nothing was
    // created), so `result.server_ids` never breaks a Terraform plan or a workflow expression.
    let mut stable: Vec<&str> = Vec::new();
    for job in &report.jobs {
        for kind in job.service.kinds() {
            if !stable.contains(kind) && !report.entities.0.contains_key(*kind) {
                stable.push(kind);
            }
        }
    }
    for kind in stable {
        let key = format!("{kind}s");
        size = size.saturating_add(cost(&key, ""));
        out.map.insert(key, String::new());
    }
    for (kind, ids) in &report.entities.0 {
        let key = format!("{kind}s");
        if !is_output_key(&key) {
            out.left_out.push(LeftOut::BadKey(kind.clone()));
            continue;
        }
        let value = ids.join(",");
        let with = size.saturating_add(cost(&key, &value));
        if with > limits.total {
            out.left_out.push(LeftOut::TooLarge(kind.clone()));
            continue;
        }
        size = with;
        out.map.insert(key, value);
    }
    if let Some(json) = json {
        out.map.insert("report".to_owned(), json);
    }
    out
}

/// Bytes an entry takes in the runner's output file, at most.
fn cost(key: &str, value: &str) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::hostile;
    use crate::verdict::EntityIds;

    #[test]
    fn output_keys_are_a_safe_alphabet_of_bounded_length() {
        for good in ["server_ids", "a", "A-b_9", &"k".repeat(MAX_KEY)] {
            assert!(is_output_key(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a=b",
            "a<<EOF",
            "x\nresult=success",
            "a\rb",
            "é",
            "a.b",
            &"k".repeat(MAX_KEY + 1),
        ] {
            assert!(!is_output_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn kinds_that_are_not_output_keys_are_left_out_and_named() {
        let report = hostile();
        let flat = flat(&report, Limits::NONE);
        assert!(flat.map.keys().all(|k| is_output_key(k)), "{:?}", flat.map);
        assert_eq!(flat.map["server_ids"], report.entities.0["server_id"][0]);
        assert_eq!(flat.map["result"], "failure");
        let evil = report.entities.0.keys().nth(1).unwrap().clone();
        assert_eq!(flat.left_out, [LeftOut::BadKey(evil)]);
        // The JSON report keeps it.
        assert!(flat.map["report"].contains("evil\\nresult=success"));
    }

    #[test]
    fn limits_drop_the_report_then_kinds_that_do_not_fit() {
        let mut report = hostile();
        report.entities = EntityIds(
            [
                ("small_id".to_owned(), vec!["s".to_owned()]),
                ("big_id".to_owned(), vec!["b".repeat(3000)]),
                ("last_id".to_owned(), vec!["l".to_owned()]),
            ]
            .into(),
        );
        let fixed = flat(
            &report,
            Limits {
                report: 0,
                total: 0,
            },
        )
        .map;
        assert!(!fixed.contains_key("report") && fixed.contains_key("exit_code"));
        let size = |m: &IndexMap<String, String>| m.iter().map(|(k, v)| cost(k, v)).sum::<usize>();
        let limits = Limits {
            report: 10,
            total: size(&fixed) + 2 * cost("small_ids", "s") + 10,
        };
        let out = flat(&report, limits);
        assert_eq!(out.map["small_ids"], "s");
        assert_eq!(out.map["last_ids"], "l");
        assert!(!out.map.contains_key("big_ids") && !out.map.contains_key("report"));
        assert!(matches!(out.left_out[0], LeftOut::Report(n) if n > 3000));
        assert_eq!(out.left_out[1], LeftOut::TooLarge("big_id".to_owned()));
        assert!(out.left_out[1].message().contains("`big_ids`"));
        assert!(out.left_out[1].message().contains("report_file"));
    }

    #[test]
    fn the_kinds_of_the_services_waited_on_are_always_there() {
        let mut report = hostile();
        report.entities = EntityIds::default();
        for job in &mut report.jobs {
            job.service = crate::cloud::endpoint::Service::Evs.into();
        }
        let flat = flat(&report, Limits::NONE);
        assert_eq!(flat.map.get("volume_ids").map(String::as_str), Some(""));
        assert!(
            !flat.map.contains_key("server_ids"),
            "no ecs job was waited on"
        );
    }
}
