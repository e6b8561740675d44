//! The flat map of strings that GitHub Actions outputs and the Terraform external data source
//! share: `result`, `exit_code`, the summary counts, one `<kind>s` key per entity kind with
//! comma-separated ids (`server_id` → `server_ids`), and `report`, the document as compact JSON.

use indexmap::IndexMap;

use super::Report;

pub fn flat(report: &Report) -> IndexMap<String, String> {
    let s = &report.summary;
    let mut out: IndexMap<String, String> = [
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
    .collect();
    for (kind, ids) in &report.entities.0 {
        out.insert(format!("{kind}s"), ids.join(","));
    }
    out.insert(
        "report".to_owned(),
        serde_json::to_string(report).expect("the report always serializes"),
    );
    out
}
