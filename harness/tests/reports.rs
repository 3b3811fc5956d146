//! Reports over a realistic run: snapshots of JSON, JUnit and Markdown, the
//! JUnit validated against junit-10.xsd, the JSON against its own schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use userns_e2e::facts::{Facts, HandlerFeatures, NodeFacts, RuntimeFacts, RuntimeName, TargetKind};
use userns_e2e::observation::{
    Admission, Event, ExecResult, HostView, Observation, Outcome, PodObservation, Probe,
};
use userns_e2e::parse::idmap;
use userns_e2e::report::results::{RunResults, ScenarioResult, Summary, SCHEMA_VERSION};
use userns_e2e::report::{html, json, junit, markdown};
use userns_e2e::verdict::{Check, Verdict};
use userns_e2e::version::Version;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn result(id: &str, verdict: Verdict, observation: Option<Observation>) -> ScenarioResult {
    ScenarioResult {
        id: id.into(),
        file: format!("scenarios/{id}.yaml"),
        topic: id.split('/').next().unwrap().into(),
        description: format!("what {id} shows"),
        cites: vec!["FACTS.md#story-10".into()],
        verdict,
        observation,
        duration_ms: 420,
        start_ms: None,
        diagnoses: Vec::new(),
    }
}

pub fn sample() -> RunResults {
    let map = idmap::parse("0 131072 65536").unwrap();
    let running = Observation {
        pods: vec![PodObservation {
            name: "userns".into(),
            id: Some("5c1d…".into()),
            outcome: Outcome::Running,
            inside: Probe {
                container: Some("c".into()),
                uid_map: Some(map.clone()),
                gid_map: Some(map.clone()),
                id: Some("uid=0(root) gid=0(root) groups=0(root),10(wheel)".into()),
                sysctls: [(
                    "net.ipv4.ping_group_range".to_string(),
                    "65534 65534".to_string(),
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
                pid: Some(4242),
                uid_map: Some(map.clone()),
                gid_map: Some(map),
                host_uid: Some(131072),
                host_gid: Some(131072),
                source: "host /proc".into(),
            }),
            duration_ms: 380,
            ..Default::default()
        }],
        ..Default::default()
    };
    let failed = Observation {
        pods: vec![PodObservation {
            name: "ping".into(),
            outcome: Outcome::SandboxFailed {
                reason: "FailedCreatePodSandBox".into(),
                message: "failed to create containerd task: write sysctl key net.ipv4.ping_group_range: write /proc/sys/net/ipv4/ping_group_range: invalid argument <&> \u{1b}[0m".into(),
            },
            events: vec![Event { kind: "Warning".into(), reason: "FailedCreatePodSandBox".into(), message: "RunPodSandbox: invalid argument".into() }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let refused = Observation {
        pods: vec![PodObservation {
            name: "root".into(),
            admission: Admission::Refused {
                code: Some(403),
                message: "pods \"root\" is forbidden: unable to validate against any security context constraint: [spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000610000, 1000619999]]".into(),
            },
            outcome: Outcome::NotCreated,
            ..Default::default()
        }],
        ..Default::default()
    };
    let results = vec![
        result("host-users/aligned-range", Verdict::Pass { checks: vec![Check { subject: "pod userns: uid_map".into(), expected: "0 <65536.. and a multiple of 65536> 65536".into(), observed: "0 131072 65536".into(), ok: true, not_checked: None }] }, Some(running)),
        result(
            "sysctl/ping-group-range-full",
            Verdict::Fail {
                reason: "pod ping: outcome: expected running, observed sandbox failed: FailedCreatePodSandBox: … invalid argument".into(),
                diff: "pod ping: outcome:\n  - expected: running\n  + observed: sandbox failed: FailedCreatePodSandBox: invalid argument <&>".into(),
                checks: vec![],
            },
            Some(failed),
        ),
        result("openshift-scc/restricted-root", Verdict::Pass { checks: vec![] }, Some(refused)),
        result("annotation/new-key", Verdict::Skip { reason: "needs runtime cri-o, target reports containerd v2.1.9".into() }, None),
        result("containerd/runtime-gone", Verdict::Error { reason: "runtime unreachable: transport error: connection refused".into() }, None),
    ];
    let mut handlers = BTreeMap::new();
    handlers.insert(
        "runc".to_string(),
        HandlerFeatures {
            user_namespaces: true,
            recursive_read_only_mounts: true,
        },
    );
    let mut run = RunResults {
        schema_version: SCHEMA_VERSION,
        tool: "userns-e2e 0.1.0".into(),
        started_at: "2026-11-22T15:00:00Z".into(),
        duration_ms: 5210,
        run_id: None,
        label: None,
        environment: Facts {
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
                kernel: Some("6.18.44".into()),
                subuids: None,
                subgids: None,
                max_pods: None,
            }],
            sends_node_userns_mode: Some(true),
            kubelet_emulated: false,
            gate_sources: BTreeMap::new(),
            host_view: true,
            kubelet_ids: None,
            unreadable: Vec::new(),
        },
        summary: Summary::of(&results),
        results,
    };
    // Diagnosed by the shipped catalog, as `run` does.
    let facts = run.environment.clone();
    for r in &mut run.results {
        r.diagnoses = userns_e2e::runner::diagnose_result(&facts, r);
    }
    run
}

#[test]
fn json_snapshot_and_round_trip() {
    let r = sample();
    let text = json::to_string(&r);
    insta::assert_snapshot!("results_json", text);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    std::fs::write(&p, &text).unwrap();
    assert_eq!(json::read(&p).unwrap(), r);
    std::fs::write(
        &p,
        text.replace("\"schemaVersion\": 2", "\"schemaVersion\": 99"),
    )
    .unwrap();
    assert!(json::read(&p)
        .unwrap_err()
        .contains("schemaVersion 99 is not supported"));
    std::fs::write(&p, "{ nope").unwrap();
    assert!(json::read(&p).unwrap_err().contains("r.json:1:"));
}

#[test]
fn json_validates_against_the_committed_schema() {
    let committed = std::fs::read_to_string(repo().join("reports/results.schema.json")).unwrap();
    assert_eq!(committed, userns_e2e::report::results::schema_text(), "reports/results.schema.json is stale: run `userns-e2e schema --results --write reports/results.schema.json`");
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(sample()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut broken = instance.clone();
    broken["results"][0]["verdict"]["status"] = "maybe".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn junit_snapshot_and_xsd() {
    let xml = junit::render(&sample()).unwrap();
    insta::assert_snapshot!("junit_xml", xml);
    assert!(xml.contains("classname=\"userns-e2e.containerd-2_1_9.sysctl\""));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junit.xml");
    std::fs::write(&p, &xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(repo().join("reports/junit-10.xsd"))
        .arg(&p)
        .output()
        .expect("xmllint must be installed (Debian package libxml2-utils); .ci/run installs it");
    assert!(
        out.status.success(),
        "junit does not validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("summary_md", markdown::render(&sample()));
}

/// The sample with a second pod in the first scenario on the same host ids
/// (an overlap) and start times, as a run writes them now.
fn sample_with_overlap() -> RunResults {
    let mut r = sample();
    for (i, s) in r.results.iter_mut().enumerate() {
        s.start_ms = Some(i as u64 * 500);
    }
    r.run_id = Some("1763823600000-4242".into());
    let o = r.results[0].observation.as_mut().unwrap();
    let mut twin = o.pods[0].clone();
    twin.name = "twin <b>".into();
    twin.inside.uid_map = Some(idmap::parse("0 131072 65536\n65536 1000650000 1").unwrap());
    o.pods.push(twin);
    let facts = r.environment.clone();
    r.results[0].diagnoses = userns_e2e::runner::diagnose_result(&facts, &r.results[0]);
    r
}

/// A passing scenario whose pods share host ids: a warning in Markdown's
/// "Warnings" section and in JUnit's system-out, not a failure.
#[test]
fn warnings_of_a_passing_scenario_are_reported() {
    let r = sample_with_overlap();
    assert_eq!(r.results[0].verdict.status(), "pass");
    let md = markdown::render(&r);
    let warnings = md
        .split("### Warnings (passing pods that are unsafe)")
        .nth(1)
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        warnings.contains("**Warning** (`overlapping-host-ranges`)"),
        "{md}"
    );
    let xml = junit::render(&r).unwrap();
    let case = xml
        .split("<testcase name=\"host-users/aligned-range\"")
        .nth(1)
        .unwrap()
        .split("</testcase>")
        .next()
        .unwrap();
    assert!(
        case.contains("warning: [overlapping-host-ranges]"),
        "{case}"
    );
    assert!(!case.contains("<failure"), "{case}");
}

/// What the target could not read or check (a permission it lacks, here)
/// is in the summary and on the run page, not only in the JSON.
#[test]
fn target_warnings_are_in_the_summary_and_the_run_page() {
    let mut r = sample();
    r.environment.unreadable = vec![
        "may not get nodes/proxy — the kubelet's gates; instead, the dry run".into(),
        "nodes: forbidden (403)".into(),
    ];
    let md = markdown::render(&r);
    assert!(
        md.contains("\n- ⚠️ may not get nodes/proxy — the kubelet's gates; instead, the dry run\n- ⚠️ could not read nodes: forbidden (403); requirements on it will skip\n\n"),
        "{md}"
    );
    let page = html::run_page(&r);
    assert!(
        page.contains("<tr><td>warning</td><td>may not get nodes/proxy — the kubelet&#39;s gates; instead, the dry run</td></tr>"),
        "{page}"
    );
}

#[test]
fn html_run_page_snapshot() {
    let page = html::run_page(&sample_with_overlap());
    // Nothing from outside the page (the SVG namespace URI is a name, not a fetch).
    for outside in ["https://", " src=", "url(", "@import"] {
        assert!(!page.contains(outside), "{outside}");
    }
    // Links stay in the page: a diagnosis id opens its catalog entry below.
    assert!(page.split(" href=\"").skip(1).all(|l| l.starts_with('#')));
    for id in ["ping-group-range-not-mapped", "overlapping-host-ranges"] {
        assert!(page.contains(&format!("href=\"#diagnosis-{id}\"")), "{id}");
        assert!(page.contains(&format!("id=\"diagnosis-{id}\"")), "{id}");
    }
    assert!(page.contains("no diagnosis in the catalog matches this failure"));
    assert!(page.contains("twin &lt;b&gt;") && !page.contains("twin <b>"));
    insta::assert_snapshot!("html_run_page", page);
}

#[test]
fn html_compare_page_snapshot() {
    use userns_e2e::compare::{compare, Run};
    let mut other = sample();
    let runtime = other.environment.runtime.as_mut().unwrap();
    runtime.reported_version = "v2.2.0".into();
    runtime.version = userns_e2e::version::Version::parse("v2.2.0");
    other.results[1].verdict = Verdict::Pass { checks: vec![] };
    let pod = &mut other.results[0].observation.as_mut().unwrap().pods[0];
    pod.inside.uid_map = Some(idmap::parse("0 131072 65535").unwrap());
    let runs = [
        Run {
            label: "containerd v2.1.9 (local)".into(),
            results: sample(),
        },
        Run {
            label: "containerd v2.2.0 (local) <new>".into(),
            results: other,
        },
    ];
    let page = html::compare_page(&compare(&runs));
    assert!(page.contains("&lt;new&gt;"));
    insta::assert_snapshot!("html_compare_page", page);
}

/// What the terminal prints under a failure (libtest's failure text and the
/// live progress line): why, the fix per platform, the cites; and the plain
/// line when nothing matches.
#[test]
fn terminal_why_and_fix_lines() {
    use userns_e2e::report::diagnoses::text;
    let r = sample();
    let diagnosed = text(&r.results[1].diagnoses, true);
    assert!(diagnosed.starts_with("why: [ping-group-range-not-mapped]"));
    insta::assert_snapshot!("terminal_why", diagnosed);
    assert_eq!(
        text(&r.results[4].diagnoses, true),
        "why: no diagnosis in the catalog matches this failure (see the diff and evidence above)\n"
    );
    // A pass without warnings prints nothing.
    assert_eq!(text(&r.results[0].diagnoses, false), "");
}
