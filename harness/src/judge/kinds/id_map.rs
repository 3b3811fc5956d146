//! `uidMap` / `gidMap`: the id map read in the container (or from the host).

use super::{check as make, not_observed};
use crate::judge::matching::{describe_map, map_matches};
use crate::observation::PodObservation;
use crate::parse::idmap::IdMap;
use crate::scenario::matchers::MapExpect;
use crate::templates::Templates;
use crate::verdict::Check;

/// An observed map as the diff shows it: sorted, unless its order is the point.
fn shown(want: &MapExpect, m: &IdMap) -> String {
    match want {
        MapExpect::Ordered(_) => m.to_string(),
        _ => m.sorted().to_string(),
    }
}

pub fn check(
    subject: String,
    want: &MapExpect,
    have: Option<&IdMap>,
    pod: &PodObservation,
    t: &Templates,
) -> Check {
    let expected = describe_map(want, t);
    match have {
        None => make(subject, expected, not_observed(pod), false),
        Some(m) => match map_matches(want, m, t) {
            Ok(ok) => make(subject, expected, shown(want, m), ok),
            Err(e) => make(
                subject,
                expected,
                format!("{} ({e})", shown(want, m)),
                false,
            ),
        },
    }
}
