//! `compare`: results files from several runs side by side — a scenario ×
//! run matrix, and for each scenario what observably differs between runs.
//! Pure functions over results; the CLI does the reading and writing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use crate::observation::{Admission, Observation};
use crate::report::results::RunResults;

/// One labelled run.
pub struct Run {
    pub label: String,
    pub results: RunResults,
}

/// A label for a run: `containerd 2.1.9 (local)`.
pub fn default_label(r: &RunResults) -> String {
    r.environment.label()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// What differs, e.g. `pod userns: uid_map`.
    pub what: String,
    /// One value per run, in run order (`—` when not observed).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub id: String,
    /// `pass`/`fail`/`skip`/`error`, or `absent` when a run lacks the scenario.
    pub statuses: Vec<String>,
    pub differences: Vec<Difference>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub labels: Vec<String>,
    pub rows: Vec<Row>,
}

/// An id map with 65536-aligned host bases written symbolically: which slot
/// an allocator picked is not behaviour, the shape of the map is.
fn map_shape(m: &crate::parse::idmap::IdMap) -> String {
    // Line order is not behaviour (see `IdMap::sorted`).
    m.sorted()
        .0
        .iter()
        .map(|l| {
            let outside = if l.outside >= 65536 && l.outside % 65536 == 0 {
                "<k·65536>".to_string()
            } else {
                l.outside.to_string()
            };
            format!("{} {outside} {}", l.inside, l.length)
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The observed behaviour as comparable facts: ids, pids, durations and
/// allocator slots left out.
pub fn facets(o: &Observation) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for p in &o.pods {
        let k = |what: &str| format!("pod {}: {what}", p.name);
        m.insert(
            k("admission"),
            match &p.admission {
                Admission::Admitted => "admitted".to_string(),
                Admission::Refused { code, message } => format!(
                    "refused{}: {message}",
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                ),
            },
        );
        if let Some(s) = &p.scc {
            m.insert(k("scc"), s.clone());
        }
        m.insert(k("outcome"), p.outcome.to_string());
        if let Some(u) = p.uid_map() {
            m.insert(k("uid_map"), map_shape(u));
        }
        if let Some(g) = p.gid_map() {
            m.insert(k("gid_map"), map_shape(g));
        }
        if let Some(id) = &p.inside.id {
            m.insert(k("id"), id.clone());
        }
        for (s, v) in &p.inside.sysctls {
            m.insert(k(&format!("sysctl {s}")), v.clone());
        }
        for e in &p.inside.exec {
            m.insert(
                k(&format!("exec `{}`", e.command.join(" "))),
                format!("exit {}: {}", e.exit_code, e.stdout.trim()),
            );
        }
        if let Some(uid) = p.host.as_ref().and_then(|h| h.host_uid) {
            // Relative to the pod's single-line range when there is one.
            let value = match p.uid_map().map(|m| m.0.as_slice()) {
                Some([l])
                    if !p.uid_map().is_some_and(|m| m.is_host())
                        && uid >= l.outside
                        && uid - l.outside < l.length =>
                {
                    format!("range start + {}", uid - l.outside)
                }
                _ => uid.to_string(),
            };
            m.insert(k("host uid"), value);
        }
    }
    m
}

/// What differs between the observations (one per run; `None` = not observed).
pub fn differences(observations: &[Option<&Observation>]) -> Vec<Difference> {
    let all: Vec<Option<BTreeMap<String, String>>> =
        observations.iter().map(|o| o.map(facets)).collect();
    let present: Vec<&BTreeMap<String, String>> = all.iter().flatten().collect();
    if present.len() < 2 {
        return Vec::new();
    }
    let keys: BTreeSet<&String> = present.iter().flat_map(|m| m.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let values: Vec<String> = all
                .iter()
                .map(|m| {
                    m.as_ref()
                        .and_then(|m| m.get(key))
                        .cloned()
                        .unwrap_or_else(|| "—".into())
                })
                .collect();
            let observed: BTreeSet<&String> = all
                .iter()
                .zip(&values)
                .filter(|(m, _)| m.is_some())
                .map(|(_, v)| v)
                .collect();
            (observed.len() > 1).then(|| Difference {
                what: key.clone(),
                values,
            })
        })
        .collect()
}

/// The scenario's diagnoses (catalog ids, `none`) per run, when they differ
/// between the runs that have the scenario: why it fails changed.
fn diagnosis_change(
    found: &[Option<&crate::report::results::ScenarioResult>],
) -> Option<Difference> {
    let values: Vec<String> = found
        .iter()
        .map(|f| match f {
            None => "—".to_string(),
            Some(s) if s.diagnoses.is_empty() => "none".to_string(),
            Some(s) => s
                .diagnoses
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let distinct: BTreeSet<&String> = found
        .iter()
        .zip(&values)
        .filter(|(f, _)| f.is_some())
        .map(|(_, v)| v)
        .collect();
    (distinct.len() > 1).then(|| Difference {
        what: "diagnoses".into(),
        values,
    })
}

pub fn compare(runs: &[Run]) -> Comparison {
    let ids: BTreeSet<&String> = runs
        .iter()
        .flat_map(|r| r.results.results.iter().map(|s| &s.id))
        .collect();
    let rows = ids
        .into_iter()
        .map(|id| {
            let found: Vec<_> = runs
                .iter()
                .map(|r| r.results.results.iter().find(|s| &s.id == id))
                .collect();
            Row {
                id: id.clone(),
                statuses: found
                    .iter()
                    .map(|f| {
                        f.map(|s| s.verdict.status().to_string())
                            .unwrap_or_else(|| "absent".into())
                    })
                    .collect(),
                differences: differences(
                    &found
                        .iter()
                        .map(|f| f.and_then(|s| s.observation.as_ref()))
                        .collect::<Vec<_>>(),
                )
                .into_iter()
                .chain(diagnosis_change(&found))
                .collect(),
            }
        })
        .collect();
    Comparison {
        labels: runs.iter().map(|r| r.label.clone()).collect(),
        rows,
    }
}

/// Changes of each run against a baseline: status or observed behaviour.
pub fn changes_against(baseline: &RunResults, run: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    let ids: BTreeSet<&String> = baseline
        .results
        .iter()
        .chain(&run.results)
        .map(|s| &s.id)
        .collect();
    for id in ids {
        let b = baseline.results.iter().find(|s| &s.id == id);
        let r = run.results.iter().find(|s| &s.id == id);
        let status = |s: Option<&crate::report::results::ScenarioResult>| {
            s.map(|s| s.verdict.status()).unwrap_or("absent")
        };
        if status(b) != status(r) {
            out.push(format!("{id}: {} → {}", status(b), status(r)));
        }
        for d in differences(&[
            b.and_then(|s| s.observation.as_ref()),
            r.and_then(|s| s.observation.as_ref()),
        ]) {
            out.push(format!(
                "{id}: {}: {} → {}",
                d.what, d.values[0], d.values[1]
            ));
        }
    }
    out
}

fn icon(status: &str) -> &'static str {
    match status {
        "pass" => "✅ pass",
        "fail" => "❌ fail",
        "error" => "⚠️ error",
        "skip" => "⏭️ skip",
        _ => "— absent",
    }
}

pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## userns-e2e comparison\n");
    let _ = writeln!(out, "| scenario | {} |", c.labels.join(" | "));
    let _ = writeln!(out, "| --- |{}", " --- |".repeat(c.labels.len()));
    for r in &c.rows {
        let mark = if r.differences.is_empty() {
            ""
        } else {
            " 🔀"
        };
        let _ = writeln!(
            out,
            "| `{}`{mark} | {} |",
            r.id,
            r.statuses
                .iter()
                .map(|s| icon(s))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let changed: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| !r.differences.is_empty())
        .collect();
    if changed.is_empty() {
        let _ = writeln!(out, "\nNo observed behaviour differs between these runs.");
        return out;
    }
    let _ = writeln!(out, "\n### What differs (🔀)\n");
    for r in changed {
        let _ = writeln!(
            out,
            "#### `{}`\n\n| observed | {} |\n| --- |{}",
            r.id,
            c.labels.join(" | "),
            " --- |".repeat(c.labels.len())
        );
        for d in &r.differences {
            let _ = writeln!(
                out,
                "| {} | {} |",
                d.what.replace('|', "\\|"),
                d.values
                    .iter()
                    .map(|v| format!("`{}`", v.replace('|', "\\|")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        let _ = writeln!(out);
    }
    out
}
