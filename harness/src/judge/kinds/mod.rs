//! The expectation kinds, one module each: what it checks and what a target
//! must read for it. [`pod_checks`] and [`probe_needs`] destructure
//! `Expect` without `..`, so a new expectation field that is not given a
//! kind here does not compile.

mod across;
mod admission;
mod exec;
mod host_uid;
mod id;
mod id_map;
mod outcome;
mod scc;
mod sysctls;

pub use across::disjoint;

use crate::observation::{Outcome, PodObservation};
use crate::scenario::matchers::TextMatch;
use crate::scenario::Expect;
use crate::templates::Templates;
use crate::verdict::Check;

use super::matching::text_matches;

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
        not_checked: None,
    }
}

/// Why a value inside the container is missing, for the diff.
fn not_observed(pod: &PodObservation) -> String {
    match &pod.outcome {
        Outcome::Running => "(not observed)".into(),
        o => format!("(not observed: {o})"),
    }
}

fn text_check(
    subject: String,
    m: &TextMatch,
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

/// Checks for every field of `expect` that is set.
/// `host_view`: whether the target can see container processes from the
/// host at all (`Facts::host_view`).
pub fn pod_checks(
    name: &str,
    expect: &Expect,
    pod: &PodObservation,
    t: &Templates,
    host_view: bool,
) -> Vec<Check> {
    let subject = |what: &str| format!("pod {name}: {what}");
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
    } = expect;
    let mut out = Vec::new();
    out.extend(
        admission
            .as_ref()
            .map(|a| admission::check(subject("admission"), a, pod, t)),
    );
    out.extend(scc.as_ref().map(|s| scc::check(subject("scc"), s, pod)));
    out.extend(
        outcome
            .as_ref()
            .map(|o| outcome::check(subject("outcome"), o, pod)),
    );
    out.extend(
        uid_map
            .as_ref()
            .map(|m| id_map::check(subject("uid_map"), m, pod.uid_map(), pod, t)),
    );
    out.extend(
        gid_map
            .as_ref()
            .map(|m| id_map::check(subject("gid_map"), m, pod.gid_map(), pod, t)),
    );
    out.extend(id.as_ref().map(|m| id::check(subject("id"), m, pod, t)));
    out.extend(
        host_uid
            .as_ref()
            .map(|m| host_uid::check(subject("host uid"), m, pod, t, host_view)),
    );
    out.extend(
        sysctls
            .iter()
            .flat_map(|m| sysctls::checks(&subject, m, pod, t)),
    );
    out.extend(exec.iter().flat_map(|e| exec::checks(&subject, e, pod, t)));
    out
}

/// What a target must read inside the pod for `expect`: sysctl names and
/// commands (the maps and `id` are always read).
pub fn probe_needs(expect: &Expect) -> (Vec<String>, Vec<Vec<String>>) {
    let Expect {
        admission: _,
        scc: _,
        outcome: _,
        uid_map: _,
        gid_map: _,
        id: _,
        host_uid: _,
        sysctls,
        exec,
    } = expect;
    (
        sysctls.as_ref().map(sysctls::needs).unwrap_or_default(),
        exec.as_ref().map(|e| exec::needs(e)).unwrap_or_default(),
    )
}
