//! JSON results: writing and reading (with clear errors for `compare`).

use std::path::Path;

use super::results::{RunResults, OLDEST_READABLE, SCHEMA_VERSION};

pub fn to_string(results: &RunResults) -> String {
    serde_json::to_string_pretty(results).unwrap_or_default() + "\n"
}

/// Reads a results file, naming the file and place on error.
pub fn read(path: &Path) -> Result<RunResults, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    match value.get("schemaVersion").and_then(|v| v.as_u64()) {
        Some(v) if (OLDEST_READABLE as u64..=SCHEMA_VERSION as u64).contains(&v) => {}
        Some(v) => {
            return Err(format!(
                "{}: results schemaVersion {v} is not supported (this tool reads {OLDEST_READABLE} to {SCHEMA_VERSION})",
                path.display()
            ))
        }
        None => {
            return Err(format!(
                "{}: not a userns-e2e results file (no schemaVersion)",
                path.display()
            ))
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| format!("{}: at {}: {}", path.display(), e.path(), e.inner()))
}
