//! The JSON Schemas of the spec (for editors) and of the report. The binary prints the committed
//! copies under `schema/`, embedded at build time: generating them at run time (schemars, with its
//! derives on every spec and report type) cost the static binary hundreds of kilobytes for a
//! command that prints a constant. The types still derive `JsonSchema`, in test builds only
//! (schemars is a dev-dependency), and a test fails when the committed files drift from them;
//! `UPDATE_SCHEMAS=1 cargo test --lib schema::` rewrites them.

/// The spec's JSON Schema as committed (`schema/spec.schema.json`).
pub const SPEC: &str = include_str!("../schema/spec.schema.json");
/// The report's JSON Schema as committed (`schema/report.schema.json`).
pub const REPORT: &str = include_str!("../schema/report.schema.json");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Report;

    /// The schema the types describe, as `schema/` should hold it.
    fn generated(schema: schemars::Schema) -> String {
        serde_json::to_string_pretty(&schema).expect("schemas serialize") + "\n"
    }

    #[test]
    fn committed_schemas_match_the_code() {
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v == "1");
        let schemas = [
            (
                SPEC,
                "spec",
                schemars::schema_for!(crate::spec::raw::RawSpec),
            ),
            (REPORT, "report", schemars::schema_for!(Report)),
        ];
        for (embedded, file, schema) in schemas {
            let path = format!("{}/schema/{file}.schema.json", env!("CARGO_MANIFEST_DIR"));
            let fresh = generated(schema);
            if update {
                std::fs::write(&path, &fresh).unwrap();
                continue;
            }
            // The file as it is now, and as the binary embeds it (the same unless it changed
            // since this test binary was built).
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == fresh && embedded == fresh,
                "{path} is out of date; regenerate it with:\n  UPDATE_SCHEMAS=1 cargo test --lib schema::"
            );
        }
    }

    /// Editors validate specs with the schema: it must accept what the parser accepts.
    #[test]
    fn spec_schema_accepts_the_demo_spec_and_rejects_unknown_keys() {
        let schema: serde_json::Value = serde_json::from_str(SPEC).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let demo: serde_json::Value =
            crate::spec::file::from_yaml(include_str!("demo/spec.yaml")).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&demo)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let text_jobs =
            serde_json::json!({"jobs": "ecs:a, evs:b", "success": {"sub_jobs": {"ratio": 0.5}}});
        assert!(validator.is_valid(&text_jobs));
        assert!(!validator.is_valid(&serde_json::json!({"jobz": []})));
        assert!(!validator.is_valid(&serde_json::json!({"success": {"sub_jobs": "most"}})));
    }
}
