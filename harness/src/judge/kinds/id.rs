//! `id`: the output of `id` in the container.

use super::text_check;
use crate::observation::PodObservation;
use crate::scenario::matchers::TextMatch;
use crate::templates::Templates;
use crate::verdict::Check;

pub fn check(subject: String, m: &TextMatch, pod: &PodObservation, t: &Templates) -> Check {
    text_check(subject, m, pod.inside.id.as_deref(), pod, t)
}
