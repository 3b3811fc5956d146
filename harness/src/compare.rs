//! `compare`: results files from several runs side by side — a scenario ×
//! run matrix, and for each scenario what observably differs between runs.
//! Pure functions over results; the CLI does the reading and writing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::Serialize;

use crate::observation::{Admission, Observation};
use crate::report::results::{RunResults, ScenarioResult};
use crate::verdict::Verdict;

/// One labelled run.
pub struct Run {
    pub label: String,
    pub results: RunResults,
}

/// A label for a run: its `run --label`, else `containerd 2.1.9 (local)`.
pub fn default_label(r: &RunResults) -> String {
    r.label.clone().unwrap_or_else(|| r.environment.label())
}

/// Makes equal labels distinct by what differs between their runs: the
/// results file's name, else the start time, else the run id. `sources[i]`
/// is run i's results file. Two runs of one runtime would otherwise share a
/// column title, and a reader could not tell which is which.
pub fn distinct_labels(labels: &mut [String], runs: &[&RunResults], sources: &[String]) {
    let file_name = |i: usize| {
        sources
            .get(i)
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
            .unwrap_or_default()
    };
    let fields: [&dyn Fn(usize) -> String; 3] = [
        &file_name,
        &|i| {
            runs.get(i)
                .map(|r| r.started_at.clone())
                .unwrap_or_default()
        },
        &|i| {
            runs.get(i)
                .and_then(|r| r.run_id.clone())
                .map(|id| format!("run {id}"))
                .unwrap_or_else(|| format!("#{}", i + 1))
        },
    ];
    let same: Vec<usize> = (0..labels.len())
        .filter(|&i| labels.iter().filter(|l| **l == labels[i]).count() > 1)
        .collect();
    if same.is_empty() {
        return;
    }
    // The first field whose values tell every clashing run apart.
    let field = fields
        .iter()
        .find(|f| {
            let values: BTreeSet<String> = same.iter().map(|&i| f(i)).collect();
            values.len() == same.len() && !values.contains("")
        })
        .unwrap_or(&fields[2]);
    for i in same {
        let extra = field(i);
        labels[i] = format!("{} · {extra}", labels[i]);
    }
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
    /// Observed differences where the scenario's expectations look (a check
    /// of some run's verdict names that facet): these are changes.
    pub differences: Vec<Difference>,
    /// Observed differences no expectation of the scenario looks at, e.g. a
    /// uid map that CRI-O's shared `auto` allocator split around a
    /// concurrently running pod in one run and not in another. Shown, never
    /// counted as a change: they depend on timing as much as on the platform.
    pub unchecked: Vec<Difference>,
}

impl Row {
    /// Whether the runs disagree here: a verdict, or a checked observation.
    /// The one rule behind the matrix mark, the HTML outline, the text
    /// report's change list and `--fail-on-change`.
    pub fn changed(&self) -> bool {
        !self.differences.is_empty() || self.statuses.windows(2).any(|w| w[0] != w[1])
    }
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

/// Incidental values written with separators (`:`, `/`, spaces): replaced
/// before tokens are classified. Timestamps (RFC 3339 and Go's
/// `time.String()`) and process ids in `/proc` paths (pid 0 is behaviour:
/// cri-o#10341).
static SPANS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z| ?[+-]\d{2}:?\d{2})?(?: [A-Z]{3,4}\b)?",
            "<time>",
        ),
        (r"/proc/[1-9]\d*/", "/proc/<pid>/"),
        // A host id the kubelet's allocator chose, where a message names one
        // (`unmapped uid 196608`): a multiple of 65536 above the first slot
        // (65536 itself is also the usual namespace size, which is behaviour).
        (r"\b((?:uid|gid|id|ID)s? )(\d{6,10})\b", "slot"),
    ]
    .into_iter()
    .filter_map(|(p, to)| Regex::new(p).ok().map(|r| (r, to)))
    .collect()
});

/// Words of letters and digits, joined by hyphens: the unit that ids, run
/// ids and generated names are (`_` and `.` separate them, unlike `\b`).
static TOKEN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*").ok());

fn is_hex_id(part: &str) -> bool {
    // 12 to 64 lowercase hex digits with at least one letter: a sandbox or
    // container id (a long decimal number is not one).
    (12..=64).contains(&part.len())
        && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && part.bytes().any(|b| b.is_ascii_alphabetic())
}

fn is_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// One token's placeholder, or `None` when it carries behaviour.
fn classify(token: &str) -> Option<String> {
    let parts: Vec<&str> = token.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    let hex = |p: &&str| p.bytes().all(|b| b.is_ascii_hexdigit());
    // Pod UIDs (Kubernetes).
    if lens == [8, 4, 4, 4, 12] && parts.iter().all(hex) {
        return Some("<uid>".into());
    }
    // The harness's run ids (`<unix millis>-<pid>`) and the cri target's pod
    // uids built from them (`<run id>-<n>`).
    if (2..=3).contains(&parts.len())
        && is_digits(parts[0], 13..=13)
        && parts[1..].iter().all(|p| is_digits(p, 1..=7))
    {
        return Some("<run>".into());
    }
    // Namespaces made with `generateName: userns-e2e-`.
    if parts.len() == 3 && parts[..2] == ["userns", "e2e"] && parts[2].len() == 5 {
        return Some("userns-e2e-<ns>".into());
    }
    let mut changed = false;
    let out: Vec<String> = parts
        .iter()
        .map(|p| {
            let to = if is_hex_id(p) {
                Some("<id>")
            } else if is_digits(p, 10..=10) && p.starts_with("10") && p.ends_with("0000") {
                // OpenShift's per-namespace uid range (`1000120000/10000`),
                // as SCC refusals and runc's unmapped-uid error print it.
                Some("<ns.uidRangeStart>")
            } else if is_digits(p, 10..=10) && p.starts_with("10") && p.ends_with("9999") {
                Some("<ns.uidRangeEnd>")
            } else {
                None
            };
            changed |= to.is_some();
            to.map(str::to_string).unwrap_or_else(|| p.to_string())
        })
        .collect();
    changed.then(|| out.join("-"))
}

/// `text` with what is incidental to a run replaced by a placeholder: sandbox
/// and container ids, pod UIDs, run ids, timestamps, generated namespace
/// names, OpenShift namespace uid ranges, pids, and allocator slots. Two runs
/// of the same behaviour give the same text; a different message does not.
pub fn normalise_incidental(text: &str) -> String {
    let mut out = text.to_string();
    for (re, to) in SPANS.iter() {
        out = if *to == "slot" {
            re.replace_all(&out, |c: &Captures| match c[2].parse::<u64>() {
                Ok(n) if n > 65536 && n % 65536 == 0 => format!("{}<k·65536>", &c[1]),
                _ => c[0].to_string(),
            })
        } else {
            re.replace_all(&out, *to)
        }
        .into_owned();
    }
    if let Some(token) = TOKEN.as_ref() {
        out = token
            .replace_all(&out, |c: &Captures| {
                classify(&c[0]).unwrap_or_else(|| c[0].to_string())
            })
            .into_owned();
    }
    out
}

/// The observed behaviour as comparable facts: ids, pids, durations and
/// allocator slots left out, incidental text normalised.
pub fn facets(o: &Observation) -> BTreeMap<String, String> {
    let mut m = raw_facets(o);
    for v in m.values_mut() {
        *v = normalise_incidental(v);
    }
    m
}

fn raw_facets(o: &Observation) -> BTreeMap<String, String> {
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

/// Whether a check of the judge looks at the facet `key` (`pod p: uid_map`
/// is looked at by `pod p: uid_map`, `pod p: exec `…` stdout` by the exec
/// facet, and every map by `across pods: host ranges`).
fn looked_at(key: &str, checks: &[&crate::verdict::Check]) -> bool {
    checks.iter().any(|c| {
        c.subject == key
            || c.subject
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(' '))
            || (c.subject == "across pods: host ranges"
                && (key.ends_with(": uid_map") || key.ends_with(": gid_map")))
    })
}

fn checks_of(v: &Verdict) -> &[crate::verdict::Check] {
    match v {
        Verdict::Pass { checks } | Verdict::Fail { checks, .. } => checks,
        Verdict::Skip { .. } | Verdict::Error { .. } => &[],
    }
}

/// What differs between the scenario's results (one per run; `None` = the
/// run lacks it): `(checked, unchecked)`, see [`Row`].
pub fn split_differences(found: &[Option<&ScenarioResult>]) -> (Vec<Difference>, Vec<Difference>) {
    let checks: Vec<&crate::verdict::Check> = found
        .iter()
        .flatten()
        .flat_map(|s| checks_of(&s.verdict))
        .collect();
    differences(
        &found
            .iter()
            .map(|f| f.and_then(|s| s.observation.as_ref()))
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .partition(|d| looked_at(&d.what, &checks))
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
            let (differences, unchecked) = split_differences(&found);
            Row {
                id: id.clone(),
                statuses: found
                    .iter()
                    .map(|f| {
                        f.map(|s| s.verdict.status().to_string())
                            .unwrap_or_else(|| "absent".into())
                    })
                    .collect(),
                differences: differences
                    .into_iter()
                    .chain(diagnosis_change(&found))
                    .collect(),
                unchecked,
            }
        })
        .collect();
    Comparison {
        labels: runs.iter().map(|r| r.label.clone()).collect(),
        rows,
    }
}

/// Changes of run column `run` against the baseline column `base` of one
/// comparison: a verdict, or a checked observation, that differs. Derived
/// from the same rows as the matrix, so the text report, the JSON and the
/// exit code cannot disagree with it.
pub fn changes_against(c: &Comparison, base: usize, run: usize) -> Vec<String> {
    let mut out = Vec::new();
    let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_else(|| "—".into());
    for r in &c.rows {
        let (b, s) = (at(&r.statuses, base), at(&r.statuses, run));
        if b != s {
            out.push(format!("{}: {b} → {s}", r.id));
        }
        for d in &r.differences {
            let (b, s) = (at(&d.values, base), at(&d.values, run));
            if b != s {
                out.push(format!("{}: {}: {b} → {s}", r.id, d.what));
            }
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

fn difference_table(out: &mut String, labels: &[String], diffs: &[Difference]) {
    let _ = writeln!(
        out,
        "| observed | {} |\n| --- |{}",
        labels.join(" | "),
        " --- |".repeat(labels.len())
    );
    for d in diffs {
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

pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## userns-e2e comparison\n");
    let _ = writeln!(out, "| scenario | {} |", c.labels.join(" | "));
    let _ = writeln!(out, "| --- |{}", " --- |".repeat(c.labels.len()));
    for r in &c.rows {
        let mark = if r.changed() { " 🔀" } else { "" };
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
    let changed: Vec<&Row> = c.rows.iter().filter(|r| r.changed()).collect();
    if changed.is_empty() {
        let _ = writeln!(
            out,
            "\nNo verdict and no observed behaviour that a scenario checks differs between these runs."
        );
    } else {
        let _ = writeln!(
            out,
            "\n### What differs (🔀): {} scenario(s)\n",
            changed.len()
        );
        for r in changed {
            let _ = writeln!(out, "#### `{}`\n", r.id);
            if r.statuses.windows(2).any(|w| w[0] != w[1]) {
                let _ = writeln!(out, "Verdicts: {}\n", r.statuses.join(" → "));
            }
            if !r.differences.is_empty() {
                difference_table(&mut out, &c.labels, &r.differences);
            }
        }
    }
    let unchecked: Vec<&Row> = c.rows.iter().filter(|r| !r.unchecked.is_empty()).collect();
    if !unchecked.is_empty() {
        let _ = writeln!(
            out,
            "\n### Observed differently where no expectation looks (not a change)\n\nThese depend on more than the platform, e.g. a concurrently running pod's allocator slot; a scenario that cares makes them an expectation (and `serial: true` when they depend on other pods).\n"
        );
        for r in unchecked {
            let _ = writeln!(out, "#### `{}`\n", r.id);
            difference_table(&mut out, &c.labels, &r.unchecked);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise_incidental as n;

    /// Two texts that differ only in one kind of incidental value normalise
    /// to the same text, and that text shows the placeholder.
    fn same(a: &str, b: &str, placeholder: &str) {
        assert_ne!(a, b);
        assert_eq!(n(a), n(b), "{a:?} vs {b:?}");
        assert!(n(a).contains(placeholder), "{:?} lacks {placeholder}", n(a));
    }

    #[test]
    fn sandbox_and_container_ids() {
        same(
            "failed to start sandbox \"d0411e6c8f3b2a1e9c7d5b3a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e\": x",
            "failed to start sandbox \"21424617aa3b2a1e9c7d5b3a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e\": x",
            "sandbox \"<id>\"",
        );
        same(
            "container 3f2e1d0c9b8a: exited",
            "container 0a1b2c3d4e5f: exited",
            "<id>",
        );
        same(
            "k8s_POD_p_ns_0_3f2e1d0c9b8a11.log",
            "k8s_POD_p_ns_0_0a1b2c3d4e5f22.log",
            "_<id>.log",
        );
    }

    #[test]
    fn pod_uids() {
        same(
            "/var/lib/kubelet/pods/2f1c7a9e-4b1d-4c2e-9f3a-1b2c3d4e5f60/volumes",
            "/var/lib/kubelet/pods/9e8d7c6b-5a49-4382-8170-6f5e4d3c2b1a/volumes",
            "pods/<uid>/volumes",
        );
    }

    #[test]
    fn run_ids_and_the_cri_targets_pod_uids() {
        same(
            "k8s_rewrite_default_1764856944123-4211-7_0",
            "k8s_rewrite_default_1764857000456-977-12_0",
            "_<run>_0",
        );
    }

    #[test]
    fn timestamps() {
        same(
            "started at 2026-12-04T14:02:24.123456Z: boom",
            "started at 2026-12-05T01:00:00Z: boom",
            "at <time>:",
        );
        same(
            "at 2026-12-04 14:02:24.1 +0000 UTC then",
            "at 2026-12-04 15:00:00 +0000 UTC then",
            "at <time> then",
        );
    }

    #[test]
    fn generated_namespace_names() {
        same(
            "pods \"p\" is forbidden: namespace userns-e2e-x7k2q is terminating",
            "pods \"p\" is forbidden: namespace userns-e2e-b94mz is terminating",
            "userns-e2e-<ns>",
        );
    }

    #[test]
    fn openshift_namespace_uid_ranges() {
        same(
            "runAsUser: Invalid value: 0: must be in the ranges: [1000110000, 1000119999]",
            "runAsUser: Invalid value: 0: must be in the ranges: [1000640000, 1000649999]",
            "[<ns.uidRangeStart>, <ns.uidRangeEnd>]",
        );
        same(
            "cannot setuid to unmapped uid 1000120000 in user namespace",
            "cannot setuid to unmapped uid 1000430000 in user namespace",
            "<ns.uidRangeStart>",
        );
    }

    #[test]
    fn pids_but_not_pid_0() {
        same(
            "read /proc/4242/status",
            "read /proc/17/status",
            "/proc/<pid>/",
        );
        assert_eq!(
            n("reading ID mappings from \"/proc/0/uid_map\""),
            "reading ID mappings from \"/proc/0/uid_map\""
        );
    }

    #[test]
    fn allocator_slots() {
        same(
            "cannot setuid to unmapped uid 196608",
            "cannot setuid to unmapped uid 1441792",
            "<k·65536>",
        );
    }

    /// What carries behaviour stays: sizes, the full ping range, the host map,
    /// other words, short hex-looking words and long decimal numbers.
    #[test]
    fn behaviour_is_kept() {
        for text in [
            "0 0 4294967295",
            "write sysctl key net.ipv4.ping_group_range 0 2147483647: invalid argument",
            "auto:size=65536",
            "containers:200000:268435456",
            "not enough unused IDs in user namespace",
            "deadbeef",
            "123456789012345",
        ] {
            assert_eq!(n(text), text);
        }
        assert_ne!(n("invalid argument"), n("permission denied"));
    }
}
