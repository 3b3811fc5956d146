//! `hostUid`: the container process's uid as the host sees it.

use super::check as make;
use crate::judge::matching::{describe_value, value_matches};
use crate::observation::PodObservation;
use crate::scenario::matchers::ValueMatch;
use crate::templates::Templates;
use crate::verdict::Check;

/// The reason a target without a host view gives for not checking.
pub const NO_HOST_VIEW: &str =
    "this target has no host view of containers (on a cluster, --node-evidence reads it on the node)";

pub fn check(
    subject: String,
    m: &ValueMatch,
    pod: &PodObservation,
    t: &Templates,
    host_view: bool,
) -> Check {
    let expected = describe_value(m, t);
    match pod.host.as_ref().and_then(|h| h.host_uid) {
        // Not a failure: nothing here could have seen it. What was observed
        // (outcome, maps, id) is still judged.
        None if !host_view => Check {
            not_checked: Some(NO_HOST_VIEW.to_string()),
            ..make(
                subject,
                expected,
                format!("(not checked: {NO_HOST_VIEW})"),
                true,
            )
        },
        None => make(subject, expected, "(not observed: no host view)", false),
        Some(uid) => match value_matches(m, uid, t) {
            Ok(ok) => make(subject, expected, uid.to_string(), ok),
            Err(e) => make(subject, expected, format!("{uid} ({e})"), false),
        },
    }
}
