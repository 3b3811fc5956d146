//! The judge's answer for one scenario.

use serde::{Deserialize, Serialize};

/// One comparison the judge made: what was expected, what was observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Which pod and which aspect, e.g. `pod userns: uid_map line 1`.
    pub subject: String,
    pub expected: String,
    pub observed: String,
    pub ok: bool,
    /// Set when the target cannot observe this aspect at all (e.g. the host
    /// uid on a cluster without `--node-evidence`): the check is not a
    /// failure, and this says why it was not made and what would make it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_checked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Verdict {
    Pass {
        checks: Vec<Check>,
    },
    /// `reason` is one line; `diff` is the expected-vs-observed text.
    Fail {
        reason: String,
        diff: String,
        checks: Vec<Check>,
    },
    /// A requirement was not met; `reason` names it and what the target reported.
    Skip {
        reason: String,
    },
    /// The target broke (runtime died, API unreachable, timeout while creating).
    Error {
        reason: String,
    },
}

impl Verdict {
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Pass { .. } => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::Skip { .. } => "skip",
            Verdict::Error { .. } => "error",
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Fail { .. } | Verdict::Error { .. })
    }
}
