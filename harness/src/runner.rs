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
use crate::report::results::{RunResults, ScenarioResult, Summary, SCHEMA_VERSION};
use crate::requirements;
use crate::scenario::Scenario;
use crate::target::{ExecPlan, Target, TargetError};
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
}

impl Selection {
    fn arguments(&self) -> Arguments {
        Arguments {
            filter: self.filter.clone(),
            skip: self.skip.clone(),
            exact: self.exact,
            list: self.list,
            test_threads: self.test_threads,
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

/// Lists the selected scenarios the way `cargo test -- --list` does, without a target.
pub fn list(scenarios: &[Scenario], selection: &Selection) {
    let trials = scenarios
        .iter()
        .map(|s| Trial::test(s.id.clone(), || Ok(())).with_kind(s.topic.clone()))
        .collect();
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
}

impl Suite {
    /// Runs the selected scenarios and returns the results of those that ran
    /// or were skipped (filtered-out scenarios are absent).
    pub fn run(self: &Arc<Self>, scenarios: &[Scenario], selection: &Selection) -> RunResults {
        let started = Instant::now();
        let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let results: Arc<Mutex<Vec<ScenarioResult>>> = Arc::default();
        let trials = scenarios
            .iter()
            .map(|scenario| {
                let (scenario, suite, results) = (scenario.clone(), self.clone(), results.clone());
                let (name, kind) = (scenario.id.clone(), scenario.topic.clone());
                Trial::ignorable_test(name, move || {
                    let result = suite.run_one(&scenario);
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
            .collect();
        // Our own results decide the exit code, not libtest's conclusion.
        let _ = libtest_mimic::run(&selection.arguments(), trials);
        let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
        // Trials finish in any order; reports list scenarios in file order.
        results.sort_by(|a, b| a.id.cmp(&b.id));
        RunResults {
            schema_version: SCHEMA_VERSION,
            tool: format!("userns-e2e {}", env!("CARGO_PKG_VERSION")),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            environment: self.facts.clone(),
            summary: Summary::of(&results),
            results,
        }
    }
}

impl Suite {
    fn run_one(&self, scenario: &Scenario) -> ScenarioResult {
        let started = Instant::now();
        let spec = &scenario.spec;
        let (verdict, observation) = match requirements::check(&spec.requires, &self.facts) {
            Err(reason) => (Verdict::Skip { reason }, None),
            Ok(()) => {
                let timeout = self
                    .timeout
                    .or(spec.timeout)
                    .unwrap_or_else(|| default_timeout(self.facts.target));
                let plan = ExecPlan {
                    templates: self.templates.clone(),
                    probes: spec
                        .pods
                        .iter()
                        .map(|case| judge::probe_plan(case, &self.facts))
                        .collect(),
                    timeout,
                    run_id: self.run_id.clone(),
                };
                // A safety net above the target's own per-pod timeouts, so a
                // wedged target cannot hang the run.
                let budget = timeout * (spec.pods.len() as u32 + 1) + Duration::from_secs(30);
                let executed = self.runtime.block_on(async {
                    tokio::time::timeout(budget, self.target.execute(scenario, &plan)).await
                });
                match executed {
                    Ok(Ok(observation)) => {
                        let verdict =
                            judge::judge(spec, &self.facts, &self.templates, &observation);
                        (verdict, Some(observation))
                    }
                    Ok(Err(TargetError::Cancelled)) => (
                        Verdict::Error {
                            reason: "cancelled".into(),
                        },
                        None,
                    ),
                    Ok(Err(e)) => (
                        Verdict::Error {
                            reason: e.to_string(),
                        },
                        None,
                    ),
                    Err(_) => (
                        Verdict::Error {
                            reason: format!(
                                "no result from the target within {}",
                                humantime::format_duration(budget)
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
        }
    }
}
