//! `hostUid`: the container process's uid as the host sees it.

use super::check as make;
use crate::judge::matching::{describe_value, value_matches};
use crate::observation::PodObservation;
use crate::scenario::matchers::ValueMatch;
use crate::templates::Templates;
use crate::verdict::Check;

pub fn check(subject: String, m: &ValueMatch, pod: &PodObservation, t: &Templates) -> Check {
    let expected = describe_value(m, t);
    match pod.host.as_ref().and_then(|h| h.host_uid) {
        None => make(subject, expected, "(not observed: no host view)", false),
        Some(uid) => match value_matches(m, uid, t) {
            Ok(ok) => make(subject, expected, uid.to_string(), ok),
            Err(e) => make(subject, expected, format!("{uid} ({e})"), false),
        },
    }
}
