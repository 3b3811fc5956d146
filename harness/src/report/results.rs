//! The JSON results format (versioned; schema in `reports/results.schema.json`).

use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::observation::Observation;
use crate::verdict::Verdict;

/// Bumped on any incompatible change of this format.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest version this tool still reads (v1 lacks `diagnoses`, read as none).
pub const OLDEST_READABLE: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResults {
    pub schema_version: u32,
    /// `userns-e2e <version>`.
    pub tool: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    /// The run's id: the value of the `userns-e2e.io/run` label on everything
    /// the run made. Absent in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// `run --label`: what this run is to the person who made it (`nightly`,
    /// `after the upgrade`); `compare` names the run's column with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub environment: Facts,
    pub results: Vec<ScenarioResult>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioResult {
    pub id: String,
    pub file: String,
    pub topic: String,
    pub description: String,
    pub cites: Vec<String>,
    pub verdict: Verdict,
    /// Absent when skipped or when the target broke before observing.
    pub observation: Option<Observation>,
    pub duration_ms: u64,
    /// Milliseconds from the run's start to this scenario's start, so readers
    /// can tell which scenarios' pods existed at the same time (the HTML
    /// report's overlap check). Absent in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    /// Why it failed and what to change: the catalog entries that match
    /// (causes on a failure, warnings on any pod that ran); `[]` when none
    /// does — the catalog never guesses. Added in schema version 2.
    #[serde(default)]
    pub diagnoses: Vec<crate::diagnose::Diagnosis>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errored: usize,
}

impl Summary {
    pub fn of(results: &[ScenarioResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.verdict {
                Verdict::Pass { .. } => s.passed += 1,
                Verdict::Fail { .. } => s.failed += 1,
                Verdict::Skip { .. } => s.skipped += 1,
                Verdict::Error { .. } => s.errored += 1,
            }
        }
        s
    }
}

/// The JSON Schema of results files (committed as `reports/results.schema.json`).
pub fn schema_text() -> String {
    let mut schema = schemars::schema_for!(RunResults);
    schema.insert(
        "$id".into(),
        format!("https://userns-e2e/results/v{SCHEMA_VERSION}.schema.json").into(),
    );
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}
