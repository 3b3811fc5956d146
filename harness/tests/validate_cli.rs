//! `validate` on malformed files: exit 2, the file and place named, no panic;
//! and the suite itself valid, with a current JSON Schema.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/cli.rs"]
mod cli;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn validate(args: &[&Path]) -> (i32, String, String) {
    cli::run(std::iter::once(Path::new("validate")).chain(args.iter().copied()))
}

const GOOD: &str = "description: d\ncites: [FACTS.md#story-1]\npods:\n  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata: {name: p}\n      spec:\n        containers: [{name: c, image: \"${image.busybox}\"}]\n    expect:\n      outcome: running\n";

fn bad_cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut deep = "a: ".to_string();
    deep.push_str(&"[".repeat(100_000));
    let mut big = GOOD.to_string();
    big.push_str(&format!("# {}\n", "x".repeat(3 * 1024 * 1024)));
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    vec![
        (
            "broken-yaml",
            b"description: d\ncites: [x\npods: []\n".to_vec(),
        ),
        (
            "wrong-type",
            GOOD.replace("cites: [FACTS.md#story-1]", "cites: 7")
                .into_bytes(),
        ),
        (
            "unknown-top-level-field",
            format!("{GOOD}expectations: {{}}\n").into_bytes(),
        ),
        (
            "unknown-pod-field",
            GOOD.replace(
                "image: \"${image.busybox}\"",
                "image: \"${image.busybox}\", imagePullPolcy: Never",
            )
            .into_bytes(),
        ),
        (
            "unknown-expect-field",
            GOOD.replace("outcome: running", "outcome: running\n      uidmap: host")
                .into_bytes(),
        ),
        (
            "unknown-template",
            GOOD.replace("${image.busybox}", "${image.nginx}")
                .into_bytes(),
        ),
        (
            "bad-matcher",
            GOOD.replace("outcome: running", "uidMap: [\"0 lots 65536\"]")
                .into_bytes(),
        ),
        (
            // issue 12: a non-ASCII character after a template panicked (exit 101)
            "non-ascii-matcher",
            GOOD.replace(
                "outcome: running",
                "uidMap: [\"0 ${subuid.containers.start}é 65536\"]",
            )
            .into_bytes(),
        ),
        (
            "non-ascii-offset",
            GOOD.replace(
                "outcome: running",
                "hostUid: \"${subuid.containers.start}+١٢\"",
            )
            .into_bytes(),
        ),
        (
            // the runner multiplies it and targets add it to Instant::now()
            "huge-timeout",
            format!("timeout: 500000000000y\n{GOOD}").into_bytes(),
        ),
        ("empty", Vec::new()),
        (
            "binary",
            vec![0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, 0, 1, 2],
        ),
        ("nul-bytes", b"description: d\0\n".to_vec()),
        ("deep", deep.into_bytes()),
        ("large", big.into_bytes()),
        ("alias-bomb", bomb.as_bytes().to_vec()),
        ("not-a-mapping", b"- just\n- a list\n".to_vec()),
        (
            "no-pods",
            b"description: d\ncites: [FACTS.md#story-1]\npods: []\n".to_vec(),
        ),
    ]
}

#[test]
fn malformed_files_exit_2_naming_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for (name, bytes) in bad_cases() {
        let p = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&p, bytes).unwrap();
        let started = std::time::Instant::now();
        let (code, _, err) = validate(&[&p]);
        let took = started.elapsed();
        assert_eq!(code, 2, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}.yaml")),
            "{name}: the file is not named: {err}"
        );
        // Timing goes to the report, not an assertion: see benches for speed.
        let _ = took;
        report.push_str(&format!(
            "## {name}\n{}\n",
            err.replace(&dir.path().display().to_string(), "DIR")
        ));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn the_suite_is_valid_and_large_enough() {
    let (code, out, err) = validate(&[&repo().join("scenarios")]);
    assert_eq!(code, 0, "{err}");
    let n: usize = out
        .trim()
        .trim_start_matches("ok: ")
        .trim_end_matches(" scenario files")
        .parse()
        .unwrap();
    assert!(n >= 30, "only {n} scenario files");
}

#[test]
fn every_scenario_file_has_the_schema_modeline() {
    let mut stack = vec![repo().join("scenarios")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let first = std::fs::read_to_string(&p)
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                assert_eq!(
                    first,
                    "# yaml-language-server: $schema=../scenario.schema.json",
                    "{}",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(repo().join("scenarios/scenario.schema.json")).unwrap();
    assert_eq!(
        committed,
        userns_e2e::cli::validate::schema_text(),
        "run `userns-e2e schema --write scenarios/scenario.schema.json`"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let (code, _, _) = cli::run(["run", "--no-such-flag"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = cli::run(["run", "--timeout", "500000000000y"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("above the limit of 1day"));
    let (code, _, _) = cli::run(["--help"]);
    assert_eq!(code, 0);
    let scenarios = repo().join("scenarios");
    let scenarios = scenarios.to_str().unwrap();
    let (code, _, stderr) = cli::run([
        "run",
        "--target",
        "cri",
        "--socket",
        "unix:///nonexistent.sock",
        scenarios,
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("/nonexistent.sock"));
    let (code, _, stderr) = cli::run(["run", "--as", "test", scenarios]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--as cannot be used with --target local"));
}

#[test]
fn the_local_node_without_root_exits_3_saying_so() {
    let scenarios = repo().join("scenarios");
    for args in [
        vec!["node", "start", "--node-dir", "/tmp/userns-e2e-nonroot"],
        vec![
            "run",
            "--node-dir",
            "/tmp/userns-e2e-nonroot",
            scenarios.to_str().unwrap(),
        ],
    ] {
        // setpriv (util-linux) runs the binary as nobody.
        let o = Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_userns-e2e"),
            ])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains("needs root"), "{args:?}: {err}");
    }
}

#[test]
fn the_committed_diagnosis_schema_is_current() {
    let committed =
        std::fs::read_to_string(repo().join("diagnoses/diagnosis.schema.json")).unwrap();
    assert_eq!(
        committed,
        userns_e2e::diagnose::catalog::schema_text(),
        "run `userns-e2e schema --diagnoses --write diagnoses/diagnosis.schema.json`"
    );
}

/// `validate` checks the catalog (a folder holding diagnosis.schema.json),
/// alone or beside scenarios, and names file:line:column of a bad entry.
#[test]
fn validate_checks_the_diagnosis_catalog() {
    let diagnoses = repo().join("diagnoses");
    let (code, out, err) = validate(&[&diagnoses, &repo().join("scenarios")]);
    assert_eq!(code, 0, "{err}");
    let entries = std::fs::read_dir(&diagnoses)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert!(
        out.contains(&format!("ok: {entries} diagnosis entries")),
        "{out}"
    );
    assert!(out.contains("scenario files"), "{out}");
    for e in std::fs::read_dir(&diagnoses).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "yaml") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            assert!(
                text.starts_with("# yaml-language-server: $schema=diagnosis.schema.json"),
                "{}",
                e.path().display()
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        diagnoses.join("diagnosis.schema.json"),
        dir.path().join("diagnosis.schema.json"),
    )
    .unwrap();
    let bad = dir.path().join("uncited.yaml");
    std::fs::write(
        &bad,
        "id: uncited\ntitle: t\nseverity: cause\nmatch:\n  - pod: {outcome: {message: \"x\"}}\ncause: c.\nfix: {node: n}\ncites: []\n",
    )
    .unwrap();
    let (code, _, err) = validate(&[&bad]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("uncited.yaml:8:1: at cites: every entry cites upstream"),
        "{err}"
    );
}

/// `doctor` against a target that cannot be reached is an unusable target (3).
#[test]
fn doctor_on_an_unreachable_target_exits_3() {
    let (code, _, stderr) = cli::run([
        "doctor",
        "--target",
        "cri",
        "--socket",
        "unix:///nonexistent.sock",
        "--json",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("/nonexistent.sock"), "{stderr}");
}

/// Issue 22: a mistyped path runs nothing and must not pass. It fails with
/// exit 4 and the reason before the target is touched (a socket that does
/// not exist would be exit 3); `--no-tests` opts out.
#[test]
fn a_run_that_selects_nothing_exits_4_saying_why() {
    let scenarios = repo().join("scenarios");
    let scenarios = scenarios.to_str().unwrap();
    let cri = ["--target", "cri", "--socket", "unix:///nonexistent.sock"];
    let run = |extra: &[&str]| {
        cli::run(
            ["run"]
                .iter()
                .chain(&cri)
                .chain(&[scenarios])
                .chain(extra)
                .copied(),
        )
    };
    // `scenario/` for `scenarios/`: not a path, so it is the filter.
    let (code, _, err) = run(&["scenario/"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("no scenario selected: the filter \"scenario/\" matched none of the"),
        "{err}"
    );
    assert!(
        err.contains("\"scenario/\" looks like a path, but no such file or folder exists"),
        "{err}"
    );
    assert!(err.contains("--no-tests=warn"), "{err}");
    assert!(
        !err.contains("nonexistent.sock"),
        "the target was not touched: {err}"
    );
    // A plain word that matches nothing, and --skip that leaves nothing.
    let (code, _, err) = run(&["no-such-scenario-name"]);
    assert_eq!(code, 4, "{err}");
    assert!(!err.contains("looks like a path"), "{err}");
    let (code, _, err) = run(&["--skip", "/"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("--skip [\"/\"] left none of the"), "{err}");
    // An existing folder without scenario files is bad input already.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = cli::run(
        ["run"]
            .iter()
            .chain(&cri)
            .copied()
            .chain([empty.path().to_str().unwrap()]),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no scenario files (*.yaml) found"), "{err}");
    // warn: says so and goes on to the target; pass: goes on silently.
    let (code, _, err) = run(&["scenario/", "--no-tests", "warn"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("warning: no scenario selected"), "{err}");
    let (code, _, err) = run(&["scenario/", "--no-tests=pass"]);
    assert_eq!(code, 3, "{err}");
    assert!(!err.contains("no scenario selected"), "{err}");
    // A filter that selects something is not affected.
    let (code, _, err) = run(&["host-users"]);
    assert_eq!(code, 3, "{err}");
}

/// Issue 22: every mistake of a file in one pass, each with its place and
/// field path, in file order; unknown fields get the nearest known name.
#[test]
fn validate_reports_every_error_of_a_file_with_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("three-mistakes.yaml");
    // A wrong type (timeout), an unknown scenario field with a typo
    // (`serail`), an unknown pod field (`hostUsrs`), and a second unknown
    // field at the same level (`expct`).
    let text = GOOD
        .replace(
            "description: d\n",
            "description: d\ntimeout: [30s]\nserail: true\n",
        )
        .replace("      spec:\n", "      spec:\n        hostUsrs: false\n")
        .replace("    expect:\n", "    expct: {}\n    expect:\n");
    std::fs::write(&file, &text).unwrap();
    let (code, _, err) = validate(&[&file]);
    assert_eq!(code, 2, "{err}");
    let report = err.replace(&dir.path().display().to_string(), "DIR");
    insta::assert_snapshot!("every_error_of_a_file", report);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 5, "{report}");
    assert!(
        lines[0].starts_with("error: DIR/three-mistakes.yaml:2:1: at timeout: invalid type"),
        "{report}"
    );
    assert!(
        lines[1].contains(":3:1: at serail: unknown field `serail`")
            && lines[1].ends_with("did you mean `serial`?"),
        "{report}"
    );
    assert!(lines[2].contains("at pods[0].pod.spec.hostUsrs: unknown field `hostUsrs` in v1.Pod; did you mean `hostUsers`?"), "{report}");
    assert!(
        lines[3].contains("at pods[0].expct: unknown field `expct`")
            && lines[3].ends_with("did you mean `expect`?"),
        "{report}"
    );
    assert_eq!(lines[4], "4 error(s)");
}

/// Issue 22: words: one file is one file.
#[test]
fn validate_counts_files_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.yaml");
    std::fs::write(&one, GOOD).unwrap();
    let (code, out, err) = validate(&[&one]);
    assert_eq!((code, out.as_str()), (0, "ok: 1 scenario file\n"), "{err}");
    std::fs::write(dir.path().join("two.yaml"), GOOD).unwrap();
    let (code, out, err) = validate(&[dir.path()]);
    assert_eq!((code, out.as_str()), (0, "ok: 2 scenario files\n"), "{err}");
}

/// Issue 22: every citation of the suite resolves for a reader of the
/// repository: a fact of docs/FACTS.md or a source listed there.
#[test]
fn every_citation_in_scenarios_resolves() {
    use userns_e2e::citations::{check, FactsIndex};
    let suite = userns_e2e::scenario::load::load_paths(&[repo().join("scenarios")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    let index = FactsIndex::project();
    let mut cited = 0;
    for s in &suite {
        for c in &s.spec.cites {
            if let Err(e) = check(c, index) {
                panic!("{}: {e}", s.id);
            }
            cited += 1;
        }
    }
    assert!(
        cited >= suite.len(),
        "{cited} citations for {} scenarios",
        suite.len()
    );
    // And validate refuses one that does not resolve, with a suggestion.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad-cite.yaml");
    std::fs::write(
        &file,
        GOOD.replace(
            "cites: [FACTS.md#story-1]",
            "cites: [FACTS.md#story-1, FACTS.md#stroy-5]",
        ),
    )
    .unwrap();
    let (code, _, err) = validate(&[&file]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("at cites[1]: `FACTS.md#stroy-5` cites `FACTS.md#stroy-5`, which is no fact of docs/FACTS.md; did you mean `FACTS.md#story-5`?"),
        "{err}"
    );
}
