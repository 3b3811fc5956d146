//! Diagnosis: why a scenario failed and what to change, from the catalog of
//! known failure signatures (`diagnoses/*.yaml`, [`catalog`]). Beside the
//! judge and like it pure: the judge says *what* differs, this says *why*;
//! no I/O here, so every entry is tested on recorded observations.
//!
//! The catalog never guesses: a failure no entry matches gets none, and the
//! reports say so.

pub mod catalog;
pub mod doctor;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::observation::{Admission, Observation, Outcome, PodObservation};
use crate::requirements;
use crate::verdict::Verdict;

pub use catalog::{Entry, Fix, Severity};

use catalog::{Match, OutcomeState, PodMatch};

/// A matched catalog entry, as results and reports carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// The catalog entry's id (`diagnoses/<id>.yaml`).
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub cause: String,
    pub fix: Fix,
    pub cites: Vec<String>,
    /// The scenario's pods it was matched on (empty when it matched on facts
    /// or on the verdict alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
}

impl Diagnosis {
    /// The record of a catalog entry, matched on `pods`.
    pub fn of(entry: &Entry, pods: Vec<String>) -> Diagnosis {
        Diagnosis {
            id: entry.id.clone(),
            severity: entry.severity,
            title: entry.title.trim().to_string(),
            cause: entry.cause.trim().to_string(),
            fix: entry.fix.clone(),
            cites: entry.cites.clone(),
            pods,
        }
    }
}

/// What one scenario's diagnosis is computed from.
pub struct Subject<'a> {
    /// The run's facts (the kubelet mode is taken from the observation,
    /// which records the one the pods were created under).
    pub facts: &'a Facts,
    pub verdict: &'a Verdict,
    pub observation: Option<&'a Observation>,
    /// Pods of this scenario whose host range overlaps one of a pod that
    /// existed at the same time.
    pub overlapping_pods: &'a [String],
}

/// The entries that match: on a failure (fail or error) causes and
/// warnings, on a pass only warnings (a cause explains a failure), on a
/// skip nothing. In catalog order, causes first.
pub fn diagnose(catalog: &[Entry], subject: &Subject) -> Vec<Diagnosis> {
    let wanted: &[Severity] = match subject.verdict {
        Verdict::Fail { .. } | Verdict::Error { .. } => &[Severity::Cause, Severity::Warning],
        Verdict::Pass { .. } => &[Severity::Warning],
        Verdict::Skip { .. } => &[],
    };
    let mut facts = subject.facts.clone();
    if let Some(mode) = subject.observation.and_then(|o| o.sends_node_userns_mode) {
        facts.sends_node_userns_mode = Some(mode);
    }
    let mut out: Vec<Diagnosis> = catalog
        .iter()
        .filter(|e| wanted.contains(&e.severity))
        .filter_map(|e| {
            let pods = e
                .matches
                .iter()
                .find_map(|m| match_one(m, &facts, subject))?;
            Some(Diagnosis::of(e, pods))
        })
        .collect();
    out.sort_by_key(|d| d.severity != Severity::Cause);
    out
}

/// `Some(pods matched on)` when every part of `m` holds.
fn match_one(m: &Match, facts: &Facts, subject: &Subject) -> Option<Vec<String>> {
    if !requirements::unmet(&m.facts, facts).is_empty() {
        return None;
    }
    if let Some(p) = &m.error {
        match subject.verdict {
            Verdict::Error { reason } if p.is_match(reason) => {}
            _ => return None,
        }
    }
    match &m.pod {
        None => Some(Vec::new()),
        Some(pm) => {
            let pods: Vec<String> = subject
                .observation
                .map(|o| o.pods.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|p| pod_matches(pm, p, subject.overlapping_pods))
                .map(|p| p.name.clone())
                .collect();
            (!pods.is_empty()).then_some(pods)
        }
    }
}

fn state_of(o: &Outcome) -> OutcomeState {
    match o {
        Outcome::Running => OutcomeState::Running,
        Outcome::ContainerWaiting { .. } => OutcomeState::ContainerWaiting,
        Outcome::ContainerTerminated { .. } => OutcomeState::ContainerTerminated,
        Outcome::SandboxFailed { .. } => OutcomeState::SandboxFailed,
        Outcome::Pending { .. } => OutcomeState::Pending,
        Outcome::NotCreated => OutcomeState::NotCreated,
    }
}

/// The outcome's reason and message, where it has them.
fn reason_and_message(o: &Outcome) -> (Option<&str>, Option<&str>) {
    match o {
        Outcome::ContainerWaiting {
            reason, message, ..
        }
        | Outcome::ContainerTerminated {
            reason, message, ..
        }
        | Outcome::SandboxFailed { reason, message } => (Some(reason), Some(message)),
        Outcome::Pending { reason, message } => (reason.as_deref(), message.as_deref()),
        Outcome::Running | Outcome::NotCreated => (None, None),
    }
}

/// A pattern over text that may be absent: absent text never matches.
fn fits(pattern: &Option<catalog::Pattern>, text: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(p) => text.is_some_and(|t| p.is_match(t)),
    }
}

fn pod_matches(m: &PodMatch, pod: &PodObservation, overlapping: &[String]) -> bool {
    // Destructured without `..`: a new match field that is not checked here
    // is a compile error, not a silently ignored condition.
    let PodMatch {
        admission,
        scc,
        outcome,
        event,
        uid_map,
        host_uid,
        sysctls,
        userns_annotation,
        host_users,
        overlaps_live_pod,
    } = m;
    if let Some(a) = admission {
        let (refused, code, message) = match &pod.admission {
            Admission::Admitted => (false, None, None),
            Admission::Refused { code, message } => (true, *code, Some(message.as_str())),
        };
        if a.refused.is_some_and(|r| r != refused)
            || a.code.is_some_and(|c| Some(c) != code)
            || !fits(&a.message, message)
        {
            return false;
        }
    }
    if !fits(scc, pod.scc.as_deref()) {
        return false;
    }
    if let Some(o) = outcome {
        let (reason, message) = reason_and_message(&pod.outcome);
        if o.state
            .as_ref()
            .is_some_and(|s| !s.contains(&state_of(&pod.outcome)))
            || !fits(&o.reason, reason)
            || !fits(&o.message, message)
        {
            return false;
        }
    }
    if let Some(e) = event {
        if !pod.events.iter().any(|ev| e.is_match(&ev.message)) {
            return false;
        }
    }
    if let Some(mm) = uid_map {
        let Some(map) = pod.uid_map() else {
            return false;
        };
        if mm.host.is_some_and(|h| h != map.is_host()) {
            return false;
        }
        if let Some(lm) = &mm.line {
            let bound = |b: &Option<catalog::Bounds>, n: u64| b.as_ref().is_none_or(|b| b.holds(n));
            let any = map.0.iter().any(|l| {
                bound(&lm.inside, l.inside)
                    && bound(&lm.outside, l.outside)
                    && bound(&lm.length, l.length)
            });
            if !any {
                return false;
            }
        }
    }
    if let Some(b) = host_uid {
        if !pod
            .host
            .as_ref()
            .and_then(|h| h.host_uid)
            .is_some_and(|u| b.holds(u))
        {
            return false;
        }
    }
    for (name, p) in sysctls {
        if !fits(
            &Some(p.clone()),
            pod.inside.sysctls.get(name).map(String::as_str),
        ) {
            return false;
        }
    }
    // What the pod asked for is unknown in results written before it was
    // recorded: then a condition on it does not hold.
    let asked = pod.asked.as_ref();
    if let Some(want) = userns_annotation {
        if asked.is_none_or(|a| a.userns_annotation.is_some() != *want) {
            return false;
        }
    }
    if let Some(want) = host_users {
        if asked.is_none_or(|a| a.host_users.unwrap_or(true) != *want) {
            return false;
        }
    }
    if let Some(want) = overlaps_live_pod {
        if overlapping.contains(&pod.name) != *want {
            return false;
        }
    }
    true
}
