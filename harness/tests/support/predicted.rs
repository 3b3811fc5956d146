//! What `compare` may report between runs: exactly the changes the
//! scenarios' `cases:` predict for the runs' environments. Shared by the
//! tiers that compare runs (`real_crio` across CRI-O versions,
//! `real_openshift` across OpenShift versions).

use std::collections::BTreeSet;

use serde_json::Value;
use userns_e2e::report::results::RunResults;
use userns_e2e::scenario::Scenario;

/// Maps a `compare` facet (`pod x: uid_map`, `pod x: sysctl k`) to the pod and
/// the expectation field that predicts it.
fn facet_field(what: &str) -> Option<(String, &'static str)> {
    let rest = what.strip_prefix("pod ")?;
    let (pod, facet) = rest.split_once(": ")?;
    let field = match facet {
        "admission" => "admission",
        "scc" => "scc",
        "outcome" => "outcome",
        "uid_map" => "uidMap",
        "gid_map" => "gidMap",
        "id" => "id",
        "host uid" => "hostUid",
        f if f.starts_with("sysctl ") => "sysctls",
        f if f.starts_with("exec ") => "exec",
        _ => return None,
    };
    Some((pod.to_string(), field))
}

/// For each pod of a scenario, the expectation fields whose resolved value
/// differs between the runs' environments: what `cases:` predicts to change.
fn predicted(s: &Scenario, runs: &[RunResults]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for case in &s.spec.pods {
        let name = case.pod.0["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let resolved: Vec<Value> = runs
            .iter()
            .map(|r| {
                serde_json::to_value(userns_e2e::judge::resolve_expect(case, &r.environment))
                    .unwrap_or_default()
            })
            .collect();
        let keys: BTreeSet<String> = resolved
            .iter()
            .filter_map(|v| v.as_object())
            .flat_map(|o| o.keys().cloned())
            .collect();
        for k in keys {
            if resolved.iter().any(|v| v.get(&k) != resolved[0].get(&k)) {
                out.insert((name.clone(), k));
            }
        }
    }
    out
}

/// Every row of a `compare --json` answer whose reported differences are not
/// the ones the scenario's `cases:` predict (or that predicts a change compare
/// does not report), one line each.
pub fn unpredicted(compare: &Value, scenarios: &[Scenario], runs: &[RunResults]) -> Vec<String> {
    let mut wrong = Vec::new();
    for row in compare["rows"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default();
        let Some(s) = scenarios.iter().find(|s| s.id == id) else {
            wrong.push(format!("{id}: not a scenario of this suite"));
            continue;
        };
        let want = predicted(s, runs);
        let mut seen = BTreeSet::new();
        for d in row["differences"].as_array().into_iter().flatten() {
            let what = d["what"].as_str().unwrap_or_default();
            match facet_field(what) {
                Some(f) if want.contains(&(f.0.clone(), f.1.to_string())) => {
                    seen.insert((f.0, f.1.to_string()));
                }
                _ => wrong.push(format!(
                    "{id}: `{what}` differs ({}) but no `cases:` entry predicts it",
                    d["values"]
                )),
            }
        }
        // Only where the scenario ran in more than one run can compare see a change.
        let observed_in = row["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v.as_str().is_some_and(|s| s != "skip" && s != "absent"))
            .count();
        if !want.is_empty() && seen.is_empty() && observed_in > 1 {
            wrong.push(format!(
                "{id}: `cases:` predict a change of {want:?} between the runs, but compare reports none"
            ));
        }
    }
    wrong
}
