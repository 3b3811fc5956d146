//! Feature gates from a Prometheus text exposition: the
//! `kubernetes_feature_enabled{name="…",stage="…"} 0|1` series that every
//! Kubernetes component (kubelet, API server) exports since 1.26
//! (k8s.io/component-base/metrics/prometheus/feature `featureInfo`).

use std::collections::BTreeMap;

const SERIES: &str = "kubernetes_feature_enabled{";

/// Every gate the text reports, with whether it is on. Lines that are not
/// this series, or that do not parse, are ignored: the exposition holds
/// hundreds of other series.
pub fn feature_gates(text: &str) -> BTreeMap<String, bool> {
    text.lines().filter_map(gate_line).collect()
}

fn gate_line(line: &str) -> Option<(String, bool)> {
    let rest = line.trim().strip_prefix(SERIES)?;
    let (labels, value) = rest.rsplit_once('}')?;
    let name = labels.split(',').find_map(|l| {
        l.trim()
            .strip_prefix("name=\"")
            .and_then(|v| v.strip_suffix('"'))
    })?;
    let on = match value.split_whitespace().next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    Some((name.to_string(), on))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as MicroShift 4.19's API server printed them (measured).
    const MICROSHIFT_4_19: &str = "# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n\
# TYPE kubernetes_feature_enabled gauge\n\
kubernetes_feature_enabled{name=\"UserNamespacesPodSecurityStandards\",stage=\"ALPHA\"} 0\n\
kubernetes_feature_enabled{name=\"UserNamespacesSupport\",stage=\"BETA\"} 0\n\
kubernetes_feature_enabled{name=\"WatchList\",stage=\"BETA\"} 1\n\
apiserver_request_total{code=\"200\"} 5\n";

    #[test]
    fn reads_each_gate_and_ignores_other_series() {
        let g = feature_gates(MICROSHIFT_4_19);
        assert_eq!(g.get("UserNamespacesSupport"), Some(&false));
        assert_eq!(g.get("UserNamespacesPodSecurityStandards"), Some(&false));
        assert_eq!(g.get("WatchList"), Some(&true));
        assert_eq!(g.len(), 3);
    }

    #[test]
    fn a_gate_that_is_on() {
        let g = feature_gates(
            "kubernetes_feature_enabled{name=\"UserNamespacesSupport\",stage=\"\"} 1",
        );
        assert_eq!(g.get("UserNamespacesSupport"), Some(&true));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        for bad in [
            "kubernetes_feature_enabled{name=\"X\"} 2",
            "kubernetes_feature_enabled{stage=\"BETA\"} 1",
            "kubernetes_feature_enabled{name=\"X\" 1",
            "kubernetes_feature_enabled{name=\"X\"}",
        ] {
            assert!(feature_gates(bad).is_empty(), "{bad}");
        }
    }
}
