//! The judge: pure functions from (expectation, observation) to a verdict.
//! No I/O here, so every expectation kind is tested without a target.

mod kinds;
pub mod matching;

use crate::facts::Facts;
use crate::observation::Observation;
use crate::plan::ProbePlan;
use crate::requirements::condition_holds;
use crate::scenario::{Expect, PodCase, ScenarioFile};
use crate::templates::Templates;
use crate::verdict::{Check, Verdict};

/// The expectation that applies to `case` on this target: the default with
/// the fields of every matching `cases` entry laid over it, in order.
pub fn resolve_expect(case: &PodCase, facts: &Facts) -> Expect {
    let mut e = case.expect.clone();
    for c in case
        .cases
        .iter()
        .filter(|c| condition_holds(&c.when, facts))
    {
        // A pod refused at admission, or whose container never runs, has no
        // maps, `id` or output to read: a case that expects either replaces
        // the whole expectation instead of leaving the default's reads behind.
        let refused = matches!(
            c.expect.admission,
            Some(crate::scenario::AdmissionExpect::Refused { .. })
        );
        let not_running = c
            .expect
            .outcome
            .as_ref()
            .is_some_and(|o| !matches!(o, crate::scenario::OutcomeExpect::Running));
        if refused || not_running {
            e = c.expect.clone();
            continue;
        }
        // Destructured without `..`: a new expectation field that is not
        // laid over here is a compile error, not a silently ignored case.
        let Expect {
            admission,
            scc,
            outcome,
            uid_map,
            gid_map,
            id,
            host_uid,
            sysctls,
            exec,
        } = c.expect.clone();
        over(&mut e.admission, admission);
        over(&mut e.scc, scc);
        over(&mut e.outcome, outcome);
        over(&mut e.uid_map, uid_map);
        over(&mut e.gid_map, gid_map);
        over(&mut e.id, id);
        over(&mut e.host_uid, host_uid);
        over(&mut e.sysctls, sysctls);
        over(&mut e.exec, exec);
    }
    e
}

/// A case's field replaces the default's when the case sets it.
fn over<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// Whether judging `scenario` needs a pod that really runs: an admitted pod
/// whose expectation is about its outcome or about what is read inside it or
/// on its node. (A pod expected to stay pending, or refused, does not.)
pub fn needs_running_pods(scenario: &ScenarioFile, facts: &Facts) -> bool {
    scenario.pods.iter().any(|case| {
        let Expect {
            admission,
            scc: _,
            outcome,
            uid_map,
            gid_map,
            id,
            host_uid,
            sysctls,
            exec,
        } = resolve_expect(case, facts);
        let refused = matches!(
            admission,
            Some(crate::scenario::AdmissionExpect::Refused { .. })
        );
        let pending = matches!(outcome, Some(crate::scenario::OutcomeExpect::Pending));
        let reads = uid_map.is_some()
            || gid_map.is_some()
            || id.is_some()
            || host_uid.is_some()
            || sysctls.is_some()
            || exec.is_some();
        !refused && ((outcome.is_some() && !pending) || reads)
    })
}

/// What a target must read from a pod for its expectation.
pub fn probe_plan(case: &PodCase, facts: &Facts) -> ProbePlan {
    let (sysctls, commands) = kinds::probe_needs(&resolve_expect(case, facts));
    ProbePlan {
        container: case.probe.clone(),
        sysctls,
        commands,
    }
}

/// Judges one scenario's observation.
pub fn judge(
    scenario: &ScenarioFile,
    facts: &Facts,
    templates: &Templates,
    observation: &Observation,
) -> Verdict {
    let mut values = templates.clone();
    values.extend(
        observation
            .templates
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let mut all: Vec<Check> = Vec::new();
    for (i, case) in scenario.pods.iter().enumerate() {
        let name = case
            .pod
            .0
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        let expect = resolve_expect(case, facts);
        match observation.pods.get(i) {
            Some(pod) => all.extend(kinds::pod_checks(
                &name,
                &expect,
                pod,
                &values,
                facts.host_view,
            )),
            None => all.push(Check {
                subject: format!("pod {name}"),
                expected: "an observation".into(),
                observed: "the target reported nothing for this pod".into(),
                ok: false,
                not_checked: None,
            }),
        }
    }
    if scenario.across.disjoint_ranges {
        all.push(kinds::disjoint(scenario, observation));
    }
    verdict(all)
}

fn verdict(checks: Vec<Check>) -> Verdict {
    let failing: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let Some(first) = failing.first() else {
        return Verdict::Pass { checks };
    };
    let mut reason = format!(
        "{}: expected {}, observed {}",
        first.subject,
        first.expected,
        first.observed.lines().next().unwrap_or("")
    );
    if failing.len() > 1 {
        reason.push_str(&format!(" (and {} more)", failing.len() - 1));
    }
    let diff = failing
        .iter()
        .map(|c| {
            let indent = |s: &str| s.lines().collect::<Vec<_>>().join("\n              ");
            format!(
                "{}:\n  - expected: {}\n  + observed: {}",
                c.subject,
                indent(&c.expected),
                indent(&c.observed)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Verdict::Fail {
        reason,
        diff,
        checks,
    }
}

#[cfg(test)]
mod tests;
