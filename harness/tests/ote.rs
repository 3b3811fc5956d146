//! The OpenShift test extension contract (`userns-e2e ote …`), checked on the
//! real binary: every output validates against JSON Schemas written by hand
//! from openshift-tests-extension's Go types (`tests/fixtures/ote/`, see its
//! README for the files and lines), and is read the way origin reads it
//! (openshift/origin `pkg/test/extensions/binary.go` at 0001afe0:
//! `TestBinary.Info` :239-263, `ListTests` :292-316, `RunTests` :339-395,
//! `ListImages` :405-412).
//! `run-test` runs against a loopback stand-in for an API server, so the
//! scenarios go through the real run path and kube target.

#[path = "support/fake_api.rs"]
mod fake_api;

use fake_api::{repo, unused_port, xmllint_junit};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const PREFIX: &str = "[sig-node][userns-e2e] ";

fn ote(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_userns-e2e"));
    c.arg("ote").args(args).current_dir(repo());
    // Only what the test gives: no kubeconfig of the machine's.
    c.env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("USERNS_E2E_SCENARIOS")
        .env("HOME", std::env::temp_dir().join("userns-e2e-ote-no-home"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = repo().join("harness/tests/fixtures/ote").join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{instance:#}");
}

/// origin's `Info`: the JSON runs from the first line that starts (after
/// spaces) with `{` to the last `}` of the output.
fn origin_info_json(stdout: &str) -> Value {
    let mut begins = None;
    let mut offset = 0;
    for line in stdout.split('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('{') {
            begins = Some(offset + line.len() - trimmed.len());
            break;
        }
        offset += line.len() + 1;
    }
    let begins = begins.expect("a line starting with {");
    let ends = stdout.rfind('}').expect("a }");
    serde_json::from_str(&stdout[begins..=ends]).unwrap()
}

/// origin's `ListTests`/`RunTests` line rule: only lines that start with `{`,
/// read with `ReadString('\n')` until EOF, so a last line without its
/// newline is never read (binary.go:300-304): only whole lines count here.
fn origin_lines(stdout: &str) -> Vec<Value> {
    stdout
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// origin's `RunTests`: a result for a name not (or no longer) expected is
/// failed; an expected name without a result gets a synthesized failure.
/// Returns name → (result, synthesized?).
fn origin_run_results(stdout: &str, names: &[&str]) -> BTreeMap<String, (String, bool)> {
    let mut expected: BTreeSet<&str> = names.iter().copied().collect();
    let mut out = BTreeMap::new();
    for r in origin_lines(stdout) {
        let name = r["name"].as_str().unwrap_or("").to_string();
        let result = if expected.remove(name.as_str()) {
            r["result"].as_str().unwrap_or("").to_string()
        } else {
            "failed (unexpected)".to_string()
        };
        out.insert(name, (result, false));
    }
    for n in expected {
        out.insert(n.to_string(), ("failed".into(), true));
    }
    out
}

/// The scenario ids of the suite, from its files (the id is the path below
/// `scenarios/` without `.yaml`).
fn scenario_ids() -> BTreeSet<String> {
    let root = repo().join("scenarios");
    let mut ids = BTreeSet::new();
    for topic in std::fs::read_dir(&root).unwrap().flatten() {
        if !topic.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(topic.path()).unwrap().flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "yaml") {
                let rel = p.strip_prefix(&root).unwrap().with_extension("");
                ids.insert(rel.display().to_string());
            }
        }
    }
    ids
}

#[test]
fn info_validates_and_parses_the_way_origin_reads_it() {
    let o = ote(&["info"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    // What origin extracts, also with log noise before the JSON.
    let noisy = format!("I1204 12:00:00 starting {{not json\n{stdout}");
    let info = origin_info_json(&noisy);
    assert_eq!(info, serde_json::from_str::<Value>(&stdout).unwrap());
    assert_valid(&validator("extension.schema.json"), &info, "info");
    assert_eq!(info["apiVersion"], "v1.1");
    let commit = info["source"]["commit"].as_str().unwrap();
    assert!(
        commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{commit}"
    );
    assert!(["clean", "dirty"].contains(&info["source"]["git_tree_state"].as_str().unwrap()));
    // One suite of everything, one per topic folder.
    let suites: BTreeSet<String> = info["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let topics: BTreeSet<String> = scenario_ids()
        .iter()
        .map(|id| format!("userns-e2e/{}", id.split('/').next().unwrap()))
        .chain(["userns-e2e/all".to_string()])
        .collect();
    assert_eq!(suites, topics);
    // `list suites` and `list components` say the same as info.
    let listed = origin_lines(
        &String::from_utf8(ote(&["list", "suites", "-o", "jsonl"], &[]).stdout).unwrap(),
    );
    assert_eq!(listed, info["suites"].as_array().unwrap().clone());
    let components = origin_lines(
        &String::from_utf8(ote(&["list", "components", "-o", "jsonl"], &[]).stdout).unwrap(),
    );
    assert_eq!(components, vec![info["component"].clone()]);
    // A schema that refuses what Go would not write: an unknown component field.
    let mut broken = info.clone();
    broken["component"]["kind"] = "x".into();
    assert!(!validator("extension.schema.json").is_valid(&broken));
}

#[test]
fn list_jsonl_gives_one_valid_spec_per_scenario() {
    let o = ote(
        &[
            "list",
            "-o",
            "jsonl",
            "--platform",
            "aws",
            "--topology",
            "HighlyAvailable",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    // Every line is a spec: nothing else on stdout.
    assert!(stdout.lines().all(|l| l.starts_with('{')), "{stdout}");
    let specs = origin_lines(&stdout);
    let v = validator("spec.schema.json");
    let ids = scenario_ids();
    assert_eq!(specs.len(), ids.len());
    let mut names = BTreeSet::new();
    for s in &specs {
        assert_valid(&v, s, "spec");
        let name = s["name"].as_str().unwrap();
        let id = name.strip_prefix(PREFIX).expect("the stable prefix");
        assert!(ids.contains(id), "{id}");
        assert!(names.insert(name.to_string()), "{name} twice");
        assert_eq!(s["lifecycle"], "informing");
        let topic = id.split('/').next().unwrap();
        assert!(s["labels"].get(format!("topic:{topic}")).is_some(), "{s}");
        assert_eq!(s["codeLocations"][0], format!("scenarios/{id}.yaml"));
    }
    // Requirements are labels: a scenario that needs CRI-O says so.
    let keep_id = specs
        .iter()
        .find(|s| s["name"] == format!("{PREFIX}annotation/auto-keep-id"))
        .unwrap();
    assert!(
        keep_id["labels"].get("requires:runtime=cri-o").is_some(),
        "{keep_id}"
    );
    // One suite's specs: the topic's only.
    let o = ote(
        &["list", "-o", "jsonl", "--suite", "userns-e2e/sysctl"],
        &[],
    );
    let sysctl = origin_lines(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(
        sysctl.len(),
        ids.iter().filter(|i| i.starts_with("sysctl/")).count()
    );
    // Labels are a Go set: an object of empty objects, not a list.
    let mut broken = specs[0].clone();
    broken["labels"] = serde_json::json!(["topic:x"]);
    assert!(!v.is_valid(&broken));
}

#[test]
fn images_is_a_json_array_as_origin_unmarshals_it() {
    let o = ote(&["images"], &[]);
    assert!(o.status.success());
    // origin unmarshals the whole stdout: no noise allowed.
    let images: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&validator("images.schema.json"), &images, "images");
    assert_eq!(images[0]["name"], "busybox");
}

#[test]
fn run_test_gives_one_valid_result_per_requested_name() {
    let api = fake_api::FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(dir.path());
    // Skipped (CRI-O required, the cluster reports none), failed by the
    // server (an admission scenario whose namespace the server refuses),
    // and a name that does not exist; the first asked twice.
    let skipped = format!("{PREFIX}annotation/auto-keep-id");
    let refused = format!("{PREFIX}host-users/host-pid-refused");
    let missing = format!("{PREFIX}no/such-scenario");
    let o = ote(
        &[
            "run-test", "-n", &skipped, "-n", &refused, "-n", &missing, "-n", &skipped, "-o",
            "jsonl",
        ],
        &[("KUBECONFIG", &kc)],
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stdout.lines().all(|l| l.starts_with('{')),
        "{stdout}\n{stderr}"
    );
    let v = validator("result.schema.json");
    let lines = origin_lines(&stdout);
    for l in &lines {
        assert_valid(&v, l, "result");
        assert_eq!(l["lifecycle"], "informing");
        // DBTime strings order as the times do.
        assert!(l["startTime"].as_str() <= l["endTime"].as_str(), "{l}");
    }
    assert_eq!(lines.len(), 3, "{stdout}");
    let seen = origin_run_results(&stdout, &[&skipped, &refused, &missing]);
    // Every name has a line of ours: none synthesized by origin.
    assert!(seen.values().all(|(_, synth)| !synth), "{seen:?}");
    assert_eq!(seen[&skipped].0, "skipped");
    assert_eq!(seen[&refused].0, "failed");
    assert_eq!(seen[&missing].0, "failed");
    let by: BTreeMap<&str, &Value> = lines
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l))
        .collect();
    let reason = by[skipped.as_str()]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "skipReason")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("cri-o"), "{reason}");
    assert!(
        by[refused.as_str()]["error"]
            .as_str()
            .unwrap()
            .contains("the fake API server has no"),
        "{stdout}"
    );
    assert!(by[missing.as_str()]["error"]
        .as_str()
        .unwrap()
        .contains("no such test"));
    // The cluster was reached the usual way (KUBECONFIG) and asked for its facts.
    let asked = api.requests();
    assert!(asked.iter().any(|r| r == "GET /version"), "{asked:?}");
    assert!(
        asked.iter().any(|r| r.starts_with("GET /api/v1/nodes")),
        "{asked:?}"
    );
    // A failed line makes the exit code 1 (origin ignores it).
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn run_test_without_a_reachable_cluster_fails_every_name_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let port = unused_port();
    let kc = fake_api::kubeconfig_for(&format!("http://127.0.0.1:{port}"), dir.path());
    let a = format!("{PREFIX}host-users/host-pid-refused");
    let b = format!("{PREFIX}sysctl/userns-default-ping-range");
    let o = ote(
        &["run-test", "-n", &a, "-n", &b, "-o", "jsonl"],
        &[("KUBECONFIG", &kc)],
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let seen = origin_run_results(&stdout, &[&a, &b]);
    assert_eq!(seen.len(), 2, "{stdout}");
    for l in origin_lines(&stdout) {
        assert_valid(&validator("result.schema.json"), &l, "result");
        assert_eq!(l["result"], "failed");
        assert!(
            l["error"]
                .as_str()
                .unwrap()
                .contains(&format!("127.0.0.1:{port}")),
            "{l}"
        );
    }
}

#[test]
fn run_suite_writes_schema_valid_junit() {
    let api = fake_api::FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(dir.path());
    let junit = dir.path().join("junit.xml");
    let o = ote(
        &[
            "run-suite",
            "userns-e2e/containerd",
            "-o",
            "jsonl",
            "--junit-path",
            junit.to_str().unwrap(),
        ],
        &[("KUBECONFIG", &kc)],
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines = origin_lines(&stdout);
    let n = scenario_ids()
        .iter()
        .filter(|i| i.starts_with("containerd/"))
        .count();
    assert_eq!(lines.len(), n, "{stdout}");
    for l in &lines {
        assert_valid(&validator("result.schema.json"), l, "result");
    }
    xmllint_junit(&junit);
}

#[test]
fn without_a_suite_folder_the_built_in_suite_gives_the_same_specs() {
    // openshift-tests extracts an extension binary alone: no scenarios/ beside it.
    let elsewhere = tempfile::tempdir().unwrap();
    let alone = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(["ote", "list", "-o", "jsonl"])
        .current_dir(elsewhere.path())
        .env_remove("USERNS_E2E_SCENARIOS")
        .output()
        .unwrap();
    assert!(
        alone.status.success(),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    let here = ote(&["list", "-o", "jsonl"], &[]);
    assert_eq!(
        String::from_utf8(alone.stdout).unwrap(),
        String::from_utf8(here.stdout).unwrap()
    );
}
