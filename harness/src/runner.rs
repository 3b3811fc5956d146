//! `run`: scenarios → requirement checks → execution → judge → results, as
//! libtest-mimic trials so selection flags behave like `cargo test`.
//!
//! This module holds the orchestration only; loading, judging, targets and
//! reports live in their own modules.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::facts::{Facts, TargetKind};
use crate::judge;
use crate::plan::{ExecPlan, KubeletUserns};
use crate::report::results::{RunResults, ScenarioResult, Summary, SCHEMA_VERSION};
use crate::requirements;
use crate::scenario::Scenario;
use crate::targets::{Executed, Target, TargetError};
use crate::templates::Templates;
use crate::verdict::Verdict;

/// libtest-style selection of scenarios.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: Option<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    pub list: bool,
    pub test_threads: Option<usize>,
    /// libtest's terse output (one character per scenario).
    pub quiet: bool,
}

impl Selection {
    fn arguments(&self) -> Arguments {
        Arguments {
            filter: self.filter.clone(),
            skip: self.skip.clone(),
            exact: self.exact,
            list: self.list,
            test_threads: self.test_threads,
            quiet: self.quiet,
            ..Arguments::default()
        }
    }
}

/// Per-pod settle timeout when neither the scenario nor `--timeout` sets one.
pub fn default_timeout(kind: TargetKind) -> Duration {
    match kind {
        TargetKind::Kube => Duration::from_secs(120),
        TargetKind::Cri | TargetKind::Local => Duration::from_secs(30),
    }
}

/// A fresh id for this run's labels: unique across concurrent runs on one host.
pub fn new_run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{}-{}", millis, std::process::id())
}

/// The scenarios as trials that do nothing: for listing and counting.
fn idle_trials(scenarios: &[Scenario]) -> Vec<Trial> {
    scenarios
        .iter()
        .map(|s| Trial::test(s.id.clone(), || Ok(())).with_kind(s.topic.clone()))
        .collect()
}

/// How many scenarios the selection keeps, by libtest's own rule, without a target.
pub fn selected_count(scenarios: &[Scenario], selection: &Selection) -> usize {
    let args = selection.arguments();
    idle_trials(scenarios)
        .iter()
        .filter(|t| !args.is_filtered_out(t))
        .count()
}

/// Lists the selected scenarios the way `cargo test -- --list` does, without a target.
pub fn list(scenarios: &[Scenario], selection: &Selection) {
    let trials = idle_trials(scenarios);
    let mut args = selection.arguments();
    args.list = true;
    let _ = libtest_mimic::run(&args, trials);
}

/// Everything one run needs.
pub struct Suite {
    pub target: Arc<dyn Target>,
    pub facts: Facts,
    pub templates: Templates,
    pub run_id: String,
    /// Overrides every scenario's own timeout when set.
    pub timeout: Option<Duration>,
    pub runtime: tokio::runtime::Handle,
    /// Set on Ctrl-C: scenarios not yet started are not started.
    pub interrupted: Arc<std::sync::atomic::AtomicBool>,
}

/// The verdict reason of scenarios that Ctrl-C stopped or kept from starting.
pub const INTERRUPTED: &str = "interrupted (Ctrl-C)";

impl Suite {
    /// Runs the selected scenarios and returns the results of those that ran
    /// or were skipped (filtered-out scenarios are absent).
    pub fn run(self: &Arc<Self>, scenarios: &[Scenario], selection: &Selection) -> RunResults {
        self.run_with_progress(
            scenarios,
            selection,
            Arc::new(crate::progress::Lines::new(selection.quiet)),
        )
    }

    /// `run`, telling `progress` what starts and finishes.
    pub fn run_with_progress(
        self: &Arc<Self>,
        scenarios: &[Scenario],
        selection: &Selection,
        progress: Arc<dyn crate::progress::Progress>,
    ) -> RunResults {
        let started = Instant::now();
        let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let results: Arc<Mutex<Vec<ScenarioResult>>> = Arc::default();
        let trials = scenarios
            .iter()
            .map(|scenario| {
                let (scenario, suite, results) = (scenario.clone(), self.clone(), results.clone());
                let (name, kind) = (scenario.id.clone(), scenario.topic.clone());
                let progress = progress.clone();
                Trial::ignorable_test(name, move || {
                    progress.started(&scenario.id);
                    let start_ms = started.elapsed().as_millis() as u64;
                    let mut result = suite.run_one(&scenario);
                    result.start_ms = Some(start_ms);
                    result.diagnoses = diagnose_result(&suite.facts, &result);
                    progress.finished(&result);
                    let outcome = match &result.verdict {
                        Verdict::Pass { .. } => Ok(Completion::Completed),
                        Verdict::Skip { reason } => Ok(Completion::ignored_with(reason)),
                        Verdict::Fail { reason, diff, .. } => {
                            Err(Failed::from(format!("{reason}\n{diff}")))
                        }
                        Verdict::Error { reason } => Err(Failed::from(format!("error: {reason}"))),
                    };
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(result);
                    outcome
                })
                .with_kind(kind)
            })
            .collect::<Vec<_>>();
        let mut args = selection.arguments();
        // `progress` prints the lines (saying `skipped`, not libtest's `ignored`).
        args.logfile = Some("/dev/null".to_string());
        progress.begin(trials.iter().filter(|t| !args.is_filtered_out(t)).count());
        // Our own results decide the exit code, not libtest's conclusion.
        let _ = libtest_mimic::run(&args, trials);
        progress.end();
        let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
        // Trials finish in any order; reports list scenarios by id (their
        // folder and file name), so runs line up.
        results.sort_by(|a, b| a.id.cmp(&b.id));
        RunResults {
            schema_version: SCHEMA_VERSION,
            tool: format!("userns-e2e {}", env!("CARGO_PKG_VERSION")),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            run_id: Some(self.run_id.clone()),
            label: None,
            environment: self.facts.clone(),
            summary: Summary::of(&results),
            results,
        }
    }
}

/// Records the kubelet mode the scenario's pods were created under.
fn with_kubelet_mode(
    mut observation: crate::observation::Observation,
    facts: &Facts,
) -> crate::observation::Observation {
    observation.sends_node_userns_mode = facts.sends_node_userns_mode;
    observation
}

/// The shipped catalog's diagnoses of one result. Overlaps count between
/// this scenario's pods only: they surely coexisted, while pods of two
/// scenarios whose time windows intersect may not have (a window includes
/// setup and removal), and a diagnosis must not guess.
pub fn diagnose_result(facts: &Facts, result: &ScenarioResult) -> Vec<crate::diagnose::Diagnosis> {
    let overlapping = crate::report::html::ranges::overlapping_pods(std::slice::from_ref(result));
    let overlapping_pods = overlapping
        .get(&result.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    crate::diagnose::diagnose(
        crate::diagnose::catalog::shipped(),
        &crate::diagnose::Subject {
            facts,
            verdict: &result.verdict,
            observation: result.observation.as_ref(),
            overlapping_pods,
        },
    )
}

/// Scenarios take it shared, `serial: true` ones exclusively. A process-wide
/// lock because it guards the target's shared state (e.g. CRI-O's `auto`
/// allocator), not this suite's.
static SERIAL: std::sync::RwLock<()> = std::sync::RwLock::new(());

enum SerialGate {
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

impl SerialGate {
    fn enter(serial: bool) -> SerialGate {
        // A poisoned lock only means another scenario panicked; its guard is gone.
        if serial {
            SerialGate::Alone(SERIAL.write().unwrap_or_else(|p| p.into_inner()))
        } else {
            SerialGate::Shared(SERIAL.read().unwrap_or_else(|p| p.into_inner()))
        }
    }
}

impl Suite {
    fn run_one(&self, scenario: &Scenario) -> ScenarioResult {
        let started = Instant::now();
        let spec = &scenario.spec;
        // Where the harness plays the kubelet, it plays the one the scenario asks for.
        let facts = self.facts.for_scenario(&spec.requires);
        let met = requirements::check(&spec.requires, &facts).and_then(|()| {
            requirements::check_nodes(judge::needs_running_pods(spec, &facts), &facts)
        });
        let (verdict, observation) = match met {
            Err(reason) => (Verdict::Skip { reason }, None),
            Ok(()) if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) => (
                Verdict::Error {
                    reason: INTERRUPTED.into(),
                },
                None,
            ),
            Ok(()) => {
                let timeout = self
                    .timeout
                    .or(spec.timeout)
                    .unwrap_or_else(|| default_timeout(self.facts.target));
                // The target gives up on the scenario after this (and still
                // removes what it made).
                // Each pod may take `timeout` to settle; one more for creating,
                // probing and the API's own latency.
                let budget = timeout * (spec.pods.len() as u32 + 2);
                let plan = ExecPlan {
                    templates: self.templates.clone(),
                    probes: spec
                        .pods
                        .iter()
                        .map(|case| judge::probe_plan(case, &facts))
                        .collect(),
                    timeout,
                    budget,
                    run_id: self.run_id.clone(),
                    kubelet: match facts.sends_node_userns_mode {
                        Some(false) => KubeletUserns::GateOff,
                        _ => KubeletUserns::GateOn,
                    },
                };
                // A last safety net above the target's own budget and its
                // bounded removal, so a wedged target cannot hang the run.
                let net =
                    budget + crate::targets::lifecycle::CLOSE_BUDGET + Duration::from_secs(30);
                // Serial scenarios exclude all others while their pods exist.
                let _alone = SerialGate::enter(spec.serial);
                let executed = self.runtime.block_on(async {
                    tokio::time::timeout(net, self.target.execute(scenario, &plan)).await
                });
                let interrupted = self.interrupted.load(std::sync::atomic::Ordering::SeqCst);
                match executed {
                    Ok(Executed {
                        observation,
                        error: None,
                    }) => {
                        let verdict = judge::judge(spec, &facts, &self.templates, &observation);
                        (verdict, Some(with_kubelet_mode(observation, &facts)))
                    }
                    Ok(Executed {
                        observation,
                        error: Some(e),
                    }) => {
                        let reason = match e {
                            TargetError::Cancelled => INTERRUPTED.to_string(),
                            _ if interrupted => format!("{INTERRUPTED}: {}", e.chain()),
                            e => e.chain(),
                        };
                        (
                            Verdict::Error { reason },
                            Some(with_kubelet_mode(observation, &facts)),
                        )
                    }
                    Err(_) => (
                        Verdict::Error {
                            reason: format!(
                                "no result from the target within {}",
                                humantime::format_duration(net)
                            ),
                        },
                        None,
                    ),
                }
            }
        };
        ScenarioResult {
            id: scenario.id.clone(),
            file: scenario.file.display().to_string(),
            topic: scenario.topic.clone(),
            description: spec.description.trim().to_string(),
            cites: spec.cites.clone(),
            verdict,
            observation,
            duration_ms: started.elapsed().as_millis() as u64,
            start_ms: None,
            diagnoses: Vec::new(),
        }
    }
}
