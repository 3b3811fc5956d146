//! What the runner asks a target to do for one scenario. Neutral ground
//! between the judge (which derives the probe needs from expectations) and
//! the targets (which carry them out), so neither imports the other.

use std::time::Duration;

use crate::templates::Templates;

/// What to read from each pod once it settles, derived from the resolved
/// expectations (see `judge::probe_plan`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbePlan {
    /// Container to probe; `None` = the first.
    pub container: Option<String>,
    /// Dotted sysctl names to read from `/proc/sys`.
    pub sysctls: Vec<String>,
    /// Extra commands to run.
    pub commands: Vec<Vec<String>>,
}

/// How a kubelet of the scenario's kind talks to the runtime about user
/// namespaces (the `UserNamespacesSupport` gate). The cri target plays the
/// kubelet, so it can play either; a cluster's kubelet is what it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KubeletUserns {
    /// Gate on: mode NODE for every pod without `hostUsers: false`, mode POD
    /// with an allocated range for those with it.
    #[default]
    GateOn,
    /// Gate off: no user-namespace options at all; the API server drops
    /// `hostUsers` (so CRI-O reads its annotation instead).
    GateOff,
}

/// Everything a target needs to execute one scenario.
#[derive(Debug, Clone)]
pub struct ExecPlan {
    /// Run-wide template values (from facts); targets add their own
    /// per-scenario ones (namespace uid range) and report them back in
    /// `Observation::templates`.
    pub templates: Templates,
    /// One per pod, in the scenario's order.
    pub probes: Vec<ProbePlan>,
    /// How long each pod may take to settle.
    pub timeout: Duration,
    /// How long the whole scenario may take before the target gives up on
    /// it (and still removes what it made).
    pub budget: Duration,
    /// Identifies this run in labels, so concurrent runs don't collide.
    pub run_id: String,
    /// The kubelet behaviour this scenario asks for (cri target only).
    pub kubelet: KubeletUserns,
}
