//! The run page's scenario table: one row per scenario, filterable by
//! verdict and topic; each row shows its reason and opens the
//! expected-vs-observed diff and the evidence, as JUnit's failure text and system-out hold them.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{escape as e, filter};
use crate::report::evidence;
use crate::report::results::{RunResults, ScenarioResult};
use crate::verdict::Verdict;

fn topic(r: &ScenarioResult) -> &str {
    if r.topic.is_empty() {
        "(none)"
    } else {
        &r.topic
    }
}

fn counts<'a>(values: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *m.entry(v).or_default() += 1;
    }
    m.into_iter().map(|(k, n)| (k.to_string(), n)).collect()
}

/// What a row opens.
fn detail(r: &ScenarioResult) -> String {
    let mut d = String::new();
    // The reason is the row's summary; a failure adds its diff.
    if let Verdict::Fail { diff, .. } = &r.verdict {
        let _ = write!(d, "<pre class=\"diff\">{}</pre>", e(diff));
    }
    d.push_str(&super::why::panel(&r.diagnoses, r.verdict.is_failure()));
    let _ = write!(
        d,
        "<p>{}</p><p>file <code>{}</code>",
        e(&r.description),
        e(&r.file)
    );
    if !r.cites.is_empty() {
        let _ = write!(d, " · cites {}", e(&r.cites.join("; ")));
    }
    d.push_str("</p>");
    if let Some(o) = &r.observation {
        let _ = write!(
            d,
            "<pre class=\"evidence\">{}</pre>",
            e(&evidence::render(o))
        );
        if !o.leftovers.is_empty() {
            let _ = write!(
                d,
                "<p><b>left behind:</b></p><pre>{}</pre>",
                e(&o.leftovers.join("\n"))
            );
        }
    }
    d
}

pub fn section(results: &RunResults) -> String {
    let mut b = String::from("<h2>Scenarios</h2>\n<p>");
    b.push_str(&filter(
        "verdict",
        "verdict",
        &counts(results.results.iter().map(|r| r.verdict.status())),
    ));
    b.push_str(&filter(
        "topic",
        "topic",
        &counts(results.results.iter().map(topic)),
    ));
    b.push_str("<span id=\"shown\"></span></p>\n<table class=\"scenarios\"><thead><tr><th>verdict</th><th>scenario</th><th>topic</th><th>time</th><th>detail</th></tr></thead><tbody>\n");
    for r in &results.results {
        let status = r.verdict.status();
        let summary = match &r.verdict {
            Verdict::Pass { .. } => r.description.lines().next().unwrap_or("").to_string(),
            Verdict::Skip { reason } | Verdict::Fail { reason, .. } | Verdict::Error { reason } => {
                reason.clone()
            }
        };
        // Failures open by default: they are what a reader came for.
        let open = if r.verdict.is_failure() { " open" } else { "" };
        let _ = writeln!(
            b,
            "<tr data-row data-verdict=\"{status}\" data-topic=\"{t}\"><td class=\"{status}\">{status}</td><td><code>{id}</code></td><td>{t}</td><td>{:.1} s</td><td><details{open}><summary>{}</summary>{}</details></td></tr>",
            r.duration_ms as f64 / 1000.0,
            e(&summary),
            detail(r),
            t = e(topic(r)),
            id = e(&r.id),
        );
    }
    b.push_str("</tbody></table>\n");
    b
}
