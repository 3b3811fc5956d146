//! One check per expectation field.

use super::matching::{describe_map, describe_value, map_matches, text_matches, value_matches};
use crate::observation::{Admission, Outcome, PodObservation};
use crate::parse::idmap::IdMap;
use crate::scenario::{AdmissionExpect, Expect, OutcomeExpect, ScenarioFile};
use crate::templates::Templates;
use crate::verdict::Check;

fn check(
    subject: String,
    expected: impl Into<String>,
    observed: impl Into<String>,
    ok: bool,
) -> Check {
    Check {
        subject,
        expected: expected.into(),
        observed: observed.into(),
        ok,
    }
}

fn describe_outcome_expect(e: &OutcomeExpect) -> String {
    let opt = |label: &str, v: &Option<String>| {
        v.as_ref()
            .map(|s| format!(" {label} {s:?}"))
            .unwrap_or_default()
    };
    match e {
        OutcomeExpect::Running => "running".into(),
        OutcomeExpect::Pending => "pending".into(),
        OutcomeExpect::Waiting { reason, message } => format!(
            "container waiting{}{}",
            opt("reason", reason),
            opt("with message containing", message)
        ),
        OutcomeExpect::Terminated { reason, exit_code } => {
            format!(
                "container terminated{}{}",
                opt("reason", reason),
                exit_code
                    .map(|c| format!(" with exit code {c}"))
                    .unwrap_or_default()
            )
        }
        OutcomeExpect::SandboxFailed { reason, message } => format!(
            "sandbox failure{}{}",
            opt("reason", reason),
            opt("with message containing", message)
        ),
        OutcomeExpect::Failed { message } => {
            format!("a failure with message containing {message:?}")
        }
    }
}

fn outcome_ok(e: &OutcomeExpect, o: &Outcome) -> bool {
    let reason_ok = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w == have);
    let msg_ok =
        |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| have.contains(w.as_str()));
    match (e, o) {
        (OutcomeExpect::Running, Outcome::Running) => true,
        (OutcomeExpect::Pending, Outcome::Pending { .. }) => true,
        (
            OutcomeExpect::Waiting { reason, message },
            Outcome::ContainerWaiting {
                reason: r,
                message: m,
                ..
            },
        ) => reason_ok(reason, r) && msg_ok(message, m),
        (
            OutcomeExpect::Terminated { reason, exit_code },
            Outcome::ContainerTerminated {
                reason: r,
                exit_code: c,
                ..
            },
        ) => reason_ok(reason, r) && exit_code.is_none_or(|x| x == *c),
        (
            OutcomeExpect::SandboxFailed { reason, message },
            Outcome::SandboxFailed {
                reason: r,
                message: m,
            },
        ) => reason_ok(reason, r) && msg_ok(message, m),
        (OutcomeExpect::Failed { message }, o) => match o {
            Outcome::SandboxFailed { message: m, .. }
            | Outcome::ContainerWaiting { message: m, .. } => m.contains(message.as_str()),
            Outcome::ContainerTerminated {
                message: m,
                exit_code,
                ..
            } => *exit_code != 0 && m.contains(message.as_str()),
            _ => false,
        },
        _ => false,
    }
}

/// Why a value inside the container is missing, for the diff.
fn not_observed(pod: &PodObservation) -> String {
    match &pod.outcome {
        Outcome::Running => "(not observed)".into(),
        o => format!("(not observed: {})", o),
    }
}

fn map_check(
    subject: String,
    want: &crate::scenario::matchers::MapExpect,
    have: Option<&IdMap>,
    pod: &PodObservation,
    t: &Templates,
) -> Check {
    let expected = describe_map(want, t);
    match have {
        None => check(subject, expected, not_observed(pod), false),
        Some(m) => match map_matches(want, m, t) {
            Ok(ok) => check(subject, expected, m.to_string(), ok),
            Err(e) => check(subject, expected, format!("{m} ({e})"), false),
        },
    }
}

/// Checks for every field of `expect` that is set.
pub fn pod_checks(name: &str, expect: &Expect, pod: &PodObservation, t: &Templates) -> Vec<Check> {
    let subject = |what: &str| format!("pod {name}: {what}");
    let mut out = Vec::new();
    if let Some(a) = &expect.admission {
        let observed = match &pod.admission {
            Admission::Admitted => "admitted".to_string(),
            Admission::Refused { code, message } => format!(
                "refused{}: {message}",
                code.map(|c| format!(" ({c})")).unwrap_or_default()
            ),
        };
        let (expected, ok) = match (a, &pod.admission) {
            (AdmissionExpect::Admitted, adm) => {
                ("admitted".to_string(), matches!(adm, Admission::Admitted))
            }
            (AdmissionExpect::Refused { message, code }, adm) => {
                let ok = matches!(adm, Admission::Refused { code: c, message: m } if m.contains(message.as_str()) && code.is_none_or(|w| *c == Some(w)));
                (
                    format!(
                        "refused{} with message containing {message:?}",
                        code.map(|c| format!(" ({c})")).unwrap_or_default()
                    ),
                    ok,
                )
            }
        };
        out.push(check(subject("admission"), expected, observed, ok));
    }
    if let Some(s) = &expect.scc {
        let have = pod
            .scc
            .clone()
            .unwrap_or_else(|| "(no openshift.io/scc annotation)".into());
        out.push(check(
            subject("scc"),
            s.clone(),
            have.clone(),
            pod.scc.as_deref() == Some(s.as_str()),
        ));
    }
    if let Some(o) = &expect.outcome {
        out.push(check(
            subject("outcome"),
            describe_outcome_expect(o),
            pod.outcome.to_string(),
            outcome_ok(o, &pod.outcome),
        ));
    }
    if let Some(m) = &expect.uid_map {
        out.push(map_check(subject("uid_map"), m, pod.uid_map(), pod, t));
    }
    if let Some(m) = &expect.gid_map {
        out.push(map_check(subject("gid_map"), m, pod.gid_map(), pod, t));
    }
    if let Some(m) = &expect.id {
        out.push(text_check(
            subject("id"),
            m,
            pod.inside.id.as_deref(),
            pod,
            t,
        ));
    }
    if let Some(m) = &expect.host_uid {
        let expected = describe_value(m, t);
        let c = match pod.host.as_ref().and_then(|h| h.host_uid) {
            None => check(
                subject("host uid"),
                expected,
                "(not observed: no host view)",
                false,
            ),
            Some(uid) => match value_matches(m, uid, t) {
                Ok(ok) => check(subject("host uid"), expected, uid.to_string(), ok),
                Err(e) => check(subject("host uid"), expected, format!("{uid} ({e})"), false),
            },
        };
        out.push(c);
    }
    for (key, m) in expect.sysctls.iter().flatten() {
        out.push(text_check(
            subject(&format!("sysctl {key}")),
            m,
            pod.inside.sysctls.get(key).map(String::as_str),
            pod,
            t,
        ));
    }
    for e in expect.exec.iter().flatten() {
        let what = format!("exec `{}`", e.command.join(" "));
        let Some(r) = pod.inside.exec.iter().find(|r| r.command == e.command) else {
            out.push(check(
                subject(&what),
                "the command to run",
                not_observed(pod),
                false,
            ));
            continue;
        };
        if let Some(code) = e.exit_code {
            out.push(check(
                subject(&format!("{what} exit code")),
                code.to_string(),
                r.exit_code.to_string(),
                r.exit_code == code,
            ));
        }
        if let Some(m) = &e.stdout {
            out.push(text_check(
                subject(&format!("{what} stdout")),
                m,
                Some(&r.stdout),
                pod,
                t,
            ));
        }
    }
    out
}

fn text_check(
    subject: String,
    m: &crate::scenario::matchers::TextMatch,
    have: Option<&str>,
    pod: &PodObservation,
    t: &Templates,
) -> Check {
    match have {
        None => check(subject, m.to_string(), not_observed(pod), false),
        Some(h) => match text_matches(m, h, t) {
            Ok(ok) => check(subject, m.to_string(), format!("{:?}", h.trim()), ok),
            Err(e) => check(
                subject,
                m.to_string(),
                format!("{:?} ({e})", h.trim()),
                false,
            ),
        },
    }
}

/// Host ranges of all pods' uid and gid maps are pairwise disjoint.
pub fn disjoint(scenario: &ScenarioFile, observation: &crate::observation::Observation) -> Check {
    let subject = "across pods: host ranges".to_string();
    let expected = "pairwise disjoint host ranges".to_string();
    let mut ranges: Vec<(String, std::ops::Range<u64>)> = Vec::new();
    let mut problems = Vec::new();
    for (i, pod) in observation.pods.iter().enumerate() {
        let name = scenario
            .pods
            .get(i)
            .and_then(|c| c.pod.0.pointer("/metadata/name"))
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        for (kind, map) in [("uid", pod.uid_map()), ("gid", pod.gid_map())] {
            match map {
                None => problems.push(format!("pod {name}: no {kind}_map observed")),
                Some(m) if m.is_host() => {
                    problems.push(format!("pod {name}: {kind}_map is the host map"))
                }
                Some(m) => {
                    // uid and gid ranges are compared only within their own kind.
                    ranges.extend(m.host_ranges().map(|r| (format!("{kind} {name}"), r)));
                }
            }
        }
    }
    for (i, (a, ra)) in ranges.iter().enumerate() {
        for (b, rb) in &ranges[i + 1..] {
            let same_kind = a.split(' ').next() == b.split(' ').next();
            if same_kind && a != b && ra.start < rb.end && rb.start < ra.end {
                problems.push(format!(
                    "{a} [{}, {}) overlaps {b} [{}, {})",
                    ra.start, ra.end, rb.start, rb.end
                ));
            }
        }
    }
    let observed = if problems.is_empty() {
        ranges
            .iter()
            .map(|(n, r)| format!("{n}: [{}, {})", r.start, r.end))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        problems.join("; ")
    };
    check(subject, expected, observed, problems.is_empty())
}
