//! `cargo bench --bench suite`: prints the harness's own overhead per
//! scenario (loading, requirement checks, judging, reports — everything but
//! the runtime's calls) and the suite's wall time on the real local node with
//! one thread and with the default, so the speed-up can be tracked.
//! Needs root; set USERNS_E2E_BENCH_NODE_DIR to choose the node folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use userns_e2e::facts::TargetKind;
use userns_e2e::runner::{Selection, Suite};
use userns_e2e::scenario::load;
use userns_e2e::targets::cri::{CriOptions, CriTarget};
use userns_e2e::targets::local::Node;
use userns_e2e::targets::Target;

fn per(d: Duration, n: usize) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6 / n.max(1) as f64)
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let scenarios_dir = repo.join("scenarios");
    let rounds = 50;

    // Pure overhead: load + check + judge + render, no runtime at all.
    let t = Instant::now();
    let mut scenarios = Vec::new();
    for _ in 0..rounds {
        scenarios =
            load::load_paths(std::slice::from_ref(&scenarios_dir)).expect("the suite loads");
    }
    let load = t.elapsed();
    let results = userns_e2e::report::json::read(
        &repo.join("harness/tests/fixtures/results/containerd-2.1.9.json"),
    )
    .expect("fixture");
    let t = Instant::now();
    let mut judged = 0;
    for _ in 0..rounds {
        for s in &scenarios {
            if let Some(r) = results.results.iter().find(|r| r.id == s.id) {
                let _ = userns_e2e::requirements::check(&s.spec.requires, &results.environment);
                if let Some(o) = &r.observation {
                    let _ = userns_e2e::judge::judge(
                        &s.spec,
                        &results.environment,
                        &Default::default(),
                        o,
                    );
                    judged += 1;
                }
            }
        }
    }
    let judge = t.elapsed();
    let t = Instant::now();
    for _ in 0..rounds {
        let _ = userns_e2e::report::junit::render(&results);
        let _ = userns_e2e::report::markdown::render(&results);
        let _ = userns_e2e::report::json::to_string(&results);
    }
    let reports = t.elapsed();
    println!(
        "harness overhead ({} scenarios, {rounds} rounds):",
        scenarios.len()
    );
    println!(
        "  load + validate   {} per scenario",
        per(load, rounds * scenarios.len())
    );
    println!(
        "  requirements+judge {} per judged scenario",
        per(judge, judged)
    );
    println!(
        "  reports           {} per scenario (JSON + JUnit + Markdown)",
        per(reports, rounds * results.results.len())
    );

    // Wall time on the real node.
    if !userns_e2e::targets::local::is_root() {
        println!("suite wall time: skipped (needs root to start the local node)");
        return;
    }
    let dir = std::env::var_os("USERNS_E2E_BENCH_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/userns-e2e-bench-node"));
    let node = Node::new(&dir);
    let socket = node.start().expect("local node");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let target: Arc<dyn Target> = Arc::new(
        rt.block_on(CriTarget::connect(
            &socket,
            CriOptions {
                state_dir: dir.join("cri"),
                kind: TargetKind::Local,
                ..CriOptions::default()
            },
        ))
        .expect("connect"),
    );
    let facts = rt.block_on(target.facts()).expect("facts");
    let suite = Arc::new(Suite {
        templates: target.templates(&facts),
        target: target.clone(),
        facts,
        run_id: "bench".into(),
        timeout: None,
        runtime: rt.handle().clone(),
        interrupted: Default::default(),
    });
    let mut times = Vec::new();
    for threads in [Some(1), None] {
        let t = Instant::now();
        let r = suite.run(
            &scenarios,
            &Selection {
                test_threads: threads,
                ..Selection::default()
            },
        );
        let wall = t.elapsed();
        let ran = r.summary.passed + r.summary.failed + r.summary.errored;
        let in_runtime: u64 = r
            .results
            .iter()
            .filter_map(|x| x.observation.as_ref())
            .flat_map(|o| &o.pods)
            .map(|p| p.duration_ms)
            .sum();
        times.push(wall);
        // Where a pod's time goes, phase by phase (mean over the pods that had it).
        let mut phases: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for p in r
            .results
            .iter()
            .filter_map(|x| x.observation.as_ref())
            .flat_map(|o| &o.pods)
        {
            for (k, v) in &p.phases_ms {
                let e = phases.entry(k.clone()).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
        let line: Vec<String> = phases
            .iter()
            .map(|(k, (sum, n))| format!("{k} {:.0} ms", *sum as f64 / (*n).max(1) as f64))
            .collect();
        println!("  per pod, mean: {}", line.join(", "));
        println!(
            "suite wall time, {} thread(s): {:.2} s for {ran} executed scenarios ({} passed); time inside pods' runtime calls {:.2} s",
            threads.map(|t| t.to_string()).unwrap_or_else(|| format!("default ({})", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))),
            wall.as_secs_f64(),
            r.summary.passed,
            in_runtime as f64 / 1000.0
        );
    }
    println!(
        "speed-up with the default thread count: {:.2}×",
        times[0].as_secs_f64() / times[1].as_secs_f64()
    );
    node.stop().expect("stop the node");
    crio_start_times(&repo);
}

/// The CRI-O build the bench starts: USERNS_E2E_BENCH_CRIO (a crio binary or
/// folder), else the newest build in the shared folder, unpacked once.
fn bench_crio(repo: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("USERNS_E2E_BENCH_CRIO") {
        return Some(PathBuf::from(p));
    }
    let shared = std::env::var_os("USERNS_E2E_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared"))
        .join("crio");
    let newest = std::fs::read_dir(&shared)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let tag = e.file_name().to_string_lossy().into_owned();
            let tarball = e.path().join(format!("crio-{tag}-linux-amd64.tar.xz"));
            Some((userns_e2e::version::Version::parse(&tag)?, tag, tarball))
                .filter(|(_, _, t)| t.is_file())
        })
        .max()?;
    let dir = PathBuf::from("/var/tmp/userns-e2e-bench-crio").join(&newest.1);
    if !dir.join("bin/crio").is_file() {
        std::fs::create_dir_all(&dir).ok()?;
        let ok = std::process::Command::new("tar")
            .arg("-xJf")
            .arg(&newest.2)
            .arg("-C")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(())?;
    }
    Some(dir)
}

/// CRI-O node start: cold (an empty folder: provisioning, Debian downloads,
/// images) and warm (stopped, then started again).
fn crio_start_times(repo: &Path) {
    let Some(crio) = bench_crio(repo) else {
        println!("CRI-O node start: skipped (no CRI-O build; set USERNS_E2E_BENCH_CRIO or USERNS_E2E_SHARED)");
        return;
    };
    let dir = std::env::var_os("USERNS_E2E_BENCH_CRIO_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/userns-e2e-bench-crio/node"));
    let node = Node::cri_o(&dir, Some(&crio));
    node.purge().expect("purge the CRI-O bench node");
    let t = Instant::now();
    node.start().expect("cold start of the CRI-O node");
    let cold = t.elapsed();
    node.stop().expect("stop the CRI-O node");
    let t = Instant::now();
    node.start().expect("warm start of the CRI-O node");
    let warm = t.elapsed();
    println!(
        "CRI-O node start ({}): cold {:.2} s, warm {:.2} s",
        crio.display(),
        cold.as_secs_f64(),
        warm.as_secs_f64()
    );
    // Leaves the host as found (the subordinate ids, if this node added them).
    node.purge().expect("purge the CRI-O bench node");
}
