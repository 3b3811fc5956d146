//! The typed shape of a scenario file. Unknown fields are errors everywhere
//! (`deny_unknown_fields` here; the pod is checked against k8s-openapi's
//! `v1.Pod` by the loader).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::{RuntimeName, TargetKind};
use crate::scenario::matchers::{MapExpect, TextMatch, ValueMatch};
use crate::version::VersionReq;

/// A scenario as loaded: where it came from plus what the file says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Stable id: the path below the scenario root without `.yaml`
    /// (`annotation/auto-default`), used as test name and in reports.
    pub id: String,
    /// The file, as given on the command line (joined with the root).
    pub file: PathBuf,
    /// The topic: the first directory below the root (`annotation`).
    pub topic: String,
    pub spec: ScenarioFile,
}

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioFile {
    /// What the scenario shows, in a sentence or two.
    pub description: String,
    /// The facts it encodes: `FACTS.md#<id>` of docs/FACTS.md, an upstream source listed there, or a URL.
    pub cites: Vec<String>,
    /// What the target must offer; otherwise the scenario is skipped, saying why.
    #[serde(default)]
    pub requires: Requirements,
    /// Who creates the pods (kube target); default: the harness's own identity.
    #[serde(default, rename = "as")]
    pub account: Option<Account>,
    /// The scenario's namespace (kube target).
    #[serde(default)]
    pub namespace: NamespaceSpec,
    /// How long to wait for each pod to settle; default 120s (kube) or 30s (cri, local).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    /// Run alone: no other scenario's pods exist meanwhile. For expectations
    /// that hold only without concurrent pods, e.g. an exact host base from
    /// CRI-O's `auto` allocator, which concurrent pods share (they may split
    /// or shift its range).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub serial: bool,
    /// The pods, created in order.
    pub pods: Vec<PodCase>,
    /// Expectations across all pods of the scenario.
    #[serde(default)]
    pub across: Across,
}

/// How the scenario's namespace is made (kube target).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// The Pod Security level enforced in the namespace (`privileged`,
    /// `baseline`, `restricted`), set as its `pod-security.kubernetes.io/*`
    /// labels; on OpenShift the label syncer is told to leave them.
    pub pod_security: Option<PodSecurityLevel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl PodSecurityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

/// A pod and what must happen to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodCase {
    /// A Kubernetes `v1.Pod`; strings may hold `${template}` references.
    pub pod: PodTemplate,
    /// Which container to read maps, `id`, sysctls and exec output from;
    /// default: the first container.
    #[serde(default)]
    pub probe: Option<String>,
    /// The expectation that holds unless a `cases` entry matches.
    #[serde(default)]
    pub expect: Expect,
    /// Expectations that differ by runtime, version or platform: the fields of
    /// every matching entry replace the default's, in order.
    #[serde(default)]
    pub cases: Vec<Case>,
}

/// The pod, kept as JSON so templates can be filled per target; the loader
/// checks it against k8s-openapi's `v1.Pod`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PodTemplate(pub serde_json::Value);

impl JsonSchema for PodTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pod".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::scenario::pod_schema::pod_schema(generator)
    }
}

/// An override of the expectation for some environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Case {
    pub when: Condition,
    pub expect: Expect,
}

/// An environment predicate; every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Condition {
    pub target: Option<TargetKind>,
    pub runtime: Option<RuntimeName>,
    /// Range over the runtime's version.
    pub runtime_version: Option<VersionReq>,
    /// Range over the Kubernetes server version.
    pub kubernetes: Option<VersionReq>,
    /// `true`/`false`: is OpenShift; a range: OpenShift of that version.
    pub openshift: Option<OpenShiftReq>,
    /// Feature gates that must be on (`true`) or off (`false`).
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    /// Whether the target sends user-namespace mode NODE for pods without
    /// `hostUsers: false` (kubelet gate on), which hides the CRI-O annotation.
    pub sends_node_userns_mode: Option<bool>,
}

/// OpenShift presence, or a version range of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OpenShiftReq {
    Present(bool),
    Version(VersionReq),
}

/// What a scenario needs from the target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Requirements {
    /// Targets the scenario can run on (e.g. `[kube]` when it needs admission).
    pub targets: Option<Vec<TargetKind>>,
    pub runtime: Option<RuntimeName>,
    pub runtime_version: Option<VersionReq>,
    pub kubernetes: Option<VersionReq>,
    pub openshift: Option<OpenShiftReq>,
    /// Feature gates that must be on (`true`) or off (`false`).
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    /// The runtime handler must report `user_namespaces` support (or must not).
    pub user_namespaces: Option<bool>,
    /// Users that must (`true`) or must not (`false`) have subordinate ids on
    /// the node, e.g. `{containers: true}`.
    #[serde(default)]
    pub subids: BTreeMap<String, bool>,
    /// Range over the node's kernel version.
    pub kernel: Option<VersionReq>,
    pub sends_node_userns_mode: Option<bool>,
    /// OpenShift SecurityContextConstraints that must exist on the cluster
    /// (MicroShift ships fewer than OpenShift: no `nested-container`).
    #[serde(default)]
    pub sccs: Vec<String>,
    /// Values the runtime's effective configuration must hold, by dotted
    /// TOML key, e.g. `{crio.runtime.default_sysctls: [...]}` (CRI-O's
    /// `crio status config`). A key missing from the runtime's dump holds the
    /// empty value (`[]`, `""`, `{}`): CRI-O leaves empty settings out.
    #[serde(default)]
    pub runtime_config: BTreeMap<String, serde_json::Value>,
}

/// The identity that creates the pods (kube target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Account {
    /// Impersonate this user (OpenShift user, e.g. `test`), given `role` in the
    /// scenario's namespace, and the ClusterRoles in `also` (e.g.
    /// `system:openshift:scc:anyuid`, the `use` of an SCC).
    User {
        name: String,
        #[serde(default = "default_role")]
        role: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<String>,
    },
    /// Impersonate a ServiceAccount the harness creates in the namespace, given
    /// `role` and the ClusterRoles in `also`.
    ServiceAccount {
        name: String,
        #[serde(default = "default_role")]
        role: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<String>,
    },
}

fn default_role() -> String {
    "edit".into()
}

/// What must happen to one pod. Every field is optional: only what is written
/// is judged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    pub admission: Option<AdmissionExpect>,
    /// The admitting SCC (`openshift.io/scc`).
    pub scc: Option<String>,
    pub outcome: Option<OutcomeExpect>,
    /// `/proc/self/uid_map` in the container.
    pub uid_map: Option<MapExpect>,
    /// `/proc/self/gid_map` in the container.
    pub gid_map: Option<MapExpect>,
    /// Output of `id` in the container.
    pub id: Option<TextMatch>,
    /// The host uid of the container's process (`/proc/<pid>/status`).
    pub host_uid: Option<ValueMatch>,
    /// Sysctl values read from `/proc/sys` (dotted names).
    pub sysctls: Option<BTreeMap<String, TextMatch>>,
    /// Commands run in the container and what they print.
    pub exec: Option<Vec<ExecExpect>>,
}

/// Admission by the API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AdmissionExpect {
    Admitted,
    /// Refused; `message` must be contained in the API server's message.
    Refused {
        message: String,
        #[serde(default)]
        code: Option<u16>,
    },
}

/// The final state of the pod. `reason` matches exactly; `message` matches
/// by substring (messages carry ids and paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum OutcomeExpect {
    Running,
    Pending,
    Waiting {
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
    Terminated {
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        exit_code: Option<i32>,
    },
    SandboxFailed {
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
    /// Any failure (sandbox, waiting container, non-zero exit) whose message
    /// contains `message`: for facts that differ only in where they surface.
    Failed {
        message: String,
    },
}

/// A command to run in the probed container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecExpect {
    pub command: Vec<String>,
    #[serde(default)]
    pub stdout: Option<TextMatch>,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// Expectations across the scenario's pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Across {
    /// The host ranges of every pod's uid_map (and gid_map) are pairwise disjoint.
    #[serde(default)]
    pub disjoint_ranges: bool,
}
