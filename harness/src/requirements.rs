//! Requirement checks: does the target offer what a scenario needs? Pure
//! functions over [`Facts`]; a refusal is the skip reason shown to users.

use std::collections::BTreeMap;

use crate::facts::Facts;
use crate::scenario::{Condition, OpenShiftReq, Requirements};
use crate::version::{Version, VersionReq};

/// A feature gate's default by Kubernetes version (FACTS.md, KEP-127), for
/// clusters that do not report their gates.
pub fn default_gate(name: &str, k8s: &Version) -> Option<bool> {
    let minor = (k8s.0.major == 1).then_some(k8s.0.minor)?;
    match name {
        "UserNamespacesSupport" if minor >= 28 => Some(minor >= 33),
        "UserNamespacesStatelessPodsSupport" if (25..=27).contains(&minor) => Some(false),
        "UserNamespacesPodSecurityStandards" if (29..=34).contains(&minor) => Some(false),
        // Removed in 1.35: the relaxation is built in (check_runAsUser.go:68, FACTS.md
        // "Kubernetes 1.34+"), so a scenario that needs it on is met and one that needs it off is not.
        "UserNamespacesPodSecurityStandards" if minor >= 35 => Some(true),
        "UserNamespacesHostNetworkSupport" if minor >= 35 => Some(false),
        _ => None,
    }
}

fn runtime_label(facts: &Facts) -> String {
    match &facts.runtime {
        Some(r) => r.shown(),
        None => "no runtime".into(),
    }
}

fn check_range(what: &str, req: &VersionReq, have: Option<&Version>, none: &str) -> Option<String> {
    match have {
        Some(v) if v.satisfies(req) => None,
        Some(v) => Some(format!("needs {what} {req}, target has {v}")),
        None => Some(format!("needs {what} {req}, {none}")),
    }
}

fn gate_state(name: &str, facts: &Facts) -> Option<bool> {
    facts.feature_gates.get(name).copied().or_else(|| {
        facts
            .kubernetes
            .as_ref()
            .and_then(|v| default_gate(name, v))
    })
}

/// Every unmet requirement, as sentences naming what the target reported.
pub fn unmet(req: &Requirements, facts: &Facts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(targets) = &req.targets {
        if !targets.contains(&facts.target) {
            let names: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
            out.push(format!(
                "needs target {}, this run uses {}",
                names.join(" or "),
                facts.target
            ));
        }
    }
    if let Some(name) = req.runtime {
        let have = facts.runtime.as_ref().and_then(|r| r.name);
        if have != Some(name) {
            out.push(format!(
                "needs runtime {name}, target reports {}",
                runtime_label(facts)
            ));
        }
    }
    if let Some(r) = &req.runtime_version {
        let have = facts.runtime.as_ref().and_then(|r| r.version.as_ref());
        out.extend(check_range(
            "runtime version",
            r,
            have,
            "the runtime version is not reported",
        ));
    }
    if let Some(r) = &req.kubernetes {
        let none = format!("target has no Kubernetes API ({})", facts.target);
        out.extend(check_range(
            "Kubernetes",
            r,
            facts.kubernetes.as_ref(),
            &none,
        ));
    }
    match &req.openshift {
        Some(OpenShiftReq::Present(true)) if facts.openshift.is_none() => {
            out.push("needs OpenShift, target is not OpenShift".into())
        }
        Some(OpenShiftReq::Present(false)) if facts.openshift.is_some() => {
            out.push("needs a cluster that is not OpenShift".into())
        }
        Some(OpenShiftReq::Version(r)) => match &facts.openshift {
            None => out.push(format!("needs OpenShift {r}, target is not OpenShift")),
            Some(o) => out.extend(check_range(
                "OpenShift",
                r,
                o.version.as_ref(),
                "the OpenShift version is not reported",
            )),
        },
        _ => {}
    }
    for (gate, want) in &req.feature_gates {
        match gate_state(gate, facts) {
            Some(have) if have == *want => {}
            Some(have) => out.push(format!(
                "needs feature gate {gate}={want}, target has {gate}={have}"
            )),
            None => out.push(format!(
                "needs feature gate {gate}={want}; the target does not report it"
            )),
        }
    }
    if let Some(want) = req.user_namespaces {
        let handlers = facts.runtime.as_ref().map(|r| &r.handlers);
        match handlers.filter(|h| !h.is_empty()) {
            None => out.push(format!(
                "needs userNamespaces={want}; the runtime reports no handler features ({})",
                runtime_label(facts)
            )),
            // Pods here use the default handler (CRI's name ""), not
            // whichever handler happens to support user namespaces.
            Some(h) => match h.get("").or(h.values().next().filter(|_| h.len() == 1)) {
                None => out.push(format!(
                    "needs userNamespaces={want}; the runtime reports no default handler among {} ({})",
                    h.keys().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "),
                    runtime_label(facts)
                )),
                Some(f) if f.user_namespaces != want => out.push(format!(
                    "needs userNamespaces={want}, the default runtime handler reports user_namespaces={} ({})",
                    f.user_namespaces,
                    runtime_label(facts)
                )),
                Some(_) => {}
            },
        }
    }
    if !req.sccs.is_empty() {
        match &facts.openshift {
            None => out.push(format!(
                "needs SCCs {}; the cluster is not OpenShift",
                req.sccs.join(", ")
            )),
            Some(o) if o.sccs.is_empty() => out.push(format!(
                "needs SCCs {}; the SCC list was not readable",
                req.sccs.join(", ")
            )),
            Some(o) => {
                let missing: Vec<&str> = req
                    .sccs
                    .iter()
                    .filter(|n| !o.sccs.iter().any(|s| &s.name == *n))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    out.push(format!(
                        "needs SCC {}, the cluster has {} SCCs without it",
                        missing.join(", "),
                        o.sccs.len()
                    ));
                }
            }
        }
    }
    for (user, want) in &req.subids {
        match facts.nodes.first().and_then(|n| n.subuids.as_ref()) {
            None => out.push(format!("needs to know the node's subordinate ids for {user:?}; /etc/subuid is not readable on this target")),
            Some(map) => {
                let have = map.get(user).is_some_and(|r| !r.is_empty());
                if have != *want {
                    let users: Vec<&str> = map.keys().map(String::as_str).collect();
                    let listed = if users.is_empty() { "none".to_string() } else { users.join(", ") };
                    out.push(if *want {
                        format!("needs subordinate ids for user {user:?}, node has none (its /etc/subuid, as the runtime sees it, has: {listed})")
                    } else {
                        format!("needs a node without subordinate ids for user {user:?}, node has them")
                    });
                }
            }
        }
    }
    if let Some(r) = &req.kernel {
        let have = facts
            .nodes
            .first()
            .and_then(|n| n.kernel.as_deref())
            .and_then(Version::parse);
        out.extend(check_range(
            "kernel",
            r,
            have.as_ref(),
            "the kernel version is not reported",
        ));
    }
    out.extend(runtime_config_unmet(&req.runtime_config, facts));
    if let Some(want) = req.sends_node_userns_mode {
        match facts.sends_node_userns_mode {
            Some(have) if have == want => {}
            Some(have) => out.push(format!(
                "needs sendsNodeUsernsMode={want}, target has {have}"
            )),
            None => out.push(format!(
                "needs sendsNodeUsernsMode={want}; not known for this target"
            )),
        }
    }
    out
}

/// The value at a dotted key (`crio.runtime.default_sysctls`) of a
/// configuration; a missing key is `None`.
fn config_value<'a>(config: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    key.split('.').try_fold(config, |v, part| v.get(part))
}

/// Whether a value is the empty one its type has (what CRI-O's config dump
/// leaves out).
fn is_empty_value(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn runtime_config_unmet(
    wanted: &BTreeMap<String, serde_json::Value>,
    facts: &Facts,
) -> Vec<String> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let Some(config) = facts.runtime.as_ref().and_then(|r| r.config.as_ref()) else {
        let keys: Vec<&str> = wanted.keys().map(String::as_str).collect();
        return vec![format!(
            "needs runtime config {}; {} does not report its configuration",
            keys.join(", "),
            runtime_label(facts)
        )];
    };
    wanted
        .iter()
        .filter_map(|(key, want)| {
            let have = config_value(config, key);
            let holds = match have {
                Some(h) => h == want,
                None => is_empty_value(want),
            };
            (!holds).then(|| {
                let have = have.map_or_else(|| "unset".to_string(), |h| h.to_string());
                format!("needs runtime config {key} = {want}, runtime has {have}")
            })
        })
        .collect()
}

/// `Ok` when every requirement holds; otherwise the skip reason.
pub fn check(req: &Requirements, facts: &Facts) -> Result<(), String> {
    let unmet = unmet(req, facts);
    if unmet.is_empty() {
        Ok(())
    } else {
        Err(unmet.join("; "))
    }
}

/// A scenario whose pods must run cannot be judged on a cluster that has no
/// node (a control plane alone): it is skipped, saying so. Nodes that could
/// not be listed are not "no nodes".
pub fn check_nodes(needs_running_pods: bool, facts: &Facts) -> Result<(), String> {
    let listed = !facts.unreadable.iter().any(|u| u.starts_with("nodes"));
    if needs_running_pods
        && facts.target == crate::facts::TargetKind::Kube
        && listed
        && facts.nodes.is_empty()
    {
        Err("its pods must run, and the cluster reports no nodes (a control plane alone)".into())
    } else {
        Ok(())
    }
}

/// Whether an expectation case's condition holds on this target (unknown facts do not hold).
pub fn condition_holds(cond: &Condition, facts: &Facts) -> bool {
    let as_req = Requirements {
        targets: cond.target.map(|t| vec![t]),
        runtime: cond.runtime,
        runtime_version: cond.runtime_version.clone(),
        kubernetes: cond.kubernetes.clone(),
        openshift: cond.openshift.clone(),
        feature_gates: cond.feature_gates.clone(),
        sends_node_userns_mode: cond.sends_node_userns_mode,
        ..Requirements::default()
    };
    unmet(&as_req, facts).is_empty()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::facts::{
        HandlerFeatures, NodeFacts, OpenShiftFacts, RuntimeFacts, RuntimeName, SubIdRange,
        TargetKind,
    };

    pub(crate) fn containerd_local() -> Facts {
        let mut handlers = BTreeMap::new();
        handlers.insert(
            "runc".to_string(),
            HandlerFeatures {
                user_namespaces: true,
                recursive_read_only_mounts: true,
            },
        );
        let mut subuids = BTreeMap::new();
        subuids.insert(
            "root".to_string(),
            vec![SubIdRange {
                start: 100000,
                count: 65536,
            }],
        );
        Facts {
            target: TargetKind::Local,
            endpoint: "unix:///var/lib/userns-e2e/node/run/containerd.sock".into(),
            runtime: Some(RuntimeFacts {
                name: Some(RuntimeName::Containerd),
                reported_name: "containerd".into(),
                reported_version: "v2.1.9".into(),
                version: Version::parse("2.1.9"),
                handlers,
                config: None,
            }),
            kubernetes: None,
            openshift: None,
            feature_gates: BTreeMap::new(),
            nodes: vec![NodeFacts {
                name: Some("local".into()),
                kernel: Some("6.18.44-fc".into()),
                subuids: Some(subuids.clone()),
                subgids: Some(subuids),
                max_pods: None,
            }],
            sends_node_userns_mode: Some(true),
            kubelet_emulated: false,
            gate_sources: BTreeMap::new(),
            host_view: true,
            kubelet_ids: None,
            unreadable: Vec::new(),
        }
    }

    pub(crate) fn crio_openshift(version: &str) -> Facts {
        let mut f = containerd_local();
        f.target = TargetKind::Kube;
        f.runtime = Some(RuntimeFacts {
            name: Some(RuntimeName::CriO),
            reported_name: "cri-o".into(),
            reported_version: version.into(),
            version: Version::parse(version),
            handlers: BTreeMap::new(),
            config: None,
        });
        f.kubernetes = Version::parse("1.33.2");
        f.openshift = Some(OpenShiftFacts {
            version: Version::parse("4.20.1"),
            sccs: Vec::new(),
        });
        f
    }

    fn req(json: serde_json::Value) -> Requirements {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn met_requirements() {
        let f = containerd_local();
        assert_eq!(
            check(
                &req(
                    serde_json::json!({"runtime": "containerd", "runtimeVersion": ">=2.0", "userNamespaces": true, "targets": ["local", "cri"], "kernel": ">=6.3", "subids": {"root": true, "containers": false}})
                ),
                &f
            ),
            Ok(())
        );
        let o = crio_openshift("1.33.2");
        assert_eq!(
            check(
                &req(
                    serde_json::json!({"runtime": "cri-o", "kubernetes": ">=1.33", "openshift": ">=4.20", "featureGates": {"UserNamespacesSupport": true}})
                ),
                &o
            ),
            Ok(())
        );
    }

    #[test]
    fn runtime_config_is_matched_by_dotted_key_with_absent_meaning_empty() {
        let mut f = crio_openshift("1.36.3");
        let config_free =
            req(serde_json::json!({"runtimeConfig": {"crio.runtime.default_sysctls": []}}));
        assert_eq!(
            check(&config_free, &f).unwrap_err(),
            "needs runtime config crio.runtime.default_sysctls; cri-o 1.36.3 does not report its configuration"
        );
        // CRI-O's dump leaves out an empty default_sysctls.
        f.runtime.as_mut().unwrap().config = Some(serde_json::json!(
            {"crio": {"runtime": {"minimum_mappable_uid": -1}}}
        ));
        assert_eq!(check(&config_free, &f), Ok(()));
        let guard = req(serde_json::json!({"runtimeConfig": {
            "crio.runtime.minimum_mappable_uid": 1000,
            "crio.runtime.default_sysctls": ["net.ipv4.ping_group_range=0 2147483647"]}}));
        assert_eq!(
            check(&guard, &f).unwrap_err(),
            "needs runtime config crio.runtime.default_sysctls = [\"net.ipv4.ping_group_range=0 2147483647\"], runtime has unset; \
             needs runtime config crio.runtime.minimum_mappable_uid = 1000, runtime has -1"
        );
        f.runtime.as_mut().unwrap().config = Some(serde_json::json!({"crio": {"runtime": {
            "minimum_mappable_uid": 1000,
            "default_sysctls": ["net.ipv4.ping_group_range=0 2147483647"]}}}));
        assert_eq!(check(&guard, &f), Ok(()));
        assert!(check(&config_free, &f).is_err());
    }

    #[test]
    fn unmet_requirements_name_what_the_target_reported() {
        let f = containerd_local();
        assert_eq!(
            check(&req(serde_json::json!({"runtime": "cri-o"})), &f).unwrap_err(),
            "needs runtime cri-o, target reports containerd 2.1.9"
        );
        assert_eq!(
            check(&req(serde_json::json!({"kubernetes": ">=1.33"})), &f).unwrap_err(),
            "needs Kubernetes >=1.33, target has no Kubernetes API (local)"
        );
        assert_eq!(
            check(
                &req(serde_json::json!({"subids": {"containers": true}})),
                &f
            )
            .unwrap_err(),
            "needs subordinate ids for user \"containers\", node has none (its /etc/subuid, as the runtime sees it, has: root)"
        );
        assert_eq!(
            check(&req(serde_json::json!({"openshift": true})), &f).unwrap_err(),
            "needs OpenShift, target is not OpenShift"
        );
        assert_eq!(
            check(&req(serde_json::json!({"targets": ["kube"]})), &f).unwrap_err(),
            "needs target kube, this run uses local"
        );
        assert_eq!(
            check(
                &req(serde_json::json!({"featureGates": {"UserNamespacesSupport": true}})),
                &f
            )
            .unwrap_err(),
            "needs feature gate UserNamespacesSupport=true; the target does not report it"
        );
        let both = check(
            &req(serde_json::json!({"runtime": "cri-o", "runtimeVersion": "<2"})),
            &f,
        )
        .unwrap_err();
        assert_eq!(both, "needs runtime cri-o, target reports containerd 2.1.9; needs runtime version <2, target has 2.1.9");
        let o = crio_openshift("1.33.2");
        assert_eq!(
            check(&req(serde_json::json!({"userNamespaces": true})), &o).unwrap_err(),
            "needs userNamespaces=true; the runtime reports no handler features (cri-o 1.33.2)"
        );
        // Pods use the default handler (""): another handler's support does not count.
        let mut two = containerd_local();
        let h = &mut two.runtime.as_mut().unwrap().handlers;
        h.insert(
            "".into(),
            HandlerFeatures {
                user_namespaces: false,
                recursive_read_only_mounts: false,
            },
        );
        assert_eq!(
            check(&req(serde_json::json!({"userNamespaces": true})), &two).unwrap_err(),
            "needs userNamespaces=true, the default runtime handler reports user_namespaces=false (containerd 2.1.9)"
        );
        two.runtime
            .as_mut()
            .unwrap()
            .handlers
            .get_mut("")
            .unwrap()
            .user_namespaces = true;
        assert!(check(&req(serde_json::json!({"userNamespaces": true})), &two).is_ok());
        assert_eq!(
            check(&req(serde_json::json!({"sendsNodeUsernsMode": false})), &o).unwrap_err(),
            "needs sendsNodeUsernsMode=false, target has true"
        );
        assert_eq!(
            check(&req(serde_json::json!({"kernel": ">=7"})), &o).unwrap_err(),
            "needs kernel >=7, target has 6.18.44"
        );
    }

    #[test]
    fn gate_defaults_follow_the_kubernetes_version() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(
            default_gate("UserNamespacesSupport", &v("1.32.0")),
            Some(false)
        );
        assert_eq!(
            default_gate("UserNamespacesSupport", &v("1.33.0")),
            Some(true)
        );
        assert_eq!(default_gate("UserNamespacesSupport", &v("1.27.0")), None);
        assert_eq!(
            default_gate("UserNamespacesPodSecurityStandards", &v("1.30.0")),
            Some(false)
        );
        assert_eq!(
            default_gate("UserNamespacesPodSecurityStandards", &v("1.36.2")),
            Some(true)
        );
        let mut o = crio_openshift("1.32.0");
        o.kubernetes = Version::parse("1.32.3");
        assert_eq!(
            check(
                &req(serde_json::json!({"featureGates": {"UserNamespacesSupport": true}})),
                &o
            )
            .unwrap_err(),
            "needs feature gate UserNamespacesSupport=true, target has UserNamespacesSupport=false"
        );
    }

    #[test]
    fn conditions() {
        let c: Condition = serde_json::from_value(
            serde_json::json!({"runtime": "cri-o", "runtimeVersion": ">=1.29.5"}),
        )
        .unwrap();
        assert!(condition_holds(&c, &crio_openshift("1.29.5")));
        assert!(!condition_holds(&c, &crio_openshift("1.29.4")));
        assert!(!condition_holds(&c, &containerd_local()));
    }
}
