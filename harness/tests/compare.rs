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
    assert!(page.contains("<th>containerd 2.1.9 (local)</th>"), "{page}");
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

/// The fixture run with `edit` applied to the observation of scenario `id`,
/// written to `dir/name`: a second run that differs only where `edit` says.
/// A change to one pod's observation in a results file.
type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);

fn variant(dir: &Path, name: &str, edits: &[(&str, Edit)]) -> String {
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("containerd-2.1.9.json")).unwrap())
            .unwrap();
    for (id, edit) in edits {
        let r = run["results"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|r| r["id"] == *id)
            .unwrap_or_else(|| panic!("{id} is in the fixture"));
        edit(&mut r["observation"]["pods"][0]);
    }
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&run).unwrap()).unwrap();
    path.display().to_string()
}

/// Replaces `from` by `to` in the pod's outcome message.
fn message(from: &'static str, to: &'static str) -> impl Fn(&mut serde_json::Value) {
    move |pod| {
        let m = pod["outcome"]["message"]
            .as_str()
            .unwrap()
            .replace(from, to);
        assert_ne!(
            pod["outcome"]["message"],
            m.as_str(),
            "{from} is in the message"
        );
        pod["outcome"]["message"] = m.into();
    }
}

/// The pod's maps, inside and on the host, and its host uid (the map's first
/// outside id) as a run that got these lines would record them.
fn uid_map(lines: &'static [&'static str]) -> impl Fn(&mut serde_json::Value) {
    move |pod| {
        pod["inside"]["uidMap"] = serde_json::json!(lines);
        pod["inside"]["gidMap"] = serde_json::json!(lines);
        if pod["host"].is_object() {
            let first: u64 = lines[0].split(' ').nth(1).unwrap().parse().unwrap();
            pod["host"]["uidMap"] = serde_json::json!(lines);
            pod["host"]["gidMap"] = serde_json::json!(lines);
            pod["host"]["hostUid"] = first.into();
        }
    }
}

/// `compare --baseline A --fail-on-change B` with every output: the exit
/// code, stderr, Markdown, JSON and HTML.
fn against_baseline(dir: &Path, b: &str) -> (i32, String, String, serde_json::Value, String) {
    let (json, html, md) = (dir.join("c.json"), dir.join("c.html"), dir.join("c.md"));
    let (code, _, err) = compare(&[
        "--baseline",
        &p("containerd-2.1.9.json"),
        "--fail-on-change",
        b,
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    (
        code,
        err,
        std::fs::read_to_string(md).unwrap(),
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap(),
        std::fs::read_to_string(html).unwrap(),
    )
}

fn changed_rows(c: &serde_json::Value) -> Vec<String> {
    c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            !r["differences"].as_array().unwrap().is_empty()
                || r["statuses"]
                    .as_array()
                    .unwrap()
                    .windows(2)
                    .any(|w| w[0] != w[1])
        })
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 22: two back-to-back runs whose sandbox ids, allocator slots and a
/// concurrently split uid map differ are the same behaviour, and every
/// output says so.
#[test]
fn identical_runs_are_no_change_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let b = variant(
        dir.path(),
        "again.json",
        &[
            (
                "sysctl/userns-full-range-fails",
                &message(
                    "00ef6b95ca33cbe66c909455f2ff881d699152f21dbd2a4239356f5683dc4591",
                    "21424617d0411e6c909455f2ff881d699152f21dbd2a4239356f5683dc45aa",
                ),
            ),
            ("host-users/aligned-range", &uid_map(&["0 1441792 65536"])),
            // No expectation of this scenario looks at the map.
            (
                "sysctl/userns-default-ping-range",
                &uid_map(&["0 65536 62144", "62144 262144 3392"]),
            ),
        ],
    );
    let (code, err, md, json, html) = against_baseline(dir.path(), &b);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no change against the baseline"), "{err}");
    assert!(!err.contains("change(s)"), "{err}");
    assert!(
        md.contains("No verdict and no observed behaviour that a scenario checks differs"),
        "{md}"
    );
    assert!(!md.contains('🔀'), "{md}");
    assert_eq!(changed_rows(&json), Vec::<String>::new());
    assert!(html.contains("; 0 differ"), "{html}");
    // The unchecked split is shown, apart, and is not a change.
    assert!(
        md.contains("### Observed differently where no expectation looks (not a change)"),
        "{md}"
    );
    assert!(md.contains("| pod ping-default: uid_map | `0 <k·65536> 65536` | `0 <k·65536> 62144 \\| 62144 <k·65536> 3392` |"), "{md}");
    let unchecked: Vec<&str> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["unchecked"].as_array().unwrap().is_empty())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(unchecked, ["sysctl/userns-default-ping-range"]);
}

/// A real change still fails, and every output names the same one: another
/// error in a message, and a different uid_map line.
#[test]
fn another_error_or_map_line_is_a_change_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let b = variant(
        dir.path(),
        "changed.json",
        &[
            (
                "sysctl/userns-full-range-fails",
                &message("invalid argument", "permission denied"),
            ),
            (
                "containerd/host-users-false-map",
                &uid_map(&["0 100000 65536"]),
            ),
        ],
    );
    let (code, err, md, json, html) = against_baseline(dir.path(), &b);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("3 change(s) against the baseline"), "{err}");
    assert!(err.contains("sysctl/userns-full-range-fails: pod ping-full: outcome: sandbox failed: FailedCreatePodSandBox: failed to start sandbox \"<id>\""), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(
        err.contains("containerd/host-users-false-map: pod userns: uid_map: 0 <k·65536> 65536 → 0 100000 65536"),
        "{err}"
    );
    let changed = changed_rows(&json);
    assert_eq!(
        changed,
        [
            "containerd/host-users-false-map",
            "sysctl/userns-full-range-fails"
        ]
    );
    assert!(md.contains("### What differs (🔀): 2 scenario(s)"), "{md}");
    assert!(html.contains("; 2 differ"), "{html}");
    assert_eq!(html.matches("data-changed=\"yes\"").count(), 2);
}

/// The column titles of a comparison's JSON.
fn labels(args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("c.json");
    let mut all = args.to_vec();
    all.extend(["--json", json.to_str().unwrap()]);
    let (code, _, err) = compare(&all);
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    serde_json::from_value(c["labels"].clone()).unwrap()
}

/// Issue 22: two runs of one runtime get columns that tell them apart: the
/// `run --label` stored in the results, else the file name, else the start
/// time or the run id.
#[test]
fn runs_of_one_runtime_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let a = p("containerd-2.1.9.json");
    let copy = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
        edit(&mut v);
        let path = dir.path().join(name);
        std::fs::write(&path, v.to_string()).unwrap();
        path.display().to_string()
    };
    let b = copy("tonight.json", &|_| {});
    assert_eq!(
        labels(&[&a, &b]),
        [
            "containerd 2.1.9 (local) · containerd-2.1.9.json",
            "containerd 2.1.9 (local) · tonight.json"
        ]
    );
    let sub = dir.path().join("other");
    std::fs::create_dir(&sub).unwrap();
    let later = copy("other/containerd-2.1.9.json", &|v| {
        v["startedAt"] = "2026-12-04T15:00:00Z".into()
    });
    let l = labels(&[&a, &later]);
    assert!(l[1].ends_with(" · 2026-12-04T15:00:00Z"), "{l:?}");
    assert_ne!(l[0], l[1]);
    let labelled = copy("labelled.json", &|v| {
        v["label"] = "after the upgrade".into()
    });
    assert_eq!(
        labels(&[&a, &labelled]),
        ["containerd 2.1.9 (local)", "after the upgrade"]
    );
    let same = labels(&[&a, &a]);
    assert_eq!(
        same,
        [
            "containerd 2.1.9 (local) · #1",
            "containerd 2.1.9 (local) · #2"
        ]
    );
}
