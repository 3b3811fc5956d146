//! Targets: where scenarios run. Each produces the same [`Observation`].

use std::time::Duration;

use async_trait::async_trait;

use crate::facts::{Facts, TargetKind};
use crate::observation::Observation;
use crate::scenario::Scenario;
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

/// Everything a target needs to execute one scenario.
#[derive(Debug, Clone)]
pub struct ExecPlan {
    /// Run-wide template values (from facts); targets add their own
    /// per-scenario ones (namespace uid range) and report them back in
    /// [`Observation::templates`].
    pub templates: Templates,
    /// One per pod, in the scenario's order.
    pub probes: Vec<ProbePlan>,
    /// How long each pod may take to settle.
    pub timeout: Duration,
    /// Identifies this run in labels, so concurrent runs don't collide.
    pub run_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target cannot be used at all (exit code 3).
    #[error("target unusable: {0}")]
    Unusable(String),
    /// This scenario could not be executed (its verdict is an error).
    #[error("{0}")]
    Scenario(String),
    /// The run was interrupted.
    #[error("cancelled")]
    Cancelled,
}

#[async_trait]
pub trait Target: Send + Sync {
    fn kind(&self) -> TargetKind;

    /// Probes the environment; called once per run.
    async fn facts(&self) -> Result<Facts, TargetError>;

    /// Run-wide template values available on this target.
    fn templates(&self, facts: &Facts) -> Templates;

    /// Creates the scenario's pods, waits for them to settle, probes them,
    /// and removes everything it created before returning (also on error).
    async fn execute(
        &self,
        scenario: &Scenario,
        plan: &ExecPlan,
    ) -> Result<Observation, TargetError>;

    /// Removes leftovers of earlier runs, found by the harness label only.
    /// Returns a line per removed object.
    async fn cleanup(&self) -> Result<Vec<String>, TargetError>;

    /// Removes what run `run_id` still has in flight (Ctrl-C). Returns a line
    /// per removed object.
    async fn cancel_run(&self, run_id: &str) -> Vec<String> {
        let _ = run_id;
        Vec::new()
    }
}

pub mod cri;
pub mod kube;
pub mod labels;
pub mod local;
pub mod probe;
