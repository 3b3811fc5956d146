//! `admission`: admitted, or refused with a message (and code).

use super::check as make;
use crate::observation::{Admission, PodObservation};
use crate::scenario::AdmissionExpect;
use crate::templates::{substitute_str, Templates};
use crate::verdict::Check;

/// Templates (`${ns.uidRangeStart}` …) in the expected message are filled
/// from the run's values first: OpenShift words its refusals with the
/// namespace's own uid range.
pub fn check(subject: String, a: &AdmissionExpect, pod: &PodObservation, t: &Templates) -> Check {
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
            let wanted = match substitute_str(message, t) {
                Ok(w) => w,
                Err(e) => return make(subject, format!("{message:?}"), e, false),
            };
            let ok = matches!(adm, Admission::Refused { code: c, message: m } if m.contains(wanted.as_str()) && code.is_none_or(|w| *c == Some(w)));
            let shown = if wanted == *message {
                format!("{message:?}")
            } else {
                format!("{wanted:?} (= {message:?})")
            };
            (
                format!(
                    "refused{} with message containing {shown}",
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                ),
                ok,
            )
        }
    };
    make(subject, expected, observed, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(message: &str) -> PodObservation {
        PodObservation {
            admission: Admission::Refused {
                code: Some(403),
                message: message.into(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn templates_in_the_message_are_filled() {
        let mut t = Templates::new();
        t.insert("ns.uidRangeStart".into(), "1000190000".into());
        t.insert("ns.uidRangeEnd".into(), "1000199999".into());
        let a = AdmissionExpect::Refused {
            message: "must be in the ranges: [${ns.uidRangeStart}, ${ns.uidRangeEnd}]".into(),
            code: None,
        };
        let pod = refused(
            "runAsUser: Invalid value: 0: must be in the ranges: [1000190000, 1000199999], x",
        );
        let c = check("s".into(), &a, &pod, &t);
        assert!(c.ok, "{c:?}");
        assert!(
            c.expected.contains("[1000190000, 1000199999]"),
            "{}",
            c.expected
        );
        let other = refused("must be in the ranges: [1000200000, 1000209999]");
        assert!(!check("s".into(), &a, &other, &t).ok);
        let unknown = check("s".into(), &a, &pod, &Templates::new());
        assert!(!unknown.ok);
        assert!(
            unknown.observed.contains("ns.uidRangeStart"),
            "{}",
            unknown.observed
        );
    }
}
