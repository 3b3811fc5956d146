//! What a target reported about itself: the environment that requirements are
//! checked against and that reports record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::version::Version;

/// How the harness reaches the platform.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The harness-managed containerd node on this machine (the default).
    Local,
    /// A CRI runtime socket, driven directly.
    Cri,
    /// A Kubernetes or OpenShift cluster through its API server.
    Kube,
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TargetKind::Local => "local",
            TargetKind::Cri => "cri",
            TargetKind::Kube => "kube",
        })
    }
}

/// The container runtime family.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeName {
    #[serde(rename = "cri-o")]
    CriO,
    Containerd,
}

impl RuntimeName {
    /// Maps the CRI `runtime_name` or a node's `containerRuntimeVersion` scheme
    /// (`cri-o://1.33.0`, `containerd://2.1.9`) to a family.
    pub fn from_reported(name: &str) -> Option<RuntimeName> {
        let n = name.to_ascii_lowercase();
        if n.starts_with("cri-o") || n.starts_with("crio") {
            Some(RuntimeName::CriO)
        } else if n.starts_with("containerd") {
            Some(RuntimeName::Containerd)
        } else {
            None
        }
    }
}

impl std::fmt::Display for RuntimeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuntimeName::CriO => "cri-o",
            RuntimeName::Containerd => "containerd",
        })
    }
}

/// A node's container runtime as reported by CRI `Version`/`Status` or by
/// the Node object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeFacts {
    /// Family, when recognised.
    pub name: Option<RuntimeName>,
    /// The name exactly as reported (e.g. `containerd`, `cri-o`).
    pub reported_name: String,
    /// The version exactly as reported.
    pub reported_version: String,
    /// Parsed version, when it could be parsed.
    pub version: Option<Version>,
    /// Runtime handlers and whether each reports `user_namespaces` support;
    /// empty when the runtime does not report handlers.
    #[serde(default)]
    pub handlers: BTreeMap<String, HandlerFeatures>,
    /// The runtime's effective configuration, when it serves one (CRI-O:
    /// `crio status config`, TOML as JSON); what `requires.runtimeConfig`
    /// is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

impl RuntimeFacts {
    /// The version as every report and message shows it: the parsed,
    /// normalised `major.minor.patch` (`2.1.9`, not `2.1.9+unknown` or
    /// `v2.1.9`), else the raw text; the raw one stays in `reported_version`.
    pub fn shown_version(&self) -> String {
        self.version
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| self.reported_version.clone())
    }

    /// `containerd 2.1.9`.
    pub fn shown(&self) -> String {
        format!("{} {}", self.reported_name, self.shown_version())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandlerFeatures {
    pub user_namespaces: bool,
    pub recursive_read_only_mounts: bool,
}

/// One subordinate id range (`/etc/subuid` line `user:start:count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SubIdRange {
    pub start: u64,
    pub count: u64,
}

/// What is known of the node's configuration. `None` means "not known", which
/// differs from "known to be absent".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeFacts {
    pub name: Option<String>,
    pub kernel: Option<String>,
    /// Subordinate uid ranges per user, from `/etc/subuid`, when readable.
    pub subuids: Option<BTreeMap<String, Vec<SubIdRange>>>,
    /// Subordinate gid ranges per user, from `/etc/subgid`, when readable.
    pub subgids: Option<BTreeMap<String, Vec<SubIdRange>>>,
    /// The node's pod capacity (`status.capacity.pods`: the kubelet's
    /// maxPods), when a cluster reports it: the kubelet's id range must hold
    /// 65536 ids for each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftFacts {
    /// Cluster version (`ClusterVersion` status, or MicroShift's ConfigMap
    /// `kube-public/microshift-version`), when readable.
    pub version: Option<Version>,
    /// The SecurityContextConstraints, by name; empty when unreadable (then
    /// named in `unreadable`).
    #[serde(default)]
    pub sccs: Vec<SccFact>,
}

/// One SCC: what decides which one admits a pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SccFact {
    pub name: String,
    /// `priority` (unset counts as 0 when SCCs are ordered).
    pub priority: Option<i64>,
    /// `userNamespaceLevel` (`AllowHostLevel` when unset, `RequirePodLevel`).
    pub user_namespace_level: Option<String>,
}

/// The kubelet gate that makes it send user-namespace modes (KEP-127).
pub const USERNS_GATE: &str = "UserNamespacesSupport";

/// The host ids the kubelet hands out to pods with `hostUsers: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeletIdRange {
    /// First host id of the range.
    pub first: u64,
    /// How many host ids it spans.
    pub count: u64,
    /// Host ids per pod (one slot).
    pub ids_per_pod: u32,
    /// Where the range came from: the node's `kubelet` subordinate ids, or
    /// the kubelet's default without them.
    pub source: String,
}

/// Everything a target reported, probed once per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    pub target: TargetKind,
    /// A human label of the target (socket path, API server URL, context).
    pub endpoint: String,
    /// The runtime; for `kube`, the first node's (all nodes are in `nodes`).
    pub runtime: Option<RuntimeFacts>,
    /// Kubernetes server version (kube target only).
    pub kubernetes: Option<Version>,
    /// Set when the cluster is OpenShift.
    pub openshift: Option<OpenShiftFacts>,
    /// Feature gates known to be on or off; absent means unknown.
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    /// Where each gate of `feature_gates` was read (the kubelet's metrics
    /// through the node proxy, the API server's metrics, the emulated
    /// kubelet). A gate read nowhere falls back to its default for the
    /// Kubernetes version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gate_sources: BTreeMap<String, String>,
    /// Whether the target sees a container's process from the host (`/proc`
    /// on the node): the cri and local targets always, a cluster only with
    /// `--node-evidence`. Without it `hostUid` cannot be observed, and is
    /// reported as not checked instead of failing.
    #[serde(default)]
    pub host_view: bool,
    /// Nodes (one for `local`/`cri`).
    #[serde(default)]
    pub nodes: Vec<NodeFacts>,
    /// Whether the target places pods without `hostUsers: false` in the host
    /// user namespace by sending mode NODE (the kubelet's behaviour once
    /// `UserNamespacesSupport` is on), which makes CRI-O ignore the annotation.
    pub sends_node_userns_mode: Option<bool>,
    /// The harness plays the kubelet itself (cri, local), so it can send or
    /// not send user-namespace options per scenario, as the scenario's
    /// `sendsNodeUsernsMode` requirement asks; `sends_node_userns_mode` is
    /// then the default for scenarios that do not say.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kubelet_emulated: bool,
    /// The kubelet's user-namespace id range, where the target knows it
    /// (cri, local: the range the emulated kubelet takes its slots from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_ids: Option<KubeletIdRange>,
    /// Facts the target could not read, each naming what and why (e.g. a
    /// 403 listing nodes): requirements on them then skip, and the run says so.
    /// Also the target's own permissions the run goes on without
    /// (`may not get nodes/proxy — …`), or why they were not checked
    /// (`permissions not checked: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// How an entry of [`Facts::unreadable`] begins when it names a permission
/// of the target's own identity that the run goes on without.
pub const MISSING_PERMISSION: &str = "may not ";
/// How it begins when the target could not check its permissions.
pub const PERMISSIONS_UNCHECKED: &str = "permissions not checked: ";

impl Facts {
    /// The facts one scenario runs under: where the harness plays the
    /// kubelet, the kubelet mode the scenario requires.
    pub fn for_scenario(&self, requires: &crate::scenario::Requirements) -> Facts {
        let mut facts = self.clone();
        if let (true, Some(want)) = (self.kubelet_emulated, requires.sends_node_userns_mode) {
            facts.sends_node_userns_mode = Some(want);
            // The emulated kubelet's gate is the one it plays for this scenario.
            facts.feature_gates.insert(USERNS_GATE.to_string(), want);
        }
        facts
    }

    /// What the run warns of for each entry of `unreadable` (on stderr and
    /// in the reports).
    pub fn warnings(&self) -> Vec<String> {
        self.unreadable
            .iter()
            .map(|u| {
                if u.starts_with(MISSING_PERMISSION) || u.starts_with(PERMISSIONS_UNCHECKED) {
                    // A permission note already says what it means for the run.
                    u.clone()
                } else {
                    format!("could not read {u}; requirements on it will skip")
                }
            })
            .collect()
    }

    /// A one-line label for reports: `containerd 2.1.9 (local)`.
    pub fn label(&self) -> String {
        match &self.runtime {
            Some(r) => format!("{} ({})", r.shown(), self.target),
            None => format!("unknown runtime ({})", self.target),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_permission_note_is_warned_as_it_is_and_a_fact_with_what_it_means() {
        let mut f = crate::requirements::tests::crio_openshift("1.33.2");
        f.unreadable = vec![
            "nodes: forbidden (403)".into(),
            "may not get nodes/proxy — the kubelet's gates; instead, x".into(),
            "permissions not checked: SelfSubjectAccessReview: no such path (404)".into(),
        ];
        assert_eq!(
            f.warnings(),
            [
                "could not read nodes: forbidden (403); requirements on it will skip",
                "may not get nodes/proxy — the kubelet's gates; instead, x",
                "permissions not checked: SelfSubjectAccessReview: no such path (404)",
            ]
        );
    }
}
