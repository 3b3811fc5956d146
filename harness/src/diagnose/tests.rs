//! Every catalog entry matched on an observation recorded on a real tier
//! (`fixtures/*.json`: a results file's environment and one scenario result,
//! each saying where it came from in `source`), and not matched on the
//! observation of its nearest neighbour.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::*;
use crate::report::results::ScenarioResult;

#[derive(Deserialize)]
struct Fixture {
    source: String,
    environment: Facts,
    result: ScenarioResult,
}

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("fixtures/", $name, ".json")))),*]
    };
}

/// Every fixture file (a test checks this list against the folder).
const FIXTURES: &[(&str, &str)] = fixtures![
    "containerd-ping-full-range",
    "crio-annotation-not-allowed",
    "crio-annotation-under-node-mode",
    "crio-container-uid-unmapped",
    "crio-disjoint-ranges",
    "crio-hidden-subids",
    "crio-hidden-subids-before-1.27",
    "crio-host-pid-refused",
    "crio-invalid-mode",
    "crio-keep-id-with-map-to-root",
    "crio-kubelet-slot-overlaps-auto",
    "crio-minimum-mappable-uid-guard",
    "crio-plain-pod-host-namespace",
    "crio-private-without-mappings",
    "crio-run-as-user-container-level",
    "crio-run-as-user-pod-level",
    "crio-subids-added-without-restart",
    "crio-uidmapping-maps-host-root",
    "crio-uidmapping-without-run-as-user",
    "kube-runtime-without-userns",
    "openshift-anyuid-refused-by-pod-security",
    "openshift-host-pid-refused-by-scc",
    "openshift-pinned-restricted-v3-running",
    "openshift-privileged-no-usable-scc",
    "openshift-rolebinding-not-yet-effective",
    "openshift-unpinned-restricted-v2",
];

fn fixture(name: &str) -> Fixture {
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn catalog() -> Vec<Entry> {
    catalog::embedded().unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// The shipped catalog's diagnoses of one observation.
fn run_catalog(
    facts: &Facts,
    verdict: &Verdict,
    observation: Option<&Observation>,
    overlapping_pods: &[String],
) -> Vec<Diagnosis> {
    diagnose(
        &catalog(),
        &Subject {
            facts,
            verdict,
            observation,
            overlapping_pods,
        },
    )
}

/// The pods of the fixture's scenario whose ranges overlap, as the runner
/// computes them.
fn overlapping(f: &Fixture) -> Vec<String> {
    crate::report::html::ranges::overlapping_pods(std::slice::from_ref(&f.result))
        .remove(&f.result.id)
        .unwrap_or_default()
}

/// The ids diagnosed on the fixture's observation, judged with `verdict`.
fn diagnosed_as(name: &str, verdict: &Verdict) -> BTreeSet<String> {
    let f = fixture(name);
    let pods = overlapping(&f);
    diagnose(
        &catalog(),
        &Subject {
            facts: &f.environment,
            verdict,
            observation: f.result.observation.as_ref(),
            overlapping_pods: &pods,
        },
    )
    .into_iter()
    .map(|d| d.id)
    .collect()
}

fn failed() -> Verdict {
    Verdict::Fail {
        reason: "r".into(),
        diff: "d".into(),
        checks: vec![],
    }
}

/// The ids diagnosed when the fixture's scenario failed (several fixtures
/// come from scenarios that expected the failure and passed; a cause is
/// about the observation, the verdict only decides whether it is shown).
/// A recorded error stays that error: its text is what entries match.
fn diagnosed(name: &str) -> BTreeSet<String> {
    match fixture(name).result.verdict {
        error @ Verdict::Error { .. } => diagnosed_as(name, &error),
        _ => diagnosed_as(name, &failed()),
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Fixture → exactly what the catalog diagnoses on it as a failure.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "containerd-ping-full-range",
        &["ping-group-range-not-mapped"],
    ),
    (
        "crio-annotation-not-allowed",
        &["crio-annotation-not-allowed"],
    ),
    (
        "crio-annotation-under-node-mode",
        &["crio-annotation-under-node-mode"],
    ),
    ("crio-container-uid-unmapped", &["runc-setuid-unmapped-uid"]),
    ("crio-disjoint-ranges", &[]),
    ("crio-hidden-subids", &["crio-no-subids-for-containers"]),
    (
        "crio-hidden-subids-before-1.27",
        &["crio-no-subids-for-containers"],
    ),
    (
        "crio-host-pid-refused",
        &["host-namespaces-with-user-namespace"],
    ),
    ("crio-invalid-mode", &["crio-invalid-userns-mode"]),
    (
        "crio-keep-id-with-map-to-root",
        &["crio-keep-id-with-map-to-root"],
    ),
    (
        "crio-kubelet-slot-overlaps-auto",
        &[
            "kubelet-default-range-covers-containers",
            "overlapping-host-ranges",
        ],
    ),
    ("crio-minimum-mappable-uid-guard", &[]),
    ("crio-plain-pod-host-namespace", &[]),
    (
        "crio-private-without-mappings",
        &["crio-private-without-mappings"],
    ),
    ("crio-run-as-user-container-level", &[]),
    (
        "crio-run-as-user-pod-level",
        &["crio-auto-maps-pod-run-as-user"],
    ),
    (
        "crio-subids-added-without-restart",
        &["crio-subids-not-reloaded"],
    ),
    (
        "crio-uidmapping-maps-host-root",
        &["userns-container-runs-as-host-root"],
    ),
    (
        "crio-uidmapping-without-run-as-user",
        &["crio-uidmapping-without-run-as-user"],
    ),
    (
        "kube-runtime-without-userns",
        &["runtime-without-userns-support"],
    ),
    (
        "openshift-anyuid-refused-by-pod-security",
        &["pod-security-refuses-after-scc"],
    ),
    (
        "openshift-host-pid-refused-by-scc",
        &[
            "host-namespaces-with-user-namespace",
            "openshift-no-usable-scc",
        ],
    ),
    ("openshift-pinned-restricted-v3-running", &[]),
    (
        "openshift-privileged-no-usable-scc",
        &["openshift-no-usable-scc"],
    ),
    (
        "openshift-rolebinding-not-yet-effective",
        &["rbac-binding-not-yet-effective"],
    ),
    (
        "openshift-unpinned-restricted-v2",
        &["openshift-unpinned-userns-restricted-v2"],
    ),
];

/// Entry → (a fixture it matches, its nearest neighbour's fixture, which it
/// must not match): the observation that differs from the matched one in
/// the one thing the entry is about.
const NEIGHBOURS: &[(&str, &str, &str)] = &[
    // same message; the node's files give `containers` ids (so: not reloaded)
    (
        "crio-no-subids-for-containers",
        "crio-hidden-subids",
        "crio-subids-added-without-restart",
    ),
    (
        "crio-subids-not-reloaded",
        "crio-subids-added-without-restart",
        "crio-hidden-subids",
    ),
    // both annotation pods that do not get a namespace; the other one runs in the host's
    (
        "crio-annotation-under-node-mode",
        "crio-annotation-under-node-mode",
        "crio-annotation-not-allowed",
    ),
    // the same host map, from a pod that asked for nothing
    (
        "crio-annotation-not-allowed",
        "crio-annotation-not-allowed",
        "crio-plain-pod-host-namespace",
    ),
    // another sandbox refusal of an annotation's options
    (
        "crio-uidmapping-without-run-as-user",
        "crio-uidmapping-without-run-as-user",
        "crio-keep-id-with-map-to-root",
    ),
    (
        "crio-keep-id-with-map-to-root",
        "crio-keep-id-with-map-to-root",
        "crio-invalid-mode",
    ),
    (
        "crio-invalid-userns-mode",
        "crio-invalid-mode",
        "crio-private-without-mappings",
    ),
    (
        "crio-private-without-mappings",
        "crio-private-without-mappings",
        "crio-invalid-mode",
    ),
    // runAsUser 1234 on the container instead of the pod
    (
        "crio-auto-maps-pod-run-as-user",
        "crio-run-as-user-pod-level",
        "crio-run-as-user-container-level",
    ),
    // the runtime's other sandbox failure: no ids at all
    (
        "ping-group-range-not-mapped",
        "containerd-ping-full-range",
        "crio-hidden-subids",
    ),
    // the other container-create failure of a user-namespaced pod
    (
        "runc-setuid-unmapped-uid",
        "crio-container-uid-unmapped",
        "crio-annotation-under-node-mode",
    ),
    // the same pod pinned to restricted-v3
    (
        "openshift-unpinned-userns-restricted-v2",
        "openshift-unpinned-restricted-v2",
        "openshift-pinned-restricted-v3-running",
    ),
    // a 403 at admission from the other admission plugin
    (
        "openshift-no-usable-scc",
        "openshift-privileged-no-usable-scc",
        "openshift-anyuid-refused-by-pod-security",
    ),
    (
        "pod-security-refuses-after-scc",
        "openshift-anyuid-refused-by-pod-security",
        "openshift-privileged-no-usable-scc",
    ),
    (
        "rbac-binding-not-yet-effective",
        "openshift-rolebinding-not-yet-effective",
        "openshift-privileged-no-usable-scc",
    ),
    // validation's refusal vs an SCC's refusal of a pod that is not user-namespaced-specific
    (
        "host-namespaces-with-user-namespace",
        "crio-host-pid-refused",
        "openshift-privileged-no-usable-scc",
    ),
    // a sandbox failure of the runtime for another reason
    (
        "runtime-without-userns-support",
        "kube-runtime-without-userns",
        "containerd-ping-full-range",
    ),
    // two hostUsers: false pods from the kubelet's slots alone: disjoint
    (
        "kubelet-default-range-covers-containers",
        "crio-kubelet-slot-overlaps-auto",
        "crio-disjoint-ranges",
    ),
    (
        "overlapping-host-ranges",
        "crio-kubelet-slot-overlaps-auto",
        "crio-disjoint-ranges",
    ),
    // the same mapping on a node with minimum_mappable_uid: refused instead
    (
        "userns-container-runs-as-host-root",
        "crio-uidmapping-maps-host-root",
        "crio-minimum-mappable-uid-guard",
    ),
];

#[test]
fn the_embedded_catalog_loads_and_lists_every_entry_file() {
    let entries = catalog();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../diagnoses");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = catalog::embedded_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        embedded, on_disk,
        "rebuild: build.rs embeds diagnoses/*.yaml"
    );
    assert_eq!(entries.len(), on_disk.len());
    // Loaded from disk the same way `validate` does, too.
    assert_eq!(catalog::load_paths(&[dir]).unwrap(), entries);
}

#[test]
fn every_fixture_is_listed_and_says_where_it_came_from() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/diagnose/fixtures");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = FIXTURES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(listed, on_disk);
    for (name, _) in FIXTURES {
        let f = fixture(name);
        assert!(!f.source.trim().is_empty(), "{name} has no source");
        assert!(f.result.observation.is_some(), "{name} has no observation");
    }
}

#[test]
fn each_fixture_gets_exactly_its_diagnoses() {
    let listed: BTreeSet<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    let all: BTreeSet<&str> = FIXTURES.iter().map(|(n, _)| *n).collect();
    assert_eq!(listed, all, "every fixture has its expected diagnoses");
    let wrong: Vec<String> = EXPECTED
        .iter()
        .filter_map(|(name, want)| {
            let got = diagnosed(name);
            (got != set(want)).then(|| format!("{name}: expected {want:?}, got {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_entry_matches_its_fixture_and_not_its_nearest_neighbour() {
    let ids: BTreeSet<String> = catalog().into_iter().map(|e| e.id).collect();
    let covered: BTreeSet<String> = NEIGHBOURS.iter().map(|(e, _, _)| e.to_string()).collect();
    assert_eq!(
        covered, ids,
        "every entry has a positive and a neighbour fixture"
    );
    for (entry, positive, neighbour) in NEIGHBOURS {
        assert!(
            diagnosed(positive).contains(*entry),
            "{entry} does not match {positive}"
        );
        assert!(
            !diagnosed(neighbour).contains(*entry),
            "{entry} matches its neighbour {neighbour}"
        );
    }
}

#[test]
fn a_pass_shows_only_warnings_and_a_skip_nothing() {
    let pass = Verdict::Pass { checks: vec![] };
    assert_eq!(
        diagnosed_as("crio-uidmapping-maps-host-root", &pass),
        set(&["userns-container-runs-as-host-root"])
    );
    assert_eq!(
        diagnosed_as("crio-kubelet-slot-overlaps-auto", &pass),
        set(&["overlapping-host-ranges"])
    );
    assert!(diagnosed_as("crio-hidden-subids", &pass).is_empty());
    let skip = Verdict::Skip { reason: "x".into() };
    assert!(diagnosed_as("crio-uidmapping-maps-host-root", &skip).is_empty());
}

#[test]
fn causes_come_before_warnings_and_carry_the_pods_they_matched() {
    let f = fixture("crio-kubelet-slot-overlaps-auto");
    let pods = overlapping(&f);
    let found = run_catalog(
        &f.environment,
        &failed(),
        f.result.observation.as_ref(),
        &pods,
    );
    let severities: Vec<Severity> = found.iter().map(|d| d.severity).collect();
    assert_eq!(severities, [Severity::Cause, Severity::Warning]);
    assert_eq!(found[0].pods, ["second", "new-key"]);
    assert!(!found[0].cites.is_empty() && !found[0].fix.platforms().is_empty());
}

#[test]
fn an_error_verdict_matches_by_its_reason() {
    let f = fixture("crio-plain-pod-host-namespace");
    let verdict = Verdict::Error {
        reason: "account test: may not create pods after 15s: User \"test\" cannot create resource \"pods\"".into(),
    };
    let found = run_catalog(&f.environment, &verdict, None, &[]);
    let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["rbac-binding-not-yet-effective"]);
}

#[test]
fn the_kubelet_mode_is_the_one_the_pods_were_created_under() {
    // The same observation, recorded as created without mode NODE: the
    // annotation entry's facts (`sendsNodeUsernsMode: false`) decide.
    let f = fixture("crio-annotation-not-allowed");
    let mut o = f.result.observation.clone().unwrap();
    assert_eq!(o.sends_node_userns_mode, Some(false));
    o.sends_node_userns_mode = Some(true);
    let found = run_catalog(&f.environment, &failed(), Some(&o), &[]);
    assert!(found.is_empty(), "{found:?}");
}

fn load_errors(text: &str) -> Vec<String> {
    catalog::load_str(std::path::Path::new("diagnoses/x.yaml"), text)
        .err()
        .unwrap_or_default()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn a_bad_entry_is_refused_with_its_place() {
    let good = "id: x\ntitle: t\nseverity: cause\nmatch:\n  - pod: {outcome: {message: m}}\ncause: c.\nfix: {node: n}\ncites: [\"cri-o/cri-o#1\"]\n";
    assert!(load_errors(good).is_empty(), "{:?}", load_errors(good));
    let cases = [
        (
            good.replace("cri-o/cri-o#1", "FACTS.md"),
            "diagnoses/x.yaml:8:9: at cites[0]: \"FACTS.md\" is neither",
        ),
        (
            good.replace("cites: [\"cri-o/cri-o#1\"]", "cites: []"),
            "at cites: every entry cites upstream",
        ),
        (
            good.replace("message: m", "message: \"(\""),
            "diagnoses/x.yaml:5:21: at match[0].pod.outcome.message: not a regular expression",
        ),
        (
            good.replace("id: x", "id: y"),
            "diagnoses/x.yaml:1:1: at id: id \"y\" must equal the file name \"x\"",
        ),
        (
            good.replace("fix: {node: n}", "fix: {}"),
            "at fix: give the fix for at least one",
        ),
        (
            good.replace("severity: cause", "severity: fatal"),
            "at severity: unknown variant `fatal`",
        ),
        (
            good.replace("pod: {outcome: {message: m}}", "pod: {colour: red}"),
            "unknown field `colour`",
        ),
        (
            good.replace("- pod: {outcome: {message: m}}", "- {}"),
            "at match[0]: matches everything",
        ),
        (
            good.replace("cri-o/cri-o#1", "cri-o/cri-o server/x.go:12 @ v1.36.3"),
            "",
        ),
    ];
    for (text, want) in cases {
        let got = load_errors(&text).join("\n");
        if want.is_empty() {
            assert!(got.is_empty(), "{text}: {got}");
        } else {
            assert!(got.contains(want), "{text}\nexpected {want:?} in {got:?}");
        }
    }
}

mod doctor_rows {
    use super::*;
    use crate::diagnose::doctor::{ready, rows, RowStatus};

    fn status_of(
        rows: &[crate::diagnose::doctor::Row],
        check: &str,
    ) -> (RowStatus, Option<String>) {
        let r = rows
            .iter()
            .find(|r| r.check == check)
            .unwrap_or_else(|| panic!("no row {check}: {rows:?}"));
        (r.status, r.diagnosis.as_ref().map(|d| d.id.clone()))
    }

    #[test]
    fn the_normal_crio_node_is_ready_with_warnings() {
        // Facts of the real CRI-O node (containers ids, no kubelet line, mode NODE).
        let f = fixture("crio-annotation-under-node-mode");
        let mut probe = fixture("crio-disjoint-ranges").result;
        probe.id = "doctor/host-users-false".into();
        let rows = rows(&catalog(), &f.environment, &[probe]);
        assert!(ready(&rows), "{rows:?}");
        assert_eq!(status_of(&rows, "subids containers"), (RowStatus::Ok, None));
        assert_eq!(
            status_of(&rows, "subids kubelet"),
            (
                RowStatus::Warn,
                Some("kubelet-default-range-covers-containers".into())
            )
        );
        assert_eq!(
            status_of(&rows, "kubelet mode"),
            (
                RowStatus::Warn,
                Some("crio-annotation-under-node-mode".into())
            )
        );
        assert_eq!(
            status_of(&rows, "CRI-O allowed annotations").0,
            RowStatus::Ok
        );
        assert_eq!(status_of(&rows, "probe host-users-false").0, RowStatus::Ok);
    }

    #[test]
    fn hidden_subids_fail_the_subids_row_with_its_fix() {
        let f = fixture("crio-hidden-subids");
        let rows = rows(&catalog(), &f.environment, &[]);
        assert!(!ready(&rows));
        // The table `doctor` prints for it.
        insta::assert_snapshot!(
            "doctor_hidden_subids",
            crate::diagnose::doctor::table(&f.environment.label(), &rows, ready(&rows))
        );
        let (status, entry) = status_of(&rows, "subids containers");
        assert_eq!(status, RowStatus::Fail);
        assert_eq!(entry.as_deref(), Some("crio-no-subids-for-containers"));
        let failed: Vec<&str> = rows
            .iter()
            .filter(|r| r.status == RowStatus::Fail)
            .map(|r| r.check.as_str())
            .collect();
        assert_eq!(failed, ["subids containers"]);
    }

    #[test]
    fn the_kubelet_range_must_hold_the_nodes_max_pods() {
        use crate::facts::SubIdRange;
        let mut env = fixture("crio-hidden-subids").environment;
        let ids = |start: u64, pods: u64| {
            vec![SubIdRange {
                start: start * 65536,
                count: pods * 65536,
            }]
        };
        let node = &mut env.nodes[0];
        node.subuids = Some(
            [
                ("containers".to_string(), ids(2, 100)),
                ("kubelet".to_string(), ids(200, 110)),
            ]
            .into(),
        );
        let row = |env: &crate::facts::Facts| {
            crate::diagnose::doctor::rows(&catalog(), env, &[])
                .into_iter()
                .find(|r| r.check == "subids kubelet")
                .unwrap()
        };
        // 110 slots: the kubelet's default maxPods fits.
        assert_eq!(row(&env).status, RowStatus::Ok, "{:?}", row(&env));
        env.nodes[0].max_pods = Some(250);
        let r = row(&env);
        assert_eq!(r.status, RowStatus::Warn);
        assert!(
            r.observed
                .contains("smaller than 65536 × 250 pods (the node's maxPods)"),
            "{r:?}"
        );
    }

    #[test]
    fn a_failed_probe_is_a_row_with_its_diagnosis() {
        let f = fixture("crio-annotation-under-node-mode");
        let mut annotation = f.result.clone();
        annotation.id = "doctor/crio-annotation".into();
        annotation.diagnoses = run_catalog(
            &f.environment,
            &annotation.verdict,
            annotation.observation.as_ref(),
            &[],
        );
        let mut host_users = fixture("kube-runtime-without-userns").result;
        host_users.id = "doctor/host-users-false".into();
        host_users.diagnoses = run_catalog(
            &f.environment,
            &host_users.verdict,
            host_users.observation.as_ref(),
            &[],
        );
        let rows = rows(&catalog(), &f.environment, &[annotation, host_users]);
        assert_eq!(
            status_of(&rows, "probe crio-annotation"),
            (
                RowStatus::Warn,
                Some("crio-annotation-under-node-mode".into())
            )
        );
        assert_eq!(
            status_of(&rows, "probe host-users-false"),
            (
                RowStatus::Fail,
                Some("runtime-without-userns-support".into())
            )
        );
        assert!(!ready(&rows));
    }

    #[test]
    fn a_control_plane_without_nodes_reports_its_scc_facts() {
        // MicroShift without its kubelet: no node facts, the probes skip.
        let f = fixture("openshift-privileged-no-usable-scc");
        let mut probe = f.result.clone();
        probe.id = "doctor/host-users-false".into();
        probe.verdict = Verdict::Skip {
            reason: "the cluster reports no nodes".into(),
        };
        let rows = rows(&catalog(), &f.environment, &[probe]);
        let (status, _) = status_of(&rows, "OpenShift");
        assert_eq!(status, RowStatus::Ok);
        let openshift = rows.iter().find(|r| r.check == "OpenShift").unwrap();
        assert!(
            openshift.observed.starts_with("5.0.0; SCCs: anyuid,"),
            "{openshift:?}"
        );
        assert!(openshift.observed.contains("restricted-v3"));
        assert_eq!(status_of(&rows, "kernel").0, RowStatus::Unknown);
        assert_eq!(
            status_of(&rows, "probe host-users-false").0,
            RowStatus::Unknown
        );
        assert!(ready(&rows), "nothing failed: {rows:?}");
    }

    #[test]
    fn the_pod_security_row_follows_the_relaxation_gate() {
        let f = fixture("openshift-unpinned-restricted-v2");
        let rows = rows(&catalog(), &f.environment, &[]);
        assert_eq!(status_of(&rows, "Pod Security"), (RowStatus::Ok, None));
        let mut off = f.environment.clone();
        off.feature_gates
            .insert("UserNamespacesPodSecurityStandards".into(), false);
        let rows = crate::diagnose::doctor::rows(&catalog(), &off, &[]);
        assert_eq!(
            status_of(&rows, "Pod Security"),
            (
                RowStatus::Warn,
                Some("pod-security-refuses-after-scc".into())
            )
        );
        // A node has no admission: no row.
        let node = fixture("crio-hidden-subids");
        let rows = crate::diagnose::doctor::rows(&catalog(), &node.environment, &[]);
        assert!(rows.iter().all(|r| r.check != "Pod Security"), "{rows:?}");
    }

    #[test]
    fn openshift_rows_say_whether_restricted_v3_must_be_pinned() {
        let f = fixture("openshift-unpinned-restricted-v2");
        let rows = rows(&catalog(), &f.environment, &[]);
        assert_eq!(
            status_of(&rows, "OpenShift restricted-v3"),
            (
                RowStatus::Warn,
                Some("openshift-unpinned-userns-restricted-v2".into())
            )
        );
        let mut no_v3 = f.environment.clone();
        if let Some(os) = no_v3.openshift.as_mut() {
            os.sccs.retain(|s| s.name != "restricted-v3");
        }
        let rows = crate::diagnose::doctor::rows(&catalog(), &no_v3, &[]);
        assert_eq!(
            status_of(&rows, "OpenShift restricted-v3"),
            (RowStatus::Warn, Some("openshift-no-usable-scc".into()))
        );
    }
}
