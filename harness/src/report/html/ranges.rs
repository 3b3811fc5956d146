//! What the host id picture shows, computed from results alone: the host id
//! ranges pods were observed to get, the node's ranges behind them, and the
//! overlaps between pods that existed at the same time.
//!
//! When do two pods coexist? Pods of one scenario always do (the scenario
//! keeps them all until it ends). Pods of two scenarios do when the
//! scenarios' time windows (`startMs` + `durationMs`) intersect; results
//! written before `startMs` was recorded have no windows, and then ranges of
//! different scenarios are never called an overlap (a slot reused by a later
//! scenario is normal allocator behaviour, not a conflict).

use crate::facts::{Facts, SubIdRange};
use crate::report::results::{RunResults, ScenarioResult};

/// One `uid_map` line of one pod whose host start is not 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRange {
    pub scenario: String,
    pub pod: String,
    pub inside: u64,
    pub start: u64,
    pub length: u64,
    /// The pod's whole uid_map on one line (`0 1234 1 | 1 200000 65535`).
    pub map: String,
    /// The scenario's time window in ms from the run's start, when known.
    pub window: Option<(u64, u64)>,
}

impl PodRange {
    /// One past the last host id.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.length)
    }

    pub fn line(&self) -> String {
        format!("{} {} {}", self.inside, self.start, self.length)
    }
}

/// A range of the node shaded behind the pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRange {
    /// CSS class: `host`, `containers` or `kubelet`.
    pub kind: &'static str,
    pub label: String,
    pub start: u64,
    pub count: u64,
}

/// Two coexisting pods sharing host ids `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// Indexes into the pod ranges.
    pub a: usize,
    pub b: usize,
    pub start: u64,
    pub end: u64,
}

/// The kubelet's range when no `kubelet` subordinate range is configured:
/// 65536 up to 2^32, slots placed at random in it (kubernetes
/// `pkg/kubelet/kubelet_getters.go` getKubeletMappings: `defaultFirstID =
/// 1 << 16`, `defaultLen = 1<<32 - defaultFirstID`).
const KUBELET_DEFAULT_FIRST: u64 = 1 << 16;
const KUBELET_DEFAULT_LEN: u64 = (1 << 32) - KUBELET_DEFAULT_FIRST;

/// Every observed pod range, in scenario and pod order.
pub fn pod_ranges(results: &RunResults) -> Vec<PodRange> {
    pod_ranges_of(&results.results)
}

/// [`pod_ranges`] of a list of scenario results.
pub fn pod_ranges_of(results: &[ScenarioResult]) -> Vec<PodRange> {
    let mut out = Vec::new();
    for r in results {
        let Some(o) = &r.observation else { continue };
        let window = r.start_ms.map(|s| (s, s + r.duration_ms));
        for p in &o.pods {
            let Some(map) = p.uid_map() else { continue };
            let text = map.to_string().replace('\n', " | ");
            for l in map.0.iter().filter(|l| l.outside != 0) {
                out.push(PodRange {
                    scenario: r.id.clone(),
                    pod: p.name.clone(),
                    inside: l.inside,
                    start: l.outside,
                    length: l.length,
                    map: text.clone(),
                    window,
                });
            }
        }
    }
    out
}

/// Pods observed in the host user namespace (`0 0 4294967295`): not drawn, counted.
pub fn host_namespace_pods(results: &RunResults) -> usize {
    results
        .results
        .iter()
        .filter_map(|r| r.observation.as_ref())
        .flat_map(|o| &o.pods)
        .filter(|p| p.uid_map().is_some_and(|m| m.is_host()))
        .count()
}

/// The node's ranges: the host's own ids, the `containers` subordinate
/// ranges (CRI-O's `auto`), the kubelet's allocation range (its subordinate
/// range, else its default rule).
pub fn node_ranges(facts: &Facts) -> Vec<NodeRange> {
    let mut out = vec![NodeRange {
        kind: "host",
        label: "host's own ids 0–65535".into(),
        start: 0,
        count: 65536,
    }];
    let subuids = |user: &str| -> Vec<SubIdRange> {
        facts
            .nodes
            .iter()
            .filter_map(|n| n.subuids.as_ref())
            .filter_map(|s| s.get(user))
            .flatten()
            .copied()
            .collect()
    };
    for r in subuids("containers") {
        out.push(NodeRange {
            kind: "containers",
            label: format!(
                "containers subuid {}–{}",
                r.start,
                r.start + r.count.saturating_sub(1)
            ),
            start: r.start,
            count: r.count,
        });
    }
    // What the kubelet really uses: the range the target reported (the
    // emulated kubelet of cri/local), else the node's `kubelet` subuid entry,
    // else the kubelet's default.
    let kubelet: Vec<NodeRange> = match (&facts.kubelet_ids, subuids("kubelet").first()) {
        (Some(k), _) => vec![NodeRange {
            kind: "kubelet",
            label: format!(
                "kubelet {}–{} ({})",
                k.first,
                k.first + k.count.saturating_sub(1),
                if k.source.starts_with("/etc/subuid") {
                    "its kubelet subuid entry"
                } else {
                    "default without a kubelet subuid: slots at random"
                }
            ),
            start: k.first,
            count: k.count,
        }],
        (None, Some(r)) => vec![NodeRange {
            kind: "kubelet",
            label: format!(
                "kubelet subuid {}–{}",
                r.start,
                r.start + r.count.saturating_sub(1)
            ),
            start: r.start,
            count: r.count,
        }],
        (None, None) => vec![NodeRange {
            kind: "kubelet",
            label: format!(
                "kubelet default {}–{} (no kubelet subuid: slots at random)",
                KUBELET_DEFAULT_FIRST,
                KUBELET_DEFAULT_FIRST + KUBELET_DEFAULT_LEN - 1
            ),
            start: KUBELET_DEFAULT_FIRST,
            count: KUBELET_DEFAULT_LEN,
        }],
    };
    // Where kubelet slots and CRI-O's `auto` share host ids: a pod of each
    // can get the same ids there.
    let shared: Vec<NodeRange> = kubelet
        .iter()
        .flat_map(|k| {
            out.iter()
                .filter(|c| c.kind == "containers")
                .filter_map(move |c| {
                    let start = k.start.max(c.start);
                    let end = (k.start + k.count).min(c.start + c.count);
                    (start < end).then(|| NodeRange {
                        kind: "shared",
                        label: format!(
                            "kubelet and containers overlap {start}–{}: pods of both may share ids",
                            end - 1
                        ),
                        start,
                        count: end - start,
                    })
                })
        })
        .collect();
    out.extend(kubelet);
    out.extend(shared);
    out
}

fn coexist(a: &PodRange, b: &PodRange) -> bool {
    if a.scenario == b.scenario {
        return a.pod != b.pod;
    }
    match (a.window, b.window) {
        (Some((a0, a1)), Some((b0, b1))) => a0 < b1 && b0 < a1,
        _ => false,
    }
}

/// Overlaps between coexisting pods, each pair once (sweep over host starts).
pub fn overlaps(ranges: &[PodRange]) -> Vec<Overlap> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| (ranges[i].start, i));
    let mut out = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if ranges[j].start >= ranges[i].end() {
                break;
            }
            if coexist(&ranges[i], &ranges[j]) {
                out.push(Overlap {
                    a: i.min(j),
                    b: i.max(j),
                    start: ranges[j].start,
                    end: ranges[i].end().min(ranges[j].end()),
                });
            }
        }
    }
    out.sort_by_key(|o| (o.a, o.b));
    out
}

/// Scenario id → its pods whose host range overlaps a coexisting pod's (the
/// diagnoses' `overlapsLivePod`).
pub fn overlapping_pods(
    results: &[ScenarioResult],
) -> std::collections::BTreeMap<String, Vec<String>> {
    let ranges = pod_ranges_of(results);
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for o in overlaps(&ranges) {
        for r in [&ranges[o.a], &ranges[o.b]] {
            let pods = out.entry(r.scenario.clone()).or_default();
            if !pods.contains(&r.pod) {
                pods.push(r.pod.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(scenario: &str, pod: &str, start: u64, window: Option<(u64, u64)>) -> PodRange {
        PodRange {
            scenario: scenario.into(),
            pod: pod.into(),
            inside: 0,
            start,
            length: 65536,
            map: String::new(),
            window,
        }
    }

    #[test]
    fn pods_of_one_scenario_overlap_when_their_ranges_intersect() {
        let r = [
            range("s", "a", 65536, None),
            range("s", "b", 131072, None),
            range("s", "c", 100000, None),
        ];
        assert_eq!(
            overlaps(&r),
            vec![
                Overlap {
                    a: 0,
                    b: 2,
                    start: 100000,
                    end: 131072
                },
                Overlap {
                    a: 1,
                    b: 2,
                    start: 131072,
                    end: 165536
                },
            ]
        );
    }

    #[test]
    fn scenarios_overlap_only_when_their_windows_intersect() {
        let serial = [
            range("s", "a", 65536, Some((0, 100))),
            range("t", "a", 65536, Some((100, 200))),
        ];
        assert!(overlaps(&serial).is_empty());
        let concurrent = [
            range("s", "a", 65536, Some((0, 100))),
            range("t", "a", 65536, Some((99, 200))),
        ];
        assert_eq!(overlaps(&concurrent).len(), 1);
        let unknown = [range("s", "a", 65536, None), range("t", "a", 65536, None)];
        assert!(overlaps(&unknown).is_empty());
    }

    fn facts(subuids: &[(&str, u64, u64)], kubelet_ids: Option<(u64, u64)>) -> Facts {
        let mut m = std::collections::BTreeMap::new();
        for (user, start, count) in subuids {
            m.entry(user.to_string())
                .or_insert_with(Vec::new)
                .push(SubIdRange {
                    start: *start,
                    count: *count,
                });
        }
        Facts {
            target: crate::facts::TargetKind::Cri,
            endpoint: String::new(),
            runtime: None,
            kubernetes: None,
            openshift: None,
            feature_gates: Default::default(),
            gate_sources: Default::default(),
            host_view: true,
            nodes: vec![crate::facts::NodeFacts {
                subuids: Some(m),
                ..Default::default()
            }],
            sends_node_userns_mode: None,
            kubelet_emulated: false,
            kubelet_ids: kubelet_ids.map(|(first, count)| crate::facts::KubeletIdRange {
                first,
                count,
                ids_per_pod: 65536,
                source: "/etc/subuid kubelet".into(),
            }),
            unreadable: Vec::new(),
        }
    }

    fn kinds(n: &[NodeRange]) -> Vec<(&str, u64, u64)> {
        n.iter().map(|r| (r.kind, r.start, r.count)).collect()
    }

    /// Issue 18.6: without a `kubelet` entry the kubelet uses 65536 up to
    /// 2^32, which covers every `containers` range; the overlap is drawn.
    #[test]
    fn kubelet_default_reaches_2_to_the_32_and_covers_containers() {
        let n = node_ranges(&facts(&[("containers", 200000, 268435456)], None));
        assert_eq!(
            kinds(&n),
            [
                ("host", 0, 65536),
                ("containers", 200000, 268435456),
                ("kubelet", 65536, (1 << 32) - 65536),
                ("shared", 200000, 268435456),
            ]
        );
        assert_eq!(
            n[2].label,
            "kubelet default 65536–4294967295 (no kubelet subuid: slots at random)"
        );
    }

    /// A `kubelet` entry apart from `containers` leaves no shared ids; the
    /// range the target reported wins over the node's file.
    #[test]
    fn kubelet_subuid_entry_and_reported_range() {
        let n = node_ranges(&facts(
            &[
                ("containers", 200000, 65536 * 10),
                ("kubelet", 1 << 30, 1 << 26),
            ],
            None,
        ));
        assert_eq!(kinds(&n)[2..], [("kubelet", 1 << 30, 1 << 26)]);
        let n = node_ranges(&facts(
            &[("containers", 200000, 65536 * 10)],
            Some((65536 * 4, 65536 * 4)),
        ));
        assert_eq!(
            kinds(&n)[2..],
            [("kubelet", 262144, 262144), ("shared", 262144, 262144)]
        );
    }

    #[test]
    fn two_lines_of_one_pod_are_not_an_overlap() {
        let r = [range("s", "a", 65536, None), range("s", "a", 65536, None)];
        assert!(overlaps(&r).is_empty());
    }
}
