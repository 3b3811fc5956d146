//! `across`: expectations over all pods of a scenario.

use super::check;

use crate::scenario::ScenarioFile;
use crate::verdict::Check;

/// Host ranges of all pods' uid and gid maps are pairwise disjoint.
pub fn disjoint(scenario: &ScenarioFile, observation: &crate::observation::Observation) -> Check {
    let subject = "across pods: host ranges".to_string();
    let expected = "pairwise disjoint host ranges".to_string();
    let mut ranges: Vec<(String, std::ops::Range<u64>)> = Vec::new();
    let mut problems = Vec::new();
    for (i, pod) in observation.pods.iter().enumerate() {
        let name = scenario
            .pods
            .get(i)
            .and_then(|c| c.pod.0.pointer("/metadata/name"))
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        for (kind, map) in [("uid", pod.uid_map()), ("gid", pod.gid_map())] {
            match map {
                None => problems.push(format!("pod {name}: no {kind}_map observed")),
                Some(m) if m.is_host() => {
                    problems.push(format!("pod {name}: {kind}_map is the host map"))
                }
                Some(m) => {
                    // uid and gid ranges are compared only within their own kind.
                    ranges.extend(m.host_ranges().map(|r| (format!("{kind} {name}"), r)));
                }
            }
        }
    }
    for (i, (a, ra)) in ranges.iter().enumerate() {
        for (b, rb) in &ranges[i + 1..] {
            let same_kind = a.split(' ').next() == b.split(' ').next();
            if same_kind && a != b && ra.start < rb.end && rb.start < ra.end {
                problems.push(format!(
                    "{a} [{}, {}) overlaps {b} [{}, {})",
                    ra.start, ra.end, rb.start, rb.end
                ));
            }
        }
    }
    let observed = if problems.is_empty() {
        ranges
            .iter()
            .map(|(n, r)| format!("{n}: [{}, {})", r.start, r.end))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        problems.join("; ")
    };
    check(subject, expected, observed, problems.is_empty())
}
