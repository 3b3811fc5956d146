//! The HTML report as a person sees it: the page of a real results file of
//! the local node, loaded in headless Chromium (`--dump-dom` and a
//! screenshot). The page's script must run without errors, the SVG must hold
//! exactly one bar per observed pod range with its numbers in the label, and
//! an overlap injected into the results must be drawn as one.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it); without it the test
//! says why and passes, except with `CI=true`, where it fails.

#[path = "support/absent.rs"]
mod absent;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use userns_e2e::report::html;
use userns_e2e::report::results::RunResults;

const CHROMIUM: &str = "/usr/bin/chromium";

fn fixture() -> RunResults {
    userns_e2e::report::json::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results/containerd-2.1.9.json"),
    )
    .unwrap()
}

fn chromium_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    let why = format!("{CHROMIUM} is missing (Debian package chromium; .ci/run installs it)");
    assert!(!absent::skipped_or_fails("html_browser", &why), "{why}");
    false
}

/// Runs headless Chromium on `page` with `extra` arguments; returns stdout.
fn chromium(page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap().unwrap()
}

/// The page as the browser built it, with a screenshot taken on the way.
fn load(results: &RunResults) -> String {
    load_page(&html::run_page(results))
}

fn load_page(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, text).unwrap();
    let dom = chromium(&page, &["--dump-dom".to_string()]);
    let shot: PathBuf = dir.path().join("shot.png");
    chromium(&page, &[format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG"),
        "not a screenshot"
    );
    assert!(
        dom.contains("data-script=\"ran\""),
        "the page's script did not run:\n{dom}"
    );
    let errors = regex::Regex::new(r#"(?s)<ul id="script-errors">(.*?)</ul>"#)
        .unwrap()
        .captures(&dom)
        .expect("the error list is in the page")[1]
        .to_string();
    assert!(errors.is_empty(), "script errors: {errors}");
    dom
}

/// Observed pod ranges straight from the JSON (independent of the renderer):
/// (scenario, pod, uid_map line) for lines whose host start is not 0.
fn expected_bars(results: &RunResults) -> Vec<(String, String, String)> {
    let v = serde_json::to_value(results).unwrap();
    let mut out = Vec::new();
    for r in v["results"].as_array().unwrap() {
        for p in r["observation"]["pods"].as_array().into_iter().flatten() {
            let map = match &p["inside"]["uidMap"] {
                serde_json::Value::Null => &p["host"]["uidMap"],
                m => m,
            };
            for line in map.as_array().into_iter().flatten() {
                let line = line.as_str().unwrap();
                if line.split_whitespace().nth(1) != Some("0") {
                    out.push((
                        r["id"].as_str().unwrap().to_string(),
                        p["name"].as_str().unwrap().to_string(),
                        line.to_string(),
                    ));
                }
            }
        }
    }
    out
}

fn bars_and_labels(dom: &str) -> (usize, Vec<String>) {
    let bars = regex::Regex::new(r#"<rect class="bar( clash)?""#)
        .unwrap()
        .find_iter(dom)
        .count();
    let labels = regex::Regex::new(r#"<text class="bar-label"[^>]*>([^<]*)</text>"#)
        .unwrap()
        .captures_iter(dom)
        .map(|c| c[1].to_string())
        .collect();
    (bars, labels)
}

#[test]
fn the_page_of_a_real_run_draws_one_bar_per_pod_range() {
    if !chromium_available() {
        return;
    }
    let results = fixture();
    let expected = expected_bars(&results);
    assert!(
        expected.len() >= 10,
        "the fixture should hold many pod ranges"
    );
    let dom = load(&results);
    // The filter script went over every scenario row.
    assert!(
        dom.contains(&format!(
            "<span id=\"shown\">{} shown</span>",
            results.results.len()
        )),
        "{dom}"
    );
    let (bars, labels) = bars_and_labels(&dom);
    assert_eq!(bars, expected.len(), "one bar per observed pod range");
    assert_eq!(labels.len(), expected.len());
    for ((scenario, pod, line), label) in expected.iter().zip(&labels) {
        let start: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let length: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert_eq!(
            label,
            &format!(
                "{scenario} / {pod}: {line} (host {start}–{})",
                start + length - 1
            )
        );
    }
    // No start times in this older file: slots reused across scenarios are no overlap.
    assert!(!dom.contains("class=\"overlap\""));
    assert!(!dom.contains("overlap-banner"));
}

#[test]
fn an_injected_overlap_is_drawn_as_one() {
    if !chromium_available() {
        return;
    }
    let mut results = fixture();
    // Scenarios one after another, except two whose pods both got 65536…131071.
    for (i, r) in results.results.iter_mut().enumerate() {
        r.start_ms = Some(i as u64 * 10_000);
    }
    let a = "containerd/host-users-false-map";
    let b = "host-users/aligned-range";
    let start_a = results.results.iter().find(|r| r.id == a).unwrap().start_ms;
    results
        .results
        .iter_mut()
        .find(|r| r.id == b)
        .unwrap()
        .start_ms = start_a.map(|s| s + 100);
    let dom = load(&results);
    let overlaps: Vec<_> = regex::Regex::new(
        r#"<g class="overlap" data-a="([^"]*)" data-b="([^"]*)" data-start="(\d+)" data-end="(\d+)""#,
    )
    .unwrap()
    .captures_iter(&dom)
    .map(|c| {
        (
            c[1].to_string(),
            c[2].to_string(),
            c[3].to_string(),
            c[4].to_string(),
        )
    })
    .collect();
    assert_eq!(
        overlaps,
        vec![(
            format!("{a} / userns"),
            format!("{b} / userns"),
            "65536".to_string(),
            "131072".to_string()
        )]
    );
    assert_eq!(dom.matches("<rect class=\"bar clash\"").count(), 2);
    assert!(dom.contains("1 overlap(s)"));
    assert!(dom.contains(&format!(
        "host ids 65536–131071: <b>{a} / userns</b> (0 65536 65536) and <b>{b} / userns</b>"
    )));
}

#[test]
fn the_comparison_page_loads_without_script_errors() {
    if !chromium_available() {
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results");
    let runs: Vec<userns_e2e::compare::Run> =
        ["containerd-2.1.9.json", "containerd-2.1.10-edited.json"]
            .iter()
            .map(|f| {
                let results = userns_e2e::report::json::read(&fixtures.join(f)).unwrap();
                userns_e2e::compare::Run {
                    label: userns_e2e::compare::default_label(&results),
                    results,
                }
            })
            .collect();
    let c = userns_e2e::compare::compare(&runs);
    let dom = load_page(&html::compare_page(&c));
    assert!(dom.contains(&format!("<span id=\"shown\">{} shown</span>", c.rows.len())));
}
