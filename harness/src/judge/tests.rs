//! A passing and a failing case for every expectation kind.

use std::path::Path;

use super::*;
use crate::observation::{Admission, ExecResult, HostView, Outcome, PodObservation, Probe};
use crate::parse::idmap;
use crate::requirements::tests::{containerd_local, crio_openshift};

/// A one-pod scenario whose pod expectation is `expect` (YAML, indented for `expect:`).
fn scenario(expect: &str) -> ScenarioFile {
    let text = format!(
        "description: d\ncites: [FACTS.md#story-1]\npods:\n  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata: {{name: p}}\n      spec:\n        containers: [{{name: c, image: i}}]\n    expect:\n{}\n",
        expect.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
    );
    crate::scenario::load::load_str(Path::new("t.yaml"), &text).unwrap_or_else(|e| panic!("{e:?}"))
}

fn running(uid_map: &str) -> PodObservation {
    let map = idmap::parse(uid_map).unwrap();
    PodObservation {
        name: "p".into(),
        outcome: Outcome::Running,
        inside: Probe {
            container: Some("c".into()),
            uid_map: Some(map.clone()),
            gid_map: Some(map.clone()),
            id: Some("uid=0(root) gid=0(root) groups=0(root)".into()),
            sysctls: [(
                "net.ipv4.ping_group_range".to_string(),
                "0 65535".to_string(),
            )]
            .into(),
            exec: vec![ExecResult {
                command: vec!["id".into(), "-u".into()],
                exit_code: 0,
                stdout: "0\n".into(),
                stderr: String::new(),
            }],
        },
        host: Some(HostView {
            pid: Some(42),
            uid_map: Some(map.clone()),
            gid_map: Some(map),
            host_uid: Some(131072),
            host_gid: Some(131072),
            source: "host /proc".into(),
        }),
        ..Default::default()
    }
}

fn obs(pods: Vec<PodObservation>) -> Observation {
    Observation {
        pods,
        ..Default::default()
    }
}

fn templates() -> Templates {
    [
        ("subuid.containers.start".to_string(), "200000".to_string()),
        ("ns.uidRangeStart".to_string(), "1000650000".to_string()),
    ]
    .into()
}

fn run(expect: &str, pod: PodObservation) -> Verdict {
    judge(
        &scenario(expect),
        &containerd_local(),
        &templates(),
        &obs(vec![pod]),
    )
}

fn assert_pass(v: Verdict) {
    assert!(matches!(v, Verdict::Pass { .. }), "{v:#?}");
}

fn assert_fail(v: Verdict, reason: &str) {
    match v {
        Verdict::Fail { reason: r, .. } => assert_eq!(r, reason),
        other => panic!("expected a failure, got {other:#?}"),
    }
}

#[test]
fn admission() {
    assert_pass(run("admission: admitted", running("0 131072 65536")));
    let refused = PodObservation {
        admission: Admission::Refused { code: Some(403), message: "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000610000, 1000619999]".into() },
        ..Default::default()
    };
    assert_pass(run("admission: {refused: {message: 'must be in the ranges: [1000610000, 1000619999]', code: 403}}", refused.clone()));
    assert_fail(run("admission: admitted", refused), "pod p: admission: expected admitted, observed refused (403): spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000610000, 1000619999]");
    assert_fail(run("admission: {refused: {message: Forbidden}}", running("0 0 4294967295")), "pod p: admission: expected refused with message containing \"Forbidden\", observed admitted");
}

#[test]
fn scc() {
    let mut p = running("0 0 4294967295");
    p.scc = Some("restricted-v2".into());
    assert_pass(run("scc: restricted-v2", p.clone()));
    assert_fail(
        run("scc: anyuid", p),
        "pod p: scc: expected anyuid, observed restricted-v2",
    );
}

#[test]
fn outcomes() {
    let waiting = PodObservation {
        outcome: Outcome::ContainerWaiting {
            container: "c".into(),
            reason: "CreateContainerError".into(),
            message: "setup user: cannot set uid to unmapped user in user namespace".into(),
        },
        ..Default::default()
    };
    assert_pass(run("outcome: {waiting: {reason: CreateContainerError, message: cannot set uid to unmapped user}}", waiting.clone()));
    assert_pass(run(
        "outcome: {failed: {message: unmapped user}}",
        waiting.clone(),
    ));
    assert_fail(run("outcome: running", waiting.clone()), "pod p: outcome: expected running, observed container c waiting: CreateContainerError: setup user: cannot set uid to unmapped user in user namespace");
    assert_fail(run("outcome: {waiting: {reason: RunContainerError}}", waiting), "pod p: outcome: expected container waiting reason \"RunContainerError\", observed container c waiting: CreateContainerError: setup user: cannot set uid to unmapped user in user namespace");
    let sandbox = PodObservation {
        outcome: Outcome::SandboxFailed {
            reason: "FailedCreatePodSandBox".into(),
            message: "could not find enough available IDs".into(),
        },
        ..Default::default()
    };
    assert_pass(run(
        "outcome: {sandboxFailed: {reason: FailedCreatePodSandBox, message: enough available IDs}}",
        sandbox.clone(),
    ));
    assert_fail(run("outcome: {sandboxFailed: {message: invalid argument}}", sandbox), "pod p: outcome: expected sandbox failure with message containing \"invalid argument\", observed sandbox failed: FailedCreatePodSandBox: could not find enough available IDs");
    let pending = PodObservation {
        outcome: Outcome::Pending {
            reason: Some("ContainerCreating".into()),
            message: None,
        },
        ..Default::default()
    };
    assert_pass(run("outcome: pending", pending.clone()));
    assert_fail(
        run("outcome: running", pending),
        "pod p: outcome: expected running, observed pending: ContainerCreating",
    );
    let done = PodObservation {
        outcome: Outcome::ContainerTerminated {
            container: "c".into(),
            exit_code: 1,
            reason: "Error".into(),
            message: "boom".into(),
        },
        ..Default::default()
    };
    assert_pass(run("outcome: {terminated: {exitCode: 1}}", done.clone()));
    assert_fail(run("outcome: {terminated: {exitCode: 0}}", done), "pod p: outcome: expected container terminated with exit code 0, observed container c terminated with exit code 1: Error: boom");
}

#[test]
fn uid_maps() {
    assert_pass(run(
        "uidMap: [[0, {min: 65536, multipleOf: 65536}, 65536]]",
        running("0 131072 65536"),
    ));
    assert_fail(
        run("uidMap: [[0, {min: 65536, multipleOf: 65536}, 65536]]", running("0 0 4294967295")),
        "pod p: uid_map: expected 0 <65536.. and a multiple of 65536> 65536, observed 0 0 4294967295",
    );
    assert_pass(run("uidMap: host", running("0 0 4294967295")));
    assert_fail(
        run("uidMap: host", running("0 131072 65536")),
        "pod p: uid_map: expected 0 0 4294967295 (host), observed 0 131072 65536",
    );
    assert_pass(run("uidMap: not-host", running("0 131072 65536")));
    assert_fail(run("uidMap: not-host", running("0 0 4294967295")), "pod p: uid_map: expected anything but 0 0 4294967295 (not the host), observed 0 0 4294967295");
    assert_pass(run(
        "uidMap: ['0 ${subuid.containers.start} 65536']",
        running("0 200000 65536"),
    ));
    assert_pass(run(
        "uidMap: ['0 ${ns.uidRangeStart} 1', '1 any 65535']",
        running("0 1000650000 1\n1 265536 65535"),
    ));
    assert_fail(run("uidMap: ['0 ${ns.uidRangeStart} 1', '1 any 65535']", running("0 1000650000 1")), "pod p: uid_map: expected 0 1000650000 (= ${ns.uidRangeStart}) 1 | 1 any 65535, observed 0 1000650000 1");
    assert_pass(run(
        "uidMap: ['0 100000..300000 65536']",
        running("0 200000 65536"),
    ));
    assert_fail(
        run(
            "uidMap: ['0 100000..150000 65536']",
            running("0 200000 65536"),
        ),
        "pod p: uid_map: expected 0 <100000..150000> 65536, observed 0 200000 65536",
    );
    let v = run(
        "uidMap: ['0 ${node.idsPerPod} 65536']",
        running("0 65536 65536"),
    );
    assert_fail(v, "pod p: uid_map: expected 0 ${node.idsPerPod} 65536, observed 0 65536 65536 (template value `node.idsPerPod` is not available on this target)");
}

#[test]
fn uid_maps_are_sets_unless_ordered() {
    // CRI-O 1.33 sorted by host id, 1.34 keeps the generated order: same map.
    let v134 = "0 1234 1\n1 200000 65535";
    let v133 = "1 200000 65535\n0 1234 1";
    let expect = "uidMap: ['0 1234 1', '1 200000 65535']";
    assert_pass(run(expect, running(v134)));
    assert_pass(run(expect, running(v133)));
    // Each expected line needs its own observed line.
    assert_fail(
        run("uidMap: ['0 any 1', '0 1234 1']", running(v134)),
        "pod p: uid_map: expected 0 any 1 | 0 1234 1, observed 0 1234 1",
    );
    // A wildcard line must not take the line a stricter one needs.
    assert_pass(run("uidMap: ['any any any', '0 1234 1']", running(v134)));
    let ordered = "uidMap: {ordered: ['0 1234 1', '1 200000 65535']}";
    assert_pass(run(ordered, running(v134)));
    assert_fail(
        run(ordered, running(v133)),
        "pod p: uid_map: expected in this order: 0 1234 1 | 1 200000 65535, observed 1 200000 65535",
    );
}

#[test]
fn gid_map_and_missing_maps() {
    assert_pass(run("gidMap: ['0 131072 65536']", running("0 131072 65536")));
    assert_fail(
        run("gidMap: ['0 131072 65536']", running("0 196608 65536")),
        "pod p: gid_map: expected 0 131072 65536, observed 0 196608 65536",
    );
    let failed = PodObservation {
        outcome: Outcome::SandboxFailed {
            reason: "FailedCreatePodSandBox".into(),
            message: "write sysctl key net.ipv4.ping_group_range: invalid argument".into(),
        },
        ..Default::default()
    };
    assert_fail(run("gidMap: not-host", failed), "pod p: gid_map: expected anything but 0 0 4294967295 (not the host), observed (not observed: sandbox failed: FailedCreatePodSandBox: write sysctl key net.ipv4.ping_group_range: invalid argument)");
}

#[test]
fn id_and_host_uid() {
    assert_pass(run(
        "id: {contains: 'uid=0(root)'}",
        running("0 131072 65536"),
    ));
    assert_fail(run("id: {matches: '^uid=1000'}", running("0 131072 65536")), "pod p: id: expected matches /^uid=1000/, observed \"uid=0(root) gid=0(root) groups=0(root)\"");
    assert_pass(run("hostUid: {min: 65536}", running("0 131072 65536")));
    assert_fail(
        run("hostUid: 0", running("0 131072 65536")),
        "pod p: host uid: expected 0, observed 131072",
    );
}

#[test]
fn sysctls() {
    assert_pass(run(
        "sysctls: {net.ipv4.ping_group_range: '0 65535'}",
        running("0 131072 65536"),
    ));
    assert_fail(
        run(
            "sysctls: {net.ipv4.ping_group_range: '0 2147483647'}",
            running("0 131072 65536"),
        ),
        "pod p: sysctl net.ipv4.ping_group_range: expected \"0 2147483647\", observed \"0 65535\"",
    );
}

#[test]
fn exec() {
    assert_pass(run(
        "exec: [{command: [id, -u], stdout: '0', exitCode: 0}]",
        running("0 131072 65536"),
    ));
    assert_fail(
        run(
            "exec: [{command: [id, -u], stdout: '1000'}]",
            running("0 131072 65536"),
        ),
        "pod p: exec `id -u` stdout: expected \"1000\", observed \"0\"",
    );
    assert_fail(
        run(
            "exec: [{command: [id, -u], exitCode: 1}]",
            running("0 131072 65536"),
        ),
        "pod p: exec `id -u` exit code: expected 1, observed 0",
    );
    assert_fail(
        run("exec: [{command: [cat, /x]}]", running("0 131072 65536")),
        "pod p: exec `cat /x`: expected the command to run, observed (not observed)",
    );
}

fn two_pods() -> ScenarioFile {
    let pod = |n: &str| {
        format!("  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata: {{name: {n}}}\n      spec:\n        containers: [{{name: c, image: i}}]\n")
    };
    let text = format!(
        "description: d\ncites: [FACTS.md#story-1]\npods:\n{}{}across: {{disjointRanges: true}}\n",
        pod("a"),
        pod("b")
    );
    crate::scenario::load::load_str(Path::new("t.yaml"), &text).unwrap()
}

#[test]
fn disjoint_ranges() {
    let s = two_pods();
    let v = judge(
        &s,
        &containerd_local(),
        &templates(),
        &obs(vec![running("0 131072 65536"), running("0 196608 65536")]),
    );
    assert_pass(v);
    let v = judge(
        &s,
        &containerd_local(),
        &templates(),
        &obs(vec![running("0 131072 65536"), running("0 131073 65536")]),
    );
    assert_fail(v, "across pods: host ranges: expected pairwise disjoint host ranges, observed uid a [131072, 196608) overlaps uid b [131073, 196609); gid a [131072, 196608) overlaps gid b [131073, 196609)");
    let v = judge(
        &s,
        &containerd_local(),
        &templates(),
        &obs(vec![running("0 131072 65536"), running("0 0 4294967295")]),
    );
    assert_fail(v, "across pods: host ranges: expected pairwise disjoint host ranges, observed pod b: uid_map is the host map; pod b: gid_map is the host map");
}

#[test]
fn cases_override_by_runtime_version() {
    let s = scenario("outcome: running\nsysctls: {net.ipv4.ping_group_range: '0 65535'}\n");
    let mut s2 = s.clone();
    s2.pods[0].cases = serde_json::from_value(serde_json::json!([
        {"when": {"runtime": "cri-o", "runtimeVersion": "<1.29.5"}, "expect": {"outcome": {"failed": {"message": "invalid argument"}}, "sysctls": {}}}
    ]))
    .unwrap();
    let old = crio_openshift("1.29.4");
    let new = crio_openshift("1.29.5");
    let failed = PodObservation {
        outcome: Outcome::SandboxFailed {
            reason: "FailedCreatePodSandBox".into(),
            message: "write sysctl key net.ipv4.ping_group_range: invalid argument".into(),
        },
        ..Default::default()
    };
    assert_pass(judge(&s2, &old, &templates(), &obs(vec![failed.clone()])));
    assert!(judge(&s2, &new, &templates(), &obs(vec![failed])).is_failure());
    assert_pass(judge(
        &s2,
        &new,
        &templates(),
        &obs(vec![running("0 131072 65536")]),
    ));
    let plan = probe_plan(&s2.pods[0], &new);
    assert_eq!(plan.sysctls, vec!["net.ipv4.ping_group_range".to_string()]);
    assert!(probe_plan(&s2.pods[0], &old).sysctls.is_empty());
}

#[test]
fn missing_pod_observation_fails() {
    assert_fail(
        run_missing(),
        "pod p: expected an observation, observed the target reported nothing for this pod",
    );
}

fn run_missing() -> Verdict {
    judge(
        &scenario("outcome: running"),
        &containerd_local(),
        &templates(),
        &obs(vec![]),
    )
}

#[test]
fn diff_reads_at_a_glance() {
    let v = run("uidMap: ['0 ${subuid.containers.start} 65536']\nsysctls: {net.ipv4.ping_group_range: '0 2147483647'}", running("0 0 4294967295"));
    let Verdict::Fail { diff, reason, .. } = v else {
        panic!()
    };
    insta::assert_snapshot!(format!("{reason}\n\n{diff}"));
}

#[test]
fn which_scenarios_need_a_running_pod() {
    let f = crio_openshift("1.36.3");
    for (expect, needs) in [
        ("uidMap: not-host", true),
        ("outcome: running", true),
        ("outcome: pending", false),
        (
            "admission: {refused: {message: x}}\nuidMap: not-host",
            false,
        ),
        ("admission: admitted\nscc: restricted-v3", false),
    ] {
        assert_eq!(needs_running_pods(&scenario(expect), &f), needs, "{expect}");
    }
    // On a cluster without nodes such a scenario is skipped, saying why;
    // nodes that could not be listed are not "no nodes".
    let mut cp = f.clone();
    cp.nodes.clear();
    assert!(crate::requirements::check_nodes(true, &cp)
        .unwrap_err()
        .contains("no nodes"));
    assert!(crate::requirements::check_nodes(false, &cp).is_ok());
    assert!(crate::requirements::check_nodes(true, &f).is_ok());
    cp.unreadable.push("nodes: forbidden (403)".into());
    assert!(crate::requirements::check_nodes(true, &cp).is_ok());
}

#[test]
fn a_case_expecting_refusal_replaces_the_whole_expectation() {
    let mut s = scenario(
        "outcome: running\nuidMap: not-host\nexec: [{command: [id, -u], stdout: '1000'}]\n",
    );
    s.pods[0].cases = serde_json::from_value(serde_json::json!([
        {"when": {"openshift": true}, "expect": {"admission": {"refused": {"message": "must be in the ranges"}}}}
    ]))
    .unwrap();
    let refused = PodObservation {
        admission: Admission::Refused {
            code: Some(403),
            message:
                "runAsUser: Invalid value: 1000: must be in the ranges: [1000650000, 1000659999]"
                    .into(),
        },
        outcome: Outcome::NotCreated,
        ..Default::default()
    };
    let openshift = crio_openshift("1.33.13");
    let expect = resolve_expect(&s.pods[0], &openshift);
    assert!(expect.outcome.is_none() && expect.uid_map.is_none() && expect.exec.is_none());
    assert_pass(judge(
        &s,
        &openshift,
        &templates(),
        &obs(vec![refused.clone()]),
    ));
    // Where the case does not apply, the pod must run as the default says.
    assert!(judge(&s, &containerd_local(), &templates(), &obs(vec![refused])).is_failure());
}

#[test]
fn host_uid_without_a_host_view_is_not_checked_but_the_rest_is() {
    let s = scenario("outcome: running\nuidMap: [[0, any, 65536]]\nhostUid: {min: 65536}\n");
    let mut no_host = running("0 131072 65536");
    no_host.host = None;
    let mut cluster = crio_openshift("1.36.3");
    cluster.host_view = false;
    let Verdict::Pass { checks } = judge(&s, &cluster, &templates(), &obs(vec![no_host.clone()]))
    else {
        panic!("a missing host view failed the scenario");
    };
    let host = checks
        .iter()
        .find(|c| c.subject.ends_with("host uid"))
        .unwrap();
    assert!(host
        .not_checked
        .as_deref()
        .is_some_and(|w| w.contains("--node-evidence")));
    assert!(host.observed.starts_with("(not checked"));
    // Still judged: a wrong map fails even without a host view.
    let mut wrong = running("0 131072 1000");
    wrong.host = None;
    assert!(judge(&s, &cluster, &templates(), &obs(vec![wrong])).is_failure());
    // A target that has a host view but saw nothing is a failure.
    cluster.host_view = true;
    assert_fail(
        judge(&s, &cluster, &templates(), &obs(vec![no_host])),
        "pod p: host uid: expected <65536..>, observed (not observed: no host view)",
    );
}
