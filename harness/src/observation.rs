//! What a target saw when it ran a scenario. Every target (CRI socket, local
//! node, Kubernetes API) produces this same shape, so one judge serves all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::idmap::IdMap;

/// Whitespace trimmed and collapsed, so `0\t65535\n` equals `0 65535`: how
/// observed text is recorded and compared.
pub fn normalize_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Everything observed for one scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    /// One entry per pod of the scenario, in the scenario's order.
    pub pods: Vec<PodObservation>,
    /// Template values learned while executing (e.g. `ns.uidRangeStart` of
    /// the namespace made for this scenario), merged over the run's values
    /// when judging.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Free-form evidence lines (what was created, where, node-side reads).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Objects this scenario created that could not be removed (each names
    /// the object and why), so `cleanup` can be pointed at them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// The kubelet mode the pods were created under: `true` when pods
    /// without `hostUsers: false` were sent user-namespace mode NODE (the
    /// kubelet's `UserNamespacesSupport` on), `false` when no mode was sent;
    /// absent when unknown. Diagnoses read it (CRI-O ignores its annotation
    /// under NODE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sends_node_userns_mode: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodObservation {
    /// `metadata.name` of the pod as written in the scenario.
    pub name: String,
    /// The platform's own id (pod UID, or CRI sandbox id), for evidence.
    pub id: Option<String>,
    pub admission: Admission,
    /// The admitting SCC (`openshift.io/scc` annotation), OpenShift only.
    pub scc: Option<String>,
    pub outcome: Outcome,
    /// Events about the pod (kube), or the failing CRI call (cri), in order.
    #[serde(default)]
    pub events: Vec<Event>,
    /// What was read from inside the probed container.
    #[serde(default)]
    pub inside: Probe,
    /// What was read from the host side (`/proc/<pid>/…` of the container's
    /// process), when the target can see the host.
    pub host: Option<HostView>,
    /// Container logs, when the container could not be exec'd.
    pub logs: Option<String>,
    /// Milliseconds from creation request to the final state.
    pub duration_ms: u64,
    /// Milliseconds per phase of this pod's life (`sandbox`, `create`,
    /// `start`, `settle`, `probe`, `host`, `stop`, `remove`; which ones depends
    /// on the target), to see where a scenario's time goes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phases_ms: BTreeMap<String, u64>,
    /// How the pod asked for a user namespace, as it was sent (for
    /// diagnoses: a host map means something else for an annotated pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<UsernsAsk>,
}

/// The user-namespace request of a pod as created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsernsAsk {
    /// CRI-O's `userns-mode.crio.io` (else `io.kubernetes.cri-o.userns-mode`) annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_annotation: Option<String>,
    /// `spec.hostUsers` as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_users: Option<bool>,
}

impl UsernsAsk {
    /// The request of a pod about to be created.
    pub fn of(pod: &k8s_openapi::api::core::v1::Pod) -> UsernsAsk {
        let annotations = pod.metadata.annotations.as_ref();
        let annotation = ["userns-mode.crio.io", "io.kubernetes.cri-o.userns-mode"]
            .iter()
            .find_map(|k| annotations.and_then(|a| a.get(*k)).cloned());
        UsernsAsk {
            userns_annotation: annotation,
            host_users: pod.spec.as_ref().and_then(|s| s.host_users),
        }
    }
}

/// The admission decision of the API server (kube), or `Admitted` for targets
/// without admission control.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Admission {
    #[default]
    Admitted,
    Refused {
        /// HTTP status code (403 for SCC / Pod Security, 422 for validation).
        code: Option<u16>,
        /// The API server's message, verbatim.
        message: String,
    },
}

/// Where the pod ended up when observation stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Outcome {
    /// Every container running.
    Running,
    /// A container is waiting (e.g. `CreateContainerError`).
    ContainerWaiting {
        container: String,
        reason: String,
        message: String,
    },
    /// A container has terminated.
    ContainerTerminated {
        container: String,
        exit_code: i32,
        reason: String,
        message: String,
    },
    /// The sandbox could not be created (`FailedCreatePodSandBox` event, or
    /// RunPodSandbox error from a CRI runtime).
    SandboxFailed { reason: String, message: String },
    /// Still pending when the timeout came, with the last reason seen.
    Pending {
        reason: Option<String>,
        message: Option<String>,
    },
    /// Not created at all (refused at admission).
    #[default]
    NotCreated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    pub message: String,
}

/// Results of reading inside the container (ExecSync / exec).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Which container was probed.
    pub container: Option<String>,
    pub uid_map: Option<IdMap>,
    pub gid_map: Option<IdMap>,
    /// Output of `id`.
    pub id: Option<String>,
    /// Sysctl name (dotted) → value as read from `/proc/sys`, whitespace
    /// normalised to single spaces.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Commands the scenario asked to run.
    #[serde(default)]
    pub exec: Vec<ExecResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecResult {
    pub command: Vec<String>,
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The host's view of the container's init process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostView {
    pub pid: Option<u32>,
    pub uid_map: Option<IdMap>,
    pub gid_map: Option<IdMap>,
    /// Effective uid of the process as the host sees it (`/proc/<pid>/status`).
    pub host_uid: Option<u64>,
    pub host_gid: Option<u64>,
    /// Where this view came from (`host /proc`, `docker exec kind-worker`, `oc debug node/…`).
    pub source: String,
}

impl PodObservation {
    /// The uid map to judge: the one read inside, else the host's.
    pub fn uid_map(&self) -> Option<&IdMap> {
        self.inside
            .uid_map
            .as_ref()
            .or(self.host.as_ref().and_then(|h| h.uid_map.as_ref()))
    }

    /// The gid map to judge: the one read inside, else the host's.
    pub fn gid_map(&self) -> Option<&IdMap> {
        self.inside
            .gid_map
            .as_ref()
            .or(self.host.as_ref().and_then(|h| h.gid_map.as_ref()))
    }
}

impl std::fmt::Display for Outcome {
    /// One line a person reads: `container c waiting: CreateContainerError: …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Running => f.write_str("running"),
            Outcome::ContainerWaiting {
                container,
                reason,
                message,
            } => write!(f, "container {container} waiting: {reason}: {message}"),
            Outcome::ContainerTerminated {
                container,
                exit_code,
                reason,
                message,
            } => {
                write!(f, "container {container} terminated with exit code {exit_code}: {reason}: {message}")
            }
            Outcome::SandboxFailed { reason, message } => {
                write!(f, "sandbox failed: {reason}: {message}")
            }
            Outcome::Pending { reason, message } => {
                f.write_str("pending")?;
                for part in reason.iter().chain(message) {
                    write!(f, ": {part}")?;
                }
                Ok(())
            }
            Outcome::NotCreated => f.write_str("not created"),
        }
    }
}
