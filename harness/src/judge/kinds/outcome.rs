//! `outcome`: where the pod ended up (running, waiting, sandbox failure …).

use super::check as make;
use crate::observation::{Outcome, PodObservation};
use crate::scenario::OutcomeExpect;
use crate::verdict::Check;

pub fn check(subject: String, want: &OutcomeExpect, pod: &PodObservation) -> Check {
    make(
        subject,
        describe_outcome_expect(want),
        pod.outcome.to_string(),
        outcome_ok(want, &pod.outcome),
    )
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
