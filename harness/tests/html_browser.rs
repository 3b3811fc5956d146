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
    chromium_at(page, "1400,1600", extra)
}

/// The same in a window of `size` (`W,H`).
fn chromium_at(page: &Path, size: &str, extra: &[String]) -> String {
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
        ])
        .arg(format!("--window-size={size}"))
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

/// Measures every text of the host-id picture in the browser: pairs whose
/// boxes intersect, texts that leave the window or are smaller than 11 px,
/// and how wide the picture is against the window. Injected by the test
/// only; the page itself ships no such code.
const MEASURE: &str = r#"<script>
(function(){
  var t=[].slice.call(document.querySelectorAll('svg text'));
  var b=t.map(function(e){var r=e.getBoundingClientRect();return {t:e.textContent,l:r.left,r:r.right,u:r.top,d:r.bottom};});
  var clash=[];
  for(var i=0;i<b.length;i++){for(var j=i+1;j<b.length;j++){var x=b[i],y=b[j];
    if(x.l<y.r-0.5&&y.l<x.r-0.5&&x.u<y.d-0.5&&y.u<x.d-0.5){clash.push(x.t+' ~ '+y.t);}}}
  var w=window.innerWidth;
  var out={clash:clash,
    offPage:b.filter(function(x){return x.l<0||x.r>w+0.5;}).map(function(x){return x.t;}),
    small:b.filter(function(x){return x.d-x.u<11;}).map(function(x){return x.t;}),
    texts:b.length, window:w,
    picture:document.getElementById('host-ids').getBoundingClientRect().width,
    zoom:document.getElementById('host-ids-zoom')?document.getElementById('host-ids-zoom').getBoundingClientRect().width:0};
  var p=document.createElement('pre');p.id='measured';p.textContent=JSON.stringify(out);document.body.appendChild(p);
})();
</script>"#;

/// Issue 22: on a laptop screen (1280×800) the picture uses the page's
/// width, its labels are readable and none overlaps another (boxes from
/// the DOM), and a linear panel zooms on the span where the pods are.
#[test]
fn the_picture_reads_at_1280x800_without_overlapping_labels() {
    if !chromium_available() {
        return;
    }
    let mut results = fixture();
    // The kubelet's default range reaches 2^32: the drawing spans it all.
    results.environment.kubelet_ids = Some(userns_e2e::facts::KubeletIdRange {
        first: 65536,
        count: (1 << 32) - 65536,
        ids_per_pod: 65536,
        source: "kubelet default".into(),
    });
    let page = html::run_page(&results).replace("</body>", &format!("{MEASURE}</body>"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let shot = dir.path().join("shot.png");
    chromium_at(
        &file,
        "1280,800",
        &[format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    // PNG width and height, big-endian at bytes 16..24.
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1280, 800), "screenshot size");
    let dom = chromium_at(&file, "1280,800", &["--dump-dom".to_string()]);
    let measured = regex::Regex::new(r#"(?s)<pre id="measured">(.*?)</pre>"#)
        .unwrap()
        .captures(&dom)
        .expect("the measuring script ran")[1]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let m: serde_json::Value = serde_json::from_str(&measured).unwrap();
    eprintln!("measured at 1280x800: {m}");
    let bars = expected_bars(&results).len() as u64;
    assert!(m["texts"].as_u64().unwrap() > bars, "{m}");
    assert_eq!(m["clash"], serde_json::json!([]), "overlapping labels: {m}");
    assert_eq!(m["offPage"], serde_json::json!([]), "{m}");
    assert_eq!(m["small"], serde_json::json!([]), "unreadably small: {m}");
    let window = m["window"].as_f64().unwrap();
    for panel in ["picture", "zoom"] {
        let w = m[panel].as_f64().unwrap();
        assert!(w > 0.9 * window, "{panel} is {w} px of {window}: {m}");
    }
    // The zoomed panel holds a bar per pod range, over the pods' span only.
    assert_eq!(dom.matches("<rect class=\"zbar").count() as u64, bars);
    assert!(dom.contains("aria-label=\"host id ranges of the pods, linear from "));
}
