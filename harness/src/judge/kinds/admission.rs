//! `admission`: admitted, or refused with a message (and code).

use super::check as make;
use crate::observation::{Admission, PodObservation};
use crate::scenario::AdmissionExpect;
use crate::verdict::Check;

pub fn check(subject: String, a: &AdmissionExpect, pod: &PodObservation) -> Check {
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
    make(subject, expected, observed, ok)
}
