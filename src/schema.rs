//! The JSON Schemas of the spec (for editors) and of the report, generated from the types
//! (schemars). `schema/` holds committed copies; a test fails when they drift.

use crate::cli::SchemaKind;
use crate::report::Report;

/// A JSON Schema, pretty-printed.
pub fn schema(which: SchemaKind) -> String {
    let schema = match which {
        SchemaKind::Spec => schemars::schema_for!(crate::spec::raw::RawSpec),
        SchemaKind::Report => schemars::schema_for!(Report),
    };
    serde_json::to_string_pretty(&schema).expect("schemas serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schemas_match_the_code() {
        for (which, file) in [(SchemaKind::Spec, "spec"), (SchemaKind::Report, "report")] {
            let path = format!("{}/schema/{file}.schema.json", env!("CARGO_MANIFEST_DIR"));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed.trim_end() == schema(which).trim_end(),
                "{path} is out of date; regenerate it with:\n  cargo run -- schema {file} > schema/{file}.schema.json"
            );
        }
    }

    /// Editors validate specs with the schema: it must accept what the parser accepts.
    #[test]
    fn spec_schema_accepts_the_demo_spec_and_rejects_unknown_keys() {
        let schema: serde_json::Value = serde_json::from_str(&schema(SchemaKind::Spec)).unwrap();
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
