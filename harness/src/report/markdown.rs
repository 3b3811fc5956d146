//! A Markdown summary fit for `$GITHUB_STEP_SUMMARY`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::results::RunResults;
use crate::verdict::Verdict;

fn icon(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass { .. } => "✅",
        Verdict::Fail { .. } => "❌",
        Verdict::Error { .. } => "⚠️",
        Verdict::Skip { .. } => "⏭️",
    }
}

/// The diagnoses under a failure: why, the fix per platform, the cites; or
/// that nothing in the catalog matches.
fn diagnoses_md(diagnoses: &[crate::diagnose::Diagnosis], failed: bool) -> String {
    use crate::diagnose::Severity;
    use crate::report::diagnoses::one_line;
    let mut s = String::new();
    if failed && !diagnoses.iter().any(|d| d.severity == Severity::Cause) {
        let _ = writeln!(s, "_No diagnosis in the catalog matches this failure._\n");
    }
    for d in diagnoses {
        let label = match d.severity {
            Severity::Cause => "Why",
            Severity::Warning => "Warning",
        };
        let _ = writeln!(
            s,
            "**{label}** (`{}`): {}\n\n> {}\n",
            d.id,
            d.title,
            one_line(&d.cause)
        );
        for (platform, fix) in d.fix.platforms() {
            let _ = writeln!(s, "- fix ({platform}): {}", one_line(fix));
        }
        let _ = writeln!(s, "- see: {}\n", d.cites.join("; "));
    }
    s
}

pub fn render(results: &RunResults) -> String {
    let env = &results.environment;
    let s = &results.summary;
    let mut out = String::new();
    let _ = writeln!(out, "## userns-e2e: {}\n", env.label());
    let _ = writeln!(
        out,
        "✅ {} passed · ❌ {} failed · ⚠️ {} errored · ⏭️ {} skipped · {:.1}s\n",
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        results.duration_ms as f64 / 1000.0
    );
    let mut facts = vec![format!("target `{}` ({})", env.target, env.endpoint)];
    if let Some(k) = &env.kubernetes {
        facts.push(format!("Kubernetes {k}"));
    }
    if let Some(o) = &env.openshift {
        facts.push(format!(
            "OpenShift {}",
            o.version
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(version unknown)".into())
        ));
    }
    if let Some(k) = env.nodes.first().and_then(|n| n.kernel.as_ref()) {
        facts.push(format!("kernel {k}"));
    }
    let _ = writeln!(out, "{}\n", facts.join(" · "));
    // What the target could not read or check: its facts are partial.
    let warnings = env.warnings();
    for w in &warnings {
        let _ = writeln!(out, "- ⚠️ {}", crate::report::diagnoses::one_line(w));
    }
    if !warnings.is_empty() {
        let _ = writeln!(out);
    }
    let mut topics: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for r in &results.results {
        let t = topics
            .entry(if r.topic.is_empty() {
                "(none)"
            } else {
                r.topic.as_str()
            })
            .or_default();
        let i = match r.verdict {
            Verdict::Pass { .. } => 0,
            Verdict::Fail { .. } => 1,
            Verdict::Error { .. } => 2,
            Verdict::Skip { .. } => 3,
        };
        t[i] += 1;
    }
    let _ = writeln!(
        out,
        "| topic | ✅ | ❌ | ⚠️ | ⏭️ |\n| --- | ---: | ---: | ---: | ---: |"
    );
    for (t, c) in &topics {
        let _ = writeln!(out, "| {t} | {} | {} | {} | {} |", c[0], c[1], c[2], c[3]);
    }
    let problems: Vec<_> = results
        .results
        .iter()
        .filter(|r| r.verdict.is_failure())
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\n### Failures\n");
        for r in problems {
            match &r.verdict {
                Verdict::Fail { reason, diff, .. } => {
                    let _ = writeln!(
                        out,
                        "#### {} `{}`\n\n{}\n\n```diff\n{}\n```\n",
                        icon(&r.verdict),
                        r.id,
                        reason,
                        diff
                    );
                }
                Verdict::Error { reason } => {
                    let _ = writeln!(out, "#### {} `{}`\n\n{}\n", icon(&r.verdict), r.id, reason);
                }
                _ => {}
            }
            out.push_str(&diagnoses_md(&r.diagnoses, true));
        }
    }
    let warned: Vec<_> = results
        .results
        .iter()
        .filter(|r| !r.verdict.is_failure() && !r.diagnoses.is_empty())
        .collect();
    if !warned.is_empty() {
        let _ = writeln!(out, "\n### Warnings (passing pods that are unsafe)\n");
        for r in warned {
            let _ = writeln!(out, "#### `{}`\n", r.id);
            out.push_str(&diagnoses_md(&r.diagnoses, false));
        }
    }
    let _ = writeln!(out, "\n<details><summary>All scenarios</summary>\n\n| | scenario | detail |\n| --- | --- | --- |");
    for r in &results.results {
        let detail = match &r.verdict {
            Verdict::Pass { .. } => r.description.lines().next().unwrap_or("").to_string(),
            Verdict::Skip { reason } => format!("skipped: {reason}"),
            Verdict::Fail { reason, .. } => reason.clone(),
            Verdict::Error { reason } => format!("error: {reason}"),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} |",
            icon(&r.verdict),
            r.id,
            detail.replace('|', "\\|").replace('\n', " ")
        );
    }
    let _ = writeln!(out, "\n</details>");
    out
}
