//! Labels on everything the harness makes (CRI sandboxes and containers,
//! Kubernetes namespaces), so `cleanup` finds exactly what the harness made.

use std::collections::BTreeMap;

pub const MANAGED: &str = "userns-e2e.io/managed";
pub const RUN: &str = "userns-e2e.io/run";
pub const SCENARIO: &str = "userns-e2e.io/scenario";

/// `s` as a valid label value: `[A-Za-z0-9._-]`, at most 63 characters,
/// alphanumeric at both ends.
pub fn value(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The labels for one scenario of one run.
pub fn for_scenario(run_id: &str, scenario_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED.to_string(), "true".to_string()),
        (RUN.to_string(), value(run_id)),
        (SCENARIO.to_string(), value(scenario_id)),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_are_valid_labels() {
        assert_eq!(super::value("host-users/x"), "host-users_x");
        assert_eq!(super::value("/a b/"), "a_b");
        assert_eq!(super::value(&"x".repeat(80)).len(), 63);
    }
}
