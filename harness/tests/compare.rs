//! `compare` over a results file from the real local node and edited variants.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/results")
        .join(name)
}

fn compare(args: &[&str]) -> (i32, String, String) {
    cli::run(std::iter::once("compare").chain(args.iter().copied()))
}

fn p(name: &str) -> String {
    fixture(name).display().to_string()
}

#[test]
fn matrix_over_three_runs_flags_a_changed_uid_map_in_markdown_json_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("c.json");
    let html = dir.path().join("c.html");
    let (code, md, err) = compare(&[
        &p("containerd-2.1.9.json"),
        &p("containerd-2.1.10-edited.json"),
        &p("containerd-2.2.0-edited.json"),
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("| pod userns: uid_map | `0 <k·65536> 65536` | `0 <k·65536> 65536` | `0 100000 65536` |"), "{md}");
    insta::assert_snapshot!("compare_md", md);
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let changed: Vec<&str> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["differences"].as_array().unwrap().is_empty())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        vec![
            "host-users/aligned-range",
            "sysctl/userns-default-ping-range"
        ]
    );
    let rows: Vec<&serde_json::Value> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["differences"].as_array().unwrap().is_empty())
        .collect();
    insta::assert_snapshot!(
        "compare_json_changed_rows",
        serde_json::to_string_pretty(&rows).unwrap()
    );
    // The HTML grid marks exactly the rows that differ.
    let page = std::fs::read_to_string(&html).unwrap();
    let marked: Vec<&str> = page
        .split("<tr data-row data-changed=\"yes\"><td><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(marked, changed);
    // Three runs, each changed row opens one cell per run; the third run's value.
    assert_eq!(page.matches("<td class=\"cell changed ").count(), 6);
    assert!(page.contains("<li>pod userns: uid_map: <code>0 100000 65536</code></li>"));
    assert!(
        page.contains("<th>containerd 2.1.9+unknown (local)</th>"),
        "{page}"
    );
}

#[test]
fn another_allocator_slot_is_not_a_change() {
    let (code, _, err) = compare(&[
        "--baseline",
        &p("containerd-2.1.9.json"),
        "--fail-on-change",
        &p("containerd-2.1.10-edited.json"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no change against the baseline"));
}

#[test]
fn fail_on_change_exits_1_on_a_change_and_0_without() {
    let (code, _, err) = compare(&[
        "--baseline",
        &p("containerd-2.1.9.json"),
        "--fail-on-change",
        &p("containerd-2.2.0-edited.json"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "host-users/aligned-range: pod userns: uid_map: 0 <k·65536> 65536 → 0 100000 65536"
        ),
        "{err}"
    );
    assert!(
        err.contains("sysctl/userns-default-ping-range: pass → fail"),
        "{err}"
    );
    let (code, _, _) = compare(&[
        "--baseline",
        &p("containerd-2.1.9.json"),
        "--fail-on-change",
        &p("containerd-2.1.9.json"),
    ]);
    assert_eq!(code, 0);
    let (code, _, _) = compare(&[
        "--baseline",
        &p("containerd-2.1.9.json"),
        &p("containerd-2.2.0-edited.json"),
    ]);
    assert_eq!(
        code, 0,
        "without --fail-on-change a change is reported, not fatal"
    );
}

#[test]
fn bad_results_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"schemaVersion\": 1, \"results\": 3}").unwrap();
    let (code, _, err) = compare(&[bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.json"), "{err}");
    let (code, _, err) = compare(&["/nonexistent/r.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/r.json"), "{err}");
}

/// A scenario whose diagnosis changes between runs: the same results file,
/// once as recorded, once with `sysctl/userns-full-range-fails` failing and
/// diagnosed by the shipped catalog (as `run` writes it).
#[test]
fn a_changed_diagnosis_is_a_difference() {
    use userns_e2e::report::{json, results::SCHEMA_VERSION};
    use userns_e2e::verdict::Verdict;
    let dir = tempfile::tempdir().unwrap();
    let mut run = json::read(&fixture("containerd-2.1.9.json")).unwrap();
    run.schema_version = SCHEMA_VERSION;
    let before = dir.path().join("before.json");
    std::fs::write(&before, json::to_string(&run)).unwrap();
    let facts = run.environment.clone();
    let r = run
        .results
        .iter_mut()
        .find(|r| r.id == "sysctl/userns-full-range-fails")
        .unwrap();
    r.verdict = Verdict::Fail {
        reason: "expected running".into(),
        diff: "- running".into(),
        checks: vec![],
    };
    r.diagnoses = userns_e2e::runner::diagnose_result(&facts, r);
    let after = dir.path().join("after.json");
    std::fs::write(&after, json::to_string(&run)).unwrap();
    let out = dir.path().join("c.json");
    let (code, md, err) = compare(&[
        before.to_str().unwrap(),
        after.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    let row = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "sysctl/userns-full-range-fails")
        .unwrap();
    assert_eq!(
        row["differences"],
        serde_json::json!([{"what": "diagnoses", "values": ["none", "ping-group-range-not-mapped"]}])
    );
    let line = md
        .lines()
        .find(|l| l.contains("diagnoses"))
        .unwrap_or_else(|| panic!("{md}"));
    insta::assert_snapshot!("compare_md_diagnosis_change", line);
}
