//! The "why" panel of a scenario (its diagnoses, each id linking to the
//! page's catalog section) and that section: every catalog entry the run
//! matched, with its cause, fix per platform and cites. In the page, so it
//! works opened from a CI artifact.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::escape as e;
use crate::diagnose::{Diagnosis, Severity};
use crate::report::diagnoses::one_line;
use crate::report::results::RunResults;

fn anchor(id: &str) -> String {
    format!("diagnosis-{id}")
}

/// The panel under a scenario's diff: why (or that nothing matches a failure).
pub fn panel(diagnoses: &[Diagnosis], failed: bool) -> String {
    let mut d = String::new();
    if diagnoses.is_empty() && !failed {
        return d;
    }
    d.push_str("<div class=\"why\">");
    if failed && !diagnoses.iter().any(|x| x.severity == Severity::Cause) {
        d.push_str("<p><b>why:</b> no diagnosis in the catalog matches this failure.</p>");
    }
    for x in diagnoses {
        let label = match x.severity {
            Severity::Cause => "why",
            Severity::Warning => "warning",
        };
        let _ = write!(
            d,
            "<p class=\"{}\"><b>{label}:</b> <a href=\"#{}\">{}</a> {}</p><p>{}</p><ul>",
            x.severity,
            anchor(&x.id),
            e(&x.id),
            e(&x.title),
            e(&one_line(&x.cause))
        );
        for (platform, fix) in x.fix.platforms() {
            let _ = write!(d, "<li>fix ({platform}): {}</li>", e(&one_line(fix)));
        }
        d.push_str("</ul>");
    }
    d.push_str("</div>");
    d
}

/// The entries matched anywhere in the run, once each, with their cites.
pub fn catalog_section(results: &RunResults) -> String {
    let used: BTreeMap<&str, &Diagnosis> = results
        .results
        .iter()
        .flat_map(|r| &r.diagnoses)
        .map(|d| (d.id.as_str(), d))
        .collect();
    if used.is_empty() {
        return String::new();
    }
    let mut b = String::from("<h2>Diagnoses</h2>\n<dl class=\"catalog\">\n");
    for (id, d) in used {
        let _ = write!(
            b,
            "<dt id=\"{}\"><code>{}</code> ({}) {}</dt><dd><p>{}</p><ul>",
            anchor(id),
            e(id),
            d.severity,
            e(&d.title),
            e(&one_line(&d.cause))
        );
        for (platform, fix) in d.fix.platforms() {
            let _ = write!(b, "<li>fix ({platform}): {}</li>", e(&one_line(fix)));
        }
        for c in &d.cites {
            let _ = write!(b, "<li>see {}</li>", e(c));
        }
        b.push_str("</ul></dd>\n");
    }
    b.push_str("</dl>\n");
    b
}
