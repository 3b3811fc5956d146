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

/// `run --target kube` on `api` for `scenario` alone, with `flags`: the
/// output and the JSON results as written (`None`: none were).
fn run_kube(api: &fake_api::FakeApi, scenario: &str, flags: &[&str]) -> (Output, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(dir.path());
    let json = dir.path().join("results.json");
    let mut args = vec![
        "--target",
        "kube",
        "--kubeconfig",
        kc.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend(flags);
    args.extend(["scenarios", scenario, "--exact"]);
    let o = run(&args, &[]);
    (o, std::fs::read_to_string(&json).ok())
}

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
/// This server answers no SelfSubjectAccessReview, so the check on
/// connecting is skipped (and says so) and the 403s are what names the rule.
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
        let (o, results) = run_kube(&api, scenario, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let results = results.unwrap_or_default();
        let named = format!("cannot {verb} resource \\\"{resource}\\\"");
        assert!(
            stderr.contains(&named.replace('\\', "")) || results.contains(&named),
            "without {verb} {resource} the run should name it:\n{stderr}\n{results}"
        );
        let unchecked = "permissions not checked: SelfSubjectAccessReview: the fake API server has no /apis/authorization.k8s.io/v1/selfsubjectaccessreviews (404)";
        assert!(
            stderr.contains(&format!("warning: {unchecked}\n")),
            "{stderr}"
        );
        assert!(results.contains(unchecked), "{results}");
    }
}

/// The rules a run on this stand-in (plain Kubernetes: it serves no API
/// group) cannot go without, as the fake authorizer spells them.
fn required_here() -> Vec<(&'static str, &'static str)> {
    use userns_e2e::targets::kube::preflight::{questions, Object};
    use userns_e2e::targets::kube::Platform;
    questions()
        .into_iter()
        .filter(|q| q.need.required_on(Platform::Kubernetes))
        .map(|q| match q.object {
            Object::Resource { resource, .. } => (q.verb, resource),
            Object::Url(url) => (q.verb, url),
        })
        .collect()
}

/// A run as an identity without `list nodes` stops at connecting (exit 3),
/// naming the rule, who lacks it and how to grant it; no scenario ran.
#[test]
fn a_missing_rule_the_run_needs_stops_it_before_any_scenario() {
    let api = fake_api::FakeApi::reviewing(fake_api::Authorizer {
        denied: vec![("list", "nodes")],
    });
    let (o, results) = run_kube(&api, "host-users/host-pid-refused", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{} lacks permissions the run needs:\n  may not list nodes — runtime, version, kernel and runtime handlers of the nodes (facts)\nfix: apply deploy/clusterrole.yaml", fake_api::USER)),
        "{stderr}"
    );
    // Nothing was made and nothing judged.
    let posts: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST ") && !r.contains("selfsubject"))
        .collect();
    assert!(posts.is_empty(), "{posts:?}");
    assert_eq!(results, None);
}

/// Every missing rule is named at once, so one fix grants them all; a
/// missing rule the run could do without is listed apart.
#[test]
fn every_missing_rule_is_named_at_once() {
    let mut denied = required_here();
    assert!(denied.len() > 15, "{denied:?}");
    denied.push(("get", "nodes/proxy"));
    let api = fake_api::FakeApi::reviewing(fake_api::Authorizer {
        denied: denied.clone(),
    });
    let (o, _) = run_kube(&api, SKIPPED, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let (needed, also) = stderr
        .split_once("\nalso missing, though the run could go on without them:\n")
        .unwrap_or_else(|| panic!("{stderr}"));
    for (verb, resource) in &denied[..denied.len() - 1] {
        let line = format!("\n  may not {verb} {resource}");
        assert!(needed.contains(&line), "{line:?} not named:\n{stderr}");
    }
    assert!(also.starts_with("  may not get nodes/proxy — "), "{stderr}");
    assert_eq!(
        stderr.matches("\n  may not ").count(),
        denied.len(),
        "{stderr}"
    );
}

/// Without `get nodes/proxy` the gates come from elsewhere: the run goes
/// on, and says what it lacks on stderr (also with --quiet) and in the
/// results' environment.
#[test]
fn a_missing_fallback_rule_is_warned_and_the_run_goes_on() {
    let api = fake_api::FakeApi::reviewing(fake_api::Authorizer {
        denied: vec![("get", "nodes/proxy")],
    });
    let (o, results) = run_kube(&api, SKIPPED, &["--quiet"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let warning = "may not get nodes/proxy — the kubelet's feature gates from its metrics, through the API server; instead, the gates are read from a server-side dry run, else the API server's metrics";
    assert!(
        stderr.lines().any(|l| l == format!("warning: {warning}")),
        "{stderr}"
    );
    let results: serde_json::Value = serde_json::from_str(&results.unwrap()).unwrap();
    // First, before what the stand-in could not tell (its gates).
    assert_eq!(
        results["environment"]["unreadable"][0], warning,
        "{results}"
    );
    assert_eq!(results["results"][0]["verdict"]["status"], "skip");
}

/// `cleanup` lists and deletes namespaces only: it does not ask for the
/// rules a run needs.
#[test]
fn cleanup_does_not_check_the_rules_of_a_run() {
    let api = fake_api::FakeApi::reviewing(fake_api::Authorizer {
        denied: vec![("list", "nodes")],
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(dir.path());
    let o = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(["cleanup", "--target", "kube", "--kubeconfig"])
        .arg(&kc)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("may not list nodes"), "{stderr}");
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.contains("selfsubjectaccessreviews")),
        "{:?}",
        api.requests()
    );
    // It got as far as listing the run's namespaces.
    assert!(
        api.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces?")),
        "{:?}",
        api.requests()
    );
}
