//! `cargo bench --bench html`: how long the HTML pages take for a large
//! suite — 1,000 scenarios × 5 runs, made from the real local-node results
//! file — printed as figures (the target: well under 1 s in all).

use std::path::Path;
use std::time::{Duration, Instant};

use userns_e2e::compare::{compare, Run};
use userns_e2e::parse::idmap;
use userns_e2e::report::html;
use userns_e2e::report::results::{RunResults, Summary};

const SCENARIOS: usize = 1000;
const RUNS: usize = 5;

/// The fixture's scenarios repeated to `SCENARIOS`, four at a time (so the
/// overlap check has coexisting pods to compare), with run `n`'s slots
/// shifted by `n` so runs differ.
fn large_run(base: &RunResults, n: usize) -> RunResults {
    let mut r = base.clone();
    r.results = (0..SCENARIOS)
        .map(|i| {
            let mut s = base.results[i % base.results.len()].clone();
            s.id = format!("{}-{i:04}", s.id);
            s.start_ms = Some((i / 4) as u64 * 500);
            for p in s.observation.iter_mut().flat_map(|o| o.pods.iter_mut()) {
                if let Some(m) = p.inside.uid_map.as_ref().filter(|m| !m.is_host()) {
                    let line = m.0[0];
                    let shifted = format!(
                        "0 {} {}",
                        line.outside + 65536 * (n + i % 7) as u64,
                        line.length
                    );
                    p.inside.uid_map = idmap::parse(&shifted).ok();
                }
            }
            s
        })
        .collect();
    r.summary = Summary::of(&r.results);
    r
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let base = userns_e2e::report::json::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results/containerd-2.1.9.json"),
    )
    .expect("fixture");
    let runs: Vec<RunResults> = (0..RUNS).map(|n| large_run(&base, n)).collect();
    let t = Instant::now();
    let mut bytes = 0;
    for r in &runs {
        bytes += html::run_page(r).len();
    }
    let run_pages = t.elapsed();
    let t = Instant::now();
    let labelled: Vec<Run> = runs
        .iter()
        .enumerate()
        .map(|(n, r)| Run {
            label: format!("run {n}"),
            results: r.clone(),
        })
        .collect();
    let c = compare(&labelled);
    let compared = t.elapsed();
    let t = Instant::now();
    let page = html::compare_page(&c);
    let compare_page = t.elapsed();
    println!("HTML reports, {SCENARIOS} scenarios × {RUNS} runs:");
    println!(
        "  run pages         {} for {RUNS} pages ({} each, {} KiB in all)",
        ms(run_pages),
        ms(run_pages / RUNS as u32),
        bytes / 1024
    );
    println!(
        "  compare page      {} to compare + {} to render ({} KiB)",
        ms(compared),
        ms(compare_page),
        page.len() / 1024
    );
    println!(
        "  total             {} (target < 1000 ms)",
        ms(run_pages + compared + compare_page)
    );
}
