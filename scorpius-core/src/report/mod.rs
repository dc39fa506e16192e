//! Report serialisation: the versioned JSON format of [`ScanReport`] and its published JSON
//! Schema (`docs/scan-report.schema.json`, generated from the types; a test keeps it current),
//! the Markdown, HTML and CSV renderings ([`text`]), SARIF 2.1.0 for code scanning
//! ([`sarif`]), (feature `pdf`) PDF documents (`pdf`), and (feature `store`) the local scan
//! history in SQLite (`history`).

#[cfg(feature = "store")]
pub mod history;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod sarif;
pub mod signing;
pub mod text;

use crate::model::ScanReport;

pub use sarif::to_sarif;
pub use text::{to_csv, to_html, to_markdown};

/// The JSON Schema of [`ScanReport`], pretty-printed with a trailing newline.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScanReport);
    // Keys sorted, so that the text is the same whether or not serde_json keeps insertion
    // order (a dependency of the server turns `preserve_order` on in workspace builds).
    let mut s = serde_json::to_string_pretty(&sorted(schema.to_value())).unwrap_or_default();
    s.push('\n');
    s
}

/// `value` with every object's keys in sorted order.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A report as pretty JSON (the `--format json` output).
pub fn to_json(report: &ScanReport) -> String {
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! The generated documents under `docs/` must match the code. Regenerate them with
    //! `SCORPIUS_BLESS=1 cargo test -p scorpius-core generated_docs`.

    use std::path::PathBuf;

    fn check(doc: &str, expected: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs").join(doc);
        if std::env::var_os("SCORPIUS_BLESS").is_some() {
            std::fs::write(&path, expected).unwrap();
            return;
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/{doc} is out of date with the code: regenerate it with `SCORPIUS_BLESS=1 cargo test -p scorpius-core generated_docs`"
        );
    }

    #[test]
    fn generated_docs_rules_md_is_current() {
        check("rules.md", &crate::rules::render_markdown());
    }

    #[test]
    fn generated_docs_json_schema_is_current() {
        check("scan-report.schema.json", &super::json_schema());
    }

    #[test]
    fn schema_describes_the_report() {
        let schema: serde_json::Value = serde_json::from_str(&super::json_schema()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for key in [
            "schema_version",
            "scan_id",
            "kind",
            "target",
            "chain",
            "status",
            "risk",
            "findings",
            "started_at",
            "duration_us",
            "engine_version",
            "datasets",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
    }
}
