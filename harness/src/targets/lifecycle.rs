//! The pod lifecycle every target shares: open a scope (a namespace, a set of
//! sandboxes) → for each pod create → settle → probe → then close the scope,
//! always. A target implements [`PodPlatform`] for what differs; the order,
//! the timing, the probe and the guarantees live here once:
//!
//! - the pods' phase runs under the scenario's budget and is caught if it
//!   panics, so closing never depends on the happy path;
//! - closing is bounded in time, and what it could not remove is listed in
//!   `Observation::leftovers` (and so in the reports) for `cleanup`.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use k8s_openapi::api::core::v1::Pod;

use super::{probe, Executed, TargetError};
use crate::observation::{ExecResult, HostView, Observation, Outcome, PodObservation};
use crate::plan::ExecPlan;
use crate::scenario::Scenario;
use crate::templates::Templates;

/// How long closing a scope may take before what is left is reported.
pub const CLOSE_BUDGET: Duration = Duration::from_secs(60);

/// What a target does at each step; [`execute`] decides the order.
#[async_trait]
pub trait PodPlatform: Send + Sync {
    /// Per-scenario state: what was made so far, so [`PodPlatform::close`]
    /// can remove it. Interior mutability: steps get `&Scope`.
    type Scope: Send + Sync;
    /// One created pod.
    type Handle: Send + Sync;

    /// Makes the scenario's scope. When this fails nothing was made.
    async fn open(&self, scenario: &Scenario, plan: &ExecPlan) -> Result<Self::Scope, TargetError>;

    /// Prepares the scope (accounts, waits) and returns the template values
    /// for this scenario's pods (the run's, plus what the scope adds, which
    /// also go to `observation.templates`).
    async fn prepare(
        &self,
        scope: &Self::Scope,
        scenario: &Scenario,
        plan: &ExecPlan,
        observation: &mut Observation,
    ) -> Result<Templates, TargetError>;

    /// Creates pod `index`; a refusal or a sandbox failure is recorded in
    /// `obs` and gives `None`, an error means the target broke.
    async fn create(
        &self,
        scope: &Self::Scope,
        scenario: &Scenario,
        plan: &ExecPlan,
        index: usize,
        pod: &Pod,
        obs: &mut PodObservation,
    ) -> Result<Option<Self::Handle>, TargetError>;

    /// Waits until the pod runs, fails, or `timeout` passes; records the
    /// outcome and events in `obs`.
    async fn settle(
        &self,
        scope: &Self::Scope,
        handle: &Self::Handle,
        timeout: Duration,
        obs: &mut PodObservation,
    ) -> Result<(), TargetError>;

    /// Runs a command in a container of a running pod.
    async fn exec(
        &self,
        scope: &Self::Scope,
        handle: &Self::Handle,
        container: &str,
        command: Vec<String>,
    ) -> Result<ExecResult, TargetError>;

    /// When exec failed: keep what else can be had (logs) and go on, or
    /// fail the scenario (the default).
    async fn exec_failed(
        &self,
        scope: &Self::Scope,
        handle: &Self::Handle,
        container: &str,
        error: TargetError,
        obs: &mut PodObservation,
        notes: &mut Vec<String>,
    ) -> Result<(), TargetError> {
        let _ = (scope, handle, container, obs, notes);
        Err(error)
    }

    /// The host's view of the container's process, when this target has one.
    async fn host_view(
        &self,
        scope: &Self::Scope,
        handle: &Self::Handle,
        container: &str,
    ) -> Option<Result<HostView, TargetError>>;

    /// Removes everything in the scope. Returns what could not be removed;
    /// may add per-pod phases (`stop`, `remove`) and notes.
    async fn close(&self, scope: Self::Scope, observation: &mut Observation) -> Vec<String>;

    /// Names the scope for a leftover line when closing ran out of time.
    fn describe(&self, scope: &Self::Scope) -> String;
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The container a probe reads: the plan's, else the pod's first.
fn probed_container(pod: &Pod, wanted: Option<&String>) -> String {
    wanted.cloned().unwrap_or_else(|| {
        pod.spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
            .unwrap_or_default()
    })
}

/// Runs the scenario's pods on `platform` and removes what was made.
pub async fn execute<P: PodPlatform>(
    platform: &P,
    scenario: &Scenario,
    plan: &ExecPlan,
    budget: Duration,
) -> Executed {
    let mut observation = Observation::default();
    let scope = match platform.open(scenario, plan).await {
        Ok(s) => s,
        Err(e) => {
            return Executed {
                observation,
                error: Some(e),
            }
        }
    };
    let pods = AssertUnwindSafe(run_pods(platform, &scope, scenario, plan, &mut observation));
    let error = match tokio::time::timeout(budget, pods.catch_unwind()).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(e))) => Some(e),
        Ok(Err(panic)) => Some(TargetError::scenario(format!(
            "the target panicked: {}",
            panic_text(panic.as_ref())
        ))),
        Err(_) => Some(TargetError::scenario(format!(
            "no result from the target within {}",
            humantime::format_duration(budget)
        ))),
    };
    let name = platform.describe(&scope);
    let close = platform.close(scope, &mut observation);
    match tokio::time::timeout(CLOSE_BUDGET, AssertUnwindSafe(close).catch_unwind()).await {
        Ok(Ok(left)) => observation.leftovers.extend(left),
        Ok(Err(panic)) => observation.leftovers.push(format!(
            "{name}: removal panicked: {}",
            panic_text(panic.as_ref())
        )),
        Err(_) => observation.leftovers.push(format!(
            "{name}: not removed within {} (the runtime does not answer)",
            humantime::format_duration(CLOSE_BUDGET)
        )),
    }
    let error = error.or_else(|| {
        (!observation.leftovers.is_empty()).then(|| {
            TargetError::scenario(format!(
                "could not remove: {}",
                observation.leftovers.join("; ")
            ))
        })
    });
    Executed { observation, error }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

async fn run_pods<P: PodPlatform>(
    platform: &P,
    scope: &P::Scope,
    scenario: &Scenario,
    plan: &ExecPlan,
    observation: &mut Observation,
) -> Result<(), TargetError> {
    let templates = platform.prepare(scope, scenario, plan, observation).await?;
    for (index, case) in scenario.spec.pods.iter().enumerate() {
        let started = Instant::now();
        let pod = crate::scenario::load::materialize_pod(&case.pod, &templates)
            .map_err(TargetError::scenario)?;
        let name = pod.metadata.name.clone().unwrap_or_default();
        // The pod's observation lives in the scenario's from the start, so
        // whatever ends this pod early (error, budget, panic) leaves what was
        // seen so far, such as the sandbox id.
        observation.pods.push(PodObservation {
            name,
            asked: Some(crate::observation::UsernsAsk::of(&pod)),
            ..PodObservation::default()
        });
        let Observation { pods, notes, .. } = &mut *observation;
        let Some(obs) = pods.last_mut() else { continue };
        let result = one_pod(platform, scope, scenario, plan, index, &pod, obs, notes).await;
        obs.duration_ms = ms(started);
        result?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one step of `run_pods`, with its whole context
async fn one_pod<P: PodPlatform>(
    platform: &P,
    scope: &P::Scope,
    scenario: &Scenario,
    plan: &ExecPlan,
    index: usize,
    pod: &Pod,
    obs: &mut PodObservation,
    notes: &mut Vec<String>,
) -> Result<(), TargetError> {
    let t = Instant::now();
    let handle = platform
        .create(scope, scenario, plan, index, pod, obs)
        .await?;
    obs.phases_ms.entry("create".into()).or_insert(ms(t));
    let Some(handle) = handle else { return Ok(()) };
    let t = Instant::now();
    platform.settle(scope, &handle, plan.timeout, obs).await?;
    obs.phases_ms.insert("settle".into(), ms(t));
    if obs.outcome != Outcome::Running {
        return Ok(());
    }
    let probe_plan = plan.probes.get(index).cloned().unwrap_or_default();
    let container = probed_container(pod, probe_plan.container.as_ref());
    let t = Instant::now();
    let read = probe::read(&container, &probe_plan, |cmd| {
        platform.exec(scope, &handle, &container, cmd)
    })
    .await;
    match read {
        Ok(p) => obs.inside = p,
        Err(e) => {
            platform
                .exec_failed(scope, &handle, &container, e, obs, notes)
                .await?
        }
    }
    obs.phases_ms.insert("probe".into(), ms(t));
    let t = Instant::now();
    match platform.host_view(scope, &handle, &container).await {
        Some(Ok(view)) => obs.host = Some(view),
        Some(Err(e)) => {
            let why = e.chain();
            notes.push(format!("pod {}: no host view: {why}", obs.name))
        }
        None => {}
    }
    obs.phases_ms.insert("host".into(), ms(t));
    Ok(())
}
