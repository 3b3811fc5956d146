//! `sysctls`: values read from `/proc/sys` in the container.

use std::collections::BTreeMap;

use super::text_check;
use crate::observation::PodObservation;
use crate::scenario::matchers::TextMatch;
use crate::templates::Templates;
use crate::verdict::Check;

pub fn checks(
    subject: &dyn Fn(&str) -> String,
    want: &BTreeMap<String, TextMatch>,
    pod: &PodObservation,
    t: &Templates,
) -> Vec<Check> {
    want.iter()
        .map(|(key, m)| {
            let have = pod.inside.sysctls.get(key).map(String::as_str);
            text_check(subject(&format!("sysctl {key}")), m, have, pod, t)
        })
        .collect()
}

/// The sysctl names to read.
pub fn needs(want: &BTreeMap<String, TextMatch>) -> Vec<String> {
    want.keys().cloned().collect()
}
