//! Running as operators run suites in a cluster, without a cluster: `run
//! --out DIR` (every report in one folder) and `run --sonobuoy` (Sonobuoy's
//! done-file protocol: the JUnit in `$SONOBUOY_RESULTS_DIR`, its path in
//! `done`; vmware-tanzu/sonobuoy `pkg/worker/worker.go:134-173`), against a
//! loopback stand-in for the API server.

#[path = "support/fake_api.rs"]
mod fake_api;

use fake_api::{repo, unused_port, xmllint_junit};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_userns-e2e"));
    c.arg("run").args(args).current_dir(repo());
    c.env_remove("KUBECONFIG")
        .env_remove("SONOBUOY_RESULTS_DIR")
        .env_remove("KUBERNETES_SERVICE_HOST");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A scenario that the stand-in cluster (no nodes, no CRI-O) skips.
const SKIPPED: &str = "annotation/auto-keep-id";

#[test]
fn out_writes_every_report_into_the_folder() {
    let api = fake_api::FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(dir.path());
    let out = dir.path().join("reports");
    let o = run(
        &[
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "scenarios",
            SKIPPED,
            "--exact",
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["junit.xml", "report.html", "results.json", "summary.md"]
    );
    xmllint_junit(&out.join("junit.xml"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("reports/results.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(jsonschema::validator_for(&schema)
        .unwrap()
        .is_valid(&results));
    assert_eq!(results["results"][0]["id"], SKIPPED);
    assert_eq!(results["results"][0]["verdict"]["status"], "skip");
    assert!(std::fs::read_to_string(out.join("summary.md"))
        .unwrap()
        .contains(SKIPPED));
    // The cluster was asked for its facts (the run went through the kube target).
    assert!(api.requests().iter().any(|r| r == "GET /version"));
    // No done file without --sonobuoy.
    assert!(!out.join("done").exists());
}

#[test]
fn sonobuoy_writes_the_junit_then_done_naming_it() {
    let api = fake_api::FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(dir.path());
    let results_dir = dir.path().join("sonobuoy-results");
    let o = run(
        &[
            "--target",
            "kube",
            "--sonobuoy",
            "scenarios",
            SKIPPED,
            "--exact",
        ],
        &[("KUBECONFIG", &kc), ("SONOBUOY_RESULTS_DIR", &results_dir)],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let done = std::fs::read_to_string(results_dir.join("done")).unwrap();
    let junit = results_dir.join("junit.xml");
    assert_eq!(Path::new(done.trim()), junit);
    xmllint_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(SKIPPED) && xml.contains("<skipped"), "{xml}");
    // The other reports are in the results folder too (the tarball Sonobuoy keeps).
    assert!(results_dir.join("results.json").is_file());
}

#[test]
fn sonobuoy_reports_a_run_that_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = unused_port();
    let kc = fake_api::kubeconfig_for(&format!("http://127.0.0.1:{port}"), dir.path());
    let results_dir = dir.path().join("r");
    let o = run(
        &["--target", "kube", "--sonobuoy", "scenarios"],
        &[("KUBECONFIG", &kc), ("SONOBUOY_RESULTS_DIR", &results_dir)],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let done = std::fs::read_to_string(results_dir.join("done")).unwrap();
    let junit = PathBuf::from(done.trim());
    xmllint_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(&format!("127.0.0.1:{port}")), "{xml}");
    assert!(xml.contains("<error"), "{xml}");
}

#[test]
fn sonobuoy_refuses_a_junit_outside_its_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        &[
            "--target",
            "kube",
            "--sonobuoy",
            "--junit",
            "/tmp/elsewhere/junit.xml",
            "scenarios",
        ],
        &[("SONOBUOY_RESULTS_DIR", dir.path())],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside"));
    assert!(!dir.path().join("done").exists());
}

/// With a rule of deploy/clusterrole.yaml missing, the harness names the
/// refusal it got (verb and resource, the server's words) where it matters,
/// instead of failing scenarios for another reason: here the rules the run
/// reaches on a cluster without nodes (facts: nodes; a scenario: namespaces).
#[test]
fn a_missing_rule_is_named_with_the_403_it_caused() {
    use userns_e2e::targets::kube::rbac::PERMISSIONS;
    let cases = [
        // (the rule's verb and resource, the request it covers, a scenario)
        ("list", "nodes", "GET", "/api/v1/nodes", SKIPPED),
        (
            "create",
            "namespaces",
            "POST",
            "/api/v1/namespaces",
            "host-users/host-pid-refused",
        ),
    ];
    for (verb, resource, method, path, scenario) in cases {
        assert!(
            PERMISSIONS
                .iter()
                .any(|p| p.resource == resource && p.verbs.contains(&verb)),
            "{verb} {resource} is a rule of the table"
        );
        let api = fake_api::FakeApi::forbidding(Some(fake_api::Forbid {
            method,
            path,
            verb,
            resource,
        }));
        let dir = tempfile::tempdir().unwrap();
        let kc = api.kubeconfig(dir.path());
        let json = dir.path().join("results.json");
        let o = run(
            &[
                "--target",
                "kube",
                "--kubeconfig",
                kc.to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
                "scenarios",
                scenario,
                "--exact",
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        let results = std::fs::read_to_string(&json).unwrap_or_default();
        let named = format!("cannot {verb} resource \\\"{resource}\\\"");
        assert!(
            stderr.contains(&named.replace('\\', "")) || results.contains(&named),
            "without {verb} {resource} the run should name it:\n{stderr}\n{results}"
        );
    }
}
