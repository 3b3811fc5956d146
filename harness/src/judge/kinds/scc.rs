//! `scc`: the SCC that admitted the pod (`openshift.io/scc`).

use super::check as make;
use crate::observation::PodObservation;
use crate::verdict::Check;

pub fn check(subject: String, want: &str, pod: &PodObservation) -> Check {
    let have = pod
        .scc
        .clone()
        .unwrap_or_else(|| "(no openshift.io/scc annotation)".into());
    make(subject, want, have, pod.scc.as_deref() == Some(want))
}
