//! Diagnoses as a person reads them under a failure (terminal, JUnit,
//! Markdown): `why:` the cause, `fix (<platform>):` what to change, `see:`
//! the upstream evidence; and a plain line when nothing in the catalog
//! matches a failure, instead of a guess.

use std::fmt::Write;

use crate::diagnose::{Diagnosis, Severity};

/// What reports say when a failure matches no catalog entry.
pub const NO_MATCH: &str =
    "why: no diagnosis in the catalog matches this failure (see the diff and evidence above)";

/// The lines for `diagnoses`; `failed` says whether the scenario failed,
/// so an unmatched failure is named and a pass without warnings prints nothing.
pub fn text(diagnoses: &[Diagnosis], failed: bool) -> String {
    let mut s = String::new();
    if failed && !diagnoses.iter().any(|d| d.severity == Severity::Cause) {
        let _ = writeln!(s, "{NO_MATCH}");
    }
    for d in diagnoses {
        let label = match d.severity {
            Severity::Cause => "why",
            Severity::Warning => "warning",
        };
        let _ = writeln!(s, "{label}: [{}] {}", d.id, d.title);
        let _ = writeln!(s, "  {}", one_line(&d.cause));
        for (platform, fix) in d.fix.platforms() {
            let _ = writeln!(s, "fix ({platform}): {}", one_line(fix));
        }
        let _ = writeln!(s, "see: {}", d.cites.join("; "));
    }
    s
}

/// Folded YAML text on one line.
pub fn one_line(text: &str) -> String {
    crate::observation::normalize_text(text)
}
