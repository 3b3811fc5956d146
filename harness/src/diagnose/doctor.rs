//! `doctor`'s readiness table, computed from the facts a target reported
//! and the results of its probe pods (pure; the CLI connects, runs the
//! probes and prints). A row that is not ok names the catalog entry whose
//! fix applies.

use serde::Serialize;

use super::{Diagnosis, Entry, Severity};
use crate::facts::{Facts, RuntimeName, SubIdRange};
use crate::report::results::ScenarioResult;
use crate::verdict::Verdict;
use crate::version::Version;

/// How a row came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Ok,
    /// Works, with a known risk or a path that does not (e.g. the annotation).
    Warn,
    /// User-namespaced pods will not work as asked: the target is not ready.
    Fail,
    /// The target did not report it.
    Unknown,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Ok => "ok",
            RowStatus::Warn => "warn",
            RowStatus::Fail => "FAIL",
            RowStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub check: String,
    pub status: RowStatus,
    /// What the target reported, in a few words.
    pub observed: String,
    /// The catalog entry with the fix, for a row that is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

/// Ready when no row failed.
pub fn ready(rows: &[Row]) -> bool {
    rows.iter().all(|r| r.status != RowStatus::Fail)
}

/// The kubelet's default pod count, for "big enough".
const MAX_PODS: u64 = 110;
const IDS_PER_POD: u64 = 65536;

struct Table<'a> {
    catalog: &'a [Entry],
    rows: Vec<Row>,
}

impl Table<'_> {
    fn add(&mut self, check: &str, status: RowStatus, observed: String, entry: Option<&str>) {
        let diagnosis = match status {
            RowStatus::Ok | RowStatus::Unknown => None,
            RowStatus::Warn | RowStatus::Fail => entry.and_then(|id| self.entry(id)),
        };
        self.rows.push(Row {
            check: check.into(),
            status,
            observed,
            diagnosis,
        });
    }

    fn entry(&self, id: &str) -> Option<Diagnosis> {
        self.catalog
            .iter()
            .find(|e| e.id == id)
            .map(|e| Diagnosis::of(e, Vec::new()))
    }
}

fn ranges(r: &[SubIdRange]) -> String {
    r.iter()
        .map(|r| format!("{}:{}", r.start, r.count))
        .collect::<Vec<_>>()
        .join(", ")
}

fn overlaps(a: &[SubIdRange], b: &[SubIdRange]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| {
            x.start < y.start.saturating_add(y.count) && y.start < x.start.saturating_add(x.count)
        })
    })
}

/// The table: facts first, then one row per probe.
pub fn rows(catalog: &[Entry], facts: &Facts, probes: &[ScenarioResult]) -> Vec<Row> {
    let mut t = Table {
        catalog,
        rows: Vec::new(),
    };
    let node = facts.nodes.first();
    let runtime = facts.runtime.as_ref();
    let crio = runtime.and_then(|r| r.name) == Some(RuntimeName::CriO);

    match node.and_then(|n| n.kernel.as_deref()) {
        None => t.add("kernel", RowStatus::Unknown, "not reported".into(), None),
        Some(k) => {
            let ok = Version::parse(k).is_some_and(|v| (v.0.major, v.0.minor) >= (6, 3));
            let status = if ok { RowStatus::Ok } else { RowStatus::Fail };
            let observed = format!("{k} (idmapped tmpfs needs 6.3+)");
            t.add(
                "kernel",
                status,
                observed,
                Some("runtime-without-userns-support"),
            );
        }
    }

    match runtime {
        None => t.add("runtime", RowStatus::Unknown, "not reported".into(), None),
        Some(r) => {
            let minimum = match r.name {
                Some(RuntimeName::CriO) => Some((1, 30)),
                Some(RuntimeName::Containerd) => Some((2, 0)),
                None => None,
            };
            let status = match (&r.version, minimum) {
                (Some(v), Some(m)) if (v.0.major, v.0.minor) >= m => RowStatus::Ok,
                (Some(_), Some(_)) => RowStatus::Fail,
                _ => RowStatus::Unknown,
            };
            let observed = format!("{} {}", r.reported_name, r.reported_version);
            t.add(
                "runtime",
                status,
                observed,
                Some("runtime-without-userns-support"),
            );
        }
    }

    match runtime.map(|r| &r.handlers) {
        Some(h) if !h.is_empty() => {
            let with: Vec<String> = h
                .iter()
                .filter(|(_, f)| f.user_namespaces)
                .map(|(n, _)| {
                    if n.is_empty() {
                        "(default)".into()
                    } else {
                        n.clone()
                    }
                })
                .collect();
            let (status, observed) = if with.is_empty() {
                (
                    RowStatus::Fail,
                    "no handler reports user_namespaces".to_string(),
                )
            } else {
                (
                    RowStatus::Ok,
                    format!("user_namespaces: {}", with.join(", ")),
                )
            };
            t.add(
                "handler user namespaces",
                status,
                observed,
                Some("runtime-without-userns-support"),
            );
        }
        _ => t.add(
            "handler user namespaces",
            RowStatus::Unknown,
            "the runtime reports no handler features".into(),
            None,
        ),
    }

    let subuids = node.and_then(|n| n.subuids.as_ref());
    let containers = subuids.and_then(|s| s.get("containers"));
    let kubelet = subuids.and_then(|s| s.get("kubelet"));
    if crio {
        match (subuids, containers) {
            (None, _) => t.add(
                "subids containers",
                RowStatus::Unknown,
                "/etc/subuid as CRI-O sees it was not read".into(),
                None,
            ),
            (Some(_), None) => t.add(
                "subids containers",
                RowStatus::Fail,
                "CRI-O sees no `containers` line in /etc/subuid: `auto` has no ids".into(),
                Some("crio-no-subids-for-containers"),
            ),
            (Some(_), Some(c)) => t.add(
                "subids containers",
                RowStatus::Ok,
                format!("containers {}", ranges(c)),
                None,
            ),
        }
    }
    match (subuids, kubelet) {
        (None, _) => t.add(
            "subids kubelet",
            RowStatus::Unknown,
            "/etc/subuid was not read".into(),
            None,
        ),
        (Some(_), None) => match containers {
            Some(c) => t.add(
                "subids kubelet",
                RowStatus::Warn,
                format!(
                    "no `kubelet` line: its default range 65536…2^32 covers containers {}",
                    ranges(c)
                ),
                Some("kubelet-default-range-covers-containers"),
            ),
            None => t.add(
                "subids kubelet",
                RowStatus::Ok,
                "no `kubelet` line: the default range 65536…2^32".into(),
                None,
            ),
        },
        (Some(_), Some(k)) => {
            let mut problems = Vec::new();
            if containers.is_some_and(|c| overlaps(c, k)) {
                problems.push("overlaps containers");
            }
            if k.iter()
                .any(|r| r.start % IDS_PER_POD != 0 || r.count % IDS_PER_POD != 0)
            {
                problems.push("not aligned to 65536");
            }
            let (max_pods, whose) = match node.and_then(|n| n.max_pods) {
                Some(m) => (m, "the node's maxPods"),
                None => (MAX_PODS, "the kubelet's default maxPods"),
            };
            let too_small;
            if k.iter().map(|r| r.count).sum::<u64>() < IDS_PER_POD * max_pods {
                too_small = format!("smaller than 65536 × {max_pods} pods ({whose})");
                problems.push(&too_small);
            }
            let status = if problems.is_empty() {
                RowStatus::Ok
            } else {
                RowStatus::Warn
            };
            let mut observed = format!("kubelet {}", ranges(k));
            if !problems.is_empty() {
                observed.push_str(&format!(": {}", problems.join(", ")));
            }
            t.add(
                "subids kubelet",
                status,
                observed,
                Some("overlapping-host-ranges"),
            );
        }
    }

    if crio {
        match runtime.and_then(|r| r.config.as_ref()) {
            None => t.add(
                "CRI-O allowed annotations",
                RowStatus::Unknown,
                "CRI-O's config was not read".into(),
                None,
            ),
            Some(config) => {
                let allows = |v: &serde_json::Value| {
                    v.get("allowed_annotations")
                        .and_then(|a| a.as_array())
                        .is_some_and(|a| {
                            a.iter().any(|x| {
                                matches!(
                                    x.as_str(),
                                    Some("io.kubernetes.cri-o.userns-mode" | "userns-mode.crio.io")
                                )
                            })
                        })
                };
                let runtime = config.pointer("/crio/runtime");
                let mut allowing: Vec<String> = Vec::new();
                for (kind, table) in [("handler", "runtimes"), ("workload", "workloads")] {
                    if let Some(m) = runtime
                        .and_then(|r| r.get(table))
                        .and_then(|m| m.as_object())
                    {
                        allowing.extend(
                            m.iter()
                                .filter(|(_, v)| allows(v))
                                .map(|(n, _)| format!("{kind} {n}")),
                        );
                    }
                }
                let (status, observed) = if allowing.is_empty() {
                    (
                        RowStatus::Warn,
                        "no handler or workload allows userns-mode: the annotation is dropped"
                            .to_string(),
                    )
                } else {
                    (
                        RowStatus::Ok,
                        format!("userns-mode allowed by {}", allowing.join(", ")),
                    )
                };
                t.add(
                    "CRI-O allowed annotations",
                    status,
                    observed,
                    Some("crio-annotation-not-allowed"),
                );
                let minimum = runtime
                    .and_then(|r| r.get("minimum_mappable_uid"))
                    .and_then(|v| v.as_i64())
                    .unwrap_or(-1);
                if minimum < 0 {
                    t.add(
                        "CRI-O minimum_mappable_uid",
                        RowStatus::Warn,
                        "unset: `uidmapping=` may map host root into a pod".into(),
                        Some("userns-container-runs-as-host-root"),
                    );
                } else {
                    t.add(
                        "CRI-O minimum_mappable_uid",
                        RowStatus::Ok,
                        minimum.to_string(),
                        None,
                    );
                }
            }
        }
    }

    match facts.sends_node_userns_mode {
        None => t.add("kubelet mode", RowStatus::Unknown, "not known".into(), None),
        Some(true) if crio => t.add(
            "kubelet mode",
            RowStatus::Warn,
            "sends NODE for pods without hostUsers: false: use hostUsers: false, not the annotation"
                .into(),
            Some("crio-annotation-under-node-mode"),
        ),
        Some(true) => t.add(
            "kubelet mode",
            RowStatus::Ok,
            "UserNamespacesSupport on: hostUsers: false is honoured".into(),
            None,
        ),
        Some(false) => t.add(
            "kubelet mode",
            RowStatus::Ok,
            "no user-namespace mode sent: hostUsers is dropped, CRI-O's annotation decides".into(),
            None,
        ),
    }

    // Pod Security judges every pod of a cluster; restricted relaxes
    // runAsNonRoot for hostUsers: false pods only with this gate (built in
    // from 1.35). A node target has no admission, so no row.
    if facts.kubernetes.is_some() && !facts.kubelet_emulated {
        let gate = "UserNamespacesPodSecurityStandards";
        let known = facts.feature_gates.get(gate).copied().or_else(|| {
            facts
                .kubernetes
                .as_ref()
                .and_then(|v| crate::requirements::default_gate(gate, v))
        });
        match known {
            Some(true) => t.add(
                "Pod Security",
                RowStatus::Ok,
                "restricted admits root inside a hostUsers: false pod (UserNamespacesPodSecurityStandards)"
                    .into(),
                None,
            ),
            Some(false) => t.add(
                "Pod Security",
                RowStatus::Warn,
                "restricted refuses root inside a hostUsers: false pod (UserNamespacesPodSecurityStandards off): the namespace needs baseline, or the pod a non-root uid"
                    .into(),
                Some("pod-security-refuses-after-scc"),
            ),
            None => t.add(
                "Pod Security",
                RowStatus::Unknown,
                "UserNamespacesPodSecurityStandards not known".into(),
                None,
            ),
        }
    }

    if let Some(os) = &facts.openshift {
        let version = os
            .version
            .as_ref()
            .map_or_else(|| "version not read".to_string(), |v| v.to_string());
        let names: Vec<&str> = os.sccs.iter().map(|s| s.name.as_str()).collect();
        t.add(
            "OpenShift",
            RowStatus::Ok,
            format!("{version}; SCCs: {}", names.join(", ")),
            None,
        );
        let v3 = os.sccs.iter().find(|s| s.name == "restricted-v3");
        let v2 = os.sccs.iter().find(|s| s.name == "restricted-v2");
        match (v3, v2) {
            (None, _) if os.sccs.is_empty() => t.add(
                "OpenShift restricted-v3",
                RowStatus::Unknown,
                "the SCCs were not readable".into(),
                None,
            ),
            (None, _) => t.add(
                "OpenShift restricted-v3",
                RowStatus::Warn,
                format!(
                    "absent ({} SCCs): no SCC requires pod-level user namespaces",
                    os.sccs.len()
                ),
                Some("openshift-no-usable-scc"),
            ),
            (Some(v3), Some(v2)) if v3.priority.unwrap_or(0) == v2.priority.unwrap_or(0) => t.add(
                "OpenShift restricted-v3",
                RowStatus::Warn,
                "present, tied with restricted-v2: user-namespaced pods must pin it (openshift.io/required-scc)"
                    .into(),
                Some("openshift-unpinned-userns-restricted-v2"),
            ),
            (Some(v3), _) => t.add(
                "OpenShift restricted-v3",
                RowStatus::Ok,
                format!(
                    "present ({})",
                    v3.user_namespace_level.as_deref().unwrap_or("AllowHostLevel")
                ),
                None,
            ),
        }
    }

    for p in probes {
        // A failed hostUsers: false probe means the target is not ready; a
        // failed annotation probe means only that path does not work.
        let severe = !p.id.contains("annotation");
        let cause = p
            .diagnoses
            .iter()
            .find(|d| d.severity == Severity::Cause)
            .cloned();
        let (status, observed) = match &p.verdict {
            Verdict::Pass { .. } => (RowStatus::Ok, p.description.clone()),
            Verdict::Skip { reason } => (RowStatus::Unknown, format!("not run: {reason}")),
            Verdict::Fail { reason, .. } | Verdict::Error { reason } => (
                if severe {
                    RowStatus::Fail
                } else {
                    RowStatus::Warn
                },
                match &cause {
                    Some(_) => reason.clone(),
                    None => format!("{reason} (no diagnosis in the catalog matches)"),
                },
            ),
        };
        t.rows.push(Row {
            check: format!("probe {}", p.id.trim_start_matches("doctor/")),
            status,
            observed,
            diagnosis: if status == RowStatus::Ok { None } else { cause },
        });
    }
    t.rows
}

/// The table a person reads: one line per row, the fix under a row that is not ok.
pub fn table(label: &str, rows: &[Row], ready: bool) -> String {
    use std::fmt::Write;
    let width = rows.iter().map(|r| r.check.len()).max().unwrap_or(0);
    let mut s = format!("target: {label}\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{:<width$}  {:<7}  {}",
            r.check,
            r.status.as_str(),
            r.observed
        );
        if r.status != RowStatus::Ok {
            if let Some(d) = &r.diagnosis {
                let text = crate::report::diagnoses::text(std::slice::from_ref(d), false);
                for line in text.lines() {
                    let _ = writeln!(s, "{:width$}    {line}", "");
                }
            }
        }
    }
    s.push_str(if ready {
        "ready: user-namespaced pods can run here\n"
    } else {
        "not ready: see the rows marked FAIL\n"
    });
    s
}
