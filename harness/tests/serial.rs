//! `serial: true` scenarios run alone: while one executes, no other scenario's
//! `execute` is in flight, even with several threads; the others still run
//! concurrently with each other.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use userns_e2e::facts::Facts;
use userns_e2e::observation::{Observation, PodObservation};
use userns_e2e::plan::ExecPlan;
use userns_e2e::runner::{Selection, Suite};
use userns_e2e::scenario::{load, Scenario};
use userns_e2e::targets::{Executed, Target, TargetError};
use userns_e2e::templates::Templates;

/// Counts scenarios in flight; records the most seen at once, overall and
/// while a serial scenario was in flight.
#[derive(Default)]
struct Counting {
    active: AtomicUsize,
    most: AtomicUsize,
    most_beside_serial: AtomicUsize,
    facts: Option<Facts>,
}

#[async_trait]
impl Target for Counting {
    async fn facts(&self) -> Result<Facts, TargetError> {
        self.facts
            .clone()
            .ok_or_else(|| TargetError::unusable("no facts"))
    }
    fn templates(&self, _: &Facts) -> Templates {
        Templates::new()
    }
    async fn execute(&self, scenario: &Scenario, _: &ExecPlan) -> Executed {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        for _ in 0..20 {
            if scenario.spec.serial {
                let seen = self.active.load(Ordering::SeqCst);
                self.most_beside_serial.fetch_max(seen, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
        // The pod as the scenarios expect it, so the inner run reports passes.
        Executed {
            observation: Observation {
                pods: vec![PodObservation {
                    name: "p".into(),
                    ..PodObservation::default()
                }],
                ..Observation::default()
            },
            error: None,
        }
    }
    async fn cleanup(&self) -> Result<Vec<String>, TargetError> {
        Ok(Vec::new())
    }
}

#[test]
fn serial_scenarios_run_alone() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..8 {
        let serial = if i % 4 == 0 { "serial: true\n" } else { "" };
        std::fs::write(
            dir.path().join(format!("s{i}.yaml")),
            format!(
                "description: d\ncites: [FACTS.md#story-1]\n{serial}pods:\n  - pod: {{apiVersion: v1, kind: Pod, metadata: {{name: p}}, spec: {{containers: [{{name: c, image: i}}]}}}}\n"
            ),
        )
        .unwrap();
    }
    let scenarios = load::load_paths(&[dir.path().to_path_buf()]).expect("scenarios load");
    assert_eq!(scenarios.iter().filter(|s| s.spec.serial).count(), 2);
    let facts = userns_e2e::report::json::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/results/containerd-2.1.9.json"),
    )
    .expect("fixture")
    .environment;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = Arc::new(Counting {
        facts: Some(facts.clone()),
        ..Counting::default()
    });
    let suite = Arc::new(Suite {
        target: target.clone(),
        facts,
        templates: Templates::new(),
        run_id: "serial-test".into(),
        timeout: None,
        runtime: rt.handle().clone(),
        interrupted: Default::default(),
    });
    suite.run(
        &scenarios,
        &Selection {
            test_threads: Some(4),
            ..Selection::default()
        },
    );
    assert_eq!(target.most_beside_serial.load(Ordering::SeqCst), 1);
    assert!(
        target.most.load(Ordering::SeqCst) > 1,
        "the other scenarios should still overlap"
    );
}
