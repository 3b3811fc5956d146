//! Targets: where scenarios run. Each produces the same [`Observation`].
//!
//! A target is built from its own options type ([`TargetOptions`]) by
//! [`connect`]; nothing here knows the command line. The pod sequence every
//! target shares (create → settle → probe → remove) is [`lifecycle`].

use std::path::PathBuf;

use async_trait::async_trait;

use crate::facts::Facts;
use crate::observation::Observation;
use crate::plan::ExecPlan;
use crate::scenario::Scenario;
use crate::templates::Templates;

pub mod cri;
pub mod kube;
pub mod labels;
pub mod lifecycle;
pub mod local;
pub mod probe;

/// A boxed cause, kept so the whole chain can be printed.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target cannot be used at all (exit code 3).
    #[error("target unusable: {context}")]
    Unusable {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// This scenario could not be executed (its verdict is an error).
    #[error("{context}")]
    Scenario {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// The run was interrupted.
    #[error("cancelled")]
    Cancelled,
}

impl TargetError {
    pub fn unusable(context: impl Into<String>) -> TargetError {
        TargetError::Unusable {
            context: context.into(),
            source: None,
        }
    }

    pub fn unusable_by(context: impl Into<String>, source: impl Into<Cause>) -> TargetError {
        TargetError::Unusable {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    pub fn scenario(context: impl Into<String>) -> TargetError {
        TargetError::Scenario {
            context: context.into(),
            source: None,
        }
    }

    pub fn scenario_by(context: impl Into<String>, source: impl Into<Cause>) -> TargetError {
        TargetError::Scenario {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// The message with every cause, `context: cause: cause`, for reports.
    pub fn chain(&self) -> String {
        chain(self)
    }
}

/// `error: cause: cause …` of any error.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let c = cause.to_string();
        // Some libraries repeat their cause in their own message.
        if !text.ends_with(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        next = cause.source();
    }
    text
}

/// What executing a scenario gave: the observation (possibly partial) and,
/// when it could not be completed, why. Leftovers are in the observation.
#[derive(Debug, Default)]
pub struct Executed {
    pub observation: Observation,
    pub error: Option<TargetError>,
}

impl Executed {
    /// The observation when the scenario ran to its end, else the error.
    pub fn into_result(self) -> Result<Observation, TargetError> {
        match self.error {
            None => Ok(self.observation),
            Some(e) => Err(e),
        }
    }
}

#[async_trait]
pub trait Target: Send + Sync {
    /// Probes the environment; called once per run.
    async fn facts(&self) -> Result<Facts, TargetError>;

    /// Run-wide template values available on this target.
    fn templates(&self, facts: &Facts) -> Templates;

    /// Creates the scenario's pods, waits for them to settle, probes them,
    /// and removes everything it created before returning, whatever ended
    /// the scenario (also on error, timeout or panic).
    async fn execute(&self, scenario: &Scenario, plan: &ExecPlan) -> Executed;

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

/// Which target to build, with its own options.
#[derive(Debug, Clone)]
pub enum TargetOptions {
    /// The harness-managed node on this machine.
    Local(local::LocalOptions),
    /// A CRI socket, driven directly.
    Cri {
        socket: String,
        options: cri::CriOptions,
    },
    /// A Kubernetes or OpenShift cluster.
    Kube(kube::KubeConnect),
}

/// Builds the target the options describe.
pub async fn connect(options: TargetOptions) -> Result<Box<dyn Target>, TargetError> {
    match options {
        TargetOptions::Local(o) => local::connect(&o).await,
        TargetOptions::Cri { socket, options } => cri::connect_socket(&socket, options).await,
        TargetOptions::Kube(o) => kube::connect(&o).await,
    }
}

/// Where the harness keeps state of the cri target next to a node folder.
pub fn cri_state_dir(node_dir: &std::path::Path) -> PathBuf {
    node_dir.with_file_name("cri")
}
